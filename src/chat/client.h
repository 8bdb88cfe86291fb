/*
 * chat/client.h: one member's session in a room. Ratchet mode
 * (chat/ratchet_client.c): the member
 * state machine (gke/ratchet.h) and the timers the protocol leaves to the
 * caller, over the relay link every mode shares (chat/link.h: the
 * connection, reconnection, deadlines and the session's end).
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
 *     commits it;
 *   - a member whose connection drops dials again, backing off, and says
 *     HELLO with the last seq it read: the relay replays what it missed, and
 *     the client sends again every SUBMIT the relay had not answered (a
 *     duplicate the relay did store is refused by the members' replay
 *     windows). A joiner still in its admission ends with "relay_lost".
 *   - a member commits an Update (a new X_i: post-compromise security)
 *     every update_interval_ms and after 1000 messages sent;
 *   - members that owe an ack (after their join, or after a re-attestation)
 *     and do not send it within 15 s are proposed for removal and removed:
 *     this is how members whose attributes no longer satisfy a new policy
 *     leave the roster;
 *   - a member that the relay hands the admin's new descriptor (fkex room
 *     set-policy) commits it, which forces a re-attestation;
 *   - a member that the relay tells of another gone past its grace period
 *     (GONE) proposes that member's removal, and commits it.
 * Not yet: rooms that require a period.
 *
 * With mode CHAT_MODE_SEED the session is chat/seed_client.c's (the 2014
 * prototype's protocol, NOT secure) behind this same API and events, over
 * the same link. With cfg->dm_peer set, the session is a direct
 * conversation with that identity instead (chat/dm_client.c). Each is a
 * class (chat_client_class, below), and chat/client.c hands every call to
 * the session's: no call asks which mode it is in.
 */
#ifndef FKEX_CHAT_CLIENT_H
#define FKEX_CHAT_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "fkex/error.h"
#include "net/net.h"
#include "fkex/abe.h"

typedef struct chat_client chat_client;

typedef enum {
    CHAT_EV_JOINED = 1,   /* this member is in the room: epoch, members */
    CHAT_EV_EPOCH,        /* a new epoch: epoch, members */
    CHAT_EV_MESSAGE,      /* nick, text, sent_ms, epoch */
    CHAT_EV_ERROR,        /* code, message; fatal if the session ends (a DONE follows) */
    CHAT_EV_LEFT,         /* this member is no longer in the room; code "pending" (and a
                           * message): nobody committed its leave in time, its keys are
                           * wiped and its place goes when a member removes it */
    CHAT_EV_DONE,         /* the session is over, every handle closed: exit_code */
    CHAT_EV_ADDED,        /* a member joined: member, leaf; epoch and members after it */
    CHAT_EV_REMOVED,      /* a member was removed (or left): member, leaf, nick; epoch,
                           * members after it. An EPOCH event follows ADDED and REMOVED. */
    CHAT_EV_CONNECTION,   /* a member's connection: code "reconnecting" (it dropped; the
                           * client dials again) or "online" (back, nothing missed) */
    CHAT_EV_POLICY,       /* the room's policy changed (a re-attestation): text, epoch */
    CHAT_EV_KICKED,       /* the room's admin kicked a member: leaf, text (the reason);
                           * own: this member, whose session then ends with exit code 1 */
    CHAT_EV_SENT          /* count: the ordinal of a text given to chat_client_send (1 the
                           * first), which the relay has stored: it is on its way to
                           * every member. A front end paces itself by these and
                           * chat_client_backlog */
} chat_event_kind;

/* Strings are valid during the callback only; nick and text are checked
 * UTF-8 (chat_content_decode), not NUL-terminated.
 *
 * A member is known by its leaf key V (`leaf`, 32 bytes): indexes change
 * when members leave, since the last leaf moves into the freed slot.
 * This member's own messages come back as MESSAGE events with own = 1
 * once they are encrypted and on their way (the relay's copy is not read),
 * so that a front end shows them in the order they were sent. */
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
    int has_epoch;         /* ERROR: epoch names the epoch concerned (a refused frame's,
                            * a suspected fork's) */
    uint64_t count;        /* ERROR: how many refused frames this report covers (0: it is not
                            * such a report; chat/verify.h); SENT: the text's ordinal */
    int exit_code;         /* DONE: 0 ok; 1 policy not satisfied, group unproven, removed; 2 other */
    uint32_t member;       /* MESSAGE: the sender's index in epoch; ADDED: its index in the
                            * new epoch; REMOVED: its index in the one before */
    int own;               /* MESSAGE: this member sent it; KICKED: this member was kicked */
    const uint8_t *leaf;   /* MESSAGE, ADDED, REMOVED, KICKED: the member's V; ERROR: the
                            * member a refused frame names as its sender, or whose view of
                            * the epoch differs (not proven: the frame did not check); NULL
                            * if unknown */
    const char *peer;      /* a direct conversation's JOINED, MESSAGE, CONNECTION: the other
                            * party's identity (NUL-terminated); NULL in a room */
    int authenticated;     /* JOINED: peer proved its identity with the authority's key */
} chat_event;

