#!/usr/bin/env bash
# --bn-fold fold vs simulate (docs/quantization.md (107)-(109)) on Fashion-MNIST models with their
# batch norms put back (bench/unfold_bn.py: one after each Conv, identity at the start, running
# statistics from the first 512 training images): top-1 on the full fmnist:test of the PTQ start
# and after STEPS steps of w4a8 QAT (docs/benchmarks.md, "Batch norm during QAT").
# Usage: bench/qat_bn_fold.sh [BUILD_DIR] [STEPS] [MODELS...]   (default: 300 cnn resnet20)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"
steps="${2:-300}"
shift $(( $# < 2 ? $# : 2 ))
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(cnn resnet20)
py="$("$here/scripts/python-peer.sh")"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for m in "${models[@]}"; do
  "$py" "$here/bench/unfold_bn.py" "$here/models/fmnist/$m.onnx" "$out/${m}_bn.onnx"
  for mode in fold simulate; do
    echo "== $m, --bn-fold $mode, w4a8, $steps steps"
    /usr/bin/time -f "wall %e s" "$build/quench" qat "$out/${m}_bn.onnx" --data fmnist:train \
      --val fmnist:test --bits w4a8 --steps "$steps" --batch 64 --calib-size 512 --threads 1 \
      --seed 1 --bn-fold "$mode" --json -o "$out/${m}_$mode.onnx" | tail -n 1
  done
done
