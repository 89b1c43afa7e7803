/* api/task.h - scoped tasks (structured concurrency): public declarations.
 * Part of hsafe (the manual is hsafe.h). Uses core/base.h and the types of
 * api/coro.h, api/pool.h and api/run.h. The task, scope and loop objects
 * are defined in tasks/types.h; the implementation is in tasks/ (timer.h,
 * io.h, sched.h).
 *
 * MODEL
 *   One loop (scheduler) per thread, in caller memory, running tasks on
 *   stacks from one hsafe_pool. hsafe_loop_run(loop, fn, arg) runs fn as the
 *   root task and returns when it has ended; a task that wants children
 *   opens a scope (a nursery) in its own frame, spawns tasks into it and
 *   joins it. A scope cannot end while a child lives, so children may
 *   borrow the opener's locals. When a task ends, its stack goes back to
 *   the pool, which wipes what the task wrote there, and the registers it
 *   may have left are cleared right after the switch back.
 *
 *   Tasks are cooperative: they switch only in the blocking calls below
 *   (hsafe_yield, hsafe_sleep_until, hsafe_fd_wait, hsafe_scope_join,
 *   hsafe_scope_spawn_wait). They run in spawn order, first in first out,
 *   and a task that yields goes behind every task already ready.
 *
 * TIME
 *   Deadlines are absolute monotonic nanoseconds (hsafe_now()), or
 *   HSAFE_FOREVER. A deadline in the past makes a blocking call a poll.
 *
 * CANCELLATION (level-triggered, as in Trio and libdill)
 *   A cancelled task's blocking calls return HSAFE_ECANCELED at once, every
 *   time, until it ends; nothing clears it. A blocking call that returns
 *   HSAFE_ECANCELED or HSAFE_ETIMEDOUT did not do its work. Cancelling a
 *   scope cancels its children, and a cancelled task's open scopes (so its
 *   descendants) too. hsafe_scope_join always waits for every child, even
 *   in a cancelled task (it cancels the scope first). Reasons:
 *   HSAFE_CANCEL_EXPLICIT (hsafe_scope_cancel), HSAFE_CANCEL_DEADLINE (the
 *   scope's deadline passed), HSAFE_CANCEL_SIBLING (a sibling failed, in a
 *   fail-fast scope), HSAFE_CANCEL_PARENT (the task that opened the scope
 *   was cancelled or panicked).
 *
 * FAILURE
 *   A child fails when it returns a negative status (except
 *   HSAFE_ECANCELED once its scope was cancelled) or panics (HSAFE_EPANIC,
 *   message kept in the task). By default the first failure cancels the
 *   siblings (fail-fast); HSAFE_SCOPE_COLLECT_ALL lets them run on. Either
 *   way hsafe_scope_join returns what happened first: the first failure's
 *   status, HSAFE_ETIMEDOUT for the scope's deadline, or HSAFE_ECANCELED for
 *   a cancel that caught children running; 0 if nothing did. Every child's
 *   status, panic message and name stay readable in its hsafe_task.
 *
 * CLEANUPS
 *   hsafe_cleanup_push/pop work in tasks as in runs: handlers still
 *   registered when the task ends (it returns, or panics) run once, newest
 *   first, after the task's open scopes were cancelled and joined.
 *
 * MISUSE (prints "hsafe: misuse: ..." naming the scope and task, aborts)
 *   a task function returning with a scope still open; joining a scope
 *   from anywhere but the task that opened it (one of its own children,
 *   say); spawning into a scope that was joined; a scope whose frame ended
 *   (return or longjmp) while it was open, seen at the task's next
 *   blocking call; blocking calls outside a task or inside a hsafe_run
 *   nested in a task; a loop where every task waits and nothing can wake
 *   one (deadlock; the task tree is printed first; a wait another thread
 *   may end is not a deadlock: api/chan.h, "DEADLOCK OR EXTERNAL EVENT?").
 *
 * THREADS
 *   One loop per thread; tasks stay on the loop that spawned them. Loops
 *   reach each other through shared channels and hsafe_loop_post
 *   (api/chan.h, which says exactly what is thread-safe).
 *
 * NOT (YET)
 *   Windows: everything but hsafe_fd_wait (HSAFE_ENOTSUP).
 */
