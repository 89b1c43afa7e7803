/* unwind: the runtime unwinder (libgcc's, as used by glibc backtrace(),
 * C++ exceptions and profilers) sees the coroutine's frames the way gdb
 * does (tests/gdb/run_gdb.sh), and exceptions still cannot leave a
 * coroutine.
 *
 * On the asm backend for x86_64 and aarch64 (the trampoline's CFI links a
 * coroutine's stack to its resumer's; aarch64 is run under qemu by
 * tests/phases/30-sanitizers.sh):
 *   - _Unwind_Backtrace from a function inside a coroutine lists, by
 *     function start, the coroutine's body, then the resumer's function,
 *     then main; the same inside a sanitized run (hsafe_run's caller);
 * Everywhere:
 *   - as C++ (tests/CMakeLists.txt builds every test as C++ too, and
 *     sanitize.cmake builds this one so): an exception thrown and caught
 *     inside a coroutine works; one that would leave the coroutine calls
 *     std::terminate (checked in a child process: SIGABRT, "terminate"),
 *     as before the CFI linked the stacks. Without the trampoline's
 *     personality routine, a resumer without an exception table (a C
 *     function) would let it escape past the switch.
 */
#define HSAFE_IMPLEMENTATION
#include "hsafe.h"
#include "testutil.h"
#include <unwind.h>
#if defined(__cplusplus)
#include <stdexcept>
#endif

#define STACK (64 * 1024)
#define MAXF 64

#if defined(HSAFE__BACKEND_ASM) && ((defined(__x86_64__) && defined(__GCC_HAVE_DWARF2_CFI_ASM)) || defined(__aarch64__))
#  define LINKED 1
#else
#  define LINKED 0
#endif

typedef struct walk { uintptr_t start[MAXF]; int n; } walk;
static walk seen;

static _Unwind_Reason_Code collect(struct _Unwind_Context *ctx, void *arg)
{
    walk *w = (walk *)arg;
    if (w->n < MAXF) w->start[w->n++] = (uintptr_t)_Unwind_GetRegionStart(ctx);
    return _URC_NO_REASON;
}

/* Index of the first frame at or after `from` whose function starts at fn. */
static int find(const walk *w, int from, uintptr_t fn)
{
    int i;
    for (i = from; i < w->n; i++)
        if (w->start[i] == fn) return i;
    return -1;
}

static volatile int sink;

__attribute__((noinline)) void leaf_walk(void)
{
    seen.n = 0;
    _Unwind_Backtrace(collect, &seen);
    sink++;
}

__attribute__((noinline)) uintptr_t body(hsafe_coro *co, uintptr_t v)
{
    (void)co;
    leaf_walk();
    return v + 1;
}

__attribute__((noinline)) uintptr_t run_body(void *arg)
{
    leaf_walk();
    return (uintptr_t)arg;
}

/* Called through volatile pointers, so the compiler keeps them whole (no
 * clones under other names, no inlining). */
__attribute__((noinline)) int resumer_function(hsafe_coro *co, uintptr_t v)
{
    uintptr_t out = 0;
    int rc = hsafe_coro_resume(co, v, &out);
    return rc < 0 ? rc : (int)out;
}
static int (*volatile resumer_ptr)(hsafe_coro *, uintptr_t) = resumer_function;

__attribute__((noinline)) int run_caller(hsafe_pool *pool)
{
    uintptr_t out = 0;
    return hsafe_run(pool, run_body, (void *)(uintptr_t)9, &out) == HSAFE_OK ? (int)out : -1;
}
static int (*volatile run_caller_ptr)(hsafe_pool *) = run_caller;

__attribute__((noinline)) void driver(void)
{
    static unsigned char stack[STACK];
    hsafe_coro co;
    hsafe_pool pool;
    hsafe_pool_config cfg;
    int i, j;

    CHECK_EQ(hsafe_coro_init(&co, stack, sizeof stack, body, NULL), HSAFE_OK);
    CHECK_EQ(resumer_ptr(&co, 1), 2);
    CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);
    i = find(&seen, 0, (uintptr_t)&body);
    CHECK(i >= 0);
    if (LINKED) {
        j = find(&seen, i + 1, (uintptr_t)&resumer_function);
        CHECK(j > i);
        CHECK(find(&seen, j + 1, (uintptr_t)&driver) > j);
    }
    printf("coroutine: %d frames, linked=%d\n", seen.n, LINKED);

    memset(&cfg, 0, sizeof cfg);
    cfg.stack_size = STACK;
    CHECK_EQ(hsafe_pool_init(&pool, &cfg), HSAFE_OK);
    CHECK_EQ(run_caller_ptr(&pool), 9);
    CHECK_EQ(hsafe_pool_destroy(&pool), HSAFE_OK);
    i = find(&seen, 0, (uintptr_t)&run_body);
    CHECK(i >= 0);
    if (LINKED) {
        j = find(&seen, i + 1, (uintptr_t)&run_caller);
        CHECK(j > i);
        CHECK(find(&seen, j + 1, (uintptr_t)&driver) > j);
    }
    printf("run: %d frames\n", seen.n);
}
static void (*volatile driver_ptr)(void) = driver;

#if defined(__cplusplus)
static uintptr_t catches_inside(hsafe_coro *co, uintptr_t v)
{
    (void)co;
    try {
        if (v) throw std::runtime_error("inside");
    } catch (const std::exception &) {
        return v + 100;
    }
    return v;
}

static uintptr_t escapes(hsafe_coro *co, uintptr_t v)
{
    (void)co;
    if (v) throw std::runtime_error("escape attempt");
    return v;
}

static void escape_child(void *arg)
{
    static unsigned char stack[STACK];
    hsafe_coro co;
    (void)arg;
    hsafe_coro_init(&co, stack, sizeof stack, escapes, NULL);
    try {
        resumer_ptr(&co, 1);
    } catch (...) {
        fprintf(stderr, "ESCAPED: the exception left the coroutine\n");
        _exit(3);
    }
    _exit(4);
}

static void exceptions(void)
{
    static unsigned char stack[STACK];
    hsafe_coro co;
    CHECK_EQ(hsafe_coro_init(&co, stack, sizeof stack, catches_inside, NULL), HSAFE_OK);
    CHECK_EQ(resumer_ptr(&co, 5), 105);
    CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);
    CHECK_DIES(escape_child, NULL, SIGABRT, "terminate");
}
#endif

int main(void)
{
    (void)t_in_child;
    T_BEGIN("unwind");
    driver_ptr();
#if defined(__cplusplus)
    exceptions();
#endif
    T_END();
}
