/* test_run: sanitized runs, panics, cleanup handlers, in-place mode,
 * maybe_grow and hsafe_stack_remaining, against their documented contract.
 *
 * Proves:
 *   - hsafe_run hands fn's result back (result may be NULL); hsafe_run_ex
 *     fills info (result, stack_used >= what fn wrote and below the stack
 *     size, message "");
 *   - hsafe_panic ends the run from any depth with HSAFE_EPANIC, the
 *     formatted message (truncated to 255 bytes, "(null)" for a NULL
 *     format) and result 0; info may be NULL;
 *   - cleanup handlers run newest-first at a panic and also when fn returns
 *     with handlers still registered whose records outlive fn (static, or
 *     in the caller's frame), even when the handlers use a lot of stack; a
 *     record left registered in fn's own ended frame is misuse and aborts
 *     (it used to be read after its frame died: SIGSEGV or garbage); a
 *     popped handler does not run, pop with execute=1 runs it at once;
 *   - runs nest: a panic in the inner run ends only the inner run, the outer
 *     one goes on and keeps its handlers; an exhausted pool gives
 *     HSAFE_EBUSY, from main and from inside a run;
 *   - HSAFE_RUN_BLOCK_SIGNALS: inside the run SIGUSR1 is blocked (a raised
 *     one stays pending, seen with sigpending) and SIGSEGV is not; the mask
 *     is restored afterwards and the pending signal is delivered then;
 *     without the flag SIGUSR1 is delivered inside the run (this failed on
 *     the ucontext backend, whose switch installed the mask of init time);
 *   - HSAFE_RUN_CATCH_ABORT: abort() inside the run ends it like a panic
 *     (handlers run, message set), the process and the signal mask survive;
 *     abort() outside a run still ends the process;
 *   - bad flags, NULL pool/fn, a destroyed pool: HSAFE_EINVAL, and
 *     hsafe_run's *result is then 0 (it used to be stack garbage);
 *   - misuse aborts with "hsafe: misuse:": hsafe_panic, hsafe_cleanup_push
 *     and hsafe_cleanup_pop outside a run (also inside a plain coroutine),
 *     popping out of order, pushing NULL, hsafe_run_inplace with NULL fn or
 *     an oversized scrub;
 *   - hsafe_run_inplace returns fn's result (on the main stack and inside a
 *     run);
 *   - hsafe_stack_remaining is in (0, stack size) inside a run and shrinks
 *     as the stack deepens; > 0 on the main thread; 0 on a caller-memory
 *     coroutine stack (unknown; on Windows known, from the TEB);
 *   - hsafe_maybe_grow calls fn directly when the red zone fits (same
 *     stack) and on a fresh pooled stack when it does not (from main, and
 *     from inside a run onto a second stack), with its errors (EINVAL,
 *     EBUSY, EPANIC).
 * On Windows each child is this program run again (t_in_child in
 * testutil.h; abort() there is exit code 3, which counts as SIGABRT); the
 * HSAFE_RUN_BLOCK_SIGNALS case and the signal-mask checks are POSIX only.
 */
#ifndef HSAFE_TEST_SHARED_IMPL
#define HSAFE_IMPLEMENTATION
#endif
#include "hsafe.h"
#include "testutil.h"

#include <signal.h>
#if !defined(_WIN32)
#include <sys/resource.h>
#endif

#define STACK_SIZE ((size_t)64 * 1024)

static hsafe_pool pool;

static void pool_setup(hsafe_pool *p, size_t capacity)
{
    hsafe_pool_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.stack_size = STACK_SIZE;
    cfg.capacity = capacity;
    CHECK_EQ(hsafe_pool_init(p, &cfg), HSAFE_OK);
}

/* ---- results and info ------------------------------------------------- */

static uintptr_t add_one(void *arg) { return (uintptr_t)arg + 1; }

/* Writes `n` (arg) non-zero bytes on its stack. */
__attribute__((noinline)) static uintptr_t use_stack(void *arg)
{
    size_t n = (size_t)(uintptr_t)arg, k;
    volatile unsigned char *buf = (volatile unsigned char *)__builtin_alloca(n);
    for (k = 0; k < n; k++) buf[k] = (unsigned char)(k | 1);
    return buf[n / 2];
}

