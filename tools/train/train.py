#!/usr/bin/env python3
"""Train the three trkaas stages (embedding, filter, interaction GNN) and export TorchScript.

  tools/python tools/train/train.py --train train.h5 [more.h5 ...] --val val.h5 --out models/ [options]

Writes OUT/embedding.pt, filter.pt, gnn.pt, pipeline.yaml, train_summary.json.
--features r,phi,z,ly,... (NAME[:SCALE]; the first three must be r, phi, z) and --volumes
7,8,9,... choose what the models read and which hits they see; both go to pipeline.yaml."""
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


def prepare(events, names, geometry, volumes):
    """Per event: the hits of `volumes`, their features `names`, truth pairs and pT."""
    out = []
    for whole in events:
        ev, _ = data.select_volumes(whole, volumes)  # keeps the cells (joined to hits by hit_id)
        pt = data.hit_pt(ev)
        pairs = data.truth_pairs(ev)
        out.append({
            "ev": ev,
            "x": torch.from_numpy(data.features(ev, names, geometry)),
            "pid": torch.from_numpy(ev["particle_id"].astype(np.int64)),
            "pt": torch.from_numpy(pt),
            "pairs": torch.from_numpy(pairs),
            "pair_pt": torch.from_numpy(pt[pairs[0]]),
        })
    return out


def edge_targets(e, g, a):
    """Edge labels and loss weights. Target edges (y = 1): both ends from one particle with
    pT above --pt-min (--gnn-pt-min for the GNN), weight --edge-pos-weight. Everything else is y = 0: edges between
    hits of one particle below --pt-min weigh --lowpt-weight (they are not to be
    reconstructed: a partly found low-pT particle is a fake track), the rest 1."""
    pid, pt = e["pid"], e["pt"]
    same = (pid[g[0]] == pid[g[1]]) & (pid[g[0]] != 0)
    hi = pt[g[0]] > a.label_pt
    y = (same & hi).float()
    w = torch.where(same, torch.where(hi, torch.tensor(a.edge_pos_weight), torch.tensor(a.lowpt_weight)),
                    torch.tensor(1.0))
    return y, w


class Schedule:
    """Learning rate: linear warm-up over 5% then cosine decay to 1% of the peak, driven by
    progress = max(step / steps, elapsed / time budget), so that a run cut short by its time
    budget still ends with a small learning rate."""

    def __init__(self, opt, lr, steps, minutes):
        self.opt, self.lr, self.steps = opt, lr, max(steps, 1)
        self.t0, self.budget = time.time(), max(minutes * 60, 1e-3)
        self.step(0)

    def progress(self, step):
        return min(1.0, max(step / self.steps, (time.time() - self.t0) / self.budget))

    def step(self, step):
        p = self.progress(step)
        f = p / 0.05 if p < 0.05 else 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * (p - 0.05) / 0.95))
        for g in self.opt.param_groups:
            g["lr"] = self.lr * max(f, 0.01)


