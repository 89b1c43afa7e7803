/* test_coro_basic: the coroutine contract, one rule at a time.
 *
 * Proves, on whichever context backend this is compiled for:
 *   - values travel both ways: the first resume's value is fn's `first`,
 *     each yield's value comes out of resume, each later resume's value is
 *     what yield returns, and fn's return value comes out of the last resume;
 *   - status moves DEAD -> SUSPENDED -> RUNNING (seen from inside) ->
 *     SUSPENDED -> ... -> FINISHED -> (fini) DEAD, and resume returns
 *     SUSPENDED or FINISHED;
 *   - resuming a finished coroutine gives HSAFE_EFINISHED and leaves *out
 *     alone; resuming a running one gives HSAFE_ESTATE, both from inside
 *     itself and from a coroutine it resumed (A -> B -> resume A);
 *     NULL or never-initialised gives HSAFE_EINVAL;
 *   - hsafe_coro_init refuses NULL co/stack/fn, stacks below
 *     HSAFE_CORO_MIN_STACK and sizes that run past the end of the address
 *     space (HSAFE_EINVAL, writing nothing) and accepts exactly the
 *     minimum, on a stack of any alignment;
 *   - hsafe_coro_fini: NULL -> EINVAL, running -> ESTATE (from inside),
 *     suspended or finished -> OK and DEAD, twice -> OK; a coroutine can be
 *     initialised again after it finished, and the same stack can carry a
 *     new coroutine after fini;
 *   - hsafe_coro_user, hsafe_coro_status(NULL), hsafe_strerror of every code
 *     (and of unknown ones), hsafe_wipe (exact range; NULL or 0 ignored),
 *     hsafe_config_string (static, names version, backend, wipe, guard).
 */
#ifndef HSAFE_TEST_SHARED_IMPL
#define HSAFE_IMPLEMENTATION
#endif
#include "hsafe.h"
#include "testutil.h"

#define STACK_SIZE (64 * 1024)

static unsigned char stack_a[STACK_SIZE] __attribute__((aligned(64)));
static unsigned char stack_b[STACK_SIZE] __attribute__((aligned(64)));

/* ---- values both ways ------------------------------------------------- */

static uintptr_t seen_first;
static int status_inside;

static uintptr_t echo_fn(hsafe_coro *co, uintptr_t first)
{
    uintptr_t in;
    seen_first = first;
    status_inside = hsafe_coro_status(co);
    in = hsafe_coro_yield(co, first + 1);      /* out: first+1 */
    in = hsafe_coro_yield(co, in * 2);         /* out: 2*second */
    in = hsafe_coro_yield(co, in ^ 0xffu);     /* out: third^0xff */
    return in + 1000;                          /* out: fourth+1000 */
}

static void test_values(void)
{
    hsafe_coro co;
    uintptr_t out = 0;
    int marker = 0;
    memset(&co, 0, sizeof co);
    CHECK_EQ(hsafe_coro_status(&co), HSAFE_CORO_DEAD);
    CHECK_EQ(hsafe_coro_init(&co, stack_a, sizeof stack_a, echo_fn, &marker), HSAFE_OK);
    CHECK_EQ(hsafe_coro_status(&co), HSAFE_CORO_SUSPENDED);
    CHECK(hsafe_coro_user(&co) == &marker);
    CHECK_EQ(seen_first, 0);

    CHECK_EQ(hsafe_coro_resume(&co, 41, &out), HSAFE_CORO_SUSPENDED);
    CHECK_EQ(seen_first, 41);
    CHECK_EQ(status_inside, HSAFE_CORO_RUNNING);
    CHECK_EQ(out, 42);
    CHECK_EQ(hsafe_coro_status(&co), HSAFE_CORO_SUSPENDED);

    CHECK_EQ(hsafe_coro_resume(&co, 500, &out), HSAFE_CORO_SUSPENDED);
    CHECK_EQ(out, 1000);
    /* out may be NULL */
    CHECK_EQ(hsafe_coro_resume(&co, 0x100, NULL), HSAFE_CORO_SUSPENDED);
    CHECK_EQ(hsafe_coro_resume(&co, 7, &out), HSAFE_CORO_FINISHED);
    CHECK_EQ(out, 1007);
    CHECK_EQ(hsafe_coro_status(&co), HSAFE_CORO_FINISHED);

    /* finished: EFINISHED, out defined (0), status unchanged */
    out = 12345;
    CHECK_EQ(hsafe_coro_resume(&co, 1, &out), HSAFE_EFINISHED);
    CHECK_EQ(out, 0);
    CHECK_EQ(hsafe_coro_resume(&co, 1, NULL), HSAFE_EFINISHED);
    CHECK_EQ(hsafe_coro_status(&co), HSAFE_CORO_FINISHED);

    CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);
    CHECK_EQ(hsafe_coro_status(&co), HSAFE_CORO_DEAD);
    CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);          /* twice is harmless */
    out = 12345;
    CHECK_EQ(hsafe_coro_resume(&co, 1, &out), HSAFE_EINVAL);  /* after fini */
    CHECK_EQ(out, 0);
}