#ifndef HSAFE__API_TASK_H
#define HSAFE__API_TASK_H
HSAFE__BEGIN_C

/* ---- Time ------------------------------------------------------------- */

/* Absolute monotonic time in nanoseconds. */
typedef int64_t hsafe_time;
#define HSAFE_FOREVER ((hsafe_time)INT64_MAX)

/* The monotonic clock now, in nanoseconds (CLOCK_MONOTONIC, or
 * QueryPerformanceCounter on Windows). */
HSAFE_API hsafe_time hsafe_now(void);

/* hsafe_now() + ns, saturating at HSAFE_FOREVER (ns < 0 counts as 0). */
HSAFE_API hsafe_time hsafe_after(int64_t ns);

/* ---- Objects (caller memory; fields private) ---------------------------- */

typedef struct hsafe_loop hsafe_loop;
typedef struct hsafe_scope hsafe_scope;
typedef struct hsafe_task hsafe_task;

/* A task's function: returns its status (>= 0 success, < 0 failure,
 * usually an HSAFE_E* code). */
typedef int (*hsafe_task_fn)(void *arg);

enum hsafe_task_state {
    HSAFE_TASK_NONE    = 0,     /* never spawned (or the spawn failed) */
    HSAFE_TASK_READY   = 1,     /* waiting for its turn */
    HSAFE_TASK_RUNNING = 2,
    HSAFE_TASK_WAITING = 3,     /* blocked (see hsafe_loop_dump) */
    HSAFE_TASK_DONE    = 4      /* ended; stack wiped and back in the pool */
};

enum hsafe_cancel_reason {
    HSAFE_CANCEL_NONE     = 0,
    HSAFE_CANCEL_EXPLICIT = 1,  /* hsafe_scope_cancel */
    HSAFE_CANCEL_DEADLINE = 2,  /* the scope's deadline passed */
    HSAFE_CANCEL_SIBLING  = 3,  /* a sibling failed (fail-fast scope) */
    HSAFE_CANCEL_PARENT   = 4   /* the scope's opener was cancelled or panicked */
};

#define HSAFE_TASK_MESSAGE_SIZE 128   /* bytes kept of a task's panic message */

/* Scope flags (hsafe_scope_open). */
#define HSAFE_SCOPE_COLLECT_ALL 0x1u  /* a failing child does not cancel its
                                         siblings */


/* A shield record, in the shielding frame. */
typedef struct hsafe_shield {
    hsafe_task *task;
    hsafe_time prev_grace;
    unsigned depth;
} hsafe_shield;

/* Zero-initialise and set what you need. */
typedef struct hsafe_loop_config {
    hsafe_pool *pool;       /* stacks for every task (required) */
    unsigned flags;         /* none yet: 0 */
} hsafe_loop_config;


/* ---- Loop --------------------------------------------------------------- */

/* Prepare `loop` (caller memory) to run tasks on stacks from cfg->pool.
 * Errors: HSAFE_EINVAL (NULL loop or cfg, no pool, unknown flags);
 * HSAFE_ENOMEM (the system refused the event descriptor). */
HSAFE_API int hsafe_loop_init(hsafe_loop *loop, const hsafe_loop_config *cfg);

/* Run fn(arg) as the root task (named `name`, may be NULL) and every task
 * under it, on this thread, until the root task has ended; returns its
 * status (HSAFE_EPANIC if it panicked; its message: hsafe_task_message(
 * hsafe_loop_root(loop))). An idle loop sleeps in the kernel until the
 * nearest deadline or fd event.
 * Errors: HSAFE_EINVAL (NULL or uninitialised loop, NULL fn); HSAFE_ESTATE
 * (a loop already runs on this thread); those of hsafe_pool_acquire for
 * the root task's stack. */
