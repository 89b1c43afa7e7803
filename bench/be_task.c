/* be_task.c - scoped tasks (api/task.h), default build (asm backend):
 *   spawn_join_ns          rounds of: open a scope, spawn 1,000 tasks that
 *                          each yield once, join; ns per task
 *   yield_rt_ns            two tasks yielding to each other; ns per round
 *                          trip (each task yields once)
 *   sleep_wake_ns          100,000 tasks each sleeping a random 0-10 ms once;
 *                          process CPU time (user + system) / tasks
 *   parked_bytes_per_task  RSS growth per task while 100,000 tasks sleep
 *                          (in a fresh child process: nothing warm)
 *   spawn_cold_ns,         1,000,000 tasks on fresh stacks that each park
 *   finish_cold_ns         (sleep until cancelled), then cancel (wakes them
 *                          all) and join (in a fresh child process)
 * Every task runs on a BENCH_TASK_STACK (16 KiB) stack of an mmap'd pool
 * with the default guard (MADV_GUARD_INSTALL where the kernel has it);
 * every stack is wiped when its task ends (the sanitized-run guarantee),
 * registers cleared after each switch back. bench/README.md says why 16 KiB.
 */
#define _GNU_SOURCE 1
#define HSAFE_PRIVATE
#define HSAFE_IMPLEMENTATION
#define HSAFE_BACKEND_ASM
#include "../hsafe.h"
#include "bench.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#define BT_BATCH 1000               /* tasks per scope (spawn_join_ns) */

static hsafe_pool bt_pool;          /* warm pool: spawn_join, yield_rt, sleep_wake */
static hsafe_loop bt_loop;
static hsafe_task *bt_tasks;        /* BENCH_SLEEP_TASKS records */
static int64_t *bt_sleep_ns;        /* each sleeper's random 0-10 ms */

/* ---- small helpers -------------------------------------------------------- */

static uint64_t bt_cpu_ns(void)    /* process CPU time, user + system */
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

static long bt_rss_bytes(void)     /* resident set size now */
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = -1;
    fclose(f);
    return rss < 0 ? -1 : rss * sysconf(_SC_PAGESIZE);
}

