#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a bounded time: bash scripts/fuzz.sh [seconds-per-target]
#
# Not part of the default test command. Installs cargo-fuzz if missing. Uses the nightly
# toolchain when rustup has one, else the stable toolchain with RUSTC_BOOTSTRAP=1 (cargo fuzz
# passes nightly-only flags). Seeds come from fuzz/corpus/<target>/ (read only); what the fuzzer
# learns goes to fuzz/work/corpus/<target>/ and crashes to fuzz/artifacts/<target>/ (both
# ignored by git). A crash input belongs in fuzz/regressions/<target>/ once its bug is fixed:
# the crates' tests/fuzz_regressions.rs replay that directory in `cargo test`.
#
# Environment: FUZZ_TARGETS (default: all), FUZZ_JOBS (parallel targets, default 1),
# FUZZ_TOOLCHAIN (auto, nightly or stable; auto = nightly when installed),
# FUZZ_SANITIZER (default none: safe Rust over aws-lc-rs and base64-simd; `address` for ASan),
# FUZZ_MAX_LEN (default 4096).
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/fuzz"

targets="${FUZZ_TARGETS:-token jwk secret proxy}"
sanitizer="${FUZZ_SANITIZER:-none}"
max_len="${FUZZ_MAX_LEN:-4096}"
jobs="${FUZZ_JOBS:-1}"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

toolchain="${FUZZ_TOOLCHAIN:-auto}"
if [ "$toolchain" = nightly ] ||
    { [ "$toolchain" = auto ] && rustup toolchain list 2>/dev/null | grep -q '^nightly'; }; then
    cargo_fuzz=(cargo +nightly fuzz)
    echo "== toolchain: nightly ($(rustc +nightly --version))"
else
    export RUSTC_BOOTSTRAP=1
    cargo_fuzz=(cargo fuzz)
    echo "== toolchain: stable with RUSTC_BOOTSTRAP=1 ($(rustc --version))"
fi

# Release with debug assertions and overflow checks (cargo fuzz's default), built once.
echo "== building the fuzz targets (sanitizer ${sanitizer})"
"${cargo_fuzz[@]}" build --sanitizer "$sanitizer"

mkdir -p work/logs
status=0
run_target() {
    local target="$1"
    local log="work/logs/${target}.log"
    mkdir -p "work/corpus/${target}" "artifacts/${target}"
    echo "== ${target}: ${seconds} s (log: fuzz/${log})"
    if "${cargo_fuzz[@]}" run --sanitizer "$sanitizer" "$target" \
        "work/corpus/${target}" "corpus/${target}" -- \
        -max_total_time="$seconds" -max_len="$max_len" -timeout=30 -rss_limit_mb=4096 \
        -print_final_stats=1 >"$log" 2>&1; then
        local line
        line="$(grep -E '^#[0-9]+.*(DONE|pulse)' "$log" | tail -1 || true)"
        echo "   ${target}: ok; ${line}"
        grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" |
            sed 's/^/   /'
    else
        echo "   ${target}: FAILED, see fuzz/${log} and fuzz/artifacts/${target}/"
        grep -E 'panicked at|^thread|Test unit written' "$log" | head -5 | sed 's/^/   /'
        return 1
    fi
}

if [ "$jobs" -gt 1 ]; then
    pids=()
    for target in $targets; do
        run_target "$target" &
        pids+=("$!")
    done
    for pid in "${pids[@]}"; do
        wait "$pid" || status=1
    done
else
    for target in $targets; do
        run_target "$target" || status=1
    done
fi

if [ "$status" -ne 0 ]; then
    echo "== crashes found: minimise with '${cargo_fuzz[*]} tmin <target> <artifact>', fix, then copy the input to fuzz/regressions/<target>/"
fi
exit "$status"
