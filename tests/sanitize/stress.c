/* stress: many coroutines, pools exhausted and recovered, many runs.
 * Meant for sanitizer builds (tests/cmake/sanitize.cmake runs it under
 * ASan+UBSan per backend); bounded so it finishes in seconds.
 *
 *   coroutines  NCORO (50000, or argv[1]) coroutines alive at once, on
 *               small caller-given stacks (2 x HSAFE_CORO_MIN_STACK each,
 *               carved from one allocation), each resumed ROUNDS times in
 *               round-robin order, values checked both ways, then finished
 *               and finalised;
 *   pools       a guarded mmap pool and a caller-memory pool, each acquired
 *               until HSAFE_EBUSY, every stack dirtied and released, and
 *               acquired again (all zero), POOL_LOOPS times, with
 *               hsafe_pool_stats checked at each turn;
 *   runs        NRUNS sanitized runs of a function recursing to a random
 *               depth, one in eight panicking through two cleanup handlers;
 *               results, messages and cleanups checked.
 */
#ifndef HSAFE_TEST_SHARED_IMPL
#define HSAFE_IMPLEMENTATION
#endif
#include "hsafe.h"
#include "testutil.h"

#define ROUNDS 4
#define POOL_LOOPS 300
#define POOL_CAP 32
#define NRUNS 5000

/* ---- many coroutines ----------------------------------------------------- */

static uintptr_t counter_fn(hsafe_coro *co, uintptr_t v)
{
    uintptr_t id = (uintptr_t)hsafe_coro_user(co), sum = 0;
    int r;
    for (r = 0; r < ROUNDS; r++) {
        if (v != (uintptr_t)r * 1000003u + id) return 0;    /* wrong value in */
        sum += v;
        v = hsafe_coro_yield(co, id * 7 + (uintptr_t)r);
    }
    return sum + v;
}

static void many_coroutines(size_t n)
{
    size_t stack = 2 * HSAFE_CORO_MIN_STACK, i;
    unsigned char *mem = (unsigned char *)malloc(n * stack);
    hsafe_coro *cos = (hsafe_coro *)calloc(n, sizeof *cos);
    unsigned long bad = 0;
    int r;
    CHECK(mem != NULL && cos != NULL);
    if (!mem || !cos) { free(mem); free(cos); return; }
    for (i = 0; i < n; i++)
        if (hsafe_coro_init(&cos[i], mem + i * stack, stack, counter_fn, (void *)(uintptr_t)i) != HSAFE_OK) bad++;
    for (r = 0; r < ROUNDS; r++) {
        for (i = 0; i < n; i++) {
            uintptr_t out = 0;
            if (hsafe_coro_resume(&cos[i], (uintptr_t)r * 1000003u + i, &out) != HSAFE_CORO_SUSPENDED ||
                out != i * 7 + (uintptr_t)r)
                bad++;
        }
    }
    for (i = 0; i < n; i++) {
        uintptr_t out = 0, want = (uintptr_t)ROUNDS * i + 1000003u * (ROUNDS * (ROUNDS - 1) / 2) + 99;
        if (hsafe_coro_resume(&cos[i], 99, &out) != HSAFE_CORO_FINISHED || out != want) bad++;
        if (hsafe_coro_fini(&cos[i]) != HSAFE_OK) bad++;
    }
    CHECK_EQ(bad, 0);
    printf("coroutines: %zu alive at once on %zu-byte stacks, %d resumes each\n", n, stack, ROUNDS + 1);
    free(cos);
    free(mem);
}

/* ---- pools ---------------------------------------------------------------- */

static void check_stats(hsafe_pool *p, size_t in_use, size_t created)
{
    hsafe_pool_stats st;
    CHECK_EQ(hsafe_pool_get_stats(p, &st), HSAFE_OK);
    CHECK_EQ(st.in_use, in_use);
    CHECK_EQ(st.created, created);
    CHECK_EQ(st.free, created - in_use);
}

static int all_zero(const hsafe_stack *s)
{
    const unsigned char *p = (const unsigned char *)hsafe_stack_base(s);
    size_t i, n = hsafe_stack_size(s);
    for (i = 0; i < n; i++) if (p[i]) return 0;
    return 1;
}

