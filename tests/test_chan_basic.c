/* test_chan_basic: channels (api/chan.h) on one loop, every call and every
 * exit path, and hsafe_loop_post / hsafe_loop_ref on the loop's own thread.
 *
 * Proves:
 *   - hsafe_chan_init's errors; len/cap; try_send/try_recv (EAGAIN when
 *     full/empty; they work outside a task);
 *   - buffered: FIFO order through the ring (wrapping), a full buffer
 *     blocks the sender until a receive makes room, and the blocked
 *     sender's value lands behind the buffered ones;
 *   - unbuffered: a rendezvous (the sender waits for a receiver; the value
 *     goes across); waiting senders and waiting receivers are served
 *     first come, first served;
 *   - elements of 0 bytes and of 1000 bytes arrive intact;
 *   - deadlines: a wait ends with HSAFE_ETIMEDOUT no earlier than the
 *     deadline; a past deadline is a poll (succeeds when ready, else
 *     ETIMEDOUT at once);
 *   - cancellation: a cancelled task's send/recv returns HSAFE_ECANCELED at
 *     once even when the channel is ready, and nothing happened; a waiting
 *     sender or receiver cancelled returns ECANCELED, leaves the queue, and
 *     the value goes to the next one; a value handed to a waiting receiver
 *     whose deadline passed (in the same loop pass, before it ran) is
 *     reported to it, not the timeout; a value handed to a waiting receiver
 *     that is cancelled before it runs again is returned to it (not lost),
 *     the same for a sender whose value was taken; a shielded cancelled
 *     task can still receive;
 *   - close: the buffer drains, then HSAFE_ECLOSED (every time); send on a
 *     closed channel is ECLOSED and sends nothing; waiting receivers and
 *     senders wake with ECLOSED; closing twice is ECLOSED;
 *   - select: the first ready clause in array order wins; a clause that
 *     becomes ready later wakes the select, and only that clause happens
 *     (the select's other clauses leave their queues); send and recv
 *     clauses mixed; NULL chans left out; closed channels are ready with
 *     rc ECLOSED; try_select is the default (EAGAIN); deadline; no clause
 *     = a sleep; a select does not meet itself (send and recv on one
 *     unbuffered channel); EINVAL for bad clauses;
 *   - hsafe_loop_post: the function runs on the loop (from a task, before
 *     the loop ran, and from a task waiting on a shared channel, which
 *     keeps the loop waiting instead of reporting a deadlock); a full
 *     queue is EBUSY; ref/unref errors;
 *   - misuse (POSIX, in a child): a blocking channel call outside a task;
 *     a channel without HSAFE_CHAN_SHARED blocked on from a second loop;
 *     a deadlock on local channels is still reported, with the tree.
 * Every check runs on both channel kinds where it applies: without and
 * with HSAFE_CHAN_SHARED (the shared path's atomics and locks on one loop).
 */
#define HSAFE_IMPLEMENTATION
#include "hsafe.h"
#include "testutil.h"
#include "taskutil.h"

static unsigned g_flags;     /* HSAFE_CHAN_SHARED or 0 for this round */

static void ch_init(hsafe_chan *ch, size_t es, void *buf, size_t cap)
{
    CHECK_EQ(hsafe_chan_init(ch, es, buf, cap, g_flags), 0);
}

/* ---- init, try, buffered -------------------------------------------------- */

static void t_init_errors(void)
{
    hsafe_chan ch;
    int buf[4];
    CHECK_EQ(hsafe_chan_init(NULL, 4, buf, 4, 0), HSAFE_EINVAL);
    CHECK_EQ(hsafe_chan_init(&ch, 4, NULL, 4, 0), HSAFE_EINVAL);
    CHECK_EQ(hsafe_chan_init(&ch, 4, buf, 4, 0x80), HSAFE_EINVAL);
    CHECK_EQ(hsafe_chan_init(&ch, SIZE_MAX / 2, buf, 4, 0), HSAFE_EINVAL);
    CHECK_EQ(hsafe_chan_init(&ch, 0, NULL, 4, 0), 0);      /* 0-byte elements need no buffer */
    CHECK_EQ(hsafe_chan_cap(&ch), 4);
    CHECK_EQ(hsafe_chan_cap(NULL), 0);
    CHECK_EQ(hsafe_chan_len(NULL), 0);
    CHECK_EQ(hsafe_chan_try_send(NULL, buf), HSAFE_EINVAL);
    CHECK_EQ(hsafe_chan_try_recv(NULL, buf), HSAFE_EINVAL);
    CHECK_EQ(hsafe_chan_close(NULL), HSAFE_EINVAL);
    memset(&ch, 0, sizeof ch);
    CHECK_EQ(hsafe_chan_try_send(&ch, buf), HSAFE_EINVAL);   /* not initialised */
    CHECK(strcmp(hsafe_strerror(HSAFE_ECLOSED), hsafe_strerror(HSAFE_EAGAIN)) != 0);
}

