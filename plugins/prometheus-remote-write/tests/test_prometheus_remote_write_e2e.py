# SPDX-License-Identifier: MIT
"""prometheus-remote-write end to end, against a real Prometheus (2.42,
--web.enable-remote-write-receiver) and a real VictoriaMetrics, each started
on a free loopback port with its data in a temporary directory.

The agent runs test-source (test_counter = 0, 1, 2, ..., declared in
counter_metrics), procfs (kernel) and energy-estimation-tdp (the energy
estimated_consumed_energy, in joules), with the csv output and the plugin in
the same run. Every sample the server holds is read back (Prometheus: a
range-vector query, raw samples; VictoriaMetrics: /api/v1/export) and must
be exactly the CSV of the run: the same series (names of prometheus-exporter,
labels), the same millisecond timestamps, the same values, no more and no
fewer; and each counter (_cumulative_..._total) must be, at each sample, the
sum of the CSV values of its series so far.

One Prometheus also scrapes prometheus-exporter of the same agent while it
receives the remote writes: the series must be the same (names, labels).
And a Prometheus without the receiver makes the agent refuse to start.

The outage tests stop the server while the agent runs, check that the agent
noticed, start it again on the same port and data, and then require the
same: nothing that is in the CSV is missing in the server.

Skipped (exit 77) when neither server is installed (Debian: prometheus,
victoria-metrics); a test whose server is absent is skipped with the reason.
Meson passes ALUMET_E2E_AGENT, ALUMET_E2E_PLUGIN_DIR and PYTHONPATH.
"""

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request

from e2e_common import parse_rfc3339_ns, read_csv_rows
from e2e_http import SKIP, AgentTestCase, free_port, run_tests, wait_until

PROMETHEUS = shutil.which("prometheus")
VICTORIA = shutil.which("victoria-metrics")
LONG = 90  # seconds: generous on a loaded machine; nothing races a deadline
PLUGINS = "test-source,procfs,energy-estimation-tdp,csv,prometheus-remote-write"

# metric -> (gauge name, counter name or None), as prometheus-exporter names them
NAMES = {
    "test_counter": ("test_counter_alumet", "test_counter_alumet_cumulative_total"),
    "estimated_consumed_energy": ("estimated_consumed_energy_alumet_joules",
                                  "estimated_consumed_energy_alumet_cumulative_joules_total"),
    "kernel_cpu_time": ("kernel_cpu_time_alumet_milliseconds", None),
    "kernel_context_switches": ("kernel_context_switches_alumet", None),
    "kernel_new_forks": ("kernel_new_forks_alumet", None),
    "kernel_n_procs_running": ("kernel_n_procs_running_alumet", None),
    "kernel_n_procs_blocked": ("kernel_n_procs_blocked_alumet", None),
}

DELTA_GAUGES = {gauge for gauge, counter in NAMES.values() if counter}


def config(url, polls, with_procfs=True):
    procfs = """
[plugins.procfs.kernel]
poll_interval = "200ms"
[plugins.procfs.memory]
enabled = false
[plugins.procfs.network]
enabled = false
[plugins.procfs.processes]
enabled = false

[plugins.energy-estimation-tdp]
tdp = 100.0
nb_cpu = 4.0
""" if with_procfs else ""
    return f"""\
[plugins.test-source]
poll_interval = "50ms"
points_per_poll = 1
max_polls = {polls}
count_file = "count"
{procfs}
[plugins.csv]
output_path = "out.csv"
append_unit_to_metric_name = false

[plugins.prometheus-remote-write]
url = "{url}"
counter_metrics = ["test_counter"]
labels = {{ job = "e2e" }}
"""


def http(url, data=None, timeout=10):
    with urllib.request.urlopen(url, data=data, timeout=timeout) as r:
        return r.status, r.read()


