/* test_gen: generators (api/gen.h), with and without a loop of tasks.
 *
 * Proves:
 *   - plain C iteration (no loop): every value in order, values in both
 *     directions (each next's `in` arrives at the pending yield, the first
 *     as `first`), a final value distinct from the yielded ones; next on a
 *     finished generator returns HSAFE_EFINISHED every time; close after
 *     the end is a no-op;
 *   - closing early: the producer sees HSAFE_ECANCELED at its yield, its
 *     cleanups run (counted) before close returns, the stack goes back to
 *     the pool wiped (a secret the producer kept there is gone); next then
 *     returns HSAFE_EFINISHED; closing a generator that never ran runs
 *     nothing and releases its stack;
 *   - hsafe_panic in a producer ends the generator (next: HSAFE_EPANIC,
 *     message kept, cleanups ran), not the program or the enclosing run;
 *   - a producer pulling another generator; next/close from inside the
 *     producer itself return HSAFE_ESTATE;
 *   - bad input: NULLs, a zeroed object, an exhausted pool;
 *   - inside tasks: a producer that sleeps blocks the consuming task while
 *     another task runs; two levels (a producer whose own generator sleeps);
 *     cancelling the consuming task reaches the producer's blocking call;
 *     a producer may run a combinator (a scope of its own, joined before it
 *     yields); next from a second task while the producer blocks is
 *     HSAFE_ESTATE; close from a task unwinds a producer that sleeps in its
 *     cleanup;
 *   - misuse aborts with a message naming it (in a child process; not
 *     under valgrind, where each aborting child takes seconds): yield
 *     outside the producer, yielding again after HSAFE_ECANCELED, yielding
 *     with a scope open, a blocking call in a producer that no task pulls.
 * The pools are checked empty afterwards (no stack leaked).
 */
#ifndef HSAFE_TEST_SHARED_IMPL
#define HSAFE_IMPLEMENTATION
#endif
#include "hsafe.h"
#include "testutil.h"
#include "taskutil.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if !defined(_WIN32)
#include <sys/resource.h>
#endif

static hsafe_pool pool;

static void pool_fresh(size_t cap)
{
    hsafe_pool_config pc;
    memset(&pc, 0, sizeof pc);
    pc.stack_size = TU_STACK(64 * 1024);
    pc.capacity = cap;
    if (hsafe_pool_init(&pool, &pc) != 0) { fprintf(stderr, "pool init\n"); exit(2); }
}

static void pool_done(void)
{
    hsafe_pool_stats st;
    hsafe_pool_get_stats(&pool, &st);
    CHECK_EQ(st.in_use, 0);
    CHECK_EQ(hsafe_pool_destroy(&pool), 0);
}

/* ---- plain iteration ---------------------------------------------------- */

static uintptr_t echo_seen[8];

/* yields first*10, then 10*(each in) + i, five values, returns 1000 */
static uintptr_t echo(hsafe_gen *g, void *arg, uintptr_t first)
{
    uintptr_t in = first, i;
    CHECK_EQ((uintptr_t)arg, 77);
    for (i = 0; i < 5; i++) {
        echo_seen[i] = in;
        if (hsafe_gen_yield(g, in * 10 + i, &in) != 0) return 1;
    }
    return 1000;
}

static void test_plain(void)
{
    hsafe_gen g;
    uintptr_t v = 5, i;
    int rc;
    pool_fresh(2);
    CHECK_EQ(hsafe_gen_init(&g, &pool, echo, (void *)(uintptr_t)77), 0);
    CHECK_EQ(hsafe_gen_alive(&g), 1);
    for (i = 0; i < 5; i++) {
        rc = hsafe_gen_next(&g, i + 1, &v);
        CHECK_EQ(rc, HSAFE_GEN_VALUE);
        CHECK_EQ(v, (i + 1) * 10 + i);
        CHECK_EQ(echo_seen[i], i + 1);
    }
    CHECK_EQ(hsafe_gen_next(&g, 9, &v), HSAFE_GEN_DONE);
    CHECK_EQ(v, 1000);
    CHECK_EQ(hsafe_gen_alive(&g), 0);
    v = 5;
    CHECK_EQ(hsafe_gen_next(&g, 0, &v), HSAFE_EFINISHED);
    CHECK_EQ(v, 0);
    CHECK_EQ(hsafe_gen_next(&g, 0, NULL), HSAFE_EFINISHED);
    CHECK_EQ(hsafe_gen_close(&g), 0);
    CHECK_EQ(hsafe_gen_close(&g), 0);
    CHECK_EQ(hsafe_gen_message(&g)[0], 0);
    pool_done();
}

