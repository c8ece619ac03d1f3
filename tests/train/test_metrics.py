#!/usr/bin/env python3
"""Unit tests of tools/train: track metrics on a hand-made event, radius graph against brute
force, connected components. Run: tools/python tests/train/test_metrics.py"""
import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "train"))
from trkaas_train import data, graph, metrics, models, pipeline  # noqa: E402


class TrackMetrics(unittest.TestCase):
    def setUp(self):
        # particle 1: hits 0-3 (w 0.1 each, pT 2); particle 2: hits 4-9 (w 0.05, pT 0.5);
        # particle 3: hits 10-12 (w 0.1, pT 1.5); noise: hits 13-15 (w 0). Total weight 1.
        self.pid = np.array([1] * 4 + [2] * 6 + [3] * 3 + [0] * 3)
        self.w = np.array([0.1] * 4 + [0.05] * 6 + [0.1] * 3 + [0.0] * 3)
        pts = {1: 2.0, 2: 0.5, 3: 1.5}
        self.pt_of = lambda q: np.array([pts[int(p)] for p in q])
        # track 0: all of particle 1 (perfect match); track 1: 4 of 6 hits of particle 2
        # (match); track 2: the other 2 hits of particle 2 + noise (majority particle 2 but
        # only 2/6 of its hits: a fake and a duplicate); track 3: 1 hit of particle 3 +
        # 2 noise (no majority: fake); track 4: 2 hits of particle 3 (2 hits: not a track for
        # efficiency, but a TrackML good match).
        self.labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 4, 4, 2, 3, 3])

    def test_hand_event(self):
        c = metrics.track_metrics(self.labels, self.pid, self.w, self.pt_of, min_hits=3)
        m, _ = metrics.summarize_tracks([c])
        self.assertEqual(c["n_particles"], 3)
        self.assertEqual(c["n_matched"], 2)
        self.assertEqual(c["n_tracks"], 4)
        self.assertAlmostEqual(m["track_efficiency"], 2 / 3)
        self.assertAlmostEqual(m["track_efficiency_pt1"], 1 / 2)   # particles 1 and 3; 1 found
        self.assertAlmostEqual(m["fake_rate"], 2 / 4)
        self.assertAlmostEqual(m["duplicate_rate"], 1 / 4)
        self.assertAlmostEqual(m["trackml_score"], 0.4 + 0.2 + 0.2)

    def test_perfect_and_empty(self):
        perfect = np.array([0] * 4 + [1] * 6 + [2] * 3 + [-1] * 3)
        m, _ = metrics.summarize_tracks([metrics.track_metrics(perfect, self.pid, self.w, self.pt_of)])
        self.assertEqual((m["track_efficiency"], m["fake_rate"], m["duplicate_rate"]), (1.0, 0.0, 0.0))
        self.assertAlmostEqual(m["trackml_score"], 1.0)
        none = np.full(16, -1)
        m, _ = metrics.summarize_tracks([metrics.track_metrics(none, self.pid, self.w, self.pt_of)])
        self.assertEqual((m["track_efficiency"], m["fake_rate"], m["trackml_score"]), (0.0, 0.0, 0.0))

    def test_scopes(self):
        # Particle 2's hits 7-9 are in volume 12, outside the processed volumes {8}; the
        # processed hits are labelled perfectly.
        vol = np.array([8] * 7 + [12] * 3 + [8] * 6)
        ev = {"x": np.arange(16.0), "volume_id": vol, "particle_id": self.pid, "weight": self.w}
        sub, mask = data.select_volumes(ev, [8])
        self.assertEqual(int(mask.sum()), 13)
        self.assertEqual(list(sub["x"]), [float(i) for i in range(16) if vol[i] == 8])
        labels = np.where(sub["particle_id"] > 0, sub["particle_id"], -1)
        c = metrics.track_metrics(labels, sub["particle_id"], sub["weight"], self.pt_of)
        m, _ = metrics.summarize_tracks([c])
        # Processed: particle 2 has 3 processed hits, all in its track: every particle found.
        self.assertEqual((c["n_particles"], c["n_matched"], c["n_fake"]), (3, 3, 0))
        self.assertAlmostEqual(m["trackml_score"], 0.4 + 0.15 + 0.3)       # official, not renormalised
        self.assertAlmostEqual(m["trackml_score_fraction"], 1.0)          # all the processed weight
        full = np.full(16, -1)
        full[mask] = labels
        c = metrics.track_metrics(full, self.pid, self.w, self.pt_of)
        m, _ = metrics.summarize_tracks([c])
        # Whole event: particle 2's track holds 3 of its 6 hits, not more than half: a fake.
        self.assertEqual((c["n_particles"], c["n_matched"], c["n_fake"]), (3, 2, 1))
        self.assertAlmostEqual(m["trackml_score"], 0.4 + 0.3)
        self.assertEqual(data.select_volumes(ev, [])[1].sum(), 16)

    def test_cluster_shape_features(self):
        # The C++ FeatureBuilderTests case: module (7, 2, 1) of the shipped detector file,
        # pitch 0.05 x 0.05625, module_t 0.15, rotation rows (0.0784591, -0.996917, 0),
        # (-0.996917, -0.0784591, 0), (0, 0, -1); hit 5 has channels 10..12 x 40, hit 6 one cell.
        geometry = data.load_geometry()
        ev = {"event_id": 8, "hit_id": np.array([6, 5]), "x": np.array([-66.0, -65.0]),
              "y": np.array([-5.0, -5.0]), "z": np.array([-1502.0, -1502.0]),
              "volume_id": np.array([7, 7]), "layer_id": np.array([2, 2]), "module_id": np.array([1, 1]),
              "cells": {"hit_id": np.array([5, 5, 5, 6]), "ch0": np.array([10, 12, 11, 3]),
                        "ch1": np.array([40, 40, 40, 7]), "value": np.array([0.2, 0.3, 0.4, 1.0])}}
        names = [(n, 1.0) for n in data.CELL_FEATURES]
        f = data.features(ev, names, geometry).astype(np.float64)
        rot = np.array([[0.0784591, -0.996917, 0], [-0.996917, -0.0784591, 0], [0, 0, -1]])
        for row, cells, value, lu, lv in ((1, 3, 0.9, 3 * 0.05, 0.05625), (0, 1, 1.0, 0.05, 0.05625)):
            lw = 0.3
            theta = np.arccos(lw / np.sqrt(lu * lu + lv * lv + lw * lw))
            g = rot @ np.array([lu, lv, lw])
            gtheta = np.arccos(g[2] / np.linalg.norm(g))
            want = [cells, value, -np.log(np.tan(theta / 2)), np.arctan2(lv, lu), lu, lv, lw,
                    -np.log(np.tan(gtheta / 2)), np.arctan2(g[1], g[0])]
            np.testing.assert_allclose(f[row], want, rtol=1e-5, atol=1e-6)
        with self.assertRaisesRegex(ValueError, "hit 6 has no cells"):
            bad = dict(ev, cells={k: v[:3] for k, v in ev["cells"].items()})
            data.features(bad, names, geometry)
        with self.assertRaisesRegex(ValueError, "need cells"):
            data.features({k: v for k, v in ev.items() if k != "cells"}, names, geometry)

    def test_edge_counts(self):
        pairs = np.array([[0, 1, 2], [1, 2, 3]])
        edges = np.array([[1, 0, 0, 4], [0, 2, 5, 5]])  # (1,0) is pair (0,1); (0,2) same particle
        c = metrics.edge_counts(edges, np.array([1, 1, 0, 1]), pairs, 16)
        self.assertEqual((c["pairs"], c["pairs_found"], c["edges"], c["edges_true"]), (3, 1, 4, 3))

    def test_truth_pairs_order(self):
        # one particle from the origin, hits given out of order along +x; noise ignored
        ev = {"x": np.array([30., 10., 0., 20.]), "y": np.zeros(4), "z": np.zeros(4),
              "particle_id": np.array([7, 7, 0, 7]), "p_particle_id": np.array([7]),
              "p_vx": np.zeros(1), "p_vy": np.zeros(1), "p_vz": np.zeros(1)}
        tp = data.truth_pairs(ev)
        self.assertEqual(sorted(map(tuple, tp.T.tolist())), [(0, 3), (1, 3)])


