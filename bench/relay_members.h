/*
 * bench/relay_members.h: real room members over the network, for
 * `fkex bench relay` (bench/relay.c).
 *
 * Each member is a ratchet state machine (gke/ratchet.h) with its own
 * connection to a running `fkex relay` (src/net, wire/relay_msg.h), on one
 * libuv loop: it authenticates its leaf key, feeds every DELIVER to its
 * ratchet and submits what the ratchet emits. The first member sponsors
 * joins: it commits once a joiner is admitted, and commits the removal a
 * member proposes. So a room built here is a room as the relay sees it
 * from clients, with every commit real.
 *
 * A room of many members can be split across processes (fork after it is
 * built): each process dials its share of the members again from the
 * relay seq the room had reached, and keeps them live.
 *
 * Version 2: members acknowledge commits (EpochAck) and install them on
 * SETTLED; a member whose commit the relay refuses drops it (the sponsor
 * then commits again); a member that gets FKEX_GKE_EV_LOST re-enters as
 * the chat client does (chat_link_rejoin): its state freed, a new
 * connection, GET_DESCRIPTOR, a new fkex_ratchet_join, HELLO and AUTH
 * with the new V, the JoinRequest, and a sponsor's admission.
 */
#ifndef FKEX_BENCH_RELAY_MEMBERS_H
#define FKEX_BENCH_RELAY_MEMBERS_H

#include <uv.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "net/net.h"

#define RM_MAX 256

typedef struct rm_room rm_room;

typedef struct {
    rm_room *room;
    fkex_ratchet *st;
    uint8_t v[32];
    fkex_conn *c;
    int ready, closed, joined, left, aborted, sponsor;
    int want_commit;          /* sponsor: something to commit */
    int admitted, commit_at;  /* sponsor: admissions so far, and how many make a commit */
    uint64_t last_seq;        /* the last relay seq delivered */
    uint64_t client_seq;
    uint64_t commit_cseq;     /* the SUBMIT that carried this member's pending commit */
    unsigned errors, refused, commits_refused;
    fkex_gke_out pending;     /* sent once READY (a joiner's JoinRequest) */
    int slot;                 /* its place in room->m (which key it holds) */
    int corrupt;              /* flip a byte of its own slice in the next star commit */
    int lost, rejoining, want_desc;
    double lost_at, joined_at;   /* bench_now_ms() of the last LOST and JOINED */
    double ready_at, admit_at;   /* a joiner's READY and its first DELIVER (the Challenge) */
} rm_member;

struct rm_room {
    uv_loop_t loop;
    uv_timer_t waker;
    char addr[128];
    const fkex_tls *tls;       /* the relay's links: TLS, or NULL for plain TCP */
    uint8_t room_id[32];
    uint8_t *desc;
    size_t desclen;
    const fkex_key *keys[2];   /* members alternate between them */
    fkex_rng rng;
    rm_member *m[RM_MAX];
    int n;
};

/* Creates the room at the relay (the admin's CREATE_ROOM) with its founder
 * as member 0, connected. Errors: FKEX_ERR_IO with a sentence in err. */
fkex_err rm_open(rm_room *r, const char *addr, const fkex_tls *tls, const char *policy,
                 const fkex_key *k0, const fkex_key *k1, char err[128]) FKEX_WUR;
/* Joins `count` members through the relay, `wave` at a time (the sponsor
 * commits each wave's admissions together); every member stays connected.
 * Waits at most timeout_ms. */
fkex_err rm_grow(rm_room *r, int count, int wave, unsigned timeout_ms, char err[128]) FKEX_WUR;
/* One join, timed: from the joiner's first step (its state and
 * JoinRequest, its connection and AUTH) until it can decrypt (JOINED);
 * then it proposes its own removal and waits for the commit, so the room
 * is back to its size. *ms is the join's wall time. */
fkex_err rm_join_timed(rm_room *r, double *ms, unsigned timeout_ms, char err[128]) FKEX_WUR;
/* One recovery, timed. Members `victim` and `committer` are connected
 * from this process; neither is the sponsor. The victim flips one byte of
 * its slice in the next star commit before its state machine reads it (as
 * a relay swapping the slice would); the committer then commits an Update
 * (a star commit). The victim gets FKEX_GKE_EV_LOST on SETTLED and
 * re-enters through admission with a fresh pseudonym (the sponsor admits
 * and commits it). *lost_ms: from LOST to JOINED; *commit_ms: from the
 * commit's submission to JOINED. Then the victim proposes the removal of
 * its old leaf and the sponsor commits it, so the room is back to its
 * size. */
fkex_err rm_recover_timed(rm_room *r, int victim, int committer, double *lost_ms, double *commit_ms,
                          unsigned timeout_ms, char err[128]) FKEX_WUR;
/* Runs the loop until every connected member has seen relay seq `head`
 * (commits and acks still in flight are processed). */
fkex_err rm_settle(rm_room *r, uint64_t head, unsigned timeout_ms, char err[128]) FKEX_WUR;
/* Closes every connection (the members keep their state). */
void rm_hang_up(rm_room *r);
/* Dials members [from, to) again from relay seq `after` (their state is
 * current up to it) and waits until all are READY. */
fkex_err rm_dial(rm_room *r, int from, int to, uint64_t after, unsigned timeout_ms,
                 char err[128]) FKEX_WUR;
/* Runs the loop until *stop is nonzero (or forever if stop is NULL). */
void rm_run(rm_room *r, volatile int *stop);
/* Runs the loop for about ms milliseconds. */
void rm_run_for(rm_room *r, unsigned ms);
/* A fresh loop after fork(): the inherited one is abandoned, never closed. */
fkex_err rm_after_fork(rm_room *r) FKEX_WUR;
void rm_close(rm_room *r);

#endif
