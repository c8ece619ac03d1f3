#!/usr/bin/env bash
# A real Slurm cluster on this machine, for tests and for trying the job scripts: Debian's
# munged, slurmctld and slurmd as plain processes (no systemd), with every piece of state,
# configuration, log, socket and pid file under DIR. One node on localhost (the default), or
# several nodes, each slurmd in its own network namespace with its own host name and address.
#
#   tools/slurm/local-cluster.sh start  DIR   # write the config, start the daemons, wait until the nodes are idle
#   tools/slurm/local-cluster.sh status DIR   # daemons alive? node states (exit 1 when not running)
#   tools/slurm/local-cluster.sh stop   DIR   # stop only what this script started (pid files, DIR/run/net)
#   tools/slurm/local-cluster.sh env    DIR   # print "export SLURM_CONF=..." for the clients
#   tools/slurm/local-cluster.sh fail-node  DIR NODE  # several nodes: kill NODE's slurmd and all its processes
#   tools/slurm/local-cluster.sh start-node DIR NODE  # start NODE's slurmd again
#
# Clients (sbatch, srun, squeue, scontrol) find the cluster through SLURM_CONF=DIR/etc/slurm.conf;
# jobs/profiles/local.sh sets it from TRKAAS_SLURM_DIR.
#
# One node (TRKAAS_SLURM_NODES=1): the machine's short host name at 127.0.0.1, features
# "cpu,gpu" (so -C cpu / -C gpu, as on Perlmutter, select it), TRKAAS_SLURM_GPUS fake GPUs.
# Several nodes (TRKAAS_SLURM_NODES=N >= 2): TRKAAS_SLURM_CPU_NODES CPU nodes cpu01.. (feature
# "cpu", no GPU) and the others GPU nodes gpu01.. (feature "gpu", TRKAAS_SLURM_GPUS fake GPUs
# each). Each slurmd runs in its own network namespace (ip netns) joined by veth pairs to a
# bridge made for this cluster, in a /24 of 198.18.0.0/15 (the benchmarking range, RFC 2544)
# not used on this machine: the controller at .1 on the bridge, node i at .(10+i); in its own
# UTS namespace with the node name as host name, and with its own /etc/hosts (a bind mount
# seen only in its own mount namespace). Its jobs inherit all that, so OpenMPI ranks on different
# nodes talk over TCP through the bridge. The munge socket is a file: reachable from every
# namespace. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and iproute2. stop removes the
# namespaces, veths and the bridge (recorded in DIR/run/net).
#
# Every node: CPUs as configured (SlurmdParameters=config_overrides lets it claim more than the
# machine has), fake GPUs as character devices under DIR/dev (like /dev/null: they can be
# allocated, nothing can run on them), proctrack/linuxproc, TaskPlugin task/affinity (what real
# clusters use; no cgroups: they are not needed for binding, and several slurmd on one machine
# would share them), select/cons_tres, MpiDefault as configured (pmix: OpenMPI ranks started by
# srun). task/affinity: slurmd sees a synthetic hwloc topology of the configured size, so
# Slurm allocates CPUs and checks --cpu-bind masks as on a real node of that size (it refuses
# a mask outside the step's CPUs); fold-affinity.c, preloaded into slurmd, maps the CPUs the
# machine lacks onto the ones it has at the final sched_setaffinity. One partition, "local".
#
# Environment (start):
#   TRKAAS_SLURM_NODES      nodes (default 1)
#   TRKAAS_SLURM_CPU_NODES  of those, CPU nodes without GPUs (several nodes; default 1)
#   TRKAAS_SLURM_CPUS       CPUs per node (default 16)
#   TRKAAS_SLURM_GPUS       fake GPUs per GPU node (default 4)
#   TRKAAS_SLURM_MPI        MpiDefault (default pmix)
#   TRKAAS_SLURM_TASK_PLUGIN task/affinity (default; needs a C compiler for the shim) or task/none
#   TRKAAS_SLURM_PORT       first of two TCP ports (slurmctld, slurmd); default: a free pair
#   TRKAAS_SLURM_TIMEOUT    seconds to wait for the nodes to come up (default 60)
#   TRKAAS_SLURM_SLURMD_TIMEOUT  SlurmdTimeout: seconds before a silent node is DOWN (default 120;
#                           node-failure tests with fail-node want less)
#
# fail-node: what a node that loses power looks like to Slurm: its slurmd and every process
# in its network namespace (job steps, tasks, a batch script) killed at once. The controller
# marks it DOWN after SlurmdTimeout and requeues or fails its jobs; start-node brings it back
# (ReturnToService=2) as after the reboot of a diskless node (its spool directory empty).
#
# Needs (Debian 12): munge slurmctld slurmd slurm-client (slurm-wlm-basic-plugins comes with
# them and has mpi/pmix); several nodes: iproute2 and util-linux (unshare). One node runs as
# root or as a plain user: the daemons run as the invoking user (SlurmUser), and without
# CAP_MKNOD the fake GPUs are symbolic links to /dev/null.
set -euo pipefail

