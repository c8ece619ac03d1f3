#!/usr/bin/env bash
# Installs what trkaas needs (Debian 12, as root: apt-get), the project's Python environment
# with torch 2.11 from PyPI (.venv/), and builds trkaas against that torch.
# Idempotent: packages and a venv already in place are not touched, the build is incremental.
#
# One torch everywhere: tools/requirements.txt pins torch==2.11.0 (PyPI's CUDA 13.0 build,
# the GPU machine's version) and every other Python package. The C++ build links its
# libtorch (CUDA included), the Python tools (training, export, evaluation, plots,
# benchmarks) run with .venv/bin/python3. With nvcc found (/usr/local/cuda), the CUDA
# kernels and the GPU pipeline are compiled and linked (architectures 80 and 90); the
# binary runs on the CPU where there is no GPU.
#
# Environment:
#   TRKAAS_TORCH=pypi    (default) torch from tools/requirements.txt in .venv/
#   TRKAAS_TORCH=debian  the old fallback: Debian's CPU-only libtorch 1.13 and python3-torch,
#                        built in build-debian/ (no GPU pipeline)
#   TRKAAS_BUILD_DIR     build directory (default: build, or build-debian)
#   TRKAAS_CMAKE_ARGS    extra CMake arguments (e.g. -DTRKAAS_ENABLE_CUDA=OFF)
#   TRKAAS_SKIP_APT=1    never call apt-get (machines without Debian packages)
#   TRKAAS_SKIP_BUILD=1  install only
#   TRKAAS_BASE_PYTHON   the python3 that makes .venv (default /usr/bin/python3; 3.10 to 3.13)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TORCH_FROM=${TRKAAS_TORCH:-pypi}
case "$TORCH_FROM" in
  pypi | debian) ;;
  *) echo "setup: TRKAAS_TORCH must be pypi (default) or debian, not '$TORCH_FROM'" >&2; exit 2 ;;
esac

PACKAGES=(
  build-essential cmake pkg-config git clang-format
  libopenmpi-dev openmpi-bin
  libhdf5-openmpi-dev hdf5-tools zlib1g-dev
  libfaiss-dev libopenblas0-pthread libtbb-dev
  catch2 libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  python3 python3-venv
  munge slurmctld slurmd slurm-client iproute2
)
if [[ $TORCH_FROM == debian ]]; then
  PACKAGES+=(libtorch-dev python3-torch python3-numpy python3-h5py python3-matplotlib python3-scipy
    python3-yaml)
fi

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

# ---- the Python environment (.venv) with the pinned torch ---------------------------------
VENV=.venv
REQUIREMENTS=tools/requirements.txt
if [[ $TORCH_FROM == pypi ]]; then
  stamp="$VENV/.trkaas-requirements"
  want=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
  if [[ -x $VENV/bin/python3 && -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
    echo "setup: $VENV up to date ($(grep -E '^torch==' "$REQUIREMENTS"))"
  else
    base=${TRKAAS_BASE_PYTHON:-/usr/bin/python3}
    [[ -x $VENV/bin/python3 ]] || "$base" -m venv "$VENV" || {
      echo "setup: cannot create $VENV with $base -m venv (Debian: apt-get install python3-venv)" >&2; exit 1; }
    # PyPI (or the index pip is configured for) must answer: say so plainly, never fall back.
    index=${PIP_INDEX_URL:-$("$VENV/bin/pip" config get global.index-url 2>/dev/null || true)}
    index=${index:-https://pypi.org/simple}
    if ! "$VENV/bin/python3" - "$index" <<'PY'; then
import sys, urllib.request
url = sys.argv[1].rstrip("/") + "/pip/"
try:
    urllib.request.urlopen(url, timeout=20).read(1)
except Exception as e:
    sys.exit(f"setup: the Python package index does not answer: {url}: {e}")
PY
      cat >&2 <<EOF
setup: torch $(grep -E '^torch==' "$REQUIREMENTS" | cut -d= -f3) comes from PyPI ($index), which cannot be used from here now (reason above:
setup: no network, a proxy, or a certificate this machine does not trust).
setup: nothing was installed into $VENV. Retry when PyPI answers:  tools/setup.sh
setup: (or build against Debian's CPU-only libtorch 1.13 instead:  TRKAAS_TORCH=debian tools/setup.sh)
EOF
      exit 1
    fi
    echo "setup: installing $REQUIREMENTS into $VENV (torch with its CUDA libraries: ~5 GB, a few minutes)"
    t0=$SECONDS
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS" || {
      echo "setup: pip could not install $REQUIREMENTS (output above); retry: tools/setup.sh" >&2; exit 1; }
    echo "$want" >"$stamp"
    echo "setup: $VENV ready in $((SECONDS - t0)) s"
  fi
  PYTHON="$PWD/$VENV/bin/python3"
  BUILD_DIR=${TRKAAS_BUILD_DIR:-build}
  TORCH_PREFIX=$("$PYTHON" -c 'import torch; print(torch.utils.cmake_prefix_path)')
  TORCH_ARGS=(-DCMAKE_PREFIX_PATH="$TORCH_PREFIX" -DTRKAAS_PYTHON="$PYTHON")
else
  PYTHON=/usr/bin/python3
  BUILD_DIR=${TRKAAS_BUILD_DIR:-build-debian}
  TORCH_ARGS=(-DTRKAAS_PYTHON="$PYTHON")
fi
echo "setup: torch $("$PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo '(none)') ($PYTHON)"
[[ "${TRKAAS_SKIP_BUILD:-0}" == 1 ]] && exit 0

# ---- configure and build -------------------------------------------------------------------
mkdir -p "$(dirname "$BUILD_DIR")"
# shellcheck disable=SC2086
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release "${TORCH_ARGS[@]}" ${TRKAAS_CMAKE_ARGS:-} \
  >"$BUILD_DIR.configure.log" 2>&1 || {
  cat "$BUILD_DIR.configure.log" >&2; echo "setup: CMake configure failed (log above)" >&2; exit 1; }
grep -E '^-- (trkaas|  |GPU pipeline|Torch:)' "$BUILD_DIR.configure.log" || true
t0=$SECONDS
cmake --build "$BUILD_DIR" -j"$(nproc)"
echo "setup: built $BUILD_DIR/trkaas in $((SECONDS - t0)) s"
