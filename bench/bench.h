/* bench.h - shared declarations of the hsafe benchmark (bench/run.sh).
 *
 * The context backend is a compile-time choice, so every backend (and every
 * build option the benchmark compares) lives in its own small translation
 * unit that defines HSAFE_PRIVATE and includes hsafe.h with
 * HSAFE_IMPLEMENTATION. Each such unit exports only the plain functions
 * declared here; driver.c interleaves them in rounds.
 *
 * Every timed function returns the elapsed nanoseconds of `iters`
 * iterations, timed inside the function (setup is not timed).
 */
#ifndef HSAFE_BENCH_H
#define HSAFE_BENCH_H

#include <stdint.h>
#include <stddef.h>
#include <time.h>

#define BENCH_KIB ((size_t)1024)
#define BENCH_WIPE_BYTES (64 * BENCH_KIB)   /* wipe_gbps.* buffer */
#define BENCH_USE_BYTES  (1 * BENCH_KIB)    /* stack the U1K function writes */
#define BENCH_SPAWN_STACK (64 * BENCH_KIB)
#define BENCH_DEEP_BYTES (960 * BENCH_KIB)  /* one deep run, then U1K runs */
#define BENCH_TASK_STACK (16 * BENCH_KIB)   /* scoped tasks (bench/README.md) */
#define BENCH_SLEEP_TASKS 100000L           /* sleep_wake_ns, parked_bytes_per_task */
#define BENCH_COLD_TASKS 1000000L           /* spawn_cold_ns, finish_cold_ns */

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Clear the floating-point status flags (the sticky exception bits: MXCSR
 * bits 0-5, and the x87 status word's with fnclex) right before a timing.
 * The driver computes doubles between timings (ns / iters, ratios), and a
 * single inexact division sets MXCSR.PE for good. A context switch that
 * saves and restores the whole MXCSR (Boost's jump_fcontext, hsafe's
 * fcontext backend) then writes a different value at every switch, the
 * resumer's with PE set and the coroutine's without, and an ldmxcsr that
 * changes MXCSR is slow on Intel cores: the round trip reads ~120 ns
 * instead of ~8 ns there. Clearing the flags measures every backend the
 * way a program that does no floating point around its switches sees it;
 * diag.switch_rt_ns.*_inexact show the other case on purpose
 * (docs/fpu-state.md). x86 only; a no-op elsewhere. */
static inline void bench_fp_clear_status(void)
{
#if defined(__x86_64__) || (defined(__i386__) && defined(__SSE__))
    unsigned mxcsr;
    __asm__ __volatile__("stmxcsr %0" : "=m"(mxcsr));
    mxcsr &= ~0x3fu;
    __asm__ __volatile__("ldmxcsr %0\n\tfnclex" : : "m"(mxcsr));
#endif
}

/* The opposite, for the diag.*_inexact lines: one inexact division, as any
 * program computing a double might do between switches (sets MXCSR.PE on
 * x86, FPSR.IXC on aarch64, ...). */
static inline void bench_fp_raise_inexact(void)
{
    volatile double one = 1.0, three = 3.0, third;
    third = one / three;
    (void)third;
}

/* Make v look used so the loops computing it stay. */
#define BENCH_ESCAPE(v) __asm__ __volatile__("" : : "r"(v) : "memory")

extern volatile uintptr_t bench_sink;

/* work.c: the workloads (no hsafe inside); their reference loops
 * (call_rt_ns.noinline, call_ns.U1K) are in driver.c. */
uintptr_t bench_use1k(void *arg);                 /* writes 1 KiB of stack */
uintptr_t bench_use_deep(void *arg);              /* writes 960 KiB of stack */
uintptr_t bench_noinline_call(uintptr_t x);       /* an empty call */
uint64_t bench_wipe_memset(void *buf, size_t len, long iters);

/* be_asm.c: default build (asm backend, default wipe). */
const char *bench_asm_config(void);
int bench_asm_setup(void);
void bench_asm_teardown(void);
uint64_t bench_rt_asm(long iters);
uint64_t bench_spawn_asm(long iters);
uint64_t bench_run_S64K(long iters);
uint64_t bench_run_S1M(long iters);
uint64_t bench_run_S1M_after_deep(long iters);   /* diagnostic */
uint64_t bench_wipe_explicit(void *buf, size_t len, long iters);

/* be_fullwipe.c: asm backend, -DHSAFE_BENCH_FULL_WIPE. */
const char *bench_fullwipe_config(void);
int bench_fullwipe_setup(void);
void bench_fullwipe_teardown(void);
uint64_t bench_fullwipe_run_S64K(long iters);
uint64_t bench_fullwipe_run_S1M(long iters);

/* be_wipevol.c: -DHSAFE_WIPE_VOLATILE. */
const char *bench_wipevol_config(void);
uint64_t bench_wipe_volatile(void *buf, size_t len, long iters);

/* be_fcontext.c, be_ucontext.c: the other two backends. */
const char *bench_fcontext_config(void);
int bench_fcontext_setup(void);
void bench_fcontext_teardown(void);
uint64_t bench_rt_fcontext(long iters);
const char *bench_ucontext_config(void);
int bench_ucontext_setup(void);
void bench_ucontext_teardown(void);
uint64_t bench_rt_ucontext(long iters);

/* boost_raw.c: bare jump_fcontext ping-pong, no hsafe. */
int bench_boost_raw_setup(void);
uint64_t bench_rt_boost_raw(long iters);

/* be_internals.c (diagnostic): hsafe's private scan and residency query. */
int bench_internals_setup(void);
uint64_t bench_scan_zero_prefix(long iters);
uint64_t bench_residency_S1M(long iters);

/* be_task.c: scoped tasks on BENCH_TASK_STACK stacks (asm backend). */
const char *bench_task_config(void);
int bench_task_setup(void);
uint64_t bench_spawn_join(long iters);            /* iters = tasks */
uint64_t bench_yield_rt(long iters);              /* iters = round trips */
uint64_t bench_sleep_wake(long iters);            /* iters = tasks; CPU ns */
/* in a fresh (forked) process, once each */
double bench_parked_bytes(long n);
int bench_cold(long n, double *spawn_ns, double *finish_ns, double *rss_per_task,
               size_t *stack_size, const char **guard);

/* readloop.c: plain read loops (no hsafe), the ceiling for the scan */
const char *bench_read_setup(const unsigned char *buf, size_t len);  /* picks the fastest */
uint64_t bench_read_best(long iters);
const unsigned char *bench_internals_zero_buf(void);

/* be_savefpu.c (diagnostic): the asm backend with -DHSAFE_ASM_SAVE_FPU. */
const char *bench_savefpu_config(void);
int bench_savefpu_setup(void);
void bench_savefpu_teardown(void);
uint64_t bench_rt_asm_savefpu(long iters);

/* be_asmvar.c, compiled once per BENCH_VARIANT (opt-in diagnostics): the
 * asm backend with its switch replaced by a bench-only copy that saves a
 * different part of the floating-point control state. */
#define BENCH_DECLARE_VARIANT(v) \
    const char *bench_asmvar_config_##v(void); \
    int bench_asmvar_setup_##v(void); \
    void bench_asmvar_teardown_##v(void); \
    uint64_t bench_rt_asmvar_##v(long iters);
BENCH_DECLARE_VARIANT(both)
BENCH_DECLARE_VARIANT(nofp)
BENCH_DECLARE_VARIANT(x87)
BENCH_DECLARE_VARIANT(mxcsr)

#endif /* HSAFE_BENCH_H */
