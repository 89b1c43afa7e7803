/* be_asm.c - hsafe built the default way (asm backend, default wipe):
 * switch_rt_ns.asm, spawn_ns.asm, run_ns.*, wipe_gbps.explicit. */
#define HSAFE_PRIVATE
#define HSAFE_IMPLEMENTATION
#define HSAFE_BACKEND_ASM
#include "../hsafe.h"
#include "bench.h"

#define BE_CONFIG   bench_asm_config
#define BE_SETUP    be_asm_rt_setup
#define BE_TEARDOWN be_asm_rt_teardown
#define BE_RT       bench_rt_asm
#include "be_coro.h"

#define BR_NAME     "run_ns"
#define BR_CONFIG   be_asm_run_config
#define BR_SETUP    be_asm_run_setup
#define BR_TEARDOWN be_asm_run_teardown
#define BR_RUN_S64K bench_run_S64K
#define BR_RUN_S1M  bench_run_S1M
#define BR_RUN_S1M_DEEP bench_run_S1M_after_deep
#include "be_run.h"

/* ---- spawn_ns.asm: init + first resume + run to completion + fini, on
 * one reused 64 KiB stack (no allocation in the loop). */
static void *be_spawn_stack;

static uintptr_t be_spawn_body(hsafe_coro *co, uintptr_t v)
{
    (void)co;
    return v + 1;
}

static int be_spawn_setup(void)
{
    hsafe_coro co;
    uintptr_t out = 0;
    if (posix_memalign(&be_spawn_stack, 64, BENCH_SPAWN_STACK)) return -1;
    memset(be_spawn_stack, 0, BENCH_SPAWN_STACK);
    if (hsafe_coro_init(&co, be_spawn_stack, BENCH_SPAWN_STACK, be_spawn_body, NULL) ||
        hsafe_coro_resume(&co, 41, &out) != HSAFE_CORO_FINISHED || out != 42 ||
        hsafe_coro_fini(&co)) {
        fprintf(stderr, "bench: spawn check failed\n");
        return -1;
    }
    return 0;
}

uint64_t bench_spawn_asm(long iters)
{
    hsafe_coro co;
    uintptr_t acc = 0, out = 0;
    uint64_t t0 = bench_now_ns(), t1;
    for (long i = 0; i < iters; i++) {
        hsafe_coro_init(&co, be_spawn_stack, BENCH_SPAWN_STACK, be_spawn_body, NULL);
        hsafe_coro_resume(&co, (uintptr_t)i, &out);
        hsafe_coro_fini(&co);
        acc += out;
    }
    t1 = bench_now_ns();
    bench_sink = acc;
    return t1 - t0;
}

/* ---- wipe_gbps.explicit: hsafe_wipe with the default wipe. */
uint64_t bench_wipe_explicit(void *buf, size_t len, long iters)
{
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < iters; i++) hsafe_wipe(buf, len);
    return bench_now_ns() - t0;
}

int bench_asm_setup(void)
{
    if (be_asm_rt_setup() || be_asm_run_setup() || be_spawn_setup()) return -1;
    return 0;
}

void bench_asm_teardown(void)
{
    be_asm_rt_teardown();
    be_asm_run_teardown();
    free(be_spawn_stack);
    be_spawn_stack = NULL;
}
