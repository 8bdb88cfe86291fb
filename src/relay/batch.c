/*
 * relay/batch.c: group commit (relay/daemon.h). SUBMITs are not run as
 * they are read but queued, and once per loop turn (a check handle, after
 * libuv has read every ready socket) the whole queue runs as one store
 * batch: each step in its savepoint, one COMMIT (one fsync of the WAL)
 * for all, and only then is any ACCEPTED or DELIVER of the batch sent.
 * Under load a turn carries many SUBMITs and the fsync is shared; at rest
 * a SUBMIT waits for no other.
 */
#include <stdlib.h>
#include "gke/gke.h"
#include "relay/daemon.h"

/* A turn's batch runs at once when it reaches this many SUBMITs or bytes,
 * so that a flood cannot hold an unbounded queue. */
#define BATCH_MAX 4096
#define BATCH_MAX_BYTES (64u << 20)

/* An ACCEPTED or ERROR, queued behind the connection's deliveries of the turn. */
static void queue_msg(conn_state *cs, const fkex_relay_msg *m)
{
    fkex_frame_buf *b = serve_encode_shared(m);
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
    serve_log(s, "storing %llu message%s failed: %s (every message is refused until the relay can "
          "store again)", (unsigned long long)s->store_unlogged, s->store_unlogged == 1 ? "" : "s",
          relay_store_error(s->store));
    s->store_logged_at = mono ? mono : 1;
    s->store_unlogged = 0;
}

int serve_submit_step(serve_state *s, relay_room *r, const uint8_t v[32], const uint8_t *source,
                      const uint8_t *msg, size_t len, uint64_t now, relay_out *out)
{
    uint64_t epoch = r->epoch;
    uint32_t nmembers = r->nmembers;   /* a seed-mode Leave changes the roster, not the epoch */
    int was_failed = r->failed;
    char rh[9];
    int code = relay_room_submit(r, v, source, msg, len, now, out);
    if (code == 0)
        serve_rebind(s, r, out);
    if (r->failed && !was_failed)
        serve_out_of_service(s, r);
    if (r->epoch != epoch || r->nmembers != nmembers) {
        serve_log(s, "room %s: epoch %llu, %u member%s", serve_hex(rh, r->room_id),
                  (unsigned long long)r->epoch, r->nmembers, r->nmembers == 1 ? "" : "s");
        serve_refresh_members(s, r);
    }
    return code;
}

/* Runs the turn's SUBMITs as one store batch, then answers them all:
 * nothing is acknowledged or delivered before the batch is on disk. */
void serve_run_batch(serve_state *s)
{
    size_t n = s->nbatch;
    fkex_err err;
    char vh[9];
    if (n == 0)
        return;
    if ((err = relay_store_batch_begin(s->store)) != FKEX_OK)
        store_failed(s, n);
    for (size_t i = 0; i < n; i++) {
        pending_submit *p = &s->batch[i];
        relay_room *r = p->r;
        if (p->code)
            continue;
        if (err != FKEX_OK) {
            p->code = FKEX_RELAY_E_INTERNAL;
            p->why = "the relay could not store the message";
            continue;
        }
        const uint8_t *source = p->cs && p->cs->conn ? fkex_conn_source(p->cs->conn) : NULL;
        p->code = serve_submit_step(s, r, p->v, source, p->msg, p->len, serve_now_ms(), &p->out);
        if (p->code)
            p->why = p->out.why ? p->out.why : "refused";
        if (p->code == FKEX_RELAY_E_INTERNAL)   /* its step rolled back; the batch goes on */
            store_failed(s, 1);
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
                serve_out_of_service(s, r);   /* never serve what memory ran ahead with */
                continue;
            }
            serve_refresh_members(s, r);
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
                    serve_log(s, "%s: refused from %s: %s", fkex_conn_peer(p->cs->conn),
                          serve_hex(vh, p->v), p->why);
            } else {
                a.kind = FKEX_RELAY_ACCEPTED;
                a.relay_seq = p->out.seq;
            }
            a.seq = p->client_seq;
            queue_msg(p->cs, &a);
        }
        if (p->code == 0)
            serve_route(s, p->r, &p->out);
        relay_out_clear(&p->out);
        free(p->msg);
    }
    s->nbatch = 0;
    s->batch_bytes = 0;
    fkex_server_flush(s->server);
}

/* Queued for the turn's batch, in the order read; refusals that need no
 * store are answered in the same order. */
void serve_on_submit(conn_state *cs, const fkex_relay_msg *m)
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
    } else if (s->cluster) {   /* cluster mode: into the shared log, answered from the fold */
        fkex_relay_entry e = { .kind = FKEX_ENTRY_SUBMIT, .data = m->data, .datalen = m->datalen };
        const uint8_t *src = fkex_conn_source(cs->conn);
        memcpy(e.room_id, m->room_id, 32);
        memcpy(e.v, cs->v, 32);
        if (src)
            memcpy(e.source, src, 16);
        (void)serve_publish(s, &e, cs, WAIT_SUBMIT, m->seq, 0);
        return;
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
        serve_run_batch(s);
}
