"""Inference with (scripted or eager) models: the same chain as the C++ pipeline."""
import time

import numpy as np
import torch

from . import data, graph, metrics


def edge_scores(model, x, edge_index, chunk=400_000):
    """sigmoid(model(x, edge_index)) in edge chunks, numpy f32[E]."""
    e = edge_index.shape[1]
    out = np.zeros(e, np.float32)
    with torch.no_grad():
        for a in range(0, e, chunk):
            ei = torch.from_numpy(np.ascontiguousarray(edge_index[:, a:a + chunk]))
            out[a:a + chunk] = torch.sigmoid(model(x, ei)).numpy()
    return out


def gnn_logits(model, x, edge_index):
    if edge_index.shape[1] == 0:
        return np.zeros(0, np.float32)
    with torch.no_grad():
        return model(x, torch.from_numpy(np.ascontiguousarray(edge_index))).float().numpy()


def gnn_scores(model, x, edge_index):
    return torch.sigmoid(torch.from_numpy(gnn_logits(model, x, edge_index))).numpy()


# The selection of the truth metrics: particles (and tracks) with at least this many hits in
# the scope count. Fixed, whatever the pipeline's min_track_size (a reconstruction setting),
# as in the C++ TruthMetrics, so that every model set is measured on the same particles.
METRIC_MIN_HITS = 3


def build_tracks(ev, edges, logits, cut, builder, min_size, extend_cut=None, max_turn=None, stitch=None):
    """Track labels (-1: none) from the filtered graph's edges and their GNN logits: the edges
    with sigmoid(logit) > cut, made into tracks by builder ("walk" or "components"), tracks of
    at least min_size hits, as the C++ TrackBuilder does. With extend_cut (< cut), the tracks
    then grow at their ends along the edges with sigmoid(logit) > extend_cut
    (graph.extend_tracks, the pipeline YAML's extend_cut). max_turn: the walk's turn limit in
    the r-z plane (radians, the YAML's walk_max_turn; graph.walk_tracks). stitch: (max_xy,
    max_z) in mm (the YAML's stitch_max_xy, stitch_max_z): the hits then left without a track
    make pieces (the same builder, graph.STITCH_MIN_PIECE hits at least, along the same edges
    above the cut), and tracks and pieces that continue one helix from the origin are joined
    (graph.stitch_tracks)."""
    n = len(ev["x"])
    prob = torch.sigmoid(torch.from_numpy(logits)).numpy()  # as run_event's scores
    keep = prob > cut
    kept = edges[:, keep]
    xyz = np.stack([ev["x"], ev["y"], ev["z"]], 1)
    if builder == "walk":
        labels = graph.walk_tracks(n, graph.orient_outwards(xyz, kept), logits[keep], min_size, xyz, max_turn)
    else:
        labels = graph.connected_components(n, kept, min_size)
    if extend_cut is not None:
        grow = prob > extend_cut
        labels = graph.extend_tracks(labels, xyz, graph.orient_outwards(xyz, edges[:, grow]), logits[grow])
    if stitch is not None:
        free = labels < 0
        sub = keep & free[edges[0]] & free[edges[1]]
        if builder == "walk":
            pieces = graph.walk_tracks(n, graph.orient_outwards(xyz, edges[:, sub]), logits[sub],
                                       graph.STITCH_MIN_PIECE, xyz, max_turn)
        else:
            pieces = graph.connected_components(n, edges[:, sub], graph.STITCH_MIN_PIECE)
        labels = graph.stitch_tracks(labels, pieces, xyz, stitch[0], stitch[1], min_size)
    return labels


def stitch_of(cfg):
    """The pipeline config's helix stitching for build_tracks: (stitch_max_xy, stitch_max_z),
    or None when the YAML has no stitch_max_xy."""
    return (float(cfg["stitch_max_xy"]), float(cfg["stitch_max_z"])) if cfg.get("stitch_max_xy") else None


