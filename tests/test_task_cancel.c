/* test_task_cancel: cancellation, deadlines, failure policy, shields,
 * fd readiness and the idle loop of scoped tasks (api/task.h).
 *
 * Proves:
 *   - cancellation reaches a task at every kind of blocking point: yield,
 *     sleep, fd wait on a pipe, join (its grandchild is cancelled, reason
 *     "parent"), spawn_wait on a full pool; each returns HSAFE_ECANCELED,
 *     and keeps returning it at once afterwards (level-triggered: sleep,
 *     yield, fd wait, spawn_wait again); hsafe_cancelled() says why; join
 *     returns HSAFE_ECANCELED;
 *   - a cancel after every child ended successfully: join returns 0;
 *   - scope deadlines expiring while tasks sleep, wait on a pipe, or join:
 *     join returns HSAFE_ETIMEDOUT, after the deadline and well before the
 *     10 s the tasks would have waited; children's reason is "deadline";
 *   - nested deadlines, nearest wins (both orders);
 *   - fd readiness: a pipe written by another task wakes the reader (0);
 *     fd_wait with a deadline on a silent pipe gives HSAFE_ETIMEDOUT; a
 *     second waiter on the same fd gets HSAFE_EBUSY; bad or closed fd
 *     HSAFE_EINVAL; /dev/null (which epoll refuses) is ready at once;
 *     registrations kept after a wait's event: one task waits on one fd
 *     again and again; another task takes the fd over, and the first then
 *     gets HSAFE_EBUSY while the other waits; a kept fd closed and its
 *     number reused by a new pipe is waited on afresh;
 *   - fail-fast: the first failure cancels the siblings (reason
 *     "sibling failed") and is join's result, named by hsafe_scope_failed;
 *     collect-all: nobody is cancelled, join returns the first failure,
 *     every status readable;
 *   - a parent that panics with running children: they are cancelled
 *     (reason "parent") and joined before its stack goes, after writing
 *     into the parent's locals; the parent's status is HSAFE_EPANIC;
 *   - shields: a cancelled task's sleep inside a shield completes; the
 *     grace deadline caps blocking calls (HSAFE_ETIMEDOUT); after the
 *     shield, calls return HSAFE_ECANCELED again;
 *   - a child cancels its own scope (first result wins): its siblings and
 *     itself see HSAFE_ECANCELED, join returns it, nothing counts as a
 *     failure; a child spawning a sibling into its scope: joined too;
 *   - 2000 sleepers with scattered deadlines, a third of them cancelled
 *     mid-way (timers removed from the middle of the heap): the others
 *     wake in deadline order, none before its deadline;
 *   - an idle loop whose tasks all sleep uses little CPU (process CPU
 *     time under half the wall time over 300 ms: a spinning loop uses all).
 * The fd parts are POSIX only (pipes); on Windows fd_wait is checked to
 * return HSAFE_ENOTSUP.
 */
#ifndef HSAFE_TEST_SHARED_IMPL
#define HSAFE_IMPLEMENTATION
#endif
#include "hsafe.h"
#include "testutil.h"
#include "taskutil.h"
#if !defined(_WIN32)
#include <time.h>
#include <fcntl.h>
#endif

/* ---- cancellation at every blocking point ------------------------------ */

struct cx {
    int fds[2];
    int after[8];                   /* results of the calls after cancel */
    int first;
    int reason;
};

static int c_yield(void *arg)
{
    struct cx *c = (struct cx *)arg;
    int rc;
    while ((rc = hsafe_yield()) == 0) {}
    c->first = rc;
    c->reason = hsafe_cancelled();
    c->after[0] = hsafe_yield();
    c->after[1] = hsafe_sleep_until(hsafe_after(1000 * MS));
    return rc;
}

static int c_sleep(void *arg)
{
    struct cx *c = (struct cx *)arg;
    int rc = hsafe_sleep_until(hsafe_after(10000 * MS));
    c->first = rc;
    c->after[0] = hsafe_sleep_until(hsafe_after(10000 * MS));
    c->after[1] = hsafe_yield();
    return rc;
}

#if !defined(_WIN32)
static int c_fd(void *arg)
{
    struct cx *c = (struct cx *)arg;
    int rc = hsafe_fd_wait(c->fds[0], HSAFE_FD_READ, HSAFE_FOREVER);
    c->first = rc;
    c->after[0] = hsafe_fd_wait(c->fds[0], HSAFE_FD_READ, HSAFE_FOREVER);
    c->after[1] = hsafe_fd_wait(c->fds[1], HSAFE_FD_WRITE, HSAFE_FOREVER);  /* ready, yet cancelled */
    return rc;
}
#endif

