/* hsafe context backend: hand-written asm, x86_64 Windows (Microsoft x64 ABI).
 *
 * Included by hsafe.h when core/target.h chooses the asm backend on
 * __x86_64__ with _WIN32 (mingw-w64 gcc or clang). It implements the internal
 * backend contract in backends/interface.h, with
 * the same design as asm_x86_64_sysv.h.
 *
 * ABI (Microsoft "x64 software conventions", register usage and stack
 * allocation):
 *   callee-saved   rbx, rbp, rdi, rsi, r12-r15, rsp, xmm6-xmm15 (all 128
 *                  bits); the control bits of MXCSR and the x87 control word
 *                  (see "Floating-point control state" below).
 *   caller-saved   rax, rcx, rdx, r8-r11, xmm0-5, the upper halves of
 *                  ymm/zmm0-15, zmm16-31 and k0-k7 (AVX-512), x87 stack,
 *                  flags.
 *   arguments      rcx, rdx, r8, r9; the caller reserves 32 bytes of "shadow"
 *                  (home) space just above the return address.
 *   stack          16-byte aligned at a call, so rsp % 16 == 8 on entry; no
 *                  red zone: bytes below rsp may be overwritten at any time.
 *
 * Thread Information Block. Windows keeps the bounds of the running stack in
 * the TEB (gs:0), and reads them behind our back:
 *   gs:0x00    NT_TIB.ExceptionList      head of a chain of handler frames
 *   gs:0x08    NT_TIB.StackBase          one past the highest stack byte
 *   gs:0x10    NT_TIB.StackLimit         lowest committed stack byte
 *   gs:0x1478  TEB.DeallocationStack     base of the stack's allocation
 *   gs:0x1748  TEB.GuaranteedStackBytes  (32 bits) stack kept back for the
 *                                        EXCEPTION_STACK_OVERFLOW handler
 * The exception dispatcher and RtlUnwindEx reject frames outside
 * [StackLimit, StackBase) (so C++ exceptions and SEH thrown and caught on a
 * coroutine stack fail without the switch), MSVC's __chkstk probes from
 * StackLimit down, and the memory manager decides from DeallocationStack and
 * StackBase whether a PAGE_GUARD hit is "the stack growing" (and when it
 * becomes EXCEPTION_STACK_OVERFLOW). x64 SEH is table-based, so Windows
 * itself leaves ExceptionList alone, but wine keeps the handlers of its
 * own builtin code there and, while dispatching, calls every one whose
 * address is below the rsp being unwound: when the coroutine's stack lies
 * above the thread's, the thread's outermost handler would be called
 * first and end a C++ throw inside the coroutine with std::terminate. So
 * these five fields are part of a context: the switch saves the leaving
 * side's values and loads the other side's, as SwitchToFiber does, and a
 * new context starts with an empty chain (-1, as CreateFiber's).
 * NT_TIB.FiberData (gs:0x20) is left alone: a coroutine is not a fiber,
 * and a thread that uses fibers keeps its own.
 *
 * Design: the switch is inline asm that the compiler inlines at both ends
 * (resume and yield). Instead of saving every callee-saved register, the asm
 * declares them clobbered (xmm6-15 included), so the compiler saves only what
 * is live across the switch, once per function rather than once per switch,
 * with full 128-bit movaps. The asm itself saves what it cannot declare: rbp
 * (it may be the frame pointer), the TIB fields, the address to continue
 * at and, with HSAFE_ASM_SAVE_FPU, the FP control words. It lands with an
 * indirect jmp, never a ret, so the return-stack predictor stays balanced.
 *
 * Frame pushed by a switching side (ascending addresses from ctx->sp):
 *
 *     sp+0    resume address (label 1 of that switch site)
 *     sp+8    MXCSR (4 bytes) | x87 control word (2 bytes) | pad; written
 *             only with HSAFE_ASM_SAVE_FPU
 *     sp+16   GuaranteedStackBytes (4 bytes) | pad
 *     sp+24   DeallocationStack
 *     sp+32   StackLimit
 *     sp+40   StackBase
 *     sp+48   ExceptionList
 *     sp+56   rbp
 *
 * Registers at the switch: rcx = the value passed (it arrives in rcx, the
 * first argument register, which is what the trampoline hands to the entry
 * function), rdx = save, r8 = to; rax, r9-r11 are scratch.
 *
 * Floating-point control state (MXCSR control bits, x87 control word): as
 * in asm_x86_64_sysv.h, by default it belongs to the thread, not to the
 * coroutine: the switch does not touch it, so a rounding mode or exception
 * mask set inside a coroutine is still set in its resumer after the yield.
 * Code that changes it must restore it before it yields or returns, as it
 * must before any function returns under the ABI. With HSAFE_ASM_SAVE_FPU
 * defined (same in every translation unit) each context keeps its own
 * control state: a new context starts with the state of the thread that
 * called hsafe__ctx_make, and a switch restores the target's (only when it
 * differs; the MXCSR status flags stay the thread's). Both are
 * tested (tests/test_coro_fpu.c, tests/test_win64.c).
 *
 * Not supported: CET shadow stacks (a process built /CETCOMPAT would fault on
 * the first return after a switch; mingw-w64 does not mark images CETCOMPAT),
 * and exceptions (SEH or C++) that propagate out of a coroutine's function.
 */
