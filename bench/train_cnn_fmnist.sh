#!/usr/bin/env bash
# Trains a randomly initialised copy of the Fashion-MNIST cnn for 2 epochs on fmnist:train and
# reports accuracy on fmnist:test after each epoch (docs/benchmarks.md, "Training").
# Usage: bench/train_cnn_fmnist.sh [BUILD_DIR] [THREADS] [adamw|sgd] [BATCH (32)]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"
threads="${2:-1}"
recipe="${3:-adamw}"
batch="${4:-32}"
case "$recipe" in
  adamw) opts=(--optimizer adamw --lr 0.002 --weight-decay 1e-4) ;;
  sgd) opts=(--optimizer sgd --lr 0.05 --momentum 0.9 --weight-decay 5e-4) ;;
  *) echo "recipe must be adamw or sgd" >&2; exit 2 ;;
esac
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
/usr/bin/time -f "wall %e s" "$build/quench" train "$here/models/fmnist/cnn.onnx" \
  --data fmnist:train --val fmnist:test --epochs 2 --batch "${batch}" "${opts[@]}" --schedule cosine \
  --init random --seed 1 --threads "$threads" --json -o "$out/cnn_trained.onnx"
