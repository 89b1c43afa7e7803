/* boost_raw.c - switch_rt_ns.boost_raw: a bare Boost.Context fcontext
 * ping-pong, written directly against the C-linkage entry points of
 * Debian's libboost_context (link -lboost_context). No Boost header or
 * source is used; the two entry points are declared here from their
 * documented contract:
 *   make_fcontext(sp, size, fn): a context whose stack top is sp, that runs
 *                                fn(transfer) when first jumped to;
 *   jump_fcontext(to, data):     suspend here, resume `to` with data; when
 *                                someone jumps back, return {their context,
 *                                their data}.
 * One round trip = two jumps, a value passed each way (as in hsafe's). */
#include <stdio.h>
#include <stdlib.h>
#include "bench.h"

typedef void *bench_fctx;
typedef struct bench_transfer { bench_fctx fctx; void *data; } bench_transfer;
bench_transfer jump_fcontext(bench_fctx const to, void *data);
bench_fctx make_fcontext(void *sp, size_t size, void (*fn)(bench_transfer));

#define BR_STACK (64 * 1024)

static bench_fctx br_ctx;      /* the suspended partner */
static void *br_stack;

static void br_body(bench_transfer t)
{
    for (;;) t = jump_fcontext(t.fctx, (void *)((uintptr_t)t.data + 1));
}

int bench_boost_raw_setup(void)
{
    if (posix_memalign(&br_stack, 64, BR_STACK)) return -1;
    br_ctx = make_fcontext((unsigned char *)br_stack + BR_STACK, BR_STACK, br_body);
    for (uintptr_t i = 0; i < 1000; i++) {
        bench_transfer t = jump_fcontext(br_ctx, (void *)(i * 7));
        br_ctx = t.fctx;
        if ((uintptr_t)t.data != i * 7 + 1) {
            fprintf(stderr, "bench: boost_raw round trip check failed\n");
            return -1;
        }
    }
    return 0;
}

uint64_t bench_rt_boost_raw(long iters)
{
    bench_fctx c = br_ctx;
    uintptr_t acc = 0;
    uint64_t t0 = bench_now_ns(), t1;
    for (long i = 0; i < iters; i++) {
        bench_transfer t = jump_fcontext(c, (void *)(uintptr_t)i);
        c = t.fctx;
        acc += (uintptr_t)t.data;
    }
    t1 = bench_now_ns();
    br_ctx = c;
    bench_sink = acc;
    return t1 - t0;
}
