/*
 * relay/daemon.h: what the relay daemon's files (relay/serve.c and the
 * files named below) share: the state of the loop and of each connection,
 * and the functions one concern offers the others. Private to them.
 *
 *   relay/serve.c     the loop, signals, the 1 s tick, loading the rooms
 *   relay/session.c   connections: HELLO, NONCE/AUTH, frames, the admin's
 *                     requests, direct conversations, accept and close
 *   relay/batch.c     group commit: a turn's SUBMITs as one store batch
 *   relay/replay.c    what a member missed, paced page by page
 *   relay/presence.c  who is online, the grace period, keepalives, GONE
 *   relay/send.c      envelopes out, routing deliveries, the log
 */
#ifndef FKEX_RELAY_DAEMON_H
#define FKEX_RELAY_DAEMON_H

#include <stdint.h>
#include "net/net.h"
#include "relay/dm.h"
#include "relay/index.h"
#include "relay/room.h"
#include "relay/serve.h"
#include "wire/relay_msg.h"

typedef struct serve_state serve_state;

enum { SESSION_NEW, SESSION_NONCE, SESSION_READY };

typedef struct conn_state {
    serve_state *s;
    fkex_conn *conn;
    struct conn_state *prev, *next;
    int state;
    relay_room *room;
    int has_leaf;
    uint8_t v[32];
    uint8_t nonce[32];
    uint64_t last_seq;   /* the HELLO's */
    uint64_t accepted_at;  /* uv_now */
    uint64_t heard_at;     /* uv_now of its last frame */
    uint64_t pinged_at;    /* uv_now of the PING it owes an answer to, 0 if none */
    int served;          /* a descriptor request answered: as good as a session */
    int member;          /* counted online as a roster member */
    int replaying;       /* on s->replays: the log is being sent, nothing live */
    uint64_t replay_after; /* the last seq the replay sent */
    size_t replayed;
    struct conn_state *rprev, *rnext;
    relay_dm_seat *dm;   /* a direct conversation's place (relay/dm.h), instead of a room */
    relay_room *awaiting;      /* an admin waiting for what becomes of its descriptor */
    uint32_t awaiting_version;
} conn_state;

/* A SUBMIT read this turn, run with the turn's batch. cs is NULL once its
 * connection closed: the message is still stored (it was sent), but
 * nobody is left to acknowledge. */
typedef struct {
    conn_state *cs;
    relay_room *r;
    uint8_t v[32];
    uint64_t client_seq;
    uint8_t *msg;
    size_t len;
    int code;            /* the refusal, or 0 */
    const char *why;
    relay_out out;
} pending_submit;

/* A member whose connections all dropped: online until the grace ends. */
typedef struct {
    relay_room *r;
    uint8_t v[32];
    uint64_t since;
} absent_member;

struct serve_state {
    relay_store *store;
    const relay_hooks *hooks;
    uv_loop_t *loop;
    fkex_server *server;
    uv_signal_t sigterm, sigint;
    uv_timer_t tick;
    uv_check_t turn;             /* runs the batch after each turn's reads */
    relay_room **rooms;
    size_t nrooms;
    conn_state *conns;
    relay_index sessions;        /* READY leaf sessions by (room, V) */
    relay_dm dm;                 /* direct conversations */
    pending_submit *batch;
    size_t nbatch, batchcap, batch_bytes;
    absent_member *absent;
    size_t nabsent, absentcap;
    conn_state *replays;         /* sessions whose replay is not yet written */
    relay_options opt;
    size_t nconns;               /* conn_states: the connections counted against max_conns */
    int at_cap;                  /* said so in the log */
    uint64_t refused;            /* connections refused at the cap, since it was reached */
    uint64_t accept_failures;    /* logged so far */
    uint64_t store_logged_at;    /* uv_now of the last storage failure logged, 0 if none */
    uint64_t store_unlogged;     /* storage failures since, not logged (a full disk fails
                                    every batch: one line per STORE_LOG_MS, not per message) */
    uint64_t started;            /* uv_now at start: every member gets a grace from it */
    int stopping;
};

/* ---- send.c ---- */
void serve_log(serve_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The first 4 bytes in hex: public identifiers (room ids, leaf keys), for logs. */
const char *serve_hex(char buf[9], const uint8_t id[32]);
/* Wall-clock ms: join times are persisted, so they must survive a restart. */
uint64_t serve_now_ms(void);
relay_room *serve_room_find(serve_state *s, const uint8_t id[32]);
uint64_t serve_head_seq(const relay_room *r);
/* 0, or -1 if the connection is closing (a slow reader is cut off by net). */
int serve_conn_send(fkex_conn *c, const fkex_relay_msg *m);
int serve_send(conn_state *cs, const fkex_relay_msg *m);
void serve_conn_error(fkex_conn *c, int code, uint64_t seq, const char *why);
void serve_error(conn_state *cs, int code, uint64_t seq, const char *why);
/* The client broke the protocol: it is told why, and the connection ends
 * once that is written. */
void serve_error_finish(conn_state *cs, int code, const char *why);
void serve_send_descriptor(conn_state *cs, const uint8_t room_id[32], const uint8_t *desc,
                           size_t len);
/* An envelope as a shared frame (one reference, the caller's), or NULL. */
fkex_frame_buf *serve_encode_shared(const fkex_relay_msg *m);
/* A settled Update moved a member to a new V: its session, absence and
 * queued SUBMITs follow it. */
void serve_rebind(serve_state *s, relay_room *r, const relay_out *out);
/* The admins waiting for r's descriptor of that version learn the outcome. */
void serve_tell_admins(serve_state *s, relay_room *r, uint32_t version, uint8_t outcome);
/* Each delivery of out to the session of its V in r, queued (the caller flushes). */
void serve_route(serve_state *s, relay_room *r, const relay_out *out);
/* r's memory may be stale: said once, and its sessions closed with ERROR 9. */
void serve_out_of_service(serve_state *s, relay_room *r);

/* ---- presence.c ---- */
void serve_absent_remove(serve_state *s, relay_room *r, const uint8_t v[32]);
/* v's last connection dropped: away, and offline once the grace ends. */
void serve_absent_add(serve_state *s, relay_room *r, const uint8_t v[32], uint64_t now);
/* Sessions whose V the roster now holds count online; leavers do not. */
void serve_refresh_members(serve_state *s, relay_room *r);
/* Members away past the grace are offline (once a second). */
void serve_absence_tick(serve_state *s, uint64_t mono);
void serve_hand_gone(serve_state *s, relay_room *r, uint64_t now, uint64_t mono);
void serve_keepalive(conn_state *cs, uint64_t mono);

/* ---- replay.c ---- */
/* After READY: what cs's V missed since its HELLO's seq, then it is live. */
void serve_replay_start(conn_state *cs);
void serve_replay_unlink(conn_state *cs);
void serve_replay_pump_all(serve_state *s);

/* ---- batch.c ---- */
/* A SUBMIT, queued for the turn's batch. */
void serve_on_submit(conn_state *cs, const fkex_relay_msg *m);
/* Runs the turn's SUBMITs as one store batch, then answers them all. */
void serve_run_batch(serve_state *s);

/* ---- session.c ---- */
void serve_on_accept(fkex_server *srv, fkex_conn *c);
/* The pending descriptor to the member whose turn it is, if due. */
void serve_hand_pending(serve_state *s, relay_room *r, uint64_t now);

#endif