HSAFE_API int hsafe_loop_run(hsafe_loop *loop, hsafe_task_fn fn, void *arg, const char *name);

/* Release what hsafe_loop_init took (the event descriptor).
 * Errors: HSAFE_EINVAL (NULL or not a loop); HSAFE_ESTATE (it is running). */
HSAFE_API int hsafe_loop_fini(hsafe_loop *loop);

/* The root task of the loop's last run (status, message). NULL for NULL. */
HSAFE_API const hsafe_task *hsafe_loop_root(const hsafe_loop *loop);

/* Print the live task tree (scope -> tasks: name, state, what it waits on
 * and until when, cancel reason, stack high-water) on stderr. loop NULL
 * means this thread's running loop. Usable from a debugger:
 *     (gdb) call hsafe_loop_dump(0) */
HSAFE_API void hsafe_loop_dump(const hsafe_loop *loop);

/* The same into buf (NUL-terminated, truncated to cap); returns the length
 * the whole dump needs (like snprintf). */
HSAFE_API size_t hsafe_loop_dump_str(const hsafe_loop *loop, char *buf, size_t cap);

/* ---- Scopes ------------------------------------------------------------- */

/* Inside a task: open scope `s` (in this task's frame) named `name` (may
 * be NULL), with HSAFE_SCOPE_* flags and a deadline (HSAFE_FOREVER for
 * none): at the deadline its children are cancelled and join returns
 * HSAFE_ETIMEDOUT. Opened in a cancelled task, it starts cancelled.
 * Errors: HSAFE_EINVAL (NULL s, unknown flags). Outside a task: misuse. */
HSAFE_API int hsafe_scope_open(hsafe_scope *s, const char *name, unsigned flags, hsafe_time deadline);

/* Start fn(arg) as a task of scope s, in `t` (caller memory that outlives
 * the scope: the opener's frame, typically), on a stack from the loop's
 * pool. It runs when its turn comes; the caller goes on. Any task of the
 * loop may spawn into an open scope. Spawned into a cancelled scope, the
 * task starts cancelled.
 * Errors: HSAFE_EINVAL (NULL s, t or fn; t is a live task); HSAFE_EBUSY
 * (the pool has no free stack); HSAFE_ENOMEM, HSAFE_ELOCK (from the pool).
 * Spawning into a joined scope, or outside a task: misuse. */
HSAFE_API int hsafe_scope_spawn(hsafe_scope *s, hsafe_task *t, hsafe_task_fn fn, void *arg,
                                const char *name);

/* hsafe_scope_spawn that waits (until `deadline`) for a free stack when
 * the pool has none; waiters get stacks first come, first served, as
 * tasks of the loop end (a stack released by anything else, a hsafe_run
 * on the same pool say, wakes nobody).
 * Errors: those of hsafe_scope_spawn but HSAFE_EBUSY; HSAFE_ETIMEDOUT
 * (deadline passed); HSAFE_ECANCELED (the caller is cancelled). */
HSAFE_API int hsafe_scope_spawn_wait(hsafe_scope *s, hsafe_task *t, hsafe_task_fn fn, void *arg,
                                     const char *name, hsafe_time deadline);

/* Wait until every child of s has ended, then close s. Only the task that
 * opened s may join it, innermost scope first. A cancelled caller cancels
 * s first and still waits. Returns 0, or the first thing that happened:
 * a failing child's status (hsafe_scope_failed() names it),
 * HSAFE_ETIMEDOUT (the scope's deadline), HSAFE_ECANCELED (cancelled with
 * children running). Misuse (aborts): joined by another task, not the
 * innermost open scope of the caller, already joined. */
HSAFE_API int hsafe_scope_join(hsafe_scope *s);

/* Cancel every child of s (reason HSAFE_CANCEL_EXPLICIT) and every child
 * spawned into it later. Idempotent; returns at once. Any task of the loop
 * may call it. Errors: HSAFE_EINVAL (NULL, or not an open scope). */
