/*
 * bench/relay_members.c: ratchet members over src/net (bench/relay_members.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "bench.h"
#include "relay_members.h"
#include "wire/relay_msg.h"

static void noop_timer(uv_timer_t *t)
{
    (void)t;
}

/* One turn of the loop, at most ~5 ms when nothing happens. */
static void turn(rm_room *r)
{
    uv_timer_start(&r->waker, noop_timer, 5, 0);
    uv_run(&r->loop, UV_RUN_ONCE);
}

static void send_env(rm_member *p, const fkex_relay_msg *m)
{
    fkex_writer w;
    fkex_writer_init(&w);
    fkex_relay_msg_encode(&w, m);
    if (!w.failed && p->c)
        (void)fkex_conn_send(p->c, w.buf, w.len);
    fkex_writer_free(&w);
}

static void rejoin(rm_member *p);

static void submit(rm_member *p, const uint8_t *b, size_t len)
{
    fkex_relay_msg m = { 0 };
    m.kind = FKEX_RELAY_SUBMIT;
    memcpy(m.room_id, p->room->room_id, 32);
    m.seq = ++p->client_seq;
    m.data = b;
    m.datalen = len;
    send_env(p, &m);
    if (len > 0 && b[0] == FKEX_RMSG_COMMIT)
        p->commit_cseq = m.seq;   /* dropped if the relay refuses it */
}

/* Events into flags; messages to the relay (EpochAcks included). A LOST
 * member re-enters the room, as the chat client does. */
static void absorb(rm_member *p, fkex_gke_out *out)
{
    int lost = 0;
    for (size_t i = 0; i < out->nevents; i++)
        switch (out->events[i].kind) {
        case FKEX_GKE_EV_JOINED:
            p->joined = 1;
            p->joined_at = bench_now_ms();
            break;
        case FKEX_GKE_EV_EPOCH:
            /* An Update of ours that settled rotated V; the relay re-bound
             * the session to it, and a reconnection must name it. */
            fkex_ratchet_leaf_key(p->v, p->st);
            break;
        case FKEX_GKE_EV_LOST:
            lost = p->lost = 1;
            p->lost_at = bench_now_ms();
            p->admit_at = 0;
            p->joined = 0;
            break;
        case FKEX_GKE_EV_LEFT: p->left = 1; break;
        case FKEX_GKE_EV_ABORTED: p->aborted = 1; break;
        case FKEX_GKE_EV_ADMITTED:
            /* A commit moves the epoch, and joins challenged in the old
             * one must start again: a wave is committed whole. */
            if (++p->admitted >= p->commit_at) {
                p->want_commit = 1;
                p->admitted = 0;
            }
            break;
        default: break;
        }
    for (size_t i = 0; i < out->nmsgs && !lost; i++)
        submit(p, out->msgs[i].bytes, out->msgs[i].len);
    fkex_gke_out_clear(out);
    if (lost)
        rejoin(p);
}

/* The sponsor commits what it has: admissions and proposed removals.
 * FKEX_ERR_UNEXPECTED: nothing, or its last commit is still out. */
static void maybe_commit(rm_member *p)
{
    fkex_gke_out out;
    if (!p->sponsor || !p->want_commit || !p->st)
        return;
    fkex_gke_out_init(&out);
    if (fkex_ratchet_commit(p->st, NULL, &p->room->rng, &out) == FKEX_OK)
        p->want_commit = 0;
    absorb(p, &out);
}

/* What a relay swapping this member's slice would do: one byte of the
 * slice's HPKE ciphertext flipped. 0 if the commit (this member's view of
 * it) had a slice. */
static int corrupt_slice(uint8_t *commit, size_t len)
{
    fkex_rmsg_commit c;
    if (fkex_rmsg_commit_decode(&c, commit, len) != FKEX_OK || c.dist != FKEX_DIST_PATH ||
        c.nslices != 1)
        return -1;
    commit[(size_t)(c.slices - commit) + 4 + 32] ^= 0x01;   /* node || enc || ct: ct's first byte */
    return 0;
}

static fkex_ratchet_config config(const rm_room *r, int i);

/* A rejoiner's descriptor (GET_DESCRIPTOR): checked, then a fresh
 * pseudonym, its JoinRequest held until READY, and HELLO with the new V. */
