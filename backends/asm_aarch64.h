/* hsafe context backend: hand-written asm, AArch64 (AAPCS64, ELF: Linux, BSD).
 *
 * Included by hsafe.h when core/target.h chooses the asm backend on
 * __aarch64__ (LP64, not Windows, not Apple). It implements the internal
 * backend contract in backends/interface.h; asm_x86_64_sysv.h is the reference
 * design and this file follows it step for step.
 *
 * ABI (Procedure Call Standard for the Arm 64-bit Architecture, AAPCS64):
 *   callee-saved   x19-x28, x29 (frame pointer), sp, the low 64 bits of
 *                  v8-v15 (d8-d15). FPCR is "global" state that only
 *                  support functions (fesetround, ...) change.
 *   caller-saved   x0-x18 (x18 is a temporary on Linux), x30 (lr), v0-v7,
 *                  v16-v31 and the upper halves of v8-v15; with SVE every
 *                  z and p register beyond that, and FFR; NZCV; FPSR (the
 *                  cumulative exception flags).
 *   stack          sp % 16 == 0 at all times (the hardware checks it on
 *                  every sp-based access); no red zone on Linux.
 *
 * Register table of one switch (hsafe__ctx_switch):
 *   x0             the value passed: in on entry, out on landing (a fixed
 *                  register, so both ends of every switch agree on it)
 *   x1, x2         save, to (fixed too; garbage after landing)
 *   x3-x28, x30    declared clobbered: the compiler saves whichever of the
 *                  callee-saved ones (x19-x28, x30) are live, once per
 *                  function, in its own prologue
 *   v0-v31         declared clobbered (so d8-d15, and with SVE the whole
 *                  z8-z15, are saved by the compiler where live)
 *   p0-p15, ffr    declared clobbered when the unit is compiled with SVE
 *   x29            saved by the asm: it may be the frame pointer, which
 *                  inline asm may not clobber
 *   FPCR           saved by the asm only with HSAFE_ASM_SAVE_FPU (below)
 *   resume address saved by the asm (adr of label 1 of that switch site)
 *
 * Frame pushed by a switching side (ascending addresses from ctx->sp; 32
 * bytes, so sp stays 16-byte aligned):
 *
 *     sp+0    resume address
 *     sp+8    x29
 *     sp+16   FPCR (written only with HSAFE_ASM_SAVE_FPU)
 *     sp+24   unused
 *
 * The switch lands with `br`, never `ret`, so the return-address predictor
 * stays balanced. With branch protection (-mbranch-protection=bti, i.e.
 * __ARM_FEATURE_BTI_DEFAULT) every landing point starts with `bti j`
 * (hint #36, a no-op on cores without BTI). Return-address signing (pac-ret)
 * needs nothing: each function signs and authenticates lr against its own
 * sp, which the switch restores exactly.
 *
 * Floating-point control state (FPCR: rounding mode, exception trap
 * enables, flush-to-zero, default NaN):
 *   by default it belongs to the thread, as on x86_64 (see there for the
 *   cost argument): the switch does not touch it, so a mode set inside a
 *   coroutine is still set in its resumer after the yield. Code that changes
 *   it must restore it before it yields or returns.
 *   With HSAFE_ASM_SAVE_FPU defined (same in every translation unit) each
 *   context keeps its own FPCR: a new context starts with its creator's,
 *   and landing restores the target's. The write is skipped when the value
 *   is already right, because an FPCR write can synchronise the FP pipeline
 *   on some cores. FPSR (the sticky exception flags) is never switched: the
 *   AAPCS64 leaves it undefined across calls, and fetestexcept() after a
 *   resume sees the flags the coroutine raised, as after a call.
 *
 * Not switched, not supported: SME state (PSTATE.SM streaming mode, PSTATE.ZA
 * and TPIDR2_EL0). Switch only from non-streaming code with ZA off, which
 * is all code that does not opt into SME. Shadow call stacks (x18 as the
 * SCS pointer, -fsanitize=shadow-call-stack) are refused below.
 */
#ifndef HSAFE__BACKEND_ASM_AARCH64_H
#define HSAFE__BACKEND_ASM_AARCH64_H

#if defined(__ILP32__) || !defined(__LP64__)
#  error "hsafe: the aarch64 asm backend supports LP64 only; use HSAFE_BACKEND_UCONTEXT"
#endif
#if defined(__has_feature)
#  if __has_feature(shadow_call_stack)
#    error "hsafe: the aarch64 asm backend does not switch shadow call stacks (x18); use HSAFE_BACKEND_UCONTEXT"
#  endif
#endif

#define HSAFE__BACKEND_NAME "asm/aarch64"
#define HSAFE__CTX_MIN_STACK 4096u

typedef struct hsafe__ctx { void *sp; } hsafe__ctx;
#define HSAFE__CTX_MOVABLE 1           /* a saved context is its stack pointer */

#if defined(__ARM_FEATURE_BTI_DEFAULT)
#  define HSAFE__A64_BTI_J "hint #36\n\t"        /* bti j  */
#else
#  define HSAFE__A64_BTI_J ""
#endif

