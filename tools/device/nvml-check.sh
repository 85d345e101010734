#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Real-GPU check of the nvml plugin, in one run (about 2 minutes, at most 4):
#   1. what is installed (compiler, meson, ninja, python3, torch, pynvml,
#      nvidia-smi) and an nvidia-smi summary;
#   2. a minimal build of the agent (only the csv and nvml plugins, no tests);
#   3. `alumet-agent --plugins nvml,csv run` with a 200 ms poll: IDLE s idle,
#      LOAD s of bf16 8192×8192 matmuls with torch, IDLE2 s idle; meanwhile a
#      separate python3 process records NVML's energy counter and power every
#      50 ms (pynvml, or ctypes on the same library when pynvml is missing);
#   4. the report: devices, metrics seen, the agent's energy against the
#      counter over the same window, mean power idle and under load, the
#      energy attributed to the torch process against the device's active
#      energy, warnings.
# Run it from the repository root. Results go to $OUT (at most 8 files:
# report.txt, agent.csv, agent.log, truth.csv, load.log, build.log,
# config.toml); without OUT, to a new temporary directory.
#
# NVML_CHECK_STUB=1 runs the same steps without a GPU: the stub library of
# tests/fixtures/nvml-stub (300 W, a placeholder process at 90 % SM) instead
# of libnvidia-ml and torch. NVML_CHECK_IDLE, NVML_CHECK_LOAD and
# NVML_CHECK_IDLE2 change the phases (seconds; defaults 10, 20, 5).
set -u

STUB=${NVML_CHECK_STUB:-0}
IDLE=${NVML_CHECK_IDLE:-10}
LOAD=${NVML_CHECK_LOAD:-20}
IDLE2=${NVML_CHECK_IDLE2:-5}
ROOT=$(pwd)
OUT=${OUT:-$(mktemp -d /tmp/nvml-check-out.XXXXXX)}
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/nvml-check.XXXXXX)
BUILD="$ROOT/build-nvml-check"
REPORT="$OUT/report.txt"
START=$(date +%s)
PIDS=()

say() { echo "[$(($(date +%s) - START))s] $*" | tee -a "$REPORT"; }
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
: >"$REPORT"

if [ ! -f "$ROOT/plugins/nvidia-nvml/nvml.c" ]; then
    echo "run this script from the root of the alumet repository" >&2
    exit 2
fi

# ---- 1. prerequisites ----
say "== prerequisites (stub mode: $STUB)"
missing=0
for cmd in cc meson ninja python3; do
    if command -v "$cmd" >/dev/null 2>&1; then
        say "  $cmd: $(command -v "$cmd") $("$cmd" --version 2>&1 | head -n1)"
    else
        say "  MISSING: $cmd"
        missing=1
    fi
done
if [ "$STUB" != 1 ]; then
    if command -v nvidia-smi >/dev/null 2>&1; then
        say "  nvidia-smi: $(command -v nvidia-smi)"
    else
        say "  MISSING: nvidia-smi (is the NVIDIA driver installed?)"
    fi
    for mod in torch pynvml; do
        v=$(timeout 60 python3 -c "import $mod; print(getattr($mod, '__version__', 'present'))" 2>&1 | tail -n1)
        say "  python3 module $mod: $v"
    done
    timeout 60 python3 -c "import torch; print('  torch CUDA:', torch.version.cuda, 'available:', torch.cuda.is_available())" 2>&1 | tee -a "$REPORT"
fi
[ "$missing" = 0 ] || { say "cannot build: install what is missing"; exit 1; }

if [ "$STUB" != 1 ]; then
    say "== nvidia-smi"
    timeout 20 nvidia-smi -L 2>&1 | tee -a "$REPORT"
    timeout 20 nvidia-smi --query-gpu=index,name,pci.bus_id,driver_version,power.draw,power.limit,temperature.gpu,utilization.gpu,memory.used,memory.total,mig.mode.current --format=csv 2>&1 | tee -a "$REPORT"
fi

