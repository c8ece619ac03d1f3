#!/usr/bin/env python3
"""Random-weight models of the published Exa.TrkX sizes, for timing only (the anchors'
numbers in ../shared/DESIGN.md were measured with models of these sizes):

  embedding  MLP, 3 hidden layers of 1024, D = 12
  filter     MLP, 3 hidden layers of 1024
  GNN        interaction network, hidden 128, 8 message-passing iterations

The architectures are those of tools/train (trkaas_train.models), so the models follow the
pipeline's contract and load in the C++ pipeline (CPU and GPU). With random weights the
physics is meaningless, so the cuts are set for realistic WORK instead: on a sample event
the radius gives a mean of --degree neighbours per hit (Exa.TrkX pile-up-200 graphs have
about 10), the filter cut keeps --filter-keep of the graph's edges and the GNN cut
--gnn-keep of the filtered ones. Writes DIR/{embedding,filter,gnn}.pt and DIR/pipeline.yaml
(other settings from models/pipeline.yaml).

  tools/python bench/make_published_models.py -o DIR --event pu200.h5 [--degree 10]
"""
import argparse
import math
import os
import sys

import h5py
import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools", "train"))
from trkaas_train.models import Embedding, EdgeFilter, InteractionGNN, n_params  # noqa: E402


def read_hits(path, volumes):
    """Scaled features [r/1000, phi/pi, z/1000] of the first event's hits in `volumes`."""
    with h5py.File(path, "r") as f:
        n = int(f["index/hit_count"][0])
        off = int(f["index/hit_offset"][0])
        g = f["hits"]
        sl = slice(off, off + n)
        x, y, z = (np.asarray(g[c][sl], dtype=np.float64) for c in ("x", "y", "z"))
        vol = np.asarray(g["volume_id"][sl])
    keep = np.isin(vol, volumes)
    x, y, z = x[keep], y[keep], z[keep]
    r = np.hypot(x, y)
    feats = np.stack([r / 1000.0, np.arctan2(y, x) / math.pi, z / 1000.0], 1)
    return torch.tensor(feats, dtype=torch.float32)


def radius_for_degree(emb, degree, k, sample=4000, seed=3):
    """The radius at which a hit has `degree` neighbours on average (k-capped), from a
    random sample of hits against all hits."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(emb.shape[0], generator=g)[: min(sample, emb.shape[0])]
    d = torch.cdist(emb[idx], emb)  # [sample, N]
    d, _ = torch.sort(d, 1)
    d = d[:, 1 : k + 1]  # without the hit itself, at most k
    # mean over hits of #(d <= r) = degree: bisect on r
    lo, hi = 0.0, float(d.max())
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if (d <= mid).sum(1).float().mean().item() < degree:
            lo = mid
        else:
            hi = mid
    return hi


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--out", required=True)
    p.add_argument("--event", required=True, help="a trkaas event file (its first event sets the cuts)")
    p.add_argument("--degree", type=float, default=10.0)
    p.add_argument("--filter-keep", type=float, default=0.3)
    p.add_argument("--gnn-keep", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=12345)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    # Two flat keys of the shipped pipeline.yaml, read without PyYAML (the GPU machine's
    # Python has none).
    base = {}
    with open(os.path.join(ROOT, "models", "pipeline.yaml")) as f:
        for line in f:
            key, _, value = line.partition("#")[0].partition(":")
            base[key.strip()] = value.strip()
    volumes = [int(v) for v in base["volumes"].strip("[]").split(",")]
    k = int(base["max_neighbours"])
    emb = Embedding(hidden=1024, layers=3, dim=12).eval()
    filt = EdgeFilter(hidden=1024, layers=3).eval()
    gnn = InteractionGNN(hidden=128, n_iter=8).eval()
    os.makedirs(a.out, exist_ok=True)
    x = read_hits(a.event, volumes)
    with torch.no_grad():
        e = emb(x)
        radius = radius_for_degree(e, a.degree, k)
        # A sample of radius-graph edges (from the sampled hits) for the cuts.
        idx = torch.randperm(x.shape[0])[:3000]
        d = torch.cdist(e[idx], e)
        src, dst = torch.nonzero((d <= radius) & (d > 0), as_tuple=True)
        edges = torch.stack([idx[src], dst])
        lf = filt(x, edges)
        fcut = torch.quantile(lf, 1.0 - a.filter_keep).item()
        kept = edges[:, lf > fcut]
        lg = gnn(x, kept)
        gcut = torch.quantile(lg, 1.0 - a.gnn_keep).item()
    sig = lambda v: 1.0 / (1.0 + math.exp(-v))  # noqa: E731
    for name, m in (("embedding", emb), ("filter", filt), ("gnn", gnn)):
        torch.jit.save(torch.jit.script(m.float()), os.path.join(a.out, f"{name}.pt"))
    fc, gc = min(max(sig(fcut), 1e-6), 1 - 1e-6), min(max(sig(gcut), 1e-6), 1 - 1e-6)
    with open(os.path.join(a.out, "pipeline.yaml"), "w") as f:
        f.write("# Published-size models with RANDOM weights: for timing only (bench/make_published_models.py)\n")
        f.write("format: trkaas-pipeline\nversion: 1\n")
        f.write("features: [{name: r, scale: 1000.0}, {name: phi, scale: 3.141592653589793}, {name: z, scale: 1000.0}]\n")
        f.write(f"embedding_dim: 12\nradius: {radius!r}\nmax_neighbours: {k}\n")
        f.write(f"filter_cut: {fc!r}\ngnn_cut: {gc!r}\nmin_track_size: 3\n")
        f.write(f"volumes: [{', '.join(str(v) for v in volumes)}]\n")
        f.write("models: {embedding: embedding.pt, filter: filter.pt, gnn: gnn.pt}\n")
    print(f"wrote {a.out}: embedding {n_params(emb):,} parameters (3 x 1024, D=12), "
          f"filter {n_params(filt):,} (3 x 1024), GNN {n_params(gnn):,} (hidden 128, 8 iterations)")
    print(f"cuts for realistic work on {x.shape[0]} hits: radius {radius:.4g} (mean degree {a.degree}), "
          f"filter keeps {a.filter_keep:.0%}, GNN keeps {a.gnn_keep:.0%}")


if __name__ == "__main__":
    main()
