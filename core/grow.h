/* core/grow.h - the in-place mode (hsafe_run_inplace scrubs the native
 * stack below its caller), hsafe_stack_remaining and hsafe_maybe_grow.
 * Part of hsafe (the manual is hsafe.h; the API is api/run.h).
 * Implementation only; uses core/run.h, core/thread.h, the CPU file and
 * the OS layer.
 */
#if defined(HSAFE__IMPL) && !defined(HSAFE__GROW_IMPL)
#define HSAFE__GROW_IMPL 1

/* hsafe_run_inplace calls fn through a frame padded to 256 bytes, so that
 * fn's frames lie at least that far below hsafe_run_inplace's own. The
 * scrubber then runs in the padding's place and zeroes a buffer of
 * scrub_bytes just below its own small frame, which covers fn's frames. */

__attribute__((noinline)) static uintptr_t hsafe__inplace_call(hsafe_run_fn fn, void *arg)
{
    volatile unsigned char pad[256];
    uintptr_t v;
    pad[0] = 0;
    /* Hide fn's value: with one call site (gcc -O3 -flto) the compiler
     * would clone this function for it and inline fn here, above the pad,
     * where the scrub does not reach. */
    __asm__ __volatile__("" : "+r"(fn));
    v = fn(arg);
    __asm__ __volatile__("" : : "r"(pad) : "memory");  /* no tail call */
    return v;
}

__attribute__((noinline, unused)) static void hsafe__inplace_scrub(size_t n)
{
    unsigned char *buf = (unsigned char *)__builtin_alloca(n);
    hsafe_wipe(buf, n);
    __asm__ __volatile__("" : : "r"(buf) : "memory");
}

HSAFE_API uintptr_t hsafe_run_inplace(hsafe_run_fn fn, void *arg, size_t scrub_bytes)
{
    uintptr_t v;
    size_t left = hsafe_stack_remaining();
    if (!fn) hsafe__misuse("hsafe_run_inplace: NULL function");
    if (scrub_bytes > HSAFE_MAX_STACK_SIZE || (left && scrub_bytes + 4096 > left))
        hsafe__misuse("hsafe_run_inplace: scrub_bytes is larger than the rest of the current stack");
    hsafe__cpu_init_once();
    v = hsafe__inplace_call(fn, arg);
#if !defined(HSAFE_TEST_NO_WIPE)
    hsafe__cpu_clear_scratch();
    hsafe__inplace_scrub(scrub_bytes);
    hsafe__cpu_clear_scratch();
#endif
    return v;
}

/* ---- hsafe_stack_remaining and hsafe_maybe_grow ---------------------- */

HSAFE_API size_t hsafe_stack_remaining(void)
{
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0), lo = 0, hi = 0;
    hsafe__run *r = hsafe__tls.run;
    hsafe_task *t = hsafe__task_innermost();
    if (r && sp - (uintptr_t)r->co.stack_lo < r->co.stack_size)
        return sp - (uintptr_t)r->co.stack_lo;
    if (t && sp - (uintptr_t)t->co.stack_lo < t->co.stack_size)     /* a task's stack */
        return sp - (uintptr_t)t->co.stack_lo;
    if (!hsafe__os_thread_stack(&hsafe__tls.os, &lo, &hi) || sp < lo || sp >= hi) return 0;
    return sp - lo;
}

HSAFE_API int hsafe_maybe_grow(hsafe_pool *pool, size_t red_zone, hsafe_run_fn fn,
                               void *arg, uintptr_t *result)
{
    size_t left;
    if (!hsafe__pool_ok(pool) || !fn) return HSAFE_EINVAL;
    left = hsafe_stack_remaining();
    if (left >= red_zone) {
        uintptr_t v = fn(arg);
        if (result) *result = v;
        return HSAFE_OK;
    }
    return hsafe_run(pool, fn, arg, result);
}

#endif /* HSAFE__IMPL */
