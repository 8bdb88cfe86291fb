/*
 * relay/replay.c: paced replay (relay/daemon.h). What a member missed is
 * read from the log a page (REPLAY_PAGE_BYTES) at a time, the next page
 * once its connection has drained below REPLAY_LOW_WATER (checked each
 * loop turn, O(sessions replaying)), so a member further behind than the
 * queue cap is not cut off as a slow reader. Meanwhile nothing is routed
 * to it live: what arrives is in the log, and the last page reaches the
 * head; then it is counted online and routed to like any member.
 */
#include "gke/gke.h"
#include "relay/daemon.h"

/* A replay page, and how far a replaying connection's queue must drain
 * before the next page: far below RELAY_MAX_QUEUED, whatever the backlog. */
#define REPLAY_PAGE_BYTES (1u << 20)
#define REPLAY_LOW_WATER (1u << 20)

static int send_deliver(conn_state *cs, const uint8_t room_id[32], const relay_delivery *d)
{
    fkex_relay_msg m = { 0 };
    m.kind = FKEX_RELAY_DELIVER;
    memcpy(m.room_id, room_id, 32);
    m.seq = d->seq;
    m.data = d->bytes;
    m.datalen = d->len;
    return serve_send(cs, &m);
}

/* ---- paced replay --------------------------------------------------------------- */

void serve_replay_unlink(conn_state *cs)
{
    serve_state *s = cs->s;
    if (!cs->replaying)
        return;
    if (cs->rprev)
        cs->rprev->rnext = cs->rnext;
    else
        s->replays = cs->rnext;
    if (cs->rnext)
        cs->rnext->rprev = cs->rprev;
    cs->rprev = cs->rnext = NULL;
    cs->replaying = 0;
}

/* The replay is written (or could not be): the session is live, and a
 * roster member is counted online. */
static void replay_done(conn_state *cs)
{
    serve_state *s = cs->s;
    relay_room *r = cs->room;
    char vh[9], rh[9];
    serve_replay_unlink(cs);
    if (!cs->conn)
        return;
    long idx = relay_room_member(r, cs->v);
    if (idx >= 0)
        serve_member_online(s, cs);
    serve_log(s, "%s: %s %s in room %s (epoch %llu), replayed %zu frame%s after seq %llu",
          fkex_conn_peer(cs->conn), idx >= 0 ? "member" : "leaf", serve_hex(vh, cs->v),
          serve_hex(rh, r->room_id), (unsigned long long)r->epoch, cs->replayed,
          cs->replayed == 1 ? "" : "s", (unsigned long long)cs->last_seq);
}

/* Sends pages of cs's replay while its queue is below the low water. */
static void replay_pump(conn_state *cs)
{
    relay_out out;
    relay_out_init(&out);
    while (cs->replaying && cs->conn && fkex_conn_queued(cs->conn) < REPLAY_LOW_WATER) {
        int code = relay_room_replay(cs->room, cs->v, cs->replay_after, REPLAY_PAGE_BYTES, &out);
        if (code != 0) {
            serve_error(cs, code, 0, out.why ? out.why : "cannot replay");
            replay_done(cs);
            break;
        }
        int cut = 0;
        for (size_t i = 0; i < out.n && !cut; i++) {
            if (send_deliver(cs, cs->room->room_id, &out.d[i]) != 0)
                cut = 1;   /* closing: its close callback comes */
            else {
                cs->replay_after = out.d[i].seq;
                cs->replayed++;
            }
        }
        if (cut)
            serve_replay_unlink(cs);
        else if (!out.more)
            replay_done(cs);
        relay_out_clear(&out);
    }
    relay_out_clear(&out);
}

void serve_replay_start(conn_state *cs)
{
    serve_state *s = cs->s;
    cs->replaying = 1;
    cs->replay_after = cs->last_seq;
    cs->replayed = 0;
    cs->rprev = NULL;
    cs->rnext = s->replays;
    if (s->replays)
        s->replays->rprev = cs;
    s->replays = cs;
    replay_pump(cs);   /* a short replay is written at once */
}

/* Each turn: the next pages of the replays whose connections drained. */
void serve_replay_pump_all(serve_state *s)
{
    for (conn_state *cs = s->replays, *next; cs; cs = next) {
        next = cs->rnext;
        replay_pump(cs);
    }
}
