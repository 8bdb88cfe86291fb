/*
 * relay/dm.c: direct conversations at the relay (relay/dm.h).
 */
#include <stdlib.h>
#include "gke/gke.h"
#include "relay/dm.h"
#include "net/net.h"
#include "wire/relay_msg.h"

struct relay_dm_room {
    uint8_t id[32];
    relay_dm_seat seat[2];   /* conn NULL: free */
};

void relay_dm_init(relay_dm *dm)
{
    relay_index_init(&dm->rooms);
    dm->n = 0;
}

void relay_dm_free(relay_dm *dm)
{
    /* Rooms are freed as their connections close; the index owns only its nodes. */
    relay_index_free(&dm->rooms);
    dm->n = 0;
}

static relay_dm_seat *other(const relay_dm_seat *seat)
{
    relay_dm_room *r = seat->room;
    return &r->seat[seat == &r->seat[0] ? 1 : 0];
}

int relay_dm_hello(relay_dm *dm, relay_dm_seat **seat, fkex_conn **peer, fkex_conn *conn,
                   const uint8_t id[32], const char **why)
{
    relay_dm_room *r = relay_index_get(&dm->rooms, dm, id);
    relay_dm_seat *s;
    *seat = NULL;
    *peer = NULL;
    if (!r) {
        if (!(r = calloc(1, sizeof *r))) {
            *why = "the relay is out of memory";
            return FKEX_RELAY_E_INTERNAL;
        }
        memcpy(r->id, id, 32);
        r->seat[0].room = r->seat[1].room = r;
        if (relay_index_put(&dm->rooms, dm, id, r) != 0) {
            free(r);
            *why = "the relay is out of memory";
            return FKEX_RELAY_E_INTERNAL;
        }
        dm->n++;
    }
    s = !r->seat[0].conn ? &r->seat[0] : !r->seat[1].conn ? &r->seat[1] : NULL;
    if (!s) {
        *why = "this conversation has two parties already";
        return FKEX_RELAY_E_BUSY;
    }
    s->conn = conn;
    *seat = s;
    *peer = other(s)->conn;
    return 0;
}

int relay_dm_frame(const relay_dm_seat *seat, fkex_conn **to, const char **why)
{
    *to = NULL;
    if (!seat) {
        *why = "a frame of a direct conversation needs DM_HELLO first";
        return FKEX_RELAY_E_AUTH;
    }
    if (!(*to = other(seat)->conn)) {
        *why = "the other party is not here: nothing is held for it";
        return FKEX_RELAY_E_NOT_ROUTABLE;
    }
    return 0;
}

fkex_conn *relay_dm_leave(relay_dm *dm, relay_dm_seat *seat)
{
    relay_dm_room *r;
    if (!seat)
        return NULL;
    r = seat->room;
    seat->conn = NULL;
    fkex_conn *peer = other(seat)->conn;
    if (!peer) {
        relay_index_del(&dm->rooms, dm, r->id, r);
        dm->n--;
        free(r);
    }
    return peer;
}
