#!/usr/bin/env bash
# Fashion-MNIST test log-likelihood against wall time for online-em, sgd and em at K = 50 and
# l = 10, 20 (README's time-to-quality table and plot). Not a test: it takes ~20 minutes.
#   SEEDS="1 2 3" LATENTS="10 20" scripts/time-to-quality.sh
# Each (algorithm, l, seed) trains twice: once plain, timed as a whole process (loading,
# initialisation, training, writing) and scored with `mfa score` on the 10,000 test images; once
# with the test images as --validation (reported only, never used) for the --history curve.
# scikit-learn's diagonal GaussianMixture (K = 50, reg_covar 1e-3) is fitted in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
F=${FASHION:-/usr/share/datasets/fashion-mnist}
OUT=${OUT:-out/time-to-quality}
MFA=.build/release/mfa
SEEDS=${SEEDS:-1 2 3}
LATENTS=${LATENTS:-10 20}
ALGORITHMS=${ALGORITHMS:-online-em sgd em}
mkdir -p "$OUT"
python3 -c 'import matplotlib, sklearn' 2>/dev/null || python3 -m pip install --quiet matplotlib scikit-learn
echo "algorithm,latent,seed,seconds,test_ll" > "$OUT/runs.csv"
for l in $LATENTS; do
  for algorithm in $ALGORITHMS; do
    for seed in $SEEDS; do
      start=$(date +%s.%N)
      "$MFA" train "$F/train-images-idx3-ubyte.gz" -c 50 -l "$l" --algorithm "$algorithm" --seed "$seed" \
        -o "$OUT/model.safetensors" > "$OUT/train.log" 2>&1
      end=$(date +%s.%N)
      test_ll=$("$MFA" score "$OUT/model.safetensors" "$F/t10k-images-idx3-ubyte.gz" 2>/dev/null | awk '{print $3}')
      seconds=$(python3 -c "print(round($end - $start, 2))")
      echo "$algorithm,$l,$seed,$seconds,$test_ll" | tee -a "$OUT/runs.csv"
      if [ "$seed" = "$(echo $SEEDS | awk '{print $1}')" ]; then
        "$MFA" train "$F/train-images-idx3-ubyte.gz" -c 50 -l "$l" --algorithm "$algorithm" --seed "$seed" \
          --validation "$F/t10k-images-idx3-ubyte.gz" --history "$OUT/$algorithm-l$l.csv" \
          -o "$OUT/model.safetensors" > "$OUT/train.log" 2>&1
      fi
    done
  done
done
python3 scripts/time_to_quality.py "$F" "$OUT"
