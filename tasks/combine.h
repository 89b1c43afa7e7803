/* tasks/combine.h - combinators (api/combine.h): join all, try-join, race,
 * first success, timeout, each one scope of child tasks.
 * Implementation part only, after tasks/sched.h. Uses the public task API
 * (scopes, spawn_wait, cleanups) and, from tasks/sched.h, hsafe__task_here
 * (misuse outside a task) and the scope's fields (its cancel reason).
 * No OS or architecture macros, no allocation.
 *
 * How: each call runs as a child task through hsafe__call_main, which
 * registers a cleanup handler in the call record before calling fn. The
 * handler runs when the task ends, whether fn returned or panicked (the
 * task's status is set by then), and is where a race learns its winner:
 * the first call to end (race) or to succeed (race_ok) while the scope is
 * not cancelled yet wins, and cancels the scope.
 */
#if defined(HSAFE__IMPL) && !defined(HSAFE__TASKS_COMBINE_H)
#define HSAFE__TASKS_COMBINE_H 1

enum { HSAFE__COMB_JOIN_ALL, HSAFE__COMB_TRY_JOIN, HSAFE__COMB_RACE, HSAFE__COMB_RACE_OK };

typedef struct hsafe__comb {
    hsafe_scope scope;
    int kind;
    hsafe_call *calls;
    size_t n;
    size_t winner;              /* n until a race is decided */
} hsafe__comb;

/* Cleanup handler of a call's task: it has ended (returned or panicked). */
static void hsafe__call_done(void *p)
{
    hsafe_call *c = (hsafe_call *)p;
    hsafe__comb *cb = (hsafe__comb *)c->comb_;
    c->status = c->task.status;
    if (cb->winner != cb->n || cb->scope.cancel_reason) return;
    if (cb->kind == HSAFE__COMB_RACE || (cb->kind == HSAFE__COMB_RACE_OK && c->status >= 0)) {
        cb->winner = (size_t)(c - cb->calls);
        hsafe_scope_cancel(&cb->scope);
    }
}

static int hsafe__call_main(void *p)
{
    hsafe_call *c = (hsafe_call *)p;
    hsafe_cleanup_push(&c->done_, hsafe__call_done, c);
    return c->fn(c->arg, &c->result);
}

static size_t hsafe__comb_index(const hsafe__comb *cb, const hsafe_task *t)
{
    size_t i;
    for (i = 0; t && i < cb->n; i++)
        if (&cb->calls[i].task == t) return i;
    return cb->n;
}

static int hsafe__comb_run(int kind, hsafe_call *calls, size_t n, hsafe_time deadline,
                           size_t *index, const char *what)
{
    hsafe__comb cb;
    size_t i, started = 0, dummy;
    int rc = HSAFE_OK, jrc, reason;
    hsafe__task_here(what);
    if (!index) index = &dummy;
    *index = n;
    if ((!calls && n) || (!n && (kind == HSAFE__COMB_RACE || kind == HSAFE__COMB_RACE_OK)))
        return HSAFE_EINVAL;
    for (i = 0; i < n; i++) {
        const hsafe_task *t = &calls[i].task;
#if defined(HSAFE__VALGRIND)
        VALGRIND_MAKE_MEM_DEFINED(&calls[i].task.magic, sizeof t->magic + sizeof t->state);
#endif
        if (!calls[i].fn || (t->magic == HSAFE__TASK_MAGIC && t->state != HSAFE_TASK_NONE &&
                             t->state != HSAFE_TASK_DONE))
            return HSAFE_EINVAL;
    }
    for (i = 0; i < n; i++) {
        calls[i].status = 0;
        calls[i].result = 0;
        calls[i].comb_ = &cb;
    }
    cb.kind = kind;
    cb.calls = calls;
    cb.n = n;
    cb.winner = n;
    hsafe_scope_open(&cb.scope, what, kind == HSAFE__COMB_TRY_JOIN ? 0u : HSAFE_SCOPE_COLLECT_ALL,
                     deadline);
    for (; started < n; started++) {
        hsafe_call *c = &calls[started];
        rc = hsafe_scope_spawn_wait(&cb.scope, &c->task, hsafe__call_main, c, c->name, HSAFE_FOREVER);
        if (rc) break;
    }
    for (i = started; i < n; i++) calls[i].status = rc;
    if (rc) hsafe_scope_cancel(&cb.scope);
    jrc = hsafe_scope_join(&cb.scope);
    reason = cb.scope.cancel_reason;
    if (cb.winner != n) {                       /* a race was decided */
        *index = cb.winner;
        return calls[cb.winner].status;
    }
    if (rc && reason != HSAFE_CANCEL_PARENT && reason != HSAFE_CANCEL_DEADLINE) {
        *index = started;                       /* it could not start */
        return rc;
    }
    switch (kind) {
    case HSAFE__COMB_RACE:
        return reason == HSAFE_CANCEL_DEADLINE ? HSAFE_ETIMEDOUT : HSAFE_ECANCELED;
    case HSAFE__COMB_RACE_OK:
        if (reason == HSAFE_CANCEL_DEADLINE) return HSAFE_ETIMEDOUT;
        if (reason) return HSAFE_ECANCELED;
        *index = hsafe__comb_index(&cb, hsafe_scope_failed(&cb.scope));   /* all failed */
        return *index < n ? calls[*index].status : HSAFE_ECANCELED;
    default:
        if (jrc && hsafe_scope_failed(&cb.scope) && jrc == hsafe_scope_failed(&cb.scope)->status)
            *index = hsafe__comb_index(&cb, hsafe_scope_failed(&cb.scope));
        return jrc;
    }
}

HSAFE_API int hsafe_join_all(hsafe_call *calls, size_t n, hsafe_time deadline, size_t *index)
{
    return hsafe__comb_run(HSAFE__COMB_JOIN_ALL, calls, n, deadline, index, "hsafe_join_all");
}

HSAFE_API int hsafe_try_join(hsafe_call *calls, size_t n, hsafe_time deadline, size_t *index)
{
    return hsafe__comb_run(HSAFE__COMB_TRY_JOIN, calls, n, deadline, index, "hsafe_try_join");
}

HSAFE_API int hsafe_race(hsafe_call *calls, size_t n, hsafe_time deadline, size_t *index)
{
    return hsafe__comb_run(HSAFE__COMB_RACE, calls, n, deadline, index, "hsafe_race");
}

HSAFE_API int hsafe_race_ok(hsafe_call *calls, size_t n, hsafe_time deadline, size_t *index)
{
    return hsafe__comb_run(HSAFE__COMB_RACE_OK, calls, n, deadline, index, "hsafe_race_ok");
}

HSAFE_API int hsafe_timeout(hsafe_call *call, hsafe_time deadline)
{
    size_t index;
    int rc;
    hsafe__task_here("hsafe_timeout");
    if (!call) return HSAFE_EINVAL;
    rc = hsafe__comb_run(HSAFE__COMB_JOIN_ALL, call, 1, deadline, &index, "hsafe_timeout");
    if (call->status >= 0 && call->task.state == HSAFE_TASK_DONE && rc != HSAFE_EINVAL)
        return call->status;                    /* it did its work */
    return rc;
}

#endif /* HSAFE__TASKS_COMBINE_H */