#ifndef HSAFE__BACKEND_ASM_X86_64_WIN64_H
#define HSAFE__BACKEND_ASM_X86_64_WIN64_H

#define HSAFE__BACKEND_NAME "asm/x86_64-win64"
#define HSAFE__CTX_MIN_STACK 4096u

typedef struct hsafe__ctx { void *sp; } hsafe__ctx;
#define HSAFE__CTX_MOVABLE 1           /* a saved context is its stack pointer */

/* HSAFE_ASM_SAVE_FPU keeps the control state per context (MXCSR bits
 * 6-15, the x87 CW), not the sticky status flags (MXCSR bits 0-5), which
 * stay the thread's: the switch never changes them. The leaving side saves
 * MXCSR and the CW in its slot and leaves the current ones in r9d and r10d
 * (declared clobbered); the landing side (switch or trampoline) reloads
 * only what differs: ldmxcsr with its saved control bits and the current
 * flags, fldcw with its saved CW. Usually neither runs. Reasons, and the
 * cost of a full restore: asm_x86_64_sysv.h, docs/fpu-state.md. */
#if defined(HSAFE_ASM_SAVE_FPU)
#  define HSAFE__WIN64_FPU_SAVE \
    "stmxcsr (%%rsp)\n\tfnstcw 4(%%rsp)\n\t" \
    "movl (%%rsp), %%r9d\n\tmovzwl 4(%%rsp), %%r10d\n\t"
#  define HSAFE__WIN64_FPU_LOAD \
    "movl (%%rsp), %%eax\n\t" \
    "xorl %%r9d, %%eax\n\t" \
    "testl $0xffffffc0, %%eax\n\t"   /* control bits differ?           */ \
    "jz 2f\n\t" \
    "xorl %%r9d, %%eax\n\t"          /* saved MXCSR again               */ \
    "andl $0xffffffc0, %%eax\n\t" \
    "andl $0x3f, %%r9d\n\t" \
    "orl %%r9d, %%eax\n\t"           /* saved control | current flags   */ \
    "movl %%eax, (%%rsp)\n\t" \
    "ldmxcsr (%%rsp)\n" \
    "2:\n\t" \
    "movzwl 4(%%rsp), %%eax\n\t" \
    "cmpl %%r10d, %%eax\n\t" \
    "je 3f\n\t" \
    "fldcw 4(%%rsp)\n" \
    "3:\n\t"
#  define HSAFE__WIN64_TRAMP_FPU \
    "movl (%rsp), %eax\n\t" \
    "xorl %r9d, %eax\n\t" \
    "testl $0xffffffc0, %eax\n\t" \
    "jz 2f\n\t" \
    "xorl %r9d, %eax\n\t" \
    "andl $0xffffffc0, %eax\n\t" \
    "andl $0x3f, %r9d\n\t" \
    "orl %r9d, %eax\n\t" \
    "movl %eax, (%rsp)\n\t" \
    "ldmxcsr (%rsp)\n" \
    "2:\n\t" \
    "movzwl 4(%rsp), %eax\n\t" \
    "cmpl %r10d, %eax\n\t" \
    "je 3f\n\t" \
    "fldcw 4(%rsp)\n" \
    "3:\n\t"
#else
#  define HSAFE__WIN64_FPU_SAVE ""
#  define HSAFE__WIN64_FPU_LOAD ""
#  define HSAFE__WIN64_TRAMP_FPU ""
#endif

/* Registers the switch leaves holding the other side's values. The
 * callee-saved ones (rbx, rdi, rsi, r12-r15, xmm6-15) are listed so that
 * the compiler saves them around the switch when they are live. */
#if defined(__AVX512F__)
#  define HSAFE__WIN64_VEC_CLOBBERS \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", \
    "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", \
    "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", \
    "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", \
    "k1", "k2", "k3", "k4", "k5", "k6", "k7"
#else
#  define HSAFE__WIN64_VEC_CLOBBERS \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", \
    "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"
#endif

/* Save the running context into *save, continue *to, hand it v.
 * Returns the value passed by whoever switches back to *save. */
