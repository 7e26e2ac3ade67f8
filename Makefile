# Ally: `make dev` runs it locally, `make test` checks everything.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# One build cache for every checkout on this machine (CI keeps it between runs).
export CARGO_TARGET_DIR ?= $(HOME)/.cache/ally-target
VENV := .venv
STAMP := $(VENV)/.installed-$(shell sha256sum infra/requirements.txt | cut -c1-12)

BUILD_STAMP := $(VENV)/.build-$(shell sha256sum infra/requirements-build.txt | cut -c1-12)

.PHONY: help dev token reset test lint tools stripe-tools browser-tools build deploy-build watch bench fuzz client browser simulate

help:
	@echo "make dev     the local API on 127.0.0.1:3000 (embedded store kept in .ally/)"
	@echo "make reset   forget the dev server's data and secrets"
	@echo "make -s token USER_ID=<user> [ADMIN=1]   a token the dev server takes"
	@echo "make test    formatting, lints and every test (installs what it needs into .venv)"
	@echo "make build   release bootstraps of every function for arm64 (cargo lambda)"
	@echo "make deploy-build  every function built by sam build (pinned SAM CLI and cargo-lambda from .venv), for sam deploy"
	@echo "make watch   the functions under cargo lambda watch on a local DynamoDB emulator"
	@echo "make browser the pages in headless Chromium (also part of make test; screenshots in target/screenshots/)"
	@echo "make fuzz    schemathesis against the dev server's /openapi.json (also part of make test)"
	@echo "make client  a Python client generated from /openapi.json, run against the dev server (also part of make test)"
	@echo "make bench   benchmarks against baselines, written to BENCHMARKS.md (nothing asserted)"
	@echo "make capacity the capacity model on the emulator, written to CAPACITY.md (also run by make bench)"
	@echo "make simulate SEEDS=n  the money simulator for n seeds (SEED=s replays one; FROM, STEPS; 12 run in make test)"

# Needs nothing but Rust: the embedded store, the in-process identity.
dev:
	cargo run -q -p ally-local -- serve

# A token the dev server takes (same data folder): make -s token USER_ID=partner-1 [ADMIN=1]
token:
	@cargo run -q -p ally-local -- token $(USER_ID) $(if $(ADMIN),--admin)

# What serve used: its data folder and outbox (ALLY_LOCAL_DATA, ALLY_LOCAL_OUTBOX), .ally by default.
reset:
	rm -rf "$${ALLY_LOCAL_DATA:-.ally}" "$${ALLY_LOCAL_OUTBOX:-.ally/outbox}"

# Python tools (moto for the DynamoDB emulator), pinned in infra/requirements.txt.
$(STAMP): infra/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements.txt
	touch $@

tools: $(STAMP)

# Stripe's own library (pinned in tests/stripe/package-lock.json) signs the Stripe tests'
# payloads: the signing is Stripe's, not a copy of Ally's.
STRIPE_STAMP := tests/stripe/node_modules/.installed-$(shell sha256sum tests/stripe/package-lock.json | cut -c1-12)
$(STRIPE_STAMP): tests/stripe/package-lock.json
	npm ci --prefix tests/stripe --no-audit --no-fund --silent
	touch $@

stripe-tools: $(STRIPE_STAMP)

$(BUILD_STAMP): infra/requirements-build.txt $(STAMP)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements-build.txt
	rustup target add aarch64-unknown-linux-gnu
	touch $@

# One bootstrap per function under $(CARGO_TARGET_DIR)/lambda/<function>/ (what SAM deploys).
build: $(BUILD_STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release --arm64 --locked $(foreach f,$(notdir $(wildcard functions/*)),--bin $(f))

# Every function built by SAM (template.yaml's rust-cargolambda build method) with the
# pinned cargo-lambda and its zig from .venv on the PATH, into .aws-sam/ for `sam deploy`.
deploy-build: $(BUILD_STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" SAM_CLI_TELEMETRY=0 SAM_CLI_ENABLE_LANGUAGE_EXTENSIONS=1 $(VENV)/bin/sam build --template template.yaml

watch: $(BUILD_STAMP)
	infra/watch.sh

lint: tools
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	$(VENV)/bin/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 $(VENV)/bin/sam validate --lint --template template.yaml --region us-east-1

# The tests start the emulator themselves (infra/moto_server.py, a free loopback port,
# one request at a time) and it stops when the test process exits, pass or fail.
test: tools stripe-tools browser-tools lint
	cargo build --workspace --bins --locked
	# A release build of the dev server (optimised, unwinding as the functions do), for the
	# sweep of extreme inputs that must never crash it.
	cargo build --profile bench -p ally-local --locked
	cargo test --workspace --locked
	infra/fuzz.sh
	infra/client.sh
	infra/browser.sh

# Chromium and its WebDriver for the page tests, from Debian's packages.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser-tools:
	@command -v chromium > /dev/null && command -v chromedriver > /dev/null || { \
	  $(SUDO) apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; }

browser: tools browser-tools
	cargo build -p ally-local --locked
	infra/browser.sh

# Generated requests from the OpenAPI document, as an admin and as a partner: no 5xx, and
# every response as documented.
fuzz: tools
	cargo build -p ally-local --locked
	infra/fuzz.sh

# A client generated from /openapi.json by openapi-python-client (no warning allowed) and a
# partner's scenario through it: onboarding, credits, provisioning, a replay, a refusal,
# the ledger, a bulk onboarding.
client: tools
	cargo build -p ally-local --locked
	infra/client.sh

# The conservation simulator on the memory store: SEEDS seeds from FROM (or SEED alone), STEPS
# steps each; stops at the first seed that breaks a law and names it.
SEEDS ?= 100
simulate:
	SEEDS=$(SEEDS) SEED=$(SEED) FROM=$(FROM) STEPS=$(STEPS) cargo run -q -p ally-tests --example simulate --locked

# Figures only, each next to a baseline of the same run; written to BENCHMARKS.md.
# The release bootstraps of the functions and baselines, both architectures, then the run.
BENCH_BINS := $(notdir $(wildcard functions/*)) hello-lambda hello-dynamodb hello-axum ally-local
bench: $(BUILD_STAMP)
	for arch in x86-64 arm64; do \
	  PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release --$$arch --locked \
	    --lambda-dir $(CARGO_TARGET_DIR)/bench-$$arch $(foreach b,$(BENCH_BINS),--bin $(b)); \
	done
	cargo bench -p ally-tests --bench performance
	$(MAKE) capacity

# 20,000 operations over 1,000 resellers through the real store code, every write recorded
# and its index writes derived from template.yaml: units, hottest partitions, ceilings.
# OPERATIONS operations in each of the model's two phases (2,000: about 20 minutes here).
OPERATIONS ?= 2000
capacity: tools
	cargo run -q -p ally-tests --example capacity --locked -- CAPACITY.md "After: this design" $(OPERATIONS)
