/* test_guard: what lies below a pooled stack, and how deep the thread's
 * own stack is.
 *
 * Proves:
 *   1. after a run (hsafe has then mapped the thread's alternate signal
 *      stack), nothing readable lies within 64 KiB (the default guard)
 *      below any stack of a guarded pool: every page of [lo - 64 KiB, lo)
 *      is refused by the kernel (write() from it into a pipe fails). Once the
 *      guard was one page and the 64 KiB alternate signal stack sat right
 *      below it;
 *   2. the alternate signal stack hsafe maps has a guard of its own: the
 *      page below it is not readable;
 *   3. the jump case: a run fills its stack to 2 KiB from the end and calls
 *      a function with a 16 KiB frame that writes a secret at its bottom.
 *      Either the process dies by SIGSEGV with the whole overflow message
 *      (a line from "hsafe: stack overflow" to "(use a larger
 *      hsafe_pool_config.stack_size)"), or the run returns and no 8-byte
 *      word of the secret is in any writable mapping of the process (the
 *      search's own positive control: it finds the secret planted in a heap
 *      buffer first). Once: hsafe_run returned success and the secret stayed
 *      in the alternate signal stack. (tests/residue has the same case with
 *      a NO_WIPE control, over the compiler/optimisation matrix.)
 *   4. under an unlimited stack rlimit (this program executed again after
 *      setrlimit(RLIMIT_STACK, RLIM_INFINITY), since the main thread's limit
 *      is read at exec), hsafe_maybe_grow with a 256 KiB red zone moves a
 *      recursion onto a pooled stack within the first 320 MiB of the main
 *      thread's stack. Once: hsafe_stack_remaining() said ~46 TB there, and
 *      the recursion never switched;
 *   5. with the guard_size field (HSAFE_DEFAULT_GUARD_SIZE defined):
 *      default 64 KiB, reported by hsafe_pool_stats; a requested size
 *      rounded up to pages and really unreadable; 0 with HSAFE_POOL_NO_GUARD.
 * Linux only (it reads /proc/self/maps and /proc/self/mem); skipped under
 * ASan/TSan (their SIGSEGV handler) and elsewhere.
 * hsafe-test: no-valgrind (the jump child overruns its stack on purpose,
 * and valgrind keeps its own mappings next to the client's)
 *   6. a handler installed with SA_ONSTACK that runs during a run writes
 *      on hsafe's alternate signal stack; after the run that stack is all
 *      zero again.
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
    T_BEGIN("test_guard");
    (void)t_failures;
    T_SKIP("Linux only (/proc/self/mem), and not under ASan/TSan (their SIGSEGV handler); not under an emulator such as qemu-user, whose kernel view is its own");
}

#else

#include <sys/resource.h>
#include <fcntl.h>
#include <time.h>

#define REACH ((size_t)64 * 1024)       /* the default guard the fix promises */

static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

/* Can the page at p be read? The kernel answers, without a fault here:
 * write() of one byte from it into a pipe fails with EFAULT for a page that
 * is unmapped, PROT_NONE or a MADV_GUARD_INSTALL guard. (Not pread of
 * /proc/self/mem: it reads PROT_NONE pages.) pipefd: a pipe, both ends. */
static int readable(const int *pipefd, uintptr_t p)
{
    unsigned char b;
    if (write(pipefd[1], (const void *)p, 1) != 1) return 0;
    if (read(pipefd[0], &b, 1) != 1) return 0;
    return 1;
}

/* The first readable page in [lo - n, lo), or 0. */
static uintptr_t first_readable_below(const int *pipefd, uintptr_t lo, size_t n)
{
    size_t off;
    for (off = page_size(); off <= n; off += page_size())
        if (readable(pipefd, lo - off)) return lo - off;
    return 0;
}

static uintptr_t nothing(void *arg) { (void)arg; return 0; }

/* ---- 1, 2: layout -------------------------------------------------------- */

