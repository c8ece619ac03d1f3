#!/bin/bash
# Track builders side by side: connected components against the walk (pipeline.yaml
# track_builder), the walk with its tracks grown along edges above a lower cut (extend_cut:
# $EXTEND, default the models' own, else 0.1), and that with the walk's turn limit in r-z
# (walk_max_turn: $TURN, default the models' own, else 0.05), and that with helix stitching
# (stitch_max_xy / stitch_max_z: $STITCH_XY / $STITCH_Z, default the models' own, else 3 and
# 15 mm), the same models and events in one process each, alternating, TURNS times. Prints the track-building stage's time per
# event and the physics of each.
#
#   bench/track_builders.sh [MODELS_DIR] [EVENTS.h5] [TURNS] [BUILD_DIR]
#   defaults: models, 3 pixel events at pile-up 200 (seed 1, generated), 2 turns, build
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
M=$(realpath "${1:-models}")
TURNS=${3:-2}
B=${4:-build}/trkaas
W=$(mktemp -d /tmp/trkaas_builders.XXXXXX)
trap 'rm -rf "$W"' EXIT
EV=${2:-}
if [[ -z "$EV" ]]; then
  EV=$W/events.h5
  $B generate --pixel-only -n 3 --pileup 200 --seed 1 -o "$EV" -f > /dev/null 2>&1
fi
EXTEND=${EXTEND:-$(sed -nE 's/^extend_cut:[[:space:]]*([0-9.eE+-]+).*/\1/p' "$M/pipeline.yaml")}
EXTEND=${EXTEND:-0.1}
TURN=${TURN:-$(sed -nE 's/^walk_max_turn:[[:space:]]*([0-9.eE+-]+).*/\1/p' "$M/pipeline.yaml")}
TURN=${TURN:-0.05}
STITCH_XY=${STITCH_XY:-$(sed -nE 's/^stitch_max_xy:[[:space:]]*([0-9.eE+-]+).*/\1/p' "$M/pipeline.yaml")}
STITCH_XY=${STITCH_XY:-3.0}
STITCH_Z=${STITCH_Z:-$(sed -nE 's/^stitch_max_z:[[:space:]]*([0-9.eE+-]+).*/\1/p' "$M/pipeline.yaml")}
STITCH_Z=${STITCH_Z:-15.0}
BUILDERS="components walk walk+extend walk+extend+turn walk+extend+turn+stitch"
for builder in $BUILDERS; do
  sed -E "s#^(track_builder|junction_removal|extend_cut|walk_max_turn|stitch_max_xy|stitch_max_z):.*##; s#(embedding|filter|gnn): ([a-z_]+\.pt2?)#\1: $M/\2#g" \
    "$M/pipeline.yaml" > "$W/$builder.yaml"
  echo "track_builder: ${builder%%+*}" >> "$W/$builder.yaml"
  if [[ $builder == *+extend* ]]; then echo "extend_cut: $EXTEND" >> "$W/$builder.yaml"; fi
  if [[ $builder == *+turn* ]]; then echo "walk_max_turn: $TURN" >> "$W/$builder.yaml"; fi
  if [[ $builder == *+stitch ]]; then printf 'stitch_max_xy: %s\nstitch_max_z: %s\n' "$STITCH_XY" "$STITCH_Z" >> "$W/$builder.yaml"; fi
done
printf '%-24s %5s %14s %13s %12s %10s %9s\n' builder turn "tracks ms/ev" "p99 ms" "total ms/ev" "eff pT>1" "fakes"
for turn in $(seq 1 "$TURNS"); do
  for builder in $BUILDERS; do
    $B run -c "$W/$builder.yaml" -i "$EV" -o "$W/t.h5" -f --threads 1 --metrics-json "$W/r.json" > /dev/null 2>&1
    python3 - "$W/r.json" "$builder" "$turn" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); s = r["stage_ms"]; p = r["physics"]["processed"]
print(f"{sys.argv[2]:<24} {sys.argv[3]:>5} {s['tracks']['mean']:>14.1f} {s['tracks']['p99']:>13.1f} "
      f"{s['total']['mean']:>12.0f} {p['efficiency_pt_gt_1gev']:>10.3f} {p['fake_rate']:>9.3f}")
PY
  done
done
