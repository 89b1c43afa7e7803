/* tasks/sched.h - scoped tasks: the loop (scheduler), tasks, scopes,
 * cancellation, shields, the blocking calls and the task-tree dump.
 * Implementation part only, included by hsafe.h after tasks/timer.h and
 * tasks/io.h, at the end of the implementation parts.
 *
 * Uses: the coroutine core (hsafe_coro_*, hsafe__resume_clear,
 * hsafe__coro_exit), the pool (hsafe_pool_acquire/release), the run state
 * (hsafe__tls.run, to tell a task from a run nested in it), the thread
 * root (hsafe__tls.loop: the loop of this thread) and hsafe__thread_prepare
 * (core/thread.h; the overflow diagnostic names the running task through
 * core/overflow.h), hsafe__gen_relay (core/gen.h: a producer's blocking
 * call blocks the task that pulls it), tasks/timer.h (hsafe__th_*),
 * tasks/io.h (hsafe__tos_*: clock, fd readiness, idle sleep) and
 * tasks/remote.h (hsafe__rmt_*: posts and wakeups from other threads,
 * drained between passes and by the idle wait). No OS or architecture
 * macros here, no system calls, no allocation.
 *
 * Per-thread state: ONE thread-local pointer, hsafe__tls.loop (the loop
 * running on this thread); everything else hangs off the loop.
 *
 * Provides to hsafe.h (declared there, before hsafe_panic):
 *   hsafe__task_innermost()   the running task, unless a hsafe_run nested
 *                             in it is more recent (then NULL)
 *   hsafe__task_end_panic(t)  end task t by a panic (does not return)
 */
#if defined(HSAFE__IMPL) && !defined(HSAFE__TASKS_SCHED_H)
#define HSAFE__TASKS_SCHED_H 1

#define HSAFE__LOOP_MAGIC  0x6c6f6f70u   /* "loop" */
#define HSAFE__TASK_MAGIC  0x7461736bu   /* "task" */
#define HSAFE__SCOPE_MAGIC 0x73636f70u   /* "scop" */

enum { HSAFE__WAIT_NONE = 0, HSAFE__WAIT_YIELD, HSAFE__WAIT_SLEEP, HSAFE__WAIT_FD,
       HSAFE__WAIT_JOIN, HSAFE__WAIT_STACK, HSAFE__WAIT_CHAN };
enum { HSAFE__SCOPE_OPEN = 1, HSAFE__SCOPE_JOINING = 2, HSAFE__SCOPE_JOINED = 3 };
enum { HSAFE__TIMER_TASK = 1, HSAFE__TIMER_SCOPE = 2 };


#define HSAFE__CONTAINER(p, type, member) ((type *)(void *)((char *)(p) - offsetof(type, member)))

static const char *hsafe__tname(const hsafe_task *t) { return t && t->name ? t->name : "(unnamed)"; }
static const char *hsafe__sname(const char *n) { return n ? n : "(unnamed)"; }

__attribute__((noreturn)) static void hsafe__task_misuse(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    hsafe__misuse(buf);
}

/* ---- time ---------------------------------------------------------------- */

HSAFE_API hsafe_time hsafe_now(void) { return hsafe__tos_now(); }

HSAFE_API hsafe_time hsafe_after(int64_t ns)
{
    hsafe_time now = hsafe__tos_now();
    if (ns <= 0) return now;
    return ns >= HSAFE_FOREVER - now ? HSAFE_FOREVER : now + ns;
}

/* ---- the running task ---------------------------------------------------- */

static hsafe_task *hsafe__task_innermost(void)
{
    hsafe_loop *l = hsafe__tls.loop;
    hsafe_task *t = l ? l->current : NULL;
    if (!t || (void *)hsafe__tls.run != l->run_outer) return NULL;
    return t;
}

__attribute__((noreturn, noinline, cold)) static void hsafe__task_here_misuse(const char *what)
{
    hsafe_loop *l = hsafe__tls.loop;
    hsafe_task *t = l ? l->current : NULL;
    if (!t) hsafe__task_misuse("%s called outside a task", what);
    hsafe__task_misuse("%s called inside a hsafe_run nested in task '%s' "
                       "(a run cannot block: return from it first)", what, hsafe__tname(t));
}

/* The running task, for a call that may block; aborts naming `what` when
 * there is none (or a run nested in it is more recent). Inline: every
 * blocking call starts here. */
static inline hsafe_task *hsafe__task_here(const char *what)
{
    hsafe_loop *l = hsafe__tls.loop;
    hsafe_task *t = l ? l->current : NULL;
    if (!t || (void *)hsafe__tls.run != l->run_outer) hsafe__task_here_misuse(what);
    return t;
}

static int hsafe__cancelled_eff(const hsafe_task *t) { return t->cancel_reason && !t->shield_depth; }

/* The deadline a blocking call really uses: a shield caps it. */
static hsafe_time hsafe__eff_deadline(const hsafe_task *t, hsafe_time dl)
{
    return (t->shield_depth && t->shield_grace < dl) ? t->shield_grace : dl;
}

