# SPDX-License-Identifier: MIT
"""End to end: the built agent with `--plugins grace-hopper,csv`.

1. `config regen` writes upstream's two lines.
2. `exec` on a copy of tests/fixtures/grace-hopper/gh200 (sys_root set with
   --config-override), polling every 100 ms: the child rewrites the Grace
   sensor (150 W -> 130 W) half-way. Every power row must be one of the
   fixture's values; every energy row must be the trapezoid of the two
   readings around it over the time between their CSV timestamps, computed
   here; the DRAM estimate is grace - cpu - sysio; the machine total is the
   module.
3. No hardware (an empty sys_root): one warning, exit 0.

Needs ALUMET_E2E_AGENT (set by Meson). Python 3 standard library only."""
import os
import shutil
import sys
import tempfile

from e2e_common import check, parse_rfc3339_ns, read_csv_rows
from e2e_gpu import check_no_hardware, check_regen, csv_run_args, fixture_main, run_agent

FIXTURES = os.environ.get("ALUMET_E2E_GH_FIXTURES") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tests", "fixtures",
    "grace-hopper")
GRACE = "sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0004:00/ACPI000D:01/power1_average"
DEFAULT_CONFIG = '[plugins.grace-hopper]\npoll_interval = "1s"\nroot_path = "/sys/class/hwmon"\n'

CHILD = ("import os, sys, time\n"
         "time.sleep(0.6)\n"
         "fd = os.open(sys.argv[1], os.O_RDWR)\n"
         "os.pwrite(fd, b'130000000\\n', 0)\n"
         "os.close(fd)\n"
         "time.sleep(0.6)\n")

# (sensor, resource) -> the powers (µW) it can show
POWERS = {("grace", "cpu_package", "0"): {150000000, 130000000},
          ("cpu", "cpu_package", "0"): {90000000},
          ("sysio", "cpu_package", "0"): {20000000},
          ("module", "cpu_package", "0"): {400000000},
          ("dram", "dram", "0"): {40000000, 20000000},
          ("grace_total", "local_machine", ""): {150000000, 130000000},
          ("dram_total", "local_machine", ""): {40000000, 20000000},
          ("total", "local_machine", ""): {400000000}}


def test_config_regen():
    check_regen(check, "grace-hopper", "alumet-gh-e2e-", DEFAULT_CONFIG)


def test_exec_energy():
    with tempfile.TemporaryDirectory(prefix="alumet-gh-e2e-") as tmp:
        root = os.path.join(tmp, "root")
        shutil.copytree(os.path.join(FIXTURES, "gh200"), root, symlinks=True)
        out = os.path.join(tmp, "out.csv")
        settings = [("sys_root", '"%s"' % root), ("poll_interval", '"100ms"')]
        res = run_agent(tmp, csv_run_args("grace-hopper", settings, out)
                        + ["exec", sys.executable, "-c", CHILD, os.path.join(root, GRACE)])
        if not check(res.returncode == 0, "agent exited %d:\n%s"
                     % (res.returncode, res.stderr[-3000:])):
            return
        check("WARN" not in res.stderr, "warnings:\n" + res.stderr[-3000:])
        series = {}
        for r in read_csv_rows(out):
            key = (r["attrs"].get("sensor"), r["resource_kind"], r["resource_id"])
            series.setdefault((r["metric"], key), []).append(
                (parse_rfc3339_ns(r["timestamp"]), r["value"]))
        for key, allowed in POWERS.items():
            power = [(t, int(v)) for t, v in series.get(("grace_instant_power_μW", key), [])]
            check(power and {p for _, p in power} <= allowed,
                  "%r: powers %r, expected among %r" % (key, power, allowed))
            if key[0] in ("grace", "dram"):
                check(len({p for _, p in power}) == 2, "%r: the step was not seen: %r"
                      % (key, power))
            energy = series.get(("grace_energy_consumption_mJ", key), [])
            check(len(energy) == len(power) - 1, "%r: %d energy rows for %d readings"
                  % (key, len(energy), len(power)))
            for i, (t, v) in enumerate(energy):
                (t0, p0), (t1, p1) = power[i], power[i + 1]
                check(t == t1, "%r: energy row %d at %d, reading at %d" % (key, i, t, t1))
                want = (p0 + p1) / 2 / 1000 * (t1 - t0) / 1e9  # µW -> mW, ns -> s
                check(abs(float(v) - want) <= 1e-9 * max(1.0, want),
                      "%r: energy row %d is %s mJ, expected %.12g mJ" % (key, i, v, want))


def test_no_hardware():
    check_no_hardware(check, "grace-hopper", "alumet-gh-e2e-", "no Grace power telemetry found",
                      lambda root: "WARN  grace-hopper: no Grace power telemetry found: no "
                      "'%s/sys/class/hwmon/<hwmon>/device/power1_oem_info' file" % root)


def main():
    return fixture_main("grace-hopper", (test_config_regen, test_exec_energy, test_no_hardware))


if __name__ == "__main__":
    sys.exit(main())
