#!/bin/bash
# The C++ pipeline (build/bench/bench_pipeline) and the plain Python pipeline
# (bench/python_pipeline.py: torch, FAISS, scipy) side by side in one run, on the same
# generated events with the same models, at pile-up 0 (+ hard scatter), 20, 50, 100, 200.
#
#   bench/pipeline_compare.sh [-n EVENTS] [-j THREADS] [-c pipeline.yaml] [--dir DIR]
#                             [--points "0 20 50 100 200"] [--faiss N]
#
# Events are generated once into DIR (default out/bench_pipeline) and reused. Each
# implementation preloads the events, warms up on one, then times EVENTS events per point
# (default 3). Prints both tables, then the Python/C++ time ratio per stage; the JSON of
# each run is kept in DIR. --faiss N also times GraphBuilder's FAISS flat backend on the
# C++ embeddings of N events per point (default 1; 0 to skip).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY=$root/tools/python  # TRKAAS_PYTHON, else the project's venv (tools/setup.sh)
n=3
threads=1
config="$root/models/pipeline.yaml"
dir="$root/out/bench_pipeline"
points="0 20 50 100 200"
faiss=1
while [ $# -gt 0 ]; do
  case "$1" in
    -n) n="$2"; shift ;;
    -j) threads="$2"; shift ;;
    -c) config="$2"; shift ;;
    --dir) dir="$2"; shift ;;
    --points) points="$2"; shift ;;
    --faiss) faiss="$2"; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
bin="$root/build/trkaas"
bench="$root/build/bench/bench_pipeline"
for f in "$bin" "$bench"; do
  [ -x "$f" ] || { echo "missing $f: build first (tools/setup.sh)" >&2; exit 1; }
done
if ! "$PY" -c 'import torch, faiss, scipy, h5py, yaml' 2>/dev/null; then
  echo "the Python pipeline needs torch, faiss, scipy, h5py and yaml in $PY:" >&2
  echo "  tools/setup.sh makes .venv/ with all of them (tools/requirements.txt)" >&2
  exit 1
fi
# Both chains build connected components: the plain Python chain has no walk, extension or
# turn limit, so both run a copy of the config with those settings taken out.
compare_config="$dir/compare_pipeline.yaml"
mkdir -p "$dir"
config_dir="$(cd "$(dirname "$config")" && pwd)"
sed -E "/^(track_builder|extend_cut|walk_max_turn):/d; s#(embedding|filter|gnn): ([A-Za-z0-9_.-]+\.pt2?)#\1: $config_dir/\2#g" \
  "$config" > "$compare_config"
echo "track_builder: components" >> "$compare_config"
config="$compare_config"
# Both implementations run with malloc huge pages (trkaas turns them on by itself).
export GLIBC_TUNABLES=${GLIBC_TUNABLES:-glibc.malloc.hugetlb=1}
mkdir -p "$dir"
inputs=()
for pu in $points; do
  f="$dir/pu$pu.h5"
  if [ ! -f "$f" ]; then
    extra=()
    [ "$pu" = 0 ] && extra=(--hard-scatter)
    echo "generating $((n + 1)) events at pile-up $pu -> $f"
    "$bin" generate -n $((n + 1)) --pileup "$pu" --seed $((500 + pu)) --first-event-id 0 \
      "${extra[@]}" -o "$f" -f 2>&1 | grep -v "generated" || true
  fi
  inputs+=("pu$pu=$f")
done

echo "== C++ (bench_pipeline, $threads thread(s))"
"$bench" -c "$config" -n "$n" -j "$threads" --faiss "$faiss" --json "$dir/cpp.json" "${inputs[@]}"

echo
echo "== Python (bench/python_pipeline.py, $threads thread(s))"
pyjson=()
for item in "${inputs[@]}"; do
  label="${item%%=*}"
  file="${item#*=}"
  "$PY" "$root/bench/python_pipeline.py" --config "$config" --input "$file" --events "$n" \
    --warmup 1 --threads "$threads" --json "$dir/python_$label.json"
  pyjson+=("$label=$dir/python_$label.json")
done

echo
echo "== side by side (mean ms per event; ratio = Python / C++)"
"$PY" - "$dir/cpp.json" "${pyjson[@]}" <<'EOF'
import json, sys
cpp = {p["label"]: p for p in json.load(open(sys.argv[1]))["points"]}
stages = ["features", "embedding", "graph", "filter", "gnn", "tracks", "total"]
cpp_rss = json.load(open(sys.argv[1]))["peak_rss_mb"]
print(f"{'point':<7} {'hits':>7} " + " ".join(f"{s:>20}" for s in stages))
print(f"{'':<7} {'':>7} " + " ".join(f"{'C++/Python ms':>20}" for s in stages))
for item in sys.argv[2:]:
    label, path = item.split("=", 1)
    py, c = json.load(open(path)), cpp[label]
    cells = []
    for s in stages:
        a, b = c["stages_ms"][s]["mean"], py["stages_ms"][s]["mean"]
        ratio = f"{b / a:.1f}x" if a > 0 else "-"
        cells.append(f"{a:.1f}/{b:.1f} {ratio}")
    print(f"{label:<7} {c['model_hits_mean']:7.0f} " + " ".join(f"{x:>20}" for x in cells))
    for s in ("graph", "filter", "gnn"):
        if abs(c["edges_mean"][s] - py["edges_mean"][s]) > 0.001 * max(1.0, c["edges_mean"][s]):
            print(f"        note: {s} edges differ: C++ {c['edges_mean'][s]:.0f}, "
                  f"Python {py['edges_mean'][s]:.0f}")
print(f"peak RSS: C++ {cpp_rss:.0f} MB (whole run), Python "
      f"{max(json.load(open(i.split('=', 1)[1]))['peak_rss_mb'] for i in sys.argv[2:]):.0f} MB "
      "(largest point)")
EOF
