#!/bin/bash
# TorchScript models against their AOTInductor packages (.pt2) in the C++ pipeline, side by
# side in one run: the same events, the two in turns (TorchScript, package, TorchScript,
# package, ...), mean ms per event per stage from `trkaas run --metrics-json`.
#
#   bench/model_formats.sh INPUT.h5 [-n EVENTS] [-j THREADS] [--turns T] [-m MODELS_DIR]
#                          [--pt2 DIR] [--precision float32|bfloat16]
#
# The packages are compiled into DIR (default out/pt2) by tools/train/export_pt2.py unless
# DIR/pipeline.yaml exists. --precision bfloat16 runs the TorchScript side in bfloat16
# (packages are float32).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
input=""; n=1; threads=1; turns=2; models="$root/models"; pt2="$root/out/pt2"; precision=float32
while [ $# -gt 0 ]; do
  case "$1" in
    -n) n="$2"; shift ;;
    -j) threads="$2"; shift ;;
    --turns) turns="$2"; shift ;;
    -m) models="$2"; shift ;;
    --pt2) pt2="$2"; shift ;;
    --precision) precision="$2"; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    *) input="$1" ;;
  esac
  shift
done
[ -n "$input" ] || { echo "usage: $0 INPUT.h5 [options] (see --help)" >&2; exit 2; }
bin="$root/build/trkaas"
[ -x "$bin" ] || { echo "missing $bin: build first (tools/setup.sh)" >&2; exit 1; }
export GLIBC_TUNABLES=${GLIBC_TUNABLES:-glibc.malloc.hugetlb=1}
if [ ! -f "$pt2/pipeline.yaml" ]; then
  "$root/tools/python" "$root/tools/train/export_pt2.py" "$models" "$pt2" 2>&1 | grep export_pt2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "$n event(s) of $input, -j $threads, $turns turns; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| format | turn | embedding | graph | filter | gnn | total | efficiency | fake rate |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n'
for t in $(seq 1 "$turns"); do
  for kind in torchscript pt2; do
    if [ $kind = torchscript ]; then cfg="$models/pipeline.yaml"; prec=$precision; else cfg="$pt2/pipeline.yaml"; prec=float32; fi
    "$bin" run -c "$cfg" -i "$input" -o "$tmp/t.h5" -f -j "$threads" --events "$n" --gpu off \
      --precision "$prec" --metrics-json "$tmp/r.json" > "$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
    "$root/tools/python" - "$tmp/r.json" "$kind ($prec)" "$t" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); s = d["stage_ms"]; p = d["physics"]["processed"]
cols = " | ".join(f"{s[k]['mean']:.0f}" for k in ("embedding", "graph", "filter", "gnn", "total"))
print(f"| {sys.argv[2]} | {sys.argv[3]} | {cols} | {p['efficiency_pt_gt_1gev']:.4f} | {p['fake_rate']:.4f} |")
PY
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
