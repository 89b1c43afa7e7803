/* core/coro.h - the coroutine object, the inlined resume and yield, and
 * (implementation half) hsafe_coro_init/fini and a coroutine's first and
 * last moments on its stack.
 * Part of hsafe (the manual is hsafe.h; the API is api/coro.h). Uses the
 * context backend (hsafe__ctx, hsafe__ctx_switch, hsafe__ctx_make, see
 * backends/interface.h) and core/sanitize.h.
 */
#ifndef HSAFE__CORO_H
#define HSAFE__CORO_H
HSAFE__BEGIN_C

/* The coroutine object. It may live anywhere (stack, heap, static) while
 * the coroutine exists; the fields are private. */
struct hsafe_coro {
    hsafe__ctx ctx;             /* the coroutine, while suspended */
    hsafe__ctx caller;          /* its resumer, while it runs */
    int status;                 /* enum hsafe_coro_status */
    hsafe_coro_fn fn;
    void *user;
    unsigned char *stack_lo;
    size_t stack_size;
    uintptr_t reserved_;
    /* sanitizer bookkeeping, present in every build so the layout is one */
    void *asan_fake;
    const void *asan_caller_lo;
    size_t asan_caller_size;
    void *tsan_fiber;
    void *tsan_caller;
    unsigned vg_stack_id;
};

HSAFE_API int hsafe__coro_resume_error(const hsafe_coro *co);

static inline int hsafe_coro_status(const hsafe_coro *co) { return co ? co->status : HSAFE_CORO_DEAD; }

static inline void *hsafe_coro_user(const hsafe_coro *co) { return co ? co->user : NULL; }

/* The switches themselves, for callers that checked the state already
 * (core/gen.h's generator keeps its own state word): resume a suspended
 * co; suspend the running co from its own stack. */
static inline uintptr_t hsafe__coro_switch_in(hsafe_coro *co, uintptr_t in)
{
    uintptr_t v;
#if defined(HSAFE__ASAN_FIBER)
    void *fake = NULL;
#endif
    co->status = HSAFE_CORO_RUNNING;
#if defined(HSAFE__TSAN)
    co->tsan_caller = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(co->tsan_fiber, 0);
#endif
#if defined(HSAFE__ASAN_FIBER)
    __sanitizer_start_switch_fiber(&fake, co->stack_lo, co->stack_size);
#endif
    v = hsafe__ctx_switch(&co->caller, &co->ctx, in);
#if defined(HSAFE__ASAN_FIBER)
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
    return v;
}

static inline uintptr_t hsafe__coro_switch_out(hsafe_coro *co, uintptr_t value)
{
    co->status = HSAFE_CORO_SUSPENDED;
#if defined(HSAFE__TSAN)
    __tsan_switch_to_fiber(co->tsan_caller, 0);
#endif
#if defined(HSAFE__ASAN_FIBER)
    __sanitizer_start_switch_fiber(&co->asan_fake, co->asan_caller_lo, co->asan_caller_size);
#endif
    value = hsafe__ctx_switch(&co->ctx, &co->caller, value);
#if defined(HSAFE__ASAN_FIBER)
    __sanitizer_finish_switch_fiber(co->asan_fake, &co->asan_caller_lo, &co->asan_caller_size);
#endif
    return value;
}

static inline int hsafe_coro_resume(hsafe_coro *co, uintptr_t in, uintptr_t *out)
{
    uintptr_t v;
    if (HSAFE__UNLIKELY(!co || co->status != HSAFE_CORO_SUSPENDED)) {
        if (out) *out = 0;
        return hsafe__coro_resume_error(co);
    }
    v = hsafe__coro_switch_in(co, in);
    if (out) *out = v;
    return co->status;
}

/* Where this frame is: HSAFE__FRAME_HERE (core/sanitize.h), the address of
 * a parameter, so the yielding function needs no frame pointer. */
static inline uintptr_t hsafe_coro_yield(hsafe_coro *co, uintptr_t value)
{
    if (HSAFE__UNLIKELY(!co || co->status != HSAFE_CORO_RUNNING ||
                        HSAFE__FRAME_HERE(value) - (uintptr_t)co->stack_lo >= co->stack_size))
        hsafe__misuse("hsafe_coro_yield: not called from inside this coroutine "
                      "(it is not running, or this is another stack)");
    return hsafe__coro_switch_out(co, value);
}

HSAFE__END_C
#endif /* HSAFE__CORO_H */

#if defined(HSAFE__IMPL) && !defined(HSAFE__CORO_IMPL)
#define HSAFE__CORO_IMPL 1

HSAFE_API int hsafe__coro_resume_error(const hsafe_coro *co)
{
    if (!co) return HSAFE_EINVAL;
    switch (co->status) {
    case HSAFE_CORO_FINISHED: return HSAFE_EFINISHED;
    case HSAFE_CORO_RUNNING:  return HSAFE_ESTATE;
    default:                  return HSAFE_EINVAL;
    }
}

/* Leave coroutine co for good, handing v to its resumer. Under ASan it is
 * not instrumented: with detect_stack_use_after_return its locals (and the
 * backend's, e.g. the switch message of fcontext) would live on the
 * coroutine's fake stack, which the NULL below frees before the switch
 * uses them (tests/sanitize/asan_fiber.c, scenario uar). */
