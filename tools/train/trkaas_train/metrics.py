"""Edge and track metrics against truth.

Track matching (per event; a "track" is a label >= 0 with at least min_hits hits):
- a track *matches* a particle (double majority) if > 50% of the track's hits belong to the
  particle and > 50% of the particle's hits (in the event) are in the track;
- efficiency: matched particles / particles with >= 3 hits (all, and pT > 1 GeV);
- fake rate: tracks that match no particle / tracks;
- duplicate rate: tracks whose majority particle (> 50% of the track's hits) is also the
  majority particle of another track holding more of that particle's hits (ties: the
  smaller label wins), / tracks. A duplicate is usually not a double-majority match, so it is
  also counted as fake;
- TrackML score (official): sum of the truth weights of the hits shared by each track and its
  majority particle, for the tracks (any size; label -1 = no track) whose majority particle has
  > 50% of the track's hits and > 50% of its own hits in the track. No renormalisation: the
  event's weights sum to 1, so hits the pipeline does not process cost score.
  trackml_score_fraction: the same sum / the weight of the hits given (the processed hits'
  share found).

Scope: the counts look only at the hits they are given. Given the processed hits (the model's
volumes), a particle's hits are its processed hits; given the whole event (unprocessed hits
labelled -1), a pixel track of a particle that also crossed the strips is not a match."""
import numpy as np


def _pairs(labels, pid, weight):
    """Hit counts and weight sums of (track, particle) pairs over hits with a track label and
    particle_id != 0."""
    m = (labels >= 0) & (pid != 0)
    if not m.any():
        z = np.zeros(0, np.int64)
        return z, z, z, np.zeros(0)
    key = np.stack([labels[m], pid[m]], 1)
    u, inv, c = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    inv = inv.reshape(-1)
    w = np.bincount(inv, weights=weight[m], minlength=len(u))
    return u[:, 0], u[:, 1], c, w


def majorities(labels, pid, weight):
    """The matching's first step. Returns (tsize, psize, best): hits per track label >= 0 (noise
    included), hits per particle (pid != 0), and per track that has particle hits its
    majority candidate (particle, its hits in the track, their weight): the particle with the
    most hits in the track, ties to the smaller id. A double-majority match is
    2 * hits > tsize[track] and 2 * hits > psize[particle]."""
    labels = np.asarray(labels, np.int64)
    pid = np.asarray(pid, np.int64)
    weight = np.asarray(weight, np.float64)
    up, pc = np.unique(pid[pid != 0], return_counts=True)
    psize = dict(zip(up.tolist(), pc.tolist()))
    ut, tc = np.unique(labels[labels >= 0], return_counts=True)
    tsize = dict(zip(ut.tolist(), tc.tolist()))
    t_ids, p_ids, cnt, wsum = _pairs(labels, pid, weight)
    best = {}
    for t, p, c, w in zip(t_ids.tolist(), p_ids.tolist(), cnt.tolist(), wsum.tolist()):
        if t not in best or c > best[t][1] or (c == best[t][1] and p < best[t][0]):
            best[t] = (p, c, w)
    return tsize, psize, best


def track_metrics(labels, pid, weight, pt_of, min_hits=3, pt_cut=1.0):
    """labels: int[N] track label per hit (-1 = none); pid: int[N] particle per hit (0 noise);
    weight: float[N]; pt_of: function(particle ids array) -> pT array.
    Returns a dict of counts (see module doc)."""
    labels = np.asarray(labels, np.int64)
    weight = np.asarray(weight, np.float64)
    tsize, psize, best = majorities(labels, pid, weight)
    score = 0.0
    matched_particles = set()
    matched_tracks = set()
    maj = {}  # particle -> list of (count, track)
    for t, (p, c, w) in best.items():
        if 2 * c > tsize[t]:
            maj.setdefault(p, []).append((c, t))
            if 2 * c > psize[p]:
                score += w
                if tsize[t] >= min_hits:
                    matched_particles.add(p)
                    matched_tracks.add(t)
    tracks = [t for t, s in tsize.items() if s >= min_hits]
    n_tracks = len(tracks)
    n_fake = sum(1 for t in tracks if t not in matched_tracks)
    n_dup = 0
    for p, lst in maj.items():
        lst = sorted(lst, key=lambda ct: (-ct[0], ct[1]))
        n_dup += sum(1 for c, t in lst[1:] if tsize[t] >= min_hits)
    parts = np.array([p for p, s in psize.items() if s >= 3], np.int64)
    pts = pt_of(parts) if len(parts) else np.zeros(0)
    hi = parts[pts > pt_cut]
    total_w = weight.sum()
    return {
        "n_particles": int(len(parts)),
        "n_matched": int(sum(1 for p in parts.tolist() if p in matched_particles)),
        "n_particles_pt": int(len(hi)),
        "n_matched_pt": int(sum(1 for p in hi.tolist() if p in matched_particles)),
        "n_tracks": int(n_tracks),
        "n_fake": int(n_fake),
        "n_duplicate": int(n_dup),
        "score_sum": float(score),
        "weight_sum": float(total_w),
        "hits": int(len(labels)),
    }


def summarize_tracks(counts):
    """Sum per-event counts and form the rates; the TrackML scores are means per event."""
    s = {k: sum(c[k] for c in counts) for k in counts[0]}

    def div(a, b):
        return float(a) / float(b) if b else 0.0

    return {
        "track_efficiency": div(s["n_matched"], s["n_particles"]),
        "track_efficiency_pt1": div(s["n_matched_pt"], s["n_particles_pt"]),
        "fake_rate": div(s["n_fake"], s["n_tracks"]),
        "duplicate_rate": div(s["n_duplicate"], s["n_tracks"]),
        "trackml_score": float(np.mean([c["score_sum"] for c in counts])),
        "trackml_score_fraction": float(np.mean([div(c["score_sum"], c["weight_sum"]) for c in counts])),
    }, s


def edge_counts(edge_index, is_true, truth_pairs, n):
    """efficiency counts: truth (consecutive) pairs present among the edges; purity counts:
    same-particle edges among the edges."""
    e = edge_index
    code = np.unique(np.minimum(e[0], e[1]).astype(np.int64) * n + np.maximum(e[0], e[1]))
    tp = np.unique(truth_pairs[0].astype(np.int64) * n + truth_pairs[1])
    found = np.isin(tp, code, assume_unique=True).sum() if len(tp) else 0
    return {"pairs": int(len(tp)), "pairs_found": int(found), "edges": int(e.shape[1]),
            "edges_true": int(np.asarray(is_true).sum())}
