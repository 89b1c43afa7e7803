/* be_wipevol.c - hsafe_wipe built with -DHSAFE_WIPE_VOLATILE
 * (wipe_gbps.volatile). */
#define HSAFE_PRIVATE
#define HSAFE_IMPLEMENTATION
#ifndef HSAFE_WIPE_VOLATILE
#  define HSAFE_WIPE_VOLATILE 1
#endif
#include "../hsafe.h"
#include "bench.h"

const char *bench_wipevol_config(void) { return hsafe_config_string(); }

uint64_t bench_wipe_volatile(void *buf, size_t len, long iters)
{
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < iters; i++) hsafe_wipe(buf, len);
    return bench_now_ns() - t0;
}
