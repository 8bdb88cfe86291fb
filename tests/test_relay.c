/*
 * tests/test_relay.c: the relay's envelopes (wire/relay_msg.h) and its core
 * (relay/room.h over relay/store.h), driving real ratchet members through
 * it as bench/room.c does in-process, but with every frame going through
 * the relay's routing and its SQLite store on a scratch file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sqlite3.h>
#include "gke_world.h"
#include "wire/relay_msg.h"
#include "relay/store.h"
#include "relay/room.h"
#include "relay/checkpoint.h"
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

/* The daemon's part: deliveries go to connected parties, the rest wait
 * in the store. */
static void route(net *n, const relay_out *out)
{
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
    n->last_code = relay_room_submit(n->r, n->p[from].v, b, len, n->now, &out);
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
        default: break;
        }
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
        if (c.nslices > 1 || (c.nslices == 1 && memcmp(c.slices, pt->v, 32) != 0))
            pt->foreign_slice = 1;
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

static void set_online(net *n, int p, int on)
{
    n->p[p].connected = on;
    relay_room_set_online(n->r, n->p[p].v, on);
}

static net *net_open(const char *seed)
{
    net *n = calloc(1, sizeof *n);
    uint8_t admin_pk[32], sig[64];
    fkex_ratchet_config cfg = { 0 };
    char err[256];
    if (!n)
        abort();
    test_rng(&n->rng, seed);
    snprintf(n->path, sizeof n->path, "%s/relay-%s.db", test_tmpdir(), seed);
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
    if (!n->r)
        abort();
    set_online(n, 0, 1);
    return n;
}

static void net_close(net *n)
{
    run(n);
    for (int i = 0; i < n->np; i++)
        fkex_ratchet_free(n->p[i].st);
    relay_room_free(n->r);
    relay_store_close(n->s);
    free(n->desc);
    sodium_memzero(n->admin_sk, sizeof n->admin_sk);
    free(n);
}

/* A new party and its JoinRequest in *out (not sent). */
static int join_make(net *n, const fkex_abe_key *key, fkex_gke_out *out)
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
static int join_start(net *n, const fkex_abe_key *key)
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
static int join(net *n, const fkex_abe_key *key, int s)
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

static void test_leave_star_slices(void)
{
    net *n = net_open("leave");
    int b = join(n, world.bob, 0), c = join(n, world.carol, 0), d = join(n, world.bob, 0);
    fkex_gke_out out;
    fkex_gke_out_init(&out);
    CHECK_OK(fkex_ratchet_propose_remove(n->p[b].st, fkex_ratchet_index(n->p[b].st), &out));
    absorb(n, b, &out);
    run(n);
    do_commit(n, c, NULL, NULL);    /* a star commit */
    run(n);
    CHECK(n->p[b].left);
    CHECK(n->r->nmembers == 3 && relay_room_member(n->r, n->p[b].v) < 0);
    CHECK(agree(n));
    /* each remaining member got its own slice and only it; the leaver none */
    CHECK(n->p[0].last_slices == 1 && n->p[d].last_slices == 1 && n->p[b].last_slices == 0);
    for (int i = 0; i < n->np; i++)
        CHECK(!n->p[i].foreign_slice);
    /* the one who left can no longer send to the room */
    uint8_t fake[64] = { FKEX_RMSG_APPLICATION, 1 };
    memcpy(fake + 2, n->room_id, 32);
    CHECK(submit(n, b, fake, sizeof fake) == FKEX_RELAY_E_NOT_ROUTABLE);
    say(n, d, "after");
    run(n);
    CHECK(n->p[0].messages == 1 && n->p[c].messages == 1 && n->p[b].messages == 0);
    net_close(n);
}

static void test_first_commit_wins(void)
{
    net *n = net_open("race");
    int b = join(n, world.bob, 0), c = join(n, world.carol, 0);
    fkex_commit_options upd = { .update = 1 };
    fkex_gke_out ob, oc;
    do_commit(n, b, &upd, &ob);
    do_commit(n, c, &upd, &oc);
    uint64_t epoch = n->r->epoch;
    CHECK(submit(n, b, ob.msgs[0].bytes, ob.msgs[0].len) == 0);
    CHECK(submit(n, c, oc.msgs[0].bytes, oc.msgs[0].len) == FKEX_RELAY_E_STALE);
    /* and it stays refused: it lost for good */
    CHECK(submit(n, c, oc.msgs[0].bytes, oc.msgs[0].len) == FKEX_RELAY_E_STALE);
    CHECK(submit(n, b, ob.msgs[0].bytes, ob.msgs[0].len) == FKEX_RELAY_E_STALE);
    fkex_gke_out_clear(&ob);
    fkex_gke_out_clear(&oc);
    run(n);
    CHECK(n->r->epoch == epoch + 1 && agree(n));
    say(n, c, "still here");
    run(n);
    CHECK(n->p[0].messages == 1 && n->p[b].messages == 1);
    net_close(n);
}

