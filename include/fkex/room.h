/*
 * fkex/room.h: a room's state machine (ratchet mode: PROTOCOL.md), for a
 * program that runs a member itself: it carries the frames between this
 * state and a relay, and shows the events.
 *
 * A step takes one input (a room message the relay delivered, or a local
 * command) and appends to an fkex_gke_out the messages to send
 * (to = FKEX_GKE_TO_ROOM: to the relay, which routes them by type) and the
 * events for the application. A step does no I/O, reads no clock and takes
 * randomness as a parameter. It returns FKEX_OK when it accepted the
 * input; any other value means the input was refused and the state is as
 * it was (what the step appended is discarded by the step itself).
 *
 * The relay protocol around the room messages (HELLO, AUTH, SUBMIT,
 * DELIVER: docs/FORMATS.md) is the caller's; `fkex chat` speaks it.
 *
 * Threads: one state, one thread at a time; its ABE key is shared with
 * it (fkex/authority.h's rule). The out buffer owns the bytes of its
 * messages and events; fkex_gke_out_clear frees them (wiping plaintexts).
 */
#ifndef FKEX_ROOM_H
#define FKEX_ROOM_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/error.h"
#include "fkex/rng.h"
#include "fkex/authority.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- what a step gives -------------------------------------------------- */
/* Where a message goes. FKEX_GKE_TO_ROOM hands it to the relay, which
 * routes it by its type (broadcast, sponsor, slices); any other value is
 * a member's index in the current roster (used by the gdh2 chain). */
#define FKEX_GKE_TO_ROOM 0xffffffffu

typedef struct {
    uint32_t to;
    uint8_t *bytes;
    size_t len;
} fkex_gke_msg;

typedef enum {
    FKEX_GKE_EV_EPOCH = 1,  /* a new epoch began: epoch, members */
    FKEX_GKE_EV_JOINED,     /* this party is now a member: epoch, members, member = own index */
    FKEX_GKE_EV_ADDED,      /* member (its index in the new epoch) was added */
    FKEX_GKE_EV_REMOVED,    /* member (its index in the old epoch) was removed */
    FKEX_GKE_EV_LEFT,       /* this party is no longer a member */
    FKEX_GKE_EV_ADMITTED,   /* sponsor: a joiner proved its attributes; commit to add it */
    FKEX_GKE_EV_ABORTED,    /* joiner: the join failed for the reason in err */
    FKEX_GKE_EV_MESSAGE,    /* data = plaintext from member, in epoch */
    /* Version 2 (ratchet): */
    FKEX_GKE_EV_LOST,       /* this party cannot apply the commit the relay settled (its
                               slice did not open, say): its state is wiped; re-enter
                               through admission with a fresh pseudonym */
    FKEX_GKE_EV_FORK,       /* member's EpochAck or JoinAck for epoch names another commit
                               or fails its MAC: the room may be forked; err says which */
    FKEX_GKE_EV_MISBEHAVED, /* member signed a commit that fails a tag it answers for
                               (data = the commit's hash): its removal was proposed */
    FKEX_GKE_EV_KICKED,     /* the room's admin kicked member (data = the reason): its
                               removal is pending here; if member is this party's own
                               index, this party is gone */
    FKEX_GKE_EV_IMPERSONATED /* a commit signed with this party's own leaf key that it did
                               not make (data = its hash): a copy of its state is in use */
} fkex_gke_event_kind;

typedef struct {
    fkex_gke_event_kind kind;
    fkex_err err;
    uint64_t epoch;
    uint32_t members;
    uint32_t member;
    uint8_t *data;
    size_t len;
} fkex_gke_event;

typedef struct {
    fkex_gke_msg *msgs;
    size_t nmsgs, msgcap;
    fkex_gke_event *events;
    size_t nevents, evcap;
} fkex_gke_out;

FKEX_API void fkex_gke_out_init(fkex_gke_out *out);
/* Frees every message and event (event data is wiped first). */
FKEX_API void fkex_gke_out_clear(fkex_gke_out *out);

/* ---- rooms ----------------------------------------------------------------- */
/* Options of a room's descriptor: its policy also requires the current
 * period; it runs seed mode (the 2014 prototype's protocol, NOT secure,
 * for comparison: its state machine is not public). */
#define FKEX_ROOM_REQUIRE_PERIOD 1u
#define FKEX_ROOM_SEED_MODE 2u
/* A kick names a member by the first bytes of its V; its reason is
 * printable ASCII. */
#define FKEX_PSEUDONYM_BYTES 8
#define FKEX_KICK_REASON_MAX 256

typedef struct fkex_ratchet fkex_ratchet;

