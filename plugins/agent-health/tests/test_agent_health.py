#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""agent-health: the agent's own counters reach the outputs like any metric."""
import os

from e2e_common import AgentTestCase, main, needs_csv


@needs_csv
class TestAgentHealth(AgentTestCase):
    def test_counters_and_process_metrics(self):
        self.write_config(
            '[plugins.test-source]\npoll_interval = "10ms"\npoints_per_poll = 5\n'
            'count_file = "count"\n\n'
            '[plugins.csv]\noutput_path = "alumet-output.csv"\n\n'
            '[plugins.agent-health]\npoll_interval = "50ms"\nflush_interval = "50ms"\n')
        res = self.agent("exec", "sleep", "0.5", plugin_dir=True)
        self.assert_exit(res, 0)
        header, rows = self.read_csv()
        written = [r for r in rows if r[0] == "alumet_output_points_written"]
        self.assertGreater(len(written), 3, res)
        # the header has the attributes of the first buffer only: "output"
        # is a column or one of the __late_attributes
        def output_of(r):
            if "output" in header:
                return r[header.index("output")]
            late = dict(kv.split("=", 1) for kv in r[-1].split(",") if kv)
            return late.get("output")
        self.assertEqual({output_of(r) for r in written}, {"csv/out"})
        self.assertEqual({r[5] for r in written}, {"process"})
        self.assertEqual(len({r[6] for r in written}), 1, "one agent pid")
        values = [int(r[2]) for r in written]
        self.assertEqual(values, sorted(values), "a cumulative counter never goes down")
        self.assertGreater(values[-1], 0)
        produced = self.read_count()
        self.assertLessEqual(values[-1], produced + len(rows))
        dropped = [int(r[2]) for r in rows if r[0] == "alumet_output_points_dropped"]
        self.assertEqual(set(dropped), {0})
        rss = [int(r[2]) for r in rows if r[0] == "alumet_memory_rss_B"]
        self.assertTrue(rss and all(1 << 20 < v < 1 << 30 for v in rss), rss)
        cpu = [int(r[2]) for r in rows if r[0] == "alumet_cpu_time_ms"]
        self.assertTrue(cpu and cpu == sorted(cpu), cpu)


if __name__ == "__main__":
    main()
