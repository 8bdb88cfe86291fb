/*
 * gke/ratchet_state.h: the ratchet state machine's private state, shared
 * by the files of src/gke that implement it:
 *   ratchet.c    creation, dispatch, proposals, acks, accessors
 *   roster.c     the roster's order after a commit, its hash, its checks
 *   schedule.c   the key schedule (PROTOCOL.md, "Key schedule")
 *   path.c       distribution of the commit secret by the ratchet tree (tree.c)
 *   admission.c  JoinRequest, Challenge, Proof, Welcome
 *   commit.c     building and applying commits
 *   appmsg.c     application messages and sender chains
 */
#ifndef FKEX_RATCHET_STATE_H
#define FKEX_RATCHET_STATE_H

#include "gke/ratchet.h"
#include "gke/tree.h"

#define RATCHET_MAX_SKIP FKEX_CHAIN_MAX_SKIP   /* generations a receiver may skip ahead */
#define RATCHET_MAX_PENDING 64     /* joins a sponsor tracks at once */

/* The secrets of one epoch that outlive its key schedule. */
typedef struct {
    uint64_t epoch;
    uint8_t init_secret[32];
    uint8_t add_secret[32];         /* keys the commit secret of add-only commits */
    uint8_t encryption_secret[32];
    uint8_t membership_key[32];
    uint8_t confirmation_key[32];
    uint8_t epoch_authenticator[32];
    uint8_t transcript_hash[32];
    uint8_t roster_hash[32];
    uint8_t tree_hash[32];
} epoch_keys;

/* A sender's hash chain in one epoch (PROTOCOL.md, application messages;
 * crypto/chain.h, which direct conversations share). */
typedef fkex_chain chain;

/* A subtree of the secret tree: the secret of leaves lo .. hi-1. */
typedef struct {
    uint32_t lo, hi;
    uint8_t secret[32];
} tree_node;

/* What a member keeps of an epoch to read its messages (and to check late
 * JoinAcks). Sender chains come from a secret tree over the roster (see
 * appmsg.c): the frontier holds the subtrees nobody has derived yet, so
 * encryption_secret itself is not kept. */
typedef struct {
    int valid;
    uint64_t epoch;
    uint32_t nleaves;
    fkex_leaf *leaves;
    chain **chains;                 /* per sender, made on first use */
    tree_node *frontier;            /* room for frontier_cap nodes, never more than nleaves */
    size_t nfrontier, frontier_cap;
    uint8_t confirmation_key[32];
    uint8_t transcript_hash[32];
    uint8_t commit_hash[32];        /* H(content) of the commit that began it; zero at founding */
} reading_epoch;

/* A sponsor's view of one joiner (PROTOCOL.md, join steps 2 to 4). */
typedef struct {
    uint8_t joiner_id[32];
    fkex_leaf leaf;
    uint8_t th[32];
    uint8_t k_w[32];
    int admitted;
    int committed;      /* a commit of this member's, not yet answered, adds it */
} pending_join;

/* A commit this member sent, waiting for the relay's order. */
typedef struct {
    int active;
    uint8_t content_hash[32];
    uint8_t commit_secret[32];
    uint8_t psk[32];
    int has_psk;
    int has_path;                   /* a path rotates the leaf's X */
    uint8_t new_hpke_sk[32];
    uint8_t new_hpke_pk[32];
    tree_private tpriv;             /* this member's tree keys after its path */
    int has_update;
    uint8_t new_sig_sk[64];         /* an Update rotates V too */
} pending_commit;

/* A checked descriptor and the policy it makes effective. */
typedef struct {
    uint8_t *bytes;
    size_t len;
    uint8_t hash[32];
    uint8_t admin_pk[32];
    uint32_t version;
    uint32_t options;
    char *policy_text;              /* canonical, as the descriptor has it */
    fkex_policy *policy;            /* effective: with the period if required */
} room_descriptor;

/* A roster and its hash (roster.c). */
typedef struct {
    fkex_leaf *leaves;
    uint32_t n;
    uint32_t *from;          /* new index -> old index, UINT32_MAX for a joiner; NULL if whole */
    uint8_t (*chunks)[32];   /* hashes of its chunks of 32 leaves */
    uint8_t hash[32];        /* H(roster) */
} roster;

/* Everything a new epoch needs that can fail, made before any state
 * changes, so that installing it cannot fail. roster.leaves is a view of
 * reading.leaves, which owns the array. */
typedef struct {
    roster roster;
    ratchet_tree tree;
    tree_private tpriv;
    uint8_t *acked;
    reading_epoch reading;
    int has_room;
    room_descriptor room;
} next_epoch;

