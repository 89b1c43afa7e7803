/* uv_httpd.c - the libuv reference for examples/http_server.c (bench/http.sh).
 *
 *   cc -O2 -I. bench/uv_httpd.c -o uv_httpd -luv -lsodium -lpthread
 *   HTTP_SERVER_KEY_HEX=... ./uv_httpd [--port N] [--threads N] [--deadline MS]
 *
 * The same server as examples/http_server.c, with the same parser
 * (examples/http_parse.h), the same answers and the same per-request
 * deadline (a uv_timer per connection, restarted for each request), but
 * written as libuv callbacks on one loop per thread (SO_REUSEPORT, one
 * listening socket per thread): no stack switching, no wipe. The keyed
 * state is computed once at start as in the hsafe server; each MAC copies
 * it into a local and finishes there, on the thread's stack, and nothing
 * wipes that stack. It is the cost floor of an event loop in C.
 * No graceful shutdown: the benchmark kills it.
 */
#define _GNU_SOURCE
#include "../examples/http_parse.h"

#include <sodium.h>
#include <uv.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_HEAD 8192u
#define MAX_BODY 16384u
#define BUF_SIZE (MAX_HEAD + MAX_BODY)

static crypto_auth_hmacsha256_state keyed;
static struct http_limits lim = { MAX_HEAD, MAX_BODY, 64 };
static uint64_t deadline_ms = 10000;

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    size_t have;
    int closing, handles;
    char buf[BUF_SIZE];
};

struct wreq {
    uv_write_t req;
    char data[];
};

static void on_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (--c->handles == 0) free(c);
}

static void conn_close(struct conn *c)
{
    if (c->closing) return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->timer, on_closed);
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_written(uv_write_t *req, int status)
{
    (void)status;
    free(req);
}

/* Write what uv_try_write could not take with a queued write of a copy. */
static void send_bytes(struct conn *c, const char *p, size_t n)
{
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    struct wreq *r;
    if (w < 0 && w != UV_EAGAIN) {
        conn_close(c);
        return;
    }
    if (w < 0) w = 0;
    if ((size_t)w == n) return;
    r = malloc(sizeof *r + n - (size_t)w);
    if (!r) {
        conn_close(c);
        return;
    }
    memcpy(r->data, p + w, n - (size_t)w);
    b = uv_buf_init(r->data, (unsigned)(n - (size_t)w));
    if (uv_write(&r->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        free(r);
        conn_close(c);
    }
}

static const char *reason(int s)
{
    switch (s) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default:  return "Internal Server Error";
    }
}

static void respond(struct conn *c, int status, const char *body, size_t blen, int keep, int head_only)
{
    char out[512];
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n%s\r\n",
                     status, reason(status), blen, keep ? "" : "Connection: close\r\n");
    if (!head_only && (size_t)n + blen <= sizeof out) {
        memcpy(out + n, body, blen);
        n += (int)blen;
    }
    send_bytes(c, out, (size_t)n);
}

static void on_timeout(uv_timer_t *t)
{
    struct conn *c = t->data;
    if (c->have) respond(c, 408, "408 Request Timeout\n", 20, 0, 0);
    conn_close(c);
}

