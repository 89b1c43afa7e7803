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
# Time: HSAFE_FUZZ_SECONDS (default 100) in all, split asm 60%, ucontext
# and fcontext 20% each (asm alone gets it all if the others cannot build);
# then the channel target, HSAFE_FUZZ_CHAN_SECONDS (15), and the HTTP parser
# target (end of this file), HSAFE_FUZZ_HTTP_SECONDS (15).
. "$(dirname "$0")/../lib/common.sh"

if ! hsafe_need_pkgs clang libclang-rt-14-dev; then
    hsafe_phase_end fuzz 0 0 1
fi
hsafe_need_pkgs libboost-context-dev || hsafe_log "fcontext: Boost.Context not installed"

work="$HSAFE_BUILD/60-fuzz"
total=${HSAFE_FUZZ_SECONDS:-100}
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
    [ "$secs" -ge 1 ] || secs=1        # 0 would mean "no limit" to libFuzzer
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

# Channels: tests/fuzz/fuzz_chan.c (four tasks exchanging values over a
# buffered and an unbuffered channel with closes, cancels and deadlines,
# checked against a ledger: exactly once, in order, nothing lost), the asm
# backend, seeded from tests/fuzz/chan_corpus/, HSAFE_FUZZ_CHAN_SECONDS
# (default 15).
csecs=${HSAFE_FUZZ_CHAN_SECONDS:-15}
[ "$csecs" -ge 1 ] || csecs=1
clog="$work/fuzz_chan.log"
rm -rf "$work/corpus.chan" "$work"/crash-chan-* && mkdir -p "$work/corpus.chan"
if clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -Wall -Wextra -Werror -DHSAFE_BACKEND_ASM -I"$HSAFE_ROOT" -I"$HSAFE_ROOT/tests" \
        "$HSAFE_ROOT/tests/fuzz/fuzz_chan.c" -o "$work/fuzz_chan" >"$work/build.chan.log" 2>&1; then
    "$work/fuzz_chan" -max_total_time="$csecs" -print_final_stats=1 -timeout=20 \
        -rss_limit_mb=2048 -artifact_prefix="$work/crash-chan-" \
        "$work/corpus.chan" "$HSAFE_ROOT/tests/fuzz/chan_corpus" >"$clog" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$clog" | tail -n 1)
    if [ "$rc" -eq 0 ]; then
        hsafe_pass "channels: ${csecs}s, ${execs:-?} executions, $(grep -o 'cov: [0-9]*' "$clog" | tail -n 1)"
    else
        hsafe_fail "channels: libFuzzer exit $rc after ${execs:-?} executions (log $clog)"
        grep -E -A25 'ERROR|fuzz_chan:|SUMMARY|deadly' "$clog" | head -n 40 | sed 's/^/    | /'
        ls "$work"/crash-chan-* 2>/dev/null | sed 's/^/    crash input: /'
    fi
else
    hsafe_fail "channels: build"
    tail -n 30 "$work/build.chan.log" | sed 's/^/    | /'
fi

# The HTTP request parser of examples/http_server.c (examples/http_parse.h):
# its own target, tests/fuzz/fuzz_http.c, seeded with real requests from
# tests/fuzz/http_corpus/, HSAFE_FUZZ_HTTP_SECONDS (default 15).
hsecs=${HSAFE_FUZZ_HTTP_SECONDS:-15}
[ "$hsecs" -ge 1 ] || hsecs=1
hlog="$work/fuzz_http.log"
rm -rf "$work/corpus.http" "$work"/crash-http-* && mkdir -p "$work/corpus.http"
if clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -Wall -Wextra -Werror -I"$HSAFE_ROOT" "$HSAFE_ROOT/tests/fuzz/fuzz_http.c" \
        -o "$work/fuzz_http" >"$work/build.http.log" 2>&1; then
    "$work/fuzz_http" -max_total_time="$hsecs" -print_final_stats=1 -timeout=20 \
        -rss_limit_mb=2048 -artifact_prefix="$work/crash-http-" \
        "$work/corpus.http" "$HSAFE_ROOT/tests/fuzz/http_corpus" >"$hlog" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$hlog" | tail -n 1)
    if [ "$rc" -eq 0 ]; then
        hsafe_pass "http parser: ${hsecs}s, ${execs:-?} executions, $(grep -o 'cov: [0-9]*' "$hlog" | tail -n 1)"
    else
        hsafe_fail "http parser: libFuzzer exit $rc after ${execs:-?} executions (log $hlog)"
        grep -E -A25 'ERROR|fuzz_http:|SUMMARY|deadly' "$hlog" | head -n 40 | sed 's/^/    | /'
        ls "$work"/crash-http-* 2>/dev/null | sed 's/^/    crash input: /'
    fi
else
    hsafe_fail "http parser: build"
    tail -n 30 "$work/build.http.log" | sed 's/^/    | /'
fi

hsafe_phase_end_counted fuzz
