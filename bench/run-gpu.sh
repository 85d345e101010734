#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# GPU source benchmark: the CPU cost of one poll of the nvml and amd-gpu
# sources, on the stub libraries of tests/fixtures/ scripted with 8 GPUs of
# 100 processes each (every process listed, with its utilisation sample or
# GFX time at every poll), full mode, per-process energy on. The stubs answer
# from memory, so the figure is the plugin's own cost (and the pipeline's,
# into bench-null-output); a real driver's ioctls come on top.
#
# Each run is `alumet-agent --plugins <gpu>,bench-null-output run`, stopped by
# SIGTERM after a fixed time (timeout); the stub counts its calls and writes
# the counts when it is unloaded (NVML_STUB_CALLS, AMD_SMI_STUB_CALLS), which
# gives the exact number of polls. A baseline run of the same length with no
# GPU source (bench-null-output only) gives the startup, idle and shutdown
# cost, subtracted. CPU time: bash's `time` (getrusage of the children, 1 ms
# resolution); peak RSS: GNU time (wait4). See bench/README.md.

set -euo pipefail

usage() {
    cat <<EOF
Usage: $0 [OPTIONS]

  --build-dir DIR        build directory (default: <source>/build-bench, release)
  --no-build             do not run meson/ninja (the build dir must be up to date)
  --devices N            GPUs scripted in the stubs (default 8, at most 8)
  --procs N              processes per GPU (default 100, at most 128)
  --duration S           seconds per run (default 5)
  --poll-interval D      the plugins' poll_interval (default "10ms")
  --flush-interval D     the plugins' flush_interval (default "100ms")
  --cpus LIST            CPUs for taskset (default 0); "" runs unpinned
  --repeat K             runs per scenario, interleaved; the run with the median
                         CPU time per poll is reported (default 3)
  --only LIST            comma-separated among nvml,amd-gpu (default: both)
  --work-dir DIR         where the scripts, configs and logs go (default: a new
                         directory under \${TMPDIR:-/tmp}, removed at the end)
  -h, --help             this text
EOF
}

src_dir=$(cd "$(dirname "$0")/.." && pwd)
. "$src_dir/bench/lib.sh"
build_dir="$src_dir/build-bench"
do_build=1
n_dev=8
n_proc=100
duration=5
interval=10ms
flush=100ms
cpus=0
repeat=3
only=nvml,amd-gpu
work_dir=

while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir) build_dir=$2; shift ;;
    --no-build) do_build=0 ;;
    --devices) n_dev=$2; shift ;;
    --procs) n_proc=$2; shift ;;
    --duration) duration=$2; shift ;;
    --poll-interval) interval=$2; shift ;;
    --flush-interval) flush=$2; shift ;;
    --cpus) cpus=$2; shift ;;
    --repeat) repeat=$2; shift ;;
    --only) only=$2; shift ;;
    --work-dir) work_dir=$2; shift ;;
    -h | --help) usage; exit 0 ;;
    *) bench_bad_option "$1" ;;
    esac
    shift
done

if ! [ "$n_dev" -ge 1 ] 2>/dev/null || [ "$n_dev" -gt 8 ] ||
    ! [ "$n_proc" -ge 1 ] 2>/dev/null || [ "$n_proc" -gt 128 ] ||
    ! [ "$duration" -ge 1 ] 2>/dev/null || ! [ "$repeat" -ge 1 ] 2>/dev/null; then
    echo "error: --devices 1..8, --procs 1..128, --duration >= 1 and --repeat >= 1" >&2
    exit 2
fi

bench_maybe_build "$do_build" "$build_dir" "$src_dir"
agent="$build_dir/src/agent/alumet-agent"
plugin_dir="$build_dir/bench"
nvml_stub="$build_dir/plugins/nvidia-nvml/tests/libnvml-stub.so"
amd_stub="$build_dir/plugins/amd-gpu/tests/libamd-smi-stub.so"
bench_require "$agent" "$plugin_dir/bench-null-output.so"

scenarios=()
IFS=, read -r -a wanted <<<"$only"
for s in "${wanted[@]}"; do
    case "$s" in
    nvml) stub=$nvml_stub ;;
    amd-gpu) stub=$amd_stub ;;
    *) echo "error: unknown scenario '$s' (nvml, amd-gpu)" >&2; exit 2 ;;
    esac
    if ! "$agent" plugins list 2>/dev/null | grep -qw "$s"; then
        echo "skipping $s: this agent lacks the plugin" >&2
    elif [ ! -e "$stub" ]; then
        echo "skipping $s: its stub '$stub' is not built (tests disabled?)" >&2
    else
        scenarios+=("$s")
    fi
