/* A consumer's program: what every project in tests/consumers/ builds.
 *
 *   app [BACKEND]
 *
 * Checks, and exits 0 only if all hold:
 *   1. hsafe_config_string() names backend BACKEND ("asm", "ucontext",
 *      "fcontext"), when given: the option the consumer chose reached the
 *      implementation;
 *   2. this translation unit and other.c, which include hsafe.h without the
 *      implementation, were compiled for the same backend as the
 *      implementation, and a coroutine created by the implementation is
 *      switched correctly by other.c's inlined hsafe_coro_resume();
 *   3. a sanitized run works, and the run's stack is all zero afterwards.
 * The implementation is in this file unless the build defines
 * CONSUMER_LINKS_HSAFE_IMPL (it links hsafe::impl instead).
 */
#ifndef CONSUMER_LINKS_HSAFE_IMPL
#  define HSAFE_IMPLEMENTATION
#endif
#include "hsafe.h"

#include <stdio.h>
#include <string.h>

const char *other_tu_check(void);

static int failures;

static void check(int ok, const char *what)
{
    printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok) failures++;
}

/* Does the configuration string say backend=<name>, <name> ending at a
 * space or at the '/' of "asm/<arch>"? */
static int says_backend(const char *config, const char *name)
{
    const char *p = strstr(config, "backend=");
    size_t n = strlen(name);
    if (!p) return 0;
    p += strlen("backend=");
    return strncmp(p, name, n) == 0 && (p[n] == ' ' || p[n] == '/');
}

/* Runs on a pooled stack and writes over a kilobyte of it. */
static uintptr_t scribble(void *arg)
{
    volatile unsigned char buf[1024];
    uintptr_t i, sum = 0;
    for (i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(i * 7 + 1);
    for (i = 0; i < sizeof buf; i++) sum += buf[i];
    return sum + (uintptr_t)arg;
}

static void check_run(void)
{
    hsafe_pool pool;
    hsafe_pool_config cfg;
    hsafe_stack *s = NULL;
    uintptr_t result = 0;
    size_t i, nonzero = 0;
    const unsigned char *lo;
    memset(&cfg, 0, sizeof cfg);
    cfg.stack_size = 64 * 1024;
    cfg.capacity = 1;
    if (hsafe_pool_init(&pool, &cfg) != HSAFE_OK) { check(0, "hsafe_pool_init"); return; }
    check(hsafe_run(&pool, scribble, (void *)(uintptr_t)5, &result) == HSAFE_OK &&
          result == 130560 + 5, "hsafe_run returns the function's result");
    /* capacity 1: this is the stack the run used */
    if (hsafe_pool_acquire(&pool, &s) == HSAFE_OK) {
        lo = (const unsigned char *)hsafe_stack_base(s);
        for (i = 0; i < hsafe_stack_size(s); i++) nonzero += lo[i] != 0;
        check(nonzero == 0 && hsafe_stack_high_water(s) >= 1024,
              "the run's stack is all zero afterwards, and its high-water mark covers the run");
        hsafe_pool_release(&pool, s);
    } else {
        check(0, "hsafe_pool_acquire after the run");
    }
    check(hsafe_pool_destroy(&pool) == HSAFE_OK, "hsafe_pool_destroy");
}

int main(int argc, char **argv)
{
    const char *config = hsafe_config_string();
    const char *other;
    printf("%s\n", config);
    if (argc > 1) {
        char what[96];
        snprintf(what, sizeof what, "the implementation was built with backend=%s", argv[1]);
        check(says_backend(config, argv[1]), what);
    }
#if defined(HSAFE__BACKEND_NAME)
    /* A private macro of hsafe.h, read here on purpose: the backend this
     * translation unit's inline code was compiled for. */
    check(says_backend(config, HSAFE__BACKEND_NAME),
          "main.c was compiled for the implementation's backend (" HSAFE__BACKEND_NAME ")");
#endif
    other = other_tu_check();
    check(other == NULL, other ? other : "other.c switches the implementation's coroutines");
    check_run();
    printf("%s\n", failures ? "consumer FAILED" : "consumer ok");
    return failures ? 1 : 0;
}