static void on_descriptor(rm_member *p, const fkex_relay_msg *m)
{
    rm_room *r = p->room;
    fkex_rmsg_descriptor d;
    fkex_ratchet_config cfg = config(r, p->slot);
    fkex_relay_msg h = { 0 };
    p->want_desc = 0;
    if (fkex_room_descriptor_check(&d, r->room_id, m->data, m->datalen) != FKEX_OK ||
        m->datalen != r->desclen || memcmp(m->data, r->desc, r->desclen) != 0 ||
        fkex_ratchet_join(&p->st, &cfg, &r->rng, &p->pending) != FKEX_OK) {
        p->errors++;
        p->aborted = 1;
        return;
    }
    fkex_ratchet_leaf_key(p->v, p->st);
    h.kind = FKEX_RELAY_HELLO;
    memcpy(h.room_id, r->room_id, 32);
    h.seq = p->last_seq;
    h.has_leaf = 1;
    memcpy(h.leaf, p->v, 32);
    send_env(p, &h);
}

static void on_frame(fkex_conn *c, const uint8_t *frame, size_t len)
{
    rm_member *p = fkex_conn_data(c);
    fkex_relay_msg m;
    if (fkex_relay_msg_decode(&m, frame, len) != FKEX_OK) {
        p->errors++;
        return;
    }
    switch (m.kind) {
    case FKEX_RELAY_NONCE: {
        fkex_relay_msg a = { 0 };
        a.kind = FKEX_RELAY_AUTH;
        if (p->st && fkex_ratchet_relay_auth(a.sig, p->st, m.nonce) == FKEX_OK)
            send_env(p, &a);
        break;
    }
    case FKEX_RELAY_PING: {   /* the relay's keepalive */
        fkex_relay_msg pong = { .kind = FKEX_RELAY_PONG, .cookie = m.cookie };
        send_env(p, &pong);
        break;
    }
    case FKEX_RELAY_READY:
        p->ready = 1;
        p->ready_at = bench_now_ms();
        absorb(p, &p->pending);
        break;
    case FKEX_RELAY_DESCRIPTOR:
        if (p->want_desc && !p->st)
            on_descriptor(p, &m);
        break;
    case FKEX_RELAY_DELIVER: {
        fkex_gke_out out;
        uint8_t *copy = NULL;
        const uint8_t *data = m.data;
        if (m.seq <= p->last_seq || !p->st)
            break;   /* seen, or a LOST member's old session still draining */
        p->last_seq = m.seq;
        if (!p->joined && !p->admit_at)
            p->admit_at = bench_now_ms();
        if (p->corrupt && m.datalen > 0 && m.data[0] == FKEX_RMSG_COMMIT &&
            (copy = malloc(m.datalen)) != NULL) {
            memcpy(copy, m.data, m.datalen);
            if (corrupt_slice(copy, m.datalen) == 0) {
                p->corrupt = 0;
                data = copy;
            }
        }
        fkex_gke_out_init(&out);
        /* Our own broadcasts come back too and are refused: harmless. */
        if (fkex_ratchet_receive(p->st, data, m.datalen, &p->room->rng, &out) != FKEX_OK)
            p->refused++;
        free(copy);
        absorb(p, &out);
        /* A proposal to commit. */
        if (m.datalen > 0 && m.data[0] == FKEX_RMSG_REMOVE)
            p->want_commit = 1;
        maybe_commit(p);
        break;
    }
    case FKEX_RELAY_ERROR:
        /* A refused commit is dropped, so that this member may commit
         * again (version 2: no refusal leaves a member unable to). */
        if (p->st && m.seq != 0 && m.seq == p->commit_cseq) {
            fkex_ratchet_drop_commit(p->st);
            p->commit_cseq = 0;
            p->commits_refused++;
            if (p->sponsor)
                p->want_commit = 1;
        } else {
            p->errors++;
        }
        break;
    default: break;
    }
}

static void redial(rm_member *p);

static void on_close(fkex_conn *c, const char *why)
{
    rm_member *p = fkex_conn_data(c);
    (void)why;
    p->c = NULL;
    p->ready = 0;
    p->closed = 1;
    if (p->rejoining) {
        p->rejoining = 0;
        redial(p);
    }
}

static void on_connected(fkex_conn *c, int status)
{
    (void)c;
    (void)status;
}

