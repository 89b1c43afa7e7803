/* test_pool: stack pools, mmap'd and in caller memory, against their
 * documented contract and invariant.
 *
 * Proves:
 *   - defaults (cfg NULL or all-zero): 256 KiB stacks, capacity 16, a guard
 *     named "madv_guard" or "mprotect" (the same as hsafe_config_string);
 *     NO_GUARD and caller memory report "none"; mmap'd stack sizes are
 *     rounded up to pages, caller-memory ones to 16 bytes;
 *   - caller memory (a static array full of garbage): stacks are carved
 *     from it, 16-byte aligned, disjoint, inside the buffer, all-zero when
 *     handed out; capacity 0 means "as many as fit" (checked against the
 *     layout); memory too small, capacity larger than fits, memory_size
 *     without memory, DONTDUMP/NO_GUARD flags: HSAFE_EINVAL; after destroy
 *     no byte the user wrote is left in the buffer;
 *   - exhaustion gives HSAFE_EBUSY and a release makes room again; double
 *     release HSAFE_ESTATE; release into the wrong pool HSAFE_EOWNER; a
 *     descriptor that is no pool's HSAFE_EINVAL; destroy with stacks out
 *     HSAFE_EINUSE with nothing destroyed (the stack still works, stats
 *     unchanged), then destroy works; a destroyed or never-initialised pool
 *     answers HSAFE_EINVAL everywhere;
 *   - sizes: stack_size below HSAFE_CORO_MIN_STACK, above
 *     HSAFE_MAX_STACK_SIZE or SIZE_MAX, capacity above HSAFE_MAX_CAPACITY,
 *     unknown flags: HSAFE_EINVAL; the limits themselves are accepted;
 *   - the invariant: after release the whole stack reads all-zero (checked
 *     through hsafe_stack_base/hsafe_stack_size) after writes at its lowest
 *     byte, its top byte and in between, for a small mmap'd stack, a 1 MiB
 *     one (where release asks the kernel which pages were touched), a
 *     caller-memory one, and after a coroutine ran on it;
 *   - stats: in_use, free, created, capacity, stack_size, high_water follow
 *     acquire/release; per-stack high water after a coroutine that wrote N
 *     bytes is >= N and at most N + 4 KiB, and keeps the maximum;
 *   - the guard page: touching the byte below a stack kills a child with
 *     SIGSEGV;
 *   - MLOCK and DONTDUMP: in this process they either work or give
 *     HSAFE_ELOCK; in a child with RLIMIT_MEMLOCK 0 and no CAP_IPC_LOCK,
 *     MLOCK gives HSAFE_ELOCK (mmap pools at acquire, caller memory at
 *     init) and the pool stays usable; DONTDUMP still works there;
 *   - HSAFE_ENOMEM: in a child with RLIMIT_AS just above its current size,
 *     acquiring a 1 GiB stack or initialising a pool with the maximum
 *     capacity fails with HSAFE_ENOMEM and leaves the pool usable.
 * On Windows the guard is "page_guard", DONTDUMP is HSAFE_ENOTSUP, the
 * guard-page child is this program run again (t_in_child in testutil.h;
 * it ends with STATUS_GUARD_PAGE_VIOLATION or an access violation, which
 * count as SIGSEGV), and the ELOCK and ENOMEM children (rlimits,
 * capabilities) are POSIX only.
 */
#ifndef HSAFE_TEST_SHARED_IMPL
#define HSAFE_IMPLEMENTATION
#endif
#include "hsafe.h"
#include "testutil.h"

/* ASan and TSan install their own SIGSEGV handler, which reports a fault
 * outside a run and exits instead of dying by the signal. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#  define SANITIZER_SEGV 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#    define SANITIZER_SEGV 1
#  endif
#endif

#if !defined(_WIN32)
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#endif

static long page_size(void)
{
#if defined(_WIN32)
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return (long)si.dwPageSize;
#else
    return sysconf(_SC_PAGESIZE);
#endif
}

static int all_zero(const hsafe_stack *s)
{
    const unsigned char *p = (const unsigned char *)hsafe_stack_base(s);
    size_t n = hsafe_stack_size(s), k;
    for (k = 0; k < n; k++)
        if (p[k]) return 0;
    return 1;
}

static hsafe_pool_config config(size_t stack_size, size_t capacity, unsigned flags)
{
    hsafe_pool_config c;
    memset(&c, 0, sizeof c);
    c.stack_size = stack_size;
    c.capacity = capacity;
    c.flags = flags;
    return c;
}

static int guard_name_ok(const char *g)
{
#if defined(_WIN32)
    return strcmp(g, "page_guard") == 0;
#else
    return strcmp(g, "madv_guard") == 0 || strcmp(g, "mprotect") == 0;
#endif
}

/* ---- defaults ---------------------------------------------------------- */

