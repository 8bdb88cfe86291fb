/*
 * abe/abe.c: the generic CP-ABE KEM over a scheme (abe/scheme.h).
 *
 * Owns what every scheme shares: setup, keygen and reading the authority's
 * objects back (authority/authority.h keeps them; here the scheme their
 * header names is looked up), the ciphertext object, key derivation, and
 * the Fujisaki-Okamoto transform that turns the scheme's IND-CPA KEM into
 * an IND-CCA one (as OpenABE does):
 *
 *   Encap:  k <-$ {0,1}^256;  coins = KDF("fo coins", fp, policy, k)
 *           (Z, C) = Scheme.Encrypt(policy; coins);  c_k = k xor KDF("fo mask", Z)
 *           key = KDF("cca key", k, bytes(C, c_k))
 *   Decap:  Z = Scheme.Decrypt(sk, C);  k = c_k xor KDF("fo mask", Z)
 *           re-encrypt with KDF("fo coins", fp, policy, k); reject unless the
 *           result is C and Z again; key = KDF("cca key", k, bytes)
 *
 * KDF(label, parts) = BLAKE2b-256(label || 0 || for each part: u64 len || part).
 */
#include <stdlib.h>
#include "abe/abe.h"

struct fkex_abe_ct {
    const fkex_abe_scheme *scheme;
    uint8_t fp[FKEX_FINGERPRINT_BYTES];
    fkex_abe_mode mode;
    char *policy;                /* canonical text */
    fkex_lsss *lsss;
    void *impl;
    size_t impl_size;
    uint8_t masked_k[32];        /* CCA only */
    uint8_t *bytes;              /* the encoding the KEM key is bound to */
    size_t len;
};

static const fkex_abe_scheme *const schemes[] = { &fkex_waters11, &fkex_fame };

static const fkex_abe_scheme *scheme_by_id(uint8_t id)
{
    for (size_t i = 0; i < FKEX_ARRAY_LEN(schemes); i++)
        if (schemes[i]->id == id)
            return schemes[i];
    return NULL;
}

uint8_t fkex_abe_scheme_id(const char *name)
{
    for (size_t i = 0; i < FKEX_ARRAY_LEN(schemes); i++)
        if (strcmp(fkex_scheme_name(schemes[i]->id), name) == 0)
            return schemes[i]->id;
    return 0;
}

/* The scheme an object's header names, or NULL if it is not a CP-ABE scheme
 * (the decoders then say FKEX_ERR_WRONG_KIND: an identity-based ciphertext,
 * say). FKEX_ERR_TRUNCATED if there is no header. */
static fkex_err named_scheme(const fkex_abe_scheme **scheme, const uint8_t *in, size_t len)
{
    fkex_header h;
    fkex_err err;
    *scheme = NULL;
    if (len < FKEX_HEADER_BYTES)
        return FKEX_ERR_TRUNCATED;
    if ((err = fkex_header_decode(&h, in)) != FKEX_OK)
        return err;
    *scheme = scheme_by_id(h.scheme);
    return FKEX_OK;
}

fkex_err fkex_mpk_decode(fkex_mpk **mpk, const uint8_t *in, size_t len)
{
    const fkex_abe_scheme *scheme;
    fkex_err err = named_scheme(&scheme, in, len);
    *mpk = NULL;
    return err != FKEX_OK ? err : fkex_mpk_decode_scheme(mpk, scheme, in, len);
}

fkex_err fkex_msk_decode(fkex_msk **msk, const uint8_t *in, size_t len)
{
    const fkex_abe_scheme *scheme;
    fkex_err err = named_scheme(&scheme, in, len);
    *msk = NULL;
    return err != FKEX_OK ? err : fkex_msk_decode_scheme(msk, scheme, in, len);
}

fkex_err fkex_key_decode(fkex_key **key, const uint8_t *in, size_t len)
{
    const fkex_abe_scheme *scheme;
    fkex_err err = named_scheme(&scheme, in, len);
    *key = NULL;
    return err != FKEX_OK ? err : fkex_key_decode_scheme(key, scheme, in, len);
}

/* ---- setup and keygen ------------------------------------------------------ */

