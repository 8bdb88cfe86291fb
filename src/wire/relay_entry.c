/*
 * wire/relay_entry.c: the entries of the relays' shared log
 * (wire/relay_entry.h).
 */
#include "wire/wire.h"
#include "wire/relay_entry.h"

void fkex_relay_entry_encode(fkex_writer *w, const fkex_relay_entry *e)
{
    fkex_writer_u8(w, (uint8_t)e->kind);
    fkex_writer_u8(w, FKEX_ENTRY_VERSION);
    fkex_writer_u64(w, e->time);
    switch (e->kind) {
    case FKEX_ENTRY_CREATE:
        fkex_writer_bytes32(w, e->data, e->datalen);
        fkex_writer_put(w, e->v, 32);
        fkex_writer_put(w, e->sig, 64);
        break;
    case FKEX_ENTRY_SUBMIT:
        fkex_writer_put(w, e->room_id, 32);
        fkex_writer_put(w, e->v, 32);
        fkex_writer_put(w, e->source, 16);
        fkex_writer_bytes32(w, e->data, e->datalen);
        break;
    case FKEX_ENTRY_HEARTBEAT:
        fkex_writer_put(w, e->relay_id, 16);
        fkex_writer_u64(w, e->grace);
        break;
    case FKEX_ENTRY_ONLINE:
    case FKEX_ENTRY_AWAY:
        fkex_writer_put(w, e->room_id, 32);
        fkex_writer_put(w, e->v, 32);
        fkex_writer_put(w, e->relay_id, 16);
        break;
    case FKEX_ENTRY_SET_DESCRIPTOR:
    case FKEX_ENTRY_KICK:
        fkex_writer_put(w, e->room_id, 32);
        fkex_writer_bytes32(w, e->data, e->datalen);
        break;
    case FKEX_ENTRY_DECLINE:
        fkex_writer_put(w, e->room_id, 32);
        fkex_writer_put(w, e->v, 32);
        fkex_writer_u32(w, e->version);
        break;
    default:
        w->failed = 1;
    }
}

fkex_err fkex_relay_entry_decode(fkex_relay_entry *e, const uint8_t *in, size_t len)
{
    fkex_reader r;
    uint8_t kind, version;
    memset(e, 0, sizeof *e);
    if (len > FKEX_ENTRY_MAX)
        return FKEX_ERR_BAD_ENCODING;
    fkex_reader_init(&r, in, len);
    if (fkex_reader_u8(&r, &kind) || fkex_reader_u8(&r, &version) ||
        fkex_reader_u64(&r, &e->time))
        return FKEX_ERR_TRUNCATED;
    if (kind < FKEX_ENTRY_CREATE || kind > FKEX_ENTRY_KIND_LAST)
        return FKEX_ERR_BAD_ENCODING;
    if (version != FKEX_ENTRY_VERSION)
        return FKEX_ERR_UNSUPPORTED;
    e->kind = (fkex_entry_kind)kind;
    switch (e->kind) {
    case FKEX_ENTRY_CREATE:
        (void)!(fkex_reader_bytes32(&r, &e->data, &e->datalen, FKEX_DESCRIPTOR_MAX) ||
                fkex_reader_get(&r, e->v, 32) || fkex_reader_get(&r, e->sig, 64));
        break;
    case FKEX_ENTRY_SUBMIT:
        (void)!(fkex_reader_get(&r, e->room_id, 32) || fkex_reader_get(&r, e->v, 32) ||
                fkex_reader_get(&r, e->source, 16) ||
                fkex_reader_bytes32(&r, &e->data, &e->datalen, FKEX_RELAY_MESSAGE_MAX));
        break;
    case FKEX_ENTRY_HEARTBEAT:
        (void)!(fkex_reader_get(&r, e->relay_id, 16) || fkex_reader_u64(&r, &e->grace));
        break;
    case FKEX_ENTRY_ONLINE:
    case FKEX_ENTRY_AWAY:
        (void)!(fkex_reader_get(&r, e->room_id, 32) || fkex_reader_get(&r, e->v, 32) ||
                fkex_reader_get(&r, e->relay_id, 16));
        break;
    case FKEX_ENTRY_SET_DESCRIPTOR:
        (void)!(fkex_reader_get(&r, e->room_id, 32) ||
                fkex_reader_bytes32(&r, &e->data, &e->datalen, FKEX_DESCRIPTOR_MAX));
        break;
    case FKEX_ENTRY_KICK:
        (void)!(fkex_reader_get(&r, e->room_id, 32) ||
                fkex_reader_bytes32(&r, &e->data, &e->datalen, FKEX_KICK_MAX));
        break;
    case FKEX_ENTRY_DECLINE:
        (void)!(fkex_reader_get(&r, e->room_id, 32) || fkex_reader_get(&r, e->v, 32) ||
                fkex_reader_u32(&r, &e->version));
        break;
    }
    return fkex_reader_end(&r);
}
