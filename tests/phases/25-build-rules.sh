# Phase 25-build-rules: the rules of hsafe's build that no unit test sees.
#   1. The layout check of `amalgamate.py --check` catches what it must: a
#      part that tests a target macro (here __linux__ planted in
#      core/pool.h), and a part that includes another part. Each is
#      planted in a copy of the sources; the check must fail and name it.
#   2. The ABI tag: a translation unit built with another [global] option
#      than the implementation's must fail to link, and the linker's
#      message must name the option (HSAFE_BACKEND_UCONTEXT,
#      HSAFE_ASM_SAVE_FPU, -fcf-protection=full); the same two files with
#      the same options must link and run (the control).
#   3. Two libraries that each embed a private copy of dist/hsafe.h
#      (HSAFE_PRIVATE, tests/embed/lib.c built as a_* and b_*), linked into
#      one program: both build with -Wall -Wextra -Wpedantic -Werror (no
#      unused-function warnings), neither exports an hsafe symbol, both
#      work side by side, and an overflow in either copy's run prints that
#      copy's message (its stack size) and dies by SIGSEGV, whichever
#      copy's fault handler was installed last.
. "$(dirname "$0")/../lib/common.sh"
PHASE=build-rules

if ! hsafe_need_pkgs python3 gcc libc6-dev binutils; then
    hsafe_phase_end "$PHASE" 0 0 1
fi
W="$HSAFE_BUILD/build-rules"
rm -rf "$W"
mkdir -p "$W"
CC=${CC:-gcc}
WARN="-Wall -Wextra -Wpedantic -Werror"

# ---- 1. the layout check -----------------------------------------------------
plant() {   # plant NAME SED-SCRIPT FILE EXPECTED-MESSAGE
    local name=$1 script=$2 file=$3 want=$4 d="$W/layout-$1" out
    mkdir -p "$d"
    git ls-files -z | xargs -0 -I{} cp --parents {} "$d/" 2>/dev/null || cp -r . "$d/"
    sed -i "$script" "$d/$file"
    if out=$(cd "$d" && python3 amalgamate.py --check 2>&1); then
        echo "amalgamate.py --check passed with $name planted"
        return 1
    fi
    printf '%s\n' "$out" | grep -q "$want" || { printf '%s\n' "$out" | head -5; return 1; }
}
hsafe_check "layout: a target macro outside core/target.h is refused" \
    plant macro '0,/^#define HSAFE__RESIDENCY_MIN/s//#if defined(__linux__)\n#endif\n&/' core/pool.h \
    'core/pool.h:.*tests __linux__; only core/target.h reads target macros'
hsafe_check "layout: a part that includes a part is refused" \
    plant include '0,/^#define HSAFE__RESIDENCY_MIN/s//#include "core\/wipe.h"\n&/' core/pool.h \
    'only hsafe.h includes parts'

