#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# High-rate sources: the real alumet-agent polls the procfs kernel source
# (/proc/stat) and perf software counters (CONTEXT_SWITCHES, every CPU,
# system_wide) every INTERVAL for DURATION seconds into a CSV file; then
# bench/hires/hires_stats.py counts, per series, the samples in the CSV
# against those requested and the error of each interval between two
# samples. Target (1 ms): >= 99.9 % of the samples, p99 interval error
# < 10 %. See bench/README.md.

set -euo pipefail

usage() {
    cat <<EOF2
Usage: $0 [OPTIONS]

  --build-dir DIR    build directory (default: <source>/build-bench, release)
  --no-build         do not run meson/ninja (the build dir must be up to date)
  --interval D       poll interval, as the agent reads it (default "1ms")
  --interval-ns N    the same in ns, for the statistics (default 1000000)
  --duration S       seconds counted (default 20; the agent runs 3 s more)
  --flush D          flush_interval of the perf source (default "100ms")
  --kernel-flush D   flush_interval of the procfs kernel source (default: none,
                     i.e. after every poll)
  --no-perf          procfs only
  --no-priority      --priority-worker-threads 0: the sources polled every 3 ms
                     or faster keep the normal scheduling (the agent's default
                     is SCHED_FIFO 55 for them, which needs root or CAP_SYS_NICE)
  --rt               run the whole agent under \`chrt -f 1\` (SCHED_FIFO, root)
  --work-dir DIR     where the config, CSV and logs go (default: a new
                     directory under \${TMPDIR:-/tmp}, removed at the end)
  -h, --help         this text
EOF2
}

src_dir=$(cd "$(dirname "$0")/.." && pwd)
. "$src_dir/bench/lib.sh"
build_dir="$src_dir/build-bench"
do_build=1
interval=1ms
interval_ns=1000000
duration=20
flush=100ms
kernel_flush=
perf=1
rt=()
prio=()
work_dir=
while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir) build_dir=$2; shift ;;
    --no-build) do_build=0 ;;
    --interval) interval=$2; shift ;;
    --interval-ns) interval_ns=$2; shift ;;
    --duration) duration=$2; shift ;;
    --flush) flush=$2; shift ;;
    --kernel-flush) kernel_flush=$2; shift ;;
    --no-perf) perf=0 ;;
    --no-priority) prio=(--priority-worker-threads 0) ;;
    --rt) rt=(chrt -f 1) ;;
    --work-dir) work_dir=$2; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "error: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

[ "$do_build" = 1 ] && bench_build "$build_dir" "$src_dir"
agent="$build_dir/src/agent/alumet-agent"
bench_require "$agent"
bench_work_dir alumet-hires
trap '[ -z "$cleanup_dir" ] || rm -rf -- "$cleanup_dir"' EXIT

plugins=procfs,csv
cat >"$work_dir/hires.toml" <<EOF2
[plugins.procfs.kernel]
enabled = true
poll_interval = "$interval"
${kernel_flush:+flush_interval = \"$kernel_flush\"}

[plugins.procfs.memory]
enabled = false

[plugins.procfs.network]
enabled = false

[plugins.procfs.processes]
enabled = false

[plugins.csv]
output_path = "$work_dir/hires.csv"
force_flush = false
EOF2
if [ "$perf" = 1 ]; then
    plugins=procfs,perf,csv
    cat >>"$work_dir/hires.toml" <<EOF2

[plugins.perf]
poll_interval = "$interval"
flush_interval = "$flush"
events = ["CONTEXT_SWITCHES"]
system_wide = true
EOF2
fi

echo "agent: ${rt[*]-} $agent ${prio[*]-} --plugins $plugins, every $interval for" \
    "$duration s; load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs" >&2
rm -f "$work_dir/hires.csv"
set +e
/usr/bin/time -f '%U %S %M' -o "$work_dir/time.txt" \
    timeout -s TERM "$((duration + 3))" ${rt[@]+"${rt[@]}"} "$agent" ${prio[@]+"${prio[@]}"} \
    --config "$work_dir/hires.toml" --no-default-config --plugins "$plugins" run </dev/null \
    >"$work_dir/agent.log" 2>&1 &
time_pid=$!
# the agent's threads 2 s before the end of the run: scheduling policy (0 normal,
# 1 FIFO), real-time priority, CPU seconds (fields 41, 40, 14 + 15 of stat)
sleep "$((duration + 1))"
timeout_pid=$(pgrep -P "$time_pid" | head -n 1 || true)
agent_pid=
[ -z "$timeout_pid" ] || agent_pid=$(pgrep -P "$timeout_pid" | head -n 1 || true)
if [ -z "$agent_pid" ]; then
    echo "threads: the agent's process was not found (time $time_pid, timeout" \
        "${timeout_pid:-none})" >&2
else
    tck=$(getconf CLK_TCK)
    lines=$(for t in /proc/"$agent_pid"/task/*/stat; do
        awk -v tck="$tck" '{ i = index($0, ") "); n = substr($0, index($0, "(") + 1, i - index($0, "(") - 1);
            split(substr($0, i + 2), f, " ");
            printf "thread %-16s policy %s prio %2s CPU %.2f s\n", n, f[41 - 2], f[40 - 2], (f[14 - 2] + f[15 - 2]) / tck }' "$t" 2>/dev/null
    done)
    echo "${lines:-threads: none could be read from /proc/$agent_pid/task (the agent ended?)}" >&2
fi
wait "$time_pid"
rc=$?
set -e
# timeout's 124 is the expected end (SIGTERM); the agent itself must exit 0
if [ "$rc" != 124 ] && [ "$rc" != 0 ]; then
    echo "error: the agent exited with status $rc; see $work_dir/agent.log" >&2
    tail -n 20 "$work_dir/agent.log" >&2
    exit 1
fi
grep -E '^(ERROR|WARN)' "$work_dir/agent.log" >&2 || true
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
read -r u s m < <(tail -n 1 "$work_dir/time.txt")
echo "agent CPU: user $u s, system $s s over $((duration + 3)) s; peak RSS $((m / 1024)) MiB" >&2
series=(kernel_context_switches)
[ "$perf" = 1 ] && series+=(perf_)
python3 "$src_dir/bench/hires/hires_stats.py" "$work_dir/hires.csv" "$interval_ns" "$duration" \
    "${series[@]}"
