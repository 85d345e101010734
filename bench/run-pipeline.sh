#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Pipeline throughput benchmark: runs the real alumet-agent with the
# bench-source plugin feeding (a) bench-null-output and (b) the csv output,
# pinned to one CPU, and prints points/s, CPU time and peak RSS.
# See bench/README.md.
#
# Each run is `alumet-agent --config CFG --plugin-dir DIR run`: bench-source
# produces a fixed number of points, then asks the agent to shut down
# (shutdown_when_done); the agent flushes every point to the output and
# exits. The wall time is measured from the agent's start to its exit, the
# CPU time and peak RSS come from wait4() on the agent. The counts are then
# checked: the null output's total, and the CSV line count minus the header.

set -euo pipefail

usage() {
    cat <<EOF
Usage: $0 [OPTIONS]

  --build-dir DIR        build directory (default: <source>/build-bench, release)
  --no-build             do not run meson/ninja (the build dir must be up to date)
  --null-points N        points for the null-output scenario (default 20000000)
  --csv-points N         points for the csv scenario (default 5000000)
  --points-per-poll N    points appended by each poll (default 10000)
  --poll-interval D      bench-source poll interval (default "10us": far more points
                         are offered than the pipeline can take, so the source is
                         never the limit; with "1ms" the rate is capped at
                         points-per-poll * 1000 points/s)
  --queue-size N         source_channel_size and output_queue_size, in buffers
                         (default 16; 0 = the agent's defaults, 2048 and 256)
  --cpus LIST            CPUs for taskset (default 0); "" runs unpinned
  --repeat K             runs per scenario; the median wall time is reported (default 3)
  --work-dir DIR         where the config and the CSV file go (default: a new
                         directory under \${TMPDIR:-/tmp}, removed at the end)
  --only null|csv        run one scenario only
  -h, --help             this text
EOF
}

src_dir=$(cd "$(dirname "$0")/.." && pwd)
. "$src_dir/bench/lib.sh"
build_dir="$src_dir/build-bench"
do_build=1
null_points=20000000
csv_points=5000000
per_poll=10000
interval=10us
queue=16
cpus=0
repeat=3
work_dir=
only=

while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir) build_dir=$2; shift ;;
    --no-build) do_build=0 ;;
    --null-points) null_points=$2; shift ;;
    --csv-points) csv_points=$2; shift ;;
    --points-per-poll) per_poll=$2; shift ;;
    --poll-interval) interval=$2; shift ;;
    --queue-size) queue=$2; shift ;;
    --cpus) cpus=$2; shift ;;
    --repeat) repeat=$2; shift ;;
    --work-dir) work_dir=$2; shift ;;
    --only) only=$2; shift ;;
    -h | --help) usage; exit 0 ;;
    *) bench_bad_option "$1" ;;
    esac
    shift
done

bench_maybe_build "$do_build" "$build_dir" "$src_dir"

agent="$build_dir/src/agent/alumet-agent"
plugin_dir="$build_dir/bench"
bench_require "$agent" "$plugin_dir/bench-source.so" "$plugin_dir/bench-null-output.so"

bench_work_dir alumet-bench
trap '[ -z "$cleanup_dir" ] || rm -rf -- "$cleanup_dir"' EXIT

pin=()
if [ -n "$cpus" ]; then
    pin=(taskset -c "$cpus")
fi

# Run the command given as arguments, with stdout and stderr into $log;
# print "wall_s utime_s stime_s maxrss_kib exit_status" for that process.
# GNU time reports the agent's own rusage (taskset execs the agent); its
# small fork adds about 1 MiB to the peak RSS before the exec, much less than
# a fork of python3 would (~14 MiB).
measure() {
    local log=$1 tf="$work_dir/time.txt"
    shift
    local t0 t1
    t0=$(date +%s%N)
    /usr/bin/time -o "$tf" -f '%U %S %M %x' "$@" >"$log" 2>&1 || true
    t1=$(date +%s%N)
    local ut st rss code
    read -r ut st rss code < <(tail -n 1 "$tf")
    echo "$(((t1 - t0) / 1000000)) $ut $st $rss $code" |
        awk '{ printf "%.3f %s %s %s %s\n", $1 / 1000, $2, $3, $4, $5 }'
}

