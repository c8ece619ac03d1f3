# Site profile: NERSC Perlmutter. Sourced by jobs/submit.sh (sbatch options) and by the
# batch scripts (environment, binary, launcher). Everything Perlmutter-specific lives here.
# Not yet run on Perlmutter: module names and versions are the documented ones; check with
# "module avail" and adjust (see jobs/README.md, "Running on Perlmutter").
TRKAAS_SITE=perlmutter

# Submission: QOS; the scripts carry -C gpu / -C cpu.
TRKAAS_SBATCH_ARGS=(--qos="${TRKAAS_QOS:-regular}")

# Accounts (required at NERSC): CPU and GPU node hours are charged to different accounts, the
# GPU one being the project's name with "_g" (m1234 and m1234_g). jobs/submit.sh asks for the
# one of the job's node kind: TRKAAS_ACCOUNT_CPU / TRKAAS_ACCOUNT_GPU, else TRKAAS_ACCOUNT (or
# SBATCH_ACCOUNT) as given for CPU jobs and with "_g" for GPU jobs. -A on the command line wins.
trkaas_account() {  # trkaas_account cpu|gpu
  local base=${TRKAAS_ACCOUNT:-${SBATCH_ACCOUNT:-}}
  base=${base%_g}
  case $1 in
    gpu) echo "${TRKAAS_ACCOUNT_GPU:-${base:+${base}_g}}" ;;
    *) echo "${TRKAAS_ACCOUNT_CPU:-$base}" ;;
  esac
}

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

# HDF5 locks every file it opens; it ignores only ENOSYS from a file system without locks,
# and some mounts return other codes: an input must never become an "unreadable file" for a
# lock. trkaas's own run lock (DIR/.trkaas-lock) is separate and stays. Exported: srun passes
# it to every rank.
export HDF5_USE_FILE_LOCKING=FALSE
TRKAAS_MODULES=${TRKAAS_MODULES:-"PrgEnv-gnu cudatoolkit cray-hdf5 openmpi pytorch"}
TRKAAS_BIN=${TRKAAS_BIN:-$TRKAAS_ROOT/build/trkaas}

# Modules pinned to the versions the binary was built with: after building, record them
#   module -t list 2>&1 | grep / > build/modules.txt      (one name/version a line)
# and every job loads exactly those (TRKAAS_MODULES_FILE, default modules.txt beside
# TRKAAS_BIN). Without the file: TRKAAS_MODULES, unversioned, with a warning (the defaults
# move under a job that was built against older ones).
trkaas_modules() {
  local f=${TRKAAS_MODULES_FILE:-$(dirname "$TRKAAS_BIN")/modules.txt} m unpinned=()
  if [[ -f $f ]]; then
    grep -v '^[[:space:]]*\(#\|$\)' "$f" | tr '\n' ' '
    return 0
  fi
  for m in $TRKAAS_MODULES; do [[ $m == */* ]] || unpinned+=("$m"); done
  ((${#unpinned[@]} == 0)) || echo "trkaas job: warning: modules without a version (${unpinned[*]}): no $f; record the build's: module -t list 2>&1 | grep / > $f" >&2
  echo "$TRKAAS_MODULES"
}

trkaas_site_setup() {
  if command -v module >/dev/null 2>&1 || type module >/dev/null 2>&1; then
    local mods
    mods=$(trkaas_modules)
    # shellcheck disable=SC2086
    module load $mods || { echo "trkaas job: module load $mods failed" >&2; return 1; }
    echo "trkaas job: modules: $(module -t list 2>&1 | tr '\n' ' ')"
  fi
  # libtorch comes from the pytorch module's Python installation.
  local torchlib
  torchlib=$(python -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null) \
    && export LD_LIBRARY_PATH=$torchlib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  [[ -x $TRKAAS_BIN ]] || { echo "trkaas job: no trkaas binary at $TRKAAS_BIN (build it: jobs/README.md)" >&2; return 1; }
}
