/*
 * wire/relay_msg.h: the client <-> relay protocol. One frame of the
 * transport (a length-prefixed frame, src/net) carries one envelope:
 *
 *   u8 kind || u8 version (1) || body
 *
 * The envelope carries room messages (wire/ratchet_msg.h) opaquely; the
 * relay parses only their public headers, to route them. Integers are
 * big-endian; bytes16/bytes32 are a u16/u32 length and the bytes. The
 * decoder is strict (known kind and version, lengths bounded, flags 0 or 1,
 * printable error text, no trailing bytes) and borrows from its input, so
 * encode(decode(x)) == x for every accepted x.
 *
 * A session: HELLO names the room, the last relay seq the client has seen
 * and, to act as a leaf (a member, or a joiner by its JoinRequest's V),
 * the leaf key V. The relay answers a HELLO with V by NONCE; the client
 * signs it (AUTH, fkex_relay_auth_sign in gke/relay_auth.h) and the relay answers READY, then
 * DELIVERs everything addressed to V since `last_seq`. SUBMIT carries one
 * room message; ACCEPTED says it is persisted (relay seq 0: a Welcome held
 * until its commit wins), ERROR that it was refused.
 *
 * SET_DESCRIPTOR carries the admin's next descriptor (fkex room set-policy);
 * it needs no session, since the admin's signature inside it is the
 * authority. The relay answers ACCEPTED (seq 0) or ERROR, keeps it, and
 * hands it as DESCRIPTOR to a member to commit (the sponsor first); once a
 * commit carrying it wins, it is the room's descriptor.
 *
 * GONE names a member whose connection has been gone longer than the
 * relay's grace period, to a member that should propose and commit its
 * removal (PROTOCOL.md: a disconnect past the grace period becomes a
 * Remove). A relay could lie, and get a member removed; it could as well
 * stop relaying that member's frames, so this gives it no new power.
 */
#ifndef FKEX_RELAY_MSG_H
#define FKEX_RELAY_MSG_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/error.h"
#include "codec/codec.h"

#define FKEX_RELAY_VERSION 1
/* The largest room message a SUBMIT or DELIVER carries: a path commit of
 * the largest room with a re-attestation ciphertext fits. */
#define FKEX_RELAY_MESSAGE_MAX (16u << 20)
#define FKEX_RELAY_ENVELOPE_MAX (FKEX_RELAY_MESSAGE_MAX + 64)
#define FKEX_RELAY_TEXT_MAX 1024

typedef enum {
    FKEX_RELAY_HELLO = 1,          /* c->r: room_id, last_seq, u8 has_leaf, [V] */
    FKEX_RELAY_NONCE = 2,          /* r->c: nonce */
    FKEX_RELAY_AUTH = 3,           /* c->r: sig of the nonce by V */
    FKEX_RELAY_READY = 4,          /* r->c: room_id, epoch, head seq */
    FKEX_RELAY_CREATE_ROOM = 5,    /* c->r: bytes32 descriptor, founder V, admin sig */
    FKEX_RELAY_GET_DESCRIPTOR = 6, /* c->r: room_id */
    FKEX_RELAY_DESCRIPTOR = 7,     /* r->c: room_id, bytes32 descriptor */
    FKEX_RELAY_SUBMIT = 8,         /* c->r: room_id, client seq, bytes32 message */
    FKEX_RELAY_ACCEPTED = 9,       /* r->c: client seq, relay seq */
    FKEX_RELAY_DELIVER = 10,       /* r->c: room_id, relay seq, bytes32 message */
    FKEX_RELAY_ERROR = 11,         /* r->c: u16 code, client seq (0: none), bytes16 text */
    FKEX_RELAY_PING = 12,          /* either way: u64 cookie */
    FKEX_RELAY_PONG = 13,          /* the answer: the same cookie */
    FKEX_RELAY_SET_DESCRIPTOR = 14,/* c->r: room_id, bytes32 descriptor: the admin's next version */
    FKEX_RELAY_GONE = 15,          /* r->c: room_id, V: a member offline past the grace period */
    /* Direct conversations (relay/dm.h): a connection takes one of the two
     * places of a conversation, and frames go to the other place as they are. */
    FKEX_RELAY_DM_HELLO = 16,      /* c->r: conversation id */
    FKEX_RELAY_DM_READY = 17,      /* r->c: conversation id, u8 peer present (0/1) */
    FKEX_RELAY_DM_PEER = 18,       /* r->c: u8 present: the other party came (1) or left (0) */
    FKEX_RELAY_DM_FRAME = 19,      /* both: bytes32 frame (at most FKEX_RELAY_DM_FRAME_MAX) */
    FKEX_RELAY_KICK = 20,          /* c->r: room_id, bytes32 kick (the admin's, wire/ratchet_msg.h) */
    FKEX_RELAY_DECLINE = 21,       /* c->r: room_id, u32 version: a member cannot commit the
                                    * admin's descriptor of that version (its attributes fail
                                    * the new policy): the relay hands it to the next member */
    FKEX_RELAY_POLICY_OUTCOME = 22 /* r->c: room_id, u32 version, u8 outcome, u64 epoch: to the
                                    * admin who sent SET_DESCRIPTOR, what became of it */
} fkex_relay_kind;

