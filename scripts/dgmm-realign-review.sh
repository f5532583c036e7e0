#!/usr/bin/env bash
# README's realignment check on data drawn another way (scripts/dgmm_numpy_draw.py, an outside
# review's numpy generator): three of its data sets, `dgmm train --restarts 3 --em-epochs 100
# --precision float64 --min-variance 1e-12` with and without --no-realign, seeds 0 and 1. Prints per
# run the true and fitted mean log-likelihood (scored exactly), the path ARI and the realignments
# kept. ~3 minutes on 2 cores.      OUT=out/realign-review scripts/dgmm-realign-review.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MFA=${MFA:-.build/release/mfa}
OUT=${OUT:-out/realign-review}
mkdir -p "$OUT"
draw() { python3 scripts/dgmm_numpy_draw.py --name "$OUT/$1" "${@:2}" > /dev/null; }
draw A --d 15 -c 3,3,2 -l 6,3,2 --noise 1e-2 --scale 1e4 --offset 3000 --seed 1
draw F --d 12 -c 2,3,2 -l 6,3,2 --noise 1e-7 --scale 10 --offset 2000 --seed 6
draw G --d 15 -c 3,3,2 -l 6,3,2 --noise 1e-2 --scale 1 --offset 1000 --sep 2 --seed 7
echo "data,seed,realign,truth_ll,fit_ll,ari,kept"
for set in "A 3,3,2 6,3,2" "F 2,3,2 6,3,2" "G 3,3,2 6,3,2"; do
  read -r name components latent <<< "$set"
  truth=$(python3 -c "import json; print(round(json.load(open('$OUT/$name.json'))['true_ll'], 4))")
  for seed in 0 1; do
    for realign in realign no-realign; do
      kept=$("$MFA" dgmm train "$OUT/$name.npy" -c "$components" -l "$latent" --restarts 3 --em-epochs 100 --precision float64 \
               --min-variance 1e-12 --seed "$seed" --"$realign" -o "$OUT/fit.safetensors" 2>&1 | awk '/realignments/ {print $7 "/" $9}')
      fit=$("$MFA" score "$OUT/fit.safetensors" "$OUT/$name.npy" --precision float64 2>/dev/null | awk '{print $3}')
      "$MFA" predict "$OUT/fit.safetensors" "$OUT/$name.npy" --precision float64 -o "$OUT/predicted.npy" > /dev/null 2>&1
      ari=$("$MFA" ari "$OUT/predicted.npy" "$OUT/${name}_labels.npy" 2>/dev/null | awk '{print $NF}')
      echo "$name,$seed,$realign,$truth,$fit,$ari,${kept:--}"
    done
  done
done
