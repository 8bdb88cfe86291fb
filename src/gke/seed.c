/*
 * gke/seed.c: seed mode, the 2014 prototype's group key protocol, as a
 * pure state machine (gke/gke.h), with the relay that drives it.
 *
 * INSECURE BY DESIGN, kept only to compare and to measure. Its faults
 * (PROTOCOL.md, "Why this and not the prototype's protocol"; gke/seed.h
 * says more):
 *   - no forward secrecy: any satisfying key (a future joiner, a departed
 *     member, the authority) decapsulates recorded KeySets and reads
 *     every session, past or future (fkex_seed_recover);
 *   - no lock-out: a departed member still satisfies the policy;
 *   - encapsulations are bound to neither room nor epoch: replayable;
 *   - anyone, the relay included, can add "ghost" encapsulations;
 *   - no key confirmation: the relay can split the group into views
 *     holding different keys;
 *   - O(n) pairing work per member per join (and per leave).
 * None of them is mitigated here; doing so would change what is measured.
 *
 * The epoch key (PROTOCOL.md, "Seed mode"):
 *   k_i = ABE.Decap(sk, C_i) for every entry of the KeySet (CCA mode)
 *   h   = SHA-256(k_(1) || ... || k_(n)), the k_i sorted bytewise
 *   prk = HKDF-Extract(salt = empty, ikm = h)
 *   K   = KDF-Expand(prk, "seed key", room_id || u64be(epoch))
 * The k_i are sorted with a bitonic network of constant-time
 * compare-exchanges (the array is padded to a power of two with 0xff..ff
 * keys, which sort last), so the order of the secrets is never a branch.
 *
 * Cost per member per KeySet of n entries: n ciphertext decodes (subgroup
 * checks), n CP-ABE decapsulations (each a multi-pairing plus the FO
 * re-encryption), O(n log^2 n) 32-byte compare-exchanges, one SHA-256 over
 * 32n bytes and two HMACs. The member that rekeys after a leave adds one
 * encapsulation.
 */
#include <stdlib.h>
#include "gke/gke.h"

enum { JOINING = 1, MEMBER, LEFT };

struct fkex_seed {
    uint8_t room_id[32];
    fkex_policy *policy;          /* own copy, for leave-rekey encapsulations */
    const fkex_key *key;      /* borrowed */
    int status;
    uint64_t epoch;
    uint32_t self;                /* FKEX_SEED_NEW until joined */
    uint32_t *roster;             /* member indices, increasing */
    size_t n;
    uint8_t *own_ct;              /* joiner: its Encapsulation's ciphertext */
    size_t own_ct_len;
    uint64_t rekeyed;             /* the epoch a leave-rekey was sent for, 0 if none */
    uint8_t k[32];                /* the epoch key, while a member */
    uint64_t decaps;
};

struct fkex_seed_relay {
    uint8_t room_id[32];
    uint64_t epoch;
    uint32_t next;                /* the index the next joiner gets */
    fkex_seed_entry *entries;     /* increasing index */
    size_t n, cap;
};

/* ---- the epoch key ---------------------------------------------------------- */

/* Swaps a and b iff a > b bytewise, in constant time. */
static void cswap32(uint8_t *a, uint8_t *b)
{
    uint32_t gt = 0, eq = 1;
    for (int i = 0; i < 32; i++) {
        uint32_t x = a[i], y = b[i];
        gt |= eq & ((y - x) >> 8) & 1;          /* x > y: y - x wraps */
        eq &= (((x ^ y) - 1) >> 8) & 1;         /* x == y */
    }
    uint8_t mask = (uint8_t)(0u - gt);
    for (int i = 0; i < 32; i++) {
        uint8_t t = (uint8_t)((a[i] ^ b[i]) & mask);
        a[i] ^= t;
        b[i] ^= t;
    }
}

/* Batcher's bitonic sort of npow (a power of two) 32-byte keys, ascending.
 * The comparisons made depend only on npow. O(npow log^2 npow). */
