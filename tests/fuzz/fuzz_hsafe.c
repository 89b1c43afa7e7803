/* fuzz_hsafe: bytes -> a program of operations on coroutines, pools,
 * sanitized runs and scoped tasks (scheduler programs), each checked
 * against a small reference model.
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
 *                number of cleanups run, HSAFE_EBUSY on an exhausted pool;
 *   tasks        a hsafe_loop_run whose tasks read their own operations
 *                (spawn, yield, sleep, scopes with deadlines, join, cancel,
 *                shield, return, panic, cleanups): see "scheduler programs"
 *                below for the operations and what the model checks.
 * At the end every coroutine is finalised, every stack released, every
 * stack each pool created acquired once more (all zero), and the pools are
 * destroyed.
 */
#ifndef HSAFE_TEST_SHARED_IMPL
#define HSAFE_IMPLEMENTATION
#endif
#include "hsafe.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>   /* sysconf */

#define NPOOL 2
#define NHELD 8
#define NREL 8
#define NSLOT 3
#define MAX_OPS 256
#define STATIC_STACK (64 * 1024)
#define MEM_STACK_MAX (32 * 1024)
#define MEM_CAP_MAX 4
#define MEM_BYTES (MEM_CAP_MAX * (MEM_STACK_MAX + 128) + 64)

static int trace;   /* replay with FUZZ_HSAFE_TRACE=1: print each operation */

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

/* ---- scheduler programs (op 15 with bit 7 of its argument set) ---------- */
/* A hsafe_loop_run on a pool of its own (capacity 2-9, 64 KiB stacks).
 * Every running task reads its next operation from the input (so the
 * program is the input as the scheduler interleaves it: deterministic for
 * one build, replayable), until the program's budget or the input runs
 * out; then every task returns 0, joining its open scopes on the way.
 * Task operations (one byte, low 4 bits, plus one argument byte a):
 *   0,11 spawn into the innermost open scope (a&0x80: into the task's own
 *        scope, beside itself); 1,12 yield; 2,13 sleep (a&3: 3 for 20 us; 2 in
 *        a scope with a deadline, unshielded: until 1 s past it; else
 *        long past);
 *        3 open a scope (a&1 collect-all; (a>>1)&3: no deadline, one long
 *        past, or 50-400 us from now);
 *        4 close the innermost level (join, or end the shield);
 *        5,14 cancel (a&1: the innermost own scope, else the task's own
 *        scope); 6 shield (a&3: grace forever, now, 100 or 200 us);
 *        7,15 return (a&3: 0, 3, a failure -(100+id), HSAFE_ECANCELED;
 *        open levels are closed first); 8 panic; 9 push a cleanup;
 *        10 pop the newest cleanup (a&1: run it).
 * The model runs in lock step with the real loop (the program is one
 * thread, so the model sees every event in the order it happened): it
 * keeps each task's and scope's cancel reason (level-triggered,
 * propagation to children and to a cancelled task's scopes opened outside
 * a shield, fail-fast, deadlines, shields), each scope's live children and
 * the result join must return, and each task's cleanups. Checked:
 *   - every blocking call's result (yield, sleep: ECANCELED exactly when
 *     the model says cancelled; shields and graces), spawn (EBUSY exactly
 *     when the pool's capacity is used by live tasks), join (first failure,
 *     ETIMEDOUT, ECANCELED or 0, and hsafe_scope_failed);
 *   - the cancel reason of every open scope and live task, at every step
 *     (a deadline's expiry and a panicking task's closing of its scopes
 *     are the only changes the model takes from the loop: it checks that
 *     the deadline had passed and that the task is panicking);
 *   - every cleanup ran exactly once, newest first, after the task's
 *     scopes were joined, the task's anchor (registered first) last;
 *   - no task outlived its scope: a task ends while its scope is open, and
 *     when join returns every child is DONE with the model's status,
 *     cancel reason and panic message;
 *   - the pool: live tasks == stacks in use at every step; after every
 *     join and at the end every free stack is all zero (acquired through
 *     the public API, checked, released). */

#define NTASK 24
#define NSCOPE 48
#define MAXLVL 4
#define MAXCL 4                         /* cleanups besides the anchor */
#define SCHED_STACK (64 * 1024)

typedef struct clarg { int task, k; } clarg;