/* Version 2: the first candidate commit of the epoch that passed every
 * check here, prepared but not installed until the relay settles it
 * (SETTLED names the commit of the room's first EpochAck). */
typedef struct {
    int active;
    uint8_t commit_hash[32];
    uint8_t *commit;                /* its bytes (this member's view), for the events */
    size_t commit_len;
    uint32_t committer;             /* its committer's index in the epoch */
    int own;                        /* this member's own commit */
    fkex_err gone;                  /* FKEX_ERR_UNEXPECTED: it stays; FKEX_OK: it removes this
                                       member; FKEX_ERR_POLICY_UNSATISFIED: this member fell out */
    next_epoch next;
    epoch_keys keys;
} tentative_epoch;

/* Candidates that came after the tentative one, kept in case the relay
 * settles one of them instead (checked then): at most one per committer,
 * as the relay takes at most one per committer and epoch. */
typedef struct {
    uint8_t hash[32];
    uint32_t committer;
    uint8_t *bytes;
    size_t len;
} kept_candidate;

typedef enum {
    RATCHET_JOIN_SENT = 1,   /* joiner: JoinRequest out, waiting for a Challenge */
    RATCHET_PROOF_SENT,      /* joiner: Proof out, waiting for the Welcome */
    RATCHET_MEMBER,
    RATCHET_GONE             /* removed, left, or the join aborted */
} ratchet_phase;

struct fkex_ratchet {
    ratchet_phase phase;
    uint8_t room_id[32];
    const fkex_key *abe_key;

    /* The room: the current descriptor and its effective policy. */
    room_descriptor room;
    char *period;                   /* for FKEX_ROOM_REQUIRE_PERIOD */

    /* This member's leaf. */
    uint8_t sig_sk[64];
    uint8_t hpke_sk[32];
    fkex_leaf self;
    uint8_t leaf_id[32];
    uint32_t index;

    /* The group at the current epoch. leaves is current.leaves, which
     * owns the array (NULL once gone). */
    uint32_t nleaves;
    const fkex_leaf *leaves;
    uint8_t (*chunks)[32];          /* the roster's chunk hashes (roster.c) */
    ratchet_tree tree;              /* its leaves are the roster's X, in order */
    tree_private tpriv;
    uint8_t *acked;
    epoch_keys keys;
    uint32_t send_generation;
    uint8_t send_ck[32];            /* this member's chain; all-zero when it has none */
    reading_epoch current, previous;

    /* Sponsor and committer: joins in arrival order; when the table is
     * full, a new JoinRequest evicts the oldest join not yet admitted. */
    pending_join joins[RATCHET_MAX_PENDING];
    size_t njoins;
    uint8_t (*removals)[32];        /* V of each member proposed for removal */
    size_t nremovals;
    pending_commit commit;

    /* Commits for the current epoch, until the relay settles one. */
    tentative_epoch tentative;
    kept_candidate *candidates;
    size_t ncandidates, candcap;

    /* Joiner. */
    uint64_t join_epoch;            /* the epoch the Challenge named */
    uint8_t *join_request;
    size_t join_request_len;
    uint8_t k_j[32];
    uint8_t th[32];
    uint8_t k_w[32];
    uint8_t sponsor_pk[32];
};

/* ---- roster.c ------------------------------------------------------------------ */
void ratchet_leaf_id(uint8_t id[32], const fkex_leaf *leaf);
/* FKEX_ERR_BAD_ENCODING if a signing key or an HPKE key appears twice. O(n). */
fkex_err ratchet_roster_unique(const fkex_leaf *leaves, uint32_t n) FKEX_WUR;
/* A roster given whole (founding, a Welcome), hashed in full; leaves taken
 * (freed on failure too). */
fkex_err roster_whole(roster *out, fkex_leaf *leaves, uint32_t n) FKEX_WUR;
/* The roster after commit c: its indices in range, every new key usable
 * and unique; only the chunks it touched are rehashed. */
fkex_err roster_next(roster *out, const fkex_ratchet *st, const fkex_rmsg_commit *c) FKEX_WUR;
void roster_free(roster *r);

/* ---- ratchet.c -------------------------------------------------------------------- */
/* Checks a descriptor for this room (and, if the room has one already,
 * that it comes from the same admin with a higher version); d gets a copy
 * and the effective policy under st's period. */
fkex_err ratchet_descriptor_prepare(room_descriptor *d, const fkex_ratchet *st,
                                    const uint8_t *bytes, size_t len) FKEX_WUR;
void ratchet_descriptor_free(room_descriptor *d);
/* Prepares epoch keys->epoch: takes r and tree (freed on failure too)
 * and a copy of tpriv. c is the commit that makes it, or NULL (founding,
 * a Welcome); descriptor, if not NULL, the room's new descriptor. */
