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
        CHECK_OK(tree_add(&m[ref].tree, &j->leaf, &index));
    for (int i = 0; i < MAX_MEMBERS; i++)
        if (m[i].active && i != ref) {
            CHECK_OK(tree_add(&m[i].tree, &j->leaf, &got));
            CHECK(got == index);
        }
    /* the joiner gets the public tree (a Welcome's) and its own leaf's key */
    if (ref >= 0) {
        CHECK_OK(tree_copy(&j->tree, &m[ref].tree));
    } else {
        CHECK_OK(tree_add(&j->tree, &j->leaf, &index));
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

/* What a removed member can do with the commit that removes it: try each
 * sealed path secret with each private key it held. 1 if any opens. */
static int opens_any(const member *gone, const uint8_t *path, size_t len, const uint8_t info[32])
{
    fkex_reader r;
    uint32_t nodes, count;
    uint8_t pk[32];
    const uint8_t *cts;
    int opened = 0;
    fkex_reader_init(&r, path, len);
    if (fkex_reader_get(&r, pk, 32) != 0 || fkex_reader_u32(&r, &nodes) != 0)
        return 1;   /* unreadable: the test fails */
    for (uint32_t i = 0; i < nodes; i++) {
        if (fkex_reader_get(&r, pk, 32) != 0 || fkex_reader_u32(&r, &count) != 0 ||
            fkex_reader_view(&r, &cts, (size_t)count * (32 + FKEX_SEALED_SECRET)) != 0)
            return 1;
        for (uint32_t c = 0; c < count; c++)
            for (uint32_t k = 0; k < gone->priv.nkeys; k++) {
                const uint8_t *s = cts + (size_t)c * (32 + FKEX_SEALED_SECRET);
                uint8_t own_pk[32], secret[32];
                fkex_hpke_context ctx;
                crypto_scalarmult_base(own_pk, gone->priv.keys[k].sk);
                if (fkex_hpke_setup_base_r_hashed(&ctx, s, gone->priv.keys[k].sk, own_pk, info) ==
                        FKEX_OK &&
                    fkex_hpke_open(secret, &ctx, NULL, 0, s + 32, FKEX_SEALED_SECRET) == FKEX_OK)
                    opened = 1;
                fkex_hpke_context_wipe(&ctx);
            }
    }
    return opened || fkex_reader_end(&r) != FKEX_OK;
}

/* committer seals a path (excluding joiner, if not -1, who installs its
 * path secret); every other member opens it. */
static void commit_path(int committer, const member *gone, int joiner)
{
    uint8_t info[40], want[32], got[32], info_hash[32];
    uint32_t exclude = joiner >= 0 ? m[joiner].priv.leaf : 0, nexclude = joiner >= 0;
    tree_joiner_secret js;
    fkex_writer w;
    fkex_rng_fill(&rng, info, sizeof info);
    fkex_writer_init(&w);
    CHECK_OK(tree_path_seal(&w, &m[committer].tree, &m[committer].priv, &exclude, nexclude, &js,
                            info, sizeof info, want, &rng));
    for (int i = 0; i < MAX_MEMBERS; i++) {
        if (!m[i].active || i == committer || i == joiner)
            continue;
        CHECK_OK(tree_path_open(&m[i].tree, &m[i].priv, m[committer].priv.leaf, w.buf, w.len,
                                &exclude, nexclude, info, sizeof info, got));
        CHECK(memcmp(got, want, 32) == 0);
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
        CHECK(!opens_any(gone, w.buf, w.len, info_hash));
    }
    fkex_writer_free(&w);
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
    fkex_writer w;
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
     * 3, is blank): one node, the root, with two seals (leaves 0 and 1) */
    fkex_writer_init(&w);
    CHECK_OK(tree_path_seal(&w, &m[2].tree, &m[2].priv, NULL, 0, NULL, info, sizeof info, secret,
                            &rng));
    CHECK(w.len == 32 + 4 + 32 + 4 + 2 * (32 + FKEX_SEALED_SECRET) && load32_be(w.buf + 32) == 1 &&
          load32_be(w.buf + 68) == 2);
    for (int i = 0; i < 2; i++)
        CHECK_OK(tree_path_open(&m[i].tree, &m[i].priv, 2, w.buf, w.len, NULL, 0, info,
                                sizeof info, secret));
    fkex_writer_free(&w);
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
    fkex_writer w;
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
        if (c == 4)
            continue;
        fkex_writer_init(&w);
        info[1] = (uint8_t)c;
        CHECK_OK(tree_path_seal(&w, &m[c].tree, &m[c].priv, NULL, 0, NULL, info, sizeof info,
                                secret, &rng));
        for (int i = 0; i < 12; i++)
            if (i != c)
                CHECK_OK(tree_path_open(&m[i].tree, &m[i].priv, m[c].priv.leaf, w.buf, w.len, NULL,
                                        0, info, sizeof info, secret));
        path_info(info_hash, info, sizeof info);
        CHECK(!opens_any(&thief, w.buf, w.len, info_hash));
        fkex_writer_free(&w);
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
        uint32_t s = tree_sibling(x), *res, n, half = (1u << tree_level(s)) - 1;
        CHECK_OK(tree_resolution(t, s, &res, &n));
        free(res);
        if (n == 0)
            continue;
        if (2 * reader + half >= s && 2 * reader <= s + half)
            return i;
        i++;
    }
    return UINT32_MAX;
}

