/*
 * gke/commit.c: building and applying commits (PROTOCOL.md, join step 4,
 * "Leave and remove", "Updates, re-attestation, policy change").
 *
 * A commit moves the room from epoch e to e+1. Its content lists the
 * admitted joiners (Add), the members who go (Remove), the committer's new
 * HPKE key (Update), a re-attestation's ABE ciphertext (psk) and a new
 * descriptor. Then:
 *   transcript_{e+1} = H(transcript_e, content)
 *   epoch_secret_{e+1} = KDF-Extract(init_secret_e, commit_secret || psk)
 *   confirmation_tag = MAC(confirmation_key_{e+1}, transcript_{e+1})
 *   membership_tag = MAC(membership_key_e, content || confirmation_tag)
 *   signature of the committer over content || confirmation_tag || membership_tag
 * commit_secret goes to the members who stay either sealed under the old
 * epoch's "add" key (nobody leaves and no key changes: symmetric work for
 * everyone) or at the top of the committer's UpdatePath through the
 * ratchet tree (path.c; a removal or an update: those who leave, or whose
 * old key leaked, must not learn it).
 *
 * Version 2 (PROTOCOL.md): the relay delivers every candidate commit for
 * an epoch. A member checks them in relay order, prepares the first that
 * passes every check (the tentative epoch) and acknowledges it
 * (EpochAck); the relay settles the epoch on the commit of the first
 * EpochAck and says so (SETTLED), and only then does a member install
 * it: the tentative one, or a later candidate checked then, or, if it
 * cannot apply the settled commit, it leaves (FKEX_GKE_EV_LOST) to come
 * back through admission. No refused commit can hold a room.
 *
 * Costs, n members: the committer O(log n) HPKE seals for a path in a
 * full tree (more while it has blanks), otherwise O(1); every other
 * member one signature check, one HPKE open and O(log n) key derivations
 * or one AEAD, a dozen HMACs, O(log n) hashes of the tree, and O(n) to
 * copy the roster and the tree; a re-attestation adds one ABE
 * encapsulation (committer) or decapsulation (everyone else).
 */
#include <stdlib.h>
#include "gke/gke.h"
#include "gke/ratchet_state.h"

/* The key of an add-only commit's commit_secret. */
static void add_key(uint8_t key[32], const epoch_keys *keys, const uint8_t nonce[32])
{
    fkex_kdf_expand(key, keys->add_secret, "add", nonce, 32);
}

static const uint8_t zero_nonce[12];

static int removes(const fkex_rmsg_commit *c, uint32_t index)
{
    for (uint32_t r = 0; r < c->nremoves; r++)
        if (load32_be(c->removes + 4 * r) == index)
            return 1;
    return 0;
}

/* ---- building ------------------------------------------------------------------ */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

