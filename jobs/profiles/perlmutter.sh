# Site profile: NERSC Perlmutter. Sourced by jobs/submit.sh (sbatch options) and by the
# batch scripts (environment, binary, launcher). Everything Perlmutter-specific lives here.
# Not yet run on Perlmutter: module names and versions are the documented ones; check with
# "module avail" and adjust (see jobs/README.md, "Running on Perlmutter").
TRKAAS_SITE=perlmutter

# Submission: account (required at NERSC) and QOS; the scripts carry -C gpu / -C cpu.
TRKAAS_SBATCH_ARGS=(--qos="${TRKAAS_QOS:-regular}")
[[ -n ${TRKAAS_ACCOUNT:-${SBATCH_ACCOUNT:-}} ]] && TRKAAS_SBATCH_ARGS+=(--account="${TRKAAS_ACCOUNT:-$SBATCH_ACCOUNT}")

# Node shape: 2 hardware threads per core (Slurm counts 128 CPUs on a GPU node, 256 on a
# CPU node); 4 A100 per GPU node.
TRKAAS_CPUS_PER_CORE=2
TRKAAS_GPUS_PER_NODE=4
TRKAAS_CPU_BIND=masks

# Launcher: OpenMPI through PMIx. A build with cray-mpich instead: TRKAAS_SRUN_MPI=cray_shasta
# (and MPICH_MAX_THREAD_SAFETY=multiple: the servers need MPI_THREAD_MULTIPLE).
# A GPU node whose servers cannot use their GPU (a CPU-only build, a driver problem) fails at
# once instead of running on the CPU.
TRKAAS_GPU_USE=${TRKAAS_GPU_USE:-require}

TRKAAS_SRUN_MPI=${TRKAAS_SRUN_MPI:-pmix}
TRKAAS_MODULES=${TRKAAS_MODULES:-"PrgEnv-gnu cudatoolkit cray-hdf5 openmpi pytorch"}
TRKAAS_BIN=${TRKAAS_BIN:-$TRKAAS_ROOT/build/trkaas}

trkaas_site_setup() {
  if command -v module >/dev/null 2>&1 || type module >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    module load $TRKAAS_MODULES || { echo "trkaas job: module load $TRKAAS_MODULES failed" >&2; return 1; }
  fi
  # libtorch comes from the pytorch module's Python installation.
  local torchlib
  torchlib=$(python -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null) \
    && export LD_LIBRARY_PATH=$torchlib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  [[ -x $TRKAAS_BIN ]] || { echo "trkaas job: no trkaas binary at $TRKAAS_BIN (build it: jobs/README.md)" >&2; return 1; }
}