typedef struct mtask {
    hsafe_task t;                       /* the real record (unused for the root) */
    hsafe_cleanup cl[MAXCL + 1];        /* [MAXCL]: the anchor */
    clarg carg[MAXCL + 1];
    int state;                          /* 0 unused, 1 live, 2 ended */
    int scope;                          /* model scope it was spawned into, -1: root */
    int cancel, shield, panicked, ret, status, popping;
    int ncl, ran[MAXCL];                /* cleanups registered (slots 0..ncl-1) */
    hsafe_time grace[MAXLVL + 1];       /* effective grace per shield depth */
    int nlvl, lvl[MAXLVL];              /* open levels: scope index, or -1 (shield) */
} mtask;

typedef struct mscope {
    hsafe_scope *real;                  /* while open */
    int owner, state;                   /* 1 open, 2 joined */
    int shielded, collect, timed, depth;
    int cancel, result, live, first_failed;
    hsafe_time deadline;
} mscope;

static struct {
    input *in;
    int budget, ntk, nsc, live;
    size_t cap;
    hsafe_pool *pool;               /* pools[cap - 2] */
    hsafe_pool pools[8];            /* one per capacity, kept across inputs
                                       (stacks are created once) */
    int pool_live[8];
    hsafe_loop loop;
    mtask tk[NTASK];
    mscope sc[NSCOPE];
    char names[NTASK][8];
} S;

static const hsafe_task *real_task(int i) { return i ? &S.tk[i].t : hsafe_loop_root(&S.loop); }
static int cancelled_eff(int i) { return S.tk[i].cancel && !S.tk[i].shield; }

static void m_cancel_scope(int j, int reason);

static void m_cancel_task(int i, int reason)
{
    mtask *m = &S.tk[i];
    int l;
    if (m->cancel) return;
    m->cancel = reason;
    for (l = m->nlvl - 1; l >= 0; l--)
        if (m->lvl[l] >= 0 && !S.sc[m->lvl[l]].shielded) m_cancel_scope(m->lvl[l], HSAFE_CANCEL_PARENT);
}

static void m_cancel_scope(int j, int reason)
{
    mscope *s = &S.sc[j];
    int i;
    if (s->cancel || s->state != 1) return;
    s->cancel = reason;
    if (reason == HSAFE_CANCEL_DEADLINE) {
        if (!s->result) s->result = HSAFE_ETIMEDOUT;
    } else if (reason != HSAFE_CANCEL_SIBLING && s->live && !s->result) {
        s->result = HSAFE_ECANCELED;
    }
    for (i = 1; i < S.ntk; i++)
        if (S.tk[i].state == 1 && S.tk[i].scope == j) m_cancel_task(i, reason);
}

/* All zero: every stack the pool has free (acquire each, check, release
 * them; no task switch in between, so the loop sees nothing). */
static void sched_check_free_stacks(void)
{
    hsafe_stack *all[NTASK];
    hsafe_pool_stats st;
    size_t n, k;
    EXPECT_EQ(hsafe_pool_get_stats(S.pool, &st), HSAFE_OK);
    EXPECT_EQ(st.in_use, (size_t)S.live);
    for (n = 0; n < st.free; n++) {
        EXPECT_EQ(hsafe_pool_acquire(S.pool, &all[n]), HSAFE_OK);
        expect_zero(hsafe_stack_base(all[n]), hsafe_stack_size(all[n]), "free task stack");
    }
    for (k = 0; k < n; k++) EXPECT_EQ(hsafe_pool_release(S.pool, all[k]), HSAFE_OK);
    EXPECT_EQ(hsafe_pool_get_stats(S.pool, &st), HSAFE_OK);
    EXPECT_EQ(st.created, n + (size_t)S.live);        /* nothing created for the check */
}

/* Take in the changes the model cannot foresee (a deadline expired, a
 * panicking task closed its next scope), deepest scope first, then check
 * every open scope's and live task's cancel reason. */
