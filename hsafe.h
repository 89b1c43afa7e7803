/* hsafe.h - run C code on stacks it controls, and leave nothing behind.
 * Version 0.1.0. MIT license (text at the end of this file).
 *
 * QUICK START
 *   In exactly one .c file:
 *       #define HSAFE_IMPLEMENTATION
 *       #include "hsafe.h"
 *   Everywhere else just #include "hsafe.h". Or vendor dist/hsafe.h, the
 *   same library as one self-contained file.
 *
 *   static uintptr_t derive(void *arg) { ...secrets on the stack...; return 0; }
 *   hsafe_pool pool;
 *   hsafe_pool_config cfg = {0};               // zero = defaults
 *   hsafe_pool_init(&pool, &cfg);
 *   int rc = hsafe_run(&pool, derive, &ctx, NULL);  // runs on a pooled stack,
 *                                              // then wipes what it wrote
 *   hsafe_pool_destroy(&pool);
 *
 * WHAT IT GIVES YOU
 *   1. Coroutines (hsafe_coro_*): stackful, asymmetric, on a stack you give;
 *      values pass both ways in registers. The switch is inlined into your
 *      code on the asm backend (a few ns per resume+yield).
 *   2. Stack pools (hsafe_pool_*): stacks from mmap with a guard region
 *      below each (64 KiB by default; or carved from memory you provide),
 *      reused, and all-zero while in the pool.
 *   3. Sanitized runs (hsafe_run*): call a function on a pooled stack, then
 *      wipe every byte it wrote there and clear the registers that could
 *      hold its data. hsafe_panic() inside ends the run with an error and a
 *      message; running off the stack hits the guard page and prints a
 *      clear diagnostic. hsafe_run_inplace() scrubs the native stack below
 *      the caller instead; hsafe_maybe_grow() switches to a pooled stack
 *      only when the current one is nearly full.
 *
 * BUILD OPTIONS (define before including; [global] = same in every
 * translation unit, [impl] = only where HSAFE_IMPLEMENTATION is defined)
 *   HSAFE_BACKEND_ASM        [global] hand-written asm switch (default where
 *                            the architecture has one)
 *   HSAFE_BACKEND_FCONTEXT   [global] Boost.Context's fcontext; link
 *                            -lboost_context (Debian: libboost-context-dev)
 *   HSAFE_BACKEND_UCONTEXT   [global] POSIX getcontext/swapcontext (default
 *                            where there is no asm backend)
 *   HSAFE_ASM_SAVE_FPU       [global] asm backend: give each coroutine its
 *                            own floating-point control state (x86_64 MXCSR
 *                            and x87 control word, aarch64 FPCR, ...; each
 *                            backend file says which). Off by default: the
 *                            control state then belongs to the thread; on
 *                            x86_64 saving it makes the switch 4x slower.
 *   HSAFE_WIPE_MEMSET_EXPLICIT [impl] wipe with memset_explicit, or the
 *                            platform's secure equivalent (explicit_bzero,
 *                            SecureZeroMemory) when the libc lacks it
 *                            (default)
 *   HSAFE_WIPE_VOLATILE      [impl] wipe with a volatile store loop
 *   HSAFE_NO_VALGRIND        [impl] do not register stacks with Valgrind
 *                            even when <valgrind/valgrind.h> is present
 *   HSAFE_API                [global] decoration of public functions
 *                            (default: extern)
 *   HSAFE_PRIVATE            [global] every public function static: for a
 *                            library that embeds its own private copy in one
 *                            translation unit (docs/guide.md, "Embedding a
 *                            private copy"); not with HSAFE_API
 * Mixing [global] options between translation units is a link error that
 * names the option (undefined reference to hsafe_abi_<OPTION>_is_<value>).
 *   Sanitizer support (ASan fiber switching, TSan fibers) turns itself on
 *   when the translation unit is compiled with -fsanitize=address/thread.
 *
 * BACKENDS x ARCHITECTURES (what the test suite runs: natively on x86_64,
 * under qemu-user elsewhere; details in docs/portability.md)
 *                asm            fcontext        ucontext
 *   x86_64       yes (default)  yes             yes
 *   aarch64      yes (default)  not tested      yes
 *   riscv64      yes (default)  not tested      yes
 *   armhf        yes (default)  not tested      yes
 *   i386/i686    yes (default)  not tested      yes
 *   ppc64le      yes (default)  not tested      yes
 *   s390x        yes (default)  not tested      yes
 *   x86_64 Windows (mingw-w64, under wine): asm only (docs/windows.md)
 *   other glibc  -              -               yes (default)
 *   -fcf-protection=full (CET shadow stacks): ucontext is chosen; asking
 *   for asm there is a compile error
 *   wasm, hermit: refused at compile time; their stacks cannot be switched
 *   or wiped the way hsafe needs.
 *
 * WHAT HSAFE DOES NOT DO
 *   - It does not wipe copies your code makes elsewhere: on the heap, in
 *     other threads, in kernel buffers, in files.
 *   - Signals delivered during a run write their frame on the run's stack
 *     (wiped with it), or, for handlers installed with SA_ONSTACK, on the
 *     thread's alternate signal stack. hsafe sets up a guarded one per
 *     thread that runs hsafe_run (for its overflow diagnostic) and wipes it
 *     after a run that delivered a signal on it; an alternate signal stack
 *     the thread already had is the program's, and hsafe does not wipe it.
 *     Copies a handler makes elsewhere are not wiped either.
 *     HSAFE_RUN_BLOCK_SIGNALS blocks asynchronous signals during a run.
 *   - A frame larger than a stack's guard region (64 KiB by default) can
 *     jump it and write below it unnoticed: build code that runs on hsafe's
 *     stacks with -fstack-clash-protection (docs/guide.md, "Overflow").
 *   - longjmp out of a run or a coroutine skips the switch back and the
 *     wipe: do not do it; end a run with hsafe_panic(). A C++ exception
 *     that leaves a coroutine's function ends the program (std::terminate),
 *     as it would leaving a thread's function (tested on x86_64 and
 *     aarch64).
 *   - Coroutines are not threads: a coroutine is resumed by one thread at a
 *     time, and must not be resumed while it runs. Do not keep the address
 *     of a thread-local across a yield if the coroutine may be resumed by
 *     another thread.
 *
 * TEST AND BENCHMARK KNOBS (never in production builds; [impl])
 *   HSAFE_TEST_NO_WIPE       skip the stack wipe and the register clearing,
 *                            so residue tests can prove they would see a
 *                            secret that was left behind
 *   HSAFE_TEST_NO_ASAN_FIBER, HSAFE_TEST_NO_TSAN_FIBER,
 *   HSAFE_TEST_NO_UNPOISON=<bits>, HSAFE_TEST_NO_VALGRIND_REGISTER,
 *   HSAFE_TEST_NO_VALGRIND_DEFINED=<bits>
 *                            compile one sanitizer or Valgrind annotation
 *                            out, so tests/sanitize/ can prove the tool
 *                            reports without it
 *   HSAFE_BENCH_FULL_WIPE    release wipes the whole stack every time (the
 *                            naive scheme hsafe is measured against)
 *
 * ERRORS
 *   Functions that can fail return 0 (HSAFE_OK) or a negative HSAFE_E*
 *   code; hsafe_strerror() describes it. Misuse that cannot be returned
 *   (yielding outside the coroutine, panicking outside a run) prints
 *   "hsafe: misuse: ..." on stderr and aborts.
 *
 * CONTENTS: the parts of hsafe, in the order included below (dist/hsafe.h
 * holds each once, in this order). Each file says in its first lines what
 * it holds and what it uses. Where does a change go?
 *   core/target.h     the only reader of architecture, OS, libc and CET
 *                     macros; picks the context backend
 *   core/base.h       HSAFE_API, the private-copy mode, the ABI tag, misuse
 *   api/...           THE PUBLIC API, one file per part, each function
 *                     documented where it is declared: errors.h, coro.h,
 *                     wipe.h, pool.h, run.h, task.h, chan.h
 *   core/sanitize.h   ASan/TSan/Valgrind hooks
 *   backends/...      context switching, one file per backend
 *                     (contract: backends/interface.h)
 *   core/coro.h       the coroutine object, inline resume/yield
 *   api/gen.h         generators: API and object (after the coroutine
 *                     object it holds)
 *   tasks/types.h     the task, scope and loop objects
 *   api/combine.h     combinators: API and the call record (after the
 *                     task object it holds)
 *   --- the rest is the implementation (HSAFE_IMPLEMENTATION) ---
 *   cpu/...           register clearing, fast zero scan, one file per
 *                     architecture (contract: cpu/interface.h)
 *   core/wipe.h       hsafe_wipe and the zero scan
 *   core/hooks.h      what the OS layer and the core exchange
 *   os/...            mappings, guards, residency, signals: posix.h,
 *                     win32.h (contract: os/interface.h)
 *   core/thread.h     the one thread-local root
 *   core/errors.h, core/config.h, core/pool.h, core/run.h,
 *   core/overflow.h, core/grow.h    the core, one concern each
 *   core/gen.h        generators (next, yield, close; a producer's
 *                     blocking calls relayed to the task pulling it)
 *   tasks/timer.h, tasks/io.h, tasks/sched.h   scoped tasks: deadlines,
 *                     fd readiness and the clock, the scheduler and scopes
 *                     (tasks/remote.h, between io.h and sched.h: posts and
 *                     wakeups from other threads)
 *   tasks/combine.h   combinators: join all, try-join, race, race_ok,
 *                     timeout
 *   tasks/chan.h      channels and select (api/chan.h)
 */

