"""What a data pipeline needs: the GIL released during runs, one pipeline shared by threads,
fork safety, pickling and `spawn` pools."""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import signal
import threading
import time

import numpy as np
import pytest

import specc


def batch(n=8, samples=160000, seed=1):
    return np.random.default_rng(seed).standard_normal((n, samples)).astype(np.float32)


def test_gil_is_released_while_running():
    p = specc.preset("keras_mel", threads=1)
    x = batch(16)
    p(x[:1])  # compile the machine code first
    counter = [0]
    running = threading.Event()
    done = threading.Event()

    def count():
        running.set()
        while not done.is_set():
            counter[0] += 1

    t = threading.Thread(target=count)
    t.start()
    running.wait()
    before = counter[0]
    # Several runs, so the counting thread gets scheduled during them even on one core.
    for _ in range(3):
        p(x)
    during = counter[0] - before
    done.set()
    t.join()
    # With the GIL held for a run, the counter would stand still (the switch interval is 5 ms,
    # a run of 16 x 10 s clips takes far longer); released, it counts throughout.
    assert during > 1000


def test_one_pipeline_many_threads():
    p = specc.preset("librosa_mel", sr=16000, threads=2)
    xs = [batch(2, 32000, seed=s) for s in range(8)]
    want = [p(x) for x in xs]
    got = [None] * len(xs)

    def work(i):
        got[i] = p(xs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_fork_child_runs_and_finishes():
    p = specc.preset("keras_mel", threads=2)
    x = batch(4, 32000)
    want = p(x)  # the parent's pool now has live worker threads
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's pool threads do not exist here
        try:
            os.close(r)
            signal.alarm(60)  # a hang ends the child, which the parent sees as a failure
            y = p(x)
            y2 = p.run_many([x[0], x[1]])
            ok = np.array_equal(y, want) and np.array_equal(y2[1], want[1])
            os.write(w, b"ok" if ok else b"different")
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        msg = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status), f"child ended by signal {os.WTERMSIG(status) if os.WIFSIGNALED(status) else '?'}"
    assert msg == b"ok"
    np.testing.assert_array_equal(p(x), want)  # the parent's pool still works


def test_pickle_round_trip():
    p = specc.preset("librosa_mel", sr=16000, ref=np.max, n_mels=40, threads=1)
    q = pickle.loads(pickle.dumps(p))
    assert q.params == p.params and q.threads == 1
    x = batch(2, 16000)
    np.testing.assert_array_equal(q(x), p(x))
    f = pickle.loads(pickle.dumps(specc.Featurizer("whisper", column="a", out="f")))
    np.testing.assert_array_equal(f({"a": x})["f"], np.stack([specc.preset("whisper")(c) for c in x]))


def _run(args):
    p, x = args
    return p(x)


def test_spawn_pool_gives_identical_results():
    p = specc.preset("whisper", n_mels=128)
    xs = [batch(1, 16000, seed=s)[0] for s in range(4)]
    with mp.get_context("spawn").Pool(2) as pool:
        got = pool.map(_run, [(p, x) for x in xs])
    for g, x in zip(got, xs):
        np.testing.assert_array_equal(g, p(x))


def test_featurizer_batches():
    f = specc.Featurizer("whisper", column="audio", out="features")
    x = batch(3, 16000) * np.array([[1.0], [1e-3], [10.0]], np.float32)  # loud and quiet rows
    # One clip per row, each alone: Whisper's clip at (max - 8) is per clip, not per batch.
    direct = np.stack([specc.preset("whisper")(c) for c in x])
    assert not np.array_equal(direct, specc.preset("whisper")(x))
    np.testing.assert_array_equal(f({"audio": x, "id": [1, 2, 3]})["features"], direct)
    np.testing.assert_array_equal(f({"audio": x[1:2]})["features"][0], direct[1])
    # Clips of different lengths (a list, as Hugging Face datasets passes, or an object array).
    clips = [x[0], x[1][:8000], x[2].tolist()]
    out = f({"audio": clips})["features"]
    assert [o.shape for o in out] == [(80, 100), (80, 50), (80, 100)]
    np.testing.assert_array_equal(out[2], direct[2])
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"audio": list(x)})
    res = list(f.map_in_pandas(iter([df])))[0]
    np.testing.assert_array_equal(np.stack(res["features"]), direct)