/* full-width values, and many round trips */
static uintptr_t counter_fn(hsafe_coro *co, uintptr_t first)
{
    uintptr_t v = first;
    for (;;) {
        if (v == 0) return UINTPTR_MAX;
        v = hsafe_coro_yield(co, ~v);
    }
}

static void test_many_round_trips(void)
{
    hsafe_coro co;
    uintptr_t out = 0, i;
    int bad = 0;
    CHECK_EQ(hsafe_coro_init(&co, stack_a, sizeof stack_a, counter_fn, NULL), HSAFE_OK);
    CHECK(hsafe_coro_user(&co) == NULL);
    for (i = 1; i <= 20000; i++) {
        uintptr_t in = i * (uintptr_t)0x9e3779b97f4a7c15ull;
        if (in == 0) in = 1;
        if (hsafe_coro_resume(&co, in, &out) != HSAFE_CORO_SUSPENDED || out != ~in) bad++;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(hsafe_coro_resume(&co, 0, &out), HSAFE_CORO_FINISHED);
    CHECK(out == UINTPTR_MAX);
    CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);
}

/* ---- running coroutines cannot be resumed or finalised ------------------ */

static hsafe_coro co_a, co_b;
static int a_self_resume, a_self_fini, b_resume_a, b_fini_a, a_resume_b;
static uintptr_t a_resume_b_out;

static uintptr_t b_fn(hsafe_coro *co, uintptr_t first)
{
    uintptr_t out = 99;
    (void)first;
    /* A resumed us: A is running (it is our resumer). */
    b_resume_a = hsafe_coro_resume(&co_a, 5, &out);
    b_fini_a = hsafe_coro_fini(&co_a);
    CHECK_EQ(out, 0);                   /* an error still defines out */
    CHECK_EQ(hsafe_coro_status(&co_a), HSAFE_CORO_RUNNING);
    CHECK_EQ(hsafe_coro_status(co), HSAFE_CORO_RUNNING);
    hsafe_coro_yield(co, 77);
    return 78;
}

static uintptr_t a_fn(hsafe_coro *co, uintptr_t first)
{
    (void)first;
    a_self_resume = hsafe_coro_resume(co, 1, NULL);
    a_self_fini = hsafe_coro_fini(co);
    a_resume_b = hsafe_coro_resume(&co_b, 0, &a_resume_b_out);
    hsafe_coro_yield(co, 1);
    /* B is suspended in its own yield; finish it from here. */
    CHECK_EQ(hsafe_coro_resume(&co_b, 0, &a_resume_b_out), HSAFE_CORO_FINISHED);
    CHECK_EQ(a_resume_b_out, 78);
    return 2;
}

