#!/bin/bash
# The GPU benchmark of BENCHMARKS.md in one command, from a clean tree, on the GPU machine
# (../shared/gpu-machine.md: no network, torch 2.11 in /opt/torch/.venv, no FAISS,
# Catch2 v3, CMake 4) or on any machine with a CUDA PyTorch. In this order, most important
# first, each step bounded so that the whole run ends within --budget seconds (default 450,
# build included):
#   1. builds trkaas against that PyTorch with the CUDA kernels (build-gpu/, only the
#      targets used here, all cores);
#   2. the [gpu] tests: CPU and GPU give the same edges and labels in float32
#      (TRKAAS_REQUIRE_GPU=1: a missing GPU fails them instead of skipping);
#   3. small samples: pile-up 200, ~1.5k-hit events (pile-up 1 + hard scatter), one
#      ~300k-hit event (pile-up 600);
#   4. bench_gpu_server: events/s per GPU, latency, GPU busy, peak GPU memory for 1, 2, 4, 8
#      worker instances: shipped models at pile-up 200 in float32, bfloat16, float16;
#      published-size random models at pile-up 200; ~1.5k-hit events without and with
#      batching; the ~300k-hit event;
#   5. physics per precision: the MPI service (1 producer, 1 GPU server, --gpu require) on
#      the pile-up-200 sample with the shipped models in float32, bfloat16, float16.
# Without a GPU (a rehearsal on a CPU machine) every step still runs: the GPU ones say
# "no GPU" with the reason, the [gpu] tests skip, and the physics runs on the CPU.
#
#   bench/gpu_bench.sh [--out DIR] [--events N] [--budget SECONDS] [--skip-build]
# Writes DIR/summary.txt (everything printed), DIR/*.json (one per measurement), DIR/*.log
# (each step's whole output); DIR defaults to out/gpu_bench. When $OUT is set (the device
# tool's output folder, which returns at most 8 files), it also receives summary.txt and
# gpu_bench.tar.gz with the JSON and logs, even when the run stops early.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/out/gpu_bench"
n=10
budget=450
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift ;;
    --events) n="$2"; shift ;;
    --budget) budget="$2"; shift ;;
    --skip-build) build=0 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$out"
