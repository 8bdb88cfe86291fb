/*
 * authority/authority.c: the authority's objects (authority/authority.h):
 * allocation, encodings, decoding given the scheme, and accessors.
 *
 *   public parameters  scheme part | IBE section?
 *   master key         scheme part | IBE section?
 *   user key           u32 len | public parameters object | u16 n |
 *                      n x bytes16 attribute | scheme part | IBE section?
 *
 * The fingerprint names the authority: SHA-256 of a label, the scheme and
 * curve, and the public parameters' body, IBE section included.
 */
#include <stdlib.h>
#include "authority/authority.h"

/* ---- allocation --------------------------------------------------------- */

void *fkex_secret_alloc(size_t size)
{
    /* sodium_malloc aborts unless libsodium was initialised: a caller that
     * skipped fkex_init gets it done here (idempotent, thread-safe). */
    void *p = sodium_init() < 0 ? NULL : sodium_malloc(size);
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

void fkex_mpk_free(fkex_mpk *mpk)
{
    if (!mpk || --mpk->refs > 0)
        return;
    if (mpk->impl && mpk->scheme->mpk_release)
        mpk->scheme->mpk_release(mpk->impl);
    free(mpk->impl);
    if (mpk->ibe)
        fkex_ibe_pub_clear(mpk->ibe);
    free(mpk->ibe);
    free(mpk);
}

void fkex_msk_free(fkex_msk *msk)
{
    if (!msk)
        return;
    sodium_free(msk->impl);   /* sodium_free wipes */
    if (msk->ibe)
        sodium_free(msk->ibe);
    fkex_mpk_free(msk->mpk);
    free(msk);
}

void fkex_key_free(fkex_key *key)
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
    fkex_mpk_free(key->mpk);
    strings_free(key->attrs, key->nattrs);
    fkex_attrs_free(key->names, key->nnames);
    free(key);
}


/* ---- encodings ------------------------------------------------------------- */

