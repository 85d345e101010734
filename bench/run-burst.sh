#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Memory after a burst of processes: the real alumet-agent monitors every
# process once per second (bench/overhead/agent.toml.in: procfs watcher, one
# group accepting every process, system sources, csv output), then N more
# processes appear for a while and end, several times. The agent's VmRSS is
# read before each burst, during it and after it; the target is that RSS
# comes back (after - before within +-1 MiB). See bench/README.md.

set -euo pipefail

usage() {
    cat <<EOF2
Usage: $0 [OPTIONS]

  --build-dir DIR   build directory (default: <source>/build-bench, release)
  --no-build        do not run meson/ninja (the build dir must be up to date)
  --agent PATH      run this alumet-agent instead of the build dir's (A/B)
  --burst N         processes of each burst (default 2000)
  --hold S          seconds each burst lasts (default 10)
  --settle S        seconds after the start and after each burst before RSS
                    is read (default 15)
  --rounds K        bursts (default 3)
  --work-dir DIR    where the config, CSV and logs go (default: a new
                    directory under \${TMPDIR:-/tmp}, removed at the end)
  -h, --help        this text
EOF2
}

src_dir=$(cd "$(dirname "$0")/.." && pwd)
. "$src_dir/bench/lib.sh"
build_dir="$src_dir/build-bench"
do_build=1
burst=2000
hold=10
settle=15
rounds=3
work_dir=
agent=
while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir) build_dir=$2; shift ;;
    --no-build) do_build=0 ;;
    --agent) agent=$2; do_build=0; shift ;;
    --burst) burst=$2; shift ;;
    --hold) hold=$2; shift ;;
    --settle) settle=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --work-dir) work_dir=$2; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "error: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

[ "$do_build" = 1 ] && bench_build "$build_dir" "$src_dir"
agent=${agent:-$build_dir/src/agent/alumet-agent}
bench_require "$agent"
# the test helper forks N pause() children quickly; else N `sleep`
spawner="$build_dir/plugins/procfs/tests/spawn-pausers"
bench_work_dir alumet-burst

agent_pid=
burst_pid=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ -z "$burst_pid" ] || kill -KILL -- "-$burst_pid" 2>/dev/null || true
    [ -z "$agent_pid" ] || kill -KILL "$agent_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    [ -z "$cleanup_dir" ] || rm -rf -- "$cleanup_dir"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rss() { awk -v f="$2:" '$1 == f { print $2; exit }' "/proc/$1/status"; }
procs() { find /proc -maxdepth 1 -name '[0-9]*' 2>/dev/null | wc -l; }

sed -e "s|@WORK_DIR@|$work_dir|g" -e "s|@FORCE_FLUSH@|true|g" -e "s|@SYSTEM@|true|g" \
    "$src_dir/bench/overhead/agent.toml.in" >"$work_dir/agent.toml"
env ALUMET_LOG=warn "$agent" --config "$work_dir/agent.toml" --no-default-config \
    --plugins procfs,csv run </dev/null >"$work_dir/agent.log" 2>&1 &
agent_pid=$!
echo "agent $agent_pid: $agent; bursts of $burst processes for ${hold} s, RSS read ${settle} s" \
    "after each; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
sleep "$settle"

printf '| round | procs before | RSS before KiB | procs during | RSS during KiB | RSS after KiB | after - before KiB | VmHWM KiB |\n'
printf '|---:|---:|---:|---:|---:|---:|---:|---:|\n'
first=$(rss "$agent_pid" VmRSS)
worst=0
for ((r = 1; r <= rounds; r++)); do
    before=$(rss "$agent_pid" VmRSS)
    pb=$(procs)
    if [ -x "$spawner" ]; then
        # the helper holds its children until end of file on its input
        setsid bash -c 'sleep 86400 | exec "$0" "$1"' "$spawner" "$burst" \
            </dev/null >"$work_dir/spawn.out" 2>&1 &
    else
        setsid bash -c "for ((i = 0; i < $burst; i++)); do sleep 86400 & done; wait" \
            </dev/null >/dev/null 2>&1 &
    fi
    burst_pid=$!
    sleep "$hold"
    pd=$(procs)
    during=$(rss "$agent_pid" VmRSS)
    kill -KILL -- "-$burst_pid" 2>/dev/null || true
    wait "$burst_pid" 2>/dev/null || true
    burst_pid=
    sleep "$settle"
    after=$(rss "$agent_pid" VmRSS)
    hwm=$(rss "$agent_pid" VmHWM)
    d=$((after - before))
    [ "${d#-}" -gt "$worst" ] && worst=${d#-}
    printf '| %d | %d | %d | %d | %d | %d | %+d | %d |\n' "$r" "$pb" "$before" "$pd" "$during" \
        "$after" "$d" "$hwm"
done
last=$(rss "$agent_pid" VmRSS)
kill -TERM "$agent_pid"
wait "$agent_pid" || { echo "error: the agent exited with status $?" >&2; exit 1; }
agent_pid=
echo "RSS at the start ${first} KiB, at the end ${last} KiB ($((last - first)) KiB);" \
    "largest after - before: ${worst} KiB" >&2
if [ "$worst" -le 1024 ] && [ $(((last - first) * (last > first ? 1 : -1))) -le 1024 ]; then
    echo "target: RSS back within 1 MiB after each burst: met" >&2
else
    echo "target: RSS back within 1 MiB after each burst: MISSED" >&2
fi
