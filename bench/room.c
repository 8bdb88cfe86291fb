/*
 * bench/room.c: the in-process room of bench/room.h: parties, a relay and
 * an adversary over one FIFO queue.
 */
#include <stdlib.h>
#include <time.h>
#include "room.h"

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A party's clock starts here. The parties share one heap, which no two
 * of them would in a real room: the chunks that others freed are sorted
 * into glibc's bins by the next large allocation, whoever makes it (a
 * joiner's Welcome at 1000 members paid 0.8 to 1.7 ms for it, four times
 * its tree's hash). One large allocation outside the clocks sorts them
 * first, so that each party is charged for its own allocations only. */
static double party_clock(void)
{
    void *volatile settle = malloc(96u << 10);
    free(settle);
    return cpu_ms();
}

static void push(room *r, int party, const uint8_t *bytes, size_t len)
{
    if (r->qlen == r->qcap) {
        size_t ncap = r->qcap ? 2 * r->qcap : 64;
        room_frame *q = malloc(ncap * sizeof *q);
        if (!q)
            abort();
        for (size_t i = 0; i < r->qlen; i++)
            q[i] = r->queue[(r->qhead + i) % r->qcap];
        free(r->queue);
        r->queue = q;
        r->qcap = ncap;
        r->qhead = 0;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        abort();
    memcpy(copy, bytes, len);
    r->queue[(r->qhead + r->qlen++) % r->qcap] = (room_frame){ party, copy, len };
    r->fanout_bytes += len;
}

static void record(room *r, const uint8_t *bytes, size_t len)
{
    if (!r->record)
        return;
    room_frame *t = realloc(r->transcript, (r->ntranscript + 1) * sizeof *t);
    uint8_t *copy = malloc(len ? len : 1);
    if (!t || !copy)
        abort();
    memcpy(copy, bytes, len);
    r->transcript = t;
    r->transcript[r->ntranscript++] = (room_frame){ -1, copy, len };
}

static int party_by_v(const room *r, const uint8_t v[32])
{
    for (int i = 0; i < r->nparties; i++)
        if (memcmp(r->parties[i].v, v, 32) == 0)
            return i;
    return -1;
}

static int party_by_joiner(const room *r, const uint8_t id[32])
{
    for (int i = 0; i < r->nparties; i++)
        if (r->parties[i].st && memcmp(r->parties[i].joiner_id, id, 32) == 0)
            return i;
    return -1;
}

static int sponsor(const room *r)
{
    for (int i = 0; i < r->nroster; i++)
        if (r->parties[r->roster[i]].online)
            return r->roster[i];
    return -1;
}

static void broadcast(room *r, const uint8_t *bytes, size_t len)
{
    for (int i = 0; i < r->nroster; i++)
        push(r, r->roster[i], bytes, len);
}

/* The relay passes on every commit for its epoch (a candidate: PROTOCOL.md,
 * version 2), each member getting its own view, and keeps it until an
 * EpochAck settles the epoch. */
static void relay_commit(room *r, const uint8_t *bytes, size_t len)
{
    fkex_rmsg_commit c;
    if (fkex_rmsg_commit_decode(&c, bytes, len) != FKEX_OK || c.epoch != r->epoch)
        return;   /* malformed or stale: dropped */
    uint32_t *place = malloc(((size_t)r->nroster + 1) * sizeof *place);
    if (!place || fkex_rmsg_commit_places(&c, (uint32_t)r->nroster, place) != FKEX_OK)
        abort();
    for (int i = 0; i < r->nroster; i++) {
        uint8_t *view;
        size_t vlen;
        if (fkex_rmsg_commit_view(&view, &vlen, bytes, &c, place[i]) != FKEX_OK)
            abort();
        push(r, r->roster[i], view, vlen);
        free(view);
    }
    free(place);
    room_frame *k = realloc(r->cands, (r->ncands + 1) * sizeof *k);
    uint8_t *copy = malloc(len);
    if (!k || !copy)
        abort();
    memcpy(copy, bytes, len);
    r->cands = k;
    r->cands[r->ncands++] = (room_frame){ -1, copy, len };
}

static void settle(room *r, const fkex_rmsg_commit *c, const uint8_t hash[32], const uint8_t *ack,
                   size_t acklen);
static void settle_self_acked(room *r);

/* The commit of the first EpochAck (from a member other than its
 * committer, unless nobody else stays) settles the epoch: SETTLED to the
 * old roster, the roster moves as the members' does (gke/roster.c:
 * removals, highest first, are filled by the last member; joiners go
 * last; an Update re-binds its committer's V), its Welcomes are released,
 * and the ack goes to the new roster (later ones for that commit do not). */
static void relay_epoch_ack(room *r, int from, const uint8_t *bytes, size_t len)
{
    fkex_rmsg_epoch_ack ack;
    fkex_rmsg_commit c;
    uint8_t hash[32];
    size_t k;
    if (fkex_rmsg_epoch_ack_decode(&ack, bytes, len) != FKEX_OK)
        return;
    if (ack.epoch == r->epoch && r->nwon && memcmp(ack.commit_hash, r->won[r->nwon - 1], 32) == 0)
        return;   /* the settling ack was passed on; the others are not */
    if (ack.epoch != r->epoch + 1)
        return;
    for (k = 0; k < r->ncands; k++) {
        if (fkex_rmsg_commit_decode(&c, r->cands[k].bytes, r->cands[k].len) != FKEX_OK)
            abort();
        crypto_hash_sha256(hash, r->cands[k].bytes, c.content_len);
        if (memcmp(hash, ack.commit_hash, 32) == 0)
            break;
    }
    if (k == r->ncands)
        return;
    if (r->roster[c.committer] == from && r->nroster - c.nremoves > 1) {
        /* Its committer's own: it settles only when nobody else who stays
         * is online (now, or once they go: room_run checks again). */
        uint8_t *copy = malloc(len);
        if (!copy)
            abort();
        memcpy(copy, bytes, len);
        free(r->self_ack);
        r->self_ack = copy;
        r->self_ack_len = len;
        settle_self_acked(r);
        return;
    }
    settle(r, &c, hash, bytes, len);
}

/* Settles the epoch on candidate c (hash), acknowledged by ack. */
static void settle(room *r, const fkex_rmsg_commit *c, const uint8_t hash[32], const uint8_t *ack,
                   size_t acklen)
{
    fkex_rmsg_settled settled = { 0 };
    fkex_writer w;
    memcpy(settled.room_id, r->room_id, 32);
    settled.epoch = r->epoch;
    memcpy(settled.commit_hash, hash, 32);
    fkex_writer_init(&w);
    fkex_rmsg_settled_encode(&w, &settled);
    if (w.failed)
        abort();
    broadcast(r, w.buf, w.len);
    fkex_writer_free(&w);
    r->epoch++;
    int *next = malloc(((size_t)r->nroster + c->nadds + 1) * sizeof *next), n = r->nroster;
    if (!next)
        abort();
    if (c->has_update)
        memcpy(r->parties[r->roster[c->committer]].v, c->update_sig_pk, 32);
    memcpy(next, r->roster, (size_t)n * sizeof *next);
    for (uint32_t x = c->nremoves; x-- > 0;)
        next[load32_be(c->removes + 4 * x)] = next[--n];
    for (uint32_t a = 0; a < c->nadds; a++) {
        int p = party_by_v(r, c->adds + 64 * a);
        if (p >= 0)
            next[n++] = p;
    }
    free(r->roster);
    r->roster = next;
    r->nroster = n;
    uint8_t (*won)[32] = realloc(r->won, (r->nwon + 1) * sizeof *won);
    if (!won)
        abort();
    r->won = won;
    memcpy(r->won[r->nwon++], hash, 32);
    for (size_t i = 0; i < r->ncands; i++)
        free(r->cands[i].bytes);
    r->ncands = 0;
    /* Release the Welcomes of this commit. */
    for (size_t i = 0; i < r->nheld;) {
        fkex_rmsg_welcome wel;
        if (fkex_rmsg_welcome_decode(&wel, r->held[i].bytes, r->held[i].len) == FKEX_OK &&
            memcmp(wel.commit_hash, hash, 32) == 0) {
            push(r, r->held[i].party, r->held[i].bytes, r->held[i].len);
            free(r->held[i].bytes);
            r->held[i] = r->held[--r->nheld];
        } else {
            i++;
        }
    }
    free(r->self_ack);
    r->self_ack = NULL;
    broadcast(r, ack, acklen);
}

/* Everything a party sends goes through here. */
static void relay(room *r, int from, const uint8_t *bytes, size_t len)
{
    fkex_rmsg_type type;
    uint8_t room_id[32];
    int to;
    record(r, bytes, len);
    r->parties[from].bytes_sent += len;
    if (fkex_rmsg_peek(&type, room_id, bytes, len) != FKEX_OK)
        return;
    switch (type) {
    case FKEX_RMSG_JOIN_REQUEST: {
        fkex_rmsg_join_request q;
        if (fkex_rmsg_join_request_decode(&q, bytes, len) != FKEX_OK || (to = sponsor(r)) < 0)
            return;
        r->sponsor_of[from] = to;
        push(r, to, bytes, len);
        break;
    }
    case FKEX_RMSG_CHALLENGE: {
        fkex_rmsg_challenge c;
        if (fkex_rmsg_challenge_decode(&c, bytes, len) == FKEX_OK &&
            (to = party_by_joiner(r, c.joiner_id)) >= 0)
            push(r, to, bytes, len);
        break;
    }
    case FKEX_RMSG_PROOF:
        if (r->sponsor_of[from] >= 0)
            push(r, r->sponsor_of[from], bytes, len);
        break;
    case FKEX_RMSG_JOIN_REFUSED: {
        fkex_rmsg_join_refused m;
        if (fkex_rmsg_join_refused_decode(&m, bytes, len) == FKEX_OK &&
            (to = party_by_joiner(r, m.joiner_id)) >= 0)
            push(r, to, bytes, len);
        break;
    }
    case FKEX_RMSG_WELCOME: {
        fkex_rmsg_welcome w;
        if (fkex_rmsg_welcome_decode(&w, bytes, len) != FKEX_OK ||
            (to = party_by_joiner(r, w.joiner_id)) < 0)
            return;
        for (size_t i = 0; i < r->nwon; i++)
            if (memcmp(r->won[i], w.commit_hash, 32) == 0) {
                push(r, to, bytes, len);
                return;
            }
        room_frame *h = realloc(r->held, (r->nheld + 1) * sizeof *h);
        uint8_t *copy = malloc(len);
        if (!h || !copy)
            abort();
        memcpy(copy, bytes, len);
        r->held = h;
        r->held[r->nheld++] = (room_frame){ to, copy, len };
        break;
    }
    case FKEX_RMSG_COMMIT:
        relay_commit(r, bytes, len);
        break;
    case FKEX_RMSG_EPOCH_ACK:
        relay_epoch_ack(r, from, bytes, len);
        break;
    default:
        broadcast(r, bytes, len);
    }
}

/* Records the events of one step in the party's log, routes its messages. */
static void absorb(room *r, int p, fkex_gke_out *out)
{
    room_party *pt = &r->parties[p];
    for (size_t i = 0; i < out->nevents; i++) {
        const fkex_gke_event *e = &out->events[i];
        switch (e->kind) {
        case FKEX_GKE_EV_JOINED:   pt->joined = 1; pt->epochs++; break;
        case FKEX_GKE_EV_EPOCH:    pt->epochs++; break;
        case FKEX_GKE_EV_ABORTED:  pt->aborted = 1; pt->abort_err = e->err; break;
        case FKEX_GKE_EV_LEFT:     pt->left = 1; pt->left_err = e->err; pt->online = 0; break;
        case FKEX_GKE_EV_LOST:     pt->lost = 1; pt->online = 0; break;
        case FKEX_GKE_EV_FORK:     pt->forks++; break;
        case FKEX_GKE_EV_MISBEHAVED: pt->accused++; break;
        case FKEX_GKE_EV_IMPERSONATED: pt->impersonated++; break;
        case FKEX_GKE_EV_ADMITTED: pt->admitted++; break;
        case FKEX_GKE_EV_MESSAGE:
            pt->messages++;
            pt->last_message_len = e->len < sizeof pt->last_message ? e->len : sizeof pt->last_message;
            memcpy(pt->last_message, e->data, pt->last_message_len);
            pt->last_sender = e->member;
            pt->last_message_epoch = e->epoch;
            break;
        default: break;
        }
    }
    for (size_t i = 0; i < out->nmsgs; i++)
        relay(r, p, out->msgs[i].bytes, out->msgs[i].len);
    fkex_gke_out_clear(out);
}

static fkex_err deliver(room *r, int p, const uint8_t *bytes, size_t len)
{
    room_party *pt = &r->parties[p];
    fkex_gke_out out;
    fkex_err err;
    if (!pt->st)
        return FKEX_ERR_UNEXPECTED;
    fkex_gke_out_init(&out);
    double t0 = party_clock();
    err = fkex_ratchet_receive(pt->st, bytes, len, &r->rng, &out);
    pt->cpu_ms += cpu_ms() - t0;
    if (err != FKEX_OK) {
        pt->refused++;
        pt->last_refusal = err;
    }
    absorb(r, p, &out);
    return err;
}

fkex_err room_inject(room *r, int p, const uint8_t *bytes, size_t len)
{
    return deliver(r, p, bytes, len);
}

/* A commit acknowledged by its committer alone settles once nobody else
 * who stays is online. */
static void settle_self_acked(room *r)
{
    fkex_rmsg_epoch_ack ack;
    fkex_rmsg_commit c;
    uint8_t hash[32];
    if (!r->self_ack || fkex_rmsg_epoch_ack_decode(&ack, r->self_ack, r->self_ack_len) != FKEX_OK)
        return;
    for (size_t k = 0; k < r->ncands; k++) {
        if (fkex_rmsg_commit_decode(&c, r->cands[k].bytes, r->cands[k].len) != FKEX_OK)
            abort();
        crypto_hash_sha256(hash, r->cands[k].bytes, c.content_len);
        if (memcmp(hash, ack.commit_hash, 32) == 0 && ack.epoch == r->epoch + 1) {
            /* Only if nobody else who stays is there to acknowledge it. */
            for (int i = 0, rm = 0; i < r->nroster; i++) {
                if ((uint32_t)rm < c.nremoves && load32_be(c.removes + 4 * rm) == (uint32_t)i) {
                    rm++;
                    continue;
                }
                if ((uint32_t)i != c.committer && r->parties[r->roster[i]].online)
                    return;
            }
            uint8_t *a = r->self_ack;
            size_t alen = r->self_ack_len;
            r->self_ack = NULL;
            settle(r, &c, hash, a, alen);
            free(a);
            return;
        }
    }
    free(r->self_ack);
    r->self_ack = NULL;
}

size_t room_run(room *r, size_t max_steps)
{
    size_t steps = 0;
    if (!r->qlen)
        settle_self_acked(r);
    while (r->qlen && steps < max_steps) {
        room_frame f = r->queue[r->qhead];
        r->qhead = (r->qhead + 1) % r->qcap;
        r->qlen--;
        if (!r->tamper || r->tamper(r, f.party, f.bytes, f.len, r->tamper_ctx) == 0) {
            (void)deliver(r, f.party, f.bytes, f.len);
            steps++;
        }
        free(f.bytes);
        if (!r->qlen)
            settle_self_acked(r);
    }
    return steps;
}

/* ---- setting up ------------------------------------------------------------ */

fkex_err room_open(room *r, const char *policy, uint32_t options, const char *period,
                   const fkex_key *founder, const char *seed)
{
    uint8_t s[32], pk[32];
    fkex_ratchet_config cfg = { 0 };
    fkex_err err;
    memset(r, 0, sizeof *r);
    crypto_hash_sha256(s, (const uint8_t *)seed, strlen(seed));
    fkex_rng_init_seed(&r->rng, s);
    fkex_sign_keypair(pk, r->admin_sk, &r->rng);
    r->period = period;
    if ((err = fkex_room_descriptor_create(&r->descriptor, &r->descriptor_len, "room", policy, 1,
                                           options, r->admin_sk)) != FKEX_OK)
        return err;
    fkex_room_id(r->room_id, pk, (const uint8_t *)"room", 4);
    for (int i = 0; i < ROOM_MAX_PARTIES; i++)
        r->sponsor_of[i] = -1;
    cfg.key = founder;
    memcpy(cfg.room_id, r->room_id, 32);
    cfg.descriptor = r->descriptor;
    cfg.descriptor_len = r->descriptor_len;
    cfg.period = period;
    if ((err = fkex_ratchet_create(&r->parties[0].st, &cfg, &r->rng)) != FKEX_OK)
        return err;
    r->parties[0].key = founder;
    r->parties[0].online = 1;
    r->parties[0].joined = 1;
    fkex_ratchet_leaf_key(r->parties[0].v, r->parties[0].st);
    fkex_ratchet_leaf_id(r->parties[0].joiner_id, r->parties[0].st);
    r->nparties = 1;
    if (!(r->roster = malloc(sizeof *r->roster)))
        return FKEX_ERR_NO_MEMORY;
    r->roster[0] = 0;
    r->nroster = 1;
    return FKEX_OK;
}

void room_close(room *r)
{
    for (int i = 0; i < r->nparties; i++)
        fkex_ratchet_free(r->parties[i].st);
    for (size_t i = 0; i < r->qlen; i++)
        free(r->queue[(r->qhead + i) % r->qcap].bytes);
    for (size_t i = 0; i < r->nheld; i++)
        free(r->held[i].bytes);
    for (size_t i = 0; i < r->ntranscript; i++)
        free(r->transcript[i].bytes);
    free(r->queue);
    for (size_t i = 0; i < r->ncands; i++)
        free(r->cands[i].bytes);
    free(r->cands);
    free(r->self_ack);
    free(r->held);
    free(r->won);
    free(r->transcript);
    free(r->roster);
    free(r->descriptor);
    sodium_memzero(r->admin_sk, sizeof r->admin_sk);
}

int room_join_start(room *r, const fkex_key *key, fkex_err *err)
{
    fkex_ratchet_config cfg = { 0 };
    fkex_gke_out out;
    int p = r->nparties;
    room_party *pt = &r->parties[p];
    if (p >= ROOM_MAX_PARTIES) {
        *err = FKEX_ERR_ARGUMENT;
        return -1;
    }
    cfg.key = key;
    memcpy(cfg.room_id, r->room_id, 32);
    cfg.descriptor = r->descriptor;
    cfg.descriptor_len = r->descriptor_len;
    cfg.period = r->period;
    fkex_gke_out_init(&out);
    double t0 = party_clock();
    *err = fkex_ratchet_join(&pt->st, &cfg, &r->rng, &out);
    pt->cpu_ms += cpu_ms() - t0;
    if (*err != FKEX_OK)
        return -1;
    pt->key = key;
    pt->online = 1;
    fkex_ratchet_leaf_key(pt->v, pt->st);
    fkex_ratchet_leaf_id(pt->joiner_id, pt->st);
    r->nparties++;
    absorb(r, p, &out);
    return p;
}

fkex_err room_commit(room *r, int p, const fkex_commit_options *opt)
{
    fkex_gke_out out;
    fkex_gke_out_init(&out);
    double t0 = party_clock();
    fkex_err err = fkex_ratchet_commit(r->parties[p].st, opt, &r->rng, &out);
    r->parties[p].cpu_ms += cpu_ms() - t0;
    absorb(r, p, &out);
    return err;
}

int room_join(room *r, const fkex_key *key)
{
    fkex_err err;
    int p = room_join_start(r, key, &err);
    if (p < 0)
        return -1;
    room_run(r, 1000);
    int s = r->sponsor_of[p];
    if (s >= 0 && r->parties[s].admitted && room_commit(r, s, NULL) == FKEX_OK)
        room_run(r, 100000);
    return p;
}

fkex_err room_leave(room *r, int p)
{
    fkex_gke_out out;
    fkex_err err;
    int committer = -1;
    fkex_gke_out_init(&out);
    double t0 = party_clock();
    err = fkex_ratchet_propose_remove(r->parties[p].st, fkex_ratchet_index(r->parties[p].st), &out);
    r->parties[p].cpu_ms += cpu_ms() - t0;
    absorb(r, p, &out);
    if (err != FKEX_OK)
        return err;
    room_run(r, 100000);
    for (int i = 0; i < r->nroster && committer < 0; i++)
        if (r->roster[i] != p && r->parties[r->roster[i]].online)
            committer = r->roster[i];
    if (committer < 0)
        return FKEX_ERR_UNEXPECTED;
    if ((err = room_commit(r, committer, NULL)) != FKEX_OK)
        return err;
    room_run(r, 100000);
    return FKEX_OK;
}

fkex_err room_send(room *r, int p, const char *text)
{
    fkex_gke_out out;
    fkex_gke_out_init(&out);
    double t0 = party_clock();
    fkex_err err = fkex_ratchet_send(r->parties[p].st, (const uint8_t *)text, strlen(text), &out);
    r->parties[p].cpu_ms += cpu_ms() - t0;
    absorb(r, p, &out);
    return err;
}

int room_agree(const room *r)
{
    uint8_t first[32], a[32];
    for (int i = 0; i < r->nroster; i++) {
        const fkex_ratchet *st = r->parties[r->roster[i]].st;
        if (!st || !fkex_ratchet_is_member(st) || fkex_ratchet_epoch(st) != r->epoch)
            return 0;
        fkex_ratchet_epoch_authenticator(i ? a : first, st);
        if (i && memcmp(a, first, 32) != 0)
            return 0;
    }
    return 1;
}
