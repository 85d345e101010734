#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""run-toml-test.py without its data: skipped (77) with the reason on a
user's clone, a failure (1) under CI."""
import os
import subprocess
import sys
import tempfile

runner = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run-toml-test.py")
with tempfile.TemporaryDirectory() as tmp:
    missing = os.path.join(tmp, "no-such-dir")
    env = dict(os.environ)
    env.pop("CI", None)
    p = subprocess.run([sys.executable, runner, "/bin/false", missing], env=env,
                       capture_output=True, text=True)
    assert p.returncode == 77, (p.returncode, p.stdout, p.stderr)
    assert p.stdout == ("SKIP: toml-test data not found at %s; fetch toml-test "
                        "(https://github.com/toml-lang/toml-test, tests/) there to run "
                        "the conformance suite\n" % missing), p.stdout
    env["CI"] = "true"
    p = subprocess.run([sys.executable, runner, "/bin/false", missing], env=env,
                       capture_output=True, text=True)
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert p.stderr == "toml-test data not found at %s (required under CI)\n" % missing, p.stderr
print("ok")
