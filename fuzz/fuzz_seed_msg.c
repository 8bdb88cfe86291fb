/*
 * fuzz/fuzz_seed_msg.c: the seed-mode message decoder (wire/seed_msg.h).
 * Whatever decodes must re-encode to exactly the input, and the header
 * peek must agree with the full decode. An Application is also opened
 * (gke/seed_app.c) under a fixed key: it must fail unless it decoded, and
 * never write content without a valid tag.
 *
 * The authority is deterministic, so FKEX_FUZZ_SEEDS=DIR writes seed
 * messages of every type whose ciphertexts are valid, which lets the
 * fuzzer start past the ciphertext decoder.
 */
#include <stdio.h>
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "seeds.h"

static const char *const policies[] = {
    "(ONE or THREE) and (TWO or FOUR)", "ONE", "2 of (ONE, TWO, THREE)",
};

static void put(const char *dir, const char *name, uint8_t *bytes, size_t len)
{
    write_seed(dir, name, bytes, len);
    free(bytes);
}

static void write_seeds(const char *dir)
{
    uint8_t seed[32] = { 3 }, room[32], k[32], *b;
    size_t len;
    fkex_rng rng;
    fkex_mpk *mpk;
    fkex_msk *msk;
    fkex_seed_entry e[3];

    fkex_rng_init_seed(&rng, seed);
    fkex_rng_fill(&rng, room, sizeof room);
    if (fkex_abe_setup(&mpk, &msk, "waters11", &rng) != FKEX_OK)
        abort();
    for (size_t i = 0; i < FKEX_ARRAY_LEN(policies); i++) {
        fkex_policy *p;
        if (fkex_policy_parse(&p, policies[i], strlen(policies[i]), NULL) != FKEX_OK ||
            fkex_abe_encap(k, &e[i].ct, mpk, p, FKEX_ABE_CCA, &rng) != FKEX_OK)
            abort();
        e[i].index = (uint32_t)(2 * i + 1);
        fkex_policy_free(p);
    }
    if (fkex_seed_encap_encode(&b, &len, room, 0, FKEX_SEED_NEW, e[0].ct) != FKEX_OK)
        abort();
    put(dir, "encap-join", b, len);
    if (fkex_seed_encap_encode(&b, &len, room, 7, 3, e[1].ct) != FKEX_OK)
        abort();
    put(dir, "encap-rekey", b, len);
    if (fkex_seed_keyset_encode(&b, &len, room, 1, e, 1) != FKEX_OK)
        abort();
    put(dir, "keyset-1", b, len);
    if (fkex_seed_keyset_encode(&b, &len, room, 9, e, 3) != FKEX_OK)
        abort();
    put(dir, "keyset-3", b, len);
    if (fkex_seed_leave_encode(&b, &len, room, 4, 5) != FKEX_OK)
        abort();
    put(dir, "leave", b, len);
    if (fkex_seed_app_seal(&b, &len, k, room, 4, 2, (const uint8_t *)"hello", 5, &rng) != FKEX_OK)
        abort();
    put(dir, "app", b, len);
    if (fkex_seed_app_seal(&b, &len, k, room, 9, 0, NULL, 0, &rng) != FKEX_OK)
        abort();
    put(dir, "app-empty", b, len);
    for (size_t i = 0; i < FKEX_ARRAY_LEN(e); i++)
        fkex_abe_ct_free(e[i].ct);
    fkex_mpk_free(mpk);
    fkex_msk_free(msk);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    const char *dir = getenv("FKEX_FUZZ_SEEDS");
    if (dir)
        write_seeds(dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fkex_seed_msg m;
    uint8_t type, room[32], *again;
    uint64_t epoch;
    size_t len;
    if (fkex_seed_msg_decode(&m, data, size) != FKEX_OK) {
        if (m.ct || m.entries || m.count)
            abort();
        return 0;
    }
    if (fkex_seed_msg_peek(&type, room, &epoch, data, size) != FKEX_OK || type != m.type ||
        epoch != m.epoch || memcmp(room, m.room_id, 32) != 0)
        abort();
    if (fkex_seed_msg_encode(&again, &len, &m) != FKEX_OK)
        abort();
    if (len != size || memcmp(again, data, size) != 0)
        abort();
    free(again);
    if (m.type == FKEX_SEED_MSG_APP) {
        static const uint8_t key[32] = { 7 };
        fkex_seed_msg h;
        uint8_t *plain;
        size_t plen;
        fkex_err err = fkex_seed_app_open(&plain, &plen, &h, key, m.room_id, data, size);
        if (err == FKEX_OK) {
            if (h.index != m.index || plen + FKEX_SEED_APP_TAG != m.boxlen)
                abort();
            free(plain);
            fkex_seed_msg_clear(&h);
        } else if (plain || h.box || err != FKEX_ERR_AUTHENTICATION) {
            abort();
        }
    }
    fkex_seed_msg_clear(&m);
    return 0;
}