static void test_running(void)
{
    uintptr_t out = 0;
    CHECK_EQ(hsafe_coro_init(&co_a, stack_a, sizeof stack_a, a_fn, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_coro_init(&co_b, stack_b, sizeof stack_b, b_fn, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_coro_resume(&co_a, 0, &out), HSAFE_CORO_SUSPENDED);
    CHECK_EQ(out, 1);
    CHECK_EQ(a_self_resume, HSAFE_ESTATE);
    CHECK_EQ(a_self_fini, HSAFE_ESTATE);
    CHECK_EQ(b_resume_a, HSAFE_ESTATE);
    CHECK_EQ(b_fini_a, HSAFE_ESTATE);
    CHECK_EQ(a_resume_b, HSAFE_CORO_SUSPENDED);
    CHECK_EQ(a_resume_b_out, 77);
    CHECK_EQ(hsafe_coro_status(&co_a), HSAFE_CORO_SUSPENDED);
    CHECK_EQ(hsafe_coro_status(&co_b), HSAFE_CORO_SUSPENDED);
    CHECK_EQ(hsafe_coro_resume(&co_a, 0, &out), HSAFE_CORO_FINISHED);
    CHECK_EQ(out, 2);
    CHECK_EQ(hsafe_coro_status(&co_b), HSAFE_CORO_FINISHED);
    CHECK_EQ(hsafe_coro_fini(&co_a), HSAFE_OK);
    CHECK_EQ(hsafe_coro_fini(&co_b), HSAFE_OK);
}

/* ---- init errors, minimum and odd stacks -------------------------------- */

static uintptr_t add_fn(hsafe_coro *co, uintptr_t first)
{
    uintptr_t second = hsafe_coro_yield(co, first + 1);
    return first + second;
}

static void test_init_errors(void)
{
    hsafe_coro co;
    uintptr_t out = 0;
    size_t off;
    memset(&co, 0, sizeof co);
    CHECK_EQ(hsafe_coro_init(NULL, stack_a, sizeof stack_a, add_fn, NULL), HSAFE_EINVAL);
    CHECK_EQ(hsafe_coro_init(&co, NULL, sizeof stack_a, add_fn, NULL), HSAFE_EINVAL);
    CHECK_EQ(hsafe_coro_init(&co, stack_a, sizeof stack_a, NULL, NULL), HSAFE_EINVAL);
    CHECK_EQ(hsafe_coro_init(&co, stack_a, 0, add_fn, NULL), HSAFE_EINVAL);
    CHECK_EQ(hsafe_coro_init(&co, stack_a, HSAFE_CORO_MIN_STACK - 1, add_fn, NULL), HSAFE_EINVAL);
    CHECK_EQ(hsafe_coro_status(&co), HSAFE_CORO_DEAD);   /* failed init left it alone */

    /* a size that runs past the end of the address space: refused, and
     * nothing is written (it used to place the first frame below the
     * buffer: the stack top wrapped around) */
    memset(stack_b, 0xC3, sizeof stack_b);
    CHECK_EQ(hsafe_coro_init(&co, stack_b + 4096, (size_t)-1, add_fn, NULL), HSAFE_EINVAL);
    CHECK_EQ(hsafe_coro_init(&co, stack_b + 4096, (size_t)-1 - 4096 - (uintptr_t)stack_b + 16,
                             add_fn, NULL), HSAFE_EINVAL);
    CHECK_EQ(hsafe_coro_status(&co), HSAFE_CORO_DEAD);
    for (off = 0; off < sizeof stack_b; off++)
        if (stack_b[off] != 0xC3) break;
    CHECK_EQ(off, sizeof stack_b);

    /* NULL and never-initialised */
    CHECK_EQ(hsafe_coro_resume(NULL, 0, &out), HSAFE_EINVAL);
    CHECK_EQ(hsafe_coro_resume(&co, 0, &out), HSAFE_EINVAL);
    CHECK_EQ(hsafe_coro_fini(NULL), HSAFE_EINVAL);
    CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);            /* never initialised: DEAD */
    CHECK_EQ(hsafe_coro_status(NULL), HSAFE_CORO_DEAD);
    CHECK(hsafe_coro_user(NULL) == NULL);

    /* exactly the minimum works (the function is small) */
    CHECK(HSAFE_CORO_MIN_STACK >= 1024 && HSAFE_CORO_MIN_STACK <= sizeof stack_a);
    CHECK_EQ(hsafe_coro_init(&co, stack_a + sizeof stack_a - HSAFE_CORO_MIN_STACK,
                             HSAFE_CORO_MIN_STACK, add_fn, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_coro_resume(&co, 10, &out), HSAFE_CORO_SUSPENDED);
    CHECK_EQ(out, 11);
    CHECK_EQ(hsafe_coro_resume(&co, 5, &out), HSAFE_CORO_FINISHED);
    CHECK_EQ(out, 15);
    CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);

    /* any alignment of base and size */
    for (off = 1; off < 16; off += 3) {
        CHECK_EQ(hsafe_coro_init(&co, stack_b + off, sizeof stack_b - 2 * off, add_fn, NULL), HSAFE_OK);
        CHECK_EQ(hsafe_coro_resume(&co, off, &out), HSAFE_CORO_SUSPENDED);
        CHECK_EQ(out, off + 1);
        CHECK_EQ(hsafe_coro_resume(&co, 100, &out), HSAFE_CORO_FINISHED);
        CHECK_EQ(out, off + 100);
        CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);
    }
}

