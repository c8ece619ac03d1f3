"""Read trkaas HDF5 event files (with truth) through /index offsets and build features/truth."""
import gzip
import math
import os

import h5py
import numpy as np

# Feature list shared with the C++ features stage: value / scale, in this order.
FEATURES = [("r", 1000.0), ("phi", math.pi), ("z", 1000.0)]

# Default scale per known feature (train.py --features NAME[:SCALE]): each of order 1 on the
# TrackML detector. Lengths in mm; ly / 10: 0.0056 for a pixel (pitch_v 0.056 mm), 0.12 for
# a short strip (1.2 mm), 1.04-1.08 for a long strip (10.4-10.8 mm), per cell along v.
DEFAULT_SCALES = {"x": 1000.0, "y": 1000.0, "z": 1000.0, "r": 1000.0, "phi": math.pi, "eta": 1.0,
                  "rho": 1000.0, "cell_count": 10.0, "cell_value": 10.0, "leta": 1.0, "lphi": 1.0,
                  "lx": 1.0, "ly": 10.0, "lz": 1.0, "geta": 1.0, "gphi": math.pi}


def parse_features(spec):
    """[(name, scale)] from "NAME[:SCALE],..." (scale default DEFAULT_SCALES). The models
    derive their geometry from the first three, which must be r, phi, z at their default scales."""
    out = []
    for item in (s for s in spec.split(",") if s):
        name, _, scale = item.partition(":")
        if name not in DEFAULT_SCALES:
            raise ValueError(f"unknown feature {name!r} (known: {', '.join(DEFAULT_SCALES)})")
        out.append((name, float(scale) if scale else DEFAULT_SCALES[name]))
    if out[:3] != FEATURES:
        raise ValueError(f"the features must start with r, phi, z (scales 1000, pi, 1000), got {spec!r}")
    return out


def needs_geometry(names):
    """Whether features `names` ([(name, scale)]) include cluster shapes (module table needed)."""
    return any(n in SHAPE_FEATURES for n, _ in names)


def read_events(path, max_events=None):
    """Return a list of events (dicts of numpy arrays) from one trkaas event file."""
    events = []
    with h5py.File(path, "r") as f:
        if f.attrs.get("format") not in ("trkaas-events", b"trkaas-events"):
            raise ValueError(f"{path}: not a trkaas event file")
        if "truth" not in f or "particles" not in f:
            raise ValueError(f"{path}: training needs the /truth and /particles groups")
        ids = f["index/event_id"][:]
        hoff, hcnt = f["index/hit_offset"][:], f["index/hit_count"][:]
        poff, pcnt = f["index/particle_offset"][:], f["index/particle_count"][:]
        n = len(ids) if max_events is None else min(len(ids), max_events)
        for i in range(n):
            a, b = int(hoff[i]), int(hoff[i] + hcnt[i])
            pa, pb = int(poff[i]), int(poff[i] + pcnt[i])
            ev = {"event_id": int(ids[i])}
            for k in ("hit_id", "x", "y", "z", "volume_id", "layer_id", "module_id"):
                ev[k] = f["hits/" + k][a:b]
            ev["particle_id"] = f["truth/particle_id"][a:b]
            ev["weight"] = f["truth/weight"][a:b]
            for k in ("particle_id", "vx", "vy", "vz", "px", "py"):
                ev["p_" + k] = f["particles/" + k][pa:pb]
            if "cells" in f:  # per hit's cluster (generate --cells, TrackML cells.csv)
                ca = int(f["index/cell_offset"][i])
                cb = ca + int(f["index/cell_count"][i])
                ev["cells"] = {k: f["cells/" + k][ca:cb] for k in ("hit_id", "ch0", "ch1", "value")}
            events.append(ev)
    return events


HIT_KEYS = ("hit_id", "x", "y", "z", "volume_id", "layer_id", "module_id", "particle_id", "weight")


def select_volumes(ev, volumes):
    """(the event restricted to the hits of `volumes`, bool[N] mask of those hits); the
    particle table is kept whole. volumes empty or None: the event itself, every hit."""
    n = len(ev["x"])
    if not volumes:
        return ev, np.ones(n, bool)
    mask = np.isin(ev["volume_id"], np.asarray(list(volumes)))
    sub = dict(ev)
    for k in HIT_KEYS:
        if k in ev:
            sub[k] = ev[k][mask]
    return sub, mask


