# Site profile: the single-node test cluster of tools/slurm/local-cluster.sh (16 CPUs, 4 fake
# GPUs backed by /dev/null-like devices, partition "local", features cpu,gpu). Sourced by
# jobs/submit.sh (sbatch options) and by the batch scripts (environment, binary, launcher).
#
#   tools/slurm/local-cluster.sh start /tmp/slurm
#   TRKAAS_SLURM_DIR=/tmp/slurm jobs/submit.sh --profile local jobs/perlmutter-cpu.sbatch -c ... -o ... -i ...
TRKAAS_SITE=local

# Clients find the cluster through SLURM_CONF; the jobs inherit it (sbatch exports the
# environment).
if [[ -n ${TRKAAS_SLURM_DIR:-} ]]; then
  export SLURM_CONF=$TRKAAS_SLURM_DIR/etc/slurm.conf
fi
TRKAAS_SBATCH_ARGS=(--partition=local)

# Node shape: one thread per core; the fake GPUs as configured by local-cluster.sh.
TRKAAS_CPUS_PER_CORE=1
TRKAAS_GPUS_PER_NODE=${TRKAAS_SLURM_GPUS:-4}
# The command line Perlmutter gets; the local cluster's task/affinity checks the masks against
# the step's CPUs as Perlmutter's does. Verbose: srun reports each task's mask in the job log
# (the tests read it).
TRKAAS_CPU_BIND=${TRKAAS_CPU_BIND:-masks}
TRKAAS_CPU_BIND_VERBOSE=${TRKAAS_CPU_BIND_VERBOSE:-1}

# The fake GPUs run nothing: GPU servers fall back to the CPU (and say so) instead of failing.
TRKAAS_GPU_USE=${TRKAAS_GPU_USE:-auto}

TRKAAS_SRUN_MPI=${TRKAAS_SRUN_MPI:-pmix}
TRKAAS_BIN=${TRKAAS_BIN:-$TRKAAS_ROOT/build/trkaas}
# Running as root (CI containers): OpenMPI refuses unless told.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

trkaas_site_setup() {
  [[ -x $TRKAAS_BIN ]] || { echo "trkaas job: no trkaas binary at $TRKAAS_BIN" >&2; return 1; }
}
