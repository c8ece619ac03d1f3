#!/usr/bin/env python3
"""The Exa.TrkX inference pipeline in plain Python, the baseline the C++ pipeline is timed against.

What a physicist would write with the usual tools: numpy features, the TorchScript models,
the radius graph from scipy's cKDTree (each hit's k+1 nearest within r in one query: the
fastest reasonable way in Python; `--graph faiss` uses a FAISS flat L2 k-nearest search as
Exa.TrkX's build_edges does, which is far slower on the CPU), and scipy's connected
components. It runs the same chain as src/pipeline/Pipeline.cpp on the
same models and events, so that the benchmark compares like with like:

  hits of the configured volumes -> features -> embedding -> radius graph (each hit's
  neighbours within r, the k nearest of them; both directions united as i < j) -> filter
  (in chunks of edges) -> GNN (one call) -> connected components -> labels.

Events are preloaded (not timed), the first --warmup events are run and not counted, then
the next --events events are run and each stage timed (as bench/PipelineBench.cpp does). Like the C++ record, the total is the sum of the
stages; selecting the hits of the configured volumes is not timed in either.

Usage:
  GLIBC_TUNABLES=glibc.malloc.hugetlb=1 python3 bench/python_pipeline.py \
      --config models/pipeline.yaml --input events.h5 [--events N] [--warmup 1] \
      [--threads 1] [--graph kdtree|faiss] [--json out.json] [--labels out.npz]
"""

import argparse
import json
import math
import os
import resource
import sys
import time

import faiss
import h5py
import numpy as np
import scipy.sparse
import scipy.sparse.csgraph
from scipy.spatial import cKDTree
import torch
import yaml

STAGES = ("features", "embedding", "graph", "filter", "gnn", "tracks")
KNOWN_KEYS = {
    "format", "version", "features", "embedding_dim", "radius", "max_neighbours",
    "filter_cut", "gnn_cut", "min_track_size", "volumes", "edge_truth", "models",
    "trained_on", "grid_dims", "filter_chunk", "junction_removal", "undirected",
    "embedding_chunk",  # a C++ setting (hits per embedding call): the plain chain makes one call
    "track_builder", "extend_cut", "walk_max_turn",  # the plain chain: connected components only
}
KNOWN_FEATURES = ("x", "y", "z", "r", "phi", "eta", "rho", "cell_count", "cell_value")


class InputError(Exception):
    """A wrong config or event file; the message names the file."""


# ---------------------------------------------------------------------------- config


def load_config(path):
    """pipeline.yaml as a dict of plain values; model paths relative to the yaml's folder."""
    def fail(why):
        raise InputError(f"pipeline config '{path}': {why}")

    try:
        with open(path) as f:
            raw = yaml.safe_load(f)
    except OSError as e:
        fail(f"cannot open the file ({e.strerror})")
    except yaml.YAMLError as e:
        fail(f"not valid YAML: {e}")
    if not isinstance(raw, dict):
        fail("expected a map of settings")
    for key in raw:
        if key not in KNOWN_KEYS:
            fail(f"{key} is not a known setting")
    for key in ("features", "radius", "max_neighbours", "filter_cut", "gnn_cut", "models"):
        if key not in raw:
            fail(f"{key} is missing")
    if (str(raw.get("track_builder", "components")).split("#")[0].strip() != "components"
            or raw.get("extend_cut") is not None or raw.get("walk_max_turn") is not None):
        fail("the plain chain builds connected components only (track_builder: components, no "
             "extend_cut or walk_max_turn); bench/pipeline_compare.sh gives both chains such a copy")
    if raw.get("format", "trkaas-pipeline") != "trkaas-pipeline":
        fail("format must be trkaas-pipeline")
    folder = os.path.dirname(path) or "."
    try:
        # The C++ side reads these as float32; so do we, so that both cut at the same values.
        c = {
            "features": [(f["name"], float(np.float32(f["scale"]))) for f in raw["features"]],
            "radius": float(np.float32(raw["radius"])),
            "k": int(raw["max_neighbours"]),
            "filter_cut": float(np.float32(raw["filter_cut"])),
            "gnn_cut": float(np.float32(raw["gnn_cut"])),
            "filter_chunk": int(raw.get("filter_chunk", 1 << 20)),
            "min_track_size": int(raw.get("min_track_size", 3)),
            "junction_removal": bool(raw.get("junction_removal", False)),
            "undirected": bool(raw.get("undirected", False)),
            "volumes": [int(v) for v in raw.get("volumes") or []],
            "models": {},
        }
        for m in ("embedding", "filter", "gnn"):
            if m not in raw["models"]:
                fail(f"models.{m} is missing")
            c["models"][m] = os.path.join(folder, str(raw["models"][m]))
    except (KeyError, TypeError, ValueError) as e:
        fail(f"a value has the wrong type or is missing ({type(e).__name__}: {e})")
    for name, scale in c["features"]:
        if name not in KNOWN_FEATURES:
            fail(f"unknown feature '{name}' (known: {', '.join(KNOWN_FEATURES)})")
        if not math.isfinite(scale) or scale == 0.0:
            fail(f"feature '{name}' needs a finite, non-zero scale, got {scale}")
    if not (c["radius"] > 0 and math.isfinite(c["radius"])):
        fail(f"radius must be a positive finite number, got {c['radius']}")
    if c["k"] < 1:
        fail(f"max_neighbours must be >= 1, got {c['k']}")
    for cut in ("filter_cut", "gnn_cut"):
        if not 0.0 < c[cut] < 1.0:
            fail(f"{cut} must lie strictly between 0 and 1, got {c[cut]}")
    if c["filter_chunk"] < 1:
        fail("filter_chunk must be at least 1")
    if c["min_track_size"] < 1:
        fail(f"min_track_size must be at least 1, got {c['min_track_size']}")
    return c


