# SPDX-License-Identifier: MIT
"""alumet-agent report FILE.csv and exec --report: one self-contained HTML
file (inline SVG, no script, no external asset). Headless Chromium renders
it: the dumped DOM has the charts, the numbers of the summary table equal
those computed here from the CSV, and a screenshot is produced."""

import collections
import csv
import html
import io
import os
import re
import shutil
import subprocess
import tempfile

from e2e_common import AgentTestCase, main, needs_csv, parse_rfc3339_ns

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

HEADER = "metric;timestamp;value;resource_kind;resource_id;consumer_kind;consumer_id;" \
         "__late_attributes\n"


def ts(sec, ns=0):
    return f"2024-03-01T10:00:{sec:02d}.{ns:09d}Z"


def synthetic_csv():
    """RAPL-like package and dram series (rows out of order), a TDP-like
    estimate split by cpu_state (summed per timestamp), energy attributed to
    processes and a cgroup, and the measured process's CPU and memory."""
    rows = []
    pkg = [10.0, 12.5, 11.0, 13.25, 9.5]
    dram = [1.0, 1.5, 2.0, 1.25, 1.75]
    for i in range(5):
        rows.append(f"rapl_consumed_energy_J;{ts(i + 1)};{pkg[i]};cpu_package;0;local_machine;;"
                    "domain=package")
        rows.append(f"rapl_consumed_energy_J;{ts(i + 1, 500_000_000)};{dram[i]};cpu_package;0;"
                    "local_machine;;domain=dram")
    rows[2], rows[5] = rows[5], rows[2]  # out of order
    for i in range(3):
        for state, v in (("user", 3.0 + i), ("system", 1.5), ("idle", 0.25)):
            rows.append(f"estimated_consumed_energy_J;{ts(2 * i + 1)};{v};local_machine;;"
                        f"local_machine;;cpu_state={state},estimate=tdp")
    for cid, kind, v in (("42", "process", 7.5), ("43", "process", 2.0), ("/job/a", "cgroup", 4.0),
                         ("42", "process", 1.0)):
        rows.append(f"attributed_energy_J;{ts(3)};{v};local_machine;;{kind};{cid};")
    for i, (u, s) in enumerate(((0, 0), (400_000_000, 100_000_000), (350_000_000, 50_000_000))):
        rows.append(f"cpu_time_delta_ns;{ts(i + 1)};{u};local_machine;;process;42;kind=user")
        rows.append(f"cpu_time_delta_ns;{ts(i + 1)};{s};local_machine;;process;42;kind=system")
        rows.append(f"cpu_time_delta_ns;{ts(i + 1)};999;local_machine;;process;42;kind=guest")
        rows.append(f"memory_usage_B;{ts(i + 1)};{(i + 1) * 1048576};local_machine;;process;42;"
                    "kind=resident")
        rows.append(f"memory_usage_B;{ts(i + 1)};99999999;local_machine;;process;42;kind=virtual")
    # quoted cells (the csv plugin quotes a delimiter, a quote or a newline)
    rows.append(f'attributed_energy_J;{ts(3)};1.5;local_machine;;cgroup;"/odd;""name""";'
                '"note=two\nlines"')
    rows.append(f"exec_process_energy_J;{ts(6)};3.5;local_machine;;process;42;")
    rows.append(f"exec_process_cpu_time_s;{ts(6)};0.9;local_machine;;process;42;")
    return HEADER + "\n".join(rows) + "\n"


def expected_summary(text):
    """{(metric, domain): (points, energy, duration, power)} as the report
    must print them, computed from the CSV."""
    series = collections.defaultdict(lambda: collections.defaultdict(float))
    table = list(csv.reader(io.StringIO(text), delimiter=";"))
    # the attribute columns are those of the first points the output saw
    # (which source's buffer comes first varies), then __late_attributes
    header = table[0]
    for c in table[1:]:
        metric, t, v, rk, rid, ck = c[0], parse_rfc3339_ns(c[1]), float(c[2]), c[3], c[4], c[5]
        if metric.startswith("exec_") or not metric.endswith("_J") or ck not in ("", "local_machine"):
            continue
        attrs = {k: x for k, x in zip(header[7:-1], c[7:-1]) if x != ""}
        attrs.update(kv.split("=", 1) for kv in c[-1].split(",") if kv)
        key = " ".join(x for x in (rk, rid, attrs.get("domain", "")) if x)
        series[(metric[:-2], key)][t] += v
    out = {}
    for k, points in series.items():
        times = sorted(points)
        total = sum(points.values())
        dur = (times[-1] - times[0]) / 1e9
        power = f"{(total - points[times[0]]) / dur:.3f}" if dur > 0 else "-"
        out[k] = (str(len(times)), f"{total:.3f}", f"{dur:.3f}", power)
    return out


