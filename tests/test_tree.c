/*
 * The ratchet tree (src/gke/tree.c): the array representation against
 * RFC 9420 Appendix C's figures, then TreeKEM as a property: random joins,
 * leaves and updates among up to 200 members, after each of which every
 * member holds the same tree (hash) and commit secret, and a removed member
 * opens none of the path secrets of the commit that removes it.
 */
#include "test.h"
#include "gke/tree.h"

#define MAX_MEMBERS 200
#define STEPS 600

/* ---- tree math ----------------------------------------------------------------- */

static void test_tree_math(void)
{
    /* 8 leaves (Appendix C's figure): nodes 0..14, root 7 */
    CHECK(tree_root(8) == 7 && tree_root(1) == 0 && tree_root(2) == 1);
    CHECK(tree_level(0) == 0 && tree_level(1) == 1 && tree_level(3) == 2 && tree_level(7) == 3);
    CHECK(tree_left(7) == 3 && tree_right(7) == 11 && tree_left(3) == 1 && tree_right(3) == 5);
    CHECK(tree_left(11) == 9 && tree_right(11) == 13 && tree_left(1) == 0 && tree_right(1) == 2);
    CHECK(tree_parent(0) == 1 && tree_parent(2) == 1 && tree_parent(1) == 3 && tree_parent(5) == 3);
    CHECK(tree_parent(3) == 7 && tree_parent(11) == 7 && tree_parent(9) == 11 &&
          tree_parent(14) == 13);
    CHECK(tree_sibling(0) == 2 && tree_sibling(1) == 5 && tree_sibling(3) == 11 &&
          tree_sibling(13) == 9);
    /* every non-root node is its parent's left or right child */
    for (uint32_t n = 1; n <= 1024; n *= 2)
        for (uint32_t x = 0; x < 2 * n - 1; x++)
            if (x != tree_root(n)) {
                uint32_t p = tree_parent(x);
                CHECK(p < 2 * n - 1 && (tree_left(p) == x || tree_right(p) == x));
                CHECK(tree_parent(tree_sibling(x)) == p && tree_sibling(x) != x);
            }
}

/* ---- a simulated room ----------------------------------------------------------- */

typedef struct {
    int active;
    ratchet_tree tree;
    tree_private priv;
    fkex_leaf leaf;
} member;

static member m[MAX_MEMBERS];
static fkex_rng rng;

static uint32_t pick(uint32_t n)
{
    uint8_t b[4];
    fkex_rng_fill(&rng, b, 4);
    return load32_be(b) % n;
}

static int random_active(int not)
{
    int n = 0, idx[MAX_MEMBERS];
    for (int i = 0; i < MAX_MEMBERS; i++)
        if (m[i].active && i != not)
            idx[n++] = i;
    return n ? idx[pick((uint32_t)n)] : -1;
}

static int members(void)
{
    int n = 0;
    for (int i = 0; i < MAX_MEMBERS; i++)
        n += m[i].active;
    return n;
}

/* Every member holds the same tree, with a leaf at its own index. */
static int agree(void)
{
    uint8_t want[32], got[32];
    int first = 1, ok = 1;
    for (int i = 0; i < MAX_MEMBERS; i++) {
        if (!m[i].active)
            continue;
        tree_hash(got, &m[i].tree);
        if (first)
            memcpy(want, got, 32);
        first = 0;
        ok &= memcmp(want, got, 32) == 0;
        ok &= m[i].priv.leaf < m[i].tree.nleaves && m[i].tree.nodes[2 * m[i].priv.leaf].present;
        /* every private key is of a node with a key, at or above its own
         * leaf (a member off a node's subtree must not hold its key), and
         * it holds all it needs to open what is sealed to it */
        for (uint32_t k = 0; k < m[i].priv.nkeys; k++) {
            uint32_t x = m[i].priv.keys[k].node;
            ok &= x < 2 * m[i].tree.nleaves - 1 && m[i].tree.nodes[x].present &&
                  fkex_tree_below(2 * m[i].priv.leaf, x);
        }
        ok &= tree_private_complete(&m[i].priv, &m[i].tree);
        /* truncated: a leaf in the right half, unless there is one leaf */
        int right = m[i].tree.nleaves == 1;
        for (uint32_t l = m[i].tree.nleaves / 2; l < m[i].tree.nleaves; l++)
            right |= m[i].tree.nodes[2 * l].present;
        ok &= right;
    }
    return ok;
}

