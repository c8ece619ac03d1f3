#!/usr/bin/env bash
# The main job: set up, simulate a TrackML-like pile-up-200 sample on the whole detector
# (pixels, short and long strips, with cells: config/demo_whole.yaml), summarise it, then
# find its tracks with the MPI service on this machine (mpirun: 2 producer ranks and 1
# server rank running the whole-detector models trained from 0.3 GeV,
# models/lowpt/pipeline.yaml) and print the report.
#
#   tools/demo.sh [--pixel|--whole] [EVENTS] [PILEUP] [RANKS]
#   defaults: the whole detector, 6 events at pile-up 200 with a hard scatter, 3 ranks
#
# --pixel: the pixel volumes 7, 8, 9 only (config/demo.yaml) with the pixel models
# (models/pipeline.yaml, the default of `trkaas run`); --whole: the default, said aloud.
# MODELS=models/whole/pipeline.yaml tools/demo.sh: the whole detector with the models
# trained from 0.9 GeV (a lower fake rate, half the TrackML score; models/README.md).
#
# Output: out/demo_whole.h5 (events), out/demo_whole_job/run-RRR/ (tracks and journal per
# producer, report.json); with --pixel out/demo.h5 and out/demo_job/. Rerunning resumes the
# job (nothing to do when complete); delete its directory to start over.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
NAME=demo_whole
MODELS=${MODELS:-models/lowpt/pipeline.yaml}
if [[ "${1:-}" == "--pixel" ]]; then
  NAME=demo
  MODELS=models/pipeline.yaml
  shift
elif [[ "${1:-}" == "--whole" ]]; then
  shift
elif [[ "${1:-}" == -* ]]; then
  echo "usage: tools/demo.sh [--pixel|--whole] [EVENTS] [PILEUP] [RANKS]" >&2
  exit 2
fi
EVENTS=${1:-6}
PILEUP=${2:-200}
RANKS=${3:-3}
tools/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
mkdir -p out
SAMPLE=out/$NAME.h5
JOB=out/${NAME}_job
# The sample is remade (seconds) when missing, when its config or the generator (the trkaas
# binary; e.g. TrackML's truth weights since 2026-12-04) is newer, or for another size.
if [[ ! -f $SAMPLE ]] || [[ config/$NAME.yaml -nt $SAMPLE ]] || [[ build/trkaas -nt $SAMPLE ]] || \
    [[ "$(build/trkaas inspect --json "$SAMPLE" | \
      python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])' 2>/dev/null)" != "$EVENTS" ]]; then
  rm -rf "$JOB"
  build/trkaas generate --config "config/$NAME.yaml" --events "$EVENTS" --pileup "$PILEUP" \
    --out "$SAMPLE" --force
fi
build/trkaas inspect "$SAMPLE"
# A job resumes only with the models and settings it started with: other ones start it over.
STAMP="$MODELS $(sha256sum "$MODELS" | cut -c1-16)"
if [[ -d $JOB ]] && [[ "$(cat "$JOB/.demo_models" 2>/dev/null)" != "$STAMP" ]]; then
  echo "demo: $JOB was made with other models or settings than $MODELS: starting it over"
  rm -rf "$JOB"
fi
mkdir -p "$JOB"
echo "$STAMP" >"$JOB/.demo_models"
mpirun -np "$RANKS" --bind-to none build/trkaas run --mode service \
  --config "$MODELS" --input "$SAMPLE" --output "$JOB" \
  --threads "$(nproc)" --progress 10
echo "demo: tracks in $JOB/run-*/tracks-*.h5, report in $JOB/report.json"
