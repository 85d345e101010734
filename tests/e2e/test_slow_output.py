# SPDX-License-Identifier: MIT
"""A slow output and the output queue policies.

slow-output sleeps for every buffer. With output_queue_policy = "drop_oldest"
its queue drops buffers (counted and reported at shutdown) while the csv
output, fed by the same source, gets every point on time and the source
keeps its rate. With "block" (the default) no point is lost for any output:
without transforms the source pushes straight to the outputs' queues, and
the slow output's queue, which has the room of the sources' queue too
(source_channel_size), absorbs the difference."""

import os
import re
import time

from e2e_common import AgentTestCase, main, needs_csv

POLL_S = 0.02


def config(policy, delay, queue_size=2):
    return f"""\
output_queue_size = {queue_size}
output_queue_policy = "{policy}"

[plugins.test-source]
poll_interval = "{int(POLL_S * 1000)}ms"
count_file = "count"

[plugins.slow-output]
delay = "{delay}"
output_path = "slow.txt"

[plugins.csv]
output_path = "out.csv"
force_flush = true
"""


DROP_RE = re.compile(r"^ERROR pipeline: output ([\w-]+)/(\w+) lost (\d+) points: \3 in (\d+) "
                     r"buffers dropped because its queue was full "
                     r'\(output_queue_policy = "drop_oldest"\), 0 not written \(write errors, '
                     r"retry limit or shutdown_timeout\); \d+ points written$", re.M)


@needs_csv
class TestSlowOutput(AgentTestCase):
    def test_drop_oldest(self):
        self.write_config(config("drop_oldest", "200ms"))
        p = self.start("run")
        time.sleep(1.2)
        # while running: csv is up to date, slow-output far behind
        produced = self.read_count()
        csv_rows = len(self.csv_values("out.csv"))
        slow_rows = len(self.read_slow_values())
        t_mid = time.monotonic()
        res = self.stop(p)
        # points were lost (by the user's choice of policy, but lost): exit 1
        self.assert_exit(res, 1)

        self.assertGreaterEqual(csv_rows, produced - 5,
                                f"csv is late: {csv_rows} rows, {produced} points produced")
        max_slow = (t_mid - p.t_start) / 0.2 + 1
        self.assertLessEqual(slow_rows, max_slow, "slow-output wrote faster than its delay")

        # the source kept its rate (20 ms): not slowed down by the slow output
        count = self.read_count()
        low = (p.t_signal - p.t_ready) / POLL_S * 0.6
        high = (p.t_exit - p.t_start) / POLL_S + 2
        self.assertTrue(low <= count <= high,
                        f"{count} polls, expected between {low:.0f} and {high:.0f}")

        # csv: everything; slow-output: fewer, in order, the others counted as dropped
        self.assert_sequence(self.csv_values("out.csv"), count)
        slow = self.read_slow_values()
        self.assertLess(len(slow), count)
        self.assertEqual(slow, sorted(set(slow)), "slow-output got points twice or reordered")
        self.assertTrue(set(slow) <= set(range(count)))
        drops = DROP_RE.findall(res.stderr)
        self.assertEqual(len(drops), 1, f"expected one drop report (slow-output only)\n{res!r}")
        plugin, name, points, buffers = drops[0]
        self.assertEqual((plugin, name), ("slow-output", "out"))
        # one point per poll: one point per buffer, and written + dropped = produced
        self.assertEqual(int(points), count - len(slow), res)
        self.assertEqual(int(buffers), int(points))
        # the loss is the only error, and it makes the exit status 1
        errors = [line for line in res.stderr.splitlines() if line.startswith("ERROR")]
        self.assertEqual(len(errors), 2, res)
        self.assertRegex(errors[0], DROP_RE)
        self.assertEqual(errors[1], "ERROR agent: 1 error while running or shutting the agent "
                         "down (see above)")

    def test_block_is_lossless(self):
        # without transforms the source pushes to the outputs' queues, which
        # have room for output_queue_size + source_channel_size buffers (4).
        # The output takes 250 ms a buffer, 12 times the poll interval: the
        # source waits before its 11th poll even when a loaded machine
        # delays its polls (at 50 ms, CI's ASan pass under load once polled
        # so late that the output kept up, and the source never waited)
        self.write_config("source_channel_size = 2\n" + config("block", "250ms"))
        p = self.start("run")
        # the source goes on at the output's pace: more than the queue holds
        # (waited for, not timed: a loaded machine starts the agent late)
        deadline = time.monotonic() + 60
        while not (os.path.exists(self.path("count")) and self.read_count() > 10):
            self.assertLess(time.monotonic(), deadline, "fewer than 11 polls in 60 s")
            time.sleep(0.05)
        res = self.stop(p)
        self.assert_exit(res, 0)
        count = self.read_count()
        self.assertGreater(count, 10)
        self.assert_sequence(self.csv_values("out.csv"), count)
        self.assert_sequence(self.read_slow_values(), count, what="slow-output")
        self.assert_not_in_stderr("dropped", res)
        self.assert_not_in_stderr("ERROR", res)
        # once, when the slow output's queue is full and the source waits
        self.assertEqual(res.stderr.count("the buffers between the sources and the outputs are "
                                          "full: the outputs are too slow and the sources wait; "
                                          "consider a larger poll_interval, source_channel_size "
                                          "or output_queue_size"), 1, res.stderr)

    def test_block_is_the_default(self):
        self.write_config(config("block", "50ms").replace('output_queue_policy = "block"\n', ""))
        p = self.start("run")
        time.sleep(0.3)
        res = self.stop(p)
        self.assert_exit(res, 0)
        count = self.read_count()
        self.assert_sequence(self.read_slow_values(), count, what="slow-output")
        self.assert_sequence(self.csv_values("out.csv"), count)


if __name__ == "__main__":
    main()
