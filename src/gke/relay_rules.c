/*
 * gke/relay_rules.c: the ratchet relay's rules (gke/relay_rules.h), over
 * a room's state in memory.
 */
#include <stdlib.h>
#include "gke/gke.h"
#include "wire/relay_msg.h"
#include "gke/relay_rules.h"

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
    free(out->rows);
    free(out->joins);
    relay_out_init(out);
}

const uint8_t *relay_out_frame(relay_out *out, const uint8_t *bytes, size_t len)
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

/* Room for one more of an array's n items of size `size`, doubling cap. */
static int grow(void **items, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? 2 * *cap : 8;
    void *t = realloc(*items, c * size);
    if (!t)
        return -1;
    *items = t;
    *cap = c;
    return 0;
}

fkex_err relay_out_add(relay_out *out, const uint8_t to[32], uint64_t seq, const uint8_t *bytes,
                       size_t len)
{
    if (!bytes || grow((void **)&out->d, out->n, &out->cap, sizeof *out->d) != 0)
        return FKEX_ERR_NO_MEMORY;
    relay_delivery *d = &out->d[out->n++];
    memcpy(d->to, to, 32);
    d->seq = seq;
    d->bytes = bytes;
    d->len = len;
    return FKEX_OK;
}

fkex_err relay_out_row(relay_out *out, const uint8_t *to, uint64_t seq, const uint8_t *bytes,
                       size_t len)
{
    if (!bytes || grow((void **)&out->rows, out->nrows, &out->rowcap, sizeof *out->rows) != 0)
        return FKEX_ERR_NO_MEMORY;
    relay_row *w = &out->rows[out->nrows++];
    memset(w, 0, sizeof *w);
    w->seq = seq;
    w->to_all = to == NULL;
    if (to)
        memcpy(w->to, to, 32);
    w->bytes = bytes;
    w->len = len;
    return FKEX_OK;
}

/* Join id moved (or went): the store writes it again (or deletes it). */
static fkex_err join_touched(relay_out *out, const uint8_t id[32])
{
    for (size_t i = 0; i < out->njoins; i++)
        if (memcmp(out->joins[i], id, 32) == 0)
            return FKEX_OK;
    if (grow((void **)&out->joins, out->njoins, &out->joincap, sizeof *out->joins) != 0)
        return FKEX_ERR_NO_MEMORY;
    memcpy(out->joins[out->njoins++], id, 32);
    return FKEX_OK;
}

/* ---- the room in memory ------------------------------------------------------------- */

void relay_rules_free_joins(relay_join *j, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(j[i].request);
    free(j);
}

void relay_rules_free_candidates(relay_candidate *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(c[i].bytes);
    free(c);
}

void relay_rules_free_held(relay_held *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(h[i].bytes);
    free(h);
}

relay_room *relay_rules_new(const uint8_t room_id[32])
{
    relay_room *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    memcpy(r->room_id, room_id, 32);
    r->next_seq = 1;
    r->sponsor_timeout_ms = RELAY_SPONSOR_TIMEOUT_MS;
    r->max_joins = RELAY_MAX_JOINS;
    return r;
}

void relay_rules_free(relay_room *r)
{
    if (!r)
        return;
    free(r->self_ack);
    free(r->members);
    free(r->lost);
    relay_rules_free_joins(r->joins, r->njoins);
    relay_rules_free_candidates(r->candidates, r->ncandidates);
    relay_rules_free_held(r->held, r->nheld);
    free(r->pending);
    free(r->desc);
    free(r);
}

fkex_err relay_rules_set_desc(relay_room *r, const uint8_t *desc, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return FKEX_ERR_NO_MEMORY;
    memcpy(copy, desc, len);
    free(r->desc);
    r->desc = copy;
    r->desclen = len;
    crypto_hash_sha256(r->desc_hash, desc, len);
    return FKEX_OK;
}