static int join(void)
{
    int slot = -1, ref = random_active(-1);
    uint8_t sk[32];
    uint32_t index = 0, got;
    for (int i = 0; i < MAX_MEMBERS && slot < 0; i++)
        if (!m[i].active)
            slot = i;
    member *j = &m[slot];
    fkex_rng_fill(&rng, j->leaf.sig_pk, 32);
    fkex_hpke_keypair_generate(sk, j->leaf.hpke_pk, &rng);
    /* an Add: every member puts the leaf at the same place */
    if (ref >= 0)
        CHECK_OK(tree_add(&m[ref].tree, j->leaf.hpke_pk, &index));
    for (int i = 0; i < MAX_MEMBERS; i++)
        if (m[i].active && i != ref) {
            CHECK_OK(tree_add(&m[i].tree, j->leaf.hpke_pk, &got));
            CHECK(got == index);
        }
    /* the joiner gets the public tree (a Welcome's) and its own leaf's key */
    if (ref >= 0) {
        CHECK_OK(tree_copy(&j->tree, &m[ref].tree));
    } else {
        CHECK_OK(tree_add(&j->tree, j->leaf.hpke_pk, &index));
    }
    memset(&j->priv, 0, sizeof j->priv);
    j->priv.leaf = index;
    j->priv.nkeys = 1;
    j->priv.keys[0].node = 2 * index;
    memcpy(j->priv.keys[0].sk, sk, 32);
    j->active = 1;
    sodium_memzero(sk, sizeof sk);
    return slot;
}

/* The path's info binding as tree.c computes it (gke/tree.h):
 * SHA-256("fkex v1 update path" || SHA-256(info)). */
static void path_info(uint8_t out[32], const uint8_t *info, size_t len)
{
    uint8_t buf[19 + 32];
    memcpy(buf, "fkex v1 update path", 19);
    crypto_hash_sha256(buf + 19, info, len);
    crypto_hash_sha256(out, buf, sizeof buf);
}

/* A commit's path: its public half (in a commit's content) and the
 * slices (u32 count || slices, as after a commit's signature). */
typedef struct {
    tree_update u;
    fkex_writer w;
} path_msg;

/* The slices as a decoded commit holds them. */
static fkex_rmsg_commit slices_of(const path_msg *p)
{
    fkex_rmsg_commit c = { 0 };
    c.nslices = load32_be(p->w.buf);
    c.slices = p->w.buf + 4;
    return c;
}

/* committer makes a path (the commit's joiners excluded, each getting its
 * path secret in js) and merges it into its own tree. */
static void make_path(path_msg *p, int committer, const uint32_t *exclude, uint32_t nexclude,
                      tree_joiner_secret *js, const uint8_t *info, size_t infolen)
{
    member *c = &m[committer];
    CHECK_OK(tree_path_create(&p->u, &c->tree, c->priv.leaf, &rng));
    CHECK_OK(tree_path_merge(&c->tree, c->priv.leaf, p->u.leaf_pk, (const uint8_t *)p->u.pks,
                             p->u.m));
    tree_path_keep(&c->priv, &c->tree, &p->u);
    fkex_writer_init(&p->w);
    CHECK_OK(tree_path_seal(&p->w, &c->tree, &p->u, exclude, nexclude, js, info, infolen, &rng));
}

static void path_free(path_msg *p)
{
    tree_update_wipe(&p->u);
    fkex_writer_free(&p->w);
}

/* Member i takes the path: a copy of its tree merged, its slice opened.
 * Its tree and keys change only if that succeeds. */
static fkex_err take_path(int i, uint32_t committer, const path_msg *p, const uint8_t *info,
                          size_t infolen, uint8_t secret[32])
{
    ratchet_tree t;
    tree_private priv = m[i].priv;
    fkex_rmsg_commit c = slices_of(p);
    const uint8_t *slice = fkex_rmsg_commit_slice(&c, m[i].priv.leaf);
    fkex_err err = tree_copy(&t, &m[i].tree);
    if (err == FKEX_OK)
        err = tree_path_merge(&t, committer, p->u.leaf_pk, (const uint8_t *)p->u.pks, p->u.m);
    if (err == FKEX_OK)
        err = slice ? tree_path_open(&priv, &t, committer, slice, info, infolen, secret)
                    : FKEX_ERR_AUTHENTICATION;
    if (err == FKEX_OK) {
        tree_free(&m[i].tree);
        m[i].tree = t;
        m[i].priv = priv;
    } else {
        tree_free(&t);
    }
    tree_private_wipe(&priv);
    return err;
}

