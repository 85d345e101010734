# SPDX-License-Identifier: MIT
"""`exec` and `watch`: exit statuses, spawn-failure hints, argument passing,
and the measurements taken just before the child starts and just after it
ends (everything is flushed to the outputs before the agent exits)."""

import os
import signal
import subprocess
import sys
import time
import unittest

from e2e_common import AgentTestCase, main, needs_csv, parse_rfc3339_ns

# A child that records when it started and when it ended (wall clock, ns),
# with a 0.3 s sleep in between, like `sleep 0.3`.
TIMED_CHILD = ("import time; open('child-start', 'w').write(str(time.time_ns())); "
               "time.sleep(0.3); open('child-end', 'w').write(str(time.time_ns()))")


class TestExecStatus(AgentTestCase):
    def setUp(self):
        super().setUp()
        # no plugin: these tests are about the child, not the measurements
        self.write_config("[plugins]\n")

    def test_true(self):
        res = self.agent("exec", "true")
        self.assert_exit(res, 0)
        self.assert_in_stderr("Child process 'true' spawned with pid ", res)
        self.assert_log("INFO", "agent",
                        "Child process exited with exit status: 0, Alumet will now stop.", res)
        self.assert_not_in_stderr("--ignore-exit-code", res)

    def test_exit_code_is_propagated(self):
        res = self.agent("exec", "sh", "-c", "exit 3")
        self.assert_exit(res, 3)
        self.assert_log("WARN", "agent", "the child process failed with exit code 3; use "
                        "--ignore-exit-code to make the agent return 0 anyway", res)

    def test_ignore_exit_code(self):
        res = self.agent("exec", "--ignore-exit-code", "sh", "-c", "exit 3")
        self.assert_exit(res, 0)
        self.assert_log("INFO", "agent",
                        "Child process exited with exit status: 3, Alumet will now stop.", res)
        self.assert_not_in_stderr("use --ignore-exit-code", res)

    def test_ignore_exit_code_after_program_goes_to_the_child(self):
        # once PROGRAM is given, every following word is the child's
        res = self.agent("exec", "sh", "-c", 'echo "$0 $1"; exit 4', "--ignore-exit-code", "x")
        self.assert_exit(res, 4)
        self.assertEqual(res.stdout, "--ignore-exit-code x\n")

    def test_child_killed_by_signal(self):
        res = self.agent("exec", "sh", "-c", "kill -9 $$")
        self.assert_exit(res, 1)
        self.assert_log("INFO", "agent",
                        "Child process was killed by signal 9, Alumet will now stop.", res)
        self.assert_log("WARN", "agent", "the child process was killed by a signal; use "
                        "--ignore-exit-code to make the agent return 0 anyway", res)

    def test_not_found(self):
        res = self.agent("exec", "nosuchprogram")
        self.assert_exit(res, 101)
        self.assert_log("ERROR", "agent",
                        "failed to spawn 'nosuchprogram': No such file or directory", res)
        self.assert_log("ERROR", "agent", "Command 'nosuchprogram' not found", res)
        self.assert_log("ERROR", "agent", "hint: no file with a similar name exists in the "
                        "current directory; check the PATH or give the full path of the "
                        "program", res)
        # the agent still stopped cleanly
        self.assert_log("INFO", "agent", "All plugins have stopped.", res)

    def test_not_found_did_you_mean(self):
        self.write("myscript", "#!/bin/sh\nexit 0\n", mode=0o755)
        res = self.agent("exec", "myscrpt", "a", "b")
        self.assert_exit(res, 101)
        self.assert_log("ERROR", "agent", "Command 'myscrpt' not found", res)
        self.assert_log("ERROR", "agent", "hint: did you mean ./myscript a b", res)

    def test_not_found_file_in_cwd(self):
        self.write("myscript", "#!/bin/sh\nexit 0\n", mode=0o755)
        res = self.agent("exec", "myscript", "arg")
        self.assert_exit(res, 101)
        self.assert_log("ERROR", "agent", "hint: a file named 'myscript' exists in the current "
                        "directory; prefix it with ./ to run it, for example: alumet-agent "
                        "exec ./myscript arg", res)
        # and the hint is right
        self.assert_exit(self.agent("exec", "./myscript", "arg"), 0)

    def test_permission_denied(self):
        self.write("script.sh", "#!/bin/sh\nexit 0\n", mode=0o644)
        res = self.agent("exec", "./script.sh")
        self.assert_exit(res, 101)
        self.assert_log("ERROR", "agent", "failed to spawn './script.sh': Permission denied",
                        res)
        self.assert_log("ERROR", "agent", "hint: the file './script.sh' is not readable and "
                        "executable; try chmod +x ./script.sh", res)

    def test_directory(self):
        os.mkdir(self.path("somedir"))
        res = self.agent("exec", "./somedir")
        self.assert_exit(res, 101)
        self.assert_log("ERROR", "agent", "failed to spawn './somedir': Permission denied", res)

    def test_directory_hint(self):
        os.mkdir(self.path("somedir"))
        res = self.agent("exec", "./somedir")
        self.assert_exit(res, 101)
        self.assert_not_in_stderr("chmod", res)
        self.assert_in_stderr("directory", res)

    def test_missing_interpreter_hint(self):
        self.write("bad.sh", "#!/nonexistent/interpreter\nexit 0\n", mode=0o755)
        res = self.agent("exec", "./bad.sh")
        self.assert_exit(res, 101)
        self.assert_not_in_stderr("prefix it with ./", res)
        self.assert_in_stderr("interpreter", res)

    def test_sigterm_is_forwarded_to_the_child(self):
        # the agent passes SIGTERM to the child; the child ends, the agent
        # takes its last measurement and exits (1: the child was killed)
        p = self.start("--plugins", "csv", "exec", "sleep", "30", plugin_dir=False)
        time.sleep(0.2)
        res = self.stop(p, signal.SIGTERM, timeout=10)
        self.assert_exit(res, 1)
        self.assertLess(p.t_exit - p.t_signal, 5.0)
        self.assert_in_stderr("SIGTERM received, forwarding it to the child process", res)
        self.assert_in_stderr("Child process was killed by signal 15", res)

    def test_double_dash_passes_options_to_the_child(self):
        self.write("marker-file", "")
        res = self.agent("exec", "--", "ls", "-la")
        self.assert_exit(res, 0)
        names = [line.split()[-1] for line in res.stdout.splitlines()[1:]]
        self.assertTrue(res.stdout.startswith("total "), res)  # the long format of -l
        self.assertIn(".", names)  # -a lists the dot entries
        self.assertIn("marker-file", names)

    def test_double_dash_after_program_is_dropped_once(self):
        # upstream's form (clap trailing_var_arg): `exec PROG -- ARGS`
        res = self.agent("exec", sys.executable, "--", "-c", "print(1+1)")
        self.assert_exit(res, 0)
        self.assertEqual(res.stdout, "2\n")
        res = self.agent("exec", "echo", "--", "--", "x")
        self.assert_exit(res, 0)
        self.assertEqual(res.stdout, "-- x\n")

    def test_double_dash_later_goes_to_the_child(self):
        res = self.agent("exec", "echo", "a", "--", "b")
        self.assert_exit(res, 0)
        self.assertEqual(res.stdout, "a -- b\n")
        # after `exec --`, every word is the child's, a second `--` too
        res = self.agent("exec", "--", "echo", "--", "x")
        self.assert_exit(res, 0)
        self.assertEqual(res.stdout, "-- x\n")

    def test_options_after_program_go_to_the_child(self):
        res = self.agent("exec", "ls", "-la")
        self.assert_exit(res, 0)
        self.assertTrue(res.stdout.startswith("total "), res)

    def test_option_before_program_is_an_error(self):
        res = self.agent("exec", "-la")
        self.assert_exit(res, 2)
        self.assert_in_stderr("error: unexpected argument '-la' found", res)
        self.assert_in_stderr("tip: to pass '-la' as a value, use '-- -la'", res)

    def test_missing_program(self):
        res = self.agent("exec")
        self.assert_exit(res, 2)
        self.assert_in_stderr("the following required arguments were not provided:\n  "
                              "<PROGRAM>", res)

    def test_child_inherits_stdio_and_cwd(self):
        res = self.agent("exec", "sh", "-c", "pwd; echo err >&2")
        self.assert_exit(res, 0)
        self.assertEqual(os.path.realpath(res.stdout.strip()), os.path.realpath(self.dir))
        self.assertIn("err\n", res.stderr)