static void t_try_outside(void)
{
    hsafe_chan ch;
    int buf[3], v, i;
    ch_init(&ch, sizeof(int), buf, 3);
    CHECK_EQ(hsafe_chan_try_recv(&ch, &v), HSAFE_EAGAIN);
    for (i = 0; i < 3; i++) CHECK_EQ(hsafe_chan_try_send(&ch, &i), 0);
    CHECK_EQ(hsafe_chan_try_send(&ch, &i), HSAFE_EAGAIN);
    CHECK_EQ(hsafe_chan_len(&ch), 3);
    /* wrap around the ring several times */
    for (i = 3; i < 20; i++) {
        CHECK_EQ(hsafe_chan_try_recv(&ch, &v), 0);
        CHECK_EQ(v, i - 3);
        CHECK_EQ(hsafe_chan_try_send(&ch, &i), 0);
    }
    for (i = 17; i < 20; i++) {
        CHECK_EQ(hsafe_chan_try_recv(&ch, &v), 0);
        CHECK_EQ(v, i);
    }
    CHECK_EQ(hsafe_chan_len(&ch), 0);
    /* unbuffered: nobody waits, so nothing can be done */
    ch_init(&ch, sizeof(int), NULL, 0);
    CHECK_EQ(hsafe_chan_try_send(&ch, &v), HSAFE_EAGAIN);
    CHECK_EQ(hsafe_chan_try_recv(&ch, &v), HSAFE_EAGAIN);
    CHECK_EQ(hsafe_chan_close(&ch), 0);
    CHECK_EQ(hsafe_chan_try_send(&ch, &v), HSAFE_ECLOSED);
    CHECK_EQ(hsafe_chan_try_recv(&ch, &v), HSAFE_ECLOSED);
}

/* ---- tasks that do one thing --------------------------------------------- */

typedef struct op {
    hsafe_chan *ch;
    int value;          /* to send / received */
    int rc;
    int after;          /* a second call's result (-100: none made) */
    hsafe_time deadline;
    int *log, *log_len; /* order in which ops completed */
    int id;
} op;

static void op_log(op *o)
{
    if (o->log) o->log[(*o->log_len)++] = o->id;
}

static int do_send(void *arg)
{
    op *o = (op *)arg;
    o->rc = hsafe_chan_send(o->ch, &o->value, o->deadline);
    op_log(o);
    o->after = hsafe_yield();
    return 0;
}

static int do_recv(void *arg)
{
    op *o = (op *)arg;
    o->value = -1;
    o->rc = hsafe_chan_recv(o->ch, &o->value, o->deadline);
    op_log(o);
    o->after = hsafe_yield();
    return 0;
}

static op mkop(hsafe_chan *ch, int value, hsafe_time dl)
{
    op o;
    memset(&o, 0, sizeof o);
    o.ch = ch;
    o.value = value;
    o.deadline = dl;
    o.after = -100;
    return o;
}

static int r_buffered(void *arg)
{
    hsafe_chan ch;
    int buf[2], v, i;
    hsafe_scope s;
    hsafe_task t;
    op o;
    (void)arg;
    ch_init(&ch, sizeof(int), buf, 2);
    v = 10; CHECK_EQ(hsafe_chan_send(&ch, &v, HSAFE_FOREVER), 0);
    v = 11; CHECK_EQ(hsafe_chan_send(&ch, &v, HSAFE_FOREVER), 0);
    /* full: a sender blocks until a receive makes room */
    o = mkop(&ch, 12, HSAFE_FOREVER);
    o.rc = 99;
    hsafe_scope_open(&s, "buf", 0, HSAFE_FOREVER);
    CHECK_EQ(hsafe_scope_spawn(&s, &t, do_send, &o, "sender"), 0);
    CHECK_EQ(hsafe_yield(), 0);
    CHECK_EQ(o.rc, 99);                           /* still waiting */
    CHECK_EQ(hsafe_chan_len(&ch), 2);
    for (i = 10; i <= 12; i++) {
        CHECK_EQ(hsafe_chan_recv(&ch, &v, HSAFE_FOREVER), 0);
        CHECK_EQ(v, i);
    }
    CHECK_EQ(hsafe_scope_join(&s), 0);
    CHECK_EQ(o.rc, 0);
    CHECK_EQ(hsafe_chan_len(&ch), 0);
    return 0;
}

/* Unbuffered: three senders queue up in spawn order, then one receiver
 * takes them in that order; then three receivers queue up and one sender
 * feeds them in that order. */
static int r_rendezvous_fifo(void *arg)
{
    hsafe_chan ch;
    hsafe_scope s;
    hsafe_task t[3];
    op o[3];
    int log[8], log_len = 0, i, v;
    (void)arg;
    ch_init(&ch, sizeof(int), NULL, 0);
    hsafe_scope_open(&s, "fifo", 0, HSAFE_FOREVER);
    for (i = 0; i < 3; i++) {
        o[i] = mkop(&ch, 100 + i, HSAFE_FOREVER);
        o[i].log = log; o[i].log_len = &log_len; o[i].id = i;
        CHECK_EQ(hsafe_scope_spawn(&s, &t[i], do_send, &o[i], "s"), 0);
    }
    CHECK_EQ(hsafe_yield(), 0);
    CHECK_EQ(log_len, 0);                         /* all wait for a receiver */
    for (i = 0; i < 3; i++) {
        CHECK_EQ(hsafe_chan_recv(&ch, &v, HSAFE_FOREVER), 0);
        CHECK_EQ(v, 100 + i);
    }
    CHECK_EQ(hsafe_scope_join(&s), 0);
    for (i = 0; i < 3; i++) { CHECK_EQ(o[i].rc, 0); CHECK_EQ(log[i], i); }

    log_len = 0;
    hsafe_scope_open(&s, "fifo2", 0, HSAFE_FOREVER);
    for (i = 0; i < 3; i++) {
        o[i] = mkop(&ch, 0, HSAFE_FOREVER);
        o[i].log = log; o[i].log_len = &log_len; o[i].id = i;
        CHECK_EQ(hsafe_scope_spawn(&s, &t[i], do_recv, &o[i], "r"), 0);
    }
    CHECK_EQ(hsafe_yield(), 0);
    for (i = 0; i < 3; i++) {
        v = 200 + i;
        CHECK_EQ(hsafe_chan_send(&ch, &v, HSAFE_FOREVER), 0);
    }
    CHECK_EQ(hsafe_scope_join(&s), 0);
    for (i = 0; i < 3; i++) { CHECK_EQ(o[i].rc, 0); CHECK_EQ(o[i].value, 200 + i); CHECK_EQ(log[i], i); }
    return 0;
}

