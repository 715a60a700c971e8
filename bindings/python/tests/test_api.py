"""The API: shapes, dtypes and the errors a user gets; Python spellings of values; the
library-shaped wrappers; audio files."""

from __future__ import annotations

import os
import subprocess
import sys
import types

import numpy as np
import pytest

import specc
from conftest import EXAMPLES, FIXTURES


def clip(n=16000, seed=0, lead=()):
    return np.random.default_rng(seed).standard_normal((*lead, n)).astype(np.float32)


def test_issue_example():
    assert specc.preset("keras_mel")(np.zeros(16000, np.float32)).shape == (128, 32)
    mel = specc.preset("keras_mel", num_mel_bins=64, sampling_rate=8000)
    assert mel(np.zeros((2, 8000), np.float32)).shape == (2, 64, 16)


def test_dtypes_follow_the_library():
    x = clip()
    # Keras casts int16 by value; librosa rejects integers; Whisper takes float32 only.
    assert specc.preset("keras_mel")(x.astype(np.int16)).dtype == np.float32
    with pytest.raises(TypeError, match="int16"):
        specc.preset("librosa_mel")(x.astype(np.int16))
    with pytest.raises(TypeError, match="float64"):
        specc.whisper.log_mel_spectrogram(x.astype(np.float64))
    with pytest.raises(TypeError, match="int32"):
        specc.preset("keras_mel")(x.astype(np.int32))
    assert specc.preset("librosa_mel")(x.astype(np.float64)).dtype == np.float64
    assert specc.preset("keras_mel", dtype="float64")(x).dtype == np.float64


def test_shape_errors_are_value_errors():
    with pytest.raises(ValueError, match="empty"):
        specc.preset("keras_mel")(np.zeros(0, np.float32))
    with pytest.raises(ValueError):
        specc.kaldi.fbank(np.zeros(16000, np.float32))  # needs (channels, samples)
    with pytest.raises(TypeError, match="numpy array"):
        specc.preset("keras_mel")._core.run([1.0, 2.0])


def test_strided_views_equal_contiguous_copies():
    p = specc.preset("librosa_mel", sr=16000)
    base = clip(32000, lead=(4,))
    for view in (base[::2], base[:, ::2], base[::-1], np.asfortranarray(base)):
        np.testing.assert_array_equal(p(view), p(np.ascontiguousarray(view)))


def test_unknown_kwarg_lists_the_valid_ones():
    with pytest.raises(TypeError) as e:
        specc.preset("keras_mel", num_mel_bin=64)
    assert "num_mel_bin" in str(e.value) and "num_mel_bins" in str(e.value) and "fft_length" in str(e.value)
    with pytest.raises(TypeError, match="n_mels"):
        specc.librosa.melspectrogram(y=clip(), sr=16000, n_mel=40)