def train_embedding(model, evs, a, rng):
    """Metric learning. Positives: truth pairs of particles above --pt-min (the target
    particles); negatives: random pairs and hard negatives (the --hard-k nearest neighbours
    of --hard-queries random hits closer than the margin), any pair of different particles
    or noise. Hard negatives are mined on the whole event without gradients; the gradient
    step embeds only the hits that occur in a pair (about 3x cheaper than the whole event)."""
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    steps = a.embed_epochs * len(evs)
    sched = Schedule(opt, a.lr, steps, a.embed_minutes)
    margin = a.margin
    step = 0
    deadline = time.time() + a.embed_minutes * 60
    for epoch in range(a.embed_epochs):
        tot = 0.0
        for i in rng.permutation(len(evs)):
            e = evs[i]
            x, pid = e["x"], e["pid"]
            n = x.shape[0]
            pairs = e["pairs"][:, e["pair_pt"] > a.pt_min]
            if pairs.shape[1] > a.max_pairs:
                pairs = pairs[:, torch.from_numpy(rng.choice(pairs.shape[1], a.max_pairs, replace=False))]
            npos = pairs.shape[1]
            nr = int(a.neg_random * max(npos, 1))
            ri = torch.randint(0, n, (nr,))
            rj = torch.randint(0, n, (nr,))
            q = torch.from_numpy(rng.choice(n, min(n, a.hard_queries), replace=False))
            with torch.no_grad():
                emb = model(x)
                d = torch.cdist(emb[q], emb)
                kk = min(a.hard_k + 1, n)
                dist, nb = torch.topk(d, kk, dim=1, largest=False)
                hi = q[:, None].expand(-1, kk)[dist < margin]
                hj = nb[dist < margin]
            ni = torch.cat([ri, hi])
            nj = torch.cat([rj, hj])
            neg = (ni != nj) & ((pid[ni] != pid[nj]) | (pid[ni] == 0))
            ni, nj = ni[neg], nj[neg]
            idx, inv = torch.unique(torch.cat([pairs[0], pairs[1], ni, nj]), return_inverse=True)
            es = model(x[idx])
            k = len(ni)
            p0, p1 = inv[:npos], inv[npos:2 * npos]
            n0, n1 = inv[2 * npos:2 * npos + k], inv[2 * npos + k:]
            dp = ((es[p0] - es[p1]) ** 2).sum(1)
            dn = torch.sqrt(((es[n0] - es[n1]) ** 2).sum(1) + 1e-12)
            loss = a.pos_weight * dp.mean() + torch.relu(margin - dn).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            sched.step(step)
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
            p = e["pairs"][:, e["pair_pt"] > a.eff_pt]
            ds.append(torch.sqrt(((emb[p[0]] - emb[p[1]]) ** 2).sum(1)).numpy())
    d = np.concatenate(ds)
    return float(np.quantile(d, a.pair_eff)) if len(d) else a.margin / 4


def build_graphs(model, evs, r, k, a):
    with torch.no_grad():
        for e in evs:
            y = model(e["x"]).numpy()
            g = torch.from_numpy(graph.radius_graph(y, r, k))
            e["graph"] = g
            e["graph_y"], e["graph_w"] = edge_targets(e, g, a)


def pair_mask(e, g, pt):
    """bool[E]: edges of g that are truth pairs (consecutive hits) of particles above pt."""
    n = len(e["x"])
    p = e["pairs"][:, e["pair_pt"] > pt].numpy()
    code = np.minimum(g[0], g[1]).numpy() * n + np.maximum(g[0], g[1]).numpy()
    return np.isin(code, p.min(0) * n + p.max(0))


def pt_pair_efficiency(evs, key, pt):
    """Fraction of the truth pairs of particles above pt found among the edges e[key]."""
    found = tot = 0
    for e in evs:
        n = len(e["x"])
        c = metrics.edge_counts(e[key].numpy(), np.zeros(0), e["pairs"][:, e["pair_pt"] > pt].numpy(), n)
        found += c["pairs_found"]
        tot += c["pairs"]
    return found / max(tot, 1)


