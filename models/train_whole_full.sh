#!/bin/bash
# The whole-detector GNN fine-tuned on a mix of default-physics and full-physics events
# (`trkaas generate --physics full`: energy loss, delta electrons, hadronic interactions,
# decays in flight, bremsstrahlung, measured species), embedding and filter kept, from
# models/whole/gnn.pt; into out/whole_full, then evaluated on held-out samples of both
# kinds. Copied into models/whole only if it is better on validation (both kinds).
# Runs a snapshot of tools/train (TorchScript reads the model source from disk at export).
#
#   nice -n 10 models/train_whole_full.sh > out/whole_full.log 2>&1 &
#
# Environment: GNN_MINUTES (70), LR (5e-4), OUT (out/whole_full), BIN (build/trkaas).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
S=out/whole   # default-physics samples (models/train_whole.sh, models/card_table.sh)
F=out/full    # full-physics samples, made here
M=models/whole
O=${OUT:-out/whole_full}
B=${BIN:-build/trkaas}
export GLIBC_TUNABLES=glibc.malloc.hugetlb=1
mkdir -p $F
printf 'generator:\n  hard_scatter: true\n' > $F/hs.yaml
gen() { $B generate --cells --physics full -f --threads 2 "$@" 2>&1 | grep -v generated || true; }
# Training (12 events, a mix like train_whole.sh's), validation (1) and test samples; the
# test samples use the seeds and ids of the default-physics test samples.
[ -f $F/train_pu200.h5 ] || gen -n 3 --pileup 200 --fixed-pileup --seed 1101 --first-event-id 31000 -o $F/train_pu200.h5
[ -f $F/train_hs_pu200.h5 ] || gen --config $F/hs.yaml -n 2 --pileup 200 --fixed-pileup --seed 1102 --first-event-id 32000 -o $F/train_hs_pu200.h5
[ -f $F/train_pu100.h5 ] || gen -n 2 --pileup 100 --fixed-pileup --seed 1103 --first-event-id 33000 -o $F/train_pu100.h5
[ -f $F/train_pu50.h5 ] || gen -n 2 --pileup 50 --fixed-pileup --seed 1104 --first-event-id 34000 -o $F/train_pu50.h5
[ -f $F/train_hs_pu20.h5 ] || gen --config $F/hs.yaml -n 2 --pileup 20 --fixed-pileup --seed 1105 --first-event-id 35000 -o $F/train_hs_pu20.h5
[ -f $F/train_hs_pu0.h5 ] || gen --config $F/hs.yaml -n 1 --pileup 0 --fixed-pileup --seed 1106 --first-event-id 36000 -o $F/train_hs_pu0.h5
[ -f $F/val.h5 ] || gen --config $F/hs.yaml -n 1 --pileup 200 --fixed-pileup --seed 1107 --first-event-id 37000 -o $F/val.h5
[ -f $F/test_pu20.h5 ] || gen -n 20 --pileup 20 --seed 303 --first-event-id 2000 -o $F/test_pu20.h5
[ -f $F/test_pu200.h5 ] || gen -n 5 --pileup 200 --seed 404 --first-event-id 3000 -o $F/test_pu200.h5
snap=$(mktemp -d /tmp/trkaas_train_snapshot.XXXXXX)
mkdir -p "$snap/tools" && cp -r tools/train "$snap/tools/" && ln -s "$PWD/data" "$snap/data"
start=$(date +%s)
tools/python "$snap/tools/train/train.py" --train $S/train_pu200.h5 $S/train_hs_pu200.h5 $S/train_hs_pu100.h5 \
  $S/train_pu100.h5 $S/train_pu50.h5 $S/train_hs_pu20.h5 $S/train_hs_pu0.h5 $F/train_pu200.h5 \
  $F/train_hs_pu200.h5 $F/train_pu100.h5 $F/train_pu50.h5 $F/train_hs_pu20.h5 $F/train_hs_pu0.h5 \
  --val $S/val.h5 $F/val.h5 --out $O --threads 2 \
  --features r,phi,z,cell_count,lx,ly,geta,gphi --volumes 7,8,9,12,13,14,16,17,18 --train-pileup 0-200 \
  --hard-scatter --reuse $M --reuse-stages embedding,filter --gnn-init $M/gnn.pt --lr ${LR:-5e-4} \
  --pt-min 0.9 --eff-pt 1.0 --pair-eff 0.98 --k 64 --filter-eff 0.99 --edge-pos-weight 2.0 \
  --gnn-hidden 64 --gnn-iter 4 --gnn-aggr gated --gnn-triplets --gnn-epochs 60 --gnn-minutes ${GNN_MINUTES:-70} \
  --gnn-sector 8 --gnn-steps-per-event 4 --gnn-pt-min 0.8 --min-track-size 3-8
echo "== trained at $(( $(date +%s) - start )) s"
for m in $O $M; do
  tools/python "$snap/tools/train/tune_tracks.py" --models $m --val $S/val.h5 $F/val.h5 --min-track-size 6 \
    --cuts 0.8 --threads 2 | tail -2
done
tools/python "$snap/tools/train/evaluate.py" --models $O --threads 2 --json $O/metrics.json \
  --events pu20=$S/test_pu20.h5 pu200=$S/test_pu200.h5 full_pu20=$F/test_pu20.h5 full_pu200=$F/test_pu200.h5
echo "== done at $(( $(date +%s) - start )) s"
rm -rf "$snap"
