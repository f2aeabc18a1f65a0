#!/usr/bin/env bash
# Installs dependencies, builds quench and runs the whole test suite (README's test command).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
QUENCH_PYTHON="$(./scripts/python-peer.sh)"
export QUENCH_PYTHON
if [ -z "$QUENCH_PYTHON" ]; then
  echo "note: onnxruntime is not available; tests that compare with it will be skipped"
fi
ctest --test-dir build --output-on-failure