static hsafe_task gc_task;
static int c_join(void *arg)
{
    struct cx *c = (struct cx *)arg;
    hsafe_scope s;
    int rc;
    CHECK_EQ(hsafe_scope_open(&s, "c_join.inner", 0, HSAFE_FOREVER), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &gc_task, tu_sleep_long, NULL, "grandchild"), 0);
    rc = hsafe_scope_join(&s);
    c->first = rc;
    c->reason = hsafe_task_cancel_reason(&gc_task);
    c->after[0] = hsafe_sleep_until(hsafe_after(1000 * MS));
    return rc;
}

/* Pool capacity: the root, the point tasks and c_join's grandchild, plus
 * one stack, which the filler takes: the spawn_wait finds none free. */
static hsafe_task filler_task, never_task;
static int c_spawn_wait(void *arg)
{
    struct cx *c = (struct cx *)arg;
    hsafe_scope s;
    int rc;
    CHECK_EQ(hsafe_scope_open(&s, "c_spawn.inner", 0, HSAFE_FOREVER), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &filler_task, tu_sleep_long, NULL, "filler"), 0);
    rc = hsafe_scope_spawn_wait(&s, &never_task, tu_sleep_long, NULL, "never", HSAFE_FOREVER);
    c->first = rc;
    c->after[0] = hsafe_scope_spawn_wait(&s, &never_task, tu_sleep_long, NULL, "never", HSAFE_FOREVER);
    CHECK_EQ(hsafe_scope_join(&s), HSAFE_ECANCELED);
    return rc;
}

static int root_points(void *arg)
{
    struct cx c[5];
    hsafe_task t[5];
    hsafe_scope s;
    hsafe_task_fn fns[5];
    int i, n = 0;
    (void)arg;
    memset(c, 0, sizeof c);
    fns[n++] = c_yield;
    fns[n++] = c_sleep;
    fns[n++] = c_join;
    fns[n++] = c_spawn_wait;
#if !defined(_WIN32)
    CHECK_EQ(pipe(c[n].fds), 0);
    fns[n++] = c_fd;
#endif
    CHECK_EQ(hsafe_scope_open(&s, "points", 0, HSAFE_FOREVER), 0);
    for (i = 0; i < n; i++) CHECK_EQ(hsafe_scope_spawn(&s, &t[i], fns[i], &c[i], "point"), 0);
    for (i = 0; i < 3; i++) CHECK_EQ(hsafe_yield(), 0);   /* all are blocked now */
    CHECK_EQ(hsafe_task_state(&t[1]), HSAFE_TASK_WAITING);
    CHECK_EQ(hsafe_scope_cancel(&s), 0);
    CHECK_EQ(hsafe_scope_cancel(&s), 0);                  /* idempotent */
    CHECK_EQ(hsafe_scope_join(&s), HSAFE_ECANCELED);
    CHECK_EQ(hsafe_scope_cancel_reason(&s), HSAFE_CANCEL_EXPLICIT);
    CHECK(hsafe_scope_failed(&s) == NULL);
    for (i = 0; i < n; i++) {
        CHECK_EQ(c[i].first, HSAFE_ECANCELED);
        CHECK_EQ(c[i].after[0], HSAFE_ECANCELED);
        CHECK_EQ(hsafe_task_status(&t[i]), HSAFE_ECANCELED);
        CHECK_EQ(hsafe_task_cancel_reason(&t[i]), HSAFE_CANCEL_EXPLICIT);
    }
    CHECK_EQ(c[0].reason, HSAFE_CANCEL_EXPLICIT);
    CHECK_EQ(c[0].after[1], HSAFE_ECANCELED);
    CHECK_EQ(c[1].after[1], HSAFE_ECANCELED);
    CHECK_EQ(c[2].reason, HSAFE_CANCEL_PARENT);
    CHECK_EQ(hsafe_task_status(&gc_task), HSAFE_ECANCELED);
    CHECK_EQ(hsafe_task_state(&never_task), HSAFE_TASK_NONE);
#if !defined(_WIN32)
    CHECK_EQ(c[4].after[1], HSAFE_ECANCELED);
    close(c[4].fds[0]);
    close(c[4].fds[1]);
#endif
    CHECK_EQ(hsafe_cancelled(), 0);      /* the root itself is not cancelled */

    /* cancelled after every child ended well: 0 (Trio #1457) */
    CHECK_EQ(hsafe_scope_open(&s, "late-cancel", 0, HSAFE_FOREVER), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &t[0], tu_return_arg, NULL, "quick"), 0);
    CHECK_EQ(hsafe_yield(), 0);
    CHECK_EQ(hsafe_task_state(&t[0]), HSAFE_TASK_DONE);
    CHECK_EQ(hsafe_scope_cancel(&s), 0);
    CHECK_EQ(hsafe_scope_join(&s), 0);
    return 0;
}

