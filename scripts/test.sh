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

# The Python package (python/, docs/python.md): `pip install .` into the peer virtual environment
# (built in build-python/, where ccache gives back build/'s objects), then its pytest suite.
venv_python="$(./scripts/python-peer.sh --venv)"
if [ -n "$venv_python" ]; then
  CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" "$venv_python" -m pip install -q .
  "$venv_python" -m pytest -q python/tests
else
  echo "note: no Python virtual environment (no network?); the Python package was not tested"
fi

# The reference-only build (no oneDNN backend): the layers link without it and the reference and
# hand-written kernels pass their tests alone.
cmake -S . -B build-ref -G Ninja -DCMAKE_BUILD_TYPE=Release -DQUENCH_WITH_ONEDNN=OFF \
  -DQUENCH_BUILD_BENCH=OFF >/dev/null
ninja -C build-ref quench_tests quench_conformance
ctest --test-dir build-ref --output-on-failure -R '^(unit|conformance)$'

# AddressSanitizer + UndefinedBehaviorSanitizer (clang, build-fuzz/): the unit tests (two
# processes), the conformance, CLI and limits end-to-end tests, every fuzz target on its committed
# seeds and regression inputs, then 20000 executions of each from a fixed seed (deterministic: a
# run cannot turn red by chance; long runs are scripts/fuzz.sh's). QUENCH_TEST_SANITIZE=0 skips
# the stage; its wall time on a 2-core machine is in docs/testing.md.
if [ "${QUENCH_TEST_SANITIZE:-1}" = 1 ]; then
  CONFORMANCE=1 FUZZ_RUNS="${FUZZ_RUNS:-20000}" ./scripts/sanitize.sh address
fi
