/*
 * relay/fold.c: cluster mode (FEDERATION.md). Several relays share the
 * rooms through one NATS JetStream log (relay/jetstream.h); each folds
 * the whole log, in its one order, into its rooms, by the same rules, on
 * a cache of its own (s->store, empty at start), and so holds the same
 * rooms as every other: the same rosters, sponsors, settled commits and
 * seqs. A client can therefore resume on any relay from its last seq.
 *
 * What a session asks for (a room message, a new room, the admin's
 * descriptor or kick, a DECLINE) is not done but published as an entry
 * (wire/relay_entry.h); the relay answers it (ACCEPTED, ERROR, the
 * DESCRIPTOR) only when its own fold reaches that entry, so two relays
 * never answer differently. A member's message's id hashes what it says
 * without its time and the sender's address: one a client sends again
 * through another relay is stored once, and answered from what the fold
 * made of the first (kept for the last RELAY_OUTCOMES entries).
 *
 * Time and presence are entries too. Each relay publishes a HEARTBEAT a
 * second, with its grace period; the rules' clock is the largest stream
 * timestamp folded, and at each heartbeat every room ticks (sponsor
 * timeouts, the pending descriptor's turns, GONE). A member's session
 * that comes up (its replay written) is ONLINE with its relay's id; one
 * that goes is AWAY, and offline once the grace (the longest the live
 * relays keep) has passed in fold time. A relay whose heartbeats stop for
 * RELAY_GONE_MS of fold time is gone: its members are away from then, on
 * every relay at the same entry. Deliveries go to this relay's own
 * sessions; the others' get theirs from their relays.
 *
 * The relay starts listening once its fold has read the log as far as it
 * went when the relay opened it.
 */
#include <stdio.h>
#include <stdlib.h>
#include "gke/gke.h"
#include "relay/daemon.h"

#define RELAY_OUTCOMES 65536
#define RELAY_GONE_MS 5000u

/* ---- publishing ----------------------------------------------------------------------- */

/* The subject an entry goes to (relay/jetstream.h). */
static void subject_of(char out[96], const serve_state *s, const fkex_relay_entry *e)
{
    char hex[65];
    if (e->kind == FKEX_ENTRY_HEARTBEAT || e->kind == FKEX_ENTRY_CREATE) {
        sodium_bin2hex(hex, sizeof hex, s->relay_id, 16);
        snprintf(out, 96, "fkex.relay.%s", hex);
    } else {
        sodium_bin2hex(hex, sizeof hex, e->room_id, 32);
        snprintf(out, 96, "fkex.room.%s", hex);
    }
}

/* The entry's id: a hash of what it says, without its time and the
 * sender's address, so that a member's message sent twice (again through
 * another relay, from another address) is one entry, and so is a room's
 * creation; heartbeats, presence and the admin's requests are each new
 * (an admin asking again after a refusal is asking again). */
static int entry_id(uint8_t id[32], const fkex_relay_entry *e)
{
    static const char domain[] = "fkex relay entry id v1";
    fkex_relay_entry t = *e;
    fkex_writer w;
    crypto_hash_sha256_state h;
    memset(t.source, 0, sizeof t.source);
    if (e->kind == FKEX_ENTRY_SUBMIT || e->kind == FKEX_ENTRY_CREATE ||
        e->kind == FKEX_ENTRY_DECLINE)
        t.time = 0;
    fkex_writer_init(&w);
    fkex_relay_entry_encode(&w, &t);
    if (w.failed) {
        fkex_writer_free(&w);
        return -1;
    }
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const uint8_t *)domain, sizeof domain);
    crypto_hash_sha256_update(&h, w.buf, w.len);
    crypto_hash_sha256_final(&h, id);
    fkex_writer_free(&w);
    return 0;
}

/* Room for one more wait; -1 if out of memory. */
static int wait_room(serve_state *s)
{
    if (s->nwaits < s->waitcap)
        return 0;
    size_t cap = s->waitcap ? 2 * s->waitcap : 64;
    cluster_wait *t = realloc(s->waits, cap * sizeof *t);
    if (!t)
        return -1;
    s->waits = t;
    s->waitcap = cap;
    return 0;
}

