# Phase 60-fuzz: libFuzzer on tests/fuzz/fuzz_hsafe.c (bytes -> a program
# of coroutine, pool and run operations, and scheduler programs of scoped
# tasks, checked against a model), built
# with clang -fsanitize=fuzzer,address,undefined, once per backend; and
# once more without ASan (asm-ho, chan-ho below), where the scheduler hands
# the thread from task to task directly (it does not under ASan's fiber
# calls), so the models check that path too.
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
# then the channel target, HSAFE_FUZZ_CHAN_SECONDS (15), the HTTP parser
# target, HSAFE_FUZZ_HTTP_SECONDS (15), and the two hand-over targets,
# HSAFE_FUZZ_HANDOFF_SECONDS (15) each: 160 s of fuzzing. The seven fuzzers
# (and their seven builds) run $JOBS at a time, each fuzzer on its own core
# for its own seconds, so on 2 cores the phase takes about 90 s of fuzzing
# plus about 15 s of builds.
. "$(dirname "$0")/../lib/common.sh"

if ! hsafe_need_pkgs clang libclang-rt-14-dev; then
    hsafe_phase_end fuzz 0 0 1
fi
hsafe_need_pkgs libboost-context-dev || hsafe_log "fcontext: Boost.Context not installed"

work="$HSAFE_BUILD/60-fuzz"
total=${HSAFE_FUZZ_SECONDS:-100}
csecs=${HSAFE_FUZZ_CHAN_SECONDS:-15}
hsecs=${HSAFE_FUZZ_HTTP_SECONDS:-15}
osecs=${HSAFE_FUZZ_HANDOFF_SECONDS:-15}
mkdir -p "$work"

# The fuzz targets: name, source, extra clang flags (backend, libraries).
#   asm ucontext fcontext  tests/fuzz/fuzz_hsafe.c, one per backend
#   chan   tests/fuzz/fuzz_chan.c (four tasks exchanging values over a
#          buffered and an unbuffered channel with closes, cancels and
#          deadlines, checked against a ledger: exactly once, in order,
#          nothing lost), the asm backend, seeds tests/fuzz/chan_corpus/
#   http   tests/fuzz/fuzz_http.c: the HTTP request parser of
#          examples/http_server.c (examples/http_parse.h), seeded with real
#          requests from tests/fuzz/http_corpus/
#   asm-ho chan-ho  fuzz_hsafe.c and fuzz_chan.c on the asm backend with
#          UBSan but not ASan: the scheduler's task-to-task hand-over
src_of() {
    case $1 in
        chan|chan-ho) echo "$HSAFE_ROOT/tests/fuzz/fuzz_chan.c" ;;
        http) echo "$HSAFE_ROOT/tests/fuzz/fuzz_http.c" ;;
        *)    echo "$HSAFE_ROOT/tests/fuzz/fuzz_hsafe.c" ;;
    esac
}
bin_of() {   # the names the replay notes above use
    case $1 in
        chan|http|asm-ho|chan-ho) echo "$work/fuzz_$1" ;;
        *)         echo "$work/fuzz_hsafe.$1" ;;
    esac
}
seeds_of() {
    case $1 in
        chan|chan-ho) echo "$HSAFE_ROOT/tests/fuzz/chan_corpus" ;;
        http) echo "$HSAFE_ROOT/tests/fuzz/http_corpus" ;;
        *)    echo "$HSAFE_ROOT/tests/fuzz/corpus" ;;
    esac
}

build() {   # target -> 0 if built (bin_of, log $work/build.<target>.log)
    local t=$1
    local -a extra=()
    local san=fuzzer,address,undefined
    case $t in
        asm|chan) extra=(-DHSAFE_BACKEND_ASM) ;;
        asm-ho|chan-ho) extra=(-DHSAFE_BACKEND_ASM); san=fuzzer,undefined ;;
        ucontext) extra=(-DHSAFE_BACKEND_UCONTEXT) ;;
        fcontext) extra=(-DHSAFE_BACKEND_FCONTEXT -lboost_context) ;;
    esac
    clang -g -O1 -fsanitize="$san" -fno-sanitize-recover=undefined \
        -Wall -Wextra -Werror -I"$HSAFE_ROOT" -I"$HSAFE_ROOT/tests" \
        "$(src_of "$t")" -o "$(bin_of "$t")" "${extra[@]}" >"$work/build.$t.log" 2>&1
}

