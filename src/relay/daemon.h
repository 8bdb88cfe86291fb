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
#include "relay/jetstream.h"
#include "relay/room.h"
#include "relay/serve.h"
#include "wire/relay_entry.h"
#include "wire/relay_msg.h"

typedef struct serve_state serve_state;

enum { SESSION_NEW, SESSION_NONCE, SESSION_READY };

/* A frame read while its connection waits (cluster mode: a founder's,
 * after CREATE_ROOM, until the fold has made the room). */
#define HELD_FRAMES_MAX 64
#define HELD_BYTES_MAX (1u << 20)
typedef struct held_frame {
    struct held_frame *next;
    size_t len;
    uint8_t bytes[];
} held_frame;

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
    int holding;               /* frames wait in held until serve_resume */
    held_frame *held, **held_tail;
    size_t nheld, held_bytes;
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

/* Cluster mode: a session waits for what the fold makes of an entry it
 * published (relay/fold.c): known by the entry's id until stored, then by
 * its stream seq. cs is NULL once its connection closed. */
enum { WAIT_SUBMIT, WAIT_CREATE, WAIT_POLICY, WAIT_KICK };
typedef struct {
    conn_state *cs;
    int kind;
    uint8_t id[32];
    uint64_t seq;          /* 0 until stored */
    uint64_t client_seq;   /* WAIT_SUBMIT */
    uint32_t version;      /* WAIT_POLICY */
} cluster_wait;

/* What the fold made of an entry, kept for a while for the sessions whose
 * acknowledgement comes after (one that resent through another relay). */
typedef struct {
    uint64_t seq;
    int code;
    uint64_t relay_seq;
    const char *why;
    relay_room *room;
} cluster_outcome;

/* Every relay's last heartbeat, and where each online member's session is. */
typedef struct {
    uint8_t id[16];
    uint64_t last;         /* fold time */
    uint64_t grace;        /* its --grace, ms */
} cluster_relay;
typedef struct {
    relay_room *r;
    uint8_t v[32];
    uint8_t relay[16];
} cluster_member;

/* A settled Update moved a member from one V to another. A session's
 * entries published before its relay's fold got there name the old V:
 * the fold reads them as the new one's, as a single relay's session,
 * re-bound at once, would have sent them. The last RELAY_REBINDS. */
#define RELAY_REBINDS 256
typedef struct {
    relay_room *r;
    uint8_t from[32], to[32];
} cluster_rebind;

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
    uint64_t started;            /* uv_now at start (in cluster mode, the fold's first time):
                                    every member gets a grace from it */
    int stopping;
    /* Cluster mode (--store nats://, relay/fold.c): the rooms are a fold
     * of the shared log; s->store is this relay's cache of it. */
    int cluster;
    relay_js *js;                /* NULL once shutting down */
    const char *listen;          /* where to listen once the fold has caught up */
    uint8_t relay_id[16];
    uint64_t grace_ms;           /* this relay's --grace; in cluster mode opt.grace_ms is the
                                    longest the live relays' heartbeats carry, the same on
                                    every relay, and this one goes in ours */
    uint64_t fold_time;          /* the largest stream time folded (ms): the rules' clock */
    uint64_t folded;             /* the last stream seq folded */
    int fold_batch;              /* a cache transaction is open (relay/fold.c) */
    cluster_wait *waits;
    size_t nwaits, waitcap;
    cluster_outcome *outcomes;   /* by seq modulo RELAY_OUTCOMES */
    cluster_relay *relays;
    size_t nrelays;
    cluster_member *at;
    size_t nat, atcap;
    cluster_rebind *rebinds;     /* a ring of RELAY_REBINDS */
    size_t nrebinds;             /* ever recorded */
    char failure[128];           /* why the relay stopped on its own (serve_fail) */
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
/* cs's V, a roster member, has a live session here: counted online. */
void serve_member_online(serve_state *s, conn_state *cs);
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
/* One room message from v into r (relay_room_submit) and what follows in
 * the daemon: sessions re-bound, a room out of service said, the roster's
 * new members counted. 0 or the refusal's code, with out. */
int serve_submit_step(serve_state *s, relay_room *r, const uint8_t v[32], const uint8_t *source,
                      const uint8_t *msg, size_t len, uint64_t now, relay_out *out);

/* ---- serve.c ---- */
/* Every room's timeouts at now (relay_room_tick), the pending descriptor
 * and the members gone past the grace handed to a member, the grace run
 * out at mono: once a second, or in cluster mode at each heartbeat the
 * fold reads (both clocks the fold's). */
void serve_tick_rooms(serve_state *s, uint64_t now, uint64_t mono);
/* Starts listening (cluster mode: once the fold has caught up). */
fkex_err serve_listen(serve_state *s, char err[128]);
/* The relay cannot go on (why): it shuts down, and relay_serve says why. */
void serve_fail(serve_state *s, const char *why);

/* ---- fold.c (cluster mode) ---- */
/* Opens the shared log at store and starts folding it; the server starts
 * listening once the fold reaches the log's end (s->listen). */
fkex_err serve_cluster_open(serve_state *s, const char *store, char err[128]);
void serve_cluster_close(serve_state *s);
/* Publishes e (its time set here). cs, if not NULL, waits for the outcome
 * (kind WAIT_*, client_seq or version as the kind needs). 0, or -1 (the
 * session is told). */
int serve_publish(serve_state *s, fkex_relay_entry *e, conn_state *cs, int kind,
                  uint64_t client_seq, uint32_t version);
/* Publishes ONLINE (on) or AWAY for cs's V in its room. */
void serve_publish_presence(serve_state *s, conn_state *cs, int on);
/* A connection closed: its waits are nobody's. */
void serve_cluster_forget(serve_state *s, conn_state *cs);
/* A settled Update moved r's member from one V to another (serve_rebind). */
void serve_cluster_rebound(serve_state *s, relay_room *r, const uint8_t from[32],
                           const uint8_t to[32]);

/* ---- session.c ---- */
void serve_on_accept(fkex_server *srv, fkex_conn *c);
/* What the relay does with a request, whoever (a peer's address, or the
 * shared log) brought it; the caller answers. A new room: 0 with *r, or
 * the refusal's code with *why. */
int serve_create_step(serve_state *s, const char *who, const uint8_t *desc, size_t len,
                      const uint8_t founder[32], const uint8_t sig[64], relay_room **r,
                      const char **why);
/* The admin's kick or next descriptor, routed: 0, or the code with out->why. */
int serve_admin_step(serve_state *s, const char *who, relay_room *r, int kick,
                     const uint8_t *data, size_t len, relay_out *out);
/* ACCEPTED to the admin; for a descriptor, POLICY_OUTCOME follows. */
void serve_admin_accepted(conn_state *cs, relay_room *r, int kick, uint64_t seq, uint32_t version);
/* What cs sent while holding, handled now, in order. */
void serve_resume(conn_state *cs);
/* Member v cannot commit the pending descriptor: the next member's turn. */
void serve_decline_step(serve_state *s, relay_room *r, const uint8_t v[32], uint32_t version,
                        uint64_t now);
/* The pending descriptor to the member whose turn it is, if due. */
void serve_hand_pending(serve_state *s, relay_room *r, uint64_t now);

#endif
