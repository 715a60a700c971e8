#!/usr/bin/env bash
# A/B of two specc builds in alternating processes (the order flips every round), one thread,
# `specc bench`'s own batch (16 x 10 s). Prints, per workload, the median of the process medians
# and the lowest process minimum (ms) of each build and their ratios.
#
#   benches/ab.sh OLD_BIN NEW_BIN [ROUNDS] [-- WORKLOAD...]
#   e.g. benches/ab.sh /tmp/specc-main target/release/specc 8 -- "keras_mel" "whisper"
#
# A workload is a spec and its --set flags as one string. Name the CPU next to any figure
# (lscpu), and compare within one run: this kind of VM changes speed by phases.
set -euo pipefail
old=$1 new=$2 rounds=${3:-8}
shift $(( $# < 3 ? $# : 3 ))
[ "${1:-}" = "--" ] && shift
if [ $# -gt 0 ]; then W=("$@"); else
  W=("keras_mel" "whisper" "librosa_mfcc" "librosa_mfcc --set deltas=2" "torchaudio_mfcc --set deltas=2"
     "kaldi_fbank --set subtract_mean=true" "kaldi_fbank")
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for r in $(seq 1 "$rounds"); do
  for i in "${!W[@]}"; do
    order=(old new)
    [ $((r % 2)) = 0 ] && order=(new old)
    for b in "${order[@]}"; do
      bin=$old; [ "$b" = new ] && bin=$new
      # shellcheck disable=SC2086
      echo "$i $b $("$bin" bench ${W[$i]} --runs 20 --threads 1 2>&1 | awk '/compute/ {print $2, $5}')" >> "$out"
    done
  done
done
python3 - "$out" "${W[@]}" <<'PY'
import statistics as st, sys
path, names = sys.argv[1], sys.argv[2:]
d = {}
for line in open(path):
    i, b, med, mn = line.split()
    d.setdefault((int(i), b), []).append((float(med), float(mn)))
print("| workload | old median | new median | new / old | old min | new min | new / old |")
print("|---|---:|---:|---:|---:|---:|---:|")
for i, w in enumerate(names):
    o = st.median(x[0] for x in d[(i, "old")]); n = st.median(x[0] for x in d[(i, "new")])
    om = min(x[1] for x in d[(i, "old")]); nm = min(x[1] for x in d[(i, "new")])
    print(f"| {w} | {o:.2f} | {n:.2f} | {n / o:.3f} | {om:.2f} | {nm:.2f} | {nm / om:.3f} |")
PY
