#!/usr/bin/env python3
"""Whole-detector models end to end: a tiny training on whole-detector events with cells
(pixels and strips, cluster-shape features), exported, then run by `trkaas run` and by
tools/train/evaluate.py on a held-out event; the two must agree.

usage: check_whole_detector.py TRKAAS_BIN WORKDIR [PIXEL_MODELS_DIR]

The training is warm-started from the pixel models (train.py --init, default models/ of the
source tree) with budgets of seconds, so that it finds tracks: a comparison of empty track
lists would prove little. What must hold:
- pipeline.yaml names the cell features and every volume of the sample, and the helix
  stitching asked for (--stitch 3,15), which trkaas run and evaluate.py then both apply;
- `trkaas run` reads them (its printout lists the features; it processes every hit);
- C++ and Python count the same particles and hits, the same edges' efficiency and purity
  after graph building and the filter (so the C++ FeatureBuilder's cluster shapes are the
  Python ones: the embedding reads them), and the same tracks and rates within the rounding
  of rare edge scores at a cut;
- tracks were found (efficiency pT > 1 GeV above zero in both).
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
TRAIN = os.path.join(ROOT, "tools", "train")
sys.path.insert(0, os.path.join(ROOT, "tests", "pipeline"))
from check_card_physics import run  # noqa: E402  (the tests' one command runner)
FEATURES = "r,phi,z,cell_count,lx,ly,geta,gphi"
VOLUMES = [7, 8, 9, 12, 13, 14, 16, 17, 18]


def main():
    binary, work = sys.argv[1:3]
    pixel = sys.argv[3] if len(sys.argv) > 3 else os.path.join(ROOT, "models")
    os.makedirs(work, exist_ok=True)
    os.environ.setdefault("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1")
    files = {}
    for name, n, seed, first in (("train", 2, 141, 9300), ("val", 1, 142, 9310), ("test", 1, 143, 9320)):
        files[name] = os.path.join(work, name + ".h5")
        run([binary, "generate", "--cells", "-n", str(n), "--pileup", "20", "--seed", str(seed),
             "--first-event-id", str(first), "-o", files[name], "-f", "--threads", "2"])
    models = os.path.join(work, "models")
    run([sys.executable, os.path.join(TRAIN, "train.py"), "--train", files["train"], "--val", files["val"],
         "--out", models, "--threads", "2", "--features", FEATURES,
         "--volumes", ",".join(map(str, VOLUMES)), "--train-pileup", "20", "--init", pixel, "--lr", "1e-3",
         "--embed-epochs", "1", "--embed-minutes", "0.05", "--hard-queries", "500",
         "--filter-epochs", "1", "--filter-minutes", "0.05", "--filter-steps-per-event", "2",
         "--gnn-epochs", "1", "--gnn-minutes", "0.05", "--gnn-steps-per-event", "1",
         "--track-builder", "walk", "--stitch", "3,15"])
    yaml = open(os.path.join(models, "pipeline.yaml")).read()
    names = re.findall(r"name:\s*(\w+)", yaml)
    failed = []
    if names != FEATURES.split(","):
        failed.append(f"pipeline.yaml features {names}, expected {FEATURES}")
    if f"volumes: [{', '.join(map(str, VOLUMES))}]" not in yaml:
        failed.append("pipeline.yaml does not list every volume")
    if not re.search(r"^stitch_max_xy: 3\.0\n", yaml, re.M) or not re.search(r"^stitch_max_z: 15\.0\n", yaml, re.M):
        failed.append("pipeline.yaml lacks the helix stitching that --stitch 3,15 asked for")

    report = os.path.join(work, "cpp.json")
    out = run([binary, "run", "-c", os.path.join(models, "pipeline.yaml"), "-i", files["test"], "-o",
               os.path.join(work, "tracks.h5"), "-f", "-j", "1", "--metrics-json", report])
    if "ly/10" not in out or "geta/1" not in out:
        failed.append("trkaas run's printout does not list the cell features")
    if "helix stitching within 3 / 15 mm" not in out:
        failed.append("trkaas run's printout does not say it stitches tracks along helices")
    cpp = json.load(open(report))["physics"]
    py_json = os.path.join(work, "py.json")
    run([sys.executable, os.path.join(TRAIN, "evaluate.py"), "--models", models, "--events",
         f"s={files['test']}", "--json", py_json, "--threads", "2"])
    py = json.load(open(py_json))["samples"]["s"]
    m, counts, c = py["metrics"], py["counts"], cpp["processed"]
    checks = [
        ("particles", c["particles"], counts["tracks"]["n_particles"], 0),
        ("particles pT > 1 GeV", c["particles_pt_gt_1gev"], counts["tracks"]["n_particles_pt"], 0),
        ("processed hits", c["hits_per_event"], counts["tracks"]["hits"], 0),
        ("whole-event hits", cpp["event"]["hits_per_event"], counts["tracks_event"]["hits"], 0),
        ("edge efficiency, graph", c["edge_efficiency_graph"], m["edge_efficiency_graph"], 0.002),
        ("edge purity, graph", c["edge_purity_graph"], m["edge_purity_graph"], 0.002),
        ("edge efficiency, filter", c["edge_efficiency_filter"], m["edge_efficiency_filter"], 0.002),
        ("edge purity, filter", c["edge_purity_filter"], m["edge_purity_filter"], 0.002),
        ("tracks", c["tracks"], counts["tracks"]["n_tracks"], 2),
        ("efficiency pT > 1 GeV", c["efficiency_pt_gt_1gev"], m["track_efficiency_pt1"], 0.01),
        ("fake rate", c["fake_rate"], m["fake_rate"], 0.01),
        ("TrackML score", c["trackml_score"], m["trackml_score"], 0.01),
    ]
    for what, a, b, tol in checks:
        ok = abs(a - b) <= tol
        print(f"{'ok  ' if ok else 'FAIL'} {what}: trkaas run {a:.4f}, evaluate.py {b:.4f}")
        if not ok:
            failed.append(what)
    if c["hits_per_event"] != cpp["event"]["hits_per_event"]:
        failed.append("the models did not process every hit of the whole-detector event")
    if not (c["efficiency_pt_gt_1gev"] > 0 and m["track_efficiency_pt1"] > 0):
        failed.append("no track found: the comparison would be empty")
    if failed:
        sys.exit("FAILED: " + "; ".join(failed))
    print("whole-detector models: trkaas run and evaluate.py agree")


if __name__ == "__main__":
    main()
