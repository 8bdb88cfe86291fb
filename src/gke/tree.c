/*
 * gke/tree.c: the ratchet tree and TreeKEM (gke/tree.h; RFC 9420 §4, §7
 * and Appendix C). Each function names the section it follows.
 */
#include "gke/gke.h"
#include "gke/tree.h"

#define PATH_SEAL_BYTES (32 + FKEX_SEALED_SECRET)   /* enc || sealed path secret */

/* ---- the array representation (Appendix C, for 2^k leaves) ---------------- */

uint32_t tree_level(uint32_t x)
{
    uint32_t k = 0;
    while ((x >> k) & 1u)
        k++;
    return k;
}

uint32_t tree_root(uint32_t nleaves) { return nleaves - 1; }

uint32_t tree_left(uint32_t x) { return x ^ (1u << (tree_level(x) - 1)); }

uint32_t tree_right(uint32_t x) { return x ^ (3u << (tree_level(x) - 1)); }

uint32_t tree_parent(uint32_t x)
{
    uint32_t k = tree_level(x), b = (x >> (k + 1)) & 1u;
    return (x | (1u << k)) ^ (b << (k + 1));
}

uint32_t tree_sibling(uint32_t x)
{
    uint32_t p = tree_parent(x);
    return x < p ? tree_right(p) : tree_left(p);
}

static uint32_t width(const ratchet_tree *t) { return t->nleaves ? 2 * t->nleaves - 1 : 0; }

/* ---- nodes ---------------------------------------------------------------------- */

/* Marks node x and its ancestors for rehashing. */
static void touch(ratchet_tree *t, uint32_t x)
{
    for (;;) {
        t->nodes[x].stale = 1;
        if (x == tree_root(t->nleaves))
            return;
        x = tree_parent(x);
    }
}

static void blank(ratchet_tree *t, uint32_t x)
{
    free(t->nodes[x].unmerged);
    memset(&t->nodes[x], 0, sizeof t->nodes[x]);
    touch(t, x);
}

void tree_free(ratchet_tree *t)
{
    for (uint32_t i = 0; i < width(t); i++)
        free(t->nodes[i].unmerged);
    free(t->nodes);
    memset(t, 0, sizeof *t);
}

fkex_err tree_copy(ratchet_tree *dst, const ratchet_tree *src)
{
    uint32_t w = width(src);
    memset(dst, 0, sizeof *dst);
    if (w == 0)
        return FKEX_OK;
    if (!(dst->nodes = malloc(w * sizeof *dst->nodes)))
        return FKEX_ERR_NO_MEMORY;
    memcpy(dst->nodes, src->nodes, w * sizeof *dst->nodes);
    dst->nleaves = src->nleaves;
    for (uint32_t i = 0; i < w; i++) {
        dst->nodes[i].unmerged = NULL;
        if (src->nodes[i].nunmerged) {
            size_t bytes = src->nodes[i].nunmerged * sizeof(uint32_t);
            if (!(dst->nodes[i].unmerged = malloc(bytes))) {
                for (uint32_t j = i; j < w; j++)
                    dst->nodes[j].unmerged = NULL;
                tree_free(dst);
                return FKEX_ERR_NO_MEMORY;
            }
            memcpy(dst->nodes[i].unmerged, src->nodes[i].unmerged, bytes);
        }
    }
    return FKEX_OK;
}

/* Doubles a full tree (§7.8): the old tree is the left half. */
static fkex_err extend(ratchet_tree *t)
{
    uint32_t n = t->nleaves ? 2 * t->nleaves : 1, w = 2 * n - 1;
    ratchet_node *nodes;
    if (n > TREE_MAX_LEAVES)
        return FKEX_ERR_ARGUMENT;
    if (!(nodes = realloc(t->nodes, w * sizeof *nodes)))
        return FKEX_ERR_NO_MEMORY;
    memset(nodes + width(t), 0, (w - width(t)) * sizeof *nodes);
    for (uint32_t i = width(t); i < w; i++)
        nodes[i].stale = 1;
    t->nodes = nodes;
    t->nleaves = n;
    return FKEX_OK;
}

