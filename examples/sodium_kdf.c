/* sodium_kdf.c - why hsafe exists, in one program.
 *
 * derive_and_use() below turns a password into a key with libsodium's
 * Argon2id (crypto_pwhash), seals a message with the key, opens it again
 * and returns only "it worked". It is written the careful way: before it
 * returns it wipes its own key and its own copy of the password with
 * sodium_memzero().
 *
 * That is not enough. While it ran, the functions it called had stack
 * frames below its own, and they worked on the key there. When it returns,
 * those frames are dead, but their bytes stay where they were, below the
 * stack pointer, until later calls happen to overwrite them. A read of
 * uninitialised stack, a core dump or a debugger can find them, and nothing
 * in this program can reach them to wipe them: they belong to libsodium's
 * internals. On the machine this was written on (Debian 12, libsodium
 * 1.0.18, gcc 12 and clang 14 at -O0 to -O3) one complete copy of the key
 * is left a few kilobytes below derive_and_use()'s frame, written there by
 * libsodium's own code.
 *
 * The program runs derive_and_use() twice, then searches for the secrets:
 *
 *   1. Sanitized: hsafe_run() calls it on a stack from an hsafe pool. When
 *      it returns, hsafe has wiped every byte the run wrote on that stack
 *      and cleared the registers that could still hold its data. The
 *      program searches the thread's own stack below the caller of
 *      hsafe_run(), then takes the run's stack out of the pool again (a
 *      pool hands out the stack released last; the program checks that the
 *      frame address recorded inside the run lies on it) and searches all
 *      of it.
 *   2. Plain: it is called directly, on the thread's own stack, and the
 *      program searches the 64 KiB below the caller's frame, where
 *      derive_and_use() and everything it called had their frames.
 *
 * "Searching" counts the byte offsets at which the next 8 bytes equal some
 * 8-byte window of the key or of the password. One complete copy of the
 * 32-byte key gives 25 hits. The password is searched for too, but expect
 * 0 for it in both runs: derive_and_use() wiped its own copy, and on the
 * machine above libsodium's frames keep none. The search copies the stack
 * into a heap snapshot with volatile reads, in functions the optimiser may
 * not inline or analyse, so it neither assumes nor disturbs what it reads.
 *
 * Expected: 0 after the sanitized run, more than 0 after the plain call.
 * The program exits 1 if either is not so, 77 if it cannot tell where the
 * thread's stack ends, 2 on other errors.
 *
 * The search is not blind: built with -DHSAFE_TEST_NO_WIPE (a test-only
 * switch that turns off the wipe and the register clearing) the program
 * finds copies of the key after the sanitized run too, on the pool stack
 * and on the thread's stack, and fails. The ones on the thread's stack come
 * from registers that still held key bytes after the run: the first lazily
 * bound library call afterwards saved every register there (they go away
 * with LD_BIND_NOW=1). With hsafe's register clearing on, nothing is left
 * to save. tests/phases/80-examples.sh checks this control.
 *
 * What hsafe does NOT do here (more in docs/guide.md):
 *   - The caller hands the password over in a heap buffer. That buffer is
 *     the caller's to wipe (main() does it with hsafe_wipe()); hsafe only
 *     wipes the run's stack and registers.
 *   - Argon2's working memory is on the heap, allocated and freed by
 *     libsodium; what happens to it is up to libsodium.
 *   - A password given on the command line also sits in the process's
 *     argument area. Real programs read it from a terminal into a buffer
 *     they wipe; this one accepts argv[1] only for experiments.
 *
 * Build and run, from the repository root:
 *   cc -O2 -I. examples/sodium_kdf.c $(pkg-config --cflags --libs libsodium) -o sodium_kdf
 *   ./sodium_kdf
 */
#define HSAFE_IMPLEMENTATION
#include "hsafe.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_BYTES crypto_secretbox_KEYBYTES    /* 32 */
#define PASSWORD_MAX 128
#define SECRET_WINDOW 8                        /* bytes compared at a time */
#define NATIVE_WINDOW ((size_t)64 * 1024)      /* searched below the caller */

