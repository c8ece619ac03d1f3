#!/usr/bin/env bash
# Submit a trkaas batch script with a site profile's sbatch options.
#
#   jobs/submit.sh [--profile NAME|PATH] [sbatch options...] SCRIPT.sbatch [trkaas arguments...]
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
exec sbatch --parsable "${TRKAAS_SBATCH_ARGS[@]}" "${sbatch_opts[@]}" "$script" "$@"