fkex_err relay_rules_create(relay_room **out, const uint8_t *desc, size_t len,
                            const uint8_t founder[32], const uint8_t sig[64])
{
    fkex_rmsg_descriptor d;
    uint8_t room_id[32];
    relay_room *r;
    fkex_err err;
    *out = NULL;
    if ((err = fkex_rmsg_descriptor_decode(&d, desc, len)) != FKEX_OK)
        return err;
    fkex_room_id(room_id, d.admin_pk, d.name, d.namelen);
    if ((err = fkex_room_descriptor_check(&d, room_id, desc, len)) != FKEX_OK)
        return err;
    if (fkex_relay_create_verify(sig, d.admin_pk, room_id, founder) != 0)
        return FKEX_ERR_AUTHENTICATION;
    if (!(r = relay_rules_new(room_id)) || !(r->members = calloc(1, sizeof *r->members)) ||
        relay_rules_set_desc(r, desc, len) != FKEX_OK) {
        relay_rules_free(r);
        return FKEX_ERR_NO_MEMORY;
    }
    /* A seed room's founder is a member once it joins, like anyone. */
    if (!(d.options & FKEX_ROOM_SEED_MODE)) {
        memcpy(r->members[0].v, founder, 32);
        r->nmembers = 1;
    }
    *out = r;
    return FKEX_OK;
}

long relay_room_member(const relay_room *r, const uint8_t v[32])
{
    for (uint32_t i = 0; i < r->nmembers; i++)
        if (memcmp(r->members[i].v, v, 32) == 0)
            return (long)i;
    return -1;
}

void relay_room_set_away(relay_room *r, const uint8_t v[32])
{
    long i = relay_room_member(r, v);
    if (i >= 0)
        r->members[i].connected = 0;
}

static relay_join *join_by_id(relay_room *r, const uint8_t id[32])
{
    for (size_t i = 0; i < r->njoins; i++)
        if (memcmp(r->joins[i].joiner_id, id, 32) == 0)
            return &r->joins[i];
    return NULL;
}

static relay_join *join_by_v(relay_room *r, const uint8_t v[32])
{
    for (size_t i = 0; i < r->njoins; i++)
        if (memcmp(r->joins[i].v, v, 32) == 0)
            return &r->joins[i];
    return NULL;
}

/* Join j is done or dropped: out of memory, and out of the store. */
static fkex_err join_forget(relay_room *r, relay_join *j, relay_out *out)
{
    fkex_err err = join_touched(out, j->joiner_id);
    free(j->request);
    *j = r->joins[--r->njoins];
    return err;
}

