"""The walk track builder (pipeline.yaml `track_builder: walk`) gives the same tracks in
`trkaas run` (C++ TrackBuilder) and in tools/train (graph.walk_tracks), hit by hit, on a
pile-up-100 pixel sample with the shipped models, and splits components that plain connected
components leave merged. The same for the walk's tracks grown at their ends along edges above
a lower cut (`extend_cut`, C++ TrackBuilder::extend, Python graph.extend_tracks), which must
give hits to tracks, and for the walk with a turn limit in r-z (`walk_max_turn`), which must
change some tracks.

usage: check_walk.py TRKAAS_BIN MODELS_DIR WORKDIR

The chains are the same models on the same hits; GNN scores that sit within float rounding
of the cut may flip an edge, so at most 0.2% of the hits may differ in their partition. The
walk must change something (fewer hits share a track with another particle's hits), or this
compares two copies of the components.
"""
import json
import os
import sys

import h5py
import numpy as np

from check_card_physics import pipeline_yaml_with, run  # the tests' helpers (this directory)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "train"))
import evaluate  # noqa: E402
from trkaas_train import data, pipeline  # noqa: E402


EXTEND_CUT = 0.3
MAX_TURN = 0.05


def builder_yaml(models, work, builder, extra=""):
    name = builder + ("_extended" if extra else "")
    return pipeline_yaml_with(models, os.path.join(work, name + ".yaml"), f"track_builder: {builder}\n{extra}")


def cpp_labels(binary, yaml, events, work, name):
    out = os.path.join(work, name + ".h5")
    report = os.path.join(work, name + ".json")
    text = run([binary, "run", "-c", yaml, "-i", events, "-o", out, "-f", "--threads", "2", "--metrics-json", report])
    with h5py.File(out) as f:
        count, offset = f["index/count"][:], f["index/offset"][:]
        hit, track = f["tracks/hit_id"][:], f["tracks/track_id"][:]
    per_event = [dict(zip(hit[o:o + c].tolist(), track[o:o + c].tolist())) for o, c in zip(offset, count)]
    return per_event, json.load(open(report))["physics"]["processed"], text


def same_partition_fraction(a, b):
    """Fraction of hits whose track, as a set of hits, is the same in both labellings."""
    def groups(lab):
        g = {}
        for i, t in enumerate(lab.tolist()):
            g.setdefault(t, []).append(i)
        return {i: (frozenset(g[t]) if t >= 0 else None) for i, t in enumerate(lab.tolist())}
    ga, gb = groups(a), groups(b)
    return float(np.mean([ga[i] == gb[i] for i in range(len(a))])) if len(a) else 1.0


def mixed_hits(labels, pid):
    """Hits in a track whose majority particle is another (or noise)."""
    n = 0
    for t in set(labels[labels >= 0].tolist()):
        p = pid[labels == t]
        _, c = np.unique(p, return_counts=True)
        n += len(p) - c.max()
    return n


def main():
    binary, models, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    events = os.path.join(work, "pu100.h5")
    run([binary, "generate", "--pixel-only", "-n", "2", "--pileup", "100", "--seed", "929",
         "--first-event-id", "9200", "-o", events, "-f"])
    yaml = builder_yaml(models, work, "walk")
    cpp_walk, cpp_m, text = cpp_labels(binary, yaml, events, work, "walk")
    if "tracks by walk" not in text:
        sys.exit("FAILED: trkaas run does not say it builds tracks by walk:\n" + text)
    cpp_cc, _, _ = cpp_labels(binary, builder_yaml(models, work, "components"), events, work, "cc")
    cpp_ext, _, text = cpp_labels(binary, builder_yaml(models, work, "walk", f"extend_cut: {EXTEND_CUT}\n"), events,
                                  work, "walk_extended")
    if f"extended along edges above {EXTEND_CUT}" not in text:
        sys.exit("FAILED: trkaas run does not say it extends the tracks:\n" + text)
    cpp_turn, _, text = cpp_labels(binary, builder_yaml(models, work, "walk", f"walk_max_turn: {MAX_TURN}\n"), events,
                                   work, "walk_turn")
    if f"turning at most {MAX_TURN} rad in r-z" not in text:
        sys.exit("FAILED: trkaas run does not say it limits the walk's turns:\n" + text)
    ms, cfg = evaluate.load(models)
    cfg.pop("extend_cut", None)
    cfg.pop("walk_max_turn", None)
    cfg_walk = dict(cfg, track_builder="walk")
    cfg_ext = dict(cfg_walk, extend_cut=EXTEND_CUT)
    failed = False
    mixed = {"walk": 0, "components": 0}
    grown = 0
    turned = 0
    for k, whole in enumerate(data.read_events(events)):
        ev, _ = data.select_volumes(whole, cfg.get("volumes"))
        r = pipeline.run_event(ms, cfg_walk, ev)
        py = r["labels"]
        ids = ev["hit_id"].tolist()
        cpp = np.array([cpp_walk[k].get(h, -1) for h in ids])
        cc = np.array([cpp_cc[k].get(h, -1) for h in ids])
        # The extension on the same GNN logits (no second model run).
        py_ext = pipeline.build_tracks(ev, r["filtered"], r["gnn_logits"], cfg["gnn_cut"], "walk",
                                       cfg["min_track_size"], EXTEND_CUT)
        ext = np.array([cpp_ext[k].get(h, -1) for h in ids])
        grown += int((ext >= 0).sum() - (cpp >= 0).sum())
        py_turn = pipeline.build_tracks(ev, r["filtered"], r["gnn_logits"], cfg["gnn_cut"], "walk",
                                        cfg["min_track_size"], None, MAX_TURN)
        trn = np.array([cpp_turn[k].get(h, -1) for h in ids])
        turned += int(round((1.0 - same_partition_fraction(trn, cpp)) * len(ids)))
        for name, a, b in (("walk", py, cpp), ("walk + extension", py_ext, ext), ("walk, turn limit", py_turn, trn)):
            same = same_partition_fraction(a, b)
            ok = same >= 0.998
            failed |= not ok
            print(f"{'ok  ' if ok else 'FAIL'} {name}, event {ev['event_id']}: {len(ids)} hits, {int(a.max()) + 1} "
                  f"Python tracks, {int(b.max()) + 1} C++ tracks, same partition for {same:.4%} of hits")
        mixed["walk"] += mixed_hits(cpp, ev["particle_id"])
        mixed["components"] += mixed_hits(cc, ev["particle_id"])
    ok = grown > 0
    failed |= not ok
    print(f"{'ok  ' if ok else 'FAIL'} the extension (cut {EXTEND_CUT}) gave {grown} more hits to tracks")
    ok = turned > 0
    failed |= not ok
    print(f"{'ok  ' if ok else 'FAIL'} the turn limit ({MAX_TURN} rad) changed the track of {turned} hits")
    ok = mixed["walk"] < mixed["components"]
    failed |= not ok
    print(f"{'ok  ' if ok else 'FAIL'} hits in another particle's track: walk {mixed['walk']}, "
          f"components {mixed['components']} (the walk must split merged tracks)")
    print(f"walk, processed hits: efficiency pT > 1 GeV {cpp_m['efficiency_pt_gt_1gev']:.3f}, "
          f"fake rate {cpp_m['fake_rate']:.3f}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