int serve_publish(serve_state *s, fkex_relay_entry *e, conn_state *cs, int kind,
                  uint64_t client_seq, uint32_t version)
{
    uint8_t id[32];
    char subject[96];
    fkex_writer w;
    fkex_err err = FKEX_ERR_NO_MEMORY;
    if (!s->js) {   /* shutting down */
        if (cs)
            serve_error(cs, FKEX_RELAY_E_INTERNAL, client_seq, "the relay is shutting down");
        return -1;
    }
    e->time = serve_now_ms();
    subject_of(subject, s, e);
    fkex_writer_init(&w);
    fkex_relay_entry_encode(&w, e);
    if (!w.failed && entry_id(id, e) == 0 && (!cs || wait_room(s) == 0))
        err = relay_js_publish(s->js, subject, w.buf, w.len, id, e->kind != FKEX_ENTRY_HEARTBEAT);
    fkex_writer_free(&w);
    if (err != FKEX_OK) {
        if (cs)
            serve_error(cs, FKEX_RELAY_E_INTERNAL, client_seq,
                        err == FKEX_ERR_NO_MEMORY ? "the relay is out of memory"
                                                  : "the relay has lost the shared log");
        return -1;
    }
    if (cs) {
        cluster_wait *wt = &s->waits[s->nwaits++];
        memset(wt, 0, sizeof *wt);
        wt->cs = cs;
        wt->kind = kind;
        memcpy(wt->id, id, 32);
        wt->client_seq = client_seq;
        wt->version = version;
    }
    return 0;
}

void serve_publish_presence(serve_state *s, conn_state *cs, int on)
{
    fkex_relay_entry e = { .kind = on ? FKEX_ENTRY_ONLINE : FKEX_ENTRY_AWAY };
    memcpy(e.room_id, cs->room->room_id, 32);
    memcpy(e.v, cs->v, 32);
    memcpy(e.relay_id, s->relay_id, 16);
    (void)serve_publish(s, &e, NULL, 0, 0, 0);
}

void serve_cluster_forget(serve_state *s, conn_state *cs)
{
    for (size_t i = 0; i < s->nwaits; i++)
        if (s->waits[i].cs == cs)
            s->waits[i].cs = NULL;
}

/* ---- answers ---------------------------------------------------------------------------- */

/* Wait w learns what the fold made of its entry (o), and is done. */
static void answer(serve_state *s, size_t i, const cluster_outcome *o)
{
    cluster_wait w = s->waits[i];
    s->waits[i] = s->waits[--s->nwaits];
    conn_state *cs = w.cs;
    if (!cs || !cs->conn)
        return;
    if (!o)
        serve_error(cs, FKEX_RELAY_E_INTERNAL, w.client_seq,
                    "the relay no longer knows what became of it: ask again");
    else if (o->code)
        serve_error(cs, o->code, w.client_seq, o->why ? o->why : "refused");
    if (!o || o->code) {
        if (w.kind == WAIT_CREATE)
            serve_resume(cs);
        return;
    }
    switch (w.kind) {
    case WAIT_SUBMIT: {
        fkex_relay_msg a = { .kind = FKEX_RELAY_ACCEPTED, .seq = w.client_seq,
                             .relay_seq = o->relay_seq };
        (void)serve_send(cs, &a);
        break;
    }
    case WAIT_CREATE:
        cs->served = 1;
        serve_send_descriptor(cs, o->room->room_id, o->room->desc, o->room->desclen);
        serve_resume(cs);   /* its HELLO, held meanwhile */
        break;
    default:
        serve_admin_accepted(cs, o->room, w.kind == WAIT_KICK, o->relay_seq, w.version);
    }
}

/* The fold made o of the entry at o->seq: kept, and told to its waits. */
static void record(serve_state *s, const cluster_outcome *o)
{
    if (!s->outcomes && !(s->outcomes = calloc(RELAY_OUTCOMES, sizeof *s->outcomes)))
        return;   /* its waits are told it is unknown when their ack comes */
    s->outcomes[o->seq % RELAY_OUTCOMES] = *o;
    for (size_t i = 0; i < s->nwaits;)
        if (s->waits[i].seq == o->seq)
            answer(s, i, o);
        else
            i++;
}

static void on_stored(void *ctx, const uint8_t id[32], uint64_t seq)
{
    serve_state *s = ctx;
    for (size_t i = 0; i < s->nwaits;) {
        cluster_wait *w = &s->waits[i];
        if (w->seq || memcmp(w->id, id, 32) != 0) {
            i++;
            continue;
        }
        w->seq = seq;
        if (seq > s->folded) {
            i++;   /* the fold answers it when it gets there */
            continue;
        }
        const cluster_outcome *o = s->outcomes ? &s->outcomes[seq % RELAY_OUTCOMES] : NULL;
        answer(s, i, o && o->seq == seq ? o : NULL);
    }
    if (s->server)
        fkex_server_flush(s->server);
}