usage() { sed -n '7,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
(($# == 2 || $# == 3)) || usage
cmd=$1
DIR=$2
NODE_ARG=${3:-}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() { echo "local-cluster: $*" >&2; exit 1; }
# A start that fails after launching daemons stops them again: nothing is left behind.
start_failed() { stop >/dev/null 2>&1 || true; die "$@"; }

need_tools() {
  local missing=()
  for t in munged slurmctld slurmd sbatch srun squeue scontrol sinfo; do
    command -v "$t" >/dev/null 2>&1 || [[ -x /usr/sbin/$t ]] || missing+=("$t")
  done
  ((${#missing[@]} == 0)) || die "missing ${missing[*]} (Debian: apt-get install munge slurmctld slurmd slurm-client)"
  if ((NODES > 1)); then
    command -v ip >/dev/null 2>&1 || [[ -x /usr/sbin/ip ]] || die "several nodes need ip (Debian: apt-get install iproute2)"
    command -v unshare >/dev/null 2>&1 || die "several nodes need unshare (Debian: util-linux)"
  fi
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
  case $TASK_PLUGIN in
    task/none) ;;
    task/affinity)
      local src=$HERE/fold-affinity.c
      mkdir -p "$DIR/lib"
      command -v cc >/dev/null || die "task/affinity needs a C compiler (cc) for $src; or TRKAAS_SLURM_TASK_PLUGIN=task/none"
      cc -O2 -shared -fPIC -o "$DIR/lib/fold-affinity.so" "$src" 2>"$DIR/lib/cc.log" \
        || die "cannot build $src (see $DIR/lib/cc.log)"
      ;;
    *) die "TRKAAS_SLURM_TASK_PLUGIN must be task/affinity or task/none, not '$TASK_PLUGIN'" ;;
  esac
}

# plan_nodes: NODE_NAMES, NODE_ADDRS, NODE_GPUS, NODE_FEATURES (arrays), CTLD_ADDR, and in
# DIR/run/nodes one line "name address gpus features" per node.
plan_nodes() {
  local gpus=${TRKAAS_SLURM_GPUS:-4} i
  NODE_NAMES=() NODE_ADDRS=() NODE_GPUS=() NODE_FEATURES=()
  if ((NODES == 1)); then
    NODE_NAMES=("$(hostname -s)") NODE_ADDRS=(127.0.0.1) NODE_GPUS=("$gpus") NODE_FEATURES=(cpu,gpu)
    CTLD_ADDR=127.0.0.1
  else
    local cpu_nodes=${TRKAAS_SLURM_CPU_NODES:-1}
    ((cpu_nodes >= 0 && cpu_nodes <= NODES)) || die "TRKAAS_SLURM_CPU_NODES=$cpu_nodes: must be 0..$NODES"
    for ((i = 1; i <= NODES; i++)); do
      if ((i <= cpu_nodes)); then
        NODE_NAMES+=("$(printf 'cpu%02d' "$i")") NODE_GPUS+=(0) NODE_FEATURES+=(cpu)
      else
        NODE_NAMES+=("$(printf 'gpu%02d' $((i - cpu_nodes)))") NODE_GPUS+=("$gpus") NODE_FEATURES+=(gpu)
      fi
      NODE_ADDRS+=("$NET_PREFIX.$((10 + i))")
    done
    CTLD_ADDR=$NET_PREFIX.1
  fi
  : >"$DIR/run/nodes"
  for i in "${!NODE_NAMES[@]}"; do
    echo "${NODE_NAMES[i]} ${NODE_ADDRS[i]} ${NODE_GPUS[i]} ${NODE_FEATURES[i]}" >>"$DIR/run/nodes"
  done
}

# ---- several nodes: network namespaces -------------------------------------------------------
# Everything made is recorded in DIR/run/net as it is made ("netns NAME", "link NAME"), so that
# stop (and a failed start) removes exactly that, in reverse order.
net_record() { echo "$*" >>"$DIR/run/net"; }

# net_pick: a bridge name and a 198.18.K.0/24 that no interface or route of this machine uses.
net_pick() {
  local k tries=0 id
  while :; do
    k=$((RANDOM % 256))
    id=$(printf '%04x' $((RANDOM % 65536)))
    if ! ip -o -4 addr show | grep -q " 198\.18\.$k\." && [[ -z $(ip -4 route show "198.18.$k.0/24" 2>/dev/null) ]] \
      && ! ip link show "trkb$id" >/dev/null 2>&1 && ! ip netns list | grep -q "^trk$id-"; then
      break
    fi
    ((++tries < 50)) || die "no unused 198.18.K.0/24 and bridge name found"
  done
  NET_PREFIX=198.18.$k NET_ID=$id
}

# ipx ARGS...: ip ARGS, its error in DIR/log/net.err and on stderr (net_up runs in a subshell
# under ||, where set -e does not apply: every step checks).
ipx() {
  ip "$@" 2>>"$DIR/log/net.err" || { echo "local-cluster: ip $* failed: $(tail -n 1 "$DIR/log/net.err")" >&2; return 1; }
}

net_up() {
  local br=trkb$NET_ID i ns veth
  ipx link add "$br" type bridge || { echo "local-cluster: several nodes need root with CAP_NET_ADMIN" >&2; return 1; }
  net_record link "$br"
  ipx addr add "$CTLD_ADDR/24" dev "$br" || return 1
  ipx link set "$br" up || return 1
  for i in "${!NODE_NAMES[@]}"; do
    ns=trk$NET_ID-${NODE_NAMES[i]}
    veth=trk${NET_ID}n$i
    ipx netns add "$ns" || return 1
    net_record netns "$ns"
    ipx link add "$veth" type veth peer name eth0 netns "$ns" || return 1
    net_record link "$veth"
    ipx link set "$veth" master "$br" || return 1
    ipx link set "$veth" up || return 1
    ipx -n "$ns" link set lo up || return 1
    ipx -n "$ns" addr add "${NODE_ADDRS[i]}/24" dev eth0 || return 1
    ipx -n "$ns" link set eth0 up || return 1
  done
  # The nodes' /etc/hosts (bind-mounted in each slurmd's own mount namespace).
  {
    echo "127.0.0.1 localhost"
    echo "$CTLD_ADDR $(hostname -s) trkaas-ctld"
    for i in "${!NODE_NAMES[@]}"; do echo "${NODE_ADDRS[i]} ${NODE_NAMES[i]}"; done
  } >"$DIR/etc/hosts"
}

net_down() {
  [[ -s $DIR/run/net ]] || return 0
  local kind name
  # Namespaces first (their veth ends go with them), then the links left, newest first.
  tac "$DIR/run/net" | while read -r kind name; do
    case $kind in
      netns) ip netns del "$name" 2>/dev/null || true ;;
    esac
  done
  tac "$DIR/run/net" | while read -r kind name; do
    case $kind in
      link) ip link show "$name" >/dev/null 2>&1 && { ip link del "$name" 2>/dev/null || true; } ;;
    esac
  done
  rm -f "$DIR/run/net"
}

# ---- configuration ---------------------------------------------------------------------------
# fake_gpus NODE N: N character devices like /dev/null (1,3) under DIR/dev/NODE (Slurm stats
# them for their major/minor numbers; without CAP_MKNOD, symbolic links to /dev/null, which
# slurmd stats alike); GPU_FILES: the gres.conf File= pattern.
fake_gpus() {
  local node=$1 n=$2 i d=$DIR/dev/$1
  mkdir -p "$d"
  for ((i = 0; i < n; i++)); do
    if [[ ! -e $d/nvidia$i ]]; then
      { [[ ${TRKAAS_SLURM_NO_MKNOD:-0} != 1 ]] && mknod "$d/nvidia$i" c 1 3 2>/dev/null; } \
        || ln -s /dev/null "$d/nvidia$i" \
        || die "cannot create the fake GPU device $d/nvidia$i"
    fi
  done
  GPU_FILES="$d/nvidia[0-$((n - 1))]"
}

write_config() {
  local cpus=$CPUS mpi=${TRKAAS_SLURM_MPI:-pmix}
  local host user i
  host=$(hostname -s)
  user=$(id -un)
  mkdir -p "$DIR"/{etc,state,spool,log,run,dev,munge}
  chmod 700 "$DIR/munge"
  cat >"$DIR/etc/slurm.conf" <<EOF2
# Written by tools/slurm/local-cluster.sh: a test cluster of $NODES node(s), state under $DIR.
ClusterName=trkaas-local
SlurmctldHost=$host($CTLD_ADDR)
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
SlurmdPidFile=$DIR/run/slurmd-%n.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd-%n.log
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
# Heterogeneous jobs start only from the periodic scheduling passes (60 s and 30 s by default).
SchedulerParameters=sched_interval=5,bf_interval=5
MpiDefault=$mpi
GresTypes=gpu
SlurmdParameters=config_overrides
ReturnToService=2
MailProg=/bin/true
# Short waits: tests stop and requeue jobs.
KillWait=5
MinJobAge=600
InactiveLimit=0
SlurmdTimeout=${TRKAAS_SLURM_SLURMD_TIMEOUT:-120}
MessageTimeout=20
EOF2
  : >"$DIR/etc/gres.conf"
  for i in "${!NODE_NAMES[@]}"; do
    local name=${NODE_NAMES[i]} gpus=${NODE_GPUS[i]} gres=""
    if ((gpus > 0)); then
      gres="Gres=gpu:$gpus"
      fake_gpus "$name" "$gpus"
      echo "NodeName=$name Name=gpu File=$GPU_FILES" >>"$DIR/etc/gres.conf"
    fi
    echo "NodeName=$name NodeAddr=${NODE_ADDRS[i]} CPUs=$cpus Boards=1 SocketsPerBoard=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=8000 Features=${NODE_FEATURES[i]} $gres State=UNKNOWN" \
      >>"$DIR/etc/slurm.conf"
    mkdir -p "$DIR/spool/$name"
  done
  local IFS=,
  echo "PartitionName=local Nodes=${NODE_NAMES[*]} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO" >>"$DIR/etc/slurm.conf"
  unset IFS
  mkdir -p "$DIR/pmix"
  # The PMIx plugin's per-step directories default to /tmp/spmix_appdir_<uid>_<job>.<step>:
  # job ids restart at 1 in every new cluster, so a leftover from another cluster (a step
  # killed hard) would make a step fail with "File exists". Keep them under DIR.
  echo "PMIxCliTmpDirBase=$DIR/pmix" >"$DIR/etc/mpi.conf"
  # No cgroup.conf: slurmd 22.05 then autodetects cgroups but needs them for nothing here.
  rm -f "$DIR/etc/cgroup.conf"
}

# start_slurmd I: node I's slurmd in the foreground (-D, so that the recorded pid is the
# daemon's): on localhost, or in the node's network, UTS and mount namespaces.
start_slurmd() {
  local i=$1 name=${NODE_NAMES[$1]} conf=$DIR/etc/slurm.conf
  local -a env=()
  if [[ $TASK_PLUGIN == task/affinity ]]; then
    # slurmd sees the configured node shape (a synthetic hwloc topology), so Slurm allocates
    # and checks bindings as on a real node of that size; the preloaded shim maps the CPUs
    # the machine lacks onto the ones it has at the last system call (fold-affinity.c).
    env=(HWLOC_SYNTHETIC="pack:1 core:$CPUS pu:1" LD_PRELOAD="$DIR/lib/fold-affinity.so")
  fi
  if ((NODES == 1)); then
    env "${env[@]}" setsid "$(prog slurmd)" -D -f "$conf" -N "$name" \
      </dev/null >>"$DIR/log/slurmd-$name.out" 2>&1 &
  else
    # nsenter joins the network namespace only (ip netns exec would also remount /sys, hiding
    # the cgroup file system slurmd 22.05 insists on); unshare gives a host name and a mount
    # namespace (private) for /etc/hosts. nsenter and unshare exec without forking: $! is
    # slurmd's pid in the end.
    # shellcheck disable=SC2016
    # The PMIx plugin's step directories (DIR/pmix, see mpi.conf) are named after the job and
    # step only: each node gets its own under the same path, as a node-local /tmp would.
    # /dev/shm: a tmpfs of the node's own (OpenMPI's shared-memory segments are named after
    # host and job: a killed job's would be found by the next cluster's job of the same id),
    # gone with the node's last process, as at a reboot.
    mkdir -p "$DIR/pmix-nodes/$name"
    setsid nsenter --net="/run/netns/trk$NET_ID-$name" unshare --uts --mount sh -c \
      'hostname "$1" && mount --bind "$2" /etc/hosts && mount --bind "$3" "$4" && mount -t tmpfs -o mode=1777,size=2g tmpfs /dev/shm && shift 4 && exec "$@"' \
      sh "$name" "$DIR/etc/hosts" "$DIR/pmix-nodes/$name" "$DIR/pmix" \
      env "${env[@]}" "$(prog slurmd)" -D -f "$conf" -N "$name" \
      </dev/null >>"$DIR/log/slurmd-$name.out" 2>&1 &
  fi
  echo $! >"$DIR/run/slurmd-$name.pid.own"
}

any_alive() {  # a daemon of an earlier start in DIR still runs
  local f
  for f in "$DIR"/run/*.pid "$DIR"/run/*.pid.own; do
    [[ -e $f ]] && alive "$f" && return 0
  done
  return 1
}

start() {
  NODES=${TRKAAS_SLURM_NODES:-1}
  CPUS=${TRKAAS_SLURM_CPUS:-16}
  ((NODES >= 1)) || die "TRKAAS_SLURM_NODES=$NODES: at least 1"
  need_tools
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd)
  any_alive && die "a cluster already runs in $DIR (stop it first)"
  mkdir -p "$DIR"/{etc,run,log}
  net_down  # a network an earlier start here left (its record in DIR/run/net)
  rm -f "$DIR"/run/*
  pick_ports
  pick_task_plugin
  if ((NODES > 1)); then net_pick; fi
  plan_nodes
  write_config
  # What start-node needs later.
  printf 'NODES=%q CPUS=%q TASK_PLUGIN=%q NET_ID=%q\n' "$NODES" "$CPUS" "$TASK_PLUGIN" "${NET_ID:-}" >"$DIR/run/cluster.env"
  if ((NODES > 1)); then (net_up) || start_failed "the nodes' network could not be made"; fi
  local conf=$DIR/etc/slurm.conf i
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
  for i in "${!NODE_NAMES[@]}"; do start_slurmd "$i"; done

  local timeout=${TRKAAS_SLURM_TIMEOUT:-60} states="" want name
  want=$(printf 'idle %.0s' "${NODE_NAMES[@]}")
  for ((i = 0; i < timeout * 2; i++)); do
    alive "$DIR/run/slurmctld.pid.own" || { tail -n 20 "$DIR/log/slurmctld.log" "$DIR/log/slurmctld.out" >&2 || true; start_failed "slurmctld died"; }
    for name in "${NODE_NAMES[@]}"; do
      alive "$DIR/run/slurmd-$name.pid.own" || { tail -n 20 "$DIR/log/slurmd-$name.log" "$DIR/log/slurmd-$name.out" >&2 || true; start_failed "slurmd of $name died"; }
    done
    states=$(sinfo -h -N -o %T 2>/dev/null | tr '\n' ' ' || true)
    [[ $states == "$want" ]] && break
    sleep 0.5
  done
  [[ $states == "$want" ]] || { tail -n 20 "$DIR/log/slurmctld.log" "$DIR"/log/slurmd-*.log >&2 || true; start_failed "nodes not idle after ${timeout}s (states: ${states:-none})"; }
  local IFS=,
  echo "local-cluster: up in $DIR (slurmctld $CTLD_ADDR:$CTLD_PORT, $NODES node(s) ${NODE_NAMES[*]} idle); clients: export SLURM_CONF=$conf"
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
  # The slurmd, then slurmctld, then munged.
  for f in "$DIR"/run/slurmd-*.pid.own "$DIR/run/slurmctld.pid.own" "$DIR/run/munged.pid"; do
    [[ -s $f ]] || continue
    pid=$(cat "$f")
    if running "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do running "$pid" || break; sleep 0.1; done
      running "$pid" && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
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
  net_down
  echo "local-cluster: stopped ($DIR)"
}

status() {
  local ok=0 f
  for f in "$DIR/run/munged.pid" "$DIR/run/slurmctld.pid.own" "$DIR"/run/slurmd-*.pid.own; do
    local what=${f##*/}
    what=${what%%.pid*}
    if alive "$f"; then echo "$what: running (pid $(cat "$f"))"; else echo "$what: not running"; ok=1; fi
  done
  if ((ok == 0)); then
    SLURM_CONF=$DIR/etc/slurm.conf sinfo -N -o "%N %T %c %G %f" || ok=1
  fi
  return $ok
}