/* ---- element sizes --------------------------------------------------------- */

typedef struct big { unsigned char b[1000]; } big;

static int big_sender(void *arg)
{
    hsafe_chan *ch = (hsafe_chan *)arg;
    big x;
    int i, k;
    for (k = 0; k < 5; k++) {
        for (i = 0; i < 1000; i++) x.b[i] = (unsigned char)(i * 7 + k);
        if (hsafe_chan_send(ch, &x, HSAFE_FOREVER) != 0) return -1;
    }
    return 0;
}

static int r_sizes(void *arg)
{
    hsafe_chan ch, sig;
    big buf[2], y;
    hsafe_scope s;
    hsafe_task t;
    int i, k, bad = 0;
    (void)arg;
    ch_init(&ch, sizeof(big), buf, 2);
    hsafe_scope_open(&s, "big", 0, HSAFE_FOREVER);
    CHECK_EQ(hsafe_scope_spawn(&s, &t, big_sender, &ch, "big"), 0);
    for (k = 0; k < 5; k++) {
        CHECK_EQ(hsafe_chan_recv(&ch, &y, HSAFE_FOREVER), 0);
        for (i = 0; i < 1000; i++) bad += y.b[i] != (unsigned char)(i * 7 + k);
    }
    CHECK_EQ(hsafe_scope_join(&s), 0);
    CHECK_EQ(bad, 0);
    /* 0-byte elements, unbuffered and buffered (no buffer memory) */
    ch_init(&sig, 0, NULL, 0);
    CHECK_EQ(hsafe_chan_try_send(&sig, NULL), HSAFE_EAGAIN);
    ch_init(&sig, 0, NULL, 3);
    CHECK_EQ(hsafe_chan_send(&sig, NULL, HSAFE_FOREVER), 0);
    CHECK_EQ(hsafe_chan_send(&sig, NULL, HSAFE_FOREVER), 0);
    CHECK_EQ(hsafe_chan_len(&sig), 2);
    CHECK_EQ(hsafe_chan_recv(&sig, NULL, HSAFE_FOREVER), 0);
    CHECK_EQ(hsafe_chan_len(&sig), 1);
    /* NULL value to send with a nonzero element size */
    CHECK_EQ(hsafe_chan_send(&ch, NULL, HSAFE_FOREVER), HSAFE_EINVAL);
    CHECK_EQ(hsafe_chan_send(NULL, &y, HSAFE_FOREVER), HSAFE_EINVAL);
    return 0;
}

/* ---- deadlines ------------------------------------------------------------- */

static int r_deadlines(void *arg)
{
    hsafe_chan ch;
    int buf[1], v = 5;
    hsafe_time t0, dl;
    (void)arg;
    ch_init(&ch, sizeof(int), buf, 1);
    t0 = hsafe_now();
    dl = t0 + 5 * MS;
    CHECK_EQ(hsafe_chan_recv(&ch, &v, dl), HSAFE_ETIMEDOUT);
    CHECK(hsafe_now() >= dl);
    CHECK(hsafe_now() - t0 < 5000 * MS);          /* sanity only */
    CHECK_EQ(v, 5);                               /* nothing written */
    /* past deadline: a poll */
    CHECK_EQ(hsafe_chan_recv(&ch, &v, 0), HSAFE_ETIMEDOUT);
    CHECK_EQ(hsafe_chan_send(&ch, &v, 0), 0);      /* room: done */
    CHECK_EQ(hsafe_chan_send(&ch, &v, 0), HSAFE_ETIMEDOUT);   /* full */
    dl = hsafe_after(3 * MS);
    CHECK_EQ(hsafe_chan_send(&ch, &v, dl), HSAFE_ETIMEDOUT);
    CHECK(hsafe_now() >= dl);
    CHECK_EQ(hsafe_chan_len(&ch), 1);
    CHECK_EQ(hsafe_chan_recv(&ch, &v, 0), 0);
    CHECK_EQ(v, 5);
    return 0;
}

/* ---- cancellation ------------------------------------------------------------ */

