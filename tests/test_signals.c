/* test_signals: hsafe's SIGSEGV handler speaks for the runs' overflows, and
 * only for them; every other signal goes where it would go without hsafe.
 *
 * Each case runs in a fresh process: this program executed again
 * (/proc/self/exe --t-signals CASE), so nothing is bound yet (lazy binding
 * as in a real program's first fault) and nothing is inherited from the
 * checks before it. Proves:
 *   1. recursion with 32 KiB frames in a run (frames larger than the guard,
 *      so they jump over it): the process prints the whole overflow message,
 *      a line from "hsafe: stack overflow" to "(use a larger
 *      hsafe_pool_config.stack_size)", and dies by SIGSEGV; with lazy
 *      binding (LD_BIND_NOW unset) and with LD_BIND_NOW=1. (Once: the
 *      handler ran on the alternate signal stack the recursion had already
 *      entered and faulted again inside the lazy binding of strlen; the
 *      message stopped at "...sanitized run: the ".)
 *   2. raise(SIGSEGV) and kill(getpid(), SIGSEGV) after one hsafe_run,
 *      outside any run: the process dies by SIGSEGV, as without hsafe.
 *      (Once: the first was swallowed and the program carried on.)
 *   3. a SIGSEGV handler the program installed before hsafe's first run
 *      gets every such signal (3 raises, 3 calls; also with SA_SIGINFO and
 *      kill), and hsafe's handler stays installed: a later run's overflow
 *      still prints the message and kills by SIGSEGV.
 *   4. a signal whose frame does not fit on the run's stack: a run fills
 *      its stack to about 0.9 KiB from the end and raises SIGUSR1 (handler
 *      without SA_ONSTACK). The kernel cannot push the frame and forces a
 *      SIGSEGV (si_code SI_KERNEL, si_addr NULL): the process must end with
 *      the overflow message naming the run's stack (its size in bytes) and
 *      SIGSEGV. (Once: nothing printed, the SIGUSR1 lost, hsafe_run
 *      returned success and hsafe's handler was uninstalled.)
 *   5. nested SIGABRT handlers in a run on 8 KiB and 16 KiB stacks (a
 *      handler that calls functions and abort()s again, the inner handler
 *      returns; libsodium's misuse test does this): either both handlers
 *      run and the process dies by SIGABRT, as it does natively (checked
 *      too, on the main thread), or it ends with the whole overflow message
 *      and SIGSEGV; never a silent exit or a death without a message.
 *      (Once: exit by SIGABRT with the inner handler never run.)
 * POSIX only; skipped under ASan/TSan (their SIGSEGV handler reports and
 * exits) and on Windows.
 * hsafe-test: no-valgrind (the children fault and overflow on purpose, and
 * valgrind builds its own signal frames, on its own stacks)
 */
#ifndef HSAFE_TEST_SHARED_IMPL
#define HSAFE_IMPLEMENTATION
#endif
#include "hsafe.h"
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#  define SANITIZER_SEGV 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#    define SANITIZER_SEGV 1
#  endif
#endif

#if defined(_WIN32) || defined(SANITIZER_SEGV) || !defined(__linux__) || defined(HSAFE_TEST_EMULATED)

int main(int argc, char **argv)
{
    t_child_dispatch(argc, argv);
    T_BEGIN("test_signals");
    (void)t_failures;
    T_SKIP("POSIX signals on Linux only, and not under ASan/TSan (their SIGSEGV handler); not under an emulator such as qemu-user, whose kernel view is its own");
}

#else

#include <sys/resource.h>
#include <sys/auxv.h>
#include <signal.h>
#include <errno.h>

#define STACK_RUN   ((size_t)73728)    /* 72 KiB: a size the message can name */

/* ---- output without stdio (a child may die at any point) -------------- */

static void say(const char *s)
{
    size_t n = 0;
    ssize_t r;
    while (s[n]) n++;
    r = write(2, s, n);
    (void)r;
}

static void say_num(const char *label, unsigned long v)
{
    char b[32], *p = b + sizeof b;
    *--p = 0;
    *--p = '\n';
    do { *--p = (char)('0' + v % 10); v /= 10; } while (v);
    say(label);
    say(p);
}

