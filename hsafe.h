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
 *   HSAFE_TEST_NO_WIPE       [impl] TESTS ONLY: skip the stack wipe and the
 *                            register clearing, so residue tests can prove
 *                            they would see a secret that was left behind
 *   HSAFE_TEST_NO_ASAN_FIBER, HSAFE_TEST_NO_TSAN_FIBER,
 *   HSAFE_TEST_NO_UNPOISON=<bits>, HSAFE_TEST_NO_VALGRIND_REGISTER,
 *   HSAFE_TEST_NO_VALGRIND_DEFINED=<bits>
 *                            [impl] TESTS ONLY: compile one sanitizer or
 *                            Valgrind annotation out, so tests/sanitize/
 *                            can prove the tool reports without it
 *   HSAFE_BENCH_FULL_WIPE    [impl] BENCHMARKS ONLY: release wipes the whole
 *                            stack every time (the naive scheme hsafe is
 *                            measured against)
 *   HSAFE_API                [global] decoration of public functions
 *                            (default: extern)
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
 * ERRORS
 *   Functions that can fail return 0 (HSAFE_OK) or a negative HSAFE_E*
 *   code; hsafe_strerror() describes it. Misuse that cannot be returned
 *   (yielding outside the coroutine, panicking outside a run) prints
 *   "hsafe: misuse: ..." on stderr and aborts.
 */
#ifndef HSAFE_H
#define HSAFE_H

/* The implementation needs POSIX and GNU declarations (mmap, sigaltstack,
 * pthread_getattr_np); ask for them if nothing was included before us. */
#if defined(HSAFE_IMPLEMENTATION) && !defined(_GNU_SOURCE)
#  define _GNU_SOURCE 1
#endif

/* Targets refused outright, before any header is needed. */
#if defined(__wasm__) || defined(__wasm32__) || defined(__wasm64__) || defined(__EMSCRIPTEN__)
#  error "hsafe: WebAssembly is not supported: its call stack is managed by the engine and cannot be switched to or wiped"
#endif
#if defined(__hermit__)
#  error "hsafe: HermitOS is not supported: its stacks do not behave like the others' (no guard pages, no switch)"
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>

#define HSAFE_VERSION_MAJOR 0
#define HSAFE_VERSION_MINOR 1
#define HSAFE_VERSION_PATCH 0
#define HSAFE_VERSION "0.1.0"

#ifndef HSAFE_API
#  define HSAFE_API extern
#endif

#if !defined(__GNUC__)
#  error "hsafe: needs a GNU C compatible compiler (gcc or clang): it uses GNU inline asm"
#endif

/* =====================================================================
 * >>hsafe:select  The one place that looks at the architecture and OS.
 * Layer 1: what the target can do. Layer 2: what the user asked for.
 * Layer 3: one HSAFE__BACKEND_* macro and one backend file.
 * ===================================================================== */

#if defined(__x86_64__) && !defined(_WIN32) && !defined(__CYGWIN__)
#  define HSAFE__CAN_ASM 1
#elif defined(__x86_64__) && defined(_WIN32)
#  define HSAFE__CAN_ASM 1
#elif defined(__aarch64__) && !defined(_WIN32) && !defined(__APPLE__)
#  define HSAFE__CAN_ASM 1
#elif defined(__riscv) && __riscv_xlen == 64 && defined(__ELF__) && \
      !defined(__riscv_zicfiss) && !defined(__riscv_zicfilp)
#  define HSAFE__CAN_ASM 1
#elif defined(__arm__) && defined(__ELF__) && (defined(__thumb2__) || !defined(__thumb__)) && \
      defined(__ARM_ARCH) && __ARM_ARCH >= 6
#  define HSAFE__CAN_ASM 1
#elif defined(__i386__) && defined(__ELF__)
#  define HSAFE__CAN_ASM 1
#elif defined(__powerpc64__) && defined(_CALL_ELF) && _CALL_ELF == 2 && defined(__ELF__)
#  define HSAFE__CAN_ASM 1
#elif defined(__s390x__) && defined(__ELF__)
#  define HSAFE__CAN_ASM 1
#endif
#if defined(__GLIBC__) || defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__)
#  define HSAFE__CAN_UCONTEXT 1
#endif

#if (defined(HSAFE_BACKEND_ASM) + defined(HSAFE_BACKEND_FCONTEXT) + defined(HSAFE_BACKEND_UCONTEXT)) > 1
#  error "hsafe: define at most one of HSAFE_BACKEND_ASM, HSAFE_BACKEND_FCONTEXT, HSAFE_BACKEND_UCONTEXT"
#endif
#if defined(HSAFE_BACKEND_ASM) && !defined(HSAFE__CAN_ASM)
#  error "hsafe: HSAFE_BACKEND_ASM was requested but hsafe has no assembly for this target; use HSAFE_BACKEND_UCONTEXT or HSAFE_BACKEND_FCONTEXT"
#endif
#if defined(HSAFE_BACKEND_UCONTEXT) && !defined(HSAFE__CAN_UCONTEXT)
#  error "hsafe: HSAFE_BACKEND_UCONTEXT was requested but this target has no ucontext (getcontext/swapcontext); use HSAFE_BACKEND_ASM (or HSAFE_BACKEND_FCONTEXT with Boost.Context)"
#endif
#if defined(HSAFE_BACKEND_ASM) && defined(__CET__) && (__CET__ & 2)
#  error "hsafe: the asm backend does not switch CET shadow stacks (-fcf-protection=full or =return); build with -fcf-protection=branch, or use HSAFE_BACKEND_UCONTEXT"
#endif

#if defined(HSAFE_BACKEND_FCONTEXT)
#  define HSAFE__BACKEND_FCONTEXT 1
#elif defined(HSAFE_BACKEND_UCONTEXT) && defined(HSAFE__CAN_UCONTEXT)
#  define HSAFE__BACKEND_UCONTEXT 1
#elif defined(HSAFE_BACKEND_ASM) || (defined(HSAFE__CAN_ASM) && !(defined(__CET__) && (__CET__ & 2)))
#  define HSAFE__BACKEND_ASM 1
#elif defined(HSAFE__CAN_UCONTEXT)
#  define HSAFE__BACKEND_UCONTEXT 1
#else
#  error "hsafe: no context-switch backend for this target (no asm backend and no ucontext); see the BACKENDS table in hsafe.h"
#endif

#include "backends/select.h"

/* Sanitizers in this translation unit (they change what the inline switch
 * does, not the layout of any struct). */
#if defined(__SANITIZE_ADDRESS__)
#  define HSAFE__ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define HSAFE__ASAN 1
#  endif
#endif
#if defined(__SANITIZE_THREAD__)
#  define HSAFE__TSAN 1
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define HSAFE__TSAN 1
#  endif
#endif
/* TESTS ONLY (tests/sanitize/): HSAFE_TEST_NO_ASAN_FIBER,
 * HSAFE_TEST_NO_TSAN_FIBER, HSAFE_TEST_NO_UNPOISON=<bits>,
 * HSAFE_TEST_NO_VALGRIND_REGISTER, HSAFE_TEST_NO_VALGRIND_DEFINED=<bits>
 * [impl] compile one annotation out, so a test can prove the tool reports
 * without it. */
#if defined(HSAFE__ASAN) && !defined(HSAFE_TEST_NO_ASAN_FIBER)
#  define HSAFE__ASAN_FIBER 1
#endif
#if defined(HSAFE__TSAN) && defined(HSAFE_TEST_NO_TSAN_FIBER)
#  undef HSAFE__TSAN
#endif
#if defined(HSAFE_TEST_NO_UNPOISON)   /* bits: 1 init, 2 fini, 4 release */
#  define HSAFE__TEST_NO_UNPOISON (HSAFE_TEST_NO_UNPOISON)
#else
#  define HSAFE__TEST_NO_UNPOISON 0
#endif
#if defined(HSAFE_TEST_NO_VALGRIND_DEFINED)   /* bits: 2 fini, 4 release */
#  define HSAFE__TEST_NO_VG_DEFINED (HSAFE_TEST_NO_VALGRIND_DEFINED)
#else
#  define HSAFE__TEST_NO_VG_DEFINED 0
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* =====================================================================
 * >>hsafe:api  Public API
 * ===================================================================== */

/* ---- Errors ---------------------------------------------------------- */

/* The one table of error codes: name, value, and the sentence
 * hsafe_strerror() returns. The enum below is made from it. */
#define HSAFE__ERRORS(X)                                                               \
    X(HSAFE_OK,          0, "success")                                                \
    X(HSAFE_EINVAL,     -1, "invalid argument (NULL, zero, too small or too large)")  \
    X(HSAFE_ENOMEM,     -2, "out of memory: the system refused a mapping")            \
    X(HSAFE_ESTATE,     -3, "object is in the wrong state for this call (resuming "   \
                            "a running coroutine, releasing a stack twice)")          \
    X(HSAFE_EFINISHED,  -4, "coroutine has already finished")                         \
    X(HSAFE_EBUSY,      -5, "pool exhausted: every stack is handed out and the "      \
                            "capacity is reached")                                    \
    X(HSAFE_EOWNER,     -6, "stack belongs to another pool")                          \
    X(HSAFE_EINUSE,     -7, "pool still has stacks handed out")                       \
    X(HSAFE_EPANIC,     -8, "run ended with hsafe_panic()")                           \
    X(HSAFE_ELOCK,      -9, "mlock failed (check RLIMIT_MEMLOCK / ulimit -l)")        \
    X(HSAFE_ENOTSUP,   -10, "not supported on this platform or build")

enum hsafe_error {
#define HSAFE__ERROR_ENUM(name, value, text) name = (value),
    HSAFE__ERRORS(HSAFE__ERROR_ENUM)
#undef HSAFE__ERROR_ENUM
    HSAFE__ERROR_END_ = 1       /* not an error: ends the list */
};

