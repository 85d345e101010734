#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Relay throughput: a client agent (bench-source -> relay-client) sends N
# points over loopback TCP to a server agent (relay-server ->
# bench-null-output), each pinned to its own CPU. Prints points/s (client
# start to client exit: everything sent, and acknowledged with the spool)
# and the CPU seconds per million points of the client and of the server,
# after checking that the server received every point. Modes: plain, spool
# (on-disk spool with acknowledgments), tls. See bench/README.md "Relay".

set -euo pipefail

usage() {
    cat <<EOF
Usage: $0 [OPTIONS]

  --build-dir DIR      build directory (default: <source>/build-bench, release)
  --no-build           do not run meson/ninja
  --points N           points per run (default 2000000)
  --buffer N           relay-client buffer_max_length (default 4096)
  --modes LIST         comma-separated: plain,spool,tls (default: all)
  --client-cpus LIST   CPUs of the client agent (default 0; "" = unpinned)
  --server-cpus LIST   CPUs of the server agent (default 1; "" = unpinned)
  --work-dir DIR       where configs, logs and the spool go (default: a temporary
                       directory, removed at the end)
  -h, --help           this text
EOF
}

src_dir=$(cd "$(dirname "$0")/.." && pwd)
build_dir=$src_dir/build-bench
do_build=1
points=2000000
buffer=4096
modes=plain,spool,tls
client_cpus=0
server_cpus=1
work_dir=
while [ $# -gt 0 ]; do
    case $1 in
    --build-dir) build_dir=$2; shift 2 ;;
    --no-build) do_build=0; shift ;;
    --points) points=$2; shift 2 ;;
    --buffer) buffer=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --client-cpus) client_cpus=$2; shift 2 ;;
    --server-cpus) server_cpus=$2; shift 2 ;;
    --work-dir) work_dir=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done

. "$src_dir/bench/lib.sh"
if [ "$do_build" = 1 ]; then bench_build "$build_dir" "$src_dir"; fi
agent=$build_dir/src/agent/alumet-agent
bench_require "$agent" "$build_dir/bench/bench-source.so" "$build_dir/bench/bench-null-output.so"
if ! "$agent" plugins list 2>/dev/null | grep -q -- '- relay-client v'; then
    echo "skipped: the agent was built without the relay plugins" >&2
    exit 77
fi
bench_work_dir alumet-relay-bench
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
    if [ -n "$cleanup_dir" ]; then rm -rf "$cleanup_dir"; fi
}
trap cleanup EXIT
plugin_dir=$work_dir/plugins
mkdir -p "$plugin_dir"
cp "$build_dir/bench/bench-source.so" "$build_dir/bench/bench-null-output.so" "$plugin_dir/"

pin() { # pin CPUS CMD...
    local cpus=$1
    shift
    if [ -n "$cpus" ]; then taskset -c "$cpus" "$@"; else "$@"; fi
}

# CPU seconds (user + system) of a running process.
cpu_of() {
    awk -v hz="$(getconf CLK_TCK)" \
        '{ sub(/.*\) /, ""); split($0, f, " "); printf "%.3f", (f[12] + f[13]) / hz }' "/proc/$1/stat"
}

if [[ $modes == *tls* ]]; then
    pki=$work_dir/pki
    mkdir -p "$pki"
    (cd "$pki" &&
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
            -subj "/CN=bench CA" &&
        openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
            -subj "/CN=localhost" &&
        echo "subjectAltName = IP:127.0.0.1" >ext &&
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
            -out server.pem -days 2 -extfile ext) >/dev/null 2>&1
fi

printf '%-6s %10s %12s %15s %15s %s\n' mode points 'points/s' 'client CPU s/M' \
    'server CPU s/M' check
IFS=, read -ra mode_list <<<"$modes"
for mode in "${mode_list[@]}"; do
    d=$work_dir/$mode
    mkdir -p "$d/server" "$d/client"
    port=$((40000 + RANDOM % 20000))
    server_extra=
    client_extra=
    case $mode in
    spool) client_extra="spool_dir = \"$d/spool\"" ;;
    tls)
        server_extra="tls_cert = \"$pki/server.pem\""$'\n'"tls_key = \"$pki/server.key\""
        client_extra="tls = true"$'\n'"tls_ca = \"$pki/ca.pem\""
        ;;
    esac
    cat >"$d/server/alumet-config.toml" <<EOF
[plugins.relay-server]
address = "127.0.0.1:$port"
stats_interval = "0s"
$server_extra

[plugins.bench-null-output]
result_path = "$d/server/result.txt"
EOF
    cat >"$d/client/alumet-config.toml" <<EOF
[plugins.relay-client]
client_name = "bench"
relay_server = "127.0.0.1:$port"
buffer_max_length = $buffer
$client_extra

[plugins.bench-source]
points_per_poll = 10000
total_points = $points
poll_interval = "1ms"
attributes = 2
shutdown_when_done = true
EOF
    (cd "$d/server" && exec "$(command -v taskset)" -c "${server_cpus:-0-$(($(nproc) - 1))}" \
        "$agent" --plugin-dir "$plugin_dir" run) 2>"$d/server.log" &
    server_pid=$!
    for _ in $(seq 300); do
        if grep -q "relay server listening" "$d/server.log"; then break; fi
        sleep 0.05
    done
    t0=$(date +%s.%N)
    (cd "$d/client" && pin "$client_cpus" /usr/bin/time -f "%U %S" -o "$d/client.time" \
        "$agent" --plugin-dir "$plugin_dir" run) 2>"$d/client.log"
    t1=$(date +%s.%N)
    sleep 0.5 # the server pushes the last message into its pipeline
    server_cpu=$(cpu_of "$server_pid")
    kill -TERM "$server_pid"
    wait "$server_pid" || true
    server_pid=
    got=$(sed -n 's/^points=\([0-9]*\).*/\1/p' "$d/server/result.txt")
    check=ok
    if [ "$got" != "$points" ]; then check="FAIL(server got ${got:-nothing})"; fi
    client_cpu=$(awk '{ printf "%.3f", $1 + $2 }' "$d/client.time")
    awk -v m="$mode" -v n="$points" -v t0="$t0" -v t1="$t1" -v cc="$client_cpu" \
        -v sc="$server_cpu" -v ck="$check" \
        'BEGIN { printf "%-6s %10d %12.0f %15.3f %15.3f %s\n", m, n, n / (t1 - t0), cc * 1e6 / n, sc * 1e6 / n, ck }'
done
