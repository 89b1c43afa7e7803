# Phase 60-fuzz: libFuzzer on tests/fuzz/fuzz_hsafe.c (bytes -> a program
# of coroutine, pool and run operations, and scheduler programs of scoped
# tasks, checked against a model), built
# with clang -fsanitize=fuzzer,address,undefined, once per backend.
#
# Each backend: first the committed seed corpus (tests/fuzz/corpus/) is
# replayed, then libFuzzer mutates from it for a bounded time into a fresh
# working corpus under $HSAFE_BUILD/60-fuzz (the committed corpus is never
# written). One check per backend: passes if libFuzzer found nothing;
# prints the executions and the working corpus size. A crash leaves its
# input as $HSAFE_BUILD/60-fuzz/crash-<backend>-*; replay it with
#   $HSAFE_BUILD/60-fuzz/fuzz_hsafe.<backend> <that file>
# or, with a trace of the operations, through the plain replay build:
#   cc -DHSAFE_FUZZ_MAIN -I. -Itests tests/fuzz/fuzz_hsafe.c -o replay
#   FUZZ_HSAFE_TRACE=1 ./replay <that file>
#
# Time: HSAFE_FUZZ_SECONDS (default 150) in all, split asm 60%, ucontext
# and fcontext 20% each (asm alone gets it all if the others cannot build).
. "$(dirname "$0")/../lib/common.sh"

if ! hsafe_need_pkgs clang libclang-rt-14-dev; then
    hsafe_phase_end fuzz 0 0 1
fi
hsafe_need_pkgs libboost-context-dev || hsafe_log "fcontext: Boost.Context not installed"

work="$HSAFE_BUILD/60-fuzz"
total=${HSAFE_FUZZ_SECONDS:-150}
mkdir -p "$work"

build() {   # backend -> 0 if built
    local b=$1 def="" lib=""
    case $b in
        ucontext) def=-DHSAFE_BACKEND_UCONTEXT ;;
        fcontext) def=-DHSAFE_BACKEND_FCONTEXT lib=-lboost_context ;;
        *)        def=-DHSAFE_BACKEND_ASM ;;
    esac
    clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -Wall -Wextra -Werror $def -I"$HSAFE_ROOT" -I"$HSAFE_ROOT/tests" \
        "$HSAFE_ROOT/tests/fuzz/fuzz_hsafe.c" -o "$work/fuzz_hsafe.$b" $lib \
        >"$work/build.$b.log" 2>&1
}

backends=""
for b in asm ucontext fcontext; do
    if build "$b"; then
        backends="$backends $b"
    elif [ "$b" = asm ]; then
        hsafe_fail "asm: build"
        sed 's/^/    | /' "$work/build.$b.log" | tail -n 30
    else
        hsafe_skip "$b: does not build here"
        sed 's/^/    | /' "$work/build.$b.log" | tail -n 5
    fi
done

for b in $backends; do
    case $b in
        asm) secs=$((total * 60 / 100)) ;;
        *)   secs=$((total * 20 / 100)) ;;
    esac
    [ "$backends" = " asm" ] && secs=$total
    corpus="$work/corpus.$b"
    rm -rf "$corpus" && mkdir -p "$corpus"
    log="$work/fuzz.$b.log"
    rm -f "$work"/crash-"$b"-*
    # UAR on, as in phase 30; leaks are checked at exit of each input too.
    ASAN_OPTIONS=detect_stack_use_after_return=1:detect_leaks=1 \
    "$work/fuzz_hsafe.$b" -max_total_time="$secs" -print_final_stats=1 -timeout=20 \
        -rss_limit_mb=4096 -artifact_prefix="$work/crash-$b-" \
        "$corpus" "$HSAFE_ROOT/tests/fuzz/corpus" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    units=$(find "$corpus" -type f | wc -l)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    if [ "$rc" -eq 0 ]; then
        hsafe_pass "$b: ${secs}s, ${execs:-?} executions, working corpus $units inputs, $cov"
    else
        hsafe_fail "$b: libFuzzer exit $rc after ${execs:-?} executions (log $log)"
        grep -E -A25 'ERROR|mismatch|SUMMARY|deadly' "$log" | head -n 50 | sed 's/^/    | /'
        ls "$work"/crash-"$b"-* 2>/dev/null | sed 's/^/    crash input: /'
    fi
done

hsafe_phase_end_counted fuzz
