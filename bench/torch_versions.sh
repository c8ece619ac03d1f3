#!/bin/bash
# The CPU pipeline on two builds side by side in one run: by default torch 2.11 from PyPI
# (build/, tools/setup.sh) against Debian's libtorch 1.13 (build-debian/,
# TRKAAS_TORCH=debian tools/setup.sh), on the same events with the same models. The builds
# take turns (A B A B ...) so that the machine's drift hits both alike; each turn is one
# bench_pipeline process (1 warm-up event, then EVENTS timed events). Prints per stage the
# median over the turns of each build's mean ms per event, and the ratio.
#
#   bench/torch_versions.sh [-n EVENTS] [--pileup 200] [--turns 3] [-j THREADS]
#                           [-c pipeline.yaml] [--builds "build build-debian"] [--dir DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
n=2
pileup=200
turns=3
threads=1
config="$root/models/pipeline.yaml"
builds="build build-debian"
dir="$root/out/bench_torch_versions"
while [ $# -gt 0 ]; do
  case "$1" in
    -n) n="$2"; shift ;;
    --pileup) pileup="$2"; shift ;;
    --turns) turns="$2"; shift ;;
    -j) threads="$2"; shift ;;
    -c) config="$2"; shift ;;
    --builds) builds="$2"; shift ;;
    --dir) dir="$2"; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
read -r -a dirs <<<"$builds"
for b in "${dirs[@]}"; do
  [[ -x $root/$b/bench/bench_pipeline ]] || {
    echo "missing $root/$b/bench/bench_pipeline (build: tools/setup.sh, or TRKAAS_TORCH=debian tools/setup.sh for build-debian)" >&2
    exit 1
  }
done
mkdir -p "$dir"
events="$dir/pu$pileup.h5"
if [[ ! -f $events ]]; then
  "$root/${dirs[0]}/trkaas" generate -n $((n + 1)) --pileup "$pileup" --seed 77 -f -o "$events" | tail -1
fi
echo "$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores ($(lscpu | grep -o -E 'avx512f|amx_tile|avx2' | sort -u | tr '\n' ' ')); $threads thread(s); $n events at pile-up $pileup; $turns turns"
export GLIBC_TUNABLES=${GLIBC_TUNABLES:-glibc.malloc.hugetlb=1}
# Every thread pool bounded alike in both builds (OpenMP, MKL in PyPI's torch, OpenBLAS in Debian's).
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
for ((t = 1; t <= turns; ++t)); do
  for b in "${dirs[@]}"; do
    "$root/$b/bench/bench_pipeline" -c "$config" -n "$n" -j "$threads" \
      --json "$dir/$b-turn$t.json" "pu$pileup=$events" >"$dir/$b-turn$t.log" 2>&1 \
      || { cat "$dir/$b-turn$t.log"; exit 1; }
    echo "turn $t $b: $(grep -E "^pu$pileup " "$dir/$b-turn$t.log" | awk '{print $4 " events/s"}')"
  done
done
"${TRKAAS_PYTHON:-python3}" - "$dir" "$turns" "${dirs[@]}" <<'EOF'
import json, os, statistics, sys
d, turns, builds = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
stages = ["features", "embedding", "graph", "filter", "gnn", "tracks", "total"]
med = {}
for b in builds:
    runs = [json.load(open(os.path.join(d, f"{b}-turn{t}.json")))["points"][0] for t in range(1, turns + 1)]
    med[b] = {s: statistics.median(r["stages_ms"][s]["mean"] for r in runs) for s in stages}
    med[b]["hits"] = runs[0]["model_hits_mean"]
print(f"\nmedian over {turns} turns of the mean ms per event ({med[builds[0]]['hits']:.0f} model hits per event)")
print(f"{'stage':<10}" + "".join(f"{b:>16}" for b in builds) + (f"{'ratio':>10}" if len(builds) == 2 else ""))
for s in stages:
    row = f"{s:<10}" + "".join(f"{med[b][s]:>16.1f}" for b in builds)
    if len(builds) == 2 and med[builds[0]][s] > 0:
        row += f"{med[builds[1]][s] / med[builds[0]][s]:>10.2f}"
    print(row)
if len(builds) == 2:
    print(f"(ratio: {builds[1]} time / {builds[0]} time; above 1 means {builds[0]} is faster)")
EOF
for b in "${dirs[@]}"; do
  echo "$b: $(grep -m1 -- '--   Torch' "$root/$b.configure.log" 2>/dev/null || grep -m1 '^Torch_DIR' "$root/$b/CMakeCache.txt")"
done
