#!/bin/sh
# Makes sure PgBouncer is on this machine, for the test that runs canopy's
# statements through it in transaction pooling mode. It asks apt only when the
# binary is missing, and uses sudo only when not root. It starts nothing: the
# test runs its own PgBouncer on a private socket.
set -eu

command -v pgbouncer >/dev/null 2>&1 && exit 0
[ -x /usr/sbin/pgbouncer ] && exit 0

echo "pgbouncer not found: installing Debian's pgbouncer package" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo=sudo
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq pgbouncer >/dev/null
[ -x /usr/sbin/pgbouncer ] || { echo "pgbouncer still missing after apt-get install pgbouncer" >&2; exit 1; }
