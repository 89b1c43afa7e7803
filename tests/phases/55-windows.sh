# Phase 55-windows: hsafe on x86_64 Windows, cross-built with mingw-w64
# gcc against dist/hsafe.h and run under wine.
#   1. A throw-away wine prefix, made once per run (about 7 s and 700 MB)
#      in $HSAFE_BUILD/windows/wineprefix.
#   2. The test suite, cross-built with cmake/toolchains/x86_64-w64-mingw32.cmake
#      and -DHSAFE_TEST_DIST=ON, twice: RelWithDebInfo (-O2) and Debug
#      (-O0), with Ninja when it is there; ctest runs every program under
#      wine. Each configure+build
#      counts as one check, then every ctest test. Where a test needs a
#      child process it runs its own .exe again (t_in_child, tests/testutil.h).
#   3. examples/demo.c built alone against dist/hsafe.h (-static, -Wall
#      -Wextra -Wpedantic -Werror, -O0 and -O2) and run under wine.
#   0. Before anything needs wine, once x86_64-w64-mingw32-gcc is
#      installed (or can be: on a fresh machine this installs it first):
#      asking for a backend Windows does not have is an hsafe #error that
#      names the alternatives, not a missing system header
#      (-DHSAFE_BACKEND_UCONTEXT once failed with "ucontext.h: No such
#      file"); for hsafe.h and, when present, dist/hsafe.h.
# The C++ tests need g++-mingw-w64-x86-64; without it they are not built.
. "$(dirname "$0")/../lib/common.sh"

# check_refused LABEL HEADER-DIR DEFINE: compiling a file that includes
# hsafe.h with -DDEFINE for mingw must fail with an #error "hsafe: ..." and
# without any "No such file" for a system header.
check_refused() {
    local label=$1 dir=$2 def=$3 tmp out
    tmp=$(mktemp -d)
    printf '#include "hsafe.h"\nint main(void) { return 0; }\n' >"$tmp/refused.c"
    if out=$(x86_64-w64-mingw32-gcc -std=c11 -D"$def" -I"$dir" -c "$tmp/refused.c" -o "$tmp/refused.o" 2>&1); then
        hsafe_fail "$label: -D$def compiled for mingw; want an hsafe #error"
    elif printf '%s\n' "$out" | grep -q 'No such file' ||
         ! printf '%s\n' "$out" | grep -q '#error "hsafe:'; then
        hsafe_fail "$label: -D$def for mingw: not refused by an hsafe #error"
        printf '%s\n' "$out" | head -n 12 | sed 's/^/    | /'
    else
        hsafe_pass "$label: -D$def refused for mingw: $(printf '%s\n' "$out" | grep -o '#error "hsafe:.*' | head -n 1)"
    fi
    rm -rf "$tmp"
}

if hsafe_need_pkgs gcc-mingw-w64-x86-64 && command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1; then
    check_refused "hsafe.h" "$HSAFE_ROOT" HSAFE_BACKEND_UCONTEXT
    if [ -f "$HSAFE_ROOT/dist/hsafe.h" ]; then
        check_refused "dist/hsafe.h" "$HSAFE_ROOT/dist" HSAFE_BACKEND_UCONTEXT
    fi
else
    hsafe_skip "backend refusal for mingw: x86_64-w64-mingw32-gcc is not installed (and cannot be)"
fi

if ! hsafe_need_pkgs cmake make python3 gcc-mingw-w64-x86-64 wine64 wine; then
    HSAFE_SKIPPED=$((HSAFE_SKIPPED + 1))
    hsafe_phase_end_counted windows
fi
hsafe_need_pkgs g++-mingw-w64-x86-64 || hsafe_log "no x86_64-w64-mingw32-g++: the C++ tests will not be built"
hsafe_generator

work="$HSAFE_BUILD/windows"
mkdir -p "$work"
export WINEPREFIX="$work/wineprefix"
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml="      # no Mono/Gecko install prompts
unset DISPLAY WAYLAND_DISPLAY
if command -v wine >/dev/null 2>&1; then WINE=wine; else WINE=/usr/lib/wine/wine64; fi
cleanup() { wineserver -k >/dev/null 2>&1; }
trap cleanup EXIT

