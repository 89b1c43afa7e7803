/* tests/residue/residue.c - plant a run-time secret, run hsafe, look for it.
 *
 * Proves hsafe's security claim by experiment: after hsafe_run (and
 * hsafe_run_ex, hsafe_run_inplace) returns, no 8-byte window of a 64-byte
 * secret that fn handled remains on the pooled stack (which must also be
 * all zero again), on the native stack below the caller, or in any register
 * (GPRs, xmm/ymm/zmm0-31, k0-7, x87/MMX; on aarch64 x0-x30, v0-v31); and
 * after hsafe_wipe the wiped bytes hold nothing of it.
 *
 * The same source is built twice per configuration: normally, where every
 * scenario must show ZERO hits, and with -DHSAFE_TEST_NO_WIPE (hsafe skips
 * its stack wipe and register clearing), where every scenario must show the
 * hits it was designed to leave, or the test fails: a residue test that
 * cannot see the secret it planted proves nothing.
 *
 * Every scenario runs in its own fork()ed child, so that the first call of
 * a libc function inside fn really goes through the lazy-binding resolver
 * (unless LD_BIND_NOW=1), and so that one scenario's leftovers cannot feed
 * another's control. The child:
 *   1. zeroes the native stack below itself (rt_native_preclean) and the
 *      caller-saved registers (rt_clear_regs): a clean baseline;
 *   2. calls rt_call_dump (regs_<arch>.S) with a shim that calls hsafe_run /
 *      hsafe_run_ex / hsafe_run_inplace with the scenario's function as a
 *      compile-time constant (as real callers do, so inlining, cloning and
 *      LTO get their chance); rt_call_dump dumps every register and copies
 *      the native stack below itself the instant the shim returns;
 *   3. searches the dump, the native-stack copy and (pool modes) the pooled
 *      stack, fetched again with hsafe_pool_acquire after the run, with the
 *      inspector (inspect.c, a separately compiled unit never under LTO),
 *      and writes the counts to a shared page for the parent.
 * Usage: residue [-v] [--seed N] [--only NAME]; exit 0 pass, 1 fail.
 */
#define HSAFE_IMPLEMENTATION
#include "hsafe.h"
#include "residue.h"

#include <signal.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RT_NOINLINE __attribute__((noinline))
/* Make the compiler put p's object in memory, with its current contents. */
#define RT_ESCAPE(p) __asm__ __volatile__("" : : "r"(p) : "memory")
#define RT_NOTE_FRAME() (rt_fn_frame = (uintptr_t)__builtin_frame_address(0))

#if defined(HSAFE_TEST_NO_WIPE)
#  define RT_CONTROL 1
#else
#  define RT_CONTROL 0
#endif

typedef struct rt_arg {
    const unsigned char *key;   /* rt_key: 64 bytes */
    const unsigned char *rep;   /* rt_rep: the key 16 times */
    size_t len, replen;         /* 64, 1024, read from volatiles */
    int which;                  /* in-place: the scenario's index */
} rt_arg;

static volatile size_t rt_len_v = RT_KEY_SIZE, rt_replen_v = RT_REP_SIZE;
static volatile uintptr_t rt_fn_frame;      /* fn's frame, noted from inside */
static uintptr_t rt_fn_result;              /* fn's return value (pool modes) */
static hsafe_pool rt_pool;
static hsafe_pool *rt_pool_ptr = &rt_pool;
static unsigned char rt_pool_mem[(size_t)160 * 1024] __attribute__((aligned(64)));
static volatile sig_atomic_t rt_sig_count;

static uint64_t rt_load64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* ---- scenarios: each plants the key where its name says ---------------- */

/* Locals, forced to memory, in fn's own frame and in a leaf function's
 * (gcc keeps a leaf's locals in the red zone below the stack pointer on
 * x86_64; and fn's own frame may be overwritten by hsafe's exit path, which
 * runs at the same depth, while the leaf's, deeper, is not). */
static RT_NOINLINE uint64_t rt_locals_leaf(const unsigned char *key)
{
    uint64_t k[8], h = 0;
    volatile uint64_t vk[8];
    size_t i;
    memcpy(k, key, sizeof k);
    RT_ESCAPE(k);
    for (i = 0; i < 8; i++) vk[i] = k[i];
    for (i = 0; i < 8; i++) h = (h ^ (k[i] ^ vk[i] ^ i)) * 0x100000001b3ull;
    return h;                   /* depends only on i: not secret */
}

static uintptr_t scen_locals(void *p)
{
    const rt_arg *a = (const rt_arg *)p;
    uint64_t k[8];
    RT_NOTE_FRAME();
    memcpy(k, a->key, sizeof k);
    RT_ESCAPE(k);
    return (uintptr_t)rt_locals_leaf(a->key) + (k[3] == 0);
}

/* A 16 KiB array full of key copies (glibc memcpy, run-time length). */
static uintptr_t scen_bigarray(void *p)
{
    const rt_arg *a = (const rt_arg *)p;
    unsigned char big[16384];
    size_t i;
    RT_NOTE_FRAME();
    for (i = 0; i + a->len <= sizeof big; i += a->len) memcpy(big + i, a->key, a->len);
    RT_ESCAPE(big);
    return big[100] == a->key[100 % RT_KEY_SIZE];
}

/* 50 frames deep, each frame holding one 8-byte piece of the key. */
static RT_NOINLINE uint64_t rt_deep(const unsigned char *key, int d)
{
    uint64_t piece[2], r;
    memcpy(&piece[0], key + 8 * (d % 8), 8);
    piece[1] = (uint64_t)d;
    RT_ESCAPE(piece);
    r = d ? rt_deep(key, d - 1) : 0;
    RT_ESCAPE(piece);           /* keeps the frame (and the piece) live */
    return r + piece[1] + (piece[0] == 0);
}

static uintptr_t scen_deep(void *p)
{
    const rt_arg *a = (const rt_arg *)p;
    RT_NOTE_FRAME();
    return (uintptr_t)rt_deep(a->key, 49);
}

/* The key formatted as hex text into a stack buffer; vfprintf's own
 * frames get the raw words (the va_list register save area). */
