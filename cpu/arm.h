/* hsafe CPU support: 32-bit Arm, ARM or Thumb-2 state (Linux, BSD).
 * Implementation only (cpu/interface.h is the contract).
 *
 * Provides what the sanitized run needs from the processor:
 *   hsafe__cpu_init()            detect the FP register file (Linux:
 *                                getauxval(AT_HWCAP): VFP, and VFPD32 for
 *                                d16-d31);
 *   hsafe__cpu_clear_scratch()   zero every register that can still hold
 *                                the run's data after the switch back:
 *                                r0-r6, r8-r10, r12, lr and the one of
 *                                r7/r11 that is not this unit's frame
 *                                pointer; the APSR flags (NZCVQ, and the
 *                                GE bits from ARMv6T2 on); d0-d15, and
 *                                d16-d31 when the CPU has 32 D registers
 *                                (NEON's q0-q15 are the same registers).
 * Why r4-r10 too: after the switch back they hold the run's values (the
 * switch declares them clobbered; the compiler restores the resumer's in its
 * epilogue), and any call before that epilogue could spill them. The frame
 * pointer (r7 in Thumb code, r11 in ARM code) holds the resumer's own value
 * after the switch and is left alone.
 * The D registers are written with `vmov dN, ip, ip` as .inst words: an
 * armhf unit is assembled for vfpv3-d16, whose assembler rejects d16-d31
 * even though libc's NEON memcpy uses them on almost every armhf CPU; the
 * words are the same in ARM and Thumb-2 state (.inst.w in Thumb).
 * Not cleared: FPSCR (control and sticky flags, not data).
 * It must be inlined into the function that did the switch: an out-of-line
 * call would push the run's callee-saved registers onto our stack.
 */
#if defined(HSAFE__IMPL) && !defined(HSAFE__CPU_ARM_H)
#define HSAFE__CPU_ARM_H 1

#if defined(HSAFE__OS_LINUX)
#  include <sys/auxv.h>
#endif

#define HSAFE__CPU_NAME "arm"

static int hsafe__arm_dregs = -1;   /* 0, 16 or 32 D registers */

static void hsafe__cpu_init(void)
{
    int n = 0;
#if defined(HSAFE__OS_LINUX)
    unsigned long hw = getauxval(AT_HWCAP);
    if (hw & (1ul << 6))                                /* HWCAP_ARM_VFP    */
        n = (hw & ((1ul << 19) | (1ul << 12))) ? 32 : 16; /* VFPD32, NEON   */
#elif defined(__ARM_FP)
    n = 16;
#endif
    __atomic_store_n(&hsafe__arm_dregs, n, __ATOMIC_RELAXED);
}

static const char *hsafe__cpu_regs_desc(void)
{
    switch (__atomic_load_n(&hsafe__arm_dregs, __ATOMIC_RELAXED)) {
    case 32: return "gpr,apsr,d0-31";
    case 16: return "gpr,apsr,d0-15";
    case 0:  return "gpr,apsr";
    default: return "gpr,vfp(undetected)";
    }
}

#if defined(__thumb__)
#  define HSAFE__ARM_INST ".inst.w "
#  define HSAFE__ARM_CPU_NOTFP "r11"     /* r7 is the Thumb frame pointer */
#else
#  define HSAFE__ARM_INST ".inst "
#  define HSAFE__ARM_CPU_NOTFP "r7"      /* r11 is the ARM frame pointer */
#endif
/* The GE bits too where the assembler takes APSR_g (ARMv6T2 and later;
 * GNU as refuses it for plain ARMv6, whose GE bits are then left). */
#if defined(__ARM_ARCH_ISA_THUMB) && __ARM_ARCH_ISA_THUMB >= 2
#  define HSAFE__ARM_CPU_MSR_FLAGS "msr APSR_nzcvqg, r0"
#else
#  define HSAFE__ARM_CPU_MSR_FLAGS "msr APSR_nzcvq, r0"
#endif
/* vmov dN, ip, ip  (N < 16: 0xec4ccb10 + N; N >= 16: 0xec4ccb30 + N - 16) */
#define HSAFE__ARM_DZ(w) HSAFE__ARM_INST #w "\n\t"

#if defined(__clang__)    /* d16-d31 in a D16 unit: see asm_arm.h */
#  define HSAFE__ARM_CPU_D32_PUSH _Pragma("clang diagnostic push") \
    _Pragma("clang diagnostic ignored \"-Winline-asm\"")
#  define HSAFE__ARM_CPU_D32_POP _Pragma("clang diagnostic pop")
#else
#  define HSAFE__ARM_CPU_D32_PUSH
#  define HSAFE__ARM_CPU_D32_POP
#endif

