#!/usr/bin/env python3
"""Plots and sizing advice from the CSV written by `trkaas report --csv` (one row per service run).

  trkaas_plots.py scan     CSV [-o OUTDIR] [--calibration LABEL] [--nodes 1,2,4,8,16] [--busy-target 0.9]
  trkaas_plots.py campaign CSV [-o OUTDIR]

scan (rows = the points of a producers-per-server scan, one series per `workers` value; rows with the
same workers and producers_per_server are averaged) writes to OUTDIR (default: the CSV's folder):
  throughput.png      events/s versus producers per server, measured (markers) and modelled (dashed)
  stages.png          per point, the server's stage times (stacked, ms/event) beside the producer's
                      cost per event (read + send + write)
  server_busy.png     server busy and producer wait fractions versus producers per server
  recommendation.txt  per workers value, the smallest producers per server whose measured server
                      busy fraction reaches --busy-target (or, if none does, the busiest point)
  model.csv           nodes, producers_per_server, predicted_events_per_s, predicted_server_busy
and prints the recommendation and a measured-versus-predicted table.

Throughput model, calibrated on ONE row (--calibration LABEL, default the first row of the CSV):
  A producer is a closed loop: it spends producer_ms_per_event of CPU per event and keeps at most
  `concurrency` events in flight, each of which spends at least stage_total_ms in a server. One
  producer therefore delivers at most
      r_p = min(1000 / producer_ms_per_event, concurrency * 1000 / stage_total_ms)   events/s
  (the second term is dropped when concurrency or stage_total_ms is missing). One fully busy server
  completes r_s = server_events_per_s events/s (else events_per_s / (servers * server_busy)).
  With N nodes, S = servers / nodes servers per node (of the calibration row) and P producers per
  server, the servers are offered P * r_p events/s each and complete what they can:
      predicted events/s   = N * S * min(P * r_p, r_s)
      predicted server busy = min(1, P * r_p / r_s)
  model.csv holds every node count of --nodes times every ratio in 1, 2, 4, ... up to
  max(largest measured ratio, 16) plus the measured ratios. For the measured points the prediction
  uses the point's own number of servers (= nodes * S when the scan keeps S fixed).
  The model ignores: queueing (the knee at P * r_p = r_s is sharp in the model, rounded in reality:
  producers wait on results before the servers are saturated); cores shared between producers and
  server workers on CPU nodes (more producers per node slow the servers down, so r_s falls with P);
  the network and MPI (transfer time, bandwidth, message rate), file-system contention when many
  producers read at once, load imbalance between servers, start-up and drain time included in
  wall_s, and several servers sharing one GPU. It is an upper bound that is exact only near the
  calibration point; calibrate on a point where neither side is saturated if you can.

campaign (rows = the runs of a campaign, labels like chunk-0003/r002; the run number comes from
the `run` column, else from the label's rNNN) writes campaign_runs.png (events done per chunk
stacked by run number; events/s per run) and prints the totals: runs, events done, events failed
and the wall time summed over the runs.

Required columns: scan: label, producers_per_server, workers, events_per_s, server_busy;
campaign: label, events_done. Other columns are optional, an empty field means "not available",
and unknown columns are ignored. Exit codes: 0 ok, 1 matplotlib missing, 2 bad usage or bad input.
"""
import argparse
import csv
import math
import os
import re
import sys

PROG = "trkaas_plots"
SCAN_REQUIRED = ("label", "producers_per_server", "workers", "events_per_s", "server_busy")
CAMPAIGN_REQUIRED = ("label", "events_done")
TEXT_COLUMNS = {"label", "mode"}
STAGES = ("features", "embedding", "graph", "filter", "gnn", "tracks")
NUMERIC_COLUMNS = {
    "run", "nodes", "servers", "producers", "producers_per_server", "workers", "concurrency",
    "batch_hits", "events_done", "events_failed", "wall_s", "events_per_s", "hits_per_event",
    "latency_p50_ms", "latency_p99_ms", "queue_p50_ms", "queue_p99_ms", "server_busy",
    "producer_wait", "producer_ms_per_event", "server_events_per_s", "stage_total_ms", "gpu_busy",
    "efficiency", "fake_rate"} | {f"stage_{s}_ms" for s in STAGES}


class InputError(Exception):
    """Bad input or usage: reported on one line, exit code 2."""


