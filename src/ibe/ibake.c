/*
 * ibe/ibake.c: the IBAKE state machine (RFC 6539 section 3, ibe/ibake.h).
 *
 * Each step works on locals and copies them into the state only once
 * everything has checked out, so a refused message changes nothing and
 * the exchange can go on with the right one.
 */
#include "ibe/ibe.h"

enum {
    READY = 0,          /* initiator: before start; responder: awaiting 1 */
    AWAIT_2,            /* initiator: sent 1 */
    AWAIT_3,            /* responder: sent 2 */
    DONE
};

static const char *self_id(const fkex_ibake *st)
{
    return fkex_key_identity(st->key);
}

fkex_err fkex_ibake_init(fkex_ibake *st, fkex_ibake_role role, const fkex_key *key,
                         const char *peer)
{
    fkex_err err;
    memset(st, 0, sizeof *st);
    if (role != FKEX_IBAKE_INITIATOR && role != FKEX_IBAKE_RESPONDER)
        return FKEX_ERR_ARGUMENT;
    if (!fkex_key_identity(key))
        return FKEX_ERR_WRONG_IDENTITY;
    if (role == FKEX_IBAKE_INITIATOR && !peer)
        return FKEX_ERR_ARGUMENT;
    if (peer) {
        if ((err = fkex_ibe_identity(st->peer, peer, strlen(peer))) != FKEX_OK)
            return err;
        st->peerlen = strlen(st->peer);
    }
    st->role = role;
    st->key = key;
    st->state = READY;
    return FKEX_OK;
}

/* The payload from `from` to `to` carrying the given shares. */
static void payload(fkex_ibake_payload *p, const char *from, const char *to, const uint8_t *a,
                    const uint8_t *b)
{
    memset(p, 0, sizeof *p);
    p->sender_len = strlen(from);
    p->recipient_len = strlen(to);
    memcpy(p->sender, from, p->sender_len);
    memcpy(p->recipient, to, p->recipient_len);
    memcpy(p->share[0], a, 32);
    if (b)
        memcpy(p->share[1], b, 32);
}

fkex_err fkex_ibake_start(fkex_ibake *st, uint8_t out[FKEX_IBAKE_MSG_MAX], size_t *outlen,
                          fkex_rng *rng)
{
    fkex_ibake_payload p;
    uint8_t x[32], xp[32];
    fkex_err err;
    *outlen = 0;
    if (st->role != FKEX_IBAKE_INITIATOR || st->state != READY)
        return FKEX_ERR_UNEXPECTED;
    fkex_rng_fill(rng, x, sizeof x);                    /* x, clamped by X25519 */
    crypto_scalarmult_curve25519_base(xp, x);           /* xP */
    payload(&p, self_id(st), st->peer, xp, NULL);       /* 1: ID_A, ID_B, xP */
    err = fkex_ibake_seal(out, outlen, 1, fkex_key_mpk(st->key), &p, rng);
    if (err == FKEX_OK) {
        memcpy(st->secret, x, 32);
        memcpy(st->xp, xp, 32);
        memcpy(st->m1, out, *outlen);
        st->m1len = *outlen;
        st->state = AWAIT_2;
    }
    sodium_memzero(x, sizeof x);
    return err;
}

/* session = KDF("fkex v1 ibake session", xyP, ID_A, ID_B, m1, m2, m3) */
static void session_key(uint8_t out[32], const uint8_t z[32], const char *a, const char *b,
                        const fkex_ibake *st, const uint8_t *m3, size_t m3len)
{
    fkex_kdf_part parts[6] = {
        { z, 32 }, { a, strlen(a) }, { b, strlen(b) },
        { st->m1, st->m1len }, { st->m2, st->m2len }, { m3, m3len },
    };
    fkex_kdf(out, 32, "fkex v1 ibake session", parts, 6);
}

/* A message we took before is a replay; any other out of turn is unexpected. */
static fkex_err out_of_turn(const fkex_ibake *st, const uint8_t *in, size_t len)
{
    uint8_t h[32];
    /* Only messages we took or sent count: an empty m1/m2 slot (a fresh
     * state) matches nothing, not an empty input. */
    if (len == 0)
        return FKEX_ERR_UNEXPECTED;
    if ((len == st->m1len && memcmp(in, st->m1, len) == 0) ||
        (len == st->m2len && memcmp(in, st->m2, len) == 0))
        return FKEX_ERR_REPLAY;
    crypto_hash_sha256(h, in, len);
    if (st->state == DONE && memcmp(h, st->m3hash, 32) == 0)
        return FKEX_ERR_REPLAY;
    return FKEX_ERR_UNEXPECTED;
}

