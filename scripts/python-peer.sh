#!/usr/bin/env bash
# Prints the path of a Python interpreter with onnxruntime, numpy and onnx (the reference peer used by
# the parity tests and benchmarks), creating a virtual environment from PyPI when the default
# python3 lacks them. Prints nothing (and exits 0) when that is impossible (no network).
#   --venv: the virtual environment's interpreter only (one pip may install into: Debian's system
#           pip refuses, PEP 668), with pytest as well, for the Python package's tests.
set -uo pipefail
venv="${QUENCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/quench-venv}"
if [ "${1:-}" = --venv ]; then
  if [ -x "$venv/bin/python3" ] && "$venv/bin/python3" -c "import onnxruntime, numpy, onnx, pytest" \
    >/dev/null 2>&1; then
    echo "$venv/bin/python3"
  elif python3 -m venv "$venv" >/dev/null 2>&1 &&
    "$venv/bin/python3" -m pip install -q onnxruntime numpy onnx pytest >/dev/null 2>&1; then
    echo "$venv/bin/python3"
  fi
  exit 0
fi
for py in "${QUENCH_PYTHON:-}" python3 "$venv/bin/python3"; do
  [ -n "$py" ] || continue
  if "$py" -c "import onnxruntime, numpy, onnx" >/dev/null 2>&1; then
    command -v "$py"
    exit 0
  fi
done
if python3 -m venv "$venv" >/dev/null 2>&1 &&
   "$venv/bin/python3" -m pip install -q onnxruntime numpy onnx >/dev/null 2>&1; then
  echo "$venv/bin/python3"
fi
exit 0