/* A scope of t whose frame has ended (the opener returned or jumped out
 * without joining) lies below every live frame, or was overwritten by a
 * later frame. Checked at each switch out, from a frame below every frame
 * of the task's code: the innermost open scope must lie above it and still
 * say it is an open scope of t. (A dead scope whose bytes a later frame
 * has not overwritten, above the check, is not seen.) Scopes outside the
 * task's stack (ASan's fake stack) are checked through ASan's poisoning.
 * Not instrumented: the dead frame may lie in a redzone ASan poisoned for
 * a live one. */
#if defined(HSAFE__ASAN)
#ifdef __cplusplus
extern "C" {
#endif
int __asan_address_is_poisoned(void const volatile *addr);
#ifdef __cplusplus
}
#endif
/* With detect_stack_use_after_return the scope lives in a fake frame,
 * which ASan poisons when its function returns (a live scope object is
 * never poisoned, wherever it lives). */
static int hsafe__scope_in_dead_fake_frame(const volatile hsafe_scope *s)
{
    return __asan_address_is_poisoned(s);
}
#else
#  define hsafe__scope_in_dead_fake_frame(s) 0
#endif

#if defined(HSAFE__ASAN)
__attribute__((no_sanitize_address))
#endif
__attribute__((noinline)) static void hsafe__check_scopes(const hsafe_task *t)
{
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    const volatile hsafe_scope *s = t->scopes;
    if (here - (uintptr_t)t->co.stack_lo >= t->co.stack_size) return;   /* a producer's stack (core/gen.h) */
    if ((s && (uintptr_t)s - (uintptr_t)t->co.stack_lo < t->co.stack_size &&
         ((uintptr_t)s < here || s->magic != HSAFE__SCOPE_MAGIC || s->owner != t ||
          (s->state != HSAFE__SCOPE_OPEN && s->state != HSAFE__SCOPE_JOINING))) ||
        (s && hsafe__scope_in_dead_fake_frame(s)))
        hsafe__task_misuse("scope '%s' of task '%s' is no longer on the stack: the function "
                           "that opened it returned (or jumped out) without hsafe_scope_join",
                           hsafe__sname(t->scope_name), hsafe__tname(t));
}

/* ---- run queue, wakeups -------------------------------------------------- */

static void hsafe__ready_push(hsafe_loop *l, hsafe_task *t)
{
    t->ready_next = NULL;
    if (l->ready_tail) l->ready_tail->ready_next = t;
    else l->ready_head = t;
    l->ready_tail = t;
}

static void hsafe__task_wake(hsafe_task *t, int rc)
{
    if (t->state != HSAFE_TASK_WAITING) return;
    t->wait_rc = rc;
    t->state = HSAFE_TASK_READY;
    hsafe__ready_push(t->loop, t);
}

__attribute__((unused)) static void hsafe__task_io_ready(hsafe_task *t)   /* no fd waits on Windows */
{
    if (t->wait_kind == HSAFE__WAIT_FD) hsafe__task_wake(t, HSAFE_OK);
}

static void hsafe__timer_arm(hsafe_loop *l, hsafe__timer *n, hsafe_time when, int kind)
{
    n->when = when;
    n->kind = kind;
    hsafe__th_insert(&l->timers, n);
}

static void hsafe__timer_disarm(hsafe_loop *l, hsafe__timer *n)
{
    if (!n->kind) return;
    hsafe__th_remove(&l->timers, n);
    n->kind = 0;
}

/* stack-waiter queue (hsafe_scope_spawn_wait) */
static int hsafe__sw_linked(const hsafe_loop *l, const hsafe_task *t)
{
    return t->wait_prev || l->stack_wait_head == t;
}

static void hsafe__sw_push(hsafe_loop *l, hsafe_task *t)
{
    t->wait_next = NULL;
    t->wait_prev = l->stack_wait_tail;
    if (l->stack_wait_tail) l->stack_wait_tail->wait_next = t;
    else l->stack_wait_head = t;
    l->stack_wait_tail = t;
}

static void hsafe__sw_remove(hsafe_loop *l, hsafe_task *t)
{
    if (!hsafe__sw_linked(l, t)) return;
    if (t->wait_prev) t->wait_prev->wait_next = t->wait_next;
    else l->stack_wait_head = t->wait_next;
    if (t->wait_next) t->wait_next->wait_prev = t->wait_prev;
    else l->stack_wait_tail = t->wait_prev;
    t->wait_prev = t->wait_next = NULL;
}

/* ---- switching ----------------------------------------------------------- */

/* From task t's own stack: give the thread back to the scheduler. t's
 * state (READY or WAITING) is already set. */
static void hsafe__task_switch_out(hsafe_task *t)
{
#if defined(HSAFE__HAS_HANDOFF)
    hsafe_loop *l = t->loop;
    hsafe_task *n;
#endif
    if (hsafe__gen_relay(t)) return;   /* a generator's producer: core/gen.h */
    if (t->scopes) hsafe__check_scopes(t);    /* (no open scope: nothing to check) */
#if defined(HSAFE__HAS_HANDOFF)
    /* The scheduler would resume the next task of this pass; with none
     * left, it would start the next pass, doing nothing first when no
     * other thread queued anything, no task waits on an fd and no timer
     * is armed. Then that next task takes over from here directly. */
    if (!l->batch && l->ready_head && !l->io_waiters && !l->timers &&
        !__atomic_load_n(&l->rmt_pending, __ATOMIC_ACQUIRE)) {
        l->batch = l->ready_head;
        l->ready_head = l->ready_tail = NULL;
    }
    if ((n = l->batch) != NULL &&    /* (off its own stack, the yield below reports it) */
        (uintptr_t)__builtin_frame_address(0) - (uintptr_t)t->co.stack_lo < t->co.stack_size) {
        l->batch = n->ready_next;
        n->ready_next = NULL;
        l->current = n;
        n->state = HSAFE_TASK_RUNNING;
        l->switches++;
        hsafe__handoff_clear(&t->co, &n->co);
        return;
    }
#endif
    hsafe_coro_yield(&t->co, 0);
}

