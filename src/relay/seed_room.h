/*
 * relay/seed_room.h: the relay's routing of a seed-mode room (descriptor
 * option FKEX_ROOM_SEED_MODE): the 2014 prototype's protocol (gke/seed.h,
 * whose relay rules are pure), kept for comparison and NOT secure. No
 * sockets, no clock (times come in, in ms), no key that can read the
 * room. It runs over the same relay_room, store, log and replay as a
 * ratchet room; room.c hands it a seed room's steps, so the daemon is the
 * same.
 *
 *   Encapsulation (a joiner's, index FKEX_SEED_NEW)  from a session key V
 *        that is not a member yet: fkex_seed_relay gives it the next
 *        index, and the KeySet of the next epoch goes to every member, the
 *        joiner included (its `since` is just below the KeySet's seq)
 *   Encapsulation (a rekey)  only from the member whose index it names
 *   Leave  from a member, naming its own index: it asks to go. The relay
 *        removes it and announces the Leave (the relay's own, for its
 *        current epoch) to every member, the leaver included, and stores
 *        a copy addressed to the leaver too, so that a member removed
 *        while away learns it from its replay. The remaining member with
 *        the lowest index then rekeys (gke/seed.h).
 *   Application  from a member, in its own index's name: to every member
 *   KeySet  never from a client: the relay writes them
 * A member whose session has been gone past the daemon's grace period
 * (relay_room_set_online(v, 0)) is removed the same way at the next tick;
 * so is one that has not come back within r->grace_ms of the relay's
 * first tick after a restart.
 *
 * The relay checks only routing: that a session speaks for the index it
 * names, and that an encapsulation is under the room's policy (its
 * canonical text, so that a ciphertext nobody can open does not stop the
 * room by mistake). It cannot check more, and the protocol has no
 * signatures: session keys V authenticate relay sessions (HELLO, NONCE,
 * AUTH) and nothing else. Anyone may join with a fresh V; whoever cannot
 * decapsulate the KeySet cannot read the room, and its entry stays (a
 * ghost: fault 4 of gke/seed.h) until it leaves or its grace ends.
 *
 * Store: the members table keeps V and since, as for a ratchet room, in
 * index order; the store's seed tables (relay_store_seed_put) keep the
 * next index and every member's current encapsulation, written in the
 * step's transaction.
 * KeySets, Leaves and Applications are log rows like any broadcast, so
 * replay and restart are room.c's. Cost: a join or rekey is O(n): the
 * KeySet copies every ciphertext; a restart decodes every ciphertext again.
 */
#ifndef FKEX_RELAY_SEED_ROOM_H
#define FKEX_RELAY_SEED_ROOM_H

#include "relay/room.h"

/* The relay's default grace period (serve.h), for rooms loaded without one. */
#define RELAY_SEED_GRACE_MS 60000u

typedef struct relay_seed relay_seed;

/* 1 if desc decodes as a seed-mode descriptor. */
int relay_seed_descriptor(const uint8_t *desc, size_t len);
/* After room.c loaded r: a seed-mode room gets its seed state (r->seed);
 * a ratchet room is left alone. Errors: the store's, FKEX_ERR_NO_MEMORY. */
fkex_err relay_seed_attach(relay_room *r) FKEX_WUR;
/* Rereads the seed state (room.c's reload, after the common part). */
fkex_err relay_seed_reload(relay_room *r) FKEX_WUR;
void relay_seed_free(relay_seed *s);

/* As relay_room_submit (which calls it for a seed room). */
int relay_seed_submit(relay_room *r, const uint8_t from[32], const uint8_t *msg, size_t len,
                      relay_out *out) FKEX_WUR;
/* Removals of members gone past the grace; as relay_room_tick. */
int relay_seed_tick(relay_room *r, uint64_t now, relay_out *out) FKEX_WUR;
/* Member v's session came (it stays) or has been gone past the grace (it
 * goes at the next tick). */
void relay_seed_set_online(relay_room *r, const uint8_t v[32], int online);

#endif
