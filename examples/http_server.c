/* http_server.c - a small HTTP/1.1 server on scoped tasks, with a keyed
 * MAC computed in sanitized runs (Linux, libsodium).
 *
 *   cc -std=c11 -O2 -I. examples/http_server.c -o http_server \
 *      $(pkg-config --cflags --libs libsodium) -lpthread
 *   ./http_server [--port N] [--threads N] [--deadline MS] [--max-conns N] [--debug]
 *
 * ENDPOINTS
 *   GET /       "Hello, world\n"
 *   POST /mac   the HMAC-SHA256 of the request body under the server's key,
 *               as 64 hex digits and "\n" (bodies up to 16 KiB)
 *   GET /debug/stats  (only with --debug) one line per worker thread:
 *               open connections, task-pool and run-pool stacks in use;
 *               the process's open fds; where the keyed state lives. The
 *               tests read it to see that nothing leaks.
 *
 * THE KEY
 *   Random at start, or, for tests, the hex bytes (16 to 64 of them) in the
 *   environment variable HTTP_SERVER_KEY_HEX (a key on the command line
 *   would show in ps). It is decoded straight into sodium_malloc'd memory
 *   (locked, guarded, wiped when freed). At start a sanitized run turns it
 *   into the HMAC's keyed state (the SHA-256 states after the key^ipad and
 *   key^opad blocks: what a MAC is computed from, as good as the key), kept
 *   in sodium_malloc'd memory too and made read-only; the raw key is freed.
 *   Each POST /mac copies that state onto the stack of a sanitized run
 *   (hsafe_run on a small per-thread pool), finishes the MAC there and
 *   returns only the 32-byte result: when the run ends hsafe wipes every
 *   byte it wrote and clears the registers, so no copy of the keyed state
 *   outlives the request on any stack. (This code does not wipe its own
 *   copy, on purpose: the phase's residue check builds the server with
 *   -DHSAFE_TEST_NO_WIPE and finds the state; with the wipe it finds none.)
 *
 * THREADS AND LOOPS
 *   N worker threads (--threads, default: the online CPUs), each with its
 *   own listening socket on the same port (SO_REUSEPORT: the kernel spreads
 *   the connections), its own hsafe loop and its own stack pools. Each
 *   loop's root task opens the scope "conns", starts an acceptor task in a
 *   scope of its own, and waits for the stop pipe. The acceptor spawns one
 *   task per connection into "conns" (hsafe_scope_spawn_wait: with every
 *   stack lent, new clients wait in the listen backlog).
 *
 * A CONNECTION
 *   Its task reads requests into a buffer on its own stack (so the request
 *   bytes are wiped with the stack when the connection ends), parses them
 *   with examples/http_parse.h, answers, and keeps the connection while
 *   the client wants it (keep-alive, pipelining). Each request has a
 *   deadline (--deadline, default 10 s) that counts from when the task
 *   starts waiting for it: every fd wait uses it, and a request that is not
 *   complete by then is answered 408 (or, if nothing came, the connection
 *   is closed). A client sending one byte per second is cut there.
 *   Malformed requests get 400 (413, 414, 431, 501, 505: see
 *   http_parse.h) and the connection is closed.
 *
 * SHUTDOWN
 *   SIGINT and SIGTERM are blocked in every thread; the main thread waits
 *   for them (sigwaitinfo) and then writes one byte into a pipe that every
 *   root task waits on (hsafe_fd_wait; the byte is never read, so the pipe
 *   stays readable for all). Each root then cancels its acceptor and
 *   closes its listening socket, then cancels "conns". A connection idle
 *   between requests ends at once (its fd wait returns HSAFE_ECANCELED). A
 *   request in flight runs inside a shield whose grace is its own deadline:
 *   it is answered (with "Connection: close") and then its task sees the
 *   cancellation and ends. So shutdown takes at most one request deadline.
 *   main prints
 *     shutdown: N connections, M requests, 0 open, 0 stacks in use
 *               (signal 15; fds: S at start, S at exit; drained T ms after the signal)
 * where T is the time from the signal until every loop had ended (the
 * teardown after it, unmapping the stacks, is not counted)
 *   and exits 0 if nothing is open, no stack is lent and no fd leaked.
 */