/* ---- closing early, cleanups, wipe --------------------------------------- */

static int cleanups_ran, saw_cancel;
static const char secret[] = "gen-secret-7b3f9a";

static void count_cleanup(void *arg) { cleanups_ran += (int)(intptr_t)arg; }

static uintptr_t keeper(hsafe_gen *g, void *arg, uintptr_t first)
{
    volatile char copy[sizeof secret];
    hsafe_cleanup c1, c2;
    uintptr_t i;
    (void)arg; (void)first;
    memcpy((char *)copy, secret, sizeof secret);
    hsafe_cleanup_push(&c1, count_cleanup, (void *)1);
    hsafe_cleanup_push(&c2, count_cleanup, (void *)10);
    for (i = 0;; i++) {
        int rc = hsafe_gen_yield(g, i + (uintptr_t)copy[0], NULL);
        if (rc) {
            CHECK_EQ(rc, HSAFE_ECANCELED);
            saw_cancel++;
            break;
        }
    }
    hsafe_cleanup_pop(&c2, 1);
    hsafe_cleanup_pop(&c1, 1);
    return 5;
}

/* Does any stack of the pool still hold the secret? Acquire them all. */
static int pool_has_secret(void)
{
    hsafe_stack *st[4];
    size_t n = 0, i, k;
    int found = 0;
    while (n < 4 && hsafe_pool_acquire(&pool, &st[n]) == 0) n++;
    for (i = 0; i < n; i++) {
        const unsigned char *p = (const unsigned char *)hsafe_stack_base(st[i]);
        size_t size = hsafe_stack_size(st[i]);
        for (k = 0; k + sizeof secret <= size; k++)
            if (p[k] == (unsigned char)secret[0] && memcmp(p + k, secret, sizeof secret - 1) == 0) found = 1;
    }
    for (i = 0; i < n; i++) hsafe_pool_release(&pool, st[i]);
    return found;
}

/* leaves a handler (record outside its stack) registered: it runs as
 * the producer returns */
static hsafe_cleanup static_record;

static uintptr_t leaves_cleanup(hsafe_gen *g, void *arg, uintptr_t first)
{
    (void)arg; (void)first;
    hsafe_cleanup_push(&static_record, count_cleanup, (void *)100);
    while (hsafe_gen_yield(g, 1, NULL) == 0) {}
    return 0;
}

static uintptr_t never(hsafe_gen *g, void *arg, uintptr_t first)
{
    (void)g; (void)arg; (void)first;
    cleanups_ran += 1000;
    return 0;
}

