/*
 * gke/ratchet.c: the ratchet state machine's frame: rooms and descriptors,
 * creation, the dispatch of received messages, Remove proposals, JoinAcks,
 * epoch changes and the accessors. The protocol's steps live in
 * admission.c, commit.c and appmsg.c (see gke/ratchet_state.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include "gke/gke.h"
#include "gke/ratchet_state.h"
#include "wire/relay_msg.h"

/* ---- rooms ------------------------------------------------------------- */

void fkex_room_id(uint8_t room_id[32], const uint8_t admin_pk[32], const uint8_t *name,
                  size_t namelen)
{
    static const char label[] = "fkex v1 room";
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const uint8_t *)label, sizeof label - 1);
    crypto_hash_sha256_update(&h, admin_pk, 32);
    crypto_hash_sha256_update(&h, name, namelen);
    crypto_hash_sha256_final(&h, room_id);
}

fkex_err fkex_room_descriptor_create(uint8_t **out, size_t *outlen, const char *name,
                                     const char *policy, uint32_t version, uint32_t options,
                                     const uint8_t admin_sk[64])
{
    fkex_policy *p;
    char *canonical;
    fkex_writer w;
    fkex_rmsg_descriptor d = { 0 };
    fkex_err err;
    size_t namelen = strlen(name);
    if (namelen == 0 || namelen > FKEX_ROOM_NAME_MAX || !FKEX_ROOM_OPTIONS_OK(options))
        return FKEX_ERR_ARGUMENT;
    if ((err = fkex_policy_parse(&p, policy, strlen(policy), NULL)) != FKEX_OK)
        return err;
    err = fkex_policy_print(&canonical, p);
    fkex_policy_free(p);
    if (err != FKEX_OK)
        return err;
    d.name = (const uint8_t *)name;
    d.namelen = namelen;
    d.policy = (const uint8_t *)canonical;
    d.policylen = strlen(canonical);
    memcpy(d.admin_pk, admin_sk + 32, 32);   /* libsodium: seed || public key */
    d.version = version;
    d.options = options;
    fkex_writer_init(&w);
    fkex_rmsg_descriptor_encode(&w, &d);
    free(canonical);
    if ((err = ratchet_sign_append(&w, admin_sk, "descriptor")) != FKEX_OK) {
        fkex_writer_free(&w);
        return err;
    }
    *out = w.buf;
    *outlen = w.len;
    return FKEX_OK;
}

fkex_err fkex_room_descriptor_check(fkex_rmsg_descriptor *d, const uint8_t room_id[32],
                                    const uint8_t *in, size_t len)
{
    uint8_t id[32];
    fkex_policy *p;
    char *canonical;
    fkex_err err = fkex_rmsg_descriptor_decode(d, in, len);
    if (err != FKEX_OK)
        return err;
    if (fkex_sign_verify(d->sig, d->admin_pk, "descriptor", in, d->signed_len) != 0)
        return FKEX_ERR_AUTHENTICATION;
    fkex_room_id(id, d->admin_pk, d->name, d->namelen);
    if (sodium_memcmp(id, room_id, 32) != 0)
        return FKEX_ERR_WRONG_ROOM;
    if ((err = fkex_policy_parse(&p, (const char *)d->policy, d->policylen, NULL)) != FKEX_OK)
        return err;
    err = fkex_policy_print(&canonical, p);
    fkex_policy_free(p);
    if (err != FKEX_OK)
        return err;
    if (strlen(canonical) != d->policylen || memcmp(canonical, d->policy, d->policylen) != 0)
        err = FKEX_ERR_BAD_ENCODING;
    free(canonical);
    return err;
}

fkex_err fkex_room_kick_create(uint8_t **out, size_t *outlen, const uint8_t room_id[32],
                               const uint8_t pseudonym[FKEX_PSEUDONYM_BYTES], const char *reason,
                               const uint8_t admin_sk[64])
{
    fkex_rmsg_kick k = { 0 };
    fkex_writer w;
    fkex_err err;
    size_t len = strlen(reason);
    if (len > FKEX_KICK_REASON_MAX)
        return FKEX_ERR_ARGUMENT;
    for (size_t i = 0; i < len; i++)
        if (reason[i] < 0x20 || reason[i] > 0x7e)
            return FKEX_ERR_ARGUMENT;
    memcpy(k.room_id, room_id, 32);
    memcpy(k.pseudonym, pseudonym, FKEX_PSEUDONYM_BYTES);
    k.reason = (const uint8_t *)reason;
    k.reasonlen = len;
    fkex_writer_init(&w);
    fkex_rmsg_kick_encode(&w, &k);
    if ((err = ratchet_sign_append(&w, admin_sk, "kick")) != FKEX_OK) {
        fkex_writer_free(&w);
        return err;
    }
    *out = w.buf;
    *outlen = w.len;
    return FKEX_OK;
}

