#!/usr/bin/env bash
# The OpenAPI-driven contract and fuzz run (make contract; make test runs it
# short, make soak long). From server/openapi.yaml:
#  1. openapi-typescript generates a TypeScript client and tsc --noEmit --strict
#     compiles scripts/contract/walk.ts against it (a typed walk of the tree);
#  2. a live canopy on a throwaway embedded database with the demo data
#     (canopy seed --profile demo) and an admin token (canopy token create),
#     behind bin/specproxy, which checks every exchange against openapi.yaml
#     (an event stream, which never ends by itself, is read for a second and
#     then cut: its status, headers and complete events are checked, and the
#     client gets what came as a whole answer, so no request hangs the run);
#  3. portman turns openapi.yaml into a Postman collection: contract tests of
#     every operation and a fuzz variation of each (required fields dropped,
#     numbers past minimum/maximum, text past minLength/maxLength), which newman
#     runs as the admin token; then every operation again, and the bound token's
#     refusals, as a narrow token bound to one user (articles:read,
#     articles:write) and as no token.
# Any newman failure or specproxy finding fails the run. Usage:
#   scripts/contract.sh [ROUNDS]   (default 1; each round generates the
#   collections anew, with new random values, and runs all three identities)
# Settings: GO (go), CONTRACT_LOG (the summary is also written there).
set -eu -o pipefail

GO=${GO:-go}
rounds=${1:-1}
cd "$(dirname "$0")/.."
repo=$(pwd)
started=$(date +%s)

tools=$(./scripts/ensure-contract-tools.sh)
nm=$tools/node_modules/.bin
work=$(mktemp -d)
chmod o+x "$work" # as root, the embedded PostgreSQL runs as the postgres user, who must reach $work/data
canopy_pid=""
proxy_pid=""
cleanup() {
	[ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null || true
	[ -n "$canopy_pid" ] && kill "$canopy_pid" 2>/dev/null && wait "$canopy_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "contract: typed client (openapi-typescript, tsc --strict)"
cp scripts/contract/walk.ts scripts/contract/tsconfig.json "$work/"
"$nm/openapi-typescript" server/openapi.yaml -o "$work/canopy.d.ts" >"$work/ots.log" 2>&1 || { cat "$work/ots.log"; exit 1; }
"$nm/tsc" -p "$work/tsconfig.json" || { echo "contract: the generated client does not type scripts/contract/walk.ts"; exit 1; }

echo "contract: canopy with the demo data on a throwaway database"
$GO build -o bin/canopy ./cmd/canopy
$GO build -o bin/specproxy ./cmd/specproxy
data="$work/data"
db="--data-dir $data"
./bin/canopy seed --profile demo --now 2026-01-01T00:00:00Z --progress off $db >"$work/seed.log" 2>&1 || { cat "$work/seed.log"; exit 1; }
admin=$(./bin/canopy token create --name "contract admin" --scopes admin $db 2>/dev/null | tail -n 1)
./bin/canopy serve --addr 127.0.0.1:0 $db >"$work/canopy.log" 2>&1 &
canopy_pid=$!
addr=""
for _ in $(seq 1 300); do
	addr=$(sed -n 's/.*canopy serving.*addr[=":]*\([0-9.]*:[0-9]*\).*/\1/p' "$work/canopy.log" | head -n 1) || true
	[ -n "$addr" ] && break
	kill -0 "$canopy_pid" 2>/dev/null || { cat "$work/canopy.log"; exit 1; }
	sleep 0.2
done
[ -n "$addr" ] || { echo "contract: canopy did not start"; cat "$work/canopy.log"; exit 1; }
./bin/specproxy -spec server/openapi.yaml -upstream "http://$addr" -addr-file "$work/proxy.addr" -log "$work/exchanges.jsonl" >"$work/proxy.out" 2>&1 &
proxy_pid=$!
for _ in $(seq 1 100); do [ -s "$work/proxy.addr" ] && break; sleep 0.1; done
base="http://$(cat "$work/proxy.addr")"

# The demo ids the requests use, and a token bound to the busiest user.
node "$repo/scripts/contract/demo-ids.js" "http://$addr" "$admin" >"$work/ids.env"
. "$work/ids.env"
export CONTRACT_CATEGORY_ID CONTRACT_DEPARTMENT_ID CONTRACT_WARD_ID

round=1
while [ "$round" -le "$rounds" ]; do
	echo "contract: round $round of $rounds: portman collections, newman as admin, bound token, no token"
	node scripts/contract/build-config.js "$work"
	for c in admin identity; do
		# portman writes scratch files under ./tmp: let that be $work.
		(cd "$work" && "$nm/portman" -l "$repo/server/openapi.yaml" -b '{{baseUrl}}' -c "$work/$c.json" -o "$work/$c.collection.json" \
			--warn false --ignoreCircularRefs true --logAssignVariables false >"$work/portman-$c.log" 2>&1) ||
			{ cat "$work/portman-$c.log"; exit 1; }
	done
	node scripts/contract/no-auth.js "$work/identity.collection.json" "$work/none.collection.json"
	for who in admin bound none; do
		case $who in
		admin) coll=admin token=$admin ;;
		bound) coll=identity token=$CONTRACT_BOUND_TOKEN ;;
		none) coll=none token= ;;
		esac
		"$nm/newman" run "$work/$coll.collection.json" \
			--env-var "baseUrl=$base" --env-var "bearerToken=$token" --env-var "identity=$who" \
			--env-var "userId=$CONTRACT_USER_ID" --env-var "otherUserId=$CONTRACT_OTHER_USER_ID" \
			--env-var "categoryId=$CONTRACT_CATEGORY_ID" --env-var "departmentId=$CONTRACT_DEPARTMENT_ID" \
			--env-var "wardId=$CONTRACT_WARD_ID" --env-var "patientUid=$CONTRACT_PATIENT_UID" --env-var "alarmId=$CONTRACT_ALARM_ID" \
			--env-var "articleId=$CONTRACT_ARTICLE_ID" --env-var "year=$CONTRACT_YEAR" --env-var "month=$CONTRACT_MONTH" \
			--env-var "hourFrom=$CONTRACT_HOUR_FROM" --env-var "hourTo=$CONTRACT_HOUR_TO" \
			--reporters json --reporter-json-export "$work/newman-$round-$who.json" \
			--timeout-request 60000 --ignore-redirects >/dev/null 2>&1 || true
	done
	round=$((round + 1))
