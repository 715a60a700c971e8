#!/usr/bin/env python3
"""Streaming goldens from an independent online implementation: kaldi-native-fbank's
`OnlineFbank` (a C++ port of Kaldi's online feature pipeline), fed in chunks.

For each case it records, after every chunk, how many frames `OnlineFbank` has ready, and at
the end (after `input_finished()`) every frame. `tests/stream.rs` streams the same samples in the
same chunks through `specc stream`'s Rust API and checks both: the frames each push emits (a
frame comes out in the push that completes it) and their values (the Kaldi goldens' "log"
tolerance).

Writes tests/golden/fixtures/stream/<name>.npy and tests/golden/fixtures/stream/manifest.json.
Usage: bash tests/golden/setup.sh; python3 tests/golden/gen_stream.py
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VENV_PY = os.path.join(HERE, ".venv", "bin", "python")
if os.path.exists(VENV_PY) and os.path.realpath(sys.prefix) != os.path.realpath(os.path.join(HERE, ".venv")):
    os.execv(VENV_PY, [VENV_PY, os.path.abspath(__file__)] + sys.argv[1:])

import kaldi_native_fbank as knf  # noqa: E402
import numpy as np  # noqa: E402

FIX = os.path.join(HERE, "fixtures")
OUT = os.path.join(FIX, "stream")

# (name, input fixture (channels, samples) float32, channel, specc --set, knf options, chunks).
# Chunk sizes cycle until the signal ends: 0 and 1, primes, a frame shift, more than a frame.
CASES = [
    ("knf_default", "speech_1x16000_kaldi_f32.npy", {}, {}, [160, 1, 0, 997, 3200, 7]),
    (
        "knf_40_bins_energy",
        "speech_1x16000_kaldi_f32.npy",
        {"num_mel_bins": "40", "use_energy": "true", "energy_floor": "0.0"},
        {"num_bins": 40, "use_energy": True, "energy_floor": 0.0},
        [401, 13, 2048],
    ),
    (
        "knf_hamming_no_dc_shift_7_5",
        "noise_1x4000_kaldi_f32.npy",
        {"window_type": "hamming", "remove_dc_offset": "false", "frame_shift": "7.5"},
        {"window_type": "hamming", "remove_dc_offset": False, "frame_shift_ms": 7.5},
        [50, 120, 0, 1, 333],
    ),
]


def options(kw):
    o = knf.FbankOptions()
    o.frame_opts.dither = 0.0  # specc rejects dither (random); Kaldi's default here is 3e-5
    o.frame_opts.samp_freq = 16000
    for k, v in kw.items():
        if k in ("num_bins",):
            setattr(o.mel_opts, k, v)
        elif k in ("window_type", "remove_dc_offset", "frame_shift_ms"):
            setattr(o.frame_opts, k, v)
        else:
            setattr(o, k, v)
    return o


def main():
    os.makedirs(OUT, exist_ok=True)
    manifest = {"generator": "tests/golden/gen_stream.py", "kaldi_native_fbank": knf.__version__
                if hasattr(knf, "__version__") else "1.23.0", "cases": []}
    for name, inp, sets, kw, chunks in CASES:
        x = np.load(os.path.join(FIX, "inputs", inp))
        assert x.dtype == np.float32 and x.ndim == 2 and x.shape[0] == 1, inp
        sig = x[0]
        fb = knf.OnlineFbank(options(kw))
        ready, sizes, at, i = [], [], 0, 0
        while at < sig.size:
            c = min(chunks[i % len(chunks)], sig.size - at)
            i += 1
            fb.accept_waveform(16000, sig[at:at + c].tolist())
            at += c
            sizes.append(c)
            ready.append(fb.num_frames_ready)
        fb.input_finished()
        frames = np.array([fb.get_frame(t) for t in range(fb.num_frames_ready)], dtype=np.float32)
        np.save(os.path.join(OUT, f"{name}.npy"), frames)
        manifest["cases"].append({
            "name": name, "spec": "kaldi_fbank", "input": f"inputs/{inp}", "set": sets,
            "chunks": sizes, "frames_ready": ready, "frames_at_finish": int(fb.num_frames_ready),
            "expected": f"stream/{name}.npy", "shape": list(frames.shape),
            "call": f"kaldi_native_fbank.OnlineFbank({kw}) (dither=0), accept_waveform per chunk",
        })
        print(name, frames.shape, "ready after chunks:", ready[:6], "...")
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


main()
