/* hsafe context backend: hand-written asm, 64-bit PowerPC ELFv2 (ppc64le
 * Linux; also big-endian ELFv2 systems).
 *
 * Included by hsafe.h when core/target.h chooses the asm backend on
 * __powerpc64__ with _CALL_ELF == 2. It implements the internal backend
 * contract in backends/interface.h; asm_x86_64_sysv.h is the reference design
 * and this file follows it step for step.
 *
 * ABI (64-Bit ELF V2 ABI Specification, Power Architecture, chapter 2):
 *   callee-saved   r14-r31 (r31 is the frame pointer when there is one),
 *                  r1 (the stack pointer), f14-f31, v20-v31, cr2-cr4;
 *                  r2 (the TOC pointer) is restored by the caller after a
 *                  call that may leave the module, and is the same for
 *                  every function of one module.
 *   caller-saved   r0, r3-r12, f0-f13, v0-v19 (and all of vs0-vs63 beyond
 *                  the FPR halves of vs14-vs31), cr0, cr1, cr5-cr7, lr,
 *                  ctr, xer.
 *   reserved       r13 (the thread pointer): never switched, so a coroutine
 *                  resumed by another thread sees that thread's TLS.
 *   FPSCR          its rounding and exception-enable fields change only
 *                  through support functions such as fesetround.
 *   stack          r1 % 16 == 0; 0(r1) holds the back chain (the caller's
 *                  r1); the 288 bytes below r1 are a protected zone that a
 *                  function may use without moving r1 (compilers keep
 *                  saved registers there), so the switch skips them.
 *
 * Register table of one switch (hsafe__ctx_switch):
 *   r3             the value passed: in on entry, out on landing (fixed)
 *   r4, r5         save, to (fixed too; garbage after landing)
 *   r0, r6-r12, r14-r30, lr, ctr, xer, cr0-cr7
 *                  declared clobbered: the compiler saves whichever of the
 *                  callee-saved ones are live, once per function
 *   fr0-fr31, v0-v31
 *                  declared clobbered (with VSX these are all of vs0-vs63),
 *                  so f14-f31 and v20-v31 are saved where live
 *   r31            saved by the asm: it may be the frame pointer, which
 *                  inline asm may not clobber
 *   r2             saved by the asm: the two ends of a switch may lie in
 *                  different modules (a coroutine body in a shared library),
 *                  and the compiler may not be told that r2 changes
 *   FPSCR          saved by the asm only with HSAFE_ASM_SAVE_FPU (below)
 *   resume address saved by the asm (`bcl 20,31` + mflr: the form the
 *                  processor knows is not a call, so the link stack is left
 *                  alone)
 *
 * Frame pushed by a switching side with stdu (ascending addresses from
 * ctx->sp; 48 bytes plus the 288-byte protected zone, so r1 stays 16-byte
 * aligned and the back chain stays intact):
 *
 *     sp+0    back chain (the switcher's r1)
 *     sp+8    resume address
 *     sp+16   r31
 *     sp+24   r2
 *     sp+32   FPSCR (written only with HSAFE_ASM_SAVE_FPU)
 *     sp+48   288 bytes of the switcher's protected zone, left untouched
 *
 * The switch lands with mtctr + bctr (an indirect branch), never blr (a
 * return), so the link stack stays balanced.
 *
 * Floating-point control state (FPSCR):
 *   by default it belongs to the thread, as on x86_64: the switch does not
 *   touch it, so a mode set inside a coroutine is still set in its resumer
 *   after the yield.
 *   With HSAFE_ASM_SAVE_FPU defined (same in every translation unit) each
 *   context keeps its own FPSCR (control and sticky flags alike, as MXCSR
 *   on x86_64): a new context starts with its creator's, and landing
 *   restores the target's with mtfsf. VSCR (the vector saturation flag and
 *   non-Java mode) always belongs to the thread.
 */
#ifndef HSAFE__BACKEND_ASM_PPC64_H
#define HSAFE__BACKEND_ASM_PPC64_H

#if !defined(_CALL_ELF) || _CALL_ELF != 2
#  error "hsafe: the ppc64 asm backend supports the ELFv2 ABI only; use HSAFE_BACKEND_UCONTEXT"
#endif

#define HSAFE__BACKEND_NAME "asm/ppc64-elfv2"
#define HSAFE__CTX_MIN_STACK 4096u

typedef struct hsafe__ctx { void *sp; } hsafe__ctx;
#define HSAFE__CTX_MOVABLE 1           /* a saved context is its stack pointer */

#if defined(HSAFE_ASM_SAVE_FPU)
#  define HSAFE__PPC_FPU_SAVE "mffs 0\n\tstfd 0, 32(1)\n\t"
#  define HSAFE__PPC_FPU_LOAD "lfd 0, 32(1)\n\tmtfsf 0xff, 0\n\t"
#else
#  define HSAFE__PPC_FPU_SAVE ""
#  define HSAFE__PPC_FPU_LOAD ""
#endif

/* Save the running context into *save, continue *to, hand it v.
 * Returns the value passed by whoever switches back to *save. */
