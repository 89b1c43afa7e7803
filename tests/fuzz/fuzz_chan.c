/* fuzz_chan: bytes -> a program of channel operations by four tasks on one
 * loop, checked against a ledger of every value (exactly once, in order,
 * never lost under cancellation or deadlines) and against what the API
 * promises for each call (api/chan.h).
 *
 * Build (tests/phases/60-fuzz.sh does this):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Itests \
 *         tests/fuzz/fuzz_chan.c -o fuzz_chan
 * With -DHSAFE_FUZZ_MAIN it is a plain program that runs the files or
 * directories named on its command line once each (the seed corpus,
 * tests/fuzz/chan_corpus/, as a regression test). FUZZ_CHAN_TRACE=1
 * prints each operation.
 *
 * The program: the first bytes choose channel 0's capacity (0-3: 0 is a
 * rendezvous) and the element size (4, 8 or 24 bytes: a value, its
 * complement, a filler derived from it); channel 1 is always unbuffered.
 * The root task opens one scope per worker (so each can be cancelled
 * alone), spawns four workers, sleeps 0.3 ms, closes both channels (which
 * wakes every worker still waiting on one) and joins.
 * Each worker reads its next operation from the shared input when it runs
 * (the scheduler is deterministic, so an input replays exactly):
 *   send, recv       on channel a&1, deadline forever / past / 0-150 us
 *   select           send on one channel and recv on the other, or recv
 *                    on both, with a deadline, or try_select (default)
 *   try_send, try_recv
 *   close            a channel (HSAFE_ECLOSED the second time)
 *   cancel           a worker's scope (HSAFE_EINVAL once joined)
 *   yield, sleep     0-100 us
 *   end              return
 * Values are unique: worker << 24 | sequence. The checks (abort on
 * mismatch, which libFuzzer reports as a crash):
 *   - each call returns one of the codes the API allows for it; a worker
 *     whose scope was cancelled gets HSAFE_ECANCELED from every blocking
 *     call it starts afterwards (level-triggered), try_* calls still work;
 *     a send on a channel closed before it started returns HSAFE_ECLOSED
 *     (unless cancelled); close twice returns HSAFE_ECLOSED;
 *   - a select returns one clause, whose rc is 0 or HSAFE_ECLOSED, and
 *     only that clause happened;
 *   - every value received arrives intact (complement and filler), was
 *     sent by a send that reported success, and is received once; each
 *     receiver gets one sender's values on one channel in the order sent;
 *   - at the end (every task done): each successful send was received or
 *     is still in channel 0's buffer (drained with try_recv), no failed
 *     send's value was ever received, the bytes around channel 0's
 *     buffer are untouched and each slot of it is zero again (or was
 *     never used).
 */
#ifndef HSAFE_TEST_SHARED_IMPL
#define HSAFE_IMPLEMENTATION
#endif
#include "hsafe.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NW 4                    /* workers */
#define MAXSEQ 512              /* values per worker */
#define MAXOPS 64               /* operations per worker */

static int trace;

#define FAIL(...) \
    do { fprintf(stderr, "fuzz_chan: mismatch at %s:%d: ", __FILE__, __LINE__); \
         fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)
#define EXPECT(cond, ...) do { if (!(cond)) FAIL(__VA_ARGS__); } while (0)

typedef struct elem { uint32_t v, notv; uint32_t fill[4]; } elem;   /* 24 bytes */

static struct {
    const uint8_t *p;
    size_t n;
    size_t esize;
    hsafe_chan ch[2];
    unsigned char buf0[16 + 3 * sizeof(elem) + 16];      /* canaries around */
    int closed[2];
    int cancelled[NW];
    int joined[NW];                     /* the root joined that scope */
    hsafe_scope scope[NW];
    hsafe_task task[NW];
    unsigned seq[NW];
    /* per value: 0 unused, 1 send in progress, 2 sent, 3 send failed */
    unsigned char state[NW][MAXSEQ];
    unsigned char got[NW][MAXSEQ];      /* times received */
    int last_seq[NW + 1][2][NW];        /* per receiver (NW: the final drain),
                                           channel and sender: last received */
    int pending;                        /* a send in progress was taken */
} S;

