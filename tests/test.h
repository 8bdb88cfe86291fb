/*
 * test.h: the smallest test harness that does the job.
 *
 * A suite is a function that calls RUN(case) for each case; a case fails
 * when any CHECK in it fails. The runner prints "N passed, N failed".
 */
#ifndef FKEX_TEST_H
#define FKEX_TEST_H

#include <stdio.h>
#include "gke/gke.h"
#include "ibe/ibe.h"

extern int test_case_failed;
void test_fail(const char *what, const char *file, int line);
void test_run(const char *name, void (*fn)(void));

#define CHECK(cond) do { if (!(cond)) test_fail(#cond, __FILE__, __LINE__); } while (0)
#define CHECK_OK(expr) CHECK((expr) == FKEX_OK)
#define CHECK_ERR(expr, e) CHECK((expr) == (e))
#define RUN(fn) test_run(#fn, fn)

/* A deterministic RNG seeded from a label, for reproducible tests. */
void test_rng(fkex_rng *rng, const char *label);
/* A user key for space-separated attributes ("ONE TWO year=5"); NULL if
 * keygen refuses them. */
fkex_key *test_keygen(const fkex_msk *msk, const char *list, fkex_rng *rng);
/* The id a direct conversation of lo and hi used to have, computable by
 * anyone: SHA-256("fkex v1 dm" || fp || u16 || lo || u16 || hi). Tests
 * show it is no longer the id (squatters hold its places). */
void test_public_dm_id(uint8_t id[32], const uint8_t fp[32], const char *lo, const char *hi);
/* A whole file as a NUL-terminated string ("" if it cannot be read);
 * malloc'd. */
char *test_read_text(const char *path);
/* Waits for a child: its exit code, or -1 if it died of a signal or did
 * not exit within `seconds` (then it is killed). Polls. */
int test_reap(int pid, double seconds);
/* 1 if phrase (its bytes, without the NUL) is in p[0..n). */
int test_has(const uint8_t *p, size_t n, const char *phrase);
/* Seconds on the monotonic clock, for deadlines. */
double test_now(void);
/* Sleeps ms milliseconds, signals or not. */
void test_nap_ms(long ms);
/* Directory for scratch files of this run (created on first use). */
const char *test_tmpdir(void);

/* ---- in-memory streams, as awkward as a test wants them (tests/memio.c) -- */
typedef struct {
    const uint8_t *p;
    size_t len, off;
    size_t step;        /* at most this many bytes per read; 0 for no limit */
    fkex_err err;       /* if set, returned by every read once off == fail_at */
    size_t fail_at;
    int eofs;           /* reads that reported the end */
} mem_src;

typedef struct {
    uint8_t *p;
    size_t len, cap;
    size_t writes;
    size_t fail_after;  /* if nonzero, writes fail once len would pass it */
} mem_snk;

fkex_source src_make(mem_src *m, const void *p, size_t len, size_t step);
fkex_sink snk_make(mem_snk *m);
fkex_err snk_write(fkex_sink *s, const uint8_t *buf, size_t len);
void snk_free(mem_snk *m);
/* Deterministic filler bytes (xorshift) for plaintexts. */
void fill(uint8_t *p, size_t n, uint32_t seed);

#endif
