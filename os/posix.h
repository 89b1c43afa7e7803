/* hsafe OS services: POSIX (Linux first; other Unixes where they agree).
 * Implementation only (os/interface.h is the contract); included by hsafe.h.
 *
 * Provides:
 *   page size; anonymous mappings; one stack = [guard region][stack] in one
 *   mapping, the guard installed with MADV_GUARD_INSTALL (Linux 6.13+, no
 *   extra kernel mapping per stack) or else mprotect(PROT_NONE) (two
 *   mappings per stack: vm.max_map_count, 65530 by default, then stops a
 *   process at about 32.7k guarded stacks);
 *   mlock (MLOCK_ONFAULT where available) and MADV_DONTDUMP;
 *   residency: the spans of a stack that were ever touched, from the
 *   PAGEMAP_SCAN ioctl, /proc/self/pagemap entries or (mlocked) mincore;
 *   the overflow diagnostic: a SIGSEGV/SIGBUS handler on an alternate
 *   signal stack that recognises a fault just below the running stack;
 *   signal blocking for HSAFE_RUN_BLOCK_SIGNALS; the thread's stack bounds.
 */
#if defined(HSAFE__IMPL) && !defined(HSAFE__OS_POSIX_H)
#define HSAFE__OS_POSIX_H 1

#include <sys/mman.h>
#include <sys/types.h>
#include <signal.h>
#include <unistd.h>
#include <fcntl.h>
#include <pthread.h>
#include <errno.h>
#include <sys/resource.h>

#ifndef MADV_GUARD_INSTALL
#  define MADV_GUARD_INSTALL 102     /* Linux 6.13 uapi value */
#endif
#ifndef MAP_ANONYMOUS
#  define MAP_ANONYMOUS MAP_ANON
#endif
#ifndef MAP_NORESERVE
#  define MAP_NORESERVE 0
#endif


enum { HSAFE__GUARD_NONE = 0, HSAFE__GUARD_MADV = 1, HSAFE__GUARD_MPROTECT = 2 };
enum { HSAFE__RES_NONE = 0, HSAFE__RES_PAGEMAP = 1, HSAFE__RES_MINCORE = 2, HSAFE__RES_PAGEMAP_SCAN = 3 };

static size_t hsafe__os_page_size(void)
{
    static size_t page;
    if (!page) {
        long p = sysconf(_SC_PAGESIZE);
        page = p > 0 ? (size_t)p : 4096;
    }
    return page;
}

static int hsafe__os_map(size_t n, void **out)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return HSAFE_ENOMEM;
    *out = p;
    return HSAFE_OK;
}


static const char *hsafe__os_guard_name(int kind)
{
    return kind == HSAFE__GUARD_MADV ? "madv_guard" : kind == HSAFE__GUARD_MPROTECT ? "mprotect" : "none";
}

/* Which guard mechanism this kernel has; probed once on a scratch mapping. */
static int hsafe__os_probe_guard(void)
{
    static int kind;
    int k = __atomic_load_n(&kind, __ATOMIC_ACQUIRE);
    if (!k) {
        size_t page = hsafe__os_page_size();
        void *p = NULL;
        k = HSAFE__GUARD_MPROTECT;
        if (hsafe__os_map(2 * page, &p) == HSAFE_OK) {
            /* Believe it only if the kernel itself now faults on the page:
             * writing a byte from it into a pipe fails with EFAULT when it
             * is guarded (an emulator such as qemu-user may accept the
             * advice and ignore it). Not a path-reading call: valgrind
             * would read the path itself, and crash. */
            int fds[2];
            if (madvise(p, page, MADV_GUARD_INSTALL) == 0 && pipe(fds) == 0) {
                if (write(fds[1], p, 1) < 0 && errno == EFAULT) k = HSAFE__GUARD_MADV;
                close(fds[0]);
                close(fds[1]);
            }
            munmap(p, 2 * page);
        }
        __atomic_store_n(&kind, k, __ATOMIC_RELEASE);
    }
    return k;
}

/* Lock pages in RAM. MLOCK_ONFAULT locks pages as they are touched, so a
 * large stack does not pin memory it never uses. */