static void check_layout(void)
{
    hsafe_pool p;
    hsafe_pool_config c;
    hsafe_stack *s[4];
    stack_t ss;
    int pipefd[2], i;
    if (pipe(pipefd) != 0) { perror("pipe"); t_failures++; return; }
    memset(&c, 0, sizeof c);
    c.stack_size = 65536;
    c.capacity = 5;
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_OK);
    CHECK_EQ(hsafe_run(&p, nothing, NULL, NULL), HSAFE_OK);   /* maps the alt stack */
    for (i = 0; i < 4; i++) CHECK_EQ(hsafe_pool_acquire(&p, &s[i]), HSAFE_OK);
    for (i = 0; i < 4; i++) {
        uintptr_t lo = (uintptr_t)hsafe_stack_base(s[i]);
        uintptr_t r = first_readable_below(pipefd, lo, REACH);
        if (r) {
            fprintf(stderr, "stack %d at 0x%lx: readable page 0x%lx, %lu bytes below it (within %lu)\n", i,
                    (unsigned long)lo, (unsigned long)r, (unsigned long)(lo - r), (unsigned long)REACH);
            t_failures++;
        }
    }
    if (sigaltstack(NULL, &ss) == 0 && !(ss.ss_flags & SS_DISABLE)) {
        uintptr_t lo = (uintptr_t)ss.ss_sp;
        printf("# alternate signal stack 0x%lx, %lu bytes\n", (unsigned long)lo, (unsigned long)ss.ss_size);
        if (readable(pipefd, lo - page_size())) {
            fprintf(stderr, "the alternate signal stack at 0x%lx has a readable page right below it\n",
                    (unsigned long)lo);
            t_failures++;
        }
    } else {
        fprintf(stderr, "no alternate signal stack after a run\n");
        t_failures++;
    }
    for (i = 0; i < 4; i++) CHECK_EQ(hsafe_pool_release(&p, s[i]), HSAFE_OK);
    CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);
    close(pipefd[0]);
    close(pipefd[1]);
}

/* ---- 3: the jump case ------------------------------------------------- */

static uint64_t secret[4];                  /* the needles (excluded) */
static unsigned char scan_buf[65536];       /* the scan buffer (excluded) */
static char maps_buf[262144];

static int is_secret(uint64_t v)
{
    return v && (v == secret[0] || v == secret[1] || v == secret[2] || v == secret[3]);
}

static int excluded(uintptr_t a)
{
    return (a >= (uintptr_t)secret && a < (uintptr_t)secret + sizeof secret) ||
           (a >= (uintptr_t)scan_buf && a < (uintptr_t)scan_buf + sizeof scan_buf);
}

static uintptr_t parse_hex(const char **s)
{
    uintptr_t v = 0;
    for (;; (*s)++) {
        char ch = **s;
        if (ch >= '0' && ch <= '9') v = v * 16 + (uintptr_t)(ch - '0');
        else if (ch >= 'a' && ch <= 'f') v = v * 16 + (uintptr_t)(ch - 'a' + 10);
        else return v;
    }
}

/* 8-byte aligned words of the secret in every writable mapping but the
 * main thread's stack ([stack]: this test's own lazy-binding resolver
 * spills the registers that computed or copied the secret there; the
 * residue matrix searches that too, from a clean baseline); the first
 * hit's address in *at, and in *in_range the hits in [rlo, rhi). */
