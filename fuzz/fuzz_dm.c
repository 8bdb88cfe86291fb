/*
 * fuzz/fuzz_dm.c: a direct conversation's frames (src/ibe/dm_session.c):
 * the hello and message decoder, then two open conversations (bob's side
 * and alice's) taking the input as a frame from the peer. A refused frame
 * must leave the state as it was; an accepted message's plaintext must
 * fit in its frame.
 *
 * FKEX_FUZZ_SEEDS=DIR writes a hello and a message of a real conversation.
 */
#include <stdio.h>
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "seeds.h"

static fkex_dm alice, bob;
static fkex_rng rng;
static uint8_t plain[FKEX_DM_FRAME_MAX + 64];
static uint8_t hello_b[FKEX_DM_HELLO_LEN];

static void deliver(fkex_dm *to, fkex_dm *back, const fkex_dm_out *out)
{
    for (size_t i = 0; i < out->n; i++) {
        fkex_dm_out next;
        if (out->frame[i][0] == FKEX_DM_HELLO && to == &alice)
            memcpy(hello_b, out->frame[i], FKEX_DM_HELLO_LEN);
        if (fkex_dm_receive(to, &next, plain, out->frame[i], out->len[i], &rng) != FKEX_OK)
            abort();
        deliver(back, to, &next);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    uint8_t seed[32] = { 7 };
    fkex_mpk *mpk, *old;
    fkex_msk *msk;
    fkex_key *ka, *kb;
    fkex_dm_out out;
    if (sodium_init() < 0)
        abort();
    fkex_rng_init_seed(&rng, seed);
    if (fkex_abe_setup(&old, &msk, "waters11", &rng) != FKEX_OK ||
        fkex_ibe_setup(&mpk, msk, &rng) != FKEX_OK ||
        fkex_abe_keygen(&ka, msk, NULL, 0, &rng) != FKEX_OK ||
        fkex_abe_keygen(&kb, msk, NULL, 0, &rng) != FKEX_OK ||
        fkex_ibe_keygen(ka, msk, "alice@example.org") != FKEX_OK ||
        fkex_ibe_keygen(kb, msk, "bob@example.org") != FKEX_OK ||
        fkex_dm_init(&alice, ka, "bob@example.org", &rng) != FKEX_OK ||
        fkex_dm_init(&bob, kb, "alice@example.org", &rng) != FKEX_OK ||
        fkex_dm_start(&alice, &out, &rng) != FKEX_OK)
        abort();
    deliver(&bob, &alice, &out);
    if (!fkex_dm_open(&alice) || !fkex_dm_open(&bob))
        abort();
    /* Open conversations no longer need the keys. */
    fkex_key_free(ka);
    fkex_key_free(kb);
    fkex_mpk_free(old);
    fkex_mpk_free(mpk);
    fkex_msk_free(msk);
    const char *dir = getenv("FKEX_FUZZ_SEEDS");
    if (dir) {
        uint8_t m[64 + FKEX_DM_MESSAGE_OVERHEAD];
        size_t n;
        fkex_dm tmp = alice;   /* a copy: alice's chain does not move */
        if (fkex_dm_send(&tmp, m, &n, (const uint8_t *)"hello bob", 9) != FKEX_OK)
            abort();
        write_seed(dir, "message", m, n);
        write_seed(dir, "hello", hello_b, sizeof hello_b);
    }
    return 0;
}

static void take(fkex_dm *dm, const uint8_t *data, size_t size)
{
    static fkex_dm before;
    fkex_dm_out out;
    before = *dm;
    fkex_err err = fkex_dm_receive(dm, &out, plain, data, size, &rng);
    before.recv.skipped_mk = dm->recv.skipped_mk;   /* allocated on a first skip, kept */
    if (err != FKEX_OK && memcmp(&before, dm, sizeof before) != 0)
        abort();
    if (err == FKEX_OK && out.message && out.plainlen >= size)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fkex_dm_msg m;
    if (fkex_dm_msg_decode(&m, data, size) == FKEX_OK &&
        (m.signed_len + 64 != size || (m.type == FKEX_DM_MESSAGE && m.header_len != 38)))
        abort();
    take(&bob, data, size);
    take(&alice, data, size);
    return 0;
}
