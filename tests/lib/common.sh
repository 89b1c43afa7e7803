# tests/lib/common.sh - what every test phase (tests/phases/*.sh) sources.
#
# THE CONTRACT BETWEEN tests/run.sh AND A PHASE
#
#   `make test` runs tests/run.sh, which runs every tests/phases/*.sh in
#   lexical (LC_ALL=C) order, each with `bash`, the current directory set to
#   the repository root, standard input from /dev/null, and these variables:
#     HSAFE_ROOT   the repository root (absolute)
#     HSAFE_BUILD  a build root the phase may write below, default
#                  $HSAFE_ROOT/_build; use "$HSAFE_BUILD/<phase name>/..."
#     JOBS         parallelism the phase may use (make -j, ctest -j), default 2
#   `tests/run.sh PATTERN...` runs only the phases whose file name contains
#   one of the PATTERNs (shell glob characters work too).
#   A phase may also be run by hand: `bash tests/phases/10-native.sh`; this
#   file then sets the variables above itself and changes to the root.
#
#   A phase starts with
#       . "$(dirname "$0")/../lib/common.sh"
#   and must finish by calling
#       hsafe_phase_end <name> <passed> <failed> <skipped>
#   which prints `PHASE <name>: N passed, N failed, N skipped` and exits
#   1 if failed > 0, else 0. run.sh reads that line (the last one printed
#   for the phase) to add up the totals; a phase that exits without it, or
#   exits non-zero with 0 failed, counts as one failure.
#
# FUNCTIONS
#
#   hsafe_phase_end NAME PASSED FAILED SKIPPED
#       As above. Does not return.
#
#   hsafe_need_pkgs PKG...
#       Returns 0 if every Debian package named is installed (dpkg-query).
#       If some are missing, we are root and HSAFE_NO_INSTALL is unset or
#       empty, runs `apt-get update` (once per run.sh invocation) and
#       `apt-get install -y --no-install-recommends` for the missing ones,
#       returning 0 on success. Otherwise prints
#         SKIPPED: needs Debian packages: X Y (run make test as root, or apt-get install them)
#       and returns 1. apt output goes to $HSAFE_BUILD/logs/apt.log.
#
#   hsafe_ctest NAME BUILDDIR [CTEST ARGS...]
#       Runs `ctest --output-on-failure -j$JOBS --no-tests=error [ARGS...]`
#       in BUILDDIR (later ARGS win: pass -j1 for a serial run, -L label to
#       select), reads its "N tests failed out of M" summary and its list of
#       skipped tests (exit code 77, with SKIP_RETURN_CODE 77 set by
#       tests/CMakeLists.txt), and calls hsafe_phase_end NAME with the
#       counts. Does not return.
#
#   hsafe_ctest_run BUILDDIR [CTEST ARGS...]
#       The same ctest run and parsing, but instead of ending the phase it
#       adds the counts to HSAFE_PASSED/FAILED/SKIPPED (below), so a phase
#       can run several builds and end with hsafe_phase_end_counted.
#       Returns 1 if anything failed.
#
#   hsafe_generator
#       Sets HSAFE_GENERATOR to the CMake generator the phase should use:
#       "Ninja" when ninja is installed (installing ninja-build if it is
#       missing and we may), else "Unix Makefiles"; and HSAFE_KEEP_GOING to
#       that build tool's "keep going after an error" flags, for
#       `cmake --build DIR -- $HSAFE_KEEP_GOING`. Ninja does the same work
#       with about a third less CPU than make's recursive Makefiles (which
#       start several cmake processes per target): ~15 s per build of the
#       test suite, ~1 minute per sanitizer build. HSAFE_GENERATOR set in
#       the environment wins.
#
#   hsafe_same_generator DIR
#       Removes the build directory DIR if it was configured with another
#       generator than HSAFE_GENERATOR (CMake refuses to switch in place).
#
#   Optional counting helpers, for phases that run their own checks:
#   hsafe_pass DESC / hsafe_fail DESC / hsafe_skip DESC
#       Count one passed / failed / skipped check in HSAFE_PASSED,
#       HSAFE_FAILED, HSAFE_SKIPPED and print `ok:`, `FAIL:` or `skip:` DESC.
#   hsafe_check DESC CMD [ARGS...]
#       Runs CMD quietly; passes if it exits 0, else fails and prints its
#       output (at most the last 60 lines). Returns CMD's exit status.
#   hsafe_phase_end_counted NAME
#       hsafe_phase_end NAME "$HSAFE_PASSED" "$HSAFE_FAILED" "$HSAFE_SKIPPED".
#   hsafe_log MSG...
#       Prints `[NAME-of-phase] MSG` on stdout.
#
# This file sets no shell options (no set -e): phases choose their own.

if [ -z "${HSAFE_ROOT:-}" ]; then
    HSAFE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
fi
: "${HSAFE_BUILD:=$HSAFE_ROOT/_build}"
: "${JOBS:=2}"
# One id per run.sh invocation (run.sh exports it); a phase run by hand
# gets its own.
: "${HSAFE_RUN_ID:=$$.$(date +%s)}"
export HSAFE_ROOT HSAFE_BUILD JOBS HSAFE_RUN_ID
mkdir -p "$HSAFE_BUILD/logs"
cd "$HSAFE_ROOT" || exit 2

HSAFE_PASSED=0
HSAFE_FAILED=0
HSAFE_SKIPPED=0

hsafe_log() {
    printf '[%s] %s\n' "$(basename "$0" .sh)" "$*"
}

hsafe_phase_end() {
    local name=$1 passed=${2:-0} failed=${3:-0} skipped=${4:-0}
    printf 'PHASE %s: %d passed, %d failed, %d skipped\n' "$name" "$passed" "$failed" "$skipped"
    if [ "$failed" -gt 0 ]; then exit 1; fi
    exit 0
}

