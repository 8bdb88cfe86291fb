/*
 * pairing/g2.c: the group G2 of BLS12-381 (points over Fp2, 96-byte
 * compressed form).
 */
#include "pairing/pairing.h"

void fkex_g2_generator(fkex_g2 *out) { *out = *blst_p2_generator(); }

void fkex_g2_mul(fkex_g2 *out, const fkex_g2 *p, const fkex_fr *k)
{
    uint8_t le[32];
    fkex_fr_to_scalar_le(le, k);
    blst_p2_mult(out, p, le, 255);
    sodium_memzero(le, sizeof le);
}

int fkex_g2_equal(const fkex_g2 *a, const fkex_g2 *b) { return blst_p2_is_equal(a, b); }

void fkex_g2_to_bytes(uint8_t out[96], const fkex_g2 *a) { blst_p2_compress(out, a); }

fkex_err fkex_g2_from_bytes(fkex_g2 *out, const uint8_t in[96])
{
    blst_p2_affine aff;
    uint8_t again[96];
    fkex_err err = FKEX_OK;
    /* Uncompressing checks the curve equation and x < p, not the subgroup. */
    if (blst_p2_uncompress(&aff, in) != BLST_SUCCESS)
        err = FKEX_ERR_BAD_ENCODING;
    /* Canonical: the one encoding blst would write for this point. */
    if (err == FKEX_OK) {
        blst_p2_affine_compress(again, &aff);
        if (memcmp(again, in, sizeof again) != 0)
            err = FKEX_ERR_BAD_ENCODING;
    }
    if (err == FKEX_OK && (blst_p2_affine_is_inf(&aff) || !blst_p2_affine_in_g2(&aff)))
        err = FKEX_ERR_NOT_IN_GROUP;
    if (err == FKEX_OK)
        blst_p2_from_affine(out, &aff);
    /* Key parts are decoded here too. */
    sodium_memzero(&aff, sizeof aff);
    sodium_memzero(again, sizeof again);
    return err;
}

void fkex_g2_hash(fkex_g2 *out, const char *purpose, const uint8_t *msg, size_t len)
{
    uint8_t dst[255];
    size_t n = fkex_h2c_dst(dst, purpose, "-BLS12381G2_XMD:SHA-256_SSWU_RO_");
    blst_hash_to_g2(out, msg, len, dst, n, NULL, 0);
}