# fuzz TARGET SECONDS: libFuzzer from the seeds into a fresh working corpus;
# its exit status goes to $work/rc.<target>, its output to $work/fuzz.<target>.log.
fuzz() {
    local t=$1 secs=$2 rss=4096 asan=${ASAN_OPTIONS:-}
    # The backends: UAR on, as in phase 30; leaks are checked at exit of
    # each input too. chan and http: ASan's defaults.
    case $t in
        chan|http|chan-ho) rss=2048 ;;
        *) asan=detect_stack_use_after_return=1:detect_leaks=1 ;;
    esac
    rm -rf "$work/corpus.$t" "$work"/crash-"$t"-* && mkdir -p "$work/corpus.$t"
    ASAN_OPTIONS=$asan \
    "$(bin_of "$t")" -max_total_time="$secs" -print_final_stats=1 -timeout=20 \
        -rss_limit_mb="$rss" -artifact_prefix="$work/crash-$t-" \
        "$work/corpus.$t" "$(seeds_of "$t")" >"$work/fuzz.$t.log" 2>&1
    echo $? >"$work/rc.$t"
}

# Run "CMD ARG..." lines from stdin, at most $JOBS at a time.
run_parallel() {
    local line n=0
    while read -r line; do
        [ -n "$line" ] || continue
        if [ "$n" -ge "$JOBS" ]; then wait -n; n=$((n - 1)); fi
        # shellcheck disable=SC2086
        $line &
        n=$((n + 1))
    done
    wait
}

targets="asm ucontext fcontext chan http asm-ho chan-ho"
for t in $targets; do rm -f "$(bin_of "$t")" "$work/rc.$t"; done
printf 'build %s\n' $targets | run_parallel

backends="" run=""
for t in $targets; do
    if [ -x "$(bin_of "$t")" ]; then
        case $t in asm|ucontext|fcontext) backends="$backends $t" ;; esac
        run="$run $t"
    elif [ "$t" = ucontext ] || [ "$t" = fcontext ]; then
        hsafe_skip "$t: does not build here"
        sed 's/^/    | /' "$work/build.$t.log" | tail -n 5
    else
        hsafe_fail "$t: build"
        sed 's/^/    | /' "$work/build.$t.log" | tail -n 30
    fi
done

secs_of() {
    local s
    case $1 in
        asm)  s=$((total * 60 / 100)) ;;
        chan) s=$csecs ;;
        http) s=$hsecs ;;
        asm-ho|chan-ho) s=$osecs ;;
        *)    s=$((total * 20 / 100)) ;;
    esac
    [ "$1" = asm ] && [ "$backends" = " asm" ] && s=$total
    [ "$s" -ge 1 ] || s=1        # 0 would mean "no limit" to libFuzzer
    echo "$s"
}

# Longest first, so the two cores finish close together.
t0=$SECONDS
for t in $run; do echo "fuzz $t $(secs_of "$t")"; done | sort -k3,3nr | run_parallel
hsafe_log "fuzzers ran in $((SECONDS - t0))s"

for t in $run; do
    secs=$(secs_of "$t")
    log="$work/fuzz.$t.log"
    rc=$(cat "$work/rc.$t" 2>/dev/null || echo '?')
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    case $t in
        chan) what=channels ;;
        http) what="http parser" ;;
        asm-ho) what="asm, hand-over (no ASan)" ;;
        chan-ho) what="channels, hand-over (no ASan)" ;;
        *)    what=$t ;;
    esac
    if [ "$rc" = 0 ]; then
        case $t in
            chan|http|chan-ho) hsafe_pass "$what: ${secs}s, ${execs:-?} executions, $cov" ;;
            *) hsafe_pass "$what: ${secs}s, ${execs:-?} executions, working corpus $(find "$work/corpus.$t" -type f | wc -l) inputs, $cov" ;;
        esac
    else
        hsafe_fail "$what: libFuzzer exit $rc after ${execs:-?} executions (log $log)"
        grep -E -A25 'ERROR|mismatch|fuzz_chan:|fuzz_http:|SUMMARY|deadly' "$log" | head -n 50 | sed 's/^/    | /'
        ls "$work"/crash-"$t"-* 2>/dev/null | sed 's/^/    crash input: /'
    fi
done

hsafe_phase_end_counted fuzz
