#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Workload of the overhead benchmark (bench/run-overhead.sh): N idle processes
# (`sleep`) and one CPU-bound process (a shell busy loop), all in the process
# group of this script, which run-overhead.sh starts as the leader of a new
# session (`setsid`), so that `kill -- -PGID` ends all of them at once.
#
# Usage: workload.sh N_IDLE READY_FILE [BUSY_CPUS [CHURN]]
#   N_IDLE      number of idle processes
#   READY_FILE  written with "PGID N_STARTED" once every process is started
#   BUSY_CPUS   optional CPU list for `taskset` of the busy loop ("" = unpinned)
#   CHURN       optional: start CHURN short processes per second (`sleep 0.5`,
#               in batches every 100 ms), so that processes keep appearing
#               and ending (0 = none)
#
# The idle processes last `sleep 86400` (one day): they outlive any run and are
# killed with the group. If this script is killed, its children get the same
# signal (same group); the EXIT trap covers a normal end.

set -u
n=${1:?number of idle processes}
ready=${2:?ready file}
busy_cpus=${3:-}
churn=${4:-0}

trap 'trap - TERM INT EXIT; kill -- -$$ 2>/dev/null' TERM INT EXIT

for ((i = 0; i < n; i++)); do
    sleep 86400 &
done
if [ -n "$busy_cpus" ]; then
    taskset -c "$busy_cpus" sh -c 'while :; do :; done' &
else
    sh -c 'while :; do :; done' &
fi
if [ "$churn" -gt 0 ]; then
    (
        per=$(((churn + 9) / 10))
        next=${EPOCHREALTIME/./}
        while :; do
            for ((j = 0; j < per; j++)); do
                sleep 0.5 &
                disown
            done
            next=$((next + 100000))
            left=$((next - ${EPOCHREALTIME/./}))
            if [ "$left" -gt 0 ]; then sleep "$(printf '0.%06d' "$left")"; fi
        done
    ) &
fi
echo "$(ps -o pgid= -p $$ | tr -d ' ') $((n + 1))" >"$ready.tmp"
mv "$ready.tmp" "$ready"
wait
