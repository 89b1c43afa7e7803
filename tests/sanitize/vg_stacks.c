/* vg_stacks: hsafe's Valgrind client requests are needed, and sufficient.
 *
 * Run under valgrind (memcheck, --error-exitcode) per backend by
 * tests/cmake/sanitize.cmake. Every scenario must be clean as is; built with
 *   -DHSAFE_TEST_NO_VALGRIND_REGISTER (no VALGRIND_STACK_REGISTER/
 *       DEREGISTER), "switch" must make memcheck report errors;
 *   -DHSAFE_TEST_NO_VALGRIND_DEFINED=2 (no VALGRIND_MAKE_MEM_DEFINED in
 *       hsafe_coro_fini), "fini" must;
 *   -DHSAFE_TEST_NO_VALGRIND_DEFINED=4 (none before the release scan),
 *       "release" must.
 * Scenarios (argv[1]):
 *   switch   coroutine A (on one static array) resumes coroutine B (on the
 *            next one), both yield and resume twice. The arrays are adjacent,
 *            so a switch moves the stack pointer by less than valgrind's
 *            --max-stackframe: unregistered, memcheck takes each switch for
 *            a huge frame push or pop, marks live frames of the other side
 *            undefined or inaccessible, and reports.
 *   fini     a coroutine's frames return (memcheck marks what they used
 *            inaccessible, below the stack pointer), it finishes and is
 *            finalised; then its stack is used as plain memory again.
 *   release  a pooled stack that code hsafe does not know about marked
 *            partly inaccessible (another coroutine library's dead frames;
 *            here VALGRIND_MAKE_MEM_NOACCESS plays that part) is released:
 *            the release scan reads every byte of it.
 *   run      sanitized runs of a function with deep frames on a pooled
 *            stack (frames die below the stack pointer, then the release
 *            scan reads them): clean in every build.
 * Not covered, and not coverable by client requests: a coroutine stack
 * inside the thread's own stack (a local array of the resumer). memcheck
 * then takes every switch into it for a stack-pointer move within the
 * thread's stack (it does not look for a registered stack nested inside the
 * current one) and reports errors. Use static, heap or pooled stacks under
 * valgrind.
 */
#ifndef HSAFE_TEST_SHARED_IMPL
#define HSAFE_IMPLEMENTATION
#endif
#include "hsafe.h"
#include "testutil.h"
#if defined(__has_include)
#  if __has_include(<valgrind/memcheck.h>)
#    include <valgrind/memcheck.h>
#    define HAVE_MEMCHECK_H 1
#  endif
#endif

#define STACK (64 * 1024)
static unsigned char stacks[2][STACK] __attribute__((aligned(64)));
static hsafe_coro inner;

static uintptr_t inner_fn(hsafe_coro *co, uintptr_t x)
{
    volatile uintptr_t a[16];
    int i;
    for (i = 0; i < 16; i++) a[i] = x + (uintptr_t)i;
    x = hsafe_coro_yield(co, a[3]);
    return x + a[5];
}

static uintptr_t outer_fn(hsafe_coro *co, uintptr_t x)
{
    volatile uintptr_t b[16];
    uintptr_t o = 0;
    int i;
    for (i = 0; i < 16; i++) b[i] = x * 100 + (uintptr_t)i;
    CHECK_EQ(hsafe_coro_resume(&inner, x, &o), HSAFE_CORO_SUSPENDED);
    x = hsafe_coro_yield(co, o + b[2]);
    CHECK_EQ(hsafe_coro_resume(&inner, x, &o), HSAFE_CORO_FINISHED);
    return o + b[7];
}

static void scenario_switch(void)
{
    hsafe_coro outer;
    uintptr_t out = 0;
    int round;
    for (round = 0; round < 2; round++) {
        CHECK_EQ(hsafe_coro_init(&outer, stacks[0], STACK, outer_fn, NULL), HSAFE_OK);
        CHECK_EQ(hsafe_coro_init(&inner, stacks[1], STACK, inner_fn, NULL), HSAFE_OK);
        CHECK_EQ(hsafe_coro_resume(&outer, 1, &out), HSAFE_CORO_SUSPENDED);
        CHECK_EQ(out, 1 + 3 + 102);
        CHECK_EQ(hsafe_coro_resume(&outer, 2, &out), HSAFE_CORO_FINISHED);
        CHECK_EQ(out, 2 + 1 + 5 + 107);
        CHECK_EQ(hsafe_coro_fini(&outer), HSAFE_OK);
        CHECK_EQ(hsafe_coro_fini(&inner), HSAFE_OK);
    }
}

