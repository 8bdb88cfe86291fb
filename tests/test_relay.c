/*
 * tests/test_relay.c: the relay's envelopes (wire/relay_msg.h) and its core
 * (relay/room.h over relay/store.h), driving real ratchet members through
 * it as bench/room.c does in-process, but with every frame going through
 * the relay's routing and its SQLite store on a scratch file. Every step
 * is also run by the rules alone (gke/relay_rules.h) on a twin state
 * without a store, which must give the same answers and end in the same
 * state; and the room reread from the store after each step must be the
 * one in memory, as far as a store keeps it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sqlite3.h>
#include "gke_world.h"
#include "wire/relay_msg.h"
#include "wire/relay_entry.h"
#include "relay/store.h"
#include "relay/room.h"
#include "relay/checkpoint.h"
#include "gke/ratchet_state.h"   /* the attackers below hold a member's secrets */
#include <sys/stat.h>
#include <time.h>

/* ---- envelopes -------------------------------------------------------------------- */

static void roundtrip(const fkex_relay_msg *m)
{
    fkex_writer w;
    fkex_relay_msg d;
    fkex_writer_init(&w);
    fkex_relay_msg_encode(&w, m);
    CHECK(!w.failed);
    CHECK_OK(fkex_relay_msg_decode(&d, w.buf, w.len));
    CHECK(d.kind == m->kind);
    fkex_writer e;
    fkex_writer_init(&e);
    fkex_relay_msg_encode(&e, &d);
    CHECK(e.len == w.len && memcmp(e.buf, w.buf, w.len) == 0);
    /* every proper prefix is refused, and so is one byte more */
    for (size_t n = 0; n < w.len; n++)
        CHECK(fkex_relay_msg_decode(&d, w.buf, n) != FKEX_OK);
    fkex_writer_u8(&w, 0);
    CHECK_ERR(fkex_relay_msg_decode(&d, w.buf, w.len), FKEX_ERR_BAD_ENCODING);
    fkex_writer_free(&w);
    fkex_writer_free(&e);
}

static void test_envelopes(void)
{
    static const uint8_t msg[] = { 5, 1, 2, 3 };
    fkex_relay_msg m = { 0 };
    memset(m.room_id, 7, 32);
    memset(m.leaf, 9, 32);
    memset(m.nonce, 3, 32);
    memset(m.sig, 4, 64);
    m.seq = 0x0102030405060708u;
    m.relay_seq = 99;
    m.epoch = 4;
    m.cookie = 77;
    for (int k = FKEX_RELAY_HELLO; k <= FKEX_RELAY_GONE; k++) {
        m.kind = (fkex_relay_kind)k;
        m.data = msg;
        m.datalen = sizeof msg;
        if (k == FKEX_RELAY_ERROR) {
            m.code = FKEX_RELAY_E_STALE;
            m.data = (const uint8_t *)"another commit won";
            m.datalen = 18;
        }
        m.has_leaf = 0;
        roundtrip(&m);
        if (k == FKEX_RELAY_HELLO) {
            m.has_leaf = 1;
            roundtrip(&m);
        }
    }
    /* strictness: kind, version, flag, text */
    uint8_t hello[2 + 32 + 8 + 1] = { FKEX_RELAY_HELLO, 1 };
    fkex_relay_msg d;
    CHECK_OK(fkex_relay_msg_decode(&d, hello, sizeof hello));
    hello[42] = 2;
    CHECK_ERR(fkex_relay_msg_decode(&d, hello, sizeof hello), FKEX_ERR_BAD_ENCODING);
    hello[42] = 0;
    hello[1] = 2;
    CHECK_ERR(fkex_relay_msg_decode(&d, hello, sizeof hello), FKEX_ERR_UNSUPPORTED);
    hello[1] = 1;
    hello[0] = 0;
    CHECK_ERR(fkex_relay_msg_decode(&d, hello, sizeof hello), FKEX_ERR_BAD_ENCODING);
    hello[0] = FKEX_RELAY_GONE + 1;
    CHECK_ERR(fkex_relay_msg_decode(&d, hello, sizeof hello), FKEX_ERR_BAD_ENCODING);
    uint8_t error[2 + 2 + 8 + 2 + 1] = { FKEX_RELAY_ERROR, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'x' };
    CHECK_OK(fkex_relay_msg_decode(&d, error, sizeof error));
    error[14] = '\n';
    CHECK_ERR(fkex_relay_msg_decode(&d, error, sizeof error), FKEX_ERR_BAD_ENCODING);
    /* a SUBMIT claiming more than the limit */
    uint8_t submit[2 + 32 + 8 + 4] = { FKEX_RELAY_SUBMIT, 1 };
    store32_be(submit + 42, FKEX_RELAY_MESSAGE_MAX + 1);
    CHECK(fkex_relay_msg_decode(&d, submit, sizeof submit) != FKEX_OK);
}

/* The relays' shared log (wire/relay_entry.h): every kind round-trips,
 * every proper prefix and one byte more are refused, and so are an
 * unknown kind, another version and oversized data. */
static void test_entries(void)
{
    static const uint8_t msg[] = { 5, 1, 2, 3 };
    fkex_relay_entry e = { 0 }, d;
    memset(e.room_id, 1, 32);
    memset(e.v, 2, 32);
    memset(e.relay_id, 3, 16);
    memset(e.source, 4, 16);
    memset(e.sig, 5, 64);
    e.time = 0x0102030405060708u;
    e.version = 9;
    e.data = msg;
    e.datalen = sizeof msg;
    for (int k = FKEX_ENTRY_CREATE; k <= FKEX_ENTRY_KIND_LAST; k++) {
        fkex_writer w, x;
        e.kind = (fkex_entry_kind)k;
        fkex_writer_init(&w);
        fkex_relay_entry_encode(&w, &e);
        CHECK(!w.failed);
        CHECK_OK(fkex_relay_entry_decode(&d, w.buf, w.len));
        CHECK(d.kind == e.kind && d.time == e.time);
        fkex_writer_init(&x);
        fkex_relay_entry_encode(&x, &d);
        CHECK(x.len == w.len && memcmp(x.buf, w.buf, w.len) == 0);
        fkex_writer_free(&x);
        for (size_t n = 0; n < w.len; n++)
            CHECK(fkex_relay_entry_decode(&d, w.buf, n) != FKEX_OK);
        fkex_writer_u8(&w, 0);
        CHECK_ERR(fkex_relay_entry_decode(&d, w.buf, w.len), FKEX_ERR_BAD_ENCODING);
        w.buf[1] = FKEX_ENTRY_VERSION + 1;
        CHECK_ERR(fkex_relay_entry_decode(&d, w.buf, w.len - 1), FKEX_ERR_UNSUPPORTED);
        w.buf[1] = FKEX_ENTRY_VERSION;
        w.buf[0] = FKEX_ENTRY_KIND_LAST + 1;
        CHECK_ERR(fkex_relay_entry_decode(&d, w.buf, w.len - 1), FKEX_ERR_BAD_ENCODING);
        fkex_writer_free(&w);
    }
    /* a KICK's data is bounded as the envelope bounds it */
    uint8_t kick[2 + 8 + 32 + 4] = { FKEX_ENTRY_KICK, FKEX_ENTRY_VERSION };
    store32_be(kick + 2 + 8 + 32, FKEX_KICK_MAX + 1);
    CHECK(fkex_relay_entry_decode(&d, kick, sizeof kick) != FKEX_OK);
}

static void test_auth_signatures(void)
{
    fkex_rng rng;
    uint8_t pk[32], sk[64], room[32] = { 1 }, nonce[32] = { 2 }, sig[64];
    test_rng(&rng, "relay auth");
    fkex_sign_keypair(pk, sk, &rng);
    CHECK_OK(fkex_relay_auth_sign(sig, sk, room, nonce, pk));
    CHECK(fkex_relay_auth_verify(sig, room, nonce, pk) == 0);
    nonce[0] ^= 1;
    CHECK(fkex_relay_auth_verify(sig, room, nonce, pk) != 0);
    nonce[0] ^= 1;
    room[5] ^= 1;
    CHECK(fkex_relay_auth_verify(sig, room, nonce, pk) != 0);
    /* an auth signature is not a create signature */
    CHECK(fkex_relay_create_verify(sig, pk, room, nonce) != 0);
    CHECK_OK(fkex_relay_create_sign(sig, sk, room, nonce));
    CHECK(fkex_relay_create_verify(sig, pk, room, nonce) == 0);
    sodium_memzero(sk, sizeof sk);
}

/* ---- a room of real members behind the relay core ---------------------------------- */

#define NP 8

typedef struct {
    fkex_ratchet *st;
    uint8_t v[32];
    int connected;       /* frames reach it; else the relay keeps them for replay */
    int mute;            /* connected, but never answers (a silent sponsor) */
    uint64_t last_seq;
    int joined, left, aborted, admitted;
    int lost, forks, misbehaved;   /* FKEX_GKE_EV_LOST, _FORK, _MISBEHAVED events */
    uint64_t messages;
    size_t refused;
    uint32_t last_slices;   /* slices in the last commit it received */
    int foreign_slice;      /* it once got a slice addressed to another */
    uint64_t missed[64];    /* seqs addressed to it while disconnected */
    size_t nmissed;
    uint8_t sent[16][32];   /* hashes of its last frames: their echo is not counted */
    size_t nsent;
} party;

typedef struct {
    int to;
    uint64_t seq;
    uint8_t *bytes;
    size_t len;
} qframe;

typedef struct {
    party p[NP];
    int np;
    qframe q[4096];
    size_t qhead, qtail;
    char path[256];
    relay_store *s;
    relay_room *r;
    relay_room *twin;     /* the rules alone, fed what r is fed (below); NULL once ended */
    uint8_t room_id[32];
    uint8_t admin_sk[64];
    uint8_t *desc;
    size_t desclen;
    fkex_rng rng;
    uint64_t now;
    int last_code;        /* the relay's answer to the last submit */
    uint64_t last_seq;    /* and its seq */
} net;

static gke_world world;

static int by_v(const net *n, const uint8_t v[32])
{
    for (int i = 0; i < n->np; i++)
        if (memcmp(n->p[i].v, v, 32) == 0)
            return i;
    return -1;
}

static void enqueue(net *n, int to, uint64_t seq, const uint8_t *b, size_t len)
{
    if (n->p[to].mute)
        return;
    if (n->qtail >= FKEX_ARRAY_LEN(n->q))
        abort();
    qframe *f = &n->q[n->qtail++];
    f->to = to;
    f->seq = seq;
    f->bytes = malloc(len);
    if (!f->bytes)
        abort();
    memcpy(f->bytes, b, len);
    f->len = len;
}

/* ---- the twin ------------------------------------------------------------------------ */

/* Every input the relay gets also goes to a twin: a state that the rules
 * alone move (gke/relay_rules.h), with no store. Its answers, deliveries,
 * log rows and whole state must be the relay's, step by step: the rules
 * read nothing but their state, which is what lets relays that fold one
 * log agree (FEDERATION.md). After each step the room is also reread from
 * the store (relay/room.c persists what the step changed), and must be
 * the room in memory in all a store keeps. A restart, or a store made to
 * fail, is the store's business, and ends the twin. */
static void twin_end(net *n)
{
    relay_rules_free(n->twin);
    n->twin = NULL;
}

static void add(crypto_hash_sha256_state *h, const void *p, size_t len)
{
    crypto_hash_sha256_update(h, p, len);
}

static void add_u64(crypto_hash_sha256_state *h, uint64_t v)
{
    uint8_t b[8];
    store64_be(b, v);
    add(h, b, 8);
}

/* Everything the rules keep, hashed; with !all, only what a store keeps
 * across a restart (not who is online, the members' authority, the turn
 * counters, a committer's own ack). */
static void rules_digest(uint8_t out[32], const relay_room *r, int all)
{
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    add_u64(&h, r->epoch);
    add_u64(&h, r->next_seq);
    add(&h, r->desc, r->desclen);
    add_u64(&h, r->nmembers);
    for (uint32_t i = 0; i < r->nmembers; i++) {
        const relay_member *m = &r->members[i];
        add(&h, m->v, 32);
        add_u64(&h, m->since);
        add_u64(&h, (uint64_t)(all && m->online) << 2 | (uint64_t)(all && m->connected) << 1 |
                        (uint64_t)m->kicked);
    }
    add_u64(&h, r->njoins);
    /* (a store keeps the joins, not their order in memory: by joiner id) */
    const relay_join *order[RELAY_MAX_JOINS];
    size_t nj = r->njoins < RELAY_MAX_JOINS ? r->njoins : RELAY_MAX_JOINS;
    for (size_t i = 0; i < nj; i++)
        order[i] = &r->joins[i];
    for (size_t i = 1; !all && i < nj; i++)
        for (size_t k = i; k > 0 && memcmp(order[k - 1]->joiner_id, order[k]->joiner_id, 32) > 0; k--) {
            const relay_join *t = order[k];
            order[k] = order[k - 1];
            order[k - 1] = t;
        }
    for (size_t i = 0; i < nj; i++) {
        const relay_join *j = order[i];
        add(&h, j->joiner_id, 32);
        add(&h, j->v, 32);
        add_u64(&h, (uint64_t)j->has_sponsor << 8 | (uint64_t)j->state);
        if (j->has_sponsor)
            add(&h, j->sponsor, 32);
        add_u64(&h, j->sent_at);
        add(&h, j->request, j->request_len);
        add(&h, j->authority, 32);
    }
    add_u64(&h, r->ncandidates);
    for (size_t i = 0; i < r->ncandidates; i++) {
        add(&h, r->candidates[i].hash, 32);
        add_u64(&h, r->candidates[i].epoch);
        add_u64(&h, r->candidates[i].committer);
        add(&h, r->candidates[i].bytes, r->candidates[i].len);
    }
    add_u64(&h, r->nheld);
    for (size_t i = 0; i < r->nheld; i++) {
        add(&h, r->held[i].commit_hash, 32);
        add(&h, r->held[i].to, 32);
        add(&h, r->held[i].bytes, r->held[i].len);
    }
    add_u64(&h, r->pending ? r->pendinglen : UINT64_MAX);
    if (r->pending)
        add(&h, r->pending, r->pendinglen);
    add_u64(&h, (uint64_t)r->has_settled);
    add(&h, r->settled, 32);
    add_u64(&h, r->nlost);
    add(&h, r->lost, 32 * r->nlost);
    if (all) {
        add_u64(&h, r->pending_sent_at);
        add_u64(&h, (uint64_t)r->pending_turn << 32 | r->pending_asked);
        add(&h, r->pending_to, 32);
        add_u64(&h, (uint64_t)r->has_authority);
        add(&h, r->authority, 32);
        add_u64(&h, r->self_ack ? r->self_ack_len : UINT64_MAX);
        if (r->self_ack)
            add(&h, r->self_ack, r->self_ack_len);
        add_u64(&h, r->self_ack_at);
        add_u64(&h, r->gone_sent_at);
        add_u64(&h, r->gone_turn);
    }
    crypto_hash_sha256_final(&h, out);
}

