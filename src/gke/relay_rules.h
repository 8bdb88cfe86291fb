/*
 * gke/relay_rules.h: the ratchet relay's rules (PROTOCOL.md, version 2),
 * as a pure state machine over one room's state in memory: a step takes
 * the state, one input (a member's message, the admin's descriptor or
 * kick, a tick) and the time in ms, and gives the new state (in place),
 * the frames to send and what the step changed, for a store to persist.
 * No store, no socket, no clock, no key that can read the room: the
 * SQLite relay (relay/room.c) and any other backend run the same steps.
 *
 * It routes as gke/ratchet.h says and bench/room.c does in-process:
 *   JoinRequest  naming the room's descriptor (or the pending one, and
 *                then it waits until a commit installs it), to the
 *                sponsor: the first online roster member; if no
 *                Challenge comes within the sponsor timeout,
 *                relay_rules_tick sends it to the next online member
 *   Challenge    from the named sponsor only, for the current epoch, to
 *                the joiner (joiner_id = H(V_J || X_J), learnt from its
 *                JoinRequest); late ones are stale
 *   Proof        from the joiner, to the sponsor that challenged it: the
 *                join is proved, and only that sponsor may add it
 *   JoinRefused  from the named sponsor: to the joiner, and the join is
 *                forgotten (busy: to the next member instead)
 *   Commit       a candidate (PROTOCOL.md, version 2): checked (this
 *                epoch, signed by the committer it names, the roster's
 *                arithmetic, one slice per member who stays), kept and
 *                passed on to every member of the epoch, each with only
 *                its own slice (fkex_rmsg_commit_view). Not settled yet.
 *   EpochAck     for a candidate: the first from a member other than its
 *                committer settles the epoch on it (the committer's own
 *                only when nobody else who stays is connected, or after
 *                the sponsor timeout): SETTLED to every member of the
 *                epoch, the roster moves as gke/roster.c moves it
 *                (removals, highest first, filled from the end; joiners
 *                appended; an Update re-binds the committer's V), the
 *                other candidates lose, then the ack goes to the new
 *                roster, then every join the commit did not add starts
 *                over with its sponsor (its Challenge named the old
 *                epoch); later acks for the settled commit are taken and
 *                not passed on; others are stale
 *   Welcome      held until its commit (by content hash) wins, then to
 *                its joiner; dropped when the epoch settles on another
 *                (a Welcome may come before its commit); once its
 *                joiner's commit has won: to the joiner at once; for one
 *                of the candidates that lost at the last settle: stale
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
 * Every accepted message gets the room's next seq (a held Welcome gets one
 * when it is released) and becomes log rows (relay_out.rows): a broadcast
 * one row, a path commit one per recipient. A refused one (a nonzero
 * code, out->why) changes nothing: every refusal is decided before the
 * state moves. A step that fails (FKEX_ERR_NO_MEMORY) may have moved it
 * part way: the caller rereads the state from its store.
 *
 * Abuse: a JoinRequest costs its sender nothing, so the relay bounds what
 * one costs the room. Each leaf key V has at most one join pending (one
 * session speaks for one V: one per connection); a second JoinRequest
 * from that V is refused as "too many joins" (FKEX_RELAY_E_BUSY), the
 * same one sent again is taken without keeping it twice; a room holds at
 * most max_joins of them, one source address RELAY_MAX_JOINS_PER_SOURCE,
 * and other authorities (a ciphertext's) than the members' together
 * RELAY_MAX_JOINS_PER_AUTHORITY (each one alone, until the relay has seen
 * the members' authority); each is at most RELAY_JOIN_REQUEST_MAX bytes;
 * and a JoinRequest takes a seq and a log row only when a sponsor is
 * named for it, so that joins nobody can serve evict no history.
 *
 * Cost: a step is O(1) but a commit, O(n x slices) with slices < n.
 */
#ifndef FKEX_GKE_RELAY_RULES_H
#define FKEX_GKE_RELAY_RULES_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/error.h"

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

