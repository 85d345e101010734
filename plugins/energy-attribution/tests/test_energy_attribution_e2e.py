# SPDX-License-Identifier: MIT
"""End to end: the built agent runs `exec` of a CPU-bound child with the rapl
plugin on a copy of a fixture tree (tests/fixtures/rapl/intel-xeon-2s, through
the hidden sys_root and proc_root options), procfs on the real /proc (strategy
"event": the child's cpu_percent), the energy-attribution formula of upstream's
user guide, and csv.

The child is the "hardware": while it burns CPU, it advances the powercap
counters of the fixture copy at known rates (package-0 at 40 W, package-1 at
10 W, so package_total at 50 W) and writes its pid and its final elapsed time.

Checks:
  - `config check` accepts the configuration;
  - the CSV has attributed_energy points for the child at exactly the
    package_total timestamps that the README's alignment rule gives (none
    lost, none extra), and each one equals the package_total energy there
    times the child's cpu_percent by that rule / 100 (the ground truth
    recomputed here from the CSV's own inputs, to the last bits); the rule
    reads only the timestamps, so the result must not depend on the order in
    which the sources' buffers arrive (a loaded machine);
  - the package_total energy adds up to 50 W x the time the counters ran,
    within 0.1 %, and the attributed energy is positive and no more than it.

Skipped (exit 77) when the agent lacks the rapl or procfs plugin.
Needs ALUMET_E2E_AGENT, ALUMET_E2E_FIXTURES and PYTHONPATH = tests/e2e (set by
Meson). Python 3 standard library only."""
import os
import shutil
import subprocess
import sys
import tempfile

from e2e_common import AGENT, check, read_csv_rows, skip_reason, summary

FIXTURES = os.environ.get("ALUMET_E2E_FIXTURES", "")
FIXTURE = "rapl/intel-xeon-2s"
POWERCAP = "sys/devices/virtual/powercap/intel-rapl"
RATES_W = {"intel-rapl:0": 40.0, "intel-rapl:1": 10.0}  # package-0, package-1

# The child: busy for about 1.5 s, rewriting the counters every ~2 ms in
# place (the plugin keeps the files open and re-reads them).
CHILD = r"""
import os, sys, time
root, out = sys.argv[1], sys.argv[2]
rates = {%s}
files, base = {}, {}
for zone in rates:
    path = os.path.join(root, zone, "energy_uj")
    files[zone] = open(path, "r+")
    base[zone] = int(files[zone].read())
with open(os.path.join(out, "child.pid"), "w") as f:
    f.write(str(os.getpid()))
def write(elapsed):
    for zone, f in files.items():
        f.seek(0)
        f.write("%%d\n" %% (base[zone] + round(rates[zone] * 1e6 * elapsed)))
        f.truncate()
        f.flush()
t0 = time.monotonic()
while True:
    elapsed = time.monotonic() - t0
    write(elapsed)
    if elapsed > 1.5:
        break
    end = time.monotonic() + 0.002
    while time.monotonic() < end:
        pass
with open(os.path.join(out, "child.elapsed"), "w") as f:
    f.write(repr(elapsed))
""" % ", ".join("%r: %r" % kv for kv in RATES_W.items())

CONFIG = """\
[plugins.rapl]
poll_interval = "100ms"
flush_interval = "100ms"
no_perf_events = true
sys_root = "{root}"
proc_root = "{root}"

[plugins.procfs.kernel]
enabled = false
poll_interval = "1s"
[plugins.procfs.memory]
enabled = false
poll_interval = "1s"
[plugins.procfs.network]
enabled = false
poll_interval = "1s"
[plugins.procfs.processes]
strategy = "event"
[plugins.procfs.processes.events]
poll_interval = "100ms"
flush_interval = "100ms"
memory_mode = "quick"

[plugins.energy-attribution.formulas.attributed_energy]
expr = "cpu_energy * cpu_usage / 100.0"
ref = "cpu_energy"
retention_time = "60s"

[plugins.energy-attribution.formulas.attributed_energy.per_resource]
cpu_energy = {{ metric = "rapl_consumed_energy", resource_kind = "local_machine", domain = "package_total" }}

[plugins.energy-attribution.formulas.attributed_energy.per_consumer]
cpu_usage = {{ metric = "cpu_percent", kind = "total" }}

[plugins.csv]
output_path = "{out}"
"""

