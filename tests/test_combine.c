/* test_combine: the combinators of api/combine.h on every exit path.
 *
 * Each call below registers a cleanup handler and counts it when it runs;
 * after every combinator returns, the test checks that every call's task
 * has ended (DONE) and every started call's cleanup ran: structured.
 * Proves, for hsafe_join_all, hsafe_try_join, hsafe_race, hsafe_race_ok
 * and hsafe_timeout:
 *   - success: the status, index and result of each call;
 *   - failure: join_all lets the others finish and reports the first
 *     failure in time; try_join cancels the others; race lets a failing
 *     first finisher win; race_ok skips failures, and when all fail
 *     reports the first failure with each call's own error;
 *   - a panicking call (race: it wins with HSAFE_EPANIC, message kept);
 *   - cancellation of the caller from outside while it waits, and a caller
 *     already cancelled (nothing starts): HSAFE_ECANCELED;
 *   - the deadline: HSAFE_ETIMEDOUT, everything cancelled and joined; a
 *     timeout whose call succeeds without blocking after its deadline
 *     passed still reports the success;
 *   - fairness: a tie goes to the lowest index;
 *   - a pool with fewer free stacks than calls (they wait for stacks);
 *   - bad input (NULL, no fn, n == 0, a call whose task is still alive)
 *     returns HSAFE_EINVAL with nothing started;
 *   - outside a task each is misuse and aborts (in a child process; not
 *     under valgrind, where each aborting child takes seconds).
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

#define LONG_MS 10000       /* "forever": only cancellation ends it */
#define NOSLEEP (-1)

typedef struct spec {
    int64_t sleep_ms;       /* NOSLEEP: end without blocking */
    int status;
    uintptr_t result;
    int panic;
} spec;

static int cleanups;

static void bump(void *arg) { (void)arg; cleanups++; }

static int body(void *arg, uintptr_t *result)
{
    const spec *s = (const spec *)arg;
    hsafe_cleanup c;
    int rc = 0;
    hsafe_cleanup_push(&c, bump, NULL);
    if (s->sleep_ms != NOSLEEP) rc = hsafe_sleep_until(hsafe_after(s->sleep_ms * MS));
    if (s->panic) hsafe_panic("call %d panicked", s->panic);
    hsafe_cleanup_pop(&c, 1);
    if (rc) return rc;
    *result = s->result;
    return s->status;
}

typedef int (*comb_fn)(hsafe_call *calls, size_t n, hsafe_time deadline, size_t *index);

static void setup(hsafe_call *calls, spec *specs, size_t n)
{
    size_t i;
    memset(calls, 0, n * sizeof *calls);
    for (i = 0; i < n; i++) {
        calls[i].fn = body;
        calls[i].arg = &specs[i];
        calls[i].name = "call";
    }
    cleanups = 0;
}

/* Every call ended and every call that started cleaned up. */
static void check_structured(const hsafe_call *calls, size_t n, int started)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (started) CHECK_EQ(hsafe_task_state(&calls[i].task), HSAFE_TASK_DONE);
    CHECK_EQ(cleanups, started ? (int)n : 0);
}

static void spec_set(spec *s, int64_t ms, int status, uintptr_t result)
{
    s->sleep_ms = ms;
    s->status = status;
    s->result = result;
    s->panic = 0;
}

/* ---- success and failure --------------------------------------------- */

