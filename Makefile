# Gatehouse — the two commands first: `make run`, `make test`.
CARGO ?= cargo
NEXTEST := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo yes)

.PHONY: run test schemathesis contract browser-test openapi lint bench bench-import build install fmt clean

## Start the server on the embedded defaults (SQLite at ./data/gatehouse.db).
run:
	$(CARGO) run -p gatehouse -- serve

## Run every test. PostgreSQL tests run when GATEHOUSE_TEST_POSTGRES_URL is set.
test:
	$(CARGO) build -p gatehouse --bin gatehouse
ifeq ($(NEXTEST),yes)
	$(CARGO) nextest run --workspace
else
	$(CARGO) test --workspace
endif
	@# nextest hides a passing test's output, and with it each PostgreSQL test's SKIPPED line.
	@[ -n "$$GATEHOUSE_TEST_POSTGRES_URL" ] || echo "SKIPPED: the PostgreSQL half of the suite passed without running (set GATEHOUSE_TEST_POSTGRES_URL to run it)"

## The OpenAPI document against the real server: schemathesis (pinned, in a fresh
## virtualenv), every operation, all checks, fixed seed. Needs python3 with venv.
schemathesis:
	bash tests/schemathesis/run.sh

## The OpenAPI document proves itself: TypeScript types generated from it (openapi-typescript,
## pinned) and the typed login/registration/enrolment client of tests/contract compiled
## against them with tsc --strict; the reference UI's JavaScript type-checked against them
## too (checkJs). Needs Node 20+ and npm; no cargo, no server.
contract:
	bash tests/contract/run.sh

## Every WebAuthn ceremony in headless Chromium (Debian's chromium, virtual authenticator),
## on SQLite and, with GATEHOUSE_TEST_POSTGRES_URL, PostgreSQL. Needs Node 20+ and npm;
## installs chromium (apt) when /usr/bin/chromium is missing.
browser-test:
	CARGO="$(CARGO)" bash tests/browser/run.sh

## Regenerate the committed OpenAPI document.
openapi:
	$(CARGO) run -q -p gatehouse -- openapi > openapi/gatehouse.json.tmp
	mv openapi/gatehouse.json.tmp openapi/gatehouse.json

## Formatting and clippy, warnings are errors.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## Benchmarks (release build): hashing, policy, store, mail, and the release server
## under wrk. Not a test: it prints numbers. Installs wrk (Debian) when missing.
bench:
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(CARGO) build --release -p gatehouse
	$(CARGO) bench -p gatehouse-tests --bench gatehouse

## Import 1M generated accounts into SQLite and PostgreSQL (release build): rows/s, peak RSS.
bench-import:
	bash tests/benches/import.sh

build:
	$(CARGO) build --workspace

## Install the `gatehouse` command (release build) into cargo's bin folder (~/.cargo/bin).
install:
	$(CARGO) install --locked --path crates/gatehouse

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
