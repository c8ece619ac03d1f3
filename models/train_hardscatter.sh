#!/bin/bash
# Issue 18 step: filter + GNN retrained/fine-tuned on pile-up 200 events with an enriched
# hard scatter (high-pT particles the shipped models never saw), embedding reused.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
S=out/hs
B=build/trkaas
export GLIBC_TUNABLES=glibc.malloc.hugetlb=1
cat > $S/hs.yaml <<Y
generator:
  hard_scatter: true
  hard_scatter_particles: 150
Y
cat > $S/hs_default.yaml <<Y
generator:
  hard_scatter: true
Y
gen() { $B generate --pixel-only -f --threads 2 "$@" 2>&1 | grep -v generated || true; }
start=$(date +%s)
[ -f $S/train.h5 ] || gen --config $S/hs.yaml -n 16 --pileup 200 --seed 111 --first-event-id 10000 -o $S/train.h5
[ -f $S/val.h5 ] || gen --config $S/hs.yaml -n 3 --pileup 200 --seed 222 --first-event-id 11000 -o $S/val.h5
[ -f $S/test_pu20.h5 ] || gen -n 20 --pileup 20 --seed 303 --first-event-id 2000 -o $S/test_pu20.h5
[ -f $S/test_pu200.h5 ] || gen -n 5 --pileup 200 --seed 404 --first-event-id 3000 -o $S/test_pu200.h5
[ -f $S/test_hs_pu20.h5 ] || gen --config $S/hs_default.yaml -n 20 --pileup 20 --seed 505 --first-event-id 4000 -o $S/test_hs_pu20.h5
[ -f $S/test_hs_pu200.h5 ] || gen --config $S/hs_default.yaml -n 5 --pileup 200 --seed 606 --first-event-id 5000 -o $S/test_hs_pu200.h5
echo "== samples in $(( $(date +%s) - start )) s"
tools/python tools/train/train.py --train $S/train.h5 --val $S/val.h5 --out $S/models --threads 2 \
  --train-pileup 200 --reuse models --reuse-stages embedding --gnn-init models/gnn.pt --lr 1e-3 \
  --pt-min 0.9 --eff-pt 1.0 --pair-eff 0.98 --k 64 --filter-hidden 128 --filter-layers 3 \
  --filter-epochs 10 --filter-minutes 10 --filter-edges 20000 --filter-steps-per-event 16 --filter-eff 0.99 \
  --edge-pos-weight 2.0 --gnn-hidden 64 --gnn-iter 4 --gnn-aggr gated --gnn-triplets \
  --gnn-epochs 40 --gnn-minutes 40 --gnn-sector 8 --gnn-steps-per-event 4 --gnn-pt-min 0.8 --min-track-size 3
echo "== trained at $(( $(date +%s) - start )) s"
for m in models $S/models; do
  tag=$(basename $(dirname $m/x))
  tools/python tools/train/evaluate.py --models $m --threads 2 --json $S/eval_$( [ $m = models ] && echo old || echo new ).json \
    --events pu20=$S/test_pu20.h5 pu200=$S/test_pu200.h5 hs_pu20=$S/test_hs_pu20.h5 hs_pu200=$S/test_hs_pu200.h5
done
echo "== done at $(( $(date +%s) - start )) s"
