"""The walk track builder (pipeline.yaml `track_builder: walk`) gives the same tracks in
`trkaas run` (C++ TrackBuilder) and in tools/train (graph.walk_tracks), hit by hit, on a
pile-up-100 pixel sample with the shipped models, and splits components that plain connected
components leave merged. The same for the walk's tracks grown at their ends along edges above
a lower cut (`extend_cut`, C++ TrackBuilder::extend, Python graph.extend_tracks), which must
give hits to tracks, and for the walk with a turn limit in r-z (`walk_max_turn`), which must
change some tracks, and for helix stitching (`stitch_max_xy`, `stitch_max_z`, C++
TrackBuilder::stitch, Python graph.stitch_tracks) on top of both. Pixel tracks are short, so
the stitching is also checked with WHOLE_MODELS_DIR (the whole-detector models) on a
whole-detector pile-up-20 event, where it must join some tracks.

usage: check_walk.py TRKAAS_BIN MODELS_DIR WORKDIR [WHOLE_MODELS_DIR]

The chains are the same models on the same hits; GNN scores that sit within float rounding
of the cut may flip an edge, so at most 0.2% of the hits may differ in their partition. The
walk must change something (fewer hits share a track with another particle's hits), or this
compares two copies of the components.
"""
import json
import os
import re
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
STITCH = (3.0, 15.0)


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


def check_whole_stitching(binary, models, work):
    """The whole-detector models on a whole-detector event: C++ and Python stitch alike, and
    the stitching joins some tracks (pixel and strip pieces of one helix)."""
    events = os.path.join(work, "whole_pu20.h5")
    run([binary, "generate", "--cells", "-n", "1", "--pileup", "20", "--seed", "931",
         "--first-event-id", "9300", "-o", events, "-f"])
    ms, cfg = evaluate.load(models)
    # The shipped YAML's stitching as evaluate.py reads it (else STITCH): Python's labels come
    # from run_event with that config, as in evaluate.py and the model card.
    with open(os.path.join(models, "pipeline.yaml")) as f:
        shipped = re.findall(r"^stitch_max_(?:xy|z):\s*([-+0-9.eE]+)", f.read(), re.M)
    if shipped and pipeline.stitch_of(cfg) != tuple(float(v) for v in shipped):
        print(f"FAIL evaluate.load read the stitching {pipeline.stitch_of(cfg)} from {models}/pipeline.yaml, "
              f"which sets {shipped}")
        return False
    if not shipped:
        cfg = dict(cfg, stitch_max_xy=STITCH[0], stitch_max_z=STITCH[1])
    stitch = pipeline.stitch_of(cfg)
    settings = f"track_builder: {cfg['track_builder']}\n" + "".join(
        f"{k}: {cfg[k]}\n" for k in ("extend_cut", "walk_max_turn") if cfg.get(k) is not None)
    settings += f"stitch_max_xy: {stitch[0]}\nstitch_max_z: {stitch[1]}\n"
    yaml = pipeline_yaml_with(models, os.path.join(work, "whole_stitched.yaml"), settings)
    cpp, _, _ = cpp_labels(binary, yaml, events, work, "whole_stitched")
    ok = True
    for k, whole in enumerate(data.read_events(events)):
        ev, _ = data.select_volumes(whole, cfg.get("volumes"))
        r = pipeline.run_event(ms, cfg, ev)
        args = (ev, r["filtered"], r["gnn_logits"], cfg["gnn_cut"], cfg["track_builder"], cfg["min_track_size"],
                cfg.get("extend_cut"), cfg.get("walk_max_turn"))
        plain, py = pipeline.build_tracks(*args), r["labels"]
        c = np.array([cpp[k].get(h, -1) for h in ev["hit_id"].tolist()])
        same = same_partition_fraction(py, c)
        changed = int(round((1.0 - same_partition_fraction(py, plain)) * len(py)))
        good = same >= 0.998 and changed > 0
        ok &= good
        print(f"{'ok  ' if good else 'FAIL'} whole detector, stitching, event {ev['event_id']}: {len(py)} hits, "
              f"{int(py.max()) + 1} Python tracks, {int(c.max()) + 1} C++ tracks, same partition for {same:.4%} "
              f"of hits; the stitching changed the track of {changed} hits (must be > 0)")
    return ok


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
    stitch_extra = (f"extend_cut: {EXTEND_CUT}\nwalk_max_turn: {MAX_TURN}\n"
                    f"stitch_max_xy: {STITCH[0]}\nstitch_max_z: {STITCH[1]}\n")
    cpp_st, _, text = cpp_labels(binary, pipeline_yaml_with(models, os.path.join(work, "walk_stitched.yaml"),
                                                            "track_builder: walk\n" + stitch_extra),
                                 events, work, "walk_stitched")
    if f"helix stitching within {STITCH[0]:g} / {STITCH[1]:g} mm" not in text:
        sys.exit("FAILED: trkaas run does not say it stitches the tracks:\n" + text)
    ms, cfg = evaluate.load(models)
    cfg.pop("extend_cut", None)
    cfg.pop("walk_max_turn", None)
    cfg_walk = dict(cfg, track_builder="walk")
    cfg_ext = dict(cfg_walk, extend_cut=EXTEND_CUT)
    failed = False
    mixed = {"walk": 0, "components": 0}
    grown = 0
    turned = 0
    stitched = 0
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
        py_both = pipeline.build_tracks(ev, r["filtered"], r["gnn_logits"], cfg["gnn_cut"], "walk",
                                        cfg["min_track_size"], EXTEND_CUT, MAX_TURN)
        py_st = pipeline.build_tracks(ev, r["filtered"], r["gnn_logits"], cfg["gnn_cut"], "walk",
                                      cfg["min_track_size"], EXTEND_CUT, MAX_TURN, STITCH)
        st = np.array([cpp_st[k].get(h, -1) for h in ids])
        stitched += int(round((1.0 - same_partition_fraction(py_st, py_both)) * len(ids)))
        for name, a, b in (("walk", py, cpp), ("walk + extension", py_ext, ext), ("walk, turn limit", py_turn, trn),
                           ("walk + extension + turn limit + stitching", py_st, st)):
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
    print(f"the helix stitching {STITCH} changed the track of {stitched} pixel hits")
    if len(sys.argv) > 4:
        failed |= not check_whole_stitching(binary, sys.argv[4], work)
    ok = mixed["walk"] < mixed["components"]
    failed |= not ok
    print(f"{'ok  ' if ok else 'FAIL'} hits in another particle's track: walk {mixed['walk']}, "
          f"components {mixed['components']} (the walk must split merged tracks)")
    print(f"walk, processed hits: efficiency pT > 1 GeV {cpp_m['efficiency_pt_gt_1gev']:.3f}, "
          f"fake rate {cpp_m['fake_rate']:.3f}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
