/* api/chan.h - channels between tasks, and posting work to a loop from any
 * thread: public declarations and the objects (caller memory; their
 * fields are private). Part of hsafe (the manual is hsafe.h). Uses
 * core/base.h and the types of api/task.h. The implementation is in
 * tasks/remote.h (posts, cross-thread wakeups) and tasks/chan.h.
 *
 * CHANNELS
 *   A channel carries elements of one size (any size, 0 included) from
 *   senders to receivers, first in first out. It lives in caller memory,
 *   and so does its buffer: hsafe never allocates for it.
 *     - buffered (cap > 0): a send waits only while cap elements are in
 *       the buffer, a receive only while it is empty;
 *     - unbuffered (cap 0): a rendezvous; a send waits for a receiver and
 *       the value goes straight from the sender's memory to the
 *       receiver's.
 *   Waiters are served first come, first served (per channel).
 *
 *   Closing (Go semantics): receivers get what is in the buffer, then
 *   HSAFE_ECLOSED; a send on a closed channel returns HSAFE_ECLOSED and
 *   sends nothing; tasks waiting to send or receive when it closes get
 *   HSAFE_ECLOSED.
 *
 *   Blocking calls (hsafe_chan_send, hsafe_chan_recv, hsafe_chan_select)
 *   follow the rules of api/task.h: only inside a task; a deadline in the
 *   past makes them a poll (HSAFE_ETIMEDOUT when nothing was ready); a
 *   cancelled task gets HSAFE_ECANCELED at once, every time, before
 *   anything is tried; a shield's grace deadline caps the wait. A call that
 *   returns HSAFE_ECANCELED or HSAFE_ETIMEDOUT did nothing: a send did not
 *   happen (its value was not taken), a receive took nothing. When a value
 *   was handed to a waiting task and the task was cancelled (or its
 *   deadline passed) before it ran again, the operation happened and the
 *   call reports success: no value is ever lost or duplicated. (The task's
 *   next blocking call then sees the cancellation.)
 *   The hsafe_chan_try_* calls never block, work outside tasks too, and
 *   return HSAFE_EAGAIN when they would have to wait.
 *
 * SHARED CHANNELS (between threads)
 *   A channel made with HSAFE_CHAN_SHARED may be used from any number of
 *   threads at once: tasks on different loops (one loop per core) block on
 *   it, and plain threads use the try_* calls and hsafe_chan_close. A spin
 *   lock (few instructions held; it yields the CPU when contended) guards
 *   it; a task on another loop is woken through that loop's remote queue
 *   (hsafe_loop_post's mechanism). A channel without the flag belongs to
 *   one loop: it is bound to the loop of the first task that blocks on it,
 *   and blocking on it from another loop is misuse (aborts).
 *
 * POSTING TO A LOOP (any thread)
 *   hsafe_loop_post(loop, fn, arg) queues fn(arg) to run on the loop's own
 *   thread, between scheduler passes (not in a task: fn must not block; it
 *   may spawn nothing, but it may use the try_* calls, hsafe_chan_close and
 *   hsafe_scope_cancel) and wakes the loop if it sleeps: an eventfd on
 *   Linux, a pipe on other POSIX systems, an event object on Windows.
 *
 * DEADLOCK OR EXTERNAL EVENT?
 *   An idle loop (every task waits) reports a deadlock and aborts only when
 *   nothing can wake it. It waits instead (in the kernel, no spinning) as
 *   long as any of these holds: a timer is armed, a task waits on an fd, a
 *   task waits in a channel call that involves a shared channel (another
 *   thread may complete it), a post or remote wakeup is queued, or the
 *   loop's reference count (hsafe_loop_ref) is above zero. A task waiting
 *   on shared channels whose only peers are on the same loop therefore
 *   hangs instead of being reported.
 *
 * THREAD SAFETY, EXACTLY
 *   From any thread, at any time between hsafe_loop_init and
 *   hsafe_loop_fini of that loop: hsafe_loop_post, hsafe_loop_ref,
 *   hsafe_loop_unref. On a HSAFE_CHAN_SHARED channel from any thread:
 *   every hsafe_chan_* call except hsafe_chan_init (the blocking ones only
 *   inside a task). Everything else in hsafe_chan_* and api/task.h (a
 *   channel without the flag; scopes, tasks, loops) is for the loop's own
 *   thread only. hsafe_loop_fini must not overlap a post: the program makes
 *   sure no thread posts to the loop (or wakes one of its tasks) when it is
 *   finalised.
 *
 * WINDOWS
 *   Everything above works (the loop waits on an event object; threads are
 *   the program's: CreateThread or winpthreads). fd waits remain
 *   HSAFE_ENOTSUP there (api/task.h).
 */
