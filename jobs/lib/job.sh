# Shared by the trkaas batch scripts (sourced, not run): site profile, layout counts, CPU
# binding masks, the srun step with signal forwarding, and the requeue decision.
# Nothing site-specific here: that lives in jobs/profiles/<site>.sh.
#
# trkaas itself assigns the roles (servers are each node's last local ranks, the others
# producers; README "trkaas run"). This file only chooses how many tasks to start per node
# and passes --servers-per-node, so that it knows which local ranks will be servers and can
# bind them: producers one core each, servers the remaining cores.

# trkaas_load_profile: source jobs/profiles/$TRKAAS_PROFILE.sh (a name or a path).
trkaas_load_profile() {
  : "${TRKAAS_ROOT:=${SLURM_SUBMIT_DIR:-$PWD}}"
  : "${TRKAAS_PROFILE:=perlmutter}"
  local f=$TRKAAS_PROFILE
  [[ -f $f ]] || f=$TRKAAS_ROOT/jobs/profiles/$TRKAAS_PROFILE.sh
  [[ -f $f ]] || { echo "trkaas job: no profile '$TRKAAS_PROFILE' (looked for $f; set TRKAAS_ROOT)" >&2; return 1; }
  # shellcheck source=/dev/null
  source "$f"
  export TRKAAS_ROOT TRKAAS_PROFILE
}

# trkaas_cpu_list FIRST_CORE NCORES CORES_PER_NODE CPUS_PER_CORE: the CPU ids of those
# cores with all their hardware threads (Linux numbering: core c, then c + CORES_PER_NODE...).
trkaas_cpu_list() {
  local first=$1 n=$2 cores=$3 smt=$4 c t
  for ((c = first; c < first + n; c++)); do
    for ((t = 0; t < smt; t++)); do echo $((c + t * cores)); done
  done
}

# trkaas_hex_mask CPU...: a hex CPU mask of any width (bash arithmetic stops at 64 bits).
trkaas_hex_mask() {
  local -a nib=()
  local c max=0 i s=""
  for c in "$@"; do
    nib[c / 4]=$((${nib[c / 4]:-0} | (1 << (c % 4))))
    ((c / 4 > max)) && max=$((c / 4))
  done
  for ((i = max; i >= 0; i--)); do s+=$(printf %x "${nib[i]:-0}"); done
  echo "0x$s"
}

# trkaas_cpu_masks PRODUCERS SERVERS CORES CPUS_PER_CORE: srun --cpu-bind=mask_cpu list, one
# mask per local task: producer i on core i; the servers (the last local ranks) split the
# remaining cores evenly, the last one taking any remainder. Either count may be 0 (nodes
# of producers only, or of servers only).
trkaas_cpu_masks() {
  local p=$1 s=$2 cores=$3 smt=$4 i masks=() per first n
  for ((i = 0; i < p; i++)); do
    # shellcheck disable=SC2046
    masks+=("$(trkaas_hex_mask $(trkaas_cpu_list "$i" 1 "$cores" "$smt"))")
  done
  ((s > 0)) && per=$(((cores - p) / s))
  for ((i = 0; i < s; i++)); do
    first=$((p + i * per))
    n=$per
    ((i == s - 1)) && n=$((cores - first))
    # shellcheck disable=SC2046
    masks+=("$(trkaas_hex_mask $(trkaas_cpu_list "$first" "$n" "$cores" "$smt"))")
  done
  local IFS=,
  echo "${masks[*]}"
}

# trkaas_output_dir ARGS...: the value of -o/--output among the trkaas arguments.
trkaas_output_dir() {
  while (($#)); do
    case $1 in
      -o | --output) echo "${2:-}"; return 0 ;;
      -o* ) echo "${1#-o}"; return 0 ;;
      --output=*) echo "${1#--output=}"; return 0 ;;
    esac
    shift
  done
  return 1
}

# trkaas run's exit codes as an MPI job (include/trkaas/service/Service.hpp): 0 every event
# done, 1 the job could not start (or another failure: MPI_Abort's code), 3 stopped with
# events left, 4 done with failures (every event has a tracks or an error record, some are
# error records: nothing a rerun or a requeue would do; --retry-failed redoes them).
TRKAAS_EXIT_STOPPED_WITH_WORK_LEFT=3
TRKAAS_EXIT_DONE_WITH_FAILURES=4

# trkaas_exit_words RC: trkaas's exit code in words, for the job log.
trkaas_exit_words() {
  case $1 in
    0) echo "every event done" ;;
    "$TRKAAS_EXIT_STOPPED_WITH_WORK_LEFT") echo "stopped with events left" ;;
    "$TRKAAS_EXIT_DONE_WITH_FAILURES") echo "done, some events with error records (not a crash; rerun with --retry-failed to redo them)" ;;
    *) echo "failed" ;;
  esac
}

