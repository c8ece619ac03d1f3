#!/usr/bin/env bash
# Start-up and end of the MPI service at many oversubscribed ranks (BENCHMARKS.md, "Start-up
# and end at many ranks"): for each rank count, one `trkaas run --mode service` of tiny
# events with the small test models (so that the models are not what is measured), timed
# from mpirun's launch to its exit, with the job's own timeline from report.json:
#   launch -> plan start     MPI_Init, placement, layout (mpirun starting the ranks)
#   plan                     rank 0 locks the directory, journals and input event counts, the
#                            plan broadcast (report.json timeline.plan_s)
#   launch -> first event    the first event finished by any producer
#   last event -> report     from the last event finished to report.json written: end-of-run
#                            messages, closing files, statistics to rank 0, the report
#   report -> exit           MPI_Finalize and the processes' exit, to mpirun's exit
#   finals, report           rank 0: from its own end to every rank's statistics in; making
#                            the report (timeline.finals_s, timeline.report_s)
#   bare                     mpirun of N `trkaas --version`: starting and ending the processes
#                            alone (BARE=0: not run)
#   journals(s)              rank 0's part of the resume's journals: its share read and the
#                            shares combined (timeline.journals_s; "-" from binaries without)
# With a second binary (BEFORE, e.g. one built from an older commit) each rank count runs
# both, alternately, on the same inputs: the two columns side by side.
# RESUME_RECORDS=N (default 0): every run is a resume: its directory starts with an earlier
# run (run-001/) of RESUME_JOURNALS (64) committed journals holding N done records in all,
# for the inputs' files at positions beyond their events (so the plan skips them and the run
# still does every event; reading them costs what reading records of real events costs).
#
#   bench/startup_bench.sh [BUILD_DIR=build] [BEFORE_BIN=] [RANKS="32 48 64"] [REPEATS=1]
#                          [FILES=128] [EVENTS_PER_FILE=2] [DIR=/tmp/trkaas-startup-bench]
# Servers: a quarter of the ranks (--servers-per-node), -j 1 everywhere. Needs the
# pipeline_test_models target built (BUILD_DIR/tests/pipeline/models).
set -euo pipefail
BUILD=${1:-build}
BEFORE=${2:-}
RANKS=${3:-"32 48 64"}
REPEATS=${4:-1}
FILES=${5:-128}
PER_FILE=${6:-2}
DIR=${7:-/tmp/trkaas-startup-bench}
AFTER=$BUILD/trkaas
MODELS=$(cd "$BUILD/tests/pipeline/models" 2>/dev/null && pwd) ||
  { echo "no $BUILD/tests/pipeline/models: build the pipeline_test_models target" >&2; exit 2; }