/* A new connection for a rejoiner: GET_DESCRIPTOR first (on_descriptor). */
static void redial(rm_member *p)
{
    fkex_net_limits lim = { FKEX_RELAY_ENVELOPE_MAX, 64u << 20 };
    fkex_relay_msg g = { 0 };
    char err[128];
    if (fkex_conn_connect(&p->c, &p->room->loop, p->room->addr, &lim, p->room->tls, on_connected,
                          err) != FKEX_OK) {
        p->aborted = 1;
        return;
    }
    fkex_conn_set(p->c, on_frame, on_close, p);
    p->closed = 0;
    p->want_desc = 1;
    g.kind = FKEX_RELAY_GET_DESCRIPTOR;
    memcpy(g.room_id, p->room->room_id, 32);
    send_env(p, &g);
}

/* FKEX_GKE_EV_LOST: the state is gone; re-enter through admission under a
 * fresh pseudonym on a new connection, once the old one has closed
 * (src/chat/client.c rejoin, src/chat/link.c chat_link_rejoin). */
static void rejoin(rm_member *p)
{
    fkex_ratchet_free(p->st);
    p->st = NULL;
    fkex_gke_out_clear(&p->pending);
    p->want_commit = 0;
    p->commit_cseq = 0;
    p->corrupt = 0;
    if (p->c) {
        p->rejoining = 1;
        fkex_conn_close(p->c, "re-entering the room");
    } else {
        redial(p);
    }
}

static fkex_err dial(rm_member *p, uint64_t after, char err[128])
{
    fkex_net_limits lim = { FKEX_RELAY_ENVELOPE_MAX, 64u << 20 };
    fkex_relay_msg h = { 0 };
    p->closed = p->ready = 0;
    if (fkex_conn_connect(&p->c, &p->room->loop, p->room->addr, &lim, p->room->tls, on_connected,
                          err) != FKEX_OK)
        return FKEX_ERR_IO;
    fkex_conn_set(p->c, on_frame, on_close, p);
    p->last_seq = after;
    h.kind = FKEX_RELAY_HELLO;
    memcpy(h.room_id, p->room->room_id, 32);
    h.seq = after;
    h.has_leaf = 1;
    memcpy(h.leaf, p->v, 32);
    send_env(p, &h);
    return FKEX_OK;
}

static rm_member *member_new(rm_room *r)
{
    rm_member *p;
    if (r->n == RM_MAX || !(p = calloc(1, sizeof *p)))
        return NULL;
    p->room = r;
    fkex_gke_out_init(&p->pending);
    p->slot = r->n;
    r->m[r->n++] = p;
    return p;
}

static void member_free(rm_member *p)
{
    fkex_gke_out_clear(&p->pending);
    if (p->st)
        fkex_ratchet_free(p->st);
    free(p);
}

static fkex_ratchet_config config(const rm_room *r, int i)
{
    fkex_ratchet_config cfg = { 0 };
    cfg.key = r->keys[i % 2];
    memcpy(cfg.room_id, r->room_id, 32);
    cfg.descriptor = r->desc;
    cfg.descriptor_len = r->desclen;
    return cfg;
}

/* Waits for cond over the members, bounded. */
static int wait_until(rm_room *r, int (*cond)(rm_room *, void *), void *arg, unsigned timeout_ms)
{
    double deadline = bench_now_ms() + timeout_ms;
    while (!cond(r, arg)) {
        if (bench_now_ms() > deadline)
            return -1;
        turn(r);
    }
    return 0;
}