static void pool_or_die(hsafe_pool *p, size_t stack_size)
{
    hsafe_pool_config c;
    memset(&c, 0, sizeof c);
    c.stack_size = stack_size;
    c.capacity = 2;
    if (hsafe_pool_init(p, &c) != HSAFE_OK) { say("pool_init failed\n"); _exit(3); }
}

static uintptr_t nothing(void *arg) { (void)arg; return 0; }

/* ---- 1. 32 KiB frames --------------------------------------------------- */

static volatile unsigned long sink;

__attribute__((noinline)) static unsigned long recurse_big(unsigned long d)
{
    unsigned char buf[32768];
    buf[0] = (unsigned char)d;              /* the lowest byte first: the jump */
    buf[sizeof buf - 1] = (unsigned char)d;
    __asm__ __volatile__("" : : "r"(buf) : "memory");
    if (d > 100000) return buf[0];
    return recurse_big(d + 1) + buf[sizeof buf - 1];
}

static uintptr_t run_recurse_big(void *arg) { (void)arg; return (uintptr_t)recurse_big(0); }

/* The same, the frame's highest byte written first: a frame that has
 * jumped below the guard then writes into the guard with its stack
 * pointer already below it. */
__attribute__((noinline)) static unsigned long recurse_big_top(unsigned long d)
{
    unsigned char buf[32768];
    buf[sizeof buf - 1] = (unsigned char)d;
    __asm__ __volatile__("" : : "r"(buf) : "memory");
    buf[0] = (unsigned char)d;
    __asm__ __volatile__("" : : "r"(buf) : "memory");
    if (d > 100000) return buf[0];
    return recurse_big_top(d + 1) + buf[sizeof buf - 1];
}

static uintptr_t run_recurse_big_top(void *arg) { (void)arg; return (uintptr_t)recurse_big_top(0); }

__attribute__((noinline)) static unsigned long recurse_small(unsigned long d)
{
    volatile unsigned char buf[256];
    unsigned k;
    for (k = 0; k < sizeof buf; k++) buf[k] = (unsigned char)(d + k);
    if (d > 10000000) return buf[0];
    return recurse_small(d + 1) + buf[255];
}

static uintptr_t run_recurse_small(void *arg) { (void)arg; return (uintptr_t)recurse_small(0); }

static void case_recurse32k(int top_first)
{
    hsafe_pool p;
    pool_or_die(&p, STACK_RUN);
    hsafe_run(&p, top_first ? run_recurse_big_top : run_recurse_big, NULL, NULL);
    say("survived\n");
}

/* ---- 2. raise / kill outside a run -------------------------------------- */

static void case_raise(int use_kill)
{
    hsafe_pool p;
    pool_or_die(&p, STACK_RUN);
    hsafe_run(&p, nothing, NULL, NULL);     /* installs hsafe's handler */
    say("raising\n");
    if (use_kill) kill(getpid(), SIGSEGV);
    else raise(SIGSEGV);
    say("survived\n");
}

/* ---- 3. the program's own handler -------------------------------------- */

static volatile sig_atomic_t user_calls;
static void user_segv(int sig) { (void)sig; user_calls++; }
static void user_segv_info(int sig, siginfo_t *si, void *uc) { (void)sig; (void)si; (void)uc; user_calls++; }

static void case_user_handler(int siginfo_kill)
{
    hsafe_pool p;
    struct sigaction sa;
    int i;
    memset(&sa, 0, sizeof sa);
    if (siginfo_kill) {
        sa.sa_sigaction = user_segv_info;
        sa.sa_flags = SA_SIGINFO;
    } else {
        sa.sa_handler = user_segv;
    }
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    pool_or_die(&p, STACK_RUN);
    hsafe_run(&p, nothing, NULL, NULL);     /* installs hsafe's handler */
    for (i = 0; i < 3; i++) {
        if (siginfo_kill) kill(getpid(), SIGSEGV);
        else raise(SIGSEGV);
    }
    say_num("user handler calls: ", (unsigned long)user_calls);
    /* hsafe's handler must still be there for the runs */
    hsafe_run(&p, run_recurse_small, NULL, NULL);
    say("survived\n");
}

