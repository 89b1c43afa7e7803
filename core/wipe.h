/* core/wipe.h - hsafe_wipe (the wipe backends), the scan for the all-zero
 * prefix of a stack, and the one-time CPU detection.
 * Part of hsafe (the manual is hsafe.h; the API is api/wipe.h).
 * Implementation only; uses the CPU file (cpu/interface.h).
 */
#if defined(HSAFE__IMPL) && !defined(HSAFE__WIPE_IMPL)
#define HSAFE__WIPE_IMPL 1

/* Wipe backends. The default uses the libc's secure zeroing function:
 * memset_explicit (C23; glibc >= 2.43, FreeBSD >= 15, NetBSD >= 11),
 * else explicit_bzero (glibc >= 2.25, OpenBSD, FreeBSD >= 11), else
 * SecureZeroMemory (Windows); where none exists, memset followed by a
 * compiler barrier that makes the zeroed bytes observable. They are
 * declared under private names bound to the libc symbol, so no feature
 * macro or header order matters. */
#if defined(HSAFE_WIPE_MEMSET_EXPLICIT) && defined(HSAFE_WIPE_VOLATILE)
#  error "hsafe: define at most one of HSAFE_WIPE_MEMSET_EXPLICIT, HSAFE_WIPE_VOLATILE"
#endif

#if defined(HSAFE_WIPE_VOLATILE)
#  define HSAFE__WIPE_NAME "volatile"
/* 16-byte volatile vector stores, four per iteration (wipe_ratio.volatile
 * in README.md; a volatile byte loop is far slower), then a word/byte tail. */
typedef uint64_t hsafe__v16 __attribute__((vector_size(16), aligned(1)));
static void hsafe__wipe_impl(void *p, size_t n)
{
    volatile unsigned char *b = (volatile unsigned char *)p;
    hsafe__v16 z = {0, 0};
    while (n && ((uintptr_t)b & 15)) { *b++ = 0; n--; }
    {
        volatile hsafe__v16 *v = (volatile hsafe__v16 *)(uintptr_t)b;
        for (; n >= 64; n -= 64, v += 4) { v[0] = z; v[1] = z; v[2] = z; v[3] = z; }
        for (; n >= 16; n -= 16, v++) v[0] = z;
        b = (volatile unsigned char *)v;
    }
    while (n) { *b++ = 0; n--; }
}
#else
#  if defined(HSAFE__LIBC_MEMSET_EXPLICIT)
#    define HSAFE__WIPE_NAME "memset_explicit"
extern void *hsafe__libc_memset_explicit(void *, int, size_t) __asm__("memset_explicit");
static void hsafe__wipe_impl(void *p, size_t n) { hsafe__libc_memset_explicit(p, 0, n); }
#  elif defined(HSAFE__LIBC_EXPLICIT_BZERO)
#    define HSAFE__WIPE_NAME "explicit_bzero"
extern void hsafe__libc_explicit_bzero(void *, size_t) __asm__("explicit_bzero");
static void hsafe__wipe_impl(void *p, size_t n) { hsafe__libc_explicit_bzero(p, n); }
#  elif defined(HSAFE__OS_WIN32)
#    include <windows.h>
#    define HSAFE__WIPE_NAME "SecureZeroMemory"
static void hsafe__wipe_impl(void *p, size_t n) { SecureZeroMemory(p, n); }
#  else
#    define HSAFE__WIPE_NAME "memset+barrier"
static void hsafe__wipe_impl(void *p, size_t n)
{
    memset(p, 0, n);
    __asm__ __volatile__("" : : "r"(p) : "memory");
}
#  endif
#endif

HSAFE_API void hsafe_wipe(void *p, size_t len)
{
    if (p && len) hsafe__wipe_impl(p, len);
}

/* Length of the all-zero prefix of [p, p+n), rounded down to 64 bytes:
 * the portable scan (16-byte vector ORs, four per step). A CPU file may
 * provide a faster hsafe__cpu_zero_prefix (it runs at the speed of memset
 * or better, so scanning the untouched part costs less than wiping it). */
typedef uint64_t hsafe__u64x2 __attribute__((vector_size(16), aligned(1)));
static size_t hsafe__zero_prefix_portable(const unsigned char *p, size_t n)
{
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        const hsafe__u64x2 *q = (const hsafe__u64x2 *)(const void *)(p + i);
        hsafe__u64x2 o = q[0] | q[1] | q[2] | q[3];
        if (o[0] | o[1]) break;
    }
    return i;
}

/* The scan release uses: the CPU file's, where it has one. */
#if defined(HSAFE__CPU_HAS_ZERO_PREFIX)
#  define hsafe__zero_prefix hsafe__cpu_zero_prefix
#else
#  define hsafe__zero_prefix hsafe__zero_prefix_portable
#endif

static void hsafe__cpu_init_once(void)
{
    static int done;
    if (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        hsafe__cpu_init();
        __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    }
}

#endif /* HSAFE__IMPL */