class RadiusGraph(unittest.TestCase):
    def check(self, y, r, k, **kw):
        got = graph.radius_graph(y, r, k, **kw)
        ref = graph.radius_graph_brute(y, r, k)
        self.assertEqual(got.dtype, np.int64)
        self.assertEqual(got.shape[0], 2)
        np.testing.assert_array_equal(got, ref)
        if got.shape[1]:
            self.assertTrue((got[0] < got[1]).all())

    def test_random_points(self):
        rng = np.random.default_rng(12)
        for n, d, r, k in [(400, 8, 0.35, 6), (300, 3, 0.15, 50), (250, 12, 0.5, 3), (200, 2, 0.08, 4)]:
            y = rng.random((n, d)).astype(np.float32)
            self.check(y, r, k)                       # cell list (or dense, by density)
            self.check(y, r, k, dense_fraction=1e9)   # cell list forced
            self.check(y, r, k, dense_fraction=0.0)   # all-pairs path forced
            self.check(y, r, k, grid_dims=2)
            # all-pairs path in chunks smaller than N: one reused distance buffer, last chunk partial
            np.testing.assert_array_equal(graph._radius_graph_dense(y, r, k, chunk=7),
                                          graph.radius_graph_brute(y, r, k))

    def test_clustered_points(self):
        rng = np.random.default_rng(3)
        c = rng.random((20, 8)).astype(np.float32) * 5
        y = (c[rng.integers(0, 20, 500)] + rng.normal(0, 0.05, (500, 8))).astype(np.float32)
        self.check(y, 0.1, 8)

    def test_small(self):
        self.assertEqual(graph.radius_graph(np.zeros((1, 8), np.float32), 1.0, 5).shape, (2, 0))
        self.assertEqual(graph.radius_graph(np.zeros((0, 8), np.float32), 1.0, 5).shape, (2, 0))
        y = np.array([[0, 0], [0.5, 0], [5, 5]], np.float32)
        np.testing.assert_array_equal(graph.radius_graph(y, 1.0, 5), [[0], [1]])


