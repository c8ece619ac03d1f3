#!/usr/bin/env python3
"""tools/train/fake_tracks.py against trkaas's own metrics: a generated whole-detector event
(pile-up 20, cells, seed 177) run by `trkaas run` with the shipped low-pT models; the script reads
the tracks file and the event's truth itself and must count the same tracks, fake rate and
TrackML score as the C++ metrics (whole-event scope; the script counts with evaluate.py's
matching, trkaas_train.metrics), and its kinds must add up to its fakes.

usage: test_fake_tracks.py TRKAAS_BIN WORKDIR MODELS_DIR
"""
import json
import os
import re
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "pipeline"))
from check_card_physics import run  # noqa: E402  (the tests' one command runner)


def main():
    binary, work, models = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    events = os.path.join(work, "events.h5")
    out = os.path.join(work, "out")
    shutil.rmtree(out, ignore_errors=True)  # a kept directory would be resumed, not rerun
    run([binary, "generate", "--cells", "-n", "1", "--pileup", "20", "--seed", "177", "-o", events, "-f", "--threads", "2"])
    run([binary, "run", "-c", os.path.join(models, "pipeline.yaml"), "-i", events, "-o", out, "-j", "2",
         "--metrics-json", os.path.join(work, "metrics.json")])
    cpp = json.load(open(os.path.join(work, "metrics.json")))["physics"]["event"]
    min_hits = int(re.search(r"^min_track_size:\s*(\d+)", open(os.path.join(models, "pipeline.yaml")).read(), re.M).group(1))
    py_json = os.path.join(work, "fakes.json")
    run([sys.executable, os.path.join(ROOT, "tools", "train", "fake_tracks.py"), out, events,
         "--min-hits", str(min_hits), "--json", py_json])
    py = json.load(open(py_json))
    failed = []
    if py["tracks"] != cpp["tracks"]:
        failed.append(f"tracks: script {py['tracks']}, trkaas {cpp['tracks']}")
    if abs(py["fake_rate"] - cpp["fake_rate"]) > 1e-9:
        failed.append(f"fake rate: script {py['fake_rate']}, trkaas {cpp['fake_rate']}")
    if abs(py["trackml_score"] - cpp["trackml_score"]) > 1e-5:
        failed.append(f"TrackML score: script {py['trackml_score']}, trkaas {cpp['trackml_score']}")
    if py["fakes"] == 0 or py["tracks"] < 100:
        failed.append(f"too little to compare: {py['tracks']} tracks, {py['fakes']} fakes")
    by_kind = {}
    for key, v in py["kinds"].items():
        kind, what = key.split(" / ", 1)
        if what.startswith("pT "):
            by_kind[kind] = by_kind.get(kind, 0) + v
    if sum(by_kind.values()) != py["fakes"]:
        failed.append(f"kinds by pT add up to {sum(by_kind.values())}, fakes {py['fakes']}")
    print(f"script: {py['tracks']} tracks, fake rate {py['fake_rate']:.4f}, score {py['trackml_score']:.4f}; "
          f"trkaas: {cpp['tracks']}, {cpp['fake_rate']:.4f}, {cpp['trackml_score']:.4f}; kinds {by_kind}")
    if failed:
        sys.exit("FAIL: " + "; ".join(failed))
    print("PASS")


if __name__ == "__main__":
    main()
