/* hsafe context backend: hand-written asm, RISC-V 64 (LP64D/LP64, ELF:
 * Linux, BSD).
 *
 * Included by hsafe.h when core/target.h chooses the asm backend on
 * __riscv with __riscv_xlen == 64. It implements the internal backend
 * contract in backends/interface.h; asm_x86_64_sysv.h is the reference design
 * and this file follows it step for step.
 *
 * ABI (RISC-V ELF psABI, "Register Convention"):
 *   callee-saved   s0-s11 (x8, x9, x18-x27; s0 is the frame pointer when
 *                  there is one), sp, fs0-fs11 (f8, f9, f18-f27) as wide as
 *                  the ABI's FP registers (64 bits for LP64D).
 *   caller-saved   ra, t0-t6, a0-a7, ft0-ft11, fa0-fa7, and the whole
 *                  vector state (v0-v31, vl, vtype, vxrm, vxsat).
 *   not allocatable gp (global pointer, set once by the startup code) and
 *                  tp (thread pointer): the switch leaves both alone, so a
 *                  coroutine resumed by another thread sees that thread's tp.
 *   fcsr           "must have thread storage duration" (C11 7.6 <fenv.h>):
 *                  thread state, not preserved per call.
 *   stack          sp % 16 == 0 at a call; no red zone.
 *
 * Register table of one switch (hsafe__ctx_switch):
 *   a0             the value passed: in on entry, out on landing (fixed)
 *   a1, a2         save, to (fixed too; garbage after landing)
 *   ra, t0-t6, a3-a7, s1-s11
 *                  declared clobbered: the compiler saves whichever of the
 *                  callee-saved ones are live, once per function
 *   f0-f31         declared clobbered when the unit has FP registers
 *                  (__riscv_flen), so fs0-fs11 are saved where live
 *   v0-v31         declared clobbered when the unit is built with V
 *   s0             saved by the asm: it may be the frame pointer, which
 *                  inline asm may not clobber
 *   frm            saved by the asm only with HSAFE_ASM_SAVE_FPU (below)
 *   resume address saved by the asm (lla of label 1 of that switch site)
 *
 * Frame pushed by a switching side (ascending addresses from ctx->sp; 32
 * bytes, so sp stays 16-byte aligned):
 *
 *     sp+0    resume address
 *     sp+8    s0
 *     sp+16   frm (written only with HSAFE_ASM_SAVE_FPU)
 *     sp+24   unused
 *
 * Landing: `jr t2`, an indirect jump through x7. The return-address stack
 * hint of jalr (RISC-V unprivileged spec, "Unconditional Jumps") treats x1
 * and x5 as link registers: a jump through ra or t0 is predicted as a
 * return and would pop the return-address stack. x7 is neither, so the
 * switch neither pushes nor pops it, and the trampoline calls through t1
 * (x6) for the same reason.
 *
 * Floating-point control state (frm, the dynamic rounding mode):
 *   by default it belongs to the thread, as on x86_64 and as the psABI says
 *   of fcsr: the switch does not touch it, so a mode set inside a coroutine
 *   is still set in its resumer after the yield.
 *   With HSAFE_ASM_SAVE_FPU defined (same in every translation unit) each
 *   context keeps its own frm: a new context starts with its creator's, and
 *   landing restores the target's (written only when it differs). fflags
 *   (the accrued exception flags) always belong to the thread.
 *
 * Not supported: the Zicfiss shadow stack and Zicfilp landing pads (hsafe.h
 * does not select this backend when the unit is built with them).
 */
#ifndef HSAFE__BACKEND_ASM_RISCV64_H
#define HSAFE__BACKEND_ASM_RISCV64_H

#define HSAFE__BACKEND_NAME "asm/riscv64"
#define HSAFE__CTX_MIN_STACK 4096u

typedef struct hsafe__ctx { void *sp; } hsafe__ctx;
#define HSAFE__CTX_MOVABLE 1           /* a saved context is its stack pointer */

#if defined(HSAFE_ASM_SAVE_FPU) && defined(__riscv_flen)
#  define HSAFE__RV_FPU_SAVE "frrm t3\n\tsd t3, 16(sp)\n\t"
/* Load the saved frm; write it only if it differs from the current one. */
#  define HSAFE__RV_FPU_LOAD \
    "ld t3, 16(sp)\n\t" \
    "frrm t4\n\t" \
    "beq t3, t4, 2f\n\t" \
    "fsrm t3\n" \
    "2:\n\t"
#else
#  define HSAFE__RV_FPU_SAVE ""
#  define HSAFE__RV_FPU_LOAD ""
#endif

#if defined(__riscv_flen)
#  define HSAFE__RV_FP_CLOBBERS , \
    "f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", \
    "f8", "f9", "f10", "f11", "f12", "f13", "f14", "f15", \
    "f16", "f17", "f18", "f19", "f20", "f21", "f22", "f23", \
    "f24", "f25", "f26", "f27", "f28", "f29", "f30", "f31"