static int cancelled_ops(void *arg)
{
    hsafe_chan *ch = (hsafe_chan *)arg;   /* buffered: value 1 in it, room left */
    int v = 77;
    hsafe_shield sh;
    CHECK_EQ(hsafe_sleep_until(HSAFE_FOREVER), HSAFE_ECANCELED);   /* until cancelled */
    CHECK_EQ(hsafe_chan_send(ch, &v, HSAFE_FOREVER), HSAFE_ECANCELED);
    CHECK_EQ(hsafe_chan_len(ch), 1);              /* nothing sent */
    CHECK_EQ(hsafe_chan_recv(ch, &v, HSAFE_FOREVER), HSAFE_ECANCELED);
    CHECK_EQ(v, 77);
    CHECK_EQ(hsafe_chan_len(ch), 1);              /* nothing taken */
    CHECK_EQ(hsafe_chan_send(ch, &v, 0), HSAFE_ECANCELED);     /* even as a poll */
    CHECK_EQ(hsafe_chan_send(ch, &v, HSAFE_FOREVER), HSAFE_ECANCELED);   /* every time */
    /* a shield lets it receive, and its grace caps a wait */
    hsafe_shield_begin(&sh, hsafe_after(2 * MS));
    CHECK_EQ(hsafe_chan_recv(ch, &v, HSAFE_FOREVER), 0);
    CHECK_EQ(v, 1);
    CHECK_EQ(hsafe_chan_recv(ch, &v, HSAFE_FOREVER), HSAFE_ETIMEDOUT);
    hsafe_shield_end(&sh);
    CHECK_EQ(hsafe_chan_try_recv(ch, &v), HSAFE_EAGAIN);        /* try_*: not blocking calls */
    return HSAFE_ECANCELED;
}

/* Three op tasks, each in its own scope (so one can be cancelled alone). */
typedef struct trio {
    hsafe_scope s[3];
    hsafe_task t[3];
    op o[3];
} trio;

static void trio_start(trio *x, hsafe_task_fn fn, hsafe_chan *ch, int base)
{
    int i;
    for (i = 0; i < 3; i++) {
        x->o[i] = mkop(ch, base + i, HSAFE_FOREVER);
        x->o[i].rc = 99;
        CHECK_EQ(hsafe_scope_open(&x->s[i], "one", 0, HSAFE_FOREVER), 0);
        CHECK_EQ(hsafe_scope_spawn(&x->s[i], &x->t[i], fn, &x->o[i], "op"), 0);
    }
}

static void trio_join(trio *x)
{
    int i;
    for (i = 2; i >= 0; i--) hsafe_scope_join(&x->s[i]);
}

