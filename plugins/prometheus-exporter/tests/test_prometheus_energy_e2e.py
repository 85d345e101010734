# SPDX-License-Identifier: MIT
"""prometheus-exporter end to end: the counters of the delta metrics, checked
with a real Prometheus server against the CSV of the same run.

Three agents, each with the csv plugin and the exporter on a free loopback
port, scraped every second by one Prometheus server:

- "seq": test-source (test_counter = 0, 1, 2, ..., 40 polls of 250 ms, then
  the source stops), with counter_metrics = ["test_counter"]. The last value
  of e2e_test_counter_alumet_cumulative_total in Prometheus must be exactly
  the sum of the values of the CSV (and n(n-1)/2), every scraped value a sum
  of the first k values, and the gauge must leave both the endpoint and
  Prometheus (stale) while the counter stays.
- "tdp": procfs (kernel, 1 s) and energy-estimation-tdp: the energy
  estimated_consumed_energy (joules) is a counter of its own accord. Every
  scraped value of every series (per resource and cpu_state) must be exactly
  the sum of the first k values of that series in the CSV.
- "merged": the same with add_attributes_to_labels = false: the cpu_state
  values of one poll collapse onto one series per resource, so every scraped
  value must be a sum of the first k CSV rows of that resource, all cpu_state
  values together.

Skipped (exit 77) without the prometheus binary or without the plugins (the
tdp agents without procfs or energy-estimation-tdp). Meson passes
ALUMET_E2E_AGENT, ALUMET_E2E_PLUGIN_DIR and PYTHONPATH (tests/e2e).
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile

from e2e_common import read_csv_rows
from test_prometheus_e2e import (AGENT, PLUGIN_DIR, SKIP, Failure, Run, check, check_promtool,
                                 free_port, http_get, prom_api, wait_for)

LONG = 90  # seconds: a loaded machine scrapes late, nothing here races a deadline
POLLS = 40  # of 250 ms: Prometheus scrapes the counter a few times as it grows
SEQ = "e2e_test_counter_alumet"
SEQ_TOTAL = SEQ + "_cumulative_total"
ENERGY = "estimated_consumed_energy_alumet_joules"
ENERGY_TOTAL = "estimated_consumed_energy_alumet_cumulative_joules_total"

TDP_CONFIG = """\
[plugins.procfs.kernel]
poll_interval = "1s"
[plugins.procfs.memory]
enabled = false
[plugins.procfs.network]
enabled = false
[plugins.procfs.processes]
enabled = false

[plugins.energy-estimation-tdp]
tdp = 100.0
nb_cpu = 4.0

[plugins.csv]
output_path = "{name}.csv"
append_unit_to_metric_name = false