TRKAAS_STOP_SIGNAL=""
trkaas_forward() {  # trap handler: ask the step's tasks to stop cleanly
  TRKAAS_STOP_SIGNAL=$1
  echo "trkaas job: SIG$1 at $(date +%T): asking the step to stop (SIGUSR1 to srun, which forwards it to the ranks)"
  [[ -n ${TRKAAS_STEP_PID:-} ]] && kill -USR1 "$TRKAAS_STEP_PID" 2>/dev/null || true
}

# trkaas_step SRUN_ARGS... : srun in the background so that the batch shell can run its
# traps (bash runs them only between commands), forwarding USR1 (from --signal=B:USR1@T)
# and TERM; returns srun's exit code.
trkaas_step() {
  trap 'trkaas_forward USR1' USR1
  trap 'trkaas_forward TERM' TERM
  echo "trkaas job: srun $*"
  srun "$@" &
  TRKAAS_STEP_PID=$!
  # A step with a time budget (ratio scans): the same clean stop after that many seconds.
  local timer=""
  if [[ ${TRKAAS_STEP_SECONDS:-0} != 0 ]]; then
    (sleep "$TRKAAS_STEP_SECONDS" && echo "trkaas job: step time ($TRKAAS_STEP_SECONDS s) is up: stopping it" &&
      kill -USR1 "$TRKAAS_STEP_PID" 2>/dev/null) &
    timer=$!
  fi
  local rc
  while :; do
    rc=0
    wait "$TRKAAS_STEP_PID" || rc=$?
    # wait returns early (status > 128) when a trap ran: wait again while srun still runs.
    ((rc > 128)) && kill -0 "$TRKAAS_STEP_PID" 2>/dev/null && continue
    break
  done
  if ((rc > 128)); then  # interrupted as srun ended: its status is still there to collect
    local again=0
    wait "$TRKAAS_STEP_PID" 2>/dev/null || again=$?
    ((again != 127)) && rc=$again
  fi
  TRKAAS_STEP_PID=""
  [[ -n $timer ]] && { kill "$timer" 2>/dev/null; wait "$timer" 2>/dev/null; }
  return $rc
}

# trkaas_maybe_requeue DIR RC: after a step stopped by SIGUSR1 with events left (srun's exit
# code RC is trkaas's 3), requeue this job (the rerun on the same DIR resumes). Requeueing
# ends this script at once: call it last. Any other code never requeues: 0 and 4 (done,
# with error records) leave nothing a rerun would do, and a failure would fail again.
trkaas_maybe_requeue() {
  local dir=$1 rc=$2
  local left="no"
  ((rc == TRKAAS_EXIT_STOPPED_WITH_WORK_LEFT)) && left="some"
  echo "trkaas job: step done (exit code $rc: $(trkaas_exit_words "$rc")); stop signal: ${TRKAAS_STOP_SIGNAL:-none}; events left: $left"
  [[ -n $TRKAAS_STOP_SIGNAL ]] || return 0
  [[ $left == some ]] || return 0
  # Only the time-limit warning (--signal=B:USR1@T) requeues. SIGTERM is scancel (or a
  # preemption, which Slurm requeues itself): the user asked the job to stop.
  if [[ $TRKAAS_STOP_SIGNAL != USR1 ]]; then
    echo "trkaas job: stopped by SIG$TRKAAS_STOP_SIGNAL with events left: not requeueing (submit again, or 'trkaas campaign resubmit', to finish)"
    return 0
  fi
  # Only this script's own requeues count against TRKAAS_MAX_REQUEUES, not
  # SLURM_RESTART_COUNT: that also counts the requeues Slurm does itself after a preemption
  # or a node failure, which must not use up a campaign chunk's time-limit requeues. One
  # line per own requeue in DIR/.trkaas-requeues, with the job's id.
  local job=${SLURM_ARRAY_JOB_ID:+${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}}
  job=${job:-${SLURM_JOB_ID:-}}
  local own=0 max=${TRKAAS_MAX_REQUEUES:-10}
  [[ -f $dir/.trkaas-requeues ]] && own=$(grep -cxF "$job" "$dir/.trkaas-requeues" || true)
  if ((own >= max)); then
    echo "trkaas job: events left but already requeued $own time(s) at the time limit (TRKAAS_MAX_REQUEUES=$max): not requeueing" >&2
    return 0
  fi
  echo "$job" >>"$dir/.trkaas-requeues"
  echo "trkaas job: requeueing job $SLURM_JOB_ID (restart $((${SLURM_RESTART_COUNT:-0} + 1)), time-limit requeue $((own + 1)) of at most $max): the rerun resumes in $dir"
  scontrol requeue "$SLURM_JOB_ID"
}