static inline __attribute__((always_inline)) uintptr_t
hsafe__ctx_switch(hsafe__ctx *save, hsafe__ctx *to, uintptr_t v)
{
    register hsafe__ctx *to_r8 __asm__("r8") = to;
    __asm__ __volatile__(
        "pushq %%rbp\n\t"
        "pushq %%gs:0x00\n\t"           /* ExceptionList                   */
        "pushq %%gs:0x08\n\t"           /* StackBase                       */
        "pushq %%gs:0x10\n\t"           /* StackLimit                      */
        "pushq %%gs:0x1478\n\t"         /* DeallocationStack               */
        "movl %%gs:0x1748, %%eax\n\t"
        "pushq %%rax\n\t"               /* GuaranteedStackBytes            */
        "leaq -8(%%rsp), %%rsp\n\t"     /* FP control slot                 */
        HSAFE__WIN64_FPU_SAVE
        "leaq 1f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"               /* where we continue               */
        "movq %%rsp, (%%rdx)\n\t"       /* save->sp                        */
        "movq (%%r8), %%rsp\n\t"        /* to->sp: now on the other stack  */
        "popq %%rax\n\t"
        "jmpq *%%rax\n"
        "1:\n\t"
        HSAFE__WIN64_FPU_LOAD
        "movl 8(%%rsp), %%eax\n\t"
        "movl %%eax, %%gs:0x1748\n\t"
        "leaq 16(%%rsp), %%rsp\n\t"
        "popq %%gs:0x1478\n\t"
        "popq %%gs:0x10\n\t"
        "popq %%gs:0x08\n\t"
        "popq %%gs:0x00\n\t"
        "popq %%rbp\n\t"
        : "+c"(v), "+d"(save), "+r"(to_r8)
        :
        : "rax", "rbx", "rsi", "rdi", "r9", "r10", "r11", "r12", "r13",
          "r14", "r15", "memory", "cc", HSAFE__WIN64_VEC_CLOBBERS,
          "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)");
    return v;
}

#endif /* HSAFE__BACKEND_ASM_X86_64_WIN64_H */

/* ---- implementation half: compiled by the inclusion of hsafe.h that
 * defines HSAFE__IMPL (core/target.h). ---- */
#if defined(HSAFE__IMPL) && !defined(HSAFE__BACKEND_ASM_X86_64_WIN64_IMPL)
#define HSAFE__BACKEND_ASM_X86_64_WIN64_IMPL
#include <windows.h>

/* The exception handler of the trampoline's frame, the bottom of every
 * coroutine stack. An exception that nothing on the coroutine's stack
 * handled arrives here, where on a thread's own stack it would reach the
 * thread's start routine; it gets what that routine gives it: the
 * unhandled-exception filter. mingw's filter continues a C++ throw, so
 * __cxa_throw calls std::terminate, as the SysV trampoline arranges;
 * debuggers and crash reporters see the rest, and the process ends with
 * the exception code when the filter says so. (Without this, the walk
 * would end at the trampoline and Windows would end the process without
 * a word.) The asm label fixes the name the unwind data refers to. */
static EXCEPTION_DISPOSITION hsafe__win64_tramp_handler(EXCEPTION_RECORD *rec, void *frame,
                                                        CONTEXT *ctx, void *dispatch)
    __asm__("hsafe__win64_tramp_handler") __attribute__((used));
static EXCEPTION_DISPOSITION hsafe__win64_tramp_handler(EXCEPTION_RECORD *rec, void *frame,
                                                        CONTEXT *ctx, void *dispatch)
{
    EXCEPTION_POINTERS ep;
    (void)frame; (void)dispatch;
    if (rec->ExceptionFlags & (EXCEPTION_UNWINDING | EXCEPTION_EXIT_UNWIND))
        return ExceptionContinueSearch;
    ep.ExceptionRecord = rec;
    ep.ContextRecord = ctx;
    switch (UnhandledExceptionFilter(&ep)) {
    case EXCEPTION_CONTINUE_EXECUTION: return ExceptionContinueExecution;
    case EXCEPTION_CONTINUE_SEARCH:    return ExceptionContinueSearch;
    default:
        TerminateProcess(GetCurrentProcess(), rec->ExceptionCode);
        return ExceptionContinueSearch;
    }
}

