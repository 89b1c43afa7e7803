/* fuzz_http: bytes -> examples/http_parse.h, the request parser of
 * examples/http_server.c, which reads what any client sends.
 *
 * Build (tests/phases/60-fuzz.sh does this):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. \
 *         tests/fuzz/fuzz_http.c -o fuzz_http
 *   ./fuzz_http -max_total_time=20 CORPUS_DIR tests/fuzz/http_corpus
 * With -DHSAFE_FUZZ_MAIN it is a plain program that parses each file named
 * on its command line once (the seed corpus as a regression test).
 *
 * The input is parsed whole, and then every prefix of it, with small
 * limits (so 413, 414 and 431 are reachable) and with the server's. The
 * checks (abort on failure, which libFuzzer reports as a crash):
 *   - the result is a head length within the input, 0 (incomplete), or one
 *     of the statuses the parser documents (400 413 414 431 501 505);
 *   - a prefix of an input is never "complete" with a different length,
 *     never an error unless the whole input is that same error or the
 *     prefix is already over a limit, and a prefix of a complete head is
 *     incomplete, not an error: more bytes never turn an error into
 *     success, and fewer never invent one;
 *   - a complete head: the target lies inside it and starts with '/' or
 *     is "*"; it ends with CRLF CRLF; Content-Length is within max_body;
 *     the method is what its first bytes say.
 * ASan catches any read outside the input (the buffer is an exact-size
 * copy, and each prefix is placed to end where the allocation ends),
 * UBSan any overflow in the Content-Length arithmetic.
 */
#include "examples/http_parse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(const char *what, size_t len, int rc)
{
    fprintf(stderr, "fuzz_http: %s (input %zu bytes, result %d)\n", what, len, rc);
    abort();
}

static int known_error(int rc)
{
    return rc == -400 || rc == -413 || rc == -414 || rc == -431 || rc == -501 || rc == -505;
}

static int check(const char *buf, size_t len, const struct http_limits *lim)
{
    struct http_req r;
    int rc = http_parse_head(buf, len, &r, lim);
    if (rc < 0 && !known_error(rc)) fail("unknown status", len, rc);
    if (rc > 0) {
        size_t n = (size_t)rc;
        if (n > len || n > lim->max_head) fail("head longer than the input or the limit", len, rc);
        if (n < 4 || memcmp(buf + n - 4, "\r\n\r\n", 4)) fail("head does not end in CRLF CRLF", len, rc);
        if (!r.target || r.target < buf || r.target + r.target_len > buf + n || r.target_len == 0)
            fail("target outside the head", len, rc);
        if (!(r.target[0] == '/' || (r.target_len == 1 && r.target[0] == '*')))
            fail("target not in origin form", len, rc);
        if (r.content_length > lim->max_body) fail("Content-Length above the limit", len, rc);
        if (r.minor != 0 && r.minor != 1) fail("version", len, rc);
        if ((r.method == HTTP_GET) != (len > 4 && !memcmp(buf, "GET ", 4)))
            fail("method GET", len, rc);
        if ((r.method == HTTP_POST) != (len > 5 && !memcmp(buf, "POST ", 5)))
            fail("method POST", len, rc);
    }
    return rc;
}

static void one(const uint8_t *data, size_t size, const struct http_limits *lim)
{
    char *buf = malloc(size ? size : 1);     /* exact size: ASan sees overreads */
    int whole;
    size_t k;
    if (!buf) return;
    memcpy(buf, data, size);
    whole = check(buf, size, lim);
    for (k = 0; k < size; k++) {
        /* the prefix at the end of buf: its last byte is the allocation's */
        char *p = buf + (size - k);
        int rc;
        memmove(p, data, k);
        rc = check(p, k, lim);
        if (rc > 0 && rc != whole) fail("a prefix is complete, the whole is not the same", k, rc);
        if (whole > 0 && (size_t)whole > k && rc != 0) fail("a prefix of a complete head is not incomplete", k, rc);
        if (rc < 0 && rc != whole && rc != -414 && rc != -431)
            fail("a prefix is refused for another reason than the whole input", k, rc);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct http_limits small = { 96, 100, 4 };
    static const struct http_limits server = { 8192, 16384, 64 };
    if (size > 4096) return 0;              /* prefixes make it quadratic */
    one(data, size, &small);
    one(data, size, &server);
    return 0;
}

#if defined(HSAFE_FUZZ_MAIN)
int main(int argc, char **argv)
{
    int i;
    for (i = 1; i < argc; i++) {
        static uint8_t buf[1 << 16];
        size_t n;
        FILE *f = fopen(argv[i], "rb");
        if (!f) { perror(argv[i]); return 1; }
        n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
    }
    printf("fuzz_http: %d inputs parsed\n", argc - 1);
    return 0;
}
#endif
