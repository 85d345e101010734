# SPDX-License-Identifier: MIT
"""Helpers of the end-to-end tests of the GPU source plugins: nvml and
amd-gpu on their scripted stub libraries (tests/fixtures/*-stub/), jetson and
grace-hopper on copies of their sysfs fixture trees.

- run_agent / csv_run_args: the built agent in a temporary directory, with
  `--plugins <plugin>,csv` and --config-override settings;
- stub_agent: the same on a stub library scripted through a file;
- check_regen, check_failing_device, check_no_library, check_no_hardware:
  the cases that every such test has;
- fixture_main: the main of the fixture tests;
- require, run_case, finish: the stop-at-the-first-failure cases of the
  stub tests (the fixture tests use e2e_common's check and summary);
- read_rows, warnings: their CSV rows and WARN lines.

Python 3 standard library only."""
import csv
import os
import subprocess
import sys
import tempfile

from e2e_common import AGENT, CSV_COLUMNS, skip_reason, summary

results = {"passed": 0, "failed": 0}


def require(cond, what):
    """Fail the running case (run_case) unless cond."""
    if not cond:
        raise AssertionError(what)


def run_case(name, fn):
    try:
        fn()
    except AssertionError as e:
        results["failed"] += 1
        print("FAIL %s: %s" % (name, e), file=sys.stderr)
        return
    results["passed"] += 1
    print("ok   %s" % name)


def finish():
    """Print the summary line of the cases run; returns the exit status."""
    print("%d passed, %d failed, 0 skipped" % (results["passed"], results["failed"]))
    return 1 if results["failed"] else 0


def run_agent(tmp, args, env_extra=None):
    """The agent with args in tmp, without the ALUMET_* variables of the
    caller, plus env_extra; its CompletedProcess (text)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALUMET_")}
    env.update(env_extra or {})
    return subprocess.run([AGENT] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=60, cwd=tmp, env=env)


def csv_run_args(plugin, settings, out=None):
    """`--plugins <plugin>,csv` and a --config-override per (key, TOML value)
    of settings for the plugin, then the CSV output file when out is given."""
    args = ["--plugins", plugin + ",csv", "--config", "alumet-config.toml"]
    for key, value in settings:
        args += ["--config-override", "plugins.%s.%s=%s" % (plugin, key, value)]
    if out:
        args += ["--config-override", 'plugins.csv.output_path="%s"' % out]
    return args


def stub_agent(tmp, plugin, stub, script_var, script, args, library=None, env_extra=None):
    """The agent with plugin on the stub library (or library), polled and
    flushed every 100 ms, the CSV in tmp/out.csv; the stub reads script from
    the file named by script_var."""
    path = os.path.join(tmp, "stub-script")
    with open(path, "w") as f:
        f.write(script)
    env = {script_var: path}
    env.update(env_extra or {})
    settings = [("library", '"%s"' % (library or stub)), ("poll_interval", '"100ms"'),
                ("flush_interval", '"100ms"')]
    return run_agent(tmp, csv_run_args(plugin, settings, os.path.join(tmp, "out.csv"))
                     + list(args), env)


def check_regen(check, plugin, prefix, want):
    """`config regen` with only plugin enabled writes exactly want."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        res = run_agent(tmp, ["--plugins", plugin, "--config", "regen.toml", "config", "regen"])
        check(res.returncode == 0, "regen exited %d: %s" % (res.returncode, res.stderr))
        path = os.path.join(tmp, "regen.toml")
        text = None
        if os.path.exists(path):
            with open(path) as f:
                text = f.read()
        check(text == want, "regen wrote %r" % text)


def check_failing_device(agent, prefix, script, want, resource_id):
    """exec with agent(tmp, script, *args) (a stub_agent) on two GPUs, one
    failing: exactly the warnings want, rows of resource_id only."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        res = agent(tmp, script, "exec", "true")
        require(res.returncode == 0, "agent exited %d:\n%s" % (res.returncode, res.stderr[-4000:]))
        require(warnings(res.stderr) == want, "warnings: %r" % warnings(res.stderr))
        rows = read_rows(os.path.join(tmp, "out.csv"))
        other = [r for r in rows if r["resource_id"] != resource_id]
        require(rows and not other, "rows of another GPU: %r" % other[:2])


def check_no_library(agent, prefix, library, start, end):
    """exec with agent(tmp, script, *args, library=library) on a library
    that does not exist: exit 0, one warning from start to end."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        res = agent(tmp, "devices 1\n", "exec", "true", library=library)
        require(res.returncode == 0, "agent exited %d:\n%s" % (res.returncode, res.stderr[-4000:]))
        w = warnings(res.stderr)
        require(len(w) == 1 and w[0].startswith(start) and w[0].endswith(end),
                "warnings: %r" % w)


def check_no_hardware(check, plugin, prefix, needle, want_start):
    """exec with plugin on an empty sys_root: exit 0, one warning holding
    needle, which starts with want_start(root) and ends with "skipping"."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        root = os.path.join(tmp, "empty")
        os.mkdir(root)
        res = run_agent(tmp, csv_run_args(plugin, [("sys_root", '"%s"' % root)])
                        + ["exec", "true"])
        check(res.returncode == 0, "agent exited %d:\n%s" % (res.returncode, res.stderr[-3000:]))
        lines = [line for line in res.stderr.splitlines() if needle in line]
        check(len(lines) == 1, "warning %d times:\n%s" % (len(lines), res.stderr[-3000:]))
        if lines:
            check(lines[0].startswith(want_start(root)), lines[0])
            check(lines[0].endswith("skipping"), lines[0])


def fixture_main(plugin, cases):
    """Run the cases of a fixture test (e2e_common's check) of plugin; the
    exit status (77: skipped)."""
    why = skip_reason((plugin, "csv"))
    if why:
        print("skipped: " + why)
        return 77
    for fn in cases:
        fn()
    return summary(len(cases))


def read_rows(path):
    """CSV rows as dicts, attributes merged from their columns and
    __late_attributes (the header is required to be the csv plugin's)."""
    with open(path, newline="") as f:
        reader = csv.reader(f, delimiter=";")
        header = next(reader)
        require(header[:7] == CSV_COLUMNS and header[-1] == "__late_attributes",
                "header %r" % header)
        rows = []
        for cells in reader:
            row = dict(zip(CSV_COLUMNS, cells[:7]))
            attrs = {k: v for k, v in zip(header[7:-1], cells[7:-1]) if v != ""}
            for item in filter(None, (cells[-1] if len(cells) == len(header) else "").split(",")):
                k, _, v = item.partition("=")
                attrs[k] = v
            row["attrs"] = attrs
            rows.append(row)
        return rows


def warnings(stderr):
    return [line for line in stderr.splitlines() if line.startswith("WARN")]
