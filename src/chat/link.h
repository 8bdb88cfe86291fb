/*
 * chat/link.h: what every chat session has in common, whatever its room's
 * protocol: the one relay connection and the session's life around it.
 * A mode (chat/client.c, the ratchet; chat/seed_client.c, seed mode)
 * embeds a chat_link as the first member of its session struct and hands
 * it a table of callbacks for what only the mode knows.
 *
 * What the link does:
 *   - dials the relay (the first of the invitation's relays that answers,
 *     when it lists several: relays of one cluster, FEDERATION.md). On
 *     the first connection a founder sends CREATE_ROOM
 *     (the admin's signature naming l->v; the admin's key is wiped after
 *     this one use) and a joiner GET_DESCRIPTOR; the DESCRIPTOR that
 *     answers a joiner is checked against the invitation's room id and
 *     the mode's flag, kept in l->desc, and handed to ops->join;
 *   - answers NONCE with AUTH (ops->auth_sign) and PING with PONG;
 *   - sends SUBMITs, keeping each until the relay answers it (ACCEPTED, or
 *     ERROR with its seq: it and every older one are settled, since the
 *     relay answers in order);
 *   - drops DELIVERs of another room or seen already (seq <= last_seq),
 *     and hands the rest to ops->deliver;
 *   - when a joined member's connection drops, emits CONNECTION
 *     "reconnecting", dials again backing off (200 ms, doubling up to 5 s)
 *     until cfg.reconnect_ms have passed since the drop, each time the
 *     next of the invitation's relays (every relay of a cluster holds the
 *     same rooms and seqs), says HELLO with
 *     the last seq it read (the relay replays what was missed), and on
 *     READY sends again every SUBMIT not answered (a copy the relay did
 *     store is refused by the members) and emits "online". A drop before
 *     READY, before the join or while quitting ends the session;
 *   - runs one deadline at a time (connect, join, leave, quit) and says
 *     which was missed;
 *   - keeps what the front end sends before the join, and sends it
 *     (ops->send, encoded with the nickname and the time) when the mode
 *     says it joined (chat_link_joined);
 *   - finishes: closes the connection and its four timers, and once every
 *     handle is closed emits one DONE.
 * It never prints and never exits. Everything runs on the caller's loop.
 * (chat/session.h holds what it shares with direct conversations, which
 * have no room and do not reconnect: errors, envelopes, waiting texts.)
 *
 * The callbacks run on the loop and get the link, which is the first
 * member of the mode's session struct. Each may call back into the link
 * (submit, fail, ...). None is called once the session is closing, except
 * after_frame, which ends every frame the session began to handle.
 */
#ifndef FKEX_CHAT_LINK_H
#define FKEX_CHAT_LINK_H

#include "chat/chat.h"
#include "chat/client.h"
#include "chat/session.h"
#include "net/net.h"
#include "wire/ratchet_msg.h"
#include "wire/relay_msg.h"

typedef struct chat_link chat_link;

typedef struct {
    /* The room's mode, which its descriptor's FKEX_ROOM_SEED_MODE bit must
     * match, and the sentence that refuses a room of the other. */
    int seed_mode;
    const char *wrong_mode;
    /* The missed deadlines, each followed by " within N s": what did not
     * happen for a join (and a hint after it, "" for none), for a leave. */
    const char *join_late, *join_late_hint, *leave_late;

    /* A founder's CREATE_ROOM is on its way: build the join if need be
     * and say HELLO (chat_link_hello). */
    void (*created)(chat_link *l);
    /* A joiner's descriptor, checked and kept (l->desc; d decodes it):
     * build the join and say HELLO, or fail. */
    void (*join)(chat_link *l, const fkex_rmsg_descriptor *d);
    /* NONCE: sig, l->v's signature for the relay. -1 if it cannot be made
     * (the session fails). */
    int (*auth_sign)(chat_link *l, uint8_t sig[64], const uint8_t nonce[32]);
    /* The first READY (l->ready is set, the connect deadline stopped):
     * submit what waited for it, and wait for the join
     * (chat_link_await) or say it is done (chat_link_joined). */
    void (*ready)(chat_link *l);
    /* A room message the session has not read (l->last_seq is its seq now). */
    void (*deliver)(chat_link *l, const uint8_t *msg, size_t len);
    /* SUBMIT seq and those before it are answered: accepted, or refused.
     * Called before they leave the queue. NULL: nothing to do. */
    void (*answered)(chat_link *l, uint64_t seq, int accepted);
    /* The relay refused SUBMIT seq (code, text): fail, report or ignore. */
    void (*refused)(chat_link *l, uint64_t seq, uint16_t code, const char *text);
    /* Any frame the link does not handle itself (a DESCRIPTOR that is not
     * a joiner's first, GONE, ...). NULL: ignored. */
    void (*frame)(chat_link *l, const fkex_relay_msg *m);
    /* After each frame that did not end the session. NULL: nothing. */
    void (*after_frame)(chat_link *l);
    /* A chat line to send now (the member has joined): cc holds its
     * fields, content their encoding (wiped and freed after the call). */
    void (*send)(chat_link *l, const chat_content *cc, const uint8_t *content, size_t len);
    /* CHAT_LINK_FORGET_MS after chat_link_forget_later: drop the previous
     * epoch's keys. */
    void (*forget)(chat_link *l);
    /* Every second while the session runs; NULL for no tick. */
    void (*tick)(chat_link *l);
} chat_link_ops;

