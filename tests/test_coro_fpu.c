/* test_coro_fpu: what happens to the floating-point control state (rounding
 * mode; on x86_64 also MXCSR flush-to-zero/denormals-are-zero and the x87
 * precision control; on aarch64 also FPCR.FZ) across a switch.
 *
 * Two models exist, and each build is checked against the one it promises:
 *   PER-CONTEXT: every coroutine has its own control state. A coroutine that
 *     sets FE_UPWARD (and FTZ/DAZ, x87 single precision) and yields leaves
 *     its resumer's state untouched; when resumed it finds its own state
 *     again even if the resumer changed the thread's meanwhile; a new
 *     coroutine starts with the state its creator had when it called
 *     hsafe_coro_init. Backends: asm built with HSAFE_ASM_SAVE_FPU (it saves
 *     MXCSR + x87 CW, or FPCR); fcontext (Boost's make_fcontext snapshots
 *     MXCSR + x87 CW / FPCR and jump_fcontext saves and restores them);
 *     ucontext on glibc x86_64 / aarch64 (getcontext snapshots and
 *     swapcontext restores the x87 environment + MXCSR / FPSR + FPCR).
 *   THREAD: the switch does not touch the control state; it belongs to the
 *     thread. A mode set in a coroutine is still set in its resumer after a
 *     yield, a mode set by the resumer is seen by the coroutine, and a new
 *     coroutine starts with whatever is current at its first resume. Backend:
 *     asm without HSAFE_ASM_SAVE_FPU (the default; see the backend file).
 * Other targets/backend pairs (e.g. ucontext on other architectures) are
 * not promised either model: the test reports which one it observed and
 * checks only that it is one of the two, consistently.
 * Every check reads the state back (fegetround, stmxcsr, fnstcw, FPCR) and
 * also observes it in arithmetic (1/3 rounded up vs to nearest; a denormal
 * result flushed to zero; a long double sum rounded to 24 bits).
 * Link with -lm (fenv).
 */
#ifndef HSAFE_TEST_SHARED_IMPL
#define HSAFE_IMPLEMENTATION
#endif
#include "hsafe.h"
#include "testutil.h"
#include <fenv.h>
#include <float.h>

#define STACK_SIZE (64 * 1024)

enum { MODEL_UNKNOWN = 0, MODEL_PER_CONTEXT = 1, MODEL_THREAD = 2 };

/* What this build promises (MODEL_UNKNOWN: observe and report). */
static int promised_model(void)
{
    const char *cfg = hsafe_config_string();
    if (strstr(cfg, "backend=asm")) {
#if defined(HSAFE_ASM_SAVE_FPU)
        return MODEL_PER_CONTEXT;
#else
        return MODEL_THREAD;
#endif
    }
    if (strstr(cfg, "backend=fcontext")) return MODEL_PER_CONTEXT;
#if defined(__GLIBC__) && (defined(__x86_64__) || defined(__aarch64__))
    if (strstr(cfg, "backend=ucontext")) return MODEL_PER_CONTEXT;
#endif
    return MODEL_UNKNOWN;
}

/* ---- the control state: read, set, observe ----------------------------- */

typedef struct fpstate {
    int round;              /* fegetround() */
    unsigned long long extra;   /* x86_64: MXCSR | x87 CW << 32; aarch64: FPCR */
} fpstate;

#if defined(__x86_64__)
#  define MXCSR_DAZ  0x0040u
#  define MXCSR_FTZ  0x8000u
#  define X87_PC_MASK 0x0300u   /* precision control: 00 = 24-bit significand */
#endif
#if defined(__aarch64__)
#  define FPCR_FZ (1ull << 24)
#endif

static fpstate get_state(void)
{
    fpstate s;
    s.round = fegetround();
    s.extra = 0;
#if defined(__x86_64__)
    {
        unsigned mxcsr = 0;
        unsigned short cw = 0;
        __asm__ __volatile__("stmxcsr %0\n\tfnstcw %1" : "=m"(mxcsr), "=m"(cw));
        s.extra = (unsigned long long)(mxcsr & ~0x3fu) | ((unsigned long long)cw << 32);  /* no flag bits */
    }
#elif defined(__aarch64__)
    {
        unsigned long fpcr;
        __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
        s.extra = fpcr;
    }
#endif
    return s;
}

