/* hsafe context backend: hand-written asm, x86_64 System V (Linux, BSD).
 *
 * Included by hsafe.h when core/target.h chooses it (asm on x86_64
 * outside Windows). It implements the contract in backends/interface.h.
 *
 * ABI (System V AMD64 psABI 1.0, section 3.2):
 *   callee-saved   rbx, rbp, r12-r15, rsp; the control bits of MXCSR and
 *                  the x87 control word.
 *   caller-saved   rax, rcx, rdx, rsi, rdi, r8-r11, xmm0-15 (and xmm16-31,
 *                  k0-k7 with AVX-512), x87 stack (empty at calls), flags.
 *   stack          16-byte aligned at a call, so rsp % 16 == 8 on entry;
 *                  128-byte red zone below rsp that leaf code may use.
 *
 * Design: the switch is inline asm that the compiler inlines at both ends
 * (resume and yield). Instead of saving every callee-saved register, the asm
 * declares them clobbered, so the compiler saves only what is live across
 * the switch, once per function rather than once per switch. The asm itself
 * saves what it cannot declare: rbp (it may be the frame pointer), the FP
 * control words and the address to continue at. It lands with an indirect
 * jmp, never a ret, so the return-stack predictor stays balanced.
 *
 * Frame pushed by a switching side (ascending addresses from ctx->sp):
 *
 *     sp+0    resume address (label 1 of that switch site)
 *     sp+8    rbp
 *     sp+16   MXCSR (4 bytes) | x87 control word (2 bytes) | pad; written
 *             only with HSAFE_ASM_SAVE_FPU
 *     sp+24   128 bytes of the switcher's red zone, left untouched
 *
 * Floating-point control state (MXCSR control bits, x87 control word):
 *   by default it belongs to the thread, not to the coroutine: the switch
 *   does not touch it, so a rounding mode or exception mask set inside a
 *   coroutine is still set in its resumer after the yield. Code that changes
 *   it must restore it before it yields or returns, as it must before any
 *   function returns under the ABI. Reason: stmxcsr/fnstcw/ldmxcsr/fldcw
 *   cost several times the whole switch (README.md, performance table:
 *   diag.switch_ratio.asm_savefpu_vs_asm). libco, minicoro and
 *   corosensei make the same choice.
 *   With HSAFE_ASM_SAVE_FPU defined (same in every translation unit) each
 *   context keeps its own control state, as Boost.Context does: a new
 *   context starts with its creator's state, and a switch restores the
 *   target's. Unlike Boost, the status flags (MXCSR bits 0-5) stay the
 *   thread's, and the restore is skipped when the control bits already
 *   match (see HSAFE__X86_FPU_LOAD). Both behaviours are tested
 *   (tests/test_coro_fpu.c).
 *
 * CET: with -fcf-protection=branch (__CET__ & 1) every landing point starts
 * with endbr64. Shadow stacks (__CET__ & 2) are not switched by this
 * backend; hsafe.h refuses to select it then (see the selection block).
 */
#ifndef HSAFE__BACKEND_ASM_X86_64_SYSV_H
#define HSAFE__BACKEND_ASM_X86_64_SYSV_H

#define HSAFE__BACKEND_NAME "asm/x86_64-sysv"
#define HSAFE__CTX_MIN_STACK 4096u

typedef struct hsafe__ctx { void *sp; } hsafe__ctx;
#define HSAFE__CTX_MOVABLE 1           /* a saved context is its stack pointer */

#if defined(HSAFE__CET_IBT)
#  define HSAFE__X86_ENDBR "endbr64\n\t"
#else
#  define HSAFE__X86_ENDBR ""
#endif