fkex_err ratchet_prepare_epoch(next_epoch *n, const fkex_ratchet *st, const epoch_keys *keys,
                               roster *r, ratchet_tree *tree, const tree_private *tpriv,
                               const fkex_rmsg_commit *c, const uint8_t *descriptor,
                               size_t descriptor_len) FKEX_WUR;
/* Installs it; n is emptied. Cannot fail. */
void ratchet_install_epoch(fkex_ratchet *st, next_epoch *n, const epoch_keys *keys);
void ratchet_next_epoch_free(next_epoch *n);
void ratchet_group_context(fkex_group_context *c, const fkex_ratchet *st);
/* What is kept of that epoch (the current or the previous one), or NULL. */
reading_epoch *ratchet_reading(fkex_ratchet *st, uint64_t epoch);
void ratchet_wipe_join(fkex_ratchet *st);
/* This party is done (removed, fallen out, or its join aborted): every
 * secret is wiped now, not at fkex_ratchet_free. */
void ratchet_gone(fkex_ratchet *st);
/* Forgets the admissions in progress (their keys are wiped). */
void ratchet_drop_joins(fkex_ratchet *st);
/* Remove(target) proposal with its membership tag; evidence is the hash of
 * a commit that shows why, or NULL. */
fkex_err ratchet_propose(fkex_ratchet *st, uint32_t target, const uint8_t evidence[32],
                         fkex_gke_out *out) FKEX_WUR;
/* JoinAck's tag: MAC(confirmation_key, "ack" || leaf_id || transcript_hash). */
void ratchet_ack_tag(uint8_t tag[32], const uint8_t confirmation_key[32],
                     const uint8_t transcript_hash[32], const uint8_t leaf_id[32]);
/* This member's JoinAck for the epoch of keys, whose roster is leaves:
 * after a Welcome, and after a re-attestation. */
fkex_err ratchet_ack(fkex_gke_out *out, const fkex_ratchet *st, const epoch_keys *keys,
                     const fkex_leaf *leaves, uint32_t nleaves) FKEX_WUR;
fkex_err ratchet_sign_append(fkex_writer *w, const uint8_t sk[64], const char *label) FKEX_WUR;
fkex_err ratchet_emit(fkex_gke_out *out, fkex_writer *w) FKEX_WUR;

/* ---- schedule.c ------------------------------------------------------------- */
/* epoch_secret = Extract(init_secret, commit_secret || psk), then the
 * epoch's keys under context = room_id || epoch || transcript || H(roster)
 * || H(tree). */
void schedule_next(epoch_keys *next, uint8_t epoch_secret[32], const uint8_t init_secret[32],
                   const uint8_t commit_secret[32], const uint8_t *psk,
                   const uint8_t room_id[32], uint64_t epoch, const uint8_t transcript[32],
                   const uint8_t roster_hash[32], const uint8_t tree_hash[32]);
/* The epoch's keys from its epoch_secret (what a Welcome gives). */
void schedule_from_secret(epoch_keys *keys, const uint8_t epoch_secret[32],
                          const uint8_t room_id[32], uint64_t epoch,
                          const uint8_t transcript[32], const uint8_t roster_hash[32],
                          const uint8_t tree_hash[32]);
/* The context bytes: room_id || u64 epoch || transcript || roster hash || tree hash. */
#define SCHEDULE_CONTEXT_BYTES (32 + 8 + 32 + 32 + 32)
void schedule_context(uint8_t out[SCHEDULE_CONTEXT_BYTES], const uint8_t room_id[32],
                      uint64_t epoch, const uint8_t transcript[32], const uint8_t roster_hash[32],
                      const uint8_t tree_hash[32]);
void schedule_confirmation_tag(uint8_t tag[32], const epoch_keys *keys);

/* ---- path.c: distributing commit_secret to the members who stay ------------- */
/* The ratchet tree after commit c's removals and adds, not yet its path:
 * a copy of st's, with priv (a copy of st's) following this member's
 * leaf and *committer the committer's leaf in it. O(n) to copy. */
fkex_err dist_tree_next(ratchet_tree *out, tree_private *priv, uint32_t *committer,
                        const fkex_ratchet *st, const fkex_rmsg_commit *c) FKEX_WUR;
/* The committer, on the merged tree t of nleaves leaves whose last
 * njoiners are the commit's joiners: appends the u32 count and the path's
 * slices to w; each joiner gets its path secret in joiners[]. O(log n)
 * HPKE seals in a full tree. */
