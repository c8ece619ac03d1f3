#!/usr/bin/env bash
# The job scripts on a three-node Slurm: tools/slurm/local-cluster.sh with cpu01 (CPU node) and
# gpu01, gpu02 (2 fake GPUs each), every slurmd in its own network namespace, host name and
# address, 8 CPUs per node, task/affinity. Checks, from the job logs and report.json:
#  1. jobs/perlmutter-cpu.sbatch on all three nodes (-N 3, 1 server + 1 producer per node):
#     the ranks really run on cpu01, gpu01 and gpu02 (their host names), the layout's node of
#     each rank is the Slurm node that ran it (block distribution: ranks 0-1 on the job's
#     first node...), each node's tasks got their masks, and every event is done once.
#  2. jobs/perlmutter-gpu.sbatch on two nodes (-N 2, -C gpu): both GPU nodes and only them;
#     2 servers per node on GPUs 0 and 1 of gpu01 and gpu02, producers beside them.
#  3. jobs/perlmutter-cpu-gpu.sbatch, a heterogeneous job (cpu01 : gpu01, gpu02) in one MPI
#     world: producers only on the CPU node, servers only on the GPU nodes' GPUs
#     (trkaas --producer-nodes/--server-nodes).
#  4. With the shipped models (slow enough to kill a node mid-run): the GPU script on gpu01 and
#     gpu02 loses its batch node gpu01 after its first event (fail-node: slurmd and every
#     process there killed); when the node is back (start-node) Slurm requeues the job itself,
#     the rerun resumes, and every event is done exactly once. That requeue is Slurm's
#     (Restarts=1), not the script's: it leaves the script's own requeue count alone.
#  5. Rank 0 a server (srun, --server-nodes 0 --producer-nodes 1,2): the end of the requests
#     reaches every server through rank 0, and every event is done once.
# The OpenMPI ranks of different nodes reach each other over TCP through the cluster's
# bridge (no shared-memory transport between nodes). Exit 77 (skipped) without Slurm, munge,
# cgroups or network namespaces.
#
#   multinode_slurm_test.sh TRKAAS_BIN SOURCE_DIR TEST_MODELS_DIR [SHIPPED_MODELS_DIR]
set -uo pipefail
BIN=$1
SRC=$2
TEST_MODELS=$3
SHIPPED=${4:-}
export TRKAAS_SLURM_NODES=3 TRKAAS_SLURM_CPU_NODES=1 TRKAAS_SLURM_GPUS=2 TRKAAS_SLURM_CPUS=8
# A node silent for 20 s is DOWN (part 4; Slurm's default is 300 s, the script's 120 s).
export TRKAAS_SLURM_SLURMD_TIMEOUT=20

# shellcheck source=slurm_test_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/slurm_test_lib.sh"
slurm_test_start
sinfo -N -o "  %N %T cpus=%c %G features=%f"

step "generating the input"
"$BIN" generate -n 12 --pileup 3 --pixel-only --seed 5 -f -o "$WORK/events.h5" >"$WORK/generate.log" 2>&1 \
  || { cat "$WORK/generate.log"; fail "trkaas generate"; }
test_pipeline_yaml "$WORK/pipeline.yaml" "$TEST_MODELS"

submit() {  # submit NAME [sbatch options] SCRIPT [trkaas args...]: prints the job id
  local name=$1
  shift
  "$SRC/jobs/submit.sh" --profile local --output="$WORK/job-$name.log" "$@"
}

