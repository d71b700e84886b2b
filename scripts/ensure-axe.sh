#!/bin/sh
# Makes sure axe-core, the accessibility rules the browser tests run in every
# view (server/browser_a11y_test.go), is installed at the version
# scripts/a11y/package-lock.json pins, into ~/.cache/canopy/a11y-tools-<hash>
# (see scripts/npm-tools.sh), and prints the path of its axe.min.js.
set -eu

. "$(dirname "$0")/npm-tools.sh"
echo "$(npm_tools "$(cd "$(dirname "$0")/a11y" && pwd)" a11y)/node_modules/axe-core/axe.min.js"
