/* test_chan_storm: producers and consumers on one loop, under random
 * cancellations and deadlines: every value sent is received exactly once,
 * and a value whose send reported failure is never received.
 *
 * Setup, per round (channels without and with HSAFE_CHAN_SHARED; seeds
 * printed, HSAFE_TEST_SEED=<n> replays one):
 *   - channel A buffered (4), channel B unbuffered;
 *   - PRODUCERS producer slots: each runs a worker in a scope of its own
 *     and restarts it while it has values left. A worker sends its values
 *     (p * VALUES + k, in order) on A, on B, or by select over both, each
 *     try with a random deadline (past = poll, a few hundred us, forever);
 *     it marks a value sent only when the call returned 0 (select: the
 *     index and rc 0), and tries the same value again after a timeout;
 *   - CONSUMERS consumer slots: the same, receiving by recv on A or B or
 *     select over both, with random deadlines; every value received counts
 *     once in recv_count[]; a worker is done when both channels reported
 *     HSAFE_ECLOSED;
 *   - a chaos task cancels the scope of a random slot's current worker
 *     after a yield (7 times in 8) or a sleep of up to 300 us, so workers
 *     are cancelled while waiting, while ready, and between calls;
 *   - when every value was sent, the root closes A and B.
 * Checks: every value was sent exactly once (sent[] is set once), each
 * received exactly once (recv_count == 1), and the channels are empty.
 * A lost cancel (a send reporting ECANCELED although a receiver got the
 * value) shows as a count of 2, since the value is sent again; a lost
 * value (a receiver cancelled after the value was handed to it) as 0.
 */
#ifndef HSAFE_TEST_SHARED_IMPL
#define HSAFE_IMPLEMENTATION
#endif
#include "hsafe.h"
#include "testutil.h"
#include "taskutil.h"

#define PRODUCERS 6
#define CONSUMERS 4
/* values per producer: 1000 natively, 300 under an emulator, ASan or
 * valgrind (seen at run time) */
#define MAX_VALUES 1000
#define TOTAL (PRODUCERS * VALUES)
#if defined(HSAFE_TEST_EMULATED) || defined(HSAFE__ASAN)
static int VALUES = 300;
#else
static int VALUES = MAX_VALUES;
#endif

static hsafe_chan A, B;
static int abuf[4];
static unsigned char sent[PRODUCERS * MAX_VALUES];
static unsigned char recv_count[PRODUCERS * MAX_VALUES];
static int next_k[PRODUCERS];
static int producers_left, consumers_left, chaos_stop;
static hsafe_scope *slot_scope[PRODUCERS + CONSUMERS];   /* the running worker's */
static unsigned long cancels, timeouts, sends, recvs, selects;
static uint64_t rng;

static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static hsafe_time rnd_deadline(void)
{
    switch (rnd(4)) {
    case 0: return 0;                                   /* a poll */
    case 1: return HSAFE_FOREVER;
    default: return hsafe_after((int64_t)rnd(400) * 1000);
    }
}

static int producer(void *arg)
{
    int p = (int)(intptr_t)arg;
    while (next_k[p] < VALUES) {
        int v = p * VALUES + next_k[p], rc, how = (int)rnd(3);
        if (how < 2) {
            rc = hsafe_chan_send(how ? &B : &A, &v, rnd_deadline());
        } else {
            hsafe_chan_clause c[2];
            memset(c, 0, sizeof c);
            c[0].chan = &A; c[0].op = HSAFE_CHAN_SEND; c[0].elem = &v;
            c[1].chan = &B; c[1].op = HSAFE_CHAN_SEND; c[1].elem = &v;
            rc = hsafe_chan_select(c, 2, rnd_deadline());
            selects++;
            if (rc >= 0) rc = c[rc].rc;
        }
        if (rc == HSAFE_OK) {
            CHECK_EQ(sent[v], 0);
            sent[v] = 1;
            sends++;
            next_k[p]++;
        } else if (rc == HSAFE_ETIMEDOUT) {
            timeouts++;
        } else {
            CHECK_EQ(rc, HSAFE_ECANCELED);
            cancels++;
            return rc;
        }
    }
    return 0;
}

static void got(int v)
{
    CHECK(v >= 0 && v < TOTAL);
    if (v >= 0 && v < TOTAL) {
        CHECK_EQ(recv_count[v], 0);
        recv_count[v]++;
    }
    recvs++;
}

typedef struct cstate { int closed_a, closed_b; } cstate;
static cstate cons[CONSUMERS];

static int consumer(void *arg)
{
    cstate *cs = &cons[(int)(intptr_t)arg];
    while (!cs->closed_a || !cs->closed_b) {
        int v = -1, rc, how = (int)rnd(3);
        hsafe_chan *which = NULL;
        if (how == 0 && !cs->closed_a) which = &A;
        else if (how == 1 && !cs->closed_b) which = &B;
        if (which) {
            rc = hsafe_chan_recv(which, &v, rnd_deadline());
            if (rc == HSAFE_ECLOSED) { if (which == &A) cs->closed_a = 1; else cs->closed_b = 1; }
        } else {
            hsafe_chan_clause c[2];
            memset(c, 0, sizeof c);
            c[0].chan = cs->closed_a ? NULL : &A; c[0].op = HSAFE_CHAN_RECV; c[0].elem = &v;
            c[1].chan = cs->closed_b ? NULL : &B; c[1].op = HSAFE_CHAN_RECV; c[1].elem = &v;
            rc = hsafe_chan_select(c, 2, rnd_deadline());
            selects++;
            if (rc >= 0) {
                if (c[rc].rc == HSAFE_ECLOSED) { if (rc == 0) cs->closed_a = 1; else cs->closed_b = 1; }
                rc = c[rc].rc;
            }
        }
        if (rc == HSAFE_OK) got(v);
        else if (rc == HSAFE_ETIMEDOUT) timeouts++;
        else if (rc == HSAFE_ECANCELED) { cancels++; return rc; }
        else CHECK_EQ(rc, HSAFE_ECLOSED);
    }
    return 0;
}