/* A static English sentence for an error code (or a status >= 0). Never NULL. */
HSAFE_API const char *hsafe_strerror(int err);

/* What was selected at compile time and detected at run time, e.g.
 * "hsafe 0.1.0 backend=asm/x86_64-sysv cpu=x86_64 regs=gpr,zmm0-31,k0-7,x87
 *  wipe=explicit_bzero asan=off tsan=off valgrind=on guard=madv_guard".
 * The string is static; tests print it first. Each field and its values:
 * docs/guide.md, "The configuration string". */
HSAFE_API const char *hsafe_config_string(void);

/* ---- Coroutines ------------------------------------------------------ */

/* Status of a coroutine, as returned by hsafe_coro_status() and by
 * hsafe_coro_resume() (which returns SUSPENDED or FINISHED). */
enum hsafe_coro_status {
    HSAFE_CORO_DEAD      = 0,   /* not initialised, or hsafe_coro_fini() done */
    HSAFE_CORO_SUSPENDED = 1,   /* created, or yielded: may be resumed */
    HSAFE_CORO_RUNNING   = 2,   /* running, or resuming another coroutine */
    HSAFE_CORO_FINISHED  = 3    /* its function returned */
};

typedef struct hsafe_coro hsafe_coro;

/* A coroutine's function. `first` is the value of the first resume; the
 * return value is handed to the last resume as its `out`. */
typedef uintptr_t (*hsafe_coro_fn)(hsafe_coro *co, uintptr_t first);

/* The coroutine object. It may live anywhere (stack, heap, static) while
 * the coroutine exists; the fields are private. */
struct hsafe_coro {
    hsafe__ctx ctx;             /* the coroutine, while suspended */
    hsafe__ctx caller;          /* its resumer, while it runs */
    int status;                 /* enum hsafe_coro_status */
    hsafe_coro_fn fn;
    void *user;
    unsigned char *stack_lo;
    size_t stack_size;
    uintptr_t reserved_;
    /* sanitizer bookkeeping, present in every build so the layout is one */
    void *asan_fake;
    const void *asan_caller_lo;
    size_t asan_caller_size;
    void *tsan_fiber;
    void *tsan_caller;
    unsigned vg_stack_id;
};

/* Smallest stack hsafe_coro_init accepts, in bytes. */
#define HSAFE_CORO_MIN_STACK ((size_t)HSAFE__CTX_MIN_STACK)

/* Prepare `co` to run fn on the given stack (lowest address `stack`,
 * `stack_size` bytes; any alignment). It starts suspended: the first
 * hsafe_coro_resume() calls fn. `user` is returned by hsafe_coro_user().
 * The stack must stay valid until the coroutine finishes or is finalised.
 * co must not be a coroutine that is running.
 * Errors: HSAFE_EINVAL (NULL co, stack or fn; stack_size below
 * HSAFE_CORO_MIN_STACK, or running past the end of the address space). */
HSAFE_API int hsafe_coro_init(hsafe_coro *co, void *stack, size_t stack_size,
                              hsafe_coro_fn fn, void *user);

/* Release what hsafe_coro_init registered (sanitizer and Valgrind stack
 * records). A suspended coroutine is abandoned without unwinding: nothing
 * on its stack runs again. Call it before reusing or freeing the stack.
 * Errors: HSAFE_EINVAL (NULL); HSAFE_ESTATE (the coroutine is running). */
HSAFE_API int hsafe_coro_fini(hsafe_coro *co);

/* Current status (enum hsafe_coro_status); HSAFE_CORO_DEAD for NULL. */
static inline int hsafe_coro_status(const hsafe_coro *co) { return co ? co->status : HSAFE_CORO_DEAD; }

/* The `user` pointer given to hsafe_coro_init (NULL for NULL). */
static inline void *hsafe_coro_user(const hsafe_coro *co) { return co ? co->user : NULL; }

/* Resume a suspended coroutine with value `in`; returns when it yields
 * (HSAFE_CORO_SUSPENDED, *out = the yielded value) or returns from its
 * function (HSAFE_CORO_FINISHED, *out = its return value). out may be NULL;
 * on an error *out is set to 0.
 * Errors: HSAFE_EINVAL (NULL co, or never initialised); HSAFE_EFINISHED
 * (already finished); HSAFE_ESTATE (running: it is the caller, or one of
 * the caller's resumers). */
static inline int hsafe_coro_resume(hsafe_coro *co, uintptr_t in, uintptr_t *out);

/* From inside coroutine `co`: hand `value` to the resumer and suspend.
 * Returns the value of the next resume. Calling it from anywhere but co's
 * own stack while co runs is misuse and aborts with a message. */
static inline uintptr_t hsafe_coro_yield(hsafe_coro *co, uintptr_t value);

/* ---- Wiping ---------------------------------------------------------- */

/* Set len bytes at p to zero in a way the compiler cannot remove, using the
 * wipe backend chosen at compile time (see hsafe_config_string()). NULL
 * with len 0 is fine; NULL with len > 0 is ignored. */
HSAFE_API void hsafe_wipe(void *p, size_t len);

/* ---- Stack pools ----------------------------------------------------- */

#define HSAFE_DEFAULT_STACK_SIZE ((size_t)256 * 1024)
#define HSAFE_DEFAULT_GUARD_SIZE ((size_t)64 * 1024)
#define HSAFE_DEFAULT_CAPACITY   ((size_t)16)
#define HSAFE_MAX_STACK_SIZE     ((size_t)1 << 30)   /* 1 GiB */
#define HSAFE_MAX_CAPACITY       ((size_t)1 << 20)

/* Pool flags (hsafe_pool_config.flags). */
#define HSAFE_POOL_MLOCK    0x1u  /* lock stacks in RAM so they never reach swap
                                     (MLOCK_ONFAULT where the kernel has it) */
#define HSAFE_POOL_DONTDUMP 0x2u  /* keep stacks out of core dumps (MADV_DONTDUMP) */
#define HSAFE_POOL_NO_GUARD 0x4u  /* no guard region below each mmap'd stack */

/* Zero-initialise and set what you need: zero means "default". */
typedef struct hsafe_pool_config {
    size_t stack_size;      /* usable bytes per stack; 0 = 256 KiB; rounded up
                               to whole pages for mmap'd stacks */
    size_t capacity;        /* most stacks alive at once; 0 = 16, or as many
                               as fit in `memory` */
    unsigned flags;         /* HSAFE_POOL_* */
    void *memory;           /* caller memory to carve stacks from (no mmap,
                               no guard pages), or NULL to use mmap */
    size_t memory_size;
    size_t guard_size;      /* bytes of guard below each mmap'd stack; 0 =
                               64 KiB; rounded up to whole pages. A frame
                               larger than the guard can jump it: see the
                               guard notes in docs/guide.md */
} hsafe_pool_config;

typedef struct hsafe_pool hsafe_pool;

/* Where a stack of a pool is in its life (hsafe_stack.state). */
enum hsafe__stack_state {
    HSAFE__STACK_UNMAPPED = 0,      /* slot not created yet */
    HSAFE__STACK_FREE     = 1,      /* in the pool, all zero */
    HSAFE__STACK_LENT     = 2       /* handed out by hsafe_pool_acquire */
};

/* One stack of a pool. Fields are private; use the accessors below. */
typedef struct hsafe_stack {
    unsigned char *lo;              /* lowest usable byte */
    size_t size;                    /* usable bytes */
    size_t high_water;              /* deepest non-zero byte ever seen, from the top */
    size_t last_used;               /* the same, for the last release */
    hsafe_pool *pool;
    struct hsafe_stack *next_free;
    unsigned state;                 /* enum hsafe__stack_state */
    unsigned vg_id;
    unsigned zero_streak;           /* releases in a row with trimmable zero pages */
} hsafe_stack;

/* The pool object; caller memory, fields private. */
struct hsafe_pool {
    uint32_t magic;
    unsigned flags;
    size_t stack_size, guard_size, capacity, created, in_use;
    size_t slots_bytes;
    hsafe_stack *slots;             /* capacity descriptors */
    hsafe_stack *free_list;
    unsigned char *memory;          /* caller memory, or NULL */
    size_t memory_size;
    int guard_kind;                 /* the OS layer's HSAFE__GUARD_* */
    int residency;                  /* how release finds the used part */
    int pagemap_fd;
    uintptr_t span_lo, span_hi;     /* all its mappings lie in here (for the
                                       fault handler's registry) */
};

/* Statistics; see hsafe_pool_stats(). */
typedef struct hsafe_pool_statistics {
    size_t in_use;        /* stacks handed out now */
    size_t free;          /* stacks created and waiting in the pool */
    size_t created;       /* stacks created so far (in_use + free) */
    size_t capacity;      /* most stacks the pool will create */
    size_t stack_size;    /* usable bytes per stack */
    size_t high_water;    /* deepest use of any stack, bytes from the top */
    size_t guard_size;    /* bytes of guard below each stack (0: none) */
    const char *guard;    /* "madv_guard", "mprotect", "page_guard" or "none" */
} hsafe_pool_statistics;

/* Create a pool in caller memory `pool`. Stacks are created lazily, on
 * acquire, up to the capacity. With cfg->memory, stacks and their
 * descriptors are carved from that buffer (16-byte aligned, no guard
 * pages, no system calls). cfg may be NULL for all defaults.
 * Errors: HSAFE_EINVAL (NULL pool; stack_size above HSAFE_MAX_STACK_SIZE or
 * below HSAFE_CORO_MIN_STACK; capacity above HSAFE_MAX_CAPACITY; memory too
 * small for one stack; memory_size without memory); HSAFE_ENOMEM (no
 * memory for the descriptors); HSAFE_ENOTSUP (a flag this platform lacks). */
HSAFE_API int hsafe_pool_init(hsafe_pool *pool, const hsafe_pool_config *cfg);

