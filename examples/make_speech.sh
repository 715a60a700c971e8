#!/usr/bin/env bash
# Make the example clip and its encodings:
#   examples/speech.wav   16 kHz mono 16-bit PCM, from espeak-ng (a test fixture: see below)
#   examples/speech.npy   the same samples as float32 in [-1, 1) (int16 / 32768, as soundfile scales)
#   examples/speech.flac  lossless copy of speech.wav (sox)
#   examples/speech.mp3   64 kbit/s CBR MP3 of speech.wav (lame; LAME tag carries the encoder delay)
#   examples/speech.ogg   Ogg Vorbis quality 3 of speech.wav (oggenc; fixed stream serial)
#
# speech.wav and speech.npy are fixtures other tests depend on, and espeak-ng's output can differ
# between versions, so they are only made when speech.wav is missing or SPEECH_REGEN=1 is set
# (an explicit text argument also regenerates them). The encodings are always remade from
# speech.wav; every encoder is run with fixed settings so a re-run gives the same bytes.
#
# Needs: apt-get install -y espeak-ng sox libsox-fmt-all lame vorbis-tools; python3 with numpy (the
# golden venv tests/golden/.venv has it and is used when present) when speech.wav is regenerated.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if [ ! -f "$here/speech.wav" ] || [ "${SPEECH_REGEN:-0}" = 1 ] || [ $# -gt 0 ]; then
    text="${1:-specc turns speech into spectrograms}"
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
else
    echo "$here/speech.wav exists: kept (SPEECH_REGEN=1 remakes it and speech.npy)"
fi

# FLAC, lossless: the same 16-bit samples. -D: no dither (none is needed at the same bit depth).
sox -D "$here/speech.wav" -C 8 "$here/speech.flac"
# MP3, 64 kbit/s constant bit rate, 16 kHz mono kept as is; no ID3 tag. --nohist: quiet.
lame --quiet --nohist -b 64 --cbr -q 2 "$here/speech.wav" "$here/speech.mp3"
# Ogg Vorbis, quality 3; a fixed serial number (oggenc picks a random one otherwise) keeps
# the bytes reproducible.
oggenc --quiet -q 3 --serial 1 -o "$here/speech.ogg" "$here/speech.wav"

for f in speech.flac speech.mp3 speech.ogg; do
    printf '%s: %s bytes\n' "$here/$f" "$(wc -c < "$here/$f")"
done
