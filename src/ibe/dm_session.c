/*
 * ibe/dm_session.c: a direct conversation's state machine (ibe/dm.h):
 * IBAKE, the hellos that bind each side's signing key to it, then signed
 * messages on per-sender hash chains (crypto/chain.h, as rooms use).
 *
 * Like ibake.c, each step works on locals and changes the state only once
 * everything has checked out.
 */
#include "ibe/ibe.h"

enum {
    HANDSHAKE = 0,      /* IBAKE under way */
    AWAIT_HELLO,        /* our IBAKE is done and our hello sent; the peer's is awaited */
    OPEN                /* both hellos: messages both ways */
};

static const uint8_t zero_nonce[12];

/* ---- frames --------------------------------------------------------------- */

fkex_err fkex_dm_msg_decode(fkex_dm_msg *m, const uint8_t *in, size_t len)
{
    fkex_reader r;
    uint8_t version;
    memset(m, 0, sizeof *m);
    if (len > FKEX_DM_FRAME_MAX)
        return FKEX_ERR_BAD_ENCODING;
    fkex_reader_init(&r, in, len);
    if (fkex_reader_u8(&r, &m->type) || fkex_reader_u8(&r, &version))
        return FKEX_ERR_TRUNCATED;
    if ((m->type != FKEX_DM_HELLO && m->type != FKEX_DM_MESSAGE) || version != FKEX_DM_VERSION)
        return FKEX_ERR_UNSUPPORTED;
    if (fkex_reader_view(&r, &m->conv, 32))
        return FKEX_ERR_TRUNCATED;
    if (m->type == FKEX_DM_HELLO) {
        if (fkex_reader_view(&r, &m->v, 32) || fkex_reader_view(&r, &m->tag, 32))
            return FKEX_ERR_TRUNCATED;
    } else {
        if (fkex_reader_u32(&r, &m->generation))
            return FKEX_ERR_TRUNCATED;
        m->header_len = r.off;
        if (fkex_reader_bytes32(&r, &m->ct, &m->ctlen, FKEX_DM_CONTENT_MAX + 16))
            return FKEX_ERR_TRUNCATED;
        if (m->ctlen < 16)
            return FKEX_ERR_BAD_ENCODING;
    }
    m->signed_len = r.off;
    if (fkex_reader_view(&r, &m->sig, 64))
        return FKEX_ERR_TRUNCATED;
    return fkex_reader_end(&r);
}

fkex_err fkex_dm_conversation_id(uint8_t id[32], const fkex_key *key, const char *peer)
{
    const fkex_ibe_ukey *uk = key->ibe;
    uint8_t fp[FKEX_FINGERPRINT_BYTES], k[576], prk[32], ctx[4 + 2 * FKEX_IBE_ID_MAX];
    fkex_g1 p;
    fkex_g2 q;
    fkex_gt z;
    size_t n = 0;
    if (!uk)
        return FKEX_ERR_WRONG_IDENTITY;
    int low = strcmp(uk->id, peer) < 0;
    const char *lo = low ? uk->id : peer, *hi = low ? peer : uk->id;
    if (low) {   /* e(d_lo, H2(hi)) */
        blst_p1_from_affine(&p, &uk->d);
        fkex_ibe_hash_id2(&q, hi, strlen(hi));
    } else {     /* e(H1(lo), d2_hi) */
        if (!uk->has_d2)
            return FKEX_ERR_UNSUPPORTED;
        fkex_ibe_hash_id(&p, lo, strlen(lo));
        blst_p2_from_affine(&q, &uk->d2);
    }
    fkex_pairing(&z, &p, &q);
    fkex_gt_to_bytes(k, &z);
    fkex_mpk_fingerprint(fp, fkex_key_mpk(key));
    fkex_hkdf_extract(prk, fp, sizeof fp, k, sizeof k);
    store16_be(ctx + n, (uint16_t)strlen(lo));
    memcpy(ctx + n + 2, lo, strlen(lo));
    n += 2 + strlen(lo);
    store16_be(ctx + n, (uint16_t)strlen(hi));
    memcpy(ctx + n + 2, hi, strlen(hi));
    n += 2 + strlen(hi);
    fkex_kdf_expand(id, prk, "dm conversation", ctx, n);
    sodium_memzero(&p, sizeof p);
    sodium_memzero(&q, sizeof q);
    sodium_memzero(&z, sizeof z);
    sodium_memzero(k, sizeof k);
    sodium_memzero(prk, sizeof prk);
    return FKEX_OK;
}

/* ---- keys ------------------------------------------------------------------ */

/* role: 1 for the initiator's hello, 2 for the responder's. */
static void hello_key(uint8_t key[32], const fkex_dm *dm, uint8_t role)
{
    uint8_t ctx[33];
    memcpy(ctx, dm->conv, 32);
    ctx[32] = role;
    fkex_kdf_expand(key, dm->session, "dm hello", ctx, sizeof ctx);
}