hsafe_pass() { HSAFE_PASSED=$((HSAFE_PASSED + 1)); printf 'ok:   %s\n' "$*"; }
hsafe_fail() { HSAFE_FAILED=$((HSAFE_FAILED + 1)); printf 'FAIL: %s\n' "$*"; }
hsafe_skip() { HSAFE_SKIPPED=$((HSAFE_SKIPPED + 1)); printf 'skip: %s\n' "$*"; }

hsafe_check() {
    local desc=$1 out rc
    shift
    out=$("$@" 2>&1)
    rc=$?
    if [ "$rc" -eq 0 ]; then
        hsafe_pass "$desc"
    else
        hsafe_fail "$desc (exit $rc): $*"
        printf '%s\n' "$out" | tail -n 60 | sed 's/^/    | /'
    fi
    return "$rc"
}

hsafe_phase_end_counted() {
    hsafe_phase_end "$1" "$HSAFE_PASSED" "$HSAFE_FAILED" "$HSAFE_SKIPPED"
}

# Is this Debian package installed? (Works for name:arch too.)
hsafe__pkg_installed() {
    command -v dpkg-query >/dev/null 2>&1 || return 1
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

hsafe__apt() {
    # Wait for a dpkg/apt lock held by someone else instead of failing.
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@" \
        </dev/null >>"$HSAFE_BUILD/logs/apt.log" 2>&1
}

hsafe_need_pkgs() {
    local missing=() p marker
    for p in "$@"; do
        hsafe__pkg_installed "$p" || missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0

    if [ -n "${HSAFE_NO_INSTALL:-}" ] || [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "SKIPPED: needs Debian packages: ${missing[*]} (run make test as root, or apt-get install them)"
        return 1
    fi

    marker="$HSAFE_BUILD/.apt-updated"
    if [ "$(cat "$marker" 2>/dev/null)" != "$HSAFE_RUN_ID" ]; then
        echo "apt-get update (once per test run)..."
        if hsafe__apt update; then
            echo "$HSAFE_RUN_ID" >"$marker"
        else
            echo "apt-get update failed (see $HSAFE_BUILD/logs/apt.log); trying the install anyway"
        fi
    fi
    echo "apt-get install ${missing[*]}..."
    if hsafe__apt install -y --no-install-recommends "${missing[@]}"; then
        return 0
    fi
    tail -n 20 "$HSAFE_BUILD/logs/apt.log" | sed 's/^/    | /'
    echo "SKIPPED: needs Debian packages: ${missing[*]} (apt-get install failed, see $HSAFE_BUILD/logs/apt.log)"
    return 1
}

hsafe_generator() {
    if [ -z "${HSAFE_GENERATOR:-}" ]; then
        if command -v ninja >/dev/null 2>&1 || hsafe_need_pkgs ninja-build >/dev/null 2>&1; then
            HSAFE_GENERATOR=Ninja
        else
            HSAFE_GENERATOR="Unix Makefiles"
        fi
    fi
    case $HSAFE_GENERATOR in
        Ninja) HSAFE_KEEP_GOING="-k 0" ;;
        *)     HSAFE_KEEP_GOING="-k" ;;
    esac
}

hsafe_same_generator() {
    local g
    [ -f "$1/CMakeCache.txt" ] || return 0
    g=$(sed -n 's/^CMAKE_GENERATOR:INTERNAL=//p' "$1/CMakeCache.txt")
    [ "$g" = "$HSAFE_GENERATOR" ] || rm -rf "$1"
}

# Run ctest in $1 with the remaining arguments; set HSAFE__CT_P/F/S.
hsafe__ctest_counts() {
    local dir=$1 out rc total failed skipped
    shift
    out="$HSAFE_BUILD/logs/ctest.$$.log"
    (cd "$dir" && ctest --output-on-failure -j"$JOBS" --no-tests=error "$@") </dev/null 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    # "100% tests passed, 0 tests failed out of 12"
    total=$(sed -n 's/.* tests\{0,1\} failed out of \([0-9][0-9]*\).*/\1/p' "$out" | tail -n 1)
    failed=$(sed -n 's/.*, \([0-9][0-9]*\) tests\{0,1\} failed out of .*/\1/p' "$out" | tail -n 1)
    # Skipped and disabled tests are listed after "The following tests did not run:".
    skipped=$(sed -n '/^The following tests did not run:/,/^$/p' "$out" | grep -c '(\(Skipped\|Disabled\))')
    rm -f "$out"
    if [ -z "$total" ] || [ -z "$failed" ]; then
        echo "hsafe_ctest: no ctest summary from $dir (ctest exit $rc)"
        HSAFE__CT_P=0 HSAFE__CT_S=0
        if [ "$rc" -eq 0 ]; then HSAFE__CT_F=0; else HSAFE__CT_F=1; fi
        return
    fi
    if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
    HSAFE__CT_P=$((total - failed - skipped)) HSAFE__CT_F=$failed HSAFE__CT_S=$skipped
}

hsafe_ctest() {
    local name=$1
    shift
    hsafe__ctest_counts "$@"
    hsafe_phase_end "$name" "$HSAFE__CT_P" "$HSAFE__CT_F" "$HSAFE__CT_S"
}

hsafe_ctest_run() {
    hsafe__ctest_counts "$@"
    HSAFE_PASSED=$((HSAFE_PASSED + HSAFE__CT_P))
    HSAFE_FAILED=$((HSAFE_FAILED + HSAFE__CT_F))
    HSAFE_SKIPPED=$((HSAFE_SKIPPED + HSAFE__CT_S))
    [ "$HSAFE__CT_F" -eq 0 ]
}
