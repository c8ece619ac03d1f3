#!/usr/bin/env bash
# A campaign that loses a node mid-run finishes by itself (issue 19), on a three-node local
# Slurm (tools/slurm/local-cluster.sh: cpu01, cpu02, gpu01; SlurmdTimeout 10 s):
#   11 files of 12 pile-up-40 events, one file per chunk, submitted with --max-array-size 10
#   (two arrays: chunk 10 is task 0 of the array with offset 10) and --auto-resubmit 2, with
#   --no-requeue so that Slurm does not requeue the lost chunk itself. Once a chunk running on
#   cpu02 has finished an event, cpu02 loses power (fail-node: slurmd and every process on it
#   killed). The resubmission job after the arrays must resubmit that chunk (and only
#   incomplete ones), the next one must find nothing left and end with exit code 0; verify
#   must then count every event exactly once, and so must an independent count of the event
#   ids in the committed tracks files.
# Exit 77 (skipped) without Slurm/munge, cgroups or network namespaces.
#
#   campaign_nodeloss_slurm_test.sh TRKAAS_BIN SOURCE_DIR SHIPPED_MODELS_DIR
set -uo pipefail
BIN=$1
SRC=$2
SHIPPED=$3
export TRKAAS_SLURM_NODES=3 TRKAAS_SLURM_CPU_NODES=2 TRKAAS_SLURM_SLURMD_TIMEOUT=10

# shellcheck source=../jobs/slurm_test_lib.sh
source "$SRC/tests/jobs/slurm_test_lib.sh"
[[ -f $SHIPPED/pipeline.yaml ]] || { echo "FAIL: no shipped models at $SHIPPED"; exit 1; }
PY=$SRC/tools/python
slurm_test_start
t_start=$SECONDS
chunks=11

step "generating $chunks files of 12 events"
for ((k = 0; k < chunks; k++)); do
  "$BIN" generate -n 12 --pileup 40 --pixel-only --seed $((20 + k)) --first-event-id $((1000 * k)) \
    -f -o "$WORK/events-$k.h5" >"$WORK/generate.log" 2>&1 || { cat "$WORK/generate.log"; fail "trkaas generate"; }
done
C=$WORK/camp
inputs=()
for ((k = 0; k < chunks; k++)); do inputs+=("$WORK/events-$k.h5"); done
"$BIN" campaign plan "$C" -c "$SHIPPED/pipeline.yaml" -i "${inputs[@]}" --events-per-chunk 12 \
  --time-limit 5 --script "$SRC/jobs/perlmutter-cpu.sbatch" --profile local --run-args "-C 2" \
  --sbatch=--no-requeue >"$WORK/plan.log" 2>&1 || { cat "$WORK/plan.log"; fail "campaign plan"; }

export SERVERS_PER_NODE=1 PRODUCERS_PER_SERVER=1 WORKERS=1 SERVER_THREADS=1
out=$("$BIN" campaign submit "$C" --max-array-size 10 --auto-resubmit 2 2>&1) || { echo "$out"; fail "campaign submit"; }
grep -v '\[info\]' <<<"$out"
grep -q "^submitted job array [0-9]* for chunk(s) 0-9$" <<<"$out" || fail "no array for chunks 0-9"
grep -q "^submitted job array [0-9]* for chunk(s) 10 (array indices + 10)$" <<<"$out" || fail "no offset array for chunk 10"

step "waiting for a chunk on cpu02 with an event done"
t0=$SECONDS
victim=""
until [[ -n $victim ]]; do
  ((SECONDS - t0 < 240)) || fail "no chunk on cpu02 finished an event in 240 s"
  for log in "$C"/logs/chunk-*.log; do
    grep -qs "node(s) \[cpu02\]" "$log" || continue
    k=$(basename "$log" .log)
    if grep -qs '"status":"done"' "$C/chunks/$k"/run-*/journal-r*.jsonl && ! grep -qs '"commit"' "$C/chunks/$k"/run-*/journal-r*.jsonl; then
      victim=$k
      break
    fi
  done
  sleep 0.2
done
step "cpu02 loses power while $victim runs there"
"$SRC/tools/slurm/local-cluster.sh" fail-node "$CLUSTER" cpu02 || fail "fail-node cpu02"

t0=$SECONDS
while [[ -n $(squeue -h -o %i 2>/dev/null) ]]; do
  ((SECONDS - t0 < 420)) || fail "jobs still queued 420 s after the node failed: $(squeue -h -o '%i %j %T' | tr '\n' ';')"
  sleep 1
done
step "queue empty $((SECONDS - t0)) s after the failure"
for f in "$C"/logs/resubmit-*.log; do
  echo "--- $(basename "$f")"
  grep -v '\[info\]' "$f"
done
grep -hq "^${victim/chunk-/chunk }: .* resubmitting" "$C"/logs/resubmit-*.log || fail "$victim was not resubmitted automatically"
[[ $(grep -h "resubmitting" "$C"/logs/resubmit-*.log | grep -vc "^${victim/chunk-/chunk }:") == 0 ]] \
  || fail "chunks other than $victim were resubmitted"
grep -hq "automatic resubmission: campaign ended with exit code 0 (complete)" "$C"/logs/resubmit-*.log \
  || fail "the last resubmission job did not end the campaign complete"

rc=0
"$BIN" campaign verify "$C" >"$WORK/verify.txt" 2>&1 || rc=$?
tail -1 "$WORK/verify.txt"
((rc == 0)) || { cat "$WORK/verify.txt"; fail "verify exit code $rc"; }
grep -q "verify: OK: all $((12 * chunks)) event(s) accounted for exactly once: $((12 * chunks)) with one tracks record" \
  "$WORK/verify.txt" || fail "verify: unexpected counts"

"$PY" "$SRC/tests/jobs/count_campaign_events.py" "$C" "$chunks" 12 || fail "independent count of the tracks files"
step "PASS in $((SECONDS - t_start)) s"
