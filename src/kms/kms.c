/*
 * kms/kms.c: the authority: its secrets, and the answer to one enrolment
 * frame. The secrets stay in one sodium_malloc'd region, PROT_NONE while
 * idle; the master key is decoded for each issue and freed at once (the
 * library keeps its scalars in sodium_malloc'd memory, wiped on free).
 */
#include <stdlib.h>
#include "kms/kms.h"
#include "kms/kms.h"

#define SECRETS_VERSION 1

struct fkex_kms {
    uint8_t *region;      /* sodium_malloc: version | sk (32) | u32 n | msk (n) */
    size_t regionlen;
    uint8_t pk[32];
};

fkex_err fkex_kms_create(uint8_t **sealed, size_t *sealedlen, uint8_t **mpk, size_t *mpklen,
                         uint8_t enrol_pk[32], const char *scheme, const char *pass,
                         size_t passlen, fkex_rng *rng)
{
    fkex_mpk *p = NULL;
    fkex_msk *m = NULL;
    uint8_t *mskb = NULL, *pt = NULL, sk[32];
    size_t msklen = 0, ptlen = 0;
    fkex_err err;
    *sealed = *mpk = NULL;
    *sealedlen = *mpklen = 0;
    if ((err = fkex_abe_setup(&p, &m, scheme, rng)) != FKEX_OK)
        return err;
    /* Identity-based parameters too, before the fingerprint is published. */
    fkex_mpk_free(p);
    if ((err = fkex_ibe_setup(&p, m, rng)) != FKEX_OK) {
        fkex_msk_free(m);
        return err;
    }
    if ((err = fkex_msk_encode(&mskb, &msklen, m)) != FKEX_OK ||
        (err = fkex_mpk_encode(mpk, mpklen, p)) != FKEX_OK)
        goto out;
    ptlen = 1 + 32 + 4 + msklen;
    if (!(pt = sodium_malloc(ptlen))) {
        err = FKEX_ERR_NO_MEMORY;
        goto out;
    }
    fkex_hpke_keypair_generate(sk, enrol_pk, rng);
    pt[0] = SECRETS_VERSION;
    memcpy(pt + 1, sk, 32);
    store32_be(pt + 33, (uint32_t)msklen);
    memcpy(pt + 37, mskb, msklen);
    err = fkex_sealed_encode(sealed, sealedlen, pt, ptlen, pass, passlen, rng);
out:
    if (err != FKEX_OK) {
        fkex_bytes_free(*mpk, *mpklen);
        *mpk = NULL;
        *mpklen = 0;
    }
    sodium_memzero(sk, sizeof sk);
    if (pt)
        sodium_free(pt);
    fkex_bytes_free(mskb, msklen);
    fkex_mpk_free(p);
    fkex_msk_free(m);
    return err;
}

fkex_err fkex_kms_open(fkex_kms **out, const uint8_t *sealed, size_t len, const char *pass,
                       size_t passlen)
{
    fkex_kms *k;
    fkex_msk *msk = NULL;
    fkex_err err;
    *out = NULL;
    if (!(k = calloc(1, sizeof *k)))
        return FKEX_ERR_NO_MEMORY;
    if ((err = fkex_sealed_decode(&k->region, &k->regionlen, sealed, len, pass, passlen)) != FKEX_OK) {
        free(k);
        return err;
    }
    if (k->regionlen < 37 || k->region[0] != SECRETS_VERSION ||
        load32_be(k->region + 33) != k->regionlen - 37)
        err = k->regionlen >= 1 && k->region[0] != SECRETS_VERSION ? FKEX_ERR_UNSUPPORTED
                                                                    : FKEX_ERR_BAD_ENCODING;
    else if ((err = fkex_msk_decode(&msk, k->region + 37, k->regionlen - 37)) == FKEX_OK)
        crypto_scalarmult_curve25519_base(k->pk, k->region + 1);
    fkex_msk_free(msk);
    if (err != FKEX_OK) {
        fkex_kms_free(k);
        return err;
    }
    sodium_mprotect_noaccess(k->region);
    *out = k;
    return FKEX_OK;
}

