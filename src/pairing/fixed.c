/*
 * pairing/fixed.c: fixed-base multiplication by a comb, constant time.
 *
 * The base B is split into B_j = 2^(16 j) B for j = 0..15 and the scalar
 * into sixteen 16-bit limbs k_j, so that k B = sum_j k_j B_j. Each limb is
 * recoded into three signed 6-bit digits (Booth: d_i in [-32, 32], with
 * k_j = sum_i d_i 2^(6 i); the top digit is never negative because bits 16
 * and 17 are zero), most significant first:
 *
 *   acc = O
 *   for i = 2..0:  acc = 64 acc;  for each j: acc += sign(d_i) T_j[|d_i|]
 *
 * with T_j[d] = d B_j for d = 0..32 (T_j[0] = O). That is 48 additions and
 * 12 useful doublings where a plain multiplication needs ~128 doublings
 * (GLV). Every table entry is read for every lookup (fkex_ct_select), the
 * sign is applied with a conditional negation, and the additions are blst's
 * affine-projective formula, which handles the identity on either side with
 * masks: the operations and addresses are the same for every scalar.
 *
 * That formula is not doubling-safe: it is wrong when acc = +-T_j[|d|]
 * with both not the identity. acc is then sum of digits times powers of
 * 2^6 and 2^16, and |d| 2^(16 j) has no other such representation, so
 * this needs the sum to wrap modulo r onto it: a negligible set of scalars,
 * never met by random coins (the tests try edge scalars against the
 * generic multiplication). The doubling-safe formula costs ~30% more.
 * (blst_p1s_mult_wbits is similar, but its gather and its batched additions
 * depend on the scalar, so it is not used for secrets.) tests/ctgrind
 * checks this under valgrind.
 */
#include "pairing/pairing.h"

#define LIMB_BITS 16
#define WINDOW_BITS 6
#define WINDOWS 3       /* ceil((LIMB_BITS + 1) / WINDOW_BITS) */

/* Booth digit i of limb j: bits 6i-1 .. 6i+5 give u = (bits 6i .. 6i+4)
 * + bit 6i-1 + 32 bit(6i+5), and d = u - 64 bit(6i+5). Returns |d| and
 * sets *negative, without a branch. */
static unsigned digit(const uint8_t le[32], size_t j, int i, unsigned *negative)
{
    unsigned limb = (unsigned)le[2 * j] | ((unsigned)le[2 * j + 1] << 8);
    unsigned v = ((limb << 1) >> (WINDOW_BITS * i)) & 0x7f;   /* 7 bits */
    unsigned top = v >> 6;
    unsigned u = (v + 1) >> 1;
    unsigned mask = 0u - top;
    *negative = top;
    return (u & ~mask) | ((64 - u) & mask);
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
    for (int i = WINDOWS - 1; i >= 0; i--) {
        for (int d = 0; d < WINDOW_BITS; d++)
            blst_p1_double(&acc, &acc);
        for (size_t j = 0; j < FKEX_FIXED_POINTS; j++) {
            unsigned negative, abs = digit(le, j, i, &negative);
            fkex_ct_select(pick.x.l, t->table[j][0].x.l, FKEX_LIMBS(pick), FKEX_FIXED_ENTRIES, abs);
            blst_fp_cneg(&pick.y, &pick.y, negative);
            blst_p1_add_affine(&acc, &acc, &pick);
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
    for (int i = WINDOWS - 1; i >= 0; i--) {
        for (int d = 0; d < WINDOW_BITS; d++)
            blst_p2_double(&acc, &acc);
        for (size_t j = 0; j < FKEX_FIXED_POINTS; j++) {
            unsigned negative, abs = digit(le, j, i, &negative);
            fkex_ct_select(pick.x.fp[0].l, t->table[j][0].x.fp[0].l, FKEX_LIMBS(pick),
                           FKEX_FIXED_ENTRIES, abs);
            blst_fp2_cneg(&pick.y, &pick.y, negative);
            blst_p2_add_affine(&acc, &acc, &pick);
        }
    }
    *out = acc;
    sodium_memzero(le, sizeof le);
    sodium_memzero(&pick, sizeof pick);
    sodium_memzero(&acc, sizeof acc);
}