# ---- 2. the ABI tag ----------------------------------------------------------
cat >"$W/impl.c" <<'X'
#define HSAFE_IMPLEMENTATION
#include "hsafe.h"
X
cat >"$W/user.c" <<'X'
#include "hsafe.h"
#include <stdio.h>
static uintptr_t twice(hsafe_coro *co, uintptr_t x) { (void)co; return 2 * x; }
int main(void)
{
    static unsigned char stack[65536];
    hsafe_coro co;
    uintptr_t out = 0;
    if (hsafe_coro_init(&co, stack, sizeof stack, twice, NULL) != HSAFE_OK) return 2;
    hsafe_coro_resume(&co, 21, &out);
    hsafe_coro_fini(&co);
    printf("%lu\n", (unsigned long)out);
    return out == 42 ? 0 : 1;
}
X
abi_link() {   # abi_link NAME "IMPL FLAGS" "USER FLAGS" EXPECT(ok|symbol)
    local name=$1 iflags=$2 uflags=$3 want=$4 log="$W/abi.$1.log"
    # shellcheck disable=SC2086
    $CC -std=c11 -O2 $WARN -I"$HSAFE_ROOT" $iflags -c "$W/impl.c" -o "$W/abi.$name.impl.o" >"$log" 2>&1 || { cat "$log"; return 1; }
    # shellcheck disable=SC2086
    $CC -std=c11 -O2 $WARN -I"$HSAFE_ROOT" $uflags -c "$W/user.c" -o "$W/abi.$name.user.o" >>"$log" 2>&1 || { cat "$log"; return 1; }
    if $CC "$W/abi.$name.impl.o" "$W/abi.$name.user.o" -o "$W/abi.$name" -lpthread >>"$log" 2>&1; then
        [ "$want" = ok ] && "$W/abi.$name" >>"$log" 2>&1 && return 0
        echo "linked, but the options differ ($uflags)"; return 1
    fi
    [ "$want" != ok ] && grep -q "undefined reference to .$want" "$log" && return 0
    cat "$log"; return 1
}
hsafe_check "abi: same options link and run (control)" abi_link same "" "" ok
hsafe_check "abi: HSAFE_BACKEND_UCONTEXT in one file only: link error names it" \
    abi_link backend "" "-DHSAFE_BACKEND_UCONTEXT" hsafe_abi_HSAFE_BACKEND_is_ucontext
hsafe_check "abi: HSAFE_ASM_SAVE_FPU in one file only: link error names it" \
    abi_link fpu "" "-DHSAFE_ASM_SAVE_FPU" hsafe_abi_HSAFE_ASM_SAVE_FPU_is_on
if $CC -fcf-protection=full -E -x c /dev/null >/dev/null 2>&1; then
    hsafe_check "abi: -fcf-protection=full in one file only: link error names it" \
        abi_link cet "-fcf-protection=none" "-fcf-protection=full" hsafe_abi_CET_shadow_stacks_are_on
else
    hsafe_skip "abi: -fcf-protection=full: $CC does not have it"
fi

# ---- 3. two private copies in one program --------------------------------------
embed_build() {
    local cc=$1 d="$W/embed.$1" l
    mkdir -p "$d"
    cp dist/hsafe.h "$d/hsafe.h"
    for l in a b; do
        $cc -std=c11 -O2 $WARN -I"$d" -DLIB=$l -c tests/embed/lib.c -o "$d/lib$l.o" || return 1
        if nm -g --defined-only "$d/lib$l.o" | grep -i hsafe; then
            echo "lib$l.o exports hsafe symbols (above)"; return 1
        fi
    done
    $cc -std=c11 -O2 $WARN -c tests/embed/main.c -o "$d/main.o" &&
        $cc "$d/main.o" "$d/liba.o" "$d/libb.o" -o "$d/embed" -lpthread
}
embed_overflow() {   # embed_overflow CC a|b EXPECTED-SIZE
    local out rc
    out=$("$W/embed.$1/embed" "overflow-$2" 2>&1)
    rc=$?
    printf '%s\n' "$out" | grep -q "hsafe: stack overflow in a sanitized run: the $3-byte stack" || {
        echo "exit $rc, no message for copy $2:"; printf '%s\n' "$out" | head -5; return 1; }
    [ "$rc" -eq $((128 + 11)) ] || { echo "exit $rc, not SIGSEGV"; return 1; }
}
for cc in gcc clang; do
    if ! command -v "$cc" >/dev/null 2>&1; then
        hsafe_skip "embed.$cc: no $cc"
        continue
    fi
    if hsafe_check "embed.$cc: two private copies build (-Werror) and export nothing" embed_build "$cc"; then
        hsafe_check "embed.$cc: both copies run side by side" "$W/embed.$cc/embed" work
        hsafe_check "embed.$cc: an overflow in copy a gets a's message (b's handler passes it on)" \
            embed_overflow "$cc" a 65536
        hsafe_check "embed.$cc: an overflow in copy b gets b's message" embed_overflow "$cc" b 131072
    fi
done

hsafe_phase_end_counted "$PHASE"
