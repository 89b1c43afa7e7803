/* echo_server.c - a TCP echo server on scoped tasks (Linux).
 *
 *   cc -std=c11 -O2 -I. examples/echo_server.c -o echo_server
 *   ./echo_server [--port N] [--max-conns N]
 *
 * One hsafe loop, one thread. The root task accepts on 127.0.0.1:PORT and
 * spawns one task per connection into the scope "conns"; each connection
 * task echoes what it reads until EOF, on a non-blocking socket, waiting
 * for readiness with hsafe_fd_wait and looping over partial writes.
 *
 * The root task waits on one fd, an epoll set holding the listening socket
 * and a signalfd for SIGTERM and SIGINT (a task waits on one fd at a time;
 * an epoll fd is readable when any fd in its set is). On a signal it
 * cancels "conns": every connection task gets HSAFE_ECANCELED from its
 * next blocking call, closes its socket and ends; hsafe_scope_join waits
 * for all of them. main then prints
 *     shutdown: N connections served, 0 open (fds: S at start, E at exit)
 * counting /proc/self/fd at start and at exit, and exits 0 if nothing is
 * open and nothing leaked.
 *
 * Backpressure: the pool holds max-conns + 1 stacks (the root's and one per
 * connection). When all are lent, hsafe_scope_spawn_wait makes the root
 * wait for a connection to end, and new clients wait in the kernel's
 * listen backlog instead of being refused.
 */
#define _GNU_SOURCE                     /* accept4, signalfd */
#define HSAFE_IMPLEMENTATION
#include "hsafe.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

/* Stacks: 16 KiB each. A connection task's deepest frame is its 4 KiB
 * echo buffer plus recv/send and the task switch: a few KiB in all, so 16
 * KiB leaves room and 1,000 connections need only 16 MiB of stacks (the
 * default 256 KiB would be 256 MiB). The guard pages below each stack are
 * address space only. -fstack-clash-protection makes any frame that
 * outgrows the stack touch the guard instead of jumping it. */
#define STACK_SIZE      (16u * 1024u)
#define ECHO_BUF        4096u
#define DEFAULT_CONNS   1024u           /* 1,000 concurrent connections fit */
#define YIELD_EVERY     8               /* echoed chunks before letting others run */

struct conn {
    hsafe_task task;                    /* ~2 KiB with ucontext: kept off the small stacks */
    int fd;
};

struct server {
    int listen_fd;
    int sig_fd;
    int ep_fd;                          /* epoll set: listen_fd and sig_fd */
    unsigned max_conns;
    struct conn *conns;                 /* max_conns + 1 slots (see spawn_conn) */
    unsigned next_slot;
    unsigned long served;               /* connections accepted and handed to a task */
    unsigned long open;                 /* connection tasks alive */
    int signo;                          /* the signal that stopped us, or 0 */
};

static struct server *g_server;         /* for the connection tasks' counters */

/* Write all of buf[0..len), waiting for HSAFE_FD_WRITE on short writes.
 * Returns 0, HSAFE_ECANCELED, or -1 (the peer is gone). */
static int write_all(int fd, const unsigned char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = hsafe_fd_wait(fd, HSAFE_FD_WRITE, HSAFE_FOREVER);
            if (rc != HSAFE_OK) return rc;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            return -1;
        }
    }
    return 0;
}

static int conn_task(void *arg)
{
    struct conn *c = arg;
    unsigned char buf[ECHO_BUF];
    int rc = 0, chunks = 0;

    g_server->open++;
    for (;;) {
        ssize_t n;
        if (hsafe_cancelled()) {        /* a busy peer never blocks: look anyway */
            rc = HSAFE_ECANCELED;
            break;
        }
        n = recv(c->fd, buf, sizeof buf, 0);
        if (n > 0) {
            rc = write_all(c->fd, buf, (size_t)n);
            if (rc != 0) break;
            if (++chunks % YIELD_EVERY == 0 && (rc = hsafe_yield()) != 0) break;
        } else if (n == 0) {
            break;                      /* EOF: everything was echoed */
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            rc = hsafe_fd_wait(c->fd, HSAFE_FD_READ, HSAFE_FOREVER);
            if (rc != HSAFE_OK) break;
        } else if (errno != EINTR) {
            break;                      /* reset by the peer, say */
        }
    }
    close(c->fd);
    c->fd = -1;
    g_server->open--;
    /* A peer's error is not the server's: only cancellation is reported. */
    return rc == HSAFE_ECANCELED ? rc : 0;
}