fkex_err rm_open(rm_room *r, const char *addr, const fkex_tls *tls, const char *policy,
                 const fkex_key *k0, const fkex_key *k1, char err[128])
{
    uint8_t admin_pk[32], admin_sk[64];
    fkex_relay_msg m = { 0 }, reply;
    fkex_writer w;
    uint8_t *rep = NULL;
    size_t replen = 0;
    fkex_err e;
    rm_member *p;

    memset(r, 0, sizeof *r);
    snprintf(r->addr, sizeof r->addr, "%s", addr);
    r->tls = tls;
    r->keys[0] = k0;
    r->keys[1] = k1;
    fkex_rng_init_system(&r->rng);
    if (uv_loop_init(&r->loop) != 0 || uv_timer_init(&r->loop, &r->waker) != 0) {
        snprintf(err, 128, "cannot start an event loop");
        return FKEX_ERR_IO;
    }
    fkex_sign_keypair(admin_pk, admin_sk, &r->rng);
    e = fkex_room_descriptor_create(&r->desc, &r->desclen, "bench", policy, 1, 0, admin_sk);
    fkex_room_id(r->room_id, admin_pk, (const uint8_t *)"bench", 5);
    fkex_ratchet_config cfg = config(r, 0);
    if (e != FKEX_OK || !(p = member_new(r)) ||
        (e = fkex_ratchet_create(&p->st, &cfg, &r->rng)) != FKEX_OK) {
        sodium_memzero(admin_sk, sizeof admin_sk);
        snprintf(err, 128, "cannot found the room: %s", fkex_strerror(e));
        return e ? e : FKEX_ERR_NO_MEMORY;
    }
    p->sponsor = 1;
    p->commit_at = 1;
    fkex_ratchet_leaf_key(p->v, p->st);
    m.kind = FKEX_RELAY_CREATE_ROOM;
    m.data = r->desc;
    m.datalen = r->desclen;
    memcpy(m.leaf, p->v, 32);
    e = fkex_relay_create_sign(m.sig, admin_sk, r->room_id, p->v);
    sodium_memzero(admin_sk, sizeof admin_sk);
    if (e != FKEX_OK)
        return e;
    fkex_writer_init(&w);
    fkex_relay_msg_encode(&w, &m);
    e = w.failed ? FKEX_ERR_NO_MEMORY
                 : fkex_net_request(&rep, &replen, addr, w.buf, w.len, NULL, tls, 10000, err);
    fkex_writer_free(&w);
    if (e != FKEX_OK)
        return e;
    if (fkex_relay_msg_decode(&reply, rep, replen) != FKEX_OK || reply.kind != FKEX_RELAY_DESCRIPTOR) {
        free(rep);
        snprintf(err, 128, "the relay refused to create the room");
        return FKEX_ERR_IO;
    }
    free(rep);
    return rm_dial(r, 0, 1, 0, 10000, err);
}

static int all_joined(rm_room *r, void *arg)
{
    int from = *(int *)arg;
    for (int i = from; i < r->n; i++)
        if (!r->m[i]->joined && !r->m[i]->aborted)
            return 0;
    return 1;
}

fkex_err rm_grow(rm_room *r, int count, int wave, unsigned timeout_ms, char err[128])
{
    while (count > 0) {
        int from = r->n, k = count < wave ? count : wave;
        r->m[0]->commit_at = k;
        r->m[0]->admitted = 0;
        for (int j = 0; j < k; j++) {
            rm_member *p = member_new(r);
            fkex_ratchet_config cfg = config(r, r->n - 1);
            fkex_err e;
            if (!p) {
                snprintf(err, 128, "too many members (at most %d)", RM_MAX);
                return FKEX_ERR_ARGUMENT;
            }
            if ((e = fkex_ratchet_join(&p->st, &cfg, &r->rng, &p->pending)) != FKEX_OK) {
                snprintf(err, 128, "cannot start a join: %s", fkex_strerror(e));
                return e;
            }
            fkex_ratchet_leaf_key(p->v, p->st);
            if ((e = dial(p, 0, err)) != FKEX_OK)
                return e;
        }
        if (wait_until(r, all_joined, &from, timeout_ms) != 0) {
            snprintf(err, 128, "members %d..%d did not join in time", from, r->n - 1);
            return FKEX_ERR_IO;
        }
        for (int i = from; i < r->n; i++)
            if (r->m[i]->aborted) {
                snprintf(err, 128, "a join was aborted");
                return FKEX_ERR_IO;
            }
        count -= k;
    }
    r->m[0]->commit_at = 1;
    return FKEX_OK;
}

static int member_done(rm_room *r, void *arg)
{
    rm_member *p = arg;
    (void)r;
    return p->joined || p->aborted || p->closed;
}

static int member_left(rm_room *r, void *arg)
{
    rm_member *p = arg;
    (void)r;
    return p->left || p->closed;
}

static int member_closed(rm_room *r, void *arg)
{
    rm_member *p = arg;
    (void)r;
    return p->c == NULL;
}

