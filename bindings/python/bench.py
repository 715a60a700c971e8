"""specc from Python against the libraries it reproduces, on workloads K and W (BENCHMARKS.md).

    python bindings/python/bench.py [--runs 20] [--threads 1] [--specc-bin target/release/specc]

- K: keras.layers.MelSpectrogram() defaults on a (16, 160000) float32 batch;
- W: whisper.audio.log_mel_spectrogram(x, n_mels=80) on the same batch.

The batch is the one `specc bench` generates (seeded noise + tones, benches/peers/peers.py
`specc_batch`), and `specc bench --input` is given the same .npy, so every contender computes
the same thing; the peers' calls are benches/peers/peers.py's `build_peer`.
Each figure is the median of `--runs` warm calls. The Python call's overhead is measured
against the same runs timed inside Rust (`Pipeline._core.time_runs`, the loop `specc bench`
runs), alternated with the Python calls run by run (on a shared machine, timing one series and
then the other measures the machine's drift, not the call), and, with the `specc` CLI (release build) at hand, against `specc bench` on the same
file.
Peers run where installed: librosa (melspectrogram + power_to_db), torchaudio
(MelSpectrogram + AmplitudeToDB), Keras on JAX, openai-whisper. To time peers without
installing specc into their environment, put the built package on PYTHONPATH, e.g.

    PYTHONPATH=bindings/python/python tests/golden/.venv/bin/python bindings/python/bench.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

import specc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "benches", "peers"))
import peers  # noqa: E402  (benches/peers/peers.py: the batch and the peers' calls)


def median_ms(fn, runs: int) -> float:
    fn()  # warm-up (compiles, allocates)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * float(np.median(times))


def interleaved_ms(p, x: np.ndarray, runs: int) -> "tuple[float, float]":
    """Medians of the Python call ``p(x)`` and of the same run timed inside Rust, alternated
    run by run so that a machine whose speed drifts (other work, clocks) moves both alike."""
    p(x)  # warm-up: compiles the machine code, starts the pool
    py, rust = [], []
    for _ in range(runs):
        t = time.perf_counter()
        p(x)
        py.append(time.perf_counter() - t)
        rust.extend(p._core.time_runs(x, 1))
    return 1e3 * float(np.median(py)), 1e3 * float(np.median(rust))


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cli_bench(bin_path: str, preset: str, path: str, runs: int, threads: int) -> float | None:
    r = subprocess.run([bin_path, "bench", preset, "--input", path, "--runs", str(runs), "--threads", str(threads),
                        "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"specc bench failed: {r.stderr.strip()}", file=sys.stderr)
        return None
    data = json.loads(r.stdout)
    for key in ("median_ms", "median"):
        if key in data:
            return float(data[key])
    raise SystemExit(f"specc bench --json printed no median: {r.stdout}")


def peer_fns(workload: str, x: np.ndarray, threads: int):
    """(name, fn) for each installed peer, built by benches/peers/peers.py (the same calls,
    the same thread settings as the peer comparison in BENCHMARKS.md)."""
    out = []
    for peer in ("keras", "librosa", "torchaudio", "whisper"):
        if peer == "whisper" and workload == "K":
            continue
        try:
            fn, _ = peers.build_peer(peer, workload, x, max(threads, 1))
        except ImportError:
            continue
        out.append((peer, fn))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description="specc from Python vs the libraries, workloads K and W")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1, help="specc threads (0: all cores); peers use their defaults")
    ap.add_argument("--specc-bin", default=None, help="the specc CLI (release) for the overhead figure")
    ap.add_argument("--no-peers", action="store_true")
    args = ap.parse_args()
    bin_path = args.specc_bin or os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")),
                                              "release", "specc")
    x = peers.specc_batch()
    print(f"CPU: {cpu_name()} ({os.cpu_count()} cores); Python {platform.python_version()}; numpy {np.__version__}")
    print(f"batch {x.shape} float32; median of {args.runs} warm calls; specc threads={args.threads}")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "batch.npy")
        np.save(path, x)
        for workload, preset in (("K", "keras_mel"), ("W", "whisper")):
            p = specc.preset(preset, threads=args.threads)
            py_ms, rust_in_process = interleaved_ms(p, x, args.runs)
            print(f"\n{workload} ({preset})")
            print(f"  {'specc (Python call)':<28} {py_ms:8.2f} ms")
            print(f"  {'specc (timed in Rust)':<28} {rust_in_process:8.2f} ms   Python overhead "
                  f"{100 * (py_ms / rust_in_process - 1):+.1f}%")
            if os.path.exists(bin_path):
                rust_ms = cli_bench(bin_path, preset, path, args.runs, args.threads)
                if rust_ms is not None:
                    print(f"  {'specc bench (Rust CLI)':<28} {rust_ms:8.2f} ms   Python overhead "
                          f"{100 * (py_ms / rust_ms - 1):+.1f}%")
            if not args.no_peers:
                for name, fn in peer_fns(workload, x, args.threads):
                    ms = median_ms(fn, max(3, args.runs // 4))
                    print(f"  {name:<28} {ms:8.2f} ms   {ms / py_ms:5.1f}x specc")


if __name__ == "__main__":
    main()
