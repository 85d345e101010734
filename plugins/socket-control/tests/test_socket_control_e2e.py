# SPDX-License-Identifier: MIT
"""End to end: the built agent controlled through its Unix socket, with
Python's socket module as the client: `shutdown` stops it cleanly and removes
the socket file, the socket is 0600, `control ... pause` then `resume` leaves
a gap in the CSV, `status` lists the elements, errors are answered, a bind
error fails the start, and the procfs kernel source switched from 1 s to
1 ms and back while running polls at those rates (the CSV timestamps).

Needs ALUMET_E2E_AGENT, ALUMET_E2E_PLUGIN_DIR (test-source, test-transform)
and PYTHONPATH = tests/e2e (set by Meson). Python 3 standard library only."""

import os
import socket
import stat
import statistics
import time

from e2e_common import AgentTestCase, main, needs_csv, parse_rfc3339_ns

SOCK = "alumet-control.sock"

BASE_CONFIG = """\
[plugins.test-source]
poll_interval = "20ms"

[plugins.test-transform]
tag = "transformed"

[plugins.csv]
output_path = "out.csv"

[plugins.socket-control]
socket_path = "alumet-control.sock"
"""

PROCFS_CONFIG = """\
[plugins.procfs.kernel]
poll_interval = "1s"
[plugins.procfs.memory]
enabled = false
[plugins.procfs.network]
enabled = false
[plugins.procfs.processes]
enabled = false

[plugins.csv]
output_path = "out.csv"

[plugins.socket-control]
socket_path = "alumet-control.sock"
"""


