#!/bin/bash
# Usage: bench/qat_builds.sh OLD_QUENCH NEW_QUENCH [ROUNDS]
# Side by side: the QAT training time (calibration and export excluded: the "steps in S s" of
# `quench qat`) of two builds, w8a8, batch 64, 1 thread, 30 steps, no loader thread, the builds
# alternating, ROUNDS (default 2) rounds. The Fashion-MNIST cnn (Relu, MaxPool), resnet20 (Relu,
# GlobalAveragePool) and mobilenetv2 (Clip, GlobalAveragePool), and resnet20 with its batch norms
# put back (bench/unfold_bn.py) trained in folded form with batch statistics (--bn-fold simulate):
# every op whose training kernels changed between the builds being compared on 2026-12-06.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
M=$ROOT/models/fmnist
TMP=${TMPDIR:-/tmp}
PY=$("$ROOT/scripts/python-peer.sh" 2>/dev/null || echo python3)
"$PY" "$ROOT/bench/unfold_bn.py" "$M/resnet20.onnx" "$TMP/resnet20_bn.onnx" --calib 256 >/dev/null
declare -A BIN=([old]="$1" [new]="$2")
for spec in cnn resnet20 mobilenetv2 resnet20_bn; do
  model=$M/$spec.onnx
  extra=()
  if [ "$spec" = resnet20_bn ]; then
    model=$TMP/resnet20_bn.onnx
    extra=(--bn-fold simulate)
  fi
  for round in $(seq 1 "${3:-2}"); do
    for b in old new; do
      s=$(${BIN[$b]} qat "$model" --bits w8a8 --no-distill --optimizer sgd --steps 30 --batch 64 \
        --calib-size 64 --threads 1 --loader-threads 0 "${extra[@]}" -o "$TMP/qat_builds_$b.onnx" \
        2>/dev/null | grep -o "steps in [0-9.]* s" | grep -o "[0-9.]*" | head -1)
      echo "$spec $b $round $s"
    done
  done
done