static uintptr_t __attribute__((noinline)) deep(int depth)
{
    volatile unsigned char pad[300];
    unsigned i;
    for (i = 0; i < sizeof pad; i++) pad[i] = (unsigned char)(depth + (int)i);
    if (depth == 0) return pad[7];
    return deep(depth - 1) + pad[depth];
}

static uintptr_t deep_run(void *arg)
{
    return deep(*(int *)arg);
}

static void scenario_run(void)
{
    hsafe_pool pool;
    hsafe_pool_config cfg;
    uintptr_t r = 0;
    int depth;
    memset(&cfg, 0, sizeof cfg);
    cfg.stack_size = STACK;
    CHECK_EQ(hsafe_pool_init(&pool, &cfg), HSAFE_OK);
    for (depth = 1; depth < 60; depth += 20) {
        CHECK_EQ(hsafe_run(&pool, deep_run, &depth, &r), HSAFE_OK);
        CHECK_EQ(r, deep(depth));
    }
    CHECK_EQ(hsafe_pool_destroy(&pool), HSAFE_OK);
}

static uintptr_t deep_then_return(hsafe_coro *co, uintptr_t x)
{
    (void)co;
    return deep((int)x);
}

/* Sum every byte, branching on each (memcheck reports reads of
 * inaccessible bytes, and branches on undefined ones). */
static unsigned long count_nonzero(const unsigned char *p, size_t n)
{
    unsigned long c = 0;
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i]) c++;
    return c;
}

static void scenario_fini(void)
{
    hsafe_coro co;
    uintptr_t out = 0;
    CHECK_EQ(hsafe_coro_init(&co, stacks[0], STACK, deep_then_return, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_coro_resume(&co, 30, &out), HSAFE_CORO_FINISHED);
    CHECK_EQ(out, deep(30));
    CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);
    CHECK(count_nonzero(stacks[0], STACK) > 0);   /* the frames' bytes are still there */
    memset(stacks[0], 0, STACK);                   /* and the memory is ours again */
}

static void scenario_release(void)
{
    hsafe_pool pool;
    hsafe_pool_config cfg;
    hsafe_stack *s = NULL;
    unsigned char *lo;
    size_t size;
    memset(&cfg, 0, sizeof cfg);
    cfg.stack_size = STACK;
    CHECK_EQ(hsafe_pool_init(&pool, &cfg), HSAFE_OK);
    CHECK_EQ(hsafe_pool_acquire(&pool, &s), HSAFE_OK);
    lo = (unsigned char *)hsafe_stack_base(s);
    size = hsafe_stack_size(s);
    memset(lo + size - 3000, 0x77, 3000);            /* used, from the top down */
#if defined(HAVE_MEMCHECK_H)
    VALGRIND_MAKE_MEM_NOACCESS(lo + size - 8192, 4096);   /* foreign dead frames */
#endif
    CHECK_EQ(hsafe_pool_release(&pool, s), HSAFE_OK);
    CHECK_EQ(hsafe_pool_acquire(&pool, &s), HSAFE_OK);    /* the same stack */
    CHECK_EQ(count_nonzero((const unsigned char *)hsafe_stack_base(s), hsafe_stack_size(s)), 0);
    CHECK_EQ(hsafe_pool_release(&pool, s), HSAFE_OK);
    CHECK_EQ(hsafe_pool_destroy(&pool), HSAFE_OK);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "all";
    int all = strcmp(which, "all") == 0;
    (void)t_in_child;
    T_BEGIN("vg_stacks");
    if (all || !strcmp(which, "switch")) scenario_switch();
    if (all || !strcmp(which, "fini")) scenario_fini();
    if (all || !strcmp(which, "release")) scenario_release();
    if (all || !strcmp(which, "run")) scenario_run();
    T_END();
}
