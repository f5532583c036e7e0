#!/usr/bin/env bash
# README's wide-range table: every algorithm on data from `mfa simulate mfa` with column scales
# in [1, 10⁴] and offsets in [−1000, 1000], at several signal-to-noise ratios, in float32 and in
# float64 (--precision), from its own start and from the true model (T); the mean log-likelihood
# per sample of the training data, scored in float64 (exact). The variance floor is lowered to
# 1e-12 (MIN_VARIANCE): at R = 10⁶ the true noise variances of the unit-scale columns (~10⁻⁵)
# lie below the default 10⁻³.   SNRS="1e2 1e4 1e6 1e8" PRECISIONS="float32 float64" scripts/wide-range.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MFA=${MFA:-.build/release/mfa}
OUT=${OUT:-out/wide-range}
MIN_VARIANCE=${MIN_VARIANCE:-1e-12}
mkdir -p "$OUT"
score() { "$MFA" score "$1" "$OUT/data.npy" --precision float64 2>/dev/null | awk '{print $3}'; }
echo "| R | precision | truth | online-em | online-em (T) | em | em (T) | sgd | sgd (T) |"
echo "|---|---|---|---|---|---|---|---|---|"
for snr in ${SNRS:-1e2 1e4 1e6 1e8}; do
  "$MFA" simulate mfa -c 3 -l 2 -d 10 --count 6000 --seed 1 --signal-to-noise "$snr" --column-scale 1e4 --offset 1000 \
    -o "$OUT/data.npy" --model "$OUT/truth.safetensors" > /dev/null
  truth=$(score "$OUT/truth.safetensors")
  for precision in ${PRECISIONS:-float32 float64}; do
    line="| $snr | $precision | $truth |"
    for algorithm in online-em em sgd; do
      for from in "" "--from $OUT/truth.safetensors"; do
        rm -f "$OUT/model.safetensors"
        "$MFA" train "$OUT/data.npy" -c 3 -l 2 --algorithm "$algorithm" --precision "$precision" --min-variance "$MIN_VARIANCE" \
          $from -o "$OUT/model.safetensors" > /dev/null 2>&1 || true
        value=$( [ -f "$OUT/model.safetensors" ] && score "$OUT/model.safetensors" || true)
        line="$line ${value:-failed} |"
      done
    done
    echo "$line"
  done
done
