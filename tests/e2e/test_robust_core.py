# SPDX-License-Identifier: MIT
"""The edges of the lifecycle: signals during the stop, slow sources, a
child under exec that must get each signal once and not outlive the agent,
a closed pipe, plugins that fail or crash at start, outputs that fail for a
while, and the shutdown deadline. Each test is the regression test of one
defect of the "robust core" issue."""

import os
import pty
import resource
import signal
import subprocess
import time

from e2e_common import AgentTestCase, clean_env, main, needs_csv, parse_rfc3339_ns

CSV = """
[plugins.csv]
output_path = "out.csv"
force_flush = false
"""


def wait_for(cond, timeout, what):
    """Poll cond() until it is true; generous timeouts (a loaded machine)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


@needs_csv
class TestRobustCore(AgentTestCase):
    def test_signals_during_the_stop_are_harmless(self):
        # a slow output makes the stop last ~1 s; SIGTERM and SIGINT keep
        # coming during it (the old agent freed the pipeline under the
        # signal thread: use-after-free under ASan)
        self.write_config("""
[plugins.test-source]
poll_interval = "10ms"
count_file = "count"

[plugins.slow-output]
delay = "50ms"
output_path = "slow.txt"
""" + CSV)
        p = self.start("run")
        time.sleep(0.3)
        p.send_signal(signal.SIGTERM)
        t_end = time.monotonic() + 1.0
        while p.poll() is None and time.monotonic() < t_end:
            p.send_signal(signal.SIGTERM if int(time.monotonic() * 1000) % 2 else signal.SIGINT)
            time.sleep(0.0005)
        res = self.stop(p, signal.SIGTERM)
        self.assert_exit(res, 0)
        # the first signal read starts the stop (SIGINT is read first when
        # both are pending); every later one is only logged
        self.assertEqual(res.stderr.count("SIGTERM received, shutting down...") +
                         res.stderr.count("Ctrl+C received, shutting down..."), 1, res)
        self.assertIn("the agent is already shutting down", res.stderr)
        count = self.read_count()
        self.assert_sequence(self.read_slow_values(), count, what="slow-output")
        self.assert_sequence(self.csv_values("out.csv"), count)

    def test_signal_during_the_startup_stops_the_agent(self):
        # a SIGTERM that comes while plugins start is not lost: the agent
        # stops as soon as it is ready
        self.write_config('[plugins.test-source]\npoll_interval = "10ms"\n' + CSV)
        p = subprocess.Popen(self.agent_args(["run"], True), cwd=self.dir, env=clean_env(),
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        self._procs.append(p)
        # from this log line on, the agent's signal thread exists and the
        # plugins are not started yet
        for line in p.stderr:
            if "Initializing the plugins..." in line:
                break
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("SIGTERM received, shutting down...", err)

    def test_slow_source_does_not_delay_the_others(self):
        # test-source blocks 1.5 s in each poll; procfs polls every 50 ms
        self.write_config("""
[plugins.test-source]
poll_interval = "50ms"
poll_delay = "1500ms"
count_file = "count"

[plugins.procfs.kernel]
poll_interval = "50ms"
[plugins.procfs.memory]
poll_interval = "10s"
[plugins.procfs.processes]
enabled = false
""" + CSV)
        p = self.start("run")
        time.sleep(2.0)
        res = self.stop(p)
        self.assert_exit(res, 0)
        header, rows = self.read_csv("out.csv")
        stamps = {r[1] for r in rows if r[0] == "kernel_cpu_time_ms"}
        # one thread for all sources polled procfs about twice in 2 s
        self.assertGreater(len(stamps), 8, res)
        # the slow source's polls still all arrived, in order
        self.assert_sequence(self.csv_values("out.csv"), self.read_count())

    def test_exec_keeps_the_last_measurement_of_a_slow_source(self):
        # the slow source is first in order; the old agent gave up after 1 s
        # and lost every source it had not reached
        self.write_config("""
[plugins.test-source]
poll_interval = "10s"
poll_delay = "1200ms"
count_file = "count"

