/*
 * gke/roster.c: the roster of a room: its order, its hash, and its checks.
 *
 * A commit changes the roster in one fixed way, which the relay follows
 * too (and so does the ratchet tree, gke/tree.h): the committer's path
 * replaces its X in place, and an Update its V; removals, from the
 * highest index down, each move the last leaf into the removed slot; the
 * joiners are appended. So a commit touches O(changes) positions, not the
 * whole list, and neither does its hash:
 *
 *   chunk_j = SHA-256(leaves 32j .. 32j+31, as V || X each)
 *   H(roster) = SHA-256("fkex v1 roster" || u32 n || chunk_0 || chunk_1 || ...)
 *
 * Members keep the chunk hashes and rehash only the chunks a commit
 * touched: a join or a leave costs a member O(n/32) bytes of hashing
 * instead of O(n) (64 KiB at n = 1000, most of a member's budget). A
 * joiner hashes everything once.
 */
#include <stdlib.h>
#include "gke/gke.h"
#include "gke/ratchet_state.h"

#define CHUNK 32

static uint32_t nchunks(uint32_t n)
{
    return (n + CHUNK - 1) / CHUNK;
}

void ratchet_leaf_id(uint8_t id[32], const fkex_leaf *leaf)
{
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, leaf->sig_pk, 32);
    crypto_hash_sha256_update(&h, leaf->hpke_pk, 32);
    crypto_hash_sha256_final(&h, id);
}

void roster_free(roster *r)
{
    free(r->leaves);
    free(r->from);
    free(r->chunks);
    memset(r, 0, sizeof *r);
}

/* Rehashes the chunks marked in dirty (all if dirty is NULL), then the root. */
static void rehash(roster *r, const uint8_t *dirty)
{
    static const char label[] = "fkex v1 roster";
    fkex_sha256_ctx h;
    uint8_t n[4];
    for (uint32_t j = 0; j < nchunks(r->n); j++) {
        if (dirty && !dirty[j])
            continue;
        uint32_t lo = j * CHUNK, hi = lo + CHUNK < r->n ? lo + CHUNK : r->n;
        fkex_sha256(r->chunks[j], r->leaves + lo, (size_t)(hi - lo) * sizeof *r->leaves);
    }
    store32_be(n, r->n);
    fkex_sha256_init(&h);
    fkex_sha256_update(&h, label, sizeof label - 1);
    fkex_sha256_update(&h, n, 4);
    fkex_sha256_update(&h, r->chunks, (size_t)nchunks(r->n) * 32);
    fkex_sha256_final(&h, r->hash);
}

fkex_err roster_whole(roster *out, fkex_leaf *leaves, uint32_t n)
{
    memset(out, 0, sizeof *out);
    out->leaves = leaves;
    out->n = n;
    if (!(out->chunks = malloc((size_t)nchunks(n) * 32 + 1))) {
        roster_free(out);
        return FKEX_ERR_NO_MEMORY;
    }
    rehash(out, NULL);
    return FKEX_OK;
}

