# Phase 20-amalgamation: dist/hsafe.h is current, and works on its own.
#   1. `python3 amalgamate.py --check`: the committed dist/hsafe.h is what
#      the sources give.
#   2. Only dist/hsafe.h is copied into an empty directory, and a small
#      two-file program (one file holds the implementation) is built
#      against it with each native backend (asm, ucontext, fcontext), as
#      C11 and as C++11, with gcc and clang, -Wall -Wextra -Wpedantic
#      -Werror, and run. Each build+run counts as one test.
#   3. tests/check_api_docs.py: every public function in the API section of
#      hsafe.h (and of dist/hsafe.h) has its doc comment where it is
#      declared.
. "$(dirname "$0")/../lib/common.sh"

if ! hsafe_need_pkgs python3 gcc g++ libc6-dev; then
    hsafe_phase_end amalgamation 0 0 1
fi

hsafe_check "amalgamate.py --check" python3 amalgamate.py --check
hsafe_check "every public function has a doc comment (hsafe.h)" python3 tests/check_api_docs.py hsafe.h
hsafe_check "every public function has a doc comment (dist/hsafe.h)" python3 tests/check_api_docs.py dist/hsafe.h

work="$HSAFE_BUILD/amalgamation"
rm -rf "$work"
mkdir -p "$work/vendor" "$work/src" "$work/bin"
if [ ! -f dist/hsafe.h ]; then
    hsafe_fail "dist/hsafe.h does not exist (run python3 amalgamate.py)"
    hsafe_phase_end_counted amalgamation
fi
cp dist/hsafe.h "$work/vendor/hsafe.h"

cat >"$work/src/impl.c" <<'EOF'
/* The implementation translation unit of a vendored hsafe. */
#define HSAFE_IMPLEMENTATION
#include "hsafe.h"
EOF

cat >"$work/src/main.c" <<'EOF'
/* A user of a vendored hsafe: declarations only; impl.c has the code. */
#include "hsafe.h"
#include <stdio.h>
#include <string.h>

static int failures;
#define EXPECT(c) do { if (!(c)) { fprintf(stderr, "line %d: %s\n", __LINE__, #c); failures++; } } while (0)

static uintptr_t squares(hsafe_coro *co, uintptr_t n)
{
    uintptr_t i;
    for (i = 1; i <= n; i++) hsafe_coro_yield(co, i * i);
    return 1000;
}

static uintptr_t fill(void *arg)
{
    char buf[512];
    memset(buf, 0x5a, sizeof buf);
    buf[sizeof buf - 1] = 0;
    return strlen(buf) + *(const uintptr_t *)arg;
}

static uintptr_t boom(void *arg)
{
    hsafe_panic("boom %d", *(const int *)arg);
}

int main(void)
{
    static unsigned char stack[64 * 1024];
    hsafe_coro co;
    hsafe_pool pool;
    hsafe_pool_config cfg;
    hsafe_pool_stats st;
    hsafe_run_info info;
    uintptr_t v = 0, sum = 0, add = 1;
    int n = 42, rc;

    printf("%s\n", hsafe_config_string());

    EXPECT(hsafe_coro_init(&co, stack, sizeof stack, squares, NULL) == HSAFE_OK);
    while ((rc = hsafe_coro_resume(&co, 5, &v)) == HSAFE_CORO_SUSPENDED) sum += v;
    EXPECT(rc == HSAFE_CORO_FINISHED && v == 1000 && sum == 55);
    EXPECT(hsafe_coro_fini(&co) == HSAFE_OK);

    memset(&cfg, 0, sizeof cfg);
    cfg.stack_size = 64 * 1024;
    EXPECT(hsafe_pool_init(&pool, &cfg) == HSAFE_OK);
    EXPECT(hsafe_run(&pool, fill, &add, &v) == HSAFE_OK && v == 512);
    rc = hsafe_run_ex(&pool, boom, &n, 0, &info);
    EXPECT(rc == HSAFE_EPANIC && strcmp(info.message, "boom 42") == 0);
    EXPECT(hsafe_pool_get_stats(&pool, &st) == HSAFE_OK && st.in_use == 0 && st.high_water >= 512);
    EXPECT(hsafe_pool_destroy(&pool) == HSAFE_OK);

    if (failures) return 1;
    printf("ok\n");
    return 0;
}
EOF

compilers=(gcc)
if hsafe_need_pkgs clang; then
    compilers+=(clang)
else
    hsafe_skip "clang builds of the vendored header (clang not installed)"
fi
have_boost=1
hsafe_need_pkgs libboost-context-dev || have_boost=0

for cc in "${compilers[@]}"; do
    case $cc in gcc) cxx=g++ ;; clang) cxx=clang++ ;; esac
    for lang in c11 c++11; do
        if [ "$lang" = c11 ]; then
            compile=("$cc" -std=c11)
        else
            compile=("$cxx" -x c++ -std=c++11)
        fi
        for backend in asm ucontext fcontext; do
            desc="$cc $lang $backend"
            libs=(-pthread)
            if [ "$backend" = fcontext ]; then
                if [ "$have_boost" = 0 ]; then
                    hsafe_skip "$desc: needs libboost-context-dev"
                    continue
                fi
                libs+=(-lboost_context)
            fi
            def="HSAFE_BACKEND_${backend^^}"
            exe="$work/bin/demo.$cc.$lang.$backend"
            log="$work/bin/demo.$cc.$lang.$backend.log"
            # Built inside the empty vendor directory: only hsafe.h is there.
            if ! (cd "$work/vendor" && "${compile[@]}" -O2 -Wall -Wextra -Wpedantic -Werror \
                    -I. -D"$def" ../src/main.c ../src/impl.c -o "$exe" "${libs[@]}") >"$log" 2>&1; then
                if [ "$backend" = asm ] && grep -q 'has no assembly for this target' "$log"; then
                    hsafe_skip "$desc: no asm backend for this architecture"
                    continue
                fi
                hsafe_fail "$desc: does not build against dist/hsafe.h alone"
                head -n 40 "$log" | sed 's/^/    | /'
                continue
            fi
            if out=$("$exe" 2>&1) && printf '%s\n' "$out" | grep -q "backend=$backend" \
                    && printf '%s\n' "$out" | grep -qx ok; then
                hsafe_pass "$desc: $(printf '%s\n' "$out" | head -n 1 | cut -d' ' -f1-3)"
            else
                hsafe_fail "$desc: the program failed or reported another backend"
                printf '%s\n' "$out" | head -n 20 | sed 's/^/    | /'
            fi
        done
    done
done

hsafe_phase_end_counted amalgamation
