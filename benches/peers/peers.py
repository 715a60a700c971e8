#!/usr/bin/env python3
"""Peer comparison for specc (issue 5, item 2): the same spectrogram workload through specc and
the libraries it reproduces, each peer in its own process, checked for equal numbers before it
is timed.

Workloads (on one seeded (16, 160000) float32 noise + tones batch, 16 clips x 10 s at 16 kHz —
exactly the batch `specc bench` generates by default):
  K  keras.layers.MelSpectrogram() defaults: fft 2048, hop 512, 128 HTK mels 20..8000 Hz,
     power_to_db, top_db 80 over the whole batch              -> (16, 128, 313) dB
  W  whisper.audio.log_mel_spectrogram(x, n_mels=80): n_fft 400, hop 160, 80 Slaney mels, log10,
     clamp to max - 8, (x + 4) / 4, last frame dropped         -> (16, 80, 1000)

Usage (see README.md):
    bash benches/peers/setup.sh                      # once: benches/peers/.venv
    bash benches/peers/run.sh [options]              # builds what is missing, then this script
    benches/peers/.venv/bin/python benches/peers/peers.py --workloads K,W --threads 1 --runs 3

Each peer runs in a separate process (`peers.py --worker PEER ...`, or the peer's own binary),
pinned to core 0 with `taskset -c 0` and every threading knob at 1 for `--threads 1`, or free on
all cores for `--threads all`. A worker computes the output once (warm-up), compares it with
specc's output (`specc run`), then times R warm runs. All peers run once per round, for
`--rounds` interleaved rounds: one vCPU of this (virtual, shared) machine runs some minutes at
about 2/3 of its usual speed, and interleaving spreads such phases over every peer alike.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
VENV = os.path.join(HERE, ".venv")
VENV_PY = os.path.join(VENV, "bin", "python")
WORK = os.path.join(HERE, "work")
RUST_BASELINE = os.path.join(HERE, "rust_baseline", "target", "release", "rust_baseline")

# Re-exec inside the peers venv, before importing any library.
if os.path.exists(VENV_PY) and os.path.realpath(sys.prefix) != os.path.realpath(VENV):
    os.execv(VENV_PY, [VENV_PY, os.path.abspath(__file__)] + sys.argv[1:])

import numpy as np  # noqa: E402

SR = 16000
BATCH, SECONDS = 16, 10.0

# ---------------------------------------------------------------------------------------------
# Workloads: what each computes, the specc spec that is its reference, and per peer the
# reference(s) its output is checked against.
# ---------------------------------------------------------------------------------------------

# specc runs that produce reference outputs: name -> (spec, [--set k=v ...]).
K_LIBROSA_SETS = ["sr=16000", "n_fft=2048", "hop_length=512", "pad_mode=reflect", "n_mels=128",
                  "fmin=20", "fmax=8000", "htk=true", "norm=none", "top_db=80.0"]
K_TORCHAUDIO_SETS = ["sample_rate=16000", "n_fft=2048", "hop_length=512", "f_min=20", "f_max=8000",
                     "n_mels=128", "mel_scale=htk", "norm=none", "top_db=80.0"]
REFS = {
    "K": {
        "keras_mel": ("keras_mel", []),
        "librosa_mel_htk": ("librosa_mel", K_LIBROSA_SETS),
        "torchaudio_mel_htk": ("torchaudio_mel", K_TORCHAUDIO_SETS),
    },
    "W": {
        "whisper": ("whisper", []),
    },
}
BENCH_SPEC = {"K": "keras_mel", "W": "whisper"}
# Tolerances: dB outputs 2e-3 dB abs; whisper's (log10 + 4) / 4 scale 5e-5 abs (= 2e-3 dB), and
# 1e-4 within 10 dB (0.25) of the clip floor, where float32 FFT round-off of both sides differs
# (the rule of tests/golden.rs).
TOL = {"K": 2e-3, "W": 5e-5}
NEAR_FLOOR_TOL = {"W": 1e-4}

# peer -> (ref it must equal, [refs it is only related to]); a missing workload = not a peer there.
CHECKS = {
    "K": {
        "keras": ("keras_mel", []),
        "librosa": ("librosa_mel_htk", ["keras_mel"]),
        "torchaudio": ("torchaudio_mel_htk", ["keras_mel"]),
        "fftw": ("keras_mel", []),
        "rust_baseline": ("keras_mel", []),
    },
    "W": {
        "whisper": ("whisper", []),
        "keras": ("whisper", []),
        "librosa": ("whisper", []),
        "torchaudio": ("whisper", []),
        "fftw": ("whisper", []),
        "rust_baseline": ("whisper", []),
    },
}

DESCRIBE = {
    ("K", "specc"): "specc bench keras_mel",
    ("K", "keras"): "keras.layers.MelSpectrogram() called inside jax.jit (Keras 3, JAX backend)",
    ("K", "librosa"): "librosa.power_to_db(librosa.feature.melspectrogram(sr=16000, n_fft=2048, "
                      "hop_length=512, pad_mode='reflect', n_mels=128, fmin=20, fmax=8000, htk=True, "
                      "norm=None), top_db=80)",
    ("K", "torchaudio"): "AmplitudeToDB('power', top_db=80)(MelSpectrogram(16000, n_fft=2048, "
                         "hop_length=512, f_min=20, f_max=8000, n_mels=128, mel_scale='htk'))",
    ("K", "fftw"): "pyfftw rfft 2048 of the pre-framed, pre-windowed frames only (FFT floor)",
    ("K", "rust_baseline"): "hand-written Rust (realfft), benches/peers/rust_baseline",
    ("W", "specc"): "specc bench whisper",
    ("W", "whisper"): "whisper.audio.log_mel_spectrogram(x, n_mels=80) (openai-whisper, torch)",
    ("W", "keras"): "keras.ops.stft + slaney mel matmul + log10/clamp inside jax.jit",
    ("W", "librosa"): "librosa.feature.melspectrogram(sr=16000, n_fft=400, hop_length=160, "
                      "pad_mode='reflect', n_mels=80) + numpy log10/clamp, last frame dropped",
    ("W", "torchaudio"): "MelSpectrogram(16000, n_fft=400, hop_length=160, n_mels=80, norm='slaney', "
                         "mel_scale='slaney') + torch log10/clamp, last frame dropped",
    ("W", "fftw"): "pyfftw rfft 400 of the pre-framed, pre-windowed frames only (FFT floor)",
    ("W", "rust_baseline"): "hand-written Rust (realfft), benches/peers/rust_baseline",
}

PY_PEERS = ["keras", "librosa", "torchaudio", "whisper", "fftw"]
ALL_PEERS = ["specc", "rust_baseline", "fftw", "keras", "torchaudio", "whisper", "librosa"]


def specc_batch(batch=BATCH, seconds=SECONDS, rate=SR):
    """The batch `specc bench` generates (src/bench.rs `generate`), bit for bit up to libm's sin:
    a 64-bit LCG (state 0x5eedcafe, Knuth's MMIX constants) for the noise, two tones per clip."""
    n = int(round(seconds * rate))
    total = batch * n
    a, c = np.uint64(6364136223846793005), np.uint64(1442695040888963407)
    # state_k = A_k * s0 + C_k; doubling: A_{m+j} = A_j A_m, C_{m+j} = A_j C_m + C_j (mod 2^64)
    A, C = np.array([a], np.uint64), np.array([c], np.uint64)
    with np.errstate(over="ignore"):
        while len(A) < total:
            A, C = np.concatenate([A, A * A[-1]]), np.concatenate([C, A * C[-1] + C])
        states = A[:total] * np.uint64(0x5EEDCAFE) + C[:total]
    noise = ((states >> np.uint64(40)).astype(np.float64) / float(1 << 24)) * 2.0 - 1.0
    noise = noise.reshape(batch, n)
    t = np.arange(n, dtype=np.float64) / rate
    out = np.empty((batch, n), np.float32)
    for b in range(batch):
        f1, f2 = 220.0 * (1.0 + b * 0.25), 1234.5 + 97.0 * b
        v = 0.1 * noise[b] + 0.5 * np.sin(2.0 * np.pi * f1 * t) + 0.3 * np.sin(2.0 * np.pi * f2 * t)
        out[b] = v.astype(np.float32)
    return out


# ---------------------------------------------------------------------------------------------
# Workers: one peer, one workload, one thread setting, in this process.
# ---------------------------------------------------------------------------------------------


def keras_mel_matrix(n_mels=128, n_bins=1025, sr=SR, fmin=20.0, fmax=8000.0):
    """Keras linear_to_mel_weight_matrix (HTK mel, triangles in mel, linspace bins, DC zeroed),
    (n_bins, n_mels), computed in float32 as Keras computes it (JAX's float32 linspace; the log
    correctly rounded to float32). Used only to finish the FFTW floor's output for its check.
    A float64 table is NOT good enough: a tiny edge weight next to a pure tone moves by ~0.3 %
    between float32 and float64, ~5e-3 dB in that band."""
    f32 = np.float32

    def linspace(a, b, n):  # jnp.linspace: a * (1 - i/div) + b * (i/div), the last point b
        a, b = f32(a), f32(b)
        t = np.arange(n - 1, dtype=f32) / f32(n - 1)
        return np.concatenate([a * (f32(1) - t) + b * t, [b]]).astype(f32)

    def hz_to_mel(f):
        q = (f32(1.0) + np.asarray(f, f32) / f32(700.0)).astype(np.float64)
        return (f32(1127.0) * np.log(q).astype(f32)).astype(f32)

    edges = linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2)
    bins = hz_to_mel(linspace(0.0, f32(sr) / f32(2.0), n_bins))[:, None]
    lower = (bins - edges[None, :-2]) / (edges[1:-1] - edges[:-2])
    upper = (edges[None, 2:] - bins) / (edges[2:] - edges[1:-1])
    w = np.maximum(f32(0.0), np.minimum(lower, upper)).astype(f32)
    w[0] = 0.0
    return w


