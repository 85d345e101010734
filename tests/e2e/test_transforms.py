# SPDX-License-Identifier: MIT
"""Transforms run on every point, chained in the order of the plugin
sections in the configuration file."""

import os
import time

from e2e_common import AgentTestCase, main, needs_csv


def config(first, second):
    sections = {
        "test-transform": '[plugins.test-transform]\ntag = "ta"\n',
        "test-transform-b": '[plugins.test-transform-b]\ntag = "tb"\n',
    }
    return f"""\
[plugins.test-source]
poll_interval = "1h"
points_per_poll = 10
count_file = "count"

{sections[first]}
{sections[second]}
[plugins.csv]
output_path = "out.csv"
"""


@needs_csv
class TestTransforms(AgentTestCase):
    def check_chain(self, first, second, chain):
        self.write_config(config(first, second))
        res = self.agent("exec", "true", plugin_dir=True)
        self.assert_exit(res, 0)
        self.assert_in_stderr("1 source, \U0001f500 2 transforms and \U0001f4dd 1 output "
                              "registered.", res)
        header, rows = self.read_csv("out.csv")
        self.assertEqual(header[7:], ["chain", "ta", "tb", "__late_attributes"])
        count = self.read_count()
        self.assertEqual(len(rows), count)
        for row in rows:
            self.assertEqual(row[7:], [chain, "true", "true", ""], row)
        self.assert_sequence([int(r[2]) for r in rows], count)

    def test_chain_follows_config_order(self):
        self.check_chain("test-transform", "test-transform-b", "ta,tb")

    def test_chain_order_reversed(self):
        self.check_chain("test-transform-b", "test-transform", "tb,ta")

    def test_disabled_transform_is_skipped(self):
        self.write_config(config("test-transform", "test-transform-b")
                          .replace('tag = "ta"\n', 'tag = "ta"\nenabled = false\n'))
        res = self.agent("exec", "true", plugin_dir=True)
        self.assert_exit(res, 0)
        header, rows = self.read_csv("out.csv")
        self.assertEqual(header[7:], ["chain", "tb", "__late_attributes"])
        self.assertTrue(rows)
        for row in rows:
            self.assertEqual(row[7:], ["tb", "true", ""], row)

    def test_transform_thread_named(self):
        """With transforms the points go through a thread of their own,
        named "transform" (without, the sources push to the outputs)."""
        self.write_config(config("test-transform", "test-transform-b")
                          .replace('"1h"', '"10ms"'))
        p = self.start("run")
        deadline = time.monotonic() + 60
        while not (os.path.exists(self.path("count")) and self.read_count() > 0):
            self.assertLess(time.monotonic(), deadline, "no poll in 60 s")
            time.sleep(0.05)
        names = set()
        for tid in os.listdir("/proc/%d/task" % p.pid):
            try:
                with open("/proc/%d/task/%s/comm" % (p.pid, tid)) as f:
                    names.add(f.read().strip())
            except OSError:
                pass  # the thread ended
        res = self.stop(p)
        self.assert_exit(res, 0)
        self.assertLessEqual({"transform", "out:csv", "signals"}, names)


if __name__ == "__main__":
    main()