/* Block t until a waker calls hsafe__task_wake (or the deadline); returns
 * the waker's code (HSAFE_ETIMEDOUT from the timer). */
static int hsafe__task_block(hsafe_task *t, int kind, hsafe_time dl)
{
    hsafe_loop *l = t->loop;
    t->wait_kind = kind;
    t->wait_rc = HSAFE_OK;
    t->state = HSAFE_TASK_WAITING;
    if (dl != HSAFE_FOREVER) hsafe__timer_arm(l, &t->timer, dl, HSAFE__TIMER_TASK);
    hsafe__task_switch_out(t);
    hsafe__timer_disarm(l, &t->timer);
    t->wait_kind = HSAFE__WAIT_NONE;
    return t->wait_rc;
}

/* ---- cancellation -------------------------------------------------------- */

static void hsafe__task_cancel(hsafe_task *t, int reason);

static void hsafe__scope_cancel(hsafe_scope *s, int reason)
{
    hsafe_task *c;
    if (s->cancel_reason || s->state == HSAFE__SCOPE_JOINED) return;
    s->cancel_reason = reason;
    if (reason == HSAFE_CANCEL_DEADLINE) {
        if (!s->result) s->result = HSAFE_ETIMEDOUT;
    } else if (reason != HSAFE_CANCEL_SIBLING && s->live && !s->result) {
        s->result = HSAFE_ECANCELED;
    }
    hsafe__timer_disarm(s->loop, &s->timer);
    for (c = s->children; c; c = c->sib_next) hsafe__task_cancel(c, reason);
}

static void hsafe__task_cancel(hsafe_task *t, int reason)
{
    hsafe_scope *s;
    if (t->cancel_reason) return;
    t->cancel_reason = reason;
    if (!t->shield_depth && t->state == HSAFE_TASK_WAITING && t->wait_kind != HSAFE__WAIT_JOIN)
        hsafe__task_wake(t, HSAFE_ECANCELED);
    /* Its scopes (opened outside a shield) and so its descendants. */
    for (s = t->scopes; s; s = s->outer)
        if (!s->shielded) hsafe__scope_cancel(s, HSAFE_CANCEL_PARENT);
}

/* ---- task lifecycle ------------------------------------------------------ */

static void hsafe__task_run_cleanups(hsafe_task *t)
{
    while (t->cleanups) {
        hsafe_cleanup *c = t->cleanups;
        t->cleanups = c->next;
        c->fn(c->arg);
    }
}

static int hsafe__scope_close(hsafe_task *t, hsafe_scope *s);

static uintptr_t hsafe__task_main(hsafe_coro *co, uintptr_t first)
{
    hsafe_task *t = (hsafe_task *)hsafe_coro_user(co);
    hsafe_cleanup *c;
    int rc;
    (void)first;
    rc = t->fn(t->arg);
    if (t->scopes)
        hsafe__task_misuse("task '%s' returned with scope '%s' still open: join every scope "
                           "a task opens before it returns", hsafe__tname(t),
                           hsafe__sname(t->scope_name));
    if (t->shield_depth)
        hsafe__task_misuse("task '%s' returned inside a shield: call hsafe_shield_end first",
                           hsafe__tname(t));
    for (c = t->cleanups; c; c = c->next)
        if ((uintptr_t)c - (uintptr_t)co->stack_lo < co->stack_size)
            hsafe__task_misuse("task '%s' returned with a cleanup handler still registered "
                               "in a frame that has ended: pop it before returning",
                               hsafe__tname(t));
    t->status = rc;
    hsafe__task_run_cleanups(t);
    return 0;
}

/* hsafe_panic in task t (message already in t->message): cancel and join
 * its open scopes, innermost first, run its cleanups, end it. */
__attribute__((noreturn)) static void hsafe__task_end_panic(hsafe_task *t)
{
    t->panicking = 1;
    t->status = HSAFE_EPANIC;
    while (t->scopes) {
        hsafe_scope *s = t->scopes;
        hsafe__scope_cancel(s, HSAFE_CANCEL_PARENT);
        hsafe__scope_close(t, s);
    }
    t->shield_depth = 0;
    hsafe__task_run_cleanups(t);
    hsafe__coro_exit(&t->co, 0);
}

static void hsafe__child_done(hsafe_scope *s, hsafe_task *c)
{
    int failed;
    if (c->sib_prev) c->sib_prev->sib_next = c->sib_next;
    else s->children = c->sib_next;
    if (c->sib_next) c->sib_next->sib_prev = c->sib_prev;
    else s->children_tail = c->sib_prev;
    c->sib_prev = c->sib_next = NULL;
    s->live--;
    failed = c->status < 0 && !(c->status == HSAFE_ECANCELED && s->cancel_reason);
    if (failed) {
        s->failed++;
        if (!s->first_failed) s->first_failed = c;
        if (!s->result) s->result = c->status;
        if (!(s->flags & HSAFE_SCOPE_COLLECT_ALL)) hsafe__scope_cancel(s, HSAFE_CANCEL_SIBLING);
    }
    if (!s->live && s->joiner) hsafe__task_wake(s->joiner, HSAFE_OK);
}