static void test_close(void)
{
    hsafe_gen g;
    uintptr_t v;
    hsafe_pool_stats st;
    pool_fresh(1);
    cleanups_ran = saw_cancel = 0;
    CHECK_EQ(hsafe_gen_init(&g, &pool, keeper, NULL), 0);
    CHECK_EQ(hsafe_gen_next(&g, 0, &v), HSAFE_GEN_VALUE);
    CHECK_EQ(hsafe_gen_next(&g, 0, &v), HSAFE_GEN_VALUE);
    CHECK_EQ(v, 1 + (uintptr_t)secret[0]);
    CHECK_EQ(cleanups_ran, 0);
    CHECK_EQ(hsafe_gen_close(&g), 0);
    CHECK_EQ(saw_cancel, 1);
    CHECK_EQ(cleanups_ran, 11);
    CHECK_EQ(hsafe_gen_alive(&g), 0);
    hsafe_pool_get_stats(&pool, &st);
    CHECK_EQ(st.in_use, 0);
    CHECK(!pool_has_secret());
    CHECK_EQ(hsafe_gen_next(&g, 0, &v), HSAFE_EFINISHED);
    CHECK_EQ(hsafe_gen_close(&g), 0);

    cleanups_ran = 0;
    CHECK_EQ(hsafe_gen_init(&g, &pool, leaves_cleanup, NULL), 0);
    CHECK_EQ(hsafe_gen_next(&g, 0, &v), HSAFE_GEN_VALUE);
    CHECK_EQ(hsafe_gen_close(&g), 0);
    CHECK_EQ(cleanups_ran, 100);

    /* never started: nothing runs, the stack comes back */
    cleanups_ran = 0;
    CHECK_EQ(hsafe_gen_init(&g, &pool, never, NULL), 0);
    CHECK_EQ(hsafe_gen_close(&g), 0);
    CHECK_EQ(cleanups_ran, 0);
    CHECK_EQ(hsafe_gen_next(&g, 0, &v), HSAFE_EFINISHED);
    pool_done();
}

/* ---- panic ----------------------------------------------------------------- */

static uintptr_t panicker(hsafe_gen *g, void *arg, uintptr_t first)
{
    hsafe_cleanup c;
    (void)arg; (void)first;
    hsafe_cleanup_push(&c, count_cleanup, (void *)3);
    hsafe_gen_yield(g, 1, NULL);
    hsafe_panic("producer gave up at %d", 2);
}

static uintptr_t in_run(void *arg)
{
    hsafe_gen g;
    uintptr_t v;
    (void)arg;
    CHECK_EQ(hsafe_gen_init(&g, &pool, panicker, NULL), 0);
    CHECK_EQ(hsafe_gen_next(&g, 0, &v), HSAFE_GEN_VALUE);
    CHECK_EQ(hsafe_gen_next(&g, 0, &v), HSAFE_EPANIC);
    CHECK(strstr(hsafe_gen_message(&g), "producer gave up at 2") != NULL);
    CHECK_EQ(hsafe_gen_next(&g, 0, &v), HSAFE_EFINISHED);
    return 9;
}

static void test_panic(void)
{
    hsafe_gen g;
    uintptr_t v, r = 0;
    pool_fresh(3);
    cleanups_ran = 0;
    CHECK_EQ(hsafe_gen_init(&g, &pool, panicker, NULL), 0);
    CHECK_EQ(hsafe_gen_next(&g, 0, &v), HSAFE_GEN_VALUE);
    CHECK_EQ(hsafe_gen_next(&g, 0, &v), HSAFE_EPANIC);
    CHECK_EQ(cleanups_ran, 3);
    CHECK(strstr(hsafe_gen_message(&g), "producer gave up at 2") != NULL);
    CHECK_EQ(hsafe_gen_alive(&g), 0);
    /* inside a run: the generator ends, the run goes on */
    CHECK_EQ(hsafe_run(&pool, in_run, NULL, &r), 0);
    CHECK_EQ(r, 9);
    CHECK_EQ(cleanups_ran, 6);
    pool_done();
}

/* ---- nesting, ESTATE, bad input ------------------------------------------ */

static uintptr_t upto3(hsafe_gen *g, void *arg, uintptr_t first)
{
    uintptr_t i;
    (void)arg; (void)first;
    for (i = 1; i <= 3; i++)
        if (hsafe_gen_yield(g, i, NULL)) return 0;
    return 0;
}

