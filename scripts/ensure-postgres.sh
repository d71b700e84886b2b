#!/bin/sh
# Makes sure PostgreSQL's server binaries (with the contrib extensions canopy
# uses, such as pg_trgm) are on this machine. It asks apt only when they are
# missing, and uses sudo only when not root. It starts nothing: canopy and the
# tests run their own private clusters.
set -eu

have_binaries() {
	for dir in /usr/lib/postgresql/*/bin; do
		version=$(basename "$(dirname "$dir")")
		if [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ] &&
			[ -f "/usr/share/postgresql/$version/extension/pg_trgm.control" ]; then
			return 0
		fi
	done
	return 1
}

have_binaries && exit 0

echo "PostgreSQL server binaries not found: installing Debian's postgresql package" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo=sudo
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql postgresql-contrib >/dev/null
have_binaries || { echo "PostgreSQL still missing after apt-get install postgresql" >&2; exit 1; }