def train_edges(model, evs, key, a, epochs, minutes, max_edges, sector, per_event, name, rng):
    """BCE on edge logits with per-edge weights (edge_targets). Each event gives per_event
    steps per epoch; a step takes a random 1/sector phi sector of the event with all its
    edges (sector 1: the whole event), then at most max_edges of them at random (the filter,
    which sees single edges; the GNN should see whole graphs, as at inference)."""
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    steps = epochs * len(evs) * per_event
    sched = Schedule(opt, a.lr, steps, minutes)
    deadline = time.time() + minutes * 60
    step = 0
    for epoch in range(epochs):
        tot, acc_n, acc_ok, nstep = 0.0, 0, 0, 0
        order = np.repeat(rng.permutation(len(evs)), per_event)
        for i in order:
            e = evs[i]
            g, yv, wv = e[key], e[key + "_y"], e[key + "_w"]
            if sector > 1:  # a random phi sector of the event (both ends inside)
                phi = e["x"][:, 1] * math.pi
                c = rng.uniform(-math.pi, math.pi)
                dphi = torch.remainder(phi - c + math.pi, 2 * math.pi) - math.pi
                inside = dphi.abs() < math.pi / sector
                m = inside[g[0]] & inside[g[1]]
                g, yv, wv = g[:, m], yv[m], wv[m]
            if g.shape[1] > max_edges:
                sel = torch.from_numpy(rng.choice(g.shape[1], max_edges, replace=False))
                g, yv, wv = g[:, sel], yv[sel], wv[sel]
            if g.shape[1] == 0:
                continue
            out = model(e["x"], g)
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(out, yv, reduction="none") * wv).sum() \
                / wv.sum().clamp(min=1.0)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            sched.step(step)
            nstep += 1
            tot += float(loss)
            acc_n += len(yv)
            acc_ok += int(((out > 0).float() == yv).sum())
            if time.time() > deadline:
                break
        log(f"{name} epoch {epoch + 1}/{epochs}: loss {tot / max(nstep, 1):.4f}, accuracy {acc_ok / max(acc_n, 1):.4f}")
        if time.time() > deadline:
            log(f"{name}: time budget reached")
            break


def scores(model, evs, key):
    out = []
    model.eval()
    for e in evs:
        out.append(pipeline.edge_scores(model, e["x"], e[key].numpy()))
    return out


# The GNN cuts scanned on validation (with each --min-track-size).
GNN_CUTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99)


def _optional_floats(text, ok, what):
    """'none,0.1,0.3' -> [None, 0.1, 0.3] ('none'/'off': the setting off); each value ok(v)."""
    out = []
    for part in text.split(","):
        part = part.strip().lower()
        out.append(None if part in ("none", "off", "") else float(part))
        if out[-1] is not None and not ok(out[-1]):
            raise argparse.ArgumentTypeError(f"{text!r}: {what} or 'none'")
    return out


def extend_list(text):
    """Extension cuts to scan, in (0, 1) (none: no extension)."""
    return _optional_floats(text, lambda v: 0.0 < v < 1.0, "extension cuts lie in (0, 1)")


def turn_list(text):
    """Walk turn limits in radians to scan, in (0, pi] (none: no limit)."""
    return _optional_floats(text, lambda v: 0.0 < v <= math.pi, "turn limits lie in (0, pi]")


def stitch_arg(text):
    """Helix stitching limits 'XY,Z' in mm (both > 0), or 'none'."""
    if text.strip().lower() == "none":
        return False
    try:
        xy, z = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: 'XY,Z' in mm (e.g. 3,15) or none expected")
    if not (xy > 0.0 and z > 0.0 and math.isfinite(xy) and math.isfinite(z)):
        raise argparse.ArgumentTypeError(f"{text!r}: both limits must be > 0 mm")
    return (xy, z)


def add_track_scan_args(p):
    """The options of the validation scan of track settings beside the GNN cut and the track
    size (train.py's end, tune_tracks.py)."""
    p.add_argument("--extend-cuts", type=extend_list, default=[None],
                   help="lower GNN cuts along which tracks grow at their ends, comma list ('none': no "
                        "extension), e.g. none,0.1,0.3,0.5")
    p.add_argument("--max-turns", type=turn_list, default=[None],
                   help="turn limits of the walk in r-z (radians), comma list ('none': no limit), "
                        "e.g. none,0.05,0.1")
    p.add_argument("--max-fake-rate", type=float, default=None,
                   help="choose the highest validation efficiency pT > 1 GeV among the settings with at most "
                        "this fake rate (e.g. 0.02, the physics target); default: the best efficiency minus "
                        "fake rate")
    p.add_argument("--min-efficiency", type=float, default=None,
                   help="only settings with at least this validation efficiency pT > 1 GeV (e.g. 0.95)")
    p.add_argument("--stitch", type=stitch_arg, default=None,
                   help="helix stitching 'XY,Z' (mm: the YAML's stitch_max_xy, stitch_max_z; e.g. 3,15), "
                        "applied in the scan and written to pipeline.yaml; 'none': off. train.py's default: "
                        "off; tune_tracks.py's: the YAML's own")
    p.add_argument("--maximize", choices=("efficiency", "score"), default="efficiency",
                   help="among the settings within the limits, the highest efficiency pT > 1 GeV (default) or "
                        "TrackML score (models that target low-pT particles)")