/* Responder, message 1: answer with 2. */
static fkex_err on_m1(fkex_ibake *st, uint8_t *out, size_t *outlen, const fkex_ibake_payload *p,
                      const uint8_t *in, size_t len, fkex_rng *rng)
{
    fkex_ibake_payload reply;
    uint8_t y[32], yp[32], z[32];
    fkex_err err = FKEX_OK;
    if (st->peerlen && (p->sender_len != st->peerlen || memcmp(p->sender, st->peer, st->peerlen)))
        return FKEX_ERR_WRONG_IDENTITY;
    fkex_rng_fill(rng, y, sizeof y);
    crypto_scalarmult_curve25519_base(yp, y);           /* yP */
    if (crypto_scalarmult_curve25519(z, y, p->share[0]) != 0)   /* xyP; 0 for low order */
        err = FKEX_ERR_NOT_IN_GROUP;
    if (err == FKEX_OK) {
        payload(&reply, self_id(st), p->sender, p->share[0], yp);   /* 2: ID_B, ID_A, xP, yP */
        err = fkex_ibake_seal(out, outlen, 2, fkex_key_mpk(st->key), &reply, rng);
    }
    if (err == FKEX_OK) {
        memcpy(st->peer, p->sender, p->sender_len + 1);
        st->peerlen = p->sender_len;
        memcpy(st->secret, y, 32);
        memcpy(st->xp, p->share[0], 32);
        memcpy(st->yp, yp, 32);
        memcpy(st->z, z, 32);
        memcpy(st->m1, in, len);
        st->m1len = len;
        memcpy(st->m2, out, *outlen);
        st->m2len = *outlen;
        st->state = AWAIT_3;
    } else {
        *outlen = 0;
    }
    sodium_memzero(y, sizeof y);
    sodium_memzero(z, sizeof z);
    return err;
}

/* Initiator, message 2: check the echo of xP, answer with 3, done. */
static fkex_err on_m2(fkex_ibake *st, uint8_t *out, size_t *outlen, const fkex_ibake_payload *p,
                      const uint8_t *in, size_t len, fkex_rng *rng)
{
    fkex_ibake_payload reply;
    uint8_t z[32];
    fkex_err err = FKEX_OK;
    /* B proves it is B: only d_B opens message 1, which held xP. */
    if (sodium_memcmp(p->share[0], st->xp, 32) != 0)
        return FKEX_ERR_AUTHENTICATION;
    if (crypto_scalarmult_curve25519(z, st->secret, p->share[1]) != 0)   /* xyP */
        return FKEX_ERR_NOT_IN_GROUP;
    payload(&reply, self_id(st), st->peer, p->share[1], NULL);   /* 3: ID_A, ID_B, yP */
    err = fkex_ibake_seal(out, outlen, 3, fkex_key_mpk(st->key), &reply, rng);
    if (err == FKEX_OK) {
        memcpy(st->m2, in, len);
        st->m2len = len;
        memcpy(st->yp, p->share[1], 32);
        session_key(st->session, z, self_id(st), st->peer, st, out, *outlen);
        crypto_hash_sha256(st->m3hash, out, *outlen);
        sodium_memzero(st->secret, sizeof st->secret);
        st->state = DONE;
    } else {
        *outlen = 0;
    }
    sodium_memzero(z, sizeof z);
    return err;
}

/* Responder, message 3: check the echo of yP, done. */
static fkex_err on_m3(fkex_ibake *st, const fkex_ibake_payload *p, const uint8_t *in, size_t len)
{
    /* A proves it is A: only d_A opens message 2, which held yP. */
    if (sodium_memcmp(p->share[0], st->yp, 32) != 0)
        return FKEX_ERR_AUTHENTICATION;
    session_key(st->session, st->z, st->peer, self_id(st), st, in, len);
    crypto_hash_sha256(st->m3hash, in, len);
    sodium_memzero(st->secret, sizeof st->secret);
    sodium_memzero(st->z, sizeof st->z);
    st->state = DONE;
    return FKEX_OK;
}

fkex_err fkex_ibake_receive(fkex_ibake *st, uint8_t out[FKEX_IBAKE_MSG_MAX], size_t *outlen,
                            const uint8_t *in, size_t len, fkex_rng *rng)
{
    fkex_ibake_payload p;
    uint8_t type, want = 0;
    const char *self;
    fkex_err err;

    *outlen = 0;
    /* A state whose init failed (no key, no role) awaits nothing. */
    if (st->key && st->role == FKEX_IBAKE_RESPONDER)
        want = st->state == READY ? 1 : st->state == AWAIT_3 ? 3 : 0;
    else if (st->key && st->role == FKEX_IBAKE_INITIATOR)
        want = st->state == AWAIT_2 ? 2 : 0;
    if (want == 0 || (len >= 1 && in[0] != want))
        return out_of_turn(st, in, len);
    self = self_id(st);
    if ((err = fkex_ibake_open(&p, &type, st->key, in, len)) != FKEX_OK)
        goto out;
    /* Both identities ride in every message (RFC 6539): the recipient must
     * be us, and after message 1 the sender our peer. */
    if (p.recipient_len != strlen(self) || memcmp(p.recipient, self, p.recipient_len) != 0 ||
        (want != 1 && (p.sender_len != st->peerlen || memcmp(p.sender, st->peer, st->peerlen)))) {
        err = FKEX_ERR_WRONG_IDENTITY;
        goto out;
    }
    if (want == 1)
        err = on_m1(st, out, outlen, &p, in, len, rng);
    else if (want == 2)
        err = on_m2(st, out, outlen, &p, in, len, rng);
    else
        err = on_m3(st, &p, in, len);
out:
    sodium_memzero(&p, sizeof p);
    return err;
}

int fkex_ibake_done(const fkex_ibake *st)
{
    return st->state == DONE;
}

fkex_err fkex_ibake_session_key(uint8_t key[32], const fkex_ibake *st)
{
    if (st->state != DONE)
        return FKEX_ERR_UNEXPECTED;
    memcpy(key, st->session, 32);
    return FKEX_OK;
}

const char *fkex_ibake_peer(const fkex_ibake *st)
{
    return st->peer;
}

void fkex_ibake_wipe(fkex_ibake *st)
{
    sodium_memzero(st, sizeof *st);
}
