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
#          are not instrumented, so one compiler is enough for those, and
#          the gcc build does not build the unit binaries only valgrind
#          runs); the sanitizer instrumentation and the gdb view differ by
#          compiler.
# Then, when gdb-multiarch, qemu-user, gcc-aarch64-linux-gnu and its libc
# (libc6-dev-arm64-cross, only recommended by the compiler) can be
# installed, the same gdb backtraces on the aarch64 asm backend: gdb_bt.c
# built static at -O0 and -O2, run under qemu-aarch64's gdbstub
# (run_gdb.sh with HSAFE_GDB_QEMU), one test per build and scenario; and
# unwind.c (libgcc's unwinder, C and, with g++-aarch64-linux-gnu, C++).
# Both builds use Ninja when it is there (hsafe_generator).
# Budget: about 10 minutes on 2 cores (11 on this loaded machine).
. "$(dirname "$0")/../lib/common.sh"

if ! hsafe_need_pkgs cmake make gcc g++ clang libclang-rt-14-dev; then
    hsafe_phase_end sanitizers 0 0 1
fi
hsafe_need_pkgs valgrind || hsafe_log "valgrind: not installed, its tests are not built"
hsafe_need_pkgs gdb || hsafe_log "gdb: not installed, the backtrace tests are not run"
hsafe_need_pkgs libboost-context-dev || hsafe_log "fcontext tests will not be built"
hsafe_generator

root="$HSAFE_BUILD/30-sanitizers"
mkdir -p "$root"

build_and_test() {   # label dir cc cxx cmake-arg [ctest args...]
    local label=$1 dir=$2 cc=$3 cxx=$4 extra=$5
    shift 5
    hsafe_log "$label: configure + build in $dir ($HSAFE_GENERATOR)"
    hsafe_same_generator "$dir"
    # DWARF 4: valgrind 3.19 cannot read all of clang's DWARF 5.
    if ! cmake -S "$HSAFE_ROOT" -B "$dir" -G "$HSAFE_GENERATOR" -DHSAFE_BUILD_TESTS=ON \
            -DHSAFE_TEST_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
            -DCMAKE_C_FLAGS=-gdwarf-4 -DCMAKE_CXX_FLAGS=-gdwarf-4 "$extra" \
            >"$dir.configure.log" 2>&1; then
        hsafe_fail "$label: cmake configure"
        tail -n 40 "$dir.configure.log" | sed 's/^/    | /'
        return
    fi
    grep 'hsafe:' "$dir.configure.log" | sed 's/^/    /'
    if cmake --build "$dir" -j "$JOBS" --target hsafe-sanitize -- $HSAFE_KEEP_GOING >"$dir.build.log" 2>&1; then
        hsafe_pass "$label: build"
    else
        hsafe_fail "$label: build (errors below; what did build is still tested)"
        grep -E -B2 -A8 'error|Error [0-9]|^FAILED:' "$dir.build.log" | head -n 120 | sed 's/^/    | /'
    fi
    hsafe_ctest_run "$dir" -L sanitize "$@"
}

build_and_test "clang" "$root/clang" clang clang++ -DHSAFE_TEST_SANITIZE_UNIT_VALGRIND=ON
# gcc: no valgrind runs, so the uninstrumented unit binaries they use are
# not built either (HSAFE_TEST_SANITIZE_UNIT_VALGRIND=OFF).
build_and_test "gcc" "$root/gcc" gcc g++ -DHSAFE_TEST_SANITIZE_UNIT_VALGRIND=OFF -LE valgrind

aarch64_gdb() {
    local dir="$root/aarch64-gdb" o s rc out src lang cc
    mkdir -p "$dir"
    for o in O0 O2; do
        if ! out=$(aarch64-linux-gnu-gcc -static -g -$o -I"$HSAFE_ROOT" -I"$HSAFE_ROOT/tests" \
                "$HSAFE_ROOT/tests/gdb/gdb_bt.c" -o "$dir/gdb_bt.$o" 2>&1); then
            hsafe_fail "aarch64 gdb_bt.$o: build"
            printf '%s\n' "$out" | tail -n 40 | sed 's/^/    | /'
            continue
        fi
        for s in pooled above nested moved run; do
            out=$(HSAFE_GDB_QEMU=qemu-aarch64 sh "$HSAFE_ROOT/tests/gdb/run_gdb.sh" gdb-multiarch \
                  "$dir/gdb_bt.$o" "$s" linked 2>&1)
            rc=$?
            case $rc in
                0) hsafe_pass "aarch64 gdb_bt.$o.$s: $(printf '%s\n' "$out" | tail -n 1)" ;;
                77) hsafe_skip "aarch64 gdb_bt.$o.$s: $(printf '%s\n' "$out" | tail -n 1)" ;;
                *) hsafe_fail "aarch64 gdb_bt.$o.$s"; printf '%s\n' "$out" | sed 's/^/    | /' ;;
            esac
        done
    done
    for lang in c c++; do
        cc=aarch64-linux-gnu-gcc
        if [ "$lang" = c++ ]; then
            hsafe_need_pkgs g++-aarch64-linux-gnu >/dev/null || { hsafe_skip "aarch64 unwind.cxx: no g++-aarch64-linux-gnu"; continue; }
            cc=aarch64-linux-gnu-g++
        fi
        if ! out=$($cc -x "$lang" -static -g -O2 -I"$HSAFE_ROOT" -I"$HSAFE_ROOT/tests" \
                "$HSAFE_ROOT/tests/gdb/unwind.c" -o "$dir/unwind.$lang" 2>&1); then
            hsafe_fail "aarch64 unwind ($lang): build"
            printf '%s\n' "$out" | tail -n 40 | sed 's/^/    | /'
            continue
        fi
        hsafe_check "aarch64 unwind ($lang) under qemu" timeout 120 qemu-aarch64 "$dir/unwind.$lang"
    done
}
if hsafe_need_pkgs gdb-multiarch qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross; then
    aarch64_gdb
else
    hsafe_log "gdb-multiarch/qemu-user/gcc-aarch64-linux-gnu/libc6-dev-arm64-cross: not installed, the aarch64 backtrace tests are not run"
fi

hsafe_phase_end_counted sanitizers
