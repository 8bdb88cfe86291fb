/*
 * wire/seed_msg.c: canonical encodings of seed mode's four messages
 * (layouts in wire/seed_msg.h).
 *
 * The decoder is strict in the same way as every other fkex decoder: each
 * field is bounds-checked through fkex_reader, counts are bounded before
 * anything is allocated, each ciphertext goes through fkex_abe_ct_decode,
 * and the reader must end exactly at the end of the input. The encoders
 * refuse what the decoder would refuse, so encode and decode are inverse.
 */
#include <stdlib.h>
#include "wire/wire.h"

#define CT_MAX ((size_t)FKEX_HEADER_BYTES + FKEX_BODY_MAX)
/* The least an entry of a KeySet can take: index, length, a header. */
#define ENTRY_MIN (8 + FKEX_HEADER_BYTES)

static int known_type(uint8_t t)
{
    return t == FKEX_SEED_MSG_ENCAP || t == FKEX_SEED_MSG_KEYSET || t == FKEX_SEED_MSG_LEAVE ||
           t == FKEX_SEED_MSG_APP;
}

fkex_err fkex_seed_msg_peek(uint8_t *type, uint8_t room_id[32], uint64_t *epoch,
                            const uint8_t *in, size_t len)
{
    if (len < FKEX_SEED_HEADER_BYTES)
        return FKEX_ERR_TRUNCATED;
    if (in[1] != FKEX_SEED_MSG_VERSION)
        return FKEX_ERR_UNSUPPORTED;
    if (!known_type(in[0]))
        return FKEX_ERR_BAD_ENCODING;
    *type = in[0];
    memcpy(room_id, in + 2, 32);
    *epoch = load64_be(in + 34);
    return FKEX_OK;
}

void fkex_seed_msg_clear(fkex_seed_msg *m)
{
    fkex_abe_ct_free(m->ct);
    for (size_t i = 0; i < m->count; i++)
        fkex_abe_ct_free(m->entries[i].ct);
    free(m->entries);
    free(m->box);
    memset(m, 0, sizeof *m);
}

/* ct_len u32 | ct, parsed strictly. */
static fkex_err get_ct(fkex_abe_ct **ct, fkex_reader *r)
{
    uint32_t n;
    const uint8_t *p;
    *ct = NULL;
    if (fkex_reader_u32(r, &n) != 0)
        return FKEX_ERR_TRUNCATED;
    if (n > CT_MAX)
        return FKEX_ERR_BAD_ENCODING;
    if (fkex_reader_view(r, &p, n) != 0)
        return FKEX_ERR_TRUNCATED;
    return fkex_abe_ct_decode(ct, p, n);
}

static int box_len_ok(size_t n)
{
    return n >= FKEX_SEED_APP_TAG && n <= (size_t)FKEX_SEED_APP_MAX + FKEX_SEED_APP_TAG;
}