# check_job NAME JOB OUT EVENTS EXPECT [NODELIST...]: the job completed, its step exited 0,
# every event has one done record in a committed file, and the layout in OUT/report.json
# matches EXPECT ("host:role,role;host:role,...": per Slurm node in the step's order, the
# roles of its ranks by local rank, "p" producer, "sN" server on GPU N, "s" CPU server). The
# step's nodes: the NODELISTs (Slurm host lists), else the one the job log names.
check_job() {
  local name=$1 job=$2 out=$3 events=$4 expect=$5 log=$WORK/job-$1.log s
  shift 5
  s=$(state "$job")
  [[ $s == COMPLETED ]] || fail "$name job $job ended as '${s:-unknown}' (log $log)"
  grep -q "srun exited with 0" "$log" || fail "$name job: the step did not exit 0 (log $log)"
  local lists=("$@") nodes="" l
  ((${#lists[@]})) || lists=("$(sed -n 's/.*on [0-9]* node(s) \[\(.*\)\], site.*/\1/p' "$log" | head -1)")
  for l in "${lists[@]}"; do
    [[ -n $l ]] || fail "$name job: no node list"
    nodes+="$(scontrol show hostnames "$l" | tr '\n' ' ')"
  done
  python3 - "$out" "$events" "${CHECK_INPUT:-$WORK/events.h5}" "$expect" "$nodes" "$log" <<'EOF' || fail "$name job: layout or journal check"
import glob, json, os, re, sys
out, n, events_file, expect, slurm_nodes, log = sys.argv[1], int(sys.argv[2]), os.path.realpath(sys.argv[3]), sys.argv[4], sys.argv[5].split(), sys.argv[6]
# Every event once, in committed tracks files.
committed, done = set(), {}
for path in glob.glob(os.path.join(out, "run-*", "journal-*.jsonl")):
    for line in open(path):
        if line.strip():
            j = json.loads(line)
            if "commit" in j:
                committed.add(j["commit"])
            elif j.get("status") == "done":
                done.setdefault((os.path.realpath(j["file"]), j["index"]), []).append(j["tracks"])
counted = {k: sum(t in committed for t in v) for k, v in done.items()}
want = {(events_file, i) for i in range(n)}
bad = sorted(k[1] for k in want if counted.get(k, 0) != 1)
assert not bad and set(counted) == want, f"events not done exactly once: {bad}"
# The layout trkaas computed, rank by rank, against the Slurm node split.
layout = json.load(open(os.path.join(out, "report.json")))["layout"]
rows = re.findall(r"rank +(\d+) on (\S+) \(node (\d+), local (\d+)\): (producer|server) \d+(?:, (GPU (\d+)|CPU))?", layout)
assert rows, layout
per_node = {}
for rank, host, node, local, role, _, gpu in rows:
    rank, node, local = int(rank), int(node), int(local)
    # the host trkaas names is the Slurm node that Slurm's block distribution gives the rank
    assert host == slurm_nodes[node], f"rank {rank} on {host}, but layout node {node} is Slurm's {slurm_nodes[node]}"
    per_node.setdefault(host, {})[local] = "p" if role == "producer" else ("s" + gpu if gpu else "s")
got = ";".join(f"{h}:" + ",".join(per_node[h][k] for k in sorted(per_node[h])) for h in slurm_nodes if h in per_node)
assert got == expect, f"layout {got}, expected {expect}\n{layout}"
# Ranks are numbered node after node (ranks 0..L-1 on the first node...).
order = [h for _, h, *_ in sorted(rows, key=lambda r: int(r[0]))]
assert order == sorted(order, key=slurm_nodes.index), f"ranks not in node order: {order}"
# srun's --cpu-bind=verbose lines: one mask per task on each node.
masks = re.findall(r"^cpu-bind=MASK - (\S+), task +\d+ +(\d+) \[\d+\]: mask (0x[0-9a-f]+) set", open(log).read(), re.M)
by_node = {}
for host, local, mask in masks:
    by_node.setdefault(host, {})[int(local)] = mask
print(f"  {out}: {n} events once; layout {got}; masks " + "; ".join(
    f"{h}: " + ",".join(by_node.get(h, {}).get(k, "?") for k in sorted(per_node[h])) for h in per_node))
assert set(by_node) == set(per_node) and all(len(by_node[h]) == len(per_node[h]) for h in per_node), f"masks {by_node}"
EOF
}

t_start=$SECONDS

# MULTINODE_PARTS: which parts to run (default all: "1 2 3 4 5"), for looking into one.
parts=" ${MULTINODE_PARTS:-1 2 3 4 5} "
if [[ $parts == *" 1 "* ]]; then
step "CPU job on all three nodes: 1 server + 1 producer per node"
job=$(SERVERS_PER_NODE=1 PRODUCERS_PER_SERVER=1 WORKERS=1 submit cpu -N 3 --constraint='cpu|gpu' \
  "$SRC/jobs/perlmutter-cpu.sbatch" -c "$WORK/pipeline.yaml" -o "$WORK/out-cpu" -i "$WORK/events.h5") \
  || fail "sbatch of the CPU job"
wait_gone "$job" 120
check_job cpu "$job" "$WORK/out-cpu" 12 "cpu01:p,s;gpu01:p,s;gpu02:p,s"
# Producer on core 0, the server on the other 7 cores, on every node.
[[ $(grep -c "mask 0x1 set" "$WORK/job-cpu.log") == 3 && $(grep -c "mask 0xfe set" "$WORK/job-cpu.log") == 3 ]] \
  || fail "CPU job: masks other than 0x1 (producer) and 0xfe (server) on each node"

fi

if [[ $parts == *" 2 "* ]]; then
step "GPU job on the two GPU nodes: one server per GPU + 1 producer per server"
job=$(PRODUCERS_PER_SERVER=1 WORKERS=1 submit gpu -N 2 --gpus-per-node=2 "$SRC/jobs/perlmutter-gpu.sbatch" \
  -c "$WORK/pipeline.yaml" -o "$WORK/out-gpu" -i "$WORK/events.h5") || fail "sbatch of the GPU job"
wait_gone "$job" 120
check_job gpu "$job" "$WORK/out-gpu" 12 "gpu01:p,p,s0,s1;gpu02:p,p,s0,s1"

fi

if [[ $parts == *" 3 "* ]]; then
step "heterogeneous job: 2 producers on cpu01, 2 servers (one per GPU) on each of gpu01 and gpu02"
job=$(PRODUCERS_PER_NODE=2 WORKERS=1 submit het -N 1 : -N 2 --gpus-per-node=2 "$SRC/jobs/perlmutter-cpu-gpu.sbatch" \
  -c "$WORK/pipeline.yaml" -o "$WORK/out-het" -i "$WORK/events.h5") || fail "sbatch of the heterogeneous job"
wait_gone "$job" 150
grep -q -- "--producer-nodes 0-0 --server-nodes 1-2" "$WORK/job-het.log" || fail "het job: not run with --producer-nodes 0-0 --server-nodes 1-2"
check_job het "$job" "$WORK/out-het" 12 "cpu01:p,p;gpu01:s0,s1;gpu02:s0,s1" cpu01 "gpu[01-02]"
# Producers on cores 0 and 1 of the CPU node; the GPU nodes' 8 cores split by their 2 servers.
[[ $(grep -c "cpu-bind=MASK - cpu01, .*: mask 0x[12] set" "$WORK/job-het.log") == 2 &&
  $(grep -c "cpu-bind=MASK - gpu0[12], .*: mask 0x\(f\|f0\) set" "$WORK/job-het.log") == 4 ]] \
  || fail "het job: masks other than 0x1,0x2 on cpu01 and 0xf,0xf0 on the GPU nodes"

fi

if [[ $parts == *" 5 "* ]]; then
step "rank 0 a server: cpu01 servers only, gpu01 and gpu02 producers only (srun, no batch script)"
# The end of the requests goes through rank 0 (each producer tells it once, it tells each
# server once); here rank 0 is itself a server, which learns it from its own board.
rc=0
timeout 150 srun -N 3 --ntasks-per-node=2 --mpi=pmix --cpu-bind=none "$BIN" run --mode service \
  --server-nodes 0 --producer-nodes 1,2 -j 1 -c "$WORK/pipeline.yaml" -i "$WORK/events.h5" \
  -o "$WORK/out-r0s" >"$WORK/job-r0s.log" 2>&1 || rc=$?
((rc == 0)) || fail "rank-0-server step: srun exit $rc (log $WORK/job-r0s.log)"
python3 - "$WORK/out-r0s" "$(realpath "$WORK/events.h5")" <<'EOF' || fail "rank-0-server step: report or journals"
import glob, json, os, sys
out, events = sys.argv[1], sys.argv[2]
r = json.load(open(os.path.join(out, "report.json")))
assert "rank    0 on cpu01 (node 0, local 0): server 0" in r["layout"], r["layout"]
assert sorted(s["rank"] for s in r["servers"]) == [0, 1], r["servers"]
assert all(s["requests"] > 0 for s in r["servers"]), r["servers"]
committed, done = set(), []
for path in glob.glob(os.path.join(out, "run-*", "journal-*.jsonl")):
    for line in open(path):
        j = json.loads(line)
        if "commit" in j:
            committed.add(j["commit"])
        elif j.get("status") == "done":
            done.append((os.path.realpath(j["file"]), j["index"], j["tracks"]))
got = sorted(i for f, i, t in done if f == events and t in committed)
assert got == list(range(12)), f"events done in committed files: {got}"
print(f"  {out}: 12 events once; servers (rank, requests): " + ", ".join(f"({s['rank']}, {s['requests']})" for s in r["servers"]))
EOF
fi

if [[ $parts != *" 4 "* ]]; then
  :
elif [[ -n $SHIPPED && -f $SHIPPED/pipeline.yaml ]]; then
  step "node failure: the GPU job on gpu01 and gpu02 loses gpu01 (its batch node) after its first event"
  "$BIN" generate -n 60 --pileup 15 --pixel-only --seed 7 -f -o "$WORK/events-nf.h5" >"$WORK/generate.log" 2>&1 \
    || { cat "$WORK/generate.log"; fail "trkaas generate (node failure)"; }
  job=$(PRODUCERS_PER_SERVER=1 WORKERS=1 SERVER_THREADS=1 submit nf -N 2 --gpus-per-node=2 "$SRC/jobs/perlmutter-gpu.sbatch" \
    -c "$SHIPPED/pipeline.yaml" -o "$WORK/out-nf" -i "$WORK/events-nf.h5") || fail "sbatch of the node-failure job"
  t0=$SECONDS
  until grep -qs '"status":"done"' "$WORK"/out-nf/run-001/journal-r001-*.jsonl; do
    ((SECONDS - t0 < 90)) || fail "node-failure job: no event done after 90 s"
    [[ -n $(squeue -h -j "$job" -o %i) ]] || fail "node-failure job ended before the node failed"
    sleep 0.2
  done
  "$SRC/tools/slurm/local-cluster.sh" fail-node "$CLUSTER" gpu01 || fail "fail-node gpu01"
  # Slurm notices when the node stays silent for SlurmdTimeout: DOWN, the job requeued.
  t0=$SECONDS
  until [[ $(sinfo -h -n gpu01 -o %T) == down* ]]; do
    ((SECONDS - t0 < 120)) || fail "gpu01 not DOWN 120 s after its slurmd was killed"
    sleep 1
  done
  echo "  gpu01 DOWN $((SECONDS - t0)) s after the failure; job $job: $(state "$job")"
  "$SRC/tools/slurm/local-cluster.sh" start-node "$CLUSTER" gpu01 || fail "start-node gpu01"
  wait_gone "$job" 240
  restarts=$(scontrol show job "$job" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')
  [[ $restarts == 1 ]] || fail "node-failure job: Restarts=$restarts, expected 1 (Slurm's requeue after the node failure)"
  grep -q "to do in run 2" "$WORK/job-nf.log" || fail "node-failure job: the rerun did not resume (run 2)"
  [[ ! -e $WORK/out-nf/.trkaas-requeues ]] || fail "node-failure job: Slurm's requeue was counted as the script's own"
  # The first run's report is gone with its rank 0; the rerun's describes the same layout.
  CHECK_INPUT=$WORK/events-nf.h5 check_job nf "$job" "$WORK/out-nf" 60 "gpu01:p,p,s0,s1;gpu02:p,p,s0,s1" "gpu[01-02]"
  grep -q "requeue job JobId=$job due to failure of node gpu01" "$CLUSTER/log/slurmctld.log" \
    || fail "node-failure job: slurmctld did not requeue it for the node failure"
else
  echo "(no shipped models at '${SHIPPED}': the node-failure part is not run)"
fi

step "PASS in $((SECONDS - t_start)) s of jobs"
