#!/usr/bin/python3
"""Train the three trkaas stages (embedding, filter, interaction GNN) and export TorchScript.

  /usr/bin/python3 tools/train/train.py --train train.h5 --val val.h5 --out models/ [options]

Writes OUT/embedding.pt, filter.pt, gnn.pt, pipeline.yaml, train_summary.json."""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from trkaas_train import data, graph, metrics, models, pipeline  # noqa: E402

T0 = time.time()


def log(msg):
    print(f"[{time.time() - T0:7.1f}s] {msg}", flush=True)


def prepare(events):
    out = []
    for ev in events:
        out.append({
            "ev": ev,
            "x": torch.from_numpy(data.features(ev)),
            "pid": torch.from_numpy(ev["particle_id"].astype(np.int64)),
            "pairs": torch.from_numpy(data.truth_pairs(ev)),
        })
    return out


def train_embedding(model, evs, a, rng):
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    steps = a.embed_epochs * len(evs)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=max(steps, 1), pct_start=0.1)
    margin = a.margin
    step = 0
    deadline = time.time() + a.embed_minutes * 60
    for epoch in range(a.embed_epochs):
        tot = 0.0
        for i in rng.permutation(len(evs)):
            e = evs[i]
            x, pid, pairs = e["x"], e["pid"], e["pairs"]
            n = x.shape[0]
            emb = model(x)
            if pairs.shape[1] > a.max_pairs:
                pairs = pairs[:, torch.from_numpy(rng.choice(pairs.shape[1], a.max_pairs, replace=False))]
            npos = pairs.shape[1]
            ri = torch.randint(0, n, (2 * npos,))
            rj = torch.randint(0, n, (2 * npos,))
            q = torch.from_numpy(rng.choice(n, min(n, a.hard_queries), replace=False))
            with torch.no_grad():
                d = torch.cdist(emb[q], emb)
                kk = min(a.hard_k + 1, n)
                dist, nb = torch.topk(d, kk, dim=1, largest=False)
                hi = q[:, None].expand(-1, kk)[dist < margin]
                hj = nb[dist < margin]
            ni = torch.cat([ri, hi])
            nj = torch.cat([rj, hj])
            neg = (ni != nj) & ((pid[ni] != pid[nj]) | (pid[ni] == 0))
            ni, nj = ni[neg], nj[neg]
            dp = ((emb[pairs[0]] - emb[pairs[1]]) ** 2).sum(1)
            dn = torch.sqrt(((emb[ni] - emb[nj]) ** 2).sum(1) + 1e-12)
            loss = a.pos_weight * dp.mean() + torch.relu(margin - dn).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step < steps:
                sched.step()
            step += 1
            tot += float(loss)
            if time.time() > deadline:
                break
        log(f"embedding epoch {epoch + 1}/{a.embed_epochs}: loss {tot / len(evs):.4f}")
        if time.time() > deadline:
            log("embedding: time budget reached")
            break


def pick_radius(model, evs, a):
    ds = []
    with torch.no_grad():
        for e in evs:
            emb = model(e["x"])
            p = e["pairs"]
            ds.append(torch.sqrt(((emb[p[0]] - emb[p[1]]) ** 2).sum(1)).numpy())
    d = np.concatenate(ds)
    return float(np.quantile(d, a.pair_eff)) if len(d) else a.margin / 4


def build_graphs(model, evs, r, k):
    with torch.no_grad():
        for e in evs:
            y = model(e["x"]).numpy()
            g = graph.radius_graph(y, r, k)
            e["graph"] = torch.from_numpy(g)
            e["graph_y"] = torch.from_numpy(data.edge_truth(e["ev"], g).astype(np.float32))


def train_edges(model, evs, key, ykey, a, epochs, minutes, max_edges, sector, name, rng):
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    steps = epochs * len(evs)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=max(steps, 1), pct_start=0.1)
    lossf = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(a.edge_pos_weight))
    deadline = time.time() + minutes * 60
    step = 0
    for epoch in range(epochs):
        tot, acc_n, acc_ok = 0.0, 0, 0
        for i in rng.permutation(len(evs)):
            e = evs[i]
            g, yv = e[key], e[ykey]
            if g.shape[1] == 0:
                continue
            if sector > 1:  # a random phi sector of the event (both ends inside)
                phi = e["x"][:, 1] * math.pi
                c = rng.uniform(-math.pi, math.pi)
                dphi = torch.remainder(phi - c + math.pi, 2 * math.pi) - math.pi
                inside = dphi.abs() < math.pi / sector
                m = inside[g[0]] & inside[g[1]]
                g, yv = g[:, m], yv[m]
            if g.shape[1] > max_edges:
                sel = torch.from_numpy(rng.choice(g.shape[1], max_edges, replace=False))
                g, yv = g[:, sel], yv[sel]
            out = model(e["x"], g)
            loss = lossf(out, yv)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step < steps:
                sched.step()
            step += 1
            tot += float(loss)
            acc_n += len(yv)
            acc_ok += int(((out > 0).float() == yv).sum())
            if time.time() > deadline:
                break
        log(f"{name} epoch {epoch + 1}/{epochs}: loss {tot / len(evs):.4f}, accuracy {acc_ok / max(acc_n, 1):.4f}")
        if time.time() > deadline:
            log(f"{name}: time budget reached")
            break


