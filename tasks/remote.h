/* tasks/remote.h - reaching a loop from other threads: the spin lock that
 * shared channels and the loop's remote queue use, the loop's wake
 * descriptor, hsafe_loop_post / hsafe_loop_ref, and remote task wakeups.
 * Implementation part only, included by hsafe.h after tasks/io.h and
 * before tasks/sched.h.
 *
 * Besides tasks/io.h, THE ONE TASKS FILE THAT TESTS OS FLAGS OR MAKES
 * SYSTEM CALLS (the wake descriptor: an eventfd on Linux, a pipe on other
 * POSIX systems (on Linux too with HSAFE_TEST_TASK_POLL, [impl] TESTS
 * ONLY, as tasks/io.h), an auto-reset event on Windows; yielding the CPU
 * in a contended lock). Uses from tasks/sched.h (declared here, defined there):
 * hsafe__task_wake, hsafe__loop_ok; from tasks/io.h: hsafe__tos_wait and
 * the epoll descriptor (loop->io_fd), which watches the wake descriptor
 * with a NULL pointer.
 *
 * The protocol (loop fields in tasks/types.h):
 *   - Other threads append to the loop's queues (posts: a ring of
 *     HSAFE_LOOP_POST_SLOTS; tasks to wake: an intrusive list through
 *     hsafe_task.rmt_next) under rmt_lock, set rmt_pending, and write the
 *     wake descriptor only if the loop said it sleeps (rmt_sleeping),
 *     so a busy loop costs them no system call.
 *   - The loop drains the queues after each pass over its ready tasks
 *     (hsafe__rmt_drain: one atomic load when nothing is queued). Before
 *     its idle wait it sets rmt_sleeping and then reads rmt_pending (both
 *     sequentially consistent, as the poster's store of rmt_pending and
 *     read of rmt_sleeping): either the poster sees it sleeping and wakes
 *     it, or the loop sees the post and does not sleep.
 *   - A task is queued at most once (rmt_queued). A waiting task that
 *     wakes for another reason (deadline, cancel) and finds its channel
 *     operation done by another thread takes itself off the queue
 *     (hsafe__rmt_unqueue) before it goes on, so no stale wakeup is ever
 *     delivered and a task record is never left in a queue.
 * Provides to tasks/sched.h and tasks/chan.h:
 *   hsafe__spin_lock/unlock, hsafe__rmt_init/fini, hsafe__rmt_drain,
 *   hsafe__rmt_idle_wait, hsafe__rmt_expected, hsafe__rmt_wake,
 *   hsafe__rmt_unqueue.
 */
#if defined(HSAFE__IMPL) && !defined(HSAFE__TASKS_REMOTE_H)
#define HSAFE__TASKS_REMOTE_H 1

#if defined(HSAFE__OS_WIN32)
#  define HSAFE__RMT_EVENT 1
#elif defined(HSAFE__OS_LINUX) && !defined(HSAFE_TEST_TASK_POLL)
#  define HSAFE__RMT_EVENTFD 1
#  include <sys/eventfd.h>
#  include <sched.h>
#else
#  define HSAFE__RMT_PIPE 1
#  include <sched.h>
#endif

static void hsafe__task_wake(hsafe_task *t, int rc);
static int hsafe__loop_ok(const hsafe_loop *l);

/* ---- the spin lock ------------------------------------------------------- */
/* Held for a few dozen instructions (a queue update, one element copied),
 * or a system call when it wakes a sleeping loop. A thread that finds it
 * taken waits HSAFE__SPIN_BACKOFF spin hints (hsafe__cpu_relax: about
 * 2 us of x86 pause on Zen 4) between looks, rather than taking it back
 * the moment it is free: the holder then goes on through several
 * operations with the lock and the channel in its own cache, where two
 * threads taking turns would move them between cores on every one
 * (measured: two threads streaming ints through a shared channel, 13-14
 * million messages/s looking at once, 20-24 million with the backoff).
 * After HSAFE__SPIN_LOOKS looks it gives its CPU away, so a holder that
 * was preempted gets to run. */
#define HSAFE__SPIN_BACKOFF 128
#define HSAFE__SPIN_LOOKS 8

static void hsafe__cpu_yield(void)
{
#if defined(HSAFE__RMT_EVENT)
    SwitchToThread();
#else
    sched_yield();
#endif
}

static void hsafe__spin_lock(int *l)
{
    unsigned looks = 0, i;
    while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)) {
        do {
            for (i = 0; i < HSAFE__SPIN_BACKOFF; i++) hsafe__cpu_relax();
            if (++looks == HSAFE__SPIN_LOOKS) { hsafe__cpu_yield(); looks = 0; }
        } while (__atomic_load_n(l, __ATOMIC_RELAXED));
    }
}

static void hsafe__spin_unlock(int *l) { __atomic_store_n(l, 0, __ATOMIC_RELEASE); }

/* ---- the wake descriptor ------------------------------------------------- */

