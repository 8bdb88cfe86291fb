/*
 * web/keystore.c: a key file kept in the browser (IndexedDB, web/client.js)
 * only when the user asks, sealed under a passphrase:
 *
 *   "fkex web key 1\n" (15 bytes) || salt (16) || nonce (24) ||
 *   XSalsa20-Poly1305(k, nonce, the key file's bytes)
 *   k = Argon2id(passphrase, salt), libsodium's interactive limits
 *
 * libsodium's crypto_pwhash and crypto_secretbox_easy; k is wiped on
 * every path. A wrong passphrase and a damaged record are one error.
 * Whoever copies the record can try passphrases offline, so a key is
 * sealed only under one of at least PASS_MIN bytes. The interactive
 * limits (64 MiB, 2 passes) are above OWASP's least for Argon2id (19 MiB,
 * 2 passes); more memory would stay with the page for its life, since a
 * WebAssembly heap does not shrink.
 */
#include <emscripten.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "web/web.h"

#define MAGIC "fkex web key 1\n"
#define MAGIC_LEN 15
#define HEAD (MAGIC_LEN + crypto_pwhash_SALTBYTES + crypto_secretbox_NONCEBYTES)
#define PASS_MIN 12   /* web/client.js says so before it asks */

static int derive(uint8_t k[crypto_secretbox_KEYBYTES], const char *pass, const uint8_t *salt)
{
    return crypto_pwhash(k, crypto_secretbox_KEYBYTES, pass, strlen(pass), salt,
                         crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                         crypto_pwhash_ALG_ARGON2ID13);
}

/* The sealed record of key[0..len) (malloc'd, *outlen its length), or NULL. */
EMSCRIPTEN_KEEPALIVE uint8_t *fkexw_seal_key(const char *pass, const uint8_t *key, size_t len,
                                             size_t *outlen)
{
    uint8_t k[crypto_secretbox_KEYBYTES], *out;
    if (strlen(pass) < PASS_MIN || len > SIZE_MAX - HEAD - crypto_secretbox_MACBYTES ||
        !(out = malloc(HEAD + crypto_secretbox_MACBYTES + len)))
        return NULL;
    memcpy(out, MAGIC, MAGIC_LEN);
    randombytes_buf(out + MAGIC_LEN, crypto_pwhash_SALTBYTES + crypto_secretbox_NONCEBYTES);
    if (derive(k, pass, out + MAGIC_LEN) != 0) {
        free(out);
        return NULL;
    }
    crypto_secretbox_easy(out + HEAD, key, len, out + MAGIC_LEN + crypto_pwhash_SALTBYTES, k);
    sodium_memzero(k, sizeof k);
    *outlen = HEAD + crypto_secretbox_MACBYTES + len;
    return out;
}

/* The key file's bytes from a sealed record (malloc'd: the page wipes and
 * frees them), or NULL: a wrong passphrase, or not such a record. */
EMSCRIPTEN_KEEPALIVE uint8_t *fkexw_open_key(const char *pass, const uint8_t *sealed, size_t len,
                                             size_t *outlen)
{
    uint8_t k[crypto_secretbox_KEYBYTES], *out;
    size_t n;
    if (len < HEAD + crypto_secretbox_MACBYTES || memcmp(sealed, MAGIC, MAGIC_LEN) != 0)
        return NULL;
    n = len - HEAD - crypto_secretbox_MACBYTES;
    if (!(out = malloc(n ? n : 1)))
        return NULL;
    if (derive(k, pass, sealed + MAGIC_LEN) != 0 ||
        crypto_secretbox_open_easy(out, sealed + HEAD, len - HEAD,
                                   sealed + MAGIC_LEN + crypto_pwhash_SALTBYTES, k) != 0) {
        sodium_memzero(k, sizeof k);
        free(out);
        return NULL;
    }
    sodium_memzero(k, sizeof k);
    *outlen = n;
    return out;
}

/* Wipes and frees what the module gave the page. */
EMSCRIPTEN_KEEPALIVE void fkexw_free(uint8_t *p, size_t len)
{
    if (p)
        sodium_memzero(p, len);
    free(p);
}
