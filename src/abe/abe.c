/*
 * abe/abe.c: the generic CP-ABE KEM over a scheme (abe/scheme.h).
 *
 * Owns what every scheme shares: object headers and encodings, the
 * authority fingerprint, key derivation, and the Fujisaki-Okamoto transform
 * that turns the scheme's IND-CPA KEM into an IND-CCA one (as OpenABE does):
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
#include "inner.h"

/* Public parameters carry precomputed tables (a few hundred KiB), so keys
 * share their authority's copy: refs counts the holders. Encryption adds
 * the points it hashes to their cache (abe/hash_cache.h), so they are not
 * immutable: the library is not thread-safe across shared objects. */
struct fkex_abe_mpk {
    const fkex_abe_scheme *scheme;
    uint8_t fp[FKEX_FINGERPRINT_BYTES];
    void *impl;
    fkex_ibe_pub *ibe;           /* Boneh-Franklin parameters, or NULL */
    size_t refs;
};

struct fkex_abe_msk {
    const fkex_abe_scheme *scheme;
    fkex_abe_mpk *mpk;
    void *impl;                  /* sodium_malloc: guarded, wiped on free */
    fkex_ibe_master *ibe;        /* sodium_malloc too, or NULL */
};

struct fkex_abe_key {
    fkex_abe_mpk *mpk;
    char **attrs;                /* user attributes, sorted */
    size_t nattrs;
    char **names;                /* expanded names, sorted; one key part each */
    size_t nnames;
    void *impl;                  /* wiped on free */
    size_t impl_size;
    fkex_ibe_ukey *ibe;          /* the identity key, or NULL; wiped on free */
};

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

const char *fkex_scheme_name(uint8_t scheme)
{
    const fkex_abe_scheme *s = scheme_by_id(scheme);
    if (scheme == FKEX_SCHEME_BF01)
        return "bf01";   /* identity-based ciphertexts only (ibe/ct.c) */
    return s ? s->name : NULL;
}

const char *fkex_scheme_title(uint8_t scheme)
{
    const fkex_abe_scheme *s = scheme_by_id(scheme);
    if (scheme == FKEX_SCHEME_BF01)
        return "Boneh-Franklin 2001 identity-based encryption";
    return s ? s->title : NULL;
}

