/* hsafe context backend: Boost.Context fcontext, linked from the system
 * library (Debian: libboost-context-dev, link with -lboost_context).
 *
 * hsafe declares the three C-linkage entry points itself; no Boost source or
 * header is used. Their contract (Boost.Context "fcontext" C API):
 *   make_fcontext(sp, size, fn)  prepares a context whose stack top is sp
 *                                (highest address) and which runs fn(t);
 *   jump_fcontext(to, data)      suspends the running context, resumes `to`
 *                                and hands it `data`; returns, when someone
 *                                jumps back, {that someone's context, data}.
 * Boost's assembly saves the callee-saved registers of the ABI and the FP
 * control words (MXCSR and x87 CW on x86_64, FPCR on aarch64).
 *
 * hsafe's interface is symmetric (save here, continue there), so each jump
 * carries a small message on the jumper's stack naming the hsafe__ctx to
 * store the jumper's fcontext into, and the value.
 */
#ifndef HSAFE__BACKEND_FCONTEXT_H
#define HSAFE__BACKEND_FCONTEXT_H

#define HSAFE__BACKEND_NAME "fcontext"
#define HSAFE__CTX_MIN_STACK 4096u

typedef void *hsafe__fcontext_t;
typedef struct hsafe__fc_transfer { hsafe__fcontext_t fctx; void *data; } hsafe__fc_transfer;

#ifdef __cplusplus
extern "C" {
#endif
hsafe__fc_transfer jump_fcontext(hsafe__fcontext_t const to, void *vp);
hsafe__fcontext_t make_fcontext(void *sp, size_t size, void (*fn)(hsafe__fc_transfer));
#ifdef __cplusplus
}
#endif

typedef struct hsafe__ctx {
    hsafe__fcontext_t fctx;
    void (*entry)(uintptr_t, void *);   /* first function, set by make */
    void *arg;
} hsafe__ctx;

typedef struct hsafe__fc_msg { hsafe__ctx *from, *to; uintptr_t value; } hsafe__fc_msg;

static inline uintptr_t hsafe__ctx_switch(hsafe__ctx *save, hsafe__ctx *to, uintptr_t v)
{
    hsafe__fc_msg out;
    hsafe__fc_transfer t;
    hsafe__fc_msg *in;
    out.from = save;
    out.to = to;
    out.value = v;
    t = jump_fcontext(to->fctx, &out);
    in = (hsafe__fc_msg *)t.data;
    in->from->fctx = t.fctx;            /* where the jumper can be resumed */
    return in->value;
}

#endif /* HSAFE__BACKEND_FCONTEXT_H */

#if defined(HSAFE__IMPL) && !defined(HSAFE__BACKEND_FCONTEXT_IMPL)
#define HSAFE__BACKEND_FCONTEXT_IMPL

/* First code of a new context: record where the jumper continues, then
 * call the entry with the value it passed. */
static void hsafe__fc_trampoline(hsafe__fc_transfer t)
{
    hsafe__fc_msg *in = (hsafe__fc_msg *)t.data;
    hsafe__ctx *self = in->to;
    in->from->fctx = t.fctx;
    self->entry(in->value, self->arg);
    abort(); /* entry never returns */
}

static void hsafe__ctx_make(hsafe__ctx *ctx, void *lo, size_t size,
                            void (*entry)(uintptr_t, void *), void *arg)
{
    /* 64 bytes of headroom: unwinders (gdb) read a little above the frame
     * make_fcontext builds at the top; without it that read may fall into
     * whatever is mapped above the stack (a guard) and end the walk with an
     * error instead of at make_fcontext. */
    uintptr_t top = ((uintptr_t)lo + size - 64) & ~(uintptr_t)15;
    ctx->entry = entry;
    ctx->arg = arg;
    ctx->fctx = make_fcontext((void *)top, top - (uintptr_t)lo, hsafe__fc_trampoline);
}

#endif /* HSAFE__IMPL */
