# SPDX-License-Identifier: MIT
"""End to end: the built agent with `--plugins amd-gpu,csv` on the stub
library (tests/fixtures/amd-smi-stub/, scripted through AMD_SMI_STUB_SCRIPT).

1. `config regen` writes upstream's three lines.
2. `exec` with a GPU drawing 300 W (its energy accumulator follows the
   stub's monotonic clock, resolution 15.3 uJ) and two processes using the
   GFX engine 750 and 250 ms per second: every energy row is 300 W times the
   time between the two counter reads that the stub logged
   (AMD_SMI_STUB_LOG), and each process gets 75 % / 25 % of it, within 1 %.
3. A failing GPU among two: one warning naming it and the reason, rows for
   the other only.
4. No library: one warning, the agent runs and exits 0.

Needs ALUMET_E2E_AGENT and ALUMET_E2E_AMD_SMI_STUB (set by Meson). Python 3
standard library only."""
import os
import sys
import tempfile

from e2e_gpu import (check_failing_device, check_no_library, check_regen, finish, read_rows,
                     require as check, run_case, stub_agent, warnings)

AGENT = os.environ.get("ALUMET_E2E_AGENT")
STUB = os.environ.get("ALUMET_E2E_AMD_SMI_STUB")
UUID = "ccff74a1-0000-1000-80ac-8b41e6a0ffc2"
DEFAULT_CONFIG = ('[plugins.amd-gpu]\n'
                  'poll_interval = "1s"\n'
                  'flush_interval = "5s"\n'
                  'skip_failed_devices = true\n')
POWER_W = 300.0


def agent(tmp, script, *args, library=None):
    return stub_agent(tmp, "amd-gpu", STUB, "AMD_SMI_STUB_SCRIPT", script, args, library,
                      {"AMD_SMI_STUB_LOG": os.path.join(tmp, "stub-log")})


def test_config_regen():
    check_regen(check, "amd-gpu", "alumet-amd-e2e-", DEFAULT_CONFIG)


SPLIT = ("devices 1\ndevice 0\nuuid " + UUID + "\n"
         "energy_power %g 15.3\npower 300\nactivity 90 10 0\ncu 304\nmemory 0 1048576\n"
         "temperature 0 51\n"
         # process <pid> <name> <mem> <gfx> <enc> <gtt> <cpu> <vram> <cu> <gfx ns per s>
         "process 111 trainer 1048576 0 0 0 0 1048576 228 750000000\n"
         "process 222 helper 4096 0 0 0 0 4096 76 250000000\n" % POWER_W)


def test_energy_and_split():
    with tempfile.TemporaryDirectory(prefix="alumet-amd-e2e-") as tmp:
        res = agent(tmp, SPLIT, "--config-override", "plugins.amd-gpu.idle_power=0",
                    "exec", "sleep", "0.6")
        check(res.returncode == 0, "agent exited %d:\n%s" % (res.returncode, res.stderr[-4000:]))
        check(warnings(res.stderr) == [], "warnings: %r" % warnings(res.stderr))
        check("Found AMD GPU %s with features: activity, processes, energy, power, memory_gtt, "
              "memory_vram, temperature_edge" % UUID in res.stderr,
              "no detection line:\n" + res.stderr[-3000:])
        with open(os.path.join(tmp, "stub-log")) as f:
            reads = [(float(t), int(c)) for _, dev, t, c, _ in (line.split() for line in f)
                     if dev == "0"]
        rows = read_rows(os.path.join(tmp, "out.csv"))
        energy = [r for r in rows if r["metric"] == "amd_gpu_energy_consumption_mJ"]
        check(len(energy) >= 2, "only %d energy rows" % len(energy))
        # reads[0] is the probe, reads[1] the first poll (the baseline)
        check(len(reads) >= len(energy) + 2, "%d reads for %d rows" % (len(reads), len(energy)))
        truth = {}
        for k, r in enumerate(energy):
            check((r["resource_kind"], r["resource_id"]) == ("gpu", UUID), "resource %r" % r)
            want = POWER_W * (reads[k + 2][0] - reads[k + 1][0]) * 1000
            got = float(r["value"])
            # the accumulator counts whole 15.3 uJ steps
            check(abs(got - want) <= 1e-6 * want + 0.05,
                  "row %d: %.6f mJ, %g W x %.6f s = %.6f mJ"
                  % (k, got, POWER_W, reads[k + 2][0] - reads[k + 1][0], want))
            truth[r["timestamp"]] = want
        shares = {"111": 0.75, "222": 0.25}
        parts = {}
        for r in rows:
            if r["metric"] != "amd_gpu_attributed_energy_mJ":
                continue
            check(r["attrs"]["method"] == "gfx_share", "method %r" % r)
            parts.setdefault(r["timestamp"], {})[(r["attrs"]["part"], r["consumer_id"])] = \
                float(r["value"])
        check(sorted(parts) == sorted(truth), "attributed intervals %r, energy intervals %r"
              % (sorted(parts), sorted(truth)))
        for ts, got in parts.items():
            for pid, share in shares.items():
                want = truth[ts] * share
                check(abs(got[("process", pid)] - want) <= 0.01 * want,
                      "interval %s pid %s: %.3f mJ, truth %.3f" % (ts, pid,
                                                                  got[("process", pid)], want))
            check(abs(sum(got.values()) - float(
                [r for r in energy if r["timestamp"] == ts][0]["value"])) < 1e-6,
                "parts of %s do not add up: %r" % (ts, got))
        power = [r for r in rows if r["metric"] == "amd_gpu_power_consumption_W"]
        check(power and all(r["value"] == "300" for r in power), "power rows %r" % power[:2])
        occ = [r for r in rows if r["metric"] == "amd_gpu_process_compute_unit_occupancy_%"
               and r["consumer_id"] == "111"]
        check(occ and all(float(r["value"]) == 75.0 and r["attrs"].get("process_name") ==
                          "trainer" for r in occ), "occupancy rows %r" % occ[:2])


def test_failing_device():
    script = ("devices 2\ndevice 0\nuuid " + UUID + "\nenergy 0 100 1\n"
              "device 1\nuuid bad-gpu\nenergy 0 100 1\ntemperature 0 40\nerror temperature 12\n")
    want = ["WARN  amd-gpu: GPU device socket 0 processor 1 bad-gpu cannot be measured: "
            "amdsmi_get_temp_metric failed: AMDSMI_STATUS_IO: I/O Error, skipping"]
    check_failing_device(agent, "alumet-amd-e2e-", script, want, UUID)


def test_no_library():
    check_no_library(agent, "alumet-amd-e2e-", "/nonexistent/libamd_smi.so",
                     "WARN  amd-gpu: no AMD SMI library: cannot load "
                     "'/nonexistent/libamd_smi.so' (",
                     "the amd-gpu plugin measures nothing")


def main():
    if not AGENT or not os.access(AGENT, os.X_OK) or not STUB:
        print("skipped: ALUMET_E2E_AGENT or ALUMET_E2E_AMD_SMI_STUB is not set")
        return 77
    run_case("config regen", test_config_regen)
    run_case("energy and per-process split", test_energy_and_split)
    run_case("failing device", test_failing_device)
    run_case("no library", test_no_library)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
