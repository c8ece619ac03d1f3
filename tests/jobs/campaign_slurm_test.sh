#!/usr/bin/env bash
# Ratio scan and campaign on a real Slurm (tools/slurm/local-cluster.sh; its shape from the
# TRKAAS_SLURM_* variables: ctest runs it on three nodes, two of them CPU nodes):
#  1. jobs/ratio-scan.sbatch at 1 and 2 producers per server, each point stopped by its
#     time budget: scan.csv has one row per point with events done, the plots and the
#     recommendation are written.
#  2. A campaign of 4 event files and one unreadable file in chunks of 12 events (a job array
#     of 4 tasks, 2 at a time; the unreadable file joins the last chunk). Chunk 0 is cancelled (scancel) once it has finished an event.
#     status/verify then show it incomplete; resubmit submits only that chunk; afterwards
#     verify reports every event exactly once (and the unreadable file with its one error
#     record), and report merges every run.
# Exit 77 (skipped) without Slurm/munge or cgroups.
#
#   campaign_slurm_test.sh TRKAAS_BIN SOURCE_DIR SHIPPED_MODELS_DIR
set -uo pipefail
BIN=$1
SRC=$2
SHIPPED=$3

# shellcheck source=slurm_test_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/slurm_test_lib.sh"
[[ -f $SHIPPED/pipeline.yaml ]] || { echo "FAIL: no shipped models at $SHIPPED"; exit 1; }
# The project's Python (TRKAAS_PYTHON from CMake, else the venv): the ratio scan's plots.
PY=$SRC/tools/python
"$PY" -c 'import matplotlib' 2>/dev/null || { echo "FAIL: $("$PY" -c 'import sys; print(sys.executable)') has no matplotlib (tools/setup.sh installs it into .venv/)"; exit 1; }
slurm_test_start
t_start=$SECONDS

# Shipped models: about 0.1 s per pile-up-15 event and 0.3 s per pile-up-40 event here;
# the campaign's chunks must be slow enough to cancel one mid-run. The scan's points must
# stop by time, not by running out of events: 1 producer and 1 server have done 120
# pile-up-15 events in 8 s on a quiet machine, so the scan gets SCAN_EVENTS = 400 (5 s to
# generate, 55 MB).
SCAN_EVENTS=400
step "generating inputs"
"$BIN" generate -n $SCAN_EVENTS --pileup 15 --pixel-only --seed 9 -f -o "$WORK/scan-events.h5" >"$WORK/generate.log" 2>&1 \
  || { cat "$WORK/generate.log"; fail "trkaas generate"; }
for k in 0 1 2 3; do
  "$BIN" generate -n 12 --pileup 40 --pixel-only --seed $((10 + k)) --first-event-id $((1000 * k)) \
    -f -o "$WORK/events-$k.h5" >"$WORK/generate.log" 2>&1 || { cat "$WORK/generate.log"; fail "trkaas generate"; }
done
echo "not an HDF5 file" >"$WORK/broken.h5"

# ---- 1. ratio scan ------------------------------------------------------------------------
# On CPU nodes, as on Perlmutter: -C cpu --gpus-per-node=0 (the script asks for 4 GPUs).
step "ratio scan: jobs/ratio-scan.sbatch on a CPU node, 1 CPU server, 1 and 2 producers per server, 8 s per point"
job=$(RATIOS="1 2" WORKERS_LIST=1 SCAN_KIND=cpu SERVERS_PER_NODE=1 SERVER_THREADS=1 SCAN_SECONDS=8 CONCURRENCY=2 \
  "$SRC/jobs/submit.sh" --profile local --output="$WORK/job-scan.log" -C cpu --gpus-per-node=0 "$SRC/jobs/ratio-scan.sbatch" \
  -c "$SHIPPED/pipeline.yaml" -o "$WORK/scan" -i "$WORK/scan-events.h5") || fail "sbatch of the ratio scan"
wait_gone "$job" 150
[[ $(state "$job") == COMPLETED ]] || fail "ratio scan ended as $(state "$job")"
"$PY" - "$WORK/scan" $SCAN_EVENTS <<'PY' || fail "ratio scan output"
import csv, os, sys
d, total = sys.argv[1], int(sys.argv[2])
rows = list(csv.DictReader(open(os.path.join(d, "scan.csv"))))
labels = [r["label"] for r in rows]
assert labels == ["p1-w1", "p2-w1"], f"scan rows {labels}"
for r in rows:
    done = int(r["events_done"])
    # the time budget stopped each point before all the events were done
    assert 0 < done < total, f"{r['label']}: {done} of {total} events done (expected a timed stop)"
    assert float(r["events_per_s"]) > 0 and 0 < float(r["server_busy"]) <= 1.0001, r
    assert int(r["producers"]) == int(r["label"][1]) and int(r["servers"]) == 1, r
