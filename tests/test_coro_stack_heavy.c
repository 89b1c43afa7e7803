/* test_coro_stack_heavy: stack-hungry code inside a coroutine does not
 * touch the coroutines suspended on the stacks next to it.
 *
 * Five coroutines sit on five adjacent 128 KiB stacks carved from one
 * array (filled with 0xEE first). The middle one ("heavy") recurses 160
 * frames deep, calls snprintf, vsnprintf (through its own variadic
 * wrapper), printf and qsort with many integer, string and floating-point
 * arguments (double, long double, %a, %e, %g), yields from the bottom of the
 * recursion, and resumes a neighbour from there. The other four ("sitters")
 * keep a 512-byte canary, a double and a long double in their frames while
 * suspended, and do their own formatting when resumed.
 *
 * Proves: every sitter's canary and floating-point locals are intact after
 * each of heavy's bursts; the formatted strings made on coroutine stacks
 * (whose bases are deliberately misaligned by a few bytes) are identical to
 * the same calls made on the main stack (so stack alignment for SSE/x87
 * code is right); heavy's deep frames survive its own suspension and a
 * nested resume; nothing below each sitter's frames was written (the 0xEE
 * fill is intact there); and heavy really used a lot of its stack (over
 * 24 KiB) without running off it (so a failure would be corruption, not an
 * overflow the test caused).
 */
#if defined(_WIN32) && !defined(__USE_MINGW_ANSI_STDIO)
#  define __USE_MINGW_ANSI_STDIO 1     /* C99 printf (long double, %zu) */
#endif
#ifndef HSAFE_TEST_SHARED_IMPL
#define HSAFE_IMPLEMENTATION
#endif
#include "hsafe.h"
#include "testutil.h"
#include <stdarg.h>

#define N_STACKS   5
#define HEAVY      2
#define STACK_SIZE (128 * 1024)
#define FILL       0xEE
#define DEPTH      160

static unsigned char stacks[N_STACKS * STACK_SIZE] __attribute__((aligned(64)));
static hsafe_coro coros[N_STACKS];
static int canary_bad, format_bad, recursion_bad, sitter_rounds[N_STACKS];

/* The stack of coroutine i: misaligned by i bytes at the base, so the
 * backends must align the top themselves. */
static unsigned char *stack_lo(unsigned i) { return stacks + (size_t)i * STACK_SIZE + i; }
static size_t stack_len(unsigned i) { return STACK_SIZE - 2 * i; }

/* ---- formatting that main and the coroutines both do ------------------ */