static void sched_sync(int in_task_code)
{
    int j, i;
    for (;;) {
        int best = -1, breason = 0;
        for (j = 0; j < S.nsc; j++) {
            mscope *s = &S.sc[j];
            int r;
            if (s->state != 1 || s->cancel) continue;
            r = hsafe_scope_cancel_reason(s->real);
            if (!r) continue;
            if (r == HSAFE_CANCEL_DEADLINE && s->timed) {
                if (hsafe_now() < s->deadline) FAIL("scope %d cancelled by its deadline before it", j);
            } else if (!(r == HSAFE_CANCEL_PARENT && S.tk[s->owner].panicked)) {
                continue;       /* maybe explained by another's propagation; checked below */
            }
            if (best < 0 || s->depth > S.sc[best].depth) { best = j; breason = r; }
        }
        if (best < 0) break;
        m_cancel_scope(best, breason);
    }
    for (j = 0; j < S.nsc; j++)
        if (S.sc[j].state == 1) EXPECT_EQ(hsafe_scope_cancel_reason(S.sc[j].real), S.sc[j].cancel);
    for (i = 0; i < S.ntk; i++)
        if (S.tk[i].state == 1) EXPECT_EQ(hsafe_task_cancel_reason(real_task(i)), S.tk[i].cancel);
    if (in_task_code) {
        hsafe_pool_stats st;
        EXPECT_EQ(hsafe_pool_get_stats(S.pool, &st), HSAFE_OK);
        EXPECT_EQ(st.in_use, (size_t)S.live);
    }
}

/* A child ended (its anchor ran; the loop releases it right after). */
static void m_task_end(int i)
{
    mtask *m = &S.tk[i];
    mscope *s;
    int failed;
    m->state = 2;
    S.live--;
    if (m->scope < 0) return;
    s = &S.sc[m->scope];
    if (s->state != 1) FAIL("task %d ended after its scope %d was joined", i, m->scope);
    s->live--;
    failed = m->status < 0 && !(m->status == HSAFE_ECANCELED && s->cancel);
    if (failed) {
        if (s->first_failed < 0) s->first_failed = i;
        if (!s->result) s->result = m->status;
        if (!s->collect) m_cancel_scope(m->scope, HSAFE_CANCEL_SIBLING);
    }
}

static void on_cleanup(void *p)
{
    const clarg *c = (const clarg *)p;
    mtask *m = &S.tk[c->task];
    int l;
    if (c->k == MAXCL && m->state != 1) FAIL("task %d: anchor cleanup ran twice", c->task);
    if (c->k < MAXCL && m->ran[c->k]) FAIL("task %d: cleanup %d ran twice", c->task, c->k);
    sched_sync(0);
    /* the task's scopes were cancelled and joined before any cleanup */
    if (!m->popping)
        for (l = 0; l < m->nlvl; l++)
            if (m->lvl[l] >= 0 && S.sc[m->lvl[l]].live)
                FAIL("task %d: cleanup ran with %d children of scope %d alive", c->task, S.sc[m->lvl[l]].live, m->lvl[l]);
    if (c->k == MAXCL) {                /* the anchor: the task ends */
        if (m->ncl) FAIL("task %d: anchor cleanup ran before %d newer ones", c->task, m->ncl);
        m->status = m->panicked ? HSAFE_EPANIC : m->ret;
        for (l = 0; l < m->nlvl; l++)   /* a panic closed them */
            if (m->lvl[l] >= 0) {
                mscope *s = &S.sc[m->lvl[l]];
                if (s->live) FAIL("task %d ends with %d children of scope %d alive", c->task, s->live, m->lvl[l]);
                s->state = 2;
                s->real = NULL;
            }
        m->nlvl = 0;
        m_task_end(c->task);
        return;
    }
    if (!m->ncl || c->k != m->ncl - 1) FAIL("task %d: cleanup %d ran, newest registered is %d", c->task, c->k, m->ncl - 1);
    if (++m->ran[c->k] != 1) FAIL("task %d: cleanup %d ran %d times", c->task, c->k, m->ran[c->k]);
    m->ncl--;
}

static int next_op(int i, unsigned *a)
{
    unsigned op;
    if (S.budget <= 0 || !more(S.in)) { *a = 0; return 7; }   /* return 0 */
    S.budget--;
    op = byte(S.in) & 15;
    *a = byte(S.in);
    if (trace) fprintf(stderr, "  task %d op %2u arg 0x%02x (cancel %d shield %d levels %d)\n",
                       i, op, *a, S.tk[i].cancel, S.tk[i].shield, S.tk[i].nlvl);
    return (int)op;
}

static int task_fn(void *arg);

