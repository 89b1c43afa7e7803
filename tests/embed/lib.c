/* tests/embed/lib.c - a library that embeds its own private copy of hsafe
 * (dist/hsafe.h with HSAFE_PRIVATE): nothing of hsafe is visible outside
 * this translation unit. Compiled twice by tests/phases/25-build-rules.sh,
 * with -DLIB=a and -DLIB=b, into two objects linked into one program
 * (main.c): both copies must work side by side. */
#define HSAFE_PRIVATE
#define HSAFE_IMPLEMENTATION
#include "hsafe.h"
#include <stdio.h>

#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(LIB, name)

static hsafe_pool pool;

static uintptr_t add_one(void *arg) { return *(const uintptr_t *)arg + 1; }

static volatile unsigned long depth_limit = ~0ul;
__attribute__((noinline)) static unsigned long recurse(unsigned long d)
{
    volatile unsigned char buf[512];
    unsigned k;
    for (k = 0; k < sizeof buf; k++) buf[k] = (unsigned char)(d + k);
    if (d >= depth_limit) return buf[0];
    return recurse(d + 1) + buf[511];
}
static uintptr_t forever(void *arg) { (void)arg; return (uintptr_t)recurse(0); }

/* Set up this copy's pool (its own stack size, so a message names it). */
int FN(init)(size_t stack_size)
{
    hsafe_pool_config c;
    memset(&c, 0, sizeof c);
    c.stack_size = stack_size;
    return hsafe_pool_init(&pool, &c);
}

/* A sanitized run on this copy's pool: returns x + 1, or -1. */
long FN(work)(uintptr_t x)
{
    uintptr_t r = 0;
    return hsafe_run(&pool, add_one, &x, &r) == HSAFE_OK ? (long)r : -1;
}

/* Overflow a run of this copy: must end the process with its message. */
void FN(overflow)(void) { hsafe_run(&pool, forever, NULL, NULL); }

const char *FN(config)(void) { return hsafe_config_string(); }
