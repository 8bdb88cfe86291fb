/*
 * fuzz/fuzz_ibe_msg.c: IBAKE's message decoders (src/ibe/ibake_msg.c):
 * the outer message, the payload (the first input byte picks the type it
 * is read as), and a responder's and an initiator's state machine taking
 * the input. Whatever decodes must re-encode to exactly the input; a
 * refused message must leave the state as it was.
 *
 * FKEX_FUZZ_SEEDS=DIR writes the three messages of a real exchange, and
 * payloads of each type.
 */
#include <stdio.h>
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "seeds.h"

static fkex_key *alice, *bob;
static fkex_ibake waiting_a;        /* alice, after sending message 1 */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    uint8_t seed[32] = { 6 };
    fkex_rng rng;
    fkex_mpk *mpk, *plain;
    fkex_msk *msk;
    fkex_ibake b;
    uint8_t m[3][FKEX_IBAKE_MSG_MAX], none[FKEX_IBAKE_MSG_MAX];
    size_t n[3], n0;
    if (sodium_init() < 0)
        abort();
    fkex_rng_init_seed(&rng, seed);
    if (fkex_abe_setup(&plain, &msk, "waters11", &rng) != FKEX_OK ||
        fkex_ibe_setup(&mpk, msk, &rng) != FKEX_OK ||
        fkex_abe_keygen(&alice, msk, NULL, 0, &rng) != FKEX_OK ||
        fkex_abe_keygen(&bob, msk, NULL, 0, &rng) != FKEX_OK ||
        fkex_ibe_keygen(alice, msk, "alice@example.org") != FKEX_OK ||
        fkex_ibe_keygen(bob, msk, "bob@example.org") != FKEX_OK)
        abort();
    if (fkex_ibake_init(&waiting_a, FKEX_IBAKE_INITIATOR, alice, "bob@example.org") != FKEX_OK ||
        fkex_ibake_start(&waiting_a, m[0], &n[0], &rng) != FKEX_OK ||
        fkex_ibake_init(&b, FKEX_IBAKE_RESPONDER, bob, NULL) != FKEX_OK ||
        fkex_ibake_receive(&b, m[1], &n[1], m[0], n[0], &rng) != FKEX_OK)
        abort();
    {
        fkex_ibake a = waiting_a;
        if (fkex_ibake_receive(&a, m[2], &n[2], m[1], n[1], &rng) != FKEX_OK ||
            fkex_ibake_receive(&b, none, &n0, m[2], n[2], &rng) != FKEX_OK)
            abort();
    }
    const char *dir = getenv("FKEX_FUZZ_SEEDS");
    for (int i = 0; dir && i < 3; i++) {
        fkex_ibake_payload p;
        uint8_t pt[1 + FKEX_IBAKE_PAYLOAD_MAX];
        char name[32];
        snprintf(name, sizeof name, "m%d", i + 1);
        write_seed(dir, name, m[i], n[i]);
        memset(&p, 0, sizeof p);
        strcpy(p.sender, "alice@example.org");
        p.sender_len = 17;
        strcpy(p.recipient, "bob@example.org");
        p.recipient_len = 15;
        p.share[0][0] = 9;
        p.share[1][0] = 9;
        pt[0] = (uint8_t)(0x80 | (i + 1));          /* read as a payload of type i + 1 */
        size_t len = fkex_ibake_payload_encode(pt + 1, (uint8_t)(i + 1), &p);
        snprintf(name, sizeof name, "payload%d", i + 1);
        write_seed(dir, name, pt, len + 1);
    }
    fkex_mpk_free(plain);
    fkex_mpk_free(mpk);
    fkex_msk_free(msk);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fkex_ibake st, before;
    uint8_t out[FKEX_IBAKE_MSG_MAX];
    size_t n;
    uint8_t seed[32] = { 7 };
    fkex_rng rng;

    /* A leading byte with the top bit set: the rest is a payload of type
     * (byte & 3). */
    if (size > 0 && (data[0] & 0x80)) {
        fkex_ibake_payload p;
        uint8_t type = data[0] & 3, again[FKEX_IBAKE_PAYLOAD_MAX];
        if (fkex_ibake_payload_decode(&p, type, data + 1, size - 1) == FKEX_OK) {
            size_t len = fkex_ibake_payload_encode(again, type, &p);
            if (len != size - 1 || memcmp(again, data + 1, len) != 0)
                abort();
        }
        return 0;
    }
    {
        fkex_ibake_msg m;
        if (fkex_ibake_msg_decode(&m, data, size) == FKEX_OK) {
            uint8_t again[FKEX_IBAKE_MSG_MAX];
            size_t head = fkex_ibake_msg_head(again, m.type, m.ct, m.ctlen);
            if (head != m.aadlen || head + 2 + m.sealedlen != size ||
                memcmp(again, data, head) != 0)
                abort();
        }
    }
    fkex_rng_init_seed(&rng, seed);
    /* bob waiting for message 1, alice for message 2 */
    if (fkex_ibake_init(&st, FKEX_IBAKE_RESPONDER, bob, NULL) != FKEX_OK)
        abort();
    before = st;
    if (fkex_ibake_receive(&st, out, &n, data, size, &rng) != FKEX_OK &&
        memcmp(&before, &st, sizeof st) != 0)
        abort();
    st = waiting_a;
    before = st;
    if (fkex_ibake_receive(&st, out, &n, data, size, &rng) != FKEX_OK &&
        memcmp(&before, &st, sizeof st) != 0)
        abort();
    return 0;
}