fkex_err fkex_room_kick_check(fkex_rmsg_kick *k, const uint8_t room_id[32],
                              const uint8_t admin_pk[32], const uint8_t *in, size_t len)
{
    fkex_err err = fkex_rmsg_kick_decode(k, in, len);
    if (err != FKEX_OK)
        return err;
    if (sodium_memcmp(k->room_id, room_id, 32) != 0)
        return FKEX_ERR_WRONG_ROOM;
    if (fkex_sign_verify(k->sig, admin_pk, "kick", in, k->signed_len) != 0)
        return FKEX_ERR_AUTHENTICATION;
    return FKEX_OK;
}

/* ---- helpers shared by the protocol files ------------------------------------ */

fkex_err ratchet_sign_append(fkex_writer *w, const uint8_t sk[64], const char *label)
{
    uint8_t sig[64];
    fkex_err err;
    if (w->failed)
        return FKEX_ERR_NO_MEMORY;
    if ((err = fkex_sign(sig, sk, label, w->buf, w->len)) != FKEX_OK)
        return err;
    fkex_writer_put(w, sig, sizeof sig);
    return w->failed ? FKEX_ERR_NO_MEMORY : FKEX_OK;
}

/* Hands the writer's bytes to out, addressed to the relay. */
fkex_err ratchet_emit(fkex_gke_out *out, fkex_writer *w)
{
    if (w->failed) {
        fkex_writer_free(w);
        return FKEX_ERR_NO_MEMORY;
    }
    fkex_err err = fkex_gke_out_msg(out, FKEX_GKE_TO_ROOM, w->buf, w->len);
    fkex_writer_init(w);
    return err;
}

void ratchet_group_context(fkex_group_context *c, const fkex_ratchet *st)
{
    c->epoch = st->keys.epoch;
    memcpy(c->transcript_hash, st->keys.transcript_hash, 32);
    memcpy(c->roster_hash, st->keys.roster_hash, 32);
    memcpy(c->descriptor_hash, st->room.hash, 32);
}

static fkex_err effective_policy(fkex_policy **out, const char *text, uint32_t options,
                                 const char *period)
{
    if (!(options & FKEX_ROOM_REQUIRE_PERIOD))
        return fkex_policy_parse(out, text, strlen(text), NULL);
    if (!period)
        return FKEX_ERR_ARGUMENT;
    size_t n = strlen(text) + strlen(period) + 32;
    char *full = malloc(n);
    if (!full)
        return FKEX_ERR_NO_MEMORY;
    snprintf(full, n, "(%s) and period:%s", text, period);
    fkex_err err = fkex_policy_parse(out, full, strlen(full), NULL);
    free(full);
    return err;
}

fkex_err ratchet_descriptor_prepare(room_descriptor *out, const fkex_ratchet *st,
                                    const uint8_t *bytes, size_t len)
{
    fkex_rmsg_descriptor d;
    room_descriptor r = { 0 };
    fkex_err err = fkex_room_descriptor_check(&d, st->room_id, bytes, len);
    if (err != FKEX_OK)
        return err;
    if (d.options & FKEX_ROOM_SEED_MODE)
        return FKEX_ERR_UNSUPPORTED;   /* a seed-mode room is gke/seed.h's, never the ratchet's */
    if (st->room.bytes) {
        /* A change: the same admin, a higher version. */
        if (sodium_memcmp(d.admin_pk, st->room.admin_pk, 32) != 0)
            return FKEX_ERR_AUTHENTICATION;
        if (d.version <= st->room.version)
            return FKEX_ERR_REPLAY;
    }
    if (!(r.policy_text = malloc(d.policylen + 1)) || !(r.bytes = malloc(len))) {
        ratchet_descriptor_free(&r);
        return FKEX_ERR_NO_MEMORY;
    }
    memcpy(r.policy_text, d.policy, d.policylen);
    r.policy_text[d.policylen] = 0;
    if ((err = effective_policy(&r.policy, r.policy_text, d.options, st->period)) != FKEX_OK) {
        ratchet_descriptor_free(&r);
        return err;
    }
    memcpy(r.bytes, bytes, len);
    r.len = len;
    crypto_hash_sha256(r.hash, bytes, len);
    memcpy(r.admin_pk, d.admin_pk, 32);
    r.version = d.version;
    r.options = d.options;
    *out = r;
    return FKEX_OK;
}

void ratchet_descriptor_free(room_descriptor *d)
{
    free(d->bytes);
    free(d->policy_text);
    fkex_policy_free(d->policy);
    memset(d, 0, sizeof *d);
}

/* ---- creation -------------------------------------------------------------- */