/* ---- presence --------------------------------------------------------------------------- */

static cluster_member *member_at(serve_state *s, relay_room *r, const uint8_t v[32])
{
    for (size_t i = 0; i < s->nat; i++)
        if (s->at[i].r == r && memcmp(s->at[i].v, v, 32) == 0)
            return &s->at[i];
    return NULL;
}

static void fold_online(serve_state *s, relay_room *r, const uint8_t v[32],
                        const uint8_t relay[16])
{
    cluster_member *m = member_at(s, r, v);
    if (relay_room_member(r, v) < 0)
        return;   /* it left meanwhile */
    relay_room_set_online(r, v, 1);
    serve_absent_remove(s, r, v);
    if (!m && s->nat == s->atcap) {
        size_t cap = s->atcap ? 2 * s->atcap : 64;
        cluster_member *t = realloc(s->at, cap * sizeof *t);
        if (!t)
            return;   /* (its relay's death would not be noticed for it: it goes away when
                         its own AWAY comes, or never, which the grace of GONE covers) */
        s->at = t;
        s->atcap = cap;
    }
    if (!m) {
        m = &s->at[s->nat++];
        m->r = r;
        memcpy(m->v, v, 32);
    }
    memcpy(m->relay, relay, 16);
}

/* Member v of r is away from now (fold time): offline after the grace. */
static void away(serve_state *s, cluster_member *m)
{
    char vh[9];
    serve_absent_add(s, m->r, m->v, s->fold_time);
    serve_log(s, "member %s is away: its place is kept; offline after %llu s",
              serve_hex(vh, m->v), (unsigned long long)(s->opt.grace_ms / 1000));
    *m = s->at[--s->nat];
}

static void fold_away(serve_state *s, relay_room *r, const uint8_t v[32], const uint8_t relay[16])
{
    cluster_member *m = member_at(s, r, v);
    /* Only from the relay of its live session: an older one's goodbye
     * after the member moved on says nothing. */
    if (m && memcmp(m->relay, relay, 16) == 0)
        away(s, m);
}

/* This relay was declared gone while its sessions are live: each member's
 * is ONLINE again, from this point of the log. */
static void reannounce(serve_state *s)
{
    for (conn_state *cs = s->conns; cs; cs = cs->next)
        if (cs->conn && cs->member && cs->state == SESSION_READY && cs->has_leaf)
            serve_publish_presence(s, cs, 1);
}

/* A relay's heartbeat: it is alive; one silent for RELAY_GONE_MS is gone,
 * and its members are away. Then every room ticks at the fold's time. */
static void fold_heartbeat(serve_state *s, const fkex_relay_entry *e)
{
    char rh[9];
    size_t i;
    sodium_bin2hex(rh, sizeof rh, e->relay_id, 4);
    for (i = 0; i < s->nrelays && memcmp(s->relays[i].id, e->relay_id, 16) != 0; i++)
        ;
    if (i == s->nrelays) {
        cluster_relay *t = realloc(s->relays, (s->nrelays + 1) * sizeof *t);
        if (t) {
            s->relays = t;
            memcpy(s->relays[s->nrelays++].id, e->relay_id, 16);
            serve_log(s, "relay %s is in the cluster", rh);
        }
    }
    if (i < s->nrelays) {
        s->relays[i].last = s->fold_time;
        s->relays[i].grace = e->grace;
    }
    for (i = 0; i < s->nrelays;) {
        if (s->fold_time - s->relays[i].last < RELAY_GONE_MS) {
            i++;
            continue;
        }
        sodium_bin2hex(rh, sizeof rh, s->relays[i].id, 4);
        serve_log(s, "relay %s is gone (no heartbeat for %u s): its members are away", rh,
                  RELAY_GONE_MS / 1000);
        if (memcmp(s->relays[i].id, s->relay_id, 16) == 0)
            reannounce(s);   /* it is us, late (a slow failover): our sessions are live */
        for (size_t k = 0; k < s->nat;)
            if (memcmp(s->at[k].relay, s->relays[i].id, 16) == 0)
                away(s, &s->at[k]);
            else
                k++;
        s->relays[i] = s->relays[--s->nrelays];
    }
    /* Presence must be decided alike on every relay: the grace in force is
     * the longest the live relays keep, whatever this one was told. */
    uint64_t grace = 0;
    for (i = 0; i < s->nrelays; i++)
        if (s->relays[i].grace > grace)
            grace = s->relays[i].grace;
    if (s->nrelays && grace != s->opt.grace_ms) {
        serve_log(s, "the cluster's grace period is %llu s%s", (unsigned long long)(grace / 1000),
                  grace != s->grace_ms ? ": its relays were given different --grace" : "");
        s->opt.grace_ms = grace;
        for (size_t k = 0; k < s->nrooms; k++)
            s->rooms[k]->grace_ms = grace;   /* (seed rooms remove members by it) */
    }
    serve_tick_rooms(s, s->fold_time, s->fold_time);
    for (size_t k = 0; k < s->nrooms; k++)
        if (s->rooms[k]->failed) {   /* its cache refused a tick every other relay took */
            serve_fail(s, "the relay's cache could not take a step of the log");
            return;
        }
}