static uintptr_t scen_snprintf(void *p)
{
    const rt_arg *a = (const rt_arg *)p;
    char buf[160];
    int n;
    RT_NOTE_FRAME();
    n = snprintf(buf, sizeof buf, "%016llx%016llx%016llx%016llx%016llx%016llx%016llx%016llx",
                 (unsigned long long)rt_load64(a->key + 0), (unsigned long long)rt_load64(a->key + 8),
                 (unsigned long long)rt_load64(a->key + 16), (unsigned long long)rt_load64(a->key + 24),
                 (unsigned long long)rt_load64(a->key + 32), (unsigned long long)rt_load64(a->key + 40),
                 (unsigned long long)rt_load64(a->key + 48), (unsigned long long)rt_load64(a->key + 56));
    RT_ESCAPE(buf);
    return (uintptr_t)n + (strcmp(buf, rt_hex) != 0) * 1000;   /* 128 if the text is right */
}

/* Signal handler (no SA_ONSTACK: it runs on the interrupted stack) that
 * copies the key into its own locals. */
static void rt_on_signal(int sig)
{
    volatile uint64_t copy[8];
    size_t i;
    (void)sig;
    for (i = 0; i < 8; i++) copy[i] = rt_load64(rt_key + 8 * i);
    RT_ESCAPE(copy);
    rt_sig_count++;
}

/* raise(SIGUSR1) with the key in locals and in every vector register:
 * the kernel's signal frame (xsave image) lands on fn's stack. */
static uintptr_t scen_signal(void *p)
{
    const rt_arg *a = (const rt_arg *)p;
    uint64_t k[8];
    RT_NOTE_FRAME();
    memcpy(k, a->key, sizeof k);
    RT_ESCAPE(k);
    rt_sig_count = 0;
    rt_plant_vectors(a->rep);
    raise(SIGUSR1);
    RT_ESCAPE(k);
    return (uintptr_t)rt_sig_count;
}

/* An asynchronous signal: a one-shot ITIMER_VIRTUAL (user CPU time, so it
 * can only expire while we spin here) interrupts a loop that keeps the key
 * in the vector registers. Deterministic: the loop waits for it. */
static uintptr_t scen_itimer(void *p)
{
    const rt_arg *a = (const rt_arg *)p;
    uint64_t k[8];
    struct itimerval it;
    unsigned long spins = 0;
    RT_NOTE_FRAME();
    memcpy(k, a->key, sizeof k);
    RT_ESCAPE(k);
    rt_sig_count = 0;
    memset(&it, 0, sizeof it);
    it.it_value.tv_usec = 2000;
    setitimer(ITIMER_VIRTUAL, &it, NULL);
    rt_plant_vectors(a->rep);
    while (!rt_sig_count && spins < 4000000000ul) {
        spins++;
        __asm__ __volatile__("" : : : "memory");
    }
    memset(&it, 0, sizeof it);
    setitimer(ITIMER_VIRTUAL, &it, NULL);
    RT_ESCAPE(k);
    return (uintptr_t)rt_sig_count;
}

/* glibc memcpy with a run-time length: its AVX-512 variant leaves the data
 * in zmm16-31, where vzeroall does not reach. */
static uintptr_t scen_memcpy(void *p)
{
    const rt_arg *a = (const rt_arg *)p;
    unsigned char dst[RT_REP_SIZE];
    RT_NOTE_FRAME();
    memcpy(dst, a->rep, a->replen);
    RT_ESCAPE(dst);
    return dst[7] == a->rep[7];
}

/* Explicit loads into every vector, mask, MMX and caller-saved GPR. */
static uintptr_t scen_vector(void *p)
{
    const rt_arg *a = (const rt_arg *)p;
    RT_NOTE_FRAME();
    rt_plant_vectors(a->rep);
    rt_plant_gprs(a->key);
    return 0;
}

/* The first call of lldiv goes through the lazy-binding resolver (not with
 * LD_BIND_NOW=1), which saves the argument registers (key words) and the
 * whole vector state (the key, planted) kilobytes below fn's frame. */
static uintptr_t scen_resolver(void *p)
{
    const rt_arg *a = (const rt_arg *)p;
    lldiv_t d;
    RT_NOTE_FRAME();
    rt_plant_vectors(a->rep);
    d = lldiv((long long)rt_load64(a->key), (long long)(rt_load64(a->key + 8) | 1));
    return (uintptr_t)(d.quot != 0 || d.rem != 0);
}

/* hsafe_panic with the key in the callee-saved registers rbx, r12-r15
 * (x19-x28 on aarch64), the caller-saved ones, the vectors and locals. */
static void rt_do_panic(void)
{
    hsafe_panic("residue test: panic with the key in callee-saved registers");
}

static uintptr_t scen_panic(void *p)
{
    const rt_arg *a = (const rt_arg *)p;
    uint64_t k[8];
    RT_NOTE_FRAME();
    memcpy(k, a->key, sizeof k);
    RT_ESCAPE(k);
    rt_plant_vectors(a->rep);
    rt_plant_callee_and_call(a->key, rt_do_panic);
}

/* abort() inside hsafe_run_ex(HSAFE_RUN_CATCH_ABORT): hsafe's SIGABRT
 * handler ends the run from the signal frame on fn's stack. */
static uintptr_t scen_abort(void *p)
{
    const rt_arg *a = (const rt_arg *)p;
    uint64_t k[8];
    RT_NOTE_FRAME();
    memcpy(k, a->key, sizeof k);
    RT_ESCAPE(k);
    rt_plant_vectors(a->rep);
    abort();
}

/* A function with a 16 KiB frame that puts the key in its lowest bytes,
 * 14 KiB or more below its caller's stack pointer, before it touches
 * anything else of the frame. */
static RT_NOINLINE uint64_t rt_jump_frame(const unsigned char *key)
{
    uint64_t big[2048];         /* not volatile: clang splits a volatile array
                                   used at constant indices into scalars */
    size_t i;
    for (i = 0; i < 8; i++) big[i] = rt_load64(key + 8 * i);
    big[2047] = 1;
    RT_ESCAPE(big);             /* the whole array, in memory, as written */
    return big[2047] + (big[0] == 0);
}

