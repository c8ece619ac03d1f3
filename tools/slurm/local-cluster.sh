#!/usr/bin/env bash
# A real single-node Slurm cluster on localhost, for tests and for trying the job scripts:
# Debian's munged, slurmctld and slurmd as plain processes (no systemd), with every piece
# of state, configuration, log, socket and pid file under DIR.
#
#   tools/slurm/local-cluster.sh start  DIR   # write the config, start the daemons, wait until the node is idle
#   tools/slurm/local-cluster.sh status DIR   # daemons alive? node state (exit 1 when not running)
#   tools/slurm/local-cluster.sh stop   DIR   # stop only the daemons this script started (pid files in DIR)
#   tools/slurm/local-cluster.sh env    DIR   # print "export SLURM_CONF=..." for the clients
#
# Clients (sbatch, srun, squeue, scontrol) find the cluster through SLURM_CONF=DIR/etc/slurm.conf;
# jobs/profiles/local.sh sets it from TRKAAS_SLURM_DIR.
#
# The node: the machine's short host name, CPUs as configured (SlurmdParameters=config_overrides
# lets it claim more than the machine has), Gres=gpu:N backed by character devices made under
# DIR/dev (like /dev/null: the fake GPUs can be allocated, nothing can run on them),
# proctrack/linuxproc and task/affinity (no cgroups), select/cons_tres, MpiDefault as configured
# (pmix: OpenMPI ranks started by srun), features "cpu,gpu" (so -C cpu / -C gpu, as on
# Perlmutter, select it). One partition, "local".
#
# Environment (start):
#   TRKAAS_SLURM_CPUS   CPUs of the node (default 16)
#   TRKAAS_SLURM_GPUS   fake GPUs (default 4)
#   TRKAAS_SLURM_MPI    MpiDefault (default pmix)
#   TRKAAS_SLURM_PORT   first of two TCP ports (slurmctld, slurmd); default: a free pair
#   TRKAAS_SLURM_TIMEOUT seconds to wait for the node to come up (default 60)
#   TRKAAS_SLURM_TASK_PLUGIN task/affinity (default) or task/none
#
# task/affinity (what real clusters run): slurmd sees a synthetic hwloc topology of the
# configured size, so Slurm allocates CPUs and checks --cpu-bind masks as on a real node of
# that size (it refuses a mask outside the step's CPUs); fold-affinity.c, built here with cc
# and preloaded into slurmd, maps the CPUs the machine lacks onto the ones it has at the final
# sched_setaffinity.
#
# Needs (Debian 12): munge slurmctld slurmd slurm-client (slurm-wlm-basic-plugins comes with
# them and has mpi/pmix). Runs as root or as a plain user: the daemons run as the invoking
# user (SlurmUser), and without CAP_MKNOD the fake GPUs are symbolic links to /dev/null.
set -euo pipefail

