# Phase 50-cross: the ctest suite on the other Linux architectures,
# cross-compiled with Debian's gcc cross compilers and run under qemu-user.
#
# Targets (toolchain files in cmake/toolchains/):
#   aarch64 riscv64 armhf i686 ppc64le s390x: the asm backend (the default
#   on each) and ucontext. (The has-asm column below lets a target without
#   an asm backend run build 1 only.)
# For each target:
#   1. gcc -O2: every test, every backend, as C and (with g++-<triple>,
#      installed here) as C++;
#   asm targets also:
#   2. the asm tests of build 1 again on another emulated CPU, so the other
#      register-clearing paths run: aarch64 without SVE (cortex-a57),
#      riscv64 with the V extension (rv64,v=true), i686 without AVX
#      (pentium3: SSE only) and without SSE (pentium2), s390x without the
#      vector facility (ppc64le and armhf have one path only);
#   3. gcc -O0: every test with HSAFE_BACKEND=asm, as C and (g++) as C++;
#   4. clang --target=<triple> -O2 (when clang is installed): every test
#      with HSAFE_BACKEND=asm, C only.
# (Until the toolchain files passed HSAFE_CROSS_NO_CXX on to CMake's C++
# check, builds 3 and 4 both built the C++ tests with g++ -O0 and
# HSAFE_BACKEND=asm: the same programs twice. Build 3 keeps them.)
# The three configures of a target run at the same time (each is mostly
# one process waiting on the next), before build 1.
# Builds use the amalgamated dist/hsafe.h (-DHSAFE_TEST_DIST=ON), which is
# what a cross user vendors; phase 20 checks that it is current.
# Each configure+build counts as one check, then every ctest test. Tests
# get 60 s each (they take well under 1 s under qemu). The phase prints,
# per target, how many tests ran and passed.
#
# Environment: HSAFE_CROSS_TARGETS="aarch64 armhf" runs a subset;
# HSAFE_CROSS_NO_CXX=1 neither installs nor uses the C++ cross compilers.
# Budget: about 13 minutes on 2 cores (760 s here, about 2 minutes per
# target), plus about a minute of apt-get when nothing is installed yet.
. "$(dirname "$0")/../lib/common.sh"

# name  triple  Debian arch  qemu  has-asm
ALL_TARGETS="
aarch64 aarch64-linux-gnu     arm64   qemu-aarch64 yes
riscv64 riscv64-linux-gnu     riscv64 qemu-riscv64 yes
armhf   arm-linux-gnueabihf   armhf   qemu-arm     yes
i686    i686-linux-gnu        i386    qemu-i386    yes
ppc64le powerpc64le-linux-gnu ppc64el qemu-ppc64le yes
s390x   s390x-linux-gnu       s390x   qemu-s390x   yes
"
want=${HSAFE_CROSS_TARGETS:-aarch64 riscv64 armhf i686 ppc64le s390x}
phase_start=$(date +%s)

if ! hsafe_need_pkgs cmake make python3 qemu-user; then
    hsafe_phase_end cross 0 0 1
fi
if [ ! -f dist/hsafe.h ]; then
    hsafe_fail "dist/hsafe.h does not exist (run python3 amalgamate.py)"
    hsafe_phase_end_counted cross
fi

# One apt-get run for every compiler (much faster than one per target).
pkgs=()
while read -r name triple debarch qemu asm; do
    [ -n "$name" ] || continue
    case " $want " in *" $name "*) ;; *) continue ;; esac
    pkgs+=("gcc-$triple" "libc6-dev-$debarch-cross")
    [ -n "${HSAFE_CROSS_NO_CXX:-}" ] || pkgs+=("g++-$triple")
done <<<"$ALL_TARGETS"
if ! hsafe_need_pkgs "${pkgs[@]}" >/dev/null 2>&1; then
    hsafe_log "not every cross package installs; trying target by target"
fi

work="$HSAFE_BUILD/cross"
mkdir -p "$work"
hsafe_generator
hsafe_log "generator: $HSAFE_GENERATOR"

# configure one build: builddir [cmake args...]; the log goes to
# builddir.configure.log, the exit status to builddir.configure.rc.
configure() {
    local dir=$1
    shift
    rm -rf "$dir" "$dir.configure.rc"
    mkdir -p "$dir"
    cmake -S "$HSAFE_ROOT" -B "$dir" -G "$HSAFE_GENERATOR" -DHSAFE_BUILD_TESTS=ON \
        -DHSAFE_TEST_DIST=ON -DHSAFE_INSTALL=OFF "$@" >"$dir.configure.log" 2>&1
    echo $? >"$dir.configure.rc"
}

# build + ctest one configured build; adds to the phase counts and to
# T_RAN/T_PASSED/T_SKIPPED (this target's tests).
build_and_test() {   # label builddir
    local label=$1 dir=$2
    if [ "$(cat "$dir.configure.rc" 2>/dev/null)" != 0 ]; then
        hsafe_fail "$label: cmake configure"
        tail -n 30 "$dir.configure.log" | sed 's/^/    | /'
        return
    fi
    grep 'hsafe:' "$dir.configure.log" | sed "s/^/    [$label] /"
    # -k: build every test that compiles; the others are "Not Run" failures.
    if cmake --build "$dir" -j "$JOBS" -- $HSAFE_KEEP_GOING >"$dir.build.log" 2>&1; then
        hsafe_pass "$label: build"
    else
        hsafe_fail "$label: build (errors below; what did build is still tested)"
        grep -E -B2 -A8 'error|Error [0-9]|^FAILED:' "$dir.build.log" | head -n 80 | sed 's/^/    | /'
    fi
    run_ctest "$label" "$dir"
}

