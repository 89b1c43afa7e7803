/* hsafe CPU support: i386 (any OS). Implementation only (cpu/interface.h is the contract).
 *
 * Provides what the sanitized run needs from the processor:
 *   hsafe__cpu_init()            detect which register files exist and the
 *                                OS enabled (CPUID, XCR0): SSE (xmm0-7),
 *                                AVX (ymm0-7), AVX-512 (zmm0-7, k0-k7);
 *   hsafe__cpu_clear_scratch()   zero every register that can still hold
 *                                the run's data after the switch back:
 *                                eax, ebx, ecx, edx, esi, edi (all general
 *                                registers but esp and ebp, the frame
 *                                pointer), the eight x87/MMX registers, and
 *                                xmm/ymm/zmm0-7 and k0-k7 as present.
 * Why ebx, esi, edi too: after the switch back they hold the run's values
 * (the switch declares them clobbered; the compiler restores the resumer's
 * in its epilogue), and any call before that epilogue could spill them.
 * In 32-bit mode only registers 0-7 of each vector file exist; vzeroall
 * clears ymm0-7 and, with AVX-512, zmm0-7 whole. The vector instructions are
 * encoded by the assembler, so the unit needs no -msse/-mavx; they run only
 * when CPUID says the state is there.
 * Not cleared: the x87 control/status words and MXCSR (control and sticky
 * flags, not data).
 * It must be inlined into the function that did the switch: an out-of-line
 * call would push the run's callee-saved registers onto our stack.
 */
#if defined(HSAFE__IMPL) && !defined(HSAFE__CPU_I386_H)
#define HSAFE__CPU_I386_H 1

#define HSAFE__CPU_NAME "i386"

static int hsafe__i386_vec_level = -1;  /* 0 none, 1 SSE, 2 AVX, 3 AVX-512 */

static void hsafe__cpu_init(void)
{
    unsigned a = 1, b = 0, c = 0, d = 0, lo = 0, hi = 0;
    int level = 0;
    __asm__ __volatile__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    if ((d & (1u << 25)) && (d & (1u << 24))) level = 1;   /* SSE, FXSR */
    if (level && (c & (1u << 27)) && (c & (1u << 28))) {   /* OSXSAVE, AVX */
        __asm__ __volatile__(".byte 0x0f, 0x01, 0xd0"      /* xgetbv */
                             : "=a"(lo), "=d"(hi) : "c"(0));
        if ((lo & 0x6u) == 0x6u) level = 2;                 /* xmm, ymm state */
        if (level == 2 && (lo & 0xe0u) == 0xe0u) level = 3; /* k, zmm state */
    }
    (void)b; (void)hi;
    __atomic_store_n(&hsafe__i386_vec_level, level, __ATOMIC_RELAXED);
}

static const char *hsafe__cpu_regs_desc(void)
{
    switch (__atomic_load_n(&hsafe__i386_vec_level, __ATOMIC_RELAXED)) {
    case 3: return "gpr,zmm0-7,k0-7,x87";
    case 2: return "gpr,ymm0-7,x87";
    case 1: return "gpr,xmm0-7,x87";
    case 0: return "gpr,x87";
    default: return "gpr,vector(undetected)";
    }
}

#if defined(__SSE__)
#  define HSAFE__I386_XMM_CLOBBERS \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7"
#else
#  define HSAFE__I386_XMM_CLOBBERS "memory"
#endif

static inline __attribute__((always_inline)) void hsafe__cpu_clear_scratch(void)
{
    int level = __atomic_load_n(&hsafe__i386_vec_level, __ATOMIC_RELAXED);
    if (level >= 2)
        __asm__ __volatile__("vzeroall" ::: HSAFE__I386_XMM_CLOBBERS);
    else if (level == 1)
        __asm__ __volatile__(
            "xorps %%xmm0, %%xmm0\n\t" "xorps %%xmm1, %%xmm1\n\t"
            "xorps %%xmm2, %%xmm2\n\t" "xorps %%xmm3, %%xmm3\n\t"
            "xorps %%xmm4, %%xmm4\n\t" "xorps %%xmm5, %%xmm5\n\t"
            "xorps %%xmm6, %%xmm6\n\t" "xorps %%xmm7, %%xmm7"
            ::: HSAFE__I386_XMM_CLOBBERS);
    if (level >= 3)
        __asm__ __volatile__(
            "kxorw %%k0, %%k0, %%k0\n\t" "kxorw %%k1, %%k1, %%k1\n\t"
            "kxorw %%k2, %%k2, %%k2\n\t" "kxorw %%k3, %%k3, %%k3\n\t"
            "kxorw %%k4, %%k4, %%k4\n\t" "kxorw %%k5, %%k5, %%k5\n\t"
            "kxorw %%k6, %%k6, %%k6\n\t" "kxorw %%k7, %%k7, %%k7"
            ::: "memory");
    /* x87/MMX: the stack is empty at a call boundary; overwrite all eight
     * data registers with zero, then pop them again. */
    __asm__ __volatile__(
        "fldz\n\tfldz\n\tfldz\n\tfldz\n\tfldz\n\tfldz\n\tfldz\n\tfldz\n\t"
        "fstp %%st(0)\n\tfstp %%st(0)\n\tfstp %%st(0)\n\tfstp %%st(0)\n\t"
        "fstp %%st(0)\n\tfstp %%st(0)\n\tfstp %%st(0)\n\tfstp %%st(0)"
        ::: "st");
    __asm__ __volatile__(
        "xorl %%eax, %%eax\n\t" "xorl %%ebx, %%ebx\n\t" "xorl %%ecx, %%ecx\n\t"
        "xorl %%edx, %%edx\n\t" "xorl %%esi, %%esi\n\t" "xorl %%edi, %%edi"
        ::: "eax", "ebx", "ecx", "edx", "esi", "edi", "cc");
}

/* The stack pointer a signal interrupted, read from the ucontext its
 * SA_SIGINFO handler gets (Linux's layout); 0 where unknown. */
#if defined(HSAFE__OS_LINUX)
#include <signal.h>
static __attribute__((unused)) uintptr_t hsafe__cpu_signal_sp(const void *uc)
{
    return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.gregs[REG_ESP];
}
#else
static __attribute__((unused)) uintptr_t hsafe__cpu_signal_sp(const void *uc) { (void)uc; return 0; }
#endif

/* Spin-wait hint for a loop that polls memory: x86 `pause` (encoded as
 * rep; nop, which every x86 runs). */
static inline __attribute__((unused)) void hsafe__cpu_relax(void) { __asm__ __volatile__("rep; nop" ::: "memory"); }

#endif /* HSAFE__CPU_I386_H */