/* On the scheduler's stack: t's function has ended. */
static void hsafe__task_finish(hsafe_loop *l, hsafe_task *t)
{
    hsafe_stack *st = t->stack;
    hsafe_coro_fini(&t->co);                  /* wipes its saved context */
    hsafe_pool_release(l->pool, st);          /* wipes what t wrote */
    t->stack_used = st->last_used;
    t->stack = NULL;
    t->state = HSAFE_TASK_DONE;
    l->live--;
    if (t->scope) hsafe__child_done(t->scope, t);
    if (l->stack_wait_head) {
        hsafe_task *w = l->stack_wait_head;
        hsafe__sw_remove(l, w);
        hsafe__task_wake(w, HSAFE_OK);
    }
}

/* Fill t and make it ready. */
static void hsafe__task_start(hsafe_loop *l, hsafe_scope *s, hsafe_task *t, hsafe_stack *st,
                              hsafe_task_fn fn, void *arg, const char *name)
{
    memset(t, 0, sizeof *t);
    t->magic = HSAFE__TASK_MAGIC;
    t->fn = fn;
    t->arg = arg;
    t->name = name;
    t->loop = l;
    t->scope = s;
    t->stack = st;
    t->wait_fd = -1;
    t->kept_fd = -1;
    hsafe_coro_init(&t->co, st->lo, st->size, hsafe__task_main, t);
    if (s) {
        t->sib_prev = s->children_tail;
        if (s->children_tail) s->children_tail->sib_next = t;
        else s->children = t;
        s->children_tail = t;
        s->live++;
        s->spawned++;
        t->cancel_reason = s->cancel_reason;     /* level-triggered */
    }
    l->live++;
    l->spawned++;
    t->state = HSAFE_TASK_READY;
    hsafe__ready_push(l, t);
}

/* ---- the scheduler ------------------------------------------------------- */

static void hsafe__loop_resume(hsafe_loop *l, hsafe_task *t)
{
    uintptr_t v = 0;
    l->current = t;
    t->state = HSAFE_TASK_RUNNING;
    l->switches++;
    hsafe__resume_clear(&t->co, &v);     /* registers cleared right after */
    t = l->current;                      /* t may have handed over to others */
    l->current = NULL;
    if (t->co.status == HSAFE_CORO_FINISHED) {
        hsafe__task_finish(l, t);
        hsafe__altstack_scrub();         /* a handler may have run there */
    }
}

static void hsafe__loop_expire(hsafe_loop *l)
{
    hsafe_time now;
    if (!l->timers) return;
    now = hsafe__tos_now();
    while (l->timers && l->timers->when <= now) {
        hsafe__timer *n = l->timers;
        int kind = n->kind;
        hsafe__th_remove(&l->timers, n);
        n->kind = 0;
        if (kind == HSAFE__TIMER_TASK)
            hsafe__task_wake(HSAFE__CONTAINER(n, hsafe_task, timer), HSAFE_ETIMEDOUT);
        else
            hsafe__scope_cancel(HSAFE__CONTAINER(n, hsafe_scope, timer), HSAFE_CANCEL_DEADLINE);
    }
}

static void hsafe__loop_schedule(hsafe_loop *l)
{
    while (l->root.state != HSAFE_TASK_DONE) {
        /* One pass over the tasks ready now; those made ready meanwhile
         * (yielders included) wait for the next pass, after the events. */
        hsafe_task *t;
        l->batch = l->ready_head;
        l->ready_head = l->ready_tail = NULL;
        while ((t = l->batch) != NULL) {     /* (a task switching out may take some) */
            l->batch = t->ready_next;
            t->ready_next = NULL;
            hsafe__loop_resume(l, t);
        }
        if (l->root.state == HSAFE_TASK_DONE) break;
        hsafe__rmt_drain(l);
        if (l->ready_head) {
            if (l->io_waiters) hsafe__tos_wait(l, 0);
        } else if (l->timers) {
            int64_t d = l->timers->when - hsafe__tos_now();
            hsafe__rmt_idle_wait(l, d < 0 ? 0 : d);
        } else if (l->io_waiters || hsafe__rmt_expected(l)) {
            hsafe__rmt_idle_wait(l, -1);
        } else {
            hsafe_loop_dump(l);
            hsafe__misuse("hsafe_loop_run: deadlock: every task waits and nothing can wake one "
                          "(no deadline, no fd, no shared channel, no hsafe_loop_ref): "
                          "the task tree is above");
        }
        hsafe__loop_expire(l);
    }
}

/* ---- loop API ------------------------------------------------------------ */

static int hsafe__loop_ok(const hsafe_loop *l) { return l && l->magic == HSAFE__LOOP_MAGIC; }