#define CHAT_LINK_FORGET_MS 10000u   /* late messages of the previous epoch are read this long */

/* A SUBMIT the relay has not answered yet. */
typedef struct {
    uint64_t seq;
    uint8_t *bytes;
    size_t len;
    uint64_t text;      /* the ordinal of the text it carries (CHAT_EV_SENT), 0 if none */
} chat_unanswered;

struct chat_link {
    const chat_link_ops *ops;
    uv_loop_t *loop;
    chat_client_config cfg;      /* timeouts defaulted; relay and nick point below */
    char relays[FKEX_NET_LIST_TEXT_MAX];            /* the invitation's relays, "H1:P1,H2:P2", tried in turn */
    size_t nrelays, relay_at;    /* how many; the one dialled */
    size_t tried;                /* relays that failed in a row before a session */
    char addr[FKEX_NET_LIST_TEXT_MAX];             /* the one dialled */
    char nick[CHAT_NICK_MAX + 1];
    uint8_t admin_sk[64];        /* a founder's, until CREATE_ROOM is signed */
    uint8_t create_sig[64];      /* ... and that signature, for every relay it dials */
    int create_signed;
    uint8_t *desc;               /* founder: its descriptor; joiner: the relay's, once checked */
    size_t desclen;
    int founder;
    uint8_t v[32];               /* the session's key at the relay: the mode sets it */

    fkex_conn *conn;
    uint64_t next_cseq, last_seq;
    chat_unanswered *unacked;    /* oldest first */
    size_t nunacked, unackedcap;
    int ready, joined, leaving, quitting;

    chat_texts texts;            /* sent before the member has joined */
    uint64_t texts_in;           /* texts given to chat_link_text so far: the last one's ordinal */
    uint64_t queued_first;       /* the ordinal of texts' first (they are consecutive) */
    uint64_t sending;            /* the ordinal of the text ops->send is submitting, or 0 */
    size_t texts_unanswered;     /* unacked entries that carry a text */

    uv_timer_t deadline;         /* connect, join, leave, quit: one at a time */
    uv_timer_t retry, forget, tick;
    int reconnecting;
    int rejoining;               /* the connection closes to come back as a joiner */
    unsigned retry_ms;
    uint64_t lost_at;
    int closing, open_handles, exit_code, done;
};

/* Checks and copies cfg (relay, nick, the founder's descriptor and admin
 * key), defaulting its timeouts. FKEX_ERR_ARGUMENT, FKEX_ERR_NO_MEMORY;
 * either way chat_link_clear frees what was taken. */
fkex_err chat_link_init(chat_link *l, uv_loop_t *loop, const chat_client_config *cfg,
                        const chat_link_ops *ops) FKEX_WUR;
/* Dials and starts the timers (l->v must be set for a founder). On an
 * error nothing is started and nothing will be called back. */
fkex_err chat_link_start(chat_link *l) FKEX_WUR;
/* Wipes and frees what the link holds (not l itself). */
void chat_link_clear(chat_link *l);

/* ---- events and the end ---- */
void chat_link_emit(chat_link *l, const chat_event *ev);
/* An ERROR event (not fatal by itself). */
void chat_link_report(chat_link *l, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Ends the session: every handle closed, then DONE with exit_code. Once. */
void chat_link_finish(chat_link *l, int exit_code);
/* report, then finish. */
void chat_link_fail(chat_link *l, int exit_code, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- to the relay ---- */
void chat_link_send(chat_link *l, const fkex_relay_msg *m);
void chat_link_hello(chat_link *l);
/* Sends msg as SUBMIT (copied, kept until answered; while reconnecting
 * only kept). Its client seq, or 0 if it could not be kept (reported). */
uint64_t chat_link_submit(chat_link *l, const uint8_t *msg, size_t len);

/* ---- the session's course ---- */
/* (Re)starts the one deadline, ms from now. */
void chat_link_await(chat_link *l, unsigned ms);
/* The member is in: sends the texts that waited (ops->send), then
 * emits JOINED unless that ended the session. */
void chat_link_joined(chat_link *l, uint64_t epoch, uint32_t members);
/* The member lost its place (it could not apply the room's settled
 * commit; the mode has dropped its state): the session starts again as a
 * joiner on a new connection, from GET_DESCRIPTOR (ops->join builds the
 * new join), and what was not answered is dropped. */
void chat_link_rejoin(chat_link *l);
/* The leave is under way: the leave deadline runs. */
void chat_link_leaving(chat_link *l);
/* Calls ops->forget CHAT_LINK_FORGET_MS from now (again if pending). */
void chat_link_forget_later(chat_link *l);

/* ---- the front end's calls, as chat/client.h says ---- */
void chat_link_text(chat_link *l, const char *text, size_t len);
size_t chat_link_backlog(const chat_link *l);
/* 1 if the mode should go on leaving; otherwise nothing was there to
 * leave (the session is finished) or a leave is under way. */
int chat_link_may_leave(chat_link *l) FKEX_WUR;
void chat_link_quit(chat_link *l);
fkex_err chat_link_set_nick(chat_link *l, const char *nick) FKEX_WUR;
/* The state (joining: the mode has what a join needs, before READY),
 * room id, name and policy; the mode fills epoch, members and index. */
void chat_link_status(chat_status *s, const chat_link *l, int joining);

#endif
