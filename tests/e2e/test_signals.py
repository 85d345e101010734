# SPDX-License-Identifier: MIT
"""SIGTERM and SIGINT during `run` stop the agent cleanly and lose no point:
every point that test-source produced is in the CSV file exactly once, in
order, even with a fast source that flushes its buffer every 50 polls and a
buffered (force_flush = false) CSV: the final flushes matter."""

import signal
import time

from e2e_common import AgentTestCase, main, needs_csv

FAST_CONFIG = """\
[plugins.test-source]
poll_interval = "1ms"
flush_interval = "50ms"
points_per_poll = 100
count_file = "count"

[plugins.csv]
output_path = "out.csv"
force_flush = false
"""


@needs_csv
class TestSignals(AgentTestCase):
    def run_and_signal(self, sig, message):
        self.write_config(FAST_CONFIG)
        p = self.start("run")
        time.sleep(1.0)
        res = self.stop(p, sig)
        self.assert_exit(res, 0)
        self.assert_log("INFO", "agent", message, res)
        self.assert_log("INFO", "agent", "All plugins have stopped.", res)
        self.assert_not_in_stderr("ERROR", res)
        count = self.read_count()
        # 1 ms polls for about 1 s: far more than one buffer of the writer
        self.assertGreater(count, 10_000, f"test-source produced only {count} points\n{res!r}")
        header, rows = self.read_csv("out.csv")
        self.assertEqual(header, ["metric", "timestamp", "value", "resource_kind", "resource_id",
                                  "consumer_kind", "consumer_id", "__late_attributes"])
        self.assertEqual(rows[0], ["test_counter", rows[0][1], "0", "local_machine", "",
                                   "local_machine", "", ""])
        self.assert_sequence([int(r[2]) for r in rows], count)

    def test_sigterm_loses_nothing(self):
        self.run_and_signal(signal.SIGTERM, "SIGTERM received, shutting down...")

    def test_sigint_loses_nothing(self):
        self.run_and_signal(signal.SIGINT, "Ctrl+C received, shutting down...")

    def test_second_signal_is_harmless(self):
        self.write_config(FAST_CONFIG.replace('"1ms"', '"10ms"'))
        p = self.start("run")
        time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        res = self.stop(p, signal.SIGTERM)
        self.assert_exit(res, 0)
        self.assert_sequence(self.csv_values("out.csv"), self.read_count())


if __name__ == "__main__":
    main()