# ---- 2. build ----
say "== build (only csv and nvml; $BUILD)"
opts=(-Dtests=false -Dbench=false -Ddocs=false -Dbuildtype=debugoptimized)
for p in procfs perf influxdb opentelemetry prometheus-exporter jsonl rapl \
    energy-attribution energy-estimation-tdp agent-health; do
    opts+=("-Dplugin-$p=disabled")
done
opts+=(-Dplugin-csv=enabled -Dplugin-nvml=enabled)
{
    if [ -d "$BUILD" ]; then
        timeout 120 meson setup --reconfigure "$BUILD" "${opts[@]}"
    else
        timeout 120 meson setup "$BUILD" "${opts[@]}"
    fi && timeout 240 ninja -C "$BUILD" src/agent/alumet-agent
} >"$OUT/build.log" 2>&1
AGENT="$BUILD/src/agent/alumet-agent"
if [ ! -x "$AGENT" ]; then
    say "BUILD FAILED (last lines of build.log):"
    tail -n 30 "$OUT/build.log" | tee -a "$REPORT"
    exit 1
fi
say "  built $AGENT"

LIBRARY=libnvidia-ml.so.1
if [ "$STUB" = 1 ]; then
    mkdir -p "$WORK/stub"
    if ! timeout 60 cc -shared -fPIC -O1 -I"$ROOT/plugins/nvidia-nvml" \
        -o "$WORK/stub/libnvidia-ml.so.1" "$ROOT/tests/fixtures/nvml-stub/nvml-stub.c" \
        >>"$OUT/build.log" 2>&1; then
        say "cannot build the stub library (see build.log)"
        exit 1
    fi
    LIBRARY="$WORK/stub/libnvidia-ml.so.1"
    # the "load": a placeholder process that the stub reports at 90 % SM
    sleep $((IDLE + LOAD + IDLE2 + 60)) &
    FAKE_PID=$!
    PIDS+=("$FAKE_PID")
    cat >"$WORK/stub/script" <<EOF
devices 1
device 0
name Stub GPU (nvml-check dry run)
bus 00000000:19:00.0
energy_power 1000000 300
temperature 40
utilization 0 0
memory 1000 0 2000 1000
clocks 1980 1980 3201 1700
compute $FAKE_PID 1073741824 - -
sample $FAKE_PID 90 20 0 0
EOF
    export NVML_STUB_SCRIPT="$WORK/stub/script"
fi

# ---- 3. the run ----
CSV="$WORK/agent.csv"
cat >"$OUT/config.toml" <<EOF
[plugins.nvml]
poll_interval = "200ms"
flush_interval = "1s"
skip_failed_devices = true
mode = "full"
library = "$LIBRARY"

[plugins.csv]
output_path = "$CSV"
force_flush = true
append_unit_to_metric_name = true
use_unit_display_name = true
csv_delimiter = ";"
csv_late_delimiter = ","
EOF

# ground truth: NVML's own counter, read by another process
cat >"$WORK/truth.py" <<'EOF'
import ctypes, os, sys, time
lib_path, stop_file, out_path, limit = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
try:
    if lib_path != "libnvidia-ml.so.1":
        raise ImportError("stub")
    import pynvml as N
    N.nvmlInit()
    h = [N.nvmlDeviceGetHandleByIndex(i) for i in range(N.nvmlDeviceGetCount())]
    energy = lambda d: N.nvmlDeviceGetTotalEnergyConsumption(d)
    power = lambda d: N.nvmlDeviceGetPowerUsage(d)
    how = "pynvml"
except ImportError:
    L = ctypes.CDLL(lib_path)
    assert L.nvmlInit_v2() == 0
    n = ctypes.c_uint()
    assert L.nvmlDeviceGetCount_v2(ctypes.byref(n)) == 0
    h = []
    for i in range(n.value):
        d = ctypes.c_void_p()
        assert L.nvmlDeviceGetHandleByIndex_v2(i, ctypes.byref(d)) == 0
        h.append(d)
    def energy(d):
        v = ctypes.c_ulonglong()
        assert L.nvmlDeviceGetTotalEnergyConsumption(d, ctypes.byref(v)) == 0
        return v.value
    def power(d):
        v = ctypes.c_uint()
        assert L.nvmlDeviceGetPowerUsage(d, ctypes.byref(v)) == 0
        return v.value
    how = "ctypes"