/* What a removed member (or a thief) can do with a commit's slices: try
 * each with each private key it held. 1 if any opens. */
static int opens_any(const member *gone, const path_msg *p, const uint8_t info[32])
{
    fkex_rmsg_commit c = slices_of(p);
    int opened = 0;
    for (uint32_t s = 0; s < c.nslices; s++)
        for (uint32_t k = 0; k < gone->priv.nkeys; k++) {
            const uint8_t *sl = c.slices + (size_t)s * FKEX_SLICE_BYTES;
            uint8_t own_pk[32], secret[32];
            fkex_hpke_context ctx;
            crypto_scalarmult_base(own_pk, gone->priv.keys[k].sk);
            if (fkex_hpke_setup_base_r_hashed(&ctx, sl + 4, gone->priv.keys[k].sk, own_pk, info) ==
                    FKEX_OK &&
                fkex_hpke_open(secret, &ctx, NULL, 0, sl + 36, FKEX_SEALED_SECRET) == FKEX_OK)
                opened = 1;
            fkex_hpke_context_wipe(&ctx);
        }
    return opened;
}

/* committer seals a path (excluding joiner, if not -1, who installs its
 * path secret); every other member opens it. */
static void commit_path(int committer, const member *gone, int joiner)
{
    uint8_t info[40], got[32], info_hash[32];
    uint32_t exclude = joiner >= 0 ? m[joiner].priv.leaf : 0, nexclude = joiner >= 0;
    tree_joiner_secret js;
    path_msg p;
    fkex_rng_fill(&rng, info, sizeof info);
    make_path(&p, committer, &exclude, nexclude, &js, info, sizeof info);
    for (int i = 0; i < MAX_MEMBERS; i++) {
        if (!m[i].active || i == committer || i == joiner)
            continue;
        CHECK_OK(take_path(i, m[committer].priv.leaf, &p, info, sizeof info, got));
        CHECK(memcmp(got, p.u.commit_secret, 32) == 0);
    }
    if (joiner >= 0) {   /* its Welcome: the tree after the commit, and js */
        tree_free(&m[joiner].tree);
        CHECK_OK(tree_copy(&m[joiner].tree, &m[committer].tree));
        CHECK_OK(tree_path_install(&m[joiner].priv, &m[joiner].tree, &js));
        sodium_memzero(&js, sizeof js);
    }
    /* the path's nodes have no unmerged leaves left (§7.5) */
    for (uint32_t x = 2 * m[committer].priv.leaf; x != tree_root(m[committer].tree.nleaves);) {
        x = tree_parent(x);
        CHECK(m[committer].tree.nodes[x].nunmerged == 0);
    }
    if (gone) {
        path_info(info_hash, info, sizeof info);
        CHECK(!opens_any(gone, &p, info_hash));
    }
    path_free(&p);
}

/* A remove (and, if with_join, an Add of a new member in the same
 * commit, as a path-carrying commit's joiner). */
static void leave(int with_join)
{
    int victim = random_active(-1), committer = random_active(victim), joiner = -1;
    member gone = m[victim];   /* its state as it was: what a thief of it has */
    for (int i = 0; i < MAX_MEMBERS; i++)
        if (m[i].active)
            tree_remove(&m[i].tree, &m[i].priv, m[victim].priv.leaf);
    m[victim].active = 0;
    tree_free(&m[victim].tree);
    tree_private_wipe(&m[victim].priv);
    if (with_join)
        joiner = join();
    commit_path(committer, &gone, joiner);
}

/* Random joins, leaves (some with a joiner in the same commit) and
 * updates, checking agreement after each; joins are likelier until the
 * room has 150 members. */
