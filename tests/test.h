/*
 * test.h: the smallest test harness that does the job.
 *
 * A suite is a function that calls RUN(case) for each case; a case fails
 * when any CHECK in it fails. The runner prints "N passed, N failed".
 */
#ifndef FKEX_TEST_H
#define FKEX_TEST_H

#include <stdio.h>
#include "inner.h"

extern int test_case_failed;
void test_fail(const char *what, const char *file, int line);
void test_run(const char *name, void (*fn)(void));

#define CHECK(cond) do { if (!(cond)) test_fail(#cond, __FILE__, __LINE__); } while (0)
#define CHECK_OK(expr) CHECK((expr) == FKEX_OK)
#define CHECK_ERR(expr, e) CHECK((expr) == (e))
#define RUN(fn) test_run(#fn, fn)

/* A deterministic RNG seeded from a label, for reproducible tests. */
void test_rng(fkex_rng *rng, const char *label);
/* Directory for scratch files of this run (created on first use). */
const char *test_tmpdir(void);

#endif