done
if [ "${#scenarios[@]}" = 0 ]; then
    echo "skipping: no GPU scenario can run" >&2
    exit 77 # "skipped" for meson test
fi

bench_work_dir alumet-gpu-bench
trap '[ -z "$cleanup_dir" ] || rm -rf -- "$cleanup_dir"' EXIT

pin=()
if [ -n "$cpus" ]; then pin=(taskset -c "$cpus"); fi

# ---- the stub scripts ------------------------------------------------------
# GPU i: 100 compute processes (pid 10000 + 1000 i + j, 64 MiB each) with a
# utilisation sample each (SM 1 to 99 %); energy +600 mJ per read, so every
# poll ends an energy interval and splits it.
write_nvml_script() {
    awk -v nd="$n_dev" -v np="$n_proc" 'BEGIN {
        printf "devices %d\n", nd
        for (i = 0; i < nd; i++) {
            printf "device %d\nname NVIDIA H200\nbus 00000000:%02X:00.0\n", i, 16 + i
            printf "energy 1000 600\npower 300000\ntemperature 60\nutilization 80 40\n"
            printf "memory 1000 0 150000000000 149999999000\nencoder 0 10000\ndecoder 0 10000\n"
            printf "clocks 1980 1980 2619 1755\n"
            for (j = 0; j < np; j++)
                printf "compute %d 67108864 - -\n", 10000 + 1000 * i + j
            for (j = 0; j < np; j++)
                printf "sample %d %d %d 0 0\n", 10000 + 1000 * i + j, 1 + j % 99, j % 50
        }
    }' >"$work_dir/nvml-stub.script"
}

# GPU i: 100 processes using the GFX engine (1 to 100 ms per s, following the
# stub's monotonic clock), energy at 300 W on the same clock.
write_amd_script() {
    awk -v nd="$n_dev" -v np="$n_proc" 'BEGIN {
        printf "devices %d\n", nd
        for (i = 0; i < nd; i++) {
            printf "device %d\nuuid %08x-0000-1000-8000-00000000%04x\n", i, i + 1, i
            printf "activity 80 30 0\ncu 304\nenergy_power 300 15.3\npower 300\nvoltage 850\n"
            printf "memory 4096 8192\ntemperature 0 45\ntemperature 1 60\n"
            for (j = 0; j < np; j++)
                printf "process %d worker%d 1048576 0 0 4096 0 1044480 %d %d\n",
                    10000 + 1000 * i + j, j, 1 + j % 304, 1000000 * (1 + j % 100)
        }
    }' >"$work_dir/amd-stub.script"
}

# write_config FILE SCENARIO
write_config() {
    local file=$1 s=$2
    cat >"$file" <<EOF
[plugins.bench-null-output]
result_path = "$work_dir/null-result.txt"
EOF
    case "$s" in
    nvml)
        cat >>"$file" <<EOF

[plugins.nvml]
poll_interval = "$interval"
flush_interval = "$flush"
mode = "full"
process_energy = true
library = "$nvml_stub"
EOF
        ;;
    amd-gpu)
        cat >>"$file" <<EOF

[plugins.amd-gpu]
poll_interval = "$interval"
flush_interval = "$flush"
process_energy = true
library = "$amd_stub"
EOF
        ;;
    esac
}