#else
#  define HSAFE__RV_FP_CLOBBERS
#endif
#if defined(__riscv_vector)
#  define HSAFE__RV_V_CLOBBERS , \
    "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", \
    "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15", \
    "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", \
    "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31"
#else
#  define HSAFE__RV_V_CLOBBERS
#endif

/* Save the running context into *save, continue *to, hand it v.
 * Returns the value passed by whoever switches back to *save. */
static inline __attribute__((always_inline)) uintptr_t
hsafe__ctx_switch(hsafe__ctx *save, hsafe__ctx *to, uintptr_t v)
{
    register uintptr_t a0 __asm__("a0") = v;
    register hsafe__ctx *a1 __asm__("a1") = save;
    register hsafe__ctx *a2 __asm__("a2") = to;
    __asm__ __volatile__(
        "addi sp, sp, -32\n\t"
        HSAFE__RV_FPU_SAVE
        "lla t2, 1f\n\t"                /* where we continue               */
        "sd t2, 0(sp)\n\t"
        "sd s0, 8(sp)\n\t"
        "sd sp, 0(a1)\n\t"              /* save->sp                        */
        "ld sp, 0(a2)\n\t"              /* to->sp: now on the other stack  */
        "ld t2, 0(sp)\n\t"
        "jr t2\n"
        "1:\n\t"
        "ld s0, 8(sp)\n\t"
        HSAFE__RV_FPU_LOAD
        "addi sp, sp, 32\n\t"
        : "+r"(a0), "+r"(a1), "+r"(a2)
        :
        : "ra", "t0", "t1", "t2", "t3", "t4", "t5", "t6",
          "a3", "a4", "a5", "a6", "a7",
          "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11",
          "memory" HSAFE__RV_FP_CLOBBERS HSAFE__RV_V_CLOBBERS);
    return a0;
}

#endif /* HSAFE__BACKEND_ASM_RISCV64_H */

/* ---- implementation half: compiled by the inclusion of hsafe.h that
 * defines HSAFE__IMPL (core/target.h). ---- */
#if defined(HSAFE__IMPL) && !defined(HSAFE__BACKEND_ASM_RISCV64_IMPL)
#define HSAFE__BACKEND_ASM_RISCV64_IMPL

/* First code a new context runs. The switch that enters it loaded the
 * resume address (this function) from the new stack and jumped here with
 * sp at the frame and a0 holding the value passed in. Initial frame (64
 * bytes at the 16-aligned top of the stack):
 *
 *     sp+0    this function      sp+8    s0 = 0
 *     sp+16   frm of the creator
 *     sp+32   entry              sp+40   arg         sp+48..63  zero
 *
 * It calls entry(a0, arg) with sp at the top of the stack, s0 = 0 (ends
 * frame-pointer walks) and ra = 0; `.cfi_undefined ra` ends DWARF
 * backtraces here. It is a top-level asm function rather than a naked C
 * one, so its CFI does not depend on the unit's unwind-table flags (Debian's
 * riscv64 gcc emits no CFI by default). entry never returns. */
#if defined(HSAFE_ASM_SAVE_FPU) && defined(__riscv_flen)
#  define HSAFE__RV_TRAMP_FPU "ld t0, 16(sp)\n\tfsrm t0\n\t"
#else
#  define HSAFE__RV_TRAMP_FPU ""
#endif
__asm__(
    ".pushsection .text\n\t"
    ".p2align 2\n\t"
    HSAFE__ASM_GLOBAL("hsafe__riscv64_trampoline")
    ".type hsafe__riscv64_trampoline, @function\n"
    "hsafe__riscv64_trampoline:\n\t"
    ".cfi_startproc\n\t"
    ".cfi_undefined ra\n\t"
    HSAFE__RV_TRAMP_FPU
    "ld t1, 32(sp)\n\t"                 /* entry                           */
    "ld a1, 40(sp)\n\t"                 /* arg; a0 already holds the value */
    "addi sp, sp, 64\n\t"
    "li s0, 0\n\t"
    "li ra, 0\n\t"
    "jalr t1\n\t"
    "unimp\n\t"
    ".cfi_endproc\n\t"
    ".size hsafe__riscv64_trampoline, .-hsafe__riscv64_trampoline\n\t"
    ".popsection");

void hsafe__riscv64_trampoline_(void) __asm__("hsafe__riscv64_trampoline")
    __attribute__((visibility("hidden")));

static void hsafe__ctx_make(hsafe__ctx *ctx, void *lo, size_t size,
                            void (*entry)(uintptr_t, void *), void *arg)
{
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)(top - 64);
    uint64_t frm = 0;
#if defined(__riscv_flen)
    __asm__ __volatile__("frrm %0" : "=r"(frm));
#endif
    sp[0] = (uint64_t)(uintptr_t)&hsafe__riscv64_trampoline_;
    sp[1] = 0;                                        /* s0 */
    sp[2] = frm;
    sp[3] = 0;
    sp[4] = (uint64_t)(uintptr_t)entry;
    sp[5] = (uint64_t)(uintptr_t)arg;
    sp[6] = sp[7] = 0;
    ctx->sp = sp;
}

#endif /* HSAFE__IMPL */
