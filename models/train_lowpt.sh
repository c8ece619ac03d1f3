#!/bin/bash
# Issue 18 step: whole-detector models that target particles down to 0.3 GeV (the TrackML
# score's weight is mostly below 1 GeV: 0.1-0.3 GeV 28%, 0.3-0.9 GeV 33%, above 0.9 GeV 30%
# on the validation events; the shipped whole-detector models, trained from 0.9 GeV, find
# none of the particles below 0.7 GeV and score 0.29). All three stages warm-start from
# models/whole and are trained on the default- and full-physics mixes of pile-up 0-200
# (the embedding and filter see full-physics events for the first time). Targets: labels
# from 0.3 GeV (embedding positives, filter and GNN), radius and filter cut keep 98% / 99%
# of the truth pairs above 0.4 GeV. Output in $O (default out/lowpt); models/README.md says
# what it gave. The run of 2026-12-03 (models/lowpt/train_lowpt.log) stopped after train.py;
# the tuning and evaluation below were then run by hand with the same commands
# (models/lowpt/tune_tracks.log, models/lowpt/metrics.json, models/card_table.sh).
#
#   nice -n 10 models/train_lowpt.sh > out/lowpt.log 2>&1 &
#
# Budgets fit about 100 minutes of wall time on 2 cores (--threads 2).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
S=out/whole   # default-physics samples (models/train_whole.sh)
F=out/full    # full-physics samples (models/train_whole_full.sh)
M=models/whole
O=${OUT:-out/lowpt}
B=${BIN:-build/trkaas}
PT=${PT_MIN:-0.3}
EFF=${EFF_PT:-0.4}
export GLIBC_TUNABLES=glibc.malloc.hugetlb=1
mkdir -p $S $F $O
printf 'generator:\n  hard_scatter: true\n' > $S/hs.yaml
printf 'generator:\n  hard_scatter: true\n' > $F/hs.yaml
gen() { $B generate --cells -f --threads 2 "$@" 2>&1 | grep -v generated || true; }
# The samples of models/train_whole.sh and models/train_whole_full.sh (same seeds and ids).
[ -f $S/train_pu200.h5 ] || gen -n 4 --pileup 200 --seed 111 --first-event-id 20000 -o $S/train_pu200.h5
[ -f $S/train_hs_pu200.h5 ] || gen --config $S/hs.yaml -n 3 --pileup 200 --seed 112 --first-event-id 20100 -o $S/train_hs_pu200.h5
[ -f $S/train_hs_pu100.h5 ] || gen --config $S/hs.yaml -n 2 --pileup 100 --seed 113 --first-event-id 20200 -o $S/train_hs_pu100.h5
[ -f $S/train_pu100.h5 ] || gen -n 1 --pileup 100 --seed 114 --first-event-id 20300 -o $S/train_pu100.h5
[ -f $S/train_pu50.h5 ] || gen -n 2 --pileup 50 --seed 115 --first-event-id 20400 -o $S/train_pu50.h5
[ -f $S/train_hs_pu20.h5 ] || gen --config $S/hs.yaml -n 2 --pileup 20 --seed 116 --first-event-id 20500 -o $S/train_hs_pu20.h5
[ -f $S/train_hs_pu0.h5 ] || gen --config $S/hs.yaml -n 2 --pileup 0 --fixed-pileup --seed 117 --first-event-id 20600 -o $S/train_hs_pu0.h5
[ -f $S/val.h5 ] || gen --config $S/hs.yaml -n 2 --pileup 200 --seed 222 --first-event-id 21000 -o $S/val.h5
[ -f $S/test_pu20.h5 ] || gen -n 20 --pileup 20 --seed 303 --first-event-id 2000 -o $S/test_pu20.h5
[ -f $S/test_pu200.h5 ] || gen -n 5 --pileup 200 --seed 404 --first-event-id 3000 -o $S/test_pu200.h5
fgen() { gen --physics full "$@"; }
[ -f $F/train_pu200.h5 ] || fgen -n 3 --pileup 200 --fixed-pileup --seed 1101 --first-event-id 31000 -o $F/train_pu200.h5
[ -f $F/train_hs_pu200.h5 ] || fgen --config $F/hs.yaml -n 2 --pileup 200 --fixed-pileup --seed 1102 --first-event-id 32000 -o $F/train_hs_pu200.h5
[ -f $F/train_pu100.h5 ] || fgen -n 2 --pileup 100 --fixed-pileup --seed 1103 --first-event-id 33000 -o $F/train_pu100.h5
[ -f $F/train_pu50.h5 ] || fgen -n 2 --pileup 50 --fixed-pileup --seed 1104 --first-event-id 34000 -o $F/train_pu50.h5
[ -f $F/train_hs_pu20.h5 ] || fgen --config $F/hs.yaml -n 2 --pileup 20 --fixed-pileup --seed 1105 --first-event-id 35000 -o $F/train_hs_pu20.h5
[ -f $F/train_hs_pu0.h5 ] || fgen --config $F/hs.yaml -n 1 --pileup 0 --fixed-pileup --seed 1106 --first-event-id 36000 -o $F/train_hs_pu0.h5
[ -f $F/val.h5 ] || fgen --config $F/hs.yaml -n 1 --pileup 200 --fixed-pileup --seed 1107 --first-event-id 37000 -o $F/val.h5
[ -f $F/test_pu20.h5 ] || fgen -n 20 --pileup 20 --seed 303 --first-event-id 2000 -o $F/test_pu20.h5
[ -f $F/test_pu200.h5 ] || fgen -n 5 --pileup 200 --seed 404 --first-event-id 3000 -o $F/test_pu200.h5
# A snapshot of the training code: the run keeps the code it started with.
snap=$(mktemp -d /tmp/trkaas_train_snapshot.XXXXXX)
mkdir -p "$snap/tools" && cp -r tools/train "$snap/tools/" && ln -s "$PWD/data" "$snap/data"
start=$(date +%s)
tools/python "$snap/tools/train/train.py" --train $S/train_pu200.h5 $S/train_hs_pu200.h5 $S/train_hs_pu100.h5 \
  $S/train_pu100.h5 $S/train_pu50.h5 $S/train_hs_pu20.h5 $S/train_hs_pu0.h5 $F/train_pu200.h5 \
  $F/train_hs_pu200.h5 $F/train_pu100.h5 $F/train_pu50.h5 $F/train_hs_pu20.h5 $F/train_hs_pu0.h5 \
  --val $S/val.h5 $F/val.h5 --out $O --threads 2 \
  --features r,phi,z,cell_count,lx,ly,geta,gphi --volumes 7,8,9,12,13,14,16,17,18 --train-pileup 0-200 \
  --hard-scatter --init $M --lr ${LR:-1e-3} \
  --pt-min $PT --eff-pt $EFF --pair-eff 0.98 --k 64 \
  --embed-hidden 256 --embed-layers 4 --embed-dim 8 --embed-epochs 30 --embed-minutes ${EMBED_MINUTES:-15} --hard-queries 3000 \
  --filter-hidden 128 --filter-layers 3 --filter-epochs 20 --filter-minutes ${FILTER_MINUTES:-12} --filter-edges 20000 \
  --filter-steps-per-event 16 --filter-eff 0.99 --edge-pos-weight 2.0 \
  --gnn-hidden 64 --gnn-iter 4 --gnn-aggr gated --gnn-triplets --gnn-epochs 60 --gnn-minutes ${GNN_MINUTES:-50} \
  --gnn-sector 8 --gnn-steps-per-event 4 --gnn-pt-min $PT --min-track-size 6 --track-builder walk
echo "== trained at $(( $(date +%s) - start )) s"
tools/python "$snap/tools/train/tune_tracks.py" --models $O --val $S/val.h5 $F/val.h5 --threads 2 \
  --min-track-size 5,6 --cuts 0.6,0.8,0.9 --extend-cuts 0.1 --max-turns 0.05,0.1 \
  --max-fake-rate 0.02 --min-efficiency 0.95 --maximize score --write --json $O/tune_tracks.json | tail -3
echo "== tuned at $(( $(date +%s) - start )) s"
tools/python "$snap/tools/train/evaluate.py" --models $O --threads 2 --json $O/metrics.json \
  --events pu20=$S/test_pu20.h5 pu200=$S/test_pu200.h5
echo "== done at $(( $(date +%s) - start )) s"
