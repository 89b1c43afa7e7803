/* core/run.h - sanitized runs: a function on a pooled stack, then the wipe
 * of what it wrote and of the registers; hsafe_panic, cleanup handlers, the
 * abort hook, and the check of the alternate signal stack after a run.
 * Part of hsafe (the manual is hsafe.h; the API is api/run.h).
 * Implementation only; uses core/coro.h, core/pool.h, core/thread.h, the
 * CPU file and the OS layer.
 */
#if defined(HSAFE__IMPL) && !defined(HSAFE__RUN_IMPL)
#define HSAFE__RUN_IMPL 1
#include <stdio.h>
#include <stdarg.h>

typedef struct hsafe__run hsafe__run;
struct hsafe__run {
    hsafe_coro co;
    hsafe_run_fn fn;
    void *arg;
    int status;
    hsafe_cleanup *cleanups;
    hsafe_run_info *info;
    hsafe_stack *stack;
    unsigned flags;
    struct hsafe__run *prev;
};


/* Resume co and clear the registers it may have left, before anything
 * else runs on this stack (an out-of-line call could spill them here). */
static inline __attribute__((always_inline)) int hsafe__resume_clear(hsafe_coro *co, uintptr_t *out)
{
    uintptr_t v;
#if defined(HSAFE__ASAN_FIBER)
    void *fake = NULL;
#endif
    co->status = HSAFE_CORO_RUNNING;
#if defined(HSAFE__TSAN)
    co->tsan_caller = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(co->tsan_fiber, 0);
#endif
#if defined(HSAFE__ASAN_FIBER)
    __sanitizer_start_switch_fiber(&fake, co->stack_lo, co->stack_size);
#endif
    v = hsafe__ctx_switch(&co->caller, &co->ctx, 0);
#if !defined(HSAFE_TEST_NO_WIPE)
    hsafe__cpu_clear_scratch();
#endif
#if defined(HSAFE__ASAN_FIBER)
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
    *out = v;
    return co->status;
}

/* Hand the thread from coroutine `from` (running, on its own stack: the
 * caller) straight to `to` (suspended), which returns to from's resumer
 * when it yields or ends, as if that resumer had resumed it: one switch
 * instead of two, and the resumer's code between them does not run. The
 * registers are cleared before the switch, so `to` starts with none of
 * from's values (its own are reloaded from its stack). Only where a saved
 * context may be copied, and not under the ASan and TSan fiber calls,
 * which pair each switch with its resumer. Returns when something resumes
 * `from` again. */
#if defined(HSAFE__CTX_MOVABLE) && !defined(HSAFE__ASAN_FIBER) && !defined(HSAFE__TSAN)
#define HSAFE__HAS_HANDOFF 1
static inline __attribute__((always_inline)) void hsafe__handoff_clear(hsafe_coro *from, hsafe_coro *to)
{
    to->caller = from->caller;
    from->status = HSAFE_CORO_SUSPENDED;
    to->status = HSAFE_CORO_RUNNING;
#if !defined(HSAFE_TEST_NO_WIPE)
    hsafe__cpu_clear_scratch();
#endif
    hsafe__ctx_switch(&from->ctx, &to->ctx, 0);
}
#endif

/* The thread's alternate signal stack is hsafe's own memory that signal
 * handlers write (hsafe's fault handler, the handlers it passes faults on
 * to, any installed with SA_ONSTACK). Every signal delivered on it leaves
 * its frame in the top `frame` bytes, which are otherwise zero: check
 * those after each run and wipe the whole stack when they are not. */
static void hsafe__altstack_scrub(void)
{
    unsigned char *lo, *top, *p;
    size_t size, frame;
    if (!hsafe__os_altstack(&hsafe__tls.os, &lo, &size, &frame)) return;
    top = lo + size;
    p = top - frame;
    p += hsafe__zero_prefix(p, (size_t)(top - p));
    p += hsafe__zero_prefix_portable(p, (size_t)(top - p));
    while (p < top && *p == 0) p++;
#if !defined(HSAFE_TEST_NO_WIPE)
    if (p < top) hsafe_wipe(lo, size);
#endif
}

static void hsafe__run_cleanups(hsafe__run *r)
{
    while (r->cleanups) {
        hsafe_cleanup *c = r->cleanups;
        r->cleanups = c->next;
        c->fn(c->arg);
    }
}

