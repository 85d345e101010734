#!/usr/bin/env bash
# Build and run the whole test suite. With --sanitize, also build and run it
# under AddressSanitizer + UndefinedBehaviorSanitizer with every CPU busy,
# and under ThreadSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
werror=false
[ "${CI:-}" = "true" ] && werror=true
[ -d build ] || meson setup build -Dwerror=$werror >/dev/null
ninja -C build
# three tests per CPU: most of their time is spent waiting (servers that
# start, polls, timeouts); at meson's default of one per CPU the suite kept
# the CPUs 30 % busy and took twice as long
jobs=$((3 * $(nproc)))
meson test -C build --num-processes "$jobs" --print-errorlogs
if [ "${1:-}" = "--sanitize" ]; then
    [ -d build-asan ] || meson setup build-asan -Db_sanitize=address,undefined \
        -Db_lundef=false -Dwerror=$werror -Dbench=false >/dev/null
    ninja -C build-asan
    # under a busy loop per CPU: tests that depend on timing fail here first.
    # Every allocation up to 1 MiB is filled with 0xbe (ASan's default fills
    # only 4 KiB; the rest of a large block is zero, the kernel's), so a string
    # read from memory never written runs off the block's end and is reported
    # (meson's MALLOC_PERTURB_ does the same for the plain build, unreported).
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:max_malloc_fill_size=1048576 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        bash scripts/load.sh meson test -C build-asan --num-processes "$jobs" --print-errorlogs
    # ThreadSanitizer on the whole suite (the end-to-end one runs the agent's
    # threads for real) but the scale one: 20,000 processes are 10x slower
    # there and past its timeout; the watcher's threads are covered by procfs-e2e.
    # One test per CPU here: TSan makes the agent 5-15x slower, and at three
    # per CPU the relay output of e2e-relay's stalled-server case (200,000
    # points/s) fell so far behind that its stop drained for over 30 s
    [ -d build-tsan ] || meson setup build-tsan -Db_sanitize=thread -Db_lundef=false \
        -Dwerror=$werror -Dbench=false >/dev/null
    ninja -C build-tsan
    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
        meson test -C build-tsan --no-suite scale --print-errorlogs
fi