def scores(model, evs, key):
    out = []
    model.eval()
    for e in evs:
        out.append(pipeline.edge_scores(model, e["x"], e[key].numpy()))
    return out


def write_yaml(path, cfg):
    feats = ", ".join(f"{{name: {n}, scale: {s!r}}}" for n, s in data.FEATURES)
    lines = [
        "# trkaas pipeline settings, written by tools/train/train.py",
        "format: trkaas-pipeline",
        "version: 1",
        f"features: [{feats}]",
        f"embedding_dim: {cfg['embedding_dim']}",
        f"radius: {cfg['radius']!r}",
        f"max_neighbours: {cfg['k']}",
        f"filter_cut: {cfg['filter_cut']!r}",
        f"gnn_cut: {cfg['gnn_cut']!r}",
        f"min_track_size: {cfg['min_track_size']}",
        f"volumes: [{', '.join(str(v) for v in cfg['volumes'])}]",
        "edge_truth: same_particle",
        "models: {embedding: embedding.pt, filter: filter.pt, gnn: gnn.pt}",
        f"trained_on: {{pileup: {cfg['train_pileup']!r}, events: {cfg['train_events']}}}",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", required=True)
    p.add_argument("--val", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--train-pileup", type=float, default=200.0, help="recorded in the YAML")
    p.add_argument("--max-train-events", type=int, default=None)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--embed-dim", type=int, default=8)
    p.add_argument("--embed-hidden", type=int, default=128)
    p.add_argument("--embed-epochs", type=int, default=12)
    p.add_argument("--embed-minutes", type=float, default=5.0)
    p.add_argument("--margin", type=float, default=1.0)
    p.add_argument("--pos-weight", type=float, default=4.0)
    p.add_argument("--max-pairs", type=int, default=60000)
    p.add_argument("--hard-queries", type=int, default=2000)
    p.add_argument("--hard-k", type=int, default=16)
    p.add_argument("--pair-eff", type=float, default=0.9, help="truth-pair quantile for the radius")
    p.add_argument("--k", type=int, default=64, help="max neighbours per hit")
    p.add_argument("--filter-hidden", type=int, default=128)
    p.add_argument("--filter-epochs", type=int, default=10)
    p.add_argument("--filter-minutes", type=float, default=4.0)
    p.add_argument("--filter-edges", type=int, default=300000)
    p.add_argument("--filter-eff", type=float, default=0.99, help="true-edge fraction the filter cut keeps")
    p.add_argument("--edge-pos-weight", type=float, default=2.0)
    p.add_argument("--gnn-hidden", type=int, default=64)
    p.add_argument("--gnn-iter", type=int, default=6)
    p.add_argument("--gnn-epochs", type=int, default=10)
    p.add_argument("--gnn-minutes", type=float, default=7.0)
    p.add_argument("--gnn-edges", type=int, default=200000)
    p.add_argument("--gnn-sector", type=int, default=2, help="train on 1/N phi sectors of events")
    p.add_argument("--min-track-size", type=int, default=3)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.out, exist_ok=True)
    stage_time = {}

    train_ev = data.read_events(a.train, a.max_train_events)
    val_ev = data.read_events(a.val)
    volumes = sorted(set(np.concatenate([e["volume_id"] for e in train_ev]).tolist()))
    log(f"read {len(train_ev)} training events ({np.mean([len(e['x']) for e in train_ev]):.0f} hits/event), "
        f"{len(val_ev)} validation events, volumes {volumes}")
    tr, va = prepare(train_ev), prepare(val_ev)

    # 1. embedding
    t = time.time()
    emb = models.Embedding(hidden=a.embed_hidden, dim=a.embed_dim)
    log(f"embedding: {models.n_params(emb)} parameters, D={a.embed_dim}")
    train_embedding(emb, tr, a, rng)
    emb.eval()
    r = pick_radius(emb, va, a)
    log(f"radius {r:.4f} (truth-pair quantile {a.pair_eff}), k {a.k}")
    build_graphs(emb, tr + va, r, a.k)
    ne = np.mean([e["graph"].shape[1] for e in tr])
    pur = np.mean([float(e["graph_y"].mean()) if e["graph"].shape[1] else 0 for e in tr])
    log(f"graphs built: {ne:.0f} edges/event, same-particle fraction {pur:.3f}")
    stage_time["embedding"] = time.time() - t

    # 2. filter
    t = time.time()
    filt = models.EdgeFilter(hidden=a.filter_hidden)
    log(f"filter: {models.n_params(filt)} parameters")
    train_edges(filt, tr, "graph", "graph_y", a, a.filter_epochs, a.filter_minutes, a.filter_edges, 1, "filter", rng)
    fs_va = scores(filt, va, "graph")
    true_s = np.concatenate([s[e["graph_y"].numpy() > 0] for s, e in zip(fs_va, va)])
    fcut = float(np.quantile(true_s, 1 - a.filter_eff)) if len(true_s) else 0.5
    fcut = float(min(max(fcut, 0.01), 0.5))
    log(f"filter cut {fcut:.4f} (keeps {a.filter_eff} of true validation edges)")
    for e, s in zip(tr, scores(filt, tr, "graph")):
        m = torch.from_numpy(s > fcut)
        e["fgraph"], e["fgraph_y"] = e["graph"][:, m], e["graph_y"][m]
    ne = np.mean([e["fgraph"].shape[1] for e in tr])
    pur = np.mean([float(e["fgraph_y"].mean()) if e["fgraph"].shape[1] else 0 for e in tr])
    log(f"after filter: {ne:.0f} edges/event, same-particle fraction {pur:.3f}")
    stage_time["filter"] = time.time() - t

    # 3. GNN
    t = time.time()
    gnn = models.InteractionGNN(hidden=a.gnn_hidden, n_iter=a.gnn_iter)
    log(f"gnn: {models.n_params(gnn)} parameters, {a.gnn_iter} iterations")
    train_edges(gnn, tr, "fgraph", "fgraph_y", a, a.gnn_epochs, a.gnn_minutes, a.gnn_edges, a.gnn_sector, "gnn", rng)
    gnn.eval()
    stage_time["gnn"] = time.time() - t

    # 4. export and cuts
    paths = {n: os.path.join(a.out, n + ".pt") for n in ("embedding", "filter", "gnn")}
    for n, m in (("embedding", emb), ("filter", filt), ("gnn", gnn)):
        torch.jit.save(torch.jit.script(m.float()), paths[n])
    scripted = {n: torch.jit.load(p) for n, p in paths.items()}
    cfg = {"radius": r, "k": a.k, "filter_cut": fcut, "gnn_cut": 0.5, "min_track_size": a.min_track_size}
    runs = [(ev, pipeline.run_event(scripted, cfg, ev)) for ev in val_ev]
    best = None
    for cut in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        counts = []
        for ev, res in runs:
            n = len(ev["particle_id"])
            lab = graph.connected_components(n, res["filtered"][:, res["gnn_scores"] > cut], a.min_track_size)
            counts.append(metrics.track_metrics(lab, ev["particle_id"], ev["weight"], pipeline.pt_lookup(ev),
                                                min_hits=a.min_track_size))
        m, _ = metrics.summarize_tracks(counts)
        log(f"validation gnn cut {cut}: track eff (pT>1) {m['track_efficiency_pt1']:.4f}, "
            f"eff {m['track_efficiency']:.4f}, fake {m['fake_rate']:.4f}, score {m['trackml_score']:.4f}")
        if best is None or m["trackml_score"] > best[1]:
            best = (cut, m["trackml_score"])
    cfg["gnn_cut"] = best[0]
    log(f"gnn cut {best[0]}")
    cfg.update({"embedding_dim": a.embed_dim, "volumes": volumes, "train_pileup": a.train_pileup,
                "train_events": len(train_ev)})
    write_yaml(os.path.join(a.out, "pipeline.yaml"), cfg)
    summary = {
        "config": cfg,
        "parameters": {"embedding": models.n_params(emb), "filter": models.n_params(filt),
                       "gnn": models.n_params(gnn)},
        "stage_seconds": stage_time,
        "args": vars(a),
    }
    with open(os.path.join(a.out, "train_summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    log(f"exported to {a.out}: " + ", ".join(f"{n} {os.path.getsize(p) / 1e6:.2f} MB" for n, p in paths.items()))


if __name__ == "__main__":
    main()