/* The jump case: fill the run's stack to about 2 KiB from its end, then
 * call the 16 KiB frame: it lands below the stack, beyond a guard smaller
 * than the frame. hsafe must either stop the run (guard fault, the full
 * overflow message, death by SIGSEGV) or leave no window of the key in any
 * writable mapping of the process (hsafe's own alternate signal stack was
 * once mapped right there and kept the key). */
static uintptr_t scen_jump(void *p)
{
    const rt_arg *a = (const rt_arg *)p;
    size_t left = hsafe_stack_remaining();
    volatile unsigned char *fill;
    RT_NOTE_FRAME();
    if (left < 8192) return 0;
    fill = (volatile unsigned char *)__builtin_alloca(left - 2048);
    fill[0] = 1;
    RT_ESCAPE(fill);
    return (uintptr_t)rt_jump_frame(a->key) + fill[0] - 1;
}

/* The same frame with room to spare: always returns. Its control proves
 * that the search of every writable mapping sees the key (on the pooled
 * stack, unwiped), and its normal build that the search has no false
 * positive anywhere in the process. */
static uintptr_t scen_jumpfit(void *p)
{
    const rt_arg *a = (const rt_arg *)p;
    RT_NOTE_FRAME();
    return (uintptr_t)rt_jump_frame(a->key);
}

/* ---- shims: hsafe_run* with the scenario as a constant ----------------- */

