/*
 * relay/room.c: a room of the SQLite relay (relay/room.h): the rules'
 * steps, each persisted in one transaction.
 */
#include <stdlib.h>
#include "gke/gke.h"
#include "wire/relay_msg.h"
#include "relay/room.h"
#include "relay/seed_room.h"

#define REFUSE(code, text) do { out->why = (text); return (code); } while (0)
#define NOT_STORED "the relay could not store the message"

/* ---- the state, from the store ------------------------------------------------------ */

/* (Re)reads everything but the online flags, which it keeps by V. */
static fkex_err reload(relay_room *r)
{
    relay_member *m;
    relay_join *j;
    relay_candidate *c;
    relay_held *h;
    uint32_t n;
    size_t nj, nc, nh;
    uint64_t epoch, next;
    fkex_err err;
    uint8_t *pending, *desc;
    size_t pendinglen, desclen;
    if ((err = relay_store_room_get(r->store, r->room_id, &epoch, &next, &desc, &desclen)) != FKEX_OK)
        return err;
    err = relay_rules_set_desc(r, desc, desclen);
    free(desc);
    if (err != FKEX_OK)
        return err;
    if ((err = relay_store_pending_get(r->store, r->room_id, &pending, &pendinglen)) != FKEX_OK)
        return err;
    free(r->pending);
    r->pending = pending;
    r->pendinglen = pendinglen;
    if (pending)
        crypto_hash_sha256(r->pending_hash, pending, pendinglen);
    if ((err = relay_store_members_load(r->store, r->room_id, &m, &n)) != FKEX_OK)
        return err;
    for (uint32_t i = 0; i < n; i++) {
        long old = relay_room_member(r, m[i].v);
        m[i].online = old >= 0 && r->members[old].online;
        m[i].connected = old >= 0 && r->members[old].connected;
    }
    free(r->members);
    r->members = m;
    r->nmembers = n;
    if ((err = relay_store_joins_load(r->store, r->room_id, &j, &nj)) != FKEX_OK)
        return err;
    relay_rules_free_joins(r->joins, r->njoins);
    r->joins = j;   /* (sources are not kept across a restart) */
    r->njoins = nj;
    relay_rules_join_authorities(r);
    if ((err = relay_store_candidates_load(r->store, r->room_id, &c, &nc)) != FKEX_OK)
        return err;
    relay_rules_free_candidates(r->candidates, r->ncandidates);
    r->candidates = c;
    r->ncandidates = nc;
    if ((err = relay_store_held_load(r->store, r->room_id, &h, &nh)) != FKEX_OK)
        return err;
    relay_rules_free_held(r->held, r->nheld);
    r->held = h;
    r->nheld = nh;
    r->epoch = epoch;
    r->next_seq = next;
    free(r->self_ack);   /* an ack by a committer alone is not kept across a restart */
    r->self_ack = NULL;
    r->has_settled = 0;
    free(r->lost);
    r->lost = NULL;
    r->nlost = 0;
    if (epoch && (err = relay_store_settled_get(r->store, r->room_id, epoch - 1, r->settled,
                                                &r->has_settled, &r->lost, &r->nlost)) != FKEX_OK)
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

void relay_room_free(relay_room *r)
{
    if (!r)
        return;
    relay_seed_free(r->seed);
    relay_rules_free(r);
}

fkex_err relay_room_load(relay_room **out, relay_store *s, const uint8_t room_id[32])
{
    relay_room *r = relay_rules_new(room_id);
    fkex_err err;
    *out = NULL;
    if (!r)
        return FKEX_ERR_NO_MEMORY;
    r->store = s;
    r->keep = RELAY_LOG_KEEP;
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
    relay_room *r;
    uint8_t room_id[32];
    fkex_err err;
    *out = NULL;
    if ((err = relay_rules_create(&r, desc, len, founder, sig)) != FKEX_OK)
        return err;
    memcpy(room_id, r->room_id, 32);
    if ((err = relay_store_begin(s)) == FKEX_OK) {
        if ((err = relay_store_room_insert(s, room_id, desc, len)) != FKEX_OK ||
            (err = relay_store_members_put(s, room_id, r->members, r->nmembers)) != FKEX_OK ||
            (err = relay_store_commit(s)) != FKEX_OK)
            relay_store_rollback(s);
    }
    relay_rules_free(r);
    if (err != FKEX_OK)
        return err;
    return relay_room_load(out, s, room_id);
}

/* ---- steps -------------------------------------------------------------------------- */

/* Writes what the step changed (gke/relay_rules.h, relay_out). */
static fkex_err persist(relay_room *r, const relay_out *out)
{
    relay_store *s = r->store;
    const uint8_t *id = r->room_id;
    fkex_err err = FKEX_OK;
    for (size_t i = 0; i < out->nrows && err == FKEX_OK; i++) {
        const relay_row *w = &out->rows[i];
        err = relay_store_log_append(s, id, w->seq, w->to_all ? NULL : w->to, w->bytes, w->len);
    }
    for (size_t i = 0; i < out->njoins && err == FKEX_OK; i++) {
        size_t x = 0;
        while (x < r->njoins && memcmp(r->joins[x].joiner_id, out->joins[i], 32) != 0)
            x++;
        err = x < r->njoins ? relay_store_join_put(s, id, &r->joins[x])
                            : relay_store_join_delete(s, id, out->joins[i]);
    }
    if (err == FKEX_OK && (out->changed & RELAY_CHANGED_MEMBERS))
        err = relay_store_members_put(s, id, r->members, r->nmembers);
    if (err == FKEX_OK && (out->changed & RELAY_CHANGED_DESCRIPTOR))
        err = relay_store_descriptor_set(s, id, r->desc, r->desclen);
    if (err == FKEX_OK && (out->changed & RELAY_CHANGED_PENDING))
        err = r->pending ? relay_store_pending_put(s, id, r->pending, r->pendinglen)
                         : relay_store_pending_delete(s, id);
    if (err == FKEX_OK && (out->changed & RELAY_CHANGED_CANDIDATES))
        err = relay_store_candidates_put(s, id, r->candidates, r->ncandidates);
    if (err == FKEX_OK && (out->changed & RELAY_CHANGED_HELD))
        err = relay_store_held_put(s, id, r->held, r->nheld);
    if (err == FKEX_OK && (out->changed & RELAY_CHANGED_SETTLED))
        err = relay_store_settled_put(s, id, r->epoch - 1, r->settled, out->settled_seq,
                                      (const uint8_t (*)[32])r->lost, r->nlost);
    return err;
}

/* Ends a step: writes what it changed, prunes, stores the room's
 * counters, commits; or rolls back, and if the step failed rereads the
 * room. A refusal keeps only its why. */
static int finish(relay_room *r, int code, fkex_err err, relay_out *out)
{
    const char *why = out->why;
    if (code == 0 && err == FKEX_OK)
        err = persist(r, out);
    if (code == 0 && err == FKEX_OK && r->next_seq > r->keep)
        err = relay_store_log_prune(r->store, r->room_id, r->next_seq - r->keep);
    if (code == 0 && err == FKEX_OK)
        err = relay_store_room_set(r->store, r->room_id, r->epoch, r->next_seq);
    if (code == 0 && err == FKEX_OK)
        err = relay_store_commit(r->store);
    if (code == 0 && err == FKEX_OK)
        return 0;
    relay_store_rollback(r->store);
    relay_out_clear(out);
    if (err != FKEX_OK) {
        /* Memory ran ahead of the store: reread it, or refuse from now on. */
        if (reload(r) != FKEX_OK)
            r->failed = 1;
        REFUSE(FKEX_RELAY_E_INTERNAL, NOT_STORED);
    }
    out->why = why;
    return code;
}

int relay_room_step_end(relay_room *r, int code, fkex_err err, relay_out *out)
{
    return finish(r, code, err, out);
}

int relay_room_submit(relay_room *r, const uint8_t from[32], const uint8_t source[16],
                      const uint8_t *msg, size_t len, uint64_t now, relay_out *out)
{
    fkex_err err = FKEX_OK;
    relay_out_clear(out);
    if (r->failed)
        REFUSE(FKEX_RELAY_E_INTERNAL, RELAY_OUT_OF_SERVICE);
    if (r->seed)
        return relay_seed_submit(r, from, msg, len, out);
    if (relay_store_begin(r->store) != FKEX_OK)
        REFUSE(FKEX_RELAY_E_INTERNAL, NOT_STORED);
    int code = relay_rules_submit(r, from, source, msg, len, now, out, &err);
    return finish(r, code, err, out);
}

int relay_room_tick(relay_room *r, uint64_t now, relay_out *out)
{
    relay_out_clear(out);
    if (r->failed)
        REFUSE(FKEX_RELAY_E_INTERNAL, RELAY_OUT_OF_SERVICE);
    if (r->seed)
        return relay_seed_tick(r, now, out);
    if (relay_store_begin(r->store) != FKEX_OK)
        REFUSE(FKEX_RELAY_E_INTERNAL, NOT_STORED);
    return finish(r, 0, relay_rules_tick(r, now, out), out);
}

int relay_room_set_descriptor(relay_room *r, const uint8_t *desc, size_t len, relay_out *out)
{
    fkex_err err = FKEX_OK;
    relay_out_clear(out);
    if (r->failed)
        REFUSE(FKEX_RELAY_E_INTERNAL, RELAY_OUT_OF_SERVICE);
    if (r->seed || relay_seed_descriptor(desc, len))
        REFUSE(FKEX_RELAY_E_BAD_DESCRIPTOR, "a room's mode never changes, and a seed-mode room "
                                            "keeps its policy");
    if (relay_store_begin(r->store) != FKEX_OK)
        REFUSE(FKEX_RELAY_E_INTERNAL, "the relay could not store the descriptor");
    int code = relay_rules_set_descriptor(r, desc, len, out, &err);
    return finish(r, code, err, out);
}

int relay_room_drop_pending(relay_room *r, uint32_t *version, relay_out *out)
{
    relay_out_clear(out);
    *version = 0;
    if (r->failed)
        REFUSE(FKEX_RELAY_E_INTERNAL, RELAY_OUT_OF_SERVICE);
    if (relay_store_begin(r->store) != FKEX_OK)
        REFUSE(FKEX_RELAY_E_INTERNAL, "the relay could not store the room");
    return finish(r, 0, relay_rules_drop_pending(r, version, out), out);
}

int relay_room_kick(relay_room *r, const uint8_t *kick, size_t len, relay_out *out)
{
    fkex_err err = FKEX_OK;
    relay_out_clear(out);
    if (r->failed)
        REFUSE(FKEX_RELAY_E_INTERNAL, RELAY_OUT_OF_SERVICE);
    if (r->seed)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a seed-mode room has no kick");
    if (relay_store_begin(r->store) != FKEX_OK)
        REFUSE(FKEX_RELAY_E_INTERNAL, NOT_STORED);
    int code = relay_rules_kick(r, kick, len, out, &err);
    return finish(r, code, err, out);
}

void relay_room_set_online(relay_room *r, const uint8_t v[32], int online)
{
    relay_rules_set_online(r, v, online);
    if (r->seed && relay_room_member(r, v) >= 0)
        relay_seed_set_online(r, v, online);
}

/* ---- replay --------------------------------------------------------------------------- */

typedef struct {
    relay_out *out;
    const uint8_t *v;
    size_t bytes, max_bytes;
} replay_ctx;

static fkex_err replay_one(void *ctx, uint64_t seq, const uint8_t *frame, size_t len)
{
    replay_ctx *c = ctx;
    if (c->max_bytes && c->bytes >= c->max_bytes) {
        c->out->more = 1;
        return FKEX_ERR_UNEXPECTED;   /* stops the store's walk: the page is full */
    }
    c->bytes += len;
    return relay_out_add(c->out, c->v, seq, relay_out_frame(c->out, frame, len), len);
}

int relay_room_replay(relay_room *r, const uint8_t v[32], uint64_t after, size_t max_bytes,
                      relay_out *out)
{
    uint64_t first;
    long i = relay_room_member(r, v);
    replay_ctx c = { out, v, 0, max_bytes };
    relay_out_clear(out);
    if (r->failed)
        REFUSE(FKEX_RELAY_E_INTERNAL, RELAY_OUT_OF_SERVICE);
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