fkex_err tree_add(ratchet_tree *t, const uint8_t pk[32], uint32_t *index)
{
    uint32_t i = 0;
    fkex_err err;
    while (i < t->nleaves && t->nodes[2 * i].present)
        i++;
    if (i == t->nleaves) {
        /* A new right half: every parent above the leaf is blank. */
        if ((err = extend(t)) != FKEX_OK)
            return err;
    } else {
        /* Room for the unmerged entries first: a failure changes nothing. */
        for (uint32_t x = 2 * i; x != tree_root(t->nleaves);) {
            x = tree_parent(x);
            ratchet_node *p = &t->nodes[x];
            uint32_t *u;
            if (!p->present)
                continue;
            if (!(u = realloc(p->unmerged, (p->nunmerged + 1) * sizeof *u)))
                return FKEX_ERR_NO_MEMORY;
            p->unmerged = u;
        }
        for (uint32_t x = 2 * i; x != tree_root(t->nleaves);) {
            x = tree_parent(x);
            if (t->nodes[x].present)
                t->nodes[x].unmerged[t->nodes[x].nunmerged++] = i;
        }
    }
    t->nodes[2 * i].present = 1;
    memcpy(t->nodes[2 * i].pk, pk, 32);
    touch(t, 2 * i);
    *index = i;
    return FKEX_OK;
}

static void blank_direct_path(ratchet_tree *t, uint32_t leaf)
{
    for (uint32_t x = 2 * leaf; x != tree_root(t->nleaves);) {
        x = tree_parent(x);
        blank(t, x);
    }
}

static int right_half_blank(const ratchet_tree *t)
{
    for (uint32_t i = t->nleaves; i < width(t); i++)
        if (t->nodes[i].present)
            return 0;
    return 1;
}

void tree_remove(ratchet_tree *t, tree_private *priv, uint32_t index)
{
    uint32_t last = t->nleaves;
    while (last > 0 && !t->nodes[2 * (last - 1)].present)
        last--;
    if (index >= last--)
        return;
    blank_direct_path(t, index);
    if (last != index) {
        /* The last leaf moves in; it no longer sits below its old path. */
        blank_direct_path(t, last);
        memcpy(t->nodes[2 * index].pk, t->nodes[2 * last].pk, 32);
        touch(t, 2 * index);
        if (priv->leaf == last) {
            for (uint32_t k = 0; k < priv->nkeys; k++)
                if (priv->keys[k].node == 2 * last)
                    priv->keys[k].node = 2 * index;
            priv->leaf = index;
        }
    }
    blank(t, 2 * last);
    /* Truncation (§7.8): while the right half is blank, it goes, and the
     * root with it; the left half is the tree. */
    while (t->nleaves > 1 && right_half_blank(t)) {
        for (uint32_t i = t->nleaves - 1; i < width(t); i++) {
            free(t->nodes[i].unmerged);
            memset(&t->nodes[i], 0, sizeof t->nodes[i]);
        }
        t->nleaves /= 2;
    }
    if (t->nleaves == 1 && !t->nodes[0].present)
        tree_free(t);
    tree_private_prune(priv, t);
}

/* ---- resolution (§4.1.1) and the filtered direct path (§4.1.2) ---------------- */

typedef struct {
    uint32_t *v;
    uint32_t n, cap;
    int failed;
} idx_list;

static void push(idx_list *l, uint32_t x)
{
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? 2 * l->cap : 8;
        uint32_t *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->failed = 1;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = x;
}

static void resolve(const ratchet_tree *t, uint32_t x, idx_list *out)
{
    const ratchet_node *n = &t->nodes[x];
    if (n->present) {
        push(out, x);
        for (uint32_t i = 0; i < n->nunmerged; i++)
            push(out, 2 * n->unmerged[i]);
    } else if (tree_level(x) > 0) {
        resolve(t, tree_left(x), out);
        resolve(t, tree_right(x), out);
    }
}

fkex_err tree_resolution(const ratchet_tree *t, uint32_t node, uint32_t **out, uint32_t *n)
{
    idx_list l = { 0 };
    resolve(t, node, &l);
    if (l.failed) {
        free(l.v);
        return FKEX_ERR_NO_MEMORY;
    }
    *out = l.v;
    *n = l.n;
    return FKEX_OK;
}

