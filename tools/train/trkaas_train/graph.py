"""Fixed-radius neighbour search (cell list) and connected components, numpy only."""
import numpy as np
import torch

_EMPTY = np.zeros((2, 0), dtype=np.int64)


def _finish(a, b, n):
    i, j = np.minimum(a, b), np.maximum(a, b)
    code = np.unique(i.astype(np.int64) * n + j)
    return np.stack([code // n, code % n]).astype(np.int64)


def _radius_graph_dense(y, r, k, chunk=64):
    """Same result by chunked all-pairs distances: matrix-product distances, with a margin for
    their rounding, pick the candidates; exact difference-based distances then decide, as in the
    cell-list path. The chunk's distance table and mask are buffers reused for every chunk,
    small enough to stay in cache (64 rows: 25 MB at 100k hits). The earlier version (cdist on
    2048-row chunks, then top-k) took 38 s for a pile-up-200 event of the low-pT embedding
    (100k hits), a third of it the kernel mapping and zeroing a fresh table per chunk; this
    one takes 17 s (out of band, 2 threads)."""
    n = len(y)
    yt = torch.from_numpy(y)
    r2 = np.float32(r) * np.float32(r)
    src, dst = [], []
    chunk = max(1, min(chunk, n))
    with torch.no_grad():
        sq = (yt.double() ** 2).sum(1).float()
        # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b in float32 errs by far less than this margin
        thr = float(r2) + 1e-4 * 4.0 * float(sq.max()) + 1e-6
        one = torch.ones(n, 1)
        lhs = torch.cat([yt * -2.0, sq[:, None], one], 1)  # one product gives the whole sum
        ytt = torch.cat([yt, one, sq[:, None]], 1).t().contiguous()
        buf = torch.empty(chunk, n)
        mask = torch.empty(chunk, n, dtype=torch.bool)
        for q0 in range(0, n, chunk):
            q1 = min(n, q0 + chunk)
            d, m = buf[: q1 - q0], mask[: q1 - q0]
            torch.mm(lhs[q0:q1], ytt, out=d)
            torch.le(d, thr, out=m)
            ar = torch.arange(q1 - q0)
            m[ar, ar + q0] = False
            nz = torch.nonzero(m).numpy()
            qi, cj = nz[:, 0] + q0, nz[:, 1]
            diff = y[qi] - y[cj]
            d2 = np.einsum("ij,ij->i", diff, diff)
            keep = d2 < r2
            qi, cj, d2 = qi[keep], cj[keep], d2[keep]
            o = np.lexsort((cj, d2, qi))  # per query, nearest first (ties by index)
            qi, cj = qi[o], cj[o]
            rank = np.arange(len(qi)) - np.searchsorted(qi, qi, "left")
            src.append(qi[rank < k])
            dst.append(cj[rank < k])
    if not src:
        return _EMPTY.copy()
    return _finish(np.concatenate(src), np.concatenate(dst), n)


def cell_list(y, r, grid_dims=4):
    """The cell list of radius_graph: each point's cell key (cells of side r on the grid_dims
    leading principal axes of y, a rotation, so distances are unchanged), the key offsets of
    the 3^grid_dims neighbouring cells, and the share of all N^2 pairs that the cell list
    would test (the quantity radius_graph chooses its search by)."""
    n = y.shape[0]
    c = y.astype(np.float64) - y.mean(0, dtype=np.float64)
    nd = min(grid_dims, y.shape[1])
    if y.shape[1] > nd:
        w, v = np.linalg.eigh(c.T @ c)
        p = c @ v[:, ::-1][:, :nd]
    else:
        p = c
    cell = np.floor((p - p.min(0)) / r).astype(np.int64) + 1  # padding of one cell
    dims = cell.max(0) + 2
    mult = np.ones(nd, dtype=np.int64)
    for d in range(nd - 2, -1, -1):
        mult[d] = mult[d + 1] * dims[d + 1]
    key = cell @ mult
    offs = np.array(np.meshgrid(*[[-1, 0, 1]] * nd, indexing="ij")).reshape(nd, -1).T @ mult
    ucell, ucnt = np.unique(key, return_counts=True)
    nbk = ucell[:, None] + offs[None, :]
    pos = np.clip(np.searchsorted(ucell, nbk), 0, len(ucell) - 1)
    nbc = np.where(ucell[pos] == nbk, ucnt[pos], 0).sum(1)
    return key, offs, float((ucnt * nbc).sum()) / (float(n) * float(n))


def radius_graph(y, r, k, chunk=4096, dense_fraction=0.01, grid_dims=4):
    """Undirected radius graph on points y[N,D]: for each point, its neighbours closer than r
    (Euclidean, self excluded), of which only the k nearest are kept; the union over points is
    returned as i64[2,E] with i < j, no duplicates, sorted by (i, j).

    Cells of side r on the grid_dims leading principal axes of y (cell_list); the
    3^grid_dims neighbouring cells give candidates, whose full-D distance decides. When the
    candidates pass dense_fraction of N^2, the all-pairs search instead: per pair tested it
    costs ~2 ns, the cell list 80-390 ns per candidate (bench/train_radius_graph.py)."""
    y = np.ascontiguousarray(y, dtype=np.float32)
    n = y.shape[0]
    if n < 2 or k <= 0:
        return _EMPTY.copy()
    key, offs, share = cell_list(y, r, grid_dims)
    if share > dense_fraction:
        return _radius_graph_dense(y, r, k)
    order = np.argsort(key, kind="stable")
    skey = key[order]
    r2 = np.float32(r) * np.float32(r)
    src_all, dst_all = [], []
    for q0 in range(0, n, chunk):
        q = np.arange(q0, min(n, q0 + chunk))
        qk = key[q][:, None] + offs[None, :]
        st = np.searchsorted(skey, qk, "left").ravel()
        en = np.searchsorted(skey, qk, "right").ravel()
        cnt = en - st
        tot = int(cnt.sum())
        if tot == 0:
            continue
        qi = np.repeat(np.repeat(q, len(offs)), cnt)
        csum = np.cumsum(cnt) - cnt
        pos = np.arange(tot) - np.repeat(csum - st, cnt)
        cj = order[pos]
        keep = qi != cj
        qi, cj = qi[keep], cj[keep]
        diff = y[qi] - y[cj]
        d2 = np.einsum("ij,ij->i", diff, diff)
        keep = d2 < r2
        qi, cj, d2 = qi[keep], cj[keep], d2[keep]
        if len(qi) == 0:
            continue
        o = np.lexsort((cj, d2, qi))  # per query, nearest first (ties by index)
        qi, cj = qi[o], cj[o]
        first = np.searchsorted(qi, qi, "left")
        rank = np.arange(len(qi)) - first
        keep = rank < k
        src_all.append(qi[keep])
        dst_all.append(cj[keep])
    if not src_all:
        return _EMPTY.copy()
    return _finish(np.concatenate(src_all), np.concatenate(dst_all), n)


def radius_graph_brute(y, r, k):
    """Reference implementation (O(N^2)), same definition as radius_graph."""
    y = np.asarray(y, dtype=np.float32)
    n = len(y)
    edges = set()
    for i in range(n):
        diff = y - y[i]
        d2 = np.einsum("ij,ij->i", diff, diff)
        cand = [j for j in range(n) if j != i and d2[j] < np.float32(r) * np.float32(r)]
        cand.sort(key=lambda j: (d2[j], j))
        for j in cand[:k]:
            edges.add((min(i, j), max(i, j)))
    if not edges:
        return _EMPTY.copy()
    e = np.array(sorted(edges), dtype=np.int64).T
    return e


def connected_components(n, edge_index, min_size=1):
    """Label per node: components of the edge list, labelled 0..T-1 in order of their smallest
    node; nodes of components smaller than min_size get -1."""
    parent = np.arange(n, dtype=np.int64)
    if edge_index.shape[1] > 0:
        a, b = edge_index[0].astype(np.int64), edge_index[1].astype(np.int64)
        while True:
            pa, pb = parent[a], parent[b]
            lo, hi = np.minimum(pa, pb), np.maximum(pa, pb)
            diff = lo != hi
            if not diff.any():
                break
            np.minimum.at(parent, hi[diff], lo[diff])
            while True:  # pointer jumping to the roots
                nxt = parent[parent]
                if np.array_equal(nxt, parent):
                    break
                parent = nxt
    roots, inv, cnt = np.unique(parent, return_inverse=True, return_counts=True)
    big = cnt >= min_size
    newid = np.full(len(roots), -1, dtype=np.int64)
    newid[big] = np.arange(int(big.sum()))
    return newid[inv]


def orient_outwards(xyz, edge_index):
    """Edges from the hit nearer the origin to the farther one (ties: from the lower index),
    as the C++ pipeline orients them (TorchGraphOps orientOutwardsTensor)."""
    p = np.asarray(xyz, np.float64)
    d2 = p[:, 0] * p[:, 0] + p[:, 1] * p[:, 1] + p[:, 2] * p[:, 2]
    a, b = np.asarray(edge_index[0], np.int64), np.asarray(edge_index[1], np.int64)
    swap = (d2[b] < d2[a]) | ((d2[b] == d2[a]) & (b < a))
    return np.stack([np.where(swap, b, a), np.where(swap, a, b)])


def edge_rz_angles(xyz, src, dst):
    """Each edge's direction in the r-z plane, atan2(r_dst - r_src, z_dst - z_src), r the
    distance from the beam line, in float64 (the C++ TrackBuilder's, same operations)."""
    p = np.asarray(xyz, np.float64)
    r = np.sqrt(p[:, 0] * p[:, 0] + p[:, 1] * p[:, 1])
    return np.arctan2(r[dst] - r[src], p[dst, 2] - p[src, 2])


def turn(a, b):
    """The angle between two r-z directions, in [0, pi]."""
    d = abs(a - b)
    return min(d, 2.0 * np.pi - d)


def walk_tracks(n, edge_index, scores, min_size=3, xyz=None, max_turn=None):
    """Tracks by walk (the C++ TrackBuilder::Method::Walk, same rules and ties): components
    whose hits all have at most one incoming and one outgoing edge are tracks; the others give
    their longest paths (most hits, then the highest sum of scores, then the lowest start
    hit) while they have >= min_size hits, then each hit left over that shares an edge with a
    track's hit joins it (first such edge in edge order, one pass). With max_turn (radians;
    xyz the hits' positions) a path continues from an edge only into a hit whose own path
    turns by at most max_turn in the r-z plane (_straight_paths). edge_index must be oriented
    (orient_outwards); scores are summed in float64. Labels 0..T-1 in order of the lowest hit."""
    src, dst = np.asarray(edge_index[0], np.int64), np.asarray(edge_index[1], np.int64)
    w = np.asarray(scores, np.float32).astype(np.float64)
    loop = src == dst
    comp = connected_components(n, np.stack([src, dst]), 1)
    indeg = np.bincount(dst[~loop], minlength=n)
    outdeg = np.bincount(src[~loop], minlength=n)
    ncomp = int(comp.max()) + 1 if n else 0
    branched = np.zeros(ncomp, bool)
    branched[comp[(indeg > 1) | (outdeg > 1)]] = True
    size = np.bincount(comp, minlength=ncomp)
    labels = np.where(~branched[comp] & (size[comp] >= min_size), comp, -1).astype(np.int64)
    walked = ~loop & branched[comp[src]]
    es, ed, ew = src[walked].tolist(), dst[walked].tolist(), w[walked].tolist()
    outs = {}  # walked edges per source hit, in edge order
    for k, a in enumerate(es):
        outs.setdefault(a, []).append(k)
    members = {}
    for h in np.nonzero(branched[comp])[0].tolist():
        members.setdefault(int(comp[h]), []).append(h)
    nxt = n
    if max_turn is not None:
        if xyz is None:
            raise ValueError("walk: a turn limit needs the hits' positions")
        nxt = _straight_paths(members, outs, ed, edge_rz_angles(xyz, np.asarray(es, np.int64),
                                                               np.asarray(ed, np.int64)),
                              ew, labels, min_size, float(max_turn), nxt)
        members = {}
    for nodes in members.values():
        topo = _topological(nodes, outs, ed)
        length, total, onward = {}, {}, {}
        while True:
            best = -1
            for h in reversed(topo):
                if labels[h] >= 0:
                    continue
                ln, sm, to = 1, 0.0, -1
                for k in outs.get(h, ()):
                    t, s = ed[k], ew[k]
                    if labels[t] >= 0:
                        continue
                    l, v = length[t] + 1, total[t] + s
                    if l > ln or (l == ln and v > sm):
                        ln, sm, to = l, v, t
                length[h], total[h], onward[h] = ln, sm, to
                if best < 0 or (ln, sm, -h) > (length[best], total[best], -best):
                    best = h
            if best < 0 or length[best] < min_size:
                break
            h = best
            while h >= 0:
                labels[h] = nxt
                h = onward[h]
            nxt += 1
    before = labels.copy()
    for a, b in zip(es, ed):
        if before[a] >= 0 and labels[b] < 0:
            labels[b] = before[a]
        elif before[b] >= 0 and labels[a] < 0:
            labels[a] = before[b]
    out = np.full(n, -1, np.int64)
    has = labels >= 0
    if has.any():
        _, first, inv = np.unique(labels[has], return_index=True, return_inverse=True)
        rank = np.empty(len(first), np.int64)
        rank[np.argsort(first, kind="stable")] = np.arange(len(first))
        out[has] = rank[inv.reshape(-1)]
    return out


def _straight_paths(members, outs, ed, angle, ew, labels, min_size, max_turn, nxt):
    """The walk's paths with a turn limit (the C++ TrackBuilder with Config::maxTurn): per
    component, repeatedly: each hit not taken gets its longest path onwards (most hits, then
    the highest sum of scores; the first such successor in edge order), where a successor
    counts only if its own path starts with an edge turning by at most max_turn from the edge
    into it (or has no edge); the best path of the component (most hits, highest sum, lowest
    start hit) is taken while it has >= min_size hits. Recomputed after each path: no
    incremental shortcut, since taking hits can lengthen a predecessor's eligible paths."""
    for nodes in members.values():
        order = _topological(nodes, outs, ed)
        taken = set()
        while True:
            length, total, onward = {}, {}, {}
            best = -1
            for h in reversed(order):
                if h in taken:
                    continue
                ln, sm, to = 1, 0.0, -1
                for k in outs.get(h, ()):
                    t = ed[k]
                    if t in taken:
                        continue
                    f = onward[t]
                    if f >= 0 and turn(angle[k], angle[f]) > max_turn:
                        continue
                    l, v = length[t] + 1, total[t] + ew[k]
                    if l > ln or (l == ln and v > sm):
                        ln, sm, to = l, v, k
                length[h], total[h], onward[h] = ln, sm, to
                if best < 0 or (ln, sm, -h) > (length[best], total[best], -best):
                    best = h
            if best < 0 or length[best] < min_size:
                break
            h = best
            while True:
                labels[h] = nxt
                taken.add(h)
                if onward[h] < 0:
                    break
                h = ed[onward[h]]
            nxt += 1
    return nxt


def _topological(nodes, outs, ed):
    pending = {h: 0 for h in nodes}
    for h in nodes:
        for k in outs.get(h, ()):
            pending[ed[k]] += 1
    stack, topo = [h for h in nodes if pending[h] == 0], []
    while stack:
        h = stack.pop()
        topo.append(h)
        for k in outs.get(h, ()):
            t = ed[k]
            pending[t] -= 1
            if pending[t] == 0:
                stack.append(t)
    if len(topo) != len(nodes):
        raise ValueError(f"walk: a cycle of edges in the component of hit {nodes[0]} "
                         "(edges must be oriented outwards)")
    return topo


def extend_tracks(labels, xyz, edge_index, scores):
    """Tracks grown at both ends (the C++ TrackBuilder::extend, same rules and ties): for each
    track in label order, from its outermost hit (the largest distance from the origin, ties:
    the higher index) repeatedly the best-scoring edge leaving it towards a hit without a track
    (first in edge order among equals) adds that hit and moves on; then the same inwards from
    its innermost hit along the edges entering it. edge_index must be oriented
    (orient_outwards) and holds only the edges allowed to extend (e.g. those above a lower GNN
    cut than the one that made the tracks). Returns new labels; the track numbers stay."""
    labels = np.array(labels, np.int64, copy=True)
    src, dst = np.asarray(edge_index[0], np.int64), np.asarray(edge_index[1], np.int64)
    w = np.asarray(scores, np.float32)
    if labels.size == 0 or labels.max() < 0 or src.size == 0:
        return labels
    p = np.asarray(xyz, np.float64)
    d2 = p[:, 0] * p[:, 0] + p[:, 1] * p[:, 1] + p[:, 2] * p[:, 2]
    outs, ins = {}, {}
    for e, (a, b) in enumerate(zip(src.tolist(), dst.tolist())):
        if a != b:
            outs.setdefault(a, []).append(e)
            ins.setdefault(b, []).append(e)
    hits = np.nonzero(labels >= 0)[0]
    # Per track its innermost and outermost hit: order hits by (track, d2, index).
    order = hits[np.lexsort((hits, d2[hits], labels[hits]))]
    tracks = labels[order]
    first = np.searchsorted(tracks, np.arange(tracks[-1] + 1))
    last = np.searchsorted(tracks, np.arange(tracks[-1] + 1), side="right") - 1
    for t in range(len(first)):
        if first[t] > last[t]:
            continue
        for h, edges, far in ((int(order[last[t]]), outs, dst), (int(order[first[t]]), ins, src)):
            while True:
                best = -1
                for e in edges.get(h, ()):
                    if labels[far[e]] < 0 and (best < 0 or w[e] > w[best]):
                        best = e
                if best < 0:
                    break
                h = int(far[best])
                labels[h] = t
    return labels


# Helix stitching (the C++ TrackBuilder::stitch, same rules and constants).
STITCH_MIN_PIECE = 3  # pieces: walks of at least this many hits among the hits without a track
STITCH_KEY_RADIUS = 0.05  # candidate pairs: key distance (direction at the origin, cot theta)
STITCH_COT_WEIGHT = 0.2  # cot theta's weight in the key
STITCH_OVERLAP = 1.0  # mm: the outer piece starts no nearer the origin than this before the inner one ends


def helix_fit(p):
    """A helix from the origin through the hits p (rows x, y, z in mm, float64): the circle
    through the origin nearest in x^2 + y^2 = 2ax + 2by (least squares), then z = z0 + t s with
    s the arc length from the origin. Returns (largest distance of a hit from the circle,
    largest |z - z0 - t s|, key) with key = (the unit direction at the origin towards the hits,
    STITCH_COT_WEIGHT * t), or None when the hits fix no circle or no line."""
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    q = x * x + y * y
    sxx, sxy, syy = float((x * x).sum()), float((x * y).sum()), float((y * y).sum())
    sxq, syq = float((x * q).sum()), float((y * q).sum())
    det = sxx * syy - sxy * sxy
    if not det > 0.0:
        return None
    a = (sxq * syy - syq * sxy) / (2.0 * det)
    b = (syq * sxx - sxq * sxy) / (2.0 * det)
    rad = float(np.hypot(a, b))
    if not (np.isfinite(rad) and rad > 0.0):
        return None
    res_xy = float(np.abs(np.hypot(x - a, y - b) - rad).max())
    s = 2.0 * rad * np.arcsin(np.minimum(np.sqrt(q) / (2.0 * rad), 1.0))
    n, ss, sss, sz, ssz = float(len(s)), float(s.sum()), float((s * s).sum()), float(z.sum()), float((s * z).sum())
    den = n * sss - ss * ss
    if not den > 0.0:
        return None
    t = (n * ssz - ss * sz) / den
    z0 = (sz - t * ss) / n
    res_z = float(np.abs(z - z0 - t * s).max())
    far = int(np.argmax(q))  # the direction at the origin points towards the hits
    tx, ty = -b / rad, a / rad
    if tx * x[far] + ty * y[far] < 0.0:
        tx, ty = -tx, -ty
    return res_xy, res_z, (tx, ty, STITCH_COT_WEIGHT * t)


def stitch_tracks(labels, pieces, xyz, max_xy, max_z, min_size):
    """Tracks and pieces joined where they continue one helix from the origin (the C++
    TrackBuilder::stitch): labels are the tracks (-1: none), pieces the walk's pieces of the
    hits without a track (-1 elsewhere). Every track and piece of at least STITCH_MIN_PIECE
    hits gets a helix (helix_fit on its hits in index order); a pair (inner i, outer j) is a
    candidate when their keys lie within STITCH_KEY_RADIUS, j's hit nearest the origin is no
    nearer than i's farthest minus STITCH_OVERLAP (distances from the origin), and the helix of
    i's hits then j's stays within max_xy (mm, from the circle) and max_z (mm, in z). In order
    of cost (res_xy / max_xy + res_z / max_z, then i, then j; i, j numbered tracks first, each
    in label order) a candidate joins the groups of i and j when all their hits (in index
    order) still fit one helix within the limits. A group keeps its hits if it holds a track or at least two
    pieces, and at least min_size hits. Returns new labels numbered 0, 1, ... in the order of
    their lowest hit."""
    labels = np.asarray(labels, np.int64)
    pieces = np.asarray(pieces, np.int64)
    p = np.asarray(xyz, np.float64)
    n = len(labels)
    d = np.sqrt((p * p).sum(1))
    off = int(labels.max()) + 1 if n and labels.max() >= 0 else 0
    comb = np.where(labels >= 0, labels, np.where(pieces >= 0, pieces + off, -1))
    groups = {}
    for h in np.nonzero(comb >= 0)[0].tolist():
        groups.setdefault(int(comb[h]), []).append(h)
    ids = sorted(groups)
    is_track = [g < off for g in ids]
    fits = [helix_fit(p[groups[g]]) if len(groups[g]) >= STITCH_MIN_PIECE else None for g in ids]
    use = [k for k, f in enumerate(fits) if f is not None]
    cands = []
    if len(use) > 1:
        from scipy.spatial import cKDTree  # the training venv's scipy
        keys = np.array([fits[k][2] for k in use])
        near = [min(d[groups[ids[k]]]) for k in use]
        far = [max(d[groups[ids[k]]]) for k in use]
        for u, v in cKDTree(keys).query_pairs(STITCH_KEY_RADIUS):
            for a, b in ((u, v), (v, u)):
                if near[b] < far[a] - STITCH_OVERLAP:
                    continue
                i, j = use[a], use[b]
                f = helix_fit(p[groups[ids[i]] + groups[ids[j]]])
                if f is not None and f[0] < max_xy and f[1] < max_z:
                    cands.append((f[0] / max_xy + f[1] / max_z, i, j))
    cands.sort()
    parent = list(range(len(ids)))

    def root(k):
        while parent[k] != k:
            k = parent[k]
        return k

    joined = {k: list(groups[ids[k]]) for k in range(len(ids))}
    for _, i, j in cands:
        ri, rj = root(i), root(j)
        if ri == rj:
            continue
        hits = sorted(joined[ri] + joined[rj])
        f = helix_fit(p[hits])
        if f is None or not (f[0] < max_xy and f[1] < max_z):
            continue
        parent[max(ri, rj)] = min(ri, rj)
        joined[min(ri, rj)] = hits
    members = {}
    for k in range(len(ids)):
        members.setdefault(root(k), []).append(k)
    out = np.full(n, -1, np.int64)
    kept = [joined[r] for r, ks in members.items()  # joined[r]: all the hits of r's group
            if (any(is_track[k] for k in ks) or len(ks) >= 2) and len(joined[r]) >= min_size]
    for t, hits in enumerate(sorted(kept, key=min)):
        out[hits] = t
    return out
