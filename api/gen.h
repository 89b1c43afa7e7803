/* api/gen.h - generators: a producer on its own pooled stack, pulled by
 * its consumer one value at a time: hsafe_gen_*.
 * Part of hsafe (the manual is hsafe.h). Public declarations and the
 * generator object (it holds a coroutine, so hsafe.h includes this file
 * after core/coro.h); uses core/base.h and the types of api/pool.h,
 * api/run.h and api/task.h. The implementation is core/gen.h.
 *
 * MODEL
 *   hsafe_gen_init(g, pool, fn, arg) takes a stack from `pool`; nothing
 *   runs yet. Each hsafe_gen_next(g, in, &out) runs the producer fn until
 *   it yields a value (next returns HSAFE_GEN_VALUE, out = the value) or
 *   returns (next returns HSAFE_GEN_DONE, out = fn's return value, the
 *   "final value", distinct from the yielded ones). `in` travels the other
 *   way: the first next's `in` is fn's argument `first`, each later one is
 *   what the producer's pending hsafe_gen_yield hands back in *in.
 *   When the producer has returned, its cleanups have run and its stack
 *   went back to the pool, which wipes what it wrote; the registers it may
 *   have left are cleared right after the last switch back.
 *
 *       static uintptr_t count(hsafe_gen *g, void *arg, uintptr_t first) {
 *           for (uintptr_t i = first; i < 10; i++)
 *               if (hsafe_gen_yield(g, i, NULL) != 0) break;   // closed
 *           return 100;                                        // final
 *       }
 *       hsafe_gen g; uintptr_t v;
 *       hsafe_gen_init(&g, &pool, count, NULL);
 *       while (hsafe_gen_next(&g, 0, &v) == HSAFE_GEN_VALUE) use(v);
 *       hsafe_gen_close(&g);            // always; a no-op once finished
 *
 * CLOSING EARLY
 *   hsafe_gen_close on a producer suspended in hsafe_gen_yield resumes it
 *   once: that yield returns HSAFE_ECANCELED and the producer should
 *   return. Its hsafe_cleanup_push handlers run as it returns, its stack
 *   is wiped, and close returns after all that. A producer that yields
 *   again after seeing HSAFE_ECANCELED ignored the close: misuse (aborts,
 *   as Python's "generator ignored GeneratorExit"). Other calls in the
 *   producer still work while it unwinds (it may sleep, say, to flush).
 *
 * WITH AND WITHOUT TASKS
 *   Generators need no loop: plain C iteration works anywhere. Inside a
 *   task (api/task.h) the producer may also call the blocking calls
 *   (hsafe_sleep_until, hsafe_fd_wait, hsafe_yield, scopes, combinators):
 *   they block the task that called hsafe_gen_next, other tasks run
 *   meanwhile, and that task's cancellation reaches the producer (its
 *   blocking calls return HSAFE_ECANCELED). A producer must join a scope
 *   it opened before it yields (yielding with one open is misuse).
 *   hsafe_panic in a producer ends the generator (not the task or run that
 *   consumes it): its cleanups run, its stack is wiped, next returns
 *   HSAFE_EPANIC and hsafe_gen_message() says why.
 *   hsafe_cleanup_push in a producer registers the handler with the
 *   generator: it runs when the producer returns, is closed, or panics.
 *
 * NOT
 *   A generator is used by one thread. next and close from inside its own
 *   producer (it is running) return HSAFE_ESTATE. A generator left alive
 *   keeps its stack: close every generator you stop pulling (a task that
 *   ends does not close the generators it made).
 */
#ifndef HSAFE__API_GEN_H
#define HSAFE__API_GEN_H
HSAFE__BEGIN_C

typedef struct hsafe_gen hsafe_gen;

/* The producer: `first` is the `in` of the first hsafe_gen_next; its
 * return value is the final value (handed out with HSAFE_GEN_DONE). */
typedef uintptr_t (*hsafe_gen_fn)(hsafe_gen *g, void *arg, uintptr_t first);

