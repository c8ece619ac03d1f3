#!/bin/bash
# The whole-detector GNN continued from models/whole/gnn.pt (its loss was still falling after
# the 25 minutes of train_whole_gnn.sh), embedding and filter kept; into out/whole_cont, then
# evaluated on the same held-out files. Copied into models/whole only if it is better there.
# Runs a snapshot of tools/train (TorchScript reads the model source from disk at export).
#
#   nice -n 19 models/train_whole_gnn_continue.sh > out/whole_cont.log 2>&1 &
#
# Environment: GNN_MINUTES (22), LR (5e-4), OUT (out/whole_cont), MIN_TRACK_SIZES (3-8: the
# validation scan chooses the minimum track size with the GNN cut; the first continuation
# ran with 3 only).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
S=out/whole
M=models/whole
O=${OUT:-out/whole_cont}
export GLIBC_TUNABLES=glibc.malloc.hugetlb=1
snap=$(mktemp -d /tmp/trkaas_train_snapshot.XXXXXX)
mkdir -p "$snap/tools" && cp -r tools/train "$snap/tools/" && ln -s "$PWD/data" "$snap/data"
start=$(date +%s)
tools/python "$snap/tools/train/train.py" --train $S/train_pu200.h5 $S/train_hs_pu200.h5 $S/train_hs_pu100.h5 \
  $S/train_pu100.h5 $S/train_pu50.h5 $S/train_hs_pu20.h5 $S/train_hs_pu0.h5 --val $S/val.h5 --out $O --threads 2 \
  --features r,phi,z,cell_count,lx,ly,geta,gphi --volumes 7,8,9,12,13,14,16,17,18 --train-pileup 0-200 \
  --hard-scatter --reuse $M --reuse-stages embedding,filter --gnn-init $M/gnn.pt --lr ${LR:-5e-4} \
  --pt-min 0.9 --eff-pt 1.0 --pair-eff 0.98 --k 64 --filter-eff 0.99 --edge-pos-weight 2.0 \
  --gnn-hidden 64 --gnn-iter 4 --gnn-aggr gated --gnn-triplets --gnn-epochs 60 --gnn-minutes ${GNN_MINUTES:-22} \
  --gnn-sector 8 --gnn-steps-per-event 4 --gnn-pt-min 0.8 --min-track-size ${MIN_TRACK_SIZES:-3-8}
echo "== trained at $(( $(date +%s) - start )) s"
tools/python "$snap/tools/train/evaluate.py" --models $O --threads 2 --json $O/metrics.json \
  --events pu20=$S/test_pu20.h5 pu200=$S/test_pu200.h5 hs_pu200=$S/test_hs_pu200.h5
echo "== done at $(( $(date +%s) - start )) s"
rm -rf "$snap"