static void test_tree_property(void)
{
    int joins = 0, leaves = 0, swaps = 0, updates = 0, peak = 0;
    test_rng(&rng, "tree property");
    memset(m, 0, sizeof m);
    join();
    join();
    for (int step = 0; step < STEPS; step++) {
        uint32_t r = pick(10), n = (uint32_t)members();
        uint32_t joining = peak < 150 ? 7 : 4;
        if ((r < joining || n <= 2) && n < MAX_MEMBERS) {
            join();
            joins++;
        } else if (r < joining + 2) {
            leave(r & 1);
            leaves++;
            swaps += (int)(r & 1);
        } else {
            commit_path(random_active(-1), NULL, -1);
            updates++;
        }
        if (!agree()) {
            CHECK(!"every member holds the same tree");
            break;
        }
        if (members() > peak)
            peak = members();
    }
    CHECK(joins > 100 && leaves > 50 && swaps > 20 && updates > 50 && peak >= 150);
    for (int i = 0; i < MAX_MEMBERS; i++) {
        tree_free(&m[i].tree);
        tree_private_wipe(&m[i].priv);
    }
}

static void room_free(void)
{
    for (int i = 0; i < MAX_MEMBERS; i++) {
        tree_free(&m[i].tree);
        tree_private_wipe(&m[i].priv);
    }
}

/* Resolutions and filtered direct paths in small fixed trees (§4.1). */
static void test_tree_resolution(void)
{
    uint32_t *res, n;
    uint8_t info[4] = { 0 }, secret[32];
    test_rng(&rng, "tree resolution");
    memset(m, 0, sizeof m);
    for (int i = 0; i < 3; i++)
        join();
    /* leaves 0..2 of 4, every parent blank: node 5 resolves to leaf 2's
     * node, the root to the three leaves */
    CHECK(m[0].tree.nleaves == 4);
    CHECK_OK(tree_resolution(&m[0].tree, 5, &res, &n));
    CHECK(n == 1 && res[0] == 4);
    free(res);
    CHECK_OK(tree_resolution(&m[0].tree, 3, &res, &n));
    CHECK(n == 3 && res[0] == 0 && res[1] == 2 && res[2] == 4);
    free(res);
    /* leaf 2's filtered direct path skips node 5 (its copath child, leaf
     * 3, is blank): one node, the root, with two slices (leaves 0 and 1) */
    path_msg p;
    make_path(&p, 2, NULL, 0, NULL, info, sizeof info);
    CHECK(p.u.m == 1 && p.u.nodes[0] == 3 && p.w.len == 4 + 2 * FKEX_SLICE_BYTES &&
          load32_be(p.w.buf) == 2 && load32_be(p.w.buf + 4) == 0 &&
          load32_be(p.w.buf + 4 + FKEX_SLICE_BYTES) == 2);
    for (int i = 0; i < 2; i++)
        CHECK_OK(take_path(i, 2, &p, info, sizeof info, secret));
    path_free(&p);
    CHECK(m[0].tree.nodes[3].present && !m[0].tree.nodes[5].present && !m[0].tree.nodes[1].present);
    /* a fourth member is unmerged at the root: the root resolves to
     * itself and leaf 3 */
    join();
    CHECK_OK(tree_resolution(&m[0].tree, 3, &res, &n));
    CHECK(n == 2 && res[0] == 3 && res[1] == 6);
    free(res);
    room_free();
}

/* A thief of a member's state learns nothing of the commits after that
 * member's own next commit (post-compromise security): its leaf key and
 * every key on its path change, and the old ones open no later seal. */
static void test_tree_stolen_state(void)
{
    uint8_t info[8] = { 2 }, secret[32], info_hash[32], old_leaf[32];
    test_rng(&rng, "tree stolen state");
    memset(m, 0, sizeof m);
    for (int i = 0; i < 12; i++)
        join();
    for (int i = 0; i < 12; i += 3)
        commit_path(i, NULL, -1);   /* parents hold keys */
    member thief = m[4];
    memcpy(old_leaf, m[4].tree.nodes[2 * m[4].priv.leaf].pk, 32);
    commit_path(4, NULL, -1);
    CHECK(memcmp(old_leaf, m[0].tree.nodes[2 * m[4].priv.leaf].pk, 32) != 0);
    for (int c = 0; c < 12; c++) {
        path_msg p;
        if (c == 4)
            continue;
        info[1] = (uint8_t)c;
        make_path(&p, c, NULL, 0, NULL, info, sizeof info);
        for (int i = 0; i < 12; i++)
            if (i != c)
                CHECK_OK(take_path(i, m[c].priv.leaf, &p, info, sizeof info, secret));
        path_info(info_hash, info, sizeof info);
        CHECK(!opens_any(&thief, &p, info_hash));
        path_free(&p);
    }
    tree_private_wipe(&thief.priv);
    room_free();
}

