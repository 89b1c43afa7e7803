/* test_chan_threads: shared channels (HSAFE_CHAN_SHARED) between loops on
 * different threads, and hsafe_loop_post from a thread that runs no loop.
 *
 * Proves, with WORKERS threads each running its own loop (its own pool):
 *   - fan-out / fan-in: the main loop's producer task sends VALUES values
 *     into a shared buffered channel `work` (random deadlines: polls, short
 *     waits, forever; it retries a value after a timeout); a plain thread
 *     (no loop) adds PLAIN more with hsafe_chan_try_send; every worker loop
 *     runs SLOTS consumer slots that take values from `work` and pass each
 *     to the shared unbuffered channel `results`, where the main loop's
 *     collector takes them. Each worker loop has a chaos task that cancels
 *     its slots' workers at random; a slot keeps a value it took until its
 *     send to `results` succeeded (a cancelled send did not happen), so
 *     every value must reach the collector exactly once (counted per
 *     value) and nothing is left in `work`;
 *   - the collector's and the workers' waits on shared channels are waits
 *     on other threads: their loops sleep instead of reporting a deadlock,
 *     and a wakeup from another thread gets through (the test would hang
 *     or abort otherwise);
 *   - close across threads: when all values arrived, the main loop closes
 *     `work`; every worker loop's consumers see HSAFE_ECLOSED and end;
 *   - hsafe_loop_post from the plain thread: a counted function runs on the
 *     main loop's thread (checked with pthread_equal), and wakes a root task
 *     waiting on a channel of its own loop, with hsafe_loop_ref keeping the
 *     idle loop from reporting a deadlock meanwhile.
 * Built per backend like every test, and with -fsanitize=thread by
 * tests/cmake/tsan_chan.cmake (san.chan_threads.<backend>), where TSan must
 * report nothing.
 */
#ifndef HSAFE_TEST_SHARED_IMPL
#define HSAFE_IMPLEMENTATION
#endif
#include "hsafe.h"
#include "testutil.h"
#include "taskutil.h"

#if defined(_WIN32)
int main(void)
{
    T_BEGIN("test_chan_threads");
    (void)t_failures;
    T_SKIP("POSIX threads only (the Windows loop wake is an event object, tested by test_chan_basic's posts)");
}
#else
#include <pthread.h>
#include <sched.h>

/* 20000 values natively; 3000 under an emulator or a sanitizer, or
 * valgrind (seen at run time), which are 10-50 times slower. */
#define MAX_VALUES 20000
#define PLAIN 2000
#define TOTAL (VALUES + PLAIN)
#if defined(HSAFE_TEST_EMULATED) || defined(HSAFE__TSAN) || defined(HSAFE__ASAN)
static int VALUES = 3000;
#else
static int VALUES = MAX_VALUES;
#endif
#define WORKERS 4
#define SLOTS 3

static hsafe_chan work, results;
static int work_buf[16];
static unsigned char got[MAX_VALUES + PLAIN];   /* main loop only */
static int collected, dups;               /* main loop only */
static int plain_done;                    /* atomic */
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static int thread_failures;

static void tfail(const char *what, int v)
{
    pthread_mutex_lock(&fail_lock);
    fprintf(stderr, "FAIL: %s (%d)\n", what, v);
    thread_failures++;
    pthread_mutex_unlock(&fail_lock);
}

static unsigned rnd(uint64_t *s, unsigned n)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (unsigned)(*s % n);
}

static hsafe_time rnd_deadline(uint64_t *s)
{
    switch (rnd(s, 4)) {
    case 0: return 0;
    case 1: return HSAFE_FOREVER;
    default: return hsafe_after((int64_t)rnd(s, 300) * 1000);
    }
}

/* ---- a worker thread's loop ---------------------------------------------- */

typedef struct wslot {
    int pending;                /* a value taken from work, not yet passed on; -1 */
    int finished;
    hsafe_scope *scope;         /* its current worker's scope */
} wslot;

typedef struct wthread {
    pthread_t th;
    uint64_t rng;
    wslot slot[SLOTS];
    int slots_left, cancels, rc;
} wthread;

typedef struct wctx { wthread *w; int i; } wctx;