t_end = time.time() + limit
with open(out_path, "w") as f:
    f.write("# %s\ntime;device;energy_mj;power_mw\n" % how)
    while not os.path.exists(stop_file) and time.time() < t_end:
        for i, d in enumerate(h):
            f.write("%.6f;%d;%d;%d\n" % (time.time(), i, energy(d), power(d)))
        f.flush()
        time.sleep(0.05)
EOF

cat >"$WORK/load.py" <<'EOF'
import os, sys, time
secs = float(sys.argv[1])
import torch
dev = torch.device("cuda")
a = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
b = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
c = a @ b
torch.cuda.synchronize()
t0 = time.time()
print("load_pid %d" % os.getpid(), flush=True)
print("load_start %.6f" % t0, flush=True)
n = 0
while time.time() - t0 < secs:
    for _ in range(10):
        c = a @ b
    torch.cuda.synchronize()
    n += 10
t1 = time.time()
print("load_end %.6f" % t1, flush=True)
print("matmuls %d in %.1f s: %.0f TFLOP/s" % (n, t1 - t0, 2 * 8192**3 * n / (t1 - t0) / 1e12),
      flush=True)
EOF

say "== agent run: ${IDLE}s idle, ${LOAD}s load, ${IDLE2}s idle"
LIMIT=$((IDLE + LOAD + IDLE2 + 150))
timeout $((LIMIT + 10)) python3 "$WORK/truth.py" "$LIBRARY" "$WORK/stop" "$WORK/truth.csv" "$LIMIT" \
    >"$WORK/truth.err" 2>&1 &
TRUTH_PID=$!
PIDS+=("$TRUTH_PID")
sleep 1
kill -0 "$TRUTH_PID" 2>/dev/null || say "WARNING: the ground-truth recorder exited: $(cat "$WORK/truth.err")"

(cd "$WORK" && exec timeout -s INT "$LIMIT" "$AGENT" --config "$OUT/config.toml" \
    --plugins nvml,csv run) >"$OUT/agent.log" 2>&1 &
AGENT_PID=$!
PIDS+=("$AGENT_PID")
for _ in $(seq 1 150); do
    grep -q "The agent is ready" "$OUT/agent.log" 2>/dev/null && break
    kill -0 "$AGENT_PID" 2>/dev/null || break
    sleep 0.2
done
if ! grep -q "The agent is ready" "$OUT/agent.log"; then
    say "THE AGENT DID NOT START:"
    tail -n 30 "$OUT/agent.log" | tee -a "$REPORT"
fi
say "  agent running (pid $AGENT_PID); idle"
sleep "$IDLE"

if [ "$STUB" = 1 ]; then
    now=$(date +%s.%N)
    printf 'load_pid %s\nload_start %s\n' "$FAKE_PID" "$now" >"$WORK/load.log"
    sleep "$LOAD"
    printf 'load_end %s\n' "$(date +%s.%N)" >>"$WORK/load.log"
else
    say "  load: torch matmuls for ${LOAD}s (plus CUDA start-up)"
    timeout $((LOAD + 90)) python3 "$WORK/load.py" "$LOAD" >"$WORK/load.log" 2>&1
    rc=$?
    [ "$rc" = 0 ] || say "WARNING: the load exited with status $rc: $(tail -n 5 "$WORK/load.log")"
fi
say "  idle"
sleep "$IDLE2"

kill -INT "$AGENT_PID" 2>/dev/null
for _ in $(seq 1 75); do
    kill -0 "$AGENT_PID" 2>/dev/null || break
    sleep 0.2