/* doubles what an inner generator yields; checks next/close on itself */
static uintptr_t doubler(hsafe_gen *g, void *arg, uintptr_t first)
{
    hsafe_gen inner;
    uintptr_t v, sum = 0;
    (void)arg; (void)first;
    CHECK_EQ(hsafe_gen_next(g, 0, &v), HSAFE_ESTATE);
    CHECK_EQ(hsafe_gen_close(g), HSAFE_ESTATE);
    CHECK_EQ(hsafe_gen_init(&inner, &pool, upto3, NULL), 0);
    while (hsafe_gen_next(&inner, 0, &v) == HSAFE_GEN_VALUE) {
        sum += v;
        if (hsafe_gen_yield(g, v * 2, NULL)) break;
    }
    hsafe_gen_close(&inner);
    return sum;
}

static void test_nested_and_bad(void)
{
    hsafe_gen g, zero;
    uintptr_t v, got[4];
    int n = 0, rc;
    pool_fresh(2);
    CHECK_EQ(hsafe_gen_init(&g, &pool, doubler, NULL), 0);
    while ((rc = hsafe_gen_next(&g, 0, &v)) == HSAFE_GEN_VALUE && n < 4) got[n++] = v;
    CHECK_EQ(rc, HSAFE_GEN_DONE);
    CHECK_EQ(v, 6);
    CHECK_EQ(n, 3);
    CHECK_EQ(got[0], 2); CHECK_EQ(got[1], 4); CHECK_EQ(got[2], 6);

    CHECK_EQ(hsafe_gen_init(NULL, &pool, upto3, NULL), HSAFE_EINVAL);
    CHECK_EQ(hsafe_gen_init(&g, NULL, upto3, NULL), HSAFE_EINVAL);
    CHECK_EQ(hsafe_gen_init(&g, &pool, NULL, NULL), HSAFE_EINVAL);
    CHECK_EQ(hsafe_gen_init(&g, (hsafe_pool *)(void *)&zero, upto3, NULL), HSAFE_EINVAL);
    memset(&zero, 0, sizeof zero);
    CHECK_EQ(hsafe_gen_next(NULL, 0, &v), HSAFE_EINVAL);
    CHECK_EQ(hsafe_gen_next(&zero, 0, &v), HSAFE_EINVAL);
    CHECK_EQ(hsafe_gen_close(NULL), HSAFE_EINVAL);
    CHECK_EQ(hsafe_gen_close(&zero), HSAFE_EINVAL);
    CHECK_EQ(hsafe_gen_alive(NULL), 0);
    CHECK_EQ(hsafe_gen_alive(&zero), 0);
    CHECK_EQ(hsafe_gen_message(NULL)[0], 0);
    {   /* an exhausted pool */
        hsafe_gen a, b, c;
        CHECK_EQ(hsafe_gen_init(&a, &pool, upto3, NULL), 0);
        CHECK_EQ(hsafe_gen_init(&b, &pool, upto3, NULL), 0);
        CHECK_EQ(hsafe_gen_init(&c, &pool, upto3, NULL), HSAFE_EBUSY);
        CHECK_EQ(hsafe_gen_next(&a, 0, &v), HSAFE_GEN_VALUE);
        CHECK_EQ(hsafe_gen_close(&a), 0);
        CHECK_EQ(hsafe_gen_close(&b), 0);
    }
    pool_done();
}

/* ---- inside tasks ------------------------------------------------------ */

static int ticks;

static int ticker(void *arg)          /* counts while the consumer is blocked */
{
    (void)arg;
    for (;;) {
        if (hsafe_sleep_until(hsafe_after(MS / 2)) != 0) return 0;
        ticks++;
    }
}

static uintptr_t sleepy(hsafe_gen *g, void *arg, uintptr_t first)
{
    uintptr_t i;
    (void)arg; (void)first;
    for (i = 0; i < 3; i++) {
        int rc = hsafe_sleep_until(hsafe_after(3 * MS));
        if (rc) return 100 + (uintptr_t)(-rc);     /* 111: cancelled */
        CHECK_EQ(hsafe_yield(), 0);
        if (hsafe_gen_yield(g, i, NULL)) return 0;
    }
    return 50;
}

