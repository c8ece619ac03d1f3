#!/usr/bin/env python3
"""The model card's table: each model set on each held-out sample, measured twice, by
evaluate.py's Python chain and by `trkaas run` (the C++ pipeline), on the hits the models
process and on the whole event, side by side; the two must agree.

usage: model_card_table.py --trkaas BIN --models DIR [DIR ...] --events NAME=FILE.h5 [...]
                           --json OUT.json [--threads N] [--work DIR]

Prints a Markdown table (one row per model set, sample and scope) and writes every number to
OUT.json. Exit status 1 when Python and C++ disagree on a track metric by more than
--tolerance (default 0.01: edge scores that sit within float rounding of a cut may flip one
edge, rarely more). The selection is the metrics' usual one: particles with >= 3 hits in the
scope, tracks of >= 3 hits, double majority, pT > 1 GeV for the efficiency.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch  # noqa: E402

import evaluate  # noqa: E402
from trkaas_train import data, pipeline  # noqa: E402

# (column, Python key, C++ key)
METRICS = (("efficiency pT>1", "track_efficiency_pt1", "efficiency_pt_gt_1gev"),
           ("fake rate", "fake_rate", "fake_rate"),
           ("TrackML score", "trackml_score", "trackml_score"))


def run_cpp(binary, models, events, threads, work):
    out = os.path.join(work, "tracks.h5")
    report = os.path.join(work, "report.json")
    cmd = [binary, "run", "-c", os.path.join(models, "pipeline.yaml"), "-i", events, "-o", out, "-f",
           "--threads", str(threads), "--metrics-json", report]
    t = time.time()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.exit(f"FAILED ({r.returncode}): {' '.join(cmd)}\n{r.stdout}")
    rep = json.load(open(report))
    rep["wall_s"] = rep.get("wall_s", time.time() - t)
    return rep


def training_minutes(models):
    try:
        s = json.load(open(os.path.join(models, "train_summary.json")))
    except (OSError, ValueError):
        return None
    secs = s.get("stage_seconds", {})  # the last train.py run's stages (reused ones take 0)
    return round(sum(v for v in secs.values() if isinstance(v, (int, float))) / 60.0, 1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trkaas", required=True, help="the trkaas binary")
    p.add_argument("--models", nargs="+", required=True, help="model directories (pipeline.yaml inside)")
    p.add_argument("--events", nargs="+", required=True, help="NAME=FILE.h5 ...")
    p.add_argument("--json", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--tolerance", type=float, default=0.01)
    p.add_argument("--work", default=None, help="scratch directory (default: a temporary one)")
    p.add_argument("--merge", action="store_true",
                   help="keep the rows of other model sets already in --json (measure one set at a time)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    work = a.work or tempfile.mkdtemp(prefix="trkaas_card_")
    os.makedirs(work, exist_ok=True)
    samples = [s.split("=", 1) for s in a.events]
    result = {"selection": "particles with >= 3 hits in the scope, tracks of >= 3 hits, double "
                           "majority; efficiency for pT > 1 GeV",
              "tolerance": a.tolerance, "rows": []}
    bad = []
    for models in a.models:
        ms, cfg = evaluate.load(models)
        name = os.path.relpath(models)
        for sample, path in samples:
            evs = data.read_events(path)
            t = time.time()
            m, counts, _, m_event = pipeline.evaluate_events(ms, cfg, evs, log=lambda *_: None)
            py_s = (time.time() - t) / max(len(evs), 1)
            rep = run_cpp(a.trkaas, models, path, a.threads, work)
            cpp_s = rep["wall_s"] / max(rep["events_done"], 1)
            processed = counts["tracks"]["hits"] / max(counts["tracks_event"]["hits"], 1)
            for scope, py, cpp in (("processed hits", m, rep["physics"]["processed"]),
                                   ("whole event", m_event, rep["physics"]["event"])):
                row = {"models": name, "sample": sample, "events": len(evs), "scope": scope,
                       "processed_hit_fraction": processed, "python_s_per_event": py_s,
                       "cpp_s_per_event": cpp_s, "last_training_minutes": training_minutes(models)}
                for col, pk, ck in METRICS:
                    row[pk] = {"python": py[pk], "trkaas": cpp[ck]}
                    if abs(py[pk] - cpp[ck]) > a.tolerance:
                        bad.append(f"{name} {sample} {scope} {col}: Python {py[pk]:.4f}, trkaas {cpp[ck]:.4f}")
                result["rows"].append(row)
            print(f"  {name} {sample}: {len(evs)} events, Python {py_s:.1f} s/event, trkaas {cpp_s:.1f} s/event",
                  file=sys.stderr, flush=True)
    if a.merge and os.path.exists(a.json):
        names = {os.path.relpath(m) for m in a.models}
        kept = [r for r in json.load(open(a.json)).get("rows", []) if r["models"] not in names]
        result["rows"] = kept + result["rows"]
    json.dump(result, open(a.json, "w"), indent=1)
    print("| models | sample | scope | hits processed | " +
          " | ".join(f"{c} (evaluate.py / trkaas run)" for c, _, _ in METRICS) + " |")
    print("|---|---|---|---|" + "---|" * len(METRICS))
    for r in result["rows"]:
        cells = " | ".join(f"{r[k]['python']:.3f} / {r[k]['trkaas']:.3f}" for _, k, _ in METRICS)
        print(f"| {r['models']} | {r['sample']} ({r['events']} ev) | {r['scope']} | "
              f"{r['processed_hit_fraction']:.0%} | {cells} |")
    for b in bad:
        print("DISAGREE " + b)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
