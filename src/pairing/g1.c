/*
 * pairing/g1.c: the group G1 of BLS12-381 (points over Fp, 48-byte
 * compressed form), and RFC 9380 hashing into it.
 */
#include "inner.h"

void fkex_g1_generator(fkex_g1 *out) { *out = *blst_p1_generator(); }
void fkex_g1_add(fkex_g1 *out, const fkex_g1 *a, const fkex_g1 *b) { blst_p1_add_or_double(out, a, b); }

void fkex_g1_neg(fkex_g1 *out, const fkex_g1 *a)
{
    *out = *a;
    blst_p1_cneg(out, 1);
}

/* blst_p1_mult is constant time for 255-bit scalars (GLV with fixed windows). */
void fkex_g1_mul(fkex_g1 *out, const fkex_g1 *p, const fkex_fr *k)
{
    uint8_t le[32];
    fkex_fr_to_scalar_le(le, k);
    blst_p1_mult(out, p, le, 255);
    sodium_memzero(le, sizeof le);
}

int fkex_g1_equal(const fkex_g1 *a, const fkex_g1 *b) { return blst_p1_is_equal(a, b); }
int fkex_g1_is_identity(const fkex_g1 *a) { return blst_p1_is_inf(a); }

void fkex_g1_to_bytes(uint8_t out[48], const fkex_g1 *a) { blst_p1_compress(out, a); }

fkex_err fkex_g1_from_bytes(fkex_g1 *out, const uint8_t in[48])
{
    blst_p1_affine aff;
    uint8_t again[48];
    if (blst_p1_uncompress(&aff, in) != BLST_SUCCESS)
        return FKEX_ERR_BAD_ENCODING;
    /* Canonical: the one encoding blst would write for this point. */
    blst_p1_affine_compress(again, &aff);
    if (memcmp(again, in, 48) != 0)
        return FKEX_ERR_BAD_ENCODING;
    if (blst_p1_affine_is_inf(&aff))
        return FKEX_ERR_NOT_IN_GROUP;
    /* Uncompressing checks the curve equation, not the subgroup. */
    if (!blst_p1_affine_in_g1(&aff))
        return FKEX_ERR_NOT_IN_GROUP;
    blst_p1_from_affine(out, &aff);
    return FKEX_OK;
}

/* DST = "FKEX-V1-<PURPOSE>-BLS12381G1_XMD:SHA-256_SSWU_RO_" (RFC 9380 §3.1):
 * the purpose is part of the tag, so an attribute string can never hash to
 * the same point as an internal constant, whatever its bytes. */
void fkex_g1_hash(fkex_g1 *out, const char *purpose, const uint8_t *msg, size_t len)
{
    char dst[96];
    size_t plen = strlen(purpose);
    static const char prefix[] = "FKEX-V1-";
    static const char suffix[] = "-BLS12381G1_XMD:SHA-256_SSWU_RO_";
    if (plen > sizeof dst - sizeof prefix - sizeof suffix)
        plen = sizeof dst - sizeof prefix - sizeof suffix;
    size_t n = 0;
    memcpy(dst, prefix, sizeof prefix - 1);
    n += sizeof prefix - 1;
    memcpy(dst + n, purpose, plen);
    n += plen;
    memcpy(dst + n, suffix, sizeof suffix - 1);
    n += sizeof suffix - 1;
    blst_hash_to_g1(out, msg, len, (const uint8_t *)dst, n, NULL, 0);
}