#define _GNU_SOURCE                     /* accept4, SO_REUSEPORT */
#define HSAFE_IMPLEMENTATION
#include "hsafe.h"
#include "http_parse.h"

#include <sodium.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* A connection task's stack holds its request buffer (24 KiB), the
 * response being built and the frames of recv/send/hsafe_run: 64 KiB
 * leaves room (the release scans and wipes only what was written, and
 * only pages touched cost memory). The MAC runs on 16 KiB stacks:
 * libsodium's HMAC uses about 3.5 KiB, and a small stack is cheap to scan
 * when the run ends. */
#define TASK_STACK      (64u * 1024u)
#define RUN_STACK       (16u * 1024u)
#define MAX_HEAD        8192u
#define MAX_BODY        16384u
#define MAX_HEADERS     64u
#define BUF_SIZE        (MAX_HEAD + MAX_BODY)
#define DEFAULT_CONNS   1024u
#define DEFAULT_DEADLINE_MS 10000u
#define LINGER_MS       1000            /* reading what follows a refused request */

struct worker;

struct conn {
    hsafe_task task;
    int fd;
    struct worker *w;
};

struct worker {
    unsigned index;
    int listen_fd;
    hsafe_pool pool;                    /* task stacks */
    hsafe_pool run_pool;                /* stacks of the MAC runs */
    hsafe_loop loop;
    struct conn *conns;                 /* max_conns + 1 slots */
    unsigned next_slot;
    int draining;                       /* the stop pipe was seen */
    unsigned long accepted, requests, open, timeouts, refused;
    int rc;                             /* the root task's status */
    pthread_t thread;
};

static struct {
    unsigned threads, max_conns;
    int64_t deadline_ns;
    int debug;
    int stop_rd, stop_wr;               /* the stop pipe */
    crypto_auth_hmacsha256_state *keyed;   /* sodium_malloc'd, read-only */
    struct worker *workers;
    struct http_limits lim;
} g;

static int count_fds(void)
{
    int n = 0;
    struct dirent *e;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1;                       /* not the DIR's own fd */
}

/* ---- the MAC, in a sanitized run ----------------------------------------- */

struct mac_job {
    const unsigned char *body;
    size_t len;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
};

/* On a pooled stack that hsafe wipes when this returns. */
static uintptr_t mac_run(void *arg)
{
    struct mac_job *j = arg;
    crypto_auth_hmacsha256_state st;
    memcpy(&st, g.keyed, sizeof st);    /* the keyed state, on this stack */
    crypto_auth_hmacsha256_update(&st, j->body, j->len);
    crypto_auth_hmacsha256_final(&st, j->mac);
    return 0;
}

struct key_job {
    const unsigned char *key;
    size_t len;
};

static uintptr_t key_run(void *arg)     /* at start: key -> keyed state */
{
    struct key_job *k = arg;
    crypto_auth_hmacsha256_init(g.keyed, k->key, k->len);
    return 0;
}

/* ---- responses ------------------------------------------------------------- */

static const char *reason(int status)
{
    switch (status) {
    case 100: return "Continue";
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

/* Send all of buf[0..len) before `deadline`. Returns 0, or -1 (the peer is
 * gone, the deadline passed, or the task was cancelled). */
static int send_all(int fd, const char *buf, size_t len, hsafe_time deadline)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (hsafe_fd_wait(fd, HSAFE_FD_WRITE, deadline) != HSAFE_OK) return -1;
        } else if (!(n < 0 && errno == EINTR)) {
            return -1;
        }
    }
    return 0;
}

