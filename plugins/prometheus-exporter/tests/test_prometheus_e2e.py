# SPDX-License-Identifier: MIT
"""prometheus-exporter end to end, against a real Prometheus server.

The agent runs test-source (metric test_counter, a sequence number) and the
exporter on a free loopback port; a second agent runs the procfs plugin (when
it is built in) to have families with units and attribute labels. A
Prometheus server scrapes both every second; the test waits until the series
appear in its HTTP API and checks their labels, values and metadata. It also
scrapes the endpoint itself in both formats, and has promtool parse the text
format.

Skipped (exit 77) when the prometheus binary is absent: this script installs
nothing (Debian package: prometheus). Meson passes ALUMET_E2E_AGENT and
ALUMET_E2E_PLUGIN_DIR.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

AGENT = os.environ.get("ALUMET_E2E_AGENT", "")
PLUGIN_DIR = os.environ.get("ALUMET_E2E_PLUGIN_DIR", "")
SKIP = 77
TIMEOUT = 40
PORT_RE = re.compile(r"prometheus-exporter: serving the metrics on '127\.0\.0\.1:(\d+)'")
# what Prometheus 2.x sends
ACCEPT_OPENMETRICS = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                      "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
SERIES_RE = re.compile(r'^e2e_test_counter_alumet\{resource_consumer_id="",'
                       r'resource_consumer_kind="local_machine",resource_id="",'
                       r'resource_kind="local_machine"\} (\d+)\.0$')


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, accept=None, timeout=5):
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode("utf-8")


def wait_for(what, fn, timeout=TIMEOUT, logs=()):
    """Call fn until it returns a true value; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = fn()
            if v:
                return v
        except (OSError, ValueError, KeyError) as e:
            last = e
        time.sleep(0.2)
    text = "".join(f"\n--- {p} ---\n{open(p, encoding='utf-8', errors='replace').read()[-3000:]}"
                   for p in logs if os.path.exists(p))
    raise Failure(f"timed out after {timeout}s waiting for {what} (last error: {last}){text}")


class Run:
    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []

    def path(self, name):
        return os.path.join(self.tmp, name)

    def spawn(self, name, argv):
        out = open(self.path(name + ".log"), "w", encoding="utf-8")
        p = subprocess.Popen(argv, cwd=self.tmp, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT, env={**os.environ, "LC_ALL": "C"})
        p.log = self.path(name + ".log")
        self.procs.append(p)
        return p

    def agent(self, name, config, plugin_dir=True):
        with open(self.path(name + ".toml"), "w", encoding="utf-8") as f:
            f.write(config)
        argv = [AGENT] + (["--plugin-dir", PLUGIN_DIR] if plugin_dir else [])
        argv += ["--config", name + ".toml", "run"]
        p = self.spawn(name, [a for a in argv if a])

        def port():
            check(p.poll() is None, f"agent {name} exited with {p.returncode}:\n"
                  + open(p.log, encoding="utf-8").read())
            with open(p.log, encoding="utf-8") as f:
                text = f.read()
            m = PORT_RE.search(text)
            return int(m.group(1)) if m and "The agent is ready." in text else None
        p.port = wait_for(f"agent {name} to be ready", port, logs=[p.log])
        return p

    def stop_all(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def prom_api(base, path, **params):
    url = f"{base}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    status, _, body = http_get(url)
    doc = json.loads(body)
    check(status == 200 and doc.get("status") == "success", f"{url}: {body}")
    return doc["data"]


def check_direct_scrape(port):
    """The endpoint itself: OpenMetrics for Prometheus and for a request
    without Accept (as upstream); the text format 0.0.4 when asked for."""
    url = f"http://127.0.0.1:{port}/metrics"
    status, ctype, body = http_get(url, ACCEPT_OPENMETRICS)
    check(status == 200, f"status {status}")
    check(ctype == "application/openmetrics-text; version=1.0.0; charset=utf-8", ctype)
    lines = body.splitlines()
    check(lines[:2] == ["# HELP e2e_test_counter_alumet sequence number of the point, from 0.",
                        "# TYPE e2e_test_counter_alumet gauge"], body)
    check(SERIES_RE.match(lines[2]), body)
    check(lines[-1] == "# EOF" and body.endswith("# EOF\n"), body)
    for accept in (None, "*/*"):  # urllib sends no Accept, curl "*/*"
        status, ctype, body = http_get(url, accept)
        check(ctype == "application/openmetrics-text; version=1.0.0; charset=utf-8",
              f"Accept {accept}: {ctype}")
        check(body.endswith("# EOF\n"), body)
    status, ctype, body = http_get(url, "text/plain")
    check(ctype == "text/plain; version=0.0.4; charset=utf-8", ctype)
    check("# EOF" not in body and "# UNIT" not in body, body)
    check(SERIES_RE.match(body.splitlines()[2]), body)
    try:
        http_get(f"http://127.0.0.1:{port}/")
        raise Failure("/ did not answer 404")
    except urllib.error.HTTPError as e:
        check(e.code == 404, f"/ answered {e.code}")


def check_promtool(promtool, target):
    """promtool (from the same package) parses the text format 0.0.4: exit 1
    and "error while linting: text format parsing error" on bad text; exit 3
    for mere naming advice (upstream's names: units in milliseconds,
    test_counter "should not include type 'counter'")."""
    _, _, body = http_get(f"http://{target}/metrics", "text/plain;version=0.0.4")
    p = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                       text=True, timeout=30)
    out = p.stdout + p.stderr
    check(p.returncode in (0, 3) and "error" not in out,
          f"promtool check metrics ({target}): exit {p.returncode}: {out}")


