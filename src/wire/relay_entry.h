/*
 * wire/relay_entry.h: the entries relays write to the log they share
 * (FEDERATION.md): one NATS JetStream stream, which every relay folds in
 * the stream's order into the same rooms, by the same rules
 * (gke/relay_rules.h). An entry is what a relay was told, not what it
 * decided: each relay decides it again, and all decide alike.
 *
 *   u8 kind || u8 version (1) || u64 time || body
 *
 * time is the writing relay's clock (ms since 1970); a fold's clock is the
 * largest time it has folded, so that it never runs backwards. Bodies:
 *   CREATE          descriptor (bytes32), founder V (32), the admin's
 *                   signature naming the founder (64): a new room
 *   SUBMIT          room (32), sender V (32), source (16), room message
 *                   (bytes32): what a session sent
 *   HEARTBEAT       relay id (16), grace (u64, ms): that relay is alive, and
 *                   the grace period it keeps; rooms tick
 *   ONLINE, AWAY    room (32), V (32), relay id (16): a member's session
 *                   at that relay is live (its replay written), or went
 *   SET_DESCRIPTOR  room (32), the admin's next descriptor (bytes32)
 *   KICK            room (32), the admin's kick (bytes32)
 *   DECLINE         room (32), V (32), version (u32): a member cannot
 *                   commit that descriptor
 * Integers are big-endian. The decoder is strict (known kind and version,
 * lengths bounded as the client envelopes bound them, no trailing bytes)
 * and borrows from its input, so encode(decode(x)) == x for every
 * accepted x.
 */
#ifndef FKEX_RELAY_ENTRY_H
#define FKEX_RELAY_ENTRY_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/error.h"
#include "wire/relay_msg.h"
#include "codec/codec.h"

#define FKEX_ENTRY_VERSION 1
/* The largest entry: a SUBMIT of the largest room message. */
#define FKEX_ENTRY_MAX (FKEX_RELAY_MESSAGE_MAX + 2 + 8 + 32 + 32 + 16 + 4)

typedef enum {
    FKEX_ENTRY_CREATE = 1,
    FKEX_ENTRY_SUBMIT = 2,
    FKEX_ENTRY_HEARTBEAT = 3,
    FKEX_ENTRY_ONLINE = 4,
    FKEX_ENTRY_AWAY = 5,
    FKEX_ENTRY_SET_DESCRIPTOR = 6,
    FKEX_ENTRY_KICK = 7,
    FKEX_ENTRY_DECLINE = 8,
    FKEX_ENTRY_KIND_LAST = FKEX_ENTRY_DECLINE
} fkex_entry_kind;

typedef struct {
    fkex_entry_kind kind;
    uint64_t time;
    uint8_t room_id[32];    /* all but CREATE and HEARTBEAT */
    uint8_t v[32];          /* CREATE's founder, SUBMIT's sender, ONLINE/AWAY/DECLINE's member */
    uint8_t relay_id[16];   /* HEARTBEAT, ONLINE, AWAY */
    uint8_t source[16];     /* SUBMIT */
    uint8_t sig[64];        /* CREATE */
    uint32_t version;       /* DECLINE */
    uint64_t grace;         /* HEARTBEAT: the writer's grace period, ms */
    const uint8_t *data;    /* CREATE and SET_DESCRIPTOR: a descriptor; SUBMIT: a room
                               message; KICK: a kick */
    size_t datalen;
} fkex_relay_entry;

void fkex_relay_entry_encode(fkex_writer *w, const fkex_relay_entry *e);
/* Errors: FKEX_ERR_TRUNCATED, FKEX_ERR_BAD_ENCODING, FKEX_ERR_UNSUPPORTED
 * (another version). */
fkex_err fkex_relay_entry_decode(fkex_relay_entry *e, const uint8_t *in, size_t len) FKEX_WUR;

#endif
