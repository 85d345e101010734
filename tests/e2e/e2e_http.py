# SPDX-License-Identifier: MIT
"""Shared helpers of the integration tests of the HTTP output plugins
(influxdb, opentelemetry), Python 3 standard library only: run the built
alumet-agent with the test-source plugin in the background in a temporary
directory, a fake HTTP server for the plugin to talk to, and the runner
that prints the summary line.

Meson passes the paths in the environment (and PYTHONPATH = tests/e2e):
  ALUMET_E2E_AGENT       the alumet-agent executable (the plugin built in)
  ALUMET_E2E_PLUGIN_DIR  the test plugins (test-source)
"""

import http.server
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from e2e_common import AGENT, CONFIG, PLUGIN_DIR, READY, clean_env

SKIP = 77

# What a fake server's policy returns to answer with bytes that are not HTTP.
GARBAGE = "garbage"


def free_port():
    """A TCP port of the loopback interface that is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class Agent:
    """One alumet-agent run in directory `workdir`, started in the background."""

    def __init__(self, workdir, config, args=("run",)):
        self.dir = workdir
        with open(os.path.join(workdir, CONFIG), "w", encoding="utf-8") as f:
            f.write(config)
        self.err_path = os.path.join(workdir, "agent.stderr")
        self._err = open(self.err_path, "w", encoding="utf-8")
        self.argv = [AGENT, "--plugin-dir", PLUGIN_DIR, "--config",
                     os.path.join(workdir, CONFIG), *args]
        # before the start: on a loaded machine the agent may make its first
        # points before Popen returns to this process
        self.t_start_ns = time.time_ns()
        self.proc = subprocess.Popen(self.argv, cwd=workdir, env=clean_env(),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._err)

    def stderr(self):
        with open(self.err_path, encoding="utf-8") as f:
            return f.read()

    def wait_ready(self, timeout=15):
        deadline = time.monotonic() + timeout
        while READY not in self.stderr():
            if self.proc.poll() is not None:
                raise AssertionError(f"agent exited with {self.proc.returncode} before being "
                                     f"ready\n--- stderr ---\n{self.stderr()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"agent not ready after {timeout}s\n{self.stderr()}")
            time.sleep(0.01)

    def wait_exit(self, timeout=30):
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"agent still running after {timeout}s\n{self.stderr()}")
        self._err.close()
        return self.proc.returncode

    def stop(self, timeout=30):
        """SIGTERM (a clean shutdown: the outputs are drained), wait."""
        self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._err.close()

    def count(self):
        """Points test-source produced so far (its count_file)."""
        try:
            with open(os.path.join(self.dir, "count"), encoding="utf-8") as f:
                return int(f.read() or "0")
        except FileNotFoundError:
            return 0


class AgentTestCase(unittest.TestCase):
    """A test case with its own temporary directory (named after tmp_prefix)
    where self.agent(config) starts the agent in the background."""

    maxDiff = None
    tmp_prefix = "alumet-http-"

    @classmethod
    def setUpClass(cls):
        if not AGENT or not os.access(AGENT, os.X_OK):
            raise unittest.SkipTest("ALUMET_E2E_AGENT does not name an executable agent")

    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix=self.tmp_prefix)
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name

    def agent(self, config, args=("run",)):
        a = Agent(self.dir, config, args)
        self.addCleanup(a.kill)
        return a


class FakeServer:
    """An HTTP/1.1 server on 127.0.0.1 (port 0: any free one), in its own
    threads, that passes every POST request to self.handle(req), a
    BaseHTTPRequestHandler. Every problem found in a request is recorded
    in errors (check)."""

    def __init__(self, port=0):
        self.errors = []
        self.connections = set()
        self.lock = threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                fake.handle(self)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def handle(self, req):
        raise NotImplementedError

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def garbage(self, req):
        """Answer req with bytes that are not HTTP (a broken proxy, a server
        that crashed mid-reply), then close the connection."""
        req.close_connection = True
        try:
            req.wfile.write(b"\x00\x01 this is not HTTP\r\n\r\n")
            req.wfile.flush()
        except OSError:
            pass

    def check(self, req, what, cond):
        if not cond:
            self.errors.append(f"{what}: {req.command} {req.path} {dict(req.headers)!r}")


def run_tests(all_skipped_exit=0):
    """unittest.main, then the summary line "N passed, N failed, N skipped";
    exits 1 on a failure, all_skipped_exit when every test was skipped (SKIP:
    the Meson test is skipped), else 0."""
    prog = unittest.main(exit=False, verbosity=2)
    res = prog.result
    n = res.testsRun
    skipped = len(res.skipped)
    failed = len(res.failures) + len(res.errors)
    print(f"{n - failed - skipped} passed, {failed} failed, {skipped} skipped")
    if failed:
        sys.exit(1)
    if n and skipped == n:
        sys.exit(all_skipped_exit)
    sys.exit(0)
