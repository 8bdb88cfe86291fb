/*
 * authority/ibe_keys.c: Boneh-Franklin's part of the authority's objects.
 *
 * Each object body ends, when it has one, with an IBE section (authority.c
 * writes the objects; FORMATS.md has the layouts):
 *   public parameters  u8 1 | P_pub (G2)
 *   master key         u8 1 | s (scalar)
 *   user key           u8 1 | bytes16 identity | d_ID (G1) | d2_ID (G2; absent in
 *                      keys made before conversation ids were private)
 * Objects made before IBE existed have no section and still decode.
 */
#include <stdlib.h>
#include "authority/authority.h"

void fkex_ibe_hash_id(fkex_g1 *q, const char *id, size_t len)
{
    fkex_g1_hash(q, FKEX_IBE_ID_HASH, (const uint8_t *)id, len);   /* Q_ID = H1(ID) */
}

void fkex_ibe_hash_id2(fkex_g2 *q, const char *id, size_t len)
{
    fkex_g2_hash(q, FKEX_IBE_ID2_HASH, (const uint8_t *)id, len);
}

fkex_err fkex_ibe_pub_from_ppub(fkex_ibe_pub *pub, const fkex_g2 *ppub)
{
    fkex_g2 g2;
    if (!(pub->g2 = malloc(sizeof *pub->g2)))
        return FKEX_ERR_NO_MEMORY;
    fkex_g2_lines_init(&pub->ppub, ppub);
    fkex_g2_generator(&g2);
    fkex_g2_base_init(pub->g2, &g2);
    return FKEX_OK;
}

fkex_err fkex_ibe_pub_from_master(fkex_ibe_pub *pub, const fkex_ibe_master *m)
{
    fkex_g2 g2, ppub;
    fkex_g2_generator(&g2);
    fkex_g2_mul(&ppub, &g2, &m->s);                     /* P_pub = sP */
    return fkex_ibe_pub_from_ppub(pub, &ppub);
}

void fkex_ibe_pub_clear(fkex_ibe_pub *pub)
{
    if (pub->g2) {
        fkex_g2_base_clear(pub->g2);
        free(pub->g2);
        pub->g2 = NULL;
    }
}

void fkex_ibe_pub_encode(fkex_writer *w, const fkex_ibe_pub *pub)
{
    uint8_t b[96];
    blst_p2_affine_compress(b, &pub->ppub.q);
    fkex_writer_u8(w, FKEX_IBE_SECTION);
    fkex_writer_put(w, b, sizeof b);
}

fkex_err fkex_ibe_pub_decode(fkex_ibe_pub *pub, fkex_reader *r)
{
    const uint8_t *b;
    fkex_g2 ppub;
    fkex_err err;
    if (fkex_reader_view(r, &b, 96) != 0)
        return FKEX_ERR_TRUNCATED;
    if ((err = fkex_g2_from_bytes(&ppub, b)) != FKEX_OK)   /* not O: s = 0 is refused */
        return err;
    return fkex_ibe_pub_from_ppub(pub, &ppub);
}

void fkex_ibe_master_encode(fkex_writer *w, const fkex_ibe_master *m)
{
    uint8_t b[32];
    fkex_fr_to_bytes(b, &m->s);
    fkex_writer_u8(w, FKEX_IBE_SECTION);
    fkex_writer_put(w, b, sizeof b);
    sodium_memzero(b, sizeof b);
}

fkex_err fkex_ibe_master_decode(fkex_ibe_master *m, fkex_reader *r)
{
    const uint8_t *b;
    if (fkex_reader_view(r, &b, 32) != 0)
        return FKEX_ERR_TRUNCATED;
    if (fkex_fr_from_bytes(&m->s, b) != FKEX_OK || fkex_fr_is_zero(&m->s))
        return FKEX_ERR_BAD_ENCODING;
    return FKEX_OK;
}

void fkex_ibe_ukey_encode(fkex_writer *w, const fkex_ibe_ukey *uk)
{
    uint8_t b[96];
    blst_p1_affine_compress(b, &uk->d);
    fkex_writer_u8(w, FKEX_IBE_SECTION);
    fkex_writer_bytes16(w, uk->id, uk->idlen);
    fkex_writer_put(w, b, 48);
    if (uk->has_d2) {
        blst_p2_affine_compress(b, &uk->d2);
        fkex_writer_put(w, b, 96);
    }
    sodium_memzero(b, sizeof b);
}

fkex_err fkex_ibe_ukey_decode(fkex_ibe_ukey *uk, fkex_reader *r)
{
    const uint8_t *id, *b;
    size_t idlen;
    fkex_g1 d;
    fkex_err err;
    if (fkex_reader_bytes16(r, &id, &idlen) != 0)
        return FKEX_ERR_TRUNCATED;
    if (!fkex_ibe_identity_canonical(id, idlen))
        return FKEX_ERR_BAD_ENCODING;
    if (fkex_reader_view(r, &b, 48) != 0)
        return FKEX_ERR_TRUNCATED;
    if ((err = fkex_g1_from_bytes(&d, b)) != FKEX_OK)
        return err;
    blst_p1_to_affine(&uk->d, &d);
    sodium_memzero(&d, sizeof d);
    /* d2, the section's last field, if the key has it: the key ends here
     * or after exactly 96 more bytes (the caller refuses anything else). */
    uk->has_d2 = r->len - r->off == 96;
    if (uk->has_d2) {
        fkex_g2 d2;
        if (fkex_reader_view(r, &b, 96) != 0)
            return FKEX_ERR_TRUNCATED;
        if ((err = fkex_g2_from_bytes(&d2, b)) != FKEX_OK)
            return err;
        blst_p2_to_affine(&uk->d2, &d2);
        sodium_memzero(&d2, sizeof d2);
    }
    memcpy(uk->id, id, idlen);
    uk->id[idlen] = '\0';
    uk->idlen = idlen;
    return FKEX_OK;
}

int fkex_ibe_ukey_matches(const fkex_ibe_ukey *uk, const fkex_ibe_pub *pub)
{
    fkex_g1 d, q;
    fkex_g2 g2, q2;
    fkex_gt lhs, rhs;
    blst_p1_affine qa;
    blst_p2_affine q2a;
    blst_p1_from_affine(&d, &uk->d);
    fkex_g2_generator(&g2);
    fkex_pairing(&lhs, &d, &g2);                        /* e(d_ID, g2) */
    fkex_ibe_hash_id(&q, uk->id, uk->idlen);
    fkex_pairing_lines(&rhs, &q, &pub->ppub);           /* e(H1(ID), P_pub) */
    int same = fkex_gt_equal(&lhs, &rhs);
    if (uk->has_d2) {   /* e(d_ID, H2(ID)) e(-H1(ID), d2_ID) = 1 */
        fkex_multi_pairing m;
        fkex_ibe_hash_id2(&q2, uk->id, uk->idlen);
        blst_p2_to_affine(&q2a, &q2);
        blst_p1_cneg(&q, 1);
        blst_p1_to_affine(&qa, &q);
        fkex_multi_pairing_init(&m);
        fkex_multi_pairing_add(&m, &uk->d, &q2a);
        fkex_multi_pairing_add(&m, &qa, &uk->d2);
        fkex_multi_pairing_finish(&lhs, &m);
        fkex_gt_one(&rhs);
        same &= fkex_gt_equal(&lhs, &rhs);
    }
    sodium_memzero(&d, sizeof d);
    sodium_memzero(&lhs, sizeof lhs);
    sodium_memzero(&rhs, sizeof rhs);
    return same;
}