/* One response: status line, headers, body, in one send. */
static int respond(int fd, int status, const char *ctype, const char *body, size_t blen,
                   int keep, int head_only, const char *extra, hsafe_time deadline)
{
    char out[512];
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n",
                     status, reason(status), ctype, blen, keep ? "" : "Connection: close\r\n",
                     extra ? extra : "");
    if (n < 0 || (size_t)n >= sizeof out) return -1;
    if (head_only) blen = 0;
    if ((size_t)n + blen <= sizeof out) {
        memcpy(out + n, body, blen);
        return send_all(fd, out, (size_t)n + blen, deadline);
    }
    if (send_all(fd, out, (size_t)n, deadline)) return -1;
    return send_all(fd, body, blen, deadline);
}

static int respond_text(int fd, int status, int keep, const char *extra, hsafe_time deadline)
{
    char body[64];
    int n = snprintf(body, sizeof body, "%d %s\n", status, reason(status));
    return respond(fd, status, "text/plain", body, (size_t)n, keep, 0, extra, deadline);
}

/* After refusing a request: stop sending, read and drop what the client
 * still sends for a moment (so it reads the answer instead of a reset),
 * then the caller closes. */
static void linger_close(int fd, char *buf, size_t cap, hsafe_time deadline)
{
    hsafe_time until = hsafe_after((int64_t)LINGER_MS * 1000000);
    if (until > deadline) until = deadline;
    shutdown(fd, SHUT_WR);
    for (;;) {
        ssize_t n = recv(fd, buf, cap, 0);
        if (n == 0) return;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return;
        if (n < 0 && hsafe_fd_wait(fd, HSAFE_FD_READ, until) != HSAFE_OK) return;
    }
}

/* The debug page: what the tests compare against a baseline. */
static size_t debug_stats(char *out, size_t cap)
{
    size_t len = 0;
    unsigned i;
    uintptr_t lo = (uintptr_t)g.keyed, hi = lo + sizeof *g.keyed;
    len += (size_t)snprintf(out + len, cap - len, "fds %d\n", count_fds());
    for (i = 0; i < g.threads && len < cap; i++) {
        struct worker *w = &g.workers[i];
        hsafe_pool_stats ps, rs;
        /* another thread's counters: a racy but harmless read, for tests */
        hsafe_pool_get_stats(&w->pool, &ps);
        hsafe_pool_get_stats(&w->run_pool, &rs);
        len += (size_t)snprintf(out + len, cap - len,
                                "worker %u open %lu in_use %zu run_in_use %zu requests %lu "
                                "timeouts %lu refused %lu\n",
                                i, w->open, ps.in_use, rs.in_use, w->requests, w->timeouts,
                                w->refused);
    }
    if (len < cap)
        len += (size_t)snprintf(out + len, cap - len, "keyed 0x%lx-0x%lx\n", (unsigned long)lo,
                                (unsigned long)hi);
    return len < cap ? len : cap - 1;
}

/* ---- a connection -------------------------------------------------------- */

/* Wait for more bytes of the request into buf[*have..cap) until deadline.
 * Returns 1 (got some), 0 (EOF), -1 (error, timeout or cancelled: *why
 * says HSAFE_ETIMEDOUT for the deadline). */
static int read_more(int fd, char *buf, size_t *have, size_t cap, int wait_first,
                     hsafe_time deadline, int *why)
{
    for (;;) {
        ssize_t n;
        if (wait_first) {
            int rc;
            if (hsafe_now() >= deadline) {
                *why = HSAFE_ETIMEDOUT;
                return -1;
            }
            rc = hsafe_fd_wait(fd, HSAFE_FD_READ, deadline);
            if (rc != HSAFE_OK) {
                *why = rc;
                return -1;
            }
        }
        n = recv(fd, buf + *have, cap - *have, 0);
        if (n > 0) {
            *have += (size_t)n;
            return 1;
        }
        if (n == 0) return 0;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return -1;
        wait_first = 1;
    }
}