static void sort_keys(uint8_t *ks, size_t npow)
{
    for (size_t k = 2; k <= npow; k <<= 1)
        for (size_t j = k >> 1; j > 0; j >>= 1)
            for (size_t i = 0; i < npow; i++) {
                size_t l = i ^ j;
                if (l <= i)
                    continue;
                if ((i & k) == 0)
                    cswap32(ks + 32 * i, ks + 32 * l);
                else
                    cswap32(ks + 32 * l, ks + 32 * i);
            }
}

static void derive(uint8_t out[32], const uint8_t room_id[32], uint64_t epoch,
                   const uint8_t *sorted, size_t n)
{
    uint8_t h[32], prk[32], ctx[40];
    crypto_hash_sha256(h, sorted, 32 * n);
    fkex_hkdf_extract(prk, NULL, 0, h, sizeof h);
    memcpy(ctx, room_id, 32);
    store64_be(ctx + 32, epoch);
    fkex_kdf_expand(out, prk, "seed key", ctx, sizeof ctx);
    sodium_memzero(h, sizeof h);
    sodium_memzero(prk, sizeof prk);
}

/* Decapsulates every entry of a decoded KeySet and derives its epoch key.
 * out is written only on success. */
static fkex_err keyset_key(uint8_t out[32], const fkex_key *sk, const fkex_seed_msg *m)
{
    size_t npow = 1;
    fkex_err err = FKEX_OK;
    while (npow < m->count)
        npow <<= 1;
    uint8_t *ks = malloc(32 * npow);
    if (!ks)
        return FKEX_ERR_NO_MEMORY;
    memset(ks, 0xff, 32 * npow);
    for (size_t i = 0; i < m->count && err == FKEX_OK; i++)
        err = fkex_abe_decap(ks + 32 * i, sk, m->entries[i].ct, FKEX_ABE_CCA);
    if (err == FKEX_OK) {
        sort_keys(ks, npow);
        derive(out, m->room_id, m->epoch, ks, m->count);
    }
    sodium_memzero(ks, 32 * npow);
    free(ks);
    return err;
}

fkex_err fkex_seed_recover(uint8_t key[32], const fkex_key *any_satisfying_key,
                           const uint8_t *keyset_msg, size_t len)
{
    fkex_seed_msg m;
    fkex_err err = fkex_seed_msg_decode(&m, keyset_msg, len);
    if (err != FKEX_OK)
        return err;
    if (m.type != FKEX_SEED_MSG_KEYSET)
        err = FKEX_ERR_WRONG_KIND;
    else
        err = keyset_key(key, any_satisfying_key, &m);
    fkex_seed_msg_clear(&m);
    return err;
}

/* ---- a member ------------------------------------------------------------------ */

static fkex_err copy_policy(fkex_policy **out, const fkex_policy *p)
{
    char *text;
    fkex_err err = fkex_policy_print(&text, p);
    if (err != FKEX_OK)
        return err;
    err = fkex_policy_parse(out, text, strlen(text), NULL);
    free(text);
    return err;
}

void fkex_seed_free(fkex_seed *st)
{
    if (!st)
        return;
    fkex_policy_free(st->policy);
    free(st->roster);
    free(st->own_ct);
    sodium_memzero(st, sizeof *st);
    free(st);
}