/* The relay answered code with out, the twin tcode with tout: the same. */
static void twin_same(net *n, int code, const relay_out *out, int tcode, const relay_out *tout)
{
    uint8_t a[32], b[32];
    if (code == FKEX_RELAY_E_INTERNAL) {   /* the store failed, by design */
        twin_end(n);
        return;
    }
    CHECK(code == tcode);
    CHECK(out->seq == tout->seq && out->n == tout->n && out->nrows == tout->nrows);
    CHECK(out->installed == tout->installed && out->rebind == tout->rebind);
    for (size_t i = 0; i < out->n && i < tout->n; i++) {
        const relay_delivery *d = &out->d[i], *e = &tout->d[i];
        CHECK(memcmp(d->to, e->to, 32) == 0 && d->seq == e->seq && d->len == e->len &&
              memcmp(d->bytes, e->bytes, d->len) == 0);
    }
    for (size_t i = 0; i < out->nrows && i < tout->nrows; i++) {
        const relay_row *w = &out->rows[i], *x = &tout->rows[i];
        CHECK(w->seq == x->seq && w->to_all == x->to_all && memcmp(w->to, x->to, 32) == 0 &&
              w->len == x->len && memcmp(w->bytes, x->bytes, w->len) == 0);
    }
    rules_digest(a, n->r, 1);
    rules_digest(b, n->twin, 1);
    CHECK(memcmp(a, b, 32) == 0);
    /* and the store has all of it that a restart reads back */
    relay_room *copy = NULL;
    CHECK_OK(relay_room_load(&copy, n->s, n->room_id));
    if (copy) {
        rules_digest(a, n->r, 0);
        rules_digest(b, copy, 0);
        CHECK(memcmp(a, b, 32) == 0);
        relay_room_free(copy);
    }
}

static int room_submit(net *n, const uint8_t from[32], const uint8_t *source, const uint8_t *msg,
                       size_t len, uint64_t now, relay_out *out)
{
    int code = relay_room_submit(n->r, from, source, msg, len, now, out);
    if (n->twin) {
        relay_out t;
        fkex_err err = FKEX_OK;
        relay_out_init(&t);
        int tcode = relay_rules_submit(n->twin, from, source, msg, len, now, &t, &err);
        CHECK_OK(err);
        twin_same(n, code, out, tcode, &t);
        relay_out_clear(&t);
    }
    return code;
}

static int room_tick(net *n, uint64_t now, relay_out *out)
{
    int code = relay_room_tick(n->r, now, out);
    if (n->twin) {
        relay_out t;
        relay_out_init(&t);
        CHECK_OK(relay_rules_tick(n->twin, now, &t));
        twin_same(n, code, out, 0, &t);
        relay_out_clear(&t);
    }
    return code;
}

static int room_set_descriptor(net *n, const uint8_t *desc, size_t len, relay_out *out)
{
    int code = relay_room_set_descriptor(n->r, desc, len, out);
    if (n->twin) {
        relay_out t;
        fkex_err err = FKEX_OK;
        relay_out_init(&t);
        int tcode = relay_rules_set_descriptor(n->twin, desc, len, &t, &err);
        CHECK_OK(err);
        twin_same(n, code, out, tcode, &t);
        relay_out_clear(&t);
    }
    return code;
}

static int room_kick(net *n, const uint8_t *kick, size_t len, relay_out *out)
{
    int code = relay_room_kick(n->r, kick, len, out);
    if (n->twin) {
        relay_out t;
        fkex_err err = FKEX_OK;
        relay_out_init(&t);
        int tcode = relay_rules_kick(n->twin, kick, len, &t, &err);
        CHECK_OK(err);
        twin_same(n, code, out, tcode, &t);
        relay_out_clear(&t);
    }
    return code;
}

static int room_drop_pending(net *n, uint32_t *version, relay_out *out)
{
    int code = relay_room_drop_pending(n->r, version, out);
    if (n->twin) {
        relay_out t;
        uint32_t tv = 0;
        relay_out_init(&t);
        CHECK_OK(relay_rules_drop_pending(n->twin, &tv, &t));
        CHECK(tv == *version);
        twin_same(n, code, out, 0, &t);
        relay_out_clear(&t);
    }
    return code;
}

static int room_pending_due(net *n, uint64_t now, uint8_t to[32], const uint8_t **desc,
                            size_t *len)
{
    int due = relay_room_pending_due(n->r, now, to, desc, len);
    if (n->twin) {
        uint8_t tto[32];
        const uint8_t *td;
        size_t tl;
        CHECK(relay_room_pending_due(n->twin, now, tto, &td, &tl) == due);
        CHECK(due != 1 || (memcmp(to, tto, 32) == 0 && tl == *len && memcmp(td, *desc, tl) == 0));
    }
    return due;
}

static int room_decline(net *n, const uint8_t from[32], uint32_t version)
{
    int took = relay_room_decline(n->r, from, version);
    if (n->twin)
        CHECK(relay_room_decline(n->twin, from, version) == took);
    return took;
}

static void room_set_online(net *n, const uint8_t v[32], int on)
{
    relay_room_set_online(n->r, v, on);
    if (n->twin)
        relay_rules_set_online(n->twin, v, on);
}

static void room_set_away(net *n, const uint8_t v[32])
{
    relay_room_set_away(n->r, v);
    if (n->twin)
        relay_room_set_away(n->twin, v);
}

/* The relay restarts: the room is reread from its store. */
static void room_reload(net *n)
{
    relay_room_free(n->r);
    CHECK_OK(relay_room_load(&n->r, n->s, n->room_id));
    twin_end(n);
}

/* The daemon's part: a settled Update re-binds its committer's session
 * to its new V (relay/serve.c), then deliveries go to connected parties,
 * the rest wait in the store. */
static void route(net *n, const relay_out *out)
{
    int moved = out->rebind ? by_v(n, out->rebind_from) : -1;
    if (moved >= 0)
        memcpy(n->p[moved].v, out->rebind_to, 32);
    for (size_t i = 0; i < out->n; i++) {
        int to = by_v(n, out->d[i].to);
        if (to < 0)
            continue;
        if (n->p[to].connected)
            enqueue(n, to, out->d[i].seq, out->d[i].bytes, out->d[i].len);
        else if (n->p[to].nmissed < FKEX_ARRAY_LEN(n->p[to].missed))
            n->p[to].missed[n->p[to].nmissed++] = out->d[i].seq;
    }
}

static int submit(net *n, int from, const uint8_t *b, size_t len)
{
    relay_out out;
    relay_out_init(&out);
    crypto_hash_sha256(n->p[from].sent[n->p[from].nsent++ % 16], b, len);
    n->last_code = room_submit(n, n->p[from].v, NULL, b, len, n->now, &out);
    n->last_seq = out.seq;
    if (getenv("RELAY_DEBUG"))
        fprintf(stderr, "  from %d type %d: code %d seq %llu %s\n", from, b[0], n->last_code,
                (unsigned long long)out.seq, out.why ? out.why : "");
    if (n->last_code == 0 && out.seq) {
        uint64_t rows = 0;   /* persisted before it is acknowledged */
        CHECK_OK(relay_store_log_count(n->s, n->room_id, out.seq, &rows));
        CHECK(rows >= 1);
    }
    route(n, &out);
    relay_out_clear(&out);
    return n->last_code;
}

static void absorb(net *n, int p, fkex_gke_out *out)
{
    party *pt = &n->p[p];
    for (size_t i = 0; i < out->nevents; i++)
        switch (out->events[i].kind) {
        case FKEX_GKE_EV_JOINED: pt->joined = 1; break;
        case FKEX_GKE_EV_LEFT: pt->left = 1; break;
        case FKEX_GKE_EV_ABORTED: pt->aborted = 1; break;
        case FKEX_GKE_EV_ADMITTED: pt->admitted++; break;
        case FKEX_GKE_EV_MESSAGE: pt->messages++; break;
        case FKEX_GKE_EV_LOST: pt->lost++; break;
        case FKEX_GKE_EV_FORK: pt->forks++; break;
        case FKEX_GKE_EV_MISBEHAVED: pt->misbehaved++; break;
        default: break;
        }
    /* Everything a member emits goes to the relay, EpochAcks and Remove
     * proposals included (the relay delivers SETTLED itself). */
    for (size_t i = 0; i < out->nmsgs; i++)
        (void)submit(n, p, out->msgs[i].bytes, out->msgs[i].len);
    fkex_gke_out_clear(out);
}

static void deliver(net *n, int p, uint64_t seq, const uint8_t *b, size_t len)
{
    party *pt = &n->p[p];
    fkex_gke_out out;
    fkex_rmsg_type type;
    uint8_t room[32];
    if (fkex_rmsg_peek(&type, room, b, len) == FKEX_OK && type == FKEX_RMSG_COMMIT) {
        fkex_rmsg_commit c;
        CHECK_OK(fkex_rmsg_commit_decode(&c, b, len));
        pt->last_slices = c.nslices;
        /* its slice is the one for its leaf after the commit (a party
         * that is no member any more has none) */
        uint32_t nl = fkex_ratchet_members(pt->st), *place = malloc((nl + 1) * sizeof *place);
        uint32_t me = UINT32_MAX;
        CHECK(place != NULL);
        if (place && fkex_ratchet_is_member(pt->st) &&
            fkex_rmsg_commit_places(&c, nl, place) == FKEX_OK)
            me = place[fkex_ratchet_index(pt->st)];
        if (c.nslices > 1 ||
            (c.nslices == 1 && (me == UINT32_MAX || fkex_rmsg_commit_slice(&c, me) != c.slices)))
            pt->foreign_slice = 1;
        free(place);
    }
    CHECK(seq > pt->last_seq);   /* in order, never twice */
    pt->last_seq = seq;
    uint8_t h[32];
    int echo = 0;
    crypto_hash_sha256(h, b, len);
    for (size_t i = 0; i < 16; i++)
        echo |= memcmp(pt->sent[i], h, 32) == 0;
    fkex_gke_out_init(&out);
    fkex_err rerr = fkex_ratchet_receive(pt->st, b, len, &n->rng, &out);
    if (rerr != FKEX_OK && !echo)
        pt->refused++;
    if (getenv("RELAY_DEBUG"))
        fprintf(stderr, "  to %d seq %llu type %d: %s%s\n", p, (unsigned long long)seq, b[0],
                fkex_strerror(rerr), echo ? " (echo)" : "");
    absorb(n, p, &out);
}

static void run(net *n)
{
    while (n->qhead < n->qtail) {
        qframe f = n->q[n->qhead++];
        if (n->p[f.to].connected && !n->p[f.to].mute)
            deliver(n, f.to, f.seq, f.bytes, f.len);
        free(f.bytes);
    }
    n->qhead = n->qtail = 0;
}

/* The daemon's timer: relay_room_tick at now, its deliveries routed. */
static int tick(net *n, uint64_t now)
{
    relay_out out;
    relay_out_init(&out);
    int code = room_tick(n, now, &out);
    route(n, &out);
    relay_out_clear(&out);
    return code;
}

static void set_online(net *n, int p, int on)
{
    n->p[p].connected = on;
    room_set_online(n, n->p[p].v, on);
}

/* A room of alice alone, its store at relay-<path>.db; seed makes the
 * run reproducible (every party draws from the net's rng). */
static net *net_open_at(const char *seed, const char *path)
{
    net *n = calloc(1, sizeof *n);
    uint8_t admin_pk[32], sig[64];
    fkex_ratchet_config cfg = { 0 };
    char err[256];
    if (!n)
        abort();
    test_rng(&n->rng, seed);
    snprintf(n->path, sizeof n->path, "%s/relay-%s.db", test_tmpdir(), path);
    for (char *c = n->path + strlen(test_tmpdir()) + 1; *c; c++)
        if (*c == ' ')
            *c = '-';
    CHECK_OK(relay_store_open(&n->s, n->path, err, sizeof err));
    fkex_sign_keypair(admin_pk, n->admin_sk, &n->rng);
    CHECK_OK(fkex_room_descriptor_create(&n->desc, &n->desclen, "room", PROTOTYPE, 1, 0,
                                         n->admin_sk));
    fkex_room_id(n->room_id, admin_pk, (const uint8_t *)"room", 4);
    cfg.key = world.alice;
    memcpy(cfg.room_id, n->room_id, 32);
    cfg.descriptor = n->desc;
    cfg.descriptor_len = n->desclen;
    CHECK_OK(fkex_ratchet_create(&n->p[0].st, &cfg, &n->rng));
    fkex_ratchet_leaf_key(n->p[0].v, n->p[0].st);
    n->p[0].joined = 1;
    n->np = 1;
    CHECK_OK(fkex_relay_create_sign(sig, n->admin_sk, n->room_id, n->p[0].v));
    CHECK_OK(relay_room_create(&n->r, n->s, n->desc, n->desclen, n->p[0].v, sig));
    CHECK_OK(relay_rules_create(&n->twin, n->desc, n->desclen, n->p[0].v, sig));
    if (!n->r || !n->twin)
        abort();
    set_online(n, 0, 1);
    return n;
}

static net *net_open(const char *seed)
{
    return net_open_at(seed, seed);
}

static void net_close(net *n)
{
    run(n);
    for (int i = 0; i < n->np; i++)
        fkex_ratchet_free(n->p[i].st);
    relay_room_free(n->r);
    twin_end(n);
    relay_store_close(n->s);
    free(n->desc);
    sodium_memzero(n->admin_sk, sizeof n->admin_sk);
    free(n);
}