[plugins.prometheus-exporter]
host = "127.0.0.1"
port = 0
add_attributes_to_labels = {attrs}
"""


def prefix_sums(values):
    """The sums of the first k values, k >= 1, added in order as the exporter
    does (f64)."""
    sums, acc = [], 0.0
    for v in values:
        acc += v
        sums.append(acc)
    return sums


def samples(base, query):
    """{frozenset(labels): [float values]} of a range-vector query."""
    out = {}
    for s in prom_api(base, "query", query=query)["result"]:
        labels = frozenset((k, v) for k, v in s["metric"].items() if k != "__name__")
        out[labels] = [float(v) for _, v in s["values"]]
    return out


def check_seq(run, base, seq, logs):
    """The sequence agent: exact final counter, partial sums, stale gauge."""
    count_file = run.path("count")
    wait_for("test-source to finish its polls",
             lambda: int(open(count_file, encoding="utf-8").read()) == POLLS,
             timeout=LONG, logs=logs)
    expected = POLLS * (POLLS - 1) // 2

    def final_counter():
        r = prom_api(base, "query", query=SEQ_TOTAL)["result"]
        return r and float(r[0]["value"][1]) == expected and r
    wait_for(f"{SEQ_TOTAL} = {expected} in Prometheus", final_counter, timeout=LONG, logs=logs)

    # the endpoint: the gauge is gone (stale after 2 x 250 ms), the counter stays
    url = f"http://127.0.0.1:{seq.port}/metrics"

    def gauge_gone():
        body = http_get(url, "text/plain")[2]
        return SEQ + "{" not in body and body
    body = wait_for("the stale gauge to leave the endpoint", gauge_gone, timeout=LONG, logs=logs)
    lines = body.splitlines()
    check(f"# TYPE {SEQ_TOTAL} counter" in lines, body)
    check(f'{SEQ_TOTAL}{{resource_consumer_id="",resource_consumer_kind="local_machine",'
          f'resource_id="",resource_kind="local_machine"}} {expected}.0' in lines, body)
    # and Prometheus marks it stale: a sum of the gauges counts nothing more
    wait_for("the gauge to be stale in Prometheus",
             lambda: prom_api(base, "query", query=f"sum({SEQ})")["result"] == [],
             timeout=LONG, logs=logs)

    # every scraped value is 0 + 1 + ... + (k - 1): the sum of the points so far
    partial = {k * (k - 1) // 2 for k in range(1, POLLS + 1)}
    scraped = list(samples(base, f"{SEQ_TOTAL}[10m]").values())
    check(len(scraped) == 1, f"one series of {SEQ_TOTAL}: {scraped}")
    values = scraped[0]
    check(all(v in partial for v in values), f"not partial sums: {values}")
    check(values == sorted(values) and values[-1] == expected, f"not monotonic: {values}")

    csv_values = [float(r["value"]) for r in read_csv_rows(run.path("seq.csv"))
                  if r["metric"] == "test_counter"]
    check(csv_values == [float(i) for i in range(POLLS)], f"CSV: {csv_values}")
    check(sum(csv_values) == expected, f"CSV sum {sum(csv_values)}")
    meta = prom_api(base, "metadata", metric=SEQ + "_cumulative")
    check(meta == {SEQ + "_cumulative": [{
        "type": "counter", "unit": "",
        "help": "sequence number of the point, from 0, summed since the series appeared."}]},
        f"metadata: {meta}")
    inc = prom_api(base, "query", query=f"sum(increase({SEQ_TOTAL}[10m]))")["result"]
    print(f"seq: {len(values)} scrapes, last counter {values[-1]} = CSV sum {sum(csv_values)}; "
          f"increase() over the run: {inc[0]['value'][1] if inc else None} (Prometheus does not "
          f"count the first scraped value {values[0]})")


def csv_energy(path, merged):
    """{labels: [values in CSV order]} of estimated_consumed_energy."""
    series = {}
    for r in read_csv_rows(path):
        if r["metric"] != "estimated_consumed_energy":
            continue
        key = {"resource_kind": r["resource_kind"], "resource_consumer_kind": r["consumer_kind"]}
        if r["resource_id"]:
            key["resource_id"] = r["resource_id"]
        if not merged:
            key.update(r["attrs"])  # cpu_state, and the estimate's parameters
        series.setdefault(frozenset(key.items()), []).append(float(r["value"]))
    return series


def check_energy(run, base, agent, merged):
    """Every scraped counter value is the sum of the first k CSV values of its
    series; the agent was stopped, so its CSV holds every point scraped."""
    name = "merged" if merged else "tdp"
    instance = f"127.0.0.1:{agent.port}"
    scraped = samples(base, f'{ENERGY_TOTAL}{{instance="{instance}"}}[10m]')
    csv = csv_energy(run.path(name + ".csv"), merged)
    check(scraped, f"{name}: no {ENERGY_TOTAL} series in Prometheus")
    compared = 0
    for labels, values in scraped.items():
        key = frozenset((k, v) for k, v in labels if k not in ("instance", "job"))
        check(key in csv, f"{name}: series {sorted(key)} not in the CSV: {sorted(csv)}")
        sums = prefix_sums(csv[key])
        for v in values:
            check(v in sums, f"{name} {sorted(key)}: scraped {v!r} is no partial sum of the "
                  f"CSV values {csv[key]} (sums {sums})")
        check(values == sorted(values), f"{name} {sorted(key)}: not monotonic: {values}")
        compared += len(values)
    last = sum(values[-1] for values in scraped.values())
    total = sum(sum(v) for v in csv.values())
    print(f"{name}: {len(scraped)} counter series, {compared} scraped values, each a partial "
          f"sum of the CSV; last scrape {last:.6f} J of the CSV's {total:.6f} J")


def main():
    prometheus = shutil.which("prometheus")
    if not prometheus:
        print("SKIP: no prometheus binary (install the Debian package 'prometheus')")
        return SKIP
    if not AGENT or not os.access(AGENT, os.X_OK) or not PLUGIN_DIR:
        print("SKIP: ALUMET_E2E_AGENT/ALUMET_E2E_PLUGIN_DIR not set (run through meson test)")
        return SKIP
    plugins = subprocess.run([AGENT, "plugins", "list"], capture_output=True, text=True,
                             timeout=30).stdout
    missing = [p for p in ("prometheus-exporter", "csv") if f"- {p} v" not in plugins]
    if missing:
        print(f"SKIP: this agent was built without {', '.join(missing)}")
        return SKIP
    with_tdp = all(f"- {p} v" in plugins for p in ("procfs", "energy-estimation-tdp"))
    if not with_tdp:
        print("note: no procfs or energy-estimation-tdp: the energy agents do not run")

    with tempfile.TemporaryDirectory(prefix="alumet-e2e-prom-energy-") as tmp:
        run = Run(tmp)
        try:
            return scenario(run, prometheus, with_tdp)
        finally:
            run.stop_all()


def scenario(run, prometheus, with_tdp):
    seq = run.agent("seq", f"""\
