#!/usr/bin/env bash
# Training on a .npy file of GB gibibytes (default 8; issue 6): writes a float32 mixture of d = 784
# (never committed; removed afterwards unless KEEP=1), trains one epoch on it, and reports the
# peak resident memory of `mfa train`. Needs python3 with numpy and `make build`.
#   scripts/large-data.sh [GB] [extra mfa train options...]
set -euo pipefail
GB=${1:-8}; shift || true
OUT=${OUT:-out/large}
MFA=${MFA:-.build/release/mfa}
mkdir -p "$OUT"
FILE="$OUT/large.npy"
python3 - "$FILE" "$GB" <<'PY'
import sys, numpy as np
path, gib = sys.argv[1], float(sys.argv[2])
d = 784
rows = int(gib * 2**30) // (d * 4)
data = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, d))
rng = np.random.default_rng(0)
centres = rng.normal(size=(10, d)).astype(np.float32)
for start in range(0, rows, 65536):
    n = min(65536, rows - start)
    data[start:start + n] = centres[rng.integers(0, 10, n)] + rng.normal(scale=0.5, size=(n, d)).astype(np.float32)
data.flush()
print(f"wrote {path}: {rows} × {d} float32, {rows * d * 4 / 2**30:.2f} GiB")
PY
python3 - "$MFA" "$FILE" "$OUT/large.safetensors" "$@" <<'PY'
import resource, subprocess, sys, time
mfa, data, out, *extra = sys.argv[1:]
began = time.time()
subprocess.run([mfa, "train", data, "--components", "10", "--latent", "5", "--epochs", "1", "--backend", "cpu",
                "--out", out, *extra], check=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"peak resident memory of mfa train: {peak:.0f} MiB; {time.time() - began:.0f} s")
PY
[ "${KEEP:-0}" = 1 ] || rm -f "$FILE"