static int hsafe__os_lock(void *p, size_t n)
{
#if defined(HSAFE__OS_LINUX) && defined(MLOCK_ONFAULT)
    if (mlock2(p, n, MLOCK_ONFAULT) == 0) return HSAFE_OK;
    if (errno != ENOSYS && errno != EINVAL) return HSAFE_ELOCK;
#endif
    return mlock(p, n) == 0 ? HSAFE_OK : HSAFE_ELOCK;
}

static void hsafe__os_unlock(void *p, size_t n) { munlock(p, n); }

/* The guard a pool asking for `want` bytes gets: whole pages. */
static size_t hsafe__os_guard_round(size_t want)
{
    size_t page = hsafe__os_page_size();
    return (want + page - 1) / page * page;
}

/* Make [p, p+n) a guard of the given kind: any access faults. */
static int hsafe__os_guard(void *p, size_t n, int kind)
{
    return kind == HSAFE__GUARD_MADV ? madvise(p, n, MADV_GUARD_INSTALL) == 0
                                     : mprotect(p, n, PROT_NONE) == 0;
}

/* Map n bytes with a guard of `guard` bytes (0: none) below them, in one
 * mapping; *out is the first usable byte. */
static int hsafe__os_map_guarded(size_t n, size_t guard, int kind, void **out)
{
    void *p;
    if (hsafe__os_map(guard + n, &p)) return HSAFE_ENOMEM;
    if (guard && !hsafe__os_guard(p, guard, kind)) {
        munmap(p, guard + n);
        return HSAFE_ENOMEM;
    }
    *out = (unsigned char *)p + guard;
    return HSAFE_OK;
}

static void hsafe__os_unmap_guarded(void *p, size_t n, size_t guard)
{
    if (p) munmap((unsigned char *)p - guard, guard + n);
}

/* Map one stack of `size` bytes with `guard` bytes of guard (kind `kind`)
 * below it; apply the pool flags (HSAFE_POOL_DONTDUMP, HSAFE_POOL_MLOCK).
 * *lo is its lowest usable byte. */
static int hsafe__os_map_stack(size_t size, size_t guard, int kind, unsigned flags, unsigned char **lo)
{
    size_t n = guard + size;
    unsigned char *base;
    void *p;
    if (hsafe__os_map_guarded(size, guard, kind, &p)) return HSAFE_ENOMEM;
    base = (unsigned char *)p - guard;
#if defined(MADV_DONTDUMP)
    if ((flags & HSAFE_POOL_DONTDUMP) && madvise(base + guard, size, MADV_DONTDUMP) != 0) {
        munmap(base, n);
        return HSAFE_ENOTSUP;
    }
#else
    if (flags & HSAFE_POOL_DONTDUMP) { munmap(base, n); return HSAFE_ENOTSUP; }
#endif
    if ((flags & HSAFE_POOL_MLOCK) && hsafe__os_lock(base + guard, size) != HSAFE_OK) {
        munmap(base, n);
        return HSAFE_ELOCK;
    }
    *lo = base + guard;
    return HSAFE_OK;
}

static void hsafe__os_unmap_stack(unsigned char *lo, size_t size, size_t guard)
{
    munmap(lo - guard, guard + size);
}

/* ---- residency -------------------------------------------------------- */
/* Which pages of a stack were ever touched (so may hold data), as spans of
 * byte offsets. Three ways, best first, each verified before use:
 *   PAGEMAP_SCAN ioctl on /proc/self/pagemap (Linux 6.7+): the kernel
 *     returns the touched spans directly; its cost does not grow with the
 *     number of touched pages (the pread below reads an entry per page);
 *   pread of /proc/self/pagemap entries: present or swapped bits;
 *   mincore, only for mlocked pools (it cannot see swapped pages).
 * Pages that only map the shared zero page (read, never written) count as
 * untouched under PAGEMAP_SCAN: they cannot hold data. */

