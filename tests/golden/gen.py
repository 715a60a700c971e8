#!/usr/bin/env python3
"""Golden-fixture generator for specc.

Runs the REAL reference libraries (Keras 3 on JAX, librosa, torchaudio, openai-whisper) on small,
seeded, deterministic signals and writes:

    tests/golden/fixtures/inputs/*.npy      input signals
    tests/golden/fixtures/expected/*.npy    library outputs (exact dtype and shape)
    tests/golden/fixtures/manifest.json     one entry per case (see README.md)

Usage (from anywhere):
    bash tests/golden/setup.sh              # once: creates tests/golden/.venv with pinned versions
    python3 tests/golden/gen.py             # re-execs itself inside tests/golden/.venv

Cases whose input is float64 for a Keras layer with dtype="float64" need JAX's 64-bit mode
(JAX_ENABLE_X64=1; without it JAX silently truncates to float32). Those cases run in a child
process of this script started with that variable; every other case runs with JAX's default
configuration, i.e. exactly what a Keras user gets out of the box.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VENV_PY = os.path.join(HERE, ".venv", "bin", "python")

# ---------------------------------------------------------------------------------------------
# Re-exec inside the venv, with a controlled environment, before importing any library.
# ---------------------------------------------------------------------------------------------
if os.path.exists(VENV_PY) and os.path.realpath(sys.prefix) != os.path.realpath(
    os.path.join(HERE, ".venv")
):
    os.execv(VENV_PY, [VENV_PY, os.path.abspath(__file__)] + sys.argv[1:])

X64_WORKER = len(sys.argv) >= 2 and sys.argv[1] == "--x64-worker"

os.environ["KERAS_BACKEND"] = "jax"
os.environ["JAX_PLATFORMS"] = "cpu"
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
if X64_WORKER:
    os.environ["JAX_ENABLE_X64"] = "1"
else:
    os.environ.pop("JAX_ENABLE_X64", None)
# Isolate Keras from any ~/.keras/keras.json (backend, epsilon, image_data_format, floatx).
import tempfile  # noqa: E402

_keras_home = tempfile.mkdtemp(prefix="specc-golden-keras-")
os.environ["KERAS_HOME"] = _keras_home

import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import warnings  # noqa: E402
from importlib.metadata import version as pkg_version  # noqa: E402

import numpy as np  # noqa: E402

import jax  # noqa: E402
import keras  # noqa: E402
import librosa  # noqa: E402
import scipy  # noqa: E402
import torch  # noqa: E402
import torchaudio  # noqa: E402
import whisper.audio as whisper_audio  # noqa: E402

torch.set_num_threads(1)

assert keras.backend.backend() == "jax", keras.backend.backend()
assert keras.config.floatx() == "float32"
assert keras.config.epsilon() == 1e-7
assert keras.config.image_data_format() == "channels_last"
assert bool(jax.config.jax_enable_x64) == X64_WORKER

FIX = os.path.join(HERE, "fixtures")
INPUTS = os.path.join(FIX, "inputs")
EXPECTED = os.path.join(FIX, "expected")
REPO = os.path.dirname(os.path.dirname(HERE))
SPEECH = os.path.join(REPO, "examples", "speech.npy")

# ---------------------------------------------------------------------------------------------
# Deterministic inputs
# ---------------------------------------------------------------------------------------------


def _clip(n, seed, sr=16000, tones=(440.0, 1234.5), amp=1.0):
    """Noise + two tones + a short chirp, with a stretch of exact digital silence."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64) / sr
    x = 0.05 * rng.standard_normal(n)
    x += 0.3 * np.sin(2 * np.pi * tones[0] * t)
    x += 0.2 * np.sin(2 * np.pi * tones[1] * t + 0.3)
    f0, f1 = 200.0, 3000.0
    dur = max(n / sr, 1e-9)
    x += 0.1 * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t * t / (2 * dur)))
    s0, s1 = int(n * 0.40), int(n * 0.55)
    x[s0:s1] = 0.0
    return (amp * x).astype(np.float32)


def _batch(n, seeds=(1, 2), **kw):
    tones = [(440.0, 1234.5), (310.0, 2750.25), (523.25, 997.0)]
    return np.stack([_clip(n, s, tones=tones[i % 3], **kw) for i, s in enumerate(seeds)])


def _kaldi_inputs():
    """(1, N) inputs at Kaldi's int16 scale: speech and seeded noise, and short signals around one
    frame (400 samples) and the snip_edges=False pad (120 samples)."""
    rng = np.random.default_rng(60)
    noise = (1000.0 * rng.standard_normal(4000)).astype(np.float32)
    return {
        "speech_1x16000_kaldi_f32": (np.load(SPEECH)[None, :16000] * 32768.0).astype(np.float32),
        "noise_1x4000_kaldi_f32": noise[None, :].copy(),
        "noise_1x401_kaldi_f32": noise[None, :401].copy(),
        "noise_1x480_kaldi_f32": noise[None, 1000:1480].copy(),
        "noise_1x300_kaldi_f32": noise[None, :300].copy(),
        "speech_1x16000_kaldi_f64": (np.load(SPEECH)[None, :16000] * 32768.0).astype(np.float32).astype(np.float64),
    }


def make_inputs():
    """name -> array. All float inputs are float32 except the *_f64 ones (which are the float32
    samples upcast, so float32 and float64 cases carry identical sample values)."""
    d = {}
    d["mix_2x16000_f32"] = _batch(16000)
    d["mix_2x16000_f64"] = d["mix_2x16000_f32"].astype(np.float64)
    d["mix_2x16000_i16"] = np.round(d["mix_2x16000_f32"] * 16384.0).astype(np.int16)
    d["mix_16000_f32"] = _clip(16000, 7)
    d["mix_2x8000_f32"] = _batch(8000, seeds=(3, 4))
    d["mix_2x7999_f32"] = _batch(7999, seeds=(5, 6))
    d.update(_kaldi_inputs())
    loud = _clip(8000, 11)
    quiet = _clip(8000, 12, tones=(310.0, 2750.25), amp=1e-3)  # -60 dB
    d["loudquiet_2x8000_f32"] = np.stack([loud, quiet])
    d["quiet_8000_f32"] = quiet.copy()
    loud2 = _batch(8000, seeds=(13, 14))
    quiet2 = _batch(8000, seeds=(15, 16), amp=1e-3)
    d["loudquiet_2x2x8000_f32"] = np.stack([loud2, quiet2])  # item 0 loud, item 1 quiet
    d["mix_2x3x4000_f32"] = np.stack([_batch(4000, seeds=(20, 21, 22)), _batch(4000, seeds=(23, 24, 25))])
    d["tiny_2x1_f32"] = _batch(1, seeds=(30, 31)) + np.float32(0.25)
    d["short_2x300_f32"] = _batch(300, seeds=(32, 33))
    d["empty_f32"] = np.zeros((0,), np.float32)
    d["empty_2x0_f32"] = np.zeros((2, 0), np.float32)
    # STFTSpectrogram inputs are rank 3: (B, T, C) channels_last or (B, C, T) channels_first.
    d["mix_2x4000x1_f32"] = _batch(4000, seeds=(40, 41))[:, :, None]
    d["mix_2x4000x1_f64"] = d["mix_2x4000x1_f32"].astype(np.float64)
    d["mix_2x4000x1_i16"] = np.round(d["mix_2x4000x1_f32"] * 16384.0).astype(np.int16)
    d["mix_2x4000x2_f32"] = np.stack([_batch(4000, seeds=(42, 43)), _batch(4000, seeds=(44, 45))]).transpose(1, 2, 0).copy()
    d["mix_2x2x4000_f32"] = d["mix_2x4000x2_f32"].transpose(0, 2, 1).copy()  # same samples, (B, C, T)
    d["mix_2x4000_f32"] = d["mix_2x4000x1_f32"][:, :, 0].copy()
    d["short_2x100x1_f32"] = _batch(100, seeds=(46, 47))[:, :, None]
    # Non-finite samples: a NaN in clip 0 and a +inf in clip 1, in the middle of the signal.
    nan = _batch(8000, seeds=(50, 51))
    nan[0, 3000] = np.nan
    d["nan_2x8000_f32"] = nan
    inf = _batch(8000, seeds=(52, 53))
    inf[1, 5000] = np.inf
    d["inf_2x8000_f32"] = inf
    # One clip each: Keras's dB maximum over 2048 values, below XLA's 4096 (see FINDINGS.md).
    d["nan_1x8000_f32"] = nan[:1].copy()
    d["inf_1x8000_f32"] = inf[1:].copy()
    d["nan_2x4000x1_f32"] = nan[:, :4000, None].copy()
    d["inf_2x4000x1_f32"] = np.concatenate([inf[:, 3000:5000], inf[:, 5000:7000]], axis=1)[:, :, None].copy()
    # Real speech (examples/speech.npy, made by examples/make_speech.sh), byte-identical copy.
    d["speech_16k_f32"] = np.load(SPEECH)
    for k, v in d.items():
        assert v.flags.c_contiguous, k
    return d