summary="$out/summary.txt"
: >"$summary"
rm -f "$out"/*.json "$out"/*.log
deliver() {  # the results into $OUT, however the script ends
  [[ -n ${OUT:-} && -d ${OUT:-} ]] || return 0
  cp "$summary" "$OUT/summary.txt"
  (cd "$out" && tar czf "$OUT/gpu_bench.tar.gz" --ignore-failed-read ./*.json ./*.log 2>/dev/null)
}
trap deliver EXIT
say() { echo "$*" | tee -a "$summary"; }
left() { echo $((budget - SECONDS)); }
# step NAME CAP COMMAND...: runs COMMAND with at most min(CAP, time left) seconds, its
# output in DIR/NAME.log and its last ${tail_lines:-40} lines in the summary; a step that
# cannot start in time is skipped.
# CAP is for the default budget (450 s on the GPU machine); a larger budget (a rehearsal on
# a slow CPU machine) scales every cap alike.
step() {
  local name=$1 cap=$(($2 * (budget > 450 ? budget : 450) / 450))
  shift 2
  local t=$(left)
  ((t > cap)) && t=$cap
  if ((t < 10)); then
    say "== $name: skipped (budget of ${budget} s spent)"
    return 1
  fi
  say "== $name (at ${SECONDS} s, at most ${t} s)"
  local t0=$SECONDS
  timeout --kill-after=10 "$t" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  tail -n "${tail_lines:-40}" "$out/$name.log" | tee -a "$summary"
  if ((rc == 124 || rc == 137)); then
    say "-- $name: stopped after ${t} s (timeout)"
  elif ((rc != 0)); then
    say "-- $name: exit code $rc ($((SECONDS - t0)) s)"
  else
    say "-- $name: done in $((SECONDS - t0)) s"
  fi
  return $rc
}

# ---- the machine -------------------------------------------------------------------------------
py=${TRKAAS_PYTHON:-}
for c in "$root/.venv/bin/python3" /opt/torch/.venv/bin/python3 "$(command -v python3)"; do
  [[ -z $py && -x $c ]] && "$c" -c 'import torch' 2>/dev/null && py=$c
done
[[ -n $py ]] || { say "gpu_bench: no Python with torch (set TRKAAS_PYTHON)"; exit 1; }
say "gpu_bench: $(date -u +%FT%TZ) on $(hostname), $(nproc) cores, budget ${budget} s, output $out"
say "python: $py, torch $("$py" -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda, "available:", torch.cuda.is_available())' 2>&1)"
gpu=0
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  gpu=1
  say "GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv,noheader | head -1)"
else
  say "GPU: none (nvidia-smi finds no GPU): a rehearsal; the GPU steps report 'no GPU'"
fi
arch=90
if ((gpu)); then
  cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')
  [[ $cc =~ ^[0-9]+$ ]] && arch=$cc
fi
say "cmake: $(cmake --version | head -1), nvcc: $(nvcc --version 2>/dev/null | tail -1 || echo none)"

# ---- 1. build ----------------------------------------------------------------------------------
bdir="$root/build-gpu"
if ((build)); then
  prefix=$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path)')
  # CMAKE_POLICY_VERSION_MINIMUM: CMake 4 refuses package configs that still declare
  # compatibility with CMake < 3.5; older CMake ignores it.
  tail_lines=2 step configure 180 cmake -S "$root" -B "$bdir" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$prefix" -DTRKAAS_PYTHON="$py" -DTRKAAS_ENABLE_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="$arch" -DTRKAAS_ENABLE_FAISS=OFF \
    -DCMAKE_POLICY_VERSION_MINIMUM=3.5 || { say "gpu_bench: configure failed"; exit 1; }
  grep -E '^-- (trkaas|  |GPU pipeline|Torch:)' "$out/configure.log" | tee -a "$summary"
  tail_lines=3 step build 360 cmake --build "$bdir" -j "$(nproc)" --target trkaas bench_gpu_server \
    gpu_pipeline_tests stage_device_tests device_tests device_vs_cpu_tests device_gpu_monitor_tests \
    || { grep -E 'error|Error' "$out/build.log" | head -30 | tee -a "$summary"; exit 1; }
fi
bin="$bdir/trkaas"
[[ -x $bin ]] || { say "gpu_bench: no $bin (build failed or --skip-build without a build)"; exit 1; }

# ---- 2. the [gpu] tests ------------------------------------------------------------------------
# On a GPU they must run (TRKAAS_REQUIRE_GPU=1); in a rehearsal they skip with the reason.
# pipeline_golden_labels: one-process direct mode on GPU 0 and a service whose server the
# layout gives GPU 0, against the labels of the former CPU chain (tests/data/golden).
require=0
((gpu)) && require=1
step gpu_tests 120 env TRKAAS_REQUIRE_GPU=$require ctest --test-dir "$bdir" \
  -R '^((gpu_pipeline_tests|stage_device_tests|device_tests|device_vs_cpu_tests|device_gpu_monitor_tests):|pipeline_golden_labels$)' \
  --output-on-failure
grep -hE 'GPU monitor|changed track' "$bdir"/Testing/Temporary/LastTest.log 2>/dev/null | head -6 \
  | tee -a "$summary"
# A test program that cannot start lists no tests, and ctest would not miss them: count.
for t in gpu_pipeline_tests stage_device_tests device_tests device_vs_cpu_tests device_gpu_monitor_tests; do
  listed=$(ctest --test-dir "$bdir" -N -R "^$t:" | grep -c 'Test *#')
  ((listed > 0)) || say "-- $t: NO TESTS LISTED: the program failed to start (see build.log)"
done

# ---- 3. samples --------------------------------------------------------------------------------
step samples 120 bash -c "
  '$bin' generate -n $n --pileup 200 --seed 21 -f -j $(nproc) -o '$out/pu200.h5' &&
  '$bin' generate -n 200 --pileup 1 --hard-scatter --seed 22 -f -j $(nproc) -o '$out/small.h5' &&
  '$bin' generate -n 1 --pileup 600 --fixed-pileup --seed 23 -f -j $(nproc) -o '$out/pu600.h5' &&
  '$bin' inspect '$out/pu200.h5' | head -4 && '$bin' inspect '$out/small.h5' | head -4 &&
  '$bin' inspect '$out/pu600.h5' | head -4" || exit 1
step published_models 90 "$py" "$root/bench/make_published_models.py" -o "$out/published" \
  --event "$out/pu200.h5"

# ---- 4. throughput -----------------------------------------------------------------------------
server() {  # NAME CAP ARGS...
  local name=$1 cap=$2
  shift 2
  step "$name" "$cap" "$bdir/bench/bench_gpu_server" --json "$out/$name.json" "$@"
}
for prec in float32 bfloat16 float16; do
  server "shipped-pu200-$prec" 60 -c "$root/models/pipeline.yaml" -n "$n" --passes 2 \
    --precision $prec "$out/pu200.h5"
done
if [[ -f $out/published/pipeline.yaml ]]; then
  for prec in float32 float16; do
    server "published-pu200-$prec" 60 -c "$out/published/pipeline.yaml" -n "$n" --passes 2 \
      --precision $prec "$out/pu200.h5"
  done
  server published-small 45 -c "$out/published/pipeline.yaml" -n 200 --passes 3 "$out/small.h5"
  server published-small-batch20k 45 -c "$out/published/pipeline.yaml" -n 200 --passes 3 \
    --batch-hits 20000 "$out/small.h5"
  server published-pu600 45 -c "$out/published/pipeline.yaml" -n 1 --workers 1 --passes 2 \
    "$out/pu600.h5"
fi
server shipped-small 45 -c "$root/models/pipeline.yaml" -n 200 --passes 3 "$out/small.h5"
server shipped-small-batch20k 45 -c "$root/models/pipeline.yaml" -n 200 --passes 3 \
  --batch-hits 20000 "$out/small.h5"

# ---- 5. physics per precision (the service, shipped models) ------------------------------------
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
gpuflag=require
physics_events=$n
if ((!gpu)); then
  gpuflag=auto  # the rehearsal: on the CPU, saying why
  physics_events=1
fi
for prec in float32 bfloat16 float16; do
  rm -rf "$out/physics-$prec"
  step "physics-$prec" 60 mpirun -np 2 --bind-to none "$bin" run --mode service \
    -c "$root/models/pipeline.yaml" -i "$out/pu200.h5" -o "$out/physics-$prec" \
    -n "$physics_events" --gpu "$gpuflag" --precision $prec --threads "$(nproc)"
  [[ -f $out/physics-$prec/report.json ]] && cp "$out/physics-$prec/report.json" "$out/physics-$prec.json"
done
rm -rf "$out"/physics-*/ 2>/dev/null
say "gpu_bench: finished in ${SECONDS} s; summary: $summary"