#if defined(HSAFE__OS_LINUX)
#include <sys/ioctl.h>
/* uapi <linux/fs.h> of Linux 6.7; Debian 12's headers predate it */
struct hsafe__pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
struct hsafe__pm_region { uint64_t start, end, categories; };
#define HSAFE__PAGEMAP_SCAN _IOWR('f', 16, struct hsafe__pm_scan_arg)
#define HSAFE__PAGE_IS_PRESENT (1u << 3)
#define HSAFE__PAGE_IS_SWAPPED (1u << 4)
#define HSAFE__PAGE_IS_PFNZERO (1u << 5)
#endif

typedef struct hsafe__span { size_t start, end; } hsafe__span;

/* Fill out[0..max) with the touched spans of [lo, lo+size), ascending, and
 * return how many; when there are more than max, the last span reaches to
 * the top. -1: the kernel cannot tell, treat everything as touched. */
static int hsafe__os_touched(int res, int fd, unsigned char *lo, size_t size, hsafe__span *out, int max)
{
    size_t page = hsafe__os_page_size(), npages = size / page, i;
    int n = 0;
    (void)fd;
#if defined(HSAFE__OS_LINUX)
    if (res == HSAFE__RES_PAGEMAP_SCAN) {
        struct hsafe__pm_region reg[16];
        struct hsafe__pm_scan_arg arg;
        long got, k;
        memset(&arg, 0, sizeof arg);
        arg.size = sizeof arg;
        arg.start = (uint64_t)(uintptr_t)lo;
        arg.end = (uint64_t)(uintptr_t)(lo + size);
        arg.vec = (uint64_t)(uintptr_t)reg;
        arg.vec_len = (uint64_t)(max < 16 ? max : 16);
        arg.category_inverted = HSAFE__PAGE_IS_PFNZERO;   /* not the zero page */
        arg.category_mask = HSAFE__PAGE_IS_PFNZERO;
        arg.category_anyof_mask = HSAFE__PAGE_IS_PRESENT | HSAFE__PAGE_IS_SWAPPED;
        arg.return_mask = HSAFE__PAGE_IS_PRESENT | HSAFE__PAGE_IS_SWAPPED;
        got = ioctl(fd, HSAFE__PAGEMAP_SCAN, &arg);
        if (got < 0) return -1;
        for (k = 0; k < got; k++) {
            out[n].start = (size_t)(reg[k].start - arg.start);
            out[n].end = (size_t)(reg[k].end - arg.start);
            n++;
        }
        if (arg.walk_end < arg.end) {         /* more spans than room */
            if (n == 0) return -1;
            out[n - 1].end = size;
        }
        return n;
    }
#endif
    if (res == HSAFE__RES_PAGEMAP || res == HSAFE__RES_MINCORE) {
        uint64_t ent[512];
        unsigned char vec[512];
        for (i = 0; i < npages;) {
            size_t want = npages - i < 512 ? npages - i : 512, k;
            if (res == HSAFE__RES_PAGEMAP) {
                off_t off = (off_t)(((uintptr_t)lo / page + i) * sizeof ent[0]);
                if (pread(fd, ent, want * sizeof ent[0], off) != (ssize_t)(want * sizeof ent[0]))
                    return -1;
            } else {
#if defined(HSAFE__OS_LINUX)
                if (mincore(lo + i * page, want * page, vec) != 0) return -1;
#else
                return -1;
#endif
            }
            for (k = 0; k < want; k++) {
                int touched = res == HSAFE__RES_PAGEMAP ? (ent[k] >> 62) != 0  /* present|swapped */
                                                        : (vec[k] & 1) != 0;
                size_t at = (i + k) * page;
                if (!touched) continue;
                if (n > 0 && out[n - 1].end == at) { out[n - 1].end = at + page; continue; }
                if (n == max) { out[n - 1].end = size; return n; }
                out[n].start = at;
                out[n].end = at + page;
                n++;
            }
            i += want;
        }
        return n;
    }
    return -1;
}

#if defined(HSAFE__OS_LINUX)
/* Does residency method `res` tell the truth here? Checked once per pool on
 * a scratch mapping of 8 pages with every other one touched: a wrong answer
 * would leave data unwiped (qemu-user, for one, serves /proc/self/pagemap
 * for host addresses to 32-bit guests, and unswapped to big-endian ones). */
