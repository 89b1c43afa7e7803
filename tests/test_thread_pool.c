/* test_thread_pool: hsafe_thread_pool() gives each thread a pool of its own
 * with no setup, and a loop of scoped tasks can run on every thread at once.
 *
 * Proves, with 8 threads started together:
 *   - each thread's hsafe_thread_pool() is the same pointer at every call
 *     on that thread and different from every other thread's (compared
 *     while all are alive); its pool has the default configuration;
 *   - 200 sanitized runs per thread on it return the right results, and
 *     every stack is back in the pool (in_use 0) after them;
 *   - each thread also runs its own hsafe_loop on that pool, with a scope of
 *     8 tasks that sleep, yield and write into their parent's locals; the
 *     joins return 0 and the sums are right.
 * Built per backend like every test, and with -fsanitize=thread by
 * tests/cmake/sanitize.cmake (san.thread_pool.<backend>), where TSan must
 * report nothing: the threads share nothing but a mutex-protected table.
 */
#ifndef HSAFE_TEST_SHARED_IMPL
#define HSAFE_IMPLEMENTATION
#endif
#include "hsafe.h"
#include "testutil.h"

#if defined(_WIN32)
int main(void)
{
    T_BEGIN("test_thread_pool");
    (void)t_failures;
    T_SKIP("POSIX threads only (the Windows exit hook is built, not run here)");
}
#else
#include <pthread.h>

#define NTHREADS 8
#define RUNS 200
#define TASKS 8

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t all_recorded, all_compared;
static hsafe_pool *pools[NTHREADS];          /* under lock */
static int thread_failures;                  /* under lock */

static void fail(const char *what, int id)
{
    pthread_mutex_lock(&lock);
    fprintf(stderr, "thread %d: %s\n", id, what);
    thread_failures++;
    pthread_mutex_unlock(&lock);
}

static uintptr_t square_on_stack(void *arg)
{
    volatile unsigned char buf[1024];
    uintptr_t x = *(const uintptr_t *)arg;
    size_t i;
    for (i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(x + i);
    return x * x + buf[0] - (unsigned char)x;
}

typedef struct { int *slot; int value; } child_arg;

static int child(void *arg)
{
    child_arg *a = (child_arg *)arg;
    int rc = hsafe_sleep_until(hsafe_after(1000000));     /* 1 ms */
    if (rc) return rc;
    rc = hsafe_yield();
    if (rc) return rc;
    *a->slot = a->value;                                   /* the parent's local */
    return 0;
}

static int root(void *arg)
{
    int results[TASKS] = {0}, i, sum = 0, rc;
    child_arg args[TASKS];
    hsafe_task tasks[TASKS];
    hsafe_scope s;
    (void)arg;
    hsafe_scope_open(&s, "children", 0, HSAFE_FOREVER);
    for (i = 0; i < TASKS; i++) {
        args[i].slot = &results[i];
        args[i].value = i + 1;
        rc = hsafe_scope_spawn(&s, &tasks[i], child, &args[i], "child");
        if (rc) { hsafe_scope_cancel(&s); hsafe_scope_join(&s); return rc; }
    }
    rc = hsafe_scope_join(&s);
    for (i = 0; i < TASKS; i++) sum += results[i];
    return rc ? rc : (sum == TASKS * (TASKS + 1) / 2 ? 0 : -100);
}

static void *thread_main(void *arg)
{
    int id = (int)(intptr_t)arg, i;
    hsafe_pool *p = hsafe_thread_pool();
    hsafe_pool_stats st;
    hsafe_loop loop;
    hsafe_loop_config lc;
    if (!p) { fail("hsafe_thread_pool() returned NULL", id); return NULL; }
    if (hsafe_thread_pool() != p) fail("a second call gave another pool", id);
    pthread_mutex_lock(&lock);
    pools[id] = p;
    pthread_mutex_unlock(&lock);
    pthread_barrier_wait(&all_recorded);            /* every pool is alive now */
    pthread_mutex_lock(&lock);
    for (i = 0; i < NTHREADS; i++)
        if (i != id && pools[i] == p) thread_failures++;
    pthread_mutex_unlock(&lock);
    pthread_barrier_wait(&all_compared);
    for (i = 0; i < RUNS; i++) {
        uintptr_t x = (uintptr_t)(id * 1000 + i), r = 0;
        if (hsafe_run(hsafe_thread_pool(), square_on_stack, &x, &r) != HSAFE_OK || r != x * x) {
            fail("a sanitized run failed or returned a wrong result", id);
            break;
        }
    }
    memset(&lc, 0, sizeof lc);
    lc.pool = p;
    if (hsafe_loop_init(&loop, &lc) != HSAFE_OK) fail("hsafe_loop_init", id);
    else {
        if (hsafe_loop_run(&loop, root, NULL, "root") != 0) fail("the loop's root task failed", id);
        hsafe_loop_fini(&loop);
    }
    if (hsafe_pool_get_stats(p, &st) != HSAFE_OK || st.in_use != 0 ||
        st.stack_size != HSAFE_DEFAULT_STACK_SIZE)
        fail("the thread's pool is not in its default shape, or a stack is still out", id);
    return NULL;
}

int main(void)
{
    pthread_t th[NTHREADS];
    int i;
    T_BEGIN("test_thread_pool");
    CHECK(hsafe_thread_pool() != NULL);                   /* the main thread's */
    pthread_barrier_init(&all_recorded, NULL, NTHREADS);
    pthread_barrier_init(&all_compared, NULL, NTHREADS);
    for (i = 0; i < NTHREADS; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, thread_main, (void *)(intptr_t)i), 0);
    for (i = 0; i < NTHREADS; i++) pthread_join(th[i], NULL);
    CHECK_EQ(thread_failures, 0);
    for (i = 0; i < NTHREADS; i++) CHECK(pools[i] != NULL);
    T_END();
}
#endif
