#!/usr/bin/env bash
# Data-parallel training against one process (docs/benchmarks.md, "Data-parallel training"): the
# same `quench train` run (same seed, same global batch 64) with 1 process and with
# `mpirun -np 2`, each process one thread, validated on fmnist:test after each epoch.
# Usage: bench/train_mpi.sh [BUILD_DIR] [EPOCHS|STEPS] (a number with a trailing s: steps)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"
length="${2:-2}"
if [[ "$length" == *s ]]; then span=(--steps "${length%s}"); else span=(--epochs "$length"); fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
args=(train "$here/models/fmnist/cnn.onnx" --data fmnist:train --val fmnist:test "${span[@]}"
  --batch 64 --optimizer adamw --lr 0.002 --weight-decay 1e-4 --schedule cosine --init random
  --seed 1 --threads 1 --json)
for procs in 1 2; do
  start=$(date +%s.%N)
  if [ "$procs" = 1 ]; then
    "$build/quench" "${args[@]}" -o "$out/p1.onnx" 2>/dev/null | tail -1 > "$out/p1.json"
  else
    mpirun --oversubscribe -np 2 "$build/quench" "${args[@]}" -o "$out/p2.onnx" 2>/dev/null |
      grep '^{' | tail -1 > "$out/p2.json"
  fi
  end=$(date +%s.%N)
  python3 - "$out/p$procs.json" "$procs" "$start" "$end" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
acc = ", ".join(f"{100 * e['val_accuracy']:.2f}%" for e in r["epochs"])
train = sum(e["seconds"] for e in r["epochs"])
print(f"{sys.argv[2]} process(es): {r['steps']} steps, training {train:.1f} s "
      f"({r['steps'] / train:.2f} steps/s), wall {float(sys.argv[4]) - float(sys.argv[3]):.1f} s, "
      f"fmnist:test after each epoch: {acc}")
PY
done
