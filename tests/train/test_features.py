#!/usr/bin/env python3
"""Unit tests of the models' extra feature columns (train.py --features): models built for
extra columns script, save, load and read them; a pixel model (r, phi, z) widened with zero
weights gives its old outputs; rebuilt from the shipped models' weights, today's code gives
the shipped TorchScript files' outputs; pipeline.yaml's features reach evaluate.py; the
inference re-export works with extra columns. Run: tools/python tests/train/test_features.py"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
TRAIN = os.path.join(ROOT, "tools", "train")
sys.path.insert(0, TRAIN)
from trkaas_train import data, models  # noqa: E402

torch.set_num_threads(1)
ARGS = {"embed_hidden": 32, "embed_layers": 2, "embed_dim": 4, "filter_hidden": 16, "filter_layers": 2,
        "gnn_hidden": 16, "gnn_iter": 2, "gnn_aggr": "gated", "gnn_triplets": True}
EXTRA = "r,phi,z,cell_count,lx,ly,geta,gphi"


def hits(n, extra, seed=0):
    """f32[n, 3 + extra]: pixel-like r, phi, z (scaled) and random extra columns."""
    g = torch.Generator().manual_seed(seed)
    x = torch.stack([torch.rand(n, generator=g) * 0.17 + 0.03, torch.rand(n, generator=g) * 2 - 1,
                     torch.rand(n, generator=g) * 0.6 - 0.3], 1)
    return torch.cat([x, torch.rand(n, extra, generator=g) * 2 - 1], 1)


def run(m, x, edges):
    with torch.no_grad():
        return m(x) if edges is None else m(x, edges)


class ExtraColumns(unittest.TestCase):
    def setUp(self):
        self.x = hits(300, 5)
        self.edges = torch.randint(0, 300, (2, 2000), generator=torch.Generator().manual_seed(1))

    def test_script_save_load_and_read_extras(self):
        args = dict(ARGS, features=EXTRA)
        self.assertEqual(models.n_extra_features(args), 5)
        for name in ("embedding", "filter", "gnn"):
            with self.subTest(stage=name):
                torch.manual_seed(2)
                m = models.inference_shaped(models.build(name, args).eval())
                with tempfile.TemporaryDirectory() as d:
                    path = os.path.join(d, name + ".pt")
                    torch.jit.save(torch.jit.script(m), path)
                    sm = torch.jit.load(path).eval()
                edges = None if name == "embedding" else self.edges
                out = run(sm, self.x, edges)
                self.assertEqual(out.shape[0], 300 if edges is None else 2000)
                self.assertTrue(bool(torch.isfinite(out).all()))
                self.assertLess((out - run(m, self.x, edges)).abs().max().item(), 1e-5)
                # The extra columns are read: changing them changes the output.
                x2 = self.x.clone()
                x2[:, 3:] = -x2[:, 3:]
                self.assertGreater((run(sm, x2, edges) - out).abs().max().item(), 1e-4)
                # A 3-column input does not fit a model built for 5 extra columns.
                with self.assertRaises(RuntimeError):
                    run(sm, self.x[:, :3], edges)

    def test_widened_pixel_model_keeps_its_outputs(self):
        for name in ("embedding", "filter", "gnn"):
            with self.subTest(stage=name):
                torch.manual_seed(4)
                old = models.build(name, ARGS).eval()  # r, phi, z only
                new = models.build(name, dict(ARGS, features=EXTRA)).eval()
                state = dict(torch.jit.script(models.inference_shaped(old)).state_dict())
                new.load_state_dict(models.widen_state(name, models.training_state(state), 5))
                edges = None if name == "embedding" else self.edges
                a = run(old, self.x[:, :3], edges)
                b = run(torch.jit.script(models.inference_shaped(new)), self.x, edges)
                self.assertGreater(a.abs().max().item(), 1e-3)
                self.assertLess((a - b).abs().max().item(), 1e-4)
        with self.assertRaises(ValueError):  # narrowing is refused
            m = models.build("embedding", dict(ARGS, features=EXTRA))
            models.widen_state("embedding", m.state_dict(), 2)


class ShippedModels(unittest.TestCase):
    """The shipped TorchScript files carry the code they were exported with; today's models.py,
    loaded with their weights, must compute the same (r, phi, z models are unchanged)."""

    def test_rebuilt_equals_shipped(self):
        mdir = os.path.join(ROOT, "models")
        with open(os.path.join(mdir, "train_summary.json")) as f:
            args = json.load(f)["args"]
        self.assertEqual(models.n_extra_features(args), 0)
        x = hits(500, 0, seed=5)
        edges = torch.randint(0, 500, (2, 4000), generator=torch.Generator().manual_seed(6))
        for name in ("embedding", "filter", "gnn"):
            with self.subTest(stage=name):
                shipped = torch.jit.load(os.path.join(mdir, name + ".pt")).eval()
                state = models.training_state(dict(shipped.state_dict()))
                emb_args = dict(args)
                if name == "embedding":  # from an earlier run: its sizes from its weights
                    lin = [k for k in state if k.startswith("net.") and k.endswith(".weight") and state[k].dim() == 2]
                    emb_args.update(embed_hidden=state[lin[0]].shape[0], embed_layers=len(lin) - 1,
                                    embed_dim=state[lin[-1]].shape[0])
                m = models.inference_shaped(models.build(name, emb_args).eval())
                m.load_state_dict(dict(shipped.state_dict()))
                e = None if name == "embedding" else edges
                a, b = run(shipped, x, e), run(torch.jit.script(m), x, e)
                self.assertLess((a - b).abs().max().item(), 1e-5)


class FeatureSettings(unittest.TestCase):
    def test_parse(self):
        f = data.parse_features("r,phi,z,ly,gphi:2")
        self.assertEqual([n for n, _ in f], ["r", "phi", "z", "ly", "gphi"])
        self.assertEqual(f[3][1], data.DEFAULT_SCALES["ly"])
        self.assertEqual(f[4][1], 2.0)
        self.assertTrue(data.needs_geometry(f))
        self.assertFalse(data.needs_geometry(data.parse_features("r,phi,z,cell_count")))
        for bad in ("phi,r,z", "r,phi,z,nope", "r:1,phi,z"):
            with self.assertRaises(ValueError):
                data.parse_features(bad)

    def test_yaml_round_trip_and_export_inference(self):
        import evaluate  # noqa: E402 (tools/train on the path)
        import train  # noqa: E402
        args = dict(ARGS, features=EXTRA)
        names = data.parse_features(EXTRA)
        with tempfile.TemporaryDirectory() as d:
            for name in ("embedding", "filter", "gnn"):
                torch.jit.save(torch.jit.script(models.inference_shaped(models.build(name, args))),
                               os.path.join(d, name + ".pt"))
            cfg = {"embedding_dim": 4, "radius": 0.5, "k": 8, "filter_cut": 0.1, "gnn_cut": 0.5,
                   "min_track_size": 3, "volumes": [7, 8, 9, 12, 13, 14], "features": names,
                   "train_pileup": "0-200", "train_events": 2, "hard_scatter": True}
            train.write_yaml(os.path.join(d, "pipeline.yaml"), cfg)
            _, got = evaluate.load(d)
            self.assertEqual([n for n, _ in got["features"]], [n for n, _ in names])
            for (_, s0), (_, s1) in zip(got["features"], names):
                self.assertAlmostEqual(s0, s1, places=6)
            self.assertEqual(got["volumes"], [7, 8, 9, 12, 13, 14])
            self.assertIn("geometry", got)  # ly, geta, gphi need the module table
            with open(os.path.join(d, "train_summary.json"), "w") as f:
                json.dump({"args": args}, f)
            r = subprocess.run([sys.executable, os.path.join(TRAIN, "export_inference.py"), d,
                                "--out", os.path.join(d, "gnn_inf.pt")], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertTrue(os.path.isfile(os.path.join(d, "gnn_inf.pt")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
