/*
 * wire/relay_msg.c: the client <-> relay envelopes of wire/relay_msg.h.
 */
#include "wire/wire.h"
#include "wire/relay_msg.h"

void fkex_relay_msg_encode(fkex_writer *w, const fkex_relay_msg *m)
{
    fkex_writer_u8(w, (uint8_t)m->kind);
    fkex_writer_u8(w, FKEX_RELAY_VERSION);
    switch (m->kind) {
    case FKEX_RELAY_HELLO:
        fkex_writer_put(w, m->room_id, 32);
        fkex_writer_u64(w, m->seq);
        fkex_writer_u8(w, m->has_leaf ? 1 : 0);
        if (m->has_leaf)
            fkex_writer_put(w, m->leaf, 32);
        break;
    case FKEX_RELAY_NONCE:
        fkex_writer_put(w, m->nonce, 32);
        break;
    case FKEX_RELAY_AUTH:
        fkex_writer_put(w, m->sig, 64);
        break;
    case FKEX_RELAY_READY:
        fkex_writer_put(w, m->room_id, 32);
        fkex_writer_u64(w, m->epoch);
        fkex_writer_u64(w, m->relay_seq);
        break;
    case FKEX_RELAY_CREATE_ROOM:
        fkex_writer_bytes32(w, m->data, m->datalen);
        fkex_writer_put(w, m->leaf, 32);
        fkex_writer_put(w, m->sig, 64);
        break;
    case FKEX_RELAY_GET_DESCRIPTOR:
        fkex_writer_put(w, m->room_id, 32);
        break;
    case FKEX_RELAY_GONE:
        fkex_writer_put(w, m->room_id, 32);
        fkex_writer_put(w, m->leaf, 32);
        break;
    case FKEX_RELAY_DESCRIPTOR:
    case FKEX_RELAY_SET_DESCRIPTOR:
    case FKEX_RELAY_KICK:
        fkex_writer_put(w, m->room_id, 32);
        fkex_writer_bytes32(w, m->data, m->datalen);
        break;
    case FKEX_RELAY_SUBMIT:
    case FKEX_RELAY_DELIVER:
        fkex_writer_put(w, m->room_id, 32);
        fkex_writer_u64(w, m->seq);
        fkex_writer_bytes32(w, m->data, m->datalen);
        break;
    case FKEX_RELAY_ACCEPTED:
        fkex_writer_u64(w, m->seq);
        fkex_writer_u64(w, m->relay_seq);
        break;
    case FKEX_RELAY_ERROR:
        fkex_writer_u16(w, m->code);
        fkex_writer_u64(w, m->seq);
        fkex_writer_bytes16(w, m->data, m->datalen);
        break;
    case FKEX_RELAY_PING:
    case FKEX_RELAY_PONG:
        fkex_writer_u64(w, m->cookie);
        break;
    case FKEX_RELAY_DM_HELLO:
        fkex_writer_put(w, m->room_id, 32);
        break;
    case FKEX_RELAY_DM_READY:
        fkex_writer_put(w, m->room_id, 32);
        fkex_writer_u8(w, m->present ? 1 : 0);
        break;
    case FKEX_RELAY_DM_PEER:
        fkex_writer_u8(w, m->present ? 1 : 0);
        break;
    case FKEX_RELAY_DM_FRAME:
        fkex_writer_bytes32(w, m->data, m->datalen);
        break;
    case FKEX_RELAY_DECLINE:
        fkex_writer_put(w, m->room_id, 32);
        fkex_writer_u32(w, m->version);
        break;
    case FKEX_RELAY_POLICY_OUTCOME:
        fkex_writer_put(w, m->room_id, 32);
        fkex_writer_u32(w, m->version);
        fkex_writer_u8(w, m->outcome);
        fkex_writer_u64(w, m->epoch);
        break;
    default:
        w->failed = 1;
    }
}

static int printable(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] > 0x7e)
            return 0;
    return 1;
}