def int_list(text):
    """'3' or '3,4,6' or '3-8' -> [int]."""
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi) + 1) if hi else [int(lo)])
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: sizes of at least 1 expected")
    return out


def write_yaml(path, cfg):
    feats = ", ".join(f"{{name: {n}, scale: {s!r}}}" for n, s in cfg["features"])
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
        f"track_builder: {cfg.get('track_builder', 'components')}",
    ]
    lines += [f"{k}: {cfg[k]!r}" for k in ("extend_cut", "walk_max_turn", "stitch_max_xy", "stitch_max_z")
              if cfg.get(k) is not None]
    lines += [
        "embedding_chunk: 4096  # the embedding is a per-hit MLP: hits in chunks on the CPU",
        f"volumes: [{', '.join(str(v) for v in cfg['volumes'])}]",
        "edge_truth: same_particle",
        "models: {embedding: embedding.pt, filter: filter.pt, gnn: gnn.pt}",
        f"trained_on: {{pileup: {cfg['train_pileup']}, events: {cfg['train_events']}"
        + (", hard_scatter: true}" if cfg.get("hard_scatter") else "}"),
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", required=True, nargs="+", help="event file(s) (/truth, and cells for cell features)")
    p.add_argument("--val", nargs="+", required=True, help="validation event files (cuts and sizes are chosen on them)")
    p.add_argument("--out", required=True)
    p.add_argument("--train-pileup", default="200.0", help="recorded in the YAML (a number or a text like 0-200)")
    p.add_argument("--features", default="r,phi,z",
                   help="node features NAME[:SCALE],... (data.DEFAULT_SCALES; r,phi,z first): the extra ones "
                        "go to the models' node encoders as they are")
    p.add_argument("--volumes", default="7,8,9",
                   help="detector volumes whose hits the models see (the others get no track)")
    p.add_argument("--init", default=None,
                   help="start every trained stage from this folder's exported models (same sizes), "
                        "widened with zero weights for extra features (models.widen_state)")
    p.add_argument("--hard-scatter", action="store_true", help="recorded in the YAML: samples with hard scatter")
    p.add_argument("--max-train-events", type=int, default=None)
    p.add_argument("--max-val-events", type=int, default=None)
    p.add_argument("--reuse", default=None, help="folder of an earlier run: take the stages in --reuse-stages from it")
    p.add_argument("--reuse-stages", default="", help="comma list: embedding, filter")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--pt-min", type=float, default=0.9,
                   help="target particles (GeV): embedding positives, full weight in the edge losses")
    p.add_argument("--eff-pt", type=float, default=1.0, help="pT (GeV) of the pairs the radius and filter cut keep")
    p.add_argument("--embed-dim", type=int, default=8)
    p.add_argument("--embed-hidden", type=int, default=256)
    p.add_argument("--embed-layers", type=int, default=4)
    p.add_argument("--embed-epochs", type=int, default=14)
    p.add_argument("--embed-minutes", type=float, default=12.0)
    p.add_argument("--margin", type=float, default=1.0)
    p.add_argument("--pos-weight", type=float, default=1.0)
    p.add_argument("--max-pairs", type=int, default=60000)
    p.add_argument("--neg-random", type=float, default=2.0, help="random negative pairs per positive")
    p.add_argument("--hard-queries", type=int, default=4000)
    p.add_argument("--hard-k", type=int, default=32)
    p.add_argument("--pair-eff", type=float, default=0.98,
                   help="quantile of the distances of validation truth pairs above --eff-pt: the radius")
    p.add_argument("--k", type=int, default=64, help="max neighbours per hit")
    p.add_argument("--filter-hidden", type=int, default=128)
    p.add_argument("--filter-layers", type=int, default=3)
    p.add_argument("--filter-epochs", type=int, default=10)
    p.add_argument("--filter-minutes", type=float, default=8.0)
    p.add_argument("--filter-edges", type=int, default=20000, help="edges per step")
    p.add_argument("--filter-steps-per-event", type=int, default=16)
    p.add_argument("--filter-eff", type=float, default=0.99,
                   help="fraction of the true validation edges above --eff-pt the filter cut keeps")
    p.add_argument("--filter-lowpt-weight", type=float, default=1.0,
                   help="loss weight of the (negative) edges within one particle below --pt-min (0: ignored)")
    p.add_argument("--edge-pos-weight", type=float, default=2.0)
    p.add_argument("--gnn-hidden", type=int, default=64)
    p.add_argument("--gnn-iter", type=int, default=4)
    p.add_argument("--gnn-aggr", choices=("sum", "mean", "gated"), default="gated",
                   help="how a node sums its edges' messages (mean: divided by its degree; "
                        "gated: each weighted by a learned edge gate)")
    p.add_argument("--gnn-triplets", action=argparse.BooleanOptionalAction, default=True,
                   help="give the GNN's edge encoder triplet features (how well each edge continues "
                        "into its neighbours in r-z and curvature; models.triplet_features)")
    p.add_argument("--gnn-init", default=None,
                   help="start the GNN from the weights of this exported gnn.pt (same architecture): "
                        "more training for a run that stopped at its time budget")
    p.add_argument("--gnn-epochs", type=int, default=20)
    p.add_argument("--gnn-minutes", type=float, default=50.0)
    p.add_argument("--gnn-edges", type=int, default=10_000_000, help="edge subsample per step (default: all)")
    p.add_argument("--gnn-sector", type=int, default=8, help="train on 1/N phi sectors of events (1: whole)")
    p.add_argument("--gnn-steps-per-event", type=int, default=4)
    p.add_argument("--stop-after", default="", help="embedding or filter: stop after that stage (experiments)")
    p.add_argument("--gnn-pt-min", type=float, default=None,
                   help="target particles of the GNN labels (default: --pt-min)")
    p.add_argument("--gnn-lowpt-weight", type=float, default=1.0,
                   help="loss weight of the (negative) edges within one particle below --pt-min")
    p.add_argument("--min-track-size", type=int_list, default=[3],
                   help="comma list: the smallest track kept; with several, the validation scan chooses "
                        "it with the GNN cut (whole-detector tracks are long: 3,4,5,6,7,8)")
    add_track_scan_args(p)
    p.add_argument("--track-builder", choices=("walk", "components"), default="walk",
                   help="how kept edges become tracks, for the GNN cut scan and in pipeline.yaml "
                        "(walk: merged components split into paths; models/README.md)")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.out, exist_ok=True)
    stage_time = {}
    reuse = set(s for s in a.reuse_stages.split(",") if s) if a.reuse else set()

    names = data.parse_features(a.features)
    n_extra = len(names) - 3
    volumes = sorted(int(v) for v in a.volumes.split(",") if v)
    geometry = data.load_geometry() if data.needs_geometry(names) else None
    train_ev = [e for path in a.train for e in data.read_events(path, a.max_train_events)]
    val_ev = [e for path in a.val for e in data.read_events(path, a.max_val_events)]
    tr, va = prepare(train_ev, names, geometry, volumes), prepare(val_ev, names, geometry, volumes)
    log(f"read {len(train_ev)} training events ({np.mean([len(e['x']) for e in tr]):.0f} hits/event in volumes "
        f"{volumes}), {len(val_ev)} validation events; features {', '.join(n for n, _ in names)}")

    def fresh(name):
        """A new model of stage `name`, from --init's weights if given."""
        m = models.build(name, vars(a))
        if a.init:
            old = dict(torch.jit.load(os.path.join(a.init, name + ".pt")).state_dict())
            m.load_state_dict(models.widen_state(name, models.training_state(old), n_extra))
            log(f"{name}: weights from {a.init}")
        return m

    # 1. embedding
    t = time.time()
    if "embedding" in reuse:
        emb = torch.jit.load(os.path.join(a.reuse, "embedding.pt"))
        log(f"embedding from {a.reuse}")
    else:
        emb = fresh("embedding")
        log(f"embedding: {models.n_params(emb)} parameters, D={a.embed_dim}")
        train_embedding(emb, tr, a, rng)
        torch.jit.save(torch.jit.script(emb.float()), os.path.join(a.out, "embedding.pt"))
    emb.eval()
    r = pick_radius(emb, va, a)
    log(f"radius {r:.4f} (quantile {a.pair_eff} of pT > {a.eff_pt} truth pairs), k {a.k}")
    a.lowpt_weight = a.filter_lowpt_weight
    a.label_pt = a.pt_min
    build_graphs(emb, tr + va, r, a.k, a)
    ne = np.mean([e["graph"].shape[1] for e in tr])
    pur = np.mean([float(e["graph_y"].mean()) if e["graph"].shape[1] else 0 for e in tr])
    got = pt_pair_efficiency(va, "graph", a.eff_pt)
    log(f"graphs built: {ne:.0f} edges/event, target-edge fraction {pur:.3f}, "
        f"validation pair efficiency pT > {a.eff_pt}: {got:.4f}, "
        f"all: {pt_pair_efficiency(va, 'graph', -1.0):.4f}")
    if got < a.pair_eff - 0.002:
        # the radius keeps a.pair_eff of these pairs by construction; the rest is the k cap
        log(f"warning: --k {a.k} drops {a.pair_eff - got:.4f} of the validation pairs above {a.eff_pt} GeV "
            f"that the radius keeps (hits with more than {a.k} neighbours within it); a larger --k keeps them")
    stage_time["embedding"] = time.time() - t
    if a.stop_after == "embedding":
        return

    # 2. filter
    t = time.time()
    if "filter" in reuse:
        filt = torch.jit.load(os.path.join(a.reuse, "filter.pt"))
        log(f"filter from {a.reuse}")
    else:
        filt = fresh("filter")
        log(f"filter: {models.n_params(filt)} parameters")
        train_edges(filt, tr, "graph", a, a.filter_epochs, a.filter_minutes, a.filter_edges, 1,
                    a.filter_steps_per_event, "filter", rng)
        torch.jit.save(torch.jit.script(filt.float()), os.path.join(a.out, "filter.pt"))
    filt.eval()
    fs_va = scores(filt, va, "graph")
    true_s = np.concatenate([s[pair_mask(e, e["graph"], a.eff_pt)] for s, e in zip(fs_va, va)])
    fcut = float(np.quantile(true_s, 1 - a.filter_eff)) if len(true_s) else 0.5
    fcut = float(min(max(fcut, 0.001), 0.5))
    log(f"filter cut {fcut:.4f} (keeps {a.filter_eff} of the validation truth pairs above {a.eff_pt} GeV in the graph)")
    a.lowpt_weight = a.gnn_lowpt_weight
    a.label_pt = a.pt_min if a.gnn_pt_min is None else a.gnn_pt_min
    for ev_list, sc in ((tr, scores(filt, tr, "graph")), (va, fs_va)):
        for e, s in zip(ev_list, sc):
            m = torch.from_numpy(s > fcut)
            e["fgraph"] = e["graph"][:, m]
            e["fgraph_y"], e["fgraph_w"] = edge_targets(e, e["fgraph"], a)
    ne = np.mean([e["fgraph"].shape[1] for e in tr])
    pur = np.mean([float(e["fgraph_y"].mean()) if e["fgraph"].shape[1] else 0 for e in tr])
    log(f"after filter: {ne:.0f} edges/event, target-edge fraction {pur:.3f}, validation pair efficiency "
        f"pT > {a.eff_pt}: {pt_pair_efficiency(va, 'fgraph', a.eff_pt):.4f}")
    stage_time["filter"] = time.time() - t
    if a.stop_after == "filter":
        return

    # 3. GNN, on whole filtered graphs as at inference
    t = time.time()
    gnn = fresh("gnn") if not a.gnn_init else models.build("gnn", vars(a))
    if a.gnn_init:
        try:
            gnn.load_state_dict(models.widen_state("gnn", models.training_state(
                dict(torch.jit.load(a.gnn_init).state_dict())), n_extra))
        except (RuntimeError, ValueError) as err:  # a missing file, or other sizes or options
            sys.exit(f"--gnn-init {a.gnn_init}: cannot start this GNN from it (same --gnn-hidden, "
                     f"--gnn-aggr, --gnn-triplets needed): {str(err).splitlines()[0]}")
        log(f"gnn: weights from {a.gnn_init}")
    log(f"gnn: {models.n_params(gnn)} parameters, {a.gnn_iter} iterations")
    train_edges(gnn, tr, "fgraph", a, a.gnn_epochs, a.gnn_minutes, a.gnn_edges, a.gnn_sector,
                a.gnn_steps_per_event, "gnn", rng)
    gnn.eval()
    stage_time["gnn"] = time.time() - t
    # The weights first: scripting reads models.py from disk, and a file edited while the run
    # trained makes it fail (a 45-minute GNN was lost so); models.build + load_state_dict
    # recovers from this file.
    torch.save(gnn.state_dict(), os.path.join(a.out, "gnn_state.pt"))

    # 4. export and cuts
    paths = {n: os.path.join(a.out, n + ".pt") for n in ("embedding", "filter", "gnn")}
    for n, m in (("embedding", emb), ("filter", filt), ("gnn", gnn)):
        # The GNN is exported shaped for inference (models.InteractionGNNInference).
        sm = m if isinstance(m, torch.jit.ScriptModule) else torch.jit.script(models.inference_shaped(m.float()))
        torch.jit.save(sm, paths[n])
    scripted = {n: torch.jit.load(p) for n, p in paths.items()}
    lg_va = [pipeline.gnn_logits(scripted["gnn"], e["x"], e["fgraph"].numpy()) for e in va]
    gs_va = [torch.sigmoid(torch.from_numpy(lg)).numpy() for lg in lg_va]
    samples = [(e["ev"], e["fgraph"].numpy(), lg) for e, lg in zip(va, lg_va)]
    (cut, size, ext, turn), _ = pipeline.scan_track_settings(samples, GNN_CUTS, a.min_track_size, a.track_builder,
                                                             log, a.extend_cuts, a.max_fake_rate, a.max_turns,
                                                             a.maximize, a.min_efficiency, a.stitch or None)
    cfg = {"radius": r, "k": a.k, "filter_cut": fcut, "gnn_cut": cut, "min_track_size": size,
           "track_builder": a.track_builder, "extend_cut": ext, "walk_max_turn": turn}
    if a.stitch:
        cfg.update(stitch_max_xy=a.stitch[0], stitch_max_z=a.stitch[1])
    log(f"gnn cut {cut}, min track size {size}, extend cut {ext}, max turn {turn} (chosen on validation)")
    with torch.no_grad():
        dim = int(emb(va[0]["x"][:1]).shape[1])
    cfg.update({"embedding_dim": dim, "volumes": volumes, "features": names, "train_pileup": a.train_pileup,
                "train_events": len(train_ev), "hard_scatter": a.hard_scatter})
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