static int root_outcomes(void *arg)
{
    hsafe_call c[3];
    spec s[3];
    size_t idx;
    int rc;
    (void)arg;

    /* join_all: success */
    spec_set(&s[0], 1, 0, 1); spec_set(&s[1], NOSLEEP, 2, 2); spec_set(&s[2], 2, 0, 3);
    setup(c, s, 3);
    CHECK_EQ(hsafe_join_all(c, 3, HSAFE_FOREVER, &idx), 0);
    CHECK_EQ(idx, 3);
    CHECK_EQ(c[0].result, 1); CHECK_EQ(c[1].result, 2); CHECK_EQ(c[2].result, 3);
    CHECK_EQ(c[1].status, 2);
    check_structured(c, 3, 1);

    /* join_all: failures do not cancel; the first in time is reported */
    spec_set(&s[0], 1, -100, 0); spec_set(&s[1], 3, 0, 5); spec_set(&s[2], NOSLEEP, -200, 0);
    setup(c, s, 3);
    CHECK_EQ(hsafe_join_all(c, 3, HSAFE_FOREVER, &idx), -200);
    CHECK_EQ(idx, 2);
    CHECK_EQ(c[0].status, -100); CHECK_EQ(c[1].status, 0); CHECK_EQ(c[1].result, 5);
    check_structured(c, 3, 1);

    /* try_join: success, then the first failure cancels the rest */
    spec_set(&s[0], 1, 0, 1); spec_set(&s[1], NOSLEEP, 0, 2); spec_set(&s[2], 2, 0, 3);
    setup(c, s, 3);
    CHECK_EQ(hsafe_try_join(c, 3, HSAFE_FOREVER, &idx), 0);
    CHECK_EQ(idx, 3);
    CHECK_EQ(c[2].result, 3);
    check_structured(c, 3, 1);
    spec_set(&s[0], LONG_MS, 0, 1); spec_set(&s[1], 1, -100, 0); spec_set(&s[2], LONG_MS, 0, 3);
    setup(c, s, 3);
    CHECK_EQ(hsafe_try_join(c, 3, HSAFE_FOREVER, &idx), -100);
    CHECK_EQ(idx, 1);
    CHECK_EQ(c[0].status, HSAFE_ECANCELED); CHECK_EQ(c[2].status, HSAFE_ECANCELED);
    CHECK_EQ(hsafe_task_cancel_reason(&c[0].task), HSAFE_CANCEL_SIBLING);
    check_structured(c, 3, 1);

    /* race: the first to end wins; the others are cancelled */
    spec_set(&s[0], LONG_MS, 0, 1); spec_set(&s[1], 1, 0, 7); spec_set(&s[2], LONG_MS, 0, 3);
    setup(c, s, 3);
    CHECK_EQ(hsafe_race(c, 3, HSAFE_FOREVER, &idx), 0);
    CHECK_EQ(idx, 1);
    CHECK_EQ(c[1].result, 7);
    CHECK_EQ(c[0].status, HSAFE_ECANCELED); CHECK_EQ(c[2].status, HSAFE_ECANCELED);
    check_structured(c, 3, 1);
    /* ... even when it failed */
    spec_set(&s[0], LONG_MS, 0, 1); spec_set(&s[1], 1, -100, 0);
    setup(c, s, 2);
    CHECK_EQ(hsafe_race(c, 2, HSAFE_FOREVER, &idx), -100);
    CHECK_EQ(idx, 1);
    check_structured(c, 2, 1);
    /* ... or panicked */
    spec_set(&s[0], LONG_MS, 0, 1); spec_set(&s[1], NOSLEEP, 0, 0); s[1].panic = 2;
    setup(c, s, 2);
    CHECK_EQ(hsafe_race(c, 2, HSAFE_FOREVER, &idx), HSAFE_EPANIC);
    CHECK_EQ(idx, 1);
    CHECK(strstr(hsafe_task_message(&c[1].task), "call 2 panicked") != NULL);
    check_structured(c, 2, 1);
    /* a tie goes to the lowest index */
    spec_set(&s[0], NOSLEEP, 5, 1); spec_set(&s[1], NOSLEEP, 6, 2); spec_set(&s[2], NOSLEEP, 7, 3);
    setup(c, s, 3);
    CHECK_EQ(hsafe_race(c, 3, HSAFE_FOREVER, &idx), 5);
    CHECK_EQ(idx, 0);
    check_structured(c, 3, 1);
    spec_set(&s[0], NOSLEEP, -1, 1);
    setup(c, s, 3);
    CHECK_EQ(hsafe_race_ok(c, 3, HSAFE_FOREVER, &idx), 6);
    CHECK_EQ(idx, 1);
    check_structured(c, 3, 1);

    /* race_ok: failures do not win */
    spec_set(&s[0], 1, -100, 0); spec_set(&s[1], 2, 0, 9); spec_set(&s[2], LONG_MS, 0, 3);
    setup(c, s, 3);
    CHECK_EQ(hsafe_race_ok(c, 3, HSAFE_FOREVER, &idx), 0);
    CHECK_EQ(idx, 1);
    CHECK_EQ(c[1].result, 9);
    CHECK_EQ(c[0].status, -100); CHECK_EQ(c[2].status, HSAFE_ECANCELED);
    check_structured(c, 3, 1);
    /* ... and when all fail, each error is kept, the first is returned */
    spec_set(&s[0], 1, -100, 0); spec_set(&s[1], NOSLEEP, -200, 0); spec_set(&s[2], 2, -300, 0);
    setup(c, s, 3);
    rc = hsafe_race_ok(c, 3, HSAFE_FOREVER, &idx);
    CHECK_EQ(rc, -200);
    CHECK_EQ(idx, 1);
    CHECK_EQ(c[0].status, -100); CHECK_EQ(c[1].status, -200); CHECK_EQ(c[2].status, -300);
    check_structured(c, 3, 1);

    /* timeout: done in time, failed, expired, success past the deadline */
    spec_set(&s[0], 1, 3, 4);
    setup(c, s, 1);
    CHECK_EQ(hsafe_timeout(&c[0], hsafe_after(10000 * MS)), 3);
    CHECK_EQ(c[0].result, 4);
    check_structured(c, 1, 1);
    spec_set(&s[0], NOSLEEP, -100, 0);
    setup(c, s, 1);
    CHECK_EQ(hsafe_timeout(&c[0], hsafe_after(10000 * MS)), -100);
    check_structured(c, 1, 1);
    spec_set(&s[0], LONG_MS, 0, 0);
    setup(c, s, 1);
    CHECK_EQ(hsafe_timeout(&c[0], hsafe_after(2 * MS)), HSAFE_ETIMEDOUT);
    CHECK_EQ(c[0].status, HSAFE_ECANCELED);
    CHECK_EQ(hsafe_task_cancel_reason(&c[0].task), HSAFE_CANCEL_DEADLINE);
    check_structured(c, 1, 1);
    spec_set(&s[0], NOSLEEP, 0, 8);
    setup(c, s, 1);
    CHECK_EQ(hsafe_timeout(&c[0], hsafe_now() - 1), 0);
    CHECK_EQ(c[0].result, 8);
    check_structured(c, 1, 1);
    return 0;
}