fkex_err fkex_abe_setup(fkex_mpk **mpk, fkex_msk **msk, const char *name, fkex_rng *rng)
{
    const fkex_abe_scheme *scheme = scheme_by_id(fkex_abe_scheme_id(name));
    fkex_msk *m;
    fkex_err err;
    *mpk = NULL;
    *msk = NULL;
    if (!scheme)
        return FKEX_ERR_UNSUPPORTED;
    if ((err = fkex_msk_alloc(&m, scheme)) != FKEX_OK)
        return err;
    scheme->setup(m->impl, rng);
    /* The caller gets its own copy of the public parameters. */
    if ((err = fkex_msk_finish(m)) != FKEX_OK || (err = fkex_mpk_copy(mpk, m->mpk)) != FKEX_OK) {
        fkex_msk_free(m);
        return err;
    }
    *msk = m;
    return FKEX_OK;
}

fkex_err fkex_abe_keygen(fkex_key **out, const fkex_msk *msk,
                         const char *const *attrs, size_t nattrs, fkex_rng *rng)
{
    fkex_err err = fkex_key_alloc(out, msk, attrs, nattrs);
    if (err != FKEX_OK)
        return err;
    msk->scheme->keygen((*out)->impl, msk->impl, msk->mpk->impl, (*out)->nnames,
                        (const char *const *)(*out)->names, rng);
    return FKEX_OK;
}

/* ---- key derivation -------------------------------------------------------- */

typedef fkex_kdf_part part;

static void kdf(uint8_t out[32], const char *label, const part *parts, size_t n)
{
    fkex_kdf(out, 32, label, parts, n);
}

static void gt_kdf(uint8_t out[32], const char *label, const fkex_gt *z,
                   const uint8_t *bytes, size_t len)
{
    uint8_t zb[FKEX_GT_BYTES];
    fkex_gt_to_bytes(zb, z);
    part parts[2] = { { zb, sizeof zb }, { bytes, len } };
    kdf(out, label, parts, bytes ? 2 : 1);
    sodium_memzero(zb, sizeof zb);
}

static void fo_coins(fkex_rng *rng, const fkex_abe_ct *ct, const uint8_t k[32])
{
    uint8_t seed[32];
    part parts[3] = { { ct->fp, 32 }, { ct->policy, strlen(ct->policy) }, { k, 32 } };
    kdf(seed, "fkex v1 abe fo coins", parts, 3);
    fkex_rng_init_seed(rng, seed);
    sodium_memzero(seed, sizeof seed);
}

void fkex_abe_ct_free(fkex_abe_ct *ct)
{
    if (!ct)
        return;
    free(ct->impl);
    free(ct->policy);
    fkex_lsss_free(ct->lsss);
    free(ct->bytes);
    free(ct);
}

/* ---- ciphertexts ------------------------------------------------------------ */

/* body: u8 mode | bytes16 policy | u16 rows | scheme ct | (CCA) c_k[32] */
static fkex_err ct_encode(fkex_abe_ct *ct)
{
    fkex_writer body;
    fkex_writer_init(&body);
    fkex_writer_u8(&body, (uint8_t)ct->mode);
    fkex_writer_bytes16(&body, ct->policy, strlen(ct->policy));
    fkex_writer_u16(&body, (uint16_t)ct->lsss->rows);
    ct->scheme->ct_encode(&body, ct->impl, ct->lsss->rows);
    if (ct->mode == FKEX_ABE_CCA)
        fkex_writer_put(&body, ct->masked_k, 32);
    return fkex_object_wrap(&ct->bytes, &ct->len, FKEX_KIND_CIPHERTEXT, ct->scheme->id, ct->fp, &body);
}

/* A ciphertext shell for a policy: canonical text, LSSS, scheme storage. */
static fkex_err ct_alloc(fkex_abe_ct **out, const fkex_abe_scheme *scheme, const fkex_policy *policy)
{
    fkex_abe_ct *ct = calloc(1, sizeof *ct);
    fkex_err err;
    *out = NULL;
    if (!ct)
        return FKEX_ERR_NO_MEMORY;
    ct->scheme = scheme;
    if ((err = fkex_policy_print(&ct->policy, policy)) != FKEX_OK ||
        (err = fkex_lsss_compile(&ct->lsss, policy)) != FKEX_OK) {
        fkex_abe_ct_free(ct);
        return err;
    }
    if (strlen(ct->policy) > FKEX_POLICY_MAX_TEXT || ct->lsss->rows > FKEX_POLICY_MAX_LEAVES) {
        fkex_abe_ct_free(ct);
        return FKEX_ERR_POLICY_LIMIT;
    }
    ct->impl_size = scheme->ct_size(ct->lsss->rows);
    if (!(ct->impl = calloc(1, ct->impl_size))) {
        fkex_abe_ct_free(ct);
        return FKEX_ERR_NO_MEMORY;
    }
    *out = ct;
    return FKEX_OK;
}

