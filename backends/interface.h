/* backends/interface.h - THE CONTEXT BACKEND CONTRACT. Comments only: no
 * code, included by nothing. What a new context backend must define, and
 * what it may rely on.
 *
 * A backend is one file in backends/, chosen by core/target.h (which sets
 * HSAFE__CTX_<NAME>) and included by hsafe.h before core/coro.h. Like every
 * part it has two halves:
 *
 *   #ifndef HSAFE__BACKEND_<NAME>_H            declaration half, every TU
 *   #define HSAFE__BACKEND_<NAME>_H
 *   ...
 *   #endif
 *   #if defined(HSAFE__IMPL) && !defined(HSAFE__BACKEND_<NAME>_IMPL)
 *   #define HSAFE__BACKEND_<NAME>_IMPL        implementation half, one TU
 *   ...
 *   #endif
 *
 * DECLARATION HALF must define:
 *   HSAFE__BACKEND_NAME   a string for hsafe_config_string(), e.g.
 *                         "asm/x86_64-sysv"
 *   HSAFE__CTX_MIN_STACK  smallest stack (bytes) a context can run on
 *   hsafe__ctx            a type holding one suspended context; it lives
 *                         inside hsafe_coro (two of them), so its size is
 *                         part of the coroutine's layout
 *   uintptr_t hsafe__ctx_switch(hsafe__ctx *save, hsafe__ctx *to, uintptr_t v)
 *                         static inline: suspend the running context into
 *                         *save, resume *to, hand it v; returns the value
 *                         handed back when something switches to *save.
 *                         Must keep every callee-saved register of the ABI
 *                         (or declare it clobbered), keep the stack aligned
 *                         as the ABI requires, and be safe to inline into
 *                         any caller. It must not call anything: it runs
 *                         with the registers of a run that is being wiped.
 *
 * IMPLEMENTATION HALF must define:
 *   void hsafe__ctx_make(hsafe__ctx *ctx, void *lo, size_t size,
 *                        void (*entry)(uintptr_t first, void *arg), void *arg)
 *                         prepare *ctx so that the first hsafe__ctx_switch
 *                         to it calls entry(v, arg) on the stack
 *                         [lo, lo + size) (any alignment of lo and size;
 *                         size >= HSAFE__CTX_MIN_STACK). entry never
 *                         returns (core/coro.h switches away for good).
 *
 * MAY define (the core checks with #if defined):
 *   HSAFE__CTX_HAS_LINK and
 *   void hsafe__ctx_link(hsafe__ctx *ctx, hsafe__ctx *resumer)
 *                         let unwinders (gdb, the C++ runtime) walk from a
 *                         coroutine's first frame into its resumer's stack
 *                         (CFI through a link the trampoline reads).
 *   HSAFE__CTX_MOVABLE    a suspended context may be copied to another
 *                         hsafe__ctx and resumed from the copy (the asm
 *                         backends: a saved context is a stack pointer);
 *                         the scheduler then hands the thread from task
 *                         to task without passing through its own context
 *                         (core/run.h, hsafe__handoff_clear).
 *   HSAFE__CTX_NEEDS_FLOOR and then it may call
 *   uintptr_t hsafe__ctx_stack_floor(uintptr_t lo)
 *                         which the core defines (core/thread.h): where the
 *                         allocation holding the stack at lo begins (the
 *                         Windows backend describes it in the TEB).
 *
 * MAY RELY ON: core/target.h's flags (HSAFE__CET_IBT, ...), core/base.h,
 * and, in the implementation half, nothing else of hsafe's. It must not
 * call into the core, the CPU file or the OS layer; a global asm symbol it
 * defines is named hsafe__<backend>_... and is declared with
 * HSAFE__ASM_GLOBAL (core/base.h), so that private copies do not collide.
 *
 * INVARIANTS the core keeps: a context is switched to by one thread at a
 * time; a suspended context's stack is not touched by anyone else; the
 * core brackets each switch with the ASan/TSan fiber calls and registers
 * stacks with Valgrind (core/coro.h), so backends need not.
 */
