#!/usr/bin/env bash
# README's wide-range table: every algorithm on data from `mfa simulate mfa` with column scales
# in [1, 10⁴] and offsets in [−1000, 1000], at several signal-to-noise ratios, from its own start
# and from the true model (T); the mean log-likelihood per sample of the training data.
set -euo pipefail
cd "$(dirname "$0")/.."
MFA=${MFA:-.build/release/mfa}
OUT=${OUT:-out/wide-range}
mkdir -p "$OUT"
for snr in ${SNRS:-1e2 1e3 1e4 1e6}; do
  "$MFA" simulate mfa -c 3 -l 2 -d 10 --count 6000 --seed 1 --signal-to-noise "$snr" --column-scale 1e4 --offset 1000 \
    -o "$OUT/data.npy" --model "$OUT/truth.safetensors" > /dev/null
  line="R $snr: truth $("$MFA" score "$OUT/truth.safetensors" "$OUT/data.npy" 2>/dev/null | awk '{print $3}')"
  for algorithm in online-em em sgd; do
    for from in "" "--from $OUT/truth.safetensors"; do
      rm -f "$OUT/model.safetensors"
      "$MFA" train "$OUT/data.npy" -c 3 -l 2 --algorithm "$algorithm" $from -o "$OUT/model.safetensors" > /dev/null 2>&1 || true
      score=$("$MFA" score "$OUT/model.safetensors" "$OUT/data.npy" 2>/dev/null | awk '{print $3}' || true)
      line="$line  $algorithm${from:+ (T)} ${score:-failed}"
    done
  done
  echo "$line"
done