static void exhaust_loop(hsafe_pool *p, const char *what)
{
    hsafe_stack *held[POOL_CAP + 1];
    unsigned long dirty_seen = 0, nonzero = 0;
    int loop;
    size_t i, n;
    for (loop = 0; loop < POOL_LOOPS; loop++) {
        for (n = 0; n <= POOL_CAP; n++)
            if (hsafe_pool_acquire(p, &held[n]) != HSAFE_OK) break;
        CHECK_EQ(n, POOL_CAP);                       /* the next one was EBUSY */
        CHECK_EQ(hsafe_pool_acquire(p, &held[POOL_CAP]), HSAFE_EBUSY);
        check_stats(p, POOL_CAP, POOL_CAP);
        for (i = 0; i < n; i++) {
            unsigned char *lo = (unsigned char *)hsafe_stack_base(held[i]);
            size_t size = hsafe_stack_size(held[i]), len = ((size_t)loop * 131 + i * 17) % size + 1;
            nonzero += !all_zero(held[i]);
            memset(lo + size - len, 0xA5, len);
            dirty_seen++;
        }
        for (i = 0; i < n; i++) CHECK_EQ(hsafe_pool_release(p, held[(i * 7) % n]), HSAFE_OK);
        check_stats(p, 0, POOL_CAP);
    }
    CHECK_EQ(nonzero, 0);
    printf("pool %s: exhausted and recovered %d times, %lu dirty stacks came back zero\n",
           what, POOL_LOOPS, dirty_seen);
}

static void pools(void)
{
    hsafe_pool pool;
    hsafe_pool_config cfg;
    size_t bytes = POOL_CAP * (16384 + 128) + 64;
    unsigned char *mem = (unsigned char *)malloc(bytes);
    memset(&cfg, 0, sizeof cfg);
    cfg.stack_size = 16384;
    cfg.capacity = POOL_CAP;
    CHECK_EQ(hsafe_pool_init(&pool, &cfg), HSAFE_OK);
    exhaust_loop(&pool, "mmap");
    CHECK_EQ(hsafe_pool_destroy(&pool), HSAFE_OK);

    CHECK(mem != NULL);
    if (!mem) return;
    cfg.memory = mem;
    cfg.memory_size = bytes;
    CHECK_EQ(hsafe_pool_init(&pool, &cfg), HSAFE_OK);
    exhaust_loop(&pool, "caller-memory");
    CHECK_EQ(hsafe_pool_destroy(&pool), HSAFE_OK);
    free(mem);
}

/* ---- runs ----------------------------------------------------------------- */

typedef struct job { unsigned depth, seed; int panic; unsigned cleanups; } job;

static void note_cleanup(void *arg) { ((job *)arg)->cleanups++; }

static uintptr_t __attribute__((noinline)) recurse(job *j, unsigned d)
{
    volatile unsigned char frame[64];
    frame[d & 63] = (unsigned char)(j->seed + d);
    if (d == 0) {
        if (j->panic) {
            hsafe_cleanup a, b;
            hsafe_cleanup_push(&a, note_cleanup, j);
            hsafe_cleanup_push(&b, note_cleanup, j);
            hsafe_panic("job %u", j->seed);
        }
        return j->seed;
    }
    return recurse(j, d - 1) + frame[d & 63];
}

static uintptr_t job_fn(void *arg)
{
    job *j = (job *)arg;
    return recurse(j, j->depth);
}

static void runs(void)
{
    hsafe_pool pool;
    hsafe_pool_config cfg;
    hsafe_run_info info;
    unsigned long bad = 0, panics = 0;
    unsigned x = 12345, i, d;
    memset(&cfg, 0, sizeof cfg);
    cfg.stack_size = 64 * 1024;
    cfg.capacity = 2;
    CHECK_EQ(hsafe_pool_init(&pool, &cfg), HSAFE_OK);
    for (i = 0; i < NRUNS; i++) {
        job j;
        uintptr_t want;
        int rc;
        x = x * 1103515245u + 12345u;
        j.depth = (x >> 8) % 48;
        j.seed = x >> 4;
        j.panic = ((x >> 20) & 7) == 0;
        j.cleanups = 0;
        want = j.seed;
        for (d = 1; d <= j.depth; d++) want += (unsigned char)(j.seed + d);
        rc = hsafe_run_ex(&pool, job_fn, &j, 0, &info);
        if (j.panic) {
            char msg[32];
            snprintf(msg, sizeof msg, "job %u", j.seed);
            panics++;
            if (rc != HSAFE_EPANIC || strcmp(info.message, msg) != 0 || j.cleanups != 2) bad++;
        } else if (rc != HSAFE_OK || info.result != want || j.cleanups != 0) {
            bad++;
        }
    }
    check_stats(&pool, 0, 1);
    CHECK_EQ(hsafe_pool_destroy(&pool), HSAFE_OK);
    CHECK_EQ(bad, 0);
    printf("runs: %d, %lu of them panicked\n", NRUNS, panics);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 50000;
    (void)t_in_child;
    T_BEGIN("stress");
    many_coroutines(n);
    pools();
    runs();
    T_END();
}
