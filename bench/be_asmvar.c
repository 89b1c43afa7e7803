/* be_asmvar.c - DIAGNOSTICS ONLY, opt-in (BENCH_FPU_SPLIT=1 bench/run.sh):
 * which part of the floating-point control save/restore costs what in the
 * asm backend's switch. The library's own per-context mode
 * (HSAFE_ASM_SAVE_FPU, both words) is measured by be_savefpu.c in every
 * run; this file splits it into its two halves.
 *
 * Compiled once per -DBENCH_VARIANT=nofp|x87|mxcsr|both. The unit defines
 * the declaration part of backends/asm_x86_64_sysv.h itself (its include
 * guard, the context type and hsafe__ctx_switch) before including hsafe.h,
 * so hsafe's real coroutine code (resume, yield, trampoline, ctx_make) runs
 * on a bench-only copy of the switch that differs from the backend's in one
 * thing only, which FP control words it saves and restores:
 *   nofp   neither: the backend's default (checks the copy is faithful)
 *   x87    the x87 control word only (fnstcw/fldcw)
 *   mxcsr  MXCSR only (stmxcsr/ldmxcsr)
 *   both   both, the same instructions as HSAFE_ASM_SAVE_FPU
 * The copy keeps the backend's frame layout (sp+0 resume address, sp+8
 * rbp, sp+16 FP control slot, then the skipped red zone). A new context is
 * entered through the backend's own trampoline, which reads only the frame
 * hsafe__ctx_make built, so the copy does not depend on it otherwise.
 * If the backend's guard name changes, this file stops compiling and run.sh
 * drops its lines. x86_64 only. */
#if defined(__x86_64__) && !defined(_WIN32)
#define _GNU_SOURCE 1
#include <stdint.h>
#include <stddef.h>

#if !defined(BENCH_VARIANT)
#  error "define BENCH_VARIANT"
#endif
#define BV_both  1
#define BV_nofp  2
#define BV_x87   3
#define BV_mxcsr 4
#define BV_CAT_(a, b) a##b
#define BV_CAT(a, b) BV_CAT_(a, b)
#define BV_STR_(a) #a
#define BV_STR(a) BV_STR_(a)
#define BV BV_CAT(BV_, BENCH_VARIANT)

#if BV == BV_both
#  define BV_SAVE    "stmxcsr (%%rsp)\n\t" "fnstcw 4(%%rsp)\n\t"
#  define BV_RESTORE "ldmxcsr (%%rsp)\n\t" "fldcw 4(%%rsp)\n\t"
#elif BV == BV_nofp
#  define BV_SAVE    ""
#  define BV_RESTORE ""
#elif BV == BV_x87
#  define BV_SAVE    "fnstcw 4(%%rsp)\n\t"
#  define BV_RESTORE "fldcw 4(%%rsp)\n\t"
#elif BV == BV_mxcsr
#  define BV_SAVE    "stmxcsr (%%rsp)\n\t"
#  define BV_RESTORE "ldmxcsr (%%rsp)\n\t"
#else
#  error "unknown BENCH_VARIANT"
#endif

/* ---- stands in for the declaration part of backends/asm_x86_64_sysv.h */
#define HSAFE__BACKEND_ASM_X86_64_SYSV_H
#define HSAFE__BACKEND_NAME "asm/x86_64-sysv[bench variant: " BV_STR(BENCH_VARIANT) "]"
#define HSAFE__CTX_MIN_STACK 4096u
typedef struct hsafe__ctx { void *sp; } hsafe__ctx;
#if defined(__CET__) && (__CET__ & 1)
#  define HSAFE__X86_ENDBR "endbr64\n\t"
#else
#  define HSAFE__X86_ENDBR ""
#endif
#if defined(__AVX512F__)
#  define HSAFE__X86_VEC_CLOBBERS \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", \
    "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", \
    "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", \
    "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", \
    "k1", "k2", "k3", "k4", "k5", "k6", "k7"
#else
#  define HSAFE__X86_VEC_CLOBBERS \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", \
    "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"
#endif

static inline __attribute__((always_inline)) uintptr_t
hsafe__ctx_switch(hsafe__ctx *save, hsafe__ctx *to, uintptr_t v)
{
    __asm__ __volatile__(
        "leaq -136(%%rsp), %%rsp\n\t"   /* red zone + FP control slot */
        BV_SAVE
        "pushq %%rbp\n\t"
        "leaq 1f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"
        "movq %%rsp, (%%rsi)\n\t"
        "movq (%%rdx), %%rsp\n\t"
        "popq %%rax\n\t"
        "jmpq *%%rax\n"
        "1:\n\t"
        HSAFE__X86_ENDBR
        "popq %%rbp\n\t"
        BV_RESTORE
        "leaq 136(%%rsp), %%rsp\n\t"
        : "+D"(v), "+S"(save), "+d"(to)
        :
        : "rax", "rbx", "rcx", "r8", "r9", "r10", "r11", "r12", "r13",
          "r14", "r15", "memory", "cc", HSAFE__X86_VEC_CLOBBERS);
    return v;
}
/* ---- end of the stand-in */

#define HSAFE_PRIVATE
#define HSAFE_IMPLEMENTATION
#define HSAFE_BACKEND_ASM
#include "../hsafe.h"
#include "bench.h"

#define BE_CONFIG   BV_CAT(bench_asmvar_config_, BENCH_VARIANT)
#define BE_SETUP    BV_CAT(bench_asmvar_setup_, BENCH_VARIANT)
#define BE_TEARDOWN BV_CAT(bench_asmvar_teardown_, BENCH_VARIANT)
#define BE_RT       BV_CAT(bench_rt_asmvar_, BENCH_VARIANT)
#include "be_coro.h"

#endif /* x86_64 */
