/*
 * fuzz/fuzz_enroll.c: the enrolment frames as the authority reads them
 * (HELLO, REQUEST) and as a client reads them (KEY, REPLY, REFUSED), with
 * fixed keys so that valid requests open and the HPKE path is reached.
 *
 * FKEX_FUZZ_SEEDS=DIR writes a seed corpus: a HELLO, a KEY, REQUESTs, a
 * REFUSED and a REPLY.
 */
#include <stdio.h>
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "kms/kms.h"
#include "seeds.h"

static uint8_t sk[32], pk[32];
static fkex_enrol_client client;   /* the client that sent the seed request */

static void setup(void)
{
    uint8_t ikm[32] = { 3 }, seed[32] = { 4 };
    fkex_token t;
    fkex_rng rng;
    uint8_t req[FKEX_ENROL_REQUEST_BYTES];
    if (fkex_hpke_keypair_derive(sk, pk, ikm, sizeof ikm) != FKEX_OK)
        abort();
    memset(&t, 0, sizeof t);
    strcpy(t.addr, "127.0.0.1:7700");
    fkex_enrol_pin(t.pin, pk);
    memset(t.id, 5, sizeof t.id);
    memset(t.secret, 6, sizeof t.secret);
    fkex_rng_init_seed(&rng, seed);
    if (fkex_enrol_request_seal(req, &client, pk, &t, &rng) != FKEX_OK)
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    setup();
    const char *dir = getenv("FKEX_FUZZ_SEEDS");
    if (dir) {
        uint8_t hello[FKEX_ENROL_HEADER], key[FKEX_ENROL_HEADER + 32], refused[FKEX_ENROL_HEADER + 1];
        uint8_t req[FKEX_ENROL_REQUEST_BYTES], seed[32] = { 4 }, *reply;
        size_t replylen;
        fkex_enrol_client c;
        fkex_enrol_req r;
        fkex_token t;
        fkex_rng rng;
        fkex_enrol_hello(hello);
        write_seed(dir, "hello", hello, sizeof hello);
        fkex_enrol_key_encode(key, pk);
        write_seed(dir, "key", key, sizeof key);
        fkex_enrol_refusal(refused, FKEX_ENROL_USED);
        write_seed(dir, "refused", refused, sizeof refused);
        /* the same request as setup's (same seed), so its reply opens */
        memset(&t, 0, sizeof t);
        strcpy(t.addr, "127.0.0.1:7700");
        fkex_enrol_pin(t.pin, pk);
        memset(t.id, 5, sizeof t.id);
        memset(t.secret, 6, sizeof t.secret);
        fkex_rng_init_seed(&rng, seed);
        if (fkex_enrol_request_seal(req, &c, pk, &t, &rng) != FKEX_OK ||
            fkex_enrol_request_open(&r, req, sizeof req, sk, pk) != FKEX_OK)
            abort();
        write_seed(dir, "request", req, sizeof req);
        static const uint8_t user_key[] = "FKEX stand-in for a user key";
        if (fkex_enrol_reply_seal(&reply, &replylen, &r, FKEX_ENROL_ISSUED, user_key,
                                  sizeof user_key, &rng) != FKEX_OK)
            abort();
        write_seed(dir, "reply-issued", reply, replylen);
        free(reply);
        if (fkex_enrol_reply_seal(&reply, &replylen, &r, FKEX_ENROL_EXPIRED, NULL, 0, &rng) != FKEX_OK)
            abort();
        write_seed(dir, "reply-expired", reply, replylen);
        free(reply);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fkex_enrol_req r;
    fkex_enrol_status st;
    uint8_t *key = NULL, got[32];
    size_t keylen = 0;
    if (fkex_enrol_request_open(&r, data, size, sk, pk) == FKEX_OK) {
        if (r.type != FKEX_ENROL_HELLO && r.type != FKEX_ENROL_REQUEST)
            abort();
        fkex_enrol_req_wipe(&r);
    }
    if (fkex_enrol_key_decode(got, data, size) == FKEX_OK && size != FKEX_ENROL_HEADER + 32)
        abort();
    if (fkex_enrol_reply_open(&st, &key, &keylen, &client, data, size) == FKEX_OK) {
        if ((st == FKEX_ENROL_ISSUED) != (key != NULL))
            abort();
        fkex_bytes_free(key, keylen);
    }
    return 0;
}
