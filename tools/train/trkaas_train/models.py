"""TorchScript-friendly models. Inputs are the scaled features x = [r/1000, phi/pi, z/1000,
extra...]: the models derive their geometry from the first three columns and feed any further
columns (already scaled, e.g. the cluster-shape features of train.py --features) to their node
encoders as they are. A model is built for a number of extra columns (n_extra, 0 for the
pixel models' three features, whose weights and outputs are unchanged by this option).

Contract (shared with the C++ pipeline):
  Embedding.forward(x f32[N,F]) -> f32[N,D]
  EdgeFilter/InteractionGNN.forward(x f32[N,F], edge_index i64[2,E]) -> logits f32[E]
Edges are undirected: both edge models orient every edge from the smaller to the larger r
internally, so the result does not depend on the order of the two indices."""
import copy
import math
from typing import List, Optional, Tuple

import torch
from torch import nn

PHI_SCALE = math.pi  # x[:,1] * PHI_SCALE = phi in rad


def mlp(sizes: List[int], norm: bool = True, last_act: bool = False) -> nn.Sequential:
    layers: List[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or last_act:
            if norm:
                layers.append(nn.LayerNorm(sizes[i + 1]))
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def node_features(x: torch.Tensor, phi_scale: float) -> torch.Tensor:
    """[10 r, cos phi, sin phi, 3 z, atan2(z, r), x[:, 3:]...] (r, z in m): continuous across the
    phi wrap, each of order 1 in the pixel detector; then the extra feature columns, if any."""
    r = x[:, 0]
    phi = x[:, 1] * phi_scale
    z = x[:, 2]
    f = torch.stack([r * 10.0, torch.cos(phi), torch.sin(phi), z * 3.0, torch.atan2(z, r)], 1)
    if x.shape[1] > 3:
        f = torch.cat([f, x[:, 3:]], 1)
    return f


def orient(x: torch.Tensor, edge_index: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """(src, dst) with r[src] <= r[dst] (ties: smaller index first)."""
    a = edge_index[0]
    b = edge_index[1]
    ra = x[a, 0]
    rb = x[b, 0]
    swap = (ra > rb) | ((ra == rb) & (a > b))
    return torch.where(swap, b, a), torch.where(swap, a, b)


def edge_geometry(xi: torch.Tensor, xj: torch.Tensor,
                  phi_scale: float) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dr, dphi wrapped to [-pi, pi], dz, curvature) of edges from hits xi to hits xj (rows of
    x): the curvature of the circle through the beam line and both hits in units of a 1 GeV
    track's (0.3 * B / pT = 0.6 / m in the generator's 2 T field: about 1 at pT = 1 GeV, 2 at
    0.5 GeV), unclamped. Shared by pair_features and triplet_features."""
    ri = xi[:, 0]
    rj = xj[:, 0]
    dr = rj - ri
    dp = (xj[:, 1] - xi[:, 1]) * phi_scale
    dp = torch.atan2(torch.sin(dp), torch.cos(dp))
    dz = xj[:, 2] - xi[:, 2]
    s = torch.sin(dp * 0.5)
    chord = torch.sqrt(dr * dr + 4.0 * ri * rj * s * s) + 1e-6
    return dr, dp, dz, 2.0 * torch.sin(dp) / chord / 0.6


def pair_features(x: torch.Tensor, src: torch.Tensor, dst: torch.Tensor, phi_scale: float) -> torch.Tensor:
    """dr, dphi (wrapped), dz, z0 (z at r=0 on the line), dphi/dr, deta-like d(atan2(z,r)),
    and the curvature (edge_geometry, clamped to +-5): the edge's own pT estimate, scaled so
    that the target particles' threshold is resolved (dphi/dr alone is ~0.03 there)."""
    xi = x[src]
    xj = x[dst]
    dr, dp, dz, kappa = edge_geometry(xi, xj, phi_scale)
    den = dr + 0.005
    z0 = torch.clamp(xi[:, 2] - xi[:, 0] * dz / den, -1.0, 1.0)
    slope = torch.clamp(dp / den, -20.0, 20.0) / 10.0
    dth = torch.atan2(xj[:, 2], xj[:, 0]) - torch.atan2(xi[:, 2], xi[:, 0])
    kappa = torch.clamp(kappa, -5.0, 5.0)
    return torch.stack([dr * 10.0, dp * 10.0, dz * 10.0, z0 * 10.0, slope, dth * 10.0, kappa], 1)