fkex_err fkex_ratchet_commit(fkex_ratchet *st, const fkex_commit_options *opt, fkex_rng *rng,
                             fkex_gke_out *out)
{
    static const fkex_commit_options none = { 0 };
    fkex_rmsg_commit c = { 0 };
    fkex_writer w;
    roster next = { 0 };
    ratchet_tree tree = { 0 };
    tree_private tpriv = { 0 };
    tree_update u = { 0 };
    tree_joiner_secret js[RATCHET_MAX_PENDING];
    fkex_abe_ct *psk_ct = NULL;
    pending_commit pc = { 0 };
    epoch_keys keys = { 0 };
    uint8_t *adds = NULL, *rm = NULL, key[32], epoch_secret[32], transcript[32], tree_h[32];
    uint8_t ctx[SCHEDULE_CONTEXT_BYTES], tag[32];
    uint32_t *idx = NULL, nidx = 0, nadds = 0, at;
    size_t nmsgs = out->nmsgs, nevents = out->nevents;
    fkex_err err;

    if (!opt)
        opt = &none;
    if (st->phase != RATCHET_MEMBER || st->commit.active)
        return FKEX_ERR_UNEXPECTED;

    /* Removals: the proposed members other than this one, by index. */
    if (st->nremovals && !(idx = malloc(st->nremovals * sizeof *idx)))
        return FKEX_ERR_NO_MEMORY;
    for (size_t i = 0; i < st->nremovals; i++)
        for (uint32_t j = 0; j < st->nleaves; j++)
            if (j != st->index && memcmp(st->removals[i], st->leaves[j].sig_pk, 32) == 0)
                idx[nidx++] = j;
    if (nidx)
        qsort(idx, nidx, sizeof *idx, cmp_u32);
    /* An Update adds nobody: a joiner finds its sponsor in the new roster
     * by the V that signed its Challenge, which an Update replaces. Its
     * joiners wait for the next commit (the relay sends their joins back
     * when this one settles). */
    for (size_t i = 0; i < st->njoins && !opt->update; i++)
        nadds += st->joins[i].admitted ? 1 : 0;
    if ((!nadds && !nidx && !opt->update && !opt->reattest && !opt->descriptor) ||
        (nadds && (opt->reattest || opt->descriptor))) {
        /* Nothing to commit; or joiners admitted under the policy a
         * re-attestation is about to replace: commit them first. */
        free(idx);
        return FKEX_ERR_UNEXPECTED;
    }
    if ((nidx && !(rm = malloc(4 * (size_t)nidx))) ||
        (nadds && !(adds = malloc(64 * (size_t)nadds)))) {
        err = FKEX_ERR_NO_MEMORY;
        goto done;
    }
    for (uint32_t i = 0; i < nidx; i++)
        store32_be(rm + 4 * i, idx[i]);
    for (size_t i = 0, k = 0; i < st->njoins && nadds; i++)
        if (st->joins[i].admitted)
            memcpy(adds + 64 * k++, &st->joins[i].leaf, 64);

    memcpy(c.room_id, st->room_id, 32);
    c.epoch = st->keys.epoch;
    c.committer = st->index;
    fkex_rng_fill(rng, c.nonce, 32);
    c.nadds = nadds;
    c.adds = adds;
    c.nremoves = nidx;
    c.removes = rm;
    if (opt->update) {
        /* Both leaf keys rotate: the new V is signed by the old one with
         * the commit (and the path gives a new X), so a thief of the old
         * state can neither sign as this member nor authenticate to the
         * relay as it. */
        c.has_update = pc.has_update = 1;
        fkex_sign_keypair(c.update_sig_pk, pc.new_sig_sk, rng);
    }
    if (opt->reattest || opt->descriptor) {
        /* psk = k for (k, C) = ABE.Encap(P_effective), under the new
         * descriptor's policy if the commit changes it. The committer
         * re-attests too: it decapsulates C like everyone else, so a key
         * that lapsed cannot stay by committing. */
        room_descriptor changed = { 0 };
        uint8_t check[32];
        if (opt->descriptor &&
            (err = ratchet_descriptor_prepare(&changed, st, opt->descriptor,
                                              opt->descriptor_len)) != FKEX_OK)
            goto done;
        const fkex_policy *p = changed.policy ? changed.policy : st->room.policy;
        err = fkex_abe_encap(pc.psk, &psk_ct, fkex_key_mpk(st->abe_key), p, FKEX_ABE_CCA, rng);
        if (err == FKEX_OK)
            err = fkex_abe_decap(check, st->abe_key, psk_ct, FKEX_ABE_CCA);
        sodium_memzero(check, sizeof check);
        ratchet_descriptor_free(&changed);
        if (err != FKEX_OK)
            goto done;
        pc.has_psk = 1;
        fkex_abe_ct_bytes(&c.psk_ct, &c.psk_ctlen, psk_ct);
        c.descriptor = opt->descriptor;
        c.descriptorlen = opt->descriptor ? opt->descriptor_len : 0;
    }
    c.dist = (nidx || opt->update) ? FKEX_DIST_PATH : FKEX_DIST_GROUP;
    if ((err = dist_tree_next(&tree, &tpriv, &at, st, &c)) != FKEX_OK)
        goto done;
    if (c.dist == FKEX_DIST_GROUP) {
        fkex_rng_fill(rng, pc.commit_secret, 32);
        add_key(key, &st->keys, c.nonce);
        crypto_aead_chacha20poly1305_ietf_encrypt(c.group_sealed, NULL, pc.commit_secret, 32,
                                                  NULL, 0, NULL, zero_nonce, key);
    } else {
        /* The path from this member's leaf in the new tree; its keys
         * become this member's when the commit settles. */
        if ((err = tree_path_create(&u, &tree, at, rng)) != FKEX_OK ||
            (err = tree_path_merge(&tree, at, u.leaf_pk, (const uint8_t *)u.pks, u.m)) != FKEX_OK)
            goto done;
        tree_path_keep(&tpriv, &tree, &u);
        memcpy(c.path_leaf_pk, u.leaf_pk, 32);
        c.path_len = u.m;
        c.path_pks = (const uint8_t *)u.pks;
        memcpy(pc.commit_secret, u.commit_secret, 32);
        pc.has_path = 1;
        memcpy(pc.new_hpke_sk, u.leaf_sk, 32);
        memcpy(pc.new_hpke_pk, u.leaf_pk, 32);
        pc.tpriv = tpriv;
    }
    if ((err = roster_next(&next, st, &c)) != FKEX_OK)
        goto done;
    tree_hash(tree_h, &tree);

    /* Content, then the schedule of epoch e+1, then tags and slices. */
    fkex_writer_init(&w);
    fkex_rmsg_commit_encode(&w, &c);
    if (w.failed) {
        err = FKEX_ERR_NO_MEMORY;
        fkex_writer_free(&w);
        goto done;
    }
    crypto_hash_sha256(pc.content_hash, w.buf, w.len);
    memcpy(transcript, st->keys.transcript_hash, 32);
    fkex_transcript_extend(transcript, w.buf, w.len);
    schedule_next(&keys, epoch_secret, st->keys.init_secret, pc.commit_secret,
                  pc.has_psk ? pc.psk : NULL, st->room_id, c.epoch + 1, transcript, next.hash,
                  tree_h);
    schedule_confirmation_tag(tag, &keys);
    fkex_writer_put(&w, tag, 32);
    if (!w.failed) {
        fkex_mac(key, st->keys.membership_key, w.buf, w.len);
        fkex_writer_put(&w, key, 32);
    }
    if ((err = ratchet_sign_append(&w, st->sig_sk, "commit")) != FKEX_OK) {
        fkex_writer_free(&w);
        goto done;
    }
    if (c.dist == FKEX_DIST_PATH) {
        /* Everyone who stays, but not this member and not the joiners (the
         * roster's tail), who get their path secrets in their Welcomes. */
        schedule_context(ctx, st->room_id, c.epoch + 1, transcript, next.hash, tree_h);
        err = dist_seal(&w, &tree, &u, next.n, nadds, js, ctx, sizeof ctx, rng);
    } else {
        fkex_writer_u32(&w, 0);
        err = w.failed ? FKEX_ERR_NO_MEMORY : FKEX_OK;
    }
    if (err != FKEX_OK || (err = ratchet_emit(out, &w)) != FKEX_OK) {
        fkex_writer_free(&w);
        goto done;
    }
    for (size_t i = 0, k = 0; i < st->njoins && c.nadds; i++)
        if (st->joins[i].admitted &&
            (err = admission_welcome(st, &st->joins[i], pc.content_hash, c.epoch + 1,
                                     epoch_secret, &keys, next.leaves, next.n, &tree,
                                     c.dist == FKEX_DIST_PATH ? &js[k++] : NULL, tag,
                                     out)) != FKEX_OK)
            goto done;
    pc.active = 1;
    st->commit = pc;
    /* Only now: a commit that failed above carries nobody. */
    for (size_t i = 0; i < st->njoins && c.nadds; i++)
        st->joins[i].committed = st->joins[i].admitted;
done:
    if (err != FKEX_OK)
        fkex_gke_out_truncate(out, nmsgs, nevents);
    fkex_abe_ct_free(psk_ct);
    free(idx);
    free(rm);
    free(adds);
    roster_free(&next);
    tree_free(&tree);
    tree_private_wipe(&tpriv);
    tree_update_wipe(&u);
    sodium_memzero(js, sizeof js);
    sodium_memzero(&pc, sizeof pc);
    sodium_memzero(&keys, sizeof keys);
    sodium_memzero(epoch_secret, sizeof epoch_secret);
    sodium_memzero(key, sizeof key);
    return err;
}

