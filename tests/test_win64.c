/* test_win64: what a context switch on Windows x64 has to get right,
 * checked on every target (the Windows-only parts are compiled only there).
 *
 * Proves, on whichever backend this is compiled for:
 *   - ping-pong: main and two coroutines hand a counter around, and a
 *     generator yields 1..N then returns;
 *   - printf (CRT locks, buffers) from main and from two coroutines,
 *     interleaved between switches, reaches stdout complete and in order;
 *   - stack probes: a function with a 64 KiB local array (___chkstk_ms /
 *     __chkstk probe every page of it), three deep, plus a 100 KiB alloca,
 *     inside a coroutine on a 256 KiB pooled stack and inside a sanitized
 *     run;
 *   - the asm backend's FP control model: with HSAFE_ASM_SAVE_FPU a
 *     rounding mode set in a coroutine stays there and main's stays main's,
 *     without it the mode belongs to the thread (fesetround, and on x86_64
 *     the MXCSR and x87 rounding bits directly);
 *   - x86_64: every callee-saved register survives a call that switches to
 *     a coroutine which scribbles on all registers, checked from asm
 *     around the call (Win64: rbx rbp rdi rsi r12-r15 and all 128 bits of
 *     xmm6-15; SysV: rbx rbp r12-r15);
 *   - a sanitized run leaves its stack all zero.
 * Windows only:
 *   - the TEB (StackBase, StackLimit, DeallocationStack, GuaranteedStackBytes,
 *     and an empty ExceptionList of its own) describes the coroutine's stack while it runs (a pooled stack
 *     includes its guard region, caller memory does not), and the thread's
 *     own again after each switch back, also when a coroutine made on the
 *     main thread is resumed by another thread; GetCurrentThreadStackLimits
 *     and hsafe_stack_remaining agree with it; the registry that tells the
 *     backend which stacks have a guard region stays right over 3 x 1200
 *     stacks mapped and unmapped;
 *   - HSAFE_POOL_DONTDUMP is HSAFE_ENOTSUP; HSAFE_POOL_MLOCK works (or says
 *     HSAFE_ELOCK); HSAFE_RUN_CATCH_ABORT turns abort() into HSAFE_EPANIC;
 *   - overflow: a sanitized run that recurses without end (in a child
 *     process: this program, argument "overflow") prints hsafe's message
 *     and exits with EXCEPTION_STACK_OVERFLOW; one that writes to the
 *     NOACCESS page below the guard region ("floor") prints it and exits
 *     with EXCEPTION_ACCESS_VIOLATION.
 * As C++: exceptions thrown and caught inside a coroutine, several frames
 * deep (Windows' unwinder rejects frames outside the TEB's stack bounds);
 * on Windows, one that nothing catches ends in std::terminate ("throw"
 * child), as it does on a thread's own stack.
 */
#define HSAFE_IMPLEMENTATION
#include "hsafe.h"
#include "testutil.h"

#include <fenv.h>
#include <stdarg.h>
#if defined(_WIN32)
#  include <windows.h>
#endif
#if defined(__cplusplus)
#  include <stdexcept>
#endif

#define POOL_STACK (256 * 1024)

static unsigned char stack_a[64 * 1024] __attribute__((aligned(16)));
static unsigned char stack_b[64 * 1024] __attribute__((aligned(16)));

/* ---- ping-pong and a generator ----------------------------------------- */

static hsafe_coro co_a, co_b;

/* a and b each add their tag; a resumes b inside its own turn */
static uintptr_t pong_b(hsafe_coro *co, uintptr_t v)
{
    while (v != 0) v = hsafe_coro_yield(co, v + 1000);
    return 0;
}

static uintptr_t pong_a(hsafe_coro *co, uintptr_t v)
{
    for (;;) {
        uintptr_t w = 0;
        hsafe_coro_resume(&co_b, v + 1, &w);
        v = hsafe_coro_yield(co, w);
        if (v == (uintptr_t)-1) return 0;
    }
}

static uintptr_t gen(hsafe_coro *co, uintptr_t n)
{
    uintptr_t i;
    for (i = 1; i <= n; i++) hsafe_coro_yield(co, i);
    return 0;
}

