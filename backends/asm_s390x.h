/* hsafe context backend: hand-written asm, IBM Z (s390x, the 64-bit
 * z/Architecture ELF ABI: Linux).
 *
 * Included by hsafe.h when core/target.h chooses the asm backend on
 * __s390x__. It implements the backend contract in
 * backends/interface.h; asm_x86_64_sysv.h is the reference design and this file follows
 * it step for step.
 *
 * ABI (ELF Application Binary Interface, s390x Supplement, "Function
 * Calling Sequence"):
 *   callee-saved   r6-r13, r15 (the stack pointer), f8-f15 (64 bits each);
 *                  r11 is the frame pointer when there is one, r12 the GOT
 *                  pointer in position-independent code.
 *   caller-saved   r0-r5, r14 (the return address), f0-f7, all of v0-v31
 *                  beyond the f8-f15 halves, the condition code.
 *   reserved       a0/a1 (the thread pointer): never switched, so a
 *                  coroutine resumed by another thread sees that thread's
 *                  TLS.
 *   FPC            the floating-point control register (rounding mode,
 *                  exception masks, flags): global state that only support
 *                  functions such as fesetround change.
 *   stack          r15 % 8 == 0; every caller reserves 160 bytes at 0(r15)
 *                  where its callees save their registers; nothing lives
 *                  below r15 (no red zone); 0(r15) holds the back chain
 *                  when the code keeps one (-mbackchain).
 *
 * Register table of one switch (hsafe__ctx_switch):
 *   r2             the value passed: in on entry, out on landing (fixed)
 *   r3, r4         save, to (fixed too; garbage after landing)
 *   r0, r1, r5-r10, r14, cc
 *                  declared clobbered: the compiler saves whichever of the
 *                  callee-saved ones are live, once per function
 *   f0-f15         declared clobbered, so f8-f15 are saved where live
 *   v16-v31        declared clobbered when the unit has the vector facility
 *                  (__VX__; v0-v15 are the f registers' wider halves)
 *   r11-r13        saved by the asm: the frame pointer, the GOT pointer and
 *                  the literal-pool base, which gcc may reserve in a
 *                  function and then refuses to let inline asm clobber
 *   FPC            saved by the asm only with HSAFE_ASM_SAVE_FPU (below)
 *   resume address saved by the asm (larl of label 1 of that switch site)
 *
 * Frame pushed by a switching side (ascending addresses from ctx->sp; 48
 * bytes below the switcher's r15, whose own 160-byte area it leaves alone):
 *
 *     sp+0    back chain (the switcher's r15)
 *     sp+8    resume address
 *     sp+16   r11
 *     sp+24   r12
 *     sp+32   r13
 *     sp+40   FPC (4 bytes; written only with HSAFE_ASM_SAVE_FPU)
 *
 * The switch lands with `br %r1`, never through r14 (the return-address
 * register), so it is predicted as an indirect branch, not a return.
 *
 * Floating-point control state (FPC):
 *   by default it belongs to the thread, as on x86_64: the switch does not
 *   touch it, so a mode set inside a coroutine is still set in its resumer
 *   after the yield.
 *   With HSAFE_ASM_SAVE_FPU defined (same in every translation unit) each
 *   context keeps its own FPC (control and flags alike, as MXCSR on x86_64):
 *   a new context starts with its creator's, and landing restores the
 *   target's with lfpc.
 */
#ifndef HSAFE__BACKEND_ASM_S390X_H
#define HSAFE__BACKEND_ASM_S390X_H

#define HSAFE__BACKEND_NAME "asm/s390x"
#define HSAFE__CTX_MIN_STACK 4096u

typedef struct hsafe__ctx { void *sp; } hsafe__ctx;
#define HSAFE__CTX_MOVABLE 1           /* a saved context is its stack pointer */

#if defined(HSAFE_ASM_SAVE_FPU)
#  define HSAFE__S390_FPU_SAVE "stfpc 40(%%r15)\n\t"
#  define HSAFE__S390_FPU_LOAD "lfpc 40(%%r15)\n\t"
#else
#  define HSAFE__S390_FPU_SAVE ""
#  define HSAFE__S390_FPU_LOAD ""
#endif

#if defined(__VX__)
#  define HSAFE__S390_VX_CLOBBERS , \
    "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", \
    "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31"
#else
#  define HSAFE__S390_VX_CLOBBERS
#endif

/* Save the running context into *save, continue *to, hand it v.
 * Returns the value passed by whoever switches back to *save. */
