/* test_pool_kernel_view: HSAFE_POOL_MLOCK and HSAFE_POOL_DONTDUMP as the
 * kernel sees them, in /proc/self/smaps.
 *
 * Proves, for stacks acquired from mmap'd pools and touched page by page:
 *   - HSAFE_POOL_MLOCK: the kernel mappings that cover each stack are
 *     locked ("lo" in VmFlags) and their "Locked:" total covers every
 *     touched page (MLOCK_ONFAULT locks a page when it is first touched);
 *     a pool without the flag shows neither, so the check can fail (a bug
 *     that mlocks zero bytes does);
 *   - HSAFE_POOL_DONTDUMP: every mapping covering each stack has "dd" in
 *     VmFlags; without the flag, none has (a bug that passes MADV_NORMAL
 *     instead of MADV_DONTDUMP fails here).
 *   - HSAFE_POOL_MLOCK on a pool carved from caller memory: the stack's
 *     pages are locked too.
 * Skipped (77) when RLIMIT_MEMLOCK is below what the locked pool needs and
 * cannot be raised, and outside Linux.
 */
#ifndef HSAFE_TEST_SHARED_IMPL
#define HSAFE_IMPLEMENTATION
#endif
#include "hsafe.h"
#include "testutil.h"

#if defined(_WIN32) || !defined(__linux__) || defined(HSAFE_TEST_EMULATED)

int main(int argc, char **argv)
{
    t_child_dispatch(argc, argv);
    T_BEGIN("test_pool_kernel_view");
    (void)t_failures;
    T_SKIP("Linux only (/proc/self/smaps); not under an emulator such as qemu-user, whose kernel view is its own");
}

#else

#include <sys/mman.h>
#include <sys/resource.h>

#define NSTACKS    3
#define STACK_SIZE ((size_t)64 * 1024)

/* What smaps says about the mappings that overlap [lo, hi). */
typedef struct view {
    size_t overlapping;     /* mappings that overlap the range */
    size_t locked_kb;       /* sum of their Locked: */
    size_t with_lo;         /* ... of them with "lo" in VmFlags */
    size_t with_dd;         /* ... with "dd" */
    size_t covered;         /* bytes of [lo, hi) inside those mappings */
} view;

static int has_flag(const char *flags_line, const char *flag)
{
    const char *p = flags_line;
    size_t n = strlen(flag);
    while ((p = strstr(p, flag)) != NULL) {
        if ((p == flags_line || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || p[n] == 0)) return 1;
        p += n;
    }
    return 0;
}

static int smaps_view(uintptr_t lo, uintptr_t hi, view *v)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    int in = 0;
    memset(v, 0, sizeof *v);
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long a, b, kb;
        char c;
        if (sscanf(line, "%lx-%lx %c", &a, &b, &c) == 3 && strchr(line, '-') < strchr(line, ' ')) {
            in = (uintptr_t)a < hi && (uintptr_t)b > lo;
            if (in) {
                uintptr_t x = (uintptr_t)a > lo ? (uintptr_t)a : lo, y = (uintptr_t)b < hi ? (uintptr_t)b : hi;
                v->overlapping++;
                v->covered += (size_t)(y - x);
            }
            continue;
        }
        if (!in) continue;
        if (sscanf(line, "Locked: %lu kB", &kb) == 1) v->locked_kb += kb;
        else if (!strncmp(line, "VmFlags:", 8)) {
            v->with_lo += has_flag(line + 8, "lo");
            v->with_dd += has_flag(line + 8, "dd");
        }
    }
    fclose(f);
    return 0;
}

/* Acquire NSTACKS stacks of a pool with `flags`, write every page of each,
 * and check what smaps says. */
