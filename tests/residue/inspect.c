/* tests/residue/inspect.c - the inspector: derives the secret and looks for
 * it in memory and in the register dump.
 *
 * This translation unit is compiled once, on its own, with fixed flags and
 * never with -flto (see tests/phases/40-residue.sh), so no optimisation of
 * the code under test can see into it, and nothing in it can be merged into
 * the code under test. It never calls into hsafe. Memory regions are read
 * with process_vm_readv on our own pid where the kernel allows it (a
 * system call copies the bytes; no compiler reasoning about object
 * lifetimes is involved), else with plain reads from this separate unit.
 *
 * The secret is 64 bytes from splitmix64 over a run-time seed. A hit is any
 * 8-byte window of it (57 windows) found at any byte offset; the hex text
 * the snprintf scenario prints (128 characters, 121 windows) counts too.
 * The needles live in static storage here, never on a stack we search.
 */
#define _GNU_SOURCE 1
#include "residue.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#include <sys/prctl.h>
#endif

unsigned char rt_key[RT_KEY_SIZE] __attribute__((aligned(64)));
unsigned char rt_rep[RT_REP_SIZE] __attribute__((aligned(64)));
char rt_hex[2 * RT_KEY_SIZE + 1];

/* ---- needles ----------------------------------------------------------- */

#define RT_HSLOTS 1024u
static uint64_t rt_hval[RT_HSLOTS];
static unsigned char rt_hkind[RT_HSLOTS];       /* 0 empty, 1 raw, 2 hex */

static unsigned rt_hash(uint64_t v) { return (unsigned)((v * 0x9E3779B97F4A7C15ull) >> 54) & (RT_HSLOTS - 1); }

static int rt_lookup(uint64_t v)
{
    unsigned i = rt_hash(v);
    while (rt_hkind[i]) {
        if (rt_hval[i] == v) return rt_hkind[i];
        i = (i + 1) & (RT_HSLOTS - 1);
    }
    return 0;
}

static void rt_insert(uint64_t v, unsigned char kind)
{
    unsigned i = rt_hash(v);
    while (rt_hkind[i]) {
        if (rt_hval[i] == v) return;
        i = (i + 1) & (RT_HSLOTS - 1);
    }
    rt_hval[i] = v;
    rt_hkind[i] = kind;
}

static uint64_t rt_load64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static uint64_t rt_splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A window is a fair needle if it is not mostly zero bytes (zeroed memory
 * and small integers are everywhere) and not all hex digits. */
