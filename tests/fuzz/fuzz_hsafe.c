/* fuzz_hsafe: bytes -> a program of operations on coroutines, pools and
 * sanitized runs, each checked against a small reference model.
 *
 * Build (tests/phases/60-fuzz.sh does this):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Itests \
 *         tests/fuzz/fuzz_hsafe.c -o fuzz_hsafe
 *   ./fuzz_hsafe -max_total_time=60 CORPUS_DIR tests/fuzz/corpus
 * With -DHSAFE_FUZZ_MAIN it is a plain program instead, which runs the files
 * or directories named on its command line once each (the seed corpus as a
 * regression test, under any backend, sanitizer or valgrind).
 *
 * The program: two pool slots, eight stack handles, three coroutine slots.
 * Each operation is one byte (its low 4 bits choose it) plus argument
 * bytes; input runs out -> the program ends. The model predicts every
 * return code, every value, every status and the pool statistics; the
 * checks (abort on mismatch, which libFuzzer reports as a crash):
 *   coroutines   init on a pooled or static stack; resume with a value:
 *                the coroutine's function (co_fn) does what the value's
 *                low two bits say (yield a function of it, return, recurse
 *                and yield from the depth, or resume another slot: itself
 *                or a resumer gives HSAFE_ESTATE, a finished one
 *                HSAFE_EFINISHED, an unused one HSAFE_EINVAL); fini, also of
 *                a suspended coroutine (abandoned) and twice;
 *   pools        init (mmap'd or caller memory, guard or not), acquire
 *                (HSAFE_EBUSY when exhausted), dirty a stack, release
 *                (HSAFE_EOWNER into the other pool, HSAFE_ESTATE twice,
 *                HSAFE_EINVAL for a stack descriptor that is no pool's),
 *                destroy (HSAFE_EINUSE with stacks out), use after destroy;
 *                every acquired stack and every released stack is all
 *                zero, and hsafe_pool_stats agrees with the model;
 *   runs         hsafe_run_ex of a function recursing to a random depth,
 *                pushing cleanup handlers at some levels, returning a value
 *                or panicking at the bottom: the result, the message, the
 *                number of cleanups run, HSAFE_EBUSY on an exhausted pool.
 * At the end every coroutine is finalised, every stack released, every
 * stack each pool created acquired once more (all zero), and the pools are
 * destroyed.
 */
#define HSAFE_IMPLEMENTATION
#include "hsafe.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPOOL 2
#define NHELD 8
#define NREL 8
#define NSLOT 3
#define MAX_OPS 256
#define STATIC_STACK (64 * 1024)
#define MEM_STACK_MAX (32 * 1024)
#define MEM_CAP_MAX 4
#define MEM_BYTES (MEM_CAP_MAX * (MEM_STACK_MAX + 128) + 64)

#define FAIL(...) \
    do { fprintf(stderr, "fuzz_hsafe: model mismatch at %s:%d: ", __FILE__, __LINE__); \
         fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)
