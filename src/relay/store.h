/*
 * relay/store.h: what the relay keeps in SQLite, so that it can replay
 * what a member missed and resume every room after a restart.
 *
 *   rooms(room_id, descriptor, epoch, next_seq)
 *   members(room_id, v, position, state, since)   the roster, by leaf key V
 *                                  (state 1, or 2: kicked by the admin)
 *   log(room_id, seq, recipient V or NULL, frame) every accepted delivery
 *   commits(room_id, hash, epoch, won, seq)        the commit that settled each
 *                                  epoch (won 1) and the candidates that lost (0)
 *   candidates(room_id, hash, epoch, position, committer, commit_bytes)
 *                                  the current epoch's candidate commits, in
 *                                  the relay's order, until one is settled
 *   held(room_id, commit_hash, recipient, frame)  Welcomes waiting for their commit
 *   joins(room_id, joiner_id, v, sponsor, state, sent_at, request)
 *   pending(room_id, descriptor)   the admin's next descriptor, until a commit carries it
 *   seed_rooms(room_id, next_index)        a seed-mode room's next index
 *   seed_entries(room_id, idx, ct)         its members' encapsulations
 *
 * A broadcast is one log row with recipient NULL: it is a member's if its
 * seq is above the member's `since` (the seq of the commit that added it).
 * A path commit is one row per recipient (its slice); everything else
 * addressed (JoinRequest, Challenge, Proof, Welcome) is one row.
 *
 * The database runs in WAL mode with synchronous=FULL: a committed
 * transaction is on disk, which is what lets the relay acknowledge. The
 * caller brackets each step in relay_store_begin/commit (or rollback);
 * every statement is prepared once at open. The store makes no decision
 * (gke/relay_rules.c does) and holds no SQL for anyone else: relay/room.c
 * writes the state a step changed through the functions below.
 *
 * Pruning is by seq: relay_store_log_prune drops a room's rows below a seq
 * (relay/room.c keeps the last RELAY_LOG_KEEP). A client whose last seq
 * is older than the first kept row cannot be replayed to and must rejoin.
 */
#ifndef FKEX_RELAY_STORE_H
#define FKEX_RELAY_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/error.h"
#include "gke/relay_rules.h"

typedef struct relay_store relay_store;   /* (gke/relay_rules.h names it) */

/* Opens (creating) the database at path: an fkex relay database, or an
 * empty one (any other SQLite database is refused). On failure, a
 * sentence in err. */
fkex_err relay_store_open(relay_store **s, const char *path, char *err, size_t errlen) FKEX_WUR;
/* The daemon's claim on the database at path, before it opens it: the
 * file (created mode 0600 if it is not there) locked for this process
 * alone (flock), so that a second relay on it is refused instead of
 * corrupting the first's rooms. The descriptor to keep open while serving
 * (close it after relay_store_close), or -1 with a sentence in err. */
int relay_store_claim(const char *path, char *err, size_t errlen) FKEX_WUR;
void relay_store_close(relay_store *s);
/* How far a committed transaction is durable. full (the default,
 * synchronous=FULL): on disk, through a power loss. Otherwise
 * (synchronous=NORMAL in WAL mode): through a crash of the relay, but the
 * last transactions may roll back if the machine loses power, as with a
 * broker that fsyncs on a timer (NATS JetStream's default). */
fkex_err relay_store_set_sync(relay_store *s, int full) FKEX_WUR;
/* on = 0: this connection never checkpoints (relay/checkpoint.h does it
 * from another thread); on = 1: SQLite's default, every 1000 pages. */
fkex_err relay_store_autocheckpoint(relay_store *s, int on) FKEX_WUR;
/* SQLite's last error message (for logs). */
const char *relay_store_error(const relay_store *s);
fkex_err relay_store_begin(relay_store *s) FKEX_WUR;
fkex_err relay_store_commit(relay_store *s) FKEX_WUR;
void relay_store_rollback(relay_store *s);

/* Group commit. Between batch_begin and batch_end, begin/commit/rollback
 * are a savepoint, its release and its rollback: each step still succeeds
 * or fails alone, while the batch reaches the disk in one transaction
 * (one fsync of the WAL) at batch_end. Nothing of a batch may be
 * acknowledged before batch_end returns FKEX_OK; on an error the whole
 * batch is rolled back and the caller rereads what it kept in memory. */
fkex_err relay_store_batch_begin(relay_store *s) FKEX_WUR;
fkex_err relay_store_batch_end(relay_store *s) FKEX_WUR;

/* Errors here: FKEX_ERR_IO (SQLite failed), FKEX_ERR_NO_MEMORY,
 * FKEX_ERR_WRONG_ROOM (no such room), FKEX_ERR_REPLAY (exists already). */
fkex_err relay_store_room_insert(relay_store *s, const uint8_t room_id[32], const uint8_t *desc,
                                 size_t len) FKEX_WUR;
/* Any output may be NULL; *desc is malloc'd. */
fkex_err relay_store_room_get(relay_store *s, const uint8_t room_id[32], uint64_t *epoch,
                              uint64_t *next_seq, uint8_t **desc, size_t *desclen) FKEX_WUR;
fkex_err relay_store_room_set(relay_store *s, const uint8_t room_id[32], uint64_t epoch,
                              uint64_t next_seq) FKEX_WUR;
/* The room's descriptor, once a commit carrying a new one has won. */
fkex_err relay_store_descriptor_set(relay_store *s, const uint8_t room_id[32], const uint8_t *desc,
                                    size_t len) FKEX_WUR;
