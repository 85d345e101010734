#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run a toml-test decoder over the toml-test suite (python3 stdlib only).

usage: run-toml-test.py DECODER DATA_DIR [LIST]

Every case named in DATA_DIR/files-toml-1.0.0 (or LIST) is run:
  valid/*.toml   must exit 0 and print JSON equal to valid/*.json
  invalid/*.toml must exit 1 (rejected cleanly: no crash, no sanitizer report)
Prints "N passed, N failed" and exits 1 when any case fails.

The suite lives outside the repository (../shared/data/toml-test in the
project's workspace). When DATA_DIR is absent the test is skipped (exit 77,
Meson's SKIP) with the reason, so the suite passes on any clone; under CI
(CI=true) the data is required and its absence is a failure."""

import concurrent.futures
import json
import math
import os
import re
import subprocess
import sys

TIMEOUT = 30
SKIP = 77  # Meson's "skipped" exit status
SANITIZER_MARKS = (b"Sanitizer", b"runtime error:", b"LeakSanitizer")


def norm_datetime(s):
    s = s.upper().replace(" ", "T")
    # Fractional seconds compare by value: "56.6" == "56.600".
    m = re.match(r"^(.*:\d\d)\.(\d+)(.*)$", s)
    if m:
        frac = m.group(2).rstrip("0")
        s = m.group(1) + ("." + frac if frac else "") + m.group(3)
    return s


def float_eq(a, b):
    try:
        fa, fb = float(a), float(b)
    except ValueError:
        return False
    if math.isnan(fa) or math.isnan(fb):
        return math.isnan(fa) and math.isnan(fb)
    return fa == fb and math.copysign(1.0, fa) == math.copysign(1.0, fb)


def is_tagged(v):
    return (isinstance(v, dict) and set(v) == {"type", "value"}
            and isinstance(v["type"], str) and isinstance(v["value"], str))


def diff(exp, got, path="$"):
    """None when equal, else a description of the first difference."""
    if is_tagged(exp):
        if not is_tagged(got):
            return "%s: expected a %s, got %s" % (path, exp["type"], json.dumps(got))
        if exp["type"] != got["type"]:
            return "%s: expected type %s, got %s" % (path, exp["type"], got["type"])
        t, e, g = exp["type"], exp["value"], got["value"]
        if t == "float":
            ok = float_eq(e, g)
        elif t == "integer":
            try:
                ok = int(e) == int(g)
            except ValueError:
                ok = False
        elif t in ("datetime", "datetime-local", "date-local", "time-local"):
            ok = norm_datetime(e) == norm_datetime(g)
        else:
            ok = e == g
        return None if ok else "%s: expected %s %r, got %r" % (path, t, e, g)
    if isinstance(exp, dict):
        if not isinstance(got, dict) or is_tagged(got):
            return "%s: expected a table, got %s" % (path, json.dumps(got))
        if set(exp) != set(got):
            return "%s: keys differ: missing %s, extra %s" % (
                path, sorted(set(exp) - set(got)), sorted(set(got) - set(exp)))
        for k in exp:
            d = diff(exp[k], got[k], "%s.%s" % (path, json.dumps(k)))
            if d:
                return d
        return None
    if isinstance(exp, list):
        if not isinstance(got, list):
            return "%s: expected an array, got %s" % (path, json.dumps(got))
        if len(exp) != len(got):
            return "%s: expected %d elements, got %d" % (path, len(exp), len(got))
        for i, (e, g) in enumerate(zip(exp, got)):
            d = diff(e, g, "%s[%d]" % (path, i))
            if d:
                return d
        return None
    return None if exp == got else "%s: expected %r, got %r" % (path, exp, got)


def run_case(decoder, data, name):
    """(name, error message or None)."""
    path = os.path.join(data, name)
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError as e:
        return name, "cannot read: %s" % e
    try:
        proc = subprocess.run([decoder], input=text, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return name, "timed out"
    if proc.returncode < 0:
        return name, "killed by signal %d" % -proc.returncode
    if any(m in proc.stderr for m in SANITIZER_MARKS):
        return name, "sanitizer report:\n" + proc.stderr.decode("utf-8", "replace")
    if name.startswith("invalid/"):
        if proc.returncode == 0:
            return name, "accepted an invalid document"
        if proc.returncode != 1:
            return name, "exit status %d (expected 1)" % proc.returncode
        if not proc.stderr.strip():
            return name, "rejected without an error message"
        return name, None
    if proc.returncode != 0:
        return name, "rejected a valid document: %s" % proc.stderr.decode("utf-8", "replace")
    try:
        with open(path[:-len(".toml")] + ".json", "rb") as f:
            exp = json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError) as e:
        return name, "cannot read the expected JSON: %s" % e
    try:
        got = json.loads(proc.stdout.decode("utf-8"))
    except ValueError as e:
        return name, "decoder printed invalid JSON (%s): %r" % (e, proc.stdout[:200])
    return name, diff(exp, got)


def main(argv):
    if len(argv) not in (3, 4):
        sys.stderr.write("usage: %s DECODER DATA_DIR [LIST]\n" % argv[0])
        return 2
    decoder, data = argv[1], argv[2]
    if not os.path.isdir(data):
        if os.environ.get("CI") == "true":
            sys.stderr.write("toml-test data not found at %s (required under CI)\n" % data)
            return 1
        print("SKIP: toml-test data not found at %s; fetch toml-test "
              "(https://github.com/toml-lang/toml-test, tests/) there to run "
              "the conformance suite" % data)
        return SKIP
    listing = argv[3] if len(argv) == 4 else os.path.join(data, "files-toml-1.0.0")
    try:
        with open(listing, encoding="utf-8") as f:
            names = [l.strip() for l in f if l.strip().endswith(".toml")]
    except OSError as e:
        sys.stderr.write("cannot read the case list: %s\n" % e)
        return 1
    if not names:
        sys.stderr.write("no test cases in %s\n" % listing)
        return 1

    jobs = min(16, os.cpu_count() or 1)
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        results = list(ex.map(lambda n: run_case(decoder, data, n), names))

    counts = {"valid": [0, 0], "invalid": [0, 0]}
    failed = 0
    for name, err in results:
        kind = "invalid" if name.startswith("invalid/") else "valid"
        counts[kind][1] += 1
        if err is None:
            counts[kind][0] += 1
        else:
            failed += 1
            print("FAIL %s: %s" % (name, err))
    for kind in ("valid", "invalid"):
        print("%s: %d/%d passed" % (kind, counts[kind][0], counts[kind][1]))
    print("%d passed, %d failed" % (len(results) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
