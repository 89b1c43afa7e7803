/* tasks/chan.h - channels (api/chan.h): send, receive, close and select,
 * on one loop or between threads. Implementation part only, included by
 * hsafe.h after tasks/sched.h. Uses tasks/sched.h (hsafe__task_here,
 * hsafe__task_block, hsafe__task_wake, hsafe__cancelled_eff,
 * hsafe__eff_deadline, HSAFE__CONTAINER) and tasks/remote.h (the spin
 * lock, hsafe__rmt_wake/unqueue). No system calls, no allocation, no
 * platform tests.
 *
 * HOW IT WORKS
 *   A channel has a ring buffer (cap elements; none when unbuffered) and
 *   two FIFO queues of waiters: tasks waiting to send, tasks waiting to
 *   receive. Every call is a select: hsafe_chan_send/recv are a select of
 *   one clause (on a loop's own channel a shorter path does the same for
 *   that one clause: hsafe__chan_one_local). The select record
 *   (hsafe__chan_sel, in the caller's frame) holds one state word, which
 *   decides who did what:
 *     OPEN    nothing happened yet; BUSY  someone is deciding (a moment);
 *     GAVEUP  the task gave up (deadline, cancel): nothing happened;
 *     k + 1   clause k happened (only that one).
 *   Whoever completes a waiting clause (a sender meeting a waiting
 *   receiver, say) first moves the waiter's select from OPEN to BUSY, and
 *   its own select too (the two in address order, so two threads never
 *   wait for each other), then copies the value, sets both to "done" and
 *   wakes the waiter. A waiter that wakes for its deadline or a cancel
 *   moves its own select from OPEN to GAVEUP; if that fails, a clause was
 *   done for it and it reports that (no value is lost). A waiter whose
 *   select is over stays in a queue until its owner or the next visitor of
 *   that queue unlinks it (the visitor skips it).
 *   On one loop the state word is a plain int; when a clause is on a
 *   HSAFE_CHAN_SHARED channel and queued there (so other threads may see
 *   it) it is changed with atomic operations, each
 *   shared channel's queues and buffer are under its spin lock, and a task
 *   of another loop is woken through that loop's remote queue, while the
 *   waker still holds the channel's lock (the waiter takes every lock of
 *   its clauses again before it returns, so the waker is done with it and
 *   its loop before the task can end).
 */
#if defined(HSAFE__IMPL) && !defined(HSAFE__TASKS_CHAN_H)
#define HSAFE__TASKS_CHAN_H 1

#define HSAFE__CHAN_MAGIC 0x6368616eu   /* "chan" */

enum { HSAFE__SEL_OPEN = 0, HSAFE__SEL_GAVEUP = -1, HSAFE__SEL_BUSY = -2 };

/* ---- the select state word ----------------------------------------------- */

static inline int hsafe__sel_get(const hsafe__chan_sel *s)
{
    return s->shared ? __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) : s->state;
}

static inline void hsafe__sel_set(hsafe__chan_sel *s, int v)
{
    if (s->shared) __atomic_store_n(&s->state, v, __ATOMIC_RELEASE);
    else s->state = v;
}

/* OPEN -> BUSY (waits while another thread has it BUSY). 0 if the select
 * is over (done or given up). */
static inline int hsafe__sel_lock(hsafe__chan_sel *s)
{
    unsigned spins = 0;
    if (!s->shared) {
        if (s->state != HSAFE__SEL_OPEN) return 0;
        s->state = HSAFE__SEL_BUSY;
        return 1;
    }
    for (;;) {
        int v = HSAFE__SEL_OPEN;
        if (__atomic_compare_exchange_n(&s->state, &v, HSAFE__SEL_BUSY, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_ACQUIRE))
            return 1;
        if (v != HSAFE__SEL_BUSY) return 0;
        if (++spins >= 1024) { hsafe__cpu_yield(); spins = 0; }
    }
}

/* Lock two selects (mine and a waiter's) in address order.
 * 0: both locked; 1: mine is over; 2: the waiter's is over. */
