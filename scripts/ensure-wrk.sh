#!/bin/sh
# Makes sure wrk, the HTTP load generator the bench's load scenario drives, is
# on this machine. It asks apt only when wrk is missing, and uses sudo only
# when not root.
set -eu

command -v wrk >/dev/null 2>&1 && exit 0

echo "wrk not found: installing Debian's wrk package" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo=sudo
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >/dev/null
command -v wrk >/dev/null 2>&1 || { echo "wrk still missing after apt-get install wrk" >&2; exit 1; }
