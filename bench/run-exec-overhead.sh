#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Wall-time overhead of `alumet-agent exec true`: how much later than a bare
# `true` the command is done, with the configuration that `config regen`
# writes (every built-in plugin with its defaults) and with the csv plugin
# only, side by side with bare `true` and with the peers that also wrap a
# program to measure it (`perf stat`, GNU `time`). Each command runs --runs
# times, interleaved (one of each per round, the order rotating), after
# --warmup rounds; the table gives mean, p50, p95 and min, and the overhead
# over bare `true`. Target: the default configuration < 50 ms over bare
# `true` (mean). See bench/README.md.

set -euo pipefail

usage() {
    cat <<EOF
Usage: $0 [OPTIONS]

  --build-dir DIR      build directory (default: <source>/build-bench, release)
  --no-build           do not run meson/ninja (the build dir must be up to date)
  --runs N             timed runs of each command (default 30)
  --warmup N           untimed rounds first (default 3)
  --idle N             start N idle processes (sleep) first, to imitate a busy
                       machine: every process is one more for a scan of /proc
                       (default 0)
  --program PROG       the program that exec runs (default: true)
  --work-dir DIR       where the configs, CSV files and logs go (default: a new
                       directory under \${TMPDIR:-/tmp}, removed at the end)
  -h, --help           this text
EOF
}

src_dir=$(cd "$(dirname "$0")/.." && pwd)
. "$src_dir/bench/lib.sh"
build_dir="$src_dir/build-bench"
do_build=1
runs=30
warmup=3
n_idle=0
program=true
work_dir=

while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir) build_dir=$2; shift ;;
    --no-build) do_build=0 ;;
    --runs) runs=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --idle) n_idle=$2; shift ;;
    --program) program=$2; shift ;;
    --work-dir) work_dir=$2; shift ;;
    -h | --help) usage; exit 0 ;;
    *) bench_bad_option "$1" ;;
    esac
    shift
done
for v in "$runs" "$warmup" "$n_idle"; do
    if ! [ "$v" -ge 0 ] 2>/dev/null; then
        echo "error: --runs, --warmup and --idle take integers >= 0" >&2
        exit 2
    fi
done
if [ "$runs" -lt 1 ]; then
    echo "error: --runs must be at least 1" >&2
    exit 2
fi
prog_path=$(command -v "$program" || true)
if [ -z "$prog_path" ]; then
    echo "error: program '$program' not found" >&2
    exit 2
fi
if ! command -v python3 >/dev/null; then
    echo "skipping: python3 (the timer) is not installed" >&2
    exit 77
fi

# ---- build ------------------------------------------------------------------
agent="$build_dir/src/agent/alumet-agent"
bench_maybe_build "$do_build" "$build_dir" "$src_dir"
bench_require "$agent"
agent=$(cd "$(dirname "$agent")" && pwd)/alumet-agent
if ! "$agent" plugins list 2>/dev/null | grep -qw csv; then
    echo "skipping: this agent lacks the csv plugin" >&2
    exit 77 # "skipped" for meson test
fi

# ---- work dir, idle processes, cleanup ----------------------------------------
bench_work_dir alumet-exec-overhead
idle_pgid=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$idle_pgid" ]; then kill -TERM -- "-$idle_pgid" 2>/dev/null || true; fi
    wait 2>/dev/null || true
    if [ -n "$cleanup_dir" ]; then rm -rf -- "$cleanup_dir"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$n_idle" -gt 0 ]; then
    # one process group, so that cleanup ends them all
    setsid bash -c 'for ((i = 0; i < $1; i++)); do sleep 100000 & done; wait' _ "$n_idle" &
    idle_pgid=$!
    for _ in $(seq 100); do
        [ "$(pgrep -c -g "$idle_pgid" 2>/dev/null || echo 0)" -gt "$n_idle" ] && break
        sleep 0.1
    done
fi

# ---- the commands -------------------------------------------------------------
# default: the generated configuration, as a user gets it on first run
mkdir -p "$work_dir/default" "$work_dir/csv" "$work_dir/watcher"
(cd "$work_dir/default" && "$agent" config regen >/dev/null 2>&1)
cp "$work_dir/default/alumet-config.toml" "$work_dir/watcher/alumet-config.toml"
cp "$work_dir/default/alumet-config.toml" "$work_dir/csv/alumet-config.toml"
echo "machine: $(nproc) CPUs, $(ls /proc | grep -c '^[0-9]') processes," \
    "agent $agent" >&2

# name, directory, command... (one line each, fields separated by tabs)
commands="bare	$work_dir	@PROG@"
if [ -x /usr/bin/time ]; then
    commands+=$'\n'"GNU time	$work_dir	/usr/bin/time -o $work_dir/time.txt @PROG@"
fi
if command -v perf >/dev/null && perf stat -x, -e task-clock -o /dev/null true 2>/dev/null; then
    commands+=$'\n'"perf stat	$work_dir	$(command -v perf) stat -x, -e task-clock -o $work_dir/perf.txt @PROG@"