static void check_pool(unsigned flags)
{
    hsafe_pool p;
    hsafe_pool_config c;
    hsafe_stack *s[NSTACKS];
    size_t i, off, page = (size_t)sysconf(_SC_PAGESIZE);
    int rc;
    memset(&c, 0, sizeof c);
    c.stack_size = STACK_SIZE;
    c.capacity = NSTACKS;
    c.flags = flags;
    rc = hsafe_pool_init(&p, &c);
    CHECK_EQ(rc, HSAFE_OK);
    if (rc) return;
    for (i = 0; i < NSTACKS; i++) {
        rc = hsafe_pool_acquire(&p, &s[i]);
        CHECK_EQ(rc, HSAFE_OK);
        if (rc) { s[i] = NULL; continue; }
        for (off = 0; off < hsafe_stack_size(s[i]); off += page)
            ((volatile unsigned char *)hsafe_stack_base(s[i]))[off] = 0x5a;
    }
    for (i = 0; i < NSTACKS; i++) {
        uintptr_t lo, hi;
        view v;
        if (!s[i]) continue;
        lo = (uintptr_t)hsafe_stack_base(s[i]);
        hi = lo + hsafe_stack_size(s[i]);
        CHECK_EQ(smaps_view(lo, hi, &v), 0);
        printf("# flags 0x%x stack %lu [0x%lx, 0x%lx): %lu mapping(s), Locked %lu kB, lo %lu, dd %lu\n", flags,
               (unsigned long)i, (unsigned long)lo, (unsigned long)hi, (unsigned long)v.overlapping,
               (unsigned long)v.locked_kb, (unsigned long)v.with_lo, (unsigned long)v.with_dd);
        CHECK_EQ(v.covered, hi - lo);
        if (flags & HSAFE_POOL_MLOCK) {
            /* Locked: counts locked pages of the whole mapping; the stack's
             * own pages, all touched, are a lower bound */
            CHECK(v.locked_kb * 1024 >= hi - lo);
            CHECK_EQ(v.with_lo, v.overlapping);
        } else {
            CHECK_EQ(v.locked_kb, 0);
            CHECK_EQ(v.with_lo, 0);
        }
        if (flags & HSAFE_POOL_DONTDUMP) CHECK_EQ(v.with_dd, v.overlapping);
        else CHECK_EQ(v.with_dd, 0);
    }
    for (i = 0; i < NSTACKS; i++)
        if (s[i]) CHECK_EQ(hsafe_pool_release(&p, s[i]), HSAFE_OK);
    CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);
}

/* HSAFE_POOL_MLOCK on caller memory: the stacks carved from it are locked
 * too (hsafe locks the whole region at init). */
static void check_memory_pool(void)
{
    hsafe_pool p;
    hsafe_pool_config c;
    hsafe_stack *s = NULL;
    size_t size = NSTACKS * STACK_SIZE + (size_t)64 * 1024, off, page = (size_t)sysconf(_SC_PAGESIZE);
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uintptr_t lo, hi;
    view v;
    CHECK(mem != MAP_FAILED);
    if (mem == MAP_FAILED) return;
    memset(&c, 0, sizeof c);
    c.memory = mem;
    c.memory_size = size;
    c.stack_size = STACK_SIZE;
    c.capacity = NSTACKS;
    c.flags = HSAFE_POOL_MLOCK;
    CHECK_EQ(hsafe_pool_init(&p, &c), HSAFE_OK);
    CHECK_EQ(hsafe_pool_acquire(&p, &s), HSAFE_OK);
    if (s) {
        lo = (uintptr_t)hsafe_stack_base(s);
        hi = lo + hsafe_stack_size(s);
        for (off = 0; off < hsafe_stack_size(s); off += page) ((volatile unsigned char *)lo)[off] = 0x5a;
        lo = (lo + page - 1) & ~(uintptr_t)(page - 1);      /* whole pages of the stack */
        hi &= ~(uintptr_t)(page - 1);
        CHECK_EQ(smaps_view(lo, hi, &v), 0);
        printf("# caller memory, MLOCK: stack pages [0x%lx, 0x%lx): %lu mapping(s), Locked %lu kB, lo %lu\n",
               (unsigned long)lo, (unsigned long)hi, (unsigned long)v.overlapping, (unsigned long)v.locked_kb,
               (unsigned long)v.with_lo);
        CHECK(v.locked_kb * 1024 >= hi - lo);
        CHECK_EQ(v.with_lo, v.overlapping);
        CHECK_EQ(hsafe_pool_release(&p, s), HSAFE_OK);
    }
    CHECK_EQ(hsafe_pool_destroy(&p), HSAFE_OK);
    munmap(mem, size);
}

int main(int argc, char **argv)
{
    struct rlimit rl;
    size_t need = NSTACKS * STACK_SIZE + (size_t)64 * 1024;
    t_child_dispatch(argc, argv);
    T_BEGIN("test_pool_kernel_view");
    if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0) T_SKIP("getrlimit(RLIMIT_MEMLOCK) failed");
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        struct rlimit up = rl;
        up.rlim_cur = rl.rlim_max;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
            printf("SKIP: RLIMIT_MEMLOCK is %lu bytes (hard %lu), the locked pool needs %lu\n",
                   (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_max, (unsigned long)need);
            return 77;
        }
        if (setrlimit(RLIMIT_MEMLOCK, &up) != 0) {
            printf("SKIP: RLIMIT_MEMLOCK is %lu bytes and could not be raised to %lu\n",
                   (unsigned long)rl.rlim_cur, (unsigned long)need);
            return 77;
        }
    }
    check_pool(0);
    check_pool(HSAFE_POOL_MLOCK);
    check_pool(HSAFE_POOL_DONTDUMP);
    check_pool(HSAFE_POOL_MLOCK | HSAFE_POOL_DONTDUMP);
    check_memory_pool();
    T_END();
}

#endif