static int hsafe__os_residency_works(int fd, int res)
{
    size_t page = hsafe__os_page_size(), i;
    unsigned char *m;
    hsafe__span sp[8];
    uint64_t ent[64];
    void *v = NULL;
    int ok, n;
    if (hsafe__os_map(64 * page, &v) != HSAFE_OK) return 0;
    m = (unsigned char *)v;
    for (i = 1; i < 64; i += 2) ((volatile unsigned char *)m)[i * page] = 1;
    if (res == HSAFE__RES_PAGEMAP) {
        /* the raw entries, all 64: bits 63..61 (present, swapped, file)
         * must read 100 where touched and 000 elsewhere; qemu-user on a
         * big-endian guest serves them byte-swapped, which this catches */
        off_t off = (off_t)((uintptr_t)m / page * sizeof ent[0]);
        ok = pread(fd, ent, sizeof ent, off) == (ssize_t)sizeof ent;
        for (i = 0; ok && i < 64; i++) ok = (ent[i] >> 61) == ((i & 1) ? 4u : 0u);
    } else {
        n = hsafe__os_touched(res, fd, m, 8 * page, sp, 8);
        ok = n == 4;
        for (i = 0; ok && i < 4; i++)
            ok = sp[i].start == (2 * i + 1) * page && sp[i].end == (2 * i + 2) * page;
    }
    munmap(v, 64 * page);
    return ok;
}
#endif

/* The best residency method that works here (HSAFE__RES_*), with *fd the
 * descriptor it reads (or -1). mlocked: the stacks are locked (mincore is
 * then exact); no_scan_ioctl: do not use PAGEMAP_SCAN (Valgrind 3.19 sees
 * its results as uninitialised). */
static int hsafe__os_residency_open(int mlocked, int no_scan_ioctl, int *fd)
{
    *fd = -1;
#if defined(HSAFE__OS_LINUX)
    *fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (*fd >= 0) {
        if (!no_scan_ioctl && hsafe__os_residency_works(*fd, HSAFE__RES_PAGEMAP_SCAN))
            return HSAFE__RES_PAGEMAP_SCAN;
        if (hsafe__os_residency_works(*fd, HSAFE__RES_PAGEMAP)) return HSAFE__RES_PAGEMAP;
        close(*fd);
        *fd = -1;
    }
    if (mlocked && hsafe__os_residency_works(-1, HSAFE__RES_MINCORE))
        return HSAFE__RES_MINCORE; /* never swapped */
#else
    (void)mlocked;
    (void)no_scan_ioctl;
#endif
    return HSAFE__RES_NONE;
}

/* /proc/self/pagemap names the process that opened it: after fork() a
 * child reading an inherited descriptor would see its parent's page table
 * and skip the pages only the child touched, leaving them unwiped. The
 * epoch changes in every forked child (pthread_atfork, registered at the
 * first residency_open); a pool opened under another epoch scans whole
 * stacks instead. Raw clone() without fork's handlers is not seen. */
static volatile unsigned hsafe__os_fork_epoch;
static void hsafe__os_forked(void) { hsafe__os_fork_epoch++; }
static void hsafe__os_watch_forks(void) { pthread_atfork(NULL, NULL, hsafe__os_forked); }
static unsigned hsafe__os_residency_epoch(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, hsafe__os_watch_forks);
    return hsafe__os_fork_epoch;
}

static void hsafe__os_residency_close(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

/* Give the pages of [p, p+n) back to the system; they read as zero and
 * count as untouched afterwards. 0 on success. Not for mlocked memory. */
static int hsafe__os_discard(void *p, size_t n)
{
    return madvise(p, n, MADV_DONTNEED) == 0 ? 0 : -1;
}

/* ---- signals ---------------------------------------------------------- */

typedef sigset_t hsafe__os_sigmask;

static void hsafe__os_block_signals(hsafe__os_sigmask *saved)
{
    sigset_t all;
    sigfillset(&all);
    /* synchronous faults must still be delivered */
    sigdelset(&all, SIGSEGV); sigdelset(&all, SIGBUS); sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL); sigdelset(&all, SIGTRAP); sigdelset(&all, SIGABRT);
    pthread_sigmask(SIG_BLOCK, &all, saved);
}