#if defined(__MINGW32__) && !defined(__clang__)
#  define MY_PRINTF gnu_printf     /* gcc's "printf" is msvcrt's there */
#else
#  define MY_PRINTF printf
#endif
static int my_vformat(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(MY_PRINTF, 3, 4)));
static int my_vformat(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

/* Fill buf with a long line built from seed; identical on any stack. */
static void format_line(char *buf, size_t cap, unsigned seed)
{
    volatile double d = 3.14159265358979 * (seed + 1);   /* volatile: no constant folding */
    volatile long double ld = 2.718281828459045235360287L / (seed + 3);
    double big = 1.5e300 / (seed + 1), tiny = 4.9e-320 * (seed + 1);
    char part[512];
    int n = snprintf(buf, cap,
                     "%d|%ld|%lld|%u|%x|%lX|%o|%s|%c|%f|%.17e|%g|%a|%Lf|%.20Le|%zu|%hhd|%10.3f|%-8s|%+.12e|%#o|%%|%5.2s|%e|%g",
                     (int)seed - 50, (long)seed * 100000L, (long long)seed * 1000000007LL, seed * 3u,
                     seed * 0xabcu, (unsigned long)seed * 0xdeadbeefUL, seed, "string-arg", 'A' + (int)(seed % 26),
                     d, d * 7.0, d / 3.0, d, ld, ld * 1e10L, (size_t)seed * 3, (signed char)seed,
                     d * 11.0, "pad", -d, seed, "truncated", big, tiny);
    CHECK(n > 0 && (size_t)n < cap);
    my_vformat(part, sizeof part, "|v:%s:%d:%.9f:%Lg:%lu:%s", "vsn", (int)seed, d * 0.5, ld * 2.0L,
               (unsigned long)seed << 20, buf + (n > 40 ? n - 40 : 0));
    if (strlen(buf) + strlen(part) < cap) strcat(buf, part);
}

static char expected[N_STACKS + 1][1024];

/* ---- sitters ----------------------------------------------------------- */

static unsigned char canary_byte(unsigned id, unsigned k) { return (unsigned char)(0xC0 ^ (id * 37 + k * 11)); }

static uintptr_t sitter(hsafe_coro *co, uintptr_t first)
{
    unsigned id = (unsigned)(uintptr_t)hsafe_coro_user(co), k;
    volatile unsigned char canary[512];
    volatile double dv = 1.0 / (id + 7);
    volatile long double lv = 1.0L / (id + 11);
    char buf[1024];
    uintptr_t in = first;
    for (k = 0; k < sizeof canary; k++) canary[k] = canary_byte(id, k);
    while (in != 0) {
        in = hsafe_coro_yield(co, id);
        for (k = 0; k < sizeof canary; k++)
            if (canary[k] != canary_byte(id, k)) { canary_bad++; break; }
        {   /* through memory, so x87 excess precision (i386) cannot differ */
            volatile double dw = 1.0 / (id + 7);
            volatile long double lw = 1.0L / (id + 11);
            if (dv != dw || lv != lw) canary_bad++;
        }
        format_line(buf, sizeof buf, id);
        if (strcmp(buf, expected[id]) != 0) format_bad++;
        sitter_rounds[id]++;
    }
    return id + 100;
}

/* Resume every sitter once (from wherever we are) and check what it says. */
static void poke_sitters(void)
{
    unsigned i;
    for (i = 0; i < N_STACKS; i++) {
        uintptr_t out = 0;
        if (i == HEAVY) continue;
        CHECK_EQ(hsafe_coro_resume(&coros[i], 1, &out), HSAFE_CORO_SUSPENDED);
        CHECK_EQ(out, i);
    }
}

/* ---- heavy ------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static hsafe_coro *heavy_co;

/* At the bottom of the recursion: format, yield with all those frames
 * live, then resume the sitters from here, and format again. */
__attribute__((noinline)) static void at_the_bottom(void)
{
    char buf[1024];
    format_line(buf, sizeof buf, HEAVY);
    if (strcmp(buf, expected[HEAVY]) != 0) format_bad++;
    hsafe_coro_yield(heavy_co, 1);
    poke_sitters();
    format_line(buf, sizeof buf, HEAVY);
    if (strcmp(buf, expected[HEAVY]) != 0) format_bad++;
}

/* Each frame keeps 256 bytes of its own; the sum checks them on the way up. */
__attribute__((noinline)) static unsigned long recurse(unsigned depth)
{
    volatile unsigned char frame[256];
    unsigned long sum = 0;
    unsigned k;
    for (k = 0; k < sizeof frame; k++) frame[k] = (unsigned char)(depth * 3 + k);
    if (depth + 1 < DEPTH) sum = recurse(depth + 1);
    else at_the_bottom();
    for (k = 0; k < sizeof frame; k++) {
        if (frame[k] != (unsigned char)(depth * 3 + k)) { recursion_bad++; break; }
        sum += frame[k];
    }
    return sum;
}

static unsigned long expected_sum(void)
{
    unsigned long sum = 0;
    unsigned d, k;
    for (d = 0; d < DEPTH; d++)
        for (k = 0; k < 256; k++) sum += (unsigned char)(d * 3 + k);
    return sum;
}

static uintptr_t heavy(hsafe_coro *co, uintptr_t first)
{
    char buf[1024];
    double arr[1000];
    unsigned k;
    (void)first;
    heavy_co = co;
    /* burst 1: formatting and printf to stdout */
    format_line(buf, sizeof buf, HEAVY);
    if (strcmp(buf, expected[HEAVY]) != 0) format_bad++;
    printf("# heavy coroutine: %.60s...\n", buf);
    fflush(stdout);
    hsafe_coro_yield(co, 1);
    /* burst 2: qsort with a callback, floating point */
    for (k = 0; k < 1000; k++) arr[k] = (double)((k * 7919u) % 1000u) / 3.0;
    qsort(arr, 1000, sizeof arr[0], cmp_double);
    for (k = 1; k < 1000; k++) if (arr[k - 1] > arr[k]) format_bad++;
    hsafe_coro_yield(co, 1);
    /* burst 3: deep recursion, yielding at the bottom */
    if (recurse(0) != expected_sum()) recursion_bad++;
    return 7;
}

/* Deepest byte of coroutine i's stack that is no longer FILL, counted
 * from its top. */
static size_t used_depth(unsigned i)
{
    unsigned char *lo = stack_lo(i);
    size_t n = stack_len(i), k;
    for (k = 0; k < n; k++)
        if (lo[k] != FILL) return n - k;
    return 0;
}

int main(void)
{
    unsigned i;
    uintptr_t out = 0;
    size_t heavy_used;
    T_BEGIN("test_coro_stack_heavy");
#if !defined(_WIN32)
    (void)t_in_child;   /* testutil.h helper this test does not need */
#endif

    for (i = 0; i < N_STACKS; i++) format_line(expected[i], sizeof expected[i], i);
    memset(stacks, FILL, sizeof stacks);
    for (i = 0; i < N_STACKS; i++) {
        CHECK_EQ(hsafe_coro_init(&coros[i], stack_lo(i), stack_len(i),
                                 i == HEAVY ? heavy : sitter, (void *)(uintptr_t)i), HSAFE_OK);
        if (i != HEAVY) {   /* each sitter sets up its frame and suspends */
            CHECK_EQ(hsafe_coro_resume(&coros[i], 1, &out), HSAFE_CORO_SUSPENDED);
            CHECK_EQ(out, i);
        }
    }

    /* three bursts of heavy work, the sitters checked after each */
    CHECK_EQ(hsafe_coro_resume(&coros[HEAVY], 0, &out), HSAFE_CORO_SUSPENDED);
    poke_sitters();
    CHECK_EQ(hsafe_coro_resume(&coros[HEAVY], 0, &out), HSAFE_CORO_SUSPENDED);
    poke_sitters();
    CHECK_EQ(hsafe_coro_resume(&coros[HEAVY], 0, &out), HSAFE_CORO_SUSPENDED); /* at the bottom */
    poke_sitters();
    CHECK_EQ(hsafe_coro_resume(&coros[HEAVY], 0, &out), HSAFE_CORO_FINISHED);
    CHECK_EQ(out, 7);

    /* end the sitters */
    for (i = 0; i < N_STACKS; i++) {
        if (i == HEAVY) continue;
        CHECK_EQ(hsafe_coro_resume(&coros[i], 0, &out), HSAFE_CORO_FINISHED);
        CHECK_EQ(out, i + 100);
        CHECK_EQ(sitter_rounds[i], 5);
    }
    CHECK_EQ(canary_bad, 0);
    CHECK_EQ(format_bad, 0);
    CHECK_EQ(recursion_bad, 0);
    /* finalise before looking at the stacks (the caller owns them again) */
    for (i = 0; i < N_STACKS; i++) CHECK_EQ(hsafe_coro_fini(&coros[i]), HSAFE_OK);

    heavy_used = used_depth(HEAVY);
    printf("# heavy used %zu of %zu bytes; sitters used", heavy_used, stack_len(HEAVY));
    CHECK(heavy_used > 24 * 1024);
    CHECK(heavy_used < stack_len(HEAVY) - 4096);
    for (i = 0; i < N_STACKS; i++) {
        if (i == HEAVY) continue;
        printf(" %zu", used_depth(i));
        /* nothing below a sitter's own frames was written */
        CHECK(used_depth(i) < stack_len(i) / 2);
    }
    printf("\n");
    T_END();
}