static inline int hsafe__sel_lock2(hsafe__chan_sel *me, hsafe__chan_sel *peer)
{
    hsafe__chan_sel *first = (uintptr_t)me < (uintptr_t)peer ? me : peer;
    hsafe__chan_sel *second = first == me ? peer : me;
    if (!hsafe__sel_lock(first)) return first == me ? 1 : 2;
    if (!hsafe__sel_lock(second)) {
        hsafe__sel_set(first, HSAFE__SEL_OPEN);
        return second == me ? 1 : 2;
    }
    return 0;
}

/* ---- channel internals (caller holds the channel's lock) ------------------ */

static void hsafe__chan_lock(hsafe_chan *ch)
{
    if (ch->flags & HSAFE_CHAN_SHARED) hsafe__spin_lock(&ch->lock);
}

static void hsafe__chan_unlock(hsafe_chan *ch)
{
    if (ch->flags & HSAFE_CHAN_SHARED) hsafe__spin_unlock(&ch->lock);
}

static inline hsafe_chan_clause *hsafe__clause_of(hsafe__chan_waiter *w)
{
    return HSAFE__CONTAINER(w, hsafe_chan_clause, w);
}

static inline void hsafe__wq_push(hsafe__chan_waiter **head, hsafe__chan_waiter **tail,
                           hsafe__chan_waiter *w)
{
    w->next = NULL;
    w->prev = *tail;
    if (*tail) (*tail)->next = w;
    else *head = w;
    *tail = w;
    w->linked = 1;
}

static inline void hsafe__wq_unlink(hsafe__chan_waiter **head, hsafe__chan_waiter **tail,
                             hsafe__chan_waiter *w)
{
    if (w->prev) w->prev->next = w->next;
    else *head = w->next;
    if (w->next) w->next->prev = w->prev;
    else *tail = w->prev;
    w->prev = w->next = NULL;
    w->linked = 0;
}

static inline void hsafe__chan_unlink(hsafe_chan *ch, hsafe_chan_clause *c)
{
    if (c->op == HSAFE_CHAN_SEND) hsafe__wq_unlink(&ch->sendq, &ch->sendq_tail, &c->w);
    else hsafe__wq_unlink(&ch->recvq, &ch->recvq_tail, &c->w);
}

static inline void hsafe__chan_copy(const hsafe_chan *ch, void *dst, const void *src)
{
    if (!dst) return;
    switch (ch->elem_size) {            /* the usual sizes inline, not a call */
    case 0: break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    case 16: memcpy(dst, src, 16); break;
    default: memcpy(dst, src, ch->elem_size); break;
    }
}

static inline void hsafe__chan_zero(const hsafe_chan *ch, void *slot)
{
    switch (ch->elem_size) {            /* as hsafe__chan_copy */
    case 4: memset(slot, 0, 4); break;
    case 8: memset(slot, 0, 8); break;
    case 16: memset(slot, 0, 16); break;
    default: memset(slot, 0, ch->elem_size); break;
    }
}

static void hsafe__chan_put(hsafe_chan *ch, const void *src)
{
    size_t i = ch->head + ch->count;
    if (i >= ch->cap) i -= ch->cap;
    if (ch->elem_size) hsafe__chan_copy(ch, ch->buf + i * ch->elem_size, src);
    ch->count++;
}

static void hsafe__chan_take(hsafe_chan *ch, void *dst)
{
    if (ch->elem_size) {
        unsigned char *slot = ch->buf + ch->head * ch->elem_size;
        hsafe__chan_copy(ch, dst, slot);
        hsafe__chan_zero(ch, slot);         /* no copy of a received value stays behind */
    }
    if (++ch->head == ch->cap) ch->head = 0;
    ch->count--;
}

/* The waiter's task may go on: wake it on its loop. */
static inline void hsafe__chan_wake(hsafe__chan_sel *s)
{
    hsafe_task *t = s->task;
    if (!s->shared || t->loop == hsafe__tls.loop) hsafe__task_wake(t, HSAFE_OK);
    else hsafe__rmt_wake(t);
}

/* Finish a waiting clause (its select is BUSY, held by us): unlink it, set
 * its result, mark its select done, wake its task. */
