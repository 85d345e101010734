# SPDX-License-Identifier: MIT
# Shared steps of the bench/run-*.sh scripts (sourced, not run).

# bench_build BUILD_DIR SRC_DIR: a release build, set up on first use.
bench_build() {
    if [ ! -f "$1/build.ninja" ]; then
        meson setup "$1" "$2" --buildtype=release >/dev/null
    fi
    ninja -C "$1" >/dev/null
}

# bench_bad_option OPT: exit 2 with the caller's usage text.
bench_bad_option() {
    echo "error: unknown option '$1'" >&2
    usage >&2
    exit 2
}

# bench_maybe_build DO_BUILD BUILD_DIR SRC_DIR: bench_build when DO_BUILD is 1
# (0 after --no-build).
bench_maybe_build() {
    if [ "$1" = 1 ]; then
        bench_build "$2" "$3"
    fi
}

# bench_require FILE...: exit with the build command when a file is missing.
bench_require() {
    local f
    for f in "$@"; do
        if [ ! -e "$f" ]; then
            echo "error: '$f' is missing; build with: meson setup build-bench" \
                "--buildtype=release && ninja -C build-bench" >&2
            exit 1
        fi
    done
}

# bench_work_dir PREFIX: use $work_dir (absolute afterwards), or make a
# temporary one and set cleanup_dir to it (the caller removes it at exit).
bench_work_dir() {
    cleanup_dir=
    if [ -z "$work_dir" ]; then
        work_dir=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
        cleanup_dir=$work_dir
    fi
    mkdir -p "$work_dir"
    work_dir=$(cd "$work_dir" && pwd)
}
