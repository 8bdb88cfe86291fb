/*
 * relay/jetstream.h: the relays' shared log in a NATS JetStream cluster
 * (FEDERATION.md), over the C client (libnats). One stream, FKEX_ROOMS,
 * on the subjects fkex.> (file storage, replicas min(3, the cluster's
 * size), a deduplication window of RELAY_JS_DEDUP_S): a room's entries on
 * fkex.room.<room id>, a relay's on fkex.relay.<relay id>. Every relay
 * reads the whole stream, in the stream's one order, from its first
 * entry, with an ordered consumer: the same entries in the same order on
 * every relay, which is what lets each fold them into the same rooms.
 *
 * Publishing is asynchronous and keyed: each entry carries Nats-Msg-Id (a
 * hash the caller chooses), so an entry published twice, by a relay that
 * retries or by a client that resends through another relay, is stored
 * once, and both publications are acknowledged with its one stream
 * sequence. An entry not acknowledged within RELAY_JS_RETRY_MS is
 * published again under the same id, until it is (a NATS node died with
 * it in flight).
 *
 * Threads: libnats runs its own connection threads (its libuv adapter
 * would read the socket on our loop, where the synchronous JetStream
 * calls made at start would then wait for themselves). What those threads
 * report (an entry of the stream, an acknowledgement, the connection lost
 * or back) is queued and handed to the caller's loop by a uv_async, so
 * that every room's state is touched by the loop's thread alone.
 */
#ifndef FKEX_RELAY_JETSTREAM_H
#define FKEX_RELAY_JETSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "fkex/error.h"

#define RELAY_JS_STREAM "FKEX_ROOMS"
#define RELAY_JS_DEDUP_S 120
#define RELAY_JS_RETRY_MS 2000u
/* Server addresses in a --store list. */
#define RELAY_JS_MAX_SERVERS 16

typedef struct relay_js relay_js;

typedef struct {
    /* An entry of the stream, in stream order, exactly once per sequence;
     * time is the stream's (its leader's clock when it stored it, ms). */
    void (*on_entry)(void *ctx, uint64_t seq, uint64_t time, const uint8_t *entry, size_t len);
    /* The entry published under id is stored at seq. */
    void (*on_stored)(void *ctx, const uint8_t id[32], uint64_t seq);
    /* JetStream refused the entry published under id for good (why). */
    void (*on_refused)(void *ctx, const uint8_t id[32], const char *why);
    /* The connection's events (lost, back on another server), for the log. */
    void (*on_status)(void *ctx, const char *line);
    /* After the events that had arrived together (one wake of the loop). */
    void (*on_drained)(void *ctx);
    void *ctx;
} relay_js_hooks;

/* Parses "nats://HOST:PORT[,HOST:PORT...]" (the scheme once, at the
 * front): 0, or -1 with a sentence in err. */
int relay_js_parse(const char *store, char servers[RELAY_JS_MAX_SERVERS][80], int *n,
                   char err[128]);
/* Connects to the servers of store (relay_js_parse), makes the stream if
 * it is not there, and starts reading it from its first entry; hooks are
 * called on loop's thread. Errors: FKEX_ERR_ARGUMENT (the list),
 * FKEX_ERR_IO (no server answered, or JetStream refused), with a sentence
 * in err. */
fkex_err relay_js_open(relay_js **js, uv_loop_t *loop, const char *store,
                       const relay_js_hooks *hooks, char err[128]) FKEX_WUR;
/* Publishes entry on subject under id (copied; with keep, retried until
 * stored: a heartbeat is not, the next one comes anyway). FKEX_ERR_NO_MEMORY,
 * or FKEX_ERR_IO if the client refused it at once. */
fkex_err relay_js_publish(relay_js *js, const char *subject, const uint8_t *entry, size_t len,
                          const uint8_t id[32], int keep) FKEX_WUR;
/* 1 once an entry of the stream could not be handed over (out of memory):
 * what follows it cannot be folded. */
int relay_js_broken(const relay_js *js);
/* Entries published and not yet stored. */
size_t relay_js_unstored(const relay_js *js);
/* The replicas the stream has. */
int relay_js_replicas(const relay_js *js);
/* The stream's last sequence when it was opened: a relay that folds the
 * log serves once it has read that far. */
uint64_t relay_js_last_seq(const relay_js *js);
/* The server connected to now ("nats://HOST:PORT"), for the log. */
void relay_js_server(const relay_js *js, char *out, size_t cap);
/* Stops reading, closes the connection, and closes its handles on loop
 * (run the loop to let them close). */
void relay_js_close(relay_js *js);

#endif