static unsigned long scan_writable(uintptr_t *at, uintptr_t rlo, uintptr_t rhi, unsigned long *in_range)
{
    int mfd = open("/proc/self/maps", O_RDONLY), fd = open("/proc/self/mem", O_RDONLY);
    size_t len = 0, pg = page_size();
    unsigned long hits = 0;
    const char *line;
    *at = 0;
    *in_range = 0;
    if (mfd < 0 || fd < 0) { if (mfd >= 0) close(mfd); if (fd >= 0) close(fd); return ~0ul; }
    for (;;) {
        ssize_t n = read(mfd, maps_buf + len, sizeof maps_buf - 1 - len);
        if (n <= 0) break;
        len += (size_t)n;
    }
    maps_buf[len] = 0;
    close(mfd);
    for (line = maps_buf; *line;) {
        const char *s = line, *eol = strchr(line, '\n');
        uintptr_t lo = parse_hex(&s), hi, a;
        s++;
        hi = parse_hex(&s);
        s++;
        line = eol ? eol + 1 : line + strlen(line);
        if (s[1] != 'w') continue;
        if (eol && (size_t)(eol - s) >= 7 && !memcmp(eol - 7, "[stack]", 7)) continue;
        for (a = lo; a < hi;) {
            size_t want = hi - a, i;
            if (want > sizeof scan_buf) want = sizeof scan_buf;
            if (pread(fd, scan_buf, want, (off_t)a) != (ssize_t)want) {
                want = pg;                  /* a guard page, or part of one chunk */
                if (pread(fd, scan_buf, want, (off_t)a) != (ssize_t)want) { a += want; continue; }
            }
            for (i = 0; i + 8 <= want; i += 8) {
                uint64_t v;
                memcpy(&v, scan_buf + i, 8);
                if (is_secret(v) && !excluded(a + i)) {
                    if (!hits) *at = a + i;
                    hits++;
                    if (a + i >= rlo && a + i < rhi) ++*in_range;
                }
            }
            a += want;
        }
    }
    close(fd);
    return hits;
}

/* 16 KiB frame; the secret in its lowest words, written first */
__attribute__((noinline)) static uint64_t jump_frame(void)
{
    uint64_t big[2048];
    int i;
    for (i = 0; i < 4; i++) big[i] = secret[i];
    big[2047] = 1;
    __asm__ __volatile__("" : : "r"(big) : "memory");
    return big[2047] + (big[0] == 0);
}

static uintptr_t run_jump(void *arg)
{
    size_t left = hsafe_stack_remaining();
    volatile unsigned char *fill;
    (void)arg;
    if (left < 8192) return 0;
    fill = (volatile unsigned char *)__builtin_alloca(left - 2048);
    fill[0] = 1;
    __asm__ __volatile__("" : : "r"(fill) : "memory");
    return (uintptr_t)jump_frame() + fill[0] - 1;
}

static void child_jump(void *arg)
{
    hsafe_pool p;
    hsafe_pool_config c;
    uintptr_t at = 0, result = 0;
    unsigned long hits, dummy;
    int rc;
    (void)arg;
    memset(&c, 0, sizeof c);
    c.capacity = 2;
    if (hsafe_pool_init(&p, &c) != HSAFE_OK) _exit(3);
    rc = hsafe_run(&p, run_jump, NULL, &result);
    hits = scan_writable(&at, 0, 0, &dummy);
    fprintf(stderr, "run returned %d, result %lu; secret words in writable memory: %lu (first at 0x%lx)\n", rc,
            (unsigned long)result, hits, (unsigned long)at);
    _exit(rc == HSAFE_OK && result == 1 && hits == 0 ? 0 : 1);
}

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

static void check_jump(void)
{
    char buf[4096];
    unsigned char *heap;
    uintptr_t at = 0;
    unsigned long hits, in_heap = 0;
    uint64_t seed = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid() * 0xBF58476D1CE4E5B9ull;
    int code = 0, sig, i;
    for (i = 0; i < 4; i++) {
        seed += 0x9E3779B97F4A7C15ull;
        secret[i] = (seed ^ (seed >> 29)) * 0x94D049BB133111EBull | 0x0101010101010101ull;
    }
    sig = t_in_child(child_jump, NULL, buf, sizeof buf, &code);
    printf("# jump case: signal %d, exit %d: %s", sig, code, buf);
    if (!((sig == SIGSEGV && full_message(buf)) || (sig == 0 && code == 0))) {
        fprintf(stderr, "jump case: neither the whole overflow message with SIGSEGV nor a clean return: "
                        "signal %d, exit %d, stderr:\n%s\n", sig, code, buf);
        t_failures++;
    }

    /* the search's positive control: it sees a copy planted on the heap */
    heap = (unsigned char *)malloc(4096);
    CHECK(heap != NULL);
    if (!heap) return;
    memcpy(heap + 512, secret, sizeof secret);
    __asm__ __volatile__("" : : "r"(heap) : "memory");
    hits = scan_writable(&at, (uintptr_t)heap, (uintptr_t)heap + 4096, &in_heap);
    CHECK_EQ(in_heap, 4);
    CHECK(hits >= 4);
    hsafe_wipe(heap, 4096);
    free(heap);
}

