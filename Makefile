# The two commands a newcomer needs: `make run` and `make test`.
# Both provision PostgreSQL's binaries first (Debian's package, only if missing);
# test also provisions Debian's Chromium and axe-core (npm, pinned) for the browser tests.

GO  ?= go
BIN := bin/canopy

.PHONY: run test fuzz contract soak bench build vet postgres chromium axe pgbouncer wrk clean

## run: serve on :8080 with the embedded database (kept in .canopy/); CANOPY_* settings pass through.
## An empty database gets the demo data first (never over data that is there), and every run
## prints a fresh admin token for trying writes (`bin/canopy token list|revoke` to tidy up).
run: postgres build
	./$(BIN) seed --profile demo --if-empty
	./$(BIN) token create --name "make run" --scopes admin
	./$(BIN) serve

## test: vet, formatting, and every test against real throwaway PostgreSQL clusters (the web
## front end's in headless Chromium, every view checked by axe-core for WCAG 2 A and AA, one
## through PgBouncer), with the race detector; then the fuzz targets for 3 s each and one
## round of the OpenAPI contract and fuzz run (about a minute)
test: postgres chromium axe pgbouncer vet
	$(GO) test -race -count=1 ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=3s
	$(MAKE) --no-print-directory contract CONTRACT_ROUNDS=1

## fuzz: run every fuzz target for FUZZTIME each (make test runs them for 3 s). Go 1.26's fuzz
## coordinator can end a run on time with a bare "context deadline exceeded" and no failing input
## (go.dev/issue/75804): that is reported and passes; any failing input fails.
FUZZTIME ?= 1m
FUZZ_TARGETS := tree:FuzzBuild server:FuzzBulkBodies server:FuzzTreeBody server:FuzzCursor server:FuzzQueryParams
fuzz: postgres
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; \
		echo "fuzz $$name ($(FUZZTIME))"; \
		$(GO) test ./$$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) >/tmp/canopy-fuzz.log 2>&1 || \
		if grep -q '^    context deadline exceeded$$' /tmp/canopy-fuzz.log && ! grep -q 'Failing input written' /tmp/canopy-fuzz.log; then \
			echo "  stopped by Go's fuzz deadline race (go.dev/issue/75804, fixed in go1.27), no failing input"; \
		else cat /tmp/canopy-fuzz.log; exit 1; fi; \
		if grep -q "no fuzz tests to fuzz" /tmp/canopy-fuzz.log; then echo "no fuzz target $$name in ./$$pkg"; exit 1; fi; \
		grep -o 'elapsed: [0-9a-z]*, execs: [0-9]*' /tmp/canopy-fuzz.log | tail -1 | sed 's/^/  /'; \
	done

## contract: the OpenAPI contract and fuzz run: a typed TypeScript client generated from
## server/openapi.yaml must compile, then portman's contract tests and fuzz variations of every
## operation run by newman against a live canopy with the demo data, as an admin token, a narrow
## user-bound token and no token, through bin/specproxy, which checks every exchange against
## openapi.yaml. Zero failures or it fails. CONTRACT_ROUNDS rounds, each with new random values
## (make test: 1, make soak: 20). The npm tools are pinned in scripts/contract/package-lock.json
## and installed once into ~/.cache/canopy (scripts/ensure-contract-tools.sh).
CONTRACT_ROUNDS ?= 1
contract: postgres
	@GO="$(GO)" ./scripts/contract.sh $(CONTRACT_ROUNDS)

## soak: the long versions of what make test runs short: PostgreSQL stopped and restarted a
## hundred times under writers, the pool exhaustion test, every fuzz target for FUZZTIME (1m),
## SOAK_CONTRACT_ROUNDS (20) rounds of the contract run, and the bench's load scenario with wrk runs of SOAK_LOAD_DURATION (60s); the figures go
## into bench/RESULTS.md (sections load and soak)
SOAK_LOAD_DURATION ?= 60s
SOAK_CONTRACT_ROUNDS ?= 20
soak: postgres wrk
	@GO="$(GO)" MAKE="$(MAKE)" FUZZTIME="$(FUZZTIME)" SOAK_LOAD_DURATION="$(SOAK_LOAD_DURATION)" SOAK_CONTRACT_ROUNDS="$(SOAK_CONTRACT_ROUNDS)" ./scripts/soak.sh

## bench: every benchmark scenario in a throwaway cluster, beside its GORM peer (bench/peers, its own
## module, fetched through the Go proxy); rewrites bench/RESULTS.md and bench/charts/*.svg, then the
## round-trip-bound comparisons with the database behind a simulated network (~0.5 ms a round trip) into
## bench/RESULTS-network.md (about 15 minutes on 2 cores)
bench: postgres wrk
	$(GO) run ./bench
	$(GO) run ./bench -only trees,hospital,listings -quick -rtt 300us -out bench/RESULTS-network.md

build:
	$(GO) build -o $(BIN) ./cmd/canopy

vet:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	if [ -n "$$unformatted" ]; then echo "not gofmt-formatted:"; echo "$$unformatted"; exit 1; fi

postgres:
	@./scripts/ensure-postgres.sh

chromium:
	@./scripts/ensure-chromium.sh

axe:
	@./scripts/ensure-axe.sh >/dev/null

pgbouncer:
	@./scripts/ensure-pgbouncer.sh

wrk:
	@./scripts/ensure-wrk.sh

clean:
	rm -rf bin
