/* tests/embed/main.c - two libraries, each with a private copy of hsafe
 * (lib.c built as a_* and b_*), in one program. Usage:
 *   embed work              both copies run sanitized runs side by side
 *   embed overflow-a|-b     after both initialised (b's fault handler is
 *                           installed last and chains to a's), overflow a
 *                           run of one copy: its own message must appear
 *                           (the other copy passes the fault on) */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <stddef.h>

int a_init(size_t), b_init(size_t);
long a_work(uintptr_t), b_work(uintptr_t);
void a_overflow(void), b_overflow(void);
const char *a_config(void), *b_config(void);

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "work";
    if (a_init(65536) != 0 || b_init(131072) != 0) { puts("init failed"); return 2; }
    if (a_work(1) != 2 || b_work(41) != 42) { puts("work failed"); return 1; }
    if (!strcmp(what, "work")) {
        long i, sum = 0;
        for (i = 0; i < 1000; i++) sum += a_work((uintptr_t)i) + b_work((uintptr_t)i);
        printf("a: %s\nb: %s\nsum %ld\n", a_config(), b_config(), sum);
        return sum == 2 * (999 * 1000 / 2 + 1000) ? 0 : 1;
    }
    fflush(stdout);
    if (!strcmp(what, "overflow-a")) a_overflow();
    if (!strcmp(what, "overflow-b")) b_overflow();
    puts("survived");
    return 0;
}