fkex_err rm_join_timed(rm_room *r, double *ms, unsigned timeout_ms, char err[128])
{
    rm_member *p = member_new(r);
    fkex_ratchet_config cfg = config(r, r->n - 1);
    fkex_gke_out out;
    fkex_err e;
    double t0;
    if (!p) {
        snprintf(err, 128, "too many members");
        return FKEX_ERR_ARGUMENT;
    }
    t0 = bench_now_ms();
    if ((e = fkex_ratchet_join(&p->st, &cfg, &r->rng, &p->pending)) != FKEX_OK) {
        snprintf(err, 128, "cannot start a join: %s", fkex_strerror(e));
        goto out;
    }
    fkex_ratchet_leaf_key(p->v, p->st);
    if ((e = dial(p, 0, err)) != FKEX_OK)
        goto out;
    if (wait_until(r, member_done, p, timeout_ms) != 0 || !p->joined) {
        snprintf(err, 128, "the joiner did not join in time");
        e = FKEX_ERR_IO;
        goto out;
    }
    *ms = bench_now_ms() - t0;
    /* Leave again: propose our removal; the sponsor commits it. */
    fkex_gke_out_init(&out);
    if ((e = fkex_ratchet_propose_remove(p->st, fkex_ratchet_index(p->st), &out)) != FKEX_OK) {
        fkex_gke_out_clear(&out);
        snprintf(err, 128, "cannot propose to leave: %s", fkex_strerror(e));
        goto out;
    }
    absorb(p, &out);
    if (wait_until(r, member_left, p, timeout_ms) != 0 || !p->left) {
        snprintf(err, 128, "the joiner's removal was not committed in time");
        e = FKEX_ERR_IO;
    }
out:
    if (p->c)
        fkex_conn_close(p->c, "done");
    (void)wait_until(r, member_closed, p, 5000);
    r->n--;
    member_free(p);
    return e;
}

static int recovered(rm_room *r, void *arg)
{
    rm_member *p = arg;
    (void)r;
    return (p->lost && p->joined) || p->aborted;
}

typedef struct {
    rm_member *a, *b;
    uint64_t epoch;
    uint32_t n;
} pair_at;

/* Both members are past `epoch` with n members (when n is nonzero). */
static int pair_settled(rm_room *r, void *arg)
{
    pair_at *w = arg;
    rm_member *q[2] = { w->a, w->b };
    (void)r;
    for (int i = 0; i < 2; i++)
        if (!q[i]->st || !q[i]->joined || fkex_ratchet_epoch(q[i]->st) <= w->epoch ||
            (w->n && fkex_ratchet_members(q[i]->st) != w->n))
            return 0;
    return 1;
}

fkex_err rm_recover_timed(rm_room *r, int victim, int committer, double *lost_ms, double *commit_ms,
                          unsigned timeout_ms, char err[128])
{
    rm_member *v = r->m[victim], *t = r->m[committer];
    fkex_commit_options upd = { 0 };
    fkex_gke_out out;
    uint8_t old_v[32], k[32];
    uint32_t n, old = UINT32_MAX;
    pair_at w;
    fkex_err e;
    double t0;
    if (!v->st || !t->st || !v->c || !t->c || v->sponsor || t->sponsor || victim == committer) {
        snprintf(err, 128, "the victim and the committer must be two connected members, not the sponsor");
        return FKEX_ERR_ARGUMENT;
    }
    memcpy(old_v, v->v, 32);
    n = fkex_ratchet_members(v->st);
    v->corrupt = 1;
    v->lost = v->aborted = 0;
    upd.update = 1;
    fkex_gke_out_init(&out);
    t0 = bench_now_ms();
    if ((e = fkex_ratchet_commit(t->st, &upd, &r->rng, &out)) != FKEX_OK) {
        fkex_gke_out_clear(&out);
        v->corrupt = 0;
        snprintf(err, 128, "cannot commit an Update: %s", fkex_strerror(e));
        return e;
    }
    w.a = v;
    w.b = t;
    w.epoch = fkex_ratchet_epoch(t->st);
    absorb(t, &out);   /* the commit, submitted */
    if (wait_until(r, recovered, v, timeout_ms) != 0 || !v->joined) {
        snprintf(err, 128, "the victim did not %s in time (corrupt %d, refused %u, errors %u)",
                 v->lost ? "join again" : "lose its place", v->corrupt, v->refused, v->errors);
        return FKEX_ERR_IO;
    }
    *lost_ms = v->joined_at - v->lost_at;
    *commit_ms = v->joined_at - t0;
    /* The old leaf stays in the roster until the relay's GONE; here the
     * victim proposes its removal at once and the sponsor commits it. */
    w.n = 0;
    if (wait_until(r, pair_settled, &w, timeout_ms) != 0) {
        snprintf(err, 128, "the committer's Update did not settle");
        return FKEX_ERR_IO;
    }
    for (uint32_t j = 0; j < fkex_ratchet_members(v->st); j++)
        if (fkex_ratchet_member_key(k, v->st, j) == 0 && memcmp(k, old_v, 32) == 0)
            old = j;
    if (old == UINT32_MAX) {
        snprintf(err, 128, "the victim's old leaf is not in the roster");
        return FKEX_ERR_IO;
    }
    fkex_gke_out_init(&out);
    if ((e = fkex_ratchet_propose_remove(v->st, old, &out)) != FKEX_OK) {
        fkex_gke_out_clear(&out);
        snprintf(err, 128, "cannot propose the old leaf's removal: %s", fkex_strerror(e));
        return e;
    }
    w.epoch = fkex_ratchet_epoch(v->st);
    w.n = n;
    absorb(v, &out);
    if (wait_until(r, pair_settled, &w, timeout_ms) != 0) {
        snprintf(err, 128, "the old leaf's removal was not committed in time");
        return FKEX_ERR_IO;
    }
    return FKEX_OK;
}

