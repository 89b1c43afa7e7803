/* tasks/types.h - the task, scope and loop objects (their fields are
 * private; api/task.h says what to do with them) and the timer node.
 * Part of hsafe (the manual is hsafe.h; the API is api/task.h).
 * Declarations, after core/coro.h (a task holds a coroutine).
 */
#ifndef HSAFE__TASKS_TYPES_H
#define HSAFE__TASKS_TYPES_H
HSAFE__BEGIN_C

/* Timer node (private). */
typedef struct hsafe__timer {
    hsafe_time when;
    struct hsafe__timer *child, *next, *prev;   /* pairing heap links */
    int kind;                                   /* 0 unarmed, 1 task, 2 scope */
} hsafe__timer;

struct hsafe_task {
    hsafe_coro co;
    uint32_t magic;
    int state;                      /* enum hsafe_task_state */
    int status;                     /* fn's result, HSAFE_EPANIC, ... */
    int cancel_reason;              /* enum hsafe_cancel_reason */
    hsafe_task_fn fn;
    void *arg;
    const char *name;
    hsafe_loop *loop;
    hsafe_scope *scope;             /* the scope it was spawned into */
    struct hsafe_task *sib_prev, *sib_next;   /* scope's live children */
    struct hsafe_task *ready_next;  /* run queue */
    struct hsafe_task *wait_prev, *wait_next; /* stack-waiter queue */
    hsafe_scope *scopes;            /* innermost scope this task has open */
    const char *scope_name;         /* its name, copied */
    hsafe_cleanup *cleanups;
    hsafe_stack *stack;
    size_t stack_used;              /* after it ended: deepest byte written */
    /* what it waits on */
    int wait_kind;                  /* HSAFE__WAIT_* */
    int wait_rc;                    /* set by whoever wakes it */
    int wait_fd, wait_events;
    int kept_fd;                    /* epoll: the fd whose registration this
                                       task left disabled (tasks/io.h) */
    size_t kept_gen;                /* loop->kept_gen when it did */
    hsafe__timer timer;
    /* shield */
    unsigned shield_depth;
    hsafe_time shield_grace;
    unsigned panicking;
    char message[HSAFE_TASK_MESSAGE_SIZE];   /* panic message, or "" */
    /* remote wakeup (tasks/remote.h), under the loop's rmt_lock */
    struct hsafe_task *rmt_next;
    int rmt_queued;
};

struct hsafe_scope {
    uint32_t magic;
    unsigned flags;
    const char *name;
    hsafe_loop *loop;
    hsafe_task *owner;              /* the task that opened it */
    hsafe_scope *outer;             /* owner's next open scope out */
    hsafe_task *children, *children_tail;   /* live children, in spawn order */
    size_t live, spawned, failed;
    hsafe_task *first_failed;
    int result;                     /* what join will return */
    int cancel_reason;
    int state;                      /* 1 open, 2 joining, 3 joined */
    unsigned shielded;              /* opened inside a shield */
    hsafe_time deadline;
    hsafe__timer timer;
    hsafe_task *joiner;
};

#define HSAFE__LOOP_POLL_SLOTS 32

struct hsafe_loop {
    uint32_t magic;
    int running;
    hsafe_pool *pool;
    hsafe_task *ready_head, *ready_tail;   /* ready for the next pass */
    hsafe_task *batch;              /* the rest of this pass */
    hsafe_task *current;            /* the task running now, or NULL */
    hsafe__timer *timers;           /* pairing heap of deadlines */
    hsafe_task *stack_wait_head, *stack_wait_tail;
    size_t live, timers_armed, io_waiters;
    size_t switches, spawned;
    void *run_outer;                /* the run (if any) the loop runs in */
    struct hsafe_loop *prev_loop;
    int io_fd;                      /* epoll descriptor, or -1 */
    size_t kept_gen;                /* bumped when a task takes over a
                                       registration another one left */
    struct { int fd; short events; hsafe_task *task; } io_slots[HSAFE__LOOP_POLL_SLOTS]; /* poll() */
    hsafe_task root;
    /* from other threads (tasks/remote.h): the queues under rmt_lock, the
     * flags atomic, ext_waiters the loop thread's own */
    int rmt_lock;
    int rmt_pending;                /* posts or wakeups queued */
    int rmt_sleeping;               /* in (or entering) the idle wait */
    int rmt_refs;                   /* hsafe_loop_ref count */
    size_t ext_waiters;             /* tasks waiting on shared channels */
    hsafe_task *rmt_head, *rmt_tail;    /* tasks to wake */
    unsigned rmt_post_head, rmt_post_count;
    struct { hsafe_post_fn fn; void *arg; } rmt_posts[HSAFE_LOOP_POST_SLOTS];
    int rmt_fd[2];                  /* wake: eventfd (twice) or pipe; -1 */
    void *rmt_event;                /* wake on Windows: an event HANDLE */
};

HSAFE__END_C
#endif /* HSAFE__TASKS_TYPES_H */