static int innermost_scope(const mtask *m)
{
    int l;
    for (l = m->nlvl - 1; l >= 0; l--)
        if (m->lvl[l] >= 0) return m->lvl[l];
    return -1;
}

static void t_spawn(int i, unsigned a)
{
    mtask *m = &S.tk[i], *c;
    int j = (a & 0x80) ? m->scope : innermost_scope(m), ci, rc, want;
    if (j < 0) j = m->scope;
    if (j < 0 || S.ntk == NTASK) return;
    ci = S.ntk;
    c = &S.tk[ci];
    want = (size_t)S.live < S.cap ? HSAFE_OK : HSAFE_EBUSY;
    rc = hsafe_scope_spawn(S.sc[j].real, &c->t, task_fn, (void *)(intptr_t)ci, S.names[ci]);
    EXPECT_EQ(rc, want);
    if (rc) return;
    S.ntk++;
    c->state = 1;
    c->scope = j;
    c->cancel = S.sc[j].cancel;         /* spawned into a cancelled scope */
    S.sc[j].live++;
    S.live++;
    EXPECT_EQ(hsafe_task_state(&c->t), HSAFE_TASK_READY);
}

static void t_yield(int i)
{
    int before = cancelled_eff(i), rc = hsafe_yield();
    sched_sync(1);
    EXPECT_EQ(rc, before || cancelled_eff(i) ? HSAFE_ECANCELED : HSAFE_OK);
}

static void t_sleep(int i, unsigned a)
{
    mtask *m = &S.tk[i];
    int before = cancelled_eff(i), rc, past = 0;
    hsafe_time dl = (a & 3) == 3 ? hsafe_after(20000) : 1, eff = dl;    /* an idle loop waits 1 ms */
    /* a&3 == 2 in a scope with a deadline: sleep until 1 s past it (the
     * scope's timer comes first, so its cancel must end the sleep; the
     * loop takes deadlines in between passes, so one that passed during
     * this pass has not cancelled anything yet: a sleep called after its
     * own deadline may return 0, hence the second) */
    if ((a & 3) == 2 && m->scope >= 0 && S.sc[m->scope].timed && !m->shield) {
        dl = S.sc[m->scope].deadline + 1000000000;
        eff = dl;
        past = hsafe_now() < dl;
    }
    if (m->shield && m->grace[m->shield] < dl) eff = m->grace[m->shield];
    rc = hsafe_sleep_until(dl);
    sched_sync(1);
    if (before) EXPECT_EQ(rc, HSAFE_ECANCELED);
    else if (m->shield) EXPECT_EQ(rc, eff == dl ? HSAFE_OK : HSAFE_ETIMEDOUT);
    else if (past) EXPECT_EQ(rc, HSAFE_ECANCELED);
    else if (rc != HSAFE_OK && !(rc == HSAFE_ECANCELED && cancelled_eff(i)))
        FAIL("task %d: sleep returned %d (cancelled %d)", i, rc, cancelled_eff(i));
}

static void t_cancel(int i, unsigned a)
{
    mtask *m = &S.tk[i];
    int j = (a & 1) ? innermost_scope(m) : m->scope;
    if (j < 0) return;
    EXPECT_EQ(hsafe_scope_cancel(S.sc[j].real), HSAFE_OK);
    m_cancel_scope(j, HSAFE_CANCEL_EXPLICIT);
    sched_sync(1);
}

static void t_push(int i)
{
    mtask *m = &S.tk[i];
    int k = m->ncl;
    if (k == MAXCL) return;
    m->ran[k] = 0;
    m->ncl++;
    hsafe_cleanup_push(&m->cl[k], on_cleanup, &m->carg[k]);
}

static void t_pop(int i, unsigned a)
{
    mtask *m = &S.tk[i];
    int k = m->ncl - 1, run = (int)(a & 1);
    if (k < 0) return;
    m->popping = 1;
    hsafe_cleanup_pop(&m->cl[k], run);
    m->popping = 0;
    if (!run) m->ncl--;
    EXPECT_EQ(m->ran[k], run);
    EXPECT_EQ(m->ncl, k);
}

static int t_level(int i, int depth);

/* Open a scope at level `depth`, run the task's operations inside it,
 * join it; returns what the inner level returned (1: the task returns). */
