#!/usr/bin/python3
"""Evaluate exported models (MODELS/{embedding,filter,gnn}.pt + pipeline.yaml) on event files.

  /usr/bin/python3 tools/train/evaluate.py --models models/ --events pu20=test20.h5 pu200=test200.h5 --json m.json

Per sample: edge efficiency (truth consecutive pairs found) and purity (same-particle edges)
after graph building, filter and GNN; track efficiency (double majority, pT > 1 GeV and all,
particles with >= 3 hits), fake and duplicate rates, TrackML score (see trkaas_train/metrics.py)."""
import argparse
import json
import os
import re
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from trkaas_train import data, pipeline  # noqa: E402


def read_yaml(path):
    """Top-level 'key: value' scalars of the pipeline.yaml this package writes."""
    cfg = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"^([A-Za-z_]\w*):\s*(.*?)\s*$", line)
            if m:
                cfg[m.group(1)] = m.group(2)
    return cfg


def load(models_dir):
    y = read_yaml(os.path.join(models_dir, "pipeline.yaml"))
    cfg = {"radius": float(y["radius"]), "k": int(y["max_neighbours"]), "filter_cut": float(y["filter_cut"]),
           "gnn_cut": float(y["gnn_cut"]), "min_track_size": int(y["min_track_size"])}
    ms = {n: torch.jit.load(os.path.join(models_dir, n + ".pt"), map_location="cpu")
          for n in ("embedding", "filter", "gnn")}
    for m in ms.values():
        m.eval()
    return ms, cfg


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", required=True)
    p.add_argument("--events", nargs="+", required=True, help="NAME=FILE.h5 ...")
    p.add_argument("--max-events", type=int, default=None)
    p.add_argument("--json", required=True)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    ms, cfg = load(a.models)
    result = {"config": cfg, "samples": {}}
    for spec in a.events:
        name, path = spec.split("=", 1)
        evs = data.read_events(path, a.max_events)
        t = time.time()
        print(f"{name}: {len(evs)} events from {path}", flush=True)
        m, counts, times = pipeline.evaluate_events(ms, cfg, evs)
        result["samples"][name] = {"metrics": m, "counts": counts, "seconds_per_event": times,
                                   "events": len(evs), "file": os.path.abspath(path),
                                   "hits_per_event": sum(len(e["x"]) for e in evs) / max(len(evs), 1),
                                   "wall_s": time.time() - t}
    names = list(result["samples"])
    keys = list(result["samples"][names[0]]["metrics"])
    print(f"\n{'metric':28s}" + "".join(f"{n:>12s}" for n in names))
    for k in keys:
        print(f"{k:28s}" + "".join(f"{result['samples'][n]['metrics'][k]:12.4f}" for n in names))
    for k in ("embedding", "graph", "filter", "gnn", "tracks"):
        print(f"{'s/event ' + k:28s}" + "".join(f"{result['samples'][n]['seconds_per_event'].get(k, 0):12.3f}"
                                               for n in names))
    with open(a.json, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {a.json}")


if __name__ == "__main__":
    main()
