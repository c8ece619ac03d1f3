"""The generator's truth weights are TrackML's: computed here as the challenge's scoring
library computes them (trackml-library, weights.py, weight_hits_phase1), from the file's own
columns, and compared with what `trkaas generate` wrote.

The library's rule, restated: a hit's weight is weight_pt(particle pT) * weight_order(rank,
n_hits), normalised over the event. weight_pt interpolates (0.05, 0.2), (0.5, 0.2), (3, 1),
0 below 0.05 GeV and 1 above 3. weight_order stretches the proposal 10 8 6 5 3 3 3 5 6
over the particle's n_hits (interpolated at the hit's rank by |tz - vz|; tied hits share
pandas' average rank, truncated), normalised to sum 1; 0 for n_hits < 4; n_hits above 20
use the profile of 20, and hits ranked 20 or later get 0.

usage: trackml_weights_test.py TRKAAS_BINARY SCRATCH_DIR
"""
import os
import subprocess
import sys

import h5py
import numpy as np

PROPOSAL = np.array([10.0, 8.0, 6.0, 5.0, 3.0, 3.0, 3.0, 5.0, 6.0])


def order_weight(rank, nhits):
    if nhits < 4:
        return 0.0
    nhits = min(nhits, 20)
    if rank >= 20:
        return 0.0
    supports = np.arange(len(PROPOSAL)) * (nhits - 1) / (len(PROPOSAL) - 1)
    w = np.interp(np.arange(nhits), supports, PROPOSAL)
    return w[rank] / w.sum()


def expected_weights(f, i):
    a, n = int(f["index/hit_offset"][i]), int(f["index/hit_count"][i])
    pa, pn = int(f["index/particle_offset"][i]), int(f["index/particle_count"][i])
    pid = f["truth/particle_id"][a:a + n]
    tz = f["truth/tz"][a:a + n]
    part = {k: f["particles/" + k][pa:pa + pn] for k in ("particle_id", "vz", "px", "py", "n_hits")}
    row = {int(p): k for k, p in enumerate(part["particle_id"])}
    pt = np.hypot(part["px"].astype(np.float64), part["py"].astype(np.float64))
    w_pt = np.interp(pt, [0.05, 0.5, 3.0], [0.2, 0.2, 1.0], left=0.0, right=1.0)
    w = np.zeros(n)
    stats = {"long": 0, "short": 0, "soft": 0, "tied": 0}
    for p in np.unique(pid[pid != 0]):
        k = row[int(p)]
        hits = np.flatnonzero(pid == p)
        assert len(hits) == part["n_hits"][k], (p, len(hits), part["n_hits"][k])
        d = np.abs(tz[hits] - part["vz"][k])
        # pandas' rank(): ties get the average of their 1-based ranks; the library
        # subtracts 1 and truncates to int.
        values, inverse, counts = np.unique(d, return_inverse=True, return_counts=True)
        first = np.cumsum(counts) - counts + 1
        rank = (first + (counts - 1) / 2.0 - 1).astype(int)[inverse]
        for r, h in zip(rank, hits):
            w[h] = w_pt[k] * order_weight(r, len(hits))
        stats["tied"] += len(values) < len(d)
        stats["long"] += len(hits) > 20
        stats["short"] += len(hits) < 4
        stats["soft"] += pt[k] <= 0.5
    return w / w.sum(), stats


def main():
    trkaas, tmp = sys.argv[1], sys.argv[2]
    os.makedirs(tmp, exist_ok=True)
    h5 = os.path.join(tmp, "weights.h5")
    # Whole detector with the full physics: loopers (> 20 hits), particles with < 4 hits,
    # secondaries and noise all occur.
    subprocess.run([trkaas, "generate", "-n", "2", "--pileup", "20", "--seed", "5",
                    "--physics", "full", "-f", "-o", h5], check=True)
    total = {"long": 0, "short": 0, "soft": 0, "tied": 0}
    with h5py.File(h5, "r") as f:
        for i in range(len(f["index/event_id"])):
            a, n = int(f["index/hit_offset"][i]), int(f["index/hit_count"][i])
            got = f["truth/weight"][a:a + n].astype(np.float64)
            want, stats = expected_weights(f, i)
            for key in total:
                total[key] += stats[key]
            bad = np.flatnonzero(~np.isclose(got, want, rtol=1e-5, atol=1e-9))
            assert len(bad) == 0, (f"event {i}: {len(bad)} of {n} weights differ, e.g. hit "
                                   f"{bad[:3]}: file {got[bad[:3]]} TrackML {want[bad[:3]]}")
            assert abs(got.sum() - 1.0) < 1e-4, got.sum()
    # The cases the rule treats apart were all exercised (ties are rare: not required).
    assert min(total[k] for k in ("long", "short", "soft")) > 0, total
    print("trackml weights agree:", total)


if __name__ == "__main__":
    main()
