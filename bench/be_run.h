/* be_run.h - the sanitized-run benchmark, instantiated by be_asm.c (the
 * real scheme) and be_fullwipe.c (-DHSAFE_BENCH_FULL_WIPE). Include after
 * hsafe.h, with these names defined:
 *   BR_CONFIG, BR_SETUP, BR_TEARDOWN, BR_RUN_S64K, BR_RUN_S1M, and
 *   optionally BR_RUN_S1M_DEEP (diagnostic: a third pool whose 1 MiB stack
 *   once ran 960 KiB deep)
 * Two pools of one stack each (64 KiB and 1 MiB); every run reuses the same
 * stack, so what is timed is the steady state: acquire, switch in, call
 * bench_use1k (1 KiB of stack), switch out, clear registers, wipe, release.
 */
#include <stdio.h>

static hsafe_pool br_pool_s64k, br_pool_s1m;

const char *BR_CONFIG(void) { return hsafe_config_string(); }

/* Run a few times; check the result, the depth the pool saw, and that the
 * stack is all zero afterwards (the pool's invariant). */
static int br_check(hsafe_pool *pool, const char *name)
{
    hsafe_run_info info;
    hsafe_stack *s;
    size_t i, used = 0;
    (void)used;                 /* unused with HSAFE_BENCH_FULL_WIPE */
    int rc;
    for (i = 0; i < 64; i++) {
        rc = hsafe_run_ex(pool, bench_use1k, (void *)(uintptr_t)(i + 1), 0, &info);
        if (rc || info.result != (((i + 1) & 0x7f) | 0x80)) {
            fprintf(stderr, "bench: %s: hsafe_run failed: %s\n", name, hsafe_strerror(rc));
            return -1;
        }
        used = info.stack_used;
    }
#if !defined(HSAFE_BENCH_FULL_WIPE)   /* the full wipe does not measure depth */
    if (used < BENCH_USE_BYTES) {
        fprintf(stderr, "bench: %s: the run used only %zu bytes of stack\n", name, used);
        return -1;
    }
#endif
    rc = hsafe_pool_acquire(pool, &s);
    if (rc) return -1;
    {
        const unsigned char *p = (const unsigned char *)hsafe_stack_base(s);
        for (i = 0; i < hsafe_stack_size(s); i++)
            if (p[i]) {
                fprintf(stderr, "bench: %s: stack not zero after a run (offset %zu)\n", name, i);
                hsafe_pool_release(pool, s);
                return -1;
            }
    }
    hsafe_pool_release(pool, s);
#if !defined(HSAFE_BENCH_FULL_WIPE)
    printf("# %-28s stack_used=%zu bytes per run; stack all zero after\n", name, used);
#else
    printf("# %-28s stack all zero after a run\n", name);
#endif
    return 0;
}

static int br_init(hsafe_pool *pool, size_t size, const char *name)
{
    hsafe_pool_config cfg;
    int rc;
    memset(&cfg, 0, sizeof cfg);
    cfg.stack_size = size;
    cfg.capacity = 1;
    rc = hsafe_pool_init(pool, &cfg);
    if (rc) fprintf(stderr, "bench: %s: hsafe_pool_init: %s\n", name, hsafe_strerror(rc));
    return rc ? -1 : 0;
}

/* The check reads the whole stack, which maps every page of it (the kernel's
 * zero page) and so changes what the residency query reports; it runs on a
 * scratch pool of the same shape. The measured pool only ever sees runs. */
static int br_pool(hsafe_pool *pool, size_t size, const char *name)
{
    hsafe_pool scratch;
    int rc;
    if (br_init(&scratch, size, name)) return -1;
    rc = br_check(&scratch, name);
    hsafe_pool_destroy(&scratch);
    if (rc || br_init(pool, size, name)) return -1;
    for (long i = 0; i < 64; i++)
        if (hsafe_run(pool, bench_use1k, (void *)(uintptr_t)i, NULL)) return -1;
    /* Where the measured stack lies: on Linux the pagemap query of a
     * release costs about 40% more when the stack crosses a 2 MiB boundary
     * (the kernel walks it per 2 MiB), and ASLR decides that per process. */
    if (size >= 256 * 1024) {   /* only stacks that get the residency query */
        hsafe_stack *st;
        uintptr_t lo, hi;
        if (hsafe_pool_acquire(pool, &st)) return -1;
        lo = (uintptr_t)hsafe_stack_base(st);
        hi = lo + hsafe_stack_size(st) - 1;
        printf("# %-28s measured stack at %#lx, %s a 2 MiB boundary\n", name,
               (unsigned long)lo, (lo >> 21) != (hi >> 21) ? "crosses" : "within");
        if (hsafe_pool_release(pool, st)) return -1;
    }
    return 0;
}

#if defined(BR_RUN_S1M_DEEP)
/* Diagnostic: a 1 MiB stack that once ran bench_use_deep (960 KiB). Its
 * pages stay resident until 4 releases have found them unused; then the
 * release gives them back (HSAFE__TRIM_STREAK), as the 64 runs below do. */
static hsafe_pool br_pool_deep;
static int br_deep_setup(void)
{
    if (br_init(&br_pool_deep, 1024 * 1024, BR_NAME ".S1M.after_deep")) return -1;
    if (hsafe_run(&br_pool_deep, bench_use_deep, (void *)1, NULL)) return -1;
    for (long i = 0; i < 64; i++)
        if (hsafe_run(&br_pool_deep, bench_use1k, (void *)(uintptr_t)i, NULL)) return -1;
    return 0;
}
#endif

int BR_SETUP(void)
{
    if (br_pool(&br_pool_s64k, 64 * 1024, BR_NAME ".S64K")) return -1;
    if (br_pool(&br_pool_s1m, 1024 * 1024, BR_NAME ".S1M")) return -1;
#if defined(BR_RUN_S1M_DEEP)
    if (br_deep_setup()) return -1;
#endif
    return 0;
}

void BR_TEARDOWN(void)
{
    hsafe_pool_destroy(&br_pool_s64k);
    hsafe_pool_destroy(&br_pool_s1m);
#if defined(BR_RUN_S1M_DEEP)
    hsafe_pool_destroy(&br_pool_deep);
#endif
}

static uint64_t br_run(hsafe_pool *pool, long iters)
{
    uintptr_t acc = 0, r = 0;
    uint64_t t0 = bench_now_ns(), t1;
    for (long i = 0; i < iters; i++) {
        hsafe_run(pool, bench_use1k, (void *)(uintptr_t)i, &r);
        acc += r;
    }
    t1 = bench_now_ns();
    bench_sink = acc;
    return t1 - t0;
}

uint64_t BR_RUN_S64K(long iters) { return br_run(&br_pool_s64k, iters); }
uint64_t BR_RUN_S1M(long iters) { return br_run(&br_pool_s1m, iters); }
#if defined(BR_RUN_S1M_DEEP)
uint64_t BR_RUN_S1M_DEEP(long iters) { return br_run(&br_pool_deep, iters); }
#endif