# ctest in builddir, output to a log; shows what went wrong and adds to
# this target's counts. Extra arguments go to ctest.
run_ctest() {   # label builddir [ctest args...]
    local label=$1 dir=$2 log p0 f0 s0
    shift 2
    log="$dir.ctest${QEMU_CPU:+.$QEMU_CPU}.log"
    p0=$HSAFE_PASSED f0=$HSAFE_FAILED s0=$HSAFE_SKIPPED
    hsafe_ctest_run "$dir" "$@" >"$log" 2>&1
    # Show only what went wrong (the full log stays in $log).
    sed -n '/tests passed/,$p' "$log" | grep -E 'tests passed|Failed|Not Run|Timeout|Exception|SEGFAULT|Skipped' \
        | sed "s/^/    [$label] /"
    if [ "$HSAFE_FAILED" -gt "$f0" ]; then
        grep -E -A12 '\*\*\*(Failed|Exception|Timeout)|Not Run' "$log" | grep -v '^#' | head -n 60 \
            | sed 's/^/    | /'
    fi
    T_RAN=$((T_RAN + HSAFE_PASSED - p0 + HSAFE_FAILED - f0))
    T_PASSED=$((T_PASSED + HSAFE_PASSED - p0))
    T_SKIPPED=$((T_SKIPPED + HSAFE_SKIPPED - s0))
}

# The asm tests of a build again, with qemu emulating another CPU.
rerun_on_cpu() {   # label builddir cpu
    local label=$1 dir=$2
    QEMU_CPU=$3 run_ctest "$label" "$dir" -L asm
}

summary=()
while read -r name triple debarch qemu asm; do
    [ -n "$name" ] || continue
    case " $want " in *" $name "*) ;; *) continue ;; esac
    t0=$(date +%s)
    hsafe_log "=== $name ($triple, $qemu)"
    tpkgs=("gcc-$triple" "libc6-dev-$debarch-cross")
    if ! hsafe_need_pkgs "${tpkgs[@]}"; then
        hsafe_skip "$name: cross compiler not installable"
        summary+=("$name: skipped (no cross compiler)")
        continue
    fi
    if [ -z "${HSAFE_CROSS_NO_CXX:-}" ]; then
        hsafe_need_pkgs "g++-$triple" >/dev/null 2>&1 || hsafe_log "$name: no g++-$triple, C++ tests left out"
    fi
    tc="$HSAFE_ROOT/cmake/toolchains/$name-linux-gnu.cmake"
    common=(-DCMAKE_TOOLCHAIN_FILE="$tc" -DCMAKE_BUILD_TYPE=None -DHSAFE_TEST_TIMEOUT=60)
    nocxx=()
    [ -z "${HSAFE_CROSS_NO_CXX:-}" ] || nocxx=(-DHSAFE_CROSS_NO_CXX=ON)
    T_RAN=0 T_PASSED=0 T_SKIPPED=0
    have_clang=no
    command -v clang >/dev/null 2>&1 && have_clang=yes
    # The configures, side by side (see the top of this file).
    configure "$work/$name-gcc-O2" "${common[@]}" "${nocxx[@]}" \
        -DCMAKE_C_FLAGS=-O2 -DCMAKE_CXX_FLAGS=-O2 &
    if [ "$asm" = yes ]; then
        configure "$work/$name-gcc-O0" "${common[@]}" "${nocxx[@]}" \
            -DCMAKE_C_FLAGS=-O0 -DCMAKE_CXX_FLAGS=-O0 -DHSAFE_BACKEND=asm &
        if [ "$have_clang" = yes ]; then
            configure "$work/$name-clang-O2" "${common[@]}" \
                -DHSAFE_CROSS_NO_CXX=ON -DHSAFE_CROSS_CLANG=ON -DCMAKE_C_FLAGS=-O2 -DHSAFE_BACKEND=asm &
        fi
    fi
    wait
    build_and_test "$name gcc -O2" "$work/$name-gcc-O2"
    if [ "$asm" = yes ]; then
        case $name in
            aarch64) cpus="cortex-a57" ;;
            riscv64) cpus="rv64,v=true,vlen=256" ;;
            i686)    cpus="pentium3 pentium2" ;;
            s390x)   cpus="max,vx=off,vxeh=off,vxeh2=off" ;;
            *)       cpus="" ;;
        esac
        for cpu in $cpus; do
            if [ -f "$work/$name-gcc-O2/CTestTestfile.cmake" ]; then
                rerun_on_cpu "$name gcc -O2 asm, cpu $cpu" "$work/$name-gcc-O2" "$cpu"
            fi
        done
        build_and_test "$name gcc -O0 asm" "$work/$name-gcc-O0"
        if [ "$have_clang" = yes ]; then
            build_and_test "$name clang -O2 asm" "$work/$name-clang-O2"
        else
            hsafe_skip "$name clang: clang not installed"
        fi
    fi
    line="$name: $T_RAN tests ran, $T_PASSED passed, $((T_RAN - T_PASSED)) failed, $T_SKIPPED skipped ($(($(date +%s) - t0)) s)"
    hsafe_log "$line"
    summary+=("$line")
done <<<"$ALL_TARGETS"

echo "cross summary ($(($(date +%s) - phase_start)) s in all):"
for line in "${summary[@]}"; do echo "  $line"; done
hsafe_phase_end_counted cross
