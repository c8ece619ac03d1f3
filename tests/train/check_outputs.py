#!/usr/bin/env python3
"""Checks the output of tools/train/train_all.sh: check_outputs.py OUT_DIR"""
import json
import os
import re
import sys

import torch

out = sys.argv[1]
torch.set_num_threads(2)
errors = []


def check(cond, msg):
    if not cond:
        errors.append(msg)


# YAML: every key the C++ pipeline reads
ypath = os.path.join(out, "pipeline.yaml")
check(os.path.isfile(ypath), "pipeline.yaml missing")
keys = {}
if os.path.isfile(ypath):
    for line in open(ypath):
        m = re.match(r"^([A-Za-z_]\w*):\s*(.*?)\s*$", line)
        if m:
            keys[m.group(1)] = m.group(2)
for k in ("features", "embedding_dim", "radius", "max_neighbours", "filter_cut", "gnn_cut",
          "min_track_size", "volumes", "track_builder"):
    check(k in keys, f"pipeline.yaml: key {k} missing")
check(keys.get("track_builder") == "walk", f"track_builder: {keys.get('track_builder')} (train.py's default is walk)")
feats = re.findall(r"\{name: (\w+), scale: ([0-9.eE+-]+)\}", keys.get("features", ""))
check([f[0] for f in feats] == ["r", "phi", "z"], f"features: {feats}")
check(all(float(s) > 0 for _, s in feats), "feature scales must be positive")
D = int(keys.get("embedding_dim", "0"))
check(D > 0, "embedding_dim")
for k in ("radius", "filter_cut", "gnn_cut"):
    try:
        v = float(keys.get(k, "nan"))
        check(v > 0 and (k == "radius" or v < 1), f"{k} = {v} out of range")
    except ValueError:
        errors.append(f"{k} not a number")
F = len(feats) if len(feats) == 3 else 3

# Models: the TorchScript contract
g = torch.Generator().manual_seed(5)
n, e = 50, 120
x = torch.rand(n, F, generator=g) * torch.tensor([1.0, 2.0, 2.0]) - torch.tensor([0.0, 1.0, 1.0])
x[:, 0] = x[:, 0] * 0.2 + 0.03
a = torch.randint(0, n, (e,), generator=g)
b = torch.randint(0, n, (e,), generator=g)
ei = torch.stack([torch.minimum(a, b), torch.maximum(a, b)])
ei = ei[:, ei[0] != ei[1]]
x1 = x[:1].clone()
e0 = torch.zeros(2, 0, dtype=torch.int64)
for name in ("embedding", "filter", "gnn"):
    p = os.path.join(out, name + ".pt")
    if not os.path.isfile(p):
        errors.append(f"{p} missing")
        continue
    m = torch.jit.load(p, map_location="cpu")
    check(isinstance(m, torch.jit.ScriptModule), f"{name}: not TorchScript")
    with torch.no_grad():
        if name == "embedding":
            y = m(x)
            check(y.shape == (n, D) and y.dtype == torch.float32, f"embedding: {tuple(y.shape)} {y.dtype}")
            check(bool(torch.isfinite(y).all()), "embedding: non-finite output")
            y1 = m(x1)
            check(y1.shape == (1, D), f"embedding N=1: {tuple(y1.shape)}")
            check(torch.allclose(y1[0], y[0], atol=1e-5), "embedding: row depends on the other rows")
        else:
            o = m(x, ei)
            check(o.shape == (ei.shape[1],) and o.dtype == torch.float32, f"{name}: {tuple(o.shape)} {o.dtype}")
            check(bool(torch.isfinite(o).all()), f"{name}: non-finite logits")
            o0 = m(x1, e0)
            check(o0.shape == (0,), f"{name} N=1,E=0: {tuple(o0.shape)}")
            if name == "filter":  # undirected: swapping the ends changes nothing
                check(torch.allclose(m(x, ei.flip(0)), o, atol=1e-5), "filter: depends on edge direction")

# Metrics JSON
mpath = os.path.join(out, "metrics.json")
check(os.path.isfile(mpath), "metrics.json missing")
if os.path.isfile(mpath):
    res = json.load(open(mpath))
    samples = res.get("samples", {})
    check(set(samples) >= {"pu20", "pu200"}, f"samples: {list(samples)}")
    want = ["edge_efficiency_graph", "edge_purity_graph", "edge_efficiency_filter", "edge_purity_filter",
            "edge_efficiency_gnn", "edge_purity_gnn", "track_efficiency", "track_efficiency_pt1",
            "fake_rate", "duplicate_rate", "trackml_score"]
    for s, v in samples.items():
        for k in want:
            val = v.get("metrics", {}).get(k)
            check(isinstance(val, (int, float)) and 0.0 <= val <= 1.0, f"{s}.{k} = {val}")
        check(v.get("events", 0) > 0, f"{s}: no events")

if errors:
    print("FAILED:\n  " + "\n  ".join(errors))
    sys.exit(1)
print("all output checks passed")