/* Wipe and unmap every stack and invalidate the pool.
 * Errors: HSAFE_EINVAL (NULL or not a pool); HSAFE_EINUSE (stacks are still
 * handed out: nothing is destroyed, release them first). */
HSAFE_API int hsafe_pool_destroy(hsafe_pool *pool);

/* Hand out an all-zero stack, creating one if none is free.
 * Errors: HSAFE_EINVAL (NULL or not a pool); HSAFE_EBUSY (capacity reached,
 * all handed out); HSAFE_ENOMEM (mmap failed); HSAFE_ELOCK (mlock failed). */
HSAFE_API int hsafe_pool_acquire(hsafe_pool *pool, hsafe_stack **out);

/* Wipe what was written on the stack and put it back, all-zero.
 * Errors: HSAFE_EINVAL (NULL or not a pool/stack); HSAFE_EOWNER (the stack
 * is from another pool); HSAFE_ESTATE (the stack is not handed out, e.g.
 * released twice). */
HSAFE_API int hsafe_pool_release(hsafe_pool *pool, hsafe_stack *stack);

/* Fill *out. Errors: HSAFE_EINVAL (NULL or not a pool). */
HSAFE_API int hsafe_pool_stats(const hsafe_pool *pool, hsafe_pool_statistics *out);

/* Lowest usable address, usable size, and the deepest use seen so far
 * (bytes from the top, measured at each release) of a stack. */
static inline void *hsafe_stack_base(const hsafe_stack *s) { return s ? s->lo : NULL; }
static inline size_t hsafe_stack_size(const hsafe_stack *s) { return s ? s->size : 0; }
static inline size_t hsafe_stack_high_water(const hsafe_stack *s) { return s ? s->high_water : 0; }

/* ---- Sanitized runs -------------------------------------------------- */

typedef uintptr_t (*hsafe_run_fn)(void *arg);

/* Run flags (hsafe_run_ex). */
#define HSAFE_RUN_BLOCK_SIGNALS 0x1u  /* block asynchronous signals during the
                                         run, so no signal frame lands on it */
#define HSAFE_RUN_CATCH_ABORT   0x2u  /* abort() inside the run (a failed
                                         assert, say) ends the run like
                                         hsafe_panic("abort() called inside
                                         the run") instead of the process.
                                         Installs a process-wide SIGABRT
                                         handler on first use that passes
                                         every other abort on unchanged.
                                         The innermost run decides: an
                                         abort inside a nested run without
                                         this flag ends the process. */

/* Filled by hsafe_run_ex. */
typedef struct hsafe_run_info {
    uintptr_t result;       /* fn's return value (0 after a panic) */
    size_t stack_used;      /* deepest non-zero byte the run left, from the top */
    char message[256];      /* the panic message, or "" */
} hsafe_run_info;

/* Run fn(arg) on a stack from `pool`; afterwards every byte it wrote on
 * that stack is wiped and the scratch registers are cleared before this
 * returns. *result (may be NULL) gets fn's return value.
 * Returns HSAFE_OK, HSAFE_EPANIC (fn called hsafe_panic), or the errors of
 * hsafe_pool_acquire; HSAFE_EINVAL for NULL pool or fn. */
HSAFE_API int hsafe_run(hsafe_pool *pool, hsafe_run_fn fn, void *arg, uintptr_t *result);

/* hsafe_run with flags (HSAFE_RUN_*) and details in *info (may be NULL). */
HSAFE_API int hsafe_run_ex(hsafe_pool *pool, hsafe_run_fn fn, void *arg,
                           unsigned flags, hsafe_run_info *info);

/* Inside a run: end it now. The message (printf format) goes to the run's
 * info; cleanup handlers run in reverse order; the stack is wiped; the run
 * returns HSAFE_EPANIC. Outside a run it is misuse: it prints the message
 * and aborts. It ends the innermost run of the thread: called from a
 * coroutine that the run resumed on another stack, it abandons that
 * coroutine, which stays RUNNING (its stack is the caller's to wipe). */
#if defined(__MINGW32__) && !defined(__clang__)   /* gcc's "printf" is msvcrt's there */
HSAFE_API void hsafe_panic(const char *fmt, ...)
    __attribute__((noreturn, format(gnu_printf, 1, 2)));
#else
HSAFE_API void hsafe_panic(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));
#endif

/* A cleanup handler record; lives on the run's stack, in the frame that
 * pushes it. */
typedef struct hsafe_cleanup {
    void (*fn)(void *);
    void *arg;
    struct hsafe_cleanup *next;
} hsafe_cleanup;

/* Inside a run: register fn(arg) to run if the run panics, or when it
 * returns with the handler still registered. Handlers run newest first.
 * Outside a run it is misuse and aborts. A record still registered when
 * the run's function returns must outlive that function (static, heap, or
 * the caller's stack passed in through arg); one left in a frame on the
 * run's stack is misuse and aborts: pop it before returning. */
HSAFE_API void hsafe_cleanup_push(hsafe_cleanup *c, void (*fn)(void *), void *arg);

/* Unregister the newest handler, which must be c; run it if execute != 0.
 * Popping out of order or outside a run is misuse and aborts. */
HSAFE_API void hsafe_cleanup_pop(hsafe_cleanup *c, int execute);

/* In-place mode: call fn(arg) on the current stack, then zero scrub_bytes
 * of stack below this call's frame (where fn's frames were) and clear the
 * scratch registers. scrub_bytes must cover fn's deepest use and fit in the
 * current stack. Returns fn's result. scrub_bytes above HSAFE_MAX_STACK_SIZE
 * or above what remains of the current stack is misuse and aborts. */
HSAFE_API uintptr_t hsafe_run_inplace(hsafe_run_fn fn, void *arg, size_t scrub_bytes);

/* Bytes left between the stack pointer and the end of the current stack
 * (a pooled stack inside a run, else the thread's stack); 0 if unknown or
 * already past the end. With an unlimited RLIMIT_STACK the main thread's
 * stack counts as 256 MiB below its top (glibc would report terabytes of
 * address space that no program can fill). */
HSAFE_API size_t hsafe_stack_remaining(void);

/* Like Rust's stacker::maybe_grow: if at least `red_zone` bytes remain on
 * the current stack, call fn(arg) directly (returns HSAFE_OK); otherwise
 * run it as hsafe_run(pool, fn, arg, result) would, on a fresh pooled
 * stack that is wiped afterwards. Errors: those of hsafe_run. */
HSAFE_API int hsafe_maybe_grow(hsafe_pool *pool, size_t red_zone, hsafe_run_fn fn,
                               void *arg, uintptr_t *result);

/* =====================================================================
 * >>hsafe:inline  Fast paths (inlined into the caller); private helpers.
 * ===================================================================== */

HSAFE_API int hsafe__coro_resume_error(const hsafe_coro *co);
HSAFE_API void hsafe__misuse(const char *what) __attribute__((noreturn));

#if defined(HSAFE__ASAN_FIBER)
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old);
#endif
#if defined(HSAFE__TSAN)
void *__tsan_get_current_fiber(void);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif

#define HSAFE__UNLIKELY(x) __builtin_expect(!!(x), 0)

static inline int hsafe_coro_resume(hsafe_coro *co, uintptr_t in, uintptr_t *out)
{
    uintptr_t v;
#if defined(HSAFE__ASAN_FIBER)
    void *fake = NULL;
#endif
    if (HSAFE__UNLIKELY(!co || co->status != HSAFE_CORO_SUSPENDED)) {
        if (out) *out = 0;
        return hsafe__coro_resume_error(co);
    }
    co->status = HSAFE_CORO_RUNNING;
#if defined(HSAFE__TSAN)
    co->tsan_caller = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(co->tsan_fiber, 0);
#endif
#if defined(HSAFE__ASAN_FIBER)
    __sanitizer_start_switch_fiber(&fake, co->stack_lo, co->stack_size);
#endif
    v = hsafe__ctx_switch(&co->caller, &co->ctx, in);
#if defined(HSAFE__ASAN_FIBER)
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
    if (out) *out = v;
    return co->status;
}

static inline uintptr_t hsafe_coro_yield(hsafe_coro *co, uintptr_t value)
{
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    if (HSAFE__UNLIKELY(!co || co->status != HSAFE_CORO_RUNNING ||
                        here - (uintptr_t)co->stack_lo >= co->stack_size))
        hsafe__misuse("hsafe_coro_yield: not called from inside this coroutine "
                      "(it is not running, or this is another stack)");
    co->status = HSAFE_CORO_SUSPENDED;
#if defined(HSAFE__TSAN)
    __tsan_switch_to_fiber(co->tsan_caller, 0);
#endif
#if defined(HSAFE__ASAN_FIBER)
    __sanitizer_start_switch_fiber(&co->asan_fake, co->asan_caller_lo, co->asan_caller_size);
#endif
    value = hsafe__ctx_switch(&co->ctx, &co->caller, value);
#if defined(HSAFE__ASAN_FIBER)
    __sanitizer_finish_switch_fiber(co->asan_fake, &co->asan_caller_lo, &co->asan_caller_size);
#endif
    return value;
}

#ifdef __cplusplus
}
#endif

#endif /* HSAFE_H */

/* =====================================================================
 * >>hsafe:implementation
 * ===================================================================== */
#if defined(HSAFE_IMPLEMENTATION) && !defined(HSAFE__IMPLEMENTATION_DONE)
#define HSAFE__IMPLEMENTATION_DONE 1

#include <stdio.h>
#include <stdarg.h>
#include <errno.h>
#if defined(_WIN32)
#  include <windows.h>
#endif