fkex_err fkex_seed_join(fkex_seed **out_st, const uint8_t room_id[32], const fkex_policy *policy,
                        const fkex_key *key, fkex_rng *rng, fkex_gke_out *out)
{
    fkex_seed *st;
    fkex_abe_ct *ct = NULL;
    uint8_t k[32], *msg;
    const uint8_t *b;
    size_t len, nm = out->nmsgs, ne = out->nevents;
    fkex_err err;

    *out_st = NULL;
    if (!(st = calloc(1, sizeof *st)))
        return FKEX_ERR_NO_MEMORY;
    memcpy(st->room_id, room_id, 32);
    st->key = key;
    st->status = JOINING;
    st->self = FKEX_SEED_NEW;
    if ((err = copy_policy(&st->policy, policy)) != FKEX_OK)
        goto fail;
    /* The joiner's contribution; k itself is not kept: like everyone, the
     * joiner decapsulates its own entry when the KeySet arrives. */
    err = fkex_abe_encap(k, &ct, fkex_key_mpk(key), st->policy, FKEX_ABE_CCA, rng);
    sodium_memzero(k, sizeof k);
    if (err != FKEX_OK)
        goto fail;
    fkex_abe_ct_bytes(&b, &len, ct);
    if (!(st->own_ct = malloc(len))) {
        err = FKEX_ERR_NO_MEMORY;
        goto fail;
    }
    memcpy(st->own_ct, b, len);
    st->own_ct_len = len;
    if ((err = fkex_seed_encap_encode(&msg, &len, room_id, 0, FKEX_SEED_NEW, ct)) != FKEX_OK ||
        (err = fkex_gke_out_msg(out, FKEX_GKE_TO_ROOM, msg, len)) != FKEX_OK)
        goto fail;
    fkex_abe_ct_free(ct);
    *out_st = st;
    return FKEX_OK;

fail:
    fkex_abe_ct_free(ct);
    fkex_seed_free(st);
    fkex_gke_out_truncate(out, nm, ne);
    return err;
}

/* Where a joiner finds itself: the entry carrying its own ciphertext. */
static int find_own(const fkex_seed *st, const fkex_seed_msg *m, uint32_t *index)
{
    for (size_t i = 0; i < m->count; i++) {
        const uint8_t *b;
        size_t len;
        fkex_abe_ct_bytes(&b, &len, m->entries[i].ct);
        if (len == st->own_ct_len && memcmp(b, st->own_ct, len) == 0) {
            *index = m->entries[i].index;
            return 1;
        }
    }
    return 0;
}

/* Events for a new roster: removed (in old, not new), added (in new, not
 * old); both lists increase, so one merge. A joiner has no old roster. */
static fkex_err roster_events(fkex_gke_out *out, const fkex_seed *st, const fkex_seed_msg *m,
                              uint32_t self)
{
    size_t i = 0, j = 0, oldn = st->status == MEMBER ? st->n : 0;
    uint32_t members = (uint32_t)m->count;
    fkex_err err = FKEX_OK;
    while (err == FKEX_OK && (i < oldn || j < m->count)) {
        if (j == m->count || (i < oldn && st->roster[i] < m->entries[j].index)) {
            err = fkex_gke_out_event(out, FKEX_GKE_EV_REMOVED, FKEX_OK, m->epoch, members,
                                     st->roster[i++], NULL, 0);
        } else if (i == oldn || m->entries[j].index < st->roster[i]) {
            if (st->status == MEMBER)
                err = fkex_gke_out_event(out, FKEX_GKE_EV_ADDED, FKEX_OK, m->epoch, members,
                                         m->entries[j].index, NULL, 0);
            j++;
        } else {
            i++;
            j++;
        }
    }
    if (err == FKEX_OK && st->status == JOINING)
        err = fkex_gke_out_event(out, FKEX_GKE_EV_JOINED, FKEX_OK, m->epoch, members, self,
                                 NULL, 0);
    if (err == FKEX_OK)
        err = fkex_gke_out_event(out, FKEX_GKE_EV_EPOCH, FKEX_OK, m->epoch, members, self,
                                 NULL, 0);
    return err;
}

static fkex_err on_keyset(fkex_seed *st, const uint8_t *msg, size_t len, fkex_gke_out *out)
{
    fkex_seed_msg m;
    uint32_t self = st->self, *roster = NULL;
    uint8_t k[32];
    fkex_err err;

    if ((err = fkex_seed_msg_decode(&m, msg, len)) != FKEX_OK)
        return err;
    if (st->status == JOINING) {
        if (!find_own(st, &m, &self))
            err = FKEX_ERR_UNEXPECTED;   /* somebody else's join; keep waiting */
    } else {
        size_t i = 0;
        while (i < m.count && m.entries[i].index != self)
            i++;
        if (i == m.count)
            err = FKEX_ERR_UNEXPECTED;   /* dropped without a Leave */
    }
    if (err == FKEX_OK && !(roster = malloc(m.count * sizeof *roster)))
        err = FKEX_ERR_NO_MEMORY;
    /* Faithful to the prototype: all n, the own entry included, every time. */
    if (err == FKEX_OK)
        err = keyset_key(k, st->key, &m);
    if (err == FKEX_OK)
        err = roster_events(out, st, &m, self);
    if (err != FKEX_OK) {
        sodium_memzero(k, sizeof k);
        free(roster);
        fkex_seed_msg_clear(&m);
        return err;
    }

    for (size_t i = 0; i < m.count; i++)
        roster[i] = m.entries[i].index;
    free(st->roster);
    st->roster = roster;
    st->n = m.count;
    st->self = self;
    st->epoch = m.epoch;
    st->status = MEMBER;
    st->decaps += m.count;
    memcpy(st->k, k, 32);
    free(st->own_ct);
    st->own_ct = NULL;
    st->own_ct_len = 0;
    sodium_memzero(k, sizeof k);
    fkex_seed_msg_clear(&m);
    return FKEX_OK;
}

