#!/usr/bin/env bash
# Runs the fuzz targets, one after another, one job each (the machine is shared).
#
#   fuzz/run.sh [SECONDS] [TARGET...]     default: 600 s each for spec, expr, npy, audio, differential
#   SPECC_FUZZ_SANITIZER=none fuzz/run.sh ...   without AddressSanitizer (default: address)
#
# Seeds the corpora (the shipped specs with --set lines, the golden .npy inputs, small
# generated WAVs and the example recordings), builds once with overflow checks and debug
# assertions on (as the test profile has them), and runs each target with a 2 GiB RSS limit
# and a 20 s per-input timeout, so a blow-up in time or memory is a finding too. Crashes land in
# fuzz/artifacts/TARGET/; each run's log, with libFuzzer's final counts, in fuzz/logs/.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-600}
san=(-s "${SPECC_FUZZ_SANITIZER:-address}")
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(spec expr npy audio differential)

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    tc=(+nightly)
else
    tc=()
    export RUSTC_BOOTSTRAP=1
fi

mkdir -p logs
./seeds.sh
# The differential target is built without comparison tracing: its time goes to the f64
# interpreter's FFTs, which tracing slowed fivefold, and its params come from fixed menus.
flags() { [ "$1" = differential ] && echo --no-trace-compares; true; }
for t in "${targets[@]}"; do
    cargo "${tc[@]}" fuzz build -O -a "${san[@]}" $(flags "$t") "$t" 2>&1 | tail -1
done
for t in "${targets[@]}"; do
    extra=()
    [ "$t" = spec ] && extra+=(-dict=spec.dict)
    [ "$t" = expr ] && extra+=(-dict=expr.dict -max_len=4096)
    [ "$t" = audio ] && extra+=(-max_len=131072)
    [ "$t" = npy ] && extra+=(-max_len=70000)
    echo "== $t for $secs s"
    cargo "${tc[@]}" fuzz run -O -a "${san[@]}" $(flags "$t") "$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 \
        -print_final_stats=1 "${extra[@]}" 2>&1 | tee "logs/$t.log" | grep -E "^(#[0-9]+ +DONE|stat::|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)" || true
done
