#!/usr/bin/env bash
# Run the peer comparison: builds specc (release) and the Rust baseline, then peers.py.
# Usage: bash benches/peers/run.sh [--no-build] [peers.py options]
#   e.g. bash benches/peers/run.sh --workloads K,W --threads 1,all --runs 10 --engine jit
#   --no-build: use target/release/specc (under $CARGO_TARGET_DIR when set) as it is (the Rust baseline is still built if missing).
# Needs benches/peers/.venv (bash benches/peers/setup.sh) and taskset (util-linux).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

if [ ! -x "$here/.venv/bin/python" ]; then
    echo "run.sh: $here/.venv is missing: run bash benches/peers/setup.sh first" >&2
    exit 1
fi
command -v taskset >/dev/null || { echo "run.sh: taskset (util-linux) is needed" >&2; exit 1; }

build=1
args=()
for a in "$@"; do
    if [ "$a" = "--no-build" ]; then build=0; else args+=("$a"); fi
done

if [ "$build" = 1 ]; then
    (cd "$repo" && cargo build --release -p specc)
fi
if [ "$build" = 1 ] || [ ! -x "$here/rust_baseline/target/release/rust_baseline" ]; then
    (cd "$here/rust_baseline" && cargo build --release)
fi
target="${CARGO_TARGET_DIR:-$repo/target}"
[ -x "$target/release/specc" ] || { echo "run.sh: $target/release/specc is missing (drop --no-build)" >&2; exit 1; }
export SPECC_PEERS_BIN="$target/release/specc"

exec "$here/.venv/bin/python" "$here/peers.py" "${args[@]}"