def frames_of(x, n_fft, hop):
    """Reflect-padded (center=True), periodic-hann-windowed frames (batch, frames, n_fft) f32."""
    import scipy.signal
    padded = np.pad(x, ((0, 0), (n_fft // 2, n_fft // 2)), mode="reflect")
    fr = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=-1)[:, ::hop]
    win = scipy.signal.get_window("hann", n_fft).astype(np.float32)
    return np.ascontiguousarray(fr * win, dtype=np.float32)


def whisper_tail(mel, xp):
    """log10(max(x, 1e-10)), max(x, max - 8) over the whole batch, (x + 4) / 4 — in module xp."""
    if getattr(xp, "__name__", "") == "torch":
        log = mel.clamp(min=1e-10).log10()                     # whisper's own expression
    else:
        log = xp.log10(xp.maximum(mel, 1e-10))
    log = xp.maximum(log, log.max() - 8.0)
    return (log + 4.0) / 4.0


def build_peer(peer, workload, x, threads):
    """Returns (fn, to_numpy): fn() computes the workload on x (already in the peer's own input
    type, converted before timing); to_numpy(result) gives the (batch, mel, frames) array."""
    if peer in ("keras",):
        os.environ["KERAS_BACKEND"] = "jax"
        import jax
        import jax.numpy as jnp
        import keras
        assert keras.backend.backend() == "jax"
        xj = jax.device_put(jnp.asarray(x))
        if workload == "K":
            layer = keras.layers.MelSpectrogram()
            f = jax.jit(lambda a: layer(a))
        else:
            import librosa
            filt = jnp.asarray(librosa.filters.mel(sr=SR, n_fft=400, n_mels=80))  # whisper's filters

            def w(a):
                re, im = keras.ops.stft(a, sequence_length=400, sequence_stride=160, fft_length=400,
                                        window="hann", center=True)
                p = (re * re + im * im)[:, :-1, :]                  # (B, frames - 1, 201)
                mel = keras.ops.einsum("btk,mk->bmt", p, filt)
                return whisper_tail(mel, keras.ops)
            f = jax.jit(w)
        return (lambda: f(xj).block_until_ready()), np.asarray

    if peer in ("torchaudio", "whisper"):
        import torch
        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(threads)
        except RuntimeError:
            pass
        import torchaudio
        xt = torch.from_numpy(x)
        if peer == "whisper":
            import whisper.audio as wa

            def fn():
                with torch.inference_mode():
                    return wa.log_mel_spectrogram(xt, n_mels=80)
        elif workload == "K":
            mel = torchaudio.transforms.MelSpectrogram(
                sample_rate=SR, n_fft=2048, hop_length=512, f_min=20.0, f_max=8000.0, n_mels=128,
                mel_scale="htk", norm=None, power=2.0, center=True, pad_mode="reflect")
            db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=80.0)

            def fn():
                with torch.inference_mode():
                    return db(mel(xt))
        else:
            mel = torchaudio.transforms.MelSpectrogram(
                sample_rate=SR, n_fft=400, hop_length=160, f_min=0.0, f_max=8000.0, n_mels=80,
                mel_scale="slaney", norm="slaney", power=2.0, center=True, pad_mode="reflect")

            def fn():
                with torch.inference_mode():
                    return whisper_tail(mel(xt)[..., :-1], torch)
        return fn, (lambda r: r.detach().cpu().numpy())

    if peer == "librosa":
        import librosa
        if workload == "K":
            def fn():
                S = librosa.feature.melspectrogram(
                    y=x, sr=SR, n_fft=2048, hop_length=512, window="hann", center=True,
                    pad_mode="reflect", power=2.0, n_mels=128, fmin=20.0, fmax=8000.0, htk=True,
                    norm=None)
                return librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=80.0)
        else:
            def fn():
                S = librosa.feature.melspectrogram(
                    y=x, sr=SR, n_fft=400, hop_length=160, window="hann", center=True,
                    pad_mode="reflect", power=2.0, n_mels=80, fmin=0.0, fmax=8000.0, htk=False,
                    norm="slaney")
                return whisper_tail(S[..., :-1], np)
        return fn, np.asarray

    if peer == "fftw":
        import pyfftw
        n_fft, hop = (2048, 512) if workload == "K" else (400, 160)
        fr = frames_of(x, n_fft, hop)
        if workload == "W":
            fr = fr[:, :-1]                                        # whisper drops the last frame
        a = pyfftw.empty_aligned(fr.shape, dtype="float32")
        b = pyfftw.empty_aligned(fr.shape[:-1] + (n_fft // 2 + 1,), dtype="complex64")
        plan = pyfftw.FFTW(a, b, axes=(-1,), direction="FFTW_FORWARD",
                           flags=("FFTW_MEASURE",), threads=threads)
        a[...] = fr                                                # MEASURE clobbers the input

        def fn():
            plan.execute()
            return b

        def finish(spec):
            """Untimed: the rest of the pipeline in numpy, only to check the FFT's numbers."""
            p = (spec.real * spec.real + spec.imag * spec.imag).astype(np.float32)
            if workload == "K":
                mel = np.einsum("btk,km->bmt", p, keras_mel_matrix())
                db = 10.0 * np.log10(np.maximum(mel, 1e-10))
                return np.maximum(db, db.max() - 80.0)
            import librosa
            filt = librosa.filters.mel(sr=SR, n_fft=400, n_mels=80)
            return whisper_tail(np.einsum("btk,mk->bmt", p, filt), np)
        return fn, finish

    raise SystemExit(f"unknown peer {peer}")


def compare(y, ref, tol, floor_tol=None):
    """Shape, dtype and the abs difference against a reference output."""
    out = {"shape": list(y.shape), "ref_shape": list(ref.shape), "dtype": str(y.dtype)}
    if y.shape != ref.shape:
        out.update(ok=False, error="shape differs")
        return out
    d = np.abs(y.astype(np.float64) - ref.astype(np.float64))
    fin = np.isfinite(d)
    out.update(max_abs=float(d[fin].max()) if fin.any() else float("nan"),
               mean_abs=float(d[fin].mean()) if fin.any() else float("nan"),
               p99_abs=float(np.quantile(d[fin], 0.99)) if fin.any() else float("nan"),
               nonfinite=int((~fin).sum()), tol=tol)
    if tol is not None and floor_tol is not None and fin.all():
        near = ref.astype(np.float64) < float(np.nanmin(ref)) + 0.25
        allowed = np.where(near, floor_tol, tol)
        out["ok"] = bool((d <= allowed).all())
        out["tol_near_floor"] = floor_tol
    else:
        out["ok"] = bool(fin.all() and out["max_abs"] <= tol) if tol is not None else None
    return out


def check_output(workload, peer, y, refs_dir):
    exact, related = CHECKS[workload][peer]
    checks = []
    for name, tol in [(exact, TOL[workload])] + [(r, None) for r in related]:
        path = os.path.join(refs_dir, f"{workload}_ref_{name}.npy")
        c = compare(y, np.load(path), tol, NEAR_FLOOR_TOL.get(workload) if tol is not None else None)
        c.update(ref=f"specc {REFS[workload][name][0]} {' '.join(REFS[workload][name][1])}".strip(),
                 kind="equal" if tol is not None else "related")
        checks.append(c)
    return checks


def worker(args):
    x = np.load(args.input)
    fn, to_numpy = build_peer(args.worker, args.workload, x, args.threads)
    t0 = time.perf_counter()
    r = fn()                                                   # warm-up (JIT compile, plans, caches)
    warm_ms = (time.perf_counter() - t0) * 1e3
    y = to_numpy(r)
    if args.out:
        np.save(args.out, y)
    checks = check_output(args.workload, args.worker, y, args.refs) if args.refs else []
    times = []
    for _ in range(max(args.runs, 1)):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps({"peer": args.worker, "workload": args.workload, "threads": args.threads,
                      "runs": len(times), "median_ms": statistics.median(times), "min_ms": min(times),
                      "times_ms": times, "first_call_ms": warm_ms, "output_shape": list(y.shape),
                      "checks": checks}))


# ---------------------------------------------------------------------------------------------
# Orchestration
# ---------------------------------------------------------------------------------------------


def thread_env(threads):
    env = dict(os.environ)
    env.update(KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", CUDA_VISIBLE_DEVICES="",
               TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0")
    env.pop("JAX_ENABLE_X64", None)
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
              "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "RAYON_NUM_THREADS"):
        env[k] = str(threads)
    if threads == 1:
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    else:
        env.pop("XLA_FLAGS", None)
    # Keras reads ~/.keras/keras.json: isolate it (backend, floatx) in the work dir.
    env["KERAS_HOME"] = os.path.join(WORK, "keras_home")
    return env


def pin(cmd, threads):
    return (["taskset", "-c", "0"] + cmd) if threads == 1 else cmd


def run_json(cmd, env, timeout):
    """Runs a command, returns the JSON object on its last stdout line."""
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stderr[-3000:]}")
    lines = [ln for ln in p.stdout.splitlines() if ln.strip().startswith("{")]
    if not lines:
        raise RuntimeError(f"{' '.join(cmd)} printed no JSON:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    r = json.loads(lines[-1])
    notes = [ln.strip() for ln in p.stderr.splitlines() if ln.strip().startswith("note:")]
    if notes:  # e.g. specc: "note: running on the interpreter: ..." when the JIT falls back
        r["notes"] = notes
    return r


def specc_cmd(args, *rest):
    cmd = [args.specc, *rest]
    if args.engine:
        cmd += ["--engine", args.engine]
    return cmd


def make_refs(args, workload, xpath, env):
    """specc run for every reference of the workload (with the engine being benchmarked)."""
    info = {}
    for name, (spec, sets) in REFS[workload].items():
        out = os.path.join(WORK, f"{workload}_ref_{name}.npy")
        cmd = specc_cmd(args, "run", spec, xpath, "-o", out)
        for s in sets:
            cmd += ["--set", s]
        t0 = time.perf_counter()
        p = subprocess.run(pin(cmd, 1), env=env, capture_output=True, text=True, timeout=args.timeout)
        if p.returncode != 0:
            raise SystemExit(f"reference failed: {' '.join(cmd)}\n{p.stderr}")
        info[name] = {"cmd": " ".join(os.path.relpath(c, REPO) if c.startswith(REPO) else c for c in cmd),
                      "wall_s": round(time.perf_counter() - t0, 2)}
        print(f"  ref {workload}/{name}: {info[name]['cmd']} ({info[name]['wall_s']} s)", flush=True)
    if args.engine != "interp":
        # The engine under test (named, or specc's default) against the reference interpreter.
        spec, sets = REFS[workload][BENCH_SPEC[workload]]
        out = os.path.join(WORK, f"{workload}_ref_interp.npy")
        cmd = [args.specc, "run", spec, xpath, "-o", out, "--engine", "interp"]
        subprocess.run(pin(cmd, 1), env=env, check=True, capture_output=True, timeout=args.timeout)
        c = compare(np.load(os.path.join(WORK, f"{workload}_ref_{BENCH_SPEC[workload]}.npy")),
                    np.load(out), TOL[workload])
        info["engine_vs_interp"] = c
        print(f"  specc --engine {args.engine or '(default)'} vs --engine interp: max abs {c.get('max_abs')}"
              + ("" if c.get("ok") else "  <-- differs beyond the tolerance"), flush=True)
    return info


def run_peer(args, peer, workload, threads, xpath):
    env = thread_env(threads)
    out = os.path.join(WORK, f"{workload}_{peer}_out.npy")
    if peer == "specc":
        cmd = specc_cmd(args, "bench", BENCH_SPEC[workload], "--input", xpath, "--json",
                        "--runs", str(args.runs), "--threads", str(threads))
        r = run_json(pin(cmd, threads), env, args.timeout)
        r.update(peer="specc", workload=workload, checks=[{
            "kind": "reference", "ref": "specc run (the reference itself)", "ok": True}])
        return r
    if peer == "rust_baseline":
        # Its output first (one run, written with --out), checked; then the timed process.
        cmd = [RUST_BASELINE, workload, xpath, "--runs", "1", "--threads", str(threads), "--out", out]
        run_json(pin(cmd, threads), env, args.timeout)
        checks = check_output(workload, peer, np.load(out), WORK)
        cmd = [RUST_BASELINE, workload, xpath, "--runs", str(args.runs), "--threads", str(threads)]
        r = run_json(pin(cmd, threads), env, args.timeout)
        r["checks"] = checks
        return r
    cmd = [VENV_PY, os.path.abspath(__file__), "--worker", peer, "--workload", workload,
           "--input", xpath, "--threads", str(threads), "--runs", str(args.runs), "--refs", WORK,
           "--out", out]
    return run_json(pin(cmd, threads), env, args.timeout)


def versions(args):
    from importlib.metadata import version, PackageNotFoundError
    v = {"python": platform.python_version()}
    for pkg in ("numpy", "scipy", "librosa", "torch", "torchaudio", "keras", "jax", "jaxlib",
                "pyfftw", "openai-whisper"):
        try:
            v[pkg] = version(pkg)
        except PackageNotFoundError:
            v[pkg] = None
    try:
        v["rustc"] = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        v["rustc"] = None
    st = os.stat(args.specc)
    v["specc_binary"] = {"path": os.path.relpath(args.specc, REPO),
                         "mtime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(st.st_mtime))}
    try:
        v["specc_git"] = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                                        capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    return v


def machine():
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "os": platform.platform()}


def fmt_ms(v):
    return "—" if v is None else (f"{v:.1f}" if v >= 10 else f"{v:.2f}")


def check_text(r):
    parts = []
    for c in r.get("checks", []):
        if c["kind"] == "reference":
            parts.append("reference")
        elif "error" in c:
            parts.append(f"{c['kind']} {c['ref']}: {c['error']}")
        elif c["kind"] == "equal":
            parts.append(("OK" if c["ok"] else "MISMATCH") + f" max|Δ| {c['max_abs']:.1e}")
        else:
            parts.append(f"vs keras_mel: max|Δ| {c['max_abs']:.2f} dB, mean {c['mean_abs']:.3f} dB")
    return "; ".join(parts)


def table_rows(results):
    rows = []
    for r in results:
        label = f"specc ({r['engine'].lower()})" if r["peer"] == "specc" and r.get("engine") else r["peer"]
        rows.append([r["workload"], label, str(r["threads"]),
                     fmt_ms(r.get("median_ms")), fmt_ms(r.get("min_ms")),
                     "—" if r.get("ratio") is None else f"{r['ratio']:.3f}",
                     r.get("error", "") or check_text(r)])
    return rows


HEAD = ["workload", "peer", "threads", "median ms", "min ms", "peer/specc", "check vs specc"]


def print_table(results):
    rows = table_rows(results)
    w = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEAD)]
    line = lambda cells: "  ".join(c.ljust(w[i]) if i in (0, 1, 6) else c.rjust(w[i])  # noqa: E731
                                   for i, c in enumerate(cells))
    print(line(HEAD))
    print("  ".join("-" * n for n in w))
    for r in rows:
        print(line(r))


