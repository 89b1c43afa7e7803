/* hsafe context backend: hand-written asm, 32-bit Arm (AAPCS, ELF: Linux
 * armhf/armel, BSD), ARMv6 and later, in ARM or Thumb-2 state.
 *
 * Included by hsafe.h when core/target.h chooses the asm backend on
 * __arm__ (not Thumb-1-only cores). It implements the internal backend
 * contract in backends/interface.h; asm_x86_64_sysv.h is the reference design
 * and this file follows it step for step.
 *
 * ABI (Procedure Call Standard for the Arm Architecture, AAPCS, with the
 * VFP variant on armhf):
 *   callee-saved   r4-r11, sp (r9 is an ordinary callee-saved register on
 *                  Linux; r7 is the frame pointer in Thumb code, r11 in ARM
 *                  code), d8-d15 (s16-s31) when there is an FPU.
 *   caller-saved   r0-r3, r12 (ip), r14 (lr), d0-d7, d16-d31, APSR flags,
 *                  the FPSCR status bits (NZCV, cumulative exceptions, QC).
 *   FPSCR          "global" state: the control bits (exception enables,
 *                  rounding mode, flush-to-zero, default NaN) change only
 *                  through support functions such as fesetround.
 *   stack          sp % 8 == 0 at a public interface, sp % 4 == 0 always;
 *                  no red zone.
 *
 * Register table of one switch (hsafe__ctx_switch):
 *   r0             the value passed: in on entry, out on landing (fixed)
 *   r1, r2         save, to (fixed too; garbage after landing)
 *   r3-r6, r8-r10, r12, lr, and r11 (Thumb) or r7 (ARM)
 *                  declared clobbered: the compiler saves whichever of the
 *                  callee-saved ones are live, once per function
 *   d0-d31         declared clobbered when the unit has an FPU (__ARM_FP),
 *                  so d8-d15 are saved where live (naming d16-d31 is
 *                  harmless on a D16 unit, and no macro tells D16 from D32)
 *   r7 (Thumb) / r11 (ARM)
 *                  saved by the asm: the frame pointer of the state the
 *                  unit is compiled for, which inline asm may not clobber
 *   FPSCR          saved by the asm only with HSAFE_ASM_SAVE_FPU (below)
 *   resume address saved by the asm (adr of label 1 of that switch site,
 *                  with bit 0 set in Thumb code)
 *
 * Frame pushed by a switching side (ascending addresses from ctx->sp; 16
 * bytes, so sp stays 8-byte aligned):
 *
 *     sp+0    resume address (bit 0 = Thumb state)
 *     sp+4    r7 (Thumb) or r11 (ARM)
 *     sp+8    FPSCR (written only with HSAFE_ASM_SAVE_FPU)
 *     sp+12   unused
 *
 * ARM and Thumb: the switch is inlined into code of either state, and the
 * two ends of one switch may differ (a coroutine body built -marm resumed
 * from a -mthumb unit). The resume address carries the state in bit 0 and
 * the switch lands with `bx`, which interworks; `bx` through r3 (not lr) is
 * predicted as an indirect branch, not a return, so the return-address
 * stack stays balanced. The trampoline is assembled in the unit's state.
 *
 * Floating-point control state (FPSCR):
 *   by default it belongs to the thread, as on x86_64: the switch does not
 *   touch it, so a mode set inside a coroutine is still set in its resumer
 *   after the yield.
 *   With HSAFE_ASM_SAVE_FPU defined (same in every translation unit) each
 *   context keeps its own FPSCR, written on landing only when it differs
 *   (VMSR FPSCR serialises the FP unit on many cores). Control and status
 *   share the register, so the cumulative exception flags travel with the
 *   context too, as MXCSR's do on x86_64. A new context starts with its
 *   creator's FPSCR.
 */
#ifndef HSAFE__BACKEND_ASM_ARM_H
#define HSAFE__BACKEND_ASM_ARM_H

#if defined(__thumb__) && !defined(__thumb2__)
#  error "hsafe: the arm asm backend needs ARM or Thumb-2 code, not Thumb-1"
#endif