/* Did a SIGTERM or SIGINT arrive? (non-blocking read of the signalfd) */
static int got_signal(struct server *sv)
{
    struct signalfd_siginfo si;
    if (read(sv->sig_fd, &si, sizeof si) == (ssize_t)sizeof si) sv->signo = (int)si.ssi_signo;
    return sv->signo != 0;
}

/* Hand fd to a new connection task. There is one slot more than the pool
 * has connection stacks, so a slot whose task is not alive always exists
 * here; spawn_wait then waits for a stack if all are lent. Returns 0, or
 * 1 if a signal came while waiting (fd is closed then). */
static int spawn_conn(struct server *sv, hsafe_scope *conns, int fd)
{
    struct conn *c;
    int rc;
    for (;;) {                          /* at most max_conns + 1 steps */
        c = &sv->conns[sv->next_slot];
        sv->next_slot = (sv->next_slot + 1) % (sv->max_conns + 1);
        if (hsafe_task_state(&c->task) == HSAFE_TASK_NONE ||
            hsafe_task_state(&c->task) == HSAFE_TASK_DONE) break;
    }
    c->fd = fd;
    for (;;) {
        /* wake every 200 ms to look for a signal while the pool is full */
        rc = hsafe_scope_spawn_wait(conns, &c->task, conn_task, c, "conn",
                                    hsafe_after(200 * 1000000));
        if (rc == HSAFE_OK) {
            sv->served++;
            return 0;
        }
        if (rc != HSAFE_ETIMEDOUT || got_signal(sv)) break;
    }
    close(fd);
    c->fd = -1;
    return 1;
}