static void test_defaults(void)
{
    hsafe_pool p;
    hsafe_pool_config zero;
    hsafe_pool_stats st;
    hsafe_stack *s = NULL;
    char want[32];
    long page = page_size();

    CHECK_EQ(hsafe_pool_init(&p, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_pool_get_stats(&p, &st), HSAFE_OK);
    CHECK_EQ(st.stack_size, HSAFE_DEFAULT_STACK_SIZE);
    CHECK_EQ(st.capacity, HSAFE_DEFAULT_CAPACITY);
    CHECK_EQ(st.in_use, 0);
    CHECK_EQ(st.free, 0);
    CHECK_EQ(st.created, 0);       /* stacks are created lazily */
    CHECK_EQ(st.high_water, 0);
    CHECK(guard_name_ok(st.guard));
    snprintf(want, sizeof want, "guard=%s", st.guard);
    CHECK(strstr(hsafe_config_string(), want) != NULL);
    CHECK_EQ(hsafe_pool_acquire(&p, &s), HSAFE_OK);
    CHECK(s != NULL);
    CHECK_EQ(hsafe_stack_size(s), HSAFE_DEFAULT_STACK_SIZE);
    CHECK_EQ((uintptr_t)hsafe_stack_base(s) % (uintptr_t)page, 0);
    CHECK(all_zero(s));
    CHECK_EQ(hsafe_pool_release(&p, s), HSAFE_OK);
    CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);

    memset(&zero, 0, sizeof zero);
    CHECK_EQ(hsafe_pool_init(&p, &zero), HSAFE_OK);
    CHECK_EQ(hsafe_pool_get_stats(&p, &st), HSAFE_OK);
    CHECK_EQ(st.stack_size, HSAFE_DEFAULT_STACK_SIZE);
    CHECK_EQ(st.capacity, HSAFE_DEFAULT_CAPACITY);
    CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);

    /* rounding of mmap'd stacks, no guard */
    zero = config(HSAFE_CORO_MIN_STACK + 1000, 2, HSAFE_POOL_NO_GUARD);
    CHECK_EQ(hsafe_pool_init(&p, &zero), HSAFE_OK);
    CHECK_EQ(hsafe_pool_get_stats(&p, &st), HSAFE_OK);
    CHECK_EQ(st.stack_size % (size_t)page, 0);
    CHECK(st.stack_size >= zero.stack_size && st.stack_size < zero.stack_size + (size_t)page);
    CHECK(strcmp(st.guard, "none") == 0);
    s = NULL;
    CHECK_EQ(hsafe_pool_acquire(&p, &s), HSAFE_OK);
    if (s) {
        CHECK_EQ(hsafe_stack_size(s), st.stack_size);
        CHECK_EQ(hsafe_pool_release(&p, s), HSAFE_OK);
    }
    CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);

    /* accessors on NULL */
    CHECK(hsafe_stack_base(NULL) == NULL);
    CHECK_EQ(hsafe_stack_size(NULL), 0);
    CHECK_EQ(hsafe_stack_high_water(NULL), 0);
}

/* ---- caller memory ------------------------------------------------------ */

static unsigned char arena[300 * 1024 + 7] __attribute__((aligned(64)));

