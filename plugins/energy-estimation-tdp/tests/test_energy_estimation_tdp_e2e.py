# SPDX-License-Identifier: MIT
"""End to end: the built agent runs
`--plugins procfs,energy-estimation-tdp,csv exec <busy loop of 0.5 s>` on the
real /proc of this machine, with tdp = 100 W and nb_vcpu = nb_cpu = the CPUs of
this machine (as if it were its own host).

Checks that estimated_consumed_energy rows exist, that each one is its
kernel_cpu_time row in seconds x tdp / nb_cpu, and that the energy is
plausible: the work states of the machine used some (the child alone burns
about 0.5 CPU-second, 50 J / nb_cpu), the other states (idle, steal, guest)
nothing, and all together no more than tdp x the duration of the run x 1.1.

Skipped (exit 77) when the agent lacks the procfs plugin.
Needs ALUMET_E2E_AGENT and PYTHONPATH = tests/e2e (set by Meson). Python 3
standard library only."""
import os
import subprocess
import sys
import tempfile
import time

from e2e_common import AGENT, check, read_csv_rows, skip_reason, summary

TDP = 100.0
# the states that are work of this machine's CPUs (guest is inside user, steal
# is another machine's work): the others get 0 J
WORK = ["user", "nice", "system", "irq", "softirq"]

CHILD = ("import time\n"
         "t = time.monotonic()\n"
         "while time.monotonic() - t < 0.5:\n"
         "    pass\n")

CONFIG = """\
[plugins.procfs.kernel]
poll_interval = "1s"
[plugins.procfs.memory]
enabled = false
poll_interval = "1s"
[plugins.procfs.network]
enabled = false
poll_interval = "1s"
[plugins.procfs.processes]
enabled = false

[plugins.energy-estimation-tdp]
poll_interval = "1s"
tdp = {tdp}
nb_vcpu = {n}
nb_cpu = {n}

[plugins.csv]
output_path = "{out}"
"""

def main():
    why = skip_reason(("procfs", "energy-estimation-tdp", "csv"))
    if why:
        print("skipped: " + why)
        return 77
    if not os.path.exists("/proc/stat"):
        print("skipped: no /proc/stat")
        return 77
    n = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="alumet-tdp-e2e-") as tmp:
        out = os.path.join(tmp, "out.csv")
        cfg = os.path.join(tmp, "alumet.toml")
        with open(cfg, "w") as f:
            f.write(CONFIG.format(tdp=TDP, n=float(n), out=out))
        t0 = time.monotonic()
        proc = subprocess.run([AGENT, "--plugins", "procfs,energy-estimation-tdp,csv", "--config",
                               cfg, "--no-default-config", "exec", sys.executable, "-c", CHILD],
                              capture_output=True, text=True, errors="replace", timeout=60,
                              cwd=tmp)
        elapsed = time.monotonic() - t0
        if check(proc.returncode == 0, "agent exit status %d\n%s" % (proc.returncode,
                                                                    proc.stderr[-3000:])):
            rows = read_csv_rows(out)
            cpu = {(r["timestamp"], r["resource_kind"], r["resource_id"],
                    r["attrs"].get("cpu_state")): float(r["value"]) for r in rows
                   if r["metric"] == "kernel_cpu_time_ms"}
            est = [r for r in rows if r["metric"] == "estimated_consumed_energy_J"]
            check(len(est) > 0 and len(est) == len(cpu),
                  "%d estimated_consumed_energy_J rows for %d kernel_cpu_time_ms rows"
                  % (len(est), len(cpu)))
            for r in est:
                key = (r["timestamp"], r["resource_kind"], r["resource_id"],
                       r["attrs"].get("cpu_state"))
                want = cpu.get(key, float("nan")) / 1000.0 * TDP / n
                if key[3] not in WORK:
                    want = 0.0
                got = float(r["value"])
                check(abs(got - want) <= 1e-9 * max(1.0, want),
                      "%r: %.9f J, expected %.9f J" % (key, got, want))
            machine = [r for r in est if r["resource_kind"] == "local_machine"]
            busy = sum(float(r["value"]) for r in machine if r["attrs"].get("cpu_state") in WORK)
            everything = sum(float(r["value"]) for r in machine)
            check(busy >= 0.25 * TDP / n,
                  "busy states: %.3f J, the child alone should use about %.3f J"
                  % (busy, 0.5 * TDP / n))
            check(everything == busy, "all states: %.3f J, the work states %.3f J"
                  % (everything, busy))
            check(0 < everything <= TDP * elapsed * 1.1,
                  "all states: %.3f J, more than %.0f W x %.2f s x 1.1" % (everything, TDP,
                                                                           elapsed))
            print("%d CPUs: %.3f J busy, %.3f J in all over %.2f s (at most %.1f J)"
                  % (n, busy, everything, elapsed, TDP * elapsed))
    return summary()


if __name__ == "__main__":
    sys.exit(main())
