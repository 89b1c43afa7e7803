/* task_dump: a loop with a scope of two sleeping tasks, stopped in
 * stop_here() (called by the root task) so that gdb can run
 *     call hsafe_loop_dump(0)
 * and print the live task tree (tests/cmake/task_gdb.cmake checks the
 * output). Run without gdb, it checks the same text through
 * hsafe_loop_dump_str and exits 0. */
#define HSAFE_IMPLEMENTATION
#include "hsafe.h"
#include <stdio.h>
#include <string.h>

static char buf[4096];

__attribute__((noinline)) void stop_here(void)
{
    __asm__ __volatile__("" ::: "memory");
}

static int kid(void *arg)
{
    (void)arg;
    return hsafe_sleep_until(hsafe_after((int64_t)10 * 1000000));
}

static int root(void *arg)
{
    hsafe_scope s;
    hsafe_task t[2];
    int *ok = (int *)arg;
    hsafe_scope_open(&s, "workers", 0, hsafe_after((int64_t)5000 * 1000000));
    hsafe_scope_spawn(&s, &t[0], kid, NULL, "kid0");
    hsafe_scope_spawn(&s, &t[1], kid, NULL, "kid1");
    hsafe_yield();
    stop_here();
    hsafe_loop_dump_str(NULL, buf, sizeof buf);
    *ok = strstr(buf, "scope 'workers' [open, 2 live") && strstr(buf, "task 'kid1' [waiting: sleep until +");
    return hsafe_scope_join(&s);
}

int main(void)
{
    hsafe_pool pool;
    hsafe_pool_config pc;
    hsafe_loop loop;
    hsafe_loop_config lc;
    int ok = 0, rc;
    memset(&pc, 0, sizeof pc);
    memset(&lc, 0, sizeof lc);
    if (hsafe_pool_init(&pool, &pc)) return 2;
    lc.pool = &pool;
    if (hsafe_loop_init(&loop, &lc)) return 2;
    rc = hsafe_loop_run(&loop, root, &ok, "main");
    fputs(buf, stdout);
    hsafe_loop_fini(&loop);
    hsafe_pool_destroy(&pool);
    return rc == 0 && ok ? 0 : 1;
}
