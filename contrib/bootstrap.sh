#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Set up a Debian 12 (bookworm) machine to build and test scopevisor, build it,
# then run the demo or the whole test suite. Run `contrib/bootstrap.sh --help`.
#
# Every step is idempotent: packages that are already installed are not touched
# (and apt is not run at all when nothing is missing), an existing build
# directory is reconfigured rather than recreated. Command output goes to log
# files under build/bootstrap/; on failure the tail of the log is shown.
#
# Works whether or not systemd is PID 1. On a machine without systemd, no
# service is started while packages are installed (a temporary policy-rc.d
# denies it), so installing e.g. `supervisor` or `nats-server` starts nothing.

set -euo pipefail

# Everything needed to build, test and fuzz the project.
PACKAGES=(
    # build
    meson ninja-build pkg-config g++ clang
    libclang-rt-14-dev # libFuzzer for -Dfuzzing=true (only a Recommends of clang)
    libsystemd-dev libsdbus-c++-dev libsdbus-c++-bin
    rapidjson-dev libcpp-httplib-dev libssl-dev libexpat1-dev libyaml-cpp-dev libnats-dev
    libgcrypt20-dev libhttp-parser-dev
    # tests
    libgtest-dev libgmock-dev googletest python3 python3-pytest
    # peers and real system pieces the tests talk to
    nats-server supervisor dbus systemd-container polkitd
    libxml2-utils procps psmisc curl openssl
)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=build
LOGDIR=$BUILD/bootstrap
DEMO_CONF=contrib/examples/demo.conf
DAEMON=$BUILD/daemon/scopevisord

VERBOSE=0

usage() {
    cat <<EOF
Usage: contrib/bootstrap.sh [-v] COMMAND [ARGS...]

Set up a Debian 12 (bookworm) machine for scopevisor and build it in ./$BUILD.
Missing packages are installed with apt-get (as root, or through sudo).

Commands:
  build            install what is missing, configure and build
  test [ARGS...]   build, then run the whole test suite
                   (meson test -C $BUILD --print-errorlogs [ARGS...]) and end
                   with the line "N passed, N failed, N skipped" (test
                   cases, see README.md); exits non-zero if a test failed
                   or none ran
  demo [ARGS...]   build, then run the daemon in the foreground:
                   $DAEMON -c $DEMO_CONF [ARGS...]
                   (Ctrl-C stops all programs and exits)

Options:
  -v, --verbose    show command output as it runs (it is always logged)
  -h, --help       show this help

Logs: $LOGDIR/{packages,setup,build}.log, and meson's own in $BUILD/meson-logs/.
EOF
}

say() { printf '==> %s\n' "$*"; }
warn() { printf 'bootstrap: warning: %s\n' "$*" >&2; }
die() {
    printf 'bootstrap: error: %s\n' "$*" >&2
    exit 1
}

# run_logged LOG CMD...: run CMD, output appended to LOG (and shown with -v).
run_logged() {
    local log=$1 rc=0
    shift
    printf '\n$ %s\n' "$*" >>"$log"
    if ((VERBOSE)); then
        "$@" 2>&1 </dev/null | tee -a "$log" || rc=$?
    else
        "$@" >>"$log" 2>&1 </dev/null || rc=$?
    fi
    return "$rc"
}

# fail LOG LINES MESSAGE: show the end of LOG and exit.
fail() {
    local log=$1 lines=$2
    shift 2
    if ((!VERBOSE)); then
        printf -- '---- last %s lines of %s ----\n' "$lines" "$log" >&2
        tail -n "$lines" "$log" >&2
        printf -- '---- end of %s ----\n' "$log" >&2
    fi
    die "$*"
}

# ---------------------------------------------------------------- packages --

as_root() {
    if ((EUID == 0)); then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "installing packages needs root: run this as root or install sudo"
    fi
}

is_installed() {
    local status
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) || return 1
    [[ $status == ?i* ]]
}

# Keep package scripts from starting services on a machine where systemd is
# not PID 1 (there, invoke-rc.d would start them through their init scripts).
# Standard Debian mechanism: /usr/sbin/policy-rc.d exiting 101 denies it. An
# existing policy-rc.d that is not ours is left as it is.
POLICY_RC=/usr/sbin/policy-rc.d
POLICY_MARK='# written by scopevisor contrib/bootstrap.sh while installing packages'
policy_added=0

