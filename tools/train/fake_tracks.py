#!/usr/bin/env python3
"""What the fake tracks of a `trkaas run` are, and what a size cut by estimated pT would cost.

    fake_tracks.py RUN_DIR EVENTS.h5 [EVENTS.h5 ...] [--min-hits 6]

RUN_DIR is a `trkaas run -o` directory (its run-*/tracks-*.h5), EVENTS.h5 the event files it
ran on (with truth). Tracks of at least --min-hits hits, whole-event scope, the matching of
evaluate.py (trkaas_train.metrics: double majority). A fake is a *fragment* when more than
half of the track is one particle that has more than twice the track's hits of it, *noise*
when more than half is noise hits, else *mixed*; counted by the particle's pT and size. Then, for a few pT and size thresholds, the fake rate left and
the TrackML score lost when tracks below both are dropped (pT estimated from the circle
through the innermost, middle and outermost hit in xy, B = 2 T).
"""
import argparse
import glob
import json
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from trkaas_train import data, metrics  # noqa: E402


def pt_bin(pt):
    return "<0.2" if pt < 0.2 else "0.2-0.3" if pt < 0.3 else "0.3-0.5" if pt < 0.5 else "0.5-1" if pt < 1 else ">1"


def circle_pt(x, y):
    """pT (GeV) of the circle through the innermost, middle and outermost point (mm), 2 T."""
    r = np.hypot(x, y)
    o = np.argsort(r)
    p1, p2, p3 = (np.array([x[o[i]], y[o[i]]]) for i in (0, len(o) // 2, len(o) - 1))
    a, b, c = np.linalg.norm(p2 - p1), np.linalg.norm(p3 - p2), np.linalg.norm(p3 - p1)
    d1, d2 = p2 - p1, p3 - p1
    cross = abs(d1[0] * d2[1] - d1[1] * d2[0])
    radius = a * b * c / (2 * cross) if cross > 1e-9 else 1e9
    return 0.3 * 2.0 * radius / 1000.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("events", nargs="+")
    ap.add_argument("--min-hits", type=int, default=6)
    ap.add_argument("--json", help="also write the counts and rates to this file")
    args = ap.parse_args()
    events = {}
    for fn in args.events:
        for ev in data.read_events(fn):
            events[int(ev["event_id"])] = ev
    files = sorted(glob.glob(os.path.join(args.run_dir, "run-*", "tracks-*.h5")))
    if not files:
        sys.exit(f"fake_tracks: no run-*/tracks-*.h5 in {args.run_dir}")
    kinds, rows, counts = {}, [], []
    for tf in files:
        with h5py.File(tf) as f:
            for k, eid in enumerate(f["index/event_id"][:]):
                if int(eid) not in events:
                    sys.exit(f"fake_tracks: event {eid} of {tf} is in none of the event files")
                a, n = int(f["index/offset"][k]), int(f["index/count"][k])
                hid, tid = f["tracks/hit_id"][a:a + n], f["tracks/track_id"][a:a + n]
                ev = events[int(eid)]
                order = np.argsort(ev["hit_id"])
                pid = ev["particle_id"].astype(np.int64)
                label = np.full(len(pid), -1, np.int64)
                label[order[np.searchsorted(ev["hit_id"][order], hid)]] = tid
                # The matching is evaluate.py's (trkaas_train.metrics): totals and each track's
                # majority particle.
                ids, pts = data.particle_pt(ev)
                counts.append(metrics.track_metrics(label, pid, ev["weight"], lambda q: data.lookup(ids, pts, q, 0.0),
                                                    min_hits=args.min_hits))
                tsize, psize, best = metrics.majorities(label, pid, ev["weight"])
                noisy = label[(label >= 0) & (pid == 0)]
                noise = dict(zip(*(v.tolist() for v in np.unique(noisy, return_counts=True))))
                o = np.argsort(label, kind="stable")
                ls = label[o]
                starts = np.r_[0, np.flatnonzero(ls[1:] != ls[:-1]) + 1, len(ls)]
                for s, e in zip(starts[:-1], starts[1:]):
                    t, cnt = int(ls[s]), e - s
                    if t < 0 or cnt < args.min_hits:
                        continue
                    p, cc, w = best.get(t, (0, 0, 0.0))
                    matched = 2 * cc > cnt and 2 * cc > psize.get(p, 0)
                    rows.append((circle_pt(ev["x"][o[s:e]], ev["y"][o[s:e]]), cnt, not matched, w if matched else 0.0))
                    if matched:
                        continue
                    pt = float(data.lookup(ids, pts, np.array([p]), 0.0)[0]) if p else 0.0
                    kind = ("fragment" if 2 * cc > cnt else "noise" if 2 * noise.get(t, 0) > cnt else "mixed")
                    keys = [(kind, "pT " + pt_bin(pt))]
                    if kind == "fragment":
                        keys.append((kind, "holds <30% of its particle" if cc < 0.3 * psize[p] else "holds 30-50% of its particle"))
                        keys.append((kind, "particle <20 hits" if psize[p] < 20 else "particle 20-39 hits" if psize[p] < 40 else "particle >=40 hits"))
                    if kind == "mixed":
                        keys.append((kind, "largest particle <30%" if cc < 0.3 * cnt else "largest particle 30-50%"))
                    for key in keys:
                        kinds[key] = kinds.get(key, 0) + 1
    n_events = len(counts)
    total, summed = metrics.summarize_tracks(counts)
    rows = np.array(rows)
    pt, n, fake, weight = rows.T
    fake = fake.astype(bool)
    print(f"{args.run_dir}: {n_events} event(s), {summed['n_tracks']} tracks of >= {args.min_hits} hits, "
          f"{summed['n_fake']} fake (rate {total['fake_rate']:.4f}), TrackML score {total['trackml_score']:.4f}")
    for key in sorted(kinds):
        print(f"  {key[0]:9s} {key[1]:30s} {kinds[key]:6d}")
    print("dropping tracks below an estimated pT and a size:")
    cuts = []
    for cut in (0.3, 0.4, 0.5, 0.7):
        for nmin in (8, 10, 12):
            drop = (pt < cut) & (n < nmin)
            cuts.append({"pt_below": cut, "hits_below": nmin, "fake_rate": float(fake[~drop].mean()),
                         "score_lost": float(weight[drop].sum() / n_events)})
            print(f"  pT < {cut} GeV and < {nmin} hits: fake rate {cuts[-1]['fake_rate']:.4f}, "
                  f"score lost {cuts[-1]['score_lost']:.4f}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"events": n_events, "tracks": summed["n_tracks"], "fakes": summed["n_fake"],
                       "fake_rate": total["fake_rate"], "trackml_score": total["trackml_score"],
                       "kinds": {" / ".join(k): v for k, v in sorted(kinds.items())}, "cuts": cuts}, out, indent=1)


if __name__ == "__main__":
    main()