N_NODE = 5
N_PAIR = 7
N_TRIPLET = 4


def _best_continuation(th: torch.Tensor, kap: torch.Tensor, start: torch.Tensor, end: torch.Tensor,
                       n: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """For each edge i, over the edges j with start[j] == end[i] (successors; predecessors with
    start and end swapped): min of a = 100 |wrapped th[i] - th[j]| and of
    b = a + 0.5 min(|kap[i] - kap[j]|, 4), both clamped to [0, 5]; 5 where there is no such j.
    The j of each i come from a CSR over start; the minima are a scatter with reduction
    (amin) over the (i, j) pairs: no dense [E, C] table (C the largest count, 28 on a
    pile-up-200 filtered graph) and no branch on the data, so torch.export can compile it
    (.pt2). The minimum of a set does not depend on the order: deterministic. (libtorch 1.13
    warns once that scatter_reduce is a beta API there.)"""
    e = start.shape[0]
    order = torch.argsort(start)
    deg = torch.bincount(start, minlength=n)
    ptr = torch.cumsum(deg, 0) - deg
    cnt = deg[end]
    i = torch.repeat_interleave(torch.arange(e, device=th.device), cnt)
    pos = torch.arange(i.shape[0], device=th.device) - (torch.cumsum(cnt, 0) - cnt)[i]
    j = order[ptr[end[i]] + pos]
    d = th[i] - th[j]
    a = torch.abs(torch.atan2(torch.sin(d), torch.cos(d))) * 100.0
    b = a + 0.5 * torch.clamp(torch.abs(kap[i] - kap[j]), max=4.0)
    five = torch.full([e], 5.0, dtype=th.dtype, device=th.device)
    return (five.scatter_reduce(0, i, a, reduce="amin", include_self=True),
            five.scatter_reduce(0, i, b, reduce="amin", include_self=True))


def triplet_features(x: torch.Tensor, src: torch.Tensor, dst: torch.Tensor, n: int, phi_scale: float) -> torch.Tensor:
    """f32[E,4]: how well each edge (src -> dst, oriented to increasing r) continues a track,
    from the triplets it forms with the edges leaving its dst (successors) and entering its
    src (predecessors). For a triplet, a = 100 |difference of the two edges' angles in the r-z
    plane| (a straight line in r-z for any vertex z: about 1.5 mrad for true barrel triplets,
    7 mrad in the end-caps, against radians for random ones) and b = a + 0.5 min(|difference of
    the two edges' curvatures|, 4). Features: min a over successors, min a over predecessors,
    min b over successors, min b over predecessors, each clamped to [0, 5] (5: none).
    A pair of hits cannot tell a track's z at the beam line within the 55 mm beam spot; a
    triplet can, so this is what separates barrel tracks at pile-up 200."""
    e = src.shape[0]
    if e == 0:
        return torch.zeros(0, 4, dtype=x.dtype, device=x.device)
    dr, _, dz, kap = edge_geometry(x[src], x[dst], phi_scale)
    th = torch.atan2(dz, dr)
    a_out, b_out = _best_continuation(th, kap, src, dst, n)  # edges leaving dst[i]
    a_in, b_in = _best_continuation(th, kap, dst, src, n)  # edges entering src[i]
    return torch.clamp(torch.stack([a_out, a_in, b_out, b_in], 1), 0.0, 5.0)


class Embedding(nn.Module):
    def __init__(self, hidden: int = 256, layers: int = 3, dim: int = 8, n_extra: int = 0):
        super().__init__()
        self.phi_scale = PHI_SCALE
        self.net = mlp([N_NODE + n_extra] + [hidden] * layers + [dim])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = node_features(x.float(), self.phi_scale)
        return self.net(f.to(self.net[0].weight.dtype))


class EdgeFilter(nn.Module):
    def __init__(self, hidden: int = 128, layers: int = 3, n_extra: int = 0):
        super().__init__()
        self.phi_scale = PHI_SCALE
        self.net = mlp([2 * (N_NODE + n_extra) + N_PAIR] + [hidden] * layers + [1])

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        src, dst = orient(xf, edge_index)
        f = node_features(xf, self.phi_scale)
        h = torch.cat([f[src], f[dst], pair_features(xf, src, dst, self.phi_scale)], 1)
        h = h.to(self.net[0].weight.dtype)
        return self.net(h).reshape(-1)


def _edge_features(xf: torch.Tensor, src: torch.Tensor, dst: torch.Tensor, n: int, phi_scale: float,
                   triplets: bool) -> torch.Tensor:
    """The GNN edge encoder's geometric input: pair features, and triplet features if asked."""
    pf = pair_features(xf, src, dst, phi_scale)
    if triplets:
        pf = torch.cat([pf, triplet_features(xf, src, dst, n, phi_scale)], 1)
    return pf


def _degrees(src: torch.Tensor, dst: torch.Tensor, n: int, e: torch.Tensor,
             mean: bool) -> Tuple[torch.Tensor, torch.Tensor]:
    """(in-degree, out-degree) per node, at least 1, for mean aggregation; ones otherwise."""
    one = torch.ones(1, 1, dtype=e.dtype, device=e.device)
    if not mean:
        return one, one
    ones = torch.ones(src.shape[0], 1, dtype=e.dtype, device=e.device)
    deg_in = torch.zeros(n, 1, dtype=e.dtype, device=e.device).index_add_(0, dst, ones).clamp(min=1.0)
    deg_out = torch.zeros(n, 1, dtype=e.dtype, device=e.device).index_add_(0, src, ones).clamp(min=1.0)
    return deg_in, deg_out


def _aggregate(msg: torch.Tensor, src: torch.Tensor, dst: torch.Tensor, n: int, deg_in: torch.Tensor,
               deg_out: torch.Tensor, mean: bool) -> Tuple[torch.Tensor, torch.Tensor]:
    """Each node's summed (mean: averaged) incoming and outgoing edge messages."""
    m_in = torch.zeros(n, msg.shape[1], dtype=msg.dtype, device=msg.device).index_add_(0, dst, msg)
    m_out = torch.zeros(n, msg.shape[1], dtype=msg.dtype, device=msg.device).index_add_(0, src, msg)
    if mean:
        m_in = m_in / deg_in
        m_out = m_out / deg_out
    return m_in, m_out


class InteractionGNN(nn.Module):
    """Interaction network: node/edge encoders, n_iter rounds of (edge update from both ends
    and the edge, node update from summed incoming and outgoing edge messages), residual
    connections, edge classifier on the final node and edge states.

    aggr: how a node combines its edges' messages. sum; mean (divided by its degree); gated
    (each message weighted by a learned edge gate sigmoid(w . e) in [0, 1], recomputed every
    round, so that a node listens to its plausible edges rather than to all of its crowd, as
    in the HEP.TrkX segment classifier).
    triplets: the edge encoder also gets triplet_features (how well the edge continues into
    its neighbours in r-z and curvature)."""

    def __init__(self, hidden: int = 64, n_iter: int = 6, aggr: str = "sum", triplets: bool = False,
                 n_extra: int = 0):
        super().__init__()
        self.phi_scale = PHI_SCALE
        self.n_iter = n_iter
        if aggr not in ("sum", "mean", "gated"):
            raise ValueError(f"aggr must be sum, mean or gated, got {aggr}")
        # mean: messages divided by the node's in/out degree, so that a node's state does not
        # scale with how crowded its neighbourhood is (pile-up 20 vs 200).
        self.mean_aggr = aggr == "mean"
        self.gated = aggr == "gated"
        self.triplets = triplets
        h = hidden
        # Identity when not gated: no parameters, so earlier models' state dicts still load.
        self.gate = nn.Linear(h, 1) if self.gated else nn.Identity()
        self.node_enc = mlp([N_NODE + n_extra, h, h], last_act=True)
        self.edge_enc = mlp([2 * h + N_PAIR + (N_TRIPLET if triplets else 0), h, h], last_act=True)
        self.edge_net = mlp([3 * h, h, h], last_act=True)
        self.node_net = mlp([3 * h, h, h], last_act=True)
        self.out = mlp([3 * h, h, 1])

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        src, dst = orient(xf, edge_index)
        dt = self.node_enc[0].weight.dtype
        h = self.node_enc(node_features(xf, self.phi_scale).to(dt))
        n = h.shape[0]
        pf = _edge_features(xf, src, dst, n, self.phi_scale, self.triplets)
        e = self.edge_enc(torch.cat([h[src], h[dst], pf.to(dt)], 1))
        deg_in, deg_out = _degrees(src, dst, n, e, self.mean_aggr)
        for _ in range(self.n_iter):
            e = e + self.edge_net(torch.cat([h[src], h[dst], e], 1))
            msg = e
            if self.gated:
                msg = e * torch.sigmoid(self.gate(e))
            m_in, m_out = _aggregate(msg, src, dst, n, deg_in, deg_out, self.mean_aggr)
            h = h + self.node_net(torch.cat([h, m_in, m_out], 1))
        return self.out(torch.cat([h[src], h[dst], e], 1)).reshape(-1)


def _linear(weight: torch.Tensor, bias: Optional[torch.Tensor]) -> nn.Linear:
    lin = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    lin.weight = nn.Parameter(weight.detach().clone())
    if bias is not None:
        lin.bias = nn.Parameter(bias.detach().clone())
    return lin


def _split_first(seq: nn.Sequential, h: int) -> Tuple[nn.Linear, nn.Linear, nn.Linear, nn.Sequential]:
    """An MLP whose first Linear takes cat([a[src], b[dst], rest]) (a, b of width h) as
    (A, B, R, tail): Linear(cat) = A(a)[src] + B(b)[dst] + R(rest), the bias in R, then tail."""
    first = seq[0]
    w = first.weight
    rest = w.shape[1] - 2 * h
    a, b, r = torch.split(w, [h, h, rest], 1)
    return _linear(a, None), _linear(b, None), _linear(r, first.bias), nn.Sequential(*list(seq)[1:])


def _projected_sum(wa: torch.Tensor, wb: torch.Tensor, wr: torch.Tensor, bias: Optional[torch.Tensor],
                   h: torch.Tensor, ends: torch.Tensor, rest: torch.Tensor) -> torch.Tensor:
    """h[src] @ wa^T + h[dst] @ wb^T + rest @ wr^T + bias, ends = [src, dst + N] per edge
    ([E, 2]): the two node projections stacked, gathered and summed per edge in one
    embedding_bag (one [E, h] output instead of two gathers and two sums), rest's product
    added in place, the bias folded into the projection wa (exact: each edge takes one row of
    it)."""
    p = torch.cat([nn.functional.linear(h, wa, bias), nn.functional.linear(h, wb)], 0)
    z = nn.functional.embedding_bag(ends, p, mode="sum")
    return z.addmm_(rest, wr.t())


class InteractionGNNInference(nn.Module):
    """InteractionGNN shaped for inference, same contract and (to float rounding) outputs:
    each edge MLP whose first layer reads cat([h[src], h[dst], edge]) computes that layer as
    node projections gathered per edge, h @ A gathered at src plus h @ B gathered at dst plus
    edge @ R, instead of materialising the [E, 3h] concatenation and multiplying it: per
    edge and iteration h*h multiply-adds instead of 3h*h, and no [E, 3h] copy. Made from a
    trained InteractionGNN by inference_shaped(); training_state() turns its state back."""

    def __init__(self, g: InteractionGNN):
        super().__init__()
        # Inference only: the residual sum and the ReLUs (each after a fresh LayerNorm output)
        # work in place, on a copy so that the trained model keeps its own modules.
        g = copy.deepcopy(g)
        for m in g.modules():
            if isinstance(m, nn.ReLU):
                m.inplace = True
        self.phi_scale = g.phi_scale
        self.n_iter = g.n_iter
        self.mean_aggr = g.mean_aggr
        self.gated = g.gated
        self.triplets = g.triplets
        h = g.node_enc[0].weight.shape[0]
        self.gate = g.gate
        self.node_enc = g.node_enc
        self.node_net = g.node_net
        self.enc_src, self.enc_dst, self.enc_rest, self.enc_tail = _split_first(g.edge_enc, h)
        self.edge_src, self.edge_dst, self.edge_rest, self.edge_tail = _split_first(g.edge_net, h)
        self.out_src, self.out_dst, self.out_rest, self.out_tail = _split_first(g.out, h)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        src, dst = orient(xf, edge_index)
        dt = self.node_enc[0].weight.dtype
        h = self.node_enc(node_features(xf, self.phi_scale).to(dt))
        n = h.shape[0]
        pf = _edge_features(xf, src, dst, n, self.phi_scale, self.triplets)
        ends = torch.stack([src, dst + n], 1)
        e = self.enc_tail(_projected_sum(self.enc_src.weight, self.enc_dst.weight, self.enc_rest.weight,
                              self.enc_rest.bias, h, ends, pf.to(dt)))
        deg_in, deg_out = _degrees(src, dst, n, e, self.mean_aggr)
        for _ in range(self.n_iter):
            e = e.add_(self.edge_tail(_projected_sum(self.edge_src.weight, self.edge_dst.weight,
                                                     self.edge_rest.weight, self.edge_rest.bias, h, ends, e)))
            msg = e
            if self.gated:
                msg = e * torch.sigmoid(self.gate(e))
            m_in, m_out = _aggregate(msg, src, dst, n, deg_in, deg_out, self.mean_aggr)
            h = h + self.node_net(torch.cat([h, m_in, m_out], 1))
        return self.out_tail(_projected_sum(self.out_src.weight, self.out_dst.weight, self.out_rest.weight,
                              self.out_rest.bias, h, ends, e)).reshape(-1)


def inference_shaped(m: nn.Module) -> nn.Module:
    """The model to export: InteractionGNNInference for an InteractionGNN, else the model."""
    return InteractionGNNInference(m) if isinstance(m, InteractionGNN) else m


def training_state(state: dict) -> dict:
    """A state dict of InteractionGNN from one of InteractionGNN or InteractionGNNInference
    (so that --gnn-init continues from either export)."""
    if "enc_src.weight" not in state:
        return dict(state)
    out = {}
    for new, old in (("enc", "edge_enc"), ("edge", "edge_net"), ("out", "out")):
        out[f"{old}.0.weight"] = torch.cat(
            [state[f"{new}_src.weight"], state[f"{new}_dst.weight"], state[f"{new}_rest.weight"]], 1)
        out[f"{old}.0.bias"] = state[f"{new}_rest.bias"]
    for key, value in state.items():
        head = key.split(".")[0]
        if head.endswith("_tail"):
            old = {"enc_tail": "edge_enc", "edge_tail": "edge_net", "out_tail": "out"}[head]
            parts = key.split(".")
            out[".".join([old, str(int(parts[1]) + 1)] + parts[2:])] = value
        elif not any(head == f"{p}_{s}" for p in ("enc", "edge", "out") for s in ("src", "dst", "rest")):
            out[key] = value
    return out


def n_extra_features(a: dict) -> int:
    """Extra feature columns after r, phi, z of train.py's arguments (--features; earlier
    runs' train_summary.json has none: 0)."""
    features = a.get("features") or "r,phi,z"
    return len([f for f in features.split(",") if f]) - 3


def build(name: str, a: dict) -> nn.Module:
    """A fresh model of stage `name` (embedding, filter, gnn) with the sizes of train.py's
    arguments `a` (a dict: vars(args), or train_summary.json's "args")."""
    extra = n_extra_features(a)
    if name == "embedding":
        return Embedding(hidden=a["embed_hidden"], layers=a["embed_layers"], dim=a["embed_dim"], n_extra=extra)
    if name == "filter":
        return EdgeFilter(hidden=a["filter_hidden"], layers=a["filter_layers"], n_extra=extra)
    if name == "gnn":
        return InteractionGNN(hidden=a["gnn_hidden"], n_iter=a["gnn_iter"], aggr=a.get("gnn_aggr", "sum"),
                              triplets=bool(a.get("gnn_triplets", False)), n_extra=extra)
    raise ValueError(f"unknown stage {name}")


# The first layer that reads node features, per stage, and the widths of the blocks of its
# input (node-feature blocks hold N_NODE + n_extra columns, the extras at their end).
_NODE_INPUT = {"embedding": ("net.0.weight", ("node",)),
               "filter": ("net.0.weight", ("node", "node", N_PAIR)),
               "gnn": ("node_enc.0.weight", ("node",))}


def widen_state(name: str, state: dict, n_extra: int) -> dict:
    """The state dict of a stage trained on r, phi, z only (or on fewer extras), widened for
    n_extra extra feature columns: the first layer gets zero weights for the new columns, so
    the widened model gives the old one's outputs until trained (a warm start for models with
    more features). Other tensors are unchanged; a state of the right width is returned as is."""
    key, blocks = _NODE_INPUT[name]
    w = state[key]
    n_node = sum(1 for b in blocks if b == "node")
    fixed = sum(b for b in blocks if b != "node")
    old_node = (w.shape[1] - fixed) // n_node
    new_node = N_NODE + n_extra
    if old_node == new_node:
        return dict(state)
    if old_node > new_node:
        raise ValueError(f"{name}: the state has {old_node - N_NODE} extra features, more than {n_extra}")
    parts, at = [], 0
    for b in blocks:
        width = old_node if b == "node" else b
        parts.append(w[:, at:at + width])
        if b == "node":
            parts.append(torch.zeros(w.shape[0], new_node - old_node, dtype=w.dtype))
        at += width
    out = dict(state)
    out[key] = torch.cat(parts, 1)
    return out


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())
