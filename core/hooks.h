/* core/hooks.h - what the OS layer and the core exchange: the kinds of
 * stack overflow, the stack a fault overflowed, and the hooks the core
 * hands the OS layer (the OS layer never reads a pool or a run).
 * Part of hsafe (the manual is hsafe.h; the contract is os/interface.h).
 * Private declarations; uses core/base.h.
 */
#ifndef HSAFE__HOOKS_H
#define HSAFE__HOOKS_H

/* What the OS layer needs from the core, as plain data and hooks the core
 * hands it (hsafe__os_thread_prepare); the OS layer never reads a pool. */
enum hsafe__overflow_kind {
    HSAFE__OVF_NONE = 0,
    HSAFE__OVF_GUARD,               /* the fault is in the stack's guard */
    HSAFE__OVF_BELOW,               /* at most HSAFE__OVF_NEAR below the guard */
    HSAFE__OVF_NO_FRAME             /* the kernel could not fit a signal frame */
};
typedef struct hsafe__overflow {
    uintptr_t lo, size;             /* the stack that overflowed */
    int kind;                       /* enum hsafe__overflow_kind */
    const char *what;               /* "a sanitized run", "a coroutine" */
} hsafe__overflow;
typedef struct hsafe__os_hooks {
    /* SIGABRT (or the CRT's abort): ends the current run if it catches
     * aborts, and then does not return. */
    void (*on_abort)(void);
    /* A fault at addr, the interrupted stack pointer sp (0: unknown);
     * forced: the kernel's own SIGSEGV for a signal frame that did not fit.
     * Async-signal-safe. Returns the kind, with the stack in *out. */
    int (*find_overflow)(uintptr_t addr, uintptr_t sp, int forced, hsafe__overflow *out);
} hsafe__os_hooks;

#endif /* HSAFE__HOOKS_H */
