/*
 * tests/proxy.h: a man in the middle for the end-to-end suites (dm_e2e,
 * chat_e2e). A forked proxy on 127.0.0.1 with a TLS key of its own: every
 * connection made to it is relayed to the relay (over TLS, the relay's
 * pin checked), frame by frame (the length-prefixed frames of src/net,
 * each one envelope of wire/relay_msg.h), and each whole frame is handed
 * to a tamper callback before it is passed on. A test plays a relay that
 * lies this way, without a flag in the relay itself: invitations that pin
 * the proxy's key trust it as their relay; those that pin the relay's key
 * refuse it (a man in the middle).
 *
 * The proxy is a child process: the callback runs there, on the child's
 * copy of the shared state (what the parent holds is never updated), and
 * it can tell the test something only through a file. The child closes
 * every descriptor it inherited but stdio, so it never holds a member's
 * pipe open. When one side of a connection ends, so does the other.
 */
#ifndef FKEX_TESTS_PROXY_H
#define FKEX_TESTS_PROXY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum { PROXY_TO_RELAY = 0, PROXY_TO_CLIENT = 1 };

/* One whole frame going dir: env (len bytes, the envelope without its
 * length prefix) may be changed in place before it is sent; its length
 * may not. conn is this connection's state (conn_size bytes, zeroed when
 * the client connects), shared the proxy's (ops->shared). */
typedef void (*proxy_tamper_fn)(void *shared, void *conn, int dir, uint8_t *env, size_t len);

typedef struct {
    proxy_tamper_fn tamper;   /* NULL: every frame as it is */
    void *shared;
    size_t conn_size;
} proxy_ops;

/* Starts the proxy on a free port of 127.0.0.1, in front of relay_addr
 * ("PIN@127.0.0.1:PORT"); addr gets where it listens, "PIN@127.0.0.1:PORT"
 * with its own key's pin. Its pid, or -1. */
pid_t proxy_start(char addr[128], const char *relay_addr, const proxy_ops *ops);
/* Kills it (pid > 0) and reaps it. */
void proxy_stop(pid_t pid);

#endif
