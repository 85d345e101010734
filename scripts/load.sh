#!/usr/bin/env bash
# Keep every CPU busy while a command runs (CI runs the sanitizer suite
# under this load, so timing-dependent tests show up as failures):
#   scripts/load.sh COMMAND [ARGS...]
set -uo pipefail
pids=()
for _ in $(seq "$(nproc)"); do
    ( while :; do :; done ) &
    pids+=($!)
done
trap 'kill "${pids[@]}" 2>/dev/null' EXIT
"$@"
