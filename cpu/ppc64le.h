/* hsafe CPU support: 64-bit PowerPC (ppc64le; any ELFv2 system).
 * Implementation only (cpu/interface.h is the contract).
 *
 * Provides what the sanitized run needs from the processor:
 *   hsafe__cpu_init()            nothing to detect: the unit's own target
 *                                (POWER8 and VSX for every ppc64le build)
 *                                says which register files exist;
 *   hsafe__cpu_clear_scratch()   zero every register that can still hold
 *                                the run's data after the switch back:
 *                                r0, r3-r12, r14-r30 (all general
 *                                registers but r1, the TOC pointer r2, the
 *                                thread pointer r13 and r31, the frame
 *                                pointer), lr, ctr, xer, cr0-cr7, and
 *                                vs0-vs63 (= f0-f31 and v0-v31) with VSX,
 *                                else f0-f31 and, with AltiVec, v0-v31.
 * Why r14-r30 too: after the switch back they hold the run's values (the
 * switch declares them clobbered; the compiler restores the resumer's in its
 * epilogue), and any call before that epilogue could spill them.
 * Not cleared: FPSCR and VSCR (control and sticky flags, not data).
 * It must be inlined into the function that did the switch: an out-of-line
 * call would push the run's callee-saved registers onto our stack.
 */
#if defined(HSAFE__IMPL) && !defined(HSAFE__CPU_PPC64_H)
#define HSAFE__CPU_PPC64_H 1

#define HSAFE__CPU_NAME "ppc64"

static void hsafe__cpu_init(void) {}

static const char *hsafe__cpu_regs_desc(void)
{
#if defined(__VSX__)
    return "gpr,lr,ctr,xer,cr,vs0-63";
#elif defined(__ALTIVEC__)
    return "gpr,lr,ctr,xer,cr,f0-31,v0-31";
#else
    return "gpr,lr,ctr,xer,cr,f0-31";
#endif
}

#define HSAFE__PPC_CPU_FPR_CLOBBERS \
    "fr0", "fr1", "fr2", "fr3", "fr4", "fr5", "fr6", "fr7", \
    "fr8", "fr9", "fr10", "fr11", "fr12", "fr13", "fr14", "fr15", \
    "fr16", "fr17", "fr18", "fr19", "fr20", "fr21", "fr22", "fr23", \
    "fr24", "fr25", "fr26", "fr27", "fr28", "fr29", "fr30", "fr31"
#define HSAFE__PPC_CPU_VR_CLOBBERS \
    "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", \
    "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15", \
    "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", \
    "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31"

#define HSAFE__PPC_X4(op, a, b, c, d) \
    op " " #a "," #a "," #a "\n\t" op " " #b "," #b "," #b "\n\t" \
    op " " #c "," #c "," #c "\n\t" op " " #d "," #d "," #d "\n\t"