/* ---- deadline and cancellation from outside, for each combinator ----- */

static const comb_fn combs[4] = { hsafe_join_all, hsafe_try_join, hsafe_race, hsafe_race_ok };
static const char *const comb_names[5] = { "join_all", "try_join", "race", "race_ok", "timeout" };

static int run_comb(int k, hsafe_call *c, size_t n, hsafe_time deadline, size_t *idx)
{
    if (k == 4) {
        *idx = 0;
        return hsafe_timeout(c, deadline);
    }
    return combs[k](c, n, deadline, idx);
}

static size_t comb_n(int k) { return k == 4 ? 1 : 3; }

typedef struct victim {
    int k;
    int rc;
    size_t idx;
    hsafe_call c[3];
    spec s[3];
} victim;

static int victim_main(void *arg)
{
    victim *v = (victim *)arg;
    v->rc = run_comb(v->k, v->c, comb_n(v->k), HSAFE_FOREVER, &v->idx);
    return 0;
}

static int root_deadline_cancel(void *arg)
{
    int k;
    (void)arg;
    for (k = 0; k < 5; k++) {
        victim v;
        size_t n = comb_n(k), i;
        hsafe_scope sc;
        hsafe_task t;
        printf("# %s: deadline, cancelled, cancelled before\n", comb_names[k]);
        /* deadline */
        for (i = 0; i < n; i++) spec_set(&v.s[i], LONG_MS, 0, 0);
        setup(v.c, v.s, n);
        CHECK_EQ(run_comb(k, v.c, n, hsafe_after(2 * MS), &v.idx), HSAFE_ETIMEDOUT);
        if (k < 4) CHECK_EQ(v.idx, n);      /* no call decided it */
        for (i = 0; i < n; i++) CHECK_EQ(v.c[i].status, HSAFE_ECANCELED);
        check_structured(v.c, n, 1);
        /* the caller cancelled from outside while it waits */
        setup(v.c, v.s, n);
        v.k = k;
        v.rc = 1;
        hsafe_scope_open(&sc, "outside", 0, HSAFE_FOREVER);
        hsafe_scope_spawn(&sc, &t, victim_main, &v, "victim");
        CHECK_EQ(hsafe_sleep_until(hsafe_after(2 * MS)), 0);
        CHECK_EQ(cleanups, 0);
        hsafe_scope_cancel(&sc);
        hsafe_scope_join(&sc);
        CHECK_EQ(v.rc, HSAFE_ECANCELED);
        if (k < 4) CHECK_EQ(v.idx, n);
        for (i = 0; i < n; i++) {
            CHECK_EQ(v.c[i].status, HSAFE_ECANCELED);
            CHECK_EQ(hsafe_task_cancel_reason(&v.c[i].task), HSAFE_CANCEL_PARENT);
        }
        check_structured(v.c, n, 1);
        /* the caller was cancelled before: nothing starts */
        setup(v.c, v.s, n);
        v.rc = 1;
        hsafe_scope_open(&sc, "before", 0, HSAFE_FOREVER);
        hsafe_scope_cancel(&sc);
        hsafe_scope_spawn(&sc, &t, victim_main, &v, "victim");
        hsafe_scope_join(&sc);
        CHECK_EQ(v.rc, HSAFE_ECANCELED);
        for (i = 0; i < n; i++) {
            CHECK_EQ(v.c[i].status, HSAFE_ECANCELED);
            CHECK_EQ(hsafe_task_state(&v.c[i].task), HSAFE_TASK_NONE);
        }
        check_structured(v.c, n, 0);
    }
    return 0;
}