static int r_cancel(void *arg)
{
    hsafe_chan ch, u;
    int buf[4], v, i;
    hsafe_scope s;
    hsafe_task t;
    trio x;
    (void)arg;
    /* a cancelled task's calls fail at once, nothing happens */
    ch_init(&ch, sizeof(int), buf, 4);
    v = 1;
    CHECK_EQ(hsafe_chan_send(&ch, &v, HSAFE_FOREVER), 0);
    hsafe_scope_open(&s, "c1", 0, HSAFE_FOREVER);
    CHECK_EQ(hsafe_scope_spawn(&s, &t, cancelled_ops, &ch, "cancelled"), 0);
    CHECK_EQ(hsafe_yield(), 0);
    hsafe_scope_cancel(&s);
    CHECK_EQ(hsafe_scope_join(&s), HSAFE_ECANCELED);

    /* three waiting receivers, the middle one cancelled: the values go to
     * the first and the third, in order */
    ch_init(&u, sizeof(int), NULL, 0);
    trio_start(&x, do_recv, &u, 0);
    CHECK_EQ(hsafe_yield(), 0);
    hsafe_scope_cancel(&x.s[1]);
    CHECK_EQ(hsafe_yield(), 0);
    CHECK_EQ(x.o[1].rc, HSAFE_ECANCELED);
    CHECK_EQ(x.o[1].value, -1);
    v = 40; CHECK_EQ(hsafe_chan_send(&u, &v, HSAFE_FOREVER), 0);
    v = 41; CHECK_EQ(hsafe_chan_send(&u, &v, HSAFE_FOREVER), 0);
    CHECK_EQ(hsafe_chan_try_send(&u, &v), HSAFE_EAGAIN);      /* nobody left */
    trio_join(&x);
    CHECK_EQ(x.o[0].rc, 0); CHECK_EQ(x.o[0].value, 40);
    CHECK_EQ(x.o[2].rc, 0); CHECK_EQ(x.o[2].value, 41);

    /* three waiting senders, the middle one cancelled: its value is never
     * received */
    trio_start(&x, do_send, &u, 50);
    CHECK_EQ(hsafe_yield(), 0);
    hsafe_scope_cancel(&x.s[1]);
    CHECK_EQ(hsafe_yield(), 0);
    CHECK_EQ(x.o[1].rc, HSAFE_ECANCELED);
    CHECK_EQ(hsafe_chan_recv(&u, &v, HSAFE_FOREVER), 0); CHECK_EQ(v, 50);
    CHECK_EQ(hsafe_chan_recv(&u, &v, HSAFE_FOREVER), 0); CHECK_EQ(v, 52);
    CHECK_EQ(hsafe_chan_try_recv(&u, &v), HSAFE_EAGAIN);
    trio_join(&x);
    CHECK_EQ(x.o[0].rc, 0); CHECK_EQ(x.o[2].rc, 0);

    /* no lost value: the value is handed to a waiting receiver, which is
     * cancelled before it runs again: its recv reports the value; its next
     * blocking call sees the cancellation */
    trio_start(&x, do_recv, &u, 0);
    CHECK_EQ(hsafe_yield(), 0);
    v = 60;
    CHECK_EQ(hsafe_chan_send(&u, &v, HSAFE_FOREVER), 0);      /* to receiver 0 */
    hsafe_scope_cancel(&x.s[0]);
    CHECK_EQ(hsafe_yield(), 0);
    CHECK_EQ(x.o[0].rc, 0);
    CHECK_EQ(x.o[0].value, 60);
    CHECK_EQ(x.o[0].after, HSAFE_ECANCELED);
    for (i = 1; i < 3; i++) hsafe_scope_cancel(&x.s[i]);
    trio_join(&x);
    CHECK_EQ(x.o[1].rc, HSAFE_ECANCELED);
    CHECK_EQ(x.o[2].rc, HSAFE_ECANCELED);
    /* the same for a sender whose value was taken */
    trio_start(&x, do_send, &u, 70);
    CHECK_EQ(hsafe_yield(), 0);
    CHECK_EQ(hsafe_chan_recv(&u, &v, HSAFE_FOREVER), 0);
    CHECK_EQ(v, 70);
    hsafe_scope_cancel(&x.s[0]);
    hsafe_scope_cancel(&x.s[1]);
    hsafe_scope_cancel(&x.s[2]);
    trio_join(&x);
    CHECK_EQ(x.o[0].rc, 0);
    CHECK_EQ(x.o[0].after, HSAFE_ECANCELED);
    CHECK_EQ(x.o[1].rc, HSAFE_ECANCELED);
    CHECK_EQ(x.o[2].rc, HSAFE_ECANCELED);
    CHECK_EQ(hsafe_chan_try_recv(&u, &v), HSAFE_EAGAIN);
    /* a waiter whose deadline passes leaves the queue */
    trio_start(&x, do_recv, &u, 0);
    x.o[1].deadline = hsafe_after(2 * MS);    /* read by do_recv when it runs */
    for (i = 0; i < 10000 && x.o[1].rc == 99; i++) hsafe_sleep_until(hsafe_after(1 * MS));
    CHECK_EQ(x.o[1].rc, HSAFE_ETIMEDOUT);
    v = 80; CHECK_EQ(hsafe_chan_send(&u, &v, HSAFE_FOREVER), 0);
    v = 81; CHECK_EQ(hsafe_chan_send(&u, &v, HSAFE_FOREVER), 0);
    trio_join(&x);
    CHECK_EQ(x.o[0].value, 80);
    CHECK_EQ(x.o[2].value, 81);
    return 0;
}

/* A receiver's deadline passes, and before it runs again a sender
 * (woken first by its own earlier timer) hands it a value: the receiver
 * reports the value, not the timeout. */
static hsafe_time g_d1;
static int late_sender(void *arg)
{
    op *o = (op *)arg;
    CHECK_EQ(hsafe_sleep_until(g_d1), 0);
    o->rc = hsafe_chan_send(o->ch, &o->value, 0);      /* a poll: the receiver still waits */
    return 0;
}

static int r_deadline_race(void *arg)
{
    hsafe_chan u;
    hsafe_scope s;
    hsafe_task ts, tr;
    op os, orr;
    hsafe_time d2;
    int tries;
    (void)arg;
    ch_init(&u, sizeof(int), NULL, 0);
    /* A try counts only if the receiver was waiting when the sender ran
     * (the sender's poll succeeded): a thread descheduled for longer than
     * the setup margin (valgrind on a loaded machine) tries again. */
    for (tries = 0; tries < 5; tries++) {
        g_d1 = hsafe_after(50 * MS);
        d2 = g_d1 + 1 * MS;
        os = mkop(&u, 123, 0);
        orr = mkop(&u, 0, d2);
        hsafe_scope_open(&s, "race", 0, HSAFE_FOREVER);
        CHECK_EQ(hsafe_scope_spawn(&s, &ts, late_sender, &os, "sender"), 0);
        CHECK_EQ(hsafe_scope_spawn(&s, &tr, do_recv, &orr, "receiver"), 0);
        CHECK_EQ(hsafe_yield(), 0);               /* both wait now */
        while (hsafe_now() < d2 + 1 * MS) {}      /* both timers expire in one pass */
        CHECK_EQ(hsafe_scope_join(&s), 0);
        if (os.rc != HSAFE_ETIMEDOUT) break;
    }
    CHECK(tries < 5);
    CHECK_EQ(os.rc, 0);
    CHECK_EQ(orr.rc, 0);                          /* not ETIMEDOUT: the value is its */
    CHECK_EQ(orr.value, 123);
    return 0;
}

/* ---- close ---------------------------------------------------------------------- */

