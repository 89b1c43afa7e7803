/* be_fcontext.c - hsafe with -DHSAFE_BACKEND_FCONTEXT (switch_rt_ns.fcontext). */
#define HSAFE_PRIVATE
#define HSAFE_IMPLEMENTATION
#define HSAFE_BACKEND_FCONTEXT
#include "../hsafe.h"
#include "bench.h"

#define BE_CONFIG   bench_fcontext_config
#define BE_SETUP    bench_fcontext_setup
#define BE_TEARDOWN bench_fcontext_teardown
#define BE_RT       bench_rt_fcontext
#include "be_coro.h"