HSAFE_API int hsafe_loop_init(hsafe_loop *loop, const hsafe_loop_config *cfg)
{
    int rc;
    if (!loop || !cfg || !hsafe__pool_ok(cfg->pool) || cfg->flags) return HSAFE_EINVAL;
    memset(loop, 0, sizeof *loop);
    loop->pool = cfg->pool;
    rc = hsafe__tos_init(loop);
    if (rc) return rc;
    rc = hsafe__rmt_init(loop);
    if (rc) {
        hsafe__rmt_fini(loop);
        hsafe__tos_fini(loop);
        return rc;
    }
    loop->magic = HSAFE__LOOP_MAGIC;
    return HSAFE_OK;
}

HSAFE_API int hsafe_loop_fini(hsafe_loop *loop)
{
    if (!hsafe__loop_ok(loop)) return HSAFE_EINVAL;
    if (loop->running) return HSAFE_ESTATE;
    hsafe__rmt_fini(loop);
    hsafe__tos_fini(loop);
    loop->magic = 0;
    return HSAFE_OK;
}

HSAFE_API int hsafe_loop_run(hsafe_loop *loop, hsafe_task_fn fn, void *arg, const char *name)
{
    hsafe_stack *st = NULL;
    int rc;
    if (!hsafe__loop_ok(loop) || !fn) return HSAFE_EINVAL;
    if (loop->running || hsafe__tls.loop) return HSAFE_ESTATE;
    rc = hsafe_pool_acquire(loop->pool, &st);
    if (rc) return rc;
    hsafe__cpu_init_once();
    hsafe__thread_prepare();
    loop->running = 1;
    loop->run_outer = (void *)hsafe__tls.run;
    loop->prev_loop = hsafe__tls.loop;
    hsafe__tls.loop = loop;
    hsafe__task_start(loop, NULL, &loop->root, st, fn, arg, name ? name : "root");
    hsafe__loop_schedule(loop);
    hsafe__tls.loop = loop->prev_loop;
    loop->running = 0;
    return loop->root.status;
}

HSAFE_API const hsafe_task *hsafe_loop_root(const hsafe_loop *loop) { return loop ? &loop->root : NULL; }

/* ---- scopes -------------------------------------------------------------- */

HSAFE_API int hsafe_scope_open(hsafe_scope *s, const char *name, unsigned flags, hsafe_time deadline)
{
    hsafe_task *t = hsafe__task_here("hsafe_scope_open");
    if (!s || (flags & ~HSAFE_SCOPE_COLLECT_ALL)) return HSAFE_EINVAL;
    hsafe__check_scopes(t);
    memset(s, 0, sizeof *s);
    s->magic = HSAFE__SCOPE_MAGIC;
    s->flags = flags;
    s->name = name;
    s->loop = t->loop;
    s->owner = t;
    s->outer = t->scopes;
    s->state = HSAFE__SCOPE_OPEN;
    s->shielded = t->shield_depth > 0;
    s->deadline = deadline;
    t->scopes = s;
    t->scope_name = name;
    if (hsafe__cancelled_eff(t)) hsafe__scope_cancel(s, HSAFE_CANCEL_PARENT);
    if (deadline != HSAFE_FOREVER && !s->cancel_reason) {
        if (deadline <= hsafe__tos_now()) hsafe__scope_cancel(s, HSAFE_CANCEL_DEADLINE);
        else hsafe__timer_arm(t->loop, &s->timer, deadline, HSAFE__TIMER_SCOPE);
    }
    return HSAFE_OK;
}

static int hsafe__scope_close(hsafe_task *t, hsafe_scope *s)
{
    int rc;
    s->state = HSAFE__SCOPE_JOINING;
    while (s->live) {
        if (hsafe__cancelled_eff(t) && !s->shielded) hsafe__scope_cancel(s, HSAFE_CANCEL_PARENT);
        s->joiner = t;
        hsafe__task_block(t, HSAFE__WAIT_JOIN, HSAFE_FOREVER);
        s->joiner = NULL;
    }
    hsafe__timer_disarm(s->loop, &s->timer);
    s->state = HSAFE__SCOPE_JOINED;
    t->scopes = s->outer;
    t->scope_name = s->outer ? s->outer->name : NULL;
    rc = s->result;
    if (!rc && hsafe__cancelled_eff(t) && !s->shielded) rc = HSAFE_ECANCELED;
    return rc;
}

static int hsafe__is_descendant(const hsafe_task *t, const hsafe_scope *s)
{
    for (; t; t = t->scope ? t->scope->owner : NULL)
        if (t->scope == s) return 1;
    return 0;
}

HSAFE_API int hsafe_scope_join(hsafe_scope *s)
{
    hsafe_task *t = hsafe__task_here("hsafe_scope_join");
    if (!s || s->magic != HSAFE__SCOPE_MAGIC)
        hsafe__task_misuse("hsafe_scope_join: task '%s' joined something that is not an open scope",
                           hsafe__tname(t));
    if (s->state == HSAFE__SCOPE_JOINED)
        hsafe__task_misuse("hsafe_scope_join: scope '%s' was already joined (task '%s' joined it again)",
                           hsafe__sname(s->name), hsafe__tname(t));
    if (s->owner != t) {
        if (hsafe__is_descendant(t, s))
            hsafe__task_misuse("hsafe_scope_join: scope '%s' joined from its own child task '%s' "
                               "(it would wait for itself); only its opener '%s' may join it",
                               hsafe__sname(s->name), hsafe__tname(t), hsafe__tname(s->owner));
        hsafe__task_misuse("hsafe_scope_join: scope '%s' joined by task '%s', which did not open it "
                           "(opened by '%s')", hsafe__sname(s->name), hsafe__tname(t),
                           hsafe__tname(s->owner));
    }
    if (t->scopes != s)
        hsafe__task_misuse("hsafe_scope_join: task '%s' joined scope '%s' while scope '%s', opened "
                           "after it, is still open: join the innermost first",
                           hsafe__tname(t), hsafe__sname(s->name), hsafe__sname(t->scope_name));
    return hsafe__scope_close(t, s);
}

