/*
 * wire/dh_msg.c: canonical encoding of the GDH.2 and Burmester-Desmedt
 * messages (format in dh_msg.h).
 *
 * The decoder reads the whole header and checks the byte count before it
 * looks at any element, so a malformed message costs no point
 * decompression; then every element is validated, the only O(count) work.
 * Nothing here is secret: branches on the bytes are fine.
 */
#include <stdlib.h>
#include "wire/wire.h"

static int known_type(uint8_t type)
{
    return type >= FKEX_DH_GDH2_UP && type <= FKEX_DH_BD_X;
}

uint32_t fkex_dh_msg_expected_count(uint8_t type, uint32_t sender)
{
    uint64_t count;
    switch (type) {
    case FKEX_DH_GDH2_UP:
        count = (uint64_t)sender + 2;
        break;
    case FKEX_DH_GDH2_DOWN:
        count = sender;   /* the last member, n - 1, sends n - 1 values */
        break;
    case FKEX_DH_BD_Z:
    case FKEX_DH_BD_X:
        count = 1;
        break;
    default:
        return 0;
    }
    return count <= FKEX_DH_MSG_MAX_ELEMS ? (uint32_t)count : 0;
}

/* RFC 9496 §4.3.1: s must be a canonical field element (s < p = 2^255 - 19,
 * top bit clear) and non-negative (even). Then the decoding may still fail
 * (not a point), and the identity decodes but is refused: an exponent
 * raised onto it gives a known key. */
fkex_err fkex_dh_elem_check(const uint8_t p[32])
{
    int ge_p = p[31] == 0x7f && p[0] >= 0xed;
    for (int i = 1; i < 31 && ge_p; i++)
        ge_p = p[i] == 0xff;
    if ((p[31] & 0x80) || (p[0] & 1) || ge_p)
        return FKEX_ERR_BAD_ENCODING;
    if (sodium_is_zero(p, 32) || crypto_core_ristretto255_is_valid_point(p) != 1)
        return FKEX_ERR_NOT_IN_GROUP;
    return FKEX_OK;
}

fkex_err fkex_dh_msg_encode(uint8_t **out, size_t *outlen, const fkex_dh_msg *m)
{
    fkex_writer w;
    uint8_t epoch[8];
    *out = NULL;
    *outlen = 0;
    if (m->count == 0 || m->count != fkex_dh_msg_expected_count(m->type, m->sender))
        return FKEX_ERR_ARGUMENT;
    store64_be(epoch, m->epoch);
    fkex_writer_init(&w);
    fkex_writer_u8(&w, m->type);
    fkex_writer_u8(&w, FKEX_DH_MSG_VERSION);
    fkex_writer_put(&w, m->room_id, 32);
    fkex_writer_put(&w, epoch, sizeof epoch);
    fkex_writer_u32(&w, m->sender);
    fkex_writer_u32(&w, m->count);
    fkex_writer_put(&w, m->elems, (size_t)m->count * FKEX_DH_ELEM);
    if (w.failed) {
        fkex_writer_free(&w);
        return FKEX_ERR_NO_MEMORY;
    }
    *out = w.buf;   /* public bytes: handed over as they are */
    *outlen = w.len;
    return FKEX_OK;
}

fkex_err fkex_dh_msg_decode(fkex_dh_msg *m, const uint8_t *in, size_t len)
{
    fkex_reader r;
    uint8_t version, epoch[8];
    fkex_err err;
    memset(m, 0, sizeof *m);
    fkex_reader_init(&r, in, len);
    if (fkex_reader_u8(&r, &m->type) != 0 || fkex_reader_u8(&r, &version) != 0)
        return FKEX_ERR_TRUNCATED;
    if (!known_type(m->type))
        return FKEX_ERR_WRONG_KIND;
    if (version != FKEX_DH_MSG_VERSION)
        return FKEX_ERR_UNSUPPORTED;
    if (fkex_reader_get(&r, m->room_id, 32) != 0 || fkex_reader_get(&r, epoch, 8) != 0 ||
        fkex_reader_u32(&r, &m->sender) != 0 || fkex_reader_u32(&r, &m->count) != 0)
        return FKEX_ERR_TRUNCATED;
    m->epoch = load64_be(epoch);
    if (m->count == 0 || m->count != fkex_dh_msg_expected_count(m->type, m->sender))
        return FKEX_ERR_BAD_ENCODING;
    if (fkex_reader_view(&r, &m->elems, (size_t)m->count * FKEX_DH_ELEM) != 0)
        return FKEX_ERR_TRUNCATED;
    if ((err = fkex_reader_end(&r)) != FKEX_OK)
        return err;
    for (uint32_t i = 0; i < m->count; i++)
        if ((err = fkex_dh_elem_check(m->elems + (size_t)i * FKEX_DH_ELEM)) != FKEX_OK)
            return err;
    return FKEX_OK;
}