class Components(unittest.TestCase):
    def test_components(self):
        e = np.array([[5, 0, 1, 7, 8], [6, 1, 2, 8, 9]])
        lab = graph.connected_components(11, e, min_size=3)
        # components {0,1,2}, {7,8,9} of size 3; {5,6}, {3}, {4}, {10} too small
        self.assertEqual(lab.tolist(), [0, 0, 0, -1, -1, -1, -1, 1, 1, 1, -1])
        chain = np.array([np.arange(99, 0, -1), np.arange(98, -1, -1)])  # a long reversed chain
        self.assertTrue((graph.connected_components(100, chain) == 0).all())


class PairFeatures(unittest.TestCase):
    """The curvature feature of the edge models against helices computed here: a track of
    transverse momentum pT in 2 T from the beam line is a circle through it of radius
    pT / (0.3 * 2) m, so the feature must read -1/pT or 1/pT (GeV) whatever the hits' phi."""

    @staticmethod
    def hits_on_circle(pt, charge, phi0, radii):
        import math
        rc = pt / 0.6  # m
        out = []
        for r in radii:  # chord from the origin of length r: turning angle 2 asin(r / 2 rc)
            a = 2.0 * math.asin(r / (2.0 * rc))
            x = rc * math.sin(a)
            y = charge * rc * (1.0 - math.cos(a))
            c, s = math.cos(phi0), math.sin(phi0)
            px, py = c * x - s * y, s * x + c * y
            out.append([math.hypot(px, py), math.atan2(py, px) / math.pi, 0.1 * r])
        return out

    def test_curvature_reads_inverse_pt(self):
        import torch
        for pt in (0.5, 1.0, 2.0, 10.0):
            for charge in (1, -1):
                for phi0 in (0.0, 3.1, -3.1, 1.0):  # 3.1, -3.1: the edges cross phi = pi
                    x = torch.tensor(self.hits_on_circle(pt, charge, phi0, [0.032, 0.072, 0.116, 0.172]))
                    src, dst = torch.tensor([0, 1, 2, 0]), torch.tensor([1, 2, 3, 3])
                    k = models.pair_features(x, src, dst, models.PHI_SCALE)[:, 6]
                    want = charge / pt
                    for v in k.tolist():
                        self.assertAlmostEqual(v, want, delta=2e-3 * max(1.0, abs(want)) + 2e-3,
                                               msg=f"pT {pt} charge {charge} phi0 {phi0}: {k.tolist()}")

    def test_half_precision_models_take_float32_features(self):
        import torch
        torch.manual_seed(3)
        x = torch.tensor(self.hits_on_circle(1.0, 1, 3.1, [0.032, 0.072, 0.116, 0.172]))
        ei = torch.tensor([[0, 1, 2], [1, 2, 3]])
        for m in (models.EdgeFilter(hidden=16, layers=2), models.InteractionGNN(hidden=8, n_iter=2)):
            ref = m(x, ei)
            sm = torch.jit.script(m).to(torch.bfloat16)
            out = sm(x, ei)  # float32 features into a bf16 model: no dtype error
            self.assertEqual(out.dtype, torch.bfloat16)
            self.assertLess(float((out.float() - ref).abs().max()), 0.1 + 0.05 * float(ref.abs().max()))


class GatedAggregation(unittest.TestCase):
    """The gated GNN with its gate held open must be the sum GNN with the same weights; held
    shut, its nodes must hear nothing (the sum GNN on a graph whose messages are zero, which
    the test gets by scaling the sum network's edge states inside the aggregation to 0)."""

    def test_gate_open_and_shut(self):
        import torch
        torch.manual_seed(5)
        x = torch.rand(40, 3) * torch.tensor([0.2, 2.0, 1.0]) - torch.tensor([0.0, 1.0, 0.5])
        ei = torch.randint(0, 40, (2, 150))
        gated = models.InteractionGNN(hidden=8, n_iter=3, aggr="gated")
        plain = models.InteractionGNN(hidden=8, n_iter=3, aggr="sum")
        state = {k: v for k, v in gated.state_dict().items() if not k.startswith("gate.")}
        plain.load_state_dict(state)
        with torch.no_grad():
            gated.gate.weight.zero_()
            gated.gate.bias.fill_(40.0)  # sigmoid = 1
            self.assertLess(float((torch.jit.script(gated)(x, ei) - plain(x, ei)).abs().max()), 1e-5)
            gated.gate.bias.fill_(-40.0)  # sigmoid = 0: m_in = m_out = 0
            shut = gated(x, ei)
            # the same network by hand with zero messages
            src, dst = models.orient(x, ei)
            h = plain.node_enc(models.node_features(x, models.PHI_SCALE))
            e = plain.edge_enc(torch.cat([h[src], h[dst], models.pair_features(x, src, dst, models.PHI_SCALE)], 1))
            z = torch.zeros_like(h)
            for _ in range(3):
                e = e + plain.edge_net(torch.cat([h[src], h[dst], e], 1))
                h = h + plain.node_net(torch.cat([h, z, z], 1))
            want = plain.out(torch.cat([h[src], h[dst], e], 1)).reshape(-1)
            self.assertLess(float((shut - want).abs().max()), 1e-5)
            self.assertGreater(float((shut - plain(x, ei)).abs().max()), 1e-3)  # messages matter