/* A slot: run the worker in a scope of its own until it finishes. */
static int slot(void *arg)
{
    int id = (int)(intptr_t)arg;
    int done = 0;
    while (!done) {
        hsafe_scope s;
        hsafe_task t;
        int rc;
        CHECK_EQ(hsafe_scope_open(&s, "worker", 0, HSAFE_FOREVER), 0);
        slot_scope[id] = &s;
        if (id < PRODUCERS)
            rc = hsafe_scope_spawn(&s, &t, producer, (void *)(intptr_t)id, "producer");
        else
            rc = hsafe_scope_spawn(&s, &t, consumer, (void *)(intptr_t)(id - PRODUCERS), "consumer");
        CHECK_EQ(rc, 0);
        rc = hsafe_scope_join(&s);
        slot_scope[id] = NULL;
        done = hsafe_task_status(&t) == 0;
        CHECK(rc == 0 || rc == HSAFE_ECANCELED);
    }
    if (id < PRODUCERS) producers_left--;
    else consumers_left--;
    return 0;
}

static int chaos(void *arg)
{
    (void)arg;
    while (!chaos_stop) {
        unsigned i = rnd(PRODUCERS + CONSUMERS);
        if (!rnd(8)) hsafe_sleep_until(hsafe_after((int64_t)rnd(300) * 1000));
        else hsafe_yield();
        if (slot_scope[i]) hsafe_scope_cancel(slot_scope[i]);
        i = rnd(PRODUCERS + CONSUMERS);
        if (slot_scope[i]) hsafe_scope_cancel(slot_scope[i]);
    }
    return 0;
}

static int root(void *arg)
{
    hsafe_scope s;
    hsafe_task slots[PRODUCERS + CONSUMERS], ch;
    int i, guard = 0;
    (void)arg;
    CHECK_EQ(hsafe_scope_open(&s, "storm", 0, HSAFE_FOREVER), 0);
    for (i = 0; i < PRODUCERS + CONSUMERS; i++)
        CHECK_EQ(hsafe_scope_spawn(&s, &slots[i], slot, (void *)(intptr_t)i, "slot"), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &ch, chaos, NULL, "chaos"), 0);
    while (producers_left && guard++ < 600000) hsafe_sleep_until(hsafe_after(1000 * 1000));
    CHECK_EQ(producers_left, 0);
    CHECK_EQ(hsafe_chan_close(&A), 0);
    CHECK_EQ(hsafe_chan_close(&B), 0);
    while (consumers_left && guard++ < 600000) hsafe_sleep_until(hsafe_after(1000 * 1000));
    chaos_stop = 1;
    return hsafe_scope_join(&s);
}

int main(void)
{
    int round, i, missing = 0, dup = 0, unsent = 0;
    const char *seed_env = getenv("HSAFE_TEST_SEED");
    uint64_t seed = seed_env ? (uint64_t)strtoull(seed_env, NULL, 0) : (uint64_t)hsafe_now() | 1;
    T_BEGIN("test_chan_storm");
    if (T_ON_VALGRIND) VALUES = 300;
    for (round = 0; round < 2; round++) {
        rng = seed + (uint64_t)round * 0x9e3779b97f4a7c15ull;
        if (!rng) rng = 1;
        printf("# round %d (%s channels): HSAFE_TEST_SEED=%llu\n", round, round ? "shared" : "local",
               (unsigned long long)(seed));
        fflush(stdout);
        CHECK_EQ(hsafe_chan_init(&A, sizeof(int), abuf, 4, round ? HSAFE_CHAN_SHARED : 0), 0);
        CHECK_EQ(hsafe_chan_init(&B, sizeof(int), NULL, 0, round ? HSAFE_CHAN_SHARED : 0), 0);
        memset(sent, 0, sizeof sent);
        memset(recv_count, 0, sizeof recv_count);
        memset(next_k, 0, sizeof next_k);
        memset(cons, 0, sizeof cons);
        producers_left = PRODUCERS;
        consumers_left = CONSUMERS;
        chaos_stop = 0;
        cancels = timeouts = sends = recvs = selects = 0;
        CHECK_EQ(tu_run_msg(root, NULL, 64 * 1024, 64, NULL, 0), 0);
        for (i = 0; i < TOTAL; i++) {
            unsent += !sent[i];
            missing += recv_count[i] == 0;
            dup += recv_count[i] > 1;
        }
        CHECK_EQ(unsent, 0);
        CHECK_EQ(missing, 0);
        CHECK_EQ(dup, 0);
        CHECK_EQ(hsafe_chan_len(&A), 0);
        printf("# %lu sends, %lu receives, %lu selects, %lu cancels, %lu timeouts\n", sends, recvs,
               selects, cancels, timeouts);
        CHECK(cancels > 10);
        CHECK(timeouts > 10);
    }
    T_END();
}
