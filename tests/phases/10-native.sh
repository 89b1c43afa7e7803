# Phase 10-native: configure, build and ctest the native build, with the
# default compiler (cc/c++) and then with clang when it is installed.
# Each configure+build counts as one check, then every ctest test.
. "$(dirname "$0")/../lib/common.sh"

if ! hsafe_need_pkgs cmake make gcc g++ libc6-dev; then
    hsafe_phase_end native 0 0 1
fi
# fcontext tests need Boost.Context; without it they are simply not built.
hsafe_need_pkgs libboost-context-dev || hsafe_log "fcontext tests will not be built"
hsafe_generator

build_and_test() {   # label builddir [cmake args...]
    local label=$1 dir=$2
    shift 2
    hsafe_log "$label: configure + build in $dir ($HSAFE_GENERATOR)"
    hsafe_same_generator "$dir"
    if ! cmake -S "$HSAFE_ROOT" -B "$dir" -G "$HSAFE_GENERATOR" -DHSAFE_BUILD_TESTS=ON "$@" \
            >"$dir.configure.log" 2>&1; then
        hsafe_fail "$label: cmake configure"
        tail -n 40 "$dir.configure.log" | sed 's/^/    | /'
        return
    fi
    grep 'hsafe:' "$dir.configure.log" | sed 's/^/    /'
    # -k: build every test that compiles; those that do not are reported
    # by ctest as "Not Run" failures, with the compiler errors above.
    if cmake --build "$dir" -j "$JOBS" -- $HSAFE_KEEP_GOING >"$dir.build.log" 2>&1; then
        hsafe_pass "$label: build"
    else
        hsafe_fail "$label: build (errors below; what did build is still tested)"
        grep -E -B2 -A8 'error|Error [0-9]|^FAILED:' "$dir.build.log" | head -n 120 | sed 's/^/    | /'
    fi
    hsafe_ctest_run "$dir"
}

mkdir -p "$HSAFE_BUILD/native"
build_and_test "default compiler ($(cc --version 2>/dev/null | head -n 1))" "$HSAFE_BUILD/native/cc"

if command -v clang >/dev/null 2>&1 && command -v clang++ >/dev/null 2>&1; then
    build_and_test "clang ($(clang --version | head -n 1))" "$HSAFE_BUILD/native/clang" \
        -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
else
    hsafe_skip "clang: not installed"
fi

hsafe_phase_end_counted native