class TripletFeatures(unittest.TestCase):
    """models.triplet_features against a brute-force loop over all edge pairs, and on two
    tracks computed here: straight in r-z from two vertices 50 mm apart, one of them curved
    the other way in phi. Edges along one track continue with a ~0 r-z angle difference;
    an edge that jumps to the other track has no good continuation."""

    def test_brute_force(self):
        import math
        import torch
        torch.manual_seed(7)
        n = 30
        x = torch.rand(n, 3) * torch.tensor([0.2, 2.0, 1.0]) - torch.tensor([0.0, 1.0, 0.5])
        ei = torch.randint(0, n, (2, 120))
        ei = ei[:, ei[0] != ei[1]]
        src, dst = models.orient(x, ei)
        got = models.triplet_features(x, src, dst, n, models.PHI_SCALE)
        r, phi, z = x[:, 0].tolist(), (x[:, 1] * math.pi).tolist(), x[:, 2].tolist()
        s, d = src.tolist(), dst.tolist()

        def theta(i):
            return math.atan2(z[d[i]] - z[s[i]], r[d[i]] - r[s[i]])

        def kappa(i):
            dp = math.remainder(phi[d[i]] - phi[s[i]], 2 * math.pi)
            dr = r[d[i]] - r[s[i]]
            chord = math.sqrt(dr * dr + 4 * r[s[i]] * r[d[i]] * math.sin(dp / 2) ** 2) + 1e-6
            return 2 * math.sin(dp) / chord / 0.6

        for i in range(len(s)):
            want = [5.0] * 4
            for j in range(len(s)):
                for k, (first, second) in enumerate(((i, j), (j, i))):
                    if d[first] != s[second]:
                        continue
                    a = abs(math.remainder(theta(first) - theta(second), 2 * math.pi)) * 100
                    b = a + 0.5 * min(abs(kappa(first) - kappa(second)), 4.0)
                    want[k] = min(want[k], a)
                    want[2 + k] = min(want[2 + k], b)
            for k in range(4):
                self.assertAlmostEqual(float(got[i, k]), min(want[k], 5.0), delta=1e-3, msg=f"edge {i} feature {k}")

    def test_two_tracks(self):
        import torch
        radii = [0.032, 0.072, 0.116, 0.172]
        t1 = PairFeatures.hits_on_circle(2.0, 1, 0.3, radii)
        t2 = PairFeatures.hits_on_circle(1.5, -1, 0.31, radii)
        for h, r in zip(t1, radii):
            h[2] = 0.050 + 0.8 * r  # z = z0 + r cot(theta), z0 = +50 mm
        for h, r in zip(t2, radii):
            h[2] = 0.0 + 0.8 * r  # same direction, vertex at 0: a pair cannot tell, a triplet can
        x = torch.tensor(t1 + t2)
        ei = torch.tensor([[0, 1, 2, 4, 5, 6, 0], [1, 2, 3, 5, 6, 7, 5]])  # the last edge jumps tracks
        f = models.triplet_features(x, ei[0], ei[1], 8, models.PHI_SCALE)
        self.assertLess(float(f[0, 0]), 0.05)  # 0->1 continues into 1->2
        self.assertLess(float(f[1, 1]), 0.05)  # 1->2 continues from 0->1
        self.assertLess(float(f[1, 2]), 0.05)  # and in curvature too
        self.assertEqual(float(f[2, 0]), 5.0)  # 2->3: no successor
        self.assertEqual(float(f[0, 1]), 5.0)  # 0->1: no predecessor
        self.assertGreater(float(f[6, 0]), 1.0)  # 0->5 into 5->6: the r-z angles differ
        # the same r-z line, opposite charges: only the curvature term tells
        t3 = PairFeatures.hits_on_circle(1.5, -1, 0.3, radii)
        for h, r in zip(t3, radii):
            h[2] = 0.050 + 0.8 * r
        x = torch.tensor(t1 + t3)
        ei = torch.tensor([[0, 1], [1, 6]])  # track 1's first edge, then a jump to the other track
        f = models.triplet_features(x, ei[0], ei[1], 8, models.PHI_SCALE)
        self.assertLess(float(f[0, 0]), 0.05)
        self.assertGreater(float(f[0, 2]), float(f[0, 0]) + 0.3)



class InferenceShapedGNN(unittest.TestCase):
    """InteractionGNNInference gives InteractionGNN's logits (both scripted, as exported) for
    every aggregation, with and without triplets, and its state turns back into the
    training model's."""

    def test_same_logits_and_state_round_trip(self):
        import torch
        torch.manual_seed(3)
        n = 400
        x = torch.stack([torch.rand(n) * 0.17 + 0.03, torch.rand(n) * 2 - 1,
                         torch.rand(n) * 0.6 - 0.3], 1)
        edges = torch.randint(0, n, (2, 3000))
        for aggr in ("sum", "mean", "gated"):
            for triplets in (False, True):
                with self.subTest(aggr=aggr, triplets=triplets):
                    g = models.InteractionGNN(hidden=32, n_iter=3, aggr=aggr, triplets=triplets).eval()
                    inf = models.inference_shaped(g)
                    self.assertIsInstance(inf, models.InteractionGNNInference)
                    old, new = torch.jit.script(g), torch.jit.script(inf)
                    with torch.no_grad():
                        a, b = old(x, edges), new(x, edges)
                    self.assertEqual(tuple(b.shape), (edges.shape[1],))
                    self.assertGreater(a.abs().max().item(), 1e-3)  # not trivially zero
                    self.assertLess((a - b).abs().max().item(), 1e-4)
                    back = models.InteractionGNN(hidden=32, n_iter=3, aggr=aggr, triplets=triplets)
                    back.load_state_dict(models.training_state(dict(new.state_dict())))
                    with torch.no_grad():
                        self.assertLess((back(x, edges) - a).abs().max().item(), 1e-4)
        # Other models are exported as they are.
        f = models.EdgeFilter(hidden=16, layers=2)
        self.assertIs(models.inference_shaped(f), f)