deny_service_starts() {
    [[ -d /run/systemd/system ]] && return 0 # systemd is PID 1
    if [[ -e $POLICY_RC ]] && ! grep -qF -- "$POLICY_MARK" "$POLICY_RC"; then
        return 0
    fi
    printf '#!/bin/sh\n%s\nexit 101\n' "$POLICY_MARK" | as_root tee "$POLICY_RC" >/dev/null
    as_root chmod 0755 "$POLICY_RC"
    policy_added=1
}

allow_service_starts() {
    if ((policy_added)); then
        as_root rm -f "$POLICY_RC"
        policy_added=0
    fi
}

install_packages() {
    local log=$LOGDIR/packages.log p
    local -a missing=()
    : >"$log"

    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        warn "no apt-get/dpkg here: not installing packages; this needs the equivalents of: ${PACKAGES[*]}"
        return 0
    fi
    if [[ -r /etc/os-release ]]; then
        local codename
        # shellcheck source=/dev/null
        codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
        [[ $codename == bookworm ]] || warn "made for Debian 12 (bookworm), this is '${codename:-unknown}'"
    fi

    for p in "${PACKAGES[@]}"; do
        is_installed "$p" || missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then
        say "packages: all ${#PACKAGES[@]} installed"
        return 0
    fi

    if ((EUID != 0)) && ! command -v sudo >/dev/null 2>&1; then
        die "missing packages: ${missing[*]}; run this as root (or install sudo) to install them"
    fi
    say "packages: installing ${#missing[@]} missing: ${missing[*]} (log: $log)"
    deny_service_starts
    local -a apt=(as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y
        -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    run_logged "$log" "${apt[@]}" update ||
        fail "$log" 30 "apt-get update failed"
    run_logged "$log" "${apt[@]}" install "${missing[@]}" ||
        fail "$log" 40 "apt-get install failed"
    allow_service_starts

    local -a still=()
    for p in "${missing[@]}"; do
        is_installed "$p" || still+=("$p")
    done
    ((${#still[@]} == 0)) || fail "$log" 40 "still not installed: ${still[*]}"
    say "packages: installed ${#missing[@]}"
}

# ------------------------------------------------------------------- build --

configure() {
    local log=$LOGDIR/setup.log
    : >"$log"
    if [[ -f $BUILD/meson-private/coredata.dat ]]; then
        say "configure: meson setup --reconfigure $BUILD"
        run_logged "$log" meson setup --reconfigure "$BUILD" ||
            fail "$log" 40 "meson setup --reconfigure failed (log: $log; an unusable build directory can be reset with: meson setup --wipe $BUILD)"
    else
        say "configure: meson setup $BUILD"
        run_logged "$log" meson setup "$BUILD" ||
            fail "$log" 40 "meson setup failed (log: $log)"
    fi
}

build() {
    local log=$LOGDIR/build.log warnings
    : >"$log"
    say "build: ninja -C $BUILD (log: $log)"
    run_logged "$log" ninja -C "$BUILD" ||
        fail "$log" 80 "build failed (log: $log)"
    warnings=$(grep -c ': warning: ' "$log" || true)
    if ((warnings > 0)); then
        say "build: ok, $warnings compiler warning(s), see $log"
    else
        say "build: ok"
    fi
}

# ------------------------------------------------------------------- tests --

python() {
    if [[ -x /usr/bin/python3 ]]; then /usr/bin/python3 "$@"; else python3 "$@"; fi
}

# Prints "PASSED FAILED SKIPPED" counted over the test cases of the run whose
# meson log directory is $1. meson's testlog.json has one line per meson test;
# a test made of many cases counts each of them, so that a case that skipped
# inside a passing test shows: GoogleTest cases from testlog.junit.xml (meson
# keeps them for protocol 'gtest'), pytest cases from pytest/<name>.xml (each
# pytest test writes it with --junitxml, under its meson test name). Any other test counts once: OK is a
# pass, SKIP (exit 77) a skip, anything else a failure. A test that failed
# with no failed case (a crash, a timeout, an error outside the cases) counts
# one failure more.
count_results() {
    python - "$1" <<'EOF'
import json, os, sys
import xml.etree.ElementTree as ET

logs = sys.argv[1]


def cases(root):
    """(passed, failed, skipped) over the <testcase> elements of a JUnit tree."""
    p = f = s = 0
    for c in root.iter("testcase"):
        if c.find("failure") is not None or c.find("error") is not None:
            f += 1
        elif c.find("skipped") is not None or c.get("result") in ("skipped", "suppressed"):
            s += 1
        else:
            p += 1
    return p, f, s


# GoogleTest suites from meson's JUnit file, named "<project>.<test>.<suite>"
# where <test> is the name testlog.json gives ("project:suites / name").
try:
    gtest = list(ET.parse(os.path.join(logs, "testlog.junit.xml")).getroot().iter("testsuite"))
except (OSError, ET.ParseError):
    gtest = []

passed = failed = skipped = 0
try:
    lines = open(os.path.join(logs, "testlog.json"), encoding="utf-8", errors="replace").read().splitlines()
except FileNotFoundError:
    lines = []
for line in lines:
    if not line.strip():
        continue
    try:
        test = json.loads(line)
        name, result = test.get("name", ""), test.get("result")
    except (ValueError, AttributeError):
        name, result = "", None
    n = None
    suites = [s for s in gtest if name and s.get("name", "").partition(".")[2].startswith(name + ".")]
    if suites:
        n = [sum(c) for c in zip(*map(cases, suites))]
    elif name:
        try:
            short = name.rpartition(" / ")[2]
            n = list(cases(ET.parse(os.path.join(logs, "pytest", short + ".xml")).getroot()))
        except (OSError, ET.ParseError):
            pass
    if n is None or sum(n) == 0:
        # FAIL, TIMEOUT, UNEXPECTEDPASS, ERROR, or unreadable: a failure.
        ok, skip = result in ("OK", "EXPECTEDFAIL"), result == "SKIP"
        n = [int(ok), int(not (ok or skip)), int(skip)]
    elif result not in ("OK", "EXPECTEDFAIL", "SKIP") and n[1] == 0:
        n[1] = 1
    passed, failed, skipped = passed + n[0], failed + n[1], skipped + n[2]
print(passed, failed, skipped)
EOF
}

run_tests() {
    local logs=$BUILD/meson-logs rc=0 counts passed failed skipped
    # Results of an earlier run must not be counted in this one.
    rm -rf "$logs/testlog.json" "$logs/testlog.junit.xml" "$logs/pytest"
    say "test: meson test -C $BUILD --print-errorlogs${*:+ $*}"
    meson test -C "$BUILD" --print-errorlogs "$@" </dev/null || rc=$?
    counts=$(count_results "$logs") || echo "bootstrap: error: could not read the results in $logs" >&2
    read -r passed failed skipped <<<"${counts:-0 0 0}"

    echo
    say "test: details in $BUILD/meson-logs/testlog.txt"
    if ((passed + failed == 0)); then
        echo "bootstrap: error: no test ran" >&2
        rc=1
    elif ((rc != 0 && failed == 0)); then
        echo "bootstrap: error: meson test exited with status $rc" >&2
    fi
    ((failed == 0)) || rc=1
    printf '%d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
    return "$rc"
}

# -------------------------------------------------------------------- main --

main() {
    while (($#)); do
        case $1 in
        -h | --help | help)
            usage
            exit 0
            ;;
        -v | --verbose)
            VERBOSE=1
            shift
            ;;
        -*)
            printf 'bootstrap: unknown option %s\n\n' "$1" >&2
            usage >&2
            exit 2
            ;;
        *) break ;;
        esac
    done
    local cmd=${1:-}
    case $cmd in
    build | test | demo) shift ;;
    "")
        usage >&2
        exit 2
        ;;
    *)
        printf 'bootstrap: unknown command %s\n\n' "$cmd" >&2
        usage >&2
        exit 2
        ;;
    esac
    if [[ $cmd == build && $# -gt 0 ]]; then
        printf 'bootstrap: build takes no arguments\n\n' >&2
        usage >&2
        exit 2
    fi

    cd "$ROOT"
    trap allow_service_starts EXIT # bash runs it on HUP, INT and TERM too
    mkdir -p "$LOGDIR"

    install_packages
    configure
    build

    case $cmd in
    build) ;;
    test) run_tests "$@" ;;
    demo)
        [[ -x $DAEMON ]] || die "$DAEMON was not built"
        say "demo: $DAEMON -c $DEMO_CONF${*:+ $*} (Ctrl-C stops all programs and exits)"
        exec "$DAEMON" -c "$DEMO_CONF" "$@"
        ;;
    esac
}

main "$@"