/* The node of committer's filtered direct path where reader's seal is:
 * the first whose copath child is above reader's leaf. */
static uint32_t reader_at(const ratchet_tree *t, uint32_t committer, uint32_t reader)
{
    uint32_t i = 0;
    for (uint32_t x = 2 * committer; x != tree_root(t->nleaves); x = tree_parent(x)) {
        uint32_t s = tree_sibling(x), *res, n;
        CHECK_OK(tree_resolution(t, s, &res, &n));
        free(res);
        if (n == 0)
            continue;
        if (fkex_tree_below(2 * reader, s))
            return i;
        i++;
    }
    return UINT32_MAX;
}

/* A path changed in any byte a member checks is refused, and its tree and
 * keys stay as they were: every byte of its slice, and every public key
 * from its slice's node up. A change it does not check (a key below its
 * node, the committer's leaf key) leaves it the true commit secret; a
 * path of another length is not the committer's filtered path. */
static void test_tree_path_tampered(void)
{
    uint8_t info[8] = { 1 }, got[32], before[32], after[32];
    size_t refused = 0, taken = 0;
    path_msg p;
    test_rng(&rng, "tree tamper");
    memset(m, 0, sizeof m);
    for (int i = 0; i < 9; i++)
        join();
    commit_path(8, NULL, -1);
    uint32_t at = reader_at(&m[0].tree, 0, 5);
    make_path(&p, 0, NULL, 0, NULL, info, sizeof info);
    tree_hash(before, &m[5].tree);
    fkex_rmsg_commit c = slices_of(&p);
    uint8_t *slice = (uint8_t *)fkex_rmsg_commit_slice(&c, 5);
    CHECK(slice != NULL && at != UINT32_MAX);
    for (size_t i = 0; slice && i < FKEX_SLICE_BYTES; i++) {
        tree_private was = m[5].priv;
        slice[i] ^= 0x20;
        if (take_path(5, 0, &p, info, sizeof info, got) != FKEX_OK)
            refused++;
        slice[i] ^= 0x20;
        tree_hash(after, &m[5].tree);
        CHECK(memcmp(before, after, 32) == 0 && memcmp(&was, &m[5].priv, sizeof was) == 0);
        tree_private_wipe(&was);
    }
    CHECK(refused == FKEX_SLICE_BYTES);
    for (uint32_t k = 0; k <= p.u.m; k++) {   /* path keys, then (k == m) the leaf key */
        uint8_t *pk = k < p.u.m ? p.u.pks[k] : p.u.leaf_pk;
        uint32_t bit = 8 * (k % 32);
        pk[bit / 8] ^= 0x01;
        ratchet_tree t;
        tree_private priv = m[5].priv;
        fkex_err err;
        CHECK_OK(tree_copy(&t, &m[5].tree));
        CHECK_OK(tree_path_merge(&t, 0, p.u.leaf_pk, (const uint8_t *)p.u.pks, p.u.m));
        err = tree_path_open(&priv, &t, 0, slice, info, sizeof info, got);
        if (k < p.u.m && k >= at) {
            CHECK_ERR(err, FKEX_ERR_AUTHENTICATION);
        } else {
            CHECK(err == FKEX_OK && memcmp(got, p.u.commit_secret, 32) == 0);
            taken++;
        }
        pk[bit / 8] ^= 0x01;
        tree_free(&t);
        tree_private_wipe(&priv);
    }
    CHECK(taken == at + 1);
    /* one node more, or one less, is not the committer's path */
    ratchet_tree t;
    CHECK_OK(tree_copy(&t, &m[5].tree));
    CHECK_ERR(tree_path_merge(&t, 0, p.u.leaf_pk, (const uint8_t *)p.u.pks, p.u.m + 1),
              FKEX_ERR_BAD_ENCODING);
    CHECK_ERR(tree_path_merge(&t, 0, p.u.leaf_pk, (const uint8_t *)p.u.pks, p.u.m - 1),
              FKEX_ERR_BAD_ENCODING);
    tree_hash(after, &t);
    CHECK(memcmp(before, after, 32) == 0);
    tree_free(&t);
    CHECK_OK(take_path(5, 0, &p, info, sizeof info, got));
    CHECK(memcmp(got, p.u.commit_secret, 32) == 0);
    /* nor does a member take its own path as another's */
    CHECK_ERR(tree_path_open(&m[0].priv, &m[0].tree, 0, slice, info, sizeof info, got),
              FKEX_ERR_AUTHENTICATION);
    path_free(&p);
    room_free();
}

