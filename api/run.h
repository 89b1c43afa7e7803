/* api/run.h - sanitized runs: hsafe_run*, hsafe_panic, cleanup handlers,
 * the in-place mode and hsafe_maybe_grow.
 * Part of hsafe (the manual is hsafe.h). Public declarations; uses
 * core/base.h and api/pool.h.
 */
#ifndef HSAFE__API_RUN_H
#define HSAFE__API_RUN_H
HSAFE__BEGIN_C

typedef uintptr_t (*hsafe_run_fn)(void *arg);

/* Run flags (hsafe_run_ex). */
#define HSAFE_RUN_BLOCK_SIGNALS 0x1u  /* block asynchronous signals during the
                                         run, so no signal frame lands on it */
#define HSAFE_RUN_CATCH_ABORT   0x2u  /* abort() inside the run (a failed
                                         assert, say) ends the run like
                                         hsafe_panic("abort() called inside
                                         the run") instead of the process.
                                         Installs a process-wide SIGABRT
                                         handler on first use that passes
                                         every other abort on unchanged.
                                         The innermost run decides: an
                                         abort inside a nested run without
                                         this flag ends the process. */

/* Filled by hsafe_run_ex. */
typedef struct hsafe_run_info {
    uintptr_t result;       /* fn's return value (0 after a panic) */
    size_t stack_used;      /* deepest non-zero byte the run left, from the top */
    char message[256];      /* the panic message, or "" */
} hsafe_run_info;

/* Run fn(arg) on a stack from `pool`; afterwards every byte it wrote on
 * that stack is wiped and the scratch registers are cleared before this
 * returns. *result (may be NULL) gets fn's return value.
 * Returns HSAFE_OK, HSAFE_EPANIC (fn called hsafe_panic), or the errors of
 * hsafe_pool_acquire; HSAFE_EINVAL for NULL pool or fn. */
HSAFE_API int hsafe_run(hsafe_pool *pool, hsafe_run_fn fn, void *arg, uintptr_t *result);

/* hsafe_run with flags (HSAFE_RUN_*) and details in *info (may be NULL). */
HSAFE_API int hsafe_run_ex(hsafe_pool *pool, hsafe_run_fn fn, void *arg,
                           unsigned flags, hsafe_run_info *info);

/* Inside a run: end it now. The message (printf format) goes to the run's
 * info; cleanup handlers run in reverse order; the stack is wiped; the run
 * returns HSAFE_EPANIC. Outside a run it is misuse: it prints the message
 * and aborts. It ends the innermost run of the thread: called from a
 * coroutine that the run resumed on another stack, it abandons that
 * coroutine, which stays RUNNING (its stack is the caller's to wipe).
 * In a task (api/task.h) with no run nested in it, it ends the task
 * instead (its children are cancelled and joined first). */
#if defined(HSAFE__PRINTF_GNU)   /* mingw gcc: its "printf" format is msvcrt's */
HSAFE_API void hsafe_panic(const char *fmt, ...)
    __attribute__((noreturn, format(gnu_printf, 1, 2)));
#else
HSAFE_API void hsafe_panic(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));
#endif

/* A cleanup handler record; lives on the run's stack, in the frame that
 * pushes it. */
typedef struct hsafe_cleanup {
    void (*fn)(void *);
    void *arg;
    struct hsafe_cleanup *next;
} hsafe_cleanup;

/* Inside a run: register fn(arg) to run if the run panics, or when it
 * returns with the handler still registered. Handlers run newest first.
 * Inside a task (api/task.h), with no run nested in it, the same for the
 * task.
 * Outside a run it is misuse and aborts. A record still registered when
 * the run's function returns must outlive that function (static, heap, or
 * the caller's stack passed in through arg); one left in a frame on the
 * run's stack is misuse and aborts: pop it before returning. */
HSAFE_API void hsafe_cleanup_push(hsafe_cleanup *c, void (*fn)(void *), void *arg);

/* Unregister the newest handler, which must be c; run it if execute != 0.
 * Popping out of order or outside a run is misuse and aborts. */
HSAFE_API void hsafe_cleanup_pop(hsafe_cleanup *c, int execute);

/* In-place mode: call fn(arg) on the current stack, then zero scrub_bytes
 * of stack below this call's frame (where fn's frames were) and clear the
 * scratch registers. scrub_bytes must cover fn's deepest use and fit in the
 * current stack. Returns fn's result. scrub_bytes above HSAFE_MAX_STACK_SIZE
 * or above what remains of the current stack is misuse and aborts. */
HSAFE_API uintptr_t hsafe_run_inplace(hsafe_run_fn fn, void *arg, size_t scrub_bytes);

/* Bytes left between the stack pointer and the end of the current stack
 * (a pooled stack inside a run or a task, else the thread's stack); 0 if
 * unknown or
 * already past the end. With an unlimited RLIMIT_STACK the main thread's
 * stack counts as 256 MiB below its top (glibc would report terabytes of
 * address space that no program can fill). */
HSAFE_API size_t hsafe_stack_remaining(void);

/* Like Rust's stacker::maybe_grow: if at least `red_zone` bytes remain on
 * the current stack, call fn(arg) directly (returns HSAFE_OK); otherwise
 * run it as hsafe_run(pool, fn, arg, result) would, on a fresh pooled
 * stack that is wiped afterwards. Errors: those of hsafe_run. */
HSAFE_API int hsafe_maybe_grow(hsafe_pool *pool, size_t red_zone, hsafe_run_fn fn,
                               void *arg, uintptr_t *result);
HSAFE__END_C
#endif /* HSAFE__API_RUN_H */
