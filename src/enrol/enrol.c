/*
 * enrol/enrol.c: the enrolment protocol's frames (fkex/enrol.h has the layout).
 * Both directions are HPKE base mode (crypto/hpke.h); the reply's info
 * carries a secret exported from the request's context, so a reply opens
 * only for the request it answers, and only if it comes from the holder of
 * the pinned enrolment key.
 */
#include <stdlib.h>
#include "enrol/enrol.h"

#define VERSION 1
#define REQ_PT (FKEX_TOKEN_ID_BYTES + FKEX_TOKEN_SECRET_BYTES + 32)
static const char info_request[] = "fkex v1 enrol request";
static const char info_reply[] = "fkex v1 enrol reply";
static const char export_label[] = "fkex v1 enrol binding";

static void header(uint8_t out[FKEX_ENROL_HEADER], fkex_enrol_type type)
{
    memcpy(out, "FKEN", 4);
    out[4] = VERSION;
    out[5] = (uint8_t)type;
}

/* The frame's type, or 0 with *err set. */
static fkex_enrol_type read_header(fkex_err *err, const uint8_t *in, size_t len)
{
    *err = FKEX_OK;
    if (len < FKEX_ENROL_HEADER) {
        *err = len == 0 ? FKEX_ERR_TRUNCATED : len >= 4 || memcmp(in, "FKEN", len) != 0 ? FKEX_ERR_BAD_ENCODING : FKEX_ERR_TRUNCATED;
        return 0;
    }
    if (memcmp(in, "FKEN", 4) != 0) {
        *err = FKEX_ERR_BAD_ENCODING;
        return 0;
    }
    if (in[4] != VERSION) {
        *err = FKEX_ERR_UNSUPPORTED;
        return 0;
    }
    if (in[5] < FKEX_ENROL_HELLO || in[5] > FKEX_ENROL_REFUSED) {
        *err = FKEX_ERR_BAD_ENCODING;
        return 0;
    }
    return (fkex_enrol_type)in[5];
}

/* ---- client ---------------------------------------------------------------- */

void fkex_enrol_hello(uint8_t out[FKEX_ENROL_HEADER])
{
    header(out, FKEX_ENROL_HELLO);
}

fkex_err fkex_enrol_key_decode(uint8_t pk[32], const uint8_t *in, size_t len)
{
    fkex_err err;
    fkex_enrol_type t = read_header(&err, in, len);
    if (err != FKEX_OK)
        return err;
    if (t != FKEX_ENROL_KEY)
        return FKEX_ERR_UNEXPECTED;
    if (len < FKEX_ENROL_HEADER + 32)
        return FKEX_ERR_TRUNCATED;
    if (len > FKEX_ENROL_HEADER + 32)
        return FKEX_ERR_BAD_ENCODING;
    memcpy(pk, in + FKEX_ENROL_HEADER, 32);
    return FKEX_OK;
}

fkex_err fkex_enrol_request_seal(uint8_t out[FKEX_ENROL_REQUEST_BYTES], fkex_enrol_client *c,
                                 const uint8_t pk[32], const fkex_token *t, fkex_rng *rng)
{
    uint8_t pin[32], pt[REQ_PT], reply_pk[32];
    fkex_hpke_context ctx;
    fkex_err err;
    memset(c, 0, sizeof *c);
    fkex_enrol_pin(pin, pk);
    if (sodium_memcmp(pin, t->pin, 32) != 0)
        return FKEX_ERR_WRONG_AUTHORITY;
    fkex_hpke_keypair_generate(c->reply_sk, reply_pk, rng);
    memcpy(pt, t->id, FKEX_TOKEN_ID_BYTES);
    memcpy(pt + FKEX_TOKEN_ID_BYTES, t->secret, FKEX_TOKEN_SECRET_BYTES);
    memcpy(pt + FKEX_TOKEN_ID_BYTES + FKEX_TOKEN_SECRET_BYTES, reply_pk, 32);
    header(out, FKEX_ENROL_REQUEST);
    if ((err = fkex_hpke_setup_base_s(out + FKEX_ENROL_HEADER, &ctx, pk,
                                      (const uint8_t *)info_request, sizeof info_request - 1,
                                      rng)) != FKEX_OK ||
        (err = fkex_hpke_seal(out + FKEX_ENROL_HEADER + 32, &ctx, out, FKEX_ENROL_HEADER, pt,
                              sizeof pt)) != FKEX_OK ||
        (err = fkex_hpke_export(c->binding, 32, &ctx, (const uint8_t *)export_label,
                                sizeof export_label - 1)) != FKEX_OK) {
        fkex_enrol_client_wipe(c);
    } else {
        c->ready = 1;
    }
    fkex_hpke_context_wipe(&ctx);
    sodium_memzero(pt, sizeof pt);
    return err;
}

