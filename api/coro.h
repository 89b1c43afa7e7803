/* api/coro.h - stackful coroutines: hsafe_coro_*.
 * Part of hsafe (the manual is hsafe.h). Public declarations; uses
 * core/base.h. The coroutine object and the inline resume and yield are
 * defined in core/coro.h, after the context backend they need.
 */
#ifndef HSAFE__API_CORO_H
#define HSAFE__API_CORO_H
HSAFE__BEGIN_C

/* Status of a coroutine, as returned by hsafe_coro_status() and by
 * hsafe_coro_resume() (which returns SUSPENDED or FINISHED). */
enum hsafe_coro_status {
    HSAFE_CORO_DEAD      = 0,   /* not initialised, or hsafe_coro_fini() done */
    HSAFE_CORO_SUSPENDED = 1,   /* created, or yielded: may be resumed */
    HSAFE_CORO_RUNNING   = 2,   /* running, or resuming another coroutine */
    HSAFE_CORO_FINISHED  = 3    /* its function returned */
};

typedef struct hsafe_coro hsafe_coro;

/* A coroutine's function. `first` is the value of the first resume; the
 * return value is handed to the last resume as its `out`. */
typedef uintptr_t (*hsafe_coro_fn)(hsafe_coro *co, uintptr_t first);

/* The coroutine object (struct hsafe_coro, core/coro.h) may live anywhere
 * (stack, heap, static) while the coroutine exists; its fields are
 * private. */

/* Smallest stack hsafe_coro_init accepts, in bytes. */
#define HSAFE_CORO_MIN_STACK ((size_t)HSAFE__CTX_MIN_STACK)

/* Prepare `co` to run fn on the given stack (lowest address `stack`,
 * `stack_size` bytes; any alignment). It starts suspended: the first
 * hsafe_coro_resume() calls fn. `user` is returned by hsafe_coro_user().
 * The stack must stay valid until the coroutine finishes or is finalised.
 * co must not be a coroutine that is running.
 * Errors: HSAFE_EINVAL (NULL co, stack or fn; stack_size below
 * HSAFE_CORO_MIN_STACK, or running past the end of the address space). */
HSAFE_API int hsafe_coro_init(hsafe_coro *co, void *stack, size_t stack_size,
                              hsafe_coro_fn fn, void *user);

/* Release what hsafe_coro_init registered (sanitizer and Valgrind stack
 * records) and wipe the saved context in `co` (with ucontext it holds
 * every register of the last switch). A suspended coroutine is abandoned
 * without unwinding: nothing on its stack runs again. Call it before
 * reusing or freeing the stack (which still holds what the coroutine
 * wrote: release it to a pool, or hsafe_wipe it).
 * Errors: HSAFE_EINVAL (NULL); HSAFE_ESTATE (the coroutine is running). */
HSAFE_API int hsafe_coro_fini(hsafe_coro *co);

/* Current status (enum hsafe_coro_status); HSAFE_CORO_DEAD for NULL. */
static inline int hsafe_coro_status(const hsafe_coro *co);

/* The `user` pointer given to hsafe_coro_init (NULL for NULL). */
static inline void *hsafe_coro_user(const hsafe_coro *co);

/* Resume a suspended coroutine with value `in`; returns when it yields
 * (HSAFE_CORO_SUSPENDED, *out = the yielded value) or returns from its
 * function (HSAFE_CORO_FINISHED, *out = its return value). out may be NULL;
 * on an error *out is set to 0.
 * Errors: HSAFE_EINVAL (NULL co, or never initialised); HSAFE_EFINISHED
 * (already finished); HSAFE_ESTATE (running: it is the caller, or one of
 * the caller's resumers). */
static inline int hsafe_coro_resume(hsafe_coro *co, uintptr_t in, uintptr_t *out);

/* From inside coroutine `co`: hand `value` to the resumer and suspend.
 * Returns the value of the next resume. Calling it from anywhere but co's
 * own stack while co runs is misuse and aborts with a message. */
static inline uintptr_t hsafe_coro_yield(hsafe_coro *co, uintptr_t value);

HSAFE__END_C
#endif /* HSAFE__API_CORO_H */