typedef void (*chat_event_cb)(void *ctx, const chat_event *ev);

/* The ERROR code of a suspected fork (chat/verify.h, chat_fork_suspected):
 * front ends make it stand out and ask people to compare the epoch's
 * fingerprint (chat_client_verify). */
#define CHAT_CODE_FORK_SUSPECTED "fork_suspected"

/* The room's protocol. It is in the room's signed descriptor too, and
 * must match: a client refuses a room of the other mode with a sentence
 * saying which it is (joining a seed room, which is NOT secure, is never
 * silent). */
typedef enum {
    CHAT_MODE_RATCHET = 0,   /* PROTOCOL.md: the default */
    CHAT_MODE_SEED           /* the 2014 prototype's (gke/seed.h), for comparison: chat/seed_client.c */
} chat_mode;

typedef struct {
    chat_mode mode;
    const char *relay;              /* [PIN@]HOST:PORT[,...], from the invitation */
    const fkex_tls *tls;            /* a client's TLS context (must outlive the
                                     * client), or NULL: plain TCP (--insecure-plaintext) */
    uint8_t room_id[32];            /* pinned by the invitation */
    const fkex_key *key;        /* the user's attributes; must outlive the client */
    const char *nick;
    /* To found the room: the admin-signed descriptor and the admin's key
     * (copied; wiped by chat_client_free). NULL to join. */
    const uint8_t *found_descriptor;
    size_t found_descriptor_len;
    const uint8_t *admin_sk;        /* 64 bytes */
    unsigned connect_timeout_ms;    /* to READY (0: 15 s) */
    unsigned join_timeout_ms;       /* JoinRequest to Welcome (0: 60 s) */
    unsigned leave_timeout_ms;      /* Remove proposal to the commit (0: 15 s) */
    unsigned reconnect_ms;          /* a member dials again for this long (0: 60 s, the
                                     * relay's default grace) */
    unsigned update_interval_ms;    /* an Update commit this often (0: 15 min), and after
                                     * every 1000 messages sent */
    chat_event_cb on_event;
    void *ctx;
    /* A direct conversation with this identity (fkex chat --dm) instead of
     * a room: key must carry an identity; room_id, found_* are unused. */
    const char *dm_peer;
} chat_client_config;

/* "fkex://HOST:PORT[,HOST:PORT...]/ROOMID" (64 hex digits; several
 * relays: those of one cluster, FEDERATION.md). addr gets the relays,
 * "HOST:PORT[,...]". FKEX_ERR_ARGUMENT if it is not an invitation. */
fkex_err chat_invite_parse(char addr[FKEX_NET_LIST_TEXT_MAX], uint8_t room_id[32], const char *invite) FKEX_WUR;

/* Starts the session (connects; everything else comes through events).
 * Errors: FKEX_ERR_ARGUMENT (bad relay address), FKEX_ERR_NO_MEMORY;
 * then nothing is called back and *c is NULL. */
fkex_err chat_client_start(chat_client **c, uv_loop_t *loop, const chat_client_config *cfg) FKEX_WUR;
/* Sends text to the room; queued until the member has joined. A SENT
 * event says when the relay has stored it; an ERROR event (not fatal)
 * when it cannot be sent. */
void chat_client_send(chat_client *c, const char *text, size_t len);
/* Texts given to chat_client_send that the relay has not stored yet
 * (queued for the join, or on their way; in a direct conversation, those
 * waiting for it to open). A front end that feeds a script's lines stops
 * reading at CHAT_BACKLOG_MAX and reads on as events bring it down:
 * nothing is dropped for want of room. */
#define CHAT_BACKLOG_MAX 256
size_t chat_client_backlog(const chat_client *c);
/* Proposes this member's removal and waits (bounded) for the commit that
 * removes it: LEFT, then DONE with 0. */
void chat_client_leave(chat_client *c);
/* Ends the session without leaving (the relay keeps the place for its grace
 * period), once what was sent has been accepted (bounded): DONE with 0. */
void chat_client_quit(chat_client *c);
/* Ends the session at once, whatever waits (texts for a join, say): DONE,
 * exit code 2, comes once its handles have closed. */