# trkaas_service_step SERVERS_PER_NODE PRODUCERS_PER_NODE SERVER_THREADS TRKAAS_ARGS... :
# one srun step of the service with its layout and binding (no requeue); srun's exit code.
trkaas_service_step() {
  local servers=$1 producers=$2 sthreads=$3
  shift 3
  local out
  out=$(trkaas_output_dir "$@") || { echo "trkaas job: give the output directory (-o DIR) among the trkaas arguments" >&2; return 2; }
  local nodes=${SLURM_JOB_NUM_NODES:-${SLURM_NNODES:-1}}
  local tasks=$((servers + producers))
  local smt=${TRKAAS_CPUS_PER_CORE:-1}
  local cores=$((${SLURM_CPUS_ON_NODE:-$(nproc)} / smt))
  ((producers >= 1)) || { echo "trkaas job: no producer per node" >&2; return 2; }
  ((producers + servers <= cores)) || echo "trkaas job: warning: $tasks tasks per node on $cores cores" >&2
  local bind
  bind=$(trkaas_bind_args "$producers" "$servers" "$cores")
  export OMP_NUM_THREADS=1  # producers: one thread; servers set their torch threads from -j
  echo "trkaas job $SLURM_JOB_ID (restart ${SLURM_RESTART_COUNT:-0}) on $nodes node(s) [$SLURM_JOB_NODELIST], site $TRKAAS_SITE:" \
    "$servers server(s) + $producers producer(s) per node, $sthreads thread(s) per server, $cores cores per node"
  mkdir -p "$out"
  local rc=0
  # The step must hold every CPU of its nodes: explicit masks are honoured only then (srun(1),
  # --cpu-bind), and task/affinity refuses a mask outside the step's CPUs ("CPU binding
  # outside of job step allocation", exit 192). So no --cpus-per-task (it implies --exact:
  # the step would get one CPU per task), and none inherited from a submission with -c
  # (SRUN_CPUS_PER_TASK in Slurm 22.05, SLURM_CPUS_PER_TASK again from 23.11) or --exact.
  # Without them a step gets all the job's CPUs on each node (the scripts ask --exclusive).
  unset SRUN_CPUS_PER_TASK SLURM_CPUS_PER_TASK SLURM_EXACT
  trkaas_step --mpi="${TRKAAS_SRUN_MPI:-pmix}" -N "$nodes" --ntasks-per-node="$tasks" \
    "$bind" ${TRKAAS_SRUN_EXTRA:-} \
    "$TRKAAS_BIN" run --mode service --servers-per-node "$servers" -j "$sthreads" "$@" || rc=$?
  echo "trkaas job: srun exited with $rc"
  return $rc
}

# trkaas_bind_args PRODUCERS SERVERS CORES: the --cpu-bind option for a node of that many
# producers and servers: masks (TRKAAS_CPU_BIND=masks, the default) when every task gets a
# core of its own, else none. Verbose (srun reports each task's mask) with
# TRKAAS_CPU_BIND_VERBOSE=1.
trkaas_bind_args() {
  local producers=$1 servers=$2 cores=$3 smt=${TRKAAS_CPUS_PER_CORE:-1} verbose=""
  [[ ${TRKAAS_CPU_BIND_VERBOSE:-0} == 1 ]] && verbose=verbose,
  if [[ ${TRKAAS_CPU_BIND:-masks} == masks ]] && ((producers + servers <= cores)); then
    echo "--cpu-bind=${verbose}mask_cpu:$(trkaas_cpu_masks "$producers" "$servers" "$cores" "$smt")"
  else
    echo "--cpu-bind=${verbose}none"
  fi
}

