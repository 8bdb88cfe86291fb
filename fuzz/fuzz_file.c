/*
 * fuzz/fuzz_file.c: encrypted files (fkex/file.h) read through a source
 * that hands out bytes a few at a time: armor detection, the ciphertext
 * object, then unlocking with a fixed authority's key and the payload.
 * Whatever the input, the calls return and nothing leaks; a file that
 * decrypts must be one the authority's key opens.
 *
 * The authority is deterministic, so FKEX_FUZZ_SEEDS=DIR writes seed
 * files, binary and armored, under a policy and to an identity.
 */
#include <stdio.h>
#include <stdlib.h>
#include "file/file.h"
#include "seeds.h"

static fkex_key *key;
static fkex_mpk *mpk;

typedef struct {
    const uint8_t *p;
    size_t len, off;
} bytes_in;

static fkex_err in_read(fkex_source *s, uint8_t *buf, size_t cap, size_t *got)
{
    bytes_in *b = s->ctx;
    size_t n = b->len - b->off < cap ? b->len - b->off : cap;
    if (n > 5)
        n = 5;   /* short reads, as a pipe gives */
    memcpy(buf, b->p + b->off, n);
    b->off += n;
    *got = n;
    return FKEX_OK;
}

static void write_file(const char *dir, const char *name, const fkex_policy *p, int armor,
                       fkex_rng *rng)
{
    static const uint8_t plain[] = "a file for the fuzzer\n";
    bytes_in in = { plain, sizeof plain - 1, 0 };
    fuzz_buf out = { 0 };
    fkex_source src = { in_read, &in };
    fkex_sink sink = { fuzz_buf_write, &out };
    fkex_err err = p ? fkex_file_seal_policy(&sink, &src, mpk, p, armor, rng)
                     : fkex_file_seal_identity(&sink, &src, mpk, "alice@example.org", armor, rng);
    if (err != FKEX_OK)
        abort();
    write_seed(dir, name, out.p, out.len);
    free(out.p);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *attrs[] = { "ONE", "TWO" };
    const char *dir = getenv("FKEX_FUZZ_SEEDS");
    uint8_t seed[32] = { 7 };
    fkex_rng rng;
    fkex_mpk *plain;
    fkex_msk *msk;
    if (sodium_init() < 0)
        abort();
    fkex_rng_init_seed(&rng, seed);
    if (fkex_abe_setup(&plain, &msk, "fame", &rng) != FKEX_OK ||
        fkex_ibe_setup(&mpk, msk, &rng) != FKEX_OK ||
        fkex_abe_keygen(&key, msk, attrs, 2, &rng) != FKEX_OK ||
        fkex_ibe_keygen(key, msk, "alice@example.org") != FKEX_OK)
        abort();
    if (dir) {
        fkex_policy *p;
        if (fkex_policy_parse(&p, "ONE and TWO", 11, NULL) != FKEX_OK)
            abort();
        write_file(dir, "policy", p, 0, &rng);
        write_file(dir, "policy-armored", p, 1, &rng);
        write_file(dir, "identity", NULL, 0, &rng);
        write_file(dir, "identity-armored", NULL, 1, &rng);
        fkex_policy_free(p);
    }
    fkex_mpk_free(plain);
    fkex_msk_free(msk);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bytes_in in = { data, size, 0 };
    fuzz_buf out = { 0 };
    fkex_source src = { in_read, &in };
    fkex_sink sink = { fuzz_buf_write, &out };
    fkex_file_info info;
    fkex_file *f;
    fkex_err err = fkex_file_open(&f, &src, &info);
    if (err == FKEX_OK) {
        if ((fkex_file_policy(f) == NULL) == (fkex_file_identity(f) == NULL))
            abort();
        if (fkex_file_unlock(f, key) == FKEX_OK && fkex_file_decrypt(f, &sink) == FKEX_OK &&
            (out.len != 22 || memcmp(out.p, "a file for the fuzzer\n", 22) != 0))
            abort();
        fkex_file_free(f);
    } else if (info.has_header && info.header.kind == FKEX_KIND_CIPHERTEXT &&
               err == FKEX_ERR_WRONG_KIND) {
        abort();
    }
    free(out.p);
    return 0;
}
