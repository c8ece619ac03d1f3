#!/bin/bash
# Issue 18 step: the low-pT set (models/lowpt, labels from 0.3 GeV) retrained with labels
# from 0.1 GeV. Why (models/README.md, "What the score needs"): with TrackML's weights the
# particles of 0.1-0.3 GeV carry a quarter of the score's weight; on the validation events
# most of that weight (0.21 of 0.25) belongs to particles that leave the majority of their
# hits on the way out, before they turn back, so an outward walk can find them, but the
# low-pT set's graph and filter keep only 15-41% of their truth pairs and its GNN scores
# almost none of them above the cut. All three stages warm-start from models/lowpt and are
# trained on the samples of models/train_lowpt.sh (same mix of pile-ups and physics).
# Labels from 0.1 GeV (embedding positives, filter and GNN), radius and filter cut keep
# 98% / 99% of the truth pairs above 0.2 GeV, up to 128 neighbours per hit. Output in $O
# (default out/lowpt2); models/README.md says what it gave.
#
#   nice -n 10 models/train_lowpt2.sh > out/lowpt2.log 2>&1 &
#
# Budgets fit about 90 minutes of wall time on 2 cores (--threads 2).
#
# The run of 2026-12-04 (models/lowpt2/train_lowpt2.log) trained all three stages (87 min;
# 8 GNN epochs) and was stopped in train.py's closing scan of track settings: on graphs this
# large the Python track building with stitching took ~270 s per setting and event set. Its
# radius and filter cut were copied from the log into models/lowpt2/pipeline.yaml, with the
# track settings of models/lowpt; the tune_tracks.py and evaluate.py lines below did not run
# (models/README.md, "Labels from 0.1 GeV", says what was measured instead).
# Environment: PT_MIN (0.1), EFF_PT (0.2), K (128), LR (5e-4), OUT (out/lowpt2),
# EMBED_MINUTES (12), FILTER_MINUTES (10), GNN_MINUTES (45).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
S=out/whole
F=out/full
M=models/lowpt
O=${OUT:-out/lowpt2}
PT=${PT_MIN:-0.1}
EFF=${EFF_PT:-0.2}
for f in $S/train_pu200.h5 $S/val.h5 $F/train_pu200.h5 $F/val.h5 $S/test_pu20.h5 $S/test_pu200.h5; do
  [ -f $f ] || { echo "$f missing: run models/train_lowpt.sh first (it makes the samples)" >&2; exit 1; }
done
export GLIBC_TUNABLES=glibc.malloc.hugetlb=1
mkdir -p $O
snap=$(mktemp -d /tmp/trkaas_train_snapshot.XXXXXX)
mkdir -p "$snap/tools" && cp -r tools/train "$snap/tools/" && ln -s "$PWD/data" "$snap/data"
start=$(date +%s)
tools/python "$snap/tools/train/train.py" --train $S/train_pu200.h5 $S/train_hs_pu200.h5 $S/train_hs_pu100.h5 \
  $S/train_pu100.h5 $S/train_pu50.h5 $S/train_hs_pu20.h5 $S/train_hs_pu0.h5 $F/train_pu200.h5 \
  $F/train_hs_pu200.h5 $F/train_pu100.h5 $F/train_pu50.h5 $F/train_hs_pu20.h5 $F/train_hs_pu0.h5 \
  --val $S/val.h5 $F/val.h5 --out $O --threads 2 \
  --features r,phi,z,cell_count,lx,ly,geta,gphi --volumes 7,8,9,12,13,14,16,17,18 --train-pileup 0-200 \
  --hard-scatter --init $M --lr ${LR:-5e-4} \
  --pt-min $PT --eff-pt $EFF --pair-eff 0.98 --k ${K:-128} \
  --embed-hidden 256 --embed-layers 4 --embed-dim 8 --embed-epochs 30 --embed-minutes ${EMBED_MINUTES:-12} --hard-queries 3000 \
  --filter-hidden 128 --filter-layers 3 --filter-epochs 20 --filter-minutes ${FILTER_MINUTES:-10} --filter-edges 20000 \
  --filter-steps-per-event 16 --filter-eff 0.99 --edge-pos-weight 2.0 \
  --gnn-hidden 64 --gnn-iter 4 --gnn-aggr gated --gnn-triplets --gnn-epochs 60 --gnn-minutes ${GNN_MINUTES:-45} \
  --gnn-sector 8 --gnn-steps-per-event 4 --gnn-pt-min $PT --min-track-size 5 --track-builder walk --stitch 3,15
echo "== trained at $(( $(date +%s) - start )) s"
tools/python "$snap/tools/train/tune_tracks.py" --models $O --val $S/val.h5 $F/val.h5 --threads 2 \
  --min-track-size 4,5,6 --cuts 0.6,0.8,0.9 --extend-cuts 0.1 --max-turns 0.05,0.1 \
  --max-fake-rate 0.02 --min-efficiency 0.95 --maximize score --write --json $O/tune_tracks.json | tail -3
echo "== tuned at $(( $(date +%s) - start )) s"
tools/python "$snap/tools/train/evaluate.py" --models $O --threads 2 --json $O/metrics.json \
  --events pu20=$S/test_pu20.h5 pu200=$S/test_pu200.h5
echo "== done at $(( $(date +%s) - start )) s"
rm -rf "$snap"