#if defined(__thumb__)
#  define HSAFE__BACKEND_NAME "asm/arm-thumb2"
#else
#  define HSAFE__BACKEND_NAME "asm/arm"
#endif
#define HSAFE__CTX_MIN_STACK 4096u

typedef struct hsafe__ctx { void *sp; } hsafe__ctx;
#define HSAFE__CTX_MOVABLE 1           /* a saved context is its stack pointer */

/* The frame pointer of this unit's state, and the other of r7/r11. */
#if defined(__thumb__)
#  define HSAFE__ARM_FP "r7"
#  define HSAFE__ARM_NOTFP "r11"
#  define HSAFE__ARM_THUMB_BIT "orr r3, r3, #1\n\t"
#else
#  define HSAFE__ARM_FP "r11"
#  define HSAFE__ARM_NOTFP "r7"
#  define HSAFE__ARM_THUMB_BIT ""
#endif

#if defined(HSAFE_ASM_SAVE_FPU) && defined(__ARM_FP)
#  define HSAFE__ARM_FPU_SAVE "vmrs r12, fpscr\n\tstr r12, [sp, #8]\n\t"
/* Load the saved FPSCR; write it only if it differs from the current one. */
#  define HSAFE__ARM_FPU_LOAD \
    "ldr r12, [sp, #8]\n\t" \
    "vmrs r3, fpscr\n\t" \
    "cmp r3, r12\n\t" \
    "beq 2f\n\t" \
    "vmsr fpscr, r12\n" \
    "2:\n\t"
#else
#  define HSAFE__ARM_FPU_SAVE ""
#  define HSAFE__ARM_FPU_LOAD ""
#endif

#if defined(__ARM_FP)
#  define HSAFE__ARM_VFP_CLOBBERS , \
    "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", \
    "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15", \
    "d16", "d17", "d18", "d19", "d20", "d21", "d22", "d23", \
    "d24", "d25", "d26", "d27", "d28", "d29", "d30", "d31"
#else
#  define HSAFE__ARM_VFP_CLOBBERS
#endif

/* clang warns about naming d16-d31 in a -mfpu=*-d16 unit ("reserved
 * registers"); it cannot tell us which units are D32 (no macro does), and
 * naming a register the unit cannot use is harmless, so silence it here. */
#if defined(__clang__)
#  define HSAFE__ARM_D32_PUSH _Pragma("clang diagnostic push") \
    _Pragma("clang diagnostic ignored \"-Winline-asm\"")
#  define HSAFE__ARM_D32_POP _Pragma("clang diagnostic pop")
#else
#  define HSAFE__ARM_D32_PUSH
#  define HSAFE__ARM_D32_POP
#endif

/* Save the running context into *save, continue *to, hand it v.
 * Returns the value passed by whoever switches back to *save. */
HSAFE__ARM_D32_PUSH
static inline __attribute__((always_inline)) uintptr_t
hsafe__ctx_switch(hsafe__ctx *save, hsafe__ctx *to, uintptr_t v)
{
    register uintptr_t r0 __asm__("r0") = v;
    register hsafe__ctx *r1 __asm__("r1") = save;
    register hsafe__ctx *r2 __asm__("r2") = to;
    __asm__ __volatile__(
        "sub sp, sp, #16\n\t"
        HSAFE__ARM_FPU_SAVE
        "adr r3, 1f\n\t"                /* where we continue               */
        HSAFE__ARM_THUMB_BIT
        "str r3, [sp]\n\t"
        "str " HSAFE__ARM_FP ", [sp, #4]\n\t"
        "mov r3, sp\n\t"
        "str r3, [r1]\n\t"              /* save->sp                        */
        "ldr r3, [r2]\n\t"
        "mov sp, r3\n\t"                /* to->sp: now on the other stack  */
        "ldr r3, [sp]\n\t"
        "bx r3\n"
        "1:\n\t"
        "ldr " HSAFE__ARM_FP ", [sp, #4]\n\t"
        HSAFE__ARM_FPU_LOAD
        "add sp, sp, #16\n\t"
        : "+r"(r0), "+r"(r1), "+r"(r2)
        :
        : "r3", "r4", "r5", "r6", HSAFE__ARM_NOTFP, "r8", "r9", "r10", "r12", "lr",
          "memory", "cc" HSAFE__ARM_VFP_CLOBBERS);
    return r0;
}
HSAFE__ARM_D32_POP

