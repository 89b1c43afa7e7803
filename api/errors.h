/* api/errors.h - hsafe's error codes, hsafe_strerror, hsafe_config_string.
 * Part of hsafe (the manual is hsafe.h). Public declarations; uses
 * core/base.h.
 */
#ifndef HSAFE__API_ERRORS_H
#define HSAFE__API_ERRORS_H
HSAFE__BEGIN_C

/* The one table of error codes: name, value, and the sentence
 * hsafe_strerror() returns. The enum below is made from it. */
#define HSAFE__ERRORS(X)                                                               \
    X(HSAFE_OK,          0, "success")                                                \
    X(HSAFE_EINVAL,     -1, "invalid argument (NULL, zero, too small or too large)")  \
    X(HSAFE_ENOMEM,     -2, "out of memory: the system refused a mapping")            \
    X(HSAFE_ESTATE,     -3, "object is in the wrong state for this call (resuming "   \
                            "a running coroutine, releasing a stack twice)")          \
    X(HSAFE_EFINISHED,  -4, "coroutine has already finished")                         \
    X(HSAFE_EBUSY,      -5, "pool exhausted: every stack is handed out and the "      \
                            "capacity is reached")                                    \
    X(HSAFE_EOWNER,     -6, "stack belongs to another pool")                          \
    X(HSAFE_EINUSE,     -7, "pool still has stacks handed out")                       \
    X(HSAFE_EPANIC,     -8, "run ended with hsafe_panic()")                           \
    X(HSAFE_ELOCK,      -9, "mlock failed (check RLIMIT_MEMLOCK / ulimit -l)")        \
    X(HSAFE_ENOTSUP,   -10, "not supported on this platform or build")                \
    X(HSAFE_ECANCELED, -11, "cancelled: the task was cancelled")                      \
    X(HSAFE_ETIMEDOUT, -12, "timed out: the deadline passed")                       \
    X(HSAFE_ECLOSED,   -13, "channel closed (and, for a receive, drained)")          \
    X(HSAFE_EAGAIN,    -14, "would block: nothing could be done without waiting")

enum hsafe_error {
#define HSAFE__ERROR_ENUM(name, value, text) name = (value),
    HSAFE__ERRORS(HSAFE__ERROR_ENUM)
#undef HSAFE__ERROR_ENUM
    HSAFE__ERROR_END_ = 1       /* not an error: ends the list */
};

/* A static English sentence for an error code (or a status >= 0). Never NULL. */
HSAFE_API const char *hsafe_strerror(int err);

/* What was selected at compile time and detected at run time, e.g.
 * "hsafe 0.1.0 backend=asm/x86_64-sysv cpu=x86_64 regs=gpr,zmm0-31,k0-7,x87
 *  wipe=explicit_bzero asan=off tsan=off valgrind=on guard=madv_guard".
 * The string is static; tests print it first. Each field and its values:
 * docs/guide.md, "The configuration string". */
HSAFE_API const char *hsafe_config_string(void);

HSAFE__END_C
#endif /* HSAFE__API_ERRORS_H */
