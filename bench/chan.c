/* bench/chan.c - channels (issue 12), run by bench/chan.sh next to the Go
 * program bench/go/chan doing the same work in the same run.
 *
 *   chan_pingpong  two tasks on one loop pass an int back and forth over
 *                  two unbuffered channels; ns per round trip (two sends,
 *                  two receives, two task switches). Run pinned to one CPU.
 *   chan_xthread   a bounded channel (HSAFE_CHAN_SHARED, 1024 ints) between
 *                  two threads, each running a loop: a producer task sends
 *                  MSGS ints, a consumer task receives them; messages per
 *                  second from the start to the last receive. Two CPUs.
 *
 * Usage: chan pingpong|xthread. Prints "BENCH <metric> <value>" (the median
 * of REPS repetitions) and, on stderr, each repetition. Standalone
 * program: one translation unit with the implementation.
 */
#define _GNU_SOURCE
#define HSAFE_IMPLEMENTATION
#include "hsafe.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPS 5
#define PP_ROUNDS 200000
#define XT_MSGS 2000000
#define XT_CAP 1024

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

static void make_loop(hsafe_pool *pool, hsafe_loop *loop)
{
    hsafe_pool_config pc;
    hsafe_loop_config lc;
    memset(&pc, 0, sizeof pc);
    pc.stack_size = 64 * 1024;
    pc.capacity = 8;
    if (hsafe_pool_init(pool, &pc)) { fprintf(stderr, "pool init\n"); exit(1); }
    memset(&lc, 0, sizeof lc);
    lc.pool = pool;
    if (hsafe_loop_init(loop, &lc)) { fprintf(stderr, "loop init\n"); exit(1); }
}

static void free_loop(hsafe_pool *pool, hsafe_loop *loop)
{
    hsafe_loop_fini(loop);
    hsafe_pool_destroy(pool);
}

/* ---- ping-pong ---------------------------------------------------------- */

static hsafe_chan ping, pong;
static double pp_ns;

static int ponger(void *arg)
{
    int v;
    (void)arg;
    while (hsafe_chan_recv(&ping, &v, HSAFE_FOREVER) == 0) {
        v++;
        if (hsafe_chan_send(&pong, &v, HSAFE_FOREVER) != 0) return -1;
    }
    return 0;
}

static int pp_root(void *arg)
{
    hsafe_scope s;
    hsafe_task t;
    int v = 0, i;
    hsafe_time t0;
    (void)arg;
    hsafe_scope_open(&s, "pingpong", 0, HSAFE_FOREVER);
    hsafe_scope_spawn(&s, &t, ponger, NULL, "ponger");
    for (i = 0; i < 1000; i++) {                      /* warm up */
        hsafe_chan_send(&ping, &v, HSAFE_FOREVER);
        hsafe_chan_recv(&pong, &v, HSAFE_FOREVER);
    }
    t0 = hsafe_now();
    for (i = 0; i < PP_ROUNDS; i++) {
        hsafe_chan_send(&ping, &v, HSAFE_FOREVER);
        hsafe_chan_recv(&pong, &v, HSAFE_FOREVER);
    }
    pp_ns = (double)(hsafe_now() - t0) / PP_ROUNDS;
    hsafe_chan_close(&ping);
    if (hsafe_scope_join(&s) != 0 || v != PP_ROUNDS + 1000) {
        fprintf(stderr, "chan_pingpong: wrong result %d\n", v);
        exit(1);
    }
    return 0;
}

static void bench_pingpong(void)
{
    hsafe_pool pool;
    hsafe_loop loop;
    double r[REPS];
    int i;
    make_loop(&pool, &loop);
    for (i = 0; i < REPS; i++) {
        hsafe_chan_init(&ping, sizeof(int), NULL, 0, 0);
        hsafe_chan_init(&pong, sizeof(int), NULL, 0, 0);
        if (hsafe_loop_run(&loop, pp_root, NULL, "root") != 0) exit(1);
        r[i] = pp_ns;
        fprintf(stderr, "chan_pingpong rep %d: %.1f ns\n", i, pp_ns);
    }
    free_loop(&pool, &loop);
    printf("BENCH chan_pingpong_ns %.1f\n", median(r, REPS));
}

/* ---- two threads ----------------------------------------------------------- */

static hsafe_chan xt;
static int xt_buf[XT_CAP];
static pthread_barrier_t xt_start;
static hsafe_time xt_t0, xt_t1;
static long long xt_sum;

static int xt_producer(void *arg)
{
    int i;
    (void)arg;
    for (i = 0; i < XT_MSGS; i++)
        if (hsafe_chan_send(&xt, &i, HSAFE_FOREVER) != 0) return -1;
    return 0;
}

static int xt_consumer(void *arg)
{
    int v, i;
    long long sum = 0;
    (void)arg;
    for (i = 0; i < XT_MSGS; i++) {
        if (hsafe_chan_recv(&xt, &v, HSAFE_FOREVER) != 0) return -1;
        sum += v;
    }
    xt_t1 = hsafe_now();
    xt_sum = sum;
    return 0;
}

static void *xt_thread(void *arg)
{
    hsafe_pool pool;
    hsafe_loop loop;
    int rc;
    make_loop(&pool, &loop);
    pthread_barrier_wait(&xt_start);
    if (arg) xt_t0 = hsafe_now();
    rc = hsafe_loop_run(&loop, arg ? xt_producer : xt_consumer, NULL, arg ? "producer" : "consumer");
    free_loop(&pool, &loop);
    if (rc) { fprintf(stderr, "chan_xthread: status %d\n", rc); exit(1); }
    return NULL;
}

static void bench_xthread(void)
{
    double r[REPS];
    int i;
    for (i = 0; i < REPS; i++) {
        pthread_t a, b;
        hsafe_chan_init(&xt, sizeof(int), xt_buf, XT_CAP, HSAFE_CHAN_SHARED);
        pthread_barrier_init(&xt_start, NULL, 2);
        pthread_create(&a, NULL, xt_thread, (void *)1);
        pthread_create(&b, NULL, xt_thread, NULL);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        pthread_barrier_destroy(&xt_start);
        if (xt_sum != (long long)XT_MSGS * (XT_MSGS - 1) / 2) {
            fprintf(stderr, "chan_xthread: wrong sum\n");
            exit(1);
        }
        r[i] = (double)XT_MSGS * 1e9 / (double)(xt_t1 - xt_t0);
        fprintf(stderr, "xthread_chan rep %d: %.0f msgs/s\n", i, r[i]);
    }
    printf("BENCH xthread_chan_msgs_per_s %.0f\n", median(r, REPS));
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "pingpong")) bench_pingpong();
    else if (argc == 2 && !strcmp(argv[1], "xthread")) bench_xthread();
    else { fprintf(stderr, "usage: %s pingpong|xthread\n", argv[0]); return 2; }
    return 0;
}