#if defined(__GLIBC__) && !defined(__USE_GNU)
#  error "hsafe: the implementation needs GNU declarations: #define HSAFE_IMPLEMENTATION and include hsafe.h before any system header in that file, or compile it with -D_GNU_SOURCE"
/* Nothing below would compile: stop here, so this is the only error. */
#  define HSAFE__IMPLEMENTATION_STOP 1
#endif
#if !defined(HSAFE__IMPLEMENTATION_STOP)

/* CPU support: register clearing after a run. */
#if defined(__x86_64__)
#  include "backends/cpu_x86_64.h"
#elif defined(__aarch64__)
#  include "backends/cpu_aarch64.h"
#elif defined(__riscv) && __riscv_xlen == 64
#  include "backends/cpu_riscv64.h"
#elif defined(__arm__) && (defined(__thumb2__) || !defined(__thumb__))
#  include "backends/cpu_arm.h"
#elif defined(__i386__)
#  include "backends/cpu_i386.h"
#elif defined(__powerpc64__) && defined(_CALL_ELF) && _CALL_ELF == 2
#  include "backends/cpu_ppc64le.h"
#elif defined(__s390x__)
#  include "backends/cpu_s390x.h"
#else
#  include "backends/cpu_generic.h"
#endif

/* Backend slow paths (hsafe__ctx_make and trampolines). */
#define HSAFE__BACKEND_IMPL 1
#include "backends/select.h"


/* Valgrind stack registration (client requests cost a few instructions
 * when not running under Valgrind). */
#if !defined(HSAFE_NO_VALGRIND) && defined(__has_include)
#  if __has_include(<valgrind/valgrind.h>) && __has_include(<valgrind/memcheck.h>)
#    include <valgrind/valgrind.h>
#    include <valgrind/memcheck.h>
#    define HSAFE__VALGRIND 1
#  endif
#endif
#if defined(HSAFE__VALGRIND)
#  define HSAFE__ON_VALGRIND (RUNNING_ON_VALGRIND)
#else
#  define HSAFE__ON_VALGRIND 0
#endif

/* Definitions below take their linkage from the declarations above; only
 * these sanitizer runtime entry points need a C linkage block here. */
#ifdef __cplusplus
extern "C" {
#endif
#if defined(HSAFE__ASAN)
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
void *__asan_get_current_fake_stack(void);
void *__asan_addr_is_in_fake_stack(void *fake_stack, void *addr, void **beg, void **end);
#endif
#if defined(HSAFE__TSAN)
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
#endif
#ifdef __cplusplus
}
#endif

#define HSAFE__POOL_MAGIC 0x68736166u   /* "hsaf" */

/* ---- >>hsafe:impl:errors -------------------------------------------- */

HSAFE_API const char *hsafe_strerror(int err)
{
    switch (err) {
#define HSAFE__ERROR_CASE(name, value, text) case (value): return text;
    HSAFE__ERRORS(HSAFE__ERROR_CASE)
#undef HSAFE__ERROR_CASE
    case HSAFE_CORO_SUSPENDED: return "coroutine suspended";
    case HSAFE_CORO_RUNNING:   return "coroutine running";
    case HSAFE_CORO_FINISHED:  return "coroutine finished";
    default:                   return "unknown hsafe error code";
    }
}

HSAFE_API void hsafe__misuse(const char *what)
{
    fprintf(stderr, "hsafe: misuse: %s\n", what);
    fflush(stderr);
    abort();
}

/* ---- >>hsafe:impl:wipe ---------------------------------------------- */
/* Wipe backends. The default uses the libc's secure zeroing function:
 * memset_explicit (C23; glibc >= 2.43, FreeBSD >= 15, NetBSD >= 11),
 * else explicit_bzero (glibc >= 2.25, OpenBSD, FreeBSD >= 11), else
 * SecureZeroMemory (Windows); where none exists, memset followed by a
 * compiler barrier that makes the zeroed bytes observable. They are
 * declared under private names bound to the libc symbol, so no feature
 * macro or header order matters. */
#if defined(HSAFE_WIPE_MEMSET_EXPLICIT) && defined(HSAFE_WIPE_VOLATILE)
#  error "hsafe: define at most one of HSAFE_WIPE_MEMSET_EXPLICIT, HSAFE_WIPE_VOLATILE"
#endif

#if defined(HSAFE_WIPE_VOLATILE)
#  define HSAFE__WIPE_NAME "volatile"
/* 16-byte volatile vector stores, four per iteration (wipe_ratio.volatile
 * in README.md; a volatile byte loop is far slower), then a word/byte tail. */
typedef uint64_t hsafe__v16 __attribute__((vector_size(16), aligned(1)));
static void hsafe__wipe_impl(void *p, size_t n)
{
    volatile unsigned char *b = (volatile unsigned char *)p;
    hsafe__v16 z = {0, 0};
    while (n && ((uintptr_t)b & 15)) { *b++ = 0; n--; }
    {
        volatile hsafe__v16 *v = (volatile hsafe__v16 *)(uintptr_t)b;
        for (; n >= 64; n -= 64, v += 4) { v[0] = z; v[1] = z; v[2] = z; v[3] = z; }
        for (; n >= 16; n -= 16, v++) v[0] = z;
        b = (volatile unsigned char *)v;
    }
    while (n) { *b++ = 0; n--; }
}
#else
#  if defined(__GLIBC__) && ((__GLIBC__ > 2) || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 43))
#    define HSAFE__WIPE_NAME "memset_explicit"
extern void *hsafe__libc_memset_explicit(void *, int, size_t) __asm__("memset_explicit");
static void hsafe__wipe_impl(void *p, size_t n) { hsafe__libc_memset_explicit(p, 0, n); }
#  elif defined(__GLIBC__) || defined(__OpenBSD__) || defined(__FreeBSD__)
#    define HSAFE__WIPE_NAME "explicit_bzero"
extern void hsafe__libc_explicit_bzero(void *, size_t) __asm__("explicit_bzero");
static void hsafe__wipe_impl(void *p, size_t n) { hsafe__libc_explicit_bzero(p, n); }
#  elif defined(_WIN32)
#    define HSAFE__WIPE_NAME "SecureZeroMemory"
static void hsafe__wipe_impl(void *p, size_t n) { SecureZeroMemory(p, n); }
#  else
#    define HSAFE__WIPE_NAME "memset+barrier"
static void hsafe__wipe_impl(void *p, size_t n)
{
    memset(p, 0, n);
    __asm__ __volatile__("" : : "r"(p) : "memory");
}
#  endif
#endif

HSAFE_API void hsafe_wipe(void *p, size_t len)
{
    if (p && len) hsafe__wipe_impl(p, len);
}

/* Length of the all-zero prefix of [p, p+n), rounded down to 64 bytes:
 * the portable scan (16-byte vector ORs, four per step). A CPU file may
 * provide a faster hsafe__cpu_zero_prefix (it runs at the speed of memset
 * or better, so scanning the untouched part costs less than wiping it). */
typedef uint64_t hsafe__u64x2 __attribute__((vector_size(16), aligned(1)));
static size_t hsafe__zero_prefix_portable(const unsigned char *p, size_t n)
{
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        const hsafe__u64x2 *q = (const hsafe__u64x2 *)(const void *)(p + i);
        hsafe__u64x2 o = q[0] | q[1] | q[2] | q[3];
        if (o[0] | o[1]) break;
    }
    return i;
}


/* Stacks at least this large ask the kernel which pages were touched
 * before wiping (see >>hsafe:impl:pool). */
#define HSAFE__RESIDENCY_MIN ((size_t)256 * 1024)

/* What the OS layer needs from the core, as plain data and hooks the core
 * hands it (hsafe__os_thread_prepare); the OS layer never reads a pool. */
enum hsafe__overflow_kind {
    HSAFE__OVF_NONE = 0,
    HSAFE__OVF_GUARD,               /* the fault is in the stack's guard */
    HSAFE__OVF_BELOW,               /* at most HSAFE__OVF_NEAR below the guard */
    HSAFE__OVF_NO_FRAME             /* the kernel could not fit a signal frame */
};
typedef struct hsafe__overflow {
    uintptr_t lo, size;             /* the stack that overflowed */
    int kind;                       /* enum hsafe__overflow_kind */
    const char *what;               /* "a sanitized run", "a coroutine" */
} hsafe__overflow;
typedef struct hsafe__os_hooks {
    /* SIGABRT (or the CRT's abort): ends the current run if it catches
     * aborts, and then does not return. */
    void (*on_abort)(void);
    /* A fault at addr, the interrupted stack pointer sp (0: unknown);
     * forced: the kernel's own SIGSEGV for a signal frame that did not fit.
     * Async-signal-safe. Returns the kind, with the stack in *out. */
    int (*find_overflow)(uintptr_t addr, uintptr_t sp, int forced, hsafe__overflow *out);
} hsafe__os_hooks;

/* OS services: mapping stacks, guards, residency, signals. */
#if defined(_WIN32)
#  include "backends/os_win32.h"
#else
#  include "backends/os_posix.h"
#endif


#if defined(HSAFE__CPU_HAS_ZERO_PREFIX)
#  define hsafe__zero_prefix hsafe__cpu_zero_prefix
#else
#  define hsafe__zero_prefix hsafe__zero_prefix_portable
#endif

static void hsafe__cpu_init_once(void)
{
    static int done;
    if (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        hsafe__cpu_init();
        __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    }
}

/* ---- >>hsafe:impl:config -------------------------------------------- */

static char hsafe__config_buf[320];

