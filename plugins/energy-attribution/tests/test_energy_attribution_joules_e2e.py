# SPDX-License-Identifier: MIT
"""End to end, against a ground truth: the joules attributed to a CPU-bound
child equal its CPU time x the power given to it, within 5 %.

Part 1, RAPL: the built agent runs `exec` of a busy loop (0.5 s, then 1.5 s)
with the rapl plugin on a copy of the fixture tree rapl/intel-xeon-2s (hidden
sys_root/proc_root), procfs on the real /proc (strategy "event") and the
formula of the README, all polled every second. A thread of this test is the
"hardware": it advances the package-0 counter at 40 W in real time (package-1
stays still, so package_total is 40 W). The child writes its own CPU time
(CLOCK_PROCESS_CPUTIME_ID) when it ends.

The formula is `cpu_energy * cpu_usage / 100.0` per reference interval, and
procfs's cpu_percent = 100 x CPU time of the interval / (interval x online
CPUs), so over the run the child gets
    sum(40 W x dt x cpu_i / (dt x n)) = 40 W x cpu_time / n     (n: online CPUs).
The test also checks that attributed + `attributed_energy_unattributed` adds
up to the package_total energy at every reference timestamp.

Part 2, the VM recipe of the README, exactly (procfs kernel + energy-estimation-tdp
with total = true + the formula on the child's cpu_time_delta, with the total
estimate as the reference), no RAPL: the child's attributed energy equals
cpu_time x tdp / nb_cpu (120 W / 16) within 5 %, and attributed + remainder
equals the total estimate at every timestamp.

Skipped (exit 77) when the agent lacks a plugin. Needs ALUMET_E2E_AGENT,
ALUMET_E2E_FIXTURES and PYTHONPATH = tests/e2e (set by Meson)."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

from e2e_common import AGENT, check, read_csv_rows, skip_reason, summary
from e2e_rapl import PKG0, Counter

FIXTURES = os.environ.get("ALUMET_E2E_FIXTURES", "")
FIXTURE = "rapl/intel-xeon-2s"
WATTS = 40.0
TDP, NB_CPU = 120.0, 16.0

# A busy loop of `seconds` of wall time; writes its CPU time at the end,
# then exits at once, as test_exec_energy's child does: the interpreter's
# teardown after the reading took 8-13 ms of CPU with every core busy
# (1.1-1.9 ms with os._exit), which /proc counts and the reading did not
# (CI's ASan pass: +6.2 % on a child of 0.25 s CPU)
CHILD = r"""
import os, sys, time
t0 = time.monotonic()
while time.monotonic() - t0 < float(sys.argv[1]):
    pass
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.write(fd, repr(time.process_time()).encode())
os._exit(0)
"""

PROCFS = """\
[plugins.procfs.kernel]
enabled = {kernel}
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
poll_interval = "1s"
flush_interval = "1s"
memory_mode = "quick"
"""

RAPL_CONFIG = """\
[plugins.rapl]
poll_interval = "1s"
flush_interval = "1s"
no_perf_events = true
sys_root = "{root}"
proc_root = "{root}"

""" + PROCFS.replace("{kernel}", "false") + """
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


def readme_vm_recipe():
    """The TOML block of the README that follows the marker of the VM recipe."""
    readme = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "README.md")
    with open(readme) as f:
        text = f.read()
    start = text.index("```toml", text.index("<!-- vm-recipe -->")) + len("```toml")
    return text[start:text.index("```", start)]


def run_agent(tmp, plugins, config, seconds):
    cfg = os.path.join(tmp, "alumet.toml")
    with open(cfg, "w") as f:
        f.write(config)
    cpu_file = os.path.join(tmp, "child.cpu")
    cmd = [AGENT, "--plugins", plugins, "--config", cfg, "--no-default-config", "exec",
           sys.executable, "-c", CHILD, str(seconds), cpu_file]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=60,
                          cwd=tmp)
    if not check(proc.returncode == 0, "exec: exit status %d\n%s" % (proc.returncode,
                                                                    proc.stderr[-3000:])):
        return None, None, None
    errors = [line for line in proc.stderr.splitlines() if line.startswith(("ERROR", "WARN"))
              and "energy-attribution" in line]
    check(not errors, "attribution errors or warnings:\n" + "\n".join(errors))
    with open(cpu_file) as f:
        cpu = float(f.read())
    return read_csv_rows(os.path.join(tmp, "out.csv")), cpu, proc.stderr


# /proc/<pid>/stat gives utime and stime in whole 10 ms ticks, each rounded
# down: the agent's view of the child's CPU time can be up to 20 ms below its
# own reading, never above it (but for the 1-2 ms after the reading). Each
# check allows 5 % above, and 5 % or the energy of those 20 ms below (under
# ASan with every core busy a 0.5 s child gets 0.24 s of CPU, and /proc read
# 13 ms less: -5.7 %); a part of an interval counted twice is above
PROC_RESOLUTION_S = 0.020


def within(got, want, joules_per_cpu_s):
    """got is want, within 5 % above and 5 % or /proc's resolution below."""
    return -max(0.05 * want, joules_per_cpu_s * PROC_RESOLUTION_S) <= got - want <= 0.05 * want


