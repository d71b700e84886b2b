# Sourced by scripts/ensure-contract-tools.sh and scripts/ensure-axe.sh.
# npm_tools DIR NAME installs the npm packages DIR/package-lock.json pins into
# a cache directory named NAME-tools-<hash of DIR's package files>, with
# `npm ci`, only when that directory is missing, and prints the directory. The
# install goes to a temporary directory first and is moved into place, so a
# directory that is there is complete. Debian's nodejs and npm are installed
# when npm is missing. CANOPY_TOOLS_CACHE moves the cache (default ~/.cache/canopy).
npm_tools() {
	src=$1
	name=$2
	if ! command -v npm >/dev/null 2>&1; then
		echo "npm not found: installing Debian's nodejs and npm packages" >&2
		sudo=""
		if [ "$(id -u)" -ne 0 ]; then
			sudo=sudo
		fi
		$sudo apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
		command -v npm >/dev/null 2>&1 || { echo "npm still missing after apt-get install nodejs npm" >&2; exit 1; }
	fi
	hash=$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -c1-12)
	dir=${CANOPY_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/canopy}/$name-tools-$hash
	if [ ! -d "$dir" ]; then
		echo "installing the $name tools into $dir" >&2
		rm -rf "$dir.tmp"
		mkdir -p "$dir.tmp"
		cp "$src/package.json" "$src/package-lock.json" "$dir.tmp/"
		npm ci --prefix "$dir.tmp" --no-audit --no-fund --loglevel=error >&2
		mv "$dir.tmp" "$dir"
	fi
	echo "$dir"
}
