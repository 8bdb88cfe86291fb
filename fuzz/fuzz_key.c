/*
 * fuzz/fuzz_key.c: the user-key decoder (and, through it, the public
 * parameters decoder: every key embeds them), with and without the
 * identity-based sections, for both CP-ABE schemes. Whatever decodes must
 * re-encode to exactly the input: decoding accepts canonical bytes only.
 *
 * FKEX_FUZZ_SEEDS=DIR writes a seed corpus of valid keys into DIR.
 */
#include <stdio.h>
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "seeds.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    const char *dir = getenv("FKEX_FUZZ_SEEDS");
    if (dir) {
        static const char *const sets[][3] = {
            { "ONE", NULL, NULL }, { "ONE", "TWO", NULL }, { "dept:telematics", "year=5", NULL },
            { "A", "B", "expires=202612" },
        };
        static const char *const schemes[] = { "waters11", "fame" };
        for (size_t k = 0; k < FKEX_ARRAY_LEN(schemes); k++) {
            uint8_t seed[32] = { 1 };
            fkex_rng rng;
            fkex_mpk *mpk;
            fkex_msk *msk;
            /* Waters keeps the seed names it always had. */
            const char *prefix = k ? "fame-" : "";
            fkex_rng_init_seed(&rng, seed);
            if (fkex_abe_setup(&mpk, &msk, schemes[k], &rng) != FKEX_OK)
                abort();
            for (size_t i = 0; i < FKEX_ARRAY_LEN(sets); i++) {
                size_t n = sets[i][2] ? 3 : sets[i][1] ? 2 : 1;
                fkex_key *key;
                uint8_t *b;
                size_t len;
                char name[32];
                if (fkex_abe_keygen(&key, msk, sets[i], n, &rng) != FKEX_OK ||
                    fkex_key_encode(&b, &len, key) != FKEX_OK)
                    abort();
                snprintf(name, sizeof name, "%skey%zu", prefix, i);
                write_seed(dir, name, b, len);
                fkex_bytes_free(b, len);
                fkex_key_free(key);
            }
            /* Keys with an identity-based part (the authority then has IBE
             * parameters): with attributes and without. */
            fkex_mpk_free(mpk);
            if (fkex_ibe_setup(&mpk, msk, &rng) != FKEX_OK)
                abort();
            for (size_t i = 0; i < 2; i++) {
                fkex_key *key;
                uint8_t *b;
                size_t len;
                char name[32];
                if (fkex_abe_keygen(&key, msk, sets[1], i ? 2 : 0, &rng) != FKEX_OK ||
                    fkex_ibe_keygen(key, msk, i ? "alice@example.org" : "\xc3\xa9va") != FKEX_OK ||
                    fkex_key_encode(&b, &len, key) != FKEX_OK)
                    abort();
                snprintf(name, sizeof name, "%sibe-key%zu", prefix, i);
                write_seed(dir, name, b, len);
                fkex_bytes_free(b, len);
                fkex_key_free(key);
            }
            fkex_mpk_free(mpk);
            fkex_msk_free(msk);
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fkex_key *key;
    if (fkex_key_decode(&key, data, size) != FKEX_OK)
        return 0;
    uint8_t *again;
    size_t len;
    if (fkex_key_encode(&again, &len, key) != FKEX_OK || len != size ||
        memcmp(again, data, size) != 0)
        abort();
    fkex_bytes_free(again, len);
    fkex_key_free(key);
    return 0;
}