static int t_scope(int i, int depth, unsigned a)
{
    mtask *m = &S.tk[i];
    hsafe_scope s;
    mscope *ms;
    int j, r, rc, want, c;
    unsigned dk = (a >> 1) & 3;
    if (S.nsc == NSCOPE) return 0;
    j = S.nsc++;
    ms = &S.sc[j];
    memset(ms, 0, sizeof *ms);
    ms->real = &s;
    ms->owner = i;
    ms->state = 1;
    ms->shielded = m->shield > 0;
    ms->collect = (int)(a & 1);
    ms->first_failed = -1;
    ms->depth = (m->scope >= 0 ? S.sc[m->scope].depth + MAXLVL + 1 : 0) + depth;
    ms->deadline = dk == 0 ? HSAFE_FOREVER : dk == 1 ? 1 : hsafe_after((int64_t)(((a >> 3) & 7) + 1) * 50000 + j);
    ms->timed = dk >= 2;
    EXPECT_EQ(hsafe_scope_open(&s, S.names[i], ms->collect ? HSAFE_SCOPE_COLLECT_ALL : 0, ms->deadline), HSAFE_OK);
    if (cancelled_eff(i)) m_cancel_scope(j, HSAFE_CANCEL_PARENT);
    if (dk == 1) m_cancel_scope(j, HSAFE_CANCEL_DEADLINE);
    m->lvl[depth] = j;
    m->nlvl = depth + 1;
    sched_sync(1);
    r = t_level(i, depth + 1);
    sched_sync(1);
    if (cancelled_eff(i) && !ms->shielded && ms->live) m_cancel_scope(j, HSAFE_CANCEL_PARENT);
    rc = hsafe_scope_join(&s);
    sched_sync(1);
    want = ms->result;
    if (!want && cancelled_eff(i) && !ms->shielded) want = HSAFE_ECANCELED;
    EXPECT_EQ(rc, want);
    EXPECT_EQ(ms->live, 0);
    if (hsafe_scope_failed(&s) != (ms->first_failed >= 0 ? &S.tk[ms->first_failed].t : NULL))
        FAIL("scope %d: hsafe_scope_failed is not task %d", j, ms->first_failed);
    for (c = 1; c < S.ntk; c++) {
        const mtask *ch = &S.tk[c];
        char msg[16];
        if (ch->scope != j) continue;
        if (ch->state != 2) FAIL("scope %d joined while its task %d lives", j, c);
        EXPECT_EQ(hsafe_task_state(&ch->t), HSAFE_TASK_DONE);
        EXPECT_EQ(hsafe_task_status(&ch->t), ch->status);
        EXPECT_EQ(hsafe_task_cancel_reason(&ch->t), ch->cancel);
        msg[0] = 0;
        if (ch->panicked) snprintf(msg, sizeof msg, "t%d", c);
        if (strcmp(hsafe_task_message(&ch->t), msg) != 0)
            FAIL("task %d: message '%s', expected '%s'", c, hsafe_task_message(&ch->t), msg);
    }
    ms->state = 2;
    ms->real = NULL;
    m->nlvl = depth;
    sched_check_free_stacks();
    return r;
}

static int t_shield(int i, int depth, unsigned a)
{
    mtask *m = &S.tk[i];
    hsafe_shield sh;
    hsafe_time g;
    int r;
    switch (a & 3) {
    case 0: g = HSAFE_FOREVER; break;
    case 1: g = hsafe_now(); break;
    default: g = hsafe_after((int64_t)(a & 3) * 100000); break;
    }
    EXPECT_EQ(hsafe_shield_begin(&sh, g), HSAFE_OK);
    m->shield++;
    m->grace[m->shield] = (m->shield == 1 || g < m->grace[m->shield - 1]) ? g : m->grace[m->shield - 1];
    m->lvl[depth] = -1;
    m->nlvl = depth + 1;
    r = t_level(i, depth + 1);
    hsafe_shield_end(&sh);
    m->shield--;
    m->nlvl = depth;
    sched_sync(1);
    return r;
}

/* The task's operations at nesting level `depth`: returns 0 when the level
 * is closed, 1 when the task returns (every level closes on the way). */
