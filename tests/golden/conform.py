"""Random conformance sweep: specc against the real libraries on random parameters and lengths.

The fixed goldens (gen.py) pin chosen cases; this draws many more: for each case a preset, a set
of its common parameters (each drawn from the values users pass), and a signal length (often
short: shorter than a frame, than the centre pad, than the filter's support), then runs the
library (as gen.py's runners call it) and `specc run` on the same samples and checks that
- both succeed or both fail (a library error where specc returns an array is a finding, and the
  reverse);
- shapes agree, NaN and inf land on the same elements, and values agree within the golden
  tolerance of the preset's kind (tests/golden.rs `compare`, widened only where the library's
  own float32 rounding exceeds it: see `violation`; the worst ratio error/tolerance is printed,
  <= 1 passes).

Usage (inside the golden venv, which has the libraries):
    tests/golden/.venv/bin/python tests/golden/conform.py --bin target/release/specc \
        --cases 300 --seed 1 [--spec kaldi_fbank] [--specials 0.3]

`--specials P` makes a fraction P of the inputs special: a NaN, +inf or -inf at a random sample,
a float64 copy, or silence (all zeros), so NaN propagation, library errors on non-finite input,
dtype handling and log floors are compared too (default 0: the draws of earlier seeds stay as
they were).

Findings are printed and written to tests/golden/conform-findings.json (not committed); a fixed
finding becomes a golden case in gen.py.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gen  # noqa: E402  (sets the libraries' environment: Keras on JAX, CPU, one torch thread)
import numpy as np  # noqa: E402


def draw(spec, r):
    """(params, input array, compare kind) for one random case of `spec`."""
    n = int(r.choice([r.integers(1, 600), r.integers(600, 4000), r.integers(4000, 24000)]))
    coin = lambda: bool(r.integers(0, 2))  # noqa: E731
    if spec == "keras_mel":
        fft = int(r.choice([256, 400, 512, 1024, 2048]))
        sr = int(r.choice([8000, 16000, 22050]))
        db = coin()
        p = dict(fft_length=fft, sequence_stride=int(r.integers(32, fft + 1)),
                 num_mel_bins=int(r.choice([16, 40, 64, 80, 128])), sampling_rate=sr, power_to_db=db)
        if coin():
            p["min_freq"] = float(r.choice([0.0, 20.0, 125.0]))
            p["max_freq"] = float(r.choice([sr / 2, sr / 2 - 500.0, 3800.0]))
        if coin():
            p["window"] = str(r.choice(["hann", "hamming"]))
        if coin():
            p["mag_exp"] = float(r.choice([1.0, 2.0]))
        if db and coin():
            p["top_db"] = float(r.choice([60.0, 80.0]))
        return p, gen._batch(n), "db" if db else "linear"
    if spec == "keras_stft":
        frame = int(r.choice([64, 200, 256, 400]))
        mode = str(r.choice(["log", "magnitude", "psd", "real", "imag", "stft"]))
        p = dict(mode=mode, frame_length=frame, frame_step=int(r.integers(16, frame + 1)),
                 fft_length=int(frame + r.choice([0, 0, 56, 112])), window=str(r.choice(["hann", "hamming"])),
                 periodic=coin(), scaling=str(r.choice(["density", "spectrum"])),
                 padding=str(r.choice(["valid", "same"])))
        return p, gen._batch(n)[:, :, None].copy(), "log" if mode == "log" else "linear"
    if spec == "librosa_mel":
        nfft = int(r.choice([256, 400, 512, 1024, 2048]))
        sr = int(r.choice([16000, 22050]))
        p = dict(sr=sr, n_fft=nfft, hop_length=int(r.integers(64, nfft + 1)),
                 n_mels=int(r.choice([20, 40, 64, 128])), center=coin(),
                 pad_mode=str(r.choice(["constant", "reflect", "edge"])), htk=coin())
        if coin():
            p["top_db"] = None
        if coin():
            p["fmin"], p["fmax"] = float(r.choice([0.0, 50.0, 300.0])), float(r.choice([4000.0, sr / 2]))
        if coin():
            p["norm"] = None
        if coin():
            p["power"] = 1.0
        if coin():
            p["win_length"] = int(r.integers(nfft // 2, nfft + 1))
            p["window"] = str(r.choice(["hann", "hamming", "blackman"]))
        return p, gen._clip(n, int(r.integers(1, 99))), "db"
    if spec == "librosa_stft":
        nfft = int(r.choice([256, 400, 512, 1024]))
        p = dict(n_fft=nfft, hop_length=int(r.integers(64, nfft + 1)), center=coin(),
                 pad_mode=str(r.choice(["constant", "reflect"])), power=float(r.choice([1.0, 2.0])))
        if coin():
            p["top_db"] = None
        if coin():
            p["win_length"] = int(r.integers(nfft // 2, nfft + 1))
        return p, gen._clip(n, int(r.integers(1, 99))), "db"
    if spec == "torchaudio_mel":
        nfft = int(r.choice([256, 400, 512, 1024]))
        p = dict(n_fft=nfft, hop_length=int(r.integers(64, nfft + 1)), n_mels=int(r.choice([23, 40, 64, 128])),
                 center=coin(), pad_mode=str(r.choice(["reflect", "constant", "replicate"])),
                 power=float(r.choice([1.0, 2.0])), mel_scale=str(r.choice(["htk", "slaney"])))
        if coin():
            p["win_length"] = int(r.integers(nfft // 2, nfft + 1))
        if coin():
            p["f_min"], p["f_max"] = float(r.choice([0.0, 20.0, 300.0])), float(r.choice([4000.0, 8000.0]))
        if coin():
            p["norm"] = "slaney"
        if coin():
            p["normalized"] = True
        if coin():
            p["window_fn"] = str(r.choice(["hann_window", "hamming_window", "blackman_window"]))
        if coin():
            p["amplitude_to_db"] = False
            return p, gen._batch(n), "linear"
        return p, gen._batch(n), "db"
    if spec == "whisper":
        p = dict(n_mels=int(r.choice([80, 128])))
        if coin():
            p["padding"] = int(r.integers(0, 2000))
        return p, gen._clip(n, int(r.integers(1, 99))), "whisper"
    if spec == "kaldi_fbank":
        log = coin()
        p = dict(num_mel_bins=int(r.choice([23, 40, 80])), snip_edges=coin(),
                 frame_length=float(r.choice([20.0, 25.0, 32.0])), frame_shift=float(r.choice([10.0, 12.5, 20.0])),
                 use_energy=coin(), window_type=str(r.choice(["povey", "hamming", "hanning", "rectangular", "blackman"])),
                 use_log_fbank=log, dither=0.0)
        if coin():
            p["low_freq"], p["high_freq"] = float(r.choice([20.0, 60.0])), float(r.choice([0.0, -400.0, 7000.0]))
        if coin():
            p["preemphasis_coefficient"] = float(r.choice([0.0, 0.97]))
            p["remove_dc_offset"] = coin()
        if coin():
            p["raw_energy"] = coin()
            p["htk_compat"] = coin()
        if coin():
            p["use_power"] = False
        if coin():
            p["round_to_power_of_two"] = False
        x = (gen._clip(n, int(r.integers(1, 99))) * 32768.0)[None, :]
        return p, x.astype(np.float32), "log" if log else "linear"
    if spec == "torchaudio_mfcc":
        p = dict(n_mfcc=int(r.choice([13, 20, 40])), log_mels=coin(),
                 n_fft=int(r.choice([400, 512])), n_mels=int(r.choice([40, 64, 128])))
        if coin():
            p["deltas"] = int(r.integers(1, 3))
        return p, gen._batch(n), "cepstral"
    if spec == "librosa_mfcc":
        p = dict(sr=16000, n_mfcc=int(r.choice([13, 20])), n_fft=int(r.choice([512, 1024, 2048])),
                 hop_length=int(r.choice([160, 256, 512])), n_mels=int(r.choice([40, 64, 128])))
        if coin():
            p["deltas"] = int(r.integers(1, 3))
        if coin():
            p["lifter"] = float(r.choice([0.0, 22.0]))
        return p, gen._clip(n, int(r.integers(1, 99))), "cepstral"
    if spec == "kaldi_mfcc":
        p = dict(num_ceps=int(r.choice([13, 20])), num_mel_bins=int(r.choice([23, 40])),
                 snip_edges=coin(), use_energy=coin(), dither=0.0)
        if coin():
            p["cepstral_lifter"] = float(r.choice([0.0, 22.0]))
        x = (gen._clip(n, int(r.integers(1, 99))) * 32768.0)[None, :]
        return p, x.astype(np.float32), "cepstral"
    raise KeyError(spec)


def special(x, r):
    """x with one of: a NaN, +inf or -inf at a random sample; float64 samples; all zeros."""
    what = str(r.choice(["nan", "inf", "-inf", "float64", "zeros"]))
    x = x.copy()
    if what == "float64":
        return x.astype(np.float64), what
    if what == "zeros":
        return np.zeros_like(x), what
    x.reshape(-1)[int(r.integers(0, x.size))] = float(what)
    return x, what


def violation(kind, got, want, x, params):
    """The worst error over its tolerance (<= 1 passes): tests/golden.rs `compare`, widened
    only where float32 rounding of the library itself exceeds it on inputs the fixed goldens do
    not have: dB values far below the maximum (without a top_db clip: 0.05 dB from 60 dB below,
    anything from 100 dB below, as `tests/differential.rs`), linear outputs of nearly silent
    frames (an FFT's rounding scales with its input, not its output: 2e-6·max|x| more), and
    lifted cepstra (the lifter multiplies a coefficient's rounding by up to 1 + L/2)."""
    got = got.astype(np.float64).ravel()
    want = want.astype(np.float64).ravel()
    bad = ~np.isfinite(got) | ~np.isfinite(want)
    same = (np.isnan(got) & np.isnan(want)) | (got == want)
    if np.any(bad & ~same):
        return np.inf
    g, w = got[~bad], want[~bad]
    if g.size == 0:
        return 0.0
    if kind == "log":
        g, w = np.exp(g), np.exp(w)
    if kind == "db":
        below = np.max(w) - w
        tol = np.where(below <= 60, 2e-3, np.where(below <= 100, 0.05, np.inf))
        return float(np.max(np.abs(g - w) / tol))
    if kind in ("linear", "log"):
        top = np.max(np.abs(w))
        floor = 2e-6 * float(np.max(np.abs(x), initial=0.0))
        return float(np.max(np.abs(g - w) / (1e-4 * np.abs(w) + 1e-5 * top + floor + 1e-30)))
    if kind == "whisper":
        tol = np.where(w < np.min(w) + 0.25, 1e-4, 5e-5)
        return float(np.max(np.abs(g - w) / tol))
    if kind == "cepstral":
        lift = float(params.get("lifter", params.get("cepstral_lifter", 0.0)) or 0.0)
        return float(np.max(np.abs(g - w)) / ((5e-3 + 1e-6 * np.max(np.abs(w))) * (1 + lift / 2)))
    raise KeyError(kind)


def run_specc(binary, spec, params, x, tmp):
    src, dst = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
    np.save(src, x)
    if os.path.exists(dst):
        os.remove(dst)
    args = [binary, "run", spec, src, "-o", dst]
    for k, v in params.items():
        args += ["--set", f"{k}={gen.lit(v)}"]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip().splitlines()[0] if r.stderr.strip() else f"exit {r.returncode}"
    return np.load(dst), None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--spec", action="append")
    ap.add_argument("--specials", type=float, default=0.0)
    a = ap.parse_args()
    specs = a.spec or ["keras_mel", "keras_stft", "librosa_mel", "librosa_stft", "torchaudio_mel",
                       "whisper", "kaldi_fbank", "torchaudio_mfcc", "librosa_mfcc", "kaldi_mfcc"]
    r = np.random.default_rng(a.seed)
    findings, worst, agreed_errors = [], {}, 0
    with tempfile.TemporaryDirectory(prefix="specc-conform-") as tmp:
        for i in range(a.cases):
            spec = specs[i % len(specs)]
            params, x, kind = draw(spec, r)
            what = None
            if a.specials > 0 and r.random() < a.specials:
                x, what = special(x, r)
            gen.keras.utils.clear_session()
            try:
                want, lib_err = np.asarray(gen.RUNNERS[spec](x, params)), None
            except Exception as e:  # noqa: BLE001 - any library error is an outcome to match
                want, lib_err = None, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            got, err = run_specc(a.bin, spec, params, x, tmp)
            case = dict(spec=spec, params={k: gen.lit(v) for k, v in params.items()}, shape=list(x.shape))
            if what:
                case["input"] = what
            if lib_err and err:
                agreed_errors += 1
                continue
            if lib_err or err:
                case.update(library=lib_err or f"array {list(want.shape)}", specc=err or f"array {list(got.shape)}")
                findings.append(case)
                print("FINDING", json.dumps(case))
                continue
            if got.shape != want.shape:
                case.update(library=f"shape {list(want.shape)}", specc=f"shape {list(got.shape)}")
                findings.append(case)
                print("FINDING", json.dumps(case))
                continue
            v = violation(kind, got, want, x, params)
            worst[spec] = max(worst.get(spec, 0.0), v)
            if v > 1:
                case.update(violation=v)
                findings.append(case)
                print("FINDING", json.dumps(case))
    print(f"{a.cases} cases, {agreed_errors} errors on both sides, {len(findings)} findings")
    print("worst error / tolerance by spec:", json.dumps({k: round(v, 3) for k, v in worst.items()}))
    with open(os.path.join(HERE, "conform-findings.json"), "w") as f:
        json.dump(findings, f, indent=1)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
