/*
 * bench/loadgen.h: the load generator of `fkex bench relay`: one process,
 * one thread, epoll over plain sockets, speaking either the relay protocol
 * (wire/relay_msg.h: HELLO/NONCE/AUTH, SUBMIT, DELIVER) or Redis's RESP
 * (SUBSCRIBE, PUBLISH), so that fkex and Redis are driven by the same code
 * with the same messages.
 *
 * Subscribers: fkex, the room's members, each authenticated with its leaf
 * key (the caller signs the relay's nonce); Redis, SUBSCRIBE to one
 * channel. Publishers: fkex, the first members' own connections (only a
 * member may send to a room, and one leaf has one session); Redis,
 * separate connections (a subscribed connection cannot PUBLISH). Either
 * way one message reaches `nsubs` subscribers.
 *
 * A message is 256 bytes shaped as a room application message (type 9,
 * version 1, the room id) carrying the send time at offset 34; the relay
 * routes it like any application message. Latency is measured per
 * delivery: receive time minus that send time (one clock, one machine).
 */
#ifndef FKEX_BENCH_LOADGEN_H
#define FKEX_BENCH_LOADGEN_H

#include <stddef.h>
#include <stdint.h>

#define LG_MSG 256

/* The relay's protocol over plain TCP (a relay run with
 * --insecure-plaintext) or over TLS 1.3, or Redis's. */
typedef enum { LG_FKEX, LG_FKEX_TLS, LG_RESP } lg_proto;

/* fkex: signs the relay's nonce as subscriber i (its leaf key); 0 or -1. */
typedef int (*lg_sign_fn)(void *ctx, int i, const uint8_t nonce[32], uint8_t sig[64]);

typedef struct lg_conn lg_conn;
typedef struct {
    lg_proto proto;
    int nsubs, npubs;
    lg_conn *conns;          /* nsubs subscribers, then (Redis) npubs publishers */
    int nconns;
    int ep;
    uint64_t deliveries, acks, errors;
    double *lat;             /* latency samples, ms */
    size_t nlat, latcap;
    int record;
    char why[128];
} lg;

/* Connects and subscribes nsubs subscribers (fkex: subscriber i is the
 * member whose leaf key is v[i], from relay seq `after`) and npubs
 * publishers, connection i to ports[i % nports] (the relays of a
 * cluster). 0, or -1 with a sentence in g->why. */
int lg_open(lg *g, lg_proto proto, const uint16_t *ports, int nports, const uint8_t room_id[32],
            int nsubs, int npubs, const uint8_t (*v)[32], uint64_t after, lg_sign_fn sign,
            void *ctx);
/* fkex: nrooms rooms of per_room members each on one relay; connection i
 * is member i % per_room of room i / per_room (v[i], from that room's
 * relay seq after[room]), and each room's first member publishes in it. */
int lg_open_rooms(lg *g, lg_proto proto, uint16_t port, int nrooms, const uint8_t (*room_ids)[32],
                  int per_room, const uint8_t (*v)[32], const uint64_t *after, lg_sign_fn sign,
                  void *ctx);
void lg_close(lg *g);

/* Publishes as fast as acknowledgements allow (each publisher keeps
 * `window` unacknowledged) for warmup_s, then counts deliveries for
 * run_s. *rate: deliveries per second. 0 or -1. */
int lg_blast(lg *g, int window, double warmup_s, double run_s, double *rate);
/* Publishes `per_s` messages a second, evenly, from one publisher for
 * warmup_s + run_s; every delivery after the warmup is a latency sample
 * (g->lat, g->nlat). 0 or -1. */
int lg_paced(lg *g, double per_s, double warmup_s, double run_s);

/* Opens up to n idle connections (fkex: an anonymous session, HELLO and
 * READY, with TLS first for LG_FKEX_TLS; Redis: PING and PONG), one
 * after the other, stopping at the first that fails. Returns how many are
 * held; why says what stopped it, if anything. The set-up time of each
 * (connect, handshake, session, until the answer): median and p99. */
typedef struct {
    int *fds;
    void **tls;              /* each one's SSL, or NULL */
    int n;
    double setup_p50_ms, setup_p99_ms;
} lg_idle;
int lg_idle_open(lg_idle *h, lg_proto proto, uint16_t port, const uint8_t room_id[32], int n,
                 char why[128]);
void lg_idle_close(lg_idle *h);

#endif
