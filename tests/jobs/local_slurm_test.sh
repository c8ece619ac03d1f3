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

# shellcheck source=slurm_test_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/slurm_test_lib.sh"
slurm_test_start

step "generating the input"
"$BIN" generate -n 6 --pileup 3 --pixel-only --seed 5 -f -o "$WORK/events.h5" >"$WORK/generate.log" 2>&1 \
  || { cat "$WORK/generate.log"; fail "trkaas generate"; }
test_pipeline_yaml "$WORK/pipeline.yaml" "$TEST_MODELS"

# submit NAME SCRIPT [trkaas args...]: prints the job id; knobs come from the environment.
submit() {
  local name=$1 script=$2
  shift 2
  "$SRC/jobs/submit.sh" --profile local --output="$WORK/job-$name.log" "$SRC/jobs/$script" "$@"
}

# check_once DIR EVENTS: every index 0..EVENTS-1 of the input has exactly one "done" line
# in the journals whose tracks file is committed (a commit line, and the file exists).
check_once() {
  python3 - "$1" "$2" "$WORK/events.h5" <<'EOF' || fail "journal check of $1"
import glob, json, os, sys
d, n, expected_file = sys.argv[1], int(sys.argv[2]), os.path.realpath(sys.argv[3])
lines = []
committed = set()
journals = sorted(glob.glob(os.path.join(d, "run-*", "journal-*.jsonl")))
for path in journals:
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
print(f"  {d}: {len(journals)} journal(s) in run directories, "
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

# The cluster checks bindings as a real one does (task/affinity): a step of one CPU per task
# with masks beyond its CPUs (what jobs/lib/job.sh did before) is refused.
step "binding check: --cpus-per-task=1 with masks outside the step's CPUs must be refused"
out=$(srun -p local --exclusive -N 1 --ntasks-per-node=4 --cpus-per-task=1 --cpu-bind=mask_cpu:0x1,0x2,0x1fc,0xfe00 true 2>&1) \
  && fail "srun accepted masks outside its step's CPUs: the cluster does not check bindings"
grep -q "CPU binding outside of job step allocation" <<<"$out" || { echo "$out"; fail "srun failed, but not for the binding"; }

step "CPU job: jobs/perlmutter-cpu.sbatch, 2 servers + 2 producers"
job=$(SERVERS_PER_NODE=2 PRODUCERS_PER_SERVER=1 WORKERS=1 submit cpu perlmutter-cpu.sbatch \
  -c "$WORK/pipeline.yaml" -o "$WORK/out-cpu" -i "$WORK/events.h5") || fail "sbatch of the CPU job"
wait_gone "$job" 90
finished "$job" "$WORK/job-cpu.log"
grep -q "2 producer(s), 2 server(s)" "$WORK/job-cpu.log" || fail "CPU job: layout not 2 producers + 2 servers"
# task/affinity applied the masks (srun's --cpu-bind=verbose lines): producers on cores 0
# and 1, the servers on 2-8 and 9-15 of the 16-CPU node.
masks=$(sed -n 's/^cpu-bind=MASK - .*, task *\([0-9]*\) .*: mask \(0x[0-9a-f]*\) set$/\1:\2/p' "$WORK/job-cpu.log" | sort | tr '\n' ' ')
[[ $masks == "0:0x1 1:0x2 2:0x1fc 3:0xfe00 " ]] || fail "CPU job: task masks '$masks', expected 0:0x1 1:0x2 2:0x1fc 3:0xfe00"
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
# The fake GPUs run nothing: the local profile's --gpu auto falls back to the CPU and says why.
grep -q -- "--gpu auto" "$WORK/job-gpu.log" || fail "GPU job: not run with the local profile's --gpu auto"
grep -q "pipeline on the CPU (GPU 0 assigned, but" "$WORK/job-gpu.log" || fail "GPU job: no reason for the CPU fallback"

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
  until compgen -G "$WORK/out-requeue/run-001/journal-r001-*.jsonl" >/dev/null && [[ -s $(compgen -G "$WORK/out-requeue/run-001/journal-r001-*.jsonl" | head -1) ]]; do
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