HSAFE_API const char *hsafe_config_string(void)
{
    static int done;
    if (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        hsafe__cpu_init_once();
        snprintf(hsafe__config_buf, sizeof hsafe__config_buf,
                 "hsafe %s backend=%s cpu=%s regs=%s wipe=%s%s asan=%s tsan=%s valgrind=%s guard=%s",
                 HSAFE_VERSION, HSAFE__BACKEND_NAME, HSAFE__CPU_NAME, hsafe__cpu_regs_desc(),
                 HSAFE__WIPE_NAME,
#if defined(HSAFE_TEST_NO_WIPE)
                 "(DISABLED:HSAFE_TEST_NO_WIPE)",
#else
                 "",
#endif
#if defined(HSAFE__ASAN)
                 "on",
#else
                 "off",
#endif
#if defined(HSAFE__TSAN)
                 "on",
#else
                 "off",
#endif
#if defined(HSAFE__VALGRIND)
                 "on",
#else
                 "off",
#endif
                 hsafe__os_guard_name(hsafe__os_probe_guard()));
        __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    }
    return hsafe__config_buf;
}

/* ---- >>hsafe:impl:coro ---------------------------------------------- */

HSAFE_API int hsafe__coro_resume_error(const hsafe_coro *co)
{
    if (!co) return HSAFE_EINVAL;
    switch (co->status) {
    case HSAFE_CORO_FINISHED: return HSAFE_EFINISHED;
    case HSAFE_CORO_RUNNING:  return HSAFE_ESTATE;
    default:                  return HSAFE_EINVAL;
    }
}

/* Leave coroutine co for good, handing v to its resumer. Under ASan it is
 * not instrumented: with detect_stack_use_after_return its locals (and the
 * backend's, e.g. the switch message of fcontext) would live on the
 * coroutine's fake stack, which the NULL below frees before the switch
 * uses them (tests/sanitize/asan_fiber.c, scenario uar). */
#if defined(HSAFE__ASAN_FIBER)
__attribute__((no_sanitize_address))
#endif
__attribute__((noreturn, noinline)) static void hsafe__coro_exit(hsafe_coro *co, uintptr_t v)
{
    hsafe__ctx dead;
    co->status = HSAFE_CORO_FINISHED;
#if defined(HSAFE__TSAN)
    __tsan_switch_to_fiber(co->tsan_caller, 0);
#endif
#if defined(HSAFE__ASAN_FIBER)
    __sanitizer_start_switch_fiber(NULL, co->asan_caller_lo, co->asan_caller_size);
#endif
    hsafe__ctx_switch(&dead, &co->caller, v);
    hsafe__misuse("a finished coroutine was resumed (stack reused while still in use?)");
}

static void hsafe__coro_main(uintptr_t first, void *arg)
{
    hsafe_coro *co = (hsafe_coro *)arg;
    uintptr_t r;
#if defined(HSAFE__ASAN_FIBER)
    __sanitizer_finish_switch_fiber(NULL, &co->asan_caller_lo, &co->asan_caller_size);
#endif
    r = co->fn(co, first);
    hsafe__coro_exit(co, r);
}

static hsafe_coro hsafe__coro_zero;      /* never written: all zero */

HSAFE_API int hsafe_coro_init(hsafe_coro *co, void *stack, size_t stack_size,
                              hsafe_coro_fn fn, void *user)
{
    if (!co || !stack || !fn || stack_size < HSAFE_CORO_MIN_STACK ||
        stack_size > UINTPTR_MAX - (uintptr_t)stack) return HSAFE_EINVAL;
    /* Every other field zero: a copy of a zero object rather than
     * memset(co, 0, sizeof *co), which gcc -O2 (x86_64) turns into rep
     * stosq, whose start-up cost made gcc's spawn ~15% slower than clang's
     * (clang stores xmm zeros; for the copy gcc uses xmm moves too). */
    *co = hsafe__coro_zero;
    co->fn = fn;
    co->user = user;
    co->stack_lo = (unsigned char *)stack;
    co->stack_size = stack_size;
#if defined(HSAFE__ASAN) && !(HSAFE__TEST_NO_UNPOISON & 1)
    __asan_unpoison_memory_region(stack, stack_size);
#endif
#if defined(HSAFE__VALGRIND) && !defined(HSAFE_TEST_NO_VALGRIND_REGISTER)
    co->vg_stack_id = VALGRIND_STACK_REGISTER(co->stack_lo, co->stack_lo + stack_size - 1);
#endif
#if defined(HSAFE__TSAN)
    co->tsan_fiber = __tsan_create_fiber(0);
#endif
    hsafe__ctx_make(&co->ctx, stack, stack_size, hsafe__coro_main, co);
#if defined(HSAFE__CTX_HAS_LINK)
    hsafe__ctx_link(&co->ctx, &co->caller);   /* unwinders walk into the resumer */
#endif
    co->status = HSAFE_CORO_SUSPENDED;
    return HSAFE_OK;
}

#if defined(HSAFE__ASAN_FIBER)
/* A coroutine abandoned while suspended keeps its ASan fake stack (frames of
 * detect_stack_use_after_return, ~1 MiB of address space, and the pages
 * its frames touched) for good: ASan frees one only when a fiber leaves for
 * good. So enter it, in ASan's books only, and leave it for good. Not
 * instrumented, so nothing here lives in a fake stack that changes under
 * it. (tests/sanitize/asan_fiber.c, scenario abandon.) */
__attribute__((no_sanitize_address, noinline))
static void hsafe__asan_drop_fake_stack(hsafe_coro *co)
{
    void *mine = NULL;
    const void *lo = NULL;
    size_t size = 0;
    __sanitizer_start_switch_fiber(&mine, co->stack_lo, co->stack_size);
    __sanitizer_finish_switch_fiber(co->asan_fake, &lo, &size);
    __sanitizer_start_switch_fiber(NULL, lo, size);
    __sanitizer_finish_switch_fiber(mine, NULL, NULL);
    co->asan_fake = NULL;
}
#endif

HSAFE_API int hsafe_coro_fini(hsafe_coro *co)
{
    if (!co) return HSAFE_EINVAL;
    if (co->status == HSAFE_CORO_RUNNING) return HSAFE_ESTATE;
    if (co->status == HSAFE_CORO_DEAD) return HSAFE_OK;
#if defined(HSAFE__ASAN_FIBER)
    if (co->status == HSAFE_CORO_SUSPENDED && co->asan_fake) hsafe__asan_drop_fake_stack(co);
#endif
#if defined(HSAFE__ASAN) && !(HSAFE__TEST_NO_UNPOISON & 2)
    __asan_unpoison_memory_region(co->stack_lo, co->stack_size);
#endif
#if defined(HSAFE__VALGRIND) && !defined(HSAFE_TEST_NO_VALGRIND_REGISTER)
    VALGRIND_STACK_DEREGISTER(co->vg_stack_id);
#endif
#if defined(HSAFE__VALGRIND) && !(HSAFE__TEST_NO_VG_DEFINED & 2)
    /* memcheck marked the memory below the coroutine's last stack pointer
     * inaccessible as its frames returned; the caller owns it again. */
    VALGRIND_MAKE_MEM_DEFINED(co->stack_lo, co->stack_size);
#endif
#if defined(HSAFE__TSAN)
    if (co->tsan_fiber) __tsan_destroy_fiber(co->tsan_fiber);
    co->tsan_fiber = NULL;
#endif
    co->status = HSAFE_CORO_DEAD;
    return HSAFE_OK;
}

/* ---- >>hsafe:impl:pool ---------------------------------------------- */
/* Invariant: a stack in the pool is all zero. A fresh mapping is zero; a
 * released stack is wiped from the lowest byte that may have been written
 * up to its top. Finding that byte cheaply and soundly:
 *   - The stack was all zero before the run, so every byte the run left
 *     non-zero lies at or above the first non-zero byte; everything below
 *     it is zero already. A scan for it costs about what a wipe costs
 *     (both run at memory bandwidth), so scanning alone saves nothing...
 *   - ...unless most of the stack was never touched. For stacks of
 *     HSAFE__RESIDENCY_MIN bytes or more, the kernel tells which pages were
 *     ever touched (the PAGEMAP_SCAN ioctl, or /proc/self/pagemap entries:
 *     present or swapped; or mincore when the stack is mlocked and so
 *     cannot be swapped). Pages never touched cannot hold data, so only
 *     touched pages are scanned and wiped. One system call, then work
 *     proportional to the depth really used. Pages a deep run once touched
 *     stay touched (zero after the wipe); after a few releases that find
 *     them unused they are given back (MADV_DONTNEED), so the cost follows
 *     the runs again.
 *   - Smaller stacks skip the system call (it costs more than scanning
 *     them), and so do platforms without residency information.
 * The scan also yields the high-water mark, for free.
 * Measured (make bench, 1 KiB runs): run_ratio.S1M and run_ratio.S64K in
 * README.md's performance table; on 1 MiB stacks the kernel query is most
 * of the cost, on 64 KiB ones the scan reads a bit faster than memset writes.
 * Why not without a system call: nothing in user space tells soundly how
 * deep a run went. A guard or protection-key "tripwire" page above the
 * bottom would turn the kernel's own writes there (read() into a stack
 * buffer, a signal frame) into EFAULT or a lost signal; the lowest stack
 * pointer is not observable and does not bound signal frames; and reading
 * the untouched part costs as much as wiping it.
 * HSAFE__RESIDENCY_MIN is defined above the OS include. */

#if defined(HSAFE_BENCH_FULL_WIPE)
#  define HSAFE__BENCH_FULL_WIPE 1
#else
#  define HSAFE__BENCH_FULL_WIPE 0
#endif

static int hsafe__pool_ok(const hsafe_pool *p) { return p && p->magic == HSAFE__POOL_MAGIC; }

static void hsafe__pool_register(hsafe_pool *pool);
static void hsafe__pool_unregister(hsafe_pool *pool);
static void hsafe__thread_prepare(void);

static size_t hsafe__round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