fkex_err fkex_abe_encap(uint8_t key[32], fkex_abe_ct **out, const fkex_mpk *mpk,
                        const fkex_policy *policy, fkex_abe_mode mode, fkex_rng *rng)
{
    fkex_abe_ct *ct;
    fkex_gt z;
    fkex_rng coins;
    uint8_t k[32], mask[32];
    fkex_err err;

    *out = NULL;
    if (mode != FKEX_ABE_CPA && mode != FKEX_ABE_CCA)
        return FKEX_ERR_ARGUMENT;
    if ((err = ct_alloc(&ct, mpk->scheme, policy)) != FKEX_OK)
        return err;
    ct->mode = mode;
    memcpy(ct->fp, mpk->fp, 32);

    if (mode == FKEX_ABE_CPA) {
        err = mpk->scheme->encap(&z, ct->impl, mpk->impl, ct->lsss, rng);
        if (err == FKEX_OK && (err = ct_encode(ct)) == FKEX_OK)
            gt_kdf(key, "fkex v1 abe cpa key", &z, ct->bytes, ct->len);
    } else {
        fkex_rng_fill(rng, k, sizeof k);
        fo_coins(&coins, ct, k);
        err = mpk->scheme->encap(&z, ct->impl, mpk->impl, ct->lsss, &coins);
        if (err == FKEX_OK) {
            gt_kdf(mask, "fkex v1 abe fo mask", &z, NULL, 0);
            for (int i = 0; i < 32; i++)
                ct->masked_k[i] = k[i] ^ mask[i];
            if ((err = ct_encode(ct)) == FKEX_OK) {
                part parts[2] = { { k, 32 }, { ct->bytes, ct->len } };
                kdf(key, "fkex v1 abe cca key", parts, 2);
            }
        }
    }
    sodium_memzero(&z, sizeof z);
    sodium_memzero(&coins, sizeof coins);
    sodium_memzero(k, sizeof k);
    sodium_memzero(mask, sizeof mask);
    if (err != FKEX_OK) {
        fkex_abe_ct_free(ct);
        return err;
    }
    *out = ct;
    return FKEX_OK;
}

static fkex_err ct_decode_body(fkex_abe_ct **out, const fkex_abe_scheme *scheme,
                               const fkex_header *h, fkex_reader *r)
{
    uint8_t mode;
    uint16_t rows;
    const uint8_t *p;
    size_t plen;
    fkex_policy *policy = NULL;
    fkex_policy_error perr;
    fkex_abe_ct *ct = NULL;
    fkex_err err;

    if (fkex_reader_u8(r, &mode) != 0 || fkex_reader_bytes16(r, &p, &plen) != 0)
        return FKEX_ERR_TRUNCATED;
    if (mode != FKEX_ABE_CPA && mode != FKEX_ABE_CCA)
        return FKEX_ERR_UNSUPPORTED;
    if (fkex_policy_parse(&policy, (const char *)p, plen, &perr) != FKEX_OK)
        return FKEX_ERR_BAD_ENCODING;
    err = ct_alloc(&ct, scheme, policy);
    fkex_policy_free(policy);
    if (err != FKEX_OK)
        return err == FKEX_ERR_NO_MEMORY ? err : FKEX_ERR_BAD_ENCODING;
    ct->mode = (fkex_abe_mode)mode;
    memcpy(ct->fp, h->fingerprint, 32);
    /* Canonical: the policy text is exactly what we would print. */
    if (strlen(ct->policy) != plen || memcmp(ct->policy, p, plen) != 0)
        err = FKEX_ERR_BAD_ENCODING;
    else if (fkex_reader_u16(r, &rows) != 0)
        err = FKEX_ERR_TRUNCATED;
    else if (rows != ct->lsss->rows)
        err = FKEX_ERR_BAD_ENCODING;
    else if ((err = ct->scheme->ct_decode(ct->impl, r, rows)) == FKEX_OK && mode == FKEX_ABE_CCA &&
             fkex_reader_get(r, ct->masked_k, 32) != 0)
        err = FKEX_ERR_TRUNCATED;
    if (err == FKEX_OK)
        err = fkex_reader_end(r);
    if (err != FKEX_OK) {
        fkex_abe_ct_free(ct);
        return err;
    }
    *out = ct;
    return FKEX_OK;
}

