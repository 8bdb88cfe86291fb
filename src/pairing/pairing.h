/*
 * pairing/pairing.h: BLS12-381 over blst.
 *
 * G1, G2 (points, kept projective), GT (Fp12), Fr (scalars, Montgomery form)
 * and the randomness source. Everything here is pure computation: no I/O, no
 * clocks, no global state beyond tables computed once from constants.
 *
 * Decoding is validation: every point that comes from bytes is canonical,
 * on the curve, in its prime-order subgroup and not the identity; every GT
 * element is in the cyclotomic subgroup of order r.
 *
 * Costs (one core, see SCHEMES.md): G1 mul ~75 us, G2 mul ~150 us,
 * hash to G1 ~50 us, one full pairing ~0.57 ms.
 */
#ifndef FKEX_PAIRING_H
#define FKEX_PAIRING_H

#include <blst.h>
#include <blst_aux.h>
#include <sodium.h>
#include "codec/codec.h"
#include "fkex/rng.h"

typedef blst_fr   fkex_fr;
typedef blst_p1   fkex_g1;
typedef blst_p2   fkex_g2;
typedef blst_fp12 fkex_gt;

#define FKEX_FR_BYTES 32
#define FKEX_G1_BYTES 48
#define FKEX_G2_BYTES 96
#define FKEX_GT_BYTES 576

/* Randomness: fkex_rng, in include/fkex/rng.h. */

/* ---- Fr --------------------------------------------------------------- */
void fkex_fr_zero(fkex_fr *out);
void fkex_fr_one(fkex_fr *out);
void fkex_fr_from_u64(fkex_fr *out, uint64_t v);
/* Uniform in Fr: 64 random bytes reduced mod r (bias < 2^-128). */
void fkex_fr_random(fkex_fr *out, fkex_rng *rng);
void fkex_fr_add(fkex_fr *out, const fkex_fr *a, const fkex_fr *b);
void fkex_fr_sub(fkex_fr *out, const fkex_fr *a, const fkex_fr *b);
void fkex_fr_mul(fkex_fr *out, const fkex_fr *a, const fkex_fr *b);
void fkex_fr_neg(fkex_fr *out, const fkex_fr *a);
/* Inverse; the inverse of 0 is 0. */
void fkex_fr_inv(fkex_fr *out, const fkex_fr *a);
int fkex_fr_is_zero(const fkex_fr *a);
int fkex_fr_is_one(const fkex_fr *a);
int fkex_fr_equal(const fkex_fr *a, const fkex_fr *b);
/* Canonical big-endian bytes; decoding rejects values >= r. */
void fkex_fr_to_bytes(uint8_t out[32], const fkex_fr *a);
fkex_err fkex_fr_from_bytes(fkex_fr *out, const uint8_t in[32]) FKEX_WUR;
/* Little-endian scalar bytes as blst's multiplication routines take them. */
void fkex_fr_to_scalar_le(uint8_t out[32], const fkex_fr *a);

/* ---- G1 ----------------------------------------------------------------- */
void fkex_g1_generator(fkex_g1 *out);
void fkex_g1_add(fkex_g1 *out, const fkex_g1 *a, const fkex_g1 *b);
/* Constant time in the scalar. */
void fkex_g1_mul(fkex_g1 *out, const fkex_g1 *p, const fkex_fr *k);
int fkex_g1_equal(const fkex_g1 *a, const fkex_g1 *b);
void fkex_g1_to_bytes(uint8_t out[48], const fkex_g1 *a);
/* Canonical compressed form, on the curve, in G1, not the identity. */
fkex_err fkex_g1_from_bytes(fkex_g1 *out, const uint8_t in[48]) FKEX_WUR;
/* RFC 9380 hash_to_curve, BLS12381G1_XMD:SHA-256_SSWU_RO_, with an fkex
 * domain-separation tag naming the purpose (e.g. "ATTR"): distinct purposes
 * can never collide, whatever the message. */
void fkex_g1_hash(fkex_g1 *out, const char *purpose, const uint8_t *msg, size_t len);
/* The same of the message head || msg, without copying either. */
void fkex_g1_hash_two(fkex_g1 *out, const char *purpose, const uint8_t *head, size_t hlen,
                      const uint8_t *msg, size_t len);
