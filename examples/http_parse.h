/* http_parse.h - a strict HTTP/1.1 request-head parser for
 * examples/http_server.c (and bench/uv_httpd.c, and the fuzz harness
 * tests/fuzz/fuzz_http.c). Header-only, static functions, no allocation,
 * no hsafe: it reads bytes and says what they are.
 *
 *   struct http_req r;
 *   int rc = http_parse_head(buf, len, &r, &lim);
 *     rc > 0   a complete, valid head of rc bytes (request line, headers,
 *              the empty line); r says what it asked for; the body is the
 *              next r.content_length bytes
 *     rc == 0  valid so far, incomplete: read more and call again with
 *              the longer buffer (it parses from the start every time)
 *     rc < 0   -status: answer that status and close the connection
 *              -400 malformed, -413 Content-Length above lim.max_body,
 *              -414 request line longer than lim.max_head,
 *              -431 head longer than lim.max_head or more than
 *              lim.max_headers header lines, -501 Transfer-Encoding
 *              (only Content-Length bodies are supported),
 *              -505 an HTTP version other than 1.0 and 1.1
 *
 * What "strict" means here (RFC 9110/9112, the conservative reading):
 *   - lines end in CRLF; a bare CR or LF anywhere is 400; so is a NUL or
 *     any other control byte but HTAB in a header value
 *   - request line: METHOD SP TARGET SP HTTP/1.x, single spaces; METHOD a
 *     token; TARGET in origin form ("/" then visible ASCII) or "*"
 *   - header line: a token, ':' right after it (no space before the
 *     colon), optional spaces/tabs, a value of visible bytes, spaces and
 *     tabs (obs-text 0x80-0xff allowed), trailing whitespace ignored; a
 *     line that starts with a space or tab (obsolete folding) is 400
 *   - Content-Length: digits only, at most 18 of them; a second
 *     Content-Length header is 400; above max_body is 413
 *   - Transfer-Encoding: 501 (400 if Content-Length is there too)
 *   - HTTP/1.1 needs exactly one Host header; a second Host is 400 always
 *   - Connection: a comma-separated list; "close" and "keep-alive" are
 *     understood (case-insensitively); 1.1 keeps the connection by
 *     default, 1.0 closes it unless "keep-alive"
 * Errors are reported as early as they can be seen: a bad first byte is
 * 400 at once, without waiting for the end of the head.
 */
#ifndef HTTP_PARSE_H
#define HTTP_PARSE_H

#include <stddef.h>
#include <string.h>

enum http_method { HTTP_OTHER = 0, HTTP_GET = 1, HTTP_POST = 2, HTTP_HEAD = 3 };

struct http_limits {
    size_t max_head;        /* bytes of request line + headers + CRLF CRLF */
    size_t max_body;        /* largest Content-Length accepted */
    unsigned max_headers;   /* header lines */
};

struct http_req {
    int method;                 /* enum http_method */
    const char *target;         /* into the buffer; not NUL-terminated */
    size_t target_len;
    int minor;                  /* 0 or 1: HTTP/1.0 or HTTP/1.1 */
    int keep_alive;             /* the connection may serve another request */
    size_t content_length;      /* 0 without a Content-Length header */
    unsigned headers;           /* header lines seen */
    int expect_continue;        /* "Expect: 100-continue" (curl sends it
                                   before large bodies) */
};

/* RFC 9110 tchar: the bytes of a token. */
static int http__tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A byte of a field value: visible ASCII, obs-text, SP, HTAB. */
static int http__vchar(unsigned char c) { return c == ' ' || c == '\t' || (c > 0x20 && c != 0x7f); }

static int http__lower(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

/* Case-insensitive: is s[0..n) equal to the lowercase word w? */
static int http__ieq(const char *s, size_t n, const char *w)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (w[i] == 0 || http__lower((unsigned char)s[i]) != w[i]) return 0;
    return w[n] == 0;
}

/* Connection header value: each comma-separated token. */
static void http__connection(const char *v, size_t n, int *close, int *keep)
{
    size_t i = 0;
    while (i < n) {
        size_t a, b;
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
        a = i;
        while (i < n && v[i] != ',') i++;
        b = i;
        while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t')) b--;
        if (http__ieq(v + a, b - a, "close")) *close = 1;
        else if (http__ieq(v + a, b - a, "keep-alive")) *keep = 1;
    }
}

