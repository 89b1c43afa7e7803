/* asan_unpoison: each of hsafe's three __asan_unpoison_memory_region calls
 * is needed.
 *
 * A coroutine abandoned while suspended (hsafe_coro_fini, or a new
 * hsafe_coro_init on the same object) never returns from its frames, so the
 * redzones ASan put around their arrays stay poisoned on the stack memory.
 * Built per backend with -fsanitize=address and run with
 * detect_stack_use_after_return=0 (so frames live on the real stack);
 * each scenario must pass as is, and make ASan report when built with
 * -DHSAFE_TEST_NO_UNPOISON=<its bit> (tests/cmake/sanitize.cmake):
 *   fini     (bit 2) abandon, hsafe_coro_fini, then use the stack memory as
 *            plain data: a false "stack-buffer-underflow/overflow".
 *   init     (bit 1) abandon, hsafe_coro_init a new coroutine over the same
 *            object and stack (allowed: it is not running); the new
 *            coroutine's stack must carry no poison: ASan's own query says
 *            so, and a scan of the stack (what a stack-usage probe does)
 *            must not report.
 *   On the ucontext backend, fini and init are skipped: ASan's swapcontext
 *   interceptor clears the shadow of the whole coroutine stack at every
 *   switch, so no poison survives a suspension there.
 *   release  (bit 4) a pooled stack used by code hsafe does not know (another
 *            coroutine library, an arena) that left poison behind: here the
 *            public ASAN_POISON_MEMORY_REGION plays that part.
 *            hsafe_pool_release scans and wipes the stack, and must not
 *            report.
 */
#ifndef HSAFE_TEST_SHARED_IMPL
#define HSAFE_IMPLEMENTATION
#endif
#include "hsafe.h"
#include "testutil.h"
#include <sanitizer/asan_interface.h>

#define STACK (64 * 1024)
static unsigned char stack_mem[STACK] __attribute__((aligned(64)));

static int __attribute__((noinline)) deep_yield(hsafe_coro *co, int depth)
{
    volatile unsigned char pad[200];
    pad[0] = (unsigned char)depth;
    if (depth == 0) {
        hsafe_coro_yield(co, 1);
        return 0;
    }
    return deep_yield(co, depth - 1) + pad[0];
}

static uintptr_t abandoned(hsafe_coro *co, uintptr_t x)
{
    return (uintptr_t)deep_yield(co, 10) + x;
}

static uintptr_t shallow(hsafe_coro *co, uintptr_t x)
{
    (void)co;
    return x + 1;
}

/* Leave co suspended ten frames deep; check the premise: poison is there. */
static void suspend_deep(hsafe_coro *co)
{
    uintptr_t out = 0;
    CHECK_EQ(hsafe_coro_init(co, stack_mem, sizeof stack_mem, abandoned, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_coro_resume(co, 0, &out), HSAFE_CORO_SUSPENDED);
    CHECK(__asan_region_is_poisoned(stack_mem, sizeof stack_mem) != NULL);
}

/* Read every byte with instrumented loads. */
static unsigned scan(const unsigned char *p, size_t n)
{
    const volatile unsigned char *v = p;
    unsigned s = 0;
    size_t i;
    for (i = 0; i < n; i++) s += v[i];
    return s;
}

#if defined(HSAFE_BACKEND_UCONTEXT)
#  define ABANDON_LEAVES_POISON 0
#else
#  define ABANDON_LEAVES_POISON 1
#endif

static void scenario_fini(void)
{
    hsafe_coro co;
    suspend_deep(&co);
    CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);
    memset(stack_mem, 0x5a, sizeof stack_mem);      /* reuse as data */
    CHECK_EQ(scan(stack_mem, sizeof stack_mem), 0x5au * STACK);
}

static void scenario_init(void)
{
    hsafe_coro co;
    uintptr_t out = 0;
    suspend_deep(&co);
    CHECK_EQ(hsafe_coro_init(&co, stack_mem, sizeof stack_mem, shallow, NULL), HSAFE_OK);
    CHECK(__asan_region_is_poisoned(stack_mem, sizeof stack_mem) == NULL);
    scan(stack_mem, sizeof stack_mem);
    CHECK_EQ(hsafe_coro_resume(&co, 41, &out), HSAFE_CORO_FINISHED);
    CHECK_EQ(out, 42);
    CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);
}

static void scenario_release(void)
{
    hsafe_pool pool;
    hsafe_pool_config cfg;
    hsafe_stack *s = NULL;
    unsigned char *lo;
    memset(&cfg, 0, sizeof cfg);
    cfg.stack_size = STACK;
    CHECK_EQ(hsafe_pool_init(&pool, &cfg), HSAFE_OK);
    CHECK_EQ(hsafe_pool_acquire(&pool, &s), HSAFE_OK);
    lo = (unsigned char *)hsafe_stack_base(s);
    lo[hsafe_stack_size(s) - 100] = 7;                     /* something to wipe */
    ASAN_POISON_MEMORY_REGION(lo + hsafe_stack_size(s) - 4096, 64);  /* foreign poison */
    CHECK_EQ(hsafe_pool_release(&pool, s), HSAFE_OK);
    CHECK_EQ(hsafe_pool_acquire(&pool, &s), HSAFE_OK);     /* the same stack, all zero */
    CHECK_EQ(scan((const unsigned char *)hsafe_stack_base(s), hsafe_stack_size(s)), 0);
    CHECK_EQ(hsafe_pool_release(&pool, s), HSAFE_OK);
    CHECK_EQ(hsafe_pool_destroy(&pool), HSAFE_OK);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "all";
    int all = strcmp(which, "all") == 0;
    (void)t_in_child;
    T_BEGIN("asan_unpoison");
    if (!ABANDON_LEAVES_POISON && (!strcmp(which, "fini") || !strcmp(which, "init")))
        T_SKIP("ASan's swapcontext interceptor unpoisons the coroutine stack at every switch");
    if (ABANDON_LEAVES_POISON && (all || !strcmp(which, "fini"))) scenario_fini();
    if (ABANDON_LEAVES_POISON && (all || !strcmp(which, "init"))) scenario_init();
    if (all || !strcmp(which, "release")) scenario_release();
    T_END();
}
