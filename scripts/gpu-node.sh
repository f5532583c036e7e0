#!/usr/bin/env bash
# The checks to run on a GPU node, in one go: the OpenCL devices, the OpenCL test suites against
# the CPU backend, `mfa bench` for both backends (float64 constants and --opencl-fp32), and
# Fashion-MNIST trained on the GPU with its test log-likelihood and per-kernel profile.
#
#   swift build -c release --build-tests     # builds both binaries below
#   MFA=.build/release/mfa TESTS=.build/release/swift-mfaPackageTests.xctest \
#   F=/usr/share/datasets/fashion-mnist OUT=out/gpu DEVICE=0 scripts/gpu-node.sh
#
# TESTS, F and DEVICE (an index from `mfa devices`; default: the first GPU) are optional. Every
# step has its own time limit, so one hung driver call cannot take the rest with it; each step's
# output is in $OUT/*.txt (a bench killed by its limit keeps its printed rows there, not its
# CSV). Exits 1 when any step failed, after running them all.
set -uo pipefail
MFA=${MFA:-.build/release/mfa}
TESTS=${TESTS:-}
F=${F:-}
OUT=${OUT:-out/gpu}
DEVICE=${DEVICE:-}
device=()
[ -n "$DEVICE" ] && device=(--device "$DEVICE")
failed=()
mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step() { # step NAME SECONDS COMMAND...: run, keep the output, say how it ended and how long it took
    local name=$1 limit=$2; shift 2
    local start=$SECONDS
    echo "== $name: $*"
    timeout "$limit" "$@" >"$OUT/$name.txt" 2>&1
    local rc=$?
    tail -n 40 "$OUT/$name.txt"
    echo "== $name: exit $rc after $((SECONDS - start)) s"
    [ "$rc" -eq 0 ] || failed+=("$name")
    return "$rc"
}

command -v nvidia-smi >/dev/null && nvidia-smi -L
step devices 60 "$MFA" devices
if ! grep -qi "gpu" "$OUT/devices.txt"; then
    echo "== warning: mfa devices lists no GPU; the OpenCL figures below are of $(head -n 1 "$OUT/devices.txt")"
fi
if [ -n "$TESTS" ]; then
    step tests-opencl 180 "$TESTS" --testing-library swift-testing --filter OpenCL
fi
step bench 240 "$MFA" bench --backend cpu,opencl "${device[@]}" -c 50,500,2000 --algorithm sgd,online-em --csv "$OUT/bench.csv"
step bench-fp32 120 "$MFA" bench --backend opencl "${device[@]}" --opencl-fp32 -c 500,2000 --algorithm sgd,online-em --csv "$OUT/bench-fp32.csv"
step bench-batch4096 120 "$MFA" bench --backend opencl "${device[@]}" -c 500,2000 --batch-size 4096 --algorithm sgd,online-em --csv "$OUT/bench-batch4096.csv"

if [ -n "$F" ]; then
    train=$F/train-images-idx3-ubyte.gz
    test=$F/t10k-images-idx3-ubyte.gz
    for algorithm in online-em sgd; do
        start=$SECONDS
        step "train-$algorithm" 240 "$MFA" train "$train" -c 50 -l 10 --seed 1 --algorithm "$algorithm" \
            --backend opencl "${device[@]}" --profile --history "$OUT/history-$algorithm.csv" -o "$work/$algorithm.safetensors"
        echo "== train-$algorithm: whole process $((SECONDS - start)) s"
        step "score-$algorithm" 60 "$MFA" score "$work/$algorithm.safetensors" "$test" --backend opencl "${device[@]}"
    done
    # An epoch of training at the bench's K = 500 shape, to set its samples/s beside the bench's.
    step train-k500 240 "$MFA" train "$train" -c 500 -l 10 --seed 1 --algorithm sgd --epochs 2 \
        --backend opencl "${device[@]}" --history "$OUT/history-k500.csv" -o "$work/k500.safetensors"
fi

if [ ${#failed[@]} -gt 0 ]; then
    echo "== failed: ${failed[*]}"
    exit 1
fi
echo "== every step passed"