static void test_points(void)
{
#if !defined(_WIN32)
    CHECK_EQ(tu_run_msg(root_points, NULL, 32 * 1024, 8, NULL, 0), 0);
#else
    CHECK_EQ(tu_run_msg(root_points, NULL, 32 * 1024, 7, NULL, 0), 0);
#endif
}

/* ---- deadlines ------------------------------------------------------------ */

static int dl_inner_join(void *arg)
{
    hsafe_scope s;
    hsafe_task t;
    int rc;
    (void)arg;
    CHECK_EQ(hsafe_scope_open(&s, "dl.inner", 0, HSAFE_FOREVER), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &t, tu_sleep_long, NULL, "deep"), 0);
    rc = hsafe_scope_join(&s);
    CHECK_EQ(hsafe_task_cancel_reason(&t), HSAFE_CANCEL_PARENT);
    return rc;
}

#if !defined(_WIN32)
static int dl_pipe(void *arg)
{
    return hsafe_fd_wait(*(int *)arg, HSAFE_FD_READ, HSAFE_FOREVER);
}
#endif

static int root_deadline(void *arg)
{
    hsafe_scope s;
    hsafe_task t[3];
    hsafe_time t0 = hsafe_now();
    int n = 0, i;
#if !defined(_WIN32)
    int fds[2];
    CHECK_EQ(pipe(fds), 0);
#endif
    (void)arg;
    CHECK_EQ(hsafe_scope_open(&s, "dl", 0, t0 + 30 * MS), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &t[n++], tu_sleep_long, NULL, "sleeper"), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &t[n++], dl_inner_join, NULL, "joiner"), 0);
#if !defined(_WIN32)
    CHECK_EQ(hsafe_scope_spawn(&s, &t[n++], dl_pipe, &fds[0], "piper"), 0);
#endif
    CHECK_EQ(hsafe_scope_join(&s), HSAFE_ETIMEDOUT);
    CHECK(hsafe_now() - t0 >= 30 * MS);
    CHECK(hsafe_now() - t0 < 5000 * MS);
    CHECK_EQ(hsafe_scope_cancel_reason(&s), HSAFE_CANCEL_DEADLINE);
    CHECK(hsafe_scope_failed(&s) == NULL);
    for (i = 0; i < n; i++) {
        CHECK_EQ(hsafe_task_cancel_reason(&t[i]), HSAFE_CANCEL_DEADLINE);
        CHECK_EQ(hsafe_task_status(&t[i]), HSAFE_ECANCELED);
    }
#if !defined(_WIN32)
    close(fds[0]);
    close(fds[1]);
#endif
    return 0;
}

/* nearest wins */
static int nest_inner(void *arg)
{
    hsafe_scope s;
    hsafe_task t;
    int rc;
    CHECK_EQ(hsafe_scope_open(&s, "nest.inner", 0, *(hsafe_time *)arg), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &t, tu_sleep_long, NULL, "nest.sleeper"), 0);
    rc = hsafe_scope_join(&s);
    return rc == HSAFE_ETIMEDOUT ? 1 : rc;      /* 1: the inner deadline fired */
}

static int root_nest(void *arg)
{
    hsafe_scope s;
    hsafe_task t;
    hsafe_time inner;
    hsafe_time t0 = hsafe_now();
    (void)arg;
    /* inner nearer */
    inner = t0 + 20 * MS;
    CHECK_EQ(hsafe_scope_open(&s, "nest.outer", 0, t0 + 10000 * MS), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &t, nest_inner, &inner, "mid"), 0);
    CHECK_EQ(hsafe_scope_join(&s), 0);
    CHECK_EQ(hsafe_task_status(&t), 1);
    CHECK(hsafe_now() - t0 < 5000 * MS);
    /* outer nearer */
    t0 = hsafe_now();
    inner = t0 + 10000 * MS;
    CHECK_EQ(hsafe_scope_open(&s, "nest.outer", 0, t0 + 20 * MS), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &t, nest_inner, &inner, "mid"), 0);
    CHECK_EQ(hsafe_scope_join(&s), HSAFE_ETIMEDOUT);
    CHECK_EQ(hsafe_task_status(&t), HSAFE_ECANCELED);
    CHECK(hsafe_now() - t0 < 5000 * MS);
    return 0;
}

