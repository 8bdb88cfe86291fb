/*
 * pairing/g1.c: the group G1 of BLS12-381 (points over Fp, 48-byte
 * compressed form), and RFC 9380 hashing into it.
 */
#include "pairing/pairing.h"

void fkex_g1_generator(fkex_g1 *out) { *out = *blst_p1_generator(); }
void fkex_g1_add(fkex_g1 *out, const fkex_g1 *a, const fkex_g1 *b) { blst_p1_add_or_double(out, a, b); }

/* blst_p1_mult is constant time for 255-bit scalars (GLV with fixed windows). */
void fkex_g1_mul(fkex_g1 *out, const fkex_g1 *p, const fkex_fr *k)
{
    uint8_t le[32];
    fkex_fr_to_scalar_le(le, k);
    blst_p1_mult(out, p, le, 255);
    sodium_memzero(le, sizeof le);
}

int fkex_g1_equal(const fkex_g1 *a, const fkex_g1 *b) { return blst_p1_is_equal(a, b); }

void fkex_g1_to_bytes(uint8_t out[48], const fkex_g1 *a) { blst_p1_compress(out, a); }

fkex_err fkex_g1_from_bytes(fkex_g1 *out, const uint8_t in[48])
{
    blst_p1_affine aff;
    uint8_t again[48];
    fkex_err err = FKEX_OK;
    /* Uncompressing checks the curve equation and x < p, not the subgroup. */
    if (blst_p1_uncompress(&aff, in) != BLST_SUCCESS)
        err = FKEX_ERR_BAD_ENCODING;
    /* Canonical: the one encoding blst would write for this point. */
    if (err == FKEX_OK) {
        blst_p1_affine_compress(again, &aff);
        if (memcmp(again, in, sizeof again) != 0)
            err = FKEX_ERR_BAD_ENCODING;
    }
    if (err == FKEX_OK && (blst_p1_affine_is_inf(&aff) || !blst_p1_affine_in_g1(&aff)))
        err = FKEX_ERR_NOT_IN_GROUP;
    if (err == FKEX_OK)
        blst_p1_from_affine(out, &aff);
    /* Key parts are decoded here too. */
    sodium_memzero(&aff, sizeof aff);
    sodium_memzero(again, sizeof again);
    return err;
}

/* DST = "FKEX-V1-<PURPOSE>-BLS12381G1_XMD:SHA-256_SSWU_RO_" (RFC 9380 §3.1):
 * the purpose is part of the tag, so an attribute string can never hash to
 * the same point as an internal constant, whatever its bytes. A tag longer
 * than 255 bytes is replaced as RFC 9380 §5.3.3 says:
 * "H2C-OVERSIZE-DST-" || SHA-256(tag). */
size_t fkex_h2c_dst(uint8_t dst[255], const char *purpose, const char *suite)
{
    static const char prefix[] = "FKEX-V1-";
    static const char oversize[] = "H2C-OVERSIZE-DST-";
    size_t plen = strlen(purpose), slen = strlen(suite), n = 0;
    if (sizeof prefix - 1 + plen + slen <= 255) {
        memcpy(dst, prefix, sizeof prefix - 1);
        n += sizeof prefix - 1;
        memcpy(dst + n, purpose, plen);
        n += plen;
        memcpy(dst + n, suite, slen);
        return n + slen;
    }
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)prefix, sizeof prefix - 1);
    crypto_hash_sha256_update(&st, (const uint8_t *)purpose, plen);
    crypto_hash_sha256_update(&st, (const uint8_t *)suite, slen);
    memcpy(dst, oversize, sizeof oversize - 1);
    crypto_hash_sha256_final(&st, dst + sizeof oversize - 1);
    return sizeof oversize - 1 + crypto_hash_sha256_BYTES;
}

void fkex_g1_hash(fkex_g1 *out, const char *purpose, const uint8_t *msg, size_t len)
{
    fkex_g1_hash_two(out, purpose, NULL, 0, msg, len);
}

/* blst hashes aug || msg: the head rides as blst's aug. */
void fkex_g1_hash_two(fkex_g1 *out, const char *purpose, const uint8_t *head, size_t hlen,
                      const uint8_t *msg, size_t len)
{
    uint8_t dst[255];
    size_t n = fkex_h2c_dst(dst, purpose, "-BLS12381G1_XMD:SHA-256_SSWU_RO_");
    blst_hash_to_g1(out, msg, len, dst, n, head, hlen);
}