static uintptr_t hsafe__run_main(hsafe_coro *co, uintptr_t first)
{
    hsafe__run *r = (hsafe__run *)hsafe_coro_user(co);
    hsafe_cleanup *c;
    uintptr_t v;
    (void)first;
    v = r->fn(r->arg);
    /* Records still registered must have outlived fn: one on this stack was
     * in a frame of fn's that has ended (the compiler may not even have
     * stored it), so running it would call garbage. */
    for (c = r->cleanups; c; c = c->next)
        if ((uintptr_t)c - (uintptr_t)co->stack_lo < co->stack_size
#if defined(HSAFE__ASAN_FIBER)
            /* detect_stack_use_after_return puts fn's locals in the
             * coroutine's fake stack instead (tests/sanitize/README.md) */
            || __asan_addr_is_in_fake_stack(__asan_get_current_fake_stack(), c, NULL, NULL)
#endif
            )
            hsafe__misuse("a cleanup handler was still registered when the run's function "
                          "returned, and its record was in a frame that has ended: pop it "
                          "before returning");
    hsafe__run_cleanups(r);
    return v;
}

HSAFE_API int hsafe_run_ex(hsafe_pool *pool, hsafe_run_fn fn, void *arg,
                           unsigned flags, hsafe_run_info *info)
{
    hsafe__run r;
    hsafe__os_sigmask saved;
    uintptr_t v = 0;
    int rc;
    if (!hsafe__pool_ok(pool) || !fn || (flags & ~(HSAFE_RUN_BLOCK_SIGNALS | HSAFE_RUN_CATCH_ABORT)))
        return HSAFE_EINVAL;
    if (info) { info->result = 0; info->stack_used = 0; info->message[0] = 0; }
    memset(&r, 0, sizeof r);
    rc = hsafe_pool_acquire(pool, &r.stack);
    if (rc) return rc;
    hsafe__cpu_init_once();
    hsafe__thread_prepare();
    r.fn = fn;
    r.arg = arg;
    r.info = info;
    r.flags = flags;
    r.status = HSAFE_OK;
    /* A caught abort leaves its signal handler by switching stacks, so
     * the mask it ran with must be restored afterwards. Both before
     * hsafe_coro_init: the ucontext backend gives the run the signal mask
     * current at init (swapcontext switches masks). */
    if (flags & HSAFE_RUN_CATCH_ABORT) hsafe__os_catch_abort(&saved);
    if (flags & HSAFE_RUN_BLOCK_SIGNALS) hsafe__os_block_signals(&saved);
    hsafe_coro_init(&r.co, r.stack->lo, r.stack->size, hsafe__run_main, &r);
    r.prev = hsafe__tls.run;
    hsafe__tls.run = &r;
    hsafe__resume_clear(&r.co, &v);
    if (flags & (HSAFE_RUN_BLOCK_SIGNALS | HSAFE_RUN_CATCH_ABORT)) hsafe__os_restore_signals(&saved);
    hsafe__altstack_scrub();
    hsafe__tls.run = r.prev;
    hsafe_coro_fini(&r.co);
    hsafe_pool_release(pool, r.stack);
    if (info) {
        info->result = r.status == HSAFE_OK ? v : 0;
        info->stack_used = r.stack->last_used;
    }
    hsafe_wipe(&v, sizeof v);
    return r.status;
}

HSAFE_API int hsafe_run(hsafe_pool *pool, hsafe_run_fn fn, void *arg, uintptr_t *result)
{
    hsafe_run_info info;
    int rc;
    info.result = 0;    /* hsafe_run_ex does not touch info on HSAFE_EINVAL */
    rc = hsafe_run_ex(pool, fn, arg, 0, &info);
    if (result) *result = info.result;
    hsafe_wipe(&info, sizeof info);     /* a panic message came out of the run */
    return rc;
}

/* Scoped tasks (tasks/sched.h): the running task when no run nested in it
 * is more recent, else NULL; ending it by a panic. */
static hsafe_task *hsafe__task_innermost(void);
__attribute__((noreturn)) static void hsafe__task_end_panic(hsafe_task *t);
/* Generators (core/gen.h): the running producer when nothing (a run, a
 * task) was entered inside it, else NULL; ending it by a panic. */
