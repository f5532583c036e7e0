#!/usr/bin/env bash
# Data-parallel scaling under Open MPI (README's scaling table): Fashion-MNIST, K = 50, l = 10,
# default online EM (global batch 5,000), one CPU thread per process, run
#   alone (no mpirun), then `mpirun -np 1` and `mpirun -np 2`; and, for reference, alone on
#   every core (the default --threads).
# Samples/s is the median over the stochastic epochs of the progress lines; the efficiency of
# -np 2 is its samples/s over twice those of -np 1; the test LL is `mfa score` on the 10,000
# test images. Not a test: ~2 minutes on 2 cores.   SEED=1 scripts/scaling.sh
set -euo pipefail
cd "$(dirname "$0")/.."
F=${FASHION:-/usr/share/datasets/fashion-mnist}
OUT=${OUT:-out/scaling}
MFA=.build/release/mfa
SEED=${SEED:-1}
MPIRUN="mpirun --allow-run-as-root --oversubscribe"
mkdir -p "$OUT"
train() {  # name, threads, launcher…
  local name=$1 threads=$2; shift 2
  local start end
  start=$(date +%s.%N)
  "$@" "$MFA" train "$F/train-images-idx3-ubyte.gz" -c 50 -l 10 --seed "$SEED" --threads "$threads" --backend cpu \
    -o "$OUT/$name.safetensors" > "$OUT/$name.log" 2>&1
  end=$(date +%s.%N)
  local rate test_ll
  # The stochastic epochs (not the first, which includes warm-up, nor the last, the exact EM pass).
  rate=$(grep -o '[0-9]* samples/s' "$OUT/$name.log" | awk '{print $1}' | sed '1d;$d' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  test_ll=$("$MFA" score "$OUT/$name.safetensors" "$F/t10k-images-idx3-ubyte.gz" --backend cpu 2>/dev/null | awk '{print $3}')
  echo "$name,$rate,$(python3 -c "print(round($end - $start, 1))"),$test_ll"
}
echo "run,samples_per_s,seconds,test_ll" > "$OUT/scaling.csv"
train alone 1 >> "$OUT/scaling.csv"
train np1 1 $MPIRUN -np 1 >> "$OUT/scaling.csv"
train np2 1 $MPIRUN -np 2 >> "$OUT/scaling.csv"
train alone-all-cores "$(nproc)" >> "$OUT/scaling.csv"
cat "$OUT/scaling.csv"
awk -F, '$1=="np1"{r1=$2} $1=="np2"{r2=$2} END {printf "parallel efficiency of -np 2: %.2f\n", r2 / (2 * r1)}' "$OUT/scaling.csv"
