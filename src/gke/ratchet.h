/*
 * gke/ratchet.h: the room protocol, ratchet mode (PROTOCOL.md, version 1).
 *
 * ABE is used for admission only: a joiner and a sponsor each encapsulate
 * under the room's policy and each decapsulate the other's, so both sides
 * prove their attributes; ephemeral X25519 and HPKE supply the secrecy.
 * Each join costs the joiner and the sponsor one ABE encapsulation, one
 * decapsulation and one X25519; everyone else does symmetric work only.
 * A removal costs the committer one HPKE seal per remaining member and
 * every other member one HPKE open.
 *
 * Version 2: no refused commit can hold a room. The relay delivers every
 * candidate commit of an epoch; each member prepares the first that
 * passes all its checks and acknowledges it (EpochAck); the relay settles
 * the epoch on the commit of the first EpochAck from a member other than
 * its committer and announces it (SETTLED), and members install it then.
 * A member that cannot apply the settled commit gets FKEX_GKE_EV_LOST and
 * comes back through admission; members check each other's EpochAcks and
 * JoinAcks and report a fork (FKEX_GKE_EV_FORK); a commit that fails a
 * tag its signer answers for makes a member propose its removal
 * (FKEX_GKE_EV_MISBEHAVED). An Update rotates both leaf keys.
 *
 * The state machine does no I/O and reads no clock. Messages it emits go
 * to the relay (FKEX_GKE_TO_ROOM), which routes them by type:
 *   JoinRequest  to the sponsor it names (the online member with the lowest index)
 *   Challenge, Welcome  to the joiner they name (joiner_id = H(V_J || X_J))
 *   Proof        to the sponsor that sent the Challenge
 *   Commit       checked (signature, roster arithmetic, slices) and
 *                ordered, to every member of the epoch (each with only its
 *                own slice, fkex_rmsg_commit_view), the committer included
 *   EpochAck     the first from a member other than the committer (or the
 *                committer's, if nobody else stays) settles the epoch:
 *                SETTLED to every member then, and that ack; later ones
 *                are not passed on (n^2 deliveries an epoch)
 *   JoinAck, Remove, Application  to every member
 * Timeouts (a silent sponsor, a missing JoinAck) are the caller's: it
 * reacts with fkex_ratchet_propose_remove.
 *
 * The caller owns the ABE key, which must outlive the state.
 * A room that requires a period (FKEX_ROOM_REQUIRE_PERIOD) has the
 * effective policy "(P) and period:<period>", the period coming from the
 * caller's clock.
 */
#ifndef FKEX_RATCHET_H
#define FKEX_RATCHET_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/abe.h"
#include "gke/out.h"
#include "wire/ratchet_msg.h"

typedef struct fkex_ratchet fkex_ratchet;

/* ---- rooms ------------------------------------------------------------ */

/* room_id = H("fkex v1 room" || admin_pk || name). */
void fkex_room_id(uint8_t room_id[32], const uint8_t admin_pk[32], const uint8_t *name,
                  size_t namelen);
/* An admin-signed descriptor. policy is parsed and printed canonically.
 * *out is malloc'd. Errors: FKEX_ERR_ARGUMENT (empty or overlong name,
 * unknown options, or seed mode with a period),
 * the policy's parse errors. */
fkex_err fkex_room_descriptor_create(uint8_t **out, size_t *outlen, const char *name,
                                     const char *policy, uint32_t version, uint32_t options,
                                     const uint8_t admin_sk[64]) FKEX_WUR;
/* Decodes and checks a descriptor: the admin's signature, a canonical
 * policy, and that it names the pinned room. d borrows from in.
 * Errors: decoding errors, FKEX_ERR_AUTHENTICATION, FKEX_ERR_WRONG_ROOM. */
fkex_err fkex_room_descriptor_check(fkex_rmsg_descriptor *d, const uint8_t room_id[32],
                                    const uint8_t *in, size_t len) FKEX_WUR;

/* A kick (PROTOCOL.md, version 2), signed by the room's admin: the member
 * whose V begins with pseudonym is to be removed. reason: printable ASCII,
 * at most FKEX_KICK_REASON_MAX bytes. *out is malloc'd. FKEX_ERR_ARGUMENT
 * for a reason that is not. */
fkex_err fkex_room_kick_create(uint8_t **out, size_t *outlen, const uint8_t room_id[32],
                               const uint8_t pseudonym[FKEX_PSEUDONYM_BYTES], const char *reason,
                               const uint8_t admin_sk[64]) FKEX_WUR;
/* Decodes a kick and checks it is admin_pk's, for room_id. k borrows
 * from in. Errors: decoding errors, FKEX_ERR_WRONG_ROOM,
 * FKEX_ERR_AUTHENTICATION. */