/* ---- few stacks, bad input --------------------------------------------- */

static int root_few_stacks(void *arg)   /* pool: 3 stacks, root takes one */
{
    hsafe_call c[5];
    spec s[5];
    size_t i, idx;
    (void)arg;
    for (i = 0; i < 5; i++) spec_set(&s[i], 1, 0, i);
    setup(c, s, 5);
    CHECK_EQ(hsafe_join_all(c, 5, HSAFE_FOREVER, &idx), 0);
    for (i = 0; i < 5; i++) CHECK_EQ(c[i].result, i);
    check_structured(c, 5, 1);
    return 0;
}

static hsafe_call busy_call;
static spec busy_spec;

static int hold_call(void *arg)
{
    (void)arg;
    return hsafe_timeout(&busy_call, HSAFE_FOREVER);
}

static int root_bad(void *arg)
{
    hsafe_call c[2];
    spec s[2];
    size_t idx = 7;
    hsafe_scope sc;
    hsafe_task t;
    (void)arg;
    spec_set(&s[0], NOSLEEP, 0, 0); spec_set(&s[1], NOSLEEP, 0, 0);
    setup(c, s, 2);
    CHECK_EQ(hsafe_join_all(NULL, 2, HSAFE_FOREVER, &idx), HSAFE_EINVAL);
    CHECK_EQ(idx, 2);
    CHECK_EQ(hsafe_race(NULL, 0, HSAFE_FOREVER, NULL), HSAFE_EINVAL);
    CHECK_EQ(hsafe_race_ok(c, 0, HSAFE_FOREVER, NULL), HSAFE_EINVAL);
    CHECK_EQ(hsafe_join_all(c, 0, HSAFE_FOREVER, &idx), 0);
    CHECK_EQ(hsafe_try_join(NULL, 0, HSAFE_FOREVER, NULL), 0);
    CHECK_EQ(hsafe_timeout(NULL, HSAFE_FOREVER), HSAFE_EINVAL);
    c[1].fn = NULL;
    CHECK_EQ(hsafe_try_join(c, 2, HSAFE_FOREVER, &idx), HSAFE_EINVAL);
    CHECK_EQ(hsafe_task_state(&c[0].task), HSAFE_TASK_NONE);   /* nothing started */
    CHECK_EQ(cleanups, 0);
    /* a call whose task is alive (in another combinator) */
    memset(&busy_call, 0, sizeof busy_call);
    spec_set(&busy_spec, LONG_MS, 0, 0);
    busy_call.fn = body;
    busy_call.arg = &busy_spec;
    hsafe_scope_open(&sc, "holder", 0, HSAFE_FOREVER);
    hsafe_scope_spawn(&sc, &t, hold_call, NULL, "holder");
    CHECK_EQ(hsafe_yield(), 0);        /* the holder starts the call */
    CHECK_EQ(hsafe_yield(), 0);        /* the call starts sleeping */
    CHECK_EQ(hsafe_task_state(&busy_call.task), HSAFE_TASK_WAITING);
    CHECK_EQ(hsafe_race(&busy_call, 1, HSAFE_FOREVER, &idx), HSAFE_EINVAL);
    CHECK_EQ(hsafe_timeout(&busy_call, HSAFE_FOREVER), HSAFE_EINVAL);
    hsafe_scope_cancel(&sc);
    hsafe_scope_join(&sc);
    CHECK_EQ(hsafe_task_status(&t), HSAFE_ECANCELED);
    CHECK_EQ(busy_call.status, HSAFE_ECANCELED);
    return 0;
}

