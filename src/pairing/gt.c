/*
 * pairing/gt.c: the target group GT (the order-r subgroup of Fp12*), the
 * pairing, and the multi-pairing.
 */
#include "pairing/pairing.h"

void fkex_gt_one(fkex_gt *out) { *out = *blst_fp12_one(); }
void fkex_gt_mul(fkex_gt *out, const fkex_gt *a, const fkex_gt *b) { blst_fp12_mul(out, a, b); }
int fkex_gt_equal(const fkex_gt *a, const fkex_gt *b) { return blst_fp12_is_equal(a, b); }

static void gt_select(fkex_gt *out, const fkex_gt table[16], unsigned index)
{
    fkex_ct_select(out->fp6[0].fp2[0].fp[0].l, table[0].fp6[0].fp2[0].fp[0].l, FKEX_LIMBS(*out),
                   16, index);
}

static void powers(fkex_gt power[16], const fkex_gt *a)
{
    fkex_gt_one(&power[0]);
    for (int i = 1; i < 16; i++)
        blst_fp12_mul(&power[i], &power[i - 1], a);
}

/* a^k, left to right over the 64 4-bit windows of k: four cyclotomic
 * squarings (Granger-Scott, valid because a is in GT) and one
 * multiplication by power[window] per window, whatever the window's value. */
void fkex_gt_pow(fkex_gt *out, const fkex_gt *a, const fkex_fr *k)
{
    fkex_gt power[16], acc, pick;
    uint8_t le[32];

    powers(power, a);
    fkex_fr_to_scalar_le(le, k);
    fkex_gt_one(&acc);
    for (int byte = 31; byte >= 0; byte--) {
        for (int half = 1; half >= 0; half--) {
            unsigned window = (le[byte] >> (4 * half)) & 0xf;
            for (int s = 0; s < 4; s++)
                blst_fp12_cyclotomic_sqr(&acc, &acc);
            gt_select(&pick, power, window);
            blst_fp12_mul(&acc, &acc, &pick);
        }
    }
    *out = acc;
    sodium_memzero(le, sizeof le);
    sodium_memzero(power, sizeof power);
    sodium_memzero(&acc, sizeof acc);
    sodium_memzero(&pick, sizeof pick);
}

void fkex_gt_fixed_init(fkex_gt_fixed *t, const fkex_gt *a)
{
    fkex_gt base = *a;
    for (int j = 0; j < 8; j++) {
        if (j > 0)
            for (int s = 0; s < 32; s++)
                blst_fp12_cyclotomic_sqr(&base, &base);
        powers(t->power[j], &base);
    }
}

void fkex_gt_fixed_pow(fkex_gt *out, const fkex_gt_fixed *t, const fkex_fr *k)
{
    fkex_gt acc, pick;
    uint8_t le[32];

    fkex_fr_to_scalar_le(le, k);
    fkex_gt_one(&acc);
    /* Window w (from the top) of every limb j: limb j is le[4j .. 4j+3]. */
    for (int w = 7; w >= 0; w--) {
        for (int s = 0; s < 4; s++)
            blst_fp12_cyclotomic_sqr(&acc, &acc);
        for (int j = 0; j < 8; j++) {
            unsigned window = (le[4 * j + w / 2] >> (4 * (w % 2))) & 0xf;
            gt_select(&pick, t->power[j], window);
            blst_fp12_mul(&acc, &acc, &pick);
        }
    }
    *out = acc;
    sodium_memzero(le, sizeof le);
    sodium_memzero(&acc, sizeof acc);
    sodium_memzero(&pick, sizeof pick);
}

/* blst_bendian_from_fp12 writes, for i = 0..2 and j = 0..1, the two Fp
 * coordinates of fp6[j].fp2[i]; decoding reads them back in that order. */
void fkex_gt_to_bytes(uint8_t out[576], const fkex_gt *a) { blst_bendian_from_fp12(out, a); }

fkex_err fkex_gt_from_bytes(fkex_gt *out, const uint8_t in[576])
{
    fkex_gt x;
    uint8_t again[576];
    const uint8_t *p = in;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
            for (int c = 0; c < 2; c++, p += 48)
                blst_fp_from_bendian(&x.fp6[j].fp2[i].fp[c], p);
    /* Canonical: every coordinate was < p, so it writes back unchanged. */
    blst_bendian_from_fp12(again, &x);
    if (memcmp(again, in, sizeof again) != 0)
        return FKEX_ERR_BAD_ENCODING;
    if (!blst_fp12_in_group(&x))
        return FKEX_ERR_NOT_IN_GROUP;
    *out = x;
    return FKEX_OK;
}

void fkex_pairing(fkex_gt *out, const fkex_g1 *p, const fkex_g2 *q)
{
    blst_p1_affine pa;
    blst_p2_affine qa;
    fkex_multi_pairing m;
    blst_p1_to_affine(&pa, p);
    blst_p2_to_affine(&qa, q);
    fkex_multi_pairing_init(&m);
    fkex_multi_pairing_add(&m, &pa, &qa);
    fkex_multi_pairing_finish(out, &m);
}

void fkex_multi_pairing_init(fkex_multi_pairing *m)
{
    m->used = 0;
    blst_pairing_init((blst_pairing *)m->ctx, 1, NULL, 0);
}

void fkex_multi_pairing_add(fkex_multi_pairing *m, const blst_p1_affine *p,
                            const blst_p2_affine *q)
{
    /* e(O, Q) = e(P, O) = 1: such pairs stay out of the Miller loop. */
    if (blst_p1_affine_is_inf(p) || blst_p2_affine_is_inf(q))
        return;
    blst_pairing_raw_aggregate((blst_pairing *)m->ctx, q, p);
    m->used++;
}

void fkex_multi_pairing_finish(fkex_gt *out, fkex_multi_pairing *m)
{
    if (m->used == 0) {
        fkex_gt_one(out);
    } else {
        fkex_gt ml;
        /* as_fp12 commits the pending pairs and returns the Miller product. */
        ml = *blst_pairing_as_fp12((blst_pairing *)m->ctx);
        blst_final_exp(out, &ml);
        sodium_memzero(&ml, sizeof ml);
    }
    sodium_memzero(m, sizeof *m);
}
