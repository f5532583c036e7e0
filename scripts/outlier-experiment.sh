#!/usr/bin/env bash
# Outlier detection on Fashion-MNIST (issue 4): train on the training images of classes 0–8, then
# tell the test images of class 9 (outliers) from those of classes 0–8 (inliers) by log-likelihood.
# MFA (l = 10) against a diagonal GMM (l = 0) with the same K and options. Needs python3 with numpy
# (only to split the classes) and `make build`. LATENTS="20 30" trains other l instead of 10 and 0.
#   scripts/outlier-experiment.sh [K] [extra mfa train options, not -l...]
set -euo pipefail
K=10
if [ $# -gt 0 ] && [[ $1 != -* ]]; then K=$1; shift; fi
for option in "$@"; do
  case $option in
    -l|--latent|-l*|--latent=*) echo "outlier-experiment.sh: give l through LATENTS, not $option" >&2; exit 2 ;;
  esac
done
F=/usr/share/datasets/fashion-mnist
OUT=${OUT:-out/outliers}
MFA=${MFA:-.build/release/mfa}
mkdir -p "$OUT"
python3 - "$F" "$OUT" <<'PY'
import gzip, sys, numpy as np
source, out = sys.argv[1], sys.argv[2]
def load(name, offset):
    return np.frombuffer(gzip.open(f"{source}/{name}").read()[offset:], dtype=np.uint8)
for split, prefix in (("train", "train"), ("test", "t10k")):
    images = load(f"{prefix}-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    labels = load(f"{prefix}-labels-idx1-ubyte.gz", 8)
    np.save(f"{out}/{split}-0-8.npy", images[labels != 9])
    np.save(f"{out}/{split}-9.npy", images[labels == 9])
PY
for latent in ${LATENTS:-10 0}; do
  "$MFA" train "$OUT/train-0-8.npy" --components "$K" --latent "$latent" --out "$OUT/k$K-l$latent.safetensors" "$@" | tail -1
  # Not inside echo's $(...): there set -e would not stop on a failed command.
  result=$("$MFA" outliers "$OUT/k$K-l$latent.safetensors" --inliers "$OUT/test-0-8.npy" \
        --outliers "$OUT/test-9.npy" --roc "$OUT/k$K-l$latent-roc.csv")
  echo "K=$K l=$latent: $result"
done
