/* tasks/io.h - the loop's view of the operating system: the monotonic
 * clock, fd readiness and the idle sleep. Implementation part only,
 * included by hsafe.h before tasks/sched.h.
 *
 * THIS IS THE ONLY TASKS FILE THAT TESTS OS FLAGS (HSAFE__OS_WIN32,
 * HSAFE__OS_LINUX, from core/target.h) OR MAKES SYSTEM CALLS; it is meant
 * to move to the OS layer (os/) as a whole.
 * It gives tasks/sched.h:
 *   hsafe__tos_now()                          monotonic ns
 *   hsafe__tos_init(loop) / hsafe__tos_fini(loop)
 *   hsafe__tos_arm(loop, t, fd, events)       start watching fd for t
 *                                             (0, HSAFE_EBUSY, HSAFE_EINVAL,
 *                                             HSAFE_ENOTSUP, or 1: the fd
 *                                             is always ready, e.g. a file)
 *   hsafe__tos_disarm(loop, t, fired)         stop watching t's fd (fired:
 *                                             its event ended the wait)
 *   hsafe__tos_wait(loop, timeout_ns)         sleep in the kernel until an
 *                                             armed fd is ready (calling
 *                                             hsafe__task_io_ready(t) for
 *                                             each) or timeout_ns passed
 *                                             (-1: no timeout, 0: poll);
 *                                             also wakes for the loop's
 *                                             remote wake (tasks/remote.h:
 *                                             rmt_fd[0] / rmt_event, then
 *                                             hsafe__rmt_signalled(loop))
 * Backends: epoll (Linux), poll() (other POSIX; on Linux too with
 * HSAFE_TEST_TASK_POLL, [impl] TESTS ONLY), and on Windows the clock and
 * a plain Sleep (no fd waits).
 */
#if defined(HSAFE__IMPL) && !defined(HSAFE__TASKS_IO_H)
#define HSAFE__TASKS_IO_H 1

static void hsafe__task_io_ready(hsafe_task *t);
static int hsafe__task_waits_on_fd(const hsafe_loop *loop, int fd);
static void hsafe__rmt_signalled(hsafe_loop *loop);

#if defined(HSAFE__OS_WIN32)
#  define HSAFE__TOS_WIN32 1
#elif defined(HSAFE__OS_LINUX) && !defined(HSAFE_TEST_TASK_POLL)
#  define HSAFE__TOS_EPOLL 1
#  include <sys/epoll.h>
#  include <time.h>
#else
#  define HSAFE__TOS_POLL 1
#  include <poll.h>
#  include <time.h>
#endif

/* ms for a timeout in ns, rounded up so a sleep never ends early */
static int hsafe__tos_ms(int64_t ns)
{
    if (ns < 0) return -1;
    if (ns > (int64_t)INT_MAX * 1000000) return INT_MAX;
    return (int)((ns + 999999) / 1000000);
}

#if defined(HSAFE__TOS_WIN32)

static int64_t hsafe__tos_now(void)
{
    static LARGE_INTEGER freq;
    LARGE_INTEGER c;
    if (!freq.QuadPart) QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&c);
    return (int64_t)((c.QuadPart / freq.QuadPart) * 1000000000LL +
                     (c.QuadPart % freq.QuadPart) * 1000000000LL / freq.QuadPart);
}
static int hsafe__tos_init(hsafe_loop *loop) { loop->io_fd = -1; return HSAFE_OK; }
static void hsafe__tos_fini(hsafe_loop *loop) { (void)loop; }
static int hsafe__tos_arm(hsafe_loop *loop, hsafe_task *t, int fd, int events)
{
    (void)loop; (void)t; (void)fd; (void)events;
    return HSAFE_ENOTSUP;
}
static void hsafe__tos_disarm(hsafe_loop *loop, hsafe_task *t, int fired)
{
    (void)loop; (void)t; (void)fired;
}
static void hsafe__tos_wait(hsafe_loop *loop, int64_t timeout_ns)
{
    int ms = hsafe__tos_ms(timeout_ns);
    if (!loop->rmt_event) {
        Sleep(ms < 0 ? INFINITE : (DWORD)ms);
        return;
    }
    if (WaitForSingleObject((HANDLE)loop->rmt_event, ms < 0 ? INFINITE : (DWORD)ms) == WAIT_OBJECT_0)
        hsafe__rmt_signalled(loop);
}

#else /* POSIX */

static int64_t hsafe__tos_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

#if defined(HSAFE__TOS_EPOLL)

static int hsafe__tos_init(hsafe_loop *loop)
{
    loop->io_fd = epoll_create1(EPOLL_CLOEXEC);
    return loop->io_fd < 0 ? HSAFE_ENOMEM : HSAFE_OK;
}

static void hsafe__tos_fini(hsafe_loop *loop)
{
    if (loop->io_fd >= 0) close(loop->io_fd);
    loop->io_fd = -1;
}

/* Registrations outlive a wait that its event ended. Every registration
 * is EPOLLONESHOT: when its event is reported the kernel disables it, and
 * it stays in the set, silent, until re-armed. So a wait that ended by its
 * event leaves it there (no EPOLL_CTL_DEL), and the task remembers that fd
 * (kept_fd); its next wait on the same fd re-arms it with one
 * EPOLL_CTL_MOD. A connection task that waits on its socket again and
 * again then pays one system call per wait instead of two (ADD, DEL). A
 * wait that ended otherwise (deadline, cancellation) deletes its
 * registration, which is still armed.
 * Closing an fd removes its registration (the kernel does); a MOD on it
 * then fails with ENOENT and the wait adds a new one. Another task that
 * meets a left-over registration (ADD fails with EEXIST) gets HSAFE_EBUSY
 * if some task waits on that fd, and takes the registration over
 * otherwise; that bumps kept_gen, which voids every task's remembered fd
 * (whose registration it was is not known). Caveat: a task that closed
 * an fd and waits on whatever the number names next, while another task
 * waits on it, takes that wait over instead of getting HSAFE_EBUSY. */