static int consume(void *arg)
{
    wctx *c = (wctx *)arg;
    wslot *s = &c->w->slot[c->i];
    for (;;) {
        int rc;
        if (s->pending < 0) {
            int v = -1;
            rc = hsafe_chan_recv(&work, &v, rnd_deadline(&c->w->rng));
            if (rc == HSAFE_ECLOSED) return 0;
            if (rc == HSAFE_ETIMEDOUT) continue;
            if (rc) return rc;
            if (v < 0 || v >= TOTAL) tfail("value out of range", v);
            s->pending = v;
        }
        rc = hsafe_chan_send(&results, &s->pending, rnd_deadline(&c->w->rng));
        if (rc == HSAFE_ETIMEDOUT) continue;
        if (rc) return rc;
        s->pending = -1;
    }
}

static int wslot_run(void *arg)
{
    wctx *c = (wctx *)arg;
    wslot *s = &c->w->slot[c->i];
    while (!s->finished) {
        hsafe_scope sc;
        hsafe_task t;
        hsafe_scope_open(&sc, "consumer", 0, HSAFE_FOREVER);
        s->scope = &sc;
        if (hsafe_scope_spawn(&sc, &t, consume, c, "consume") != 0) tfail("spawn", 0);
        hsafe_scope_join(&sc);
        s->scope = NULL;
        if (hsafe_task_status(&t) == 0) s->finished = 1;
        else if (hsafe_task_status(&t) != HSAFE_ECANCELED) tfail("consumer status", hsafe_task_status(&t));
    }
    c->w->slots_left--;
    return 0;
}

static int wchaos(void *arg)
{
    wthread *w = (wthread *)arg;
    while (w->slots_left) {
        unsigned i = rnd(&w->rng, SLOTS);
        if (w->slot[i].scope && !w->slot[i].finished) {
            hsafe_scope_cancel(w->slot[i].scope);
            w->cancels++;
        }
        hsafe_sleep_until(hsafe_after((int64_t)rnd(&w->rng, 500) * 1000));
    }
    return 0;
}

static int wroot(void *arg)
{
    wthread *w = (wthread *)arg;
    hsafe_scope s;
    hsafe_task t[SLOTS], ch;
    wctx c[SLOTS];
    int i;
    hsafe_scope_open(&s, "worker", 0, HSAFE_FOREVER);
    w->slots_left = SLOTS;
    for (i = 0; i < SLOTS; i++) {
        c[i].w = w;
        c[i].i = i;
        w->slot[i].pending = -1;
        hsafe_scope_spawn(&s, &t[i], wslot_run, &c[i], "slot");
    }
    hsafe_scope_spawn(&s, &ch, wchaos, w, "chaos");
    return hsafe_scope_join(&s);
}

static void *worker_main(void *arg)
{
    wthread *w = (wthread *)arg;
    w->rc = tu_run_msg(wroot, w, 64 * 1024, 16, NULL, 0);
    return NULL;
}

/* ---- the plain thread ------------------------------------------------------ */

static hsafe_loop *main_loop;
static pthread_t main_thread;
static int posts_run;                  /* main loop only */
static hsafe_chan wakeup;              /* the main loop's own (not shared) */
static int wakeup_buf[1];
static int root_waits;                 /* atomic: the root is about to wait */

static void on_main(void *arg)
{
    int one = 1;
    if (!pthread_equal(pthread_self(), main_thread)) tfail("post ran on another thread", 0);
    posts_run += (int)(intptr_t)arg;
    if (posts_run == 2 && hsafe_chan_try_send(&wakeup, &one) != 0) tfail("wakeup try_send", 0);
}

static void *plain_main(void *arg)
{
    int v, rc;
    (void)arg;
    for (v = VALUES; v < TOTAL; v++) {
        while ((rc = hsafe_chan_try_send(&work, &v)) == HSAFE_EAGAIN) sched_yield();
        if (rc) tfail("plain try_send", rc);
    }
    __atomic_store_n(&plain_done, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&root_waits, __ATOMIC_ACQUIRE)) sched_yield();
    /* two posts; the second wakes the root's wait on `wakeup` */
    while (hsafe_loop_post(main_loop, on_main, (void *)(intptr_t)1) == HSAFE_EBUSY) sched_yield();
    while (hsafe_loop_post(main_loop, on_main, (void *)(intptr_t)1) == HSAFE_EBUSY) sched_yield();
    if (hsafe_loop_unref(main_loop) != 0) tfail("unref", 0);
    return NULL;
}