static void test_results(void)
{
    uintptr_t res = 0;
    hsafe_run_info info;
    memset(&info, 0x55, sizeof info);
    CHECK_EQ(hsafe_run(&pool, add_one, (void *)41, &res), HSAFE_OK);
    CHECK_EQ(res, 42);
    CHECK_EQ(hsafe_run(&pool, add_one, (void *)1, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_run(&pool, add_one, NULL, &res), HSAFE_OK);
    CHECK_EQ(res, 1);

    CHECK_EQ(hsafe_run_ex(&pool, add_one, (void *)9, 0, &info), HSAFE_OK);
    CHECK_EQ(info.result, 10);
    CHECK_EQ(info.message[0], 0);
    CHECK(info.stack_used > 0 && info.stack_used < 8192);   /* a tiny function */
    CHECK_EQ(hsafe_run_ex(&pool, add_one, (void *)9, 0, NULL), HSAFE_OK);

    CHECK_EQ(hsafe_run_ex(&pool, use_stack, (void *)(uintptr_t)20000, 0, &info), HSAFE_OK);
    CHECK(info.stack_used >= 20000);
    CHECK(info.stack_used < 20000 + 8192);
    CHECK(info.stack_used < STACK_SIZE);
    printf("# stack_used: 20000-byte buffer -> %zu bytes\n", info.stack_used);
}

/* ---- panics and cleanup handlers --------------------------------------- */

static char order[64];
static void log_char(void *arg)
{
    size_t n = strlen(order);
    if (n + 1 < sizeof order) { order[n] = (char)(uintptr_t)arg; order[n + 1] = 0; }
}

/* A handler that uses a lot of stack, as real cleanup code may. */
static void log_char_big(void *arg)
{
    volatile unsigned char scratch[1024];
    size_t k;
    for (k = 0; k < sizeof scratch; k++) scratch[k] = 0xDD;
    log_char(arg);
}

__attribute__((noinline)) static void panic_here(void)
{
    hsafe_cleanup c;
    hsafe_cleanup_push(&c, log_char, (void *)'E');
    hsafe_panic("failed at %s #%d (%.2f)", "depth", 7, 0.5);
}

static volatile int do_panic = 1;
__attribute__((noinline)) static int deep_panic(int depth)
{
    volatile int here = depth;
    if (depth > 0) here += deep_panic(depth - 1);
    else if (do_panic) panic_here();
    return here;
}

static uintptr_t cleanup_then_panic(void *arg)
{
    hsafe_cleanup a, b, c, d;
    (void)arg;
    hsafe_cleanup_push(&a, log_char, (void *)'A');
    hsafe_cleanup_push(&b, log_char, (void *)'B');
    hsafe_cleanup_push(&c, log_char, (void *)'C');
    hsafe_cleanup_pop(&c, 0);          /* C never runs */
    hsafe_cleanup_push(&d, log_char, (void *)'D');
    hsafe_cleanup_pop(&d, 1);          /* D runs now */
    log_char((void *)'-');
    deep_panic(20);                    /* pushes E, panics */
    log_char((void *)'X');             /* not reached */
    return 99;
}

/* Handlers left registered at return: their records outlive fn (one
 * static, one in the caller's frame, passed through arg); a local one is
 * pushed and popped. */
static hsafe_cleanup static_rec1, static_rec2;
static uintptr_t cleanup_then_return(void *arg)
{
    hsafe_cleanup local;
    hsafe_cleanup_push(&static_rec1, log_char_big, (void *)'1');
    hsafe_cleanup_push((hsafe_cleanup *)arg, log_char_big, (void *)'2');
    hsafe_cleanup_push(&local, log_char_big, (void *)'L');
    hsafe_cleanup_pop(&local, 0);
    hsafe_cleanup_push(&static_rec2, log_char_big, (void *)'3');
    log_char((void *)'-');
    return 5;                          /* 3, 2, 1 run after this */
}

/* A handler left registered in fn's own frame, which ends with fn. */
static uintptr_t leaves_local_registered(void *arg)
{
    hsafe_cleanup local;
    (void)arg;
    hsafe_cleanup_push(&local, log_char_big, (void *)'x');
    return 1;
}

static uintptr_t long_panic(void *arg)
{
    char big[400];
    (void)arg;
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    hsafe_panic("%s", big);
}

static uintptr_t null_format_panic(void *arg)
{
    void (*panic_fn)(const char *, ...) = hsafe_panic;   /* no format checking */
    (void)arg;
    panic_fn(NULL);
    return 1;
}

static void child_dead_record(void *arg)
{
    hsafe_pool p;
    (void)arg;
    pool_setup(&p, 1);
    hsafe_run(&p, leaves_local_registered, NULL, NULL);
    fprintf(stderr, "survived\n");
}

static void test_panic_cleanups(void)
{
    hsafe_run_info info;
    uintptr_t res = 7;

    order[0] = 0;
    CHECK_EQ(hsafe_run_ex(&pool, cleanup_then_panic, NULL, 0, &info), HSAFE_EPANIC);
    CHECK(strcmp(info.message, "failed at depth #7 (0.50)") == 0);
    CHECK_EQ(info.result, 0);
    CHECK(strcmp(order, "D-EBA") == 0);
    if (strcmp(order, "D-EBA") != 0) fprintf(stderr, "order: %s\n", order);
    CHECK(info.stack_used > 0);

    order[0] = 0;
    CHECK_EQ(hsafe_run(&pool, cleanup_then_panic, NULL, &res), HSAFE_EPANIC);
    CHECK_EQ(res, 0);
    CHECK(strcmp(order, "D-EBA") == 0);
    order[0] = 0;
    CHECK_EQ(hsafe_run_ex(&pool, cleanup_then_panic, NULL, 0, NULL), HSAFE_EPANIC);
    CHECK(strcmp(order, "D-EBA") == 0);

    CHECK_EQ(hsafe_run_ex(&pool, long_panic, NULL, 0, &info), HSAFE_EPANIC);
    CHECK_EQ(strlen(info.message), sizeof info.message - 1);
    CHECK_EQ(info.message[0], 'x');

    CHECK_EQ(hsafe_run_ex(&pool, null_format_panic, NULL, 0, &info), HSAFE_EPANIC);
    CHECK(strcmp(info.message, "(null)") == 0);

    /* handlers still registered when fn returns run then, newest first */
    {
        hsafe_cleanup caller_rec;
        order[0] = 0;
        CHECK_EQ(hsafe_run(&pool, cleanup_then_return, &caller_rec, &res), HSAFE_OK);
        CHECK_EQ(res, 5);
        CHECK(strcmp(order, "-321") == 0);
    }
    /* ...but one left in fn's own (ended) frame is misuse */
    CHECK_DIES(child_dead_record, NULL, SIGABRT, "hsafe: misuse:");
    CHECK_DIES(child_dead_record, NULL, SIGABRT, "cleanup handler");

    /* the pool is intact after all those panics */
    {
        hsafe_pool_stats st;
        memset(&st, 0, sizeof st);
        CHECK_EQ(hsafe_pool_get_stats(&pool, &st), HSAFE_OK);
        CHECK_EQ(st.in_use, 0);
    }
}

/* ---- nesting and exhaustion -------------------------------------------- */

static hsafe_run_info inner_info;
static int inner_rc;

static uintptr_t inner_panics(void *arg)
{
    (void)arg;
    hsafe_panic("inner %d", 2);
}

static uintptr_t outer(void *arg)
{
    hsafe_cleanup a;
    size_t outer_left = hsafe_stack_remaining();
    (void)arg;
    hsafe_cleanup_push(&a, log_char, (void *)'O');
    inner_rc = hsafe_run_ex(&pool, inner_panics, NULL, 0, &inner_info);
    /* still inside the outer run, with its handler */
    log_char((void *)'-');
    CHECK(hsafe_stack_remaining() > 0 && hsafe_stack_remaining() <= outer_left);
    hsafe_cleanup_pop(&a, 1);
    return 77;
}

static void test_nesting(void)
{
    hsafe_run_info info;
    hsafe_pool one;
    hsafe_stack *held = NULL;
    order[0] = 0;
    CHECK_EQ(hsafe_run_ex(&pool, outer, NULL, 0, &info), HSAFE_OK);
    CHECK_EQ(info.result, 77);
    CHECK_EQ(info.message[0], 0);
    CHECK_EQ(inner_rc, HSAFE_EPANIC);
    CHECK(strcmp(inner_info.message, "inner 2") == 0);
    CHECK(strcmp(order, "-O") == 0);

    /* a pool of one stack, held by main: busy */
    pool_setup(&one, 1);
    CHECK_EQ(hsafe_pool_acquire(&one, &held), HSAFE_OK);
    memset(&info, 0x55, sizeof info);
    CHECK_EQ(hsafe_run_ex(&one, add_one, NULL, 0, &info), HSAFE_EBUSY);
    CHECK_EQ(info.result, 0);
    CHECK_EQ(info.message[0], 0);
    {
        uintptr_t res = 7;
        CHECK_EQ(hsafe_run(&one, add_one, NULL, &res), HSAFE_EBUSY);
        CHECK_EQ(res, 0);
    }
    CHECK_EQ(hsafe_pool_release(&one, held), HSAFE_OK);
    CHECK_EQ(hsafe_run(&one, add_one, NULL, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_pool_destroy(&one), HSAFE_OK);
}

static hsafe_pool *busy_pool;
static uintptr_t run_on_busy_pool(void *arg)
{
    (void)arg;
    return (uintptr_t)(intptr_t)hsafe_run(busy_pool, add_one, NULL, NULL);
}

static void test_busy_nested(void)
{
    hsafe_pool one;
    uintptr_t res = 0;
    pool_setup(&one, 1);
    busy_pool = &one;
    CHECK_EQ(hsafe_run(&one, run_on_busy_pool, NULL, &res), HSAFE_OK);
    CHECK_EQ((intptr_t)res, HSAFE_EBUSY);
    CHECK_EQ(hsafe_pool_destroy(&one), HSAFE_OK);
}

/* ---- signals ------------------------------------------------------------ */
#if !defined(_WIN32)

static volatile sig_atomic_t usr1_count;
static void on_usr1(int sig) { (void)sig; usr1_count++; }

static int in_blocked, in_segv_blocked, in_pending, count_after_raise;

static uintptr_t look_at_signals(void *arg)
{
    sigset_t cur, pend;
    (void)arg;
    sigemptyset(&cur);
    sigemptyset(&pend);
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    in_blocked = sigismember(&cur, SIGUSR1);
    in_segv_blocked = sigismember(&cur, SIGSEGV);
    raise(SIGUSR1);
    count_after_raise = (int)usr1_count;
    sigpending(&pend);
    in_pending = sigismember(&pend, SIGUSR1);
    return 0;
}

static int same_mask(const sigset_t *a, const sigset_t *b)
{
    int s;
    for (s = 1; s < 32; s++)
        if (sigismember(a, s) != sigismember(b, s)) return 0;
    return 1;
}

static void test_block_signals(void)
{
    struct sigaction sa, old;
    sigset_t before, after;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &old);
    pthread_sigmask(SIG_BLOCK, NULL, &before);

    usr1_count = 0;
    CHECK_EQ(hsafe_run_ex(&pool, look_at_signals, NULL, HSAFE_RUN_BLOCK_SIGNALS, NULL), HSAFE_OK);
    CHECK_EQ(in_blocked, 1);
    CHECK_EQ(in_segv_blocked, 0);
    CHECK_EQ(count_after_raise, 0);     /* held back during the run */
    CHECK_EQ(in_pending, 1);
    CHECK_EQ(usr1_count, 1);            /* delivered once the mask was restored */
    pthread_sigmask(SIG_BLOCK, NULL, &after);
    CHECK(same_mask(&before, &after));

    /* without the flag: delivered inside the run */
    usr1_count = 0;
    CHECK_EQ(hsafe_run_ex(&pool, look_at_signals, NULL, 0, NULL), HSAFE_OK);
    CHECK_EQ(in_blocked, 0);
    CHECK_EQ(count_after_raise, 1);
    CHECK_EQ(in_pending, 0);
    CHECK_EQ(usr1_count, 1);
    pthread_sigmask(SIG_BLOCK, NULL, &after);
    CHECK(same_mask(&before, &after));

    sigaction(SIGUSR1, &old, NULL);
}
#endif

/* ---- catching abort ----------------------------------------------------- */

static uintptr_t aborts(void *arg)
{
    hsafe_cleanup a;
    (void)arg;
    hsafe_cleanup_push(&a, log_char, (void *)'a');
    abort();
}

static void child_abort_outside(void *arg)
{
    hsafe_pool p;
    (void)arg;
    pool_setup(&p, 1);       /* its own: on Windows the child starts afresh */
    /* the handler is installed by a catching run first */
    if (hsafe_run_ex(&p, aborts, NULL, HSAFE_RUN_CATCH_ABORT, NULL) == HSAFE_EPANIC)
        fprintf(stderr, "caught once;");
    abort();
}

static void test_catch_abort(void)
{
    hsafe_run_info info;
#if !defined(_WIN32)
    sigset_t before, after;
#endif
    char buf[256];
    int code = 0;
#if !defined(_WIN32)
    pthread_sigmask(SIG_BLOCK, NULL, &before);
#endif
    order[0] = 0;
    CHECK_EQ(hsafe_run_ex(&pool, aborts, NULL, HSAFE_RUN_CATCH_ABORT, &info), HSAFE_EPANIC);
    CHECK(strstr(info.message, "abort") != NULL);
    CHECK(strcmp(order, "a") == 0);
#if !defined(_WIN32)
    pthread_sigmask(SIG_BLOCK, NULL, &after);
    CHECK(same_mask(&before, &after));
#endif
    /* again, combined with blocking signals */
    order[0] = 0;
    CHECK_EQ(hsafe_run_ex(&pool, aborts, NULL, HSAFE_RUN_CATCH_ABORT | HSAFE_RUN_BLOCK_SIGNALS, &info),
             HSAFE_EPANIC);
    CHECK(strcmp(order, "a") == 0);
#if !defined(_WIN32)
    pthread_sigmask(SIG_BLOCK, NULL, &after);
    CHECK(same_mask(&before, &after));
#endif
    CHECK_EQ(hsafe_run(&pool, add_one, NULL, NULL), HSAFE_OK);
    /* outside a catching run, abort() still ends the process */
    CHECK_EQ(t_in_child(child_abort_outside, NULL, buf, sizeof buf, &code), SIGABRT);
    CHECK(strstr(buf, "caught once;") != NULL);
}

/* ---- bad arguments -------------------------------------------------------- */

/* Leave a pattern on the stack below us, so that an uninitialised local of
 * the next call made from the same frame reads as that pattern. */
static void *(*volatile fill_fn)(void *, int, size_t) = memset;
__attribute__((noinline)) static void dirty_stack(void)
{
    unsigned char buf[8192];
    fill_fn(buf, 0xA5, sizeof buf);
}
static int (*volatile run_ptr)(hsafe_pool *, hsafe_run_fn, void *, uintptr_t *) = hsafe_run;

static void test_bad_args(void)
{
    hsafe_pool dead;
    uintptr_t res = 3;
    /* on an argument error *result is 0, not stack garbage (hsafe_run used
     * to copy its uninitialised info.result there) */
    dirty_stack();
    CHECK_EQ(run_ptr(NULL, add_one, NULL, &res), HSAFE_EINVAL);
    CHECK_EQ(res, 0);
    res = 3;
    dirty_stack();
    CHECK_EQ(run_ptr(&pool, add_one, NULL, &res), HSAFE_OK);
    CHECK_EQ(res, 1);
    CHECK_EQ(hsafe_run(NULL, add_one, NULL, &res), HSAFE_EINVAL);
    CHECK_EQ(hsafe_run(&pool, NULL, NULL, &res), HSAFE_EINVAL);
    CHECK_EQ(hsafe_run_ex(NULL, add_one, NULL, 0, NULL), HSAFE_EINVAL);
    CHECK_EQ(hsafe_run_ex(&pool, NULL, NULL, 0, NULL), HSAFE_EINVAL);
    CHECK_EQ(hsafe_run_ex(&pool, add_one, NULL, 0x80u, NULL), HSAFE_EINVAL);
    CHECK_EQ(hsafe_run_ex(&pool, add_one, NULL, ~0u, NULL), HSAFE_EINVAL);
    CHECK_EQ(hsafe_maybe_grow(NULL, 0, add_one, NULL, &res), HSAFE_EINVAL);
    CHECK_EQ(hsafe_maybe_grow(&pool, 0, NULL, NULL, &res), HSAFE_EINVAL);
    memset(&dead, 0, sizeof dead);                    /* never initialised */
    CHECK_EQ(hsafe_run(&dead, add_one, NULL, &res), HSAFE_EINVAL);
    pool_setup(&dead, 1);
    CHECK_EQ(hsafe_pool_destroy(&dead), HSAFE_OK);    /* destroyed */
    CHECK_EQ(hsafe_run(&dead, add_one, NULL, &res), HSAFE_EINVAL);
    CHECK_EQ(hsafe_maybe_grow(&dead, (size_t)-1, add_one, NULL, &res), HSAFE_EINVAL);
    CHECK_EQ(hsafe_maybe_grow(&dead, 0, add_one, NULL, &res), HSAFE_EINVAL);   /* even if direct */
}

/* ---- misuse ---------------------------------------------------------------- */

static void noop(void *arg) { (void)arg; }

static void panic_outside(void *arg) { (void)arg; hsafe_panic("outside %d", 1); }
static void push_outside(void *arg)
{
    hsafe_cleanup c;
    (void)arg;
    hsafe_cleanup_push(&c, noop, NULL);
    fprintf(stderr, "survived\n");
}
static void pop_outside(void *arg)
{
    hsafe_cleanup c;
    (void)arg;
    memset(&c, 0, sizeof c);
    hsafe_cleanup_pop(&c, 0);
    fprintf(stderr, "survived\n");
}

static uintptr_t pop_wrong(void *arg)
{
    hsafe_cleanup a, b;
    (void)arg;
    hsafe_cleanup_push(&a, noop, NULL);
    hsafe_cleanup_push(&b, noop, NULL);
    hsafe_cleanup_pop(&a, 0);          /* b is the newest */
    return 0;
}
static uintptr_t pop_null(void *arg)
{
    (void)arg;
    hsafe_cleanup_pop(NULL, 0);
    return 0;
}
static uintptr_t push_null(void *arg)
{
    (void)arg;
    hsafe_cleanup_push(NULL, noop, NULL);
    return 0;
}
static uintptr_t push_null_fn(void *arg)
{
    hsafe_cleanup c;
    (void)arg;
    hsafe_cleanup_push(&c, NULL, NULL);
    return 0;
}
/* In a child: run *(hsafe_run_fn *)arg on a fresh pool. */
static void in_run(void *arg)
{
    hsafe_pool p;
    pool_setup(&p, 1);
    hsafe_run(&p, *(hsafe_run_fn *)arg, NULL, NULL);
    fprintf(stderr, "survived\n");
}
static hsafe_run_fn fn_pop_wrong = pop_wrong, fn_pop_null = pop_null,
                    fn_push_null = push_null, fn_push_null_fn = push_null_fn;

static uintptr_t coro_panics(hsafe_coro *co, uintptr_t first)
{
    (void)co;
    (void)first;
    hsafe_panic("in a plain coroutine");
}
static void panic_in_coroutine(void *arg)
{
    static unsigned char stack[32768];
    hsafe_coro co;
    (void)arg;
    if (hsafe_coro_init(&co, stack, sizeof stack, coro_panics, NULL) != HSAFE_OK) _exit(3);
    hsafe_coro_resume(&co, 0, NULL);
    fprintf(stderr, "survived\n");
}

static void inplace_null(void *arg) { (void)arg; hsafe_run_inplace(NULL, NULL, 1024); }
static void inplace_huge(void *arg) { (void)arg; hsafe_run_inplace(add_one, NULL, HSAFE_MAX_STACK_SIZE + 1); }
static void inplace_too_deep(void *arg)
{
    (void)arg;
    /* more than the thread's stack has left (8 MiB default; the limit
     * is checked against what remains) */
    hsafe_run_inplace(add_one, NULL, HSAFE_MAX_STACK_SIZE);
}
static uintptr_t inplace_beyond_run_stack(void *arg)
{
    (void)arg;
    return hsafe_run_inplace(add_one, NULL, STACK_SIZE);
}
static hsafe_run_fn fn_inplace_beyond = inplace_beyond_run_stack;

static void test_misuse(void)
{
    CHECK_DIES(panic_outside, NULL, SIGABRT, "hsafe: misuse:");
    CHECK_DIES(panic_outside, NULL, SIGABRT, "outside 1");
    CHECK_DIES(push_outside, NULL, SIGABRT, "hsafe: misuse:");
    CHECK_DIES(pop_outside, NULL, SIGABRT, "hsafe: misuse:");
    CHECK_DIES(in_run, &fn_pop_wrong, SIGABRT, "hsafe: misuse:");
    CHECK_DIES(in_run, &fn_pop_null, SIGABRT, "hsafe: misuse:");
    CHECK_DIES(in_run, &fn_push_null, SIGABRT, "hsafe: misuse:");
    CHECK_DIES(in_run, &fn_push_null_fn, SIGABRT, "hsafe: misuse:");
    CHECK_DIES(panic_in_coroutine, NULL, SIGABRT, "hsafe: misuse:");
    CHECK_DIES(inplace_null, NULL, SIGABRT, "hsafe: misuse:");
    CHECK_DIES(inplace_huge, NULL, SIGABRT, "hsafe: misuse:");
    if (hsafe_stack_remaining() && hsafe_stack_remaining() < HSAFE_MAX_STACK_SIZE)
        CHECK_DIES(inplace_too_deep, NULL, SIGABRT, "hsafe: misuse:");
    CHECK_DIES(in_run, &fn_inplace_beyond, SIGABRT, "hsafe: misuse:");
}

/* ---- in-place, stack_remaining, maybe_grow -------------------------------- */

static uintptr_t times_three(void *arg)
{
    volatile unsigned char secret[512];
    memset((void *)secret, 0x77, sizeof secret);
    return (uintptr_t)arg * 3 + (secret[100] == 0x77);
}

static uintptr_t inplace_inside_run(void *arg)
{
    return hsafe_run_inplace(times_three, arg, 4096);
}

static size_t remaining_seen, remaining_deeper;
static uintptr_t where_seen;

/* hsafe_stack_remaining from below a 4 KiB frame (buffer and call both
 * through volatile pointers, so nothing is inlined or shrunk). */
static size_t (*volatile remaining_fn)(void) = hsafe_stack_remaining;
static void *(*volatile memset_fn)(void *, int, size_t) = memset;
__attribute__((noinline)) static size_t remaining_below_4k(void)
{
    unsigned char buf[4096];
    memset_fn(buf, 1, sizeof buf);
    return remaining_fn() + buf[0] + buf[sizeof buf - 1] - 2;
}

static uintptr_t note_remaining(void *arg)
{
    volatile int here = 0;
    remaining_seen = hsafe_stack_remaining();
    remaining_deeper = remaining_below_4k();
    where_seen = (uintptr_t)&here;
    return (uintptr_t)arg + here;
}

static uintptr_t grow_inside_run(void *arg)
{
    uintptr_t res = 0, outer_where = (uintptr_t)&res;
    int rc;
    (void)arg;
    /* a red zone bigger than the whole stack: grows onto a second one */
    rc = hsafe_maybe_grow(&pool, STACK_SIZE * 2, note_remaining, (void *)5, &res);
    if (rc != HSAFE_OK || res != 5) return 0;
    /* a different stack: more than a stack size away from ours */
    return (where_seen > outer_where ? where_seen - outer_where : outer_where - where_seen) > STACK_SIZE / 2 ? 1 : 2;
}

static uintptr_t remaining_in_coro;
static uintptr_t coro_remaining(hsafe_coro *co, uintptr_t first)
{
    (void)co;
    (void)first;
    remaining_in_coro = hsafe_stack_remaining();
    return 0;
}

static uintptr_t panics_plain(void *arg) { (void)arg; hsafe_panic("grown and failed"); }

static void test_inplace_grow(void)
{
    uintptr_t res = 0, main_where = (uintptr_t)&res;
    size_t main_left = hsafe_stack_remaining();
    hsafe_pool one;
    hsafe_stack *held = NULL;

    /* in-place */
    CHECK_EQ(hsafe_run_inplace(times_three, (void *)14, 8192), 43);
    CHECK_EQ(hsafe_run_inplace(times_three, (void *)0, 0), 1);
    CHECK_EQ(hsafe_run(&pool, inplace_inside_run, (void *)2, &res), HSAFE_OK);
    CHECK_EQ(res, 7);

    /* remaining on the main thread, and inside a run */
    CHECK(main_left > 0);
    printf("# hsafe_stack_remaining on main: %zu\n", main_left);
    CHECK_EQ(hsafe_run(&pool, note_remaining, (void *)1, &res), HSAFE_OK);
    CHECK_EQ(res, 1);
    CHECK(remaining_seen > 0 && remaining_seen < STACK_SIZE);
    CHECK(remaining_seen > STACK_SIZE / 2);            /* near the top */
    CHECK(remaining_deeper < remaining_seen);
    CHECK(remaining_seen - remaining_deeper >= 4096);

    /* a coroutine on caller memory: unknown (but for Windows) */
    {
        static unsigned char stack[32768];
        hsafe_coro co;
        CHECK_EQ(hsafe_coro_init(&co, stack, sizeof stack, coro_remaining, NULL), HSAFE_OK);
        remaining_in_coro = 12345;
        CHECK_EQ(hsafe_coro_resume(&co, 0, NULL), HSAFE_CORO_FINISHED);
#if defined(_WIN32)
        /* known there: the switch puts the stack's bounds in the TEB */
        CHECK(remaining_in_coro > 0 && remaining_in_coro < sizeof stack);
#else
        CHECK_EQ(remaining_in_coro, 0);
#endif
        CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);
    }

    /* maybe_grow: a small red zone calls directly, on this stack */
    remaining_seen = 0;
    res = 0;
    CHECK_EQ(hsafe_maybe_grow(&pool, 4096, note_remaining, (void *)3, &res), HSAFE_OK);
    CHECK_EQ(res, 3);
    CHECK(remaining_seen > 0 && remaining_seen <= main_left);   /* (may be inlined) */
    CHECK((main_where > where_seen ? main_where - where_seen : where_seen - main_where) < 4096);
    CHECK_EQ(hsafe_maybe_grow(&pool, 0, note_remaining, (void *)3, NULL), HSAFE_OK);
    /* a huge red zone: runs on a pooled stack */
    res = 0;
    CHECK_EQ(hsafe_maybe_grow(&pool, (size_t)-1, note_remaining, (void *)4, &res), HSAFE_OK);
    CHECK_EQ(res, 4);
    CHECK(remaining_seen > 0 && remaining_seen < STACK_SIZE);
    /* from inside a run, onto a second pooled stack */
    CHECK_EQ(hsafe_run(&pool, grow_inside_run, NULL, &res), HSAFE_OK);
    CHECK_EQ(res, 1);
    /* errors of the grown run */
    CHECK_EQ(hsafe_maybe_grow(&pool, (size_t)-1, panics_plain, NULL, &res), HSAFE_EPANIC);
    CHECK_EQ(res, 0);
    pool_setup(&one, 1);
    CHECK_EQ(hsafe_pool_acquire(&one, &held), HSAFE_OK);
    res = 7;
    CHECK_EQ(hsafe_maybe_grow(&one, (size_t)-1, add_one, NULL, &res), HSAFE_EBUSY);
    CHECK_EQ(res, 0);
    CHECK_EQ(hsafe_maybe_grow(&one, 1024, add_one, (void *)8, &res), HSAFE_OK);   /* direct: no stack needed */
    CHECK_EQ(res, 9);
    CHECK_EQ(hsafe_pool_release(&one, held), HSAFE_OK);
    CHECK_EQ(hsafe_pool_destroy(&one), HSAFE_OK);
}

int main(int argc, char **argv)
{
#if !defined(_WIN32)
    struct rlimit no_core;
#endif
    t_child_dispatch(argc, argv);
    T_BEGIN("test_run");
#if !defined(_WIN32)
    no_core.rlim_cur = no_core.rlim_max = 0;
    setrlimit(RLIMIT_CORE, &no_core);       /* some children abort on purpose */
#endif
    pool_setup(&pool, 4);

    test_results();
    test_panic_cleanups();
    test_nesting();
    test_busy_nested();
#if defined(_WIN32)
    printf("# skipped on Windows: HSAFE_RUN_BLOCK_SIGNALS and signal masks (POSIX signals)\n");
#else
    test_block_signals();
#endif
    test_catch_abort();
    test_bad_args();
    test_misuse();
    test_inplace_grow();

    {
        hsafe_pool_stats st;
        memset(&st, 0, sizeof st);
        CHECK_EQ(hsafe_pool_get_stats(&pool, &st), HSAFE_OK);
        CHECK_EQ(st.in_use, 0);
    }
    CHECK_EQ(hsafe_pool_destroy(&pool), HSAFE_OK);
    T_END();
}
