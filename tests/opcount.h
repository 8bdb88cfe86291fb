/*
 * tests/opcount.h: how many group operations the library asked blst for,
 * so a test can show an operation's structure rather than time it.
 *
 * The test binary is linked with -Wl,--wrap for each counted blst function
 * (Makefile, TEST_WRAP): the library's calls land in tests/opcount.c, which
 * counts and forwards. The library itself carries no counting code.
 */
#ifndef FKEX_TEST_OPCOUNT_H
#define FKEX_TEST_OPCOUNT_H

typedef struct {
    unsigned long miller_pairs;   /* pairs entering a multi-Miller loop */
    unsigned long final_exps;
    unsigned long g1_mults, g2_mults;
    unsigned long g1_adds, g2_adds; /* mixed (affine) additions */
    unsigned long g1_hashes;        /* RFC 9380 hashes to G1 */
} opcount;

/* The counts since the last reset. */
void opcount_reset(void);
void opcount_read(opcount *out);
int opcount_equal(const opcount *a, const opcount *b);

#endif