fkex_err fkex_room_kick_check(fkex_rmsg_kick *k, const uint8_t room_id[32],
                              const uint8_t admin_pk[32], const uint8_t *in, size_t len) FKEX_WUR;

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
fkex_err fkex_ratchet_create(fkex_ratchet **st, const fkex_ratchet_config *cfg,
                             fkex_rng *rng) FKEX_WUR;
/* A joiner: the same checks, then a JoinRequest into out. */
fkex_err fkex_ratchet_join(fkex_ratchet **st, const fkex_ratchet_config *cfg, fkex_rng *rng,
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
fkex_err fkex_ratchet_receive(fkex_ratchet *st, const uint8_t *msg, size_t len, fkex_rng *rng,
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
fkex_err fkex_ratchet_commit(fkex_ratchet *st, const fkex_commit_options *opt, fkex_rng *rng,
                             fkex_gke_out *out) FKEX_WUR;
/* Drops this member's pending commit (the relay refused it), so that it
 * may commit again. A commit that loses is dropped when SETTLED comes. */
void fkex_ratchet_drop_commit(fkex_ratchet *st);
/* Proposes Remove(index); index = this member's own to leave. */
fkex_err fkex_ratchet_propose_remove(fkex_ratchet *st, uint32_t index, fkex_gke_out *out) FKEX_WUR;
/* An application message in the current epoch. */
fkex_err fkex_ratchet_send(fkex_ratchet *st, const uint8_t *content, size_t len,
                           fkex_gke_out *out) FKEX_WUR;
/* A new period for rooms with FKEX_ROOM_REQUIRE_PERIOD, whose effective
 * policy is "(P) and period:<period>"; the next reattest commit uses it. */
fkex_err fkex_ratchet_set_period(fkex_ratchet *st, const char *period) FKEX_WUR;

/* The relay's AUTH (wire/relay_msg.h): this member's leaf key signs the
 * relay's session nonce, with the room id and its own key V, so that the
 * relay gives it back its place. The label ("relay auth") keeps it apart
 * from every room message. */
fkex_err fkex_ratchet_relay_auth(uint8_t sig[64], const fkex_ratchet *st,
                                 const uint8_t nonce[32]) FKEX_WUR;

/* Wipes what is kept of the previous epoch for late messages and acks;
 * the caller does this once late traffic has had its time. */
void fkex_ratchet_forget_previous(fkex_ratchet *st);

/* ---- what a member knows -------------------------------------------------- */
int fkex_ratchet_is_member(const fkex_ratchet *st);
uint64_t fkex_ratchet_epoch(const fkex_ratchet *st);
uint32_t fkex_ratchet_members(const fkex_ratchet *st);
uint32_t fkex_ratchet_index(const fkex_ratchet *st);
/* Members compare this to detect a fork (PROTOCOL.md, key schedule). */
void fkex_ratchet_epoch_authenticator(uint8_t out[32], const fkex_ratchet *st);
/* What people compare out of band, the same at every member of the epoch:
 * KDF-Expand(epoch_authenticator, "verify", ""). A front end renders it
 * (chat: 25 digits). */
void fkex_ratchet_epoch_fingerprint(uint8_t out[32], const fkex_ratchet *st);
/* 1 once member `index` has sent the JoinAck it owes: a joiner after its
 * Welcome, every member after a re-attestation. A caller removes members
 * whose ack does not come in time. */
int fkex_ratchet_acked(const fkex_ratchet *st, uint32_t index);
/* 1 if member `index` is to be removed by the next commit (proposed,
 * kicked, or accused), as far as this member knows. */
int fkex_ratchet_removal_pending(const fkex_ratchet *st, uint32_t index);
/* A sponsor's joins challenged whose Proof has not come yet: a caller
 * that waits for them a moment adds several joiners with one commit. */
size_t fkex_ratchet_joins_unproved(const fkex_ratchet *st);
/* The room's current admin-signed descriptor (the one its last commit
 * installed); valid until the next step. */
const uint8_t *fkex_ratchet_descriptor(const fkex_ratchet *st, size_t *len);
/* This member's signing key V, which the relay addresses slices to. */
void fkex_ratchet_leaf_key(uint8_t out[32], const fkex_ratchet *st);
/* Member `index`'s signing key V in the current roster: what front ends
 * know a member by (a removal moves the last leaf into the freed slot, so
 * an index names a member for one epoch only). -1 if out of range. */
int fkex_ratchet_member_key(uint8_t out[32], const fkex_ratchet *st, uint32_t index) FKEX_WUR;
/* This party's leaf id H(V || X) (a joiner's too: Challenges name it). */
void fkex_ratchet_leaf_id(uint8_t out[32], const fkex_ratchet *st);

/* Wipes every secret and frees. */
void fkex_ratchet_free(fkex_ratchet *st);

#endif
