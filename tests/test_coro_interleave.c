/* test_coro_interleave: 200 coroutines on adjacent caller-given stacks,
 * resumed in a pseudo-random order (fixed seed), each keep their own state.
 *
 * Proves: every coroutine's locals (an accumulator, a step counter, a
 * history array and a canary block, all in its own frame) survive any
 * interleaving of switches with the 199 others; values passed in and out
 * match a model computed in main; coroutines resumed from inside another
 * coroutine (nested, A resumes B) behave the same as from main; a finished
 * coroutine answers HSAFE_EFINISHED; a stack re-used by a new coroutine (3
 * generations per slot) while its neighbours sit suspended disturbs nobody.
 * Deterministic: xorshift64 with a fixed seed, no timing.
 */
#ifndef HSAFE_TEST_SHARED_IMPL
#define HSAFE_IMPLEMENTATION
#endif
#include "hsafe.h"
#include "testutil.h"

#define N_CORO      200
#define STACK_SIZE  (32 * 1024)
#define GENERATIONS 3

/* ---- the computation, shared by the coroutine and the model ------------ */

static uint64_t mix(uint64_t acc, uint64_t in)
{
    acc ^= in + 0x9e3779b97f4a7c15ull + (acc << 6) + (acc >> 2);
    acc *= 0xff51afd7ed558ccdull;
    return acc ^ (acc >> 29);
}

static uint64_t seed_of(unsigned id, unsigned gen) { return ((uint64_t)id << 32) ^ (gen * 0x100000001b3ull) ^ 0xabcdefull; }
static unsigned limit_of(unsigned id, unsigned gen) { return 3 + (id * 7 + gen * 13) % 29; }

static uint64_t final_of(uint64_t acc, const uint64_t hist[8])
{
    uint64_t f = acc;
    unsigned k;
    for (k = 0; k < 8; k++) f ^= hist[k] * (k + 1);
    return f;
}

/* ---- the coroutines ---------------------------------------------------- */

typedef struct slot {
    hsafe_coro co;
    unsigned id, gen;
} slot;

static slot slots[N_CORO];
static unsigned char *stacks;

/* A nested resume request: the coroutine `by` resumes `target` with `in`
 * right after it wakes, and mixes what it got into its accumulator. */
static struct { int by, target; uintptr_t in; int rc; uintptr_t out; } nest = { -1, -1, 0, 0, 0 };
static int canary_bad, nest_misrouted;

static unsigned char canary_byte(unsigned id, unsigned gen, unsigned k) { return (unsigned char)(id * 31 + gen * 7 + k * 13 + 1); }

static uintptr_t worker(hsafe_coro *co, uintptr_t first)
{
    slot *me = (slot *)hsafe_coro_user(co);
    unsigned id = me->id, gen = me->gen, limit = limit_of(id, gen), step = 0, k;
    uint64_t acc = seed_of(id, gen) ^ first, hist[8];
    volatile unsigned char canary[96];
    for (k = 0; k < 8; k++) hist[k] = 0;
    for (k = 0; k < sizeof canary; k++) canary[k] = canary_byte(id, gen, k);
    for (;;) {
        uintptr_t in, o = 0;
        hist[step % 8] = acc;
        step++;
        if (step >= limit) break;
        in = hsafe_coro_yield(co, (uintptr_t)acc);
        for (k = 0; k < sizeof canary; k++)
            if (canary[k] != canary_byte(id, gen, k)) { canary_bad++; break; }
        if (me->id != id || me->gen != gen) canary_bad++;
        if (nest.by == (int)id) {
            nest.by = -1;
            nest.rc = hsafe_coro_resume(&slots[nest.target].co, nest.in, &nest.out);
            o = nest.out;
        } else if (nest.by >= 0) {
            nest_misrouted++;
        }
        acc = mix(acc, in) ^ o;
    }
    return (uintptr_t)final_of(acc, hist);
}

/* ---- the model --------------------------------------------------------- */

typedef struct model {
    uint64_t acc, hist[8];
    unsigned step, limit, gen;
    int finished;
} model;

static model m[N_CORO];

/* What resuming coroutine i with `in` (after a nested resume that produced
 * `o`) must return; sets *status. */