/* The core's hooks (set by the first hsafe__os_thread_prepare). */
static const hsafe__os_hooks *hsafe__os_hooks_now;

static const hsafe__os_hooks *hsafe__os_hooks_get(void)
{
    return __atomic_load_n(&hsafe__os_hooks_now, __ATOMIC_ACQUIRE);
}

static struct sigaction hsafe__os_old_abrt;

/* SIGABRT: let the run layer end the current run if it catches aborts;
 * otherwise behave as if we were not here. Runs on the aborting stack (no
 * SA_ONSTACK), so leaving it by a stack switch leaves its frame in the run. */
static void hsafe__os_on_abort(int sig, siginfo_t *si, void *uc)
{
    if (hsafe__os_hooks_get()) hsafe__os_hooks_get()->on_abort();
    if (hsafe__os_old_abrt.sa_flags & SA_SIGINFO) {
        if (hsafe__os_old_abrt.sa_sigaction) hsafe__os_old_abrt.sa_sigaction(sig, si, uc);
    } else if (hsafe__os_old_abrt.sa_handler != SIG_DFL && hsafe__os_old_abrt.sa_handler != SIG_IGN) {
        hsafe__os_old_abrt.sa_handler(sig);
    }
    /* SIG_DFL: returning lets abort() reset the action and raise again */
}

static void hsafe__os_install_abort(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = hsafe__os_on_abort;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGABRT, &sa, &hsafe__os_old_abrt);
}

/* Before a run that catches aborts: install the handler (once per
 * process) and save the signal mask to restore afterwards. */
static void hsafe__os_catch_abort(hsafe__os_sigmask *saved)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, hsafe__os_install_abort);
    pthread_sigmask(SIG_SETMASK, NULL, saved);
}

static void hsafe__os_restore_signals(const hsafe__os_sigmask *saved)
{
    pthread_sigmask(SIG_SETMASK, saved, NULL);
}

/* ---- the overflow diagnostic ------------------------------------------ */
/* SIGSEGV and SIGBUS go to hsafe__os_on_fault, which runs on the thread's
 * alternate signal stack. It speaks only for an overflow of one of hsafe's
 * stacks, which the core's find_overflow hook recognises from the fault
 * address and the interrupted stack pointer (read by the CPU file):
 * running into a guard, jumping it, or (si_code SI_KERNEL, "forced") the
 * kernel's own SIGSEGV when a signal frame did not fit, a signal that
 * would otherwise be lost. It then writes one complete line to stderr and the process dies by the
 * signal, as it would have without hsafe. Everything else is passed on as
 * if hsafe were not there: to the handler installed before hsafe's (with
 * its signal mask), or else the default action, so that raise(SIGSEGV),
 * kill -SEGV and real faults outside runs end the process by the signal;
 * an ignored SIGSEGV stays ignored when it was sent, and kills when it is
 * a fault (as the kernel does). hsafe's handler stays installed.
 * The handler is async-signal-safe: its only calls are write, sigaction,
 * pthread_sigmask, pthread_kill, pthread_self and errno, all bound once
 * before it is installed (hsafe__os_bind_now), so the lazy-binding resolver
 * never runs on a nearly full stack; it formats the message itself. */

static struct sigaction hsafe__os_old_segv, hsafe__os_old_bus;

/* One line, built in the handler's frame and written at once. */
typedef struct hsafe__os_line { char b[320]; size_t n; } hsafe__os_line;

static void hsafe__os_line_s(hsafe__os_line *l, const char *s)
{
    /* the empty asm keeps compilers from turning the loop into strcpy */
    for (; *s && l->n < sizeof l->b; s++) { l->b[l->n++] = *s; __asm__ __volatile__("" : "+r"(s)); }
}

static void hsafe__os_line_u(hsafe__os_line *l, uintptr_t v, int hex)
{
    char buf[24], *p = buf + sizeof buf;
    unsigned base = hex ? 16 : 10;
    *--p = 0;
    do { *--p = "0123456789abcdef"[v % base]; v /= base; } while (v);
    if (hex) { *--p = 'x'; *--p = '0'; }
    hsafe__os_line_s(l, p);
}