[plugins.test-source]
poll_interval = "250ms"
max_polls = {POLLS}
count_file = "count"

[plugins.csv]
output_path = "seq.csv"
append_unit_to_metric_name = false

[plugins.prometheus-exporter]
host = "127.0.0.1"
port = 0
prefix = "e2e_"
counter_metrics = ["test_counter"]
""")
    agents = [seq]
    if with_tdp:
        tdp = run.agent("tdp", TDP_CONFIG.format(name="tdp", attrs="true"), plugin_dir=False)
        merged = run.agent("merged", TDP_CONFIG.format(name="merged", attrs="false"),
                           plugin_dir=False)
        agents += [tdp, merged]

    promtool = shutil.which("promtool")
    if promtool and with_tdp:
        # the text format with counters parses (the energy has its counter
        # from the first poll of procfs on)
        wait_for("the energy counter on the endpoint",
                 lambda: ENERGY_TOTAL + "{" in http_get(f"http://127.0.0.1:{tdp.port}/metrics")[2],
                 timeout=LONG, logs=[tdp.log])
        check_promtool(promtool, f"127.0.0.1:{tdp.port}")

    web = free_port()
    targets = ", ".join(f"'127.0.0.1:{a.port}'" for a in agents)
    with open(run.path("prometheus.yml"), "w", encoding="utf-8") as f:
        f.write(f"""\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: alumet
    static_configs:
      - targets: [{targets}]
""")
    prom = run.spawn("prometheus", [prometheus, "--config.file=prometheus.yml",
                                    f"--storage.tsdb.path={run.path('data')}",
                                    f"--web.listen-address=127.0.0.1:{web}"])
    base = f"http://127.0.0.1:{web}"
    logs = [prom.log] + [a.log for a in agents]
    wait_for("prometheus to be ready", lambda: http_get(f"{base}/-/ready")[0] == 200,
             timeout=LONG, logs=logs)

    check_seq(run, base, seq, logs)

    if with_tdp:
        # a few scrapes of each energy agent, then stop them: their CSV is
        # complete, and Prometheus keeps what it scraped
        def scraped_enough():
            r = prom_api(base, "query", query=f"count_over_time({ENERGY_TOTAL}[10m])")["result"]
            counts = {}
            for s in r:
                inst = s["metric"]["instance"]
                counts[inst] = min(counts.get(inst, 1 << 30), int(s["value"][1]))
            return all(counts.get(f"127.0.0.1:{a.port}", 0) >= 3 for a in (tdp, merged))
        wait_for("3 scrapes of every energy series", scraped_enough, timeout=LONG, logs=logs)
        gauges = prom_api(base, "query", query=f"count({ENERGY})")["result"]
        check(gauges, f"no {ENERGY} gauge: the gauge is still exported")
        for a in (tdp, merged):
            a.send_signal(signal.SIGTERM)
            check(a.wait(timeout=30) == 0, f"agent exited with {a.returncode}:\n"
                  + open(a.log, encoding="utf-8").read())
        check_energy(run, base, tdp, merged=False)
        check_energy(run, base, merged, merged=True)

    seq.send_signal(signal.SIGTERM)
    check(seq.wait(timeout=30) == 0, "agent seq exited with %s:\n%s"
          % (seq.returncode, open(seq.log, encoding="utf-8").read()))
    print("ok: the counters in Prometheus are the sums of the CSV")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print(f"FAIL: {e}")
        sys.exit(1)