done

# Hand-written probes of what the generated requests do not reach: methods a
# path does not serve, query strings that do not parse or are not UTF-8, a
# token's user_id "" or null, timestamps outside years 1-9999 once in UTC,
# the alarms' refusals (a state that is not one, an unknown or
# resolved alarm, a rule whose thresholds cross, a Last-Event-ID that is not
# an id).
probe() { # WANT METHOD PATH [BODY [HEADER]]
	code=$(curl -s -o "$work/probe.out" -w '%{http_code}' -X "$2" -H "Authorization: Bearer $admin" \
		-H 'Content-Type: application/json' ${4:+--data-binary "$4"} ${5:+-H "$5"} "$base$3")
	[ "$code" = "$1" ] || echo "probe: $2 $3${4:+ $4}${5:+ ($5)} → $code, want $1: $(head -c 300 "$work/probe.out")" >>"$work/probes.txt"
}
probe 405 PATCH /api/v1/categories/search
probe 405 DELETE /api/v1/departments/search
probe 405 PATCH /api/v1/categories/tree
probe 405 DELETE /api/v1/departments/tree
probe 405 PUT /api/v1/categories/1
probe 400 GET '/api/v1/categories/search?q=%ff'
probe 400 GET '/api/v1/categories/search?q=a%zz'
probe 422 POST /api/v1/tokens '{"name": "probe", "scopes": ["articles:read"], "user_id": ""}'
probe 422 POST /api/v1/tokens '{"name": "probe", "scopes": ["articles:read"], "user_id": null}'
probe 422 POST /api/v1/articles/bulk "[{\"to_user_id\": \"$CONTRACT_USER_ID\", \"from_name\": \"Probe\", \"from_domain\": \"probe.example\", \"title\": \"year 0 in UTC\", \"created_at\": \"0001-01-01T00:30:00+01:00\"}]"
probe 422 POST /api/v1/articles/bulk "[{\"to_user_id\": \"$CONTRACT_USER_ID\", \"from_name\": \"Probe\", \"from_domain\": \"probe.example\", \"title\": \"year 10000 in UTC\", \"created_at\": \"9999-12-31T23:30:00-01:00\"}]"
probe 400 GET '/api/v1/alarms?state=open,snoozed'
probe 404 POST /api/v1/alarms/999999999/acknowledge
probe 409 POST "/api/v1/alarms/$CONTRACT_RESOLVED_ALARM_ID/acknowledge"
probe 404 DELETE /api/v1/alarm-rules/no-such-rule
probe 422 PUT /api/v1/alarm-rules/contract-probe '{"open_at": 0.5, "clear_below": 0.6}'
probe 422 PUT /api/v1/alarm-rules/contract-probe '{"open_at": 0.5, "clear_below": 0.1, "snooze": 60}'
probe 400 GET /api/v1/alarms/stream '' 'Last-Event-ID: yesterday'

kill "$proxy_pid"
wait "$proxy_pid" 2>/dev/null || true
proxy_pid=""
node scripts/contract/summary.js "$work" "$(($(date +%s) - started))" | tee "${CONTRACT_LOG:-/dev/null}"
