/* asan_fiber: hsafe's ASan fiber annotations are needed, and sufficient.
 *
 * Built twice per backend by tests/cmake/sanitize.cmake, with
 * -fsanitize=address and ASAN_OPTIONS=detect_stack_use_after_return=1:
 *   as is                       every scenario must run clean (exit 0, no
 *                               ASan error or warning about stacks);
 *   -DHSAFE_TEST_NO_ASAN_FIBER  hsafe's __sanitizer_start/finish_switch_fiber
 *                               calls are compiled out, and every scenario
 *                               must make ASan report (the test passes on
 *                               the report, see the PASS regex there).
 * Scenarios (argv[1]):
 *   uar        A suspended coroutine keeps a buffer in a fake frame. Main
 *              then calls a noreturn function (longjmp), which tells ASan to
 *              collect fake frames below the stack pointer, and calls a
 *              function with a buffer of the same size many times. Without
 *              fiber switching the coroutine's frames sit in the thread's
 *              fake stack, below main's stack pointer: they are collected,
 *              reused, and the coroutine reads a buffer that ASan believes
 *              returned: a false "stack-use-after-return". With it, each
 *              coroutine has its own fake stack. The coroutine then finishes,
 *              which frees its fake stack (hsafe__coro_exit must not use it
 *              afterwards: that crashed before it was marked no_sanitize).
 *   longjmp    setjmp/longjmp inside a coroutine: ASan unpoisons the stack
 *              from the stack pointer to the stack top it believes in. Without
 *              fiber switching that is the thread's stack top: "ASan is
 *              ignoring requested __asan_handle_no_return" (issue 189).
 *   panic      hsafe_panic() (noreturn) from deep inside a sanitized run:
 *              the same, on a pooled stack.
 *   abandon    (annotated build only) 3000 coroutines that use fake frames
 *              are abandoned while suspended (hsafe_coro_fini). Each had its
 *              own fake stack, which ASan frees only when a fiber leaves
 *              for good; hsafe_coro_fini must free it (it leaked about
 *              1 MiB of address space and the pages its frames touched,
 *              16 KiB here, each before): the resident set may not grow by
 *              16 MiB (it grew by 46 MiB; 1 MiB with the fix).
 */
#define HSAFE_IMPLEMENTATION
#include "hsafe.h"
#include "testutil.h"
#include <setjmp.h>

#define BUF 256

/* ---- uar ----------------------------------------------------------------- */

static uintptr_t keeper(hsafe_coro *co, uintptr_t x)
{
    volatile unsigned char buf[BUF];
    int i, bad = 0;
    for (i = 0; i < BUF; i++) buf[i] = (unsigned char)(0xA5 ^ i);
    hsafe_coro_yield(co, (uintptr_t)&buf[0]);
    for (i = 0; i < BUF; i++) bad += buf[i] != (unsigned char)(0xA5 ^ i);
    return (uintptr_t)bad + x;
}

static jmp_buf main_jb;
static void __attribute__((noinline, noreturn)) jump_back(jmp_buf jb) { longjmp(jb, 1); }
/* Called through a pointer where the recursion bottoms out, so that the
 * compiler sees a way out of the recursion (-Winfinite-recursion). */
static void (*volatile jump_back_ptr)(jmp_buf) = jump_back;

/* A noreturn call (longjmp) on the current stack, and back. */
static void __attribute__((noinline)) longjmp_here(void)
{
    if (!setjmp(main_jb)) jump_back(main_jb);
}

static int __attribute__((noinline)) same_size_frame(int seed)
{
    volatile unsigned char other[BUF];
    int i, s = 0;
    for (i = 0; i < BUF; i++) other[i] = (unsigned char)(seed + i);
    for (i = 0; i < BUF; i++) s += other[i];
    return s;
}

static void scenario_uar(void)
{
    static unsigned char stack[128 * 1024];
    hsafe_coro co;
    uintptr_t out = 0;
    int k;
    long sum = 0;
    CHECK_EQ(hsafe_coro_init(&co, stack, sizeof stack, keeper, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_coro_resume(&co, 0, &out), HSAFE_CORO_SUSPENDED);
    longjmp_here();
    /* More frames of this size class than one fake stack holds, so the
     * allocator comes round to every frame it believes free. */
    for (k = 0; k < 70000; k++) sum += same_size_frame(k);
    CHECK(sum != 0);
    CHECK_EQ(hsafe_coro_resume(&co, 0, &out), HSAFE_CORO_FINISHED);
    CHECK_EQ(out, 0);
    CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);
}

