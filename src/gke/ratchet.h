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
#include "fkex/room.h"
#include "gke/out.h"
#include "wire/ratchet_msg.h"

/* The public part is fkex/room.h; here, what the relay and tests use. */

/* Decodes and checks a descriptor: the admin's signature, a canonical
 * policy, and that it names the pinned room. d borrows from in.
 * Errors: decoding errors, FKEX_ERR_AUTHENTICATION, FKEX_ERR_WRONG_ROOM. */
fkex_err fkex_room_descriptor_check(fkex_rmsg_descriptor *d, const uint8_t room_id[32],
                                    const uint8_t *in, size_t len) FKEX_WUR;

/* Decodes a kick and checks it is admin_pk's, for room_id. k borrows
 * from in. Errors: decoding errors, FKEX_ERR_WRONG_ROOM,
 * FKEX_ERR_AUTHENTICATION. */
fkex_err fkex_room_kick_check(fkex_rmsg_kick *k, const uint8_t room_id[32],
                              const uint8_t admin_pk[32], const uint8_t *in, size_t len) FKEX_WUR;

#endif