/* The inspection code must not be inlined or analysed together with the
 * code it inspects: it reads dead stack, which the compiler is entitled to
 * assume nobody reads. */
#if defined(__clang__)
#  define OPAQUE __attribute__((noinline))
#else
#  define OPAQUE __attribute__((noinline, noipa))
#endif

static const char default_password[] = "correct horse battery staple";
static const char message[] = "the spare key is under the third flower pot";

/* What derive_and_use() gets. The salt and the message are not secret. */
struct job {
    const char *password;       /* the caller's heap buffer: the caller wipes it */
    size_t password_len;
    const unsigned char *salt;
    unsigned char *key_out;     /* only for reference_key(); NULL otherwise */
    uintptr_t frame;            /* derive_and_use()'s frame address, recorded */
};

/* ---- The code that handles secrets ------------------------------------ */

/* Derive the key, seal and open a message with it. Returns 1 if the message
 * came back intact, 0 otherwise. The key never leaves this function, except
 * when reference_key() asks for a copy in job->key_out (see there).
 * noinline: both calls below must run the same machine code (the plain
 * call could otherwise be inlined into its caller). */
__attribute__((noinline)) static uintptr_t derive_and_use(void *arg)
{
    struct job *job = (struct job *)arg;
    unsigned char key[KEY_BYTES];
    char password[PASSWORD_MAX];
    unsigned char nonce[crypto_secretbox_NONCEBYTES];
    unsigned char sealed[crypto_secretbox_MACBYTES + sizeof message];
    unsigned char opened[sizeof message];
    int ok = 0;

    job->frame = (uintptr_t)__builtin_frame_address(0);
    if (job->password_len > sizeof password) return 0;
    /* Work on a private copy, as code that trims or normalises the
     * password would. It lives in this frame. */
    memcpy(password, job->password, job->password_len);

    if (crypto_pwhash(key, sizeof key, password, job->password_len, job->salt,
                      crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN,
                      crypto_pwhash_ALG_DEFAULT) == 0) {
        if (job->key_out) {
            memcpy(job->key_out, key, sizeof key);
            ok = 1;
        } else {
            randombytes_buf(nonce, sizeof nonce);
            crypto_secretbox_easy(sealed, (const unsigned char *)message, sizeof message,
                                  nonce, key);
            ok = crypto_secretbox_open_easy(opened, sealed, sizeof sealed, nonce, key) == 0 &&
                 memcmp(opened, message, sizeof message) == 0;
        }
    }
    /* The careful part: this frame's copies are wiped... */
    sodium_memzero(key, sizeof key);
    sodium_memzero(password, sizeof password);
    /* ...but not the copies in the frames of the functions called above. */
    return (uintptr_t)ok;
}

/* ---- The two ways of calling it --------------------------------------- */

/* Each caller keeps a 4 KiB pad at the bottom of its frame and stores the
 * pad's address in *below: the frames of everything it calls lie below
 * that address. The pad also keeps main()'s later calls (which inspect the
 * stack) from landing on the region they inspect. */

OPAQUE static int call_sanitized(hsafe_pool *pool, struct job *job, hsafe_run_info *info,
                                 uintptr_t *below)
{
    volatile unsigned char pad[4096];
    int rc;
    pad[0] = 0;
    *below = (uintptr_t)pad;
    rc = hsafe_run_ex(pool, derive_and_use, job, 0, info);
    __asm__ __volatile__("" : : "r"(pad) : "memory");
    return rc;
}

OPAQUE static uintptr_t call_plain(struct job *job, uintptr_t *below)
{
    volatile unsigned char pad[4096];
    uintptr_t ok;
    pad[0] = 0;
    *below = (uintptr_t)pad;
    ok = derive_and_use(job);
    __asm__ __volatile__("" : : "r"(pad) : "memory");
    return ok;
}

/* ---- Inspection -------------------------------------------------------- */