/* The odd mode: round up, and flush denormals / shorten x87 precision. */
static void set_odd_extras(void)
{
#if defined(__x86_64__)
    unsigned mxcsr = 0;
    unsigned short cw = 0;
    __asm__ __volatile__("stmxcsr %0\n\tfnstcw %1" : "=m"(mxcsr), "=m"(cw));
    mxcsr |= MXCSR_FTZ | MXCSR_DAZ;
    cw = (unsigned short)(cw & ~X87_PC_MASK);
    __asm__ __volatile__("ldmxcsr %0\n\tfldcw %1" : : "m"(mxcsr), "m"(cw));
#elif defined(__aarch64__)
    unsigned long fpcr;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
    fpcr |= FPCR_FZ;
    __asm__ __volatile__("msr fpcr, %0" : : "r"(fpcr));
#endif
}

static void set_default_state(void)
{
#if defined(__x86_64__)
    unsigned mxcsr = 0x1f80u;             /* all masked, nearest, no FTZ/DAZ */
    unsigned short cw = 0x037fu;          /* all masked, nearest, 64-bit */
    __asm__ __volatile__("ldmxcsr %0\n\tfldcw %1" : : "m"(mxcsr), "m"(cw));
#elif defined(__aarch64__)
    unsigned long fpcr = 0;
    __asm__ __volatile__("msr fpcr, %0" : : "r"(fpcr));
#endif
    fesetround(FE_TONEAREST);
}

static int is_odd(fpstate s)
{
    if (s.round != FE_UPWARD) return 0;
#if defined(__x86_64__)
    if (((s.extra & 0xffffffffu) & (MXCSR_FTZ | MXCSR_DAZ)) != (MXCSR_FTZ | MXCSR_DAZ)) return 0;
    if (((s.extra >> 32) & X87_PC_MASK) != 0) return 0;
#elif defined(__aarch64__)
    if (!(s.extra & FPCR_FZ)) return 0;
#endif
    return 1;
}

static int same(fpstate a, fpstate b) { return a.round == b.round && a.extra == b.extra; }

/* Arithmetic that shows the mode: 1/3 rounded up differs from 1/3 to
 * nearest (computed at start-up); a denormal result is flushed to zero with
 * FTZ; 1 + 2^-40 in long double, rounded up at x87 single precision, is
 * 1 + 2^-23, not exact. Returns 1 for "odd", 0 for "default", -1 for a
 * mixture. */
static volatile double one = 1.0, three = 3.0, third_nearest;
#if defined(__x86_64__) || defined(__aarch64__)
static volatile double small = DBL_MIN;
#endif
#if defined(__x86_64__)
static volatile long double lone = 1.0L, ltiny = 1.0L / 1099511627776.0L;  /* 2^-40 */
#endif
static int observe(void)
{
    volatile double third = one / three;
    int n = 1, odd = third != third_nearest;
#if defined(__x86_64__) || defined(__aarch64__)
    {
        volatile double den = small / 1024.0;
        n++;
        odd += den == 0.0;
    }
#endif
#if defined(__x86_64__)
    {
        volatile long double sum = lone + ltiny;
        volatile long double diff = sum - lone;
        n++;
        odd += diff != ltiny;
    }
#endif
    return odd == n ? 1 : odd == 0 ? 0 : -1;
}

/* ---- the coroutines ----------------------------------------------------- */

static unsigned char stack1[STACK_SIZE], stack2[STACK_SIZE], stack3[STACK_SIZE];
static hsafe_coro co1, co2, co3;

/* Observations, indexed by step; filled by the coroutines. */
static fpstate seen[8];
static int seen_obs[8];

static void note(int i) { seen[i] = get_state(); seen_obs[i] = observe(); }

static uintptr_t child(hsafe_coro *co, uintptr_t first)
{
    (void)co;
    note((int)first);
    return first;
}