static int conn_task(void *arg)
{
    struct conn *c = arg;
    struct worker *w = c->w;
    char buf[BUF_SIZE];
    size_t have = 0;
    int fd = c->fd, fresh = 1;

    w->open++;
    for (;;) {
        hsafe_time deadline = hsafe_after(g.deadline_ns);
        hsafe_shield shield;
        struct http_req req;
        int hl = 0, rc, why = 0, keep, status = 0, shielded = 0;
        size_t need;

        if (hsafe_cancelled()) break;   /* shutdown, with pipelined bytes left */
        /* the head */
        for (;;) {
            if (have) {
                if (!shielded) {        /* a request has begun: let it finish */
                    hsafe_shield_begin(&shield, deadline);
                    shielded = 1;
                }
                hl = http_parse_head(buf, have, &req, &g.lim);
                if (hl != 0) break;
            }
            rc = read_more(fd, buf, &have, sizeof buf, !fresh, deadline, &why);
            fresh = 0;
            if (rc <= 0) break;
        }
        if (hl == 0) {                  /* EOF, error, timeout or cancelled */
            if (why == HSAFE_ETIMEDOUT) {
                w->timeouts++;
                if (have) respond_text(fd, 408, 0, NULL, hsafe_after(100 * 1000000));
            }
            if (shielded) hsafe_shield_end(&shield);
            break;
        }
        if (hl < 0) {                   /* refused: answer, linger, close */
            w->refused++;
            respond_text(fd, -hl, 0, NULL, deadline);
            linger_close(fd, buf, sizeof buf, deadline);
            hsafe_shield_end(&shield);
            break;
        }
        /* the body */
        need = (size_t)hl + req.content_length;
        if (req.expect_continue && have < need &&
            send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25, deadline)) {
            hsafe_shield_end(&shield);
            break;
        }
        while (have < need) {
            rc = read_more(fd, buf, &have, sizeof buf, 1, deadline, &why);
            if (rc <= 0) break;
        }
        if (have < need) {
            if (why == HSAFE_ETIMEDOUT) {
                w->timeouts++;
                respond_text(fd, 408, 0, NULL, hsafe_after(100 * 1000000));
            }
            hsafe_shield_end(&shield);
            break;
        }
        /* the answer */
        w->requests++;
        keep = req.keep_alive && !w->draining;
        if (req.target_len == 1 && req.target[0] == '/') {
            if (req.method == HTTP_GET || req.method == HTTP_HEAD)
                rc = respond(fd, 200, "text/plain", "Hello, world\n", 13, keep,
                             req.method == HTTP_HEAD, NULL, deadline);
            else
                status = 405;
        } else if (req.target_len == 4 && !memcmp(req.target, "/mac", 4)) {
            if (req.method == HTTP_POST) {
                struct mac_job job;
                char hex[2 * sizeof job.mac + 2];
                job.body = (const unsigned char *)buf + hl;
                job.len = req.content_length;
                if (hsafe_run(&w->run_pool, mac_run, &job, NULL) != HSAFE_OK) {
                    status = 500;
                } else {
                    sodium_bin2hex(hex, sizeof hex, job.mac, sizeof job.mac);
                    hex[2 * sizeof job.mac] = '\n';
                    rc = respond(fd, 200, "text/plain", hex, 2 * sizeof job.mac + 1, keep, 0,
                                 NULL, deadline);
                }
            } else {
                status = 405;
            }
        } else if (g.debug && req.target_len == 12 && !memcmp(req.target, "/debug/stats", 12) &&
                   req.method == HTTP_GET) {
            char page[2048];
            size_t n = debug_stats(page, sizeof page);
            rc = respond(fd, 200, "text/plain", page, n, keep, 0, NULL, deadline);
        } else {
            status = 404;
        }
        if (status)
            rc = respond_text(fd, status, keep,
                              status == 405 ? (req.target_len == 1 ? "Allow: GET, HEAD\r\n"
                                                                   : "Allow: POST\r\n")
                                            : NULL, deadline);
        hsafe_shield_end(&shield);
        if (rc != 0 || !keep) break;
        /* keep the bytes of the next request, if any came already */
        have -= need;
        memmove(buf, buf + need, have);
    }
    close(fd);
    c->fd = -1;
    w->open--;
    return 0;                           /* a client's trouble is not the server's */
}