#define FKEX_RELAY_KIND_LAST FKEX_RELAY_POLICY_OUTCOME
/* POLICY_OUTCOME */
#define FKEX_POLICY_COMMITTED 1   /* a commit carrying it settled: the room's policy at epoch */
#define FKEX_POLICY_DROPPED 2     /* every online member declined it (or was silent) */
/* A direct conversation's frame: its largest message fits (ibe/dm.h). */
#define FKEX_RELAY_DM_FRAME_MAX (64u << 10)

/* ERROR codes. */
typedef enum {
    FKEX_RELAY_E_BAD_FRAME = 1,     /* undecodable envelope or room message */
    FKEX_RELAY_E_NO_ROOM = 2,       /* unknown room */
    FKEX_RELAY_E_ROOM_EXISTS = 3,
    FKEX_RELAY_E_BAD_DESCRIPTOR = 4, /* bad admin signature or room id */
    FKEX_RELAY_E_AUTH = 5,          /* not authenticated, or the AUTH signature is wrong */
    FKEX_RELAY_E_STALE = 6,         /* a commit for another epoch, or one that lost */
    FKEX_RELAY_E_NOT_ROUTABLE = 7,  /* nobody to route it to, or not the sender's to send */
    FKEX_RELAY_E_BUSY = 8,          /* too many pending joins */
    FKEX_RELAY_E_INTERNAL = 9,      /* storage failed: nothing was accepted */
    FKEX_RELAY_E_HISTORY_GONE = 10  /* the frames after last_seq were pruned */
} fkex_relay_error;

typedef struct {
    fkex_relay_kind kind;
    uint8_t room_id[32];      /* HELLO READY GET_DESCRIPTOR DESCRIPTOR SUBMIT DELIVER;
                               * DM_HELLO DM_READY: the conversation id */
    uint64_t seq;             /* HELLO: last seen; SUBMIT ACCEPTED ERROR: client seq; DELIVER: relay seq */
    uint64_t relay_seq;       /* ACCEPTED; READY: head seq */
    uint64_t epoch;           /* READY, POLICY_OUTCOME */
    int has_leaf;             /* HELLO */
    int present;              /* DM_READY DM_PEER */
    uint8_t leaf[32];         /* HELLO (if has_leaf), CREATE_ROOM: founder V, GONE: the member */
    uint8_t nonce[32];        /* NONCE */
    uint8_t sig[64];          /* AUTH: V's; CREATE_ROOM: the admin's */
    uint16_t code;            /* ERROR */
    uint32_t version;         /* DECLINE POLICY_OUTCOME: the descriptor's */
    uint8_t outcome;          /* POLICY_OUTCOME: FKEX_POLICY_* */
    uint64_t cookie;          /* PING PONG */
    const uint8_t *data;      /* SUBMIT DELIVER: room message; CREATE_ROOM (SET_)DESCRIPTOR: descriptor;
                               * ERROR: text; DM_FRAME: the frame */
    size_t datalen;
} fkex_relay_msg;

void fkex_relay_msg_encode(fkex_writer *w, const fkex_relay_msg *m);
/* Errors: FKEX_ERR_BAD_ENCODING, FKEX_ERR_TRUNCATED, FKEX_ERR_UNSUPPORTED
 * (another version). m borrows from in. */
fkex_err fkex_relay_msg_decode(fkex_relay_msg *m, const uint8_t *in, size_t len) FKEX_WUR;

#endif