def load_models(c):
    models = {}
    for name, path in c["models"].items():
        if not os.path.isfile(path):
            raise InputError(f"model '{name}' ({path}): no such file")
        try:
            models[name] = torch.jit.load(path, map_location="cpu").eval()
        except Exception as e:  # torch raises RuntimeError with a long traceback
            raise InputError(f"model '{name}' ({path}): not a loadable TorchScript file: "
                             f"{str(e).splitlines()[0]}")
    return models


# ---------------------------------------------------------------------------- events


def read_events(path, max_events):
    """All events of an event file (docs/event-file-format.md), read through the index."""
    def fail(why):
        raise InputError(f"event file '{path}': {why}")

    if not os.path.isfile(path):
        fail("no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        fail(f"not an HDF5 file ({e})")
    with f:
        fmt = f.attrs.get("format")
        if isinstance(fmt, bytes):
            fmt = fmt.decode()
        if fmt != "trkaas-events":
            fail(f"format is {fmt!r}, expected 'trkaas-events'")
        if int(f.attrs.get("schema_version", -1)) != 1:
            fail(f"schema_version {f.attrs.get('schema_version')} is not supported (reads 1)")
        need = ["index/event_id", "index/hit_offset", "index/hit_count", "hits/hit_id",
                "hits/x", "hits/y", "hits/z", "hits/volume_id"]
        for d in need:
            if d not in f:
                fail(f"dataset /{d} is missing")
        has_cells = "cells/hit_id" in f
        ids = f["index/event_id"][:]
        offsets, counts = f["index/hit_offset"][:], f["index/hit_count"][:]
        if has_cells:
            coffsets, ccounts = f["index/cell_offset"][:], f["index/cell_count"][:]
        n = len(ids) if max_events is None else min(max_events, len(ids))
        events = []
        for i in range(n):
            o, m = int(offsets[i]), int(counts[i])
            if m < 1 or o < 0 or o + m > f["hits/x"].shape[0]:
                fail(f"event {ids[i]}: hit rows [{o}, {o + m}) are empty or outside the table")
            ev = {"event_id": int(ids[i])}
            for col in ("hit_id", "x", "y", "z", "volume_id"):
                ev[col] = f["hits/" + col][o:o + m]
            if has_cells:
                co, cm = int(coffsets[i]), int(ccounts[i])
                ev["cell_hit_id"] = f["cells/hit_id"][co:co + cm]
                ev["cell_value"] = f["cells/value"][co:co + cm]
            for col in ("x", "y", "z"):
                if not np.all(np.isfinite(ev[col])):
                    fail(f"event {ids[i]}: hits/{col} has a value that is not finite")
            events.append(ev)
    if not events:
        fail("has no events")
    return events


def select_volumes(ev, volumes):
    """The hits of the configured volumes (all hits when none are configured)."""
    if not volumes:
        return ev, None
    rows = np.flatnonzero(np.isin(ev["volume_id"], volumes))
    sel = {k: (v[rows] if k in ("hit_id", "x", "y", "z", "volume_id") else v)
           for k, v in ev.items()}
    return sel, rows


# ---------------------------------------------------------------------------- stages


def build_features(ev, features):
    """[N, F] float32: each feature computed in double from the float32 positions, / scale."""
    x, y, z = (ev[c].astype(np.float64) for c in ("x", "y", "z"))
    r = np.hypot(x, y)
    cols = []
    for name, scale in features:
        if name == "x":
            v = x
        elif name == "y":
            v = y
        elif name == "z":
            v = z
        elif name == "r":
            v = r
        elif name == "phi":
            v = np.arctan2(y, x)
        elif name == "eta":
            with np.errstate(divide="ignore", invalid="ignore"):
                v = np.where(r > 0, np.arcsinh(z / r), np.where(z >= 0, 1e3, -1e3))
        elif name == "rho":
            v = np.sqrt(r * r + z * z)
        else:  # cell_count, cell_value: sums over the cells of each hit, found by hit id
            if "cell_hit_id" not in ev:
                raise InputError(f"event {ev['event_id']}: the models need cell features "
                                 "but the event has no cells")
            order = np.argsort(ev["hit_id"])
            pos = np.searchsorted(ev["hit_id"], ev["cell_hit_id"], sorter=order)
            pos = np.minimum(pos, len(order) - 1)
            found = ev["hit_id"][order[pos]] == ev["cell_hit_id"]
            row = order[pos[found]]
            w = None if name == "cell_count" else ev["cell_value"][found]
            v = np.bincount(row, weights=w, minlength=len(x)).astype(np.float32)
        cols.append(v / scale)
    return np.stack(cols, axis=1).astype(np.float32)


def build_edges(emb, r, k):
    """Exa.TrkX's build_edges: FAISS flat L2, k+1 nearest (the hit itself is one of them),
    squared distance <= r^2, no self loops, both directions united as i < j, unique,
    sorted by i then j (the order the C++ graph has).

    FAISS computes |a|^2 + |b|^2 - 2 a.b in float, the C++ graph the exact distance in
    double: a pair within ~1e-7 of the radius can fall on different sides (seen: one edge
    in 40,000 swapped), which is the only expected difference from the C++ edges."""
    n = emb.shape[0]
    if n < 2:
        return np.empty((2, 0), dtype=np.int64)
    index = faiss.IndexFlatL2(emb.shape[1])
    index.add(emb)
    d2, nbr = index.search(emb, min(k + 1, n))  # FAISS returns squared L2 distances
    src = np.repeat(np.arange(n, dtype=np.int64), nbr.shape[1])
    dst = nbr.reshape(-1)
    keep = (d2.reshape(-1) <= r * r) & (dst >= 0) & (dst != src)
    src, dst = src[keep], dst[keep]
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    key = np.unique(lo * n + hi)
    return np.stack([key // n, key % n])


def build_edges_kdtree(emb, r, k, threads):
    """The same graph from scipy's cKDTree: per hit the k+1 nearest (the hit itself is one)
    within r, in double precision as the C++ graph computes distances; then as
    build_edges. At equal distance the k cap may keep another neighbour than C++ (which
    keeps the lower index): rare, and only at the cap."""
    n = emb.shape[0]
    if n < 2:
        return np.empty((2, 0), dtype=np.int64)
    tree = cKDTree(emb.astype(np.float64))
    _, nbr = tree.query(emb.astype(np.float64), k=min(k + 1, n), distance_upper_bound=r,
                        workers=threads)
    nbr = nbr.reshape(n, -1)
    src = np.repeat(np.arange(n, dtype=np.int64), nbr.shape[1])
    dst = nbr.reshape(-1).astype(np.int64)
    keep = (dst < n) & (dst != src)  # missing neighbours come back as index n
    src, dst = src[keep], dst[keep]
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    key = np.unique(lo * n + hi)
    return np.stack([key // n, key % n])


def edge_logits(model, x, edges, undirected):
    """Logits of the edges [2, E]; with `undirected`, each edge is scored in both
    directions in the same call and the two logits averaged."""
    e = edges.shape[1]
    if undirected:
        edges = np.concatenate([edges, edges[::-1]], axis=1)
    logits = model(x, torch.from_numpy(np.ascontiguousarray(edges))).reshape(-1)
    if undirected:
        logits = 0.5 * (logits[:e] + logits[e:])
    return logits


def build_tracks(n, edges, scores, min_size, junction_removal, dist2=None):
    """Connected components of the kept edges; components below min_size get -1, the
    others 0, 1, ... in the order of their lowest hit. For junction removal the edges are
    first directed from the hit nearer the origin (dist2: squared 3-D distance per hit)."""
    src, dst = edges
    if junction_removal and len(src) > 0:
        flip = (dist2[dst] < dist2[src]) | ((dist2[dst] == dist2[src]) & (dst < src))
        src, dst = np.where(flip, dst, src), np.where(flip, src, dst)
        # Each hit keeps only its best outgoing and best incoming edge (ties: lower edge).
        eid = np.arange(len(src))
        best_out = np.full(n, -1)
        order = np.lexsort((eid, -scores, src))
        first = np.r_[True, src[order][1:] != src[order][:-1]]
        best_out[src[order][first]] = order[first]
        best_in = np.full(n, -1)
        order = np.lexsort((eid, -scores, dst))
        first = np.r_[True, dst[order][1:] != dst[order][:-1]]
        best_in[dst[order][first]] = order[first]
        keep = (best_out[src] == eid) & (best_in[dst] == eid)
        src, dst = src[keep], dst[keep]
    adj = scipy.sparse.coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n, n))
    _, comp = scipy.sparse.csgraph.connected_components(adj, directed=False)
    sizes = np.bincount(comp)
    comp = np.where(sizes[comp] >= min_size, comp, -1)
    # Renumber the surviving components 0.. by their lowest hit.
    kept, first = np.unique(comp, return_index=True)
    first, kept = first[kept >= 0], kept[kept >= 0]
    new = np.full(len(sizes), -1, dtype=np.int64)
    new[kept[np.argsort(first)]] = np.arange(len(kept))
    return np.where(comp >= 0, new[np.maximum(comp, 0)], -1)


def run_event(ev, c, models, undirected):
    """Labels for the hits of one (selected) event, the stage times in ms and edge counts."""
    t = {}
    n = len(ev["x"])

    t0 = time.perf_counter()
    feats = build_features(ev, c["features"])
    x = torch.from_numpy(feats)
    t["features"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    emb = models["embedding"](x).contiguous().numpy()
    t["embedding"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if c["graph"] == "faiss":
        graph = build_edges(emb, c["radius"], c["k"])
    else:
        graph = build_edges_kdtree(emb, c["radius"], c["k"], c["threads"])
    t["graph"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    chunk = c["filter_chunk"]
    parts = [edge_logits(models["filter"], x, graph[:, b:b + chunk], undirected)
             for b in range(0, graph.shape[1], chunk)]
    logits = torch.cat(parts) if parts else torch.empty(0)
    filtered = graph[:, (torch.sigmoid(logits) > c["filter_cut"]).numpy()]
    t["filter"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    logits = edge_logits(models["gnn"], x, filtered, undirected)
    passed = (torch.sigmoid(logits) > c["gnn_cut"]).numpy()
    kept, scores = filtered[:, passed], logits.numpy()[passed]
    t["gnn"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    dist2 = None
    if c["junction_removal"]:
        dist2 = (ev["x"].astype(np.float64) ** 2 + ev["y"].astype(np.float64) ** 2
                 + ev["z"].astype(np.float64) ** 2)
    labels = build_tracks(n, kept, scores, c["min_track_size"], c["junction_removal"], dist2)
    t["tracks"] = time.perf_counter() - t0

    ms = {s: 1e3 * t[s] for s in STAGES}
    ms["total"] = sum(ms[s] for s in STAGES)
    edges = {"graph": graph.shape[1], "filter": filtered.shape[1], "gnn": kept.shape[1]}
    return labels, ms, edges


def process(ev, c, models):
    """One event: labels for all its hits (-1 outside the configured volumes)."""
    sel, rows = select_volumes(ev, c["volumes"])
    labels, ms, edges = run_event(sel, c, models, c["undirected"])
    if rows is not None:
        full = np.full(len(ev["x"]), -1, dtype=np.int64)
        full[rows] = labels
        labels = full
    return labels, ms, edges, len(sel["x"])


# ---------------------------------------------------------------------------- main


def summary(values):
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "p50": float(np.percentile(v, 50)),
            "p99": float(np.percentile(v, 99))}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="models/pipeline.yaml", help="pipeline YAML")
    p.add_argument("--input", required=True, help="trkaas event file (.h5)")
    p.add_argument("--events", type=int, default=None, help="at most this many events")
    p.add_argument("--warmup", type=int, default=1, help="events run first and not counted")
    p.add_argument("--threads", type=int, default=1, help="torch, cKDTree and FAISS threads")
    p.add_argument("--graph", choices=("kdtree", "faiss"), default="kdtree",
                   help="radius graph: scipy cKDTree (default, the fast way) or FAISS flat "
                        "k-nearest (Exa.TrkX's build_edges)")
    p.add_argument("--json", help="write the report as JSON here")
    p.add_argument("--labels", help="write event ids, hit ids and labels here (.npz)")
    a = p.parse_args(argv)
    if a.threads < 1 or a.warmup < 0 or (a.events is not None and a.events < 1):
        p.error("--threads and --events must be at least 1, --warmup at least 0")

    try:
        c = load_config(a.config)
        models = load_models(c)
        events = read_events(a.input, None if a.events is None else a.events + a.warmup)
        if len(events) <= a.warmup:
            raise InputError(f"file '{a.input}': {len(events)} event(s), but {a.warmup} are for "
                             "the warm-up and at least one must be timed")
    except InputError as e:
        print(f"python_pipeline: {e}", file=sys.stderr)
        return 2
    c["graph"], c["threads"] = a.graph, a.threads
    torch.set_num_threads(a.threads)
    faiss.omp_set_num_threads(a.threads)

    with torch.inference_mode():
        # As bench_pipeline does: the first events warm up, the following ones are timed.
        for ev in events[:a.warmup]:
            process(ev, c, models)
        events = events[a.warmup:]
        results = [process(ev, c, models) for ev in events]

    times = {s: [r[1][s] for r in results] for s in STAGES + ("total",)}
    n = len(events)
    report = {
        "implementation": "python",
        "input": a.input,
        "events": n,
        "hits_mean": float(np.mean([len(ev["x"]) for ev in events])),
        "model_hits_mean": float(np.mean([r[3] for r in results])),
        "events_per_s": n / (1e-3 * sum(times["total"])),
        "stages_ms": {s: summary(v) for s, v in times.items()},
        "edges_mean": {k: float(np.mean([r[2][k] for r in results]))
                       for k in ("graph", "filter", "gnn")},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": a.threads,
        "graph": a.graph,
    }

    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=2)
    if a.labels:
        counts = np.array([len(r[0]) for r in results], dtype=np.int64)
        np.savez(a.labels,
                 event_ids=np.array([ev["event_id"] for ev in events], dtype=np.int64),
                 offsets=np.r_[0, np.cumsum(counts)[:-1]].astype(np.int64), counts=counts,
                 hit_ids=np.concatenate([ev["hit_id"] for ev in events]).astype(np.int64),
                 labels=np.concatenate([r[0] for r in results]).astype(np.int64))
    print(f"{n} events ({a.warmup} warm-up not counted): {report['events_per_s']:.2f} events/s, "
          f"{report['hits_mean']:.0f} hits/event ({report['model_hits_mean']:.0f} in the "
          f"model's volumes), peak RSS {report['peak_rss_mb']:.0f} MB, {a.threads} thread(s)")
    print(f"{'stage':<10} {'mean ms':>9} {'p50 ms':>9} {'p99 ms':>9}")
    for s, v in report["stages_ms"].items():
        print(f"{s:<10} {v['mean']:9.2f} {v['p50']:9.2f} {v['p99']:9.2f}")
    e = report["edges_mean"]
    print(f"edges per event: graph {e['graph']:.1f}, filter {e['filter']:.1f}, gnn {e['gnn']:.1f}")
    for ev, r in zip(events, results):
        print(f"  event {ev['event_id']}: edges graph {r[2]['graph']}, filter {r[2]['filter']}, "
              f"gnn {r[2]['gnn']}, tracks {int(r[0].max()) + 1}")

    return 0


if __name__ == "__main__":
    sys.exit(main())