/* The version (the rest of this file is the list of parts). */
#ifndef HSAFE_H
#define HSAFE_H
#define HSAFE_VERSION_MAJOR 0
#define HSAFE_VERSION_MINOR 1
#define HSAFE_VERSION_PATCH 0
#define HSAFE_VERSION "0.1.0"
#endif

/* Every part guards itself: a declaration half once per translation unit,
 * an implementation half once, in the inclusion that defines HSAFE__IMPL
 * (core/target.h: the first with HSAFE_IMPLEMENTATION). So this file may be
 * included again with HSAFE_IMPLEMENTATION after a plain inclusion. */

/* ---- declarations: every translation unit ---------------------------- */
#include "core/target.h"
#include "core/base.h"
#include "api/errors.h"
#include "api/coro.h"
#include "api/wipe.h"
#include "api/pool.h"
#include "api/run.h"
#include "api/task.h"
#include "api/chan.h"
#include "core/sanitize.h"
#if defined(HSAFE__CTX_ASM_X86_64_SYSV)
#  include "backends/asm_x86_64_sysv.h"
#elif defined(HSAFE__CTX_ASM_X86_64_WIN64)
#  include "backends/asm_x86_64_win64.h"
#elif defined(HSAFE__CTX_ASM_AARCH64)
#  include "backends/asm_aarch64.h"
#elif defined(HSAFE__CTX_ASM_RISCV64)
#  include "backends/asm_riscv64.h"
#elif defined(HSAFE__CTX_ASM_ARM)
#  include "backends/asm_arm.h"
#elif defined(HSAFE__CTX_ASM_I386)
#  include "backends/asm_i386.h"
#elif defined(HSAFE__CTX_ASM_PPC64LE)
#  include "backends/asm_ppc64le.h"
#elif defined(HSAFE__CTX_ASM_S390X)
#  include "backends/asm_s390x.h"
#elif defined(HSAFE__CTX_FCONTEXT)
#  include "backends/fcontext.h"
#elif defined(HSAFE__CTX_UCONTEXT)
#  include "backends/ucontext.h"
#endif
#include "core/coro.h"
#include "api/gen.h"
#include "tasks/types.h"
#include "api/combine.h"

