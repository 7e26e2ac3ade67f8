#!/usr/bin/env bash
# Generate a Python client from the dev server's own /openapi.json with openapi-python-client
# and run a partner's scenario through it (tests/client/scenario.py). Fails when the
# generator reports any warning or error (it may exit 0 and still skip what it could not
# read), or when the scenario sees anything the contract does not say.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$PWD/.venv/bin
# shellcheck source=infra/dev-server.sh
source infra/dev-server.sh

curl -sSf "$base/openapi.json" -o "$data/openapi.json"
# The generator runs ruff on what it wrote, found on PATH.
if ! PATH="$venv:$PATH" "$venv/openapi-python-client" generate --path "$data/openapi.json" \
    --output-path "$data/client/ally_client" --meta none --fail-on-warning > "$data/generate.out" 2>&1 \
    || grep -Eiq 'warning|error|unable|skipping|not in path' "$data/generate.out"; then
    cat "$data/generate.out"
    echo "== openapi-python-client could not read /openapi.json cleanly" >&2
    exit 1
fi
echo "== openapi-python-client $("$venv/openapi-python-client" --version | sed 's/.* //'): no warnings, $(find "$data/client/ally_client/api" -name '*.py' ! -name '__init__.py' | wc -l) operations"

admin=$("$bin" token client-admin --admin --email admin@client.example)
partner=$("$bin" token client-partner --email partner@client.example)
PYTHONPATH="$data/client" "$venv/python" tests/client/scenario.py "$base" "$admin" "$partner"
