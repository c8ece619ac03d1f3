#!/bin/bash
# Issue 18 step: the low-pT GNN (models/lowpt) trained on. Its loss was still falling when the
# 50-minute budget of models/train_lowpt.sh ended (0.058 at epoch 26), and at pile-up 200 it
# missed the targets by a little (0.943 / 0.024 against 95% / 2%). Embedding and filter are
# kept; the graphs keep up to 128 neighbours per hit instead of 64: with the low-pT embedding
# a third of the pile-up-200 hits have more than 64 neighbours within the radius, and the cap
# cut pairs of pT > 1 GeV particles (validation, cut 0.9 / 6 hits: 0.941 / 0.025 at 64,
# 0.944 / 0.021 at 128 and 256, same models). Output in $O (default out/lowpt_cont);
# copied into models/lowpt only if it is better there (models/README.md says what it gave).
# Needs the samples of models/train_lowpt.sh.
#
#   nice -n 10 models/train_lowpt_continue.sh > out/lowpt_cont.log 2>&1 &
#
# Environment: GNN_MINUTES (50), LR (5e-4), K (128), OUT (out/lowpt_cont).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
S=out/whole
F=out/full
M=models/lowpt
O=${OUT:-out/lowpt_cont}
for f in $S/train_pu200.h5 $S/val.h5 $F/train_pu200.h5 $F/val.h5 $S/test_pu20.h5 $S/test_pu200.h5; do
  [ -f $f ] || { echo "$f missing: run models/train_lowpt.sh first (it makes the samples)" >&2; exit 1; }
done
export GLIBC_TUNABLES=glibc.malloc.hugetlb=1
snap=$(mktemp -d /tmp/trkaas_train_snapshot.XXXXXX)
mkdir -p "$snap/tools" && cp -r tools/train "$snap/tools/" && ln -s "$PWD/data" "$snap/data"
start=$(date +%s)
tools/python "$snap/tools/train/train.py" --train $S/train_pu200.h5 $S/train_hs_pu200.h5 $S/train_hs_pu100.h5 \
  $S/train_pu100.h5 $S/train_pu50.h5 $S/train_hs_pu20.h5 $S/train_hs_pu0.h5 $F/train_pu200.h5 \
  $F/train_hs_pu200.h5 $F/train_pu100.h5 $F/train_pu50.h5 $F/train_hs_pu20.h5 $F/train_hs_pu0.h5 \
  --val $S/val.h5 $F/val.h5 --out $O --threads 2 \
  --features r,phi,z,cell_count,lx,ly,geta,gphi --volumes 7,8,9,12,13,14,16,17,18 --train-pileup 0-200 \
  --hard-scatter --reuse $M --reuse-stages embedding,filter --gnn-init $M/gnn.pt --lr ${LR:-5e-4} \
  --pt-min 0.3 --eff-pt 0.4 --pair-eff 0.98 --k ${K:-128} --filter-eff 0.99 --edge-pos-weight 2.0 \
  --gnn-hidden 64 --gnn-iter 4 --gnn-aggr gated --gnn-triplets --gnn-epochs 60 --gnn-minutes ${GNN_MINUTES:-50} \
  --gnn-sector 8 --gnn-steps-per-event 4 --gnn-pt-min 0.3 --min-track-size 6 --track-builder walk
echo "== trained at $(( $(date +%s) - start )) s"
tools/python "$snap/tools/train/tune_tracks.py" --models $O --val $S/val.h5 $F/val.h5 --threads 2 \
  --min-track-size 5,6 --cuts 0.6,0.8,0.9 --extend-cuts 0.1 --max-turns 0.05,0.1 \
  --max-fake-rate 0.02 --min-efficiency 0.95 --maximize score --write --json $O/tune_tracks.json | tail -3
echo "== tuned at $(( $(date +%s) - start )) s"
tools/python "$snap/tools/train/evaluate.py" --models $O --threads 2 --json $O/metrics.json \
  --events pu20=$S/test_pu20.h5 pu200=$S/test_pu200.h5
echo "== done at $(( $(date +%s) - start )) s"
rm -rf "$snap"
