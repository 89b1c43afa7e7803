/* be_gen.c - generators and combinators (default build: asm backend):
 *   gen_next_ns    one hsafe_gen_next of a generator that yields ints (the
 *                  producer's loop runs forever; the consumer sums)
 *   iter_call_ns   the same sequence from a plain C callback iterator
 *                  (the iterator and the callback are not inlined)
 *   race_ns        one hsafe_race of two calls inside a task: one returns
 *                  at once, the other sleeps until it is cancelled; per
 *                  race, including cancelling and joining the loser
 * Checks the sums before timing. */
#define HSAFE_PRIVATE
#define HSAFE_IMPLEMENTATION
#include "../hsafe.h"
#include "bench.h"
#include "be_gen.h"
#include <stdio.h>

static hsafe_pool gen_pool;
static hsafe_gen gen;

static uintptr_t be_ints(hsafe_gen *g, void *arg, uintptr_t first)
{
    uintptr_t i = first;
    (void)arg;
    while (hsafe_gen_yield(g, i, NULL) == 0) i++;
    return 0;
}

/* the callback iterator: calls cb(ctx, i) for i in [from, from + n) */
__attribute__((noinline)) static void be_iter_ints(uintptr_t from, long n,
                                                  void (*cb)(void *, uintptr_t), void *ctx)
{
    for (long k = 0; k < n; k++) cb(ctx, from + (uintptr_t)k);
}

__attribute__((noinline)) static void be_sum_cb(void *ctx, uintptr_t v) { *(uintptr_t *)ctx += v; }

int bench_gen_setup(void)
{
    hsafe_pool_config pc;
    uintptr_t v = 0, sum = 0, isum = 0;
    memset(&pc, 0, sizeof pc);
    pc.stack_size = 64 * 1024;
    pc.capacity = 8;
    if (hsafe_pool_init(&gen_pool, &pc) || hsafe_gen_init(&gen, &gen_pool, be_ints, NULL)) return -1;
    for (int k = 0; k < 100; k++) {
        if (hsafe_gen_next(&gen, 0, &v) != HSAFE_GEN_VALUE) return -1;
        sum += v;
    }
    be_iter_ints(0, 100, be_sum_cb, &isum);
    if (sum != 4950 || isum != 4950) {
        fprintf(stderr, "bench: generator check failed (%lu, %lu)\n", (unsigned long)sum, (unsigned long)isum);
        return -1;
    }
    return 0;
}

uint64_t bench_gen_next(long iters)
{
    uintptr_t v = 0, sum = 0;
    uint64_t t0 = bench_now_ns();
    for (long k = 0; k < iters; k++) {
        hsafe_gen_next(&gen, 0, &v);
        sum += v;
    }
    uint64_t t1 = bench_now_ns();
    bench_sink = sum;
    return t1 - t0;
}

uint64_t bench_iter_call(long iters)
{
    uintptr_t sum = 0;
    uint64_t t0 = bench_now_ns();
    be_iter_ints(0, iters, be_sum_cb, &sum);
    uint64_t t1 = bench_now_ns();
    bench_sink = sum;
    return t1 - t0;
}

/* ---- race_ns */

static hsafe_loop race_loop;

static int be_quick(void *arg, uintptr_t *result) { (void)arg; *result = 1; return 0; }
static int be_sleeper(void *arg, uintptr_t *result)
{
    (void)arg; (void)result;
    return hsafe_sleep_until(hsafe_after(10 * 1000 * 1000 * 1000LL));
}

typedef struct be_race { long iters; uint64_t ns; int bad; } be_race;

static int be_race_root(void *arg)
{
    be_race *r = (be_race *)arg;
    hsafe_call calls[2];
    size_t won;
    memset(calls, 0, sizeof calls);
    calls[0].fn = be_sleeper;
    calls[1].fn = be_quick;
    uint64_t t0 = bench_now_ns();
    for (long k = 0; k < r->iters; k++)
        if (hsafe_race(calls, 2, HSAFE_FOREVER, &won) != 0 || won != 1) r->bad = 1;
    r->ns = bench_now_ns() - t0;
    return 0;
}

int bench_race_setup(void)
{
    hsafe_loop_config lc;
    be_race r = { 100, 0, 0 };
    memset(&lc, 0, sizeof lc);
    lc.pool = &gen_pool;
    if (hsafe_loop_init(&race_loop, &lc)) return -1;
    if (hsafe_loop_run(&race_loop, be_race_root, &r, "race") || r.bad) {
        fprintf(stderr, "bench: race check failed\n");
        return -1;
    }
    return 0;
}

uint64_t bench_race(long iters)
{
    be_race r = { iters, 0, 0 };
    hsafe_loop_run(&race_loop, be_race_root, &r, "race");
    return r.ns;
}