fkex_err fkex_relay_msg_decode(fkex_relay_msg *m, const uint8_t *in, size_t len)
{
    fkex_reader r;
    uint8_t kind, version, flag;
    memset(m, 0, sizeof *m);
    if (len > FKEX_RELAY_ENVELOPE_MAX)
        return FKEX_ERR_BAD_ENCODING;
    fkex_reader_init(&r, in, len);
    if (fkex_reader_u8(&r, &kind) || fkex_reader_u8(&r, &version))
        return FKEX_ERR_TRUNCATED;
    if (kind < FKEX_RELAY_HELLO || kind > FKEX_RELAY_KIND_LAST)
        return FKEX_ERR_BAD_ENCODING;
    if (version != FKEX_RELAY_VERSION)
        return FKEX_ERR_UNSUPPORTED;
    m->kind = (fkex_relay_kind)kind;
    switch (m->kind) {
    case FKEX_RELAY_HELLO:
        if (fkex_reader_get(&r, m->room_id, 32) || fkex_reader_u64(&r, &m->seq) ||
            fkex_reader_u8(&r, &flag))
            break;
        if (flag > 1)
            return FKEX_ERR_BAD_ENCODING;
        m->has_leaf = flag;
        if (flag && fkex_reader_get(&r, m->leaf, 32))
            break;
        break;
    case FKEX_RELAY_NONCE:
        (void)!fkex_reader_get(&r, m->nonce, 32);
        break;
    case FKEX_RELAY_AUTH:
        (void)!fkex_reader_get(&r, m->sig, 64);
        break;
    case FKEX_RELAY_READY:
        (void)!(fkex_reader_get(&r, m->room_id, 32) || fkex_reader_u64(&r, &m->epoch) ||
                fkex_reader_u64(&r, &m->relay_seq));
        break;
    case FKEX_RELAY_CREATE_ROOM:
        (void)!(fkex_reader_bytes32(&r, &m->data, &m->datalen, FKEX_DESCRIPTOR_MAX) ||
                fkex_reader_get(&r, m->leaf, 32) || fkex_reader_get(&r, m->sig, 64));
        break;
    case FKEX_RELAY_GET_DESCRIPTOR:
        (void)!fkex_reader_get(&r, m->room_id, 32);
        break;
    case FKEX_RELAY_GONE:
        (void)!(fkex_reader_get(&r, m->room_id, 32) || fkex_reader_get(&r, m->leaf, 32));
        break;
    case FKEX_RELAY_DESCRIPTOR:
    case FKEX_RELAY_SET_DESCRIPTOR:
        (void)!(fkex_reader_get(&r, m->room_id, 32) ||
                fkex_reader_bytes32(&r, &m->data, &m->datalen, FKEX_DESCRIPTOR_MAX));
        break;
    case FKEX_RELAY_KICK:
        (void)!(fkex_reader_get(&r, m->room_id, 32) ||
                fkex_reader_bytes32(&r, &m->data, &m->datalen, FKEX_KICK_MAX));
        break;
    case FKEX_RELAY_SUBMIT:
    case FKEX_RELAY_DELIVER:
        (void)!(fkex_reader_get(&r, m->room_id, 32) || fkex_reader_u64(&r, &m->seq) ||
                fkex_reader_bytes32(&r, &m->data, &m->datalen, FKEX_RELAY_MESSAGE_MAX));
        break;
    case FKEX_RELAY_ACCEPTED:
        (void)!(fkex_reader_u64(&r, &m->seq) || fkex_reader_u64(&r, &m->relay_seq));
        break;
    case FKEX_RELAY_ERROR:
        if (fkex_reader_u16(&r, &m->code) || fkex_reader_u64(&r, &m->seq) ||
            fkex_reader_bytes16(&r, &m->data, &m->datalen))
            break;
        if (m->datalen > FKEX_RELAY_TEXT_MAX || !printable(m->data, m->datalen))
            return FKEX_ERR_BAD_ENCODING;
        break;
    case FKEX_RELAY_PING:
    case FKEX_RELAY_PONG:
        (void)!fkex_reader_u64(&r, &m->cookie);
        break;
    case FKEX_RELAY_DM_HELLO:
        (void)!fkex_reader_get(&r, m->room_id, 32);
        break;
    case FKEX_RELAY_DM_READY:
    case FKEX_RELAY_DM_PEER:
        if ((m->kind == FKEX_RELAY_DM_READY && fkex_reader_get(&r, m->room_id, 32)) ||
            fkex_reader_u8(&r, &flag))
            break;
        if (flag > 1)
            return FKEX_ERR_BAD_ENCODING;
        m->present = flag;
        break;
    case FKEX_RELAY_DM_FRAME:
        (void)!fkex_reader_bytes32(&r, &m->data, &m->datalen, FKEX_RELAY_DM_FRAME_MAX);
        break;
    case FKEX_RELAY_DECLINE:
        (void)!(fkex_reader_get(&r, m->room_id, 32) || fkex_reader_u32(&r, &m->version));
        break;
    case FKEX_RELAY_POLICY_OUTCOME:
        if (fkex_reader_get(&r, m->room_id, 32) || fkex_reader_u32(&r, &m->version) ||
            fkex_reader_u8(&r, &m->outcome) || fkex_reader_u64(&r, &m->epoch))
            break;
        if (m->outcome != FKEX_POLICY_COMMITTED && m->outcome != FKEX_POLICY_DROPPED)
            return FKEX_ERR_BAD_ENCODING;
        break;
    }
    return fkex_reader_end(&r);
}
