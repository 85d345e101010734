#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Overhead benchmark: the real alumet-agent (procfs + csv) monitors every
# process of a busy machine once per second, and so do, one after the other on
# the same workload, `pidstat -u -r -p ALL 1` (sysstat) and collectd (cpu,
# memory, processes, csv), and the syscall floor (bench/procfs-floor.c: only
# the system calls that the same metrics need: per process, and the files of
# the agent's kernel, memory and network sources unless --processes-only). For each tool: its
# own CPU time (the scheduler's count of all its threads, /proc/<pid>/task/*/
# schedstat, in ns) and its peak RSS (VmHWM from
# /proc/<pid>/status), both read just before it is stopped, and how much data
# it wrote. Then the ratios agent/peer. See bench/README.md.

set -euo pipefail

usage() {
    cat <<EOF
Usage: $0 [OPTIONS]

  --build-dir DIR      build directory (default: <source>/build-bench, release)
  --no-build           do not run meson/ninja (the build dir must be up to date)
  --duration S         seconds each tool runs (default 30)
  --warmup S           the steady-state CPU % is measured after this many seconds
                       of each run (default 5); the "CPU s" column is the whole run
  --idle N             idle processes of the workload (default 300)
  --churn N            the workload also starts N short processes per second
                       (\`sleep 0.5\`, in batches every 100 ms; default 0)
  --tools LIST         comma-separated, among agent,floor,pidstat,collectd (default: all)
  --repeat K           runs per tool, interleaved; the run with the median CPU
                       time is reported (default 1)
  --cpus LIST          CPUs (taskset) of the measured tools (default "": unpinned)
  --busy-cpus LIST     CPUs of the busy loop (default "": unpinned)
  --processes-only     the agent measures the processes only (its kernel, memory
                       and network sources off), i.e. the metrics of the floor;
                       by default it also reads /proc/stat, meminfo and net/dev
  --floor-fd-cap N     the floor keeps at most N descriptors open (default: its
                       limit of open files, raised as far as it may, minus 64);
                       the agent's cap is half its limit
  --force-flush BOOL   the agent's csv force_flush (default true: the file is
                       written after every buffer, i.e. every second, like the peers)
  --perf               record the agent with \`perf record -g\` (after the warm-up)
                       and print the top of the profile; use with --work-dir
  --no-install         do not install sysstat/collectd-core when they are missing
                       (the missing tools are skipped)
  --work-dir DIR       where configs, outputs and logs go (default: a new
                       directory under \${TMPDIR:-/tmp}, removed at the end)
  -h, --help           this text
EOF
}

src_dir=$(cd "$(dirname "$0")/.." && pwd)
. "$src_dir/bench/lib.sh"
build_dir="$src_dir/build-bench"
do_build=1
duration=30
warmup=5
n_idle=300
churn=0
tools=agent,floor,pidstat,collectd
repeat=1
cpus=
busy_cpus=
force_flush=true
processes_only=false
floor_fd_cap=
do_perf=0
do_install=1
work_dir=

while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir) build_dir=$2; shift ;;
    --no-build) do_build=0 ;;
    --duration) duration=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --idle) n_idle=$2; shift ;;
    --churn) churn=$2; shift ;;
    --tools) tools=$2; shift ;;
    --repeat) repeat=$2; shift ;;
    --cpus) cpus=$2; shift ;;
    --busy-cpus) busy_cpus=$2; shift ;;
    --force-flush) force_flush=$2; shift ;;
    --processes-only) processes_only=true ;;
    --floor-fd-cap) floor_fd_cap=$2; shift ;;
    --perf) do_perf=1 ;;
    --no-install) do_install=0 ;;
    --work-dir) work_dir=$2; shift ;;
    -h | --help) usage; exit 0 ;;
    *) bench_bad_option "$1" ;;
    esac
    shift
done

if ! [ "$duration" -gt 0 ] 2>/dev/null || ! [ "$warmup" -ge 0 ] 2>/dev/null ||
    [ "$warmup" -ge "$duration" ]; then
    echo "error: --duration and --warmup must be integers with 0 <= warmup < duration" >&2
    exit 2
fi
case "$force_flush" in true | false) ;; *)
    echo "error: --force-flush takes true or false" >&2
    exit 2
    ;;
esac

has_tool() { case ",$tools," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# ---- build ----------------------------------------------------------------
agent="$build_dir/src/agent/alumet-agent"
if has_tool agent; then
    bench_maybe_build "$do_build" "$build_dir" "$src_dir"
    bench_require "$agent"
    if ! "$agent" plugins list 2>/dev/null | grep -qw procfs ||
        ! "$agent" plugins list 2>/dev/null | grep -qw csv; then
        echo "skipping: this agent lacks the procfs or the csv plugin" >&2
        exit 77 # "skipped" for meson test
    fi
fi

floor="$build_dir/bench/procfs-floor"
if has_tool floor; then
    if [ "$do_build" = 1 ] && ! has_tool agent; then
        bench_build "$build_dir" "$src_dir"
    fi
    bench_require "$floor"
fi

# ---- setup: the peers, from Debian packages ---------------------------------
collectd_plugin_dir=/usr/lib/collectd
collectd_types_db=/usr/share/collectd/types.db
peers_ok() {
    local ok=0
    if has_tool pidstat && ! command -v pidstat >/dev/null; then ok=1; fi
    if has_tool collectd; then
        if ! command -v collectd >/dev/null && [ ! -x /usr/sbin/collectd ]; then ok=1; fi
        for p in cpu memory processes csv; do
            [ -e "$collectd_plugin_dir/$p.so" ] || ok=1
        done
    fi
    return $ok
}
# install_peers: apt-get install of the missing packages (root only)
install_peers() {
    # invoke-rc.d consults policy-rc.d: exit status 101 forbids starting the
    # packages' services (collectd's postinst would start the system daemon).
    # A temporary one is put in place only if the system has none.
    echo "setup: installing ${pkgs[*]}" >&2
    local policy=/usr/sbin/policy-rc.d rc=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        own_policy=$policy # removed by cleanup too, if interrupted
    fi
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y --no-install-recommends "${pkgs[@]}" >/dev/null 2>&1 ||
        { apt-get update >/dev/null 2>&1 &&
            apt-get install -y --no-install-recommends "${pkgs[@]}" >/dev/null; }; } || rc=$?
    if [ -n "$own_policy" ]; then
        rm -f "$own_policy"
        own_policy=
    fi
    if [ "$rc" != 0 ]; then
        echo "error: apt-get install ${pkgs[*]} failed" >&2
        exit 1
    fi
}
own_policy=
trap '[ -z "$own_policy" ] || rm -f "$own_policy"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if ! peers_ok && [ "$do_install" = 1 ]; then
    pkgs=()
    has_tool pidstat && ! command -v pidstat >/dev/null && pkgs+=(sysstat)
    has_tool collectd && ! [ -e "$collectd_plugin_dir/processes.so" ] && pkgs+=(collectd-core)
    if [ "$(id -u)" != 0 ]; then
        echo "warning: installing ${pkgs[*]} needs root (apt-get install -y" \
            "--no-install-recommends sysstat collectd-core); the missing tools are skipped" >&2
    else
        install_peers
    fi
fi
collectd_bin=$(command -v collectd || echo /usr/sbin/collectd)
if has_tool pidstat && ! command -v pidstat >/dev/null; then
    echo "warning: pidstat is missing, skipping it" >&2
    tools=${tools//pidstat/}
fi
if has_tool collectd && { [ ! -x "$collectd_bin" ] || [ ! -e "$collectd_plugin_dir/processes.so" ]; }; then
    echo "warning: collectd (with its processes plugin) is missing, skipping it" >&2
    tools=${tools//collectd/}
fi

# ---- work dir, cleanup --------------------------------------------------------
bench_work_dir alumet-overhead
if [ -n "$cleanup_dir" ] && [ "$do_perf" = 1 ]; then
    echo "note: --perf without --work-dir: the profile is printed, then removed" >&2
fi

workload_pgid=
tool_pid=
perf_pid=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$perf_pid" ]; then kill -INT "$perf_pid" 2>/dev/null || true; fi
    if [ -n "$tool_pid" ]; then kill -KILL "$tool_pid" 2>/dev/null || true; fi
    if [ -n "$workload_pgid" ]; then
        kill -TERM -- "-$workload_pgid" 2>/dev/null || true
        sleep 0.2
        kill -KILL -- "-$workload_pgid" 2>/dev/null || true
    fi
    wait 2>/dev/null || true
    if [ -n "$cleanup_dir" ]; then rm -rf -- "$cleanup_dir"; fi
    if [ -n "$own_policy" ]; then rm -f "$own_policy"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pin=()
if [ -n "$cpus" ]; then pin=(taskset -c "$cpus"); fi
clk_tck=1000000000 # proc_ticks counts ns

now_ns() { date +%s%N; }

# proc_ticks PID: the CPU time of the process, all its threads, in ns: the
# sum of the first field of /proc/PID/task/*/schedstat (the scheduler's own
# count, exact, where utime + stime of /proc/PID/stat counts 10 ms ticks).
# None of the tools has children or threads that end before it is read.
proc_ticks() {
    local t v sum=0
    [ -d "/proc/$1/task" ] || return 1
    for t in /proc/"$1"/task/*/schedstat; do
        read -r v _ <"$t" 2>/dev/null || continue
        sum=$((sum + v))
    done
    echo "$sum"
}
# proc_status_kib PID FIELD: a "kB" field of /proc/PID/status
proc_status_kib() {
    awk -v f="$2:" '$1 == f { print $2; exit }' "/proc/$1/status"
}

# sleep_until NS: sleep until the monotonic-enough wall clock reaches NS
sleep_until() {
    local left
    left=$(($1 - $(now_ns)))
    if [ "$left" -gt 0 ]; then
        sleep "$(awk -v n="$left" 'BEGIN { printf "%.3f", n / 1e9 }')"
    fi
}

# ---- the workload ---------------------------------------------------------------
start_workload() {
    rm -f "$work_dir/workload.ready"
    setsid "$src_dir/bench/overhead/workload.sh" "$n_idle" "$work_dir/workload.ready" \
        "$busy_cpus" "$churn" </dev/null >/dev/null 2>&1 &
    local i
    for ((i = 0; i < 300; i++)); do
        [ -e "$work_dir/workload.ready" ] && break
        sleep 0.1
    done
    if [ ! -e "$work_dir/workload.ready" ]; then
        echo "error: the workload did not start" >&2
        exit 1
    fi
    local started
    read -r workload_pgid started <"$work_dir/workload.ready"
    sleep 1
    local running
    running=$(ps -e -o pgid= | awk -v g="$workload_pgid" '$1 == g' | wc -l)
    echo "workload: process group $workload_pgid, $running processes" \
        "($n_idle idle + 1 busy loop + the script; churn: $churn short processes/s), $(find /proc -maxdepth 1 -name '[0-9]*' | wc -l) on the machine" >&2
    if [ "$running" -lt "$started" ]; then
        echo "error: only $running of the $started workload processes run" >&2
        exit 1
    fi
}

# ---- the tools ----------------------------------------------------------------------
write_configs() {
    local system=true
    if [ "$processes_only" = true ]; then system=false; fi
    sed -e "s|@WORK_DIR@|$work_dir|g" -e "s|@FORCE_FLUSH@|$force_flush|g" \
        -e "s|@SYSTEM@|$system|g" \
        "$src_dir/bench/overhead/agent.toml.in" >"$work_dir/agent.toml"
    sed -e "s|@WORK_DIR@|$work_dir|g" -e "s|@PLUGIN_DIR@|$collectd_plugin_dir|g" \
        -e "s|@TYPES_DB@|$collectd_types_db|g" \
        "$src_dir/bench/overhead/collectd.conf.in" >"$work_dir/collectd.conf"
}

# start_tool NAME: starts it in the background, sets tool_pid. The command
# is exec'ed (env, taskset exec too), so tool_pid is the tool's own pid.
start_tool() {
    local name=$1
    case "$name" in
    agent)
        rm -f "$work_dir/agent.csv"
        env ALUMET_LOG=warn "${pin[@]}" "$agent" --config "$work_dir/agent.toml" \
            --no-default-config --plugins procfs,csv run \
            </dev/null >"$work_dir/agent.log" 2>&1 &
        ;;
    pidstat)
        # LC_ALL=C: 24-hour times, "." decimals (the output is parsed below)
        env LC_ALL=C "${pin[@]}" pidstat -u -r -p ALL 1 \
            </dev/null >"$work_dir/pidstat.txt" 2>"$work_dir/pidstat.log" &
        ;;
    floor)
        rm -f "$work_dir/floor.txt"
        # the full configuration's floor reads the system sources' files too
        floor_sys=(--system)
        [ "$processes_only" = true ] && floor_sys=()
        [ -n "$floor_fd_cap" ] && floor_sys+=(--fd-cap "$floor_fd_cap")
        env "${pin[@]}" "$floor" "$work_dir/floor.txt" 1000 "${floor_sys[@]}" </dev/null \
            >"$work_dir/floor.log" 2>&1 &
        ;;
    collectd)
        rm -rf "$work_dir/collectd"
        mkdir -p "$work_dir/collectd/csv"
        env "${pin[@]}" "$collectd_bin" -C "$work_dir/collectd.conf" -f \
            </dev/null >"$work_dir/collectd.out" 2>&1 &
        ;;
    esac
    tool_pid=$!
}

# stop_tool NAME: pidstat flushes its output on SIGINT, the others stop
# cleanly on SIGTERM; SIGKILL after 10 s.
stop_tool() {
    local name=$1 sig=TERM i
    [ "$name" = pidstat ] && sig=INT
    kill -"$sig" "$tool_pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$tool_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$tool_pid" 2>/dev/null; then
        echo "warning: $name did not stop in 10 s, killing it" >&2
        kill -KILL "$tool_pid" 2>/dev/null || true
    fi
    wait "$tool_pid" 2>/dev/null || true
    tool_pid=
}

# count_data NAME: prints "VALUES PROC_SAMPLES DISTINCT_PROCS" of the output
# of the last run, where VALUES counts the numbers written (measured values,
# not identifiers or timestamps), PROC_SAMPLES the (process, interval) pairs
# with per-process CPU and memory, DISTINCT_PROCS the processes seen.
count_data() {
    case "$1" in
    agent)
        # one value per row; a process sample = its memory_usage kind=resident
        # row. "kind" is a column when the first buffer had it, otherwise it
        # is in __late_attributes ("kind=resident").
        awk -F';' '
            NR == 1 {
                for (i = 1; i <= NF; i++) {
                    if ($i == "kind") k = i
                    if ($i == "consumer_kind") ck = i
                    if ($i == "consumer_id") c = i
                }
                next
            }
            { v++ }
            $ck == "process" && $1 ~ /^memory_usage/ &&
                ((k && $k == "resident") || $NF ~ /(^|,)kind=resident(,|$)/) { s++; seen[$c] = 1 }
            END { n = 0; for (p in seen) n++; printf "%d %d %d\n", v, s, n }' "$work_dir/agent.csv"
        ;;
    pidstat)
        # -u lines: %usr %system %guest %wait %CPU CPU (6 values);
        # -r lines: minflt/s majflt/s VSZ RSS %MEM (5 values). "Average:" excluded.
        awk '
            $1 !~ /^[0-9][0-9]:[0-9][0-9]:[0-9][0-9]$/ { next }
            /%usr/ { sec = "u"; next }
            /minflt/ { sec = "r"; next }
            sec == "u" { v += 6 }
            sec == "r" { v += 5; s++; seen[$3] = 1 }
            END { n = 0; for (p in seen) n++; printf "%d %d %d\n", v, s, n }' "$work_dir/pidstat.txt"
        ;;
    floor)
        # "samples S procs P by_path B polls N": one value per process sample
        awk '{ printf "%d %d %d\n", $2, $2, $4 }' "$work_dir/floor.txt"
        ;;
    collectd)
        # one file per series and day: "epoch,value[,value...]" rows after a header
        local v=0 f
        while IFS= read -r -d '' f; do
            v=$((v + $(awk -F, 'NR > 1 { v += NF - 1 } END { print v + 0 }' "$f")))
        done < <(find "$work_dir/collectd/csv" -type f -print0)
        echo "$v 0 0"
        ;;
    esac
}

# check_output NAME: fails when the tool wrote no data
check_output() {
    local name=$1 values=$2
    if [ "$values" -le 0 ]; then
        echo "error: $name produced no data; its files:" >&2
        ls -lR "$work_dir" >&2
        for f in agent.log pidstat.log collectd.out collectd/collectd.log; do
            [ -s "$work_dir/$f" ] && { echo "--- $f" >&2; tail -n 20 "$work_dir/$f" >&2; }
        done
        exit 1
    fi
}

# run_tool NAME ROUND: runs the tool once (not in a subshell: the cleanup
# trap must see tool_pid) and sets result to
#   name cpu_ticks_total steady_ticks steady_ns peak_kib end_rss_kib threads values samples procs
#   warm_rss_kib (VmRSS after the warm-up)
run_tool() {
    local name=$1 round=$2 values samples procs hwm rss thr
    sync
    local t0 t1 t2 k1 k2 rss1
    t0=$(now_ns)
    start_tool "$name"
    sleep_until $((t0 + warmup * 1000000000))
    if ! k1=$(proc_ticks "$tool_pid"); then
        echo "error: $name ended early; see $work_dir" >&2
        exit 1
    fi
    t1=$(now_ns)
    rss1=$(proc_status_kib "$tool_pid" VmRSS)
    if [ "$do_perf" = 1 ] && [ "$name" = agent ]; then
        perf record -g -F 2999 -p "$tool_pid" -o "$work_dir/perf.data" \
            >"$work_dir/perf-record.log" 2>&1 &
        perf_pid=$!
    fi
    sleep_until $((t0 + duration * 1000000000))
    if [ -n "$perf_pid" ]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
        perf_pid=
    fi
    if ! k2=$(proc_ticks "$tool_pid"); then
        echo "error: $name ended early; see $work_dir" >&2
        exit 1
    fi
    t2=$(now_ns)
    hwm=$(proc_status_kib "$tool_pid" VmHWM)
    rss=$(proc_status_kib "$tool_pid" VmRSS)
    thr=$(awk '$1 == "Threads:" { print $2 }' "/proc/$tool_pid/status")
    cat "/proc/$tool_pid/status" >"$work_dir/$name.status.$round"
    cat "/proc/$tool_pid/smaps_rollup" >"$work_dir/$name.smaps_rollup.$round" 2>/dev/null || true
    cat "/proc/$tool_pid/smaps" >"$work_dir/$name.smaps.$round" 2>/dev/null || true
    stop_tool "$name"
    local counts
    counts=$(count_data "$name")
    read -r values samples procs <<<"$counts"
    check_output "$name" "$values"
    if [ "$name" != collectd ] && [ "$procs" -lt "$n_idle" ]; then
        echo "error: $name reported $procs processes, fewer than the $n_idle idle ones" >&2
        exit 1
    fi
    echo "  $name run $round/$repeat: $(awk -v t="$k2" -v c="$clk_tck" 'BEGIN { printf "%.3f", t / c }') CPU s," \
        "peak RSS ${hwm} KiB, RSS ${rss1} KiB after the warm-up and ${rss} KiB at the end," \
        "$thr threads, $values values, $samples process samples," \
        "$procs processes" >&2
    result="$name $k2 $((k2 - k1)) $((t2 - t1)) $hwm $rss $thr $values $samples $procs $rss1"
}

# ---- main --------------------------------------------------------------------------
IFS=, read -r -a tool_list <<<"$tools"
sel=()
for t in "${tool_list[@]}"; do
    case "$t" in
    agent | floor | pidstat | collectd) sel+=("$t") ;;
    "") ;;
    *) echo "error: unknown tool '$t'" >&2; exit 2 ;;
    esac
done
if [ "${#sel[@]}" = 0 ]; then
    echo "error: no tool to run" >&2
    exit 1
fi

echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(nproc) online;" \
    "tools pinned to: ${cpus:-none}, busy loop pinned to: ${busy_cpus:-none}" >&2
echo "each tool runs ${duration} s (steady state after ${warmup} s), once per second;" \
    "$repeat run(s) each" >&2
has_tool agent && echo "agent: $agent" >&2
write_configs
start_workload

declare -A runs
for ((r = 1; r <= repeat; r++)); do
    for t in "${sel[@]}"; do
        run_tool "$t" "$r"
        runs[$t]+="$result"$'\n'
    done
done

if [ "$do_perf" = 1 ] && [ -s "$work_dir/perf.data" ]; then
    echo "--- perf report (agent, last run; $work_dir/perf.data)" >&2
    echo "by shared object:" >&2
    perf report -i "$work_dir/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null |
        grep '%' | grep -v '^#' | head -n 8 >&2 || true
    echo "by function (self):" >&2
    perf report -i "$work_dir/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null |
        grep '%' | grep -v '^#' | head -n 30 >&2 || true
    echo "user-space functions and system-call wrappers, with what they call (children):" >&2
    perf report -i "$work_dir/perf.data" --children --sort sym --stdio -g none 2>/dev/null |
        grep '%' | grep -v '^#' | grep -v '\[k\]' | grep -v '\] 0x' | head -n 20 >&2 || true
fi

# median run of each tool by total CPU time
declare -A med
for t in "${sel[@]}"; do
    med[$t]=$(printf '%s' "${runs[$t]}" | sort -k2,2n | sed -n "$(((repeat + 1) / 2))p")
done

echo
printf '| %-8s | %5s | %6s | %6s | %8s | %7s | %7s | %8s | %12s | %7s | %-12s |\n' tool \
    "dur s" "CPU s" "CPU %" "steady %" "RSS MiB" threads "values/s" "values/CPU-s" "procs/s" \
    "process data"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' "----------" "------:" "-------:" "-------:" \
    "---------:" "--------:" "--------:" "---------:" "-------------:" "--------:" "--------------"
for t in "${sel[@]}"; do
    read -r name k2 dk dns hwm rss thr values samples procs <<<"${med[$t]}"
    case "$t" in
    agent) what="per process" ;;
    pidstat) what="per process" ;;
    floor) what="reads only" ;;
    collectd) what="1 aggregate" ;;
    esac
    awk -v n="$t" -v d="$duration" -v k="$k2" -v dk="$dk" -v dns="$dns" -v c="$clk_tck" \
        -v m="$hwm" -v th="$thr" -v v="$values" -v s="$samples" -v w="$what" 'BEGIN {
        printf "| %-8s | %5d | %6.3f | %6.3f | %8.2f | %7.2f | %7d | %8.0f | %12.0f | %7.1f | %-12s |\n",
            n, d, k / c, 100 * k / c / d, 100 * dk / c / (dns / 1e9), m / 1024, th, v / d,
            (k > 0 ? v / (k / c) : 0), s / d, w }'
done

if has_tool agent && [ "${#sel[@]}" -gt 1 ]; then
    echo
    printf '| %-18s | %9s | %12s | %9s | %11s |\n' "ratio agent/peer" "CPU s" "steady CPU" \
        "peak RSS" "values/s"
    printf '|%s|%s|%s|%s|%s|\n' "--------------------" "----------:" "-------------:" \
        "----------:" "------------:"
    read -r _ ak ad ans ahwm _ _ av _ _ <<<"${med[agent]}"
    for t in "${sel[@]}"; do
        [ "$t" = agent ] && continue
        read -r _ pk pd pns phwm _ _ pv _ _ <<<"${med[$t]}"
        awk -v n="agent/$t" -v ak="$ak" -v pk="$pk" -v ad="$ad" -v ans="$ans" -v pd="$pd" \
            -v pns="$pns" -v am="$ahwm" -v pm="$phwm" -v av="$av" -v pv="$pv" 'BEGIN {
            as = ad / ans; ps = pd / pns
            printf "| %-18s | %9.2f | %12.2f | %9.2f | %11.2f |\n", n,
                (pk > 0 ? ak / pk : 0), (ps > 0 ? as / ps : 0), (pm > 0 ? am / pm : 0),
                (pv > 0 ? av / pv : 0) }'
    done
    echo
    read -r _ ak _ _ ahwm _ _ _ _ _ <<<"${med[agent]}"
    verdict=met
    for t in "${sel[@]}"; do
        [ "$t" = agent ] && continue
        read -r _ pk _ _ _ _ _ _ _ _ <<<"${med[$t]}"
        # the floor: <= 1.2 times; the peers: <= 0.4 times
        if [ "$t" = floor ]; then
            num=5 den=6 what="1.2 x"
        else
            num=5 den=2 what="0.4 x"
        fi
        if [ $((num * ak)) -gt $((den * pk)) ]; then
            echo "target: agent CPU <= $what $t: MISSED" >&2
            verdict=missed
        else
            echo "target: agent CPU <= $what $t: met" >&2
        fi
    done
    if [ "$ahwm" -lt 8192 ]; then
        echo "target: agent peak RSS < 8 MiB: met (${ahwm} KiB)" >&2
    else
        echo "target: agent peak RSS < 8 MiB: MISSED (${ahwm} KiB)" >&2
        verdict=missed
    fi
    echo "targets: $verdict" >&2
fi
