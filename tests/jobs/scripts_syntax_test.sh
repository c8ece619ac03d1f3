#!/usr/bin/env bash
# The job scripts parse (bash -n), carry the stop-and-requeue settings, and the shared
# helpers compute what the scripts rely on (binding masks, output directory, events left).
# Needs no Slurm.
#
#   scripts_syntax_test.sh SOURCE_DIR
set -uo pipefail
SRC=$1
bad=0
check() { if eval "$2"; then :; else echo "FAIL: $1"; bad=1; fi; }

shopt -s nullglob
files=("$SRC"/jobs/*.sbatch "$SRC"/jobs/*.sh "$SRC"/jobs/lib/*.sh "$SRC"/jobs/profiles/*.sh
       "$SRC"/tools/slurm/*.sh "$SRC"/tests/jobs/*.sh)
((${#files[@]} >= 8)) || { echo "FAIL: only ${#files[@]} scripts found under $SRC"; exit 1; }
for f in "${files[@]}"; do
  check "bash -n $f" "bash -n '$f'"
done
for f in "$SRC"/jobs/*.sbatch; do
  check "$f: --signal=B:USR1@" "grep -q '^#SBATCH --signal=B:USR1@' '$f'"
  [[ $f == */ratio-scan.sbatch ]] || check "$f: --requeue" "grep -q '^#SBATCH --requeue' '$f'"
  check "$f: --open-mode=append (a requeued run keeps the first log)" "grep -q '^#SBATCH --open-mode=append' '$f'"
