/*
 * relay/session.c: the relay daemon's connections (relay/daemon.h): a
 * connection becomes a session by HELLO and, to act as a leaf,
 * NONCE/AUTH; the relay answers READY and replays what that V missed
 * (relay/replay.c). One session per leaf: a newer one replaces the older.
 * Besides sessions: room creation, the admin's requests (a new
 * descriptor, a kick), a member's DECLINE, descriptor requests, and
 * direct conversations (relay/dm.h). Framing errors are net's (a reject
 * callback sends the ERROR), undecodable envelopes ours; either way the
 * ERROR is written, then the connection closed (fkex_conn_finish).
 */
#include <stdio.h>
#include <stdlib.h>
#include "gke/gke.h"
#include "relay/daemon.h"

/* ---- frames --------------------------------------------------------------------- */

static void on_hello(conn_state *cs, const fkex_relay_msg *m)
{
    serve_state *s = cs->s;
    relay_room *r;
    char rh[9];
    if (cs->state != SESSION_NEW || cs->dm) {
        serve_error(cs, FKEX_RELAY_E_BAD_FRAME, 0, "this connection already has a session");
        return;
    }
    if (!(r = serve_room_find(s, m->room_id))) {
        serve_error(cs, FKEX_RELAY_E_NO_ROOM, 0, "no such room at this relay");
        serve_log(s, "%s: hello for unknown room %s", fkex_conn_peer(cs->conn), serve_hex(rh, m->room_id));
        return;
    }
    if (r->failed) {
        serve_error(cs, FKEX_RELAY_E_INTERNAL, 0, RELAY_OUT_OF_SERVICE);
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
        (void)serve_send(cs, &n);
        return;
    }
    fkex_relay_msg rd = { 0 };
    rd.kind = FKEX_RELAY_READY;
    memcpy(rd.room_id, r->room_id, 32);
    rd.epoch = r->epoch;
    rd.relay_seq = serve_head_seq(r);
    cs->state = SESSION_READY;
    (void)serve_send(cs, &rd);
    serve_log(s, "%s: anonymous session in room %s", fkex_conn_peer(cs->conn), serve_hex(rh, r->room_id));
}

