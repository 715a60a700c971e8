#!/usr/bin/env bash
# Runs the JIT's tests under valgrind memcheck: every golden case through the JIT (host ISA and
# x86-64 baseline), the differential property test (JIT vs interpreter) and the thread-count
# test, plus the CLI on a real recording. Any invalid read/write, use of uninitialised memory or
# definite leak fails the run (exit 9).
#
# Usage: bash scripts/memcheck.sh        (needs valgrind: apt-get install valgrind)
# Takes ~10-20 minutes on 2 cores: valgrind runs JIT code ~30-50x slower.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)"; exit 2; }
# --smc-check: the JIT writes code at run time; valgrind must re-translate it.
vg=(valgrind --tool=memcheck --smc-check=all-non-file --error-exitcode=9 --leak-check=full
    --errors-for-leak-kinds=definite --show-leak-kinds=definite -q)
cargo build --release --quiet
cargo test --release --no-run --quiet --test golden --test differential 2>/dev/null
bin() { ls -t target/release/deps/"$1"-* | grep -v '\.d$' | head -1; }
echo "== golden cases through the JIT (native, baseline ISA)"
"${vg[@]}" "$(bin golden)" goldens_jit --test-threads 1
echo "== differential property test and thread-count invariance"
SPECC_DIFF_CASES=${SPECC_DIFF_CASES:-40} "${vg[@]}" "$(bin differential)" --test-threads 1
echo "== CLI on a recording, one and two threads"
"${vg[@]}" target/release/specc run keras_mel examples/speech.npy -o /tmp/specc-memcheck.npy
"${vg[@]}" target/release/specc bench whisper --batch 2 --seconds 3 --runs 1 --threads 2
echo "memcheck: clean"
