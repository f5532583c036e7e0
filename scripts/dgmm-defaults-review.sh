#!/usr/bin/env bash
# `dgmm train`'s defaults (k-means++ starts, 600 epochs, the last 400 exact EM) against the old
# ones (`--init random --epochs 300 --em-epochs 0`) on data not drawn by `mfa simulate` (an outside
# review's check, README "Deep Gaussian mixtures"): scikit-learn's wine, breast cancer, digits and
# iris, and a numpy draw of 3 clusters × 2 sub-clusters in a 5-dimensional subspace of d = 20,
# columns scaled 1…10⁴ and offset ~10³, noise 10⁻⁴ of the signal. `--restarts 3`, seeds 1 and 2,
# float32 and float64. Prints per run: the exact mean log-likelihood (`score --precision float64`),
# layer 1's ARI against the classes, the path ARI (the numpy draw only) and the seconds.
# Needs numpy and scikit-learn. ~6 minutes on 2 cores.   OUT=/tmp/r scripts/dgmm-defaults-review.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MFA=$(realpath "${MFA:-.build/release/mfa}")
OUT=${OUT:-out/dgmm-defaults-review}
mkdir -p "$OUT"
python3 - "$OUT" <<'PY'
import sys
import numpy as np
from sklearn import datasets
out = sys.argv[1]
for name, load in [("wine", datasets.load_wine), ("bc", datasets.load_breast_cancer),
                   ("digits", datasets.load_digits), ("iris", datasets.load_iris)]:
    x, y = load(return_X_y=True)
    np.save(f"{out}/{name}.npy", x.astype(np.float32)); np.save(f"{out}/{name}_y.npy", y.astype(np.int64))
rng = np.random.default_rng(42)
d, n, g1n, g2n = 20, 3000, 3, 2
top = rng.normal(0, 6, (g1n, 3)); sub = rng.normal(0, 2.5, (g1n, g2n, 3))
basis = np.linalg.qr(rng.normal(size=(d, 5)))[0]
g1 = rng.integers(0, g1n, n); g2 = rng.integers(0, g2n, n)
latent = np.zeros((n, 5))
latent[:, :3] = top[g1] + sub[g1, g2] + rng.normal(0, 0.5, (n, 3)) @ rng.normal(size=(3, 3)) * 0.5
latent[:, 3:] = rng.normal(0, 1.0, (n, 2)) * (1 + g2[:, None])
signal = latent @ basis.T
x = signal + rng.normal(0, 1e-4 * signal.std(), signal.shape)
scales = np.logspace(0, 4, d); rng.shuffle(scales)
x = x * scales + 1e3 + rng.normal(0, 50, d)
np.save(f"{out}/syn.npy", x.astype(np.float32)); np.save(f"{out}/syn_y.npy", g1.astype(np.int64))
np.save(f"{out}/syn_paths.npy", (g1 * g2n + g2).astype(np.int64))
PY
echo "data,defaults,precision,seed,ll,layer1_ari,path_ari,seconds" | tee "$OUT/results.csv"
for set in "wine 3,2 4,2" "bc 2,2 5,2" "digits 10,2 8,3" "iris 3,2 2,1" "syn 3,2 4,2"; do
  read -r name components latent <<< "$set"
  for defaults in new old; do
    extra=(); [ "$defaults" = old ] && extra=(--init random --epochs 300 --em-epochs 0)
    for precision in float32 float64; do
      for seed in 1 2; do
        start=$(date +%s.%N)
        "$MFA" dgmm train "$OUT/$name.npy" -c "$components" -l "$latent" --restarts 3 --seed "$seed" --precision "$precision" \
          --backend cpu "${extra[@]}" -o "$OUT/m.safetensors" > "$OUT/train.log" 2>&1
        seconds=$(python3 -c "print(round($(date +%s.%N) - $start, 1))")
        ll=$("$MFA" score "$OUT/m.safetensors" "$OUT/$name.npy" --precision float64 2>/dev/null | awk '{print $3}')
        "$MFA" predict "$OUT/m.safetensors" "$OUT/$name.npy" --layer 1 -o "$OUT/p.npy" > /dev/null 2>&1
        layer1=$("$MFA" ari "$OUT/p.npy" "$OUT/${name}_y.npy" | awk '{print $NF}')
        paths=""
        if [ "$name" = syn ]; then
          "$MFA" predict "$OUT/m.safetensors" "$OUT/$name.npy" --precision float64 -o "$OUT/p.npy" > /dev/null 2>&1
          paths=$("$MFA" ari "$OUT/p.npy" "$OUT/syn_paths.npy" | awk '{print $NF}')
        fi
        echo "$name,$defaults,$precision,$seed,$ll,$layer1,$paths,$seconds" | tee -a "$OUT/results.csv"
      done
    done
  done
done
