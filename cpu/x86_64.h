/* hsafe CPU support: x86_64 (any OS). Implementation only (cpu/interface.h is the contract).
 *
 * Provides what the sanitized run needs from the processor:
 *   hsafe__cpu_init()            detect which register files the OS enabled
 *                                (XCR0): SSE, AVX (ymm), AVX-512 (zmm, k);
 *   hsafe__cpu_clear_scratch()   zero every register that can still hold
 *                                the run's data after the switch back:
 *                                all general-purpose registers but rsp/rbp,
 *                                xmm/ymm/zmm0-15, zmm16-31 and k0-k7 when
 *                                AVX-512 state is on, and the eight
 *                                x87/MMX data registers.
 * glibc's AVX-512 memcpy leaves data in zmm16-31, which neither vzeroall
 * nor -fzero-call-used-regs clears, hence the explicit vpxord.
 * It must be inlined into the function that did the switch: an out-of-line
 * call would push the run's callee-saved registers onto our stack.
 */
#if defined(HSAFE__IMPL) && !defined(HSAFE__CPU_X86_64_H)
#define HSAFE__CPU_X86_64_H 1

#define HSAFE__CPU_NAME "x86_64"

static int hsafe__x86_vec_level = -1;   /* 0 SSE, 1 AVX, 2 AVX-512 */
static int hsafe__x86_has_avx2;

