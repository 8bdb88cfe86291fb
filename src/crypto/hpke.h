/*
 * crypto/hpke.h: HPKE (RFC 9180), base mode, for one suite only:
 * DHKEM(X25519, HKDF-SHA256) 0x0020, HKDF-SHA256 0x0001,
 * ChaCha20-Poly1305 0x0003. It carries commit secrets to members
 * (PROTOCOL.md, "Leave and remove").
 *
 * A sender runs fkex_hpke_setup_base_s and sends enc; the recipient runs
 * fkex_hpke_setup_base_r. Each then holds a context: the sender seals, the
 * recipient opens, in the same order (sequence numbers 0, 1, 2, ...), and
 * both may export secrets. A context refuses the other role's operation, so
 * the two directions never share a nonce (RFC 9180 §9.8).
 *
 * Contexts hold secrets: end each one with fkex_hpke_context_wipe. A
 * wiped context, or one whose setup failed, refuses every operation.
 * The caller owns the context; nothing here allocates.
 *
 * Public keys and enc are 32-byte X25519 u-coordinates; any 32 bytes are
 * accepted, but a point whose shared secret is all zero (a low-order point)
 * is FKEX_ERR_NOT_IN_GROUP (RFC 9180 §7.1.4). Private keys are the 32 bytes
 * DeriveKeyPair produces (RFC 9180 §7.1.3); X25519 clamps them.
 *
 * Cost: setup_s is one fixed-base X25519 multiplication, one variable-base
 * and seven HMACs (six with a precomputed info hash); setup_r one of each
 * (one variable-base if the recipient gives its public key) and seven
 * HMACs; seal and open one ChaCha20-Poly1305 pass over the message.
 */
#ifndef FKEX_HPKE_H
#define FKEX_HPKE_H

#include <stddef.h>
#include <stdint.h>

#include "fkex/error.h"
#include "fkex/rng.h"

#define FKEX_HPKE_NPK 32      /* public key and enc */
#define FKEX_HPKE_NSK 32      /* private key */
#define FKEX_HPKE_NSECRET 32  /* KEM shared secret */
#define FKEX_HPKE_NK 32       /* AEAD key */
#define FKEX_HPKE_NN 12       /* AEAD nonce */
#define FKEX_HPKE_NT 16       /* AEAD tag: ct is pt plus this */
#define FKEX_HPKE_MAX_EXPORT (255 * 32)

/* Fields are private; they are visible so that callers can own the
 * memory and tests can check the key schedule against RFC 9180. */
typedef struct {
    uint8_t key[FKEX_HPKE_NK];
    uint8_t base_nonce[FKEX_HPKE_NN];
    uint8_t exporter_secret[32];
    uint64_t seq;  /* next sequence number */
    int role;      /* 0 wiped, 1 sender, 2 recipient */
} fkex_hpke_context;

/* RFC 9180 §7.1.3 DeriveKeyPair(ikm). ikm must hold at least 32 bytes
 * (Nsk), else FKEX_ERR_ARGUMENT. */
fkex_err fkex_hpke_keypair_derive(uint8_t sk[32], uint8_t pk[32],
                                  const uint8_t *ikm, size_t ikmlen) FKEX_WUR;
/* GenerateKeyPair: 32 random bytes from rng as the private key. */
void fkex_hpke_keypair_generate(uint8_t sk[32], uint8_t pk[32], fkex_rng *rng);
/* 1 if pk is one of X25519's points of small order (in any of its
 * encodings, the top bit ignored as X25519 does, RFC 7748 §5): every DH
 * with it is all zero, which RFC 9180 §7.1.4 refuses, so a key like that
 * can never be sealed to. A comparison, not a multiplication: it is
 * cheap enough for every key of every path. */
int fkex_x25519_small_order(const uint8_t pk[32]);

/* DHKEM Encap with a given ephemeral private key, and Decap (RFC 9180
 * §4.1). The KEM on its own, for known-answer tests; protocols use setup.
 * Errors: FKEX_ERR_NOT_IN_GROUP; shared and enc are then zero. */
fkex_err fkex_hpke_encap_derand(uint8_t shared[32], uint8_t enc[32], const uint8_t pkR[32],
                                const uint8_t skE[32]) FKEX_WUR;