def scan_track_settings(samples, cuts, sizes, builder, log=print, extend_cuts=(None,), max_fake_rate=None,
                        max_turns=(None,), maximize="efficiency", min_efficiency=None, stitch=None):
    """Track metrics on validation samples [(ev, filtered edges, GNN logits)] for every GNN
    cut, minimum track size and extension cut (None: no extension; a value at or above the cut
    is skipped) and walk turn limit (max_turns; None: none); returns (best (cut, size,
    extend_cut, max_turn), rows [{cut, min_track_size, extend_cut, max_turn, metrics}]). Best:
    among the settings whose fake rate is at most max_fake_rate and whose efficiency pT > 1 GeV
    is at least min_efficiency (each limit only when given), the highest efficiency pT > 1 GeV
    (maximize="efficiency") or TrackML score (maximize="score"), ties to the lower fake rate;
    without limits, or when no setting meets them, the highest efficiency minus fake rate.
    stitch: every setting with this helix stitching (build_tracks)."""
    if maximize not in ("efficiency", "score"):
        raise ValueError(f"maximize: 'efficiency' or 'score', not {maximize!r}")
    rows, best = [], None
    for size in sizes:
        for cut in cuts:
            for ext in extend_cuts:
                if ext is not None and ext >= cut:
                    continue
                for turn in max_turns:
                    counts = [metrics.track_metrics(build_tracks(ev, e, lg, cut, builder, size, ext, turn, stitch),
                                                    ev["particle_id"], ev["weight"], pt_lookup(ev),
                                                    min_hits=METRIC_MIN_HITS)
                              for ev, e, lg in samples]
                    m, _ = metrics.summarize_tracks(counts)
                    rows.append({"cut": cut, "min_track_size": size, "extend_cut": ext, "max_turn": turn, "metrics": m})
                    log(f"validation gnn cut {cut}, min track size {size}, extend cut {ext}, max turn {turn}: "
                        f"track eff (pT>1) {m['track_efficiency_pt1']:.4f}, eff {m['track_efficiency']:.4f}, "
                        f"fake {m['fake_rate']:.4f}, dup {m['duplicate_rate']:.4f}, score {m['trackml_score']:.4f}")
                    obj = m["track_efficiency_pt1"] - m["fake_rate"]
                    if best is None or obj > best[1]:
                        best = ((cut, size, ext, turn), obj)
    if max_fake_rate is not None or min_efficiency is not None or maximize != "efficiency":
        limits = [f"fake rate <= {max_fake_rate}"] if max_fake_rate is not None else []
        limits += [f"efficiency pT > 1 GeV >= {min_efficiency}"] if min_efficiency is not None else []
        ok = [r for r in rows
              if (max_fake_rate is None or r["metrics"]["fake_rate"] <= max_fake_rate)
              and (min_efficiency is None or r["metrics"]["track_efficiency_pt1"] >= min_efficiency)]
        key = "track_efficiency_pt1" if maximize == "efficiency" else "trackml_score"
        within = " and ".join(limits) or "no limit"
        if ok:
            r = max(ok, key=lambda r: (r["metrics"][key], -r["metrics"]["fake_rate"]))
            log(f"highest {maximize} with {within}: gnn cut {r['cut']}, min track size "
                f"{r['min_track_size']}, extend cut {r['extend_cut']}, max turn {r['max_turn']}")
            return (r["cut"], r["min_track_size"], r["extend_cut"], r["max_turn"]), rows
        log(f"no setting has {within}: best efficiency minus fake rate instead")
    return best[0], rows


