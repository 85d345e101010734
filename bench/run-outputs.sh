#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Output throughput benchmark: the real alumet-agent, bench-source feeding one
# output at a time (csv, jsonl, prometheus-exporter, influxdb v1 to a real
# local influxd, opentelemetry to a local OTLP/HTTP sink), the agent pinned to
# one CPU and the server to another. Prints points/s, the agent's CPU time
# per million points, its peak RSS and the server's CPU time, after checking
# that every point arrived. See bench/README.md, section "Outputs".

set -euo pipefail

usage() {
    cat <<EOF
Usage: $0 [OPTIONS]

  --build-dir DIR        build directory (default: <source>/build-outputs, release)
  --no-build             do not run meson/ninja (the build dir must be up to date)
  --points N             points per run (default 2000000)
  --influx-points N      points per influxdb run (default 500000: influxd is the
                         bottleneck, about 15 s per million points on one core)
  --points-per-poll N    points appended by each poll (default 10000)
  --poll-interval D      bench-source poll interval (default "10us": the source
                         offers more than any output takes)
  --queue-size N         source_channel_size and output_queue_size, in buffers
                         (default 16; 0 = the agent's defaults)
  --agent-cpus LIST      CPUs for the agent (taskset, default 0; "" = unpinned)
  --server-cpus LIST     CPUs for influxd, the OTLP sink and the scraper (default 1)
  --scrape-interval S    seconds between two scrapes of the exporter (default 0.05)
  --repeat K             runs per output; the run with the median wall time is reported
                         (default 5)
  --only LIST            comma-separated subset of:
                         null,csv,jsonl,prometheus,influxdb,opentelemetry
  --work-dir DIR         where configs, files, logs and influxd's data go
                         (default: a new directory under \${TMPDIR:-/tmp}, removed at the end)
  -h, --help             this text
EOF
}

src_dir=$(cd "$(dirname "$0")/.." && pwd)
. "$src_dir/bench/lib.sh"
build_dir="$src_dir/build-outputs"
do_build=1
points=2000000
influx_points=500000
per_poll=10000
interval=10us
queue=16
agent_cpus=0
server_cpus=1
scrape_interval=0.05
repeat=5
only=null,csv,jsonl,prometheus,influxdb,opentelemetry
work_dir=

while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir) build_dir=$2; shift ;;
    --no-build) do_build=0 ;;
    --points) points=$2; shift ;;
    --influx-points) influx_points=$2; shift ;;
    --points-per-poll) per_poll=$2; shift ;;
    --poll-interval) interval=$2; shift ;;
    --queue-size) queue=$2; shift ;;
    --agent-cpus) agent_cpus=$2; shift ;;
    --server-cpus) server_cpus=$2; shift ;;
    --scrape-interval) scrape_interval=$2; shift ;;
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
plugin_dir="$build_dir/bench"
helpers="$src_dir/bench/outputs"
bench_require "$agent" "$plugin_dir/bench-source.so" "$plugin_dir/bench-null-output.so"

bench_work_dir alumet-bench-outputs

# Background processes started by this script, killed (by pid) at exit.
bg_pids=()
cleanup() {
    local p
    for p in "${bg_pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${bg_pids[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    if [ -n "$cleanup_dir" ]; then
        rm -rf -- "$cleanup_dir"
    fi
}
trap cleanup EXIT

forget_pid() { # a background process that was waited for
    local p keep=()
    for p in "${bg_pids[@]}"; do
        [ "$p" = "$1" ] || keep+=("$p")
    done
    bg_pids=("${keep[@]}")
}

pin_agent=()
[ -n "$agent_cpus" ] && pin_agent=(taskset -c "$agent_cpus")
pin_server=()
[ -n "$server_cpus" ] && pin_server=(taskset -c "$server_cpus")
clk_tck=$(getconf CLK_TCK)
agent_log_env="warn,bench-source=info"

