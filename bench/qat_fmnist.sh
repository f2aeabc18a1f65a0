#!/usr/bin/env bash
# Quantization-aware training of the Fashion-MNIST cnn: for each bit width, the top-1 of the PTQ
# start (the same calibration) and of the QAT model after the given number of steps, on the full
# fmnist:test, beside the FP32 model (docs/benchmarks.md, "Quantization-aware training").
# Usage: bench/qat_fmnist.sh [BUILD_DIR] [STEPS] [THREADS] [BITS...]   (default: 300 2 w4a8 w4a4)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"
steps="${2:-300}"
threads="${3:-2}"
shift $(( $# < 3 ? $# : 3 ))
bits=("$@")
[ ${#bits[@]} -gt 0 ] || bits=(w4a8 w4a4)
model="$here/models/fmnist/cnn.onnx"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo "FP32: $(nice "$build/quench" eval "$model" --data fmnist:test --json | tail -1)"
for b in "${bits[@]}"; do
  echo "== $b, $steps steps"
  /usr/bin/time -f "wall %e s" nice "$build/quench" qat "$model" --data fmnist:train \
    --val fmnist:test --bits "$b" --steps "$steps" --batch 64 --calib-size 512 \
    --threads "$threads" --seed 1 --json -o "$out/cnn_$b.onnx" | tail -n 3
done
