# SPDX-License-Identifier: MIT
"""Shared helpers of the end-to-end tests: run the built alumet-agent in a
fresh temporary directory, wait for it to be ready, signal it, and read what
it wrote (CSV file, test-source count file, slow-output values); and, for
the one-shot scripts of the plugins (a main() that runs the agent once),
recorded checks, the summary line and the CSV rows as dicts.

Meson passes the paths in the environment:
  ALUMET_E2E_AGENT           the alumet-agent executable
  ALUMET_E2E_PLUGIN_DIR      the test plugins (test-source, test-transform,
                             test-transform-b, slow-output, failing-output)
  ALUMET_E2E_ABI_PLUGIN_DIR  the abi-mismatch plugin, alone
  ALUMET_E2E_SOURCE_DIR      tests/e2e in the source tree
"""

import calendar
import collections
import csv
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

AGENT = os.environ.get("ALUMET_E2E_AGENT", "")
PLUGIN_DIR = os.environ.get("ALUMET_E2E_PLUGIN_DIR", "")
ABI_PLUGIN_DIR = os.environ.get("ALUMET_E2E_ABI_PLUGIN_DIR", "")
SOURCE_DIR = os.environ.get("ALUMET_E2E_SOURCE_DIR", os.path.dirname(os.path.abspath(__file__)))

VERSION = "0.9.5"
CONFIG = "alumet-config.toml"
READY = "The agent is ready."

# Default configurations, byte for byte (plugins/csv/csv.c CSV_DEFAULT_CONFIG
# and tests/plugins/test-source/test-source.c TEST_SOURCE_DEFAULT_CONFIG).
CSV_DEFAULT_CONFIG = (
    "[plugins.csv]\n"
    "# Path of the CSV file, relative to the working directory (truncated at startup)\n"
    'output_path = "alumet-output.csv"\n'
    "# Write to the file after every buffer of measurements (false: every 256 KiB)\n"
    "force_flush = true\n"
    "# Append the unit to the metric name (rapl_consumed_energy_J)\n"
    "append_unit_to_metric_name = true\n"
    "# Use the unit's display name (ms) rather than its unique name (millis)\n"
    "use_unit_display_name = true\n"
    "# Delimiter between the cells (one character)\n"
    'csv_delimiter = ";"\n'
    "# Delimiter between the entries of the __late_attributes column (one character)\n"
    'csv_late_delimiter = ","\n'
)
TEST_SOURCE_DEFAULT_CONFIG = (
    "[plugins.test-source]\n"
    'poll_interval = "100ms"\n'
    "points_per_poll = 1\n"
    "max_polls = 0\n"
)

CSV_COLUMNS = ["metric", "timestamp", "value", "resource_kind", "resource_id",
               "consumer_kind", "consumer_id"]

# Run a command at most this long: a hung agent fails the test, it does not
# block the suite until Meson's timeout.
RUN_TIMEOUT = 30


class Result:
    """The outcome of one agent run."""

    def __init__(self, args, returncode, stdout, stderr, elapsed):
        self.args = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed

    def __repr__(self):
        return (f"agent {self.args!r} exited with {self.returncode} after {self.elapsed:.2f}s\n"
                f"--- stdout ---\n{self.stdout}--- stderr ---\n{self.stderr}")


