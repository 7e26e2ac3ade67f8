#!/usr/bin/env bash
# Release-profile experiments behind BENCHMARKS.md's "Tuning" section: builds `provision`
# and the two Lambda baselines under each variant of [profile.release] (given as cargo's
# CARGO_PROFILE_RELEASE_* variables, in a target directory of their own so the main cache
# is untouched), then runs the cold-start and size sections on them.
#
# usage: infra/bench-profiles.sh [variant ...]   (default: all; `make bench` must have run once)
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
export PATH="$PWD/.venv/bin:$PATH"
declare -A variants=(
  [shipped]=""
  [opt-s]="CARGO_PROFILE_RELEASE_OPT_LEVEL=s"
  [opt-z]="CARGO_PROFILE_RELEASE_OPT_LEVEL=z"
  [thin-lto]="CARGO_PROFILE_RELEASE_LTO=thin CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16"
  [unwind]="CARGO_PROFILE_RELEASE_PANIC=unwind"
  [no-strip]="CARGO_PROFILE_RELEASE_STRIP=none"
)
chosen=("$@")
[ ${#chosen[@]} -gt 0 ] || chosen=(shipped opt-s opt-z thin-lto unwind no-strip)
for name in "${chosen[@]}"; do
  settings=${variants[$name]}
  echo "== $name: ${settings:-the profile of Cargo.toml}"
  start=$(date +%s)
  env $settings CARGO_TARGET_DIR="$target/variants" cargo lambda build --release --x86-64 --locked \
    --lambda-dir "$target/variant-$name/bench-x86-64" --bin provision --bin hello-lambda --bin hello-dynamodb
  echo "== $name: built in $(( $(date +%s) - start )) s"
  ALLY_BENCH_DIR="$target/variant-$name" cargo bench -q -p ally-tests --bench performance -- cold-start sizes \
    | grep -E '^\| (hello|provision)'
done