/* HSAFE_ASM_SAVE_FPU: what is kept per context is the control state
 * (MXCSR bits 6-15: DAZ, exception masks, rounding, FTZ; the x87 control
 * word), not the six sticky status flags (MXCSR bits 0-5), which stay the
 * thread's: the switch never changes them, so fetestexcept() after a switch
 * sees every exception raised on this thread since the last feclearexcept,
 * in whichever context. Two reasons. The flags are not "state" a context
 * could rely on (any call may raise them). And restoring them made the
 * switch slow: a resumer that did one inexact division has MXCSR.PE set
 * and its coroutine does not, so a full restore changes MXCSR at every
 * switch, which costs tens of ns on Intel cores (docs/fpu-state.md).
 * So: the leaving side saves MXCSR and the CW in its slot and leaves the
 * current ones in ecx and r8d (declared clobbered). The landing side
 * compares its saved control bits with those and reloads only what
 * differs: ldmxcsr with its control bits and the current flags (ecx & 0x3f),
 * fldcw with its saved CW (the CW has no status bits; the x87 status word is
 * not touched). In the common case (no context changed its mode) neither
 * ldmxcsr nor fldcw runs; each is a serializing-class instruction that
 * costs more than the whole rest of the switch. */
#if defined(HSAFE_ASM_SAVE_FPU)
#  define HSAFE__X86_FPU_SAVE \
    "stmxcsr (%%rsp)\n\tfnstcw 4(%%rsp)\n\t" \
    "movl (%%rsp), %%ecx\n\tmovzwl 4(%%rsp), %%r8d\n\t"
#  define HSAFE__X86_FPU_LOAD(off) \
    "movl " off "(%%rsp), %%eax\n\t" \
    "xorl %%ecx, %%eax\n\t" \
    "testl $0xffffffc0, %%eax\n\t"   /* control bits differ?           */ \
    "jz 2f\n\t" \
    "xorl %%ecx, %%eax\n\t"          /* saved MXCSR again               */ \
    "andl $0xffffffc0, %%eax\n\t" \
    "andl $0x3f, %%ecx\n\t" \
    "orl %%ecx, %%eax\n\t"           /* saved control | current flags   */ \
    "movl %%eax, " off "(%%rsp)\n\t" \
    "ldmxcsr " off "(%%rsp)\n" \
    "2:\n\t" \
    "movzwl " off "+4(%%rsp), %%eax\n\t" \
    "cmpl %%r8d, %%eax\n\t" \
    "je 3f\n\t" \
    "fldcw " off "+4(%%rsp)\n" \
    "3:\n\t"
#else
#  define HSAFE__X86_FPU_SAVE ""
#  define HSAFE__X86_FPU_LOAD(off) ""
#endif

/* Registers the switch leaves holding the other side's values. */
#if defined(__AVX512F__)
#  define HSAFE__X86_VEC_CLOBBERS \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", \
    "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", \
    "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", \
    "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", \
    "k1", "k2", "k3", "k4", "k5", "k6", "k7"
#else
#  define HSAFE__X86_VEC_CLOBBERS \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", \
    "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"
#endif

/* Save the running context into *save, continue *to, hand it v.
 * Returns the value passed by whoever switches back to *save. */
static inline __attribute__((always_inline)) uintptr_t
hsafe__ctx_switch(hsafe__ctx *save, hsafe__ctx *to, uintptr_t v)
{
    __asm__ __volatile__(
        "leaq -136(%%rsp), %%rsp\n\t"   /* red zone + FP control slot      */
        HSAFE__X86_FPU_SAVE
        "pushq %%rbp\n\t"
        "leaq 1f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"               /* where we continue               */
        "movq %%rsp, (%%rsi)\n\t"       /* save->sp                        */
        "movq (%%rdx), %%rsp\n\t"       /* to->sp: now on the other stack  */
        "popq %%rax\n\t"
        "jmpq *%%rax\n"
        "1:\n\t"
        HSAFE__X86_ENDBR
        "popq %%rbp\n\t"
        HSAFE__X86_FPU_LOAD("0")
        "leaq 136(%%rsp), %%rsp\n\t"
        : "+D"(v), "+S"(save), "+d"(to)
        :
        : "rax", "rbx", "rcx", "r8", "r9", "r10", "r11", "r12", "r13",
          "r14", "r15", "memory", "cc", HSAFE__X86_VEC_CLOBBERS,
          "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)");
    return v;
}

#endif /* HSAFE__BACKEND_ASM_X86_64_SYSV_H */

/* ---- implementation half: compiled by the inclusion of hsafe.h that
 * defines HSAFE__IMPL (core/target.h). ---- */
#if defined(HSAFE__IMPL) && !defined(HSAFE__BACKEND_ASM_X86_64_SYSV_IMPL)
#define HSAFE__BACKEND_ASM_X86_64_SYSV_IMPL

