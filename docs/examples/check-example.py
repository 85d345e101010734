#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check the example plugin of docs/plugin-guide.md through the real agent.

Usage: check-example.py ALUMET_AGENT PLUGIN_DIR

The source stops itself after max_polls = 2 polls and the poll interval is
one hour, so the only polls are the first one and the ones that `exec`
triggers around the child: exactly two, whatever the timing. Exits 0 when
every check passes, 1 otherwise (with the expected and actual text).
"""
import os
import re
import subprocess
import sys
import tempfile

EXPECTED = [
    "example_counter 0 1 cpu_package/0 local_machine origin=example",
    "example_energy 1.5 J cpu_package/0 local_machine origin=example converted_from=mJ",
    "example_counter 5 1 cpu_package/0 local_machine origin=example",
    "example_energy 3 J cpu_package/0 local_machine origin=example converted_from=mJ",
]


def run_agent(agent, plugin_dir, tmp, config_text):
    cfg = os.path.join(tmp, "alumet-config.toml")
    with open(cfg, "w", encoding="utf-8") as f:
        f.write(config_text)
    env = dict(os.environ)
    env.pop("ALUMET_PLUGIN_DIR", None)
    env.pop("ALUMET_CONFIG", None)
    env["ALUMET_LOG"] = "info"
    return subprocess.run(
        [agent, "--config", cfg, "--no-default-config", "--plugin-dir", plugin_dir,
         "--plugins", "example", "exec", "sleep", "0.2"],
        cwd=tmp, env=env, capture_output=True, text=True, timeout=30)


def config(out, print_timestamp, extra=""):
    return (
        "[plugins.example]\n"
        'poll_interval = "1h"\n'
        "max_polls = 2\n"
        "step = 5\n"
        f'output_path = "{out}"\n'
        f"print_timestamp = {'true' if print_timestamp else 'false'}\n"
        + extra)


def fail(what, expected, actual, proc=None):
    print(f"FAIL: {what}\n--- expected:\n{expected}\n--- actual:\n{actual}")
    if proc is not None:
        print(f"--- agent exit status {proc.returncode}, stderr:\n{proc.stderr}")
    return 1


def main():
    agent, plugin_dir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "points.txt")

        # 1. exact lines, without timestamps
        proc = run_agent(agent, plugin_dir, tmp, config(out, False))
        actual = open(out, encoding="utf-8").read() if os.path.exists(out) else "<no file>"
        if proc.returncode != 0 or actual != "\n".join(EXPECTED) + "\n":
            failures += fail("printed points", "\n".join(EXPECTED), actual, proc)
        # the end-of-exec summary integrates over the child's lifetime only:
        # the 1.5 J of the first poll ended before the child started; the 3 J
        # point ends either at the trigger just before the child (0 J billed)
        # or, when that trigger and the first poll were one poll, at the one
        # after it (the part of its interval inside the child's lifetime)
        want = re.compile(r"^ +([0-9.]+) (m?J) +[0-9.]+ W +example_energy +cpu_package 0$", re.M)
        m = want.search(proc.stderr)
        billed = float(m.group(1)) / (1000 if m.group(2) == "mJ" else 1) if m else -1
        if not 0 <= billed <= 3.0 or "Energy summary of 'sleep 0.2' (exit status 0)" \
                not in proc.stderr:
            failures += fail("exec energy summary", want.pattern, proc.stderr)

        # 2. with timestamps: the same lines, each after a nanosecond timestamp
        if os.path.exists(out):
            os.unlink(out)
        proc = run_agent(agent, plugin_dir, tmp, config(out, True))
        lines = open(out, encoding="utf-8").read().splitlines() if os.path.exists(out) else []
        stripped = [re.sub(r"^[0-9]{19} ", "", line) for line in lines]
        if proc.returncode != 0 or stripped != EXPECTED:
            failures += fail("printed points with timestamps", "\n".join(EXPECTED),
                             "\n".join(lines), proc)

        # 3. a misspelled key is reported by the agent, and the plugin does not start
        proc = run_agent(agent, plugin_dir, tmp, config(out, False, "stpe = 2\n"))
        want = "plugins.example.stpe: unknown key, did you mean 'step'?"
        if proc.returncode == 0 or want not in proc.stderr:
            failures += fail("unknown key", want, proc.stderr, proc)

        # 4. a value the plugin rejects names the file, line and column
        bad = config(out, False).replace("max_polls = 2", "max_polls = -1")
        proc = run_agent(agent, plugin_dir, tmp, bad)
        want = ("alumet-config.toml:3:13: plugins.example.max_polls: "
                "expected a non-negative integer")
        if proc.returncode == 0 or want not in proc.stderr:
            failures += fail("rejected value", want, proc.stderr, proc)

    print("docs-example: %d check(s) failed" % failures if failures else "docs-example: ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