/* ---- checking a candidate ------------------------------------------------------ */

/* The psk of a re-attestation: the ciphertext must be under the room's
 * effective policy after the commit. */
static fkex_err open_psk(uint8_t psk[32], const fkex_ratchet *st, const fkex_rmsg_commit *c,
                         const fkex_policy *policy)
{
    fkex_abe_ct *ct;
    char *want;
    fkex_err err = fkex_abe_ct_decode(&ct, c->psk_ct, c->psk_ctlen);
    if (err != FKEX_OK)
        return err;
    if ((err = fkex_policy_print(&want, policy)) == FKEX_OK) {
        err = strcmp(want, fkex_abe_ct_policy(ct)) == 0
                  ? fkex_abe_decap(psk, st->abe_key, ct, FKEX_ABE_CCA)
                  : FKEX_ERR_WRONG_ROOM;
        free(want);
    }
    fkex_abe_ct_free(ct);
    return err;
}

static void tentative_free(tentative_epoch *t)
{
    ratchet_next_epoch_free(&t->next);
    free(t->commit);
    sodium_memzero(t, sizeof *t);
}

/* Everything this member can check of candidate c (decoded from msg, for
 * the current epoch), into t: prepared, not installed. *evidence is 2 for
 * a commit signed with this member's own key that it did not make, 1
 * when the signature holds but a check its signer alone answers for
 * fails: the membership tag, the layout rules, or the confirmation tag of
 * a commit whose every input is signed (the add key's; a path slice is
 * not signed, so the relay could have swapped it). */
