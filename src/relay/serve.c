/*
 * relay/serve.c: the relay's daemon: a libuv loop around relay/room.h.
 *
 * One thread, no fork. Every room of the store is loaded at start (all its
 * members offline); a connection becomes a session by HELLO and, to act as
 * a leaf, NONCE/AUTH; the relay answers READY, replays what that V missed
 * since the HELLO's seq, and only then counts a roster member online, so a
 * sponsor is never named on a connection still catching up. A joiner's
 * session is addressed by the V of its JoinRequest, as room.h routes; when
 * the commit that adds it wins, it is counted online like any member.
 *
 * A member whose last connection drops keeps its place, and stays online
 * for the core (the log keeps what it misses), for the grace period; then
 * it is marked offline, so sponsorship moves on. The relay removes nobody:
 * members do, by proposal.
 *
 * Group commit: SUBMITs are not run as they are read but queued, and once
 * per loop turn (a check handle, after libuv has read every ready socket)
 * the whole queue runs as one store batch: each step in its savepoint,
 * one COMMIT (one fsync of the WAL) for all, and only then is any
 * ACCEPTED or DELIVER of the batch sent. Under load a turn carries many
 * SUBMITs and the fsync is shared; at rest a SUBMIT waits for no other.
 *
 * Replay is paced: what a member missed is read from the log a page
 * (REPLAY_PAGE_BYTES) at a time, the next page once its connection has
 * drained below REPLAY_LOW_WATER (checked each loop turn, O(sessions
 * replaying)), so a member further behind than the queue cap is not cut
 * off as a slow reader. Meanwhile nothing is routed to it live: what
 * arrives is in the log, and the last page reaches the head; then it is
 * counted online and routed to like any member.
 *
 * Abuse (serve.h): framing errors are net's (a reject callback sends the
 * ERROR), undecodable envelopes and deadlines are ours; either way the
 * ERROR is written, then the connection closed (fkex_conn_finish). A room
 * whose state cannot be reread after a failed write is out of service:
 * its sessions are closed with ERROR 9 and nobody is served stale state.
 *
 * Fan-out: a delivery finds its session through an index by (room, V),
 * and a message that goes to many (a broadcast) is encoded once, as one
 * shared frame (net.h fkex_frame_buf) that every recipient's queue
 * references; each connection's frames of the turn leave in one writev.
 *
 * SIGTERM and SIGINT stop the server and the timer and let the loop drain,
 * so every handle is closed before we return. Everything acknowledged is
 * in SQLite already, so nothing is lost.
 *
 * Cost: a delivery is O(1) (the index); a SUBMIT is its step's SQLite
 * writes and a share of one commit per turn.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include "inner.h"
#include "net/net.h"
#include "relay/dm.h"
#include "relay/index.h"
#include "relay/room.h"
#include "relay/serve.h"
#include "wire/relay_msg.h"

#define TICK_MS 1000
#define OUT_OF_SERVICE "this room is out of service at this relay: its store could not be reread"
/* A replay page, and how far a replaying connection's queue must drain
 * before the next page: far below RELAY_MAX_QUEUED, whatever the backlog. */
#define REPLAY_PAGE_BYTES (1u << 20)
#define REPLAY_LOW_WATER (1u << 20)
/* Open files the daemon needs besides its connections. */
#define RESERVED_FDS 64
/* A turn's batch runs at once when it reaches this many SUBMITs or bytes,
 * so that a flood cannot hold an unbounded queue. */
#define BATCH_MAX 4096
#define BATCH_MAX_BYTES (64u << 20)

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

