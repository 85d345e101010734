# SPDX-License-Identifier: MIT
"""Helpers of the influxdb plugin's integration tests (Python 3 standard
library only): run the built alumet-agent with the test-source plugin in a
temporary directory, and parse the InfluxDB line protocol independently of
the plugin's own code.

Meson passes the paths in the environment:
  ALUMET_E2E_AGENT       the alumet-agent executable (influxdb built in)
  ALUMET_E2E_PLUGIN_DIR  the test plugins (test-source)
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

AGENT = os.environ.get("ALUMET_E2E_AGENT", "")
PLUGIN_DIR = os.environ.get("ALUMET_E2E_PLUGIN_DIR", "")
READY = "The agent is ready."
SKIP = 77


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
        with open(os.path.join(workdir, "alumet-config.toml"), "w", encoding="utf-8") as f:
            f.write(config)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALUMET_")}
        env["LC_ALL"] = "C"
        self.err_path = os.path.join(workdir, "agent.stderr")
        self._err = open(self.err_path, "w", encoding="utf-8")
        self.argv = [AGENT, "--plugin-dir", PLUGIN_DIR, "--config",
                     os.path.join(workdir, "alumet-config.toml"), *args]
        self.proc = subprocess.Popen(self.argv, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self._err)
        self.t_start_ns = time.time_ns()

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
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        if not AGENT or not os.access(AGENT, os.X_OK):
            raise unittest.SkipTest("ALUMET_E2E_AGENT does not name an executable agent")

    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="alumet-influxdb-")
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name

    def agent(self, config, args=("run",)):
        a = Agent(self.dir, config, args)
        self.addCleanup(a.kill)
        return a


# ---- line protocol, parsed the way InfluxDB reads it ----

def _split_unescaped(text, sep, allow_quotes=False):
    """Split text at every sep not preceded by a backslash (and, for
    fields, not inside a double-quoted string)."""
    parts, cur, i, quoted = [], [], 0, False
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            cur.append(text[i:i + 2])
            i += 2
            continue
        if allow_quotes and c == '"':
            quoted = not quoted
        if c == sep and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(text, chars):
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in chars:
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def parse_field_value(v):
    """(type, value): 'u', 'i', 'f', 'b' or 's'."""
    if v.startswith('"'):
        if not v.endswith('"') or len(v) < 2:
            raise ValueError(f"bad string field {v!r}")
        return ("s", _unescape(v[1:-1], '"\\'))
    if v in ("T", "t", "true", "True", "TRUE"):
        return ("b", True)
    if v in ("F", "f", "false", "False", "FALSE"):
        return ("b", False)
    if v.endswith("u"):
        n = int(v[:-1])
        if not 0 <= n < 2**64:
            raise ValueError(f"unsigned out of range {v!r}")
        return ("u", n)
    if v.endswith("i"):
        n = int(v[:-1])
        if not -2**63 <= n < 2**63:
            raise ValueError(f"integer out of range {v!r}")
        return ("i", n)
    return ("f", float(v))


def parse_line(line):
    """measurement, [(tag, value)], [(field, (type, value))], timestamp."""
    sections = _split_unescaped(line, " ", allow_quotes=True)
    if len(sections) != 3:
        raise ValueError(f"expected 'series fields timestamp': {line!r}")
    series, fields, ts = sections
    head = _split_unescaped(series, ",")
    measurement = _unescape(head[0], ", ")
    tags = []
    for t in head[1:]:
        kv = _split_unescaped(t, "=")
        if len(kv) != 2 or not kv[0] or not kv[1]:
            raise ValueError(f"bad tag {t!r} in {line!r}")
        tags.append((_unescape(kv[0], ",= "), _unescape(kv[1], ",= ")))
    fl = []
    for fv in _split_unescaped(fields, ",", allow_quotes=True):
        kv = _split_unescaped(fv, "=", allow_quotes=True)
        if len(kv) != 2 or not kv[0]:
            raise ValueError(f"bad field {fv!r} in {line!r}")
        fl.append((_unescape(kv[0], ",= "), parse_field_value(kv[1])))
    return measurement, tags, fl, int(ts)


def run_tests():
    prog = unittest.main(exit=False, verbosity=2)
    res = prog.result
    n = res.testsRun
    skipped = len(res.skipped)
    failed = len(res.failures) + len(res.errors)
    print(f"{n - failed - skipped} passed, {failed} failed, {skipped} skipped")
    if failed:
        sys.exit(1)
    if n and skipped == n:
        sys.exit(SKIP)
    sys.exit(0)
