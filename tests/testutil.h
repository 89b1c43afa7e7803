/* Small helpers shared by the tests. Each test is one translation unit that
 * defines HSAFE_IMPLEMENTATION, includes hsafe.h and then this file.
 *
 * Exit codes: 0 pass, 77 skipped (the reason printed on stdout), anything
 * else fail. Every test prints hsafe_config_string() first (T_BEGIN). */
#ifndef HSAFE_TESTUTIL_H
#define HSAFE_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if !defined(_WIN32)
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <signal.h>
#endif

static int t_failures;

#define T_BEGIN(name) \
    do { printf("# %s\n# %s\n", (name), hsafe_config_string()); fflush(stdout); } while (0)

#define CHECK(cond) \
    do { if (!(cond)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
                        t_failures++; } } while (0)

#define CHECK_EQ(a, b) \
    do { long long t_a_ = (long long)(a), t_b_ = (long long)(b); \
         if (t_a_ != t_b_) { fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n", \
                                     __FILE__, __LINE__, #a, t_a_, #b, t_b_); t_failures++; } } while (0)

#define T_END() \
    do { if (t_failures) { fprintf(stderr, "FAILED: %d check(s)\n", t_failures); return 1; } \
         printf("ok\n"); return 0; } while (0)

#define T_SKIP(why) do { printf("SKIP: %s\n", (why)); return 77; } while (0)

#if !defined(_WIN32)
/* Run fn(arg) in a child process. Returns the signal that ended it (or 0
 * plus *exit_code), with up to cap-1 bytes of its stderr in buf. */
__attribute__((unused)) static int t_in_child(void (*fn)(void *), void *arg, char *buf, size_t cap, int *exit_code)
{
    int fds[2], status = 0;
    size_t len = 0;
    pid_t pid;
    if (pipe(fds) != 0) { perror("pipe"); exit(2); }
    fflush(stdout); fflush(stderr);
    pid = fork();
    if (pid < 0) { perror("fork"); exit(2); }
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    for (;;) {
        ssize_t n = read(fds[0], buf + len, cap - 1 - len);
        if (n <= 0) break;
        len += (size_t)n;
        if (len == cap - 1) break;
    }
    buf[len] = 0;
    close(fds[0]);
    waitpid(pid, &status, 0);
    if (exit_code) *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

/* CHECK that fn(arg) dies by signal `sig` with `needle` in its stderr. */
#define CHECK_DIES(fn, arg, sig, needle) \
    do { char t_buf_[4096]; int t_code_ = 0; \
         int t_sig_ = t_in_child((fn), (arg), t_buf_, sizeof t_buf_, &t_code_); \
         if (t_sig_ != (sig) || !strstr(t_buf_, (needle))) { \
             fprintf(stderr, "%s:%d: CHECK_DIES(%s) failed: signal %d (want %d), stderr: %s\n", \
                     __FILE__, __LINE__, #fn, t_sig_, (sig), t_buf_); t_failures++; } } while (0)
#endif

#endif /* HSAFE_TESTUTIL_H */