/* yields what a sleepy generator of its own yields, plus 10 */
static uintptr_t relay2(hsafe_gen *g, void *arg, uintptr_t first)
{
    hsafe_gen inner;
    uintptr_t v;
    int rc;
    (void)arg; (void)first;
    CHECK_EQ(hsafe_gen_init(&inner, &pool, sleepy, NULL), 0);
    while ((rc = hsafe_gen_next(&inner, 0, &v)) == HSAFE_GEN_VALUE)
        if (hsafe_gen_yield(g, v + 10, NULL)) break;
    hsafe_gen_close(&inner);
    return rc == HSAFE_GEN_DONE ? v + 1000 : 0;
}

static int sum_call(void *arg, uintptr_t *result)
{
    (void)arg;
    hsafe_sleep_until(hsafe_after(MS));
    *result = 4;
    return 0;
}

/* runs a combinator (its own scope) between yields */
static uintptr_t combining(hsafe_gen *g, void *arg, uintptr_t first)
{
    hsafe_call calls[2];
    size_t idx;
    (void)arg; (void)first;
    memset(calls, 0, sizeof calls);
    calls[0].fn = sum_call;
    calls[1].fn = sum_call;
    CHECK_EQ(hsafe_join_all(calls, 2, HSAFE_FOREVER, &idx), 0);
    hsafe_gen_yield(g, calls[0].result + calls[1].result, NULL);
    return 0;
}

static hsafe_gen shared_gen;

static int second_puller(void *arg)
{
    uintptr_t v;
    (void)arg;
    CHECK_EQ(hsafe_gen_next(&shared_gen, 0, &v), HSAFE_ESTATE);
    CHECK_EQ(hsafe_gen_close(&shared_gen), HSAFE_ESTATE);
    return 0;
}

static int consumer_cancelled_result;

static int pull_forever(void *arg)
{
    hsafe_gen g;
    uintptr_t v;
    int rc;
    (void)arg;
    CHECK_EQ(hsafe_gen_init(&g, &pool, sleepy, NULL), 0);
    /* the first value comes after 3 ms; the scope is cancelled before */
    rc = hsafe_gen_next(&g, 0, &v);
    consumer_cancelled_result = rc == HSAFE_GEN_DONE ? (int)v : -1;
    hsafe_gen_close(&g);
    return 0;
}

static uintptr_t slow_cleanup_prod(hsafe_gen *g, void *arg, uintptr_t first)
{
    (void)arg; (void)first;
    while (hsafe_gen_yield(g, 1, NULL) == 0) {}
    /* unwinding may block: the closing task waits for it */
    CHECK_EQ(hsafe_sleep_until(hsafe_after(MS)), 0);
    cleanups_ran += 100;
    return 0;
}

