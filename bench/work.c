/* work.c - the workloads the benchmark runs, and the plain-C reference
 * loops. No hsafe here. The callees live in this translation unit and their
 * callers in others (driver.c, be_*.c), so no compiler without LTO can
 * inline them or see that their work is unused. */
#include <string.h>
#include "bench.h"

volatile uintptr_t bench_sink;

/* Writes BENCH_USE_BYTES (1 KiB) of non-zero bytes into a local array, i.e.
 * onto whatever stack it runs on. The array's address escapes into an asm
 * with a memory clobber, so the compiler must perform every store; the fill
 * byte is never zero, so hsafe's scan for the first non-zero byte sees all
 * of it. */
__attribute__((noinline)) uintptr_t bench_use1k(void *arg)
{
    unsigned char buf[BENCH_USE_BYTES];
    uintptr_t x = (uintptr_t)arg;
    memset(buf, (int)((x & 0x7f) | 0x80), sizeof buf);
    __asm__ __volatile__("" : : "r"(buf) : "memory");
    return buf[x & (sizeof buf - 1)];
}

/* Writes BENCH_DEEP_BYTES (960 KiB) of stack the same way: run once on a
 * 1 MiB pooled stack, it leaves that stack's pages resident for good. */
__attribute__((noinline)) uintptr_t bench_use_deep(void *arg)
{
    unsigned char buf[BENCH_DEEP_BYTES];
    uintptr_t x = (uintptr_t)arg;
    memset(buf, (int)((x & 0x7f) | 0x80), sizeof buf);
    __asm__ __volatile__("" : : "r"(buf) : "memory");
    return buf[x & 1023];
}

/* An empty non-inlined call with a value each way (call_rt_ns.noinline). */
__attribute__((noinline)) uintptr_t bench_noinline_call(uintptr_t x)
{
    __asm__ __volatile__("" : "+r"(x));
    return x + 1;
}

/* wipe_gbps.memset: memset, then a compiler barrier that makes the zeroed
 * bytes observable (without it the memset of a dead buffer may vanish). */
uint64_t bench_wipe_memset(void *buf, size_t len, long iters)
{
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < iters; i++) {
        memset(buf, 0, len);
        __asm__ __volatile__("" : : "r"(buf) : "memory");
    }
    return bench_now_ns() - t0;
}
