#!/bin/bash
# The model card's table (models/README.md): the pixel models (models/) and the
# whole-detector models (models/whole/) on held-out whole-detector samples at pile-up 0, 20,
# 50 and 200, measured by evaluate.py and by `trkaas run` side by side, on the processed hits
# and on the whole event. Samples as in train_whole.sh (same seeds and ids where they exist
# there; pile-up 0 and 50 are new: seeds 707 and 505). Writes models/card_table.json.
#
#   nice models/card_table.sh [BUILD_DIR] [MODEL_DIRS...]   (~30 min on 2 cores; one thread each,
#                                                            as threads beyond free cores spin)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
B=${1:-build}/trkaas
shift || true
SETS=("${@:-models models/whole}")
S=out/whole
mkdir -p $S
export GLIBC_TUNABLES=glibc.malloc.hugetlb=1
printf 'generator:\n  hard_scatter: true\n' > $S/hs.yaml
gen() { $B generate --cells -f --threads 2 "$@" 2>&1 | grep -v generated || true; }
# Pile-up 0 is the hard scatter alone (without it the event is empty).
[ -f $S/test_hs_pu0.h5 ] || gen --config $S/hs.yaml -n 20 --pileup 0 --fixed-pileup --seed 707 --first-event-id 7000 -o $S/test_hs_pu0.h5
[ -f $S/test_pu20.h5 ] || gen -n 20 --pileup 20 --seed 303 --first-event-id 2000 -o $S/test_pu20.h5
[ -f $S/test_pu50.h5 ] || gen -n 10 --pileup 50 --seed 505 --first-event-id 4000 -o $S/test_pu50.h5
[ -f $S/test_pu200.h5 ] || gen -n 5 --pileup 200 --seed 404 --first-event-id 3000 -o $S/test_pu200.h5
# shellcheck disable=SC2068
tools/python tools/train/model_card_table.py --trkaas $B --models ${SETS[@]} --threads 1 --merge \
  --json models/card_table.json --work out/card_table \
  --events pu0=$S/test_hs_pu0.h5 pu20=$S/test_pu20.h5 pu50=$S/test_pu50.h5 pu200=$S/test_pu200.h5