static void hsafe__os_line_write(const hsafe__os_line *l)
{
    size_t off = 0;
    while (off < l->n) {
        ssize_t r = write(2, l->b + off, l->n - off);
        if (r <= 0 && errno != EINTR) return;
        if (r > 0) off += (size_t)r;
    }
}

static void hsafe__os_report(const hsafe__overflow *o, uintptr_t addr, uintptr_t sp)
{
    hsafe__os_line l;
    l.n = 0;
    hsafe__os_line_s(&l, "hsafe: stack overflow in ");
    hsafe__os_line_s(&l, o->what);
    hsafe__os_line_s(&l, ": the ");
    hsafe__os_line_u(&l, o->size, 0);
    hsafe__os_line_s(&l, "-byte stack at ");
    hsafe__os_line_u(&l, o->lo, 1);
    if (o->kind == HSAFE__OVF_NO_FRAME) {
        hsafe__os_line_s(&l, " had no room left for a signal frame (stack pointer ");
        hsafe__os_line_u(&l, sp, 1);
        hsafe__os_line_s(&l, ")");
    } else {
        hsafe__os_line_s(&l, o->kind == HSAFE__OVF_GUARD ? " hit its guard page at "
                                                         : " was overrun below its guard, at ");
        hsafe__os_line_u(&l, addr, 1);
    }
    hsafe__os_line_s(&l, " (use a larger hsafe_pool_config.stack_size)\n");
    if (l.n == sizeof l.b) l.b[l.n - 1] = '\n';
    hsafe__os_line_write(&l);
}

/* End the process by sig, as the default action would: a fault that
 * repeats when the handler returns is left to repeat (so a core shows the
 * faulting instruction); a sent or kernel-forced signal is raised again. */
