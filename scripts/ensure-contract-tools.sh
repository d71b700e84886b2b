#!/bin/sh
# Makes sure the npm tools of the contract run are installed: portman and
# newman (contract, variation and fuzz tests from openapi.yaml), openapi-typescript
# and tsc (a typed client from it), at the versions scripts/contract/package-lock.json
# pins. They go into a cache directory named after the lock file's hash, installed
# with `npm ci` only when that directory is missing, and the directory is printed.
# CANOPY_TOOLS_CACHE moves the cache (default ~/.cache/canopy).
set -eu

here=$(cd "$(dirname "$0")/contract" && pwd)
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
hash=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-12)
dir=${CANOPY_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/canopy}/contract-tools-$hash
if [ ! -x "$dir/node_modules/.bin/portman" ] || [ ! -x "$dir/node_modules/.bin/newman" ]; then
	echo "installing the contract tools (portman, newman, openapi-typescript, typescript) into $dir" >&2
	rm -rf "$dir.tmp"
	mkdir -p "$dir.tmp"
	cp "$here/package.json" "$here/package-lock.json" "$dir.tmp/"
	npm ci --prefix "$dir.tmp" --no-audit --no-fund --loglevel=error >&2
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
fi
echo "$dir"
