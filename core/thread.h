/* core/thread.h - the one thread-local root of all of hsafe's per-thread
 * state, and the preparation of a thread for hsafe's stacks (the OS
 * layer's fault handler and alternate signal stack, with the core's hooks).
 * Part of hsafe (the manual is hsafe.h). Implementation only; uses the OS
 * layer (os/interface.h) and core/hooks.h.
 */
#if defined(HSAFE__IMPL) && !defined(HSAFE__THREAD_IMPL)
#define HSAFE__THREAD_IMPL 1

struct hsafe__run;

/* Everything hsafe keeps per thread; zero is the initial state. */
typedef struct hsafe__thread {
    hsafe__os_thread os;            /* the OS layer's (passed to it) */
    struct hsafe__run *run;         /* innermost sanitized run, or NULL */
    hsafe_loop *loop;               /* the loop running on this thread
                                       (tasks/sched.h), or NULL */
    hsafe_pool *pool;               /* hsafe_thread_pool(), once made */
    struct hsafe_gen *gen;          /* innermost running generator (core/gen.h) */
} hsafe__thread;

static __thread hsafe__thread hsafe__tls;

/* The hooks, defined in core/run.h and core/overflow.h. */
static void hsafe__run_on_abort(void);
static int hsafe__find_overflow(uintptr_t addr, uintptr_t sp, int forced, hsafe__overflow *out);

/* This thread is about to use hsafe's stacks. Cheap after the first call. */
static void hsafe__thread_prepare(void)
{
    static const hsafe__os_hooks hooks = { hsafe__run_on_abort, hsafe__find_overflow };
    hsafe__os_thread_prepare(&hsafe__tls.os, &hooks);
}

#if defined(HSAFE__CTX_NEEDS_FLOOR)
/* For a context backend that must know where a stack's allocation starts
 * (backends/interface.h): the OS layer mapped it, the OS layer knows. */
static uintptr_t hsafe__ctx_stack_floor(uintptr_t lo) { return hsafe__os_stack_floor(lo); }
#endif

#endif /* HSAFE__IMPL */