# dist/hsafe.h is generated (make dist); phase 20 checks that it is current.
# Here it must be current, so make it so when it is missing or stale.
if ! python3 amalgamate.py --check >/dev/null 2>&1; then
    hsafe_log "dist/hsafe.h missing or stale: regenerating it (python3 amalgamate.py)"
    if ! python3 amalgamate.py >"$work/amalgamate.log" 2>&1; then
        hsafe_fail "python3 amalgamate.py"
        sed 's/^/    | /' "$work/amalgamate.log"
        hsafe_phase_end_counted windows
    fi
fi

t0=$(date +%s)
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    hsafe_log "creating the wine prefix $WINEPREFIX"
    "$WINE" wineboot --init >"$work/wineboot.log" 2>&1
    wineserver -w >/dev/null 2>&1
fi
if [ -f "$WINEPREFIX/system.reg" ]; then
    hsafe_pass "wine prefix ($(( $(date +%s) - t0 )) s; $("$WINE" --version 2>/dev/null))"
else
    hsafe_fail "wine prefix: wineboot did not create $WINEPREFIX"
    tail -n 20 "$work/wineboot.log" | sed 's/^/    | /'
    hsafe_phase_end_counted windows
fi

build_and_test() {   # label builddir build-type
    local label=$1 dir=$2 type=$3
    hsafe_log "$label: configure + build in $dir ($HSAFE_GENERATOR)"
    hsafe_same_generator "$dir"
    if ! cmake -S "$HSAFE_ROOT" -B "$dir" -G "$HSAFE_GENERATOR" \
            -DCMAKE_TOOLCHAIN_FILE="$HSAFE_ROOT/cmake/toolchains/x86_64-w64-mingw32.cmake" \
            -DCMAKE_BUILD_TYPE="$type" -DHSAFE_BUILD_TESTS=ON -DHSAFE_TEST_DIST=ON \
            -DHSAFE_INSTALL=OFF -DHSAFE_WINEPREFIX="$WINEPREFIX" \
            >"$dir.configure.log" 2>&1; then
        hsafe_fail "$label: cmake configure"
        tail -n 40 "$dir.configure.log" | sed 's/^/    | /'
        return
    fi
    grep 'hsafe:' "$dir.configure.log" | sed 's/^/    /'
    # -k: build every test that compiles; the others are reported by ctest
    # as failures ("Not Run" / cannot open the .exe), errors shown here.
    if cmake --build "$dir" -j "$JOBS" -- $HSAFE_KEEP_GOING >"$dir.build.log" 2>&1; then
        hsafe_pass "$label: build"
    else
        hsafe_fail "$label: build (errors below; what did build is still tested)"
        grep -E -B2 -A8 'error|Error [0-9]|^FAILED:' "$dir.build.log" | head -n 120 | sed 's/^/    | /'
    fi
    hsafe_ctest_run "$dir"
}

build_and_test "mingw-w64 gcc -O2 (RelWithDebInfo)" "$work/o2" RelWithDebInfo
build_and_test "mingw-w64 gcc -O0 (Debug)" "$work/o0" Debug

# examples/demo.c, vendoring only dist/hsafe.h.
mkdir -p "$work/demo"
cp dist/hsafe.h "$work/demo/hsafe.h"
for opt in -O0 -O2; do
    exe="$work/demo/demo$opt.exe"
    if ! x86_64-w64-mingw32-gcc -std=c11 "$opt" -static -Wall -Wextra -Wpedantic -Werror \
            -I"$work/demo" examples/demo.c -o "$exe" >"$exe.log" 2>&1; then
        hsafe_fail "examples/demo.c $opt: does not build against dist/hsafe.h"
        head -n 40 "$exe.log" | sed 's/^/    | /'
        continue
    fi
    if out=$(timeout 120 "$WINE" "$exe" 2>&1) && printf '%s\n' "$out" | grep -q 'backend=asm/x86_64-win64'; then
        hsafe_pass "examples/demo.c $opt under wine"
    else
        hsafe_fail "examples/demo.c $opt under wine"
        printf '%s\n' "$out" | head -n 30 | sed 's/^/    | /'
    fi
done

hsafe_log "phase time: $(( $(date +%s) - t0 )) s"
hsafe_phase_end_counted windows
