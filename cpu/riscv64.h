/* hsafe CPU support: RISC-V 64 (Linux, BSD). Implementation only (cpu/interface.h is the contract).
 *
 * Provides what the sanitized run needs from the processor:
 *   hsafe__cpu_init()            detect the vector extension (Linux:
 *                                AT_HWCAP bit 'V', and not switched off for
 *                                this process with PR_RISCV_V_SET_CONTROL);
 *   hsafe__cpu_clear_scratch()   zero every register that can still hold
 *                                the run's data after the switch back:
 *                                ra, t0-t6, a0-a7, s1-s11 (all integer
 *                                registers but zero, sp, gp, tp and s0, the
 *                                frame pointer), f0-f31 when the unit has
 *                                FP registers, and v0-v31 when V is there.
 * Why s1-s11 too: after the switch back they hold the run's values (the
 * switch declares them clobbered; the compiler restores the resumer's in its
 * epilogue), and any call before that epilogue could spill them.
 * V registers are zeroed with one vsetvli (e8, m8: VLMAX elements) and four
 * vmv.v.i over register groups v0, v8, v16, v24, written as .4byte words
 * so no assembler V support is needed (clang 14 lacks `.insn <word>`);
 * that leaves vl = VLMAX and vtype = e8/m8, both caller-saved.
 * Not cleared: fcsr (rounding mode and sticky flags: control, not data),
 * vxrm/vxsat (two bits and one bit of state).
 * It must be inlined into the function that did the switch: an out-of-line
 * call would push the run's callee-saved registers onto our stack.
 */
#if defined(HSAFE__IMPL) && !defined(HSAFE__CPU_RISCV64_H)
#define HSAFE__CPU_RISCV64_H 1

#if defined(HSAFE__OS_LINUX)
#  include <sys/auxv.h>
#  include <sys/prctl.h>
#endif

#define HSAFE__CPU_NAME "riscv64"

static int hsafe__rv_vec = -1;      /* 0 no, 1 V registers usable */

static void hsafe__cpu_init(void)
{
    int v = 0;
#if defined(HSAFE__OS_LINUX)
    if (getauxval(AT_HWCAP) & (1ul << ('V' - 'A'))) {
        /* PR_RISCV_V_GET_CONTROL (70): bits 1:0 == 1 means V is off for
         * this thread. Kernels without the call do not report V either. */
        int c = prctl(70, 0, 0, 0, 0);
        v = !(c >= 0 && (c & 3) == 1);
    }
#endif
    __atomic_store_n(&hsafe__rv_vec, v, __ATOMIC_RELAXED);
}

static const char *hsafe__cpu_regs_desc(void)
{
    switch (__atomic_load_n(&hsafe__rv_vec, __ATOMIC_RELAXED)) {
#if defined(__riscv_flen)
    case 1: return "gpr,f0-31,v0-31";
    case 0: return "gpr,f0-31";
#else
    case 1: return "gpr,v0-31";
    case 0: return "gpr";
#endif
    default: return "gpr,vector(undetected)";
    }
}