typedef struct {
    uint8_t v[32];
    uint64_t since;         /* broadcasts after this seq are its */
    int online;             /* a session, or within the grace period after one */
    int connected;          /* a session now */
    int kicked;             /* by the admin: nothing it sends is taken */
} relay_member;

#define RELAY_JOIN_WAITING 0      /* sent to a sponsor, no Challenge yet */
#define RELAY_JOIN_CHALLENGED 1   /* the sponsor answered: the joiner's Proof is due */
#define RELAY_JOIN_ADDED 2        /* its commit won; its Welcome is due */
#define RELAY_JOIN_PROPOSED 3     /* a candidate commit of its sponsor adds it */
#define RELAY_JOIN_PROVED 4       /* the joiner answered the Challenge: the sponsor commits */
typedef struct {
    uint8_t joiner_id[32];
    uint8_t v[32];
    uint8_t sponsor[32];
    int has_sponsor;
    int state;
    uint64_t sent_at;     /* ms */
    uint8_t *request;     /* the JoinRequest, to send again (owned) */
    size_t request_len;
    /* Not kept by a store across a restart (recomputed, or unknown): */
    uint8_t source[16];   /* where it came from (zero: unknown) */
    uint8_t authority[32];   /* its ciphertext's authority fingerprint */
} relay_join;

/* A candidate commit of the current epoch, whole (all slices). */
typedef struct {
    uint8_t hash[32];
    uint64_t epoch;
    uint32_t committer;
    uint8_t *bytes;       /* owned */
    size_t len;
} relay_candidate;

/* A Welcome waiting for its commit (a candidate) to win. */
typedef struct {
    uint8_t commit_hash[32];
    uint8_t to[32];       /* its joiner's V */
    uint8_t *bytes;       /* owned */
    size_t len;
} relay_held;

struct relay_seed;   /* relay/seed_room.h: what a seed-mode room keeps besides */
struct relay_store;

typedef struct {
    struct relay_store *store;   /* relay/room.c's: the rules never touch it */
    uint8_t room_id[32];
    uint64_t epoch;
    uint64_t next_seq;
    uint8_t *desc;          /* the room's descriptor (the admin's, newest installed) */
    size_t desclen;
    uint8_t desc_hash[32];  /* H(desc): what a JoinRequest must name */
    relay_member *members;  /* the roster, in order */
    uint32_t nmembers;
    relay_join *joins;
    size_t njoins;
    relay_candidate *candidates;   /* in the order they came */
    size_t ncandidates;
    relay_held *held;
    size_t nheld;
    uint64_t sponsor_timeout_ms;
    uint8_t authority[32];  /* the members' keys' authority, if has_authority: the first a */
    int has_authority;      /* join's sponsor named (Challenge or JoinRefused; not kept across
                             * a restart) */
    /* The admin's next descriptor, until a commit carries it; handed to
     * one online member after another, a sponsor timeout apart. */
    uint8_t *pending;
    size_t pendinglen;
    uint8_t pending_hash[32];   /* H(pending), while there is one: joiners name it, and wait */
    uint64_t pending_sent_at;
    uint32_t pending_turn;
    uint32_t pending_asked;     /* members it went to (each declined, or was silent) */
    uint8_t pending_to[32];     /* the last of them */
    uint8_t settled[32];    /* the commit that began the current epoch, if has_settled */
    int has_settled;
    uint8_t (*lost)[32];    /* the candidates that lost to it */
    size_t nlost;
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
    uint64_t keep;          /* seqs of log a store keeps */
} relay_room;

/* One frame for one party. bytes point into the relay_out. */
typedef struct {
    uint8_t to[32];
    uint64_t seq;
    const uint8_t *bytes;
    size_t len;
} relay_delivery;

/* A log row to append: for `to` alone, or (to_all) a broadcast, which is a
 * member's if its seq is above the member's `since`. */
