/* gdb_bt: the program tests/gdb/run_gdb.sh drives under gdb.
 *
 * Each scenario (argv[1]) stops in a function named leaf_* running inside a
 * coroutine; run_gdb.sh breaks there, asks for `bt` and checks that the
 * backtrace walks through the switch into the resumer and on to main:
 *   pooled    coroutine on a pooled (mmap'd) stack, below the resumer's.
 *   above     coroutine stack in main's frame, so above the stack of the
 *             resumer (called from main): gdb's "previous frame inner to
 *             this frame" check must not stop the walk.
 *   nested    coroutine A resumes coroutine B; the break is in B: the walk
 *             crosses two switches.
 *   moved     the coroutine yields, and is resumed again by another
 *             function: the walk must reach the new resumer.
 *   run       a function inside hsafe_run: the walk reaches hsafe_run's
 *             caller.
 * Run without gdb, every scenario just runs and exits 0, so the program is
 * also a plain test of itself.
 */
#define HSAFE_IMPLEMENTATION
#include "hsafe.h"
#include "testutil.h"

#define STACK (64 * 1024)

static volatile int sink;

/* The break points. noinline + an asm barrier keeps each a real frame. */
__attribute__((noinline)) void leaf_pooled(int x) { sink = x; __asm__ __volatile__("" ::: "memory"); }
__attribute__((noinline)) void leaf_above(int x) { sink = x; __asm__ __volatile__("" ::: "memory"); }
__attribute__((noinline)) void leaf_nested(int x) { sink = x; __asm__ __volatile__("" ::: "memory"); }
__attribute__((noinline)) void leaf_moved(int x) { sink = x; __asm__ __volatile__("" ::: "memory"); }
__attribute__((noinline)) void leaf_run(int x) { sink = x; __asm__ __volatile__("" ::: "memory"); }

static hsafe_coro inner;

__attribute__((noinline)) uintptr_t body_pooled(hsafe_coro *co, uintptr_t v) { (void)co; leaf_pooled((int)v); return v + 1; }
__attribute__((noinline)) uintptr_t body_above(hsafe_coro *co, uintptr_t v) { (void)co; leaf_above((int)v); return v + 1; }
__attribute__((noinline)) uintptr_t body_inner(hsafe_coro *co, uintptr_t v) { (void)co; leaf_nested((int)v); return v + 1; }
__attribute__((noinline)) uintptr_t body_outer(hsafe_coro *co, uintptr_t v)
{
    uintptr_t out = 0;
    (void)co;
    hsafe_coro_resume(&inner, v, &out);
    return out + 1;
}
__attribute__((noinline)) uintptr_t body_moved(hsafe_coro *co, uintptr_t v)
{
    v = hsafe_coro_yield(co, v);
    leaf_moved((int)v);
    return v + 1;
}
__attribute__((noinline)) uintptr_t fn_run(void *arg) { leaf_run(*(int *)arg); return 1; }

/* The resumers gdb must find. */
__attribute__((noinline)) int resumer_function(hsafe_coro *co, uintptr_t v)
{
    uintptr_t out = 0;
    int rc = hsafe_coro_resume(co, v, &out);
    return rc < 0 ? rc : (int)out;
}
__attribute__((noinline)) int second_resumer(hsafe_coro *co, uintptr_t v)
{
    uintptr_t out = 0;
    int rc = hsafe_coro_resume(co, v, &out);
    return rc < 0 ? rc : (int)out;
}
__attribute__((noinline)) int run_caller(hsafe_pool *pool, int v)
{
    uintptr_t out = 0;
    return hsafe_run(pool, fn_run, &v, &out) == HSAFE_OK ? (int)out : -1;
}

int main(int argc, char **argv)
{
    unsigned char above_stack[STACK];          /* in main's frame */
    static unsigned char stack_b[STACK];
    const char *which = argc > 1 ? argv[1] : "all";
    int all = strcmp(which, "all") == 0;
    hsafe_pool pool;
    hsafe_pool_config cfg;
    hsafe_stack *s = NULL;
    hsafe_coro co;

    (void)t_in_child;
    T_BEGIN("gdb_bt");
    memset(&cfg, 0, sizeof cfg);
    cfg.stack_size = STACK;
    CHECK_EQ(hsafe_pool_init(&pool, &cfg), HSAFE_OK);
    CHECK_EQ(hsafe_pool_acquire(&pool, &s), HSAFE_OK);

    if (all || !strcmp(which, "pooled")) {
        CHECK_EQ(hsafe_coro_init(&co, hsafe_stack_base(s), hsafe_stack_size(s), body_pooled, NULL), HSAFE_OK);
        CHECK_EQ(resumer_function(&co, 1), 2);
        CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);
    }
    if (all || !strcmp(which, "above")) {
        CHECK_EQ(hsafe_coro_init(&co, above_stack, sizeof above_stack, body_above, NULL), HSAFE_OK);
        CHECK_EQ(resumer_function(&co, 2), 3);
        CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);
    }
    if (all || !strcmp(which, "nested")) {
        CHECK_EQ(hsafe_coro_init(&co, hsafe_stack_base(s), hsafe_stack_size(s), body_outer, NULL), HSAFE_OK);
        CHECK_EQ(hsafe_coro_init(&inner, stack_b, sizeof stack_b, body_inner, NULL), HSAFE_OK);
        CHECK_EQ(resumer_function(&co, 3), 5);
        CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);
        CHECK_EQ(hsafe_coro_fini(&inner), HSAFE_OK);
    }
    if (all || !strcmp(which, "moved")) {
        CHECK_EQ(hsafe_coro_init(&co, hsafe_stack_base(s), hsafe_stack_size(s), body_moved, NULL), HSAFE_OK);
        CHECK_EQ(resumer_function(&co, 4), 4);
        CHECK_EQ(second_resumer(&co, 5), 6);
        CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);
    }
    CHECK_EQ(hsafe_pool_release(&pool, s), HSAFE_OK);
    if (all || !strcmp(which, "run"))
        CHECK_EQ(run_caller(&pool, 6), 1);
    CHECK_EQ(hsafe_pool_destroy(&pool), HSAFE_OK);
    T_END();
}