/* The copath child's resolution minus the excluded leaves: who a path
 * secret is sealed to. */
static void targets(const ratchet_tree *t, uint32_t copath, const uint32_t *exclude,
                    uint32_t nexclude, idx_list *out)
{
    idx_list all = { 0 };
    resolve(t, copath, &all);
    out->failed |= all.failed;
    for (uint32_t i = 0; i < all.n; i++) {
        int skip = 0;
        for (uint32_t e = 0; e < nexclude; e++)
            skip |= all.v[i] == 2 * exclude[e];
        if (!skip)
            push(out, all.v[i]);
    }
    free(all.v);
}

/* The leftmost leaf below node x. */
static uint32_t first_leaf(uint32_t x) { return (x - ((1u << tree_level(x)) - 1)) / 2; }

/* 1 if node x's resolution is empty: no node at or below it is present.
 * The leaves are 0 .. n-1 without gaps, and a parent holds a key only
 * while the leaves below it when it got it are all there (a leaf that
 * goes, or moves, blanks its direct path), so x's subtree is empty
 * exactly when its leftmost leaf is blank. O(1). */
static int resolution_empty(const ratchet_tree *t, uint32_t x)
{
    return !t->nodes[2 * first_leaf(x)].present;
}

/* The filtered direct path of leaf (its direct path without the nodes
 * whose copath child has an empty resolution) and those copath children. */
static uint32_t filtered_direct_path(const ratchet_tree *t, uint32_t leaf,
                                     uint32_t path[TREE_MAX_DEPTH],
                                     uint32_t copath[TREE_MAX_DEPTH])
{
    uint32_t m = 0;
    for (uint32_t x = 2 * leaf; x != tree_root(t->nleaves); x = tree_parent(x))
        if (!resolution_empty(t, tree_sibling(x))) {
            path[m] = tree_parent(x);
            copath[m++] = tree_sibling(x);
        }
    return m;
}

/* ---- the tree hash (§7.8) -------------------------------------------------------- */

static void refresh(ratchet_tree *t, uint32_t x)
{
    ratchet_node *n = &t->nodes[x];
    fkex_sha256_ctx h;
    uint8_t b[4];
    if (!n->stale)
        return;
    if (tree_level(x) > 0) {
        refresh(t, tree_left(x));
        refresh(t, tree_right(x));
    }
    fkex_sha256_init(&h);
    if (tree_level(x) == 0) {
        fkex_sha256_update(&h, "fkex v1 tree leaf", 17);
        store32_be(b, x / 2);
        fkex_sha256_update(&h, b, 4);
        fkex_sha256_update(&h, &n->present, 1);
        if (n->present)
            fkex_sha256_update(&h, n->pk, 32);
    } else {
        fkex_sha256_update(&h, "fkex v1 tree parent", 19);
        fkex_sha256_update(&h, &n->present, 1);
        if (n->present) {
            fkex_sha256_update(&h, n->pk, 32);
            store32_be(b, n->nunmerged);
            fkex_sha256_update(&h, b, 4);
            for (uint32_t i = 0; i < n->nunmerged; i++) {
                store32_be(b, n->unmerged[i]);
                fkex_sha256_update(&h, b, 4);
            }
        }
        fkex_sha256_update(&h, t->nodes[tree_left(x)].hash, 32);
        fkex_sha256_update(&h, t->nodes[tree_right(x)].hash, 32);
    }
    fkex_sha256_final(&h, n->hash);
    n->stale = 0;
}

void tree_hash(uint8_t out[32], ratchet_tree *t)
{
    if (t->nleaves == 0) {
        fkex_sha256(out, "fkex v1 tree empty", 18);
        return;
    }
    refresh(t, tree_root(t->nleaves));
    memcpy(out, t->nodes[tree_root(t->nleaves)].hash, 32);
}

/* ---- the public tree in a Welcome ------------------------------------------------ */

