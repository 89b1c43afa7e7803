/* api/pool.h - stack pools: hsafe_pool_*, and the hsafe_stack accessors.
 * Part of hsafe (the manual is hsafe.h). Public declarations; uses
 * core/base.h.
 */
#ifndef HSAFE__API_POOL_H
#define HSAFE__API_POOL_H
HSAFE__BEGIN_C

#define HSAFE_DEFAULT_STACK_SIZE ((size_t)256 * 1024)
#define HSAFE_DEFAULT_GUARD_SIZE ((size_t)64 * 1024)
#define HSAFE_DEFAULT_CAPACITY   ((size_t)16)
#define HSAFE_MAX_STACK_SIZE     ((size_t)1 << 30)   /* 1 GiB */
#define HSAFE_MAX_CAPACITY       ((size_t)1 << 20)

/* Pool flags (hsafe_pool_config.flags). */
#define HSAFE_POOL_MLOCK    0x1u  /* lock stacks in RAM so they never reach swap
                                     (MLOCK_ONFAULT where the kernel has it) */
#define HSAFE_POOL_DONTDUMP 0x2u  /* keep stacks out of core dumps (MADV_DONTDUMP) */
#define HSAFE_POOL_NO_GUARD 0x4u  /* no guard region below each mmap'd stack */

/* Zero-initialise and set what you need: zero means "default". */
typedef struct hsafe_pool_config {
    size_t stack_size;      /* usable bytes per stack; 0 = 256 KiB; rounded up
                               to whole pages for mmap'd stacks */
    size_t capacity;        /* most stacks alive at once; 0 = 16, or as many
                               as fit in `memory` */
    unsigned flags;         /* HSAFE_POOL_* */
    void *memory;           /* caller memory to carve stacks from (no mmap,
                               no guard pages), or NULL to use mmap */
    size_t memory_size;
    size_t guard_size;      /* bytes of guard below each mmap'd stack; 0 =
                               64 KiB; rounded up to whole pages. A frame
                               larger than the guard can jump it: see the
                               guard notes in docs/guide.md */
} hsafe_pool_config;

typedef struct hsafe_pool hsafe_pool;

/* Where a stack of a pool is in its life (hsafe_stack.state). */
enum hsafe__stack_state {
    HSAFE__STACK_UNMAPPED = 0,      /* slot not created yet */
    HSAFE__STACK_FREE     = 1,      /* in the pool, all zero */
    HSAFE__STACK_LENT     = 2       /* handed out by hsafe_pool_acquire */
};

/* One stack of a pool. Fields are private; use the accessors below. */
typedef struct hsafe_stack {
    unsigned char *lo;              /* lowest usable byte */
    size_t size;                    /* usable bytes */
    size_t high_water;              /* deepest non-zero byte ever seen, from the top */
    size_t last_used;               /* the same, for the last release */
    hsafe_pool *pool;
    struct hsafe_stack *next_free;
    unsigned state;                 /* enum hsafe__stack_state */
    unsigned vg_id;
    unsigned zero_streak;           /* releases in a row with trimmable zero pages */
} hsafe_stack;

/* The pool object; caller memory, fields private. */
struct hsafe_pool {
    uint32_t magic;
    unsigned flags;
    size_t stack_size, guard_size, capacity, created, in_use;
    size_t slots_bytes;
    hsafe_stack *slots;             /* capacity descriptors */
    hsafe_stack *free_list;
    unsigned char *memory;          /* caller memory, or NULL */
    size_t memory_size;
    int guard_kind;                 /* the OS layer's HSAFE__GUARD_* */
    int residency;                  /* how release finds the used part */
    int pagemap_fd;
    unsigned residency_epoch;       /* hsafe__os_residency_epoch() at init */
    uintptr_t span_lo, span_hi;     /* all its mappings lie in here (for the
                                       fault handler's registry) */
};

/* Statistics; see hsafe_pool_get_stats(). */
typedef struct hsafe_pool_stats {
    size_t in_use;        /* stacks handed out now */
    size_t free;          /* stacks created and waiting in the pool */
    size_t created;       /* stacks created so far (in_use + free) */
    size_t capacity;      /* most stacks the pool will create */
    size_t stack_size;    /* usable bytes per stack */
    size_t high_water;    /* deepest use of any stack, bytes from the top */
    size_t guard_size;    /* bytes of guard below each stack (0: none) */
    const char *guard;    /* "madv_guard", "mprotect", "page_guard" or "none" */
} hsafe_pool_stats;

/* Create a pool in caller memory `pool`. Stacks are created lazily, on
 * acquire, up to the capacity. With cfg->memory, stacks and their
 * descriptors are carved from that buffer (16-byte aligned, no guard
 * pages, no system calls). cfg may be NULL for all defaults.
 * Errors: HSAFE_EINVAL (NULL pool; stack_size above HSAFE_MAX_STACK_SIZE or
 * below HSAFE_CORO_MIN_STACK; capacity above HSAFE_MAX_CAPACITY; memory too
 * small for one stack; memory_size without memory); HSAFE_ENOMEM (no
 * memory for the descriptors); HSAFE_ENOTSUP (a flag this platform lacks). */
HSAFE_API int hsafe_pool_init(hsafe_pool *pool, const hsafe_pool_config *cfg);

/* Wipe and unmap every stack and invalidate the pool.
 * Errors: HSAFE_EINVAL (NULL or not a pool); HSAFE_EINUSE (stacks are still
 * handed out: nothing is destroyed, release them first). */
HSAFE_API int hsafe_pool_destroy(hsafe_pool *pool);

/* Hand out an all-zero stack, creating one if none is free.
 * Errors: HSAFE_EINVAL (NULL or not a pool); HSAFE_EBUSY (capacity reached,
 * all handed out); HSAFE_ENOMEM (mmap failed); HSAFE_ELOCK (mlock failed). */
HSAFE_API int hsafe_pool_acquire(hsafe_pool *pool, hsafe_stack **out);

/* Wipe what was written on the stack and put it back, all-zero.
 * Errors: HSAFE_EINVAL (NULL or not a pool/stack); HSAFE_EOWNER (the stack
 * is from another pool); HSAFE_ESTATE (the stack is not handed out, e.g.
 * released twice). */
HSAFE_API int hsafe_pool_release(hsafe_pool *pool, hsafe_stack *stack);

/* Fill *out. Errors: HSAFE_EINVAL (NULL or not a pool). */
HSAFE_API int hsafe_pool_get_stats(const hsafe_pool *pool, hsafe_pool_stats *out);

/* This thread's own pool, with the default configuration (zeroed
 * hsafe_pool_config), created on first use and destroyed when the thread
 * ends (a stack still handed out then is left mapped). For threads that
 * run sanitized runs with no setup:
 *     hsafe_run(hsafe_thread_pool(), fn, arg, &result);
 * A pool is used by one thread at a time; this one belongs to its thread
 * and must not be handed to another. Returns NULL if the pool cannot be
 * created (out of memory); hsafe_run then returns HSAFE_EINVAL. The main
 * thread's pool lives until the process exits. */
HSAFE_API hsafe_pool *hsafe_thread_pool(void);

/* Lowest usable address, usable size, and the deepest use seen so far
 * (bytes from the top, measured at each release) of a stack. */
static inline void *hsafe_stack_base(const hsafe_stack *s) { return s ? s->lo : NULL; }
static inline size_t hsafe_stack_size(const hsafe_stack *s) { return s ? s->size : 0; }
static inline size_t hsafe_stack_high_water(const hsafe_stack *s) { return s ? s->high_water : 0; }

HSAFE__END_C
#endif /* HSAFE__API_POOL_H */