static fkex_err on_leave(fkex_seed *st, const uint8_t *msg, size_t len, fkex_rng *rng,
                         fkex_gke_out *out)
{
    fkex_seed_msg m;
    fkex_abe_ct *ct = NULL;
    uint8_t k[32], *enc;
    size_t i = 0, enclen;
    uint32_t left;
    fkex_err err;

    if ((err = fkex_seed_msg_decode(&m, msg, len)) != FKEX_OK)
        return err;
    left = m.index;
    fkex_seed_msg_clear(&m);
    while (i < st->n && st->roster[i] != left)
        i++;
    if (i == st->n)
        return FKEX_ERR_REPLAY;   /* gone already (or never here) */

    if (left == st->self) {
        if ((err = fkex_gke_out_event(out, FKEX_GKE_EV_LEFT, FKEX_OK, st->epoch,
                                      (uint32_t)st->n - 1, st->self, NULL, 0)) != FKEX_OK)
            return err;
        st->status = LEFT;
        sodium_memzero(st->k, sizeof st->k);
        free(st->roster);
        st->roster = NULL;
        st->n = 0;
        return FKEX_OK;
    }

    if ((err = fkex_gke_out_event(out, FKEX_GKE_EV_REMOVED, FKEX_OK, st->epoch,
                                  (uint32_t)st->n - 1, left, NULL, 0)) != FKEX_OK)
        return err;
    /* Leave-rekey: the lowest remaining index replaces its encapsulation. */
    uint32_t lowest = st->roster[i == 0 ? 1 : 0];
    int rekey = lowest == st->self && st->rekeyed != st->epoch + 1;
    if (rekey) {
        err = fkex_abe_encap(k, &ct, fkex_key_mpk(st->key), st->policy, FKEX_ABE_CCA, rng);
        sodium_memzero(k, sizeof k);
        if (err == FKEX_OK &&
            (err = fkex_seed_encap_encode(&enc, &enclen, st->room_id, st->epoch + 1, st->self,
                                          ct)) == FKEX_OK)
            err = fkex_gke_out_msg(out, FKEX_GKE_TO_ROOM, enc, enclen);
        fkex_abe_ct_free(ct);
        if (err != FKEX_OK)
            return err;
        st->rekeyed = st->epoch + 1;
    }
    memmove(st->roster + i, st->roster + i + 1, (st->n - i - 1) * sizeof *st->roster);
    st->n--;
    return FKEX_OK;
}

fkex_err fkex_seed_receive(fkex_seed *st, const uint8_t *msg, size_t len, fkex_rng *rng,
                           fkex_gke_out *out)
{
    uint8_t type, room[32];
    uint64_t epoch;
    size_t nm = out->nmsgs, ne = out->nevents;
    fkex_err err;

    if ((err = fkex_seed_msg_peek(&type, room, &epoch, msg, len)) != FKEX_OK)
        return err;
    if (sodium_memcmp(room, st->room_id, 32) != 0)
        return FKEX_ERR_WRONG_ROOM;
    if (st->status == LEFT || type == FKEX_SEED_MSG_ENCAP)
        return FKEX_ERR_UNEXPECTED;
    /* Epochs are checked before any ciphertext is parsed. */
    if (type == FKEX_SEED_MSG_KEYSET) {
        if (st->status == MEMBER && epoch <= st->epoch)
            return FKEX_ERR_REPLAY;
        if (st->status == MEMBER && epoch != st->epoch + 1)
            return FKEX_ERR_WRONG_EPOCH;
        err = on_keyset(st, msg, len, out);
    } else {
        if (st->status != MEMBER)
            return FKEX_ERR_UNEXPECTED;
        if (epoch < st->epoch)
            return FKEX_ERR_REPLAY;
        if (epoch > st->epoch)
            return FKEX_ERR_WRONG_EPOCH;
        err = on_leave(st, msg, len, rng, out);
    }
    if (err != FKEX_OK)
        fkex_gke_out_truncate(out, nm, ne);
    return err;
}