class ReportCase(AgentTestCase):
    def chromium(self, *args, url):
        if not CHROMIUM:
            self.skipTest("chromium is not installed")
        profile = tempfile.mkdtemp(prefix="alumet-chromium-")
        self.addCleanup(shutil.rmtree, profile, True)
        p = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                            f"--user-data-dir={profile}", *args, url],
                           capture_output=True, text=True, timeout=120, cwd=self.dir)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        return p.stdout

    def assert_self_contained(self, page):
        for bad in ("<script", "<link", "src=", "http://", "https://", "@import", "url("):
            self.assertNotIn(bad, page)

    def summary_rows(self, dom):
        table = re.search(r'<table id="summary">(.*?)</table>', dom, re.S).group(1)
        body = re.search(r"<tbody>(.*?)</tbody>", table, re.S).group(1)
        rows = {}
        for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S):
            cells = [html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", tr, re.S)]
            rows[(cells[0], cells[1])] = tuple(cells[2:])
        return rows


@needs_csv
class TestReport(ReportCase):
    def test_rendered_page(self):
        text = synthetic_csv()
        self.write("data.csv", text)
        self.write_config('[plugins.csv]\noutput_path = "data.csv"\n# marker: report config\n')
        res = self.agent("report", "data.csv", "-o", "report.html")
        self.assert_exit(res, 0)
        self.assert_in_stderr("report written to 'report.html'", res)
        page = self.read("report.html")
        self.assert_self_contained(page)
        url = "file://" + self.path("report.html")
        dom = self.chromium("--dump-dom", url=url)
        # the charts, as SVG in the rendered DOM
        for cid in ("power", "energy", "top-consumers", "process-cpu", "process-memory"):
            self.assertRegex(dom, rf'<svg id="{cid}" class="chart"', cid)
        self.assertGreaterEqual(dom.count("<polyline"), 4)
        self.assertIn("<rect", dom)
        # the summary table: the numbers computed here from the CSV
        expected = expected_summary(text)
        self.assertEqual(len(expected), 3)
        self.assertEqual(self.summary_rows(dom), expected)
        self.assertEqual(expected[("rapl_consumed_energy", "cpu_package 0 package")],
                         ("5", "56.250", "4.000", "11.562"))
        # top consumers, largest first: process 42 = 7.5 + 1 + exec's 3.5
        bars = re.findall(r'class="tick">([a-z]+ [^<]+)</text><rect[^>]*>(?:</rect>)?'
                          r'<text[^>]*>([0-9.]+) J</text>', dom)
        self.assertEqual([(html.unescape(k), v) for k, v in bars],
                         [("process 42", "12.000"), ("cgroup /job/a", "4.000"),
                          ("process 43", "2.000"), ('cgroup /odd;"name"', "1.500")])
        # the command's CPU time: user + system (not guest), cumulative
        cpu = re.search(r'<svg id="process-cpu".*?</svg>', dom, re.S).group(0)
        self.assertIn("<title>CPU time of process 42</title>", cpu)
        self.assertEqual(cpu.count("<circle"), 3)
        self.assertIn("# marker: report config", html.unescape(dom))
        self.assertIn('<table id="exec">', dom)
        # a screenshot
        self.chromium("--screenshot=" + self.path("shot.png"), "--window-size=1000,2600", url=url)
        with open(self.path("shot.png"), "rb") as f:
            png = f.read()
        self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
        self.assertGreater(len(png), 10_000)

    def test_default_output_name_and_errors(self):
        self.write("data.csv", synthetic_csv())
        res = self.agent("report", "data.csv")
        self.assert_exit(res, 0)
        self.assertTrue(os.path.exists(self.path("data.html")))
        self.write("bad.csv", HEADER + "rapl_consumed_energy_J;yesterday;1;a;;b;;\n")
        res = self.agent("report", "bad.csv")
        self.assert_exit(res, 1)
        self.assert_in_stderr("bad.csv:2: malformed row", res)
        # a quoted newline: the row after it is on line 4
        self.write("bad2.csv", HEADER + f'a_J;{ts(1)};1;a;;b;;"x=1\n2"\n' +
                   "rapl_consumed_energy_J;yesterday;1;a;;b;;\n")
        res = self.agent("report", "bad2.csv")
        self.assert_exit(res, 1)
        self.assert_in_stderr("bad2.csv:4: malformed row", res)
        res = self.agent("report", "missing.csv")
        self.assert_exit(res, 1)
        self.assert_in_stderr("cannot open 'missing.csv': No such file or directory", res)
        self.write("other.csv", "a,b,c\n1,2,3\n")
        res = self.agent("report", "other.csv")
        self.assert_exit(res, 1)
        self.assert_in_stderr("other.csv:1: not a CSV file of the csv plugin", res)
        res = self.agent("report")
        self.assert_exit(res, 2)


@needs_csv
class TestExecReport(ReportCase):
    CONFIG = """\
[plugins.csv]
output_path = "out.csv"
[plugins.procfs]
[plugins.procfs.kernel]
enabled = true
[plugins.energy-estimation-tdp]
tdp = 80.0
nb_cpu = 4.0
"""

    def test_exec_report(self):
        self.write_config(self.CONFIG)
        res = self.agent("--config-override", "plugins.csv.force_flush=true", "exec", "--report",
                         "run.html", "sleep", "1")
        self.assert_exit(res, 0)
        page = self.read("run.html")
        self.assert_self_contained(page)
        self.assertIn('<pre id="exec-summary">', page)
        self.assertIn("Energy summary of 'sleep 1'", page)
        self.assertIn("tdp = 80.0", page)
        self.assertIn("which produced this data", page)
        self.assertIn('<pre id="overrides">plugins.csv.force_flush=true\n</pre>', page)
        expected = expected_summary(self.read("out.csv"))
        dom = self.chromium("--dump-dom", url="file://" + self.path("run.html"))
        self.assertEqual(self.summary_rows(dom), expected)
        self.assertIn(("estimated_consumed_energy", "local_machine"), expected)

    def test_exec_report_needs_a_value(self):
        res = self.agent("exec", "--report")
        self.assert_exit(res, 2)
        self.assert_in_stderr("error: a value is required for '--report <FILE.html>' but none "
                              "was supplied", res)

    def test_exec_report_needs_csv(self):
        self.write_config("[plugins.procfs]\n")
        res = self.agent("exec", "--report", "run.html", "true")
        self.assert_exit(res, 1)
        self.assert_in_stderr("exec --report makes its report from the CSV file of the csv "
                              "plugin, which is disabled", res)


if __name__ == "__main__":
    main()