#if defined(HSAFE__ASAN_FIBER)
__attribute__((no_sanitize_address))
#endif
__attribute__((noreturn, noinline)) static void hsafe__coro_exit(hsafe_coro *co, uintptr_t v)
{
    hsafe__ctx dead;
    co->status = HSAFE_CORO_FINISHED;
#if defined(HSAFE__TSAN)
    __tsan_switch_to_fiber(co->tsan_caller, 0);
#endif
#if defined(HSAFE__ASAN_FIBER)
    __sanitizer_start_switch_fiber(NULL, co->asan_caller_lo, co->asan_caller_size);
#endif
    hsafe__ctx_switch(&dead, &co->caller, v);
    hsafe__misuse("a finished coroutine was resumed (stack reused while still in use?)");
}

static void hsafe__coro_main(uintptr_t first, void *arg)
{
    hsafe_coro *co = (hsafe_coro *)arg;
    uintptr_t r;
#if defined(HSAFE__ASAN_FIBER)
    __sanitizer_finish_switch_fiber(NULL, &co->asan_caller_lo, &co->asan_caller_size);
#endif
    r = co->fn(co, first);
    hsafe__coro_exit(co, r);
}

static hsafe_coro hsafe__coro_zero;      /* never written: all zero */

HSAFE_API int hsafe_coro_init(hsafe_coro *co, void *stack, size_t stack_size,
                              hsafe_coro_fn fn, void *user)
{
    if (!co || !stack || !fn || stack_size < HSAFE_CORO_MIN_STACK ||
        stack_size > UINTPTR_MAX - (uintptr_t)stack) return HSAFE_EINVAL;
    /* Every other field zero: a copy of a zero object rather than
     * memset(co, 0, sizeof *co), which gcc -O2 (x86_64) turns into rep
     * stosq, whose start-up cost made gcc's spawn ~15% slower than clang's
     * (clang stores xmm zeros; for the copy gcc uses xmm moves too). */
    *co = hsafe__coro_zero;
    co->fn = fn;
    co->user = user;
    co->stack_lo = (unsigned char *)stack;
    co->stack_size = stack_size;
#if defined(HSAFE__ASAN) && !(HSAFE__TEST_NO_UNPOISON & 1)
    __asan_unpoison_memory_region(stack, stack_size);
#endif
#if defined(HSAFE__VALGRIND) && !defined(HSAFE_TEST_NO_VALGRIND_REGISTER)
    co->vg_stack_id = VALGRIND_STACK_REGISTER(co->stack_lo, co->stack_lo + stack_size - 1);
#endif
#if defined(HSAFE__TSAN)
    co->tsan_fiber = __tsan_create_fiber(0);
#endif
    hsafe__ctx_make(&co->ctx, stack, stack_size, hsafe__coro_main, co);
#if defined(HSAFE__CTX_HAS_LINK)
    hsafe__ctx_link(&co->ctx, &co->caller);   /* unwinders walk into the resumer */
#endif
    co->status = HSAFE_CORO_SUSPENDED;
    return HSAFE_OK;
}

#if defined(HSAFE__ASAN_FIBER)
/* A coroutine abandoned while suspended keeps its ASan fake stack (frames of
 * detect_stack_use_after_return, ~1 MiB of address space, and the pages
 * its frames touched) for good: ASan frees one only when a fiber leaves for
 * good. So enter it, in ASan's books only, and leave it for good. Not
 * instrumented, so nothing here lives in a fake stack that changes under
 * it. (tests/sanitize/asan_fiber.c, scenario abandon.) */
__attribute__((no_sanitize_address, noinline))
static void hsafe__asan_drop_fake_stack(hsafe_coro *co)
{
    void *mine = NULL;
    const void *lo = NULL;
    size_t size = 0;
    __sanitizer_start_switch_fiber(&mine, co->stack_lo, co->stack_size);
    __sanitizer_finish_switch_fiber(co->asan_fake, &lo, &size);
    __sanitizer_start_switch_fiber(NULL, lo, size);
    __sanitizer_finish_switch_fiber(mine, NULL, NULL);
    co->asan_fake = NULL;
}
#endif

HSAFE_API int hsafe_coro_fini(hsafe_coro *co)
{
    if (!co) return HSAFE_EINVAL;
    if (co->status == HSAFE_CORO_RUNNING) return HSAFE_ESTATE;
    if (co->status == HSAFE_CORO_DEAD) return HSAFE_OK;
#if defined(HSAFE__ASAN_FIBER)
    if (co->status == HSAFE_CORO_SUSPENDED && co->asan_fake) hsafe__asan_drop_fake_stack(co);
#endif
#if defined(HSAFE__ASAN) && !(HSAFE__TEST_NO_UNPOISON & 2)
    __asan_unpoison_memory_region(co->stack_lo, co->stack_size);
#endif
#if defined(HSAFE__VALGRIND) && !defined(HSAFE_TEST_NO_VALGRIND_REGISTER)
    VALGRIND_STACK_DEREGISTER(co->vg_stack_id);
#endif
#if defined(HSAFE__VALGRIND) && !(HSAFE__TEST_NO_VG_DEFINED & 2)
    /* memcheck marked the memory below the coroutine's last stack pointer
     * inaccessible as its frames returned; the caller owns it again. */
    VALGRIND_MAKE_MEM_DEFINED(co->stack_lo, co->stack_size);
#endif
#if defined(HSAFE__TSAN)
    if (co->tsan_fiber) __tsan_destroy_fiber(co->tsan_fiber);
    co->tsan_fiber = NULL;
#endif
#if !defined(HSAFE_TEST_NO_WIPE)
    /* The context of the last switch: backends that save registers in the
     * context object itself (ucontext: every GPR, in caller memory) would
     * keep what the coroutine held there. Found by the residue tests
     * (tests/residue, the t-* scenarios, on task records). */
    hsafe_wipe(&co->ctx, sizeof co->ctx);
#endif
    co->status = HSAFE_CORO_DEAD;
    return HSAFE_OK;
}

#endif /* HSAFE__IMPL */
