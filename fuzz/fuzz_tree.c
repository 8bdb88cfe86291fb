/*
 * fuzz/fuzz_tree.c: the ratchet tree's inputs from the network
 * (src/gke/tree.c), on a fixed room of seven built from a seed:
 *   first byte 0: a Welcome's public tree (tree_decode) for n leaves, n
 *     the second byte (1 to 255); what decodes re-encodes to the same
 *     bytes and hashes;
 *   first byte 1: a commit's path as member 3 takes it: committer (a
 *     byte) ‖ its new leaf key ‖ u8 k ‖ k node keys ‖ a slice
 *     (tree_path_merge, then tree_path_open); a path that is refused
 *     leaves the member's keys as they were, and one that is taken keeps
 *     the leaves where they were.
 *
 * FKEX_FUZZ_SEEDS=DIR writes a seed corpus: trees of several sizes and
 * real paths from several committers.
 */
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "gke/tree.h"
#include "seeds.h"

#define MEMBERS 7
#define READER 3

static ratchet_tree trees[MEMBERS];
static tree_private privs[MEMBERS];
static fkex_leaf leaves[255];
static const uint8_t info[] = "fuzz epoch";

static void room(fkex_rng *rng)
{
    for (uint32_t i = 0; i < MEMBERS; i++) {
        uint8_t sk[32], pk[32];
        uint32_t index;
        fkex_hpke_keypair_generate(sk, pk, rng);
        for (uint32_t j = 0; j < i; j++)
            if (tree_add(&trees[j], pk, &index) != FKEX_OK)
                abort();
        if ((i ? tree_copy(&trees[i], &trees[0]) : tree_add(&trees[0], pk, &index)) != FKEX_OK)
            abort();
        privs[i].leaf = i;
        privs[i].nkeys = 1;
        privs[i].keys[0].node = 2 * i;
        memcpy(privs[i].keys[0].sk, sk, 32);
    }
    for (uint32_t i = 0; i < 255; i++)
        fkex_rng_fill(rng, (uint8_t *)&leaves[i], sizeof leaves[i]);
}

/* committer's path and reader's slice of it, as the input's second form. */
static void path_seed(const char *dir, uint32_t committer, fkex_rng *rng)
{
    ratchet_tree t;
    tree_update u;
    fkex_writer w, s;
    char name[32];
    if (tree_copy(&t, &trees[committer]) != FKEX_OK ||
        tree_path_create(&u, &t, committer, rng) != FKEX_OK ||
        tree_path_merge(&t, committer, u.leaf_pk, (const uint8_t *)u.pks, u.m) != FKEX_OK)
        abort();
    fkex_writer_init(&s);
    if (tree_path_seal(&s, &t, &u, NULL, 0, NULL, info, sizeof info, rng) != FKEX_OK)
        abort();
    fkex_rmsg_commit c = { .nslices = load32_be(s.buf), .slices = s.buf + 4 };
    const uint8_t *slice = fkex_rmsg_commit_slice(&c, READER);
    fkex_writer_init(&w);
    fkex_writer_u8(&w, 1);
    fkex_writer_u8(&w, (uint8_t)committer);
    fkex_writer_put(&w, u.leaf_pk, 32);
    fkex_writer_u8(&w, (uint8_t)u.m);
    fkex_writer_put(&w, u.pks, 32 * (size_t)u.m);
    if (slice)
        fkex_writer_put(&w, slice, FKEX_SLICE_BYTES);
    snprintf(name, sizeof name, "path%u", (unsigned)committer);
    write_seed(dir, name, w.buf, w.len);
    fkex_writer_free(&w);
    fkex_writer_free(&s);
    tree_update_wipe(&u);
    tree_free(&t);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    uint8_t seed[32] = { 7 };
    fkex_rng rng;
    fkex_rng_init_seed(&rng, seed);
    room(&rng);
    const char *dir = getenv("FKEX_FUZZ_SEEDS");
    for (uint32_t c = 0; dir && c < MEMBERS; c += 2)
        if (c != READER)
            path_seed(dir, c, &rng);
    for (uint32_t c = 0; dir && c < MEMBERS; c += 3) {
        fkex_writer w;
        char name[32];
        fkex_writer_init(&w);
        fkex_writer_u8(&w, 0);
        fkex_writer_u8(&w, MEMBERS);
        tree_encode_parents(&w, &trees[c]);
        snprintf(name, sizeof name, "tree%u", (unsigned)c);
        write_seed(dir, name, w.buf, w.len);
        fkex_writer_free(&w);
    }
    return 0;
}

static void welcome_tree(const uint8_t *data, size_t size)
{
    ratchet_tree t;
    uint8_t h[32];
    uint32_t n = data[0] ? data[0] : 1;
    if (tree_decode(&t, leaves, n, data + 1, size - 1) != FKEX_OK)
        return;
    fkex_writer w;
    fkex_writer_init(&w);
    tree_encode_parents(&w, &t);
    if (w.len != size - 1 || (w.len && memcmp(w.buf, data + 1, w.len) != 0))
        abort();   /* canonical: one encoding per tree */
    tree_hash(h, &t);
    fkex_writer_free(&w);
    tree_free(&t);
}

static void path(const uint8_t *data, size_t size)
{
    uint8_t secret[32];
    ratchet_tree t;
    tree_private p = privs[READER];
    uint32_t committer = data[0] % MEMBERS, k;
    if (size < 1 + 32 + 1)
        return;
    k = data[33];
    if (size != 34 + 32 * (size_t)k + FKEX_SLICE_BYTES || tree_copy(&t, &trees[READER]) != FKEX_OK)
        return;
    if (tree_path_merge(&t, committer, data + 1, data + 34, k) == FKEX_OK &&
        tree_path_open(&p, &t, committer, data + 34 + 32 * (size_t)k, info, sizeof info,
                       secret) != FKEX_OK &&
        memcmp(&p, &privs[READER], sizeof p) != 0)
        abort();
    if (t.nleaves != trees[READER].nleaves)
        abort();
    for (uint32_t i = 0; i < t.nleaves; i++)
        if (t.nodes[2 * i].present != trees[READER].nodes[2 * i].present)
            abort();
    tree_free(&t);
    tree_private_wipe(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    if (data[0] == 0)
        welcome_tree(data + 1, size - 1);
    else if (data[0] == 1)
        path(data + 1, size - 1);
    return 0;
}
