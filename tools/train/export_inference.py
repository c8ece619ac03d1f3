#!/usr/bin/env python3
"""Re-export a trained GNN shaped for inference (models.InteractionGNNInference): the same
contract and, to float rounding, the same logits, with the edge MLPs' first layers computed
as node projections gathered per edge. New trainings export this way already (train.py);
this converts an earlier export in place or to another file.

usage: export_inference.py MODELS_DIR [--out FILE]

MODELS_DIR holds gnn.pt and train_summary.json (the model's sizes and options). Training
continues from either form (train.py --gnn-init: models.training_state). Prints the
largest difference of the two on random hits and edges, and refuses to write if it exceeds
1e-4.
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from trkaas_train import models  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", help="directory with gnn.pt and train_summary.json")
    p.add_argument("--out", help="write here instead of replacing MODELS_DIR/gnn.pt")
    a = p.parse_args()
    src = os.path.join(a.models, "gnn.pt")
    args = json.load(open(os.path.join(a.models, "train_summary.json")))["args"]
    old = torch.jit.load(src).eval()
    gnn = models.build("gnn", args)
    gnn.load_state_dict(models.training_state(dict(old.state_dict())))
    new = torch.jit.script(models.inference_shaped(gnn.float().eval()))
    torch.manual_seed(0)
    n = 2000
    x = torch.stack([torch.rand(n) * 0.17 + 0.03, torch.rand(n) * 2 - 1, torch.rand(n) * 0.6 - 0.3], 1)
    x = torch.cat([x, torch.rand(n, models.n_extra_features(args))], 1)  # extra features (--features), if any
    edges = torch.randint(0, n, (2, 12000))
    with torch.no_grad():
        diff = (old(x, edges) - new(x, edges)).abs().max().item()
    print(f"export_inference: largest logit difference {diff:.2e} on {edges.shape[1]} random edges")
    if diff > 1e-4:
        sys.exit("export_inference: the two differ by more than 1e-4; nothing written")
    out = a.out or src
    torch.jit.save(new, out)
    print(f"export_inference: wrote {out}")


if __name__ == "__main__":
    main()
