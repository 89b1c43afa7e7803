/* core/pool.h - stack pools: creating, handing out and taking back stacks,
 * the release that wipes only what a run wrote, and the registry of
 * guarded pools that the fault handler reads.
 * Part of hsafe (the manual is hsafe.h; the API is api/pool.h).
 * Implementation only; uses the OS layer, core/wipe.h, core/thread.h.
 */
#if defined(HSAFE__IMPL) && !defined(HSAFE__POOL_IMPL)
#define HSAFE__POOL_IMPL 1

/* Invariant: a stack in the pool is all zero. A fresh mapping is zero; a
 * released stack is wiped from the lowest byte that may have been written
 * up to its top. Finding that byte cheaply and soundly:
 *   - The stack was all zero before the run, so every byte the run left
 *     non-zero lies at or above the first non-zero byte; everything below
 *     it is zero already. A scan for it costs about what a wipe costs
 *     (both run at memory bandwidth), so scanning alone saves nothing...
 *   - ...unless most of the stack was never touched. For stacks of
 *     HSAFE__RESIDENCY_MIN bytes or more, the kernel tells which pages were
 *     ever touched (the PAGEMAP_SCAN ioctl, or /proc/self/pagemap entries:
 *     present or swapped; or mincore when the stack is mlocked and so
 *     cannot be swapped). Pages never touched cannot hold data, so only
 *     touched pages are scanned and wiped. One system call, then work
 *     proportional to the depth really used. Pages a deep run once touched
 *     stay touched (zero after the wipe); after a few releases that find
 *     them unused they are given back (MADV_DONTNEED), so the cost follows
 *     the runs again.
 *   - Smaller stacks skip the system call (it costs more than scanning
 *     them), and so do platforms without residency information...
 *   - ...except at a stack's first release (high_water still 0: never
 *     released since it was mapped). Its pages the task did not touch were
 *     never mapped, and the scan's first read of each one would fault it
 *     in (the shared zero page): a page fault per untouched page costs far
 *     more than the one query (make bench: finish_cold_ns, 1,000,000 tasks
 *     each used once). Later releases scan those pages, mapped by then,
 *     without a fault. So every mmap'd pool opens the residency source.
 * The scan also yields the high-water mark, for free.
 * Measured (make bench, 1 KiB runs): run_ratio.S1M and run_ratio.S64K in
 * README.md's performance table; on 1 MiB stacks the kernel query is most
 * of the cost, on 64 KiB ones the scan reads a bit faster than memset writes.
 * Why not without a system call: nothing in user space tells soundly how
 * deep a run went. A guard or protection-key "tripwire" page above the
 * bottom would turn the kernel's own writes there (read() into a stack
 * buffer, a signal frame) into EFAULT or a lost signal; the lowest stack
 * pointer is not observable and does not bound signal frames; and reading
 * the untouched part costs as much as wiping it.
 */

#define HSAFE__RESIDENCY_MIN ((size_t)256 * 1024)
#define HSAFE__POOL_MAGIC 0x68736166u   /* "hsaf" */

#if defined(HSAFE_BENCH_FULL_WIPE)
#  define HSAFE__BENCH_FULL_WIPE 1
#else
#  define HSAFE__BENCH_FULL_WIPE 0
#endif

static int hsafe__pool_ok(const hsafe_pool *p) { return p && p->magic == HSAFE__POOL_MAGIC; }

/* ---- the registry of guarded pools, for the fault handler -------------
 * core/overflow.h looks for the stack a fault overflowed among every stack
 * of every guarded pool (a coroutine, or a task, on a pooled stack). It
 * finds the pools in this small registry, which it reads without locks: slots are claimed
 * and cleared atomically, a pool publishes the address span of its
 * mappings and its count of created stacks after filling them. A pool
 * that finds no free slot (more than HSAFE__POOL_REGISTRY guarded pools
 * alive) gives its coroutines no diagnostic; its runs still get one. */

#define HSAFE__POOL_REGISTRY 64

static hsafe_pool *hsafe__pool_registry[HSAFE__POOL_REGISTRY];

