/*
 * relay/room.h: the relay's routing of one room, as pure functions over a
 * room struct and the store: no sockets, no clock (times come in as
 * parameters, in ms), no key that can read the room.
 *
 * It routes as gke/ratchet.h says and bench/room.c does in-process:
 *   JoinRequest  naming the room's descriptor (or the pending one, and
 *                then it waits until a commit installs it), to the
 *                sponsor: the first online roster member; if no
 *                Challenge comes within the sponsor timeout,
 *                relay_room_tick sends it to the next online member
 *   Challenge    from the named sponsor only, for the current epoch, to
 *                the joiner (joiner_id = H(V_J || X_J), learnt from its
 *                JoinRequest); late ones are stale
 *   Proof        from the joiner, to the sponsor that challenged it: the
 *                join is proved, and only that sponsor may add it
 *   JoinRefused  from the named sponsor: to the joiner, and the join is
 *                forgotten (busy: to the next member instead)
 *   Commit       a candidate (PROTOCOL.md, version 2): checked (this
 *                epoch, signed by the committer it names, the roster's
 *                arithmetic, one slice per member who stays), stored and
 *                passed on to every member of the epoch, each with only
 *                its own slice (fkex_rmsg_commit_view). Not settled yet.
 *   EpochAck     for a candidate: the first from a member other than its
 *                committer settles the epoch on it (the committer's own
 *                only when nobody else who stays is connected, or after
 *                the sponsor timeout): SETTLED to
 *                every member of the epoch, the roster moves as
 *                gke/roster.c moves it (removals, highest first, filled
 *                from the end; joiners appended; an Update re-binds the
 *                committer's V), the other candidates lose, then the ack
 *                goes to the new roster, then every join the commit did
 *                not add starts over with its sponsor (its Challenge named
 *                the old epoch); later acks for the settled
 *                commit are taken and not passed on; others are stale
 *   Welcome      held until its commit (by content hash) wins, then to its
 *                joiner; dropped if that commit lost
 *   JoinAck, Remove, Application  from a member, to every member
 * A commit may carry the room's next descriptor: it must be the admin's,
 * for this room, of a higher version; when it wins, it is the descriptor
 * the relay gives joiners, and the pending one (if no newer) is done.
 * A join whose sponsor goes, or that is proved but not committed within
 * twice the sponsor timeout, starts over with the next member; one whose
 * joiner does not answer its Challenge within the timeout is forgotten.
 * Parties are addressed by their leaf signing key V, which the daemon has
 * authenticated (HELLO/NONCE/AUTH): a member by its roster V, a joiner by
 * its JoinRequest's V. Beyond that the relay checks only what routing
 * needs: a commit comes from the roster member it names, adds no V twice
 * and removes indices that exist.
 *
 * Every accepted message is persisted, in one transaction, before
 * relay_room_submit returns; it gets the room's next seq (a held Welcome
 * gets one when it is released). Inside a store batch (group commit,
 * relay/store.h) that transaction is a savepoint, and the message is
 * persisted only when the batch ends: the caller holds every
 * acknowledgement and delivery until then. A broadcast is stored once; a path commit
 * once per recipient. A failed transaction is rolled back and the room
 * reloaded from the store, so memory never runs ahead of the disk.
 *
 * Abuse: a JoinRequest costs its sender nothing, so the relay bounds what
 * one costs the room. Each leaf key V has at most one join pending (one
 * session speaks for one V: one per connection); a second JoinRequest
 * from that V is refused as "too many joins" (FKEX_RELAY_E_BUSY), the
 * same one sent again is taken without storing it twice; a room holds at
 * most max_joins of them, one source address RELAY_MAX_JOINS_PER_SOURCE,
 * and other authorities (a ciphertext's) than the members' together
 * RELAY_MAX_JOINS_PER_AUTHORITY (each one alone, until the relay has seen
 * the members' authority);
 * each is at most RELAY_JOIN_REQUEST_MAX bytes;
 * and a JoinRequest takes a seq and a log row only when a sponsor is
 * named for it, so that joins nobody can serve evict no history.
 *
 * A room whose state could not be reread from the store after a failed
 * write (relay_room_reload, or the reread inside a failed step) is
 * `failed`: its memory may be stale, so every later call refuses
 * (FKEX_RELAY_E_INTERNAL) and the daemon stops serving it.
 *
 * Cost: a submit is O(1) SQLite writes, except a commit: O(n) (its slices
 * and the roster, rewritten whole).
 */
#ifndef FKEX_RELAY_ROOM_H
#define FKEX_RELAY_ROOM_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/error.h"
#include "relay/store.h"

