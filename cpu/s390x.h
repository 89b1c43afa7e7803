/* hsafe CPU support: IBM Z (s390x). Implementation only (cpu/interface.h is the contract).
 *
 * Provides what the sanitized run needs from the processor:
 *   hsafe__cpu_init()            detect the vector facility (Linux:
 *                                AT_HWCAP bit HWCAP_S390_VXRS);
 *   hsafe__cpu_clear_scratch()   zero every register that can still hold
 *                                the run's data after the switch back:
 *                                r0-r10 and r14 (all general registers
 *                                but r11-r13: the frame pointer, the GOT
 *                                pointer and the literal-pool base, which
 *                                gcc may reserve, and r15), the condition
 *                                code,
 *                                f0-f15, and v0-v31 whole when the vector
 *                                facility is there.
 * Why r6-r10 too: after the switch back they hold the run's values (the
 * switch declares them clobbered; the compiler restores the resumer's in its
 * epilogue), and any call before that epilogue could spill them. r11-r13
 * hold the resumer's own values after the switch (it saves them itself).
 * The vector registers are zeroed with vzero written as .byte sequences
 * (VGBM with mask 0), since Debian's baseline (z196) assembles without the
 * vector facility; they run only when the kernel reports it.
 * Not cleared: FPC (control and flags, not data), the access registers.
 * It must be inlined into the function that did the switch: an out-of-line
 * call would push the run's callee-saved registers onto our stack.
 */
#if defined(HSAFE__IMPL) && !defined(HSAFE__CPU_S390X_H)
#define HSAFE__CPU_S390X_H 1

#if defined(HSAFE__OS_LINUX)
#  include <sys/auxv.h>
#endif

#define HSAFE__CPU_NAME "s390x"

static int hsafe__s390_vx = -1;     /* 0 no, 1 vector registers present */

static void hsafe__cpu_init(void)
{
    int vx = 0;
#if defined(HSAFE__OS_LINUX)
    vx = (getauxval(AT_HWCAP) & 2048ul) != 0;           /* HWCAP_S390_VXRS */
#endif
    __atomic_store_n(&hsafe__s390_vx, vx, __ATOMIC_RELAXED);
}

static const char *hsafe__cpu_regs_desc(void)
{
    switch (__atomic_load_n(&hsafe__s390_vx, __ATOMIC_RELAXED)) {
    case 1: return "gpr,cc,v0-31";
    case 0: return "gpr,cc,f0-15";
    default: return "gpr,vector(undetected)";
    }
}

/* vzero %vN: E7 N0 00 00 0x 44, x = 8 (RXB) for N >= 16. */
#define HSAFE__S390_VZ(n, rxb) ".byte 0xe7, (" #n ") << 4, 0, 0, " #rxb ", 0x44\n\t"
#define HSAFE__S390_VZ4(a, rxb) \
    HSAFE__S390_VZ(a, rxb) HSAFE__S390_VZ(a + 1, rxb) \
    HSAFE__S390_VZ(a + 2, rxb) HSAFE__S390_VZ(a + 3, rxb)

#define HSAFE__S390_FPR_CLOBBERS \
    "f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", \
    "f8", "f9", "f10", "f11", "f12", "f13", "f14", "f15"

static inline __attribute__((always_inline)) void hsafe__cpu_clear_scratch(void)
{
    if (__atomic_load_n(&hsafe__s390_vx, __ATOMIC_RELAXED) == 1)
        __asm__ __volatile__(
            HSAFE__S390_VZ4(0, 0) HSAFE__S390_VZ4(4, 0)
            HSAFE__S390_VZ4(8, 0) HSAFE__S390_VZ4(12, 0)
            HSAFE__S390_VZ4(0, 8) HSAFE__S390_VZ4(4, 8)           /* v16-v23 */
            HSAFE__S390_VZ4(8, 8) HSAFE__S390_VZ4(12, 8)          /* v24-v31 */
            ::: "memory", HSAFE__S390_FPR_CLOBBERS
#if defined(__VX__)
            , "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23",
              "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31"
#endif
            );
    else
        __asm__ __volatile__(
            "lzdr %%f0\n\t"  "lzdr %%f1\n\t"  "lzdr %%f2\n\t"  "lzdr %%f3\n\t"
            "lzdr %%f4\n\t"  "lzdr %%f5\n\t"  "lzdr %%f6\n\t"  "lzdr %%f7\n\t"
            "lzdr %%f8\n\t"  "lzdr %%f9\n\t"  "lzdr %%f10\n\t" "lzdr %%f11\n\t"
            "lzdr %%f12\n\t" "lzdr %%f13\n\t" "lzdr %%f14\n\t" "lzdr %%f15"
            ::: HSAFE__S390_FPR_CLOBBERS);
    __asm__ __volatile__(
        "lghi %%r0, 0\n\t" "lghi %%r1, 0\n\t" "lghi %%r2, 0\n\t" "lghi %%r3, 0\n\t"
        "lghi %%r4, 0\n\t" "lghi %%r5, 0\n\t" "lghi %%r6, 0\n\t" "lghi %%r7, 0\n\t"
        "lghi %%r8, 0\n\t" "lghi %%r9, 0\n\t" "lghi %%r10, 0\n\t"
        "lghi %%r14, 0\n\t"
        "cr %%r0, %%r0"                 /* condition code: a constant 0    */
        ::: "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9",
            "r10", "r14", "cc");
}

/* The stack pointer a signal interrupted, read from the ucontext its
 * SA_SIGINFO handler gets (Linux's layout); 0 where unknown. */
#if defined(HSAFE__OS_LINUX)
#include <signal.h>
static __attribute__((unused)) uintptr_t hsafe__cpu_signal_sp(const void *uc)
{
    return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.gregs[15];
}
#else
static __attribute__((unused)) uintptr_t hsafe__cpu_signal_sp(const void *uc) { (void)uc; return 0; }
#endif

/* Spin-wait hint for a loop that polls memory: none here, a compiler
 * barrier so the loop reloads what it polls. */
static inline __attribute__((unused)) void hsafe__cpu_relax(void) { __asm__ __volatile__("" ::: "memory"); }

#endif /* HSAFE__CPU_S390X_H */