typedef struct {
    uint64_t seq;
    int to_all;
    uint8_t to[32];
    const uint8_t *bytes;
    size_t len;
} relay_row;

/* What a step changed besides its rows and joins, for a store to write. */
#define RELAY_CHANGED_MEMBERS 1u      /* the roster (or a member's kicked flag) */
#define RELAY_CHANGED_DESCRIPTOR 2u   /* desc: a commit installed the admin's next one */
#define RELAY_CHANGED_PENDING 4u      /* pending: put, or done */
#define RELAY_CHANGED_CANDIDATES 8u
#define RELAY_CHANGED_HELD 16u
#define RELAY_CHANGED_SETTLED 32u     /* settled and lost: the epoch before the current one ended */

typedef struct {
    relay_delivery *d;
    size_t n, cap;
    uint8_t **frames;
    size_t nframes, framecap;
    relay_row *rows;
    size_t nrows, rowcap;
    uint8_t (*joins)[32];   /* joins whose state moved: kept, or (no longer in the room) gone */
    size_t njoins, joincap;
    unsigned changed;       /* RELAY_CHANGED_* */
    uint64_t settled_seq;   /* with RELAY_CHANGED_SETTLED: the SETTLED frame's seq */
    uint64_t seq;           /* the accepted message's seq; 0 for a held Welcome, or a
                               JoinRequest waiting for a sponsor (or sent again) */
    const char *why;        /* for a refusal: a short sentence */
    int rebind;             /* a settled Update moved a member from one V to another: */
    uint8_t rebind_from[32];   /* the daemon re-binds its session */
    uint8_t rebind_to[32];
    int more;               /* a replay page is full; ask again after its last seq */
    uint32_t installed;     /* a settled commit installed the admin's descriptor of this
                               version (0: none): the admin waiting for it is told */
} relay_out;

void relay_out_init(relay_out *out);
void relay_out_clear(relay_out *out);
/* A copy of bytes that lives as long as out; NULL if out of memory. */
const uint8_t *relay_out_frame(relay_out *out, const uint8_t *bytes, size_t len);
/* A delivery of bytes (from relay_out_frame; NULL: FKEX_ERR_NO_MEMORY). */
fkex_err relay_out_add(relay_out *out, const uint8_t to[32], uint64_t seq, const uint8_t *bytes,
                       size_t len) FKEX_WUR;
/* A log row of bytes (from relay_out_frame), for to or (NULL) everyone. */
fkex_err relay_out_row(relay_out *out, const uint8_t *to, uint64_t seq, const uint8_t *bytes,
                       size_t len) FKEX_WUR;

/* A new room's state from its admin-signed descriptor and the admin's
 * signature naming its founder (fkex_relay_create_sign): epoch 0, seq 1,
 * the founder its one member (a seed room's founder joins like anyone).
 * Errors: decoding, FKEX_ERR_AUTHENTICATION, FKEX_ERR_NO_MEMORY. */
fkex_err relay_rules_create(relay_room **r, const uint8_t *desc, size_t len,
                            const uint8_t founder[32], const uint8_t sig[64]) FKEX_WUR;
/* An empty state for room_id, with the defaults, for a store to fill. */
relay_room *relay_rules_new(const uint8_t room_id[32]);
void relay_rules_free(relay_room *r);
/* desc becomes the room's descriptor (a copy; desc_hash follows). */
fkex_err relay_rules_set_desc(relay_room *r, const uint8_t *desc, size_t len) FKEX_WUR;
void relay_rules_free_joins(relay_join *j, size_t n);
void relay_rules_free_candidates(relay_candidate *c, size_t n);
void relay_rules_free_held(relay_held *h, size_t n);
/* The authority of each join (recomputed from its request). */
void relay_rules_join_authorities(relay_room *r);