static int r_close(void *arg)
{
    hsafe_chan ch, u;
    int buf[4], v, i;
    trio x;
    (void)arg;
    ch_init(&ch, sizeof(int), buf, 4);
    for (i = 0; i < 2; i++) CHECK_EQ(hsafe_chan_send(&ch, &i, HSAFE_FOREVER), 0);
    CHECK_EQ(hsafe_chan_close(&ch), 0);
    CHECK_EQ(hsafe_chan_close(&ch), HSAFE_ECLOSED);
    v = 5;
    CHECK_EQ(hsafe_chan_send(&ch, &v, HSAFE_FOREVER), HSAFE_ECLOSED);
    CHECK_EQ(hsafe_chan_len(&ch), 2);
    for (i = 0; i < 2; i++) { CHECK_EQ(hsafe_chan_recv(&ch, &v, HSAFE_FOREVER), 0); CHECK_EQ(v, i); }
    CHECK_EQ(hsafe_chan_recv(&ch, &v, HSAFE_FOREVER), HSAFE_ECLOSED);
    CHECK_EQ(hsafe_chan_recv(&ch, &v, 0), HSAFE_ECLOSED);
    CHECK_EQ(v, 1);
    /* waiting receivers and senders wake with ECLOSED */
    ch_init(&u, sizeof(int), NULL, 0);
    trio_start(&x, do_recv, &u, 0);
    CHECK_EQ(hsafe_yield(), 0);
    CHECK_EQ(hsafe_chan_close(&u), 0);
    trio_join(&x);
    for (i = 0; i < 3; i++) { CHECK_EQ(x.o[i].rc, HSAFE_ECLOSED); CHECK_EQ(x.o[i].after, 0); }
    ch_init(&u, sizeof(int), NULL, 0);
    trio_start(&x, do_send, &u, 0);
    CHECK_EQ(hsafe_yield(), 0);
    CHECK_EQ(hsafe_chan_close(&u), 0);
    trio_join(&x);
    for (i = 0; i < 3; i++) CHECK_EQ(x.o[i].rc, HSAFE_ECLOSED);
    CHECK_EQ(hsafe_chan_recv(&u, &v, HSAFE_FOREVER), HSAFE_ECLOSED);
    /* a full buffered channel with a waiting sender: close, the sender
     * gets ECLOSED, the buffer still drains */
    ch_init(&ch, sizeof(int), buf, 1);
    v = 3; CHECK_EQ(hsafe_chan_send(&ch, &v, HSAFE_FOREVER), 0);
    trio_start(&x, do_send, &ch, 10);
    CHECK_EQ(hsafe_yield(), 0);
    CHECK_EQ(hsafe_chan_close(&ch), 0);
    trio_join(&x);
    for (i = 0; i < 3; i++) CHECK_EQ(x.o[i].rc, HSAFE_ECLOSED);
    CHECK_EQ(hsafe_chan_recv(&ch, &v, HSAFE_FOREVER), 0);
    CHECK_EQ(v, 3);
    CHECK_EQ(hsafe_chan_recv(&ch, &v, HSAFE_FOREVER), HSAFE_ECLOSED);
    return 0;
}

/* ---- select ------------------------------------------------------------------------ */

static void clause(hsafe_chan_clause *c, hsafe_chan *ch, int opk, void *elem)
{
    memset(c, 0, sizeof *c);
    c->chan = ch;
    c->op = opk;
    c->elem = elem;
    c->rc = 99;
}

typedef struct selarg {
    hsafe_chan *a, *b;
    int va, vb, rc, ran;
} selarg;

static int do_select(void *arg)
{
    selarg *s = (selarg *)arg;
    hsafe_chan_clause c[2];
    clause(&c[0], s->a, HSAFE_CHAN_RECV, &s->va);
    clause(&c[1], s->b, HSAFE_CHAN_RECV, &s->vb);
    s->rc = hsafe_chan_select(c, 2, HSAFE_FOREVER);
    s->ran = 1;
    return 0;
}

