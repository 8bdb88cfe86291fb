/*
 * relay/seed_room.c: a seed-mode room's routing (relay/seed_room.h), over
 * gke/seed.h's relay logic and the relay's store.
 *
 * r->members and the seed relay's entries are the same members in the
 * same order (increasing index: a join appends the largest, a removal
 * closes the gap), so member i's index is entry i's.
 */
#include <stdlib.h>
#include "gke/gke.h"
#include "wire/relay_msg.h"
#include "relay/seed_room.h"

#define REFUSE(code, text) do { out->why = (text); return (code); } while (0)

struct relay_seed {
    fkex_seed_relay *relay;
    char *policy;               /* the room's canonical policy text */
    uint8_t (*gone)[32];        /* members offline past the grace: removed at the next tick */
    size_t ngone;
    uint8_t (*unseen)[32];      /* members not back since this relay started */
    size_t nunseen;
    uint64_t started;           /* the first tick (ms): the restart's grace runs from it */
};

/* ---- the store --------------------------------------------------------------------- */

/* Member i's current entry, and the next index, as the relay holds them. */
static fkex_err store_entry(relay_room *r, size_t i)
{
    const fkex_seed_entry *e = fkex_seed_relay_entry(r->seed->relay, i);
    const uint8_t *b;
    size_t n;
    fkex_abe_ct_bytes(&b, &n, e->ct);
    return relay_store_seed_put(r->store, r->room_id, fkex_seed_relay_next(r->seed->relay),
                                e->index, b, n);
}

typedef struct {
    uint32_t *idx;
    uint8_t **ct;
    size_t *len, n, cap;
} loaded;

static fkex_err load_entry(void *ctx, uint32_t index, const uint8_t *ct, size_t n)
{
    loaded *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        uint32_t *idx = realloc(l->idx, cap * sizeof *idx);
        if (idx)
            l->idx = idx;
        uint8_t **c = realloc(l->ct, cap * sizeof *c);
        if (c)
            l->ct = c;
        size_t *len = realloc(l->len, cap * sizeof *len);
        if (len)
            l->len = len;
        if (!idx || !c || !len)
            return FKEX_ERR_NO_MEMORY;
        l->cap = cap;
    }
    if (!(l->ct[l->n] = malloc(n ? n : 1)))
        return FKEX_ERR_NO_MEMORY;
    memcpy(l->ct[l->n], ct, n);
    l->len[l->n] = n;
    l->idx[l->n++] = index;
    return FKEX_OK;
}

/* ---- the room in memory --------------------------------------------------------------- */

void relay_seed_free(relay_seed *s)
{
    if (!s)
        return;
    fkex_seed_relay_free(s->relay);
    free(s->policy);
    free(s->gone);
    free(s->unseen);
    free(s);
}

int relay_seed_descriptor(const uint8_t *desc, size_t len)
{
    fkex_rmsg_descriptor d;
    return fkex_rmsg_descriptor_decode(&d, desc, len) == FKEX_OK &&
           (d.options & FKEX_ROOM_SEED_MODE) != 0;
}

fkex_err relay_seed_reload(relay_room *r)
{
    loaded l = { 0 };
    fkex_seed_relay *relay = NULL;
    uint32_t next;
    fkex_err err;
    if ((err = relay_store_seed_load(r->store, r->room_id, &next, load_entry, &l)) == FKEX_OK) {
        /* The roster and the entries are written together: they agree, or
         * the store is not one this relay wrote. */
        if (l.n != r->nmembers)
            err = FKEX_ERR_BAD_ENCODING;
        else
            err = fkex_seed_relay_restore(&relay, r->room_id, r->epoch, next, l.idx,
                                          (const uint8_t *const *)l.ct, l.len, l.n);
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.ct[i]);
    free(l.ct);
    free(l.idx);
    free(l.len);
    if (err != FKEX_OK)
        return err;
    fkex_seed_relay_free(r->seed->relay);
    r->seed->relay = relay;
    return FKEX_OK;
}

