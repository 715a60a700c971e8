#!/usr/bin/env bash
# The Python package's tests: a fresh venv with the system python3, the pinned build and test
# tools from PyPI, the extension built into it (`maturin develop`), then pytest, which also
# compares every golden case with the `specc` CLI bit for bit (built here if missing).
#
# Usage: bash scripts/test-python.sh
#   SPECC_PY_VENV   where the venv goes (default: target/python-venv; reused when present)
#   SPECC_PY_RELEASE=1   build the extension with --release (as `pip install` does)
#   SPECC_PY_RAY=0  skip installing Ray Data (~650 MB, ~1.5 min) and pandas; their tests
#                   (tests/test_ray.py, the mapInPandas part) are then skipped
# The extension's lints (it is a Cargo workspace of its own, bindings/python) run here too,
# since they need Python: the root's `cargo clippy --workspace` builds nothing of it. Each
# step's time is printed ("test-python: ... done at N s").
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target=${CARGO_TARGET_DIR:-$root/target}
venv=${SPECC_PY_VENV:-$target/python-venv}
# Each step's time, for CI logs: "test-python: <step> done at <seconds since start> s".
done_at() { echo "test-python: $1 done at ${SECONDS} s"; }

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    maturin==1.16.0 numpy==2.4.6 pytest==9.2.0
if [ "${SPECC_PY_RAY:-1}" = 1 ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "ray[data]==2.60.0" pandas==3.1.1
fi
done_at "venv and PyPI packages"
export VIRTUAL_ENV=$venv PATH="$venv/bin:$PATH" CARGO_TARGET_DIR=$target
# The CLI the golden tests compare with, bit for bit: `cargo test --workspace` (scripts/test.sh)
# has built it from this tree; built here only if missing or older than a source file.
if [ -z "${SPECC_BIN:-}" ]; then
    export SPECC_BIN=$target/debug/specc
    if [ ! -x "$SPECC_BIN" ] || [ -n "$(find src compiler/src runtime/src Cargo.lock -newer "$SPECC_BIN" -print -quit)" ]; then
        cargo build --quiet --bin specc
    fi
fi
done_at "specc CLI"

cargo fmt --manifest-path bindings/python/Cargo.toml -- --check
# Clippy lints the extension while maturin builds it: clippy-driver as the workspace wrapper
# compiles bindings/python's own crate (its only target: the lib) and plain rustc its
# dependencies, so the lints cost no second, check-mode build of every dependency as a separate
# `cargo clippy --all-targets` would (7 of the 17 minutes of this script on a busy 2-core
# machine). `-- -D warnings` reaches that crate only (maturin builds with `cargo rustc`).
clippy=$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver || true)
[ -n "$clippy" ] || { echo "test-python: clippy-driver not found (rustup component add clippy)" >&2; exit 1; }
release=()
[ "${SPECC_PY_RELEASE:-0}" = 1 ] && release=(--release)
# The extension's build reuses what `cargo test --workspace` compiled only where both resolve
# the shared crates with the same features; say so when they stop doing that (it still works,
# minutes slower).
bash scripts/check-features.sh || echo "test-python: the extension's build cannot reuse the root's artifacts (see above)" >&2
(cd bindings/python && RUSTC_WORKSPACE_WRAPPER=$clippy maturin develop --quiet "${release[@]}" -- -D warnings)
done_at "fmt, then maturin develop with clippy's lints"
cd bindings/python
python -m pytest -q tests
done_at "pytest"