static fkex_err candidate_check(tentative_epoch *t, int *evidence, const fkex_ratchet *st,
                                const fkex_rmsg_commit *c, const uint8_t *msg)
{
    roster r = { 0 };
    ratchet_tree tree = { 0 };
    tree_private tpriv = { 0 };
    room_descriptor changed = { 0 };
    epoch_keys keys = { 0 };
    uint8_t commit_secret[32], psk[32], epoch_secret[32], key[32], tag[32], tree_h[32];
    uint8_t transcript[32], ctx[SCHEDULE_CONTEXT_BYTES];
    uint32_t at;
    fkex_err err;
    memset(t, 0, sizeof *t);
    *evidence = 0;
    if (c->committer >= st->nleaves)
        return FKEX_ERR_BAD_ENCODING;
    /* The signature before anything else: the relay cannot inject a
     * commit, and what fails after it is the signer's doing. */
    if (fkex_sign_verify(c->sig, st->leaves[c->committer].sig_pk, "commit", msg, c->signed_len) != 0)
        return FKEX_ERR_AUTHENTICATION;
    *evidence = 1;
    if (fkex_mac_verify(c->membership_tag, st->keys.membership_key, msg, c->tagged_len) != 0)
        return FKEX_ERR_AUTHENTICATION;
    /* Removals and updates go by a path; a new descriptor comes with a
     * re-attestation; a re-attestation adds nobody (joiners were admitted
     * under the policy it replaces); nobody removes itself. */
    if (removes(c, c->committer) || ((c->nremoves || c->has_update) && c->dist != FKEX_DIST_PATH) ||
        (c->descriptor && !c->psk_ct) || (c->psk_ct && c->nadds))
        return FKEX_ERR_BAD_ENCODING;
    *evidence = 0;
    crypto_hash_sha256(t->commit_hash, msg, c->content_len);
    t->committer = c->committer;
    t->own = c->committer == st->index;
    if (t->own && !(st->commit.active &&
                    sodium_memcmp(t->commit_hash, st->commit.content_hash, 32) == 0)) {
        *evidence = 2;   /* signed with this member's key, yet not its commit: a copy of it */
        return FKEX_ERR_AUTHENTICATION;
    }
    if (removes(c, st->index)) {
        t->gone = FKEX_OK;
        return FKEX_OK;
    }
    if (c->descriptor &&
        (err = ratchet_descriptor_prepare(&changed, st, c->descriptor, c->descriptorlen)) != FKEX_OK)
        return err;
    if ((err = roster_next(&r, st, c)) != FKEX_OK ||
        (err = dist_tree_next(&tree, &tpriv, &at, st, c)) != FKEX_OK ||
        (c->dist == FKEX_DIST_PATH &&
         (err = tree_path_merge(&tree, at, c->path_leaf_pk, c->path_pks, c->path_len)) != FKEX_OK)) {
        /* a key twice, a low-order key, a path of the wrong length: signed */
        *evidence = err != FKEX_ERR_NO_MEMORY;
        goto done;
    }
    tree_hash(tree_h, &tree);
    memcpy(transcript, st->keys.transcript_hash, 32);
    fkex_transcript_extend(transcript, msg, c->content_len);

    /* commit_secret: remembered (own), the add key, or this member's slice. */
    if (t->own) {
        memcpy(commit_secret, st->commit.commit_secret, 32);
        if (st->commit.has_path)
            tpriv = st->commit.tpriv;
    } else if (c->dist == FKEX_DIST_GROUP) {
        add_key(key, &st->keys, c->nonce);
        if (crypto_aead_chacha20poly1305_ietf_decrypt(commit_secret, NULL, NULL, c->group_sealed,
                                                      FKEX_SEALED_SECRET, NULL, 0, zero_nonce,
                                                      key) != 0) {
            *evidence = 1;
            err = FKEX_ERR_AUTHENTICATION;
            goto done;
        }
    } else {
        schedule_context(ctx, st->room_id, c->epoch + 1, transcript, r.hash, tree_h);
        if ((err = dist_open(commit_secret, &tpriv, &tree, at, c, ctx, sizeof ctx)) != FKEX_OK)
            goto done;
    }
    if (c->psk_ct) {
        if (t->own) {
            memcpy(psk, st->commit.psk, 32);
        } else if ((err = open_psk(psk, st, c, changed.policy ? changed.policy : st->room.policy)) != FKEX_OK) {
            if (err == FKEX_ERR_POLICY_UNSATISFIED) {
                t->gone = err;   /* expired, or outside a new policy */
                err = FKEX_OK;
            } else {
                *evidence = err == FKEX_ERR_WRONG_ROOM;   /* under another policy */
            }
            goto done;
        }
    }
    schedule_next(&keys, epoch_secret, st->keys.init_secret, commit_secret,
                  c->psk_ct ? psk : NULL, st->room_id, c->epoch + 1, transcript, r.hash, tree_h);
    schedule_confirmation_tag(tag, &keys);
    if (sodium_memcmp(tag, c->confirmation_tag, 32) != 0) {
        *evidence = c->dist == FKEX_DIST_GROUP;
        err = FKEX_ERR_AUTHENTICATION;   /* a forged slice or a wrong psk */
        goto done;
    }
    if ((err = ratchet_prepare_epoch(&t->next, st, &keys, &r, &tree, &tpriv, c, c->descriptor,
                                     c->descriptorlen)) != FKEX_OK)
        goto done;
    memcpy(t->next.reading.commit_hash, t->commit_hash, 32);
    t->keys = keys;
    t->gone = FKEX_ERR_UNEXPECTED;
done:
    ratchet_descriptor_free(&changed);
    roster_free(&r);
    tree_free(&tree);
    tree_private_wipe(&tpriv);
    sodium_memzero(&keys, sizeof keys);
    sodium_memzero(commit_secret, sizeof commit_secret);
    sodium_memzero(psk, sizeof psk);
    sodium_memzero(epoch_secret, sizeof epoch_secret);
    sodium_memzero(key, sizeof key);
    if (err != FKEX_OK)
        tentative_free(t);
    return err;
}