def write_md(path, results, meta):
    rows = table_rows(results)
    with open(path, "w") as f:
        f.write("# Peer comparison results\n\n")
        f.write(f"Generated by `benches/peers/peers.py` on {meta['date']} "
                f"({meta['machine']['cpu']}, {meta['machine']['cores']} cores). "
                f"Input: {meta['input']['shape']} float32, {meta['input']['what']}. "
                f"specc engine: {meta['specc_engine']}; runs per peer: {meta['runs']} warm "
                f"(after one warm-up) in each of {meta.get('rounds', 1)} interleaved rounds; times in ms, "
                f"medians over rounds of each round's median; `peer/specc` = median over rounds of "
                f"peer time / specc time in the same round (< 1: the peer is faster). "
                f"threads 1 = pinned to one core (`taskset -c 0`).")
        load = meta.get("loadavg_1_5_15")
        if load:
            f.write(f" Load average (1 min) at start / end: {load['start'][0]} / {load['end'][0]} "
                    f"(other jobs on the machine skew the times).")
        f.write("\n\n")
        f.write("| " + " | ".join(HEAD) + " |\n")
        f.write("|" + "|".join("---" if i in (0, 1, 6) else "---:" for i in range(len(HEAD))) + "|\n")
        for r in rows:
            f.write("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |\n")
        f.write("\nWhat each row computes:\n\n")
        seen = set()
        for r in results:
            key = (r["workload"], r["peer"])
            if key not in seen:
                seen.add(key)
                f.write(f"- {r['workload']} / {r['peer']}: {DESCRIBE.get(key, '')}\n")
        f.write("\nVersions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()
                                         if isinstance(v, str)) + ".\n")
        f.write(f"specc binary: {meta['versions']['specc_binary']['path']} built "
                f"{meta['versions']['specc_binary']['mtime']}.\n")


