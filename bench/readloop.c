/* readloop.c - diag.read_gbps.best: the fastest plain read loop over a
 * buffer on this CPU, the ceiling for hsafe's zero-prefix scan
 * (diag.scan_gbps.zero_prefix reads the same 64 KiB of zeros). No hsafe
 * here. Each loop ORs every byte into independent accumulators (no early
 * exit, no branch but the loop's) with the widest loads the CPU has:
 * 16-byte SSE2, 32-byte AVX2, 64-byte AVX-512, four or eight loads per
 * step. bench_read_setup times each variant the CPU supports and keeps the
 * fastest (chosen at run time; the table's "# read" line names it). */
#include <immintrin.h>
#include <stdio.h>
#include "bench.h"

#if defined(__x86_64__)
typedef uint64_t (*bench_read_fn)(const unsigned char *p, size_t n);

#define RL_BODY(T, LOAD, OR, K)                                          \
    T a0 = LOAD(p), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0; \
    for (size_t i = 0; i + (K) * sizeof(T) <= n; i += (K) * sizeof(T)) { \
        const T *q = (const T *)(const void *)(p + i);                    \
        a0 = OR(a0, LOAD(q + 0)); a1 = OR(a1, LOAD(q + 1));               \
        a2 = OR(a2, LOAD(q + 2)); a3 = OR(a3, LOAD(q + 3));               \
        if ((K) == 8) {                                                   \
            a4 = OR(a4, LOAD(q + 4 * ((K) == 8))); a5 = OR(a5, LOAD(q + 5 * ((K) == 8))); \
            a6 = OR(a6, LOAD(q + 6 * ((K) == 8))); a7 = OR(a7, LOAD(q + 7 * ((K) == 8))); \
        }                                                                 \
    }                                                                     \
    a0 = OR(OR(OR(a0, a1), OR(a2, a3)), OR(OR(a4, a5), OR(a6, a7)));

__attribute__((target("sse2"))) static uint64_t rl_sse2_8(const unsigned char *p, size_t n)
{
#define L(x) _mm_load_si128((const __m128i *)(const void *)(x))
    RL_BODY(__m128i, L, _mm_or_si128, 8)
#undef L
    return (uint64_t)_mm_cvtsi128_si64(a0);
}

__attribute__((target("avx2"))) static uint64_t rl_avx2_4(const unsigned char *p, size_t n)
{
#define L(x) _mm256_load_si256((const __m256i *)(const void *)(x))
    RL_BODY(__m256i, L, _mm256_or_si256, 4)
#undef L
    return (uint64_t)_mm256_extract_epi64(a0, 0);
}

__attribute__((target("avx2"))) static uint64_t rl_avx2_8(const unsigned char *p, size_t n)
{
#define L(x) _mm256_load_si256((const __m256i *)(const void *)(x))
    RL_BODY(__m256i, L, _mm256_or_si256, 8)
#undef L
    return (uint64_t)_mm256_extract_epi64(a0, 0);
}

__attribute__((target("avx512f"))) static uint64_t rl_avx512_4(const unsigned char *p, size_t n)
{
#define L(x) _mm512_load_si512((const void *)(x))
    RL_BODY(__m512i, L, _mm512_or_si512, 4)
#undef L
    return (uint64_t)_mm_cvtsi128_si64(_mm512_castsi512_si128(a0));
}

__attribute__((target("avx512f"))) static uint64_t rl_avx512_8(const unsigned char *p, size_t n)
{
#define L(x) _mm512_load_si512((const void *)(x))
    RL_BODY(__m512i, L, _mm512_or_si512, 8)
#undef L
    return (uint64_t)_mm_cvtsi128_si64(_mm512_castsi512_si128(a0));
}

static const struct { const char *name, *feature; bench_read_fn fn; } rl_variants[] = {
    { "sse2x8",   "sse2",    rl_sse2_8 },
    { "avx2x4",   "avx2",    rl_avx2_4 },
    { "avx2x8",   "avx2",    rl_avx2_8 },
    { "avx512x4", "avx512f", rl_avx512_4 },
    { "avx512x8", "avx512f", rl_avx512_8 },
};
#define RL_N ((int)(sizeof rl_variants / sizeof rl_variants[0]))

static int rl_supported(const char *f)
{
    __builtin_cpu_init();
    if (!__builtin_strcmp(f, "sse2")) return __builtin_cpu_supports("sse2");
    if (!__builtin_strcmp(f, "avx2")) return __builtin_cpu_supports("avx2");
    if (!__builtin_strcmp(f, "avx512f")) return __builtin_cpu_supports("avx512f");
    return 0;
}
#endif

static const unsigned char *rl_buf;
static size_t rl_len;
#if defined(__x86_64__)
static bench_read_fn rl_best;
#endif

static uint64_t rl_time(uint64_t (*fn)(const unsigned char *, size_t), long iters)
{
    uint64_t acc = 0, t0 = bench_now_ns();
    for (long i = 0; i < iters; i++) {
        acc += fn(rl_buf, rl_len);
        __asm__ __volatile__("" : : "r"(rl_buf) : "memory");
    }
    bench_sink = (uintptr_t)acc;
    return bench_now_ns() - t0;
}

/* Generic fallback: 8-byte words (other architectures). */
static uint64_t rl_words(const unsigned char *p, size_t n)
{
    uint64_t a = 0, b = 0, c = 0, d = 0;
    for (size_t i = 0; i + 32 <= n; i += 32) {
        const uint64_t *q = (const uint64_t *)(const void *)(p + i);
        a |= q[0]; b |= q[1]; c |= q[2]; d |= q[3];
    }
    return a | b | c | d;
}

static uint64_t (*rl_fn)(const unsigned char *, size_t) = rl_words;

/* Choose the fastest variant on buf (64-byte aligned, len a multiple of
 * 512): best of 20 timings of 200 passes each. Returns its name. */
const char *bench_read_setup(const unsigned char *buf, size_t len)
{
    const char *name = "words";
    rl_buf = buf;
    rl_len = len;
#if defined(__x86_64__)
    {
        uint64_t best = UINT64_MAX;
        for (int v = 0; v < RL_N; v++) {
            uint64_t t = UINT64_MAX;
            if (!rl_supported(rl_variants[v].feature)) continue;
            if (rl_variants[v].fn(buf, len) != 0) return NULL;   /* the buffer is zero */
            for (int k = 0; k < 20; k++) {
                uint64_t u = rl_time(rl_variants[v].fn, 200);
                if (u < t) t = u;
            }
            printf("# read     %-9s %7.1f GB/s\n", rl_variants[v].name, 200.0 * (double)len / (double)t);
            if (t < best) { best = t; rl_best = rl_variants[v].fn; name = rl_variants[v].name; }
        }
        if (rl_best) rl_fn = rl_best;
    }
#endif
    return name;
}

uint64_t bench_read_best(long iters) { return rl_time(rl_fn, iters); }