/* ---- fini, re-init, reuse ----------------------------------------------- */

static int abandoned_resumed;

static uintptr_t abandon_fn(hsafe_coro *co, uintptr_t first)
{
    hsafe_coro_yield(co, first);
    abandoned_resumed = 1;      /* must never run: fini abandons us */
    return 0;
}

static void test_fini_reuse(void)
{
    hsafe_coro co, co2;
    uintptr_t out = 0;

    /* fini of a suspended coroutine abandons it */
    CHECK_EQ(hsafe_coro_init(&co, stack_a, sizeof stack_a, abandon_fn, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_coro_resume(&co, 3, &out), HSAFE_CORO_SUSPENDED);
    CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);
    CHECK_EQ(hsafe_coro_status(&co), HSAFE_CORO_DEAD);
    CHECK_EQ(hsafe_coro_resume(&co, 0, &out), HSAFE_EINVAL);
    CHECK_EQ(abandoned_resumed, 0);

    /* fini of a never-resumed coroutine */
    CHECK_EQ(hsafe_coro_init(&co, stack_a, sizeof stack_a, abandon_fn, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);
    CHECK_EQ(abandoned_resumed, 0);

    /* re-init after finish, without fini, on the same object and stack */
    CHECK_EQ(hsafe_coro_init(&co, stack_a, sizeof stack_a, add_fn, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_coro_resume(&co, 1, &out), HSAFE_CORO_SUSPENDED);
    CHECK_EQ(hsafe_coro_resume(&co, 2, &out), HSAFE_CORO_FINISHED);
    CHECK_EQ(out, 3);
    CHECK_EQ(hsafe_coro_init(&co, stack_a, sizeof stack_a, add_fn, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_coro_status(&co), HSAFE_CORO_SUSPENDED);
    CHECK_EQ(hsafe_coro_resume(&co, 20, &out), HSAFE_CORO_SUSPENDED);
    CHECK_EQ(out, 21);
    CHECK_EQ(hsafe_coro_resume(&co, 30, &out), HSAFE_CORO_FINISHED);
    CHECK_EQ(out, 50);
    CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);

    /* the same stack, after fini, for another coroutine object; the old
     * stack contents (garbage from the last run) do not matter */
    memset(stack_a, 0xA5, sizeof stack_a);
    CHECK_EQ(hsafe_coro_init(&co2, stack_a, sizeof stack_a, echo_fn, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_coro_resume(&co2, 8, &out), HSAFE_CORO_SUSPENDED);
    CHECK_EQ(out, 9);
    CHECK_EQ(hsafe_coro_resume(&co2, 4, &out), HSAFE_CORO_SUSPENDED);
    CHECK_EQ(out, 8);
    CHECK_EQ(hsafe_coro_resume(&co2, 0, &out), HSAFE_CORO_SUSPENDED);
    CHECK_EQ(out, 0xff);
    CHECK_EQ(hsafe_coro_resume(&co2, 1, &out), HSAFE_CORO_FINISHED);
    CHECK_EQ(out, 1001);
    CHECK_EQ(hsafe_coro_fini(&co2), HSAFE_OK);

    /* an abandoned (suspended, then fini'd) coroutine's stack is reusable */
    CHECK_EQ(hsafe_coro_init(&co, stack_b, sizeof stack_b, abandon_fn, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_coro_resume(&co, 3, &out), HSAFE_CORO_SUSPENDED);
    CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);
    CHECK_EQ(hsafe_coro_init(&co, stack_b, sizeof stack_b, add_fn, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_coro_resume(&co, 6, &out), HSAFE_CORO_SUSPENDED);
    CHECK_EQ(out, 7);
    CHECK_EQ(hsafe_coro_resume(&co, 6, &out), HSAFE_CORO_FINISHED);
    CHECK_EQ(out, 12);
    CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);
    CHECK_EQ(abandoned_resumed, 0);
}

/* ---- a coroutine object on the heap, a coroutine that never yields ------- */

static uintptr_t ret_fn(hsafe_coro *co, uintptr_t first)
{
    CHECK_EQ(hsafe_coro_status(co), HSAFE_CORO_RUNNING);
    return first * 3;
}

static void test_no_yield(void)
{
    hsafe_coro *co = (hsafe_coro *)malloc(sizeof *co);
    uintptr_t out = 0;
    CHECK(co != NULL);
    if (!co) return;
    CHECK_EQ(hsafe_coro_init(co, stack_b, sizeof stack_b, ret_fn, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_coro_resume(co, 14, &out), HSAFE_CORO_FINISHED);
    CHECK_EQ(out, 42);
    CHECK_EQ(hsafe_coro_fini(co), HSAFE_OK);
    free(co);
}

static void test_strerror(void)
{
    static const int codes[] = { HSAFE_OK, HSAFE_EINVAL, HSAFE_ENOMEM, HSAFE_ESTATE,
                                 HSAFE_EFINISHED, HSAFE_EBUSY, HSAFE_EOWNER, HSAFE_EINUSE,
                                 HSAFE_EPANIC, HSAFE_ELOCK, HSAFE_ENOTSUP };
    const char *unknown = hsafe_strerror(-1000);
    size_t i, j;
    CHECK(unknown != NULL);
    CHECK(strcmp(hsafe_strerror(HSAFE_OK), "success") == 0);
    CHECK(strcmp(hsafe_strerror(-1000), hsafe_strerror(12345)) == 0);   /* one "unknown" sentence */
    CHECK(hsafe_strerror(12345) != NULL);
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = hsafe_strerror(codes[i]);
        CHECK(s != NULL && s[0] != 0);
        CHECK(s != unknown && strcmp(s, unknown) != 0);
        for (j = 0; j < i; j++) CHECK(strcmp(s, hsafe_strerror(codes[j])) != 0);
    }
    CHECK(strcmp(hsafe_strerror(HSAFE_CORO_FINISHED), unknown) != 0);
    CHECK(strcmp(hsafe_strerror(HSAFE_CORO_SUSPENDED), unknown) != 0);
}

/* hsafe_wipe and hsafe_config_string, the two helpers with no object */
static void test_wipe_config(void)
{
    unsigned char buf[64];
    const char *cfg = hsafe_config_string();
    size_t k;
    memset(buf, 0xAB, sizeof buf);
    hsafe_wipe(NULL, 0);                  /* nothing to do */
    hsafe_wipe(NULL, 100);                /* ignored */
    hsafe_wipe(buf, 0);
    CHECK_EQ(buf[0], 0xAB);
    hsafe_wipe(buf + 8, 40);
    for (k = 0; k < sizeof buf; k++)
        if (buf[k] != ((k >= 8 && k < 48) ? 0 : 0xAB)) break;
    CHECK_EQ(k, sizeof buf);
    CHECK(cfg != NULL);
    CHECK(strncmp(cfg, "hsafe " HSAFE_VERSION " ", strlen("hsafe " HSAFE_VERSION " ")) == 0);
    CHECK(strstr(cfg, "backend=") != NULL);
    CHECK(strstr(cfg, "wipe=") != NULL);
    CHECK(strstr(cfg, "guard=") != NULL);
    CHECK(hsafe_config_string() == cfg);  /* static, the same every time */
}

int main(void)
{
    T_BEGIN("test_coro_basic");
#if !defined(_WIN32)
    (void)t_in_child;   /* testutil.h helper this test does not need */
#endif
    test_values();
    test_many_round_trips();
    test_running();
    test_init_errors();
    test_fini_reuse();
    test_no_yield();
    test_strerror();
    test_wipe_config();
    T_END();
}
