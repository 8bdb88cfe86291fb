/*
 * file/file.c: sealing and opening encrypted files (fkex/file.h).
 *
 *   file = [armor BEGIN] ciphertext object | stream(key, ad = object) [armor END]
 *
 * Opening reads the first bytes to tell armor from a binary object, then
 * hands them back before the rest (a replaying source), so that the armor
 * reader and the object decoder see the file from its first byte.
 */
#include <stdlib.h>
#include "file/file.h"

#define ARMOR_PREFIX 16     /* "-----BEGIN FKEX ": enough to tell armor */

struct fkex_file {
    fkex_source *in;                     /* the caller's */
    uint8_t head[ARMOR_PREFIX];          /* read ahead, replayed first */
    size_t nhead, off;
    fkex_source replay;
    fkex_armor_reader armor;
    fkex_source *src;                    /* the payload: replayed or de-armored */
    fkex_abe_ct *abe;
    fkex_ibe_ct *ibe;
    uint8_t key[32];                     /* the payload's, once unlocked */
    int unlocked, decrypted;
};

/* ---- sealing ----------------------------------------------------------------- */

static fkex_err seal(fkex_sink *out, fkex_source *in, const uint8_t key[32],
                     const uint8_t *ct, size_t ctlen, int armor)
{
    fkex_armor_writer aw;
    fkex_sink *sink = out;
    fkex_err err = FKEX_OK;
    if (armor) {
        err = fkex_armor_writer_begin(&aw, out, fkex_kind_armor(FKEX_KIND_CIPHERTEXT));
        sink = &aw.sink;
    }
    if (err == FKEX_OK)
        err = sink->write(sink, ct, ctlen);
    if (err == FKEX_OK)
        err = fkex_stream_encrypt(sink, in, key, ct, ctlen);
    if (err == FKEX_OK && armor)
        err = fkex_armor_writer_end(&aw);
    return err;
}

fkex_err fkex_file_seal_policy(fkex_sink *out, fkex_source *in, const fkex_mpk *mpk,
                               const fkex_policy *policy, int armor, fkex_rng *rng)
{
    uint8_t key[32];
    fkex_abe_ct *ct;
    const uint8_t *bytes;
    size_t len;
    fkex_err err = fkex_abe_encap(key, &ct, mpk, policy, FKEX_ABE_CCA, rng);
    if (err != FKEX_OK)
        return err;
    fkex_abe_ct_bytes(&bytes, &len, ct);
    err = seal(out, in, key, bytes, len, armor);
    sodium_memzero(key, sizeof key);
    fkex_abe_ct_free(ct);
    return err;
}

fkex_err fkex_file_seal_identity(fkex_sink *out, fkex_source *in, const fkex_mpk *mpk,
                                 const char *identity, int armor, fkex_rng *rng)
{
    uint8_t key[32];
    fkex_ibe_ct *ct;
    const uint8_t *bytes;
    size_t len;
    fkex_err err = fkex_ibe_encap(key, &ct, mpk, identity, rng);
    if (err != FKEX_OK)
        return err;
    fkex_ibe_ct_bytes(&bytes, &len, ct);
    err = seal(out, in, key, bytes, len, armor);
    sodium_memzero(key, sizeof key);
    fkex_ibe_ct_free(ct);
    return err;
}

/* ---- opening ----------------------------------------------------------------- */

static fkex_err replay_read(fkex_source *s, uint8_t *buf, size_t cap, size_t *got)
{
    fkex_file *f = s->ctx;
    if (f->off < f->nhead) {
        size_t n = f->nhead - f->off < cap ? f->nhead - f->off : cap;
        memcpy(buf, f->head + f->off, n);
        f->off += n;
        *got = n;
        return FKEX_OK;
    }
    return f->in->read(f->in, buf, cap, got);
}