def merge_rounds(rs):
    """One result from a peer's rounds: medians over rounds, the smallest minimum, the per-round
    figures kept; an error in any round is the result."""
    bad = next((r for r in rs if "median_ms" not in r), None)
    if bad is not None:
        return bad
    r = dict(rs[-1])
    r["median_ms"] = statistics.median(x["median_ms"] for x in rs)
    r["min_ms"] = min(x["min_ms"] for x in rs)
    ratios = [x["ratio"] for x in rs if x.get("ratio") is not None]
    r["ratio"] = statistics.median(ratios) if ratios else None
    r["round_medians_ms"] = [x["median_ms"] for x in rs]
    failed = [c for x in rs for c in x.get("checks", []) if c.get("ok") is False]
    r["checks"] = failed or rs[0].get("checks", [])
    return r


def orchestrate(args):
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(os.path.join(WORK, "keras_home"), exist_ok=True)
    if not os.path.exists(args.specc):
        raise SystemExit(f"{args.specc} not found: cargo build --release (or run.sh)")
    peers = args.peers.split(",") if args.peers else ALL_PEERS
    workloads = args.workloads.split(",")
    ncores = len(os.sched_getaffinity(0))
    threads_list = [ncores if t == "all" else int(t) for t in args.threads.split(",")]
    if "rust_baseline" in peers and not os.path.exists(RUST_BASELINE):
        raise SystemExit(f"{RUST_BASELINE} not found: cargo build --release in benches/peers/rust_baseline")

    load_start = os.getloadavg()
    print(f"workload input: specc bench's batch, ({args.batch}, {int(round(args.seconds * SR))}) float32",
          flush=True)
    x = specc_batch(args.batch, args.seconds)
    xpath = os.path.join(WORK, f"x_{x.shape[0]}x{x.shape[1]}.npy")
    np.save(xpath, x)
    env1 = thread_env(1)
    refs = {}
    for wl in workloads:
        refs[wl] = make_refs(args, wl, xpath, env1)

    # Rounds: every peer once per round, so that slow phases of the (shared, virtual) machine
    # fall on all peers alike; a peer's figures are the medians over rounds of its per-round
    # median, and its ratio the median over rounds of peer/specc measured in the same round.
    rounds = {}
    for rnd in range(max(args.rounds, 1)):
        for threads in threads_list:
            for wl in workloads:
                specc_ms = None
                for peer in peers:
                    if peer not in ("specc", "rust_baseline") and peer not in CHECKS[wl]:
                        continue
                    t0 = time.perf_counter()
                    try:
                        r = run_peer(args, peer, wl, threads, xpath)
                    except Exception as e:  # a peer that fails is reported, the others still run
                        r = {"peer": peer, "workload": wl, "threads": threads, "error": str(e).strip()[:800]}
                    r["workload"], r["threads"], r["describe"] = wl, threads, DESCRIBE.get((wl, peer), "")
                    r["wall_s"] = round(time.perf_counter() - t0, 1)
                    if peer == "specc" and "median_ms" in r:
                        specc_ms = r["median_ms"]
                    r["ratio"] = (r["median_ms"] / specc_ms) if specc_ms and "median_ms" in r else None
                    rounds.setdefault((threads, wl, peer), []).append(r)
                    bad = [c for c in r.get("checks", []) if c.get("ok") is False]
                    print(f"  round {rnd + 1} {wl} {peer:14s} threads {threads}: "
                          + (f"median {fmt_ms(r['median_ms'])} ms, min {fmt_ms(r['min_ms'])} ms"
                             if "median_ms" in r else "ERROR " + r["error"].splitlines()[0])
                          + (f"  ({check_text(r)})" if r.get("checks") else "")
                          + ("  <-- CHECK FAILED" if bad else "")
                          + "".join(f"\n      {n}" for n in r.get("notes", [])), flush=True)
    results = [merge_rounds(rs) for rs in rounds.values()]

    engine = next((r.get("engine") for r in results if r["peer"] == "specc" and "engine" in r),
                  args.engine or "default")
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(),
            "versions": versions(args), "runs": args.runs, "rounds": args.rounds, "specc_engine": engine,
            "input": {"shape": list(x.shape), "dtype": "float32",
                      "what": "specc bench's seeded noise + two tones per clip (src/bench.rs)"},
            "thread_env": {"1": "taskset -c 0; OMP/MKL/OPENBLAS/NUMBA/RAYON_NUM_THREADS=1; XLA_FLAGS="
                                "'--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1'; "
                                "torch.set_num_threads(1); pyfftw threads=1",
                           "N": "no pinning; the variables above = N; torch.set_num_threads(N); pyfftw "
                                "threads=N; specc --threads N; rust_baseline --threads N"},
            "loadavg_1_5_15": {"start": [round(v, 2) for v in load_start],
                               "end": [round(v, 2) for v in os.getloadavg()]},
            "references": refs, "tolerance": {"K": "2e-3 dB abs", "W": "5e-5 abs (= 2e-3 dB); 1e-4 within 10 dB of the clip floor"}}
    print()
    print_table(results)
    if not args.no_save:
        with open(os.path.join(HERE, "results.json"), "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=1)
        write_md(os.path.join(HERE, "results.md"), results, meta)
        print(f"\nwrote {os.path.relpath(os.path.join(HERE, 'results.json'), REPO)} and results.md")
    failed = [r for r in results if "error" in r or any(c.get("ok") is False for c in r.get("checks", []))]
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workloads", default="K,W", help="K, W or K,W")
    ap.add_argument("--threads", default="1,all", help="comma list of thread counts; 'all' = every core")
    ap.add_argument("--runs", type=int, default=10, help="timed warm runs per peer (median and min)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="times every peer is run, interleaved (figures: medians over rounds)")
    ap.add_argument("--peers", default=None, help=f"comma list (default: {','.join(ALL_PEERS)})")
    ap.add_argument("--engine", default=None, help="passed to specc run/bench as --engine (jit|interp)")
    ap.add_argument("--specc", default=os.environ.get("SPECC_PEERS_BIN") or os.path.join(REPO, "target", "release", "specc"))
    ap.add_argument("--batch", type=int, default=BATCH)
    ap.add_argument("--seconds", type=float, default=SECONDS)
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per peer process")
    ap.add_argument("--no-save", action="store_true", help="do not write results.json / results.md")
    # internal: one peer in this process
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--workload", help=argparse.SUPPRESS)
    ap.add_argument("--input", help=argparse.SUPPRESS)
    ap.add_argument("--refs", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        args.threads = int(args.threads)
        worker(args)
        return 0
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