#define RT_SHIMS(name) \
    static RT_NOINLINE uintptr_t pool_##name(void *a) \
    { return (uintptr_t)(intptr_t)hsafe_run(rt_pool_ptr, scen_##name, a, &rt_fn_result); }

/* In-place: every scenario goes through one dispatcher and one call site,
 * so the compiler sees hsafe_run_inplace called with a single constant fn,
 * as in a program with one hsafe_run_inplace call: it may specialise
 * hsafe_run_inplace and hsafe__inplace_call for it and inline the scenarios
 * into them (gcc -flto clones, clang -flto inlines); the scrub must cover
 * fn's data wherever it then lands. */
static uintptr_t scen_inplace(void *p)
{
    switch (((const rt_arg *)p)->which) {
    case 0: return scen_locals(p);
    case 1: return scen_bigarray(p);
    case 2: return scen_deep(p);
    case 3: return scen_snprintf(p);
    case 4: return scen_signal(p);
    case 5: return scen_itimer(p);
    case 6: return scen_memcpy(p);
    case 7: return scen_vector(p);
    case 8: return scen_resolver(p);
    default: return 0;
    }
}

static RT_NOINLINE uintptr_t inpl_any(void *a)
{
    return hsafe_run_inplace(scen_inplace, a, RT_SCRUB);
}

RT_SHIMS(locals)
RT_SHIMS(bigarray)
RT_SHIMS(deep)
RT_SHIMS(snprintf)
RT_SHIMS(signal)
RT_SHIMS(itimer)
RT_SHIMS(memcpy)
RT_SHIMS(vector)
RT_SHIMS(resolver)
RT_SHIMS(jump)
RT_SHIMS(jumpfit)

static RT_NOINLINE uintptr_t pool_panic(void *a)
{
    return (uintptr_t)(intptr_t)hsafe_run(rt_pool_ptr, scen_panic, a, &rt_fn_result);
}

static RT_NOINLINE uintptr_t pool_abort(void *a)
{
    return (uintptr_t)(intptr_t)hsafe_run_ex(rt_pool_ptr, scen_abort, a, HSAFE_RUN_CATCH_ABORT, NULL);
}


/* ---- task scenarios: a secret planted in a task of a hsafe_loop --------- */
/* The loop and every task record live in static storage (the records
 * outlive the scopes, as the API asks; a program may keep them anywhere,
 * so they are not on any stack that gets wiped): the search of every
 * writable mapping covers them. Each planter task holds the key in its
 * locals and in the vector registers, and blocks (switches out) with the
 * key in the callee-saved and caller-saved GPRs, so the context switch
 * itself saves it wherever the backend keeps a suspended task's
 * registers. The shim is one hsafe_loop_run; the child checks afterwards
 * every stack of the pool (all zero, no window of the key), the registers
 * and every writable mapping. */

#define RT_TASKS 4                  /* pool capacity for task scenarios */
#define RT_TASK_FAIL (-77)          /* a failing child's status */
static hsafe_loop rt_loop;
static hsafe_task rt_tasks[RT_TASKS];
static volatile int rt_blk_rc;

static void rt_blk_yield(void) { rt_blk_rc = hsafe_yield(); }
static void rt_blk_sleep(void) { rt_blk_rc = hsafe_sleep_until(HSAFE_FOREVER); }

/* The key in locals and vectors, then blk() with it in the GPRs. */
static RT_NOINLINE int rt_task_plant(const rt_arg *a, void (*blk)(void))
{
    uint64_t k[8];
    RT_NOTE_FRAME();
    memcpy(k, a->key, sizeof k);
    RT_ESCAPE(k);
    rt_plant_vectors(a->rep);
    rt_plant_callee_keep_call(a->key, blk);
    RT_ESCAPE(k);
    return rt_blk_rc;
}

/* plants, yields once, returns 0 */
static int rt_tchild_yield(void *p) { return rt_task_plant((const rt_arg *)p, rt_blk_yield); }
/* plants, sleeps until cancelled, returns HSAFE_ECANCELED */
static int rt_tchild_sleep(void *p) { return rt_task_plant((const rt_arg *)p, rt_blk_sleep); }
/* plants, yields once, fails */
static int rt_tchild_fail(void *p) { return rt_task_plant((const rt_arg *)p, rt_blk_yield) + RT_TASK_FAIL; }

/* plants, yields with the key in the callee-saved registers, then panics
 * with it still there */
static void rt_task_do_panic(void)
{
    rt_blk_rc = hsafe_yield();
    hsafe_panic("residue test: task panic with the key in callee-saved registers");
}

static int rt_tchild_panic(void *p)
{
    const rt_arg *a = (const rt_arg *)p;
    uint64_t k[8];
    RT_NOTE_FRAME();
    memcpy(k, a->key, sizeof k);
    RT_ESCAPE(k);
    rt_plant_vectors(a->rep);
    rt_plant_callee_and_call(a->key, rt_task_do_panic);
}

/* a nested sanitized run (the locals scenario, on another stack of the
 * same pool), then the planter's yield; returns the run's code */
static int rt_tchild_run(void *p)
{
    const rt_arg *a = (const rt_arg *)p;
    uint64_t k[8];
    uintptr_t r = 0;
    int rc;
    memcpy(k, a->key, sizeof k);
    RT_ESCAPE(k);
    rc = hsafe_run(rt_pool_ptr, scen_locals, (void *)p, &r);
    RT_ESCAPE(k);
    return rc + rt_task_plant(a, rt_blk_yield);
}

/* nested scope: plants in its own locals, opens a scope with a sleeper
 * and a failing child (fail-fast cancels the sleeper), returns the join */
static int rt_tchild_mid(void *p)
{
    const rt_arg *a = (const rt_arg *)p;
    hsafe_scope s;
    uint64_t k[8];
    int rc;
    memcpy(k, a->key, sizeof k);
    RT_ESCAPE(k);
    if (hsafe_scope_open(&s, "inner", 0, HSAFE_FOREVER)) return -1;
    if (hsafe_scope_spawn(&s, &rt_tasks[1], rt_tchild_sleep, p, "sleeper") ||
        hsafe_scope_spawn(&s, &rt_tasks[2], rt_tchild_fail, p, "failer")) {
        hsafe_scope_cancel(&s);
        hsafe_scope_join(&s);
        return -1;
    }
    rc = hsafe_scope_join(&s);
    RT_ESCAPE(k);
    return rc;
}

/* The root: one scope, one child (`fn`), optionally cancelled once the
 * child blocks; fn's result and the join's are checked, the verdict goes
 * to rt_fn_result (1: as expected). */
static int rt_troot(const rt_arg *a, hsafe_task_fn fn, int cancel, int want_join, int want_status)
{
    hsafe_scope s;
    int rc;
    if (hsafe_scope_open(&s, "residue", 0, HSAFE_FOREVER)) return -1;
    if (hsafe_scope_spawn(&s, &rt_tasks[0], fn, (void *)a, "planter")) {
        hsafe_scope_join(&s);
        return -1;
    }
    if (cancel) {
        hsafe_yield();              /* the child runs and blocks */
        hsafe_scope_cancel(&s);
    }
    rc = hsafe_scope_join(&s);
    rt_fn_result = rc == want_join && hsafe_task_status(&rt_tasks[0]) == want_status;
    return 0;
}

static int troot_return(void *p) { return rt_troot((const rt_arg *)p, rt_tchild_yield, 0, 0, 0); }
static int troot_panic(void *p) { return rt_troot((const rt_arg *)p, rt_tchild_panic, 0, HSAFE_EPANIC, HSAFE_EPANIC); }
static int troot_cancel(void *p)
{
    return rt_troot((const rt_arg *)p, rt_tchild_sleep, 1, HSAFE_ECANCELED, HSAFE_ECANCELED);
}
static int troot_nested(void *p)
{
    int rc = rt_troot((const rt_arg *)p, rt_tchild_mid, 0, RT_TASK_FAIL, RT_TASK_FAIL);
    rt_fn_result &= hsafe_task_status(&rt_tasks[1]) == HSAFE_ECANCELED &&
                    hsafe_task_cancel_reason(&rt_tasks[1]) == HSAFE_CANCEL_SIBLING &&
                    hsafe_task_status(&rt_tasks[2]) == RT_TASK_FAIL;
    return rc;
}
static int troot_run(void *p) { return rt_troot((const rt_arg *)p, rt_tchild_run, 0, 0, 0); }

#define RT_TASK_SHIM(name) \
    static RT_NOINLINE uintptr_t task_##name(void *a) \
    { return (uintptr_t)(intptr_t)hsafe_loop_run(&rt_loop, troot_##name, a, "residue-root"); }
RT_TASK_SHIM(return)
RT_TASK_SHIM(panic)
RT_TASK_SHIM(cancel)
RT_TASK_SHIM(nested)
RT_TASK_SHIM(run)

/* What the positive control must see (besides "something somewhere"). */
#define EXP_STACK 1u    /* hits in the run's stack region */
#define EXP_REG   2u    /* hits in the register dump */
#define EXP_DEEP  4u    /* with lazy binding: hits >= 1 KiB below fn's frame */
#define EXP_ANY   8u    /* hits in some writable mapping of the process */
/* Scenario flags. */
#define F_ALLMAPS 1u    /* search every writable mapping (both builds) */
#define F_FAULT   2u    /* the run may instead end the process: SIGSEGV with
                           the full overflow message is then the pass */
#define F_NO_MEM  4u    /* not on the caller-memory pool (no guard there:
                           fn would write over the pool's own memory) */
#define F_TASK    8u    /* a hsafe_loop_run: every stack of the pool is
                           checked (RT_TASKS of them); run on pool-mmap
                           (the default configuration) only, and not with
                           LD_BIND_NOW (lazy binding or static: the phase
                           runs each configuration both ways, and the
                           tasks' cost is kept to one) */

typedef struct rt_scen {
    const char *name;
    uintptr_t (*pool)(void *);
    uintptr_t (*inplace)(void *);
    unsigned expect;
    int want_rc;                /* hsafe_run's return code */
    uintptr_t min_result;       /* fn's result must be at least this */
    unsigned flags;             /* F_* */
} rt_scen;

static const rt_scen rt_scens[] = {
    /* in-place shims pass the index (which) to scen_inplace: keep the order */
    { "locals",   pool_locals,   inpl_any, EXP_STACK, HSAFE_OK, 0, 0 },
    { "bigarray", pool_bigarray, inpl_any, EXP_STACK, HSAFE_OK, 1, 0 },
    { "deep",     pool_deep,     inpl_any, EXP_STACK, HSAFE_OK, 0, 0 },
    { "snprintf", pool_snprintf, inpl_any, EXP_STACK, HSAFE_OK, 128, 0 },
    { "signal",   pool_signal,   inpl_any, EXP_STACK, HSAFE_OK, 1, 0 },
    { "itimer",   pool_itimer,   inpl_any, EXP_STACK, HSAFE_OK, 1, 0 },
    { "memcpy",   pool_memcpy,   inpl_any, EXP_STACK, HSAFE_OK, 1, 0 },
    { "vector",   pool_vector,   inpl_any, EXP_REG,   HSAFE_OK, 0, 0 },
    { "resolver", pool_resolver, inpl_any, EXP_DEEP,  HSAFE_OK, 1, 0 },
    { "panic",    pool_panic,    NULL,          EXP_STACK, HSAFE_EPANIC, 0, 0 },
    { "abort",    pool_abort,    NULL,          EXP_STACK, HSAFE_EPANIC, 0, 0 },
    { "jump",     pool_jump,     NULL,          EXP_ANY,   HSAFE_OK, 1, F_ALLMAPS | F_FAULT | F_NO_MEM },
    { "jumpfit",  pool_jumpfit,  NULL,          EXP_ANY | EXP_STACK, HSAFE_OK, 1, F_ALLMAPS },
    /* tasks: the key in a task that ends by return, panic, cancellation
     * while sleeping; in nested scope children (one fails, the other is
     * cancelled); in a task around a nested hsafe_run */
    { "t-return", task_return,   NULL,          EXP_ANY | EXP_STACK, HSAFE_OK, 1, F_ALLMAPS | F_TASK | F_NO_MEM },
    { "t-panic",  task_panic,    NULL,          EXP_ANY | EXP_STACK, HSAFE_OK, 1, F_ALLMAPS | F_TASK | F_NO_MEM },
    { "t-cancel", task_cancel,   NULL,          EXP_ANY | EXP_STACK, HSAFE_OK, 1, F_ALLMAPS | F_TASK | F_NO_MEM },
    { "t-nested", task_nested,   NULL,          EXP_ANY | EXP_STACK, HSAFE_OK, 1, F_ALLMAPS | F_TASK | F_NO_MEM },
    { "t-run",    task_run,      NULL,          EXP_ANY | EXP_STACK, HSAFE_OK, 1, F_ALLMAPS | F_TASK | F_NO_MEM },
};

/* ---- hsafe_wipe: stack and heap buffers, checked from outside ---------- */

static volatile uintptr_t rt_wipe_at;

/* how: 1 hsafe_wipe, 0 nothing (positive control), 2 plain memset (shows
 * what a compiler may do to a wipe that nothing reads; informational). */
static RT_NOINLINE uintptr_t wipe_stack_fn(uintptr_t how)
{
    unsigned char buf[256];
    memcpy(buf, rt_rep, sizeof buf);
    RT_ESCAPE(buf);
    rt_wipe_at = (uintptr_t)buf;
    if (how == 1) hsafe_wipe(buf, sizeof buf);
    else if (how == 2) memset(buf, 0, sizeof buf);
    return 0;
}

static RT_NOINLINE uintptr_t wipe_heap_fn(uintptr_t how)
{
    unsigned char *b = (unsigned char *)malloc(4096);
    size_t i;
    if (!b) return 1;
    for (i = 0; i < 4096; i += RT_REP_SIZE) memcpy(b + i, rt_rep, RT_REP_SIZE);
    RT_ESCAPE(b);
    rt_wipe_at = (uintptr_t)b;
    if (how == 1) hsafe_wipe(b, 4096);
    else if (how == 2) memset(b, 0, 4096);
    free(b);                    /* the allocator rewrites at most the first 32 bytes */
    return 0;
}

/* ---- the child --------------------------------------------------------- */

enum { M_POOL_MMAP, M_POOL_MEM, M_INPLACE, M_WIPE_STACK, M_WIPE_HEAP };
static const char *const rt_mode_name[] = { "pool-mmap", "pool-mem", "inplace", "wipe-stack", "wipe-heap" };

typedef struct rt_result {
    int done, rc, same_stack;
    uintptr_t result;
    rt_hits stack;              /* pooled stack, or the in-place/wipe region */
    rt_hits native;             /* pool modes: native stack below the caller */
    rt_hits beyond;             /* in-place: below the scrubbed region */
    unsigned long regs;
    size_t nonzero;             /* pool: non-zero bytes left on the stack; wipe: in the buffer */
    long deepest;               /* bytes below fn's frame of the lowest stack hit, -1 none */
    char regnames[384];
    char where[48];             /* native hits: "@W-hi..W-lo" (bytes below the caller) */
    char note[160];
    unsigned long anywhere;     /* F_ALLMAPS: hits in every writable mapping */
    unsigned long regions;      /* ... in how many mappings */
    char anywhere_at[96];       /* the first such hit */
} rt_result;

static void rt_install(int sig)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = rt_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

/* Hits in [lo, hi) of the native stack, from the copy rt_call_dump took of
 * [rt_snap_top - RT_SNAP_SIZE, rt_snap_top). */
static void rt_snap_scan(uintptr_t lo, uintptr_t hi, rt_hits *h)
{
    uintptr_t base = rt_snap_top - RT_SNAP_SIZE;
    if (lo < base) lo = base;
    if (hi > rt_snap_top) hi = rt_snap_top;
    if (hi <= lo) { memset(h, 0, sizeof *h); h->lo = h->hi = -1; return; }
    rt_scan(rt_snap + (lo - base), hi - lo, h);
    if (h->lo >= 0) { h->lo += (long)(lo - base); h->hi += (long)(lo - base); }
}

static RT_NOINLINE void rt_child(const rt_scen *s, int mode, uintptr_t how, rt_result *res)
{
    hsafe_pool_config cfg;
    rt_arg a;
    void *target;
    uintptr_t arg, ret, w;
    int rc;
    int task = s && (s->flags & F_TASK);

    memset(&cfg, 0, sizeof cfg);
    if (mode == M_POOL_MEM) {
        cfg.memory = rt_pool_mem;
        cfg.memory_size = sizeof rt_pool_mem;
        cfg.stack_size = (size_t)128 * 1024;
        cfg.capacity = 1;
    } else if (task) {
        cfg.capacity = RT_TASKS;
    }
    rc = hsafe_pool_init(&rt_pool, &cfg);
    if (rc) { snprintf(res->note, sizeof res->note, "hsafe_pool_init: %s", hsafe_strerror(rc)); return; }
    if (task) {
        hsafe_loop_config lc;
        memset(&lc, 0, sizeof lc);
        lc.pool = &rt_pool;
        rc = hsafe_loop_init(&rt_loop, &lc);
        if (rc) { snprintf(res->note, sizeof res->note, "hsafe_loop_init: %s", hsafe_strerror(rc)); return; }
    }
    rt_install(SIGUSR1);
    rt_install(SIGVTALRM);
    a.key = rt_key;
    a.rep = rt_rep;
    a.len = rt_len_v;
    a.replen = rt_replen_v;
    a.which = s ? (int)(s - rt_scens) : -1;
    rt_fn_frame = 0;
    rt_fn_result = 0;
    rt_wipe_at = 0;
    if (mode == M_WIPE_STACK) { target = (void *)wipe_stack_fn; arg = how; }
    else if (mode == M_WIPE_HEAP) { target = (void *)wipe_heap_fn; arg = how; }
    else { target = (void *)(mode == M_INPLACE ? s->inplace : s->pool); arg = (uintptr_t)&a; }

    rt_native_preclean(RT_SNAP_SIZE + 16384);
    rt_clear_regs();
    ret = rt_call_dump(target, arg, 0, 0, 0, 0);
    /* Registers and the native stack below are captured: from here on the
     * child may use both freely. */
    res->regs = rt_scan_regs(res->regnames, sizeof res->regnames);
    w = rt_snap_top;
    res->deepest = -1;
    res->stack.lo = res->native.lo = res->beyond.lo = -1;

    if (task) {
        /* every stack of the pool: the tasks' and the nested run's were
         * released; acquire hands them out (and creates the rest, fresh) */
        hsafe_stack *sts[RT_TASKS];
        size_t n = 0, j;
        res->rc = (int)(intptr_t)ret;
        res->result = rt_fn_result;
        hsafe_loop_fini(&rt_loop);
        rt_snap_scan(w - RT_SNAP_SIZE, w, &res->native);
        if (res->native.lo >= 0)
            snprintf(res->where, sizeof res->where, "@W-%ld..W-%ld", (long)RT_SNAP_SIZE - res->native.hi,
                     (long)RT_SNAP_SIZE - res->native.lo);
        while (n < RT_TASKS && hsafe_pool_acquire(&rt_pool, &sts[n]) == HSAFE_OK) n++;
        if (n != RT_TASKS) { snprintf(res->note, sizeof res->note, "acquired %zu of %d stacks", n, RT_TASKS); return; }
        for (j = 0; j < n; j++) {
            unsigned char *base = (unsigned char *)hsafe_stack_base(sts[j]);
            size_t size = hsafe_stack_size(sts[j]);
            rt_hits h;
            rt_scan(base, size, &h);
            res->stack.raw += h.raw;
            res->stack.hex += h.hex;
            res->nonzero += rt_count_nonzero(base, size);
            if (rt_fn_frame >= (uintptr_t)base && rt_fn_frame < (uintptr_t)base + size) {
                res->same_stack = 1;
                if (h.lo >= 0 && rt_fn_frame > (uintptr_t)base + (uintptr_t)h.lo)
                    res->deepest = (long)(rt_fn_frame - ((uintptr_t)base + (uintptr_t)h.lo));
            }
        }
        for (j = 0; j < n; j++) hsafe_pool_release(&rt_pool, sts[j]);
        res->anywhere = rt_scan_writable(res->anywhere_at, sizeof res->anywhere_at, &res->regions);
    } else if (mode == M_POOL_MMAP || mode == M_POOL_MEM) {
        hsafe_stack *st = NULL;
        unsigned char *base;
        size_t size;
        res->rc = (int)(intptr_t)ret;
        res->result = rt_fn_result;
        rt_snap_scan(w - RT_SNAP_SIZE, w, &res->native);
        if (res->native.lo >= 0)
            snprintf(res->where, sizeof res->where, "@W-%ld..W-%ld", (long)RT_SNAP_SIZE - res->native.hi,
                     (long)RT_SNAP_SIZE - res->native.lo);
        rc = hsafe_pool_acquire(&rt_pool, &st);
        if (rc) { snprintf(res->note, sizeof res->note, "hsafe_pool_acquire: %s", hsafe_strerror(rc)); return; }
        base = (unsigned char *)hsafe_stack_base(st);
        size = hsafe_stack_size(st);
        /* pools hand the stack just released out again: check that this is
         * the one fn ran on */
        res->same_stack = rt_fn_frame >= (uintptr_t)base && rt_fn_frame < (uintptr_t)base + size;
        rt_scan(base, size, &res->stack);
        res->nonzero = rt_count_nonzero(base, size);
        if (res->stack.lo >= 0 && rt_fn_frame > (uintptr_t)base + (uintptr_t)res->stack.lo)
            res->deepest = (long)(rt_fn_frame - ((uintptr_t)base + (uintptr_t)res->stack.lo));
        hsafe_pool_release(&rt_pool, st);
        if (s->flags & F_ALLMAPS)
            res->anywhere = rt_scan_writable(res->anywhere_at, sizeof res->anywhere_at, &res->regions);
    } else if (mode == M_INPLACE) {
        res->rc = HSAFE_OK;
        res->result = ret;
        res->same_stack = rt_fn_frame < w && rt_fn_frame >= w - RT_SCRUB;
        rt_snap_scan(w - RT_SCRUB, w, &res->stack);
        rt_snap_scan(w - RT_SNAP_SIZE, w - RT_SCRUB, &res->beyond);
        if (res->stack.lo >= 0) {
            uintptr_t at = w - RT_SNAP_SIZE + (uintptr_t)res->stack.lo;
            if (rt_fn_frame > at) res->deepest = (long)(rt_fn_frame - at);
        }
    } else {
        /* wipe: the buffer itself; stack buffer from the snapshot, heap
         * buffer (freed) past the allocator's bookkeeping words */
        res->rc = HSAFE_OK;
        res->result = ret;
        res->same_stack = 1;
        if (mode == M_WIPE_STACK) {
            uintptr_t base = w - RT_SNAP_SIZE;
            res->same_stack = rt_wipe_at >= base && rt_wipe_at + 256 <= w;
            if (res->same_stack) {
                rt_scan(rt_snap + (rt_wipe_at - base), 256, &res->stack);
                res->nonzero = rt_count_nonzero(rt_snap + (rt_wipe_at - base), 256);
            }
        } else if (rt_wipe_at) {
            rt_scan((const void *)(rt_wipe_at + 32), 4096 - 32, &res->stack);
            res->nonzero = rt_count_nonzero((const void *)(rt_wipe_at + 32), 4096 - 32);
        }
        rt_snap_scan(w - RT_SNAP_SIZE, w, &res->native);    /* informational */
    }
    res->done = 1;
}

/* ---- the parent -------------------------------------------------------- */

static int rt_verbose;
static unsigned long rt_sum_stack, rt_sum_native, rt_sum_regs, rt_sum_control, rt_checks, rt_failed;

/* F_FAULT scenarios: the child's stderr and how it ended */
static char rt_child_err[4096];
static int rt_child_status;

static rt_result *rt_spawn(const rt_scen *s, int mode, uintptr_t how, rt_result *shared)
{
    pid_t pid;
    int status = 0, fds[2] = { -1, -1 };
    size_t len = 0;
    int capture = s && (s->flags & F_FAULT);
    memset(shared, 0, sizeof *shared);
    rt_child_err[0] = 0;
    fflush(stdout);
    fflush(stderr);
    if (capture && pipe(fds) != 0) { perror("pipe"); exit(2); }
    pid = fork();
    if (pid < 0) { perror("fork"); exit(2); }
    if (pid == 0) {
        if (capture) { dup2(fds[1], 2); close(fds[0]); close(fds[1]); }
        alarm(30);
        rt_child(s, mode, how, shared);
        _exit(0);
    }
    if (capture) {
        close(fds[1]);
        for (;;) {
            ssize_t n = read(fds[0], rt_child_err + len, sizeof rt_child_err - 1 - len);
            if (n <= 0) break;
            len += (size_t)n;
            if (len == sizeof rt_child_err - 1) break;
        }
        rt_child_err[len] = 0;
        close(fds[0]);
    }
    waitpid(pid, &status, 0);
    rt_child_status = status;
    if (!shared->done && !shared->note[0])
        snprintf(shared->note, sizeof shared->note, "child ended without a result (status 0x%x)", status);
    return shared;
}

static unsigned long rt_h(const rt_hits *h) { return h->raw + h->hex; }

/* The whole overflow diagnostic: a line that starts "hsafe: stack
 * overflow" and ends "(use a larger hsafe_pool_config.stack_size)". */
static int rt_full_overflow_message(const char *err)
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

static const char *rt_ul(unsigned long v)
{
    static char b[24];
    snprintf(b, sizeof b, "%lu", v);
    return b;
}

static void rt_report(const char *mode, const char *name, const rt_result *r, int ok, const char *why)
{
    rt_checks++;
    if (!ok) rt_failed++;
    if (!ok || rt_verbose)
        printf("  %-10s %-9s stack=%lu(raw %lu hex %lu) native=%lu%s beyond=%lu regs=%lu nonzero=%lu deepest=%ld%s%s%s%s  %s%s%s\n",
               mode, name, rt_h(&r->stack), r->stack.raw, r->stack.hex, rt_h(&r->native), r->where,
               rt_h(&r->beyond), r->regs, (unsigned long)r->nonzero, r->deepest,
               r->regions ? " anywhere=" : "", r->regions ? rt_ul(r->anywhere) : "",
               r->regnames[0] ? " in " : "", r->regnames, ok ? "ok" : "FAIL", why[0] ? ": " : "", why);
}

static void rt_run_scenario(const rt_scen *s, int mode, rt_result *shared, int lazy)
{
    const rt_result *r = rt_spawn(s, mode, 0, shared);
    char why[512] = "";
    int ok = 1;
    unsigned long stack = rt_h(&r->stack), native = rt_h(&r->native), beyond = rt_h(&r->beyond);
    int pool = mode != M_INPLACE;

#define RT_WHY(...) do { size_t l_ = strlen(why); ok = 0; snprintf(why + l_, sizeof why - l_, __VA_ARGS__); } while (0)
    if (!r->done && (s->flags & F_FAULT) && WIFSIGNALED(rt_child_status) &&
        WTERMSIG(rt_child_status) == SIGSEGV && rt_full_overflow_message(rt_child_err)) {
        /* the run was stopped at the guard: nothing left behind to find */
        rt_checks++;
        if (rt_verbose)
            printf("  %-10s %-9s faulted with the full overflow message (SIGSEGV)  ok\n", rt_mode_name[mode], s->name);
        return;
    }
    if (!r->done) {
        RT_WHY("%s", r->note);
        if (s->flags & F_FAULT) {
            char *nl;
            RT_WHY("; %s, stderr: ", WIFSIGNALED(rt_child_status) ? "killed by a signal, not SIGSEGV with the full overflow message" : "exited");
            while ((nl = strchr(rt_child_err, '\n')) != NULL) *nl = '|';
            RT_WHY("%.120s", rt_child_err);
        }
    } else {
        if ((s->flags & F_ALLMAPS) && !r->regions) RT_WHY("no writable mapping searched (%s); ", r->anywhere_at);
        if (!RT_CONTROL && r->anywhere)
            RT_WHY("LEAK: secret in a writable mapping outside the test's needles: %lu hits, %s; ", r->anywhere, r->anywhere_at);
        if (RT_CONTROL && (s->expect & EXP_ANY) && !r->anywhere)
            RT_WHY("positive control: no hit in any writable mapping; ");
        if (r->rc != s->want_rc) RT_WHY("hsafe_run returned %d (%s), want %d; ", r->rc, hsafe_strerror(r->rc), s->want_rc);
        if (r->result < s->min_result) RT_WHY("fn returned %lu, want >= %lu (did the plant run?); ",
                                              (unsigned long)r->result, (unsigned long)s->min_result);
        if (!r->same_stack) RT_WHY("fn did not run on the stack that was inspected; ");
        if (beyond) RT_WHY("hits below the scrubbed %lu bytes: RT_SCRUB too small for this scenario; ",
                           (unsigned long)RT_SCRUB);
        if (!RT_CONTROL) {
            if (stack) RT_WHY("LEAK: secret on the %s; ", pool ? "pooled stack" : "native stack below the caller");
            if (native) RT_WHY("LEAK: secret on the native stack below hsafe_run; ");
            if (r->regs) RT_WHY("LEAK: secret in registers after return; ");
            if (pool && r->nonzero) RT_WHY("pool invariant broken: %lu non-zero bytes left on the released stack; ",
                                           (unsigned long)r->nonzero);
        } else {
            if (!stack && !native && !r->regs && !r->anywhere) RT_WHY("positive control saw nothing; ");
            if ((s->expect & EXP_STACK) && !stack) RT_WHY("positive control: no hit on the stack; ");
            if ((s->expect & EXP_REG) && !r->regs) RT_WHY("positive control: no hit in registers; ");
            if ((s->expect & EXP_DEEP) && lazy && r->deepest < 1024)
                RT_WHY("positive control: no resolver spill >= 1 KiB below fn's frame; ");
        }
    }
    if (!RT_CONTROL) stack += r->anywhere;
    else if (!stack && !native && !r->regs) stack = r->anywhere;     /* counted once */
    rt_sum_stack += stack;
    rt_sum_native += native + beyond;
    rt_sum_regs += r->regs;
    if (RT_CONTROL) rt_sum_control += stack + native + r->regs;
    rt_report(rt_mode_name[mode], s->name, r, ok, why);
}

static void rt_run_wipe(int mode, rt_result *shared)
{
    static const char *const hows[] = { "none", "hsafe_wipe", "memset" };
    uintptr_t how;
    for (how = 0; how < 3; how++) {
        const rt_result *r = rt_spawn(NULL, mode, how, shared);
        char why[256] = "", name[32];
        int ok = 1;
        unsigned long hits = rt_h(&r->stack);
        snprintf(name, sizeof name, "%s", hows[how]);
        if (!r->done) RT_WHY("%s", r->note);
        else if (!r->same_stack) RT_WHY("the buffer is not where it was expected");
        else if (how == 1 && (hits || r->nonzero)) RT_WHY("LEAK: %lu hits, %lu non-zero bytes after hsafe_wipe", hits, (unsigned long)r->nonzero);
        else if (how == 0 && !hits) RT_WHY("positive control (no wipe) saw nothing");
        if (how == 1) rt_sum_stack += hits;
        if (how == 0) rt_sum_control += hits;
        if (how == 2) {         /* informational: not counted */
            if (rt_verbose)
                printf("  %-10s %-9s hits=%lu nonzero=%lu (plain memset %s)\n", rt_mode_name[mode], name, hits,
                       (unsigned long)r->nonzero, hits ? "was optimised away" : "survived here");
            continue;
        }
        rt_report(rt_mode_name[mode], name, r, ok, why);
    }
}

static void rt_print_config(void)
{
    printf("# residue: %s\n", hsafe_config_string());
    fflush(stdout);
}

int main(int argc, char **argv)
{
    uint64_t seed = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid() << 32;
    const char *only = NULL;
    const char *bind = getenv("LD_BIND_NOW");
    /* lazy binding: dynamically linked (there is an interpreter) and not
     * LD_BIND_NOW; a static binary has no resolver to spill anything */
    int dynamic = getauxval(AT_BASE) != 0;
    int lazy = dynamic && !(bind && bind[0]);
    rt_result *shared;
    size_t i;
    int m;

    for (i = 1; i < (size_t)argc; i++) {
        if (!strcmp(argv[i], "-v")) rt_verbose = 1;
        else if (!strcmp(argv[i], "--seed") && i + 1 < (size_t)argc) seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--only") && i + 1 < (size_t)argc) only = argv[++i];
        else { fprintf(stderr, "usage: %s [-v] [--seed N] [--only NAME]\n", argv[0]); return 2; }
    }
    shared = (rt_result *)mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) { perror("mmap"); return 2; }
    rt_cpu_detect();
    rt_secret_init(seed);
    /* rt_secret_init's frame and registers held key words (seen on aarch64
     * just below main's frame); every child inherits this stack, and the
     * jump scenarios search all of it: start from a clean one */
    rt_native_preclean(RT_SNAP_SIZE);
    rt_clear_regs();
    /* hsafe_config_string in a child: the parent resolves as few libc
     * symbols as possible before the scenarios run */
    {
        pid_t pid;
        fflush(stdout);
        pid = fork();
        if (pid == 0) { rt_print_config(); _exit(0); }
        waitpid(pid, NULL, 0);
    }
    printf("# build=%s seed=0x%llx bind=%s vec_level=%d\n", RT_CONTROL ? "control(HSAFE_TEST_NO_WIPE)" : "normal",
           (unsigned long long)seed, !dynamic ? "static" : lazy ? "lazy" : "now", rt_vec_level);

    for (i = 0; i < sizeof rt_scens / sizeof rt_scens[0]; i++) {
        const rt_scen *s = &rt_scens[i];
        if (only && strcmp(only, s->name)) continue;
        for (m = M_POOL_MMAP; m <= M_INPLACE; m++) {
            if (m == M_INPLACE && !s->inplace) continue;
            if (m == M_POOL_MEM && (s->flags & F_NO_MEM)) continue;
            if ((s->flags & F_TASK) && dynamic && !lazy && !only) continue;
            rt_run_scenario(s, m, shared, lazy);
        }
    }
    if (!only || !strcmp(only, "wipe")) {
        rt_run_wipe(M_WIPE_STACK, shared);
        rt_run_wipe(M_WIPE_HEAP, shared);
    }
    printf("RESIDUE build=%s stack=%lu native=%lu regs=%lu control=%lu checks=%lu failed=%lu\n",
           RT_CONTROL ? "control" : "normal", rt_sum_stack, rt_sum_native, rt_sum_regs, rt_sum_control,
           rt_checks, rt_failed);
    return rt_failed ? 1 : 0;
}