static void test_deadlines(void)
{
    CHECK_EQ(tu_run(root_deadline, NULL), 0);
    CHECK_EQ(tu_run(root_nest, NULL), 0);
}

/* ---- fd readiness --------------------------------------------------------- */

#if !defined(_WIN32)
static int fd_writer(void *arg)
{
    int fd = *(int *)arg;
    CHECK_EQ(hsafe_sleep_until(hsafe_after(10 * MS)), 0);
    CHECK_EQ(write(fd, "x", 1), 1);
    return 0;
}

static int fd_reader(void *arg)
{
    int fd = *(int *)arg, rc;
    char ch = 0;
    rc = hsafe_fd_wait(fd, HSAFE_FD_READ, hsafe_after(5000 * MS));
    if (rc == 0) CHECK_EQ(read(fd, &ch, 1), 1);
    CHECK_EQ(ch, 'x');
    return rc;
}

static int fd_second(void *arg)
{
    return hsafe_fd_wait(*(int *)arg, HSAFE_FD_READ, hsafe_after(1000 * MS));
}

static int root_fd(void *arg)
{
    int fds[2];
    hsafe_scope s;
    hsafe_task r, w, second;
    hsafe_time t0;
    (void)arg;
    CHECK_EQ(pipe(fds), 0);
    CHECK_EQ(hsafe_scope_open(&s, "fd", HSAFE_SCOPE_COLLECT_ALL, HSAFE_FOREVER), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &r, fd_reader, &fds[0], "reader"), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &second, fd_second, &fds[0], "second"), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &w, fd_writer, &fds[1], "writer"), 0);
    CHECK_EQ(hsafe_scope_join(&s), HSAFE_EBUSY);       /* second's failure */
    CHECK(hsafe_scope_failed(&s) == &second);
    CHECK_EQ(hsafe_task_status(&r), 0);
    CHECK_EQ(hsafe_task_status(&w), 0);
    t0 = hsafe_now();
    CHECK_EQ(hsafe_fd_wait(fds[0], HSAFE_FD_READ, t0 + 20 * MS), HSAFE_ETIMEDOUT);
    CHECK(hsafe_now() - t0 >= 20 * MS);
    CHECK_EQ(hsafe_fd_wait(fds[1], HSAFE_FD_WRITE, t0), 0);       /* ready: no wait */
    CHECK_EQ(hsafe_fd_wait(fds[0], 0, HSAFE_FOREVER), HSAFE_EINVAL);
    CHECK_EQ(hsafe_fd_wait(-1, HSAFE_FD_READ, HSAFE_FOREVER), HSAFE_EINVAL);
    close(fds[0]);
    close(fds[1]);
    CHECK_EQ(hsafe_fd_wait(fds[0], HSAFE_FD_READ, hsafe_after(MS)), HSAFE_EINVAL);   /* closed */
    {   /* a descriptor epoll cannot watch (/dev/null) is always ready */
        int fd = open("/dev/null", O_RDONLY);
        CHECK(fd >= 0);
        CHECK_EQ(hsafe_fd_wait(fd, HSAFE_FD_READ, HSAFE_FOREVER), 0);
        close(fd);
    }
    return 0;
}

/* Registrations a wait's event left behind (tasks/io.h keeps them for the
 * task's next wait on the same fd). */
struct kept {
    int fds[2];
    int phase;          /* kept_a's progress, read by kept_b */
};

static int kept_a(void *arg)
{
    struct kept *k = (struct kept *)arg;
    char ch;
    int i;
    for (i = 0; i < 3; i++) {           /* same task, same fd: re-armed each time */
        CHECK_EQ(write(k->fds[1], "x", 1), 1);
        CHECK_EQ(hsafe_fd_wait(k->fds[0], HSAFE_FD_READ, hsafe_after(5000 * MS)), 0);
        CHECK_EQ(read(k->fds[0], &ch, 1), 1);
    }
    k->phase = 1;                       /* kept_b now takes the fd over and waits */
    CHECK_EQ(hsafe_sleep_until(hsafe_after(20 * MS)), 0);
    /* b waits on the fd: a's remembered registration must not steal it */
    CHECK_EQ(hsafe_fd_wait(k->fds[0], HSAFE_FD_READ, hsafe_after(5000 * MS)), HSAFE_EBUSY);
    CHECK_EQ(write(k->fds[1], "y", 1), 1);
    return 0;
}

static int kept_b(void *arg)
{
    struct kept *k = (struct kept *)arg;
    char ch;
    while (!k->phase) CHECK_EQ(hsafe_yield(), 0);
    CHECK_EQ(hsafe_fd_wait(k->fds[0], HSAFE_FD_READ, hsafe_after(5000 * MS)), 0);
    CHECK_EQ(read(k->fds[0], &ch, 1), 1);
    CHECK_EQ(ch, 'y');
    return 0;
}