def child_rows(rows, metric):
    """The rows of metric for the one process consumer (the child)."""
    mine = [r for r in rows if r["metric"] == metric and r["consumer_kind"] == "process"]
    pids = {r["consumer_id"] for r in mine}
    check(len(pids) == 1, "%s: expected one process, got %r" % (metric, sorted(pids)))
    return mine


def check_remainder(rows, energy, what):
    """attributed + unattributed = the reference at every reference timestamp."""
    attributed = {}
    for r in rows:
        if r["metric"] == "attributed_energy_J":
            attributed[r["timestamp"]] = attributed.get(r["timestamp"], 0.0) + float(r["value"])
    rest = {r["timestamp"]: float(r["value"]) for r in rows
            if r["metric"] == "attributed_energy_unattributed_J"}
    check(sorted(rest) == sorted(energy), "%s: remainder at %r, reference at %r"
          % (what, sorted(rest), sorted(energy)))
    for t, e in energy.items():
        total = attributed.get(t, 0.0) + rest.get(t, float("nan"))
        check(abs(total - e) <= 1e-6 * max(1.0, e),
              "%s at %s: attributed %.9f + unattributed %.9f != reference %.9f"
              % (what, t, attributed.get(t, 0.0), rest.get(t, float("nan")), e))


def rapl_case(seconds):
    with tempfile.TemporaryDirectory(prefix="alumet-ea-joules-") as tmp:
        root = os.path.join(tmp, "fixture")
        shutil.copytree(os.path.join(FIXTURES, FIXTURE), root, symlinks=True)
        counter = Counter(os.path.join(root, PKG0), WATTS)
        counter.start()
        try:
            rows, cpu, _ = run_agent(tmp, "rapl,procfs,energy-attribution,csv",
                                     RAPL_CONFIG.format(root=root, out=os.path.join(tmp, "out.csv")),
                                     seconds)
        finally:
            counter.stop.set()
            counter.join()
        if rows is None:
            return
        n = os.cpu_count() or 1
        got = sum(float(r["value"]) for r in child_rows(rows, "attributed_energy_J"))
        want = WATTS * cpu / n
        print("rapl, %.1f s busy loop: child CPU %.4f s, %d CPUs: attributed %.4f J, expected "
              "%.4f J (%+.1f %%)" % (seconds, cpu, n, got, want, 100 * (got - want) / want))
        check(within(got, want, WATTS / n), "rapl %.1f s: attributed %.4f J, expected %.4f J "
              "= %g W x %.4f s CPU / %d CPUs" % (seconds, got, want, WATTS, cpu, n))
        energy = {r["timestamp"]: float(r["value"]) for r in rows
                  if r["metric"] == "rapl_consumed_energy_J"
                  and r["resource_kind"] == "local_machine"
                  and r["attrs"].get("domain") == "package_total"}
        check_remainder(rows, energy, "rapl %.1f s" % seconds)


def vm_case(seconds):
    recipe = readme_vm_recipe()
    with tempfile.TemporaryDirectory(prefix="alumet-ea-vm-") as tmp:
        out = os.path.join(tmp, "out.csv")
        config = PROCFS.replace("{kernel}", "true") + recipe + \
            '\n[plugins.csv]\noutput_path = "%s"\n' % out
        rows, cpu, stderr = run_agent(tmp, "procfs,energy-estimation-tdp,energy-attribution,csv",
                                      config, seconds)
        if rows is None:
            return
        n = os.cpu_count() or 1
        got = sum(float(r["value"]) for r in child_rows(rows, "attributed_energy_J"))
        want = cpu * TDP / NB_CPU
        print("vm recipe, %.1f s busy loop: child CPU %.4f s: attributed %.4f J, expected "
              "%.4f J = CPU time x %g W / %g (%+.1f %%)"
              % (seconds, cpu, got, want, TDP, NB_CPU, 100 * (got - want) / want))
        check(within(got, want, TDP / NB_CPU), "vm %.1f s: attributed %.4f J, expected %.4f J"
              % (seconds, got, want))
        energy = {r["timestamp"]: float(r["value"]) for r in rows
                  if r["metric"] == "estimated_consumed_energy_total_J"
                  and r["resource_kind"] == "local_machine"}
        check_remainder(rows, energy, "vm %.1f s" % seconds)
        check("this machine looks like a virtual machine" not in stderr,
              "the recipe sets tdp and nb_cpu, yet the VM warning was printed")


def main():
    why = skip_reason(("rapl", "procfs", "energy-attribution", "energy-estimation-tdp", "csv"))
    if why:
        print("skipped: " + why)
        return 77
    if not os.path.isdir(os.path.join(FIXTURES, FIXTURE)) or not os.path.exists("/proc/self/stat"):
        print("skipped: no fixture tree %s or no /proc" % FIXTURE)
        return 77
    cases = [(rapl_case, 0.5), (rapl_case, 1.5)]
    if len(sys.argv) < 2 or sys.argv[1] != "--rapl-only":
        cases += [(vm_case, 0.5), (vm_case, 1.5)]
    for fn, seconds in cases:
        fn(seconds)
    return summary(len(cases))


if __name__ == "__main__":
    sys.exit(main())
