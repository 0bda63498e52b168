# pycoroner — see README.md. Every target installs what it needs first.
GO      ?= go
BIN     := bin/pycoroner
DEMO    ?= /tmp/pycoroner-demo
PYTHON  ?= 3.12

.PHONY: all build deps demo demo-start test test-unit lint layouts bench fuzz soak clean

all: build

# NOCGO: pycoroner needs no C, but importing net (through pflag) links the
# C resolver, and with it the dynamic loader, libc and its threads, into
# every binary: about 100 page faults more for each process, ~5 ms of a
# warm heap command here (docs/benchmarks.md). CGO_ENABLED=0 makes it
# static; a CGO_ENABLED set in the environment wins (go test -race, in
# test, needs cgo, so only build and bench use this).
NOCGO   := CGO_ENABLED=$${CGO_ENABLED:-0}

build:
	$(NOCGO) $(GO) build -o $(BIN) ./cmd/pycoroner

# deps installs the tools the tests need that a fresh machine may lack.
deps:
	@scripts/deps.sh

# demo: a real CPython process with threads, a core taken with gcore, and
# pycoroner's answers about it.
demo: demo-start deps build
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	@echo "demo: running fixtures/scenarios/threads.py under CPython $(PYTHON) and taking a core of it with gcore (go run builds the core maker first)"
	$(GO) run ./fixtures/cmd/mkcore -python $(PYTHON) -scenario threads -mode gcore -o $(DEMO) > $(DEMO)/paths.txt
	@cat $(DEMO)/paths.txt
	$(BIN) info $$(sed -n 's/^core: *//p' $(DEMO)/paths.txt)
	$(BIN) stacks --locals $$(sed -n 's/^core: *//p' $(DEMO)/paths.txt)

demo-start:
	@echo "demo: building $(BIN) (a cold build downloads and compiles the Go modules: a few minutes on a small machine)"

# TESTPROGRESS turns go test -json into a line per package, per slow or
# failed test, and every 30 s what is still running.
TESTPROGRESS = $(GO) run ./scripts/testprogress

# test runs everything: formatting, vet, unit tests and the integration
# tests against real cores from every interpreter on the machine.
test: deps lint
	@echo "test: every package, integration tests included (cores are made once and cached in $${PYCORONER_CORE_CACHE:-/tmp/pycoroner-cores})"
	@bash -o pipefail -c '$(GO) test -json -count=1 -timeout 45m ./... | $(TESTPROGRESS)'
	# The census workers share memory: check them with the race detector.
	$(GO) test -race -count=1 -run 'TestCensusWorkersAgree|TestTallyAgreesWithCensus' ./pyheap

# test-unit runs the unit tests only: no integration tests, no cores made.
UNIT_PKGS = $$($(GO) list ./... | grep -v -e /integration$$ -e /fixtures/harness$$)
test-unit: lint
	@bash -o pipefail -c '$(GO) test -json -short $(UNIT_PKGS) | $(TESTPROGRESS)'

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# bench builds a core with a few million objects (fixtures/scenarios/bigheap.py)
# and appends the census figures, with the machine and the date, to
# docs/benchmarks.md; then times stacks --locals against gdb's py-bt on a
# small core of every pyenv CPython and a core of more than 1 GB
# (bench/gdb.go), and on crash cores of Debian sid's 3.14 and 3.15 with
# the debug files of their python3.X-dbg (bench/gdbsid.go; fetched once,
# into the user cache, not beside the interpreters), and appends those
# tables too.
bench: deps
	$(NOCGO) $(GO) run ./bench -o docs/benchmarks.md

# fuzz runs every fuzz target for FUZZTIME each (not part of test) and prints
# how many inputs each ran. A crasher lands in PKG/testdata/fuzz/TARGET/ and
# is then a regression case of test; see docs/hostile.md. FUZZMINIMIZE
# bounds the minimization of each new input (Go's default of 60s spent the
# whole budget minimizing: 5 executions in 60 s).
FUZZTIME ?= 20s
FUZZMINIMIZE ?= 100x
FUZZ_TARGETS := coreread/unwind:FuzzUnwind coreread:FuzzOpen coreread:FuzzNotes coreread:FuzzFileNote pyheap:FuzzCore pyheap:FuzzObject \
	pyheap/census:FuzzDecodeRoots \
	pyheap:FuzzCore:PYCORONER_CENSUS_WORKERS=3
fuzz:
	@GO=$(GO) scripts/fuzz.sh $(FUZZTIME) $(FUZZMINIMIZE) $(FUZZ_TARGETS)

# soak kills pycoroner (SIGKILL, SIGINT, SIGTERM) at random moments of
# snapshot, stacks --pid, watch --on-change and watch --until, SOAK_TRIALS
# times per interpreter, with signals sent to the program throughout; it
# reports programs harmed, signals lost and threads left stopped (all must
# be 0). make test runs a few trials of the same test.
SOAK_TRIALS ?= 100
soak: deps
	@out=$$(mktemp); status=0; \
	PYCORONER_KILL_TRIALS=$(SOAK_TRIALS) $(GO) test -count=1 -timeout 0 -v -run '^TestKillAtRandomMoments$$' ./integration > $$out 2>&1 || status=$$?; \
	grep -E 'seed|kill-at-random|trials,|trial [0-9]+|--- |^(ok|FAIL)' $$out; rm -f $$out; exit $$status

# layouts regenerates pyheap/layout/*_gen.go from the pyenv builds and the
# Debian sid builds (their headers, and their own DWARF from python3.X-dbg).
layouts:
	scripts/sid-pythons.sh --dbg
	$(GO) run ./pyheap/layout/gen

clean:
	rm -rf bin $(DEMO)