/* First code a new context runs. The switch that enters it popped the
 * resume address (this code) and jumped here with rsp at sp+8 and rcx
 * holding the value passed in. Initial frame (ascending from ctx->sp,
 * 16-byte aligned top T):
 *   sp+0  this code         sp+8  FP control       sp+16 GuaranteedStackBytes
 *   sp+24 DeallocationStack sp+32 StackLimit       sp+40 StackBase
 *   sp+48 ExceptionList     sp+56 entry            sp+64 arg
 *   sp+72, sp+80  0         sp+88 = T-8: 0, a null return address.
 * It loads the TIB fields, moves rsp to T-8 (as if just called from
 * address 0), allocates the entry's 32-byte shadow space plus padding so
 * rsp % 16 == 0 at the call, and calls entry(value, arg). Its SEH unwind
 * data says so (.seh_stackalloc 40), so RtlVirtualUnwind walks from the
 * entry into this frame and on to the null return address at T-8, where
 * the walk ends; the frame's handler is hsafe__win64_tramp_handler.
 * A file-scope asm block rather than a naked function: gcc closes a naked
 * function's SEH prologue before its body. It follows a function
 * definition, so the assembler is in .text where gcc believes it is (at
 * -O0 gcc emits file-scope asm in source order, and COFF has no
 * .pushsection). The symbol is local to the object file. */
__asm__(
    ".text\n\t"
    ".p2align 4\n\t"
    ".def hsafe__win64_trampoline; .scl 3; .type 32; .endef\n\t"
    ".seh_proc hsafe__win64_trampoline\n"
    "hsafe__win64_trampoline:\n\t"
    ".seh_handler hsafe__win64_tramp_handler, @except\n\t"
    HSAFE__WIN64_TRAMP_FPU
    "movl 8(%rsp), %eax\n\t"
    "movl %eax, %gs:0x1748\n\t"
    "movq 16(%rsp), %rax\n\t"
    "movq %rax, %gs:0x1478\n\t"
    "movq 24(%rsp), %rax\n\t"
    "movq %rax, %gs:0x10\n\t"
    "movq 32(%rsp), %rax\n\t"
    "movq %rax, %gs:0x08\n\t"
    "movq 40(%rsp), %rax\n\t"
    "movq %rax, %gs:0x00\n\t"
    "movq 48(%rsp), %rax\n\t"       /* entry                              */
    "movq 56(%rsp), %rdx\n\t"       /* arg; rcx already holds the value   */
    "xorl %ebp, %ebp\n\t"
    "leaq 80(%rsp), %rsp\n\t"       /* T-8: the null return address       */
    "subq $40, %rsp\n\t"            /* shadow space + pad: rsp % 16 == 0  */
    ".seh_stackalloc 40\n\t"
    ".seh_endprologue\n\t"
    "callq *%rax\n\t"
    "ud2\n\t"                       /* entry never returns                */
    ".seh_endproc\n\t");

extern void hsafe__win64_trampoline(void) __asm__("hsafe__win64_trampoline");

/* The lowest address of the allocation that holds the stack at lo: for a
 * stack a pool mapped, the NOACCESS floor below its guard region, so
 * Windows sees the guard region as part of this stack, as it is for a
 * thread's own stack; else lo itself (caller memory has nothing of ours
 * below it). The core provides it (backends/interface.h: a backend that
 * defines HSAFE__CTX_NEEDS_FLOOR), asking the OS layer, which owns the
 * pool's stack layout. */
#define HSAFE__CTX_NEEDS_FLOOR 1
static uintptr_t hsafe__ctx_stack_floor(uintptr_t lo);

static void hsafe__ctx_make(hsafe__ctx *ctx, void *lo, size_t size,
                            void (*entry)(uintptr_t, void *), void *arg)
{
    uintptr_t base = (uintptr_t)lo, top = (base + size) & ~(uintptr_t)15;
    uintptr_t floor = hsafe__ctx_stack_floor(base);
    uint64_t *sp = (uint64_t *)(top - 96);
    uint32_t mxcsr;
    uint16_t cw;
    __asm__ __volatile__("stmxcsr %0\n\tfnstcw %1" : "=m"(mxcsr), "=m"(cw));
    sp[0] = (uint64_t)(uintptr_t)&hsafe__win64_trampoline;
    sp[1] = (uint64_t)mxcsr | ((uint64_t)cw << 32);
    /* the whole guard region is "guaranteed": the first touch of it is
     * EXCEPTION_STACK_OVERFLOW, with all of it left for the handler */
    sp[2] = floor < base ? (uint64_t)(base - floor - 4096) : 0;
    sp[3] = (uint64_t)floor;                    /* DeallocationStack */
    sp[4] = (uint64_t)base;                     /* StackLimit        */
    sp[5] = (uint64_t)(base + size);            /* StackBase         */
    sp[6] = ~(uint64_t)0;                       /* ExceptionList: empty */
    sp[7] = (uint64_t)(uintptr_t)entry;
    sp[8] = (uint64_t)(uintptr_t)arg;
    sp[9] = sp[10] = sp[11] = 0;
    ctx->sp = sp;
}

#endif /* HSAFE__IMPL */