/* A member's (or a joiner's) message, from V `from`. Returns 0 when
 * accepted (out->seq, deliveries, rows), or the FKEX_RELAY_E_* code of
 * the refusal (out->why; nothing changed). source is where the sender
 * connects from, or NULL if unknown: it bounds a source's pending joins.
 * err gets FKEX_ERR_NO_MEMORY if the step could not finish. */
int relay_rules_submit(relay_room *r, const uint8_t from[32], const uint8_t source[16],
                       const uint8_t *msg, size_t len, uint64_t now, relay_out *out,
                       fkex_err *err) FKEX_WUR;
/* Sponsor timeouts: a JoinRequest that waited the timeout without a
 * Challenge (or had nobody online) goes to the next online member; joins
 * stuck for RELAY_JOIN_EXPIRY_MS are forgotten; a committer's own ack
 * settles when due. */
fkex_err relay_rules_tick(relay_room *r, uint64_t now, relay_out *out) FKEX_WUR;
/* The admin's next descriptor (SET_DESCRIPTOR): checked (this room, the
 * admin's signature, a version above the room's and any pending one) and
 * kept until a commit carrying it wins. 0 or the code of the refusal. */
int relay_rules_set_descriptor(relay_room *r, const uint8_t *desc, size_t len, relay_out *out,
                               fkex_err *err) FKEX_WUR;
/* Nobody online could commit the pending descriptor: it is dropped (the
 * room keeps its policy), and the joins that waited for it are told to
 * fetch the room's descriptor again (JoinRefused, reason descriptor).
 * *version gets the dropped version. */
fkex_err relay_rules_drop_pending(relay_room *r, uint32_t *version, relay_out *out) FKEX_WUR;
/* The admin's kick (fkex room kick, wire/ratchet_msg.h): checked against
 * the room's admin key, it names exactly one member by pseudonym; the
 * relay marks it (nothing it sends is taken from now on) and passes the
 * kick to every member, one of whom commits the removal. 0 or the code
 * of the refusal. */
int relay_rules_kick(relay_room *r, const uint8_t *kick, size_t len, relay_out *out,
                     fkex_err *err) FKEX_WUR;
/* msg under the room's next seq (out->seq), to every member: one row. */
fkex_err relay_rules_broadcast(relay_room *r, const uint8_t *msg, size_t len,
                               relay_out *out) FKEX_WUR;

/* The pending descriptor, if it is due to be handed to a member now: the
 * first online one at once, then the next online one when the last
 * declines (relay_room_decline) or after a sponsor timeout, until a
 * commit carries it. 1 (to, *desc set), 0, or -1 when every online member
 * has had its turn and none committed it: then drop it. */
int relay_room_pending_due(relay_room *r, uint64_t now, uint8_t to[32], const uint8_t **desc,
                           size_t *len);
/* Member `from` cannot commit the pending descriptor of that version (its
 * attributes fail the new policy): its turn ends now. 1 if it was its
 * turn, 0 otherwise (late: ignored). */
int relay_room_decline(relay_room *r, const uint8_t from[32], uint32_t version);
/* Members connected now (not in their grace period). */
uint32_t relay_room_connected(const relay_room *r);
/* Members that are offline (past the relay's grace period: the caller
 * asks only once every member has had that long to come back) are named
 * to an online member to remove, by turns as above: the number of them
 * copied to gone (at most max), with to set; 0 if none or not due. The
 * relay removes nobody itself (PROTOCOL.md: only a member commits). */
size_t relay_room_gone_due(relay_room *r, uint64_t now, uint8_t to[32], uint8_t (*gone)[32],
                           size_t max);
/* A member's connection came or went (sponsors are named among online ones). */
void relay_rules_set_online(relay_room *r, const uint8_t v[32], int online);
/* Its connection went, its grace period begins: still online for the
 * sponsors, no longer connected (relay_member). */
void relay_room_set_away(relay_room *r, const uint8_t v[32]);
/* Its roster index, or -1. */
long relay_room_member(const relay_room *r, const uint8_t v[32]);

#endif