/* ---- the main loop ----------------------------------------------------------- */

static int producer(void *arg)
{
    uint64_t rng = 0x1234567ull;
    int v = 0;
    (void)arg;
    while (v < VALUES) {
        int rc = hsafe_chan_send(&work, &v, rnd_deadline(&rng));
        if (rc == 0) v++;
        else if (rc != HSAFE_ETIMEDOUT) return rc;
    }
    return 0;
}

static int collector(void *arg)
{
    int v;
    (void)arg;
    while (collected < TOTAL) {
        int rc = hsafe_chan_recv(&results, &v, HSAFE_FOREVER);
        if (rc) return rc;
        if (v < 0 || v >= TOTAL) { tfail("collected out of range", v); continue; }
        if (got[v]++) dups++;
        collected++;
    }
    return 0;
}

static int main_root(void *arg)
{
    hsafe_scope s;
    hsafe_task tp, tc;
    int rc, one = 0;
    pthread_t plain;
    (void)arg;
    main_loop = (hsafe_loop *)(void *)((char *)hsafe_task_current() - offsetof(hsafe_loop, root));
    CHECK_EQ(hsafe_chan_init(&wakeup, sizeof(int), wakeup_buf, 1, 0), 0);
    CHECK_EQ(hsafe_loop_ref(main_loop), 0);       /* the plain thread will post */
    CHECK_EQ(pthread_create(&plain, NULL, plain_main, NULL), 0);
    hsafe_scope_open(&s, "main", 0, HSAFE_FOREVER);
    CHECK_EQ(hsafe_scope_spawn(&s, &tp, producer, NULL, "producer"), 0);
    CHECK_EQ(hsafe_scope_spawn(&s, &tc, collector, NULL, "collector"), 0);
    rc = hsafe_scope_join(&s);
    CHECK_EQ(rc, 0);
    CHECK_EQ(hsafe_chan_close(&work), 0);          /* the workers finish */
    /* wait for the plain thread's second post (only a post can wake us
     * now: the channel is this loop's own) */
    __atomic_store_n(&root_waits, 1, __ATOMIC_RELEASE);
    CHECK_EQ(hsafe_chan_recv(&wakeup, &one, HSAFE_FOREVER), 0);
    CHECK_EQ(one, 1);
    CHECK_EQ(posts_run, 2);
    pthread_join(plain, NULL);
    return 0;
}

int main(void)
{
    wthread w[WORKERS];
    int i, missing = 0, cancels = 0, v;
    T_BEGIN("test_chan_threads");
    if (T_ON_VALGRIND) VALUES = 3000;
    CHECK_EQ(hsafe_chan_init(&work, sizeof(int), work_buf, 16, HSAFE_CHAN_SHARED), 0);
    CHECK_EQ(hsafe_chan_init(&results, sizeof(int), NULL, 0, HSAFE_CHAN_SHARED), 0);
    main_thread = pthread_self();
    memset(w, 0, sizeof w);
    for (i = 0; i < WORKERS; i++) {
        w[i].rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
        CHECK_EQ(pthread_create(&w[i].th, NULL, worker_main, &w[i]), 0);
    }
    CHECK_EQ(tu_run_msg(main_root, NULL, 64 * 1024, 16, NULL, 0), 0);
    for (i = 0; i < WORKERS; i++) {
        pthread_join(w[i].th, NULL);
        CHECK_EQ(w[i].rc, 0);
        cancels += w[i].cancels;
    }
    for (i = 0; i < TOTAL; i++) missing += !got[i];
    CHECK_EQ(collected, TOTAL);
    CHECK_EQ(missing, 0);
    CHECK_EQ(dups, 0);
    CHECK_EQ(__atomic_load_n(&plain_done, __ATOMIC_ACQUIRE), 1);
    CHECK_EQ(hsafe_chan_try_recv(&work, &v), HSAFE_ECLOSED);    /* drained */
    CHECK_EQ(thread_failures, 0);
    printf("# %d values through %d worker loops, %d cancellations\n", TOTAL, WORKERS, cancels);
    CHECK(cancels > 0);
    T_END();
}
#endif