fkex_err relay_seed_attach(relay_room *r)
{
    fkex_rmsg_descriptor d;
    relay_seed *s;
    fkex_err err;
    if (fkex_rmsg_descriptor_decode(&d, r->desc, r->desclen) != FKEX_OK ||
        !(d.options & FKEX_ROOM_SEED_MODE))
        return FKEX_OK;   /* a ratchet room (its descriptor was checked when it was made) */
    if (!(s = calloc(1, sizeof *s)) || !(s->policy = malloc(d.policylen + 1)) ||
        (r->nmembers && !(s->unseen = malloc(r->nmembers * sizeof *s->unseen)))) {
        relay_seed_free(s);
        return FKEX_ERR_NO_MEMORY;
    }
    memcpy(s->policy, d.policy, d.policylen);
    s->policy[d.policylen] = 0;
    for (uint32_t i = 0; i < r->nmembers; i++)
        memcpy(s->unseen[s->nunseen++], r->members[i].v, 32);
    r->seed = s;
    if ((err = relay_seed_reload(r)) != FKEX_OK) {
        relay_seed_free(s);
        r->seed = NULL;
    }
    return err;
}

/* Removes v from a list of keys, if there. */
static void list_del(uint8_t (*list)[32], size_t *n, const uint8_t v[32])
{
    for (size_t i = 0; i < *n; i++)
        if (memcmp(list[i], v, 32) == 0) {
            memmove(list[i], list[--*n], 32);
            return;
        }
}

void relay_seed_set_online(relay_room *r, const uint8_t v[32], int online)
{
    relay_seed *s = r->seed;
    list_del(s->gone, &s->ngone, v);
    list_del(s->unseen, &s->nunseen, v);
    if (online)
        return;
    uint8_t (*g)[32] = realloc(s->gone, (s->ngone + 1) * sizeof *g);
    if (!g)
        return;   /* it stays until it is gone again, or the restart's grace */
    s->gone = g;
    memcpy(s->gone[s->ngone++], v, 32);
}

/* ---- steps ------------------------------------------------------------------------------ */

static uint32_t index_of(const relay_room *r, long i)
{
    return fkex_seed_relay_entry(r->seed->relay, (size_t)i)->index;
}

/* Member i goes: the relay's Leave to every member, the leaver included,
 * and a copy addressed to the leaver for its replay if it is away. */
static fkex_err remove_member(relay_room *r, long i, relay_out *out)
{
    fkex_gke_out g;
    uint32_t idx = index_of(r, i);
    uint8_t v[32];
    fkex_err err;
    fkex_gke_out_init(&g);
    memcpy(v, r->members[i].v, 32);
    if ((err = fkex_seed_relay_remove(r->seed->relay, idx, &g)) == FKEX_OK &&
        (err = relay_rules_broadcast(r, g.msgs[0].bytes, g.msgs[0].len, out)) == FKEX_OK)
        err = relay_out_row(out, v, out->seq, relay_out_frame(out, g.msgs[0].bytes, g.msgs[0].len),
                            g.msgs[0].len);
    fkex_gke_out_clear(&g);
    if (err != FKEX_OK)
        return err;
    memmove(r->members + i, r->members + i + 1, (r->nmembers - (size_t)i - 1) * sizeof *r->members);
    r->nmembers--;
    out->changed |= RELAY_CHANGED_MEMBERS;
    return relay_store_seed_delete(r->store, r->room_id, idx);
}

/* A joiner's entry or a member's rekey. The relay's KeySet for the next
 * epoch goes to every member (a joiner is one from now on). */
static int encapsulation(relay_room *r, const uint8_t from[32], const uint8_t *msg, size_t len,
                         relay_out *out, fkex_err *err)
{
    fkex_seed_msg m;
    fkex_gke_out g;
    long i = relay_room_member(r, from);
    if (fkex_seed_msg_decode(&m, msg, len) != FKEX_OK)
        REFUSE(FKEX_RELAY_E_BAD_FRAME, "not a valid Encapsulation");
    int under = strcmp(fkex_abe_ct_policy(m.ct), r->seed->policy) == 0;
    uint32_t idx = m.index;
    fkex_seed_msg_clear(&m);
    if (!under)
        REFUSE(FKEX_RELAY_E_BAD_FRAME, "an encapsulation must be under the room's policy");
    if (idx == FKEX_SEED_NEW && i >= 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "this session key is a member already");
    if (idx != FKEX_SEED_NEW && (i < 0 || index_of(r, i) != idx))
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a rekey in another member's name");
    relay_member *mm = idx == FKEX_SEED_NEW ? realloc(r->members, (r->nmembers + 1) * sizeof *mm)
                                            : r->members;
    if (!mm) {
        *err = FKEX_ERR_NO_MEMORY;
        return 0;
    }
    r->members = mm;
    fkex_gke_out_init(&g);
    fkex_err e = fkex_seed_relay_receive(r->seed->relay, msg, len, &g);
    if (e == FKEX_ERR_REPLAY || e == FKEX_ERR_WRONG_EPOCH)
        REFUSE(FKEX_RELAY_E_STALE, "a rekey for an epoch that is not the next one");
    if (e == FKEX_ERR_ARGUMENT)
        REFUSE(FKEX_RELAY_E_BUSY, "the room is full");
    if (e != FKEX_OK) {
        *err = e;   /* out of memory: nothing changed */
        return 0;
    }
    if (idx == FKEX_SEED_NEW) {
        i = (long)r->nmembers++;
        memset(&r->members[i], 0, sizeof r->members[i]);
        memcpy(r->members[i].v, from, 32);
        r->members[i].since = r->next_seq - 1;   /* the KeySet, next, is its first */
        r->members[i].online = 1;
        out->changed |= RELAY_CHANGED_MEMBERS;
    }
    r->epoch = fkex_seed_relay_epoch(r->seed->relay);
    if (*err == FKEX_OK)
        *err = store_entry(r, (size_t)i);
    if (*err == FKEX_OK)
        *err = relay_rules_broadcast(r, g.msgs[0].bytes, g.msgs[0].len, out);
    fkex_gke_out_clear(&g);
    return 0;
}

