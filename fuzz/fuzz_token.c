/*
 * fuzz/fuzz_token.c: the enrolment-token decoder. Whatever decodes must
 * re-encode to exactly the input (less surrounding white space): the
 * decoder accepts canonical tokens only.
 *
 * FKEX_FUZZ_SEEDS=DIR writes a seed corpus of valid tokens into DIR.
 */
#include <stdio.h>
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "kms/kms.h"
#include "seeds.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    const char *dir = getenv("FKEX_FUZZ_SEEDS");
    if (dir) {
        static const char *const addrs[] = {
            "127.0.0.1:7700", "[::1]:1", "kms.example.org:65535",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8@127.0.0.1:7700",
            "kms.example.org@[::1]:7700",
        };
        uint8_t seed[32] = { 2 };
        fkex_rng rng;
        fkex_rng_init_seed(&rng, seed);
        for (size_t i = 0; i < FKEX_ARRAY_LEN(addrs); i++) {
            fkex_token t;
            char text[FKEX_TOKEN_TEXT_MAX], name[32];
            memset(&t, 0, sizeof t);
            strcpy(t.addr, addrs[i]);
            fkex_rng_fill(&rng, t.pin, 32);
            fkex_rng_fill(&rng, t.id, sizeof t.id);
            fkex_rng_fill(&rng, t.secret, sizeof t.secret);
            t.expires_at = 1700000000u + 86400u * (uint64_t)i;
            if (fkex_token_encode(text, sizeof text, &t) != FKEX_OK)
                abort();
            snprintf(name, sizeof name, "token%zu", i);
            write_seed(dir, name, (const uint8_t *)text, strlen(text));
        }
    }
    return 0;
}

static int is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fkex_token t;
    char again[FKEX_TOKEN_TEXT_MAX];
    size_t start = 0, end = size;
    if (fkex_token_decode(&t, (const char *)data, size) != FKEX_OK)
        return 0;
    while (start < end && is_space(data[start]))
        start++;
    while (end > start && is_space(data[end - 1]))
        end--;
    if (fkex_token_encode(again, sizeof again, &t) != FKEX_OK || strlen(again) != end - start ||
        memcmp(again, data + start, end - start) != 0)
        abort();
    return 0;
}