static inline __attribute__((always_inline)) void hsafe__cpu_clear_scratch(void)
{
#if defined(__VSX__)
    __asm__ __volatile__(
        HSAFE__PPC_X4("xxlxor", 0, 1, 2, 3)     HSAFE__PPC_X4("xxlxor", 4, 5, 6, 7)
        HSAFE__PPC_X4("xxlxor", 8, 9, 10, 11)   HSAFE__PPC_X4("xxlxor", 12, 13, 14, 15)
        HSAFE__PPC_X4("xxlxor", 16, 17, 18, 19) HSAFE__PPC_X4("xxlxor", 20, 21, 22, 23)
        HSAFE__PPC_X4("xxlxor", 24, 25, 26, 27) HSAFE__PPC_X4("xxlxor", 28, 29, 30, 31)
        HSAFE__PPC_X4("xxlxor", 32, 33, 34, 35) HSAFE__PPC_X4("xxlxor", 36, 37, 38, 39)
        HSAFE__PPC_X4("xxlxor", 40, 41, 42, 43) HSAFE__PPC_X4("xxlxor", 44, 45, 46, 47)
        HSAFE__PPC_X4("xxlxor", 48, 49, 50, 51) HSAFE__PPC_X4("xxlxor", 52, 53, 54, 55)
        HSAFE__PPC_X4("xxlxor", 56, 57, 58, 59) HSAFE__PPC_X4("xxlxor", 60, 61, 62, 63)
        ::: HSAFE__PPC_CPU_FPR_CLOBBERS, HSAFE__PPC_CPU_VR_CLOBBERS);
#else
    /* f0 = +0.0 through the protected zone below r1, then copied. */
    __asm__ __volatile__(
        "li 0, 0\n\tstd 0, -8(1)\n\tlfd 0, -8(1)\n\t"
        "fmr 1, 0\n\tfmr 2, 0\n\tfmr 3, 0\n\tfmr 4, 0\n\tfmr 5, 0\n\tfmr 6, 0\n\t"
        "fmr 7, 0\n\tfmr 8, 0\n\tfmr 9, 0\n\tfmr 10, 0\n\tfmr 11, 0\n\tfmr 12, 0\n\t"
        "fmr 13, 0\n\tfmr 14, 0\n\tfmr 15, 0\n\tfmr 16, 0\n\tfmr 17, 0\n\tfmr 18, 0\n\t"
        "fmr 19, 0\n\tfmr 20, 0\n\tfmr 21, 0\n\tfmr 22, 0\n\tfmr 23, 0\n\tfmr 24, 0\n\t"
        "fmr 25, 0\n\tfmr 26, 0\n\tfmr 27, 0\n\tfmr 28, 0\n\tfmr 29, 0\n\tfmr 30, 0\n\t"
        "fmr 31, 0"
        ::: "r0", "memory", HSAFE__PPC_CPU_FPR_CLOBBERS);
#  if defined(__ALTIVEC__)
    __asm__ __volatile__(
        HSAFE__PPC_X4("vxor", 0, 1, 2, 3)     HSAFE__PPC_X4("vxor", 4, 5, 6, 7)
        HSAFE__PPC_X4("vxor", 8, 9, 10, 11)   HSAFE__PPC_X4("vxor", 12, 13, 14, 15)
        HSAFE__PPC_X4("vxor", 16, 17, 18, 19) HSAFE__PPC_X4("vxor", 20, 21, 22, 23)
        HSAFE__PPC_X4("vxor", 24, 25, 26, 27) HSAFE__PPC_X4("vxor", 28, 29, 30, 31)
        ::: HSAFE__PPC_CPU_VR_CLOBBERS);
#  endif
#endif
    __asm__ __volatile__(
        "li 0, 0\n\t"
        "li 3, 0\n\t"  "li 4, 0\n\t"  "li 5, 0\n\t"  "li 6, 0\n\t"  "li 7, 0\n\t"
        "li 8, 0\n\t"  "li 9, 0\n\t"  "li 10, 0\n\t" "li 11, 0\n\t" "li 12, 0\n\t"
        "li 14, 0\n\t" "li 15, 0\n\t" "li 16, 0\n\t" "li 17, 0\n\t" "li 18, 0\n\t"
        "li 19, 0\n\t" "li 20, 0\n\t" "li 21, 0\n\t" "li 22, 0\n\t" "li 23, 0\n\t"
        "li 24, 0\n\t" "li 25, 0\n\t" "li 26, 0\n\t" "li 27, 0\n\t" "li 28, 0\n\t"
        "li 29, 0\n\t" "li 30, 0\n\t"
        "mtlr 0\n\t" "mtctr 0\n\t" "mtxer 0\n\t" "mtcrf 0xff, 0"
        ::: "r0", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12",
            "r14", "r15", "r16", "r17", "r18", "r19", "r20", "r21", "r22",
            "r23", "r24", "r25", "r26", "r27", "r28", "r29", "r30",
            "lr", "ctr", "xer",
            "cr0", "cr1", "cr2", "cr3", "cr4", "cr5", "cr6", "cr7");
}

/* The stack pointer a signal interrupted, read from the ucontext its
 * SA_SIGINFO handler gets (Linux's layout); 0 where unknown. */
#if defined(HSAFE__OS_LINUX)
#include <signal.h>
static __attribute__((unused)) uintptr_t hsafe__cpu_signal_sp(const void *uc)
{
    return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.gp_regs[1];
}
#else
static __attribute__((unused)) uintptr_t hsafe__cpu_signal_sp(const void *uc) { (void)uc; return 0; }
#endif

/* Spin-wait hint for a loop that polls memory: `or 27,27,27`, the yield
 * hint (glibc's spin-wait nop on POWER). */
static inline __attribute__((unused)) void hsafe__cpu_relax(void) { __asm__ __volatile__("or 27,27,27" ::: "memory"); }

#endif /* HSAFE__CPU_PPC64_H */
