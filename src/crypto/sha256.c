/*
 * crypto/sha256.c: SHA-256 through libcrypto, libsodium's if libcrypto
 * cannot (crypto/sha256.h). The digest is fetched once per process.
 * Update and Final of a SHA-256 context that initialised do not fail in
 * libcrypto; were they to, the output is all zero, never a stale value, so
 * that every check that uses it refuses.
 *
 * The WebAssembly build (docs/ARCHITECTURE.md, "The browser client") has
 * no libcrypto: there libsodium's code is the only one.
 */
#include "crypto/crypto.h"

#ifdef __EMSCRIPTEN__

void fkex_sha256_init(fkex_sha256_ctx *c)
{
    c->evp = NULL;
    c->failed = 0;
    crypto_hash_sha256_init(&c->st);
}

void fkex_sha256_update(fkex_sha256_ctx *c, const void *in, size_t len)
{
    crypto_hash_sha256_update(&c->st, in, len);
}

void fkex_sha256_final(fkex_sha256_ctx *c, uint8_t out[32])
{
    crypto_hash_sha256_final(&c->st, out);
}

#else

#include <pthread.h>
#include <openssl/evp.h>

static EVP_MD *sha256;
static pthread_once_t fetched = PTHREAD_ONCE_INIT;

static void fetch(void) { sha256 = EVP_MD_fetch(NULL, "SHA256", NULL); }


void fkex_sha256_init(fkex_sha256_ctx *c)
{
    EVP_MD_CTX *evp = NULL;
    pthread_once(&fetched, fetch);
    if (sha256 && (evp = EVP_MD_CTX_new()) != NULL && EVP_DigestInit_ex2(evp, sha256, NULL) != 1) {
        EVP_MD_CTX_free(evp);
        evp = NULL;
    }
    c->evp = evp;
    c->failed = 0;
    if (!evp)
        crypto_hash_sha256_init(&c->st);
}

void fkex_sha256_update(fkex_sha256_ctx *c, const void *in, size_t len)
{
    if (c->evp)
        c->failed |= EVP_DigestUpdate(c->evp, in, len) != 1;
    else
        crypto_hash_sha256_update(&c->st, in, len);
}

void fkex_sha256_final(fkex_sha256_ctx *c, uint8_t out[32])
{
    if (c->evp) {
        if (EVP_DigestFinal_ex(c->evp, out, NULL) != 1 || c->failed)
            memset(out, 0, 32);
        EVP_MD_CTX_free(c->evp);
        c->evp = NULL;
    } else {
        crypto_hash_sha256_final(&c->st, out);
    }
}

#endif

void fkex_sha256(uint8_t out[32], const void *in, size_t len)
{
    fkex_sha256_ctx c;
    fkex_sha256_init(&c);
    fkex_sha256_update(&c, in, len);
    fkex_sha256_final(&c, out);
}
