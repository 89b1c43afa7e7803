# Phase 40-residue: the residue tests (tests/residue/README.md) over the
# matrix  {gcc, clang} x {-O0, -O2, -O3, -O2 -flto, -O3 -flto} x {asm, fcontext,
# ucontext} x {default wipe, HSAFE_WIPE_VOLATILE} x {lazy binding,
# LD_BIND_NOW=1}, each configuration built twice: normally (every scenario
# must show zero hits) and with -DHSAFE_TEST_NO_WIPE (every scenario must
# show the hits it plants: the positive control). Then the asm backend for
# aarch64 under qemu-aarch64 (static, so no lazy binding there), when
# backends/asm_aarch64.h exists and the cross tools are installed.
# The scenarios include scoped tasks (t-*: a secret in a task that ends by
# return, panic, cancellation while sleeping, in nested scopes, around a
# nested hsafe_run), run with lazy binding (or static) only.
#
# Plus a few builds with -march=native (AVX-512 in compiled code) where the
# CPU has AVX-512, and of dist/hsafe.h (O2dist, O3dist: the amalgamation
# instead of the split sources). One check per configuration line:
#   CONFIG  stack=<hits>  regs=<hits>  control=<hits>  PASS|FAIL
# stack = hits on the pooled stack, below the in-place caller, below
# hsafe_run on the native stack, and in hsafe_wipe'd buffers (normal build);
# regs = hits in the register dump after return (normal build); control =
# everything the HSAFE_TEST_NO_WIPE build found (must be > 0 per scenario).
#
# The builds, and then the runs, go $JOBS at a time (each run is its own
# process; the verdicts are printed in the order of the matrix afterwards).
# Budget: about 5 minutes on 2 cores (301 s on this loaded machine).
#
# By hand: bash tests/phases/40-residue.sh [FILTER]   (FILTER: a substring
# of the configuration name, e.g. "gcc.O2.asm"); RESIDUE_VERBOSE=1 prints
# every scenario's line.
. "$(dirname "$0")/../lib/common.sh"
set -u

PHASE=residue
B="$HSAFE_BUILD/40-residue"
SRC="$HSAFE_ROOT/tests/residue"
FILTER=${1:-}
mkdir -p "$B/bin" "$B/logs" "$B/obj" "$B/run"

if ! hsafe_need_pkgs gcc libc6-dev; then
    hsafe_phase_end "$PHASE" 0 0 1
fi
ARCH=$(uname -m)
if [ ! -f "$SRC/regs_$ARCH.S" ]; then
    echo "SKIPPED: no register dump helper for $ARCH (tests/residue/regs_$ARCH.S)"
    hsafe_phase_end "$PHASE" 0 0 1
fi

HAVE_CLANG=0 HAVE_LLD=0 HAVE_BOOST=0
command -v clang >/dev/null 2>&1 && HAVE_CLANG=1
if [ "$HAVE_CLANG" = 1 ] && hsafe_need_pkgs lld; then HAVE_LLD=1; fi
hsafe_need_pkgs libboost-context-dev && HAVE_BOOST=1

# ---- the inspector and the register helpers: once, fixed flags, no LTO ----
if ! gcc -std=gnu11 -O2 -g -Wall -Wextra -Werror -c "$SRC/inspect.c" -o "$B/obj/inspect.o" \
        >"$B/logs/inspect.log" 2>&1 ||
   ! gcc -c "$SRC/regs_$ARCH.S" -o "$B/obj/regs.o" >>"$B/logs/inspect.log" 2>&1; then
    hsafe_fail "build the inspector"
    sed 's/^/    | /' "$B/logs/inspect.log"
    hsafe_phase_end_counted "$PHASE"
fi

# ---- configuration names: cc.opt.backend.wipe --------------------------
CONFIGS=()
for cc in gcc clang; do
    for opt in O0 O2 O3 O2lto O3lto; do
        for be in asm fcontext ucontext; do
            for wipe in default volatile; do
                CONFIGS+=("$cc.$opt.$be.$wipe")
            done
        done
    done
