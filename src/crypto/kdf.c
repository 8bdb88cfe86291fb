/*
 * crypto/kdf.c: the KDF of the objects' KEMs (FORMATS.md, "Key
 * derivation"): BLAKE2b over a label and length-prefixed parts.
 */
#include "crypto/crypto.h"

void fkex_kdf(uint8_t *out, size_t outlen, const char *label, const fkex_kdf_part *parts,
              size_t n)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, outlen);
    crypto_generichash_update(&st, (const uint8_t *)label, strlen(label) + 1);
    for (size_t i = 0; i < n; i++) {
        uint8_t len[8];
        store64_be(len, (uint64_t)parts[i].len);
        crypto_generichash_update(&st, len, sizeof len);
        crypto_generichash_update(&st, parts[i].data, parts[i].len);
    }
    crypto_generichash_final(&st, out, outlen);
    sodium_memzero(&st, sizeof st);
}