/* Decodes, checks and, if it passes, keeps a copy of msg in t. */
static fkex_err candidate_take(tentative_epoch *t, int *evidence, const fkex_ratchet *st,
                               const uint8_t *msg, size_t len)
{
    fkex_rmsg_commit c;
    fkex_err err = fkex_rmsg_commit_decode(&c, msg, len);
    *evidence = 0;
    if (err != FKEX_OK)
        return err;
    if ((err = candidate_check(t, evidence, st, &c, msg)) != FKEX_OK)
        return err;
    if (!(t->commit = malloc(len))) {
        tentative_free(t);
        return FKEX_ERR_NO_MEMORY;
    }
    memcpy(t->commit, msg, len);
    t->commit_len = len;
    t->active = 1;
    return FKEX_OK;
}

void commit_epoch_ack_tag(uint8_t tag[32], const uint8_t confirmation_key[32],
                          const uint8_t commit_hash[32], const uint8_t leaf_id[32])
{
    uint8_t in[5 + 32 + 32] = { 'e', 'p', 'o', 'c', 'h' };
    memcpy(in + 5, commit_hash, 32);
    memcpy(in + 37, leaf_id, 32);
    fkex_mac(tag, confirmation_key, in, sizeof in);
}

/* This member's EpochAck for the epoch t prepares, signed with its leaf
 * key of that epoch (the new one if t is its own Update). A member that
 * falls out of t (a re-attestation its attributes fail) says so instead
 * (departing, no tag): it cannot follow, yet the commit is valid, and the
 * relay may settle on it. It stays in the roster; its JoinAck never comes,
 * and the others remove it. */
