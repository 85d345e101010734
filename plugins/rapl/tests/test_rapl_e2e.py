# SPDX-License-Identifier: MIT
"""End to end: the built agent with `--plugins rapl,csv`.

1. `config regen` writes exactly upstream's four lines.
2. `exec` on a copy of tests/fixtures/rapl/intel-xeon-2s (sys_root and
   proc_root set with --config-override): the child advances the energy_uj
   counters of the copy (package-1 past its wrap-around value), so the poll
   after the child sees them; the CSV must hold the exact joules per package,
   dram, platform and their totals, and no pp0 (filtered by the consistency
   check, with a warning).
3. No RAPL (an empty sys_root, and this machine's real /sys when it has no
   RAPL): `exec true` exits 0 and logs the message once.

Needs ALUMET_E2E_AGENT (set by Meson). Python 3 standard library only."""
import csv
import os
import shutil
import subprocess
import sys
import tempfile

AGENT = os.environ.get("ALUMET_E2E_AGENT")
FIXTURES = os.environ.get("ALUMET_E2E_RAPL_FIXTURES") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tests", "fixtures", "rapl")

PC = "sys/devices/virtual/powercap/intel-rapl/"
DEFAULT_CONFIG = ('[plugins.rapl]\n'
                  'poll_interval = "1s"\n'
                  'flush_interval = "5s"\n'
                  'no_perf_events = false\n')
NO_RAPL = "RAPL is not exposed here"
FIXED = ["metric", "timestamp", "value", "resource_kind", "resource_id", "consumer_kind",
         "consumer_id"]

# The child rewrites counters in place with one pwrite of the same length, as
# the kernel's sysfs gives a whole value to every read (a truncate then write
# could be seen half-done by a poll of the interval timer).
CHILD = ("import os, sys\n"
         "root = sys.argv[1]\n"
         "for rel, text in zip(sys.argv[2::2], sys.argv[3::2]):\n"
         "    fd = os.open(os.path.join(root, rel), os.O_RDWR)\n"
         "    assert len(os.pread(fd, 64, 0)) == len(text) + 1, (rel, text)\n"
         "    os.pwrite(fd, (text + '\\n').encode(), 0)\n"
         "    os.close(fd)\n")

results = {"passed": 0, "failed": 0, "skipped": 0}


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def run_case(name, fn):
    try:
        skipped = fn()
    except AssertionError as e:
        results["failed"] += 1
        print("FAIL %s: %s" % (name, e), file=sys.stderr)
        return
    if skipped:
        results["skipped"] += 1
        print("SKIP %s: %s" % (name, skipped))
    else:
        results["passed"] += 1
        print("ok   %s" % name)


def agent(tmp, *args):
    return subprocess.run([AGENT] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=60, cwd=tmp,
                          env={k: v for k, v in os.environ.items()
                               if not k.startswith("ALUMET_")})


def read_rows(path):
    """CSV rows as dicts, attributes merged from their columns and __late_attributes."""
    with open(path, newline="") as f:
        reader = csv.reader(f, delimiter=";")
        header = next(reader)
        check(header[:7] == FIXED and header[-1] == "__late_attributes", "header %r" % header)
        rows = []
        for cells in reader:
            row = dict(zip(FIXED, cells[:7]))
            attrs = {k: v for k, v in zip(header[7:-1], cells[7:-1]) if v != ""}
            for item in filter(None, (cells[-1] if len(cells) == len(header) else "").split(",")):
                k, _, v = item.partition("=")
                attrs[k] = v
            row["attrs"] = attrs
            rows.append(row)
        return rows


def test_config_regen():
    with tempfile.TemporaryDirectory(prefix="alumet-rapl-e2e-") as tmp:
        res = agent(tmp, "--plugins", "rapl", "--config", "regen.toml", "config", "regen")
        check(res.returncode == 0, "regen exited %d: %s" % (res.returncode, res.stderr))
        with open(os.path.join(tmp, "regen.toml")) as f:
            text = f.read()
        check(text == DEFAULT_CONFIG, "regen wrote %r" % text)