def test_spec_error_is_the_cli_diagnostic(cli):
    with pytest.raises(specc.SpecError) as e:
        specc.preset("keras_mel", num_mel_bins=-3)
    assert isinstance(e.value, ValueError)
    r = subprocess.run([str(cli), "run", "keras_mel", str(EXAMPLES / "speech.npy"), "-o", os.devnull,
                        "--set", "num_mel_bins=-3"], capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    assert r.returncode != 0
    assert str(e.value) == r.stderr.strip()
    assert "╰──" in str(e.value) and "help:" in str(e.value)


def test_bad_spec_text_points_at_line_and_column():
    with pytest.raises(specc.SpecError, match=r"<spec>:1:"):
        specc.compile("input x: f32[samples]\noutput x |> nosuchop()\n")


def test_python_spellings():
    x = clip()
    librosa_max = specc.preset("librosa_mel", sr=16000, ref=np.max)(x)
    assert np.array_equal(librosa_max, specc.preset("librosa_mel", sr=16000, ref="max")(x))
    assert librosa_max.max() == 0.0
    # None, True/False, numpy scalars.
    a = specc.preset("librosa_mel", sr=16000, fmax=None, center=True, n_mels=np.int64(40))(x)
    assert np.array_equal(a, specc.preset("librosa_mel", sr=16000, n_mels=40)(x))
    # torch.hann_window as written in Python, and as a string, and a stand-in callable.
    fake_torch_window = types.FunctionType((lambda: None).__code__, {}, "hann_window")
    fake_torch_window.__module__ = "torch.functional"
    ref = specc.torchaudio.MelSpectrogram()(x)
    for w in ("torch.hann_window", "hann_window", fake_torch_window):
        assert np.array_equal(specc.torchaudio.MelSpectrogram(window_fn=w)(x), ref)
    with pytest.raises(specc.SpecError, match="accepts"):
        specc.preset("librosa_mel", ref=np.mean)
    with pytest.raises(specc.SpecError):
        specc.preset("librosa_mel", ref=lambda s: s.max())


def test_out_plan_params_graph_run_many():
    p = specc.preset("whisper")
    x = clip(lead=(2,))
    plan = p.plan(x.shape, x.dtype)
    assert plan["shape"] == (2, 80, 100) and plan["dtype"] == "float32" and plan["frames"] == 100
    buf = np.empty(plan["shape"], np.float32)
    assert p(x, out=buf) is buf
    np.testing.assert_array_equal(buf, p(x))
    with pytest.raises(ValueError, match="needs shape"):
        p(x, out=np.empty((2, 80, 99), np.float32))
    with pytest.raises(ValueError, match="dtype"):
        p(x, out=np.empty(plan["shape"], np.float64))
    assert p.params == {"n_mels": "80", "padding": "0"}
    assert "stft" in p.graph().lower() or "fft" in p.graph().lower()
    assert p.graph("all") != ""
    ys = p.run_many([x[0], x[1], clip(8000)])
    np.testing.assert_array_equal(ys[0], p(x)[0])
    assert ys[2].shape == (80, 50)
    with pytest.raises(ValueError, match="input 1"):
        p.run_many([x[0], np.zeros(0, np.float32)])


def test_wrappers_equal_presets():
    x = clip(22050)
    np.testing.assert_array_equal(
        specc.librosa.melspectrogram_db(y=x, sr=22050, ref=np.max), specc.preset("librosa_mel", ref=np.max)(x))
    np.testing.assert_array_equal(
        specc.librosa.melspectrogram(y=x, sr=22050), specc.preset("librosa_mel", power_to_db=False)(x))
    np.testing.assert_array_equal(specc.librosa.stft_db(x, n_fft=512), specc.preset("librosa_stft", n_fft=512)(x))
    np.testing.assert_array_equal(specc.keras.MelSpectrogram(num_mel_bins=64)(x),
                                  specc.preset("keras_mel", num_mel_bins=64)(x))
    np.testing.assert_array_equal(specc.kaldi.fbank(x[None]), specc.preset("kaldi_fbank")(x[None]))
    np.testing.assert_array_equal(specc.whisper.log_mel_spectrogram(x, n_mels=128),
                                  specc.preset("whisper", n_mels=128)(x))


def test_torch_in_torch_out():
    torch = pytest.importorskip("torch")
    x = torch.from_numpy(clip())
    y = specc.preset("whisper")(x)
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float32
    np.testing.assert_array_equal(y.numpy(), specc.preset("whisper")(x.numpy()))
    # A contiguous CPU float32 tensor is read in place, not copied.
    assert np.shares_memory(specc._as_numpy(x), x.numpy())
    out = torch.empty(tuple(y.shape), dtype=torch.float32)
    assert specc.preset("whisper")(x, out=out) is out
    assert torch.equal(out, y)


def test_jax_arrays_are_read_in_place():
    jnp = pytest.importorskip("jax.numpy")
    x = jnp.asarray(clip())
    a = specc._as_numpy(x)
    assert a.dtype == np.float32 and np.shares_memory(a, np.from_dlpack(x))
    np.testing.assert_array_equal(specc.preset("whisper")(x), specc.preset("whisper")(clip()))


def test_load_audio_and_resampling():
    y, sr = specc.load_audio(EXAMPLES / "speech.wav")
    assert sr == 16000 and y.dtype == np.float32 and y.ndim == 1
    np.testing.assert_allclose(y, np.load(EXAMPLES / "speech.npy").astype(np.float32).ravel()[: y.size], atol=1e-4)
    y8, sr8 = specc.load_audio(EXAMPLES / "speech.flac", sr=8000)
    assert sr8 == 8000 and abs(y8.size - y.size / 2) <= 1
    data = (EXAMPLES / "speech.wav").read_bytes()
    yb, _ = specc.decode_audio(data, "wav")
    np.testing.assert_array_equal(yb, y)
    # Whisper's own call shape: a path is loaded at 16 kHz.
    np.testing.assert_array_equal(specc.whisper.log_mel_spectrogram(str(EXAMPLES / "speech.wav")),
                                  specc.preset("whisper")(y))
    with pytest.raises(OSError, match="nosuch"):
        specc.load_audio("nosuch.wav")


def test_threads_from_argument_and_environment(monkeypatch):
    cores = os.cpu_count() or 1
    monkeypatch.delenv("SPECC_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert specc.preset("whisper").threads == cores == specc.resolve_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert specc.preset("whisper").threads == 1
    monkeypatch.setenv("SPECC_NUM_THREADS", "2")
    assert specc.resolve_threads() == min(2, cores)
    assert specc.preset("whisper", threads=1).threads == 1
    monkeypatch.setenv("SPECC_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="SPECC_NUM_THREADS"):
        specc.preset("whisper")


def test_presets_and_load():
    assert "whisper" in specc.presets()
    p = specc.load(FIXTURES.parents[2] / "specs" / "whisper.spec")
    np.testing.assert_array_equal(p(clip()), specc.preset("whisper")(clip()))
    with pytest.raises(OSError, match="whipser"):
        specc.preset("whipser")


def test_stream_in_chunks_equals_the_offline_run():
    """mel.stream(): chunks of any size (0, 1, primes, more than the signal), frames out as
    they complete; concatenated, the offline result bit for bit."""
    mel = specc.preset("torchaudio_mel", n_mels=40)
    x = clip(9000, seed=3, lead=(2,))
    st = mel.stream()
    parts, at, sizes = [], 0, [0, 1, 7, 160, 997, 20000]
    i = 0
    while at < x.shape[-1] or not parts:
        b = min(at + sizes[i % len(sizes)], x.shape[-1])
        parts.append(st.push(x[:, at:b]))
        at, i = b, i + 1
    parts.append(st.finish())
    got = np.concatenate(parts, axis=st.time_axis)
    want = mel(x)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    assert (st.latency, st.warmup) == (200, 201)


def test_stream_refuses_a_clip_and_defers_it():
    whisper = specc.preset("whisper")
    with pytest.raises(specc.SpecError, match="cannot stream exactly"):
        whisper.stream()
    x = clip(16000, seed=4)
    st = whisper.stream(deferred=True)
    parts = [st.push(c) for c in np.array_split(x, 7)] + [st.finish()]
    got = st.apply_clip(np.concatenate(parts, axis=st.time_axis))
    assert np.array_equal(got, whisper(x))
    st = whisper.stream(clip="deferred")
    parts = [st.push(c) for c in np.array_split(x, 3)] + [st.finish()]
    assert np.array_equal(st.apply_clip(np.concatenate(parts, axis=1)), whisper(x))


def test_stream_running_clip():
    """clip="running": each push's frames clipped against the maximum so far, by hand from the
    deferred mode's unclipped frames: (max(u, m - 8) + 4) / 4."""
    whisper = specc.preset("whisper")
    t = np.arange(16000)
    x = (clip(16000, seed=5) * np.where((t // 800) % 2 == 0, 10.0 ** (-6 + 6 * t / 16000), 1e-7)).astype(np.float32)
    chunks = np.array_split(x, 9)
    run = whisper.stream(clip="running")
    raw = whisper.stream(clip="deferred")
    m = -np.inf
    for c in chunks + [None]:
        r = run.finish() if c is None else run.push(c)
        u = raw.finish() if c is None else raw.push(c)
        if u.size:
            m = max(m, float(u.max()))
        want = np.maximum(u, np.float32(m - 8.0)) * np.float32(0.25) + np.float32(1.0)
        assert np.array_equal(r, want)
    with pytest.raises(ValueError, match="running"):
        whisper.stream(clip="runing")
    with pytest.raises(ValueError, match="running clip mode needs a clip"):
        specc.preset("kaldi_fbank").stream(clip="running")


def test_stream_group():
    """group=n: pushes return multiples of n frames, finish the rest; the values are the
    offline run's bit for bit. group="block" is the kernels' block."""
    mel = specc.preset("torchaudio_mel", n_mels=40)
    x = clip(9000, seed=6)
    for group in ("block", 3):
        st = mel.stream(group=group)
        n = st.block_frames if group == "block" else 3
        assert st.group == n and n >= 2
        parts = [st.push(c) for c in np.array_split(x, 60)]
        assert all(p.shape[st.time_axis] % n == 0 for p in parts)
        got = np.concatenate(parts + [st.finish()], axis=st.time_axis)
        assert np.array_equal(got.view(np.uint32), mel(x).view(np.uint32))
    with pytest.raises(ValueError, match="group"):
        mel.stream(group=0)


def test_stream_deltas():
    """A deltas stage streams (frames held until the frames their derivatives read have come),
    equal to the offline run bit for bit."""
    mfcc = specc.preset("torchaudio_mfcc", log_mels=True, deltas=2)
    x = clip(8000, seed=7)
    st = mfcc.stream()
    parts = [st.push(c) for c in np.array_split(x, 23)] + [st.finish()]
    got = np.concatenate(parts, axis=st.time_axis)
    assert np.array_equal(got.view(np.uint32), mfcc(x).view(np.uint32))
    assert st.latency == 200 + 4 * 200


def test_compile_object_for_c():
    p = specc.preset("keras_mel", num_mel_bins=40)
    out = p.compile_object()
    assert out["object"][:4] == b"\x7fELF"
    assert "specc_keras_mel_program" in out["symbols"]
    assert "static inline int specc_keras_mel_run_f32(" in out["header"]
    ios = p.compile_object(name="mel", target="aarch64-apple-ios")
    assert ios["triple"].startswith("aarch64-apple-ios")
    assert ios["object"][:4] == b"\xcf\xfa\xed\xfe"  # 64-bit Mach-O
    assert sorted(s.replace("mel", "keras_mel", 1) for s in ios["symbols"]) == sorted(out["symbols"])
    with pytest.raises(ValueError, match="unknown cpu"):
        p.compile_object(cpu="pentium")
    with pytest.raises(ValueError, match="cannot name C symbols"):
        p.compile_object(name="9lives")