static int hsafe__tos_arm(hsafe_loop *loop, hsafe_task *t, int fd, int events)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLONESHOT | ((events & HSAFE_FD_READ) ? EPOLLIN : 0u) |
                ((events & HSAFE_FD_WRITE) ? EPOLLOUT : 0u);
    ev.data.ptr = t;
    if (t->kept_fd == fd && t->kept_gen == loop->kept_gen) {
        t->kept_fd = -1;
        if (epoll_ctl(loop->io_fd, EPOLL_CTL_MOD, fd, &ev) == 0) return HSAFE_OK;
        if (errno != ENOENT) return HSAFE_EINVAL;
    }
    if (epoll_ctl(loop->io_fd, EPOLL_CTL_ADD, fd, &ev) == 0) return HSAFE_OK;
    if (errno == EEXIST) {
        if (hsafe__task_waits_on_fd(loop, fd)) return HSAFE_EBUSY;
        loop->kept_gen++;               /* a left-over registration: take it */
        return epoll_ctl(loop->io_fd, EPOLL_CTL_MOD, fd, &ev) == 0 ? HSAFE_OK : HSAFE_EINVAL;
    }
    if (errno == EPERM) return 1;       /* regular file: always ready */
    return HSAFE_EINVAL;
}

static void hsafe__tos_disarm(hsafe_loop *loop, hsafe_task *t, int fired)
{
    struct epoll_event ev;
    if (fired) {                        /* disabled by EPOLLONESHOT: keep it */
        t->kept_fd = t->wait_fd;
        t->kept_gen = loop->kept_gen;
        return;
    }
    memset(&ev, 0, sizeof ev);
    epoll_ctl(loop->io_fd, EPOLL_CTL_DEL, t->wait_fd, &ev);
}

static void hsafe__tos_wait(hsafe_loop *loop, int64_t timeout_ns)
{
    struct epoll_event evs[64];
    int n, i;
    n = epoll_wait(loop->io_fd, evs, 64, hsafe__tos_ms(timeout_ns));
    for (i = 0; i < n; i++) {
        if (evs[i].data.ptr) hsafe__task_io_ready((hsafe_task *)evs[i].data.ptr);
        else hsafe__rmt_signalled(loop);      /* the remote wake */
    }
}

#else /* poll() */

static int hsafe__tos_init(hsafe_loop *loop) { loop->io_fd = -1; return HSAFE_OK; }
static void hsafe__tos_fini(hsafe_loop *loop) { (void)loop; }

static int hsafe__tos_arm(hsafe_loop *loop, hsafe_task *t, int fd, int events)
{
    int i, free_i = -1;
    if (fd < 0 || fcntl(fd, F_GETFD) < 0) return HSAFE_EINVAL;
    for (i = 0; i < HSAFE__LOOP_POLL_SLOTS; i++) {
        if (loop->io_slots[i].task && loop->io_slots[i].fd == fd) return HSAFE_EBUSY;
        if (!loop->io_slots[i].task && free_i < 0) free_i = i;
    }
    if (free_i < 0) return HSAFE_EBUSY;
    loop->io_slots[free_i].fd = fd;
    loop->io_slots[free_i].events = (short)(((events & HSAFE_FD_READ) ? POLLIN : 0) |
                                            ((events & HSAFE_FD_WRITE) ? POLLOUT : 0));
    loop->io_slots[free_i].task = t;
    return HSAFE_OK;
}

static void hsafe__tos_disarm(hsafe_loop *loop, hsafe_task *t, int fired)
{
    int i;
    (void)fired;
    for (i = 0; i < HSAFE__LOOP_POLL_SLOTS; i++)
        if (loop->io_slots[i].task == t) loop->io_slots[i].task = NULL;
}

static void hsafe__tos_wait(hsafe_loop *loop, int64_t timeout_ns)
{
    struct pollfd pfd[HSAFE__LOOP_POLL_SLOTS + 1];
    hsafe_task *who[HSAFE__LOOP_POLL_SLOTS + 1];
    int i, n = 0;
    if (loop->rmt_fd[0] >= 0) {                 /* the remote wake */
        pfd[n].fd = loop->rmt_fd[0];
        pfd[n].events = POLLIN;
        pfd[n].revents = 0;
        who[n++] = NULL;
    }
    for (i = 0; i < HSAFE__LOOP_POLL_SLOTS; i++) {
        if (!loop->io_slots[i].task) continue;
        pfd[n].fd = loop->io_slots[i].fd;
        pfd[n].events = loop->io_slots[i].events;
        pfd[n].revents = 0;
        who[n++] = loop->io_slots[i].task;
    }
    if (poll(pfd, (nfds_t)n, hsafe__tos_ms(timeout_ns)) <= 0) return;
    for (i = 0; i < n; i++) {
        if (!pfd[i].revents) continue;
        if (who[i]) hsafe__task_io_ready(who[i]);
        else hsafe__rmt_signalled(loop);
    }
}

#endif /* epoll / poll */
#endif /* POSIX */

#endif /* HSAFE__TASKS_IO_H */