static uintptr_t changer(hsafe_coro *co, uintptr_t first)
{
    (void)first;
    note(0);                              /* what a new coroutine starts with */
    fesetround(FE_UPWARD);
    set_odd_extras();
    note(1);                              /* the odd mode took effect here */
    /* a coroutine created here, in the odd mode */
    CHECK_EQ(hsafe_coro_init(&co3, stack3, sizeof stack3, child, NULL), HSAFE_OK);
    hsafe_coro_yield(co, 1);
    note(2);                              /* after main changed its own mode */
    hsafe_coro_yield(co, 2);
    note(3);
    return 3;
}

#if defined(__x86_64__) && defined(HSAFE_ASM_SAVE_FPU)
/* For check 7: the status flags across switches that reload the control
 * state (this coroutine runs in the odd mode, its resumer in the default). */
static int flag_seen[2];
static uintptr_t flagger(hsafe_coro *co, uintptr_t first)
{
    volatile double x;
    (void)first;
    flag_seen[0] = fetestexcept(FE_INEXACT) != 0;   /* the resumer's flag */
    fesetround(FE_UPWARD);
    set_odd_extras();
    feclearexcept(FE_ALL_EXCEPT);
    x = one / three;                                /* raises inexact */
    (void)x;
    hsafe_coro_yield(co, 1);
    flag_seen[1] = fetestexcept(FE_INEXACT) != 0;   /* cleared by the resumer? */
    set_default_state();
    return 2;
}
#endif

static const char *model_name(int m)
{
    return m == MODEL_PER_CONTEXT ? "per-context" : m == MODEL_THREAD ? "thread" : "none/mixed";
}

