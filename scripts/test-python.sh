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
# since they need Python: the root's `cargo clippy --workspace` builds nothing of it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target=${CARGO_TARGET_DIR:-$root/target}
venv=${SPECC_PY_VENV:-$target/python-venv}

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    maturin==1.16.0 numpy==2.4.6 pytest==9.2.0
if [ "${SPECC_PY_RAY:-1}" = 1 ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "ray[data]==2.60.0" pandas==3.1.1
fi
export VIRTUAL_ENV=$venv PATH="$venv/bin:$PATH" CARGO_TARGET_DIR=$target
# The CLI the golden tests compare with, bit for bit: built from this tree (after `cargo test
# --workspace`, as in scripts/test.sh, this only checks that it is up to date).
if [ -z "${SPECC_BIN:-}" ]; then
    cargo build --quiet --bin specc
    export SPECC_BIN=$target/debug/specc
fi

cargo fmt --manifest-path bindings/python/Cargo.toml -- --check
cargo clippy --quiet --manifest-path bindings/python/Cargo.toml --all-targets -- -D warnings
release=()
[ "${SPECC_PY_RELEASE:-0}" = 1 ] && release=(--release)
(cd bindings/python && maturin develop --quiet "${release[@]}")
cd bindings/python
python -m pytest -q tests
