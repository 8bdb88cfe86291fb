/*
 * gke/tree.h: the ratchet tree of the room protocol's version 2
 * (PROTOCOL.md, "The ratchet tree"; RFC 9420 §4 and §7, TreeKEM).
 *
 * A left-balanced binary tree in the array representation of RFC 9420
 * Appendix C: leaf i is node 2i, parents are the odd nodes, and the tree
 * holds a power of two leaves (it doubles when full and halves when its
 * right half is blank, §7.7 and §7.8). A node is blank or holds an HPKE
 * public key; a parent also lists its unmerged leaves (added below it
 * since its key was set).
 *
 * The leaves are the roster in its order (gke/roster.c): a removal moves
 * the last leaf into the removed one's place, so leaves are never blank
 * and a member's leaf is its roster index. Both leaves' direct paths are
 * blanked (the one that went knew its keys; the one that moved no longer
 * sits below them), which costs later paths at most one more path's
 * worth of blanks than RFC 9420's blanking, and spares the relay and the
 * roster a map between two numberings.
 *
 * A commit that removes or updates carries an UpdatePath (§7.4): fresh
 * path secrets up the committer's filtered direct path, each sealed to
 * the resolution of the copath child beside it, so that the committer
 * seals O(log n) times (more while the tree has blanks and unmerged
 * leaves) and each member opens once (§7.5). The commit secret is
 * DeriveSecret(last path secret, "path").
 *
 * Each node caches the hash of its subtree (§7.8), so that the tree hash
 * after a commit costs O(log n) hashes, not O(n).
 */
#ifndef FKEX_GKE_TREE_H
#define FKEX_GKE_TREE_H

#include "wire/wire.h"

#define TREE_MAX_LEAVES FKEX_ROOM_MAX_MEMBERS
#define TREE_MAX_DEPTH (FKEX_PATH_MAX + 1)   /* a leaf and the levels above it */

typedef struct {
    uint8_t present;       /* 0: blank */
    uint8_t stale;         /* hash is out of date */
    uint8_t pk[32];        /* HPKE public key */
    uint8_t hash[32];      /* the subtree's hash, while not stale */
    uint32_t *unmerged;    /* parents: leaf indices added below since pk was set */
    uint32_t nunmerged;
} ratchet_node;

typedef struct {
    uint32_t nleaves;      /* 0 or a power of two */
    ratchet_node *nodes;      /* 2 nleaves - 1, or NULL */
} ratchet_tree;

/* What one member holds privately: its leaf and the secret keys of its
 * leaf and of the nodes above it that a path gave it (always on its
 * direct path). */
typedef struct {
    uint32_t leaf;
    uint32_t nkeys;
    struct {
        uint32_t node;
        uint8_t sk[32];
    } keys[TREE_MAX_DEPTH];
} tree_private;

/* ---- the array representation (RFC 9420 Appendix C, full trees) ---- */
uint32_t tree_level(uint32_t x);
uint32_t tree_root(uint32_t nleaves);
uint32_t tree_left(uint32_t x);
uint32_t tree_right(uint32_t x);
uint32_t tree_parent(uint32_t x);
uint32_t tree_sibling(uint32_t x);

/* ---- the public tree ---- */
void tree_free(ratchet_tree *t);
/* An independent copy. */
fkex_err tree_copy(ratchet_tree *dst, const ratchet_tree *src) FKEX_WUR;
/* Puts a leaf with key pk into the leftmost blank leaf, doubling the tree
 * if there is none, and adds it to the unmerged leaves of the parents
 * above it that are not blank (§7.7). FKEX_ERR_ARGUMENT at
 * TREE_MAX_LEAVES members; on an error the tree is as it was. */
fkex_err tree_add(ratchet_tree *t, const uint8_t pk[32], uint32_t *index) FKEX_WUR;
/* Removes leaf index as the roster does: blanks it and its direct path,
 * moves the last leaf into its place (blanking that leaf's direct path),
 * then halves the tree while its right half is blank (§7.7, §7.8). priv
 * (the holder of this copy) follows its leaf and forgets the keys of the
 * nodes that went. */
void tree_remove(ratchet_tree *t, tree_private *priv, uint32_t index);
/* The nodes whose keys reach every leaf below node (§4.1.1): node itself
 * and its unmerged leaves if it is not blank, else the resolutions of its
 * children. *out malloc'd (NULL if empty). */
fkex_err tree_resolution(const ratchet_tree *t, uint32_t node, uint32_t **out,
                         uint32_t *n) FKEX_WUR;
/* H of the tree (§7.8's shape, fkex's labels): a leaf hashes its index
 * and key, a parent its key, unmerged leaves and children's hashes. Only
 * stale nodes are rehashed. */
void tree_hash(uint8_t out[32], ratchet_tree *t);
/* The parents, in node order, as a Welcome carries them: per parent u8
 * present, then if present its key, u32 count and the unmerged leaves. */