static size_t reply_info(uint8_t info[sizeof info_reply - 1 + 32], const uint8_t binding[32])
{
    memcpy(info, info_reply, sizeof info_reply - 1);
    memcpy(info + sizeof info_reply - 1, binding, 32);
    return sizeof info_reply - 1 + 32;
}

fkex_err fkex_enrol_reply_open(fkex_enrol_status *st, uint8_t **key, size_t *keylen,
                               fkex_enrol_client *c, const uint8_t *in, size_t len)
{
    uint8_t info[sizeof info_reply - 1 + 32], *pt;
    fkex_hpke_context ctx;
    fkex_err err;
    fkex_enrol_type t;
    size_t ctlen;
    *st = FKEX_ENROL_FAILED;
    *key = NULL;
    *keylen = 0;
    if (!c->ready)
        return FKEX_ERR_ARGUMENT;
    if ((t = read_header(&err, in, len)) == 0)
        return err;
    if (t == FKEX_ENROL_REFUSED) {
        if (len != FKEX_ENROL_HEADER + 1)
            return len < FKEX_ENROL_HEADER + 1 ? FKEX_ERR_TRUNCATED : FKEX_ERR_BAD_ENCODING;
        /* Unsealed, so anyone on the path could send it: it may only say
         * that the request could not be opened. Every other status comes
         * sealed, so that nobody can make a user believe a good token is
         * spent. */
        if (in[FKEX_ENROL_HEADER] != FKEX_ENROL_MALFORMED)
            return FKEX_ERR_BAD_ENCODING;
        *st = (fkex_enrol_status)in[FKEX_ENROL_HEADER];
        return FKEX_OK;
    }
    if (t != FKEX_ENROL_REPLY)
        return FKEX_ERR_UNEXPECTED;
    if (len < FKEX_ENROL_HEADER + 32 + FKEX_HPKE_NT + 1)
        return FKEX_ERR_TRUNCATED;
    if (len > FKEX_ENROL_REPLY_MAX)
        return FKEX_ERR_BAD_ENCODING;
    ctlen = len - FKEX_ENROL_HEADER - 32;
    if (!(pt = malloc(ctlen - FKEX_HPKE_NT)))
        return FKEX_ERR_NO_MEMORY;
    if ((err = fkex_hpke_setup_base_r(&ctx, in + FKEX_ENROL_HEADER, c->reply_sk, info,
                                      reply_info(info, c->binding))) == FKEX_OK)
        err = fkex_hpke_open(pt, &ctx, in, FKEX_ENROL_HEADER, in + FKEX_ENROL_HEADER + 32, ctlen);
    fkex_hpke_context_wipe(&ctx);
    if (err == FKEX_ERR_NOT_IN_GROUP)
        err = FKEX_ERR_AUTHENTICATION;
    size_t n = ctlen - FKEX_HPKE_NT;
    if (err == FKEX_OK && (pt[0] > FKEX_ENROL_FAILED ||
                           (pt[0] == FKEX_ENROL_ISSUED) != (n > 1)))
        err = FKEX_ERR_BAD_ENCODING;
    if (err != FKEX_OK) {
        fkex_bytes_free(pt, n);
        return err;
    }
    *st = (fkex_enrol_status)pt[0];
    if (*st == FKEX_ENROL_ISSUED) {
        memmove(pt, pt + 1, n - 1);
        sodium_memzero(pt + n - 1, 1);   /* the caller frees n - 1 bytes */
        *key = pt;
        *keylen = n - 1;
    } else {
        fkex_bytes_free(pt, n);
    }
    return FKEX_OK;
}

void fkex_enrol_client_wipe(fkex_enrol_client *c)
{
    sodium_memzero(c, sizeof *c);
}

/* ---- authority ------------------------------------------------------------------ */

