/* be_coro.h - the coroutine round-trip benchmark, instantiated once per
 * backend translation unit (be_asm.c, be_fcontext.c, be_ucontext.c,
 * be_asmvar.c). Include after hsafe.h, with these names defined:
 *   BE_CONFIG    const char *(void)   hsafe_config_string() of this unit
 *   BE_SETUP     int (void)           create and check the coroutine
 *   BE_TEARDOWN  void (void)
 *   BE_RT        uint64_t (long)      ns for `iters` resume+yield round trips
 */
#include <stdio.h>
#include <stdlib.h>

#define BE_RT_STACK (64 * 1024)

static hsafe_coro be_rt_co;
static void *be_rt_stack;

/* The coroutine: hands back what it was given plus one, forever. The yield
 * (and so the switch) is inlined here; the resume is inlined in BE_RT. */
static uintptr_t be_rt_body(hsafe_coro *co, uintptr_t v)
{
    for (;;) v = hsafe_coro_yield(co, v + 1);
    return 0;
}

const char *BE_CONFIG(void) { return hsafe_config_string(); }

int BE_SETUP(void)
{
    uintptr_t out = 0;
    int rc;
    if (posix_memalign(&be_rt_stack, 64, BE_RT_STACK)) return -1;
    memset(be_rt_stack, 0, BE_RT_STACK);
    rc = hsafe_coro_init(&be_rt_co, be_rt_stack, BE_RT_STACK, be_rt_body, NULL);
    if (rc) { fprintf(stderr, "bench: hsafe_coro_init: %s\n", hsafe_strerror(rc)); return -1; }
    for (uintptr_t i = 0; i < 1000; i++) {
        rc = hsafe_coro_resume(&be_rt_co, i * 7, &out);
        if (rc != HSAFE_CORO_SUSPENDED || out != i * 7 + 1) {
            fprintf(stderr, "bench: round trip check failed (rc %d, %lu -> %lu)\n",
                    rc, (unsigned long)(i * 7), (unsigned long)out);
            return -1;
        }
    }
    return 0;
}

void BE_TEARDOWN(void)
{
    hsafe_coro_fini(&be_rt_co);   /* abandons the suspended coroutine */
    free(be_rt_stack);
    be_rt_stack = NULL;
}

uint64_t BE_RT(long iters)
{
    uintptr_t acc = 0, out = 0;
    uint64_t t0 = bench_now_ns(), t1;
    for (long i = 0; i < iters; i++) {
        hsafe_coro_resume(&be_rt_co, (uintptr_t)i, &out);
        acc += out;
    }
    t1 = bench_now_ns();
    bench_sink = acc;
    return t1 - t0;
}