fkex_err fkex_hpke_decap(uint8_t shared[32], const uint8_t enc[32],
                         const uint8_t skR[32]) FKEX_WUR;

/* SetupBaseS(pkR, info) -> (enc, ctx), with a fresh ephemeral key from
 * rng. Errors: FKEX_ERR_NOT_IN_GROUP (pkR is a low-order point). */
fkex_err fkex_hpke_setup_base_s(uint8_t enc[32], fkex_hpke_context *ctx, const uint8_t pkR[32],
                                const uint8_t *info, size_t infolen, fkex_rng *rng) FKEX_WUR;
/* The same with the ephemeral private key given: for known-answer tests
 * only. Reusing skE for two setups gives away both. */
fkex_err fkex_hpke_setup_base_s_derand(uint8_t enc[32], fkex_hpke_context *ctx,
                                       const uint8_t pkR[32], const uint8_t *info,
                                       size_t infolen, const uint8_t skE[32]) FKEX_WUR;
/* For a sender sealing to many recipients under one info (a path commit's
 * slices):
 * info_hash = LabeledExtract("", "info_hash", info) once, then one
 * SetupBaseS per recipient; the result is SetupBaseS(pkR, info). A
 * recipient that keeps its public key passes it to the _r variant, which
 * saves recomputing pk(skR): one X25519. */
void fkex_hpke_info_hash(uint8_t out[32], const uint8_t *info, size_t infolen);
fkex_err fkex_hpke_setup_base_s_hashed(uint8_t enc[32], fkex_hpke_context *ctx,
                                       const uint8_t pkR[32], const uint8_t info_hash[32],
                                       fkex_rng *rng) FKEX_WUR;
fkex_err fkex_hpke_setup_base_r_hashed(fkex_hpke_context *ctx, const uint8_t enc[32],
                                       const uint8_t skR[32], const uint8_t pkR[32],
                                       const uint8_t info_hash[32]) FKEX_WUR;

/* SetupBaseR(enc, skR, info) -> ctx. Errors: FKEX_ERR_NOT_IN_GROUP. A
 * wrong enc or skR is not detected here: the first Open fails. */
fkex_err fkex_hpke_setup_base_r(fkex_hpke_context *ctx, const uint8_t enc[32],
                                const uint8_t skR[32], const uint8_t *info,
                                size_t infolen) FKEX_WUR;

/* Seal (sender): ct = ptlen + FKEX_HPKE_NT bytes, nonce from the next
 * sequence number. ct may equal pt (in place) but must not otherwise
 * overlap it. FKEX_ERR_ARGUMENT for a recipient or wiped context, a
 * plaintext too long for the AEAD, or sequence numbers used up (after
 * 2^64 - 1 messages: a 64-bit counter, as RFC 9180 §5.2 allows); nothing
 * is written then. */
fkex_err fkex_hpke_seal(uint8_t *ct, fkex_hpke_context *ctx, const uint8_t *aad, size_t aadlen,
                        const uint8_t *pt, size_t ptlen) FKEX_WUR;
/* Open (recipient): pt = ctlen - FKEX_HPKE_NT bytes, written only once the
 * tag verifies; the sequence number advances only then. pt may equal ct.
 * Errors: FKEX_ERR_AUTHENTICATION (wrong key, order, aad or bytes),
 * FKEX_ERR_TRUNCATED (ctlen < FKEX_HPKE_NT), FKEX_ERR_ARGUMENT as for
 * seal. On error nothing is written and the context is unchanged. */
fkex_err fkex_hpke_open(uint8_t *pt, fkex_hpke_context *ctx, const uint8_t *aad, size_t aadlen,
                        const uint8_t *ct, size_t ctlen) FKEX_WUR;

/* Export(exporter_context, L) (RFC 9180 §5.3), either role.
 * FKEX_ERR_ARGUMENT for a wiped context or outlen > FKEX_HPKE_MAX_EXPORT. */
fkex_err fkex_hpke_export(uint8_t *out, size_t outlen, const fkex_hpke_context *ctx,
                          const uint8_t *exporter_context, size_t exporter_contextlen) FKEX_WUR;

void fkex_hpke_context_wipe(fkex_hpke_context *ctx);

#endif
