# Ally: `make dev` runs it locally, `make test` checks everything.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# One build cache for every checkout on this machine (CI keeps it between runs).
export CARGO_TARGET_DIR ?= $(HOME)/.cache/ally-target
VENV := .venv
STAMP := $(VENV)/.installed-$(shell sha256sum infra/requirements.txt | cut -c1-12)

.PHONY: help dev reset test lint tools

help:
	@echo "make dev     the local API on 127.0.0.1:3000 (embedded store kept in .ally/)"
	@echo "make reset   forget the dev server's data and secrets"
	@echo "make test    formatting, lints and every test (installs what it needs into .venv)"

# Needs nothing but Rust: the embedded store, the in-process identity.
dev:
	cargo run -q -p ally-local -- serve

reset:
	rm -rf .ally

# Python tools (moto for the DynamoDB emulator), pinned in infra/requirements.txt.
$(STAMP): infra/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements.txt
	touch $@

tools: $(STAMP)

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

# The tests start the emulator themselves (infra/moto_server.py, a free loopback port,
# one request at a time) and it stops when the test process exits, pass or fail.
test: tools lint
	cargo build --workspace --bins --locked
	cargo test --workspace --locked