#define RELAY_SPONSOR_TIMEOUT_MS 10000u
#define RELAY_JOIN_EXPIRY_MS (10u * 60u * 1000u)   /* a join stuck in any state is forgotten */
#define RELAY_MAX_JOINS 256                         /* pending joins per room */
#define RELAY_MAX_JOINS_PER_SOURCE 64               /* ... per address they come from */
#define RELAY_MAX_JOINS_PER_AUTHORITY 64            /* ... under other authorities than the room's */
/* A JoinRequest is V, X, an ABE ciphertext under the room's policy and a
 * signature: at most 1024 rows of 144 B plus the policy's text (under
 * 64 KiB) and headers, about 215 KiB. The relay keeps each pending one in
 * memory, so this bounds a room's joins at RELAY_MAX_JOINS x 256 KiB. */
#define RELAY_JOIN_REQUEST_MAX (256u << 10)
#define RELAY_LOG_KEEP 100000u                      /* log rows (seqs) kept per room */

typedef struct {
    uint8_t v[32];
    uint64_t since;         /* broadcasts after this seq are its */
    int online;             /* a session, or within the grace period after one */
    int connected;          /* a session now */
    int kicked;             /* by the admin: nothing it sends is taken */
} relay_member;

struct relay_seed;   /* relay/seed_room.h: what a seed-mode room keeps besides */

typedef struct {
    relay_store *store;
    uint8_t room_id[32];
    uint64_t epoch;
    uint64_t next_seq;
    relay_member *members;  /* the roster, in order */
    uint32_t nmembers;
    relay_store_join *joins;
    size_t njoins;
    uint64_t sponsor_timeout_ms;
    uint64_t keep;          /* seqs of log kept */
    /* The admin's next descriptor, until a commit carries it; handed to
     * one online member after another, a sponsor timeout apart. */
    uint8_t desc_hash[32];  /* H(the room's descriptor): what a JoinRequest must name */
    uint8_t authority[32];  /* the members' keys' authority, if has_authority: the first a */
    int has_authority;      /* join's sponsor named (Challenge or JoinRefused; not kept across
                             * a restart) */
    uint8_t *pending;
    size_t pendinglen;
    uint8_t pending_hash[32];   /* H(pending), while there is one: joiners name it, and wait */
    uint64_t pending_sent_at;
    uint32_t pending_turn;
    uint32_t pending_asked;     /* members it went to (each declined, or was silent) */
    uint8_t pending_to[32];     /* the last of them */
    uint8_t settled[32];    /* the commit that began the current epoch, if has_settled */
    int has_settled;
    uint8_t *self_ack;      /* a candidate's EpochAck by its committer alone, and since when */
    size_t self_ack_len;
    uint64_t self_ack_at;
    uint64_t gone_sent_at;  /* members offline past the grace, named to one member */
    uint32_t gone_turn;
    size_t max_joins;       /* pending joins (RELAY_MAX_JOINS) */
    int failed;             /* memory may be stale: refuse everything */
    /* Seed mode (FKEX_ROOM_SEED_MODE in the descriptor): the 2014
     * prototype's protocol, routed by relay/seed_room.c; NULL for a
     * ratchet room. grace_ms: how long a seed member that has not come
     * back after a restart keeps its place before the relay removes it. */
    struct relay_seed *seed;
    uint64_t grace_ms;
} relay_room;

/* One frame for one party. bytes point into the relay_out. */
typedef struct {
    uint8_t to[32];
    uint64_t seq;
    const uint8_t *bytes;
    size_t len;
} relay_delivery;

typedef struct {
    relay_delivery *d;
    size_t n, cap;
    uint8_t **frames;
    size_t nframes, framecap;
    uint64_t seq;           /* the accepted message's seq; 0 for a held Welcome, or a
                               JoinRequest waiting for a sponsor (or sent again) */
    const char *why;        /* for a refusal: a short sentence */
    int rebind;             /* a settled Update moved a member from one V to another: */
    uint8_t rebind_from[32];   /* the daemon re-binds its session */
    uint8_t rebind_to[32];
    int more;               /* relay_room_replay: the page is full; ask again after its last seq */
    uint32_t installed;     /* a settled commit installed the admin's descriptor of this
                               version (0: none): the admin waiting for it is told */
} relay_out;

void relay_out_init(relay_out *out);
void relay_out_clear(relay_out *out);

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

/* Returns 0 when accepted (out->seq, out->d), or the FKEX_RELAY_E_* code of
 * the refusal (out->why; nothing stored, nothing delivered). source is
 * where the sender connects from (relay_source), or NULL if unknown: it
 * bounds a source's pending joins. */
int relay_room_submit(relay_room *r, const uint8_t from[32], const uint8_t source[16],
                      const uint8_t *msg, size_t len, uint64_t now, relay_out *out) FKEX_WUR;
