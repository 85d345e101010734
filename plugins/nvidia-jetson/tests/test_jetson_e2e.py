# SPDX-License-Identifier: MIT
"""End to end: the built agent with `--plugins jetson,csv`.

1. `config regen` writes upstream's two lines.
2. `exec` on a copy of tests/fixtures/jetson/agx-orin (sys_root set with
   --config-override), polling every 100 ms: the child rewrites curr1_input of
   VDD_GPU_SOC (625 mA -> 1250 mA, 12 W -> 24 W) half-way. Every current,
   voltage and power row must be one of the fixture's values; every energy
   row must be the trapezoid of the two power readings around it over the
   time between their CSV timestamps, computed here (power known from the
   fixture values, not from the agent's arithmetic); the first reading of
   each rail has no energy row.
3. No hardware (an empty sys_root): one warning naming the files looked for,
   exit 0.

Needs ALUMET_E2E_AGENT (set by Meson). Python 3 standard library only."""
import os
import shutil
import sys
import tempfile

from e2e_common import check, parse_rfc3339_ns, read_csv_rows
from e2e_gpu import check_no_hardware, check_regen, csv_run_args, fixture_main, run_agent

FIXTURES = os.environ.get("ALUMET_E2E_JETSON_FIXTURES") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tests", "fixtures", "jetson")
CURR1 = "sys/devices/platform/bus@0/c240000.i2c/i2c-1/1-0040/hwmon/hwmon3/curr1_input"
DEFAULT_CONFIG = '[plugins.jetson]\npoll_interval = "1s"\nflush_interval = "5s"\n'

# the child rewrites the file in place with one pwrite of the same length
CHILD = ("import os, sys, time\n"
         "time.sleep(0.6)\n"
         "fd = os.open(sys.argv[1], os.O_RDWR)\n"
         "os.pwrite(fd, b'1250\\n', 0)\n"
         "os.close(fd)\n"
         "time.sleep(0.6)\n")

# rail -> the power values (mW, exact) the fixture can give, and V, I
POWERS = {"VDD_GPU_SOC": {12000.0, 24000.0}, "VDD_CPU_CV": {4800.0}, "VIN_SYS_5V0": {7600.0},
          "VDDQ_VDD2_1V8AO": {599.4}}
CURRENTS = {"VDD_GPU_SOC": {"625", "1250"}, "VDD_CPU_CV": {"250"}, "VIN_SYS_5V0": {"1520"},
            "VDDQ_VDD2_1V8AO": {"333"}, "channel_2": {"100"}}


def test_config_regen():
    check_regen(check, "jetson", "alumet-jetson-e2e-", DEFAULT_CONFIG)


def test_exec_energy():
    with tempfile.TemporaryDirectory(prefix="alumet-jetson-e2e-") as tmp:
        root = os.path.join(tmp, "root")
        shutil.copytree(os.path.join(FIXTURES, "agx-orin"), root, symlinks=True)
        out = os.path.join(tmp, "out.csv")
        settings = [("sys_root", '"%s"' % root), ("poll_interval", '"100ms"'),
                    ("flush_interval", '"100ms"')]
        res = run_agent(tmp, csv_run_args("jetson", settings, out)
                        + ["exec", sys.executable, "-c", CHILD, os.path.join(root, CURR1)])
        if not check(res.returncode == 0, "agent exited %d:\n%s"
                     % (res.returncode, res.stderr[-3000:])):
            return
        check("in3_input': empty file" in res.stderr, "no warning about the empty file")
        rows = read_csv_rows(out)
        series = {}
        for r in rows:
            label = r["attrs"].get("ina_channel_label")
            check(r["resource_kind"] == "local_machine" and r["consumer_kind"] == "local_machine",
                  "resource/consumer of %r" % r)
            series.setdefault((r["metric"], label), []).append(
                (parse_rfc3339_ns(r["timestamp"]), r["value"]))
        for label, values in CURRENTS.items():
            got = {v for _, v in series.get(("input_current_mA", label), [])}
            check(got and got <= values, "%s currents %r, expected among %r" % (label, got, values))
        seen_gpu = {v for _, v in series.get(("input_power_mW", "VDD_GPU_SOC"), [])}
        check(seen_gpu == {"12000", "24000"}, "VDD_GPU_SOC powers %r" % seen_gpu)
        check(("input_power_mW", "channel_2") not in series, "channel_2 has no voltage: no power")
        for label, powers in POWERS.items():
            # the power of each poll: from the current read at that poll (the
            # CSV current row) and the fixture's voltage
            volts = {"VDD_GPU_SOC": 19200, "VDD_CPU_CV": 19200, "VIN_SYS_5V0": 5000,
                     "VDDQ_VDD2_1V8AO": 1800}[label]
            cur = series[("input_current_mA", label)]
            power = [(t, int(v) * volts / 1000.0) for t, v in cur]
            check({p for _, p in power} <= powers, "%s: powers %r" % (label, power))
            energy = series.get(("input_energy_mJ", label), [])
            check(len(energy) == len(power) - 1, "%s: %d energy rows for %d readings"
                  % (label, len(energy), len(power)))
            for i, (t, v) in enumerate(energy):
                (t0, p0), (t1, p1) = power[i], power[i + 1]
                check(t == t1, "%s: energy row %d at %d, reading at %d" % (label, i, t, t1))
                want = (p0 + p1) / 2 * (t1 - t0) / 1e9
                check(abs(float(v) - want) <= 1e-9 * max(1.0, want),
                      "%s: energy row %d is %s mJ, expected %.12g mJ" % (label, i, v, want))
            total = sum(float(v) for _, v in energy)
            span = (power[-1][0] - power[0][0]) / 1e9
            check(min(powers) * span - 1e-6 <= total <= max(powers) * span + 1e-6,
                  "%s: %g mJ over %g s" % (label, total, span))


def test_no_hardware():
    check_no_hardware(check, "jetson", "alumet-jetson-e2e-", "no INA3221 power monitor found",
                      lambda root: "WARN  jetson: no INA3221 power monitor found, are you "
                      "running on a Jetson device? neither '%s/sys/bus/i2c/drivers/ina3221' "
                      "nor '%s/sys/bus/i2c/drivers/ina3221x' exists" % (root, root))


def main():
    return fixture_main("jetson", (test_config_regen, test_exec_energy, test_no_hardware))


if __name__ == "__main__":
    sys.exit(main())
