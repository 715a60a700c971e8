#!/usr/bin/env bash
# Make examples/music.flac: 4.2 s of plucked chords (C, Am, F, G, C), 22050 Hz mono 16-bit, the
# music-like clip the README's figure shows (docs/img/music_librosa_mel.png comes from
# `specc run librosa_mel examples/music.flac -o docs/img/music_librosa_mel.png`).
#
# sox's `pluck` is a Karplus-Strong string, so each chord has the sharp onset and the decaying
# harmonics of a plucked instrument; `sox -R` seeds the noise that excites it the same way on
# every run, so a re-run gives the same samples. Each chord is made as one channel per note,
# mixed to mono, and the five chords are joined and normalised to -3 dBFS.
#
# Needs: apt-get install -y sox
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

chord() { # chord NAME SECONDS NOTE...
    local name=$1 secs=$2
    shift 2
    local args=()
    for n in "$@"; do args+=(pluck "$n"); done
    sox -R -n -r 22050 -b 16 -c $# "$tmp/$name-n.wav" synth "$secs" "${args[@]}"
    sox -R "$tmp/$name-n.wav" -c 1 "$tmp/$name.wav" remix -
}

chord 1 0.7 C3 E4 G4 C5
chord 2 0.7 A2 C4 E4 A4
chord 3 0.7 F2 A3 C5 F5
chord 4 0.7 G2 B3 D5 G5
chord 5 1.4 C3 G3 E4 C5
sox -R "$tmp/1.wav" "$tmp/2.wav" "$tmp/3.wav" "$tmp/4.wav" "$tmp/5.wav" "$here/music.flac" gain -n -3