static void test_ping_pong(void)
{
    uintptr_t v = 0, out = 0, sum = 0, i;
    int rc;
    CHECK_EQ(hsafe_coro_init(&co_a, stack_a, sizeof stack_a, pong_a, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_coro_init(&co_b, stack_b, sizeof stack_b, pong_b, NULL), HSAFE_OK);
    for (i = 0; i < 10000; i++) {
        CHECK_EQ(hsafe_coro_resume(&co_a, v, &out), HSAFE_CORO_SUSPENDED);
        v = out;
    }
    CHECK_EQ(v, 10000u * 1001u);
    hsafe_coro_fini(&co_a);
    hsafe_coro_fini(&co_b);

    CHECK_EQ(hsafe_coro_init(&co_a, stack_a, sizeof stack_a, gen, NULL), HSAFE_OK);
    while ((rc = hsafe_coro_resume(&co_a, 100, &out)) == HSAFE_CORO_SUSPENDED) sum += out;
    CHECK_EQ(rc, HSAFE_CORO_FINISHED);
    CHECK_EQ(sum, 5050);
    hsafe_coro_fini(&co_a);
}

/* ---- printf between switches ------------------------------------------- */

static uintptr_t printer(hsafe_coro *co, uintptr_t tag)
{
    int i;
    for (i = 0; i < 3; i++) {
        printf("#   printf from coroutine %c, line %d: %5.2f %s\n", (int)tag, i, i * 1.25, "x");
        fflush(stdout);
        hsafe_coro_yield(co, (uintptr_t)i);
    }
    return 0;
}

static void test_printf(void)
{
    uintptr_t out;
    int i;
    CHECK_EQ(hsafe_coro_init(&co_a, stack_a, sizeof stack_a, printer, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_coro_init(&co_b, stack_b, sizeof stack_b, printer, NULL), HSAFE_OK);
    for (i = 0; i < 4; i++) {
        printf("#   printf from main, round %d\n", i);
        CHECK(hsafe_coro_resume(&co_a, 'A', &out) >= 0);
        CHECK(hsafe_coro_resume(&co_b, 'B', &out) >= 0);
    }
    CHECK_EQ(hsafe_coro_status(&co_a), HSAFE_CORO_FINISHED);
    CHECK_EQ(hsafe_coro_status(&co_b), HSAFE_CORO_FINISHED);
    hsafe_coro_fini(&co_a);
    hsafe_coro_fini(&co_b);
}

/* ---- stack probes: 64 KiB frames on a 256 KiB stack --------------------- */

__attribute__((noinline)) static unsigned big_frame(int depth)
{
    volatile unsigned char a[64 * 1024];
    size_t i;
    unsigned r;
    for (i = 0; i < sizeof a; i += 512) a[i] = (unsigned char)(i >> 9);
    a[sizeof a - 1] = (unsigned char)depth;
    r = depth > 0 ? big_frame(depth - 1) : 0;
    return r + a[4096] + a[sizeof a - 1];     /* 8 + depth per level */
}

__attribute__((noinline)) static unsigned big_alloca(size_t n)
{
    volatile unsigned char *p = (volatile unsigned char *)__builtin_alloca(n);
    size_t i;
    unsigned s = 0;
    for (i = 0; i < n; i += 4096) p[i] = 1;
    for (i = 0; i < n; i += 4096) s += p[i];
    return s;
}

static uintptr_t probe_co(hsafe_coro *co, uintptr_t v)
{
    unsigned r = big_frame(2);
    hsafe_coro_yield(co, r);
    r = big_alloca(100 * 1024);
    hsafe_coro_yield(co, r);
    return v;
}

static uintptr_t probe_run(void *arg)
{
    (void)arg;
    return big_frame(2) + big_alloca(100 * 1024);
}

static void test_probes(hsafe_pool *pool)
{
    hsafe_stack *s = NULL;
    hsafe_coro co;
    uintptr_t out = 0;
    CHECK_EQ(hsafe_pool_acquire(pool, &s), HSAFE_OK);
    if (!s) return;
    CHECK_EQ(hsafe_coro_init(&co, hsafe_stack_base(s), hsafe_stack_size(s), probe_co, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_coro_resume(&co, 7, &out), HSAFE_CORO_SUSPENDED);
    CHECK_EQ(out, 3 * 8 + 0 + 1 + 2);
    CHECK_EQ(hsafe_coro_resume(&co, 0, &out), HSAFE_CORO_SUSPENDED);
    CHECK_EQ(out, 25);
    CHECK_EQ(hsafe_coro_resume(&co, 0, &out), HSAFE_CORO_FINISHED);
    CHECK_EQ(out, 7);
    hsafe_coro_fini(&co);
    CHECK_EQ(hsafe_pool_release(pool, s), HSAFE_OK);

    out = 0;
    CHECK_EQ(hsafe_run(pool, probe_run, NULL, &out), HSAFE_OK);
    CHECK_EQ(out, 27 + 25);
}

/* ---- FP control state: per context or per thread ----------------------- */
/* The asm backends promise a model: with HSAFE_ASM_SAVE_FPU each context
 * keeps its own rounding mode (MXCSR and x87 control word on x86_64),
 * otherwise it belongs to the thread and the switch leaves it alone. The
 * other backends are covered by test_coro_fpu. */

typedef struct fp_view { int round; unsigned sse_rc, x87_rc; } fp_view;

static fp_view fp_now(void)
{
    fp_view f;
    f.round = fegetround();
    f.sse_rc = f.x87_rc = 0;
#if defined(__x86_64__)
    {
        unsigned m;
        unsigned short c;
        __asm__ __volatile__("stmxcsr %0\n\tfnstcw %1" : "=m"(m), "=m"(c));
        f.sse_rc = (m >> 13) & 3;
        f.x87_rc = (c >> 10) & 3;
    }
#endif
    return f;
}

static int fp_same(fp_view a, fp_view b)
{
    return a.round == b.round && a.sse_rc == b.sse_rc && a.x87_rc == b.x87_rc;
}

static fp_view fp_inside;

static uintptr_t fp_co(hsafe_coro *co, uintptr_t v)
{
    fesetround(FE_UPWARD);
    hsafe_coro_yield(co, 1);
    fp_inside = fp_now();
    return v;
}

static void test_fp_control(void)
{
    fp_view m0, up, zero, seen;
    uintptr_t out;
    int per_context;
    if (!strstr(hsafe_config_string(), "backend=asm")) return;
#if defined(HSAFE_ASM_SAVE_FPU)
    per_context = 1;
#else
    per_context = 0;
#endif
    m0 = fp_now();
    fesetround(FE_UPWARD);
    up = fp_now();
    fesetround(FE_TOWARDZERO);
    zero = fp_now();
    fesetround(m0.round);
    CHECK(fp_same(fp_now(), m0));
    CHECK(!fp_same(up, m0) && !fp_same(zero, m0) && !fp_same(up, zero));
#if defined(__x86_64__)
    CHECK_EQ(up.sse_rc, 2);                 /* fesetround sets both units */
    CHECK_EQ(up.x87_rc, 2);
#endif
    CHECK_EQ(hsafe_coro_init(&co_a, stack_a, sizeof stack_a, fp_co, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_coro_resume(&co_a, 0, &out), HSAFE_CORO_SUSPENDED);
    seen = fp_now();                        /* the coroutine set FE_UPWARD */
    CHECK(fp_same(seen, per_context ? m0 : up));
    fesetround(FE_TOWARDZERO);              /* main's own choice */
    CHECK_EQ(hsafe_coro_resume(&co_a, 0, &out), HSAFE_CORO_FINISHED);
    CHECK(fp_same(fp_inside, per_context ? up : zero));
    CHECK(fp_same(fp_now(), zero));
    printf("#   FP control state: %s\n", per_context ? "per context" : "per thread");
    fesetround(m0.round);
    hsafe_coro_fini(&co_a);
}

/* ---- callee-saved registers across a switching call --------------------- */

#if defined(__x86_64__)
static hsafe_coro co_scrub;

static uintptr_t scrubber(hsafe_coro *co, uintptr_t v)
{
    for (;;) {
        __asm__ __volatile__(
            "movq $-1, %%rbx\n\t" "movq $-2, %%rsi\n\t" "movq $-3, %%rdi\n\t"
            "movq $-4, %%r12\n\t" "movq $-5, %%r13\n\t" "movq $-6, %%r14\n\t" "movq $-7, %%r15\n\t"
            "pcmpeqd %%xmm0, %%xmm0\n\t"  "pcmpeqd %%xmm1, %%xmm1\n\t"  "pcmpeqd %%xmm2, %%xmm2\n\t"
            "pcmpeqd %%xmm3, %%xmm3\n\t"  "pcmpeqd %%xmm4, %%xmm4\n\t"  "pcmpeqd %%xmm5, %%xmm5\n\t"
            "pcmpeqd %%xmm6, %%xmm6\n\t"  "pcmpeqd %%xmm7, %%xmm7\n\t"  "pcmpeqd %%xmm8, %%xmm8\n\t"
            "pcmpeqd %%xmm9, %%xmm9\n\t"  "pcmpeqd %%xmm10, %%xmm10\n\t" "pcmpeqd %%xmm11, %%xmm11\n\t"
            "pcmpeqd %%xmm12, %%xmm12\n\t" "pcmpeqd %%xmm13, %%xmm13\n\t" "pcmpeqd %%xmm14, %%xmm14\n\t"
            "pcmpeqd %%xmm15, %%xmm15"
            ::: "rbx", "rsi", "rdi", "r12", "r13", "r14", "r15",
                "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
        v = hsafe_coro_yield(co, v + 1);
        if (v == (uintptr_t)-1) return 0;
    }
}

/* An ordinary function that happens to switch: by the ABI it must return
 * every callee-saved register as it found it. */
__attribute__((noinline, used)) static void switching_call(void)
{
    uintptr_t out = 0;
    hsafe_coro_resume(&co_scrub, 1, &out);
}

/* in: rbx rsi rdi r12 r13 r14 r15 rbp, then xmm6..xmm15 */
static uint64_t regs_in[8 + 20], regs_out[8 + 20];

static void test_callee_saved(void)
{
    size_t i;
    for (i = 0; i < sizeof regs_in / sizeof regs_in[0]; i++)
        regs_in[i] = (0x0123456789abcdefull * (i + 1)) ^ ((uint64_t)i << 56);
    memset(regs_out, 0, sizeof regs_out);
    CHECK_EQ(hsafe_coro_init(&co_scrub, stack_a, sizeof stack_a, scrubber, NULL), HSAFE_OK);
    __asm__ __volatile__(
        "movq %%rsp, %%rax\n\t"
        "andq $-16, %%rsp\n\t"
        "subq $16, %%rsp\n\t"
        "movq %%rax, (%%rsp)\n\t"
        "movq %%rbp, 8(%%rsp)\n\t"
        "movq 0+%[in], %%rbx\n\t"  "movq 8+%[in], %%rsi\n\t"  "movq 16+%[in], %%rdi\n\t"
        "movq 24+%[in], %%r12\n\t" "movq 32+%[in], %%r13\n\t" "movq 40+%[in], %%r14\n\t"
        "movq 48+%[in], %%r15\n\t" "movq 56+%[in], %%rbp\n\t"
#if defined(_WIN32)
        "movdqu 64+%[in], %%xmm6\n\t"   "movdqu 80+%[in], %%xmm7\n\t"
        "movdqu 96+%[in], %%xmm8\n\t"   "movdqu 112+%[in], %%xmm9\n\t"
        "movdqu 128+%[in], %%xmm10\n\t" "movdqu 144+%[in], %%xmm11\n\t"
        "movdqu 160+%[in], %%xmm12\n\t" "movdqu 176+%[in], %%xmm13\n\t"
        "movdqu 192+%[in], %%xmm14\n\t" "movdqu 208+%[in], %%xmm15\n\t"
        "subq $32, %%rsp\n\t"          /* shadow space */
        "call %P[fn]\n\t"
        "addq $32, %%rsp\n\t"
        "movdqu %%xmm6, 64+%[out]\n\t"   "movdqu %%xmm7, 80+%[out]\n\t"
        "movdqu %%xmm8, 96+%[out]\n\t"   "movdqu %%xmm9, 112+%[out]\n\t"
        "movdqu %%xmm10, 128+%[out]\n\t" "movdqu %%xmm11, 144+%[out]\n\t"
        "movdqu %%xmm12, 160+%[out]\n\t" "movdqu %%xmm13, 176+%[out]\n\t"
        "movdqu %%xmm14, 192+%[out]\n\t" "movdqu %%xmm15, 208+%[out]\n\t"
#else
        "call %P[fn]\n\t"
#endif
        "movq %%rbx, 0+%[out]\n\t"  "movq %%rsi, 8+%[out]\n\t"  "movq %%rdi, 16+%[out]\n\t"
        "movq %%r12, 24+%[out]\n\t" "movq %%r13, 32+%[out]\n\t" "movq %%r14, 40+%[out]\n\t"
        "movq %%r15, 48+%[out]\n\t" "movq %%rbp, 56+%[out]\n\t"
        "movq 8(%%rsp), %%rbp\n\t"
        "movq (%%rsp), %%rsp\n\t"
        : [out] "=m"(regs_out)
        : [in] "m"(regs_in), [fn] "i"(switching_call)
        : "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11",
          "r12", "r13", "r14", "r15", "memory", "cc",
          "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
          "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    /* SysV: rsi and rdi are caller-saved, no xmm is callee-saved */
    CHECK_EQ(regs_out[0], regs_in[0]);
#if defined(_WIN32)
    CHECK_EQ(regs_out[1], regs_in[1]);
    CHECK_EQ(regs_out[2], regs_in[2]);
#endif
    for (i = 3; i < 8; i++) {
        if (regs_out[i] != regs_in[i])
            fprintf(stderr, "callee-saved register #%u changed\n", (unsigned)i);
        CHECK(regs_out[i] == regs_in[i]);
    }
#if defined(_WIN32)
    for (i = 8; i < 28; i++) {
        if (regs_out[i] != regs_in[i])
            fprintf(stderr, "xmm%u %s half changed\n", (unsigned)(6 + (i - 8) / 2), (i & 1) ? "high" : "low");
        CHECK(regs_out[i] == regs_in[i]);
    }
#endif
    hsafe_coro_fini(&co_scrub);
}
#endif

/* ---- a run leaves its stack zero --------------------------------------- */

static uintptr_t dirty_run(void *arg)
{
    volatile unsigned char buf[8192];
    size_t i;
    for (i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(0xa5 ^ i);
    return buf[(uintptr_t)arg];
}

static void test_wiped(hsafe_pool *pool)
{
    hsafe_stack *s = NULL;
    const unsigned char *p;
    size_t i, nonzero = 0;
    uintptr_t v = 0;
    CHECK_EQ(hsafe_run(pool, dirty_run, (void *)(uintptr_t)3, &v), HSAFE_OK);
    CHECK_EQ(v, 0xa5 ^ 3);
    CHECK_EQ(hsafe_pool_acquire(pool, &s), HSAFE_OK);     /* the same stack, LIFO */
    if (!s) return;
    p = (const unsigned char *)hsafe_stack_base(s);
    for (i = 0; i < hsafe_stack_size(s); i++) nonzero += p[i] != 0;
    CHECK_EQ(nonzero, 0);
    CHECK(hsafe_stack_high_water(s) >= 8192);
    CHECK_EQ(hsafe_pool_release(pool, s), HSAFE_OK);
}

/* ---- C++ exceptions inside a coroutine ---------------------------------- */

#if defined(__cplusplus)
__attribute__((noinline)) static int throw_deep(int n)
{
    volatile char pad[256];
    pad[0] = (char)n;
    if (n == 0) throw std::runtime_error("deep");
    return throw_deep(n - 1) + pad[0];
}

static uintptr_t cxx_co(hsafe_coro *co, uintptr_t v)
{
    int caught = 0;
    try { throw_deep(5); } catch (const std::runtime_error &e) { caught += strcmp(e.what(), "deep") == 0; }
    hsafe_coro_yield(co, (uintptr_t)caught);
    try { throw 42; } catch (int x) { caught += x == 42; }
    return v + (uintptr_t)caught;
}

static void test_cxx_exceptions(void)
{
    uintptr_t out = 0;
    CHECK_EQ(hsafe_coro_init(&co_a, stack_a, sizeof stack_a, cxx_co, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_coro_resume(&co_a, 100, &out), HSAFE_CORO_SUSPENDED);
    CHECK_EQ(out, 1);
    CHECK_EQ(hsafe_coro_resume(&co_a, 0, &out), HSAFE_CORO_FINISHED);
    CHECK_EQ(out, 102);
    hsafe_coro_fini(&co_a);
}
#endif

/* ---- Windows: the TEB, pool flags, abort, overflow ---------------------- */

#if defined(_WIN32)
typedef struct tib_view { uintptr_t exlist, base, limit, dealloc, guaranteed, lim_lo, lim_hi; } tib_view;

static tib_view tib_now(void)
{
    tib_view t;
    uint32_t g;
    ULONG_PTR lo = 0, hi = 0;
    __asm__ __volatile__("movq %%gs:0x08, %0\n\tmovq %%gs:0x10, %1\n\t"
                         "movq %%gs:0x1478, %2\n\tmovl %%gs:0x1748, %3\n\t"
                         "movq %%gs:0x00, %4"
                         : "=r"(t.base), "=r"(t.limit), "=r"(t.dealloc), "=r"(g), "=r"(t.exlist));
    t.guaranteed = g;
    GetCurrentThreadStackLimits(&lo, &hi);
    t.lim_lo = lo;
    t.lim_hi = hi;
    return t;
}

static tib_view tib_inside[2];
static size_t remaining_inside;

static uintptr_t tib_co(hsafe_coro *co, uintptr_t v)
{
    tib_inside[0] = tib_now();
    remaining_inside = hsafe_stack_remaining();
    hsafe_coro_yield(co, 1);
    tib_inside[1] = tib_now();
    return v;
}

static DWORD WINAPI resume_on_thread(LPVOID arg)
{
    tib_view before = tib_now(), after;
    uintptr_t out = 0;
    int rc = hsafe_coro_resume((hsafe_coro *)arg, 0, &out);
    after = tib_now();
    return rc == HSAFE_CORO_FINISHED && memcmp(&before, &after, sizeof before) == 0;
}

static void check_tib_inside(const tib_view *t, uintptr_t lo, size_t size, uintptr_t floor)
{
    CHECK_EQ(t->base, lo + size);
    CHECK_EQ(t->limit, lo);
    CHECK_EQ(t->dealloc, floor);
    CHECK_EQ(t->lim_lo, floor);
    CHECK_EQ(t->lim_hi, lo + size);
    CHECK_EQ(t->guaranteed, floor < lo ? lo - floor - 4096 : 0);
    CHECK(t->exlist == ~(uintptr_t)0);   /* a chain of its own, empty */
}

static void test_tib_on(void *stack, size_t size, uintptr_t floor, int other_thread)
{
    tib_view main0 = tib_now(), main1;
    uintptr_t out = 0, lo = (uintptr_t)stack;
    CHECK_EQ(hsafe_coro_init(&co_a, stack, size, tib_co, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_coro_resume(&co_a, 5, &out), HSAFE_CORO_SUSPENDED);
    main1 = tib_now();
    CHECK(memcmp(&main0, &main1, sizeof main0) == 0);
    if (other_thread) {
        DWORD ok = 0;
        HANDLE h = CreateThread(NULL, 0, resume_on_thread, &co_a, 0, NULL);
        CHECK(h != NULL);
        if (h) {
            WaitForSingleObject(h, INFINITE);
            GetExitCodeThread(h, &ok);
            CloseHandle(h);
        }
        CHECK_EQ(ok, 1);
    } else {
        CHECK_EQ(hsafe_coro_resume(&co_a, 5, &out), HSAFE_CORO_FINISHED);
    }
    main1 = tib_now();
    CHECK(memcmp(&main0, &main1, sizeof main0) == 0);
    check_tib_inside(&tib_inside[0], lo, size, floor);
    check_tib_inside(&tib_inside[1], lo, size, floor);
    CHECK(remaining_inside > size - 4096 && remaining_inside < size);
    hsafe_coro_fini(&co_a);
}

static void test_tib(hsafe_pool *pool)
{
    hsafe_stack *s = NULL;
    uintptr_t lo;
    size_t left = hsafe_stack_remaining();
    tib_view t = tib_now();
    printf("#   thread stack: %p..%p, StackLimit %p, guaranteed %u, remaining %lu\n",
           (void *)t.dealloc, (void *)t.base, (void *)t.limit, (unsigned)t.guaranteed, (unsigned long)left);
    CHECK(left > 16384 && left < t.base - t.dealloc);
    /* caller memory: nothing below it is ours */
    test_tib_on(stack_b, sizeof stack_b, (uintptr_t)stack_b, 0);
    /* a pooled stack: the floor page and guard region belong to it */
    CHECK_EQ(hsafe_pool_acquire(pool, &s), HSAFE_OK);
    if (!s) return;
    lo = (uintptr_t)hsafe_stack_base(s);
    test_tib_on(hsafe_stack_base(s), hsafe_stack_size(s), lo - 4096 - 16384, 0);
    test_tib_on(hsafe_stack_base(s), hsafe_stack_size(s), lo - 4096 - 16384, 1);
    CHECK_EQ(hsafe_pool_release(pool, s), HSAFE_OK);
}

/* The registry of guarded stacks behind hsafe__os_stack_floor (private,
 * white-box): many stacks, several rehashes, removal on destroy, reuse. */
static void test_stack_registry(void)
{
    enum { N = 1200 };
    static hsafe_stack *got[N];
    static uintptr_t los[N];
    hsafe_pool p2;
    hsafe_pool_config cfg;
    size_t i, wrong = 0;
    int round;
    memset(&cfg, 0, sizeof cfg);
    cfg.stack_size = 16 * 1024;
    cfg.capacity = N;
    for (round = 0; round < 3; round++) {
        CHECK_EQ(hsafe_pool_init(&p2, &cfg), HSAFE_OK);
        for (i = 0; i < N; i++) {
            got[i] = NULL;
            if (hsafe_pool_acquire(&p2, &got[i]) != HSAFE_OK) break;
        }
        CHECK_EQ(i, N);
        for (i = 0; i < N; i++) {
            uintptr_t lo = los[i] = got[i] ? (uintptr_t)hsafe_stack_base(got[i]) : 0;
            if (!lo) continue;
            wrong += hsafe__os_stack_floor(lo) != lo - 4096 - 16384;
            wrong += hsafe__os_stack_floor(lo + 4096) != lo + 4096;
        }
        for (i = 0; i < N && got[i]; i++) CHECK_EQ(hsafe_pool_release(&p2, got[i]), HSAFE_OK);
        CHECK_EQ(hsafe_pool_destroy(&p2), HSAFE_OK);   /* descriptors gone too */
        for (i = 0; i < N; i++)
            if (los[i]) wrong += hsafe__os_stack_floor(los[i]) != los[i];   /* unmapped */
    }
    CHECK_EQ(wrong, 0);
    CHECK_EQ(hsafe__os_stack_floor((uintptr_t)stack_a), (uintptr_t)stack_a);
}

static uintptr_t aborting(void *arg)
{
    (void)arg;
    abort();
}

static void test_pool_flags_abort(hsafe_pool *pool)
{
    hsafe_pool p2;
    hsafe_pool_config cfg;
    hsafe_stack *s = NULL;
    hsafe_run_info info;
    int rc;
    memset(&cfg, 0, sizeof cfg);
    cfg.stack_size = 64 * 1024;
    cfg.flags = HSAFE_POOL_DONTDUMP;
    CHECK_EQ(hsafe_pool_init(&p2, &cfg), HSAFE_OK);
    CHECK_EQ(hsafe_pool_acquire(&p2, &s), HSAFE_ENOTSUP);
    CHECK_EQ(hsafe_pool_destroy(&p2), HSAFE_OK);
    cfg.flags = HSAFE_POOL_MLOCK;
    CHECK_EQ(hsafe_pool_init(&p2, &cfg), HSAFE_OK);
    rc = hsafe_pool_acquire(&p2, &s);
    printf("#   HSAFE_POOL_MLOCK acquire: %s\n", hsafe_strerror(rc));
    CHECK(rc == HSAFE_OK || rc == HSAFE_ELOCK);
    if (rc == HSAFE_OK) CHECK_EQ(hsafe_pool_release(&p2, s), HSAFE_OK);
    CHECK_EQ(hsafe_pool_destroy(&p2), HSAFE_OK);

    rc = hsafe_run_ex(pool, aborting, NULL, HSAFE_RUN_CATCH_ABORT, &info);
    CHECK_EQ(rc, HSAFE_EPANIC);
    CHECK(strstr(info.message, "abort") != NULL);
    /* the handler is installed again for the next run */
    rc = hsafe_run_ex(pool, aborting, NULL, HSAFE_RUN_CATCH_ABORT, &info);
    CHECK_EQ(rc, HSAFE_EPANIC);
}

/* The children. */
__attribute__((noinline)) static uintptr_t recurse(uintptr_t depth)
{
    volatile unsigned char buf[512];
    buf[0] = (unsigned char)depth;
    if (depth == 0) return 0;
    return recurse(depth - 1) + buf[0];
}

static uintptr_t overflow_run(void *arg)
{
    (void)arg;
    return recurse((uintptr_t)1 << 40);
}

static uintptr_t floor_run(void *arg)
{
    uintptr_t lo = (uintptr_t)__builtin_frame_address(0) - hsafe_stack_remaining();
    (void)arg;
    *(volatile unsigned char *)(lo - 16384 - 100) = 1;      /* in the NOACCESS floor */
    return 0;
}

#if defined(__cplusplus)
static uintptr_t uncaught_co(hsafe_coro *co, uintptr_t v)
{
    (void)co;
    if (v) throw std::runtime_error("nobody catches this");
    return v;
}
#endif

static int child_main(const char *what)
{
    hsafe_pool pool;
    hsafe_pool_config cfg;
#if defined(__cplusplus)
    if (strcmp(what, "throw") == 0) {
        hsafe_coro co;
        uintptr_t out = 0;
        hsafe_coro_init(&co, stack_a, sizeof stack_a, uncaught_co, NULL);
        hsafe_coro_resume(&co, 1, &out);
        fprintf(stderr, "child: the resume returned\n");
        return 3;
    }
#endif
    memset(&cfg, 0, sizeof cfg);
    cfg.stack_size = 64 * 1024;
    if (hsafe_pool_init(&pool, &cfg) != HSAFE_OK) return 2;
    hsafe_run(&pool, strcmp(what, "overflow") == 0 ? overflow_run : floor_run, NULL, NULL);
    fprintf(stderr, "child: the run returned\n");
    return 3;
}

/* Run this program with `what`; return its exit code, stderr in buf. */
static DWORD run_child(const char *what, char *buf, size_t cap)
{
    char exe[MAX_PATH], cmd[MAX_PATH + 64];
    SECURITY_ATTRIBUTES sa;
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    HANDLE rd = NULL, wr = NULL;
    DWORD code = 0, n = 0;
    size_t len = 0;
    buf[0] = 0;
    if (!GetModuleFileNameA(NULL, exe, sizeof exe)) return 1;
    snprintf(cmd, sizeof cmd, "\"%s\" %s", exe, what);
    memset(&sa, 0, sizeof sa);
    sa.nLength = sizeof sa;
    sa.bInheritHandle = TRUE;
    if (!CreatePipe(&rd, &wr, &sa, 0)) return 1;
    SetHandleInformation(rd, HANDLE_FLAG_INHERIT, 0);
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
    si.hStdError = wr;
    if (!CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
        CloseHandle(rd);
        CloseHandle(wr);
        return 1;
    }
    CloseHandle(wr);
    while (len + 1 < cap && ReadFile(rd, buf + len, (DWORD)(cap - 1 - len), &n, NULL) && n)
        len += n;
    buf[len] = 0;
    CloseHandle(rd);
    WaitForSingleObject(pi.hProcess, INFINITE);
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hProcess);
    CloseHandle(pi.hThread);
    return code;
}

static void test_overflow(void)
{
    char buf[2048];
    DWORD code = run_child("overflow", buf, sizeof buf);
    printf("#   overflow child: exit 0x%lx, stderr: %s", (unsigned long)code, buf);
    CHECK_EQ(code, EXCEPTION_STACK_OVERFLOW);
    CHECK(strstr(buf, "hsafe: stack overflow in a sanitized run: the 65536-byte stack at ") != NULL);
    CHECK(strstr(buf, "hit its guard page at") != NULL);
    code = run_child("floor", buf, sizeof buf);
    printf("#   floor child: exit 0x%lx, stderr: %s", (unsigned long)code, buf);
    CHECK_EQ(code, EXCEPTION_ACCESS_VIOLATION);
    CHECK(strstr(buf, "hit its guard page at") != NULL);
#if defined(__cplusplus)
    /* an exception nothing in the coroutine catches: std::terminate, as on
     * a thread's own stack (the trampoline's frame hands it to the
     * unhandled-exception filter), then abort()'s exit code 3 */
    code = run_child("throw", buf, sizeof buf);
    printf("#   throw child: exit 0x%lx, stderr: %s", (unsigned long)code, buf);
    CHECK_EQ(code, 3);
    CHECK(strstr(buf, "terminate called after throwing") != NULL);
    CHECK(strstr(buf, "child: the resume returned") == NULL);
#endif
}
#endif /* _WIN32 */

int main(int argc, char **argv)
{
    hsafe_pool pool;
    hsafe_pool_config cfg;
#if defined(_WIN32)
    if (argc > 1) return child_main(argv[1]);
#else
    (void)argc; (void)argv;
    (void)t_in_child;   /* testutil.h helper this test does not need */
#endif
    T_BEGIN("test_win64");
    memset(&cfg, 0, sizeof cfg);
    cfg.stack_size = POOL_STACK;
    CHECK_EQ(hsafe_pool_init(&pool, &cfg), HSAFE_OK);

    test_ping_pong();
    test_printf();
    test_probes(&pool);
    test_fp_control();
#if defined(__x86_64__)
    test_callee_saved();
#endif
    test_wiped(&pool);
#if defined(__cplusplus)
    test_cxx_exceptions();
#endif
#if defined(_WIN32)
    test_tib(&pool);
    test_stack_registry();
    test_pool_flags_abort(&pool);
    test_overflow();
#endif
    CHECK_EQ(hsafe_pool_destroy(&pool), HSAFE_OK);
    T_END();
}