class WalkTracks(unittest.TestCase):
    """graph.walk_tracks against the rules of the C++ TrackBuilder::Method::Walk, checked by
    an exhaustive search over every path (an independent reference), and on the hand-made
    graphs of tests/pipeline/TrackBuilderTests.cpp."""

    @staticmethod
    def reference(n, src, dst, w, min_size):
        comp = graph.connected_components(n, np.stack([src, dst]), 1) if n else np.zeros(0, np.int64)
        indeg = np.bincount(dst, minlength=n)
        outdeg = np.bincount(src, minlength=n)
        label = np.full(n, -1, np.int64)
        nxt = n
        for c in sorted(set(comp.tolist())):
            hits = [h for h in range(n) if comp[h] == c]
            if not any(indeg[h] > 1 or outdeg[h] > 1 for h in hits):
                if len(hits) >= min_size:
                    label[hits] = c
                continue
            while True:
                best = [[], 0.0]

                def extend(path, total):
                    p, b = path, best
                    if (len(p), total, -p[0]) > (len(b[0]), b[1], -(b[0][0] if b[0] else 1 << 60)):
                        best[0], best[1] = list(p), total
                    for e in range(len(src)):
                        if src[e] == p[-1] and label[dst[e]] < 0:
                            extend(p + [int(dst[e])], total + float(w[e]))
                for h in hits:
                    if label[h] < 0:
                        extend([h], 0.0)
                if len(best[0]) < min_size:
                    break
                label[best[0]] = nxt
                nxt += 1
            before = label.copy()
            for a, b in zip(src.tolist(), dst.tolist()):
                if comp[a] != c:
                    continue
                if before[a] >= 0 and label[b] < 0:
                    label[b] = before[a]
                elif before[b] >= 0 and label[a] < 0:
                    label[a] = before[b]
        out = np.full(n, -1, np.int64)
        order = {}
        for h in range(n):
            if label[h] >= 0:
                out[h] = order.setdefault(int(label[h]), len(order))
        return out

    def test_merged_tracks_split(self):
        # 0->1->2->3->4 and 5->6->7->8->9 joined by a weaker wrong edge 2->8.
        src = np.array([0, 1, 2, 3, 5, 6, 7, 8, 2])
        dst = np.array([1, 2, 3, 4, 6, 7, 8, 9, 8])
        w = np.array([3.0] * 8 + [1.0], np.float32)
        cc = graph.connected_components(10, np.stack([src, dst]), 3)
        self.assertEqual(cc.tolist(), [0] * 10)
        got = graph.walk_tracks(10, np.stack([src, dst]), w, 3)
        self.assertEqual(got.tolist(), [0] * 5 + [1] * 5)

    def test_leftovers_not_chained(self):
        src = np.array([0, 1, 2, 3, 5, 6])
        dst = np.array([1, 2, 3, 4, 6, 2])
        w = np.array([3, 3, 3, 3, 3, 1], np.float32)
        self.assertEqual(graph.walk_tracks(7, np.stack([src, dst]), w, 3).tolist(), [0] * 5 + [-1, 0])

    def test_random_graphs_against_exhaustive_search(self):
        rng = np.random.default_rng(5)
        branched = 0
        for _ in range(150):
            n = int(rng.integers(2, 11))
            e = int(rng.integers(0, 2 * n))
            a, b = rng.integers(0, n, e), rng.integers(0, n, e)
            keep = a != b
            src, dst = np.minimum(a, b)[keep], np.maximum(a, b)[keep]
            w = rng.uniform(-2, 8, len(src)).astype(np.float32)
            branched += int((np.bincount(dst, minlength=n) > 1).any())
            for m in (1, 3):
                got = graph.walk_tracks(n, np.stack([src, dst]), w, m)
                self.assertEqual(got.tolist(), self.reference(n, src, dst, w, m).tolist())
        self.assertGreater(branched, 60)

    def test_orientation_and_cycles(self):
        xyz = np.array([[3.0, 0, 0], [1.0, 0, 0], [0, 2.0, 0], [0, 0, 1.0]])
        e = graph.orient_outwards(xyz, np.array([[0, 1, 3], [1, 2, 1]]))
        # squared distances 9, 1, 4, 1: 0-1 turns, 1-2 stays, 3-1 ties and turns (lower index first)
        self.assertEqual(e.tolist(), [[1, 1, 1], [0, 2, 3]])
        with self.assertRaisesRegex(ValueError, "cycle"):
            graph.walk_tracks(3, np.array([[0, 1, 2, 0], [1, 2, 0, 2]]), np.ones(4, np.float32), 1)