def clean_env(extra=None):
    """The test's environment without any ALUMET_* variable nor RUST_LOG (a
    developer's ALUMET_CONFIG or log levels must not change the results), plus
    extra."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ALUMET_") and k != "RUST_LOG"}
    env["LC_ALL"] = "C"
    if extra:
        env.update(extra)
    return env


def parse_rfc3339_ns(text):
    """'2025-04-25T15:08:53.99636522Z' -> nanoseconds since the epoch."""
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z", text)
    if not m:
        raise ValueError(f"not an RFC 3339 UTC timestamp: {text!r}")
    secs = calendar.timegm(tuple(int(g) for g in m.groups()[:6]))
    frac = (m.group(7) or "").ljust(9, "0")
    return secs * 1_000_000_000 + int(frac or "0")


class AgentTestCase(unittest.TestCase):
    """A test case that runs alumet-agent in its own temporary directory."""

    maxDiff = None

    @classmethod
    def setUpClass(cls):
        if not AGENT or not os.access(AGENT, os.X_OK):
            raise unittest.SkipTest("ALUMET_E2E_AGENT does not name an executable agent "
                                    "(run through `meson test --suite e2e`)")

    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="alumet-e2e-")
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        self._procs = []
        self.addCleanup(self._kill_all)

    # ---- files of the temporary directory ----

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text, mode=None):
        with open(self.path(name), "w", encoding="utf-8") as f:
            f.write(text)
        if mode is not None:
            os.chmod(self.path(name), mode)
        return self.path(name)

    def read(self, name):
        with open(self.path(name), encoding="utf-8") as f:
            return f.read()

    def write_config(self, text, name=CONFIG):
        return self.write(name, text)

    def read_count(self, name="count"):
        """The number of points test-source produced (its count_file)."""
        return int(self.read(name))

    def read_csv(self, name="alumet-output.csv"):
        """(header, rows) of a CSV file written by the csv plugin."""
        with open(self.path(name), newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f, delimiter=";"))
        self.assertGreater(len(rows), 0, f"{name} is empty: no header")
        header = rows[0]
        self.assertEqual(header[:7], CSV_COLUMNS, f"unexpected CSV header in {name}")
        self.assertEqual(header[-1], "__late_attributes")
        for i, row in enumerate(rows[1:]):
            self.assertEqual(len(row), len(header), f"{name}: row {i + 1} has "
                             f"{len(row)} cells, the header {len(header)}: {row!r}")
        return header, rows[1:]

    def csv_values(self, name="alumet-output.csv", metric="test_counter"):
        """The values of the test_counter rows, as integers, in file order."""
        header, rows = self.read_csv(name)
        return [int(r[2]) for r in rows if r[0] == metric]

    def read_slow_values(self, name="slow.txt"):
        return [int(line) for line in self.read(name).split()]

    def assert_sequence(self, values, count, what="csv"):
        """values is exactly 0, 1, ..., count - 1: nothing lost, duplicated
        or reordered."""
        self.assertEqual(len(values), count,
                         f"{what}: {len(values)} points, test-source produced {count}")
        if values != list(range(count)):
            missing = sorted(set(range(count)) - set(values))[:10]
            dups = sorted(v for v, n in collections.Counter(values).items() if n > 1)[:10]
            self.fail(f"{what}: the values are not 0..{count - 1} in order; "
                      f"missing (first 10): {missing}, duplicated: {dups}")

    # ---- running the agent ----

    def agent_args(self, args, plugin_dir):
        argv = [AGENT]
        if plugin_dir:
            argv += ["--plugin-dir", plugin_dir if isinstance(plugin_dir, str) else PLUGIN_DIR]
        return argv + list(args)

    def agent(self, *args, plugin_dir=False, env=None, timeout=RUN_TIMEOUT):
        """Run the agent to completion; returns a Result."""
        argv = self.agent_args(args, plugin_dir)
        t0 = time.monotonic()
        try:
            p = subprocess.run(argv, cwd=self.dir, env=clean_env(env), stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            self.fail(f"agent {argv!r} still running after {timeout}s\n"
                      f"--- stderr ---\n{e.stderr}")
        return Result(argv, p.returncode, p.stdout, p.stderr, time.monotonic() - t0)

    def start(self, *args, plugin_dir=True, env=None):
        """Start the agent in the background (stdout and stderr go to files)
        and wait until it logged that it is ready: from then on SIGINT and
        SIGTERM request a clean shutdown. Returns the Popen object."""
        argv = self.agent_args(args, plugin_dir)
        out = open(self.path("agent.stdout"), "w", encoding="utf-8")
        err = open(self.path("agent.stderr"), "w", encoding="utf-8")
        self.addCleanup(out.close)
        self.addCleanup(err.close)
        p = subprocess.Popen(argv, cwd=self.dir, env=clean_env(env), stdin=subprocess.DEVNULL,
                             stdout=out, stderr=err)
        p.argv = argv
        p.t_start = time.monotonic()
        self._procs.append(p)
        deadline = time.monotonic() + 15
        while READY not in self.read("agent.stderr"):
            if p.poll() is not None:
                self.fail(f"agent {argv!r} exited with {p.returncode} before being ready\n"
                          f"--- stderr ---\n{self.read('agent.stderr')}")
            if time.monotonic() > deadline:
                self.fail(f"agent {argv!r} not ready after 15s\n"
                          f"--- stderr ---\n{self.read('agent.stderr')}")
            time.sleep(0.01)
        p.t_ready = time.monotonic()
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=RUN_TIMEOUT):
        """Send sig to p and wait for its exit; returns a Result."""
        p.t_signal = time.monotonic()
        p.send_signal(sig)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            self.fail(f"agent {p.argv!r} did not stop within {timeout}s after signal {sig!r}\n"
                      f"--- stderr ---\n{self.read('agent.stderr')}")
        p.t_exit = time.monotonic()
        return Result(p.argv, p.returncode, self.read("agent.stdout"),
                      self.read("agent.stderr"), p.t_exit - p.t_start)

    def _kill_all(self):
        for p in self._procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    # ---- assertions on results ----

    def assert_exit(self, res, code):
        self.assertEqual(res.returncode, code, f"wrong exit status\n{res!r}")

    def assert_in_stderr(self, text, res):
        self.assertIn(text, res.stderr, f"missing from stderr: {text!r}\n{res!r}")

    def assert_not_in_stderr(self, text, res):
        self.assertNotIn(text, res.stderr, f"unexpected in stderr: {text!r}\n{res!r}")

    def assert_log(self, level, topic, message, res):
        """stderr has the line 'LEVEL topic: message' (the default sink pads
        the level to 5 characters)."""
        line = f"{level:<5} {topic}: {message}"
        self.assertIn(line, res.stderr.splitlines(), f"missing log line {line!r}\n{res!r}")


def needs_csv(cls):
    """Class decorator: skip the tests when the agent has no csv plugin (a
    build with -Dplugin-csv=disabled); otherwise they must pass."""
    orig = cls.setUpClass

    @classmethod
    def setUpClass(klass):
        orig.__func__(klass)
        out = subprocess.run([AGENT, "plugins", "list"], capture_output=True, text=True,
                             env=clean_env(), timeout=RUN_TIMEOUT).stdout
        if "- csv v" not in out:
            raise unittest.SkipTest("this agent was built without the csv plugin")

    cls.setUpClass = setUpClass
    return cls


def main():
    unittest.main(verbosity=2)


# ---- one-shot scripts ----

failures = []


def check(cond, what):
    """Record a failed check (and print it); returns cond."""
    if not cond:
        failures.append(what)
        print("FAIL: " + what, file=sys.stderr)
    return cond


def summary(cases=1):
    """Print the summary line of a script of `cases` cases (the failed checks
    counted as failed cases, at most all of them); returns the exit status."""
    failed = min(cases, len(failures))
    print("%d passed, %d failed, 0 skipped" % (cases - failed, failed))
    return 1 if failures else 0


def skip_reason(plugins=()):
    """Why a script cannot run here: no built agent, or an agent built without
    some of the plugins; None when it can."""
    if not AGENT or not os.path.exists(AGENT):
        return "ALUMET_E2E_AGENT is not set to the built agent"
    if plugins:
        out = subprocess.run([AGENT, "plugins", "list"], capture_output=True, text=True,
                             errors="replace", timeout=30).stdout
        missing = [p for p in plugins if "- %s v" % p not in out]
        if missing:
            return "the agent was built without the plugin(s) %s" % ", ".join(missing)
    return None


def read_csv_rows(path):
    """The rows of a CSV file of the csv plugin as dicts of the fixed columns,
    with "attrs": the attributes from their columns and from
    __late_attributes. The header is checked."""
    with open(path, newline="") as f:
        reader = csv.reader(f, delimiter=";")
        header = next(reader)
        check(header[:7] == CSV_COLUMNS and header[-1] == "__late_attributes",
              "CSV header: %r" % header)
        rows = []
        for cells in reader:
            row = dict(zip(CSV_COLUMNS, cells[:7]))
            attrs = {k: v for k, v in zip(header[7:-1], cells[7:-1]) if v != ""}
            for item in filter(None, (cells[-1] if len(cells) >= len(header) else "").split(",")):
                key, _, value = item.partition("=")
                attrs[key] = value
            row["attrs"] = attrs
            rows.append(row)
        return rows