SAME_POLL = 100 * 10**6  # ns: a poll round, when no interval is known


def overlaps_half(start, end, t, ref_prev):
    """Whether (start, end] covers at least half of (ref_prev, t] (ref_prev
    None: an interval as long as (start, end])."""
    if ref_prev is None:
        ref_prev = t - (end - start)
    lo, hi = max(start, ref_prev), min(end, t)
    return hi > lo and 2 * (hi - lo) >= t - ref_prev


def usage_at(usage, t, ref_prev):
    """The value that the README's alignment rule gives to the whole usage
    series [(ns, value)] at the reference point t whose interval starts at
    ref_prev (None: the first one), or None when the usage does not cover t:
    the point at t; else the point stamped within a tenth of the reference
    interval before t (the same poll round); else the next point if it is
    stamped within a tenth after t (the same round too); else the
    interpolation between the points around t; before the first point, that point if its interval
    (since the point before it: none, so as long as the reference interval,
    else as the time to the second point, else 100 ms) overlaps the
    reference interval by half or more; after the last one, the same with
    its interval."""
    times = [tu for tu, _ in usage]
    n = len(times)
    k = next((i for i, tu in enumerate(times) if tu >= t), n)
    if k < n and times[k] == t:
        return usage[k][1]
    if k > 0:
        before = times[k - 1]
        before_prev = times[k - 2] if k >= 2 else None
        if ref_prev is not None:
            tol = (t - ref_prev) // 10
        elif before_prev is not None:
            tol = (before - before_prev) // 10
        else:
            tol = SAME_POLL
        if t - before <= tol:
            return usage[k - 1][1]
        if k < n and times[k] - t <= tol:
            return usage[k][1]
        if k < n:
            u = (t - before) / (times[k] - before)
            return (1.0 - u) * usage[k - 1][1] + u * usage[k][1]
        if before_prev is not None:
            start = before_prev
        elif ref_prev is not None:
            start = before - (t - ref_prev)
        else:
            start = before - SAME_POLL
        return usage[k - 1][1] if overlaps_half(start, before, t, ref_prev) else None
    if ref_prev is not None:
        start = times[0] - (t - ref_prev)
    elif n >= 2:
        start = times[0] - (times[1] - times[0])
    else:
        start = times[0] - SAME_POLL
    return usage[0][1] if overlaps_half(start, times[0], t, ref_prev) else None


