/*
 * crypto/sign.h: Ed25519 signatures (libsodium), with fkex's domain
 * separation: every signature covers "fkex v1 " || label || 0x00 || msg,
 * so a signature made for one kind of message never verifies as another.
 *
 * Verification is libsodium's strict one: it refuses non-canonical S,
 * non-canonical and small-order public keys, and small-order R.
 *
 * Cost: sign about 28 us, verify about 72 us (SCHEMES.md).
 */
#ifndef FKEX_SIGN_H
#define FKEX_SIGN_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/error.h"
#include "fkex/rng.h"

#define FKEX_SIGN_PUBLIC 32
#define FKEX_SIGN_SECRET 64   /* libsodium's seed || public key */
#define FKEX_SIGN_BYTES 64

void fkex_sign_keypair(uint8_t pk[32], uint8_t sk[64], fkex_rng *rng);
/* FKEX_ERR_NO_MEMORY is the only failure. */
fkex_err fkex_sign(uint8_t sig[64], const uint8_t sk[64], const char *label, const uint8_t *msg,
                   size_t len) FKEX_WUR;
/* 0 if sig is pk's signature of (label, msg), else -1. */
int fkex_sign_verify(const uint8_t sig[64], const uint8_t pk[32], const char *label,
                     const uint8_t *msg, size_t len) FKEX_WUR;

#endif
