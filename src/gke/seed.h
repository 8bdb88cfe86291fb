/*
 * gke/seed.h: seed mode, the 2014 research prototype's group key protocol,
 * kept ONLY to compare against and to measure. IT IS NOT SECURE; never use
 * it to protect anything. The default is the ratchet (PROTOCOL.md).
 *
 * The protocol (PROTOCOL.md, "Seed mode"): a room has an id and a policy P.
 *   - A joiner CP-ABE-encapsulates a random key k under P and sends the
 *     Encapsulation to the relay.
 *   - The relay gives it an index and sends every member's current
 *     encapsulation, the new one included, to everyone as a KeySet for
 *     epoch e+1.
 *   - Every member decapsulates ALL of them with its own ABE key (n
 *     decapsulations per member per rekey, no caching: this is the cost
 *     the prototype paid and the benchmark measures) and sets
 *         K = KDF(room_id || epoch || H(sorted k_i))
 *     precisely: h = SHA-256(k_(1) || ... || k_(n)), the k_i sorted
 *     bytewise; prk = HKDF-Extract(salt = empty, ikm = h);
 *     K = fkex_kdf_expand(prk, "seed key", room_id || u64be(epoch)).
 *   - Leave-rekey: the relay announces Leave(index) for epoch e; everyone
 *     drops that member, and the remaining member with the lowest index
 *     sends a fresh Encapsulation for e+1, which replaces its old one. The
 *     relay sends the KeySet for e+1, and everyone recomputes K.
 *
 * Its faults (PROTOCOL.md, "Why this and not the prototype's protocol"),
 * all of them kept on purpose:
 *   1. No forward secrecy: anyone holding a satisfying key (a future
 *      joiner, a departed member, the key authority through a key it
 *      derives from the master key) recomputes every epoch key from the
 *      recorded KeySets. fkex_seed_recover does exactly that.
 *   2. No lock-out: a departed member still satisfies P, so it reads the
 *      KeySet after its own leave just as well (again fkex_seed_recover).
 *   3. Encapsulations are not bound to the room or the epoch, so an old
 *      one can be replayed into another room or epoch.
 *   4. Anyone, the relay included, can add "ghost" encapsulations to a
 *      KeySet; members accept every entry they can decapsulate. Nothing
 *      checks that an entry is under P or came from the member it names.
 *   5. No key confirmation: the relay can split the group into views that
 *      hold different keys, and nobody notices.
 *   6. O(n) pairing work per member per join and per leave.
 *
 * The state machine follows gke/gke.h: no I/O, no clock, randomness as a
 * parameter; a step appends messages and events to an fkex_gke_out, and a
 * refused step leaves both the state and out exactly as they were.
 * Indices are assigned by the relay, increase with every join and are
 * never reused, so "the lowest index" is well defined across leaves.
 * Epochs: the empty room is epoch 0; each KeySet starts the next epoch.
 *
 * Ownership: a member state borrows its ABE key (keep the key alive until
 * fkex_seed_free) and copies the policy. States are heap-allocated and
 * wiped on free.
 */
#ifndef FKEX_GKE_SEED_H
#define FKEX_GKE_SEED_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/error.h"
#include "fkex/rng.h"
#include "fkex/policy.h"
#include "fkex/abe.h"
#include "gke/out.h"

typedef struct fkex_seed fkex_seed;
typedef struct fkex_seed_relay fkex_seed_relay;

/* ---- a member ---------------------------------------------------------------- */

/* Starts a join: one ABE encapsulation under policy with key's authority,
 * sent to the relay as an Encapsulation (to = FKEX_GKE_TO_ROOM). The
 * state is a joiner until a KeySet containing that encapsulation arrives.
 * On failure *st is NULL and out is unchanged. */
fkex_err fkex_seed_join(fkex_seed **st, const uint8_t room_id[32], const fkex_policy *policy,
                        const fkex_key *key, fkex_rng *rng, fkex_gke_out *out) FKEX_WUR;

/* One message from the relay.
 *   KeySet: decapsulates every entry (CCA), derives K for its epoch and
 *     emits FKEX_GKE_EV_JOINED (the first time), FKEX_GKE_EV_ADDED /
 *     FKEX_GKE_EV_REMOVED for roster changes, then FKEX_GKE_EV_EPOCH. A
 *     member accepts only epoch e+1 (FKEX_ERR_REPLAY for e or older,
 *     FKEX_ERR_WRONG_EPOCH for later); a joiner accepts the first KeySet
 *     that holds its own encapsulation and refuses others as
 *     FKEX_ERR_UNEXPECTED. An entry this member cannot decapsulate refuses
 *     the whole KeySet with fkex_abe_decap's error.
 *   Leave for epoch e: names another member: FKEX_GKE_EV_REMOVED, and if
 *     this member now has the lowest index, one ABE encapsulation and an
 *     Encapsulation for e+1 to the relay. Names this member:
 *     FKEX_GKE_EV_LEFT; the key is wiped and every later message is
 *     FKEX_ERR_UNEXPECTED. A member already gone is FKEX_ERR_REPLAY.
 * Another room is FKEX_ERR_WRONG_ROOM; an Encapsulation is
 * FKEX_ERR_UNEXPECTED (members never receive one).
 * Cost: a KeySet of n entries is n ciphertext decodes, n decapsulations
 * and an O(n log^2 n) sort of 32-byte keys. */
fkex_err fkex_seed_receive(fkex_seed *st, const uint8_t *msg, size_t len, fkex_rng *rng,
                           fkex_gke_out *out) FKEX_WUR;

