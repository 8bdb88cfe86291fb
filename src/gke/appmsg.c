/*
 * gke/appmsg.c: application messages (PROTOCOL.md, "Application messages").
 *
 * Each sender has a hash chain in each epoch:
 *   ck_0     = KDF-Expand(leaf_secret_i, "sender", leaf_id)
 *   ck_{g+1} = KDF-Expand(ck_g, "chain")
 *   mk_g     = KDF-Expand(ck_g, "key")
 * PROTOCOL.md derives ck_0 from encryption_secret directly; that would keep
 * encryption_secret for the whole epoch (whoever takes the state later
 * reads every message of the epoch) or cost every member n derivations per
 * epoch. So, as MLS does (RFC 9420 §9), leaf secrets come from a secret
 * tree over the roster: the root is encryption_secret, a node of leaves
 * lo..hi-1 splits at mid = lo + (hi - lo) / 2 into
 *   left  = KDF-Expand(node, "left",  lo || mid || hi)   (u32 each)
 *   right = KDF-Expand(node, "right", lo || mid || hi)
 * and a node's secret is wiped once split. A member derives a sender's
 * leaf when it first hears from it, in O(log n) expansions.
 * A message is {room_id, epoch, leaf_index, g, AEAD_{mk_g}(content, aad =
 * header)}, signed with the sender's leaf key. mk_g is used once, so the
 * AEAD nonce is zero. Receivers keep the current epoch and one previous
 * one (for late messages), refuse generations already used, and keep the
 * keys of skipped generations (at most RATCHET_MAX_SKIP per sender) until
 * those messages arrive. Used keys are wiped: forward secrecy inside an
 * epoch.
 *
 * Cost: sending one Ed25519 signature and two HMACs; receiving one
 * verification and two HMACs per generation advanced.
 */
#include <stdlib.h>
#include "gke/gke.h"
#include "gke/ratchet_state.h"

static const uint8_t zero_nonce[12];

/* The frontier starts with room for this many nodes: a member's own
 * first take, at most 16 deep (FKEX_ROOM_MAX_MEMBERS = 2^16), fits, so
 * installing an epoch cannot fail on it. It grows as senders are heard. */
#define FRONTIER_FIRST 32u

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

fkex_err appmsg_reading_init(reading_epoch *r, const epoch_keys *keys, fkex_leaf *leaves,
                             uint32_t nleaves)
{
    memset(r, 0, sizeof *r);
    r->leaves = leaves;
    r->chains = calloc(nleaves, sizeof *r->chains);
    r->frontier_cap = min_size(nleaves, FRONTIER_FIRST);
    r->frontier = malloc(r->frontier_cap * sizeof *r->frontier);
    if (!r->chains || !r->frontier) {
        free(r->leaves);
        free(r->chains);
        free(r->frontier);
        memset(r, 0, sizeof *r);
        return FKEX_ERR_NO_MEMORY;
    }
    r->frontier[0].lo = 0;
    r->frontier[0].hi = nleaves;
    memcpy(r->frontier[0].secret, keys->encryption_secret, 32);
    r->nfrontier = 1;
    memcpy(r->confirmation_key, keys->confirmation_key, 32);
    memcpy(r->transcript_hash, keys->transcript_hash, 32);
    r->nleaves = nleaves;
    r->epoch = keys->epoch;
    r->valid = 1;
    return FKEX_OK;
}

/* Room in the frontier for `more` nodes: it doubles (the frontier covers
 * disjoint ranges, so it never needs more than nleaves), and the old
 * copy of its secrets is wiped. */
static fkex_err frontier_reserve(reading_epoch *r, size_t more)
{
    size_t need = r->nfrontier + more, cap = r->frontier_cap;
    tree_node *grown;
    if (need <= cap)
        return FKEX_OK;
    while (cap < need)
        cap *= 2;
    cap = min_size(cap, r->nleaves);
    if (!(grown = malloc(cap * sizeof *grown)))
        return FKEX_ERR_NO_MEMORY;
    memcpy(grown, r->frontier, r->nfrontier * sizeof *grown);
    sodium_memzero(r->frontier, r->frontier_cap * sizeof *r->frontier);
    free(r->frontier);
    r->frontier = grown;
    r->frontier_cap = cap;
    return FKEX_OK;
}

