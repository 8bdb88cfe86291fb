/*
 * wire/dh_msg.h: the messages of the group Diffie-Hellman baselines
 * (gke/gdh2.c, gke/bd.c), as canonical bytes.
 *
 *   type u8 | version u8 = 1 | room_id[32] | epoch u64 | sender u32 |
 *   count u32 | count elements of 32 bytes (ristretto255)
 *
 * Integers are big-endian. The count is fixed by the type and the sender
 * (a member's 0-based index in the roster), so the decoder checks it:
 *   GDH2_UP    from s:      s + 2 elements (partials j = 0..s, then the
 *                           full product g^{r_0...r_s})
 *   GDH2_DOWN  from n - 1:  n - 1 elements, one per other member
 *   BD_Z, BD_X:             1 element
 * and never more than FKEX_DH_MSG_MAX_ELEMS.
 *
 * Decoding is validation: an element must be the canonical encoding of a
 * ristretto255 point other than the identity. libsodium 1.0.18's
 * crypto_core_ristretto255_is_valid_point accepts the top bit set (a second
 * encoding of the same point) and the identity, so the decoder checks both
 * itself. Whatever decodes re-encodes to exactly the input.
 *
 * Cost: decoding is O(count) point decompressions (one inverse square root
 * each), about 65536 of them for the largest message.
 */
#ifndef FKEX_DH_MSG_H
#define FKEX_DH_MSG_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/error.h"

/* Types 0x40-0x4f belong to the Diffie-Hellman baselines. */
#define FKEX_DH_GDH2_UP   0x40   /* M_i -> M_{i+1}: the upflow chain */
#define FKEX_DH_GDH2_DOWN 0x41   /* M_n -> room: the final broadcast */
#define FKEX_DH_BD_Z      0x42   /* round 1: z_i = g^{r_i} */
#define FKEX_DH_BD_X      0x43   /* round 2: X_i = (z_{i+1} / z_{i-1})^{r_i} */

#define FKEX_DH_MSG_VERSION   1
#define FKEX_DH_MSG_HEADER    50      /* 1 + 1 + 32 + 8 + 4 + 4 */
#define FKEX_DH_MSG_MAX_ELEMS 65536u
#define FKEX_DH_ELEM          32

typedef struct {
    uint8_t type;
    uint8_t room_id[32];
    uint64_t epoch;
    uint32_t sender;
    uint32_t count;
    const uint8_t *elems;   /* count * 32 bytes; decode points it into its input */
} fkex_dh_msg;

/* The element count a message of this type from this sender must carry,
 * or 0 if no such message exists (unknown type, count over the bound). */
uint32_t fkex_dh_msg_expected_count(uint8_t type, uint32_t sender) FKEX_WUR;

/* 0 iff p is the canonical encoding of a ristretto255 point. Returns
 * FKEX_ERR_BAD_ENCODING for a non-canonical field element or sign,
 * FKEX_ERR_NOT_IN_GROUP for a canonical string that is no point, or the
 * identity. */
fkex_err fkex_dh_elem_check(const uint8_t p[32]) FKEX_WUR;

/* *out is malloc'd (free() it, or hand it to fkex_gke_out_msg).
 * FKEX_ERR_ARGUMENT if the count does not fit the type and sender; the
 * elements are copied as they are, unchecked. */
fkex_err fkex_dh_msg_encode(uint8_t **out, size_t *outlen, const fkex_dh_msg *m) FKEX_WUR;

/* Strict: FKEX_ERR_TRUNCATED, FKEX_ERR_BAD_ENCODING (trailing bytes, a
 * count that does not fit, a non-canonical element), FKEX_ERR_UNSUPPORTED
 * (version), FKEX_ERR_WRONG_KIND (type), FKEX_ERR_NOT_IN_GROUP. On success
 * m->elems points into in, which must outlive m. */
fkex_err fkex_dh_msg_decode(fkex_dh_msg *m, const uint8_t *in, size_t len) FKEX_WUR;

#endif