/* A new party and its JoinRequest in *out (not sent). */
static int join_make(net *n, const fkex_key *key, fkex_gke_out *out)
{
    fkex_ratchet_config cfg = { 0 };
    int p = n->np++;
    cfg.key = key;
    memcpy(cfg.room_id, n->room_id, 32);
    cfg.descriptor = n->desc;
    cfg.descriptor_len = n->desclen;
    fkex_gke_out_init(out);
    CHECK_OK(fkex_ratchet_join(&n->p[p].st, &cfg, &n->rng, out));
    fkex_ratchet_leaf_key(n->p[p].v, n->p[p].st);
    n->p[p].connected = 1;
    return p;
}

/* A new party sends its JoinRequest (not run). */
static int join_start(net *n, const fkex_key *key)
{
    fkex_gke_out out;
    int p = join_make(n, key, &out);
    absorb(n, p, &out);
    return p;
}

/* Party p commits; its messages are returned unsent in *out when hold. */
static void do_commit(net *n, int p, const fkex_commit_options *opt, fkex_gke_out *held)
{
    fkex_gke_out out;
    fkex_gke_out_init(&out);
    CHECK_OK(fkex_ratchet_commit(n->p[p].st, opt, &n->rng, &out));
    n->p[p].admitted = 0;
    if (held)
        *held = out;
    else
        absorb(n, p, &out);
}

/* Join through sponsor s (the room's first online member). */
static int join(net *n, const fkex_key *key, int s)
{
    int p = join_start(n, key);
    run(n);
    CHECK(n->p[s].admitted > 0);
    do_commit(n, s, NULL, NULL);
    run(n);
    CHECK(n->p[p].joined);
    set_online(n, p, 1);
    return p;
}

static void say(net *n, int p, const char *text)
{
    fkex_gke_out out;
    fkex_gke_out_init(&out);
    CHECK_OK(fkex_ratchet_send(n->p[p].st, (const uint8_t *)text, strlen(text), &out));
    absorb(n, p, &out);
}

/* Every roster member is at the relay's epoch, at the index the relay
 * thinks, with one epoch authenticator. */
static int agree(const net *n)
{
    uint8_t first[32], a[32];
    for (uint32_t i = 0; i < n->r->nmembers; i++) {
        int p = by_v(n, n->r->members[i].v);
        if (p < 0 || !fkex_ratchet_is_member(n->p[p].st) ||
            fkex_ratchet_epoch(n->p[p].st) != n->r->epoch || fkex_ratchet_index(n->p[p].st) != i)
            return 0;
        fkex_ratchet_epoch_authenticator(i ? a : first, n->p[p].st);
        if (i && memcmp(a, first, 32) != 0)
            return 0;
    }
    return 1;
}

static void test_create_room(void)
{
    net *n = net_open("create");
    uint8_t sig[64];
    relay_room *r2;
    uint8_t *d;
    size_t dlen;
    uint64_t epoch;
    CHECK(n->r->nmembers == 1 && n->r->epoch == 0);
    /* the same room again, or a founder the admin did not name */
    CHECK_OK(fkex_relay_create_sign(sig, n->admin_sk, n->room_id, n->p[0].v));
    CHECK_ERR(relay_room_create(&r2, n->s, n->desc, n->desclen, n->p[0].v, sig), FKEX_ERR_REPLAY);
    sig[3] ^= 1;
    CHECK_ERR(relay_room_create(&r2, n->s, n->desc, n->desclen, n->p[0].v, sig),
              FKEX_ERR_AUTHENTICATION);
    n->desc[10] ^= 1;
    CHECK(relay_room_create(&r2, n->s, n->desc, n->desclen, n->p[0].v, sig) != FKEX_OK);
    n->desc[10] ^= 1;
    CHECK_OK(relay_store_room_get(n->s, n->room_id, &epoch, NULL, &d, &dlen));
    CHECK(epoch == 0 && dlen == n->desclen && memcmp(d, n->desc, dlen) == 0);
    free(d);
    net_close(n);
}

static void test_join_and_talk(void)
{
    net *n = net_open("join");
    int b = join(n, world.bob, 0);
    CHECK(agree(n) && n->r->nmembers == 2 && n->r->epoch == 1);
    int c = join(n, world.carol, 0);
    CHECK(agree(n) && n->r->nmembers == 3);
    say(n, c, "hello");
    run(n);
    CHECK(n->p[0].messages == 1 && n->p[b].messages == 1 && n->p[c].messages == 0);
    /* nobody's state machine refused anything the relay routed */
    for (int i = 0; i < n->np; i++)
        CHECK(n->p[i].refused == 0);
    net_close(n);
}

static void test_batched_join(void)
{
    net *n = net_open("batch");
    int b = join_start(n, world.bob), c = join_start(n, world.carol);
    run(n);
    CHECK(n->p[0].admitted == 2);
    do_commit(n, 0, NULL, NULL);
    run(n);
    CHECK(n->p[b].joined && n->p[c].joined);
    set_online(n, b, 1);
    set_online(n, c, 1);
    CHECK(n->r->epoch == 1 && n->r->nmembers == 3 && agree(n));
    CHECK(n->r->njoins == 0);
    net_close(n);
}

static void test_leave_path_slices(void)
{
    net *n = net_open("leave");
    int b = join(n, world.bob, 0), c = join(n, world.carol, 0), d = join(n, world.bob, 0);
    fkex_gke_out out;
    fkex_gke_out_init(&out);
    CHECK_OK(fkex_ratchet_propose_remove(n->p[b].st, fkex_ratchet_index(n->p[b].st), &out));
    absorb(n, b, &out);
    run(n);
    do_commit(n, c, NULL, NULL);    /* a path commit */
    run(n);
    CHECK(n->p[b].left);
    CHECK(n->r->nmembers == 3 && relay_room_member(n->r, n->p[b].v) < 0);
    CHECK(agree(n));
    /* each remaining member got its own slice and only it; the leaver none */
    CHECK(n->p[0].last_slices == 1 && n->p[d].last_slices == 1 && n->p[b].last_slices == 0);
    for (int i = 0; i < n->np; i++)
        CHECK(!n->p[i].foreign_slice);
    /* the one who left can no longer send to the room */
    uint8_t fake[64] = { FKEX_RMSG_APPLICATION, FKEX_RATCHET_VERSION };
    memcpy(fake + 2, n->room_id, 32);
    CHECK(submit(n, b, fake, sizeof fake) == FKEX_RELAY_E_NOT_ROUTABLE);
    say(n, d, "after");
    run(n);
    CHECK(n->p[0].messages == 1 && n->p[c].messages == 1 && n->p[b].messages == 0);
    net_close(n);
}

/* H(content) of a commit: what EpochAcks, SETTLED and Welcomes name. */
static void commit_hash_of(uint8_t hash[32], const uint8_t *bytes, size_t len)
{
    fkex_rmsg_commit c;
    memset(hash, 0, 32);
    CHECK_OK(fkex_rmsg_commit_decode(&c, bytes, len));
    crypto_hash_sha256(hash, bytes, c.content_len);
}

/* Welcomes held, in memory and in the store (which must agree). */
static uint64_t held_count(net *n)
{
    relay_held *h = NULL;
    size_t held = SIZE_MAX;
    CHECK_OK(relay_store_held_load(n->s, n->room_id, &h, &held));
    relay_rules_free_held(h, held);
    CHECK(held == n->r->nheld);
    return held;
}

/* Version 2: two candidates for one epoch are both taken and delivered
 * to every member, and the epoch does not move; the first EpochAck from
 * a member other than its committer settles one (bob's Update, first in
 * relay order, so the one every member prepares); the other is then
 * refused as stale and its Welcome dropped; every member agrees, bob's
 * session follows his new V, and alice, whose commit lost, commits again. */
static void test_first_commit_wins(void)
{
    net *n = net_open("race");
    int b = join(n, world.bob, 0), c = join(n, world.carol, 0);
    int d = join_start(n, world.bob);   /* dave, whom alice admits */
    run(n);
    CHECK(n->p[0].admitted == 1);
    fkex_commit_options upd = { .update = 1 };
    fkex_gke_out ob, oa;
    uint8_t old_b[32], hb[32], ha[32], key[32];
    uint64_t epoch = n->r->epoch;
    memcpy(old_b, n->p[b].v, 32);
    do_commit(n, b, &upd, &ob);
    do_commit(n, 0, NULL, &oa);
    CHECK(ob.nmsgs == 1 && oa.nmsgs == 2);
    commit_hash_of(hb, ob.msgs[0].bytes, ob.msgs[0].len);
    commit_hash_of(ha, oa.msgs[0].bytes, oa.msgs[0].len);
    size_t q = n->qtail;
    CHECK(submit(n, b, ob.msgs[0].bytes, ob.msgs[0].len) == 0 && n->last_seq > 0);
    CHECK(n->qtail == q + 3);
    CHECK(submit(n, 0, oa.msgs[0].bytes, oa.msgs[0].len) == 0 && n->last_seq > 0);
    CHECK(n->qtail == q + 6);
    CHECK(submit(n, 0, oa.msgs[1].bytes, oa.msgs[1].len) == 0 && n->last_seq == 0);
    CHECK(held_count(n) == 1);
    /* sent again (after a reconnection): taken once, nothing delivered */
    CHECK(submit(n, b, ob.msgs[0].bytes, ob.msgs[0].len) == 0 && n->last_seq == 0);
    CHECK(n->qtail == q + 6 && n->r->epoch == epoch);
    run(n);
    CHECK(n->r->epoch == epoch + 1 && n->r->has_settled && memcmp(n->r->settled, hb, 32) == 0);
    /* alice's lost: its Welcome is dropped, and it stays refused */
    CHECK(held_count(n) == 0 && !n->p[d].joined);
    CHECK(submit(n, 0, oa.msgs[0].bytes, oa.msgs[0].len) == FKEX_RELAY_E_STALE);
    CHECK(submit(n, 0, oa.msgs[1].bytes, oa.msgs[1].len) == FKEX_RELAY_E_STALE);
    CHECK(submit(n, b, ob.msgs[0].bytes, ob.msgs[0].len) == FKEX_RELAY_E_STALE);
    fkex_gke_out_clear(&ob);
    fkex_gke_out_clear(&oa);
    run(n);
    CHECK(agree(n) && n->r->nmembers == 3);
    /* bob's V rotated, and the relay knows him by the new one only */
    fkex_ratchet_leaf_key(key, n->p[b].st);
    CHECK(memcmp(key, old_b, 32) != 0 && memcmp(key, n->p[b].v, 32) == 0);
    CHECK(relay_room_member(n->r, old_b) < 0 && relay_room_member(n->r, key) == 1);
    for (int i = 0; i < n->np; i++)
        CHECK(n->p[i].refused == 0 && n->p[i].forks == 0 && n->p[i].lost == 0);
    /* the committer that lost commits again, and that settles; dave's
     * join started over with alice at each epoch (his Challenge named
     * the old one), and an Update adds nobody: the next commit adds him */
    CHECK(n->p[0].admitted == 1 && n->r->njoins == 1);
    do_commit(n, 0, &upd, NULL);
    run(n);
    CHECK(n->r->epoch == epoch + 2 && agree(n) && !n->p[d].joined);
    CHECK(n->p[0].admitted == 1 && n->r->njoins == 1);
    do_commit(n, 0, NULL, NULL);
    run(n);
    CHECK(n->r->epoch == epoch + 3 && agree(n) && n->p[d].joined && n->r->nmembers == 4);
    say(n, c, "still here");
    run(n);
    CHECK(n->p[0].messages == 1 && n->p[b].messages == 1);
    net_close(n);
}

static void test_welcome_held(void)
{
    net *n = net_open("held");
    int b = join(n, world.bob, 0);
    /* carol's Welcome reaches the relay before its commit: held, and still
     * held while the commit is only a candidate */
    int c = join_start(n, world.carol);
    run(n);
    CHECK(n->p[0].admitted == 1);
    fkex_gke_out o;
    do_commit(n, 0, NULL, &o);
    CHECK(o.nmsgs == 2);
    CHECK(submit(n, 0, o.msgs[1].bytes, o.msgs[1].len) == 0 && n->last_seq == 0);
    CHECK(held_count(n) == 1 && n->qtail == 0);
    CHECK(submit(n, 0, o.msgs[0].bytes, o.msgs[0].len) == 0);
    CHECK(held_count(n) == 1);
    fkex_gke_out_clear(&o);
    /* bob's EpochAck settles it: the Welcome goes out */
    run(n);
    CHECK(held_count(n) == 0);
    CHECK(n->p[c].joined);
    set_online(n, c, 1);
    CHECK(agree(n));

    /* dave's Welcome is held, then its commit loses to bob's: dropped */
    int d = join_start(n, world.bob);
    run(n);
    fkex_commit_options upd = { .update = 1 };
    fkex_gke_out ob;
    do_commit(n, b, &upd, &ob);
    do_commit(n, 0, NULL, &o);
    CHECK(submit(n, 0, o.msgs[1].bytes, o.msgs[1].len) == 0 && n->last_seq == 0);
    CHECK(submit(n, b, ob.msgs[0].bytes, ob.msgs[0].len) == 0);
    CHECK(submit(n, 0, o.msgs[0].bytes, o.msgs[0].len) == 0);   /* a candidate too */
    CHECK(held_count(n) == 1);
    run(n);   /* bob's, first in relay order, settles */
    CHECK(held_count(n) == 0);
    CHECK(submit(n, 0, o.msgs[0].bytes, o.msgs[0].len) == FKEX_RELAY_E_STALE);
    /* a Welcome for the commit that lost is refused outright */
    CHECK(submit(n, 0, o.msgs[1].bytes, o.msgs[1].len) == FKEX_RELAY_E_STALE);
    fkex_gke_out_clear(&o);
    fkex_gke_out_clear(&ob);
    run(n);
    CHECK(!n->p[d].joined);
    CHECK(agree(n) && n->r->nmembers == 3);
    net_close(n);
}