static void test_caller_memory(void)
{
    hsafe_pool p;
    hsafe_pool_config c;
    hsafe_pool_stats st;
    hsafe_stack *s[64];
    size_t n, i, j, per, stack = 20000;   /* rounds to 20000 (16 | 20000) */
    unsigned char *mem = arena + 3;       /* misaligned on purpose */
    size_t mem_size = sizeof arena - 3;

    memset(arena, 0xCC, sizeof arena);
    c = config(stack, 0, 0);
    c.memory = mem;
    c.memory_size = mem_size;
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_OK);
    CHECK_EQ(hsafe_pool_get_stats(&p, &st), HSAFE_OK);
    n = st.capacity;
    per = stack + ((sizeof(hsafe_stack) + 15) / 16) * 16;
    printf("# caller memory: %zu bytes hold %zu stacks of %zu\n", mem_size, n, st.stack_size);
    CHECK_EQ(st.stack_size, stack);
    CHECK(n >= 1 && n <= 64);
    CHECK(n * per <= mem_size);              /* they fit */
    CHECK((n + 1) * per > mem_size - 15);    /* and one more would not */
    CHECK(strcmp(st.guard, "none") == 0);
    for (i = 0; i < n; i++) {
        unsigned char *lo;
        CHECK_EQ(hsafe_pool_acquire(&p, &s[i]), HSAFE_OK);
        lo = (unsigned char *)hsafe_stack_base(s[i]);
        CHECK_EQ(hsafe_stack_size(s[i]), stack);
        CHECK_EQ((uintptr_t)lo % 16, 0);
        CHECK(lo >= mem && lo + stack <= mem + mem_size);
        CHECK(all_zero(s[i]));               /* the garbage was wiped */
        for (j = 0; j < i; j++) {
            unsigned char *o = (unsigned char *)hsafe_stack_base(s[j]);
            CHECK(lo + stack <= o || o + stack <= lo);
        }
        /* the descriptors are not inside any stack */
        CHECK((unsigned char *)s[i] + sizeof *s[i] <= lo || (unsigned char *)s[i] >= lo + stack);
    }
    {
        hsafe_stack *extra = NULL;
        CHECK_EQ(hsafe_pool_acquire(&p, &extra), HSAFE_EBUSY);
        CHECK(extra == NULL);
    }
    /* write a secret everywhere, release, check the invariant */
    for (i = 0; i < n; i++) memset(hsafe_stack_base(s[i]), 0x5A, stack);
    for (i = 0; i < n; i++) {
        CHECK_EQ(hsafe_pool_release(&p, s[i]), HSAFE_OK);
        CHECK(all_zero(s[i]));
        CHECK_EQ(hsafe_stack_high_water(s[i]), stack);
    }
    CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);
    for (i = 0; i < sizeof arena; i++)
        if (arena[i] == 0x5A) break;
    CHECK_EQ(i, sizeof arena);              /* nothing the user wrote is left */

    /* an explicit capacity that fits, one that does not, too little memory */
    c = config(stack, 2, 0);
    c.memory = mem;
    c.memory_size = mem_size;
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_OK);
    CHECK_EQ(hsafe_pool_get_stats(&p, &st), HSAFE_OK);
    CHECK_EQ(st.capacity, 2);
    CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);
    c.capacity = n + 1;
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_EINVAL);
    c.capacity = 0;
    c.memory_size = stack / 2;              /* not one stack */
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_EINVAL);
    c.memory_size = 15;
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_EINVAL);
    c.memory_size = 0;
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_EINVAL);
    c.memory_size = (size_t)-1;             /* wraps around the address space */
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_EINVAL);
    c.memory_size = mem_size;
    c.flags = HSAFE_POOL_DONTDUMP;          /* needs mmap */
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_EINVAL);
    c.flags = HSAFE_POOL_NO_GUARD;
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_EINVAL);
    c.flags = 0x100;
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_EINVAL);
    c = config(stack, 0, 0);
    c.memory_size = 4096;                   /* size without memory */
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_EINVAL);
}

/* ---- exhaustion, ownership, states -------------------------------------- */