# ---------------------------------------------------------------------------------------------
# Spec runners: (x, params) -> np.ndarray. Params are Python values (window_fn as a name).
# ---------------------------------------------------------------------------------------------


def run_keras_mel(x, p):
    return keras.ops.convert_to_numpy(keras.layers.MelSpectrogram(**p)(x))


def run_keras_stft(x, p):
    return keras.ops.convert_to_numpy(keras.layers.STFTSpectrogram(**p)(x))


def run_librosa_mel(x, p):
    p = dict(p)
    to_db = p.pop("power_to_db", True)
    db_kw = _librosa_db_kw(p)
    S = librosa.feature.melspectrogram(y=x, **p)
    if to_db:
        S = librosa.power_to_db(S, **db_kw)
    return np.asarray(S)


def _librosa_db_kw(p):
    """Pops librosa's dB arguments from p; ref="max" is ref=np.max (specc's `ref=max`)."""
    db_kw = {k: p.pop(k) for k in ("ref", "amin", "top_db") if k in p}
    if db_kw.get("ref") == "max":
        db_kw["ref"] = np.max
    return db_kw


def run_librosa_stft(x, p):
    """amplitude_to_db(np.abs(stft)) for power=1, power_to_db(np.abs(stft) ** 2) for power=2."""
    p = dict(p)
    power = p.pop("power", 1.0)
    to_db = p.pop("to_db", True)
    db_kw = _librosa_db_kw(p)
    S = np.abs(librosa.stft(x, **p))
    if power == 2.0:
        S = S**2
    if to_db:
        S = (librosa.power_to_db if power == 2.0 else librosa.amplitude_to_db)(S, **db_kw)
    return np.asarray(S)


def run_torchaudio_mel(x, p):
    p = dict(p)
    to_db = p.pop("amplitude_to_db", True)
    db_kw = {k: p.pop(k) for k in ("stype", "top_db") if k in p}
    if "window_fn" in p:
        p["window_fn"] = getattr(torch, p["window_fn"])
    S = torchaudio.transforms.MelSpectrogram(**p)(torch.from_numpy(x))
    if to_db:
        S = torchaudio.transforms.AmplitudeToDB(**db_kw)(S)
    return S.detach().cpu().numpy()


def run_whisper(x, p):
    return whisper_audio.log_mel_spectrogram(x, **p).detach().cpu().numpy()


def run_kaldi_fbank(x, p):
    import torchaudio.compliance.kaldi as kaldi
    return kaldi.fbank(torch.from_numpy(x), **p).detach().cpu().numpy()


# ---- MFCC presets (issue 14): librosa, torchaudio and Kaldi MFCCs, optional deltas appended ----
MELKWARGS = ("n_fft", "win_length", "hop_length", "f_min", "f_max", "pad", "n_mels", "window_fn",
             "power", "normalized", "center", "pad_mode", "mel_norm", "mel_scale")


def run_librosa_mfcc(x, p):
    """librosa.feature.mfcc; deltas=K appends librosa.feature.delta(M, width, order=k), k=1..K."""
    p = dict(p)
    k, width = p.pop("deltas", 0), p.pop("delta_width", 9)
    M = librosa.feature.mfcc(y=x, **p)
    parts = [M] + [librosa.feature.delta(M, width=width, order=o) for o in range(1, k + 1)]
    return np.asarray(np.concatenate(parts, axis=-2))


def run_torchaudio_mfcc(x, p):
    """torchaudio.transforms.MFCC with the flat melkwargs gathered; deltas=K appends
    compute_deltas applied k times, k=1..K."""
    p = dict(p)
    k, win = p.pop("deltas", 0), p.pop("delta_win_length", 5)
    mk = {("norm" if n == "mel_norm" else n): p.pop(n) for n in MELKWARGS if n in p}
    if "window_fn" in mk:
        mk["window_fn"] = getattr(torch, mk["window_fn"])
    M = torchaudio.transforms.MFCC(melkwargs=mk, **p)(torch.from_numpy(x))
    parts = [M]
    for _ in range(k):
        parts.append(torchaudio.functional.compute_deltas(parts[-1], win_length=win))
    return torch.cat(parts, dim=-2).detach().cpu().numpy()


def run_kaldi_mfcc(x, p):
    import torchaudio.compliance.kaldi as kaldi
    return kaldi.mfcc(torch.from_numpy(x), **p).detach().cpu().numpy()


def mfcc_call_string(spec, p, kw):
    q = dict(p)
    if spec == "librosa_mfcc":
        k, width = q.pop("deltas", 0), q.pop("delta_width", 9)
        call = f"M = librosa.feature.mfcc(y=x{', ' if q else ''}{kw(q)})"
        if k:
            call += f"; np.concatenate([M] + [librosa.feature.delta(M, width={width}, order=o) for o in range(1, {k + 1})], axis=-2)"
        return call
    if spec == "torchaudio_mfcc":
        k, win = q.pop("deltas", 0), q.pop("delta_win_length", 5)
        mk = {("norm" if n == "mel_norm" else n): q.pop(n) for n in MELKWARGS if n in q}
        call = f"torchaudio.transforms.MFCC({kw(q)}{', ' if q and mk else ''}{'melkwargs=dict(' + kw(mk) + ')' if mk else ''})(torch.from_numpy(x))"
        if k:
            call += f", then {k}x torchaudio.functional.compute_deltas(., win_length={win}), cat on dim -2"
        return call
    if spec == "kaldi_mfcc":
        return f"torchaudio.compliance.kaldi.mfcc(torch.from_numpy(x){', ' if q else ''}{kw(q)})"
    raise KeyError(spec)


RUNNERS = {
    "kaldi_fbank": run_kaldi_fbank,
    "keras_mel": run_keras_mel,
    "keras_stft": run_keras_stft,
    "librosa_mel": run_librosa_mel,
    "librosa_stft": run_librosa_stft,
    "torchaudio_mel": run_torchaudio_mel,
    "whisper": run_whisper,
    "librosa_mfcc": run_librosa_mfcc,
    "torchaudio_mfcc": run_torchaudio_mfcc,
    "kaldi_mfcc": run_kaldi_mfcc,
}


