"""Shared by the tests: where the repository's fixtures are, and the `specc` CLI to compare
against (bit for bit)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "golden" / "fixtures"
EXAMPLES = ROOT / "examples"


def find_cli() -> "Path | None":
    """The `specc` binary: $SPECC_BIN, else the newest build in $CARGO_TARGET_DIR or
    ./target (debug or release), else `specc` on PATH."""
    if os.environ.get("SPECC_BIN"):
        return Path(os.environ["SPECC_BIN"])
    targets = [Path(os.environ["CARGO_TARGET_DIR"])] if os.environ.get("CARGO_TARGET_DIR") else []
    targets.append(ROOT / "target")
    found = [t / p / "specc" for t in targets for p in ("debug", "release") if (t / p / "specc").is_file()]
    if found:
        return max(found, key=lambda p: p.stat().st_mtime)
    on_path = shutil.which("specc")
    return Path(on_path) if on_path else None


def newest_source() -> float:
    """The newest modification time of the Rust sources a `specc` build reads."""
    dirs = [ROOT / "src", ROOT / "compiler" / "src", ROOT / "runtime" / "src", ROOT / "specs"]
    times = [f.stat().st_mtime for d in dirs if d.is_dir() for f in d.rglob("*") if f.is_file()]
    return max(times, default=0.0)


@pytest.fixture(scope="session")
def cli() -> Path:
    """The CLI; the tests that compare with it are skipped without one (set SPECC_BIN), except
    in CI (CI=true), where its absence is a failure."""
    path = find_cli()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no specc binary found: build it (cargo build) or set SPECC_BIN")
        pytest.skip("no specc binary found: build it (cargo build) or set SPECC_BIN")
    # A binary found by looking (not named by SPECC_BIN) that is older than the sources was
    # built from other code: comparing bit for bit with it would report its differences.
    if not os.environ.get("SPECC_BIN") and path.stat().st_mtime < newest_source():
        why = f"{path} is older than the sources: rebuild it (cargo build) or set SPECC_BIN"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    return path
