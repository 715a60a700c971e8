#!/usr/bin/env bash
# Writes the seed corpora into fuzz/corpus/TARGET/ (nothing binary is committed).
set -euo pipefail
cd "$(dirname "$0")"
root=..
mkdir -p corpus/spec corpus/npy corpus/audio corpus/expr

# spec: each shipped spec's text, each preset by name with a few --set lines (NUL-separated).
for f in "$root"/specs/*.spec; do cp "$f" "corpus/spec/$(basename "$f")"; done
seed() { printf '%s' "$1" > "corpus/spec/$2"; }
seed $'keras_mel\0fft_length=1024\0num_mel_bins=64' keras_sets
seed $'keras_mel\0sequence_length=400\0window=hamming\0max_freq=none' keras_sets2
seed $'keras_stft\0mode=psd\0frame_length=255\0fft_length=256\0padding=same' stft_sets
seed $'keras_stft\0data_format=channels_first\0expand_dims=true\0scaling=spectrum' stft_sets2
seed $'librosa_mel\0n_fft=512\0hop_length=128\0center=false\0htk=true\0norm=none' librosa_sets
seed $'torchaudio_mel\0n_fft=400\0pad=100\0normalized=true\0stype=magnitude' torch_sets
seed $'whisper\0n_mels=128\0padding=16000' whisper_sets
seed $'kaldi_fbank\0frame_length=20\0round_to_power_of_two=false\0window_type=hamming' kaldi_sets

# expr: the repeat count (byte 0, times 157 when byte 1 is odd), a byte choosing the parameter,
# then open\0core\0close.
expr() { printf "$1" > "corpus/expr/$2"; }
expr '\x05\x01\x00(\x001\x00)' parens_700
expr '\x05\x00\x00(\x00-9223372036854775807 - 1\x00) // -1' min_div
expr '\x01\x00\x00\x007 %% -2\x00' rem_neg
expr '\x40\x01\x011 +\x001\x00' plus_10k
expr '\xbf\x01\x00-\x001\x00' neg_30k
expr '\xff\x00\x04not \x00true\x00' not_256
expr '\x40\x00\x03if true {\x00hann\x00} else {hamming}' if_64
expr '\x20\x00\x00int(\x001e300\x00)' int_nested
expr '\x08\x00\x02\x00none ?? 8000 Hz\x00' coalesce
expr '\x03\x00\x01max(2, \x0010\x00)' max_nested

# npy: the golden inputs (small ones) and the example.
for f in "$root"/tests/golden/fixtures/inputs/*.npy; do
    [ "$(stat -c %s "$f")" -le 70000 ] && cp "$f" corpus/npy/
done

# audio: the first byte picks the extension (0 wav, 1 flac, 2 mp3, 3 ogg), the rest is the file.
i=0
for ext in wav flac mp3 ogg; do
    { printf "\\x0$i"; cat "$root/examples/speech.$ext"; } | head -c 131072 > "corpus/audio/speech_$ext"
    i=$((i + 1))
done
python3 - <<'PY'
import struct
def wav(name, channels, rate, bits, fmt, frames):
    width = bits // 8
    data = bytes((i * 37) % 256 for i in range(channels * frames * width))
    block = channels * width
    fmt_chunk = struct.pack('<HHIIHH', fmt, channels, rate, rate * block, block, bits)
    body = b'WAVE' + b'fmt ' + struct.pack('<I', 16) + fmt_chunk + b'data' + struct.pack('<I', len(data)) + data
    open('corpus/audio/' + name, 'wb').write(b'\x00' + b'RIFF' + struct.pack('<I', len(body)) + body)
wav('u8_mono', 1, 8000, 8, 1, 64)
wav('i16_stereo', 2, 16000, 16, 1, 64)
wav('i24_mono', 1, 44100, 24, 1, 64)
wav('i32_3ch', 3, 48000, 32, 1, 32)
wav('f32_mono', 1, 16000, 32, 3, 64)
wav('f64_mono', 1, 16000, 64, 3, 32)
wav('alaw', 1, 8000, 8, 6, 64)
PY