static int http_parse_head(const char *buf, size_t len, struct http_req *r,
                           const struct http_limits *lim)
{
    const unsigned char *p = (const unsigned char *)buf;
    size_t i = 0, n = len < lim->max_head ? len : lim->max_head, a;
    int has_cl = 0, has_te = 0, hosts = 0, conn_close = 0, conn_keep = 0;
    size_t cl = 0;

    memset(r, 0, sizeof *r);
    /* method */
    while (i < n && http__tchar(p[i])) i++;
    if (i < n && (i == 0 || p[i] != ' ')) return -400;
    if (i == n) return len > n ? -414 : 0;
    if (i == 3 && !memcmp(p, "GET", 3)) r->method = HTTP_GET;
    else if (i == 4 && !memcmp(p, "POST", 4)) r->method = HTTP_POST;
    else if (i == 4 && !memcmp(p, "HEAD", 4)) r->method = HTTP_HEAD;
    i++;
    /* target */
    a = i;
    while (i < n && p[i] > 0x20 && p[i] < 0x7f) i++;
    if (i == n) return len > n ? -414 : 0;
    if (p[i] != ' ' || i == a) return -400;
    if (!(p[a] == '/' || (i - a == 1 && p[a] == '*'))) return -400;
    r->target = buf + a;
    r->target_len = i - a;
    i++;
    /* version: "HTTP/1.x" CRLF, checked byte by byte as it arrives */
    {
        static const char v[] = "HTTP/";
        size_t k;
        for (k = 0; k < 5; k++, i++) {
            if (i == n) return len > n ? -414 : 0;
            if (p[i] != (unsigned char)v[k]) return -400;
        }
        for (k = 0; k < 3; k++, i++) {      /* digit '.' digit */
            if (i == n) return len > n ? -414 : 0;
            if (k == 1 ? p[i] != '.' : (p[i] < '0' || p[i] > '9')) return -400;
        }
        if (p[i - 3] != '1' || (p[i - 1] != '0' && p[i - 1] != '1')) {
            if (i == n) return len > n ? -414 : 0;
            return p[i] == '\r' ? -505 : -400;
        }
        r->minor = p[i - 1] - '0';
        if (i == n) return len > n ? -414 : 0;
        if (p[i] != '\r') return -400;
        if (++i == n) return len > n ? -414 : 0;
        if (p[i] != '\n') return -400;
        i++;
    }
    /* header lines, until the empty line */
    for (;;) {
        size_t name, name_len, val, end;
        if (i == n) return len > n ? -431 : 0;
        if (p[i] == '\r') {
            if (++i == n) return len > n ? -431 : 0;
            if (p[i] != '\n') return -400;
            i++;
            break;
        }
        if (r->headers == lim->max_headers) return -431;
        name = i;
        while (i < n && http__tchar(p[i])) i++;
        if (i == n) return len > n ? -431 : 0;
        if (p[i] != ':' || i == name) return -400;   /* also folding, space before ':' */
        name_len = i - name;
        i++;
        while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
        val = i;
        while (i < n && http__vchar(p[i])) i++;
        if (i == n) return len > n ? -431 : 0;
        if (p[i] != '\r') return -400;
        end = i;
        while (end > val && (p[end - 1] == ' ' || p[end - 1] == '\t')) end--;
        if (++i == n) return len > n ? -431 : 0;
        if (p[i] != '\n') return -400;
        i++;
        r->headers++;
        if (http__ieq(buf + name, name_len, "content-length")) {
            size_t k;
            if (has_cl || end == val || end - val > 18) return -400;
            has_cl = 1;
            for (k = val; k < end; k++) {
                if (p[k] < '0' || p[k] > '9') return -400;
                cl = cl * 10 + (size_t)(p[k] - '0');
            }
        } else if (http__ieq(buf + name, name_len, "transfer-encoding")) {
            has_te = 1;
        } else if (http__ieq(buf + name, name_len, "host")) {
            if (++hosts > 1) return -400;
        } else if (http__ieq(buf + name, name_len, "connection")) {
            http__connection(buf + val, end - val, &conn_close, &conn_keep);
        } else if (http__ieq(buf + name, name_len, "expect")) {
            r->expect_continue = http__ieq(buf + val, end - val, "100-continue");
        }
    }
    if (has_te) return has_cl ? -400 : -501;
    if (r->minor == 1 && hosts != 1) return -400;
    if (cl > lim->max_body) return -413;
    r->content_length = cl;
    r->keep_alive = conn_close ? 0 : (r->minor == 1 || conn_keep);
    return (int)i;
}

#endif /* HTTP_PARSE_H */