static fkex_err start(fkex_ratchet **out, const fkex_ratchet_config *cfg, fkex_rng *rng)
{
    fkex_ratchet *st = calloc(1, sizeof *st);
    fkex_err err;
    if (!st)
        return FKEX_ERR_NO_MEMORY;
    memcpy(st->room_id, cfg->room_id, 32);
    st->abe_key = cfg->key;
    if (cfg->period && !(st->period = strdup(cfg->period))) {
        free(st);
        return FKEX_ERR_NO_MEMORY;
    }
    if ((err = ratchet_descriptor_prepare(&st->room, st, cfg->descriptor,
                                          cfg->descriptor_len)) != FKEX_OK) {
        fkex_ratchet_free(st);
        return err;
    }
    fkex_sign_keypair(st->self.sig_pk, st->sig_sk, rng);
    fkex_hpke_keypair_generate(st->hpke_sk, st->self.hpke_pk, rng);
    ratchet_leaf_id(st->leaf_id, &st->self);
    *out = st;
    return FKEX_OK;
}

/* A founder proves to itself what every joiner proves to its sponsor:
 * that its key decapsulates under the room's effective policy. A room
 * founded by a key its own policy excludes would admit nobody honestly
 * (its founder sponsors every first join). One encapsulation and one
 * decapsulation, once per room. */
static fkex_err founder_satisfies(const fkex_ratchet *st, fkex_rng *rng)
{
    uint8_t k[32], back[32];
    fkex_abe_ct *ct;
    fkex_err err = fkex_abe_encap(k, &ct, fkex_key_mpk(st->abe_key), st->room.policy,
                                  FKEX_ABE_CCA, rng);
    if (err != FKEX_OK)
        return err;
    err = fkex_abe_decap(back, st->abe_key, ct, FKEX_ABE_CCA);
    if (err == FKEX_OK && sodium_memcmp(k, back, 32) != 0)
        err = FKEX_ERR_AUTHENTICATION;
    fkex_abe_ct_free(ct);
    sodium_memzero(k, sizeof k);
    sodium_memzero(back, sizeof back);
    return err;
}

fkex_err fkex_ratchet_create(fkex_ratchet **out, const fkex_ratchet_config *cfg, fkex_rng *rng)
{
    static const uint8_t no_commit[32];
    fkex_ratchet *st;
    next_epoch next;
    epoch_keys keys;
    uint8_t init_secret[32], epoch_secret[32], transcript[32] = { 0 };
    fkex_leaf *leaves;
    roster r;
    ratchet_tree tree = { 0 };
    tree_private tpriv = { 0 };
    uint32_t index;
    uint8_t tree_h[32];
    fkex_err err = start(&st, cfg, rng);
    if (err != FKEX_OK)
        return err;
    if ((err = founder_satisfies(st, rng)) != FKEX_OK) {
        fkex_ratchet_free(st);
        return err;
    }
    if (!(leaves = malloc(sizeof *leaves))) {
        fkex_ratchet_free(st);
        return FKEX_ERR_NO_MEMORY;
    }
    leaves[0] = st->self;
    if ((err = roster_whole(&r, leaves, 1)) != FKEX_OK) {
        fkex_ratchet_free(st);
        return err;
    }
    if ((err = tree_add(&tree, st->self.hpke_pk, &index)) != FKEX_OK) {
        roster_free(&r);
        fkex_ratchet_free(st);
        return err;
    }
    tpriv.nkeys = 1;
    memcpy(tpriv.keys[0].sk, st->hpke_sk, 32);   /* leaf 0, node 0 */
    tree_hash(tree_h, &tree);
    /* The founder starts epoch 0 with a random init_secret (and, as
     * nothing is committed, an all-zero commit secret). */
    fkex_rng_fill(rng, init_secret, sizeof init_secret);
    schedule_next(&keys, epoch_secret, init_secret, no_commit, NULL, st->room_id, 0, transcript,
                  r.hash, tree_h);
    sodium_memzero(init_secret, sizeof init_secret);
    sodium_memzero(epoch_secret, sizeof epoch_secret);
    err = ratchet_prepare_epoch(&next, st, &keys, &r, &tree, &tpriv, NULL, NULL, 0);
    if (err == FKEX_OK)
        ratchet_install_epoch(st, &next, &keys);
    sodium_memzero(&keys, sizeof keys);
    tree_private_wipe(&tpriv);
    if (err != FKEX_OK) {
        fkex_ratchet_free(st);
        return err;
    }
    *out = st;
    return FKEX_OK;
}

fkex_err fkex_ratchet_join(fkex_ratchet **out, const fkex_ratchet_config *cfg, fkex_rng *rng,
                           fkex_gke_out *o)
{
    fkex_ratchet *st;
    fkex_err err = start(&st, cfg, rng);
    if (err != FKEX_OK)
        return err;
    if ((err = admission_request(st, rng, o)) != FKEX_OK) {
        fkex_ratchet_free(st);
        return err;
    }
    st->phase = RATCHET_JOIN_SENT;
    *out = st;
    return FKEX_OK;
}

