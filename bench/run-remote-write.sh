#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# prometheus-remote-write throughput: the real alumet-agent, bench-source
# (compiled with bench/outputs/remote-write-series.h: 5000 series per metric,
# one sample per series and poll) feeding the plugin, to a real local
# Prometheus (--web.enable-remote-write-receiver) and a real
# VictoriaMetrics, each started fresh for every run. The agent is pinned to
# one CPU and the server to another. Prints points/s, the agent's CPU time
# per million points, its peak RSS and the server's CPU time, after checking
# that the server holds every point (count and sum of the values, exact).
# See bench/README.md, section "Remote write".

set -euo pipefail

usage() {
    cat <<EOF
Usage: $0 [OPTIONS]

  --build-dir DIR        build directory (default: <source>/build-bench, release)
  --no-build             do not run meson/ninja (the build dir must be up to date)
  --points N             points per run (default 1000000)
  --points-per-poll N    points appended by each poll (default 10000)
  --series N             series per metric (default 5000; points-per-poll / 2 gives
                         one sample per series and poll)
  --agent-cpus LIST      CPUs for the agent (taskset, default 0; "" = unpinned)
  --server-cpus LIST     CPUs for the server (default 1)
  --repeat K             runs per server; the run with the median wall time is reported
                         (default 3)
  --only LIST            comma-separated subset of: prometheus,victoria
  --work-dir DIR         where configs, logs and the servers' data go
                         (default: a new directory under \${TMPDIR:-/tmp}, removed at the end)
  -h, --help             this text
EOF
}

src_dir=$(cd "$(dirname "$0")/.." && pwd)
. "$src_dir/bench/lib.sh"
build_dir="$src_dir/build-bench"
do_build=1
points=1000000
per_poll=10000
series=5000
agent_cpus=0
server_cpus=1
repeat=3
only=prometheus,victoria
work_dir=

while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir) build_dir=$2; shift ;;
    --no-build) do_build=0 ;;
    --points) points=$2; shift ;;
    --points-per-poll) per_poll=$2; shift ;;
    --series) series=$2; shift ;;
    --agent-cpus) agent_cpus=$2; shift ;;
    --server-cpus) server_cpus=$2; shift ;;
    --repeat) repeat=$2; shift ;;
    --only) only=$2; shift ;;
    --work-dir) work_dir=$2; shift ;;
    -h | --help) usage; exit 0 ;;
    *) bench_bad_option "$1" ;;
    esac
    shift
done

bench_maybe_build "$do_build" "$build_dir" "$src_dir"
agent="$build_dir/src/agent/alumet-agent"
bench_require "$agent"
bench_work_dir alumet-bench-remote-write

server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ -n "$cleanup_dir" ]; then
        rm -rf -- "$cleanup_dir"
    fi
}
trap cleanup EXIT

fail() {
    echo "error: $*" >&2
    exit 1
}

pin_agent=()
[ -n "$agent_cpus" ] && pin_agent=(taskset -c "$agent_cpus")
pin_server=()
[ -n "$server_cpus" ] && pin_server=(taskset -c "$server_cpus")
clk_tck=$(getconf CLK_TCK)

"$agent" plugins list 2>/dev/null | grep -q "^- prometheus-remote-write " ||
    fail "the agent in '$build_dir' has no prometheus-remote-write plugin"

# bench-source with many series and 1 ms between polls (see the header)
plugin_dir="$work_dir/plugins"
mkdir -p "$plugin_dir"
"${CC:-cc}" -std=gnu11 -O3 -fvisibility=hidden -fPIC -shared -D_GNU_SOURCE -DNDEBUG \
    -DBENCH_RW_SERIES="$series" -I"$src_dir/include" \
    -include "$src_dir/bench/outputs/remote-write-series.h" \
    -o "$plugin_dir/bench-source.so" "$src_dir/bench/bench-source.c"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cpu_ticks() {
    sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

port=
url=
server_start() { # prometheus|victoria
    local d="$work_dir/$1-data" ready
    rm -rf -- "$d"
    mkdir -p "$d"
    port=$(free_port)
    case "$1" in
    prometheus)
        "${pin_server[@]}" prometheus --web.enable-remote-write-receiver --config.file=/dev/null \
            --storage.tsdb.path="$d" --web.listen-address="127.0.0.1:$port" \
            >"$work_dir/$1.log" 2>&1 &
        ready=/-/ready ;;
    victoria)
        "${pin_server[@]}" victoria-metrics -httpListenAddr="127.0.0.1:$port" \
            -storageDataPath="$d" -loggerLevel=WARN >"$work_dir/$1.log" 2>&1 &
        ready=/health ;;
    esac
    server_pid=$!
    url="http://127.0.0.1:$port"
    local i
    for ((i = 0; i < 600; i++)); do
        kill -0 "$server_pid" 2>/dev/null || { cat "$work_dir/$1.log" >&2; fail "$1 exited"; }
        curl -sf -o /dev/null "$url$ready" && return 0
        sleep 0.1
    done
    fail "$1 not ready after 60 s"
}