class TrackExtension(unittest.TestCase):
    """graph.extend_tracks (the C++ TrackBuilder::extend, same hand-made case as its test):
    tracks grow from their outer and inner hits along their best edges into free hits."""

    def test_hand_made(self):
        xyz = np.stack([np.arange(1, 11, dtype=np.float64), np.zeros(10), np.zeros(10)], 1)
        # (edge, score): 4->6 beats 4->5; 6->7 is track 1's; then 6->9; inwards from 2 the tie
        # goes to the first edge (1->2), then 0->1; track 1: 8->9 is taken, 5->7 is free.
        edges = [(4, 5, 1.0), (4, 6, 2.0), (6, 7, 5.0), (6, 9, 0.5), (1, 2, 0.3), (0, 2, 0.3), (0, 1, -2.0),
                 (8, 9, 3.0), (5, 7, 0.1)]
        ei = np.array([[a for a, _, _ in edges], [b for _, b, _ in edges]])
        w = np.array([s for _, _, s in edges], np.float32)
        got = graph.extend_tracks(np.array([-1, -1, 0, 0, 0, -1, -1, 1, 1, -1]), xyz, ei, w)
        self.assertEqual(got.tolist(), [0, 0, 0, 0, 0, 1, 0, 1, 1, 0])

    def test_build_tracks_extend_cut(self):
        # A line of 8 hits whose edges 3->4 and 4->5 are unsure (score 0.27): at cut 0.5 the
        # walk gives the 4-hit track 0-3 and the 3-hit track 5-7; hit 4 is free. With an
        # extension cut of 0.2 the first track takes hit 4, never the second track's hits.
        n = 8
        ev = {"x": np.arange(1, n + 1, dtype=np.float64), "y": np.zeros(n), "z": np.zeros(n)}
        e = np.stack([np.arange(n - 1), np.arange(1, n)])
        lg = np.array([5, 5, 5, -1, -1, 5, 5], np.float32)
        plain = pipeline.build_tracks(ev, e, lg, 0.5, "walk", 3)
        self.assertEqual(plain.tolist(), [0, 0, 0, 0, -1, 1, 1, 1])
        grown = pipeline.build_tracks(ev, e, lg, 0.5, "walk", 3, extend_cut=0.2)
        self.assertEqual(grown.tolist(), [0, 0, 0, 0, 0, 1, 1, 1])
        # Below the extension cut nothing grows.
        self.assertEqual(pipeline.build_tracks(ev, e, lg, 0.5, "walk", 3, extend_cut=0.3).tolist(), plain.tolist())


class WalkTurnLimit(unittest.TestCase):
    """graph.walk_tracks with max_turn (the C++ TrackBuilder's Config::maxTurn; the same
    hand-made case as its test): a path may not turn from one particle into another."""

    def test_hand_made(self):
        # P: hits 0-5 at r = z = 10..60 (45 degrees in r-z); Q: hits 6-8 at z = -5, r = 10, 20,
        # 30, and a wrong edge 8 -> 3 scored 2 (the path turns by 1.35 rad at hit 8, 0.57 at hit 3).
        xyz = np.array([[10.0 * (i + 1), 0, 10.0 * (i + 1)] for i in range(6)]
                       + [[10.0 * (j + 1), 0, -5.0] for j in range(3)])
        src = np.array([0, 1, 2, 3, 4, 6, 7, 8])
        dst = np.array([1, 2, 3, 4, 5, 7, 8, 3])
        w = np.array([1, 1, 1, 1, 1, 1, 1, 2], np.float32)
        e = np.stack([src, dst])
        self.assertEqual(graph.walk_tracks(9, e, w, 3).tolist(), [0, 0, 0, 1, 1, 1, 1, 1, 1])
        self.assertEqual(graph.walk_tracks(9, e, w, 3, xyz, 0.1).tolist(), [0, 0, 0, 0, 0, 0, 1, 1, 1])
        self.assertEqual(graph.walk_tracks(9, e, w, 3, xyz, 1.4).tolist(), [0, 0, 0, 1, 1, 1, 1, 1, 1])
        with self.assertRaises(ValueError):
            graph.walk_tracks(9, e, w, 3, None, 0.1)

    def test_pi_is_no_limit(self):
        # Every turn is at most pi: the recomputed paths are the incremental walk's.
        rng = np.random.default_rng(5)
        split = 0
        for _ in range(100):
            n = int(rng.integers(3, 20))
            xyz = rng.uniform(-100, 100, (n, 3))
            a, b = rng.integers(0, n, int(rng.integers(0, 2 * n))), rng.integers(0, n, 0)
            b = rng.integers(0, n, len(a))
            keep = a != b
            e = np.stack([np.minimum(a, b)[keep], np.maximum(a, b)[keep]])
            w = rng.uniform(-2, 8, e.shape[1]).astype(np.float32)
            for m in (1, 2, 3):
                plain = graph.walk_tracks(n, e, w, m)
                self.assertEqual(graph.walk_tracks(n, e, w, m, xyz, np.pi).tolist(), plain.tolist())
                split += plain.tolist() != graph.connected_components(n, e, m).tolist()
        self.assertGreater(split, 10)