/* ---- accepting, the root task ---------------------------------------------- */

/* Hand fd to a task in a free slot (there is one more slot than stacks for
 * connections, so one is free here); spawn_wait waits while every stack is
 * lent. Returns 0, or -1 (cancelled: fd closed). */
static int spawn_conn(struct worker *w, hsafe_scope *conns, int fd)
{
    struct conn *c;
    int rc;
    for (;;) {
        c = &w->conns[w->next_slot];
        w->next_slot = (w->next_slot + 1) % (g.max_conns + 1);
        if (hsafe_task_state(&c->task) == HSAFE_TASK_NONE ||
            hsafe_task_state(&c->task) == HSAFE_TASK_DONE) break;
    }
    c->fd = fd;
    c->w = w;
    rc = hsafe_scope_spawn_wait(conns, &c->task, conn_task, c, "conn", HSAFE_FOREVER);
    if (rc == HSAFE_OK) {
        w->accepted++;
        return 0;
    }
    close(fd);
    c->fd = -1;
    return -1;
}

struct acceptor {
    struct worker *w;
    hsafe_scope *conns;
};

static int acceptor_task(void *arg)
{
    struct acceptor *a = arg;
    struct worker *w = a->w;
    int one = 1;
    for (;;) {
        int fd;
        if (hsafe_fd_wait(w->listen_fd, HSAFE_FD_READ, HSAFE_FOREVER) != HSAFE_OK) break;
        while ((fd = accept4(w->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (spawn_conn(w, a->conns, fd)) return 0;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED &&
            hsafe_sleep_until(hsafe_after(10 * 1000000)) != HSAFE_OK)
            break;                      /* out of fds, say: back off, not spin */
    }
    return 0;
}

static int root_task(void *arg)
{
    struct worker *w = arg;
    struct acceptor a;
    hsafe_scope conns, accepting;
    hsafe_task acc;
    int rc;

    memset(&acc, 0, sizeof acc);
    a.w = w;
    a.conns = &conns;
    rc = hsafe_scope_open(&conns, "conns", HSAFE_SCOPE_COLLECT_ALL, HSAFE_FOREVER);
    if (rc != HSAFE_OK) return rc;
    hsafe_scope_open(&accepting, "accepting", 0, HSAFE_FOREVER);
    rc = hsafe_scope_spawn(&accepting, &acc, acceptor_task, &a, "acceptor");
    if (rc == HSAFE_OK)
        rc = hsafe_fd_wait(g.stop_rd, HSAFE_FD_READ, HSAFE_FOREVER);   /* until a signal */
    w->draining = 1;
    hsafe_scope_cancel(&accepting);
    hsafe_scope_join(&accepting);
    close(w->listen_fd);                /* no new connections */
    w->listen_fd = -1;
    hsafe_scope_cancel(&conns);         /* idle ones end; requests in flight are shielded */
    hsafe_scope_join(&conns);
    return rc;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    w->rc = hsafe_loop_run(&w->loop, root_task, w, "server");
    if (w->rc != HSAFE_OK)
        fprintf(stderr, "worker %u: %s %s\n", w->index, hsafe_strerror(w->rc),
                hsafe_task_message(hsafe_loop_root(&w->loop)));
    return NULL;
}

/* ---- setup ------------------------------------------------------------------- */

static int listen_on(unsigned port, unsigned *bound)
{
    struct sockaddr_in addr;
    socklen_t alen = sizeof addr;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t)port);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, SOMAXCONN) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &alen) != 0) {
        close(fd);
        return -1;
    }
    *bound = ntohs(addr.sin_port);
    return fd;
}