static inline void hsafe__chan_finish(hsafe_chan *ch, hsafe__chan_waiter *w, int rc)
{
    hsafe__chan_sel *s = w->sel;
    hsafe_chan_clause *c = hsafe__clause_of(w);
    hsafe__chan_unlink(ch, c);
    c->rc = rc;
    hsafe__sel_set(s, w->index + 1);
    hsafe__chan_wake(s);
}

/* My clause c on ch (locked), for my select `me`: do it now if it can be
 * done. 1: done (me says so, c->rc set); 0: it would have to wait; -1: my
 * select is already over (a clause of mine queued on another channel was
 * done by another thread, or I gave up). */
static inline __attribute__((always_inline)) int hsafe__chan_try_op(hsafe_chan *ch, hsafe_chan_clause *c, hsafe__chan_sel *me)
{
    hsafe__chan_waiter *w, *next;
    int done = c->w.index + 1;
    if (c->op == HSAFE_CHAN_SEND) {
        if (ch->closed) {
            if (!hsafe__sel_lock(me)) return -1;
            c->rc = HSAFE_ECLOSED;
            hsafe__sel_set(me, done);
            return 1;
        }
        /* a waiting receiver first (then the buffer is empty) */
        for (w = ch->recvq; w; w = next) {
            int r;
            next = w->next;
            if (w->sel == me) continue;               /* my own other clause */
            r = hsafe__sel_lock2(me, w->sel);
            if (r == 1) return -1;
            if (r == 2) { hsafe__wq_unlink(&ch->recvq, &ch->recvq_tail, w); continue; }
            hsafe__chan_copy(ch, hsafe__clause_of(w)->elem, c->elem);
            c->rc = HSAFE_OK;
            hsafe__sel_set(me, done);
            hsafe__chan_finish(ch, w, HSAFE_OK);
            return 1;
        }
        if (ch->count < ch->cap) {
            if (!hsafe__sel_lock(me)) return -1;
            hsafe__chan_put(ch, c->elem);
            c->rc = HSAFE_OK;
            hsafe__sel_set(me, done);
            return 1;
        }
        return 0;
    }
    /* receive */
    if (ch->count) {
        if (!hsafe__sel_lock(me)) return -1;
        hsafe__chan_take(ch, c->elem);
        c->rc = HSAFE_OK;
        hsafe__sel_set(me, done);
        /* room now: the first live waiting sender's value goes in */
        for (w = ch->sendq; w; w = next) {
            next = w->next;
            if (w->sel == me) continue;
            if (!hsafe__sel_lock(w->sel)) { hsafe__wq_unlink(&ch->sendq, &ch->sendq_tail, w); continue; }
            hsafe__chan_put(ch, hsafe__clause_of(w)->elem);
            hsafe__chan_finish(ch, w, HSAFE_OK);
            break;
        }
        return 1;
    }
    for (w = ch->sendq; w; w = next) {         /* unbuffered: a waiting sender */
        int r;
        next = w->next;
        if (w->sel == me) continue;
        r = hsafe__sel_lock2(me, w->sel);
        if (r == 1) return -1;
        if (r == 2) { hsafe__wq_unlink(&ch->sendq, &ch->sendq_tail, w); continue; }
        hsafe__chan_copy(ch, c->elem, hsafe__clause_of(w)->elem);
        c->rc = HSAFE_OK;
        hsafe__sel_set(me, done);
        hsafe__chan_finish(ch, w, HSAFE_OK);
        return 1;
    }
    if (ch->closed) {
        if (!hsafe__sel_lock(me)) return -1;
        c->rc = HSAFE_ECLOSED;
        hsafe__sel_set(me, done);
        return 1;
    }
    return 0;
}

/* ---- select: every operation ---------------------------------------------- */

static int hsafe__chan_ok(const hsafe_chan *ch) { return ch && ch->magic == HSAFE__CHAN_MAGIC; }

/* A channel without HSAFE_CHAN_SHARED belongs to the loop of the first task
 * that blocks on it; a task of another loop using it is a misuse. */