has_plugin() {
    "$agent" plugins list 2>/dev/null | grep -q "^- $1 "
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# CPU time (user + system) of process $1 so far, in clock ticks.
cpu_ticks() {
    sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

ticks_to_s() {
    awk -v t="$1" -v h="$clk_tck" 'BEGIN { printf "%.2f", t / h }'
}

# Run the command given as arguments, with stdout and stderr into $log;
# print "wall_s utime_s stime_s maxrss_kib exit_status". GNU time reports
# the agent's own rusage (taskset execs the agent).
measure() {
    local log=$1 tf="$work_dir/time.txt"
    shift
    local t0 t1
    t0=$(date +%s%N)
    /usr/bin/time -o "$tf" -f '%U %S %M %x' "$@" >"$log" 2>&1 || true
    t1=$(date +%s%N)
    local ut st rss code
    read -r ut st rss code < <(tail -n 1 "$tf")
    awk -v w="$((t1 - t0))" -v u="$ut" -v s="$st" -v m="$rss" -v c="$code" \
        'BEGIN { printf "%.3f %s %s %s %s\n", w / 1e9, u, s, m, c }'
}

# write_config FILE POINTS SHUTDOWN_WHEN_DONE: the common part.
write_config() {
    local file=$1 n=$2 shutdown=$3
    if [ "$queue" != 0 ]; then
        printf 'source_channel_size = %s\noutput_queue_size = %s\n' "$queue" "$queue" >"$file"
    else
        : >"$file"
    fi
    cat >>"$file" <<EOF
output_queue_policy = "block"

[plugins.bench-source]
points_per_poll = $per_poll
total_points = $n
poll_interval = "$interval"
attributes = 2
shutdown_when_done = $shutdown
EOF
}

run_agent() { # LOG PLUGIN_DIR PLUGINS CONFIG -> measure's line
    local log=$1 pdir=$2 plugins=$3 cfg=$4
    measure "$log" env ALUMET_LOG="$agent_log_env" "${pin_agent[@]}" "$agent" \
        --config "$cfg" --no-default-config --plugin-dir "$pdir" --plugins "$plugins" run
}

fail() {
    echo "error: $*" >&2
    exit 1
}

check_exit() { # NAME CODE LOG
    if [ "$2" != 0 ]; then
        echo "error: $1: the agent exited with status $2; its log:" >&2
        cat "$3" >&2
        exit 1
    fi
}

# ---- influxd ----------------------------------------------------------------

influx_pid=
influx_port=
influx_start() {
    local d="$work_dir/influxd" rpc
    mkdir -p "$d"
    influx_port=$(free_port)
    rpc=$(free_port)
    cat >"$d/influxdb.conf" <<EOF
reporting-disabled = true
bind-address = "127.0.0.1:$rpc"
[meta]
  dir = "$d/meta"
  logging-enabled = false
[data]
  dir = "$d/data"
  wal-dir = "$d/wal"
  query-log-enabled = false
  wal-fsync-delay = "0s"
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:$influx_port"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false
  bind-socket = "$d/influxdb.sock"
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
[retention]
  enabled = false
[shard-precreation]
  enabled = false
EOF
    "${pin_server[@]}" influxd run -config "$d/influxdb.conf" >"$d/influxd.log" 2>&1 &
    influx_pid=$!
    bg_pids+=("$influx_pid")
    local i
    for ((i = 0; i < 300; i++)); do
        if ! kill -0 "$influx_pid" 2>/dev/null; then
            cat "$d/influxd.log" >&2
            fail "influxd exited at startup"
        fi
        if curl -sf -o /dev/null "http://127.0.0.1:$influx_port/ping"; then
            return 0
        fi
        sleep 0.1
    done
    fail "influxd does not answer on port $influx_port after 30 s"
}

influx_query() { # QUERY [DB]
    local args=(--data-urlencode "q=$1")
    [ $# -gt 1 ] && args+=(--data-urlencode "db=$2")
    curl -sS -f -XPOST "http://127.0.0.1:$influx_port/query" "${args[@]}"
}

# Points stored in database bench (sum of count(value) over both measurements).
influx_count() {
    influx_query 'SELECT count("value") FROM "bench_counter", "bench_power"' bench |
        python3 -c '
import json, sys
res = json.load(sys.stdin)["results"][0]
if "error" in res:
    sys.exit("influxdb: " + res["error"])
print(sum(s["values"][0][1] for s in res.get("series", [])))'
}

# bench-source compiled with distinct timestamps (see outputs/distinct-timestamps.h)
distinct_dir="$work_dir/plugins-distinct-ts"
build_distinct_source() {
    mkdir -p "$distinct_dir"
    "${CC:-cc}" -std=gnu11 -O3 -fvisibility=hidden -fPIC -shared -D_GNU_SOURCE -DNDEBUG \
        -I"$src_dir/include" \
        -include "$helpers/distinct-timestamps.h" \
        -o "$distinct_dir/bench-source.so" "$src_dir/bench/bench-source.c"
}

# ---- one run of each scenario ---------------------------------------------
# Each sets RESULT="wall ut st rss server_cpu_s check-text" (not in a subshell,
# so that the servers it starts are known to the cleanup).

run_null() {
    local n=$1 cfg="$work_dir/null.toml" log="$work_dir/null.log" res="$work_dir/null-result.txt"
    write_config "$cfg" "$n" true
    printf '\n[plugins.bench-null-output]\nresult_path = "%s"\n' "$res" >>"$cfg"
    rm -f "$res"
    read -r wall ut st rss code < <(run_agent "$log" "$plugin_dir" bench-source,bench-null-output "$cfg")
    check_exit null "$code" "$log"
    local got
    got=$(sed -n 's/^points=\([0-9]*\) .*/\1/p' "$res")
    [ "$got" = "$n" ] || fail "null: expected $n points, the output counted '$got'"
    RESULT="$wall $ut $st $rss - counted=$got"
}

run_file() { # csv|jsonl N
    local name=$1 n=$2 cfg="$work_dir/$1.toml" log="$work_dir/$1.log" out="$work_dir/output.$1"
    write_config "$cfg" "$n" true
    printf '\n[plugins.%s]\noutput_path = "%s"\n' "$name" "$out" >>"$cfg"
    rm -f "$out"
    sync # so that writeback of an earlier file does not land in this run
    read -r wall ut st rss code < <(run_agent "$log" "$plugin_dir" "bench-source,$name" "$cfg")
    check_exit "$name" "$code" "$log"
    local lines got bytes
    lines=$(wc -l <"$out")
    bytes=$(stat -c %s "$out")
    got=$lines
    [ "$name" = csv ] && got=$((lines - 1)) # header
    [ "$got" = "$n" ] || fail "$name: expected $n points, the file has '$got'"
    rm -f "$out"
    RESULT="$wall $ut $st $rss - lines=$got,$((bytes / n))B/pt"
}

run_prometheus() {
    local n=$1 cfg="$work_dir/prometheus.toml" log="$work_dir/prometheus.log"
    local res="$work_dir/scrape.json" tf="$work_dir/time.txt" port
    port=$(free_port)
    # The agent keeps running after the source is done; the scraper stops the
    # clock when the last point's values are in the exporter's table.
    write_config "$cfg" "$n" false
    cat >>"$cfg" <<EOF

[plugins.prometheus-exporter]
host = "127.0.0.1"
port = $port
EOF
    local last_even=$(((n - 1) / 2 * 2)) expect=()
    expect+=(--expect "bench_counter_alumet=$last_even")
    if [ "$n" -ge 2 ]; then
        local last_odd=$(((n - 2) / 2 * 2 + 1))
        expect+=(--expect "bench_power_alumet_watts=$(awk -v s=$last_odd 'BEGIN { printf "%.1f", s * 0.5 }')")
    fi
    rm -f "$res"
    local t0 tpid apid sok=0
    t0=$(date +%s%N)
    /usr/bin/time -o "$tf" -f '%U %S %M %x' env ALUMET_LOG="$agent_log_env" "${pin_agent[@]}" \
        "$agent" --config "$cfg" --no-default-config --plugin-dir "$plugin_dir" \
        --plugins bench-source,prometheus-exporter run >"$log" 2>&1 &
    tpid=$!
    bg_pids+=("$tpid")
    "${pin_server[@]}" python3 "$helpers/prom_scrape.py" --url "http://127.0.0.1:$port/metrics" \
        "${expect[@]}" --interval "$scrape_interval" --timeout 300 --result "$res" || sok=$?
    apid=$(pgrep -P "$tpid" || true)
    if [ -n "$apid" ]; then kill -TERM "$apid" 2>/dev/null || true; fi
    wait "$tpid" || true
    forget_pid "$tpid"
    local ut st rss code
    read -r ut st rss code < <(tail -n 1 "$tf")
    if [ "$sok" != 0 ]; then
        cat "$res" >&2 2>/dev/null || true
        cat "$log" >&2
        fail "prometheus: the scraper did not see the final values"
    fi
    check_exit prometheus "$code" "$log"
    local info
    info=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print((r["t_done_ns"] - int(sys.argv[2])) / 1e9, "scrapes=%d,final-values-seen" % r["scrapes"])' \
        "$res" "$t0")
    read -r wall txt <<<"$info"
    RESULT="$(awk -v w="$wall" 'BEGIN { printf "%.3f", w }') $ut $st $rss - $txt"
}

run_influxdb() {
    local n=$1 cfg="$work_dir/influxdb.toml" log="$work_dir/influxdb.log"
    influx_query 'DROP DATABASE "bench"' >/dev/null
    influx_query 'CREATE DATABASE "bench"' >/dev/null
    write_config "$cfg" "$n" true
    cat >>"$cfg" <<EOF

[plugins.influxdb]
host = "http://127.0.0.1:$influx_port"
api_version = 1
database = "bench"
EOF
    local c0 c1
    c0=$(cpu_ticks "$influx_pid")
    local saved_env=$agent_log_env
    agent_log_env="$agent_log_env,influxdb=trace" # "wrote N lines (B bytes)" per request
    read -r wall ut st rss code < <(run_agent "$log" "$distinct_dir" bench-source,influxdb "$cfg")
    agent_log_env=$saved_env
    c1=$(cpu_ticks "$influx_pid")
    check_exit influxdb "$code" "$log"
    # lines and bytes sent, from the plugin's trace log
    local sent bytes stored
    read -r sent bytes < <(sed -n 's/.*wrote \([0-9]*\) lines (\([0-9]*\) bytes).*/\1 \2/p' "$log" |
        awk '{ l += $1; b += $2 } END { print l + 0, b + 0 }')
    stored=$(influx_count)
    [ "$sent" = "$n" ] || fail "influxdb: expected $n lines sent, the plugin logged '$sent'"
    [ "$stored" = "$n" ] || fail "influxdb: expected $n points stored, count() says '$stored'"
    RESULT="$wall $ut $st $rss $(ticks_to_s $((c1 - c0))) stored=$stored,$((bytes / n))B/pt"
}

run_opentelemetry() {
    local n=$1 cfg="$work_dir/opentelemetry.toml" log="$work_dir/opentelemetry.log"
    local pf="$work_dir/sink.port" spid port i
    rm -f "$pf"
    "${pin_server[@]}" python3 "$helpers/otlp_sink.py" --port-file "$pf" \
        >"$work_dir/sink.log" 2>&1 &
    spid=$!
    bg_pids+=("$spid")
    for ((i = 0; i < 100; i++)); do
        [ -s "$pf" ] && break
        kill -0 "$spid" 2>/dev/null || { cat "$work_dir/sink.log" >&2; fail "the OTLP sink exited"; }
        sleep 0.05
    done
    port=$(cat "$pf")
    write_config "$cfg" "$n" true
    cat >>"$cfg" <<EOF

[plugins.opentelemetry]
collector_host = "http://127.0.0.1:$port"
EOF
    local c0 c1
    c0=$(cpu_ticks "$spid")
    read -r wall ut st rss code < <(run_agent "$log" "$plugin_dir" bench-source,opentelemetry "$cfg")
    check_exit opentelemetry "$code" "$log"
    local stats got bytes reqs
    stats=$(curl -sS -f "http://127.0.0.1:$port/stats")
    c1=$(cpu_ticks "$spid")
    kill "$spid"
    wait "$spid" 2>/dev/null || true
    forget_pid "$spid"
    read -r got bytes reqs < <(python3 -c '
import json, sys
s = json.loads(sys.argv[1])
if s["errors"]:
    sys.exit("the sink could not parse %d requests" % s["errors"])
print(s["points"], s["bytes"], s["requests"])' "$stats")
    [ "$got" = "$n" ] || fail "opentelemetry: expected $n points, the sink counted '$got'"
    RESULT="$wall $ut $st $rss $(ticks_to_s $((c1 - c0))) points=$got,$((bytes / n))B/pt,$reqs-req"
}

# ---- driver -----------------------------------------------------------------

results=()
run_scenario() { # NAME POINTS FUNCTION ARGS...
    local name=$1 n=$2
    shift 2
    local runs=() line i
    for ((i = 1; i <= repeat; i++)); do
        RESULT=
        "$@" "$n"
        line=$RESULT
        read -r wall ut st rss srv chk <<<"$line"
        echo "  $name run $i/$repeat: ${wall}s wall, ${ut}s user, ${st}s sys, ${rss} KiB," \
            "server ${srv}s, $chk" >&2
        runs+=("$line")
    done
    local med
    med=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n "$(((repeat + 1) / 2))p")
    results+=("$name $n $med")
}

wanted() { [[ ",$only," == *",$1,"* ]]; }

echo "agent: $agent" >&2
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)," \
    "$(nproc) online; agent on: ${agent_cpus:-any}, servers on: ${server_cpus:-any};" \
    "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

if wanted null; then
    run_scenario null "$points" run_null
fi
for o in csv jsonl; do
    if wanted "$o"; then
        if has_plugin "$o"; then
            run_scenario "$o" "$points" run_file "$o"
        else
            echo "skipping $o: this agent has no $o plugin" >&2
        fi
    fi
done
if wanted prometheus; then
    if has_plugin prometheus-exporter; then
        run_scenario prometheus "$points" run_prometheus
    else
        echo "skipping prometheus: this agent has no prometheus-exporter plugin" >&2
    fi
fi
if wanted influxdb; then
    if ! has_plugin influxdb; then
        echo "skipping influxdb: this agent has no influxdb plugin" >&2
    elif ! command -v influxd >/dev/null; then
        echo "skipping influxdb: influxd is not installed (Debian package influxdb)" >&2
    else
        build_distinct_source
        influx_start
        run_scenario influxdb "$influx_points" run_influxdb
    fi
fi
if wanted opentelemetry; then
    if has_plugin opentelemetry; then
        run_scenario opentelemetry "$points" run_opentelemetry
    else
        echo "skipping opentelemetry: this agent has no opentelemetry plugin" >&2
    fi
fi

echo
printf '| %-36s | %8s | %6s | %9s | %9s | %12s | %6s | %7s | %10s | %s |\n' output points \
    "wall s" points/s "CPU s/Mpt" "points/CPU-s" "CPU %" "RSS MiB" "server CPU" check
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' "--------------------------------------" "---------:" \
    "-------:" "----------:" "----------:" "-------------:" "-------:" "--------:" "-----------:" "---"
for r in "${results[@]}"; do
    read -r name n wall ut st rss srv chk <<<"$r"
    case "$name" in
    null) label="null (bench-null-output)" ;;
    csv) label="csv (file)" ;;
    jsonl) label="jsonl (file)" ;;
    prometheus) label="prometheus-exporter (table+scrapes)" ;;
    influxdb) label="influxdb v1 -> influxd 1.6" ;;
    opentelemetry) label="opentelemetry -> OTLP/HTTP sink" ;;
    esac
    [ "$srv" = - ] || srv="${srv} s"
    awk -v l="$label" -v n="$n" -v w="$wall" -v u="$ut" -v s="$st" -v m="$rss" -v sv="$srv" \
        -v c="$chk" 'BEGIN {
        cpu = u + s
        printf "| %-36s | %8d | %6.3f | %9.0f | %9.3f | %12.0f | %6.0f | %7.1f | %10s | %s |\n",
            l, n, w, n / w, cpu / (n / 1e6), (cpu > 0 ? n / cpu : 0), 100 * cpu / w, m / 1024,
            sv, c }'
done
