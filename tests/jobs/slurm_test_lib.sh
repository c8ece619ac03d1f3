# Shared by the real-Slurm tests (sourced): skip checks, a temporary local cluster
# (tools/slurm/local-cluster.sh) stopped on every exit, failure reporting with the logs, and
# polling helpers. Needs BIN (trkaas binary) and SRC (source directory) set by the caller.

# slurm_test_start: skip (exit 77) without Slurm/munge or cgroups (or, for several nodes,
# TRKAAS_SLURM_NODES > 1, without network namespaces; with SLURM_TEST_ONE_NODE_FALLBACK=1 one
# node instead), else start the cluster in
# WORK/cluster and export what the job scripts and the clients need. The cluster's shape
# comes from the TRKAAS_SLURM_* variables (tools/slurm/local-cluster.sh).
slurm_test_start() {
  local t
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
  if ((${TRKAAS_SLURM_NODES:-1} > 1)); then
    # One network namespace per node: root with CAP_NET_ADMIN and CAP_SYS_ADMIN (a probe that
    # leaves nothing behind: a private namespace of this one command).
    if ! command -v ip >/dev/null 2>&1 || ! unshare --net --uts --mount ip link add trkaas-probe type bridge 2>/dev/null; then
      if [[ ${SLURM_TEST_ONE_NODE_FALLBACK:-0} == 1 ]]; then
        echo "NOTE: no network namespaces here (root with CAP_NET_ADMIN/CAP_SYS_ADMIN, iproute2, unshare): one node instead of $TRKAAS_SLURM_NODES"
        export TRKAAS_SLURM_NODES=1
      else
        echo "SKIP: several nodes need network namespaces (root with CAP_NET_ADMIN/CAP_SYS_ADMIN, iproute2, unshare)"
        exit 77
      fi
    fi
  fi
  [[ -x $BIN ]] || { echo "FAIL: no trkaas binary at $BIN"; exit 1; }
  command -v python3 >/dev/null || { echo "FAIL: python3 is needed to read the journals"; exit 1; }
  # Short path: the munge socket lives under it (Unix socket paths are limited to ~100 bytes).
  WORK=$(mktemp -d /tmp/trkaas-slurm-test.XXXXXX)
  CLUSTER=$WORK/cluster
  failed=0
  trap slurm_test_cleanup EXIT
  trap 'exit 130' INT TERM
  step "starting the local cluster in $CLUSTER"
  "$SRC/tools/slurm/local-cluster.sh" start "$CLUSTER" || fail "the local cluster did not start"
  export TRKAAS_SLURM_DIR=$CLUSTER TRKAAS_BIN=$BIN TRKAAS_ROOT=$SRC
  unpinned_bin
  export SLURM_CONF=$CLUSTER/etc/slurm.conf
}

# unpinned_bin: the job scripts run TRKAAS_BIN, here a wrapper that gives the rank every CPU
# of this machine back and then runs BIN. The emulated nodes have 8 CPUs each on a machine of
# 2: task/affinity pins every node's producer to CPU 0 (the masks the tests check, from srun's
# --cpu-bind=verbose lines, are set before the wrapper runs). On the 2-core test VMs a rank
# pinned to CPU 0 stalled for 30-160 s at a time under full load while the kernel reported
# "workqueue lockup - pool cpus=0 ... stuck for 101s" (dmesg): part 2 of jobs_multinode_slurm
# alone, with a third process spinning, hung in 6 of 20 runs (and twice in CI), in 0 of 8 with
# TRKAAS_CPU_BIND=none and in 0 of 10 with this wrapper, no lockup reported. Only the process
# is unpinned, not what the scripts ask of srun.
unpinned_bin() {
  command -v taskset >/dev/null 2>&1 || return 0
  cat >"$WORK/trkaas-unpinned" <<EOF2
#!/bin/sh
exec taskset -c 0-$(($(nproc --all) - 1)) "$BIN" "\$@"
EOF2
  chmod +x "$WORK/trkaas-unpinned"
  export TRKAAS_BIN=$WORK/trkaas-unpinned
}

slurm_test_cleanup() {
  "$SRC/tools/slurm/local-cluster.sh" stop "$CLUSTER" >/dev/null 2>&1 || true
  if ((failed)) || [[ ${KEEP_WORK:-0} == 1 ]]; then
    echo "(kept $WORK for inspection)"
  else
    rm -rf "$WORK"
  fi
}

# fail MESSAGE: print it with the tails of the job and daemon logs, and end the test.
fail() {
  failed=1
  echo "FAIL: $*"
  local f
  for f in "$WORK"/job-*.log "$WORK"/*/logs/*.log; do [[ -f $f ]] && { echo "--- $f"; tail -n 40 "$f"; }; done
  for f in "$CLUSTER"/log/slurmctld.log "$CLUSTER"/log/slurmd-*.log; do [[ -f $f ]] && { echo "--- $f"; tail -n 15 "$f"; }; done
  exit 1
}

step() { echo "[$(date +%T)] $*"; }

# state JOB: the job's state from the controller (kept MinJobAge=600 s after the end).
state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1; }

# wait_gone JOB TIMEOUT: poll until every record of JOB (for a job array, the array's id:
# all its tasks) is in a final state (sbatch --wait polls only every 10 s). scontrol's
# states decide, not an empty squeue: squeue prints nothing also when slurmctld is slow to
# answer, and a job was once read as gone while scontrol still said RUNNING. A job already
# purged from slurmctld counts as gone when squeue answers (exit 0) without it.
wait_gone() {
  local job=$1 limit=$2 t0=$SECONDS states listed
  while :; do
    states=$(scontrol show job "$job" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | sort -u | tr '\n' ' ')
    if [[ -n $states ]]; then
      grep -qE 'PENDING|CONFIGURING|RUNNING|COMPLETING|SUSPENDED|REQUEUE|RESIZING|SIGNALING|STAGE_OUT|STOPPED' <<<"$states" || return 0
    elif listed=$(squeue -h -j "$job" -o %i 2>/dev/null) && [[ -z $listed ]]; then
      return 0
    fi
    ((SECONDS - t0 < limit)) || { scancel "$job"; fail "job $job still in the queue after ${limit}s (states: ${states:-none})"; }
    sleep 0.5
  done
}

# pipeline_yaml FILE MODELS_DIR: a pipeline config with the small test models.
test_pipeline_yaml() {
  cat >"$1" <<EOF2
format: trkaas-pipeline
features: [{name: r, scale: 1000.0}, {name: phi, scale: 3.14159}, {name: z, scale: 1000.0}]
radius: 0.3
max_neighbours: 16
filter_cut: 0.05
gnn_cut: 0.05
min_track_size: 3
volumes: [8]
models: {embedding: $2/emb_good.pt, filter: $2/edge_good.pt, gnn: $2/edge_column.pt}
EOF2
}
