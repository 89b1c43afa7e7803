/* tests/residue/residue.h - what the residue program (residue.c, built once
 * per configuration) shares with the inspector (inspect.c, compiled once,
 * separately, without LTO) and the register helpers (regs_<arch>.S).
 * See README.md in this directory. */
#ifndef RT_RESIDUE_H
#define RT_RESIDUE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RT_KEY_SIZE   64                    /* the secret */
#define RT_REP_SIZE   1024                  /* the secret repeated 16 times */
#define RT_SNAP_SIZE  ((size_t)128 * 1024)  /* native stack copied below W */
#define RT_SCRUB      ((size_t)64 * 1024)   /* scrub_bytes for hsafe_run_inplace */

/* ---- the secret (inspect.c) ------------------------------------------- */
extern unsigned char rt_key[RT_KEY_SIZE];   /* 64 random bytes */
extern unsigned char rt_rep[RT_REP_SIZE];   /* rt_key x 16 */
extern char rt_hex[2 * RT_KEY_SIZE + 1];    /* "%016llx" x 8 of rt_key's words */
/* Derive the secret from seed (splitmix64); builds the needle table. */
void rt_secret_init(uint64_t seed);
/* Detect SSE/AVX/AVX-512 from CPUID+XCR0 (x86_64), SVE (aarch64). */
void rt_cpu_detect(void);
/* Zero n bytes of native stack below the caller (establish a clean
 * baseline for the snapshot). */
void rt_native_preclean(size_t n);

/* ---- searching (inspect.c) -------------------------------------------- */
typedef struct rt_hits {
    unsigned long raw;          /* byte offsets where an 8-byte window of the key starts */
    unsigned long hex;          /* ... of the key's hex text (snprintf scenario) */
    long lo, hi;                /* lowest / highest hit offset in the region, -1 if none */
} rt_hits;
/* Count hits in [p, p+n); reads through process_vm_readv when it can. */
void rt_scan(const void *p, size_t n, rt_hits *h);
/* Bytes that are not zero in [p, p+n). */
size_t rt_count_nonzero(const void *p, size_t n);
/* Count hits in every writable mapping of the process (/proc/self/maps),
 * except the inspector's own needle storage and scan buffer; unreadable
 * pages (guards) are skipped. where gets the first hit's address and its
 * mapping; *regions the number of writable mappings searched. */
unsigned long rt_scan_writable(char *where, size_t cap, unsigned long *regions);
/* Scan the register dump; names of registers with hits go to names. */
unsigned long rt_scan_regs(char *names, size_t cap);

/* ---- register helpers (regs_<arch>.S) ---------------------------------- */
uintptr_t rt_call_dump(void *target, uintptr_t a, uintptr_t b, uintptr_t c,
                       uintptr_t d, uintptr_t e);
void rt_clear_regs(void);
void rt_plant_vectors(const void *rep);   /* rt_rep: >= 256 readable bytes */
void rt_plant_gprs(const void *key64);
void rt_plant_callee_and_call(const void *key64, void (*fn)(void)) __attribute__((noreturn));
void rt_plant_callee_keep_call(const void *key64, void (*fn)(void));   /* fn may return */
extern unsigned char rt_snap[];             /* copy of [rt_snap_top - RT_SNAP_SIZE, rt_snap_top) */
extern uintptr_t rt_snap_top;               /* W: rt_call_dump's stack pointer at the call */
extern int rt_vec_level;                    /* x86_64: 0 SSE, 1 AVX, 2 AVX-512; aarch64: 1 SVE */
extern int rt_has_bw;                      /* x86_64: AVX512BW (kmovq) */
extern uint64_t rt_sve_vl;                  /* aarch64: SVE vector length in bytes */

#ifdef __cplusplus
}
#endif

#endif /* RT_RESIDUE_H */