static void logf_(serve_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(serve_state *s, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    if (!s->hooks || !s->hooks->log)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->hooks->log(s->hooks->ctx, line);
}

/* The first 4 bytes in hex: public identifiers (room ids, leaf keys), for logs. */
static const char *short_hex(char buf[9], const uint8_t id[32])
{
    sodium_bin2hex(buf, 9, id, 4);
    return buf;
}

/* Wall-clock ms: join times are persisted, so they must survive a restart. */
static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static relay_room *room_find(serve_state *s, const uint8_t id[32])
{
    for (size_t i = 0; i < s->nrooms; i++)
        if (memcmp(s->rooms[i]->room_id, id, 32) == 0)
            return s->rooms[i];
    return NULL;
}

static uint64_t head_seq(const relay_room *r)
{
    return r->next_seq ? r->next_seq - 1 : 0;
}

/* ---- sending ---------------------------------------------------------------- */

/* 0, or -1 if the connection is closing (a slow reader is cut off by net). */
static int conn_send_msg(fkex_conn *c, const fkex_relay_msg *m)
{
    fkex_writer w;
    int rc = -1;
    if (!c)
        return -1;
    fkex_writer_init(&w);
    fkex_relay_msg_encode(&w, m);
    if (!w.failed)
        rc = fkex_conn_send(c, w.buf, w.len);
    else
        fkex_conn_close(c, "out of memory");
    free(w.buf);   /* public bytes: no need to wipe a copy of a DELIVER */
    return rc;
}

static int send_msg(conn_state *cs, const fkex_relay_msg *m)
{
    return conn_send_msg(cs->conn, m);
}

static void conn_error(fkex_conn *c, int code, uint64_t seq, const char *why)
{
    fkex_relay_msg m = { 0 };
    size_t n = strlen(why);
    m.kind = FKEX_RELAY_ERROR;
    m.code = (uint16_t)code;
    m.seq = seq;
    m.data = (const uint8_t *)why;
    m.datalen = n > FKEX_RELAY_TEXT_MAX ? FKEX_RELAY_TEXT_MAX : n;
    (void)conn_send_msg(c, &m);
}

static void send_error(conn_state *cs, int code, uint64_t seq, const char *why)
{
    conn_error(cs->conn, code, seq, why);
}

/* The client broke the protocol: it is told why, and the connection ends
 * once that is written. */
static void send_error_and_finish(conn_state *cs, int code, const char *why)
{
    if (!cs->conn)
        return;
    send_error(cs, code, 0, why);
    fkex_conn_finish(cs->conn, why);
}

static int send_deliver(conn_state *cs, const uint8_t room_id[32], const relay_delivery *d)
{
    fkex_relay_msg m = { 0 };
    m.kind = FKEX_RELAY_DELIVER;
    memcpy(m.room_id, room_id, 32);
    m.seq = d->seq;
    m.data = d->bytes;
    m.datalen = d->len;
    return send_msg(cs, &m);
}

static void send_descriptor(conn_state *cs, const uint8_t room_id[32], const uint8_t *desc,
                            size_t len)
{
    fkex_relay_msg m = { 0 };
    m.kind = FKEX_RELAY_DESCRIPTOR;
    memcpy(m.room_id, room_id, 32);
    m.data = desc;
    m.datalen = len;
    (void)send_msg(cs, &m);
}

/* An envelope as a shared frame (one reference, the caller's), or NULL. */
static fkex_frame_buf *encode_shared(const fkex_relay_msg *m)
{
    fkex_writer w;
    fkex_frame_buf *b = NULL;
    fkex_writer_init(&w);
    fkex_relay_msg_encode(&w, m);
    if (!w.failed && (b = fkex_frame_buf_new(w.len)) != NULL)
        memcpy(fkex_frame_buf_body(b), w.buf, w.len);
    free(w.buf);   /* public bytes */
    return b;
}

/* A settled Update moved a member to a new V (relay/room.h): its session
 * and its absence, if it is away, follow it. */
static void rebind(serve_state *s, relay_room *r, const relay_out *out)
{
    conn_state *cs;
    if (!out->rebind)
        return;
    if ((cs = relay_index_get(&s->sessions, r, out->rebind_from)) != NULL) {
        relay_index_del(&s->sessions, r, out->rebind_from, cs);
        memcpy(cs->v, out->rebind_to, 32);
        if (relay_index_put(&s->sessions, r, cs->v, cs) != 0)
            fkex_conn_close(cs->conn, "out of memory");   /* it reconnects under its new V */
    }
    for (size_t i = 0; i < s->nabsent; i++)
        if (s->absent[i].r == r && memcmp(s->absent[i].v, out->rebind_from, 32) == 0)
            memcpy(s->absent[i].v, out->rebind_to, 32);
    for (size_t i = 0; i < s->nbatch; i++)   /* what it sent in this turn is its too */
        if (s->batch[i].r == r && memcmp(s->batch[i].v, out->rebind_from, 32) == 0)
            memcpy(s->batch[i].v, out->rebind_to, 32);
}

/* Each delivery to the session of its V in room r, queued (the caller
 * flushes); the others get theirs from the log when they come back.
 * Deliveries of the same bytes and seq (a broadcast) share one encoded
 * frame. O(deliveries). */
/* The admins waiting for r's descriptor of that version (or, committed,
 * an older one) learn the outcome. O(connections): policy changes are rare. */
static void tell_admins(serve_state *s, relay_room *r, uint32_t version, uint8_t outcome)
{
    fkex_relay_msg m = { 0 };
    m.kind = FKEX_RELAY_POLICY_OUTCOME;
    memcpy(m.room_id, r->room_id, 32);
    m.version = version;
    m.outcome = outcome;
    m.epoch = r->epoch;
    for (conn_state *cs = s->conns; cs; cs = cs->next)
        if (cs->conn && cs->awaiting == r &&
            (cs->awaiting_version == version ||
             (outcome == FKEX_POLICY_COMMITTED && cs->awaiting_version < version))) {
            cs->awaiting = NULL;
            (void)send_msg(cs, &m);
        }
}

static void route(serve_state *s, relay_room *r, const relay_out *out)
{
    fkex_frame_buf *b = NULL;
    if (out->installed)
        tell_admins(s, r, out->installed, FKEX_POLICY_COMMITTED);
    for (size_t i = 0; i < out->n; i++) {
        const relay_delivery *d = &out->d[i];
        conn_state *cs = relay_index_get(&s->sessions, r, d->to);
        if (!cs || !cs->conn || cs->replaying)   /* a replay reads it from the log */
            continue;
        if (b && (d->bytes != out->d[i - 1].bytes || d->seq != out->d[i - 1].seq)) {
            fkex_frame_buf_unref(b);
            b = NULL;
        }
        if (!b) {
            fkex_relay_msg m = { 0 };
            m.kind = FKEX_RELAY_DELIVER;
            memcpy(m.room_id, r->room_id, 32);
            m.seq = d->seq;
            m.data = d->bytes;
            m.datalen = d->len;
            if (!(b = encode_shared(&m))) {
                fkex_conn_close(cs->conn, "out of memory");
                continue;
            }
        }
        (void)fkex_conn_queue(cs->conn, b);   /* a slow reader is cut off by net */
    }
    fkex_frame_buf_unref(b);
}

/* ---- presence ----------------------------------------------------------------- */

static void absent_remove(serve_state *s, relay_room *r, const uint8_t v[32])
{
    for (size_t i = 0; i < s->nabsent;) {
        if (s->absent[i].r == r && memcmp(s->absent[i].v, v, 32) == 0)
            s->absent[i] = s->absent[--s->nabsent];
        else
            i++;
    }
}

static void absent_add(serve_state *s, relay_room *r, const uint8_t v[32], uint64_t now)
{
    char vh[9];
    absent_remove(s, r, v);
    relay_room_set_away(r, v);
    if (s->opt.grace_ms == 0 || s->nabsent == s->absentcap) {
        absent_member *t = NULL;
        if (s->opt.grace_ms > 0) {
            size_t cap = s->absentcap ? 2 * s->absentcap : 16;
            t = realloc(s->absent, cap * sizeof *t);
            if (t) {
                s->absent = t;
                s->absentcap = cap;
            }
        }
        if (!t) {   /* no grace (or no memory for one): offline at once */
            relay_room_set_online(r, v, 0);
            logf_(s, "member %s is offline: it keeps its place; sponsorship moves on",
                  short_hex(vh, v));
            return;
        }
    }
    memcpy(s->absent[s->nabsent].v, v, 32);
    s->absent[s->nabsent].r = r;
    s->absent[s->nabsent].since = now;
    s->nabsent++;
}

/* Counts sessions whose V the roster now holds (a joiner whose commit won)
 * online, and forgets members that left. O(connections x members). */
static void refresh_members(serve_state *s, relay_room *r)
{
    char vh[9];
    for (conn_state *cs = s->conns; cs; cs = cs->next) {
        if (cs->state != SESSION_READY || cs->room != r || !cs->has_leaf)
            continue;
        int m = relay_room_member(r, cs->v) >= 0;
        if (m && !cs->member) {
            cs->member = 1;
            relay_room_set_online(r, cs->v, 1);
            absent_remove(s, r, cs->v);
            logf_(s, "%s: joiner %s is now a member", fkex_conn_peer(cs->conn), short_hex(vh, cs->v));
        } else if (!m && cs->member) {
            cs->member = 0;
            logf_(s, "%s: %s is no longer a member", fkex_conn_peer(cs->conn), short_hex(vh, cs->v));
        }
    }
    for (size_t i = 0; i < s->nabsent;) {
        if (s->absent[i].r == r && relay_room_member(r, s->absent[i].v) < 0)
            s->absent[i] = s->absent[--s->nabsent];
        else
            i++;
    }
}

/* A room whose memory may be stale (relay/room.h `failed`): said once in
 * the log, and every session in it closed with ERROR 9; a HELLO for it is
 * refused from now on. O(connections), once per room. */
static void out_of_service(serve_state *s, relay_room *r)
{
    char rh[9];
    logf_(s, "room %s: its state could not be reread from the store (%s): no longer served",
          short_hex(rh, r->room_id), relay_store_error(s->store));
    for (conn_state *cs = s->conns; cs; cs = cs->next)
        if (cs->room == r && cs->conn)
            send_error_and_finish(cs, FKEX_RELAY_E_INTERNAL, OUT_OF_SERVICE);
}

/* ---- frames --------------------------------------------------------------------- */

static void on_hello(conn_state *cs, const fkex_relay_msg *m)
{
    serve_state *s = cs->s;
    relay_room *r;
    char rh[9];
    if (cs->state != SESSION_NEW || cs->dm) {
        send_error(cs, FKEX_RELAY_E_BAD_FRAME, 0, "this connection already has a session");
        return;
    }
    if (!(r = room_find(s, m->room_id))) {
        send_error(cs, FKEX_RELAY_E_NO_ROOM, 0, "no such room at this relay");
        logf_(s, "%s: hello for unknown room %s", fkex_conn_peer(cs->conn), short_hex(rh, m->room_id));
        return;
    }
    if (r->failed) {
        send_error(cs, FKEX_RELAY_E_INTERNAL, 0, OUT_OF_SERVICE);
        return;
    }
    cs->room = r;
    cs->last_seq = m->seq;
    cs->has_leaf = m->has_leaf;
    if (m->has_leaf) {
        fkex_relay_msg n = { 0 };
        memcpy(cs->v, m->leaf, 32);
        randombytes_buf(cs->nonce, 32);
        n.kind = FKEX_RELAY_NONCE;
        memcpy(n.nonce, cs->nonce, 32);
        cs->state = SESSION_NONCE;
        (void)send_msg(cs, &n);
        return;
    }
    fkex_relay_msg rd = { 0 };
    rd.kind = FKEX_RELAY_READY;
    memcpy(rd.room_id, r->room_id, 32);
    rd.epoch = r->epoch;
    rd.relay_seq = head_seq(r);
    cs->state = SESSION_READY;
    (void)send_msg(cs, &rd);
    logf_(s, "%s: anonymous session in room %s", fkex_conn_peer(cs->conn), short_hex(rh, r->room_id));
}

/* ---- paced replay --------------------------------------------------------------- */

static void replay_unlink(conn_state *cs)
{
    serve_state *s = cs->s;
    if (!cs->replaying)
        return;
    if (cs->rprev)
        cs->rprev->rnext = cs->rnext;
    else
        s->replays = cs->rnext;
    if (cs->rnext)
        cs->rnext->rprev = cs->rprev;
    cs->rprev = cs->rnext = NULL;
    cs->replaying = 0;
}

/* The replay is written (or could not be): the session is live, and a
 * roster member is counted online. */
static void replay_done(conn_state *cs)
{
    serve_state *s = cs->s;
    relay_room *r = cs->room;
    char vh[9], rh[9];
    replay_unlink(cs);
    if (!cs->conn)
        return;
    long idx = relay_room_member(r, cs->v);
    if (idx >= 0) {
        cs->member = 1;
        relay_room_set_online(r, cs->v, 1);
        absent_remove(s, r, cs->v);
    }
    logf_(s, "%s: %s %s in room %s (epoch %llu), replayed %zu frame%s after seq %llu",
          fkex_conn_peer(cs->conn), idx >= 0 ? "member" : "leaf", short_hex(vh, cs->v),
          short_hex(rh, r->room_id), (unsigned long long)r->epoch, cs->replayed,
          cs->replayed == 1 ? "" : "s", (unsigned long long)cs->last_seq);
}

/* Sends pages of cs's replay while its queue is below the low water. */
static void replay_pump(conn_state *cs)
{
    relay_out out;
    relay_out_init(&out);
    while (cs->replaying && cs->conn && fkex_conn_queued(cs->conn) < REPLAY_LOW_WATER) {
        int code = relay_room_replay(cs->room, cs->v, cs->replay_after, REPLAY_PAGE_BYTES, &out);
        if (code != 0) {
            send_error(cs, code, 0, out.why ? out.why : "cannot replay");
            replay_done(cs);
            break;
        }
        int cut = 0;
        for (size_t i = 0; i < out.n && !cut; i++) {
            if (send_deliver(cs, cs->room->room_id, &out.d[i]) != 0)
                cut = 1;   /* closing: its close callback comes */
            else {
                cs->replay_after = out.d[i].seq;
                cs->replayed++;
            }
        }
        if (cut)
            replay_unlink(cs);
        else if (!out.more)
            replay_done(cs);
        relay_out_clear(&out);
    }
    relay_out_clear(&out);
}

/* Each turn: the next pages of the replays whose connections drained. */
static void replay_pump_all(serve_state *s)
{
    for (conn_state *cs = s->replays, *next; cs; cs = next) {
        next = cs->rnext;
        replay_pump(cs);
    }
}

static void on_auth(conn_state *cs, const fkex_relay_msg *m)
{
    serve_state *s = cs->s;
    relay_room *r = cs->room;
    fkex_relay_msg rd = { 0 };
    char vh[9];
    if (cs->state != SESSION_NONCE) {
        send_error(cs, FKEX_RELAY_E_AUTH, 0, "AUTH answers a NONCE");
        return;
    }
    int ok = fkex_relay_auth_verify(m->sig, r->room_id, cs->nonce, cs->v) == 0;
    sodium_memzero(cs->nonce, 32);   /* one signature per nonce */
    if (!ok) {
        cs->state = SESSION_NEW;
        send_error(cs, FKEX_RELAY_E_AUTH, 0, "the signature does not verify for that leaf key");
        logf_(s, "%s: authentication failed for %s", fkex_conn_peer(cs->conn), short_hex(vh, cs->v));
        return;
    }
    /* One session per leaf: an older one (a connection the client lost
     * track of) gives way. */
    conn_state *o = relay_index_get(&s->sessions, r, cs->v);
    if (o && o != cs) {
        relay_index_del(&s->sessions, r, cs->v, o);
        o->member = 0;
        o->state = SESSION_NEW;
        if (o->conn)
            fkex_conn_close(o->conn, "replaced by a new session");
    }
    if (relay_index_put(&s->sessions, r, cs->v, cs) != 0) {
        fkex_conn_close(cs->conn, "out of memory");
        return;
    }
    cs->state = SESSION_READY;
    rd.kind = FKEX_RELAY_READY;
    memcpy(rd.room_id, r->room_id, 32);
    rd.epoch = r->epoch;
    rd.relay_seq = head_seq(r);
    if (send_msg(cs, &rd) != 0)
        return;
    cs->replaying = 1;
    cs->replay_after = cs->last_seq;
    cs->replayed = 0;
    cs->rprev = NULL;
    cs->rnext = s->replays;
    if (s->replays)
        s->replays->rprev = cs;
    s->replays = cs;
    replay_pump(cs);   /* a short replay is written at once */
}

/* An ACCEPTED or ERROR, queued behind the connection's deliveries of the turn. */
static void queue_msg(conn_state *cs, const fkex_relay_msg *m)
{
    fkex_frame_buf *b = encode_shared(m);
    if (!b) {
        fkex_conn_close(cs->conn, "out of memory");
        return;
    }
    (void)fkex_conn_queue(cs->conn, b);
    fkex_frame_buf_unref(b);
}

#define STORE_LOG_MS 10000u

/* n messages could not be stored (a full disk, say): logged
 * with SQLite's reason, then at most once every STORE_LOG_MS with how
 * many failed meanwhile, so that a relay refusing everything does not
 * fill the disk it could not write to with its log. */
static void store_failed(serve_state *s, size_t n)
{
    uint64_t mono = uv_now(s->loop);
    s->store_unlogged += n;
    if (s->store_logged_at && mono - s->store_logged_at < STORE_LOG_MS)
        return;
    logf_(s, "storing %llu message%s failed: %s (every message is refused until the relay can "
          "store again)", (unsigned long long)s->store_unlogged, s->store_unlogged == 1 ? "" : "s",
          relay_store_error(s->store));
    s->store_logged_at = mono ? mono : 1;
    s->store_unlogged = 0;
}

/* Runs the turn's SUBMITs as one store batch, then answers them all:
 * nothing is acknowledged or delivered before the batch is on disk. */
static void run_batch(serve_state *s)
{
    size_t n = s->nbatch;
    fkex_err err;
    char vh[9], rh[9];
    if (n == 0)
        return;
    if ((err = relay_store_batch_begin(s->store)) != FKEX_OK)
        store_failed(s, n);
    for (size_t i = 0; i < n; i++) {
        pending_submit *p = &s->batch[i];
        relay_room *r = p->r;
        uint64_t epoch = r->epoch;
        uint32_t nmembers = r->nmembers;   /* a seed-mode Leave changes the roster, not the epoch */
        int was_failed = r->failed;
        if (p->code)
            continue;
        if (err != FKEX_OK) {
            p->code = FKEX_RELAY_E_INTERNAL;
            p->why = "the relay could not store the message";
            continue;
        }
        const uint8_t *source = p->cs && p->cs->conn ? fkex_conn_source(p->cs->conn) : NULL;
        p->code = relay_room_submit(r, p->v, source, p->msg, p->len, now_ms(), &p->out);
        if (p->code)
            p->why = p->out.why ? p->out.why : "refused";
        else
            rebind(s, r, &p->out);
        if (p->code == FKEX_RELAY_E_INTERNAL)   /* its step rolled back; the batch goes on */
            store_failed(s, 1);
        if (r->failed && !was_failed)
            out_of_service(s, r);
        if (r->epoch != epoch || r->nmembers != nmembers) {
            logf_(s, "room %s: epoch %llu, %u member%s", short_hex(rh, r->room_id),
                  (unsigned long long)r->epoch, r->nmembers, r->nmembers == 1 ? "" : "s");
            refresh_members(s, r);
        }
    }
    if (err == FKEX_OK && (err = relay_store_batch_end(s->store)) != FKEX_OK) {
        /* Nothing of the batch is stored: refuse it all, and reread what
         * memory ran ahead with. */
        size_t lost = 0;
        for (size_t i = 0; i < n; i++) {
            pending_submit *p = &s->batch[i];
            if (p->code == 0) {
                p->code = FKEX_RELAY_E_INTERNAL;
                p->why = "the relay could not store the message";
                relay_out_clear(&p->out);
                lost++;
            }
        }
        store_failed(s, lost);
        for (size_t i = 0; i < s->nrooms; i++) {
            relay_room *r = s->rooms[i];
            if (r->failed)
                continue;
            if (relay_room_reload(r) != FKEX_OK) {
                out_of_service(s, r);   /* never serve what memory ran ahead with */
                continue;
            }
            refresh_members(s, r);
        }
    }
    for (size_t i = 0; i < n; i++) {
        pending_submit *p = &s->batch[i];
        if (p->cs && p->cs->conn) {
            fkex_relay_msg a = { 0 };
            if (p->code) {
                size_t tl = strlen(p->why);
                a.kind = FKEX_RELAY_ERROR;
                a.code = (uint16_t)p->code;
                a.data = (const uint8_t *)p->why;
                a.datalen = tl > FKEX_RELAY_TEXT_MAX ? FKEX_RELAY_TEXT_MAX : tl;
                /* Stale is a race every busy room has, and storage failures
                 * are logged above (store_failed), at most every 10 s. */
                if (p->code != FKEX_RELAY_E_STALE && p->code != FKEX_RELAY_E_INTERNAL)
                    logf_(s, "%s: refused from %s: %s", fkex_conn_peer(p->cs->conn),
                          short_hex(vh, p->v), p->why);
            } else {
                a.kind = FKEX_RELAY_ACCEPTED;
                a.relay_seq = p->out.seq;
            }
            a.seq = p->client_seq;
            queue_msg(p->cs, &a);
        }
        if (p->code == 0)
            route(s, p->r, &p->out);
        relay_out_clear(&p->out);
        free(p->msg);
    }
    s->nbatch = 0;
    s->batch_bytes = 0;
    fkex_server_flush(s->server);
}

static void on_turn(uv_check_t *h)
{
    serve_state *s = h->data;
    run_batch(s);
    if (s->replays) {
        replay_pump_all(s);
        if (s->server)
            fkex_server_flush(s->server);
    }
}

/* Queued for the turn's batch, in the order read; refusals that need no
 * store are answered in the same order. */
static void on_submit(conn_state *cs, const fkex_relay_msg *m)
{
    serve_state *s = cs->s;
    pending_submit *p;
    if (s->nbatch == s->batchcap) {
        size_t cap = s->batchcap ? 2 * s->batchcap : 64;
        pending_submit *t = realloc(s->batch, cap * sizeof *t);
        if (!t) {
            fkex_conn_close(cs->conn, "out of memory");
            return;
        }
        s->batch = t;
        s->batchcap = cap;
    }
    p = &s->batch[s->nbatch];
    memset(p, 0, sizeof *p);
    p->cs = cs;
    p->r = cs->room;
    p->client_seq = m->seq;
    relay_out_init(&p->out);
    if (cs->state != SESSION_READY || !cs->has_leaf) {
        p->code = FKEX_RELAY_E_AUTH;
        p->why = "submit after HELLO with a leaf key and AUTH";
    } else if (memcmp(m->room_id, cs->room->room_id, 32) != 0) {
        p->code = FKEX_RELAY_E_NOT_ROUTABLE;
        p->why = "this session is for another room";
    } else if (!(p->msg = malloc(m->datalen ? m->datalen : 1))) {
        fkex_conn_close(cs->conn, "out of memory");
        return;
    } else {
        memcpy(p->v, cs->v, 32);
        if (m->datalen)
            memcpy(p->msg, m->data, m->datalen);
        p->len = m->datalen;
    }
    s->nbatch++;
    s->batch_bytes += m->datalen;
    if (s->nbatch >= BATCH_MAX || s->batch_bytes >= BATCH_MAX_BYTES)
        run_batch(s);
}

static void on_create(conn_state *cs, const fkex_relay_msg *m)
{
    serve_state *s = cs->s;
    relay_room *r = NULL, **t;
    char rh[9], vh[9];
    fkex_err err = relay_room_create(&r, s->store, m->data, m->datalen, m->leaf, m->sig);
    if (err != FKEX_OK) {
        int code = err == FKEX_ERR_REPLAY ? FKEX_RELAY_E_ROOM_EXISTS
                 : err == FKEX_ERR_IO || err == FKEX_ERR_NO_MEMORY ? FKEX_RELAY_E_INTERNAL
                 : FKEX_RELAY_E_BAD_DESCRIPTOR;
        send_error(cs, code, 0, code == FKEX_RELAY_E_ROOM_EXISTS ? "the room exists already"
                                : code == FKEX_RELAY_E_INTERNAL ? "the relay could not store the room"
                                : "the descriptor or the admin signature is not valid");
        logf_(s, "%s: create room refused: %s", fkex_conn_peer(cs->conn), fkex_strerror(err));
        return;
    }
    if (!(t = realloc(s->rooms, (s->nrooms + 1) * sizeof *t))) {
        /* It is stored: the next start loads it. */
        relay_room_free(r);
        send_error(cs, FKEX_RELAY_E_INTERNAL, 0, "the relay is out of memory");
        return;
    }
    s->rooms = t;
    r->grace_ms = s->opt.grace_ms;   /* seed rooms remove members by it */
    s->rooms[s->nrooms++] = r;
    logf_(s, "%s: room %s created, founder %s", fkex_conn_peer(cs->conn), short_hex(rh, r->room_id),
          short_hex(vh, m->leaf));
    cs->served = 1;
    send_descriptor(cs, r->room_id, m->data, m->datalen);
}

/* The pending descriptor to the member whose turn it is, if due. */
static void hand_pending(serve_state *s, relay_room *r, uint64_t now)
{
    uint8_t to[32];
    const uint8_t *desc;
    size_t len;
    char rh[9], vh[9];
    int due = relay_room_pending_due(r, now, to, &desc, &len);
    if (due < 0) {
        /* Every online member declined it (or was silent): the room keeps
         * its policy, and the admin is told. */
        relay_out out;
        uint32_t version;
        relay_out_init(&out);
        if (relay_room_drop_pending(r, &version, &out) == 0) {
            logf_(s, "room %s: no online member could commit the admin's descriptor version "
                  "%u: dropped", short_hex(rh, r->room_id), version);
            route(s, r, &out);
            tell_admins(s, r, version, FKEX_POLICY_DROPPED);
        } else if (r->failed) {
            out_of_service(s, r);
        }
        relay_out_clear(&out);
        return;
    }
    if (!due)
        return;
    conn_state *cs = relay_index_get(&s->sessions, r, to);
    if (!cs || !cs->conn)
        return;
    send_descriptor(cs, r->room_id, desc, len);
    logf_(s, "room %s: the admin's next descriptor goes to member %s to commit",
          short_hex(rh, r->room_id), short_hex(vh, to));
}

/* Members gone longer than the grace period, named to the member whose
 * turn it is, to propose and commit their removal. Not before every member
 * had a grace period since the relay started (all are offline at start). */
static void hand_gone(serve_state *s, relay_room *r, uint64_t now, uint64_t mono)
{
    uint8_t to[32], gone[16][32];
    char rh[9], vh[9];
    if (mono - s->started < s->opt.grace_ms)
        return;
    size_t n = relay_room_gone_due(r, now, to, gone, 16);
    conn_state *cs = n ? relay_index_get(&s->sessions, r, to) : NULL;
    if (!cs || !cs->conn)
        return;
    for (size_t i = 0; i < n; i++) {
        fkex_relay_msg m = { 0 };
        m.kind = FKEX_RELAY_GONE;
        memcpy(m.room_id, r->room_id, 32);
        memcpy(m.leaf, gone[i], 32);
        (void)send_msg(cs, &m);
    }
    logf_(s, "room %s: %zu member%s gone past the grace named to member %s to remove",
          short_hex(rh, r->room_id), n, n == 1 ? "" : "s", short_hex(vh, to));
}

/* A party's connection silent for the keepalive gets a PING; one silent
 * for as long again is closed (a frozen client): a member then has its
 * grace period, after which the others remove it. */
static void keepalive(conn_state *cs, uint64_t mono)
{
    serve_state *s = cs->s;
    char vh[9];
    if (!cs->pinged_at && mono - cs->heard_at >= s->opt.keepalive_ms) {
        fkex_relay_msg p = { .kind = FKEX_RELAY_PING, .cookie = mono };
        cs->pinged_at = mono;
        (void)send_msg(cs, &p);
    } else if (cs->pinged_at && mono - cs->pinged_at >= s->opt.keepalive_ms) {
        logf_(s, "%s: %s %s did not answer a ping within %llu s: closed", fkex_conn_peer(cs->conn),
              cs->dm ? "direct conversation" : cs->member ? "member" : "joiner",
              cs->dm ? "place" : short_hex(vh, cs->v),
              (unsigned long long)(s->opt.keepalive_ms / 1000));
        fkex_conn_close(cs->conn, "no answer to a ping");
    }
}

/* The admin's requests: its next descriptor (fkex room set-policy), a
 * kick (fkex room kick). No session is needed: the admin's signature
 * inside each is what counts. */
static void on_admin(conn_state *cs, const fkex_relay_msg *m)
{
    serve_state *s = cs->s;
    relay_room *r = room_find(s, m->room_id);
    int kick = m->kind == FKEX_RELAY_KICK;
    relay_out out;
    fkex_relay_msg a = { 0 };
    char rh[9];
    if (!r) {
        send_error(cs, FKEX_RELAY_E_NO_ROOM, 0, "no such room at this relay");
        return;
    }
    relay_out_init(&out);
    int code = kick ? relay_room_kick(r, m->data, m->datalen, &out)
                    : relay_room_set_descriptor(r, m->data, m->datalen, &out);
    if (r->failed)
        out_of_service(s, r);
    if (code != 0) {
        send_error(cs, code, 0, out.why ? out.why : "refused");
        logf_(s, "%s: %s for room %s refused: %s", fkex_conn_peer(cs->conn),
              kick ? "a kick" : "a new descriptor", short_hex(rh, r->room_id),
              out.why ? out.why : "refused");
        relay_out_clear(&out);
        return;
    }
    a.kind = FKEX_RELAY_ACCEPTED;
    a.relay_seq = out.seq;
    cs->served = 1;   /* answered: no session deadline */
    (void)send_msg(cs, &a);
    fkex_rmsg_descriptor d;
    if (!kick && fkex_rmsg_descriptor_decode(&d, m->data, m->datalen) == FKEX_OK) {
        cs->awaiting = r;   /* POLICY_OUTCOME follows */
        cs->awaiting_version = d.version;
    }
    logf_(s, kick ? "%s: room %s: the admin kicked a member"
                  : "%s: room %s: a new descriptor is pending until a member commits it",
          fkex_conn_peer(cs->conn), short_hex(rh, r->room_id));
    route(s, r, &out);
    relay_out_clear(&out);
    if (kick)
        fkex_server_flush(s->server);
    else
        hand_pending(s, r, now_ms());
}

/* A member cannot commit the admin's descriptor (its attributes fail the
 * new policy): the next member's turn comes at once. */
static void on_decline(conn_state *cs, const fkex_relay_msg *m)
{
    char rh[9], vh[9];
    if (cs->state != SESSION_READY || !cs->room || memcmp(m->room_id, cs->room->room_id, 32) != 0) {
        send_error(cs, FKEX_RELAY_E_AUTH, 0, "a DECLINE needs a member's session in its room");
        return;
    }
    if (!relay_room_decline(cs->room, cs->v, m->version))
        return;   /* late, or not its turn: nothing to do */
    logf_(cs->s, "room %s: member %s cannot commit the admin's descriptor version %u",
          short_hex(rh, cs->room->room_id), short_hex(vh, cs->v), m->version);
    hand_pending(cs->s, cs->room, now_ms());
}

static void on_get_descriptor(conn_state *cs, const fkex_relay_msg *m)
{
    uint8_t *desc = NULL;
    size_t len = 0;
    if (!room_find(cs->s, m->room_id)) {
        send_error(cs, FKEX_RELAY_E_NO_ROOM, 0, "no such room at this relay");
        return;
    }
    if (relay_store_room_get(cs->s->store, m->room_id, NULL, NULL, &desc, &len) != FKEX_OK) {
        send_error(cs, FKEX_RELAY_E_INTERNAL, 0, "the relay could not read the room");
        return;
    }
    cs->served = 1;
    send_descriptor(cs, m->room_id, desc, len);
    free(desc);
}

/* A direct conversation's other party came (1) or left (0). */
static void dm_tell(fkex_conn *peer, int present)
{
    fkex_relay_msg m = { .kind = FKEX_RELAY_DM_PEER, .present = present };
    if (peer)
        (void)conn_send_msg(peer, &m);
}

/* DM_HELLO and DM_FRAME: relay/dm.c keeps the places, on a connection
 * without a room session; the frame goes on as it came. */
static void on_dm(conn_state *cs, const fkex_relay_msg *m)
{
    fkex_relay_msg out = { 0 };
    fkex_conn *peer = NULL;
    const char *why = NULL;
    char rh[9];
    int code;
    if (m->kind == FKEX_RELAY_DM_FRAME) {
        if ((code = relay_dm_frame(cs->dm, &peer, &why)) == 0) {
            out.kind = FKEX_RELAY_DM_FRAME;
            out.data = m->data;
            out.datalen = m->datalen;
            (void)conn_send_msg(peer, &out);   /* a slow reader is cut off by net */
        }
    } else if (cs->state != SESSION_NEW || cs->dm) {
        code = FKEX_RELAY_E_BAD_FRAME;
        why = "this connection already has a session";
    } else if ((code = relay_dm_hello(&cs->s->dm, &cs->dm, &peer, cs->conn, m->room_id, &why)) == 0) {
        cs->served = 1;   /* a session: no deadline */
        out.kind = FKEX_RELAY_DM_READY;
        memcpy(out.room_id, m->room_id, 32);
        out.present = peer != NULL;
        (void)send_msg(cs, &out);
        dm_tell(peer, 1);
        logf_(cs->s, "%s: a party in direct conversation %s%s", fkex_conn_peer(cs->conn),
              short_hex(rh, m->room_id), peer ? ", with the other" : "");
    }
    if (code)
        send_error(cs, code, 0, why);
}

static void on_frame(fkex_conn *c, const uint8_t *frame, size_t len)
{
    conn_state *cs = fkex_conn_data(c);
    fkex_relay_msg m;
    cs->heard_at = uv_now(cs->s->loop);   /* any frame answers a keepalive */
    cs->pinged_at = 0;
    if (fkex_relay_msg_decode(&m, frame, len) != FKEX_OK) {
        send_error_and_finish(cs, FKEX_RELAY_E_BAD_FRAME, "not a relay envelope of version 1");
        return;
    }
    switch (m.kind) {
    case FKEX_RELAY_HELLO: on_hello(cs, &m); break;
    case FKEX_RELAY_AUTH: on_auth(cs, &m); break;
    case FKEX_RELAY_SUBMIT: on_submit(cs, &m); break;
    case FKEX_RELAY_CREATE_ROOM: on_create(cs, &m); break;
    case FKEX_RELAY_GET_DESCRIPTOR: on_get_descriptor(cs, &m); break;
    case FKEX_RELAY_SET_DESCRIPTOR:
    case FKEX_RELAY_KICK:           on_admin(cs, &m); break;
    case FKEX_RELAY_DECLINE: on_decline(cs, &m); break;
    case FKEX_RELAY_DM_HELLO:
    case FKEX_RELAY_DM_FRAME: on_dm(cs, &m); break;
    case FKEX_RELAY_PING: {
        fkex_relay_msg p = { 0 };
        p.kind = FKEX_RELAY_PONG;
        p.cookie = m.cookie;
        (void)send_msg(cs, &p);
        break;
    }
    case FKEX_RELAY_PONG: break;
    default:
        send_error_and_finish(cs, FKEX_RELAY_E_BAD_FRAME, "not a message a client sends");
        break;
    }
}

/* net's reject callback: the framing broke (net.h); say which way. */
static void on_reject(fkex_conn *c, const char *why)
{
    conn_state *cs = fkex_conn_data(c);
    char text[160];
    if (strcmp(why, "frame too large") == 0)
        snprintf(text, sizeof text, "frame too large: a frame is at most %u bytes",
                 (unsigned)FKEX_RELAY_ENVELOPE_MAX);
    else if (strcmp(why, "frame timed out") == 0)
        snprintf(text, sizeof text, "frame timed out: a frame must be complete within %llu s",
                 (unsigned long long)(cs->s->opt.frame_timeout_ms / 1000));
    else if (strcmp(why, "truncated frame") == 0)
        snprintf(text, sizeof text, "truncated frame: the stream ended inside a frame");
    else
        snprintf(text, sizeof text, "%s", why);
    conn_error(c, FKEX_RELAY_E_BAD_FRAME, 0, text);
}

static void on_close(fkex_conn *c, const char *why)
{
    conn_state *cs = fkex_conn_data(c);
    serve_state *s = cs->s;
    char vh[9];
    cs->conn = NULL;
    if (cs->prev)
        cs->prev->next = cs->next;
    else
        s->conns = cs->next;
    if (cs->next)
        cs->next->prev = cs->prev;
    if (cs->has_leaf && cs->room)
        relay_index_del(&s->sessions, cs->room, cs->v, cs);
    replay_unlink(cs);
    dm_tell(relay_dm_leave(&s->dm, cs->dm), 0);
    s->nconns--;
    for (size_t i = 0; i < s->nbatch; i++)   /* O(batch): at most one turn's */
        if (s->batch[i].cs == cs)
            s->batch[i].cs = NULL;
    if (cs->state == SESSION_READY && cs->has_leaf) {
        if (cs->member && !s->stopping) {
            absent_add(s, cs->room, cs->v, uv_now(s->loop));
            logf_(s, "%s: member %s disconnected (%s): its place is kept; offline after %llu s",
                  fkex_conn_peer(c), short_hex(vh, cs->v), why,
                  (unsigned long long)(s->opt.grace_ms / 1000));
        } else {
            logf_(s, "%s: %s disconnected (%s)", fkex_conn_peer(c), short_hex(vh, cs->v), why);
        }
    } else {
        logf_(s, "%s: disconnected (%s)", fkex_conn_peer(c), why);
    }
    sodium_memzero(cs, sizeof *cs);
    free(cs);
}

static void on_accept(fkex_server *srv, fkex_conn *c)
{
    serve_state *s = fkex_server_data(srv);
    conn_state *cs;
    if (s->nconns >= s->opt.max_conns) {
        /* Told, then closed once that is written; it holds no state. */
        if (!s->at_cap)
            logf_(s, "%s: refused: %zu connections, the cap (--max-connections); refusing new "
                     "ones until some close", fkex_conn_peer(c), s->nconns);
        s->at_cap = 1;
        s->refused++;
        conn_error(c, FKEX_RELAY_E_BUSY, 0, "the relay is full (too many connections): try again later");
        fkex_conn_finish(c, "too many connections");
        return;
    }
    if (!(cs = calloc(1, sizeof *cs))) {
        fkex_conn_close(c, "out of memory");
        return;
    }
    s->nconns++;
    cs->s = s;
    cs->conn = c;
    cs->accepted_at = cs->heard_at = uv_now(s->loop);
    cs->next = s->conns;
    if (s->conns)
        s->conns->prev = cs;
    s->conns = cs;
    fkex_conn_set(c, on_frame, on_close, cs);
    fkex_conn_set_reject(c, on_reject);
}

/* ---- the clock ------------------------------------------------------------------ */

/* Once a second: connections refused at the cap, and accepts that failed
 * (EMFILE: the open-file limit is below the cap), said once per second at
 * most, so that a flood cannot flood the log. */
static void log_accepting(serve_state *s)
{
    const char *why = NULL;
    uint64_t failures = s->server ? fkex_server_accept_failures(s->server, &why) : 0;
    if (failures > s->accept_failures) {
        logf_(s, "%llu connection%s could not be accepted (%s): the server goes on accepting",
              (unsigned long long)(failures - s->accept_failures),
              failures - s->accept_failures == 1 ? "" : "s", why ? why : "?");
        s->accept_failures = failures;
    }
    if (s->at_cap && s->nconns < s->opt.max_conns) {
        logf_(s, "below the cap of %zu connections again: %llu refused meanwhile",
              s->opt.max_conns, (unsigned long long)s->refused);
        s->at_cap = 0;
        s->refused = 0;
    }
}

static void on_tick(uv_timer_t *t)
{
    serve_state *s = t->data;
    uint64_t now = now_ms(), mono = uv_now(s->loop);
    relay_out out;
    char vh[9], rh[9];
    relay_out_init(&out);
    for (size_t i = 0; i < s->nrooms; i++) {
        relay_room *r = s->rooms[i];
        if (r->failed)
            continue;
        uint64_t epoch = r->epoch;
        int code = relay_room_tick(r, now, &out);
        if (r->failed)
            out_of_service(s, r);
        else if (code != 0)
            logf_(s, "room %s: tick failed: %s", short_hex(rh, r->room_id),
                  out.why ? out.why : "error");
        else if (r->epoch != epoch) {
            logf_(s, "room %s: epoch %llu settled by its committer alone, %u member%s",
                  short_hex(rh, r->room_id), (unsigned long long)r->epoch, r->nmembers,
                  r->nmembers == 1 ? "" : "s");
            rebind(s, r, &out);
            refresh_members(s, r);
            route(s, r, &out);
        } else if (out.n > 0) {
            logf_(s, r->seed ? "room %s: members offline past the grace leave (seed mode)"
                             : "room %s: a JoinRequest goes to the next sponsor",
                  short_hex(rh, r->room_id));
            route(s, r, &out);
        }
        relay_out_clear(&out);
        hand_pending(s, r, now);
        hand_gone(s, r, now, mono);
    }
    if (s->server)
        fkex_server_flush(s->server);
    /* O(connections) a second. */
    for (conn_state *cs = s->conns; cs; cs = cs->next) {
        if (cs->conn && cs->state != SESSION_READY && !cs->served &&
            mono - cs->accepted_at >= s->opt.session_timeout_ms) {
            char why[96];
            snprintf(why, sizeof why, "no session within %llu s: say HELLO (and AUTH) first",
                     (unsigned long long)(s->opt.session_timeout_ms / 1000));
            send_error_and_finish(cs, FKEX_RELAY_E_AUTH, why);
        } else if (cs->conn && ((cs->state == SESSION_READY && cs->has_leaf) || cs->dm)) {
            keepalive(cs, mono);
        }
    }
    log_accepting(s);
    for (size_t i = 0; i < s->nabsent;) {
        absent_member *a = &s->absent[i];
        if (mono - a->since >= s->opt.grace_ms) {
            relay_room_set_online(a->r, a->v, 0);
            logf_(s, "room %s: member %s offline after the %llu s grace: it keeps its place "
                     "(members remove it by proposal); sponsorship moves on",
                  short_hex(rh, a->r->room_id), short_hex(vh, a->v),
                  (unsigned long long)(s->opt.grace_ms / 1000));
            s->absent[i] = s->absent[--s->nabsent];
        } else {
            i++;
        }
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    serve_state *s = h->data;
    if (s->stopping)
        return;
    s->stopping = 1;
    logf_(s, "%s: shutting down", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    run_batch(s);   /* what was read is answered before the connections close */
    fkex_server_stop(s->server);
    s->server = NULL;
    uv_timer_stop(&s->tick);
    uv_close((uv_handle_t *)&s->tick, NULL);
    uv_check_stop(&s->turn);
    uv_close((uv_handle_t *)&s->turn, NULL);
    uv_signal_stop(&s->sigterm);
    uv_signal_stop(&s->sigint);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
}

static fkex_err load_rooms(serve_state *s, char err[128])
{
    uint8_t (*ids)[32] = NULL;
    size_t n = 0;
    fkex_err e;
    if ((e = relay_store_rooms(s->store, &ids, &n)) != FKEX_OK) {
        snprintf(err, 128, "cannot read the rooms: %s", relay_store_error(s->store));
        return e;
    }
    if (n && !(s->rooms = calloc(n, sizeof *s->rooms))) {
        free(ids);
        snprintf(err, 128, "out of memory");
        return FKEX_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < n; i++) {
        if ((e = relay_room_load(&s->rooms[s->nrooms], s->store, ids[i])) != FKEX_OK) {
            char rh[9];
            snprintf(err, 128, "cannot load room %s: %s", short_hex(rh, ids[i]), fkex_strerror(e));
            free(ids);
            return e;
        }
        s->rooms[s->nrooms++]->grace_ms = s->opt.grace_ms;
    }
    free(ids);
    return FKEX_OK;
}

void relay_options_default(relay_options *o)
{
    struct rlimit rl;
    o->grace_ms = RELAY_DEFAULT_GRACE_MS;
    o->frame_timeout_ms = RELAY_DEFAULT_FRAME_TIMEOUT_MS;
    o->session_timeout_ms = RELAY_DEFAULT_SESSION_TIMEOUT_MS;
    o->keepalive_ms = RELAY_DEFAULT_KEEPALIVE_MS;
    o->max_conns = RELAY_DEFAULT_MAX_CONNS;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < RELAY_DEFAULT_MAX_CONNS + RESERVED_FDS)
        o->max_conns = rl.rlim_cur > 2 * RESERVED_FDS ? (size_t)rl.rlim_cur - RESERVED_FDS
                                                      : (size_t)rl.rlim_cur / 2;
}

fkex_err relay_serve(relay_store *st, const char *addr, const relay_options *opt,
                     const relay_hooks *hooks, char err[128])
{
    uv_loop_t loop;
    serve_state s;
    fkex_net_limits lim = { FKEX_RELAY_ENVELOPE_MAX, RELAY_MAX_QUEUED };
    fkex_err e;
    char bound[300];
    int rc;

    err[0] = '\0';
    memset(&s, 0, sizeof s);
    s.store = st;
    s.hooks = hooks;
    s.loop = &loop;
    s.opt = *opt;
    relay_index_init(&s.sessions);
    relay_dm_init(&s.dm);
    signal(SIGPIPE, SIG_IGN);
    if ((e = load_rooms(&s, err)) != FKEX_OK)
        goto out;
    if ((rc = uv_loop_init(&loop)) != 0) {
        snprintf(err, 128, "cannot start the event loop: %s", uv_strerror(rc));
        e = FKEX_ERR_IO;
        goto out;
    }
    if ((e = fkex_server_start(&s.server, &loop, addr, &lim, on_accept, &s, err)) != FKEX_OK) {
        uv_run(&loop, UV_RUN_DEFAULT);   /* frees what the failed start made */
        uv_loop_close(&loop);
        goto out;
    }
    fkex_server_set_frame_timeout(s.server, opt->frame_timeout_ms);
    uv_timer_init(&loop, &s.tick);
    s.tick.data = &s;
    s.started = uv_now(&loop);
    uv_timer_start(&s.tick, on_tick, TICK_MS, TICK_MS);
    uv_check_init(&loop, &s.turn);
    s.turn.data = &s;
    uv_check_start(&s.turn, on_turn);
    uv_signal_init(&loop, &s.sigterm);
    uv_signal_init(&loop, &s.sigint);
    s.sigterm.data = s.sigint.data = &s;
    uv_signal_start(&s.sigterm, on_signal, SIGTERM);
    uv_signal_start(&s.sigint, on_signal, SIGINT);

    fkex_server_bound(bound, sizeof bound, s.server, addr);
    if (hooks && hooks->on_ready)
        hooks->on_ready(hooks->ctx, bound);
    logf_(&s, "listening on %s: %zu room%s, grace %llu s, frame timeout %llu s, session timeout "
              "%llu s, at most %zu connections", bound, s.nrooms, s.nrooms == 1 ? "" : "s",
          (unsigned long long)(opt->grace_ms / 1000), (unsigned long long)(opt->frame_timeout_ms / 1000),
          (unsigned long long)(opt->session_timeout_ms / 1000), opt->max_conns);
    {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
            opt->max_conns + RESERVED_FDS > rl.rlim_cur)
            logf_(&s, "warning: %zu connections is more than the open-file limit (%llu) allows: "
                      "past it the kernel refuses connections (EMFILE) and libuv drops them unanswered; "
                      "raise the limit (ulimit -n) or lower --max-connections",
                  opt->max_conns, (unsigned long long)rl.rlim_cur);
    }

    uv_run(&loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&loop);
    if (rc != 0) {
        snprintf(err, 128, "the event loop did not close: %s", uv_strerror(rc));
        e = FKEX_ERR_IO;
    }
out:
    for (size_t i = 0; i < s.nrooms; i++)
        relay_room_free(s.rooms[i]);
    free(s.rooms);
    free(s.absent);
    free(s.batch);
    relay_index_free(&s.sessions);
    relay_dm_free(&s.dm);
    return e;
}