/* The public tree as a Welcome carries it: what tree_encode_parents
 * writes, tree_decode reads back to the same hash; every byte changed is
 * refused or gives another hash; trailing and missing bytes are refused. */
static void test_tree_welcome_encoding(void)
{
    uint8_t want[32], got[32];
    fkex_leaf leaves[13];
    fkex_writer w;
    ratchet_tree t;
    test_rng(&rng, "tree welcome");
    memset(m, 0, sizeof m);
    for (int i = 0; i < 11; i++)
        join();
    commit_path(3, NULL, -1);
    join();
    join();   /* two unmerged leaves under the root */
    CHECK(m[0].tree.nodes[tree_root(m[0].tree.nleaves)].nunmerged == 2);
    for (int i = 0; i < 13; i++) {
        memset(leaves[m[i].priv.leaf].sig_pk, 0, 32);
        memcpy(leaves[m[i].priv.leaf].hpke_pk, m[0].tree.nodes[2 * m[i].priv.leaf].pk, 32);
    }
    tree_hash(want, &m[0].tree);
    fkex_writer_init(&w);
    tree_encode_parents(&w, &m[0].tree);
    CHECK_OK(tree_decode(&t, leaves, 13, w.buf, w.len));
    tree_hash(got, &t);
    CHECK(memcmp(want, got, 32) == 0);
    tree_free(&t);
    size_t same = 0;
    for (size_t i = 0; i < w.len; i++) {
        w.buf[i] ^= 0x01;
        if (tree_decode(&t, leaves, 13, w.buf, w.len) == FKEX_OK) {
            tree_hash(got, &t);
            same += memcmp(want, got, 32) == 0;
            tree_free(&t);
        }
        w.buf[i] ^= 0x01;
    }
    CHECK(same == 0);
    CHECK_ERR(tree_decode(&t, leaves, 13, w.buf, w.len - 1), FKEX_ERR_BAD_ENCODING);
    {
        /* four leaves; the root (node 3) with a key and two unmerged leaves,
         * in order (taken), out of order, twice, or with a key of small
         * order (refused) */
        uint8_t b[1 + 1 + 32 + 4 + 8 + 1];
        fkex_leaf four[4];
        memcpy(four, leaves, sizeof four);
        memset(b, 0, sizeof b);
        b[1] = 1;
        fkex_rng_fill(&rng, b + 2, 32);
        store32_be(b + 34, 2);
        store32_be(b + 38, 1);
        store32_be(b + 42, 2);
        CHECK_OK(tree_decode(&t, four, 4, b, sizeof b));
        tree_free(&t);
        store32_be(b + 38, 2);
        store32_be(b + 42, 1);
        CHECK_ERR(tree_decode(&t, four, 4, b, sizeof b), FKEX_ERR_BAD_ENCODING);
        store32_be(b + 42, 2);
        CHECK_ERR(tree_decode(&t, four, 4, b, sizeof b), FKEX_ERR_BAD_ENCODING);
        store32_be(b + 38, 1);
        memset(b + 2, 0, 32);
        CHECK_ERR(tree_decode(&t, four, 4, b, sizeof b), FKEX_ERR_BAD_ENCODING);
    }
    fkex_writer_u8(&w, 0);
    CHECK_ERR(tree_decode(&t, leaves, 13, w.buf, w.len), FKEX_ERR_BAD_ENCODING);
    CHECK_ERR(tree_decode(&t, leaves, 12, w.buf, w.len - 1), FKEX_ERR_BAD_ENCODING);
    fkex_writer_free(&w);
    room_free();
}

void suite_tree(void)
{
    RUN(test_tree_math);
    RUN(test_tree_resolution);
    RUN(test_tree_property);
    RUN(test_tree_stolen_state);
    RUN(test_tree_path_tampered);
    RUN(test_tree_welcome_encoding);
}
