"""TorchScript-friendly models. Inputs are the scaled features x = [r/1000, phi/pi, z/1000].

Contract (shared with the C++ pipeline):
  Embedding.forward(x f32[N,F]) -> f32[N,D]
  EdgeFilter/InteractionGNN.forward(x f32[N,F], edge_index i64[2,E]) -> logits f32[E]
Edges are undirected: both edge models orient every edge from the smaller to the larger r
internally, so the result does not depend on the order of the two indices."""
import math
from typing import List, Tuple

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
    """[10 r, cos phi, sin phi, 3 z, atan2(z, r)] (r, z in m): continuous across the phi wrap,
    each of order 1 in the pixel detector."""
    r = x[:, 0]
    phi = x[:, 1] * phi_scale
    z = x[:, 2]
    return torch.stack([r * 10.0, torch.cos(phi), torch.sin(phi), z * 3.0, torch.atan2(z, r)], 1)


def orient(x: torch.Tensor, edge_index: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """(src, dst) with r[src] <= r[dst] (ties: smaller index first)."""
    a = edge_index[0]
    b = edge_index[1]
    ra = x[a, 0]
    rb = x[b, 0]
    swap = (ra > rb) | ((ra == rb) & (a > b))
    return torch.where(swap, b, a), torch.where(swap, a, b)


def pair_features(x: torch.Tensor, src: torch.Tensor, dst: torch.Tensor, phi_scale: float) -> torch.Tensor:
    """dr, dphi (wrapped), dz, z0 (z at r=0 on the line), dphi/dr, deta-like d(atan2(z,r))."""
    xi = x[src]
    xj = x[dst]
    dr = xj[:, 0] - xi[:, 0]
    dp = (xj[:, 1] - xi[:, 1]) * phi_scale
    dp = torch.atan2(torch.sin(dp), torch.cos(dp))
    dz = xj[:, 2] - xi[:, 2]
    den = dr + 0.005
    z0 = torch.clamp(xi[:, 2] - xi[:, 0] * dz / den, -5.0, 5.0)
    slope = torch.clamp(dp / den, -20.0, 20.0) / 10.0
    dth = torch.atan2(xj[:, 2], xj[:, 0]) - torch.atan2(xi[:, 2], xi[:, 0])
    return torch.stack([dr * 10.0, dp * 10.0, dz * 10.0, z0, slope, dth * 10.0], 1)


N_NODE = 5
N_PAIR = 6


class Embedding(nn.Module):
    def __init__(self, hidden: int = 256, layers: int = 3, dim: int = 8):
        super().__init__()
        self.phi_scale = PHI_SCALE
        self.net = mlp([N_NODE] + [hidden] * layers + [dim])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(node_features(x, self.phi_scale))


class EdgeFilter(nn.Module):
    def __init__(self, hidden: int = 128, layers: int = 3):
        super().__init__()
        self.phi_scale = PHI_SCALE
        self.net = mlp([2 * N_NODE + N_PAIR] + [hidden] * layers + [1])

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        src, dst = orient(x, edge_index)
        f = node_features(x, self.phi_scale)
        h = torch.cat([f[src], f[dst], pair_features(x, src, dst, self.phi_scale)], 1)
        return self.net(h).reshape(-1)


class InteractionGNN(nn.Module):
    """Interaction network: node/edge encoders, n_iter rounds of (edge update from both ends
    and the edge, node update from summed incoming and outgoing edge messages), residual
    connections, edge classifier on the final node and edge states."""

    def __init__(self, hidden: int = 64, n_iter: int = 6):
        super().__init__()
        self.phi_scale = PHI_SCALE
        self.n_iter = n_iter
        h = hidden
        self.node_enc = mlp([N_NODE, h, h], last_act=True)
        self.edge_enc = mlp([2 * h + N_PAIR, h, h], last_act=True)
        self.edge_net = mlp([3 * h, h, h], last_act=True)
        self.node_net = mlp([3 * h, h, h], last_act=True)
        self.out = mlp([3 * h, h, 1])

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        src, dst = orient(x, edge_index)
        h = self.node_enc(node_features(x, self.phi_scale))
        e = self.edge_enc(torch.cat([h[src], h[dst], pair_features(x, src, dst, self.phi_scale)], 1))
        n = h.shape[0]
        for _ in range(self.n_iter):
            e = e + self.edge_net(torch.cat([h[src], h[dst], e], 1))
            m_in = torch.zeros(n, e.shape[1], dtype=e.dtype, device=e.device).index_add_(0, dst, e)
            m_out = torch.zeros(n, e.shape[1], dtype=e.dtype, device=e.device).index_add_(0, src, e)
            h = h + self.node_net(torch.cat([h, m_in, m_out], 1))
        return self.out(torch.cat([h[src], h[dst], e], 1)).reshape(-1)


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())
