/*
 * pairing/fixed.c: fixed-base multiplication by a comb, constant time.
 *
 * The base B is split into B_j = 2^(16 j) B for j = 0..15 and the scalar
 * into sixteen 16-bit limbs k_j, so that k B = sum_j k_j B_j. Each limb is
 * read as four 4-bit windows, most significant first:
 *
 *   acc = O
 *   for w = 3..0:  acc = 16 acc;  for each j: acc += T_j[window w of k_j]
 *
 * with T_j[d] = d B_j (T_j[0] = O). That is 16 doublings and 64 additions
 * where a plain multiplication needs ~128 doublings (GLV). Every table
 * entry is read for every lookup (fkex_ct_select) and the additions are
 * blst's complete affine-projective formula, which chooses between its
 * cases with masks: the sequence of operations and addresses is the same
 * for every scalar. (blst_p1s_mult_wbits is faster still, but its gather
 * and its batched additions depend on the scalar, so it is not used for
 * secrets.) tests/ctgrind.c checks this under valgrind.
 */
#include "inner.h"

#define LIMB_BITS 16
#define WINDOW_BITS 4

static unsigned window(const uint8_t le[32], size_t j, int w)
{
    unsigned limb = (unsigned)le[2 * j] | ((unsigned)le[2 * j + 1] << 8);
    return (limb >> (WINDOW_BITS * w)) & (FKEX_FIXED_ENTRIES - 1);
}

void fkex_g1_fixed_init(fkex_g1_fixed *t, const fkex_g1 *base)
{
    fkex_g1 bj = *base, multiple[FKEX_FIXED_ENTRIES - 1];
    const blst_p1 *ptrs[FKEX_FIXED_ENTRIES - 1];
    for (size_t j = 0; j < FKEX_FIXED_POINTS; j++) {
        if (j > 0)
            for (int d = 0; d < LIMB_BITS; d++)
                blst_p1_double(&bj, &bj);
        multiple[0] = bj;
        for (size_t d = 1; d < FKEX_FIXED_ENTRIES - 1; d++)
            blst_p1_add_or_double(&multiple[d], &multiple[d - 1], &bj);
        for (size_t d = 0; d < FKEX_FIXED_ENTRIES - 1; d++)
            ptrs[d] = &multiple[d];
        memset(&t->table[j][0], 0, sizeof t->table[j][0]);   /* the identity */
        blst_p1s_to_affine(&t->table[j][1], ptrs, FKEX_FIXED_ENTRIES - 1);
    }
}

void fkex_g2_fixed_init(fkex_g2_fixed *t, const fkex_g2 *base)
{
    fkex_g2 bj = *base, multiple[FKEX_FIXED_ENTRIES - 1];
    const blst_p2 *ptrs[FKEX_FIXED_ENTRIES - 1];
    for (size_t j = 0; j < FKEX_FIXED_POINTS; j++) {
        if (j > 0)
            for (int d = 0; d < LIMB_BITS; d++)
                blst_p2_double(&bj, &bj);
        multiple[0] = bj;
        for (size_t d = 1; d < FKEX_FIXED_ENTRIES - 1; d++)
            blst_p2_add_or_double(&multiple[d], &multiple[d - 1], &bj);
        for (size_t d = 0; d < FKEX_FIXED_ENTRIES - 1; d++)
            ptrs[d] = &multiple[d];
        memset(&t->table[j][0], 0, sizeof t->table[j][0]);
        blst_p2s_to_affine(&t->table[j][1], ptrs, FKEX_FIXED_ENTRIES - 1);
    }
}

void fkex_g1_fixed_mul(fkex_g1 *out, const fkex_g1_fixed *t, const fkex_fr *k)
{
    uint8_t le[32];
    blst_p1_affine pick;
    fkex_g1 acc;
    fkex_fr_to_scalar_le(le, k);
    memset(&acc, 0, sizeof acc);   /* Z = 0: the identity */
    for (int w = 256 / FKEX_FIXED_POINTS / WINDOW_BITS - 1; w >= 0; w--) {
        for (int d = 0; d < WINDOW_BITS; d++)
            blst_p1_double(&acc, &acc);
        for (size_t j = 0; j < FKEX_FIXED_POINTS; j++) {
            fkex_ct_select(&pick, t->table[j], sizeof pick, FKEX_FIXED_ENTRIES, window(le, j, w));
            blst_p1_add_or_double_affine(&acc, &acc, &pick);
        }
    }
    *out = acc;
    sodium_memzero(le, sizeof le);
    sodium_memzero(&pick, sizeof pick);
    sodium_memzero(&acc, sizeof acc);
}

void fkex_g2_fixed_mul(fkex_g2 *out, const fkex_g2_fixed *t, const fkex_fr *k)
{
    uint8_t le[32];
    blst_p2_affine pick;
    fkex_g2 acc;
    fkex_fr_to_scalar_le(le, k);
    memset(&acc, 0, sizeof acc);
    for (int w = 256 / FKEX_FIXED_POINTS / WINDOW_BITS - 1; w >= 0; w--) {
        for (int d = 0; d < WINDOW_BITS; d++)
            blst_p2_double(&acc, &acc);
        for (size_t j = 0; j < FKEX_FIXED_POINTS; j++) {
            fkex_ct_select(&pick, t->table[j], sizeof pick, FKEX_FIXED_ENTRIES, window(le, j, w));
            blst_p2_add_or_double_affine(&acc, &acc, &pick);
        }
    }
    *out = acc;
    sodium_memzero(le, sizeof le);
    sodium_memzero(&pick, sizeof pick);
    sodium_memzero(&acc, sizeof acc);
}