static inline __attribute__((always_inline)) uintptr_t
hsafe__ctx_switch(hsafe__ctx *save, hsafe__ctx *to, uintptr_t v)
{
    register uintptr_t r3 __asm__("r3") = v;
    register hsafe__ctx *r4 __asm__("r4") = save;
    register hsafe__ctx *r5 __asm__("r5") = to;
    __asm__ __volatile__(
        "stdu 1, -336(1)\n\t"           /* frame + protected zone          */
        "std 31, 16(1)\n\t"
        "std 2, 24(1)\n\t"
        HSAFE__PPC_FPU_SAVE
        "bcl 20, 31, 0f\n"
        "0:\n\t"
        "mflr 11\n\t"
        "addi 11, 11, 1f - 0b\n\t"      /* where we continue               */
        "std 11, 8(1)\n\t"
        "std 1, 0(4)\n\t"               /* save->sp                        */
        "ld 1, 0(5)\n\t"                /* to->sp: now on the other stack  */
        "ld 11, 8(1)\n\t"
        "mtctr 11\n\t"
        "bctr\n"
        "1:\n\t"
        "ld 31, 16(1)\n\t"
        "ld 2, 24(1)\n\t"
        HSAFE__PPC_FPU_LOAD
        "addi 1, 1, 336\n\t"
        : "+r"(r3), "+r"(r4), "+r"(r5)
        :
        : "r0", "r6", "r7", "r8", "r9", "r10", "r11", "r12",
          "r14", "r15", "r16", "r17", "r18", "r19", "r20", "r21", "r22",
          "r23", "r24", "r25", "r26", "r27", "r28", "r29", "r30",
          "fr0", "fr1", "fr2", "fr3", "fr4", "fr5", "fr6", "fr7",
          "fr8", "fr9", "fr10", "fr11", "fr12", "fr13", "fr14", "fr15",
          "fr16", "fr17", "fr18", "fr19", "fr20", "fr21", "fr22", "fr23",
          "fr24", "fr25", "fr26", "fr27", "fr28", "fr29", "fr30", "fr31",
          "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7",
          "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15",
          "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23",
          "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31",
          "cr0", "cr1", "cr2", "cr3", "cr4", "cr5", "cr6", "cr7",
          "lr", "ctr", "xer", "memory");
    return r3;
}

#endif /* HSAFE__BACKEND_ASM_PPC64_H */

/* ---- implementation half: compiled by the inclusion of hsafe.h that
 * defines HSAFE__IMPL (core/target.h). ---- */
#if defined(HSAFE__IMPL) && !defined(HSAFE__BACKEND_ASM_PPC64_IMPL)
#define HSAFE__BACKEND_ASM_PPC64_IMPL

/* First code a new context runs. The switch that enters it loaded the
 * resume address (this function) from the new stack and branched here
 * with bctr, with r1 at the frame and r3 holding the value passed in.
 * Initial frame (96 bytes at the 16-aligned top of the stack):
 *
 *     sp+0    back chain = 0     sp+8    this function
 *     sp+16   r31 = 0            sp+24   unused
 *     sp+32   FPSCR of the creator
 *     sp+48   entry              sp+56   arg
 *     sp+64   the 32-byte minimal frame entry is called with: back chain
 *             0 (ends back-chain walks), then the CR, LR and TOC save
 *             slots entry may write
 *
 * entry is called through its global entry point (r12 = its address, as
 * the ABI asks of an indirect call), so it sets up its own TOC pointer.
 * `.cfi_undefined lr` ends DWARF backtraces here. It is a top-level asm
 * function rather than a naked C one (gcc has no naked on PowerPC); it is
 * only ever branched to, never called, and needs no TOC of its own. entry
 * never returns; trap if it does. */
#if defined(HSAFE_ASM_SAVE_FPU)
#  define HSAFE__PPC_TRAMP_FPU "lfd 0, 32(1)\n\tmtfsf 0xff, 0\n\t"
#else
#  define HSAFE__PPC_TRAMP_FPU ""
#endif
__asm__(
    ".pushsection .text\n\t"
    ".p2align 4\n\t"
    HSAFE__ASM_GLOBAL("hsafe__ppc64_trampoline")
    ".type hsafe__ppc64_trampoline, @function\n"
    "hsafe__ppc64_trampoline:\n\t"
    ".cfi_startproc\n\t"
    ".cfi_undefined lr\n\t"
    HSAFE__PPC_TRAMP_FPU
    "ld 12, 48(1)\n\t"                  /* entry                           */
    "ld 4, 56(1)\n\t"                   /* arg; r3 already holds the value */
    "addi 1, 1, 64\n\t"
    "li 0, 0\n\t"
    "std 0, 0(1)\n\t"                   /* back chain: the end             */
    "li 31, 0\n\t"
    "mtlr 0\n\t"
    "mtctr 12\n\t"
    "bctrl\n\t"
    "trap\n\t"
    ".cfi_endproc\n\t"
    ".size hsafe__ppc64_trampoline, .-hsafe__ppc64_trampoline\n\t"
    ".popsection");

void hsafe__ppc64_trampoline_(void) __asm__("hsafe__ppc64_trampoline")
    __attribute__((visibility("hidden")));

static void hsafe__ctx_make(hsafe__ctx *ctx, void *lo, size_t size,
                            void (*entry)(uintptr_t, void *), void *arg)
{
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)(top - 96);
    double fpscr;
    uint64_t bits;
    __asm__ __volatile__("mffs %0" : "=d"(fpscr));
    memcpy(&bits, &fpscr, sizeof bits);
    sp[0] = 0;
    sp[1] = (uint64_t)(uintptr_t)&hsafe__ppc64_trampoline_;
    sp[2] = 0;                                        /* r31 */
    sp[3] = 0;
    sp[4] = bits;
    sp[5] = 0;
    sp[6] = (uint64_t)(uintptr_t)entry;
    sp[7] = (uint64_t)(uintptr_t)arg;
    sp[8] = sp[9] = sp[10] = sp[11] = 0;
    ctx->sp = sp;
}

#endif /* HSAFE__IMPL */