/* ---- 4: unlimited stack rlimit ------------------------------------------ */

#define GROW_RED_ZONE ((size_t)256 * 1024)
#define GROW_FRAME    ((size_t)16 * 1024)
#define GROW_BUDGET   ((size_t)320 * 1024 * 1024)   /* hsafe counts 256 MiB */

static hsafe_pool grow_pool;
static uintptr_t main_frame;
static volatile size_t grow_level, switched_at;

static uintptr_t grow_fn(void *arg);

__attribute__((noinline)) static uintptr_t grow_step(size_t level)
{
    unsigned char frame[GROW_FRAME];
    uintptr_t here = (uintptr_t)frame, r = 0;
    frame[0] = (unsigned char)level;
    __asm__ __volatile__("" : : "r"(frame) : "memory");
    /* off the main thread's stack: a pooled stack (far from it) */
    if (here > main_frame || main_frame - here > ((size_t)1 << 30)) {
        switched_at = level;
        return 1;
    }
    if (level * GROW_FRAME >= GROW_BUDGET) return 0;
    grow_level = level + 1;
    if (hsafe_maybe_grow(&grow_pool, GROW_RED_ZONE, grow_fn, NULL, &r) != HSAFE_OK) return 0;
    return r + frame[0] * 0;
}

static uintptr_t grow_fn(void *arg) { (void)arg; return grow_step(grow_level); }

static int unlimited_child(void)
{
    hsafe_pool_config c;
    struct rlimit rl;
    uintptr_t r = 0;
    size_t rem;
    getrlimit(RLIMIT_STACK, &rl);
    memset(&c, 0, sizeof c);
    c.capacity = 4;
    if (hsafe_pool_init(&grow_pool, &c) != HSAFE_OK) return 3;
    main_frame = (uintptr_t)__builtin_frame_address(0);
    rem = hsafe_stack_remaining();
    printf("# unlimited child: RLIMIT_STACK %s; hsafe_stack_remaining() on main: %lu\n",
           rl.rlim_cur == RLIM_INFINITY ? "unlimited" : "limited", (unsigned long)rem);
    grow_level = 0;
    r = grow_fn(NULL);
    if (r == 1) {
        printf("# switched to a pooled stack at level %lu (%lu KiB of main stack used)\n",
               (unsigned long)switched_at, (unsigned long)(switched_at * GROW_FRAME / 1024));
        return 0;
    }
    printf("# no switch within %lu MiB of main stack (levels %lu)\n", (unsigned long)(GROW_BUDGET >> 20),
           (unsigned long)grow_level);
    return 1;
}

static void check_unlimited(void)
{
    struct rlimit rl;
    pid_t pid;
    int status = 0;
    if (getrlimit(RLIMIT_STACK, &rl) != 0 || rl.rlim_max != RLIM_INFINITY) {
        printf("# skipped: the unlimited stack case (hard RLIMIT_STACK is not unlimited)\n");
        return;
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == 0) {
        rl.rlim_cur = RLIM_INFINITY;
        if (setrlimit(RLIMIT_STACK, &rl) != 0) _exit(4);
        execl("/proc/self/exe", "test_guard", "--t-unlimited", (char *)NULL);
        _exit(5);
    }
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "unlimited stack: hsafe_maybe_grow did not switch to a pooled stack "
                        "within %lu MiB (status 0x%x)\n", (unsigned long)(GROW_BUDGET >> 20), status);
        t_failures++;
    }
}

/* ---- 5: guard_size ------------------------------------------------------- */