HSAFE_API int hsafe_scope_cancel(hsafe_scope *s)
{
    if (!s || s->magic != HSAFE__SCOPE_MAGIC || s->state == HSAFE__SCOPE_JOINED) return HSAFE_EINVAL;
    hsafe__scope_cancel(s, HSAFE_CANCEL_EXPLICIT);
    return HSAFE_OK;
}

HSAFE_API int hsafe_scope_cancel_reason(const hsafe_scope *s) { return s ? s->cancel_reason : 0; }
HSAFE_API const hsafe_task *hsafe_scope_failed(const hsafe_scope *s) { return s ? s->first_failed : NULL; }

static int hsafe__spawn(hsafe_scope *s, hsafe_task *t, hsafe_task_fn fn, void *arg,
                        const char *name, int wait, hsafe_time deadline)
{
    hsafe_task *cur = hsafe__task_here(wait ? "hsafe_scope_spawn_wait" : "hsafe_scope_spawn");
    hsafe_loop *l = cur->loop;
    hsafe_stack *st = NULL;
    int rc;
    if (!s || !t || !fn || s->magic != HSAFE__SCOPE_MAGIC || s->loop != l) return HSAFE_EINVAL;
#if defined(HSAFE__VALGRIND)
    /* t is usually fresh, uninitialised caller memory: reading its magic
     * (to refuse a record that holds a live task) is meant. */
    VALGRIND_MAKE_MEM_DEFINED(&t->magic, sizeof t->magic + sizeof t->state);
#endif
    if (t->magic == HSAFE__TASK_MAGIC && t->state != HSAFE_TASK_NONE && t->state != HSAFE_TASK_DONE)
        return HSAFE_EINVAL;
    if (wait && hsafe__cancelled_eff(cur)) return HSAFE_ECANCELED;   /* a blocking call */
    for (;;) {
        hsafe_time dl;
        if (s->state == HSAFE__SCOPE_JOINED)
            hsafe__task_misuse("hsafe_scope_spawn: task '%s' spawned '%s' into scope '%s', which "
                               "was already joined", hsafe__tname(cur), hsafe__sname(name),
                               hsafe__sname(s->name));
        rc = hsafe_pool_acquire(l->pool, &st);
        if (rc != HSAFE_EBUSY || !wait) break;
        if (hsafe__cancelled_eff(cur)) return HSAFE_ECANCELED;
        dl = hsafe__eff_deadline(cur, deadline);
        if (dl <= hsafe__tos_now()) return HSAFE_ETIMEDOUT;
        hsafe__sw_push(l, cur);
        rc = hsafe__task_block(cur, HSAFE__WAIT_STACK, dl);
        hsafe__sw_remove(l, cur);
        if (rc) return rc;
    }
    if (rc) return rc;
    hsafe__task_start(l, s, t, st, fn, arg, name);
    return HSAFE_OK;
}

HSAFE_API int hsafe_scope_spawn(hsafe_scope *s, hsafe_task *t, hsafe_task_fn fn, void *arg,
                                const char *name)
{
    return hsafe__spawn(s, t, fn, arg, name, 0, HSAFE_FOREVER);
}

HSAFE_API int hsafe_scope_spawn_wait(hsafe_scope *s, hsafe_task *t, hsafe_task_fn fn, void *arg,
                                     const char *name, hsafe_time deadline)
{
    return hsafe__spawn(s, t, fn, arg, name, 1, deadline);
}

/* ---- tasks --------------------------------------------------------------- */

HSAFE_API hsafe_task *hsafe_task_current(void) { return hsafe__task_innermost(); }
HSAFE_API int hsafe_task_status(const hsafe_task *t) { return t ? t->status : HSAFE_EINVAL; }
HSAFE_API int hsafe_task_state(const hsafe_task *t)
{
    return t && t->magic == HSAFE__TASK_MAGIC ? t->state : HSAFE_TASK_NONE;
}
HSAFE_API const char *hsafe_task_name(const hsafe_task *t) { return t && t->name ? t->name : ""; }
HSAFE_API const char *hsafe_task_message(const hsafe_task *t) { return t ? t->message : ""; }
HSAFE_API int hsafe_task_cancel_reason(const hsafe_task *t) { return t ? t->cancel_reason : 0; }
HSAFE_API size_t hsafe_task_stack_used(const hsafe_task *t) { return t ? t->stack_used : 0; }

HSAFE_API const char *hsafe_cancel_reason_name(int reason)
{
    switch (reason) {
    case HSAFE_CANCEL_NONE:     return "none";
    case HSAFE_CANCEL_EXPLICIT: return "explicit";
    case HSAFE_CANCEL_DEADLINE: return "deadline";
    case HSAFE_CANCEL_SIBLING:  return "sibling failed";
    case HSAFE_CANCEL_PARENT:   return "parent cancelled";
    default:                    return "unknown";
    }
}

