/*
 * ibe/ct.c: the identity-based ciphertext object:
 *
 *   header (kind ciphertext, scheme bf01, the authority's fingerprint)
 *   | bytes16 identity (normalised) | U (G2, compressed) | V (32)
 *
 * Decoding is validation: a canonical header, a normalised identity, U
 * canonical, in G2 and not the identity, no trailing bytes. The structure
 * keeps the bytes, since the KEM key is bound to all of them.
 */
#include <stdlib.h>
#include "ibe/ibe.h"

void fkex_ibe_ct_serialize(fkex_ibe_ct *ct)
{
    uint8_t *p = ct->bytes;
    size_t body = 2 + ct->idlen + 96 + 32;
    memcpy(p, "FKEX", 4);
    p[4] = FKEX_FORMAT_VERSION;
    p[5] = FKEX_KIND_CIPHERTEXT;
    p[6] = FKEX_SCHEME_BF01;
    p[7] = FKEX_CURVE_BLS12_381;
    memcpy(p + 8, ct->fp, FKEX_FINGERPRINT_BYTES);
    store32_be(p + 40, (uint32_t)body);
    p += FKEX_HEADER_BYTES;
    store16_be(p, (uint16_t)ct->idlen);
    memcpy(p + 2, ct->id, ct->idlen);
    p += 2 + ct->idlen;
    blst_p2_affine_compress(p, &ct->u);
    memcpy(p + 96, ct->v, 32);
    ct->len = FKEX_HEADER_BYTES + body;
}

fkex_err fkex_ibe_ct_parse(fkex_ibe_ct *ct, const uint8_t *in, size_t len)
{
    fkex_header h;
    fkex_reader r;
    const uint8_t *id, *u;
    size_t idlen;
    fkex_g2 point;
    fkex_err err;

    memset(ct, 0, sizeof *ct);
    if (len < FKEX_HEADER_BYTES)
        return FKEX_ERR_TRUNCATED;
    if ((err = fkex_header_decode(&h, in)) != FKEX_OK)
        return err;
    if (h.kind != FKEX_KIND_CIPHERTEXT || h.scheme != FKEX_SCHEME_BF01)
        return FKEX_ERR_WRONG_KIND;
    if (len - FKEX_HEADER_BYTES < h.body_len)
        return FKEX_ERR_TRUNCATED;
    if (len - FKEX_HEADER_BYTES > h.body_len || len > FKEX_IBE_CT_MAX)
        return FKEX_ERR_BAD_ENCODING;
    fkex_reader_init(&r, in + FKEX_HEADER_BYTES, h.body_len);
    if (fkex_reader_bytes16(&r, &id, &idlen) != 0)
        return FKEX_ERR_TRUNCATED;
    if (!fkex_ibe_identity_canonical(id, idlen))
        return FKEX_ERR_BAD_ENCODING;
    if (fkex_reader_view(&r, &u, 96) != 0 || fkex_reader_get(&r, ct->v, 32) != 0)
        return FKEX_ERR_TRUNCATED;
    if ((err = fkex_reader_end(&r)) != FKEX_OK)
        return err;
    if ((err = fkex_g2_from_bytes(&point, u)) != FKEX_OK)
        return err;
    blst_p2_to_affine(&ct->u, &point);
    memcpy(ct->fp, h.fingerprint, FKEX_FINGERPRINT_BYTES);
    memcpy(ct->id, id, idlen);
    ct->id[idlen] = '\0';
    ct->idlen = idlen;
    memcpy(ct->bytes, in, len);
    ct->len = len;
    return FKEX_OK;
}

fkex_err fkex_ibe_ct_decode(fkex_ibe_ct **out, const uint8_t *in, size_t len)
{
    fkex_ibe_ct *ct = malloc(sizeof *ct);
    fkex_err err;
    *out = NULL;
    if (!ct)
        return FKEX_ERR_NO_MEMORY;
    if ((err = fkex_ibe_ct_parse(ct, in, len)) != FKEX_OK) {
        free(ct);
        return err;
    }
    *out = ct;
    return FKEX_OK;
}

void fkex_ibe_ct_bytes(const uint8_t **bytes, size_t *len, const fkex_ibe_ct *ct)
{
    *bytes = ct->bytes;
    *len = ct->len;
}

const char *fkex_ibe_ct_identity(const fkex_ibe_ct *ct) { return ct->id; }

void fkex_ibe_ct_fingerprint(uint8_t fp[FKEX_FINGERPRINT_BYTES], const fkex_ibe_ct *ct)
{
    memcpy(fp, ct->fp, FKEX_FINGERPRINT_BYTES);
}

void fkex_ibe_ct_free(fkex_ibe_ct *ct)
{
    free(ct);
}

fkex_err fkex_ibe_encap(uint8_t key[32], fkex_ibe_ct **out, const fkex_mpk *mpk,
                        const char *identity, fkex_rng *rng)
{
    const fkex_ibe_pub *pub = mpk->ibe;
    char id[FKEX_IBE_ID_MAX + 1];
    uint8_t fp[FKEX_FINGERPRINT_BYTES];
    fkex_ibe_ct *ct;
    fkex_err err;
    *out = NULL;
    if (!pub)
        return FKEX_ERR_UNSUPPORTED;
    if ((err = fkex_ibe_identity(id, identity, strlen(identity))) != FKEX_OK)
        return err;
    if (!(ct = malloc(sizeof *ct)))
        return FKEX_ERR_NO_MEMORY;
    fkex_mpk_fingerprint(fp, mpk);
    fkex_ibe_encap_to(key, ct, pub, fp, id, strlen(id), rng);
    *out = ct;
    return FKEX_OK;
}

fkex_err fkex_ibe_decap(uint8_t key[32], const fkex_key *sk, const fkex_ibe_ct *ct)
{
    const fkex_mpk *mpk = fkex_key_mpk(sk);
    const fkex_ibe_ukey *uk = sk->ibe;
    uint8_t fp[FKEX_FINGERPRINT_BYTES];
    fkex_mpk_fingerprint(fp, mpk);
    if (sodium_memcmp(fp, ct->fp, FKEX_FINGERPRINT_BYTES) != 0)
        return FKEX_ERR_WRONG_AUTHORITY;
    if (!uk)
        return FKEX_ERR_WRONG_IDENTITY;
    /* A key with an identity has IBE parameters: its decoder checks. */
    return fkex_ibe_decap_with(key, uk, mpk->ibe, fp, ct);
}
