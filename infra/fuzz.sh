#!/usr/bin/env bash
# Fuzz the dev server with schemathesis, generated from its own /openapi.json, once with an
# admin token and once with a partner token. Fails on any 5xx or on a response that does
# not conform to the document; prints how many cases ran.
#
# usage: infra/fuzz.sh [examples per operation and token]   (FUZZ_EXAMPLES, default 25)
set -euo pipefail
cd "$(dirname "$0")/.."
examples=${1:-${FUZZ_EXAMPLES:-25}}
venv=.venv/bin
# shellcheck source=infra/dev-server.sh
source infra/dev-server.sh

admin=$("$bin" token fuzz-admin --admin --email admin@fuzz.example)
partner=$("$bin" token fuzz-partner --email partner@fuzz.example)
# The partner has a profile, credits and a client, so its routes get past 404 into the
# money path instead of only being refused.
python3 - "$base" "$admin" "$partner" <<'PY'
import json, sys, urllib.request
base, admin, partner = sys.argv[1:]
def call(method, path, token, body, key=None):
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    req = urllib.request.Request(base + path, json.dumps(body).encode(), headers, method=method)
    with urllib.request.urlopen(req) as answer:
        return json.load(answer)
refid = call("POST", "/resellers", partner, {"company": "Fuzz Ltd"})["refid"]
call("POST", f"/resellers/{refid}/credits", admin, {"amount": 1_000_000}, key="fuzz-opening")
call("POST", "/clients", partner, {"name": "First client"})
PY

total=0
for who in admin partner; do
    token=${!who}
    echo "== schemathesis as $who: up to $examples cases per operation"
    "$venv/schemathesis" run "$base/openapi.json" \
        --header "Authorization: Bearer $token" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
        --phases examples,coverage,fuzzing \
        --max-examples "$examples" --seed 7 --generation-database none --no-color | tee "$data/$who.out"
    cases=$(sed -n 's/^ *\([0-9][0-9]*\) generated.*/\1/p' "$data/$who.out")
    echo "== $who: $cases cases"
    total=$((total + cases))
done
echo "== schemathesis: $total cases in all, no 5xx, every response conforms to /openapi.json"
