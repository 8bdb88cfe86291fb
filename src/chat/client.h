/*
 * chat/client.h: one member's session in a room, ratchet mode: the relay
 * connection (net/net.h, wire/relay_msg.h), the member state machine
 * (gke/ratchet.h) and the timers the protocol leaves to the caller.
 *
 * The session runs on the caller's libuv loop and reports what happens
 * through one callback, so that any front end can drive it: the --batch
 * JSON lines (cli/chat.c) or a terminal UI. It never prints and never
 * exits. Its state lives in memory only; chat_client_free wipes it.
 *
 * What it does by itself, as PROTOCOL.md asks of a member:
 *   - a joiner fetches the descriptor, checks it against the room id of the
 *     invitation, sends its JoinRequest and follows the admission;
 *   - a founder creates the room at the relay (CREATE_ROOM, signed with the
 *     admin's key) with its own leaf as member 0;
 *   - a sponsor commits once its state machine admits joiners (several
 *     admitted together go in one commit);
 *   - when a member proposes its own removal, the lowest-index other member
 *     commits it.
 * Not yet: reconnecting after the relay goes away (the session ends with
 * "relay_lost"), removing members whose JoinAck never comes, periodic
 * Updates, rooms that require a period.
 */
#ifndef FKEX_CHAT_CLIENT_H
#define FKEX_CHAT_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "fkex/error.h"
#include "fkex/abe.h"

typedef struct chat_client chat_client;

typedef enum {
    CHAT_EV_JOINED = 1,   /* this member is in the room: epoch, members */
    CHAT_EV_EPOCH,        /* a new epoch: epoch, members */
    CHAT_EV_MESSAGE,      /* nick, text, sent_ms, epoch */
    CHAT_EV_ERROR,        /* code, message; fatal if the session ends (a DONE follows) */
    CHAT_EV_LEFT,         /* this member is no longer in the room */
    CHAT_EV_DONE          /* the session is over, every handle closed: exit_code */
} chat_event_kind;

/* Strings are valid during the callback only; nick and text are checked
 * UTF-8 (chat_content_decode), not NUL-terminated. */
typedef struct {
    chat_event_kind kind;
    uint64_t epoch;
    uint32_t members;
    const char *nick;
    size_t nicklen;
    const char *text;
    size_t textlen;
    uint64_t sent_ms;
    const char *code;      /* ERROR: "policy_unsatisfied", "relay_unreachable", ... */
    const char *message;   /* ERROR: one sentence for a person */
    int exit_code;         /* DONE: 0 ok; 1 policy not satisfied, group unproven, removed; 2 other */
} chat_event;

typedef void (*chat_event_cb)(void *ctx, const chat_event *ev);

typedef struct {
    const char *relay;              /* HOST:PORT, from the invitation */
    uint8_t room_id[32];            /* pinned by the invitation */
    const fkex_abe_key *key;        /* the user's attributes; must outlive the client */
    const char *nick;
    /* To found the room: the admin-signed descriptor and the admin's key
     * (copied; wiped by chat_client_free). NULL to join. */
    const uint8_t *found_descriptor;
    size_t found_descriptor_len;
    const uint8_t *admin_sk;        /* 64 bytes */
    unsigned connect_timeout_ms;    /* to READY (0: 15 s) */
    unsigned join_timeout_ms;       /* JoinRequest to Welcome (0: 60 s) */
    unsigned leave_timeout_ms;      /* Remove proposal to the commit (0: 15 s) */
    chat_event_cb on_event;
    void *ctx;
} chat_client_config;

/* "fkex://HOST:PORT/ROOMID" (64 hex digits). addr gets HOST:PORT.
 * FKEX_ERR_ARGUMENT if it is not an invitation. */
fkex_err chat_invite_parse(char addr[300], uint8_t room_id[32], const char *invite) FKEX_WUR;

/* Starts the session (connects; everything else comes through events).
 * Errors: FKEX_ERR_ARGUMENT (bad relay address), FKEX_ERR_NO_MEMORY;
 * then nothing is called back and *c is NULL. */
fkex_err chat_client_start(chat_client **c, uv_loop_t *loop, const chat_client_config *cfg) FKEX_WUR;
/* Sends text to the room; queued until the member has joined. An ERROR event
 * (not fatal) says when it cannot be sent. */
void chat_client_send(chat_client *c, const char *text, size_t len);
/* Proposes this member's removal and waits (bounded) for the commit that
 * removes it: LEFT, then DONE with 0. */
void chat_client_leave(chat_client *c);
/* Ends the session without leaving (the relay keeps the place for its grace
 * period), once what was sent has been accepted (bounded): DONE with 0. */
void chat_client_quit(chat_client *c);
/* 1 once the member has joined and not left. */
int chat_client_joined(const chat_client *c);
/* After DONE (or before start returned an error): wipes and frees. */
void chat_client_free(chat_client *c);

#endif