/* ---- epochs ------------------------------------------------------------------ */

fkex_err ratchet_prepare_epoch(next_epoch *n, const fkex_ratchet *st, const epoch_keys *keys,
                               roster *r, ratchet_tree *tree, const tree_private *tpriv,
                               const fkex_rmsg_commit *c, const uint8_t *descriptor,
                               size_t descriptor_len)
{
    fkex_err err;
    memset(n, 0, sizeof *n);
    n->roster = *r;
    memset(r, 0, sizeof *r);
    n->tree = *tree;
    memset(tree, 0, sizeof *tree);
    n->tpriv = *tpriv;
    /* The reading epoch takes the roster's array; n->roster.leaves stays
     * a view of it. */
    if ((err = appmsg_reading_init(&n->reading, keys, n->roster.leaves, n->roster.n)) != FKEX_OK ||
        (err = (n->acked = calloc(n->roster.n, 1)) ? FKEX_OK : FKEX_ERR_NO_MEMORY) != FKEX_OK ||
        (descriptor && (err = ratchet_descriptor_prepare(&n->room, st, descriptor,
                                                         descriptor_len)) != FKEX_OK)) {
        ratchet_next_epoch_free(n);
        return err;
    }
    n->has_room = descriptor != NULL;
    /* JoinAcks carry over to each member's new place, and joiners owe
     * one. After a re-attestation everyone but the committer owes one
     * (members whose keys fell out cannot send it). Without a commit
     * (founding, a Welcome) nobody owes this party one. O(n). */
    for (uint32_t i = 0; i < n->roster.n; i++) {
        if (!c)
            n->acked[i] = 1;
        else if (c->psk_ct)
            n->acked[i] = n->roster.from[i] == c->committer;
        else
            n->acked[i] = n->roster.from[i] != UINT32_MAX && st->acked[n->roster.from[i]];
    }
    return FKEX_OK;
}

void ratchet_next_epoch_free(next_epoch *n)
{
    n->roster.leaves = NULL;   /* the reading epoch's (taken even if it failed) */
    roster_free(&n->roster);
    free(n->acked);
    tree_free(&n->tree);
    tree_private_wipe(&n->tpriv);
    appmsg_reading_wipe(&n->reading);
    ratchet_descriptor_free(&n->room);
    memset(n, 0, sizeof *n);
}

void ratchet_install_epoch(fkex_ratchet *st, next_epoch *n, const epoch_keys *keys)
{
    /* Proposals follow their member to its new place and key (an Update
     * rotates V: a member must not shed its pending removal by one);
     * those of members who are gone are done. O(removals x n). */
    size_t kept = 0;
    for (size_t k = 0; k < st->nremovals; k++)
        for (uint32_t i = 0; i < n->roster.n; i++) {
            const uint8_t *was = n->roster.from ? n->roster.from[i] == UINT32_MAX
                                                      ? NULL : st->leaves[n->roster.from[i]].sig_pk
                                                : n->roster.leaves[i].sig_pk;
            if (was && memcmp(st->removals[k], was, 32) == 0) {
                memcpy(st->removals[kept++], n->roster.leaves[i].sig_pk, 32);
                break;
            }
        }
    st->nremovals = kept;
    for (uint32_t i = 0; i < n->roster.n; i++)
        if (memcmp(n->roster.leaves[i].sig_pk, st->self.sig_pk, 32) == 0)
            st->index = i;
    if (n->has_room) {
        ratchet_descriptor_free(&st->room);
        st->room = n->room;
    }
    appmsg_reading_wipe(&st->previous);
    st->previous = st->current;
    st->current = n->reading;
    free(st->chunks);
    free(st->acked);
    st->leaves = st->current.leaves;
    st->chunks = n->roster.chunks;
    st->nleaves = n->roster.n;
    st->acked = n->acked;
    tree_free(&st->tree);
    st->tree = n->tree;
    st->tpriv = n->tpriv;
    free(n->roster.from);
    sodium_memzero(n, sizeof *n);
    sodium_memzero(&st->keys, sizeof st->keys);
    st->keys = *keys;
    appmsg_send_init(st);
    sodium_memzero(st->keys.encryption_secret, 32);   /* it lives on only in the tree */
    st->phase = RATCHET_MEMBER;

    /* Admissions were bound to the old group context. */
    ratchet_drop_joins(st);
}

void ratchet_drop_joins(fkex_ratchet *st)
{
    sodium_memzero(st->joins, sizeof st->joins);
    st->njoins = 0;
}