static void test_sponsor_timeout(void)
{
    net *n = net_open("sponsor");
    int b = join(n, world.bob, 0);
    relay_out out;
    relay_out_init(&out);
    n->p[0].mute = 1;                 /* alice stays connected but silent */
    n->now = 1000;
    int c = join_start(n, world.carol);
    run(n);
    CHECK(n->p[b].admitted == 0 && n->r->njoins == 1);
    /* not yet */
    CHECK(room_tick(n, n->now + RELAY_SPONSOR_TIMEOUT_MS - 1, &out) == 0 && out.n == 0);
    n->now += RELAY_SPONSOR_TIMEOUT_MS;
    CHECK(room_tick(n, n->now, &out) == 0);
    CHECK(out.n == 1 && memcmp(out.d[0].to, n->p[b].v, 32) == 0);
    route(n, &out);
    relay_out_clear(&out);
    run(n);
    CHECK(n->p[b].admitted == 1);
    do_commit(n, b, NULL, NULL);
    run(n);
    /* alice, connected, sits on the candidate too: bob's own EpochAck
     * settles nothing within the sponsor timeout (she may be about to
     * refuse it and commit her own), then it does: a member that is
     * frozen does not hold the room */
    CHECK(!n->p[c].joined && n->r->epoch == 1);
    CHECK(tick(n, n->now + RELAY_SPONSOR_TIMEOUT_MS - 1) == 0);
    run(n);
    CHECK(!n->p[c].joined && n->r->epoch == 1);
    CHECK(tick(n, n->now + RELAY_SPONSOR_TIMEOUT_MS) == 0);
    run(n);
    CHECK(n->p[c].joined && n->r->epoch == 2);
    set_online(n, c, 1);
    /* alice comes back and catches up from the log: the JoinRequest she
     * sat on, the candidate, SETTLED */
    n->p[0].mute = 0;
    CHECK(relay_room_replay(n->r, n->p[0].v, n->p[0].last_seq, 0, &out) == 0);
    CHECK(out.n >= 3);
    route(n, &out);
    relay_out_clear(&out);
    run(n);
    CHECK(agree(n) && n->r->nmembers == 3);
    net_close(n);
}

/* A sponsor that challenged a joiner and then went silent (frozen, its
 * connection open) does not hold the join: after twice the sponsor
 * timeout the relay starts it over with the next member, the joiner
 * answers the new Challenge (of the same epoch), and the old sponsor's
 * late commit adding it is refused as stale, its joins dropped with it. */
static void test_challenged_sponsor_silent(void)
{
    net *n = net_open("silent");
    int b = join(n, world.bob, 0);
    n->now = 1000;
    int c = join_start(n, world.carol);
    run(n);
    CHECK(n->p[0].admitted == 1 && n->r->njoins == 1);
    CHECK(n->r->joins[0].state == RELAY_JOIN_PROVED);
    n->p[0].mute = 1;   /* alice sits on the admitted join */
    CHECK(tick(n, n->now + 2 * RELAY_SPONSOR_TIMEOUT_MS - 1) == 0);
    run(n);
    CHECK(n->r->joins[0].state == RELAY_JOIN_PROVED && n->p[b].admitted == 0);
    n->now += 2 * RELAY_SPONSOR_TIMEOUT_MS;
    CHECK(tick(n, n->now) == 0);
    run(n);
    CHECK(n->p[b].admitted == 1 && memcmp(n->r->joins[0].sponsor, n->p[b].v, 32) == 0);
    /* alice wakes: her commit adding carol is refused, and dropped */
    fkex_gke_out oa;
    do_commit(n, 0, NULL, &oa);
    CHECK(oa.nmsgs == 2);
    CHECK(submit(n, 0, oa.msgs[0].bytes, oa.msgs[0].len) == FKEX_RELAY_E_STALE);
    CHECK(submit(n, 0, oa.msgs[1].bytes, oa.msgs[1].len) == FKEX_RELAY_E_NOT_ROUTABLE);
    fkex_gke_out_clear(&oa);
    fkex_ratchet_drop_commit(n->p[0].st);
    n->p[0].mute = 0;
    do_commit(n, b, NULL, NULL);
    run(n);
    CHECK(n->p[c].joined && n->r->epoch == 2 && n->r->njoins == 0);
    set_online(n, c, 1);
    CHECK(agree(n) && n->r->nmembers == 3);
    /* alice holds no stale join: her next commit is an ordinary one */
    fkex_commit_options upd = { .update = 1 };
    do_commit(n, 0, &upd, NULL);
    run(n);
    CHECK(n->r->epoch == 3 && agree(n));
    net_close(n);
}

/* A Challenge naming an epoch that has ended is stale: the join started
 * over when the epoch settled, and its sponsor challenges it again. */
static void test_challenge_stale(void)
{
    net *n = net_open("stale-challenge");
    int b = join(n, world.bob, 0);
    fkex_gke_out held;
    int c = join_make(n, world.carol, &held);
    /* alice holds carol's request while bob's Update settles */
    fkex_commit_options upd = { .update = 1 };
    do_commit(n, b, &upd, NULL);
    absorb(n, c, &held);   /* carol's JoinRequest reaches the relay, to alice */
    fkex_gke_out oa;
    fkex_gke_out_init(&oa);
    /* alice answers it at the old epoch, before she hears SETTLED */
    qframe *f = NULL;
    for (size_t i = n->qhead; i < n->qtail; i++)
        if (n->q[i].to == 0 && n->q[i].bytes[0] == FKEX_RMSG_JOIN_REQUEST)
            f = &n->q[i];
    CHECK(f != NULL);
    if (f) {
        CHECK_OK(fkex_ratchet_receive(n->p[0].st, f->bytes, f->len, &n->rng, &oa));
        CHECK(oa.nmsgs == 1);
    }
    run(n);   /* settles bob's Update: carol's join goes back to alice */
    CHECK(n->r->epoch == 2);
    if (oa.nmsgs == 1)
        CHECK(submit(n, 0, oa.msgs[0].bytes, oa.msgs[0].len) == FKEX_RELAY_E_STALE);
    fkex_gke_out_clear(&oa);
    CHECK(n->p[0].admitted == 1);
    do_commit(n, 0, NULL, NULL);
    run(n);
    CHECK(n->p[c].joined && n->r->epoch == 3);
    set_online(n, c, 1);
    CHECK(agree(n));
    net_close(n);
}

static void test_reconnect_replay(void)
{
    net *n = net_open("replay");
    int b = join(n, world.bob, 0), c = join(n, world.carol, 0);
    relay_out out;
    relay_out_init(&out);
    say(n, 0, "one");
    run(n);
    uint64_t last = n->p[b].last_seq;
    set_online(n, b, 0);              /* bob drops off */
    say(n, 0, "two");
    say(n, c, "three");
    run(n);
    int d = join(n, world.bob, 0);    /* a join and its commit while bob is away */
    say(n, d, "four");
    run(n);
    CHECK(n->p[b].nmissed >= 4);
    CHECK(relay_room_replay(n->r, n->p[b].v, last, 0, &out) == 0);
    /* exactly what it missed, in order */
    CHECK(out.n == n->p[b].nmissed);
    for (size_t i = 0; i < out.n && i < n->p[b].nmissed; i++)
        CHECK(out.d[i].seq == n->p[b].missed[i] && out.d[i].seq > last);
    set_online(n, b, 1);
    route(n, &out);
    relay_out_clear(&out);
    run(n);
    CHECK(n->p[b].messages == 4 && agree(n));
    /* a newcomer's replay from 0 holds nothing from before it joined */
    CHECK(relay_room_replay(n->r, n->p[d].v, 0, 0, &out) == 0);
    for (size_t i = 0; i < out.n; i++) {
        fkex_rmsg_type t;
        uint8_t room[32];
        CHECK_OK(fkex_rmsg_peek(&t, room, out.d[i].bytes, out.d[i].len));
        CHECK(t == FKEX_RMSG_CHALLENGE || t == FKEX_RMSG_WELCOME || out.d[i].seq > n->r->members[3].since);
    }
    relay_out_clear(&out);
    net_close(n);
}

/* A member further behind than the relay keeps is told so (HISTORY_GONE),
 * even when pruning left no row of the room at all: it must not believe it
 * missed nothing. (keep is lowered from RELAY_LOG_KEEP only to run fast.) */
static void test_history_gone(void)
{
    net *n = net_open("history");
    int b = join(n, world.bob, 0);
    relay_out out;
    relay_out_init(&out);
    n->r->keep = 4;
    set_online(n, b, 0);
    for (int k = 0; k < 6; k++)
        say(n, 0, "while bob is away");
    run(n);
    CHECK(relay_room_replay(n->r, n->p[b].v, n->p[b].last_seq, 0, &out) == FKEX_RELAY_E_HISTORY_GONE);
    relay_out_clear(&out);
    /* Still gone when every row has been pruned. */
    CHECK_OK(relay_store_log_prune(n->s, n->room_id, n->r->next_seq + 1));
    CHECK(relay_room_replay(n->r, n->p[b].v, n->p[b].last_seq, 0, &out) == FKEX_RELAY_E_HISTORY_GONE);
    relay_out_clear(&out);
    net_close(n);
}

static void test_restart(void)
{
    net *n = net_open("restart");
    int b = join(n, world.bob, 0), c = join(n, world.carol, 0);
    char err[256];
    say(n, b, "before");
    run(n);
    uint64_t epoch = n->r->epoch, seq = n->r->next_seq;
    /* a join in flight across the restart */
    int d = join_start(n, world.bob);
    run(n);
    CHECK(n->p[0].admitted == 1);
    relay_room_free(n->r);
    relay_store_close(n->s);
    n->r = NULL;
    CHECK_OK(relay_store_open(&n->s, n->path, err, sizeof err));
    CHECK_OK(relay_room_load(&n->r, n->s, n->room_id));
    twin_end(n);
    uint8_t (*ids)[32];
    size_t nids;
    CHECK_OK(relay_store_rooms(n->s, &ids, &nids));
    CHECK(nids == 1 && memcmp(ids[0], n->room_id, 32) == 0);
    free(ids);
    CHECK(n->r->epoch == epoch && n->r->next_seq > seq && n->r->nmembers == 3 && n->r->njoins == 1);
    for (int i = 0; i < 3; i++)
        set_online(n, i, 1);
    /* the sponsor commits the join it admitted before the restart */
    do_commit(n, 0, NULL, NULL);
    run(n);
    CHECK(n->p[d].joined);
    set_online(n, d, 1);
    CHECK(agree(n) && n->r->nmembers == 4 && n->r->epoch == epoch + 1);
    say(n, c, "after");
    run(n);
    CHECK(n->p[0].messages == 2 && n->p[b].messages == 1 && n->p[d].messages == 1);
    net_close(n);
}

/* Rows of the log at or above seq, as another connection to the database
 * sees them: what is on disk, not what the relay's transaction holds. */
static uint64_t rows_seen(const net *n, uint64_t seq)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    uint64_t rows = UINT64_MAX;
    if (sqlite3_open_v2(n->path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) FROM log WHERE seq >= ?1", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_bind_int64(q, 1, (sqlite3_int64)seq) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        rows = (uint64_t)sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return rows;
}

/* Party p's next application message, not submitted (the caller does). */
static void app_msg(net *n, int p, const char *text, fkex_gke_out *out)
{
    fkex_gke_out_init(out);
    CHECK_OK(fkex_ratchet_send(n->p[p].st, (const uint8_t *)text, strlen(text), out));
    CHECK(out->nmsgs == 1);
    if (out->nmsgs == 1)   /* (a failed check must not crash the suite) */
        crypto_hash_sha256(n->p[p].sent[n->p[p].nsent++ % 16], out->msgs[0].bytes,
                           out->msgs[0].len);
}

/* Group commit (the daemon's turn): several submits in one store batch
 * are taken or refused each alone, get consecutive seqs in order, and
 * reach the disk together only when the batch ends; until then another
 * reader sees none of them (so nothing may be acknowledged before). */
static void test_group_commit(void)
{
    net *n = net_open("group commit");
    int b = join(n, world.bob, 0);
    fkex_gke_out m[3];
    relay_out out[4];
    uint8_t stranger[32];
    uint64_t first;
    run(n);
    memset(stranger, 0x5a, sizeof stranger);
    first = n->r->next_seq;
    app_msg(n, 0, "one", &m[0]);
    app_msg(n, b, "two", &m[1]);
    app_msg(n, 0, "three", &m[2]);
    for (int i = 0; i < 4; i++)
        relay_out_init(&out[i]);
    CHECK_OK(relay_store_batch_begin(n->s));
    CHECK_ERR(relay_store_batch_begin(n->s), FKEX_ERR_UNEXPECTED);
    CHECK(room_submit(n, n->p[0].v, NULL, m[0].msgs[0].bytes, m[0].msgs[0].len, n->now, &out[0]) == 0);
    /* refused inside its step (a non-member's broadcast): its savepoint is undone */
    CHECK(room_submit(n, stranger, NULL, m[1].msgs[0].bytes, m[1].msgs[0].len, n->now, &out[1]) ==
          FKEX_RELAY_E_NOT_ROUTABLE);
    CHECK(room_submit(n, n->p[b].v, NULL, m[1].msgs[0].bytes, m[1].msgs[0].len, n->now, &out[2]) == 0);
    CHECK(room_submit(n, n->p[0].v, NULL, m[2].msgs[0].bytes, m[2].msgs[0].len, n->now, &out[3]) == 0);
    CHECK(out[0].seq == first && out[2].seq == first + 1 && out[3].seq == first + 2);
    CHECK(out[1].n == 0);
    CHECK(rows_seen(n, first) == 0);
    CHECK_OK(relay_store_batch_end(n->s));
    CHECK_ERR(relay_store_batch_end(n->s), FKEX_ERR_UNEXPECTED);
    CHECK(rows_seen(n, first) == 3);
    /* Only now are they delivered: in order, each once. */
    for (int i = 0; i < 4; i++) {
        route(n, &out[i]);
        relay_out_clear(&out[i]);
    }
    run(n);
    CHECK(n->p[0].messages == 1 && n->p[b].messages == 2);
    for (int i = 0; i < n->np; i++)
        CHECK(n->p[i].refused == 0);
    /* A restart resumes after the batch. */
    relay_room_free(n->r);
    relay_store_close(n->s);
    char err[256];
    CHECK_OK(relay_store_open(&n->s, n->path, err, sizeof err));
    CHECK_OK(relay_room_load(&n->r, n->s, n->room_id));
    twin_end(n);
    CHECK(n->r->next_seq == first + 3);
    set_online(n, 0, 1);
    set_online(n, b, 1);
    for (int i = 0; i < 3; i++)
        fkex_gke_out_clear(&m[i]);
    net_close(n);
}