/* ---- 4. a signal frame that does not fit -------------------------------- */

static volatile sig_atomic_t usr1_calls;
static void on_usr1(int sig) { (void)sig; usr1_calls++; }

static volatile size_t low_left = 900;

static unsigned long min_sig_frame(void)
{
#if defined(AT_MINSIGSTKSZ)
    return getauxval(AT_MINSIGSTKSZ);
#else
    return 0;
#endif
}

/* Leave less than the kernel's signal frame (3.3 KiB with AVX-512, about
 * 1 KiB with SSE only), but room for raise() itself. */
static void set_low_left(void)
{
    unsigned long frame = min_sig_frame();
    if (frame && frame * 2 / 3 < low_left) low_left = frame * 2 / 3;
}

static uintptr_t run_low_signal(void *arg)
{
    size_t left;
    volatile unsigned char *fill;
    (void)arg;
    raise(SIGUSR1);                         /* binds raise; the frame fits here */
    left = hsafe_stack_remaining();
    if (left < 8192) { say("no room to fill\n"); return 0; }
    fill = (volatile unsigned char *)__builtin_alloca(left - low_left);
    fill[0] = 1;
    __asm__ __volatile__("" : : "r"(fill) : "memory");
    raise(SIGUSR1);                         /* the frame cannot be pushed */
    say_num("raise returned; SIGUSR1 handler calls: ", (unsigned long)usr1_calls);
    return fill[0];
}

static void case_low_signal(void)
{
    hsafe_pool p;
    struct sigaction sa;
    int rc;
    memset(&sa, 0, sizeof sa);
    set_low_left();
    sa.sa_handler = on_usr1;                /* no SA_ONSTACK: on the run's stack */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    pool_or_die(&p, STACK_RUN);
    rc = hsafe_run(&p, run_low_signal, NULL, NULL);
    say_num("hsafe_run returned; rc == 0: ", (unsigned long)(rc == 0));
    say("survived\n");
}

/* ---- 5. nested SIGABRT handlers ----------------------------------------- */

__attribute__((noinline)) static unsigned long busy_work(unsigned long x)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf, "work %lu %s %lu", x, "on the way", x * 7);
    __asm__ __volatile__("" : : "r"(buf) : "memory");
    return (unsigned long)n + (unsigned char)buf[5];
}

static void on_abrt_inner(int sig)
{
    (void)sig;
    say("abrt handler 2\n");
    sink += busy_work(2);
    /* returns: abort() then restores the default action and raises again */
}

static void on_abrt_outer(int sig)
{
    struct sigaction sa;
    (void)sig;
    say("abrt handler 1\n");
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_abrt_inner;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGABRT, &sa, NULL);
    sink += busy_work(1);
    abort();                                /* nested: SIGABRT again */
}

static uintptr_t run_abort_nested(void *arg)
{
    struct sigaction sa;
    (void)arg;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_abrt_outer;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGABRT, &sa, NULL);
    sink += busy_work(0);
    abort();
}

static void case_abort_nested(size_t stack_size)
{
    hsafe_pool p;
    pool_or_die(&p, stack_size);
    hsafe_run(&p, nothing, NULL, NULL);     /* the fault handler, alt stack */
    hsafe_run(&p, run_abort_nested, NULL, NULL);
    say("survived\n");
}

/* The same with the run's stack filled first, leaving `tight_left` bytes,
 * every function bound beforehand: at some fill the first SIGABRT frame and
 * handler fit, and the nested frame does not (the kernel then forces a
 * SIGSEGV). main sweeps the fill over the whole stack. */
static volatile size_t tight_left;

static uintptr_t run_abort_tight(void *arg)
{
    struct sigaction sa;
    size_t left;
    volatile unsigned char *fill;
    (void)arg;
    sink += busy_work(0);
    say("");
    left = hsafe_stack_remaining();
    if (left <= tight_left + 256) { say("no room to fill\n"); _exit(5); }
    fill = (volatile unsigned char *)__builtin_alloca(left - tight_left);
    fill[0] = 1;
    __asm__ __volatile__("" : : "r"(fill) : "memory");
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_abrt_outer;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGABRT, &sa, NULL);
    abort();
}