void tree_encode_parents(fkex_writer *w, const ratchet_tree *t)
{
    for (uint32_t x = 1; x < width(t); x += 2) {
        const ratchet_node *n = &t->nodes[x];
        fkex_writer_u8(w, n->present);
        if (!n->present)
            continue;
        fkex_writer_put(w, n->pk, 32);
        fkex_writer_u32(w, n->nunmerged);
        for (uint32_t i = 0; i < n->nunmerged; i++)
            fkex_writer_u32(w, n->unmerged[i]);
    }
}

fkex_err tree_decode(ratchet_tree *t, const fkex_leaf *leaves, uint32_t n, const uint8_t *bytes,
                     size_t len)
{
    fkex_reader r;
    uint32_t size = 1;
    memset(t, 0, sizeof *t);
    if (n == 0 || n > TREE_MAX_LEAVES)
        return FKEX_ERR_BAD_ENCODING;
    while (size < n)
        size *= 2;
    if (!(t->nodes = calloc(2 * (size_t)size - 1, sizeof *t->nodes)))
        return FKEX_ERR_NO_MEMORY;
    t->nleaves = size;
    for (uint32_t x = 0; x < width(t); x++)
        t->nodes[x].stale = 1;
    for (uint32_t i = 0; i < n; i++) {
        t->nodes[2 * i].present = 1;
        memcpy(t->nodes[2 * i].pk, leaves[i].hpke_pk, 32);
    }
    fkex_reader_init(&r, bytes, len);
    for (uint32_t x = 1; x < width(t); x += 2) {
        ratchet_node *p = &t->nodes[x];
        uint32_t count;
        if (fkex_reader_u8(&r, &p->present) != 0)
            goto bad;
        if (!p->present)
            continue;
        /* A key only above some leaf, and unmerged leaves that are below it. */
        if (p->present != 1 || first_leaf(x) >= n || fkex_reader_get(&r, p->pk, 32) != 0 ||
            fkex_x25519_small_order(p->pk) ||
            fkex_reader_u32(&r, &count) != 0 || count > (1u << tree_level(x)) ||
            count > (len - r.off) / 4)
            goto bad;
        if (count && !(p->unmerged = malloc(count * sizeof *p->unmerged))) {
            tree_free(t);
            return FKEX_ERR_NO_MEMORY;
        }
        for (uint32_t i = 0; i < count; i++) {
            uint32_t leaf;
            if (fkex_reader_u32(&r, &leaf) != 0 || leaf >= n || !fkex_tree_below(2 * leaf, x) ||
                (i && leaf <= p->unmerged[i - 1]))
                goto bad;
            p->unmerged[p->nunmerged++] = leaf;
        }
    }
    if (fkex_reader_end(&r) == FKEX_OK)
        return FKEX_OK;
bad:
    tree_free(t);
    return FKEX_ERR_BAD_ENCODING;
}

/* ---- private keys ------------------------------------------------------------------ */

static uint8_t *private_key(tree_private *p, uint32_t node)
{
    for (uint32_t i = 0; i < p->nkeys; i++)
        if (p->keys[i].node == node)
            return p->keys[i].sk;
    return NULL;
}

static void private_set(tree_private *p, uint32_t node, const uint8_t sk[32])
{
    uint8_t *k = private_key(p, node);
    if (!k && p->nkeys < TREE_MAX_DEPTH) {
        p->keys[p->nkeys].node = node;
        k = p->keys[p->nkeys++].sk;
    }
    if (k)
        memcpy(k, sk, 32);
}

void tree_private_prune(tree_private *p, const ratchet_tree *t)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < p->nkeys; i++) {
        uint32_t x = p->keys[i].node;
        int keep = x < width(t) && t->nodes[x].present && fkex_tree_below(2 * p->leaf, x);
        if (keep)
            p->keys[kept++] = p->keys[i];
    }
    sodium_memzero(p->keys + kept, (TREE_MAX_DEPTH - kept) * sizeof p->keys[0]);
    p->nkeys = kept;
}

void tree_private_wipe(tree_private *p) { sodium_memzero(p, sizeof *p); }

static int holds(const tree_private *p, uint32_t node)
{
    for (uint32_t i = 0; i < p->nkeys; i++)
        if (p->keys[i].node == node)
            return 1;
    return 0;
}