fi
commands+=$'\n'"agent --plugins csv	$work_dir/csv	$agent --plugins csv exec @PROG@"
commands+=$'\n'"agent (default config)	$work_dir/default	$agent exec @PROG@"
# upstream's behaviour (the watcher lists /proc and measures every process),
# with an agent that has the option
if grep -q '^exec_strategy = ' "$work_dir/watcher/alumet-config.toml"; then
    sed -i 's/^exec_strategy = .*/exec_strategy = "watcher"/' "$work_dir/watcher/alumet-config.toml"
    commands+=$'\n'"agent (default, exec_strategy=watcher)	$work_dir/watcher	$agent exec @PROG@"
fi

# ---- timing -------------------------------------------------------------------
# Two passes, interleaved as above: the wall time of each command with the
# program; then (when bash is there) when the program starts: bash runs
# instead and writes $EPOCHREALTIME first thing; the delay from the spawn of
# the command to it, minus the same for bare bash, is how much later the
# program starts under the command ("starts +p50 ms").
RUNS=$runs WARMUP=$warmup COMMANDS=$commands PROG=$prog_path BASH=$(command -v bash || true) \
    python3 - <<'EOF'
import math
import os
import shlex
import subprocess
import sys
import time

runs = int(os.environ["RUNS"])
warmup = int(os.environ["WARMUP"])
cmds = []
for line in os.environ["COMMANDS"].splitlines():
    name, cwd, cmd = line.split("\t")
    cmds.append((name, cwd, shlex.split(cmd)))


def argv_of(argv, prog):
    i = argv.index("@PROG@")
    return argv[:i] + prog + argv[i + 1:]


def once(cwd, argv):
    t0 = time.time_ns()
    p = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    t1 = time.time_ns()
    if p.returncode != 0:
        sys.exit("error: %s exited with %d:\n%s" % (" ".join(argv), p.returncode,
                                                    p.stderr.decode(errors="replace")[-3000:]))
    return t0, t1


def measure(prog, start_file=None):
    times = {name: [] for name, _, _ in cmds}
    for r in range(warmup + runs):
        # one of each per round, the order rotating: load changes hit all alike
        k = r % len(cmds)
        for name, cwd, argv in cmds[k:] + cmds[:k]:
            t0, t1 = once(cwd, argv_of(argv, prog))
            if start_file:
                # $EPOCHREALTIME: seconds with 6 decimals
                with open(start_file) as f:
                    sec, _, usec = f.read().strip().replace(",", ".").partition(".")
                t1 = int(sec) * 10**9 + int(usec.ljust(6, "0")[:6]) * 1000
            if r >= warmup:
                times[name].append((t1 - t0) / 1e6)
    return times


def stats(v):
    s = sorted(v)
    n = len(s)
    p50 = (s[(n - 1) // 2] + s[n // 2]) / 2
    p95 = s[max(0, math.ceil(0.95 * n) - 1)]
    return sum(s) / n, p50, p95, s[0]


wall = measure([os.environ["PROG"]])
start = None
if os.environ["BASH"]:
    start_file = os.path.join(cmds[0][1], "start.txt")
    start = measure([os.environ["BASH"], "-c", 'printf %s "$EPOCHREALTIME" > ' +
                     shlex.quote(start_file)], start_file)

# the CSV files were written: the agents measured something
for name, cwd, argv in cmds:
    if "exec" in argv:
        out = os.path.join(cwd, "alumet-output.csv")
        lines = sum(1 for _ in open(out)) - 1 if os.path.exists(out) else -1
        print("%s: %d CSV rows in the last run" % (name, lines), file=sys.stderr)

base = stats(wall["bare"])
base_start = stats(start["bare"])[1] if start else 0
print()
print("| %-38s | %4s | %8s | %8s | %8s | %8s | %13s | %12s | %15s |" % (
    "command", "runs", "mean ms", "p50 ms", "p95 ms", "min ms", "+mean vs bare", "+p50 vs bare",
    "starts +p50 ms"))
print("|%s|%s|%s|%s|%s|%s|%s|%s|%s|" % (
    "-" * 40, "-" * 5 + ":", "-" * 9 + ":", "-" * 9 + ":", "-" * 9 + ":", "-" * 9 + ":",
    "-" * 14 + ":", "-" * 13 + ":", "-" * 16 + ":"))
for name, _, _ in cmds:
    mean, p50, p95, mn = stats(wall[name])
    st = "%15.2f" % (stats(start[name])[1] - base_start) if start else "%15s" % "-"
    print("| %-38s | %4d | %8.2f | %8.2f | %8.2f | %8.2f | %13.2f | %12.2f | %s |" % (
        name, len(wall[name]), mean, p50, p95, mn, mean - base[0], p50 - base[1], st))
print()
over = stats(wall["agent (default config)"])[0] - base[0]
verdict = "met" if over < 50 else "MISSED"
print("target: agent exec (default config) < 50 ms over bare: %s (%.1f ms)" % (verdict, over),
      file=sys.stderr)
EOF