/* Answer every complete request in the buffer. */
static void serve(struct conn *c)
{
    while (!c->closing && c->have) {
        struct http_req req;
        int hl = http_parse_head(c->buf, c->have, &req, &lim), keep;
        size_t need;
        if (hl == 0) return;
        if (hl < 0) {
            char body[64];
            int n = snprintf(body, sizeof body, "%d %s\n", -hl, reason(-hl));
            respond(c, -hl, body, (size_t)n, 0, 0);
            conn_close(c);
            return;
        }
        need = (size_t)hl + req.content_length;
        if (c->have < need) {
            if (req.expect_continue)
                send_bytes(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
            return;
        }
        keep = req.keep_alive;
        if (req.target_len == 1 && req.target[0] == '/') {
            if (req.method == HTTP_GET || req.method == HTTP_HEAD)
                respond(c, 200, "Hello, world\n", 13, keep, req.method == HTTP_HEAD);
            else
                respond(c, 405, "405 Method Not Allowed\n", 23, keep, 0);
        } else if (req.target_len == 4 && !memcmp(req.target, "/mac", 4)) {
            if (req.method == HTTP_POST) {
                crypto_auth_hmacsha256_state st;
                unsigned char mac[32];
                char hex[66];
                memcpy(&st, &keyed, sizeof st);
                crypto_auth_hmacsha256_update(&st, (const unsigned char *)c->buf + hl,
                                              req.content_length);
                crypto_auth_hmacsha256_final(&st, mac);
                sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
                hex[64] = '\n';
                respond(c, 200, hex, 65, keep, 0);
            } else {
                respond(c, 405, "405 Method Not Allowed\n", 23, keep, 0);
            }
        } else {
            respond(c, 404, "404 Not Found\n", 14, keep, 0);
        }
        if (!keep) {
            conn_close(c);
            return;
        }
        c->have -= need;
        memmove(c->buf, c->buf + need, c->have);
        uv_timer_start(&c->timer, on_timeout, deadline_ms, 0);   /* the next request's */
    }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct conn *c = h->data;
    (void)hint;
    *b = uv_buf_init(c->buf + c->have, (unsigned)(sizeof c->buf - c->have));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = s->data;
    (void)b;
    if (n < 0) {
        conn_close(c);
        return;
    }
    c->have += (size_t)n;
    serve(c);
}

static void on_conn(uv_stream_t *server, int status)
{
    struct conn *c;
    if (status < 0) return;
    c = malloc(sizeof *c);
    if (!c) return;
    c->have = 0;
    c->closing = 0;
    c->handles = 2;
    uv_tcp_init(server->loop, &c->tcp);
    uv_timer_init(server->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_timer_start(&c->timer, on_timeout, deadline_ms, 0);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static int listen_fd(unsigned port, unsigned *bound)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
        close(fd);
        return -1;
    }
    *bound = ntohs(a.sin_port);
    return fd;
}

static void *loop_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    uv_loop_t loop;
    uv_tcp_t server;
    uv_loop_init(&loop);
    uv_tcp_init(&loop, &server);
    if (uv_tcp_open(&server, fd) != 0 || uv_listen((uv_stream_t *)&server, SOMAXCONN, on_conn) != 0) {
        fprintf(stderr, "uv_listen failed\n");
        exit(1);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    return NULL;
}

int main(int argc, char **argv)
{
    unsigned port = 0, threads = 1, bound = 0, i;
    const char *hex = getenv("HTTP_SERVER_KEY_HEX");
    unsigned char key[64];
    size_t klen = 32;
    pthread_t th[64];
    for (i = 1; i < (unsigned)argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < (unsigned)argc) port = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < (unsigned)argc) threads = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--deadline") && i + 1 < (unsigned)argc) deadline_ms = (uint64_t)atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: uv_httpd [--port N] [--threads N] [--deadline MS]\n");
            return 2;
        }
    }
    if (threads < 1 || threads > 64 || sodium_init() < 0) return 1;
    if (hex && *hex) {
        if (sodium_hex2bin(key, sizeof key, hex, strlen(hex), NULL, &klen, NULL) != 0) return 1;
    } else {
        randombytes_buf(key, klen);
    }
    crypto_auth_hmacsha256_init(&keyed, key, klen);
    sodium_memzero(key, sizeof key);
    for (i = 0; i < threads; i++) {
        int fd = listen_fd(i ? bound : port, &bound);
        if (fd < 0) {
            perror("bind");
            return 1;
        }
        pthread_create(&th[i], NULL, loop_main, (void *)(intptr_t)fd);
    }
    printf("listening on 127.0.0.1:%u\n", bound);
    fflush(stdout);
    for (i = 0; i < threads; i++) pthread_join(th[i], NULL);
    return 0;
}