int tree_private_complete(const tree_private *p, const ratchet_tree *t)
{
    uint32_t x = 2 * p->leaf;
    if (p->leaf >= t->nleaves || !t->nodes[x].present || !holds(p, x))
        return 0;
    while (x != tree_root(t->nleaves)) {
        const ratchet_node *n = &t->nodes[x = tree_parent(x)];
        int unmerged = 0;
        for (uint32_t i = 0; i < n->nunmerged; i++)
            unmerged |= n->unmerged[i] == p->leaf;
        if (n->present && !unmerged && !holds(p, x))
            return 0;
    }
    return 1;
}

/* ---- TreeKEM (§7.4, §7.5) --------------------------------------------------------- */

/* DeriveSecret(secret, label), and the node key pair of a path secret. */
static void derive(uint8_t out[32], const uint8_t secret[32], const char *label)
{
    fkex_kdf_expand(out, secret, label, NULL, 0);
}

static fkex_err node_keys(uint8_t sk[32], uint8_t pk[32], const uint8_t path_secret[32])
{
    uint8_t node_secret[32];
    derive(node_secret, path_secret, "node");
    fkex_err err = fkex_hpke_keypair_derive(sk, pk, node_secret, 32);
    sodium_memzero(node_secret, sizeof node_secret);
    return err;
}

static void seal_info(uint8_t info_hash[32], const uint8_t *info, size_t infolen)
{
    crypto_hash_sha256_state h;
    uint8_t inner[32];
    /* "update path" || H(info): a path secret is never sealed under the
     * info of another use of HPKE here (fkex_hpke_info_hash is SHA-256 of
     * its input alone). */
    crypto_hash_sha256(inner, info, infolen);
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const uint8_t *)"fkex v1 update path", 19);
    crypto_hash_sha256_update(&h, inner, 32);
    crypto_hash_sha256_final(&h, info_hash);
}

void tree_update_wipe(tree_update *u) { sodium_memzero(u, sizeof *u); }

fkex_err tree_path_create(tree_update *u, const ratchet_tree *t, uint32_t leaf, fkex_rng *rng)
{
    uint32_t copath[TREE_MAX_DEPTH];
    uint8_t ps[32], next[32];
    fkex_err err;
    memset(u, 0, sizeof *u);
    if (leaf >= t->nleaves || !t->nodes[2 * leaf].present)
        return FKEX_ERR_ARGUMENT;
    u->leaf = leaf;
    u->m = filtered_direct_path(t, leaf, u->nodes, copath);
    fkex_rng_fill(rng, ps, 32);
    err = node_keys(u->leaf_sk, u->leaf_pk, ps);
    for (uint32_t i = 0; i < u->m && err == FKEX_OK; i++) {
        derive(next, ps, "path");
        memcpy(ps, next, 32);
        memcpy(u->secrets[i], ps, 32);
        err = node_keys(u->sks[i], u->pks[i], ps);
    }
    derive(u->commit_secret, ps, "path");
    sodium_memzero(ps, sizeof ps);
    sodium_memzero(next, sizeof next);
    if (err != FKEX_OK)
        tree_update_wipe(u);
    return err;
}

fkex_err tree_path_merge(ratchet_tree *t, uint32_t committer, const uint8_t leaf_pk[32],
                         const uint8_t *pks, uint32_t m)
{
    uint32_t path[TREE_MAX_DEPTH], copath[TREE_MAX_DEPTH];
    if (committer >= t->nleaves || !t->nodes[2 * committer].present)
        return FKEX_ERR_ARGUMENT;
    if (filtered_direct_path(t, committer, path, copath) != m)
        return FKEX_ERR_BAD_ENCODING;
    /* A key of small order could never be sealed to, and the members below
     * it, who would find out, may be the committer's friends: refused by
     * everyone. */
    for (uint32_t i = 0; i < m; i++)
        if (fkex_x25519_small_order(pks + 32 * (size_t)i))
            return FKEX_ERR_NOT_IN_GROUP;
    blank_direct_path(t, committer);
    memcpy(t->nodes[2 * committer].pk, leaf_pk, 32);
    touch(t, 2 * committer);
    for (uint32_t i = 0; i < m; i++) {
        t->nodes[path[i]].present = 1;
        memcpy(t->nodes[path[i]].pk, pks + 32 * (size_t)i, 32);
    }
    return FKEX_OK;
}

