#!/usr/bin/env bash
# Installs what quench needs to build, test and run its demo on Debian bookworm (as root); clang
# and its runtimes (libFuzzer, ASan, UBSan, TSan) are for scripts/sanitize.sh and scripts/fuzz.sh;
# chromium renders `quench report` pages in the e2e_report test; OpenMPI is for data-parallel
# training (`mpirun -np N quench train`, the e2e_mpi test).
# Idempotent: packages already present are not touched; nothing is downloaded at build time.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config clang-format ccache
  clang libclang-rt-dev
  libonnx-dev libprotobuf-dev protobuf-compiler
  libdnnl-dev ocl-icd-opencl-dev libcli11-dev nlohmann-json3-dev libfmt-dev libstb-dev zlib1g-dev
  libgtest-dev libbenchmark-dev
  libonnx-testdata dataset-fashion-mnist
  python3 python3-venv python3-pip python3-dev
  chromium
  libopenmpi-dev openmpi-bin
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