/* Sponsor timeouts: a JoinRequest that waited timeout ms without a
 * Challenge (or had nobody online) goes to the next online member; joins
 * stuck for RELAY_JOIN_EXPIRY_MS are forgotten. Returns 0 or a code. */
int relay_room_tick(relay_room *r, uint64_t now, relay_out *out) FKEX_WUR;
/* What v missed: its frames with seq > after, in seq order, stopping once
 * they pass max_bytes (0: no limit; a page holds at least one frame) with
 * out->more set, so that a daemon can send a long replay page by page as
 * the connection drains. FKEX_RELAY_E_HISTORY_GONE if some were pruned. */
int relay_room_replay(relay_room *r, const uint8_t v[32], uint64_t after, size_t max_bytes,
                      relay_out *out) FKEX_WUR;

/* The admin's next descriptor (SET_DESCRIPTOR): checked (this room, the
 * admin's signature, a version above the room's and any pending one) and
 * kept until a commit carrying it wins. Returns 0 or the code of the
 * refusal (out->why). */
int relay_room_set_descriptor(relay_room *r, const uint8_t *desc, size_t len,
                              relay_out *out) FKEX_WUR;
/* The pending descriptor, if it is due to be handed to a member now: the
 * first online one at once, then the next online one when the last
 * declines (relay_room_decline) or after a sponsor timeout, until a
 * commit carries it. 1 (to, *desc set), 0, or -1 when every online member
 * has had its turn and none committed it: then relay_room_drop_pending. */
int relay_room_pending_due(relay_room *r, uint64_t now, uint8_t to[32], const uint8_t **desc,
                           size_t *len);
/* Member `from` cannot commit the pending descriptor of that version (its
 * attributes fail the new policy): its turn ends now. 1 if it was its
 * turn, 0 otherwise (late: ignored). */
int relay_room_decline(relay_room *r, const uint8_t from[32], uint32_t version);
/* Nobody online could commit the pending descriptor: it is dropped (the
 * room keeps its policy), and the joins that waited for it are told to
 * fetch the room's descriptor again (JoinRefused, reason descriptor).
 * *version gets the dropped version. Returns 0 or a code. */
int relay_room_drop_pending(relay_room *r, uint32_t *version, relay_out *out) FKEX_WUR;
/* Members connected now (not in their grace period). */
uint32_t relay_room_connected(const relay_room *r);

/* The admin's kick (fkex room kick, wire/ratchet_msg.h): checked against
 * the room's admin key, it names exactly one member by pseudonym; the
 * relay marks it (nothing it sends is taken from now on) and passes the
 * kick to every member, one of whom commits the removal. Returns 0 or the
 * code of the refusal (out->why). */
int relay_room_kick(relay_room *r, const uint8_t *kick, size_t len, relay_out *out) FKEX_WUR;

/* Members that are offline (past the relay's grace period: the caller
 * asks only once every member has had that long to come back) are named
 * to an online member to remove, by turns as above: the number of them
 * copied to gone (at most max), with to set; 0 if none or not due. The
 * relay removes nobody itself (PROTOCOL.md: only a member commits). */
size_t relay_room_gone_due(relay_room *r, uint64_t now, uint8_t to[32], uint8_t (*gone)[32],
                           size_t max);

/* A member's connection came or went (sponsors are named among online ones). */
void relay_room_set_online(relay_room *r, const uint8_t v[32], int online);
/* Its connection went, its grace period begins: still online for the
 * sponsors, no longer connected (relay_member). */
void relay_room_set_away(relay_room *r, const uint8_t v[32]);
/* Its roster index, or -1. */
long relay_room_member(const relay_room *r, const uint8_t v[32]);

/* ---- for relay/seed_room.c, which routes seed-mode rooms over the same
 * room struct, store and log ---------------------------------------------- */
/* A copy of bytes that lives as long as out; NULL if out of memory. */
const uint8_t *relay_out_frame(relay_out *out, const uint8_t *bytes, size_t len);
fkex_err relay_out_add(relay_out *out, const uint8_t to[32], uint64_t seq, const uint8_t *bytes,
                       size_t len) FKEX_WUR;
/* Stores msg under the room's next seq (out->seq) for every member. */
fkex_err relay_room_broadcast(relay_room *r, const uint8_t *msg, size_t len,
                              relay_out *out) FKEX_WUR;
/* Ends a step begun with relay_store_begin: as relay_room_submit ends
 * its own (prune, counters, commit; or roll back and reread). */
int relay_room_step_end(relay_room *r, int code, fkex_err err, relay_out *out) FKEX_WUR;

#endif