/* Task records in fresh anonymous memory (n can be a million). */
static hsafe_task *bt_records(size_t n)
{
    void *p = mmap(NULL, n * sizeof(hsafe_task), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : (hsafe_task *)p;
}

static int bt_pool_loop(hsafe_pool *pool, hsafe_loop *loop, size_t capacity)
{
    hsafe_pool_config pc;
    hsafe_loop_config lc;
    memset(&pc, 0, sizeof pc);
    pc.stack_size = BENCH_TASK_STACK;
    pc.capacity = capacity;
    if (hsafe_pool_init(pool, &pc)) return -1;
    memset(&lc, 0, sizeof lc);
    lc.pool = pool;
    return hsafe_loop_init(loop, &lc) ? -1 : 0;
}

/* Run fn(arg) as the root task of the warm loop; -1 if it failed. */
static int bt_run(hsafe_task_fn fn, void *arg)
{
    return hsafe_loop_run(&bt_loop, fn, arg, "bench-root") < 0 ? -1 : 0;
}

/* ---- spawn_join_ns -------------------------------------------------------- */

static int bt_yield_once(void *arg)
{
    (void)arg;
    return hsafe_yield();
}

typedef struct { long rounds; uint64_t ns; int rc; } bt_sj;

static int bt_spawn_join_root(void *arg)
{
    bt_sj *a = (bt_sj *)arg;
    uint64_t t0 = bench_now_ns();
    for (long r = 0; r < a->rounds; r++) {
        hsafe_scope s;
        hsafe_scope_open(&s, "batch", 0, HSAFE_FOREVER);
        for (int i = 0; i < BT_BATCH; i++)
            if (hsafe_scope_spawn(&s, &bt_tasks[i], bt_yield_once, NULL, "t")) a->rc = -1;
        if (hsafe_scope_join(&s)) a->rc = -1;
    }
    a->ns = bench_now_ns() - t0;
    return 0;
}

/* iters = tasks; whole batches of 1,000 are run, the time scaled back. */
uint64_t bench_spawn_join(long iters)
{
    bt_sj a = { (iters + BT_BATCH - 1) / BT_BATCH, 0, 0 };
    if (bt_run(bt_spawn_join_root, &a) || a.rc) { fprintf(stderr, "bench: spawn_join failed\n"); exit(1); }
    return (uint64_t)((double)a.ns * (double)iters / (double)(a.rounds * BT_BATCH));
}

/* ---- yield_rt_ns ---------------------------------------------------------- */

typedef struct { long iters; uint64_t t0, t1; int rc; } bt_yr;

static int bt_yielder(void *arg)
{
    bt_yr *a = (bt_yr *)arg;
    for (long i = 0; i < a->iters; i++)
        if (hsafe_yield()) a->rc = -1;
    return 0;
}

static int bt_yield_root(void *arg)
{
    bt_yr *a = (bt_yr *)arg;
    hsafe_scope s;
    hsafe_scope_open(&s, "pair", 0, HSAFE_FOREVER);
    hsafe_scope_spawn(&s, &bt_tasks[0], bt_yielder, a, "a");
    hsafe_scope_spawn(&s, &bt_tasks[1], bt_yielder, a, "b");
    /* both run once (their first slice) before the clock starts */
    hsafe_yield();
    a->t0 = bench_now_ns();
    if (hsafe_scope_join(&s)) a->rc = -1;
    a->t1 = bench_now_ns();
    return 0;
}

uint64_t bench_yield_rt(long iters)
{
    bt_yr a = { iters, 0, 0, 0 };
    if (bt_run(bt_yield_root, &a) || a.rc) { fprintf(stderr, "bench: yield_rt failed\n"); exit(1); }
    return a.t1 - a.t0;
}

/* ---- sleep_wake_ns ---------------------------------------------------------- */

static int bt_sleeper(void *arg)
{
    return hsafe_sleep_until(hsafe_after(*(const int64_t *)arg));
}

typedef struct { long n; int rc; } bt_sw;

static int bt_sleep_root(void *arg)
{
    bt_sw *a = (bt_sw *)arg;
    hsafe_scope s;
    hsafe_scope_open(&s, "sleepers", 0, HSAFE_FOREVER);
    for (long i = 0; i < a->n; i++)
        if (hsafe_scope_spawn(&s, &bt_tasks[i], bt_sleeper, &bt_sleep_ns[i], "s")) a->rc = -1;
    if (hsafe_scope_join(&s)) a->rc = -1;
    return 0;
}

/* The same xorshift as bench/go/sched: uniform 0-10 ms. */
static void bt_fill_sleeps(int64_t *v, long n)
{
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (long i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        v[i] = (int64_t)(x % 10000000u);
    }
}

/* iters is fixed at BENCH_SLEEP_TASKS by the driver; returns CPU ns. */
uint64_t bench_sleep_wake(long iters)
{
    bt_sw a = { iters < BENCH_SLEEP_TASKS ? iters : BENCH_SLEEP_TASKS, 0 };
    uint64_t c0 = bt_cpu_ns(), c1;
    if (bt_run(bt_sleep_root, &a) || a.rc) { fprintf(stderr, "bench: sleep_wake failed\n"); exit(1); }
    c1 = bt_cpu_ns();
    return c1 - c0;
}

/* ---- setup ------------------------------------------------------------------ */

int bench_task_setup(void)
{
    bt_tasks = bt_records(BENCH_SLEEP_TASKS);
    bt_sleep_ns = (int64_t *)calloc(BENCH_SLEEP_TASKS, sizeof *bt_sleep_ns);
    if (!bt_tasks || !bt_sleep_ns) return -1;
    bt_fill_sleeps(bt_sleep_ns, BENCH_SLEEP_TASKS);
    if (bt_pool_loop(&bt_pool, &bt_loop, BENCH_SLEEP_TASKS + 1)) return -1;
    /* correctness: a round of each, and the stacks are all zero after */
    if (bench_spawn_join(BT_BATCH) == 0) return -1;
    bench_yield_rt(1000);
    {
        hsafe_pool_stats st;
        hsafe_pool_get_stats(&bt_pool, &st);
        if (st.in_use != 0) return -1;
        for (size_t i = 0; i < st.created; i++) {
            const unsigned char *p = (const unsigned char *)bt_pool.slots[i].lo;
            for (size_t k = 0; k < bt_pool.slots[i].size; k++)
                if (p[k]) { fprintf(stderr, "bench: a task stack was not wiped\n"); return -1; }
        }
        printf("# tasks    %zu KiB stacks, guard %zu KiB (%s), hsafe_task %zu bytes\n",
               st.stack_size / 1024, st.guard_size / 1024, st.guard, sizeof(hsafe_task));
    }
    /* sleep_wake twice before it is timed: the first creates its stacks,
     * the second is the first full scan of each (a stack's first release
     * asks the kernel what was touched; the second maps the rest) */
    bench_sleep_wake(BENCH_SLEEP_TASKS);
    bench_sleep_wake(BENCH_SLEEP_TASKS);
    return 0;
}

const char *bench_task_config(void) { return hsafe_config_string(); }

/* ---- the fresh-process measurements (driver forks, the child calls these) -- */

/* RSS growth per task while n tasks sleep (1 s each, counted from the
 * task's start; measured once all have parked). */
typedef struct { long n; long rss0, rss1; int rc; } bt_pk;

static int bt_park_forever(void *arg)
{
    (void)arg;
    return hsafe_sleep_until(HSAFE_FOREVER) == HSAFE_ECANCELED ? 0 : -1;
}

static int bt_parked_root(void *arg)
{
    bt_pk *a = (bt_pk *)arg;
    hsafe_scope s;
    hsafe_scope_open(&s, "parked", 0, HSAFE_FOREVER);
    a->rss0 = bt_rss_bytes();
    for (long i = 0; i < a->n; i++)
        if (hsafe_scope_spawn(&s, &bt_tasks[i], bt_sleeper, &bt_sleep_ns[i], "p")) a->rc = -1;
    hsafe_yield();                  /* every sleeper runs once and parks */
    a->rss1 = bt_rss_bytes();
    if (hsafe_scope_join(&s)) a->rc = -1;
    return 0;
}

double bench_parked_bytes(long n)
{
    hsafe_pool pool;
    hsafe_loop loop;
    bt_pk a = { n, 0, 0, 0 };
    int64_t *sl = (int64_t *)calloc((size_t)n, sizeof *sl);
    bt_tasks = bt_records((size_t)n);
    if (!sl || !bt_tasks || bt_pool_loop(&pool, &loop, (size_t)n + 1)) return -1;
    for (long i = 0; i < n; i++) sl[i] = 1000000000;  /* 1 s: all are asleep at once */
    bt_sleep_ns = sl;
    if (hsafe_loop_run(&loop, bt_parked_root, &a, "root") || a.rc) return -1;
    return (double)(a.rss1 - a.rss0) / (double)n;
}

/* 1,000,000 tasks on fresh stacks (each created now: mmap, guard, first
 * touch) that each park until cancelled; then cancel (wakes all) and join
 * (each stack scanned, wiped, released). Out: ns per task for each half,
 * RSS while parked, wall seconds in all. */
typedef struct { long n; uint64_t t0, t1, t2; long rss; int rc; } bt_cold;

static int bt_cold_root(void *arg)
{
    bt_cold *a = (bt_cold *)arg;
    hsafe_scope s;
    hsafe_scope_open(&s, "cold", 0, HSAFE_FOREVER);
    a->t0 = bench_now_ns();
    for (long i = 0; i < a->n; i++)
        if (hsafe_scope_spawn(&s, &bt_tasks[i], bt_park_forever, NULL, "c")) { a->rc = -1; break; }
    hsafe_yield();                  /* every task runs once and parks */
    a->t1 = bench_now_ns();
    a->rss = bt_rss_bytes();
    hsafe_scope_cancel(&s);         /* wakes every parked task */
    hsafe_scope_join(&s);
    a->t2 = bench_now_ns();
    return 0;
}

int bench_cold(long n, double *spawn_ns, double *finish_ns, double *rss_per_task,
               size_t *stack_size, const char **guard)
{
    hsafe_pool pool;
    hsafe_loop loop;
    hsafe_pool_stats st;
    bt_cold a = { n, 0, 0, 0, 0, 0 };
    long rss0;
    bt_tasks = bt_records((size_t)n);
    if (!bt_tasks || bt_pool_loop(&pool, &loop, (size_t)n + 1)) return -1;
    rss0 = bt_rss_bytes();
    if (hsafe_loop_run(&loop, bt_cold_root, &a, "root") || a.rc) return -1;
    hsafe_pool_get_stats(&pool, &st);
    if (st.in_use != 0 || st.created != (size_t)n + 1) return -1;
    *spawn_ns = (double)(a.t1 - a.t0) / (double)n;
    *finish_ns = (double)(a.t2 - a.t1) / (double)n;
    *rss_per_task = (double)(a.rss - rss0) / (double)n;
    *stack_size = st.stack_size;
    *guard = st.guard;
    return 0;
}