#define EXPECT_EQ(got, want) \
    do { long long g_ = (long long)(got), w_ = (long long)(want); \
         if (g_ != w_) FAIL("%s == %lld, expected %lld", #got, g_, w_); } while (0)

/* ---- input ---------------------------------------------------------- */

typedef struct input { const uint8_t *p; size_t n; } input;

static int more(const input *in) { return in->n > 0; }
static unsigned byte(input *in)
{
    unsigned b;
    if (!in->n) return 0;
    b = *in->p++;
    in->n--;
    return b;
}
static uintptr_t word(input *in, unsigned nbytes)
{
    uintptr_t v = 0;
    unsigned i;
    for (i = 0; i < nbytes && i < sizeof v; i++) v |= (uintptr_t)byte(in) << (8 * i);
    return v;
}

/* ---- state and model ------------------------------------------------- */

typedef struct pool_slot {
    hsafe_pool pool;
    int live;
    unsigned char *mem;           /* caller memory, or NULL */
    size_t capacity, created, in_use, stack_size;
} pool_slot;

typedef struct held { hsafe_stack *s; int pool; int slot; } held;  /* slot: coroutine using it, or -1 */
typedef struct released { hsafe_stack *s; int pool; } released;

typedef struct coro_slot {
    hsafe_coro co;
    int status;                   /* model: enum hsafe_coro_status */
    int held;                     /* index into held[], or -1 for the static stack */
} coro_slot;

static pool_slot pools[NPOOL];
static held helds[NHELD];
static int nheld;
static released rels[NREL];
static int nrel;
static coro_slot slots[NSLOT];
static unsigned char static_stacks[NSLOT][STATIC_STACK] __attribute__((aligned(64)));
static unsigned char pool_memory[NPOOL][MEM_BYTES] __attribute__((aligned(64)));

/* Not coverage-instrumented: it reads whole stacks, and libFuzzer's
 * comparison tracing of a byte loop took 60% of the time. */
#if defined(__clang__)
__attribute__((no_sanitize("coverage")))
#endif
static void expect_zero(const void *p, size_t n, const char *what)
{
    const unsigned char *b = (const unsigned char *)p;
    uint64_t acc = 0, w;
    size_t i;
    for (i = 0; i + 8 <= n; i += 8) { memcpy(&w, b + i, 8); acc |= w; }
    for (; i < n; i++) acc |= b[i];
    if (!acc) return;
    for (i = 0; i < n; i++)
        if (b[i]) FAIL("%s: byte %zu of %zu is 0x%02x, not zero", what, i, n, b[i]);
}

static void check_stats(int pi)
{
    pool_slot *ps = &pools[pi];
    hsafe_pool_stats st;
    if (!ps->live) {
        EXPECT_EQ(hsafe_pool_get_stats(&ps->pool, &st), HSAFE_EINVAL);
        return;
    }
    EXPECT_EQ(hsafe_pool_get_stats(&ps->pool, &st), HSAFE_OK);
    EXPECT_EQ(st.in_use, ps->in_use);
    EXPECT_EQ(st.created, ps->created);
    EXPECT_EQ(st.free, ps->created - ps->in_use);
    EXPECT_EQ(st.capacity, ps->capacity);
    EXPECT_EQ(st.stack_size, ps->stack_size);
    if (st.high_water > st.stack_size) FAIL("high water %zu above stack size %zu", st.high_water, st.stack_size);
}

/* ---- coroutines ------------------------------------------------------ */

/* What a suspended coroutine does when resumed with v (the model). Returns
 * the status it ends in and sets *out. Nested resumes go through here too. */
static int model_resume(int si, uintptr_t v, uintptr_t *out);

static uintptr_t mix(int rc, uintptr_t out) { return (uintptr_t)(rc + 100) * 1000003u + out; }

static int model_nested(int target, uintptr_t w, uintptr_t *out)
{
    coro_slot *t = &slots[target];
    int st;
    switch (t->status) {
    case HSAFE_CORO_SUSPENDED:
        t->status = HSAFE_CORO_RUNNING;
        st = model_resume(target, w, out);
        t->status = st;
        return st;
    case HSAFE_CORO_RUNNING:   return HSAFE_ESTATE;
    case HSAFE_CORO_FINISHED:  return HSAFE_EFINISHED;
    default:                   return HSAFE_EINVAL;
    }
}

static int model_resume(int si, uintptr_t v, uintptr_t *out)
{
    unsigned depth;
    switch (v & 3) {
    case 0: *out = v * 3 + 1; return HSAFE_CORO_SUSPENDED;
    case 1: *out = v ^ 0x5a5au; slots[si].status = HSAFE_CORO_FINISHED; return HSAFE_CORO_FINISHED;
    case 2: depth = (unsigned)(v >> 2) & 15; *out = v + 1000 + depth * 7; return HSAFE_CORO_SUSPENDED;
    default: {
        int target = (int)((v >> 2) % NSLOT), rc;
        uintptr_t o = 0;
        slots[si].status = HSAFE_CORO_RUNNING;
        rc = model_nested(target, v >> 6, &o);
        slots[si].status = HSAFE_CORO_SUSPENDED;
        *out = mix(rc, o);
        return HSAFE_CORO_SUSPENDED;
    }
    }
}

static uintptr_t __attribute__((noinline)) deep_yield(hsafe_coro *co, uintptr_t v, unsigned depth, unsigned d)
{
    volatile unsigned char frame[96];
    uintptr_t r;
    frame[d % sizeof frame] = (unsigned char)d;
    if (d == 0) return hsafe_coro_yield(co, v + 1000 + depth * 7);
    r = deep_yield(co, v, depth, d - 1);
    if (frame[d % sizeof frame] != (unsigned char)d) FAIL("frame of depth %u changed across a yield", d);
    return r;
}

static uintptr_t co_fn(hsafe_coro *co, uintptr_t v)
{
    for (;;) {
        switch (v & 3) {
        case 0:
            v = hsafe_coro_yield(co, v * 3 + 1);
            break;
        case 1:
            return v ^ 0x5a5au;
        case 2: {
            unsigned depth = (unsigned)(v >> 2) & 15;
            v = deep_yield(co, v, depth, depth);
            break;
        }
        default: {
            int target = (int)((v >> 2) % NSLOT), rc;
            uintptr_t o = 0;
            rc = hsafe_coro_resume(&slots[target].co, v >> 6, &o);
            v = hsafe_coro_yield(co, mix(rc, o));
            break;
        }
        }
    }
}

/* Resume slot si from outside; compare with the model. */
static void op_resume(int si, uintptr_t v)
{
    coro_slot *cs = &slots[si];
    uintptr_t out = 0x1234, want = 0x1234;
    int rc, expect;
    switch (cs->status) {
    case HSAFE_CORO_SUSPENDED:
        cs->status = HSAFE_CORO_RUNNING;
        expect = model_resume(si, v, &want);
        cs->status = expect;
        break;
    case HSAFE_CORO_FINISHED: expect = HSAFE_EFINISHED; want = 0; break;   /* errors set *out to 0 */
    default:                  expect = HSAFE_EINVAL; want = 0; break;
    }
    rc = hsafe_coro_resume(&cs->co, v, &out);
    EXPECT_EQ(rc, expect);
    EXPECT_EQ(out, want);
    {
        int i;
        for (i = 0; i < NSLOT; i++) EXPECT_EQ(hsafe_coro_status(&slots[i].co), slots[i].status);
    }
}

static void op_fini(int si)
{
    coro_slot *cs = &slots[si];
    EXPECT_EQ(hsafe_coro_fini(&cs->co), HSAFE_OK);
    EXPECT_EQ(hsafe_coro_status(&cs->co), HSAFE_CORO_DEAD);
    if (cs->held >= 0) helds[cs->held].slot = -1;
    cs->held = -1;
    cs->status = HSAFE_CORO_DEAD;
}

static void op_init(int si, int hi)
{
    coro_slot *cs = &slots[si];
    void *base;
    size_t size;
    if (cs->status != HSAFE_CORO_DEAD) op_fini(si);
    if (hi >= 0 && hi < nheld && helds[hi].slot < 0) {
        base = hsafe_stack_base(helds[hi].s);
        size = hsafe_stack_size(helds[hi].s);
        helds[hi].slot = si;
        cs->held = hi;
    } else {
        base = static_stacks[si];
        size = STATIC_STACK;
        cs->held = -1;
    }
    EXPECT_EQ(hsafe_coro_init(&cs->co, base, size, co_fn, NULL), HSAFE_OK);
    cs->status = HSAFE_CORO_SUSPENDED;
    EXPECT_EQ(hsafe_coro_status(&cs->co), HSAFE_CORO_SUSPENDED);
}

/* ---- pools ------------------------------------------------------------ */

static size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

static void op_pool_init(int pi, unsigned cfgb)
{
    pool_slot *ps = &pools[pi];
    hsafe_pool_config cfg;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    memset(&cfg, 0, sizeof cfg);
    cfg.stack_size = (size_t)16384 << (cfgb & 1);
    cfg.capacity = 1 + ((cfgb >> 1) & 3);
    ps->mem = NULL;
    if (cfgb & 0x10) {
        cfg.memory = pool_memory[pi];
        cfg.memory_size = sizeof pool_memory[pi];
        ps->mem = pool_memory[pi];
        ps->stack_size = round_up(cfg.stack_size, 16);
    } else {
        if (cfgb & 0x20) cfg.flags |= HSAFE_POOL_NO_GUARD;
        if (cfgb & 0x40) cfg.flags |= HSAFE_POOL_DONTDUMP;
        ps->stack_size = round_up(cfg.stack_size, page);
    }
    EXPECT_EQ(hsafe_pool_init(&ps->pool, &cfg), HSAFE_OK);
    ps->live = 1;
    ps->capacity = cfg.capacity;
    ps->created = ps->in_use = 0;
    check_stats(pi);
}

static void forget_released(hsafe_stack *s)
{
    int i;
    for (i = 0; i < nrel; i++)
        if (rels[i].s == s) { rels[i] = rels[--nrel]; i--; }
}

static void op_acquire(int pi)
{
    pool_slot *ps = &pools[pi];
    hsafe_stack *s = NULL;
    int rc, expect;
    if (!ps->live) {
        EXPECT_EQ(hsafe_pool_acquire(&ps->pool, &s), HSAFE_EINVAL);
        return;
    }
    if (nheld == NHELD) return;
    expect = ps->in_use < ps->capacity ? HSAFE_OK : HSAFE_EBUSY;
    rc = hsafe_pool_acquire(&ps->pool, &s);
    EXPECT_EQ(rc, expect);
    if (rc != HSAFE_OK) return;
    if (ps->in_use == ps->created) ps->created++;
    ps->in_use++;
    EXPECT_EQ(hsafe_stack_size(s), ps->stack_size);
    expect_zero(hsafe_stack_base(s), hsafe_stack_size(s), "acquired stack");
    forget_released(s);
    helds[nheld].s = s;
    helds[nheld].pool = pi;
    helds[nheld].slot = -1;
    nheld++;
    check_stats(pi);
}

static void op_dirty(int hi, unsigned len, unsigned val)
{
    unsigned char *lo;
    size_t size, n;
    if (hi >= nheld || helds[hi].slot >= 0) return;
    lo = (unsigned char *)hsafe_stack_base(helds[hi].s);
    size = hsafe_stack_size(helds[hi].s);
    n = ((size_t)len * 257) % size + 1;
    memset(lo + size - n, (int)(val | 1), n);        /* used from the top down */
}

/* Release held stack hi into pool slot `into` (its own or the other). */
static void op_release(int hi, int into)
{
    held h;
    pool_slot *ps;
    int rc, i;
    if (hi >= nheld || helds[hi].slot >= 0) return;
    h = helds[hi];
    ps = &pools[into];
    if (!ps->live) {
        EXPECT_EQ(hsafe_pool_release(&ps->pool, h.s), HSAFE_EINVAL);
        return;
    }
    rc = hsafe_pool_release(&ps->pool, h.s);
    if (into != h.pool) {
        EXPECT_EQ(rc, HSAFE_EOWNER);
        return;
    }
    EXPECT_EQ(rc, HSAFE_OK);
    expect_zero(hsafe_stack_base(h.s), hsafe_stack_size(h.s), "released stack");
    ps->in_use--;
    /* move the last handle into the hole; fix the coroutine that uses it */
    helds[hi] = helds[--nheld];
    for (i = 0; i < NSLOT; i++)
        if (slots[i].held == nheld) slots[i].held = hi;
    if (nrel < NREL) { rels[nrel].s = h.s; rels[nrel].pool = h.pool; nrel++; }
    check_stats(h.pool);
}

static void op_release_again(int ri)
{
    if (ri >= nrel || !pools[rels[ri].pool].live) return;
    EXPECT_EQ(hsafe_pool_release(&pools[rels[ri].pool].pool, rels[ri].s), HSAFE_ESTATE);
    check_stats(rels[ri].pool);
}

static void op_release_garbage(int pi)
{
    hsafe_stack fake;
    memset(&fake, 0, sizeof fake);
    if (!pools[pi].live) return;
    EXPECT_EQ(hsafe_pool_release(&pools[pi].pool, &fake), HSAFE_EINVAL);
    EXPECT_EQ(hsafe_pool_release(&pools[pi].pool, NULL), HSAFE_EINVAL);
    check_stats(pi);
}

static void op_destroy(int pi, unsigned cfgb)
{
    pool_slot *ps = &pools[pi];
    int i;
    if (!ps->live) {
        EXPECT_EQ(hsafe_pool_destroy(&ps->pool), HSAFE_EINVAL);
        op_pool_init(pi, cfgb);
        return;
    }
    if (ps->in_use) {
        EXPECT_EQ(hsafe_pool_destroy(&ps->pool), HSAFE_EINUSE);
        check_stats(pi);
        return;
    }
    EXPECT_EQ(hsafe_pool_destroy(&ps->pool), HSAFE_OK);
    ps->live = 0;
    for (i = 0; i < nrel; i++)
        if (rels[i].pool == pi) { rels[i] = rels[--nrel]; i--; }
    check_stats(pi);                      /* EINVAL now */
}

/* ---- runs ------------------------------------------------------------- */

typedef struct run_args {
    uint32_t seed;
    unsigned depth, mask, ran;
    int panic;
} run_args;

static void count_cleanup(void *arg) { ((run_args *)arg)->ran++; }

static uintptr_t __attribute__((noinline)) run_deep(run_args *ra, unsigned d)
{
    volatile unsigned char frame[128];
    hsafe_cleanup c;
    int pushed = 0;
    unsigned i;
    uintptr_t r;
    for (i = 0; i < sizeof frame; i++) frame[i] = (unsigned char)(ra->seed + i);
    if ((ra->mask >> (d & 7)) & 1) { hsafe_cleanup_push(&c, count_cleanup, ra); pushed = 1; }
    if (d == 0) {
        if (ra->panic) hsafe_panic("p%u", (unsigned)ra->seed);
        r = (uintptr_t)ra->seed * 2654435761u;
    } else {
        r = run_deep(ra, d - 1) + frame[d % sizeof frame];
    }
    if (pushed) hsafe_cleanup_pop(&c, 1);
    return r;
}

static uintptr_t run_fn(void *arg)
{
    run_args *ra = (run_args *)arg;
    return run_deep(ra, ra->depth);
}

static void op_run(int pi, input *in)
{
    pool_slot *ps = &pools[pi];
    run_args ra;
    hsafe_run_info info;
    unsigned b = byte(in), d, want_ran = 0;
    uintptr_t want = 0;
    int rc;
    memset(&ra, 0, sizeof ra);
    ra.seed = (uint32_t)word(in, 4);
    ra.depth = b & 15;
    ra.panic = (b >> 4) & 1;
    ra.mask = byte(in);
    for (d = 0; d <= ra.depth; d++) if ((ra.mask >> (d & 7)) & 1) want_ran++;
    want = (uintptr_t)ra.seed * 2654435761u;
    for (d = 1; d <= ra.depth; d++) want += (unsigned char)(ra.seed + d % 128);
    rc = hsafe_run_ex(&ps->pool, run_fn, &ra, 0, &info);
    if (!ps->live) { EXPECT_EQ(rc, HSAFE_EINVAL); return; }
    if (ps->in_use == ps->capacity) { EXPECT_EQ(rc, HSAFE_EBUSY); EXPECT_EQ(ra.ran, 0); return; }
    if (ps->in_use == ps->created) ps->created++;
    EXPECT_EQ(ra.ran, want_ran);
    if (ra.panic) {
        char msg[32];
        snprintf(msg, sizeof msg, "p%u", (unsigned)ra.seed);
        EXPECT_EQ(rc, HSAFE_EPANIC);
        EXPECT_EQ(info.result, 0);
        if (strcmp(info.message, msg) != 0) FAIL("panic message '%s', expected '%s'", info.message, msg);
    } else {
        EXPECT_EQ(rc, HSAFE_OK);
        EXPECT_EQ(info.result, want);
        EXPECT_EQ(info.message[0], 0);
    }
    if (info.stack_used > ps->stack_size) FAIL("stack_used %zu above %zu", info.stack_used, ps->stack_size);
    check_stats(pi);
}

/* ---- the program ------------------------------------------------------ */

static void reset(void)
{
    memset(pools, 0, sizeof pools);
    memset(helds, 0, sizeof helds);
    memset(rels, 0, sizeof rels);
    memset(slots, 0, sizeof slots);
    nheld = nrel = 0;
    {
        int i;
        for (i = 0; i < NSLOT; i++) slots[i].held = -1;
    }
}

static void finish(void)
{
    int i, pi;
    for (i = 0; i < NSLOT; i++)
        if (slots[i].status != HSAFE_CORO_DEAD) op_fini(i);
    while (nheld) op_release(nheld - 1, helds[nheld - 1].pool);
    for (pi = 0; pi < NPOOL; pi++) {
        pool_slot *ps = &pools[pi];
        hsafe_stack *all[MEM_CAP_MAX + 1];
        size_t n = 0, k;
        if (!ps->live) continue;
        EXPECT_EQ(ps->in_use, 0);
        check_stats(pi);
        /* every stack the pool has created comes back all zero */
        while (n < ps->created && hsafe_pool_acquire(&ps->pool, &all[n]) == HSAFE_OK) {
            expect_zero(hsafe_stack_base(all[n]), hsafe_stack_size(all[n]), "stack at the end");
            n++;
        }
        EXPECT_EQ(n, ps->created);
        ps->in_use = n;
        check_stats(pi);                  /* no stack was created for this */
        for (k = 0; k < n; k++) EXPECT_EQ(hsafe_pool_release(&ps->pool, all[k]), HSAFE_OK);
        ps->in_use = 0;
        check_stats(pi);
        EXPECT_EQ(hsafe_pool_destroy(&ps->pool), HSAFE_OK);
        ps->live = 0;
    }
}

static int trace;   /* replay with FUZZ_HSAFE_TRACE=1: print each operation */

static void run_program(const uint8_t *data, size_t size)
{
    input in;
    int ops = 0;
    in.p = data;
    in.n = size;
    reset();
    op_pool_init(0, byte(&in));
    op_pool_init(1, byte(&in));
    while (more(&in) && ops++ < MAX_OPS) {
        unsigned op = byte(&in), a = byte(&in);
        if (trace) fprintf(stderr, "op %2u arg 0x%02x  held %d released %d in_use %zu/%zu\n",
                           op & 15, a, nheld, nrel, pools[0].in_use, pools[1].in_use);
        switch (op & 15) {
        case 0: case 1: op_acquire((int)(a & 1)); break;
        case 2: op_release((int)(a % NHELD), helds[a % NHELD < (unsigned)nheld ? a % NHELD : 0].pool); break;
        case 3: op_release((int)(a % NHELD), (int)((a >> 3) & 1)); break;       /* maybe the other pool */
        case 4: op_release_again((int)(a % NREL)); break;
        case 5: op_release_garbage((int)(a & 1)); break;
        case 6: op_dirty((int)(a % NHELD), byte(&in), byte(&in)); break;
        case 7: op_destroy((int)(a & 1), byte(&in)); break;
        case 8: op_init((int)(a % NSLOT), (a >> 2) & 1 ? -1 : (int)((a >> 3) % NHELD)); break;
        case 9: case 10: case 11:
            op_resume((int)(a % NSLOT), word(&in, 1 + ((a >> 2) & 7))); break;
        case 12: op_fini((int)(a % NSLOT)); break;
        case 13: case 14: op_run((int)(a & 1), &in); break;
        default: check_stats((int)(a & 1)); break;
        }
    }
    finish();
}

#if defined(HSAFE_FUZZ_MAIN)
#include <dirent.h>
#include <sys/stat.h>

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    static uint8_t buf[1 << 16];
    size_t n;
    if (!f) { perror(path); return 1; }
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    run_program(buf, n);
    return 0;
}

int main(int argc, char **argv)
{
    int i, files = 0, bad = 0;
    printf("# fuzz_hsafe replay\n# %s\n", hsafe_config_string());
    trace = getenv("FUZZ_HSAFE_TRACE") != NULL;
    for (i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) { perror(argv[i]); bad++; continue; }
        if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;
            char path[4096];
            while (d && (e = readdir(d)) != NULL) {
                if (e->d_name[0] == '.') continue;
                snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
                bad += run_file(path);
                files++;
            }
            if (d) closedir(d);
        } else {
            bad += run_file(argv[i]);
            files++;
        }
    }
    printf("%d inputs replayed\n", files);
    if (files == 0 || bad) return 1;
    printf("ok\n");
    return 0;
}
#else
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run_program(data, size);
    return 0;
}
#endif