static void hsafe__os_die_by(int sig, const siginfo_t *si)
{
    static struct sigaction dfl;            /* zero: SIG_DFL, empty mask */
    sigset_t set;
    int repeats = si->si_code > 0;
#if defined(SI_KERNEL)
    if (si->si_code == SI_KERNEL) repeats = 0;
#endif
#if defined(BUS_MCEERR_AO)
    if (sig == SIGBUS && si->si_code == BUS_MCEERR_AO) repeats = 0;
#endif
    sigaction(sig, &dfl, NULL);
    if (repeats) return;
    pthread_kill(pthread_self(), sig);      /* pending: blocked in here */
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

/* Hand a signal that is not hsafe's to what was installed before. */
static void hsafe__os_pass_on(int sig, siginfo_t *si, void *uc)
{
    const struct sigaction *old = sig == SIGSEGV ? &hsafe__os_old_segv : &hsafe__os_old_bus;
    int fn = (old->sa_flags & SA_SIGINFO) ? old->sa_sigaction != NULL
                                          : old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN;
    if (fn) {
        sigset_t saved;
        pthread_sigmask(SIG_BLOCK, &old->sa_mask, &saved);
        if (old->sa_flags & SA_SIGINFO) old->sa_sigaction(sig, si, uc);
        else old->sa_handler(sig);
        pthread_sigmask(SIG_SETMASK, &saved, NULL);
        return;
    }
    if (!(old->sa_flags & SA_SIGINFO) && old->sa_handler == SIG_IGN && si->si_code <= 0)
        return;                             /* a sent signal, ignored */
    hsafe__os_die_by(sig, si);
}

static void hsafe__os_on_fault(int sig, siginfo_t *si, void *uc)
{
    hsafe__overflow o;
    const hsafe__os_hooks *h = hsafe__os_hooks_get();
    uintptr_t sp = hsafe__cpu_signal_sp(uc), addr = (uintptr_t)si->si_addr;
    int saved_errno = errno, forced = 0;
#if defined(SI_KERNEL)
    forced = si->si_code == SI_KERNEL;
#endif
    if (si->si_code > 0 && h &&                         /* not sent by kill/raise */
        h->find_overflow(addr, sp, forced, &o) != HSAFE__OVF_NONE) {
        hsafe__os_report(&o, addr, sp);
        hsafe__os_die_by(sig, si);
    } else {
        hsafe__os_pass_on(sig, si, uc);
    }
    errno = saved_errno;
}

/* Bind every function the handler calls now, while the stack is roomy:
 * with lazy binding their first call would run the resolver (2-3 KiB of
 * stack, more with AVX-512 state) inside the handler. */
static void hsafe__os_bind_now(void)
{
    sigset_t set;
    struct sigaction cur;
    int e = errno;
    ssize_t r = write(2, "", 0);
    (void)r;
    sigemptyset(&set);
    sigaddset(&set, SIGSEGV);
    pthread_sigmask(SIG_BLOCK, NULL, &set);
    pthread_kill(pthread_self(), 0);
    sigaction(SIGSEGV, NULL, &cur);
    errno = e;
}

/* ---- the alternate signal stack --------------------------------------- */
/* Each thread that runs hsafe_run gets one (unless it has its own), so the
 * handler above can run when a run's stack is exhausted. Layout, one
 * mapping: [guard][stack][guard], each guard HSAFE_DEFAULT_GUARD_SIZE:
 * no frame that jumps a pool stack's guard lands in it, and it reaches no
 * one else's memory. It is hsafe's own memory that signal handlers write
 * (hsafe's, the ones it passes faults on to, and any installed with
 * SA_ONSTACK), so the run layer checks it after every run
 * (hsafe__os_altstack) and wipes it when a signal frame was written. */

static pthread_key_t hsafe__os_altstack_key;

/* This layer's per-thread state; the core keeps it in its thread root and
 * passes it in. Zero is the initial state. */
typedef struct hsafe__os_thread {
    int ready;                      /* handler and alternate stack done */
    unsigned char *alt_lo;          /* usable part of hsafe's alternate
                                       signal stack, or NULL */
    uintptr_t stack_lo, stack_hi;   /* the thread's own stack, once known */
} hsafe__os_thread;

#if defined(HSAFE__OS_LINUX)
#include <sys/auxv.h>
#endif
#ifndef AT_MINSIGSTKSZ
#  define AT_MINSIGSTKSZ 51
#endif

/* Bytes at the top of a signal stack that a signal frame covers: the
 * kernel's figure for this CPU's register state (AT_MINSIGSTKSZ) where it
 * gives one, else 8 KiB; plus 1 KiB. */
static size_t hsafe__os_sigframe_size(void)
{
    static size_t cached;
    size_t n = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (!n) {
        unsigned long k = 0;
#if defined(HSAFE__OS_LINUX)
        k = getauxval(AT_MINSIGSTKSZ);
#endif
        n = ((k > 8192 ? (size_t)k : 8192) + 1024 + 63) & ~(size_t)63;
        __atomic_store_n(&cached, n, __ATOMIC_RELAXED);
    }
    return n;
}

static size_t hsafe__os_guard_bytes(void) { return hsafe__os_guard_round(HSAFE_DEFAULT_GUARD_SIZE); }

/* Usable size: room for the handler and nested frames, with margin. */
static size_t hsafe__os_altstack_size(void)
{
    size_t page = hsafe__os_page_size();
    return ((size_t)64 * 1024 + 4 * hsafe__os_sigframe_size() + page - 1) / page * page;
}

static void hsafe__os_altstack_free(void *p)
{
    stack_t ss;
    size_t g = hsafe__os_guard_bytes();
    memset(&ss, 0, sizeof ss);
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    munmap((unsigned char *)p - g, 2 * g + hsafe__os_altstack_size());
}

static void hsafe__os_install_handler(void)
{
    struct sigaction sa;
    hsafe__os_bind_now();
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = hsafe__os_on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &hsafe__os_old_segv);
    sigaction(SIGBUS, &sa, &hsafe__os_old_bus);
    pthread_key_create(&hsafe__os_altstack_key, hsafe__os_altstack_free);
}

/* Once per process: the core's hooks and the fault handler. Once per
 * thread: the guarded alternate signal stack (freed at thread exit) unless
 * the thread has one. */
