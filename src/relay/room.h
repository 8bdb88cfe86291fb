/*
 * relay/room.h: a room of the SQLite relay: the rules of
 * gke/relay_rules.h (or, for a seed-mode room, relay/seed_room.h) over
 * the room's state in memory, and that state kept in the store.
 *
 * Each step runs in one transaction: the rules move the state and say
 * what changed (log rows, joins, the roster, the descriptors, candidates,
 * held Welcomes, the settled commit), which is written before the step
 * returns; a held Welcome gets its seq when it is released. Inside a
 * store batch (group commit, relay/store.h) that transaction is a
 * savepoint, and the message is persisted only when the batch ends: the
 * caller holds every acknowledgement and delivery until then. A refusal
 * changes nothing. A failed transaction is rolled back and the room
 * reread from the store, so memory never runs ahead of the disk.
 *
 * A room whose state could not be reread from the store after a failed
 * write (relay_room_reload, or the reread inside a failed step) is
 * `failed`: its memory may be stale, so every later call refuses
 * (FKEX_RELAY_E_INTERNAL) and the daemon stops serving it.
 *
 * Times come in as parameters, in ms. Cost: a step is O(1) SQLite
 * writes, except a commit and its settling: O(n) (its slices and the
 * roster, rewritten whole).
 */
#ifndef FKEX_RELAY_ROOM_H
#define FKEX_RELAY_ROOM_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/error.h"
#include "gke/relay_rules.h"
#include "relay/store.h"

#define RELAY_LOG_KEEP 100000u                      /* log rows (seqs) kept per room */
/* Why a `failed` room refuses (ERROR 9). */
#define RELAY_OUT_OF_SERVICE "this room is out of service at this relay: its store could not be reread"

/* Creates a room from the admin-signed descriptor and the admin's
 * signature naming its founder (fkex_relay_create_sign). Errors: decoding,
 * FKEX_ERR_AUTHENTICATION, FKEX_ERR_REPLAY (exists), FKEX_ERR_IO. */
fkex_err relay_room_create(relay_room **r, relay_store *s, const uint8_t *desc, size_t len,
                           const uint8_t founder[32], const uint8_t sig[64]) FKEX_WUR;
/* Resumes a room from the store (everyone offline). FKEX_ERR_WRONG_ROOM if
 * there is none. */
fkex_err relay_room_load(relay_room **r, relay_store *s, const uint8_t room_id[32]) FKEX_WUR;
void relay_room_free(relay_room *r);
/* Rereads the room from the store, keeping the online flags (after a
 * batch that failed as a whole, relay/store.h). On an error the room is
 * marked failed (see above). */
fkex_err relay_room_reload(relay_room *r) FKEX_WUR;

/* relay_rules_submit, persisted. Returns 0 when accepted (out->seq,
 * out->d), or the FKEX_RELAY_E_* code of the refusal (out->why; nothing
 * stored, nothing delivered). */
int relay_room_submit(relay_room *r, const uint8_t from[32], const uint8_t source[16],
                      const uint8_t *msg, size_t len, uint64_t now, relay_out *out) FKEX_WUR;
/* relay_rules_tick (or a seed room's removals), persisted. 0 or a code. */
int relay_room_tick(relay_room *r, uint64_t now, relay_out *out) FKEX_WUR;
/* relay_rules_set_descriptor, persisted (a seed room keeps its policy). */
int relay_room_set_descriptor(relay_room *r, const uint8_t *desc, size_t len,
                              relay_out *out) FKEX_WUR;
/* relay_rules_drop_pending, persisted. */
int relay_room_drop_pending(relay_room *r, uint32_t *version, relay_out *out) FKEX_WUR;
/* relay_rules_kick, persisted (a seed room has no kick). */
int relay_room_kick(relay_room *r, const uint8_t *kick, size_t len, relay_out *out) FKEX_WUR;
/* A member's connection came or went (relay_rules_set_online; a seed
 * room's member is removed at the next tick once gone past the grace). */
void relay_room_set_online(relay_room *r, const uint8_t v[32], int online);

/* What v missed: its frames with seq > after, in seq order, stopping once
 * they pass max_bytes (0: no limit; a page holds at least one frame) with
 * out->more set, so that a daemon can send a long replay page by page as
 * the connection drains. FKEX_RELAY_E_HISTORY_GONE if some were pruned. */
int relay_room_replay(relay_room *r, const uint8_t v[32], uint64_t after, size_t max_bytes,
                      relay_out *out) FKEX_WUR;

/* For relay/seed_room.c: ends a step begun with relay_store_begin, as
 * relay_room_submit ends its own: what out says changed is written, the
 * log pruned, the counters stored, and the transaction committed (or,
 * on a code or an error, rolled back, and on an error the room reread). */
int relay_room_step_end(relay_room *r, int code, fkex_err err, relay_out *out) FKEX_WUR;

#endif
