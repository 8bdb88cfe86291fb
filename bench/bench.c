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

double bench_pairing_ms(void)
{
    enum { RUNS = 101 };
    double t[RUNS];
    fkex_rng rng;
    fkex_g1 p;
    fkex_g2 q;
    fkex_fr a, b;
    fkex_gt e;
    fkex_rng_init_system(&rng);
    fkex_fr_random(&a, &rng);
    fkex_fr_random(&b, &rng);
    fkex_g1_generator(&p);
    fkex_g2_generator(&q);
    fkex_g1_mul(&p, &p, &a);
    fkex_g2_mul(&q, &q, &b);
    for (int i = 0; i < RUNS; i++) {
        double t0 = bench_now_ms();
        fkex_pairing(&e, &p, &q);
        t[i] = bench_now_ms() - t0;
    }
    return bench_median(t, RUNS);
}
