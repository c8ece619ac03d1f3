#!/usr/bin/env bash
# The job scripts on a real Slurm: starts the local single-node cluster
# (tools/slurm/local-cluster.sh) in a temporary directory, submits jobs/perlmutter-cpu.sbatch
# and jobs/perlmutter-gpu.sbatch (4 fake GPUs) through the local profile with sbatch on a
# tiny generated input, waits by polling squeue, and checks from the journals that every
# event was written exactly once. With shipped models (slow enough to stop mid-run), also:
# SIGUSR1 to the batch shell (what --signal=B:USR1@120 sends) stops the step cleanly, the
# script requeues the job, the rerun resumes, and still every event is there exactly once.
# Stops the cluster on every exit. Exit 77 (skipped) when Slurm or munge is not installed.
#
#   local_slurm_test.sh TRKAAS_BIN SOURCE_DIR TEST_MODELS_DIR [SHIPPED_MODELS_DIR]
set -uo pipefail
BIN=$1
SRC=$2
TEST_MODELS=$3
SHIPPED=${4:-}

for t in munged slurmctld slurmd sbatch squeue scontrol; do
  if ! command -v "$t" >/dev/null 2>&1 && [[ ! -x /usr/sbin/$t ]]; then
    echo "SKIP: Slurm/munge not installed ($t missing): apt-get install munge slurmctld slurmd slurm-client"
    exit 77
  fi
done
# slurmd 22.05 initialises its cgroup plugin even with proctrack/linuxproc and task/none,
# and refuses to start without a cgroup file system (e.g. a chroot that lacks it).
if ! awk '$2 == "/sys/fs/cgroup" {found = 1} END {exit !found}' /proc/mounts; then
  echo "SKIP: no cgroup file system at /sys/fs/cgroup, which slurmd needs to start"
  exit 77
fi
[[ -x $BIN ]] || { echo "FAIL: no trkaas binary at $BIN"; exit 1; }
command -v python3 >/dev/null || { echo "FAIL: python3 is needed to read the journals"; exit 1; }

# Short path: the munge socket lives under it (Unix socket paths are limited to ~100 bytes).
WORK=$(mktemp -d /tmp/trkaas-slurm-test.XXXXXX)
CLUSTER=$WORK/cluster
failed=0
cleanup() {
  "$SRC/tools/slurm/local-cluster.sh" stop "$CLUSTER" >/dev/null 2>&1 || true
  if ((failed)) || [[ ${KEEP_WORK:-0} == 1 ]]; then
    echo "(kept $WORK for inspection)"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  failed=1
  echo "FAIL: $*"
  for f in "$WORK"/job-*.log; do [[ -f $f ]] && { echo "--- $f"; tail -n 40 "$f"; }; done
  for f in "$CLUSTER"/log/slurmctld.log "$CLUSTER"/log/slurmd.log; do [[ -f $f ]] && { echo "--- $f"; tail -n 15 "$f"; }; done
  exit 1
}

step() { echo "[$(date +%T)] $*"; }

step "starting the local cluster in $CLUSTER"
"$SRC/tools/slurm/local-cluster.sh" start "$CLUSTER" || fail "the local cluster did not start"
export TRKAAS_SLURM_DIR=$CLUSTER TRKAAS_BIN=$BIN TRKAAS_ROOT=$SRC
export SLURM_CONF=$CLUSTER/etc/slurm.conf

step "generating the input"
"$BIN" generate -n 6 --pileup 3 --pixel-only --seed 5 -f -o "$WORK/events.h5" >"$WORK/generate.log" 2>&1 \
  || { cat "$WORK/generate.log"; fail "trkaas generate"; }
cat >"$WORK/pipeline.yaml" <<EOF
format: trkaas-pipeline
features: [{name: r, scale: 1000.0}, {name: phi, scale: 3.14159}, {name: z, scale: 1000.0}]
radius: 0.3
max_neighbours: 16
filter_cut: 0.05
gnn_cut: 0.05
min_track_size: 3
volumes: [8]
models: {embedding: $TEST_MODELS/emb_good.pt, filter: $TEST_MODELS/edge_good.pt, gnn: $TEST_MODELS/edge_column.pt}
EOF

# submit NAME SCRIPT [trkaas args...]: prints the job id; knobs come from the environment.
submit() {
  local name=$1 script=$2
  shift 2
  "$SRC/jobs/submit.sh" --profile local --output="$WORK/job-$name.log" "$SRC/jobs/$script" "$@"
}

# state JOB: the job's state from the controller (kept MinJobAge=600 s after the end).
state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }

# wait_gone JOB TIMEOUT: poll squeue (sbatch --wait polls only every 10 s).
wait_gone() {
  local job=$1 limit=$2 t0=$SECONDS
  while [[ -n $(squeue -h -j "$job" -o %i 2>/dev/null) ]]; do
    ((SECONDS - t0 < limit)) || { scancel "$job"; fail "job $job still in the queue after ${limit}s"; }
    sleep 0.5
  done
}

