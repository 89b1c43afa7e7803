/* core/overflow.h - is a fault an overflow of one of hsafe's stacks? The
 * find_overflow hook the OS layer's fault handler calls: the stacks of
 * this thread's sanitized runs first, then the running task's, then every
 * stack of every registered guarded pool (a coroutine on a pooled stack).
 * Part of hsafe (the manual is hsafe.h). Implementation only; uses
 * core/hooks.h, core/pool.h, core/run.h. Async-signal-safe.
 */
#if defined(HSAFE__IMPL) && !defined(HSAFE__OVERFLOW_IMPL)
#define HSAFE__OVERFLOW_IMPL 1

#define HSAFE__OVF_NEAR ((uintptr_t)64 * 1024)      /* "just below the guard" */
#define HSAFE__OVF_FRAME_ROOM ((uintptr_t)32 * 1024) /* a signal frame and more */

/* The overflow kind of a fault for the stack [lo, lo+size) with `guard`
 * bytes of guard below it. */
static int hsafe__overflow_at(uintptr_t lo, size_t size, size_t guard,
                              uintptr_t addr, uintptr_t sp, int forced)
{
    uintptr_t glo = lo - guard;
    int sp_below = sp && sp < glo && glo - sp <= HSAFE__OVF_NEAR;
    (void)size;
    if (forced)
        return sp && ((sp >= glo && sp - glo < guard + HSAFE__OVF_FRAME_ROOM) || sp_below)
                   ? HSAFE__OVF_NO_FRAME : HSAFE__OVF_NONE;
    if (guard && addr >= glo && addr < lo) return HSAFE__OVF_GUARD;
    if ((addr < glo && glo - addr <= HSAFE__OVF_NEAR) || sp_below) return HSAFE__OVF_BELOW;
    return HSAFE__OVF_NONE;
}

/* hsafe__overflow_at for stack s (`guard` bytes of guard below it); fills
 * *out, naming the stack's user `what`, when it is an overflow. */
static int hsafe__overflow_of(const hsafe_stack *s, size_t guard, const char *what,
                              uintptr_t addr, uintptr_t sp, int forced, hsafe__overflow *out)
{
    int kind = hsafe__overflow_at((uintptr_t)s->lo, s->size, guard, addr, sp, forced);
    if (kind) {
        out->lo = (uintptr_t)s->lo;
        out->size = s->size;
        out->kind = kind;
        out->what = what;
    }
    return kind;
}

static int hsafe__find_overflow(uintptr_t addr, uintptr_t sp, int forced, hsafe__overflow *out)
{
    const hsafe__run *r;
    const hsafe_loop *l = hsafe__tls.loop;
    size_t i, k;
    int kind;
    for (r = hsafe__tls.run; r; r = r->prev) {
        kind = hsafe__overflow_of(r->stack, r->stack->pool ? r->stack->pool->guard_size : 0,
                                  "a sanitized run", addr, sp, forced, out);
        if (kind) return kind;
    }
    if (l && l->current && l->current->stack) {             /* the running task's */
        const hsafe_stack *s = l->current->stack;
        kind = hsafe__overflow_of(s, s->pool ? s->pool->guard_size : 0, "a task", addr, sp, forced, out);
        if (kind) return kind;
    }
    for (i = 0; i < HSAFE__POOL_REGISTRY; i++) {
        const hsafe_pool *p = __atomic_load_n(&hsafe__pool_registry[i], __ATOMIC_ACQUIRE);
        size_t created;
        if (!p) continue;
        /* this thread must be on (or just below) the stack: a stray write
         * into some guard is not an overflow */
        if (sp && (sp + HSAFE__OVF_NEAR < p->span_lo || sp >= p->span_hi)) continue;
        if (!sp && (addr + HSAFE__OVF_NEAR < p->span_lo || addr >= p->span_hi)) continue;
        created = __atomic_load_n(&p->created, __ATOMIC_ACQUIRE);
        for (k = 0; k < created; k++) {
            const hsafe_stack *s = &p->slots[k];
            uintptr_t lo = (uintptr_t)s->lo;
            if (sp && (sp + HSAFE__OVF_NEAR < lo - p->guard_size || sp >= lo + s->size)) continue;
            kind = hsafe__overflow_of(s, p->guard_size, "a coroutine", addr, sp, forced, out);
            if (kind) return kind;
        }
    }
    return HSAFE__OVF_NONE;
}

#endif /* HSAFE__IMPL */
