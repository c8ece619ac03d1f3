#!/usr/bin/env python3
"""Compile exported models into AOTInductor packages (.pt2) for the C++ pipeline: the model
format that outlives TorchScript (deprecated in favour of torch.export from torch 2.11).

usage: export_pt2.py MODELS_DIR OUT_DIR [--device cpu] [--threads 2]

MODELS_DIR holds embedding.pt, filter.pt, gnn.pt (TorchScript), train_summary.json (their
sizes and options) and pipeline.yaml. Each model is rebuilt in eager form with the
TorchScript file's weights (the GNN shaped for inference, as export_inference.py does),
exported with torch.export with the number of hits N and edges E dynamic, and compiled by
AOTInductor to OUT_DIR/NAME.pt2 for the device (the C++ pipeline calls an edge classifier
with a small disconnected chain of hits appended: see padded()); OUT_DIR/pipeline.yaml is the
input's with the models' file names changed. The contract is TorchScript's
(TorchModel.hpp): embedding(x f32[N,F]) -> f32[N,D]; filter and gnn(x, edge_index
i64[2,E]) -> f32[E] logits. Before writing, each package is loaded and compared with the
TorchScript model on random hits and edges, including tiny sizes; it refuses to write a
package that differs by more than 1e-4.

A package holds machine code for the CPU (its vector ISA: AVX2, AVX-512, ...) or the GPU
architecture it was compiled on, for the torch version that compiled it: compile it on the
machines that run it (CPU packages: any x86-64 with the same or a wider vector ISA).
Compiling takes a C++ compiler and about a minute per model.
"""
import os
# AOTInductor's generated code calls libtorch and SLEEF symbols that only resolve when torch
# is loaded globally: without this the vector-ISA probe fails and the kernels come out
# scalar (found here: 15-30% slower than TorchScript instead of faster).
os.environ.setdefault("TORCH_USE_RTLD_GLOBAL", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from trkaas_train import models  # noqa: E402

NAMES = ("embedding", "filter", "gnn")


def eager(name, path, args):
    ts = torch.jit.load(path, map_location="cpu").eval()
    m = models.build(name, args)
    state = dict(ts.state_dict())
    if name == "gnn":
        state = models.training_state(state)
    m.load_state_dict(state)
    m = m.float().eval()
    if name == "gnn":
        m = models.inference_shaped(m).eval()
    return ts, m


def sample(n, e, n_features, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.stack([torch.rand(n, generator=g) * 0.17 + 0.03,
                     torch.rand(n, generator=g) * 2 - 1,
                     torch.rand(n, generator=g) * 0.6 - 0.3], 1)
    if n_features > 3:
        x = torch.cat([x, torch.rand(n, n_features - 3, generator=g)], 1)
    edges = torch.randint(0, max(n, 1), (2, e), generator=g)
    return x, edges


def padded(pkg, x, edges):
    """The package called as the C++ pipeline calls it (ScriptModel::callPackage): a
    disconnected chain of 4 hits (copies of hit 0 shifted in the first feature) and 3 edges
    after the event's, whose logits are dropped. It keeps the graph above the sizes the
    compiled code guards against (the GNN's triplet pairs: at least 2)."""
    n, e = x.shape[0], edges.shape[1]
    extra = x[:1].expand(4, x.shape[1]).clone()
    extra[:, 0] += torch.arange(4, dtype=x.dtype, device=x.device) * 0.01
    chain = torch.tensor([[n, n + 1, n + 2], [n + 1, n + 2, n + 3]], device=edges.device)
    return pkg(torch.cat([x, extra]), torch.cat([edges, chain], 1))[:e]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", help="directory with the TorchScript models, train_summary.json, pipeline.yaml")
    p.add_argument("out", help="directory for NAME.pt2 and pipeline.yaml")
    p.add_argument("--device", default="cpu", help="cpu or cuda (compile on the GPU machine)")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    # Sizes 0 and 1 are ordinary sizes (tiny events, a graph with one edge), not
    # specialisations the package would refuse at run time.
    torch.fx.experimental._config.backed_size_oblivious = True
    # The generated kernels take their OpenMP thread count at run time (the pipeline's -j,
    # per calling thread) instead of the count at compile time baked in (found here: 2
    # threads baked in made -j 1 runs 3x slower on a busy machine, and a package compiled on
    # a 128-core node would start 128 threads per call).
    torch._inductor.config.cpp.dynamic_threads = True
    args = json.load(open(os.path.join(a.models, "train_summary.json")))["args"]
    n_features = 3 + models.n_extra_features(args)
    os.makedirs(a.out, exist_ok=True)
    dev = torch.device(a.device)
    for name in NAMES:
        t0 = time.time()
        ts, m = eager(name, os.path.join(a.models, name + ".pt"), args)
        m = m.to(dev)
        x, edges = sample(3000, 20000, n_features, 1)
        x, edges = x.to(dev), edges.to(dev)
        N = torch.export.Dim("N", min=0)
        E = torch.export.Dim("E", min=0)
        with torch.no_grad():
            if name == "embedding":
                ex = torch.export.export(m, (x,), dynamic_shapes=({0: N},))
            else:
                ex = torch.export.export(m, (x, edges), dynamic_shapes=({0: N}, {1: E}))
        out = os.path.join(a.out, name + ".pt2")
        torch._inductor.aoti_compile_and_package(ex, package_path=out)
        pkg = torch._inductor.aoti_load_package(out)
        worst = 0.0
        with torch.no_grad():
            for k, (n, e) in enumerate(((3000, 20000), (777, 5000), (2, 1), (1, 1), (5, 0))):
                x, edges = sample(n, e, n_features, 10 + k)
                x, edges = x.to(dev), edges.to(dev)
                if name == "embedding":
                    want, got = ts.to(dev)(x), pkg(x)
                else:
                    want, got = ts.to(dev)(x, edges), padded(pkg, x, edges)
                if got.shape != want.shape:
                    os.remove(out)
                    sys.exit(f"export_pt2: {name}: shape {tuple(got.shape)} instead of "
                             f"{tuple(want.shape)} for N={n}, E={e}; nothing written")
                if want.numel():
                    worst = max(worst, (got - want).abs().max().item())
        if worst > 1e-4:
            os.remove(out)
            sys.exit(f"export_pt2: {name}: differs from {name}.pt by {worst:.2e} > 1e-4; removed")
        print(f"export_pt2: {out} in {time.time() - t0:.0f} s, largest difference to "
              f"TorchScript {worst:.1e}")
    with open(os.path.join(a.models, "pipeline.yaml")) as f:
        yaml_text = f.read()
    for name in NAMES:
        yaml_text = re.sub(rf"\b{name}: {name}\.pt\b", f"{name}: {name}.pt2", yaml_text)
    if yaml_text.count(".pt2") != 3:
        sys.exit("export_pt2: pipeline.yaml's models line is not the one train.py writes; "
                 "edit OUT_DIR/pipeline.yaml by hand")
    with open(os.path.join(a.out, "pipeline.yaml"), "w") as f:
        f.write(f"# AOTInductor packages of {os.path.abspath(a.models)} (tools/train/export_pt2.py, "
                f"torch {torch.__version__}, {a.device})\n" + yaml_text)
    print(f"export_pt2: wrote {a.out}/pipeline.yaml")


if __name__ == "__main__":
    main()
