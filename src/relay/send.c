/*
 * relay/send.c: what the relay daemon sends (relay/daemon.h): envelopes,
 * errors, and deliveries routed to sessions. A delivery finds its session
 * through an index by (room, V), and a message that goes to many (a
 * broadcast) is encoded once, as one shared frame (net.h fkex_frame_buf)
 * that every recipient's queue references; each connection's frames of
 * the turn leave in one writev. Also the daemon's log lines.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "gke/gke.h"
#include "relay/daemon.h"

void serve_log(serve_state *s, const char *fmt, ...)
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
const char *serve_hex(char buf[9], const uint8_t id[32])
{
    sodium_bin2hex(buf, 9, id, 4);
    return buf;
}

/* Wall-clock ms: join times are persisted, so they must survive a restart. */
uint64_t serve_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

relay_room *serve_room_find(serve_state *s, const uint8_t id[32])
{
    for (size_t i = 0; i < s->nrooms; i++)
        if (memcmp(s->rooms[i]->room_id, id, 32) == 0)
            return s->rooms[i];
    return NULL;
}

uint64_t serve_head_seq(const relay_room *r)
{
    return r->next_seq ? r->next_seq - 1 : 0;
}

/* 0, or -1 if the connection is closing (a slow reader is cut off by net). */
int serve_conn_send(fkex_conn *c, const fkex_relay_msg *m)
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

int serve_send(conn_state *cs, const fkex_relay_msg *m)
{
    return serve_conn_send(cs->conn, m);
}

void serve_conn_error(fkex_conn *c, int code, uint64_t seq, const char *why)
{
    fkex_relay_msg m = { 0 };
    size_t n = strlen(why);
    m.kind = FKEX_RELAY_ERROR;
    m.code = (uint16_t)code;
    m.seq = seq;
    m.data = (const uint8_t *)why;
    m.datalen = n > FKEX_RELAY_TEXT_MAX ? FKEX_RELAY_TEXT_MAX : n;
    (void)serve_conn_send(c, &m);
}

void serve_error(conn_state *cs, int code, uint64_t seq, const char *why)
{
    serve_conn_error(cs->conn, code, seq, why);
}

/* The client broke the protocol: it is told why, and the connection ends
 * once that is written. */
void serve_error_finish(conn_state *cs, int code, const char *why)
{
    if (!cs->conn)
        return;
    serve_error(cs, code, 0, why);
    fkex_conn_finish(cs->conn, why);
}

void serve_send_descriptor(conn_state *cs, const uint8_t room_id[32], const uint8_t *desc,
                            size_t len)
{
    fkex_relay_msg m = { 0 };
    m.kind = FKEX_RELAY_DESCRIPTOR;
    memcpy(m.room_id, room_id, 32);
    m.data = desc;
    m.datalen = len;
    (void)serve_send(cs, &m);
}

/* An envelope as a shared frame (one reference, the caller's), or NULL. */
fkex_frame_buf *serve_encode_shared(const fkex_relay_msg *m)
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
void serve_rebind(serve_state *s, relay_room *r, const relay_out *out)
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
    for (size_t i = 0; i < s->nat; i++)   /* cluster mode: the relay of its session */
        if (s->at[i].r == r && memcmp(s->at[i].v, out->rebind_from, 32) == 0)
            memcpy(s->at[i].v, out->rebind_to, 32);
    if (s->cluster)
        serve_cluster_rebound(s, r, out->rebind_from, out->rebind_to);
}

/* The admins waiting for r's descriptor of that version (or, committed,
 * an older one) learn the outcome. O(connections): policy changes are rare. */
void serve_tell_admins(serve_state *s, relay_room *r, uint32_t version, uint8_t outcome)
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
            (void)serve_send(cs, &m);
        }
}

/* Each delivery to the session of its V in room r, queued (the caller
 * flushes); the others get theirs from the log when they come back.
 * Deliveries of the same bytes and seq (a broadcast) share one encoded
 * frame. O(deliveries). */
void serve_route(serve_state *s, relay_room *r, const relay_out *out)
{
    fkex_frame_buf *b = NULL;
    const relay_delivery *made = NULL;   /* the delivery b encodes */
    if (out->installed)
        serve_tell_admins(s, r, out->installed, FKEX_POLICY_COMMITTED);
    for (size_t i = 0; i < out->n; i++) {
        const relay_delivery *d = &out->d[i];
        conn_state *cs = relay_index_get(&s->sessions, r, d->to);
        if (!cs || !cs->conn || cs->replaying)   /* a replay reads it from the log */
            continue;
        if (b && (d->bytes != made->bytes || d->seq != made->seq)) {
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
            if (!(b = serve_encode_shared(&m))) {
                fkex_conn_close(cs->conn, "out of memory");
                continue;
            }
            made = d;
        }
        (void)fkex_conn_queue(cs->conn, b);   /* a slow reader is cut off by net */
    }
    fkex_frame_buf_unref(b);
}

/* A room whose memory may be stale (relay/room.h `failed`): said once in
 * the log, and every session in it closed with ERROR 9; a HELLO for it is
 * refused from now on. O(connections), once per room. */
void serve_out_of_service(serve_state *s, relay_room *r)
{
    char rh[9];
    serve_log(s, "room %s: its state could not be reread from the store (%s): no longer served",
          serve_hex(rh, r->room_id), relay_store_error(s->store));
    for (conn_state *cs = s->conns; cs; cs = cs->next)
        if (cs->room == r && cs->conn)
            serve_error_finish(cs, FKEX_RELAY_E_INTERNAL, RELAY_OUT_OF_SERVICE);
}