/* room_id = H("fkex v1 room" || admin_pk || name). */
FKEX_API void fkex_room_id(uint8_t room_id[32], const uint8_t admin_pk[32], const uint8_t *name,
                  size_t namelen);
/* An admin-signed descriptor. policy is parsed and printed canonically.
 * *out is malloc'd. Errors: FKEX_ERR_ARGUMENT (empty or overlong name,
 * unknown options, or seed mode with a period),
 * the policy's parse errors. */
FKEX_API fkex_err fkex_room_descriptor_create(uint8_t **out, size_t *outlen, const char *name,
                                     const char *policy, uint32_t version, uint32_t options,
                                     const uint8_t admin_sk[64]) FKEX_WUR;
/* A kick (PROTOCOL.md, version 2), signed by the room's admin: the member
 * whose V begins with pseudonym is to be removed. reason: printable ASCII,
 * at most FKEX_KICK_REASON_MAX bytes. *out is malloc'd. FKEX_ERR_ARGUMENT
 * for a reason that is not. */
FKEX_API fkex_err fkex_room_kick_create(uint8_t **out, size_t *outlen, const uint8_t room_id[32],
                               const uint8_t pseudonym[FKEX_PSEUDONYM_BYTES], const char *reason,
                               const uint8_t admin_sk[64]) FKEX_WUR;
/* ---- members ------------------------------------------------------------ */

/* What a member starts from. */
typedef struct {
    const fkex_key *key;       /* this member's attributes */
    uint8_t room_id[32];           /* pinned from the invitation */
    const uint8_t *descriptor;     /* the admin-signed descriptor */
    size_t descriptor_len;
    const char *period;            /* the current period, for rooms that require one; else NULL */
} fkex_ratchet_config;

/* The founder: epoch 0, a roster of one, a random init_secret.
 * Errors: the descriptor's (fkex_room_descriptor_check), FKEX_ERR_UNSUPPORTED
 * (a seed-mode room, FKEX_ROOM_SEED_MODE: gke/seed.h's), FKEX_ERR_ARGUMENT
 * (a room that requires a period and none given), and what decapsulating
 * under the room's policy says (FKEX_ERR_POLICY_UNSATISFIED,
 * FKEX_ERR_WRONG_AUTHORITY): the founder's key must satisfy it, as every
 * joiner's must. */
FKEX_API fkex_err fkex_ratchet_create(fkex_ratchet **st, const fkex_ratchet_config *cfg,
                             fkex_rng *rng) FKEX_WUR;
/* A joiner: the same checks, then a JoinRequest into out. */
FKEX_API fkex_err fkex_ratchet_join(fkex_ratchet **st, const fkex_ratchet_config *cfg, fkex_rng *rng,
                           fkex_gke_out *out) FKEX_WUR;
/* Any message from the relay. FKEX_OK if accepted (out has what follows);
 * otherwise it was refused and nothing changed (two exceptions: a sponsor
 * drops a joiner whose signed Proof is wrong, and the join under way of a
 * leaf whose JoinRequest comes again, which the relay has started over so
 * that its Challenge is void whatever the new one meets), and out has
 * nothing new but, for a JoinRequest or Proof a member refuses, the
 * JoinRefused that answers it (send it: the joiner learns why, the relay
 * frees the join's slot). A joiner whose join fails for good (the group did not prove its
 * attributes, its own attributes do not satisfy the policy, a sponsor
 * refused it: err FKEX_ERR_WRONG_AUTHORITY with data = the room's
 * authority fingerprint, FKEX_ERR_WRONG_ROOM for another descriptor, and
 * so on) gets FKEX_GKE_EV_ABORTED and FKEX_OK; a member that cannot
 * follow a commit (removed, or its attributes fell out at a
 * re-attestation) gets FKEX_GKE_EV_LEFT and FKEX_OK. A joiner answers a
 * later Challenge too: the relay started its join over. */
FKEX_API fkex_err fkex_ratchet_receive(fkex_ratchet *st, const uint8_t *msg, size_t len, fkex_rng *rng,
                              fkex_gke_out *out) FKEX_WUR;

/* What a commit carries beyond the admitted joiners and proposed removals. */
typedef struct {
    int update;                  /* replace this member's leaf keys (V and X) */
    int reattest;                /* inject an ABE-encapsulated psk */
    const uint8_t *descriptor;   /* a new admin-signed descriptor (forces reattest) */
    size_t descriptor_len;
} fkex_commit_options;

