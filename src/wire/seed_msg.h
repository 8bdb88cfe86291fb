/*
 * wire/seed_msg.h: the messages of seed mode (gke/seed.h), the 2014
 * prototype's protocol, encoded canonically.
 *
 * Every message starts with the same 42-byte header:
 *
 *   type u8 | version u8 (= 1) | room_id [32] | epoch u64
 *
 * then, by type (integers big-endian):
 *
 *   0x51 Encapsulation (member -> relay)
 *        index u32 | ct_len u32 | ct [ct_len]
 *        index is FKEX_SEED_NEW for a joiner (the relay assigns one; epoch
 *        is then 0), else the sender's own index: a leave-rekey contribution
 *        for `epoch`, the epoch it is meant to start.
 *   0x52 KeySet (relay -> everyone)
 *        count u32 (1 .. FKEX_SEED_MAX_MEMBERS) |
 *        count x { index u32 | ct_len u32 | ct [ct_len] }
 *        indices strictly increasing, none FKEX_SEED_NEW.
 *   0x53 Leave (relay -> everyone)
 *        index u32 (not FKEX_SEED_NEW); epoch is the epoch being left.
 *        A member sends its own Leave to the relay to ask to go (fkex chat's
 *        leave); the relay then announces one for its current epoch.
 *   0x54 Application (member -> relay -> everyone)
 *        sender u32 (not FKEX_SEED_NEW) | nonce [24] |
 *        box_len u32 (16 .. FKEX_SEED_APP_MAX + 16) | box [box_len]
 *        box = XChaCha20-Poly1305(K_epoch, nonce, content), the additional
 *        data being every byte before box. Not signed (gke/seed.h).
 *
 * Each ct is a whole fkex_abe_ct encoding (abe.h), at most
 * FKEX_HEADER_BYTES + FKEX_BODY_MAX bytes, parsed strictly by
 * fkex_abe_ct_decode: canonical points in their subgroups, no trailing
 * bytes. Decoding refuses a wrong version (FKEX_ERR_UNSUPPORTED), an
 * unknown type, bad counts, unordered indices and trailing bytes
 * (FKEX_ERR_BAD_ENCODING), and short input (FKEX_ERR_TRUNCATED), so
 * whatever decodes re-encodes to exactly the input.
 *
 * Nothing here is signed or MACed: seed mode has no authentication (see the
 * faults listed in gke/seed.h).
 *
 * Cost: encoding is a copy. Decoding is dominated by fkex_abe_ct_decode,
 * a subgroup check per group element of each ciphertext. Decoded messages
 * own their ciphertexts: release them with fkex_seed_msg_clear.
 */
#ifndef FKEX_SEED_MSG_H
#define FKEX_SEED_MSG_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/error.h"
#include "fkex/abe.h"

#define FKEX_SEED_MSG_VERSION 1
#define FKEX_SEED_MSG_ENCAP 0x51
#define FKEX_SEED_MSG_KEYSET 0x52
#define FKEX_SEED_MSG_LEAVE 0x53
#define FKEX_SEED_MSG_APP 0x54

#define FKEX_SEED_APP_MAX (1u << 20)   /* plaintext bytes of one Application */
#define FKEX_SEED_APP_NONCE 24
#define FKEX_SEED_APP_TAG 16

#define FKEX_SEED_HEADER_BYTES 42
#define FKEX_SEED_MAX_MEMBERS 65536u
#define FKEX_SEED_NEW 0xffffffffu      /* "no index yet": a joiner */

typedef struct {
    uint32_t index;
    fkex_abe_ct *ct;
} fkex_seed_entry;

typedef struct {
    uint8_t type;
    uint8_t room_id[32];
    uint64_t epoch;
    uint32_t index;              /* Encapsulation, Leave; Application: the sender */
    fkex_abe_ct *ct;             /* Encapsulation */
    fkex_seed_entry *entries;    /* KeySet */
    size_t count;
    uint8_t nonce[FKEX_SEED_APP_NONCE];   /* Application */
    uint8_t *box;                /* Application: the AEAD ciphertext and tag (owned) */
    size_t boxlen;
} fkex_seed_msg;

/* Reads only the fixed header, so that a state machine can refuse another
 * room or a stale epoch before parsing any ciphertext. Checks the length
 * (FKEX_ERR_TRUNCATED), the version and the type. */
fkex_err fkex_seed_msg_peek(uint8_t *type, uint8_t room_id[32], uint64_t *epoch,
                            const uint8_t *in, size_t len) FKEX_WUR;

/* On failure *m is empty (as after fkex_seed_msg_clear). */
fkex_err fkex_seed_msg_decode(fkex_seed_msg *m, const uint8_t *in, size_t len) FKEX_WUR;
/* Frees the ciphertexts and the entries; m is then empty. */
void fkex_seed_msg_clear(fkex_seed_msg *m);

/* Encoders; *out is malloc'd (free it with free()). They check what the
 * decoder checks (FKEX_ERR_ARGUMENT otherwise), so what they write decodes. */
fkex_err fkex_seed_msg_encode(uint8_t **out, size_t *len, const fkex_seed_msg *m) FKEX_WUR;
fkex_err fkex_seed_encap_encode(uint8_t **out, size_t *len, const uint8_t room_id[32],
                                uint64_t epoch, uint32_t index, const fkex_abe_ct *ct) FKEX_WUR;
fkex_err fkex_seed_keyset_encode(uint8_t **out, size_t *len, const uint8_t room_id[32],
                                 uint64_t epoch, const fkex_seed_entry *entries,
                                 size_t count) FKEX_WUR;
fkex_err fkex_seed_leave_encode(uint8_t **out, size_t *len, const uint8_t room_id[32],
                                uint64_t epoch, uint32_t index) FKEX_WUR;
fkex_err fkex_seed_app_encode(uint8_t **out, size_t *len, const uint8_t room_id[32],
                              uint64_t epoch, uint32_t sender,
                              const uint8_t nonce[FKEX_SEED_APP_NONCE], const uint8_t *box,
                              size_t boxlen) FKEX_WUR;

#endif
