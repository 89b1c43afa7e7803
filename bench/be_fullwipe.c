/* be_fullwipe.c - hsafe (asm backend) built with -DHSAFE_BENCH_FULL_WIPE:
 * a released stack is wiped whole, the naive scheme (fullwipe_run_ns.*). */
#define HSAFE_PRIVATE
#define HSAFE_IMPLEMENTATION
#define HSAFE_BACKEND_ASM
#ifndef HSAFE_BENCH_FULL_WIPE
#  define HSAFE_BENCH_FULL_WIPE 1
#endif
#include "../hsafe.h"
#include "bench.h"

#define BR_NAME     "fullwipe_run_ns"
#define BR_CONFIG   bench_fullwipe_config
#define BR_SETUP    bench_fullwipe_setup
#define BR_TEARDOWN bench_fullwipe_teardown
#define BR_RUN_S64K bench_fullwipe_run_S64K
#define BR_RUN_S1M  bench_fullwipe_run_S1M
#include "be_run.h"
