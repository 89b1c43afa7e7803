/* core/errors.h - hsafe_strerror, made from the error table in
 * api/errors.h.
 * Part of hsafe (the manual is hsafe.h). Implementation only; uses
 * api/errors.h and api/coro.h.
 */
#if defined(HSAFE__IMPL) && !defined(HSAFE__ERRORS_IMPL)
#define HSAFE__ERRORS_IMPL 1

HSAFE_API const char *hsafe_strerror(int err)
{
    switch (err) {
#define HSAFE__ERROR_CASE(name, value, text) case (value): return text;
    HSAFE__ERRORS(HSAFE__ERROR_CASE)
#undef HSAFE__ERROR_CASE
    case HSAFE_CORO_SUSPENDED: return "coroutine suspended";
    case HSAFE_CORO_RUNNING:   return "coroutine running";
    case HSAFE_CORO_FINISHED:  return "coroutine finished";
    default:                   return "unknown hsafe error code";
    }
}

#endif /* HSAFE__IMPL */
