#!/usr/bin/env bash
# The main job, for now: set up, simulate a pile-up-200 sample on the TrackML detector,
# summarise it, and (when trained models are in models/) find the tracks of its first 3
# events in direct mode.
# The MPI service issue turns this into the full producer/server run.
#
#   tools/demo.sh [EVENTS] [PILEUP]     defaults: 10 events at pile-up 200 -> out/demo.h5
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
EVENTS=${1:-10}
PILEUP=${2:-200}
tools/setup.sh
# Huge pages for malloc: the models run ~6x faster at pile-up 200 (BENCHMARKS.md).
export GLIBC_TUNABLES=${GLIBC_TUNABLES:-glibc.malloc.hugetlb=1}
mkdir -p out
build/trkaas generate --config config/demo.yaml --events "$EVENTS" --pileup "$PILEUP" \
  --out out/demo.h5 --force
build/trkaas inspect out/demo.h5
if [[ -f models/pipeline.yaml ]]; then
  build/trkaas run --mode direct --config models/pipeline.yaml --input out/demo.h5 -n 3 \
    --output out/demo_tracks.h5 --metrics-json out/demo_report.json --force
else
  echo "demo: no models/pipeline.yaml yet: skipping track finding (see tools/train)"
fi
