"""`trkaas run` and tools/train/evaluate.py give the same physics, in both scopes, on a
whole-detector event (pixels and strips; the shipped models process the pixel volumes).

usage: check_physics_scopes.py TRKAAS_BIN MODELS_DIR WORKDIR

The two are independent implementations of the metrics (C++ TruthMetrics, Python
trkaas_train.metrics) and of the volume selection; the models and the chain are the same,
so the particle and track counts must be equal and the rates equal to rounding of rare
edge scores at a cut. The whole-event scope must differ from the processed one (the
sample has strip hits), or the scopes are not what they say.
"""
import json
import os
import sys

from check_card_physics import run  # the same command runner (this directory)


def main():
    binary, models, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    events = os.path.join(work, "whole.h5")
    run([binary, "generate", "-n", "1", "--pileup", "10", "--seed", "919", "--first-event-id",
         "9100", "-o", events, "-f"])
    report = os.path.join(work, "cpp.json")
    out = run([binary, "run", "-c", os.path.join(models, "pipeline.yaml"), "-i", events, "-o",
               os.path.join(work, "tracks.h5"), "-f", "--metrics-json", report])
    for label in ("physics on the processed hits (volumes 7, 8, 9:", "physics on the whole event"):
        if label not in out:
            sys.exit(f"FAILED: the printout lacks '{label}':\n{out}")
    cpp = json.load(open(report))["physics"]
    py_json = os.path.join(work, "py.json")
    here = os.path.dirname(os.path.abspath(__file__))
    evaluate = os.path.join(here, "..", "..", "tools", "train", "evaluate.py")
    run([sys.executable, evaluate, "--models", models, "--events", f"s={events}", "--json", py_json,
         "--threads", "2"])
    py = json.load(open(py_json))["samples"]["s"]
    failed = False
    pairs = [("processed", py["metrics"], py["counts"]["tracks"]),
             ("event", py["metrics_event"], py["counts"]["tracks_event"])]
    for scope, m, counts in pairs:
        c = cpp[scope]
        checks = [
            ("particles", c["particles"], counts["n_particles"], 0),
            ("particles pT > 1 GeV", c["particles_pt_gt_1gev"], counts["n_particles_pt"], 0),
            ("hits", c["hits_per_event"], counts["hits"], 0),
            ("tracks", c["tracks"], counts["n_tracks"], 2),
            ("efficiency pT > 1 GeV", c["efficiency_pt_gt_1gev"], m["track_efficiency_pt1"], 0.01),
            ("efficiency", c["efficiency_all"], m["track_efficiency"], 0.01),
            ("fake rate", c["fake_rate"], m["fake_rate"], 0.01),
            ("TrackML score", c["trackml_score"], m["trackml_score"], 0.01),
            ("TrackML score fraction", c["trackml_score_fraction"], m["trackml_score_fraction"], 0.01),
        ]
        for what, a, b, tol in checks:
            ok = abs(a - b) <= tol
            failed |= not ok
            print(f"{'ok  ' if ok else 'FAIL'} {scope} {what}: trkaas run {a:.4f}, evaluate.py {b:.4f}")
    p, e = cpp["processed"], cpp["event"]
    if not (p["hits_per_event"] < e["hits_per_event"] and p["fake_rate"] < e["fake_rate"]
            and p["efficiency_pt_gt_1gev"] > e["efficiency_pt_gt_1gev"]):
        failed = True
        print("FAIL the whole event should have more hits, more fakes and a lower efficiency "
              f"than the processed hits: {p} vs {e}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
