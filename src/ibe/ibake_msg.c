/*
 * ibe/ibake_msg.c: IBAKE's messages on the wire (layouts in ibe/ibake.h
 * and docs/FORMATS.md), and the hybrid IBE(ID; payload) they carry.
 * Decoders accept one encoding per message: known type and version,
 * normalised identities, canonical X25519 shares, no trailing bytes.
 */
#include "ibe/ibe.h"

size_t fkex_ibake_shares(uint8_t type)
{
    return type == 2 ? 2 : type == 1 || type == 3 ? 1 : 0;
}

fkex_err fkex_ibake_msg_decode(fkex_ibake_msg *m, const uint8_t *in, size_t len)
{
    fkex_reader r;
    uint8_t version;
    memset(m, 0, sizeof *m);
    fkex_reader_init(&r, in, len);
    if (fkex_reader_u8(&r, &m->type) != 0 || fkex_reader_u8(&r, &version) != 0)
        return FKEX_ERR_TRUNCATED;
    if (fkex_ibake_shares(m->type) == 0 || version != FKEX_IBAKE_VERSION)
        return FKEX_ERR_UNSUPPORTED;
    if (fkex_reader_bytes16(&r, &m->ct, &m->ctlen) != 0)
        return FKEX_ERR_TRUNCATED;
    m->aadlen = r.off;
    if (fkex_reader_bytes16(&r, &m->sealed, &m->sealedlen) != 0)
        return FKEX_ERR_TRUNCATED;
    if (m->ctlen > FKEX_IBE_CT_MAX || m->sealedlen > FKEX_IBAKE_PAYLOAD_MAX + 16 ||
        m->sealedlen < 16)
        return FKEX_ERR_BAD_ENCODING;
    return fkex_reader_end(&r);
}

size_t fkex_ibake_msg_head(uint8_t out[FKEX_IBAKE_MSG_MAX], uint8_t type, const uint8_t *ct,
                           size_t ctlen)
{
    out[0] = type;
    out[1] = FKEX_IBAKE_VERSION;
    store16_be(out + 2, (uint16_t)ctlen);
    memcpy(out + 4, ct, ctlen);
    return 4 + ctlen;
}

/* A canonical X25519 u-coordinate: below p = 2^255 - 19, so the top bit
 * is clear and the value is not in [p, 2^255). */
static int x25519_canonical(const uint8_t u[32])
{
    if (u[31] & 0x80)
        return 0;
    if (u[31] != 0x7f || u[0] < 0xed)
        return 1;
    for (int i = 1; i < 31; i++)
        if (u[i] != 0xff)
            return 1;
    return 0;
}

static fkex_err get_id(char out[FKEX_IBE_ID_MAX + 1], size_t *outlen, fkex_reader *r)
{
    const uint8_t *id;
    size_t len;
    if (fkex_reader_bytes16(r, &id, &len) != 0)
        return FKEX_ERR_TRUNCATED;
    if (!fkex_ibe_identity_canonical(id, len))
        return FKEX_ERR_BAD_ENCODING;
    memcpy(out, id, len);
    out[len] = '\0';
    *outlen = len;
    return FKEX_OK;
}

fkex_err fkex_ibake_payload_decode(fkex_ibake_payload *p, uint8_t type, const uint8_t *in,
                                   size_t len)
{
    size_t n = fkex_ibake_shares(type);
    fkex_reader r;
    fkex_err err;
    memset(p, 0, sizeof *p);
    if (n == 0)
        return FKEX_ERR_UNSUPPORTED;
    fkex_reader_init(&r, in, len);
    if ((err = get_id(p->sender, &p->sender_len, &r)) != FKEX_OK ||
        (err = get_id(p->recipient, &p->recipient_len, &r)) != FKEX_OK)
        return err;
    for (size_t i = 0; i < n; i++) {
        if (fkex_reader_get(&r, p->share[i], 32) != 0)
            return FKEX_ERR_TRUNCATED;
        if (!x25519_canonical(p->share[i]))
            return FKEX_ERR_BAD_ENCODING;
    }
    return fkex_reader_end(&r);
}

size_t fkex_ibake_payload_encode(uint8_t out[FKEX_IBAKE_PAYLOAD_MAX], uint8_t type,
                                 const fkex_ibake_payload *p)
{
    size_t o = 0;
    store16_be(out, (uint16_t)p->sender_len);
    memcpy(out + 2, p->sender, p->sender_len);
    o = 2 + p->sender_len;
    store16_be(out + o, (uint16_t)p->recipient_len);
    memcpy(out + o + 2, p->recipient, p->recipient_len);
    o += 2 + p->recipient_len;
    for (size_t i = 0; i < fkex_ibake_shares(type); i++, o += 32)
        memcpy(out + o, p->share[i], 32);
    return o;
}

static const uint8_t zero_nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

fkex_err fkex_ibake_seal(uint8_t out[FKEX_IBAKE_MSG_MAX], size_t *outlen, uint8_t type,
                         const fkex_mpk *mpk, const fkex_ibake_payload *p, fkex_rng *rng)
{
    const fkex_ibe_pub *pub = mpk->ibe;
    uint8_t fp[FKEX_FINGERPRINT_BYTES], k[32], pt[FKEX_IBAKE_PAYLOAD_MAX];
    fkex_ibe_ct ct;
    unsigned long long sealed;
    size_t head, ptlen;
    *outlen = 0;
    if (!pub)
        return FKEX_ERR_UNSUPPORTED;
    if (fkex_ibake_shares(type) == 0)
        return FKEX_ERR_ARGUMENT;
    fkex_mpk_fingerprint(fp, mpk);
    fkex_ibe_encap_to(k, &ct, pub, fp, p->recipient, p->recipient_len, rng);
    head = fkex_ibake_msg_head(out, type, ct.bytes, ct.len);
    ptlen = fkex_ibake_payload_encode(pt, type, p);
    store16_be(out + head, (uint16_t)(ptlen + 16));
    crypto_aead_chacha20poly1305_ietf_encrypt(out + head + 2, &sealed, pt, ptlen, out, head,
                                              NULL, zero_nonce, k);
    *outlen = head + 2 + (size_t)sealed;
    sodium_memzero(k, sizeof k);
    sodium_memzero(pt, sizeof pt);
    return FKEX_OK;
}

fkex_err fkex_ibake_open(fkex_ibake_payload *p, uint8_t *type, const fkex_key *key,
                         const uint8_t *in, size_t len)
{
    fkex_ibake_msg m;
    fkex_ibe_ct ct;
    uint8_t k[32], pt[FKEX_IBAKE_PAYLOAD_MAX];
    unsigned long long ptlen;
    fkex_err err;

    memset(p, 0, sizeof *p);
    if ((err = fkex_ibake_msg_decode(&m, in, len)) != FKEX_OK)
        return err;
    *type = m.type;
    if ((err = fkex_ibe_ct_parse(&ct, m.ct, m.ctlen)) != FKEX_OK)
        return err;
    if ((err = fkex_ibe_decap(k, key, &ct)) != FKEX_OK)
        return err;
    if (crypto_aead_chacha20poly1305_ietf_decrypt(pt, &ptlen, NULL, m.sealed, m.sealedlen, in,
                                                  m.aadlen, zero_nonce, k) != 0)
        err = FKEX_ERR_AUTHENTICATION;
    else
        err = fkex_ibake_payload_decode(p, m.type, pt, (size_t)ptlen);
    sodium_memzero(k, sizeof k);
    sodium_memzero(pt, sizeof pt);
    return err;
}
