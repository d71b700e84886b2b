#!/bin/sh
# Makes sure the npm tools of the contract run are installed: portman and
# newman (contract, variation and fuzz tests from openapi.yaml), openapi-typescript
# and tsc (a typed client from it), at the versions scripts/contract/package-lock.json
# pins, into ~/.cache/canopy/contract-tools-<hash> (see scripts/npm-tools.sh),
# and prints that directory.
set -eu

. "$(dirname "$0")/npm-tools.sh"
npm_tools "$(cd "$(dirname "$0")/contract" && pwd)" contract
