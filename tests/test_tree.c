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
    }
    return ok;
}

static void join(void)
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

/* committer seals a path; every other member opens it. */
static void commit_path(int committer, const member *gone)
{
    uint8_t info[40], want[32], got[32], info_hash[32];
    fkex_writer w;
    fkex_rng_fill(&rng, info, sizeof info);
    fkex_writer_init(&w);
    CHECK_OK(tree_path_seal(&w, &m[committer].tree, &m[committer].priv, NULL, 0, info,
                            sizeof info, want, &rng));
    for (int i = 0; i < MAX_MEMBERS; i++) {
        if (!m[i].active || i == committer)
            continue;
        fkex_reader r;
        fkex_reader_init(&r, w.buf, w.len);
        CHECK_OK(tree_path_open(&m[i].tree, &m[i].priv, m[committer].priv.leaf, &r, NULL, 0, info,
                                sizeof info, got));
        CHECK_OK(fkex_reader_end(&r));
        CHECK(memcmp(got, want, 32) == 0);
    }
    if (gone) {
        path_info(info_hash, info, sizeof info);
        CHECK(!opens_any(gone, w.buf, w.len, info_hash));
    }
    fkex_writer_free(&w);
}

static void leave(void)
{
    int victim = random_active(-1), committer = random_active(victim);
    member gone = m[victim];   /* its state as it was: what a thief of it has */
    for (int i = 0; i < MAX_MEMBERS; i++)
        if (m[i].active)
            tree_remove(&m[i].tree, m[victim].priv.leaf);
    for (int i = 0; i < MAX_MEMBERS; i++)
        if (m[i].active && i != victim)
            tree_private_prune(&m[i].priv, &m[i].tree);
    m[victim].active = 0;
    commit_path(committer, &gone);
    tree_free(&m[victim].tree);
    tree_private_wipe(&m[victim].priv);
}

/* Random joins, leaves and updates, checking agreement after each. */
static void test_tree_property(void)
{
    int joins = 0, leaves = 0, updates = 0, peak = 0;
    test_rng(&rng, "tree property");
    memset(m, 0, sizeof m);
    join();
    join();
    for (int step = 0; step < STEPS; step++) {
        uint32_t r = pick(10), n = (uint32_t)members();
        if ((r < 5 || n <= 2) && n < MAX_MEMBERS) {
            join();
            joins++;
        } else if (r < 8) {
            leave();
            leaves++;
        } else {
            commit_path(random_active(-1), NULL);
            updates++;
        }
        if (!agree()) {
            CHECK(!"every member holds the same tree");
            break;
        }
        if (members() > peak)
            peak = members();
    }
    CHECK(joins > 100 && leaves > 50 && updates > 50 && peak >= 100);
    for (int i = 0; i < MAX_MEMBERS; i++) {
        tree_free(&m[i].tree);
        tree_private_wipe(&m[i].priv);
    }
}

/* A path changed in any byte a member checks is refused, and its tree
 * stays as it was; a change it does not check (a seal to another member,
 * the committer's leaf key) leaves it the true commit secret. */
static void test_tree_path_tampered(void)
{
    uint8_t info[8] = { 1 }, want[32], got[32], before[32], after[32];
    size_t refused = 0;
    fkex_writer w;
    test_rng(&rng, "tree tamper");
    memset(m, 0, sizeof m);
    for (int i = 0; i < 9; i++)
        join();
    fkex_writer_init(&w);
    CHECK_OK(tree_path_seal(&w, &m[0].tree, &m[0].priv, NULL, 0, info, sizeof info, want, &rng));
    tree_hash(before, &m[5].tree);
    for (size_t i = 0; i < w.len; i++) {
        ratchet_tree t;
        tree_private p = m[5].priv;
        fkex_reader r;
        CHECK_OK(tree_copy(&t, &m[5].tree));
        w.buf[i] ^= 0x20;
        fkex_reader_init(&r, w.buf, w.len);
        if (tree_path_open(&t, &p, m[0].priv.leaf, &r, NULL, 0, info, sizeof info, got) ==
            FKEX_OK) {
            CHECK(memcmp(got, want, 32) == 0);
        } else {
            refused++;
            tree_hash(after, &t);
            CHECK(memcmp(before, after, 32) == 0);
        }
        w.buf[i] ^= 0x20;
        tree_free(&t);
        tree_private_wipe(&p);
    }
    /* what member 5 checks: the counts, the public keys from its node up,
     * and its own seal (the committer's leaf key is the commit signature's
     * to vouch for, and a changed one changes the tree hash) */
    CHECK(refused >= 4 + 32 + 32 + FKEX_SEALED_SECRET);
    fkex_writer_free(&w);
    for (int i = 0; i < MAX_MEMBERS; i++) {
        tree_free(&m[i].tree);
        tree_private_wipe(&m[i].priv);
    }
}

void suite_tree(void)
{
    RUN(test_tree_math);
    RUN(test_tree_property);
    RUN(test_tree_path_tampered);
}