uint8_t fkex_abe_scheme_id(const char *name)
{
    for (size_t i = 0; i < FKEX_ARRAY_LEN(schemes); i++)
        if (strcmp(schemes[i]->name, name) == 0)
            return schemes[i]->id;
    return 0;
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

/* ---- allocation --------------------------------------------------------- */

static void *secret_alloc(size_t size)
{
    void *p = sodium_malloc(size);
    if (p)
        memset(p, 0, size);
    return p;
}

static void strings_free(char **s, size_t n)
{
    if (!s)
        return;
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

void fkex_abe_mpk_free(fkex_abe_mpk *mpk)
{
    if (!mpk || --mpk->refs > 0)
        return;
    if (mpk->impl && mpk->scheme->mpk_release)
        mpk->scheme->mpk_release(mpk->impl);
    free(mpk->impl);
    free(mpk->ibe);
    free(mpk);
}

void fkex_abe_msk_free(fkex_abe_msk *msk)
{
    if (!msk)
        return;
    sodium_free(msk->impl);   /* sodium_free wipes */
    if (msk->ibe)
        sodium_free(msk->ibe);
    fkex_abe_mpk_free(msk->mpk);
    free(msk);
}

void fkex_abe_key_free(fkex_abe_key *key)
{
    if (!key)
        return;
    if (key->impl) {
        sodium_memzero(key->impl, key->impl_size);
        free(key->impl);
    }
    if (key->ibe) {
        sodium_memzero(key->ibe, sizeof *key->ibe);
        free(key->ibe);
    }
    fkex_abe_mpk_free(key->mpk);
    strings_free(key->attrs, key->nattrs);
    fkex_attrs_free(key->names, key->nnames);
    free(key);
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

void fkex_abe_bytes_free(uint8_t *bytes, size_t len)
{
    if (!bytes)
        return;
    sodium_memzero(bytes, len);
    free(bytes);
}

/* ---- encodings ------------------------------------------------------------- */

/* header || body, from a body writer; wipes the body writer. */
static fkex_err wrap(uint8_t **out, size_t *len, fkex_kind kind, uint8_t scheme,
                     const uint8_t fp[32], fkex_writer *body)
{
    fkex_writer w;
    fkex_err err = FKEX_OK;
    *out = NULL;
    *len = 0;
    fkex_writer_init(&w);
    if (body->failed || body->len > FKEX_BODY_MAX)
        err = body->failed ? FKEX_ERR_NO_MEMORY : FKEX_ERR_POLICY_LIMIT;
    if (err == FKEX_OK) {
        fkex_header_encode(&w, kind, scheme, fp, body->len);
        fkex_writer_put(&w, body->buf, body->len);
        if (w.failed) {
            err = FKEX_ERR_NO_MEMORY;
        } else {
            *out = w.buf;
            *len = w.len;
            w.buf = NULL;
        }
    }
    fkex_writer_free(&w);
    fkex_writer_free(body);
    return err;
}

/* Reads and checks the header, and hands back a reader over the body. */
static fkex_err unwrap(fkex_header *h, fkex_reader *body, const uint8_t *in, size_t len,
                       fkex_kind kind)
{
    fkex_err err;
    if (len < FKEX_HEADER_BYTES)
        return FKEX_ERR_TRUNCATED;
    if ((err = fkex_header_decode(h, in)) != FKEX_OK)
        return err;
    if (h->kind != kind || !scheme_by_id(h->scheme))
        return FKEX_ERR_WRONG_KIND;   /* e.g. an identity-based ciphertext */
    if (len - FKEX_HEADER_BYTES < h->body_len)
        return FKEX_ERR_TRUNCATED;
    if (len - FKEX_HEADER_BYTES > h->body_len)
        return FKEX_ERR_BAD_ENCODING;
    fkex_reader_init(body, in + FKEX_HEADER_BYTES, h->body_len);
    return FKEX_OK;
}

/* An object body's optional IBE section starts with its tag; absent, the
 * body ends (ibe/keys.c). 1 if there is one, 0 if not, -1 if malformed. */
static int ibe_section(fkex_reader *r)
{
    uint8_t tag;
    if (r->off == r->len)
        return 0;
    if (fkex_reader_u8(r, &tag) != 0 || tag != FKEX_IBE_SECTION)
        return -1;
    return 1;
}

/* The scheme's public parameters, then the IBE section if any. */
static void mpk_body(fkex_writer *w, const fkex_abe_mpk *mpk)
{
    mpk->scheme->mpk_encode(w, mpk->impl);
    if (mpk->ibe)
        fkex_ibe_pub_encode(w, mpk->ibe);
}

/* fingerprint = SHA-256("fkex v1 authority" || 0 || scheme || curve || mpk body),
 * the body with its IBE section: one fingerprint names both. */
static fkex_err mpk_fingerprint(fkex_abe_mpk *mpk)
{
    fkex_writer w;
    crypto_hash_sha256_state st;
    static const char label[] = "fkex v1 authority";
    const uint8_t ids[2] = { mpk->scheme->id, FKEX_CURVE_BLS12_381 };
    fkex_writer_init(&w);
    mpk_body(&w, mpk);
    if (w.failed) {
        fkex_writer_free(&w);
        return FKEX_ERR_NO_MEMORY;
    }
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)label, sizeof label);
    crypto_hash_sha256_update(&st, ids, 2);
    crypto_hash_sha256_update(&st, w.buf, w.len);
    crypto_hash_sha256_final(&st, mpk->fp);
    fkex_writer_free(&w);
    return FKEX_OK;
}

fkex_err fkex_abe_mpk_encode(uint8_t **out, size_t *len, const fkex_abe_mpk *mpk)
{
    fkex_writer body;
    fkex_writer_init(&body);
    mpk_body(&body, mpk);
    return wrap(out, len, FKEX_KIND_PUBLIC_PARAMS, mpk->scheme->id, mpk->fp, &body);
}

static fkex_err mpk_alloc(fkex_abe_mpk **out, const fkex_abe_scheme *scheme)
{
    fkex_abe_mpk *mpk = calloc(1, sizeof *mpk);
    if (!mpk)
        return FKEX_ERR_NO_MEMORY;
    mpk->scheme = scheme;
    mpk->refs = 1;
    if (!(mpk->impl = calloc(1, scheme->mpk_size))) {
        free(mpk);
        return FKEX_ERR_NO_MEMORY;
    }
    *out = mpk;
    return FKEX_OK;
}

static fkex_err mpk_decode_ibe(fkex_abe_mpk *mpk, fkex_reader *r)
{
    int has = ibe_section(r);
    if (has <= 0)
        return has == 0 ? FKEX_OK : FKEX_ERR_BAD_ENCODING;
    if (!(mpk->ibe = calloc(1, sizeof *mpk->ibe)))
        return FKEX_ERR_NO_MEMORY;
    return fkex_ibe_pub_decode(mpk->ibe, r);
}

fkex_err fkex_abe_mpk_decode(fkex_abe_mpk **out, const uint8_t *in, size_t len)
{
    fkex_header h;
    fkex_reader r;
    fkex_abe_mpk *mpk;
    fkex_err err;
    *out = NULL;
    if ((err = unwrap(&h, &r, in, len, FKEX_KIND_PUBLIC_PARAMS)) != FKEX_OK)
        return err;
    if ((err = mpk_alloc(&mpk, scheme_by_id(h.scheme))) != FKEX_OK)
        return err;
    if ((err = mpk->scheme->mpk_decode(mpk->impl, &r)) == FKEX_OK &&
        (err = mpk_decode_ibe(mpk, &r)) == FKEX_OK &&
        (err = fkex_reader_end(&r)) == FKEX_OK &&
        (err = mpk_fingerprint(mpk)) == FKEX_OK &&
        sodium_memcmp(mpk->fp, h.fingerprint, 32) != 0)
        err = FKEX_ERR_BAD_ENCODING;
    if (err != FKEX_OK) {
        fkex_abe_mpk_free(mpk);
        return err;
    }
    *out = mpk;
    return FKEX_OK;
}

static fkex_err msk_finish(fkex_abe_msk *msk)
{
    fkex_err err = mpk_alloc(&msk->mpk, msk->scheme);
    if (err != FKEX_OK)
        return err;
    msk->scheme->mpk_from_msk(msk->mpk->impl, msk->impl);
    if (msk->ibe) {
        if (!(msk->mpk->ibe = calloc(1, sizeof *msk->mpk->ibe)))
            return FKEX_ERR_NO_MEMORY;
        fkex_ibe_pub_from_master(msk->mpk->ibe, msk->ibe);
    }
    return mpk_fingerprint(msk->mpk);
}

static fkex_err msk_alloc(fkex_abe_msk **out, const fkex_abe_scheme *scheme)
{
    fkex_abe_msk *msk = calloc(1, sizeof *msk);
    if (!msk)
        return FKEX_ERR_NO_MEMORY;
    msk->scheme = scheme;
    if (!(msk->impl = secret_alloc(scheme->msk_size))) {
        free(msk);
        return FKEX_ERR_NO_MEMORY;
    }
    *out = msk;
    return FKEX_OK;
}

fkex_err fkex_abe_setup(fkex_abe_mpk **mpk, fkex_abe_msk **msk, const char *name, fkex_rng *rng)
{
    const fkex_abe_scheme *scheme = scheme_by_id(fkex_abe_scheme_id(name));
    fkex_abe_msk *m;
    fkex_err err;
    *mpk = NULL;
    *msk = NULL;
    if (!scheme)
        return FKEX_ERR_UNSUPPORTED;
    if ((err = msk_alloc(&m, scheme)) != FKEX_OK)
        return err;
    scheme->setup(m->impl, rng);
    if ((err = msk_finish(m)) != FKEX_OK) {
        fkex_abe_msk_free(m);
        return err;
    }
    /* The caller gets its own copy of the public parameters. */
    uint8_t *bytes;
    size_t len;
    if ((err = fkex_abe_mpk_encode(&bytes, &len, m->mpk)) == FKEX_OK) {
        err = fkex_abe_mpk_decode(mpk, bytes, len);
        free(bytes);
    }
    if (err != FKEX_OK) {
        fkex_abe_msk_free(m);
        return err;
    }
    *msk = m;
    return FKEX_OK;
}

fkex_err fkex_abe_msk_encode(uint8_t **out, size_t *len, const fkex_abe_msk *msk)
{
    fkex_writer body;
    fkex_writer_init(&body);
    msk->scheme->msk_encode(&body, msk->impl);
    if (msk->ibe)
        fkex_ibe_master_encode(&body, msk->ibe);
    return wrap(out, len, FKEX_KIND_MASTER_KEY, msk->scheme->id, msk->mpk->fp, &body);
}

static fkex_err msk_decode_ibe(fkex_abe_msk *msk, fkex_reader *r)
{
    int has = ibe_section(r);
    if (has <= 0)
        return has == 0 ? FKEX_OK : FKEX_ERR_BAD_ENCODING;
    if (!(msk->ibe = secret_alloc(sizeof *msk->ibe)))
        return FKEX_ERR_NO_MEMORY;
    return fkex_ibe_master_decode(msk->ibe, r);
}

fkex_err fkex_abe_msk_decode(fkex_abe_msk **out, const uint8_t *in, size_t len)
{
    fkex_header h;
    fkex_reader r;
    fkex_abe_msk *msk;
    fkex_err err;
    *out = NULL;
    if ((err = unwrap(&h, &r, in, len, FKEX_KIND_MASTER_KEY)) != FKEX_OK)
        return err;
    if ((err = msk_alloc(&msk, scheme_by_id(h.scheme))) != FKEX_OK)
        return err;
    if ((err = msk->scheme->msk_decode(msk->impl, &r)) == FKEX_OK &&
        (err = msk_decode_ibe(msk, &r)) == FKEX_OK &&
        (err = fkex_reader_end(&r)) == FKEX_OK &&
        (err = msk_finish(msk)) == FKEX_OK &&
        sodium_memcmp(msk->mpk->fp, h.fingerprint, 32) != 0)
        err = FKEX_ERR_BAD_ENCODING;
    if (err != FKEX_OK) {
        fkex_abe_msk_free(msk);
        return err;
    }
    *out = msk;
    return FKEX_OK;
}

/* ---- user keys ------------------------------------------------------------ */

static int strcmp_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted copies of the user attributes, and their expansion. */
/* The rules for a key's attributes: at most FKEX_POLICY_MAX_LEAVES, each
 * valid, no repeats, and at most FKEX_KEY_MAX_NAMES names expanded (48 B
 * per name: the bound keeps every key well under FKEX_BODY_MAX). */
static fkex_err attrs_expand_checked(char ***names, size_t *nnames, const char *const *attrs,
                                     size_t n)
{
    fkex_err err;
    *names = NULL;
    *nnames = 0;
    if (n > FKEX_POLICY_MAX_LEAVES)
        return FKEX_ERR_POLICY_LIMIT;
    for (size_t i = 0; i < n; i++)
        if ((err = fkex_attr_check(attrs[i])) != FKEX_OK)
            return err;
    if ((err = fkex_attrs_expand(names, nnames, attrs, n)) != FKEX_OK)
        return err;
    return *nnames > FKEX_KEY_MAX_NAMES ? FKEX_ERR_POLICY_LIMIT : FKEX_OK;
}

fkex_err fkex_abe_attrs_check(const char *const *attrs, size_t n)
{
    char **names;
    size_t nnames;
    fkex_err err = attrs_expand_checked(&names, &nnames, attrs, n);
    fkex_attrs_free(names, nnames);
    return err;
}

static fkex_err key_attrs(fkex_abe_key *key, const char *const *attrs, size_t n)
{
    fkex_err err;
    if ((err = attrs_expand_checked(&key->names, &key->nnames, attrs, n)) != FKEX_OK)
        return err;
    if (!(key->attrs = calloc(n ? n : 1, sizeof *key->attrs)))
        return FKEX_ERR_NO_MEMORY;
    for (size_t i = 0; i < n; i++) {
        if (!(key->attrs[i] = strdup(attrs[i])))
            return FKEX_ERR_NO_MEMORY;
        key->nattrs = i + 1;
    }
    qsort(key->attrs, n, sizeof *key->attrs, strcmp_ptr);
    key->impl_size = key->mpk->scheme->key_size(key->nnames);
    /* Plain heap, wiped on free: sodium_malloc's guard pages and mlock cost
     * more than the rest of a small key's generation. The master key keeps
     * them. */
    if (!(key->impl = calloc(1, key->impl_size)))
        return FKEX_ERR_NO_MEMORY;
    return FKEX_OK;
}

fkex_err fkex_abe_keygen(fkex_abe_key **out, const fkex_abe_msk *msk,
                         const char *const *attrs, size_t nattrs, fkex_rng *rng)
{
    fkex_abe_key *key = calloc(1, sizeof *key);
    fkex_err err;
    *out = NULL;
    if (!key)
        return FKEX_ERR_NO_MEMORY;
    key->mpk = msk->mpk;
    key->mpk->refs++;
    if ((err = key_attrs(key, attrs, nattrs)) != FKEX_OK) {
        fkex_abe_key_free(key);
        return err;
    }
    msk->scheme->keygen(key->impl, msk->impl, msk->mpk->impl, key->nnames,
                        (const char *const *)key->names, rng);
    *out = key;
    return FKEX_OK;
}

/* body: u32 len || mpk object | u16 n | n x bytes16 attribute | scheme key */
fkex_err fkex_abe_key_encode(uint8_t **out, size_t *len, const fkex_abe_key *key)
{
    fkex_writer body;
    uint8_t *mpk;
    size_t mpk_len;
    fkex_err err;
    if ((err = fkex_abe_mpk_encode(&mpk, &mpk_len, key->mpk)) != FKEX_OK)
        return err;
    fkex_writer_init(&body);
    fkex_writer_u32(&body, (uint32_t)mpk_len);
    fkex_writer_put(&body, mpk, mpk_len);
    free(mpk);
    fkex_writer_u16(&body, (uint16_t)key->nattrs);
    for (size_t i = 0; i < key->nattrs; i++)
        fkex_writer_bytes16(&body, key->attrs[i], strlen(key->attrs[i]));
    key->mpk->scheme->key_encode(&body, key->impl, key->nnames);
    if (key->ibe)
        fkex_ibe_ukey_encode(&body, key->ibe);
    return wrap(out, len, FKEX_KIND_USER_KEY, key->mpk->scheme->id, key->mpk->fp, &body);
}

static fkex_err key_decode_body(fkex_abe_key *key, const fkex_header *h, fkex_reader *r)
{
    uint32_t mpk_len;
    uint16_t n;
    const uint8_t *p;
    fkex_err err;
    char **attrs = NULL;

    if (fkex_reader_u32(r, &mpk_len) != 0 || fkex_reader_view(r, &p, mpk_len) != 0)
        return FKEX_ERR_TRUNCATED;
    if ((err = fkex_abe_mpk_decode(&key->mpk, p, mpk_len)) != FKEX_OK)
        return err;
    if (sodium_memcmp(key->mpk->fp, h->fingerprint, 32) != 0 || key->mpk->scheme->id != h->scheme)
        return FKEX_ERR_BAD_ENCODING;
    if (fkex_reader_u16(r, &n) != 0)
        return FKEX_ERR_TRUNCATED;
    if (!(attrs = calloc(n ? n : 1, sizeof *attrs)))
        return FKEX_ERR_NO_MEMORY;
    err = FKEX_OK;
    for (size_t i = 0; i < n && err == FKEX_OK; i++) {
        size_t alen;
        if (fkex_reader_bytes16(r, &p, &alen) != 0)
            err = FKEX_ERR_TRUNCATED;
        else if (alen == 0 || alen > FKEX_ATTR_MAX_LEN || memchr(p, 0, alen))
            err = FKEX_ERR_BAD_ENCODING;
        else if (!(attrs[i] = malloc(alen + 1)))
            err = FKEX_ERR_NO_MEMORY;
        else {
            memcpy(attrs[i], p, alen);
            attrs[i][alen] = '\0';
            /* Canonical: strictly ascending. */
            if (i > 0 && strcmp(attrs[i - 1], attrs[i]) >= 0)
                err = FKEX_ERR_BAD_ENCODING;
        }
    }
    if (err == FKEX_OK)
        err = key_attrs(key, (const char *const *)attrs, n);
    if (err == FKEX_ERR_ATTRIBUTE || err == FKEX_ERR_POLICY_LIMIT)
        err = FKEX_ERR_BAD_ENCODING;
    strings_free(attrs, n);
    if (err != FKEX_OK)
        return err;
    if ((err = key->mpk->scheme->key_decode(key->impl, r, key->mpk->impl,
                                            (const char *const *)key->names, key->nnames)) !=
        FKEX_OK)
        return err;
    int has = ibe_section(r);
    /* An identity key needs its authority's IBE parameters. */
    if (has < 0 || (has && !key->mpk->ibe))
        return FKEX_ERR_BAD_ENCODING;
    if (has) {
        if (!(key->ibe = calloc(1, sizeof *key->ibe)))
            return FKEX_ERR_NO_MEMORY;
        if ((err = fkex_ibe_ukey_decode(key->ibe, r)) != FKEX_OK)
            return err;
        if (!fkex_ibe_ukey_matches(key->ibe, key->mpk->ibe))
            return FKEX_ERR_AUTHENTICATION;   /* an identity edited in the file */
    }
    return fkex_reader_end(r);
}

fkex_err fkex_abe_key_decode(fkex_abe_key **out, const uint8_t *in, size_t len)
{
    fkex_header h;
    fkex_reader r;
    fkex_abe_key *key;
    fkex_err err;
    *out = NULL;
    if ((err = unwrap(&h, &r, in, len, FKEX_KIND_USER_KEY)) != FKEX_OK)
        return err;
    if (!(key = calloc(1, sizeof *key)))
        return FKEX_ERR_NO_MEMORY;
    if ((err = key_decode_body(key, &h, &r)) != FKEX_OK) {
        fkex_abe_key_free(key);
        return err;
    }
    *out = key;
    return FKEX_OK;
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
    return wrap(&ct->bytes, &ct->len, FKEX_KIND_CIPHERTEXT, ct->scheme->id, ct->fp, &body);
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

fkex_err fkex_abe_encap(uint8_t key[32], fkex_abe_ct **out, const fkex_abe_mpk *mpk,
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

static fkex_err ct_decode_body(fkex_abe_ct **out, const fkex_header *h, fkex_reader *r)
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
    err = ct_alloc(&ct, scheme_by_id(h->scheme), policy);
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
    fkex_header h;
    fkex_reader r;
    fkex_err err;
    *out = NULL;
    if ((err = unwrap(&h, &r, in, len, FKEX_KIND_CIPHERTEXT)) != FKEX_OK)
        return err;
    if ((err = ct_decode_body(out, &h, &r)) != FKEX_OK)
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
static fkex_err fo_check(const fkex_abe_key *sk, const fkex_abe_ct *ct,
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

fkex_err fkex_abe_decap(uint8_t key[32], const fkex_abe_key *sk, const fkex_abe_ct *ct,
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

/* ---- accessors ------------------------------------------------------------ */

const fkex_abe_mpk *fkex_abe_msk_mpk(const fkex_abe_msk *msk) { return msk->mpk; }
const fkex_abe_mpk *fkex_abe_key_mpk(const fkex_abe_key *key) { return key->mpk; }
void fkex_abe_mpk_fingerprint(uint8_t fp[32], const fkex_abe_mpk *mpk) { memcpy(fp, mpk->fp, 32); }
uint8_t fkex_abe_mpk_scheme(const fkex_abe_mpk *mpk) { return mpk->scheme->id; }

void fkex_abe_key_attrs(const char *const **attrs, size_t *n, const fkex_abe_key *key)
{
    *attrs = (const char *const *)key->attrs;
    *n = key->nattrs;
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
const void *fkex_abe_mpk_impl(const fkex_abe_mpk *mpk) { return mpk->impl; }
const void *fkex_abe_key_impl(const fkex_abe_key *key) { return key->impl; }
const void *fkex_abe_ct_impl(const fkex_abe_ct *ct) { return ct->impl; }
const fkex_lsss *fkex_abe_ct_lsss(const fkex_abe_ct *ct) { return ct->lsss; }

void fkex_abe_key_names(const char *const **names, size_t *n, const fkex_abe_key *key)
{
    *names = (const char *const *)key->names;
    *n = key->nnames;
}

/* ---- what the IBE layer keeps here (ibe/ibe.h) ------------------------------ */

const fkex_ibe_pub *fkex_abe_mpk_ibe(const fkex_abe_mpk *mpk) { return mpk->ibe; }
const fkex_ibe_master *fkex_abe_msk_ibe(const fkex_abe_msk *msk) { return msk->ibe; }
const fkex_ibe_ukey *fkex_abe_key_ibe(const fkex_abe_key *key) { return key->ibe; }

fkex_err fkex_abe_msk_set_ibe(fkex_abe_msk *msk, fkex_ibe_master *m)
{
    /* Keys issued before keep the old public parameters (reference counted). */
    msk->ibe = m;
    fkex_abe_mpk_free(msk->mpk);
    msk->mpk = NULL;
    return msk_finish(msk);
}

void fkex_abe_key_set_ibe(fkex_abe_key *key, fkex_ibe_ukey *uk)
{
    key->ibe = uk;
}
