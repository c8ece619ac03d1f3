"""Small TorchScript models for the TorchModel tests: ones that keep the pipeline's
contract, ones that break it in one way each, and reference outputs computed here in
Python on a fixed input, which the C++ side must reproduce.

usage: make_test_models.py OUTDIR
"""
import os
import sys

import numpy as np
import torch
from torch import nn

F, D = 3, 4


class Embedding(nn.Module):
    def __init__(self, f: int = F, d: int = D):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(f, 16), nn.Tanh(), nn.Linear(16, d))

    def forward(self, x):
        return self.net(x)


class EdgeClassifier(nn.Module):
    """Logits from the features of both ends; `column` returns [E, 1] instead of [E]."""

    def __init__(self, column: bool = False, width: int = 1):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2 * F, 16), nn.ReLU(), nn.Linear(16, width))
        self.column = column

    def forward(self, x, edge_index):
        pair = torch.cat([x[edge_index[0]], x[edge_index[1]]], dim=1)
        out = self.net(pair)
        if self.column:
            return out
        return out.squeeze(-1)


class Antisymmetric(nn.Module):
    """logit(i, j) = 10 (x_i0 - x_j0): exactly -logit(j, i), so scoring both directions
    and averaging gives 0 (a sigmoid of 0.5) for every edge."""

    def forward(self, x, edge_index):
        return 10.0 * (x[edge_index[0], 0] - x[edge_index[1], 0])


class RankOne(nn.Module):
    def forward(self, x):
        return x.sum(dim=1)


class Double(nn.Module):
    def forward(self, x):
        return x.double()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(7)
    save = lambda m, name: torch.jit.save(torch.jit.script(m.eval()), os.path.join(out, name))
    emb, edge, col = Embedding(), EdgeClassifier(), EdgeClassifier(column=True)
    save(emb, "emb_good.pt")
    save(edge, "edge_good.pt")
    save(col, "edge_column.pt")
    save(Antisymmetric(), "edge_antisym.pt")
    save(RankOne(), "emb_rank1.pt")
    save(Double(), "emb_float64.pt")
    save(Embedding(f=4), "emb_needs4.pt")
    save(EdgeClassifier(width=2), "edge_width2.pt")
    with open(os.path.join(out, "not_torchscript.pt"), "w") as f:
        f.write("this is not a TorchScript archive\n")

    # Reference outputs on a fixed input, written as raw little-endian arrays.
    x = torch.linspace(-1.0, 1.0, 5 * F, dtype=torch.float32).reshape(5, F)
    edges = torch.tensor([[0, 1, 3, 4, 2], [1, 2, 4, 0, 3]], dtype=torch.int64)
    with torch.no_grad():
        refs = {"x": x, "edges": edges, "emb_good.out": emb(x), "edge_good.out": edge(x, edges),
                "edge_column.out": col(x, edges).squeeze(-1)}
    for name, t in refs.items():
        t.numpy().astype(np.int64 if t.dtype == torch.int64 else np.float32).tofile(
            os.path.join(out, name + ".bin"))


if __name__ == "__main__":
    main()
