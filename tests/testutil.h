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
#if defined(_WIN32)
#include <signal.h>
#include <windows.h>
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

#if defined(_WIN32)
/* Windows has no fork(): t_in_child runs this program again, as
 *     <exe> --t-child <fn offset> <arg> <parent image base>
 * and t_child_dispatch(argc, argv), called first thing in main, runs
 * fn(arg) there and exits 0. fn is sent as an offset from the image base
 * (the child may be loaded elsewhere), and so is arg when it points into
 * the image (static data); any other arg is passed as a number, so it must
 * mean the same in a fresh process (NULL, an integer, a static's address).
 * The child starts from main, not from the parent's state at the call.
 *
 * The "signal" returned is what the exit code says: 3 (the CRT's abort())
 * is SIGABRT; EXCEPTION_ACCESS_VIOLATION, EXCEPTION_STACK_OVERFLOW and
 * STATUS_GUARD_PAGE_VIOLATION are SIGSEGV; anything else is 0 plus
 * *exit_code. */
__attribute__((unused)) static uintptr_t t_image_base(size_t *size)
{
    HMODULE m = GetModuleHandleA(NULL);
    const IMAGE_DOS_HEADER *dos = (const IMAGE_DOS_HEADER *)(const void *)m;
    const IMAGE_NT_HEADERS *nt = (const IMAGE_NT_HEADERS *)(const void *)((const char *)m + dos->e_lfanew);
    if (size) *size = nt->OptionalHeader.SizeOfImage;
    return (uintptr_t)m;
}

/* In a child, an exception nothing handles ends the process with its code
 * at once, as it does on Windows when no debugger is set up (wine would
 * start winedbg and print a crash report instead). */
static LONG WINAPI t_child_unhandled(EXCEPTION_POINTERS *e)
{
    TerminateProcess(GetCurrentProcess(), (UINT)e->ExceptionRecord->ExceptionCode);
    return EXCEPTION_CONTINUE_SEARCH;
}

__attribute__((unused)) static void t_child_dispatch(int argc, char **argv)
{
    size_t size = 0;
    uintptr_t base = t_image_base(&size), off, arg, pbase;
    void (*fn)(void *);
    if (argc != 5 || strcmp(argv[1], "--t-child") != 0) return;
    off = (uintptr_t)strtoull(argv[2], NULL, 16);
    arg = (uintptr_t)strtoull(argv[3], NULL, 16);
    pbase = (uintptr_t)strtoull(argv[4], NULL, 16);
    if (arg >= pbase && arg - pbase < size) arg = arg - pbase + base;
    SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
    SetUnhandledExceptionFilter(t_child_unhandled);
    fn = (void (*)(void *))(base + off);
    fn((void *)arg);
    fflush(NULL);
    _exit(0);
}

__attribute__((unused)) static int t_in_child(void (*fn)(void *), void *arg, char *buf, size_t cap, int *exit_code)
{
    char exe[MAX_PATH], cmd[MAX_PATH + 128];
    SECURITY_ATTRIBUTES sa;
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    HANDLE rd = NULL, wr = NULL;
    DWORD code = 0, n = 0;
    size_t len = 0;
    uintptr_t base = t_image_base(NULL);
    buf[0] = 0;
    if (!GetModuleFileNameA(NULL, exe, sizeof exe)) { fprintf(stderr, "GetModuleFileName\n"); exit(2); }
    snprintf(cmd, sizeof cmd, "\"%s\" --t-child %llx %llx %llx", exe,
             (unsigned long long)((uintptr_t)fn - base), (unsigned long long)(uintptr_t)arg,
             (unsigned long long)base);
    memset(&sa, 0, sizeof sa);
    sa.nLength = sizeof sa;
    sa.bInheritHandle = TRUE;
    if (!CreatePipe(&rd, &wr, &sa, 0)) { fprintf(stderr, "CreatePipe\n"); exit(2); }
    SetHandleInformation(rd, HANDLE_FLAG_INHERIT, 0);
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
    si.hStdError = wr;
    fflush(stdout); fflush(stderr);
    if (!CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
        fprintf(stderr, "CreateProcess(%s): %lu\n", cmd, (unsigned long)GetLastError());
        exit(2);
    }
    CloseHandle(wr);
    while (len + 1 < cap && ReadFile(rd, buf + len, (DWORD)(cap - 1 - len), &n, NULL) && n)
        len += n;
    buf[len] = 0;
    CloseHandle(rd);
    WaitForSingleObject(pi.hProcess, INFINITE);
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hProcess);
    CloseHandle(pi.hThread);
    if (exit_code) *exit_code = (int)code;
    if (code == 3) return SIGABRT;
    if (code == (DWORD)EXCEPTION_ACCESS_VIOLATION || code == (DWORD)EXCEPTION_STACK_OVERFLOW ||
        code == (DWORD)STATUS_GUARD_PAGE_VIOLATION)
        return SIGSEGV;
    return 0;
}
#else
/* Nothing to do: t_in_child forks. */
#define t_child_dispatch(argc, argv) ((void)(argc), (void)(argv))
#endif

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
#endif

/* CHECK that fn(arg) dies by signal `sig` with `needle` in its stderr. */
#define CHECK_DIES(fn, arg, sig, needle) \
    do { char t_buf_[4096]; int t_code_ = 0; \
         int t_sig_ = t_in_child((fn), (arg), t_buf_, sizeof t_buf_, &t_code_); \
         if (t_sig_ != (sig) || !strstr(t_buf_, (needle))) { \
             fprintf(stderr, "%s:%d: CHECK_DIES(%s) failed: signal %d (want %d), stderr: %s\n", \
                     __FILE__, __LINE__, #fn, t_sig_, (sig), t_buf_); t_failures++; } } while (0)

/* Valgrind, as the tests see it: T_ON_VALGRIND (running under it) and
 * T_VG_QUIET_BEGIN/END (no error reports in between, for scans that read
 * below live stack pointers on purpose). The tests detect it themselves:
 * the implementation's own flags are private to the file that defines
 * HSAFE_IMPLEMENTATION, which for most tests is another object. */
#if defined(__has_include) && !defined(_WIN32)
#  if __has_include(<valgrind/valgrind.h>)
#    include <valgrind/valgrind.h>
#    define T_ON_VALGRIND (RUNNING_ON_VALGRIND)
#    define T_VG_QUIET_BEGIN VALGRIND_DISABLE_ERROR_REPORTING
#    define T_VG_QUIET_END VALGRIND_ENABLE_ERROR_REPORTING
#  endif
#endif
#if !defined(T_ON_VALGRIND)
#  define T_ON_VALGRIND 0
#  define T_VG_QUIET_BEGIN ((void)0)
#  define T_VG_QUIET_END ((void)0)
#endif

#endif /* HSAFE_TESTUTIL_H */
