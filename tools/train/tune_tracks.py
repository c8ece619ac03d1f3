#!/usr/bin/env python3
"""Choose the GNN cut and the minimum track size of exported models on validation events,
without training: the same scan as the end of train.py, on the models as they are.

  tools/python tools/train/tune_tracks.py --models models/whole --val out/whole/val.h5 \\
      --min-track-size 3-8 --json out/tune.json [--write]

Every (cut, size, extension cut) is scored by track efficiency pT > 1 GeV minus fake rate, or
with --max-fake-rate F the highest efficiency among those with a fake rate <= F (--maximize
score: the highest TrackML score; --min-efficiency E: only those with an efficiency pT > 1
GeV >= E) (selection:
particles with >= 3 hits in the scope, double majority; the pipeline's min_track_size is
a reconstruction setting and does not change it). --write puts the chosen setting into
MODELS/pipeline.yaml (its gnn_cut, min_track_size, extend_cut and walk_max_turn lines; the
rest unchanged). A pipeline.yaml with helix stitching (stitch_max_xy, stitch_max_z) is
scanned with it, and keeps those lines; --stitch XY,Z (or none) replaces it in the scan and,
with --write, in the file.

Why a minimum track size: with tracks built by walk, most fake tracks of the
whole-detector models are fragments, pieces of particles cut where the GNN lost an edge.
A particle with pT > 1 GeV crosses 10-14 layers there, so a 3-hit minimum keeps fragments
that a longer minimum drops. Use the validation sample only: never choose on the test
samples the model card reports."""
import argparse
import json
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from trkaas_train import data, pipeline  # noqa: E402
import evaluate  # noqa: E402
from train import GNN_CUTS, add_track_scan_args, int_list  # noqa: E402


def rewrite_yaml(path, cut, size, ext, turn=None, stitch=None):
    """The pipeline.yaml at path with its gnn_cut and min_track_size values replaced and its
    extend_cut, walk_max_turn and (stitch: (xy, z)) stitch_max_xy / stitch_max_z lines set
    (after min_track_size) or removed (None)."""
    with open(path) as f:
        text = f.read()
    for key, value in (("gnn_cut", repr(cut)), ("min_track_size", str(size))):
        text, n = re.subn(rf"^{key}:[^\n#]*", f"{key}: {value}", text, count=1, flags=re.M)
        if n != 1:
            sys.exit(f"tune_tracks.py: {path} has no '{key}:' line to replace")
    xy, z = stitch if stitch else (None, None)
    for key, value in (("stitch_max_z", z), ("stitch_max_xy", xy), ("walk_max_turn", turn), ("extend_cut", ext)):
        text = re.sub(rf"^{key}:[^\n]*\n", "", text, flags=re.M)
        if value is not None:
            text = re.sub(r"^(min_track_size:[^\n]*\n)", rf"\1{key}: {value!r}\n", text, count=1, flags=re.M)
    with open(path, "w") as f:
        f.write(text)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", required=True, help="folder with embedding/filter/gnn.pt and pipeline.yaml")
    p.add_argument("--val", nargs="+", required=True, help="validation event files (HDF5)")
    p.add_argument("--max-events", type=int, default=None, help="per file")
    p.add_argument("--min-track-size", type=int_list, default=[3], help="sizes to scan: '3-8' or '3,5,6'")
    p.add_argument("--cuts", default=",".join(str(c) for c in GNN_CUTS), help="GNN cuts to scan, comma list")
    add_track_scan_args(p)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", default=None, help="write every scanned pair's metrics here")
    p.add_argument("--write", action="store_true", help="put the best pair into MODELS/pipeline.yaml")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    ms, cfg = evaluate.load(a.models)
    cuts = [float(c) for c in a.cuts.split(",")]
    # --stitch XY,Z or none replaces the YAML's stitching; without it the YAML's is kept.
    stitch = pipeline.stitch_of(cfg) if a.stitch is None else (a.stitch or None)
    samples = []
    for path in a.val:
        for whole in data.read_events(path, a.max_events):
            ev, _ = data.select_volumes(whole, cfg.get("volumes"))
            r = pipeline.run_event(ms, cfg, ev)
            samples.append((ev, r["filtered"], r["gnn_logits"]))
            print(f"{path}: event {ev['event_id']}, {len(ev['x'])} hits, {r['filtered'].shape[1]} filtered edges",
                  flush=True)
    if not samples:
        sys.exit("tune_tracks.py: no validation events read")
    (cut, size, ext, turn), rows = pipeline.scan_track_settings(
        samples, cuts, a.min_track_size, cfg["track_builder"], extend_cuts=a.extend_cuts,
        max_fake_rate=a.max_fake_rate, max_turns=a.max_turns, maximize=a.maximize, min_efficiency=a.min_efficiency,
        stitch=stitch)
    print(f"best: gnn cut {cut}, min track size {size}, extend cut {ext}, max turn {turn} "
          f"(was {cfg['gnn_cut']}, {cfg['min_track_size']}, {cfg.get('extend_cut')}, {cfg.get('walk_max_turn')})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"models": a.models, "val": a.val,
                       "events": len(samples), "track_builder": cfg["track_builder"],
                       "metric_min_hits": pipeline.METRIC_MIN_HITS, "stitch": stitch, "best": {"gnn_cut": cut, "min_track_size": size, "extend_cut": ext, "walk_max_turn": turn},
                       "max_fake_rate": a.max_fake_rate, "min_efficiency": a.min_efficiency,
                       "maximize": a.maximize,
                       "scan": rows}, f, indent=2)
    if a.write:
        rewrite_yaml(os.path.join(a.models, "pipeline.yaml"), cut, size, ext, turn, stitch)
        print(f"wrote gnn_cut {cut}, min_track_size {size}, extend_cut {ext}, walk_max_turn {turn}, "
              f"stitching {stitch} into {os.path.join(a.models, 'pipeline.yaml')}")


if __name__ == "__main__":
    main()
