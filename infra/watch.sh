#!/usr/bin/env bash
# `make watch`: the functions under `cargo lambda watch`, on a DynamoDB emulator with the
# table created, so `cargo lambda invoke <function> --data-file events/<file>.json` works.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${ALLY_EMULATOR_PORT:-4566}"
.venv/bin/python infra/moto_server.py "$port" --until-killed > /dev/null 2>&1 &
emulator=$!
trap 'kill "$emulator" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.2
done
mkdir -p .ally
cat > .ally/watch.env <<ENV
AWS_ENDPOINT_URL=http://127.0.0.1:$port
AWS_REGION=us-east-1
AWS_ACCESS_KEY_ID=testing
AWS_SECRET_ACCESS_KEY=testing
ALLY_TABLE_NAME=ally-watch
ALLY_WEBHOOK_SECRET=whsec-watch
ALLY_CURSOR_SECRET=cursor-watch
ALLY_EVENT_BUS=ally-watch
ALLY_MAIL_FROM=ally@watch.example
ENV
set -a; . .ally/watch.env; set +a
cargo run -q -p ally-local -- create-table
# The bus and the mail identity the event functions use.
.venv/bin/python - <<PY
import boto3
kw = dict(endpoint_url="$AWS_ENDPOINT_URL", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
boto3.client("events", **kw).create_event_bus(Name="$ALLY_EVENT_BUS")
boto3.client("sesv2", **kw).create_email_identity(EmailIdentity="$ALLY_MAIL_FROM")
PY
echo "emulator on http://127.0.0.1:$port; functions on the cargo lambda runtime (:9000)"
echo "try: cargo lambda invoke onboarding --data-file events/onboarding-create-reseller.json"
PATH="$PWD/.venv/bin:$PATH" cargo lambda watch --env-file .ally/watch.env