static void test_errors(void)
{
    hsafe_pool a, b, never;
    hsafe_pool_config c = config(16384, 2, 0);
    hsafe_pool_stats st, st2;
    hsafe_stack *s1 = NULL, *s2 = NULL, *s3 = NULL, *sb = NULL, fake;

    CHECK_EQ(hsafe_pool_init(&a, &c), HSAFE_OK);
    CHECK_EQ(hsafe_pool_init(&b, &c), HSAFE_OK);
    CHECK_EQ(hsafe_pool_acquire(&a, &s1), HSAFE_OK);
    CHECK_EQ(hsafe_pool_acquire(&a, &s2), HSAFE_OK);
    CHECK(s1 != s2);
    CHECK_EQ(hsafe_pool_acquire(&a, &s3), HSAFE_EBUSY);
    CHECK(s3 == NULL);
    CHECK_EQ(hsafe_pool_get_stats(&a, &st), HSAFE_OK);
    CHECK_EQ(st.in_use, 2);
    CHECK_EQ(st.free, 0);
    CHECK_EQ(st.created, 2);
    CHECK_EQ(hsafe_pool_release(&a, s2), HSAFE_OK);
    CHECK_EQ(hsafe_pool_get_stats(&a, &st), HSAFE_OK);
    CHECK_EQ(st.in_use, 1);
    CHECK_EQ(st.free, 1);
    CHECK_EQ(st.created, 2);
    CHECK_EQ(hsafe_pool_acquire(&a, &s3), HSAFE_OK);   /* room again */
    CHECK_EQ(hsafe_pool_get_stats(&a, &st), HSAFE_OK);
    CHECK_EQ(st.created, 2);                           /* reused, not created */
    CHECK_EQ(st.in_use, 2);

    /* double release */
    CHECK_EQ(hsafe_pool_release(&a, s3), HSAFE_OK);
    CHECK_EQ(hsafe_pool_release(&a, s3), HSAFE_ESTATE);
    CHECK_EQ(hsafe_pool_get_stats(&a, &st), HSAFE_OK);
    CHECK_EQ(st.in_use, 1);
    CHECK_EQ(st.free, 1);

    /* wrong pool, no pool's descriptor, NULLs */
    CHECK_EQ(hsafe_pool_acquire(&b, &sb), HSAFE_OK);
    CHECK_EQ(hsafe_pool_release(&a, sb), HSAFE_EOWNER);
    CHECK_EQ(hsafe_pool_release(&b, s1), HSAFE_EOWNER);
    CHECK_EQ(hsafe_pool_get_stats(&b, &st), HSAFE_OK);
    CHECK_EQ(st.in_use, 1);                            /* nothing changed */
    memset(&fake, 0, sizeof fake);
    CHECK_EQ(hsafe_pool_release(&a, &fake), HSAFE_EINVAL);
    fake = *s1;                                        /* a copy: right owner, not a slot */
    CHECK_EQ(hsafe_pool_release(&a, &fake), HSAFE_EINVAL);
    CHECK_EQ(hsafe_pool_release(&a, NULL), HSAFE_EINVAL);
    CHECK_EQ(hsafe_pool_release(NULL, s1), HSAFE_EINVAL);
    CHECK_EQ(hsafe_pool_acquire(&a, NULL), HSAFE_EINVAL);
    CHECK_EQ(hsafe_pool_acquire(NULL, &s3), HSAFE_EINVAL);
    CHECK_EQ(hsafe_pool_get_stats(NULL, &st), HSAFE_EINVAL);
    CHECK_EQ(hsafe_pool_get_stats(&a, NULL), HSAFE_EINVAL);
    CHECK_EQ(hsafe_pool_init(NULL, &c), HSAFE_EINVAL);
    CHECK_EQ(hsafe_pool_destroy(NULL), HSAFE_EINVAL);

    /* destroy with a stack out: refused, nothing destroyed */
    CHECK_EQ(hsafe_pool_get_stats(&a, &st), HSAFE_OK);
    memset(hsafe_stack_base(s1), 0x77, 100);
    CHECK_EQ(hsafe_pool_destroy(&a), HSAFE_EINUSE);
    CHECK_EQ(hsafe_pool_get_stats(&a, &st2), HSAFE_OK);
    CHECK_EQ(st2.in_use, st.in_use);
    CHECK_EQ(st2.created, st.created);
    CHECK_EQ(((unsigned char *)hsafe_stack_base(s1))[99], 0x77);   /* still mapped */
    memset(hsafe_stack_base(s1), 0x78, hsafe_stack_size(s1));
    CHECK_EQ(hsafe_pool_acquire(&a, &s2), HSAFE_OK);               /* still works */
    CHECK(all_zero(s2));
    CHECK_EQ(hsafe_pool_release(&a, s2), HSAFE_OK);
    CHECK_EQ(hsafe_pool_release(&a, s1), HSAFE_OK);
    CHECK(all_zero(s1));
    CHECK_EQ(hsafe_pool_destroy(&a), HSAFE_OK);

    /* a destroyed pool */
    CHECK_EQ(hsafe_pool_destroy(&a), HSAFE_EINVAL);
    CHECK_EQ(hsafe_pool_acquire(&a, &s3), HSAFE_EINVAL);
    CHECK_EQ(hsafe_pool_get_stats(&a, &st), HSAFE_EINVAL);
    CHECK_EQ(hsafe_pool_release(&a, sb), HSAFE_EINVAL);
    /* a never-initialised one */
    memset(&never, 0, sizeof never);
    CHECK_EQ(hsafe_pool_acquire(&never, &s3), HSAFE_EINVAL);
    CHECK_EQ(hsafe_pool_release(&never, sb), HSAFE_EINVAL);
    CHECK_EQ(hsafe_pool_get_stats(&never, &st), HSAFE_EINVAL);
    CHECK_EQ(hsafe_pool_destroy(&never), HSAFE_EINVAL);

    CHECK_EQ(hsafe_pool_release(&b, sb), HSAFE_OK);
    CHECK_EQ(hsafe_pool_destroy(&b), HSAFE_OK);
}

/* ---- sizes and flags ----------------------------------------------------- */

