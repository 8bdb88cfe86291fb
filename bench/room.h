/*
 * bench/room.h: an in-process ratchet room: n parties and a relay over one
 * message queue. The tests drive it (tests/test_ratchet.c) and so does the
 * benchmark (bench/gke.c).
 *
 * The relay does what PROTOCOL.md and DESIGN.md give it to do, and no more:
 * it names the sponsor (the roster's first online member), routes
 * Challenges, Proofs, JoinRefused and Welcomes, passes on every commit for its current
 * epoch (cut into per-member views) and settles the epoch on the commit of
 * the first EpochAck (version 2: SETTLED, then the roster moves), holds
 * each Welcome until its commit has won, and fans out everything else to
 * the roster. It holds no key.
 *
 * The adversary sits in the relay: `tamper` sees every frame before
 * delivery and may drop, change or keep it; room_inject delivers any bytes
 * to any party; every frame is recorded in the transcript.
 *
 * Accounting, per party: CPU time spent inside the state machine
 * (thread CPU clock), bytes it sent; and the bytes the relay fanned out.
 */
#ifndef FKEX_BENCH_ROOM_H
#define FKEX_BENCH_ROOM_H

#include "gke/gke.h"
#include "ibe/ibe.h"

#define ROOM_MAX_PARTIES 2048

typedef struct {
    fkex_ratchet *st;
    const fkex_key *key;
    uint8_t v[32];          /* leaf signing key: the relay's address for it */
    uint8_t joiner_id[32];
    int online;
    /* what happened to it */
    int joined, aborted, left, admitted, lost;
    size_t forks;           /* FKEX_GKE_EV_FORK events */
    size_t accused;         /* FKEX_GKE_EV_MISBEHAVED events */
    size_t impersonated;    /* FKEX_GKE_EV_IMPERSONATED events */
    fkex_err abort_err, left_err;
    uint64_t epochs;        /* EPOCH events seen */
    uint64_t messages;      /* MESSAGE events seen */
    uint8_t last_message[256];
    size_t last_message_len;
    uint32_t last_sender;
    uint64_t last_message_epoch;
    size_t refused;         /* frames its state machine refused */
    fkex_err last_refusal;
    /* accounting */
    double cpu_ms;
    size_t bytes_sent;
} room_party;

typedef struct room room;
/* Return 0 to deliver frame (possibly changed in place, same length), 1 to drop it. */
typedef int (*room_tamper_fn)(room *r, int to, uint8_t *frame, size_t len, void *ctx);

typedef struct {
    int party;
    uint8_t *bytes;
    size_t len;
} room_frame;

struct room {
    room_party parties[ROOM_MAX_PARTIES];
    int nparties;
    /* the relay */
    uint64_t epoch;
    int *roster;            /* party ids, in roster order */
    int nroster;
    int sponsor_of[ROOM_MAX_PARTIES];   /* the sponsor each pending joiner was sent to */
    uint8_t (*won)[32];     /* content hashes of settled commits */
    room_frame *cands;      /* candidate commits for the current epoch */
    size_t ncands;
    uint8_t *self_ack;      /* an EpochAck from the committer alone, settled once nobody else
                               who stays is online */
    size_t self_ack_len;
    size_t nwon;
    room_frame *held;       /* Welcomes waiting for their commit */
    size_t nheld;
    room_frame *queue;
    size_t qhead, qlen, qcap;
    size_t fanout_bytes;
    /* the adversary */
    room_tamper_fn tamper;
    void *tamper_ctx;
    int record;
    room_frame *transcript;
    size_t ntranscript;
    /* the room */
    uint8_t room_id[32];
    uint8_t admin_sk[64];
    uint8_t *descriptor;
    size_t descriptor_len;
    const char *period;
    fkex_rng rng;
};

/* A room named "room" with the given policy and descriptor options,
 * founded by party 0 with key; period is every party's current period
 * (NULL unless the options require one). seed makes the run reproducible. */
fkex_err room_open(room *r, const char *policy, uint32_t options, const char *period,
                   const fkex_key *founder, const char *seed) FKEX_WUR;
void room_close(room *r);

/* A new party starts joining; returns its id, or -1 (then *err says why). */
int room_join_start(room *r, const fkex_key *key, fkex_err *err);
/* Runs the queue until it is empty (at most max_steps deliveries);
 * returns the number of frames delivered. */
size_t room_run(room *r, size_t max_steps);
/* A whole join: start, run, let the sponsor commit, run. Returns the
 * party id (joined or not: check parties[id].joined), or -1. */
int room_join(room *r, const fkex_key *key);
/* Party p proposes its own removal, the first other member commits it. */
fkex_err room_leave(room *r, int p) FKEX_WUR;
/* Party p commits what it has pending (and opt). */
fkex_err room_commit(room *r, int p, const fkex_commit_options *opt) FKEX_WUR;
/* Party p sends an application message. */
fkex_err room_send(room *r, int p, const char *text) FKEX_WUR;
/* Delivers bytes to p directly (the adversary's injection); returns what
 * its state machine said, and routes whatever it produced. */
fkex_err room_inject(room *r, int p, const uint8_t *bytes, size_t len);
/* 1 if every roster member is at the relay's epoch with the same
 * epoch authenticator. */
int room_agree(const room *r);

#endif