done
# Extra: -fstack-clash-protection (the compiler probes each page of a large
# frame, so the jump scenario's 16 KiB frame faults in the guard instead of
# jumping over it): both compilers, every backend.
for cc in gcc clang; do
    for be in asm fcontext ucontext; do
        CONFIGS+=("$cc.O2scp.$be.default")
    done
done
# Extra: compiled with AVX-512 enabled (-march=native on this machine), where
# the compiler itself allocates xmm16-31 and k0-7 (hsafe once lost results
# there); only where the CPU has AVX-512, so the binary runs here.
# Extra: the amalgamation users vendor (dist/hsafe.h), when it exists.
if [ -f "$HSAFE_ROOT/dist/hsafe.h" ]; then
    CONFIGS+=(gcc.O2dist.asm.default clang.O3dist.asm.default gcc.O2dist.ucontext.volatile)
fi
if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
    CONFIGS+=(gcc.O2native.asm.default clang.O2native.asm.default
              gcc.O2native.fcontext.default gcc.O2native.ucontext.default)
fi

# Why a configuration is not run, or "" if it is.
skip_reason() {
    local cc opt be wipe
    IFS=. read -r cc opt be wipe <<<"$1"
    if [ "$cc" = clang ] && [ "$HAVE_CLANG" = 0 ]; then echo "clang not installed"; return; fi
    if [ "$cc" = clang ] && [[ $opt == *lto ]] && [ "$HAVE_LLD" = 0 ]; then echo "clang -flto needs lld"; return; fi
    if [ "$be" = fcontext ] && [ "$HAVE_BOOST" = 0 ]; then echo "fcontext needs libboost-context-dev"; return; fi
    echo ""
}

# build_one NAME KIND(normal|control): writes $B/bin/NAME.KIND
build_one() {
    local name=$1 kind=$2 cc opt be wipe
    local -a flags=(-std=gnu11 -g -Wall -Wextra -pthread)
    local -a libs=()
    IFS=. read -r cc opt be wipe <<<"$name"
    case $opt in *dist) flags+=(-I"$HSAFE_ROOT/dist"); opt=${opt%dist} ;; esac
    flags+=(-I"$HSAFE_ROOT" -I"$SRC")
    case $opt in
        O2lto|O3lto) flags+=("-${opt%lto}" -flto); [ "$cc" = clang ] && flags+=(-fuse-ld=lld) ;;
        O2native) flags+=(-O2 -march=native) ;;
        O2scp) flags+=(-O2 -fstack-clash-protection) ;;
        *) flags+=("-$opt") ;;
    esac
    case $be in
        asm) flags+=(-DHSAFE_BACKEND_ASM) ;;
        fcontext) flags+=(-DHSAFE_BACKEND_FCONTEXT); libs+=(-lboost_context) ;;
        ucontext) flags+=(-DHSAFE_BACKEND_UCONTEXT) ;;
    esac
    [ "$wipe" = volatile ] && flags+=(-DHSAFE_WIPE_VOLATILE)
    [ "$kind" = control ] && flags+=(-DHSAFE_TEST_NO_WIPE)
    "$cc" "${flags[@]}" "$SRC/residue.c" "$B/obj/inspect.o" "$B/obj/regs.o" "${libs[@]}" \
        -o "$B/bin/$name.$kind" >"$B/logs/build-$name.$kind.log" 2>&1
}
export -f build_one
export B SRC HSAFE_ROOT

SELECTED=()
for c in "${CONFIGS[@]}"; do
    case $c in *"$FILTER"*) ;; *) continue ;; esac
    why=$(skip_reason "$c")
    if [ -n "$why" ]; then
        hsafe_skip "$c: $why"
        continue
    fi
    SELECTED+=("$c")
done