/* A Leave (a member asking to go) or an Application: from a member, in its
 * own index's name (which the message states: nothing else binds it). */
static int from_member(relay_room *r, const uint8_t from[32], const uint8_t *msg, size_t len,
                       relay_out *out, fkex_err *err)
{
    fkex_seed_msg m;
    long i = relay_room_member(r, from);
    if (fkex_seed_msg_decode(&m, msg, len) != FKEX_OK)
        REFUSE(FKEX_RELAY_E_BAD_FRAME, "not a valid seed-mode message");
    int leave = m.type == FKEX_SEED_MSG_LEAVE;
    uint32_t idx = m.index;
    fkex_seed_msg_clear(&m);
    if (i < 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "only members send to the room");
    if (index_of(r, i) != idx)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a message in another member's name");
    *err = leave ? remove_member(r, i, out) : relay_rules_broadcast(r, msg, len, out);
    return 0;
}

int relay_seed_submit(relay_room *r, const uint8_t from[32], const uint8_t *msg, size_t len,
                      relay_out *out)
{
    uint8_t type, room_id[32];
    uint64_t epoch;
    fkex_err err = FKEX_OK;
    int code;
    const char *why;
    if (len > FKEX_RELAY_MESSAGE_MAX || fkex_seed_msg_peek(&type, room_id, &epoch, msg, len) != FKEX_OK)
        REFUSE(FKEX_RELAY_E_BAD_FRAME, "not a seed-mode room message");
    if (memcmp(room_id, r->room_id, 32) != 0)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "a message for another room");
    if (type == FKEX_SEED_MSG_KEYSET)
        REFUSE(FKEX_RELAY_E_NOT_ROUTABLE, "only the relay sends KeySets");
    if (relay_store_begin(r->store) != FKEX_OK)
        REFUSE(FKEX_RELAY_E_INTERNAL, "the relay could not store the message");
    if (type == FKEX_SEED_MSG_ENCAP)
        code = encapsulation(r, from, msg, len, out, &err);
    else
        code = from_member(r, from, msg, len, out, &err);
    why = out->why;
    code = relay_room_step_end(r, code, err, out);
    if (code && !out->why)
        out->why = why;
    return code;
}

int relay_seed_tick(relay_room *r, uint64_t now, relay_out *out)
{
    relay_seed *s = r->seed;
    fkex_err err = FKEX_OK;
    if (!s->started)
        s->started = now ? now : 1;
    if (s->nunseen && now >= s->started && now - s->started >= r->grace_ms)
        while (s->nunseen) {   /* not back within the grace of the restart: gone */
            uint8_t v[32];
            memcpy(v, s->unseen[0], 32);
            relay_seed_set_online(r, v, 0);
        }
    if (!s->ngone)
        return 0;
    if (relay_store_begin(r->store) != FKEX_OK)
        REFUSE(FKEX_RELAY_E_INTERNAL, "the relay could not store the message");
    for (size_t k = 0; k < s->ngone && err == FKEX_OK; k++) {
        long i = relay_room_member(r, s->gone[k]);
        if (i >= 0)
            err = remove_member(r, i, out);
    }
    int code = relay_room_step_end(r, 0, err, out);
    if (code == 0)
        s->ngone = 0;   /* else they are tried again at the next tick */
    return code;
}