static relay_candidate *candidate_by_hash(relay_room *r, const uint8_t hash[32])
{
    for (size_t i = 0; i < r->ncandidates; i++)
        if (memcmp(r->candidates[i].hash, hash, 32) == 0)
            return &r->candidates[i];
    return NULL;
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

void relay_rules_join_authorities(relay_room *r)
{
    for (size_t x = 0; x < r->njoins; x++) {
        fkex_rmsg_join_request q;
        if (fkex_rmsg_join_request_decode(&q, r->joins[x].request, r->joins[x].request_len) ==
            FKEX_OK)
            (void)request_authority(r->joins[x].authority, &q);
    }
}

/* ---- steps -------------------------------------------------------------------------- */

/* A refusal: code and why. */
#define REFUSE(code, text) do { out->why = (text); return (code); } while (0)
#define DESCRIPTOR_CHANGED "the room's descriptor changed (its admin changed its policy): fetch it " \
                           "again and join under it"

/* One addressed frame under seq: a log row and a delivery. */
static fkex_err addressed(const uint8_t to[32], uint64_t seq, const uint8_t *bytes, size_t len,
                          relay_out *out)
{
    const uint8_t *f = relay_out_frame(out, bytes, len);
    fkex_err err = relay_out_row(out, to, seq, f, len);
    if (err != FKEX_OK)
        return err;
    return relay_out_add(out, to, seq, f, len);
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
static long next_sponsor(const relay_room *r, const relay_join *j)
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
static fkex_err route_join(relay_room *r, relay_join *j, uint32_t s, uint64_t now, relay_out *out)
{
    fkex_err err;
    j->has_sponsor = 1;
    memcpy(j->sponsor, r->members[s].v, 32);
    j->state = RELAY_JOIN_WAITING;
    j->sent_at = now;
    if ((err = addressed(j->sponsor, r->next_seq++, j->request, j->request_len, out)) != FKEX_OK)
        return err;
    return join_touched(out, j->joiner_id);
}

/* Join j starts over (its Challenge named an epoch that ended, or its
 * sponsor is gone or silent): its request goes to member `to` if that one
 * is online, else to the next online one, or waits for one to come. */
static fkex_err reroute_join(relay_room *r, relay_join *j, long to, uint64_t now, relay_out *out)
{
    if (to < 0 || !r->members[to].online)
        to = next_sponsor(r, j);
    if (to >= 0 && !r->pending)
        return route_join(r, j, (uint32_t)to, now, out);
    j->has_sponsor = 0;
    j->state = RELAY_JOIN_WAITING;
    j->sent_at = now;
    return join_touched(out, j->joiner_id);
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
    relay_join j = { 0 }, *old;
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
         * connection dropped): taken, and nothing kept twice; the sponsor
         * timeout sends it on if need be. */
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
    relay_join *t = realloc(r->joins, (r->njoins + 1) * sizeof *t);
    if (t)
        r->joins = t;
    if (!t || !(j.request = malloc(len))) {
        *err = FKEX_ERR_NO_MEMORY;
        return 0;
    }
    if (source)
        memcpy(j.source, source, 16);
    memcpy(j.v, from, 32);
    memcpy(j.request, msg, len);
    j.request_len = len;
    j.state = RELAY_JOIN_WAITING;
    j.sent_at = now;
    r->joins[r->njoins] = j;
    relay_join *in = &r->joins[r->njoins++];
    /* A seq (and a log row) only with a sponsor: relay_rules_tick names one
     * when a member comes online (and a commit installs a pending
     * descriptor, which no member could sponsor it under before). */
    long s = r->pending ? -1 : first_online(r);
    out->seq = s >= 0 ? r->next_seq : 0;
    *err = s >= 0 ? route_join(r, in, (uint32_t)s, now, out) : join_touched(out, in->joiner_id);
    return 0;
}

/* A step of the join handshake: the join moves to state, and msg goes on
 * to `to` with the next seq. */
static fkex_err join_step(relay_room *r, relay_join *j, int state, const uint8_t to[32],
                          const uint8_t *msg, size_t len, uint64_t now, relay_out *out)
{
    fkex_err err;
    out->seq = r->next_seq++;
    j->state = state;
    j->sent_at = now;
    if ((err = join_touched(out, j->joiner_id)) == FKEX_OK)
        err = addressed(to, out->seq, msg, len, out);
    return err;
}

static int challenge(relay_room *r, const uint8_t from[32], const uint8_t *msg, size_t len,
                     uint64_t now, relay_out *out, fkex_err *err)
{
    fkex_rmsg_challenge c;
    relay_join *j;
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
    relay_join *j;
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
    relay_join *j;
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
    if ((*err = addressed(j->v, out->seq, msg, len, out)) == FKEX_OK)
        *err = join_forget(r, j, out);
    return 0;
}

/* A released Welcome: the next seq, to its joiner, whose join is done. */
static fkex_err release(relay_room *r, const uint8_t to[32], const uint8_t *frame, size_t len,
                        relay_out *out)
{
    fkex_rmsg_welcome w;
    fkex_err err = addressed(to, r->next_seq++, frame, len, out);
    relay_join *j;
    if (err == FKEX_OK && fkex_rmsg_welcome_decode(&w, frame, len) == FKEX_OK &&
        (j = join_by_id(r, w.joiner_id)) != NULL)
        err = join_forget(r, j, out);
    return err;
}

/* The held Welcomes of commit `hash` are released, and the others kept;
 * or (!release_them) they are kept, and every other one is dropped (its
 * commit lost). */
static fkex_err held_end(relay_room *r, const uint8_t hash[32], int release_them, relay_out *out)
{
    fkex_err err = FKEX_OK;
    size_t k = 0;
    for (size_t i = 0; i < r->nheld; i++) {
        relay_held *h = &r->held[i];
        if ((memcmp(h->commit_hash, hash, 32) == 0) != release_them) {
            r->held[k++] = *h;
            continue;
        }
        if (release_them && err == FKEX_OK)
            err = release(r, h->to, h->bytes, h->len, out);
        free(h->bytes);
        out->changed |= RELAY_CHANGED_HELD;
    }
    r->nheld = k;
    return err;
}

static int welcome(relay_room *r, const uint8_t from[32], const uint8_t *msg, size_t len,
                   relay_out *out, fkex_err *err)
{
    fkex_rmsg_welcome w;
    relay_join *j;
    if (fkex_rmsg_welcome_decode(&w, msg, len) != FKEX_OK)
        REFUSE(FKEX_RELAY_E_BAD_FRAME, "a malformed Welcome");
    if (relay_room_member(r, from) < 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a Welcome from a non-member");
    if (!(j = join_by_id(r, w.joiner_id)) || memcmp(j->sponsor, from, 32) != 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a Welcome for no joiner this member sponsors");
    for (size_t i = 0; i < r->nlost; i++)
        if (memcmp(r->lost[i], w.commit_hash, 32) == 0)
            REFUSE(FKEX_RELAY_E_STALE, "a Welcome for a commit that lost");
    /* Its commit won already (a Welcome sent after the settle): to the
     * joiner now. */
    int won = j->state == RELAY_JOIN_ADDED ||
              (r->has_settled && memcmp(w.commit_hash, r->settled, 32) == 0);
    if (!won) {
        /* Held, ordered when its commit wins. A joiner has one Welcome
         * held at most (its sponsor's latest): an honest sponsor has one
         * commit in an epoch, and the rest lose at the next settle. */
        uint8_t *copy = malloc(len);
        relay_held *h = NULL;
        for (size_t i = 0; i < r->nheld && !h; i++)
            if (memcmp(r->held[i].to, j->v, 32) == 0)
                h = &r->held[i];
        if (copy && !h) {
            relay_held *t = realloc(r->held, (r->nheld + 1) * sizeof *t);
            if (t) {
                r->held = t;
                h = &r->held[r->nheld++];
                h->bytes = NULL;
            }
        }
        if (!copy || !h) {
            free(copy);
            *err = FKEX_ERR_NO_MEMORY;
            return 0;
        }
        memcpy(copy, msg, len);
        free(h->bytes);
        memcpy(h->commit_hash, w.commit_hash, 32);
        memcpy(h->to, j->v, 32);
        h->bytes = copy;
        h->len = len;
        out->changed |= RELAY_CHANGED_HELD;
        out->seq = 0;
        return 0;
    }
    out->seq = r->next_seq;
    *err = release(r, j->v, msg, len, out);
    return 0;
}

/* 1 if desc is a descriptor of this room (the admin's signature checked)
 * with a version above the room's current one: *version gets it. */
static int descriptor_newer(const relay_room *r, const uint8_t *desc, size_t len,
                            uint32_t *version)
{
    fkex_rmsg_descriptor d, cur;
    if (fkex_room_descriptor_check(&d, r->room_id, desc, len) != FKEX_OK)
        return 0;
    *version = d.version;
    return fkex_rmsg_descriptor_decode(&cur, r->desc, r->desclen) == FKEX_OK &&
           d.version > cur.version;
}

/* Join j ends under a descriptor the room no longer takes: the joiner is
 * told, in the relay's own words, to fetch the room's newest and join
 * again (a JoinRefused, reason descriptor), and the join is forgotten. */
static fkex_err end_join(relay_room *r, relay_join *j, relay_out *out)
{
    fkex_rmsg_join_refused m = { .reason = FKEX_JOIN_REFUSED_DESCRIPTOR };
    fkex_writer w;
    fkex_err err;
    memcpy(m.room_id, r->room_id, 32);
    memcpy(m.joiner_id, j->joiner_id, 32);
    fkex_writer_init(&w);
    fkex_rmsg_join_refused_encode(&w, &m);
    err = w.failed ? FKEX_ERR_NO_MEMORY : addressed(j->v, r->next_seq++, w.buf, w.len, out);
    fkex_writer_free(&w);
    if (err == FKEX_OK)
        err = join_forget(r, j, out);
    return err;
}

int relay_rules_set_descriptor(relay_room *r, const uint8_t *desc, size_t len, relay_out *out,
                               fkex_err *err)
{
    fkex_rmsg_descriptor p;
    uint32_t version;
    uint8_t *copy;
    if (!descriptor_newer(r, desc, len, &version))
        REFUSE(FKEX_RELAY_E_BAD_DESCRIPTOR, "not this room's admin-signed descriptor of a newer "
                                            "version");
    if (r->pending && fkex_rmsg_descriptor_decode(&p, r->pending, r->pendinglen) == FKEX_OK &&
        version <= p.version)
        REFUSE(FKEX_RELAY_E_BAD_DESCRIPTOR, "a descriptor of this version or newer is pending");
    /* Only a member commits it: with nobody connected it would close the
     * room to joiners and wait for nobody. */
    if (relay_room_connected(r) == 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "no member of the room is connected to commit it; "
                                          "try again when one is");
    if (!(copy = malloc(len))) {
        *err = FKEX_ERR_NO_MEMORY;
        return 0;
    }
    memcpy(copy, desc, len);
    free(r->pending);
    r->pending = copy;
    r->pendinglen = len;
    r->pending_sent_at = 0;
    r->pending_turn = 0;
    crypto_hash_sha256(r->pending_hash, desc, len);
    out->changed |= RELAY_CHANGED_PENDING;
    /* Joins under way under the policy it replaces end here: each joiner
     * is told, in the relay's words, to fetch the new descriptor. Those a
     * candidate commit adds go on; the re-attestation the change forces
     * checks them with everyone. */
    r->pending_asked = 0;
    for (size_t i = 0; i < r->njoins && *err == FKEX_OK;) {
        if (r->joins[i].state == RELAY_JOIN_PROPOSED || r->joins[i].state == RELAY_JOIN_ADDED) {
            i++;
            continue;
        }
        *err = end_join(r, &r->joins[i], out);
    }
    return 0;
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

fkex_err relay_rules_drop_pending(relay_room *r, uint32_t *version, relay_out *out)
{
    fkex_err err = FKEX_OK;
    *version = pending_version(r);
    if (!r->pending)
        return FKEX_OK;
    free(r->pending);
    r->pending = NULL;
    r->pendinglen = 0;
    out->changed |= RELAY_CHANGED_PENDING;
    /* The joins that waited for it named it: each is told to fetch the
     * room's descriptor again. */
    for (size_t i = 0; i < r->njoins && err == FKEX_OK;) {
        if (r->joins[i].has_sponsor) {
            i++;
            continue;
        }
        err = end_join(r, &r->joins[i], out);
    }
    return err;
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

/* Commits by member `committer` among the candidates. */
static size_t candidates_by(const relay_room *r, uint32_t committer)
{
    size_t n = 0;
    for (size_t i = 0; i < r->ncandidates; i++)
        n += r->candidates[i].committer == committer;
    return n;
}

/* A candidate commit (PROTOCOL.md, version 2): checked as far as the
 * relay can (layout, this epoch, the named committer's signature over the
 * whole commit, the roster's arithmetic, one slice per member who stays),
 * kept whole and passed on, each member of the epoch getting its view.
 * The epoch is settled later, by the first EpochAck (epoch_ack). */
static int commit(relay_room *r, const uint8_t from[32], const uint8_t *msg, size_t len,
                  relay_out *out, fkex_err *err)
{
    fkex_rmsg_commit c;
    uint8_t hash[32];
    if (fkex_rmsg_commit_decode(&c, msg, len) != FKEX_OK)
        REFUSE(FKEX_RELAY_E_BAD_FRAME, "a malformed commit");
    /* Only members' commits are looked at, even to be refused as stale. */
    if (relay_room_member(r, from) < 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "only members commit");
    crypto_hash_sha256(hash, msg, c.content_len);
    if (r->has_settled && memcmp(hash, r->settled, 32) == 0)
        REFUSE(FKEX_RELAY_E_STALE, "this commit was settled already");
    if (candidate_by_hash(r, hash))
        return 0;   /* sent again after a reconnection: taken once (out->seq 0) */
    if (c.epoch != r->epoch)   /* it lost, or never could win */
        REFUSE(FKEX_RELAY_E_STALE, "a commit for another epoch: another commit won");
    uint32_t n = r->nmembers;
    if (c.committer >= n || memcmp(r->members[c.committer].v, from, 32) != 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a commit from another member than its committer");
    if (candidates_by(r, c.committer))   /* so that one member cannot bury the others' commits */
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
        relay_join *j;
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
    if (!routable) {
        free(place);
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a commit without a slice for each member");
    }
    uint32_t version = 0;
    if (c.descriptorlen && !descriptor_newer(r, c.descriptor, c.descriptorlen, &version)) {
        free(place);
        REFUSE(FKEX_RELAY_E_BAD_DESCRIPTOR, "a commit whose descriptor is not the admin's, newer");
    }

    /* A candidate: each member of the epoch gets its view; a commit
     * without slices and removals is the same for all, one row. */
    relay_candidate *t = realloc(r->candidates, (r->ncandidates + 1) * sizeof *t);
    if (t)
        r->candidates = t;
    uint8_t *copy = t ? malloc(len) : NULL;
    if (!copy) {
        free(place);
        *err = FKEX_ERR_NO_MEMORY;
        return 0;
    }
    memcpy(copy, msg, len);
    relay_candidate *k = &r->candidates[r->ncandidates++];
    memcpy(k->hash, hash, 32);
    k->epoch = c.epoch;
    k->committer = c.committer;
    k->bytes = copy;
    k->len = len;
    out->changed |= RELAY_CHANGED_CANDIDATES;
    for (uint32_t a = 0; a < c.nadds && *err == FKEX_OK; a++) {   /* its joiners wait for it */
        uint8_t id[32];
        relay_join *j;
        leaf_id(id, c.adds + 64 * a);
        j = join_by_id(r, id);
        j->state = RELAY_JOIN_PROPOSED;
        *err = join_touched(out, j->joiner_id);
    }
    uint64_t seq = r->next_seq++;
    out->seq = seq;
    if (*err != FKEX_OK) {
    } else if (c.nslices == 0 && c.nremoves == 0) {
        const uint8_t *f = relay_out_frame(out, msg, len);
        *err = relay_out_row(out, NULL, seq, f, len);
        for (uint32_t i = 0; i < n && *err == FKEX_OK; i++)
            *err = relay_out_add(out, r->members[i].v, seq, f, len);
    } else {
        /* Each member its own slice, found by its leaf after the commit. */
        for (uint32_t i = 0; i < n && *err == FKEX_OK; i++) {
            uint8_t *view;
            size_t vlen;
            if ((*err = fkex_rmsg_commit_view(&view, &vlen, msg, &c, place[i])) != FKEX_OK)
                break;
            *err = addressed(r->members[i].v, seq, view, vlen, out);
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
    err = relay_rules_broadcast(r, w.buf, w.len, out);
    fkex_writer_free(&w);
    if (err != FKEX_OK)
        return err;
    uint64_t seq = out->seq;
    if (c->descriptorlen) {
        fkex_rmsg_descriptor p;
        if (!descriptor_newer(r, c->descriptor, c->descriptorlen, &version))
            return FKEX_ERR_REPLAY;   /* checked when it came; nothing installs another */
        if ((err = relay_rules_set_desc(r, c->descriptor, c->descriptorlen)) != FKEX_OK)
            return err;
        out->changed |= RELAY_CHANGED_DESCRIPTOR;
        out->installed = version;
        if (r->pending && (fkex_rmsg_descriptor_decode(&p, r->pending, r->pendinglen) != FKEX_OK ||
                           p.version <= version)) {
            free(r->pending);
            r->pending = NULL;
            r->pendinglen = 0;
            out->changed |= RELAY_CHANGED_PENDING;
        }
    }
    /* Every other candidate lost, and every Welcome but the winner's with
     * it: no commit of the epoch that ends can win any more. */
    if ((err = held_end(r, hash, 0, out)) != FKEX_OK)
        return err;

    relay_member *next = malloc(((size_t)n + c->nadds + 1) * sizeof *next);
    uint32_t k = n;
    if (!next)
        return FKEX_ERR_NO_MEMORY;
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
    free(r->members);
    r->members = next;
    r->nmembers = k;
    r->epoch++;
    memcpy(r->settled, hash, 32);
    r->has_settled = 1;
    out->changed |= RELAY_CHANGED_MEMBERS | RELAY_CHANGED_SETTLED | RELAY_CHANGED_CANDIDATES;
    out->settled_seq = seq;
    free(r->self_ack);
    r->self_ack = NULL;
    /* Its joiners are added: their Welcomes are due. */
    for (uint32_t a = 0; a < c->nadds && err == FKEX_OK; a++) {
        uint8_t id[32];
        relay_join *j;
        leaf_id(id, c->adds + 64 * a);
        if ((j = join_by_id(r, id)) != NULL) {
            j->state = RELAY_JOIN_ADDED;
            err = join_touched(out, j->joiner_id);
        }
    }
    if (err == FKEX_OK)
        err = held_end(r, hash, 1, out);
    /* The candidates are done (c points into one: free them last). */
    if (err == FKEX_OK)
        err = relay_rules_broadcast(r, ack, acklen, out);
    /* Every other join's Challenge named the epoch that ended (and a
     * losing commit took its Welcome with it): each starts over with its
     * sponsor, if that one stays online, or the next one. A sponsor drops
     * its admissions when it installs the epoch, which it does on the
     * SETTLED before these. */
    for (size_t x = 0; x < r->njoins && err == FKEX_OK; x++) {
        relay_join *j = &r->joins[x];
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

/* Settles on candidate k (its commit c): the others lost, and the
 * candidates are forgotten. The candidate's bytes, which c points into,
 * live until then. */
static fkex_err settle_on(relay_room *r, relay_candidate *k, const fkex_rmsg_commit *c,
                          const uint8_t *ack, size_t acklen, uint64_t now, relay_out *out)
{
    relay_candidate *all = r->candidates;
    size_t n = r->ncandidates;
    uint8_t hash[32], (*lost)[32] = malloc(n * sizeof *lost);
    size_t nlost = 0;
    if (!lost)
        return FKEX_ERR_NO_MEMORY;
    memcpy(hash, k->hash, 32);
    for (size_t i = 0; i < n; i++)
        if (&all[i] != k)
            memcpy(lost[nlost++], all[i].hash, 32);
    free(r->lost);
    r->lost = lost;
    r->nlost = nlost;
    r->candidates = NULL;   /* the state holds none from here, whatever happens */
    r->ncandidates = 0;
    fkex_err err = settle(r, c, hash, ack, acklen, now, out);
    relay_rules_free_candidates(all, n);
    return err;
}

/* An EpochAck. For the commit that settled the current epoch: taken, and
 * not passed on (the one that settled it was: every member checks one
 * other member's ack per epoch, not n of them, which would be n^2
 * deliveries an epoch). For a candidate of the current epoch: the first from a
 * member of the epoch other than its committer, and not removed by it,
 * settles the epoch on it (one that departs, falling out of a
 * re-attestation, too); the committer's own settles it at once only when
 * nobody else who stays is connected, else after the sponsor timeout
 * (relay_rules_tick), so that a member cannot settle its own junk over
 * members who refused it and committed their own meanwhile. The relay checks the signature
 * (by the sender's V of the new epoch); the MAC is the members'. */
static int epoch_ack(relay_room *r, const uint8_t from[32], const uint8_t *msg, size_t len,
                     uint64_t now, relay_out *out, fkex_err *err)
{
    fkex_rmsg_epoch_ack m;
    fkex_rmsg_commit c;
    relay_candidate *k;
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
    if (!(k = candidate_by_hash(r, m.commit_hash)))
        REFUSE(FKEX_RELAY_E_STALE, "an EpochAck for a commit that is not a candidate");
    if (fkex_rmsg_commit_decode(&c, k->bytes, k->len) != FKEX_OK) {
        *err = FKEX_ERR_UNEXPECTED;   /* a candidate decoded when it came */
        return 0;
    }
    for (uint32_t x = 0; x < c.nremoves; x++)
        if (load32_be(c.removes + 4 * x) == (uint32_t)i)
            REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "an EpochAck from a member its commit removes");
    int own = (uint32_t)i == c.committer;
    if (fkex_sign_verify(m.sig, own && c.has_update ? c.update_sig_pk : from, "epoch ack", msg,
                         m.signed_len) != 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "an EpochAck its sender did not sign");
    if (own && others_connected(r, &c)) {
        /* Kept (out->seq 0): it settles if none of them acks within the
         * sponsor timeout, or they all go (relay_rules_tick). */
        if (r->self_ack)
            return 0;   /* the first one's clock runs: a later one resets nothing */
        if (!(r->self_ack = malloc(len))) {
            *err = FKEX_ERR_NO_MEMORY;
            return 0;
        }
        memcpy(r->self_ack, msg, len);
        r->self_ack_len = len;
        r->self_ack_at = now ? now : 1;
        return 0;
    }
    *err = settle_on(r, k, &c, msg, len, now, out);
    return 0;
}

fkex_err relay_rules_broadcast(relay_room *r, const uint8_t *msg, size_t len, relay_out *out)
{
    fkex_err err;
    const uint8_t *f = relay_out_frame(out, msg, len);
    out->seq = r->next_seq++;
    if ((err = relay_out_row(out, NULL, out->seq, f, len)) != FKEX_OK)
        return err;
    for (uint32_t i = 0; i < r->nmembers; i++)
        if ((err = relay_out_add(out, r->members[i].v, out->seq, f, len)) != FKEX_OK)
            return err;
    return FKEX_OK;
}

static int broadcast(relay_room *r, const uint8_t from[32], const uint8_t *msg, size_t len,
                     relay_out *out, fkex_err *err)
{
    if (relay_room_member(r, from) < 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "only members send to the room");
    *err = relay_rules_broadcast(r, msg, len, out);
    return 0;
}

int relay_rules_kick(relay_room *r, const uint8_t *kick, size_t len, relay_out *out,
                     fkex_err *err)
{
    fkex_rmsg_kick k;
    fkex_rmsg_descriptor d;
    long target = -1;
    if (fkex_rmsg_descriptor_decode(&d, r->desc, r->desclen) != FKEX_OK ||
        fkex_room_kick_check(&k, r->room_id, d.admin_pk, kick, len) != FKEX_OK)
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
    r->members[target].kicked = 1;
    out->changed |= RELAY_CHANGED_MEMBERS;
    *err = relay_rules_broadcast(r, kick, len, out);
    return 0;
}

int relay_rules_submit(relay_room *r, const uint8_t from[32], const uint8_t source[16],
                       const uint8_t *msg, size_t len, uint64_t now, relay_out *out,
                       fkex_err *err)
{
    fkex_rmsg_type type;
    uint8_t room_id[32];
    if (len > FKEX_RELAY_MESSAGE_MAX || fkex_rmsg_peek(&type, room_id, msg, len) != FKEX_OK)
        REFUSE(FKEX_RELAY_E_BAD_FRAME, "not a room message");
    if (type == FKEX_RMSG_DESCRIPTOR)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a descriptor is not sent to a room");
    if (memcmp(room_id, r->room_id, 32) != 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a message for another room");
    long self = relay_room_member(r, from);
    if (self >= 0 && r->members[self].kicked)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "the room's admin removed this member");
    switch (type) {
    case FKEX_RMSG_JOIN_REQUEST: return join_request(r, from, source, msg, len, now, out, err);
    case FKEX_RMSG_CHALLENGE:    return challenge(r, from, msg, len, now, out, err);
    case FKEX_RMSG_PROOF:        return proof(r, from, msg, len, now, out, err);
    case FKEX_RMSG_WELCOME:      return welcome(r, from, msg, len, out, err);
    case FKEX_RMSG_JOIN_REFUSED: return join_refused(r, from, msg, len, now, out, err);
    case FKEX_RMSG_COMMIT:       return commit(r, from, msg, len, out, err);
    case FKEX_RMSG_EPOCH_ACK:    return epoch_ack(r, from, msg, len, now, out, err);
    case FKEX_RMSG_SETTLED:
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "SETTLED is the relay's to say");
    case FKEX_RMSG_KICK:   /* the admin's, through KICK: a member must not replay one */
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE,
               "a kick comes from the room's admin (fkex room kick), not from a member");
    default:                     return broadcast(r, from, msg, len, out, err);
    }
}

fkex_err relay_rules_tick(relay_room *r, uint64_t now, relay_out *out)
{
    fkex_err err = FKEX_OK;
    for (size_t i = 0; i < r->njoins && err == FKEX_OK;) {
        relay_join *j = &r->joins[i];
        if (now >= j->sent_at && now - j->sent_at >= RELAY_JOIN_EXPIRY_MS) {
            err = join_forget(r, j, out);
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
            err = join_forget(r, j, out);
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
        relay_candidate *k = NULL;
        uint8_t *ack = r->self_ack;
        size_t acklen = r->self_ack_len;
        if (fkex_rmsg_epoch_ack_decode(&m, ack, acklen) == FKEX_OK && m.epoch == r->epoch + 1)
            k = candidate_by_hash(r, m.commit_hash);
        if (!k || fkex_rmsg_commit_decode(&c, k->bytes, k->len) != FKEX_OK) {
            r->self_ack = NULL;   /* of an epoch settled otherwise */
            free(ack);
        } else if (!others_connected(r, &c) || now < r->self_ack_at ||
                   now - r->self_ack_at >= r->sponsor_timeout_ms) {
            r->self_ack = NULL;
            err = settle_on(r, k, &c, ack, acklen, now, out);
            free(ack);
        }
    }
    return err;
}

/* ---- presence ------------------------------------------------------------------------ */

void relay_rules_set_online(relay_room *r, const uint8_t v[32], int online)
{
    long i = relay_room_member(r, v);
    if (i >= 0)
        r->members[i].online = r->members[i].connected = online;
}
