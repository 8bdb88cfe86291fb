/*
 * relay/serve.h: the relay's daemon (fkex relay): a libuv loop over
 * relay/room.h, speaking wire/relay_msg.h over src/net's frames.
 *
 * It holds every room of the store in memory (loaded at start), one
 * session per connection (HELLO, NONCE, AUTH, READY, then the replay of
 * what the leaf missed), and a 1 s timer for sponsor timeouts and the
 * grace period. It holds no key that can read a room, and logs no secret.
 *
 * Runs until SIGTERM or SIGINT, then closes every connection and returns
 * FKEX_OK. Does not fork. on_ready gets the bound address ("HOST:PORT")
 * once listening; log (may be NULL) gets one line per session event.
 */
#ifndef FKEX_RELAY_SERVE_H
#define FKEX_RELAY_SERVE_H

#include <stdint.h>
#include "fkex/error.h"
#include "relay/store.h"

#define RELAY_DEFAULT_GRACE_MS 60000u
/* Bytes waiting to be written to one connection before it is cut off as a
 * slow reader: a few of the largest envelopes. */
#define RELAY_MAX_QUEUED (64u << 20)

typedef struct {
    void (*on_ready)(void *ctx, const char *addr);
    void (*log)(void *ctx, const char *line);
    void *ctx;
} relay_hooks;

/* Errors: FKEX_ERR_ARGUMENT (bad address), FKEX_ERR_IO (bind, the loop, or
 * the store could not be read at start), with a sentence in err. */
fkex_err relay_serve(relay_store *st, const char *addr, uint64_t grace_ms, const relay_hooks *hooks,
                     char err[128]) FKEX_WUR;

#endif
