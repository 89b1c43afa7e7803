/* A second translation unit of the consumer: includes hsafe.h without the
 * implementation and switches coroutines with the inline fast path
 * (hsafe_coro_resume, hsafe_coro_yield) compiled here, on contexts that the
 * implementation's hsafe_coro_init prepared. If this file saw another
 * backend than the implementation, that would not work. */
#include "hsafe.h"

#include <string.h>

static uintptr_t tally(hsafe_coro *co, uintptr_t first)
{
    uintptr_t sum = first, i;
    for (i = 1; i <= 3; i++) sum += hsafe_coro_yield(co, i * 10);
    return sum;
}

/* NULL if all is well, else what went wrong. */
const char *other_tu_check(void)
{
    static unsigned char stack[64 * 1024];
    hsafe_coro co;
    uintptr_t out = 0, in;
#if defined(HSAFE__BACKEND_NAME)
    const char *p = strstr(hsafe_config_string(), "backend=" HSAFE__BACKEND_NAME);
    size_t n = strlen("backend=" HSAFE__BACKEND_NAME);
    if (!p || (p[n] != ' ' && p[n] != '/'))
        return "other.c was compiled for another backend (" HSAFE__BACKEND_NAME ") than the implementation";
#endif
    if (hsafe_coro_init(&co, stack, sizeof stack, tally, NULL) != HSAFE_OK)
        return "hsafe_coro_init failed";
    for (in = 1; in <= 3; in++)
        if (hsafe_coro_resume(&co, in, &out) != HSAFE_CORO_SUSPENDED || out != in * 10)
            return "a resume from other.c did not get the yielded value";
    if (hsafe_coro_resume(&co, 4, &out) != HSAFE_CORO_FINISHED || out != 1 + 2 + 3 + 4)
        return "the coroutine did not finish with the sum of the values passed in";
    if (hsafe_coro_fini(&co) != HSAFE_OK) return "hsafe_coro_fini failed";
    return NULL;
}