static void chain_root(uint8_t ck[32], const fkex_dm *dm, const uint8_t v[32])
{
    uint8_t ctx[64];
    memcpy(ctx, dm->conv, 32);
    memcpy(ctx + 32, v, 32);
    fkex_kdf_expand(ck, dm->session, "dm sender", ctx, sizeof ctx);
}

/* ---- the state machine -------------------------------------------------------- */

fkex_err fkex_dm_init(fkex_dm *dm, const fkex_key *key, const char *peer, fkex_rng *rng)
{
    const char *self = fkex_key_identity(key);
    fkex_err err;
    memset(dm, 0, sizeof *dm);
    if (!self)
        return FKEX_ERR_WRONG_IDENTITY;
    if (!fkex_mpk_has_ibe(fkex_key_mpk(key)))
        return FKEX_ERR_UNSUPPORTED;
    if ((err = fkex_ibe_identity(dm->peer, peer, strlen(peer))) != FKEX_OK)
        return err;
    if (strcmp(self, dm->peer) == 0) {
        memset(dm, 0, sizeof *dm);
        return FKEX_ERR_ARGUMENT;
    }
    dm->initiator = strcmp(self, dm->peer) < 0;
    err = fkex_ibake_init(&dm->ike, dm->initiator ? FKEX_IBAKE_INITIATOR : FKEX_IBAKE_RESPONDER,
                          key, dm->peer);
    if (err != FKEX_OK) {
        fkex_dm_wipe(dm);
        return err;
    }
    if ((err = fkex_dm_conversation_id(dm->conv, key, dm->peer)) != FKEX_OK) {
        fkex_dm_wipe(dm);
        return err;
    }
    fkex_sign_keypair(dm->sig_pk, dm->sig_sk, rng);
    dm->state = HANDSHAKE;
    return FKEX_OK;
}

int fkex_dm_initiator(const fkex_dm *dm)
{
    return dm->initiator;
}

fkex_err fkex_dm_start(fkex_dm *dm, fkex_dm_out *out, fkex_rng *rng)
{
    fkex_err err;
    memset(out, 0, sizeof *out);
    if (dm->state != HANDSHAKE || !fkex_dm_initiator(dm))
        return dm->state == HANDSHAKE ? FKEX_OK : FKEX_ERR_UNEXPECTED;
    if ((err = fkex_ibake_start(&dm->ike, out->frame[0], &out->len[0], rng)) == FKEX_OK)
        out->n = 1;
    return err;
}

/* IBAKE is done: its key moves here, the IBAKE state is wiped, our chain is
 * rooted and our hello appended to out. */
static fkex_err handshake_done(fkex_dm *dm, fkex_dm_out *out)
{
    uint8_t key[32], *h = out->frame[out->n];
    fkex_err err;
    uint8_t role = fkex_dm_initiator(dm) ? 1 : 2;
    if ((err = fkex_ibake_session_key(dm->session, &dm->ike)) != FKEX_OK)
        return err;
    fkex_ibake_wipe(&dm->ike);
    h[0] = FKEX_DM_HELLO;
    h[1] = FKEX_DM_VERSION;
    memcpy(h + 2, dm->conv, 32);
    memcpy(h + 34, dm->sig_pk, 32);
    hello_key(key, dm, role);
    fkex_mac(h + 66, key, h, 66);
    sodium_memzero(key, sizeof key);
    if ((err = fkex_sign(h + 98, dm->sig_sk, "dm hello", h, 98)) != FKEX_OK)
        return err;
    out->len[out->n++] = FKEX_DM_HELLO_LEN;
    chain_root(dm->send_ck, dm, dm->sig_pk);
    dm->send_gen = 0;
    dm->state = AWAIT_HELLO;
    return FKEX_OK;
}

static fkex_err on_ibake(fkex_dm *dm, fkex_dm_out *out, const uint8_t *in, size_t len,
                         fkex_rng *rng)
{
    fkex_err err;
    if (dm->state != HANDSHAKE)
        return FKEX_ERR_REPLAY;   /* the handshake is over */
    if ((err = fkex_ibake_receive(&dm->ike, out->frame[0], &out->len[0], in, len, rng)) != FKEX_OK)
        return err;
    out->n = out->len[0] ? 1 : 0;
    if (fkex_ibake_done(&dm->ike) && (err = handshake_done(dm, out)) != FKEX_OK) {
        /* Only a failed signature (no memory): the exchange cannot go on. */
        fkex_dm_wipe(dm);
        return err;
    }
    return FKEX_OK;
}