/* ---- blocking calls ------------------------------------------------------ */

HSAFE_API int hsafe_yield(void)
{
    hsafe_task *t = hsafe__task_here("hsafe_yield");
    if (hsafe__cancelled_eff(t)) return HSAFE_ECANCELED;
    t->wait_kind = HSAFE__WAIT_YIELD;
    t->state = HSAFE_TASK_READY;
    hsafe__ready_push(t->loop, t);
    hsafe__task_switch_out(t);
    t->wait_kind = HSAFE__WAIT_NONE;
    return hsafe__cancelled_eff(t) ? HSAFE_ECANCELED : HSAFE_OK;
}

HSAFE_API int hsafe_sleep_until(hsafe_time deadline)
{
    hsafe_task *t = hsafe__task_here("hsafe_sleep_until");
    hsafe_time dl;
    int rc;
    if (hsafe__cancelled_eff(t)) return HSAFE_ECANCELED;
    dl = hsafe__eff_deadline(t, deadline);
    if (dl != HSAFE_FOREVER && dl <= hsafe__tos_now()) return dl == deadline ? HSAFE_OK : HSAFE_ETIMEDOUT;
    rc = hsafe__task_block(t, HSAFE__WAIT_SLEEP, dl);
    if (rc == HSAFE_ETIMEDOUT && dl == deadline) rc = HSAFE_OK;
    return rc;
}

HSAFE_API int hsafe_fd_wait(int fd, int events, hsafe_time deadline)
{
    hsafe_task *t = hsafe__task_here("hsafe_fd_wait");
    hsafe_loop *l = t->loop;
    int rc;
    if (fd < 0 || !(events & (HSAFE_FD_READ | HSAFE_FD_WRITE)) ||
        (events & ~(HSAFE_FD_READ | HSAFE_FD_WRITE))) return HSAFE_EINVAL;
    if (hsafe__cancelled_eff(t)) return HSAFE_ECANCELED;
    rc = hsafe__tos_arm(l, t, fd, events);
    if (rc == 1) return HSAFE_OK;           /* always ready (a regular file) */
    if (rc) return rc;
    t->wait_fd = fd;
    t->wait_events = events;
    l->io_waiters++;
    rc = hsafe__task_block(t, HSAFE__WAIT_FD, hsafe__eff_deadline(t, deadline));
    hsafe__tos_disarm(l, t, rc == HSAFE_OK);   /* OK: only its event wakes it so */
    l->io_waiters--;
    t->wait_fd = -1;
    return rc;
}

/* Does a task of the loop wait on fd now? (Walks the task tree: only
 * tasks/io.h's rare take-over of a left-over registration asks.) */
static int hsafe__fd_waiter_in(const hsafe_task *t, int fd)
{
    const hsafe_scope *s;
    const hsafe_task *c;
    if (t->state == HSAFE_TASK_WAITING && t->wait_kind == HSAFE__WAIT_FD && t->wait_fd == fd)
        return 1;
    for (s = t->scopes; s; s = s->outer)
        for (c = s->children; c; c = c->sib_next)
            if (hsafe__fd_waiter_in(c, fd)) return 1;
    return 0;
}

__attribute__((unused)) static int hsafe__task_waits_on_fd(const hsafe_loop *loop, int fd)
{
    return hsafe__fd_waiter_in(&loop->root, fd);
}

HSAFE_API int hsafe_cancelled(void)
{
    hsafe_task *t = hsafe__task_innermost();
    return t && hsafe__cancelled_eff(t) ? t->cancel_reason : 0;
}

HSAFE_API int hsafe_shield_begin(hsafe_shield *sh, hsafe_time grace)
{
    hsafe_task *t = hsafe__task_here("hsafe_shield_begin");
    if (!sh) return HSAFE_EINVAL;
    sh->task = t;
    sh->prev_grace = t->shield_grace;
    sh->depth = ++t->shield_depth;
    if (sh->depth == 1 || grace < t->shield_grace) t->shield_grace = grace;
    return HSAFE_OK;
}

HSAFE_API void hsafe_shield_end(hsafe_shield *sh)
{
    hsafe_task *t = hsafe__task_here("hsafe_shield_end");
    if (!sh || sh->task != t || sh->depth != t->shield_depth)
        hsafe__task_misuse("hsafe_shield_end: task '%s' ended a shield that is not its innermost one",
                           hsafe__tname(t));
    if (t->scopes && t->scopes->shielded && t->shield_depth == 1)
        hsafe__task_misuse("hsafe_shield_end: task '%s' ended its shield with scope '%s', opened "
                           "inside it, still open", hsafe__tname(t), hsafe__sname(t->scope_name));
    t->shield_depth--;
    t->shield_grace = sh->prev_grace;
    sh->task = NULL;
}

/* ---- the dump ------------------------------------------------------------ */

/* Output of the dump: a buffer (snprintf-like) or a FILE, so a dump from
 * a task or a debugger needs no big buffer on the stack. */
typedef struct hsafe__out {
    char *buf;
    size_t cap, len;
    FILE *f;
} hsafe__out;

