#!/usr/bin/env python3
"""How far each model stage of the CPU pipeline is from the arithmetic limit (issue 17).

For each model stage (embedding, filter, GNN) on the same events:
  * FLOPs per event, counted from the shapes of the matrix products the TorchScript model
    runs (2 M K N for each aten::mm / addmm / addmm_ the profiler records on the actual
    event: the model's layer sizes times the hits or edges they run on, GNN iterations
    included; gathers and sums are not counted);
  * the limit: the time plain torch GEMMs of exactly those shapes (F.linear, the layout the
    models use) take on the same core(s), each shape timed alone, best of --reps;
  * the C++ pipeline's measured time for the stage (`trkaas run -j THREADS`, mean over the
    events), in float32 and, with --bf16, in bfloat16;
  * the share of the stage's time (Python profile of the same model call) spent in matrix
    products: the rest is gathers, concatenations, elementwise ops and allocation.

The calls use the C++ pipeline's chunking (embedding_chunk hits, filter_chunk edges per
model call; the GNN in one call), so the GEMM shapes are the ones C++ runs.

Usage:
  GLIBC_TUNABLES=glibc.malloc.hugetlb=1 tools/python bench/roofline.py \
      --input pu200.h5 [--events 1] [--threads 1] [--config models/pipeline.yaml] \
      [--bin build/trkaas] [--bf16] [--json out.json]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from torch.profiler import ProfilerActivity, profile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools", "train"))
from trkaas_train import data, graph  # noqa: E402

MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::addmm_")
FILTER_CHUNK_DEFAULT = 1 << 16  # PipelineConfig::filterChunk


def load_config(path):
    with open(path) as f:
        cfg = yaml.safe_load(f)
    base = os.path.dirname(os.path.abspath(path))
    models = {k: torch.jit.load(os.path.join(base, v)).eval() for k, v in cfg["models"].items()}
    features = [(f["name"], float(f.get("scale", 1.0))) for f in cfg["features"]]
    return cfg, models, features


def profiled(fn):
    """Runs fn under the profiler: (result, matmul shapes with their flops, matmul share of
    the time, wall seconds)."""
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True, with_flops=True) as prof:
        t0 = time.perf_counter()
        out = fn()
        wall = time.perf_counter() - t0
    shapes = {}
    mm_us = 0.0
    for e in prof.events():
        if e.name in MATMUL_OPS:
            mm_us += e.self_cpu_time_total
        if e.name not in MATMUL_OPS:
            continue
        # mm(a, b), addmm(c, a, b), addmm_(c, a, b): the last two 2-D inputs are a [M, K]
        # and b [K, N]; 2 M K N flops (the profiler counts none for the in-place form).
        dims = [s for s in e.input_shapes if len(s) == 2]
        if len(dims) < 2:
            continue
        (m, k), (_, n) = dims[-2], dims[-1]
        key = (int(m), int(k), int(n))
        c, f = shapes.get(key, (0, 0))
        shapes[key] = (c + 1, f + 2 * int(m) * int(k) * int(n))
    return out, shapes, mm_us / 1e6 / wall if wall > 0 else 0.0, wall


def merge(into, shapes):
    for key, (c, f) in shapes.items():
        c0, f0 = into.get(key, (0, 0))
        into[key] = (c0 + c, f0 + f)


def gemm_seconds(m, k, n, dtype, reps):
    """Best time of F.linear(a [m, k], w [n, k]) in dtype (a fresh output each call, as in
    the models)."""
    a = torch.randn(m, k).to(dtype)
    w = torch.randn(n, k).to(dtype)
    F.linear(a, w)  # warm up (oneDNN primitive creation)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        F.linear(a, w)
        best = min(best, time.perf_counter() - t0)
    return best


def limit_seconds(shapes, dtype, reps, cache):
    total = 0.0
    for (m, k, n), (calls, flops) in shapes.items():
        key = (m, k, n, dtype)
        if key not in cache:
            cache[key] = gemm_seconds(m, k, n, dtype, reps)
        total += calls * cache[key]
    return total


def cpp_stage_ms(binary, config, inp, events, threads, precision):
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "r.json")
        cmd = [binary, "run", "-c", config, "-i", inp, "-o", os.path.join(tmp, "t.h5"), "-f",
               "-j", str(threads), "--events", str(events), "--gpu", "off", "--precision",
               precision, "--metrics-json", report]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            sys.exit(f"FAILED: {' '.join(cmd)}\n{r.stdout}")
        stage = json.load(open(report))["stage_ms"]
    return {k: (v["mean"] if isinstance(v, dict) else v) for k, v in stage.items()}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--input", required=True)
    p.add_argument("--config", default=os.path.join(ROOT, "models", "pipeline.yaml"))
    p.add_argument("--bin", default=os.path.join(ROOT, "build", "trkaas"))
    p.add_argument("--events", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--bf16", action="store_true", help="also the bfloat16 limit and C++ run")
    p.add_argument("--json", default=None)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    cfg, models, features = load_config(a.config)
    emb_chunk = int(cfg.get("embedding_chunk", 0)) or None
    filter_chunk = int(cfg.get("filter_chunk", FILTER_CHUNK_DEFAULT))
    events = data.read_events(a.input, a.events)
    stages = ("embedding", "filter", "gnn")
    shapes = {s: {} for s in stages}
    share = {s: [] for s in stages}
    hits = edges_graph = edges_filter = 0
    for whole in events:
        ev, _ = data.select_volumes(whole, cfg.get("volumes"))
        x = torch.from_numpy(data.features(ev, features))
        hits += x.shape[0]
        with torch.no_grad():
            def embed():
                if emb_chunk is None:
                    return models["embedding"](x)
                return torch.cat([models["embedding"](x[i:i + emb_chunk])
                                  for i in range(0, x.shape[0], emb_chunk)])
            y, s, f, _ = profiled(embed)
            merge(shapes["embedding"], s)
            share["embedding"].append(f)
            g = graph.radius_graph(y.float().numpy(), cfg["radius"], cfg["max_neighbours"])
            ei = torch.from_numpy(np.ascontiguousarray(g))
            edges_graph += ei.shape[1]

            def filt():
                return torch.cat([models["filter"](x, ei[:, i:i + filter_chunk].contiguous())
                                  for i in range(0, ei.shape[1], filter_chunk)])
            logits, s, f, _ = profiled(filt)
            merge(shapes["filter"], s)
            share["filter"].append(f)
            kept = ei[:, torch.sigmoid(logits.float()) > cfg["filter_cut"]].contiguous()
            edges_filter += kept.shape[1]
            _, s, f, _ = profiled(lambda: models["gnn"](x, kept))
            merge(shapes["gnn"], s)
            share["gnn"].append(f)
    n = len(events)
    cpp32 = cpp_stage_ms(a.bin, a.config, a.input, n, a.threads, "float32")
    cpp16 = cpp_stage_ms(a.bin, a.config, a.input, n, a.threads, "bfloat16") if a.bf16 else {}
    cache = {}
    rows = []
    for s in stages:
        flops = sum(f for _, f in shapes[s].values()) / n
        lim32 = limit_seconds(shapes[s], torch.float32, a.reps, cache) / n * 1e3
        row = {"stage": s, "gflop_per_event": flops / 1e9,
               "gemm_shapes": len(shapes[s]),
               "limit_ms_fp32": lim32, "gflops_fp32": flops / lim32 / 1e6 if lim32 else 0.0,
               "cpp_ms_fp32": cpp32.get(s), "matmul_share_python": float(np.mean(share[s]))}
        row["x_limit_fp32"] = row["cpp_ms_fp32"] / lim32 if lim32 else None
        if a.bf16:
            lim16 = limit_seconds(shapes[s], torch.bfloat16, a.reps, cache) / n * 1e3
            row.update({"limit_ms_bf16": lim16, "gflops_bf16": flops / lim16 / 1e6,
                        "cpp_ms_bf16": cpp16.get(s), "x_limit_bf16": cpp16.get(s) / lim16})
        rows.append(row)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "?")
    print(f"{n} event(s), {hits / n:.0f} model hits, {edges_graph / n:.0f} graph edges, "
          f"{edges_filter / n:.0f} after the filter per event; {a.threads} thread(s); {cpu}")
    head = "| stage | GFLOP/event | GEMM GFLOP/s fp32 | limit ms fp32 | C++ ms fp32 | C++/limit |"
    if a.bf16:
        head += " GEMM GFLOP/s bf16 | limit ms bf16 | C++ ms bf16 | C++/limit |"
    head += " matmul share |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for r in rows:
        line = (f"| {r['stage']} | {r['gflop_per_event']:.1f} | {r['gflops_fp32']:.0f} | "
                f"{r['limit_ms_fp32']:.0f} | {r['cpp_ms_fp32']:.0f} | {r['x_limit_fp32']:.1f}x |")
        if a.bf16:
            line += (f" {r['gflops_bf16']:.0f} | {r['limit_ms_bf16']:.0f} | "
                     f"{r['cpp_ms_bf16']:.0f} | {r['x_limit_bf16']:.1f}x |")
        line += f" {100 * r['matmul_share_python']:.0f}% |"
        print(line)
    tot = {k: sum(r[k] for r in rows) for k in ("limit_ms_fp32", "cpp_ms_fp32")}
    print(f"models: limit {tot['limit_ms_fp32']:.0f} ms, C++ {tot['cpp_ms_fp32']:.0f} ms fp32; "
          f"C++ total per event {cpp32.get('total', float('nan')):.0f} ms")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"events": n, "threads": a.threads, "cpu": cpu, "hits": hits / n,
                       "graph_edges": edges_graph / n, "filter_edges": edges_filter / n,
                       "stages": rows, "cpp_stage_ms_fp32": cpp32,
                       "cpp_stage_ms_bf16": cpp16}, f, indent=1)


if __name__ == "__main__":
    main()
