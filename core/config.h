/* core/config.h - hsafe_config_string: what was chosen at compile time and
 * found at run time.
 * Part of hsafe (the manual is hsafe.h; the API is api/errors.h).
 * Implementation only; uses the backend, CPU and OS files' names.
 */
#if defined(HSAFE__IMPL) && !defined(HSAFE__CONFIG_IMPL)
#define HSAFE__CONFIG_IMPL 1
#include <stdio.h>

static char hsafe__config_buf[320];

HSAFE_API const char *hsafe_config_string(void)
{
    static int done;
    if (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        hsafe__cpu_init_once();
        snprintf(hsafe__config_buf, sizeof hsafe__config_buf,
                 "hsafe %s backend=%s cpu=%s regs=%s wipe=%s%s asan=%s tsan=%s valgrind=%s guard=%s",
                 HSAFE_VERSION, HSAFE__BACKEND_NAME, HSAFE__CPU_NAME, hsafe__cpu_regs_desc(),
                 HSAFE__WIPE_NAME,
#if defined(HSAFE_TEST_NO_WIPE)
                 "(DISABLED:HSAFE_TEST_NO_WIPE)",
#else
                 "",
#endif
#if defined(HSAFE__ASAN)
                 "on",
#else
                 "off",
#endif
#if defined(HSAFE__TSAN)
                 "on",
#else
                 "off",
#endif
#if defined(HSAFE__VALGRIND)
                 "on",
#else
                 "off",
#endif
                 hsafe__os_guard_name(hsafe__os_probe_guard()));
        __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    }
    return hsafe__config_buf;
}

#endif /* HSAFE__IMPL */
