/* hsafe context backend: POSIX ucontext (getcontext/makecontext/swapcontext).
 *
 * Portable and slow: glibc's swapcontext makes an rt_sigprocmask system call
 * on every switch (switch_rt_ns.ucontext against .asm and .fcontext in the
 * performance table of README.md). Use it for debugging, for
 * targets without an asm backend, and under tools that understand
 * swapcontext. Included by hsafe.h when HSAFE__BACKEND_UCONTEXT is chosen.
 *
 * What is preserved: everything swapcontext saves (on glibc x86_64: the
 * callee-saved and argument registers, rsp, rip, the x87 environment, MXCSR
 * and the signal mask). The signal mask is per context: a coroutine that
 * blocks a signal keeps it blocked only while it runs.
 *
 * The value passed by a switch travels through the target's `xfer` field.
 */
#ifndef HSAFE__BACKEND_UCONTEXT_H
#define HSAFE__BACKEND_UCONTEXT_H

#include <ucontext.h>

#define HSAFE__BACKEND_NAME "ucontext"
#define HSAFE__CTX_MIN_STACK 8192u

typedef struct hsafe__ctx {
    ucontext_t uc;
    uintptr_t xfer;                       /* value handed to this context */
    void (*entry)(uintptr_t, void *);     /* first function, set by make */
    void *arg;
} hsafe__ctx;

static inline uintptr_t hsafe__ctx_switch(hsafe__ctx *save, hsafe__ctx *to, uintptr_t v)
{
    to->xfer = v;
    swapcontext(&save->uc, &to->uc);
    return save->xfer;
}

#endif /* HSAFE__BACKEND_UCONTEXT_H */

#if defined(HSAFE__IMPL) && !defined(HSAFE__BACKEND_UCONTEXT_IMPL)
#define HSAFE__BACKEND_UCONTEXT_IMPL

/* makecontext passes int arguments only; the context's address travels
 * as two 32-bit halves so this works on every data model. */
static void hsafe__uc_trampoline(unsigned hi, unsigned lo)
{
    hsafe__ctx *ctx = (hsafe__ctx *)(uintptr_t)(((uint64_t)hi << 32) | lo);
    ctx->entry(ctx->xfer, ctx->arg);
    abort(); /* entry never returns */
}

static void hsafe__ctx_make(hsafe__ctx *ctx, void *lo, size_t size,
                            void (*entry)(uintptr_t, void *), void *arg)
{
    uint64_t a = (uint64_t)(uintptr_t)ctx;
    /* hsafe accepts stacks of any alignment; some makecontext
     * implementations (glibc on arm) do not: hand it 16-byte aligned ends. */
    uintptr_t base = ((uintptr_t)lo + 15) & ~(uintptr_t)15;
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
    getcontext(&ctx->uc);
    ctx->uc.uc_stack.ss_sp = (void *)base;
    ctx->uc.uc_stack.ss_size = (size_t)(top - base);
    ctx->uc.uc_link = NULL;
    ctx->entry = entry;
    ctx->arg = arg;
    ctx->xfer = 0;
    makecontext(&ctx->uc, (void (*)(void))hsafe__uc_trampoline, 2,
                (unsigned)(a >> 32), (unsigned)a);
}

#endif /* HSAFE__IMPL */