static fkex_err epoch_ack(fkex_gke_out *out, const fkex_ratchet *st, const tentative_epoch *t,
                          uint64_t epoch)
{
    const uint8_t *sk = t->own && st->commit.has_update ? st->commit.new_sig_sk : st->sig_sk;
    fkex_rmsg_epoch_ack ack = { 0 };
    fkex_writer w;
    uint8_t id[32];
    fkex_err err;
    memcpy(ack.room_id, st->room_id, 32);
    ack.epoch = epoch;
    memcpy(ack.commit_hash, t->commit_hash, 32);
    if (t->gone == FKEX_ERR_POLICY_UNSATISFIED) {
        ack.departing = 1;
        ack.sender = st->index;   /* a re-attestation moves nobody */
    } else {
        ack.sender = t->next.roster.n;
        for (uint32_t i = 0; i < t->next.roster.n; i++)
            if (memcmp(t->next.roster.leaves[i].sig_pk, sk + 32, 32) == 0)
                ack.sender = i;
        if (ack.sender == t->next.roster.n)
            return FKEX_ERR_ARGUMENT;
        ratchet_leaf_id(id, &t->next.roster.leaves[ack.sender]);
        commit_epoch_ack_tag(ack.tag, t->keys.confirmation_key, t->commit_hash, id);
    }
    fkex_writer_init(&w);
    fkex_rmsg_epoch_ack_encode(&w, &ack);
    if ((err = ratchet_sign_append(&w, sk, "epoch ack")) != FKEX_OK) {
        fkex_writer_free(&w);
        return err;
    }
    return ratchet_emit(out, &w);
}

void commit_forget_candidates(fkex_ratchet *st)
{
    tentative_free(&st->tentative);
    for (size_t i = 0; i < st->ncandidates; i++)
        free(st->candidates[i].bytes);
    free(st->candidates);
    st->candidates = NULL;
    st->ncandidates = st->candcap = 0;
}

/* A candidate refused with evidence (candidate_check): against its
 * signer, said and its removal proposed, quoting the commit's hash; or, a
 * commit signed with this member's own key that it did not make, said
 * (someone holds a copy of its state). Otherwise the refusal stands. */
static fkex_err accuse(fkex_ratchet *st, int evidence, uint32_t signer, const uint8_t hash[32],
                       fkex_err why, fkex_gke_out *out)
{
    fkex_err err;
    if (evidence == 2)
        return fkex_gke_out_event(out, FKEX_GKE_EV_IMPERSONATED, why, st->keys.epoch, st->nleaves,
                                  signer, hash, 32);
    if (!evidence || signer == st->index)
        return why;
    err = fkex_gke_out_event(out, FKEX_GKE_EV_MISBEHAVED, why, st->keys.epoch, st->nleaves, signer,
                             hash, 32);
    return err != FKEX_OK ? err : ratchet_propose(st, signer, hash, out);
}