class Server:
    """A server process on a free loopback port; argv(port, dir) is its
    command line. start/stop keep the port and the data."""

    def __init__(self, workdir, name, argv, ready_path):
        self.dir = os.path.join(workdir, name)
        os.mkdir(self.dir)
        self.port = free_port()
        self.argv = argv
        self.ready_path = ready_path
        self.log = os.path.join(self.dir, "server.log")
        self.proc = None

    def start(self):
        with open(self.log, "a", encoding="utf-8") as log:
            self.proc = subprocess.Popen(self.argv(self.port, self.dir), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)
        wait_until(self.ready, LONG, f"{self.argv(self.port, self.dir)[0]} to be ready")

    def ready(self):
        if self.proc.poll() is not None:
            with open(self.log, encoding="utf-8") as f:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{f.read()}")
        try:
            return http(f"http://127.0.0.1:{self.port}{self.ready_path}", timeout=1)[0] == 200
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=LONG)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Prometheus(Server):
    def __init__(self, workdir):
        super().__init__(workdir, "prometheus", lambda port, d: [
            PROMETHEUS, "--web.enable-remote-write-receiver", "--config.file=/dev/null",
            f"--storage.tsdb.path={d}/tsdb", f"--web.listen-address=127.0.0.1:{port}"],
            "/-/ready")
        self.url = f"http://127.0.0.1:{self.port}/api/v1/write"

    def samples(self):
        """{(name, frozenset(labels)): [(ms, value)]}: every raw sample."""
        q = urllib.parse.urlencode({"query": '{__name__=~".+_alumet.*"}[1h]',
                                    "time": f"{time.time() + 60:.3f}"})
        res = json.loads(http(f"http://127.0.0.1:{self.port}/api/v1/query?{q}")[1])
        out = {}
        for s in res["data"]["result"]:
            labels = dict(s["metric"])
            name = labels.pop("__name__")
            out[(name, frozenset(labels.items()))] = [(round(float(t) * 1000), float(v))
                                                      for t, v in s["values"]]
        return out


class Victoria(Server):
    def __init__(self, workdir):
        super().__init__(workdir, "victoria", lambda port, d: [
            VICTORIA, f"-httpListenAddr=127.0.0.1:{port}", f"-storageDataPath={d}/data",
            "-loggerLevel=WARN"], "/health")
        self.url = f"http://127.0.0.1:{self.port}/api/v1/write"

    def samples(self):
        base = f"http://127.0.0.1:{self.port}"
        http(f"{base}/internal/force_flush")
        q = urllib.parse.urlencode({"match[]": '{__name__=~".+_alumet.*"}'})
        out = {}
        for line in http(f"{base}/api/v1/export?{q}", timeout=30)[1].decode().splitlines():
            s = json.loads(line)
            labels = dict(s["metric"])
            name = labels.pop("__name__")
            pts = sorted(zip(s["timestamps"], s["values"]))
            out.setdefault((name, frozenset(labels.items())), []).extend(
                (int(t), float(v)) for t, v in pts)
        for v in out.values():
            v.sort()
        return out


def expected_samples(csv_path):
    """What the server must hold, from the CSV: {(name, labels): [(ms, value)]}.
    One sample per series and millisecond, as the README says: the points of
    a delta series in one millisecond summed (a loaded machine may poll twice
    within 1 ms), those of another series summed when they have the same
    timestamp, else the last one; the counters are running sums of their
    series."""
    series = {}
    for i, row in enumerate(read_csv_rows(csv_path)):
        gauge, counter = NAMES[row["metric"]]
        labels = {"job": "e2e", "resource_kind": row["resource_kind"],
                  "resource_id": row["resource_id"], "resource_consumer_kind": row["consumer_kind"],
                  "resource_consumer_id": row["consumer_id"], **row["attrs"]}
        labels = frozenset((k, v) for k, v in labels.items() if v != "")
        ns = parse_rfc3339_ns(row["timestamp"])
        series.setdefault((gauge, counter, labels), []).append((ns, i, float(row["value"])))
    out = {}
    for (gauge, counter, labels), pts in series.items():
        pts.sort()
        gauges, counters, total, prev_ns = [], [], 0.0, None
        for ns, _, v in pts:
            ms = ns // 1000000
            if counter:
                total += v
            if gauges and gauges[-1][0] == ms and (counter or ns == prev_ns):
                gauges[-1] = (ms, gauges[-1][1] + v)
            elif gauges and gauges[-1][0] == ms:
                gauges[-1] = (ms, v)
            else:
                gauges.append((ms, v))
                counters.append((ms, None))
            counters[-1] = (ms, total)
            prev_ns = ns
        out[(gauge, labels)] = gauges
        if counter:
            out[(counter, labels)] = counters
    return out


