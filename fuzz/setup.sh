#!/usr/bin/env bash
# Installs what the fuzz targets need: a nightly Rust toolchain (cargo-fuzz builds with -Z flags
# for libFuzzer's coverage instrumentation and AddressSanitizer) and cargo-fuzz from crates.io.
#
# This machine's image ships a nightly beside stable (rustup toolchain list). Where it does not,
# `rustup toolchain install nightly` needs the Rust distribution server, which this workplace's
# network does not reach (only package registries: crates.io, PyPI, Debian, npm): it will fail,
# and run.sh falls back to the stable toolchain with RUSTC_BOOTSTRAP=1, which accepts the same
# -Z flags.
set -euo pipefail
cd "$(dirname "$0")"

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "setup: nightly toolchain present: $(cargo +nightly --version)"
elif rustup toolchain install nightly --profile minimal; then
    echo "setup: installed $(cargo +nightly --version)"
else
    echo "setup: no nightly toolchain could be installed; run.sh will use stable with RUSTC_BOOTSTRAP=1" >&2
fi

if cargo fuzz --version >/dev/null 2>&1; then
    echo "setup: $(cargo fuzz --version) present"
else
    cargo install cargo-fuzz --locked
fi