static void hsafe__outf(hsafe__out *o, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    if (o->f) n = vfprintf(o->f, fmt, ap);
    else n = vsnprintf(o->len < o->cap ? o->buf + o->len : NULL, o->len < o->cap ? o->cap - o->len : 0, fmt, ap);
    va_end(ap);
    if (n > 0) o->len += (size_t)n;
}

/* Deepest byte a live task has written on its stack (it was all-zero when
 * handed out); reads memory ASan may have poisoned in suspended frames,
 * and memory below stack pointers, which memcheck would report. */
#if defined(HSAFE__ASAN)
__attribute__((no_sanitize_address))
#endif
static size_t hsafe__stack_depth(const hsafe_stack *st)
{
    const volatile unsigned char *p = st->lo, *e = st->lo + st->size;
    size_t depth;
#if defined(HSAFE__VALGRIND)
    VALGRIND_DISABLE_ERROR_REPORTING;   /* below a stack pointer: meant */
#endif
    while (p < e && *p == 0) p++;
    depth = (size_t)(e - p);
#if defined(HSAFE__VALGRIND)
    VALGRIND_ENABLE_ERROR_REPORTING;
    VALGRIND_MAKE_MEM_DEFINED(&depth, sizeof depth);   /* computed from such bytes */
#endif
    return depth;
}

static void hsafe__dump_time(hsafe__out *o, hsafe_time t, hsafe_time now)
{
    if (t == HSAFE_FOREVER) hsafe__outf(o, "forever");
    else hsafe__outf(o, "%+.3f ms", (double)(t - now) / 1e6);
}

static void hsafe__dump_task(hsafe__out *o, const hsafe_task *t, int depth, hsafe_time now)
{
    static const char *const states[] = { "none", "ready", "running", "waiting", "done" };
    static const char *const waits[] = { "", "yield", "sleep", "fd", "join", "stack", "chan" };
    const hsafe_scope *s;
    hsafe__outf(o, "%*stask '%s' [%s", depth * 2, "", hsafe__tname(t),
                t->state >= 0 && t->state <= 4 ? states[t->state] : "?");
    if (t->state == HSAFE_TASK_WAITING && t->wait_kind > 0 && t->wait_kind <= HSAFE__WAIT_CHAN) {
        hsafe__outf(o, ": %s", waits[t->wait_kind]);
        if (t->wait_kind == HSAFE__WAIT_FD) hsafe__outf(o, " %d", t->wait_fd);
        hsafe__outf(o, " until ");
        hsafe__dump_time(o, t->timer.kind ? t->timer.when : HSAFE_FOREVER, now);
    }
    hsafe__outf(o, "]");
    if (t->cancel_reason) hsafe__outf(o, " cancelled(%s)", hsafe_cancel_reason_name(t->cancel_reason));
    if (t->shield_depth) hsafe__outf(o, " shielded");
    if (t->stack)
        hsafe__outf(o, " stack %zu/%zu bytes", hsafe__stack_depth(t->stack), t->stack->size);
    hsafe__outf(o, "\n");
    for (s = t->scopes; s; s = s->outer) {
        const hsafe_task *c;
        hsafe__outf(o, "%*sscope '%s' [%s, %zu live, %zu spawned, %zu failed", depth * 2 + 2, "",
                    hsafe__sname(s->name), s->state == HSAFE__SCOPE_JOINING ? "joining" : "open",
                    s->live, s->spawned, s->failed);
        if (s->deadline != HSAFE_FOREVER) {
            hsafe__outf(o, ", deadline ");
            hsafe__dump_time(o, s->deadline, now);
        }
        if (s->cancel_reason) hsafe__outf(o, ", cancelled(%s)", hsafe_cancel_reason_name(s->cancel_reason));
        hsafe__outf(o, "]\n");
        for (c = s->children; c; c = c->sib_next) hsafe__dump_task(o, c, depth + 2, now);
    }
}

static void hsafe__dump(hsafe__out *o, const hsafe_loop *loop)
{
    hsafe_time now = hsafe__tos_now();
    if (!loop) loop = hsafe__tls.loop;
    if (!hsafe__loop_ok(loop)) {
        hsafe__outf(o, "hsafe: no loop\n");
    } else {
        hsafe__outf(o, "hsafe loop %p: %s, %zu live tasks, %zu spawned, %zu switches, %zu fd waits\n",
                    (const void *)loop, loop->running ? "running" : "stopped", loop->live,
                    loop->spawned, loop->switches, loop->io_waiters);
        if (loop->running) hsafe__dump_task(o, &loop->root, 1, now);
    }
}

HSAFE_API size_t hsafe_loop_dump_str(const hsafe_loop *loop, char *buf, size_t cap)
{
    hsafe__out o;
    o.buf = buf;
    o.cap = buf ? cap : 0;
    o.len = 0;
    o.f = NULL;
    if (o.cap) buf[0] = 0;
    hsafe__dump(&o, loop);
    if (o.cap && o.len >= o.cap) buf[o.cap - 1] = 0;
    return o.len;
}

HSAFE_API void hsafe_loop_dump(const hsafe_loop *loop)
{
    hsafe__out o;
    memset(&o, 0, sizeof o);
    o.f = stderr;
    hsafe__dump(&o, loop);
    fflush(stderr);
}

#endif /* HSAFE__TASKS_SCHED_H */
