/* test_coro_misuse: hsafe_coro_yield called from the wrong place aborts
 * with "hsafe: misuse:" on stderr instead of switching to garbage.
 *
 * Proves, each case in a child process that must die by SIGABRT with that
 * message:
 *   - yield from main on a coroutine that was created but never resumed;
 *   - yield from main on a coroutine that is suspended in a yield;
 *   - yield from main on a finished coroutine, on a never-initialised
 *     (all-zero) one, and on NULL;
 *   - yield on coroutine A from coroutine B's stack while A is running
 *     (A resumed B), and on a suspended coroutine C from B's stack;
 * and, as the control, that the same calls made correctly in the parent do
 * not abort. Resume misuse is not here: it returns errors (test_coro_basic).
 * On Windows each child is this program run again (t_in_child in
 * testutil.h); abort() there is exit code 3, which counts as SIGABRT.
 */
#ifndef HSAFE_TEST_SHARED_IMPL
#define HSAFE_IMPLEMENTATION
#endif
#include "hsafe.h"
#include "testutil.h"
#if !defined(_WIN32)
#include <sys/resource.h>
#endif

#define STACK_SIZE (64 * 1024)
static unsigned char stack_a[STACK_SIZE], stack_b[STACK_SIZE], stack_c[STACK_SIZE];
static hsafe_coro co_a, co_b, co_c;

static uintptr_t yield_twice(hsafe_coro *co, uintptr_t first)
{
    hsafe_coro_yield(co, first);
    hsafe_coro_yield(co, first + 1);
    return first + 2;
}

static void yield_never_resumed(void *arg)
{
    (void)arg;
    hsafe_coro_init(&co_a, stack_a, sizeof stack_a, yield_twice, NULL);
    hsafe_coro_yield(&co_a, 1);
    fprintf(stderr, "survived\n");
}

static void yield_suspended(void *arg)
{
    (void)arg;
    hsafe_coro_init(&co_a, stack_a, sizeof stack_a, yield_twice, NULL);
    hsafe_coro_resume(&co_a, 1, NULL);
    hsafe_coro_yield(&co_a, 1);
    fprintf(stderr, "survived\n");
}

static void yield_finished(void *arg)
{
    (void)arg;
    hsafe_coro_init(&co_a, stack_a, sizeof stack_a, yield_twice, NULL);
    while (hsafe_coro_resume(&co_a, 1, NULL) == HSAFE_CORO_SUSPENDED) {}
    hsafe_coro_yield(&co_a, 1);
    fprintf(stderr, "survived\n");
}

static void yield_zeroed(void *arg)
{
    hsafe_coro co;
    (void)arg;
    memset(&co, 0, sizeof co);
    hsafe_coro_yield(&co, 1);
    fprintf(stderr, "survived\n");
}

static void yield_null(void *arg)
{
    (void)arg;
    hsafe_coro_yield(NULL, 1);
    fprintf(stderr, "survived\n");
}

/* B yields the coroutine named by its first value, from B's own stack. */
static uintptr_t yield_other(hsafe_coro *co, uintptr_t first)
{
    (void)co;
    hsafe_coro_yield((hsafe_coro *)first, 1);
    fprintf(stderr, "survived inside B\n");
    return 0;
}

/* A resumes B; B yields A (running, but not on B's stack). */
static uintptr_t resume_b_with_a(hsafe_coro *co, uintptr_t first)
{
    (void)first;
    hsafe_coro_resume(&co_b, (uintptr_t)co, NULL);
    return 0;
}

static void yield_running_from_other_stack(void *arg)
{
    (void)arg;
    hsafe_coro_init(&co_a, stack_a, sizeof stack_a, resume_b_with_a, NULL);
    hsafe_coro_init(&co_b, stack_b, sizeof stack_b, yield_other, NULL);
    hsafe_coro_resume(&co_a, 0, NULL);
    fprintf(stderr, "survived\n");
}

static void yield_suspended_from_other_stack(void *arg)
{
    (void)arg;
    hsafe_coro_init(&co_c, stack_c, sizeof stack_c, yield_twice, NULL);
    hsafe_coro_resume(&co_c, 1, NULL);          /* C suspended */
    hsafe_coro_init(&co_b, stack_b, sizeof stack_b, yield_other, NULL);
    hsafe_coro_resume(&co_b, (uintptr_t)&co_c, NULL);
    fprintf(stderr, "survived\n");
}

/* The control: the same coroutines used correctly do not abort. */
static void control(void)
{
    uintptr_t out = 0;
    CHECK_EQ(hsafe_coro_init(&co_a, stack_a, sizeof stack_a, yield_twice, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_coro_resume(&co_a, 5, &out), HSAFE_CORO_SUSPENDED);
    CHECK_EQ(out, 5);
    CHECK_EQ(hsafe_coro_resume(&co_a, 0, &out), HSAFE_CORO_SUSPENDED);
    CHECK_EQ(out, 6);
    CHECK_EQ(hsafe_coro_resume(&co_a, 0, &out), HSAFE_CORO_FINISHED);
    CHECK_EQ(out, 7);
    CHECK_EQ(hsafe_coro_fini(&co_a), HSAFE_OK);
}

int main(int argc, char **argv)
{
#if !defined(_WIN32)
    struct rlimit no_core;
#endif
    t_child_dispatch(argc, argv);
    T_BEGIN("test_coro_misuse");
#if !defined(_WIN32)
    no_core.rlim_cur = no_core.rlim_max = 0;
    setrlimit(RLIMIT_CORE, &no_core);       /* the children abort on purpose */
#endif
    control();
    CHECK_DIES(yield_never_resumed, NULL, SIGABRT, "hsafe: misuse:");
    CHECK_DIES(yield_suspended, NULL, SIGABRT, "hsafe: misuse:");
    CHECK_DIES(yield_finished, NULL, SIGABRT, "hsafe: misuse:");
    CHECK_DIES(yield_zeroed, NULL, SIGABRT, "hsafe: misuse:");
    CHECK_DIES(yield_null, NULL, SIGABRT, "hsafe: misuse:");
    CHECK_DIES(yield_running_from_other_stack, NULL, SIGABRT, "hsafe: misuse:");
    CHECK_DIES(yield_suspended_from_other_stack, NULL, SIGABRT, "hsafe: misuse:");
    /* the message names the function */
    CHECK_DIES(yield_null, NULL, SIGABRT, "hsafe_coro_yield");
    T_END();
}
