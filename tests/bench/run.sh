#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Run every benchmark and print its figures (tests/bench/README.md explains
# them). Builds first (ninja -C build). No timing is asserted: the exit status
# is non-zero only when a benchmark failed to run or lost output.
#
#   tests/bench/run.sh [--quick] [--build DIR] [bench_daemons.py options]
#
#   --quick      smoke mode, seconds: 1,000,000 lines, 100 programs (daemons
#                and D-Bus), only the start-sleep and out-* daemon scenarios
#   --build DIR  the meson build directory (default: build, or $BUILD_DIR)
#
# Other options go to bench_daemons.py (e.g. --programs 500, --lines 5000000,
# --supervisord '' to run without supervisord, --scenarios out-file).
set -u

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-build}
quick=
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1; shift ;;
    --build) build=$2; shift 2 ;;
    --build=*) build=${1#--build=}; shift ;;
    -h|--help) sed -n '3,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
    esac
done
case $build in /*) ;; *) build=$src/$build ;; esac

if [ -n "$quick" ]; then
    lines=1000000
    programs=100
    set -- --quick "$@"
else
    lines=20000000
    programs=1000
fi
python=/usr/bin/python3
[ -x "$python" ] || python=python3

run() {
    echo "\$ $*"
    "$@"
    rc=$?
    [ $rc -eq 0 ] || { echo "(exit status $rc)"; failed=1; }
    echo
}

failed=0
cd "$src" || exit 1
if [ ! -f "$build/build.ninja" ]; then
    run meson setup "$build" || exit 1
fi
# Everything, so that the adapters the configuration may load are there too;
# failing that, at least what the benchmarks run.
run ninja -C "$build"
if [ $failed -ne 0 ]; then
    failed=0
    echo "the full build failed; building only the daemon and the benchmarks"
    run ninja -C "$build" daemon/scopevisord tests/bench/bench_log_buffer tests/bench/bench_throughput
    if [ $failed -ne 0 ]; then
        echo "build failed (the benchmarks are built with the tests: -Dtests=enabled or auto)" >&2
        exit 1
    fi
fi

echo "== machine: $(nproc) CPUs, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "== log buffer alone: short lines appended in 64 KiB chunks, in process"
run "$build/tests/bench/bench_log_buffer" "$lines"
echo "== the real engine reading one program's output into its log buffer, in process"
run "$build/tests/bench/bench_throughput" "$lines"
if [ -x "$build/tests/bench/bench_dbus" ]; then
    echo "== the D-Bus API: $programs programs on a private bus, calls while they start and stop"
    run env SCOPEVISORD="$build/daemon/scopevisord" "$build/tests/bench/bench_dbus" "$programs"
fi
echo "== whole daemons: scopevisord and supervisord on the same configurations"
run "$python" "$here/bench_daemons.py" --scopevisord "$build/daemon/scopevisord" "$@"

exit $failed
