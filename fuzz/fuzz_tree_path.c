/*
 * fuzz/fuzz_tree_path.c: an UpdatePath as a member reads it
 * (tree_path_open, src/gke/tree.c), in a fixed room of seven built from a
 * seed. Whatever is refused leaves the member's tree as it was; whatever
 * is taken leaves a tree whose leaves are where they were.
 *
 * FKEX_FUZZ_SEEDS=DIR writes a seed corpus: paths from several members.
 */
#include <stdlib.h>
#include "inner.h"
#include "gke/tree.h"
#include "seeds.h"

#define MEMBERS 7
#define READER 3

static ratchet_tree trees[MEMBERS];
static tree_private privs[MEMBERS];
static const uint8_t info[] = "fuzz epoch";

static void room(fkex_rng *rng)
{
    for (uint32_t i = 0; i < MEMBERS; i++) {
        fkex_leaf leaf;
        uint8_t sk[32];
        uint32_t index;
        fkex_rng_fill(rng, leaf.sig_pk, 32);
        fkex_hpke_keypair_generate(sk, leaf.hpke_pk, rng);
        for (uint32_t j = 0; j < i; j++)
            if (tree_add(&trees[j], &leaf, &index) != FKEX_OK)
                abort();
        if ((i ? tree_copy(&trees[i], &trees[0]) : tree_add(&trees[0], &leaf, &index)) != FKEX_OK)
            abort();
        privs[i].leaf = i;
        privs[i].nkeys = 1;
        privs[i].keys[0].node = 2 * i;
        memcpy(privs[i].keys[0].sk, sk, 32);
    }
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
    for (uint32_t c = 0; dir && c < MEMBERS; c += 2) {
        ratchet_tree t;
        tree_private p = privs[c];
        uint8_t secret[32];
        char name[32];
        fkex_writer w;
        fkex_writer_init(&w);
        fkex_writer_u8(&w, (uint8_t)c);   /* the committer, as the input's first byte */
        if (tree_copy(&t, &trees[c]) != FKEX_OK ||
            tree_path_seal(&w, &t, &p, NULL, 0, NULL, info, sizeof info, secret, &rng) != FKEX_OK)
            abort();
        snprintf(name, sizeof name, "path%u", (unsigned)c);
        write_seed(dir, name, w.buf, w.len);
        fkex_writer_free(&w);
        tree_free(&t);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t before[32], after[32], secret[32];
    ratchet_tree t;
    tree_private p = privs[READER];
    if (size < 1 || tree_copy(&t, &trees[READER]) != FKEX_OK)
        return 0;
    /* the first byte names the committer */
    uint32_t committer = data[0] % MEMBERS;
    tree_hash(before, &t);
    fkex_err err = tree_path_open(&t, &p, committer, data + 1, size - 1, NULL, 0, info,
                                  sizeof info, secret);
    tree_hash(after, &t);
    if (err != FKEX_OK && memcmp(before, after, 32) != 0)
        abort();
    if (t.nleaves != trees[READER].nleaves)
        abort();
    for (uint32_t i = 0; i < t.nleaves; i++)
        if (t.nodes[2 * i].present != trees[READER].nodes[2 * i].present)
            abort();
    tree_free(&t);
    tree_private_wipe(&p);
    return 0;
}
