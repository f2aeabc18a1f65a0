#!/bin/bash
# Usage: bench/qat_fake_quant.sh OLD_QUENCH NEW_QUENCH
# Side by side: QAT training time (calibration excluded) of the element-wise fake quantization
# (old, a build before 2026-12-04 23:10) and the vectorized one (new), w8a8, batch 64, 1 thread,
# 30 steps, alternating. The new one runs without loader threads (--loader-threads 0), as the old
# one, which predates the option, does.
M=$(dirname "$0")/../models/fmnist
declare -A BIN=([old]="$1" [new]="$2")
for model in cnn resnet20 mobilenetv2; do
  for round in 1 2; do
    for b in old new; do
      s=$(${BIN[$b]} qat $M/$model.onnx --bits w8a8 --no-distill --optimizer sgd --steps 30 --batch 64 --calib-size 64 --threads 1 $([ $b = new ] && echo --loader-threads 0) -o "${TMPDIR:-/tmp}/fq_$b.onnx" 2>/dev/null | grep -o "steps in [0-9.]* s" | grep -o "[0-9.]*" | head -1)
      echo "$model $b $round $s"
    done
  done
done
