/*
 * relay/dm.h: direct conversations at the relay (fkex chat --dm): two
 * places per conversation, and opaque frames from one to the other.
 *
 * The relay learns a conversation's id (SHA-256 over the authority's
 * fingerprint and both identities, ibe/dm.h), never the identities: a
 * connection takes a place by naming the id (DM_HELLO) and nothing else.
 * It authenticates nothing to the relay, which could not check an
 * identity without learning it; the two clients authenticate each other
 * end to end (IBAKE), and refuse what a third party or the relay injects.
 * Whoever knows both identities can take a free place, which is a denial
 * of service, as a relay that drops frames is.
 *
 * Nothing is held or stored: a frame for a place nobody holds is refused
 * (ERROR 7, the connection kept), and the clients, told of every arrival
 * and departure (DM_PEER), run their handshake again with whoever comes.
 * A conversation exists while a place is held and is forgotten with its
 * last connection.
 *
 * This file keeps the places; serve.c sends the envelopes.
 *
 * Bounds: one conversation per connection, two connections per
 * conversation (a third is refused, ERROR 8), so at most as many
 * conversations as connections; frames of FKEX_RELAY_DM_FRAME_MAX bytes;
 * the peer's queue is net's (a slow reader is cut off at the daemon's
 * cap). O(1) per frame; a DM_HELLO is one lookup (relay/index.h).
 */
#ifndef FKEX_RELAY_DM_H
#define FKEX_RELAY_DM_H

#include <stddef.h>
#include <stdint.h>
#include "relay/index.h"

typedef struct fkex_conn fkex_conn;

typedef struct relay_dm_room relay_dm_room;

/* A connection's place in a conversation (the daemon keeps a pointer). */
typedef struct {
    relay_dm_room *room;
    fkex_conn *conn;
} relay_dm_seat;

/* Every conversation of the daemon. */
typedef struct {
    relay_index rooms;      /* by id */
    size_t n;
} relay_dm;

void relay_dm_init(relay_dm *dm);
/* Forgets every conversation (the daemon's connections are closed). */
void relay_dm_free(relay_dm *dm);
/* conn takes a place in conversation id. 0, with *other the other
 * party's connection (NULL if none): the daemon sends DM_READY to conn and
 * DM_PEER (1) to *other; or an ERROR code with *why (the conversation is
 * full, out of memory). */
int relay_dm_hello(relay_dm *dm, relay_dm_seat **seat, fkex_conn **other, fkex_conn *conn,
                   const uint8_t id[32], const char **why);
/* Where a frame from seat goes: 0 with *to, or an ERROR code with *why. */
int relay_dm_frame(const relay_dm_seat *seat, fkex_conn **to, const char **why);
/* The connection of seat closed: the other party's connection, to be
 * told (DM_PEER 0), or NULL. The conversation is forgotten once both
 * places are free. */
fkex_conn *relay_dm_leave(relay_dm *dm, relay_dm_seat *seat);

#endif