/* The secret of leaf i, taken out of the tree: O(log n) expansions the
 * first time; FKEX_ERR_REPLAY if it was taken before. */
static fkex_err tree_take(uint8_t out[32], reading_epoch *r, uint32_t i)
{
    size_t k = 0, depth = 0;
    fkex_err err;
    while (k < r->nfrontier && !(r->frontier[k].lo <= i && i < r->frontier[k].hi))
        k++;
    if (k == r->nfrontier)
        return FKEX_ERR_REPLAY;
    while ((1u << depth) < r->frontier[k].hi - r->frontier[k].lo)
        depth++;
    if ((err = frontier_reserve(r, depth)) != FKEX_OK)   /* one node goes, depth come */
        return err;
    tree_node node = r->frontier[k];
    r->frontier[k] = r->frontier[--r->nfrontier];
    sodium_memzero(&r->frontier[r->nfrontier], sizeof r->frontier[0]);
    while (node.hi - node.lo > 1) {
        uint32_t mid = node.lo + (node.hi - node.lo) / 2;
        uint8_t ctx[12];
        tree_node left = { node.lo, mid, { 0 } }, right = { mid, node.hi, { 0 } };
        store32_be(ctx, node.lo);
        store32_be(ctx + 4, mid);
        store32_be(ctx + 8, node.hi);
        fkex_kdf_expand(left.secret, node.secret, "left", ctx, sizeof ctx);
        fkex_kdf_expand(right.secret, node.secret, "right", ctx, sizeof ctx);
        r->frontier[r->nfrontier++] = i < mid ? right : left;
        node = i < mid ? left : right;
        sodium_memzero(&left, sizeof left);
        sodium_memzero(&right, sizeof right);
    }
    memcpy(out, node.secret, 32);
    sodium_memzero(&node, sizeof node);
    return FKEX_OK;
}

/* ck_0 of sender i: KDF-Expand(leaf_secret_i, "sender", leaf_id_i). */
static fkex_err chain_root(uint8_t ck[32], reading_epoch *r, uint32_t i)
{
    uint8_t leaf[32], id[32];
    fkex_err err = tree_take(leaf, r, i);
    if (err != FKEX_OK)
        return err;
    ratchet_leaf_id(id, &r->leaves[i]);
    fkex_kdf_expand(ck, leaf, "sender", id, 32);
    sodium_memzero(leaf, sizeof leaf);
    return FKEX_OK;
}

void appmsg_send_init(fkex_ratchet *st)
{
    st->send_generation = 0;
    if (chain_root(st->send_ck, &st->current, st->index) != FKEX_OK)   /* (never: FRONTIER_FIRST) */
        sodium_memzero(st->send_ck, sizeof st->send_ck);
}

static void chain_free(chain *c)
{
    if (!c)
        return;
    fkex_chain_wipe(c);
    free(c);
}

void appmsg_reading_wipe(reading_epoch *r)
{
    if (r->chains)
        for (uint32_t i = 0; i < r->nleaves; i++)
            chain_free(r->chains[i]);
    if (r->frontier)
        sodium_memzero(r->frontier, r->frontier_cap * sizeof *r->frontier);
    free(r->frontier);
    free(r->chains);
    free(r->leaves);
    sodium_memzero(r, sizeof *r);
}

/* ---- sending ---------------------------------------------------------------- */