static int root_fd_kept(void *arg)
{
    struct kept k;
    hsafe_scope s;
    hsafe_task a, b;
    int fd0;
    char ch;
    (void)arg;
    memset(&k, 0, sizeof k);
    CHECK_EQ(pipe(k.fds), 0);
    CHECK_EQ(hsafe_scope_open(&s, "kept", 0, HSAFE_FOREVER), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &a, kept_a, &k, "a"), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &b, kept_b, &k, "b"), 0);
    CHECK_EQ(hsafe_scope_join(&s), 0);
    /* the root leaves a registration, closes the fd, and waits on a new
     * pipe that got the same number: the kernel dropped the old one */
    CHECK_EQ(write(k.fds[1], "z", 1), 1);
    CHECK_EQ(hsafe_fd_wait(k.fds[0], HSAFE_FD_READ, hsafe_after(5000 * MS)), 0);
    fd0 = k.fds[0];
    close(k.fds[0]);
    close(k.fds[1]);
    CHECK_EQ(pipe(k.fds), 0);
    CHECK_EQ(k.fds[0], fd0);
    CHECK_EQ(hsafe_fd_wait(k.fds[0], HSAFE_FD_READ, hsafe_after(20 * MS)), HSAFE_ETIMEDOUT);
    CHECK_EQ(write(k.fds[1], "w", 1), 1);
    CHECK_EQ(hsafe_fd_wait(k.fds[0], HSAFE_FD_READ, hsafe_after(5000 * MS)), 0);
    CHECK_EQ(read(k.fds[0], &ch, 1), 1);
    CHECK_EQ(ch, 'w');
    close(k.fds[0]);
    close(k.fds[1]);
    return 0;
}
#else
static int root_fd(void *arg)
{
    (void)arg;
    CHECK_EQ(hsafe_fd_wait(0, HSAFE_FD_READ, hsafe_after(MS)), HSAFE_ENOTSUP);
    return 0;
}
#endif

static void test_fd(void)
{
    CHECK_EQ(tu_run(root_fd, NULL), 0);
#if !defined(_WIN32)
    CHECK_EQ(tu_run(root_fd_kept, NULL), 0);
#endif
}

/* ---- failure policy --------------------------------------------------------- */

static int fail_after(void *arg)
{
    CHECK_EQ(hsafe_sleep_until(hsafe_after(10 * MS)), 0);
    return (int)(intptr_t)arg;
}

static int fail_later(void *arg)
{
    CHECK_EQ(hsafe_sleep_until(hsafe_after(30 * MS)), 0);
    return (int)(intptr_t)arg;
}

static int root_policy(void *arg)
{
    hsafe_scope s;
    hsafe_task a, b, c;
    hsafe_time t0 = hsafe_now();
    (void)arg;
    CHECK_EQ(hsafe_scope_open(&s, "fast", 0, HSAFE_FOREVER), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &b, tu_sleep_long, NULL, "b"), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &a, fail_after, (void *)(intptr_t)-100, "a"), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &c, tu_sleep_long, NULL, "c"), 0);
    CHECK_EQ(hsafe_scope_join(&s), -100);
    CHECK(hsafe_now() - t0 < 5000 * MS);
    CHECK(hsafe_scope_failed(&s) == &a);
    CHECK(strcmp(hsafe_task_name(hsafe_scope_failed(&s)), "a") == 0);
    CHECK_EQ(hsafe_scope_cancel_reason(&s), HSAFE_CANCEL_SIBLING);
    CHECK_EQ(hsafe_task_status(&b), HSAFE_ECANCELED);
    CHECK_EQ(hsafe_task_cancel_reason(&b), HSAFE_CANCEL_SIBLING);
    CHECK_EQ(hsafe_task_status(&c), HSAFE_ECANCELED);
    CHECK_EQ(hsafe_task_cancel_reason(&a), HSAFE_CANCEL_NONE);

    CHECK_EQ(hsafe_scope_open(&s, "all", HSAFE_SCOPE_COLLECT_ALL, HSAFE_FOREVER), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &b, fail_later, (void *)(intptr_t)-200, "b"), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &a, fail_after, (void *)(intptr_t)-100, "a"), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &c, fail_later, (void *)(intptr_t)3, "c"), 0);
    CHECK_EQ(hsafe_scope_join(&s), -100);
    CHECK(hsafe_scope_failed(&s) == &a);
    CHECK_EQ(hsafe_scope_cancel_reason(&s), HSAFE_CANCEL_NONE);
    CHECK_EQ(hsafe_task_status(&b), -200);
    CHECK_EQ(hsafe_task_status(&c), 3);
    CHECK_EQ(s.failed, 2);
    return 0;
}

