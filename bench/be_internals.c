/* be_internals.c - DIAGNOSTICS (BENCH diag.* lines): the two parts of a
 * release that decide run_ratio.*, timed alone by calling hsafe's private
 * helpers (visible here because this unit compiles the implementation with
 * HSAFE_PRIVATE). If they are renamed, this file stops compiling and
 * run.sh drops its lines; nothing else depends on it.
 *   diag.scan_gbps.zero_prefix   hsafe__zero_prefix over 64 KiB of zeros:
 *                                what every release of a stack smaller than
 *                                HSAFE__RESIDENCY_MIN reads (compare it with
 *                                wipe_gbps.explicit, what a full wipe writes)
 *   diag.residency_ns.S1M        hsafe__os_touched on a 1 MiB pooled
 *                                stack in steady state (the kernel query a
 *                                release of a large stack makes first) */
#define HSAFE_PRIVATE
#define HSAFE_IMPLEMENTATION
#define HSAFE_BACKEND_ASM
#include "../hsafe.h"
#include "bench.h"
#include <stdio.h>

static unsigned char *bi_zero;
static hsafe_pool bi_pool;
static hsafe_stack *bi_stack;
static size_t bi_lowest;

/* Offset of the lowest touched page, as release asks the kernel for it. */
static size_t bi_query(void)
{
    hsafe__span sp[32];
    int n = hsafe__os_touched(bi_pool.residency, bi_pool.pagemap_fd, bi_stack->lo,
                              bi_stack->size, sp, 32);
    return n > 0 ? sp[0].start : n == 0 ? bi_stack->size : 0;
}

int bench_internals_setup(void)
{
    hsafe_pool_config cfg;
    (void)hsafe_config_string();             /* CPU detection */
    if (posix_memalign((void **)&bi_zero, 4096, BENCH_WIPE_BYTES)) return -1;
    memset(bi_zero, 0, BENCH_WIPE_BYTES);
    if (hsafe__zero_prefix(bi_zero, BENCH_WIPE_BYTES) != BENCH_WIPE_BYTES) return -1;
    memset(&cfg, 0, sizeof cfg);
    cfg.stack_size = 1024 * 1024;
    cfg.capacity = 1;
    if (hsafe_pool_init(&bi_pool, &cfg)) return -1;
    for (long i = 0; i < 64; i++)
        if (hsafe_run(&bi_pool, bench_use1k, (void *)(uintptr_t)i, NULL)) return -1;
    if (!bi_pool.residency) {
        fprintf(stderr, "bench: no residency information for 1 MiB stacks\n");
        return -1;
    }
    /* hold the stack (not written while held) and query it */
    if (hsafe_pool_acquire(&bi_pool, &bi_stack)) return -1;
    bi_lowest = bi_query();
    printf("# residency: lowest touched page of the 1 MiB stack at offset %zu of %zu; "
           "stack %s a 2 MiB boundary\n", bi_lowest, bi_stack->size,
           ((uintptr_t)bi_stack->lo >> 21) != (((uintptr_t)bi_stack->lo + bi_stack->size - 1) >> 21)
               ? "crosses" : "within");
    return 0;
}

/* The 64 KiB of zeros the scan reads (diag.read_gbps.best reads it too). */
const unsigned char *bench_internals_zero_buf(void) { return bi_zero; }

uint64_t bench_scan_zero_prefix(long iters)
{
    size_t acc = 0;
    uint64_t t0 = bench_now_ns(), t1;
    for (long i = 0; i < iters; i++) {
        acc += hsafe__zero_prefix(bi_zero, BENCH_WIPE_BYTES);
        __asm__ __volatile__("" : : "r"(bi_zero) : "memory");
    }
    t1 = bench_now_ns();
    bench_sink = acc;
    return t1 - t0;
}

uint64_t bench_residency_S1M(long iters)
{
    size_t acc = 0;
    uint64_t t0 = bench_now_ns(), t1;
    for (long i = 0; i < iters; i++)
        acc += bi_query();
    t1 = bench_now_ns();
    bench_sink = acc;
    return t1 - t0;
}