/* First code a new context runs. The switch that enters it popped the
 * resume address (this function) and jumped here with rsp at the rbp slot
 * and rdi holding the value passed in. Initial frame (hsafe__ctx_make),
 * 16-byte aligned top T:
 *     T-64  sp+0   this function          T-32  sp+32  arg
 *     T-56  sp+8   rbp (0)                T-24  sp+40  link: address of the
 *     T-48  sp+16  FP control                          resumer's hsafe__ctx
 *     T-40  sp+24  entry                  T-16, T-8    0
 * The trampoline calls entry(value, arg) with rsp = T-64 (aligned), so
 * everything above stays in place while the context lives.
 *
 * Unwinding (gdb, backtrace(), perf --call-graph=dwarf): the CFI below
 * makes the trampoline's frame lead to the resumer, corosensei-style. The
 * link slot points at the hsafe__ctx in which the current resumer's switch
 * saved its stack pointer S (hsafe_coro.caller, set by hsafe__ctx_link);
 * that switch pushed, from S up: its resume address, rbp, the FP control
 * slot and 128 bytes of red zone, so the resumer's own rsp was S+152. So:
 *     CFA = *(*(link slot)) + 152,  rip at CFA-152,  rbp at CFA-144,
 * which is right for whoever resumed the coroutine last, because every
 * resume stores S there anew; no instruction is added to the switch. rbx
 * and r12-r15 are declared clobbered by the switch, so the resumer holds
 * nothing in them there: they are described as undefined.
 * .cfi_signal_frame: gdb refuses a caller frame at a lower address than its
 * callee ("previous frame inner to this frame") unless the callee is a
 * signal frame, and a coroutine stack may lie above its resumer's (a stack
 * in the resumer's caller's frame); gdb shows this frame as
 * "<signal handler called>" and uses the resumer's pc as is. The ud2 after
 * the call keeps the return address inside this function's FDE.
 * Exceptions: a C++ exception or forced unwind that reaches this frame
 * stops here as it did before the link (std::terminate for a throw, see
 * hsafe__x86_64_tramp_personality), so it never unwinds into the resumer
 * past the switch. Without CFI directives (-fno-asynchronous-unwind-tables
 * and no -g) none of this is emitted. */
#if defined(HSAFE_ASM_SAVE_FPU)
/* As HSAFE__X86_FPU_LOAD (the switch that entered left the current MXCSR
 * in ecx and CW in r8d): the creator's control bits, the current flags. */
#  define HSAFE__X86_TRAMP_FPU \
    "movl 8(%rsp), %eax\n\t" \
    "xorl %ecx, %eax\n\t" \
    "testl $0xffffffc0, %eax\n\t" \
    "jz 2f\n\t" \
    "xorl %ecx, %eax\n\t" \
    "andl $0xffffffc0, %eax\n\t" \
    "andl $0x3f, %ecx\n\t" \
    "orl %ecx, %eax\n\t" \
    "movl %eax, 8(%rsp)\n\t" \
    "ldmxcsr 8(%rsp)\n" \
    "2:\n\t" \
    "movzwl 12(%rsp), %eax\n\t" \
    "cmpl %r8d, %eax\n\t" \
    "je 3f\n\t" \
    "fldcw 12(%rsp)\n" \
    "3:\n\t"
#else
#  define HSAFE__X86_TRAMP_FPU ""
#endif
#if defined(__GCC_HAVE_DWARF2_CFI_ASM)
#  include <unwind.h>
/* The personality of the trampoline's frame. Phase 1 of a throw asks every
 * frame whether it handles the exception; the answer here is "fatal", so
 * _Unwind_RaiseException fails and __cxa_throw calls std::terminate, as it
 * did when the trampoline ended the stack. A forced unwind (pthread_exit,
 * pthread_cancel) is let through: it ends the thread anyway. */
static _Unwind_Reason_Code hsafe__x86_64_tramp_personality(
    int version, _Unwind_Action actions, _Unwind_Exception_Class cls,
    struct _Unwind_Exception *ex, struct _Unwind_Context *ctx)
    __asm__("hsafe__x86_64_tramp_personality") __attribute__((used));