static int root_tasks(void *arg)
{
    hsafe_scope s;
    hsafe_task tick, other;
    hsafe_gen g;
    uintptr_t v, i;
    int rc;
    (void)arg;
    /* a sleeping producer blocks only its consumer */
    ticks = 0;
    hsafe_scope_open(&s, "ticks", 0, HSAFE_FOREVER);
    hsafe_scope_spawn(&s, &tick, ticker, NULL, "ticker");
    CHECK_EQ(hsafe_gen_init(&g, &pool, sleepy, NULL), 0);
    for (i = 0; i < 3; i++) {
        CHECK_EQ(hsafe_gen_next(&g, 0, &v), HSAFE_GEN_VALUE);
        CHECK_EQ(v, i);
    }
    CHECK_EQ(hsafe_gen_next(&g, 0, &v), HSAFE_GEN_DONE);
    CHECK_EQ(v, 50);
    CHECK(ticks >= 3);          /* 9 ms of producer sleep, 0.5 ms ticks */
    /* two levels of relay */
    CHECK_EQ(hsafe_gen_init(&g, &pool, relay2, NULL), 0);
    for (i = 0; i < 3; i++) {
        CHECK_EQ(hsafe_gen_next(&g, 0, &v), HSAFE_GEN_VALUE);
        CHECK_EQ(v, i + 10);
    }
    CHECK_EQ(hsafe_gen_next(&g, 0, &v), HSAFE_GEN_DONE);
    CHECK_EQ(v, 1050);
    /* a combinator inside a producer */
    CHECK_EQ(hsafe_gen_init(&g, &pool, combining, NULL), 0);
    CHECK_EQ(hsafe_gen_next(&g, 0, &v), HSAFE_GEN_VALUE);
    CHECK_EQ(v, 8);
    CHECK_EQ(hsafe_gen_next(&g, 0, &v), HSAFE_GEN_DONE);
    /* another task pulls while the producer blocks */
    CHECK_EQ(hsafe_gen_init(&shared_gen, &pool, sleepy, NULL), 0);
    hsafe_scope_spawn(&s, &other, second_puller, NULL, "second");
    CHECK_EQ(hsafe_gen_next(&shared_gen, 0, &v), HSAFE_GEN_VALUE);
    CHECK_EQ(hsafe_gen_close(&shared_gen), 0);
    /* close while the producer must block to unwind */
    cleanups_ran = 0;
    CHECK_EQ(hsafe_gen_init(&g, &pool, slow_cleanup_prod, NULL), 0);
    CHECK_EQ(hsafe_gen_next(&g, 0, &v), HSAFE_GEN_VALUE);
    CHECK_EQ(hsafe_gen_close(&g), 0);
    CHECK_EQ(cleanups_ran, 100);
    hsafe_scope_cancel(&s);
    CHECK_EQ(hsafe_scope_join(&s), HSAFE_ECANCELED);
    /* cancelling the consumer reaches the producer's sleep */
    consumer_cancelled_result = 0;
    hsafe_scope_open(&s, "cancel", 0, hsafe_after(MS));
    hsafe_scope_spawn(&s, &other, pull_forever, NULL, "puller");
    rc = hsafe_scope_join(&s);
    CHECK_EQ(rc, HSAFE_ETIMEDOUT);
    CHECK_EQ(consumer_cancelled_result, 100 - HSAFE_ECANCELED);
    return 0;
}

static void test_tasks(void)
{
    pool_fresh(16);
    {
        hsafe_loop loop;
        hsafe_loop_config lc;
        memset(&lc, 0, sizeof lc);
        lc.pool = &pool;
        CHECK_EQ(hsafe_loop_init(&loop, &lc), 0);
        CHECK_EQ(hsafe_loop_run(&loop, root_tasks, NULL, "root"), 0);
        CHECK_EQ(hsafe_loop_fini(&loop), 0);
    }
    pool_done();
}

/* ---- misuse ------------------------------------------------------------ */

static void c_yield_outside(void *arg)
{
    hsafe_gen g;
    (void)arg;
    memset(&g, 0, sizeof g);   /* the init is not checked here */
    pool_fresh(1);
    hsafe_gen_init(&g, &pool, upto3, NULL);
    hsafe_gen_yield(&g, 1, NULL);
}

/* A producer that runs a coroutine of its own and yields g from there:
 * g is RUNNING, but the yield is not on the producer's stack. */
static uintptr_t yield_from_coro(hsafe_coro *co, uintptr_t arg)
{
    (void)co;
    hsafe_gen_yield((hsafe_gen *)arg, 7, NULL);
    return 0;
}

static uintptr_t foreign_stack(hsafe_gen *g, void *arg, uintptr_t first)
{
    static unsigned char stack[64 * 1024];
    hsafe_coro co;
    (void)arg; (void)first;
    if (hsafe_coro_init(&co, stack, sizeof stack, yield_from_coro, NULL) != 0) return 1;
    hsafe_coro_resume(&co, (uintptr_t)g, NULL);
    return 2;
}

__attribute__((unused)) static void c_yield_other_stack(void *arg)
{
    hsafe_gen g;
    uintptr_t v;
    (void)arg;
    pool_fresh(1);
    hsafe_gen_init(&g, &pool, foreign_stack, NULL);
    hsafe_gen_next(&g, 0, &v);
}