static unsigned byte(void)
{
    unsigned b;
    if (!S.n) return 0;
    b = *S.p++;
    S.n--;
    return b;
}

static hsafe_time deadline_of(unsigned a)
{
    switch (a & 3) {
    case 0: return HSAFE_FOREVER;
    case 1: return hsafe_now() - 1;                           /* a poll */
    default: return hsafe_after((int64_t)((a >> 2) % 4) * 50000);   /* 0-150 us */
    }
}

static void make_elem(elem *e, uint32_t v)
{
    int i;
    memset(e, 0, sizeof *e);
    e->v = v;
    e->notv = ~v;
    for (i = 0; i < 4; i++) e->fill[i] = v * 2654435761u + (uint32_t)i;
}

/* Check a received element and enter it in the ledger. */
static void received(int r, int ch, const elem *e)
{
    uint32_t v = e->v;
    unsigned w = v >> 24, s = v & 0xffffff;
    int i;
    EXPECT(w < NW && s < MAXSEQ, "received a value no one sent: %#x", v);
    if (S.esize >= 8) EXPECT(e->notv == ~v, "value %#x arrived damaged", v);
    if (S.esize >= 24)
        for (i = 0; i < 4; i++)
            EXPECT(e->fill[i] == v * 2654435761u + (uint32_t)i, "value %#x: filler damaged", v);
    EXPECT(S.state[w][s] == 1 || S.state[w][s] == 2,
           "value %#x received but its send %s", v, S.state[w][s] == 3 ? "failed" : "never started");
    EXPECT(S.got[w][s] == 0, "value %#x received twice", v);
    S.got[w][s]++;
    EXPECT((int)s > S.last_seq[r][ch][w], "channel %d: receiver %d got worker %u's value %u after %d "
           "(out of order)", ch, r, w, s, S.last_seq[r][ch][w]);
    S.last_seq[r][ch][w] = (int)s;
}

static int new_value(int w, elem *e)
{
    unsigned s = S.seq[w]++;
    if (s >= MAXSEQ) return -1;
    make_elem(e, (uint32_t)w << 24 | s);
    S.state[w][s] = 1;
    return (int)s;
}

static void send_done(int w, int s, int rc)
{
    if (s < 0) return;
    S.state[w][s] = rc == 0 ? 2 : 3;
    if (rc != 0) EXPECT(S.got[w][s] == 0, "value %#x was received but its send returned %d", w << 24 | s, rc);
}

/* A blocking call's result must be allowed: cancelled before -> ECANCELED. */
static void check_blocking(int w, int was_cancelled, int rc, const char *what)
{
    if (was_cancelled) EXPECT(rc == HSAFE_ECANCELED, "%s by cancelled worker %d returned %d", what, w, rc);
    if (rc == HSAFE_ECANCELED) EXPECT(S.cancelled[w], "%s: ECANCELED but worker %d was not cancelled", what, w);
}

static void op_send(int w, unsigned a, int trysend)
{
    int c = a & 1, closed = S.closed[c], cancelled = S.cancelled[w], s, rc;
    elem e;
    s = new_value(w, &e);
    if (s < 0) return;
    rc = trysend ? hsafe_chan_try_send(&S.ch[c], &e) : hsafe_chan_send(&S.ch[c], &e, deadline_of(a >> 1));
    if (trace) printf("w%d %s ch%d %#x -> %d\n", w, trysend ? "try_send" : "send", c, e.v, rc);
    if (!trysend) check_blocking(w, cancelled, rc, "send");
    if (closed && !(cancelled && !trysend)) EXPECT(rc == HSAFE_ECLOSED, "send on closed channel %d returned %d", c, rc);
    EXPECT(rc == 0 || rc == HSAFE_ECLOSED || rc == HSAFE_ETIMEDOUT || rc == HSAFE_ECANCELED ||
           (trysend && rc == HSAFE_EAGAIN), "send returned %d", rc);
    if (trysend) EXPECT(rc != HSAFE_ETIMEDOUT && rc != HSAFE_ECANCELED, "try_send returned %d", rc);
    send_done(w, s, rc);
}