void chat_client_end(chat_client *c);
/* 1 once the member has joined and not left. */
int chat_client_joined(const chat_client *c);
/* Changes the nickname on the messages sent from now on.
 * FKEX_ERR_ARGUMENT (nothing changes) unless 1 to CHAT_NICK_MAX bytes of
 * UTF-8 without control characters. */
fkex_err chat_client_set_nick(chat_client *c, const char *nick) FKEX_WUR;

/* ---- what a front end shows -------------------------------------------------- */

typedef enum {
    CHAT_CONNECTING = 1,   /* to the relay, or waiting for its descriptor */
    CHAT_JOINING,          /* connected; the admission is under way */
    CHAT_ONLINE,           /* a member of the room */
    CHAT_CLOSED,           /* the session is ending or over */
    CHAT_RECONNECTING      /* a member whose connection dropped, dialling again */
} chat_conn_state;

typedef struct {
    chat_conn_state state;
    uint64_t epoch;            /* ONLINE only (else 0) */
    uint32_t members;          /* ONLINE only (else 0) */
    uint32_t index;            /* this member's index, ONLINE only */
    const char *name;          /* the room's name and policy from its descriptor, */
    size_t namelen;            /* not NUL-terminated, NULL until the descriptor is */
    const char *policy;        /* known; valid until the next call into the client */
    size_t policylen;
    uint8_t room_id[32];
} chat_status;

/* O(1) (the descriptor is decoded, not checked again). */
void chat_client_status(chat_status *s, const chat_client *c);

#define CHAT_FINGERPRINT_LEN 19    /* "1a2b 3c4d 5e6f 7a8b" */
/* The first 8 bytes of id as 4 groups of 4 hex digits: the room
 * fingerprint (of the room id) and a member's pseudonym (of its V), short
 * enough for people to compare aloud. */
void chat_fingerprint(char out[CHAT_FINGERPRINT_LEN + 1], const uint8_t id[32]);

typedef struct {
    uint8_t leaf[32];          /* V */
    char pseudonym[CHAT_FINGERPRINT_LEN + 1];
    const char *nick;          /* the last nickname seen on its messages; "" if none yet */
    int own;                   /* this member */
} chat_member;

/* The epoch's fingerprint (chat/verify.c, chat_epoch_fingerprint): 5 groups of 5
 * digits from the epoch authenticator, the same at every member of the epoch
 * and different in every other, for people to compare (aloud, or side by
 * side) when they suspect a fork. */
#define CHAT_EPOCH_FINGERPRINT_LEN 29    /* "01234 56789 01234 56789 01234" */
typedef struct {
    uint64_t epoch;
    char fingerprint[CHAT_EPOCH_FINGERPRINT_LEN + 1];
} chat_verify;

/* The current epoch and its fingerprint. FKEX_ERR_UNEXPECTED if not in the
 * room; FKEX_ERR_UNSUPPORTED in seed mode and direct conversations, which
 * have no epoch authenticator. O(1). */
fkex_err chat_client_verify(chat_verify *v, const chat_client *c) FKEX_WUR;

/* Member `index` of the current epoch (0 .. members - 1 of the status);
 * nick is valid until the next event. -1 if out of range or not a member.
 * O(1). */
int chat_client_member(chat_member *m, const chat_client *c, uint32_t index) FKEX_WUR;

/* After DONE (or before start returned an error): wipes and frees. */
void chat_client_free(chat_client *c);

/* ---- a kind of session -------------------------------------------------------------
 * chat_client_start picks a class by the configuration, and each call
 * above is its class's function over the session it started. */
typedef struct {
    fkex_err (*start)(void **impl, uv_loop_t *loop, const chat_client_config *cfg);
    void (*send)(void *impl, const char *text, size_t len);
    size_t (*backlog)(const void *impl);
    void (*leave)(void *impl);
    void (*quit)(void *impl);
    void (*end)(void *impl);          /* ends at once (exit 2): DONE once its handles close */
    int (*joined)(const void *impl);
    fkex_err (*set_nick)(void *impl, const char *nick);
    void (*status)(chat_status *s, const void *impl);
    fkex_err (*verify)(chat_verify *v, const void *impl);   /* NULL: FKEX_ERR_UNSUPPORTED */
    int (*member)(chat_member *m, const void *impl, uint32_t index);
    void (*free)(void *impl);
} chat_client_class;

extern const chat_client_class chat_ratchet_class;   /* chat/ratchet_client.c */
extern const chat_client_class chat_seed_class;      /* chat/seed_client.c */
extern const chat_client_class chat_dm_class;        /* chat/dm_client.c */

#endif
