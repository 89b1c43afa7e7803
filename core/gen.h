/* core/gen.h - generators (api/gen.h): the producer's coroutine on a
 * pooled stack, next/yield/close, the producer's cleanups and panic, and
 * the relay that lets a producer inside a task block that task.
 * Part of hsafe (the manual is hsafe.h; the API and the object are in
 * api/gen.h). Implementation only, after core/run.h. Uses the coroutine
 * core (hsafe_coro_*, hsafe__coro_exit), the pool, the CPU file
 * (hsafe__cpu_clear_scratch), the thread root (hsafe__tls.gen: the
 * innermost running generator; hsafe__tls.run) and, from the task layer,
 * hsafe__task_innermost, hsafe__task_switch_out and a task's innermost
 * open scope (tasks/types.h). No OS or architecture macros, no allocation.
 *
 * How a producer blocks inside a task: the task T called hsafe_gen_next,
 * so the chain of stacks is scheduler -> T -> producer. A blocking call in
 * the producer sets T's wait state as usual, then hsafe__task_switch_out
 * asks hsafe__gen_relay first: the producer switches back to next (op
 * BLOCK) on T's stack, and next switches T out as T's own blocking call
 * would. When the scheduler resumes T, next resumes the producer, which
 * returns from its blocking call. A producer of a generator pulled by
 * another producer relays twice, the same way.
 */
#if defined(HSAFE__IMPL) && !defined(HSAFE__GEN_IMPL)
#define HSAFE__GEN_IMPL 1

enum { HSAFE__GEN_OP_YIELD = 0, HSAFE__GEN_OP_BLOCK = 1 };

static void hsafe__task_switch_out(hsafe_task *t);     /* tasks/sched.h */

static int hsafe__gen_ok(const hsafe_gen *g) { return g && g->magic == HSAFE__GEN_MAGIC; }

static hsafe_gen *hsafe__gen_innermost(void)
{
    hsafe_gen *g = hsafe__tls.gen;
    if (!g || (void *)hsafe__tls.run != g->run_outer || hsafe__task_innermost() != g->task) return NULL;
    return g;
}

/* From hsafe__task_switch_out: if the code switching task t out is the
 * producer of a generator t resumed, hand the switch to t's hsafe_gen_next
 * (see the top) and return 1 once t runs again; else 0. */
static int hsafe__gen_relay(hsafe_task *t)
{
    hsafe_gen *g = hsafe__tls.gen;
    if (!g || g->task != t || (void *)hsafe__tls.run != g->run_outer) return 0;
    g->op = HSAFE__GEN_OP_BLOCK;
    hsafe_coro_yield(&g->co, 0);
    return 1;
}

static void hsafe__gen_run_cleanups(hsafe_gen *g)
{
    while (g->cleanups) {
        hsafe_cleanup *c = g->cleanups;
        g->cleanups = c->next;
        c->fn(c->arg);
    }
}

static uintptr_t hsafe__gen_main(hsafe_coro *co, uintptr_t first)
{
    hsafe_gen *g = (hsafe_gen *)hsafe_coro_user(co);
    hsafe_cleanup *c;
    uintptr_t v = g->fn(g, g->arg, first);
    if (g->task && g->task->scopes != g->task_scopes)
        hsafe__misuse("a generator's producer returned with a scope it opened still open: "
                      "join it first");
    for (c = g->cleanups; c; c = c->next)
        if ((uintptr_t)c - (uintptr_t)co->stack_lo < co->stack_size
#if defined(HSAFE__ASAN_FIBER)
            || __asan_addr_is_in_fake_stack(__asan_get_current_fake_stack(), c, NULL, NULL)
#endif
            )
            hsafe__misuse("a generator's producer returned with a cleanup handler still "
                          "registered in a frame that has ended: pop it before returning");
    hsafe__gen_run_cleanups(g);
    return v;
}

__attribute__((noreturn)) static void hsafe__gen_end_panic(hsafe_gen *g)
{
    g->panicked = 1;
    hsafe__gen_run_cleanups(g);
    hsafe__coro_exit(&g->co, 0);
}

/* The producer's stack goes back to the pool (which wipes it). */
static void hsafe__gen_release(hsafe_gen *g)
{
    hsafe_coro_fini(&g->co);
    hsafe_pool_release(g->pool, g->stack);
    g->stack = NULL;
    g->state = HSAFE__GEN_DONE;
}

HSAFE_API int hsafe_gen_init(hsafe_gen *g, hsafe_pool *pool, hsafe_gen_fn fn, void *arg)
{
    hsafe_stack *st = NULL;
    int rc;
    if (!g || !fn || !hsafe__pool_ok(pool)) return HSAFE_EINVAL;
    rc = hsafe_pool_acquire(pool, &st);
    if (rc) return rc;
    hsafe__cpu_init_once();
    memset(g, 0, sizeof *g);
    g->magic = HSAFE__GEN_MAGIC;
    g->fn = fn;
    g->arg = arg;
    g->pool = pool;
    g->stack = st;
    hsafe_coro_init(&g->co, st->lo, st->size, hsafe__gen_main, g);
    g->state = HSAFE__GEN_NEW;
    return HSAFE_OK;
}

