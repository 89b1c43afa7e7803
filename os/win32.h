/* hsafe OS services: Windows (x86_64; built with mingw-w64, tested under
 * wine). Implementation only (os/interface.h is the contract); included
 * by hsafe.h. Same functions as os/posix.h.
 *
 * Provides:
 *   page size; committed private mappings (VirtualAlloc/VirtualFree);
 *   one guarded stack = one allocation
 *
 *       base            base+page              lo                lo+size
 *       | PAGE_NOACCESS | PAGE_GUARD|READWRITE  | stack (READWRITE) |
 *       |  floor, 4 KiB |  guard region, 16 KiB |  usable           |
 *
 *   and, while a context runs on it, the TEB says DeallocationStack = base,
 *   StackLimit = lo, StackBase = lo+size, GuaranteedStackBytes = 16 KiB
 *   (asm_x86_64_win64.h sets these; it learns base from
 *   hsafe__os_stack_floor, which looks lo up in a registry of the stacks
 *   mapped here: no system call). This is the layout Windows gives a
 *   thread's own stack, for the same reason:
 *
 *   Why PAGE_GUARD and not only PAGE_NOACCESS. When a stack overflows, the
 *   OS delivers the exception on that same stack: it writes the exception
 *   record and CONTEXT (1.5-3 KiB with AVX state) below the faulting rsp,
 *   then runs the handlers there. Below a NOACCESS page at lo there is no
 *   room, so the process dies without a word (Windows kills it; wine prints
 *   "stack overflow" under WINEDEBUG and ends the thread). A PAGE_GUARD page
 *   is a one-shot tripwire: the first touch raises the exception and lifts
 *   the guard, so the region becomes the handler's stack. Because the TEB
 *   describes the region as part of the running stack and all of it as
 *   "guaranteed", the first touch is reported as EXCEPTION_STACK_OVERFLOW
 *   right away (not silently taken as stack growth), so a run can never
 *   use, and leave data in, memory below lo without the process ending.
 *   The NOACCESS floor stops a frame larger than the guard region (it
 *   becomes an access violation) and must stay below DeallocationStack+4K,
 *   which wine keeps back unconditionally.
 *   A guarded stack costs floor + guard + size of address space, rounded up
 *   to the 64 KiB allocation granularity (320 KiB for the default 256 KiB).
 *
 *   VirtualLock for HSAFE_POOL_MLOCK (raising the process's minimum working
 *   set when the quota is too small); no HSAFE_POOL_DONTDUMP (HSAFE_ENOTSUP:
 *   what a dump contains is chosen by whoever writes it);
 *   no residency information (every release scans the whole stack);
 *   the overflow diagnostic: a vectored exception handler that recognises
 *   EXCEPTION_STACK_OVERFLOW / EXCEPTION_ACCESS_VIOLATION / STATUS_GUARD_PAGE
 *   in the guard region (or up to 64 KiB below it) of the stack a sanitized
 *   run is using, prints the same message as on POSIX and ends the process
 *   with the exception code as its exit status;
 *   signal blocking as a no-op (Windows delivers no asynchronous signals on
 *   a thread's stack; APCs run only in alertable waits the run itself
 *   makes); the current stack's bounds, from the TEB.
 */
#if defined(HSAFE__IMPL) && !defined(HSAFE__OS_WIN32_H)
#define HSAFE__OS_WIN32_H 1

#include <windows.h>
#include <signal.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { HSAFE__GUARD_NONE = 0, HSAFE__GUARD_PAGE = 1 };
enum { HSAFE__RES_NONE = 0 };

/* PAGE_GUARD bytes between the NOACCESS floor and the stack; the handler
 * of a stack overflow runs in them. */
#define HSAFE__WIN_GUARD_BYTES ((size_t)16 * 1024)

static size_t hsafe__os_page_size(void)
{
    static size_t page;
    if (!page) {
        SYSTEM_INFO si;
        GetSystemInfo(&si);
        page = si.dwPageSize ? (size_t)si.dwPageSize : 4096;
    }
    return page;
}

