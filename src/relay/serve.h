/*
 * relay/serve.h: the relay's daemon (fkex relay): a libuv loop over
 * relay/room.h, speaking wire/relay_msg.h over src/net's frames.
 *
 * It holds every room of the store in memory (loaded at start), one
 * session per connection (HELLO, NONCE, AUTH, READY, then the replay of
 * what the leaf missed), and a 1 s timer for sponsor timeouts, the grace
 * period and the session deadline. It holds no key that can read a room,
 * and logs no secret.
 *
 * Against abusive clients: a frame that does not decode, a length over
 * the maximum, a stream that ends inside a frame, a frame not completed
 * within frame_timeout_ms, and a connection without a session after
 * session_timeout_ms each get an ERROR saying so, then the connection is
 * closed once that frame is written (net.h fkex_conn_finish); nobody else
 * is touched. Past max_conns a new connection gets ERROR 8 and is closed.
 *
 * Runs until SIGTERM or SIGINT, then closes every connection and returns
 * FKEX_OK. Does not fork. on_ready gets the bound address ("HOST:PORT",
 * or with TLS "PIN@HOST:PORT") once listening; log (may be NULL) gets one line per session event.
 */
#ifndef FKEX_RELAY_SERVE_H
#define FKEX_RELAY_SERVE_H

#include <stdint.h>
#include "fkex/error.h"
#include "net/tls.h"
#include "relay/store.h"

#define RELAY_DEFAULT_GRACE_MS 60000u
/* A frame begun must be complete within this (slowloris). */
#define RELAY_DEFAULT_FRAME_TIMEOUT_MS 10000u
/* A connection must have a session (READY) or an answered descriptor
 * request within this, or it is closed with an ERROR saying so. */
#define RELAY_DEFAULT_SESSION_TIMEOUT_MS 30000u
/* Connections held at once; fewer if the open-file limit is lower
 * (relay_default_max_conns). */
#define RELAY_DEFAULT_MAX_CONNS 20000u
/* A member's (or a joiner's, or a direct conversation's) connection silent
 * this long gets a PING; without a frame back within as long again it is
 * closed, so that a frozen client (stopped, its TCP connection open) is
 * counted away and, past the grace period, gone. */
#define RELAY_DEFAULT_KEEPALIVE_MS 15000u
/* Bytes waiting to be written to one connection before it is cut off as a
 * slow reader: a few of the largest envelopes. */
#define RELAY_MAX_QUEUED (64u << 20)

typedef struct {
    uint64_t grace_ms;
    uint64_t frame_timeout_ms;
    uint64_t session_timeout_ms;
    uint64_t keepalive_ms;
    size_t max_conns;        /* past it, a new connection gets ERROR 8 and is closed */
    /* Cluster mode: nats://HOST:PORT[,...] (relay/fold.c): the rooms are a
     * fold of a NATS JetStream log that several relays share, and the
     * store is this relay's cache of it (empty at start). NULL: the store
     * alone. */
    const char *cluster;
    /* TLS (net/tls.h, a server's context), or NULL: plain TCP. */
    const fkex_tls *tls;
    /* Browsers on the same port (fkex_server_set_web): the web client's
     * files, and WebSockets that carry the relay's frames. NULL: none. */
    const fkex_web_site *web;
} relay_options;

/* The defaults above; max_conns is RELAY_DEFAULT_MAX_CONNS or, if lower,
 * RLIMIT_NOFILE less what the daemon needs besides (the database, its
 * journal, the loop: 64), so that the cap and not EMFILE refuses. */
void relay_options_default(relay_options *o);

typedef struct {
    void (*on_ready)(void *ctx, const char *addr);
    void (*log)(void *ctx, const char *line);
    void *ctx;
} relay_hooks;

/* Errors: FKEX_ERR_ARGUMENT (bad address), FKEX_ERR_IO (bind, the loop, or
 * the store could not be read at start), with a sentence in err. */
fkex_err relay_serve(relay_store *st, const char *addr, const relay_options *opt,
                     const relay_hooks *hooks, char err[128]) FKEX_WUR;

#endif