HSAFE_API int hsafe_pool_init(hsafe_pool *pool, const hsafe_pool_config *cfg)
{
    hsafe_pool_config c;
    size_t page = hsafe__os_page_size(), i;
    if (!pool) return HSAFE_EINVAL;
    if (cfg) c = *cfg; else memset(&c, 0, sizeof c);
    if (!c.stack_size) c.stack_size = HSAFE_DEFAULT_STACK_SIZE;
    if (c.stack_size > HSAFE_MAX_STACK_SIZE || c.stack_size < HSAFE_CORO_MIN_STACK) return HSAFE_EINVAL;
    if (c.capacity > HSAFE_MAX_CAPACITY) return HSAFE_EINVAL;
    if (c.flags & ~(HSAFE_POOL_MLOCK | HSAFE_POOL_DONTDUMP | HSAFE_POOL_NO_GUARD)) return HSAFE_EINVAL;
    if (!c.memory && c.memory_size) return HSAFE_EINVAL;
    if (c.guard_size > HSAFE_MAX_STACK_SIZE || (c.memory && c.guard_size)) return HSAFE_EINVAL;
    hsafe__cpu_init_once();
    memset(pool, 0, sizeof *pool);
    pool->flags = c.flags;
    pool->pagemap_fd = -1;
    if (c.memory) {
        /* Caller memory: [stack][stack]...[descriptors], 16-byte aligned.
         * The descriptors sit above the stacks, where no overflow reaches
         * (stacks grow down); there is no guard in caller memory. */
        uintptr_t base = ((uintptr_t)c.memory + 15) & ~(uintptr_t)15;
        uintptr_t end = (uintptr_t)c.memory + c.memory_size;
        size_t stack = hsafe__round_up(c.stack_size, 16), fit, n;
        if (end < base || c.memory_size < 16) return HSAFE_EINVAL;
        fit = (size_t)(end - base) / (stack + hsafe__round_up(sizeof(hsafe_stack), 16));
        n = c.capacity ? c.capacity : fit;
        if (n > fit || n == 0) return HSAFE_EINVAL;
        if (c.flags & ~HSAFE_POOL_MLOCK) return HSAFE_EINVAL; /* dontdump/guard need mmap */
        pool->memory = (unsigned char *)base;
        pool->memory_size = n * stack;
        pool->slots = (hsafe_stack *)(void *)(pool->memory + pool->memory_size);
        pool->slots_bytes = hsafe__round_up(n * sizeof(hsafe_stack), 16);
        pool->stack_size = stack;
        pool->capacity = n;
        memset(pool->slots, 0, pool->slots_bytes);
        /* Caller memory may hold anything: establish the invariant once. */
        hsafe_wipe(pool->memory, pool->memory_size);
        if (c.flags & HSAFE_POOL_MLOCK) {
            int rc = hsafe__os_lock(pool->memory, pool->memory_size);
            if (rc) return rc;
        }
        for (i = 0; i < n; i++) {
            pool->slots[i].lo = pool->memory + i * stack;
            pool->slots[i].size = stack;
        }
    } else {
        int rc;
        pool->capacity = c.capacity ? c.capacity : HSAFE_DEFAULT_CAPACITY;
        pool->stack_size = hsafe__round_up(c.stack_size, page);
        pool->guard_size = (c.flags & HSAFE_POOL_NO_GUARD) ? 0
                           : hsafe__os_guard_round(c.guard_size ? c.guard_size : HSAFE_DEFAULT_GUARD_SIZE);
        pool->guard_kind = pool->guard_size ? hsafe__os_probe_guard() : 0;
        pool->slots_bytes = hsafe__round_up(pool->capacity * sizeof(hsafe_stack), page);
        /* The descriptor table gets a guard of its own, so no stack's
         * overflow can land in it. */
        rc = hsafe__os_map_guarded(pool->slots_bytes, pool->guard_size, pool->guard_kind,
                                   (void **)&pool->slots);
        if (rc) return rc;
    }
    pool->residency = hsafe__os_residency_open(pool);
    pool->magic = HSAFE__POOL_MAGIC;
    if (pool->guard_size) {
        pool->span_lo = UINTPTR_MAX;
        hsafe__pool_register(pool);
    }
    return HSAFE_OK;
}

/* Create stack slot s (mmap pools): map guard + stack, apply flags. */
static int hsafe__stack_create(hsafe_pool *pool, hsafe_stack *s)
{
    if (!pool->memory) {
        int rc = hsafe__os_map_stack(pool, &s->lo);
        uintptr_t lo, hi;
        if (rc) return rc;
        s->size = pool->stack_size;
        lo = (uintptr_t)s->lo - pool->guard_size;
        hi = (uintptr_t)s->lo + s->size;
        if (lo < pool->span_lo) __atomic_store_n(&pool->span_lo, lo, __ATOMIC_RELAXED);
        if (hi > pool->span_hi) __atomic_store_n(&pool->span_hi, hi, __ATOMIC_RELAXED);
    }
    s->pool = pool;
    s->state = HSAFE__STACK_FREE;
    __atomic_store_n(&pool->created, pool->created + 1, __ATOMIC_RELEASE);
    return HSAFE_OK;
}

HSAFE_API int hsafe_pool_acquire(hsafe_pool *pool, hsafe_stack **out)
{
    hsafe_stack *s;
    if (!hsafe__pool_ok(pool) || !out) return HSAFE_EINVAL;
    s = pool->free_list;
    if (s) {
        pool->free_list = s->next_free;
    } else {
        int rc;
        if (pool->created >= pool->capacity) return HSAFE_EBUSY;
        s = &pool->slots[pool->created];
        rc = hsafe__stack_create(pool, s);
        if (rc) return rc;
    }
    if (pool->guard_size) hsafe__thread_prepare();   /* the overflow diagnostic */
    s->next_free = NULL;
    s->state = HSAFE__STACK_LENT;
    pool->in_use++;
    *out = s;
    return HSAFE_OK;
}

static void hsafe__inplace_scrub(size_t n);

/* Make every byte of s zero again; record how deep it was used. */
/* Releases in a row that found at least HSAFE__TRIM_BYTES of touched but
 * all-zero stack below the deepest data give those pages back to the
 * system, so one deep run does not make every later release of that stack
 * scan them again. */
#define HSAFE__TRIM_BYTES ((size_t)64 * 1024)
#define HSAFE__TRIM_STREAK 4u

static void hsafe__stack_clean(hsafe_pool *pool, hsafe_stack *s)
{
    unsigned char *top = s->lo + s->size, *nz = top;
    hsafe__span sp[32];
    int n = -1, i, first = -1;
    size_t zero_below = 0;
    (void)first;                    /* unused with HSAFE_TEST_NO_WIPE */
#if defined(HSAFE__ASAN) && !(HSAFE__TEST_NO_UNPOISON & 4)
    __asan_unpoison_memory_region(s->lo, s->size);   /* frames left poisoned */
#endif
#if defined(HSAFE__VALGRIND) && !(HSAFE__TEST_NO_VG_DEFINED & 4)
    VALGRIND_MAKE_MEM_DEFINED(s->lo, s->size);        /* below a dead SP */
#endif
    if (HSAFE__BENCH_FULL_WIPE) {   /* the naive scheme, for comparison */
        hsafe_wipe(s->lo, s->size);
        return;
    }
    if (pool->residency && s->size >= HSAFE__RESIDENCY_MIN)
        n = hsafe__os_touched(pool->residency, pool->pagemap_fd, s->lo, s->size, sp, 32);
    if (n < 0) {                    /* no residency: the whole stack */
        sp[0].start = 0;
        sp[0].end = s->size;
        n = 1;
    }
    /* The lowest non-zero byte, scanning the touched spans bottom-up. */
    for (i = 0; i < n && nz == top; i++) {
        unsigned char *a = s->lo + sp[i].start, *b = s->lo + sp[i].end, *p;
        p = a + hsafe__zero_prefix(a, (size_t)(b - a));      /* big steps */
        p += hsafe__zero_prefix_portable(p, (size_t)(b - p));  /* 64 bytes */
        while (p < b && *p == 0) p++;
        zero_below += (size_t)(p - a);
        if (p < b) { nz = p; first = i; }
    }
#if !defined(HSAFE_TEST_NO_WIPE)
    /* The scan just loaded the run's bytes into registers: clear them
     * before anything can spill them (the wipe's first, lazily bound call
     * saves every register on the native stack). */
    hsafe__cpu_clear_scratch();
    /* Unoptimised builds also keep the scan's vectors in its frame (gcc
     * -O0: in the red zone below hsafe__stack_clean): zero that too. */
    hsafe__inplace_scrub(512);
    /* Wipe from the lowest non-zero byte up, touched spans only: pages
     * never touched are zero and stay unallocated. */
    for (i = first; i >= 0 && i < n; i++) {
        unsigned char *a = s->lo + sp[i].start, *b = s->lo + sp[i].end;
        if (a < nz) a = nz;
        if (a < b) hsafe_wipe(a, (size_t)(b - a));
    }
#endif
    if (pool->residency && zero_below >= HSAFE__TRIM_BYTES && !(pool->flags & HSAFE_POOL_MLOCK)) {
        if (++s->zero_streak >= HSAFE__TRIM_STREAK) {
            /* every touched page wholly below the lowest non-zero byte */
            size_t page = hsafe__os_page_size();
            size_t below = (size_t)(nz - s->lo) / page * page;
            for (i = 0; i < n && sp[i].start < below; i++) {
                size_t end = sp[i].end < below ? sp[i].end : below;
                hsafe__os_discard(s->lo + sp[i].start, end - sp[i].start);
            }
            s->zero_streak = 0;
        }
    } else {
        s->zero_streak = 0;
    }
    s->last_used = (size_t)(top - nz);
    if (s->last_used > s->high_water) s->high_water = s->last_used;
}

