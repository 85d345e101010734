# SPDX-License-Identifier: MIT
"""End to end: the built agent with `--plugins nvml,csv` on the stub library
(tests/fixtures/nvml-stub/, scripted through NVML_STUB_SCRIPT).

1. `config regen` writes upstream's four lines.
2. `exec` with a GPU whose counter advances 5000 mJ per read and two
   processes at 75 % and 25 % SM: every energy row is 5000 mJ, every interval
   is split 3750 / 1250 mJ (idle_power = 0), the parts add up to the energy.
3. A failing GPU among two: one warning with the reason, rows for the other.
4. No library: one warning, the agent runs and exits 0.

Needs ALUMET_E2E_AGENT and ALUMET_E2E_NVML_STUB (set by Meson). Python 3
standard library only."""
import os
import subprocess
import sys
import tempfile

from e2e_gpu import (check_failing_device, check_no_library, check_regen, finish, read_rows,
                     require as check, run_case, stub_agent, warnings)

AGENT = os.environ.get("ALUMET_E2E_AGENT")
STUB = os.environ.get("ALUMET_E2E_NVML_STUB")
BUS = "00000000:65:00.0"
DEFAULT_CONFIG = ('[plugins.nvml]\n'
                  'poll_interval = "1s"\n'
                  'flush_interval = "5s"\n'
                  'skip_failed_devices = true\n'
                  'mode = "full"\n')


def agent(tmp, script, *args, library=None):
    return stub_agent(tmp, "nvml", STUB, "NVML_STUB_SCRIPT", script, args, library)


def test_config_regen():
    check_regen(check, "nvml", "alumet-nvml-e2e-", DEFAULT_CONFIG)


SPLIT = ("devices 1\ndevice 0\nname Stub H200\nbus " + BUS + "\n"
         "energy 1000000 5000\npower 250000\ntemperature 40\nutilization 90 30\n"
         "memory 100 0 200 100\nclocks 1980 1980 3201 1700\n"
         "compute 111 1048576 - -\ncompute 222 2097152 - -\n"
         "sample 111 75 10 0 0\nsample 222 25 5 0 0\n")


def test_exact_split():
    with tempfile.TemporaryDirectory(prefix="alumet-nvml-e2e-") as tmp:
        res = agent(tmp, SPLIT, "--config-override", "plugins.nvml.idle_power=0",
                    "exec", "sleep", "0.5")
        check(res.returncode == 0, "agent exited %d:\n%s" % (res.returncode, res.stderr[-4000:]))
        check(warnings(res.stderr) == [], "warnings: %r" % warnings(res.stderr))
        check('Found NVML device %s "Stub H200" with features:' % BUS in res.stderr,
              "no detection line:\n" + res.stderr[-3000:])
        rows = read_rows(os.path.join(tmp, "out.csv"))
        energy = [r for r in rows if r["metric"] == "nvml_energy_consumption_mJ"]
        check(len(energy) >= 2, "only %d energy rows" % len(energy))
        for r in energy:
            check(float(r["value"]) == 5000.0, "energy row %r" % r)
            check((r["resource_kind"], r["resource_id"]) == ("gpu", BUS), "resource %r" % r)
        parts = {}
        for r in rows:
            if r["metric"] != "nvml_attributed_energy_mJ":
                continue
            key = (r["attrs"]["part"], r["consumer_kind"], r["consumer_id"])
            parts.setdefault(r["timestamp"], {})[key] = (float(r["value"]), r["attrs"]["method"])
        check(sorted(parts) == sorted(r["timestamp"] for r in energy),
              "attributed intervals %r, energy intervals %r"
              % (sorted(parts), [r["timestamp"] for r in energy]))
        want = {("idle", "local_machine", ""): (0.0, "sm_share"),
                ("process", "process", "111"): (3750.0, "sm_share"),
                ("process", "process", "222"): (1250.0, "sm_share"),
                ("unattributed", "local_machine", ""): (0.0, "sm_share")}
        for ts, got in parts.items():
            check(got == want, "interval %s: %r" % (ts, got))
            check(sum(v for v, _ in got.values()) == 5000.0, "sum at %s" % ts)
        power = [r for r in rows if r["metric"] == "nvml_instant_power_mW"]
        check(power and all(r["value"] == "250000" for r in power), "power rows %r" % power[:2])
        mem = [r for r in rows if r["metric"] == "nvml_used_gpu_memory_B"
               and r["consumer_id"] == "222"]
        check(mem and all(r["value"] == "2097152" and r["attrs"].get("context") == "compute"
                          for r in mem), "process memory rows %r" % mem[:2])