#if defined(HSAFE_ASM_SAVE_FPU)
#  define HSAFE__A64_FPU_SAVE "mrs x10, fpcr\n\tstr x10, [sp, #16]\n\t"
/* Load the saved FPCR; write it only if it differs from the current one. */
#  define HSAFE__A64_FPU_LOAD \
    "ldr x10, [sp, #16]\n\t" \
    "mrs x11, fpcr\n\t" \
    "cmp x10, x11\n\t" \
    "b.eq 2f\n\t" \
    "msr fpcr, x10\n" \
    "2:\n\t"
#else
#  define HSAFE__A64_FPU_SAVE ""
#  define HSAFE__A64_FPU_LOAD ""
#endif

#if defined(__ARM_FEATURE_SVE)
#  define HSAFE__A64_SVE_CLOBBERS , \
    "p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", \
    "p8", "p9", "p10", "p11", "p12", "p13", "p14", "p15", "ffr"
#else
#  define HSAFE__A64_SVE_CLOBBERS
#endif

/* Save the running context into *save, continue *to, hand it v.
 * Returns the value passed by whoever switches back to *save. */
static inline __attribute__((always_inline)) uintptr_t
hsafe__ctx_switch(hsafe__ctx *save, hsafe__ctx *to, uintptr_t v)
{
    register uintptr_t x0 __asm__("x0") = v;
    register hsafe__ctx *x1 __asm__("x1") = save;
    register hsafe__ctx *x2 __asm__("x2") = to;
    __asm__ __volatile__(
        "sub sp, sp, #32\n\t"
        HSAFE__A64_FPU_SAVE
        "adr x9, 1f\n\t"                /* where we continue               */
        "stp x9, x29, [sp]\n\t"
        "mov x9, sp\n\t"
        "str x9, [x1]\n\t"              /* save->sp                        */
        "ldr x9, [x2]\n\t"
        "mov sp, x9\n\t"                /* to->sp: now on the other stack  */
        "ldr x9, [sp]\n\t"
        "br x9\n"
        "1:\n\t"
        HSAFE__A64_BTI_J
        "ldr x29, [sp, #8]\n\t"
        HSAFE__A64_FPU_LOAD
        "add sp, sp, #32\n\t"
        : "+r"(x0), "+r"(x1), "+r"(x2)
        :
        : "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12",
          "x13", "x14", "x15", "x16", "x17", "x18", "x19", "x20", "x21",
          "x22", "x23", "x24", "x25", "x26", "x27", "x28", "x30",
          "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7",
          "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15",
          "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23",
          "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31",
          "memory", "cc" HSAFE__A64_SVE_CLOBBERS);
    return x0;
}

#endif /* HSAFE__BACKEND_ASM_AARCH64_H */

/* ---- implementation half: compiled by the inclusion of hsafe.h that
 * defines HSAFE__IMPL (core/target.h). ---- */
#if defined(HSAFE__IMPL) && !defined(HSAFE__BACKEND_ASM_AARCH64_IMPL)
#define HSAFE__BACKEND_ASM_AARCH64_IMPL

/* First code a new context runs. The switch that enters it loaded the
 * resume address (this function) from the new stack and branched here
 * with sp at the frame and x0 holding the value passed in. Initial frame
 * (64 bytes at the 16-aligned top T of the stack):
 *
 *     sp+0    this function      sp+8    x29 = 0
 *     sp+16   FPCR of the creator
 *     sp+32   entry              sp+40   arg
 *     sp+48   link: address of the resumer's hsafe__ctx      sp+56  zero
 *
 * It calls entry(x0, arg) with sp = T-16, so the link slot stays above
 * every frame of the coroutine while the context lives, x29 = 0 (ends
 * frame-pointer walks) and lr = 0. It is a top-level asm function, not a
 * naked C one: GCC ignores `naked` on AArch64, and this way the CFI does
 * not depend on the unwind-table flags of the unit. entry never returns;
 * brk traps if it does.
 *
 * Unwinding (gdb, backtrace(), perf --call-graph=dwarf): as on x86_64 (see
 * asm_x86_64_sysv.h), the CFI makes the trampoline's frame lead to the
 * resumer. The link slot points at the hsafe__ctx in which the current
 * resumer's switch saved its sp S (hsafe_coro.caller, set by
 * hsafe__ctx_link); that switch stored its resume address at S and x29 at
 * S+8, and its own sp was S+32. So:
 *     CFA = *(*(link slot)) + 32,  pc (x30 column) at CFA-32,
 *     x29 at CFA-24,  sp = CFA,
 * right for whoever resumed the coroutine last, with no instruction added
 * to the switch. x19-x28 and d8-d15 are declared clobbered by the switch,
 * so the resumer holds nothing in them there: they are undefined.
 * .cfi_signal_frame: gdb then accepts a caller frame at a lower address
 * (a coroutine stack in the resumer's caller's frame) and uses the
 * resumer's pc (label 1 of its switch) as is; gdb shows this frame as
 * "<signal handler called>". The brk after the call keeps the return
 * address inside this function's FDE.
 * Exceptions: the personality below makes a C++ exception that reaches
 * this frame call std::terminate, as it did when this frame ended the
 * stack, so it never unwinds into the resumer past the switch; a forced
 * unwind (pthread_exit, pthread_cancel) goes on, it ends the thread. */