HSAFE_API int hsafe_pool_release(hsafe_pool *pool, hsafe_stack *s)
{
    if (!hsafe__pool_ok(pool) || !s) return HSAFE_EINVAL;
    if (s->pool != pool) {
        /* A descriptor of this pool's table with a foreign owner cannot
         * exist; anything else is a stack of another pool or garbage. */
        return (s->pool && hsafe__pool_ok(s->pool)) ? HSAFE_EOWNER : HSAFE_EINVAL;
    }
    if (s < pool->slots || s >= pool->slots + pool->capacity) return HSAFE_EINVAL;
    if (s->state != HSAFE__STACK_LENT) return HSAFE_ESTATE;
    hsafe__stack_clean(pool, s);
    s->state = HSAFE__STACK_FREE;
    s->next_free = pool->free_list;
    pool->free_list = s;
    pool->in_use--;
    return HSAFE_OK;
}

HSAFE_API int hsafe_pool_destroy(hsafe_pool *pool)
{
    size_t i;
    if (!hsafe__pool_ok(pool)) return HSAFE_EINVAL;
    if (pool->in_use) return HSAFE_EINUSE;
    hsafe__pool_unregister(pool);
    for (i = 0; i < pool->created; i++) {
        hsafe_stack *s = &pool->slots[i];
        hsafe__stack_clean(pool, s);
        if (!pool->memory) hsafe__os_unmap_stack(pool, s->lo);
    }
    if (pool->memory && (pool->flags & HSAFE_POOL_MLOCK))
        hsafe__os_unlock(pool->memory, pool->memory_size);
    hsafe__os_residency_close(pool);
    if (!pool->memory) hsafe__os_unmap_guarded(pool->slots, pool->slots_bytes, pool->guard_size);
    else hsafe_wipe(pool->slots, pool->slots_bytes);
    memset(pool, 0, sizeof *pool);
    return HSAFE_OK;
}

HSAFE_API int hsafe_pool_stats(const hsafe_pool *pool, hsafe_pool_statistics *out)
{
    size_t i, hw = 0;
    if (!hsafe__pool_ok(pool) || !out) return HSAFE_EINVAL;
    for (i = 0; i < pool->created; i++)
        if (pool->slots[i].high_water > hw) hw = pool->slots[i].high_water;
    out->in_use = pool->in_use;
    out->created = pool->created;
    out->free = pool->created - pool->in_use;
    out->capacity = pool->capacity;
    out->stack_size = pool->stack_size;
    out->high_water = hw;
    out->guard_size = pool->guard_size;
    out->guard = hsafe__os_guard_name(pool->guard_kind);
    return HSAFE_OK;
}

/* ---- >>hsafe:impl:overflow ------------------------------------------ */
/* The fault handler (OS layer) asks hsafe__find_overflow whether a fault
 * is an overflow of one of hsafe's stacks: first the stacks of this
 * thread's sanitized runs, then every stack of every guarded pool (a
 * coroutine, or later a task, on a pooled stack). Pools are found through
 * a small registry that the handler reads without locks: slots are claimed
 * and cleared atomically, a pool publishes the address span of its
 * mappings and its count of created stacks after filling them. A pool
 * that finds no free slot (more than HSAFE__POOL_REGISTRY guarded pools
 * alive) gives its coroutines no diagnostic; its runs still get one. */

#define HSAFE__POOL_REGISTRY 64
#define HSAFE__OVF_NEAR ((uintptr_t)64 * 1024)      /* "just below the guard" */
#define HSAFE__OVF_FRAME_ROOM ((uintptr_t)32 * 1024) /* a signal frame and more */

static hsafe_pool *hsafe__pool_registry[HSAFE__POOL_REGISTRY];