#ifndef HSAFE__API_CHAN_H
#define HSAFE__API_CHAN_H
HSAFE__BEGIN_C

/* ---- Posting to a loop from any thread ------------------------------------ */

/* A posted function (runs on the loop's thread, outside any task). */
typedef void (*hsafe_post_fn)(void *arg);

#define HSAFE_LOOP_POST_SLOTS 64    /* posts that may wait at once, per loop */

/* Queue fn(arg) to run on `loop`'s thread soon (when it runs: a loop that
 * is not running keeps its posts for its next hsafe_loop_run) and wake the
 * loop if it sleeps. Posts from one thread run in the order posted. At
 * most HSAFE_LOOP_POST_SLOTS posts wait at once. Thread-safe.
 * Errors: HSAFE_EINVAL (NULL fn, loop not initialised); HSAFE_EBUSY (the
 * queue is full: the loop has not caught up; try again later). */
HSAFE_API int hsafe_loop_post(hsafe_loop *loop, hsafe_post_fn fn, void *arg);

/* Count the loop as waiting for something from another thread (a post it
 * expects): while the count is above zero an idle loop sleeps instead of
 * reporting a deadlock. hsafe_loop_unref takes one back. Thread-safe.
 * Errors: HSAFE_EINVAL (loop not initialised); HSAFE_ESTATE (unref below
 * zero). */
HSAFE_API int hsafe_loop_ref(hsafe_loop *loop);
HSAFE_API int hsafe_loop_unref(hsafe_loop *loop);

/* ---- Channels --------------------------------------------------------------- */

typedef struct hsafe_chan hsafe_chan;

/* Channel flags (hsafe_chan_init). */
#define HSAFE_CHAN_SHARED 0x1u      /* usable from several threads and loops */

/* Select clause operations. */
#define HSAFE_CHAN_SEND 1
#define HSAFE_CHAN_RECV 2

/* Prepare `ch` (caller memory) for elements of elem_size bytes. cap 0
 * makes an unbuffered (rendezvous) channel (buf may be NULL); otherwise
 * buf holds cap * elem_size bytes, the caller's, untouched by hsafe after
 * the channel is no longer used. A slot is zeroed when its value is
 * received, so a drained buffer holds no copy of what went through. No allocation. Not thread-safe: finish
 * it before other threads see the channel.
 * Errors: HSAFE_EINVAL (NULL ch; cap > 0 with NULL buf, or cap *
 * elem_size overflowing; unknown flags). */
HSAFE_API int hsafe_chan_init(hsafe_chan *ch, size_t elem_size, void *buf, size_t cap,
                              unsigned flags);

/* Send elem_size bytes from `elem` (may be NULL when elem_size is 0):
 * into the buffer, or straight to a waiting receiver; waits while neither
 * is possible, until `deadline`. Returns 0 (sent); HSAFE_ECLOSED (closed:
 * nothing sent); HSAFE_ETIMEDOUT, HSAFE_ECANCELED (nothing sent);
 * HSAFE_EINVAL (not a channel, NULL elem). Outside a task: misuse. */
HSAFE_API int hsafe_chan_send(hsafe_chan *ch, const void *elem, hsafe_time deadline);

/* Receive one element into `elem` (NULL: discard it), waiting until one
 * is there or `deadline`. Returns 0 (received); HSAFE_ECLOSED (closed and
 * drained: nothing received); HSAFE_ETIMEDOUT, HSAFE_ECANCELED (nothing
 * received); HSAFE_EINVAL (not a channel). Outside a task: misuse. */
