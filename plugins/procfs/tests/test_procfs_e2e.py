# SPDX-License-Identifier: MIT
"""End to end: the built agent runs `exec` of a CPU-bound child with
`--plugins procfs,csv` on the real /proc of this machine, once per process
strategy, and the CSV must hold the system metrics and the metrics of the
child, whose CPU time must be positive.

Needs ALUMET_E2E_AGENT and PYTHONPATH = tests/e2e (set by Meson). Python 3
standard library only."""
import os
import subprocess
import sys
import tempfile

from e2e_common import AGENT, check, read_csv_rows, skip_reason, summary

# A busy loop of about 0.3 s that prints its pid first.
CHILD = ("import os, sys, time\n"
         "print(os.getpid(), flush=True)\n"
         "t = time.monotonic()\n"
         "while time.monotonic() - t < 0.3:\n"
         "    pass\n")

def meminfo_total():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return None


def run(strategy, tmp):
    out = os.path.join(tmp, "out-%s.csv" % strategy)
    cfg = os.path.join(tmp, "alumet-%s.toml" % strategy)
    with open(cfg, "w") as f:
        f.write('[plugins.csv]\noutput_path = "%s"\n\n'
                '[plugins.procfs.kernel]\npoll_interval = "1s"\n'
                '[plugins.procfs.memory]\npoll_interval = "1s"\n'
                '[plugins.procfs.network]\npoll_interval = "1s"\n'
                '[plugins.procfs.processes]\nstrategy = "%s"\n' % (out, strategy))
    proc = subprocess.run([AGENT, "--plugins", "procfs,csv", "--config", cfg,
                           "--no-default-config", "exec", sys.executable, "-c", CHILD],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=60, cwd=tmp)
    check(proc.returncode == 0, "%s: agent exit status %d\n%s" % (strategy, proc.returncode,
                                                                   proc.stderr[-3000:]))
    if proc.returncode != 0:
        return
    pid = proc.stdout.split()[0]
    # a /proc with hidepid is worth one warning; nothing else is expected
    noise = [line for line in proc.stderr.splitlines()
             if ("WARN" in line or "ERROR" in line) and "hidepid" not in line]
    check(not noise, "%s: warnings or errors:\n%s" % (strategy, "\n".join(noise)))
    rows = read_csv_rows(out)
    metrics = {r["metric"] for r in rows}

    # system metrics
    for m in ["kernel_cpu_time_ms", "kernel_context_switches", "kernel_new_forks",
              "kernel_n_procs_running", "kernel_n_procs_blocked", "mem_total_B", "mem_free_B",
              "mem_available_B", "cached_B", "swap_cached_B", "active_B", "inactive_B",
              "mapped_B", "network_bytes_B", "network_packets", "network_packet_drops",
              "network_errors"]:
        check(m in metrics, "%s: no %s in the CSV" % (strategy, m))
    cpu = [r for r in rows if r["metric"] == "kernel_cpu_time_ms"]
    check(any(r["resource_kind"] == "local_machine" and r["attrs"].get("cpu_state") == "user"
              for r in cpu), "%s: no kernel_cpu_time for the machine" % strategy)
    check(any(r["resource_kind"] == "cpu_core" and r["resource_id"] == "0" for r in cpu),
          "%s: no kernel_cpu_time for cpu_core 0" % strategy)
    total = meminfo_total()
    check(any(r["metric"] == "mem_total_B" and int(r["value"]) == total for r in rows),
          "%s: mem_total_B is not MemTotal × 1024 (%s)" % (strategy, total))
    check(any(r["metric"] == "network_bytes_B" and r["attrs"].get("interface") == "lo"
              and r["attrs"].get("direction") in ("rx", "tx") for r in rows),
          "%s: no network_bytes_B for lo" % strategy)

    # the child
    mine = [r for r in rows if r["consumer_kind"] == "process" and r["consumer_id"] == pid]
    cpu_ns = sum(int(r["value"]) for r in mine if r["metric"] == "cpu_time_delta_ns"
                 and r["attrs"].get("kind") in ("user", "system"))
    check(cpu_ns > 0, "%s: CPU time of the child %s is %d ns" % (strategy, pid, cpu_ns))
    check(any(r["metric"] == "memory_usage_B" and r["attrs"].get("kind") == "resident"
              for r in mine), "%s: no memory_usage_B of the child" % strategy)
    check(any(r["metric"] == "cpu_percent_%" and r["attrs"].get("kind") == "total"
              for r in mine), "%s: no cpu_percent of the child" % strategy)
    print("%s: child %s used %.3f s of CPU, %d points in all" % (strategy, pid, cpu_ns / 1e9,
                                                                  len(rows)))


def main():
    why = skip_reason()
    if why:
        print("skipped: " + why)
        return 77
    if not os.path.exists("/proc/self/stat"):
        print("skipped: no /proc")
        return 77
    with tempfile.TemporaryDirectory(prefix="alumet-procfs-e2e-") as tmp:
        for strategy in ("event", "watcher"):
            run(strategy, tmp)
    return summary(cases=2)


if __name__ == "__main__":
    sys.exit(main())