def run_event(models, cfg, ev, stages=("graph", "filter", "gnn")):
    """models: dict embedding/filter/gnn; cfg: dict radius, k, filter_cut, gnn_cut,
    min_track_size, optionally features ([(name, scale)], default r, phi, z), geometry
    (data.load_geometry(), for cluster-shape features) and track_builder ("components", the
    default, or "walk": graph.walk_tracks on the kept edges oriented outwards, weighted by the
    GNN's logits as in the C++ pipeline). Returns a dict of numpy results and stage times."""
    t = {}
    feats = data.features(ev, cfg.get("features"), cfg.get("geometry"))
    x = torch.from_numpy(feats)
    t0 = time.time()
    with torch.no_grad():
        y = models["embedding"](x).numpy()
    t["embedding"] = time.time() - t0
    t0 = time.time()
    g = graph.radius_graph(y, cfg["radius"], cfg["k"])
    t["graph"] = time.time() - t0
    res = {"x": x, "graph": g, "times": t}
    if "filter" not in stages:
        return res
    t0 = time.time()
    fs = edge_scores(models["filter"], x, g)
    t["filter"] = time.time() - t0
    res["filter_scores"] = fs
    fe = g[:, fs > cfg["filter_cut"]]
    res["filtered"] = fe
    if "gnn" not in stages:
        return res
    t0 = time.time()
    logits = gnn_logits(models["gnn"], x, fe)
    gs = torch.sigmoid(torch.from_numpy(logits)).numpy()
    t["gnn"] = time.time() - t0
    res["gnn_scores"] = gs
    res["gnn_logits"] = logits
    t0 = time.time()
    keep = gs > cfg["gnn_cut"]
    res["labels"] = build_tracks(ev, fe, logits, cfg["gnn_cut"], cfg.get("track_builder", "components"),
                                 cfg["min_track_size"], cfg.get("extend_cut"), cfg.get("walk_max_turn"),
                                 stitch_of(cfg))
    ge = fe[:, keep]
    t["tracks"] = time.time() - t0
    res["kept"] = ge
    return res


def pt_lookup(ev):
    ids, pt = data.particle_pt(ev)
    return lambda q: data.lookup(ids, pt, q, 0.0)


def evaluate_events(models, cfg, events, log=print):
    """Edge and track metrics over events, as the C++ pipeline runs them: only the hits of
    cfg["volumes"] (all hits when absent or empty) go through the models; the others get no
    track. Returns (metrics on the processed hits, counts, times per event, track metrics on
    the whole event)."""
    ec = {s: [] for s in ("graph", "filter", "gnn")}
    ec1 = {s: [] for s in ec}
    tc, tc_event = [], []
    times = {}
    for i, whole in enumerate(events):
        ev, mask = data.select_volumes(whole, cfg.get("volumes"))
        r = run_event(models, cfg, ev)
        n = len(ev["particle_id"])
        tp = data.truth_pairs(ev)
        tp1 = tp[:, data.hit_pt(ev)[tp[0]] > 1.0]
        for s, e in (("graph", r["graph"]), ("filter", r["filtered"]), ("gnn", r["kept"])):
            truth = data.edge_truth(ev, e)
            ec[s].append(metrics.edge_counts(e, truth, tp, n))
            ec1[s].append(metrics.edge_counts(e, truth, tp1, n))
        tc.append(metrics.track_metrics(r["labels"], ev["particle_id"], ev["weight"], pt_lookup(ev),
                                        min_hits=METRIC_MIN_HITS))
        labels = np.full(len(mask), -1, np.int64)
        labels[mask] = r["labels"]
        tc_event.append(metrics.track_metrics(labels, whole["particle_id"], whole["weight"],
                                              pt_lookup(whole), min_hits=METRIC_MIN_HITS))
        for k, v in r["times"].items():
            times[k] = times.get(k, 0.0) + v
        log(f"  event {ev['event_id']}: {n} hits, graph {r['graph'].shape[1]} edges, "
            f"filter {r['filtered'].shape[1]}, gnn {r['kept'].shape[1]}, "
            f"tracks {int(r['labels'].max()) + 1 if n else 0}")
    out = {}
    counts = {}
    for s, lst in ec.items():
        c = {k: sum(d[k] for d in lst) for k in lst[0]}
        counts["edges_" + s] = c
        out[f"edge_efficiency_{s}"] = c["pairs_found"] / c["pairs"] if c["pairs"] else 0.0
        out[f"edge_purity_{s}"] = c["edges_true"] / c["edges"] if c["edges"] else 0.0
        c1 = {k: sum(d[k] for d in ec1[s]) for k in ec1[s][0]}
        out[f"edge_efficiency_pt1_{s}"] = c1["pairs_found"] / c1["pairs"] if c1["pairs"] else 0.0
        out[f"edges_per_event_{s}"] = c["edges"] / max(len(events), 1)
    tm, tcount = metrics.summarize_tracks(tc)
    out.update(tm)
    counts["tracks"] = tcount
    event_metrics, counts["tracks_event"] = metrics.summarize_tracks(tc_event)
    n = max(len(events), 1)
    return out, counts, {k: v / n for k, v in times.items()}, event_metrics