void ratchet_gone(fkex_ratchet *st)
{
    commit_forget_candidates(st);
    ratchet_wipe_join(st);
    ratchet_drop_joins(st);
    appmsg_reading_wipe(&st->current);
    appmsg_reading_wipe(&st->previous);
    st->leaves = NULL;   /* current's */
    st->nleaves = 0;
    tree_free(&st->tree);
    tree_private_wipe(&st->tpriv);
    sodium_memzero(&st->keys, sizeof st->keys);
    sodium_memzero(st->send_ck, sizeof st->send_ck);
    sodium_memzero(&st->commit, sizeof st->commit);
    sodium_memzero(st->hpke_sk, sizeof st->hpke_sk);
    sodium_memzero(st->sig_sk, sizeof st->sig_sk);
    st->phase = RATCHET_GONE;
}

void ratchet_wipe_join(fkex_ratchet *st)
{
    if (st->join_request) {
        free(st->join_request);
        st->join_request = NULL;
    }
    sodium_memzero(st->k_j, sizeof st->k_j);
    sodium_memzero(st->k_w, sizeof st->k_w);
    sodium_memzero(st->th, sizeof st->th);
}

/* ---- proposals and acknowledgements ---------------------------------------------- */

fkex_err ratchet_propose(fkex_ratchet *st, uint32_t target, const uint8_t evidence[32],
                         fkex_gke_out *out)
{
    fkex_rmsg_remove m = { 0 };
    fkex_writer w;
    uint8_t tag[32];
    fkex_err err;
    memcpy(m.room_id, st->room_id, 32);
    m.epoch = st->keys.epoch;
    m.proposer = st->index;
    m.target = target;
    if (evidence)
        memcpy(m.evidence, evidence, 32);
    fkex_writer_init(&w);
    fkex_rmsg_remove_encode(&w, &m);
    if (!w.failed) {
        fkex_mac(tag, st->keys.membership_key, w.buf, w.len);
        fkex_writer_put(&w, tag, 32);
    }
    if ((err = ratchet_sign_append(&w, st->sig_sk, "remove")) != FKEX_OK) {
        fkex_writer_free(&w);
        return err;
    }
    return ratchet_emit(out, &w);
}

fkex_err fkex_ratchet_propose_remove(fkex_ratchet *st, uint32_t index, fkex_gke_out *out)
{
    if (st->phase != RATCHET_MEMBER)
        return FKEX_ERR_UNEXPECTED;
    if (index >= st->nleaves)
        return FKEX_ERR_ARGUMENT;
    return ratchet_propose(st, index, NULL, out);
}

/* Member `target` is to be removed by the next commit: kept by its V
 * until a commit removes it. FKEX_ERR_REPLAY if it is already. */
static fkex_err pending_removal(fkex_ratchet *st, uint32_t target)
{
    for (size_t i = 0; i < st->nremovals; i++)
        if (memcmp(st->removals[i], st->leaves[target].sig_pk, 32) == 0)
            return FKEX_ERR_REPLAY;
    void *grown = realloc(st->removals, (st->nremovals + 1) * sizeof *st->removals);
    if (!grown)
        return FKEX_ERR_NO_MEMORY;
    st->removals = grown;
    memcpy(st->removals[st->nremovals++], st->leaves[target].sig_pk, 32);
    return FKEX_OK;
}

/* A proposal needs the current epoch's membership key (version 2): a
 * thief of an old state, or of a signing key alone, cannot propose. */
static fkex_err on_remove(fkex_ratchet *st, const uint8_t *msg, size_t len)
{
    fkex_rmsg_remove m;
    fkex_err err = fkex_rmsg_remove_decode(&m, msg, len);
    if (err != FKEX_OK)
        return err;
    if (m.epoch != st->keys.epoch)
        return FKEX_ERR_WRONG_EPOCH;
    if (m.proposer >= st->nleaves || m.target >= st->nleaves)
        return FKEX_ERR_BAD_ENCODING;
    if (fkex_sign_verify(m.sig, st->leaves[m.proposer].sig_pk, "remove", msg, m.signed_len) != 0 ||
        fkex_mac_verify(m.membership_tag, st->keys.membership_key, msg, m.tagged_len) != 0)
        return FKEX_ERR_AUTHENTICATION;
    return pending_removal(st, m.target);
}

/* A kick by the room's admin: the member it names is to be removed. The
 * admin's signature is the proposal; no member needs to propose it. */
