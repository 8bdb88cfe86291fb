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
 * A commit that removes or updates carries an UpdatePath (§7.4): fresh
 * path secrets up the committer's filtered direct path, each sealed to
 * the resolution of the copath child beside it, so that the committer
 * seals O(log n) times (more while the tree has blanks and unmerged
 * leaves) and each member opens once (§7.5). The commit secret is
 * DeriveSecret(last path secret, "path").
 *
 * This part is the tree and TreeKEM; wiring it into the ratchet behind
 * dist_seal/dist_open, the Welcome's public tree, and parent hashes
 * (§7.9) come next (issue 12).
 */
#ifndef FKEX_GKE_TREE_H
#define FKEX_GKE_TREE_H

#include "inner.h"

#define TREE_MAX_LEAVES FKEX_ROOM_MAX_MEMBERS
#define TREE_MAX_DEPTH 17   /* a leaf and 16 levels above it at 65536 leaves */

typedef struct {
    uint8_t present;       /* 0: blank */
    uint8_t pk[32];        /* HPKE public key */
    uint8_t sig_pk[32];    /* leaves: the member's V */
    uint32_t *unmerged;    /* parents: leaf indices added below since pk was set */
    uint32_t nunmerged;
} tree_node;

typedef struct {
    uint32_t nleaves;      /* 0 or a power of two */
    tree_node *nodes;      /* 2 nleaves - 1, or NULL */
} ratchet_tree;

/* What one member holds privately: its leaf and the secret keys of the
 * nodes above it that a path gave it (always on its direct path). */
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
/* An independent copy (what a Welcome would carry). */
fkex_err tree_copy(ratchet_tree *dst, const ratchet_tree *src) FKEX_WUR;
/* Puts leaf into the leftmost blank leaf, doubling the tree if there is
 * none, and adds it to the unmerged leaves of the parents above it that
 * are not blank (§7.7). FKEX_ERR_ARGUMENT at TREE_MAX_LEAVES members;
 * on an error the tree is as it was. */
fkex_err tree_add(ratchet_tree *t, const fkex_leaf *leaf, uint32_t *index) FKEX_WUR;
/* Blanks the leaf and its direct path, then halves the tree while its
 * right half is blank (§7.7, §7.8); priv (the holder of this copy)
 * forgets the keys of the nodes that went. */
void tree_remove(ratchet_tree *t, tree_private *priv, uint32_t index);
/* The nodes whose keys reach every leaf below node (§4.1.1): node itself
 * and its unmerged leaves if it is not blank, else the resolutions of its
 * children. *out malloc'd (NULL if empty). */
fkex_err tree_resolution(const ratchet_tree *t, uint32_t node, uint32_t **out,
                         uint32_t *n) FKEX_WUR;
/* H of the tree (§7.8's shape, fkex's labels): a leaf hashes its index
 * and contents, a parent its contents and its children's hashes. */
void tree_hash(uint8_t out[32], const ratchet_tree *t);
/* Forgets the private keys of nodes that are blank or no longer on the
 * member's direct path (after a remove or a truncation). */
void tree_private_prune(tree_private *p, const ratchet_tree *t);
void tree_private_wipe(tree_private *p);

/* ---- TreeKEM ---- */
/* What a joiner of the commit needs to hold the tree's keys above it (a
 * Welcome's path secret, RFC 9420 §12.4.3.1): the node where the
 * committer's path meets its leaf, and that node's path secret. */
typedef struct {
    uint32_t node;
    uint8_t path_secret[32];
} tree_joiner_secret;

/* The committer (priv->leaf): path_secret[0] random, the new leaf key
 * pair from KDF-Expand(path_secret[0], "node"), and for each node of the
 * filtered direct path the next path secret, KDF-Expand(previous,
 * "path"), and its key pair from KDF-Expand(that, "node") (§7.4).
 * Appends to w: leaf pk || u32 m || per node, bottom up: pk || u32 count
 * || count x (enc 32 || sealed path secret 48), sealed in resolution
 * order to the copath child's resolution minus the leaves in exclude
 * (the commit's joiners, each of which gets its tree_joiner_secret in
 * joiners[]), under SHA-256("fkex v1 update path" || SHA-256(info)).
 * The tree and priv take the new keys. On an error w, the tree and priv
 * are as they were. */
fkex_err tree_path_seal(fkex_writer *w, ratchet_tree *t, tree_private *priv,
                        const uint32_t *exclude, uint32_t nexclude, tree_joiner_secret *joiners,
                        const uint8_t *info, size_t infolen, uint8_t commit_secret[32],
                        fkex_rng *rng) FKEX_WUR;
/* A member's side (§7.5): reads the UpdatePath of committer (exactly
 * len bytes), opens the one path secret sealed to a node it holds,
 * derives the rest, checks every public key it derives against the
 * path's, and merges. FKEX_ERR_BAD_ENCODING for a path of the wrong shape,
 * FKEX_ERR_AUTHENTICATION if nothing opens or a key does not match; the
 * tree and priv change only on FKEX_OK. */
fkex_err tree_path_open(ratchet_tree *t, tree_private *priv, uint32_t committer,
                        const uint8_t *path, size_t len, const uint32_t *exclude,
                        uint32_t nexclude, const uint8_t *info, size_t infolen,
                        uint8_t commit_secret[32]) FKEX_WUR;
/* A joiner's side, on the tree after the commit: derives the keys from
 * js->node up the present nodes to the root, checks each against the
 * tree, and keeps them. FKEX_ERR_AUTHENTICATION if one differs (priv is
 * then as it was), FKEX_ERR_ARGUMENT if js->node is not above its leaf. */
fkex_err tree_path_install(tree_private *priv, const ratchet_tree *t,
                           const tree_joiner_secret *js) FKEX_WUR;

#endif
