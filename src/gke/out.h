/*
 * gke/out.h: what the group key exchange state machines share.
 *
 * Each protocol (ratchet, seed, gdh2, bd) is a state machine. A step takes
 * one input, a message received from the relay or a local command, and
 * appends to an fkex_gke_out: the messages to send and the events for the
 * application. A step does no I/O, reads no clock and takes randomness
 * as a parameter, so a simulator can run a whole room in one process.
 *
 * A step returns FKEX_OK when it accepted the input. Any other value means
 * the input was refused and the state is exactly as it was before; what
 * the step may have appended to out is then discarded by the step itself.
 *
 * Ownership: the out buffer owns the bytes of its messages and events;
 * fkex_gke_out_clear frees them (wiping message plaintexts).
 */
#ifndef FKEX_GKE_OUT_H
#define FKEX_GKE_OUT_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/error.h"

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

void fkex_gke_out_init(fkex_gke_out *out);
/* Frees every message and event (event data is wiped first). */
void fkex_gke_out_clear(fkex_gke_out *out);
/* Drops what was appended after the first `nmsgs` messages and `nevents`
 * events: a refused step calls this to leave out as it found it. */
void fkex_gke_out_truncate(fkex_gke_out *out, size_t nmsgs, size_t nevents);

/* Append a message; takes ownership of bytes (freed on failure too). */
fkex_err fkex_gke_out_msg(fkex_gke_out *out, uint32_t to, uint8_t *bytes, size_t len) FKEX_WUR;
/* Append an event; data (may be NULL) is copied. */
fkex_err fkex_gke_out_event(fkex_gke_out *out, fkex_gke_event_kind kind, fkex_err err,
                            uint64_t epoch, uint32_t members, uint32_t member,
                            const uint8_t *data, size_t len) FKEX_WUR;

#endif
