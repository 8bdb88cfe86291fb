/*
 * kms/seal.c: a secret at rest under a passphrase: Argon2id then
 * XChaCha20-Poly1305, the header authenticated as additional data.
 * Cost: one Argon2id (about 0.1 s and 64 MiB at the INTERACTIVE limits).
 */
#include <stdlib.h>
#include "kms/kms.h"
#include "kms/kms.h"

#define MAGIC "FKEXSEAL"
#define SEAL_VERSION 1
#define KDF_ARGON2ID13 1
#define SALT_BYTES crypto_pwhash_SALTBYTES   /* 16 */
#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define HEADER_BYTES (8 + 1 + 1 + 4 + 8 + SALT_BYTES + NONCE_BYTES + 4)

static fkex_err derive(uint8_t key[32], const char *pass, size_t passlen, const uint8_t *salt,
                       uint32_t ops, uint64_t mem)
{
    if (crypto_pwhash(key, 32, pass, passlen, salt, ops, (size_t)mem,
                      crypto_pwhash_ALG_ARGON2ID13) != 0)
        return FKEX_ERR_NO_MEMORY;   /* Argon2 fails only for want of memory */
    return FKEX_OK;
}

fkex_err fkex_sealed_encode(uint8_t **out, size_t *len, const uint8_t *pt, size_t ptlen,
                            const char *pass, size_t passlen, fkex_rng *rng)
{
    uint8_t *buf, key[32];
    uint8_t *salt, *nonce;
    uint32_t ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    uint64_t mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    size_t total;
    fkex_err err;
    *out = NULL;
    *len = 0;
    if (ptlen > FKEX_SEALED_MAX)
        return FKEX_ERR_ARGUMENT;
    total = HEADER_BYTES + ptlen + crypto_aead_xchacha20poly1305_ietf_ABYTES;
    if (!(buf = malloc(total)))
        return FKEX_ERR_NO_MEMORY;
    memcpy(buf, MAGIC, 8);
    buf[8] = SEAL_VERSION;
    buf[9] = KDF_ARGON2ID13;
    store32_be(buf + 10, ops);
    store64_be(buf + 14, mem);
    salt = buf + 22;
    nonce = salt + SALT_BYTES;
    fkex_rng_fill(rng, salt, SALT_BYTES);
    fkex_rng_fill(rng, nonce, NONCE_BYTES);
    store32_be(nonce + NONCE_BYTES, (uint32_t)(ptlen + crypto_aead_xchacha20poly1305_ietf_ABYTES));
    if ((err = derive(key, pass, passlen, salt, ops, mem)) != FKEX_OK) {
        free(buf);
        return err;
    }
    crypto_aead_xchacha20poly1305_ietf_encrypt(buf + HEADER_BYTES, NULL, pt, ptlen, buf,
                                               HEADER_BYTES, NULL, nonce, key);
    sodium_memzero(key, sizeof key);
    *out = buf;
    *len = total;
    return FKEX_OK;
}

fkex_err fkex_sealed_decode(uint8_t **pt, size_t *ptlen, const uint8_t *in, size_t len,
                            const char *pass, size_t passlen)
{
    uint8_t key[32], *buf;
    uint32_t ops, ctlen;
    uint64_t mem;
    fkex_err err;
    *pt = NULL;
    *ptlen = 0;
    if (len < 8 || memcmp(in, MAGIC, 8) != 0)
        return len < 8 && memcmp(in, MAGIC, len) == 0 ? FKEX_ERR_TRUNCATED : FKEX_ERR_BAD_ENCODING;
    if (len < HEADER_BYTES)
        return FKEX_ERR_TRUNCATED;
    if (in[8] != SEAL_VERSION || in[9] != KDF_ARGON2ID13)
        return FKEX_ERR_UNSUPPORTED;
    ops = load32_be(in + 10);
    mem = load64_be(in + 14);
    ctlen = load32_be(in + HEADER_BYTES - 4);
    /* Bounded limits: a file may not make us spend a gigabyte. */
    if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > crypto_pwhash_OPSLIMIT_SENSITIVE ||
        mem < crypto_pwhash_MEMLIMIT_MIN || mem > crypto_pwhash_MEMLIMIT_SENSITIVE)
        return FKEX_ERR_BAD_ENCODING;
    if (ctlen < crypto_aead_xchacha20poly1305_ietf_ABYTES ||
        ctlen > FKEX_SEALED_MAX + crypto_aead_xchacha20poly1305_ietf_ABYTES)
        return FKEX_ERR_BAD_ENCODING;
    if (len - HEADER_BYTES < ctlen)
        return FKEX_ERR_TRUNCATED;
    if (len - HEADER_BYTES > ctlen)
        return FKEX_ERR_BAD_ENCODING;
    if ((err = derive(key, pass, passlen, in + 22, ops, mem)) != FKEX_OK)
        return err;
    size_t n = ctlen - crypto_aead_xchacha20poly1305_ietf_ABYTES;
    if (!(buf = sodium_malloc(n ? n : 1))) {
        sodium_memzero(key, sizeof key);
        return FKEX_ERR_NO_MEMORY;
    }
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(buf, NULL, NULL, in + HEADER_BYTES, ctlen, in,
                                                   HEADER_BYTES, in + 22 + SALT_BYTES, key) != 0) {
        sodium_memzero(key, sizeof key);
        sodium_free(buf);
        return FKEX_ERR_AUTHENTICATION;
    }
    sodium_memzero(key, sizeof key);
    *pt = buf;
    *ptlen = n;
    return FKEX_OK;
}