/* The object at the head of the payload stream: header, then body, decoded. */
static fkex_err read_object(fkex_file *f, fkex_file_info *info)
{
    uint8_t head[FKEX_HEADER_BYTES], *obj;
    fkex_header h;
    size_t got;
    fkex_err err;

    if ((err = fkex_source_read_full(f->src, head, sizeof head, &got)) != FKEX_OK)
        return err;
    if (got < 4 || memcmp(head, "FKEX", 4) != 0)
        return FKEX_ERR_NOT_FKEX;
    if (got < sizeof head)
        return FKEX_ERR_TRUNCATED;
    if ((err = fkex_header_decode(&h, head)) != FKEX_OK)
        return err;
    info->has_header = 1;
    info->header = h;
    if (h.kind != FKEX_KIND_CIPHERTEXT)
        return FKEX_ERR_WRONG_KIND;
    /* At most FKEX_HEADER_BYTES + FKEX_BODY_MAX (fkex_header_decode). */
    if (!(obj = malloc(sizeof head + h.body_len)))
        return FKEX_ERR_NO_MEMORY;
    memcpy(obj, head, sizeof head);
    err = fkex_source_read_full(f->src, obj + sizeof head, h.body_len, &got);
    if (err == FKEX_OK && got < h.body_len)
        err = FKEX_ERR_TRUNCATED;
    if (err == FKEX_OK && h.scheme == FKEX_SCHEME_BF01)
        err = fkex_ibe_ct_decode(&f->ibe, obj, sizeof head + h.body_len);
    else if (err == FKEX_OK)
        err = fkex_abe_ct_decode(&f->abe, obj, sizeof head + h.body_len);
    free(obj);
    /* The header is one this version reads: a body it cannot (an unknown
     * KEM mode, say) is a damaged file, not a newer one. */
    return err == FKEX_ERR_UNSUPPORTED ? FKEX_ERR_BAD_ENCODING : err;
}

static fkex_err open_file(fkex_file *f, fkex_file_info *info)
{
    fkex_err err = fkex_source_read_full(f->in, f->head, sizeof f->head, &f->nhead);
    if (err != FKEX_OK)
        return err;
    f->replay.read = replay_read;
    f->replay.ctx = f;
    f->src = &f->replay;
    if (fkex_armor_detect(f->head, f->nhead)) {
        info->armored = 1;
        if ((err = fkex_armor_reader_begin(&f->armor, &f->replay)) != FKEX_OK)
            return err;
        memcpy(info->armor_kind, f->armor.kind, sizeof info->armor_kind);
        if (strcmp(f->armor.kind, fkex_kind_armor(FKEX_KIND_CIPHERTEXT)) != 0)
            return FKEX_ERR_WRONG_KIND;
        f->src = &f->armor.source;
    }
    return read_object(f, info);
}

fkex_err fkex_file_open(fkex_file **out, fkex_source *in, fkex_file_info *info)
{
    fkex_file_info scratch;
    fkex_file *f;
    fkex_err err;
    *out = NULL;
    if (!info)
        info = &scratch;
    memset(info, 0, sizeof *info);
    if (!(f = calloc(1, sizeof *f)))
        return FKEX_ERR_NO_MEMORY;
    f->in = in;
    if ((err = open_file(f, info)) != FKEX_OK) {
        fkex_file_free(f);
        return err;
    }
    *out = f;
    return FKEX_OK;
}

fkex_err fkex_file_unlock(fkex_file *f, const fkex_key *key)
{
    fkex_err err = f->abe ? fkex_abe_decap(f->key, key, f->abe, FKEX_ABE_CCA)
                          : fkex_ibe_decap(f->key, key, f->ibe);
    f->unlocked = err == FKEX_OK;
    return err;
}

fkex_err fkex_file_decrypt(fkex_file *f, fkex_sink *out)
{
    const uint8_t *bytes;
    size_t len;
    if (!f->unlocked || f->decrypted)
        return FKEX_ERR_ARGUMENT;
    f->decrypted = 1;
    if (f->abe)
        fkex_abe_ct_bytes(&bytes, &len, f->abe);
    else
        fkex_ibe_ct_bytes(&bytes, &len, f->ibe);
    return fkex_stream_decrypt(out, f->src, f->key, bytes, len);
}

const char *fkex_file_policy(const fkex_file *f) { return f->abe ? fkex_abe_ct_policy(f->abe) : NULL; }
const char *fkex_file_identity(const fkex_file *f) { return f->ibe ? fkex_ibe_ct_identity(f->ibe) : NULL; }
const fkex_abe_ct *fkex_file_abe_ct(const fkex_file *f) { return f->abe; }
const fkex_ibe_ct *fkex_file_ibe_ct(const fkex_file *f) { return f->ibe; }
fkex_source *fkex_file_payload(fkex_file *f) { return f->src; }

void fkex_file_fingerprint(uint8_t fp[FKEX_FINGERPRINT_BYTES], const fkex_file *f)
{
    if (f->abe)
        fkex_abe_ct_fingerprint(fp, f->abe);
    else
        fkex_ibe_ct_fingerprint(fp, f->ibe);
}

void fkex_file_free(fkex_file *f)
{
    if (!f)
        return;
    fkex_abe_ct_free(f->abe);
    fkex_ibe_ct_free(f->ibe);
    sodium_memzero(f->key, sizeof f->key);
    free(f);
}
