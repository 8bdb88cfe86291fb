/*
 * relay/room.c: one room's routing (relay/room.h).
 */
#include <stdlib.h>
#include "inner.h"
#include "wire/relay_msg.h"
#include "relay/room.h"
#include "relay/seed_room.h"

/* ---- output ----------------------------------------------------------------------- */

void relay_out_init(relay_out *out)
{
    memset(out, 0, sizeof *out);
}

void relay_out_clear(relay_out *out)
{
    for (size_t i = 0; i < out->nframes; i++)
        free(out->frames[i]);
    free(out->frames);
    free(out->d);
    relay_out_init(out);
}

/* A copy of bytes that lives as long as out. */
static const uint8_t *out_frame(relay_out *out, const uint8_t *bytes, size_t len)
{
    if (out->nframes == out->framecap) {
        size_t cap = out->framecap ? 2 * out->framecap : 8;
        uint8_t **f = realloc(out->frames, cap * sizeof *f);
        if (!f)
            return NULL;
        out->frames = f;
        out->framecap = cap;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return NULL;
    if (len)
        memcpy(copy, bytes, len);
    out->frames[out->nframes++] = copy;
    return copy;
}

static fkex_err out_add(relay_out *out, const uint8_t to[32], uint64_t seq, const uint8_t *bytes,
                        size_t len)
{
    if (!bytes)
        return FKEX_ERR_NO_MEMORY;
    if (out->n == out->cap) {
        size_t cap = out->cap ? 2 * out->cap : 8;
        relay_delivery *d = realloc(out->d, cap * sizeof *d);
        if (!d)
            return FKEX_ERR_NO_MEMORY;
        out->d = d;
        out->cap = cap;
    }
    relay_delivery *d = &out->d[out->n++];
    memcpy(d->to, to, 32);
    d->seq = seq;
    d->bytes = bytes;
    d->len = len;
    return FKEX_OK;
}

/* ---- the room in memory ------------------------------------------------------------- */

static void free_joins(relay_store_join *j, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(j[i].request);
    free(j);
}

void relay_room_free(relay_room *r)
{
    if (!r)
        return;
    relay_seed_free(r->seed);
    free(r->self_ack);
    free(r->members);
    free_joins(r->joins, r->njoins);
    free(r->pending);
    free(r);
}

long relay_room_member(const relay_room *r, const uint8_t v[32])
{
    for (uint32_t i = 0; i < r->nmembers; i++)
        if (memcmp(r->members[i].v, v, 32) == 0)
            return (long)i;
    return -1;
}

void relay_room_set_online(relay_room *r, const uint8_t v[32], int online)
{
    long i = relay_room_member(r, v);
    if (i >= 0)
        r->members[i].online = r->members[i].connected = online;
    if (i >= 0 && r->seed)
        relay_seed_set_online(r, v, online);
}

void relay_room_set_away(relay_room *r, const uint8_t v[32])
{
    long i = relay_room_member(r, v);
    if (i >= 0)
        r->members[i].connected = 0;
}

static relay_store_join *join_by_id(relay_room *r, const uint8_t id[32])
{
    for (size_t i = 0; i < r->njoins; i++)
        if (memcmp(r->joins[i].joiner_id, id, 32) == 0)
            return &r->joins[i];
    return NULL;
}

static relay_store_join *join_by_v(relay_room *r, const uint8_t v[32])
{
    for (size_t i = 0; i < r->njoins; i++)
        if (memcmp(r->joins[i].v, v, 32) == 0)
            return &r->joins[i];
    return NULL;
}

static void join_forget(relay_room *r, relay_store_join *j)
{
    free(j->request);
    *j = r->joins[--r->njoins];
}

/* The authority fingerprint of a JoinRequest's ciphertext; 0, or -1 if
 * it has no fkex ciphertext header. */
static int request_authority(uint8_t fp[32], const fkex_rmsg_join_request *q)
{
    fkex_header h;
    if (q->abe_ctlen < FKEX_HEADER_BYTES || fkex_header_decode(&h, q->abe_ct) != FKEX_OK ||
        h.kind != FKEX_KIND_CIPHERTEXT)
        return -1;
    memcpy(fp, h.fingerprint, 32);
    return 0;
}

/* (Re)reads everything but the online flags, which it keeps by V. */
static fkex_err reload(relay_room *r)
{
    relay_store_member *m;
    relay_store_join *j;
    uint32_t n;
    size_t nj;
    uint64_t epoch, next;
    fkex_err err;
    uint8_t *pending;
    size_t pendinglen;
    uint8_t *desc;
    size_t desclen;
    if ((err = relay_store_room_get(r->store, r->room_id, &epoch, &next, &desc, &desclen)) != FKEX_OK)
        return err;
    crypto_hash_sha256(r->desc_hash, desc, desclen);
    free(desc);
    if ((err = relay_store_pending_get(r->store, r->room_id, &pending, &pendinglen)) != FKEX_OK)
        return err;
    free(r->pending);
    r->pending = pending;
    r->pendinglen = pendinglen;
    if (pending)
        crypto_hash_sha256(r->pending_hash, pending, pendinglen);
    if ((err = relay_store_members_load(r->store, r->room_id, &m, &n)) != FKEX_OK)
        return err;
    if ((err = relay_store_joins_load(r->store, r->room_id, &j, &nj)) != FKEX_OK) {
        free(m);
        return err;
    }
    relay_member *mm = calloc(n ? n : 1, sizeof *mm);
    if (!mm) {
        free(m);
        free_joins(j, nj);
        return FKEX_ERR_NO_MEMORY;
    }
    for (uint32_t i = 0; i < n; i++) {
        memcpy(mm[i].v, m[i].v, 32);
        mm[i].since = m[i].since;
        mm[i].kicked = m[i].kicked;
        long old = relay_room_member(r, m[i].v);
        mm[i].online = old >= 0 && r->members[old].online;
        mm[i].connected = old >= 0 && r->members[old].connected;
    }
    free(m);
    free(r->members);
    free_joins(r->joins, r->njoins);
    r->members = mm;
    r->nmembers = n;
    for (size_t x = 0; x < nj; x++) {   /* (sources are not kept across a restart) */
        fkex_rmsg_join_request q;
        if (fkex_rmsg_join_request_decode(&q, j[x].request, j[x].request_len) == FKEX_OK)
            (void)request_authority(j[x].authority, &q);
    }
    r->joins = j;
    r->njoins = nj;
    r->epoch = epoch;
    r->next_seq = next;
    free(r->self_ack);   /* an ack by a committer alone is not kept across a restart */
    r->self_ack = NULL;
    r->has_settled = 0;
    if (epoch && (err = relay_store_settled_get(r->store, r->room_id, epoch - 1, r->settled,
                                                &r->has_settled)) != FKEX_OK)
        return err;
    return r->seed ? relay_seed_reload(r) : FKEX_OK;
}

fkex_err relay_room_reload(relay_room *r)
{
    fkex_err err = reload(r);
    if (err != FKEX_OK)
        r->failed = 1;
    return err;
}

fkex_err relay_room_load(relay_room **out, relay_store *s, const uint8_t room_id[32])
{
    relay_room *r = calloc(1, sizeof *r);
    fkex_err err;
    *out = NULL;
    if (!r)
        return FKEX_ERR_NO_MEMORY;
    r->store = s;
    memcpy(r->room_id, room_id, 32);
    r->sponsor_timeout_ms = RELAY_SPONSOR_TIMEOUT_MS;
    r->keep = RELAY_LOG_KEEP;
    r->max_joins = RELAY_MAX_JOINS;
    r->grace_ms = RELAY_SEED_GRACE_MS;
    if ((err = reload(r)) != FKEX_OK || (err = relay_seed_attach(r)) != FKEX_OK) {
        relay_room_free(r);
        return err;
    }
    *out = r;
    return FKEX_OK;
}

fkex_err relay_room_create(relay_room **out, relay_store *s, const uint8_t *desc, size_t len,
                           const uint8_t founder[32], const uint8_t sig[64])
{
    fkex_rmsg_descriptor d;
    uint8_t room_id[32];
    relay_store_member m = { { 0 }, 0, 0 };
    fkex_err err;
    *out = NULL;
    if ((err = fkex_rmsg_descriptor_decode(&d, desc, len)) != FKEX_OK)
        return err;
    fkex_room_id(room_id, d.admin_pk, d.name, d.namelen);
    if ((err = fkex_room_descriptor_check(&d, room_id, desc, len)) != FKEX_OK)
        return err;
    if (fkex_relay_create_verify(sig, d.admin_pk, room_id, founder) != 0)
        return FKEX_ERR_AUTHENTICATION;
    memcpy(m.v, founder, 32);
    if ((err = relay_store_begin(s)) != FKEX_OK)
        return err;
    /* A seed room's founder is a member once it joins, like anyone. */
    if ((err = relay_store_room_insert(s, room_id, desc, len)) != FKEX_OK ||
        (err = relay_store_members_put(s, room_id, &m,
                                       d.options & FKEX_ROOM_SEED_MODE ? 0 : 1)) != FKEX_OK ||
        (err = relay_store_commit(s)) != FKEX_OK) {
        relay_store_rollback(s);
        return err;
    }
    return relay_room_load(out, s, room_id);
}

/* ---- steps -------------------------------------------------------------------------- */

/* A refusal: code and why. */
#define REFUSE(code, text) do { out->why = (text); return (code); } while (0)
#define OUT_OF_SERVICE "this room is out of service at this relay: its store could not be reread"
#define DESCRIPTOR_CHANGED "the room's descriptor changed (its admin changed its policy): fetch it " \
                           "again and join under it"


/* Stores and delivers one addressed frame under seq. */
static fkex_err addressed(relay_room *r, const uint8_t to[32], uint64_t seq, const uint8_t *bytes,
                          size_t len, relay_out *out)
{
    fkex_err err = relay_store_log_append(r->store, r->room_id, seq, to, bytes, len);
    if (err != FKEX_OK)
        return err;
    return out_add(out, to, seq, out_frame(out, bytes, len), len);
}

static long first_online(const relay_room *r)
{
    for (uint32_t i = 0; i < r->nmembers; i++)
        if (r->members[i].online)
            return (long)i;
    return -1;
}

/* The next online member after j's sponsor, in roster order, wrapping;
 * -1 if there is no other. */
static long next_sponsor(const relay_room *r, const relay_store_join *j)
{
    long cur = j->has_sponsor ? relay_room_member(r, j->sponsor) : -1;
    if (cur < 0)
        return first_online(r);
    for (uint32_t k = 1; k < r->nmembers; k++) {
        uint32_t i = (uint32_t)(cur + k) % r->nmembers;
        if (r->members[i].online)
            return (long)i;
    }
    return -1;
}

/* Sends join j's request to member s (an index), its sponsor from now
 * on, and waits for that member's Challenge. */
static fkex_err route_join(relay_room *r, relay_store_join *j, uint32_t s, uint64_t now,
                           relay_out *out)
{
    fkex_err err;
    j->has_sponsor = 1;
    memcpy(j->sponsor, r->members[s].v, 32);
    j->state = RELAY_JOIN_WAITING;
    j->sent_at = now;
    if ((err = addressed(r, j->sponsor, r->next_seq++, j->request, j->request_len, out)) != FKEX_OK)
        return err;
    return relay_store_join_put(r->store, r->room_id, j);
}

/* Join j starts over (its Challenge named an epoch that ended, or its
 * sponsor is gone or silent): its request goes to member `to` if that one
 * is online, else to the next online one, or waits for one to come. */
static fkex_err reroute_join(relay_room *r, relay_store_join *j, long to, uint64_t now,
                             relay_out *out)
{
    if (to < 0 || !r->members[to].online)
        to = next_sponsor(r, j);
    if (to >= 0 && !r->pending)
        return route_join(r, j, (uint32_t)to, now, out);
    j->has_sponsor = 0;
    j->state = RELAY_JOIN_WAITING;
    j->sent_at = now;
    return relay_store_join_put(r->store, r->room_id, j);
}

/* 1 if a member other than `except` (an index) has a V that begins as v
 * does: its pseudonym. */
static int pseudonym_taken(const relay_room *r, const uint8_t v[32], uint32_t except)
{
    for (uint32_t i = 0; i < r->nmembers; i++)
        if (i != except && memcmp(r->members[i].v, v, FKEX_PSEUDONYM_BYTES) == 0)
            return 1;
    return 0;
}

/* leaf id = H(V || X), as a Challenge and a Welcome name their joiner. */
static void leaf_id(uint8_t id[32], const uint8_t leaf[64])
{
    crypto_hash_sha256(id, leaf, 64);
}

/* Pending joins from this source, and of the kind of fp: under other
 * authorities than the members' (fp is one), or under fp alone (the
 * members' authority is not known yet). */
static void joins_alike(const relay_room *r, const uint8_t source[16], const uint8_t fp[32],
                        size_t *same_source, size_t *same_authority)
{
    static const uint8_t unknown[16];
    *same_source = *same_authority = 0;
    for (size_t i = 0; i < r->njoins; i++) {
        const uint8_t *a = r->joins[i].authority;
        *same_source += source && memcmp(source, unknown, 16) != 0 &&
                        memcmp(r->joins[i].source, source, 16) == 0;
        *same_authority += r->has_authority ? memcmp(a, r->authority, 32) != 0
                                            : memcmp(a, fp, 32) == 0;
    }
}

/* The members' authority, from what the sponsor of a pending join said
 * (the ciphertext of its Challenge, or its JoinRefused). The first one
 * learnt stays: every honest member names the same, and a member who
 * named another later could otherwise let a flood under it pass as the
 * room's. */
static void learn_authority(relay_room *r, const uint8_t fp[32])
{
    if (!r->has_authority) {
        memcpy(r->authority, fp, 32);
        r->has_authority = 1;
    }
}

static int join_request(relay_room *r, const uint8_t from[32], const uint8_t source[16],
                        const uint8_t *msg, size_t len, uint64_t now, relay_out *out,
                        fkex_err *err)
{
    fkex_rmsg_join_request q;
    relay_store_join j = { 0 }, *old;
    size_t same_source, same_authority;
    if (len > RELAY_JOIN_REQUEST_MAX)
        REFUSE(FKEX_RELAY_E_BAD_FRAME, "a JoinRequest larger than 256 KiB");
    if (fkex_rmsg_join_request_decode(&q, msg, len) != FKEX_OK ||
        request_authority(j.authority, &q) != 0)
        REFUSE(FKEX_RELAY_E_BAD_FRAME, "a malformed JoinRequest");
    if (memcmp(q.leaf.sig_pk, from, 32) != 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a JoinRequest for another leaf key than the sender's");
    if (relay_room_member(r, from) >= 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a member cannot join again");
    if (pseudonym_taken(r, from, UINT32_MAX))
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a member has a leaf key that begins as this one does");
    /* Joiners are held to the newest descriptor the relay has accepted:
     * from the moment the admin's change is in, nobody joins under the
     * policy it replaces. */
    if (memcmp(q.descriptor_hash, r->pending ? r->pending_hash : r->desc_hash, 32) != 0)
        REFUSE(FKEX_RELAY_E_BAD_DESCRIPTOR, DESCRIPTOR_CHANGED);
    leaf_id(j.joiner_id, (const uint8_t *)&q.leaf);
    if ((old = join_by_v(r, from)) != NULL) {
        /* Sent again (a client resends what was not answered before its
         * connection dropped): taken, and nothing stored twice; the
         * sponsor timeout sends it on if need be. */
        if (memcmp(old->joiner_id, j.joiner_id, 32) == 0) {
            out->seq = 0;
            return 0;
        }
        REFUSE(FKEX_RELAY_E_BUSY, "too many joins: this leaf key has a JoinRequest pending");
    }
    /* Anyone can make a JoinRequest (encapsulating needs no key), so one
     * source or one authority must not take every slot: a flood from
     * one address, or under a self-made authority, leaves room for the
     * rest. */
    joins_alike(r, source, j.authority, &same_source, &same_authority);
    if (same_source >= RELAY_MAX_JOINS_PER_SOURCE)
        REFUSE(FKEX_RELAY_E_BUSY, "too many joins are pending from this address");
    if (same_authority >= RELAY_MAX_JOINS_PER_AUTHORITY &&
        (!r->has_authority || memcmp(j.authority, r->authority, 32) != 0))
        REFUSE(FKEX_RELAY_E_BUSY, "too many joins are pending under other authorities than "
                                  "the room's");
    if (r->njoins >= r->max_joins)
        REFUSE(FKEX_RELAY_E_BUSY, "too many joins are pending in this room");
    if (source)
        memcpy(j.source, source, 16);
    memcpy(j.v, from, 32);
    j.state = RELAY_JOIN_WAITING;
    j.sent_at = now;
    j.request = (uint8_t *)msg;
    j.request_len = len;
    /* A seq (and a log row) only with a sponsor: relay_room_tick names one
     * when a member comes online (and a commit installs a pending
     * descriptor, which no member could sponsor it under before). */
    long s = r->pending ? -1 : first_online(r);
    out->seq = s >= 0 ? r->next_seq : 0;
    *err = s >= 0 ? route_join(r, &j, (uint32_t)s, now, out)
                  : relay_store_join_put(r->store, r->room_id, &j);
    if (*err != FKEX_OK)
        return 0;
    /* In memory: a copy of the request, kept to send it again. */
    relay_store_join *t = realloc(r->joins, (r->njoins + 1) * sizeof *t);
    if (!t || !(j.request = malloc(len))) {
        if (t)
            r->joins = t;
        *err = FKEX_ERR_NO_MEMORY;
        return 0;
    }
    memcpy(j.request, msg, len);
    r->joins = t;
    r->joins[r->njoins++] = j;
    return 0;
}

/* A step of the join handshake: the join moves to state, is stored, and
 * msg goes on to `to` with the next seq. */
static fkex_err join_step(relay_room *r, relay_store_join *j, int state, const uint8_t to[32],
                          const uint8_t *msg, size_t len, uint64_t now, relay_out *out)
{
    fkex_err err;
    out->seq = r->next_seq++;
    j->state = state;
    j->sent_at = now;
    if ((err = relay_store_join_put(r->store, r->room_id, j)) == FKEX_OK)
        err = addressed(r, to, out->seq, msg, len, out);
    return err;
}

static int challenge(relay_room *r, const uint8_t from[32], const uint8_t *msg, size_t len,
                     uint64_t now, relay_out *out, fkex_err *err)
{
    fkex_rmsg_challenge c;
    relay_store_join *j;
    if (fkex_rmsg_challenge_decode(&c, msg, len) != FKEX_OK)
        REFUSE(FKEX_RELAY_E_BAD_FRAME, "a malformed Challenge");
    if (relay_room_member(r, from) < 0 || memcmp(c.sponsor_pk, from, 32) != 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a Challenge from a non-member");
    if (!(j = join_by_id(r, c.joiner_id)))
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a Challenge for no pending joiner");
    /* Late ones are normal: the join moved on (an epoch settled, or the
     * sponsor timeout passed it to another member). */
    if (j->state != RELAY_JOIN_WAITING || !j->has_sponsor || memcmp(j->sponsor, from, 32) != 0)
        REFUSE(FKEX_RELAY_E_STALE, "a Challenge for a joiner another sponsor serves now");
    if (c.context.epoch != r->epoch)
        REFUSE(FKEX_RELAY_E_STALE, "a Challenge naming an epoch that has ended");
    {
        fkex_header h;
        if (c.abe_ctlen >= FKEX_HEADER_BYTES && fkex_header_decode(&h, c.abe_ct) == FKEX_OK &&
            h.kind == FKEX_KIND_CIPHERTEXT)
            learn_authority(r, h.fingerprint);
    }
    *err = join_step(r, j, RELAY_JOIN_CHALLENGED, j->v, msg, len, now, out);
    return 0;
}

static int proof(relay_room *r, const uint8_t from[32], const uint8_t *msg, size_t len,
                 uint64_t now, relay_out *out, fkex_err *err)
{
    fkex_rmsg_proof p;
    relay_store_join *j;
    if (fkex_rmsg_proof_decode(&p, msg, len) != FKEX_OK)
        REFUSE(FKEX_RELAY_E_BAD_FRAME, "a malformed Proof");
    if (!(j = join_by_id(r, p.joiner_id)) || memcmp(j->v, from, 32) != 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a Proof from no pending joiner");
    if (j->state != RELAY_JOIN_CHALLENGED)   /* the join started over meanwhile */
        REFUSE(FKEX_RELAY_E_STALE, "a Proof for a Challenge whose epoch has ended");
    *err = join_step(r, j, RELAY_JOIN_PROVED, j->sponsor, msg, len, now, out);
    return 0;
}

/* A sponsor's JoinRefused. Busy: the join goes to the next member.
 * Otherwise the joiner is told, and the join's slot is freed at once. */
static int join_refused(relay_room *r, const uint8_t from[32], const uint8_t *msg, size_t len,
                        uint64_t now, relay_out *out, fkex_err *err)
{
    fkex_rmsg_join_refused m;
    relay_store_join *j;
    if (fkex_rmsg_join_refused_decode(&m, msg, len) != FKEX_OK)
        REFUSE(FKEX_RELAY_E_BAD_FRAME, "a malformed JoinRefused");
    if (relay_room_member(r, from) < 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a JoinRefused from a non-member");
    if (!(j = join_by_id(r, m.joiner_id)) || !j->has_sponsor || memcmp(j->sponsor, from, 32) != 0 ||
        j->state == RELAY_JOIN_PROPOSED || j->state == RELAY_JOIN_ADDED) {
        out->seq = 0;   /* late (the join moved on, or ended): taken, and nothing done */
        return 0;
    }
    learn_authority(r, m.authority);   /* the refusing sponsor's key's */
    if (m.reason == FKEX_JOIN_REFUSED_BUSY) {
        long to = next_sponsor(r, j);
        out->seq = to >= 0 ? r->next_seq : 0;
        if (to >= 0)
            *err = route_join(r, j, (uint32_t)to, now, out);
        return 0;   /* else it waits where it is, for the sponsor timeout */
    }
    out->seq = r->next_seq++;
    if ((*err = addressed(r, j->v, out->seq, msg, len, out)) == FKEX_OK &&
        (*err = relay_store_join_delete(r->store, r->room_id, j->joiner_id)) == FKEX_OK)
        join_forget(r, j);
    return 0;
}

/* A released Welcome: the next seq, to its joiner, whose join is done. */
typedef struct {
    relay_room *r;
    relay_out *out;
} release_ctx;

static fkex_err release(void *ctx, const uint8_t to[32], const uint8_t *frame, size_t len)
{
    release_ctx *c = ctx;
    relay_room *r = c->r;
    fkex_rmsg_welcome w;
    fkex_err err = addressed(r, to, r->next_seq++, frame, len, c->out);
    relay_store_join *j;
    if (err == FKEX_OK && fkex_rmsg_welcome_decode(&w, frame, len) == FKEX_OK &&
        (j = join_by_id(r, w.joiner_id)) != NULL) {
        if ((err = relay_store_join_delete(r->store, r->room_id, j->joiner_id)) == FKEX_OK)
            join_forget(r, j);
    }
    return err;
}

static int welcome(relay_room *r, const uint8_t from[32], const uint8_t *msg, size_t len,
                   relay_out *out, fkex_err *err)
{
    fkex_rmsg_welcome w;
    relay_store_join *j;
    int status;
    if (fkex_rmsg_welcome_decode(&w, msg, len) != FKEX_OK)
        REFUSE(FKEX_RELAY_E_BAD_FRAME, "a malformed Welcome");
    if (relay_room_member(r, from) < 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a Welcome from a non-member");
    if (!(j = join_by_id(r, w.joiner_id)) || memcmp(j->sponsor, from, 32) != 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a Welcome for no joiner this member sponsors");
    if ((*err = relay_store_commit_status(r->store, r->room_id, w.commit_hash, &status)) != FKEX_OK)
        return 0;
    if (status == 2)
        REFUSE(FKEX_RELAY_E_STALE, "a Welcome for a commit that lost");
    if (status == 0) {   /* held: persisted, ordered when its commit wins */
        out->seq = 0;
        *err = relay_store_held_put(r->store, r->room_id, w.commit_hash, j->v, msg, len);
        return 0;
    }
    out->seq = r->next_seq;
    release_ctx c = { r, out };
    *err = release(&c, j->v, msg, len);
    return 0;
}

/* 1 if desc is a descriptor of this room (the admin's signature checked)
 * with a version above the room's current one: *version gets it. */
static int descriptor_newer(relay_room *r, const uint8_t *desc, size_t len, uint32_t *version,
                            fkex_err *err)
{
    fkex_rmsg_descriptor d, cur;
    uint8_t *now = NULL;
    size_t nowlen = 0;
    int newer;
    if (fkex_room_descriptor_check(&d, r->room_id, desc, len) != FKEX_OK)
        return 0;
    if ((*err = relay_store_room_get(r->store, r->room_id, NULL, NULL, &now, &nowlen)) != FKEX_OK)
        return 0;
    newer = fkex_rmsg_descriptor_decode(&cur, now, nowlen) == FKEX_OK && d.version > cur.version;
    free(now);
    *version = d.version;
    return newer;
}

/* Join j ends under a descriptor the room no longer takes: the joiner is
 * told, in the relay's own words, to fetch the room's newest and join
 * again (a JoinRefused, reason descriptor), and the join is forgotten. */
static fkex_err end_join(relay_room *r, relay_store_join *j, relay_out *out)
{
    fkex_rmsg_join_refused m = { .reason = FKEX_JOIN_REFUSED_DESCRIPTOR };
    fkex_writer w;
    fkex_err err;
    memcpy(m.room_id, r->room_id, 32);
    memcpy(m.joiner_id, j->joiner_id, 32);
    fkex_writer_init(&w);
    fkex_rmsg_join_refused_encode(&w, &m);
    err = w.failed ? FKEX_ERR_NO_MEMORY : addressed(r, j->v, r->next_seq++, w.buf, w.len, out);
    fkex_writer_free(&w);
    if (err == FKEX_OK && (err = relay_store_join_delete(r->store, r->room_id, j->joiner_id)) ==
                              FKEX_OK)
        join_forget(r, j);
    return err;
}

int relay_room_set_descriptor(relay_room *r, const uint8_t *desc, size_t len, relay_out *out)
{
    fkex_rmsg_descriptor p;
    fkex_err err = FKEX_OK;
    uint32_t version;
    uint8_t *copy;
    relay_out_clear(out);
    if (r->failed)
        REFUSE(FKEX_RELAY_E_INTERNAL, OUT_OF_SERVICE);
    if (r->seed || relay_seed_descriptor(desc, len))
        REFUSE(FKEX_RELAY_E_BAD_DESCRIPTOR, "a room's mode never changes, and a seed-mode room "
                                            "keeps its policy");
    if (!descriptor_newer(r, desc, len, &version, &err)) {
        if (err != FKEX_OK)
            REFUSE(FKEX_RELAY_E_INTERNAL, "the relay could not read the room");
        REFUSE(FKEX_RELAY_E_BAD_DESCRIPTOR, "not this room's admin-signed descriptor of a newer "
                                            "version");
    }
    if (r->pending && fkex_rmsg_descriptor_decode(&p, r->pending, r->pendinglen) == FKEX_OK &&
        version <= p.version)
        REFUSE(FKEX_RELAY_E_BAD_DESCRIPTOR, "a descriptor of this version or newer is pending");
    /* Only a member commits it: with nobody connected it would close the
     * room to joiners and wait for nobody. */
    if (relay_room_connected(r) == 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "no member of the room is connected to commit it; "
                                          "try again when one is");
    if (!(copy = malloc(len)))
        REFUSE(FKEX_RELAY_E_INTERNAL, "the relay is out of memory");
    memcpy(copy, desc, len);
    if ((err = relay_store_begin(r->store)) != FKEX_OK) {
        free(copy);
        REFUSE(FKEX_RELAY_E_INTERNAL, "the relay could not store the descriptor");
    }
    err = relay_store_pending_put(r->store, r->room_id, desc, len);
    free(r->pending);   /* (a failed step rereads it from the store) */
    r->pending = copy;
    r->pendinglen = len;
    r->pending_sent_at = 0;
    r->pending_turn = 0;
    crypto_hash_sha256(r->pending_hash, desc, len);
    /* Joins under way under the policy it replaces end here: each joiner
     * is told, in the relay's words, to fetch the new descriptor. Those a
     * candidate commit adds go on; the re-attestation the change forces
     * checks them with everyone. */
    r->pending_asked = 0;
    for (size_t i = 0; i < r->njoins && err == FKEX_OK;) {
        if (r->joins[i].state == RELAY_JOIN_PROPOSED || r->joins[i].state == RELAY_JOIN_ADDED) {
            i++;
            continue;
        }
        err = end_join(r, &r->joins[i], out);
    }
    return relay_room_step_end(r, 0, err, out);
}

/* For what the relay cannot settle itself and hands to a member (a
 * descriptor to commit, members to remove): the member whose turn it is,
 * one online member after another, a sponsor timeout apart. 1 with to
 * set, or 0 (not due yet, or nobody online). */
static int turn_due(const relay_room *r, uint64_t now, uint64_t *sent_at, uint32_t *turn,
                    uint8_t to[32])
{
    uint32_t online = 0, k;
    if (*sent_at && now >= *sent_at && now - *sent_at < r->sponsor_timeout_ms)
        return 0;
    for (uint32_t i = 0; i < r->nmembers; i++)
        online += r->members[i].online != 0;
    if (online == 0)
        return 0;
    k = (*turn)++ % online;
    for (uint32_t i = 0; i < r->nmembers; i++)
        if (r->members[i].online && k-- == 0) {
            memcpy(to, r->members[i].v, 32);
            break;
        }
    *sent_at = now ? now : 1;
    return 1;
}

static uint32_t pending_version(const relay_room *r)
{
    fkex_rmsg_descriptor d;
    return r->pending && fkex_rmsg_descriptor_decode(&d, r->pending, r->pendinglen) == FKEX_OK
               ? d.version : 0;
}

int relay_room_pending_due(relay_room *r, uint64_t now, uint8_t to[32], const uint8_t **desc,
                           size_t *len)
{
    uint32_t online = 0;
    if (r->failed || !r->pending)
        return 0;
    for (uint32_t i = 0; i < r->nmembers; i++)
        online += r->members[i].online != 0;
    if (online && r->pending_asked >= online &&
        (!r->pending_sent_at || now < r->pending_sent_at ||
         now - r->pending_sent_at >= r->sponsor_timeout_ms))
        return -1;   /* each had its turn: declined, or silent */
    if (!turn_due(r, now, &r->pending_sent_at, &r->pending_turn, to))
        return 0;
    r->pending_asked++;
    memcpy(r->pending_to, to, 32);
    *desc = r->pending;
    *len = r->pendinglen;
    return 1;
}

int relay_room_decline(relay_room *r, const uint8_t from[32], uint32_t version)
{
    if (!r->pending || !r->pending_sent_at || version != pending_version(r) ||
        memcmp(from, r->pending_to, 32) != 0)
        return 0;
    r->pending_sent_at = 0;   /* the next member's turn, at once */
    return 1;
}

uint32_t relay_room_connected(const relay_room *r)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->nmembers; i++)
        n += r->members[i].connected != 0;
    return n;
}

int relay_room_drop_pending(relay_room *r, uint32_t *version, relay_out *out)
{
    fkex_err err;
    relay_out_clear(out);
    *version = pending_version(r);
    if (r->failed)
        REFUSE(FKEX_RELAY_E_INTERNAL, OUT_OF_SERVICE);
    if (!r->pending)
        return 0;
    if ((err = relay_store_begin(r->store)) != FKEX_OK)
        REFUSE(FKEX_RELAY_E_INTERNAL, "the relay could not store the room");
    err = relay_store_pending_delete(r->store, r->room_id);
    free(r->pending);   /* (a failed step rereads it from the store) */
    r->pending = NULL;
    r->pendinglen = 0;
    /* The joins that waited for it named it: each is told to fetch the
     * room's descriptor again. */
    for (size_t i = 0; i < r->njoins && err == FKEX_OK;) {
        if (r->joins[i].has_sponsor) {
            i++;
            continue;
        }
        err = end_join(r, &r->joins[i], out);
    }
    return relay_room_step_end(r, 0, err, out);
}

size_t relay_room_gone_due(relay_room *r, uint64_t now, uint8_t to[32], uint8_t (*gone)[32],
                           size_t max)
{
    size_t n = 0;
    if (r->seed)
        return 0;   /* the seed relay announces the Leave itself (relay/seed_room.c) */
    for (uint32_t i = 0; i < r->nmembers && n < max; i++)
        if (!r->members[i].online)
            memcpy(gone[n++], r->members[i].v, 32);
    if (r->failed || n == 0 || !turn_due(r, now, &r->gone_sent_at, &r->gone_turn, to))
        return 0;
    return n;
}

/* A candidate commit (PROTOCOL.md, version 2): checked as far as the
 * relay can (layout, this epoch, the named committer's signature over the
 * whole commit, the roster's arithmetic, one slice per member who stays),
 * stored whole and passed on, each member of the epoch getting its view.
 * The epoch is settled later, by the first EpochAck (epoch_ack). */
static int commit(relay_room *r, const uint8_t from[32], const uint8_t *msg, size_t len,
                  relay_out *out, fkex_err *err, int *durable)
{
    fkex_rmsg_commit c;
    uint8_t hash[32], *known;
    size_t knownlen;
    int status;
    if (fkex_rmsg_commit_decode(&c, msg, len) != FKEX_OK)
        REFUSE(FKEX_RELAY_E_BAD_FRAME, "a malformed commit");
    /* Only members' commits are looked at, even to be refused as stale: a
     * stranger must not fill the store with lost commits. */
    if (relay_room_member(r, from) < 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "only members commit");
    crypto_hash_sha256(hash, msg, c.content_len);
    if ((*err = relay_store_commit_status(r->store, r->room_id, hash, &status)) != FKEX_OK)
        return 0;
    if (status == 1)
        REFUSE(FKEX_RELAY_E_STALE, "this commit was settled already");
    if ((*err = relay_store_candidate_get(r->store, r->room_id, hash, &known, &knownlen)) != FKEX_OK)
        return 0;
    if (known) {
        free(known);
        return 0;   /* sent again after a reconnection: taken once (out->seq 0) */
    }
    if (status == 2 || c.epoch != r->epoch) {
        /* It lost (or never could win), and its Welcomes with it: stored,
         * so that they stay refused. */
        if ((*err = relay_store_commit_put(r->store, r->room_id, hash, c.epoch, 0, 0)) == FKEX_OK)
            *err = relay_store_held_take(r->store, r->room_id, hash, NULL, NULL);
        *durable = 1;
        REFUSE(FKEX_RELAY_E_STALE, "a commit for another epoch: another commit won");
    }
    uint32_t n = r->nmembers;
    uint64_t mine = 0;
    if (c.committer >= n || memcmp(r->members[c.committer].v, from, 32) != 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a commit from another member than its committer");
    if ((*err = relay_store_candidate_by(r->store, r->room_id, c.committer, &mine)) != FKEX_OK)
        return 0;
    if (mine)   /* so that one member cannot bury the others' commits under its own */
        REFUSE(FKEX_RELAY_E_STALE, "one commit per member and epoch: yours is a candidate");
    if (fkex_sign_verify(c.sig, from, "commit", msg, c.signed_len) != 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a commit its committer did not sign");
    if (c.nremoves >= n || (uint64_t)n - c.nremoves + c.nadds > FKEX_ROOM_MAX_MEMBERS ||
        (c.nremoves && load32_be(c.removes + 4 * (c.nremoves - 1)) >= n))
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a commit whose roster does not add up");
    if (c.nadds && r->pending)   /* nobody joins under the policy the admin is replacing */
        REFUSE(FKEX_RELAY_E_STALE, "a commit adding joiners while the room's policy changes");
    /* Pseudonyms (V's first bytes, what a kick names) are unique too. */
    for (uint32_t a = 0; a < c.nadds; a++) {
        const uint8_t *v = c.adds + 64 * a;
        if (pseudonym_taken(r, v, UINT32_MAX))
            REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a commit that adds a member twice");
        for (uint32_t b = 0; b < a; b++)
            if (memcmp(c.adds + 64 * b, v, FKEX_PSEUDONYM_BYTES) == 0)
                REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a commit that adds a member twice");
        /* Only a joiner's sponsor adds it, after its Challenge of this
         * epoch: a join the relay has passed to another sponsor (or that
         * started over) is not added by the one it left. */
        uint8_t id[32];
        relay_store_join *j;
        leaf_id(id, v);
        if (!(j = join_by_id(r, id)) || j->state != RELAY_JOIN_PROVED ||
            memcmp(j->sponsor, from, 32) != 0)
            REFUSE(FKEX_RELAY_E_STALE, "a commit that adds a joiner this member does not sponsor now");
    }
    if (c.has_update && pseudonym_taken(r, c.update_sig_pk, c.committer))
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "an update to a key the roster holds");
    uint32_t *place = malloc(((size_t)n + 1) * sizeof *place);
    if (!place || (*err = fkex_rmsg_commit_places(&c, n, place)) != FKEX_OK) {
        if (!place)
            *err = FKEX_ERR_NO_MEMORY;
        free(place);
        return 0;
    }
    /* A path commit: a slice for each member who stays, but the
     * committer, at its leaf in the new tree (its new index); no more
     * slices than those members (each slice's node covers one at least,
     * and no two the same), and none past the new tree. So the relay's
     * work on a commit stays O(n x slices) with slices < n. */
    uint32_t width = 1, kept = n - c.nremoves + c.nadds;
    while (width < kept)
        width *= 2;
    int routable = c.nslices < n - c.nremoves &&
                   (!c.nslices ||
                    load32_be(c.slices + (size_t)(c.nslices - 1) * FKEX_SLICE_BYTES) < 2 * width - 1);
    for (uint32_t i = 0; i < n && c.dist == FKEX_DIST_PATH && routable; i++)
        if (i != c.committer && place[i] != UINT32_MAX && !fkex_rmsg_commit_slice(&c, place[i]))
            routable = 0;
    free(place);
    place = NULL;
    if (!routable)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a commit without a slice for each member");
    uint32_t version = 0;
    if (c.descriptorlen && !descriptor_newer(r, c.descriptor, c.descriptorlen, &version, err)) {
        if (*err != FKEX_OK)
            return 0;
        REFUSE(FKEX_RELAY_E_BAD_DESCRIPTOR, "a commit whose descriptor is not the admin's, newer");
    }

    /* A candidate: each member of the epoch gets its view; a commit
     * without slices and removals is the same for all, stored once. */
    if ((*err = relay_store_candidate_put(r->store, r->room_id, hash, c.epoch, c.committer, msg,
                                          len)) != FKEX_OK)
        return 0;
    for (uint32_t a = 0; a < c.nadds; a++) {   /* its joiners wait for it to settle */
        uint8_t id[32];
        relay_store_join *j;
        leaf_id(id, c.adds + 64 * a);
        j = join_by_id(r, id);
        j->state = RELAY_JOIN_PROPOSED;
        if ((*err = relay_store_join_put(r->store, r->room_id, j)) != FKEX_OK)
            return 0;
    }
    uint64_t seq = r->next_seq++;
    out->seq = seq;
    if (c.nslices == 0 && c.nremoves == 0) {
        if ((*err = relay_store_log_append(r->store, r->room_id, seq, NULL, msg, len)) != FKEX_OK)
            return 0;
        const uint8_t *f = out_frame(out, msg, len);
        for (uint32_t i = 0; i < n; i++)
            if ((*err = out_add(out, r->members[i].v, seq, f, len)) != FKEX_OK)
                return 0;
    } else if ((place = malloc(((size_t)n + 1) * sizeof *place)) == NULL) {
        *err = FKEX_ERR_NO_MEMORY;
    } else if ((*err = fkex_rmsg_commit_places(&c, n, place)) == FKEX_OK) {
        /* Each member its own slice, found by its leaf after the commit. */
        for (uint32_t i = 0; i < n && *err == FKEX_OK; i++) {
            uint8_t *view;
            size_t vlen;
            if ((*err = fkex_rmsg_commit_view(&view, &vlen, msg, &c, place[i])) != FKEX_OK)
                break;
            *err = addressed(r, r->members[i].v, seq, view, vlen, out);
            free(view);
        }
    }
    free(place);
    return 0;
}

/* Settles the epoch on candidate c (its bytes msg, hash), acknowledged by
 * ack: SETTLED to every member of the epoch (the removed ones learn it
 * so), the descriptor it carries, the roster as the members' moves
 * (gke/roster.c: removals, highest first, filled from the end; joiners
 * appended; an Update re-binds its committer's V, out->rebind), every
 * other candidate lost, its Welcomes released, then the ack to the new
 * roster. */
static fkex_err settle(relay_room *r, const fkex_rmsg_commit *c, const uint8_t hash[32],
                       const uint8_t *ack, size_t acklen, uint64_t now, relay_out *out)
{
    fkex_rmsg_settled m = { 0 };
    fkex_writer w;
    fkex_err err;
    uint32_t n = r->nmembers, version;
    memcpy(m.room_id, r->room_id, 32);
    m.epoch = r->epoch;
    memcpy(m.commit_hash, hash, 32);
    fkex_writer_init(&w);
    fkex_rmsg_settled_encode(&w, &m);
    if (w.failed)
        return FKEX_ERR_NO_MEMORY;
    err = relay_room_broadcast(r, w.buf, w.len, out);
    fkex_writer_free(&w);
    if (err != FKEX_OK)
        return err;
    uint64_t seq = out->seq;
    if (c->descriptorlen) {
        fkex_rmsg_descriptor p;
        if (!descriptor_newer(r, c->descriptor, c->descriptorlen, &version, &err))
            return err != FKEX_OK ? err : FKEX_ERR_REPLAY;   /* another descriptor came first */
        if ((err = relay_store_descriptor_set(r->store, r->room_id, c->descriptor,
                                              c->descriptorlen)) != FKEX_OK)
            return err;
        crypto_hash_sha256(r->desc_hash, c->descriptor, c->descriptorlen);
        out->installed = version;
        if (r->pending && (fkex_rmsg_descriptor_decode(&p, r->pending, r->pendinglen) != FKEX_OK ||
                           p.version <= version)) {
            if ((err = relay_store_pending_delete(r->store, r->room_id)) != FKEX_OK)
                return err;
            free(r->pending);   /* (a failed step rereads it from the store) */
            r->pending = NULL;
            r->pendinglen = 0;
        }
    }
    if ((err = relay_store_commit_put(r->store, r->room_id, hash, c->epoch, 1, seq)) != FKEX_OK ||
        (err = relay_store_candidates_end(r->store, r->room_id, hash, c->epoch)) != FKEX_OK)
        return err;

    relay_member *next = malloc(((size_t)n + c->nadds + 1) * sizeof *next);
    relay_store_member *rows = malloc(((size_t)n + c->nadds + 1) * sizeof *rows);
    uint32_t k = n;
    if (!next || !rows) {
        free(next);
        free(rows);
        return FKEX_ERR_NO_MEMORY;
    }
    memcpy(next, r->members, (size_t)n * sizeof *next);
    if (c->has_update) {
        /* The committer is known by its new V from now on, SETTLED too. */
        out->rebind = 1;
        memcpy(out->rebind_from, next[c->committer].v, 32);
        memcpy(out->rebind_to, c->update_sig_pk, 32);
        memcpy(next[c->committer].v, c->update_sig_pk, 32);
        for (size_t d = 0; d < out->n; d++)
            if (memcmp(out->d[d].to, out->rebind_from, 32) == 0)
                memcpy(out->d[d].to, out->rebind_to, 32);
    }
    for (uint32_t x = c->nremoves; x-- > 0;)
        next[load32_be(c->removes + 4 * x)] = next[--k];
    for (uint32_t a = 0; a < c->nadds; a++, k++) {
        memset(&next[k], 0, sizeof next[k]);
        memcpy(next[k].v, c->adds + 64 * a, 32);
        next[k].since = seq;
    }
    for (uint32_t i = 0; i < k; i++) {
        memcpy(rows[i].v, next[i].v, 32);
        rows[i].since = next[i].since;
        rows[i].kicked = next[i].kicked;
    }
    err = relay_store_members_put(r->store, r->room_id, rows, k);
    free(rows);
    free(r->members);
    r->members = next;
    r->nmembers = k;
    r->epoch++;
    memcpy(r->settled, hash, 32);
    r->has_settled = 1;
    free(r->self_ack);
    r->self_ack = NULL;
    if (err != FKEX_OK)
        return err;
    /* Its joiners are added: their Welcomes are due. */
    for (uint32_t a = 0; a < c->nadds; a++) {
        uint8_t id[32];
        relay_store_join *j;
        leaf_id(id, c->adds + 64 * a);
        if ((j = join_by_id(r, id)) != NULL) {
            j->state = RELAY_JOIN_ADDED;
            if ((err = relay_store_join_put(r->store, r->room_id, j)) != FKEX_OK)
                return err;
        }
    }
    release_ctx rc = { r, out };
    if ((err = relay_store_held_take(r->store, r->room_id, hash, release, &rc)) != FKEX_OK ||
        (err = relay_room_broadcast(r, ack, acklen, out)) != FKEX_OK)
        return err;
    /* Every other join's Challenge named the epoch that ended (and a
     * losing commit took its Welcome with it): each starts over with its
     * sponsor, if that one stays online, or the next one. A sponsor drops
     * its admissions when it installs the epoch, which it does on the
     * SETTLED before these. */
    for (size_t x = 0; x < r->njoins && err == FKEX_OK; x++) {
        relay_store_join *j = &r->joins[x];
        if (j->state != RELAY_JOIN_ADDED && (j->has_sponsor || !r->pending))
            err = reroute_join(r, j, j->has_sponsor ? relay_room_member(r, j->sponsor) : -1, now,
                               out);
    }
    return err;
}

/* 1 if a member that c keeps, other than its committer, is connected:
 * one that could acknowledge c, and has not yet. */
static int others_connected(const relay_room *r, const fkex_rmsg_commit *c)
{
    for (uint32_t i = 0, rm = 0; i < r->nmembers; i++) {
        if (rm < c->nremoves && load32_be(c->removes + 4 * rm) == i) {
            rm++;
            continue;
        }
        if (i != c->committer && r->members[i].connected)
            return 1;
    }
    return 0;
}

/* An EpochAck. For the commit that settled the current epoch: taken, and
 * not passed on (the one that settled it was: every member checks one
 * other member's ack per epoch, not n of them, which would be n^2
 * deliveries an epoch). For a candidate of the current epoch: the first from a
 * member of the epoch other than its committer, and not removed by it,
 * settles the epoch on it (one that departs, falling out of a
 * re-attestation, too); the committer's own settles it at once only when
 * nobody else who stays is connected, else after the sponsor timeout
 * (relay_room_tick), so that a member cannot settle its own junk over
 * members who refused it and committed their own meanwhile. The relay checks the signature
 * (by the sender's V of the new epoch); the MAC is the members'. */
static int epoch_ack(relay_room *r, const uint8_t from[32], const uint8_t *msg, size_t len,
                     uint64_t now, relay_out *out, fkex_err *err)
{
    fkex_rmsg_epoch_ack m;
    fkex_rmsg_commit c;
    uint8_t *commit;
    size_t commitlen;
    long i;
    if (fkex_rmsg_epoch_ack_decode(&m, msg, len) != FKEX_OK)
        REFUSE(FKEX_RELAY_E_BAD_FRAME, "a malformed EpochAck");
    if (m.epoch == r->epoch && r->has_settled && memcmp(m.commit_hash, r->settled, 32) == 0) {
        if (relay_room_member(r, from) < 0)
            REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "only members send to the room");
        return 0;   /* taken, not passed on (out->seq 0): the settling one was */
    }
    if (m.epoch != r->epoch + 1)
        REFUSE(FKEX_RELAY_E_STALE, "an EpochAck for another epoch");
    if ((i = relay_room_member(r, from)) < 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "only members acknowledge");
    if ((*err = relay_store_candidate_get(r->store, r->room_id, m.commit_hash, &commit,
                                          &commitlen)) != FKEX_OK)
        return 0;
    if (!commit)
        REFUSE(FKEX_RELAY_E_STALE, "an EpochAck for a commit that is not a candidate");
    int code = 0;
    if (fkex_rmsg_commit_decode(&c, commit, commitlen) != FKEX_OK) {
        *err = FKEX_ERR_IO;   /* the store gave back what it did not take */
        goto done;
    }
    for (uint32_t x = 0; x < c.nremoves; x++)
        if (load32_be(c.removes + 4 * x) == (uint32_t)i) {
            out->why = "an EpochAck from a member its commit removes";
            code = FKEX_RELAY_E_NOT_ROUTABLE;
            goto done;
        }
    int own = (uint32_t)i == c.committer;
    if (fkex_sign_verify(m.sig, own && c.has_update ? c.update_sig_pk : from, "epoch ack", msg,
                         m.signed_len) != 0) {
        out->why = "an EpochAck its sender did not sign";
        code = FKEX_RELAY_E_NOT_ROUTABLE;
        goto done;
    }
    if (own && others_connected(r, &c)) {
        /* Kept (out->seq 0): it settles if none of them acks within the
         * sponsor timeout, or they all go (relay_room_tick). */
        if (r->self_ack)
            goto done;   /* the first one's clock runs: a later one resets nothing */
        if (!(r->self_ack = malloc(len))) {
            *err = FKEX_ERR_NO_MEMORY;
            goto done;
        }
        memcpy(r->self_ack, msg, len);
        r->self_ack_len = len;
        r->self_ack_at = now ? now : 1;
        goto done;
    }
    *err = settle(r, &c, m.commit_hash, msg, len, now, out);
done:
    free(commit);
    return code;
}

static int broadcast(relay_room *r, const uint8_t from[32], const uint8_t *msg, size_t len,
                     relay_out *out, fkex_err *err)
{
    if (relay_room_member(r, from) < 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "only members send to the room");
    *err = relay_room_broadcast(r, msg, len, out);
    return 0;
}

fkex_err relay_room_broadcast(relay_room *r, const uint8_t *msg, size_t len, relay_out *out)
{
    fkex_err err;
    out->seq = r->next_seq++;
    if ((err = relay_store_log_append(r->store, r->room_id, out->seq, NULL, msg, len)) != FKEX_OK)
        return err;
    const uint8_t *f = out_frame(out, msg, len);
    for (uint32_t i = 0; i < r->nmembers; i++)
        if ((err = out_add(out, r->members[i].v, out->seq, f, len)) != FKEX_OK)
            return err;
    return FKEX_OK;
}

int relay_room_kick(relay_room *r, const uint8_t *kick, size_t len, relay_out *out)
{
    fkex_rmsg_kick k;
    fkex_rmsg_descriptor d;
    relay_store_member *rows;
    uint8_t *desc = NULL;
    size_t desclen;
    long target = -1;
    fkex_err err;
    relay_out_clear(out);
    if (r->failed)
        REFUSE(FKEX_RELAY_E_INTERNAL, OUT_OF_SERVICE);
    if (r->seed)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a seed-mode room has no kick");
    if (relay_store_room_get(r->store, r->room_id, NULL, NULL, &desc, &desclen) != FKEX_OK)
        REFUSE(FKEX_RELAY_E_INTERNAL, "the relay could not read the room");
    err = fkex_rmsg_descriptor_decode(&d, desc, desclen);
    if (err == FKEX_OK)
        err = fkex_room_kick_check(&k, r->room_id, d.admin_pk, kick, len);
    free(desc);
    if (err != FKEX_OK)
        REFUSE(FKEX_RELAY_E_BAD_DESCRIPTOR, "a kick that is not the room's admin's");
    for (uint32_t i = 0; i < r->nmembers; i++)
        if (memcmp(r->members[i].v, k.pseudonym, FKEX_PSEUDONYM_BYTES) == 0) {
            if (target >= 0)
                REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "two members have that pseudonym");
            target = (long)i;
        }
    if (target < 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "no member of the room has that pseudonym");
    if (r->members[target].kicked)
        REFUSE(FKEX_RELAY_E_STALE, "that member was kicked already");
    if (!(rows = malloc(r->nmembers * sizeof *rows)))
        REFUSE(FKEX_RELAY_E_INTERNAL, "out of memory");
    for (uint32_t i = 0; i < r->nmembers; i++) {
        memcpy(rows[i].v, r->members[i].v, 32);
        rows[i].since = r->members[i].since;
        rows[i].kicked = r->members[i].kicked || (long)i == target;
    }
    if ((err = relay_store_begin(r->store)) == FKEX_OK &&
        (err = relay_store_members_put(r->store, r->room_id, rows, r->nmembers)) == FKEX_OK)
        err = relay_room_broadcast(r, kick, len, out);
    free(rows);
    if (err == FKEX_OK)
        r->members[target].kicked = 1;   /* (a failed step rereads it from the store) */
    return relay_room_step_end(r, 0, err, out);
}

/* Ends a step: prunes, stores the room's counters, commits; or, if the
 * step failed, rolls back and rereads the room. A durable refusal (a
 * commit that lost) is committed too, with nothing delivered. */
static int finish(relay_room *r, int code, fkex_err err, relay_out *out, int durable)
{
    if (code && durable && err == FKEX_OK) {
        err = relay_store_commit(r->store);
        if (err == FKEX_OK) {
            const char *why = out->why;
            relay_out_clear(out);
            out->why = why;
            return code;
        }
        code = 0;
    }
    if (code == 0 && err == FKEX_OK && r->next_seq > r->keep)
        err = relay_store_log_prune(r->store, r->room_id, r->next_seq - r->keep);
    if (code == 0 && err == FKEX_OK)
        err = relay_store_room_set(r->store, r->room_id, r->epoch, r->next_seq);
    if (code == 0 && err == FKEX_OK)
        err = relay_store_commit(r->store);
    if (code == 0 && err == FKEX_OK)
        return 0;
    relay_store_rollback(r->store);
    if (err != FKEX_OK) {
        /* Memory ran ahead of the store: reread it, or refuse from now on. */
        if (reload(r) != FKEX_OK)
            r->failed = 1;
        relay_out_clear(out);
        out->why = "the relay could not store the message";
        return FKEX_RELAY_E_INTERNAL;
    }
    relay_out_clear(out);
    return code;
}

int relay_room_submit(relay_room *r, const uint8_t from[32], const uint8_t source[16],
                      const uint8_t *msg, size_t len, uint64_t now, relay_out *out)
{
    fkex_rmsg_type type;
    uint8_t room_id[32];
    fkex_err err = FKEX_OK;
    int code, durable = 0;
    const char *why;
    relay_out_clear(out);
    if (r->failed)
        REFUSE(FKEX_RELAY_E_INTERNAL, OUT_OF_SERVICE);
    if (r->seed)
        return relay_seed_submit(r, from, msg, len, out);
    if (len > FKEX_RELAY_MESSAGE_MAX || fkex_rmsg_peek(&type, room_id, msg, len) != FKEX_OK)
        REFUSE(FKEX_RELAY_E_BAD_FRAME, "not a room message");
    if (type == FKEX_RMSG_DESCRIPTOR)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a descriptor is not sent to a room");
    if (memcmp(room_id, r->room_id, 32) != 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a message for another room");
    long self = relay_room_member(r, from);
    if (self >= 0 && r->members[self].kicked)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "the room's admin removed this member");
    if ((err = relay_store_begin(r->store)) != FKEX_OK)
        REFUSE(FKEX_RELAY_E_INTERNAL, "the relay could not store the message");
    switch (type) {
    case FKEX_RMSG_JOIN_REQUEST: code = join_request(r, from, source, msg, len, now, out, &err); break;
    case FKEX_RMSG_CHALLENGE:    code = challenge(r, from, msg, len, now, out, &err); break;
    case FKEX_RMSG_PROOF:        code = proof(r, from, msg, len, now, out, &err); break;
    case FKEX_RMSG_WELCOME:      code = welcome(r, from, msg, len, out, &err); break;
    case FKEX_RMSG_JOIN_REFUSED: code = join_refused(r, from, msg, len, now, out, &err); break;
    case FKEX_RMSG_COMMIT:       code = commit(r, from, msg, len, out, &err, &durable); break;
    case FKEX_RMSG_EPOCH_ACK:    code = epoch_ack(r, from, msg, len, now, out, &err); break;
    case FKEX_RMSG_SETTLED:
        code = FKEX_RELAY_E_NOT_ROUTABLE;
        out->why = "SETTLED is the relay's to say";
        break;
    case FKEX_RMSG_KICK:   /* the admin's, through KICK: a member must not replay one */
        code = FKEX_RELAY_E_NOT_ROUTABLE;
        out->why = "a kick comes from the room's admin (fkex room kick), not from a member";
        break;
    default:                     code = broadcast(r, from, msg, len, out, &err); break;
    }
    why = out->why;
    code = finish(r, code, err, out, durable);
    if (code && !out->why)
        out->why = why;
    return code;
}

int relay_room_tick(relay_room *r, uint64_t now, relay_out *out)
{
    fkex_err err = FKEX_OK;
    relay_out_clear(out);
    if (r->failed)
        REFUSE(FKEX_RELAY_E_INTERNAL, OUT_OF_SERVICE);
    if (r->seed)
        return relay_seed_tick(r, now, out);
    if (relay_store_begin(r->store) != FKEX_OK)
        REFUSE(FKEX_RELAY_E_INTERNAL, "the relay could not store the message");
    for (size_t i = 0; i < r->njoins && err == FKEX_OK;) {
        relay_store_join *j = &r->joins[i];
        if (now >= j->sent_at && now - j->sent_at >= RELAY_JOIN_EXPIRY_MS) {
            if ((err = relay_store_join_delete(r->store, r->room_id, j->joiner_id)) == FKEX_OK)
                join_forget(r, j);
            continue;
        }
        i++;
        uint64_t idle = now >= j->sent_at ? now - j->sent_at : 0;
        long s = j->has_sponsor ? relay_room_member(r, j->sponsor) : -1;
        if (j->state == RELAY_JOIN_WAITING) {
            /* No Challenge within the sponsor timeout: the next member
             * (unless it waits for a policy change to be committed). */
            if (r->pending || (j->has_sponsor && idle < r->sponsor_timeout_ms))
                continue;
            if ((s = next_sponsor(r, j)) >= 0)
                err = route_join(r, j, (uint32_t)s, now, out);
            /* else nobody else online: it keeps waiting where it is */
        } else if (j->state == RELAY_JOIN_CHALLENGED && s >= 0 && r->members[s].online &&
                   idle >= r->sponsor_timeout_ms) {
            /* The joiner never answered its Challenge (one decapsulation):
             * gone, or it could not. Its slot is freed. */
            if ((err = relay_store_join_delete(r->store, r->room_id, j->joiner_id)) == FKEX_OK)
                join_forget(r, j);
            i--;
        } else if ((j->state == RELAY_JOIN_CHALLENGED || j->state == RELAY_JOIN_PROVED) &&
                   (s < 0 || !r->members[s].online || idle >= 2 * r->sponsor_timeout_ms)) {
            /* Its sponsor went, or did not commit it (a sponsor drops
             * joins it cannot keep): it starts over, with another member
             * if one is online. */
            long to = next_sponsor(r, j);
            err = reroute_join(r, j, to >= 0 ? to : s, now, out);
        }
    }
    /* A candidate acknowledged by its committer alone settles once nobody
     * else who stays is connected to acknowledge it, or after the sponsor
     * timeout: a member that refused it (a slice that did not open) has
     * committed an Update of its own by then (chat/client.c), which the
     * others settle first; one that is frozen does not hold the room. */
    if (err == FKEX_OK && r->self_ack) {
        fkex_rmsg_epoch_ack m;
        fkex_rmsg_commit c;
        uint8_t *commit = NULL, *ack = r->self_ack;
        size_t commitlen, acklen = r->self_ack_len;
        if (fkex_rmsg_epoch_ack_decode(&m, ack, acklen) == FKEX_OK && m.epoch == r->epoch + 1)
            err = relay_store_candidate_get(r->store, r->room_id, m.commit_hash, &commit,
                                            &commitlen);
        if (err == FKEX_OK && (!commit || fkex_rmsg_commit_decode(&c, commit, commitlen) != FKEX_OK)) {
            r->self_ack = NULL;   /* of an epoch settled otherwise */
            free(ack);
        } else if (err == FKEX_OK && (!others_connected(r, &c) || now < r->self_ack_at ||
                                      now - r->self_ack_at >= r->sponsor_timeout_ms)) {
            r->self_ack = NULL;
            err = settle(r, &c, m.commit_hash, ack, acklen, now, out);
            free(ack);
        }
        free(commit);
    }
    return finish(r, 0, err, out, 0);
}

typedef struct {
    relay_out *out;
    const uint8_t *v;
    size_t bytes, max_bytes;
} replay_ctx;

static fkex_err replay_one(void *ctx, uint64_t seq, const uint8_t *frame, size_t len)
{
    replay_ctx *c = ctx;
    fkex_err err;
    if (c->max_bytes && c->bytes >= c->max_bytes) {
        c->out->more = 1;
        return FKEX_ERR_UNEXPECTED;   /* stops the store's walk: the page is full */
    }
    c->bytes += len;
    err = out_add(c->out, c->v, seq, out_frame(c->out, frame, len), len);
    return err;
}

int relay_room_replay(relay_room *r, const uint8_t v[32], uint64_t after, size_t max_bytes,
                      relay_out *out)
{
    uint64_t first;
    long i = relay_room_member(r, v);
    replay_ctx c = { out, v, 0, max_bytes };
    relay_out_clear(out);
    if (r->failed)
        REFUSE(FKEX_RELAY_E_INTERNAL, OUT_OF_SERVICE);
    if (relay_store_log_first(r->store, r->room_id, &first) != FKEX_OK)
        REFUSE(FKEX_RELAY_E_INTERNAL, "the relay could not read its log");
    /* Seqs below next_seq - keep were pruned (finish() prunes exactly so),
     * even when no row is left to show it. */
    uint64_t kept = r->next_seq > r->keep ? r->next_seq - r->keep : 1;
    if (first > kept)
        kept = first;
    if (kept > 1 && after + 1 < kept && (i < 0 || r->members[i].since + 1 < kept))
        REFUSE(FKEX_RELAY_E_HISTORY_GONE, "the frames since that seq are no longer kept");
    if (relay_store_log_replay(r->store, r->room_id, v, after,
                               i >= 0 ? r->members[i].since : UINT64_MAX, replay_one,
                               &c) != FKEX_OK && !out->more) {
        relay_out_clear(out);
        REFUSE(FKEX_RELAY_E_INTERNAL, "the relay could not read its log");
    }
    return 0;
}

/* ---- for relay/seed_room.c ------------------------------------------------------------ */

const uint8_t *relay_out_frame(relay_out *out, const uint8_t *bytes, size_t len)
{
    return out_frame(out, bytes, len);
}

fkex_err relay_out_add(relay_out *out, const uint8_t to[32], uint64_t seq, const uint8_t *bytes,
                       size_t len)
{
    return out_add(out, to, seq, bytes, len);
}

int relay_room_step_end(relay_room *r, int code, fkex_err err, relay_out *out)
{
    return finish(r, code, err, out, 0);
}