static fkex_err on_kick(fkex_ratchet *st, const uint8_t *msg, size_t len, fkex_gke_out *out)
{
    fkex_rmsg_kick k;
    uint32_t target = UINT32_MAX, found = 0;
    fkex_err err = fkex_room_kick_check(&k, st->room_id, st->room.admin_pk, msg, len);
    if (err != FKEX_OK)
        return err;
    for (uint32_t i = 0; i < st->nleaves; i++)
        if (memcmp(st->leaves[i].sig_pk, k.pseudonym, FKEX_PSEUDONYM_BYTES) == 0) {
            target = i;
            found++;
        }
    if (found != 1)
        return FKEX_ERR_UNEXPECTED;   /* gone already (or, 2^-64, ambiguous) */
    if (target == st->index) {
        if ((err = fkex_gke_out_event(out, FKEX_GKE_EV_KICKED, FKEX_OK, st->keys.epoch, st->nleaves,
                                      target, k.reason, k.reasonlen)) == FKEX_OK)
            ratchet_gone(st);
        return err;
    }
    if ((err = pending_removal(st, target)) != FKEX_OK)
        return err;   /* FKEX_ERR_REPLAY: pending already (the kick again): reported once */
    return fkex_gke_out_event(out, FKEX_GKE_EV_KICKED, FKEX_OK, st->keys.epoch, st->nleaves, target,
                              k.reason, k.reasonlen);
}

void ratchet_ack_tag(uint8_t tag[32], const uint8_t confirmation_key[32],
                     const uint8_t transcript_hash[32], const uint8_t leaf_id[32])
{
    uint8_t in[3 + 32 + 32] = { 'a', 'c', 'k' };
    memcpy(in + 3, leaf_id, 32);
    memcpy(in + 35, transcript_hash, 32);
    fkex_mac(tag, confirmation_key, in, sizeof in);
}

fkex_err ratchet_ack(fkex_gke_out *out, const fkex_ratchet *st, const epoch_keys *keys,
                     const fkex_leaf *leaves, uint32_t nleaves)
{
    fkex_rmsg_join_ack ack = { 0 };
    fkex_writer w;
    uint8_t id[32];
    fkex_err err;
    ack.sender = nleaves;
    for (uint32_t i = 0; i < nleaves; i++)
        if (memcmp(leaves[i].sig_pk, st->self.sig_pk, 32) == 0)
            ack.sender = i;
    if (ack.sender == nleaves)
        return FKEX_ERR_ARGUMENT;
    memcpy(ack.room_id, st->room_id, 32);
    ack.epoch = keys->epoch;
    ratchet_leaf_id(id, &leaves[ack.sender]);
    ratchet_ack_tag(ack.tag, keys->confirmation_key, keys->transcript_hash, id);
    fkex_writer_init(&w);
    fkex_rmsg_join_ack_encode(&w, &ack);
    if ((err = ratchet_sign_append(&w, st->sig_sk, "join ack")) != FKEX_OK) {
        fkex_writer_free(&w);
        return err;
    }
    return ratchet_emit(out, &w);
}

reading_epoch *ratchet_reading(fkex_ratchet *st, uint64_t epoch)
{
    if (st->current.valid && epoch == st->current.epoch)
        return &st->current;
    if (st->previous.valid && epoch == st->previous.epoch)
        return &st->previous;
    return NULL;
}

/* A JoinAck for the current epoch, or for the previous one (a commit may
 * overtake an ack in flight): checked with that epoch's roster and keys,
 * then credited to the sender's place in the current roster. */
static fkex_err on_join_ack(fkex_ratchet *st, const uint8_t *msg, size_t len, fkex_gke_out *out)
{
    fkex_rmsg_join_ack m;
    const reading_epoch *r;
    uint8_t id[32], want[32];
    uint32_t now = UINT32_MAX;
    fkex_err err = fkex_rmsg_join_ack_decode(&m, msg, len);
    if (err != FKEX_OK)
        return err;
    if (!(r = ratchet_reading(st, m.epoch)))
        return FKEX_ERR_WRONG_EPOCH;
    if (m.sender >= r->nleaves)
        return FKEX_ERR_BAD_ENCODING;
    if (fkex_sign_verify(m.sig, r->leaves[m.sender].sig_pk, "join ack", msg, m.signed_len) != 0)
        return FKEX_ERR_AUTHENTICATION;
    ratchet_leaf_id(id, &r->leaves[m.sender]);
    ratchet_ack_tag(want, r->confirmation_key, r->transcript_hash, id);
    if (sodium_memcmp(want, m.tag, 32) != 0)   /* signed, yet not of this epoch's keys */
        return fkex_gke_out_event(out, FKEX_GKE_EV_FORK, FKEX_ERR_AUTHENTICATION, m.epoch,
                                  r->nleaves, m.sender, NULL, 0);
    for (uint32_t i = 0; i < st->nleaves; i++)
        if (memcmp(st->leaves[i].sig_pk, r->leaves[m.sender].sig_pk, 32) == 0)
            now = i;
    if (now == UINT32_MAX)
        return FKEX_ERR_UNEXPECTED;   /* removed since */
    if (st->acked[now])
        return FKEX_ERR_REPLAY;
    st->acked[now] = 1;
    return FKEX_OK;
}