static fkex_err decode_body(fkex_seed_msg *m, fkex_reader *r)
{
    uint32_t count;
    fkex_err err;

    switch (m->type) {
    case FKEX_SEED_MSG_ENCAP:
        if (fkex_reader_u32(r, &m->index) != 0)
            return FKEX_ERR_TRUNCATED;
        return get_ct(&m->ct, r);
    case FKEX_SEED_MSG_LEAVE:
        if (fkex_reader_u32(r, &m->index) != 0)
            return FKEX_ERR_TRUNCATED;
        return m->index == FKEX_SEED_NEW ? FKEX_ERR_BAD_ENCODING : FKEX_OK;
    case FKEX_SEED_MSG_APP: {
        uint32_t n;
        const uint8_t *p;
        if (fkex_reader_u32(r, &m->index) != 0 || fkex_reader_get(r, m->nonce, sizeof m->nonce) != 0 ||
            fkex_reader_u32(r, &n) != 0)
            return FKEX_ERR_TRUNCATED;
        if (m->index == FKEX_SEED_NEW || !box_len_ok(n))
            return FKEX_ERR_BAD_ENCODING;
        if (fkex_reader_view(r, &p, n) != 0)
            return FKEX_ERR_TRUNCATED;
        if (!(m->box = malloc(n)))
            return FKEX_ERR_NO_MEMORY;
        memcpy(m->box, p, n);
        m->boxlen = n;
        return FKEX_OK;
    }
    default:   /* FKEX_SEED_MSG_KEYSET */
        if (fkex_reader_u32(r, &count) != 0)
            return FKEX_ERR_TRUNCATED;
        if (count == 0 || count > FKEX_SEED_MAX_MEMBERS)
            return FKEX_ERR_BAD_ENCODING;
        /* Bound the allocation by what the input can hold. */
        if (count > (r->len - r->off) / ENTRY_MIN)
            return FKEX_ERR_TRUNCATED;
        if (!(m->entries = calloc(count, sizeof *m->entries)))
            return FKEX_ERR_NO_MEMORY;
        for (uint32_t i = 0; i < count; i++) {
            fkex_seed_entry *e = &m->entries[i];
            if (fkex_reader_u32(r, &e->index) != 0)
                return FKEX_ERR_TRUNCATED;
            if (e->index == FKEX_SEED_NEW || (i > 0 && e->index <= m->entries[i - 1].index))
                return FKEX_ERR_BAD_ENCODING;
            m->count = i + 1;   /* so that clear frees this entry's ct */
            if ((err = get_ct(&e->ct, r)) != FKEX_OK)
                return err;
        }
        return FKEX_OK;
    }
}

fkex_err fkex_seed_msg_decode(fkex_seed_msg *m, const uint8_t *in, size_t len)
{
    fkex_reader r;
    fkex_err err;
    const uint8_t *skip;

    memset(m, 0, sizeof *m);
    if ((err = fkex_seed_msg_peek(&m->type, m->room_id, &m->epoch, in, len)) != FKEX_OK) {
        memset(m, 0, sizeof *m);
        return err;
    }
    fkex_reader_init(&r, in, len);
    if (fkex_reader_view(&r, &skip, FKEX_SEED_HEADER_BYTES) != 0)
        err = FKEX_ERR_TRUNCATED;   /* unreachable: peek checked the length */
    if (err == FKEX_OK && (err = decode_body(m, &r)) == FKEX_OK)
        err = fkex_reader_end(&r);
    if (err != FKEX_OK)
        fkex_seed_msg_clear(m);
    return err;
}

/* ---- encoders -------------------------------------------------------------- */

static void put_header(fkex_writer *w, uint8_t type, const uint8_t room_id[32], uint64_t epoch)
{
    uint8_t e[8];
    store64_be(e, epoch);
    fkex_writer_u8(w, type);
    fkex_writer_u8(w, FKEX_SEED_MSG_VERSION);
    fkex_writer_put(w, room_id, 32);
    fkex_writer_put(w, e, sizeof e);
}

static void put_ct(fkex_writer *w, const fkex_abe_ct *ct)
{
    const uint8_t *b;
    size_t n;
    fkex_abe_ct_bytes(&b, &n, ct);
    fkex_writer_u32(w, (uint32_t)n);
    fkex_writer_put(w, b, n);
}

static int ct_ok(const fkex_abe_ct *ct)
{
    const uint8_t *b;
    size_t n;
    if (!ct)
        return 0;
    fkex_abe_ct_bytes(&b, &n, ct);
    return n >= FKEX_HEADER_BYTES && n <= CT_MAX;
}

/* Hands the writer's buffer to the caller. */
static fkex_err finish(uint8_t **out, size_t *len, fkex_writer *w)
{
    if (w->failed) {
        fkex_writer_free(w);
        return FKEX_ERR_NO_MEMORY;
    }
    *out = w->buf;
    *len = w->len;
    return FKEX_OK;
}