done
for f in "$SRC"/jobs/profiles/*.sh; do
  check "$f defines trkaas_site_setup and TRKAAS_SBATCH_ARGS" \
    "( TRKAAS_ROOT='$SRC'; source '$f' >/dev/null; declare -F trkaas_site_setup >/dev/null && declare -p TRKAAS_SBATCH_ARGS >/dev/null )"
done

# shellcheck source=../../jobs/lib/job.sh
source "$SRC/jobs/lib/job.sh"
check "masks: 4 producers + 4 servers on 16 cores" \
  '[[ $(trkaas_cpu_masks 4 4 16 1) == 0x1,0x2,0x4,0x8,0x70,0x380,0x1c00,0xe000 ]]'
m=$(trkaas_cpu_masks 32 4 64 2)
IFS=, read -ra mm <<<"$m"
check "masks: Perlmutter GPU node, 36 tasks" '((${#mm[@]} == 36))'
check "masks: producer 0 = core 0 and its sibling CPU 64" '[[ ${mm[0]} == 0x10000000000000001 ]]'
check "masks: last server = cores 56-63 and CPUs 120-127" '[[ ${mm[35]} == 0xff00000000000000ff00000000000000 ]]'
check "masks: producers only (a CPU node of a heterogeneous job)" '[[ $(trkaas_cpu_masks 4 0 8 1) == 0x1,0x2,0x4,0x8 ]]'
check "masks: servers only (a GPU node of a heterogeneous job)" '[[ $(trkaas_cpu_masks 0 2 8 1) == 0xf,0xf0 ]]'
check "binding: masks when every task has a core" '[[ $(trkaas_bind_args 28 4 32) == --cpu-bind=mask_cpu:* ]]'
check "binding: none when the tasks outnumber the cores" '[[ $(trkaas_bind_args 30 4 32) == --cpu-bind=none ]]'
check "binding: verbose" '[[ $(TRKAAS_CPU_BIND_VERBOSE=1 trkaas_bind_args 1 1 2) == --cpu-bind=verbose,mask_cpu:0x1,0x2 ]]'
check "output dir from -o" '[[ $(trkaas_output_dir -c x.yaml -o out/ -i a.h5) == out/ ]]'
check "output dir from --output=" '[[ $(trkaas_output_dir -c x.yaml --output=d -i a.h5) == d ]]'
check "no output dir" '! trkaas_output_dir -c x.yaml -i a.h5 >/dev/null'
tmp=$(mktemp -d)
# The requeue decision from trkaas's exit code alone (3: stopped with events left); the
# paths that would call scontrol are the local Slurm tests'.
check "no stop signal: no requeue" \
  '[[ $(TRKAAS_STOP_SIGNAL="" trkaas_maybe_requeue "$tmp" 3) == *"events left: some"* ]]'
check "stopped by SIGTERM with work left: said, not requeued" \
  '[[ $(TRKAAS_STOP_SIGNAL=TERM trkaas_maybe_requeue "$tmp" 3) == *"with events left: not requeueing"* ]]'
check "stopped by SIGUSR1 with nothing left (exit 0): no requeue" \
  '[[ $(TRKAAS_STOP_SIGNAL=USR1 trkaas_maybe_requeue "$tmp" 0) == *"events left: no" ]]'
check "stopped by SIGUSR1, a failure (exit 1): no requeue" \
  '[[ $(TRKAAS_STOP_SIGNAL=USR1 trkaas_maybe_requeue "$tmp" 1) == *"(exit code 1: failed)"*"events left: no" ]]'
check "stopped by SIGUSR1, done with failed events (exit 4): said, no requeue" \
  '[[ $(TRKAAS_STOP_SIGNAL=USR1 trkaas_maybe_requeue "$tmp" 4) == *"(exit code 4: done, some events with error records"*"events left: no" ]]'
check "done with failed events (exit 4), no signal: not a crash, no requeue" \
  '[[ $(TRKAAS_STOP_SIGNAL="" trkaas_maybe_requeue "$tmp" 4) == *"not a crash"*"events left: no" ]]'
printf '%s\n' 7 7 8 >"$tmp/.trkaas-requeues"
check "requeues at most TRKAAS_MAX_REQUEUES times (its own, at the time limit)" \
  '[[ $(SLURM_JOB_ID=7 TRKAAS_MAX_REQUEUES=2 TRKAAS_STOP_SIGNAL=USR1 trkaas_maybe_requeue "$tmp" 3 2>&1) == *"already requeued 2 time(s)"* ]]'
# Slurm's own requeues (preemption, node failure) raise SLURM_RESTART_COUNT only: they do not
# count. (The requeue itself calls scontrol: a stand-in that says what it was asked.)
scontrol() { echo "scontrol $*"; }
out=$(SLURM_JOB_ID=8 SLURM_RESTART_COUNT=5 TRKAAS_MAX_REQUEUES=2 TRKAAS_STOP_SIGNAL=USR1 trkaas_maybe_requeue "$tmp" 3 2>&1)
check "preemption requeues (SLURM_RESTART_COUNT=5) leave the time-limit requeues" \
  '[[ $out == *"time-limit requeue 2 of at most 2"* && $out == *"scontrol requeue 8"* && $(grep -c "^8$" "$tmp/.trkaas-requeues") == 2 ]]'
out=$(SLURM_ARRAY_JOB_ID=9 SLURM_ARRAY_TASK_ID=3 SLURM_JOB_ID=12 TRKAAS_STOP_SIGNAL=USR1 trkaas_maybe_requeue "$tmp" 3 2>&1)
check "an array task's requeues are counted under its array id and index" '[[ $(grep -c "^9_3$" "$tmp/.trkaas-requeues") == 1 ]]'
unset -f scontrol
mkdir -p "$tmp/camp/chunks/chunk-0003"
printf '%s\n' -c /p/pipeline.yaml -o "/p/dir with space" --input-list /p/in.txt >"$tmp/camp/chunks/chunk-0003/args"
TRKAAS_CAMPAIGN=$tmp/camp SLURM_ARRAY_TASK_ID=3 TRKAAS_CAMPAIGN_EXTRA="--retry-failed -C 2" trkaas_campaign_args >/dev/null
check "campaign chunk arguments, one per line, plus the extra ones" \
  '[[ ${#TRKAAS_CHUNK_ARGS[@]} == 9 && ${TRKAAS_CHUNK_ARGS[3]} == "/p/dir with space" && ${TRKAAS_CHUNK_ARGS[6]} == --retry-failed && ${TRKAAS_CHUNK_ARGS[8]} == 2 ]]'
check "campaign chunk that does not exist" \
  '! TRKAAS_CAMPAIGN=$tmp/camp SLURM_ARRAY_TASK_ID=4 trkaas_campaign_args 2>/dev/null'
TRKAAS_CAMPAIGN="" trkaas_campaign_args
check "no campaign: no chunk arguments" '((${#TRKAAS_CHUNK_ARGS[@]} == 0))'

# The Perlmutter profile: HDF5 without file locks for every rank, accounts by node kind.
check "perlmutter profile exports HDF5_USE_FILE_LOCKING=FALSE" \
  '[[ $(TRKAAS_ROOT=$SRC bash -c "source $SRC/jobs/profiles/perlmutter.sh; env" | grep HDF5_USE_FILE_LOCKING) == HDF5_USE_FILE_LOCKING=FALSE ]]'
acct() { TRKAAS_ROOT=$SRC bash -c "source $SRC/jobs/profiles/perlmutter.sh; trkaas_account $1"; }
check "perlmutter accounts: m1234 for CPU, m1234_g for GPU" \
  '[[ $(TRKAAS_ACCOUNT=m1234 acct cpu) == m1234 && $(TRKAAS_ACCOUNT=m1234 acct gpu) == m1234_g && $(TRKAAS_ACCOUNT=m1234_g acct cpu) == m1234 ]]'
check "perlmutter accounts: TRKAAS_ACCOUNT_CPU/GPU win" \
  '[[ $(TRKAAS_ACCOUNT=m1 TRKAAS_ACCOUNT_GPU=g9 acct gpu) == g9 && $(TRKAAS_ACCOUNT_CPU=c9 acct cpu) == c9 ]]'
# Modules: the versions recorded beside the binary, else the unversioned list with a warning.
mods() { TRKAAS_ROOT=$SRC TRKAAS_BIN=$tmp/bin/trkaas bash -c "source $SRC/jobs/profiles/perlmutter.sh; trkaas_modules" 2>&1; }
mkdir -p "$tmp/bin"
check "modules: unversioned defaults, with a warning" '[[ $(mods) == *"warning: modules without a version"*"PrgEnv-gnu cudatoolkit"* ]]'
printf '%s\n' "# the build's" PrgEnv-gnu/8.5.0 cudatoolkit/12.4 "" pytorch/2.6.0 >"$tmp/bin/modules.txt"
check "modules: the versions recorded beside the binary" '[[ $(mods) == "PrgEnv-gnu/8.5.0 cudatoolkit/12.4 pytorch/2.6.0 " ]]'
rm "$tmp/bin/modules.txt"
# What submit.sh passes to sbatch (a stand-in sbatch on PATH that prints its arguments).
mkdir -p "$tmp/bin"
printf '#!/bin/sh\nprintf "%%s\\n" "$@"\n' >"$tmp/bin/sbatch"
chmod +x "$tmp/bin/sbatch"
sub() { PATH=$tmp/bin:$PATH TRKAAS_ACCOUNT=m1234 "$SRC/jobs/submit.sh" --profile perlmutter "$@" | tr '\n' ' '; }
check "submit: GPU script charged to m1234_g" '[[ $(sub "$SRC/jobs/perlmutter-gpu.sbatch" -o x) == *"--account=m1234_g "* ]]'
check "submit: CPU script charged to m1234" '[[ $(sub "$SRC/jobs/perlmutter-cpu.sbatch" -o x) == *"--account=m1234 "* ]]'
check "submit: -C cpu on the command line picks the CPU account" \
  '[[ $(sub -C cpu --gpus-per-node=0 "$SRC/jobs/ratio-scan.sbatch" -o x) == *"--account=m1234 "* ]]'
check "submit: -A on the command line wins" '[[ $(sub -A other "$SRC/jobs/perlmutter-gpu.sbatch" -o x) != *--account=* ]]'
check "submit: heterogeneous job, CPU account then GPU account, options per component" \
  '[[ $(sub -N 4 : -N 2 "$SRC/jobs/perlmutter-cpu-gpu.sbatch" -o x) == "--parsable --qos=regular --account=m1234 -N 4 : --qos=regular --account=m1234_g -N 2 $SRC/jobs/perlmutter-cpu-gpu.sbatch -o x " ]]'
rm -rf "$tmp"
((bad == 0)) && echo "PASS: ${#files[@]} scripts"
exit $bad