static inline __attribute__((always_inline)) uintptr_t
hsafe__ctx_switch(hsafe__ctx *save, hsafe__ctx *to, uintptr_t v)
{
    register uintptr_t r2 __asm__("r2") = v;
    register hsafe__ctx *r3 __asm__("r3") = save;
    register hsafe__ctx *r4 __asm__("r4") = to;
    __asm__ __volatile__(
        "lgr %%r0, %%r15\n\t"
        "aghi %%r15, -48\n\t"
        "stg %%r0, 0(%%r15)\n\t"        /* back chain                      */
        "stg %%r11, 16(%%r15)\n\t"
        "stg %%r12, 24(%%r15)\n\t"
        "stg %%r13, 32(%%r15)\n\t"
        HSAFE__S390_FPU_SAVE
        "larl %%r1, 1f\n\t"             /* where we continue               */
        "stg %%r1, 8(%%r15)\n\t"
        "stg %%r15, 0(%%r3)\n\t"        /* save->sp                        */
        "lg %%r15, 0(%%r4)\n\t"         /* to->sp: now on the other stack  */
        "lg %%r1, 8(%%r15)\n\t"
        "br %%r1\n"
        "1:\n\t"
        "lg %%r11, 16(%%r15)\n\t"
        "lg %%r12, 24(%%r15)\n\t"
        "lg %%r13, 32(%%r15)\n\t"
        HSAFE__S390_FPU_LOAD
        "la %%r15, 48(%%r15)\n\t"
        : "+r"(r2), "+r"(r3), "+r"(r4)
        :
        : "r0", "r1", "r5", "r6", "r7", "r8", "r9", "r10", "r14",
          "f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7",
          "f8", "f9", "f10", "f11", "f12", "f13", "f14", "f15",
          "cc", "memory" HSAFE__S390_VX_CLOBBERS);
    return r2;
}

#endif /* HSAFE__BACKEND_ASM_S390X_H */

/* ---- implementation half: compiled by the inclusion of hsafe.h that
 * defines HSAFE__IMPL (core/target.h). ---- */
#if defined(HSAFE__IMPL) && !defined(HSAFE__BACKEND_ASM_S390X_IMPL)
#define HSAFE__BACKEND_ASM_S390X_IMPL

/* First code a new context runs. The switch that enters it loaded the
 * resume address (this function) from the new stack and branched here
 * with r15 at the frame and r2 holding the value passed in. Initial frame
 * (224 bytes at the 16-aligned top of the stack):
 *
 *     sp+0    back chain = 0     sp+8    this function
 *     sp+16   r11 = 0            sp+24   r12 = 0
 *     sp+32   r13 = 0            sp+40   FPC of the creator
 *     sp+48   entry              sp+56   arg
 *     sp+64   the 160-byte register save area entry is called with (its
 *             back chain word 0 ends back-chain walks)
 *
 * It calls entry(r2, arg) with r15 = top - 160, r11 = 0 and r14 = 0;
 * `.cfi_undefined %r14` ends DWARF backtraces here. It is a top-level asm
 * function rather than a naked C one (gcc has no naked on s390). entry
 * never returns; the two zero bytes after the call are an invalid opcode. */
#if defined(HSAFE_ASM_SAVE_FPU)
#  define HSAFE__S390_TRAMP_FPU "lfpc 40(%r15)\n\t"
#else
#  define HSAFE__S390_TRAMP_FPU ""
#endif
__asm__(
    ".pushsection .text\n\t"
    ".p2align 3\n\t"
    HSAFE__ASM_GLOBAL("hsafe__s390x_trampoline")
    ".type hsafe__s390x_trampoline, @function\n"
    "hsafe__s390x_trampoline:\n\t"
    ".cfi_startproc\n\t"
    ".cfi_undefined %r14\n\t"
    HSAFE__S390_TRAMP_FPU
    "lg %r1, 48(%r15)\n\t"              /* entry                           */
    "lg %r3, 56(%r15)\n\t"              /* arg; r2 already holds the value */
    "la %r15, 64(%r15)\n\t"
    "lghi %r0, 0\n\t"
    "stg %r0, 0(%r15)\n\t"              /* back chain: the end             */
    "lghi %r11, 0\n\t"
    "lghi %r14, 0\n\t"
    "basr %r14, %r1\n\t"
    ".short 0\n\t"
    ".cfi_endproc\n\t"
    ".size hsafe__s390x_trampoline, .-hsafe__s390x_trampoline\n\t"
    ".popsection");

void hsafe__s390x_trampoline_(void) __asm__("hsafe__s390x_trampoline")
    __attribute__((visibility("hidden")));

static void hsafe__ctx_make(hsafe__ctx *ctx, void *lo, size_t size,
                            void (*entry)(uintptr_t, void *), void *arg)
{
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)(top - 224);
    uint32_t fpc;
    size_t i;
    __asm__ __volatile__("stfpc %0" : "=Q"(fpc));
    sp[0] = 0;
    sp[1] = (uint64_t)(uintptr_t)&hsafe__s390x_trampoline_;
    sp[2] = sp[3] = sp[4] = 0;                        /* r11, r12, r13 */
    sp[5] = (uint64_t)fpc << 32;                      /* big-endian: at sp+40 */
    sp[6] = (uint64_t)(uintptr_t)entry;
    sp[7] = (uint64_t)(uintptr_t)arg;
    for (i = 8; i < 28; i++) sp[i] = 0;
    ctx->sp = sp;
}

#endif /* HSAFE__IMPL */
