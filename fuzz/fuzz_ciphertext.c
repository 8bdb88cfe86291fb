/*
 * fuzz/fuzz_ciphertext.c: the ciphertext decoder, then decapsulation with
 * a fixed authority's key, one authority per CP-ABE scheme. Decoded bytes
 * must be exactly the input, and a ciphertext that decapsulates under
 * IND-CCA must be the one that was made.
 *
 * The authority is deterministic, so FKEX_FUZZ_SEEDS=DIR can write seed
 * ciphertexts that reach decapsulation.
 */
#include <stdio.h>
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "seeds.h"

static const char *const schemes[] = { "waters11", "fame" };
static fkex_key *keys[2];

static const char *const seeds[] = {
    "(ONE or THREE) and (TWO or FOUR)", "ONE", "2 of (ONE, TWO, THREE)",
    "ONE and year >= 5", "FIVE or (ONE and not_mine)",
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *attrs[] = { "ONE", "TWO", "year=7" };
    const char *dir = getenv("FKEX_FUZZ_SEEDS");
    if (sodium_init() < 0)
        abort();
    for (size_t s = 0; s < FKEX_ARRAY_LEN(schemes); s++) {
        uint8_t seed[32] = { 2 };
        fkex_rng rng;
        fkex_mpk *mpk;
        fkex_msk *msk;
        fkex_rng_init_seed(&rng, seed);
        if (fkex_abe_setup(&mpk, &msk, schemes[s], &rng) != FKEX_OK ||
            fkex_abe_keygen(&keys[s], msk, attrs, 3, &rng) != FKEX_OK)
            abort();
        for (size_t i = 0; dir && i < FKEX_ARRAY_LEN(seeds); i++) {
            for (int mode = FKEX_ABE_CPA; mode <= FKEX_ABE_CCA; mode++) {
                fkex_policy *p;
                fkex_policy_error perr;
                fkex_abe_ct *ct;
                uint8_t k[32];
                const uint8_t *b;
                size_t len;
                char name[32];
                if (fkex_policy_parse(&p, seeds[i], strlen(seeds[i]), &perr) != FKEX_OK ||
                    fkex_abe_encap(k, &ct, mpk, p, (fkex_abe_mode)mode, &rng) != FKEX_OK)
                    abort();
                fkex_abe_ct_bytes(&b, &len, ct);
                /* Waters keeps the seed names it always had. */
                snprintf(name, sizeof name, "%sct%zu-%s", s ? "fame-" : "", i,
                         mode == FKEX_ABE_CPA ? "cpa" : "cca");
                write_seed(dir, name, b, len);
                fkex_abe_ct_free(ct);
                fkex_policy_free(p);
            }
        }
        fkex_mpk_free(mpk);
        fkex_msk_free(msk);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fkex_abe_ct *ct;
    const uint8_t *b;
    size_t len;
    uint8_t k[32];
    if (fkex_abe_ct_decode(&ct, data, size) != FKEX_OK)
        return 0;
    fkex_abe_ct_bytes(&b, &len, ct);
    if (len != size || memcmp(b, data, size) != 0)
        abort();
    for (size_t s = 0; s < FKEX_ARRAY_LEN(keys); s++) {
        fkex_err err = fkex_abe_decap(k, keys[s], ct, fkex_abe_ct_mode(ct));
        if (err != FKEX_OK && err != FKEX_ERR_POLICY_UNSATISFIED &&
            err != FKEX_ERR_WRONG_AUTHORITY && err != FKEX_ERR_AUTHENTICATION)
            abort();
    }
    fkex_abe_ct_free(ct);
    return 0;
}