static void test_policy(void)
{
    CHECK_EQ(tu_run(root_policy, NULL), 0);
}

/* ---- a parent panics with children running --------------------------------- */

struct pp { int seen[2]; int *after_cancel; };

static int pp_child(void *arg)
{
    int *slot = (int *)arg;
    int rc = hsafe_sleep_until(hsafe_after(10000 * MS));
    *slot = rc == HSAFE_ECANCELED ? hsafe_task_cancel_reason(hsafe_task_current()) : -1;
    return rc;
}

static int pp_parent(void *arg)
{
    int local[2] = { 0, 0 };          /* borrowed by the children */
    int **out = (int **)arg;
    hsafe_scope s;
    hsafe_task t[2];
    int i;
    *out = local;
    CHECK_EQ(hsafe_scope_open(&s, "pp", 0, HSAFE_FOREVER), 0);
    for (i = 0; i < 2; i++) CHECK_EQ(hsafe_scope_spawn(&s, &t[i], pp_child, &local[i], "pp.child"), 0);
    CHECK_EQ(hsafe_yield(), 0);
    hsafe_panic("parent gives up");
}

static int pp_values[2];
static void pp_copy(void *arg)        /* cleanup: runs after the children joined */
{
    int *local = *(int **)arg;
    pp_values[0] = local[0];
    pp_values[1] = local[1];
}

static int pp_wrap(void *arg)
{
    static hsafe_cleanup rec;
    hsafe_cleanup_push(&rec, pp_copy, arg);
    return pp_parent(arg);
}

static int root_pp(void *arg)
{
    hsafe_scope s;
    hsafe_task p;
    int *parent_local = NULL;
    (void)arg;
    CHECK_EQ(hsafe_scope_open(&s, "pp.outer", HSAFE_SCOPE_COLLECT_ALL, HSAFE_FOREVER), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &p, pp_wrap, &parent_local, "parent"), 0);
    CHECK_EQ(hsafe_scope_join(&s), HSAFE_EPANIC);
    CHECK_EQ(hsafe_task_status(&p), HSAFE_EPANIC);
    CHECK(strcmp(hsafe_task_message(&p), "parent gives up") == 0);
    CHECK_EQ(pp_values[0], HSAFE_CANCEL_PARENT);
    CHECK_EQ(pp_values[1], HSAFE_CANCEL_PARENT);
    return 0;
}

static void test_parent_panic(void)
{
    CHECK_EQ(tu_run(root_pp, NULL), 0);
}

/* ---- shields ------------------------------------------------------------- */

static int sh_child(void *arg)
{
    int *r = (int *)arg;
    hsafe_shield sh, inner;
    hsafe_scope s;
    hsafe_task t;
    r[0] = hsafe_sleep_until(HSAFE_FOREVER);                 /* cancelled */
    CHECK_EQ(hsafe_shield_begin(&sh, hsafe_after(2000 * MS)), 0);
    CHECK_EQ(hsafe_cancelled(), 0);
    r[1] = hsafe_sleep_until(hsafe_after(5 * MS));           /* works */
    r[2] = hsafe_yield();
    CHECK_EQ(hsafe_shield_begin(&inner, hsafe_after(20 * MS)), 0);
    r[3] = hsafe_sleep_until(hsafe_after(10000 * MS));       /* grace cuts it */
    hsafe_shield_end(&inner);
    /* a scope opened inside the shield is not cancelled */
    CHECK_EQ(hsafe_scope_open(&s, "shielded", 0, HSAFE_FOREVER), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &t, fail_after, (void *)(intptr_t)0, "inside"), 0);
    r[4] = hsafe_scope_join(&s);
    hsafe_shield_end(&sh);
    r[5] = hsafe_sleep_until(hsafe_after(5 * MS));           /* cancelled again */
    r[6] = hsafe_cancelled();
    return 0;
}

