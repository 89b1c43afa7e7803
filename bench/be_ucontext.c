/* be_ucontext.c - hsafe with -DHSAFE_BACKEND_UCONTEXT (switch_rt_ns.ucontext). */
#define HSAFE_PRIVATE
#define HSAFE_IMPLEMENTATION
#define HSAFE_BACKEND_UCONTEXT
#include "../hsafe.h"
#include "bench.h"

#define BE_CONFIG   bench_ucontext_config
#define BE_SETUP    bench_ucontext_setup
#define BE_TEARDOWN bench_ucontext_teardown
#define BE_RT       bench_rt_ucontext
#include "be_coro.h"
