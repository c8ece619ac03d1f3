#!/usr/bin/env python3
"""Evaluate exported models (MODELS/{embedding,filter,gnn}.pt + pipeline.yaml) on event files.

  tools/python tools/train/evaluate.py --models models/ --events pu20=test20.h5 pu200=test200.h5 --json m.json

Only the hits of the volumes in pipeline.yaml go through the models, as in `trkaas run`; the
other hits get no track. Per sample, on the processed hits ("metrics"): edge efficiency (truth
consecutive pairs found) and purity (same-particle edges) after graph building, filter and GNN;
track efficiency (double majority, pT > 1 GeV and all, particles with >= 3 processed hits),
fake and duplicate rates, TrackML score (official, no renormalisation) and the fraction of the
processed hits' weight found. The same track metrics on the whole event ("metrics_event"):
a particle's hits are then all its hits, in every volume (see trkaas_train/metrics.py).

--precision runs the three models as a GPU server with --precision would, to measure the
physics of half precision on the CPU:
  bf16          the models converted to bfloat16 (torch's CPU kernels run bf16);
  fp16-emulated the CPU has no fp16 matrix products, so the eager models (rebuilt from
                train_summary.json) get fp16-rounded weights, and every layer's input and
                output is rounded to fp16 while sums accumulate in float32, as tensor cores do.
Models that cast their float32 features themselves (the shipped ones) get float32 features;
others get features in the models' type, as the GPU pipeline decides by probing."""
import argparse
import json
import os
import re
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from trkaas_train import data, models, pipeline  # noqa: E402


def read_yaml(path):
    """Top-level 'key: value' scalars of the pipeline.yaml this package writes."""
    cfg = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"^([A-Za-z_]\w*):\s*(.*?)\s*$", line)
            if m:
                cfg[m.group(1)] = m.group(2)
    return cfg


class Precision:
    """A model called as the GPU pipeline calls it in a lower precision: float32 features if
    the model takes them, else features in its type; the output back in float32."""

    def __init__(self, model, dtype):
        self.model, self.dtype, self.float_in = model, dtype, None

    def __call__(self, x, *rest):
        if self.float_in is None:
            try:
                out = self.model(x, *rest)
                self.float_in = True
                return out.float()
            except RuntimeError:
                self.float_in = False
        return self.model(x if self.float_in else x.to(self.dtype), *rest).float()


def fp16_emulated(name, scripted, summary):
    """The eager model with fp16-rounded weights and fp16-rounded inputs and outputs of
    every Linear, LayerNorm and ReLU (float32 accumulation inside)."""
    m = models.build(name, summary["args"])
    m.load_state_dict(scripted.state_dict())
    m.eval()

    def rnd(t):
        return t.half().float()

    with torch.no_grad():
        for prm in m.parameters():
            prm.copy_(rnd(prm))
    for mod in m.modules():
        if isinstance(mod, (torch.nn.Linear, torch.nn.LayerNorm, torch.nn.ReLU)):
            mod.register_forward_pre_hook(lambda _m, inp: tuple(rnd(t) for t in inp))
            mod.register_forward_hook(lambda _m, _inp, out: rnd(out))
    return m


def set_precision(ms, precision, models_dir):
    if precision == "fp32":
        return ms
    if precision == "bf16":
        return {n: Precision(m.to(torch.bfloat16), torch.bfloat16) for n, m in ms.items()}
    path = os.path.join(models_dir, "train_summary.json")
    if not os.path.exists(path):
        sys.exit(f"evaluate.py: --precision fp16-emulated rebuilds the models from their sizes in {path}, "
                 "which does not exist (train.py writes it beside the models)")
    with open(path) as f:
        summary = json.load(f)
    return {n: fp16_emulated(n, m, summary) for n, m in ms.items()}


def load(models_dir):
    y = read_yaml(os.path.join(models_dir, "pipeline.yaml"))
    volumes = [int(v) for v in re.findall(r"-?\d+", y.get("volumes", ""))]
    features = [(n, float(v)) for n, v in re.findall(r"name:\s*(\w+),\s*scale:\s*([-+0-9.eE]+)", y["features"])]
    cfg = {"radius": float(y["radius"]), "k": int(y["max_neighbours"]), "filter_cut": float(y["filter_cut"]),
           "gnn_cut": float(y["gnn_cut"]), "min_track_size": int(y["min_track_size"]), "volumes": volumes,
           "features": features, "track_builder": y.get("track_builder", "components").split("#")[0].strip()}
    for key in ("extend_cut", "walk_max_turn", "stitch_max_xy", "stitch_max_z"):
        if y.get(key, "").split("#")[0].strip():
            cfg[key] = float(y[key].split("#")[0])
    if data.needs_geometry(features):  # the module table, as `trkaas run` reads it (detector:, else the default)
        detector = y.get("detector", "").split("#")[0].strip().strip("'\"")
        cfg["geometry"] = data.load_geometry(os.path.join(models_dir, detector) if detector else None)
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
    p.add_argument("--precision", choices=("fp32", "bf16", "fp16-emulated"), default="fp32")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    ms, cfg = load(a.models)
    ms = set_precision(ms, a.precision, a.models)
    result = {"config": {k: v for k, v in cfg.items() if k != "geometry"}, "precision": a.precision, "samples": {}}
    for spec in a.events:
        name, path = spec.split("=", 1)
        evs = data.read_events(path, a.max_events)
        t = time.time()
        print(f"{name}: {len(evs)} events from {path}", flush=True)
        m, counts, times, m_event = pipeline.evaluate_events(ms, cfg, evs)
        processed = counts["tracks"]["hits"] / max(counts["tracks_event"]["hits"], 1)
        result["samples"][name] = {"metrics": m, "metrics_event": m_event,
                                   "processed_hit_fraction": processed,
                                   "counts": counts, "seconds_per_event": times,
                                   "events": len(evs), "file": os.path.abspath(path),
                                   "hits_per_event": sum(len(e["x"]) for e in evs) / max(len(evs), 1),
                                   "wall_s": time.time() - t}
    result["selection"] = {
        "processed_volumes": cfg["volumes"], "pt_min_gev": 1.0, "min_hits": 3,
        "rule": "double majority: a track (>= 3 hits) matches a particle (>= 3 hits in the scope) "
                "when more than half of the track's hits are the particle's and more than half "
                "of the particle's hits in the scope are in the track"}
    names = list(result["samples"])
    where = f"volumes {', '.join(map(str, cfg['volumes']))}" if cfg["volumes"] else "all volumes"
    for title, key in ((f"on the processed hits ({where})", "metrics"), ("on the whole event", "metrics_event")):
        print(f"\n{'metric ' + title:44s}" + "".join(f"{n:>12s}" for n in names))
        for k in result["samples"][names[0]][key]:
            print(f"{k:44s}" + "".join(f"{result['samples'][n][key][k]:12.4f}" for n in names))
    print(f"{'processed share of the hits':44s}" +
          "".join(f"{result['samples'][n]['processed_hit_fraction']:12.4f}" for n in names))
    for k in ("embedding", "graph", "filter", "gnn", "tracks"):
        print(f"{'s/event ' + k:28s}" + "".join(f"{result['samples'][n]['seconds_per_event'].get(k, 0):12.3f}"
                                               for n in names))
    with open(a.json, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {a.json}")


if __name__ == "__main__":
    main()