def call_string(spec, p):
    def kw(d):
        def one(k, v):
            if k == "window_fn":
                return f"{k}=torch.{v}"
            if k == "ref" and v == "max":
                return "ref=np.max"
            return f"{k}={v!r}"

        return ", ".join(one(k, v) for k, v in d.items())

    if spec == "keras_mel":
        return f"keras.layers.MelSpectrogram({kw(p)})(x)"
    if spec == "keras_stft":
        return f"keras.layers.STFTSpectrogram({kw(p)})(x)"
    if spec == "librosa_mel":
        q = dict(p)
        to_db = q.pop("power_to_db", True)
        db = {k: q.pop(k) for k in ("ref", "amin", "top_db") if k in q}
        inner = f"librosa.feature.melspectrogram(y=x{', ' if q else ''}{kw(q)})"
        return f"librosa.power_to_db({inner}{', ' if db else ''}{kw(db)})" if to_db else inner
    if spec == "librosa_stft":
        q = dict(p)
        power = q.pop("power", 1.0)
        to_db = q.pop("to_db", True)
        db = {k: q.pop(k) for k in ("ref", "amin", "top_db") if k in q}
        inner = f"np.abs(librosa.stft(x{', ' if q else ''}{kw(q)}))" + (" ** 2" if power == 2.0 else "")
        fn = "librosa.power_to_db" if power == 2.0 else "librosa.amplitude_to_db"
        return f"{fn}({inner}{', ' if db else ''}{kw(db)})" if to_db else inner
    if spec == "torchaudio_mel":
        q = dict(p)
        to_db = q.pop("amplitude_to_db", True)
        db = {k: q.pop(k) for k in ("stype", "top_db") if k in q}
        inner = f"torchaudio.transforms.MelSpectrogram({kw(q)})(torch.from_numpy(x))"
        return f"torchaudio.transforms.AmplitudeToDB({kw(db)})({inner})" if to_db else inner
    if spec == "whisper":
        return f"whisper.audio.log_mel_spectrogram(x, {kw(p)})"
    if spec in ("librosa_mfcc", "torchaudio_mfcc", "kaldi_mfcc"):
        return mfcc_call_string(spec, p, kw)
    if spec == "kaldi_fbank":
        return f"torchaudio.compliance.kaldi.fbank(torch.from_numpy(x){', ' if p else ''}{kw(p)})"
    raise KeyError(spec)


def lit(v):
    """A parameter value in specc's literal syntax."""
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        r = re.sub(r"e([+-]?)0*(\d)", r"e\1\2", repr(v)).replace("e+", "e")  # 1e-05 -> 1e-5
        assert any(c in r for c in ".e") or r in ("inf", "-inf"), r
        return r
    if isinstance(v, str):
        return v
    raise TypeError(f"no literal for {v!r}")


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------
CASES = []


def case(name, spec, inp, compare=None, x64=False, expect_error=False, note=None, **params):
    CASES.append(
        dict(name=name, spec=spec, input=inp, compare=compare, x64=x64,
             expect_error=expect_error, note=note, params=params)
    )


# ---- keras_mel ------------------------------------------------------------------------------
KM = "keras_mel"
case("keras_mel_default", KM, "mix_2x16000_f32", "db")
case("keras_mel_speech", KM, "speech_16k_f32", "db", note="examples/speech.npy (copied to inputs/speech_16k_f32.npy), 1-D")
case("keras_mel_fft400", KM, "mix_2x8000_f32", "db", fft_length=400, sequence_stride=160)
case("keras_mel_fft1000", KM, "mix_2x8000_f32", "db", fft_length=1000, sequence_stride=250)
case("keras_mel_fft511_odd", KM, "mix_2x8000_f32", "db", fft_length=511, sequence_stride=128)
case("keras_mel_fft257_prime", KM, "mix_2x8000_f32", "db", fft_length=257, sequence_stride=100, num_mel_bins=40)
case("keras_mel_fft509_prime", KM, "mix_2x8000_f32", "db", fft_length=509, sequence_stride=128, num_mel_bins=64)
case("keras_mel_seqlen_lt_fft_hann", KM, "mix_2x8000_f32", "db", fft_length=1024, sequence_length=600, sequence_stride=256)
case("keras_mel_seqlen_lt_fft_hamming", KM, "mix_2x8000_f32", "db", fft_length=1024, sequence_length=601, sequence_stride=256, window="hamming")
case("keras_mel_seqlen_odd_fft_even", KM, "mix_2x8000_f32", "db", fft_length=512, sequence_length=401, sequence_stride=160, num_mel_bins=40)
case("keras_mel_window_none", KM, "mix_2x8000_f32", "db", fft_length=512, sequence_stride=256, window=None)
case("keras_mel_window_none_seqlen_lt_fft", KM, "mix_2x8000_f32", "db", fft_length=1024, sequence_length=600, sequence_stride=256, window=None)
case("keras_mel_mag_exp1", KM, "mix_2x8000_f32", "db", mag_exp=1.0)
case("keras_mel_no_db", KM, "mix_2x8000_f32", "linear", power_to_db=False)
case("keras_mel_mag_exp1_no_db", KM, "mix_2x8000_f32", "linear", mag_exp=1.0, power_to_db=False)
case("keras_mel_freq_range", KM, "mix_2x8000_f32", "db", fft_length=1024, sequence_stride=256, num_mel_bins=40, min_freq=300.0, max_freq=3400.0)
case("keras_mel_max_freq_above_nyquist", KM, "mix_2x8000_f32", "db", fft_length=512, sequence_stride=256, num_mel_bins=40, min_freq=0.0, max_freq=11000.0)
case("keras_mel_sr_odd_max_default", KM, "mix_2x8000_f32", "db", fft_length=512, sequence_stride=256, num_mel_bins=40, sampling_rate=22051, note="max_freq defaults to int(22051/2) = 11025")
case("keras_mel_ref_half", KM, "mix_2x8000_f32", "db", ref_power=0.5)
case("keras_mel_ref_negative", KM, "mix_2x8000_f32", "db", ref_power=-2.0)
case("keras_mel_min_power", KM, "mix_2x8000_f32", "db", min_power=1e-4, top_db=120.0)
case("keras_mel_top_db20_loud_quiet", KM, "loudquiet_2x8000_f32", "db", top_db=20.0,
     note="clip 1 is clip 0's -60 dB neighbour; the top_db floor uses the max over the WHOLE batch")
case("keras_mel_top_db20_quiet_alone", KM, "quiet_8000_f32", "db", top_db=20.0,
     note="the quiet clip of keras_mel_top_db20_loud_quiet on its own (1-D): different floor")
case("keras_mel_f64", KM, "mix_2x16000_f64", "db", x64=True, dtype="float64",
     note="needs JAX_ENABLE_X64=1; without it JAX truncates to float32 (see FINDINGS.md)")
case("keras_mel_f64_input", KM, "mix_2x16000_f64", "db", x64=True,
     note="float64 input, default float32 layer (run with JAX_ENABLE_X64=1)")
case("keras_mel_f64_input_no_x64", KM, "mix_2x16000_f64", "db",
     note="float64 input, default float32 layer, JAX default config")
