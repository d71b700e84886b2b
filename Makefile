# The two commands a newcomer needs: `make run` and `make test`.
# Both provision PostgreSQL's binaries first (Debian's package, only if missing).

GO  ?= go
BIN := bin/canopy

.PHONY: run test build vet postgres clean

## run: serve on :8080 with the embedded database (kept in .canopy/); CANOPY_* settings pass through
run: postgres build
	./$(BIN) serve

## test: vet, formatting, and every test against real throwaway PostgreSQL clusters, with the race detector
test: postgres vet
	$(GO) test -race -count=1 ./...

build:
	$(GO) build -o $(BIN) ./cmd/canopy

vet:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	if [ -n "$$unformatted" ]; then echo "not gofmt-formatted:"; echo "$$unformatted"; exit 1; fi

postgres:
	@./scripts/ensure-postgres.sh

clean:
	rm -rf bin