int fkex_seed_key(uint8_t key[32], const fkex_seed *st)
{
    if (st->status != MEMBER)
        return -1;
    memcpy(key, st->k, 32);
    return 0;
}

uint64_t fkex_seed_epoch(const fkex_seed *st)
{
    return st->epoch;
}

uint32_t fkex_seed_index(const fkex_seed *st)
{
    return st->status == MEMBER ? st->self : FKEX_SEED_NEW;
}

size_t fkex_seed_members(const fkex_seed *st)
{
    return st->status == MEMBER ? st->n : 0;
}

uint32_t fkex_seed_member(const fkex_seed *st, size_t i)
{
    return st->status == MEMBER && i < st->n ? st->roster[i] : FKEX_SEED_NEW;
}

uint64_t fkex_seed_decaps(const fkex_seed *st)
{
    return st->decaps;
}

/* ---- the relay --------------------------------------------------------------- */

fkex_err fkex_seed_relay_new(fkex_seed_relay **relay, const uint8_t room_id[32])
{
    if (!(*relay = calloc(1, sizeof **relay)))
        return FKEX_ERR_NO_MEMORY;
    memcpy((*relay)->room_id, room_id, 32);
    return FKEX_OK;
}

void fkex_seed_relay_free(fkex_seed_relay *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        fkex_abe_ct_free(r->entries[i].ct);
    free(r->entries);
    free(r);
}

uint64_t fkex_seed_relay_epoch(const fkex_seed_relay *r)
{
    return r->epoch;
}

size_t fkex_seed_relay_members(const fkex_seed_relay *r)
{
    return r->n;
}

static fkex_err relay_find(const fkex_seed_relay *r, uint32_t index, size_t *at)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->entries[i].index == index) {
            *at = i;
            return FKEX_OK;
        }
    return FKEX_ERR_ARGUMENT;
}

/* The KeySet for epoch + 1, to everyone. */
static fkex_err relay_announce(fkex_seed_relay *r, fkex_gke_out *out)
{
    uint8_t *msg;
    size_t len;
    fkex_err err = fkex_seed_keyset_encode(&msg, &len, r->room_id, r->epoch + 1, r->entries, r->n);
    if (err != FKEX_OK)
        return err;
    return fkex_gke_out_msg(out, FKEX_GKE_TO_ROOM, msg, len);
}

