# SPDX-License-Identifier: MIT
"""The csv output on a full disk: the file never holds a cut row, the rows
that could not be written are kept (bounded) and retried, and they are all in
the file once space returns; past the bound, the dropped points are counted
and reported. The disk is a small tmpfs mounted for the test (needs root or
CAP_SYS_ADMIN: skipped otherwise)."""

import os
import re
import subprocess
import time
import unittest

from e2e_common import AgentTestCase, main, needs_csv

CONFIG_TEXT = """\
[plugins.test-source]
poll_interval = "10ms"
points_per_poll = 2
count_file = "count"

[plugins.csv]
output_path = "disk/out.csv"
{extra}
"""

FAILING = re.compile(r"^ERROR pipeline: cannot write to csv/out: failed to write to "
                     r"'disk/out\.csv': No space left on device; keeping the data and retrying "
                     r"\(next attempt in \d+ ms\)$", re.M)
RECOVERED = re.compile(r"^INFO  pipeline: delivery to csv/out recovered \((\d+) points dropped "
                       r"in total\)$", re.M)
CELLS = 8  # the 7 fixed columns and __late_attributes


@needs_csv
class TestCsvDiskFull(AgentTestCase):
    def setUp(self):
        super().setUp()
        self.disk = self.path("disk")
        os.mkdir(self.disk)
        # 1 MiB: room for the rows written after the space returns
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "alumet-test", self.disk],
                           capture_output=True, text=True, check=False)
        if r.returncode != 0:
            self.skipTest(f"cannot mount a tmpfs (needs root or CAP_SYS_ADMIN): {r.stderr.strip()}")
        self.addCleanup(subprocess.run, ["umount", "-l", self.disk], check=False)
        # fill it up to 16 KiB: about 250 rows fit, 1 s of measurements
        filler = os.path.join(self.disk, "filler")
        with open(filler, "wb") as f:
            f.write(b"x" * (1024 * 1024 - 16 * 1024))
        self.filler = filler

    def wait_for(self, pattern, what, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            m = pattern.search(self.read("agent.stderr"))
            if m:
                return m
            self.assertLess(time.monotonic(), deadline,
                            f"{what} not logged\n{self.read('agent.stderr')}")
            time.sleep(0.02)

    def read_out(self):
        with open(os.path.join(self.disk, "out.csv"), encoding="utf-8") as f:
            return f.read()

    def assert_whole_rows(self):
        """The file as a reader sees it now: whole rows only. A write in
        progress (the agent runs on) can show the start of its last row: that
        row must then be completed, the file only growing."""
        text = self.read_out()
        if text and not text.endswith("\n"):
            start = text.rfind("\n") + 1
            deadline = time.monotonic() + 10
            while True:
                later = self.read_out()
                self.assertTrue(later.startswith(text), "the file was rewritten")
                end = later.find("\n", start)
                if end >= 0:
                    text = later[:end + 1]
                    break
                self.assertLess(time.monotonic(), deadline, f"cut row at the end: {text[-80:]!r}")
                time.sleep(0.05)
        for line in text.splitlines():
            self.assertEqual(line.count(";") + 1, CELLS, f"cut row: {line!r}")

    def fill_then_free(self, exit_code):
        p = self.start("run")
        self.wait_for(FAILING, "the disk-full error")
        # the disk stays full a while: the rows wait, the file holds whole rows
        for _ in range(10):
            self.assert_whole_rows()
            time.sleep(0.05)
        self.assertIsNone(p.poll(), "the agent stopped on a full disk")
        os.unlink(self.filler)
        m = self.wait_for(RECOVERED, "the recovery")
        self.assert_whole_rows()
        res = self.stop(p)
        self.assert_exit(res, exit_code)  # 1 when points were lost
        self.assertEqual(len(FAILING.findall(res.stderr)), 1, res)
        return res, int(m.group(1))

    def test_every_row_once_when_space_returns(self):
        self.write_config(CONFIG_TEXT.format(extra=""))
        res, dropped = self.fill_then_free(0)
        self.assertEqual(dropped, 0, res)
        self.assert_sequence(self.csv_values("disk/out.csv"), self.read_count())

    def test_bounded_and_drops_counted(self):
        self.write_config(CONFIG_TEXT.format(extra="max_buffered_points = 20"))
        res, dropped = self.fill_then_free(1)
        self.assertGreater(dropped, 0, res)
        values = self.csv_values("disk/out.csv")
        count = self.read_count()
        self.assertEqual(values, sorted(set(values)), "rows duplicated or out of order")
        # what is missing is exactly what was reported dropped
        self.assertEqual(count - len(values), dropped, res)
        self.assertEqual(values[-1], count - 1, "the last rows are missing")
        # and the agent's loss report says the same
        self.assertIn(f"ERROR pipeline: output csv/out lost {dropped} points: 0 in 0 buffers "
                      f"dropped because its queue was full", res.stderr)


if __name__ == "__main__":
    main()
