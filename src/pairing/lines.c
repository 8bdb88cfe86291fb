/*
 * pairing/lines.c: pairings with a fixed G2 point whose Miller-loop lines
 * are precomputed, as the Boneh-Franklin master public key P_pub is
 * (SCHEMES.md puts it in G2 for this reason).
 *
 * blst_miller_loop_lines evaluates the stored lines at P: only Fp12
 * squarings and sparse multiplications remain, with field arithmetic that
 * does not branch on P's coordinates, so P may be secret (Q_ID^r).
 */
#include "pairing/pairing.h"

void fkex_g2_lines_init(fkex_g2_lines *t, const fkex_g2 *q)
{
    blst_p2_to_affine(&t->q, q);
    blst_precompute_lines(t->lines, &t->q);
}

void fkex_pairing_lines(fkex_gt *out, const fkex_g1 *p, const fkex_g2_lines *t)
{
    blst_p1_affine pa;
    fkex_gt ml;
    blst_p1_to_affine(&pa, p);
    blst_miller_loop_lines(&ml, t->lines, &pa);
    blst_final_exp(out, &ml);
    sodium_memzero(&pa, sizeof pa);
    sodium_memzero(&ml, sizeof ml);
}