static inline __attribute__((always_inline)) void hsafe__cpu_clear_scratch(void)
{
    if (__atomic_load_n(&hsafe__rv_vec, __ATOMIC_RELAXED) == 1)
        __asm__ __volatile__(
            ".4byte 0x0c3072d7\n\t"    /* vsetvli t0, zero, e8, m8, ta, ma */
            ".4byte 0x5e003057\n\t"    /* vmv.v.i v0, 0  (v0-v7)           */
            ".4byte 0x5e003457\n\t"    /* vmv.v.i v8, 0  (v8-v15)          */
            ".4byte 0x5e003857\n\t"    /* vmv.v.i v16, 0 (v16-v23)         */
            ".4byte 0x5e003c57"        /* vmv.v.i v24, 0 (v24-v31)         */
            ::: "t0", "memory");
#if defined(__riscv_flen) && __riscv_flen == 64
#  define HSAFE__RV_FZ(n) "fmv.d.x f" #n ", zero\n\t"
#elif defined(__riscv_flen)
#  define HSAFE__RV_FZ(n) "fmv.w.x f" #n ", zero\n\t"
#endif
#if defined(__riscv_flen)
    __asm__ __volatile__(
        HSAFE__RV_FZ(0)  HSAFE__RV_FZ(1)  HSAFE__RV_FZ(2)  HSAFE__RV_FZ(3)
        HSAFE__RV_FZ(4)  HSAFE__RV_FZ(5)  HSAFE__RV_FZ(6)  HSAFE__RV_FZ(7)
        HSAFE__RV_FZ(8)  HSAFE__RV_FZ(9)  HSAFE__RV_FZ(10) HSAFE__RV_FZ(11)
        HSAFE__RV_FZ(12) HSAFE__RV_FZ(13) HSAFE__RV_FZ(14) HSAFE__RV_FZ(15)
        HSAFE__RV_FZ(16) HSAFE__RV_FZ(17) HSAFE__RV_FZ(18) HSAFE__RV_FZ(19)
        HSAFE__RV_FZ(20) HSAFE__RV_FZ(21) HSAFE__RV_FZ(22) HSAFE__RV_FZ(23)
        HSAFE__RV_FZ(24) HSAFE__RV_FZ(25) HSAFE__RV_FZ(26) HSAFE__RV_FZ(27)
        HSAFE__RV_FZ(28) HSAFE__RV_FZ(29) HSAFE__RV_FZ(30) HSAFE__RV_FZ(31)
        ::: "f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7",
            "f8", "f9", "f10", "f11", "f12", "f13", "f14", "f15",
            "f16", "f17", "f18", "f19", "f20", "f21", "f22", "f23",
            "f24", "f25", "f26", "f27", "f28", "f29", "f30", "f31");
#  undef HSAFE__RV_FZ
#endif
    __asm__ __volatile__(
        "li ra, 0\n\t"
        "li t0, 0\n\t" "li t1, 0\n\t" "li t2, 0\n\t" "li t3, 0\n\t"
        "li t4, 0\n\t" "li t5, 0\n\t" "li t6, 0\n\t"
        "li a0, 0\n\t" "li a1, 0\n\t" "li a2, 0\n\t" "li a3, 0\n\t"
        "li a4, 0\n\t" "li a5, 0\n\t" "li a6, 0\n\t" "li a7, 0\n\t"
        "li s1, 0\n\t" "li s2, 0\n\t" "li s3, 0\n\t" "li s4, 0\n\t"
        "li s5, 0\n\t" "li s6, 0\n\t" "li s7, 0\n\t" "li s8, 0\n\t"
        "li s9, 0\n\t" "li s10, 0\n\t" "li s11, 0"
        ::: "ra", "t0", "t1", "t2", "t3", "t4", "t5", "t6",
            "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7",
            "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11");
}

/* The stack pointer a signal interrupted, read from the ucontext its
 * SA_SIGINFO handler gets (Linux's layout); 0 where unknown. */
#if defined(HSAFE__OS_LINUX)
#include <signal.h>
static __attribute__((unused)) uintptr_t hsafe__cpu_signal_sp(const void *uc)
{
    return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.__gregs[2];
}
#else
static __attribute__((unused)) uintptr_t hsafe__cpu_signal_sp(const void *uc) { (void)uc; return 0; }
#endif

/* Spin-wait hint for a loop that polls memory: Zihintpause `pause`,
 * written as its encoding (FENCE W,0: an ordinary fence where the
 * extension is missing) so that no -march is needed. */
static inline __attribute__((unused)) void hsafe__cpu_relax(void) { __asm__ __volatile__(".4byte 0x0100000f" ::: "memory"); }

#endif /* HSAFE__CPU_RISCV64_H */