done
kill -0 "$AGENT_PID" 2>/dev/null && { say "WARNING: the agent did not stop in 15 s, killed"; kill -9 "$AGENT_PID"; }
wait "$AGENT_PID" 2>/dev/null
say "  agent exit status: $?"
touch "$WORK/stop"
sleep 0.3
kill "$TRUTH_PID" 2>/dev/null
cp "$WORK/truth.csv" "$OUT/truth.csv" 2>/dev/null
cp "$WORK/load.log" "$OUT/load.log" 2>/dev/null
cp "$CSV" "$OUT/agent.csv" 2>/dev/null

# ---- 4. report ----
say "== report"
cat >"$WORK/analyse.py" <<'EOF'
import collections, csv, re, sys
out = sys.argv[1]

def ts(text):
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?Z", text)
    import calendar
    s = calendar.timegm(tuple(int(g) for g in m.groups()[:6]))
    return s + (int((m.group(7) or "0").ljust(9, "0")[:9]) / 1e9)

log = open(out + "/agent.log", errors="replace").read().splitlines()
print("devices detected:")
for l in log:
    if "Found NVML device" in l or "cannot be measured" in l:
        print("  " + l)
warn = [l for l in log if l.startswith(("WARN", "ERROR"))]
print("warnings and errors: %d" % len(warn))
for l in warn[:20]:
    print("  " + l)

try:
    f = open(out + "/agent.csv", newline="")
except OSError:
    print("NO CSV: the agent wrote nothing"); sys.exit(0)
r = csv.reader(f, delimiter=";")
header = next(r)
rows = []
for cells in r:
    row = dict(zip(header, cells))
    attrs = {k: v for k, v in row.items() if k not in header[:7] and k != "__late_attributes" and v}
    for item in filter(None, row.get("__late_attributes", "").split(",")):
        k, _, v = item.partition("=")
        attrs[k] = v
    row["attrs"] = attrs
    row["t"] = ts(row["timestamp"])
    rows.append(row)
count = collections.Counter(x["metric"] for x in rows)
print("metrics seen (rows):")
for m, n in sorted(count.items()):
    print("  %-36s %d" % (m, n))

load = {}
try:
    for l in open(out + "/load.log"):
        p = l.split()
        if len(p) >= 2 and p[0] in ("load_pid", "load_start", "load_end"):
            load[p[0]] = float(p[1])
        elif l.startswith("matmuls"):
            print("load: " + l.strip())
except OSError:
    pass

truth = collections.defaultdict(list)
try:
    for l in open(out + "/truth.csv"):
        if l[0].isdigit():
            t, d, e, p = l.strip().split(";")
            truth[int(d)].append((float(t), int(e), int(p)))
except OSError:
    print("no ground truth (truth.csv)")

def counter_at(samples, t):
    for (t0, e0, _), (t1, e1, _) in zip(samples, samples[1:]):
        if t0 <= t <= t1:
            return e0 + (e1 - e0) * (t - t0) / (t1 - t0) if t1 > t0 else e0
    return None

