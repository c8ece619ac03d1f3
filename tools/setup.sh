#!/usr/bin/env bash
# Installs what trkaas needs (Debian 12, as root: apt-get) and builds it in build/.
# Idempotent: packages already present are not touched, and the build is incremental.
#
# Environment:
#   TRKAAS_BUILD_DIR   build directory (default: build)
#   TRKAAS_CMAKE_ARGS  extra CMake arguments, e.g. a PyTorch libtorch:
#                      "-DCMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')"
#   TRKAAS_SKIP_APT=1  never call apt-get (machines without Debian packages or network)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PACKAGES=(
  build-essential cmake pkg-config git clang-format
  libopenmpi-dev openmpi-bin
  libhdf5-openmpi-dev hdf5-tools zlib1g-dev
  libtorch-dev libfaiss-dev libopenblas0-pthread libtbb-dev
  catch2 libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  python3 python3-torch python3-numpy python3-h5py python3-matplotlib
  munge slurmctld slurmd slurm-client
)

if [[ "${TRKAAS_SKIP_APT:-0}" != 1 ]] && command -v dpkg-query >/dev/null; then
  missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "setup: installing ${#missing[@]} Debian package(s): ${missing[*]}"
    SUDO=""
    if [[ $(id -u) -ne 0 ]]; then
      command -v sudo >/dev/null || { echo "setup: run as root, or install: apt-get install ${missing[*]}" >&2; exit 1; }
      SUDO=sudo
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: all ${#PACKAGES[@]} Debian packages present"
  fi
fi

BUILD_DIR=${TRKAAS_BUILD_DIR:-build}
# shellcheck disable=SC2086
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release ${TRKAAS_CMAKE_ARGS:-} >"$BUILD_DIR.configure.log" 2>&1 || {
  cat "$BUILD_DIR.configure.log" >&2; echo "setup: CMake configure failed (log above)" >&2; exit 1; }
grep -E '^-- (trkaas|  )' "$BUILD_DIR.configure.log" || true
cmake --build "$BUILD_DIR" -j"$(nproc)"
echo "setup: built $BUILD_DIR/trkaas"