static void test_sizes(void)
{
    hsafe_pool p;
    hsafe_pool_config c;
    hsafe_stack *s = NULL;
    int rc;

    c = config(1, 0, 0);
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_EINVAL);
    c = config(HSAFE_CORO_MIN_STACK - 1, 0, 0);
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_EINVAL);
    c = config(HSAFE_MAX_STACK_SIZE + 1, 0, 0);
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_EINVAL);
    c = config((size_t)-1, 0, 0);
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_EINVAL);
    c = config(0, HSAFE_MAX_CAPACITY + 1, 0);
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_EINVAL);
    c = config(0, (size_t)-1, 0);
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_EINVAL);
    c = config(0, 0, 0x8u);
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_EINVAL);
    c = config(0, 0, ~0u);
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_EINVAL);

    /* the limits themselves */
    c = config(HSAFE_CORO_MIN_STACK, 1, 0);
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_OK);
    CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);
    c = config(16384, HSAFE_MAX_CAPACITY, 0);
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_OK);
    CHECK_EQ(hsafe_pool_acquire(&p, &s), HSAFE_OK);
    CHECK_EQ(hsafe_pool_release(&p, s), HSAFE_OK);
    CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);
    c = config(HSAFE_MAX_STACK_SIZE, 1, 0);
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_OK);
    rc = hsafe_pool_acquire(&p, &s);     /* 1 GiB of address space, untouched */
    CHECK(rc == HSAFE_OK || rc == HSAFE_ENOMEM);
    if (rc == HSAFE_OK) {
        unsigned char *lo = (unsigned char *)hsafe_stack_base(s);
        CHECK_EQ(hsafe_stack_size(s), HSAFE_MAX_STACK_SIZE);
        /* near the top only: release wipes from the deepest non-zero byte
         * up, so a write at the bottom would make it commit 1 GiB */
        lo[HSAFE_MAX_STACK_SIZE - 3 * 4096] = 2;
        lo[HSAFE_MAX_STACK_SIZE - 1] = 3;             /* top byte */
        CHECK_EQ(hsafe_pool_release(&p, s), HSAFE_OK);
        CHECK(lo[HSAFE_MAX_STACK_SIZE - 3 * 4096] == 0 && lo[HSAFE_MAX_STACK_SIZE - 1] == 0);
        CHECK_EQ(hsafe_stack_high_water(s), 3 * 4096);
    }
    CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);
}

/* ---- the invariant, stats, high water ------------------------------------ */

static void write_and_check(hsafe_pool *p, const char *what)
{
    hsafe_stack *s = NULL;
    unsigned char *lo;
    size_t n, k;
    CHECK_EQ(hsafe_pool_acquire(p, &s), HSAFE_OK);
    if (!s) return;
    lo = (unsigned char *)hsafe_stack_base(s);
    n = hsafe_stack_size(s);
    CHECK(all_zero(s));
    /* the lowest byte, the top byte, one byte in a middle page, a run */
    lo[0] = 0xA1;
    lo[n - 1] = 0xA2;
    lo[n / 2 + 123] = 0xA3;
    for (k = n / 3; k < n / 3 + 5000; k++) lo[k] = (unsigned char)(k | 1);
    CHECK_EQ(hsafe_pool_release(p, s), HSAFE_OK);
    CHECK(all_zero(s));
    if (!all_zero(s)) fprintf(stderr, "not zero after release: %s\n", what);
    CHECK_EQ(hsafe_stack_high_water(s), n);       /* lo[0] was written */
    /* only one byte in the middle of a page far from both ends */
    CHECK_EQ(hsafe_pool_acquire(p, &s), HSAFE_OK);
    lo = (unsigned char *)hsafe_stack_base(s);
    lo[n / 4 + 77] = 0xB1;
    CHECK_EQ(hsafe_pool_release(p, s), HSAFE_OK);
    CHECK(all_zero(s));
    if (!all_zero(s)) fprintf(stderr, "not zero after release (2): %s\n", what);
}

static uintptr_t writer(hsafe_coro *co, uintptr_t n)
{
    volatile unsigned char *buf = (volatile unsigned char *)__builtin_alloca(n);
    size_t k;
    (void)co;
    for (k = 0; k < n; k++) buf[k] = (unsigned char)(k | 0x80);
    return buf[0];
}

/* Run a coroutine writing n bytes on a pooled stack; return its high water. */
static size_t coro_on_stack(hsafe_pool *p, size_t n)
{
    hsafe_stack *s = NULL;
    hsafe_coro co;
    CHECK_EQ(hsafe_pool_acquire(p, &s), HSAFE_OK);
    if (!s) return 0;
    CHECK_EQ(hsafe_coro_init(&co, hsafe_stack_base(s), hsafe_stack_size(s), writer, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_coro_resume(&co, n, NULL), HSAFE_CORO_FINISHED);
    CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);
    CHECK(!all_zero(s));
    CHECK_EQ(hsafe_pool_release(p, s), HSAFE_OK);
    CHECK(all_zero(s));
    return hsafe_stack_high_water(s);
}

static unsigned char arena2[2][70000] __attribute__((aligned(16)));