static void op_recv(int w, unsigned a, int tryrecv)
{
    int c = a & 1, cancelled = S.cancelled[w], rc;
    elem e;
    memset(&e, 0, sizeof e);
    rc = tryrecv ? hsafe_chan_try_recv(&S.ch[c], &e) : hsafe_chan_recv(&S.ch[c], &e, deadline_of(a >> 1));
    if (trace) printf("w%d %s ch%d -> %d %#x\n", w, tryrecv ? "try_recv" : "recv", c, rc, rc ? 0 : e.v);
    if (!tryrecv) check_blocking(w, cancelled, rc, "recv");
    EXPECT(rc == 0 || rc == HSAFE_ECLOSED || rc == HSAFE_ETIMEDOUT || rc == HSAFE_ECANCELED ||
           (tryrecv && rc == HSAFE_EAGAIN), "recv returned %d", rc);
    if (rc == HSAFE_ECLOSED) EXPECT(S.closed[c], "recv: ECLOSED on open channel %d", c);
    if (rc == 0) received(w, c, &e);
}

static void op_select(int w, unsigned a)
{
    hsafe_chan_clause cl[2];
    elem out, in0, in1;
    int s = -1, rc, i, kind = a & 3, trysel = (a >> 2 & 3) == 3, cancelled = S.cancelled[w];
    int send_at = -1;
    memset(cl, 0, sizeof cl);
    memset(&in0, 0, sizeof in0);
    memset(&in1, 0, sizeof in1);
    if (kind == 0 || kind == 1) {           /* send on `kind`, recv on the other */
        s = new_value(w, &out);
        if (s < 0) return;
        send_at = 0;
        cl[0].chan = &S.ch[kind]; cl[0].op = HSAFE_CHAN_SEND; cl[0].elem = &out;
        cl[1].chan = &S.ch[!kind]; cl[1].op = HSAFE_CHAN_RECV; cl[1].elem = &in1;
    } else {                                /* recv on both, order by kind */
        cl[0].chan = &S.ch[kind & 1]; cl[0].op = HSAFE_CHAN_RECV; cl[0].elem = &in0;
        cl[1].chan = &S.ch[!(kind & 1)]; cl[1].op = HSAFE_CHAN_RECV; cl[1].elem = &in1;
    }
    cl[0].rc = cl[1].rc = 12345;
    rc = trysel ? hsafe_chan_try_select(cl, 2) : hsafe_chan_select(cl, 2, deadline_of(a >> 4));
    if (trace) printf("w%d %sselect kind %d -> %d\n", w, trysel ? "try_" : "", kind, rc);
    if (!trysel) check_blocking(w, cancelled, rc, "select");
    EXPECT(rc == 0 || rc == 1 || rc == HSAFE_ETIMEDOUT || rc == HSAFE_ECANCELED ||
           (trysel && rc == HSAFE_EAGAIN), "select returned %d", rc);
    if (rc == 0 || rc == 1) {
        EXPECT(cl[rc].rc == 0 || cl[rc].rc == HSAFE_ECLOSED, "select: clause rc %d", cl[rc].rc);
        if (cl[rc].rc == HSAFE_ECLOSED)
            EXPECT(S.closed[cl[rc].chan == &S.ch[1]], "select: clause closed on an open channel");
    }
    if (send_at >= 0) send_done(w, s, rc == send_at && cl[rc].rc == 0 ? 0 : HSAFE_EAGAIN);
    for (i = 0; i < 2; i++) {
        if (i == send_at) continue;
        if (rc == i && cl[i].rc == 0) received(w, cl[i].chan == &S.ch[1], (const elem *)cl[i].elem);
        else EXPECT(((const elem *)cl[i].elem)->v == 0, "select: clause %d that did not happen wrote", i);
    }
}