static int worker_init(struct worker *w, unsigned index, int listen_fd)
{
    hsafe_pool_config pc;
    hsafe_loop_config lc;
    int rc;
    memset(w, 0, sizeof *w);
    w->index = index;
    w->listen_fd = listen_fd;
    w->conns = calloc(g.max_conns + 1, sizeof *w->conns);
    if (!w->conns) return HSAFE_ENOMEM;
    memset(&pc, 0, sizeof pc);
    pc.stack_size = TASK_STACK;
    pc.capacity = g.max_conns + 2;      /* the root, the acceptor, the connections */
    if ((rc = hsafe_pool_init(&w->pool, &pc)) != HSAFE_OK) return rc;
    memset(&pc, 0, sizeof pc);
    pc.stack_size = RUN_STACK;
    pc.capacity = 1;                    /* one MAC at a time per thread */
    if ((rc = hsafe_pool_init(&w->run_pool, &pc)) != HSAFE_OK) return rc;
    memset(&lc, 0, sizeof lc);
    lc.pool = &w->pool;
    return hsafe_loop_init(&w->loop, &lc);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: http_server [--port N] [--threads N] [--deadline MS] [--max-conns N] [--debug]\n"
            "  --port N       TCP port on 127.0.0.1 (0, the default: pick one)\n"
            "  --threads N    worker threads, one loop each (default: online CPUs)\n"
            "  --deadline MS  per request, from when its connection starts waiting for it\n"
            "                 (default %u); also the grace of requests in flight at shutdown\n"
            "  --max-conns N  connections per thread at once (default %u); more wait\n"
            "  --debug        serve GET /debug/stats (for tests)\n"
            "Endpoints: GET / and POST /mac (HMAC-SHA256 of the body, hex).\n"
            "The key: HTTP_SERVER_KEY_HEX (16-64 bytes in hex; for tests), else random.\n"
            "Prints 'listening on 127.0.0.1:PORT'; SIGTERM or SIGINT stops it.\n",
            DEFAULT_DEADLINE_MS, DEFAULT_CONNS);
}

static int parse_num(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;
    if (!s || !*s || s[0] == '-') return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v > max) return -1;
    *out = v;
    return 0;
}

/* The key from HTTP_SERVER_KEY_HEX or random, into locked memory, then the
 * keyed state (computed in a sanitized run). Returns 0 or -1. */