static void test_invariant_and_stats(void)
{
    hsafe_pool p;
    hsafe_pool_config c;
    hsafe_pool_stats st;
    size_t hw1, hw2;

    c = config(64 * 1024, 1, 0);
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_OK);
    write_and_check(&p, "64 KiB mmap");
    CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);

    c = config(1024 * 1024, 1, 0);          /* large enough for the residency scan */
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_OK);
    write_and_check(&p, "1 MiB mmap");
    CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);

    c = config(1024 * 1024, 1, HSAFE_POOL_NO_GUARD);
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_OK);
    write_and_check(&p, "1 MiB mmap, no guard");
    CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);

    memset(arena2, 0xEE, sizeof arena2);
    c = config(60000, 1, 0);
    c.memory = arena2;
    c.memory_size = sizeof arena2;
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_OK);
    write_and_check(&p, "caller memory");
    CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);

    /* high water through a coroutine, per stack and in the stats */
    c = config(256 * 1024, 2, 0);
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_OK);
    hw1 = coro_on_stack(&p, 40000);
    printf("# high water after a coroutine wrote 40000 bytes: %zu\n", hw1);
    CHECK(hw1 >= 40000);
    CHECK(hw1 <= 40000 + 4096);
    hw2 = coro_on_stack(&p, 1000);          /* the same stack again (LIFO or not) */
    CHECK(hw2 >= 1000);
    CHECK_EQ(hsafe_pool_get_stats(&p, &st), HSAFE_OK);
    CHECK_EQ(st.high_water, hw1);           /* the deepest use of any stack */
    CHECK(st.high_water >= hw2);
    CHECK_EQ(st.in_use, 0);
    CHECK_EQ(st.free, st.created);
    CHECK(st.created >= 1 && st.created <= 2);
    CHECK_EQ(st.capacity, 2);
    CHECK_EQ(st.stack_size, 256 * 1024);
    CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);
}

/* ---- guard page ----------------------------------------------------------- */

static void touch_below(void *arg)
{
    hsafe_pool p;
    hsafe_pool_config c = config(16384, 1, 0);
    hsafe_stack *s = NULL;
    (void)arg;
    if (hsafe_pool_init(&p, &c) || hsafe_pool_acquire(&p, &s)) _exit(3);
    fprintf(stderr, "touching\n");
    ((volatile unsigned char *)hsafe_stack_base(s))[-1] = 1;
    fprintf(stderr, "survived\n");
}

/* ---- MLOCK, DONTDUMP, ELOCK, ENOMEM --------------------------------------- */

static void test_lock_here(void)
{
    hsafe_pool p;
    hsafe_pool_config c;
    hsafe_stack *s = NULL;
    static unsigned char mem[3 * 16384];
    int rc;

    c = config(65536, 2, HSAFE_POOL_MLOCK);
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_OK);
    rc = hsafe_pool_acquire(&p, &s);
    printf("# MLOCK in this process: %s\n", hsafe_strerror(rc));
    CHECK(rc == HSAFE_OK || rc == HSAFE_ELOCK);
    if (rc == HSAFE_OK) {
        memset(hsafe_stack_base(s), 1, 4096);
        CHECK_EQ(hsafe_pool_release(&p, s), HSAFE_OK);
        CHECK(all_zero(s));
    }
    CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);

#if defined(_WIN32)
    /* no MADV_DONTDUMP: the pool is made, its stacks are refused */
    c = config(65536, 2, HSAFE_POOL_DONTDUMP);
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_OK);
    CHECK_EQ(hsafe_pool_acquire(&p, &s), HSAFE_ENOTSUP);
    CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);

    c = config(65536, 2, HSAFE_POOL_MLOCK | HSAFE_POOL_DONTDUMP | HSAFE_POOL_NO_GUARD);
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_OK);
    rc = hsafe_pool_acquire(&p, &s);
    CHECK(rc == HSAFE_ENOTSUP || rc == HSAFE_ELOCK);
    CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);
#else
    c = config(65536, 2, HSAFE_POOL_DONTDUMP);
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_OK);
    CHECK_EQ(hsafe_pool_acquire(&p, &s), HSAFE_OK);
    CHECK_EQ(hsafe_pool_release(&p, s), HSAFE_OK);
    CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);

    c = config(65536, 2, HSAFE_POOL_MLOCK | HSAFE_POOL_DONTDUMP | HSAFE_POOL_NO_GUARD);
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_OK);
    rc = hsafe_pool_acquire(&p, &s);
    CHECK(rc == HSAFE_OK || rc == HSAFE_ELOCK);
    if (rc == HSAFE_OK) CHECK_EQ(hsafe_pool_release(&p, s), HSAFE_OK);
    CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);
