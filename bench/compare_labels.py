#!/usr/bin/env python3
"""Compare the C++ tracks file with the labels of bench/python_pipeline.py, up to renaming.

  python3 bench/compare_labels.py tracks.h5 labels.npz

For every event in both, says whether the two partitions of the event's hits into tracks
are identical (track ids renamed freely; -1 = no track is a label like any other, so a hit
in no track must be in no track on both sides). When not, reports the fraction of hits
whose track differs: a hit counts as differing when its track on one side, matched to the
track on the other side that shares most of its hits, is not where it lies there.
Exit status 0 when all events are identical, 1 when some differ, 2 on a wrong input.
"""

import sys

import h5py
import numpy as np


def read_tracks(path):
    """{event id: (hit ids, labels)} from a trkaas tracks file."""
    with h5py.File(path, "r") as f:
        fmt = f.attrs.get("format")
        fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
        if fmt != "trkaas-tracks":
            raise ValueError(f"'{path}': format is {fmt!r}, expected 'trkaas-tracks'")
        ids, off, cnt = (f["index/" + k][:] for k in ("event_id", "offset", "count"))
        hit, label = f["tracks/hit_id"][:], f["tracks/track_id"][:]
    return {int(e): (hit[o:o + n], label[o:o + n]) for e, o, n in zip(ids, off, cnt)}


def read_npz(path):
    z = np.load(path)
    out = {}
    for e, o, n in zip(z["event_ids"], z["offsets"], z["counts"]):
        out[int(e)] = (z["hit_ids"][o:o + n], z["labels"][o:o + n])
    return out


def differing_fraction(a, b):
    """Fraction of hits not in the best-matching track: each (a-label, b-label) pair of
    co-occurring labels, a hit agrees when its pair is the largest for its a-label and
    also for its b-label (so renaming alone gives 0, and a split or merge counts)."""
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    pairs, ip, count = np.unique(ia * (ib.max() + 1) + ib, return_inverse=True,
                                 return_counts=True)
    pa, pb = pairs // (ib.max() + 1), pairs % (ib.max() + 1)
    best_a = np.zeros(ia.max() + 1, dtype=np.int64)
    np.maximum.at(best_a, pa, count)
    best_b = np.zeros(ib.max() + 1, dtype=np.int64)
    np.maximum.at(best_b, pb, count)
    good = (count == best_a[pa]) & (count == best_b[pb])
    return 1.0 - good[ip].sum() / len(a)


def same_partition(a, b):
    """Identical up to renaming: the label pairs are a bijection, -1 mapped to -1."""
    pairs = np.unique(np.stack([a, b]), axis=1)
    bijection = len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))
    return bijection and np.array_equal(a == -1, b == -1)


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        cpp, py = read_tracks(argv[1]), read_npz(argv[2])
    except (OSError, KeyError, ValueError) as e:
        print(f"compare_labels: {e}", file=sys.stderr)
        return 2
    common = sorted(set(cpp) & set(py))
    if not common:
        print(f"compare_labels: no event is in both {argv[1]} and {argv[2]}", file=sys.stderr)
        return 2
    only = sorted(set(cpp) ^ set(py))
    if only:
        print(f"events in only one file (not compared): {only}")
    all_same = True
    for e in common:
        (ha, la), (hb, lb) = cpp[e], py[e]
        if len(ha) != len(hb) or not np.array_equal(np.sort(ha), np.sort(hb)):
            print(f"event {e}: the hit ids differ ({len(ha)} vs {len(hb)} hits)")
            all_same = False
            continue
        la, lb = la[np.argsort(ha)], lb[np.argsort(hb)]
        tracks = (len(np.unique(la[la >= 0])), len(np.unique(lb[lb >= 0])))
        if same_partition(la, lb):
            print(f"event {e}: identical up to renaming ({len(la)} hits, {tracks[0]} tracks)")
        else:
            all_same = False
            print(f"event {e}: DIFFERENT, {differing_fraction(la, lb):.4%} of {len(la)} hits "
                  f"in another track; tracks {tracks[0]} vs {tracks[1]}, hits without a track "
                  f"{int((la < 0).sum())} vs {int((lb < 0).sum())}")
    return 0 if all_same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
