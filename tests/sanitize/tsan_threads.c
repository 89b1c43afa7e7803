/* tsan_threads: coroutines on two threads, and one coroutine that moves
 * from one thread to the other, are clean under ThreadSanitizer with hsafe's
 * fiber annotations, and not without them.
 *
 * Built per backend with -fsanitize=thread by tests/cmake/sanitize.cmake.
 *   - Threads T1 and T2 each run their own coroutines (on their own static
 *     stacks), resumed in turns many times; each coroutine writes its own
 *     counters without locks (they are only ever touched by the thread
 *     that runs it) and a shared total under a mutex.
 *   - T1 creates the "traveller" coroutine, resumes it (it writes a plain,
 *     unlocked array on its own stack and in a static buffer, and takes a
 *     lock that belongs to the coroutine, not to a thread: a spinlock
 *     described to TSan with its mutex annotations), and hands it to T2
 *     through a mutex-protected slot. T2 takes it and resumes it until it
 *     finishes; it reads back what it wrote while on T1 and releases the
 *     coroutine's lock. The mutex orders everything: there is no race.
 *   - Each thread also does sanitized runs on its own pool.
 * As is, TSan must report nothing (exit 0). Built with
 * -DHSAFE_TEST_NO_TSAN_FIBER (no fiber create/switch calls), TSan believes
 * the traveller is T1 while on T1 and T2 while on T2: its lock, taken by T1
 * and released by T2, is a false "unlock of an unlocked mutex (or by a
 * wrong thread)", which the PASS regex in sanitize.cmake requires. (Its
 * shadow call stacks are wrong too: the traveller's frames are entered on
 * T1 and left on T2.)
 */
#ifndef HSAFE_TEST_SHARED_IMPL
#define HSAFE_IMPLEMENTATION
#endif
#include "hsafe.h"
#include "testutil.h"
#include <pthread.h>
#include <sanitizer/tsan_interface.h>

#define STACK (64 * 1024)
#define PER_THREAD 4
#define ROUNDS 200

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long shared_total;            /* under lock */
static hsafe_coro *handoff;          /* under lock */
static int handoff_done;             /* under lock */

static unsigned char thread_stacks[2][PER_THREAD][STACK] __attribute__((aligned(64)));
static unsigned char traveller_stack[STACK] __attribute__((aligned(64)));
static unsigned long traveller_data[64];   /* written on T1, read on T2, unlocked */

/* ---- per-thread coroutines ---- */

typedef struct counter { unsigned long hits; unsigned long sum; } counter;

static uintptr_t __attribute__((noinline)) count_deeper(counter *c, uintptr_t v, int depth)
{
    volatile uintptr_t frame[8];
    frame[depth & 7] = v;
    c->sum += frame[depth & 7];
    return depth ? count_deeper(c, v + 1, depth - 1) : v;
}

static uintptr_t local_fn(hsafe_coro *co, uintptr_t v)
{
    counter *c = (counter *)hsafe_coro_user(co);
    for (;;) {
        c->hits++;
        v = count_deeper(c, v, 4);
        pthread_mutex_lock(&lock);
        shared_total += 1;
        pthread_mutex_unlock(&lock);
        v = hsafe_coro_yield(co, v);
        if (v == 0) return c->hits;
    }
}

/* ---- the traveller ---- */

/* A lock owned by whoever took it: here a coroutine. */
static int coro_lock;
static void coro_lock_take(void)
{
    __tsan_mutex_pre_lock(&coro_lock, 0);
    while (__atomic_exchange_n(&coro_lock, 1, __ATOMIC_ACQUIRE)) { }
    __tsan_mutex_post_lock(&coro_lock, 0, 0);
}
static void coro_lock_give(void)
{
    __tsan_mutex_pre_unlock(&coro_lock, 0);
    __atomic_store_n(&coro_lock, 0, __ATOMIC_RELEASE);
    __tsan_mutex_post_unlock(&coro_lock, 0);
}

static uintptr_t __attribute__((noinline)) travel_deep(hsafe_coro *co, volatile unsigned long *mine, int depth)
{
    volatile unsigned long pad[16];
    uintptr_t r;
    pad[0] = (unsigned long)depth;
    if (depth == 0) {
        int i;
        coro_lock_take();
        for (i = 0; i < 64; i++) { mine[i] = (unsigned long)i * 3; traveller_data[i] = (unsigned long)i * 5; }
        r = hsafe_coro_yield(co, 1);        /* on T1 before, on T2 after */
        coro_lock_give();
        for (i = 0; i < 64; i++) {
            if (mine[i] != (unsigned long)i * 3 || traveller_data[i] != (unsigned long)i * 5) return 1000;
            mine[i] += 1;
            traveller_data[i] += 1;
        }
        return r + pad[0];
    }
    return travel_deep(co, mine, depth - 1) + pad[0];
}