#endif /* HSAFE__BACKEND_ASM_ARM_H */

/* ---- implementation half: compiled by the inclusion of hsafe.h that
 * defines HSAFE__IMPL (core/target.h). ---- */
#if defined(HSAFE__IMPL) && !defined(HSAFE__BACKEND_ASM_ARM_IMPL)
#define HSAFE__BACKEND_ASM_ARM_IMPL

/* First code a new context runs. The switch that enters it loaded the
 * resume address (this function, bit 0 set if it is Thumb code) from the
 * new stack and branched here with `bx`, with sp at the frame and r0
 * holding the value passed in. Initial frame (32 bytes at the 8-aligned
 * top of the stack):
 *
 *     sp+0    this function      sp+4    frame pointer = 0
 *     sp+8    FPSCR of the creator
 *     sp+16   entry              sp+20   arg         sp+24..31  zero
 *
 * It calls entry(r0, arg) with sp at the top of the stack, r7 = r11 = 0
 * (ends frame-pointer walks) and lr = 0. `.cfi_undefined lr` ends DWARF
 * backtraces and `.cantunwind` ends EHABI unwinding (the unwinder Arm's
 * libgcc uses) here. It is a top-level asm function rather than a naked C
 * one, so its unwind tables do not depend on the unit's flags (gcc emits
 * CFI on Arm only with -g). entry never returns; udf traps if it does. */
#if defined(HSAFE_ASM_SAVE_FPU) && defined(__ARM_FP)
#  define HSAFE__ARM_TRAMP_FPU "ldr r3, [sp, #8]\n\tvmsr fpscr, r3\n\t"
#else
#  define HSAFE__ARM_TRAMP_FPU ""
#endif
#if defined(__thumb__)
#  define HSAFE__ARM_TRAMP_STATE ".thumb\n\t.thumb_func\n\t"
#else
#  define HSAFE__ARM_TRAMP_STATE ".arm\n\t"
#endif
__asm__(
    ".pushsection .text\n\t"
    ".syntax unified\n\t"
    ".p2align 2\n\t"
    HSAFE__ASM_GLOBAL("hsafe__arm_trampoline")
    ".type hsafe__arm_trampoline, %function\n\t"
    HSAFE__ARM_TRAMP_STATE
    "hsafe__arm_trampoline:\n\t"
    ".fnstart\n\t"
    ".cantunwind\n\t"
    ".cfi_startproc\n\t"
    ".cfi_undefined lr\n\t"
    HSAFE__ARM_TRAMP_FPU
    "ldr r3, [sp, #16]\n\t"             /* entry                           */
    "ldr r1, [sp, #20]\n\t"             /* arg; r0 already holds the value */
    "add sp, sp, #32\n\t"
    "mov r7, #0\n\t"
    "mov r11, #0\n\t"
    "mov lr, #0\n\t"
    "blx r3\n\t"
    "udf #0\n\t"
    ".cfi_endproc\n\t"
    ".fnend\n\t"
    ".size hsafe__arm_trampoline, .-hsafe__arm_trampoline\n\t"
    ".popsection");

void hsafe__arm_trampoline_(void) __asm__("hsafe__arm_trampoline")
    __attribute__((visibility("hidden")));

static void hsafe__ctx_make(hsafe__ctx *ctx, void *lo, size_t size,
                            void (*entry)(uintptr_t, void *), void *arg)
{
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
    uint32_t *sp = (uint32_t *)(top - 32);
    uint32_t fpscr = 0;
#if defined(__ARM_FP)
    __asm__ __volatile__("vmrs %0, fpscr" : "=r"(fpscr));
#endif
    sp[0] = (uint32_t)(uintptr_t)&hsafe__arm_trampoline_;
    sp[1] = 0;                                        /* r7 / r11 */
    sp[2] = fpscr;
    sp[3] = 0;
    sp[4] = (uint32_t)(uintptr_t)entry;
    sp[5] = (uint32_t)(uintptr_t)arg;
    sp[6] = sp[7] = 0;
    ctx->sp = sp;
}

#endif /* HSAFE__IMPL */