#if defined(HSAFE_DEFAULT_GUARD_SIZE)
static void check_guard_size(void)
{
    hsafe_pool p;
    hsafe_pool_config c;
    hsafe_pool_stats st;
    hsafe_stack *s = NULL;
    size_t pg = page_size(), want = (100000 + pg - 1) / pg * pg;
    int pipefd[2] = { -1, -1 }, piped = pipe(pipefd) == 0;
    CHECK(piped);
    CHECK_EQ(HSAFE_DEFAULT_GUARD_SIZE, 65536);
    memset(&c, 0, sizeof c);
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_OK);
    CHECK_EQ(hsafe_pool_get_stats(&p, &st), HSAFE_OK);
    CHECK_EQ(st.guard_size, HSAFE_DEFAULT_GUARD_SIZE);
    CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);

    memset(&c, 0, sizeof c);
    c.guard_size = 100000;
    c.capacity = 1;
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_OK);
    CHECK_EQ(hsafe_pool_get_stats(&p, &st), HSAFE_OK);
    CHECK_EQ(st.guard_size, want);
    CHECK_EQ(hsafe_pool_acquire(&p, &s), HSAFE_OK);
    if (s && piped) CHECK_EQ(first_readable_below(pipefd, (uintptr_t)hsafe_stack_base(s), want), 0);
    CHECK_EQ(hsafe_pool_release(&p, s), HSAFE_OK);
    CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);

    memset(&c, 0, sizeof c);
    c.guard_size = 100000;
    c.flags = HSAFE_POOL_NO_GUARD;
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_OK);
    CHECK_EQ(hsafe_pool_get_stats(&p, &st), HSAFE_OK);
    CHECK_EQ(st.guard_size, 0);
    CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);
    if (piped) { close(pipefd[0]); close(pipefd[1]); }
}
#endif

/* ---- 6: the alternate signal stack is wiped after a run ------------------ */
/* A handler installed with SA_ONSTACK runs on the thread's alternate signal
 * stack (hsafe's) during a run and leaves a pattern in its frame; after the
 * run that stack must be all zero again. The handler records where its
 * frame was, so the check cannot pass because it ran elsewhere. */
static volatile uintptr_t onstack_frame;

static void onstack_handler(int sig)
{
    volatile unsigned char buf[512];
    size_t i;
    (void)sig;
    for (i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(0xa5 ^ i);
    onstack_frame = (uintptr_t)buf;
}

static uintptr_t raise_onstack(void *arg)
{
    (void)arg;
    raise(SIGUSR2);
    return 0;
}

static void check_altstack_wiped(void)
{
    hsafe_pool p;
    hsafe_pool_config c;
    struct sigaction sa, old;
    stack_t ss;
    size_t i, nonzero = 0;
    memset(&c, 0, sizeof c);
    c.stack_size = 65536;
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_OK);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = onstack_handler;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, &old);
    CHECK_EQ(hsafe_run(&p, raise_onstack, NULL, NULL), HSAFE_OK);
    sigaction(SIGUSR2, &old, NULL);
    CHECK_EQ(sigaltstack(NULL, &ss), 0);
    CHECK(onstack_frame - (uintptr_t)ss.ss_sp < ss.ss_size);     /* it ran there */
    for (i = 0; i < ss.ss_size; i++) nonzero += ((const unsigned char *)ss.ss_sp)[i] != 0;
    printf("# alternate signal stack after the run: %zu non-zero bytes of %zu\n",
           nonzero, (size_t)ss.ss_size);
    CHECK_EQ(nonzero, 0);
    CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);
}

int main(int argc, char **argv)
{
    struct rlimit no_core;
    if (argc == 2 && !strcmp(argv[1], "--t-unlimited")) return unlimited_child();
    t_child_dispatch(argc, argv);
    T_BEGIN("test_guard");
    no_core.rlim_cur = no_core.rlim_max = 0;
    setrlimit(RLIMIT_CORE, &no_core);       /* the jump child may crash on purpose */
    check_jump();                           /* first: no run yet in this process */
    check_layout();
    check_unlimited();
    check_altstack_wiped();
#if defined(HSAFE_DEFAULT_GUARD_SIZE)
    check_guard_size();
#else
    printf("# guard_size checks not built: this hsafe.h has no HSAFE_DEFAULT_GUARD_SIZE\n");
#endif
    T_END();
}

#endif
