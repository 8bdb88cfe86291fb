/*
 * fuzz/fuzz_relay_msg.c: the client <-> relay envelopes (wire/relay_msg.h),
 * the first thing the relay parses from the network. Whatever decodes
 * must re-encode to exactly the input; a SUBMIT's or DELIVER's room
 * message then goes through the peek the relay routes by.
 *
 * FKEX_FUZZ_SEEDS=DIR writes one envelope of each kind into DIR.
 */
#include <stdio.h>
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "wire/relay_msg.h"
#include "seeds.h"

static void write_seeds(const char *dir)
{
    static const char *const names[] = {
        NULL, "hello", "nonce", "auth", "ready", "create-room", "get-descriptor", "descriptor",
        "submit", "accepted", "deliver", "error", "ping", "pong", "set-descriptor",
        "gone", "dm-hello", "dm-ready", "dm-peer", "dm-frame", "kick", "decline",
        "policy-outcome",
    };
    static const uint8_t room_msg[] = { 9, 1, 0, 0 };
    fkex_relay_msg m = { 0 };
    memset(m.room_id, 0x11, 32);
    memset(m.leaf, 0x22, 32);
    memset(m.nonce, 0x33, 32);
    memset(m.sig, 0x44, 64);
    m.seq = 7;
    m.relay_seq = 42;
    m.epoch = 3;
    m.cookie = 5;
    m.version = 2;
    m.outcome = FKEX_POLICY_COMMITTED;
    for (int k = FKEX_RELAY_HELLO; k <= FKEX_RELAY_KIND_LAST; k++) {
        fkex_writer w;
        m.kind = (fkex_relay_kind)k;
        m.data = room_msg;
        m.datalen = sizeof room_msg;
        if (k == FKEX_RELAY_ERROR) {
            m.code = FKEX_RELAY_E_STALE;
            m.data = (const uint8_t *)"another commit won";
            m.datalen = 18;
        }
        m.has_leaf = k == FKEX_RELAY_HELLO;
        m.present = k == FKEX_RELAY_DM_READY || k == FKEX_RELAY_DM_PEER;
        fkex_writer_init(&w);
        fkex_relay_msg_encode(&w, &m);
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
    fkex_relay_msg m;
    fkex_writer w;
    if (fkex_relay_msg_decode(&m, data, size) != FKEX_OK)
        return 0;
    fkex_writer_init(&w);
    fkex_relay_msg_encode(&w, &m);
    if (w.failed || w.len != size || memcmp(w.buf, data, size) != 0)
        abort();
    fkex_writer_free(&w);
    if (m.kind == FKEX_RELAY_SUBMIT || m.kind == FKEX_RELAY_DELIVER) {
        fkex_rmsg_type type;
        uint8_t room[32];
        (void)!fkex_rmsg_peek(&type, room, m.data, m.datalen);
    }
    if (m.kind == FKEX_RELAY_AUTH)   /* the relay verifies whatever comes */
        (void)!fkex_relay_auth_verify(m.sig, m.room_id, m.nonce, m.sig);
    return 0;
}