class TrackSettingsScan(unittest.TestCase):
    """pipeline.scan_track_settings and build_tracks: the minimum track size drops short
    tracks, the metrics' selection (particles with >= 3 hits) stays fixed, and the scan picks
    the (cut, size) pair with the best efficiency minus fake rate."""

    def setUp(self):
        # Five particles of pT 2 GeV along straight lines outwards, chained by sure edges
        # (logit 5): A (8 hits) whole; B (8) whole but its middle edge unsure (logit -1,
        # score 0.27); C and E (10 hits each) only their first 4 hits chained (fragments at any
        # cut); D has only 4 hits, all chained.
        sizes = {1: 8, 2: 8, 3: 10, 4: 4, 5: 10}
        chained = {1: 8, 2: 8, 3: 4, 4: 4, 5: 4}
        x, y, pid, src, logits = [], [], [], [], []
        for p, m in sizes.items():
            first = len(pid)
            r = np.arange(1, m + 1, dtype=np.float64)
            x.append(r * np.cos(p))
            y.append(r * np.sin(p))
            pid += [p] * m
            for i in range(chained[p] - 1):
                src.append(first + i)
                logits.append(-1.0 if (p == 2 and i == 3) else 5.0)
        n = len(pid)
        ev = {"x": np.concatenate(x), "y": np.concatenate(y), "z": np.zeros(n), "particle_id": np.array(pid),
              "weight": np.full(n, 1.0 / n), "p_particle_id": np.arange(1, 6),
              "p_px": np.full(5, 2.0), "p_py": np.zeros(5)}
        src = np.array(src)
        self.sample = (ev, np.stack([src, src + 1]), np.array(logits, np.float32))

    def test_build_tracks_min_size(self):
        ev, e, lg = self.sample
        pid = ev["particle_id"]
        for builder in ("walk", "components"):
            low = pipeline.build_tracks(ev, e, lg, 0.1, builder, 3)
            self.assertEqual(len(set(low[pid <= 2].tolist())), 2)      # A and B whole
            self.assertEqual(int((low[pid == 3] >= 0).sum()), 4)        # C's 4-hit fragment
            high = pipeline.build_tracks(ev, e, lg, 0.5, builder, 5)
            self.assertTrue((high[pid == 1] >= 0).all() and (high[pid != 1] == -1).all())

    def test_scan(self):
        best, rows = pipeline.scan_track_settings([self.sample], [0.1, 0.5], [3, 5], "walk", log=lambda _: None)
        got = {(r["cut"], r["min_track_size"]): r["metrics"] for r in rows}
        # Every case counts all five particles (>= 3 hits each), whatever the size.
        # cut 0.1, size 3: A, B, D found; C's and E's fragments (4 of 10 hits) are fakes.
        self.assertAlmostEqual(got[(0.1, 3)]["track_efficiency_pt1"], 3 / 5)
        self.assertAlmostEqual(got[(0.1, 3)]["fake_rate"], 2 / 5)
        # cut 0.1, size 5: the fragments go, and so does D's 4-hit track: D is still a
        # particle to find (the selection does not follow the size).
        self.assertAlmostEqual(got[(0.1, 5)]["track_efficiency_pt1"], 2 / 5)
        self.assertAlmostEqual(got[(0.1, 5)]["fake_rate"], 0.0)
        # cut 0.5, size 3: B in two halves of 4 (half is not a majority): tracks A, B, B, C,
        # D, E of which 4 are fakes.
        self.assertAlmostEqual(got[(0.5, 3)]["track_efficiency_pt1"], 2 / 5)
        self.assertAlmostEqual(got[(0.5, 3)]["fake_rate"], 4 / 6)
        self.assertAlmostEqual(got[(0.5, 5)]["track_efficiency_pt1"], 1 / 5)
        self.assertAlmostEqual(got[(0.5, 5)]["fake_rate"], 0.0)
        self.assertEqual(best, (0.1, 5, None, None))
        # With a fake-rate limit: the highest efficiency within it. At 0.5, (0.1, 3) (3/5 at
        # fakes 2/5) beats (0.1, 5); at 0, (0.1, 5) (2/5) beats (0.5, 5) (1/5); a limit nothing
        # meets falls back to efficiency minus fake rate.
        for limit, want in ((0.5, (0.1, 3, None, None)), (0.0, (0.1, 5, None, None)), (-1.0, (0.1, 5, None, None))):
            got_best, _ = pipeline.scan_track_settings([self.sample], [0.1, 0.5], [3, 5], "walk", log=lambda _: None,
                                                       max_fake_rate=limit)
            self.assertEqual(got_best, want, limit)

    def test_scan_maximize_score(self):
        # TrackML scores (equal hit weights 1/42, 2 GeV): the hits of double-majority tracks.
        # (0.1, 3): A, B, D = 20 hits; (0.1, 5): A, B = 16; (0.5, 3): A, D = 12 (B's halves
        # hold 4 of its 8 hits, not a majority); (0.5, 5): A = 8.
        _, rows = pipeline.scan_track_settings([self.sample], [0.1, 0.5], [3, 5], "walk", log=lambda _: None)
        got = {(r["cut"], r["min_track_size"]): r["metrics"]["trackml_score"] for r in rows}
        n = len(self.sample[0]["x"])
        for key, hits in (((0.1, 3), 20), ((0.1, 5), 16), ((0.5, 3), 12), ((0.5, 5), 8)):
            self.assertAlmostEqual(got[key], hits / n, msg=key)
        # (limits, want): no limit -> the highest score; fakes <= 0 -> (0.1, 5) over (0.5, 5);
        # efficiency >= 0.5 -> only (0.1, 3) (3/5); both limits -> none meets them, the
        # fallback is the best efficiency minus fake rate, (0.1, 5).
        for fakes, eff, want in ((None, None, (0.1, 3)), (0.0, None, (0.1, 5)), (0.5, 0.5, (0.1, 3)),
                                 (None, 0.5, (0.1, 3)), (0.0, 0.5, (0.1, 5))):
            best, _ = pipeline.scan_track_settings([self.sample], [0.1, 0.5], [3, 5], "walk", log=lambda _: None,
                                                   max_fake_rate=fakes, maximize="score", min_efficiency=eff)
            self.assertEqual(best, want + (None, None), (fakes, eff))
        # An efficiency floor with the default objective: (0.1, 3) is the only one at 3/5.
        best, _ = pipeline.scan_track_settings([self.sample], [0.1, 0.5], [3, 5], "walk", log=lambda _: None,
                                               min_efficiency=0.55)
        self.assertEqual(best, (0.1, 3, None, None))
        with self.assertRaises(ValueError):
            pipeline.scan_track_settings([self.sample], [0.1], [3], "walk", log=lambda _: None, maximize="purity")