def main():
    prometheus = shutil.which("prometheus")
    if not prometheus:
        print("SKIP: no prometheus binary (install the Debian package 'prometheus')")
        return SKIP
    if not AGENT or not os.access(AGENT, os.X_OK) or not PLUGIN_DIR:
        print("SKIP: ALUMET_E2E_AGENT/ALUMET_E2E_PLUGIN_DIR not set (run through meson test)")
        return SKIP
    plugins = subprocess.run([AGENT, "plugins", "list"], capture_output=True, text=True,
                             timeout=30).stdout
    if "- prometheus-exporter v" not in plugins:
        print("SKIP: this agent was built without the prometheus-exporter plugin")
        return SKIP
    with_procfs = "- procfs v" in plugins

    with tempfile.TemporaryDirectory(prefix="alumet-e2e-prom-") as tmp:
        run = Run(tmp)
        try:
            return scenario(run, prometheus, with_procfs)
        finally:
            run.stop_all()


def scenario(run, prometheus, with_procfs):
    counter = run.agent("counter", """\
[plugins.test-source]
poll_interval = "200ms"
count_file = "count"

[plugins.prometheus-exporter]
host = "127.0.0.1"
port = 0
prefix = "e2e_"
""")
    targets = [f"127.0.0.1:{counter.port}"]
    procfs = None
    if with_procfs:
        procfs = run.agent("procfs", """\
[plugins.procfs]

[plugins.prometheus-exporter]
host = "127.0.0.1"
port = 0
""", plugin_dir=False)
        targets.append(f"127.0.0.1:{procfs.port}")

    check_direct_scrape(counter.port)
    promtool = shutil.which("promtool")
    if promtool:
        for t in targets:
            check_promtool(promtool, t)

    web = free_port()
    with open(run.path("prometheus.yml"), "w", encoding="utf-8") as f:
        f.write(f"""\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: alumet
    static_configs:
      - targets: [{", ".join(f"'{t}'" for t in targets)}]
""")
    prom = run.spawn("prometheus", [prometheus, "--config.file=prometheus.yml",
                                    f"--storage.tsdb.path={run.path('data')}",
                                    f"--web.listen-address=127.0.0.1:{web}"])
    base = f"http://127.0.0.1:{web}"
    logs = [prom.log, counter.log]
    wait_for("prometheus to be ready", lambda: http_get(f"{base}/-/ready")[0] == 200, logs=logs)

    def targets_up():
        active = prom_api(base, "targets")["activeTargets"]
        health = {t["labels"]["instance"]: (t["health"], t["lastError"]) for t in active}
        return all(health.get(t) == ("up", "") for t in targets) and health
    health = wait_for("every target to be up", targets_up, logs=logs)
    print(f"targets: {health}")

    def counter_series():
        return prom_api(base, "query", query="e2e_test_counter_alumet")["result"]
    result = wait_for("the series e2e_test_counter_alumet", counter_series, logs=logs)
    check(len(result) == 1, f"one series expected: {result}")
    # empty labels (resource_id, resource_consumer_id) do not exist in Prometheus
    check(result[0]["metric"] == {
        "__name__": "e2e_test_counter_alumet", "instance": targets[0], "job": "alumet",
        "resource_kind": "local_machine", "resource_consumer_kind": "local_machine",
    }, f"labels: {result[0]['metric']}")
    first = float(result[0]["value"][1])
    produced = int(open(run.path("count"), encoding="utf-8").read())
    check(first == int(first) and 0 <= first < produced,
          f"value {first}, test-source produced {produced} points")

    def increased():
        v = float(counter_series()[0]["value"][1])
        return v > first and v
    later = wait_for("the value to increase", increased, logs=logs)
    print(f"e2e_test_counter_alumet: {first} then {later} (test-source produced {produced})")

    meta = prom_api(base, "metadata", metric="e2e_test_counter_alumet")
    check(meta == {"e2e_test_counter_alumet": [
        {"type": "gauge", "help": "sequence number of the point, from 0.", "unit": ""}]},
        f"metadata: {meta}")

    if procfs:
        # kernel_cpu_time: milliseconds, one series per cpu_state (an attribute)
        name = "kernel_cpu_time_alumet_milliseconds"
        series = wait_for(name, lambda: prom_api(base, "query", query=name)["result"],
                          logs=logs + [procfs.log])
        states = {s["metric"].get("cpu_state") for s in series}
        check(all(s["metric"]["instance"] == targets[1] for s in series), series)
        check({"user", "system", "idle"} <= states, f"cpu_state labels: {states}")
        meta = prom_api(base, "metadata", metric=name)[name][0]
        check(meta["type"] == "gauge" and meta["unit"] == "milliseconds", f"metadata: {meta}")
        units = {n: m[0]["unit"] for n, m in prom_api(base, "metadata").items() if m[0]["unit"]}
        check(all(n.endswith("_" + u) for n, u in units.items()), units)
        print(f"procfs: {len(series)} series of {name} (cpu_state: {sorted(states)}), "
              f"{len(units)} families with a unit")

    for p in [counter] + ([procfs] if procfs else []):
        p.send_signal(signal.SIGTERM)
        check(p.wait(timeout=15) == 0, f"agent exited with {p.returncode}:\n"
              + open(p.log, encoding="utf-8").read())
    print("ok: Prometheus scraped the exporter")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print(f"FAIL: {e}")
        sys.exit(1)