[plugins.procfs.kernel]
poll_interval = "10s"
[plugins.procfs.memory]
poll_interval = "10s"
[plugins.procfs.processes]
enabled = false
""" + CSV)
        res = self.agent("exec", "--no-summary", "sh", "-c", "date +%s%N > t0; sleep 0.2",
                         plugin_dir=True, timeout=60)
        self.assert_exit(res, 0)
        header, rows = self.read_csv("out.csv")
        # kernel_cpu_time: the measurement after the child ended is there
        # (its first poll is a baseline; the one before the child may be the
        # same poll, so the final one can be the only row)
        stamps = sorted(parse_rfc3339_ns(r[1]) for r in rows if r[0] == "kernel_cpu_time_ms")
        self.assertGreaterEqual(len(stamps), 1, res)
        self.assertGreater(stamps[-1], int(self.read("t0")) + 200_000_000, res)
        # test-source: every poll arrived, the final one included
        self.assert_sequence(self.csv_values("out.csv"), self.read_count())
        self.assertGreaterEqual(self.read_count(), 2, res)

    def run_in_pty(self, args, child_script):
        """Run the agent in a new terminal (its own session): Ctrl+C typed
        there reaches the whole foreground process group."""
        self.write("child.py", child_script)
        pid, fd = pty.fork()
        if pid == 0:
            os.chdir(self.dir)
            os.execve(args[0], args, clean_env())
        self.addCleanup(os.close, fd)
        return pid, fd

    CHILD = """
import signal, sys, time
n = 0
def on_int(sig, frame):
    global n
    n += 1
signal.signal(signal.SIGINT, on_int)
open("child.ready", "w").close()
deadline = time.monotonic() + 20
while n == 0 and time.monotonic() < deadline:
    time.sleep(0.01)
time.sleep(0.5)  # a second SIGINT would arrive here
open("child.count", "w").write(str(n))
"""

    def read_pty(self, fd):
        out = b""
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        return out.decode(errors="replace")

    def test_ctrl_c_reaches_the_child_once(self):
        self.write_config(CSV)
        args = self.agent_args(["exec", "--no-summary", "python3", "child.py"], True)
        pid, fd = self.run_in_pty(args, self.CHILD)
        wait_for(lambda: os.path.exists(self.path("child.ready")), 20, "the child")
        os.write(fd, b"\x03")  # Ctrl+C typed in the terminal
        out = self.read_pty(fd)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(self.read("child.count"), "1", out)
        self.assertIn("Ctrl+C received; the child process", out)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, out)

    def test_kill_of_the_agent_is_forwarded_once(self):
        self.write_config(CSV)
        self.write("child.py", self.CHILD)
        p = self.start("exec", "--no-summary", "python3", "child.py")
        wait_for(lambda: os.path.exists(self.path("child.ready")), 20, "the child")
        p.send_signal(signal.SIGINT)  # kill -INT <agent>: only the agent gets it
        p.wait(timeout=30)
        self.assertEqual(self.read("child.count"), "1", self.read("agent.stderr"))
        self.assertIn("Ctrl+C received, forwarding it to the child process",
                      self.read("agent.stderr"))

    def test_child_does_not_outlive_a_killed_agent(self):
        self.write_config(CSV)
        p = self.start("exec", "--no-summary", "sh", "-c", "echo $$ > child.pid; exec sleep 60")
        wait_for(lambda: os.path.exists(self.path("child.pid")) and self.read("child.pid"), 20,
                 "the child")
        child = int(self.read("child.pid"))
        p.kill()
        p.wait()

        def gone():
            try:
                with open(f"/proc/{child}/stat") as f:
                    return f.read().split(") ")[1][0] == "Z"  # zombie of init: dead
            except FileNotFoundError:
                return True
        wait_for(gone, 20, f"the child {child} to die with the agent")

    def test_child_gets_the_users_open_files_limit(self):
        # procfs raises the agent's own limit; the child gets the shell's
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        low = min(soft, hard // 2, 512)
        self.write_config("""
[plugins.procfs.processes]
enabled = true
strategy = "watcher"
""" + CSV)

        def lower():
            resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
        res = subprocess.run(self.agent_args(["exec", "--no-summary", "sh", "-c",
                                              "ulimit -n > limit; ulimit -Hn >> limit"], True),
                             cwd=self.dir, env=clean_env(), stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=60, preexec_fn=lower)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(self.read("limit").split(), [str(low), str(hard)], res.stderr)

    def test_closed_pipe_is_an_error_not_a_silent_death(self):
        # jsonl writes to stdout, whose reader is gone: EPIPE, not SIGPIPE
        self.write_config("""