/* A candidate after the tentative one, kept for SETTLED. A member whose
 * tentative epoch is its own commit cannot settle that by its ack, so it
 * checks and acknowledges later candidates too: a member that refused its
 * commit and committed one of its own (chat/client.c) is not left waiting
 * for nobody. */
static fkex_err keep_candidate(fkex_ratchet *st, const fkex_rmsg_commit *c, const uint8_t hash[32],
                               const uint8_t *msg, size_t len, fkex_gke_out *out)
{
    tentative_epoch t;
    int evidence;
    fkex_err err;
    if (sodium_memcmp(hash, st->tentative.commit_hash, 32) == 0)
        return FKEX_ERR_REPLAY;
    for (size_t i = 0; i < st->ncandidates; i++)
        if (memcmp(hash, st->candidates[i].hash, 32) == 0)
            return FKEX_ERR_REPLAY;
    if (c->committer == st->tentative.committer)
        return FKEX_ERR_UNEXPECTED;   /* one candidate per committer and epoch */
    for (size_t i = 0; i < st->ncandidates; i++)
        if (st->candidates[i].committer == c->committer)
            return FKEX_ERR_UNEXPECTED;
    if (st->ncandidates == st->candcap) {
        size_t cap = st->candcap ? 2 * st->candcap : 4;
        kept_candidate *grown = realloc(st->candidates, cap * sizeof *grown);
        if (!grown)
            return FKEX_ERR_NO_MEMORY;
        st->candidates = grown;
        st->candcap = cap;
    }
    if (st->tentative.own) {
        if ((err = candidate_take(&t, &evidence, st, msg, len)) != FKEX_OK)
            return accuse(st, evidence, c->committer, hash, err, out);
        err = t.gone != FKEX_OK ? epoch_ack(out, st, &t, c->epoch + 1) : FKEX_OK;
        tentative_free(&t);   /* checked again if SETTLED names it */
        if (err != FKEX_OK)
            return err;
    }
    kept_candidate *k = &st->candidates[st->ncandidates];
    if (!(k->bytes = malloc(len)))
        return FKEX_ERR_NO_MEMORY;
    memcpy(k->bytes, msg, len);
    k->len = len;
    k->committer = c->committer;
    memcpy(k->hash, hash, 32);
    st->ncandidates++;
    return FKEX_OK;
}

fkex_err commit_on_commit(fkex_ratchet *st, const uint8_t *msg, size_t len, fkex_gke_out *out)
{
    fkex_rmsg_commit c;
    tentative_epoch t;
    uint8_t hash[32];
    int evidence;
    fkex_err err = fkex_rmsg_commit_decode(&c, msg, len);
    if (err != FKEX_OK)
        return err;
    if (c.epoch < st->keys.epoch)
        return FKEX_ERR_REPLAY;
    if (c.epoch > st->keys.epoch)
        return FKEX_ERR_WRONG_EPOCH;
    crypto_hash_sha256(hash, msg, c.content_len);
    if (st->tentative.active)
        return keep_candidate(st, &c, hash, msg, len, out);
    if ((err = candidate_take(&t, &evidence, st, msg, len)) != FKEX_OK)
        return accuse(st, evidence, c.committer, hash, err, out);
    if (t.gone != FKEX_OK && (err = epoch_ack(out, st, &t, c.epoch + 1)) != FKEX_OK) {
        tentative_free(&t);
        return err;
    }
    st->tentative = t;
    sodium_memzero(&t, sizeof t);   /* its keys live on in st only */
    return FKEX_OK;
}

/* ---- settling ------------------------------------------------------------------- */