static void hsafe__chan_bind(hsafe_chan *ch, const hsafe_task *t, const char *what)
{
    if (!ch->loop) ch->loop = t->loop;
    else if (ch->loop != t->loop)
        hsafe__task_misuse("%s: task '%s' used a channel of another loop (a channel used "
                           "by several loops or threads needs HSAFE_CHAN_SHARED)",
                           what, hsafe__tname(t));
}

/* Queue clause c as a waiter on its channel (locked). */
static inline void hsafe__chan_enqueue(hsafe_chan *ch, hsafe_chan_clause *c)
{
    if (c->op == HSAFE_CHAN_SEND) hsafe__wq_push(&ch->sendq, &ch->sendq_tail, &c->w);
    else hsafe__wq_push(&ch->recvq, &ch->recvq_tail, &c->w);
}

/* Block t (its clauses queued under select `sel`) until a clause is done
 * for it, or its deadline or a cancel makes it give up; returns the code of
 * the last wake (HSAFE_OK when a clause was done). */
static inline int hsafe__chan_wait(hsafe_task *t, hsafe__chan_sel *sel, hsafe_time dl)
{
    int rc;
    for (;;) {
        rc = hsafe__task_block(t, HSAFE__WAIT_CHAN, dl);
        if (!hsafe__sel_lock(sel)) return rc;               /* a clause was done for us */
        if (rc != HSAFE_OK) {                               /* deadline or cancel */
            hsafe__sel_set(sel, HSAFE__SEL_GAVEUP);
            return rc;
        }
        hsafe__sel_set(sel, HSAFE__SEL_OPEN);               /* woken for nothing */
    }
}

/* blocking: 0 for the try_* forms (from anywhere, never waits). */
static int hsafe__chan_select(hsafe_chan_clause *c, size_t n, hsafe_time deadline, int blocking,
                              const char *what)
{
    hsafe__chan_sel sel;
    hsafe_task *t = NULL;
    hsafe_time dl = HSAFE_FOREVER;
    size_t i, end = 0;
    int may_wait = 0, queued = 0, rc = HSAFE_OK, r = 0, state, shared = 0;

    if (blocking) t = hsafe__task_here(what);
    if (n && !c) return HSAFE_EINVAL;
    sel.state = HSAFE__SEL_OPEN;
    sel.shared = 0;
    sel.task = t;
    for (i = 0; i < n; i++) {
        hsafe_chan *ch = c[i].chan;
        if (!ch) continue;
        if (!hsafe__chan_ok(ch) || (c[i].op != HSAFE_CHAN_SEND && c[i].op != HSAFE_CHAN_RECV) ||
            (c[i].op == HSAFE_CHAN_SEND && !c[i].elem && ch->elem_size))
            return HSAFE_EINVAL;
        if (ch->flags & HSAFE_CHAN_SHARED) shared = 1;
        else if (blocking) hsafe__chan_bind(ch, t, what);
    }
    if (blocking) {
        if (hsafe__cancelled_eff(t)) return HSAFE_ECANCELED;
        dl = hsafe__eff_deadline(t, deadline);
        may_wait = dl == HSAFE_FOREVER || dl > hsafe__tos_now();
    }

    /* Each clause in order: done now if it can be, else queued (if we may
     * wait), until one is done or (shared) another thread did one. */
    for (i = 0; i < n; i++) {
        hsafe_chan *ch = c[i].chan;
        if (!ch) continue;
        c[i].w.sel = &sel;
        c[i].w.index = (int)i;
        c[i].w.linked = 0;
        hsafe__chan_lock(ch);
        r = hsafe__chan_try_op(ch, &c[i], &sel);
        if (r == 0 && may_wait) {
            /* Until a clause is queued nobody else sees the select, so its
             * state word needs atomics only from here on. */
            sel.shared = shared;
            hsafe__chan_enqueue(ch, &c[i]);
            queued = 1;
        }
        hsafe__chan_unlock(ch);
        end = i + 1;
        if (r != 0) break;
    }

    if (r == 0 && may_wait) {
        hsafe_loop *l = t->loop;
        if (shared) l->ext_waiters++;
        rc = hsafe__chan_wait(t, &sel, dl);
        if (shared) l->ext_waiters--;
    } else if (r == 0) {
        sel.state = HSAFE__SEL_GAVEUP;                   /* nothing queued: ours alone */
        rc = blocking ? HSAFE_ETIMEDOUT : HSAFE_EAGAIN;
    }

    /* Leave every queue (taking each lock also waits for a waker on
     * another thread to be done with us). */
    if (queued) {
        for (i = 0; i < end; i++) {
            hsafe_chan *ch = c[i].chan;
            if (!ch) continue;
            hsafe__chan_lock(ch);
            if (c[i].w.linked) hsafe__chan_unlink(ch, &c[i]);
            hsafe__chan_unlock(ch);
        }
        if (shared) hsafe__rmt_unqueue(t);
    }
    state = hsafe__sel_get(&sel);
    return state > 0 ? state - 1 : rc;
}

