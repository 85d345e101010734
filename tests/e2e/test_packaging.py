# SPDX-License-Identifier: MIT
"""The files of the Debian package that can be checked without installing
it (scripts/check-deb.sh installs it): the service's config is valid, the
Grafana dashboard's queries are valid PromQL (promtool) and name metrics
that the agent, run with that config, really exports."""

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request

from e2e_common import AgentTestCase, main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, "packaging", "alumet-config.toml")
DASHBOARD = os.path.join(ROOT, "packaging", "grafana", "alumet-dashboard.json")
FIXTURES = os.environ.get("ALUMET_E2E_FIXTURES", os.path.join(ROOT, "tests", "fixtures"))


def dashboard_exprs():
    with open(DASHBOARD, encoding="utf-8") as f:
        dash = json.load(f)
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TestPackaging(AgentTestCase):
    def test_service_config_is_valid(self):
        res = self.agent("--config", CONFIG, "--no-default-config", "config", "check")
        self.assert_exit(res, 0)

    def test_dashboard_queries_parse(self):
        promtool = shutil.which("promtool")
        if not promtool:
            self.skipTest("promtool is not installed")
        exprs = dashboard_exprs()
        self.assertGreaterEqual(len(exprs), 15)
        rules = "groups:\n- name: dashboard\n  rules:\n" + "".join(
            f"  - record: dashboard:q{i}\n    expr: {json.dumps(e.replace('$__rate_interval', '1m').replace('$__range', '1h').replace('$instance', '.*'))}\n"
            for i, e in enumerate(exprs))
        path = self.write("rules.yml", rules)
        p = subprocess.run([promtool, "check", "rules", path], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(f"SUCCESS: {len(exprs)} rules found", p.stdout)

    def test_dashboard_metrics_are_exported(self):
        """Every metric the dashboard names, except the GPU ones (no GPU
        here), is in the exporter's output of the service's config, with
        RAPL read from a fixture tree (powercap of a two-socket Xeon)."""
        names = set()
        for e in dashboard_exprs():
            names.update(re.findall(r"\b([a-z][a-z0-9_]*_alumet[a-z0-9_]*)\b", e))
        names = {n for n in names if not n.startswith(("nvml_", "amd_gpu_"))}
        self.assertIn("rapl_consumed_energy_alumet_cumulative_joules_total", names)
        port = free_port()
        rapl_root = os.path.join(FIXTURES, "rapl", "intel-xeon-2s")
        self.start("--config", CONFIG, "--no-default-config",
                   "--config-override", f"plugins.prometheus-exporter.port={port}",
                   "--config-override", f'plugins.rapl.sys_root="{rapl_root}"',
                   "--config-override", "plugins.rapl.no_perf_events=true",
                   "--config-override", 'plugins.rapl.flush_interval="1s"',
                   "--config-override", 'plugins.agent-health.poll_interval="1s"',
                   "run", plugin_dir=False)
        deadline = time.monotonic() + 40
        missing = names
        while missing and time.monotonic() < deadline:
            time.sleep(1)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                    body = r.read().decode()
            except OSError:
                continue
            exported = set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", body, re.M))
            missing = names - exported
        self.assertEqual(missing, set(), "dashboard metrics that the agent does not export")


if __name__ == "__main__":
    main()