void tree_path_keep(tree_private *priv, const ratchet_tree *t, const tree_update *u)
{
    priv->leaf = u->leaf;
    private_set(priv, 2 * u->leaf, u->leaf_sk);
    for (uint32_t i = 0; i < u->m; i++)
        private_set(priv, u->nodes[i], u->sks[i]);
    tree_private_prune(priv, t);
}

/* Seals path_secret to the node's key; enc || ct into out. */
static fkex_err seal_to(uint8_t out[PATH_SEAL_BYTES], const uint8_t pk[32],
                        const uint8_t path_secret[32], const uint8_t info_hash[32], fkex_rng *rng)
{
    fkex_hpke_context ctx;
    fkex_err err = fkex_hpke_setup_base_s_hashed(out, &ctx, pk, info_hash, rng);
    if (err == FKEX_OK)
        err = fkex_hpke_seal(out + 32, &ctx, NULL, 0, path_secret, 32);
    fkex_hpke_context_wipe(&ctx);
    return err;
}

typedef struct {
    uint32_t node;
    uint8_t sealed[PATH_SEAL_BYTES];
} slice;

static int cmp_slice(const void *a, const void *b)
{
    uint32_t x = ((const slice *)a)->node, y = ((const slice *)b)->node;
    return x < y ? -1 : x > y;
}

fkex_err tree_path_seal(fkex_writer *w, const ratchet_tree *t, const tree_update *u,
                        const uint32_t *exclude, uint32_t nexclude, tree_joiner_secret *joiners,
                        const uint8_t *info, size_t infolen, fkex_rng *rng)
{
    uint32_t path[TREE_MAX_DEPTH], copath[TREE_MAX_DEPTH], m, n = 0, cap = 0;
    /* w grows only at the end, so that an error leaves it as it was. */
    uint8_t info_hash[32];
    slice *all = NULL;
    fkex_err err = FKEX_OK;

    m = filtered_direct_path(t, u->leaf, path, copath);
    if (m != u->m)
        return FKEX_ERR_ARGUMENT;
    for (uint32_t k = 0; k < nexclude; k++)
        joiners[k].node = UINT32_MAX;
    seal_info(info_hash, info, infolen);
    for (uint32_t i = 0; i < m && err == FKEX_OK; i++) {
        idx_list to = { 0 };
        /* A joiner below this node's copath child gets this node's secret. */
        for (uint32_t k = 0; k < nexclude; k++)
            if (joiners[k].node == UINT32_MAX && fkex_tree_below(2 * exclude[k], copath[i])) {
                joiners[k].node = path[i];
                memcpy(joiners[k].path_secret, u->secrets[i], 32);
            }
        targets(t, copath[i], exclude, nexclude, &to);
        if (!to.failed && n + to.n > cap) {
            slice *grown = realloc(all, (n + to.n + 16) * sizeof *grown);
            if (grown) {
                all = grown;
                cap = n + to.n + 16;
            }
        }
        if (to.failed || n + to.n > cap)
            err = FKEX_ERR_NO_MEMORY;
        for (uint32_t j = 0; j < to.n && err == FKEX_OK; j++) {
            all[n].node = to.v[j];
            err = seal_to(all[n++].sealed, t->nodes[to.v[j]].pk, u->secrets[i], info_hash, rng);
        }
        free(to.v);
    }
    for (uint32_t k = 0; k < nexclude && err == FKEX_OK; k++)
        if (joiners[k].node == UINT32_MAX)
            err = FKEX_ERR_ARGUMENT;   /* not a leaf of the tree, or the committer */
    if (err == FKEX_OK) {
        if (n)
            qsort(all, n, sizeof *all, cmp_slice);
        fkex_writer_u32(w, n);
        for (uint32_t j = 0; j < n; j++) {
            fkex_writer_u32(w, all[j].node);
            fkex_writer_put(w, all[j].sealed, PATH_SEAL_BYTES);
        }
        if (w->failed)
            err = FKEX_ERR_NO_MEMORY;
    }
    if (err != FKEX_OK && nexclude)
        sodium_memzero(joiners, nexclude * sizeof *joiners);
    free(all);
    return err;
}