# run_one SCENARIO: one run of $duration s; sets result to
# "cpu_s maxrss_kib points polls" (polls: device polls, all GPUs together)
run_one() {
    local s=$1 plugins=bench-null-output
    [ "$s" = base ] || plugins=$s,bench-null-output
    local log="$work_dir/$s.log" calls="$work_dir/$s.calls"
    rm -f "$work_dir/null-result.txt" "$calls" "$work_dir/time.txt" "$work_dir/cpu.txt"
    local TIMEFORMAT='%3U %3S'
    {
        time env ALUMET_LOG=warn NVML_STUB_SCRIPT="$work_dir/nvml-stub.script" \
            NVML_STUB_CALLS="$calls" AMD_SMI_STUB_SCRIPT="$work_dir/amd-stub.script" \
            AMD_SMI_STUB_CALLS="$calls" /usr/bin/time -o "$work_dir/time.txt" -f '%M %x' \
            "${pin[@]}" timeout --preserve-status -s TERM "$duration" "$agent" \
            --config "$work_dir/$s.toml" --no-default-config --plugin-dir "$plugin_dir" \
            --plugins "$plugins" run </dev/null >"$log" 2>&1 || true
    } 2>"$work_dir/cpu.txt"
    local rss code ut st
    read -r rss code < <(tail -n 1 "$work_dir/time.txt")
    read -r ut st <"$work_dir/cpu.txt"
    if [ "$code" != 0 ]; then
        echo "error: scenario '$s': the agent exited with status $code; its log:" >&2
        tail -n 30 "$log" >&2
        exit 1
    fi
    if grep -q ' WARN \| ERROR ' "$log"; then
        echo "error: scenario '$s': the agent logged warnings or errors:" >&2
        grep ' WARN \| ERROR ' "$log" | head -n 10 >&2
        exit 1
    fi
    local points polls=0
    points=$(sed -n 's/^points=\([0-9]*\) .*/\1/p' "$work_dir/null-result.txt")
    if [ -z "$points" ]; then
        echo "error: scenario '$s': bench-null-output wrote no result" >&2
        exit 1
    fi
    if [ "$s" != base ]; then
        # a device poll reads the energy once; the probe at start once more
        polls=$(awk -v nd="$n_dev" '$1 == "calls" && $3 == "energy" { n++; p += $4 - 1 }
            END { if (n != nd) exit 1; print p }' "$calls") || {
            echo "error: scenario '$s': the stub's call counts ($calls) lack the" \
                "energy reads of $n_dev GPUs" >&2
            exit 1
        }
        if [ "$points" = 0 ] || [ "$polls" -lt "$n_dev" ]; then
            echo "error: scenario '$s': $points points in $polls polls" >&2
            exit 1
        fi
    fi
    result="$(awk -v u="$ut" -v s="$st" 'BEGIN { printf "%.3f", u + s }') $rss $points $polls"
}

echo "agent: $agent" >&2
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)," \
    "$(nproc) online, pinned to: ${cpus:-none}" >&2
echo "$n_dev GPUs x $n_proc processes, poll_interval $interval, flush_interval $flush," \
    "${duration} s per run, $repeat run(s) per scenario" >&2
write_nvml_script
write_amd_script
declare -A runs
for s in base "${scenarios[@]}"; do
    write_config "$work_dir/$s.toml" "$s"
done
for ((r = 1; r <= repeat; r++)); do
    for s in base "${scenarios[@]}"; do
        run_one "$s"
        read -r cpu rss points polls <<<"$result"
        echo "  $s run $r/$repeat: $cpu CPU s, peak RSS $rss KiB, $points points," \
            "$polls device polls" >&2
        runs[$s]+="$result"$'\n'
    done
done

# median run: by CPU time per device poll (by CPU time for the baseline)
median() {
    printf '%s' "${runs[$1]}" | awk '{ print ($4 > 0 ? $1 / $4 : $1), $0 }' | sort -g |
        sed -n "$(((repeat + 1) / 2))p" | cut -d' ' -f2-
}
read -r base_cpu base_rss _ _ <<<"$(median base)"
echo
echo "baseline (no GPU source, ${duration} s): $base_cpu CPU s, peak RSS $base_rss KiB"
echo
printf '| %-8s | %6s | %8s | %6s | %11s | %13s | %12s | %12s | %7s |\n' source polls \
    "dev polls" "CPU s" "µs/poll" "µs/dev-poll" "points/poll" "points/CPU-s" "RSS MiB"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' "----------" "-------:" "----------:" "-------:" \
    "------------:" "--------------:" "-------------:" "-------------:" "--------:"
for s in "${scenarios[@]}"; do
    read -r cpu rss points polls <<<"$(median "$s")"
    awk -v n="$s" -v c="$cpu" -v b="$base_cpu" -v m="$rss" -v pt="$points" -v dp="$polls" \
        -v nd="$n_dev" 'BEGIN {
        net = c - b; p = dp / nd
        printf "| %-8s | %6d | %8d | %6.3f | %11.1f | %13.2f | %12.0f | %12.0f | %7.1f |\n",
            n, p, dp, net, 1e6 * net / p, 1e6 * net / dp, pt / p, (net > 0 ? pt / net : 0),
            m / 1024 }'
done
echo
echo "(CPU s: the run minus the baseline; a poll reads all $n_dev GPUs; a dev-poll is one GPU)"