static int t_level(int i, int depth)
{
    mtask *m = &S.tk[i];
    for (;;) {
        unsigned a;
        int op = next_op(i, &a);
        sched_sync(1);
        switch (op) {
        case 0: case 11: t_spawn(i, a); break;
        case 1: case 12: t_yield(i); break;
        case 2: case 13: t_sleep(i, a); break;
        case 3: if (depth < MAXLVL && t_scope(i, depth, a)) return 1; break;
        case 4: if (depth > 0) return 0; break;
        case 5: case 14: t_cancel(i, a); break;
        case 6: if (depth < MAXLVL && t_shield(i, depth, a)) return 1; break;
        case 7: case 15: {
            static const int st[4] = { 0, 3, 0, HSAFE_ECANCELED };
            m->ret = (a & 3) == 2 ? -(100 + i) : st[a & 3];
            return 1;
        }
        case 8:
            m->panicked = 1;
            hsafe_panic("t%d", i);
        case 9: t_push(i); break;
        default: t_pop(i, a); break;
        }
    }
}

static int task_fn(void *arg)
{
    int i = (int)(intptr_t)arg;
    mtask *m = &S.tk[i];
    EXPECT_EQ(m->state, 1);
    sched_sync(1);
    m->carg[MAXCL].task = i;
    m->carg[MAXCL].k = MAXCL;
    hsafe_cleanup_push(&m->cl[MAXCL], on_cleanup, &m->carg[MAXCL]);
    t_level(i, 0);
    return m->ret;
}

static void op_sched(input *in, unsigned a)
{
    hsafe_pool_config pc;
    hsafe_loop_config lc;
    hsafe_pool_stats st;
    int i, rc;
    memset(&S.tk, 0, sizeof S.tk);     /* the pools stay */
    S.in = in;
    S.budget = 16 + 8 * (int)((a >> 3) & 15);
    S.cap = 2 + (a & 7);
    S.ntk = 1;
    S.nsc = 0;
    S.live = 1;
    for (i = 0; i < NTASK; i++) {
        snprintf(S.names[i], sizeof S.names[i], "t%d", i);
        S.tk[i].carg[0].task = S.tk[i].carg[1].task = S.tk[i].carg[2].task = S.tk[i].carg[3].task = i;
        S.tk[i].carg[0].k = 0; S.tk[i].carg[1].k = 1; S.tk[i].carg[2].k = 2; S.tk[i].carg[3].k = 3;
    }
    S.tk[0].state = 1;
    S.tk[0].scope = -1;
    S.pool = &S.pools[S.cap - 2];
    if (!S.pool_live[S.cap - 2]) {
        memset(&pc, 0, sizeof pc);
        pc.stack_size = SCHED_STACK;
        pc.capacity = S.cap;
        EXPECT_EQ(hsafe_pool_init(S.pool, &pc), HSAFE_OK);
        S.pool_live[S.cap - 2] = 1;
    }
    EXPECT_EQ(hsafe_pool_get_stats(S.pool, &st), HSAFE_OK);
    EXPECT_EQ(st.in_use, 0);
    memset(&lc, 0, sizeof lc);
    lc.pool = S.pool;
    EXPECT_EQ(hsafe_loop_init(&S.loop, &lc), HSAFE_OK);
    if (trace) fprintf(stderr, "sched: capacity %zu budget %d\n", S.cap, S.budget);
    rc = hsafe_loop_run(&S.loop, task_fn, (void *)0, "t0");
    EXPECT_EQ(S.tk[0].state, 2);
    EXPECT_EQ(rc, S.tk[0].status);
    EXPECT_EQ(hsafe_task_state(hsafe_loop_root(&S.loop)), HSAFE_TASK_DONE);
    for (i = 0; i < S.ntk; i++)
        if (S.tk[i].state != 2) FAIL("task %d outlived the loop", i);
    EXPECT_EQ(S.live, 0);
    EXPECT_EQ(hsafe_pool_get_stats(S.pool, &st), HSAFE_OK);
    EXPECT_EQ(st.in_use, 0);
    sched_check_free_stacks();
    EXPECT_EQ(hsafe_loop_fini(&S.loop), HSAFE_OK);
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
        default:
            if (a & 0x80) op_sched(&in, a);
            else check_stats((int)(a & 1));
            break;
        }
    }
    finish();
}

#define FUZZ_NAME "fuzz_hsafe"
#define FUZZ_TRACE_ENV "FUZZ_HSAFE_TRACE"
#include "fuzz_main.h"