static int r_select(void *arg)
{
    hsafe_chan a, b, u, cl;
    int ba[2], bb[2], va = -1, vb = -1, v, i;
    hsafe_chan_clause c[4];
    hsafe_scope s;
    hsafe_task t;
    selarg sa;
    hsafe_time dl;
    (void)arg;
    ch_init(&a, sizeof(int), ba, 2);
    ch_init(&b, sizeof(int), bb, 2);
    ch_init(&u, sizeof(int), NULL, 0);
    ch_init(&cl, sizeof(int), NULL, 0);
    clause(&c[0], &a, HSAFE_CHAN_RECV, &va);
    clause(&c[1], &b, HSAFE_CHAN_RECV, &vb);
    CHECK_EQ(hsafe_chan_try_select(c, 2), HSAFE_EAGAIN);            /* default */
    dl = hsafe_after(2 * MS);
    CHECK_EQ(hsafe_chan_select(c, 2, dl), HSAFE_ETIMEDOUT);
    CHECK(hsafe_now() >= dl);
    v = 7; CHECK_EQ(hsafe_chan_send(&b, &v, 0), 0);
    CHECK_EQ(hsafe_chan_select(c, 2, HSAFE_FOREVER), 1);
    CHECK_EQ(c[1].rc, 0); CHECK_EQ(vb, 7); CHECK_EQ(va, -1);
    /* both ready: the first clause wins, the other is untouched */
    v = 8; CHECK_EQ(hsafe_chan_send(&a, &v, 0), 0);
    v = 9; CHECK_EQ(hsafe_chan_send(&b, &v, 0), 0);
    CHECK_EQ(hsafe_chan_try_select(c, 2), 0);
    CHECK_EQ(va, 8);
    CHECK_EQ(hsafe_chan_len(&b), 1);
    CHECK_EQ(hsafe_chan_select(c, 2, HSAFE_FOREVER), 1);
    CHECK_EQ(vb, 9);
    /* a waiting select woken by the second channel; only that clause
     * happens and the first clause's waiter is gone from a's queue */
    memset(&sa, 0, sizeof sa);
    sa.a = &u; sa.b = &cl; sa.va = sa.vb = -1;
    hsafe_scope_open(&s, "sel", 0, HSAFE_FOREVER);
    CHECK_EQ(hsafe_scope_spawn(&s, &t, do_select, &sa, "selector"), 0);
    CHECK_EQ(hsafe_yield(), 0);
    CHECK_EQ(sa.ran, 0);
    v = 11; CHECK_EQ(hsafe_chan_send(&cl, &v, HSAFE_FOREVER), 0);
    CHECK_EQ(hsafe_scope_join(&s), 0);
    CHECK_EQ(sa.rc, 1); CHECK_EQ(sa.vb, 11); CHECK_EQ(sa.va, -1);
    CHECK_EQ(hsafe_chan_try_send(&u, &v), HSAFE_EAGAIN);             /* no receiver left */
    /* woken by close: the clause is ready with ECLOSED */
    sa.ran = 0;
    hsafe_scope_open(&s, "sel2", 0, HSAFE_FOREVER);
    CHECK_EQ(hsafe_scope_spawn(&s, &t, do_select, &sa, "selector"), 0);
    CHECK_EQ(hsafe_yield(), 0);
    CHECK_EQ(hsafe_chan_close(&u), 0);
    CHECK_EQ(hsafe_scope_join(&s), 0);
    CHECK_EQ(sa.rc, 0);
    CHECK_EQ(hsafe_chan_try_recv(&cl, &v), HSAFE_EAGAIN);
    /* send and recv clauses mixed; NULL channels left out */
    ch_init(&a, sizeof(int), ba, 1);
    v = 1; CHECK_EQ(hsafe_chan_send(&a, &v, 0), 0);                  /* a is full */
    clause(&c[0], NULL, HSAFE_CHAN_RECV, &va);
    clause(&c[1], &a, HSAFE_CHAN_SEND, &v);
    clause(&c[2], &b, HSAFE_CHAN_RECV, &vb);
    clause(&c[3], &b, HSAFE_CHAN_SEND, &v);
    v = 33;
    CHECK_EQ(hsafe_chan_try_select(c, 4), 3);                          /* b has room */
    CHECK_EQ(hsafe_chan_select(c, 4, HSAFE_FOREVER), 2);               /* now b has 33 */
    CHECK_EQ(vb, 33);
    /* closed channel in a select */
    clause(&c[0], &u, HSAFE_CHAN_RECV, &va);
    CHECK_EQ(hsafe_chan_select(c, 1, HSAFE_FOREVER), 0);
    CHECK_EQ(c[0].rc, HSAFE_ECLOSED);
    clause(&c[0], &u, HSAFE_CHAN_SEND, &v);
    CHECK_EQ(hsafe_chan_try_select(c, 1), 0);
    CHECK_EQ(c[0].rc, HSAFE_ECLOSED);
    /* no clause: a sleep */
    dl = hsafe_after(2 * MS);
    CHECK_EQ(hsafe_chan_select(NULL, 0, dl), HSAFE_ETIMEDOUT);
    CHECK(hsafe_now() >= dl);
    clause(&c[0], NULL, HSAFE_CHAN_RECV, NULL);
    CHECK_EQ(hsafe_chan_try_select(c, 1), HSAFE_EAGAIN);
    /* a select does not meet itself */
    ch_init(&u, sizeof(int), NULL, 0);
    clause(&c[0], &u, HSAFE_CHAN_SEND, &v);
    clause(&c[1], &u, HSAFE_CHAN_RECV, &va);
    CHECK_EQ(hsafe_chan_select(c, 2, hsafe_after(1 * MS)), HSAFE_ETIMEDOUT);
    /* bad clauses */
    CHECK_EQ(hsafe_chan_select(NULL, 1, 0), HSAFE_EINVAL);
    clause(&c[0], &u, 5, &v);
    CHECK_EQ(hsafe_chan_try_select(c, 1), HSAFE_EINVAL);
    clause(&c[0], &u, HSAFE_CHAN_SEND, NULL);
    CHECK_EQ(hsafe_chan_try_select(c, 1), HSAFE_EINVAL);
    /* a cancelled task: ECANCELED before anything */
    for (i = 0; i < 1; i++) {
        hsafe_scope_open(&s, "selc", 0, HSAFE_FOREVER);
        sa.a = &a; sa.b = &b; sa.ran = 0;
        CHECK_EQ(hsafe_scope_spawn(&s, &t, do_select, &sa, "selector"), 0);
        hsafe_scope_cancel(&s);
        hsafe_scope_join(&s);
        CHECK_EQ(sa.rc, HSAFE_ECANCELED);
        CHECK_EQ(hsafe_chan_len(&a), 1);                               /* a's value stays */
    }
    return 0;
}

/* ---- posts ------------------------------------------------------------------------- */

