/*
 * fuzz/fuzz_relay_entry.c: the entries of the relays' shared log
 * (wire/relay_entry.h), which every relay of a cluster reads back from
 * NATS JetStream. Whatever decodes must re-encode to exactly the input; a
 * SUBMIT's room message then goes through the peek the rules route by.
 *
 * FKEX_FUZZ_SEEDS=DIR writes one entry of each kind into DIR.
 */
#include <stdio.h>
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "wire/relay_entry.h"
#include "seeds.h"

static void write_seeds(const char *dir)
{
    static const char *const names[] = {
        NULL, "create", "submit", "heartbeat", "online", "away", "set-descriptor", "kick",
        "decline",
    };
    static const uint8_t room_msg[] = { 9, 1, 0, 0 };
    fkex_relay_entry e = { 0 };
    memset(e.room_id, 0x11, 32);
    memset(e.v, 0x22, 32);
    memset(e.relay_id, 0x33, 16);
    memset(e.source, 0x44, 16);
    memset(e.sig, 0x55, 64);
    e.time = 1765000000000u;
    e.version = 2;
    for (int k = FKEX_ENTRY_CREATE; k <= FKEX_ENTRY_KIND_LAST; k++) {
        fkex_writer w;
        e.kind = (fkex_entry_kind)k;
        e.data = room_msg;
        e.datalen = sizeof room_msg;
        fkex_writer_init(&w);
        fkex_relay_entry_encode(&w, &e);
        if (w.failed)
            abort();
        write_seed(dir, names[k], w.buf, w.len);
        fkex_writer_free(&w);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    const char *dir = getenv("FKEX_FUZZ_SEEDS");
    if (dir)
        write_seeds(dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fkex_relay_entry e;
    fkex_writer w;
    if (fkex_relay_entry_decode(&e, data, size) != FKEX_OK)
        return 0;
    fkex_writer_init(&w);
    fkex_relay_entry_encode(&w, &e);
    if (w.failed || w.len != size || memcmp(w.buf, data, size) != 0)
        abort();
    fkex_writer_free(&w);
    if (e.kind == FKEX_ENTRY_SUBMIT) {
        fkex_rmsg_type type;
        uint8_t room[32];
        (void)!fkex_rmsg_peek(&type, room, e.data, e.datalen);
    }
    return 0;
}