/* The current epoch key: 0, or -1 before joining and after leaving. */
int fkex_seed_key(uint8_t key[32], const fkex_seed *st) FKEX_WUR;
/* The current epoch (0 before joining). */
uint64_t fkex_seed_epoch(const fkex_seed *st);
/* This member's index, or FKEX_SEED_NEW before joining. */
uint32_t fkex_seed_index(const fkex_seed *st);
/* The members of the current epoch: how many, and the i-th index in
 * increasing order (FKEX_SEED_NEW if i is out of range). */
size_t fkex_seed_members(const fkex_seed *st);
uint32_t fkex_seed_member(const fkex_seed *st, size_t i);
/* ABE decapsulations done in accepted steps (a refused step changes
 * nothing, this counter included). */
uint64_t fkex_seed_decaps(const fkex_seed *st);
/* Wipes and frees; NULL is allowed. */
void fkex_seed_free(fkex_seed *st);

/* The weakness, demonstrated: anyone with ANY key that satisfies the
 * policy (a later joiner, a departed member, a key derived from the
 * master key after the fact) recomputes a KeySet's epoch key from the
 * recorded message alone. Errors as fkex_seed_receive's for a KeySet. */
fkex_err fkex_seed_recover(uint8_t key[32], const fkex_key *any_satisfying_key,
                           const uint8_t *keyset_msg, size_t len) FKEX_WUR;

/* ---- the relay --------------------------------------------------------------
 * It holds each member's current encapsulation and announces the member
 * set. It does no ABE work and checks nothing it could not check in the
 * prototype: it parses messages strictly and keeps the epochs straight.
 * Its messages go to everyone (FKEX_GKE_TO_ROOM). */

fkex_err fkex_seed_relay_new(fkex_seed_relay **relay, const uint8_t room_id[32]) FKEX_WUR;
/* An Encapsulation. A join (index FKEX_SEED_NEW, epoch 0) gets the next
 * index; a rekey (the sender's index, epoch e+1) replaces that member's
 * entry. Either way the relay starts epoch e+1 and emits its KeySet.
 * Cost: O(n) to copy the KeySet. */
fkex_err fkex_seed_relay_receive(fkex_seed_relay *relay, const uint8_t *msg, size_t len,
                                 fkex_gke_out *out) FKEX_WUR;
/* A member left or was dropped: its entry goes and a Leave for the current
 * epoch is emitted. FKEX_ERR_ARGUMENT for an index that is not a member. */
fkex_err fkex_seed_relay_remove(fkex_seed_relay *relay, uint32_t index,
                                fkex_gke_out *out) FKEX_WUR;
uint64_t fkex_seed_relay_epoch(const fkex_seed_relay *relay);
size_t fkex_seed_relay_members(const fkex_seed_relay *relay);
void fkex_seed_relay_free(fkex_seed_relay *relay);

/* What a daemon persists to resume the relay after a restart: the epoch,
 * the index the next joiner gets, and every member's current entry
 * (i < members, in increasing index; the ciphertext stays the relay's). */
uint32_t fkex_seed_relay_next(const fkex_seed_relay *relay);
const fkex_seed_entry *fkex_seed_relay_entry(const fkex_seed_relay *relay, size_t i);
/* A relay resumed from that: n entries given as index and ciphertext
 * encoding, in increasing index, all below next. Each ciphertext is
 * decoded strictly again (a subgroup check per element: O(n) decodes).
 * FKEX_ERR_ARGUMENT for inconsistent state, or a decoding error. */
fkex_err fkex_seed_relay_restore(fkex_seed_relay **relay, const uint8_t room_id[32],
                                 uint64_t epoch, uint32_t next, const uint32_t *indices,
                                 const uint8_t *const *cts, const size_t *ctlens,
                                 size_t n) FKEX_WUR;

/* ---- application messages (gke/seed_app.c) ---------------------------------
 * The prototype encrypted chat lines under the epoch key with AES; fkex
 * uses libsodium's XChaCha20-Poly1305 (IETF) under K directly, with a
 * random 24-byte nonce and the message's header as additional data. As in
 * the prototype nothing is signed: any holder of K (every member, every
 * departed member, anyone with a satisfying key and the KeySet) can write
 * a message in any member's name, and replays are not detected here (the
 * chat client drops a nonce it has seen, which is bookkeeping, not
 * authentication). */

/* An Application from `sender` in `epoch`, sealed under key. *out is
 * malloc'd. FKEX_ERR_ARGUMENT for content over FKEX_SEED_APP_MAX bytes. */
fkex_err fkex_seed_app_seal(uint8_t **out, size_t *outlen, const uint8_t key[32],
                            const uint8_t room_id[32], uint64_t epoch, uint32_t sender,
                            const uint8_t *content, size_t len, fkex_rng *rng) FKEX_WUR;
/* Opens an Application under key (the caller picks the key by
 * fkex_seed_msg_peek's epoch). *content is malloc'd and written only if
 * the tag verifies; m gets the header fields (m->box is left NULL).
 * FKEX_ERR_WRONG_KIND (not an Application), FKEX_ERR_WRONG_ROOM,
 * FKEX_ERR_AUTHENTICATION (wrong key, or tampered), decoding errors. */
fkex_err fkex_seed_app_open(uint8_t **content, size_t *len, fkex_seed_msg *m,
                            const uint8_t key[32], const uint8_t room_id[32],
                            const uint8_t *msg, size_t msglen) FKEX_WUR;

#endif