static int setup_key(void)
{
    const char *hex = getenv("HTTP_SERVER_KEY_HEX");
    unsigned char *key = sodium_malloc(64);
    struct key_job kj;
    size_t len = 32;
    int rc;
    g.keyed = sodium_malloc(sizeof *g.keyed);
    if (!key || !g.keyed) return -1;
    if (hex && *hex) {
        if (sodium_hex2bin(key, 64, hex, strlen(hex), NULL, &len, NULL) != 0 || len < 16) {
            fprintf(stderr, "HTTP_SERVER_KEY_HEX: 16 to 64 bytes in hex\n");
            sodium_free(key);
            return -1;
        }
    } else {
        randombytes_buf(key, len);
    }
    kj.key = key;
    kj.len = len;
    rc = hsafe_run(hsafe_thread_pool(), key_run, &kj, NULL);
    sodium_free(key);                   /* wiped; only the keyed state is kept */
    if (rc != HSAFE_OK || sodium_mprotect_readonly(g.keyed) != 0) return -1;
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long port = 0, threads = 0, deadline_ms = DEFAULT_DEADLINE_MS,
                  max_conns = DEFAULT_CONNS;
    unsigned bound = 0, i;
    int fds_start, fds_end, pipefd[2], ok = 1, sig;
    unsigned long accepted = 0, requests = 0, open = 0;
    size_t in_use = 0;
    struct rlimit rl;
    sigset_t mask;
    siginfo_t si;
    hsafe_time t_signal;
    double drained_ms;

    for (i = 1; i < (unsigned)argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--port") && i + 1 < (unsigned)argc) {
            if (parse_num(argv[++i], 65535, &port)) goto bad;
        } else if (!strcmp(argv[i], "--threads") && i + 1 < (unsigned)argc) {
            if (parse_num(argv[++i], 256, &threads) || threads == 0) goto bad;
        } else if (!strcmp(argv[i], "--deadline") && i + 1 < (unsigned)argc) {
            if (parse_num(argv[++i], 3600000, &deadline_ms) || deadline_ms == 0) goto bad;
        } else if (!strcmp(argv[i], "--max-conns") && i + 1 < (unsigned)argc) {
            if (parse_num(argv[++i], 100000, &max_conns) || max_conns == 0) goto bad;
        } else if (!strcmp(argv[i], "--debug")) {
            g.debug = 1;
        } else {
            goto bad;
        }
    }
    if (!threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned long)n : 1;
    }
    g.threads = (unsigned)threads;
    g.max_conns = (unsigned)max_conns;
    g.deadline_ns = (int64_t)deadline_ms * 1000000;
    g.lim.max_head = MAX_HEAD;
    g.lim.max_body = MAX_BODY;
    g.lim.max_headers = MAX_HEADERS;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;      /* 1,000 sockets need more than 1024 */
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (sodium_init() < 0 || setup_key() != 0) {
        fprintf(stderr, "libsodium: cannot set up the key\n");
        return 1;
    }
    fds_start = count_fds();            /* after the key's run: the main thread's
                                           pool keeps a descriptor until exit */

    /* every thread inherits the mask: the signals wait for sigwaitinfo */
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0) { perror("pthread_sigmask"); return 1; }
    if (pipe2(pipefd, O_CLOEXEC) != 0) { perror("pipe2"); return 1; }
    g.stop_rd = pipefd[0];
    g.stop_wr = pipefd[1];

    g.workers = calloc(g.threads, sizeof *g.workers);
    if (!g.workers) { perror("calloc"); return 1; }
    for (i = 0; i < g.threads; i++) {
        int fd = listen_on(i == 0 ? (unsigned)port : bound, &bound), rc;
        if (fd < 0) { perror("socket/bind/listen"); return 1; }
        rc = worker_init(&g.workers[i], i, fd);
        if (rc != HSAFE_OK) { fprintf(stderr, "worker: %s\n", hsafe_strerror(rc)); return 1; }
    }
    for (i = 0; i < g.threads; i++)
        if (pthread_create(&g.workers[i].thread, NULL, worker_main, &g.workers[i]) != 0) {
            perror("pthread_create");
            return 1;
        }
    printf("listening on 127.0.0.1:%u (%u threads, deadline %lu ms)\n", bound, g.threads,
           deadline_ms);
    fflush(stdout);

    do sig = sigwaitinfo(&mask, &si);
    while (sig < 0 && errno == EINTR);
    t_signal = hsafe_now();
    if (write(g.stop_wr, "x", 1) != 1) perror("write stop pipe");

    for (i = 0; i < g.threads; i++) pthread_join(g.workers[i].thread, NULL);
    drained_ms = (double)(hsafe_now() - t_signal) / 1e6;   /* every loop has ended */
    for (i = 0; i < g.threads; i++) {
        struct worker *w = &g.workers[i];
        hsafe_pool_stats ps, rs;
        hsafe_pool_get_stats(&w->pool, &ps);
        hsafe_pool_get_stats(&w->run_pool, &rs);
        if (w->rc != HSAFE_OK) ok = 0;
        accepted += w->accepted;
        requests += w->requests;
        open += w->open;
        in_use += ps.in_use + rs.in_use;
        hsafe_loop_fini(&w->loop);
        if (hsafe_pool_destroy(&w->pool) != HSAFE_OK ||
            hsafe_pool_destroy(&w->run_pool) != HSAFE_OK) ok = 0;
        free(w->conns);
    }
    free(g.workers);
    close(g.stop_rd);
    close(g.stop_wr);
    sodium_free(g.keyed);
    fds_end = count_fds();
    printf("shutdown: %lu connections, %lu requests, %lu open, %zu stacks in use "
           "(signal %d; fds: %d at start, %d at exit; drained %.1f ms after the signal)\n",
           accepted, requests, open, in_use, sig, fds_start, fds_end, drained_ms);
    fflush(stdout);
    return (ok && open == 0 && in_use == 0 && fds_start == fds_end) ? 0 : 1;

bad:
    usage(stderr);
    return 2;
}
