# SPDX-License-Identifier: MIT
"""jsonl end to end: the agent writes JSON Lines to its standard output (and
to a file), its logs to the standard error; every line must parse with
Python's json module and carry the documented fields, and the test_counter
points of test-source must all be there, in order (0, 1, 2, ...). With the
procfs plugin built in, its points (units, attributes, process consumers)
go through the same checks.

Meson passes ALUMET_E2E_AGENT and ALUMET_E2E_PLUGIN_DIR.
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

AGENT = os.environ.get("ALUMET_E2E_AGENT", "")
PLUGIN_DIR = os.environ.get("ALUMET_E2E_PLUGIN_DIR", "")
SKIP = 77
KEYS = ["metric", "unit", "unit_display", "timestamp", "timestamp_ns", "value", "resource_kind",
        "resource_id", "consumer_kind", "consumer_id", "attributes"]
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def parse_lines(text, what):
    """Every line is one JSON object with the documented keys, in order."""
    check(text.endswith("\n"), f"{what}: does not end with a newline")
    points = []
    for i, line in enumerate(text.splitlines()):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise Failure(f"{what}: line {i + 1} is not JSON ({e}): {line!r}") from e
        check(isinstance(obj, dict) and list(obj) == KEYS, f"{what}: line {i + 1}: {line}")
        check(RFC3339.match(obj["timestamp"]), f"{what}: line {i + 1}: timestamp {line}")
        check(isinstance(obj["timestamp_ns"], int), f"{what}: line {i + 1}: timestamp_ns")
        check(obj["value"] is None or isinstance(obj["value"], (int, float)),
              f"{what}: line {i + 1}: value")
        check(isinstance(obj["attributes"], dict), f"{what}: line {i + 1}: attributes")
        points.append(obj)
    return points


def run_agent(tmp, config, duration):
    with open(os.path.join(tmp, "alumet-config.toml"), "w", encoding="utf-8") as f:
        f.write(config)
    argv = [AGENT, "--plugin-dir", PLUGIN_DIR, "run"]
    p = subprocess.Popen(argv, cwd=tmp, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env={**os.environ, "LC_ALL": "C"})
    time.sleep(duration)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    check(p.returncode == 0, f"agent exited with {p.returncode}\n--- stderr ---\n{err}")
    check("The agent is ready." in err, f"no logs on stderr:\n{err}")
    return out, err


def check_counter(points, tmp, what):
    count = int(open(os.path.join(tmp, "count"), encoding="utf-8").read())
    values = [p["value"] for p in points if p["metric"] == "test_counter"]
    check(count > 3, f"test-source produced only {count} points")
    check(values == list(range(count)), f"{what}: test_counter values {values[:20]}..., "
          f"expected 0..{count - 1}")
    first = next(p for p in points if p["metric"] == "test_counter")
    check({k: first[k] for k in KEYS if k not in ("timestamp", "timestamp_ns", "value")} == {
        "metric": "test_counter", "unit": "1", "unit_display": "",
        "resource_kind": "local_machine", "resource_id": "", "consumer_kind": "local_machine",
        "consumer_id": "", "attributes": {}}, f"{what}: {first}")
    return count


def main():
    if not AGENT or not os.access(AGENT, os.X_OK) or not PLUGIN_DIR:
        print("SKIP: ALUMET_E2E_AGENT/ALUMET_E2E_PLUGIN_DIR not set (run through meson test)")
        return SKIP
    plugins = subprocess.run([AGENT, "plugins", "list"], capture_output=True, text=True,
                             timeout=30).stdout
    if "- jsonl v" not in plugins:
        print("SKIP: this agent was built without the jsonl plugin")
        return SKIP
    procfs = "[plugins.procfs]\n" if "- procfs v" in plugins else ""

    # 1. the standard output, piped: logs on stderr only
    with tempfile.TemporaryDirectory(prefix="alumet-e2e-jsonl-") as tmp:
        out, err = run_agent(tmp, f"""\
[plugins.test-source]
poll_interval = "50ms"
count_file = "count"

[plugins.jsonl]
stdout = true
{procfs}""", 2.5)
        points = parse_lines(out, "stdout")
        count = check_counter(points, tmp, "stdout")
        check(not any(line.startswith("{") for line in err.splitlines()), "JSON on stderr")
        others = [p for p in points if p["metric"] != "test_counter"]
        if procfs:
            check(others, "no procfs point on stdout")
            check(any(p["attributes"] for p in others), "no procfs point with attributes")
            check(any(p["consumer_kind"] == "process" for p in others), "no process point")
        print(f"stdout: {len(points)} lines parsed, {count} test_counter points, "
              f"{len(others)} others ({len({p['metric'] for p in others})} metrics)")

    # 2. a file, buffered (force_flush = false): everything is there at exit
    with tempfile.TemporaryDirectory(prefix="alumet-e2e-jsonl-") as tmp:
        out, err = run_agent(tmp, """\
[plugins.test-source]
poll_interval = "20ms"
points_per_poll = 10
count_file = "count"

[plugins.jsonl]
output_path = "out.jsonl"
force_flush = false
""", 1.5)
        check(out == "", f"stdout is not empty: {out[:200]!r}")
        with open(os.path.join(tmp, "out.jsonl"), encoding="utf-8") as f:
            points = parse_lines(f.read(), "out.jsonl")
        count = check_counter(points, tmp, "out.jsonl")
        print(f"file: {len(points)} lines parsed, {count} test_counter points")
    print("ok")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print(f"FAIL: {e}")
        sys.exit(1)