/* What hsafe_gen_next returns besides the errors. */
#define HSAFE_GEN_DONE  0   /* the producer returned; out = its final value */
#define HSAFE_GEN_VALUE 1   /* the producer yielded; out = the value */

#define HSAFE_GEN_MESSAGE_SIZE 128   /* bytes kept of a panic message */

/* Prepare generator `g` (caller memory, fields private) to run fn(g, arg,
 * first) on a stack taken from `pool` now. Nothing runs until the first
 * hsafe_gen_next. Call hsafe_gen_close when done with it (it releases the
 * stack of a producer that has not finished).
 * Errors: HSAFE_EINVAL (NULL g, pool or fn; not a pool); those of
 * hsafe_pool_acquire (HSAFE_EBUSY, HSAFE_ENOMEM, HSAFE_ELOCK). */
HSAFE_API int hsafe_gen_init(hsafe_gen *g, hsafe_pool *pool, hsafe_gen_fn fn, void *arg);

/* Run the producer until its next value (HSAFE_GEN_VALUE) or its end
 * (HSAFE_GEN_DONE), passing `in` (see MODEL); *out (out may be NULL) gets
 * the value, or 0 on an error.
 * Errors: HSAFE_EINVAL (NULL g, or not a generator); HSAFE_EFINISHED (it
 * finished or was closed before this call); HSAFE_ESTATE (it is running:
 * called from its own producer, or while the producer blocks in a task);
 * HSAFE_EPANIC (the producer panicked during this call; later calls
 * return HSAFE_EFINISHED). */
static inline int hsafe_gen_next(hsafe_gen *g, uintptr_t in, uintptr_t *out);

/* From inside generator g's producer: hand `value` to the consumer and
 * suspend until the next hsafe_gen_next, whose `in` goes to *in (may be
 * NULL). Returns 0, or HSAFE_ECANCELED when the generator is being closed
 * (the producer should return; *in is 0). Called anywhere but g's own
 * producer, or again after returning HSAFE_ECANCELED, or with a scope
 * opened by the producer still open: misuse (aborts). */
static inline int hsafe_gen_yield(hsafe_gen *g, uintptr_t value, uintptr_t *in);

/* Finish g now: a producer suspended in a yield sees HSAFE_ECANCELED there
 * and returns; its cleanups run and its stack is wiped and released
 * before close returns. One that never ran just releases its stack. Safe
 * to call again, and on a finished generator (returns 0).
 * Errors: HSAFE_EINVAL (NULL, or not a generator); HSAFE_ESTATE (it is
 * running: called from its own producer, or while it blocks in a task);
 * HSAFE_EPANIC (the producer panicked while unwinding; it is finished). */
HSAFE_API int hsafe_gen_close(hsafe_gen *g);

/* Whether g can still produce: 1 before its end, 0 once it returned,
 * panicked or was closed (and for NULL or a non-generator). */
HSAFE_API int hsafe_gen_alive(const hsafe_gen *g);

/* The panic message of a producer that ended by hsafe_panic, else "".
 * Never NULL. */
HSAFE_API const char *hsafe_gen_message(const hsafe_gen *g);

/* The generator object: caller memory (stack, heap, static) that must stay
 * put while the generator is alive; the fields are private. */
struct hsafe_gen {
    hsafe_coro co;                  /* the producer */
    uint32_t magic;
    int state;                      /* HSAFE__GEN_* (core/gen.h) */
    int closing;                    /* 1 close asked, 2 the producer was told */
    int op;                         /* why the producer switched out */
    int panicked;
    hsafe_gen_fn fn;
    void *arg;
    hsafe_pool *pool;
    hsafe_stack *stack;
    hsafe_cleanup *cleanups;        /* the producer's handlers */
    struct hsafe_gen *outer;        /* the generator running when this one was resumed */
    void *run_outer;                /* the innermost run then */
    hsafe_task *task;               /* the task that resumed it, or NULL */
    hsafe_scope *task_scopes;       /* that task's innermost open scope then */
    char message[HSAFE_GEN_MESSAGE_SIZE];
};