void fkex_kms_enrol_pk(uint8_t pk[32], const fkex_kms *k)
{
    memcpy(pk, k->pk, 32);
}

void fkex_kms_free(fkex_kms *k)
{
    if (!k)
        return;
    if (k->region) {
        sodium_mprotect_readwrite(k->region);
        sodium_free(k->region);   /* wipes */
    }
    free(k);
}

/* "ONE TWO year=5" into a list (pointers into a copy). */
static fkex_err split(char **copy, const char ***list, size_t *n, const char *attrs)
{
    char *save = NULL, *c = strdup(attrs);
    const char **l;
    size_t cap = 1;
    *copy = NULL;
    *list = NULL;
    *n = 0;
    if (!c)
        return FKEX_ERR_NO_MEMORY;
    for (const char *p = c; *p; p++)
        cap += *p == ' ';
    if (!(l = calloc(cap, sizeof *l))) {
        free(c);
        return FKEX_ERR_NO_MEMORY;
    }
    for (char *t = strtok_r(c, " ", &save); t && *n < cap; t = strtok_r(NULL, " ", &save))
        l[(*n)++] = t;
    *copy = c;
    *list = l;
    return FKEX_OK;
}

/* Issues a key for attrs and identity (NULL: none): the secrets are
 * readable only meanwhile. */
static fkex_err issue(uint8_t **key, size_t *keylen, fkex_kms *k, const char *attrs,
                      const char *identity, fkex_rng *rng)
{
    fkex_msk *msk = NULL;
    fkex_key *uk = NULL;
    char *copy;
    const char **list;
    size_t n;
    fkex_err err;
    *key = NULL;
    *keylen = 0;
    if ((err = split(&copy, &list, &n, attrs)) != FKEX_OK)
        return err;
    sodium_mprotect_readonly(k->region);
    err = fkex_msk_decode(&msk, k->region + 37, k->regionlen - 37);
    sodium_mprotect_noaccess(k->region);
    if (err == FKEX_OK && (err = fkex_abe_keygen(&uk, msk, list, n, rng)) == FKEX_OK &&
        (!identity || (err = fkex_ibe_keygen(uk, msk, identity)) == FKEX_OK))
        err = fkex_key_encode(key, keylen, uk);
    fkex_key_free(uk);
    fkex_msk_free(msk);
    free(list);
    free(copy);
    return err;
}

fkex_err fkex_kms_grant_mac(uint8_t mac[32], const fkex_kms *k,
                            const uint8_t id[FKEX_TOKEN_ID_BYTES], const uint8_t secret_hash[32],
                            uint64_t expires_at, const char *attrs, const char *identity)
{
    uint8_t key[32];
    fkex_writer w;
    fkex_err err = FKEX_ERR_ARGUMENT;
    fkex_writer_init(&w);
    fkex_writer_put(&w, id, FKEX_TOKEN_ID_BYTES);
    fkex_writer_put(&w, secret_hash, 32);
    fkex_writer_u64(&w, expires_at);
    fkex_writer_bytes16(&w, attrs, strlen(attrs));
    fkex_writer_u8(&w, identity != NULL);
    fkex_writer_bytes16(&w, identity ? identity : "", identity ? strlen(identity) : 0);
    if (!w.failed) {
        sodium_mprotect_readonly(k->region);
        fkex_kdf_expand(key, k->region + 1, "token grant", NULL, 0);
        sodium_mprotect_noaccess(k->region);
        fkex_mac(mac, key, w.buf, w.len);
        sodium_memzero(key, sizeof key);
        err = FKEX_OK;
    }
    fkex_writer_free(&w);
    return err;
}

/* 1 if the token's row carries the authority's grant for what it says:
 * a row whose fields cannot be MACed is not granted. */