HSAFE_API int hsafe_chan_recv(hsafe_chan *ch, void *elem, hsafe_time deadline);

/* The same without waiting, from anywhere (a shared channel: from any
 * thread). Return 0, HSAFE_ECLOSED, HSAFE_EINVAL, or HSAFE_EAGAIN (would
 * have to wait: nothing done). */
HSAFE_API int hsafe_chan_try_send(hsafe_chan *ch, const void *elem);
HSAFE_API int hsafe_chan_try_recv(hsafe_chan *ch, void *elem);

/* Close the channel: no more sends (they return HSAFE_ECLOSED), receivers
 * drain the buffer then get HSAFE_ECLOSED, and every task waiting on it is
 * woken with HSAFE_ECLOSED. Not a blocking call: from anywhere.
 * Errors: HSAFE_EINVAL (not a channel); HSAFE_ECLOSED (already closed). */
HSAFE_API int hsafe_chan_close(hsafe_chan *ch);

/* Elements in the buffer now, and the capacity (0: unbuffered). A snapshot
 * for a shared channel. 0 for NULL. */
HSAFE_API size_t hsafe_chan_len(hsafe_chan *ch);
HSAFE_API size_t hsafe_chan_cap(const hsafe_chan *ch);

/* ---- Select ----------------------------------------------------------------- */

/* Private: a select in progress (in the selecting task's frame) and one
 * clause's place in a channel's queue of waiters. */
typedef struct hsafe__chan_sel {
    int state;                      /* open, busy, given up, or clause + 1 */
    int shared;                     /* a clause is on a shared channel */
    hsafe_task *task;
} hsafe__chan_sel;

typedef struct hsafe__chan_waiter {
    struct hsafe__chan_waiter *prev, *next;
    hsafe__chan_sel *sel;
    int index;                      /* the clause's index in the select */
    int linked;                     /* in the channel's queue */
} hsafe__chan_waiter;

/* One clause of a select: set chan (NULL: the clause is left out), op
 * (HSAFE_CHAN_SEND or HSAFE_CHAN_RECV) and elem (the value to send; where
 * to receive, or NULL). After the select, rc of the clause that happened
 * is 0 or HSAFE_ECLOSED (the channel was closed). */
typedef struct hsafe_chan_clause {
    hsafe_chan *chan;
    int op;
    void *elem;
    int rc;
    hsafe__chan_waiter w;           /* private */
} hsafe_chan_clause;

/* Wait until one clause can happen, do it (only that one) and return its
 * index. When several are ready at once, the first in the array wins.
 * A clause on a closed channel is ready (its rc is HSAFE_ECLOSED).
 * Returns the index, or HSAFE_ETIMEDOUT (deadline; with no clause, a
 * plain sleep), HSAFE_ECANCELED (nothing done), HSAFE_EINVAL (NULL c with
 * n > 0, unknown op, a chan that is not a channel, NULL elem to send).
 * Outside a task: misuse. */
HSAFE_API int hsafe_chan_select(hsafe_chan_clause *c, size_t n, hsafe_time deadline);

/* Select with a default: the first ready clause's index, or HSAFE_EAGAIN
 * at once when none is ready. Never blocks; from anywhere. Errors as
 * hsafe_chan_select. */
HSAFE_API int hsafe_chan_try_select(hsafe_chan_clause *c, size_t n);

/* ---- The channel object (caller memory; fields private) ---------------------- */

struct hsafe_chan {
    uint32_t magic;
    unsigned flags;
    size_t elem_size, cap;
    unsigned char *buf;
    size_t head, count;             /* ring buffer */
    int closed;
    int lock;                       /* shared: the spin lock */
    hsafe__chan_waiter *sendq, *sendq_tail, *recvq, *recvq_tail;
    hsafe_loop *loop;               /* not shared: the loop it belongs to */
};

HSAFE__END_C
#endif /* HSAFE__API_CHAN_H */