static void test_refusals(void)
{
    net *n = net_open("refuse");
    int b = join(n, world.bob, 0);
    relay_out out;
    relay_out_init(&out);
    uint8_t junk[40] = { 99, 1 };
    CHECK(room_submit(n, n->p[b].v, NULL, junk, sizeof junk, 0, &out) == FKEX_RELAY_E_BAD_FRAME);
    /* a message for another room */
    uint8_t other[64] = { FKEX_RMSG_APPLICATION, FKEX_RATCHET_VERSION };
    CHECK(room_submit(n, n->p[b].v, NULL, other, sizeof other, 0, &out) ==
          FKEX_RELAY_E_NOT_ROUTABLE);
    /* a JoinRequest from another key than its own */
    int c = join_start(n, world.carol);
    run(n);
    fkex_gke_out o;
    fkex_gke_out_init(&o);
    CHECK(n->p[0].admitted == 1);
    /* bob cannot commit in alice's name: the relay checks the committer */
    do_commit(n, 0, NULL, &o);
    CHECK(submit(n, b, o.msgs[0].bytes, o.msgs[0].len) == FKEX_RELAY_E_NOT_ROUTABLE);
    CHECK(submit(n, 0, o.msgs[0].bytes, o.msgs[0].len) == 0);
    CHECK(submit(n, 0, o.msgs[1].bytes, o.msgs[1].len) == 0);
    fkex_gke_out_clear(&o);
    run(n);
    CHECK(n->p[c].joined);
    relay_out_clear(&out);
    net_close(n);
}

/* The admin's next descriptor: checked, kept (across a restart), handed to
 * one online member after another, and done once a commit carries it. */
static void test_set_descriptor(void)
{
    net *n = net_open("policy");
    int b = join(n, world.bob, 0);
    uint8_t *v2 = NULL, *forged = NULL, *v1 = NULL, to[32], other_pk[32], other_sk[64];
    size_t l2, lf, l1, len;
    const uint8_t *d;
    relay_out out;
    relay_out_init(&out);
    CHECK_OK(fkex_room_descriptor_create(&v2, &l2, "room", "ONE and (TWO or FOUR)", 2, 0,
                                         n->admin_sk));
    CHECK_OK(fkex_room_descriptor_create(&v1, &l1, "room", "ONE", 1, 0, n->admin_sk));
    fkex_sign_keypair(other_pk, other_sk, &n->rng);
    CHECK_OK(fkex_room_descriptor_create(&forged, &lf, "room", "ONE", 3, 0, other_sk));
    /* another admin's (another room), the same version, garbage: refused */
    CHECK(room_set_descriptor(n, forged, lf, &out) == FKEX_RELAY_E_BAD_DESCRIPTOR);
    CHECK(room_set_descriptor(n, v1, l1, &out) == FKEX_RELAY_E_BAD_DESCRIPTOR);
    CHECK(room_set_descriptor(n, v2, l2 - 1, &out) == FKEX_RELAY_E_BAD_DESCRIPTOR);
    CHECK(room_pending_due(n, 1000, to, &d, &len) == 0);
    CHECK(room_set_descriptor(n, v2, l2, &out) == 0);
    CHECK(room_set_descriptor(n, v2, l2, &out) == FKEX_RELAY_E_BAD_DESCRIPTOR);
    /* kept across a restart */
    room_reload(n);
    set_online(n, 0, 1);
    set_online(n, b, 1);
    /* alice's turn, then (no commit within the sponsor timeout) bob's */
    CHECK(room_pending_due(n, 1000, to, &d, &len) == 1);
    CHECK(memcmp(to, n->p[0].v, 32) == 0 && len == l2 && memcmp(d, v2, l2) == 0);
    CHECK(room_pending_due(n, 1001, to, &d, &len) == 0);
    CHECK(room_pending_due(n, 1000 + RELAY_SPONSOR_TIMEOUT_MS, to, &d, &len) == 1);
    CHECK(memcmp(to, n->p[b].v, 32) == 0);
    /* bob cannot commit it (a committer decapsulates its own re-attestation,
     * and bob's {THREE, FOUR} do not satisfy it); alice does: the room's
     * descriptor now, nothing pending, and bob falls out */
    fkex_commit_options opt = { .descriptor = v2, .descriptor_len = l2 };
    fkex_gke_out o;
    fkex_gke_out_init(&o);
    CHECK(fkex_ratchet_commit(n->p[b].st, &opt, &n->rng, &o) == FKEX_ERR_POLICY_UNSATISFIED);
    fkex_gke_out_clear(&o);
    do_commit(n, 0, &opt, NULL);
    run(n);
    /* bob cannot follow: his departing EpochAck settles it */
    CHECK(n->last_code == 0 && n->r->epoch == 2 && fkex_ratchet_epoch(n->p[0].st) == 2);
    CHECK(!fkex_ratchet_is_member(n->p[b].st) && n->p[b].left);
    uint8_t *stored = NULL;
    size_t slen = 0;
    CHECK_OK(relay_store_room_get(n->s, n->room_id, NULL, NULL, &stored, &slen));
    CHECK(slen == l2 && memcmp(stored, v2, l2) == 0);
    CHECK(room_pending_due(n, 10 * RELAY_SPONSOR_TIMEOUT_MS, to, &d, &len) == 0);
    free(stored);
    free(v1);
    free(v2);
    free(forged);
    sodium_memzero(other_sk, sizeof other_sk);
    relay_out_clear(&out);
    net_close(n);
}

/* A JoinRequest costs its sender nothing: it takes no seq (no log row)
 * until a sponsor is named; one leaf key has one join pending (the same
 * JoinRequest sent again is taken once); a room holds max_joins; a
 * JoinRequest is at most RELAY_JOIN_REQUEST_MAX bytes. */
static void test_join_limits(void)
{
    net *n = net_open("join limits");
    relay_out out;
    fkex_gke_out jr;
    relay_out_init(&out);
    int c = join_make(n, world.carol, &jr);
    CHECK(jr.nmsgs == 1);
    const uint8_t *req = jr.msgs[0].bytes;
    size_t reqlen = jr.msgs[0].len;

    /* nobody online: taken, but no seq until a sponsor is named */
    set_online(n, 0, 0);
    uint64_t next = n->r->next_seq;
    CHECK(submit(n, c, req, reqlen) == 0 && n->last_seq == 0);
    CHECK(n->r->next_seq == next && n->r->njoins == 1);
    /* sent again: taken once */
    CHECK(submit(n, c, req, reqlen) == 0 && n->last_seq == 0);
    CHECK(n->r->next_seq == next && n->r->njoins == 1);
    /* another JoinRequest from the same leaf key (another X): too many joins */
    uint8_t *other = malloc(reqlen);
    memcpy(other, req, reqlen);
    uint8_t *x = NULL;
    for (size_t i = 0; i + 64 <= reqlen && !x; i++)
        if (memcmp(other + i, n->p[c].v, 32) == 0)
            x = other + i + 32;      /* X follows V in the leaf */
    CHECK(x != NULL);
    if (x)
        x[0] ^= 1;
    relay_out_clear(&out);
    CHECK(room_submit(n, n->p[c].v, NULL, other, reqlen, n->now, &out) == FKEX_RELAY_E_BUSY);
    CHECK(out.why && strstr(out.why, "too many joins"));
    CHECK(n->r->next_seq == next && n->r->njoins == 1);
    /* larger than the cap: refused before anything is decoded */
    uint8_t *big = calloc(1, RELAY_JOIN_REQUEST_MAX + 1);
    memcpy(big, req, reqlen);
    CHECK(room_submit(n, n->p[c].v, NULL, big, RELAY_JOIN_REQUEST_MAX + 1, n->now, &out) ==
          FKEX_RELAY_E_BAD_FRAME);
    CHECK(out.why && strstr(out.why, "256 KiB"));
    free(big);
    free(other);

    /* alice comes back: the tick names her, and only now is a seq taken */
    set_online(n, 0, 1);
    CHECK(room_tick(n, n->now, &out) == 0);
    CHECK(out.n == 1 && out.d[0].seq == next && n->r->next_seq == next + 1);
    route(n, &out);
    relay_out_clear(&out);
    run(n);
    CHECK(n->p[0].admitted == 1);

    /* a room holds max_joins: the next is refused, nothing stored */
    n->r->max_joins = 2;
    if (n->twin)
        n->twin->max_joins = 2;
    (void)join_start(n, world.bob);
    run(n);
    CHECK(n->r->njoins == 2);
    next = n->r->next_seq;
    int e = join_start(n, world.eve);
    CHECK(n->last_code == FKEX_RELAY_E_BUSY && n->r->njoins == 2 && n->r->next_seq == next);
    (void)e;
    /* carol's join goes on */
    do_commit(n, 0, NULL, NULL);
    run(n);
    CHECK(n->p[c].joined);
    fkex_gke_out_clear(&jr);
    net_close(n);
}

/* A JoinRequest of a fresh leaf under key and descriptor desc (the
 * room's if NULL), not sent: its bytes (malloc'd) and V. */
static uint8_t *fresh_request(net *n, const fkex_key *key, const uint8_t *desc,
                              size_t desclen, uint8_t v[32], size_t *len)
{
    fkex_ratchet_config cfg = { .key = key, .descriptor = desc ? desc : n->desc,
                                .descriptor_len = desc ? desclen : n->desclen };
    fkex_ratchet *st = NULL;
    fkex_gke_out out;
    uint8_t *req = NULL;
    memcpy(cfg.room_id, n->room_id, 32);
    fkex_gke_out_init(&out);
    CHECK_OK(fkex_ratchet_join(&st, &cfg, &n->rng, &out));
    if (st && out.nmsgs == 1 && (req = malloc(out.msgs[0].len))) {
        memcpy(req, out.msgs[0].bytes, out.msgs[0].len);
        *len = out.msgs[0].len;
        fkex_ratchet_leaf_key(v, st);
    }
    fkex_gke_out_clear(&out);
    fkex_ratchet_free(st);
    return req;
}

/* A key from another authority than the room's. */
static fkex_key *foreign_key(fkex_mpk **mpk, fkex_msk **msk)
{
    fkex_rng rng;
    test_rng(&rng, "a self-made authority");
    CHECK_OK(fkex_abe_setup(mpk, msk, "waters11", &rng));
    return test_keygen(*msk, "ONE TWO THREE FOUR", &rng);
}

/* A refused join is answered: the sponsor's JoinRefused goes to the
 * joiner, which stops, and the join's slot is free at once. Only the
 * named sponsor refuses (another member's refusal, late, changes
 * nothing); a busy one hands the join to the next member. */
static void test_join_refused(void)
{
    net *n = net_open("join refused");
    int b = join(n, world.bob, 0);
    fkex_mpk *mpk;
    fkex_msk *msk;
    fkex_key *mallory = foreign_key(&mpk, &msk);
    int m = join_start(n, mallory);
    CHECK(n->r->njoins == 1);
    run(n);   /* alice refuses (another authority), the relay passes it on */
    CHECK(n->r->njoins == 0 && n->p[m].aborted == 1 && !n->p[m].joined);
    CHECK(!fkex_ratchet_is_member(n->p[m].st));
    /* carol's join; bob (not her sponsor) cannot refuse it, alice hands
     * it on as busy: it goes to bob, who admits her */
    fkex_gke_out jr;
    int c = join_make(n, world.carol, &jr);
    fkex_rmsg_join_refused busy = { .reason = FKEX_JOIN_REFUSED_BUSY };
    fkex_writer w;
    memcpy(busy.room_id, n->room_id, 32);
    crypto_hash_sha256(busy.joiner_id, (const uint8_t *)&n->p[c].st->self, 64);
    n->p[0].mute = 1;
    absorb(n, c, &jr);
    run(n);
    CHECK(n->r->njoins == 1 && n->r->joins[0].state == RELAY_JOIN_WAITING);
    fkex_writer_init(&w);
    fkex_rmsg_join_refused_encode(&w, &busy);
    CHECK(submit(n, b, w.buf, w.len) == 0 && n->last_seq == 0);   /* not his: nothing done */
    CHECK(n->r->joins[0].state == RELAY_JOIN_WAITING && n->r->njoins == 1);
    CHECK(memcmp(n->r->joins[0].sponsor, n->p[0].v, 32) == 0);
    CHECK(submit(n, 0, w.buf, w.len) == 0 && n->last_seq > 0);
    fkex_writer_free(&w);
    n->p[0].mute = 0;
    run(n);
    CHECK(memcmp(n->r->joins[0].sponsor, n->p[b].v, 32) == 0 && n->p[b].admitted == 1);
    do_commit(n, b, NULL, NULL);
    run(n);
    CHECK(n->p[c].joined && n->r->njoins == 0 && n->r->nmembers == 3);
    fkex_key_free(mallory);
    fkex_mpk_free(mpk);
    fkex_msk_free(msk);
    net_close(n);
}

/* Pending joins are bounded per source address and per authority, not
 * only per room: a flood from one address, or under self-made
 * authorities, leaves room for everyone else. The members' authority
 * (learnt from bob's join, and not unlearnt by a member who names another)
 * has no bound of its own. */