static int granted(const fkex_kms *k, const fkex_enrol_req *r, const fkex_token_grant *grant,
                   const char *attrs, const char *identity)
{
    uint8_t want[32], hash[32];
    int ok;
    crypto_hash_sha256(hash, r->secret, FKEX_TOKEN_SECRET_BYTES);
    ok = grant->present &&
         fkex_kms_grant_mac(want, k, r->id, hash, grant->expires_at, attrs, identity) == FKEX_OK &&
         sodium_memcmp(want, grant->mac, 32) == 0;
    sodium_memzero(want, sizeof want);
    sodium_memzero(hash, sizeof hash);
    return ok;
}

static fkex_err refusal(uint8_t **reply, size_t *replylen, fkex_enrol_status st)
{
    if (!(*reply = malloc(FKEX_ENROL_HEADER + 1)))
        return FKEX_ERR_NO_MEMORY;
    fkex_enrol_refusal(*reply, st);
    *replylen = FKEX_ENROL_HEADER + 1;
    return FKEX_OK;
}

fkex_err fkex_kms_answer(uint8_t **reply, size_t *replylen, fkex_kms_report *rep, fkex_kms *k,
                         fkex_kms_store *st, const uint8_t *req, size_t reqlen, uint64_t now,
                         fkex_rng *rng)
{
    fkex_enrol_req r;
    fkex_enrol_status status;
    char *attrs = NULL, *identity = NULL;
    fkex_token_grant grant;
    uint8_t *key = NULL;
    size_t keylen = 0;
    int won = 0;
    fkex_err err;

    *reply = NULL;
    *replylen = 0;
    memset(rep, 0, sizeof *rep);
    sodium_mprotect_readonly(k->region);
    err = fkex_enrol_request_open(&r, req, reqlen, k->region + 1, k->pk);
    sodium_mprotect_noaccess(k->region);
    if (err != FKEX_OK) {
        rep->status = FKEX_ENROL_MALFORMED;
        return refusal(reply, replylen, FKEX_ENROL_MALFORMED);
    }
    rep->type = r.type;
    if (r.type == FKEX_ENROL_HELLO) {
        if (!(*reply = malloc(FKEX_ENROL_HEADER + 32)))
            return FKEX_ERR_NO_MEMORY;
        fkex_enrol_key_encode(*reply, k->pk);
        *replylen = FKEX_ENROL_HEADER + 32;
        rep->status = FKEX_ENROL_ISSUED;
        return FKEX_OK;
    }
    fkex_token_id_hex(rep->token_id, r.id);
    /* Check, issue, then use up: the audit row is written in the same
     * transaction that uses the token, so it lists exactly the keys sent. */
    if (fkex_store_token_check(st, &status, &attrs, &identity, &grant, r.id, r.secret, now) !=
        FKEX_OK)
        status = FKEX_ENROL_FAILED;
    /* A row the authority did not mint (written into kms.db by someone
     * without the passphrase) is no token. */
    if (status == FKEX_ENROL_ISSUED && !granted(k, &r, &grant, attrs, identity)) {
        status = FKEX_ENROL_UNKNOWN;
        rep->ungranted = 1;
    }
    if (status == FKEX_ENROL_ISSUED && issue(&key, &keylen, k, attrs, identity, rng) != FKEX_OK)
        status = FKEX_ENROL_FAILED;
    if (status == FKEX_ENROL_ISSUED) {
        if (fkex_store_token_use(st, &won, r.id, attrs, identity, now) != FKEX_OK)
            status = FKEX_ENROL_FAILED;
        else if (!won)
            status = FKEX_ENROL_USED;   /* another enrolment got there first */
    }
    if (status != FKEX_ENROL_ISSUED) {
        fkex_bytes_free(key, keylen);
        key = NULL;
        keylen = 0;
    }
    rep->status = status;
    err = fkex_enrol_reply_seal(reply, replylen, &r, status, key, keylen, rng);
    fkex_bytes_free(key, keylen);
    free(attrs);
    free(identity);
    fkex_enrol_req_wipe(&r);
    return err;
}