/* Copy [lo, lo+n) into copy (allocated beforehand: a malloc now could
 * itself overwrite the region) with volatile reads, so that nothing is
 * assumed about memory below the stack pointer, and so that the search
 * does not run on the stack it is searching. */
OPAQUE static void snapshot(unsigned char *copy, uintptr_t lo, size_t n)
{
    const volatile unsigned char *src = (const volatile unsigned char *)lo;
    size_t i;
    for (i = 0; i < n; i++) copy[i] = src[i];
}

/* How many byte offsets of region start an 8-byte window of secret. */
OPAQUE static size_t count_residues(const unsigned char *region, size_t n,
                                    const unsigned char *secret, size_t len)
{
    size_t hits = 0, i, w;
    if (len < SECRET_WINDOW || n < SECRET_WINDOW) return 0;
    for (i = 0; i + SECRET_WINDOW <= n; i++)
        for (w = 0; w + SECRET_WINDOW <= len; w++)
            if (memcmp(region + i, secret + w, SECRET_WINDOW) == 0) { hits++; break; }
    return hits;
}

struct secrets {
    const unsigned char *key;
    const unsigned char *password;
    size_t password_len;
    unsigned char *copy;        /* room for one snapshot */
    size_t copy_size;
};

/* Search [lo, lo+n) for both secrets; print and return the total. */
OPAQUE static size_t inspect(const char *what, uintptr_t lo, size_t n,
                             const struct secrets *s)
{
    size_t k, p;
    if (n > s->copy_size) { fprintf(stderr, "region too large\n"); exit(2); }
    snapshot(s->copy, lo, n);
    k = count_residues(s->copy, n, s->key, KEY_BYTES);
    p = count_residues(s->copy, n, s->password, s->password_len);
    hsafe_wipe(s->copy, n);     /* the snapshot holds whatever it found */
    printf("   %-40s key %3zu, password %3zu\n", what, k, p);
    return k + p;
}

/* The search needs the key to know what to look for. Deriving it here on
 * the thread's stack would leave the very residue being searched for, so
 * it is derived inside a sanitized run, straight into a heap buffer. */
static int reference_key(hsafe_pool *pool, struct job job, unsigned char *key)
{
    uintptr_t ok = 0;
    job.key_out = key;
    return hsafe_run(pool, derive_and_use, &job, &ok) == HSAFE_OK && ok == 1;
}