fkex_err fkex_ratchet_send(fkex_ratchet *st, const uint8_t *content, size_t len,
                           fkex_gke_out *out)
{
    fkex_rmsg_application m = { 0 };
    fkex_writer w;
    uint8_t mk[32], next[32], *ct;
    fkex_err err;
    if (st->phase != RATCHET_MEMBER)
        return FKEX_ERR_UNEXPECTED;
    if (len > FKEX_MESSAGE_MAX - crypto_aead_chacha20poly1305_ietf_ABYTES)
        return FKEX_ERR_ARGUMENT;
    if (st->send_generation == UINT32_MAX)
        return FKEX_ERR_ARGUMENT;   /* the epoch must change first */
    if (!(ct = malloc(len + crypto_aead_chacha20poly1305_ietf_ABYTES)))
        return FKEX_ERR_NO_MEMORY;
    memcpy(m.room_id, st->room_id, 32);
    m.epoch = st->keys.epoch;
    m.sender = st->index;
    m.generation = st->send_generation;

    /* The header (everything before the ciphertext) is the AEAD's aad. */
    fkex_writer_init(&w);
    fkex_rmsg_application_encode(&w, &m);
    if (w.failed) {
        free(ct);
        return FKEX_ERR_NO_MEMORY;
    }
    size_t header_len = w.len - 4;   /* all but the ciphertext's (empty) length */
    fkex_chain_step(mk, next, st->send_ck);
    crypto_aead_chacha20poly1305_ietf_encrypt(ct, NULL, content, len, w.buf, header_len, NULL,
                                              zero_nonce, mk);
    sodium_memzero(mk, sizeof mk);
    w.len = 0;
    m.ct = ct;
    m.ctlen = len + crypto_aead_chacha20poly1305_ietf_ABYTES;
    fkex_rmsg_application_encode(&w, &m);
    free(ct);
    if ((err = ratchet_sign_append(&w, st->sig_sk, "message")) != FKEX_OK ||
        (err = ratchet_emit(out, &w)) != FKEX_OK) {
        fkex_writer_free(&w);
        sodium_memzero(next, sizeof next);
        return err;
    }
    memcpy(st->send_ck, next, 32);
    sodium_memzero(next, sizeof next);
    st->send_generation++;
    return FKEX_OK;
}

/* ---- receiving ---------------------------------------------------------------- */

static fkex_err chain_get(chain **out, reading_epoch *r, uint32_t sender)
{
    if (!r->chains[sender]) {
        chain *c = calloc(1, sizeof *c);
        fkex_err err;
        if (!c)
            return FKEX_ERR_NO_MEMORY;
        if ((err = chain_root(c->ck, r, sender)) != FKEX_OK) {
            free(c);
            return err;   /* FKEX_ERR_REPLAY: this member's own leaf */
        }
        r->chains[sender] = c;
    }
    *out = r->chains[sender];
    return FKEX_OK;
}

fkex_err appmsg_on_message(fkex_ratchet *st, const uint8_t *msg, size_t len, fkex_gke_out *out)
{
    fkex_rmsg_application m;
    reading_epoch *r = NULL;
    chain *c;
    uint8_t mk[32], *plain;
    uint32_t slot;
    fkex_err err = fkex_rmsg_application_decode(&m, msg, len);
    if (err != FKEX_OK)
        return err;
    if (!(r = ratchet_reading(st, m.epoch)))
        return FKEX_ERR_WRONG_EPOCH;
    if (m.sender >= r->nleaves || m.generation == UINT32_MAX)
        return FKEX_ERR_BAD_ENCODING;   /* no sender reaches the last generation */
    if (memcmp(r->leaves[m.sender].sig_pk, st->self.sig_pk, 32) == 0)
        return FKEX_ERR_REPLAY;   /* this member's own message, echoed */
    if (fkex_sign_verify(m.sig, r->leaves[m.sender].sig_pk, "message", msg, m.signed_len) != 0)
        return FKEX_ERR_AUTHENTICATION;
    if ((err = chain_get(&c, r, m.sender)) != FKEX_OK)
        return err;
    if ((err = fkex_chain_peek(mk, &slot, c, m.generation)) != FKEX_OK)
        return err;
    size_t plainlen = m.ctlen - crypto_aead_chacha20poly1305_ietf_ABYTES;
    if (!(plain = malloc(plainlen ? plainlen : 1))) {
        sodium_memzero(mk, sizeof mk);
        return FKEX_ERR_NO_MEMORY;
    }
    if (crypto_aead_chacha20poly1305_ietf_decrypt(plain, NULL, NULL, m.ct, m.ctlen, msg,
                                                  m.header_len, zero_nonce, mk) != 0)
        err = FKEX_ERR_AUTHENTICATION;
    else
        err = fkex_gke_out_event(out, FKEX_GKE_EV_MESSAGE, FKEX_OK, m.epoch, r->nleaves,
                                 m.sender, plain, plainlen);
    sodium_memzero(mk, sizeof mk);
    sodium_memzero(plain, plainlen);
    free(plain);
    if (err != FKEX_OK)
        return err;
    fkex_chain_commit(c, m.generation, slot);
    return FKEX_OK;
}
