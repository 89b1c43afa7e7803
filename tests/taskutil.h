/* Helpers for the tests/test_task_*.c tests (scoped tasks, api/task.h):
 * a pool and a loop to run a root task in, and a few task bodies. Include
 * after hsafe.h and testutil.h. */
#ifndef HSAFE_TASKUTIL_H
#define HSAFE_TASKUTIL_H

#define MS ((int64_t)1000000)

/* Stack sizes in the task tests are for the asm backend. With ucontext a
 * task record holds two ucontext_t (about 4.5 KiB each on aarch64, where
 * the records the tests keep in their frames overflowed 32 KiB stacks):
 * four times more there. */
#if defined(HSAFE_BACKEND_UCONTEXT) || defined(HSAFE__BACKEND_UCONTEXT)
#  define TU_STACK(n) ((size_t)(n) * 4)
#else
#  define TU_STACK(n) ((size_t)(n))
#endif

/* Run fn(arg) as the root task of a fresh loop over a fresh mmap'd pool of
 * `cap` stacks of `stack` bytes; check that the pool is empty afterwards;
 * return the root's status (the panic message goes to *msg if not NULL). */
__attribute__((unused)) static int tu_run_msg(hsafe_task_fn fn, void *arg, size_t stack, size_t cap,
                                              char *msg, size_t msg_cap)
{
    hsafe_pool pool;
    hsafe_pool_config pc;
    hsafe_loop loop;
    hsafe_loop_config lc;
    hsafe_pool_stats st;
    int rc;
    memset(&pc, 0, sizeof pc);
    pc.stack_size = TU_STACK(stack);
    pc.capacity = cap;
    if (hsafe_pool_init(&pool, &pc) != 0) { fprintf(stderr, "pool init\n"); exit(2); }
    memset(&lc, 0, sizeof lc);
    lc.pool = &pool;
    if (hsafe_loop_init(&loop, &lc) != 0) { fprintf(stderr, "loop init\n"); exit(2); }
    rc = hsafe_loop_run(&loop, fn, arg, "root");
    if (msg) snprintf(msg, msg_cap, "%s", hsafe_task_message(hsafe_loop_root(&loop)));
    CHECK_EQ(hsafe_loop_fini(&loop), 0);
    hsafe_pool_get_stats(&pool, &st);
    CHECK_EQ(st.in_use, 0);
    CHECK_EQ(hsafe_pool_destroy(&pool), 0);
    return rc;
}

__attribute__((unused)) static int tu_run(hsafe_task_fn fn, void *arg)
{
    return tu_run_msg(fn, arg, 64 * 1024, 64, NULL, 0);
}

/* Task bodies */
__attribute__((unused)) static int tu_sleep_long(void *arg)   /* 10 s, or cancelled */
{
    (void)arg;
    return hsafe_sleep_until(hsafe_after(10000 * MS));
}

__attribute__((unused)) static int tu_return_arg(void *arg) { return (int)(intptr_t)arg; }

#endif /* HSAFE_TASKUTIL_H */