# write_config FILE SCENARIO POINTS
write_config() {
    local file=$1 scenario=$2 points=$3
    if [ "$queue" != 0 ]; then
        printf 'source_channel_size = %s\noutput_queue_size = %s\n' "$queue" "$queue" >"$file"
    else
        : >"$file"
    fi
    cat >>"$file" <<EOF
output_queue_policy = "block"

[plugins.bench-source]
points_per_poll = $per_poll
total_points = $points
poll_interval = "$interval"
attributes = 2
shutdown_when_done = true
EOF
    if [ "$scenario" = null ]; then
        cat >>"$file" <<EOF

[plugins.bench-null-output]
result_path = "$work_dir/null-result.txt"
EOF
    else
        cat >>"$file" <<EOF

[plugins.csv]
output_path = "$work_dir/output.csv"
force_flush = false
EOF
    fi
}

# run_scenario NAME POINTS PLUGINS: prints one result line per run
# "wall utime stime maxrss" after validating the counts.
results=()
run_scenario() {
    local name=$1 points=$2 plugins=$3
    local cfg="$work_dir/$name.toml" log="$work_dir/$name.log"
    write_config "$cfg" "$name" "$points"
    local walls=() line
    for ((i = 1; i <= repeat; i++)); do
        rm -f "$work_dir/null-result.txt" "$work_dir/output.csv"
        sync # so that writeback of an earlier run does not land in this one
        line=$(measure "$log" env ALUMET_LOG=warn,bench-source=info "${pin[@]}" "$agent" \
            --config "$cfg" --no-default-config --plugin-dir "$plugin_dir" \
            --plugins "$plugins" run)
        read -r wall ut st rss code <<<"$line"
        if [ "$code" != 0 ]; then
            echo "error: scenario '$name': the agent exited with status $code; its log:" >&2
            cat "$log" >&2
            exit 1
        fi
        local got
        if [ "$name" = null ]; then
            got=$(sed -n 's/^points=\([0-9]*\) .*/\1/p' "$work_dir/null-result.txt")
        else
            got=$(($(wc -l <"$work_dir/output.csv") - 1))
        fi
        if [ "$got" != "$points" ]; then
            echo "error: scenario '$name': expected $points points, the output got '$got'" >&2
            cat "$log" >&2
            exit 1
        fi
        echo "  $name run $i/$repeat: ${wall}s wall, ${ut}s user, ${st}s sys, ${rss} KiB," \
            "$got points checked" >&2
        walls+=("$wall $ut $st $rss")
    done
    # median by wall time
    local med
    med=$(printf '%s\n' "${walls[@]}" | sort -n | sed -n "$(((repeat + 1) / 2))p")
    results+=("$name $points $med")
}

echo "agent: $agent" >&2
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)," \
    "$(nproc) online, pinned to: ${cpus:-none}" >&2
if [ -z "$only" ] || [ "$only" = null ]; then
    run_scenario null "$null_points" bench-source,bench-null-output
fi
if [ -z "$only" ] || [ "$only" = csv ]; then
    if "$agent" plugins list 2>/dev/null | grep -qw csv; then
        run_scenario csv "$csv_points" bench-source,csv
    else
        echo "skipping the csv scenario: this agent has no csv plugin" >&2
    fi
fi

echo
printf '| %-22s | %9s | %6s | %10s | %11s | %12s | %8s |\n' scenario points "wall s" \
    points/s "CPU s/Mpt" "points/CPU-s" "RSS MiB"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' "------------------------" "----------:" "-------:" \
    "-----------:" "------------:" "-------------:" "---------:"
for r in "${results[@]}"; do
    read -r name points wall ut st rss <<<"$r"
    case "$name" in
    null) label="bench-source -> null" ;;
    csv) label="bench-source -> csv" ;;
    esac
    awk -v l="$label" -v n="$points" -v w="$wall" -v u="$ut" -v s="$st" -v m="$rss" 'BEGIN {
        cpu = u + s
        printf "| %-22s | %9d | %6.3f | %10.0f | %11.3f | %12.0f | %8.1f |\n",
            l, n, w, n / w, cpu / (n / 1e6), (cpu > 0 ? n / cpu : 0), m / 1024 }'
done