/* The same into G2 (RFC 9380, BLS12381G2_XMD:SHA-256_SSWU_RO_). */
void fkex_g2_hash(fkex_g2 *out, const char *purpose, const uint8_t *msg, size_t len);
/* The domain separation tag of both: "FKEX-V1-" purpose suite, or, if
 * that is over 255 bytes, RFC 9380's H2C-OVERSIZE-DST- form. Its length. */
size_t fkex_h2c_dst(uint8_t dst[255], const char *purpose, const char *suite);

/* ---- G2 ----------------------------------------------------------------- */
void fkex_g2_generator(fkex_g2 *out);
void fkex_g2_mul(fkex_g2 *out, const fkex_g2 *p, const fkex_fr *k);
int fkex_g2_equal(const fkex_g2 *a, const fkex_g2 *b);
void fkex_g2_to_bytes(uint8_t out[96], const fkex_g2 *a);
fkex_err fkex_g2_from_bytes(fkex_g2 *out, const uint8_t in[96]) FKEX_WUR;

/* ---- fixed-base multiplication -------------------------------------------
 * A constant-time comb with signed digits (pairing/fixed.c): 16 sub-bases
 * 2^(16 j) B, each with a table of its multiples 0..32; 48 additions per
 * multiplication, for 50 KiB (G1) or 100 KiB (G2) of table. */
#define FKEX_FIXED_POINTS 16
#define FKEX_FIXED_ENTRIES 33
typedef struct { blst_p1_affine table[FKEX_FIXED_POINTS][FKEX_FIXED_ENTRIES]; } fkex_g1_fixed;
typedef struct { blst_p2_affine table[FKEX_FIXED_POINTS][FKEX_FIXED_ENTRIES]; } fkex_g2_fixed;

/* out = table[index] for a table of n entries of `limbs` limbs each (blst
 * points and field elements), reading every entry and combining it under a
 * mask that is all ones only for the wanted one: no address and no branch
 * depends on index. Inline, so that a constant `limbs` lets the compiler
 * vectorize the inner loop; this lookup is a fifth of a fixed-base
 * multiplication. */
static inline void fkex_ct_select(limb_t *restrict out, const limb_t *restrict table,
                                  size_t limbs, size_t n, size_t index)
{
    for (size_t w = 0; w < limbs; w++)
        out[w] = 0;
    for (size_t i = 0; i < n; i++, table += limbs) {
        limb_t diff = (limb_t)(i ^ index);
        limb_t mask = ((diff | (0 - diff)) >> (8 * sizeof(limb_t) - 1)) - 1;
        for (size_t w = 0; w < limbs; w++)
            out[w] |= table[w] & mask;
    }
}
#define FKEX_LIMBS(x) (sizeof(x) / sizeof(limb_t))

void fkex_g1_fixed_init(fkex_g1_fixed *t, const fkex_g1 *base);
void fkex_g1_fixed_mul(fkex_g1 *out, const fkex_g1_fixed *t, const fkex_fr *k);
void fkex_g2_fixed_init(fkex_g2_fixed *t, const fkex_g2 *base);
void fkex_g2_fixed_mul(fkex_g2 *out, const fkex_g2_fixed *t, const fkex_fr *k);

/* ---- GT and pairings ----------------------------------------------------- */
void fkex_gt_one(fkex_gt *out);
void fkex_gt_mul(fkex_gt *out, const fkex_gt *a, const fkex_gt *b);
int fkex_gt_equal(const fkex_gt *a, const fkex_gt *b);
/* a^k by cyclotomic squaring with a fixed 4-bit window and a constant-time
 * table scan: the same sequence of operations for every k. a must be in GT.
 * ~256 squarings and 64 multiplications. */
void fkex_gt_pow(fkex_gt *out, const fkex_gt *a, const fkex_fr *k);

/* Fixed base: the same comb as G1/G2. With a_j = a^(2^(32 j)) and k_j the
 * 32-bit limbs of k, a^k = prod_j a_j^k_j: 32 shared squarings and 64
 * multiplications by entries picked in constant time from 16-entry tables
 * (73 KiB in all). */