def test_failing_device():
    script = ("devices 2\ndevice 0\nname Good\nbus " + BUS + "\nenergy 0 10\npower 1000\n"
              "device 1\nname Bad\nbus 00000000:66:00.0\nerror temperature 15\n")
    want = ['WARN  nvml: GPU device 1 00000000:66:00.0 ("Bad") cannot be measured: '
            'nvmlDeviceGetTemperature failed: GPU is lost, skipping']
    check_failing_device(agent, "alumet-nvml-e2e-", script, want, BUS)


def test_watch_summary_gpu_share():
    """watch of a process the stub lists at 75 % SM (another one at 25 %), the
    counter at 300 W: the summary shows the process's GPU joules, an
    estimate, at 75 % x 300 W = 225 W on average (idle_power = 0)."""
    with tempfile.TemporaryDirectory(prefix="alumet-nvml-e2e-") as tmp:
        proc = subprocess.Popen(["sleep", "1.5"])
        try:
            script = ("devices 1\ndevice 0\nname Stub H200\nbus " + BUS + "\n"
                      "energy_power 0 300\npower 300000\nutilization 100 30\n"
                      "compute %d 1048576 - -\ncompute 222 2097152 - -\n"
                      "sample %d 75 10 0 0\nsample 222 25 5 0 0\n" % (proc.pid, proc.pid))
            res = agent(tmp, script, "--config-override", "plugins.nvml.idle_power=0",
                        "watch", str(proc.pid))
        finally:
            proc.wait()
        check(res.returncode == 0, "agent exited %d:\n%s" % (res.returncode, res.stderr[-4000:]))
        lines = res.stderr.splitlines()
        head = "   what the sources attributed to the process and its descendants:"
        check(head in lines, "no per-process block:\n" + res.stderr[-3000:])
        mine = lines[lines.index(head) + 1:]
        want = "nvml_attributed_energy                   gpu %s, process %d (estimate)" % (
            BUS, proc.pid)
        row = [line for line in mine if line.endswith(want)]
        check(len(row) == 1, "no row %r in:\n%s" % (want, "\n".join(mine)))
        watts = float(row[0].split()[2])
        check(abs(watts - 225.0) <= 0.05 * 225.0, "%.3f W, expected 225 W: %s" % (watts, row[0]))
        check(not any(line.endswith("process 222 (estimate)") for line in mine),
              "the other process is not in the family:\n" + "\n".join(mine))


def test_no_library():
    check_no_library(agent, "alumet-nvml-e2e-", "/nonexistent/libnvidia-ml.so.1",
                     "WARN  nvml: no NVIDIA driver: cannot load the NVML library "
                     "'/nonexistent/libnvidia-ml.so.1' (", "the nvml plugin measures nothing")


def main():
    if not AGENT or not os.access(AGENT, os.X_OK) or not STUB:
        print("skipped: ALUMET_E2E_AGENT or ALUMET_E2E_NVML_STUB is not set")
        return 77
    run_case("config regen", test_config_regen)
    run_case("exact energy split", test_exact_split)
    run_case("failing device", test_failing_device)
    run_case("no library", test_no_library)
    run_case("watch summary: the process's GPU joules", test_watch_summary_gpu_share)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
