# Sourced by the scripts that test against a dev server (fuzz.sh, browser.sh): starts
# `ally-local serve` (the debug build `make test` made) on a free loopback port with a data
# directory and secrets of its own, and stops it and removes the data on exit.
# Sets: base (http://127.0.0.1:<port>), data (the directory), bin (ally-local).
bin=${CARGO_TARGET_DIR:-target}/debug/ally-local
data=$(mktemp -d)
# Port 0: the server binds a free port and prints the address it serves.
export ALLY_LOCAL_DATA=$data/store ALLY_LOCAL_OUTBOX=$data/outbox ALLY_LOCAL_ADDR=127.0.0.1:0
# Given, so tokens minted by `ally-local token` and the server agree whoever starts first.
ALLY_LOCAL_JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
export ALLY_LOCAL_JWT_SECRET
# The dashboard's Buy credits, as a team with a Stripe Payment Link would have it.
export ALLY_STRIPE_PAYMENT_LINK=https://buy.stripe.com/test_ally_credits
# A few clients make an upgrade candidate, so the pages' tests have one.
export ALLY_UPGRADE_ACQUISITIONS=4
"$bin" serve > "$data/server.log" 2>&1 &
server=$!
# Stopped (it writes its store on SIGTERM) before its directory goes.
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$data"' EXIT
# It prints the address once bound, so it is listening by then (up to 30 s for a loaded
# machine to start it).
base=$(python3 - "$data/server.log" <<'PY'
import re, sys, time
for _ in range(600):
    try:
        served = re.search(r"Ally dev server on (http://127\.0\.0\.1:\d+)", open(sys.argv[1]).read())
    except OSError:
        served = None
    if served:
        print(served.group(1))
        sys.exit(0)
    time.sleep(0.05)
sys.exit("the dev server did not start")
PY
)