gpus = sorted({x["resource_id"] for x in rows if x["resource_kind"] == "gpu"})
for gi, bus in enumerate(gpus):
    print("GPU %s:" % bus)
    energy = [x for x in rows if x["metric"] == "nvml_energy_consumption_mJ" and x["resource_id"] == bus]
    power = [x for x in rows if x["metric"] == "nvml_instant_power_mW" and x["resource_id"] == bus]
    if not energy:
        print("  no energy rows"); continue
    t_first = min(x["t"] for x in power) if power else energy[0]["t"]
    t_last = max(x["t"] for x in energy)
    total = sum(float(x["value"]) for x in energy)
    print("  agent energy: %.1f J over %.2f s (%d intervals, %d polls), mean %.1f W"
          % (total / 1e3, t_last - t_first, len(energy), len(power),
             total / (t_last - t_first) / 1e3))
    s = truth.get(gi, [])
    a, b = counter_at(s, t_first), counter_at(s, t_last)
    if a is not None and b is not None:
        ref = b - a
        print("  counter delta (%s) over the same window: %.1f J; relative error %+.3f %%"
              % (open(out + "/truth.csv").readline().strip("# \n"), ref / 1e3,
                 100 * (total - ref) / ref if ref else float("nan")))
    else:
        print("  ground truth does not cover the window [%.2f, %.2f]" % (t_first, t_last))
    if "load_start" in load and "load_end" in load:
        ls, le = load["load_start"], load["load_end"]
        def mean_power(lo, hi):
            e = [x for x in energy if lo < x["t"] <= hi]
            if len(e) < 2:
                return float("nan")
            return sum(float(x["value"]) for x in e[1:]) / (e[-1]["t"] - e[0]["t"]) / 1e3
        def mean_inst(lo, hi):
            p = [float(x["value"]) for x in power if lo < x["t"] <= hi]
            return sum(p) / len(p) / 1e3 if p else float("nan")
        def truth_power(lo, hi):
            p = [pw for t, _, pw in s if lo < t <= hi]
            return sum(p) / len(p) / 1e3 if p else float("nan")
        print("  mean power idle (before load): energy %.1f W, instant %.1f W, truth %.1f W"
              % (mean_power(t_first, ls - 1), mean_inst(t_first, ls - 1), truth_power(t_first, ls - 1)))
        print("  mean power under load:        energy %.1f W, instant %.1f W, truth %.1f W"
              % (mean_power(ls + 2, le), mean_inst(ls + 2, le), truth_power(ls + 2, le)))
        print("  mean power idle (after load):  energy %.1f W, instant %.1f W, truth %.1f W"
              % (mean_power(le + 1.5, t_last), mean_inst(le + 1.5, t_last), truth_power(le + 1.5, t_last)))
    parts = [x for x in rows if x["metric"] == "nvml_attributed_energy_mJ" and x["resource_id"] == bus]
    if not parts:
        print("  no per-process energy rows"); continue
    by = collections.defaultdict(float)
    methods = collections.Counter()
    per_ts = collections.defaultdict(float)
    for x in parts:
        key = x["attrs"].get("part", "?") + ("" if x["consumer_kind"] != "process" else " pid " + x["consumer_id"])
        by[key] += float(x["value"])
        per_ts[x["timestamp"]] += float(x["value"])
        if x["attrs"].get("part") == "idle":
            methods[x["attrs"].get("method", "?")] += 1
    e_ts = {x["timestamp"]: float(x["value"]) for x in energy}
    worst = max(abs(per_ts[k] - e_ts.get(k, 0)) for k in per_ts)
    print("  per-process split: intervals by method %s; worst |sum of parts - energy| = %.6f mJ"
          % (dict(methods), worst))
    idle_w = [float(x["attrs"].get("idle_power_mw", "nan")) for x in parts if x["attrs"].get("part") == "idle"]
    print("  idle power used: first %.1f W, last %.1f W" % (idle_w[0] / 1e3, idle_w[-1] / 1e3))
    for k, v in sorted(by.items(), key=lambda kv: -kv[1]):
        print("    %-28s %10.1f J" % (k, v / 1e3))
    active = total - by.get("idle", 0)
    pid = "%d" % load["load_pid"] if "load_pid" in load else None
    if pid:
        got = by.get("process pid " + pid, 0)
        print("  load process pid %s: %.1f J of the device's active energy %.1f J (%.1f %%)"
              % (pid, got / 1e3, active / 1e3, 100 * got / active if active else float("nan")))
        sm = [int(x["value"]) for x in rows if x["metric"] == "nvml_sm_utilization_%" and x["consumer_id"] == pid]
        mem = [int(x["value"]) for x in rows if x["metric"] == "nvml_used_gpu_memory_B" and x["consumer_id"] == pid]
        print("  load process seen: %d SM utilisation samples (mean %.0f %%), %d memory rows (max %.2f GiB)"
              % (len(sm), sum(sm) / len(sm) if sm else float("nan"), len(mem), max(mem) / 2**30 if mem else 0))
EOF
timeout 60 python3 "$WORK/analyse.py" "$OUT" 2>&1 | tee -a "$REPORT"
say "== done in $(($(date +%s) - START)) s; files in $OUT:"
ls -la "$OUT" | tee -a "$REPORT"