static int root_task(void *arg)
{
    struct server *sv = arg;
    hsafe_scope conns;
    int rc;

    rc = hsafe_scope_open(&conns, "conns", HSAFE_SCOPE_COLLECT_ALL, HSAFE_FOREVER);
    if (rc != HSAFE_OK) return rc;
    while (!got_signal(sv)) {
        int fd;
        rc = hsafe_fd_wait(sv->ep_fd, HSAFE_FD_READ, HSAFE_FOREVER);
        if (rc != HSAFE_OK) break;
        /* accept what is queued; spawn_wait may block us when the pool is full */
        while (!sv->signo && (fd = accept4(sv->listen_fd, NULL, NULL,
                                           SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
            if (spawn_conn(sv, &conns, fd)) break;
        }
        if (!sv->signo && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
            errno != ECONNABORTED) {
            /* out of fds, say: back off instead of spinning */
            rc = hsafe_sleep_until(hsafe_after(10 * 1000000));
            if (rc != HSAFE_OK) break;
        }
    }
    hsafe_scope_cancel(&conns);         /* every connection: HSAFE_ECANCELED */
    rc = hsafe_scope_join(&conns);
    return (rc == HSAFE_OK || rc == HSAFE_ECANCELED) ? 0 : rc;
}

static int count_fds(void)
{
    int n = 0;
    struct dirent *e;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;                           /* includes the DIR's own fd, both times */
}

static void usage(FILE *f)
{
    fprintf(f, "usage: echo_server [--port N] [--max-conns N]\n"
               "  --port N       TCP port on 127.0.0.1 (0, the default: pick one)\n"
               "  --max-conns N  connections served at once (default %u); more wait\n"
               "Prints 'listening on 127.0.0.1:PORT'; SIGTERM or SIGINT stops it.\n",
            DEFAULT_CONNS);
}

static int parse_num(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;
    if (!s || !*s) return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v > max || s[0] == '-') return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    struct server sv;
    struct sockaddr_in addr;
    socklen_t alen = sizeof addr;
    struct epoll_event ev;
    struct rlimit rl;
    sigset_t mask;
    hsafe_pool pool;
    hsafe_pool_config pc;
    hsafe_loop loop;
    hsafe_loop_config lc;
    unsigned long port = 0, max_conns = DEFAULT_CONNS;
    int fds_start, fds_end, rc, one = 1, i;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--port") && i + 1 < argc) {
            if (parse_num(argv[++i], 65535, &port)) goto bad;
        } else if (!strcmp(argv[i], "--max-conns") && i + 1 < argc) {
            if (parse_num(argv[++i], 1000000, &max_conns) || max_conns == 0) goto bad;
        } else {
            goto bad;
        }
    }

    fds_start = count_fds();
    /* 1,000 sockets need more than the usual soft limit of 1024 */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    memset(&sv, 0, sizeof sv);
    sv.max_conns = (unsigned)max_conns;
    sv.conns = calloc(max_conns + 1, sizeof *sv.conns);
    if (!sv.conns) { perror("calloc"); return 1; }
    g_server = &sv;

    /* SIGTERM and SIGINT arrive through a signalfd, not as handlers */
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0) { perror("sigprocmask"); return 1; }
    sv.sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sv.sig_fd < 0) { perror("signalfd"); return 1; }

    sv.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (sv.listen_fd < 0) { perror("socket"); return 1; }
    setsockopt(sv.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t)port);
    if (bind(sv.listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(sv.listen_fd, SOMAXCONN) != 0 ||
        getsockname(sv.listen_fd, (struct sockaddr *)&addr, &alen) != 0) {
        perror("bind/listen");
        return 1;
    }

    sv.ep_fd = epoll_create1(EPOLL_CLOEXEC);
    if (sv.ep_fd < 0) { perror("epoll_create1"); return 1; }
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.fd = sv.listen_fd;
    if (epoll_ctl(sv.ep_fd, EPOLL_CTL_ADD, sv.listen_fd, &ev) != 0) { perror("epoll_ctl"); return 1; }
    ev.data.fd = sv.sig_fd;
    if (epoll_ctl(sv.ep_fd, EPOLL_CTL_ADD, sv.sig_fd, &ev) != 0) { perror("epoll_ctl"); return 1; }

    memset(&pc, 0, sizeof pc);
    pc.stack_size = STACK_SIZE;
    pc.capacity = max_conns + 1;        /* the root task and one per connection */
    rc = hsafe_pool_init(&pool, &pc);
    if (rc != HSAFE_OK) { fprintf(stderr, "hsafe_pool_init: %s\n", hsafe_strerror(rc)); return 1; }
    memset(&lc, 0, sizeof lc);
    lc.pool = &pool;
    rc = hsafe_loop_init(&loop, &lc);
    if (rc != HSAFE_OK) { fprintf(stderr, "hsafe_loop_init: %s\n", hsafe_strerror(rc)); return 1; }

    printf("listening on 127.0.0.1:%u\n", (unsigned)ntohs(addr.sin_port));
    fflush(stdout);

    rc = hsafe_loop_run(&loop, root_task, &sv, "accept");
    if (rc != 0)
        fprintf(stderr, "root task: %s %s\n", hsafe_strerror(rc),
                hsafe_task_message(hsafe_loop_root(&loop)));

    hsafe_loop_fini(&loop);
    hsafe_pool_destroy(&pool);
    close(sv.ep_fd);
    close(sv.listen_fd);
    close(sv.sig_fd);
    free(sv.conns);
    fds_end = count_fds();

    printf("shutdown: %lu connections served, %lu open (signal %d; fds: %d at start, %d at exit)\n",
           sv.served, sv.open, sv.signo, fds_start, fds_end);
    fflush(stdout);
    return (rc == 0 && sv.open == 0 && fds_start == fds_end) ? 0 : 1;

bad:
    usage(stderr);
    return 2;
}
