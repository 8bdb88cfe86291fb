/*
 * abe/points.c: the affine points of the schemes' bodies, compressed.
 *
 * Key parts pass through these helpers too, so their copies are wiped.
 * Reading validates as pairing/ does: canonical, on the curve, in the
 * prime-order subgroup, not the identity.
 */
#include "abe/abe.h"

void fkex_abe_put_g1(fkex_writer *w, const blst_p1_affine *p)
{
    uint8_t b[FKEX_G1_BYTES];
    blst_p1_affine_compress(b, p);
    fkex_writer_put(w, b, sizeof b);
    sodium_memzero(b, sizeof b);
}

void fkex_abe_put_g2(fkex_writer *w, const blst_p2_affine *p)
{
    uint8_t b[FKEX_G2_BYTES];
    blst_p2_affine_compress(b, p);
    fkex_writer_put(w, b, sizeof b);
    sodium_memzero(b, sizeof b);
}

fkex_err fkex_abe_get_g1(blst_p1_affine *out, fkex_reader *r)
{
    const uint8_t *b;
    fkex_g1 p;
    if (fkex_reader_view(r, &b, FKEX_G1_BYTES) != 0)
        return FKEX_ERR_TRUNCATED;
    fkex_err err = fkex_g1_from_bytes(&p, b);
    if (err == FKEX_OK)
        blst_p1_to_affine(out, &p);
    sodium_memzero(&p, sizeof p);
    return err;
}

fkex_err fkex_abe_get_g2(blst_p2_affine *out, fkex_reader *r)
{
    const uint8_t *b;
    fkex_g2 p;
    if (fkex_reader_view(r, &b, FKEX_G2_BYTES) != 0)
        return FKEX_ERR_TRUNCATED;
    fkex_err err = fkex_g2_from_bytes(&p, b);
    if (err == FKEX_OK)
        blst_p2_to_affine(out, &p);
    sodium_memzero(&p, sizeof p);
    return err;
}