static void on_auth(conn_state *cs, const fkex_relay_msg *m)
{
    serve_state *s = cs->s;
    relay_room *r = cs->room;
    fkex_relay_msg rd = { 0 };
    char vh[9];
    if (cs->state != SESSION_NONCE) {
        serve_error(cs, FKEX_RELAY_E_AUTH, 0, "AUTH answers a NONCE");
        return;
    }
    int ok = fkex_relay_auth_verify(m->sig, r->room_id, cs->nonce, cs->v) == 0;
    sodium_memzero(cs->nonce, 32);   /* one signature per nonce */
    if (!ok) {
        cs->state = SESSION_NEW;
        serve_error(cs, FKEX_RELAY_E_AUTH, 0, "the signature does not verify for that leaf key");
        serve_log(s, "%s: authentication failed for %s", fkex_conn_peer(cs->conn), serve_hex(vh, cs->v));
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
    rd.relay_seq = serve_head_seq(r);
    if (serve_send(cs, &rd) != 0)
        return;
    serve_replay_start(cs);
}

int serve_create_step(serve_state *s, const char *who, const uint8_t *desc, size_t len,
                      const uint8_t founder[32], const uint8_t sig[64], relay_room **out,
                      const char **why)
{
    relay_room *r = NULL, **t;
    char rh[9], vh[9];
    fkex_err err = relay_room_create(&r, s->store, desc, len, founder, sig);
    *out = NULL;
    if (err != FKEX_OK) {
        int code = err == FKEX_ERR_REPLAY ? FKEX_RELAY_E_ROOM_EXISTS
                 : err == FKEX_ERR_IO || err == FKEX_ERR_NO_MEMORY ? FKEX_RELAY_E_INTERNAL
                 : FKEX_RELAY_E_BAD_DESCRIPTOR;
        *why = code == FKEX_RELAY_E_ROOM_EXISTS ? "the room exists already"
             : code == FKEX_RELAY_E_INTERNAL ? "the relay could not store the room"
             : "the descriptor or the admin signature is not valid";
        serve_log(s, "%s: create room refused: %s", who, fkex_strerror(err));
        return code;
    }
    if (!(t = realloc(s->rooms, (s->nrooms + 1) * sizeof *t))) {
        /* It is stored: the next start loads it. */
        relay_room_free(r);
        *why = "the relay is out of memory";
        return FKEX_RELAY_E_INTERNAL;
    }
    s->rooms = t;
    r->grace_ms = s->opt.grace_ms;   /* seed rooms remove members by it */
    s->rooms[s->nrooms++] = r;
    serve_log(s, "%s: room %s created, founder %s", who, serve_hex(rh, r->room_id),
              serve_hex(vh, founder));
    *out = r;
    return 0;
}

static void on_create(conn_state *cs, const fkex_relay_msg *m)
{
    serve_state *s = cs->s;
    relay_room *r;
    const char *why = NULL;
    if (s->cluster) {   /* cluster mode: every relay makes it, from the shared log */
        fkex_relay_entry e = { .kind = FKEX_ENTRY_CREATE, .data = m->data, .datalen = m->datalen };
        memcpy(e.v, m->leaf, 32);
        memcpy(e.sig, m->sig, 64);
        if (serve_publish(s, &e, cs, WAIT_CREATE, 0, 0) == 0) {
            cs->holding = 1;   /* until the fold has made it (serve_resume) */
            cs->held_tail = &cs->held;
        }
        return;
    }
    int code = serve_create_step(s, fkex_conn_peer(cs->conn), m->data, m->datalen, m->leaf,
                                 m->sig, &r, &why);
    if (code != 0) {
        serve_error(cs, code, 0, why);
        return;
    }
    cs->served = 1;
    serve_send_descriptor(cs, r->room_id, m->data, m->datalen);
}

/* The pending descriptor to the member whose turn it is, if due. */
void serve_hand_pending(serve_state *s, relay_room *r, uint64_t now)
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
            serve_log(s, "room %s: no online member could commit the admin's descriptor version "
                  "%u: dropped", serve_hex(rh, r->room_id), version);
            serve_route(s, r, &out);
            serve_tell_admins(s, r, version, FKEX_POLICY_DROPPED);
        } else if (r->failed) {
            serve_out_of_service(s, r);
        }
        relay_out_clear(&out);
        return;
    }
    if (!due)
        return;
    conn_state *cs = relay_index_get(&s->sessions, r, to);
    if (!cs || !cs->conn)
        return;
    serve_send_descriptor(cs, r->room_id, desc, len);
    serve_log(s, "room %s: the admin's next descriptor goes to member %s to commit",
          serve_hex(rh, r->room_id), serve_hex(vh, to));
}

int serve_admin_step(serve_state *s, const char *who, relay_room *r, int kick,
                     const uint8_t *data, size_t len, relay_out *out)
{
    char rh[9];
    int code = kick ? relay_room_kick(r, data, len, out)
                    : relay_room_set_descriptor(r, data, len, out);
    if (r->failed)
        serve_out_of_service(s, r);
    if (code != 0) {
        if (!out->why)
            out->why = "refused";
        serve_log(s, "%s: %s for room %s refused: %s", who, kick ? "a kick" : "a new descriptor",
                  serve_hex(rh, r->room_id), out->why);
        return code;
    }
    serve_log(s, kick ? "%s: room %s: the admin kicked a member"
                      : "%s: room %s: a new descriptor is pending until a member commits it",
              who, serve_hex(rh, r->room_id));
    serve_route(s, r, out);
    return 0;
}

void serve_admin_accepted(conn_state *cs, relay_room *r, int kick, uint64_t seq, uint32_t version)
{
    fkex_relay_msg a = { 0 };
    a.kind = FKEX_RELAY_ACCEPTED;
    a.relay_seq = seq;
    cs->served = 1;   /* answered: no session deadline */
    (void)serve_send(cs, &a);
    if (!kick) {
        cs->awaiting = r;   /* POLICY_OUTCOME follows */
        cs->awaiting_version = version;
    }
}

/* The admin's requests: its next descriptor (fkex room set-policy), a
 * kick (fkex room kick). No session is needed: the admin's signature
 * inside each is what counts. */