static void hsafe__cpu_init(void)
{
    unsigned a = 1, b = 0, c = 0, d = 0, lo = 0, hi = 0;
    int level = 0;
    __asm__ __volatile__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    if ((c & (1u << 27)) && (c & (1u << 28))) {          /* OSXSAVE, AVX */
        __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        if ((lo & 0x6u) == 0x6u) level = 1;              /* xmm, ymm state */
        if (level == 1 && (lo & 0xe0u) == 0xe0u) level = 2; /* k, zmm state */
    }
    (void)hi;
    if (level >= 1) {
        unsigned a7 = 7, b7 = 0, c7 = 0, d7 = 0;
        __asm__ __volatile__("cpuid" : "+a"(a7), "=b"(b7), "+c"(c7), "=d"(d7));
        __atomic_store_n(&hsafe__x86_has_avx2, (b7 >> 5) & 1, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&hsafe__x86_vec_level, level, __ATOMIC_RELAXED);
}

static const char *hsafe__cpu_regs_desc(void)
{
    switch (__atomic_load_n(&hsafe__x86_vec_level, __ATOMIC_RELAXED)) {
    case 2: return "gpr,zmm0-31,k0-7,x87";
    case 1: return "gpr,ymm0-15,x87";
    case 0: return "gpr,xmm0-15,x87";
    default: return "gpr,vector(undetected)";
    }
}

/* Length of the all-zero prefix of [p, p+n), rounded down to 256 bytes:
 * with AVX2, eight 32-byte loads ORed per step (faster than memset writes;
 * four loads per step were slower, the portable 16-byte loop slower than
 * memset: diag.scan_gbps.zero_prefix). Every release scans through this. */
#define HSAFE__CPU_HAS_ZERO_PREFIX 1
typedef long long hsafe__i64x4 __attribute__((vector_size(32), aligned(1)));
/* written out twice rather than held in a named local: mingw-w64 gcc 12
 * crashes on a named vector local at -O0; at -O1 and up it is one value */
#define HSAFE__X86_OR8(q) (((q)[0] | (q)[1]) | ((q)[2] | (q)[3]) | (((q)[4] | (q)[5]) | ((q)[6] | (q)[7])))
__attribute__((target("avx2"))) static size_t hsafe__x86_zero_prefix_avx2(const unsigned char *p, size_t n)
{
    size_t i = 0;
    for (; i + 256 <= n; i += 256) {
        const hsafe__i64x4 *q = (const hsafe__i64x4 *)(const void *)(p + i);
        if (!__builtin_ia32_ptestz256(HSAFE__X86_OR8(q), HSAFE__X86_OR8(q)))
            break;
    }
    return i;
}
static size_t hsafe__zero_prefix_portable(const unsigned char *p, size_t n);
static size_t hsafe__cpu_zero_prefix(const unsigned char *p, size_t n)
{
    if (__atomic_load_n(&hsafe__x86_has_avx2, __ATOMIC_RELAXED))
        return hsafe__x86_zero_prefix_avx2(p, n);
    return hsafe__zero_prefix_portable(p, n);
}

#define HSAFE__X86_XMM_CLOBBERS \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", \
    "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"
/* When this unit is compiled with AVX-512 (-mavx512f, -march=native on such
 * a CPU) the compiler allocates xmm16-31 and k0-7 too (gcc parks GPR values
 * there instead of spilling), so the asm that zeroes them must say so. */
#if defined(__AVX512F__)
#  define HSAFE__X86_AVX512_CLOBBERS , \
    "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", \
    "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", \
    "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"
#else
#  define HSAFE__X86_AVX512_CLOBBERS
#endif

/* Zeroing idioms, the cheapest forms measured on Zen 4 (each group
 * back to back, ns): 16 VEX vpxor xmm 1.2 (vzeroall 2.1; a VEX write
 * zeroes the register up to zmm); 16 EVEX vpxord xmm16-31 1.5 (as the zmm
 * form, which is longer); kxorq 1.2; the x87 registers through their MMX
 * aliases, eight pxor mm and emms, 1.2 (eight fldz and fstp 2.7). */
#define HSAFE__X86_VPXOR(n) "vpxor %%xmm" #n ", %%xmm" #n ", %%xmm" #n "\n\t"
#define HSAFE__X86_VPXORD(n) "vpxord %%xmm" #n ", %%xmm" #n ", %%xmm" #n "\n\t"
#define HSAFE__X86_PXOR(n) "pxor %%xmm" #n ", %%xmm" #n "\n\t"
#define HSAFE__X86_16(M, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p) \
    M(a) M(b) M(c) M(d) M(e) M(f) M(g) M(h) M(i) M(j) M(k) M(l) M(m) M(n) M(o) M(p)

static inline __attribute__((always_inline)) void hsafe__cpu_clear_scratch(void)
{
    int level = __atomic_load_n(&hsafe__x86_vec_level, __ATOMIC_RELAXED);
    if (level >= 1)   /* encoded by the assembler, no -mavx needed */
        __asm__ __volatile__(
            HSAFE__X86_16(HSAFE__X86_VPXOR, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
            ::: HSAFE__X86_XMM_CLOBBERS);
    else
        __asm__ __volatile__(
            HSAFE__X86_16(HSAFE__X86_PXOR, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
            ::: HSAFE__X86_XMM_CLOBBERS);
    if (level >= 2)
        __asm__ __volatile__(
            HSAFE__X86_16(HSAFE__X86_VPXORD, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31)
            "kxorq %%k0, %%k0, %%k0\n\t" "kxorq %%k1, %%k1, %%k1\n\t"
            "kxorq %%k2, %%k2, %%k2\n\t" "kxorq %%k3, %%k3, %%k3\n\t"
            "kxorq %%k4, %%k4, %%k4\n\t" "kxorq %%k5, %%k5, %%k5\n\t"
            "kxorq %%k6, %%k6, %%k6\n\t" "kxorq %%k7, %%k7, %%k7"
            ::: "memory" HSAFE__X86_AVX512_CLOBBERS);
    /* x87/MMX: the x87 stack is empty at a call boundary. Writing mm0-7
     * overwrites all eight physical data registers (mantissa zero, the
     * exponent all ones); emms marks them empty again, as the ABI wants. */
    __asm__ __volatile__(
        "pxor %%mm0, %%mm0\n\t" "pxor %%mm1, %%mm1\n\t" "pxor %%mm2, %%mm2\n\t"
        "pxor %%mm3, %%mm3\n\t" "pxor %%mm4, %%mm4\n\t" "pxor %%mm5, %%mm5\n\t"
        "pxor %%mm6, %%mm6\n\t" "pxor %%mm7, %%mm7\n\t" "emms"
        ::: "st", "mm0", "mm1", "mm2", "mm3", "mm4", "mm5", "mm6", "mm7");
    __asm__ __volatile__(
        "xorl %%eax, %%eax\n\t" "xorl %%ebx, %%ebx\n\t" "xorl %%ecx, %%ecx\n\t"
        "xorl %%edx, %%edx\n\t" "xorl %%esi, %%esi\n\t" "xorl %%edi, %%edi\n\t"
        "xorl %%r8d, %%r8d\n\t" "xorl %%r9d, %%r9d\n\t" "xorl %%r10d, %%r10d\n\t"
        "xorl %%r11d, %%r11d\n\t" "xorl %%r12d, %%r12d\n\t" "xorl %%r13d, %%r13d\n\t"
        "xorl %%r14d, %%r14d\n\t" "xorl %%r15d, %%r15d"
        ::: "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11",
            "r12", "r13", "r14", "r15", "cc");
}

/* The stack pointer a signal interrupted, read from the ucontext its
 * SA_SIGINFO handler gets (Linux's layout); 0 where unknown. */
#if defined(HSAFE__OS_LINUX)
#include <signal.h>
static __attribute__((unused)) uintptr_t hsafe__cpu_signal_sp(const void *uc)
{
    return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.gregs[REG_RSP];
}
#else
static __attribute__((unused)) uintptr_t hsafe__cpu_signal_sp(const void *uc) { (void)uc; return 0; }
#endif

/* Spin-wait hint for a loop that polls memory: x86 `pause` (the core
 * gives its sibling thread the cycles, and leaves the loop without a
 * memory-order flush). */
static inline __attribute__((unused)) void hsafe__cpu_relax(void) { __asm__ __volatile__("pause" ::: "memory"); }

#endif /* HSAFE__CPU_X86_64_H */