fkex_err fkex_enrol_request_open(fkex_enrol_req *r, const uint8_t *in, size_t len,
                                 const uint8_t sk[32], const uint8_t pk[32])
{
    uint8_t pt[REQ_PT], info_hash[32];
    fkex_hpke_context ctx;
    fkex_err err;
    fkex_enrol_type t;
    memset(r, 0, sizeof *r);
    if ((t = read_header(&err, in, len)) == 0)
        return err;
    if (t == FKEX_ENROL_HELLO) {
        if (len != FKEX_ENROL_HEADER)
            return FKEX_ERR_BAD_ENCODING;
        r->type = t;
        return FKEX_OK;
    }
    if (t != FKEX_ENROL_REQUEST)
        return FKEX_ERR_UNEXPECTED;
    if (len < FKEX_ENROL_REQUEST_BYTES)
        return FKEX_ERR_TRUNCATED;
    if (len > FKEX_ENROL_REQUEST_BYTES)
        return FKEX_ERR_BAD_ENCODING;
    /* With the public key given, setup costs one X25519, not two. */
    fkex_hpke_info_hash(info_hash, (const uint8_t *)info_request, sizeof info_request - 1);
    if ((err = fkex_hpke_setup_base_r_hashed(&ctx, in + FKEX_ENROL_HEADER, sk, pk, info_hash)) == FKEX_OK &&
        (err = fkex_hpke_open(pt, &ctx, in, FKEX_ENROL_HEADER, in + FKEX_ENROL_HEADER + 32,
                              len - FKEX_ENROL_HEADER - 32)) == FKEX_OK)
        err = fkex_hpke_export(r->binding, 32, &ctx, (const uint8_t *)export_label,
                               sizeof export_label - 1);
    fkex_hpke_context_wipe(&ctx);
    if (err == FKEX_ERR_NOT_IN_GROUP)
        err = FKEX_ERR_AUTHENTICATION;
    if (err == FKEX_OK) {
        r->type = t;
        memcpy(r->id, pt, FKEX_TOKEN_ID_BYTES);
        memcpy(r->secret, pt + FKEX_TOKEN_ID_BYTES, FKEX_TOKEN_SECRET_BYTES);
        memcpy(r->reply_pk, pt + FKEX_TOKEN_ID_BYTES + FKEX_TOKEN_SECRET_BYTES, 32);
    } else {
        fkex_enrol_req_wipe(r);
    }
    sodium_memzero(pt, sizeof pt);
    return err;
}

void fkex_enrol_key_encode(uint8_t out[FKEX_ENROL_HEADER + 32], const uint8_t pk[32])
{
    header(out, FKEX_ENROL_KEY);
    memcpy(out + FKEX_ENROL_HEADER, pk, 32);
}

fkex_err fkex_enrol_reply_seal(uint8_t **out, size_t *len, const fkex_enrol_req *r,
                               fkex_enrol_status st, const uint8_t *key, size_t keylen,
                               fkex_rng *rng)
{
    uint8_t info[sizeof info_reply - 1 + 32], *buf, *pt;
    fkex_hpke_context ctx;
    fkex_err err;
    size_t total;
    *out = NULL;
    *len = 0;
    if (r->type != FKEX_ENROL_REQUEST || (st == FKEX_ENROL_ISSUED) != (keylen > 0) ||
        keylen > FKEX_HEADER_BYTES + FKEX_BODY_MAX)
        return FKEX_ERR_ARGUMENT;
    total = FKEX_ENROL_HEADER + 32 + 1 + keylen + FKEX_HPKE_NT;
    if (!(buf = malloc(total)))
        return FKEX_ERR_NO_MEMORY;
    if (!(pt = malloc(1 + keylen))) {
        free(buf);
        return FKEX_ERR_NO_MEMORY;
    }
    pt[0] = (uint8_t)st;
    if (keylen)
        memcpy(pt + 1, key, keylen);
    header(buf, FKEX_ENROL_REPLY);
    if ((err = fkex_hpke_setup_base_s(buf + FKEX_ENROL_HEADER, &ctx, r->reply_pk, info,
                                      reply_info(info, r->binding), rng)) == FKEX_OK)
        err = fkex_hpke_seal(buf + FKEX_ENROL_HEADER + 32, &ctx, buf, FKEX_ENROL_HEADER, pt,
                             1 + keylen);
    fkex_hpke_context_wipe(&ctx);
    fkex_bytes_free(pt, 1 + keylen);
    if (err != FKEX_OK) {
        fkex_bytes_free(buf, total);
        return err;
    }
    *out = buf;
    *len = total;
    return FKEX_OK;
}

void fkex_enrol_refusal(uint8_t out[FKEX_ENROL_HEADER + 1], fkex_enrol_status st)
{
    header(out, FKEX_ENROL_REFUSED);
    out[FKEX_ENROL_HEADER] = (uint8_t)st;
}

void fkex_enrol_req_wipe(fkex_enrol_req *r)
{
    sodium_memzero(r, sizeof *r);
}
