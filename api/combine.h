/* api/combine.h - combinators over scoped tasks: join all, try-join, race,
 * first success, timeout (hsafe_join_all, hsafe_try_join, hsafe_race,
 * hsafe_race_ok, hsafe_timeout).
 * Part of hsafe (the manual is hsafe.h). Public declarations and the call
 * record (it holds a task, so hsafe.h includes this file after
 * tasks/types.h); uses api/task.h. The implementation is tasks/combine.h.
 *
 * MODEL
 *   Each combinator runs the calls of a caller-provided array
 *   concurrently, each as a child task (on a stack of the loop's pool) of
 *   a scope it opens in the caller's frame, and returns when every one has
 *   ended: like every scope, nothing it started still runs and every
 *   cleanup it caused has run when it returns. No allocation: the calls
 *   (and their tasks) live in the array. Fill fn, arg and name (may be
 *   NULL) of each call; the combinator sets status and result:
 *
 *       static int fetch(void *arg, uintptr_t *result) { ...; *result = n; return 0; }
 *       hsafe_call calls[2];
 *       memset(calls, 0, sizeof calls);
 *       calls[0].fn = fetch; calls[0].arg = "a";
 *       calls[1].fn = fetch; calls[1].arg = "b";
 *       size_t won;
 *       int rc = hsafe_race(calls, 2, hsafe_after(ms(100)), &won);
 *       if (rc >= 0) use(calls[won].result);
 *
 *   A call's status is what its fn returned, HSAFE_EPANIC if it panicked
 *   (message: hsafe_task_message(&calls[i].task)), or, for a call that
 *   never started (the caller was cancelled, the pool failed), the error
 *   that stopped it. A call fails when its status is negative.
 *
 *   Calls still running when the outcome is decided (a winner, a failure
 *   in hsafe_try_join, the deadline, the caller's cancellation) are
 *   cancelled (level-triggered, as any task: their blocking calls return
 *   HSAFE_ECANCELED) and joined before the combinator returns.
 *
 * FAIRNESS (deterministic)
 *   Calls start in index order and the loop runs ready tasks first in,
 *   first out, so the winner of a race is the call whose task ends first
 *   in the loop's order. A tie (calls that end in the same pass of the
 *   loop: without blocking, or woken by the same event) goes to the one
 *   the loop ran first: the lowest index among calls that end in their
 *   first run, the order they were woken in otherwise.
 *
 * WHERE
 *   Only inside a task (like Trio's nursery functions, or Go's code that
 *   always runs in a goroutine): called outside a task, or inside a
 *   hsafe_run nested in a task, each is misuse and aborts. They are
 *   blocking calls: a cancelled caller gets HSAFE_ECANCELED (its calls are
 *   cancelled and joined first). When the pool has no free stack, a call
 *   waits for one (hsafe_scope_spawn_wait) as calls before it end.
 *
 * DEADLINE
 *   Each takes an absolute deadline (HSAFE_FOREVER for none): when it
 *   passes before the outcome is decided, the calls are cancelled and
 *   joined, and the combinator returns HSAFE_ETIMEDOUT.
 *
 * ERRORS of all five: HSAFE_EINVAL (NULL calls with n > 0, a NULL fn, a
 *   call whose task is still alive; nothing was started); the errors of
 *   hsafe_scope_spawn_wait for a call that could not start (the calls
 *   before it are cancelled and joined; *index names it).
 */
#ifndef HSAFE__API_COMBINE_H
#define HSAFE__API_COMBINE_H
HSAFE__BEGIN_C

/* A call's function: returns its status (>= 0 success) and may store a
 * result in *result (0 if it does not). */
typedef int (*hsafe_call_fn)(void *arg, uintptr_t *result);

/* One call of a combinator, in the caller's array (it must outlive the
 * combinator call). Zero it, then set fn, arg and name. */
typedef struct hsafe_call {
    hsafe_call_fn fn;           /* in */
    void *arg;                  /* in */
    const char *name;           /* in: the task's name (may be NULL) */
    int status;                 /* out: see MODEL */
    uintptr_t result;           /* out: what fn stored in *result */
    hsafe_task task;            /* the call's task (readable once it ended) */
    hsafe_cleanup done_;        /* private */
    void *comb_;                /* private */
} hsafe_call;

/* Run calls[0..n) concurrently and wait for all of them (a failure does
 * not cancel the others). Returns 0 if every call succeeded; else what
 * happened first: the first failing call's status (*index = its index),
 * HSAFE_ETIMEDOUT (deadline), HSAFE_ECANCELED (the caller was cancelled).
 * *index (index may be NULL) is n when no call decided the outcome. Every
 * call's own status and result are in the array. n == 0 returns 0. */
HSAFE_API int hsafe_join_all(hsafe_call *calls, size_t n, hsafe_time deadline, size_t *index);

/* hsafe_join_all, but the first call to fail cancels the others: returns
 * 0 if every call succeeded, else the first failure's status (*index =
 * that call), HSAFE_ETIMEDOUT or HSAFE_ECANCELED. The others' statuses
 * tell whether they finished or were cancelled. */
HSAFE_API int hsafe_try_join(hsafe_call *calls, size_t n, hsafe_time deadline, size_t *index);

/* The first call to end wins, success or failure: the others are
 * cancelled and joined; returns the winner's status, *index = the winner
 * (its result in calls[*index].result). Without a winner: HSAFE_ETIMEDOUT
 * (deadline), HSAFE_ECANCELED (the caller was cancelled), *index = n.
 * Errors: HSAFE_EINVAL also for n == 0. */
HSAFE_API int hsafe_race(hsafe_call *calls, size_t n, hsafe_time deadline, size_t *index);

/* The first call to succeed wins (Rust's race_ok, JavaScript's
 * Promise.any): the others are cancelled and joined; returns its status
 * (>= 0), *index = the winner. When every call failed, returns the status
 * of the first one that failed (*index = it); each call's error is in its
 * status. HSAFE_ETIMEDOUT, HSAFE_ECANCELED as for hsafe_race (*index = n).
 * Errors: HSAFE_EINVAL also for n == 0. */
HSAFE_API int hsafe_race_ok(hsafe_call *calls, size_t n, hsafe_time deadline, size_t *index);

/* Run one call with a deadline. Returns its status when it ends on its
 * own; when the deadline passes first it is cancelled and joined and the
 * result is HSAFE_ETIMEDOUT (unless it still succeeded: a status >= 0 is
 * returned as it is, the work was done); HSAFE_ECANCELED if the caller
 * was cancelled (same exception). Errors: HSAFE_EINVAL (NULL call or fn). */
HSAFE_API int hsafe_timeout(hsafe_call *call, hsafe_time deadline);

HSAFE__END_C
#endif /* HSAFE__API_COMBINE_H */
