#!/usr/bin/python3
"""test-benchlib.py — bench/benchlib.py's targets table: verdicts on the
medians, ratios round by round from the raw run files; the server-CPU rows
of the report and the reading of them."""

import os
import sys
import subprocess
import tempfile
import unittest
from unittest import mock

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

    def assert_target(self, label, rounds, verdict, ratio=None):
        """@label's line shows @rounds in its round-by-round cell and ends
        with @verdict (and shows the medians' @ratio, if given)."""
        line = self.line(label)
        if ratio is not None:
            self.assertIn(f"| {ratio} |", line)
        self.assertIn(f"| {rounds} | {verdict} |", line)
        self.assertTrue(line.endswith(f"| {verdict} |"), line)

    def test_get_targets_round_by_round(self):
        # (rounds: (side, row, figures)..., nginx's median, label, round-by-round
        # cell, verdict, medians' ratio)
        cases = [
            # medians 40,000 / 19,500 = 2.05x: met; round 1 (36,000 / 18,500) is not
            ((("ours", "get_root", [36000, 40000, 41000]), ("ref", "get_root", [18500, 19500, 20000])),
             None, "GET root.json >= 2x reference", "1.95×, 2.05×, 2.05×", "yes (2 of 3 rounds met)",
             "2.05×"),
            # missed in every round, and nginx serves more than twice the reference
            ((("ours", "get_root", [30000, 31000, 32000]), ("ref", "get_root", [18000, 19000, 20000])),
             50000, "GET root.json >= 2x reference", "1.67×, 1.63×, 1.60×", "**no**", "1.63×"),
            # the empty-store target pairs with the twin's rounds: 45,500 / 50,000 = 0.91x
            ((("ours", "scaled_get_404", [45500, 50000, 40000]),
              ("ours", "twin_get_404", [50000, 47000, 52000])),
             None, "[scaled] GET 404 within 10% of empty store", "0.91×, 1.06×, 0.77×",
             "yes (2 of 3 rounds met)", "0.91×"),
        ]
        for runs, nginx, label, rounds, verdict, ratio in cases:
            with self.subTest(label=label, verdict=verdict):
                self.tearDown()
                self.setUp()
                for side, row, figures in runs:
                    self.wrk_rounds(side, row, figures)
                if nginx is not None:
                    self.metrics[("memory", "nginx", runs[0][1], "rps")] = nginx
                self.assert_target(label, rounds, verdict, ratio=ratio)

    def test_publish_rounds_and_single_runs(self):
        for n, (o, r) in enumerate(((3100, 1600), (3300, 1700), (2900, 1650)), 1):
            write_pub(os.path.join(self.d, "memory", "ours", f"pubgen-pub_distinct.json.{n}"), o)
            write_pub(os.path.join(self.d, "memory", "ref", f"pubgen-pub_distinct.json.{n}"), r)
        self.metrics[("memory", "ours", "pub_distinct", "accepted_per_s")] = 3100
        self.metrics[("memory", "ref", "pub_distinct", "accepted_per_s")] = 1650
        self.assert_target("publish, distinct GUNs: accepted/s >= 2x reference",
                           "1.94×, 1.94×, 1.76×", "**no**", ratio="1.88×")
        # a row that ran once has no rounds to show
        self.metrics[("memory", "ours", "rss", "peak_kb")] = 100
        self.metrics[("memory", "ref", "rss", "peak_kb")] = 300
        self.assert_target("peak RSS <= half the reference", "–", "yes")

    def test_mismatched_round_counts_show_none(self):
        self.wrk_rounds("ours", "get_404", [40000, 41000, 42000])
        self.wrk_rounds("ref", "get_404", [19000, 20000])
        self.assert_target("GET 404 >= 2x reference", "–", "yes")


class ServerCpu(unittest.TestCase):
    def test_report_shows_cpu_per_request_against_both(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "metrics.tsv"), "w") as f:
                for side, rps, cpu in (("ours", 40000, 24), ("ref", 20000, 60), ("nginx", 41000, 27)):
                    f.write(f"memory\t{side}\tget_root\trps\t{rps}\n")
                    f.write(f"memory\t{side}\tget_root\tcpu_us\t{cpu}\n")
                f.write("memory\tours\ttwin_pub_one\tcpu_us\t700\n")
                f.write("memory\tours\tget_root\tdb_cpu_us\t6\n")
                f.write("memory\tref\tget_root\tdb_cpu_us\t300\n")
            with mock.patch.object(benchlib, "plot"):  # the plot is not under test here
                benchlib.report(["--dir", d])
            with open(os.path.join(d, "table.md")) as f:
                table = f.read()
        self.assertIn("| server CPU per request: GET root.json | µs | 24.0 | 60.0 | 0.40× | 27.0 "
                      "| 0.89× | lower |", table)
        self.assertIn("| MariaDB CPU per request: GET root.json | µs | 6.00 | 300 | 0.02× | – | – "
                      "| lower |", table)
        # a side alone (the twin) is shown too; rows nobody measured are not
        self.assertIn("| server CPU per upload: [twin] publish, one GUN (400 VERSION answers too) "
                      "| µs | 700 | – |", table)
        self.assertNotIn("GET 404 |", table)

    def test_cpu_ticks_reads_a_process_and_its_children(self):
        child = subprocess.Popen(["sleep", "30"])
        try:
            ticks = benchlib.cpu_ticks(os.getpid())
            self.assertIsInstance(ticks, int)
            self.assertGreaterEqual(ticks, 0)
        finally:
            child.kill()
            child.wait()
        self.assertIsNone(benchlib.cpu_ticks(0))
        self.assertIsNone(benchlib.cpu_ticks(child.pid))  # gone: unreadable, not 0


class AnonKinds(unittest.TestCase):
    """bench/rss-phases's split of a server's anonymous memory."""

    def test_kinds(self):
        smaps = """\
55d0a0000000-55d0a0200000 rw-p 00000000 00:00 0                          [heap]
Rss:                1200 kB
Anonymous:          1200 kB
7f0000000000-7f0000100000 rw-p 00000000 00:00 0 
Rss:                 900 kB
Anonymous:           900 kB
7f0000100000-7f0004000000 ---p 00000000 00:00 0 
Rss:                   0 kB
Anonymous:             0 kB
7f1000000000-7f1000001000 ---p 00000000 00:00 0 
Anonymous:             0 kB
7f1000001000-7f1000801000 rw-p 00000000 00:00 0 
Rss:                  20 kB
Anonymous:            20 kB
7f2000000000-7f2000010000 rw-p 00010000 08:01 42                         /usr/lib/libx.so
Anonymous:            16 kB
7f2000010000-7f2000014000 rw-p 00000000 00:00 0 
Anonymous:             4 kB
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
Anonymous:            24 kB
"""
        with tempfile.NamedTemporaryFile("w", suffix=".smaps") as f:
            f.write(smaps)
            f.flush()
            kinds = benchlib.anon_kinds(f.name)
        self.assertEqual(kinds, {"main heap": 1200, "malloc arenas": 900, "thread stacks": 20,
                                 "libraries' relocated data": 16, "other anonymous": 4, "[stack]": 24})


if __name__ == "__main__":
    unittest.main()