class Client:
    """One connection; send() returns the reply line (without newline)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.buf = b""

    def send(self, line):
        self.sock.sendall(line.encode() + b"\n")
        return self.reply()

    def reply(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"connection closed, no reply (got {self.buf!r})")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode()

    def close(self):
        self.sock.close()


@needs_csv
class TestSocketControl(AgentTestCase):
    def client(self):
        c = Client(self.path(SOCK))
        self.addCleanup(c.close)
        return c

    def wait_exit(self, p, timeout=30):
        p.wait(timeout=timeout)
        return p.returncode, self.read("agent.stderr")

    def shutdown(self, p, client=None):
        c = client or self.client()
        self.assertEqual(c.send("shutdown"), "ok")
        code, err = self.wait_exit(p)
        self.assertEqual(code, 0, err)
        self.assertNotIn("ERROR", err)
        self.assertFalse(os.path.lexists(self.path(SOCK)), "the socket file is still there")
        return err

    def wait_status(self, c, text, timeout=5):
        deadline = time.monotonic() + timeout
        while True:
            status = c.send("status")
            if text in status or time.monotonic() > deadline:
                return status
            time.sleep(0.02)

    def test_shutdown_removes_the_socket_and_it_is_0600(self):
        self.write_config(BASE_CONFIG)
        p = self.start("run")
        st = os.lstat(self.path(SOCK))
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        err = self.shutdown(p)
        self.assertIn("shutdown requested on the control socket", err)
        self.assertIn("All plugins have stopped.", err)

    def test_upstream_client_without_reading_nor_newline(self):
        # `echo shutdown | socat ...`-like: write, close, never read
        self.write_config(BASE_CONFIG)
        p = self.start("run")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.path(SOCK))
        s.sendall(b"control src/*/* trigger-now\n" * 1000 + b"shutdown")
        s.close()
        code, err = self.wait_exit(p)
        self.assertEqual(code, 0, err)
        self.assertFalse(os.path.lexists(self.path(SOCK)))

    def test_status_and_errors(self):
        self.write_config(BASE_CONFIG)
        p = self.start("run")
        c = self.client()
        self.assertEqual(c.send("status"),
                         "ok: source/test-source/counter running 20ms; "
                         "transform/test-transform/tag enabled; output/csv/out running")
        # an empty line is a no-op without reply: the next reply is status's
        self.assertEqual(c.send("\n\nstatus").split(";")[0],
                         "ok: source/test-source/counter running 20ms")
        self.assertEqual(c.send("restart"), "error: unknown command 'restart'; available "
                                            "commands are 'shutdown' or 'control'")
        self.assertEqual(c.send("control"),
                         "error: invalid command 'control': missing argument 'selector'")
        self.assertEqual(c.send("control src"), "error: missing arguments after the selector")
        self.assertEqual(c.send("control sauce pause"), "error: bad kind: 'sauce'")
        self.assertEqual(c.send("control src/a*b/* pause"), "error: bad pattern: 'a*b'")
        self.assertEqual(c.send("control source/without-element pause"),
                         "error: bad pattern, expected kind/plugin/element but got "
                         "'source/without-element'")
        self.assertEqual(c.send("control transform/*/* stop"),
                         "error: invalid command 'control transform/*/* stop'")
        self.assertEqual(c.send("control src/nope/* pause"),
                         "error: no element matches 'src/nope/*'")
        self.assertEqual(c.send("control out/csv/out pause"),
                         "error: this agent cannot pause outputs (only sources and transforms "
                         "can be controlled); see the socket-control README")
        # the connection stays open after errors; transforms and sources change state
        self.assertEqual(c.send("control tra/test-transform/tag disable"), "ok")
        self.assertEqual(c.send("control src/test-source/counter set-period 50ms"), "ok")
        self.assertEqual(self.wait_status(c, "50ms"),
                         "ok: source/test-source/counter running 50ms; "
                         "transform/test-transform/tag disabled; output/csv/out running")
        self.assertEqual(c.send("control src stop"), "ok")
        self.assertIn("source/test-source/counter stopped", self.wait_status(c, "stopped"))
        c.close()
        # several clients, one after the other
        self.shutdown(p)

    def test_pause_resume_leaves_a_gap(self):
        self.write_config(BASE_CONFIG)
        p = self.start("run")
        c = self.client()
        time.sleep(0.5)
        self.assertEqual(c.send("control src/test-source/counter pause"), "ok")
        t_paused = time.time_ns()
        self.assertIn("counter paused 20ms", self.wait_status(c, "paused"))
        time.sleep(1.5)
        t_resume = time.time_ns()
        self.assertEqual(c.send("control src/test-source/counter resume"), "ok")
        time.sleep(0.5)
        self.shutdown(p, c)
        header, rows = self.read_csv("out.csv")
        rows = [r for r in rows if r[0] == "test_counter"]
        values = [int(r[2]) for r in rows]
        self.assert_sequence(values, len(values))  # paused, nothing lost
        ts = [parse_rfc3339_ns(r[1]) for r in rows]
        gaps = [(b - a, a, b) for a, b in zip(ts, ts[1:])]
        gap, before, after = max(gaps)
        self.assertGreater(gap, 1_000_000_000, f"no pause in the CSV: largest gap {gap} ns")
        # the gap is the pause: it starts before the pause was acknowledged
        # (at most one more poll) and ends after the resume was sent
        self.assertLess(before, t_paused + 500_000_000)
        self.assertGreater(after, t_resume)
        self.assertTrue(any(t > after for t in ts), "no point after the resume")

    def test_bind_error_fails_the_start(self):
        self.write_config(BASE_CONFIG.replace('socket_path = "alumet-control.sock"',
                                              'socket_path = "missing-dir/ctl.sock"'))
        res = self.agent("run", plugin_dir=True)
        self.assertNotEqual(res.returncode, 0, res)
        self.assert_in_stderr("cannot bind the control socket 'missing-dir/ctl.sock': No such file "
                              "or directory (errno 2); check that its directory exists and is "
                              "writable by the agent, or set plugins.socket-control.socket_path",
                              res)

    def test_a_file_at_the_path_is_not_deleted(self):
        self.write(SOCK, "precious")
        self.write_config(BASE_CONFIG)
        res = self.agent("run", plugin_dir=True)
        self.assertNotEqual(res.returncode, 0, res)
        self.assert_in_stderr("a file that is not a socket exists there", res)
        self.assertEqual(self.read(SOCK), "precious")

    def test_procfs_events_group_sleeps_under_run(self):
        """Under `run` nothing announces processes: procfs's events group
        stays paused (no wake-up every second) while the watcher runs."""
        self.write_config(PROCFS_CONFIG.replace(
            "[plugins.procfs.processes]\nenabled = false\n",
            '[plugins.procfs.processes]\nenabled = true\nstrategy = "watcher"\n'
            'refresh_interval = "1s"\n[[plugins.procfs.processes.groups]]\n'
            'exe_regex = "^/nothing-runs-this$"\npoll_interval = "1s"\n'))
        p = self.start("run", plugin_dir=False)
        c = self.client()
        status = c.send("status")
        self.assertIn("source/procfs/process-watcher running 1s", status)
        self.assertIn("source/procfs/process-events paused 1s", status)
        self.shutdown(p, c)

    def test_procfs_kernel_1s_1ms_1s(self):
        self.write_config(PROCFS_CONFIG)
        p = self.start("run", plugin_dir=False)
        c = self.client()
        time.sleep(3.6)
        t_fast = time.time_ns()
        self.assertEqual(c.send("control src/procfs/kernel set-period 1ms"), "ok")
        time.sleep(1.5)
        t_slow = time.time_ns()
        self.assertEqual(c.send("control source/procfs/kernel set-poll-interval 1s"), "ok")
        t_slow_ack = time.time_ns()
        time.sleep(3.6)
        self.shutdown(p, c)
        header, rows = self.read_csv("out.csv")
        polls = sorted({parse_rfc3339_ns(r[1]) for r in rows if r[0].startswith("kernel_")})

        def spacing(lo, hi):
            ts = [t for t in polls if lo <= t < hi]
            return [b - a for a, b in zip(ts, ts[1:])]

        ms = 1_000_000
        slow1 = spacing(0, t_fast)
        fast = spacing(t_fast + 200 * ms, t_slow)
        slow2 = spacing(t_slow_ack + 10 * ms, 2**63)
        self.assertGreaterEqual(len(slow1), 2, f"1 s phase: {slow1}")
        self.assertGreaterEqual(len(slow2), 2, f"second 1 s phase: {slow2}")
        self.assertGreaterEqual(len(fast), 50, f"1 ms phase: only {len(fast)} polls")
        self.assertGreater(statistics.median(slow1), 500 * ms, slow1)
        self.assertLess(statistics.median(fast), 20 * ms)
        self.assertGreater(statistics.median(slow2), 500 * ms, slow2)
        print(f"median spacing: 1 s phase {statistics.median(slow1) / ms:.1f} ms, "
              f"1 ms phase {statistics.median(fast) / ms:.3f} ms ({len(fast)} polls), "
              f"1 s phase again {statistics.median(slow2) / ms:.1f} ms")


if __name__ == "__main__":
    main()