case("keras_mel_int16", KM, "mix_2x16000_i16", "db", note="int16 is cast to float32 WITHOUT rescaling")
case("keras_mel_one_sample", KM, "tiny_2x1_f32", "db")
case("keras_mel_short_300", KM, "short_2x300_f32", "db", note="T=300 < fft_length//2=1024: reflect padding longer than the signal")
case("keras_mel_3d", KM, "mix_2x3x4000_f32", "db", fft_length=512, sequence_stride=128, num_mel_bins=64)
case("keras_mel_1d", KM, "mix_16000_f32", "db")
case("keras_mel_sr8000_64mels", KM, "mix_2x8000_f32", "db", num_mel_bins=64, sampling_rate=8000)
case("keras_mel_sr8000_fft256", KM, "mix_2x8000_f32", "db", fft_length=256, sequence_stride=80, num_mel_bins=40, sampling_rate=8000, min_freq=0.0)
case("keras_mel_odd_len_stride100", KM, "mix_2x7999_f32", "db", fft_length=512, sequence_stride=100, num_mel_bins=40)
case("keras_mel_empty", KM, "empty_f32", "db", expect_error=True)
case("keras_mel_empty_batch", KM, "empty_2x0_f32", "db", expect_error=True)
case("keras_mel_top_db_none", KM, "mix_2x8000_f32", "db", expect_error=True, top_db=None)
case("keras_mel_window_kaiser", KM, "mix_2x8000_f32", "db", expect_error=True, window="kaiser")
case("keras_mel_seqlen_gt_fft", KM, "mix_2x8000_f32", "db", expect_error=True, fft_length=512, sequence_length=1024)
case("keras_mel_stride0", KM, "mix_2x8000_f32", "db", expect_error=True, sequence_stride=0)

# ---- keras_stft -----------------------------------------------------------------------------
KS = "keras_stft"
X1 = "mix_2x4000x1_f32"
case("keras_stft_default", KS, X1, "log", note="mode=log, frame_length=256, symmetric hann, density, valid")
for mode, cmp in [("log", "log"), ("magnitude", "linear"), ("psd", "linear"), ("real", "linear"),
                  ("imag", "linear"), ("angle", "angle"), ("stft", "linear")]:
    case(f"keras_stft_mode_{mode}", KS, X1, cmp, mode=mode, frame_length=200, frame_step=80, fft_length=256)
case("keras_stft_scaling_density", KS, X1, "linear", mode="magnitude", scaling="density")
case("keras_stft_scaling_spectrum", KS, X1, "linear", mode="magnitude", scaling="spectrum")
case("keras_stft_scaling_none", KS, X1, "linear", mode="magnitude", scaling=None)
case("keras_stft_padding_valid", KS, X1, "linear", mode="real", frame_length=200, frame_step=96, padding="valid")
case("keras_stft_padding_same", KS, X1, "linear", mode="real", frame_length=200, frame_step=96, padding="same")
case("keras_stft_periodic_false", KS, X1, "linear", mode="real", periodic=False)
case("keras_stft_periodic_true", KS, X1, "linear", mode="real", periodic=True)
case("keras_stft_window_hann", KS, X1, "linear", mode="psd", window="hann")
case("keras_stft_window_hamming", KS, X1, "linear", mode="psd", window="hamming")
case("keras_stft_window_hamming_periodic", KS, X1, "linear", mode="psd", window="hamming", periodic=True)
case("keras_stft_window_none", KS, X1, "linear", mode="psd", window=None)
case("keras_stft_fft_gt_frame", KS, X1, "linear", mode="stft", frame_length=200, fft_length=512)
case("keras_stft_frame_step_default", KS, X1, "linear", mode="magnitude", frame_length=300, fft_length=512)
case("keras_stft_frame_step_explicit", KS, X1, "linear", mode="magnitude", frame_length=300, frame_step=77, fft_length=512)
case("keras_stft_odd_fft255_real", KS, X1, "linear", mode="real", frame_length=255, fft_length=255,
     note="odd fft_length: Keras builds the basis with N'=(F-1)*2=254, not 255")
case("keras_stft_odd_fft255_imag", KS, X1, "linear", mode="imag", frame_length=255, fft_length=255)
case("keras_stft_odd_fft255_psd", KS, X1, "linear", mode="psd", frame_length=255, fft_length=255)
case("keras_stft_odd_fft257_stft", KS, X1, "linear", mode="stft", frame_length=255, fft_length=257,
     note="odd fft_length: basis N'=(129-1)*2=256, not 257")
case("keras_stft_odd_fft257_psd", KS, X1, "linear", mode="psd", frame_length=255, fft_length=257)
case("keras_stft_odd_frame_even_fft", KS, X1, "linear", mode="stft", frame_length=255, frame_step=100)
for df, inp in [("channels_last", "mix_2x4000x2_f32"), ("channels_first", "mix_2x2x4000_f32")]:
    for ed in (False, True):
        case(f"keras_stft_{df}_expand_{str(ed).lower()}", KS, inp, "linear", mode="magnitude",
             frame_length=128, frame_step=64, expand_dims=ed, data_format=df)
case("keras_stft_multichannel_stft_mode", KS, "mix_2x4000x2_f32", "linear", mode="stft", frame_length=128, frame_step=64)
case("keras_stft_f64", KS, "mix_2x4000x1_f64", "linear", x64=True, mode="stft", dtype="float64")
case("keras_stft_f64_log", KS, "mix_2x4000x1_f64", "log", x64=True, mode="log", dtype="float64")
case("keras_stft_f64_input", KS, "mix_2x4000x1_f64", "linear", x64=True, mode="magnitude",
     note="float64 input, default float32 layer (run with JAX_ENABLE_X64=1)")
case("keras_stft_silence_floor", KS, "mix_2x4000x1_f32", "log", mode="log", frame_length=64, frame_step=64,
     note="input contains exact zeros (40%..55%): frames there hit the 0.5*ln(1e-7) floor")
case("keras_stft_rank2", KS, "mix_2x4000_f32", "linear", expect_error=True)
case("keras_stft_int16", KS, "mix_2x4000x1_i16", "linear", expect_error=True, mode="magnitude")
case("keras_stft_step_gt_frame", KS, X1, "linear", expect_error=True, frame_length=128, frame_step=200)
case("keras_stft_fft_lt_frame", KS, X1, "linear", expect_error=True, frame_length=256, fft_length=128)
case("keras_stft_short_valid", KS, "short_2x100x1_f32", "linear", expect_error=True, mode="magnitude",
     note="T=100 < frame_length=256, padding=valid")
case("keras_stft_short_same", KS, "short_2x100x1_f32", "linear", mode="magnitude", padding="same",
     note="T=100 < frame_length=256, padding=same")

# ---- librosa_mel ----------------------------------------------------------------------------
LM = "librosa_mel"
case("librosa_mel_default", LM, "mix_2x16000_f32", "db")
case("librosa_mel_htk", LM, "mix_2x16000_f32", "db", htk=True)
case("librosa_mel_norm_none", LM, "mix_2x16000_f32", "db", norm=None)
case("librosa_mel_pad_reflect", LM, "mix_2x16000_f32", "db", pad_mode="reflect")
case("librosa_mel_center_false", LM, "mix_2x16000_f32", "db", center=False)
case("librosa_mel_power1", LM, "mix_2x16000_f32", "db", power=1.0)
case("librosa_mel_no_db", LM, "mix_2x16000_f32", "linear", power_to_db=False)
case("librosa_mel_top_db_none", LM, "mix_2x16000_f32", "db", top_db=None)
case("librosa_mel_top_db20_loud_quiet", LM, "loudquiet_2x8000_f32", "db", sr=16000, n_fft=512, hop_length=256, n_mels=40, top_db=20.0)
case("librosa_mel_win_lt_nfft", LM, "mix_2x16000_f32", "db", n_fft=2048, win_length=1000)
case("librosa_mel_nfft400_sr16000", LM, "mix_2x16000_f32", "db", sr=16000, n_fft=400)
case("librosa_mel_whisper_like", LM, "mix_2x16000_f32", "db", sr=16000, n_fft=400, hop_length=160, n_mels=80)
case("librosa_mel_hamming", LM, "mix_2x16000_f32", "db", window="hamming")
case("librosa_mel_fmin_fmax", LM, "mix_2x16000_f32", "db", sr=16000, n_mels=64, fmin=50.0, fmax=7000.0)
case("librosa_mel_ref_amin", LM, "mix_2x16000_f32", "db", ref=2.0, amin=1e-5, top_db=60.0)
case("librosa_mel_nfft511_odd", LM, "mix_2x16000_f32", "db", sr=16000, n_fft=511, hop_length=128, n_mels=64)
case("librosa_mel_f64", LM, "mix_2x16000_f64", "db")
case("librosa_mel_1d", LM, "mix_16000_f32", "db", sr=16000)
case("librosa_mel_ref_max", LM, "mix_2x16000_f32", "db", ref="max")
case("librosa_mel_ref_max_loud_quiet", LM, "loudquiet_2x8000_f32", "db", sr=16000, n_fft=512, hop_length=256,
     n_mels=40, ref="max", top_db=None, note="ref=np.max: the max of the whole batch (the loud clip)")