# trkaas_het_service_step PRODUCERS_PER_CPU_NODE SERVERS_PER_GPU_NODE SERVER_THREADS TRKAAS_ARGS... :
# in a heterogeneous job of CPU nodes (component 0) and GPU nodes (component 1), one srun
# step, one MPI world: producers only on the CPU nodes, servers only on the GPU nodes
# (trkaas --producer-nodes/--server-nodes: component 0's nodes come first). srun's exit code.
trkaas_het_service_step() {
  local producers=$1 servers=$2 sthreads=$3
  shift 3
  local out
  out=$(trkaas_output_dir "$@") || { echo "trkaas job: give the output directory (-o DIR) among the trkaas arguments" >&2; return 2; }
  local n0=${SLURM_JOB_NUM_NODES_HET_GROUP_0:-} n1=${SLURM_JOB_NUM_NODES_HET_GROUP_1:-}
  [[ -n $n0 && -n $n1 ]] || { echo "trkaas job: not a heterogeneous job of two components (CPU nodes, then GPU nodes)" >&2; return 2; }
  local smt=${TRKAAS_CPUS_PER_CORE:-1} cpus0 cpus1
  cpus0=${SLURM_JOB_CPUS_PER_NODE_HET_GROUP_0%%[(,]*}
  cpus1=${SLURM_JOB_CPUS_PER_NODE_HET_GROUP_1%%[(,]*}
  local cores0=$((cpus0 / smt)) cores1=$((cpus1 / smt))
  local gpus=${SLURM_GPUS_PER_NODE_HET_GROUP_1:-${TRKAAS_GPUS_PER_NODE:-4}}
  gpus=${gpus##*:}  # "a100:4" -> 4
  ((producers >= 1 && servers >= 1)) || { echo "trkaas job: need producers on the CPU nodes and servers on the GPU nodes" >&2; return 2; }
  local layout=(--producer-nodes "0-$((n0 - 1))" --server-nodes "$n0-$((n0 + n1 - 1))")
  export OMP_NUM_THREADS=1
  echo "trkaas job $SLURM_JOB_ID (restart ${SLURM_RESTART_COUNT:-0}), heterogeneous, site $TRKAAS_SITE:" \
    "$n0 CPU node(s) [$SLURM_JOB_NODELIST_HET_GROUP_0] with $producers producer(s) each ($cores0 cores)," \
    "$n1 GPU node(s) [$SLURM_JOB_NODELIST_HET_GROUP_1] with $servers server(s) each ($gpus GPU(s), $cores1 cores, $sthreads thread(s) per server)"
  mkdir -p "$out"
  unset SRUN_CPUS_PER_TASK SLURM_CPUS_PER_TASK SLURM_EXACT
  local rc=0 cmd=("$TRKAAS_BIN" run --mode service "${layout[@]}" -j "$sthreads" "$@")
  # shellcheck disable=SC2086
  trkaas_step --mpi="${TRKAAS_SRUN_MPI:-pmix}" \
    --het-group=0 -N "$n0" --ntasks-per-node="$producers" "$(trkaas_bind_args "$producers" 0 "$cores0")" ${TRKAAS_SRUN_EXTRA:-} "${cmd[@]}" : \
    --het-group=1 -N "$n1" --ntasks-per-node="$servers" --gpus-per-node="$gpus" "$(trkaas_bind_args 0 "$servers" "$cores1")" ${TRKAAS_SRUN_EXTRA:-} "${cmd[@]}" \
    || rc=$?
  echo "trkaas job: srun exited with $rc"
  return $rc
}

# trkaas_run_service SERVERS_PER_NODE PRODUCERS_PER_NODE SERVER_THREADS TRKAAS_ARGS... :
# the whole job: layout, binding, one srun step, requeue when stopped with work left.
trkaas_run_service() {
  local out rc=0
  out=$(trkaas_output_dir "${@:4}") || { echo "trkaas job: give the output directory (-o DIR) among the trkaas arguments" >&2; return 2; }
  trkaas_service_step "$@" || rc=$?
  trkaas_maybe_requeue "$out" "$rc"
  return $rc
}

# trkaas_campaign_args: in a task of a campaign's job array (`trkaas campaign submit` sets
# TRKAAS_CAMPAIGN), the chunk's `trkaas run` arguments from DIR/chunks/chunk-NNNN/args plus
# TRKAAS_CAMPAIGN_EXTRA (e.g. --retry-failed), in the array TRKAAS_CHUNK_ARGS (empty
# outside campaigns). The scripts put them before their own arguments.
trkaas_campaign_args() {
  TRKAAS_CHUNK_ARGS=()
  [[ -n ${TRKAAS_CAMPAIGN:-} ]] || return 0
  local task=${SLURM_ARRAY_TASK_ID:-}
  [[ -n $task ]] || { echo "trkaas job: TRKAAS_CAMPAIGN is set, but this is not a job-array task" >&2; return 1; }
  local f
  f=$(printf '%s/chunks/chunk-%04d/args' "$TRKAAS_CAMPAIGN" "$task")
  [[ -f $f ]] || { echo "trkaas job: campaign $TRKAAS_CAMPAIGN has no chunk $task ($f)" >&2; return 1; }
  mapfile -t TRKAAS_CHUNK_ARGS <"$f"
  if [[ -n ${TRKAAS_CAMPAIGN_EXTRA:-} ]]; then
    local -a extra
    read -r -a extra <<<"$TRKAAS_CAMPAIGN_EXTRA"
    TRKAAS_CHUNK_ARGS+=("${extra[@]}")
  fi
  echo "trkaas job: campaign $TRKAAS_CAMPAIGN, chunk $task (array job ${SLURM_ARRAY_JOB_ID:-?})"
}
