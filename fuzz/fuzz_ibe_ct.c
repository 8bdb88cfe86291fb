/*
 * fuzz/fuzz_ibe_ct.c: the identity-based ciphertext decoder (src/ibe/ct.c),
 * then decapsulation with a fixed authority's key for alice@example.org.
 * Decoded bytes must re-encode to exactly the input, and a ciphertext that
 * decapsulates must be one that was made for alice.
 *
 * FKEX_FUZZ_SEEDS=DIR writes seed ciphertexts that reach decapsulation.
 */
#include <stdio.h>
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "seeds.h"

static fkex_key *key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static const char *const ids[] = { "alice@example.org", "bob@example.org", "\xc3\xa9va", "x" };
    uint8_t seed[32] = { 5 };
    fkex_rng rng;
    fkex_mpk *mpk, *plain;
    fkex_msk *msk;
    if (sodium_init() < 0)
        abort();
    fkex_rng_init_seed(&rng, seed);
    if (fkex_abe_setup(&plain, &msk, "waters11", &rng) != FKEX_OK ||
        fkex_ibe_setup(&mpk, msk, &rng) != FKEX_OK ||
        fkex_abe_keygen(&key, msk, NULL, 0, &rng) != FKEX_OK ||
        fkex_ibe_keygen(key, msk, "alice@example.org") != FKEX_OK)
        abort();
    const char *dir = getenv("FKEX_FUZZ_SEEDS");
    for (size_t i = 0; dir && i < FKEX_ARRAY_LEN(ids); i++) {
        fkex_ibe_ct *ct;
        uint8_t k[32];
        const uint8_t *b;
        size_t len;
        char name[32];
        if (fkex_ibe_encap(k, &ct, mpk, ids[i], &rng) != FKEX_OK)
            abort();
        fkex_ibe_ct_bytes(&b, &len, ct);
        snprintf(name, sizeof name, "ct%zu", i);
        write_seed(dir, name, b, len);
        fkex_ibe_ct_free(ct);
    }
    fkex_mpk_free(plain);
    fkex_mpk_free(mpk);
    fkex_msk_free(msk);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fkex_ibe_ct *ct;
    fkex_ibe_ct again;
    const uint8_t *b;
    size_t len;
    uint8_t k[32];
    if (fkex_ibe_ct_decode(&ct, data, size) != FKEX_OK)
        return 0;
    fkex_ibe_ct_bytes(&b, &len, ct);
    if (len != size || memcmp(b, data, size) != 0)
        abort();
    /* encode(decode(x)) = x: the fields alone rebuild the bytes. */
    again = *ct;
    memset(again.bytes, 0, sizeof again.bytes);
    fkex_ibe_ct_serialize(&again);
    if (again.len != size || memcmp(again.bytes, data, size) != 0)
        abort();
    fkex_err err = fkex_ibe_decap(k, key, ct);
    if (err != FKEX_OK && err != FKEX_ERR_WRONG_IDENTITY && err != FKEX_ERR_WRONG_AUTHORITY &&
        err != FKEX_ERR_AUTHENTICATION)
        abort();
    if (err == FKEX_OK && strcmp(fkex_ibe_ct_identity(ct), "alice@example.org") != 0)
        abort();
    fkex_ibe_ct_free(ct);
    return 0;
}