static int post_count;
static void bump(void *arg) { post_count += (int)(intptr_t)arg; }

static hsafe_loop *current_loop(void)
{
    /* the loop of the running root: its root task record is in the loop */
    return (hsafe_loop *)(void *)((char *)hsafe_task_current() - offsetof(hsafe_loop, root));
}

static int r_post(void *arg)
{
    hsafe_loop *l = current_loop();
    int i, rc = 0;
    (void)arg;
    CHECK_EQ(hsafe_loop_post(l, NULL, NULL), HSAFE_EINVAL);
    CHECK_EQ(hsafe_loop_post(NULL, bump, NULL), HSAFE_EINVAL);
    post_count = 0;
    CHECK_EQ(hsafe_loop_post(l, bump, (void *)(intptr_t)1), 0);
    CHECK_EQ(post_count, 0);                      /* not in the caller */
    CHECK_EQ(hsafe_yield(), 0);
    CHECK_EQ(post_count, 1);
    for (i = 0; i < HSAFE_LOOP_POST_SLOTS + 1 && !rc; i++) rc = hsafe_loop_post(l, bump, (void *)(intptr_t)1);
    CHECK_EQ(rc, HSAFE_EBUSY);
    CHECK_EQ(i, HSAFE_LOOP_POST_SLOTS + 1);
    CHECK_EQ(hsafe_yield(), 0);                   /* the posts run after the pass */
    CHECK_EQ(post_count, 1 + HSAFE_LOOP_POST_SLOTS);
    CHECK_EQ(hsafe_loop_unref(l), HSAFE_ESTATE);
    CHECK_EQ(hsafe_loop_ref(l), 0);
    CHECK_EQ(hsafe_loop_unref(l), 0);
    CHECK_EQ(hsafe_loop_ref(NULL), HSAFE_EINVAL);
    CHECK_EQ(hsafe_loop_unref(NULL), HSAFE_EINVAL);
    return 0;
}

/* ---- misuse (children) -------------------------------------------------------------- */

#if !defined(_WIN32)
static void c_outside(void *arg)
{
    hsafe_chan ch;
    int v = 0;
    (void)arg;
    hsafe_chan_init(&ch, sizeof(int), NULL, 0, 0);
    hsafe_chan_recv(&ch, &v, HSAFE_FOREVER);
}

static hsafe_chan g_local;
static int use_local(void *arg)
{
    int v = 0;
    (void)arg;
    return hsafe_chan_recv(&g_local, &v, 0);
}
static hsafe_loop loops[2];             /* two loops at different addresses */
static void run_on(hsafe_loop *loop)
{
    hsafe_pool pool;
    hsafe_pool_config pc;
    hsafe_loop_config lc;
    memset(&pc, 0, sizeof pc);
    pc.stack_size = TU_STACK(64 * 1024);
    pc.capacity = 4;
    if (hsafe_pool_init(&pool, &pc) != 0) exit(2);
    memset(&lc, 0, sizeof lc);
    lc.pool = &pool;
    if (hsafe_loop_init(loop, &lc) != 0) exit(2);
    hsafe_loop_run(loop, use_local, NULL, "user");
    hsafe_loop_fini(loop);
    hsafe_pool_destroy(&pool);
}
static void c_two_loops(void *arg)
{
    (void)arg;
    hsafe_chan_init(&g_local, sizeof(int), NULL, 0, 0);
    run_on(&loops[0]);                        /* binds it to that loop */
    run_on(&loops[1]);                        /* another loop: misuse */
}

static int stuck(void *arg)
{
    hsafe_chan ch;
    int v;
    (void)arg;
    hsafe_chan_init(&ch, sizeof(int), NULL, 0, 0);
    return hsafe_chan_recv(&ch, &v, HSAFE_FOREVER);
}
static void c_deadlock(void *arg) { (void)arg; tu_run(stuck, NULL); }
#endif

int main(int argc, char **argv)
{
    int round;
    t_child_dispatch(argc, argv);
    T_BEGIN("test_chan_basic");
    t_init_errors();
    for (round = 0; round < 2; round++) {
        g_flags = round ? HSAFE_CHAN_SHARED : 0;
        printf("# channels %s\n", round ? "shared" : "local");
        fflush(stdout);
        t_try_outside();
        CHECK_EQ(tu_run(r_buffered, NULL), 0);
        CHECK_EQ(tu_run(r_rendezvous_fifo, NULL), 0);
        CHECK_EQ(tu_run(r_sizes, NULL), 0);
        CHECK_EQ(tu_run(r_deadlines, NULL), 0);
        CHECK_EQ(tu_run(r_cancel, NULL), 0);
        CHECK_EQ(tu_run(r_deadline_race, NULL), 0);
        CHECK_EQ(tu_run(r_close, NULL), 0);
        CHECK_EQ(tu_run(r_select, NULL), 0);
    }
    CHECK_EQ(tu_run(r_post, NULL), 0);
#if !defined(_WIN32)
    CHECK_DIES(c_outside, NULL, SIGABRT, "hsafe_chan_recv called outside a task");
    CHECK_DIES(c_two_loops, NULL, SIGABRT, "used a channel of another loop");
    CHECK_DIES(c_deadlock, NULL, SIGABRT, "deadlock");
#endif
    T_END();
}