static int all_at(rm_room *r, void *arg)
{
    uint64_t head = *(uint64_t *)arg;
    for (int i = 0; i < r->n; i++)
        if (r->m[i]->c && r->m[i]->last_seq < head)
            return 0;
    return 1;
}

fkex_err rm_settle(rm_room *r, uint64_t head, unsigned timeout_ms, char err[128])
{
    if (wait_until(r, all_at, &head, timeout_ms) != 0) {
        snprintf(err, 128, "the members did not catch up with seq %llu", (unsigned long long)head);
        return FKEX_ERR_IO;
    }
    return FKEX_OK;
}

void rm_hang_up(rm_room *r)
{
    for (int i = 0; i < r->n; i++)
        if (r->m[i]->c)
            fkex_conn_close(r->m[i]->c, "hang up");
    for (int i = 0; i < r->n; i++)
        (void)wait_until(r, member_closed, r->m[i], 5000);
}

typedef struct {
    int from, to;
} range;

static int all_ready(rm_room *r, void *arg)
{
    range *g = arg;
    for (int i = g->from; i < g->to; i++)
        if (!r->m[i]->ready)
            return 0;
    return 1;
}

fkex_err rm_dial(rm_room *r, int from, int to, uint64_t after, unsigned timeout_ms, char err[128])
{
    range g = { from, to };
    for (int i = from; i < to; i++) {
        fkex_err e = dial(r->m[i], after, err);
        if (e != FKEX_OK)
            return e;
    }
    if (wait_until(r, all_ready, &g, timeout_ms) != 0) {
        snprintf(err, 128, "members %d..%d were not READY in time", from, to - 1);
        return FKEX_ERR_IO;
    }
    return FKEX_OK;
}

void rm_run(rm_room *r, volatile int *stop)
{
    while (!stop || !*stop)
        turn(r);
}

void rm_run_for(rm_room *r, unsigned ms)
{
    double end = bench_now_ms() + ms;
    while (bench_now_ms() < end)
        turn(r);
}

fkex_err rm_after_fork(rm_room *r)
{
    for (int i = 0; i < r->n; i++) {
        r->m[i]->c = NULL;
        r->m[i]->ready = 0;
    }
    fkex_rng_init_system(&r->rng);
    if (uv_loop_init(&r->loop) != 0 || uv_timer_init(&r->loop, &r->waker) != 0)
        return FKEX_ERR_IO;
    return FKEX_OK;
}

void rm_close(rm_room *r)
{
    rm_hang_up(r);
    uv_close((uv_handle_t *)&r->waker, NULL);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&r->loop);
    for (int i = 0; i < r->n; i++)
        member_free(r->m[i]);
    free(r->desc);
    r->n = 0;
}