static void case_abort_tight(size_t stack_size, size_t left)
{
    hsafe_pool p;
    struct sigaction sa;
    pool_or_die(&p, stack_size);
    tight_left = left;
    /* bind sigaction, abort's insides and the handlers' calls natively */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGABRT, &sa, NULL);
    sink += busy_work(0);
    hsafe_run(&p, run_abort_tight, NULL, NULL);
    say("survived\n");
}

static void case_abort_native(void)
{
    hsafe_pool p;
    pool_or_die(&p, STACK_RUN);
    hsafe_run(&p, nothing, NULL, NULL);
    run_abort_nested(NULL);
    say("survived\n");
}

/* ---- child dispatch ----------------------------------------------------- */

static void child_main(const char *name, const char *param)
{
    if (!strcmp(name, "recurse32k")) case_recurse32k(0);
    else if (!strcmp(name, "recurse32k-top")) case_recurse32k(1);
    else if (!strcmp(name, "abort-tight-8k")) case_abort_tight(8192, (size_t)strtoul(param, NULL, 0));
    else if (!strcmp(name, "abort-tight-16k")) case_abort_tight(16384, (size_t)strtoul(param, NULL, 0));
    else if (!strcmp(name, "raise")) case_raise(0);
    else if (!strcmp(name, "kill")) case_raise(1);
    else if (!strcmp(name, "user")) case_user_handler(0);
    else if (!strcmp(name, "user-siginfo-kill")) case_user_handler(1);
    else if (!strcmp(name, "low-signal")) case_low_signal();
    else if (!strcmp(name, "abort-8k")) case_abort_nested(8192);
    else if (!strcmp(name, "abort-16k")) case_abort_nested(16384);
    else if (!strcmp(name, "abort-native")) case_abort_native();
    else { say("unknown case\n"); _exit(2); }
    _exit(0);
}

/* Run this program again as `exe --t-signals name`, LD_BIND_NOW set or not;
 * returns the signal that ended it (or 0 and *code), stderr in buf. */
static const char *case_param = "";

static int run_case(const char *name, int bind_now, char *buf, size_t cap, int *code)
{
    int fds[2], status = 0;
    size_t len = 0;
    pid_t pid;
    if (pipe(fds) != 0) { perror("pipe"); exit(2); }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) { perror("fork"); exit(2); }
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        if (bind_now) setenv("LD_BIND_NOW", "1", 1);
        else unsetenv("LD_BIND_NOW");
        execl("/proc/self/exe", "test_signals", "--t-signals", name, case_param, (char *)NULL);
        say("exec failed\n");
        _exit(2);
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
    *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

/* A line that starts "hsafe: stack overflow" and ends with the advice. */
static int full_message(const char *err)
{
    static const char head[] = "hsafe: stack overflow", tail[] = "(use a larger hsafe_pool_config.stack_size)";
    const char *p = err;
    while ((p = strstr(p, head)) != NULL) {
        const char *eol = strchr(p, '\n');
        if ((p == err || p[-1] == '\n') && eol && (size_t)(eol - p) >= sizeof tail - 1 &&
            !memcmp(eol - (sizeof tail - 1), tail, sizeof tail - 1))
            return 1;
        p += sizeof head - 1;
    }
    return 0;
}

static int quiet;     /* the sweep: print failures only */

static void report(const char *name, int bind_now, int ok, int sig, int code, const char *err)
{
    if (!quiet || !ok)
        printf("%s %s%s: signal %d exit %d\n", ok ? "ok  " : "FAIL", name, bind_now ? " (LD_BIND_NOW=1)" : "", sig, code);
    if (!ok) {
        fprintf(stderr, "test_signals: %s%s failed: signal %d, exit code %d, stderr:\n%s\n--\n", name,
                bind_now ? " (LD_BIND_NOW=1)" : "", sig, code, err);
        t_failures++;
    }
}