# ---- librosa_stft ---------------------------------------------------------------------------
LS = "librosa_stft"
case("librosa_stft_default", LS, "mix_16000_f32", "db")
case("librosa_stft_ref_max", LS, "loudquiet_2x8000_f32", "db", n_fft=512, ref="max",
     note="ref=np.max over the whole batch, then top_db=80 below the result's max (0 dB)")
case("librosa_stft_ref_max_top_db_none", LS, "loudquiet_2x8000_f32", "db", n_fft=256, ref="max", top_db=None)
case("librosa_stft_power", LS, "mix_2x8000_f32", "db", n_fft=512, power=2.0)
case("librosa_stft_power_ref_max", LS, "loudquiet_2x8000_f32", "db", n_fft=512, power=2.0, ref="max", top_db=40.0)
case("librosa_stft_ref_amin", LS, "mix_2x8000_f32", "db", n_fft=512, ref=0.5, amin=1e-3, top_db=60.0)
case("librosa_stft_magnitude", LS, "mix_2x8000_f32", "linear", n_fft=512, to_db=False)
case("librosa_stft_power_no_db", LS, "mix_2x8000_f32", "linear", n_fft=512, power=2.0, to_db=False)
case("librosa_stft_hamming_center_false", LS, "mix_2x8000_f32", "db", n_fft=400, hop_length=160, win_length=300,
     window="hamming", center=False)
case("librosa_stft_reflect", LS, "mix_2x8000_f32", "db", n_fft=512, win_length=400, pad_mode="reflect")
case("librosa_stft_f64", LS, "mix_2x16000_f64", "db", n_fft=512)
case("librosa_stft_f64_ref_max", LS, "mix_2x16000_f64", "db", n_fft=512, power=2.0, ref="max")
case("librosa_stft_win_gt_nfft", LS, "mix_2x8000_f32", "db", expect_error=True, n_fft=512, win_length=600)
case("librosa_stft_nan", LS, "nan_2x8000_f32", "db", expect_error=True, n_fft=512)

# ---- torchaudio_mel -------------------------------------------------------------------------
TM = "torchaudio_mel"
case("torchaudio_mel_default", TM, "mix_2x16000_f32", "db")
case("torchaudio_mel_top_db80", TM, "loudquiet_2x8000_f32", "db", top_db=80.0,
     note="2-D input -> 3-D output: ONE global max over the whole tensor")
case("torchaudio_mel_slaney", TM, "mix_2x16000_f32", "db", mel_scale="slaney", norm="slaney")
case("torchaudio_mel_normalized", TM, "mix_2x16000_f32", "db", normalized=True)
case("torchaudio_mel_center_false", TM, "mix_2x16000_f32", "db", center=False)
case("torchaudio_mel_win_lt_nfft", TM, "mix_2x16000_f32", "db", n_fft=512, win_length=400, hop_length=160)
case("torchaudio_mel_no_db", TM, "mix_2x16000_f32", "linear", amplitude_to_db=False)
case("torchaudio_mel_magnitude", TM, "mix_2x16000_f32", "db", power=1.0, stype="magnitude")
case("torchaudio_mel_3d_top_db80", TM, "loudquiet_2x2x8000_f32", "db", top_db=80.0,
     note="3-D input -> 4-D output: max taken per leading item (over its channels, mels, frames)")
case("torchaudio_mel_hamming", TM, "mix_2x16000_f32", "db", window_fn="hamming_window")
case("torchaudio_mel_pad_constant", TM, "mix_2x16000_f32", "db", pad_mode="constant")
case("torchaudio_mel_fmin_fmax_pad", TM, "mix_2x16000_f32", "db", n_mels=64, f_min=50.0, f_max=7000.0, pad=100)
case("torchaudio_mel_sr22050", TM, "mix_2x16000_f32", "db", sample_rate=22050, n_fft=1024, hop_length=256, n_mels=80,
     note="sample_rate // 2 = 11025 grid")
case("torchaudio_mel_1d", TM, "mix_16000_f32", "db")
case("torchaudio_mel_narrow_bands", TM, "mix_2x16000_f32", "db", n_fft=400, hop_length=115, n_mels=128,
     f_min=300.0, f_max=4000.0, normalized=True, window_fn="hamming_window", pad_mode="replicate",
     note="128 bands over 300-4000 Hz at 40 Hz bins: small weights carry torch's float32 rounding")
case("torchaudio_mel_f64_input", TM, "mix_2x16000_f64", "db", expect_error=True,
     note="float64 input: torch matmul of float64 magnitudes with the float32 filterbank buffer")
case("torchaudio_mel_int16", TM, "mix_2x16000_i16", "db", expect_error=True, note="torch.stft refuses int16")

# ---- kaldi fbank (torchaudio.compliance.kaldi) -----------------------------------------------
KF = "kaldi_fbank"
case("kaldi_fbank_default", KF, "mix_2x16000_f32", "log", note="(channels, samples): channel 0 is used")
case("kaldi_fbank_f64_input", KF, "speech_1x16000_kaldi_f64", "log",
     note="float64 in, float64 out: torch computes in float64 (mel banks built in float32, then cast)")
case("kaldi_fbank_channel1", KF, "mix_2x16000_f32", "log", channel=1)
case("kaldi_fbank_40_bins", KF, "mix_2x16000_f32", "log", num_mel_bins=40, low_freq=60.0, high_freq=-400.0)
case("kaldi_fbank_hamming_no_pow2", KF, "mix_2x16000_f32", "log", window_type="hamming", round_to_power_of_two=False)
case("kaldi_fbank_hanning_no_dc_no_preemph", KF, "mix_2x16000_f32", "log", window_type="hanning",
     remove_dc_offset=False, preemphasis_coefficient=0.0)
case("kaldi_fbank_rect_magnitude", KF, "mix_2x16000_f32", "log", window_type="rectangular", use_power=False)
case("kaldi_fbank_blackman_linear", KF, "mix_2x16000_f32", "linear", window_type="blackman", use_log_fbank=False)
case("kaldi_fbank_frames_20_5", KF, "mix_2x16000_f32", "log", frame_length=20.0, frame_shift=5.0, high_freq=6000.0)
case("kaldi_fbank_8k", KF, "mix_2x8000_f32", "log", sample_frequency=8000.0, num_mel_bins=15)
case("kaldi_fbank_bad_channel", KF, "mix_2x16000_f32", "log", expect_error=True, channel=5)
# snip_edges=False, use_energy, subtract_mean, min_duration, blackman_coeff (issue 12).
KSP, KNO = "speech_1x16000_kaldi_f32", "noise_1x4000_kaldi_f32"
case("kaldi_fbank_no_snip", KF, "mix_2x16000_f32", "log", snip_edges=False)
case("kaldi_fbank_no_snip_speech", KF, KSP, "log", snip_edges=False)
case("kaldi_fbank_no_snip_shift_gt_length", KF, KNO, "log", snip_edges=False, frame_length=10.0, frame_shift=25.0,
     note="pad = 80 - 200 < 0: the front is trimmed")