static void test_join_bounds(void)
{
    net *n = net_open("join bounds");
    (void)join(n, world.bob, 0);
    fkex_mpk *mpk;
    fkex_msk *msk;
    fkex_key *mallory = foreign_key(&mpk, &msk);
    uint8_t src[16] = { 0 }, v[32];
    relay_out out;
    size_t len;
    uint8_t *req;
    relay_out_init(&out);
    src[10] = src[11] = 0xff;
    src[12] = 192;
    for (int i = 0; i <= RELAY_MAX_JOINS_PER_SOURCE; i++) {
        req = fresh_request(n, world.carol, NULL, 0, v, &len);
        int code = room_submit(n, v, src, req, len, n->now, &out);
        CHECK(code == (i < RELAY_MAX_JOINS_PER_SOURCE ? 0 : FKEX_RELAY_E_BUSY));
        if (code)
            CHECK(out.why && strstr(out.why, "from this address"));
        relay_out_clear(&out);
        free(req);
    }
    src[13] = 1;   /* another address: taken */
    req = fresh_request(n, world.carol, NULL, 0, v, &len);
    CHECK(room_submit(n, v, src, req, len, n->now, &out) == 0);
    relay_out_clear(&out);
    free(req);
    /* a member (the sponsor of a pending join) refuses it naming mallory's
     * authority, to let a flood under it pass as the room's: the relay
     * keeps the authority it learnt first */
    {
        uint8_t real[32];
        fkex_rmsg_join_request q;
        fkex_header h;
        fkex_rmsg_join_refused m = { .reason = FKEX_JOIN_REFUSED_INVALID };
        fkex_writer w;
        int sponsor = -1;
        CHECK(n->r->has_authority);
        memcpy(real, n->r->authority, 32);
        req = fresh_request(n, mallory, NULL, 0, v, &len);
        CHECK_OK(fkex_rmsg_join_request_decode(&q, req, len));
        CHECK_OK(fkex_header_decode(&h, q.abe_ct));
        CHECK(memcmp(h.fingerprint, real, 32) != 0);
        memcpy(m.authority, h.fingerprint, 32);
        free(req);
        memcpy(m.room_id, n->room_id, 32);
        memcpy(m.joiner_id, n->r->joins[0].joiner_id, 32);
        for (int k = 0; k < 2; k++)
            if (memcmp(n->p[k].v, n->r->joins[0].sponsor, 32) == 0)
                sponsor = k;
        CHECK(sponsor >= 0);
        fkex_writer_init(&w);
        fkex_rmsg_join_refused_encode(&w, &m);
        CHECK(sponsor >= 0 && submit(n, sponsor, w.buf, w.len) == 0 && n->last_seq > 0);
        fkex_writer_free(&w);
        CHECK(memcmp(n->r->authority, real, 32) == 0);
    }
    /* a self-made authority, from many addresses */
    for (int i = 0; i <= RELAY_MAX_JOINS_PER_AUTHORITY; i++) {
        src[13] = (uint8_t)(2 + i);
        req = fresh_request(n, mallory, NULL, 0, v, &len);
        int code = room_submit(n, v, src, req, len, n->now, &out);
        CHECK(code == (i < RELAY_MAX_JOINS_PER_AUTHORITY ? 0 : FKEX_RELAY_E_BUSY));
        if (code)
            CHECK(out.why && strstr(out.why, "under other authorities"));
        relay_out_clear(&out);
        free(req);
    }
    for (int i = 0; i < 8; i++) {   /* the room's authority, past 64: taken */
        src[13] = (uint8_t)(200 + i);
        req = fresh_request(n, world.bob, NULL, 0, v, &len);
        CHECK(room_submit(n, v, src, req, len, n->now, &out) == 0);
        relay_out_clear(&out);
        free(req);
    }
    CHECK(n->r->njoins == RELAY_MAX_JOINS_PER_SOURCE + RELAY_MAX_JOINS_PER_AUTHORITY + 8);
    fkex_key_free(mallory);
    fkex_mpk_free(mpk);
    fkex_msk_free(msk);
    net_close(n);
}

/* Joiners are held to the newest descriptor the relay has accepted: the
 * joins under way under the old one end when the admin's change comes
 * (each joiner told to fetch the new one), a JoinRequest naming the old
 * one is refused, one naming the new one waits until a commit installs
 * it, and no commit adds joiners meanwhile. */
static void test_descriptor_holds_joins(void)
{
    net *n = net_open("descriptor holds joins");
    uint8_t *v2 = NULL, v[32];
    size_t l2, len;
    relay_out out;
    relay_out_init(&out);
    int c = join_start(n, world.carol);
    run(n);
    CHECK(n->p[0].admitted == 1 && n->r->njoins == 1);
    CHECK_OK(fkex_room_descriptor_create(&v2, &l2, "room", "ONE and (TWO or FOUR)", 2, 0,
                                         n->admin_sk));
    CHECK(room_set_descriptor(n, v2, l2, &out) == 0);
    route(n, &out);
    relay_out_clear(&out);
    run(n);
    CHECK(n->r->njoins == 0 && n->p[c].aborted == 1);
    /* alice's commit adding carol comes late: refused, and dropped */
    fkex_gke_out oa;
    do_commit(n, 0, NULL, &oa);
    CHECK(submit(n, 0, oa.msgs[0].bytes, oa.msgs[0].len) == FKEX_RELAY_E_STALE);
    fkex_gke_out_clear(&oa);
    fkex_ratchet_drop_commit(n->p[0].st);
    /* the old descriptor: refused; the new one: taken, and waits */
    uint8_t *old = fresh_request(n, world.carol, NULL, 0, v, &len);
    CHECK(room_submit(n, v, NULL, old, len, n->now, &out) == FKEX_RELAY_E_BAD_DESCRIPTOR);
    relay_out_clear(&out);
    free(old);
    fkex_gke_out jr;
    fkex_ratchet_config cfg = { .key = world.carol, .descriptor = v2, .descriptor_len = l2 };
    int d = n->np++;
    memcpy(cfg.room_id, n->room_id, 32);
    fkex_gke_out_init(&jr);
    CHECK_OK(fkex_ratchet_join(&n->p[d].st, &cfg, &n->rng, &jr));
    fkex_ratchet_leaf_key(n->p[d].v, n->p[d].st);
    n->p[d].connected = 1;
    absorb(n, d, &jr);
    CHECK(n->last_code == 0 && n->last_seq == 0 && n->r->njoins == 1);
    CHECK(tick(n, n->now + 3 * RELAY_SPONSOR_TIMEOUT_MS) == 0);
    run(n);
    CHECK(!n->r->joins[0].has_sponsor && n->p[0].admitted == 0);
    /* alice commits the change: the join goes to her, under it */
    fkex_commit_options opt = { .descriptor = v2, .descriptor_len = l2 };
    do_commit(n, 0, &opt, NULL);
    run(n);
    CHECK(n->r->epoch == 1 && n->r->pending == NULL && n->p[0].admitted == 1);
    do_commit(n, 0, NULL, NULL);
    run(n);
    CHECK(n->p[d].joined && n->r->nmembers == 2);
    set_online(n, d, 1);
    CHECK(agree(n));
    free(v2);
    net_close(n);
}

/* A change nobody online can commit: each member whose turn it is
 * declines (the next one's turn comes at once, not after a timeout), and
 * once all have, the relay drops it, the joins that waited for it are told
 * to fetch the room's descriptor again, and the room keeps its policy. A
 * change with no member connected is refused outright. */
static void test_descriptor_declined(void)
{
    net *n = net_open("descriptor declined");
    int b = join(n, world.bob, 0);
    uint8_t *v2 = NULL, to[32], v[32];
    size_t l2, len;
    const uint8_t *d;
    uint32_t version = 0;
    relay_out out;
    relay_out_init(&out);
    CHECK_OK(fkex_room_descriptor_create(&v2, &l2, "room", "FIVE", 2, 0, n->admin_sk));
    set_online(n, 0, 0);
    set_online(n, b, 0);
    CHECK(room_set_descriptor(n, v2, l2, &out) == FKEX_RELAY_E_NOT_ROUTABLE);
    CHECK(out.why && strstr(out.why, "no member of the room is connected"));
    set_online(n, 0, 1);
    set_online(n, b, 1);
    CHECK(room_set_descriptor(n, v2, l2, &out) == 0);
    relay_out_clear(&out);
    /* a joiner under it waits */
    uint8_t *req = fresh_request(n, world.eve, v2, l2, v, &len);
    CHECK(room_submit(n, v, NULL, req, len, n->now, &out) == 0 && out.seq == 0);
    relay_out_clear(&out);
    free(req);
    CHECK(room_pending_due(n, 1000, to, &d, &len) == 1);
    CHECK(memcmp(to, n->p[0].v, 32) == 0);
    CHECK(room_decline(n, n->p[b].v, 2) == 0);   /* not bob's turn */
    CHECK(room_decline(n, n->p[0].v, 1) == 0);   /* another version */
    CHECK(room_decline(n, n->p[0].v, 2) == 1);
    CHECK(room_pending_due(n, 1001, to, &d, &len) == 1);   /* at once */
    CHECK(memcmp(to, n->p[b].v, 32) == 0);
    CHECK(room_pending_due(n, 1002, to, &d, &len) == 0);
    CHECK(room_decline(n, n->p[b].v, 2) == 1);
    CHECK(room_pending_due(n, 1003, to, &d, &len) == -1);
    CHECK(room_drop_pending(n, &version, &out) == 0);
    CHECK(version == 2 && n->r->pending == NULL && n->r->njoins == 0);
    CHECK(out.n == 1 && memcmp(out.d[0].to, v, 32) == 0);   /* the waiting joiner is told */
    fkex_rmsg_join_refused m;
    CHECK(out.n == 1 && fkex_rmsg_join_refused_decode(&m, out.d[0].bytes, out.d[0].len) == FKEX_OK &&
          m.reason == FKEX_JOIN_REFUSED_DESCRIPTOR);
    relay_out_clear(&out);
    /* kept dropped across a restart; the old policy takes joiners again */
    room_reload(n);
    set_online(n, 0, 1);
    set_online(n, b, 1);
    CHECK(n->r->pending == NULL);
    int c = join(n, world.carol, 0);
    CHECK(n->p[c].joined);
    free(v2);
    net_close(n);
}

/* A long replay comes in pages: each stops past max_bytes, and the pages
 * together are the whole replay, in order. */
static void test_replay_pages(void)
{
    net *n = net_open("replay pages");
    int b = join(n, world.bob, 0);
    relay_out out, whole;
    relay_out_init(&out);
    relay_out_init(&whole);
    uint64_t last = n->p[b].last_seq;
    set_online(n, b, 0);
    for (int k = 0; k < 10; k++)
        say(n, 0, "while bob is away");
    run(n);
    CHECK(relay_room_replay(n->r, n->p[b].v, last, 0, &whole) == 0);
    CHECK(whole.n == 10 && !whole.more);
    size_t got = 0, pages = 0;
    uint64_t after = last;
    do {
        CHECK(relay_room_replay(n->r, n->p[b].v, after, 2 * whole.d[0].len, &out) == 0);
        CHECK(out.n >= 1 && out.n <= 2);
        for (size_t i = 0; i < out.n && got < whole.n; i++, got++)
            CHECK(out.d[i].seq == whole.d[got].seq && out.d[i].len == whole.d[got].len);
        if (out.n)
            after = out.d[out.n - 1].seq;
        pages++;
    } while (out.more && pages < 20);
    CHECK(got == 10 && pages >= 5);
    /* past the end: an empty page, nothing more */
    CHECK(relay_room_replay(n->r, n->p[b].v, after, 1, &out) == 0 && out.n == 0 && !out.more);
    relay_out_clear(&out);
    relay_out_clear(&whole);
    net_close(n);
}

/* A step fails and the room cannot be reread from the store: the room is
 * out of service (its memory may be stale), and says so to every call. */