HSAFE_API int hsafe_scope_cancel(hsafe_scope *s);

/* Why s was cancelled (enum hsafe_cancel_reason; 0 if it was not). */
HSAFE_API int hsafe_scope_cancel_reason(const hsafe_scope *s);

/* The first child of s that failed, or NULL. Valid until the tasks' memory
 * is reused. */
HSAFE_API const hsafe_task *hsafe_scope_failed(const hsafe_scope *s);

/* ---- Tasks -------------------------------------------------------------- */

/* The running task of this thread; NULL outside tasks, and inside a
 * hsafe_run nested in a task (the run is what runs then). */
HSAFE_API hsafe_task *hsafe_task_current(void);

/* Status (valid once DONE: fn's return value, or HSAFE_EPANIC), state
 * (enum hsafe_task_state), name ("" for none), panic message ("" for
 * none), cancel reason (enum hsafe_cancel_reason) and the deepest stack
 * use measured when it ended (bytes from the top). All safe on NULL. */
HSAFE_API int hsafe_task_status(const hsafe_task *t);
HSAFE_API int hsafe_task_state(const hsafe_task *t);
HSAFE_API const char *hsafe_task_name(const hsafe_task *t);
HSAFE_API const char *hsafe_task_message(const hsafe_task *t);
HSAFE_API int hsafe_task_cancel_reason(const hsafe_task *t);
HSAFE_API size_t hsafe_task_stack_used(const hsafe_task *t);

/* A static name for a cancel reason ("explicit", "deadline", ...). */
HSAFE_API const char *hsafe_cancel_reason_name(int reason);

/* ---- Blocking calls (inside a task) -------------------------------------- */
/* Each returns HSAFE_ECANCELED at once when the calling task is cancelled
 * (and not shielded). Called outside a task, or inside a hsafe_run nested
 * in a task, each is misuse and aborts. */

/* Let every other ready task run once, then go on.
 * Returns 0 or HSAFE_ECANCELED. */
HSAFE_API int hsafe_yield(void);

/* Sleep until `deadline`. Returns 0 (it passed), HSAFE_ECANCELED, or
 * HSAFE_ETIMEDOUT (a shield's grace deadline came first). */
HSAFE_API int hsafe_sleep_until(hsafe_time deadline);

/* fd events (hsafe_fd_wait). */
#define HSAFE_FD_READ  0x1
#define HSAFE_FD_WRITE 0x2

/* Wait until fd is readable/writable (HSAFE_FD_* mask; an error or hangup
 * counts as ready) or `deadline`. One task at a time may wait on an fd.
 * Returns 0, HSAFE_ETIMEDOUT, HSAFE_ECANCELED; HSAFE_EINVAL (bad fd or
 * events); HSAFE_EBUSY (another task waits on fd; with poll(), more than
 * 32 waits at once); HSAFE_ENOTSUP (Windows). */
HSAFE_API int hsafe_fd_wait(int fd, int events, hsafe_time deadline);

/* Non-blocking: the running task's cancel reason if it is cancelled and
 * not shielded, else 0 (also outside a task). */
HSAFE_API int hsafe_cancelled(void);

/* Shield the running task from cancellation until hsafe_shield_end(sh):
 * its blocking calls work again (cleanup that needs I/O), but none waits
 * past `grace` (they return HSAFE_ETIMEDOUT there; join excepted, it
 * always waits for the children). Scopes opened inside are not cancelled
 * by the task's cancellation and must be joined before the end. Shields
 * nest (the nearest grace wins). Errors: HSAFE_EINVAL (NULL sh). Outside
 * a task: misuse. */
HSAFE_API int hsafe_shield_begin(hsafe_shield *sh, hsafe_time grace);

/* End the shield sh (the innermost one). Misuse: another shield, a scope
 * opened inside still open. */
HSAFE_API void hsafe_shield_end(hsafe_shield *sh);

HSAFE__END_C
#endif /* HSAFE__API_TASK_H */