static _Unwind_Reason_Code hsafe__x86_64_tramp_personality(
    int version, _Unwind_Action actions, _Unwind_Exception_Class cls,
    struct _Unwind_Exception *ex, struct _Unwind_Context *ctx)
{
    (void)version; (void)cls; (void)ex; (void)ctx;
    if (actions & _UA_FORCE_UNWIND) return _URC_CONTINUE_UNWIND;
    return (actions & _UA_SEARCH_PHASE) ? _URC_FATAL_PHASE1_ERROR : _URC_FATAL_PHASE2_ERROR;
}
/* DW_CFA_def_cfa_expression: DW_OP_breg7 (rsp) <slot>, DW_OP_deref,
 * DW_OP_deref, DW_OP_plus_uconst 152 (uleb128 0x98 0x01). */
#  define HSAFE__X86_TRAMP_CFA(slot) \
    ".cfi_escape 0x0f, 7, 0x77, " slot ", 0x06, 0x06, 0x23, 0x98, 0x01\n\t"
#  define HSAFE__X86_TRAMP_CFI \
    ".cfi_signal_frame\n\t" \
    ".cfi_personality 0x1b, hsafe__x86_64_tramp_personality\n\t" \
    HSAFE__X86_TRAMP_CFA("32") \
    ".cfi_offset 16, -152\n\t"          /* rip */ \
    ".cfi_offset 6, -144\n\t"           /* rbp */ \
    ".cfi_undefined 3\n\t.cfi_undefined 12\n\t.cfi_undefined 13\n\t" \
    ".cfi_undefined 14\n\t.cfi_undefined 15\n\t"
#else
#  define HSAFE__X86_TRAMP_CFA(slot) ""
#  define HSAFE__X86_TRAMP_CFI ""
#endif
__attribute__((naked, used)) static void hsafe__x86_64_trampoline(void)
{
    __asm__ __volatile__(
        HSAFE__X86_TRAMP_CFI
        HSAFE__X86_ENDBR
        HSAFE__X86_TRAMP_FPU
        "xorl %ebp, %ebp\n\t"
        "movq 16(%rsp), %rax\n\t"       /* entry                          */
        "movq 24(%rsp), %rsi\n\t"       /* arg; rdi already holds value   */
        "leaq -8(%rsp), %rsp\n\t"       /* T-56 -> T-64: aligned for call */
        HSAFE__X86_TRAMP_CFA("40")
        "callq *%rax\n\t"
        "ud2\n\t");
}

static void hsafe__ctx_make(hsafe__ctx *ctx, void *lo, size_t size,
                            void (*entry)(uintptr_t, void *), void *arg)
{
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)(top - 64);
    sp[0] = (uint64_t)(uintptr_t)&hsafe__x86_64_trampoline;
    sp[1] = 0;                                        /* rbp */
#if defined(HSAFE_ASM_SAVE_FPU)
    {   /* the creator's control state, for the trampoline; without
         * HSAFE_ASM_SAVE_FPU nothing reads the slot, and stmxcsr alone
         * costs ~6 ns on AMD Zen 4, a third of a spawn */
        uint32_t mxcsr;
        uint16_t cw;
        __asm__ __volatile__("stmxcsr %0\n\tfnstcw %1" : "=m"(mxcsr), "=m"(cw));
        sp[2] = (uint64_t)mxcsr | ((uint64_t)cw << 32);
    }
#else
    sp[2] = 0;
#endif
    sp[3] = (uint64_t)(uintptr_t)entry;
    sp[4] = (uint64_t)(uintptr_t)arg;
    sp[5] = sp[6] = sp[7] = 0;
    ctx->sp = sp;
}

/* Optional backend hook (HSAFE__CTX_HAS_LINK): tell a context made by
 * hsafe__ctx_make where its resumers save themselves, for the unwind
 * information above. Call before the first switch into ctx. */
#define HSAFE__CTX_HAS_LINK 1
static void hsafe__ctx_link(hsafe__ctx *ctx, hsafe__ctx *resumer)
{
    ((uint64_t *)ctx->sp)[5] = (uint64_t)(uintptr_t)&resumer->sp;
}

#endif /* HSAFE__IMPL */