static void hsafe__os_thread_prepare(hsafe__os_thread *t, const hsafe__os_hooks *hooks)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    stack_t cur;
    if (t->ready) return;
    __atomic_store_n(&hsafe__os_hooks_now, hooks, __ATOMIC_RELEASE);   /* the same for every thread */
    pthread_once(&once, hsafe__os_install_handler);
    if (sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_DISABLE)) {
        size_t g = hsafe__os_guard_bytes(), n = hsafe__os_altstack_size();
        int kind = hsafe__os_probe_guard();
        void *p = NULL;
        if (hsafe__os_map_guarded(n + g, g, kind, &p) == HSAFE_OK) {
            stack_t ss;
            unsigned char *lo = (unsigned char *)p;
            memset(&ss, 0, sizeof ss);
            ss.ss_sp = p;
            ss.ss_size = n;
            if (hsafe__os_guard(lo + n, g, kind) && sigaltstack(&ss, NULL) == 0) {
                pthread_setspecific(hsafe__os_altstack_key, p);
                t->alt_lo = lo;
            } else {
                hsafe__os_unmap_guarded(p, n + g, g);
            }
        }
    }
    t->ready = 1;
}

/* The calling thread's alternate signal stack if hsafe made it, and how
 * many bytes at its top a signal frame writes: any signal delivered on it
 * leaves non-zero bytes there. 0 if the thread has none of hsafe's. */
static int hsafe__os_altstack(const hsafe__os_thread *t, unsigned char **lo, size_t *size, size_t *frame)
{
    if (!t->alt_lo) return 0;
    *lo = t->alt_lo;
    *size = hsafe__os_altstack_size();
    *frame = hsafe__os_sigframe_size();
    return 1;
}

/* ---- at thread exit ---------------------------------------------------- */
/* hsafe has one thing to release when a thread ends (its own pool,
 * hsafe_thread_pool): fn is the same at every call. Not called for the
 * main thread: what it holds goes with the process. */

static pthread_key_t hsafe__os_exit_key;
static void (*hsafe__os_exit_fn)(void *);

static void hsafe__os_exit_run(void *arg)
{
    void (*fn)(void *) = __atomic_load_n(&hsafe__os_exit_fn, __ATOMIC_ACQUIRE);
    if (fn && arg) fn(arg);
}

static void hsafe__os_exit_key_make(void) { pthread_key_create(&hsafe__os_exit_key, hsafe__os_exit_run); }

static int hsafe__os_at_thread_exit(void (*fn)(void *), void *arg)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    __atomic_store_n(&hsafe__os_exit_fn, fn, __ATOMIC_RELEASE);
    pthread_once(&once, hsafe__os_exit_key_make);
    return pthread_setspecific(hsafe__os_exit_key, arg) == 0 ? HSAFE_OK : HSAFE_ENOMEM;
}

/* ---- the thread's own stack ------------------------------------------- */

/* With an unlimited RLIMIT_STACK, glibc reports the main thread's stack as
 * reaching down terabytes, to wherever the next mapping is: not a stack
 * anyone can fill. hsafe counts it as this many bytes below its top. */
#define HSAFE__OS_UNLIMITED_STACK ((uintptr_t)256 * 1024 * 1024)

/* Bounds of the calling thread's own stack; 0 if unknown. */
static int hsafe__os_thread_stack(hsafe__os_thread *t, uintptr_t *lo, uintptr_t *hi)
{
    if (!t->stack_hi) {
#if defined(HSAFE__LIBC_GLIBC)
        pthread_attr_t attr;
        void *addr = NULL;
        size_t size = 0;
        if (pthread_getattr_np(pthread_self(), &attr) != 0) return 0;
        if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
            t->stack_lo = (uintptr_t)addr;
            t->stack_hi = t->stack_lo + size;
            if (size > HSAFE__OS_UNLIMITED_STACK) {
                struct rlimit rl;
                if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur == RLIM_INFINITY)
                    t->stack_lo = t->stack_hi - HSAFE__OS_UNLIMITED_STACK;
            }
        }
        pthread_attr_destroy(&attr);
#endif
        if (!t->stack_hi) return 0;
    }
    *lo = t->stack_lo;
    *hi = t->stack_hi;
    return 1;
}


#endif /* HSAFE__OS_POSIX_H */
