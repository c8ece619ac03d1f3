#!/bin/bash
# The GPU server benchmark of BENCHMARKS.md, in one command on a machine with a GPU and a
# CUDA PyTorch (e.g. the H100 machine: ../shared/gpu-machine.md):
#   - builds trkaas against that PyTorch with the CUDA kernels (build-gpu/);
#   - generates pile-up-200 events and small events (~1.5k hits);
#   - makes published-size random-weight models (bench/make_published_models.py);
#   - runs bench_gpu_server: events/s, latency, GPU busy and peak memory for 1, 2, 4, 8
#     worker instances, fp32 and fp16, with the shipped and the published-size models, and
#     for small events with batching; then one ~300k-hit event (peak memory);
#   - runs the [gpu] tests (same edges and labels as the CPU path).
#
#   bench/gpu_bench.sh [--out DIR] [--events N] [--skip-build]
# Writes DIR/*.json and DIR/summary.txt (default out/gpu_bench).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/out/gpu_bench"
n=20
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift ;;
    --events) n="$2"; shift ;;
    --skip-build) build=0 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
py=$(command -v python3)
prefix=$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path)')
mkdir -p "$out"
if ((build)); then
  cmake -S "$root" -B "$root/build-gpu" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
    -DTRKAAS_ENABLE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DTRKAAS_ENABLE_FAISS=OFF >"$out/cmake.log"
  cmake --build "$root/build-gpu" -j "$(nproc)" >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
fi
bin="$root/build-gpu"
"$bin/trkaas" generate -n "$n" --pileup 200 --seed 21 -f -o "$out/pu200.h5" | tail -1
"$bin/trkaas" generate -n 200 --pileup 1 --hard-scatter --seed 22 -f -o "$out/small.h5" | tail -1
"$bin/trkaas" generate -n 2 --pileup 600 --fixed-pileup --seed 23 -f -o "$out/pu600.h5" | tail -1
"$py" "$root/bench/make_published_models.py" -o "$out/published" --event "$out/pu200.h5"
run() {  # name args...
  local name=$1
  shift
  echo "== $name"
  "$bin/bench/bench_gpu_server" --json "$out/$name.json" "$@" | tee -a "$out/summary.txt"
}
: >"$out/summary.txt"
for prec in float32 float16; do
  run "shipped-pu200-$prec" -c "$root/models/pipeline.yaml" -n "$n" --precision $prec "$out/pu200.h5"
  run "published-pu200-$prec" -c "$out/published/pipeline.yaml" -n "$n" --precision $prec "$out/pu200.h5"
done
run "published-small" -c "$out/published/pipeline.yaml" -n 200 --passes 5 "$out/small.h5"
run "published-small-batch20k" -c "$out/published/pipeline.yaml" -n 200 --passes 5 --batch-hits 20000 "$out/small.h5"
run "published-pu600" -c "$out/published/pipeline.yaml" -n 2 --workers 1 --passes 1 "$out/pu600.h5"
(cd "$root/build-gpu" && TRKAAS_REQUIRE_GPU=1 ctest -R 'gpu_pipeline_|device_' --output-on-failure) | tail -15 | tee -a "$out/summary.txt"
echo "summary: $out/summary.txt"
