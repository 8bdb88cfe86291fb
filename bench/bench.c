/* bench/bench.c: clocks, medians, and the pairing that everything is divided by. */
#include <stdlib.h>
#include <time.h>
#include "bench.h"

double bench_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *samples, size_t n)
{
    qsort(samples, n, sizeof *samples, cmp_double);
    return n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
}

typedef struct {
    fkex_g1 p;
    fkex_g2 q;
} pairing_args;

static void one_pairing(const pairing_args *a)
{
    fkex_gt e;
    fkex_pairing(&e, &a->p, &a->q);
}

void bench_time(double *op_ms, double *pairing_ms, int runs, void (*fn)(void *), void *arg)
{
    double t_op[64], t_pair[64];
    pairing_args pa;
    fkex_rng rng;
    fkex_fr a, b;
    if (runs > 64)
        runs = 64;
    fkex_rng_init_system(&rng);
    fkex_fr_random(&a, &rng);
    fkex_fr_random(&b, &rng);
    fkex_g1_generator(&pa.p);
    fkex_g2_generator(&pa.q);
    fkex_g1_mul(&pa.p, &pa.p, &a);
    fkex_g2_mul(&pa.q, &pa.q, &b);
    fn(arg);   /* warm up caches and lazily built state */
    for (int i = 0; i < runs; i++) {
        double t0 = bench_now_ms();
        one_pairing(&pa);
        double t1 = bench_now_ms();
        fn(arg);
        double t2 = bench_now_ms();
        t_pair[i] = t1 - t0;
        t_op[i] = t2 - t1;
    }
    *op_ms = bench_median(t_op, (size_t)runs);
    *pairing_ms = bench_median(t_pair, (size_t)runs);
}