fkex_err roster_next(roster *out, const fkex_ratchet *st, const fkex_rmsg_commit *c)
{
    uint32_t old = st->nleaves, count, m = old;
    uint8_t *dirty = NULL;
    roster r = { 0 };
    fkex_err err = FKEX_ERR_BAD_ENCODING;
    if (c->nremoves >= old || old - c->nremoves + c->nadds > FKEX_ROOM_MAX_MEMBERS)
        return FKEX_ERR_BAD_ENCODING;
    for (uint32_t k = 0; k < c->nremoves; k++)
        if (load32_be(c->removes + 4 * k) >= old)
            return FKEX_ERR_BAD_ENCODING;
    count = old - c->nremoves + c->nadds;
    r.n = count;
    size_t cap = old > count ? old : count;
    r.leaves = malloc(cap * sizeof *r.leaves);
    r.from = malloc(cap * sizeof *r.from);
    r.chunks = malloc((size_t)nchunks(count) * 32 + 1);
    dirty = calloc(nchunks(count) + 1, 1);
    if (!r.leaves || !r.from || !r.chunks || !dirty) {
        err = FKEX_ERR_NO_MEMORY;
        goto fail;
    }
    memcpy(r.leaves, st->leaves, (size_t)old * sizeof *r.leaves);
    for (uint32_t i = 0; i < old; i++)
        r.from[i] = i;
    memcpy(r.chunks, st->chunks, (size_t)(nchunks(old) < nchunks(count) ? nchunks(old) : nchunks(count)) * 32);

    if (c->has_update)
        memcpy(r.leaves[c->committer].sig_pk, c->update_sig_pk, 32);
    if (c->dist == FKEX_DIST_PATH)
        memcpy(r.leaves[c->committer].hpke_pk, c->path_leaf_pk, 32);
    if ((c->has_update || c->dist == FKEX_DIST_PATH) && c->committer / CHUNK < nchunks(count))
        dirty[c->committer / CHUNK] = 1;
    /* Removals, highest first: the last leaf fills the slot. */
    for (uint32_t k = c->nremoves; k-- > 0;) {
        uint32_t i = load32_be(c->removes + 4 * k);
        m--;
        r.leaves[i] = r.leaves[m];
        r.from[i] = r.from[m];
        if (i < count)
            dirty[i / CHUNK] = 1;
    }
    if (c->nadds)
        memcpy(r.leaves + m, c->adds, (size_t)c->nadds * sizeof *r.leaves);
    for (uint32_t i = m; i < count; i++)
        r.from[i] = UINT32_MAX;
    /* The tail changed: from the chunk holding the new end of the old
     * leaves (or the old end) onwards. */
    for (uint32_t j = (m ? m - 1 : 0) / CHUNK; j < nchunks(count); j++)
        dirty[j] = 1;
    if (old && count)
        for (uint32_t j = (old - 1) / CHUNK; j < nchunks(count); j++)
            dirty[j] = 1;

    /* Every new HPKE key must be usable: a low-order one would make every
     * later path sealed to it fail (the path's parent keys: tree.c). */
    for (uint32_t i = m; i < count; i++)
        if (fkex_x25519_small_order(r.leaves[i].hpke_pk)) {
            err = FKEX_ERR_NOT_IN_GROUP;
            goto fail;
        }
    if (c->dist == FKEX_DIST_PATH && fkex_x25519_small_order(c->path_leaf_pk)) {
        err = FKEX_ERR_NOT_IN_GROUP;
        goto fail;
    }
    /* No signing key and no HPKE key twice, nor two signing keys that
     * begin alike (a pseudonym, which a kick names): O(n) per new key. */
    for (uint32_t i = 0; i < count; i++) {
        int added = r.from[i] == UINT32_MAX;
        int updated = (c->has_update || c->dist == FKEX_DIST_PATH) && r.from[i] == c->committer;
        if (!added && !updated)
            continue;
        for (uint32_t j = 0; j < count; j++)
            if (j != i && (memcmp(r.leaves[i].sig_pk, r.leaves[j].sig_pk, FKEX_PSEUDONYM_BYTES) == 0 ||
                           memcmp(r.leaves[i].hpke_pk, r.leaves[j].hpke_pk, 32) == 0))
                goto fail;
    }
    rehash(&r, dirty);
    free(dirty);
    *out = r;
    return FKEX_OK;
fail:
    free(dirty);
    roster_free(&r);
    return err;
}

/* ---- uniqueness of a roster given whole ------------------------------------- */

/* Open addressing on the keys' first 8 bytes (keys are public and
 * uniform enough; equal prefixes fall back to a full comparison): O(n).
 * slot has size entries, a power of two at least 2n. */
static fkex_err keys_unique(const fkex_leaf *leaves, uint32_t n, size_t offset, uint32_t *slot,
                            size_t size)
{
    memset(slot, 0xff, size * sizeof *slot);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *k = (const uint8_t *)&leaves[i] + offset;
        size_t at = (size_t)load64_be(k) & (size - 1);
        while (slot[at] != UINT32_MAX) {
            if (memcmp((const uint8_t *)&leaves[slot[at]] + offset, k, 32) == 0)
                return FKEX_ERR_BAD_ENCODING;
            at = (at + 1) & (size - 1);
        }
        slot[at] = i;
    }
    return FKEX_OK;
}

fkex_err ratchet_roster_unique(const fkex_leaf *leaves, uint32_t n)
{
    size_t size = 16;
    while (size < 2 * (size_t)n)
        size *= 2;
    uint32_t *slot = malloc(size * sizeof *slot);   /* one table, for each key in turn */
    fkex_err err;
    if (!slot)
        return FKEX_ERR_NO_MEMORY;
    err = keys_unique(leaves, n, offsetof(fkex_leaf, sig_pk), slot, size);
    if (err == FKEX_OK)
        err = keys_unique(leaves, n, offsetof(fkex_leaf, hpke_pk), slot, size);
    free(slot);
    return err;
}