/* ---- public -------------------------------------------------------------- */

HSAFE_API int hsafe_chan_init(hsafe_chan *ch, size_t elem_size, void *buf, size_t cap,
                              unsigned flags)
{
    if (!ch || (flags & ~HSAFE_CHAN_SHARED)) return HSAFE_EINVAL;
    if (cap && ((!buf && elem_size) || (elem_size && cap > SIZE_MAX / elem_size)))
        return HSAFE_EINVAL;
    memset(ch, 0, sizeof *ch);
    ch->flags = flags;
    ch->elem_size = elem_size;
    ch->cap = cap;
    ch->buf = (unsigned char *)buf;
    ch->magic = HSAFE__CHAN_MAGIC;
    return HSAFE_OK;
}

/* One blocking clause on a channel of this loop (not HSAFE_CHAN_SHARED):
 * hsafe__chan_select's steps for one clause (bind, try, queue, wait,
 * leave), without its loops over clauses, locks and shared bookkeeping,
 * which a channel no other thread sees does not need. */
static int hsafe__chan_one_local(hsafe_chan *ch, hsafe_chan_clause *c, hsafe_time deadline,
                                 const char *what)
{
    hsafe_task *t = hsafe__task_here(what);
    hsafe__chan_sel sel;
    hsafe_time dl;
    int rc;
    hsafe__chan_bind(ch, t, what);
    if (hsafe__cancelled_eff(t)) return HSAFE_ECANCELED;
    sel.state = HSAFE__SEL_OPEN;
    sel.shared = 0;
    sel.task = t;
    c->w.sel = &sel;
    c->w.index = 0;
    c->w.linked = 0;
    if (hsafe__chan_try_op(ch, c, &sel)) return c->rc;   /* done now (a local select cannot be over) */
    dl = hsafe__eff_deadline(t, deadline);
    if (dl != HSAFE_FOREVER && dl <= hsafe__tos_now()) return HSAFE_ETIMEDOUT;
    hsafe__chan_enqueue(ch, c);
    rc = hsafe__chan_wait(t, &sel, dl);
    if (c->w.linked) hsafe__chan_unlink(ch, c);
    return sel.state > 0 ? c->rc : rc;
}

