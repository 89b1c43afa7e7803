#!/usr/bin/env bash
# tests/run.sh - run the test phases (tests/phases/*.sh) and add up results.
#
#   tests/run.sh              every phase, in lexical order
#   tests/run.sh PATTERN...   only phases whose file name contains a PATTERN
#                             (glob characters allowed), e.g. `native 50-`
#
# Environment: HSAFE_BUILD (build root, default <repo>/_build), JOBS
# (default 2), HSAFE_NO_INSTALL (non-empty: never apt-get install),
# HSAFE_PHASE_TIMEOUT (seconds before a phase is stopped, default 1800). The
# contract with each phase is described at the top of tests/lib/common.sh.
# Each phase's output is also kept in $HSAFE_BUILD/logs/<phase>.log.
#
# The last line printed is `N passed, N failed, N skipped`, the sums over
# all phases; the exit status is non-zero if any phase failed.
set -u
export LC_ALL=C

HSAFE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HSAFE_BUILD=${HSAFE_BUILD:-$HSAFE_ROOT/_build}
JOBS=${JOBS:-2}
HSAFE_PHASE_TIMEOUT=${HSAFE_PHASE_TIMEOUT:-1800}
HSAFE_RUN_ID="$$.$(date +%s)"
export HSAFE_ROOT HSAFE_BUILD JOBS HSAFE_RUN_ID
cd "$HSAFE_ROOT" || exit 2
mkdir -p "$HSAFE_BUILD/logs" || exit 2

matches() {
    local name=$1 p
    [ "$#" -eq 1 ] && return 0
    shift
    for p in "$@"; do
        # shellcheck disable=SC2053
        [[ $name == *$p* ]] && return 0
    done
    return 1
}

join() {
    local out=$1
    shift
    for x in "$@"; do out="$out, $x"; done
    printf '%s' "$out"
}

echo "hsafe tests: root $HSAFE_ROOT, build $HSAFE_BUILD, JOBS=$JOBS, $(uname -srm)"

total_p=0 total_f=0 total_s=0 ran=0
failed_phases=() skipped_phases=()
run_start=$SECONDS

for f in tests/phases/*.sh; do
    [ -f "$f" ] || continue
    name=$(basename "$f" .sh)
    matches "$name" "$@" || continue
    ran=$((ran + 1))
    log="$HSAFE_BUILD/logs/$name.log"
    printf '\n==== phase %s ====\n' "$name"
    t0=$SECONDS
    timeout -k 20 "$HSAFE_PHASE_TIMEOUT" bash "$f" </dev/null 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "run.sh: phase $name was stopped after ${HSAFE_PHASE_TIMEOUT}s (HSAFE_PHASE_TIMEOUT)"
    fi
    dt=$((SECONDS - t0))

    line=$(grep -E '^PHASE [^ ]+: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n 1)
    if [ -n "$line" ]; then
        read -r p f_ s <<<"$(printf '%s\n' "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped$/\1 \2 \3/')"
    else
        echo "run.sh: phase $name ended (exit $rc) without its PHASE line: counted as 1 failure"
        p=0 f_=1 s=0
    fi
    if [ "$rc" -ne 0 ] && [ "$f_" -eq 0 ]; then
        echo "run.sh: phase $name exited $rc but reported no failure: counted as 1 failure"
        f_=1
    fi
    total_p=$((total_p + p)) total_f=$((total_f + f_)) total_s=$((total_s + s))
    if [ "$f_" -gt 0 ]; then
        status=FAILED
        failed_phases+=("$name ($f_ failed)")
    else
        status=ok
    fi
    [ "$s" -gt 0 ] && skipped_phases+=("$name ($s skipped)")
    printf '==== phase %s: %s, %d passed, %d failed, %d skipped, %ds ====\n' \
        "$name" "$status" "$p" "$f_" "$s" "$dt"
done

echo
if [ "$ran" -eq 0 ]; then
    echo "run.sh: no phase matched: $*"
    total_f=1
    failed_phases+=("(no phase matched)")
fi
echo "phases run: $ran in $((SECONDS - run_start))s (logs in $HSAFE_BUILD/logs)"
if [ "${#failed_phases[@]}" -gt 0 ]; then
    echo "failed phases: $(join "${failed_phases[@]}")"
fi
if [ "${#skipped_phases[@]}" -gt 0 ]; then
    echo "phases with skipped tests: $(join "${skipped_phases[@]}")"
fi
printf '%d passed, %d failed, %d skipped\n' "$total_p" "$total_f" "$total_s"
[ "$total_f" -eq 0 ]