/* An EpochAck for the current or the previous epoch must name the commit
 * that began the epoch here and (unless its sender departs) carry a MAC
 * under its confirmation key. If not, and the sender's leaf key of that
 * epoch signed it, the sender is in another epoch under the same number:
 * a fork, reported (FKEX_ERR_WRONG_ROOM: another commit;
 * FKEX_ERR_AUTHENTICATION: the MAC). One HMAC when all is well. */
static fkex_err on_epoch_ack(fkex_ratchet *st, const uint8_t *msg, size_t len, fkex_gke_out *out)
{
    fkex_rmsg_epoch_ack m;
    const reading_epoch *r, *signers;
    uint8_t id[32], want[32];
    fkex_err err = fkex_rmsg_epoch_ack_decode(&m, msg, len);
    if (err != FKEX_OK)
        return err;
    /* A departing sender signs with its key of the epoch it leaves, and
     * names its place there. */
    if (!(r = ratchet_reading(st, m.epoch)) ||
        !(signers = m.departing ? ratchet_reading(st, m.epoch - 1) : r))
        return FKEX_ERR_WRONG_EPOCH;
    if (m.sender >= signers->nleaves)
        return FKEX_ERR_BAD_ENCODING;
    int same = sodium_memcmp(m.commit_hash, r->commit_hash, 32) == 0;
    if (same && !m.departing) {
        ratchet_leaf_id(id, &r->leaves[m.sender]);
        commit_epoch_ack_tag(want, r->confirmation_key, r->commit_hash, id);
        same = sodium_memcmp(want, m.tag, 32) == 0;
    }
    /* Agreement needs no signature (only a holder of this epoch's
     * confirmation key makes the tag); a disagreement is a fork only if
     * the sender signed it, else it is somebody's junk. */
    if (same)
        return FKEX_OK;
    if (fkex_sign_verify(m.sig, signers->leaves[m.sender].sig_pk, "epoch ack", msg,
                         m.signed_len) != 0)
        return FKEX_ERR_AUTHENTICATION;
    return fkex_gke_out_event(out, FKEX_GKE_EV_FORK,
                              sodium_memcmp(m.commit_hash, r->commit_hash, 32) != 0
                                  ? FKEX_ERR_WRONG_ROOM : FKEX_ERR_AUTHENTICATION,
                              m.epoch, r->nleaves, m.sender, m.commit_hash, 32);
}

/* ---- dispatch ------------------------------------------------------------------- */

static fkex_err dispatch(fkex_ratchet *st, fkex_rmsg_type type, const uint8_t *msg, size_t len,
                         fkex_rng *rng, fkex_gke_out *out)
{
    switch (st->phase) {
    case RATCHET_JOIN_SENT:
    case RATCHET_PROOF_SENT:
        return type == FKEX_RMSG_CHALLENGE       ? admission_on_challenge(st, msg, len, out)
               : type == FKEX_RMSG_JOIN_REFUSED  ? admission_on_refused(st, msg, len, out)
               : type == FKEX_RMSG_WELCOME && st->phase == RATCHET_PROOF_SENT
                   ? admission_on_welcome(st, msg, len, out)
                   : FKEX_ERR_UNEXPECTED;
    case RATCHET_MEMBER:
        break;
    case RATCHET_GONE:
        return FKEX_ERR_UNEXPECTED;
    }
    switch (type) {
    case FKEX_RMSG_JOIN_REQUEST: return admission_on_request(st, msg, len, rng, out);
    case FKEX_RMSG_PROOF:        return admission_on_proof(st, msg, len, out);
    case FKEX_RMSG_COMMIT:       return commit_on_commit(st, msg, len, out);
    case FKEX_RMSG_JOIN_ACK:     return on_join_ack(st, msg, len, out);
    case FKEX_RMSG_EPOCH_ACK:    return on_epoch_ack(st, msg, len, out);
    case FKEX_RMSG_SETTLED:      return commit_on_settled(st, msg, len, out);
    case FKEX_RMSG_KICK:         return on_kick(st, msg, len, out);
    case FKEX_RMSG_REMOVE:       return on_remove(st, msg, len);
    case FKEX_RMSG_APPLICATION:  return appmsg_on_message(st, msg, len, out);
    default:                     return FKEX_ERR_UNEXPECTED;
    }
}

fkex_err fkex_ratchet_receive(fkex_ratchet *st, const uint8_t *msg, size_t len, fkex_rng *rng,
                              fkex_gke_out *out)
{
    fkex_rmsg_type type;
    uint8_t room[32];
    size_t nmsgs = out->nmsgs, nevents = out->nevents;
    fkex_err err = fkex_rmsg_peek(&type, room, msg, len);
    if (err != FKEX_OK)
        return err;
    if (type == FKEX_RMSG_DESCRIPTOR || sodium_memcmp(room, st->room_id, 32) != 0)
        return FKEX_ERR_WRONG_ROOM;
    int member = st->phase == RATCHET_MEMBER;
    err = dispatch(st, type, msg, len, rng, out);
    if (err != FKEX_OK) {
        fkex_gke_out_truncate(out, nmsgs, nevents);
        /* A refused join is answered, so that the joiner can act and the
         * relay frees its slot: the one output of a refusal. */
        if (member && (type == FKEX_RMSG_JOIN_REQUEST || type == FKEX_RMSG_PROOF) &&
            admission_refuse(st, type, msg, len, err, out) != FKEX_OK)
            fkex_gke_out_truncate(out, nmsgs, nevents);
    }
    return err;
}