static void on_admin(conn_state *cs, const fkex_relay_msg *m)
{
    serve_state *s = cs->s;
    relay_room *r = serve_room_find(s, m->room_id);
    int kick = m->kind == FKEX_RELAY_KICK;
    fkex_rmsg_descriptor d;
    uint32_t version = 0;
    relay_out out;
    if (!r) {
        serve_error(cs, FKEX_RELAY_E_NO_ROOM, 0, "no such room at this relay");
        return;
    }
    if (!kick && fkex_rmsg_descriptor_decode(&d, m->data, m->datalen) == FKEX_OK)
        version = d.version;
    if (s->cluster) {   /* cluster mode: answered from the fold */
        fkex_relay_entry e = { .kind = kick ? FKEX_ENTRY_KICK : FKEX_ENTRY_SET_DESCRIPTOR,
                               .data = m->data, .datalen = m->datalen };
        memcpy(e.room_id, m->room_id, 32);
        (void)serve_publish(s, &e, cs, kick ? WAIT_KICK : WAIT_POLICY, 0, version);
        return;
    }
    relay_out_init(&out);
    int code = serve_admin_step(s, fkex_conn_peer(cs->conn), r, kick, m->data, m->datalen, &out);
    if (code != 0)
        serve_error(cs, code, 0, out.why);
    else
        serve_admin_accepted(cs, r, kick, out.seq, version);
    relay_out_clear(&out);
    if (code == 0 && kick)
        fkex_server_flush(s->server);
    else if (code == 0)
        serve_hand_pending(s, r, serve_now_ms());
}

/* A member cannot commit the admin's descriptor (its attributes fail the
 * new policy): the next member's turn comes at once. */
void serve_decline_step(serve_state *s, relay_room *r, const uint8_t v[32], uint32_t version,
                        uint64_t now)
{
    char rh[9], vh[9];
    if (!relay_room_decline(r, v, version))
        return;   /* late, or not its turn: nothing to do */
    serve_log(s, "room %s: member %s cannot commit the admin's descriptor version %u",
              serve_hex(rh, r->room_id), serve_hex(vh, v), version);
    serve_hand_pending(s, r, now);
}

static void on_decline(conn_state *cs, const fkex_relay_msg *m)
{
    if (cs->state != SESSION_READY || !cs->room || memcmp(m->room_id, cs->room->room_id, 32) != 0) {
        serve_error(cs, FKEX_RELAY_E_AUTH, 0, "a DECLINE needs a member's session in its room");
        return;
    }
    if (cs->s->cluster) {
        fkex_relay_entry e = { .kind = FKEX_ENTRY_DECLINE, .version = m->version };
        memcpy(e.room_id, m->room_id, 32);
        memcpy(e.v, cs->v, 32);
        (void)serve_publish(cs->s, &e, NULL, 0, 0, 0);
        return;
    }
    serve_decline_step(cs->s, cs->room, cs->v, m->version, serve_now_ms());
}

static void on_get_descriptor(conn_state *cs, const fkex_relay_msg *m)
{
    relay_room *r = serve_room_find(cs->s, m->room_id);
    if (!r) {
        serve_error(cs, FKEX_RELAY_E_NO_ROOM, 0, "no such room at this relay");
        return;
    }
    if (r->failed) {
        serve_error(cs, FKEX_RELAY_E_INTERNAL, 0, RELAY_OUT_OF_SERVICE);
        return;
    }
    cs->served = 1;
    serve_send_descriptor(cs, r->room_id, r->desc, r->desclen);
}

/* A direct conversation's other party came (1) or left (0). */
static void dm_tell(fkex_conn *peer, int present)
{
    fkex_relay_msg m = { .kind = FKEX_RELAY_DM_PEER, .present = present };
    if (peer)
        (void)serve_conn_send(peer, &m);
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
            (void)serve_conn_send(peer, &out);   /* a slow reader is cut off by net */
        }
    } else if (cs->state != SESSION_NEW || cs->dm) {
        code = FKEX_RELAY_E_BAD_FRAME;
        why = "this connection already has a session";
    } else if ((code = relay_dm_hello(&cs->s->dm, &cs->dm, &peer, cs->conn, m->room_id, &why)) == 0) {
        cs->served = 1;   /* a session: no deadline */
        out.kind = FKEX_RELAY_DM_READY;
        memcpy(out.room_id, m->room_id, 32);
        out.present = peer != NULL;
        (void)serve_send(cs, &out);
        dm_tell(peer, 1);
        serve_log(cs->s, "%s: a party in direct conversation %s%s", fkex_conn_peer(cs->conn),
              serve_hex(rh, m->room_id), peer ? ", with the other" : "");
    }
    if (code)
        serve_error(cs, code, 0, why);
}

static void on_frame(fkex_conn *c, const uint8_t *frame, size_t len);
static void hold(conn_state *cs, const uint8_t *frame, size_t len);