fkex_err fkex_object_wrap(uint8_t **out, size_t *len, fkex_kind kind, uint8_t scheme,
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

fkex_err fkex_object_open(fkex_header *h, fkex_reader *body, const uint8_t *in, size_t len,
                       fkex_kind kind)
{
    fkex_err err;
    if (len < FKEX_HEADER_BYTES)
        return FKEX_ERR_TRUNCATED;
    if ((err = fkex_header_decode(h, in)) != FKEX_OK)
        return err;
    if (h->kind != kind)
        return FKEX_ERR_WRONG_KIND;
    if (len - FKEX_HEADER_BYTES < h->body_len)
        return FKEX_ERR_TRUNCATED;
    if (len - FKEX_HEADER_BYTES > h->body_len)
        return FKEX_ERR_BAD_ENCODING;
    fkex_reader_init(body, in + FKEX_HEADER_BYTES, h->body_len);
    return FKEX_OK;
}

/* An object body's optional IBE section starts with its tag; absent, the
 * body ends (ibe_keys.c). 1 if there is one, 0 if not, -1 if malformed. */
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
static void mpk_body(fkex_writer *w, const fkex_mpk *mpk)
{
    mpk->scheme->mpk_encode(w, mpk->impl);
    if (mpk->ibe)
        fkex_ibe_pub_encode(w, mpk->ibe);
}

/* fingerprint = SHA-256("fkex v1 authority" || 0 || scheme || curve || mpk body),
 * the body with its IBE section: one fingerprint names both. */
static fkex_err mpk_fingerprint(fkex_mpk *mpk)
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

fkex_err fkex_mpk_encode(uint8_t **out, size_t *len, const fkex_mpk *mpk)
{
    fkex_writer body;
    fkex_writer_init(&body);
    mpk_body(&body, mpk);
    return fkex_object_wrap(out, len, FKEX_KIND_PUBLIC_PARAMS, mpk->scheme->id, mpk->fp, &body);
}

static fkex_err mpk_alloc(fkex_mpk **out, const fkex_abe_scheme *scheme)
{
    fkex_mpk *mpk = calloc(1, sizeof *mpk);
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

fkex_err fkex_mpk_copy(fkex_mpk **out, const fkex_mpk *mpk)
{
    uint8_t *bytes;
    size_t len;
    fkex_err err;
    *out = NULL;
    if ((err = fkex_mpk_encode(&bytes, &len, mpk)) != FKEX_OK)
        return err;
    err = fkex_mpk_decode_scheme(out, mpk->scheme, bytes, len);
    free(bytes);
    return err;
}

static fkex_err mpk_decode_ibe(fkex_mpk *mpk, fkex_reader *r)
{
    int has = ibe_section(r);
    if (has <= 0)
        return has == 0 ? FKEX_OK : FKEX_ERR_BAD_ENCODING;
    if (!(mpk->ibe = calloc(1, sizeof *mpk->ibe)))
        return FKEX_ERR_NO_MEMORY;
    return fkex_ibe_pub_decode(mpk->ibe, r);
}

fkex_err fkex_mpk_decode_scheme(fkex_mpk **out, const fkex_abe_scheme *scheme,
                                const uint8_t *in, size_t len)
{
    fkex_header h;
    fkex_reader r;
    fkex_mpk *mpk;
    fkex_err err;
    *out = NULL;
    if ((err = fkex_object_open(&h, &r, in, len, FKEX_KIND_PUBLIC_PARAMS)) != FKEX_OK)
        return err;
    if (!scheme || scheme->id != h.scheme)
        return FKEX_ERR_WRONG_KIND;
    if ((err = mpk_alloc(&mpk, scheme)) != FKEX_OK)
        return err;
    if ((err = mpk->scheme->mpk_decode(mpk->impl, &r)) == FKEX_OK &&
        (err = mpk_decode_ibe(mpk, &r)) == FKEX_OK &&
        (err = fkex_reader_end(&r)) == FKEX_OK &&
        (err = mpk_fingerprint(mpk)) == FKEX_OK &&
        sodium_memcmp(mpk->fp, h.fingerprint, 32) != 0)
        err = FKEX_ERR_BAD_ENCODING;
    if (err != FKEX_OK) {
        fkex_mpk_free(mpk);
        return err;
    }
    *out = mpk;
    return FKEX_OK;
}

fkex_err fkex_msk_finish(fkex_msk *msk)
{
    fkex_err err = mpk_alloc(&msk->mpk, msk->scheme);
    if (err != FKEX_OK)
        return err;
    if ((err = msk->scheme->mpk_from_msk(msk->mpk->impl, msk->impl)) != FKEX_OK)
        return err;
    if (msk->ibe) {
        if (!(msk->mpk->ibe = calloc(1, sizeof *msk->mpk->ibe)))
            return FKEX_ERR_NO_MEMORY;
        if ((err = fkex_ibe_pub_from_master(msk->mpk->ibe, msk->ibe)) != FKEX_OK)
            return err;
    }
    return mpk_fingerprint(msk->mpk);
}

fkex_err fkex_msk_alloc(fkex_msk **out, const fkex_abe_scheme *scheme)
{
    fkex_msk *msk = calloc(1, sizeof *msk);
    if (!msk)
        return FKEX_ERR_NO_MEMORY;
    msk->scheme = scheme;
    if (!(msk->impl = fkex_secret_alloc(scheme->msk_size))) {
        free(msk);
        return FKEX_ERR_NO_MEMORY;
    }
    *out = msk;
    return FKEX_OK;
}

fkex_err fkex_msk_encode(uint8_t **out, size_t *len, const fkex_msk *msk)
{
    fkex_writer body;
    fkex_writer_init(&body);
    msk->scheme->msk_encode(&body, msk->impl);
    if (msk->ibe)
        fkex_ibe_master_encode(&body, msk->ibe);
    return fkex_object_wrap(out, len, FKEX_KIND_MASTER_KEY, msk->scheme->id, msk->mpk->fp, &body);
}

static fkex_err msk_decode_ibe(fkex_msk *msk, fkex_reader *r)
{
    int has = ibe_section(r);
    if (has <= 0)
        return has == 0 ? FKEX_OK : FKEX_ERR_BAD_ENCODING;
    if (!(msk->ibe = fkex_secret_alloc(sizeof *msk->ibe)))
        return FKEX_ERR_NO_MEMORY;
    return fkex_ibe_master_decode(msk->ibe, r);
}

fkex_err fkex_msk_decode_scheme(fkex_msk **out, const fkex_abe_scheme *scheme,
                                const uint8_t *in, size_t len)
{
    fkex_header h;
    fkex_reader r;
    fkex_msk *msk;
    fkex_err err;
    *out = NULL;
    if ((err = fkex_object_open(&h, &r, in, len, FKEX_KIND_MASTER_KEY)) != FKEX_OK)
        return err;
    if (!scheme || scheme->id != h.scheme)
        return FKEX_ERR_WRONG_KIND;
    if ((err = fkex_msk_alloc(&msk, scheme)) != FKEX_OK)
        return err;
    if ((err = msk->scheme->msk_decode(msk->impl, &r)) == FKEX_OK &&
        (err = msk_decode_ibe(msk, &r)) == FKEX_OK &&
        (err = fkex_reader_end(&r)) == FKEX_OK &&
        (err = fkex_msk_finish(msk)) == FKEX_OK &&
        sodium_memcmp(msk->mpk->fp, h.fingerprint, 32) != 0)
        err = FKEX_ERR_BAD_ENCODING;
    if (err != FKEX_OK) {
        fkex_msk_free(msk);
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

fkex_err fkex_key_attrs_check(const char *const *attrs, size_t n)
{
    char **names;
    size_t nnames;
    fkex_err err = attrs_expand_checked(&names, &nnames, attrs, n);
    fkex_attrs_free(names, nnames);
    return err;
}

static fkex_err key_attrs(fkex_key *key, const char *const *attrs, size_t n)
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

fkex_err fkex_key_alloc(fkex_key **out, const fkex_msk *msk, const char *const *attrs,
                        size_t nattrs)
{
    fkex_key *key = calloc(1, sizeof *key);
    fkex_err err;
    *out = NULL;
    if (!key)
        return FKEX_ERR_NO_MEMORY;
    key->mpk = msk->mpk;
    key->mpk->refs++;
    if ((err = key_attrs(key, attrs, nattrs)) != FKEX_OK) {
        fkex_key_free(key);
        return err;
    }
    *out = key;
    return FKEX_OK;
}

/* body: u32 len || mpk object | u16 n | n x bytes16 attribute | scheme key */
fkex_err fkex_key_encode(uint8_t **out, size_t *len, const fkex_key *key)
{
    fkex_writer body;
    uint8_t *mpk;
    size_t mpk_len;
    fkex_err err;
    if ((err = fkex_mpk_encode(&mpk, &mpk_len, key->mpk)) != FKEX_OK)
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
    return fkex_object_wrap(out, len, FKEX_KIND_USER_KEY, key->mpk->scheme->id, key->mpk->fp, &body);
}

static fkex_err key_decode_body(fkex_key *key, const fkex_abe_scheme *scheme, const fkex_header *h,
                                fkex_reader *r)
{
    uint32_t mpk_len;
    uint16_t n;
    const uint8_t *p;
    fkex_err err;
    char **attrs = NULL;

    if (fkex_reader_u32(r, &mpk_len) != 0 || fkex_reader_view(r, &p, mpk_len) != 0)
        return FKEX_ERR_TRUNCATED;
    /* Public parameters of another scheme than the key's header names: a
     * malformed key, as it always was. */
    if ((err = fkex_mpk_decode_scheme(&key->mpk, scheme, p, mpk_len)) != FKEX_OK)
        return err == FKEX_ERR_WRONG_KIND ? FKEX_ERR_BAD_ENCODING : err;
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

fkex_err fkex_key_decode_scheme(fkex_key **out, const fkex_abe_scheme *scheme,
                                const uint8_t *in, size_t len)
{
    fkex_header h;
    fkex_reader r;
    fkex_key *key;
    fkex_err err;
    *out = NULL;
    if ((err = fkex_object_open(&h, &r, in, len, FKEX_KIND_USER_KEY)) != FKEX_OK)
        return err;
    if (!scheme || scheme->id != h.scheme)
        return FKEX_ERR_WRONG_KIND;
    if (!(key = calloc(1, sizeof *key)))
        return FKEX_ERR_NO_MEMORY;
    if ((err = key_decode_body(key, scheme, &h, &r)) != FKEX_OK) {
        fkex_key_free(key);
        return err;
    }
    *out = key;
    return FKEX_OK;
}

/* ---- accessors ------------------------------------------------------------ */

const fkex_mpk *fkex_msk_mpk(const fkex_msk *msk) { return msk->mpk; }
const fkex_mpk *fkex_key_mpk(const fkex_key *key) { return key->mpk; }
void fkex_mpk_fingerprint(uint8_t fp[32], const fkex_mpk *mpk) { memcpy(fp, mpk->fp, 32); }
uint8_t fkex_mpk_scheme(const fkex_mpk *mpk) { return mpk->scheme->id; }

void fkex_key_attrs(const char *const **attrs, size_t *n, const fkex_key *key)
{
    *attrs = (const char *const *)key->attrs;
    *n = key->nattrs;
}

const void *fkex_mpk_impl(const fkex_mpk *mpk) { return mpk->impl; }
const void *fkex_key_impl(const fkex_key *key) { return key->impl; }

void fkex_key_names(const char *const **names, size_t *n, const fkex_key *key)
{
    *names = (const char *const *)key->names;
    *n = key->nnames;
}

/* ---- the Boneh-Franklin parts ---------------------------------------------- */

int fkex_mpk_has_ibe(const fkex_mpk *mpk) { return mpk->ibe != NULL; }

const char *fkex_key_identity(const fkex_key *key)
{
    return key->ibe ? key->ibe->id : NULL;
}

fkex_err fkex_msk_set_ibe(fkex_msk *msk, fkex_ibe_master *m)
{
    /* Keys issued before keep the old public parameters (reference counted);
     * if the new ones cannot be made, msk stays as it was. */
    fkex_mpk *before = msk->mpk;
    fkex_err err;
    msk->ibe = m;
    msk->mpk = NULL;
    if ((err = fkex_msk_finish(msk)) != FKEX_OK) {
        fkex_mpk_free(msk->mpk);
        msk->mpk = before;
        msk->ibe = NULL;
        sodium_free(m);
        return err;
    }
    fkex_mpk_free(before);
    return FKEX_OK;
}

void fkex_key_set_ibe(fkex_key *key, fkex_ibe_ukey *uk)
{
    key->ibe = uk;
}
