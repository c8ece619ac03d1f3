#!/bin/bash
# Issue 18 step: models for the whole detector (pixels 7, 8, 9, short strips 12, 13, 14, long
# strips 16, 17, 18) with the cluster-shape features, trained on a mix of pile-ups 0-200 with
# and without hard scatter, warm-started from the pixel models (models/*.pt, widened with zero
# weights for the new features), into models/whole/. The pixel models stay the default
# (models/pipeline.yaml); the whole-detector ones are chosen by config
# (models/whole/pipeline.yaml).
#
#   nice -n 19 models/train_whole.sh > models/whole/train_whole.log 2>&1 &
#
# Budgets fit about 100 minutes of wall time on the shared 2-core machine (--threads 2).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
S=out/whole
M=models/whole
B=build/trkaas
PY=tools/python
export GLIBC_TUNABLES=glibc.malloc.hugetlb=1
mkdir -p $S $M
# ly: extent along the module's v axis (pitch_v: pixel 0.056 mm, short strip 1.2, long strip
# 10.4-10.8): which coordinate is coarse and how coarse. geta, gphi: direction of the cluster's
# extent in the global frame, along the strip for strip hits (barrel: z; end-caps: radial).
# lx, cell_count: the crossing angle across the fine pitch. Left out: cell_value (the
# generator's charge is the path length, without Landau fluctuations), leta, lphi, lz
# (functions of lx, ly and the per-system thickness).
FEATURES=r,phi,z,cell_count,lx,ly,geta,gphi
VOLUMES=7,8,9,12,13,14,16,17,18
printf 'generator:\n  hard_scatter: true\n' > $S/hs.yaml
gen() { $B generate --cells -f --threads 2 "$@" 2>&1 | grep -v generated || true; }
start=$(date +%s)
# Training mix: 16 events, pile-up 0 to 200, half of them with a hard scatter.
[ -f $S/train_pu200.h5 ] || gen -n 4 --pileup 200 --seed 111 --first-event-id 20000 -o $S/train_pu200.h5
[ -f $S/train_hs_pu200.h5 ] || gen --config $S/hs.yaml -n 3 --pileup 200 --seed 112 --first-event-id 20100 -o $S/train_hs_pu200.h5
[ -f $S/train_hs_pu100.h5 ] || gen --config $S/hs.yaml -n 2 --pileup 100 --seed 113 --first-event-id 20200 -o $S/train_hs_pu100.h5
[ -f $S/train_pu100.h5 ] || gen -n 1 --pileup 100 --seed 114 --first-event-id 20300 -o $S/train_pu100.h5
[ -f $S/train_pu50.h5 ] || gen -n 2 --pileup 50 --seed 115 --first-event-id 20400 -o $S/train_pu50.h5
[ -f $S/train_hs_pu20.h5 ] || gen --config $S/hs.yaml -n 2 --pileup 20 --seed 116 --first-event-id 20500 -o $S/train_hs_pu20.h5
[ -f $S/train_hs_pu0.h5 ] || gen --config $S/hs.yaml -n 2 --pileup 0 --fixed-pileup --seed 117 --first-event-id 20600 -o $S/train_hs_pu0.h5
[ -f $S/val.h5 ] || gen --config $S/hs.yaml -n 2 --pileup 200 --seed 222 --first-event-id 21000 -o $S/val.h5
# Held out: the pixel models' test seeds and ids, whole detector, with cells.
[ -f $S/test_pu20.h5 ] || gen -n 20 --pileup 20 --seed 303 --first-event-id 2000 -o $S/test_pu20.h5
[ -f $S/test_pu200.h5 ] || gen -n 5 --pileup 200 --seed 404 --first-event-id 3000 -o $S/test_pu200.h5
[ -f $S/test_hs_pu200.h5 ] || gen --config $S/hs.yaml -n 5 --pileup 200 --seed 606 --first-event-id 5000 -o $S/test_hs_pu200.h5
echo "== samples in $(( $(date +%s) - start )) s"
$PY tools/train/train.py --train $S/train_pu200.h5 $S/train_hs_pu200.h5 $S/train_hs_pu100.h5 $S/train_pu100.h5 \
  $S/train_pu50.h5 $S/train_hs_pu20.h5 $S/train_hs_pu0.h5 --val $S/val.h5 --out $M --threads 2 \
  --features $FEATURES --volumes $VOLUMES --train-pileup 0-200 --hard-scatter --init models --lr 1e-3 \
  --pt-min 0.9 --eff-pt 1.0 --pair-eff 0.98 --k 64 \
  --embed-hidden 256 --embed-layers 4 --embed-dim 8 --embed-epochs 30 --embed-minutes 18 --hard-queries 3000 \
  --filter-hidden 128 --filter-layers 3 --filter-epochs 20 --filter-minutes 12 --filter-edges 20000 \
  --filter-steps-per-event 16 --filter-eff 0.99 --edge-pos-weight 2.0 \
  --gnn-hidden 64 --gnn-iter 4 --gnn-aggr gated --gnn-triplets --gnn-epochs 60 --gnn-minutes 45 \
  --gnn-sector 8 --gnn-steps-per-event 4 --gnn-pt-min 0.8 --min-track-size 3
echo "== trained at $(( $(date +%s) - start )) s"
$PY tools/train/evaluate.py --models $M --threads 2 --json $M/metrics.json \
  --events pu20=$S/test_pu20.h5 pu200=$S/test_pu200.h5 hs_pu200=$S/test_hs_pu200.h5
echo "== evaluated at $(( $(date +%s) - start )) s"
# The pixel models on the same whole-detector events, for comparison (their whole-event scope).
$PY tools/train/evaluate.py --models models --threads 2 --json $M/metrics_pixel_models.json \
  --events pu20=$S/test_pu20.h5 pu200=$S/test_pu200.h5 hs_pu200=$S/test_hs_pu200.h5
echo "== done at $(( $(date +%s) - start )) s"
