#!/usr/bin/env python3
"""Test of tools/plots/trkaas_plots.py on synthetic `trkaas report --csv` files.

  tools/python tests/plots/plots_test.py tools/plots/trkaas_plots.py

The scan rows are built from chosen producer and server costs, and the expected model values are
computed here from those costs, not read back from the tool. Exit 0 pass, 1 fail, 77 skip (no
matplotlib)."""
import csv
import math
import os
import re
import subprocess
import sys
import tempfile
import unittest

TOOL = None
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
STAGES = ("features", "embedding", "graph", "filter", "gnn", "tracks")

# Chosen costs. Stage times per workers value (ms/event); producer cost 250 ms/event (4 events/s).
STAGE_MS = {1: (20, 60, 40, 80, 150, 10), 2: (20, 60, 40, 80, 150, 10)}   # total 360 ms
SERVER_RATE = {1: 4.5, 2: 9.0}            # events/s of one fully busy server
PRODUCER_MS = 250.0
CONCURRENCY = {1: 1, 2: 2}                # w=1 rows: 1 in flight -> 1000/360 = 2.78 ev/s per producer
NODES, SERVERS = 2, 4                     # S = 2 servers per node
# (workers, producers per server, server busy): the recommendation is decided by these.
POINTS = [(2, 4, 0.93),                   # first row: the default calibration
          (2, 1, 0.30), (2, 24, 1.00), (2, 2, 0.60), (2, 8, 0.99), (2, 3, 0.85),
          (1, 8, 0.85), (1, 1, 0.20), (1, 2, 0.40), (1, 2, 0.50), (1, 4, 0.70)]


def producer_rate(w):
    return min(1000.0 / PRODUCER_MS, CONCURRENCY[w] * 1000.0 / sum(STAGE_MS[w]))


def scan_rows():
    header = ["label", "mode", "run", "nodes", "servers", "producers", "producers_per_server", "workers",
              "concurrency", "events_done", "events_failed", "wall_s", "events_per_s", "latency_p50_ms",
              "server_busy", "producer_wait", "producer_ms_per_event", "server_events_per_s"] + \
             [f"stage_{s}_ms" for s in STAGES] + ["stage_total_ms", "gpu_busy", "notes"]
    rows, seen = [], set()
    for w, p, busy in POINTS:
        label = f"w{w}-p{p}" + ("-b" if (w, p) in seen else "")
        seen.add((w, p))
        eps = 0.95 * SERVERS * min(p * producer_rate(w), SERVER_RATE[w])
        rows.append([label, "cpu", 1, NODES, SERVERS, p * SERVERS, p, w, CONCURRENCY[w], 100, 0,
                     100 / eps, eps, 400.0, busy, round(1 - busy, 3), PRODUCER_MS, SERVER_RATE[w]]
                    + list(STAGE_MS[w]) + [sum(STAGE_MS[w]), "", "free text, with comma"])
    return header, rows


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        out.writerows(rows)
    return path


def run_tool(*args):
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True, timeout=60)


def expected_ratios(measured):
    ratios, p = set(measured), 1
    while p <= max(max(measured), 16):
        ratios.add(float(p))
        p *= 2
    return ratios


def read_recommendations(path):
    with open(path) as f:
        lines = [l for l in f.read().splitlines() if l.strip()]
    recs = {}
    for line in lines:
        m = re.match(r"workers=(\d+): recommend (\S+) producers? per server \(server busy ([\d.]+), ([\d.]+) events/s\)", line)
        if m:
            recs[int(m.group(1))] = ("ok", float(m.group(2)), float(m.group(3)), float(m.group(4)))
            continue
        m = re.match(r"workers=(\d+): no .*busiest is (\S+) producers? per server \(server busy ([\d.]+)", line)
        assert m, f"unexpected recommendation line: {line!r}"
        recs[int(m.group(1))] = ("none", float(m.group(2)), float(m.group(3)))
    assert len(recs) == len(lines), lines
    return recs


class ScanTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="trkaas_plots_test_")
        d = cls.tmp.name
        header, rows = scan_rows()
        cls.csv = write_csv(os.path.join(d, "scan.csv"), header, rows)
        cls.default = run_tool("scan", cls.csv)                      # outputs beside the CSV
        # Second scan without the ratio-24 row: largest measured ratio 8, so the model goes up to 16.
        cls.csv2 = write_csv(os.path.join(d, "scan2.csv"), header, [r for r in rows if r[0] != "w2-p24"])
        cls.out2 = os.path.join(d, "out2")
        cls.second = run_tool("scan", cls.csv2, "-o", cls.out2, "--calibration", "w1-p2",
                              "--nodes", "1,3", "--busy-target", "0.44")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def check_ok(self, res):
        self.assertEqual(res.returncode, 0, f"stdout:\n{res.stdout}\nstderr:\n{res.stderr}")

    def test_pngs_written(self):
        for res, d in ((self.default, self.tmp.name), (self.second, self.out2)):
            self.check_ok(res)
            for name in ("throughput.png", "stages.png", "server_busy.png"):
                path = os.path.join(d, name)
                with open(path, "rb") as f:
                    self.assertEqual(f.read(8), PNG_SIGNATURE, path)
                self.assertGreater(os.path.getsize(path), 5000, path)
                self.assertIn(path, res.stdout, "written files are printed")
            for name in ("recommendation.txt", "model.csv"):
                self.assertIn(os.path.join(d, name), res.stdout)

    def test_recommendation_default_target(self):
        self.check_ok(self.default)
        recs = read_recommendations(os.path.join(self.tmp.name, "recommendation.txt"))
        self.assertEqual(set(recs), {1, 2})
        # workers=2: 4 and 8 and 24 reach 0.9; the smallest is 4.
        kind, ppr, busy, eps = recs[2]
        self.assertEqual((kind, ppr, busy), ("ok", 4.0, 0.93))
        self.assertAlmostEqual(eps, 0.95 * SERVERS * min(4 * producer_rate(2), SERVER_RATE[2]), delta=0.051)
        # workers=1: none reaches 0.9; the busiest point is 8 (0.85).
        self.assertEqual(recs[1], ("none", 8.0, 0.85))
        self.assertIn("workers=2: recommend 4 producers per server", self.default.stdout)

    def test_recommendation_other_target_and_duplicates(self):
        self.check_ok(self.second)
        recs = read_recommendations(os.path.join(self.out2, "recommendation.txt"))
        self.assertEqual(recs[2][:3], ("ok", 2.0, 0.60))
        # workers=1, ratio 2 was run twice (busy 0.40 and 0.50): averaged to 0.45 >= 0.44.
        self.assertEqual(recs[1][:3], ("ok", 2.0, 0.45))

    def check_model(self, path, nodes, calib_w, ratios):
        r_p, r_s, per_node = producer_rate(calib_w), SERVER_RATE[calib_w], SERVERS / NODES
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        got = {(int(r["nodes"]), float(r["producers_per_server"])): r for r in rows}
        self.assertEqual(len(got), len(rows), "no duplicate model rows")
        self.assertEqual(set(got), {(n, p) for n in nodes for p in ratios})
        for (n, p), r in got.items():
            eps = n * per_node * min(p * r_p, r_s)
            busy = min(1.0, p * r_p / r_s)
            self.assertTrue(math.isclose(float(r["predicted_events_per_s"]), eps, rel_tol=1e-6), (n, p, r, eps))
            self.assertTrue(math.isclose(float(r["predicted_server_busy"]), busy, rel_tol=1e-6), (n, p, r, busy))
        return got

    def test_model_default_calibration(self):
        self.check_ok(self.default)
        ratios = expected_ratios([float(p) for _, p, _ in POINTS])
        self.assertEqual(ratios, {1.0, 2.0, 3.0, 4.0, 8.0, 16.0, 24.0})
        got = self.check_model(os.path.join(self.tmp.name, "model.csv"), [1, 2, 4, 8, 16], 2, ratios)
        # Spot values by hand: r_p = 4 (producer CPU), r_s = 9, S = 2.
        self.assertAlmostEqual(float(got[(1, 1.0)]["predicted_events_per_s"]), 8.0, places=6)
        self.assertAlmostEqual(float(got[(16, 24.0)]["predicted_events_per_s"]), 16 * 2 * 9.0, places=6)
        self.assertAlmostEqual(float(got[(4, 2.0)]["predicted_server_busy"]), 8 / 9, places=6)

    def test_model_concurrency_bound_calibration(self):
        self.check_ok(self.second)
        ratios = expected_ratios([float(p) for _, p, _ in POINTS if p != 24])
        self.assertEqual(ratios, {1.0, 2.0, 3.0, 4.0, 8.0, 16.0})
        got = self.check_model(os.path.join(self.out2, "model.csv"), [1, 3], 1, ratios)
        # r_p = 1 * 1000 / 360 (concurrency bound, below 1000/250), r_s = 4.5.
        self.assertAlmostEqual(float(got[(3, 1.0)]["predicted_events_per_s"]), 3 * 2 * 1000 / 360, places=6)
        self.assertIn("w1-p2", self.second.stdout)

    def test_bad_calibration_label(self):
        res = run_tool("scan", self.csv, "-o", os.path.join(self.tmp.name, "bad"), "--calibration", "nope")
        self.assertEqual(res.returncode, 2)
        self.assertIn("nope", res.stderr)
        self.assertNotIn("Traceback", res.stderr)


class BadInputTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="trkaas_plots_bad_")

    def tearDown(self):
        self.tmp.cleanup()

    def check_fails(self, path, *needles, cmd="scan"):
        res = run_tool(cmd, path, "-o", self.tmp.name)
        self.assertEqual(res.returncode, 2, res.stdout + res.stderr)
        self.assertNotIn("Traceback", res.stderr)
        self.assertIn(path, res.stderr)
        for n in needles:
            self.assertIn(n, res.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "throughput.png")))

    def test_missing_required_column(self):
        header, rows = scan_rows()
        i = header.index("server_busy")
        path = write_csv(os.path.join(self.tmp.name, "nobusy.csv"), header[:i] + header[i + 1:],
                         [r[:i] + r[i + 1:] for r in rows])
        self.check_fails(path, "missing", "server_busy")

    def test_empty_file(self):
        path = os.path.join(self.tmp.name, "empty.csv")
        open(path, "w").close()
        self.check_fails(path, "empty")
        self.check_fails(path, "empty", cmd="campaign")

    def test_not_a_number(self):
        header, rows = scan_rows()
        rows[3][header.index("events_per_s")] = "fast"
        self.check_fails(write_csv(os.path.join(self.tmp.name, "nan.csv"), header, rows), "events_per_s", "fast")

    def test_missing_file(self):
        self.check_fails(os.path.join(self.tmp.name, "absent.csv"))


class CampaignTest(unittest.TestCase):
    def test_campaign(self):
        with tempfile.TemporaryDirectory(prefix="trkaas_plots_campaign_") as d:
            header = ["label", "run", "events_done", "events_failed", "wall_s", "events_per_s", "host"]
            rows = [["chunk-0000/r001", 1, 100, 2, 10.5, 9.5, "n1"],
                    ["chunk-0000/r002", 2, 50, 0, 5.25, 9.5, "n2"],
                    ["chunk-0001/r001", 1, 120, 1, 12.0, 10.0, "n1"],
                    ["chunk-0002/r003", "", 80, "", 8.25, 9.7, "n3"]]   # run from the label
            path = write_csv(os.path.join(d, "campaign.csv"), header, rows)
            out = os.path.join(d, "plots")
            res = run_tool("campaign", path, "-o", out)
            self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
            png = os.path.join(out, "campaign_runs.png")
            with open(png, "rb") as f:
                self.assertEqual(f.read(8), PNG_SIGNATURE)
            self.assertIn(png, res.stdout)

            def value(key):
                m = re.search(rf"^{key}: ([\d.]+)", res.stdout, re.M)
                self.assertIsNotNone(m, f"no '{key}:' in\n{res.stdout}")
                return float(m.group(1))
            self.assertEqual(value("runs"), 4)
            self.assertEqual(value("chunks"), 3)
            self.assertEqual(value("events done"), 350)
            self.assertEqual(value("events failed"), 3)
            self.assertAlmostEqual(value("wall time"), 36.0, places=6)


if __name__ == "__main__":
    if len(sys.argv) != 2 or not os.path.isfile(sys.argv[1]):
        sys.exit("usage: plots_test.py PATH/TO/trkaas_plots.py")
    TOOL = os.path.abspath(sys.argv[1])
    try:
        import matplotlib  # noqa: F401
        import numpy  # noqa: F401
    except ImportError as e:
        print(f"SKIP: matplotlib/numpy not importable ({e})")
        sys.exit(77)
    prog = unittest.main(argv=sys.argv[:1], exit=False, verbosity=2)
    sys.exit(0 if prog.result.wasSuccessful() else 1)