static void test_welcome_held(void)
{
    net *n = net_open("held");
    int b = join(n, world.bob, 0);
    /* carol's Welcome reaches the relay before its commit: held */
    int c = join_start(n, world.carol);
    run(n);
    CHECK(n->p[0].admitted == 1);
    fkex_gke_out o;
    uint64_t held = 0;
    do_commit(n, 0, NULL, &o);
    CHECK(o.nmsgs == 2);
    CHECK(submit(n, 0, o.msgs[1].bytes, o.msgs[1].len) == 0 && n->last_seq == 0);
    CHECK_OK(relay_store_held_count(n->s, n->room_id, &held));
    CHECK(held == 1 && n->qtail == 0);
    CHECK(submit(n, 0, o.msgs[0].bytes, o.msgs[0].len) == 0);
    CHECK_OK(relay_store_held_count(n->s, n->room_id, &held));
    CHECK(held == 0);
    fkex_gke_out_clear(&o);
    run(n);
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
    CHECK(submit(n, 0, o.msgs[0].bytes, o.msgs[0].len) == FKEX_RELAY_E_STALE);
    CHECK_OK(relay_store_held_count(n->s, n->room_id, &held));
    CHECK(held == 0);
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
    CHECK(relay_room_tick(n->r, n->now + RELAY_SPONSOR_TIMEOUT_MS - 1, &out) == 0 && out.n == 0);
    n->now += RELAY_SPONSOR_TIMEOUT_MS;
    CHECK(relay_room_tick(n->r, n->now, &out) == 0);
    CHECK(out.n == 1 && memcmp(out.d[0].to, n->p[b].v, 32) == 0);
    route(n, &out);
    relay_out_clear(&out);
    run(n);
    CHECK(n->p[b].admitted == 1);
    do_commit(n, b, NULL, NULL);
    run(n);
    CHECK(n->p[c].joined);
    set_online(n, c, 1);
    /* alice catches up from the log: the JoinRequest she sat on, the commit */
    n->p[0].mute = 0;
    CHECK(relay_room_replay(n->r, n->p[0].v, n->p[0].last_seq, 0, &out) == 0);
    CHECK(out.n >= 2);
    route(n, &out);
    relay_out_clear(&out);
    run(n);
    CHECK(agree(n) && n->r->nmembers == 3);
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
    crypto_hash_sha256(n->p[p].sent[n->p[p].nsent++ % 16], out->msgs[0].bytes, out->msgs[0].len);
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
    CHECK(relay_room_submit(n->r, n->p[0].v, m[0].msgs[0].bytes, m[0].msgs[0].len, n->now, &out[0]) == 0);
    /* refused inside its step (a non-member's broadcast): its savepoint is undone */
    CHECK(relay_room_submit(n->r, stranger, m[1].msgs[0].bytes, m[1].msgs[0].len, n->now, &out[1]) ==
          FKEX_RELAY_E_NOT_ROUTABLE);
    CHECK(relay_room_submit(n->r, n->p[b].v, m[1].msgs[0].bytes, m[1].msgs[0].len, n->now, &out[2]) == 0);
    CHECK(relay_room_submit(n->r, n->p[0].v, m[2].msgs[0].bytes, m[2].msgs[0].len, n->now, &out[3]) == 0);
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
    CHECK(relay_room_submit(n->r, n->p[b].v, junk, sizeof junk, 0, &out) == FKEX_RELAY_E_BAD_FRAME);
    /* a message for another room */
    uint8_t other[64] = { FKEX_RMSG_APPLICATION, 1 };
    CHECK(relay_room_submit(n->r, n->p[b].v, other, sizeof other, 0, &out) ==
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
    CHECK(relay_room_set_descriptor(n->r, forged, lf, &out) == FKEX_RELAY_E_BAD_DESCRIPTOR);
    CHECK(relay_room_set_descriptor(n->r, v1, l1, &out) == FKEX_RELAY_E_BAD_DESCRIPTOR);
    CHECK(relay_room_set_descriptor(n->r, v2, l2 - 1, &out) == FKEX_RELAY_E_BAD_DESCRIPTOR);
    CHECK(relay_room_pending_due(n->r, 1000, to, &d, &len) == 0);
    CHECK(relay_room_set_descriptor(n->r, v2, l2, &out) == 0);
    CHECK(relay_room_set_descriptor(n->r, v2, l2, &out) == FKEX_RELAY_E_BAD_DESCRIPTOR);
    /* kept across a restart */
    relay_room_free(n->r);
    CHECK_OK(relay_room_load(&n->r, n->s, n->room_id));
    set_online(n, 0, 1);
    set_online(n, b, 1);
    /* alice's turn, then (no commit within the sponsor timeout) bob's */
    CHECK(relay_room_pending_due(n->r, 1000, to, &d, &len) == 1);
    CHECK(memcmp(to, n->p[0].v, 32) == 0 && len == l2 && memcmp(d, v2, l2) == 0);
    CHECK(relay_room_pending_due(n->r, 1001, to, &d, &len) == 0);
    CHECK(relay_room_pending_due(n->r, 1000 + RELAY_SPONSOR_TIMEOUT_MS, to, &d, &len) == 1);
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
    CHECK(n->last_code == 0 && n->r->epoch == 2 && fkex_ratchet_epoch(n->p[0].st) == 2);
    CHECK(!fkex_ratchet_is_member(n->p[b].st));
    uint8_t *stored = NULL;
    size_t slen = 0;
    CHECK_OK(relay_store_room_get(n->s, n->room_id, NULL, NULL, &stored, &slen));
    CHECK(slen == l2 && memcmp(stored, v2, l2) == 0);
    CHECK(relay_room_pending_due(n->r, 10 * RELAY_SPONSOR_TIMEOUT_MS, to, &d, &len) == 0);
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
    CHECK(relay_room_submit(n->r, n->p[c].v, other, reqlen, n->now, &out) == FKEX_RELAY_E_BUSY);
    CHECK(out.why && strstr(out.why, "too many joins"));
    CHECK(n->r->next_seq == next && n->r->njoins == 1);
    /* larger than the cap: refused before anything is decoded */
    uint8_t *big = calloc(1, RELAY_JOIN_REQUEST_MAX + 1);
    memcpy(big, req, reqlen);
    CHECK(relay_room_submit(n->r, n->p[c].v, big, RELAY_JOIN_REQUEST_MAX + 1, n->now, &out) ==
          FKEX_RELAY_E_BAD_FRAME);
    CHECK(out.why && strstr(out.why, "256 KiB"));
    free(big);
    free(other);

    /* alice comes back: the tick names her, and only now is a seq taken */
    set_online(n, 0, 1);
    CHECK(relay_room_tick(n->r, n->now, &out) == 0);
    CHECK(out.n == 1 && out.d[0].seq == next && n->r->next_seq == next + 1);
    route(n, &out);
    relay_out_clear(&out);
    run(n);
    CHECK(n->p[0].admitted == 1);

    /* a room holds max_joins: the next is refused, nothing stored */
    n->r->max_joins = 2;
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
    CHECK(relay_room_submit(n->r, n->p[0].v, (const uint8_t *)"x", 1, 0, &out) == FKEX_RELAY_E_INTERNAL);
    CHECK(out.why && strstr(out.why, "out of service"));
    CHECK(relay_room_tick(n->r, 0, &out) == FKEX_RELAY_E_INTERNAL);
    CHECK(relay_room_replay(n->r, n->p[b].v, 0, 0, &out) == FKEX_RELAY_E_INTERNAL);
    CHECK(relay_room_reload(n->r) != FKEX_OK && n->r->failed);
    relay_out_clear(&out);
    n->qhead = n->qtail = 0;
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

void suite_relay(void)
{
    RUN(test_envelopes);
    RUN(test_auth_signatures);
    gke_world_open(&world, "relay world");
    RUN(test_create_room);
    RUN(test_join_and_talk);
    RUN(test_batched_join);
    RUN(test_leave_star_slices);
    RUN(test_first_commit_wins);
    RUN(test_welcome_held);
    RUN(test_sponsor_timeout);
    RUN(test_reconnect_replay);
    RUN(test_history_gone);
    RUN(test_restart);
    RUN(test_group_commit);
    RUN(test_refusals);
    RUN(test_set_descriptor);
    RUN(test_checkpointer);
    RUN(test_join_limits);
    RUN(test_replay_pages);
    RUN(test_room_failed);
    gke_world_close(&world);
}