case("kaldi_fbank_no_snip_401", KF, "noise_1x401_kaldi_f32", "log", snip_edges=False)
case("kaldi_fbank_no_snip_480_energy_mean", KF, "noise_1x480_kaldi_f32", "log", snip_edges=False,
     use_energy=True, subtract_mean=True)
case("kaldi_fbank_no_snip_300", KF, "noise_1x300_kaldi_f32", "log", expect_error=True, snip_edges=False,
     note="fewer samples than one frame: torchaudio asserts")
case("kaldi_fbank_energy", KF, KNO, "log", use_energy=True)
case("kaldi_fbank_energy_speech_htk", KF, KSP, "log", use_energy=True, htk_compat=True)
case("kaldi_fbank_energy_floor0", KF, KNO, "log", use_energy=True, energy_floor=0.0)
case("kaldi_fbank_energy_floor_high", KF, KNO, "log", use_energy=True, energy_floor=1e9,
     note="ln(1e9) is above most frames' energy: the floor shows")
case("kaldi_fbank_energy_not_raw", KF, KSP, "log", use_energy=True, raw_energy=False)
case("kaldi_fbank_subtract_mean", KF, KSP, "log", subtract_mean=True)
case("kaldi_fbank_lhotse_like", KF, KSP, "log", snip_edges=False, use_energy=True, subtract_mean=True,
     note="snip_edges=False with the energy column and mean subtraction")
case("kaldi_fbank_no_snip_energy_htk_linear", KF, KNO, "linear", snip_edges=False, use_energy=True, htk_compat=True,
     use_log_fbank=False, raw_energy=False, energy_floor=0.0)
case("kaldi_fbank_blackman_05", KF, KNO, "log", window_type="blackman", blackman_coeff=0.5)
case("kaldi_fbank_blackman_03_no_snip", KF, KSP, "log", window_type="blackman", blackman_coeff=0.3, snip_edges=False)
case("kaldi_fbank_min_duration_met", KF, KNO, "log", min_duration=0.25, note="4000 samples = 0.25 s: kept")
case("kaldi_fbank_min_duration_short", KF, KNO, "log", min_duration=0.3,
     note="torchaudio returns torch.empty(0); specc rejects with an error naming min_duration")

# ---- MFCC (issue 14) --------------------------------------------------------------------------
LMF, TMF, KMF = "librosa_mfcc", "torchaudio_mfcc", "kaldi_mfcc"
case("librosa_mfcc_default", LMF, "mix_2x8000_f32", "cepstral")
case("librosa_mfcc_speech_lifter", LMF, "speech_16k_f32", "cepstral", sr=16000, n_mfcc=13, lifter=22,
     n_fft=512, hop_length=160, n_mels=40)
case("librosa_mfcc_norm_none_htk_truncated", LMF, "mix_16000_f32", "cepstral", norm=None, htk=True,
     n_mels=40, n_mfcc=48, note="n_mfcc > n_mels: numpy slicing keeps the 40 coefficients there are")
case("librosa_mfcc_deltas", LMF, "mix_2x8000_f32", "cepstral", n_mfcc=13, deltas=2)
case("librosa_mfcc_deltas_width5", LMF, "mix_2x8000_f32", "cepstral", n_mfcc=13, deltas=1, delta_width=5,
     hop_length=1024)
case("librosa_mfcc_deltas_too_few_frames", LMF, "short_2x300_f32", "cepstral", expect_error=True, deltas=1)
case("librosa_mfcc_deltas_even_width", LMF, "mix_2x8000_f32", "cepstral", expect_error=True, deltas=1, delta_width=4)
case("torchaudio_mfcc_default", TMF, "mix_2x16000_f32", "cepstral")
case("torchaudio_mfcc_f64_input", TMF, "mix_2x16000_f64", "cepstral", expect_error=True,
     note="float64 input: as torchaudio_mel_f64_input")
case("torchaudio_mfcc_batch_channels", TMF, "mix_2x3x4000_f32", "cepstral", n_mfcc=13, n_mels=40,
     note="(B, C, T): the top_db maximum is per item over (channel, freq, time)")
case("torchaudio_mfcc_log_mels", TMF, "mix_16000_f32", "cepstral", log_mels=True, n_mfcc=13, n_mels=40,
     n_fft=512, hop_length=160)
case("torchaudio_mfcc_norm_none_deltas", TMF, "mix_2x8000_f32", "cepstral", norm=None, n_mfcc=20, n_mels=64,
     deltas=2)
case("torchaudio_mfcc_too_many_coefficients", TMF, "mix_16000_f32", "cepstral", expect_error=True,
     n_mfcc=64, n_mels=40)
case("kaldi_mfcc_default", KMF, "speech_1x16000_kaldi_f32", "cepstral")
case("kaldi_mfcc_f64_input", KMF, "speech_1x16000_kaldi_f64", "cepstral",
     note="float64 in, float64 out: torch computes in float64 (mel banks built in float32, then cast)")
case("kaldi_mfcc_energy", KMF, "noise_1x4000_kaldi_f32", "cepstral", use_energy=True)
case("kaldi_mfcc_energy_htk_no_lifter", KMF, "speech_1x16000_kaldi_f32", "cepstral", use_energy=True,
     htk_compat=True, cepstral_lifter=0.0, num_ceps=20)
case("kaldi_mfcc_no_snip_subtract_mean", KMF, "noise_1x4000_kaldi_f32", "cepstral", snip_edges=False,
     subtract_mean=True, num_ceps=23, raw_energy=False, use_energy=True)
case("kaldi_mfcc_too_many_ceps", KMF, "noise_1x4000_kaldi_f32", "cepstral", expect_error=True, num_ceps=30)

# ---- non-finite samples ---------------------------------------------------------------------
case("keras_mel_nan", KM, "nan_2x8000_f32", "db",
     note="NaN in clip 0; 4096 values: XLA's reduce_max (YNNPACK) skips the NaN")
case("keras_mel_nan_no_db", KM, "nan_2x8000_f32", "linear", power_to_db=False)
case("keras_mel_inf", KM, "inf_2x8000_f32", "db")
case("keras_mel_nan_one_clip", KM, "nan_1x8000_f32", "db",
     note="2048 values, below 4096: XLA's reduce_max propagates the NaN, so every value is NaN")
case("keras_mel_inf_one_clip", KM, "inf_1x8000_f32", "db", note="the inf frame's NaN bins, as keras_mel_nan_one_clip")
case("keras_mel_inf_no_db", KM, "inf_2x8000_f32", "linear", power_to_db=False)
case("keras_stft_nan_magnitude", KS, "nan_2x4000x1_f32", "linear", mode="magnitude")
case("keras_stft_nan_stft", KS, "nan_2x4000x1_f32", "linear", mode="stft")
case("keras_stft_inf_psd", KS, "inf_2x4000x1_f32", "linear", mode="psd")
case("keras_stft_inf_stft_200", KS, "inf_2x4000x1_f32", "linear", mode="stft", frame_length=200,
     frame_step=50, fft_length=200, padding="same",
     note="the inf meets near-zero kernel entries, whose float32 signs (k / 200 compiled by XLA as "
          "k * (1 / 200)) make a bin +inf or -inf")
