/* tests/opcount.c: the wrappers behind tests/opcount.h. */
#include "test.h"
#include "opcount.h"

static opcount counts;

void opcount_reset(void) { memset(&counts, 0, sizeof counts); }
void opcount_read(opcount *out) { *out = counts; }

int opcount_equal(const opcount *a, const opcount *b)
{
    return a->miller_pairs == b->miller_pairs && a->final_exps == b->final_exps &&
           a->g1_mults == b->g1_mults && a->g2_mults == b->g2_mults &&
           a->g1_adds == b->g1_adds && a->g2_adds == b->g2_adds && a->g1_hashes == b->g1_hashes;
}

/* The linker's names for the wrapped functions (ld --wrap). */
void __real_blst_pairing_raw_aggregate(blst_pairing *ctx, const blst_p2_affine *q,
                                       const blst_p1_affine *p);
void __real_blst_final_exp(blst_fp12 *ret, const blst_fp12 *f);
void __real_blst_p1_mult(blst_p1 *out, const blst_p1 *p, const byte *scalar, size_t nbits);
void __real_blst_p2_mult(blst_p2 *out, const blst_p2 *p, const byte *scalar, size_t nbits);
void __real_blst_p1_add_or_double_affine(blst_p1 *out, const blst_p1 *a,
                                         const blst_p1_affine *b);
void __real_blst_p2_add_or_double_affine(blst_p2 *out, const blst_p2 *a,
                                         const blst_p2_affine *b);

void __real_blst_hash_to_g1(blst_p1 *out, const byte *msg, size_t msg_len, const byte *dst,
                            size_t dst_len, const byte *aug, size_t aug_len);

void __wrap_blst_pairing_raw_aggregate(blst_pairing *ctx, const blst_p2_affine *q,
                                       const blst_p1_affine *p);
void __wrap_blst_hash_to_g1(blst_p1 *out, const byte *msg, size_t msg_len, const byte *dst,
                            size_t dst_len, const byte *aug, size_t aug_len);
void __wrap_blst_final_exp(blst_fp12 *ret, const blst_fp12 *f);
void __wrap_blst_p1_mult(blst_p1 *out, const blst_p1 *p, const byte *scalar, size_t nbits);
void __wrap_blst_p2_mult(blst_p2 *out, const blst_p2 *p, const byte *scalar, size_t nbits);
void __wrap_blst_p1_add_or_double_affine(blst_p1 *out, const blst_p1 *a,
                                         const blst_p1_affine *b);
void __wrap_blst_p2_add_or_double_affine(blst_p2 *out, const blst_p2 *a,
                                         const blst_p2_affine *b);

void __wrap_blst_pairing_raw_aggregate(blst_pairing *ctx, const blst_p2_affine *q,
                                       const blst_p1_affine *p)
{
    counts.miller_pairs++;
    __real_blst_pairing_raw_aggregate(ctx, q, p);
}

void __wrap_blst_final_exp(blst_fp12 *ret, const blst_fp12 *f)
{
    counts.final_exps++;
    __real_blst_final_exp(ret, f);
}

void __wrap_blst_p1_mult(blst_p1 *out, const blst_p1 *p, const byte *scalar, size_t nbits)
{
    counts.g1_mults++;
    __real_blst_p1_mult(out, p, scalar, nbits);
}

void __wrap_blst_p2_mult(blst_p2 *out, const blst_p2 *p, const byte *scalar, size_t nbits)
{
    counts.g2_mults++;
    __real_blst_p2_mult(out, p, scalar, nbits);
}

void __wrap_blst_p1_add_or_double_affine(blst_p1 *out, const blst_p1 *a,
                                         const blst_p1_affine *b)
{
    counts.g1_adds++;
    __real_blst_p1_add_or_double_affine(out, a, b);
}

void __wrap_blst_p2_add_or_double_affine(blst_p2 *out, const blst_p2 *a,
                                         const blst_p2_affine *b)
{
    counts.g2_adds++;
    __real_blst_p2_add_or_double_affine(out, a, b);
}

void __wrap_blst_hash_to_g1(blst_p1 *out, const byte *msg, size_t msg_len, const byte *dst,
                            size_t dst_len, const byte *aug, size_t aug_len)
{
    counts.g1_hashes++;
    __real_blst_hash_to_g1(out, msg, msg_len, dst, dst_len, aug, aug_len);
}