static uintptr_t stubborn(hsafe_gen *g, void *arg, uintptr_t first)
{
    int i;
    (void)arg; (void)first;
    for (i = 0; i < 3; i++) hsafe_gen_yield(g, 1, NULL);
    return 0;
}

static void c_stubborn(void *arg)
{
    hsafe_gen g;
    uintptr_t v;
    (void)arg;
    memset(&g, 0, sizeof g);   /* the init is not checked here */
    pool_fresh(1);
    hsafe_gen_init(&g, &pool, stubborn, NULL);
    hsafe_gen_next(&g, 0, &v);
    hsafe_gen_close(&g);
}

static uintptr_t scoped_yield(hsafe_gen *g, void *arg, uintptr_t first)
{
    hsafe_scope s;
    (void)arg; (void)first;
    hsafe_scope_open(&s, "open-at-yield", 0, HSAFE_FOREVER);
    hsafe_gen_yield(g, 1, NULL);
    hsafe_scope_join(&s);
    return 0;
}

static int root_scoped_yield(void *arg)
{
    hsafe_gen g;
    uintptr_t v;
    (void)arg;
    memset(&g, 0, sizeof g);   /* the init is not checked here */
    hsafe_gen_init(&g, &pool, scoped_yield, NULL);
    hsafe_gen_next(&g, 0, &v);
    hsafe_gen_close(&g);
    return 0;
}

__attribute__((unused)) static void c_scoped_yield(void *arg)
{
    hsafe_loop loop;
    hsafe_loop_config lc;
    (void)arg;
    pool_fresh(4);
    memset(&lc, 0, sizeof lc);
    lc.pool = &pool;
    hsafe_loop_init(&loop, &lc);
    hsafe_loop_run(&loop, root_scoped_yield, NULL, "root");
}

static uintptr_t sleeps_once(hsafe_gen *g, void *arg, uintptr_t first)
{
    (void)g; (void)arg; (void)first;
    hsafe_sleep_until(hsafe_after(MS));
    return 0;
}

__attribute__((unused)) static void c_sleep_no_task(void *arg)
{
    hsafe_gen g;
    uintptr_t v;
    (void)arg;
    memset(&g, 0, sizeof g);   /* the init is not checked here */
    pool_fresh(1);
    hsafe_gen_init(&g, &pool, sleeps_once, NULL);
    hsafe_gen_next(&g, 0, &v);
}

int main(int argc, char **argv)
{
#if !defined(_WIN32)
    struct rlimit no_core;
#endif
    t_child_dispatch(argc, argv);
    T_BEGIN("test_gen");
#if !defined(_WIN32)
    no_core.rlim_cur = no_core.rlim_max = 0;
    setrlimit(RLIMIT_CORE, &no_core);       /* the children abort on purpose */
#endif
    test_plain();
    test_close();
    test_panic();
    test_nested_and_bad();
    test_tasks();
    if (T_ON_VALGRIND) {   /* ~2 s per aborting child there; covered natively and by ASan */
        printf("# misuse children skipped under valgrind\n");
    } else {
        CHECK_DIES(c_yield_outside, NULL, SIGABRT, "hsafe_gen_yield: not called from this generator's producer");
        CHECK_DIES(c_stubborn, NULL, SIGABRT, "yielded again after its yield returned HSAFE_ECANCELED");
#if !defined(_WIN32)    /* under wine each child costs seconds: the checks above show the mechanism */
        CHECK_DIES(c_yield_other_stack, NULL, SIGABRT,
                   "hsafe_gen_yield: not called from this generator's producer (it is not running, "
                   "or this is not the producer's stack)");
        CHECK_DIES(c_scoped_yield, NULL, SIGABRT, "yielded with a scope it opened still open");
        CHECK_DIES(c_sleep_no_task, NULL, SIGABRT, "hsafe_sleep_until called outside a task");
#endif
    }
    T_END();
}
