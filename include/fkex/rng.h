/*
 * fkex/rng.h: where libfkex's randomness comes from.
 *
 * Every randomized function takes an fkex_rng. The system one reads
 * libsodium's randombytes; the deterministic one is ChaCha20 keyed by a
 * 32-byte seed, for known-answer tests and for the Fujisaki-Okamoto
 * re-encryption, which must replay the encryptor's coins exactly.
 */
#ifndef FKEX_RNG_H
#define FKEX_RNG_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int deterministic;
    uint8_t key[32];
    uint64_t block;   /* next ChaCha20 block counter */
} fkex_rng;

FKEX_API void fkex_rng_init_system(fkex_rng *rng);
FKEX_API void fkex_rng_init_seed(fkex_rng *rng, const uint8_t seed[32]);
FKEX_API void fkex_rng_fill(fkex_rng *rng, uint8_t *out, size_t len);

#ifdef __cplusplus
}
#endif

#endif