def helix_hits(rad, phi0, q, z0, cot, radii):
    """Hits of a helix from the origin (as the C++ test's helixHits): radius of curvature rad
    mm, direction phi0 at the origin, charge sign q, z = z0 + cot * s; float32 like the files."""
    out = []
    for r in radii:
        alpha = 2.0 * np.arcsin(r / (2.0 * rad))
        lx, ly = rad * np.sin(alpha), q * rad * (1.0 - np.cos(alpha))
        out.append([lx * np.cos(phi0) - ly * np.sin(phi0), lx * np.sin(phi0) + ly * np.cos(phi0), z0 + cot * rad * alpha])
    return out


class HelixStitching(unittest.TestCase):
    """graph.stitch_tracks (the C++ TrackBuilder::stitch; the same case as its test)."""

    def setUp(self):
        ra, rb = 800.0 / 0.6, 1200.0 / 0.6
        pts = (helix_hits(ra, 0.4, 1, 5.0, 0.3, [32, 72, 116, 172, 260, 360])   # A's track: hits 0-5
               + helix_hits(ra, 0.4, 1, 5.0, 0.3, [500, 660, 820])              # A's pieces: 6-8,
               + helix_hits(ra, 0.4, 1, 5.0, 0.3, [900, 960, 1020])             # 9-11
               + helix_hits(rb, 0.42, -1, -20.0, 0.31, [500, 660, 820])         # B's pieces: 12-14,
               + helix_hits(rb, 0.42, -1, -20.0, 0.31, [900, 960, 1020])        # 15-17
               + [[300, -40, 100], [420, 10, -300], [610, 200, 50]])            # scattered: 18-20
        self.xyz = np.array(pts, np.float32)
        self.labels = np.array([0] * 6 + [-1] * 15)
        self.pieces = np.array([-1] * 6 + [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3 + [4] * 3)

    def test_pieces_of_one_helix_join(self):
        out = graph.stitch_tracks(self.labels, self.pieces, self.xyz, 3.0, 15.0, 6)
        self.assertEqual(out.tolist(), [0] * 12 + [1] * 6 + [-1] * 3)
        # 7 hits at least: B's two pieces (6 hits) go.
        out = graph.stitch_tracks(self.labels, self.pieces, self.xyz, 3.0, 15.0, 7)
        self.assertEqual(out.tolist(), [0] * 12 + [-1] * 9)

    def test_a_piece_off_the_helix_is_skipped(self):
        moved = self.xyz.copy()
        moved[6:9, 2] += 60.0
        out = graph.stitch_tracks(self.labels, self.pieces, moved, 3.0, 15.0, 6)
        self.assertEqual(out.tolist(), [0] * 6 + [-1] * 3 + [0] * 3 + [1] * 6 + [-1] * 3)

    def test_build_tracks_stitch(self):
        # A chain cut in two by a missing edge: the walk keeps the 6-hit half, the 4-hit half is a
        # piece; stitching joins them.
        xyz = np.array(helix_hits(1000.0, 1.0, 1, 0.0, 0.5, [30 + 70 * i for i in range(10)]), np.float32)
        ev = {"x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2]}
        e = np.array([[0, 1, 2, 3, 4, 6, 7, 8], [1, 2, 3, 4, 5, 7, 8, 9]])
        lg = np.full(e.shape[1], 5.0, np.float32)
        plain = pipeline.build_tracks(ev, e, lg, 0.5, "walk", 6)
        self.assertEqual(plain.tolist(), [0] * 6 + [-1] * 4)
        self.assertEqual(pipeline.build_tracks(ev, e, lg, 0.5, "walk", 6, stitch=(3.0, 15.0)).tolist(), [0] * 10)


if __name__ == "__main__":
    unittest.main(verbosity=2)