@needs_csv
class TestExecMeasures(AgentTestCase):
    def config(self, poll_interval, points_per_poll=3, flush_interval="10000h"):
        # flush_interval: the points wait in the source's buffer until the
        # final flush at shutdown (a trigger polls, it does not flush)
        self.write_config(f"""\
[plugins.test-source]
poll_interval = "{poll_interval}"
flush_interval = "{flush_interval}"
points_per_poll = {points_per_poll}
count_file = "count"

[plugins.csv]
output_path = "out.csv"
force_flush = false
""")

    def test_exec_flushes_everything(self):
        # A long interval: besides the first poll at startup, only the
        # triggers of exec (before the spawn, after the exit) measure.
        self.config("1h")
        res = self.agent("exec", sys.executable, "-c", TIMED_CHILD, plugin_dir=True)
        self.assert_exit(res, 0)
        count = self.read_count()
        self.assertIn(count, (6, 9), "expected 2 or 3 polls of 3 points (startup, before the "
                      f"spawn, after the exit): {count} points\n{res!r}")
        self.assert_sequence(self.csv_values("out.csv"), count)

        start = int(self.read("child-start"))
        end = int(self.read("child-end"))
        _, rows = self.read_csv("out.csv")
        stamps = sorted({parse_rfc3339_ns(r[1]) for r in rows})
        self.assertTrue(any(t < start for t in stamps),
                        f"no measurement before the child started at {start}: {stamps}")
        self.assertTrue(any(t > end for t in stamps),
                        f"no measurement after the child ended at {end}: {stamps}")
        self.assertFalse(any(start <= t <= end for t in stamps),
                         f"a measurement while the child ran: {stamps} in [{start}, {end}]")

    def test_exec_fast_source(self):
        # many points while the child runs: all of them reach the file
        self.config("2ms", points_per_poll=50, flush_interval="20ms")
        res = self.agent("exec", "sleep", "0.3", plugin_dir=True)
        self.assert_exit(res, 0)
        count = self.read_count()
        self.assertGreater(count, 50 * 20, res)
        self.assert_sequence(self.csv_values("out.csv"), count)

    def test_exec_exit_code_with_measurements(self):
        self.config("1h")
        res = self.agent("exec", "sh", "-c", "exit 7", plugin_dir=True)
        self.assert_exit(res, 7)
        self.assert_sequence(self.csv_values("out.csv"), self.read_count())

    def test_source_that_ends_is_flushed(self):
        # max_polls: the source returns ALUMET_POLL_DONE, then it is flushed
        # and removed; the triggers of exec no longer poll it
        self.write_config('[plugins.test-source]\npoll_interval = "1ms"\n'
                          'flush_interval = "10000h"\npoints_per_poll = 2\nmax_polls = 3\n'
                          'count_file = "count"\n\n[plugins.csv]\noutput_path = "out.csv"\n')
        res = self.agent("exec", "sleep", "0.2", plugin_dir=True)
        self.assert_exit(res, 0)
        self.assert_log("INFO", "pipeline", "source test-source/counter stopped itself", res)
        self.assertEqual(self.read_count(), 6)
        self.assert_sequence(self.csv_values("out.csv"), 6)

    def test_startup_failure_spawns_nothing(self):
        self.write_config('[plugins.csv]\noutput_path = "no-such-dir/out.csv"\n')
        res = self.agent("exec", "touch", "spawned")
        self.assert_exit(res, 1)
        self.assert_log("ERROR", "agent", "startup failure: plugin failed to start: csv v0.2.0: "
                        "failed to open file for writing 'no-such-dir/out.csv': No such file "
                        "or directory", res)
        self.assertFalse(os.path.exists(self.path("spawned")))

    def test_watch(self):
        self.config("1h")
        child = subprocess.Popen(["sleep", "0.5"])
        self.addCleanup(child.wait)
        res = self.agent("watch", str(child.pid), plugin_dir=True)
        self.assert_exit(res, 0)
        self.assert_log("INFO", "agent", f"Watching process {child.pid}.", res)
        self.assert_log("INFO", "agent",
                        f"Process {child.pid} has ended, Alumet will now stop.", res)
        self.assert_sequence(self.csv_values("out.csv"), self.read_count())

    def test_watch_bad_pid(self):
        res = self.agent("watch", "notapid")
        self.assert_exit(res, 2)
        self.assert_in_stderr("error: invalid value 'notapid' for '<PID>'", res)


if __name__ == "__main__":
    main()