fkex_err dist_seal(fkex_writer *w, const ratchet_tree *t, const tree_update *u, uint32_t nleaves,
                   uint32_t njoiners, tree_joiner_secret *joiners, const uint8_t *info,
                   size_t infolen, fkex_rng *rng) FKEX_WUR;
/* A member, on the merged tree t: opens the commit's slice for its leaf,
 * one HPKE open and O(log n) key derivations; priv takes the path's keys.
 * FKEX_ERR_AUTHENTICATION if there is none or it does not hold. */
fkex_err dist_open(uint8_t commit_secret[32], tree_private *priv, const ratchet_tree *t,
                   uint32_t committer, const fkex_rmsg_commit *c, const uint8_t *info,
                   size_t infolen) FKEX_WUR;

/* ---- admission.c ------------------------------------------------------------- */
fkex_err admission_request(fkex_ratchet *st, fkex_rng *rng, fkex_gke_out *out) FKEX_WUR;
fkex_err admission_on_request(fkex_ratchet *st, const uint8_t *msg, size_t len, fkex_rng *rng,
                              fkex_gke_out *out) FKEX_WUR;
fkex_err admission_on_challenge(fkex_ratchet *st, const uint8_t *msg, size_t len,
                                fkex_gke_out *out) FKEX_WUR;
fkex_err admission_on_proof(fkex_ratchet *st, const uint8_t *msg, size_t len,
                            fkex_gke_out *out) FKEX_WUR;
fkex_err admission_on_welcome(fkex_ratchet *st, const uint8_t *msg, size_t len,
                              fkex_gke_out *out) FKEX_WUR;
/* The Welcome for an admitted joiner of a commit being built. */
/* Answers a JoinRequest (or Proof) this member refused with why: a
 * JoinRefused into out, unless nothing names the joiner. */
fkex_err admission_refuse(const fkex_ratchet *st, fkex_rmsg_type type, const uint8_t *msg,
                          size_t len, fkex_err why, fkex_gke_out *out) FKEX_WUR;
fkex_err admission_on_refused(fkex_ratchet *st, const uint8_t *msg, size_t len,
                              fkex_gke_out *out) FKEX_WUR;
/* Forgets pending join i, keeping the others in arrival order. */
void admission_drop(fkex_ratchet *st, size_t i);
/* js: the joiner's path secret, or NULL for a commit without a path. */
fkex_err admission_welcome(const fkex_ratchet *st, const pending_join *j,
                           const uint8_t content_hash[32], uint64_t epoch,
                           const uint8_t epoch_secret[32], const epoch_keys *keys,
                           const fkex_leaf *leaves, uint32_t nleaves, const ratchet_tree *tree,
                           const tree_joiner_secret *js, const uint8_t confirmation_tag[32],
                           fkex_gke_out *out) FKEX_WUR;

/* ---- commit.c ------------------------------------------------------------------ */
/* A candidate commit for the current epoch: the first that passes every
 * check becomes the tentative epoch and is acknowledged (EpochAck); a
 * signed one that fails the membership tag, or a confirmation tag its
 * signer alone answers for, makes this member propose removing the signer. */
fkex_err commit_on_commit(fkex_ratchet *st, const uint8_t *msg, size_t len,
                          fkex_gke_out *out) FKEX_WUR;
/* SETTLED: installs the settled commit, or, if it cannot be applied
 * here, leaves the room with FKEX_GKE_EV_LOST. */
fkex_err commit_on_settled(fkex_ratchet *st, const uint8_t *msg, size_t len,
                           fkex_gke_out *out) FKEX_WUR;
/* Forgets the tentative epoch and the kept candidates. */
void commit_forget_candidates(fkex_ratchet *st);
/* EpochAck's tag: MAC(confirmation_key, "epoch" || commit_hash || leaf_id). */
void commit_epoch_ack_tag(uint8_t tag[32], const uint8_t confirmation_key[32],
                          const uint8_t commit_hash[32], const uint8_t leaf_id[32]);

/* ---- appmsg.c ------------------------------------------------------------------- */
fkex_err appmsg_on_message(fkex_ratchet *st, const uint8_t *msg, size_t len,
                           fkex_gke_out *out) FKEX_WUR;
/* The reading epoch of keys over the roster leaves, which it takes on
 * every path (freed by appmsg_reading_wipe, or here on failure). */
fkex_err appmsg_reading_init(reading_epoch *r, const epoch_keys *keys, fkex_leaf *leaves,
                             uint32_t nleaves) FKEX_WUR;
/* This member's own chain for the current epoch, from the tree. */
void appmsg_send_init(fkex_ratchet *st);
void appmsg_reading_wipe(reading_epoch *r);

#endif
