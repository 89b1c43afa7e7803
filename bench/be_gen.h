/* be_gen.h - what be_gen.c exports (generators, combinators); see there. */
#ifndef HSAFE_BENCH_BE_GEN_H
#define HSAFE_BENCH_BE_GEN_H
#include <stdint.h>
int bench_gen_setup(void);
uint64_t bench_gen_next(long iters);
uint64_t bench_iter_call(long iters);
int bench_race_setup(void);
uint64_t bench_race(long iters);
#endif