static void op_close(int w, unsigned a)
{
    int c = a & 1, rc = hsafe_chan_close(&S.ch[c]);
    if (trace) printf("w%d close ch%d -> %d\n", w, c, rc);
    EXPECT(rc == (S.closed[c] ? HSAFE_ECLOSED : 0), "close returned %d", rc);
    S.closed[c] = 1;
}

static int worker(void *arg)
{
    int w = (int)(intptr_t)arg, ops;
    for (ops = 0; ops < MAXOPS && S.n; ops++) {
        unsigned op = byte(), a = byte();
        int cancelled = S.cancelled[w], rc;
        switch (op % 11) {
        case 0: case 1: op_send(w, a, 0); break;
        case 2: case 3: op_recv(w, a, 0); break;
        case 4: op_select(w, a); break;
        case 5: if (a & 1) op_send(w, a >> 1, 1); else op_recv(w, a >> 1, 1); break;
        case 6: if ((a & 7) == 0) op_close(w, a >> 3); break;   /* rarer */
        case 7: {
            int v = (int)(a % NW);
            if (trace) printf("w%d cancel w%d\n", w, v);
            rc = hsafe_scope_cancel(&S.scope[v]);
            EXPECT(rc == (S.joined[v] ? HSAFE_EINVAL : 0), "scope_cancel returned %d", rc);
            if (!S.joined[v]) S.cancelled[v] = 1;
            break;
        }
        case 8:
            rc = hsafe_yield();
            check_blocking(w, cancelled, rc, "yield");
            EXPECT(rc == 0 || rc == HSAFE_ECANCELED, "yield returned %d", rc);
            break;
        case 9:
            rc = hsafe_sleep_until(hsafe_after((int64_t)(a % 3) * 50000));
            check_blocking(w, cancelled, rc, "sleep");
            EXPECT(rc == 0 || rc == HSAFE_ECANCELED, "sleep returned %d", rc);
            break;
        default:
            if (trace) printf("w%d ends\n", w);
            return 0;
        }
    }
    return 0;
}

static int root(void *arg)
{
    int w, rc, i;
    (void)arg;
    for (w = 0; w < NW; w++) {
        EXPECT(hsafe_scope_open(&S.scope[w], "worker", HSAFE_SCOPE_COLLECT_ALL, HSAFE_FOREVER) == 0, "open");
        EXPECT(hsafe_scope_spawn(&S.scope[w], &S.task[w], worker, (void *)(intptr_t)w, "worker") == 0, "spawn");
    }
    rc = hsafe_sleep_until(hsafe_after(300000));
    EXPECT(rc == 0, "root sleep returned %d", rc);
    for (i = 0; i < 2; i++) {           /* wakes every worker still waiting */
        rc = hsafe_chan_close(&S.ch[i]);
        EXPECT(rc == (S.closed[i] ? HSAFE_ECLOSED : 0), "root close returned %d", rc);
        S.closed[i] = 1;
    }
    for (w = NW - 1; w >= 0; w--) {     /* innermost first */
        rc = hsafe_scope_join(&S.scope[w]);
        S.joined[w] = 1;
        EXPECT(rc == 0 || rc == HSAFE_ECANCELED, "join returned %d", rc);
        EXPECT(hsafe_task_state(&S.task[w]) == HSAFE_TASK_DONE, "worker %d not done after join", w);
        EXPECT(hsafe_task_status(&S.task[w]) == 0, "worker %d status %d", w, hsafe_task_status(&S.task[w]));
    }
    return 0;
}