static int hsafe__os_map(size_t n, void **out)
{
    void *p = VirtualAlloc(NULL, n, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (!p) return HSAFE_ENOMEM;
    *out = p;
    return HSAFE_OK;
}

static void hsafe__os_unmap(void *p, size_t n) { (void)n; if (p) VirtualFree(p, 0, MEM_RELEASE); }

/* ---- registry of guarded stacks ---------------------------------------- */
/* The lowest usable address of every guarded stack this process mapped,
 * so that hsafe__os_stack_floor (asked by the asm backend whenever a
 * context is made) knows, without a system call, whether [lo, ...) has our
 * floor and guard region below it. An open-addressing hash set under a
 * slim reader/writer lock; 0 is an empty slot, 1 a deleted one. Every
 * entry is an allocation base (64 KiB aligned) plus the same offset, which
 * also rules most other addresses out before any lookup. */
static SRWLOCK hsafe__os_reg_lock = SRWLOCK_INIT;
static uintptr_t *hsafe__os_reg;
static size_t hsafe__os_reg_cap, hsafe__os_reg_used;    /* used: live + deleted */

static size_t hsafe__os_reg_slot(uintptr_t lo, size_t cap)
{
    return (size_t)(((uint64_t)(lo >> 16) * 0x9e3779b97f4a7c15ull) >> 20) & (cap - 1);
}

static void hsafe__os_reg_put(uintptr_t *tab, size_t cap, uintptr_t lo)
{
    size_t i = hsafe__os_reg_slot(lo, cap);
    while (tab[i] > 1) i = (i + 1) & (cap - 1);
    tab[i] = lo;
}

static int hsafe__os_reg_add(uintptr_t lo)
{
    int rc = HSAFE_OK;
    AcquireSRWLockExclusive(&hsafe__os_reg_lock);
    if ((hsafe__os_reg_used + 1) * 2 > hsafe__os_reg_cap) {   /* rehash */
        size_t cap = hsafe__os_reg_cap ? hsafe__os_reg_cap * 2 : 512, i, live = 0;
        void *p = NULL;
        for (i = 0; i < hsafe__os_reg_cap; i++) live += hsafe__os_reg[i] > 1;
        if ((live + 1) * 4 <= hsafe__os_reg_cap) cap = hsafe__os_reg_cap;  /* mostly deleted */
        if (hsafe__os_map(cap * sizeof(uintptr_t), &p) != HSAFE_OK) {
            rc = HSAFE_ENOMEM;
        } else {
            uintptr_t *tab = (uintptr_t *)p;
            for (i = 0; i < hsafe__os_reg_cap; i++)
                if (hsafe__os_reg[i] > 1) hsafe__os_reg_put(tab, cap, hsafe__os_reg[i]);
            hsafe__os_unmap(hsafe__os_reg, 0);
            hsafe__os_reg = tab;
            hsafe__os_reg_cap = cap;
            hsafe__os_reg_used = live;
        }
    }
    if (rc == HSAFE_OK) {
        hsafe__os_reg_put(hsafe__os_reg, hsafe__os_reg_cap, lo);
        hsafe__os_reg_used++;
    }
    ReleaseSRWLockExclusive(&hsafe__os_reg_lock);
    return rc;
}

/* The slot holding lo, or SIZE_MAX; the lock is held. */
static size_t hsafe__os_reg_find(uintptr_t lo)
{
    size_t i, n;
    if (!hsafe__os_reg_cap) return SIZE_MAX;
    i = hsafe__os_reg_slot(lo, hsafe__os_reg_cap);
    for (n = 0; n < hsafe__os_reg_cap && hsafe__os_reg[i]; n++) {
        if (hsafe__os_reg[i] == lo) return i;
        i = (i + 1) & (hsafe__os_reg_cap - 1);
    }
    return SIZE_MAX;
}

static void hsafe__os_reg_remove(uintptr_t lo)
{
    size_t i;
    AcquireSRWLockExclusive(&hsafe__os_reg_lock);
    i = hsafe__os_reg_find(lo);
    if (i != SIZE_MAX) hsafe__os_reg[i] = 1;
    ReleaseSRWLockExclusive(&hsafe__os_reg_lock);
}

static const char *hsafe__os_guard_name(int kind)
{
    return kind == HSAFE__GUARD_PAGE ? "page_guard" : "none";
}

static int hsafe__os_probe_guard(void) { return HSAFE__GUARD_PAGE; }

/* The guard a pool asking for `want` bytes gets here: the fixed layout
 * above (a 4 KiB floor and a 16 KiB guard region), whatever it asks. */
static size_t hsafe__os_guard_round(size_t want)
{
    (void)want;
    return hsafe__os_page_size() + HSAFE__WIN_GUARD_BYTES;
}

/* Map n bytes with `guard` bytes of PAGE_NOACCESS below them, in one
 * allocation; *out is the first usable byte. */
static int hsafe__os_map_guarded(size_t n, size_t guard, int kind, void **out)
{
    void *p;
    DWORD old;
    (void)kind;
    if (hsafe__os_map(guard + n, &p)) return HSAFE_ENOMEM;
    if (guard && !VirtualProtect(p, guard, PAGE_NOACCESS, &old)) {
        VirtualFree(p, 0, MEM_RELEASE);
        return HSAFE_ENOMEM;
    }
    *out = (unsigned char *)p + guard;
    return HSAFE_OK;
}

static void hsafe__os_unmap_guarded(void *p, size_t n, size_t guard)
{
    (void)n;
    if (p) VirtualFree((unsigned char *)p - guard, 0, MEM_RELEASE);
}

/* Lock pages in RAM. VirtualLock fails with ERROR_WORKING_SET_QUOTA once
 * the locked pages would not fit in the process's minimum working set;
 * grow the working set by n and try once more. */
static int hsafe__os_lock(void *p, size_t n)
{
    SIZE_T lo = 0, hi = 0;
    if (VirtualLock(p, n)) return HSAFE_OK;
    if (GetLastError() != ERROR_WORKING_SET_QUOTA ||
        !GetProcessWorkingSetSize(GetCurrentProcess(), &lo, &hi) ||
        !SetProcessWorkingSetSize(GetCurrentProcess(), lo + n, hi + n))
        return HSAFE_ELOCK;
    return VirtualLock(p, n) ? HSAFE_OK : HSAFE_ELOCK;
}

static void hsafe__os_unlock(void *p, size_t n) { VirtualUnlock(p, n); }

/* Map one stack of `size` bytes (layout above; guard: 0 for none, else
 * what hsafe__os_guard_round gave); apply the pool flags. */
static int hsafe__os_map_stack(size_t size, size_t guard, int kind, unsigned flags, unsigned char **lo)
{
    size_t below = guard, page = hsafe__os_page_size();
    unsigned char *base;
    void *p;
    DWORD old;
    (void)kind;
    if (flags & HSAFE_POOL_DONTDUMP) return HSAFE_ENOTSUP;
    if (hsafe__os_map(below + size, &p)) return HSAFE_ENOMEM;
    base = (unsigned char *)p;
    if (below && (!VirtualProtect(base, page, PAGE_NOACCESS, &old) ||
                  !VirtualProtect(base + page, below - page, PAGE_READWRITE | PAGE_GUARD, &old))) {
        VirtualFree(base, 0, MEM_RELEASE);
        return HSAFE_ENOMEM;
    }
    if ((flags & HSAFE_POOL_MLOCK) && hsafe__os_lock(base + below, size) != HSAFE_OK) {
        VirtualFree(base, 0, MEM_RELEASE);
        return HSAFE_ELOCK;
    }
    if (below && hsafe__os_reg_add((uintptr_t)(base + below)) != HSAFE_OK) {
        VirtualFree(base, 0, MEM_RELEASE);
        return HSAFE_ENOMEM;
    }
    *lo = base + below;
    return HSAFE_OK;
}

static void hsafe__os_unmap_stack(unsigned char *lo, size_t size, size_t guard)
{
    size_t below = guard;
    (void)size;
    if (below) hsafe__os_reg_remove((uintptr_t)lo);
    VirtualFree(lo - below, 0, MEM_RELEASE);
}

/* For the asm backend: where the allocation of the stack at lo begins
 * (see asm_x86_64_win64.h). */
static uintptr_t hsafe__os_stack_floor(uintptr_t lo)
{
    uintptr_t below = hsafe__os_page_size() + HSAFE__WIN_GUARD_BYTES, floor = lo;
    if (lo > below && ((lo - below) & 0xffff) == 0) {
        AcquireSRWLockShared(&hsafe__os_reg_lock);
        if (hsafe__os_reg_find(lo) != SIZE_MAX) floor = lo - below;
        ReleaseSRWLockShared(&hsafe__os_reg_lock);
    }
    return floor;
}

/* ---- residency: none on Windows (-1 = scan the whole stack) ---------- */

static int hsafe__os_residency_open(int mlocked, int no_scan_ioctl, int *fd)
{
    (void)mlocked; (void)no_scan_ioctl;
    *fd = -1;
    return HSAFE__RES_NONE;
}
static void hsafe__os_residency_close(int *fd) { *fd = -1; }
static unsigned hsafe__os_residency_epoch(void) { return 0; }   /* no fork */
typedef struct hsafe__span { size_t start, end; } hsafe__span;
static int hsafe__os_touched(int res, int fd, unsigned char *lo, size_t size, hsafe__span *out, int max)
{
    (void)res; (void)fd; (void)lo; (void)size; (void)out; (void)max;
    return -1;
}
static int hsafe__os_discard(void *p, size_t n) { (void)p; (void)n; return -1; }

/* ---- signals: nothing to block ----------------------------------------- */

typedef struct hsafe__os_sigmask { int unused_; } hsafe__os_sigmask;
static void hsafe__os_block_signals(hsafe__os_sigmask *saved) { saved->unused_ = 0; }
static void hsafe__os_restore_signals(const hsafe__os_sigmask *saved) { (void)saved; }

/* abort() in the Windows C runtime calls raise(SIGABRT), which resets the
 * action to SIG_DFL and calls the handler installed with signal(); if that
 * returns, the CRT ends the process with exit code 3. The handler runs on
 * the aborting code's stack, so leaving it by a stack switch leaves its
 * frame (and raise's and abort's) in the run, to be wiped with it. */
typedef void (*hsafe__os_sig_fn)(int);
/* This layer's per-thread state, kept in the core's thread root: none
 * (the TEB has what the handler and the stack bounds need). */
typedef struct hsafe__os_thread { int unused_; } hsafe__os_thread;

/* The core's hooks (set by the first hsafe__os_thread_prepare). */
static const hsafe__os_hooks *hsafe__os_hooks_now;

static const hsafe__os_hooks *hsafe__os_hooks_get(void)
{
    return __atomic_load_n(&hsafe__os_hooks_now, __ATOMIC_ACQUIRE);
}

static hsafe__os_sig_fn hsafe__os_old_abrt;   /* the handler we replaced */

static void hsafe__os_on_abort(int sig)
{
    if (hsafe__os_hooks_get()) hsafe__os_hooks_get()->on_abort();   /* does not return if the run catches it */
    if (hsafe__os_old_abrt && hsafe__os_old_abrt != SIG_DFL && hsafe__os_old_abrt != SIG_IGN)
        hsafe__os_old_abrt(sig);
}

/* Before a run that catches aborts: (re)install the handler, which the CRT
 * removes each time it is called. No signal mask to save. */
static void hsafe__os_catch_abort(hsafe__os_sigmask *saved)
{
    hsafe__os_sig_fn prev = signal(SIGABRT, hsafe__os_on_abort);
    if (prev != hsafe__os_on_abort && prev != SIG_ERR) hsafe__os_old_abrt = prev;
    saved->unused_ = 0;
}

/* ---- the overflow diagnostic ------------------------------------------- */

/* Windows runs exception handlers on the faulting stack: there is no
 * alternate signal stack to check after a run. */
static int hsafe__os_altstack(const hsafe__os_thread *t, unsigned char **lo, size_t *size, size_t *frame)
{
    (void)t; (void)lo; (void)size; (void)frame;
    return 0;
}

/* Output for the handler: no CRT, little stack. */
static void hsafe__os_puts(const char *s)
{
    DWORD done = 0;
    HANDLE h = GetStdHandle(STD_ERROR_HANDLE);
    if (h && h != INVALID_HANDLE_VALUE) WriteFile(h, s, (DWORD)strlen(s), &done, NULL);
}

static void hsafe__os_putu(uintptr_t v, int hex)
{
    char buf[24], *p = buf + sizeof buf;
    unsigned base = hex ? 16 : 10;
    *--p = 0;
    do { *--p = "0123456789abcdef"[v % base]; v /= base; } while (v);
    if (hex) { *--p = 'x'; *--p = '0'; }
    hsafe__os_puts(p);
}

static LONG CALLBACK hsafe__os_on_exception(EXCEPTION_POINTERS *ep)
{
    const EXCEPTION_RECORD *er = ep->ExceptionRecord;
    DWORD code = er->ExceptionCode;
    uintptr_t sp = (uintptr_t)ep->ContextRecord->Rsp, addr;
    hsafe__overflow o;
    const hsafe__os_hooks *h = hsafe__os_hooks_get();
    if (!h ||
        (code != EXCEPTION_STACK_OVERFLOW && code != EXCEPTION_ACCESS_VIOLATION &&
         code != EXCEPTION_GUARD_PAGE))
        return EXCEPTION_CONTINUE_SEARCH;
    /* a stack overflow may come without the address: the stack pointer
     * stands for it, and within a page above the bottom it means the next
     * touch would hit the guard */
    addr = er->NumberParameters >= 2 ? (uintptr_t)er->ExceptionInformation[1] : sp;
    if (h->find_overflow(addr, sp, 0, &o) == HSAFE__OVF_NONE &&
        (addr == sp || h->find_overflow(sp - 4096, sp, 0, &o) == HSAFE__OVF_NONE))
        return EXCEPTION_CONTINUE_SEARCH;
    hsafe__os_puts("hsafe: stack overflow in ");
    hsafe__os_puts(o.what);
    hsafe__os_puts(": the ");
    hsafe__os_putu(o.size, 0);
    hsafe__os_puts("-byte stack at ");
    hsafe__os_putu(o.lo, 1);
    hsafe__os_puts(o.kind == HSAFE__OVF_GUARD ? " hit its guard page at " : " was overrun below its guard, at ");
    hsafe__os_putu(addr, 1);
    hsafe__os_puts(" (use a larger hsafe_pool_config.stack_size)\n");
    /* As on POSIX the process ends here, with the exception code as its
     * exit status (what Windows reports for an unhandled overflow), but
     * without unhandled-exception filters or a debugger: they would run in
     * what is left of the guard region. */
    TerminateProcess(GetCurrentProcess(), (UINT)code);
    return EXCEPTION_CONTINUE_SEARCH;
}

static BOOL CALLBACK hsafe__os_install_handler(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    (void)once; (void)param; (void)ctx;
    AddVectoredExceptionHandler(1, hsafe__os_on_exception);
    return TRUE;
}

/* Once per process: the exception handler. Nothing per thread: Windows
 * runs the handler on the faulting stack, in its guard region. */
static void hsafe__os_thread_prepare(hsafe__os_thread *t, const hsafe__os_hooks *hooks)
{
    (void)t;
    static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
    __atomic_store_n(&hsafe__os_hooks_now, hooks, __ATOMIC_RELEASE);   /* the same for every thread */
    InitOnceExecuteOnce(&once, hsafe__os_install_handler, NULL, NULL);
}

/* ---- at thread exit: a fiber-local slot's callback ---------------------
 * hsafe has one thing to release when a thread ends (its own pool,
 * hsafe_thread_pool): fn is the same at every call. */
static DWORD hsafe__os_exit_fls = FLS_OUT_OF_INDEXES;
static void (*hsafe__os_exit_fn)(void *);

static VOID WINAPI hsafe__os_exit_run(PVOID arg)
{
    void (*fn)(void *) = __atomic_load_n(&hsafe__os_exit_fn, __ATOMIC_ACQUIRE);
    if (fn && arg) fn(arg);
}

static BOOL CALLBACK hsafe__os_exit_make(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    (void)once; (void)param; (void)ctx;
    hsafe__os_exit_fls = FlsAlloc(hsafe__os_exit_run);
    return TRUE;
}

static int hsafe__os_at_thread_exit(void (*fn)(void *), void *arg)
{
    static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
    __atomic_store_n(&hsafe__os_exit_fn, fn, __ATOMIC_RELEASE);
    InitOnceExecuteOnce(&once, hsafe__os_exit_make, NULL, NULL);
    if (hsafe__os_exit_fls == FLS_OUT_OF_INDEXES) return HSAFE_ENOMEM;
    return FlsSetValue(hsafe__os_exit_fls, arg) ? HSAFE_OK : HSAFE_ENOMEM;
}

/* Bounds of the stack the caller runs on, from the TEB (which the asm
 * backend keeps current, so inside a coroutine these are the coroutine's):
 * StackBase, and DeallocationStack plus what the OS keeps back at the
 * bottom. A thread's own stack is committed down to StackLimit, with a
 * guard page and the guaranteed bytes (at least two pages on x64, in
 * wine as in Windows) kept back; a coroutine's stack on a pooled stack
 * has GuaranteedStackBytes = its guard region above a one-page floor;
 * on caller memory StackLimit = DeallocationStack, nothing kept back. */
static int hsafe__os_thread_stack(hsafe__os_thread *t, uintptr_t *lo, uintptr_t *hi)
{
    uintptr_t base, limit, dealloc;
    uint32_t guaranteed;
    size_t page = hsafe__os_page_size();
    (void)t;
    __asm__ __volatile__("movq %%gs:0x08, %0\n\t"
                         "movq %%gs:0x10, %1\n\t"
                         "movq %%gs:0x1478, %2\n\t"
                         "movl %%gs:0x1748, %3"
                         : "=r"(base), "=r"(limit), "=r"(dealloc), "=r"(guaranteed));
    if (!base || !dealloc || dealloc >= base) return 0;
    if (limit > dealloc)
        dealloc += page + (guaranteed > 2 * page ? (size_t)guaranteed : 2 * page);
    if (dealloc >= base) return 0;
    *lo = dealloc;
    *hi = base;
    return 1;
}

#ifdef __cplusplus
}
#endif

#endif /* HSAFE__OS_WIN32_H */
