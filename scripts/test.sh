#!/usr/bin/env bash
# The whole test suite, as the README's "Set up" gives it: the Rust workspace (goldens from the
# real libraries, language, CLI), then the Python package (scripts/test-python.sh).
#
# Usage: bash scripts/test.sh     (needs a Rust toolchain and python3 >= 3.9 with venv)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace
bash scripts/test-python.sh