fkex_err fkex_seed_relay_receive(fkex_seed_relay *r, const uint8_t *msg, size_t len,
                                 fkex_gke_out *out)
{
    fkex_seed_msg m;
    uint8_t type, room[32];
    uint64_t epoch;
    size_t at, nm = out->nmsgs, ne = out->nevents;
    fkex_err err;

    if ((err = fkex_seed_msg_peek(&type, room, &epoch, msg, len)) != FKEX_OK)
        return err;
    if (memcmp(room, r->room_id, 32) != 0)
        return FKEX_ERR_WRONG_ROOM;
    if (type != FKEX_SEED_MSG_ENCAP)
        return FKEX_ERR_UNEXPECTED;
    if ((err = fkex_seed_msg_decode(&m, msg, len)) != FKEX_OK)
        return err;

    if (m.index == FKEX_SEED_NEW) {
        if (m.epoch != 0)
            err = FKEX_ERR_WRONG_EPOCH;
        else if (r->n == FKEX_SEED_MAX_MEMBERS || r->next == FKEX_SEED_NEW)
            err = FKEX_ERR_ARGUMENT;   /* room full, or indices exhausted */
        else if (r->n == r->cap) {
            size_t cap = r->cap ? 2 * r->cap : 8;
            fkex_seed_entry *e = realloc(r->entries, cap * sizeof *e);
            if (!e)
                err = FKEX_ERR_NO_MEMORY;
            else {
                r->entries = e;
                r->cap = cap;
            }
        }
        if (err == FKEX_OK) {
            r->entries[r->n++] = (fkex_seed_entry){ r->next, m.ct };   /* next is the largest */
            if ((err = relay_announce(r, out)) != FKEX_OK)
                r->n--;        /* m still owns the ciphertext */
            else {
                m.ct = NULL;
                r->next++;
                r->epoch++;
            }
        }
    } else if (m.epoch <= r->epoch) {
        err = FKEX_ERR_REPLAY;
    } else if (m.epoch != r->epoch + 1) {
        err = FKEX_ERR_WRONG_EPOCH;
    } else if (relay_find(r, m.index, &at) != FKEX_OK) {
        err = FKEX_ERR_UNEXPECTED;     /* not (or no longer) a member */
    } else {
        fkex_abe_ct *old = r->entries[at].ct;
        r->entries[at].ct = m.ct;
        if ((err = relay_announce(r, out)) != FKEX_OK)
            r->entries[at].ct = old;
        else {
            m.ct = old;        /* freed with m */
            r->epoch++;
        }
    }
    fkex_seed_msg_clear(&m);
    if (err != FKEX_OK)
        fkex_gke_out_truncate(out, nm, ne);
    return err;
}

uint32_t fkex_seed_relay_next(const fkex_seed_relay *r)
{
    return r->next;
}

const fkex_seed_entry *fkex_seed_relay_entry(const fkex_seed_relay *r, size_t i)
{
    return i < r->n ? &r->entries[i] : NULL;
}

fkex_err fkex_seed_relay_restore(fkex_seed_relay **out, const uint8_t room_id[32], uint64_t epoch,
                                 uint32_t next, const uint32_t *indices,
                                 const uint8_t *const *cts, const size_t *ctlens, size_t n)
{
    fkex_seed_relay *r;
    fkex_err err;
    *out = NULL;
    if (n > FKEX_SEED_MAX_MEMBERS || (n > 0 && epoch == 0))
        return FKEX_ERR_ARGUMENT;
    for (size_t i = 0; i < n; i++)
        if (indices[i] >= next || (i > 0 && indices[i] <= indices[i - 1]))
            return FKEX_ERR_ARGUMENT;
    if ((err = fkex_seed_relay_new(&r, room_id)) != FKEX_OK)
        return err;
    r->epoch = epoch;
    r->next = next;
    if (n && !(r->entries = calloc(n, sizeof *r->entries))) {
        fkex_seed_relay_free(r);
        return FKEX_ERR_NO_MEMORY;
    }
    r->cap = n;
    for (; r->n < n; r->n++) {
        r->entries[r->n].index = indices[r->n];
        if ((err = fkex_abe_ct_decode(&r->entries[r->n].ct, cts[r->n], ctlens[r->n])) != FKEX_OK) {
            fkex_seed_relay_free(r);
            return err;
        }
    }
    *out = r;
    return FKEX_OK;
}

fkex_err fkex_seed_relay_remove(fkex_seed_relay *r, uint32_t index, fkex_gke_out *out)
{
    uint8_t *msg;
    size_t len, at;
    fkex_err err;
    if ((err = relay_find(r, index, &at)) != FKEX_OK)
        return err;
    if ((err = fkex_seed_leave_encode(&msg, &len, r->room_id, r->epoch, index)) != FKEX_OK ||
        (err = fkex_gke_out_msg(out, FKEX_GKE_TO_ROOM, msg, len)) != FKEX_OK)
        return err;
    fkex_abe_ct_free(r->entries[at].ct);
    memmove(r->entries + at, r->entries + at + 1, (r->n - at - 1) * sizeof *r->entries);
    r->n--;
    return FKEX_OK;
}
