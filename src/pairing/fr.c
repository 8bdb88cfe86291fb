/*
 * pairing/fr.c: the scalar field Fr of BLS12-381 (r ~ 2^255), over blst.
 * Values are kept in blst's Montgomery form; bytes are canonical big-endian.
 */
#include "pairing/pairing.h"

void fkex_fr_zero(fkex_fr *out) { memset(out, 0, sizeof *out); }

void fkex_fr_from_u64(fkex_fr *out, uint64_t v)
{
    const uint64_t limbs[4] = { v, 0, 0, 0 };
    blst_fr_from_uint64(out, limbs);
}

void fkex_fr_one(fkex_fr *out) { fkex_fr_from_u64(out, 1); }

void fkex_fr_random(fkex_fr *out, fkex_rng *rng)
{
    uint8_t wide[64];
    blst_scalar s;
    fkex_rng_fill(rng, wide, sizeof wide);
    /* blst reduces inputs longer than 32 bytes modulo r. */
    (void)blst_scalar_from_le_bytes(&s, wide, sizeof wide);
    blst_fr_from_scalar(out, &s);
    sodium_memzero(wide, sizeof wide);
    sodium_memzero(&s, sizeof s);
}

void fkex_fr_add(fkex_fr *out, const fkex_fr *a, const fkex_fr *b) { blst_fr_add(out, a, b); }
void fkex_fr_sub(fkex_fr *out, const fkex_fr *a, const fkex_fr *b) { blst_fr_sub(out, a, b); }
void fkex_fr_mul(fkex_fr *out, const fkex_fr *a, const fkex_fr *b) { blst_fr_mul(out, a, b); }
void fkex_fr_neg(fkex_fr *out, const fkex_fr *a) { blst_fr_cneg(out, a, 1); }
void fkex_fr_inv(fkex_fr *out, const fkex_fr *a) { blst_fr_inverse(out, a); }

int fkex_fr_equal(const fkex_fr *a, const fkex_fr *b)
{
    return sodium_memcmp(a, b, sizeof *a) == 0;
}

int fkex_fr_is_zero(const fkex_fr *a)
{
    return sodium_is_zero((const unsigned char *)a, sizeof *a);
}

int fkex_fr_is_one(const fkex_fr *a)
{
    fkex_fr one;
    fkex_fr_one(&one);
    return fkex_fr_equal(a, &one);
}

void fkex_fr_to_bytes(uint8_t out[32], const fkex_fr *a)
{
    blst_scalar s;
    blst_scalar_from_fr(&s, a);
    blst_bendian_from_scalar(out, &s);
    sodium_memzero(&s, sizeof s);
}

fkex_err fkex_fr_from_bytes(fkex_fr *out, const uint8_t in[32])
{
    blst_scalar s;
    blst_scalar_from_bendian(&s, in);
    int ok = blst_scalar_fr_check(&s);   /* rejects values >= r */
    if (ok)
        blst_fr_from_scalar(out, &s);
    sodium_memzero(&s, sizeof s);
    return ok ? FKEX_OK : FKEX_ERR_BAD_ENCODING;
}

void fkex_fr_to_scalar_le(uint8_t out[32], const fkex_fr *a)
{
    blst_scalar s;
    blst_scalar_from_fr(&s, a);
    blst_lendian_from_scalar(out, &s);
    sodium_memzero(&s, sizeof s);
}