/* ---- longjmp -------------------------------------------------------------- */

static int __attribute__((noinline)) deep_then_jump(jmp_buf jb, int depth)
{
    volatile unsigned char pad[BUF];
    pad[0] = (unsigned char)depth;
    if (depth == 0) { jump_back_ptr(jb); return 0; }
    return deep_then_jump(jb, depth - 1) + pad[0];
}

static int __attribute__((noinline)) jump_twice(void)
{
    jmp_buf jb;
    volatile int rounds = 0;
    setjmp(jb);
    rounds++;
    if (rounds < 3) deep_then_jump(jb, 8);
    return rounds;
}

static uintptr_t jumper(hsafe_coro *co, uintptr_t x)
{
    int rounds = jump_twice();
    x += (uintptr_t)same_size_frame(1);
    x = hsafe_coro_yield(co, x);
    return x + (uintptr_t)rounds;
}

static void scenario_longjmp(void)
{
    static unsigned char stack[128 * 1024];
    hsafe_coro co;
    uintptr_t out = 0;
    CHECK_EQ(hsafe_coro_init(&co, stack, sizeof stack, jumper, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_coro_resume(&co, 0, &out), HSAFE_CORO_SUSPENDED);
    CHECK_EQ(hsafe_coro_resume(&co, 10, &out), HSAFE_CORO_FINISHED);
    CHECK_EQ(out, 13);
    CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);
}

/* ---- panic ---------------------------------------------------------------- */

static void panic_bottom(void) { hsafe_panic("bottom reached"); }
static void (*volatile panic_bottom_ptr)(void) = panic_bottom;

static uintptr_t __attribute__((noinline)) deep_then_panic(int depth)
{
    volatile unsigned char pad[BUF];
    pad[0] = (unsigned char)depth;
    if (depth == 0) { panic_bottom_ptr(); return 0; }
    return deep_then_panic(depth - 1) + pad[0];
}

static uintptr_t panicking(void *arg)
{
    return deep_then_panic(*(int *)arg);
}

static void scenario_panic(void)
{
    hsafe_pool pool;
    hsafe_pool_config cfg;
    hsafe_run_info info;
    int depth, i;
    memset(&cfg, 0, sizeof cfg);
    cfg.stack_size = 64 * 1024;
    CHECK_EQ(hsafe_pool_init(&pool, &cfg), HSAFE_OK);
    for (i = 0; i < 4; i++) {
        depth = 4 + 8 * i;
        CHECK_EQ(hsafe_run_ex(&pool, panicking, &depth, 0, &info), HSAFE_EPANIC);
        CHECK(strcmp(info.message, "bottom reached") == 0);
    }
    CHECK_EQ(hsafe_pool_destroy(&pool), HSAFE_OK);
}

/* ---- abandon --------------------------------------------------------------- */

static uintptr_t __attribute__((noinline)) fake_frames(hsafe_coro *co, unsigned d)
{
    volatile unsigned char frame[96];
    frame[d % sizeof frame] = (unsigned char)d;    /* variable index: a fake frame */
    if (d == 0) return hsafe_coro_yield(co, 1);
    return fake_frames(co, d - 1) + frame[d % sizeof frame];
}

static uintptr_t abandoned(hsafe_coro *co, uintptr_t x)
{
    return fake_frames(co, 6) + x;
}

static long vm_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

static void scenario_abandon(void)
{
    static unsigned char stack[64 * 1024];
    hsafe_coro co;
    uintptr_t out = 0;
    long before = -1, after;
    int i;
    for (i = 0; i < 3000; i++) {
        if (i == 100) before = vm_rss_kb();       /* after ASan's own warm-up */
        CHECK_EQ(hsafe_coro_init(&co, stack, sizeof stack, abandoned, NULL), HSAFE_OK);
        CHECK_EQ(hsafe_coro_resume(&co, 0, &out), HSAFE_CORO_SUSPENDED);
        CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);
    }
    after = vm_rss_kb();
    printf("resident: %ld KiB before 2900 abandoned coroutines, %ld KiB after\n", before, after);
    if (before < 0 || after < 0) return;
    CHECK(after - before < 16 * 1024);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "all";
    int all = strcmp(which, "all") == 0;
    (void)t_in_child;
    T_BEGIN("asan_fiber");
    if (all || !strcmp(which, "uar")) scenario_uar();
    if (all || !strcmp(which, "longjmp")) scenario_longjmp();
    if (all || !strcmp(which, "panic")) scenario_panic();
    if (all || !strcmp(which, "abandon")) scenario_abandon();
    T_END();
}