/* dies by SIGSEGV with the whole message (and `also` in stderr, if given) */
static void expect_overflow(const char *name, int bind_now, const char *also)
{
    char buf[8192];
    int code = 0, sig = run_case(name, bind_now, buf, sizeof buf, &code);
    int ok = sig == SIGSEGV && full_message(buf) && !strstr(buf, "survived") && (!also || strstr(buf, also));
    report(name, bind_now, ok, sig, code, buf);
}

static void expect_plain_segv(const char *name)
{
    char buf[8192];
    int code = 0, sig = run_case(name, 0, buf, sizeof buf, &code);
    int ok = sig == SIGSEGV && strstr(buf, "raising") && !strstr(buf, "survived") &&
             !strstr(buf, "hsafe: stack overflow");
    report(name, 0, ok, sig, code, buf);
}

static void expect_abort_or_overflow(const char *name)
{
    char buf[8192];
    int code = 0, sig = run_case(name, 0, buf, sizeof buf, &code);
    int natively = sig == SIGABRT && strstr(buf, "abrt handler 1") && strstr(buf, "abrt handler 2") &&
                   !strstr(buf, "hsafe: stack overflow");
    int overflow = sig == SIGSEGV && full_message(buf);
    report(name, 0, (natively || overflow) && !strstr(buf, "survived"), sig, code, buf);
}

int main(int argc, char **argv)
{
    struct rlimit no_core;
    char want[64];
    if (argc == 4 && !strcmp(argv[1], "--t-signals")) {
        no_core.rlim_cur = no_core.rlim_max = 0;
        setrlimit(RLIMIT_CORE, &no_core);
        child_main(argv[2], argv[3]);
    }
    t_child_dispatch(argc, argv);
    T_BEGIN("test_signals");
    no_core.rlim_cur = no_core.rlim_max = 0;
    setrlimit(RLIMIT_CORE, &no_core);       /* the children crash on purpose */
    set_low_left();
    printf("# case low-signal leaves %lu bytes of the run's stack (AT_MINSIGSTKSZ, the signal frame: %lu)\n",
           (unsigned long)low_left, min_sig_frame());

    /* 1 */
    expect_overflow("recurse32k", 0, NULL);
    expect_overflow("recurse32k", 1, NULL);
    expect_overflow("recurse32k-top", 0, NULL);
    expect_overflow("recurse32k-top", 1, NULL);
    /* 2 */
    expect_plain_segv("raise");
    expect_plain_segv("kill");
    /* 3 */
    expect_overflow("user", 0, "user handler calls: 3\n");
    expect_overflow("user-siginfo-kill", 0, "user handler calls: 3\n");
    /* 4 */
    snprintf(want, sizeof want, "%lu-byte stack", (unsigned long)STACK_RUN);
    expect_overflow("low-signal", 0, want);
    expect_overflow("low-signal", 1, want);
    /* 5: the native behaviour first, then in runs */
    {
        char buf[8192];
        int code = 0, sig = run_case("abort-native", 0, buf, sizeof buf, &code);
        report("abort-native", 0, sig == SIGABRT && strstr(buf, "abrt handler 2") != NULL, sig, code, buf);
    }
    expect_abort_or_overflow("abort-16k");
    expect_abort_or_overflow("abort-8k");
    /* the fill swept in 256-byte steps: every outcome must be one of the two */
    {
        static const size_t sizes[2] = { 8192, 16384 };
        char param[32], name[48];
        size_t k, left;
        int before;
        for (k = 0; k < 2; k++) {
            for (left = 512; left + 1024 < sizes[k]; left += 256) {
                snprintf(param, sizeof param, "%lu", (unsigned long)left);
                snprintf(name, sizeof name, "abort-tight-%luk", (unsigned long)(sizes[k] / 1024));
                case_param = param;
                quiet = 1;
                before = t_failures;
                expect_abort_or_overflow(name);
                if (t_failures != before) printf("  (%s with %lu bytes left)\n", name, (unsigned long)left);
                quiet = 0;
            }
        }
        case_param = "";
        printf("# abort-tight: 8 and 16 KiB stacks, 512 bytes left up to 1 KiB short of full, in 256-byte steps\n");
    }
    T_END();
}

#endif
