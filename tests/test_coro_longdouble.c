/* Proves: floating-point values that live in registers across a switch
 * survive it on both sides, including x87 long double on x86 (the switch
 * must declare the x87 stack clobbered: without that, gcc -O2 keeps the
 * resumer's accumulator in st(0) across the switch and the coroutine's own
 * long double arithmetic overwrites it). Each side computes a recurrence
 * with values kept live across every resume/yield and checks the result
 * against the same recurrence computed without any switch. */
#ifndef HSAFE_TEST_SHARED_IMPL
#define HSAFE_IMPLEMENTATION
#endif
#include "hsafe.h"
#include "testutil.h"

/* Where floating-point expressions are evaluated in wider registers (x87
 * on i386: FLT_EVAL_METHOD 2), the result depends on where the compiler
 * spills and rounds, so the two computations may differ in the last bits;
 * a lost or swapped register is still off by far more than that. */
#include <float.h>
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD != 0
static int close_to(long double a, long double b)
{
    long double d = a > b ? a - b : b - a, m = (a < 0 ? -a : a);
    return d <= m * 1e-12L;
}
#else
static int close_to(long double a, long double b) { return a == b; }
#endif

static volatile long double seed = 1.25L;
static volatile double dseed = 0.75;
static long double co_result;
static double co_dresult;

static uintptr_t body(hsafe_coro *co, uintptr_t x)
{
    long double a = seed * 3, b = seed * 5;
    double c = dseed, d = dseed * 2;
    int i;
    for (i = 0; i < 10; i++) {
        a = a * b + 1; b = b + a / 7;
        c = c * d + 0.5; d = d - c / 9;
        x = hsafe_coro_yield(co, x + 1);
        a = a - 2; b = b * 0.5L;
        c = c - 0.25; d = d * 1.5;
    }
    co_result = a + b;
    co_dresult = c + d;
    return x;
}

static void expected(long double *coro, double *dcoro, long double *acc_out)
{
    long double a = seed * 3, b = seed * 5, acc = seed, m = seed * 2;
    double c = dseed, d = dseed * 2;
    int i;
    for (i = 0; i < 10; i++) {
        a = a * b + 1; b = b + a / 7; a = a - 2; b = b * 0.5L;
        c = c * d + 0.5; d = d - c / 9; c = c - 0.25; d = d * 1.5;
    }
    for (i = 0; i < 11; i++) { acc = acc * m + 1; acc = acc - m; }
    *coro = a + b;
    *dcoro = c + d;
    *acc_out = acc;
}

int main(void)
{
    static unsigned char stack[65536];
    hsafe_coro co;
    long double acc = seed, m = seed * 2, want_co, want_acc;
    double want_d;
    uintptr_t out = 0;
    int i, st = 0;
    T_BEGIN("test_coro_longdouble");
    CHECK_EQ(hsafe_coro_init(&co, stack, sizeof stack, body, NULL), HSAFE_OK);
    for (i = 0; i < 11; i++) {
        acc = acc * m + 1;
        st = hsafe_coro_resume(&co, (uintptr_t)i, &out);
        acc = acc - m;
    }
    CHECK_EQ(st, HSAFE_CORO_FINISHED);
    expected(&want_co, &want_d, &want_acc);
    CHECK(close_to(acc, want_acc));
    CHECK(close_to(co_result, want_co));
    CHECK(close_to(co_dresult, want_d));
    CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);
    T_END();
}