static void run_program(const uint8_t *data, size_t size)
{
    static hsafe_pool pool;
    static int pool_ready;
    static const size_t sizes[3] = {4, 8, 24};
    hsafe_loop loop;
    hsafe_loop_config lc;
    size_t cap, i;
    int w, s, rc;
    elem e;
    if (!pool_ready) {
        hsafe_pool_config pc;
        memset(&pc, 0, sizeof pc);
        pc.stack_size = 64 * 1024;
        pc.capacity = NW + 2;
        if (hsafe_pool_init(&pool, &pc) != HSAFE_OK) FAIL("pool_init");
        pool_ready = 1;
    }
    memset(&S, 0, sizeof S);
    S.p = data;
    S.n = size;
    cap = byte() % 4;
    S.esize = sizes[byte() % 3];
    memset(S.buf0, 0xa5, sizeof S.buf0);
    EXPECT(hsafe_chan_init(&S.ch[0], S.esize, cap ? S.buf0 + 16 : NULL, cap, 0) == 0, "chan_init 0");
    EXPECT(hsafe_chan_init(&S.ch[1], S.esize, NULL, 0, 0) == 0, "chan_init 1");
    memset(S.last_seq, 0xff, sizeof S.last_seq);     /* -1 */
    if (trace) printf("program: cap %zu, elements of %zu bytes\n", cap, S.esize);
    memset(&lc, 0, sizeof lc);
    lc.pool = &pool;
    EXPECT(hsafe_loop_init(&loop, &lc) == 0, "loop_init");
    rc = hsafe_loop_run(&loop, root, NULL, "root");
    EXPECT(rc == 0, "loop_run returned %d (%s)", rc, hsafe_task_message(hsafe_loop_root(&loop)));
    EXPECT(hsafe_loop_fini(&loop) == 0, "loop_fini");
    /* drain channel 0 (closed: what is buffered, then ECLOSED) */
    for (;;) {
        memset(&e, 0, sizeof e);
        rc = hsafe_chan_try_recv(&S.ch[0], &e);
        if (rc != 0) break;
        received(NW, 0, &e);
    }
    EXPECT(rc == HSAFE_ECLOSED, "draining a closed channel ended with %d", rc);
    EXPECT(hsafe_chan_try_recv(&S.ch[1], &e) == HSAFE_ECLOSED, "closed unbuffered channel");
    for (w = 0; w < NW; w++)
        for (s = 0; s < (int)S.seq[w] && s < MAXSEQ; s++) {
            EXPECT(S.state[w][s] != 1, "value %#x: its send never returned", w << 24 | s);
            if (S.state[w][s] == 2) EXPECT(S.got[w][s] == 1, "value %#x was sent but never received", w << 24 | s);
            else EXPECT(S.got[w][s] == 0, "value %#x: failed send, received", w << 24 | s);
        }
    for (i = 0; i < 16; i++)
        EXPECT(S.buf0[i] == 0xa5 && S.buf0[sizeof S.buf0 - 1 - i] == 0xa5, "write outside the buffer");
    for (i = 16 + cap * S.esize; i < sizeof S.buf0 - 16; i++)
        EXPECT(S.buf0[i] == 0xa5, "write past the channel's capacity");
    for (i = 0; i < cap; i++) {         /* drained: each slot zeroed, or never used */
        const unsigned char *slot = S.buf0 + 16 + i * S.esize;
        size_t k, zero = 0, fresh = 0;
        for (k = 0; k < S.esize; k++) {
            zero += slot[k] == 0;
            fresh += slot[k] == 0xa5;
        }
        EXPECT(zero == S.esize || fresh == S.esize, "slot %zu keeps a received value", i);
    }
}

#define FUZZ_NAME "fuzz_chan"
#define FUZZ_TRACE_ENV "FUZZ_CHAN_TRACE"
#include "fuzz_main.h"
