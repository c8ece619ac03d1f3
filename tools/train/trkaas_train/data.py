"""Read trkaas HDF5 event files (with truth) through /index offsets and build features/truth."""
import math

import h5py
import numpy as np

# Feature list shared with the C++ features stage: value / scale, in this order.
FEATURES = [("r", 1000.0), ("phi", math.pi), ("z", 1000.0)]


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
            for k in ("hit_id", "x", "y", "z", "volume_id", "layer_id"):
                ev[k] = f["hits/" + k][a:b]
            ev["particle_id"] = f["truth/particle_id"][a:b]
            ev["weight"] = f["truth/weight"][a:b]
            for k in ("particle_id", "vx", "vy", "vz", "px", "py"):
                ev["p_" + k] = f["particles/" + k][pa:pb]
            events.append(ev)
    return events


HIT_KEYS = ("hit_id", "x", "y", "z", "volume_id", "layer_id", "particle_id", "weight")


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


def features(ev):
    """f32[N,3]: r/1000, phi/pi, z/1000 (mm, rad)."""
    x = ev["x"].astype(np.float64)
    y = ev["y"].astype(np.float64)
    z = ev["z"].astype(np.float64)
    r = np.sqrt(x * x + y * y)
    phi = np.arctan2(y, x)
    cols = {"r": r, "phi": phi, "z": z}
    return np.stack([cols[n] / s for n, s in FEATURES], 1).astype(np.float32)


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