# load_cluster: the running cluster's shape (DIR/run/cluster.env, DIR/run/nodes); NODE_INDEX
# of NODE_ARG.
load_cluster() {
  DIR=$(cd "$DIR" && pwd)
  [[ -s $DIR/run/cluster.env && -s $DIR/run/nodes ]] || die "no cluster started in $DIR"
  # shellcheck source=/dev/null
  source "$DIR/run/cluster.env"
  NODE_NAMES=() NODE_INDEX=""
  local name rest
  while read -r name rest; do
    [[ $name == "$NODE_ARG" ]] && NODE_INDEX=${#NODE_NAMES[@]}
    NODE_NAMES+=("$name")
  done <"$DIR/run/nodes"
  [[ -n $NODE_INDEX ]] || die "no node '$NODE_ARG' in $DIR (nodes: ${NODE_NAMES[*]})"
  ((NODES > 1)) || die "fail-node/start-node need several nodes (each in its own namespace)"
}

fail_node() {
  load_cluster
  local ns=trk$NET_ID-$NODE_ARG pids
  pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
  # shellcheck disable=SC2086
  [[ -n ${pids// /} ]] && kill -KILL $pids 2>/dev/null
  rm -f "$DIR/run/slurmd-$NODE_ARG.pid.own"
  echo "local-cluster: node $NODE_ARG failed: killed slurmd and its processes (${pids:-none})"
}

start_node() {
  load_cluster
  alive "$DIR/run/slurmd-$NODE_ARG.pid.own" && die "the slurmd of $NODE_ARG runs already"
  # As after the reboot of a diskless node (Perlmutter's are; their spool is in memory): the
  # node's spool and PMIx directories are empty. What the killed step daemons left there
  # makes the requeued job's step fail on this node, whose job and step ids are the same
  # again: "Cannot bind() UNIX socket ... stepd.slurm.pmix.J.S: Address already in use",
  # then "Cannot create directory .../pmix.J.S/: File exists".
  rm -rf "${DIR:?}/spool/$NODE_ARG"/* "${DIR:?}/pmix-nodes/$NODE_ARG"/* 2>/dev/null || true
  start_slurmd "$NODE_INDEX"
  echo "local-cluster: slurmd of $NODE_ARG started (pid $(cat "$DIR/run/slurmd-$NODE_ARG.pid.own"))"
}

case $cmd in
  fail-node) [[ -n $NODE_ARG ]] || usage; fail_node ;;
  start-node) [[ -n $NODE_ARG ]] || usage; start_node ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) echo "export SLURM_CONF=$(cd "$DIR" && pwd)/etc/slurm.conf" ;;
  *) usage ;;
esac