def g(x):
    """A number the way people write it: 4, 0.5, 12.25."""
    return f"{x:g}"


# ---------------------------------------------------------------- reading

def read_rows(path, required):
    """Rows of the CSV as dicts: text columns as str, the others as float (None when empty)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if not header or not any(h.strip() for h in header):
                raise InputError(f"{path}: empty file (no header line)")
            header = [h.strip() for h in header]
            missing = [c for c in required if c not in header]
            if missing:
                raise InputError(f"{path}: missing required column{'s' if len(missing) > 1 else ''} "
                                 f"{', '.join(missing)} (header: {','.join(header)})")
            rows = []
            for fields in reader:
                if not any(v.strip() for v in fields):
                    continue
                row = {"_line": reader.line_num}
                for name, raw in zip(header, fields):
                    if name:
                        row[name] = parse_field(path, reader.line_num, name, raw.strip())
                for c in required:
                    if row.get(c) is None or row[c] == "":
                        raise InputError(f"{path}: line {reader.line_num}: required column {c} is empty")
                rows.append(row)
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    except (csv.Error, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not a readable CSV file: {e}") from None
    if not rows:
        raise InputError(f"{path}: no data rows after the header")
    return rows


def parse_field(path, line, name, raw):
    if name in TEXT_COLUMNS:
        return raw
    if raw == "":
        return None
    try:
        v = float(raw)
    except ValueError:
        if name in NUMERIC_COLUMNS:
            raise InputError(f"{path}: line {line}: column {name}: not a number: {raw!r}") from None
        return raw  # unknown text column: kept, never used
    return v if math.isfinite(v) else None


def num(row, col):
    v = row.get(col)
    return v if isinstance(v, float) else None


def scan_series(rows):
    """{workers: [points sorted by producers_per_server]}; duplicate points are averaged."""
    groups = {}
    for r in rows:
        groups.setdefault((r["workers"], r["producers_per_server"]), []).append(r)
    series = {}
    for (w, p), rs in sorted(groups.items()):
        pt = {"label": "+".join(r["label"] for r in rs), "runs": len(rs)}
        for col in {k for r in rs for k in r} - TEXT_COLUMNS:
            vals = [num(r, col) for r in rs if num(r, col) is not None]
            pt[col] = sum(vals) / len(vals) if vals else None
        series.setdefault(w, []).append(pt)
    return series


# ---------------------------------------------------------------- model

class Model:
    """Closed-loop producers feeding servers of fixed capacity (see the module docstring)."""

    def __init__(self, row, path):
        where = f"{path}: calibration row {row['label']!r} (line {row['_line']})"

        def need(col, value):
            if value is None or value <= 0:
                raise InputError(f"{where}: column {col} is missing or not > 0")
            return value

        self.label = row["label"]
        cost = need("producer_ms_per_event", num(row, "producer_ms_per_event"))
        self.r_p, self.bound = 1000.0 / cost, "producer CPU"
        conc, total = num(row, "concurrency"), num(row, "stage_total_ms")
        if conc and total and conc > 0 and total > 0 and conc * 1000.0 / total < self.r_p:
            self.r_p, self.bound = conc * 1000.0 / total, "concurrency x server latency"
        servers = need("servers", num(row, "servers"))
        r_s = num(row, "server_events_per_s")
        if r_s is None and row["server_busy"] > 0:
            r_s = row["events_per_s"] / (servers * row["server_busy"])
        self.r_s = need("server_events_per_s", r_s)
        self.nodes = num(row, "nodes") or 1.0
        self.per_node = servers / self.nodes

    def busy(self, ppr):
        return min(1.0, ppr * self.r_p / self.r_s)

    def events_per_s(self, servers, ppr):
        return servers * min(ppr * self.r_p, self.r_s)

    def describe(self):
        return (f"model calibrated on {self.label!r}: r_p = {self.r_p:.4g} events/s per producer "
                f"(bound: {self.bound}), r_s = {self.r_s:.4g} events/s per server, "
                f"S = {self.per_node:g} servers per node")


def pick_model(rows, args):
    if args.calibration is None:
        try:
            return Model(rows[0], args.csv)
        except InputError as e:
            print(f"{PROG}: warning: no model ({e}); pass --calibration LABEL", file=sys.stderr)
            return None
    for r in rows:
        if r["label"] == args.calibration:
            return Model(r, args.csv)
    raise InputError(f"{args.csv}: no row with label {args.calibration!r} (--calibration)")


def model_ratios(measured):
    upper, ratios, p = max(max(measured), 16.0), set(measured), 1.0
    while p <= upper:
        ratios.add(p)
        p *= 2
    return sorted(ratios)


# ---------------------------------------------------------------- plots

def pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        print(f"{PROG}: error: matplotlib is needed for the plots ({e})", file=sys.stderr)
        sys.exit(1)
    return plt


def ratio_axis(ax, xs):
    xs = sorted(set(xs))
    if xs and xs[0] > 0 and xs[-1] / xs[0] >= 4:
        ax.set_xscale("log", base=2)
        ax.minorticks_off()
    ax.set_xticks(xs, [g(x) for x in xs])
    ax.set_xlabel("producers per server")


def save(fig, path, written):
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    written.append(path)


def plot_throughput(plt, series, model, path, written):
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    xs = []
    for i, (w, pts) in enumerate(series.items()):
        x = [p["producers_per_server"] for p in pts]
        xs += x
        ax.plot(x, [p["events_per_s"] for p in pts], "o-", color=f"C{i}", label=f"workers={g(w)}")
        if model:
            y = [model.events_per_s(p.get("servers") or (p.get("nodes") or model.nodes) * model.per_node,
                                    p["producers_per_server"]) for p in pts]
            ax.plot(x, y, "--", color=f"C{i}", alpha=0.8,
                    label=f"model (calibrated on {model.label})" if i == 0 else None)
    ratio_axis(ax, xs)
    ax.set_ylabel("events/s")
    ax.set_ylim(bottom=0)
    ax.set_title("service throughput: measured (markers) and model (dashed)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, path, written)
    plt.close(fig)


def plot_stages(plt, series, path, written):
    pts = [(w, p) for w, ps in series.items() for p in ps]
    n = len(pts)
    fig, ax = plt.subplots(figsize=(max(7.5, 0.75 * n + 2), 4.8))
    x = list(range(n))
    bottom = [0.0] * n
    segments = [(s, [p.get(f"stage_{s}_ms") or 0.0 for _, p in pts]) for s in STAGES]
    other = [max(0.0, (p.get("stage_total_ms") or 0.0) - sum(v[i] for _, v in segments))
             for i, (_, p) in enumerate(pts)]
    if any(o > 0.01 * ((p.get("stage_total_ms") or 0) + 1e-12) for o, (_, p) in zip(other, pts)):
        segments.append(("other", other))
    for i, (name, vals) in enumerate(segments):
        ax.bar([v - 0.2 for v in x], vals, 0.38, bottom=bottom, color=f"C{i}", label=f"server: {name}")
        bottom = [b + v for b, v in zip(bottom, vals)]
    prod = [p.get("producer_ms_per_event") or 0.0 for _, p in pts]
    ax.bar([v + 0.2 for v in x], prod, 0.38, color="0.6", hatch="//", label="producer: read+send+write")
    if not any(bottom) and not any(prod):
        ax.text(0.5, 0.5, "no stage or producer timings in the CSV", transform=ax.transAxes, ha="center")
    ax.set_xticks(x, [f"w={g(w)}\nP={g(p['producers_per_server'])}" for w, p in pts], fontsize=8)
    ax.set_xlabel("scan point (workers, producers per server)")
    ax.set_ylabel("ms per event")
    ax.set_title("server stage times (left) and producer cost (right) per event")
    ax.grid(axis="y", alpha=0.3)
    top = max(bottom + prod)
    if top > 0:
        ax.set_ylim(0, top * 1.3)  # room for the legend above the bars
    ax.legend(fontsize=7, ncol=4, loc="upper center")
    save(fig, path, written)
    plt.close(fig)


def plot_busy(plt, series, target, path, written):
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    xs = []
    for i, (w, pts) in enumerate(series.items()):
        x = [p["producers_per_server"] for p in pts]
        xs += x
        ax.plot(x, [p["server_busy"] for p in pts], "o-", color=f"C{i}", label=f"workers={g(w)}: server busy")
        wait = [(xi, p.get("producer_wait")) for xi, p in zip(x, pts) if p.get("producer_wait") is not None]
        if wait:
            ax.plot(*zip(*wait), "s:", color=f"C{i}", label=f"workers={g(w)}: producer wait")
    ax.axhline(target, color="k", ls="--", lw=1, label=f"busy target {g(target)}")
    ratio_axis(ax, xs)
    ax.set_ylabel("fraction of wall time")
    ax.set_ylim(0, 1.05)
    ax.set_title("server busy and producer wait")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, path, written)
    plt.close(fig)


# ---------------------------------------------------------------- commands

def recommend(series, target):
    lines = []
    for w, pts in series.items():
        ok = [p for p in pts if p["server_busy"] >= target]
        if ok:
            p = ok[0]
            lines.append(f"workers={g(w)}: recommend {g(p['producers_per_server'])} "
                         f"producer{'' if p['producers_per_server'] == 1 else 's'} per server "
                         f"(server busy {p['server_busy']:.2f}, {p['events_per_s']:.1f} events/s)")
        else:
            p = max(pts, key=lambda q: q["server_busy"])
            lines.append(f"workers={g(w)}: no scan point reaches server busy {g(target)}; the busiest is "
                         f"{g(p['producers_per_server'])} producers per server (server busy "
                         f"{p['server_busy']:.2f}, {p['events_per_s']:.1f} events/s): scan more producers per server")
    return lines


def cmd_scan(args):
    rows = read_rows(args.csv, SCAN_REQUIRED)
    series = scan_series(rows)
    model = pick_model(rows, args)
    os.makedirs(args.outdir, exist_ok=True)
    written = []

    lines = recommend(series, args.busy_target)
    print(f"recommendation (busy target {g(args.busy_target)}):")
    for line in lines:
        print("  " + line)
    path = os.path.join(args.outdir, "recommendation.txt")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    written.append(path)

    if model:
        print(model.describe())
        print(f"  {'workers':>7} {'P/server':>8} {'nodes':>5} {'servers':>7} {'measured/s':>10} "
              f"{'model/s':>10} {'model/meas':>10} {'busy':>5} {'model busy':>10}")
        for w, pts in series.items():
            for p in pts:
                nodes = p.get("nodes") or model.nodes
                servers = p.get("servers") or nodes * model.per_node
                ppr = p["producers_per_server"]
                pred = model.events_per_s(servers, ppr)
                ratio = f"{pred / p['events_per_s']:.2f}" if p["events_per_s"] > 0 else "-"
                print(f"  {g(w):>7} {g(ppr):>8} {g(nodes):>5} {g(servers):>7} {p['events_per_s']:>10.2f} "
                      f"{pred:>10.2f} {ratio:>10} {p['server_busy']:>5.2f} {model.busy(ppr):>10.2f}")
        path = os.path.join(args.outdir, "model.csv")
        with open(path, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["nodes", "producers_per_server", "predicted_events_per_s", "predicted_server_busy"])
            for n in args.nodes:
                for ppr in model_ratios([r["producers_per_server"] for r in rows]):
                    out.writerow([n, f"{ppr:.12g}", f"{model.events_per_s(n * model.per_node, ppr):.12g}",
                                  f"{model.busy(ppr):.12g}"])
        written.append(path)

    plt = pyplot()
    plot_throughput(plt, series, model, os.path.join(args.outdir, "throughput.png"), written)
    plot_stages(plt, series, os.path.join(args.outdir, "stages.png"), written)
    plot_busy(plt, series, args.busy_target, os.path.join(args.outdir, "server_busy.png"), written)
    print("wrote:")
    for path in written:
        print("  " + path)
    return 0


def chunk_and_run(row):
    chunk, _, rest = row["label"].partition("/")
    run = num(row, "run")
    if run is None:
        m = re.search(r"r(\d+)$", rest)
        run = float(m.group(1)) if m else 1.0
    return chunk, int(run)


def cmd_campaign(args):
    rows = read_rows(args.csv, CAMPAIGN_REQUIRED)
    keyed = sorted(((chunk_and_run(r), r) for r in rows), key=lambda kr: kr[0])
    chunks = sorted({c for (c, _), _ in keyed})
    runs = sorted({k for (_, k), _ in keyed})
    done = sum(r["events_done"] for r in rows)
    failed = sum(num(r, "events_failed") or 0.0 for r in rows)
    walls = [num(r, "wall_s") for r in rows if num(r, "wall_s") is not None]
    os.makedirs(args.outdir, exist_ok=True)

    plt = pyplot()
    fig, (top, bot) = plt.subplots(2, 1, figsize=(max(7.5, 0.35 * len(rows) + 2), 7.5))
    cx = {c: i for i, c in enumerate(chunks)}
    bottom = [0.0] * len(chunks)
    for i, k in enumerate(runs):
        h = [0.0] * len(chunks)
        for (c, kk), r in keyed:
            if kk == k:
                h[cx[c]] += r["events_done"]
        top.bar(range(len(chunks)), h, 0.8, bottom=bottom, color=f"C{i % 10}", label=f"run {k}")
        bottom = [b + v for b, v in zip(bottom, h)]
    top.set_xticks(range(len(chunks)), chunks if len(chunks) <= 40 else [""] * len(chunks),
                   rotation=60, ha="right", fontsize=7)
    top.set_ylabel("events done")
    top.set_title(f"events done per chunk ({len(chunks)} chunks), stacked by run number")
    top.legend(fontsize=7, ncol=min(len(runs), 6))
    top.grid(axis="y", alpha=0.3)
    rate = [num(r, "events_per_s") for _, r in keyed]
    color = [f"C{runs.index(k) % 10}" for (_, k), _ in keyed]
    bot.bar(range(len(keyed)), [v or 0.0 for v in rate], 0.8, color=color)
    bot.set_xticks(range(len(keyed)), [r["label"] for _, r in keyed] if len(keyed) <= 40 else [""] * len(keyed),
                   rotation=60, ha="right", fontsize=7)
    bot.set_ylabel("events/s")
    bot.set_title("events/s per run (colour = run number)")
    bot.grid(axis="y", alpha=0.3)
    path = os.path.join(args.outdir, "campaign_runs.png")
    save(fig, path, [])
    plt.close(fig)

    print(f"runs: {len(rows)}")
    print(f"chunks: {len(chunks)}")
    print(f"events done: {done:g}")
    print(f"events failed: {failed:g}")
    print(f"wall time: {sum(walls):.1f} s summed over {len(walls)} runs")
    print("wrote:")
    print("  " + path)
    return 0


# ---------------------------------------------------------------- command line

def node_list(text):
    try:
        nodes = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of node counts: {text!r}") from None
    if not nodes or min(nodes) < 1:
        raise argparse.ArgumentTypeError(f"node counts must be >= 1: {text!r}")
    return nodes


def busy_target(text):
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0 < v <= 1:
        raise argparse.ArgumentTypeError(f"must be a fraction in (0, 1]: {text!r}")
    return v


def parse_args(argv):
    doc = __doc__.split("\n\n")
    ap = argparse.ArgumentParser(prog=os.path.basename(sys.argv[0]) or PROG,
                                 description=doc[0] + "\n\n" + doc[1],
                                 epilog="\n\n".join(doc[2:]),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True, metavar="{scan,campaign}")
    sc = sub.add_parser("scan", help="throughput/stage/busy plots, recommendation and model of a ratio scan",
                        description="Plots, recommendation and throughput model of a producers-per-server scan.",
                        epilog="The model is explained in `trkaas_plots.py --help`.")
    sc.add_argument("csv", metavar="CSV", help="file written by `trkaas report --csv`")
    sc.add_argument("-o", "--outdir", metavar="OUTDIR", help="output folder (default: the folder of CSV)")
    sc.add_argument("--calibration", metavar="LABEL", help="label of the row the model is calibrated on "
                    "(default: the first row)")
    sc.add_argument("--nodes", type=node_list, default=[1, 2, 4, 8, 16], metavar="N,N,...",
                    help="node counts for model.csv (default: 1,2,4,8,16)")
    sc.add_argument("--busy-target", type=busy_target, default=0.9, metavar="F",
                    help="server busy fraction the recommendation aims for (default: 0.9)")
    sc.set_defaults(func=cmd_scan)
    ca = sub.add_parser("campaign", help="events per chunk and events/s per run of a campaign",
                        description="Plot and totals of a campaign's runs (labels like chunk-0003/r002).")
    ca.add_argument("csv", metavar="CSV", help="file written by `trkaas report --csv`")
    ca.add_argument("-o", "--outdir", metavar="OUTDIR", help="output folder (default: the folder of CSV)")
    ca.set_defaults(func=cmd_campaign)
    args = ap.parse_args(argv)
    if args.outdir is None:
        args.outdir = os.path.dirname(os.path.abspath(args.csv))
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        return args.func(args)
    except InputError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
    except OSError as e:
        print(f"{PROG}: error: {e.filename or args.outdir}: {e.strerror or e}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