#endif

    c = config(16384, 0, HSAFE_POOL_MLOCK);
    c.memory = mem;
    c.memory_size = sizeof mem;
    rc = hsafe_pool_init(&p, &c);
    CHECK(rc == HSAFE_OK || rc == HSAFE_ELOCK);
    if (rc == HSAFE_OK) {
        CHECK_EQ(hsafe_pool_acquire(&p, &s), HSAFE_OK);
        CHECK_EQ(hsafe_pool_release(&p, s), HSAFE_OK);
        CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);
    }
}

#if !defined(_WIN32)
/* Take away the ability to lock memory: RLIMIT_MEMLOCK 0 and, if we are
 * privileged, CAP_IPC_LOCK (which ignores the limit). Returns 0 when a
 * plain mlock now fails. */
static int lose_mlock(void)
{
    struct rlimit rl;
    static unsigned char page[8192];
    rl.rlim_cur = rl.rlim_max = 0;
    if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0) return -1;
    {
        struct __user_cap_header_struct hdr;
        struct __user_cap_data_struct data[2];
        memset(&hdr, 0, sizeof hdr);
        memset(data, 0, sizeof data);
        hdr.version = _LINUX_CAPABILITY_VERSION_3;
        if (syscall(SYS_capget, &hdr, data) == 0) {
            data[0].effective &= ~(1u << CAP_IPC_LOCK);
            data[0].permitted &= ~(1u << CAP_IPC_LOCK);
            data[0].inheritable &= ~(1u << CAP_IPC_LOCK);
            if (syscall(SYS_capset, &hdr, data) != 0) return -2;
        }
    }
    if (mlock(page, sizeof page) == 0) { munlock(page, sizeof page); return -3; }
    return 0;
}

static void child_elock(void *arg)
{
    hsafe_pool p;
    hsafe_pool_config c;
    hsafe_stack *s = NULL;
    hsafe_pool_stats st;
    static unsigned char mem[3 * 16384];
    int rc = lose_mlock();
    (void)arg;
    if (rc) { fprintf(stderr, "cannot drop mlock (%d)\n", rc); _exit(77); }

    c = config(65536, 2, HSAFE_POOL_MLOCK);
    if (hsafe_pool_init(&p, &c) != HSAFE_OK) _exit(10);
    if ((rc = hsafe_pool_acquire(&p, &s)) != HSAFE_ELOCK) { fprintf(stderr, "acquire: %d\n", rc); _exit(11); }
    if (hsafe_pool_get_stats(&p, &st) || st.in_use || st.created) _exit(12);
    if (hsafe_pool_acquire(&p, &s) != HSAFE_ELOCK) _exit(13);    /* still refused, no leak */
    if (hsafe_pool_destroy(&p) != HSAFE_OK) _exit(14);

    c = config(16384, 0, HSAFE_POOL_MLOCK);
    c.memory = mem;
    c.memory_size = sizeof mem;
    if ((rc = hsafe_pool_init(&p, &c)) != HSAFE_ELOCK) { fprintf(stderr, "init: %d\n", rc); _exit(15); }

    /* DONTDUMP needs no privilege */
    c = config(65536, 2, HSAFE_POOL_DONTDUMP);
    if (hsafe_pool_init(&p, &c) != HSAFE_OK) _exit(16);
    if (hsafe_pool_acquire(&p, &s) != HSAFE_OK) _exit(17);
    if (hsafe_pool_release(&p, s) != HSAFE_OK) _exit(18);
    if (hsafe_pool_destroy(&p) != HSAFE_OK) _exit(19);
    fprintf(stderr, "elock ok\n");
    _exit(0);
}

