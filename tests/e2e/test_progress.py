# SPDX-License-Identifier: MIT
"""Progress: the status line of `run` (on SIGUSR1, and every
ALUMET_STATUS_INTERVAL, default one minute) with the points each output
wrote and dropped and the agent's CPU time and RSS; the progress line of
`exec`, shown only when stderr is a terminal."""

import os
import pty
import re
import signal
import subprocess
import time

from e2e_common import AgentTestCase, clean_env, main, needs_csv

CONFIG = """\
[plugins.test-source]
poll_interval = "20ms"
flush_interval = "20ms"
points_per_poll = 1
max_polls = 5
count_file = "count"

[plugins.csv]
output_path = "out.csv"
force_flush = true
"""

STATUS = re.compile(r"^INFO  agent: status: up (\d+) s; output 'csv/out': (\d+) points written, "
                    r"(\d+) dropped; agent: CPU \d+\.\d{3} s, RSS \d+\.\d MiB$", re.M)


def wait_for(cond, what, timeout=15):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@needs_csv
class TestStatus(AgentTestCase):
    def rows(self):
        try:
            return max(0, len(self.read("out.csv").splitlines()) - 1)
        except FileNotFoundError:
            return 0

    def test_sigusr1_status_line(self):
        self.write_config(CONFIG)
        p = self.start("run", env={"ALUMET_STATUS_INTERVAL": "0"})
        # the source stops after 5 points; they all reach the file
        wait_for(lambda: self.rows() == 5, "5 rows in out.csv")
        p.send_signal(signal.SIGUSR1)
        wait_for(lambda: STATUS.search(self.read("agent.stderr")), "the status line")
        res = self.stop(p, signal.SIGTERM)
        self.assert_exit(res, 0)
        lines = STATUS.findall(res.stderr)
        self.assertEqual(len(lines), 1, res)
        self.assertEqual(lines[0][1:], ("5", "0"), res)
        # the child of exec does not get SIGUSR1: only the agent reports

    def test_periodic_status(self):
        self.write_config(CONFIG)
        p = self.start("run", env={"ALUMET_STATUS_INTERVAL": "200ms"})
        try:
            wait_for(lambda: len(STATUS.findall(self.read("agent.stderr"))) >= 2,
                     "two periodic status lines")
        except AssertionError:
            self.fail(self.read("agent.stderr"))
        res = self.stop(p, signal.SIGTERM)
        self.assert_exit(res, 0)

    def test_default_period_is_a_minute(self):
        self.write_config(CONFIG)
        p = self.start("run")
        wait_for(lambda: self.rows() == 5, "5 rows in out.csv")
        res = self.stop(p, signal.SIGTERM)
        self.assertEqual(STATUS.findall(res.stderr), [], res)

    def test_bad_interval(self):
        self.write_config(CONFIG)
        res = self.agent("run", plugin_dir=True, env={"ALUMET_STATUS_INTERVAL": "often"})
        self.assert_exit(res, 1)
        self.assert_in_stderr("error: invalid ALUMET_STATUS_INTERVAL 'often': expected a "
                              "duration such as \"1m\" or \"30s\", or \"0\" for no periodic "
                              "status line", res)


@needs_csv
class TestExecProgress(AgentTestCase):
    CONFIG = '[plugins.csv]\noutput_path = "out.csv"\n'

    def test_not_a_terminal_prints_nothing_extra(self):
        self.write_config(self.CONFIG)
        res = self.agent("exec", "sleep", "2.5")
        self.assert_exit(res, 0)
        self.assertNotIn("\r", res.stderr)
        self.assertNotIn("elapsed", res.stderr)
        self.assertNotIn("\x1b[K", res.stderr)

    def test_terminal_line_rewritten(self):
        self.write_config(self.CONFIG)
        master, slave = pty.openpty()
        p = subprocess.Popen([os.environ["ALUMET_E2E_AGENT"], "exec", "sleep", "3"],
                             cwd=self.dir, env=clean_env(), stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.close(master)
        self.assertEqual(p.wait(timeout=30), 0)
        text = out.decode()
        shown = re.findall(r"\r\x1b\[Kalumet: (\d+) s elapsed", text)
        self.assertGreaterEqual(len(shown), 1, text)
        self.assertEqual([int(s) for s in shown], sorted(int(s) for s in shown))
        # the line is cleared before the summary
        last = text.rindex("elapsed")
        self.assertIn("\r\x1b[K", text[last:])


if __name__ == "__main__":
    main()
