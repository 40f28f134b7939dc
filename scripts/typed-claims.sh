#!/usr/bin/env bash
# Typed validation of the benchmark's 13-claim HS256 token, jwtkit's `Validator::validate_as::<T>`
# against jsonwebtoken's `decode::<T>` (benches/examples/typed_instructions.rs), two ways:
# - user time per validation: 1,000,000 validations per process, the two alternating, six
#   rounds; the minimum of each, so a round disturbed by the rest of the machine drops out;
# - instructions per validation under callgrind (N = 0 and 20,000; the difference / 20,000):
#   the same on every run, but valgrind's CPU has no SHA-NI, so the HMAC weighs more than natively.
# The criterion pair (`cargo bench -p jwtkit-benches --bench jwt --
# 'verify_hs256/(jwtkit_validator_typed|jsonwebtoken_typed)'`) is the target's measure; this
# script is for before/after comparisons of one change.
#
#   bash scripts/typed-claims.sh                  # both
#   bash scripts/typed-claims.sh --time           # user time only (no valgrind needed)
#   bash scripts/typed-claims.sh --instructions   # callgrind only
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-both}
case "$MODE" in
  both | --time | --instructions) ;;
  *) echo "usage: bash scripts/typed-claims.sh [--time | --instructions]" >&2; exit 2 ;;
esac
CARGO_INCREMENTAL=0 cargo build --quiet --release -p jwtkit-benches --example typed_instructions
BIN=${CARGO_TARGET_DIR:-target}/release/examples/typed_instructions

user_seconds() { # who n -> user seconds of one process
  local out
  out=$({ /usr/bin/time -f '%U' "$BIN" "$1" "$2" >/dev/null; } 2>&1)
  echo "${out##*$'\n'}"
}

if [ "$MODE" != --instructions ]; then
  [ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install time" >&2; exit 1; }
  best_j='' best_r=''
  for round in 1 2 3 4 5 6; do
    j=$(user_seconds jwtkit 1000000)
    r=$(user_seconds jsonwebtoken 1000000)
    echo "round $round: jwtkit $j us, jsonwebtoken $r us per validation"
    best_j=$(awk -v a="$j" -v b="${best_j:-$j}" 'BEGIN { print (a < b ? a : b) }')
    best_r=$(awk -v a="$r" -v b="${best_r:-$r}" 'BEGIN { print (a < b ? a : b) }')
  done
  awk -v j="$best_j" -v r="$best_r" \
    'BEGIN { printf "time, minimum of 6: jwtkit %.2f us, jsonwebtoken %.2f us, ratio %.3f\n", j, r, j / r }'
fi

if [ "$MODE" != --time ]; then
  command -v valgrind >/dev/null || { echo "needs valgrind: apt-get install valgrind" >&2; exit 1; }
  collected() { # who n -> instructions of the whole process
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$BIN" "$1" "$2" 2>&1 |
      awk '/Collected/ { print $NF }'
  }
  for who in jwtkit jsonwebtoken; do
    base=$(collected "$who" 0)
    full=$(collected "$who" 20000)
    echo "instructions per validation: $who $(((full - base) / 20000))"
  done
fi
