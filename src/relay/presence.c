/*
 * relay/presence.c: who is online (relay/daemon.h). A member whose last
 * connection drops keeps its place, and stays online for the rules (the
 * log keeps what it misses), for the grace period; then it is marked
 * offline, so sponsorship moves on, and once it has been gone that long
 * it is named (GONE) to a member to remove: the relay removes nobody.
 * A connection silent for the keepalive gets a PING, and is closed if it
 * stays silent as long again (a frozen client).
 */
#include <stdlib.h>
#include "gke/gke.h"
#include "relay/daemon.h"

void serve_member_online(serve_state *s, conn_state *cs)
{
    cs->member = 1;
    if (s->cluster) {   /* cluster mode: online on every relay when the fold reaches it */
        serve_publish_presence(s, cs, 1);
        return;
    }
    relay_room_set_online(cs->room, cs->v, 1);
    serve_absent_remove(s, cs->room, cs->v);
}

void serve_absent_remove(serve_state *s, relay_room *r, const uint8_t v[32])
{
    for (size_t i = 0; i < s->nabsent;) {
        if (s->absent[i].r == r && memcmp(s->absent[i].v, v, 32) == 0)
            s->absent[i] = s->absent[--s->nabsent];
        else
            i++;
    }
}

void serve_absent_add(serve_state *s, relay_room *r, const uint8_t v[32], uint64_t now)
{
    char vh[9];
    serve_absent_remove(s, r, v);
    relay_room_set_away(r, v);
    if (s->opt.grace_ms == 0 || s->nabsent == s->absentcap) {
        absent_member *t = NULL;
        if (s->opt.grace_ms > 0) {
            size_t cap = s->absentcap ? 2 * s->absentcap : 16;
            t = realloc(s->absent, cap * sizeof *t);
            if (t) {
                s->absent = t;
                s->absentcap = cap;
            }
        }
        if (!t) {   /* no grace (or no memory for one): offline at once */
            relay_room_set_online(r, v, 0);
            serve_log(s, "member %s is offline: it keeps its place; sponsorship moves on",
                  serve_hex(vh, v));
            return;
        }
    }
    memcpy(s->absent[s->nabsent].v, v, 32);
    s->absent[s->nabsent].r = r;
    s->absent[s->nabsent].since = now;
    s->nabsent++;
}

/* Counts sessions whose V the roster now holds (a joiner whose commit won)
 * online, and forgets members that left. O(connections x members). */
void serve_refresh_members(serve_state *s, relay_room *r)
{
    char vh[9];
    for (conn_state *cs = s->conns; cs; cs = cs->next) {
        if (cs->state != SESSION_READY || cs->room != r || !cs->has_leaf)
            continue;
        int m = relay_room_member(r, cs->v) >= 0;
        if (m && !cs->member) {
            serve_member_online(s, cs);
            serve_log(s, "%s: joiner %s is now a member", fkex_conn_peer(cs->conn), serve_hex(vh, cs->v));
        } else if (!m && cs->member) {
            cs->member = 0;
            serve_log(s, "%s: %s is no longer a member", fkex_conn_peer(cs->conn), serve_hex(vh, cs->v));
        }
    }
    for (size_t i = 0; i < s->nabsent;) {
        if (s->absent[i].r == r && relay_room_member(r, s->absent[i].v) < 0)
            s->absent[i] = s->absent[--s->nabsent];
        else
            i++;
    }
}

void serve_absence_tick(serve_state *s, uint64_t mono)
{
    char vh[9], rh[9];
    for (size_t i = 0; i < s->nabsent;) {
        absent_member *a = &s->absent[i];
        if (mono - a->since >= s->opt.grace_ms) {
            relay_room_set_online(a->r, a->v, 0);
            serve_log(s, "room %s: member %s offline after the %llu s grace: it keeps its place "
                         "(members remove it by proposal); sponsorship moves on",
                      serve_hex(rh, a->r->room_id), serve_hex(vh, a->v),
                      (unsigned long long)(s->opt.grace_ms / 1000));
            s->absent[i] = s->absent[--s->nabsent];
        } else {
            i++;
        }
    }
}

/* Members gone longer than the grace period, named to the member whose
 * turn it is, to propose and commit their removal. Not before every member
 * had a grace period since the relay started (all are offline at start). */
void serve_hand_gone(serve_state *s, relay_room *r, uint64_t now, uint64_t mono)
{
    uint8_t to[32], gone[16][32];
    char rh[9], vh[9];
    if (mono - s->started < s->opt.grace_ms)
        return;
    size_t n = relay_room_gone_due(r, now, to, gone, 16);
    conn_state *cs = n ? relay_index_get(&s->sessions, r, to) : NULL;
    if (!cs || !cs->conn)
        return;
    for (size_t i = 0; i < n; i++) {
        fkex_relay_msg m = { 0 };
        m.kind = FKEX_RELAY_GONE;
        memcpy(m.room_id, r->room_id, 32);
        memcpy(m.leaf, gone[i], 32);
        (void)serve_send(cs, &m);
    }
    serve_log(s, "room %s: %zu member%s gone past the grace named to member %s to remove",
          serve_hex(rh, r->room_id), n, n == 1 ? "" : "s", serve_hex(vh, to));
}

/* A party's connection silent for the keepalive gets a PING; one silent
 * for as long again is closed (a frozen client): a member then has its
 * grace period, after which the others remove it. */
void serve_keepalive(conn_state *cs, uint64_t mono)
{
    serve_state *s = cs->s;
    char vh[9];
    if (!cs->pinged_at && mono - cs->heard_at >= s->opt.keepalive_ms) {
        fkex_relay_msg p = { .kind = FKEX_RELAY_PING, .cookie = mono };
        cs->pinged_at = mono;
        (void)serve_send(cs, &p);
    } else if (cs->pinged_at && mono - cs->pinged_at >= s->opt.keepalive_ms) {
        serve_log(s, "%s: %s %s did not answer a ping within %llu s: closed", fkex_conn_peer(cs->conn),
              cs->dm ? "direct conversation" : cs->member ? "member" : "joiner",
              cs->dm ? "place" : serve_hex(vh, cs->v),
              (unsigned long long)(s->opt.keepalive_ms / 1000));
        fkex_conn_close(cs->conn, "no answer to a ping");
    }
}
