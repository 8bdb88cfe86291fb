/*
 * crypto/crypto.h: the crypto layer, thin wrappers over libsodium (and
 * libcrypto's SHA-256). It sits on codec and rand only.
 *
 *   hkdf.h    HKDF-SHA256, the labelled KDF and MACs
 *   sha256.h  SHA-256 for bulk public data
 *   sign.h    Ed25519 signatures
 *   hpke.h    HPKE base mode (RFC 9180)
 *   stream.h  the AEAD stream for files
 *   chain.h   symmetric hash chains
 */
#ifndef FKEX_CRYPTO_H
#define FKEX_CRYPTO_H

#include <sodium.h>
#include "codec/codec.h"
#include "fkex/rng.h"
#include "crypto/hkdf.h"
#include "crypto/sha256.h"
#include "crypto/sign.h"
#include "crypto/hpke.h"
#include "crypto/stream.h"
#include "crypto/chain.h"

#endif
