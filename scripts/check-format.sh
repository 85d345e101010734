#!/usr/bin/env bash
# Every tracked C file must be formatted by clang-format (the .clang-format
# at the root; clang-format 14 as in Debian 12). Prints the files to fix.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h' | grep -v '^tests/fixtures/')
bad=$(clang-format --dry-run $files 2>&1 | grep -oE '^[^:]+:[0-9]+:[0-9]+: warning' | cut -d: -f1 | sort -u || true)
if [ -n "$bad" ]; then
    echo "not formatted (run: clang-format -i FILE):"
    echo "$bad"
    exit 1
fi
echo "clang-format: $(echo "$files" | wc -l) files formatted"