static int root_shield(void *arg)
{
    int r[7];
    hsafe_scope s;
    hsafe_task t;
    hsafe_time t0;
    (void)arg;
    memset(r, 0x55, sizeof r);
    CHECK_EQ(hsafe_scope_open(&s, "sh", 0, HSAFE_FOREVER), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &t, sh_child, r, "shielder"), 0);
    CHECK_EQ(hsafe_yield(), 0);
    t0 = hsafe_now();
    CHECK_EQ(hsafe_scope_cancel(&s), 0);
    CHECK_EQ(hsafe_scope_join(&s), HSAFE_ECANCELED);
    CHECK(hsafe_now() - t0 >= 20 * MS);
    CHECK(hsafe_now() - t0 < 1500 * MS);
    CHECK_EQ(r[0], HSAFE_ECANCELED);
    CHECK_EQ(r[1], 0);
    CHECK_EQ(r[2], 0);
    CHECK_EQ(r[3], HSAFE_ETIMEDOUT);
    CHECK_EQ(r[4], 0);
    CHECK_EQ(r[5], HSAFE_ECANCELED);
    CHECK_EQ(r[6], HSAFE_CANCEL_EXPLICIT);
    return 0;
}

static void test_shield(void)
{
    CHECK_EQ(tu_run(root_shield, NULL), 0);
}

/* ---- self-cancel; spawning into the parent's scope ----------------------- */

struct sc { hsafe_scope *scope; hsafe_task extra; int after; int extra_status; };

static int sc_winner(void *arg)          /* "first result wins": cancels its scope */
{
    struct sc *c = (struct sc *)arg;
    CHECK_EQ(hsafe_sleep_until(hsafe_after(5 * MS)), 0);
    CHECK_EQ(hsafe_scope_cancel(c->scope), 0);
    c->after = hsafe_yield();            /* it is a child of that scope too */
    return 0;
}

static int sc_spawner(void *arg)          /* adds a sibling to its own scope */
{
    struct sc *c = (struct sc *)arg;
    CHECK_EQ(hsafe_scope_spawn(c->scope, &c->extra, tu_sleep_long, NULL, "extra"), 0);
    return 0;
}

static int root_selfcancel(void *arg)
{
    hsafe_scope s;
    hsafe_task w, sp, slow;
    struct sc c;
    (void)arg;
    memset(&c, 0, sizeof c);
    c.scope = &s;
    CHECK_EQ(hsafe_scope_open(&s, "race", 0, HSAFE_FOREVER), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &slow, tu_sleep_long, NULL, "slow"), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &sp, sc_spawner, &c, "spawner"), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &w, sc_winner, &c, "winner"), 0);
    CHECK_EQ(hsafe_scope_join(&s), HSAFE_ECANCELED);
    CHECK_EQ(c.after, HSAFE_ECANCELED);
    CHECK_EQ(hsafe_task_status(&w), 0);
    CHECK_EQ(hsafe_task_status(&slow), HSAFE_ECANCELED);
    CHECK_EQ(hsafe_task_state(&c.extra), HSAFE_TASK_DONE);     /* joined with the rest */
    CHECK_EQ(hsafe_task_status(&c.extra), HSAFE_ECANCELED);
    CHECK_EQ(hsafe_task_cancel_reason(&c.extra), HSAFE_CANCEL_EXPLICIT);
    CHECK(hsafe_scope_failed(&s) == NULL);
    CHECK_EQ(s.spawned, 4);
    return 0;
}

static void test_selfcancel(void)
{
    CHECK_EQ(tu_run(root_selfcancel, NULL), 0);
}

/* ---- many timers: order, removal ----------------------------------------- */

#define NT 2000
static hsafe_task tm_tasks[NT];
static hsafe_time tm_off[NT], tm_base;     /* deadline: tm_base + tm_off[i] */
static int tm_order[NT], tm_n, tm_late, tm_cancelled, tm_unblocked;

static int tm_sleeper(void *arg)
{
    int i = (int)(intptr_t)arg, rc;
    hsafe_time when = tm_base + tm_off[i];
    /* it surely blocks (registers before its deadline) when it calls with
     * more than 1 ms to go; closer calls may return at once, and are left
     * out of the order check (slow builds, ASan, a loaded machine) */
    int blocks = when - hsafe_now() > 1 * MS;
    rc = hsafe_sleep_until(when);
    if (rc == 0) {
        if (hsafe_now() < when) tm_late++;              /* woke early */
        if (blocks) tm_order[tm_n++] = i;               /* woken by the heap */
        else tm_unblocked++;
    } else {
        tm_cancelled++;
    }
    return rc;
}

static int tm_canceller(void *arg)
{
    hsafe_scope *victims = (hsafe_scope *)arg;
    CHECK_EQ(hsafe_sleep_until(tm_base + 320 * MS), 0);     /* among the wakeups */
    CHECK_EQ(hsafe_scope_cancel(victims), 0);
    return 0;
}