static int hsafe__rmt_init(hsafe_loop *l)
{
    l->rmt_fd[0] = l->rmt_fd[1] = -1;
    l->rmt_event = NULL;
#if defined(HSAFE__RMT_EVENT)
    l->rmt_event = (void *)CreateEventA(NULL, FALSE, FALSE, NULL);
    if (!l->rmt_event) return HSAFE_ENOMEM;
#elif defined(HSAFE__RMT_EVENTFD)
    l->rmt_fd[0] = l->rmt_fd[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->rmt_fd[0] < 0) return HSAFE_ENOMEM;
#else
    {
        int i;
        if (pipe(l->rmt_fd) != 0) { l->rmt_fd[0] = l->rmt_fd[1] = -1; return HSAFE_ENOMEM; }
        for (i = 0; i < 2; i++) {
            fcntl(l->rmt_fd[i], F_SETFL, fcntl(l->rmt_fd[i], F_GETFL) | O_NONBLOCK);
            fcntl(l->rmt_fd[i], F_SETFD, FD_CLOEXEC);
        }
    }
#endif
#if defined(HSAFE__TOS_EPOLL)
    {
        struct epoll_event ev;
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN;             /* level-triggered; data.ptr NULL */
        if (epoll_ctl(l->io_fd, EPOLL_CTL_ADD, l->rmt_fd[0], &ev) != 0) return HSAFE_ENOMEM;
    }
#endif
    return HSAFE_OK;
}

static void hsafe__rmt_fini(hsafe_loop *l)
{
#if defined(HSAFE__RMT_EVENT)
    if (l->rmt_event) CloseHandle((HANDLE)l->rmt_event);
#else
    if (l->rmt_fd[0] >= 0) close(l->rmt_fd[0]);
    if (l->rmt_fd[1] >= 0 && l->rmt_fd[1] != l->rmt_fd[0]) close(l->rmt_fd[1]);
#endif
    l->rmt_fd[0] = l->rmt_fd[1] = -1;
    l->rmt_event = NULL;
}

/* Any thread: make the loop's idle wait return. */
static void hsafe__rmt_signal(hsafe_loop *l)
{
#if defined(HSAFE__RMT_EVENT)
    SetEvent((HANDLE)l->rmt_event);
#elif defined(HSAFE__RMT_EVENTFD)
    uint64_t one = 1;
    ssize_t n = write(l->rmt_fd[1], &one, sizeof one);
    (void)n;                            /* EAGAIN: the counter is already set */
#else
    char one = 1;
    ssize_t n = write(l->rmt_fd[1], &one, 1);
    (void)n;                            /* EAGAIN: the pipe is full of wakes */
#endif
}

/* The loop's thread, from hsafe__tos_wait: the wake descriptor fired;
 * consume it (the queues are drained after the wait). */
__attribute__((unused)) static void hsafe__rmt_signalled(hsafe_loop *l)
{
#if defined(HSAFE__RMT_EVENT)
    (void)l;                            /* auto-reset */
#elif defined(HSAFE__RMT_EVENTFD)
    uint64_t v;
    ssize_t n = read(l->rmt_fd[0], &v, sizeof v);
    (void)n;
#else
    char buf[64];
    while (read(l->rmt_fd[0], buf, sizeof buf) > 0) {}
#endif
}

/* Under l->rmt_lock, after queueing something: tell the loop. */
static void hsafe__rmt_kick(hsafe_loop *l)
{
    __atomic_store_n(&l->rmt_pending, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&l->rmt_sleeping, __ATOMIC_SEQ_CST) &&
        __atomic_exchange_n(&l->rmt_sleeping, 0, __ATOMIC_SEQ_CST))
        hsafe__rmt_signal(l);
}

/* ---- remote task wakeups ------------------------------------------------- */

/* Any thread but t's loop's: wake t (waiting in a channel call) on its
 * own loop. The caller holds the lock of the channel t waits on, so t
 * (and its loop) stay alive meanwhile. */
static void hsafe__rmt_wake(hsafe_task *t)
{
    hsafe_loop *l = t->loop;
    hsafe__spin_lock(&l->rmt_lock);
    if (!t->rmt_queued) {
        t->rmt_queued = 1;
        t->rmt_next = NULL;
        if (l->rmt_tail) l->rmt_tail->rmt_next = t;
        else l->rmt_head = t;
        l->rmt_tail = t;
        hsafe__rmt_kick(l);
    }
    hsafe__spin_unlock(&l->rmt_lock);
}

/* t's own thread: take t off its loop's wake queue if it is there. */
static void hsafe__rmt_unqueue(hsafe_task *t)
{
    hsafe_loop *l = t->loop;
    hsafe_task *p, *prev = NULL;
    hsafe__spin_lock(&l->rmt_lock);
    if (t->rmt_queued) {
        for (p = l->rmt_head; p && p != t; p = p->rmt_next) prev = p;
        if (p) {
            if (prev) prev->rmt_next = t->rmt_next;
            else l->rmt_head = t->rmt_next;
            if (l->rmt_tail == t) l->rmt_tail = prev;
        }
        t->rmt_queued = 0;
        t->rmt_next = NULL;
    }
    hsafe__spin_unlock(&l->rmt_lock);
}