server_stop() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=
}

# "count sum_counter sum_power" of what the server holds
server_totals() { # prometheus|victoria
    local q
    [ "$1" = victoria ] && curl -sf -o /dev/null "$url/internal/force_flush"
    for q in 'sum(count_over_time(bench_counter_alumet[1h])) + sum(count_over_time(bench_power_alumet_watts[1h]))' \
        'sum(sum_over_time(bench_counter_alumet[1h]))' \
        'sum(sum_over_time(bench_power_alumet_watts[1h]))'; do
        curl -sf "$url/api/v1/query" --data-urlencode "query=$q" \
            --data-urlencode "time=$(($(date +%s) + 60))" |
            python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)'
    done | paste -sd' '
}

expected=$(python3 -c "
n = $points
print(n, '%.17g' % float(sum(range(0, n, 2))), '%.17g' % (sum(range(1, n, 2)) * 0.5))")

run_once() { # prometheus|victoria -> "wall ut st rss server_s requests bytes"
    local name=$1 cfg="$work_dir/$1.toml" log="$work_dir/$1-agent.log" tf="$work_dir/time.txt"
    # run_once runs in a subshell ($(...)), which does not run the script's
    # EXIT trap: stop the server there on every way out
    trap server_stop EXIT
    server_start "$name"
    cat >"$cfg" <<EOF
source_channel_size = 16
output_queue_size = 16
output_queue_policy = "block"

[plugins.bench-source]
points_per_poll = $per_poll
total_points = $points
poll_interval = "10us"
attributes = 2
shutdown_when_done = true

[plugins.prometheus-remote-write]
url = "$url/api/v1/write"
EOF
    local c0 c1 t0 t1
    c0=$(cpu_ticks "$server_pid")
    t0=$(date +%s%N)
    /usr/bin/time -o "$tf" -f '%U %S %M %x' env ALUMET_LOG=warn,prometheus-remote-write=trace \
        "${pin_agent[@]}" "$agent" --config "$cfg" --no-default-config --plugin-dir "$plugin_dir" \
        --plugins bench-source,prometheus-remote-write run >"$log" 2>&1 || true
    t1=$(date +%s%N)
    c1=$(cpu_ticks "$server_pid")
    local ut st rss code
    read -r ut st rss code < <(tail -n 1 "$tf")
    [ "$code" = 0 ] || { cat "$log" >&2; fail "$name: the agent exited with status $code"; }
    local sent requests bytes got i
    read -r sent requests bytes < <(sed -n 's/.*wrote \([0-9]*\) samples of [0-9]* series (\([0-9]*\) bytes).*/\1 \2/p' "$log" |
        awk '{ s += $1; b += $2; n++ } END { print s + 0, n + 0, b + 0 }')
    [ "$sent" = "$points" ] || fail "$name: expected $points samples sent, the plugin logged '$sent'"
    for ((i = 0; i < 100; i++)); do # VictoriaMetrics makes new data searchable within a second
        got=$(server_totals "$name")
        [ "$got" = "$expected" ] && break
        sleep 0.2
    done
    [ "$got" = "$expected" ] || fail "$name: expected 'count sums' = '$expected', the server says '$got'"
    server_stop
    awk -v w="$((t1 - t0))" -v u="$ut" -v s="$st" -v m="$rss" -v c="$((c1 - c0))" -v h="$clk_tck" \
        -v r="$requests" -v b="$bytes" \
        'BEGIN { printf "%.3f %s %s %s %.2f %d %d\n", w / 1e9, u, s, m, c / h, r, b }'
}

printf '| server | points | wall s | points/s | CPU s/Mpt | CPU %% | RSS MiB | server CPU s | requests | bytes/point |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
IFS=, read -ra servers <<<"$only"
for name in "${servers[@]}"; do
    case "$name" in
    prometheus) command -v prometheus >/dev/null || { echo "skipping prometheus: not installed" >&2; continue; } ;;
    victoria) command -v victoria-metrics >/dev/null || { echo "skipping victoria: not installed" >&2; continue; } ;;
    *) fail "unknown server '$name' (prometheus, victoria)" ;;
    esac
    runs=()
    for ((i = 1; i <= repeat; i++)); do
        line=$(run_once "$name")
        echo "  $name run $i/$repeat: $line (wall user sys rss server requests bytes)" >&2
        runs+=("$line")
    done
    med=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n "$(((repeat + 1) / 2))p")
    read -r wall ut st rss srv req bytes <<<"$med"
    awk -v n="$points" -v w="$wall" -v u="$ut" -v s="$st" -v m="$rss" -v c="$srv" -v r="$req" \
        -v b="$bytes" -v name="$name" 'BEGIN {
        printf "| %s | %d | %.3f | %.0f | %.3f | %.0f | %.0f | %.2f | %d | %.1f |\n",
            name, n, w, n / w, (u + s) / (n / 1e6), 100 * (u + s) / w, m / 1024, c, r, b / n }'
done