fkex_err fkex_seed_encap_encode(uint8_t **out, size_t *len, const uint8_t room_id[32],
                                uint64_t epoch, uint32_t index, const fkex_abe_ct *ct)
{
    fkex_writer w;
    *out = NULL;
    *len = 0;
    if (!ct_ok(ct))
        return FKEX_ERR_ARGUMENT;
    fkex_writer_init(&w);
    put_header(&w, FKEX_SEED_MSG_ENCAP, room_id, epoch);
    fkex_writer_u32(&w, index);
    put_ct(&w, ct);
    return finish(out, len, &w);
}

/* O(count) copies of the ciphertext bytes. */
fkex_err fkex_seed_keyset_encode(uint8_t **out, size_t *len, const uint8_t room_id[32],
                                 uint64_t epoch, const fkex_seed_entry *entries, size_t count)
{
    fkex_writer w;
    *out = NULL;
    *len = 0;
    if (count == 0 || count > FKEX_SEED_MAX_MEMBERS)
        return FKEX_ERR_ARGUMENT;
    for (size_t i = 0; i < count; i++)
        if (entries[i].index == FKEX_SEED_NEW || !ct_ok(entries[i].ct) ||
            (i > 0 && entries[i].index <= entries[i - 1].index))
            return FKEX_ERR_ARGUMENT;
    fkex_writer_init(&w);
    put_header(&w, FKEX_SEED_MSG_KEYSET, room_id, epoch);
    fkex_writer_u32(&w, (uint32_t)count);
    for (size_t i = 0; i < count; i++) {
        fkex_writer_u32(&w, entries[i].index);
        put_ct(&w, entries[i].ct);
    }
    return finish(out, len, &w);
}

fkex_err fkex_seed_leave_encode(uint8_t **out, size_t *len, const uint8_t room_id[32],
                                uint64_t epoch, uint32_t index)
{
    fkex_writer w;
    *out = NULL;
    *len = 0;
    if (index == FKEX_SEED_NEW)
        return FKEX_ERR_ARGUMENT;
    fkex_writer_init(&w);
    put_header(&w, FKEX_SEED_MSG_LEAVE, room_id, epoch);
    fkex_writer_u32(&w, index);
    return finish(out, len, &w);
}

fkex_err fkex_seed_app_encode(uint8_t **out, size_t *len, const uint8_t room_id[32],
                              uint64_t epoch, uint32_t sender,
                              const uint8_t nonce[FKEX_SEED_APP_NONCE], const uint8_t *box,
                              size_t boxlen)
{
    fkex_writer w;
    *out = NULL;
    *len = 0;
    if (sender == FKEX_SEED_NEW || !box_len_ok(boxlen))
        return FKEX_ERR_ARGUMENT;
    fkex_writer_init(&w);
    put_header(&w, FKEX_SEED_MSG_APP, room_id, epoch);
    fkex_writer_u32(&w, sender);
    fkex_writer_put(&w, nonce, FKEX_SEED_APP_NONCE);
    fkex_writer_u32(&w, (uint32_t)boxlen);
    fkex_writer_put(&w, box, boxlen);
    return finish(out, len, &w);
}

fkex_err fkex_seed_msg_encode(uint8_t **out, size_t *len, const fkex_seed_msg *m)
{
    switch (m->type) {
    case FKEX_SEED_MSG_ENCAP:
        return fkex_seed_encap_encode(out, len, m->room_id, m->epoch, m->index, m->ct);
    case FKEX_SEED_MSG_KEYSET:
        return fkex_seed_keyset_encode(out, len, m->room_id, m->epoch, m->entries, m->count);
    case FKEX_SEED_MSG_LEAVE:
        return fkex_seed_leave_encode(out, len, m->room_id, m->epoch, m->index);
    case FKEX_SEED_MSG_APP:
        return fkex_seed_app_encode(out, len, m->room_id, m->epoch, m->index, m->nonce, m->box,
                                    m->boxlen);
    default:
        *out = NULL;
        *len = 0;
        return FKEX_ERR_ARGUMENT;
    }
}