static int rt_weak(uint64_t v)
{
    int zeros = 0, hexd = 0, i;
    for (i = 0; i < 8; i++) {
        unsigned c = (unsigned)(v >> (8 * i)) & 0xff;
        zeros += c == 0;
        hexd += (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    }
    return zeros > 2 || hexd == 8;
}

void rt_secret_init(uint64_t seed)
{
    uint64_t s = seed;
    int i, tries;
    for (tries = 0; tries < 1000; tries++) {
        int weak = 0;
        for (i = 0; i < RT_KEY_SIZE / 8; i++) {
            uint64_t w = rt_splitmix(&s);
            memcpy(rt_key + 8 * i, &w, 8);
        }
        for (i = 0; i + 8 <= RT_KEY_SIZE; i++) weak |= rt_weak(rt_load64(rt_key + i));
        if (!weak) break;
    }
    for (i = 0; i < RT_REP_SIZE; i++) rt_rep[i] = rt_key[i % RT_KEY_SIZE];
    /* the text snprintf("%016llx" x 8) makes of the key's words, without
     * calling snprintf (no hex left on any stack by the inspector) */
    for (i = 0; i < RT_KEY_SIZE / 8; i++) {
        uint64_t w = rt_load64(rt_key + 8 * i);
        int d;
        for (d = 0; d < 16; d++) rt_hex[16 * i + d] = "0123456789abcdef"[(w >> (60 - 4 * d)) & 15];
    }
    rt_hex[2 * RT_KEY_SIZE] = 0;
    memset(rt_hkind, 0, sizeof rt_hkind);
    for (i = 0; i + 8 <= RT_KEY_SIZE; i++) rt_insert(rt_load64(rt_key + i), 1);
    for (i = 0; i + 8 <= 2 * RT_KEY_SIZE; i++) rt_insert(rt_load64((const unsigned char *)rt_hex + i), 2);
    s = 0;
}

/* ---- CPU --------------------------------------------------------------- */

void rt_cpu_detect(void)
{
#if defined(__x86_64__)
    unsigned a = 1, b = 0, c = 0, d = 0, lo = 0, hi = 0;
    int level = 0;
    __asm__ __volatile__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    if ((c & (1u << 27)) && (c & (1u << 28))) {           /* OSXSAVE, AVX */
        __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        if ((lo & 0x6u) == 0x6u) level = 1;
        if (level == 1 && (lo & 0xe0u) == 0xe0u) level = 2;
    }
    (void)hi;
    rt_vec_level = level;
    a = 7; c = 0;
    __asm__ __volatile__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    rt_has_bw = level == 2 && (b & (1u << 30)) != 0;      /* AVX512BW: kmovq */
#elif defined(__aarch64__)
#  if defined(__linux__)
    rt_vec_level = (getauxval(AT_HWCAP) & (1ul << 22)) != 0;  /* HWCAP_SVE */
    if (rt_vec_level) {
        int vl = prctl(51 /* PR_SVE_GET_VL */, 0, 0, 0, 0);
        rt_sve_vl = vl > 0 ? (uint64_t)(vl & 0xffff) : 0;
        if (rt_sve_vl < 16 || rt_sve_vl > 256) rt_vec_level = 0, rt_sve_vl = 0;
    }
#  endif
    rt_has_bw = 0;
#endif
}

void rt_native_preclean(size_t n)
{
    unsigned char *b = (unsigned char *)__builtin_alloca(n);
    memset(b, 0, n);
    __asm__ __volatile__("" : : "r"(b) : "memory");
}

/* ---- memory ------------------------------------------------------------ */

static unsigned char rt_chunk[65536 + 8];
static int rt_vm_ok = -1;       /* process_vm_readv usable on ourselves? */

/* Copy n <= sizeof rt_chunk bytes from src into rt_chunk. */
static void rt_fetch(const void *src, size_t n)
{
    if (rt_vm_ok != 0) {
        struct iovec l, r;
        ssize_t got;
        l.iov_base = rt_chunk;
        l.iov_len = n;
        r.iov_base = (void *)(uintptr_t)src;
        r.iov_len = n;
        got = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
        if (got == (ssize_t)n) { rt_vm_ok = 1; return; }
        rt_vm_ok = 0;           /* EPERM under some sandboxes: read directly */
    }
    memcpy(rt_chunk, src, n);
}

void rt_scan(const void *p, size_t n, rt_hits *h)
{
    const unsigned char *base = (const unsigned char *)p;
    size_t off = 0;
    h->raw = h->hex = 0;
    h->lo = h->hi = -1;
    if (n < 8) return;
    while (off + 8 <= n) {
        size_t len = n - off, i;
        if (len > sizeof rt_chunk) len = sizeof rt_chunk;
        rt_fetch(base + off, len);
        for (i = 0; i + 8 <= len; i++) {
            uint64_t v = rt_load64(rt_chunk + i);
            int k;
            if (!v) continue;
            k = rt_lookup(v);
            if (!k) continue;
            if (k == 1) h->raw++; else h->hex++;
            if (h->lo < 0) h->lo = (long)(off + i);
            h->hi = (long)(off + i);
        }
        if (off + len >= n) break;
        off += len - 7;         /* windows that straddle the chunk end */
    }
}

size_t rt_count_nonzero(const void *p, size_t n)
{
    const unsigned char *base = (const unsigned char *)p;
    size_t off = 0, nz = 0;
    while (off < n) {
        size_t len = n - off, i;
        if (len > sizeof rt_chunk - 8) len = sizeof rt_chunk - 8;
        rt_fetch(base + off, len);
        for (i = 0; i < len; i++) nz += rt_chunk[i] != 0;
        off += len;
    }
    return nz;
}

/* ---- registers --------------------------------------------------------- */

static unsigned long rt_scan_bytes(const unsigned char *p, size_t n)
{
    unsigned long hits = 0;
    size_t i;
    for (i = 0; i + 8 <= n; i++) {
        uint64_t v = rt_load64(p + i);
        if (v && rt_lookup(v)) hits++;
    }
    return hits;
}

static void rt_name(char *names, size_t cap, const char *name, unsigned long hits)
{
    size_t len = strlen(names);
    if (!hits || len + 24 >= cap) return;
    snprintf(names + len, cap - len, "%s%s:%lu", len ? "," : "", name, hits);
}

#if defined(__x86_64__)
extern unsigned char rt_dump_gpr[16 * 8], rt_dump_vec[32 * 64], rt_dump_k[8 * 8], rt_dump_fx[512];

unsigned long rt_scan_regs(char *names, size_t cap)
{
    static const char *const gpr[16] = { "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
                                         "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" };
    unsigned long total = 0, h;
    char nm[16];
    int i;
    names[0] = 0;
    for (i = 0; i < 16; i++) {
        h = rt_scan_bytes(rt_dump_gpr + 8 * i, 8);
        rt_name(names, cap, gpr[i], h);
        total += h;
    }
    for (i = 0; i < 32; i++) {
        h = rt_scan_bytes(rt_dump_vec + 64 * i, 64);
        snprintf(nm, sizeof nm, "%s%d", rt_vec_level == 2 ? "zmm" : rt_vec_level == 1 ? "ymm" : "xmm", i);
        rt_name(names, cap, nm, h);
        total += h;
    }
    for (i = 0; i < 8; i++) {
        h = rt_scan_bytes(rt_dump_k + 8 * i, 8);
        snprintf(nm, sizeof nm, "k%d", i);
        rt_name(names, cap, nm, h);
        total += h;
    }
    for (i = 0; i < 8; i++) {       /* st/mm i: 10 bytes at 32 + 16 i */
        h = rt_scan_bytes(rt_dump_fx + 32 + 16 * i, 10);
        snprintf(nm, sizeof nm, "st%d", i);
        rt_name(names, cap, nm, h);
        total += h;
    }
    return total;
}
#elif defined(__aarch64__)
extern unsigned char rt_dump_x[32 * 8], rt_dump_v[32 * 16], rt_dump_z[32 * 256], rt_dump_p[17 * 32];

unsigned long rt_scan_regs(char *names, size_t cap)
{
    unsigned long total = 0, h;
    char nm[16];
    int i;
    names[0] = 0;
    for (i = 0; i < 32; i++) {      /* x0-x30, sp */
        h = rt_scan_bytes(rt_dump_x + 8 * i, 8);
        snprintf(nm, sizeof nm, i == 31 ? "sp" : "x%d", i);
        rt_name(names, cap, nm, h);
        total += h;
    }
    for (i = 0; i < 32; i++) {
        h = rt_scan_bytes(rt_dump_v + 16 * i, 16);
        snprintf(nm, sizeof nm, "v%d", i);
        rt_name(names, cap, nm, h);
        total += h;
    }
    if (rt_vec_level) {             /* SVE: z in full, p0-p15, FFR */
        for (i = 0; i < 32; i++) {
            h = rt_scan_bytes(rt_dump_z + 256 * i, (size_t)rt_sve_vl);
            /* the low 128 bits are v<i>, counted above */
            h -= rt_scan_bytes(rt_dump_z + 256 * i, 16);
            snprintf(nm, sizeof nm, "z%d.hi", i);
            rt_name(names, cap, nm, h);
            total += h;
        }
        for (i = 0; i < 17; i++) {
            h = rt_scan_bytes(rt_dump_p + 32 * i, (size_t)rt_sve_vl / 8);
            snprintf(nm, sizeof nm, i == 16 ? "ffr" : "p%d", i);
            rt_name(names, cap, nm, h);
            total += h;
        }
    }
    return total;
}
#else
#  error "residue tests: no register dump for this architecture"
#endif

/* ---- every writable mapping -------------------------------------------- */
/* For scenarios whose fn may write outside the pooled stack (a frame larger
 * than the guard jumps over it): search every writable mapping of the
 * process, as listed in /proc/self/maps, except this file's needle storage
 * and scan buffer. Bytes are read with pread on /proc/self/mem, page by page
 * where a chunk fails, so guard pages (PROT_NONE, or MADV_GUARD_INSTALL
 * markers inside a read-write mapping) are skipped instead of faulting. */

static char rt_maps[256 * 1024];

static int rt_excluded(uintptr_t a, uintptr_t *skip_to)
{
    static const struct { const void *p; size_t n; } ex[] = {
        { rt_key, sizeof rt_key }, { rt_rep, sizeof rt_rep }, { rt_hex, sizeof rt_hex },
        { rt_hval, sizeof rt_hval }, { rt_hkind, sizeof rt_hkind }, { rt_chunk, sizeof rt_chunk },
    };
    size_t i;
    for (i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        uintptr_t lo = (uintptr_t)ex[i].p, hi = lo + ex[i].n;
        if (a + 8 > lo && a < hi) { *skip_to = hi; return 1; }
    }
    return 0;
}

static uintptr_t rt_hexnum(const char **s)
{
    uintptr_t v = 0;
    for (;; (*s)++) {
        char c = **s;
        if (c >= '0' && c <= '9') v = v * 16 + (uintptr_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v = v * 16 + (uintptr_t)(c - 'a' + 10);
        else return v;
    }
}

unsigned long rt_scan_writable(char *where, size_t cap, unsigned long *regions)
{
    int mfd = open("/proc/self/maps", O_RDONLY), fd = open("/proc/self/mem", O_RDONLY);
    size_t len = 0, page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned long hits = 0, nreg = 0;
    const char *line;
    where[0] = 0;
    if (mfd < 0 || fd < 0) {
        snprintf(where, cap, "cannot open /proc/self/maps or /proc/self/mem");
        if (mfd >= 0) close(mfd);
        if (fd >= 0) close(fd);
        *regions = 0;
        return 0;
    }
    for (;;) {
        ssize_t n = read(mfd, rt_maps + len, sizeof rt_maps - 1 - len);
        if (n <= 0) break;
        len += (size_t)n;
    }
    rt_maps[len] = 0;
    close(mfd);
    for (line = rt_maps; *line; ) {
        const char *s = line, *eol = strchr(line, '\n');
        uintptr_t lo, hi, a;
        lo = rt_hexnum(&s);
        s++;
        hi = rt_hexnum(&s);
        s++;
        line = eol ? eol + 1 : line + strlen(line);
        if (s[1] != 'w') continue;
        nreg++;
        for (a = lo; a < hi; ) {
            size_t want = hi - a, i;
            ssize_t got;
            if (want > sizeof rt_chunk - 8) want = sizeof rt_chunk - 8;
            got = pread(fd, rt_chunk, want, (off_t)a);
            if (got != (ssize_t)want) {
                want = page - (a & (page - 1));         /* one page, or skip it */
                got = pread(fd, rt_chunk, want, (off_t)a);
                if (got != (ssize_t)want) { a += want; continue; }
            }
            /* windows straddling chunk ends are missed only at 7 bytes per
             * chunk; plants are 8-byte aligned copies, so none are lost */
            for (i = 0; i + 8 <= want; i++) {
                uintptr_t skip;
                uint64_t v = rt_load64(rt_chunk + i);
                if (!v || !rt_lookup(v)) continue;
                if (rt_excluded(a + i, &skip)) continue;
                if (!hits) {
                    size_t l = strlen(where);
                    snprintf(where + l, cap - l, "first at 0x%lx in %lx-%lx", (unsigned long)(a + i),
                             (unsigned long)lo, (unsigned long)hi);
                }
                hits++;
            }
            a += want;
        }
    }
    close(fd);
    *regions = nreg;
    return hits;
}