#if defined(HSAFE_ASM_SAVE_FPU)
#  define HSAFE__A64_TRAMP_FPU "ldr x10, [sp, #16]\n\tmsr fpcr, x10\n\t"
#else
#  define HSAFE__A64_TRAMP_FPU ""
#endif
#include <unwind.h>
static _Unwind_Reason_Code hsafe__aarch64_tramp_personality(
    int version, _Unwind_Action actions, _Unwind_Exception_Class cls,
    struct _Unwind_Exception *ex, struct _Unwind_Context *ctx)
    __asm__("hsafe__aarch64_tramp_personality") __attribute__((used));
static _Unwind_Reason_Code hsafe__aarch64_tramp_personality(
    int version, _Unwind_Action actions, _Unwind_Exception_Class cls,
    struct _Unwind_Exception *ex, struct _Unwind_Context *ctx)
{
    (void)version; (void)cls; (void)ex; (void)ctx;
    if (actions & _UA_FORCE_UNWIND) return _URC_CONTINUE_UNWIND;
    return (actions & _UA_SEARCH_PHASE) ? _URC_FATAL_PHASE1_ERROR : _URC_FATAL_PHASE2_ERROR;
}
/* DW_CFA_def_cfa_expression, 6 bytes: DW_OP_breg31 (sp) <slot>,
 * DW_OP_deref, DW_OP_deref, DW_OP_plus_uconst 32. */
#define HSAFE__A64_TRAMP_CFA(slot) \
    ".cfi_escape 0x0f, 6, 0x8f, " slot ", 0x06, 0x06, 0x23, 0x20\n\t"
__asm__(
    ".pushsection .text\n\t"
    ".p2align 2\n\t"
    HSAFE__ASM_GLOBAL("hsafe__aarch64_trampoline")
    ".type hsafe__aarch64_trampoline, %function\n"
    "hsafe__aarch64_trampoline:\n\t"
    ".cfi_startproc\n\t"
    ".cfi_signal_frame\n\t"
    ".cfi_personality 0x1b, hsafe__aarch64_tramp_personality\n\t"
    HSAFE__A64_TRAMP_CFA("48")
    ".cfi_offset x30, -32\n\t"
    ".cfi_offset x29, -24\n\t"
    ".cfi_undefined x19\n\t.cfi_undefined x20\n\t.cfi_undefined x21\n\t"
    ".cfi_undefined x22\n\t.cfi_undefined x23\n\t.cfi_undefined x24\n\t"
    ".cfi_undefined x25\n\t.cfi_undefined x26\n\t.cfi_undefined x27\n\t"
    ".cfi_undefined x28\n\t"
    ".cfi_undefined d8\n\t.cfi_undefined d9\n\t.cfi_undefined d10\n\t"
    ".cfi_undefined d11\n\t.cfi_undefined d12\n\t.cfi_undefined d13\n\t"
    ".cfi_undefined d14\n\t.cfi_undefined d15\n\t"
    "hint #38\n\t"                      /* bti jc: reached by br            */
    HSAFE__A64_TRAMP_FPU
    "ldp x9, x1, [sp, #32]\n\t"         /* entry, arg; x0 holds the value  */
    "add sp, sp, #48\n\t"               /* T-16: the link slot stays above */
    HSAFE__A64_TRAMP_CFA("0")
    "mov x29, #0\n\t"
    "mov x30, #0\n\t"
    "blr x9\n\t"
    "brk #0x3e8\n\t"
    ".cfi_endproc\n\t"
    ".size hsafe__aarch64_trampoline, .-hsafe__aarch64_trampoline\n\t"
    ".popsection");

void hsafe__aarch64_trampoline_(void) __asm__("hsafe__aarch64_trampoline")
    __attribute__((visibility("hidden")));

static void hsafe__ctx_make(hsafe__ctx *ctx, void *lo, size_t size,
                            void (*entry)(uintptr_t, void *), void *arg)
{
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)(top - 64);
    uint64_t fpcr;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
    sp[0] = (uint64_t)(uintptr_t)&hsafe__aarch64_trampoline_;
    sp[1] = 0;                                        /* x29 */
    sp[2] = fpcr;
    sp[3] = 0;
    sp[4] = (uint64_t)(uintptr_t)entry;
    sp[5] = (uint64_t)(uintptr_t)arg;
    sp[6] = sp[7] = 0;                                /* link, pad */
    ctx->sp = sp;
}

/* Optional backend hook (HSAFE__CTX_HAS_LINK): tell a context made by
 * hsafe__ctx_make where its resumers save themselves, for the unwind
 * information above. Call before the first switch into ctx. */
#define HSAFE__CTX_HAS_LINK 1
static void hsafe__ctx_link(hsafe__ctx *ctx, hsafe__ctx *resumer)
{
    ((uint64_t *)ctx->sp)[6] = (uint64_t)(uintptr_t)&resumer->sp;
}

#endif /* HSAFE__IMPL */