static void c_outside(void *arg)
{
    hsafe_call c;
    spec s;
    (void)arg;
    spec_set(&s, NOSLEEP, 0, 0);
    setup(&c, &s, 1);
    hsafe_race(&c, 1, HSAFE_FOREVER, NULL);
}

__attribute__((unused)) static void c_outside_timeout(void *arg)
{
    (void)arg;
    hsafe_timeout(NULL, HSAFE_FOREVER);
}

int main(int argc, char **argv)
{
#if !defined(_WIN32)
    struct rlimit no_core;
#endif
    t_child_dispatch(argc, argv);
    T_BEGIN("test_combine");
#if !defined(_WIN32)
    no_core.rlim_cur = no_core.rlim_max = 0;
    setrlimit(RLIMIT_CORE, &no_core);       /* the children abort on purpose */
#endif
    CHECK_EQ(tu_run(root_outcomes, NULL), 0);
    CHECK_EQ(tu_run(root_deadline_cancel, NULL), 0);
    CHECK_EQ(tu_run_msg(root_few_stacks, NULL, 64 * 1024, 3, NULL, 0), 0);
    CHECK_EQ(tu_run(root_bad, NULL), 0);
    if (T_ON_VALGRIND) {   /* ~2 s per aborting child there; covered natively and by ASan */
        printf("# misuse children skipped under valgrind\n");
    } else {
        CHECK_DIES(c_outside, NULL, SIGABRT, "hsafe_race called outside a task");
#if !defined(_WIN32)    /* under wine each child costs seconds */
        CHECK_DIES(c_outside_timeout, NULL, SIGABRT, "hsafe_timeout called outside a task");
#endif
    }
    T_END();
}