typedef struct { fkex_gt power[8][16]; } fkex_gt_fixed;
void fkex_gt_fixed_init(fkex_gt_fixed *t, const fkex_gt *a);
void fkex_gt_fixed_pow(fkex_gt *out, const fkex_gt_fixed *t, const fkex_fr *k);

/* ---- fixed bases whose comb is built once it pays (pairing/base.c) ------
 * The first multiplications by the base are plain (constant time); at the
 * one from which the comb would have paid for itself, the comb is built
 * (on the heap) and used from then on. The path depends on how many
 * multiplications came before, never on a scalar. One thread at a time;
 * _clear frees the comb (the struct may be initialised again). */
typedef struct { fkex_g1 base; fkex_g1_fixed *comb; unsigned uses; } fkex_g1_base;
typedef struct { fkex_g2 base; fkex_g2_fixed *comb; unsigned uses; } fkex_g2_base;
typedef struct { fkex_gt base; fkex_gt_fixed *comb; unsigned uses; } fkex_gt_base;
void fkex_g1_base_init(fkex_g1_base *b, const fkex_g1 *p);
void fkex_g1_base_mul(fkex_g1 *out, fkex_g1_base *b, const fkex_fr *k);
void fkex_g1_base_clear(fkex_g1_base *b);
void fkex_g2_base_init(fkex_g2_base *b, const fkex_g2 *p);
void fkex_g2_base_mul(fkex_g2 *out, fkex_g2_base *b, const fkex_fr *k);
void fkex_g2_base_clear(fkex_g2_base *b);
/* a must be in GT (fkex_gt_pow's rule). */
void fkex_gt_base_init(fkex_gt_base *b, const fkex_gt *a);
void fkex_gt_base_pow(fkex_gt *out, fkex_gt_base *b, const fkex_fr *k);
void fkex_gt_base_clear(fkex_gt_base *b);
void fkex_gt_to_bytes(uint8_t out[576], const fkex_gt *a);
/* Canonical (every coordinate < p) and in the order-r subgroup. */
fkex_err fkex_gt_from_bytes(fkex_gt *out, const uint8_t in[576]) FKEX_WUR;

/* e(P, Q): one Miller loop and one final exponentiation. */
void fkex_pairing(fkex_gt *out, const fkex_g1 *p, const fkex_g2 *q);

/* A fixed G2 point with its Miller-loop lines precomputed (68 line
 * coefficients, 19.5 KiB; blst_precompute_lines): each pairing with it
 * then skips the G2 doublings and additions, which are most of a Miller
 * loop. The point is affine and already validated. */
typedef struct {
    blst_p2_affine q;
    blst_fp6 lines[68];
} fkex_g2_lines;

void fkex_g2_lines_init(fkex_g2_lines *t, const fkex_g2 *q);
/* e(P, Q) for the precomputed Q: the Miller loop over the lines and one
 * final exponentiation. P must not be the identity, which blst's loop
 * does not special-case (no branch on P, so P may be secret). */
void fkex_pairing_lines(fkex_gt *out, const fkex_g1 *p, const fkex_g2_lines *t);

/* prod_i e(P_i, Q_i) as one multi-Miller loop (blst_pairing_raw_aggregate
 * shares the squarings of eight pairs at a time) and ONE final
 * exponentiation. Points are affine and already validated; a pair with the
 * identity contributes 1. The context lives in the struct: no allocation. */
#define FKEX_PAIRING_CTX_BYTES 8192   /* >= blst_pairing_sizeof(), tested */
typedef struct {
    _Alignas(64) uint8_t ctx[FKEX_PAIRING_CTX_BYTES];
    size_t used;
} fkex_multi_pairing;

void fkex_multi_pairing_init(fkex_multi_pairing *m);
void fkex_multi_pairing_add(fkex_multi_pairing *m, const blst_p1_affine *p,
                            const blst_p2_affine *q);
/* Writes the product and wipes the context. */
void fkex_multi_pairing_finish(fkex_gt *out, fkex_multi_pairing *m);

#endif
