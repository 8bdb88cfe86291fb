/*
 * rand/rng.c: where randomness comes from.
 *
 * System: libsodium's randombytes_buf. Deterministic: the ChaCha20 keystream
 * (original variant: zero nonce, 64-bit block counter, so it never wraps)
 * under a 32-byte seed, consumed in whole 64-byte blocks so that the output
 * depends only on the seed and the sequence of requests.
 */
#include <string.h>
#include <sodium.h>
#include "fkex/rng.h"

void fkex_rng_init_system(fkex_rng *rng)
{
    memset(rng, 0, sizeof *rng);
}

void fkex_rng_init_seed(fkex_rng *rng, const uint8_t seed[32])
{
    rng->deterministic = 1;
    memcpy(rng->key, seed, 32);
    rng->block = 0;
}

void fkex_rng_fill(fkex_rng *rng, uint8_t *out, size_t len)
{
    static const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
    if (!rng->deterministic) {
        randombytes_buf(out, len);
        return;
    }
    size_t blocks = (len + 63) / 64;
    memset(out, 0, len);
    crypto_stream_chacha20_xor_ic(out, out, len, nonce, rng->block, rng->key);
    rng->block += blocks;
}

