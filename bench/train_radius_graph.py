"""The Python radius graph of tools/train (trkaas_train.graph.radius_graph) on real events:
the cell list and the all-pairs search side by side, one event at a time, with the share
of N^2 candidate pairs that the cell list would test (the quantity radius_graph switches on:
all-pairs from dense_fraction = 1% of N^2). Checks that both give the same edges.

  tools/python bench/train_radius_graph.py --models models/lowpt \\
      out/whole/train_pu50.h5 out/whole/val.h5 [--threads 1] [--max-events 1]

Training and evaluation of a model set spend their graph-building time here (the C++
pipeline has its own graph builder, bench_graph)."""
import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "train"))
import evaluate  # noqa: E402
from trkaas_train import data, graph  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", help="event files (HDF5)")
    p.add_argument("--models", default="models/lowpt", help="model folder: its embedding, radius and max_neighbours")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-events", type=int, default=1, help="per file")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    ms, cfg = evaluate.load(a.models)
    r, k = cfg["radius"], cfg["k"]
    print(f"models {a.models}: radius {r:.4f}, k {k}, {a.threads} thread(s)")
    print(f"{'event':>28} {'hits':>7} {'cand/N^2':>9} {'cells s':>8} {'all-pairs s':>11} "
          f"{'ns/cand':>8} {'ns/pair':>8} {'edges':>9} same")
    for fn in a.files:
        for i, whole in enumerate(data.read_events(fn)):
            if i >= a.max_events:
                break
            ev, _ = data.select_volumes(whole, cfg.get("volumes"))
            x = torch.from_numpy(data.features(ev, cfg.get("features"), cfg.get("geometry")))
            with torch.no_grad():
                y = np.ascontiguousarray(ms["embedding"](x).numpy(), dtype=np.float32)
            n = len(y)
            frac = graph.cell_list(y, r)[2]
            t = time.perf_counter()
            cells = graph.radius_graph(y, r, k, dense_fraction=1e9)
            tc = time.perf_counter() - t
            t = time.perf_counter()
            dense = graph.radius_graph(y, r, k, dense_fraction=0.0)
            td = time.perf_counter() - t
            name = f"{os.path.basename(os.path.dirname(fn))}/{os.path.basename(fn)}:{int(ev['event_id'])}"
            print(f"{name:>28} {n:7d} {frac:9.4f} {tc:8.2f} {td:11.2f} {tc / (frac * n * n) * 1e9:8.1f} "
                  f"{td / (n * n) * 1e9:8.2f} {cells.shape[1]:9d} {np.array_equal(cells, dense)}", flush=True)


if __name__ == "__main__":
    main()