int main(int argc, char **argv)
{
    const char *typed = argc > 1 ? argv[1] : default_password;
    size_t password_len;
    unsigned char salt[crypto_pwhash_SALTBYTES];
    unsigned char *key = (unsigned char *)malloc(KEY_BYTES);
    char *password = (char *)malloc(PASSWORD_MAX);
    hsafe_pool pool;
    hsafe_pool_config cfg;
    hsafe_stack *stack = NULL;
    hsafe_run_info info;
    struct job job;
    struct secrets secrets;
    uintptr_t top, plain_ok = 0;
    size_t sanitized = 0, plain = 0;
    int rc = 0, failed = 0;

    printf("%s\n", hsafe_config_string());
    /* Set the pool up before the password is touched at all: the pool's
     * first system calls go through lazily bound PLT entries, and the
     * dynamic linker's resolver saves every register on the stack, so it
     * would copy whatever strlen/memcpy below left in vector registers
     * (run it with LD_BIND_NOW=1 and the order does not matter). */
    memset(&cfg, 0, sizeof cfg);        /* defaults: 256 KiB stacks, guard pages */
    if ((rc = hsafe_pool_init(&pool, &cfg)) != HSAFE_OK) {
        fprintf(stderr, "hsafe_pool_init: %s\n", hsafe_strerror(rc));
        return 2;
    }
    password_len = strlen(typed);
    if (!key || !password || sodium_init() < 0) { fprintf(stderr, "setup failed\n"); return 2; }
    if (password_len < SECRET_WINDOW || password_len > PASSWORD_MAX) {
        fprintf(stderr, "password must be %d to %d bytes\n", SECRET_WINDOW, PASSWORD_MAX);
        return 2;
    }
    /* The caller's copy of the password, on the heap: the caller's job to
     * wipe (below), not hsafe's. */
    memcpy(password, typed, password_len);
    randombytes_buf(salt, sizeof salt);

    memset(&job, 0, sizeof job);
    job.password = password;
    job.password_len = password_len;
    job.salt = salt;
    if (!reference_key(&pool, job, key)) { fprintf(stderr, "key derivation failed\n"); return 2; }
    secrets.key = key;
    secrets.password = (const unsigned char *)password;
    secrets.password_len = password_len;
    secrets.copy_size = HSAFE_DEFAULT_STACK_SIZE > NATIVE_WINDOW ? HSAFE_DEFAULT_STACK_SIZE
                                                                 : NATIVE_WINDOW;
    secrets.copy = (unsigned char *)malloc(secrets.copy_size);
    if (!secrets.copy) { fprintf(stderr, "out of memory\n"); return 2; }
    if (hsafe_stack_remaining() < NATIVE_WINDOW + 64 * 1024) {
        printf("SKIP: cannot tell where this thread's stack ends\n");
        return 77;
    }

    /* 1. Sanitized. Inspect the thread's stack first, before other calls
     * run there: if registers still held secrets after the run, the next
     * code to save them would have put them below the caller. */
    printf("1. sanitized: hsafe_run() on a stack from the pool\n");
    rc = call_sanitized(&pool, &job, &info, &top);
    sanitized += inspect("thread stack, 64 KiB below the caller:", top - NATIVE_WINDOW,
                         NATIVE_WINDOW, &secrets);
    /* Take the run's stack out of the pool again: the pool hands out the
     * stack released last, so this should be the one the run used. The
     * frame address recorded inside the run must lie on it. */
    if (hsafe_pool_acquire(&pool, &stack) != HSAFE_OK ||
        job.frame - (uintptr_t)hsafe_stack_base(stack) >= hsafe_stack_size(stack)) {
        fprintf(stderr, "cannot get the run's stack back from the pool\n");
        return 2;
    }
    sanitized += inspect("pool stack, all of it:", (uintptr_t)hsafe_stack_base(stack),
                         hsafe_stack_size(stack), &secrets);
    printf("   the run used %zu bytes of that %zu-byte stack\n", info.stack_used,
           hsafe_stack_size(stack));
    hsafe_pool_release(&pool, stack);
    printf("   message opened: %s (run status: %s)\n",
           rc == HSAFE_OK && info.result == 1 ? "yes" : "NO", hsafe_strerror(rc));
    if (rc != HSAFE_OK || info.result != 1) failed = 1;

    /* 2. Plain. Again nothing may run on the thread's stack between the
     * call and the inspection: it would overwrite what the call left. */
    printf("2. plain: a direct call, on the thread's own stack\n");
    plain_ok = call_plain(&job, &top);
    plain = inspect("thread stack, 64 KiB below the caller:", top - NATIVE_WINDOW,
                    NATIVE_WINDOW, &secrets);
    if (top - job.frame >= NATIVE_WINDOW) {
        fprintf(stderr, "derive_and_use's frame is outside the searched window\n");
        return 2;
    }
    printf("   message opened: %s\n", plain_ok == 1 ? "yes" : "NO");
    if (plain_ok != 1) failed = 1;

    /* The caller's own copies: hsafe never saw them. */
    hsafe_wipe(password, PASSWORD_MAX);
    hsafe_wipe(key, KEY_BYTES);
    free(password);
    free(key);
    free(secrets.copy);
    hsafe_pool_destroy(&pool);

    printf("residues after the sanitized run: %zu\n", sanitized);
    printf("residues after the plain call:    %zu\n", plain);
    if (sanitized != 0) { printf("FAIL: the sanitized run left secrets behind\n"); failed = 1; }
    if (plain == 0) {
        printf("FAIL: the plain call left nothing: this search would not have seen residue\n");
        failed = 1;
    }
    return failed;
}
