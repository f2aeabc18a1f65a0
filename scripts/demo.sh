#!/usr/bin/env bash
# Installs dependencies, builds quench and runs the demo on the bundled model (README's main
# command). Extra arguments go to `quench demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh >/dev/null
./build/quench demo "$@"
