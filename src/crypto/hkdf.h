/*
 * crypto/hkdf.h: HKDF-SHA256 (RFC 5869) over libsodium's HMAC-SHA256, and
 * the labeled variants RFC 9180 §4 defines for HPKE.
 *
 * This is the protocol's KDF; the end of this header adds fkex's own
 * labels, the MAC and the transcript hash. Nothing here allocates: the labeled inputs
 * are fed to HMAC piece by piece, so info, salt and ikm have no length
 * limit beyond HMAC's own. Expand gives at most FKEX_HKDF_MAX_OUT bytes
 * (255 blocks); it may write over its own prk (ck = Expand(ck, ...)).
 * Intermediate blocks and HMAC states are wiped before returning.
 *
 * Cost: Extract is one HMAC over salt and ikm; Expand one HMAC of
 * 32 + infolen + 1 bytes per 32 bytes of output.
 */
#ifndef FKEX_HKDF_H
#define FKEX_HKDF_H

#include <stddef.h>
#include <stdint.h>

#include "fkex/error.h"

#define FKEX_HKDF_HASHLEN 32
#define FKEX_HKDF_MAX_OUT (255 * FKEX_HKDF_HASHLEN)

/* RFC 5869 §2.2: prk = HMAC(salt, ikm). An empty salt (saltlen 0, salt may
 * be NULL) means 32 zero bytes. */
void fkex_hkdf_extract(uint8_t prk[32], const uint8_t *salt, size_t saltlen,
                       const uint8_t *ikm, size_t ikmlen);

/* RFC 5869 §2.3: outlen bytes of T(1) || T(2) || ...
 * FKEX_ERR_ARGUMENT if outlen > FKEX_HKDF_MAX_OUT; nothing is written. */
fkex_err fkex_hkdf_expand(uint8_t *out, size_t outlen, const uint8_t prk[32],
                          const uint8_t *info, size_t infolen) FKEX_WUR;

/* RFC 9180 §4: Extract(salt, "HPKE-v1" || suite_id || label || ikm). */
void fkex_hkdf_labeled_extract(uint8_t prk[32], const uint8_t *suite_id, size_t suite_idlen,
                               const uint8_t *salt, size_t saltlen, const char *label,
                               const uint8_t *ikm, size_t ikmlen);

/* RFC 9180 §4: Expand(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id || label
 * || info, L) with L = outlen. FKEX_ERR_ARGUMENT if outlen is too large. */
fkex_err fkex_hkdf_labeled_expand(uint8_t *out, size_t outlen, const uint8_t prk[32],
                                  const uint8_t *suite_id, size_t suite_idlen,
                                  const char *label, const uint8_t *info,
                                  size_t infolen) FKEX_WUR;

/* ---- fkex's own labels (PROTOCOL.md) ------------------------------------
 * KDF-Expand(secret, label, context) gives 32 bytes with the info
 * "fkex v1 " || label || 0x00 || context. KDF-Extract is fkex_hkdf_extract. */
void fkex_kdf_expand(uint8_t out[32], const uint8_t secret[32], const char *label,
                     const uint8_t *context, size_t contextlen);

/* MAC = HMAC-SHA256 with a 32-byte key; verify compares in constant time
 * and returns 0 or -1. */
void fkex_mac(uint8_t tag[32], const uint8_t key[32], const uint8_t *msg, size_t len);
int fkex_mac_verify(const uint8_t tag[32], const uint8_t key[32], const uint8_t *msg,
                    size_t len) FKEX_WUR;

/* The transcript hash chain: t = SHA-256("fkex v1 transcript" || t || msg). */
void fkex_transcript_extend(uint8_t transcript[32], const uint8_t *msg, size_t len);

/* ---- the objects' KDF (FORMATS.md, "Key derivation"; crypto/kdf.c) -------
 * KDF(label, parts) = BLAKE2b(label || 0 || for each part: u64 length ||
 * part), outlen bytes (1..64): the KEMs' keys, masks and FO coins. The
 * lengths make the parts unambiguous whatever their contents. */
typedef struct {
    const void *data;
    size_t len;
} fkex_kdf_part;

void fkex_kdf(uint8_t *out, size_t outlen, const char *label, const fkex_kdf_part *parts,
              size_t n);

#endif
