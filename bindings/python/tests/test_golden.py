"""Every golden case (outputs of the real libraries, tests/golden/fixtures/manifest.json)
through the Python API: within the tolerance the Rust golden test (tests/golden.rs) uses, and
equal bit for bit to what the `specc` CLI computes for the same case."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile

import numpy as np
import pytest

import specc
from conftest import FIXTURES

CASES = json.loads((FIXTURES / "manifest.json").read_text())["cases"]
NOISE_FLOOR_CASES = {"keras_mel_one_sample"}


def py_value(text: str):
    """A manifest `--set` value as a Python user writes it: none -> None, true -> True,
    numbers as numbers, words as strings."""
    if text in ("none", "None"):
        return None
    if text in ("true", "false"):
        return text == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def params(case, **extra):
    p = {k: py_value(v) for k, v in case["set"].items()}
    p.update(extra)
    return p


def worst_violation(case, got: np.ndarray, want: np.ndarray, magnitude=None) -> float:
    """tests/golden.rs `compare`: the worst error over its tolerance (<= 1 passes)."""
    kind = case.get("compare")
    got = got.astype(np.float64).ravel()
    want = want.astype(np.float64).ravel()
    bad = ~np.isfinite(got) | ~np.isfinite(want)
    same = (np.isnan(got) & np.isnan(want)) | (got == want)
    if np.any(bad & ~same):
        return np.inf
    ok = ~bad
    g, w = got[ok], want[ok]
    if kind == "log":
        g, w = np.exp(g), np.exp(w)
    if kind == "db":
        if case["name"] in NOISE_FLOOR_CASES:
            return float(np.max(np.maximum(g, w) + 90.0, initial=0.0) / 90.0)
        return float(np.max(np.abs(g - w), initial=0.0) / 2e-3)
    if kind in ("linear", "log"):
        max_ref = np.max(np.abs(w), initial=0.0)
        return float(np.max(np.abs(g - w) / (1e-4 * np.abs(w) + 1e-5 * max_ref), initial=0.0))
    if kind == "whisper":
        if w.size == 0:  # all non-finite (whisper_nan), compared exactly above
            return 0.0
        floor = np.min(w)
        tol = np.where(w < floor + 0.25, 1e-4, 5e-5)
        return float(np.max(np.abs(g - w) / tol, initial=0.0))
    if kind == "cepstral":
        max_ref = np.max(np.abs(w), initial=0.0)
        return float(np.max(np.abs(g - w), initial=0.0) / (5e-3 + 1e-6 * max_ref))
    if kind == "angle":
        m = magnitude.astype(np.float64).ravel()[ok]
        keep = m >= 1e-3 * m.max()
        d = np.mod(g - w, 2 * np.pi)[keep]
        return float(np.max(np.minimum(d, 2 * np.pi - d) / 2e-3, initial=0.0))
    raise AssertionError(f"unknown compare kind {kind!r}")


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_golden(case, cli):
    x = np.load(FIXTURES / case["input"])
    run = lambda: specc.preset(case["spec"], **params(case))(x)  # noqa: E731
    if "error" in case:
        with pytest.raises((ValueError, TypeError)):
            run()
        return
    if 0 in (case.get("shape") or []):
        with pytest.raises(ValueError, match="min_duration"):
            run()
        return
    y = run()
    want = np.load(FIXTURES / case["expected"])
    assert y.shape == want.shape and y.dtype == want.dtype
    mag = None
    if case.get("compare") == "angle":
        mag = specc.preset(case["spec"], **params(case, mode="magnitude"))(x)
    assert worst_violation(case, y, want, mag) <= 1.0

    # The CLI on the same case: the same bits.
    sets = [a for k, v in case["set"].items() for a in ("--set", f"{k}={v}")]
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "y.npy")
        r = subprocess.run([str(cli), "run", case["spec"], str(FIXTURES / case["input"]), "-o", out, *sets],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        rust = np.load(out)
    assert rust.dtype == y.dtype and rust.shape == y.shape
    assert np.array_equal(rust.view(np.uint8), y.view(np.uint8)), "differs from the CLI's bits"