/* ---- re-bound members ---------------------------------------------------------------------- */

void serve_cluster_rebound(serve_state *s, relay_room *r, const uint8_t from[32],
                           const uint8_t to[32])
{
    if (!s->rebinds && !(s->rebinds = calloc(RELAY_REBINDS, sizeof *s->rebinds)))
        return;   /* (its late entries are refused as a stranger's: the client sends again) */
    cluster_rebind *b = &s->rebinds[s->nrebinds++ % RELAY_REBINDS];
    b->r = r;
    memcpy(b->from, from, 32);
    memcpy(b->to, to, 32);
}

/* The V an entry's sender has now: v, or where the Updates since moved it. */
static void current_v(serve_state *s, relay_room *r, uint8_t v[32])
{
    size_t kept = s->nrebinds < RELAY_REBINDS ? s->nrebinds : RELAY_REBINDS;
    for (size_t k = 0; k < kept; k++) {   /* oldest first, so that chains follow */
        const cluster_rebind *b = &s->rebinds[(s->nrebinds - kept + k) % RELAY_REBINDS];
        if (b->r == r && memcmp(b->from, v, 32) == 0)
            memcpy(v, b->to, 32);
    }
}

/* ---- the fold ------------------------------------------------------------------------------ */

static void fold_entry(serve_state *s, uint64_t seq, const fkex_relay_entry *e)
{
    cluster_outcome o = { .seq = seq };
    relay_out out;
    relay_room *r = NULL;
    char who[32];
    snprintf(who, sizeof who, "log entry %llu", (unsigned long long)seq);
    if (e->kind != FKEX_ENTRY_CREATE && e->kind != FKEX_ENTRY_HEARTBEAT &&
        !(r = serve_room_find(s, e->room_id))) {
        o.code = FKEX_RELAY_E_NO_ROOM;
        o.why = "no such room at this relay";
        record(s, &o);
        return;
    }
    relay_out_init(&out);
    uint8_t v[32];   /* the member's V now (a settled Update may have moved it) */
    memcpy(v, e->v, 32);
    if (r && relay_room_member(r, v) < 0)
        current_v(s, r, v);
    switch (e->kind) {
    case FKEX_ENTRY_CREATE:
        o.code = serve_create_step(s, who, e->data, e->datalen, e->v, e->sig, &o.room, &o.why);
        break;
    case FKEX_ENTRY_SUBMIT:
        o.code = serve_submit_step(s, r, v, e->source, e->data, e->datalen, s->fold_time, &out);
        o.why = out.why;
        o.relay_seq = out.seq;
        if (o.code == 0)
            serve_route(s, r, &out);
        break;
    case FKEX_ENTRY_SET_DESCRIPTOR:
    case FKEX_ENTRY_KICK:
        o.room = r;
        o.code = serve_admin_step(s, who, r, e->kind == FKEX_ENTRY_KICK, e->data, e->datalen, &out);
        o.why = out.why;
        o.relay_seq = out.seq;
        break;
    case FKEX_ENTRY_DECLINE:
        serve_decline_step(s, r, v, e->version, s->fold_time);
        break;
    case FKEX_ENTRY_ONLINE:
        fold_online(s, r, v, e->relay_id);
        break;
    case FKEX_ENTRY_AWAY:
        fold_away(s, r, v, e->relay_id);
        break;
    case FKEX_ENTRY_HEARTBEAT:
        fold_heartbeat(s, e);
        break;
    }
    relay_out_clear(&out);
    /* The cache could not take a step every other relay took: this relay's
     * rooms are no longer the cluster's, so it stops, and its clients go
     * on through another. */
    if (o.code == FKEX_RELAY_E_INTERNAL || (r && r->failed)) {
        serve_fail(s, "the relay's cache could not take a step of the log");
        return;
    }
    record(s, &o);
    if (e->kind == FKEX_ENTRY_SET_DESCRIPTOR && o.code == 0)   /* after the admin's ACCEPTED */
        serve_hand_pending(s, r, s->fold_time);
}