static uintptr_t traveller_fn(hsafe_coro *co, uintptr_t v)
{
    volatile unsigned long mine[64];
    uintptr_t r = travel_deep(co, mine, 6);
    v = hsafe_coro_yield(co, r);           /* on T2 */
    return r + v + mine[63];
}

/* ---- runs ---- */

static uintptr_t run_fn(void *arg)
{
    volatile unsigned char buf[512];
    unsigned i;
    uintptr_t s = 0;
    for (i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(i + *(unsigned *)arg);
    for (i = 0; i < sizeof buf; i++) s += buf[i];
    return s;
}

typedef struct worker { int id; int failures; unsigned long hits; } worker;

static void *thread_main(void *arg)
{
    worker *w = (worker *)arg;
    hsafe_coro cos[PER_THREAD];
    counter counters[PER_THREAD];
    hsafe_coro traveller;
    hsafe_pool pool;
    hsafe_pool_config cfg;
    uintptr_t out = 0;
    unsigned seed = (unsigned)w->id;
    int i, r;

    memset(counters, 0, sizeof counters);
    for (i = 0; i < PER_THREAD; i++)
        if (hsafe_coro_init(&cos[i], thread_stacks[w->id][i], STACK, local_fn, &counters[i]) != HSAFE_OK)
            w->failures++;

    if (w->id == 0) {                  /* T1: start the traveller, hand it over */
        if (hsafe_coro_init(&traveller, traveller_stack, STACK, traveller_fn, NULL) != HSAFE_OK) w->failures++;
        if (hsafe_coro_resume(&traveller, 0, &out) != HSAFE_CORO_SUSPENDED || out != 1) w->failures++;
        pthread_mutex_lock(&lock);
        handoff = &traveller;
        pthread_cond_broadcast(&cond);
        pthread_mutex_unlock(&lock);
    }

    for (r = 1; r <= ROUNDS; r++)
        for (i = 0; i < PER_THREAD; i++)
            if (hsafe_coro_resume(&cos[i], (uintptr_t)r, &out) != HSAFE_CORO_SUSPENDED) w->failures++;

    if (w->id == 1) {                  /* T2: take the traveller, finish it */
        hsafe_coro *t;
        pthread_mutex_lock(&lock);
        while (!handoff) pthread_cond_wait(&cond, &lock);
        t = handoff;
        pthread_mutex_unlock(&lock);
        if (hsafe_coro_resume(t, 10, &out) != HSAFE_CORO_SUSPENDED) w->failures++;
        if (out != 10 + 21) w->failures++;        /* 10 + depths 1..6 */
        if (hsafe_coro_resume(t, 5, &out) != HSAFE_CORO_FINISHED) w->failures++;
        if (out != 31 + 5 + 63 * 3 + 1) w->failures++;
        pthread_mutex_lock(&lock);
        handoff_done = 1;
        pthread_cond_broadcast(&cond);
        pthread_mutex_unlock(&lock);
    }

    for (i = 0; i < PER_THREAD; i++) {
        if (hsafe_coro_resume(&cos[i], 0, &out) != HSAFE_CORO_FINISHED || out != ROUNDS) w->failures++;
        w->hits += counters[i].hits;
        if (hsafe_coro_fini(&cos[i]) != HSAFE_OK) w->failures++;
    }

    memset(&cfg, 0, sizeof cfg);
    cfg.stack_size = STACK;
    if (hsafe_pool_init(&pool, &cfg) != HSAFE_OK) w->failures++;
    for (i = 0; i < 50; i++) {
        seed = seed * 1103515245u + 12345u;
        if (hsafe_run(&pool, run_fn, &seed, &out) != HSAFE_OK) w->failures++;
    }
    if (hsafe_pool_destroy(&pool) != HSAFE_OK) w->failures++;

    if (w->id == 0) {                  /* the traveller's object lives here */
        pthread_mutex_lock(&lock);
        while (!handoff_done) pthread_cond_wait(&cond, &lock);
        pthread_mutex_unlock(&lock);
        if (hsafe_coro_fini(&traveller) != HSAFE_OK) w->failures++;
    }
    return NULL;
}

int main(void)
{
    pthread_t th[2];
    worker w[2];
    int i;
    (void)t_in_child;
    T_BEGIN("tsan_threads");
    __tsan_mutex_create(&coro_lock, 0);
    memset(w, 0, sizeof w);
    for (i = 0; i < 2; i++) {
        w[i].id = i;
        CHECK_EQ(pthread_create(&th[i], NULL, thread_main, &w[i]), 0);
    }
    for (i = 0; i < 2; i++) CHECK_EQ(pthread_join(th[i], NULL), 0);
    for (i = 0; i < 2; i++) {
        CHECK_EQ(w[i].failures, 0);
        CHECK_EQ(w[i].hits, (unsigned long)PER_THREAD * ROUNDS);
    }
    CHECK_EQ(shared_total, 2L * PER_THREAD * ROUNDS);
    CHECK_EQ(traveller_data[10], 51);
    T_END();
}