static int root_timers(void *arg)
{
    hsafe_scope keep, victims, ctl;
    hsafe_task c;
    hsafe_time t0;
    unsigned x = 12345;
    int i, kept = 0;
    (void)arg;
    /* warm up: create every stack first (the first use of a stack costs
     * tens of microseconds: mapping, guard, page faults) */
    CHECK_EQ(hsafe_scope_open(&keep, "warm", 0, HSAFE_FOREVER), 0);
    for (i = 0; i < NT; i++) CHECK_EQ(hsafe_scope_spawn(&keep, &tm_tasks[i], tu_return_arg, NULL, "warm"), 0);
    CHECK_EQ(hsafe_scope_join(&keep), 0);
    t0 = hsafe_now();
    CHECK_EQ(hsafe_scope_open(&keep, "keep", 0, HSAFE_FOREVER), 0);
    CHECK_EQ(hsafe_scope_open(&victims, "victims", 0, HSAFE_FOREVER), 0);
    for (i = 0; i < NT; i++) {
        x = x * 1103515245u + 12345u;
        tm_off[i] = 300 * MS + (hsafe_time)((x >> 8) % 40000) * 1000;   /* 300..340 ms: time for
                                                        * 2000 first runs under ASan on a loaded machine */
        if (i % 3 == 0) {
            tm_off[i] += 1000 * MS;                    /* cancelled long before */
            CHECK_EQ(hsafe_scope_spawn(&victims, &tm_tasks[i], tm_sleeper, (void *)(intptr_t)i, "victim"), 0);
        } else {
            kept++;
            CHECK_EQ(hsafe_scope_spawn(&keep, &tm_tasks[i], tm_sleeper, (void *)(intptr_t)i, "kept"), 0);
        }
    }
    CHECK_EQ(hsafe_scope_open(&ctl, "ctl", 0, HSAFE_FOREVER), 0);
    CHECK_EQ(hsafe_scope_spawn(&ctl, &c, tm_canceller, &victims, "canceller"), 0);
    tm_base = hsafe_now();                     /* none of them has run yet */
    CHECK_EQ(hsafe_scope_join(&ctl), 0);
    CHECK_EQ(hsafe_scope_join(&victims), HSAFE_ECANCELED);
    CHECK_EQ(hsafe_scope_join(&keep), 0);
    CHECK_EQ(tm_n + tm_unblocked, kept);
    CHECK(tm_n > 0);
    printf("# timers: %d woken in deadline order, %d past their deadline at the call\n", tm_n, tm_unblocked);
    CHECK_EQ(tm_cancelled, NT - kept);
    CHECK_EQ(tm_late, 0);
    for (i = 1; i < tm_n; i++)
        if (tm_off[tm_order[i]] < tm_off[tm_order[i - 1]]) { CHECK(0); break; }
    CHECK(hsafe_now() - t0 < 5000 * MS);
    return 0;
}

static void test_timers(void)
{
    CHECK_EQ(tu_run_msg(root_timers, NULL, 16 * 1024, NT + 8, NULL, 0), 0);
}

/* ---- the idle loop sleeps ------------------------------------------------ */

#if !defined(_WIN32)
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int idle_child(void *arg)
{
    return hsafe_sleep_until(*(hsafe_time *)arg);
}

static int root_idle(void *arg)
{
    static hsafe_task t[50];
    hsafe_scope s;
    hsafe_time until = hsafe_after(300 * MS), w0 = hsafe_now();
    double c0 = cpu_seconds(), cpu, wall;
    int i;
    (void)arg;
    CHECK_EQ(hsafe_scope_open(&s, "idle", 0, HSAFE_FOREVER), 0);
    for (i = 0; i < 50; i++) CHECK_EQ(hsafe_scope_spawn(&s, &t[i], idle_child, &until, "idler"), 0);
    CHECK_EQ(hsafe_scope_join(&s), 0);
    cpu = cpu_seconds() - c0;
    wall = (double)(hsafe_now() - w0) / 1e9;
    printf("# idle: %.3f s wall, %.4f s cpu\n", wall, cpu);
    CHECK(wall >= 0.3);
    CHECK(cpu < wall / 2);      /* a spinning loop would use about all of it;
                                   an ASan build used 0.064 s of 0.36 s, too
                                   close to a quarter on a loaded machine */
    return 0;
}
#endif

static void test_idle(void)
{
#if !defined(_WIN32)
    CHECK_EQ(tu_run(root_idle, NULL), 0);
#endif
}

int main(int argc, char **argv)
{
    t_child_dispatch(argc, argv);
    T_BEGIN("test_task_cancel");
    test_points();
    test_deadlines();
    test_fd();
    test_policy();
    test_parent_panic();
    test_shield();
    test_selfcancel();
    test_timers();
    test_idle();
    T_END();
}