void tree_encode_parents(fkex_writer *w, const ratchet_tree *t);
/* The tree of the n leaves (the roster) and the parents' bytes: exactly
 * len bytes, present 0 or 1, a key only above some leaf and not of small
 * order, unmerged leaves strictly increasing and below their parent.
 * FKEX_ERR_BAD_ENCODING otherwise. */
fkex_err tree_decode(ratchet_tree *t, const fkex_leaf *leaves, uint32_t n, const uint8_t *bytes,
                     size_t len) FKEX_WUR;
/* Forgets the private keys of nodes that are blank or no longer on the
 * member's direct path (after a remove or a truncation). */
void tree_private_prune(tree_private *p, const ratchet_tree *t);
void tree_private_wipe(tree_private *p);
/* 1 if p holds the key of its leaf and of every node with a key above it
 * that does not list it as unmerged: what a member needs to open any
 * path sealed to it (a joiner checks its Welcome so). */
int tree_private_complete(const tree_private *p, const ratchet_tree *t);

/* ---- TreeKEM ---- */
/* A committer's UpdatePath before it is sealed: the filtered direct path
 * of its leaf, the path secrets, and the keys they give. */
typedef struct {
    uint32_t leaf;
    uint32_t m;
    uint32_t nodes[TREE_MAX_DEPTH];
    uint8_t leaf_sk[32], leaf_pk[32];
    uint8_t secrets[TREE_MAX_DEPTH][32];
    uint8_t sks[TREE_MAX_DEPTH][32];
    uint8_t pks[TREE_MAX_DEPTH][32];   /* the public half, bottom up */
    uint8_t commit_secret[32];
} tree_update;

/* What a joiner of the commit needs to hold the tree's keys above it (a
 * Welcome's path secret, RFC 9420 §12.4.3.1): the node where the
 * committer's path meets its leaf, and that node's path secret. */
typedef struct {
    uint32_t node;
    uint8_t path_secret[32];
} tree_joiner_secret;

/* The committer at leaf (§7.4): path_secret[0] random, the new leaf key
 * pair from KDF-Expand(path_secret[0], "node"), and for each node of the
 * filtered direct path the next path secret, KDF-Expand(previous,
 * "path"), and its key pair from KDF-Expand(that, "node"); the commit
 * secret is KDF-Expand(the last, "path"). The tree is not changed. */
fkex_err tree_path_create(tree_update *u, const ratchet_tree *t, uint32_t leaf,
                          fkex_rng *rng) FKEX_WUR;
void tree_update_wipe(tree_update *u);
/* Merges a path's public half into the tree (§7.5): the committer's
 * direct path is blanked, then its leaf and filtered direct path take the
 * keys. FKEX_ERR_BAD_ENCODING if m is not the filtered path's length,
 * FKEX_ERR_NOT_IN_GROUP for a key of small order (the tree is then as it
 * was). */
fkex_err tree_path_merge(ratchet_tree *t, uint32_t committer, const uint8_t leaf_pk[32],
                         const uint8_t *pks, uint32_t m) FKEX_WUR;
/* The committer keeps its new keys (after the merge). */
void tree_path_keep(tree_private *priv, const ratchet_tree *t, const tree_update *u);
/* Seals each path secret to the copath child's resolution in the merged
 * tree t, minus the leaves in exclude (the commit's joiners, each of which
 * gets its tree_joiner_secret in joiners[]), under SHA-256("fkex v1 update
 * path" || SHA-256(info)); appends u32 count || the slices (u32 node ||
 * enc || sealed path secret), nodes increasing. On an error w is as it
 * was. */
fkex_err tree_path_seal(fkex_writer *w, const ratchet_tree *t, const tree_update *u,
                        const uint32_t *exclude, uint32_t nexclude, tree_joiner_secret *joiners,
                        const uint8_t *info, size_t infolen, fkex_rng *rng) FKEX_WUR;
/* A member's side (§7.5), on the merged tree: opens its slice (sealed to a
 * node it holds a key for, below the committer's filtered direct path),
 * derives the path secrets up from there, checks each key against the
 * tree's, keeps them, and gives the commit secret. FKEX_ERR_AUTHENTICATION
 * if the slice does not open or a key differs; priv changes only on
 * FKEX_OK. */
fkex_err tree_path_open(tree_private *priv, const ratchet_tree *t, uint32_t committer,
                        const uint8_t slice[FKEX_SLICE_BYTES], const uint8_t *info,
                        size_t infolen, uint8_t commit_secret[32]) FKEX_WUR;
/* A joiner's side, on the tree after the commit: derives the keys from
 * js->node up the present nodes to the root, checks each against the
 * tree, and keeps them. FKEX_ERR_AUTHENTICATION if one differs (priv is
 * then as it was), FKEX_ERR_ARGUMENT if js->node is not above its leaf. */
fkex_err tree_path_install(tree_private *priv, const ratchet_tree *t,
                           const tree_joiner_secret *js) FKEX_WUR;

#endif
