# SPDX-License-Identifier: MIT
"""A failing output loses only the buffers it failed to write (counted) and
goes on with the next ones: the other outputs get every point, the failure
is logged (rate-limited), and the agent exits with status 1 when it stops. The
same for a failing source (removed) and a failing transform (disabled)."""

import re
import time

from e2e_common import AgentTestCase, main, needs_csv

CONFIG_TEXT = """\
[plugins.test-source]
poll_interval = "10ms"
points_per_poll = 5
count_file = "count"

[plugins.failing-output]
fail_after = {fail_after}

[plugins.csv]
output_path = "out.csv"
force_flush = false
"""

FAILURE = ("ERROR pipeline: output failing-output/out: write failed (1 failure so far; the points "
           "of the failed writes are lost and counted, the output goes on): "
           "failing-output: simulated failure")
LOSS = re.compile(r"^ERROR pipeline: output failing-output/out lost (\d+) points: 0 in 0 buffers "
                  r"dropped because its queue was full \(output_queue_policy = \"drop_oldest\"\), "
                  r"\1 not written \(write errors, retry limit or shutdown_timeout\); "
                  r"(\d+) points written$", re.M)


@needs_csv
class TestFailingOutput(AgentTestCase):
    def test_run_goes_on_and_exits_1(self):
        self.write_config(CONFIG_TEXT.format(fail_after=3))
        p = self.start("run")
        # the failure happens at the 4th buffer (about 40 ms in)
        deadline = time.monotonic() + 5
        while "simulated failure" not in self.read("agent.stderr"):
            self.assertLess(time.monotonic(), deadline, "failing-output never failed")
            time.sleep(0.01)
        # the agent keeps running and measuring after the failure
        before = self.read_count()
        time.sleep(0.4)
        self.assertIsNone(p.poll(), "the agent stopped after the output failed")
        self.assertGreater(self.read_count(), before + 50)
        res = self.stop(p)
        self.assert_exit(res, 1)
        self.assert_in_stderr("failing-output: simulated failure", res)
        self.assertEqual(res.stderr.splitlines().count(FAILURE), 1, res)
        self.assert_log("ERROR", "agent",
                        "2 errors while running or shutting the agent down (see above)", res)
        count = self.read_count()
        self.assert_sequence(self.csv_values("out.csv"), count)
        # every point produced is either written (3 buffers of 5) or counted as lost
        lost, written = map(int, LOSS.search(res.stderr).groups())
        self.assertEqual(written, 15, res)
        self.assertEqual(lost + written, count, res)

    def test_fails_at_first_buffer(self):
        self.write_config(CONFIG_TEXT.format(fail_after=0))
        p = self.start("run")
        time.sleep(0.3)
        res = self.stop(p)
        self.assert_exit(res, 1)
        self.assertEqual(res.stderr.splitlines().count(FAILURE), 1, res)
        count = self.read_count()
        self.assert_sequence(self.csv_values("out.csv"), count)
        self.assertEqual(LOSS.search(res.stderr).groups(), (str(count), "0"), res)

    def test_exec_reports_the_failure(self):
        # upstream exits 0 and loses the failure; this agent exits 1
        self.write_config(CONFIG_TEXT.format(fail_after=0))
        res = self.agent("exec", "sleep", "0.1", plugin_dir=True)
        self.assert_exit(res, 1)
        self.assertEqual(res.stderr.splitlines().count(FAILURE), 1, res)
        self.assert_sequence(self.csv_values("out.csv"), self.read_count())
        # --ignore-exit-code ignores the child's status, not the agent's failure
        res = self.agent("exec", "--ignore-exit-code", "sh", "-c", "exit 3", plugin_dir=True)
        self.assert_exit(res, 1)
        self.assertEqual(res.stderr.splitlines().count(FAILURE), 1, res)

    def test_no_failure_before_fail_after(self):
        self.write_config(CONFIG_TEXT.format(fail_after=1_000_000))
        res = self.agent("exec", "sleep", "0.1", plugin_dir=True)
        self.assert_exit(res, 0)
        self.assert_not_in_stderr("simulated failure", res)


@needs_csv
class TestFailingElements(AgentTestCase):
    """A failing source or transform is removed or disabled alone."""

    def test_failing_source(self):
        self.write_config('[plugins.test-source]\npoll_interval = "10ms"\npoints_per_poll = 5\n'
                          'fail_at_poll = 3\ncount_file = "count"\n\n'
                          '[plugins.csv]\noutput_path = "out.csv"\n')
        res = self.agent("exec", "sleep", "0.2", plugin_dir=True)
        self.assert_exit(res, 1)
        self.assert_log("ERROR", "pipeline", "source test-source/counter failed and is removed: "
                        "test-source: simulated failure", res)
        self.assert_log("INFO", "agent",
                        "Child process exited with exit status: 0, Alumet will now stop.", res)
        self.assertEqual(self.read_count(), 10)
        self.assert_sequence(self.csv_values("out.csv"), 10)

    def test_failing_transform(self):
        self.write_config('[plugins.test-source]\npoll_interval = "10ms"\ncount_file = "count"\n'
                          '\n[plugins.test-transform]\ntag = "ta"\nfail_at_buffer = 3\n\n'
                          '[plugins.test-transform-b]\ntag = "tb"\n\n'
                          '[plugins.csv]\noutput_path = "out.csv"\n')
        res = self.agent("exec", "sleep", "0.2", plugin_dir=True)
        self.assert_exit(res, 1)
        self.assert_log("ERROR", "pipeline", "transform test-transform/tag failed and is "
                        "disabled, the others go on: test-transform: simulated failure", res)
        header, rows = self.read_csv("out.csv")
        self.assertEqual(header[7:], ["chain", "ta", "tb", "__late_attributes"])
        count = self.read_count()
        self.assertGreater(count, 3)
        self.assert_sequence([int(r[2]) for r in rows], count)
        # one point per buffer: two buffers through both transforms, then tb only
        self.assertEqual([r[7:] for r in rows[:2]], [["ta,tb", "true", "true", ""]] * 2)
        self.assertEqual([r[7:] for r in rows[2:]], [["tb", "", "true", ""]] * (count - 2))


if __name__ == "__main__":
    main()
