#!/bin/bash
# The service against direct mode on the same cores, and a scan of the producer:server
# ratio, in one run on the same events (mpirun on this machine).
#
#   bench/service_scan.sh [-n EVENTS] [--pileup PU] [-j THREADS] [-c pipeline.yaml]
#                         [--producers "1 2 3"] [-C CONCURRENCY] [--dir DIR]
#
# Rows: direct mode on 1 rank with THREADS threads (all the compute this machine has),
# then 1 server with THREADS threads and 1, 2, 3 producers (the ratio scan). Each row runs
# the job from scratch on EVENTS events (default 16 at pile-up 50) and reads its
# report.json. Columns: events/s, request latency, server busy, producer waiting, and the
# producer's own cost per event (read + send + write) against the server's per event.
# Also writes DIR/scan.csv (`trkaas report` rows of the service points, the same table as
# jobs/ratio-scan.sbatch) and, with matplotlib, DIR/plots (tools/plots/trkaas_plots.py:
# throughput, stages, server busy, the recommended ratio and the throughput model).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
n=16
pileup=50
threads=$(nproc)
config="$root/models/pipeline.yaml"
producers="1 2 3"
concurrency=2
dir="$root/out/bench_service"
while [ $# -gt 0 ]; do
  case "$1" in
    -n) n="$2"; shift ;;
    --pileup) pileup="$2"; shift ;;
    -j) threads="$2"; shift ;;
    -c) config="$2"; shift ;;
    --producers) producers="$2"; shift ;;
    -C) concurrency="$2"; shift ;;
    --dir) dir="$2"; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
bin="$root/build/trkaas"
[ -x "$bin" ] || { echo "missing $bin: build first (tools/setup.sh)" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
mkdir -p "$dir"
events="$dir/pu$pileup-n$n.h5"
[ -f "$events" ] || "$bin" generate -n "$n" --pileup "$pileup" --seed 77 -o "$events" -f \
  2>&1 | grep "wrote"
run() {  # label np args...
  local label=$1 np=$2
  shift 2
  rm -rf "$dir/job"
  mpirun -np "$np" --bind-to none "$bin" run -c "$config" -i "$events" -o "$dir/job" \
    --progress 30 "$@" > "$dir/$label.log" 2>&1 || { tail "$dir/$label.log"; exit 1; }
  cp "$dir/job/report.json" "$dir/$label.json"
  echo "$label"
}
rows=()
rows+=("$(run direct-1rank 1 --mode direct -j "$threads")")
for p in $producers; do
  rows+=("$(run service-${p}p1s $((p + 1)) --mode service --servers-per-node 1 -j "$threads" \
           -C "$concurrency")")
done
python3 - "$dir" "${rows[@]}" <<'EOF'
import json, sys
d = sys.argv[1]
print(f"{'row':<16} {'ranks':>5} {'events/s':>9} {'vs direct':>9} {'lat p50':>8} {'lat p99':>8} "
      f"{'server busy':>11} {'prod wait':>9} {'prod ms/ev':>10} {'server ms/ev':>12}")
base = None
for label in sys.argv[2:]:
    r = json.load(open(f"{d}/{label}.json"))
    eps = r["events_per_s"]
    base = base or eps
    busy = ", ".join(f"{100 * s['busy_fraction']:.0f}%" for s in r["servers"]) or "-"
    wait = sum(p["wait_fraction"] for p in r["producers"]) / len(r["producers"])
    pm = r["producer_ms_per_event"]
    prod = pm["read"] + pm["send"] + pm["write"]
    ranks = len(r["producers"]) + len(r["servers"])
    print(f"{label:<16} {ranks:>5} {eps:>9.3f} {eps / base:>8.2f}x "
          f"{r['latency_ms']['p50']:>8.0f} {r['latency_ms']['p99']:>8.0f} {busy:>11} "
          f"{100 * wait:>8.0f}% {prod:>10.1f} {r['stage_ms']['total']['mean']:>12.1f}")
EOF
# The scan's table and plots, as jobs/ratio-scan.sbatch writes them.
rm -f "$dir/scan.csv"
for label in "${rows[@]}"; do
  case $label in
    service-*) p=${label#service-}; "$bin" report --csv "$dir/scan.csv" --append --label "p${p%%p1s}-w1" "$dir/$label.json" ;;
  esac
done
echo "wrote $dir/scan.csv"
py=$root/tools/python
"$py" "$root/tools/plots/trkaas_plots.py" scan "$dir/scan.csv" -o "$dir/plots" \
  || echo "(plots skipped: python3 with matplotlib is needed)"