for png in ("throughput.png", "stages.png", "server_busy.png"):
    with open(os.path.join(d, "plots", png), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", png
rec = open(os.path.join(d, "plots", "recommendation.txt")).read()
assert "workers=1" in rec, rec
print("  scan.csv:", ", ".join(f"{r['label']} {float(r['events_per_s']):.2f} ev/s busy {float(r['server_busy']):.2f}" for r in rows))
print("  " + rec.strip().replace("\n", "\n  "))
PY
grep -q "step time (8 s) is up" "$WORK/job-scan.log" || fail "ratio scan: the time budget did not stop the points"
if ((${TRKAAS_SLURM_NODES:-1} > 1)); then
  grep -q "on 1 node(s) \[cpu0[12]\]" "$WORK/job-scan.log" || fail "ratio scan: not on a CPU node"
fi

# ---- 2. campaign -------------------------------------------------------------------------
C=$WORK/camp
step "campaign plan: 4 files of 12 events + 1 unreadable file, one file per chunk (the unreadable one joins the last)"
"$BIN" campaign plan "$C" -c "$SHIPPED/pipeline.yaml" -i "$WORK"/events-{0,1,2,3}.h5 "$WORK/broken.h5" \
  --events-per-chunk 12 --time-limit 5 --script "$SRC/jobs/perlmutter-cpu.sbatch" --profile local \
  --run-args "-C 2" >"$WORK/plan.log" 2>&1 || { cat "$WORK/plan.log"; fail "campaign plan"; }
cat "$WORK/plan.log"
grep -q "5 input file(s) (1 unreadable), 48 event(s) in 4 chunk(s)" "$WORK/plan.log" || fail "campaign plan: unexpected chunks"

export SERVERS_PER_NODE=1 PRODUCERS_PER_SERVER=1 WORKERS=1 SERVER_THREADS=1
out=$("$BIN" campaign submit "$C" --max-parallel 2 2>&1) || { echo "$out"; fail "campaign submit"; }
echo "$out"
array=$(sed -n 's/^submitted job array \([0-9]*\).*/\1/p' <<<"$out")
[[ -n $array ]] || fail "campaign submit printed no job id"

step "cancelling chunk 0 (task ${array}_0) once it has finished an event"
t0=$SECONDS
until grep -qs '"status":"done"' "$C"/chunks/chunk-0000/run-001/journal-r001-*.jsonl; do
  ((SECONDS - t0 < 90)) || fail "chunk 0: no event done after 90 s"
  sleep 0.2
done
scancel "${array}_0" || fail "scancel ${array}_0"
wait_gone "$array" 300
"$BIN" campaign status "$C" | tee "$WORK/status1.txt" || fail "campaign status"
grep -qE '^ +0000 .*incomplete' "$WORK/status1.txt" || fail "chunk 0 is not incomplete after the cancel"
for k in 0001 0002 0003; do grep -qE "^ +$k .* complete" "$WORK/status1.txt" || fail "chunk $k not complete"; done
grep -qE '^ +0003 .*1 unreadable file' "$WORK/status1.txt" || fail "chunk 3: the unreadable file has no error record"
"$BIN" campaign verify "$C" >"$WORK/verify1.txt" 2>&1 && { cat "$WORK/verify1.txt"; fail "verify passed with chunk 0 cancelled"; }
tail -1 "$WORK/verify1.txt"

step "resubmit: only chunk 0"
out=$("$BIN" campaign resubmit "$C" 2>&1) || { echo "$out"; fail "campaign resubmit"; }
echo "$out"
grep -q "chunk 0000: .* resubmitting" <<<"$out" || fail "resubmit did not take chunk 0"
[[ $(grep -c "resubmitting" <<<"$out") == 1 ]] || fail "resubmit took more than chunk 0"
array2=$(sed -n 's/^submitted job array \([0-9]*\).*/\1/p' <<<"$out")
[[ -n $array2 ]] || fail "resubmit printed no job id"
wait_gone "$array2" 200
grep -q "to do in run 2" "$C/logs/chunk-0000.log" || fail "chunk 0's rerun did not resume (run 2)"

if ((${TRKAAS_SLURM_NODES:-1} > 1)); then
  # Two CPU nodes: the array's tasks ran side by side, on both.
  hosts=$(sed -n 's/.*on 1 node(s) \[\([^]]*\)\], site.*/\1/p' "$C"/logs/chunk-*.log | sort -u | tr '\n' ' ')
  [[ $hosts == "cpu01 cpu02 " ]] || fail "campaign chunks ran on '$hosts', expected cpu01 and cpu02"
  echo "  chunks ran on: $hosts"
fi

# Exit code 4: every event accounted for exactly once, with failures (the unreadable file's
# error record); 0 would mean no failure at all, 3 events left, 1 duplicates.
rc=0
"$BIN" campaign verify "$C" >"$WORK/verify2.txt" 2>&1 || rc=$?
cat "$WORK/verify2.txt"
((rc == 4)) || fail "campaign verify after the resubmission: exit code $rc, expected 4 (done, one unreadable file)"
grep -q "verify: OK: all 48 event(s) accounted for exactly once: 48 with one tracks record, 0 with an error record; 1 unreadable file(s) with their error record" \
  "$WORK/verify2.txt" || fail "verify: unexpected counts"
"$BIN" campaign resubmit "$C" | grep -q "nothing to resubmit" || fail "resubmit still finds work"

# An independent count: tracks records in every committed tracks file, by event id.
"$PY" "$SRC/tests/jobs/count_campaign_events.py" "$C" 4 12 || fail "independent count of the tracks files"

"$BIN" campaign report "$C" | tee "$WORK/report.txt" || fail "campaign report"
runs=$(($(wc -l <"$C/runs.csv") - 1))
((runs >= 5)) || fail "runs.csv has $runs run(s); expected at least 5 (4 chunks + the rerun)"
head -c 8 "$C/plots/campaign_runs.png" | od -c | grep -q 'P   N   G' || fail "no campaign plot"

step "PASS in $((SECONDS - t_start)) s"