case("librosa_mel_nan", LM, "nan_2x8000_f32", "db", sr=16000, n_fft=512, hop_length=128, n_mels=40)
case("librosa_mel_inf_no_db", LM, "inf_2x8000_f32", "linear", sr=16000, n_fft=512, hop_length=128, n_mels=40,
     power_to_db=False)
case("torchaudio_mel_nan", TM, "nan_2x8000_f32", "db", top_db=80.0)
case("torchaudio_mel_inf_no_db", TM, "inf_2x8000_f32", "linear", amplitude_to_db=False)
case("whisper_nan", "whisper", "nan_2x8000_f32", "whisper", n_mels=80)

# ---- whisper --------------------------------------------------------------------------------
WH = "whisper"
case("whisper_80", WH, "speech_16k_f32", "whisper", n_mels=80)
case("whisper_128", WH, "speech_16k_f32", "whisper", n_mels=128)
case("whisper_80_padding", WH, "speech_16k_f32", "whisper", n_mels=80, padding=16000)
case("whisper_80_mix", WH, "mix_16000_f32", "whisper", n_mels=80)
case("whisper_80_batch", WH, "mix_2x16000_f32", "whisper", n_mels=80,
     note="2-D batch: the -8 (log10) floor uses the max over the whole tensor")
case("whisper_128_batch_padding", WH, "loudquiet_2x8000_f32", "whisper", n_mels=128, padding=480,
     note="loud + quiet clip: global max")
case("whisper_f64_input", WH, "mix_2x16000_f64", "whisper", expect_error=None, n_mels=80,
     note="float64 input: torch matmul of float32 filters with float64 magnitudes")
case("whisper_n_mels_64", WH, "mix_16000_f32", "whisper", expect_error=True, n_mels=64)


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


ANSI = re.compile(r"\x1b\[[0-9;]*m")
KERAS_WRAP = re.compile(
    r"^Exception encountered when calling \S+\.call\(\)\.\s*(.*?)\s*(Arguments received by .*)?$", re.S
)


def fmt_exc(e):
    """(type name, full message without ANSI colour codes, core message).

    Keras wraps exceptions raised inside Layer.call() as "Exception encountered when calling
    X.call().\n\n<message>\n\nArguments received by ..."; the core message is <message>."""
    t = type(e)
    name = t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__name__}"
    msg = ANSI.sub("", str(e)).strip()
    if len(msg) > 4000:
        msg = msg[:4000] + " …[truncated]"
    m = KERAS_WRAP.match(msg)
    core = m.group(1) if m else msg
    return name, msg, core


def run_case(c, inputs):
    x = inputs[c["input"]]
    fn = RUNNERS[c["spec"]]
    keras.utils.clear_session()  # deterministic auto layer names in error messages
    with warnings.catch_warnings(record=True) as wl:
        warnings.simplefilter("always")
        try:
            y = fn(x, c["params"])
            err = None
        except Exception as e:  # noqa: BLE001 - we record whatever the library raises
            y, err = None, fmt_exc(e)
    warns = []
    for w in wl:
        s = f"{w.category.__name__}: {w.message}"
        if s not in warns:
            warns.append(s)
    entry = {
        "name": c["name"],
        "spec": c["spec"],
        "set": {k: lit(v) for k, v in c["params"].items()},
        "input": f"inputs/{c['input']}.npy",
    }
    if err is not None:
        entry["error"] = f"{err[0]}: {err[1]}"
        entry["error_type"] = err[0]
        entry["error_message"] = err[2]
    else:
        y = np.ascontiguousarray(np.asarray(y))
        rel = f"expected/{c['name']}.npy"
        np.save(os.path.join(FIX, rel), y, allow_pickle=False)
        entry["expected"] = rel
        entry["compare"] = c["compare"]
        entry["shape"] = list(y.shape)
        entry["dtype"] = str(y.dtype)
    entry["call"] = call_string(c["spec"], c["params"])
    entry["input_shape"] = list(x.shape)
    entry["input_dtype"] = str(x.dtype)
    if c["x64"]:
        entry["env"] = {"JAX_ENABLE_X64": "1"}
    if warns:
        entry["warnings"] = warns
    if c["note"]:
        entry["note"] = c["note"]
    if c["expect_error"] is True and err is None:
        print(f"  note: {c['name']}: expected an error, library returned {entry['dtype']}{entry['shape']}")
    if c["expect_error"] is False and err is not None:
        print(f"  WARNING: {c['name']}: unexpected error: {err[0]}: {err[2][:300]}")
    return entry


def load_inputs_from_disk():
    return {
        f[:-4]: np.load(os.path.join(INPUTS, f), allow_pickle=False)
        for f in sorted(os.listdir(INPUTS))
        if f.endswith(".npy")
    }


def versions():
    return {
        "keras": keras.__version__,
        "jax": jax.__version__,
        "jaxlib": pkg_version("jaxlib"),
        "librosa": librosa.__version__,
        "torch": torch.__version__,
        "torchaudio": torchaudio.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "whisper": pkg_version("openai-whisper"),
        "python": sys.version.split()[0],
    }


# ---------------------------------------------------------------------------------------------
# Mel filterbanks as the libraries return them (`specc filters`): default params and one --set
# variant per preset. Written to fixtures/expected/filters_*.npy, listed in fixtures/filters.json.
# ---------------------------------------------------------------------------------------------


