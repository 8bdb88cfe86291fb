/*
 * bench/bench.h: measuring, the same way for every benchmark.
 *
 * Each figure is the median of repeated runs, in ms and in
 * pairing-equivalents: the time divided by one full pairing (Miller loop
 * and final exponentiation) measured in the same run, so that the figures
 * hold across machines.
 */
#ifndef FKEX_BENCH_H
#define FKEX_BENCH_H

#include "inner.h"

double bench_now_ms(void);
double bench_median(double *samples, size_t n);
/* Median time of one full pairing, in ms. */
double bench_pairing_ms(void);

int bench_abe(int json);

#endif