usage() { sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
(($# == 2)) || usage
cmd=$1
DIR=$2

die() { echo "local-cluster: $*" >&2; exit 1; }
# A start that fails after launching daemons stops them again: nothing is left behind.
start_failed() { stop >/dev/null 2>&1 || true; die "$@"; }

need_tools() {
  local missing=()
  for t in munged slurmctld slurmd sbatch srun squeue scontrol sinfo; do
    command -v "$t" >/dev/null 2>&1 || [[ -x /usr/sbin/$t ]] || missing+=("$t")
  done
  ((${#missing[@]} == 0)) || die "missing ${missing[*]} (Debian: apt-get install munge slurmctld slurmd slurm-client)"
}

# A program from PATH or /usr/sbin (sbin is not on every user's PATH).
prog() { command -v "$1" 2>/dev/null || echo "/usr/sbin/$1"; }

running() {  # running PID: the process exists and is not a zombie (unreaped here in sandboxes)
  kill -0 "$1" 2>/dev/null || return 1
  [[ $(awk '/^State:/{print $2}' "/proc/$1/status" 2>/dev/null) != Z ]]
}

alive() {  # alive PIDFILE: the process recorded there still runs
  [[ -s $1 ]] && running "$(cat "$1")"
}

port_free() {  # nothing listens on 127.0.0.1:PORT
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pick_ports() {
  if [[ -n ${TRKAAS_SLURM_PORT:-} ]]; then
    CTLD_PORT=$TRKAAS_SLURM_PORT
  else
    local p tries=0
    while :; do
      p=$((20000 + (RANDOM % 20000) * 2))
      if port_free "$p" && port_free $((p + 1)); then break; fi
      ((++tries < 50)) || die "no free pair of TCP ports found"
    done
    CTLD_PORT=$p
  fi
  SLURMD_PORT=$((CTLD_PORT + 1))
}

# pick_task_plugin: TASK_PLUGIN (TRKAAS_SLURM_TASK_PLUGIN, default task/affinity, the plugin
# of real clusters); for task/affinity, builds the CPU-folding shim into DIR/lib (needs cc).
pick_task_plugin() {
  TASK_PLUGIN=${TRKAAS_SLURM_TASK_PLUGIN:-task/affinity}
  CPUS=${TRKAAS_SLURM_CPUS:-16}
  case $TASK_PLUGIN in
    task/none) ;;
    task/affinity)
      local src
      src=$(dirname "${BASH_SOURCE[0]}")/fold-affinity.c
      mkdir -p "$DIR/lib"
      command -v cc >/dev/null || die "task/affinity needs a C compiler (cc) for $src; or TRKAAS_SLURM_TASK_PLUGIN=task/none"
      cc -O2 -shared -fPIC -o "$DIR/lib/fold-affinity.so" "$src" 2>"$DIR/lib/cc.log" \
        || die "cannot build $src (see $DIR/lib/cc.log)"
      ;;
    *) die "TRKAAS_SLURM_TASK_PLUGIN must be task/affinity or task/none, not '$TASK_PLUGIN'" ;;
  esac
}

write_config() {
  local cpus=$CPUS gpus=${TRKAAS_SLURM_GPUS:-4} mpi=${TRKAAS_SLURM_MPI:-pmix}
  local host user
  host=$(hostname -s)
  user=$(id -un)
  mkdir -p "$DIR"/{etc,state,spool,log,run,dev,munge}
  chmod 700 "$DIR/munge"
  local files=""
  if ((gpus > 0)); then
    for ((i = 0; i < gpus; i++)); do
      # Character devices like /dev/null (1,3): Slurm stats them for their major/minor numbers.
      # Without root (no CAP_MKNOD): a symbolic link to /dev/null, which slurmd stats alike.
      if [[ ! -e $DIR/dev/nvidia$i ]]; then
        { [[ ${TRKAAS_SLURM_NO_MKNOD:-0} != 1 ]] && mknod "$DIR/dev/nvidia$i" c 1 3 2>/dev/null; } \
          || ln -s /dev/null "$DIR/dev/nvidia$i" \
          || die "cannot create the fake GPU device $DIR/dev/nvidia$i"
      fi
    done
    files="$DIR/dev/nvidia[0-$((gpus - 1))]"
  fi
  cat >"$DIR/etc/slurm.conf" <<EOF
# Written by tools/slurm/local-cluster.sh: a single-node test cluster, state under $DIR.
ClusterName=trkaas-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
# cred_expire: how long slurmd refuses a requeued job's credential, hence how long a
# requeued job waits before it runs again (Slurm's default 120 s): 10 s keeps tests short.
AuthInfo=socket=$DIR/munge/munge.socket,cred_expire=10
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=$TASK_PLUGIN
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=$mpi
GresTypes=gpu
SlurmdParameters=config_overrides
ReturnToService=2
MailProg=/bin/true
# Short waits: tests stop and requeue jobs.
KillWait=5
MinJobAge=600
InactiveLimit=0
SlurmdTimeout=120
MessageTimeout=20
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus Boards=1 SocketsPerBoard=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=8000 Features=cpu,gpu $( ((gpus > 0)) && echo "Gres=gpu:$gpus") State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  if ((gpus > 0)); then
    echo "NodeName=$host Name=gpu File=$files" >"$DIR/etc/gres.conf"
  else
    : >"$DIR/etc/gres.conf"
  fi
  mkdir -p "$DIR/spool/$host" "$DIR/pmix"
  # The PMIx plugin's per-step directories default to /tmp/spmix_appdir_<uid>_<job>.<step>:
  # job ids restart at 1 in every new cluster, so a leftover from another cluster (a step
  # killed hard) would make a step fail with "File exists". Keep them under DIR.
  echo "PMIxCliTmpDirBase=$DIR/pmix" >"$DIR/etc/mpi.conf"
  # No cgroup.conf: slurmd 22.05 then autodetects cgroups but needs them for nothing here.
  rm -f "$DIR/etc/cgroup.conf"
}

start() {
  need_tools
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd)
  if alive "$DIR/run/slurmctld.pid" || alive "$DIR/run/slurmd.pid" || alive "$DIR/run/munged.pid"; then
    die "a cluster already runs in $DIR (stop it first)"
  fi
  pick_ports
  pick_task_plugin
  write_config
  local conf=$DIR/etc/slurm.conf
  export SLURM_CONF=$conf

  # munge: own key, socket, pid, log and seed; -F so that we hold its pid.
  [[ -s $DIR/munge/munge.key ]] || { head -c 1024 /dev/urandom >"$DIR/munge/munge.key"; }
  chmod 400 "$DIR/munge/munge.key"
  setsid "$(prog munged)" -F --force --key-file="$DIR/munge/munge.key" \
    --socket="$DIR/munge/munge.socket" --pid-file="$DIR/munge/munged.pid" \
    --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munged.seed" \
    </dev/null >>"$DIR/log/munged.out" 2>&1 &
  echo $! >"$DIR/run/munged.pid"
  for _ in $(seq 50); do [[ -S $DIR/munge/munge.socket ]] && break; sleep 0.1; done
  [[ -S $DIR/munge/munge.socket ]] || start_failed "munged did not start (see $DIR/log/munged.log)"

  # -D: foreground, so the recorded pid is the daemon's; -i: ignore saved state errors.
  setsid "$(prog slurmctld)" -D -i -f "$conf" </dev/null >>"$DIR/log/slurmctld.out" 2>&1 &
  echo $! >"$DIR/run/slurmctld.pid.own"
  local -a slurmd_env=()
  if [[ $TASK_PLUGIN == task/affinity ]]; then
    # slurmd sees the configured node shape (a synthetic hwloc topology), so Slurm allocates
    # and checks bindings as on a real node of that size; the preloaded shim maps the CPUs
    # the machine lacks onto the ones it has at the last system call (fold-affinity.c).
    slurmd_env=(HWLOC_SYNTHETIC="pack:1 core:$CPUS pu:1" LD_PRELOAD="$DIR/lib/fold-affinity.so")
  fi
  env "${slurmd_env[@]}" setsid "$(prog slurmd)" -D -f "$conf" -N "$(hostname -s)" </dev/null >>"$DIR/log/slurmd.out" 2>&1 &
  echo $! >"$DIR/run/slurmd.pid.own"

  local timeout=${TRKAAS_SLURM_TIMEOUT:-60} state=""
  for ((i = 0; i < timeout * 2; i++)); do
    alive "$DIR/run/slurmctld.pid.own" || { tail -n 20 "$DIR/log/slurmctld.log" "$DIR/log/slurmctld.out" >&2 || true; start_failed "slurmctld died"; }
    alive "$DIR/run/slurmd.pid.own" || { tail -n 20 "$DIR/log/slurmd.log" "$DIR/log/slurmd.out" >&2 || true; start_failed "slurmd died"; }
    state=$(sinfo -h -N -o %T 2>/dev/null | head -1 || true)
    [[ $state == idle ]] && break
    sleep 0.5
  done
  [[ $state == idle ]] || { tail -n 20 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true; start_failed "node not idle after ${timeout}s (state: ${state:-none})"; }
  echo "local-cluster: up in $DIR (slurmctld port $CTLD_PORT, node $(hostname -s) idle); clients: export SLURM_CONF=$conf"
}

stop() {
  [[ -d $DIR/run ]] || { echo "local-cluster: nothing started in $DIR"; return 0; }
  DIR=$(cd "$DIR" && pwd)
  local conf=$DIR/etc/slurm.conf f pid
  # Jobs first, through Slurm, while the daemons still run.
  if alive "$DIR/run/slurmctld.pid.own"; then
    local jobs
    jobs=$(SLURM_CONF=$conf squeue -h -o %i 2>/dev/null || true)
    if [[ -n $jobs ]]; then
      # shellcheck disable=SC2086
      SLURM_CONF=$conf scancel --full $jobs 2>/dev/null || true
      for _ in $(seq 30); do [[ -z $(SLURM_CONF=$conf squeue -h -t R,CG -o %i 2>/dev/null) ]] && break; sleep 0.2; done
    fi
  fi
  # slurmd, then slurmctld, then munged.
  for f in slurmd.pid.own slurmctld.pid.own munged.pid; do
    [[ -s $DIR/run/$f ]] || continue
    pid=$(cat "$DIR/run/$f")
    if running "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do running "$pid" || break; sleep 0.1; done
      running "$pid" && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$DIR/run/$f"
  done
  # Whatever this cluster's slurmd left behind (slurmstepd and job tasks outlive slurmd):
  # processes whose environment names this cluster's slurm.conf and that are a step
  # daemon or a job task (SLURM_JOB_ID), never this shell or its ancestors.
  local keep=" " p=$$ q comm
  while [[ $p -gt 1 ]]; do keep+="$p "; p=$(awk '/^PPid:/{print $2}' "/proc/$p/status" 2>/dev/null || echo 1); done
  for q in /proc/[0-9]*; do
    pid=${q#/proc/}
    [[ $keep == *" $pid "* ]] && continue
    [[ -r $q/environ ]] || continue
    tr '\0' '\n' 2>/dev/null <"$q/environ" | grep -qxF "SLURM_CONF=$conf" || continue
    comm=$(cat "$q/comm" 2>/dev/null || true)
    if [[ $comm == slurmstepd ]] || tr '\0' '\n' 2>/dev/null <"$q/environ" | grep -q '^SLURM_JOB_ID='; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  echo "local-cluster: stopped ($DIR)"
}

status() {
  local ok=0 f
  for f in munged.pid slurmctld.pid.own slurmd.pid.own; do
    if alive "$DIR/run/$f"; then echo "${f%%.*}: running (pid $(cat "$DIR/run/$f"))"; else echo "${f%%.*}: not running"; ok=1; fi
  done
  if ((ok == 0)); then
    SLURM_CONF=$DIR/etc/slurm.conf sinfo -N -o "%N %T %c %G" || ok=1
  fi
  return $ok
}

case $cmd in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) echo "export SLURM_CONF=$(cd "$DIR" && pwd)/etc/slurm.conf" ;;
  *) usage ;;
esac