fkex_err tree_path_open(tree_private *priv, const ratchet_tree *t, uint32_t committer,
                        const uint8_t slice_bytes[FKEX_SLICE_BYTES], const uint8_t *info,
                        size_t infolen, uint8_t commit_secret[32])
{
    uint32_t path[TREE_MAX_DEPTH], copath[TREE_MAX_DEPTH], m, at, holder = load32_be(slice_bytes);
    uint8_t ps[32], next[32], sks[TREE_MAX_DEPTH][32], pk[32], info_hash[32];
    const uint8_t *sk = private_key(priv, holder);
    fkex_hpke_context ctx;
    fkex_err err;

    if (committer >= t->nleaves || committer == priv->leaf || !sk || holder >= width(t))
        return FKEX_ERR_AUTHENTICATION;
    m = filtered_direct_path(t, committer, path, copath);
    for (at = 0; at < m && !fkex_tree_below(holder, copath[at]); at++)
        ;
    if (at == m)
        return FKEX_ERR_AUTHENTICATION;
    seal_info(info_hash, info, infolen);
    err = fkex_hpke_setup_base_r_hashed(&ctx, slice_bytes + 4, sk, t->nodes[holder].pk, info_hash);
    if (err == FKEX_OK)
        err = fkex_hpke_open(ps, &ctx, NULL, 0, slice_bytes + 4 + 32, FKEX_SEALED_SECRET);
    fkex_hpke_context_wipe(&ctx);
    if (err != FKEX_OK) {
        err = FKEX_ERR_AUTHENTICATION;
        goto done;
    }
    /* Derive up from path_secret[at], checking each key against the path's. */
    for (uint32_t i = at; i < m; i++) {
        if (i > at) {
            derive(next, ps, "path");
            memcpy(ps, next, 32);
        }
        if ((err = node_keys(sks[i], pk, ps)) != FKEX_OK)
            goto done;
        if (sodium_memcmp(pk, t->nodes[path[i]].pk, 32) != 0) {
            err = FKEX_ERR_AUTHENTICATION;
            goto done;
        }
    }
    derive(commit_secret, ps, "path");
    for (uint32_t i = at; i < m; i++)
        private_set(priv, path[i], sks[i]);
    tree_private_prune(priv, t);
done:
    sodium_memzero(ps, sizeof ps);
    sodium_memzero(next, sizeof next);
    sodium_memzero(sks, sizeof sks);
    return err;
}

fkex_err tree_path_install(tree_private *priv, const ratchet_tree *t,
                           const tree_joiner_secret *js)
{
    uint8_t ps[32], next[32], sk[32], pk[32];
    tree_private was = *priv;
    uint32_t x = js->node;
    fkex_err err = FKEX_OK;
    if (x >= width(t) || tree_level(x) == 0 || !t->nodes[x].present ||
        !fkex_tree_below(2 * priv->leaf, x))
        return FKEX_ERR_ARGUMENT;
    /* The committer's path above js->node is the present nodes up to the
     * root: its filtered direct path, the rest of which the merge blanked. */
    memcpy(ps, js->path_secret, 32);
    for (;;) {
        if (t->nodes[x].present) {
            if ((err = node_keys(sk, pk, ps)) != FKEX_OK)
                break;
            if (sodium_memcmp(pk, t->nodes[x].pk, 32) != 0) {
                err = FKEX_ERR_AUTHENTICATION;
                break;
            }
            private_set(priv, x, sk);
            derive(next, ps, "path");
            memcpy(ps, next, 32);
        }
        if (x == tree_root(t->nleaves))
            break;
        x = tree_parent(x);
    }
    if (err != FKEX_OK)
        *priv = was;
    sodium_memzero(&was, sizeof was);
    sodium_memzero(ps, sizeof ps);
    sodium_memzero(next, sizeof next);
    sodium_memzero(sk, sizeof sk);
    return err;
}