/* hsafe_gen_next's bookkeeping before its switch: who resumes g. */
HSAFE_API struct hsafe_gen **hsafe__gen_enter(hsafe_gen *g)
{
    /* Two plain loads: gcc may merge them into one 16-byte load, which
     * cannot take tls.gen from the 8-byte store the last next made (a
     * store-forwarding stall, a few ns a call on x86_64). */
    struct hsafe_gen *const volatile *gen = &hsafe__tls.gen;
    g->outer = *gen;
    g->run_outer = (void *)hsafe__tls.run;
    g->task = hsafe__task_innermost();
    g->task_scopes = g->task ? g->task->scopes : NULL;
    g->state = HSAFE__GEN_RUNNING;
    g->op = HSAFE__GEN_OP_YIELD;
    hsafe__tls.gen = g;
    return &hsafe__tls.gen;
}

/* After the switch back (the coroutine's status st, the value v): relay
 * the producer's blocking calls to the task that pulls it (see the top)
 * until it yields or ends. */
HSAFE_API int hsafe__gen_after(hsafe_gen *g, int st, uintptr_t v, uintptr_t *out)
{
    while (st != HSAFE_CORO_FINISHED && g->op == HSAFE__GEN_OP_BLOCK) {
        hsafe__tls.gen = g->outer;
        hsafe__task_switch_out(g->task);   /* its wait state is set: block it */
        hsafe__tls.gen = g;
        g->op = HSAFE__GEN_OP_YIELD;
        st = hsafe_coro_resume(&g->co, 0, &v);
    }
    hsafe__tls.gen = g->outer;
    if (st != HSAFE_CORO_FINISHED && g->task && g->task->scopes != g->task_scopes)
        hsafe__misuse("hsafe_gen_yield: the producer yielded with a scope it opened still open: "
                      "join it first");
    if (st == HSAFE_CORO_FINISHED) {
#if !defined(HSAFE_TEST_NO_WIPE)
        hsafe__cpu_clear_scratch();        /* what the producer left in registers */
#endif
        hsafe__gen_release(g);
        if (out) *out = g->panicked ? 0 : v;
        return g->panicked ? HSAFE_EPANIC : HSAFE_GEN_DONE;
    }
    g->state = HSAFE__GEN_SUSPENDED;
    if (out) *out = v;
    return HSAFE_GEN_VALUE;
}

/* Run the producer (suspended or new) until it yields or ends. */
static int hsafe__gen_resume(hsafe_gen *g, uintptr_t in, uintptr_t *out)
{
    uintptr_t v = 0;
    int st;
    hsafe__gen_enter(g);
    st = hsafe_coro_resume(&g->co, in, &v);
    return hsafe__gen_after(g, st, v, out);
}

/* hsafe_gen_next on something that cannot be resumed. */
HSAFE_API int hsafe__gen_next_error(const hsafe_gen *g, uintptr_t *out)
{
    if (out) *out = 0;
    if (!hsafe__gen_ok(g)) return HSAFE_EINVAL;
    return g->state == HSAFE__GEN_RUNNING ? HSAFE_ESTATE : HSAFE_EFINISHED;
}

/* hsafe_gen_yield's checks failed (api/gen.h). */
HSAFE_API void hsafe__gen_yield_misuse(const hsafe_gen *g)
{
    if (hsafe__gen_ok(g) && g->state == HSAFE__GEN_RUNNING && g->closing)
        hsafe__misuse("hsafe_gen_yield: the producer yielded again after its yield returned "
                      "HSAFE_ECANCELED (the generator is being closed: return instead)");
    hsafe__misuse("hsafe_gen_yield: not called from this generator's producer (it is not "
                  "running, or this is not the producer's stack)");
}

HSAFE_API int hsafe_gen_close(hsafe_gen *g)
{
    uintptr_t v;
    int rc;
    if (!hsafe__gen_ok(g)) return HSAFE_EINVAL;
    switch (g->state) {
    case HSAFE__GEN_DONE:
        return HSAFE_OK;
    case HSAFE__GEN_RUNNING:
        return HSAFE_ESTATE;
    case HSAFE__GEN_NEW:                   /* nothing ran: nothing to unwind */
        hsafe__gen_release(g);
        return HSAFE_OK;
    default:
        g->closing = 1;
        rc = hsafe__gen_resume(g, 0, &v);  /* its yield returns HSAFE_ECANCELED */
        if (rc == HSAFE_GEN_VALUE)         /* cannot happen: a second yield aborts */
            hsafe__misuse("hsafe_gen_close: the producer yielded while being closed");
        return rc == HSAFE_EPANIC ? HSAFE_EPANIC : HSAFE_OK;
    }
}

HSAFE_API int hsafe_gen_alive(const hsafe_gen *g)
{
    return hsafe__gen_ok(g) && g->state != HSAFE__GEN_DONE;
}

HSAFE_API const char *hsafe_gen_message(const hsafe_gen *g)
{
    return hsafe__gen_ok(g) ? g->message : "";
}

#endif /* HSAFE__IMPL */