/* The events of the settled commit t, then its install. */
static fkex_err install(fkex_ratchet *st, tentative_epoch *t, fkex_gke_out *out)
{
    fkex_rmsg_commit c;
    fkex_err err = fkex_rmsg_commit_decode(&c, t->commit, t->commit_len);
    if (err != FKEX_OK)
        return err;
    if (t->gone != FKEX_ERR_UNEXPECTED) {
        /* Removed, or its attributes no longer satisfy the policy. */
        if ((err = fkex_gke_out_event(out, FKEX_GKE_EV_LEFT, t->gone, st->keys.epoch + 1, 0,
                                      st->index, NULL, 0)) != FKEX_OK)
            return err;
        ratchet_gone(st);
        return FKEX_OK;
    }
    uint32_t nleaves = t->next.roster.n;
    for (uint32_t r = 0; r < c.nremoves && err == FKEX_OK; r++)
        err = fkex_gke_out_event(out, FKEX_GKE_EV_REMOVED, FKEX_OK, c.epoch + 1, nleaves,
                                 load32_be(c.removes + 4 * r), NULL, 0);
    for (uint32_t a = 0; a < c.nadds && err == FKEX_OK; a++)
        err = fkex_gke_out_event(out, FKEX_GKE_EV_ADDED, FKEX_OK, c.epoch + 1, nleaves,
                                 nleaves - c.nadds + a, NULL, 0);
    if (err == FKEX_OK)
        err = fkex_gke_out_event(out, FKEX_GKE_EV_EPOCH, FKEX_OK, c.epoch + 1, nleaves, 0, NULL, 0);
    /* After a re-attestation, each member shows that it followed. */
    if (err == FKEX_OK && c.psk_ct && !t->own)
        err = ratchet_ack(out, st, &t->keys, t->next.roster.leaves, nleaves);
    if (err != FKEX_OK)
        return err;
    if (t->own && st->commit.has_path) {
        memcpy(st->hpke_sk, st->commit.new_hpke_sk, 32);
        memcpy(st->self.hpke_pk, st->commit.new_hpke_pk, 32);
    }
    if (t->own && st->commit.has_update) {
        memcpy(st->sig_sk, st->commit.new_sig_sk, 64);
        memcpy(st->self.sig_pk, st->commit.new_sig_sk + 32, 32);
    }
    if (t->own && (st->commit.has_path || st->commit.has_update))
        ratchet_leaf_id(st->leaf_id, &st->self);
    sodium_memzero(&st->commit, sizeof st->commit);   /* a losing own commit is void too */
    ratchet_install_epoch(st, &t->next, &t->keys);
    return FKEX_OK;
}

fkex_err commit_on_settled(fkex_ratchet *st, const uint8_t *msg, size_t len, fkex_gke_out *out)
{
    fkex_rmsg_settled s;
    tentative_epoch t = { 0 };
    int evidence, from_tentative = 0;
    fkex_err err = fkex_rmsg_settled_decode(&s, msg, len);
    if (err != FKEX_OK)
        return err;
    if (s.epoch < st->keys.epoch)
        return FKEX_ERR_REPLAY;
    if (s.epoch > st->keys.epoch)
        return FKEX_ERR_WRONG_EPOCH;
    if (st->tentative.active && sodium_memcmp(s.commit_hash, st->tentative.commit_hash, 32) == 0) {
        t = st->tentative;
        memset(&st->tentative, 0, sizeof st->tentative);
        from_tentative = 1;
    } else {
        /* Another candidate won: checked now, and acknowledged if it holds. */
        for (size_t i = 0; i < st->ncandidates && !t.active; i++)
            if (memcmp(s.commit_hash, st->candidates[i].hash, 32) == 0 &&
                candidate_take(&t, &evidence, st, st->candidates[i].bytes,
                               st->candidates[i].len) == FKEX_OK &&
                t.gone != FKEX_OK && (err = epoch_ack(out, st, &t, s.epoch + 1)) != FKEX_OK) {
                tentative_free(&t);
                return err;
            }
        if (!t.active) {
            /* The room moved on with a commit this member cannot apply. */
            if ((err = fkex_gke_out_event(out, FKEX_GKE_EV_LOST, FKEX_ERR_AUTHENTICATION,
                                          st->keys.epoch + 1, 0, st->index, NULL, 0)) != FKEX_OK)
                return err;
            ratchet_gone(st);
            return FKEX_OK;
        }
    }
    if ((err = install(st, &t, out)) != FKEX_OK) {
        if (from_tentative)
            st->tentative = t;
        else
            tentative_free(&t);
        return err;
    }
    tentative_free(&t);
    commit_forget_candidates(st);
    return FKEX_OK;
}
