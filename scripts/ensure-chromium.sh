#!/bin/sh
# Makes sure Debian's Chromium is at /usr/bin/chromium, for the browser tests
# (server/browser_*_test.go drive it headless with chromedp). It asks apt only
# when it is missing, and uses sudo only when not root. Test tools that
# download their own browser do not work on these machines; Debian's does.
set -eu

[ -x /usr/bin/chromium ] && exit 0

echo "Chromium not found at /usr/bin/chromium: installing Debian's chromium package" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo=sudo
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
[ -x /usr/bin/chromium ] || { echo "Chromium still missing after apt-get install chromium" >&2; exit 1; }