HSAFE__ARM_CPU_D32_PUSH
static inline __attribute__((always_inline)) void hsafe__cpu_clear_scratch(void)
{
    int n = __atomic_load_n(&hsafe__arm_dregs, __ATOMIC_RELAXED);
    if (n >= 16)
        __asm__ __volatile__(
            "mov ip, #0\n\t"
            HSAFE__ARM_DZ(0xec4ccb10) HSAFE__ARM_DZ(0xec4ccb11)
            HSAFE__ARM_DZ(0xec4ccb12) HSAFE__ARM_DZ(0xec4ccb13)
            HSAFE__ARM_DZ(0xec4ccb14) HSAFE__ARM_DZ(0xec4ccb15)
            HSAFE__ARM_DZ(0xec4ccb16) HSAFE__ARM_DZ(0xec4ccb17)
            HSAFE__ARM_DZ(0xec4ccb18) HSAFE__ARM_DZ(0xec4ccb19)
            HSAFE__ARM_DZ(0xec4ccb1a) HSAFE__ARM_DZ(0xec4ccb1b)
            HSAFE__ARM_DZ(0xec4ccb1c) HSAFE__ARM_DZ(0xec4ccb1d)
            HSAFE__ARM_DZ(0xec4ccb1e) HSAFE__ARM_DZ(0xec4ccb1f)
            ::: "ip", "memory"
#if defined(__ARM_FP)
            , "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7",
              "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15"
#endif
            );
    if (n == 32)
        __asm__ __volatile__(
            "mov ip, #0\n\t"
            HSAFE__ARM_DZ(0xec4ccb30) HSAFE__ARM_DZ(0xec4ccb31)
            HSAFE__ARM_DZ(0xec4ccb32) HSAFE__ARM_DZ(0xec4ccb33)
            HSAFE__ARM_DZ(0xec4ccb34) HSAFE__ARM_DZ(0xec4ccb35)
            HSAFE__ARM_DZ(0xec4ccb36) HSAFE__ARM_DZ(0xec4ccb37)
            HSAFE__ARM_DZ(0xec4ccb38) HSAFE__ARM_DZ(0xec4ccb39)
            HSAFE__ARM_DZ(0xec4ccb3a) HSAFE__ARM_DZ(0xec4ccb3b)
            HSAFE__ARM_DZ(0xec4ccb3c) HSAFE__ARM_DZ(0xec4ccb3d)
            HSAFE__ARM_DZ(0xec4ccb3e) HSAFE__ARM_DZ(0xec4ccb3f)
            ::: "ip", "memory"
#if defined(__ARM_FP)
            , "d16", "d17", "d18", "d19", "d20", "d21", "d22", "d23",
              "d24", "d25", "d26", "d27", "d28", "d29", "d30", "d31"
#endif
            );
    __asm__ __volatile__(
        "mov r0, #0\n\t" "mov r1, #0\n\t" "mov r2, #0\n\t" "mov r3, #0\n\t"
        "mov r4, #0\n\t" "mov r5, #0\n\t" "mov r6, #0\n\t"
        "mov " HSAFE__ARM_CPU_NOTFP ", #0\n\t"
        "mov r8, #0\n\t" "mov r9, #0\n\t" "mov r10, #0\n\t" "mov ip, #0\n\t"
        "mov lr, #0\n\t"
        HSAFE__ARM_CPU_MSR_FLAGS
        ::: "r0", "r1", "r2", "r3", "r4", "r5", "r6", HSAFE__ARM_CPU_NOTFP,
            "r8", "r9", "r10", "ip", "lr", "cc");
}
HSAFE__ARM_CPU_D32_POP

/* The stack pointer a signal interrupted, read from the ucontext its
 * SA_SIGINFO handler gets (Linux's layout); 0 where unknown. */
#if defined(HSAFE__OS_LINUX)
#include <signal.h>
static __attribute__((unused)) uintptr_t hsafe__cpu_signal_sp(const void *uc)
{
    return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.arm_sp;
}
#else
static __attribute__((unused)) uintptr_t hsafe__cpu_signal_sp(const void *uc) { (void)uc; return 0; }
#endif

/* Spin-wait hint for a loop that polls memory: `yield` (ARMv7 and
 * later); older cores get a compiler barrier only. */
#if defined(__ARM_ARCH) && __ARM_ARCH >= 7
static inline __attribute__((unused)) void hsafe__cpu_relax(void) { __asm__ __volatile__("yield" ::: "memory"); }
#else
static inline __attribute__((unused)) void hsafe__cpu_relax(void) { __asm__ __volatile__("" ::: "memory"); }
#endif

#endif /* HSAFE__CPU_ARM_H */
