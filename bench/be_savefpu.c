/* be_savefpu.c - diagnostic: the asm backend built with -DHSAFE_ASM_SAVE_FPU
 * (each coroutine keeps its own MXCSR and x87 control word, as Boost.Context
 * does), for diag.switch_rt_ns.asm_savefpu. */
#define HSAFE_PRIVATE
#define HSAFE_IMPLEMENTATION
#define HSAFE_BACKEND_ASM
#ifndef HSAFE_ASM_SAVE_FPU
#  define HSAFE_ASM_SAVE_FPU 1
#endif
#include "../hsafe.h"
#include "bench.h"

#define BE_CONFIG   bench_savefpu_config
#define BE_SETUP    bench_savefpu_setup
#define BE_TEARDOWN bench_savefpu_teardown
#define BE_RT       bench_rt_asm_savefpu
#include "be_coro.h"
