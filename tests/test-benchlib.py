#!/usr/bin/python3
"""test-benchlib.py — bench/benchlib.py's targets table: verdicts on the
medians, ratios round by round from the raw run files."""

import os
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import benchlib  # noqa: E402


def write_wrk(path, rps):
    # The lines of `wrk --latency` output that wrk_parse reads.
    with open(path, "w") as f:
        f.write("  Latency Distribution\n     50%    1.00ms\n     99%    4.00ms\n"
                f"  100 requests in 5.00s, 1.00MB read\nRequests/sec: {rps:.2f}\n")


def write_pub(path, accepted_per_s):
    with open(path, "w") as f:
        f.write(f'{{"accepted_per_s": {accepted_per_s}, "p99_ms": 5.0}}')


class TargetsTable(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = self.tmp.name
        self.metrics = {}
        for side in ("ours", "ref", "nginx"):
            os.makedirs(os.path.join(self.d, "memory", side))

    def tearDown(self):
        self.tmp.cleanup()

    def wrk_rounds(self, side, row, values):
        for n, v in enumerate(values, 1):
            write_wrk(os.path.join(self.d, "memory", side, f"wrk-{row}.txt.{n}"), v)
        self.metrics[("memory", side, row, "rps")] = sorted(values)[len(values) // 2]

    def line(self, label):
        lines = benchlib.targets_table(self.metrics, "memory", self.d)
        return next(x for x in lines if x.startswith(f"| {label} |"))

    def test_verdict_on_medians_with_split_rounds(self):
        # medians 40,000 / 19,500 = 2.05x: met; round 1 (36,000 / 18,500) is not
        self.wrk_rounds("ours", "get_root", [36000, 40000, 41000])
        self.wrk_rounds("ref", "get_root", [18500, 19500, 20000])
        line = self.line("GET root.json >= 2x reference")
        self.assertIn("| 2.05× |", line)
        self.assertIn("| 1.95×, 2.05×, 2.05× |", line)
        self.assertTrue(line.endswith("| yes (2 of 3 rounds met) |"), line)

    def test_miss_that_every_round_shares(self):
        self.wrk_rounds("ours", "get_root", [30000, 31000, 32000])
        self.wrk_rounds("ref", "get_root", [18000, 19000, 20000])
        self.metrics[("memory", "nginx", "get_root", "rps")] = 50000
        line = self.line("GET root.json >= 2x reference")
        self.assertTrue(line.endswith("| **no** |"), line)

    def test_empty_store_target_pairs_with_the_twin(self):
        self.wrk_rounds("ours", "scaled_get_404", [45000, 50000, 40000])
        self.wrk_rounds("ours", "twin_get_404", [50000, 47000, 52000])
        line = self.line("[scaled] GET 404 within 10% of empty store")
        # medians 45,000 / 50,000 = 0.90x, exactly the bound: met
        self.assertIn("| 0.90× |", line)
        self.assertIn("| 0.90×, 1.06×, 0.77× |", line)
        self.assertTrue(line.endswith("| yes (2 of 3 rounds met) |"), line)

    def test_publish_rounds_and_single_runs(self):
        for n, (o, r) in enumerate(((3100, 1600), (3300, 1700), (2900, 1650)), 1):
            write_pub(os.path.join(self.d, "memory", "ours", f"pubgen-pub_distinct.json.{n}"), o)
            write_pub(os.path.join(self.d, "memory", "ref", f"pubgen-pub_distinct.json.{n}"), r)
        self.metrics[("memory", "ours", "pub_distinct", "accepted_per_s")] = 3100
        self.metrics[("memory", "ref", "pub_distinct", "accepted_per_s")] = 1650
        line = self.line("publish, distinct GUNs: accepted/s >= 2x reference")
        self.assertIn("| 1.94×, 1.94×, 1.76× |", line)
        self.assertTrue(line.endswith("| **no** |"), line)
        # a row that ran once has no rounds to show
        self.metrics[("memory", "ours", "rss", "peak_kb")] = 100
        self.metrics[("memory", "ref", "rss", "peak_kb")] = 300
        self.assertIn("| – | yes |", self.line("peak RSS <= half the reference"))

    def test_mismatched_round_counts_show_none(self):
        self.wrk_rounds("ours", "get_404", [40000, 41000, 42000])
        self.wrk_rounds("ref", "get_404", [19000, 20000])
        self.assertIn("| – | yes |", self.line("GET 404 >= 2x reference"))


if __name__ == "__main__":
    unittest.main()
