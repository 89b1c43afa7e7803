/* Proves the CET rules of the backend selection (x86_64, built by
 * tests/cmake/cet.cmake with -fcf-protection=branch or =full):
 *   - with indirect-branch tracking only (__CET__ == 1) the asm backend is
 *     chosen and works: every landing point starts with endbr64;
 *   - with shadow stacks (__CET__ & 2) and no backend requested, hsafe does
 *     not pick the asm backend, which does not switch shadow stacks, but
 *     ucontext; asking for asm there is a compile error (checked by a
 *     separate ctest that compiles this file with -DHSAFE_BACKEND_ASM). */
#define HSAFE_IMPLEMENTATION
#include "hsafe.h"
#include "testutil.h"

static uintptr_t twice(hsafe_coro *co, uintptr_t v)
{
    for (;;) v = hsafe_coro_yield(co, v * 2);
    return 0;
}

int main(void)
{
    static unsigned char stack[65536];
    hsafe_coro co;
    uintptr_t out = 0;
    const char *cfg;
    T_BEGIN("cet_check");
    cfg = hsafe_config_string();
#if !defined(__CET__)
    T_SKIP("built without -fcf-protection");
#elif __CET__ & 2
    CHECK(strstr(cfg, "backend=ucontext") != NULL);
#else
    CHECK(strstr(cfg, "backend=asm") != NULL);
#endif
    CHECK_EQ(hsafe_coro_init(&co, stack, sizeof stack, twice, NULL), HSAFE_OK);
    CHECK_EQ(hsafe_coro_resume(&co, 21, &out), HSAFE_CORO_SUSPENDED);
    CHECK_EQ(out, 42);
    CHECK_EQ(hsafe_coro_resume(&co, 50, &out), HSAFE_CORO_SUSPENDED);
    CHECK_EQ(out, 100);
    CHECK_EQ(hsafe_coro_fini(&co), HSAFE_OK);
    (void)cfg;
    T_END();
}