static void hsafe__pool_register(hsafe_pool *pool)
{
    size_t i;
    for (i = 0; i < HSAFE__POOL_REGISTRY; i++) {
        hsafe_pool *none = NULL;
        if (__atomic_compare_exchange_n(&hsafe__pool_registry[i], &none, pool, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return;
    }
}

static void hsafe__pool_unregister(hsafe_pool *pool)
{
    size_t i;
    for (i = 0; i < HSAFE__POOL_REGISTRY; i++)
        if (__atomic_load_n(&hsafe__pool_registry[i], __ATOMIC_RELAXED) == pool)
            __atomic_store_n(&hsafe__pool_registry[i], NULL, __ATOMIC_RELEASE);
}



static size_t hsafe__round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

HSAFE_API int hsafe_pool_init(hsafe_pool *pool, const hsafe_pool_config *cfg)
{
    hsafe_pool_config c;
    size_t page = hsafe__os_page_size(), i;
    if (!pool) return HSAFE_EINVAL;
    if (cfg) c = *cfg; else memset(&c, 0, sizeof c);
    if (!c.stack_size) c.stack_size = HSAFE_DEFAULT_STACK_SIZE;
    if (c.stack_size > HSAFE_MAX_STACK_SIZE || c.stack_size < HSAFE_CORO_MIN_STACK) return HSAFE_EINVAL;
    if (c.capacity > HSAFE_MAX_CAPACITY) return HSAFE_EINVAL;
    if (c.flags & ~(HSAFE_POOL_MLOCK | HSAFE_POOL_DONTDUMP | HSAFE_POOL_NO_GUARD)) return HSAFE_EINVAL;
    if (!c.memory && c.memory_size) return HSAFE_EINVAL;
    if (c.guard_size > HSAFE_MAX_STACK_SIZE || (c.memory && c.guard_size)) return HSAFE_EINVAL;
    hsafe__cpu_init_once();
    memset(pool, 0, sizeof *pool);
    pool->flags = c.flags;
    pool->pagemap_fd = -1;
    if (c.memory) {
        /* Caller memory: [stack][stack]...[descriptors], 16-byte aligned.
         * The descriptors sit above the stacks, where no overflow reaches
         * (stacks grow down); there is no guard in caller memory. */
        uintptr_t base = ((uintptr_t)c.memory + 15) & ~(uintptr_t)15;
        uintptr_t end = (uintptr_t)c.memory + c.memory_size;
        size_t stack = hsafe__round_up(c.stack_size, 16), fit, n;
        if (end < base || c.memory_size < 16) return HSAFE_EINVAL;
        fit = (size_t)(end - base) / (stack + hsafe__round_up(sizeof(hsafe_stack), 16));
        n = c.capacity ? c.capacity : fit;
        if (n > fit || n == 0) return HSAFE_EINVAL;
        if (c.flags & ~HSAFE_POOL_MLOCK) return HSAFE_EINVAL; /* dontdump/guard need mmap */
        pool->memory = (unsigned char *)base;
        pool->memory_size = n * stack;
        pool->slots = (hsafe_stack *)(void *)(pool->memory + pool->memory_size);
        pool->slots_bytes = hsafe__round_up(n * sizeof(hsafe_stack), 16);
        pool->stack_size = stack;
        pool->capacity = n;
        memset(pool->slots, 0, pool->slots_bytes);
        /* Caller memory may hold anything: establish the invariant once. */
        hsafe_wipe(pool->memory, pool->memory_size);
        if (c.flags & HSAFE_POOL_MLOCK) {
            int rc = hsafe__os_lock(pool->memory, pool->memory_size);
            if (rc) return rc;
        }
        for (i = 0; i < n; i++) {
            pool->slots[i].lo = pool->memory + i * stack;
            pool->slots[i].size = stack;
        }
    } else {
        int rc;
        pool->capacity = c.capacity ? c.capacity : HSAFE_DEFAULT_CAPACITY;
        pool->stack_size = hsafe__round_up(c.stack_size, page);
        pool->guard_size = (c.flags & HSAFE_POOL_NO_GUARD) ? 0
                           : hsafe__os_guard_round(c.guard_size ? c.guard_size : HSAFE_DEFAULT_GUARD_SIZE);
        pool->guard_kind = pool->guard_size ? hsafe__os_probe_guard() : 0;
        pool->slots_bytes = hsafe__round_up(pool->capacity * sizeof(hsafe_stack), page);
        /* The descriptor table gets a guard of its own, so no stack's
         * overflow can land in it. */
        rc = hsafe__os_map_guarded(pool->slots_bytes, pool->guard_size, pool->guard_kind,
                                   (void **)&pool->slots);
        if (rc) return rc;
    }
    pool->pagemap_fd = -1;
    if (!pool->memory) {
        pool->residency_epoch = hsafe__os_residency_epoch();
        pool->residency = hsafe__os_residency_open((pool->flags & HSAFE_POOL_MLOCK) != 0,
                                                   HSAFE__ON_VALGRIND, &pool->pagemap_fd);
    }
    pool->magic = HSAFE__POOL_MAGIC;
    if (pool->guard_size) {
        pool->span_lo = UINTPTR_MAX;
        hsafe__pool_register(pool);
    }
    return HSAFE_OK;
}

/* Create stack slot s (mmap pools): map guard + stack, apply flags. */
static int hsafe__stack_create(hsafe_pool *pool, hsafe_stack *s)
{
    if (!pool->memory) {
        int rc = hsafe__os_map_stack(pool->stack_size, pool->guard_size, pool->guard_kind,
                                     pool->flags, &s->lo);
        uintptr_t lo, hi;
        if (rc) return rc;
        s->size = pool->stack_size;
        lo = (uintptr_t)s->lo - pool->guard_size;
        hi = (uintptr_t)s->lo + s->size;
        if (lo < pool->span_lo) __atomic_store_n(&pool->span_lo, lo, __ATOMIC_RELAXED);
        if (hi > pool->span_hi) __atomic_store_n(&pool->span_hi, hi, __ATOMIC_RELAXED);
    }
    s->pool = pool;
    s->state = HSAFE__STACK_FREE;
    __atomic_store_n(&pool->created, pool->created + 1, __ATOMIC_RELEASE);
    return HSAFE_OK;
}

HSAFE_API int hsafe_pool_acquire(hsafe_pool *pool, hsafe_stack **out)
{
    hsafe_stack *s;
    if (!hsafe__pool_ok(pool) || !out) return HSAFE_EINVAL;
    s = pool->free_list;
    if (s) {
        pool->free_list = s->next_free;
    } else {
        int rc;
        if (pool->created >= pool->capacity) return HSAFE_EBUSY;
        s = &pool->slots[pool->created];
        rc = hsafe__stack_create(pool, s);
        if (rc) return rc;
    }
    if (pool->guard_size) hsafe__thread_prepare();   /* the overflow diagnostic */
    s->next_free = NULL;
    s->state = HSAFE__STACK_LENT;
    pool->in_use++;
    *out = s;
    return HSAFE_OK;
}

static void hsafe__inplace_scrub(size_t n);

/* Make every byte of s zero again; record how deep it was used. */
/* Releases in a row that found at least HSAFE__TRIM_BYTES of touched but
 * all-zero stack below the deepest data give those pages back to the
 * system, so one deep run does not make every later release of that stack
 * scan them again. */
#define HSAFE__TRIM_BYTES ((size_t)64 * 1024)
#define HSAFE__TRIM_STREAK 4u

static void hsafe__stack_clean(hsafe_pool *pool, hsafe_stack *s)
{
    unsigned char *top = s->lo + s->size, *nz = top;
    hsafe__span sp[32];
    int n = -1, i, first = -1;
    size_t zero_below = 0;
    (void)first;                    /* unused with HSAFE_TEST_NO_WIPE */
#if defined(HSAFE__ASAN) && !(HSAFE__TEST_NO_UNPOISON & 4)
    __asan_unpoison_memory_region(s->lo, s->size);   /* frames left poisoned */
#endif
#if defined(HSAFE__VALGRIND) && !(HSAFE__TEST_NO_VG_DEFINED & 4)
    VALGRIND_MAKE_MEM_DEFINED(s->lo, s->size);        /* below a dead SP */
#endif
    if (HSAFE__BENCH_FULL_WIPE) {   /* the naive scheme, for comparison */
        hsafe_wipe(s->lo, s->size);
        return;
    }
    if (pool->residency && (s->size >= HSAFE__RESIDENCY_MIN || s->high_water == 0) &&
        pool->residency_epoch == hsafe__os_residency_epoch())   /* not a forked child */
        n = hsafe__os_touched(pool->residency, pool->pagemap_fd, s->lo, s->size, sp, 32);
    if (n < 0) {                    /* no residency: the whole stack */
        sp[0].start = 0;
        sp[0].end = s->size;
        n = 1;
    }
    /* The lowest non-zero byte, scanning the touched spans bottom-up. */
    for (i = 0; i < n && nz == top; i++) {
        unsigned char *a = s->lo + sp[i].start, *b = s->lo + sp[i].end, *p;
        p = a + hsafe__zero_prefix(a, (size_t)(b - a));      /* big steps */
        p += hsafe__zero_prefix_portable(p, (size_t)(b - p));  /* 64 bytes */
        while (p < b && *p == 0) p++;
        zero_below += (size_t)(p - a);
        if (p < b) { nz = p; first = i; }
    }
#if !defined(HSAFE_TEST_NO_WIPE)
    /* The scan just loaded the run's bytes into registers: clear them
     * before anything can spill them (the wipe's first, lazily bound call
     * saves every register on the native stack). */
    hsafe__cpu_clear_scratch();
    /* Unoptimised builds also keep the scan's vectors in its frame (gcc
     * -O0: in the red zone below hsafe__stack_clean): zero that too. */
    hsafe__inplace_scrub(512);
    /* Wipe from the lowest non-zero byte up, touched spans only: pages
     * never touched are zero and stay unallocated. */
    for (i = first; i >= 0 && i < n; i++) {
        unsigned char *a = s->lo + sp[i].start, *b = s->lo + sp[i].end;
        if (a < nz) a = nz;
        if (a < b) hsafe_wipe(a, (size_t)(b - a));
    }
#endif
    if (pool->residency && s->size >= HSAFE__RESIDENCY_MIN && zero_below >= HSAFE__TRIM_BYTES &&
        !(pool->flags & HSAFE_POOL_MLOCK)) {
        if (++s->zero_streak >= HSAFE__TRIM_STREAK) {
            /* every touched page wholly below the lowest non-zero byte */
            size_t page = hsafe__os_page_size();
            size_t below = (size_t)(nz - s->lo) / page * page;
            for (i = 0; i < n && sp[i].start < below; i++) {
                size_t end = sp[i].end < below ? sp[i].end : below;
                hsafe__os_discard(s->lo + sp[i].start, end - sp[i].start);
            }
            s->zero_streak = 0;
        }
    } else {
        s->zero_streak = 0;
    }
    s->last_used = (size_t)(top - nz);
    if (s->last_used > s->high_water) s->high_water = s->last_used;
}

HSAFE_API int hsafe_pool_release(hsafe_pool *pool, hsafe_stack *s)
{
    if (!hsafe__pool_ok(pool) || !s) return HSAFE_EINVAL;
    if (s->pool != pool) {
        /* A descriptor of this pool's table with a foreign owner cannot
         * exist; anything else is a stack of another pool or garbage. */
        return (s->pool && hsafe__pool_ok(s->pool)) ? HSAFE_EOWNER : HSAFE_EINVAL;
    }
    if (s < pool->slots || s >= pool->slots + pool->capacity) return HSAFE_EINVAL;
    if (s->state != HSAFE__STACK_LENT) return HSAFE_ESTATE;
    hsafe__stack_clean(pool, s);
    s->state = HSAFE__STACK_FREE;
    s->next_free = pool->free_list;
    pool->free_list = s;
    pool->in_use--;
    return HSAFE_OK;
}

HSAFE_API int hsafe_pool_destroy(hsafe_pool *pool)
{
    size_t i;
    if (!hsafe__pool_ok(pool)) return HSAFE_EINVAL;
    if (pool->in_use) return HSAFE_EINUSE;
    hsafe__pool_unregister(pool);
    for (i = 0; i < pool->created; i++) {
        hsafe_stack *s = &pool->slots[i];
        hsafe__stack_clean(pool, s);
        if (!pool->memory) hsafe__os_unmap_stack(s->lo, pool->stack_size, pool->guard_size);
    }
    if (pool->memory && (pool->flags & HSAFE_POOL_MLOCK))
        hsafe__os_unlock(pool->memory, pool->memory_size);
    hsafe__os_residency_close(&pool->pagemap_fd);
    if (!pool->memory) hsafe__os_unmap_guarded(pool->slots, pool->slots_bytes, pool->guard_size);
    else hsafe_wipe(pool->slots, pool->slots_bytes);
    memset(pool, 0, sizeof *pool);
    return HSAFE_OK;
}

/* ---- the thread's own pool ---------------------------------------------- */

static void hsafe__thread_pool_end(void *p)
{
    hsafe_pool *pool = (hsafe_pool *)p;
    if (hsafe_pool_destroy(pool) == HSAFE_OK) free(pool);
}

HSAFE_API hsafe_pool *hsafe_thread_pool(void)
{
    hsafe_pool *pool = hsafe__tls.pool;
    if (pool) return pool;
    pool = (hsafe_pool *)malloc(sizeof *pool);
    if (!pool) return NULL;
    if (hsafe_pool_init(pool, NULL) != HSAFE_OK) { free(pool); return NULL; }
    if (hsafe__os_at_thread_exit(hsafe__thread_pool_end, pool) != HSAFE_OK) {
        hsafe_pool_destroy(pool);
        free(pool);
        return NULL;
    }
    hsafe__tls.pool = pool;
    return pool;
}

HSAFE_API int hsafe_pool_get_stats(const hsafe_pool *pool, hsafe_pool_stats *out)
{
    size_t i, hw = 0;
    if (!hsafe__pool_ok(pool) || !out) return HSAFE_EINVAL;
    for (i = 0; i < pool->created; i++)
        if (pool->slots[i].high_water > hw) hw = pool->slots[i].high_water;
    out->in_use = pool->in_use;
    out->created = pool->created;
    out->free = pool->created - pool->in_use;
    out->capacity = pool->capacity;
    out->stack_size = pool->stack_size;
    out->high_water = hw;
    out->guard_size = pool->guard_size;
    out->guard = hsafe__os_guard_name(pool->guard_kind);
    return HSAFE_OK;
}

#endif /* HSAFE__IMPL */
