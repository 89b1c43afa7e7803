/* hsafe CPU support: AArch64 (Linux, BSD). Implementation only (cpu/interface.h is the contract).
 *
 * Provides what the sanitized run needs from the processor:
 *   hsafe__cpu_init()            detect SVE (Linux: getauxval(AT_HWCAP));
 *   hsafe__cpu_clear_scratch()   zero every register that can still hold
 *                                the run's data after the switch back:
 *                                x0-x28 and x30 (all general-purpose
 *                                registers but x29, the frame pointer, and
 *                                sp), the NZCV flags, v0-v31 in full, and
 *                                with SVE p0-p15 and FFR.
 * Why x19-x28 too: after the switch back they hold the run's values (the
 * switch declares them clobbered; the compiler restores the resumer's in
 * its epilogue), and any call before that epilogue could spill them.
 *
 * SVE: writing a v register with an Advanced SIMD instruction zeroes the
 * bits of the matching z register above bit 127 (Arm ARM, "SVE and
 * Advanced SIMD"), so `movi vN.2d, #0` clears z0-z31 whatever the vector
 * length. The predicate registers p0-p15 and FFR are not reachable that
 * way; when the kernel reports SVE they are cleared with pfalse/setffr,
 * written as .inst words so no assembler SVE support is needed.
 * Not cleared: FPSR (the sticky exception flags: clearing them would hide
 * flags the caller raised before the run), FPCR (control, not data), SME
 * state (ZA, ZT0, streaming-mode registers: hsafe does not support running
 * SME code in a run, see asm_aarch64.h).
 * It must be inlined into the function that did the switch: an out-of-line
 * call would push the run's callee-saved registers onto our stack.
 */
#if defined(HSAFE__IMPL) && !defined(HSAFE__CPU_AARCH64_H)
#define HSAFE__CPU_AARCH64_H 1

#if defined(HSAFE__OS_LINUX)
#  include <sys/auxv.h>
#endif

#define HSAFE__CPU_NAME "aarch64"

static int hsafe__a64_sve = -1;     /* 0 no, 1 SVE registers present */

static void hsafe__cpu_init(void)
{
    int sve = 0;
#if defined(HSAFE__OS_LINUX)
    sve = (getauxval(AT_HWCAP) & (1ul << 22)) != 0;     /* HWCAP_SVE */
#endif
    __atomic_store_n(&hsafe__a64_sve, sve, __ATOMIC_RELAXED);
}

static const char *hsafe__cpu_regs_desc(void)
{
    switch (__atomic_load_n(&hsafe__a64_sve, __ATOMIC_RELAXED)) {
    case 1: return "gpr,nzcv,z0-31,p0-15,ffr";
    case 0: return "gpr,nzcv,v0-31";
    default: return "gpr,vector(undetected)";
    }
}

static inline __attribute__((always_inline)) void hsafe__cpu_clear_scratch(void)
{
    if (__atomic_load_n(&hsafe__a64_sve, __ATOMIC_RELAXED) == 1)
        __asm__ __volatile__(
            ".inst 0x2518e400\n\t" ".inst 0x2518e401\n\t"   /* pfalse p0.b, p1.b  */
            ".inst 0x2518e402\n\t" ".inst 0x2518e403\n\t"   /* p2, p3             */
            ".inst 0x2518e404\n\t" ".inst 0x2518e405\n\t"   /* p4, p5             */
            ".inst 0x2518e406\n\t" ".inst 0x2518e407\n\t"   /* p6, p7             */
            ".inst 0x2518e408\n\t" ".inst 0x2518e409\n\t"   /* p8, p9             */
            ".inst 0x2518e40a\n\t" ".inst 0x2518e40b\n\t"   /* p10, p11           */
            ".inst 0x2518e40c\n\t" ".inst 0x2518e40d\n\t"   /* p12, p13           */
            ".inst 0x2518e40e\n\t" ".inst 0x2518e40f\n\t"   /* p14, p15           */
            ".inst 0x252c9000"                              /* setffr             */
            ::: "memory");
    __asm__ __volatile__(
        "movi v0.2d, #0\n\t"  "movi v1.2d, #0\n\t"  "movi v2.2d, #0\n\t"  "movi v3.2d, #0\n\t"
        "movi v4.2d, #0\n\t"  "movi v5.2d, #0\n\t"  "movi v6.2d, #0\n\t"  "movi v7.2d, #0\n\t"
        "movi v8.2d, #0\n\t"  "movi v9.2d, #0\n\t"  "movi v10.2d, #0\n\t" "movi v11.2d, #0\n\t"
        "movi v12.2d, #0\n\t" "movi v13.2d, #0\n\t" "movi v14.2d, #0\n\t" "movi v15.2d, #0\n\t"
        "movi v16.2d, #0\n\t" "movi v17.2d, #0\n\t" "movi v18.2d, #0\n\t" "movi v19.2d, #0\n\t"
        "movi v20.2d, #0\n\t" "movi v21.2d, #0\n\t" "movi v22.2d, #0\n\t" "movi v23.2d, #0\n\t"
        "movi v24.2d, #0\n\t" "movi v25.2d, #0\n\t" "movi v26.2d, #0\n\t" "movi v27.2d, #0\n\t"
        "movi v28.2d, #0\n\t" "movi v29.2d, #0\n\t" "movi v30.2d, #0\n\t" "movi v31.2d, #0"
        ::: "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7",
            "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15",
            "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23",
            "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31");
    __asm__ __volatile__(
        "mov x0, xzr\n\t"  "mov x1, xzr\n\t"  "mov x2, xzr\n\t"  "mov x3, xzr\n\t"
        "mov x4, xzr\n\t"  "mov x5, xzr\n\t"  "mov x6, xzr\n\t"  "mov x7, xzr\n\t"
        "mov x8, xzr\n\t"  "mov x9, xzr\n\t"  "mov x10, xzr\n\t" "mov x11, xzr\n\t"
        "mov x12, xzr\n\t" "mov x13, xzr\n\t" "mov x14, xzr\n\t" "mov x15, xzr\n\t"
        "mov x16, xzr\n\t" "mov x17, xzr\n\t" "mov x18, xzr\n\t" "mov x19, xzr\n\t"
        "mov x20, xzr\n\t" "mov x21, xzr\n\t" "mov x22, xzr\n\t" "mov x23, xzr\n\t"
        "mov x24, xzr\n\t" "mov x25, xzr\n\t" "mov x26, xzr\n\t" "mov x27, xzr\n\t"
        "mov x28, xzr\n\t" "mov x30, xzr\n\t"
        "msr nzcv, xzr"
        ::: "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9",
            "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17", "x18",
            "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27",
            "x28", "x30", "cc");
}

/* The stack pointer a signal interrupted, read from the ucontext its
 * SA_SIGINFO handler gets (Linux's layout); 0 where unknown. */
#if defined(HSAFE__OS_LINUX)
#include <signal.h>
static __attribute__((unused)) uintptr_t hsafe__cpu_signal_sp(const void *uc)
{
    return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.sp;
}
#else
static __attribute__((unused)) uintptr_t hsafe__cpu_signal_sp(const void *uc) { (void)uc; return 0; }
#endif

/* Spin-wait hint for a loop that polls memory: the `yield` hint. */
static inline __attribute__((unused)) void hsafe__cpu_relax(void) { __asm__ __volatile__("yield" ::: "memory"); }

#endif /* HSAFE__CPU_AARCH64_H */
