/*
 * pairing/fixed.c: fixed-base multiplication by a comb over blst's
 * multi-point windowed multiplication.
 *
 * k B = sum_j k_j (2^(LIMB_BITS j) B), where k_j are the limbs of k: a
 * FKEX_FIXED_POINTS-point MSM with short scalars shares LIMB_BITS doublings
 * instead of 255. blst_p{1,2}s_mult_wbits gathers table entries in constant
 * time (Booth encoding, full-row scan), so the cost does not depend on k.
 */
#include "inner.h"

#define LIMB_BITS (256 / FKEX_FIXED_POINTS)

static void g1_powers(blst_p1_affine aff[FKEX_FIXED_POINTS], const fkex_g1 *base)
{
    blst_p1 pts[FKEX_FIXED_POINTS];
    const blst_p1 *ptrs[FKEX_FIXED_POINTS];
    pts[0] = *base;
    for (size_t j = 1; j < FKEX_FIXED_POINTS; j++) {
        pts[j] = pts[j - 1];
        for (int d = 0; d < LIMB_BITS; d++)
            blst_p1_double(&pts[j], &pts[j]);
    }
    for (size_t j = 0; j < FKEX_FIXED_POINTS; j++)
        ptrs[j] = &pts[j];
    blst_p1s_to_affine(aff, ptrs, FKEX_FIXED_POINTS);
}

static void g2_powers(blst_p2_affine aff[FKEX_FIXED_POINTS], const fkex_g2 *base)
{
    blst_p2 pts[FKEX_FIXED_POINTS];
    const blst_p2 *ptrs[FKEX_FIXED_POINTS];
    pts[0] = *base;
    for (size_t j = 1; j < FKEX_FIXED_POINTS; j++) {
        pts[j] = pts[j - 1];
        for (int d = 0; d < LIMB_BITS; d++)
            blst_p2_double(&pts[j], &pts[j]);
    }
    for (size_t j = 0; j < FKEX_FIXED_POINTS; j++)
        ptrs[j] = &pts[j];
    blst_p2s_to_affine(aff, ptrs, FKEX_FIXED_POINTS);
}

void fkex_g1_fixed_init(fkex_g1_fixed *t, const fkex_g1 *base)
{
    blst_p1_affine aff[FKEX_FIXED_POINTS];
    const blst_p1_affine *ptrs[FKEX_FIXED_POINTS];
    g1_powers(aff, base);
    for (size_t j = 0; j < FKEX_FIXED_POINTS; j++)
        ptrs[j] = &aff[j];
    blst_p1s_mult_wbits_precompute(t->table, FKEX_FIXED_WBITS, ptrs, FKEX_FIXED_POINTS);
}

void fkex_g2_fixed_init(fkex_g2_fixed *t, const fkex_g2 *base)
{
    blst_p2_affine aff[FKEX_FIXED_POINTS];
    const blst_p2_affine *ptrs[FKEX_FIXED_POINTS];
    g2_powers(aff, base);
    for (size_t j = 0; j < FKEX_FIXED_POINTS; j++)
        ptrs[j] = &aff[j];
    blst_p2s_mult_wbits_precompute(t->table, FKEX_FIXED_WBITS, ptrs, FKEX_FIXED_POINTS);
}

static void scalar_limbs(uint8_t le[32], const uint8_t *ptrs[FKEX_FIXED_POINTS], const fkex_fr *k)
{
    fkex_fr_to_scalar_le(le, k);
    for (size_t j = 0; j < FKEX_FIXED_POINTS; j++)
        ptrs[j] = le + (LIMB_BITS / 8) * j;
}

void fkex_g1_fixed_mul(fkex_g1 *out, const fkex_g1_fixed *t, const fkex_fr *k)
{
    uint8_t le[32];
    const uint8_t *ptrs[FKEX_FIXED_POINTS];
    scalar_limbs(le, ptrs, k);
    blst_p1s_mult_wbits(out, t->table, FKEX_FIXED_WBITS, FKEX_FIXED_POINTS, ptrs, LIMB_BITS, NULL);
    sodium_memzero(le, sizeof le);
}

void fkex_g2_fixed_mul(fkex_g2 *out, const fkex_g2_fixed *t, const fkex_fr *k)
{
    uint8_t le[32];
    const uint8_t *ptrs[FKEX_FIXED_POINTS];
    scalar_limbs(le, ptrs, k);
    blst_p2s_mult_wbits(out, t->table, FKEX_FIXED_WBITS, FKEX_FIXED_POINTS, ptrs, LIMB_BITS, NULL);
    sodium_memzero(le, sizeof le);
}
