"""The whole C++ pipeline on freshly generated pile-up-20 events reaches the physics the
model card (models/metrics.json, Python evaluation on other held-out events) reports.

usage: check_card_physics.py TRKAAS_BIN MODELS_DIR WORKDIR

Models for the pixel volumes get pixel-only events; models whose pipeline.yaml lists other
volumes (models/whole: pixels and strips, cluster-shape features) get whole-detector events
with cells.

The events use a seed and event ids that no training or test sample uses, so the numbers
differ from the card's by statistics only: the tolerances below are three binomial
standard deviations for this sample plus a small allowance for event-to-event spread.
"""
import json
import math
import os
import re
import subprocess
import sys

EVENTS, SEED, FIRST_ID = 10, 909, 9000


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.exit(f"FAILED ({r.returncode}): {' '.join(cmd)}\n{r.stdout}")
    return r.stdout


def pipeline_yaml_with(models, path, settings):
    """Writes to path the models' pipeline.yaml with absolute model paths, its track builder
    settings (track_builder, junction_removal, extend_cut, walk_max_turn, stitch_max_xy,
    stitch_max_z) and any other key that `settings`
    (YAML lines) sets replaced by `settings`; returns path. The tests' one way to run the
    shipped models with other track-building settings."""
    text = open(os.path.join(models, "pipeline.yaml")).read()
    text = re.sub(r"(\w+): (\w+\.pt2?)\b",
                  lambda m: f"{m.group(1)}: {os.path.join(os.path.abspath(models), m.group(2))}", text)
    keys = {"track_builder", "junction_removal", "extend_cut", "walk_max_turn", "stitch_max_xy", "stitch_max_z"} | set(re.findall(r"^(\w+):", settings, re.M))
    text = re.sub(rf"^({'|'.join(sorted(keys))}):.*\n", "", text, flags=re.M)
    with open(path, "w") as f:
        f.write(text + settings)
    return path


def main():
    binary, models, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    card = json.load(open(os.path.join(models, "metrics.json")))["samples"]["pu20"]["metrics"]
    events = os.path.join(work, "card_pu20.h5")
    volumes = re.search(r"^volumes:\s*\[([^\]]*)\]", open(os.path.join(models, "pipeline.yaml")).read(), re.M)
    pixel = volumes is not None and set(int(v) for v in re.findall(r"\d+", volumes.group(1))) <= {7, 8, 9}
    run([binary, "generate", "--pixel-only" if pixel else "--cells", "-n", str(EVENTS), "--pileup", "20", "--seed",
         str(SEED), "--first-event-id", str(FIRST_ID), "-o", events, "-f"])
    report = os.path.join(work, "card_pu20.json")
    run([binary, "run", "-c", os.path.join(models, "pipeline.yaml"), "-i", events, "-o",
         os.path.join(work, "card_tracks.h5"), "-f", "--metrics-json", report])
    got = json.load(open(report))["physics"]["processed"]
    n_pt = got["particles_pt_gt_1gev"]
    if n_pt < 100:
        sys.exit(f"FAILED: only {n_pt} particles with pT > 1 GeV in the sample")

    def tol(p, n):
        return 3.0 * math.sqrt(max(p * (1.0 - p), 0.01) / n) + 0.03

    checks = [
        # (what, measured, card, lowest allowed, highest allowed)
        ("edge efficiency after graph building", got["edge_efficiency_graph"],
         card["edge_efficiency_graph"], card["edge_efficiency_graph"] - 0.05, 1.0),
        ("edge efficiency after the GNN", got["edge_efficiency_gnn"],
         card["edge_efficiency_gnn"], card["edge_efficiency_gnn"] - 0.08, 1.0),
        ("track efficiency pT > 1 GeV", got["efficiency_pt_gt_1gev"],
         card["track_efficiency_pt1"],
         card["track_efficiency_pt1"] - tol(card["track_efficiency_pt1"], n_pt), 1.0),
        ("fake rate", got["fake_rate"], card["fake_rate"], 0.0,
         card["fake_rate"] + tol(card["fake_rate"], max(got["tracks"], 1))),
        ("TrackML score", got["trackml_score"], card["trackml_score"],
         card["trackml_score"] - 0.06, 1.0),
    ]
    failed = False
    for what, value, ref, lo, hi in checks:
        ok = lo <= value <= hi
        failed |= not ok
        print(f"{'ok  ' if ok else 'FAIL'} {what}: {value:.3f} (card {ref:.3f}, "
              f"allowed {lo:.3f}..{hi:.3f})")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