fkex_err fkex_abe_ct_decode(fkex_abe_ct **out, const uint8_t *in, size_t len)
{
    const fkex_abe_scheme *scheme;
    fkex_header h;
    fkex_reader r;
    fkex_err err;
    *out = NULL;
    if ((err = fkex_object_open(&h, &r, in, len, FKEX_KIND_CIPHERTEXT)) != FKEX_OK)
        return err;
    if (!(scheme = scheme_by_id(h.scheme)))
        return FKEX_ERR_WRONG_KIND;   /* e.g. an identity-based ciphertext */
    if ((err = ct_decode_body(out, scheme, &h, &r)) != FKEX_OK)
        return err;
    if (!((*out)->bytes = malloc(len))) {
        fkex_abe_ct_free(*out);
        *out = NULL;
        return FKEX_ERR_NO_MEMORY;
    }
    memcpy((*out)->bytes, in, len);
    (*out)->len = len;
    return FKEX_OK;
}

/* Re-encrypts with the coins that k determines and compares: the FO check. */
static fkex_err fo_check(const fkex_key *sk, const fkex_abe_ct *ct,
                         const uint8_t k[32], const fkex_gt *z)
{
    void *again = calloc(1, ct->impl_size);
    fkex_rng coins;
    fkex_gt z2;
    fkex_err err;
    if (!again)
        return FKEX_ERR_NO_MEMORY;
    fo_coins(&coins, ct, k);
    err = ct->scheme->encap(&z2, again, sk->mpk->impl, ct->lsss, &coins);
    if (err == FKEX_OK)
        err = ct->scheme->ct_equal(again, ct->impl, ct->lsss->rows) && fkex_gt_equal(&z2, z)
                  ? FKEX_OK : FKEX_ERR_AUTHENTICATION;
    sodium_memzero(&coins, sizeof coins);
    sodium_memzero(&z2, sizeof z2);
    free(again);
    return err;
}

fkex_err fkex_abe_decap(uint8_t key[32], const fkex_key *sk, const fkex_abe_ct *ct,
                        fkex_abe_mode mode)
{
    fkex_lsss_solution sol;
    fkex_gt z;
    uint8_t k[32], mask[32];
    fkex_err err;

    if (ct->mode != mode)
        return FKEX_ERR_AUTHENTICATION;
    if (sodium_memcmp(sk->mpk->fp, ct->fp, 32) != 0 || sk->mpk->scheme != ct->scheme)
        return FKEX_ERR_WRONG_AUTHORITY;
    if ((err = fkex_lsss_satisfy(&sol, ct->lsss, (const char *const *)sk->names, sk->nnames)) != FKEX_OK)
        return err;
    ct->scheme->decap(&z, sk->impl, sk->nnames, ct->impl, &sol);
    fkex_lsss_solution_free(&sol);

    if (ct->mode == FKEX_ABE_CPA) {
        gt_kdf(key, "fkex v1 abe cpa key", &z, ct->bytes, ct->len);
    } else {
        gt_kdf(mask, "fkex v1 abe fo mask", &z, NULL, 0);
        for (int i = 0; i < 32; i++)
            k[i] = ct->masked_k[i] ^ mask[i];
        if ((err = fo_check(sk, ct, k, &z)) == FKEX_OK) {
            part parts[2] = { { k, 32 }, { ct->bytes, ct->len } };
            kdf(key, "fkex v1 abe cca key", parts, 2);
        }
    }
    sodium_memzero(&z, sizeof z);
    sodium_memzero(k, sizeof k);
    sodium_memzero(mask, sizeof mask);
    return err;
}

const char *fkex_abe_ct_policy(const fkex_abe_ct *ct) { return ct->policy; }
fkex_abe_mode fkex_abe_ct_mode(const fkex_abe_ct *ct) { return ct->mode; }
size_t fkex_abe_ct_rows(const fkex_abe_ct *ct) { return ct->lsss->rows; }
void fkex_abe_ct_fingerprint(uint8_t fp[32], const fkex_abe_ct *ct) { memcpy(fp, ct->fp, 32); }

void fkex_abe_ct_bytes(const uint8_t **bytes, size_t *len, const fkex_abe_ct *ct)
{
    *bytes = ct->bytes;
    *len = ct->len;
}

const fkex_abe_scheme *fkex_abe_ct_scheme(const fkex_abe_ct *ct) { return ct->scheme; }
const void *fkex_abe_ct_impl(const fkex_abe_ct *ct) { return ct->impl; }
const fkex_lsss *fkex_abe_ct_lsss(const fkex_abe_ct *ct) { return ct->lsss; }


