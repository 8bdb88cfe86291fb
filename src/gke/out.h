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

#include "fkex/room.h"

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