static fkex_err on_hello(fkex_dm *dm, fkex_dm_out *out, const fkex_dm_msg *m)
{
    uint8_t key[32];
    int ok;
    if (dm->state == OPEN)
        return FKEX_ERR_REPLAY;
    if (dm->state != AWAIT_HELLO)
        return FKEX_ERR_UNEXPECTED;
    hello_key(key, dm, fkex_dm_initiator(dm) ? 2 : 1);   /* the peer's role */
    ok = fkex_mac_verify(m->tag, key, m->conv - 2, 66) == 0;
    sodium_memzero(key, sizeof key);
    if (!ok || sodium_memcmp(m->v, dm->sig_pk, 32) == 0 ||
        fkex_sign_verify(m->sig, m->v, "dm hello", m->conv - 2, m->signed_len) != 0)
        return FKEX_ERR_AUTHENTICATION;
    memcpy(dm->peer_pk, m->v, 32);
    fkex_chain_wipe(&dm->recv);
    chain_root(dm->recv.ck, dm, dm->peer_pk);
    sodium_memzero(dm->session, sizeof dm->session);
    dm->state = OPEN;
    out->opened = 1;
    return FKEX_OK;
}

static fkex_err on_message(fkex_dm *dm, fkex_dm_out *out, uint8_t *plain, const fkex_dm_msg *m,
                           const uint8_t *in)
{
    uint8_t mk[32];
    uint32_t slot;
    fkex_err err;
    if (dm->state != OPEN)
        return FKEX_ERR_UNEXPECTED;
    if (m->generation == UINT32_MAX)
        return FKEX_ERR_BAD_ENCODING;   /* no sender reaches the last generation */
    if (fkex_sign_verify(m->sig, dm->peer_pk, "dm message", in, m->signed_len) != 0)
        return FKEX_ERR_AUTHENTICATION;
    if ((err = fkex_chain_peek(mk, &slot, &dm->recv, m->generation)) != FKEX_OK)
        return err;
    if (crypto_aead_chacha20poly1305_ietf_decrypt(plain, NULL, NULL, m->ct, m->ctlen, in,
                                                  m->header_len, zero_nonce, mk) != 0) {
        sodium_memzero(mk, sizeof mk);
        sodium_memzero(plain, m->ctlen);
        return FKEX_ERR_AUTHENTICATION;
    }
    sodium_memzero(mk, sizeof mk);
    fkex_chain_commit(&dm->recv, m->generation, slot);
    out->message = 1;
    out->plainlen = m->ctlen - crypto_aead_chacha20poly1305_ietf_ABYTES;
    return FKEX_OK;
}

fkex_err fkex_dm_receive(fkex_dm *dm, fkex_dm_out *out, uint8_t *plain, const uint8_t *in,
                         size_t len, fkex_rng *rng)
{
    fkex_dm_msg m;
    fkex_err err;
    memset(out, 0, sizeof *out);
    if (len >= 1 && fkex_ibake_shares(in[0]) != 0)
        return on_ibake(dm, out, in, len, rng);
    if ((err = fkex_dm_msg_decode(&m, in, len)) != FKEX_OK)
        return err;
    if (sodium_memcmp(m.conv, dm->conv, 32) != 0)
        return FKEX_ERR_WRONG_ROOM;
    return m.type == FKEX_DM_HELLO ? on_hello(dm, out, &m) : on_message(dm, out, plain, &m, in);
}

int fkex_dm_open(const fkex_dm *dm)
{
    return dm->state == OPEN;
}

const char *fkex_dm_peer(const fkex_dm *dm)
{
    return dm->peer;
}

fkex_err fkex_dm_send(fkex_dm *dm, uint8_t *out, size_t *outlen, const uint8_t *content,
                      size_t len)
{
    uint8_t mk[32], next[32];
    size_t ctlen = len + crypto_aead_chacha20poly1305_ietf_ABYTES;
    fkex_err err;
    *outlen = 0;
    if (dm->state == HANDSHAKE)
        return FKEX_ERR_UNEXPECTED;
    if (len > FKEX_DM_CONTENT_MAX || dm->send_gen == UINT32_MAX)
        return FKEX_ERR_ARGUMENT;
    out[0] = FKEX_DM_MESSAGE;
    out[1] = FKEX_DM_VERSION;
    memcpy(out + 2, dm->conv, 32);
    store32_be(out + 34, dm->send_gen);
    store32_be(out + 38, (uint32_t)ctlen);
    fkex_chain_step(mk, next, dm->send_ck);
    crypto_aead_chacha20poly1305_ietf_encrypt(out + 42, NULL, content, len, out, 38, NULL,
                                              zero_nonce, mk);
    sodium_memzero(mk, sizeof mk);
    if ((err = fkex_sign(out + 42 + ctlen, dm->sig_sk, "dm message", out, 42 + ctlen)) != FKEX_OK) {
        sodium_memzero(next, sizeof next);
        sodium_memzero(out, 42 + ctlen);
        return err;
    }
    memcpy(dm->send_ck, next, 32);
    sodium_memzero(next, sizeof next);
    dm->send_gen++;
    *outlen = 42 + ctlen + 64;
    return FKEX_OK;
}

void fkex_dm_wipe(fkex_dm *dm)
{
    fkex_ibake_wipe(&dm->ike);
    fkex_chain_wipe(&dm->recv);
    sodium_memzero(dm, sizeof *dm);
}
