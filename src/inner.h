/*
 * inner.h: internals shared by every libfkex source file.
 *
 * Every .c in src/ includes this header and nothing else of the project's
 * own, as in BearSSL. It pulls in blst and libsodium, the public headers,
 * and the private headers of each layer.
 */
#ifndef FKEX_INNER_H
#define FKEX_INNER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <blst.h>
#include <blst_aux.h>
#include <sodium.h>

#include "fkex/error.h"
#include "fkex/rng.h"
#include "fkex/policy.h"
#include "fkex/abe.h"
#include "fkex/ibe.h"

#define FKEX_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static inline void store16_be(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void store32_be(uint8_t *p, uint32_t v) { store16_be(p, (uint16_t)(v >> 16)); store16_be(p + 2, (uint16_t)v); }
static inline void store64_be(uint8_t *p, uint64_t v) { store32_be(p, (uint32_t)(v >> 32)); store32_be(p + 4, (uint32_t)v); }
static inline uint16_t load16_be(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t load32_be(const uint8_t *p) { return ((uint32_t)load16_be(p) << 16) | load16_be(p + 2); }
static inline uint64_t load64_be(const uint8_t *p) { return ((uint64_t)load32_be(p) << 32) | load32_be(p + 4); }

#include "pairing/pairing.h"
#include "policy/policy.h"
#include "wire/wire.h"
#include "wire/seed_msg.h"
#include "wire/dh_msg.h"
#include "crypto/stream.h"
#include "crypto/hkdf.h"
#include "crypto/sha256.h"
#include "crypto/chain.h"
#include "crypto/hpke.h"
#include "crypto/sign.h"
#include "wire/ratchet_msg.h"
#include "abe/scheme.h"
#include "abe/hash_cache.h"
#include "abe/fame.h"
#include "ibe/ibe.h"
#include "gke/gke.h"
#include "gke/ratchet.h"
#include "gke/seed.h"
#include "gke/dh.h"

#endif