/* Commits everything pending: admitted joiners (one Welcome each), proposed
 * removals, and the options (NULL for none). FKEX_ERR_UNEXPECTED when
 * there is nothing to commit or a commit of this member is still waiting
 * for the relay. The commit takes effect when the relay settles it. */
FKEX_API fkex_err fkex_ratchet_commit(fkex_ratchet *st, const fkex_commit_options *opt, fkex_rng *rng,
                             fkex_gke_out *out) FKEX_WUR;
/* Drops this member's pending commit (the relay refused it), so that it
 * may commit again. A commit that loses is dropped when SETTLED comes. */
FKEX_API void fkex_ratchet_drop_commit(fkex_ratchet *st);
/* Proposes Remove(index); index = this member's own to leave. */
FKEX_API fkex_err fkex_ratchet_propose_remove(fkex_ratchet *st, uint32_t index, fkex_gke_out *out) FKEX_WUR;
/* An application message in the current epoch. */
FKEX_API fkex_err fkex_ratchet_send(fkex_ratchet *st, const uint8_t *content, size_t len,
                           fkex_gke_out *out) FKEX_WUR;
/* A new period for rooms with FKEX_ROOM_REQUIRE_PERIOD, whose effective
 * policy is "(P) and period:<period>"; the next reattest commit uses it. */
FKEX_API fkex_err fkex_ratchet_set_period(fkex_ratchet *st, const char *period) FKEX_WUR;

/* The relay's AUTH (wire/relay_msg.h): this member's leaf key signs the
 * relay's session nonce, with the room id and its own key V, so that the
 * relay gives it back its place. The label ("relay auth") keeps it apart
 * from every room message. */
FKEX_API fkex_err fkex_ratchet_relay_auth(uint8_t sig[64], const fkex_ratchet *st,
                                 const uint8_t nonce[32]) FKEX_WUR;

/* Wipes what is kept of the previous epoch for late messages and acks;
 * the caller does this once late traffic has had its time. */
FKEX_API void fkex_ratchet_forget_previous(fkex_ratchet *st);

/* ---- what a member knows -------------------------------------------------- */
FKEX_API int fkex_ratchet_is_member(const fkex_ratchet *st);
FKEX_API uint64_t fkex_ratchet_epoch(const fkex_ratchet *st);
FKEX_API uint32_t fkex_ratchet_members(const fkex_ratchet *st);
FKEX_API uint32_t fkex_ratchet_index(const fkex_ratchet *st);
/* Members compare this to detect a fork (PROTOCOL.md, key schedule). */
FKEX_API void fkex_ratchet_epoch_authenticator(uint8_t out[32], const fkex_ratchet *st);
/* What people compare out of band, the same at every member of the epoch:
 * KDF-Expand(epoch_authenticator, "verify", ""). A front end renders it
 * (chat: 25 digits). */
FKEX_API void fkex_ratchet_epoch_fingerprint(uint8_t out[32], const fkex_ratchet *st);
/* 1 once member `index` has sent the JoinAck it owes: a joiner after its
 * Welcome, every member after a re-attestation. A caller removes members
 * whose ack does not come in time. */
FKEX_API int fkex_ratchet_acked(const fkex_ratchet *st, uint32_t index);
/* 1 if member `index` is to be removed by the next commit (proposed,
 * kicked, or accused), as far as this member knows. */
FKEX_API int fkex_ratchet_removal_pending(const fkex_ratchet *st, uint32_t index);
/* A sponsor's joins challenged whose Proof has not come yet: a caller
 * that waits for them a moment adds several joiners with one commit. */
FKEX_API size_t fkex_ratchet_joins_unproved(const fkex_ratchet *st);
/* The room's current admin-signed descriptor (the one its last commit
 * installed); valid until the next step. */
FKEX_API const uint8_t *fkex_ratchet_descriptor(const fkex_ratchet *st, size_t *len);
/* This member's signing key V, which the relay addresses slices to. */
FKEX_API void fkex_ratchet_leaf_key(uint8_t out[32], const fkex_ratchet *st);
/* Member `index`'s signing key V in the current roster: what front ends
 * know a member by (a removal moves the last leaf into the freed slot, so
 * an index names a member for one epoch only). -1 if out of range. */
FKEX_API int fkex_ratchet_member_key(uint8_t out[32], const fkex_ratchet *st, uint32_t index) FKEX_WUR;
/* This party's leaf id H(V || X) (a joiner's too: Challenges name it). */
FKEX_API void fkex_ratchet_leaf_id(uint8_t out[32], const fkex_ratchet *st);

/* Wipes every secret and frees. */
FKEX_API void fkex_ratchet_free(fkex_ratchet *st);

#ifdef __cplusplus
}
#endif

#endif