static void on_entry(void *ctx, uint64_t seq, uint64_t time, const uint8_t *bytes, size_t len)
{
    serve_state *s = ctx;
    fkex_relay_entry e;
    char err[128];
    if (seq <= s->folded || s->stopping)
        return;   /* read again after the consumer was reset */
    s->folded = seq;
    /* The entries that arrive together go to the cache in one transaction
     * (on_drained ends it): the cache need not be durable, the log is. */
    if (!s->fold_batch) {
        if (relay_store_batch_begin(s->store) != FKEX_OK) {
            serve_fail(s, "the relay's cache cannot be written");
            return;
        }
        s->fold_batch = 1;
    }
    if (fkex_relay_entry_decode(&e, bytes, len) != FKEX_OK) {
        serve_log(s, "log entry %llu is not a relay entry: skipped", (unsigned long long)seq);
    } else {
        /* The stream's clock, not the writer's: a relay whose clock ran
         * ahead would fire every room's timeouts at once. */
        if (time > s->fold_time)
            s->fold_time = time;
        if (!s->started)
            s->started = s->fold_time;   /* every member gets a grace from here */
        fold_entry(s, seq, &e);
    }
    if (!s->server && !s->stopping && seq >= relay_js_last_seq(s->js) &&
        serve_listen(s, err) != FKEX_OK)
        serve_fail(s, err);
}

/* The entries that came together are folded: the cache's transaction
 * ends, and every connection's frames leave in one write. */
static void on_drained(void *ctx)
{
    serve_state *s = ctx;
    if (!s->js)
        return;   /* stopped while folding (serve_fail): the cache's transaction goes with it */
    if (relay_js_broken(s->js)) {
        serve_fail(s, "an entry of the log was lost (out of memory): this relay cannot fold on");
        return;
    }
    if (s->fold_batch) {
        s->fold_batch = 0;
        /* A cache that cannot be written is behind the rooms in memory:
         * this relay stops, and its clients go on through another. */
        if (relay_store_batch_end(s->store) != FKEX_OK)
            serve_fail(s, "the relay's cache cannot be written");
    }
    if (s->server)
        fkex_server_flush(s->server);
}

/* JetStream refused an entry for good: whoever waits for it is told. */
static void on_refused(void *ctx, const uint8_t id[32], const char *why)
{
    serve_state *s = ctx;
    serve_log(s, "the shared log refused an entry: %s", why);
    for (size_t i = 0; i < s->nwaits;) {
        cluster_wait *w = &s->waits[i];
        if (w->seq || memcmp(w->id, id, 32) != 0) {
            i++;
            continue;
        }
        cluster_outcome o = { .code = FKEX_RELAY_E_INTERNAL, .why = "the shared log refused it" };
        answer(s, i, &o);
    }
}

static void on_status(void *ctx, const char *line)
{
    serve_log(ctx, "%s", line);
}

fkex_err serve_cluster_open(serve_state *s, const char *store, char err[128])
{
    relay_js_hooks h = { on_entry, on_stored, on_refused, on_status, on_drained, s };
    char rh[9], server[128];
    fkex_err e;
    randombytes_buf(s->relay_id, 16);
    if ((e = relay_js_open(&s->js, s->loop, store, &h, err)) != FKEX_OK)
        return e;
    sodium_bin2hex(rh, sizeof rh, s->relay_id, 4);
    relay_js_server(s->js, server, sizeof server);
    serve_log(s, "relay %s: connected to %s; the shared log %s (%d replica%s), %llu entr%s to "
                 "fold first", rh, server, RELAY_JS_STREAM, relay_js_replicas(s->js),
              relay_js_replicas(s->js) == 1 ? "" : "s",
              (unsigned long long)relay_js_last_seq(s->js),
              relay_js_last_seq(s->js) == 1 ? "y" : "ies");
    if (relay_js_last_seq(s->js) == 0)
        return serve_listen(s, err);
    return FKEX_OK;
}

void serve_cluster_close(serve_state *s)
{
    relay_js_close(s->js);
    s->js = NULL;
}