static void test_room_failed(void)
{
    net *n = net_open("room failed");
    int b = join(n, world.bob, 0);
    relay_out out;
    sqlite3 *db;
    relay_out_init(&out);
    say(n, 0, "before");
    run(n);
    CHECK(n->p[b].messages == 1 && !n->r->failed);
    /* another hand takes away the tables a step writes and a reread reads */
    CHECK(sqlite3_open(n->path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "DROP TABLE log; DROP TABLE joins;", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    say(n, 0, "lost");
    CHECK(n->last_code == FKEX_RELAY_E_INTERNAL && n->r->failed);
    run(n);
    CHECK(n->p[b].messages == 1);
    CHECK(room_submit(n, n->p[0].v, NULL, (const uint8_t *)"x", 1, 0, &out) == FKEX_RELAY_E_INTERNAL);
    CHECK(out.why && strstr(out.why, "out of service"));
    CHECK(room_tick(n, 0, &out) == FKEX_RELAY_E_INTERNAL);
    CHECK(relay_room_replay(n->r, n->p[b].v, 0, 0, &out) == FKEX_RELAY_E_INTERNAL);
    CHECK(relay_room_reload(n->r) != FKEX_OK && n->r->failed);
    relay_out_clear(&out);
    n->qhead = n->qtail = 0;
    net_close(n);
}


static void restart(net *n)
{
    char err[256];
    relay_room_free(n->r);
    relay_store_close(n->s);
    n->r = NULL;
    CHECK_OK(relay_store_open(&n->s, n->path, err, sizeof err));
    CHECK_OK(relay_room_load(&n->r, n->s, n->room_id));
    twin_end(n);
    if (!n->r)
        abort();
    for (int i = 0; i < n->np; i++)
        if (n->p[i].connected)
            room_set_online(n, n->p[i].v, 1);
}

/* A candidate the relay refuses (its signature does not verify; a member
 * who stays has no slice) changes nothing: no seq, no delivery, nothing
 * stored, the epoch where it was. Its committer cannot commit again until
 * it drops it (fkex_ratchet_drop_commit); then it can, and that settles. */
static void test_refused_candidate(void)
{
    net *n = net_open("refused candidate");
    int b = join(n, world.bob, 0), c = join(n, world.carol, 0);
    fkex_commit_options upd = { .update = 1 };
    fkex_gke_out o, again;
    fkex_rmsg_commit cm;
    uint8_t h[32];
    relay_candidate *stored = NULL;
    size_t nstored = SIZE_MAX;
    run(n);
    uint64_t seq = n->r->next_seq, epoch = n->r->epoch;
    do_commit(n, b, &upd, &o);
    uint8_t *m = o.msgs[0].bytes;
    size_t len = o.msgs[0].len;
    CHECK_OK(fkex_rmsg_commit_decode(&cm, m, len));
    CHECK(cm.nslices == 2);
    commit_hash_of(h, m, len);
    m[cm.signed_len + 7] ^= 1;   /* the signature */
    CHECK(submit(n, b, m, len) == FKEX_RELAY_E_NOT_ROUTABLE);
    m[cm.signed_len + 7] ^= 1;
    store32_be(m + cm.signed_len + 64, cm.nslices - 1);   /* the last slice left out */
    CHECK(submit(n, b, m, len - FKEX_SLICE_BYTES) == FKEX_RELAY_E_NOT_ROUTABLE);
    store32_be(m + cm.signed_len + 64, cm.nslices);
    CHECK(n->r->next_seq == seq && n->qtail == 0 && n->r->epoch == epoch);
    CHECK_OK(relay_store_candidates_load(n->s, n->room_id, &stored, &nstored));
    CHECK(nstored == 0 && n->r->ncandidates == 0);
    relay_rules_free_candidates(stored, nstored);
    fkex_gke_out_clear(&o);
    run(n);
    CHECK(agree(n));
    /* bob's refused commit still waits in his state until he drops it */
    fkex_gke_out_init(&again);
    CHECK_ERR(fkex_ratchet_commit(n->p[b].st, &upd, &n->rng, &again), FKEX_ERR_UNEXPECTED);
    fkex_gke_out_clear(&again);
    fkex_ratchet_drop_commit(n->p[b].st);
    do_commit(n, b, &upd, NULL);
    CHECK(n->last_code == 0);
    run(n);
    CHECK(n->r->epoch == epoch + 1 && agree(n));
    say(n, c, "after");
    run(n);
    CHECK(n->p[0].messages == 1 && n->p[b].messages == 1);
    net_close(n);
}

/* The relay restarts between a candidate and its EpochAcks: the candidate
 * is in the store, so the first ack after the restart settles it. */
static void test_restart_candidate(void)
{
    net *n = net_open("restart candidate");
    int b = join(n, world.bob, 0), c = join(n, world.carol, 0);
    fkex_commit_options upd = { .update = 1 };
    fkex_gke_out o;
    uint8_t h[32], old_a[32];
    run(n);
    uint64_t epoch = n->r->epoch;
    memcpy(old_a, n->p[0].v, 32);
    do_commit(n, 0, &upd, &o);
    commit_hash_of(h, o.msgs[0].bytes, o.msgs[0].len);
    CHECK(submit(n, 0, o.msgs[0].bytes, o.msgs[0].len) == 0 && n->qtail == 3);
    fkex_gke_out_clear(&o);
    restart(n);
    CHECK(n->r->epoch == epoch);
    run(n);   /* the views delivered before the restart; the acks reach the new relay */
    CHECK(n->r->epoch == epoch + 1 && memcmp(n->r->settled, h, 32) == 0 && agree(n));
    CHECK(relay_room_member(n->r, old_a) < 0 && relay_room_member(n->r, n->p[0].v) == 0);
    say(n, b, "after the restart");
    run(n);
    CHECK(n->p[0].messages == 1 && n->p[c].messages == 1);
    for (int i = 0; i < n->np; i++)
        CHECK(n->p[i].refused == 0 && n->p[i].forks == 0);
    net_close(n);
}

/* Review (a): carol signs an Update whose membership tag is wrong (one
 * bit, then signed again with her key). The relay cannot check that tag
 * and takes it as a candidate; alice and bob find it is carol's doing,
 * say so and propose her removal; carol acknowledges her own junk, which
 * settles nothing while anyone else can ack. alice's Remove of carol
 * settles, the others move on, and carol reads nothing after. */
static void test_junk_update_removed(void)
{
    net *n = net_open("junk update");
    int b = join(n, world.bob, 0), c = join(n, world.carol, 0);
    fkex_commit_options upd = { .update = 1 };
    fkex_gke_out o, m;
    fkex_rmsg_commit cm;
    fkex_writer w;
    uint8_t hj[32], cv[32];
    run(n);
    uint64_t epoch = n->r->epoch;
    memcpy(cv, n->p[c].v, 32);
    n->now = 1000;
    do_commit(n, c, &upd, &o);
    uint8_t *junk = o.msgs[0].bytes;
    size_t len = o.msgs[0].len;
    CHECK_OK(fkex_rmsg_commit_decode(&cm, junk, len));
    junk[cm.tagged_len] ^= 1;   /* the membership tag's first byte */
    CHECK_OK(fkex_sign(junk + cm.signed_len, n->p[c].st->sig_sk, "commit", junk, cm.signed_len));
    commit_hash_of(hj, junk, len);
    CHECK(submit(n, c, junk, len) == 0 && n->last_seq > 0);
    /* carol's EpochAck for it, under her new V: taken, not settled */
    fkex_rmsg_epoch_ack a = { 0 };
    memcpy(a.room_id, n->room_id, 32);
    a.epoch = epoch + 1;
    memcpy(a.commit_hash, hj, 32);
    a.sender = 2;
    fkex_rng_fill(&n->rng, a.tag, 32);
    fkex_writer_init(&w);
    fkex_rmsg_epoch_ack_encode(&w, &a);
    CHECK_OK(ratchet_sign_append(&w, n->p[c].st->commit.new_sig_sk, "epoch ack"));
    CHECK(submit(n, c, w.buf, w.len) == 0 && n->last_seq == 0);
    fkex_writer_free(&w);
    fkex_gke_out_clear(&o);
    run(n);
    CHECK(n->r->epoch == epoch);
    CHECK(n->p[0].misbehaved == 1 && n->p[b].misbehaved == 1 && n->p[c].misbehaved == 0);
    /* alice commits the removal she and bob proposed; bob's ack settles it */
    n->now += 1;
    do_commit(n, 0, NULL, NULL);
    CHECK(n->last_code == 0);
    run(n);
    CHECK(n->r->epoch == epoch + 1 && n->r->nmembers == 2 && relay_room_member(n->r, cv) < 0);
    CHECK(n->p[c].left && !fkex_ratchet_is_member(n->p[c].st));
    CHECK(agree(n));
    /* carol's held ack settles nothing later either */
    CHECK(tick(n, n->now + 10 * RELAY_SPONSOR_TIMEOUT_MS) == 0);
    run(n);
    CHECK(n->r->epoch == epoch + 1 && agree(n));
    /* carol reads nothing after her removal, and sends nothing */
    fkex_gke_out_init(&o);
    app_msg(n, 0, "without carol", &m);
    if (m.nmsgs == 1) {
        CHECK(fkex_ratchet_receive(n->p[c].st, m.msgs[0].bytes, m.msgs[0].len, &n->rng, &o) !=
              FKEX_OK);
        CHECK(o.nevents == 0);
        CHECK(submit(n, 0, m.msgs[0].bytes, m.msgs[0].len) == 0);
        CHECK(submit(n, c, m.msgs[0].bytes, m.msgs[0].len) == FKEX_RELAY_E_NOT_ROUTABLE);
    }
    fkex_gke_out_clear(&m);
    run(n);
    CHECK(n->p[b].messages == 1 && n->p[c].messages == 0);
    net_close(n);
}

/* Review (b): a thief holds a copy of bob's whole state (the same room
 * built again from the same seed gives it: every party's randomness comes
 * from the net's rng). Its junk commit comes before bob's healing Update
 * in relay order; the Update settles. Afterwards the thief cannot follow
 * the room or open its messages, its old V maps to no member at the relay,
 * and neither a commit nor a Remove signed with the pre-Update key gets
 * through. */
static net *three(const char *seed, const char *path, int *b, int *c)
{
    net *n = net_open_at(seed, path);
    *b = join(n, world.bob, 0);
    *c = join(n, world.carol, 0);
    run(n);
    return n;
}

/* The room `name` of alice, bob (b) and carol (c), and in *thief a copy of
 * bob's whole state, taken from its twin built from the same seed. */
static net *three_and_thief(const char *name, int *b, int *c, fkex_ratchet **thief)
{
    char twin_path[96];
    int b2, c2;
    snprintf(twin_path, sizeof twin_path, "%s twin", name);
    net *n = three(name, name, b, c);
    net *twin = three(name, twin_path, &b2, &c2);
    *thief = twin->p[b2].st;
    twin->p[b2].st = NULL;
    net_close(twin);
    return n;
}

static void test_thief_heal(void)
{
    int b, c;
    fkex_ratchet *thief;
    net *n = three_and_thief("thief heal", &b, &c, &thief);
    uint8_t tv[32], old_b[32], hb[32], sig[64], nonce[32] = { 7 };
    fkex_ratchet_leaf_key(tv, thief);
    memcpy(old_b, n->p[b].v, 32);
    CHECK(memcmp(tv, old_b, 32) == 0);   /* the copy is bob's */
    CHECK(memcmp(thief->sig_sk, n->p[b].st->sig_sk, 64) == 0);
    CHECK(memcmp(thief->keys.membership_key, n->p[0].st->keys.membership_key, 32) == 0);
    uint64_t epoch = n->r->epoch;
    uint32_t bi = fkex_ratchet_index(n->p[b].st);

    /* bob's Update, then the thief's junk sent as bob (it can
     * authenticate as him so far): one commit per member and epoch, so
     * the relay refuses the second and nobody sees it. (The thief first:
     * see test_thief_first.) */
    fkex_writer w;
    fkex_commit_options upd = { .update = 1 };
    fkex_gke_out ob, o;
    do_commit(n, b, &upd, &ob);
    commit_hash_of(hb, ob.msgs[0].bytes, ob.msgs[0].len);
    CHECK(submit(n, b, ob.msgs[0].bytes, ob.msgs[0].len) == 0 && n->last_seq > 0);
    uint64_t useq = n->last_seq;
    gke_junk_commit(&w, n->room_id, epoch, bi, thief->keys.membership_key, thief->sig_sk, &n->rng);
    CHECK(submit(n, b, w.buf, w.len) == FKEX_RELAY_E_STALE);
    fkex_writer_free(&w);
    run(n);
    CHECK(n->r->epoch == epoch + 1 && memcmp(n->r->settled, hb, 32) == 0 && agree(n));
    CHECK(n->p[0].misbehaved == 0 && n->p[c].misbehaved == 0);
    CHECK(n->p[0].st->nremovals == 0 && n->p[c].st->nremovals == 0);

    /* The relay: the old V is nobody. The thief's AUTH verifies for that
     * key, yet maps to no member, replays it nothing, and takes nothing. */
    CHECK_OK(fkex_ratchet_relay_auth(sig, thief, nonce));
    CHECK(fkex_relay_auth_verify(sig, n->room_id, nonce, old_b) == 0);
    CHECK(relay_room_member(n->r, old_b) < 0 && relay_room_member(n->r, n->p[b].v) == (long)bi);
    relay_out out;
    relay_out_init(&out);
    CHECK(relay_room_replay(n->r, old_b, useq, 0, &out) == 0 && out.n == 0);
    relay_out_clear(&out);

    /* A commit and a Remove for the new epoch signed with the old key:
     * refused from the old V (no member), and the commit from bob's new V
     * too (the relay checks the committer's V); members refuse the Remove. */
    gke_junk_commit(&w, n->room_id, epoch + 1, bi, thief->keys.membership_key, thief->sig_sk, &n->rng);
    relay_out_init(&out);
    CHECK(room_submit(n, old_b, NULL, w.buf, w.len, n->now, &out) == FKEX_RELAY_E_NOT_ROUTABLE);
    CHECK(room_submit(n, n->p[b].v, NULL, w.buf, w.len, n->now, &out) ==
          FKEX_RELAY_E_NOT_ROUTABLE);
    CHECK(out.why && strstr(out.why, "did not sign"));
    relay_out_clear(&out);
    fkex_writer_free(&w);
    gke_remove_msg(&w, n->room_id, epoch + 1, bi, 0, n->p[c].st->keys.membership_key,
                   thief->sig_sk);
    relay_out_init(&out);
    CHECK(room_submit(n, old_b, NULL, w.buf, w.len, n->now, &out) == FKEX_RELAY_E_NOT_ROUTABLE);
    relay_out_clear(&out);
    fkex_gke_out_init(&o);
    CHECK_ERR(fkex_ratchet_receive(n->p[c].st, w.buf, w.len, &n->rng, &o), FKEX_ERR_AUTHENTICATION);
    CHECK(n->p[c].st->nremovals == 0);
    fkex_writer_free(&w);

    /* The thief reads nothing: given bob's old view of the Update and
     * SETTLED, it cannot apply it (it is LOST); a message of the new
     * epoch does not open for it. */
    uint8_t *view;
    size_t vlen;
    fkex_rmsg_commit upc;
    CHECK_OK(fkex_rmsg_commit_decode(&upc, ob.msgs[0].bytes, ob.msgs[0].len));
    CHECK_OK(fkex_rmsg_commit_view(&view, &vlen, ob.msgs[0].bytes, &upc, bi));
    CHECK_OK(fkex_ratchet_receive(thief, view, vlen, &n->rng, &o));   /* not its commit: */
    CHECK(o.nevents == 1 && o.events[0].kind == FKEX_GKE_EV_IMPERSONATED);   /* it says so */
    CHECK(!thief->tentative.active);
    free(view);
    gke_settled_msg(&w, n->room_id, epoch, hb);
    CHECK_OK(fkex_ratchet_receive(thief, w.buf, w.len, &n->rng, &o));
    fkex_writer_free(&w);
    int lost = 0;
    for (size_t i = 0; i < o.nevents; i++)
        lost += o.events[i].kind == FKEX_GKE_EV_LOST;
    CHECK(lost == 1 && !fkex_ratchet_is_member(thief));
    fkex_gke_out_clear(&o);
    fkex_gke_out m;
    app_msg(n, 0, "healed", &m);
    if (m.nmsgs == 1) {
        CHECK(fkex_ratchet_receive(thief, m.msgs[0].bytes, m.msgs[0].len, &n->rng, &o) != FKEX_OK);
        CHECK(o.nevents == 0);
        CHECK(submit(n, 0, m.msgs[0].bytes, m.msgs[0].len) == 0);
    }
    fkex_gke_out_clear(&m);
    run(n);
    CHECK(n->p[b].messages == 1 && n->p[c].messages == 1);
    fkex_gke_out_clear(&ob);
    fkex_ratchet_free(thief);
    net_close(n);
}

/* Review (b), the thief first: its junk, sent as bob, is a candidate, so
 * the relay refuses bob's healing Update in that epoch (one commit per
 * member and epoch: a member cannot bury the others' commits under its
 * own). The junk is evidence against bob's leaf: alice and carol propose
 * its removal, alice commits it, carol's ack settles it, and neither
 * bob's leaf nor its thief reads anything after (bob comes back through
 * admission, with a new leaf). */
static void test_thief_first(void)
{
    int b, c;
    fkex_ratchet *thief;
    net *n = three_and_thief("thief first", &b, &c, &thief);
    uint64_t epoch = n->r->epoch;
    uint32_t bi = fkex_ratchet_index(n->p[b].st);
    fkex_commit_options upd = { .update = 1 };
    fkex_gke_out ob, o, m;
    fkex_writer w;
    gke_junk_commit(&w, n->room_id, epoch, bi, thief->keys.membership_key, thief->sig_sk, &n->rng);
    CHECK(submit(n, b, w.buf, w.len) == 0 && n->last_seq > 0);
    fkex_writer_free(&w);
    do_commit(n, b, &upd, &ob);
    CHECK(submit(n, b, ob.msgs[0].bytes, ob.msgs[0].len) == FKEX_RELAY_E_STALE);
    fkex_gke_out_clear(&ob);
    run(n);
    CHECK(n->p[0].misbehaved == 1 && n->p[c].misbehaved == 1);
    CHECK(fkex_ratchet_removal_pending(n->p[0].st, bi) && fkex_ratchet_removal_pending(n->p[c].st, bi));
    do_commit(n, 0, NULL, NULL);
    run(n);
    CHECK(n->r->epoch == epoch + 1 && n->r->nmembers == 2 && n->p[b].left);
    CHECK(fkex_ratchet_members(n->p[0].st) == 2 && agree(n));
    fkex_gke_out_init(&o);
    app_msg(n, 0, "without bob", &m);
    if (m.nmsgs == 1)
        CHECK(fkex_ratchet_receive(thief, m.msgs[0].bytes, m.msgs[0].len, &n->rng, &o) != FKEX_OK &&
              o.nevents == 0);
    fkex_gke_out_clear(&m);
    fkex_gke_out_clear(&o);
    fkex_ratchet_free(thief);
    net_close(n);
}

/* One frame to party p, as a relay the test plays: the events counted,
 * what p sends kept in sent (not submitted). */
static fkex_err play(net *n, int p, const uint8_t *b, size_t len, fkex_gke_out *sent)
{
    fkex_gke_out out;
    fkex_gke_out_init(&out);
    fkex_err err = fkex_ratchet_receive(n->p[p].st, b, len, &n->rng, &out);
    for (size_t i = 0; i < out.nevents; i++)
        switch (out.events[i].kind) {
        case FKEX_GKE_EV_FORK: n->p[p].forks++; break;
        case FKEX_GKE_EV_LOST: n->p[p].lost++; break;
        default: break;
        }
    for (size_t i = 0; i < out.nmsgs; i++) {
        uint8_t *copy = malloc(out.msgs[i].len);
        if (!copy)
            abort();
        memcpy(copy, out.msgs[i].bytes, out.msgs[i].len);
        CHECK_OK(fkex_gke_out_msg(sent, FKEX_GKE_TO_ROOM, copy, out.msgs[i].len));
    }
    fkex_gke_out_clear(&out);
    return err;
}

/* Review (c): a relay that forks the room for one epoch. The test plays
 * the relay: alice's Update A and SETTLED(A) to alice and carol, bob's
 * Update B and SETTLED(B) to bob and dave. Each half moves on, with
 * different epoch authenticators; then every EpochAck goes to everyone,
 * and both halves report the fork. */
static void test_relay_fork(void)
{
    net *n = net_open("relay fork");
    int b = join(n, world.bob, 0), c = join(n, world.carol, 0), d = join(n, world.bob, 0);
    fkex_commit_options upd = { .update = 1 };
    fkex_gke_out oa, ob, acks;
    fkex_writer sa, sb;
    uint8_t ha[32], hb[32], x[32], y[32];
    run(n);
    CHECK(agree(n) && n->r->nmembers == 4);
    uint64_t epoch = n->r->epoch;
    do_commit(n, 0, &upd, &oa);
    do_commit(n, b, &upd, &ob);
    commit_hash_of(ha, oa.msgs[0].bytes, oa.msgs[0].len);
    commit_hash_of(hb, ob.msgs[0].bytes, ob.msgs[0].len);
    gke_settled_msg(&sa, n->room_id, epoch, ha);
    gke_settled_msg(&sb, n->room_id, epoch, hb);
    fkex_gke_out_init(&acks);
    const int half[4] = { 0, c, b, d };
    for (int k = 0; k < 4; k++) {
        int p = half[k];
        const fkex_gke_msg *cm = k < 2 ? &oa.msgs[0] : &ob.msgs[0];
        const fkex_writer *s = k < 2 ? &sa : &sb;
        uint8_t *view;
        size_t vlen;
        fkex_rmsg_commit dc;
        CHECK_OK(fkex_rmsg_commit_decode(&dc, cm->bytes, cm->len));
        CHECK_OK(fkex_rmsg_commit_view(&view, &vlen, cm->bytes, &dc,
                                       fkex_ratchet_index(n->p[p].st)));
        CHECK_OK(play(n, p, view, vlen, &acks));
        free(view);
        CHECK_OK(play(n, p, s->buf, s->len, &acks));
        CHECK(fkex_ratchet_epoch(n->p[p].st) == epoch + 1);
    }
    CHECK(acks.nmsgs == 4);   /* one EpochAck each */
    fkex_ratchet_epoch_authenticator(x, n->p[0].st);
    fkex_ratchet_epoch_authenticator(y, n->p[c].st);
    CHECK(memcmp(x, y, 32) == 0);
    fkex_ratchet_epoch_authenticator(y, n->p[b].st);
    CHECK(memcmp(x, y, 32) != 0);
    fkex_gke_out ignored;
    fkex_gke_out_init(&ignored);
    for (size_t i = 0; i < acks.nmsgs; i++)
        for (int k = 0; k < 4; k++)
            (void)play(n, half[k], acks.msgs[i].bytes, acks.msgs[i].len, &ignored);
    CHECK(ignored.nmsgs == 0);
    for (int k = 0; k < 4; k++)
        CHECK(n->p[half[k]].forks >= 1 && n->p[half[k]].lost == 0);
    fkex_gke_out_clear(&ignored);
    fkex_gke_out_clear(&acks);
    fkex_gke_out_clear(&oa);
    fkex_gke_out_clear(&ob);
    fkex_writer_free(&sa);
    fkex_writer_free(&sb);
    n->qhead = n->qtail = 0;
    net_close(n);
}

/* Review (d): after bob's Update, a Remove proposal signed with his
 * pre-Update key (with the current membership key: the worst case), and
 * one signed with his current key under last epoch's membership key, go
 * through the relay (it routes a Remove by its sender alone) and every
 * member refuses them: nothing to commit after. The same proposal, right,
 * is taken (control), and its commit removes carol. */
static void test_stale_remove(void)
{
    net *n = net_open("stale remove");
    int b = join(n, world.bob, 0), c = join(n, world.carol, 0);
    fkex_commit_options upd = { .update = 1 };
    fkex_writer w;
    fkex_gke_out o;
    uint8_t old_sk[64], old_mk[32], cv[32];
    run(n);
    memcpy(old_sk, n->p[b].st->sig_sk, 64);
    memcpy(old_mk, n->p[0].st->keys.membership_key, 32);
    memcpy(cv, n->p[c].v, 32);
    uint64_t epoch = n->r->epoch;
    do_commit(n, b, &upd, NULL);
    run(n);
    CHECK(n->r->epoch == epoch + 1 && agree(n));
    uint32_t bi = fkex_ratchet_index(n->p[b].st), ci = fkex_ratchet_index(n->p[c].st);
    size_t ra = n->p[0].refused, rc = n->p[c].refused;
    gke_remove_msg(&w, n->room_id, epoch + 1, bi, ci, n->p[0].st->keys.membership_key,
                   old_sk);
    CHECK(submit(n, b, w.buf, w.len) == 0);
    fkex_writer_free(&w);
    gke_remove_msg(&w, n->room_id, epoch + 1, bi, ci, old_mk, n->p[b].st->sig_sk);
    CHECK(submit(n, b, w.buf, w.len) == 0);
    fkex_writer_free(&w);
    run(n);
    CHECK(n->p[0].refused == ra + 2 && n->p[c].refused == rc + 2);
    CHECK(n->p[0].st->nremovals == 0 && n->p[c].st->nremovals == 0);
    fkex_gke_out_init(&o);
    CHECK_ERR(fkex_ratchet_commit(n->p[0].st, NULL, &n->rng, &o), FKEX_ERR_UNEXPECTED);
    fkex_gke_out_clear(&o);
    /* control: bob's current key and membership key */
    gke_remove_msg(&w, n->room_id, epoch + 1, bi, ci, n->p[b].st->keys.membership_key,
                   n->p[b].st->sig_sk);
    CHECK(submit(n, b, w.buf, w.len) == 0);
    fkex_writer_free(&w);
    run(n);
    CHECK(n->p[0].refused == ra + 2 && n->p[0].st->nremovals == 1);
    do_commit(n, 0, NULL, NULL);
    run(n);
    CHECK(n->r->epoch == epoch + 2 && n->r->nmembers == 2 && relay_room_member(n->r, cv) < 0);
    CHECK(n->p[c].left && agree(n));
    sodium_memzero(old_sk, sizeof old_sk);
    net_close(n);
}

/* With the store's own checkpoints off, the checkpoint thread copies the
 * log into the database file: it grows while the loop only commits. */
static void test_checkpointer(void)
{
    char path[300], err[256];
    relay_store *s = NULL;
    relay_checkpointer *cp = NULL;
    uint8_t room[32] = { 1 }, frame[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/checkpoint.db", test_tmpdir());
    CHECK_OK(relay_store_open(&s, path, err, sizeof err));
    CHECK_OK(relay_store_set_sync(s, 0));
    CHECK_OK(relay_store_autocheckpoint(s, 0));
    CHECK(stat(path, &st) == 0);
    off_t before = st.st_size;
    memset(frame, 7, sizeof frame);
    CHECK_OK(relay_store_begin(s));
    for (uint64_t seq = 1; seq <= 512; seq++)
        CHECK_OK(relay_store_log_append(s, room, seq, NULL, frame, sizeof frame));
    CHECK_OK(relay_store_commit(s));
    CHECK(stat(path, &st) == 0 && st.st_size == before);   /* all in the log */
    CHECK_OK(relay_checkpointer_start(&cp, path, 20));
    for (int i = 0; i < 250 && stat(path, &st) == 0 && st.st_size < before + 512 * 4096; i++) {
        struct timespec ts = { 0, 20 * 1000000L };
        nanosleep(&ts, NULL);
    }
    CHECK(st.st_size >= before + 512 * 4096);
    relay_checkpointer_stop(cp);
    relay_store_close(s);
}

/* The admin's kick through the relay (relay_room_kick): a kick not signed
 * by the room's admin, or naming nobody, is refused and changes nothing;
 * the admin's kick of carol goes to every member, a second one is stale,
 * the relay takes nothing from carol from then on (after a restart too),
 * and alice's commit removes her. */
static void test_kick_relay(void)
{
    net *n = net_open("kick");
    int c = (join(n, world.bob, 0), join(n, world.carol, 0));
    uint8_t *k, other_sk[64], other_pk[32], nobody[FKEX_PSEUDONYM_BYTES] = { 0 };
    uint8_t fake[64] = { FKEX_RMSG_APPLICATION, FKEX_RATCHET_VERSION };
    size_t klen;
    uint64_t next = n->r->next_seq;
    relay_out out;
    relay_out_init(&out);
    run(n);
    fkex_sign_keypair(other_pk, other_sk, &n->rng);
    CHECK_OK(fkex_room_kick_create(&k, &klen, n->room_id, n->p[c].v, "spam", other_sk));
    CHECK(room_kick(n, k, klen, &out) == FKEX_RELAY_E_BAD_DESCRIPTOR && out.n == 0);
    free(k);
    CHECK_OK(fkex_room_kick_create(&k, &klen, n->room_id, nobody, "spam", n->admin_sk));
    CHECK(room_kick(n, k, klen, &out) == FKEX_RELAY_E_NOT_ROUTABLE && out.n == 0);
    free(k);
    CHECK(n->r->next_seq == next);
    CHECK_OK(fkex_room_kick_create(&k, &klen, n->room_id, n->p[c].v, "spam", n->admin_sk));
    CHECK(room_kick(n, k, klen, &out) == 0 && out.n == 3 && out.seq == next);
    route(n, &out);
    relay_out_clear(&out);
    CHECK(room_kick(n, k, klen, &out) == FKEX_RELAY_E_STALE);
    relay_out_clear(&out);
    next = n->r->next_seq;   /* a member cannot pass a kick on (or replay one) as its own */
    CHECK(submit(n, 0, k, klen) == FKEX_RELAY_E_NOT_ROUTABLE && n->r->next_seq == next);
    free(k);
    run(n);
    CHECK(!fkex_ratchet_is_member(n->p[c].st));
    CHECK(fkex_ratchet_is_member(n->p[0].st) && n->p[0].st->nremovals == 1);
    restart(n);
    memcpy(fake + 2, n->room_id, 32);
    CHECK(submit(n, c, fake, sizeof fake) == FKEX_RELAY_E_NOT_ROUTABLE);
    do_commit(n, 0, NULL, NULL);
    run(n);
    CHECK(n->r->nmembers == 2 && relay_room_member(n->r, n->p[c].v) < 0 && agree(n));
    net_close(n);
}

/* A committer's own EpochAck settles its commit at once when nobody else
 * who stays is connected (bob's connection went: his grace period keeps
 * him online for sponsors, not for acks), so a join is not held up by
 * members who are away. */
static void test_self_ack_alone(void)
{
    net *n = net_open("self ack alone");
    int b = join(n, world.bob, 0);
    fkex_commit_options upd = { .update = 1 };
    room_set_away(n, n->p[b].v);
    n->p[b].mute = 1;
    uint64_t epoch = n->r->epoch;
    do_commit(n, 0, &upd, NULL);
    run(n);
    CHECK(n->r->epoch == epoch + 1 && fkex_ratchet_epoch(n->p[0].st) == epoch + 1);
    CHECK(relay_room_member(n->r, n->p[b].v) == 1);   /* still his place */
    net_close(n);
}

void suite_relay(void)
{
    RUN(test_envelopes);
    RUN(test_entries);
    RUN(test_auth_signatures);
    gke_world_open(&world, "relay world", "waters11");
    RUN(test_create_room);
    RUN(test_join_and_talk);
    RUN(test_batched_join);
    RUN(test_leave_path_slices);
    RUN(test_first_commit_wins);
    RUN(test_welcome_held);
    RUN(test_sponsor_timeout);
    RUN(test_challenged_sponsor_silent);
    RUN(test_challenge_stale);
    RUN(test_reconnect_replay);
    RUN(test_history_gone);
    RUN(test_restart);
    RUN(test_group_commit);
    RUN(test_refusals);
    RUN(test_set_descriptor);
    RUN(test_checkpointer);
    RUN(test_descriptor_declined);
    RUN(test_join_limits);
    RUN(test_join_refused);
    RUN(test_join_bounds);
    RUN(test_descriptor_holds_joins);
    RUN(test_replay_pages);
    RUN(test_room_failed);
    RUN(test_refused_candidate);
    RUN(test_restart_candidate);
    RUN(test_junk_update_removed);
    RUN(test_thief_heal);
    RUN(test_thief_first);
    RUN(test_relay_fork);
    RUN(test_stale_remove);
    RUN(test_kick_relay);
    RUN(test_self_ack_alone);
    gke_world_close(&world);
}