def run(tmp):
    root = os.path.join(tmp, "fixture")
    shutil.copytree(os.path.join(FIXTURES, FIXTURE), root, symlinks=True)
    out = os.path.join(tmp, "out.csv")
    cfg = os.path.join(tmp, "alumet.toml")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(root=root, out=out))
    base = [AGENT, "--plugins", "rapl,procfs,energy-attribution,csv", "--config", cfg,
            "--no-default-config"]

    proc = subprocess.run(base + ["config", "check"], capture_output=True, text=True,
                          errors="replace", timeout=60, cwd=tmp)
    check(proc.returncode == 0, "config check: exit status %d\n%s" % (proc.returncode,
                                                                     proc.stderr[-3000:]))

    child = [sys.executable, "-c", CHILD, os.path.join(root, POWERCAP), tmp]
    proc = subprocess.run(base + ["exec"] + child, capture_output=True, text=True,
                          errors="replace", timeout=60, cwd=tmp)
    if not check(proc.returncode == 0, "exec: exit status %d\n%s" % (proc.returncode,
                                                                    proc.stderr[-3000:])):
        return
    errors = [line for line in proc.stderr.splitlines()
              if line.startswith("ERROR") or ("WARN" in line and "energy-attribution" in line)]
    check(not errors, "errors or attribution warnings:\n" + "\n".join(errors))
    with open(os.path.join(tmp, "child.pid")) as f:
        pid = f.read().strip()
    with open(os.path.join(tmp, "child.elapsed")) as f:
        elapsed = float(f.read())

    rows = read_csv_rows(out)
    energy = {r["timestamp"]: float(r["value"]) for r in rows
              if r["metric"] == "rapl_consumed_energy_J" and r["resource_kind"] == "local_machine"
              and r["attrs"].get("domain") == "package_total"}
    usage = sorted((r["timestamp"], float(r["value"])) for r in rows
                   if r["metric"] == "cpu_percent_%" and r["consumer_kind"] == "process"
                   and r["consumer_id"] == pid and r["attrs"].get("kind") == "total")
    attributed = [r for r in rows if r["metric"] == "attributed_energy_J"]
    mine = [r for r in attributed if r["consumer_kind"] == "process" and r["consumer_id"] == pid]

    total = sum(energy.values())
    expected_total = sum(RATES_W.values()) * elapsed
    check(abs(total - expected_total) <= 0.001 * expected_total,
          "package_total adds up to %.6f J, expected %.6f J (50 W x %.4f s)"
          % (total, expected_total, elapsed))
    if not check(len(mine) >= 3, "%d attributed_energy points for the child %s (%d in all, "
                 "%d cpu_percent points, %d package_total points)"
                 % (len(mine), pid, len(attributed), len(usage), len(energy))):
        return

    # RFC 3339 timestamps of one day sort and subtract as nanoseconds
    def ns(ts):
        hms, _, frac = ts.rstrip("Z").partition(".")
        h, m, s = hms.split("T")[1].split(":")
        return ((int(h) * 60 + int(m)) * 60 + int(s)) * 10**9 + int(frac.ljust(9, "0") or 0)

    usage_ns = [(ns(t), v) for t, v in usage]
    ref_ns = sorted((ns(t), t) for t in energy)
    expected = {}
    for i, (t_ns, t) in enumerate(ref_ns):
        u = usage_at(usage_ns, t_ns, ref_ns[i - 1][0] if i else None)
        if u is not None:
            expected[t] = (energy[t] * u / 100.0, u)
    got_at = {r["timestamp"]: r for r in mine}
    check(len(got_at) == len(mine), "several attributed points at one timestamp")
    lost = sorted(set(expected) - set(got_at))
    extra = sorted(set(got_at) - set(expected))
    check(not lost and not extra, "attributed timestamps: %d missing %r, %d unexpected %r "
          "(usage %r)" % (len(lost), lost, len(extra), extra, usage))
    sum_mine = 0.0
    for t in sorted(set(got_at) & set(expected)):
        r = got_at[t]
        want, u = expected[t]
        got = float(r["value"])
        # the CSV writes doubles in full (they read back exactly), and the
        # rule's arithmetic is the transform's: the same double, up to the
        # last bit of the interpolation
        check(abs(got - want) <= 1e-12 * abs(want),
              "attributed at %s: %.17g J, expected %.17g J (%.9f J x %.9f %%)"
              % (t, got, want, energy[t], u))
        check(r["resource_kind"] == "local_machine" and r["attrs"].get("domain") == "package_total"
              and r["attrs"].get("kind") == "total", "attributes of the point at %s: %r"
              % (t, r["attrs"]))
        sum_mine += got
    check(0 < sum_mine <= total * 1.001, "the child got %.6f J of %.6f J" % (sum_mine, total))
    print("child %s: %d attributed points, %.3f J of %.3f J (%.2f s at 50 W)"
          % (pid, len(mine), sum_mine, total, elapsed))


def main():
    why = skip_reason(("rapl", "procfs", "energy-attribution", "csv"))
    if why:
        print("skipped: " + why)
        return 77
    if not os.path.isdir(os.path.join(FIXTURES, FIXTURE)):
        print("skipped: no fixture tree %s under ALUMET_E2E_FIXTURES" % FIXTURE)
        return 77
    if not os.path.exists("/proc/self/stat"):
        print("skipped: no /proc")
        return 77
    with tempfile.TemporaryDirectory(prefix="alumet-ea-e2e-") as tmp:
        run(tmp)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