/* A path changed in any byte a member checks is refused, and its tree
 * stays as it was; a change it does not check (a seal to another member,
 * the committer's leaf key) leaves it the true commit secret. Each public
 * key from its seal's node up is checked. */
static void test_tree_path_tampered(void)
{
    uint8_t info[8] = { 1 }, want[32], got[32], before[32], after[32];
    size_t refused = 0, off;
    fkex_writer w;
    test_rng(&rng, "tree tamper");
    memset(m, 0, sizeof m);
    for (int i = 0; i < 9; i++)
        join();
    commit_path(8, NULL, -1);
    uint32_t at = reader_at(&m[0].tree, 0, 5);
    fkex_writer_init(&w);
    CHECK_OK(tree_path_seal(&w, &m[0].tree, &m[0].priv, NULL, 0, NULL, info, sizeof info, want,
                            &rng));
    tree_hash(before, &m[5].tree);
    uint32_t nodes = load32_be(w.buf + 32), node = 0;
    size_t next_node = 36;
    for (size_t i = 0; i < w.len; i++) {
        ratchet_tree t;
        tree_private p = m[5].priv;
        int is_pk = 0;
        if (i == next_node && node < nodes) {   /* the start of a node's entry */
            is_pk = node >= at;
            off = next_node;
            next_node = off + 36 + (size_t)load32_be(w.buf + off + 32) * (32 + FKEX_SEALED_SECRET);
            node++;
        }
        CHECK_OK(tree_copy(&t, &m[5].tree));
        w.buf[i] ^= 0x20;
        if (tree_path_open(&t, &p, m[0].priv.leaf, w.buf, w.len, NULL, 0, info, sizeof info,
                           got) == FKEX_OK) {
            CHECK(!is_pk && memcmp(got, want, 32) == 0);
        } else {
            refused++;
            tree_hash(after, &t);
            CHECK(memcmp(before, after, 32) == 0);
        }
        w.buf[i] ^= 0x20;
        tree_free(&t);
        tree_private_wipe(&p);
    }
    CHECK(at != UINT32_MAX && node == nodes);
    CHECK(refused >= 4 + 32 + 32 + FKEX_SEALED_SECRET);
    /* and one byte more, or one less, is no path */
    {
        uint8_t *longer = malloc(w.len + 1);
        ratchet_tree t;
        tree_private p = m[5].priv;
        CHECK(longer != NULL);
        if (longer) {
            memcpy(longer, w.buf, w.len);
            longer[w.len] = 0;
            CHECK_OK(tree_copy(&t, &m[5].tree));
            CHECK_ERR(tree_path_open(&t, &p, 0, longer, w.len + 1, NULL, 0, info, sizeof info, got),
                      FKEX_ERR_BAD_ENCODING);
            CHECK_ERR(tree_path_open(&t, &p, 0, longer, w.len - 1, NULL, 0, info, sizeof info, got),
                      FKEX_ERR_BAD_ENCODING);
            tree_free(&t);
            free(longer);
        }
        tree_private_wipe(&p);
    }
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
}