def describe_diff(expected, got):
    """The series that differ: their lengths and first different sample."""
    lines = []
    for k in sorted(set(expected) | set(got), key=str):
        e, g = expected.get(k, []), got.get(k, [])
        if e != g:
            i = next((i for i, (x, y) in enumerate(zip(e, g)) if x != y), min(len(e), len(g)))
            lines.append(f"{k[0]} {sorted(k[1])}: {len(e)} samples expected, {len(g)} got; "
                         f"sample {i}: expected {e[i] if i < len(e) else None}, "
                         f"got {g[i] if i < len(g) else None}")
    return "\n".join(lines[:10])


class RemoteWriteCase:
    """The tests, run against each server (the subclasses)."""

    tmp_prefix = "alumet-prw-"
    server_class = None
    binary = None

    def setUp(self):
        if not self.binary:
            self.skipTest(f"{self.server_class.__name__.lower()} is not installed (Debian "
                          "packages prometheus, victoria-metrics)")
        super().setUp()
        self.server = self.server_class(self.dir)
        self.addCleanup(self.server.stop)
        self.server.start()

    def run_agent(self, polls, with_procfs):
        a = self.agent(config(self.server.url, polls, with_procfs),
                       args=("--plugins", PLUGINS if with_procfs else
                             "test-source,csv,prometheus-remote-write", "run"))
        a.wait_ready(LONG)
        return a

    def wait_complete(self, agent):
        """After the agent's exit: the server holds the CSV, exactly."""
        expected = expected_samples(os.path.join(self.dir, "out.csv"))
        self.assertIn(("test_counter_alumet_cumulative_total",
                       frozenset({("job", "e2e"), ("resource_kind", "local_machine"),
                                  ("resource_consumer_kind", "local_machine")})), expected)
        got = {}

        def same():
            nonlocal got
            got = self.server.samples()
            return got == expected
        try:
            wait_until(same, LONG, "the server to hold every point of the CSV")
        except AssertionError:
            self.fail(f"server and CSV differ:\n{describe_diff(expected, got)}\n"
                      f"--- agent ---\n{agent.stderr()[-3000:]}")
        return expected

    def check_sequence(self, expected, polls):
        """test_counter: 0 .. polls - 1, whatever the merging."""
        total = float(polls * (polls - 1) // 2)
        seq = [v for (name, _), pts in expected.items() if name == "test_counter_alumet"
               for _, v in pts]
        self.assertEqual(sum(seq), total)
        counter = [pts for (name, _), pts in expected.items()
                   if name == "test_counter_alumet_cumulative_total"]
        self.assertEqual(len(counter), 1)
        self.assertEqual(counter[0][-1][1], total)

    def test_values(self):
        polls = 40
        a = self.run_agent(polls, with_procfs=True)
        wait_until(lambda: a.count() == polls, LONG, "test-source to finish its polls")
        time.sleep(0.5)  # one more kernel poll and energy estimate
        self.assertEqual(a.stop(LONG), 0, a.stderr())
        expected = self.wait_complete(a)
        self.check_sequence(expected, polls)
        energy = [k for k in expected if k[0].startswith("estimated_consumed_energy_alumet_cum")]
        self.assertGreaterEqual(len(energy), 1, "no energy series in the CSV")
        self.assertNotIn("ERROR", a.stderr())

    def test_outage(self):
        polls = 200  # 10 s of test_counter
        a = self.run_agent(polls, with_procfs=False)

        def stored():
            return sum(len(p) for (n, _), p in self.server.samples().items()
                       if n == "test_counter_alumet")
        wait_until(lambda: stored() >= 10, LONG, "the first points in the server")
        self.server.stop()
        wait_until(lambda: "cannot reach the remote write server" in a.stderr(), LONG,
                   "the agent to notice the outage")
        before = a.count()
        time.sleep(1.5)
        self.server.start()
        wait_until(lambda: a.count() == polls, LONG, "test-source to finish its polls")
        self.assertLess(before, polls, "the outage began after the last poll: nothing to test")
        self.assertEqual(a.stop(LONG), 0, a.stderr())
        expected = self.wait_complete(a)
        self.check_sequence(expected, polls)
        self.assertIn("recovered (0 points dropped in total)", a.stderr())


class TestPrometheus(RemoteWriteCase, AgentTestCase):
    server_class = Prometheus
    binary = PROMETHEUS


class TestPrometheusWithoutReceiver(AgentTestCase):
    """A Prometheus that does not receive remote writes (no
    --web.enable-remote-write-receiver) answers 404: the agent refuses to
    start and says what to do."""

    tmp_prefix = "alumet-prw-"

    def test_refused(self):
        if not PROMETHEUS:
            self.skipTest("prometheus is not installed (Debian package prometheus)")
        server = Server(self.dir, "prometheus", lambda port, d: [
            PROMETHEUS, "--config.file=/dev/null", f"--storage.tsdb.path={d}/tsdb",
            f"--web.listen-address=127.0.0.1:{port}"], "/-/ready")
        self.addCleanup(server.stop)
        server.start()
        url = f"http://127.0.0.1:{server.port}/api/v1/write"
        a = self.agent(config(url, 5, with_procfs=False),
                       args=("--plugins", "test-source,csv,prometheus-remote-write", "run"))
        self.assertEqual(a.wait_exit(LONG), 1)
        self.assertIn(f"ERROR agent: startup failure: plugin failed to start: "
                      f"prometheus-remote-write v0.1.0: the remote write server at '{url}' "
                      f"answered HTTP 404: remote write receiver needs to be enabled with "
                      f"--enable-feature=remote-write-receiver; please check the url in the "
                      f"configuration (Prometheus receives remote writes only when started "
                      f"with --web.enable-remote-write-receiver)\n", a.stderr())


class TestSameSeriesAsExporter(AgentTestCase):
    """One Prometheus scrapes prometheus-exporter (job "scrape") and receives
    the remote writes (job "push") of the same agent: both give the same
    series, names and labels (but job and instance), so a dashboard of one
    works with the other. The gauges of delta metrics are left out of the
    comparison: the exporter hides them 2 intervals after their last point
    (stale), so a scrape every second rarely sees them; their counters, with
    the same labels, are compared."""

    tmp_prefix = "alumet-prw-"

    def test_same_series(self):
        if not PROMETHEUS:
            self.skipTest("prometheus is not installed (Debian package prometheus)")
        exporter_port = free_port()
        conf = os.path.join(self.dir, "prometheus.yml")
        with open(conf, "w", encoding="utf-8") as f:
            f.write(f"""\
scrape_configs:
  - job_name: scrape
    scrape_interval: 1s
    static_configs:
      - targets: ['127.0.0.1:{exporter_port}']
""")
        server = Prometheus(self.dir)
        argv = server.argv
        server.argv = lambda port, d: [a if a != "--config.file=/dev/null" else
                                       f"--config.file={conf}" for a in argv(port, d)]
        self.addCleanup(server.stop)
        server.start()
        cfg = config(server.url, 80).replace('labels = { job = "e2e" }',
                                             'labels = { job = "push", instance = "rw" }')
        cfg += f"""
[plugins.prometheus-exporter]
host = "127.0.0.1"
port = {exporter_port}
counter_metrics = ["test_counter"]
"""
        a = self.agent(cfg, args=("--plugins", PLUGINS + ",prometheus-exporter", "run"))
        a.wait_ready(LONG)

        def series(job):
            q = urllib.parse.urlencode({"match[]": f'{{__name__=~".+_alumet.*",job="{job}"}}'})
            res = json.loads(http(f"http://127.0.0.1:{server.port}/api/v1/series?{q}")[1])
            out = {frozenset((k, v) for k, v in s.items() if k not in ("job", "instance"))
                   for s in res["data"]}
            return {s for s in out if dict(s)["__name__"] not in DELTA_GAUGES}

        def scraped_all():
            return a.count() == 80 and series("scrape") and series("scrape") == series("push")
        try:
            wait_until(scraped_all, LONG, "the scraped series to be the pushed ones")
        except AssertionError:
            scraped, pushed = series("scrape"), series("push")
            self.fail(f"only scraped: {sorted(map(sorted, scraped - pushed))[:5]}\n"
                      f"only pushed: {sorted(map(sorted, pushed - scraped))[:5]}")
        names = {dict(s)["__name__"] for s in series("push")}
        self.assertTrue({"test_counter_alumet_cumulative_total",
                         "estimated_consumed_energy_alumet_cumulative_joules_total",
                         "kernel_cpu_time_alumet_milliseconds"} <= names, names)
        self.assertEqual(a.stop(LONG), 0, a.stderr())


class TestVictoriaMetrics(RemoteWriteCase, AgentTestCase):
    server_class = Victoria
    binary = VICTORIA


if __name__ == "__main__":
    if not PROMETHEUS and not VICTORIA:
        print("prometheus and victoria-metrics not found: install the Debian packages "
              "prometheus, victoria-metrics")
        raise SystemExit(SKIP)
    run_tests(all_skipped_exit=SKIP)