/* ---- the loop's side ----------------------------------------------------- */

/* The loop's thread, between passes: wake the queued tasks, run the
 * posts that were queued when it started (later ones wait a pass). */
static void hsafe__rmt_drain(hsafe_loop *l)
{
    unsigned n;
    if (!__atomic_load_n(&l->rmt_pending, __ATOMIC_ACQUIRE)) return;
    hsafe__spin_lock(&l->rmt_lock);
    __atomic_store_n(&l->rmt_pending, 0, __ATOMIC_RELAXED);
    while (l->rmt_head) {
        hsafe_task *t = l->rmt_head;
        l->rmt_head = t->rmt_next;
        t->rmt_next = NULL;
        t->rmt_queued = 0;
        hsafe__task_wake(t, HSAFE_OK);   /* to the ready queue: loop-local */
    }
    l->rmt_tail = NULL;
    n = l->rmt_post_count;
    hsafe__spin_unlock(&l->rmt_lock);
    while (n--) {
        hsafe_post_fn fn;
        void *arg;
        hsafe__spin_lock(&l->rmt_lock);
        fn = l->rmt_posts[l->rmt_post_head].fn;
        arg = l->rmt_posts[l->rmt_post_head].arg;
        l->rmt_post_head = (l->rmt_post_head + 1) % HSAFE_LOOP_POST_SLOTS;
        l->rmt_post_count--;
        hsafe__spin_unlock(&l->rmt_lock);
        fn(arg);
    }
}

/* Can something from another thread still wake this idle loop? */
static int hsafe__rmt_expected(hsafe_loop *l)
{
    return l->ext_waiters || __atomic_load_n(&l->rmt_refs, __ATOMIC_ACQUIRE) ||
           __atomic_load_n(&l->rmt_pending, __ATOMIC_ACQUIRE);
}

/* How long an idle loop whose tasks wait on shared channels watches its
 * queue before it sleeps in the kernel (loads of one word, some
 * microseconds; the clock is not read, it may cost more than the load in
 * a VM): a peer thread streaming values usually answers within that, and
 * then neither side makes a system call (the waker writes the wake
 * descriptor only to a sleeper). */
#define HSAFE__RMT_SPINS 4096

/* The loop's idle wait (timeout_ns -1: none): sleeps unless something is
 * queued already, then drains the queues. */
static void hsafe__rmt_idle_wait(hsafe_loop *l, int64_t timeout_ns)
{
    if (l->ext_waiters && timeout_ns != 0) {
        unsigned i;
        for (i = 0; i < HSAFE__RMT_SPINS; i++) {
            if (__atomic_load_n(&l->rmt_pending, __ATOMIC_ACQUIRE)) {
                hsafe__rmt_drain(l);
                return;
            }
        }
    }
    __atomic_store_n(&l->rmt_sleeping, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&l->rmt_pending, __ATOMIC_SEQ_CST)) timeout_ns = 0;
    hsafe__tos_wait(l, timeout_ns);
    __atomic_store_n(&l->rmt_sleeping, 0, __ATOMIC_SEQ_CST);
    hsafe__rmt_drain(l);
}

/* ---- public -------------------------------------------------------------- */

HSAFE_API int hsafe_loop_post(hsafe_loop *loop, hsafe_post_fn fn, void *arg)
{
    int rc = HSAFE_OK;
    if (!fn || !hsafe__loop_ok(loop)) return HSAFE_EINVAL;
    hsafe__spin_lock(&loop->rmt_lock);
    if (loop->rmt_post_count == HSAFE_LOOP_POST_SLOTS) {
        rc = HSAFE_EBUSY;
    } else {
        unsigned i = (loop->rmt_post_head + loop->rmt_post_count) % HSAFE_LOOP_POST_SLOTS;
        loop->rmt_posts[i].fn = fn;
        loop->rmt_posts[i].arg = arg;
        loop->rmt_post_count++;
        hsafe__rmt_kick(loop);
    }
    hsafe__spin_unlock(&loop->rmt_lock);
    return rc;
}

HSAFE_API int hsafe_loop_ref(hsafe_loop *loop)
{
    if (!hsafe__loop_ok(loop)) return HSAFE_EINVAL;
    __atomic_add_fetch(&loop->rmt_refs, 1, __ATOMIC_ACQ_REL);
    return HSAFE_OK;
}

HSAFE_API int hsafe_loop_unref(hsafe_loop *loop)
{
    int v;
    if (!hsafe__loop_ok(loop)) return HSAFE_EINVAL;
    v = __atomic_load_n(&loop->rmt_refs, __ATOMIC_ACQUIRE);
    do {
        if (v <= 0) return HSAFE_ESTATE;
    } while (!__atomic_compare_exchange_n(&loop->rmt_refs, &v, v - 1, 0, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE));
    /* the loop may sleep waiting for nothing now: let it look again */
    hsafe__spin_lock(&loop->rmt_lock);
    hsafe__rmt_kick(loop);
    hsafe__spin_unlock(&loop->rmt_lock);
    return HSAFE_OK;
}

#endif /* HSAFE__TASKS_REMOTE_H */