/* Private: the magic and the states of the object, and the out-of-line
 * parts of next and yield (core/gen.h): the bookkeeping before the switch
 * (returns the thread's slot of the innermost generator), everything but
 * a plain yield after it, the errors, the misuse report. */
#define HSAFE__GEN_MAGIC 0x67656e72u    /* "genr" */
enum { HSAFE__GEN_NEW = 1, HSAFE__GEN_SUSPENDED, HSAFE__GEN_RUNNING, HSAFE__GEN_DONE };
HSAFE_API struct hsafe_gen **hsafe__gen_enter(hsafe_gen *g);
HSAFE_API int hsafe__gen_after(hsafe_gen *g, int st, uintptr_t v, uintptr_t *out);
HSAFE_API int hsafe__gen_next_error(const hsafe_gen *g, uintptr_t *out);
HSAFE_API void hsafe__gen_yield_misuse(const hsafe_gen *g) __attribute__((noreturn));

/* Inline, like hsafe_coro_resume: the switch then sits in the caller's
 * loop, which saves its registers once rather than at every call. A
 * generator pulled by a task takes the out-of-line path after the switch
 * (the relay of blocking calls, the check of scopes). */
static inline int hsafe_gen_next(hsafe_gen *g, uintptr_t in, uintptr_t *out)
{
    uintptr_t v;
    struct hsafe_gen **slot;
    int st;
    if (HSAFE__UNLIKELY(!g || g->magic != HSAFE__GEN_MAGIC ||
                        (g->state != HSAFE__GEN_SUSPENDED && g->state != HSAFE__GEN_NEW)))
        return hsafe__gen_next_error(g, out);
    slot = hsafe__gen_enter(g);
    v = hsafe__coro_switch_in(&g->co, in);     /* NEW or SUSPENDED: its coroutine is suspended */
    st = g->co.status;
    /* (a producer blocks through its task only: g->op is BLOCK only then) */
    if (HSAFE__UNLIKELY(st != HSAFE_CORO_SUSPENDED || g->task))
        return hsafe__gen_after(g, st, v, out);
    *slot = g->outer;
    g->state = HSAFE__GEN_SUSPENDED;
    if (out) *out = v;
    return HSAFE_GEN_VALUE;
}

/* Inline, so that no call/return pair straddles the switch (a return the
 * return-stack predictor cannot know costs more than the switch). The
 * consumer's side checks the rest (core/gen.h). A RUNNING generator whose
 * code is not on the producer's stack (another coroutine's, or the
 * producer suspended in a relayed blocking call) is a misuse too. */
static inline int hsafe_gen_yield(hsafe_gen *g, uintptr_t value, uintptr_t *in)
{
    uintptr_t v = 0;     /* where this frame is (as in hsafe_coro_yield) */
    /* g->state is read alone (a volatile access): next stored it just
     * before the switch, and gcc would otherwise test it and the magic
     * with one 8-byte load, which the CPU cannot take from that 4-byte
     * store and so waits for the store to reach the cache (a fifth of a
     * next: gen_next_ns). */
    if (HSAFE__UNLIKELY(!g || g->magic != HSAFE__GEN_MAGIC ||
                        *(volatile const int *)&g->state != HSAFE__GEN_RUNNING ||
                        g->closing ||
                        HSAFE__FRAME_HERE(v) - (uintptr_t)g->co.stack_lo >= g->co.stack_size))
        hsafe__gen_yield_misuse(g);
    v = hsafe__coro_switch_out(&g->co, value);
    if (HSAFE__UNLIKELY(g->closing)) {
        g->closing = 2;
        v = 0;
    }
    if (in) *in = v;
    return g->closing ? HSAFE_ECANCELED : HSAFE_OK;
}

HSAFE__END_C
#endif /* HSAFE__API_GEN_H */