static void hsafe__pool_register(hsafe_pool *pool)
{
    size_t i;
    for (i = 0; i < HSAFE__POOL_REGISTRY; i++) {
        hsafe_pool *none = NULL;
        if (__atomic_compare_exchange_n(&hsafe__pool_registry[i], &none, pool, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return;
    }
}

static void hsafe__pool_unregister(hsafe_pool *pool)
{
    size_t i;
    for (i = 0; i < HSAFE__POOL_REGISTRY; i++)
        if (__atomic_load_n(&hsafe__pool_registry[i], __ATOMIC_RELAXED) == pool)
            __atomic_store_n(&hsafe__pool_registry[i], NULL, __ATOMIC_RELEASE);
}

/* The overflow kind of a fault for the stack [lo, lo+size) with `guard`
 * bytes of guard below it. */
static int hsafe__overflow_at(uintptr_t lo, size_t size, size_t guard,
                              uintptr_t addr, uintptr_t sp, int forced)
{
    uintptr_t glo = lo - guard;
    int sp_below = sp && sp < glo && glo - sp <= HSAFE__OVF_NEAR;
    (void)size;
    if (forced)
        return sp && ((sp >= glo && sp - glo < guard + HSAFE__OVF_FRAME_ROOM) || sp_below)
                   ? HSAFE__OVF_NO_FRAME : HSAFE__OVF_NONE;
    if (guard && addr >= glo && addr < lo) return HSAFE__OVF_GUARD;
    if ((addr < glo && glo - addr <= HSAFE__OVF_NEAR) || sp_below) return HSAFE__OVF_BELOW;
    return HSAFE__OVF_NONE;
}

typedef struct hsafe__run hsafe__run;
static hsafe__run *hsafe__run_chain(void);
static void hsafe__run_stack(const hsafe__run *r, const hsafe_stack **s, const hsafe__run **prev);

static int hsafe__find_overflow(uintptr_t addr, uintptr_t sp, int forced, hsafe__overflow *out)
{
    const hsafe__run *r = hsafe__run_chain();
    size_t i, k;
    while (r) {
        const hsafe_stack *s;
        int kind;
        hsafe__run_stack(r, &s, &r);
        kind = hsafe__overflow_at((uintptr_t)s->lo, s->size, s->pool ? s->pool->guard_size : 0,
                                  addr, sp, forced);
        if (kind) {
            out->lo = (uintptr_t)s->lo;
            out->size = s->size;
            out->kind = kind;
            out->what = "a sanitized run";
            return kind;
        }
    }
    for (i = 0; i < HSAFE__POOL_REGISTRY; i++) {
        const hsafe_pool *p = __atomic_load_n(&hsafe__pool_registry[i], __ATOMIC_ACQUIRE);
        size_t created;
        if (!p) continue;
        /* this thread must be on (or just below) the stack: a stray write
         * into some guard is not an overflow */
        if (sp && (sp < p->span_lo || sp >= p->span_hi)) continue;
        if (!sp && (addr < p->span_lo || addr >= p->span_hi)) continue;
        created = __atomic_load_n(&p->created, __ATOMIC_ACQUIRE);
        for (k = 0; k < created; k++) {
            const hsafe_stack *s = &p->slots[k];
            uintptr_t lo = (uintptr_t)s->lo;
            int kind;
            if (sp && (sp + HSAFE__OVF_NEAR < lo - p->guard_size || sp >= lo + s->size)) continue;
            kind = hsafe__overflow_at(lo, s->size, p->guard_size, addr, sp, forced);
            if (kind) {
                out->lo = lo;
                out->size = s->size;
                out->kind = kind;
                out->what = "a coroutine";
                return kind;
            }
        }
    }
    return HSAFE__OVF_NONE;
}

static void hsafe__run_on_abort(void);

/* This thread is about to use hsafe's stacks: the OS layer's fault
 * handler and alternate signal stack, with the core's hooks. */
static void hsafe__thread_prepare(void)
{
    static const hsafe__os_hooks hooks = { hsafe__run_on_abort, hsafe__find_overflow };
    hsafe__os_thread_prepare(&hooks);
}

/* ---- >>hsafe:impl:run ----------------------------------------------- */

struct hsafe__run {
    hsafe_coro co;
    hsafe_run_fn fn;
    void *arg;
    int status;
    hsafe_cleanup *cleanups;
    hsafe_run_info *info;
    hsafe_stack *stack;
    unsigned flags;
    struct hsafe__run *prev;
};

static __thread hsafe__run *hsafe__tls_run;

static hsafe__run *hsafe__run_chain(void) { return hsafe__tls_run; }
static void hsafe__run_stack(const hsafe__run *r, const hsafe_stack **s, const hsafe__run **prev)
{
    *s = r->stack;
    *prev = r->prev;
}

/* Resume co and clear the registers it may have left, before anything
 * else runs on this stack (an out-of-line call could spill them here). */
static inline __attribute__((always_inline)) int hsafe__resume_clear(hsafe_coro *co, uintptr_t *out)
{
    uintptr_t v;
#if defined(HSAFE__ASAN_FIBER)
    void *fake = NULL;
#endif
    co->status = HSAFE_CORO_RUNNING;
#if defined(HSAFE__TSAN)
    co->tsan_caller = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(co->tsan_fiber, 0);
#endif
#if defined(HSAFE__ASAN_FIBER)
    __sanitizer_start_switch_fiber(&fake, co->stack_lo, co->stack_size);
#endif
    v = hsafe__ctx_switch(&co->caller, &co->ctx, 0);
#if !defined(HSAFE_TEST_NO_WIPE)
    hsafe__cpu_clear_scratch();
#endif
#if defined(HSAFE__ASAN_FIBER)
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
    *out = v;
    return co->status;
}

/* The thread's alternate signal stack is hsafe's own memory that signal
 * handlers write (hsafe's fault handler, the handlers it passes faults on
 * to, any installed with SA_ONSTACK). Every signal delivered on it leaves
 * its frame in the top `frame` bytes, which are otherwise zero: check
 * those after each run and wipe the whole stack when they are not. */
static void hsafe__altstack_scrub(void)
{
    unsigned char *lo, *top, *p;
    size_t size, frame;
    if (!hsafe__os_altstack(&lo, &size, &frame)) return;
    top = lo + size;
    p = top - frame;
    p += hsafe__zero_prefix(p, (size_t)(top - p));
    p += hsafe__zero_prefix_portable(p, (size_t)(top - p));
    while (p < top && *p == 0) p++;
#if !defined(HSAFE_TEST_NO_WIPE)
    if (p < top) hsafe_wipe(lo, size);
#endif
}

static void hsafe__run_cleanups(hsafe__run *r)
{
    while (r->cleanups) {
        hsafe_cleanup *c = r->cleanups;
        r->cleanups = c->next;
        c->fn(c->arg);
    }
}

static uintptr_t hsafe__run_main(hsafe_coro *co, uintptr_t first)
{
    hsafe__run *r = (hsafe__run *)hsafe_coro_user(co);
    hsafe_cleanup *c;
    uintptr_t v;
    (void)first;
    v = r->fn(r->arg);
    /* Records still registered must have outlived fn: one on this stack was
     * in a frame of fn's that has ended (the compiler may not even have
     * stored it), so running it would call garbage. */
    for (c = r->cleanups; c; c = c->next)
        if ((uintptr_t)c - (uintptr_t)co->stack_lo < co->stack_size
#if defined(HSAFE__ASAN_FIBER)
            /* detect_stack_use_after_return puts fn's locals in the
             * coroutine's fake stack instead (tests/sanitize/README.md) */
            || __asan_addr_is_in_fake_stack(__asan_get_current_fake_stack(), c, NULL, NULL)
#endif
            )
            hsafe__misuse("a cleanup handler was still registered when the run's function "
                          "returned, and its record was in a frame that has ended: pop it "
                          "before returning");
    hsafe__run_cleanups(r);
    return v;
}

HSAFE_API int hsafe_run_ex(hsafe_pool *pool, hsafe_run_fn fn, void *arg,
                           unsigned flags, hsafe_run_info *info)
{
    hsafe__run r;
    hsafe__os_sigmask saved;
    uintptr_t v = 0;
    int rc;
    if (!hsafe__pool_ok(pool) || !fn || (flags & ~(HSAFE_RUN_BLOCK_SIGNALS | HSAFE_RUN_CATCH_ABORT)))
        return HSAFE_EINVAL;
    if (info) { info->result = 0; info->stack_used = 0; info->message[0] = 0; }
    memset(&r, 0, sizeof r);
    rc = hsafe_pool_acquire(pool, &r.stack);
    if (rc) return rc;
    hsafe__cpu_init_once();
    hsafe__thread_prepare();
    r.fn = fn;
    r.arg = arg;
    r.info = info;
    r.flags = flags;
    r.status = HSAFE_OK;
    /* A caught abort leaves its signal handler by switching stacks, so
     * the mask it ran with must be restored afterwards. Both before
     * hsafe_coro_init: the ucontext backend gives the run the signal mask
     * current at init (swapcontext switches masks). */
    if (flags & HSAFE_RUN_CATCH_ABORT) hsafe__os_catch_abort(&saved);
    if (flags & HSAFE_RUN_BLOCK_SIGNALS) hsafe__os_block_signals(&saved);
    hsafe_coro_init(&r.co, r.stack->lo, r.stack->size, hsafe__run_main, &r);
    r.prev = hsafe__tls_run;
    hsafe__tls_run = &r;
    hsafe__resume_clear(&r.co, &v);
    if (flags & (HSAFE_RUN_BLOCK_SIGNALS | HSAFE_RUN_CATCH_ABORT)) hsafe__os_restore_signals(&saved);
    hsafe__altstack_scrub();
    hsafe__tls_run = r.prev;
    hsafe_coro_fini(&r.co);
    hsafe_pool_release(pool, r.stack);
    if (info) {
        info->result = r.status == HSAFE_OK ? v : 0;
        info->stack_used = r.stack->last_used;
    }
    hsafe_wipe(&v, sizeof v);
    return r.status;
}

HSAFE_API int hsafe_run(hsafe_pool *pool, hsafe_run_fn fn, void *arg, uintptr_t *result)
{
    hsafe_run_info info;
    int rc;
    info.result = 0;    /* hsafe_run_ex does not touch info on HSAFE_EINVAL */
    rc = hsafe_run_ex(pool, fn, arg, 0, &info);
    if (result) *result = info.result;
    hsafe_wipe(&info, sizeof info);     /* a panic message came out of the run */
    return rc;
}

__attribute__((noreturn)) static void hsafe__run_end_panic(hsafe__run *r)
{
    r->status = HSAFE_EPANIC;
    hsafe__run_cleanups(r);
    hsafe__coro_exit(&r->co, 0);
}

HSAFE_API void hsafe_panic(const char *fmt, ...)
{
    hsafe__run *r = hsafe__tls_run;
    va_list ap;
    if (!r || r->co.status != HSAFE_CORO_RUNNING) {
        char msg[256];
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt ? fmt : "(null)", ap);
        va_end(ap);
        fprintf(stderr, "hsafe: misuse: hsafe_panic called outside a sanitized run: %s\n", msg);
        fflush(stderr);
        abort();
    }
    if (r->info) {
        va_start(ap, fmt);
        vsnprintf(r->info->message, sizeof r->info->message, fmt ? fmt : "(null)", ap);
        va_end(ap);
    }
    hsafe__run_end_panic(r);
}

/* Called by the OS layer's SIGABRT handler, on the aborting code's stack.
 * Returns only when the abort is not ours to catch. */
static void hsafe__run_on_abort(void)
{
    hsafe__run *r = hsafe__tls_run;
    if (!r || !(r->flags & HSAFE_RUN_CATCH_ABORT) || r->co.status != HSAFE_CORO_RUNNING) return;
    if (r->info)
        snprintf(r->info->message, sizeof r->info->message, "abort() called inside the run");
    hsafe__run_end_panic(r);
}

static hsafe__run *hsafe__run_here(const char *what)
{
    hsafe__run *r = hsafe__tls_run;
    if (!r || r->co.status != HSAFE_CORO_RUNNING) hsafe__misuse(what);
    return r;
}

HSAFE_API void hsafe_cleanup_push(hsafe_cleanup *c, void (*fn)(void *), void *arg)
{
    hsafe__run *r = hsafe__run_here("hsafe_cleanup_push called outside a sanitized run");
    if (!c || !fn) hsafe__misuse("hsafe_cleanup_push: NULL record or function");
    c->fn = fn;
    c->arg = arg;
    c->next = r->cleanups;
    r->cleanups = c;
}

HSAFE_API void hsafe_cleanup_pop(hsafe_cleanup *c, int execute)
{
    hsafe__run *r = hsafe__run_here("hsafe_cleanup_pop called outside a sanitized run");
    if (!c || r->cleanups != c)
        hsafe__misuse("hsafe_cleanup_pop: not the most recently pushed cleanup handler");
    r->cleanups = c->next;
    if (execute) c->fn(c->arg);
}

/* ---- >>hsafe:impl:inplace ------------------------------------------- */
/* hsafe_run_inplace calls fn through a frame padded to 256 bytes, so that
 * fn's frames lie at least that far below hsafe_run_inplace's own. The
 * scrubber then runs in the padding's place and zeroes a buffer of
 * scrub_bytes just below its own small frame, which covers fn's frames. */

__attribute__((noinline)) static uintptr_t hsafe__inplace_call(hsafe_run_fn fn, void *arg)
{
    volatile unsigned char pad[256];
    uintptr_t v;
    pad[0] = 0;
    /* Hide fn's value: with one call site (gcc -O3 -flto) the compiler
     * would clone this function for it and inline fn here, above the pad,
     * where the scrub does not reach. */
    __asm__ __volatile__("" : "+r"(fn));
    v = fn(arg);
    __asm__ __volatile__("" : : "r"(pad) : "memory");  /* no tail call */
    return v;
}

__attribute__((noinline, unused)) static void hsafe__inplace_scrub(size_t n)
{
    unsigned char *buf = (unsigned char *)__builtin_alloca(n);
    hsafe_wipe(buf, n);
    __asm__ __volatile__("" : : "r"(buf) : "memory");
}

HSAFE_API uintptr_t hsafe_run_inplace(hsafe_run_fn fn, void *arg, size_t scrub_bytes)
{
    uintptr_t v;
    size_t left = hsafe_stack_remaining();
    if (!fn) hsafe__misuse("hsafe_run_inplace: NULL function");
    if (scrub_bytes > HSAFE_MAX_STACK_SIZE || (left && scrub_bytes + 4096 > left))
        hsafe__misuse("hsafe_run_inplace: scrub_bytes is larger than the rest of the current stack");
    hsafe__cpu_init_once();
    v = hsafe__inplace_call(fn, arg);
#if !defined(HSAFE_TEST_NO_WIPE)
    hsafe__cpu_clear_scratch();
    hsafe__inplace_scrub(scrub_bytes);
    hsafe__cpu_clear_scratch();
#endif
    return v;
}

/* ---- >>hsafe:impl:grow ---------------------------------------------- */

HSAFE_API size_t hsafe_stack_remaining(void)
{
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0), lo = 0, hi = 0;
    hsafe__run *r = hsafe__tls_run;
    if (r && sp - (uintptr_t)r->co.stack_lo < r->co.stack_size)
        return sp - (uintptr_t)r->co.stack_lo;
    if (!hsafe__os_thread_stack(&lo, &hi) || sp < lo || sp >= hi) return 0;
    return sp - lo;
}

HSAFE_API int hsafe_maybe_grow(hsafe_pool *pool, size_t red_zone, hsafe_run_fn fn,
                               void *arg, uintptr_t *result)
{
    size_t left;
    if (!hsafe__pool_ok(pool) || !fn) return HSAFE_EINVAL;
    left = hsafe_stack_remaining();
    if (left >= red_zone) {
        uintptr_t v = fn(arg);
        if (result) *result = v;
        return HSAFE_OK;
    }
    return hsafe_run(pool, fn, arg, result);
}

#endif /* !HSAFE__IMPLEMENTATION_STOP */
#endif /* HSAFE_IMPLEMENTATION */

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