[plugins.test-source]
poll_interval = "10ms"
count_file = "count"

[plugins.jsonl]
stdout = true
""" + CSV)
        r, w = os.pipe()
        os.close(r)
        p = subprocess.Popen(self.agent_args(["run"], True), cwd=self.dir, env=clean_env(),
                             stdin=subprocess.DEVNULL, stdout=w, stderr=subprocess.PIPE, text=True)
        os.close(w)
        self._procs.append(p)
        time.sleep(0.5)
        self.assertIsNone(p.poll(), "the agent died (SIGPIPE?)")
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 1, err)  # points lost for jsonl: said, exit 1
        self.assertIn("ERROR pipeline: output jsonl/", err)
        self.assertIn("Broken pipe", err)
        self.assert_sequence(self.csv_values("out.csv"), self.read_count())

    def test_plugin_failing_without_a_message_is_a_failure(self):
        self.write_config('[plugins.test-source]\nfail_start = true\n' + CSV)
        res = self.agent("run", plugin_dir=True)
        self.assert_exit(res, 1)
        self.assert_log("ERROR", "agent", "startup failure: plugin failed to start: test-source "
                        "v0.1.0: Input/output error", res)
        self.assert_not_in_stderr("The agent is ready.", res)

    def test_plugin_crash_is_named(self):
        self.write_config('[plugins.test-source]\ncrash_start = true\n' + CSV)
        res = self.agent("run", plugin_dir=True)
        self.assertNotEqual(res.returncode, 0, res)
        self.assert_in_stderr("ERROR agent: the agent crashed (Segmentation fault) in the start "
                              "function of plugin 'test-source'; disable it "
                              "(plugins.test-source.enabled = false)", res)

    def test_output_comes_back_after_failures(self):
        # buffers 3 and 4 fail, then the output writes again
        self.write_config("""
[plugins.test-source]
poll_interval = "10ms"
count_file = "count"

[plugins.failing-output]
fail_after = 2
fail_count = 2
""" + CSV)
        p = self.start("run")
        wait_for(lambda: "writes again" in self.read("agent.stderr"), 20, "the recovery")
        time.sleep(0.2)
        res = self.stop(p)
        self.assert_exit(res, 1)
        self.assert_in_stderr("INFO  pipeline: output failing-output/out writes again (2 points "
                              "lost so far)", res)
        count = self.read_count()
        self.assert_in_stderr(f"ERROR pipeline: output failing-output/out lost 2 points: 0 in 0 "
                              f"buffers dropped because its queue was full (output_queue_policy "
                              f"= \"drop_oldest\"), 2 not written (write errors, retry limit or "
                              f"shutdown_timeout); {count - 2} points written", res)
        self.assert_sequence(self.csv_values("out.csv"), count)

    def test_shutdown_deadline(self):
        # slow-output needs 0.5 s per buffer and has ~40 waiting: without a
        # deadline the stop would take 20 s; with shutdown_timeout = "1s" it
        # drops (and counts) the rest
        self.write_config("""
shutdown_timeout = "1s"
output_queue_size = 1000

[plugins.test-source]
poll_interval = "10ms"
count_file = "count"

[plugins.slow-output]
delay = "500ms"
output_path = "slow.txt"
""" + CSV)
        p = self.start("run")
        time.sleep(0.5)
        t = time.monotonic()
        res = self.stop(p)
        self.assertLess(time.monotonic() - t, 10, res)
        self.assert_exit(res, 1)
        count = self.read_count()
        written = len(self.read_slow_values())
        self.assert_in_stderr(f"ERROR pipeline: output slow-output/out lost {count - written} "
                              f"points: 0 in 0 buffers dropped because its queue was full "
                              f"(output_queue_policy = \"drop_oldest\"), {count - written} not "
                              f"written (write errors, retry limit or shutdown_timeout); "
                              f"{written} points written", res)
        self.assertLess(written, count)
        self.assert_sequence(self.csv_values("out.csv"), count)


if __name__ == "__main__":
    main()
