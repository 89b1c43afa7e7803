/* hsafe context backend: hand-written asm, i386 System V (Linux, BSD; cdecl).
 *
 * Included by hsafe.h when core/target.h chooses the asm backend on
 * __i386__ (ELF). It implements the backend contract in
 * backends/interface.h; asm_x86_64_sysv.h is the reference design and this file follows
 * it step for step.
 *
 * ABI (System V i386 psABI, "Function Calling Sequence"):
 *   callee-saved   ebx, esi, edi, ebp, esp; the control bits of MXCSR and
 *                  the x87 control word.
 *   caller-saved   eax, ecx, edx, the x87 register stack (empty at a call;
 *                  MMX aliases it), xmm0-7 (and ymm/zmm, k0-k7), flags.
 *   stack          16-byte aligned at a call (esp % 16 == 12 on entry);
 *                  arguments on the stack (cdecl); no red zone.
 *   PIC            position-independent code keeps the GOT address in a
 *                  register gcc chooses (usually ebx); gcc >= 5 and clang
 *                  spill and reload it around an asm that clobbers ebx.
 *
 * Register table of one switch (hsafe__ctx_switch):
 *   eax            the value passed: in on entry, out on landing (fixed)
 *   ecx, edx       save, to (fixed too; garbage after landing)
 *   ebx, esi, edi  declared clobbered: the compiler saves them where live,
 *                  once per function (esi carries the resume address)
 *   st(0)-st(7)    declared clobbered: the x87 stack is empty at a call,
 *                  but a unit built with x87 math (the i686 default) may
 *                  keep a value on it across an asm statement, and the two
 *                  sides share the one physical stack
 *   xmm0-7         declared clobbered when the unit uses SSE (__SSE__)
 *   ebp            saved by the asm: it may be the frame pointer, which
 *                  inline asm may not clobber
 *   x87 CW, MXCSR  saved by the asm only with HSAFE_ASM_SAVE_FPU (below)
 *   resume address saved by the asm: `movl $1f` in non-PIC code; in PIC
 *                  code (PIE is Debian's default) a local call/ret pair
 *                  reads eip, so there is no text relocation and the
 *                  return-address stack stays balanced
 *
 * Frame pushed by a switching side (ascending addresses from ctx->sp; 16
 * bytes):
 *
 *     sp+0    resume address
 *     sp+4    x87 control word (2 bytes) | pad  (with HSAFE_ASM_SAVE_FPU)
 *     sp+8    MXCSR (with HSAFE_ASM_SAVE_FPU and __SSE__)
 *     sp+12   ebp
 *
 * The switch lands with `jmp *%esi`, never `ret`. With
 * -fcf-protection=branch (__CET__ & 1) every landing point starts with
 * endbr32; shadow stacks (__CET__ & 2) are refused in hsafe.h as on x86_64.
 *
 * Floating-point control state (x87 control word: precision, rounding,
 * exception masks; MXCSR control bits):
 *   by default it belongs to the thread, as on x86_64: the switch does not
 *   touch it, so a mode set inside a coroutine is still set in its resumer
 *   after the yield.
 *   With HSAFE_ASM_SAVE_FPU defined (same in every translation unit) each
 *   context keeps its own x87 control word, and its own MXCSR when the
 *   units are built with SSE (-msse or a -march that implies it): a new
 *   context starts with its creator's, and landing restores the target's.
 *   Without __SSE__ the switch cannot assume the CPU has MXCSR (Debian's
 *   i386 baseline, i686, does not), so MXCSR then stays with the thread;
 *   glibc's fesetround sets both, so SSE code (libm's SSE2 variants) may
 *   then round differently from x87 code inside a coroutine that changed
 *   the mode.
 */
#ifndef HSAFE__BACKEND_ASM_I386_H
#define HSAFE__BACKEND_ASM_I386_H

#define HSAFE__BACKEND_NAME "asm/i386-sysv"
#define HSAFE__CTX_MIN_STACK 4096u

typedef struct hsafe__ctx { void *sp; } hsafe__ctx;
#define HSAFE__CTX_MOVABLE 1           /* a saved context is its stack pointer */

#if defined(HSAFE__CET_IBT)
#  define HSAFE__I386_ENDBR "endbr32\n\t"
#else
#  define HSAFE__I386_ENDBR ""
#endif

#if defined(HSAFE_ASM_SAVE_FPU) && defined(__SSE__)
#  define HSAFE__I386_FPU_SAVE "fnstcw (%%esp)\n\tstmxcsr 4(%%esp)\n\t"
#  define HSAFE__I386_FPU_LOAD "fldcw (%%esp)\n\tldmxcsr 4(%%esp)\n\t"
#elif defined(HSAFE_ASM_SAVE_FPU)
#  define HSAFE__I386_FPU_SAVE "fnstcw (%%esp)\n\t"
#  define HSAFE__I386_FPU_LOAD "fldcw (%%esp)\n\t"
#else
#  define HSAFE__I386_FPU_SAVE ""
#  define HSAFE__I386_FPU_LOAD ""
#endif

/* esi = address of label 1 (the landing point of this switch site). */
#if defined(__PIC__)
#  define HSAFE__I386_RESUME_ADDR \
    "call 9f\n"                         /* paired with the ret below       */ \
    "8:\n\t" \
    "addl $(1f-8b), %%esi\n\t"
#  define HSAFE__I386_PC_THUNK \
    "9:\n\t" \
    "movl (%%esp), %%esi\n\t" \
    "ret\n"
#else
#  define HSAFE__I386_RESUME_ADDR "movl $1f, %%esi\n\t"
#  define HSAFE__I386_PC_THUNK ""
#endif

