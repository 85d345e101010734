#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Throughput of the mongodb and elasticsearch outputs into their protocol
# fakes (bench/outputs/db_sink.py, count-only): bench-source feeds one output
# at a time, the agent pinned to one CPU and the fake to another. Prints
# points/s, the agent's CPU seconds per million points and its peak RSS,
# after checking that the fake counted every point. See bench/README.md,
# section "Database outputs".

set -euo pipefail

usage() {
    cat <<EOF
Usage: $0 [OPTIONS]

  --build-dir DIR     build directory (default: <source>/build-outputs, release)
  --no-build          do not run meson/ninja
  --points N          points per run (default 1000000)
  --repeat K          runs per output, the median wall time is reported (default 3)
  --only LIST         mongodb,elasticsearch (default both)
  --agent-cpus LIST   CPUs for the agent (default 0)
  --server-cpus LIST  CPUs for the fake (default 1)
  -h, --help          this text
EOF
}

src_dir=$(cd "$(dirname "$0")/.." && pwd)
. "$src_dir/bench/lib.sh"
build_dir="$src_dir/build-outputs"
do_build=1
points=1000000
repeat=3
only=mongodb,elasticsearch
agent_cpus=0
server_cpus=1
work_dir=

while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir) build_dir=$2; shift ;;
    --no-build) do_build=0 ;;
    --points) points=$2; shift ;;
    --repeat) repeat=$2; shift ;;
    --only) only=$2; shift ;;
    --agent-cpus) agent_cpus=$2; shift ;;
    --server-cpus) server_cpus=$2; shift ;;
    -h | --help) usage; exit 0 ;;
    *) bench_bad_option "$1" ;;
    esac
    shift
done

bench_maybe_build "$do_build" "$build_dir" "$src_dir"
agent="$build_dir/src/agent/alumet-agent"
plugin_dir="$build_dir/bench"
bench_require "$agent" "$plugin_dir/bench-source.so"
bench_work_dir alumet-bench-db
sink_pid=
cleanup() {
    if [ -n "$sink_pid" ]; then
        kill "$sink_pid" 2>/dev/null || true
    fi
    if [ -n "$cleanup_dir" ]; then
        rm -rf -- "$cleanup_dir"
    fi
}
trap cleanup EXIT

# One run of output $1: prints "wall_s cpu_s maxrss_kib counted".
run_once() {
    local out=$1 cfg="$work_dir/$1.toml" fifo="$work_dir/sink.in" res="$work_dir/sink.out"
    rm -f "$fifo" "$res"
    mkfifo "$fifo"
    taskset -c "$server_cpus" python3 "$src_dir/bench/outputs/db_sink.py" "$out" <"$fifo" >"$res" &
    sink_pid=$!
    exec 7>"$fifo"
    while [ ! -s "$res" ]; do sleep 0.05; done
    local port
    port=$(head -n 1 "$res")
    {
        # as run-outputs.sh: 16 buffers of 10000 points at most in each queue
        printf 'source_channel_size = 16\noutput_queue_size = 16\n\n'
        printf '[plugins.bench-source]\npoll_interval = "10us"\npoints_per_poll = 10000\n'
        printf 'total_points = %s\n\n' "$points"
        if [ "$out" = mongodb ]; then
            printf '[plugins.mongodb]\nhost = "127.0.0.1"\nport = %s\n' "$port"
            printf 'database = "bench"\ncollection = "points"\n'
        else
            printf '[plugins.elasticsearch]\nserver_url = "http://127.0.0.1:%s"\n' "$port"
        fi
    } >"$cfg"
    local t0 t1
    t0=$(date +%s%N)
    ALUMET_LOG=warn /usr/bin/time -o "$work_dir/time.txt" -f '%U %S %M' \
        taskset -c "$agent_cpus" "$agent" --config "$cfg" --plugin-dir "$plugin_dir" \
        --plugins "bench-source,$out" run >"$work_dir/$out.log" 2>&1
    t1=$(date +%s%N)
    exec 7>&-
    wait "$sink_pid" || true
    sink_pid=
    local counted ut st rss
    counted=$(sed -n 2p "$res")
    read -r ut st rss <"$work_dir/time.txt"
    awk -v w="$((t1 - t0))" -v u="$ut" -v s="$st" -v m="$rss" -v c="$counted" \
        'BEGIN { printf "%.3f %.3f %s %s\n", w / 1e9, u + s, m, c }'
}

printf '%-14s %10s %12s %16s %10s\n' output points "points/s" "CPU s / M pts" "RSS MiB"
for out in ${only//,/ }; do
    rows=()
    for _ in $(seq "$repeat"); do
        row=$(run_once "$out")
        read -r wall cpu rss counted <<<"$row"
        if [ "$counted" != "$points" ]; then
            echo "error: $out: the fake counted $counted points of $points" >&2
            cat "$work_dir/$out.log" >&2
            exit 1
        fi
        rows+=("$row")
    done
    median=$(printf '%s\n' "${rows[@]}" | sort -n | sed -n "$(((repeat + 1) / 2))p")
    read -r wall cpu rss counted <<<"$median"
    awk -v o="$out" -v p="$points" -v w="$wall" -v c="$cpu" -v m="$rss" \
        'BEGIN { printf "%-14s %10d %12.0f %16.3f %10.1f\n", o, p, p / w, c / (p / 1e6), m / 1024 }'
done