[[ -x $AFTER ]] || { echo "no $AFTER" >&2; exit 2; }
[[ -z $BEFORE || -x $BEFORE ]] || { echo "no $BEFORE" >&2; exit 2; }
MPIRUN=${MPIRUN:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
CORES=$(getconf _NPROCESSORS_ONLN)
export GLIBC_TUNABLES=glibc.malloc.hugetlb=1 OMP_NUM_THREADS=1
mkdir -p "$DIR/inputs"

# The test models' pipeline: the Slurm tests' one definition (functions only when sourced).
# shellcheck source=../tests/jobs/slurm_test_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tests/jobs/slurm_test_lib.sh"
test_pipeline_yaml "$DIR/pipeline.yaml" "$MODELS"
# FILES small files with distinct event ids (a tracks file refuses an event id twice): one
# generated file, copied with new ids (h5py), once per shape.
PYTHON=${PYTHON:-$(dirname "$0")/../.venv/bin/python3}
if [[ ! -f $DIR/inputs/shape || $(cat "$DIR/inputs/shape") != "$FILES $PER_FILE" ]]; then
  rm -f "$DIR"/inputs/*.h5
  "$AFTER" generate -n "$PER_FILE" --pileup 1 --seed 7 --pixel-only -f -j 1 -o "$DIR/inputs/one.h5" >/dev/null 2>&1
  "$PYTHON" - "$DIR/inputs" "$FILES" <<'EOF'
import shutil, sys
import h5py
import numpy as np
d, n = sys.argv[1], int(sys.argv[2])
for f in range(n):
    path = f"{d}/in-{f:05d}.h5"
    shutil.copyfile(f"{d}/one.h5", path)
    with h5py.File(path, "r+") as h:
        ids = h["index/event_id"]
        ids[...] = f * 1000 + np.arange(ids.shape[0], dtype=ids.dtype)
EOF
  rm "$DIR/inputs/one.h5"
  echo "$FILES $PER_FILE" >"$DIR/inputs/shape"
fi
ls "$DIR"/inputs/in-*.h5 >"$DIR/inputs.txt"

RESUME_RECORDS=${RESUME_RECORDS:-0}
RESUME_JOURNALS=${RESUME_JOURNALS:-64}
SEED=$DIR/seed-$RESUME_RECORDS-$RESUME_JOURNALS
if ((RESUME_RECORDS > 0)) && [[ ! -d $SEED ]]; then
  rm -rf "$SEED.tmp"
  python3 - "$SEED.tmp" "$RESUME_RECORDS" "$RESUME_JOURNALS" "$PER_FILE" "$DIR/inputs.txt" <<'EOF'
import json, os, sys
out, records, journals, per_file = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
inputs = [os.path.realpath(l.strip()) for l in open(sys.argv[5]) if l.strip()]
os.makedirs(f"{out}/run-001")
for p in range(journals):
    tracks = f"run-001/tracks-r001-p{p:04d}.h5"
    first, last = records * p // journals, records * (p + 1) // journals
    with open(f"{out}/run-001/journal-r001-p{p:04d}.jsonl", "w") as f:
        for k in range(first, last):
            f.write(json.dumps({"event": 10**9 + k, "file": inputs[k % len(inputs)],
                                "index": per_file + k // len(inputs), "status": "done",
                                "tracks": tracks}, separators=(",", ":")) + "\n")
        f.write(json.dumps({"commit": tracks, "events": last - first}, separators=(",", ":")) + "\n")
    open(f"{out}/{tracks}", "w").close()
EOF
  mv "$SEED.tmp" "$SEED"
fi

# run LABEL BIN NP: one job; prints its row.
run() {
  local label=$1 bin=$2 np=$3 out=$DIR/run-$1-$3 rc=0
  rm -rf "$out"
  if ((RESUME_RECORDS > 0)); then cp -r "$SEED" "$out"; fi
  local t0 t1
  t0=$(date +%s.%N)
  timeout -s KILL 900 "$MPIRUN" -np "$np" --oversubscribe --bind-to none "$bin" run --mode service \
    -c "$DIR/pipeline.yaml" --input-list "$DIR/inputs.txt" -o "$out" \
    --servers-per-node $((np / 4)) -j 1 -C 2 --progress 60 >"$out.log" 2>&1 || rc=$?
  t1=$(date +%s.%N)
  [[ -f $out/report.json ]] || { echo "$label np=$np: no report (exit $rc; $out.log)"; return 0; }
  python3 - "$out/report.json" "$t0" "$t1" "$label" "$np" "$rc" <<'EOF'
import json, os, sys
r = json.load(open(sys.argv[1]))
written = os.stat(sys.argv[1]).st_mtime  # rank 0 wrote the report: the job's own end
t0, t1, label, np, rc = float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
t = r["timeline"]
servers = len(r["servers"])
print(f"{label:<7} {np:>5} {servers:>7} {r['events_done']:>6} {rc:>4} "
      f"{t['plan_start_unix'] - t0:>9.2f} {t['plan_s']:>7.3f} {t['first_event_unix'] - t0:>9.2f} "
      f"{written - t['last_event_unix']:>11.3f} {t1 - written:>11.2f} {t['finals_s']:>6.3f} "
      f"{t['report_s']:>6.3f} {t1 - t0:>8.2f} "
      + (f"{t['journals_s']:>11.3f}" if "journals_s" in t else f"{'-':>11}"))
EOF
}

# bare NP: N trkaas processes that only start and exit (--version: libraries and static
# initialisation, no MPI_Init): what launch and teardown cost before any trkaas code.
bare() {
  local t0 t1
  t0=$(date +%s.%N)
  "$MPIRUN" -np "$1" --oversubscribe --bind-to none "$AFTER" --version >/dev/null 2>&1
  t1=$(date +%s.%N)
  printf '%-7s %5d   (mpirun of trkaas --version: the processes start and exit only) %20.2f\n' \
    bare "$1" "$(echo "$t1 - $t0" | bc)"
}

echo "$FILES input files x $PER_FILE events; $CORES cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "resume: $RESUME_RECORDS journal record(s) of an earlier run in $RESUME_JOURNALS journal(s)"
echo "binary    ranks servers events exit  →plan(s) plan(s) →first(s) last→report report→exit finals report total(s) journals(s)"
for ((k = 0; k < REPEATS; k++)); do
  for np in $RANKS; do
    [[ -n $BEFORE ]] && run before "$BEFORE" "$np"
    run after "$AFTER" "$np"
    if [[ ${BARE:-1} == 1 ]]; then bare "$np"; fi
  done
done
