# Phase 30-sanitizers: hsafe under ASan+UBSan, TSan, memcheck and gdb.
#
# Two builds with -DHSAFE_TEST_SANITIZE=ON (tests/cmake/sanitize.cmake),
# each counted test by test:
#   clang  every ctest labelled "sanitize": the functional suite
#          (tests/test_*.c) per backend under ASan+UBSan with
#          detect_stack_use_after_return=1 and under valgrind; the
#          annotation tests (tests/sanitize/: each annotation compiled out
#          must make its tool report, and must not with it); the two-thread
#          TSan test; the stress test; the fuzz seed corpus under ASan and
#          valgrind; gdb backtraces and the runtime unwinder (tests/gdb/).
#   gcc    the same without the valgrind runs (the binaries valgrind runs
#          are not instrumented, so one compiler is enough for those); the
#          sanitizer instrumentation and the gdb view differ by compiler.
# Budget: under 8 minutes on 2 cores (about 3 here).
. "$(dirname "$0")/../lib/common.sh"

if ! hsafe_need_pkgs cmake make gcc g++ clang libclang-rt-14-dev; then
    hsafe_phase_end sanitizers 0 0 1
fi
hsafe_need_pkgs valgrind || hsafe_log "valgrind: not installed, its tests are not built"
hsafe_need_pkgs gdb || hsafe_log "gdb: not installed, the backtrace tests are not run"
hsafe_need_pkgs libboost-context-dev || hsafe_log "fcontext tests will not be built"

root="$HSAFE_BUILD/30-sanitizers"
mkdir -p "$root"

build_and_test() {   # label dir cc cxx [ctest args...]
    local label=$1 dir=$2 cc=$3 cxx=$4
    shift 4
    hsafe_log "$label: configure + build in $dir"
    # DWARF 4: valgrind 3.19 cannot read all of clang's DWARF 5.
    if ! cmake -S "$HSAFE_ROOT" -B "$dir" -G "Unix Makefiles" -DHSAFE_BUILD_TESTS=ON \
            -DHSAFE_TEST_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
            -DCMAKE_C_FLAGS=-gdwarf-4 -DCMAKE_CXX_FLAGS=-gdwarf-4 \
            >"$dir.configure.log" 2>&1; then
        hsafe_fail "$label: cmake configure"
        tail -n 40 "$dir.configure.log" | sed 's/^/    | /'
        return
    fi
    grep 'hsafe:' "$dir.configure.log" | sed 's/^/    /'
    if cmake --build "$dir" -j "$JOBS" --target hsafe-sanitize -- -k >"$dir.build.log" 2>&1; then
        hsafe_pass "$label: build"
    else
        hsafe_fail "$label: build (errors below; what did build is still tested)"
        grep -E -B2 -A8 'error|Error [0-9]' "$dir.build.log" | head -n 120 | sed 's/^/    | /'
    fi
    hsafe_ctest_run "$dir" -L sanitize "$@"
}

build_and_test "clang" "$root/clang" clang clang++
build_and_test "gcc" "$root/gcc" gcc g++ -LE valgrind

hsafe_phase_end_counted sanitizers
