#!/usr/bin/env bash
# The DGMM paper's experiment shape (issue 5): N = 4000, d = 17, components 3,3,2, latent 11,6,2,
# data from `mfa simulate dgmm`. Trains RUNS independent fits (each one random start: --restarts 1,
# seeds 1…RUNS) and summarises the ARI of the MAP path against the true path, the ARI of each
# layer's component on it against the true labels of that layer, the training log-likelihood
# against the true model's, and the seconds per fit. Last, one fit started from the true model
# (--from, default options), for the log-likelihood and labels training keeps there. Needs `make build`; nothing else.
#   scripts/dgmm-experiment.sh [RUNS] [extra `mfa dgmm train` options...]
set -euo pipefail
RUNS=${1:-20}; shift || true
OUT=${OUT:-out/dgmm}
MFA=${MFA:-.build/release/mfa}
DATA_SEED=${DATA_SEED:-1}
SEPARATION=${SEPARATION:-2}
mkdir -p "$OUT"
shape=(--components 3,3,2 --latent 11,6,2)
"$MFA" simulate dgmm "${shape[@]}" --dimension 17 --count 4000 --seed "$DATA_SEED" --separation "$SEPARATION" \
  --out "$OUT/data.npy" --labels "$OUT/paths.npy" --layer-labels "$OUT/layers.npy" --model "$OUT/true.safetensors"
mean_ll() { "$MFA" score "$1" "$OUT/data.npy" 2>/dev/null | awk '{print $3}'; }
true_ll=$(mean_ll "$OUT/true.safetensors")
"$MFA" predict "$OUT/true.safetensors" "$OUT/data.npy" --out "$OUT/true-map.npy" >/dev/null 2>&1
echo "true model: log-likelihood $true_ll per sample, MAP-path ARI $("$MFA" ari "$OUT/paths.npy" "$OUT/true-map.npy")"
# The ARIs of a model's MAP paths and of each layer's component on them: "path layer1 layer2 layer3".
aris() {
  "$MFA" predict "$1" "$OUT/data.npy" --out "$OUT/map.npy" >/dev/null 2>&1
  printf "%s" "$("$MFA" ari "$OUT/paths.npy" "$OUT/map.npy")"
  for layer in 1 2 3; do
    "$MFA" predict "$1" "$OUT/data.npy" --layer "$layer" --out "$OUT/map.npy" >/dev/null 2>&1
    printf " %s" "$("$MFA" ari "$OUT/layers.npy" "$OUT/map.npy" --layer "$layer")"
  done
}
printf "%-4s %10s %8s %8s %8s %8s %8s\n" run train-LL path-ARI layer1 layer2 layer3 seconds
rows="$OUT/runs.txt"; : > "$rows"
for run in $(seq 1 "$RUNS"); do
  model="$OUT/fit$run.safetensors"
  start=$(date +%s.%N)
  "$MFA" dgmm train "$OUT/data.npy" "${shape[@]}" --seed "$run" --out "$model" "$@" >/dev/null 2>&1
  seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
  read -r path_ari layer1 layer2 layer3 <<< "$(aris "$model")"
  printf "%-4s %10s %8s %8s %8s %8s %8.1f\n" "$run" "$(mean_ll "$model")" "$path_ari" "$layer1" "$layer2" "$layer3" "$seconds" \
    | tee -a "$rows"
done
summary() {  # column of runs.txt → min / median / max
  sort -g -k"$1","$1" "$rows" | awk -v c="$1" '{v[NR]=$c} END {m = NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; printf "%s / %s / %s", v[1], m, v[NR]}'
}
echo "over $RUNS runs, min / median / max:"
echo "  MAP-path ARI:        $(summary 3)"
echo "  layer-1 ARI:         $(summary 4)"
echo "  layer-2 ARI:         $(summary 5)"
echo "  layer-3 ARI:         $(summary 6)"
echo "  train log-likelihood: $(summary 2)   (true model: $true_ll)"
echo "  seconds per fit:     $(summary 7)"
"$MFA" dgmm train "$OUT/data.npy" "${shape[@]}" --from "$OUT/true.safetensors" --out "$OUT/from-true.safetensors" >/dev/null 2>&1
echo "started from the true model: train log-likelihood $(mean_ll "$OUT/from-true.safetensors"), ARIs path layer1 layer2 layer3: $(aris "$OUT/from-true.safetensors")"
