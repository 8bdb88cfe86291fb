/*
 * abe/batch.c: small-exponent batch verification (Bellare, Garay, Rabin,
 * EUROCRYPT 1998), as both schemes check a key against its labels: each
 * equation is raised to a random 64-bit weight and all are multiplied
 * into one, so a wrong part passes with probability at most 2^-63. The
 * weights come from the system's CSPRNG after the key is fixed, so
 * whoever made the key cannot search for ones that hide a wrong part.
 */
#include "abe/abe.h"

void fkex_abe_weight(uint8_t rho[8], fkex_rng *rng)
{
    fkex_rng_fill(rng, rho, 8);
    rho[7] |= 0x80;   /* little-endian: the top bit, so that none is 0 */
}

void fkex_abe_add_weighted(fkex_g1 *acc, const fkex_g1 *p, const uint8_t rho[8])
{
    fkex_g1 t;
    blst_p1_mult(&t, p, rho, 64);
    blst_p1_add_or_double(acc, acc, &t);
    sodium_memzero(&t, sizeof t);
}
