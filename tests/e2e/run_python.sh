#!/usr/bin/env bash
# Runs a Python end-to-end test with an interpreter that has onnxruntime and numpy
# ($QUENCH_PYTHON, else python3). Exits 77 (ctest: skipped) with a message when there is none.
set -uo pipefail
py="${QUENCH_PYTHON:-python3}"
if ! "$py" -c "import onnxruntime, numpy, onnx" >/dev/null 2>&1; then
  echo "SKIPPED: onnxruntime/numpy/onnx not available for $py (run scripts/python-peer.sh)"
  exit 77
fi
exec "$py" "$@"
