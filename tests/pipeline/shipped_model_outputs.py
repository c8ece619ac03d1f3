"""Reference outputs of the shipped models (models/*.pt) computed in Python on a fixed
input, for the C++ test that loads the same files through TorchModel.

usage: shipped_model_outputs.py MODELS_DIR OUTDIR
Writes OUTDIR/shape.txt ("N F E") and raw little-endian x.bin, edges.bin,
embedding.out.bin, filter.out.bin, gnn.out.bin.
"""
import os
import sys

import numpy as np
import torch


def main():
    models, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(11)
    emb = torch.jit.load(os.path.join(models, "embedding.pt"), map_location="cpu").eval()
    # The feature count is what the embedding's first layer takes: probe F = 1..32.
    n, num_features = 50, None
    for f in range(1, 33):
        try:
            with torch.no_grad():
                emb(torch.zeros(2, f))
            num_features = f
            break
        except Exception:
            continue
    if num_features is None:
        sys.exit("cannot find the embedding's feature count")
    x = torch.rand(n, num_features) * 2.0 - 1.0
    edges = torch.stack([torch.arange(0, n - 1), torch.arange(1, n)]).to(torch.int64)
    outputs = {"x": x, "edges": edges}
    with torch.no_grad():
        outputs["embedding.out"] = emb(x)
        for name in ("filter", "gnn"):
            model = torch.jit.load(os.path.join(models, name + ".pt"), map_location="cpu").eval()
            outputs[name + ".out"] = model(x, edges).reshape(-1)
    for name, t in outputs.items():
        t.numpy().astype(np.int64 if t.dtype == torch.int64 else np.float32).tofile(
            os.path.join(out, name + ".bin"))
    with open(os.path.join(out, "shape.txt"), "w") as f:
        f.write("%d %d %d\n" % (n, num_features, edges.shape[1]))


if __name__ == "__main__":
    main()
