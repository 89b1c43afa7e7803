/* demo.c - a tour of hsafe in one file.
 *
 *   cc -std=c11 -O2 -I. examples/demo.c -o demo && ./demo     (or: make demo)
 *
 * 1. a generator: a producer on a pooled stack that yields values;
 * 2. a sanitized run: a function handles a (fake) secret on a pooled stack,
 *    returns only its result, and hsafe wipes what it left on the stack;
 * 3. a run that fails with hsafe_panic(), and the message it returns;
 * 4. the pool's statistics, with the deepest stack use seen.
 */
#define HSAFE_IMPLEMENTATION
#include "hsafe.h"

#include <stdio.h>
#include <string.h>

/* ---- 1. A generator: Fibonacci numbers below a limit -------------------- */

/* The producer runs on a pooled stack; each hsafe_gen_yield hands a value
 * to the consumer's hsafe_gen_next and waits there for the next one. Its
 * return value is the generator's final value (here: how many it made). */
static uintptr_t fibonacci(hsafe_gen *g, void *arg, uintptr_t limit)
{
    uintptr_t a = 0, b = 1, count = 0;
    (void)arg;
    while (a < limit) {
        uintptr_t next = a + b;
        if (hsafe_gen_yield(g, a, NULL) != HSAFE_OK) break;   /* closed early */
        count++;
        a = b;
        b = next;
    }
    return count;
}

static int demo_generator(hsafe_pool *pool)
{
    hsafe_gen gen;
    uintptr_t value;
    int rc = hsafe_gen_init(&gen, pool, fibonacci, NULL);
    if (rc != HSAFE_OK) return rc;

    printf("1. generator:     ");
    /* The first next passes the limit; later ones pass nothing. */
    while ((rc = hsafe_gen_next(&gen, 100, &value)) == HSAFE_GEN_VALUE)
        printf(" %lu", (unsigned long)value);
    printf("  (%lu values)\n", (unsigned long)value);   /* the final value */

    /* Done: its stack went back to the pool, wiped. Closing is a no-op
     * now; on a generator left early it unwinds the producer. */
    hsafe_gen_close(&gen);
    return rc == HSAFE_GEN_DONE ? HSAFE_OK : rc;
}

/* ---- 2. A sanitized run that handles a secret ----------------------------- */

struct login {
    const char *password;       /* the secret (fake, of course) */
    const char *salt;
};

/* FNV-1a over salt and password: a stand-in for a real key derivation.
 * Everything it copies and computes lives on the run's stack. */
static uintptr_t derive_tag(void *arg)
{
    const struct login *in = (const struct login *)arg;
    char buf[128];
    uint32_t h = 2166136261u;
    size_t i, n;
    n = (size_t)snprintf(buf, sizeof buf, "%s:%s", in->salt, in->password);
    if (n >= sizeof buf) n = sizeof buf - 1;
    for (i = 0; i < n; i++) {
        h ^= (unsigned char)buf[i];
        h *= 16777619u;
    }
    return h;                   /* only the result leaves the run */
}

static int demo_secret(hsafe_pool *pool)
{
    struct login in;
    hsafe_run_info info;
    int rc;
    in.password = "correct horse battery staple";
    in.salt = "demo-salt";
    rc = hsafe_run_ex(pool, derive_tag, &in, 0, &info);
    printf("2. sanitized run:  %s, tag %08lx; the run's stack was wiped after use\n",
           hsafe_strerror(rc), (unsigned long)info.result);
    return rc;
}

/* ---- 3. A run that panics ------------------------------------------------ */

static uintptr_t parse_port(void *arg)
{
    const char *text = (const char *)arg;
    unsigned long port = 0;
    const char *p;
    for (p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            hsafe_panic("not a port number: \"%s\" (bad character '%c')", text, *p);
        port = port * 10 + (unsigned long)(*p - '0');
        if (port > 65535)
            hsafe_panic("port out of range: %s", text);
    }
    return port;
}

static int demo_panic(hsafe_pool *pool)
{
    hsafe_run_info info;
    char bad[] = "80a";
    int rc = hsafe_run_ex(pool, parse_port, bad, 0, &info);
    printf("3. panicking run:  rc %d (%s)\n", rc, hsafe_strerror(rc));
    printf("                   message: %s\n", info.message);
    return rc == HSAFE_EPANIC ? HSAFE_OK : -1;
}

/* ---- 4. Pool statistics -------------------------------------------------- */

static void demo_stats(const hsafe_pool *pool)
{
    hsafe_pool_stats st;
    if (hsafe_pool_get_stats(pool, &st) != HSAFE_OK) return;
    printf("4. pool:           %lu stack(s) created, %lu in use, %lu KiB each, guard %s\n",
           (unsigned long)st.created, (unsigned long)st.in_use,
           (unsigned long)(st.stack_size / 1024), st.guard);
    printf("                   deepest use so far (high-water mark): %lu bytes\n",
           (unsigned long)st.high_water);
}

int main(void)
{
    hsafe_pool pool;
    hsafe_pool_config cfg;
    int rc;

    printf("%s\n\n", hsafe_config_string());

    memset(&cfg, 0, sizeof cfg);        /* zero = defaults */
    cfg.stack_size = 64 * 1024;
    cfg.capacity = 4;
    rc = hsafe_pool_init(&pool, &cfg);
    if (rc != HSAFE_OK) {
        fprintf(stderr, "hsafe_pool_init: %s\n", hsafe_strerror(rc));
        return 1;
    }

    if ((rc = demo_generator(&pool)) != HSAFE_OK ||
        (rc = demo_secret(&pool)) != HSAFE_OK ||
        (rc = demo_panic(&pool)) != HSAFE_OK) {
        fprintf(stderr, "demo failed: %s\n", hsafe_strerror(rc));
        return 1;
    }
    demo_stats(&pool);

    rc = hsafe_pool_destroy(&pool);
    if (rc != HSAFE_OK) {
        fprintf(stderr, "hsafe_pool_destroy: %s\n", hsafe_strerror(rc));
        return 1;
    }
    return 0;
}
