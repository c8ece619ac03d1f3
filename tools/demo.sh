#!/usr/bin/env bash
# The main job: set up, simulate a pile-up-200 sample on the TrackML detector's pixel
# volumes (those the shipped models were trained for: config/demo.yaml), summarise it, then
# find its tracks with the MPI service on this machine (mpirun: 2 producer ranks and 1
# server rank running the shipped models) and print the report.
#
#   tools/demo.sh [EVENTS] [PILEUP] [RANKS]   defaults: 6 events at pile-up 200, 3 ranks
#
# Output: out/demo.h5 (events), out/demo_job/run-RRR/ (tracks and journal per producer,
# report.json). Rerunning resumes the job in out/demo_job (nothing to do when complete);
# delete that directory to start over.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
EVENTS=${1:-6}
PILEUP=${2:-200}
RANKS=${3:-3}
tools/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
mkdir -p out
if [[ ! -f out/demo.h5 ]] || [[ config/demo.yaml -nt out/demo.h5 ]] || [[ "$(build/trkaas inspect --json out/demo.h5 | \
      python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])' 2>/dev/null)" != "$EVENTS" ]]; then
  rm -rf out/demo_job
  build/trkaas generate --config config/demo.yaml --events "$EVENTS" --pileup "$PILEUP" \
    --out out/demo.h5 --force
fi
build/trkaas inspect out/demo.h5
mpirun -np "$RANKS" --bind-to none build/trkaas run --mode service \
  --config models/pipeline.yaml --input out/demo.h5 --output out/demo_job \
  --threads "$(nproc)" --progress 10
echo "demo: tracks in out/demo_job/run-*/tracks-*.h5, report in out/demo_job/report.json"