static uintptr_t model_resume(unsigned i, uintptr_t in, uintptr_t o, int *status)
{
    model *s = &m[i];
    if (s->step == 0) s->acc = seed_of(i, s->gen) ^ in;
    else s->acc = mix(s->acc, in) ^ o;
    s->hist[s->step % 8] = s->acc;
    s->step++;
    if (s->step >= s->limit) {
        s->finished = 1;
        *status = HSAFE_CORO_FINISHED;
        return (uintptr_t)final_of(s->acc, s->hist);
    }
    *status = HSAFE_CORO_SUSPENDED;
    return (uintptr_t)s->acc;
}

static void start(unsigned i, unsigned gen)
{
    memset(&m[i], 0, sizeof m[i]);
    m[i].gen = gen;
    m[i].limit = limit_of(i, gen);
    slots[i].id = i;
    slots[i].gen = gen;
    CHECK_EQ(hsafe_coro_init(&slots[i].co, stacks + (size_t)i * STACK_SIZE, STACK_SIZE,
                             worker, &slots[i]), HSAFE_OK);
}

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static unsigned live[N_CORO], nlive;
static long finished;

/* id finished (as the model says): check it, then start its next
 * generation on the same stack or drop it from the live list. */
static void on_finished(unsigned id)
{
    unsigned k;
    finished++;
    CHECK_EQ(hsafe_coro_status(&slots[id].co), HSAFE_CORO_FINISHED);
    CHECK_EQ(hsafe_coro_resume(&slots[id].co, 0, NULL), HSAFE_EFINISHED);
    CHECK_EQ(hsafe_coro_fini(&slots[id].co), HSAFE_OK);
    if (m[id].gen + 1 < GENERATIONS) { start(id, m[id].gen + 1); return; }
    for (k = 0; k < nlive; k++)
        if (live[k] == id) { live[k] = live[--nlive]; return; }
    CHECK(0);
}

int main(void)
{
    long resumes = 0, nested = 0, mismatches = 0;
    unsigned i;
    T_BEGIN("test_coro_interleave");
#if !defined(_WIN32)
    (void)t_in_child;   /* testutil.h helper this test does not need */
#endif

    stacks = (unsigned char *)malloc((size_t)N_CORO * STACK_SIZE);
    if (!stacks) { fprintf(stderr, "malloc failed\n"); return 1; }
    memset(stacks, 0x5a, (size_t)N_CORO * STACK_SIZE);   /* garbage is fine */
    for (i = 0; i < N_CORO; i++) { start(i, 0); live[i] = i; }
    nlive = N_CORO;

    while (nlive) {
        unsigned pick = (unsigned)(next_rand() % nlive), id = live[pick];
        uintptr_t in = (uintptr_t)next_rand(), out = 0, want, o = 0;
        int status = 0, tstatus = 0, rc, target = -1;
        /* one resume in six (after the first) asks the coroutine to resume
         * another one from inside itself */
        if (m[id].step > 0 && nlive > 1 && next_rand() % 6 == 0) {
            unsigned tpick = (unsigned)(next_rand() % (nlive - 1));
            uintptr_t tin = (uintptr_t)next_rand(), twant;
            target = (int)live[tpick >= pick ? tpick + 1 : tpick];
            twant = model_resume((unsigned)target, tin, 0, &tstatus);
            nest.by = (int)id;
            nest.target = target;
            nest.in = tin;
            nest.rc = 0;
            nest.out = 0;
            rc = hsafe_coro_resume(&slots[id].co, in, &out);
            resumes += 2;
            nested++;
            if (nest.by != -1 || nest.rc != tstatus || nest.out != twant) mismatches++;
            nest.by = -1;
            o = twant;
        } else {
            rc = hsafe_coro_resume(&slots[id].co, in, &out);
            resumes++;
        }
        want = model_resume(id, in, o, &status);
        if (rc != status || out != want) mismatches++;
        if (target >= 0 && tstatus == HSAFE_CORO_FINISHED) on_finished((unsigned)target);
        if (status == HSAFE_CORO_FINISHED) on_finished(id);
    }

    printf("# %ld resumes (%ld nested), %ld coroutines finished\n", resumes, nested, finished);
    CHECK_EQ(mismatches, 0);
    CHECK_EQ(canary_bad, 0);
    CHECK_EQ(nest_misrouted, 0);
    CHECK_EQ(finished, (long)N_CORO * GENERATIONS);
    CHECK(nested > 100);
    for (i = 0; i < N_CORO; i++) {
        CHECK_EQ(hsafe_coro_status(&slots[i].co), HSAFE_CORO_DEAD);
        CHECK_EQ(m[i].gen, GENERATIONS - 1);
    }
    free(stacks);
    T_END();
}