/* The admin's next descriptor (fkex room set-policy), kept until a commit
 * carries it: put replaces; get gives *desc NULL if there is none. */
fkex_err relay_store_pending_put(relay_store *s, const uint8_t room_id[32], const uint8_t *desc,
                                 size_t len) FKEX_WUR;
fkex_err relay_store_pending_get(relay_store *s, const uint8_t room_id[32], uint8_t **desc,
                                 size_t *len) FKEX_WUR;
fkex_err relay_store_pending_delete(relay_store *s, const uint8_t room_id[32]) FKEX_WUR;
/* Every room id, for resuming after a restart. *ids is malloc'd, 32 bytes each. */
fkex_err relay_store_rooms(relay_store *s, uint8_t (**ids)[32], size_t *n) FKEX_WUR;

/* Replaces the room's roster (V, since, kicked): O(n) rows. */
fkex_err relay_store_members_put(relay_store *s, const uint8_t room_id[32], const relay_member *m,
                                 uint32_t n) FKEX_WUR;
/* The roster in position order, everyone offline; *m is malloc'd. */
fkex_err relay_store_members_load(relay_store *s, const uint8_t room_id[32], relay_member **m,
                                  uint32_t *n) FKEX_WUR;

fkex_err relay_store_log_append(relay_store *s, const uint8_t room_id[32], uint64_t seq,
                                const uint8_t *recipient, const uint8_t *frame,
                                size_t len) FKEX_WUR;
typedef fkex_err (*relay_store_frame_fn)(void *ctx, uint64_t seq, const uint8_t *frame,
                                         size_t len);
/* Calls fn, in seq order, for every row after `after` addressed to v, and
 * every broadcast after max(after, since) (since = UINT64_MAX for a party
 * that is not a member). Stops at fn's first error and returns it. */
fkex_err relay_store_log_replay(relay_store *s, const uint8_t room_id[32], const uint8_t v[32],
                                uint64_t after, uint64_t since, relay_store_frame_fn fn,
                                void *ctx) FKEX_WUR;
/* Rows of the room at seq (for tests and checks). */
fkex_err relay_store_log_count(relay_store *s, const uint8_t room_id[32], uint64_t seq,
                               uint64_t *n) FKEX_WUR;
/* The lowest seq kept (0 if the log is empty). */
fkex_err relay_store_log_first(relay_store *s, const uint8_t room_id[32], uint64_t *seq) FKEX_WUR;
fkex_err relay_store_log_prune(relay_store *s, const uint8_t room_id[32], uint64_t below) FKEX_WUR;

/* The commit that settled (left) epoch `epoch`, its SETTLED at seq, and
 * the candidates that lost to it. */
fkex_err relay_store_settled_put(relay_store *s, const uint8_t room_id[32], uint64_t epoch,
                                 const uint8_t hash[32], uint64_t seq, const uint8_t (*lost)[32],
                                 size_t nlost) FKEX_WUR;
/* The commit that settled epoch `epoch`, if any (*found), and those that
 * lost to it (*lost malloc'd, or NULL if none). */
fkex_err relay_store_settled_get(relay_store *s, const uint8_t room_id[32], uint64_t epoch,
                                 uint8_t hash[32], int *found, uint8_t (**lost)[32],
                                 size_t *nlost) FKEX_WUR;

/* Replaces the room's candidate commits with c[0..n) (in that order). */
fkex_err relay_store_candidates_put(relay_store *s, const uint8_t room_id[32],
                                    const relay_candidate *c, size_t n) FKEX_WUR;
/* In the order put; *c is malloc'd, and each one's bytes. */
fkex_err relay_store_candidates_load(relay_store *s, const uint8_t room_id[32],
                                     relay_candidate **c, size_t *n) FKEX_WUR;
/* Replaces the room's held Welcomes with h[0..n). */
fkex_err relay_store_held_put(relay_store *s, const uint8_t room_id[32], const relay_held *h,
                              size_t n) FKEX_WUR;
/* In the order put; *h is malloc'd, and each one's bytes. */
fkex_err relay_store_held_load(relay_store *s, const uint8_t room_id[32], relay_held **h,
                               size_t *n) FKEX_WUR;

fkex_err relay_store_join_put(relay_store *s, const uint8_t room_id[32],
                              const relay_join *j) FKEX_WUR;
fkex_err relay_store_join_delete(relay_store *s, const uint8_t room_id[32],
                                 const uint8_t joiner_id[32]) FKEX_WUR;
/* *j is malloc'd, and each request in it. */
fkex_err relay_store_joins_load(relay_store *s, const uint8_t room_id[32], relay_join **j,
                                size_t *n) FKEX_WUR;

/* A seed-mode room's own state (relay/seed_room.c): its next index, and
 * each member's current encapsulation by index. */
fkex_err relay_store_seed_put(relay_store *s, const uint8_t room_id[32], uint32_t next_index,
                              uint32_t idx, const uint8_t *ct, size_t len) FKEX_WUR;
fkex_err relay_store_seed_delete(relay_store *s, const uint8_t room_id[32], uint32_t idx) FKEX_WUR;
typedef fkex_err (*relay_store_seed_fn)(void *ctx, uint32_t idx, const uint8_t *ct, size_t len);
/* *next_index (0 if the room has none yet), then fn for each entry in
 * index order; stops at fn's first error and returns it. */
fkex_err relay_store_seed_load(relay_store *s, const uint8_t room_id[32], uint32_t *next_index,
                               relay_store_seed_fn fn, void *ctx) FKEX_WUR;

#endif