/* One clause, as a select of one. */
static int hsafe__chan_one(hsafe_chan *ch, int op, void *elem, hsafe_time deadline, int blocking,
                           const char *what)
{
    hsafe_chan_clause c;
    int r;
    if (!ch || !hsafe__chan_ok(ch) || (op == HSAFE_CHAN_SEND && !elem && ch->elem_size)) {
        if (blocking) hsafe__task_here(what);
        return HSAFE_EINVAL;
    }
    c.chan = ch;
    c.op = op;
    c.elem = elem;
    c.rc = HSAFE_OK;
    if (blocking && !(ch->flags & HSAFE_CHAN_SHARED)) return hsafe__chan_one_local(ch, &c, deadline, what);
    /* A shared channel, or a try form: try it at once (the buffer, or a
     * task waiting on the other side), with a select record nobody else
     * sees yet; the select below only when it would have to wait. */
    if (!blocking || !hsafe__cancelled_eff(hsafe__task_here(what))) {
        hsafe__chan_sel me;
        hsafe__chan_lock(ch);
        /* the common case first, the lock held as briefly as possible:
         * room in the buffer and no receiver waiting; a value buffered
         * and no sender waiting for room */
        if (op == HSAFE_CHAN_SEND ? !ch->closed && !ch->recvq && ch->count < ch->cap
                                  : ch->count && !ch->sendq) {
            if (op == HSAFE_CHAN_SEND) hsafe__chan_put(ch, elem);
            else hsafe__chan_take(ch, elem);
            hsafe__chan_unlock(ch);
            return HSAFE_OK;
        }
        me.state = HSAFE__SEL_OPEN;
        me.shared = 0;
        me.task = NULL;
        c.w.index = 0;
        r = hsafe__chan_try_op(ch, &c, &me);
        hsafe__chan_unlock(ch);
        if (r == 1) return c.rc;
    }
    r = hsafe__chan_select(&c, 1, deadline, blocking, what);
    return r == 0 ? c.rc : r;
}

HSAFE_API int hsafe_chan_send(hsafe_chan *ch, const void *elem, hsafe_time deadline)
{
    return hsafe__chan_one(ch, HSAFE_CHAN_SEND, (void *)(uintptr_t)elem, deadline, 1, "hsafe_chan_send");
}

HSAFE_API int hsafe_chan_recv(hsafe_chan *ch, void *elem, hsafe_time deadline)
{
    return hsafe__chan_one(ch, HSAFE_CHAN_RECV, elem, deadline, 1, "hsafe_chan_recv");
}

HSAFE_API int hsafe_chan_try_send(hsafe_chan *ch, const void *elem)
{
    return hsafe__chan_one(ch, HSAFE_CHAN_SEND, (void *)(uintptr_t)elem, 0, 0, "hsafe_chan_try_send");
}

HSAFE_API int hsafe_chan_try_recv(hsafe_chan *ch, void *elem)
{
    return hsafe__chan_one(ch, HSAFE_CHAN_RECV, elem, 0, 0, "hsafe_chan_try_recv");
}

HSAFE_API int hsafe_chan_select(hsafe_chan_clause *c, size_t n, hsafe_time deadline)
{
    return hsafe__chan_select(c, n, deadline, 1, "hsafe_chan_select");
}

HSAFE_API int hsafe_chan_try_select(hsafe_chan_clause *c, size_t n)
{
    return hsafe__chan_select(c, n, 0, 0, "hsafe_chan_try_select");
}

HSAFE_API int hsafe_chan_close(hsafe_chan *ch)
{
    hsafe__chan_waiter *w;
    if (!hsafe__chan_ok(ch)) return HSAFE_EINVAL;
    hsafe__chan_lock(ch);
    if (ch->closed) {
        hsafe__chan_unlock(ch);
        return HSAFE_ECLOSED;
    }
    ch->closed = 1;
    while ((w = ch->recvq) != NULL) {
        if (hsafe__sel_lock(w->sel)) hsafe__chan_finish(ch, w, HSAFE_ECLOSED);
        else hsafe__wq_unlink(&ch->recvq, &ch->recvq_tail, w);
    }
    while ((w = ch->sendq) != NULL) {
        if (hsafe__sel_lock(w->sel)) hsafe__chan_finish(ch, w, HSAFE_ECLOSED);
        else hsafe__wq_unlink(&ch->sendq, &ch->sendq_tail, w);
    }
    hsafe__chan_unlock(ch);
    return HSAFE_OK;
}

HSAFE_API size_t hsafe_chan_len(hsafe_chan *ch)
{
    size_t n;
    if (!hsafe__chan_ok(ch)) return 0;
    hsafe__chan_lock(ch);
    n = ch->count;
    hsafe__chan_unlock(ch);
    return n;
}

HSAFE_API size_t hsafe_chan_cap(const hsafe_chan *ch) { return hsafe__chan_ok(ch) ? ch->cap : 0; }

#endif /* HSAFE__TASKS_CHAN_H */