#if defined(__SSE__)
#  define HSAFE__I386_SSE_CLOBBERS , \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7"
#else
#  define HSAFE__I386_SSE_CLOBBERS
#endif

/* Save the running context into *save, continue *to, hand it v.
 * Returns the value passed by whoever switches back to *save. */
static inline __attribute__((always_inline)) uintptr_t
hsafe__ctx_switch(hsafe__ctx *save, hsafe__ctx *to, uintptr_t v)
{
    __asm__ __volatile__(
        "pushl %%ebp\n\t"
        "leal -8(%%esp), %%esp\n\t"     /* FP control slot                 */
        HSAFE__I386_FPU_SAVE
        HSAFE__I386_RESUME_ADDR
        "pushl %%esi\n\t"               /* where we continue               */
        "movl %%esp, (%%ecx)\n\t"       /* save->sp                        */
        "movl (%%edx), %%esp\n\t"       /* to->sp: now on the other stack  */
        "popl %%esi\n\t"
        "jmp *%%esi\n"
        HSAFE__I386_PC_THUNK
        "1:\n\t"
        HSAFE__I386_ENDBR
        HSAFE__I386_FPU_LOAD
        "leal 8(%%esp), %%esp\n\t"
        "popl %%ebp\n\t"
        : "+a"(v), "+c"(save), "+d"(to)
        :
        : "ebx", "esi", "edi", "memory", "cc",
          "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)"
          HSAFE__I386_SSE_CLOBBERS);
    return v;
}

#endif /* HSAFE__BACKEND_ASM_I386_H */

/* ---- implementation half: compiled by the inclusion of hsafe.h that
 * defines HSAFE__IMPL (core/target.h). ---- */
#if defined(HSAFE__IMPL) && !defined(HSAFE__BACKEND_ASM_I386_IMPL)
#define HSAFE__BACKEND_ASM_I386_IMPL

/* First code a new context runs. The switch that enters it popped the
 * resume address (this function) and jumped here with esp at the FP
 * control slot and eax holding the value passed in. Initial frame (32
 * bytes at the 16-aligned top of the stack):
 *
 *     sp+0    this function      sp+4    x87 CW of the creator
 *     sp+8    MXCSR of the creator (0 without __SSE__)
 *     sp+12   ebp = 0            sp+16   entry       sp+20   arg
 *     sp+24..31  zero
 *
 * It calls entry(eax, arg) (cdecl: both on the stack) with esp 16-byte
 * aligned at the call and ebp = 0 (ends frame-pointer walks);
 * `.cfi_undefined eip` (DWARF register 8) ends DWARF backtraces here. It is
 * a top-level asm function rather than a naked C one, so its CFI does not
 * depend on the unit's unwind-table flags. entry never returns; ud2 traps
 * if it does. */
#if defined(HSAFE_ASM_SAVE_FPU) && defined(__SSE__)
#  define HSAFE__I386_TRAMP_FPU "fldcw (%esp)\n\tldmxcsr 4(%esp)\n\t"
#elif defined(HSAFE_ASM_SAVE_FPU)
#  define HSAFE__I386_TRAMP_FPU "fldcw (%esp)\n\t"
#else
#  define HSAFE__I386_TRAMP_FPU ""
#endif
#if defined(HSAFE__CET_IBT)
#  define HSAFE__I386_TRAMP_ENDBR "endbr32\n\t"
#else
#  define HSAFE__I386_TRAMP_ENDBR ""
#endif
__asm__(
    ".pushsection .text\n\t"
    ".p2align 4\n\t"
    HSAFE__ASM_GLOBAL("hsafe__i386_trampoline")
    ".type hsafe__i386_trampoline, @function\n"
    "hsafe__i386_trampoline:\n\t"
    ".cfi_startproc\n\t"
    ".cfi_undefined 8\n\t"
    HSAFE__I386_TRAMP_ENDBR
    HSAFE__I386_TRAMP_FPU
    "xorl %ebp, %ebp\n\t"
    "movl 12(%esp), %ecx\n\t"           /* entry                           */
    "movl 16(%esp), %edx\n\t"           /* arg                             */
    "leal 28(%esp), %esp\n\t"           /* the top of the stack            */
    "andl $-16, %esp\n\t"
    "subl $8, %esp\n\t"
    "pushl %edx\n\t"
    "pushl %eax\n\t"                    /* the value passed in             */
    "call *%ecx\n\t"
    "ud2\n\t"
    ".cfi_endproc\n\t"
    ".size hsafe__i386_trampoline, .-hsafe__i386_trampoline\n\t"
    ".popsection");

void hsafe__i386_trampoline_(void) __asm__("hsafe__i386_trampoline")
    __attribute__((visibility("hidden")));

static void hsafe__ctx_make(hsafe__ctx *ctx, void *lo, size_t size,
                            void (*entry)(uintptr_t, void *), void *arg)
{
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
    uint32_t *sp = (uint32_t *)(top - 32);
    uint32_t mxcsr = 0;
    uint16_t cw;
    __asm__ __volatile__("fnstcw %0" : "=m"(cw));
#if defined(__SSE__)
    __asm__ __volatile__("stmxcsr %0" : "=m"(mxcsr));
#endif
    sp[0] = (uint32_t)(uintptr_t)&hsafe__i386_trampoline_;
    sp[1] = cw;
    sp[2] = mxcsr;
    sp[3] = 0;                                        /* ebp */
    sp[4] = (uint32_t)(uintptr_t)entry;
    sp[5] = (uint32_t)(uintptr_t)arg;
    sp[6] = sp[7] = 0;
    ctx->sp = sp;
}

#endif /* HSAFE__IMPL */