/* Current address-space size, from /proc/self/statm (pages). */
static size_t vm_size(void)
{
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    if (fscanf(f, "%lu", &pages) != 1) pages = 0;
    fclose(f);
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

static void child_enomem(void *arg)
{
    hsafe_pool p;
    hsafe_pool_config c;
    hsafe_stack *s = NULL;
    hsafe_pool_stats st;
    struct rlimit rl;
    size_t now = vm_size();
    int rc;
    (void)arg;
    if (!now) _exit(77);
    rl.rlim_cur = rl.rlim_max = now + 32u * 1024 * 1024;
    if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(77);
    {   /* is the limit enforced here? (qemu-user, for one, does not) */
        void *big = mmap(NULL, (size_t)256 << 20, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (big != MAP_FAILED) {
            munmap(big, (size_t)256 << 20);
            fprintf(stderr, "RLIMIT_AS is not enforced here\n");
            _exit(77);
        }
    }

    c = config(HSAFE_MAX_STACK_SIZE, 1, 0);
    if (hsafe_pool_init(&p, &c) != HSAFE_OK) _exit(10);
    if ((rc = hsafe_pool_acquire(&p, &s)) != HSAFE_ENOMEM) { fprintf(stderr, "acquire: %d\n", rc); _exit(11); }
    if (hsafe_pool_get_stats(&p, &st) || st.in_use || st.created) _exit(12);
    if (hsafe_pool_destroy(&p) != HSAFE_OK) _exit(13);

    c = config(16384, HSAFE_MAX_CAPACITY, 0);     /* 64 MiB of descriptors */
    if ((rc = hsafe_pool_init(&p, &c)) != HSAFE_ENOMEM) { fprintf(stderr, "init: %d\n", rc); _exit(14); }
    fprintf(stderr, "enomem ok\n");
    _exit(0);
}
#endif

#if !defined(_WIN32)
/* A forked child releases a stack its parent never touched, after writing
 * a page in the middle of it: that page must be wiped. Residency read
 * through a /proc/self/pagemap descriptor the parent opened describes the
 * parent, where the page is absent: such a pool once skipped it. Both the
 * first release of a small stack and a large stack ask for residency. */
static hsafe_pool fork_pool;
static hsafe_stack *fork_stack;

static void child_fork_release(void *arg)
{
    unsigned char *lo = (unsigned char *)hsafe_stack_base(fork_stack);
    size_t size = hsafe_stack_size(fork_stack), i, left = 0;
    hsafe_stack *again = NULL;
    (void)arg;
    memset(lo + size / 2, 0x5a, 64);
    if (hsafe_pool_release(&fork_pool, fork_stack) != HSAFE_OK) _exit(2);
    if (hsafe_pool_acquire(&fork_pool, &again) != HSAFE_OK || again != fork_stack) _exit(3);
    for (i = 0; i < size; i++) left += lo[i] != 0;
    fprintf(stderr, "%zu bytes left\n", left);
    _exit(left ? 1 : 0);
}

static void test_fork_residency(void)
{
    static const size_t sizes[2] = {16384, 1u << 20};
    char buf[256];
    int i, code = -1, sig;
    for (i = 0; i < 2; i++) {
        hsafe_pool_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.stack_size = sizes[i];
        cfg.capacity = 1;
        CHECK_EQ(hsafe_pool_init(&fork_pool, &cfg), HSAFE_OK);
        CHECK_EQ(hsafe_pool_acquire(&fork_pool, &fork_stack), HSAFE_OK);
        sig = t_in_child(child_fork_release, NULL, buf, sizeof buf, &code);
        CHECK_EQ(sig, 0);
        CHECK_EQ(code, 0);
        if (code) fprintf(stderr, "fork child, %zu-byte stack: %s\n", sizes[i], buf);
        CHECK_EQ(hsafe_pool_release(&fork_pool, fork_stack), HSAFE_OK);
        CHECK_EQ(hsafe_pool_destroy(&fork_pool), HSAFE_OK);
    }
}
#endif

int main(int argc, char **argv)
{
#if !defined(_WIN32)
    struct rlimit no_core;
    char buf[512];
    int code = -1, sig;
#endif
    t_child_dispatch(argc, argv);
    T_BEGIN("test_pool");
#if !defined(_WIN32)
    no_core.rlim_cur = no_core.rlim_max = 0;
    setrlimit(RLIMIT_CORE, &no_core);       /* a child dies on its guard page */
#endif

    test_defaults();
    test_caller_memory();
    test_errors();
    test_sizes();
    test_invariant_and_stats();
#if defined(SANITIZER_SEGV)
    printf("# guard-page child skipped: the sanitizer's SEGV handler reports and exits instead\n");
#else
    CHECK_DIES(touch_below, NULL, SIGSEGV, "touching");
#endif
    test_lock_here();
#if !defined(_WIN32)
    test_fork_residency();
#endif

#if defined(_WIN32)
    printf("# skipped on Windows: the ELOCK and ENOMEM children (RLIMIT_MEMLOCK, CAP_IPC_LOCK, RLIMIT_AS)\n");
#else
    sig = t_in_child(child_elock, NULL, buf, sizeof buf, &code);
    if (sig == 0 && code == 77) printf("# ELOCK path not testable here: %s", buf);
    else {
        CHECK_EQ(sig, 0);
        CHECK_EQ(code, 0);
        CHECK(strstr(buf, "elock ok") != NULL);
        if (code) fprintf(stderr, "elock child: %s\n", buf);
    }
    sig = t_in_child(child_enomem, NULL, buf, sizeof buf, &code);
    if (sig == 0 && code == 77) printf("# ENOMEM path not testable here: %s", buf);
    else {
        CHECK_EQ(sig, 0);
        CHECK_EQ(code, 0);
        CHECK(strstr(buf, "enomem ok") != NULL);
        if (code) fprintf(stderr, "enomem child: %s\n", buf);
    }
#endif
    T_END();
}