int main(void)
{
    fpstate def, after;
    int promised, observed, obs;
    uintptr_t out = 0;
    T_BEGIN("test_coro_fpu");
#if !defined(_WIN32)
    (void)t_in_child;   /* testutil.h helper this test does not need */
#endif
    promised = promised_model();

    set_default_state();
    def = get_state();
    third_nearest = one / three;
    CHECK_EQ(observe(), 0);
    CHECK(!is_odd(def));

    /* the odd mode works at all, on the main stack */
    fesetround(FE_UPWARD);
    set_odd_extras();
    CHECK(is_odd(get_state()));
    CHECK_EQ(observe(), 1);
    set_default_state();
    CHECK(same(get_state(), def));

    /* 1. co1 starts from the default mode, switches to the odd one (and
     *    creates co3 in it), yields */
    CHECK_EQ(hsafe_coro_init(&co1, stack1, sizeof stack1, changer, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_coro_resume(&co1, 0, &out), HSAFE_CORO_SUSPENDED);
    CHECK(same(seen[0], def));
    CHECK_EQ(seen_obs[0], 0);
    CHECK(is_odd(seen[1]));
    CHECK_EQ(seen_obs[1], 1);

    /* 2. what does the resumer see? */
    after = get_state();
    obs = observe();
    if (same(after, def) && obs == 0) observed = MODEL_PER_CONTEXT;
    else if (is_odd(after) && obs == 1) observed = MODEL_THREAD;
    else observed = MODEL_UNKNOWN;
    printf("# promised model: %s; observed: %s\n",
           promised == MODEL_UNKNOWN ? "not promised" : model_name(promised), model_name(observed));
    CHECK(observed != MODEL_UNKNOWN);
    if (promised != MODEL_UNKNOWN) CHECK_EQ(observed, promised);

    /* 3. main picks a mode of its own (toward zero) and resumes co1 */
    set_default_state();
    fesetround(FE_TOWARDZERO);
    CHECK_EQ(hsafe_coro_resume(&co1, 0, &out), HSAFE_CORO_SUSPENDED);
    CHECK_EQ(out, 2);
    if (observed == MODEL_PER_CONTEXT) {
        CHECK(is_odd(seen[2]));                 /* co1 got its own mode back */
        CHECK_EQ(seen_obs[2], 1);
        CHECK_EQ(fegetround(), FE_TOWARDZERO);  /* and main kept its own */
    } else if (observed == MODEL_THREAD) {
        CHECK_EQ(seen[2].round, FE_TOWARDZERO); /* co1 sees the thread's */
        CHECK(!is_odd(seen[2]));
        CHECK_EQ(fegetround(), FE_TOWARDZERO);
    }

    /* 4. co3, created inside co1 in the odd mode, first resumed by main
     *    from the default mode */
    set_default_state();
    CHECK_EQ(hsafe_coro_resume(&co3, 5, &out), HSAFE_CORO_FINISHED);
    CHECK_EQ(out, 5);
    if (observed == MODEL_PER_CONTEXT) {
        CHECK(is_odd(seen[5]));                 /* its creator's mode */
        CHECK_EQ(seen_obs[5], 1);
        CHECK(same(get_state(), def));
    } else if (observed == MODEL_THREAD) {
        CHECK(same(seen[5], def));              /* the thread's at first resume */
        CHECK_EQ(seen_obs[5], 0);
    }

    /* 5. finish co1 from the default mode */
    set_default_state();
    CHECK_EQ(hsafe_coro_resume(&co1, 0, &out), HSAFE_CORO_FINISHED);
    CHECK_EQ(out, 3);
    if (observed == MODEL_PER_CONTEXT) CHECK(is_odd(seen[3]));
    else if (observed == MODEL_THREAD) CHECK(same(seen[3], def));
    CHECK(same(get_state(), def));              /* a finished one leaves nothing */

    /* 6. a coroutine created by main in the odd mode, first resumed from
     *    the default mode */
    fesetround(FE_UPWARD);
    set_odd_extras();
    CHECK_EQ(hsafe_coro_init(&co2, stack2, sizeof stack2, child, NULL), HSAFE_OK);
    set_default_state();
    CHECK_EQ(hsafe_coro_resume(&co2, 4, &out), HSAFE_CORO_FINISHED);
    CHECK_EQ(out, 4);
    if (observed == MODEL_PER_CONTEXT) {
        CHECK(is_odd(seen[4]));
        CHECK_EQ(seen_obs[4], 1);
        CHECK(same(get_state(), def));
    } else if (observed == MODEL_THREAD) {
        CHECK(same(seen[4], def));
        CHECK_EQ(seen_obs[4], 0);
    }

#if defined(__x86_64__) && defined(HSAFE_ASM_SAVE_FPU)
    /* 7. asm with HSAFE_ASM_SAVE_FPU keeps the control state per context
     *    but the status flags (MXCSR bits 0-5) stay the thread's: a switch
     *    never brings back a context's own flags, nor clears the current
     *    ones, also when it reloads another control state (the coroutine
     *    runs in the odd mode). See backends/asm_x86_64_sysv.h. */
    {
        hsafe_coro co4;
        volatile double x;
        set_default_state();
        CHECK_EQ(hsafe_coro_init(&co4, stack2, sizeof stack2, flagger, NULL), HSAFE_OK);
        feclearexcept(FE_ALL_EXCEPT);
        x = one / three;                            /* main raises inexact */
        (void)x;
        CHECK_EQ(hsafe_coro_resume(&co4, 0, &out), HSAFE_CORO_SUSPENDED);
        CHECK_EQ(flag_seen[0], 1);                  /* the coroutine saw main's flag */
        CHECK(same(get_state(), def));              /* main's control came back */
        CHECK(fetestexcept(FE_INEXACT) != 0);       /* and the coroutine's flag stayed */
        feclearexcept(FE_ALL_EXCEPT);
        CHECK_EQ(hsafe_coro_resume(&co4, 0, &out), HSAFE_CORO_FINISHED);
        CHECK_EQ(flag_seen[1], 0);                  /* its own flag did not come back */
        CHECK(same(get_state(), def));
        CHECK_EQ(hsafe_coro_fini(&co4), HSAFE_OK);
    }
#endif

    CHECK_EQ(hsafe_coro_fini(&co1), HSAFE_OK);
    CHECK_EQ(hsafe_coro_fini(&co2), HSAFE_OK);
    CHECK_EQ(hsafe_coro_fini(&co3), HSAFE_OK);
    set_default_state();
    T_END();
}
