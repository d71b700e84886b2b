#!/bin/sh
# Runs the long versions of the fault, pool and fuzz tests and the bench's load
# scenario (make soak), then writes what they showed into the soak section of
# bench/RESULTS.md, in the marked-section form bench/report.go keeps. The load
# scenario writes its own section. Settings (make passes them): GO, MAKE,
# FUZZTIME (per fuzz target), SOAK_LOAD_DURATION (per wrk run),
# SOAK_CONTRACT_ROUNDS (rounds of the OpenAPI contract and fuzz run). A contract
# run with failures is written into the section too, and then fails the soak.
set -eu

GO=${GO:-go}
MAKE=${MAKE:-make}
FUZZTIME=${FUZZTIME:-1m}
SOAK_LOAD_DURATION=${SOAK_LOAD_DURATION:-60s}
SOAK_CONTRACT_ROUNDS=${SOAK_CONTRACT_ROUNDS:-20}
results=bench/RESULTS.md
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

echo "soak: PostgreSQL stopped and restarted under writers; pool exhaustion"
CANOPY_SOAK=1 $GO test -race -count=1 ./server -v \
	-run '^(TestFaultCycles|TestDatabaseStopAndRecovery|TestPoolExhaustion)$' >"$logs/faults" 2>&1 ||
	{ cat "$logs/faults"; exit 1; }
grep -E '^(--- |ok)' "$logs/faults"

echo "soak: fuzz targets for $FUZZTIME each"
$MAKE --no-print-directory fuzz FUZZTIME="$FUZZTIME" | tee "$logs/fuzz"

echo "soak: the OpenAPI contract and fuzz run, $SOAK_CONTRACT_ROUNDS rounds"
contract_ok=1
GO=$GO CONTRACT_LOG="$logs/contract" ./scripts/contract.sh "$SOAK_CONTRACT_ROUNDS" >/dev/null 2>&1 || contract_ok=0
[ -s "$logs/contract" ] || { echo "soak: the contract run wrote no summary"; exit 1; }
cat "$logs/contract"

echo "soak: load scenario, wrk runs of $SOAK_LOAD_DURATION"
$GO run ./bench -only load -load-duration "$SOAK_LOAD_DURATION"

faults=$(sed -n 's/.*SOAK faults: //p' "$logs/faults")
passed=$(grep -E '^--- PASS' "$logs/faults" | sed 's/^--- PASS: \([A-Za-z]*\).*/`\1`/' | paste -sd, - | sed 's/,/, /g')
contract=$(head -n 1 "$logs/contract" | sed 's/^contract: //')
contract_failures=$(tail -n +2 "$logs/contract" | sed 's/^ /  - /' | cut -c1-400)
fuzz=$(awk '
	function flush() { if (name != "") print "  - `" name "`: " (got != "" ? got : "still gathering its baseline coverage (seed corpus and cache) when the time ran out") }
	/^fuzz / { flush(); name = $2; got = "" }
	/^  elapsed/ { got = substr($0, 3) }
	END { flush() }
' "$logs/fuzz")

section=$(cat <<EOF
<!-- begin soak -->
## Soak: faults survived, inputs tried, load held (make soak)

_\`make soak\` of $(date -u +%Y-%m-%d) (FUZZTIME=$FUZZTIME, wrk runs of $SOAK_LOAD_DURATION), on the machine of the load section._

- **Faults** (\`TestFaultCycles\` with \`CANOPY_SOAK=1\`: 8 writers creating categories while
  PostgreSQL is stopped and started again): $faults.
- **Passed**: $passed. \`TestPoolExhaustion\`: 64 concurrent requests on a pool of 2 connections
  while a lock holds it busy, every one answered 200/201 or 503 with Retry-After, none hung, no
  connection kept.
- **Fuzz** (\`make fuzz FUZZTIME=$FUZZTIME\`, the last progress line of each target; every target passed):
$fuzz
- **Contract and fuzz run** (\`scripts/contract.sh $SOAK_CONTRACT_ROUNDS\`: portman's contract tests and fuzz
  variations of every operation in openapi.yaml, run by newman as admin, a user-bound token and no
  token, each exchange checked by specproxy; every round with new random values): $contract.
${contract_failures:+  Failures:
$contract_failures
}- **Load**: the load section above, written by the same run (zero 5xx and zero connection errors
  at 64 connections, and no acknowledged upsert lost, where it says met).
<!-- end soak -->
EOF
)

# Drop the old soak section (and the blank line before it), then append the new one.
awk '
	/^<!-- begin soak -->$/ { skip = 1; if (blank) blank = 0; next }
	skip && /^<!-- end soak -->$/ { skip = 0; next }
	skip { next }
	{ if (blank) print ""; blank = ($0 == ""); if (!blank) print }
' "$results" >"$logs/results"
printf '%s\n\n%s\n' "$(cat "$logs/results")" "$section" >"$results"
echo "soak: wrote the soak section of $results"
[ "$contract_ok" = 1 ] || { echo "soak: the contract run failed (see the soak section)"; exit 1; }