static hsafe_gen *hsafe__gen_innermost(void);
__attribute__((noreturn)) static void hsafe__gen_end_panic(hsafe_gen *g);

__attribute__((noreturn)) static void hsafe__run_end_panic(hsafe__run *r)
{
    r->status = HSAFE_EPANIC;
    hsafe__run_cleanups(r);
    hsafe__coro_exit(&r->co, 0);
}

HSAFE_API void hsafe_panic(const char *fmt, ...)
{
    hsafe__run *r = hsafe__tls.run;
    hsafe_task *t = hsafe__task_innermost();
    hsafe_gen *g = hsafe__gen_innermost();
    va_list ap;
    if (g) {                        /* a panic in a producer ends the generator */
        if (g->panicked)
            hsafe__misuse("hsafe_panic in a generator that is already ending by a panic "
                          "(from a cleanup handler?)");
        va_start(ap, fmt);
        vsnprintf(g->message, sizeof g->message, fmt ? fmt : "(null)", ap);
        va_end(ap);
        hsafe__gen_end_panic(g);
    }
    if (t) {                        /* a panic in a task ends the task */
        if (t->panicking)
            hsafe__misuse("hsafe_panic in a task that is already ending by a panic "
                          "(from a cleanup handler?)");
        va_start(ap, fmt);
        vsnprintf(t->message, sizeof t->message, fmt ? fmt : "(null)", ap);
        va_end(ap);
        hsafe__task_end_panic(t);
    }
    if (!r || r->co.status != HSAFE_CORO_RUNNING) {
        char msg[256];
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt ? fmt : "(null)", ap);
        va_end(ap);
        fprintf(stderr, "hsafe: misuse: hsafe_panic called outside a sanitized run: %s\n", msg);
        fflush(stderr);
        abort();
    }
    if (r->info) {
        va_start(ap, fmt);
        vsnprintf(r->info->message, sizeof r->info->message, fmt ? fmt : "(null)", ap);
        va_end(ap);
    }
    hsafe__run_end_panic(r);
}

/* Called by the OS layer's SIGABRT handler, on the aborting code's stack.
 * Returns only when the abort is not ours to catch. */
static void hsafe__run_on_abort(void)
{
    hsafe__run *r = hsafe__tls.run;
    if (hsafe__task_innermost()) return;   /* aborts in tasks are not caught */
    if (!r || !(r->flags & HSAFE_RUN_CATCH_ABORT) || r->co.status != HSAFE_CORO_RUNNING) return;
    if (r->info)
        snprintf(r->info->message, sizeof r->info->message, "abort() called inside the run");
    hsafe__run_end_panic(r);
}

static hsafe__run *hsafe__run_here(const char *what)
{
    hsafe__run *r = hsafe__tls.run;
    if (!r || r->co.status != HSAFE_CORO_RUNNING) hsafe__misuse(what);
    return r;
}

/* The cleanup list of the innermost generator, task or run. */
static hsafe_cleanup **hsafe__cleanups_here(const char *what)
{
    hsafe_gen *g = hsafe__gen_innermost();
    hsafe_task *t = g ? NULL : hsafe__task_innermost();
    if (g) return &g->cleanups;
    return t ? &t->cleanups : &hsafe__run_here(what)->cleanups;
}

HSAFE_API void hsafe_cleanup_push(hsafe_cleanup *c, void (*fn)(void *), void *arg)
{
    hsafe_cleanup **head = hsafe__cleanups_here("hsafe_cleanup_push called outside a sanitized run or task");
    if (!c || !fn) hsafe__misuse("hsafe_cleanup_push: NULL record or function");
    c->fn = fn;
    c->arg = arg;
    c->next = *head;
    *head = c;
}

HSAFE_API void hsafe_cleanup_pop(hsafe_cleanup *c, int execute)
{
    hsafe_cleanup **head = hsafe__cleanups_here("hsafe_cleanup_pop called outside a sanitized run or task");
    if (!c || *head != c)
        hsafe__misuse("hsafe_cleanup_pop: not the most recently pushed cleanup handler");
    *head = c->next;
    if (execute) c->fn(c->arg);
}

#endif /* HSAFE__IMPL */
