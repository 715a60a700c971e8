#!/usr/bin/env bash
# Make examples/speech.wav (16 kHz mono 16-bit PCM) and examples/speech.npy (float32 in [-1, 1])
# from espeak-ng. Needs: apt-get install -y espeak-ng sox; python3 with numpy (the golden venv
# tests/golden/.venv has it and is used when present).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
text="${1:-specc turns speech into spectrograms}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# -s 150 words/min, default voice; espeak-ng writes 22050 Hz mono 16-bit.
espeak-ng -s 150 -w "$tmp/raw.wav" "$text"
# Resample to 16 kHz mono 16-bit; normalise to -1 dBFS; trim leading/trailing silence
# keeping 0.1 s, then pad 0.1 s on both ends so the clip starts/ends quiet.
sox -D "$tmp/raw.wav" -r 16000 -c 1 -b 16 -e signed-integer "$here/speech.wav" \
    silence 1 0.01 0.1% reverse silence 1 0.01 0.1% reverse pad 0.1 0.1 gain -n -1

py=python3
if [ -x "$here/../tests/golden/.venv/bin/python" ]; then py="$here/../tests/golden/.venv/bin/python"; fi
"$py" - "$here/speech.wav" "$here/speech.npy" <<'PY'
import sys, wave
import numpy as np
src, dst = sys.argv[1], sys.argv[2]
with wave.open(src, "rb") as w:
    assert w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getframerate() == 16000, w.getparams()
    pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
x = (pcm.astype(np.float32) / np.float32(32768.0)).astype(np.float32)
np.save(dst, x)
print(f"{dst}: {x.shape[0]} samples = {x.shape[0] / 16000:.3f} s, peak {np.abs(x).max():.3f}")
PY