hsafe_log "building ${#SELECTED[@]} configurations x {normal, control} with $JOBS jobs"
t0=$SECONDS
rm -f "$B"/bin/*
for c in "${SELECTED[@]}"; do
    printf '%s normal\n%s control\n' "$c" "$c"
done | xargs -P "$JOBS" -L 1 bash -c 'build_one "$0" "$1" || echo "build failed: $0 $1"' \
    >"$B/logs/builds.txt" 2>&1
hsafe_log "built in $((SECONDS - t0))s"

# field NAME LINE: the value of NAME=... in a RESIDUE summary line
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$2"; }

# run_pair KEY RUNNER PREFIX ENV...: runs PREFIX.normal and PREFIX.control
# (under RUNNER, "-" for none, with `env ENV...`); each one's output and
# exit status go to $B/run/KEY.<kind>.out and .rc.
run_pair() {
    local key=$1 runner=$2 prefix=$3 kind
    shift 3
    [ "$runner" = - ] && runner=""
    for kind in normal control; do
        # shellcheck disable=SC2086
        env "$@" $runner "$prefix.$kind" ${RESIDUE_VERBOSE:+-v} >"$B/run/$key.$kind.out" 2>&1
        echo $? >"$B/run/$key.$kind.rc"
    done
}
export -f run_pair
export RESIDUE_VERBOSE

# Run the "KEY RUNNER PREFIX ENV..." lines on stdin, $JOBS at a time.
run_pairs() {
    xargs -P "$JOBS" -L 1 bash -c 'run_pair "$@"' run_pair
}

# run_config LABEL KEY "RERUN": the verdict on run_pair KEY's results.
run_config() {
    local label=$1 key=$2 rerun=$3 out_n out_c rc_n rc_c sum_n sum_c stack regs ctrl verdict
    out_n=$(cat "$B/run/$key.normal.out" 2>/dev/null); rc_n=$(cat "$B/run/$key.normal.rc" 2>/dev/null)
    out_c=$(cat "$B/run/$key.control.out" 2>/dev/null); rc_c=$(cat "$B/run/$key.control.rc" 2>/dev/null)
    sum_n=$(grep '^RESIDUE ' <<<"$out_n" | tail -n 1)
    sum_c=$(grep '^RESIDUE ' <<<"$out_c" | tail -n 1)
    stack=$(( $(field stack "$sum_n") + $(field native "$sum_n") ))
    regs=$(field regs "$sum_n")
    ctrl=$(field control "$sum_c")
    if [ "$rc_n" = 0 ] && [ "$rc_c" = 0 ] && [ -n "$sum_n" ] && [ -n "$sum_c" ]; then
        verdict=PASS
    else
        verdict=FAIL
    fi
    printf '%-44s stack=%-4s regs=%-4s control=%-7s %s\n' "$label" "${stack:-?}" "${regs:-?}" "${ctrl:-?}" "$verdict"
    if [ "$verdict" = PASS ]; then
        HSAFE_PASSED=$((HSAFE_PASSED + 1))
        if [ -n "${RESIDUE_VERBOSE:-}" ]; then
            printf '%s\n%s\n' "$out_n" "$out_c" | sed 's/^/    | /'
        fi
    else
        HSAFE_FAILED=$((HSAFE_FAILED + 1))
        { printf '%s\n' "$out_n" | grep -E '^#|FAIL|^RESIDUE' | sed 's/^/    normal  | /'
          [ -z "$sum_n" ] && printf '%s\n' "$out_n" | tail -n 20 | sed 's/^/    normal  | /'
          printf '%s\n' "$out_c" | grep -E '^#|FAIL|^RESIDUE' | sed 's/^/    control | /'
          [ -z "$sum_c" ] && printf '%s\n' "$out_c" | tail -n 20 | sed 's/^/    control | /'
          echo "    rerun: $rerun -v --seed <seed>  (and .control)"
        }
    fi
}

t0=$SECONDS
rm -f "$B"/run/*
for c in "${SELECTED[@]}"; do
    if [ -x "$B/bin/$c.normal" ] && [ -x "$B/bin/$c.control" ]; then
        echo "$c.lazy - $B/bin/$c -u LD_BIND_NOW"
        echo "$c.now - $B/bin/$c LD_BIND_NOW=1"
    fi
done | run_pairs
printf '%-44s %s\n' "config (cc.opt.backend.wipe bind)" "stack/regs: normal build hits; control: HSAFE_TEST_NO_WIPE build hits"
for c in "${SELECTED[@]}"; do
    if [ ! -x "$B/bin/$c.normal" ] || [ ! -x "$B/bin/$c.control" ]; then
        hsafe_fail "$c: build failed"
        cat "$B/logs/build-$c.normal.log" "$B/logs/build-$c.control.log" 2>/dev/null | head -n 40 | sed 's/^/    | /'
        continue
    fi
    run_config "$c bind=lazy" "$c.lazy" "env -u LD_BIND_NOW $B/bin/$c.normal"
    run_config "$c bind=now" "$c.now" "env LD_BIND_NOW=1 $B/bin/$c.normal"
done
hsafe_log "native matrix ran in $((SECONDS - t0))s"

# ---- aarch64 under qemu (asm backend) -----------------------------------
run_aarch64() {
    local cross=aarch64-linux-gnu-gcc opt wipe name
    if [ ! -f "$HSAFE_ROOT/backends/asm_aarch64.h" ]; then
        hsafe_skip "aarch64: backends/asm_aarch64.h does not exist yet"
        return
    fi
    if ! hsafe_need_pkgs gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user; then
        hsafe_skip "aarch64: cross compiler or qemu-user missing"
        return
    fi
    if ! "$cross" -std=gnu11 -O2 -Wall -Wextra -Werror -c "$SRC/inspect.c" -o "$B/obj/inspect.a64.o" \
            >"$B/logs/inspect.a64.log" 2>&1 ||
       ! "$cross" -c "$SRC/regs_aarch64.S" -o "$B/obj/regs.a64.o" >>"$B/logs/inspect.a64.log" 2>&1; then
        hsafe_fail "aarch64: build the inspector"
        sed 's/^/    | /' "$B/logs/inspect.a64.log"
        return
    fi
    local -a names=()
    for opt in O0 O2 O3 O2lto O3lto; do
        for wipe in default volatile; do
            name="aarch64-gcc.$opt.asm.$wipe"
            case $name in *"$FILTER"*) names+=("$name") ;; esac
        done
    done
    for name in "${names[@]}"; do
        printf '%s normal\n%s control\n' "$name" "$name"
    done | xargs -P "$JOBS" -L 1 bash -c 'build_aarch64 "$0" "$1"'
    for name in "${names[@]}"; do
        if [ -x "$B/bin/$name.normal" ] && [ -x "$B/bin/$name.control" ]; then
            echo "$name.qemu qemu-aarch64 $B/bin/$name -u LD_BIND_NOW"
        fi
    done | run_pairs
    for name in "${names[@]}"; do
        if [ ! -x "$B/bin/$name.normal" ] || [ ! -x "$B/bin/$name.control" ]; then
            hsafe_fail "$name: build failed"
            cat "$B/logs/build-$name.normal.log" "$B/logs/build-$name.control.log" | head -n 40 | sed 's/^/    | /'
            continue
        fi
        # static binary: no dynamic linker, so LD_BIND_NOW does not apply
        run_config "$name (qemu, static)" "$name.qemu" "qemu-aarch64 $B/bin/$name.normal"
    done
}

# build_aarch64 NAME KIND(normal|control): writes $B/bin/NAME.KIND, static,
# with aarch64-linux-gnu-gcc (NAME: aarch64-gcc.<opt>.asm.<wipe>).
build_aarch64() {
    local name=$1 kind=$2 cc opt be wipe
    local -a flags=(-std=gnu11 -g -Wall -Wextra -static -pthread -I"$HSAFE_ROOT" -I"$SRC" -DHSAFE_BACKEND_ASM)
    IFS=. read -r cc opt be wipe <<<"$name"
    case $opt in *lto) flags+=("-${opt%lto}" -flto) ;; *) flags+=("-$opt") ;; esac
    [ "$wipe" = volatile ] && flags+=(-DHSAFE_WIPE_VOLATILE)
    [ "$kind" = control ] && flags+=(-DHSAFE_TEST_NO_WIPE)
    aarch64-linux-gnu-gcc "${flags[@]}" "$SRC/residue.c" "$B/obj/inspect.a64.o" "$B/obj/regs.a64.o" \
        -o "$B/bin/$name.$kind" >"$B/logs/build-$name.$kind.log" 2>&1
}
export -f build_aarch64
run_aarch64

hsafe_phase_end_counted "$PHASE"