SHAPE_FEATURES = ("leta", "lphi", "lx", "ly", "lz", "geta", "gphi")
CELL_FEATURES = ("cell_count", "cell_value") + SHAPE_FEATURES


def load_geometry(path=None):
    """Module table of a TrackML detectors.csv(.gz) for the cluster-shape features: a dict
    (volume, layer, module) -> (pitch_u, pitch_v, module_t, rotation 3x3 global <- local).
    Default: data/trackml/detectors.csv.gz of the source tree, as FeatureBuilder's."""
    if path is None:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                            "data", "trackml", "detectors.csv.gz")
    with (gzip.open(path, "rt") if path.endswith(".gz") else open(path)) as f:
        header = f.readline().strip().split(",")
        rows = np.loadtxt(f, delimiter=",", ndmin=2)
    col = {n: i for i, n in enumerate(header)}
    rot = ["rot_xu", "rot_xv", "rot_xw", "rot_yu", "rot_yv", "rot_yw", "rot_zu", "rot_zv", "rot_zw"]
    return {(int(r[col["volume_id"]]), int(r[col["layer_id"]]), int(r[col["module_id"]])):
            (r[col["pitch_u"]], r[col["pitch_v"]], r[col["module_t"]],
             np.array([r[col[k]] for k in rot]).reshape(3, 3)) for r in rows}


