/*
 * crypto/sign.c: Ed25519 with a domain-separating label.
 *
 * libsodium 1.0.18 signs one contiguous message, so the labeled message is
 * assembled on the heap; the messages signed here are protocol frames of
 * at most a few hundred KiB. The signed bytes are public.
 */
#include <stdlib.h>
#include "crypto/crypto.h"

static uint8_t *labeled(size_t *outlen, const char *label, const uint8_t *msg, size_t len)
{
    static const char prefix[] = "fkex v1 ";
    size_t plen = sizeof prefix - 1, llen = strlen(label);
    uint8_t *buf = malloc(plen + llen + 1 + len + 1);
    if (!buf)
        return NULL;
    memcpy(buf, prefix, plen);
    memcpy(buf + plen, label, llen);
    buf[plen + llen] = 0;
    if (len)
        memcpy(buf + plen + llen + 1, msg, len);
    *outlen = plen + llen + 1 + len;
    return buf;
}

void fkex_sign_keypair(uint8_t pk[32], uint8_t sk[64], fkex_rng *rng)
{
    uint8_t seed[32];
    fkex_rng_fill(rng, seed, sizeof seed);
    crypto_sign_seed_keypair(pk, sk, seed);
    sodium_memzero(seed, sizeof seed);
}

fkex_err fkex_sign(uint8_t sig[64], const uint8_t sk[64], const char *label, const uint8_t *msg,
                   size_t len)
{
    size_t n;
    uint8_t *buf = labeled(&n, label, msg, len);
    if (!buf)
        return FKEX_ERR_NO_MEMORY;
    crypto_sign_detached(sig, NULL, buf, n, sk);
    free(buf);
    return FKEX_OK;
}

int fkex_sign_verify(const uint8_t sig[64], const uint8_t pk[32], const char *label,
                     const uint8_t *msg, size_t len)
{
    size_t n;
    uint8_t *buf = labeled(&n, label, msg, len);
    int ok = buf && crypto_sign_verify_detached(sig, buf, n, pk) == 0;
    free(buf);
    return ok ? 0 : -1;
}