def filter_cases():
    """(name, preset, --set values, library call text, thunk returning the library's matrix)."""
    import torchaudio.compliance.kaldi as kaldi

    def keras_matrix(n_mels, bins, sr, lo, hi):
        layer = keras.layers.MelSpectrogram()
        m = layer.linear_to_mel_weight_matrix(
            num_mel_bins=n_mels, num_spectrogram_bins=bins, sampling_rate=sr,
            lower_edge_hertz=lo, upper_edge_hertz=hi)
        return keras.ops.convert_to_numpy(m)

    return [
        ("librosa_mel_default", "librosa_mel", [],
         "librosa.filters.mel(sr=22050, n_fft=2048)",
         lambda: librosa.filters.mel(sr=22050, n_fft=2048)),
        ("librosa_mel_htk", "librosa_mel",
         ["sr=16000", "n_fft=512", "n_mels=40", "fmin=50", "fmax=7000", "htk=true", "norm=none"],
         "librosa.filters.mel(sr=16000, n_fft=512, n_mels=40, fmin=50, fmax=7000, htk=True, norm=None)",
         lambda: librosa.filters.mel(sr=16000, n_fft=512, n_mels=40, fmin=50, fmax=7000, htk=True, norm=None)),
        ("whisper_default", "whisper", [],
         "whisper.audio.mel_filters('cpu', 80)",
         lambda: whisper_audio.mel_filters("cpu", 80).numpy()),
        ("whisper_128", "whisper", ["n_mels=128"],
         "whisper.audio.mel_filters('cpu', 128)",
         lambda: whisper_audio.mel_filters("cpu", 128).numpy()),
        ("torchaudio_mel_default", "torchaudio_mel", [],
         "torchaudio.functional.melscale_fbanks(201, 0.0, 8000.0, 128, 16000)",
         lambda: torchaudio.functional.melscale_fbanks(201, 0.0, 8000.0, 128, 16000).numpy()),
        ("torchaudio_mel_slaney", "torchaudio_mel",
         ["sample_rate=22050", "n_fft=1024", "n_mels=64", "f_min=30", "norm=slaney", "mel_scale=slaney"],
         "torchaudio.functional.melscale_fbanks(513, 30.0, 11025.0, 64, 22050, norm='slaney', mel_scale='slaney')",
         lambda: torchaudio.functional.melscale_fbanks(
             513, 30.0, float(22050 // 2), 64, 22050, norm="slaney", mel_scale="slaney").numpy()),
        ("keras_mel_default", "keras_mel", [],
         "keras.layers.MelSpectrogram().linear_to_mel_weight_matrix(128, 1025, 16000, 20.0, 8000)",
         lambda: keras_matrix(128, 1025, 16000, 20.0, 8000)),
        ("keras_mel_8k", "keras_mel",
         ["num_mel_bins=64", "sampling_rate=8000", "fft_length=512", "min_freq=125", "max_freq=3800"],
         "keras.layers.MelSpectrogram().linear_to_mel_weight_matrix(64, 257, 8000, 125, 3800)",
         lambda: keras_matrix(64, 257, 8000, 125, 3800)),
        ("kaldi_fbank_default", "kaldi_fbank", [],
         "torchaudio.compliance.kaldi.get_mel_banks(23, 512, 16000.0, 20.0, 0.0, 100.0, -500.0, 1.0)[0]",
         lambda: kaldi.get_mel_banks(23, 512, 16000.0, 20.0, 0.0, 100.0, -500.0, 1.0)[0].numpy()),
        ("kaldi_fbank_8k", "kaldi_fbank",
         ["num_mel_bins=40", "sample_frequency=8000", "frame_length=20", "low_freq=60", "high_freq=-400"],
         "torchaudio.compliance.kaldi.get_mel_banks(40, 256, 8000.0, 60.0, -400.0, 100.0, -500.0, 1.0)[0]",
         lambda: kaldi.get_mel_banks(40, 256, 8000.0, 60.0, -400.0, 100.0, -500.0, 1.0)[0].numpy()),
    ]


def write_speech_file_goldens():
    """kaldi_fbank on examples/speech.wav as torchaudio users run it: torchaudio.load's float
    samples in [-1, 1) (soundfile gives the same float32 values), and scaled by 32768 to Kaldi's
    int16 scale (`specc run --audio-scale int16`). Written to expected/kaldi_fbank_speech_wav*.npy."""
    import soundfile
    import torchaudio.compliance.kaldi as kaldi

    y, sr = soundfile.read(os.path.join(REPO, "examples", "speech.wav"), dtype="float32", always_2d=True)
    w = torch.from_numpy(np.ascontiguousarray(y.T))
    for name, scale in (("kaldi_fbank_speech_wav", 1.0), ("kaldi_fbank_speech_wav_int16", 32768.0)):
        out = kaldi.fbank(w * scale, sample_frequency=float(sr)).numpy()
        np.save(os.path.join(EXPECTED, f"{name}.npy"), out, allow_pickle=False)
        print(f"{name}: {out.shape} {out.dtype}")


def write_mfcc_speech_goldens():
    """librosa.feature.mfcc on examples/speech.wav as read by soundfile (float32, 16 kHz):
    `specc run librosa_mfcc examples/speech.wav --set sr=16000`. Written to
    expected/librosa_mfcc_speech_wav.npy."""
    import soundfile

    y, sr = soundfile.read(os.path.join(REPO, "examples", "speech.wav"), dtype="float32")
    out = librosa.feature.mfcc(y=y, sr=sr)
    np.save(os.path.join(EXPECTED, "librosa_mfcc_speech_wav.npy"), out, allow_pickle=False)
    print(f"librosa_mfcc_speech_wav: {out.shape} {out.dtype}")


def write_filter_goldens():
    entries = []
    for name, spec, sets, call, thunk in filter_cases():
        m = np.ascontiguousarray(thunk())
        fn = f"filters_{name}.npy"
        np.save(os.path.join(EXPECTED, fn), m, allow_pickle=False)
        entries.append({"name": name, "spec": spec, "sets": sets, "call": call, "expected": fn,
                        "shape": list(m.shape), "dtype": str(m.dtype)})
        print(f"filters {name}: {call} -> {m.shape} {m.dtype}")
    with open(os.path.join(FIX, "filters.json"), "w") as f:
        json.dump({"versions": versions(), "cases": entries}, f, indent=1)
        f.write("\n")


def main():
    if X64_WORKER:
        out_path = sys.argv[2]
        inputs = load_inputs_from_disk()
        res = {c["name"]: run_case(c, inputs) for c in CASES if c["x64"]}
        with open(out_path, "w") as f:
            json.dump(res, f)
        shutil.rmtree(_keras_home, ignore_errors=True)
        return

    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    for d in (INPUTS, EXPECTED):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    inputs = make_inputs()
    used = {c["input"] for c in CASES}
    for k in sorted(used):
        np.save(os.path.join(INPUTS, f"{k}.npy"), inputs[k], allow_pickle=False)
    unused = sorted(set(inputs) - used)
    if unused:
        print("unused inputs (not written):", unused)

    results = {}
    for c in CASES:
        if not c["x64"]:
            print(f"{c['name']}")
            results[c["name"]] = run_case(c, inputs)

    tmp = os.path.join(_keras_home, "x64.json")
    print("running JAX_ENABLE_X64=1 cases in a child process ...")
    subprocess.run([sys.executable, os.path.abspath(__file__), "--x64-worker", tmp], check=True)
    with open(tmp) as f:
        results.update(json.load(f))

    manifest = {
        "versions": versions(),
        "generator": "tests/golden/gen.py",
        "backend": "KERAS_BACKEND=jax, JAX on CPU; JAX_ENABLE_X64 unset unless a case's env says so",
        "cases": [results[c["name"]] for c in CASES],
    }
    with open(os.path.join(FIX, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")

    write_filter_goldens()
    write_speech_file_goldens()
    write_mfcc_speech_goldens()

    total = 0
    for root, _, files in os.walk(FIX):
        total += sum(os.path.getsize(os.path.join(root, fn)) for fn in files)
    n_err = sum("error" in r for r in results.values())
    print(f"{len(CASES)} cases ({n_err} error cases), fixtures total {total / 1e6:.2f} MB")
    assert total <= 12e6, "fixtures exceed 12 MB"
    shutil.rmtree(_keras_home, ignore_errors=True)


def main_only(prefixes):
    """Generates only the cases whose names start with one of `prefixes` (float32 cases, inputs
    read from disk) and merges their entries into manifest.json in CASES order; every other
    fixture file is left as it is. The library versions must equal the manifest's."""
    with open(os.path.join(FIX, "manifest.json")) as f:
        manifest = json.load(f)
    if manifest["versions"] != versions():
        sys.exit(f"library versions differ from the manifest's:\n  {versions()}\n  {manifest['versions']}")
    inputs = load_inputs_from_disk()
    chosen = [c for c in CASES if c["name"].startswith(tuple(prefixes))]
    assert chosen and not any(c["x64"] for c in chosen), "no cases, or an x64 case"
    for c in chosen:
        assert c["input"] in inputs, f"{c['name']}: input {c['input']} is not on disk"
    old = {e["name"]: e for e in manifest["cases"]}
    for c in chosen:
        print(c["name"])
        old[c["name"]] = run_case(c, inputs)
    manifest["cases"] = [old[c["name"]] for c in CASES if c["name"] in old]
    with open(os.path.join(FIX, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")
    shutil.rmtree(_keras_home, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--only"]:
        # gen.py --only PREFIX...: the named cases alone (plus --mfcc-speech for the wav golden).
        names = [a for a in sys.argv[2:] if a != "--mfcc-speech"]
        if names:
            main_only(names)
        if "--mfcc-speech" in sys.argv[2:]:
            write_mfcc_speech_goldens()
    elif sys.argv[1:] == ["--cli-only"]:
        # The filterbank and speech-file goldens alone, leaving the other fixtures be.
        write_filter_goldens()
        write_speech_file_goldens()
    else:
        main()