def _eta_phi(v):
    """Pseudorapidity (-ln tan(theta/2), theta = arccos(z/|v|)) and azimuth of rows of v."""
    rho = np.hypot(v[:, 0], v[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(rho > 0, np.arcsinh(v[:, 2] / np.where(rho > 0, rho, 1)),
                       np.where(v[:, 2] >= 0, 1e3, -1e3))
    return eta, np.arctan2(v[:, 1], v[:, 0])


def cell_features(ev, geometry=None):
    """dict of f64[N] per name in CELL_FEATURES, as the C++ FeatureBuilder computes them
    (the Exa.TrkX TrackML preprocessing): cell count and summed value per hit; the
    cluster's extent (max - min + 1 channels) x pitch along u and v and 2 x module_t
    along w (lx, ly, lz), its eta and phi (leta, lphi), and the same of the vector rotated
    to the global frame (geta, gphi). geometry: load_geometry() (only for the shapes)."""
    if "cells" not in ev:
        raise ValueError(f"event {ev['event_id']}: the cell features need cells (generate --cells)")
    n = len(ev["hit_id"])
    c = ev["cells"]
    order = np.argsort(ev["hit_id"])
    pos = np.searchsorted(ev["hit_id"], c["hit_id"], sorter=order)
    pos = np.clip(pos, 0, max(n - 1, 0))
    row = order[pos]
    ok = ev["hit_id"][row] == c["hit_id"]
    row, ch0, ch1, val = row[ok], c["ch0"][ok], c["ch1"][ok], c["value"][ok].astype(np.float64)
    out = {"cell_count": np.bincount(row, minlength=n).astype(np.float64),
           "cell_value": np.bincount(row, weights=val, minlength=n)}
    if geometry is None:
        return out
    if (out["cell_count"] == 0).any():
        hit = ev["hit_id"][np.argmax(out["cell_count"] == 0)]
        raise ValueError(f"event {ev['event_id']}: hit {hit} has no cells; the cluster-shape features need them")
    big = np.iinfo(np.int64).max
    lo0, hi0 = np.full(n, big), np.full(n, -big)
    lo1, hi1 = np.full(n, big), np.full(n, -big)
    np.minimum.at(lo0, row, ch0)
    np.maximum.at(hi0, row, ch0)
    np.minimum.at(lo1, row, ch1)
    np.maximum.at(hi1, row, ch1)
    l = np.zeros((n, 3))
    g = np.zeros((n, 3))
    for i, key in enumerate(zip(ev["volume_id"].tolist(), ev["layer_id"].tolist(), ev["module_id"].tolist())):
        if key not in geometry:
            raise ValueError(f"event {ev['event_id']}: hit {ev['hit_id'][i]} is on module {key}, not in the geometry")
        pu, pv, t, rot = geometry[key]
        l[i] = ((hi0[i] - lo0[i] + 1) * pu, (hi1[i] - lo1[i] + 1) * pv, 2.0 * t)
        g[i] = rot @ l[i]
    out["leta"], out["lphi"] = _eta_phi(l)
    out["lx"], out["ly"], out["lz"] = l[:, 0], l[:, 1], l[:, 2]
    out["geta"], out["gphi"] = _eta_phi(g)
    return out


def features(ev, names=None, geometry=None):
    """f32[N,F]: each named quantity / its scale, in order; names: (name, scale) pairs,
    default FEATURES (r/1000, phi/pi, z/1000). Known: x, y, z, r, phi, eta, rho, and
    CELL_FEATURES (need the event's cells; the shapes also need `geometry`)."""
    names = FEATURES if names is None else names
    x = ev["x"].astype(np.float64)
    y = ev["y"].astype(np.float64)
    z = ev["z"].astype(np.float64)
    r = np.sqrt(x * x + y * y)
    cols = {"x": x, "y": y, "z": z, "r": r, "phi": np.arctan2(y, x),
            "eta": _eta_phi(np.stack([x, y, z], 1))[0], "rho": np.sqrt(r * r + z * z)}
    if any(n in CELL_FEATURES for n, _ in names):
        shapes = any(n in SHAPE_FEATURES for n, _ in names)
        cols.update(cell_features(ev, geometry if shapes else None))
    unknown = [n for n, _ in names if n not in cols]
    if unknown:
        raise ValueError(f"unknown feature(s) {unknown} (known: {sorted(cols)})")
    return np.stack([cols[n] / s for n, s in names], 1).astype(np.float32)


def particle_pt(ev):
    """pT (GeV) per particle id, as a dict-like pair (sorted ids, pt)."""
    pid = ev["p_particle_id"]
    pt = np.hypot(ev["p_px"], ev["p_py"])
    o = np.argsort(pid)
    return pid[o], pt[o]


def lookup(sorted_ids, values, query, default=0.0):
    i = np.searchsorted(sorted_ids, query)
    i = np.clip(i, 0, max(len(sorted_ids) - 1, 0))
    if len(sorted_ids) == 0:
        return np.full(len(query), default)
    ok = sorted_ids[i] == query
    return np.where(ok, values[i], default)


def truth_pairs(ev):
    """i64[2,P]: consecutive hits of each particle (particle_id != 0), ordered by distance
    from the particle's production vertex (i < j not implied; caller canonicalises)."""
    pid = ev["particle_id"]
    n = len(pid)
    ppid = ev["p_particle_id"]
    o = np.argsort(ppid)
    sp = ppid[o]
    vx = lookup(sp, ev["p_vx"][o], pid)
    vy = lookup(sp, ev["p_vy"][o], pid)
    vz = lookup(sp, ev["p_vz"][o], pid)
    d = np.sqrt((ev["x"] - vx) ** 2 + (ev["y"] - vy) ** 2 + (ev["z"] - vz) ** 2)
    idx = np.arange(n)
    m = pid != 0
    idx, p, d = idx[m], pid[m], d[m]
    order = np.lexsort((d, p))
    idx, p = idx[order], p[order]
    same = p[1:] == p[:-1]
    a, b = idx[:-1][same], idx[1:][same]
    return np.stack([np.minimum(a, b), np.maximum(a, b)]).astype(np.int64)


def edge_truth(ev, edge_index):
    """bool[E]: both ends from the same particle (particle_id != 0)."""
    pid = ev["particle_id"]
    a, b = pid[edge_index[0]], pid[edge_index[1]]
    return (a == b) & (a != 0)


def hit_pt(ev):
    """f32[N]: pT (GeV) of each hit's particle (0 for noise)."""
    ids, pt = particle_pt(ev)
    return lookup(ids, pt, ev["particle_id"], 0.0).astype(np.float32)