# check_once DIR EVENTS: every index 0..EVENTS-1 of the input has exactly one "done" line
# in the journals whose tracks file is committed (a commit line, and the file exists).
check_once() {
  python3 - "$1" "$2" "$WORK/events.h5" <<'EOF' || fail "journal check of $1"
import glob, json, os, sys
d, n, expected_file = sys.argv[1], int(sys.argv[2]), os.path.realpath(sys.argv[3])
lines = []
committed = set()
for path in sorted(glob.glob(os.path.join(d, "journal-*.jsonl"))):
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        j = json.loads(line)
        if "commit" in j:
            if os.path.exists(os.path.join(d, j["commit"])):
                committed.add(j["commit"])
        else:
            lines.append(j)
counts = {}
for j in lines:
    if j.get("status") == "done" and j.get("tracks") in committed:
        key = (os.path.realpath(j["file"]), j["index"])
        counts[key] = counts.get(key, 0) + 1
want = {(expected_file, i) for i in range(n)}
missing = sorted(i for f, i in want - set(counts))
extra = sorted(k for k in counts if k not in want)
dup = sorted(k[1] for k, c in counts.items() if c != 1)
errors = [j for j in lines if j.get("status") not in ("done",)]
print(f"  {d}: {len(glob.glob(os.path.join(d, 'journal-*.jsonl')))} journal(s), "
      f"{len(committed)} committed tracks file(s), {sum(counts.values())} done record(s) for {n} events")
if missing or extra or dup or errors:
    print(f"  missing {missing} extra {extra} not exactly once {dup} error records {errors[:3]}")
    sys.exit(1)
EOF
}

# finished JOB LOG: the job COMPLETED with exit code 0.
finished() {
  local s
  s=$(state "$1")
  [[ $s == COMPLETED ]] || fail "job $1 ended as '${s:-unknown}' (log $2)"
  grep -q "srun exited with 0" "$2" || fail "job $1: the step did not exit 0 (log $2)"
}

t_start=$SECONDS

step "CPU job: jobs/perlmutter-cpu.sbatch, 2 servers + 2 producers"
job=$(SERVERS_PER_NODE=2 PRODUCERS_PER_SERVER=1 WORKERS=1 submit cpu perlmutter-cpu.sbatch \
  -c "$WORK/pipeline.yaml" -o "$WORK/out-cpu" -i "$WORK/events.h5") || fail "sbatch of the CPU job"
wait_gone "$job" 90
finished "$job" "$WORK/job-cpu.log"
grep -q "2 producer(s), 2 server(s)" "$WORK/job-cpu.log" || fail "CPU job: layout not 2 producers + 2 servers"
check_once "$WORK/out-cpu" 6

step "GPU job: jobs/perlmutter-gpu.sbatch, 4 fake GPUs, one server each + 1 producer per server"
job=$(PRODUCERS_PER_SERVER=1 WORKERS=1 submit gpu perlmutter-gpu.sbatch \
  -c "$WORK/pipeline.yaml" -o "$WORK/out-gpu" -i "$WORK/events.h5") || fail "sbatch of the GPU job"
wait_gone "$job" 90
finished "$job" "$WORK/job-gpu.log"
grep -q "4 producer(s), 4 server(s)" "$WORK/job-gpu.log" || fail "GPU job: layout not 4 producers + 4 servers"
for g in 0 1 2 3; do
  grep -q "server $g, GPU $g" "$WORK/job-gpu.log" || fail "GPU job: server $g not on GPU $g"
done
check_once "$WORK/out-gpu" 6

if [[ -n $SHIPPED && -f $SHIPPED/pipeline.yaml ]]; then
  step "stop and requeue: CPU job with the shipped models, SIGUSR1 to the batch shell mid-run"
  "$BIN" generate -n 30 --pileup 15 --pixel-only --seed 4 -f -o "$WORK/events.h5" >"$WORK/generate.log" 2>&1 \
    || fail "trkaas generate (30 events)"
  job=$(SERVERS_PER_NODE=1 PRODUCERS_PER_SERVER=1 WORKERS=1 SERVER_THREADS=1 submit requeue perlmutter-cpu.sbatch \
    -c "$SHIPPED/pipeline.yaml" -o "$WORK/out-requeue" -i "$WORK/events.h5") || fail "sbatch of the requeue job"
  log=$WORK/job-requeue.log
  t0=$SECONDS
  # The first finished event (journal line), then the signal Slurm sends at the time limit - 120 s.
  until compgen -G "$WORK/out-requeue/journal-r001-*.jsonl" >/dev/null && [[ -s $(compgen -G "$WORK/out-requeue/journal-r001-*.jsonl" | head -1) ]]; do
    ((SECONDS - t0 < 60)) || fail "requeue job: no event done after 60 s"
    [[ -n $(squeue -h -j "$job" -o %i) ]] || fail "requeue job ended before the signal"
    sleep 0.2
  done
  scancel --batch --signal=USR1 "$job" || fail "scancel --batch --signal=USR1"
  # Requeued: pending again, with a begin time cred_expire ahead (Slurm's delay for
  # requeued jobs).
  t0=$SECONDS
  until [[ $(state "$job") == PENDING ]]; do
    s=$(state "$job")
    [[ $s == COMPLETED || $s == FAILED || $s == CANCELLED ]] && fail "requeue job ended as $s instead of being requeued"
    ((SECONDS - t0 < 60)) || fail "requeue job not requeued 60 s after the signal"
    sleep 0.3
  done
  grep -q "stop signal: USR1" "$log" || fail "requeue job: the batch shell did not see USR1"
  grep -q "requeueing job $job" "$log" || fail "requeue job: no requeue message"
  # No forced start (StartTime=now): slurmd refuses the requeued job's credential until it
  # expires (cred_expire, 10 s on the local cluster) and a start before that fails the job.
  wait_gone "$job" 90
  finished "$job" "$log"
  restarts=$(scontrol show job "$job" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')
  [[ $restarts == 1 ]] || fail "requeue job: Restarts=$restarts, expected 1"
  grep -q "restart 1" "$log" || fail "requeue job: no second run in the log"
  grep -q "to do in run 2" "$log" || fail "requeue job: the rerun did not resume (run 2)"
  check_once "$WORK/out-requeue" 30
else
  echo "(no shipped models at '${SHIPPED}': the stop-and-requeue part is not run)"
fi

step "PASS in $((SECONDS - t_start)) s of jobs"