void serve_resume(conn_state *cs)
{
    held_frame *h = cs->held;
    cs->holding = 0;
    cs->held = NULL;
    cs->nheld = cs->held_bytes = 0;
    while (h) {
        held_frame *next = h->next;
        if (cs->conn && !cs->holding)
            on_frame(cs->conn, h->bytes, h->len);
        else if (cs->holding)
            hold(cs, h->bytes, h->len);
        free(h);
        h = next;
    }
}

/* Cluster mode: a room exists once the fold has made it, so what a
 * founder sends after CREATE_ROOM (its HELLO) waits for that, in order. */
static void hold(conn_state *cs, const uint8_t *frame, size_t len)
{
    held_frame *h = NULL;
    if (cs->nheld < HELD_FRAMES_MAX && cs->held_bytes + len <= HELD_BYTES_MAX &&
        (h = malloc(sizeof *h + len)) != NULL) {
        h->next = NULL;
        h->len = len;
        memcpy(h->bytes, frame, len);
        *cs->held_tail = h;
        cs->held_tail = &h->next;
        cs->nheld++;
        cs->held_bytes += len;
        return;
    }
    serve_error_finish(cs, FKEX_RELAY_E_BUSY, "too much sent before the room was made");
}

static void on_frame(fkex_conn *c, const uint8_t *frame, size_t len)
{
    conn_state *cs = fkex_conn_data(c);
    fkex_relay_msg m;
    cs->heard_at = uv_now(cs->s->loop);   /* any frame answers a keepalive */
    cs->pinged_at = 0;
    if (cs->holding) {
        hold(cs, frame, len);
        return;
    }
    if (fkex_relay_msg_decode(&m, frame, len) != FKEX_OK) {
        serve_error_finish(cs, FKEX_RELAY_E_BAD_FRAME, "not a relay envelope of version 1");
        return;
    }
    switch (m.kind) {
    case FKEX_RELAY_HELLO: on_hello(cs, &m); break;
    case FKEX_RELAY_AUTH: on_auth(cs, &m); break;
    case FKEX_RELAY_SUBMIT: serve_on_submit(cs, &m); break;
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
        (void)serve_send(cs, &p);
        break;
    }
    case FKEX_RELAY_PONG: break;
    default:
        serve_error_finish(cs, FKEX_RELAY_E_BAD_FRAME, "not a message a client sends");
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
    serve_conn_error(c, FKEX_RELAY_E_BAD_FRAME, 0, text);
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
    serve_replay_unlink(cs);
    dm_tell(relay_dm_leave(&s->dm, cs->dm), 0);
    s->nconns--;
    for (size_t i = 0; i < s->nbatch; i++)   /* O(batch): at most one turn's */
        if (s->batch[i].cs == cs)
            s->batch[i].cs = NULL;
    serve_cluster_forget(s, cs);
    if (cs->state == SESSION_READY && cs->has_leaf) {
        if (cs->member && !s->stopping) {
            if (s->cluster)
                serve_publish_presence(s, cs, 0);   /* the fold makes it away */
            else
                serve_absent_add(s, cs->room, cs->v, uv_now(s->loop));
            serve_log(s, "%s: member %s disconnected (%s): its place is kept; offline after %llu s",
                  fkex_conn_peer(c), serve_hex(vh, cs->v), why,
                  (unsigned long long)(s->opt.grace_ms / 1000));
        } else {
            serve_log(s, "%s: %s disconnected (%s)", fkex_conn_peer(c), serve_hex(vh, cs->v), why);
        }
    } else {
        serve_log(s, "%s: disconnected (%s)", fkex_conn_peer(c), why);
    }
    for (held_frame *h = cs->held, *next; h; h = next) {
        next = h->next;
        free(h);
    }
    sodium_memzero(cs, sizeof *cs);
    free(cs);
}

void serve_on_accept(fkex_server *srv, fkex_conn *c)
{
    serve_state *s = fkex_server_data(srv);
    conn_state *cs;
    if (s->nconns >= s->opt.max_conns) {
        /* Told, then closed once that is written; it holds no state. */
        if (!s->at_cap)
            serve_log(s, "%s: refused: %zu connections, the cap (--max-connections); refusing new "
                     "ones until some close", fkex_conn_peer(c), s->nconns);
        s->at_cap = 1;
        s->refused++;
        serve_conn_error(c, FKEX_RELAY_E_BUSY, 0, "the relay is full (too many connections): try again later");
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
