/*
 * tests/relay_harness.h: what the relay's end-to-end suites share
 * (relay_daemon, relay_abuse): the real daemon ($FKEX_BIN relay) on
 * 127.0.0.1 with a free port and a scratch database, and real ratchet
 * members driven over src/net on this process's libuv loop.
 *
 * Every wait is bounded (RH_WAIT_MS); rh_relay_kill ends the daemon on
 * every path.
 */
#ifndef FKEX_TESTS_RELAY_HARNESS_H
#define FKEX_TESTS_RELAY_HARNESS_H

#include <sys/types.h>
#include "gke_world.h"
#include "net/net.h"
#include "wire/relay_msg.h"

#define RH_WAIT_MS 20000u

extern gke_world rh_world;
extern const char *rh_bin;     /* $FKEX_BIN, or ./fkex */
extern uv_loop_t rh_loop;
extern fkex_tls *rh_tls;       /* the parties' client context (rh_loop_open) */
extern fkex_rng rh_rng;
extern uint8_t rh_room_id[32];

/* The suite's scratch directory (under test_tmpdir), $FKEX_BIN, SIGPIPE
 * ignored; 0, or -1 (a failure is recorded). */
int rh_suite_open(const char *dir);
uint64_t rh_mono_ms(void);
/* A path in the scratch directory (a ring of 8 buffers). */
const char *rh_at(const char *name);

/* Starts `fkex relay --listen 127.0.0.1:0 --db DIR/relay.db --grace 1 -v`
 * and the NULL-terminated extra arguments (may be NULL), output in
 * DIR/name.out and .err; with limits (NULL for none) given to the shell's
 * ulimit first: "-n 48", "-f 4096".
 * Its address into addr; the pid, or -1. */
pid_t rh_relay_start(char addr[128], const char *name, const char *const *extra, const char *limits);
/* A relay of a cluster: `fkex relay --listen 127.0.0.1:0 --store STORE
 * --grace 1 --tls-key DIR/cluster.key -v` (the cluster's relays share
 * the key), output in DIR/name.out and .err. Its address into addr;
 * the pid (the caller's to stop: rh_relay_stop, or kill and reap), or -1. */
pid_t rh_cluster_relay_start(char addr[128], const char *name, const char *store);
/* SIGTERM: the exit code, or -1 if it did not exit within 5 s (then killed). */
int rh_relay_stop(pid_t pid);
void rh_relay_kill(void);
/* Whether the daemon's log DIR/name has phrase, waiting for it up to 10 s. */
int rh_logged(const char *name, const char *phrase);

/* ---- members on this process's loop ---------------------------------------- */
typedef struct {
    const char *name;
    fkex_ratchet *st;          /* NULL: an anonymous client (the admin) */
    uint8_t v[32];
    fkex_conn *c;
    int ready, closed;
    uint64_t last_seq;         /* the last relay seq delivered */
    uint64_t client_seq;
    int accepted, nerrors, refused;
    uint16_t last_error;
    int joined, admitted, messages, descriptors, forks, accused;
    char last_text[64];
    fkex_gke_out pending;      /* sent once READY (a joiner's JoinRequest) */
} rh_party;

void rh_loop_open(void);
/* Closes the parties' connections and the loop. */
void rh_loop_close(rh_party *const *parties, size_t n);
/* One turn of the loop, at most ~10 ms when nothing happens. */
void rh_turn(void);
/* Turns for ms. */
void rh_idle(uint64_t ms);

#define RH_WAIT(cond) RH_WAIT_FOR(cond, RH_WAIT_MS)
#define RH_WAIT_FOR(cond, ms)                                                       \
    do {                                                                            \
        uint64_t dl_ = rh_mono_ms() + (ms);                                         \
        while (!(cond) && rh_mono_ms() < dl_)                                       \
            rh_turn();                                                              \
        if (!(cond))                                                                \
            fprintf(stderr, "    timed out waiting for %s\n", #cond);               \
        CHECK(cond);                                                                \
    } while (0)

void rh_party_init(rh_party *p, const char *name);
void rh_party_free(rh_party *p);
void rh_send_env(rh_party *p, const fkex_relay_msg *m);
/* Connects; a party with a ratchet says HELLO with its leaf key from its last seq. */
int rh_dial(rh_party *p, const char *addr);
void rh_hang_up(rh_party *p);
void rh_say(rh_party *p, const char *text);
void rh_absorb(rh_party *p, fkex_gke_out *out);

/* A room under the prototype's policy: the admin's key, its descriptor and
 * founder alice (her ratchet made here). *desc is malloc'd. */
void rh_room_make(rh_party *alice, uint8_t **desc, size_t *desclen, uint8_t admin_sk[64],
                  uint8_t sig[64]);
/* Sends CREATE_ROOM for it on admin's connection. */
void rh_room_create(rh_party *admin, const uint8_t *desc, size_t desclen, const uint8_t founder[32],
                    const uint8_t sig[64]);
/* joiner joins with key through the relay, sponsor (ready) admitting and
 * committing it: both reach the next epoch. 0, or -1. */
int rh_join(rh_party *sponsor, rh_party *joiner, const fkex_key *key, const uint8_t *desc,
            size_t desclen, const char *addr);
/* alice (the founder) says HELLO; bob (key: world.bob) joins through the
 * relay and both reach epoch 1. 0, or -1. */
int rh_two_members(rh_party *alice, rh_party *bob, const uint8_t *desc, size_t desclen,
                   const char *addr);

#endif
