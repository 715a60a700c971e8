"""Ray Data: `map_batches(specc.Featurizer, concurrency=2)` over 16 clips on two local
workers equals direct calls. Needs `ray[data]`, which scripts/test-python.sh installs unless
SPECC_PY_RAY=0 (then this test is skipped)."""

from __future__ import annotations

import numpy as np
import pytest

import specc

ray = pytest.importorskip("ray")


def test_map_batches_equals_direct_calls():
    rng = np.random.default_rng(7)
    clips = [rng.standard_normal(16000 + 800 * i).astype(np.float32) for i in range(16)]
    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True)
    try:
        ds = ray.data.from_items([{"id": i, "audio": c} for i, c in enumerate(clips)])
        out = ds.map_batches(
            specc.Featurizer,
            fn_constructor_kwargs={"spec": "whisper", "column": "audio", "out": "features"},
            batch_size=4,
            batch_format="numpy",
            concurrency=2,
        ).take_all()
    finally:
        ray.shutdown()
    assert len(out) == 16
    p = specc.preset("whisper")
    for row in out:
        np.testing.assert_array_equal(np.asarray(row["features"]), p(clips[row["id"]]))