/* ---- implementation: one translation unit ----------------------------- */
#if defined(HSAFE__IMPL)
#  if defined(HSAFE__ARCH_X86_64)
#    include "cpu/x86_64.h"
#  elif defined(HSAFE__ARCH_AARCH64)
#    include "cpu/aarch64.h"
#  elif defined(HSAFE__ARCH_RISCV64)
#    include "cpu/riscv64.h"
#  elif defined(HSAFE__ARCH_ARM)
#    include "cpu/arm.h"
#  elif defined(HSAFE__ARCH_I386)
#    include "cpu/i386.h"
#  elif defined(HSAFE__ARCH_PPC64LE)
#    include "cpu/ppc64le.h"
#  elif defined(HSAFE__ARCH_S390X)
#    include "cpu/s390x.h"
#  else
#    include "cpu/generic.h"
#  endif
#  include "core/wipe.h"
#  include "core/hooks.h"
#  if defined(HSAFE__OS_WIN32)
#    include "os/win32.h"
#  else
#    include "os/posix.h"
#  endif
#  include "core/thread.h"
#  include "core/errors.h"
#  include "core/config.h"
#  include "core/pool.h"
#  include "core/run.h"
#  include "core/overflow.h"
#  include "core/grow.h"
#  include "core/gen.h"
#  include "tasks/timer.h"
#  include "tasks/io.h"
#  include "tasks/remote.h"
#  include "tasks/sched.h"
#  include "tasks/combine.h"
#  include "tasks/chan.h"
#endif


/*
 * MIT License
 *
 * Copyright (c) 2026 the hsafe developers
 *
 * Permission is hereby granted, free of charge, to any person obtaining a
 * copy of this software and associated documentation files (the
 * "Software"), to deal in the Software without restriction, including
 * without limitation the rights to use, copy, modify, merge, publish,
 * distribute, sublicense, and/or sell copies of the Software, and to permit
 * persons to whom the Software is furnished to do so, subject to the
 * following conditions:
 *
 * The above copyright notice and this permission notice shall be included
 * in all copies or substantial portions of the Software.
 *
 * THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS
 * OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
 * MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN
 * NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
 * DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
 * OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE
 * USE OR OTHER DEALINGS IN THE SOFTWARE.
 */

