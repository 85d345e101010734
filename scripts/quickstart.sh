#!/usr/bin/env bash
# Quick start: install what is missing, build, and measure a command with the
# default plugins. The measurements are written to alumet-output.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
[ -d build ] || meson setup build --buildtype=release >/dev/null
ninja -C build >/dev/null
mkdir -p run
cd run
if [ $# -eq 0 ]; then set -- sleep 1; fi
../build/src/agent/alumet-agent exec -- "$@"
echo
echo "measurements written to $(pwd)/alumet-output.csv (config: $(pwd)/alumet-config.toml)"