def test_exec_fixture():
    with tempfile.TemporaryDirectory(prefix="alumet-rapl-e2e-") as tmp:
        root = os.path.join(tmp, "root")
        shutil.copytree(os.path.join(FIXTURES, "intel-xeon-2s"), root, symlinks=True)
        # before the agent starts: package-1 close to its wrap value 262143328850
        with open(os.path.join(root, PC + "intel-rapl:1/energy_uj"), "w") as f:
            f.write("262143000000\n")
        out = os.path.join(tmp, "out.csv")
        res = agent(tmp, "--plugins", "rapl,csv", "--config", "alumet-config.toml",
                    "--config-override", 'plugins.rapl.sys_root="%s"' % root,
                    "--config-override", 'plugins.rapl.proc_root="%s"' % root,
                    "--config-override", "plugins.rapl.no_perf_events=true",
                    "--config-override", 'plugins.csv.output_path="%s"' % out,
                    "exec", sys.executable, "-c", CHILD, root,
                    PC + "intel-rapl:0/energy_uj", "124629532281",                # +30 J
                    PC + "intel-rapl:1/energy_uj", "000000001234",                # wraps
                    PC + "intel-rapl:0/intel-rapl:0:0/energy_uj", "35215590123",  # +2 J
                    PC + "intel-rapl:2/energy_uj", "1268522000000")               # +100 J
        check(res.returncode == 0, "agent exited %d:\n%s" % (res.returncode, res.stderr[-4000:]))
        check(res.stderr.count("do not report the same RAPL domains") == 1 and
              "skipping 'pp0'" in res.stderr, "no consistency warning:\n" + res.stderr[-4000:])
        check(NO_RAPL not in res.stderr, "no-RAPL message on a RAPL tree")
        check("measuring the RAPL domains 'package, dram, platform' through powercap (5 counters)"
              in res.stderr, "start message missing:\n" + res.stderr[-4000:])

        rows = read_rows(out)
        check(rows, "no row in the CSV")
        # exec's own figures come last (the summary as points)
        check([r["metric"] for r in rows[-4:]] == [
            "exec_process_cpu_time_s", "exec_process_energy_J", "exec_unattributed_energy_J",
            "exec_machine_energy_J"], "exec's points: %r" % [r["metric"] for r in rows[-4:]])
        check(rows[-1]["attrs"] == {"method": "rapl"},
              "exec_machine_energy attributes %r" % rows[-1]["attrs"])
        rows = rows[:-4]
        sums = {}
        for r in rows:
            check(r["metric"] == "rapl_consumed_energy_J", "metric %r" % r["metric"])
            check(r["consumer_kind"] == "local_machine" and r["consumer_id"] == "",
                  "consumer %r" % r)
            key = (r["attrs"].get("domain"), r["resource_kind"], r["resource_id"])
            sums.setdefault(key, []).append(float(r["value"]))
        wrap = (262143328850 - 262143000000 + 1234 + 1) / 1e6  # 0.330085 J
        want = {
            ("package", "cpu_package", "0"): 30.0,
            ("package", "cpu_package", "1"): wrap,
            ("package_total", "local_machine", ""): 30.0 + wrap,
            ("dram", "dram", "0"): 2.0,
            ("dram", "dram", "1"): 0.0,
            ("dram_total", "local_machine", ""): 2.0,
            ("platform", "local_machine", ""): 100.0,
            ("platform_total", "local_machine", ""): 100.0,
        }
        check(set(sums) == set(want), "series %r, expected %r" % (sorted(sums), sorted(want)))
        for key, joules in want.items():
            got = 0.0
            for v in sums[key]:
                got += v
            check(got == joules, "%r: %r J in the CSV (rows %r), expected %r J"
                  % (key, got, sums[key], joules))
            # the difference shows in one row, with its exact text
            nonzero = [v for v in sums[key] if v != 0.0]
            check(len(nonzero) <= 1 or key[0].endswith("_total"), "%r: rows %r" % (key, sums[key]))
        with open(out) as f:
            text = f.read()
        check(";30;cpu_package;0;local_machine;;package;" in text, "30 J row text")
        check(";0.330085;cpu_package;1;local_machine;;package;" in text, "wrap row text")


def no_rapl_run(tmp, *overrides):
    args = ["--plugins", "rapl,csv", "--config", "alumet-config.toml"]
    for o in overrides:
        args += ["--config-override", o]
    res = agent(tmp, *(args + ["exec", "true"]))
    check(res.returncode == 0, "agent exited %d:\n%s" % (res.returncode, res.stderr[-4000:]))
    check(res.stderr.count(NO_RAPL) == 1, "message %d times:\n%s"
          % (res.stderr.count(NO_RAPL), res.stderr[-4000:]))
    line = [l for l in res.stderr.splitlines() if NO_RAPL in l][0]
    check(line.startswith("WARN  rapl: RAPL is not exposed here: no RAPL perf PMU in '"), line)
    check("use the energy-estimation-tdp plugin" in line, line)
    check("ERROR" not in res.stderr, "errors:\n" + res.stderr[-4000:])
    return line


def test_no_rapl_empty_root():
    with tempfile.TemporaryDirectory(prefix="alumet-rapl-e2e-") as tmp:
        root = os.path.join(tmp, "empty")
        os.mkdir(root)
        line = no_rapl_run(tmp, 'plugins.rapl.sys_root="%s"' % root,
                           'plugins.rapl.proc_root="%s"' % root)
        check("'%s/sys/devices/power'" % root in line, line)
        check("'%s/sys/devices/virtual/powercap'" % root in line, line)


def test_no_rapl_this_machine():
    zones = []
    if os.path.isdir("/sys/devices/virtual/powercap"):
        for t in os.listdir("/sys/devices/virtual/powercap"):
            if t.startswith("intel-rapl"):
                zones += [z for z in os.listdir(os.path.join("/sys/devices/virtual/powercap", t))
                          if ":" in z]
    if os.path.exists("/sys/devices/power") or zones:
        return "this machine exposes RAPL"
    with tempfile.TemporaryDirectory(prefix="alumet-rapl-e2e-") as tmp:
        line = no_rapl_run(tmp)
        check("no RAPL perf PMU in '/sys/devices/power' and no intel-rapl powercap zone in "
              "'/sys/devices/virtual/powercap'" in line, line)


def main():
    if not AGENT or not os.access(AGENT, os.X_OK):
        print("skipped: ALUMET_E2E_AGENT does not name the built agent")
        return 77
    run_case("config regen", test_config_regen)
    run_case("exec on intel-xeon-2s", test_exec_fixture)
    run_case("no RAPL (empty sys_root)", test_no_rapl_empty_root)
    run_case("no RAPL (this machine)", test_no_rapl_this_machine)
    print("%d passed, %d failed, %d skipped" % (results["passed"], results["failed"],
                                                results["skipped"]))
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
