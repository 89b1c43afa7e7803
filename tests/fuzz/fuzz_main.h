/* fuzz_main.h - the entry points a fuzz target gets, included at the end
 * of tests/fuzz/fuzz_*.c after its `static void run_program(const uint8_t
 * *, size_t)` and `static int trace`:
 *   - built with -fsanitize=fuzzer: LLVMFuzzerTestOneInput;
 *   - built with -DHSAFE_FUZZ_MAIN: a plain main() that runs each file, or
 *     each file of each directory, named on its command line once (the
 *     seed corpus as a regression test, under any backend, sanitizer or
 *     valgrind); FUZZ_TRACE_ENV set in the environment turns trace on.
 * The including file defines FUZZ_NAME and FUZZ_TRACE_ENV (strings). */
#if defined(HSAFE_FUZZ_MAIN)
#include <dirent.h>
#include <sys/stat.h>

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    static uint8_t buf[1 << 16];
    size_t n;
    if (!f) { perror(path); return 1; }
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    run_program(buf, n);
    return 0;
}

int main(int argc, char **argv)
{
    int i, files = 0, bad = 0;
    printf("# %s replay\n# %s\n", FUZZ_NAME, hsafe_config_string());
    trace = getenv(FUZZ_TRACE_ENV) != NULL;
    for (i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) { perror(argv[i]); bad++; continue; }
        if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;
            char path[4096];
            while (d && (e = readdir(d)) != NULL) {
                if (e->d_name[0] == '.') continue;
                snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
                bad += run_file(path);
                files++;
            }
            if (d) closedir(d);
        } else {
            bad += run_file(argv[i]);
            files++;
        }
    }
    printf("%d inputs replayed\n", files);
    if (files == 0 || bad) return 1;
    printf("ok\n");
    return 0;
}
#else
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run_program(data, size);
    return 0;
}
#endif