fkex_err fkex_ratchet_set_period(fkex_ratchet *st, const char *period)
{
    fkex_policy *policy;
    char *copy = strdup(period);
    fkex_err err;
    if (!copy)
        return FKEX_ERR_NO_MEMORY;
    if ((err = effective_policy(&policy, st->room.policy_text, st->room.options, copy)) != FKEX_OK) {
        free(copy);
        return err;
    }
    free(st->period);
    fkex_policy_free(st->room.policy);
    st->period = copy;
    st->room.policy = policy;
    ratchet_drop_joins(st);   /* admitted under the old period's policy */
    return FKEX_OK;
}

fkex_err fkex_ratchet_relay_auth(uint8_t sig[64], const fkex_ratchet *st, const uint8_t nonce[32])
{
    if (st->phase == RATCHET_GONE)
        return FKEX_ERR_UNEXPECTED;   /* its keys are wiped */
    return fkex_relay_auth_sign(sig, st->sig_sk, st->room_id, nonce, st->self.sig_pk);
}

void fkex_ratchet_drop_commit(fkex_ratchet *st)
{
    sodium_memzero(&st->commit, sizeof st->commit);
    /* Its joiners go too: the relay refuses a commit adding a joiner it
     * has passed to another sponsor, and sends back those it has not. */
    for (size_t i = st->njoins; i-- > 0;)
        if (st->joins[i].committed)
            admission_drop(st, i);
}

void fkex_ratchet_forget_previous(fkex_ratchet *st)
{
    appmsg_reading_wipe(&st->previous);
}

/* ---- accessors ------------------------------------------------------------------ */

int fkex_ratchet_is_member(const fkex_ratchet *st) { return st->phase == RATCHET_MEMBER; }
uint64_t fkex_ratchet_epoch(const fkex_ratchet *st) { return st->keys.epoch; }
uint32_t fkex_ratchet_members(const fkex_ratchet *st) { return st->nleaves; }
uint32_t fkex_ratchet_index(const fkex_ratchet *st) { return st->index; }

void fkex_ratchet_epoch_authenticator(uint8_t out[32], const fkex_ratchet *st)
{
    memcpy(out, st->keys.epoch_authenticator, 32);
}

void fkex_ratchet_epoch_fingerprint(uint8_t out[32], const fkex_ratchet *st)
{
    fkex_kdf_expand(out, st->keys.epoch_authenticator, "verify", NULL, 0);
}

int fkex_ratchet_acked(const fkex_ratchet *st, uint32_t index)
{
    return index < st->nleaves && st->acked[index];
}

int fkex_ratchet_removal_pending(const fkex_ratchet *st, uint32_t index)
{
    for (size_t i = 0; index < st->nleaves && i < st->nremovals; i++)
        if (memcmp(st->removals[i], st->leaves[index].sig_pk, 32) == 0)
            return 1;
    return 0;
}

size_t fkex_ratchet_joins_unproved(const fkex_ratchet *st)
{
    size_t n = 0;
    for (size_t i = 0; i < st->njoins; i++)
        n += !st->joins[i].admitted;
    return n;
}

const uint8_t *fkex_ratchet_descriptor(const fkex_ratchet *st, size_t *len)
{
    *len = st->room.len;
    return st->room.bytes;
}

void fkex_ratchet_leaf_key(uint8_t out[32], const fkex_ratchet *st)
{
    memcpy(out, st->self.sig_pk, 32);
}

int fkex_ratchet_member_key(uint8_t out[32], const fkex_ratchet *st, uint32_t index)
{
    if (st->phase != RATCHET_MEMBER || index >= st->nleaves)
        return -1;
    memcpy(out, st->leaves[index].sig_pk, 32);
    return 0;
}

void fkex_ratchet_leaf_id(uint8_t out[32], const fkex_ratchet *st)
{
    memcpy(out, st->leaf_id, 32);
}

void fkex_ratchet_free(fkex_ratchet *st)
{
    if (!st)
        return;
    ratchet_gone(st);
    ratchet_descriptor_free(&st->room);
    free(st->period);
    free(st->chunks);
    free(st->acked);
    free(st->removals);
    sodium_memzero(st, sizeof *st);
    free(st);
}
