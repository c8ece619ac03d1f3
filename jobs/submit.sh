#!/usr/bin/env bash
# Submit a trkaas batch script with a site profile's sbatch options.
#
#   jobs/submit.sh [--profile NAME|PATH] [sbatch options...] SCRIPT.sbatch [trkaas arguments...]
#   heterogeneous scripts: [options of the CPU component...] [: options of the GPU component...]
#
# The profile (default: $TRKAAS_PROFILE, else perlmutter) is jobs/profiles/NAME.sh; it gives
# the sbatch options (account, QOS, partition) and, inside the job, modules, binary and
# launcher. Prints the job id (sbatch --parsable). Options after the script go to trkaas.
set -euo pipefail
TRKAAS_ROOT=${TRKAAS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
export TRKAAS_ROOT
if [[ ${1:-} == --profile ]]; then TRKAAS_PROFILE=$2; shift 2; fi
if [[ ${1:-} == --profile=* ]]; then TRKAAS_PROFILE=${1#--profile=}; shift; fi
export TRKAAS_PROFILE=${TRKAAS_PROFILE:-perlmutter}
# shellcheck source=lib/job.sh
source "$TRKAAS_ROOT/jobs/lib/job.sh"
trkaas_load_profile

sbatch_opts=()
while (($#)) && [[ $1 != *.sbatch ]]; do sbatch_opts+=("$1"); shift; done
(($#)) || { echo "submit: no .sbatch script given" >&2; exit 2; }
script=$1
shift

# The node kind the job asks for: a -C/--constraint among the options, else the script's
# first "#SBATCH --constraint=" line; "gpu" when it names gpu, else "cpu".
node_kind() {
  local c="" i
  for ((i = 0; i < ${#sbatch_opts[@]}; i++)); do
    case ${sbatch_opts[i]} in
      -C | --constraint) c=${sbatch_opts[i + 1]:-} ;;
      -C?*) c=${sbatch_opts[i]#-C} ;;
      --constraint=*) c=${sbatch_opts[i]#--constraint=} ;;
    esac
  done
  [[ -n $c ]] || c=$(sed -n 's/^#SBATCH \(--constraint=\|-C *\)\([^ ]*\).*/\2/p' "$script" | head -1)
  if [[ $c == *gpu* ]]; then echo gpu; else echo cpu; fi
}
# Accounts by node kind (NERSC charges CPU and GPU nodes to different accounts): the profile's
# trkaas_account KIND, unless the options give -A/--account.
account_args() {  # account_args KIND
  local o
  for o in "${sbatch_opts[@]}"; do
    [[ $o == -A* || $o == --account* ]] && return 0
  done
  declare -F trkaas_account >/dev/null || return 0
  local a
  a=$(trkaas_account "$1")
  [[ -n $a ]] && echo "--account=$a"
  return 0
}

if grep -q '^#SBATCH hetjob' "$script"; then
  # A heterogeneous job (CPU nodes, then GPU nodes): options before a ":" go to the first
  # component, after it to the second (each adds to its component's #SBATCH lines); the
  # profile's options go to both, the CPU account to the first, the GPU account to the second.
  opts0=() opts1=() second=0
  for o in "${sbatch_opts[@]}"; do
    if [[ $o == : ]]; then second=1; elif ((second)); then opts1+=("$o"); else opts0+=("$o"); fi
  done
  sbatch_opts=("${opts0[@]}")
  mapfile -t acct0 < <(account_args cpu)
  sbatch_opts=("${opts1[@]}")
  mapfile -t acct1 < <(account_args gpu)
  exec sbatch --parsable "${TRKAAS_SBATCH_ARGS[@]}" "${acct0[@]}" "${opts0[@]}" \
    : "${TRKAAS_SBATCH_ARGS[@]}" "${acct1[@]}" "${opts1[@]}" "$script" "$@"
fi
mapfile -t acct < <(account_args "$(node_kind)")
exec sbatch --parsable "${TRKAAS_SBATCH_ARGS[@]}" "${acct[@]}" "${sbatch_opts[@]}" "$script" "$@"
