/*
 * net/net.h: length-prefixed frames over TCP on a libuv loop.
 *
 * The thin network layer of the daemons (fkex kms, fkex relay) and of the
 * chat client. A frame is a u32 big-endian length, then that many bytes (a
 * zero-length frame is allowed). Sizes are bounded both ways: a peer that
 * announces a frame longer than max_frame is cut off before its body
 * arrives, and a peer that does not read is cut off once the bytes waiting
 * to be written to it pass max_queued ("slow reader"), so memory per
 * connection never grows without bound.
 *
 * Ownership: the loop belongs to the caller; fkex_server and fkex_conn are
 * owned by this layer and freed by it once libuv has closed their handles,
 * i.e. on a later turn of the loop. Closing is idempotent and safe from
 * inside any callback. Nothing here prints: errors go into the caller's err
 * buffer or become the reason handed to the close callback.
 *
 * Everything runs on the loop's thread. No global state. Writes to a peer
 * that has gone away raise SIGPIPE: a process that runs its own loop must
 * ignore it (signal(SIGPIPE, SIG_IGN)), as every daemon does;
 * fkex_net_request guards itself (it blocks SIGPIPE on its thread while it
 * runs), so a CLI needs nothing.
 *
 * TLS 1.3 (net/tls.h): a server started with a context, and a client
 * connected with one, speak TLS under the frames, and everything above
 * is the same. A client is connected (on_connected) once the handshake is
 * done and the server's key or name checked as its endpoint says; frames
 * sent before then wait. A server's connection is on the frame-timeout
 * clock from its accept until its handshake is done ("handshake timed
 * out"). Without a context (NULL), plain TCP.
 *
 * Only the I/O edges include this header; the pure layers never do.
 */
#ifndef FKEX_NET_H
#define FKEX_NET_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "fkex/error.h"
#include "net/http.h"
#include "net/tls.h"

/* ---- the incremental frame parser (no sockets: tests and fuzz/fuzz_frames.c) */

/* Called once per complete frame; frame is valid only during the call (it may
 * point into the fed bytes). Returns 0 to go on, nonzero to stop feeding. */
typedef int (*fkex_frame_sink)(void *ctx, const uint8_t *frame, size_t len);

typedef struct {
    size_t max_frame;
    uint8_t hdr[4];
    size_t nhdr;           /* header bytes seen of the current frame, 0..4 */
    size_t want;           /* its body length, once nhdr == 4 */
    uint8_t *buf;          /* the body so far, when it spans feeds */
    size_t have, cap;
    fkex_err failed;       /* sticky: once a feed fails, every later one does */
} fkex_frame_parser;

void fkex_frame_parser_init(fkex_frame_parser *p, size_t max_frame);
/* Parses len bytes, calling sink for each frame they complete. *used (if not
 * NULL) says how many bytes were consumed: all of them unless the sink asked
 * to stop, in which case the caller feeds the rest later. The result is the
 * same however a stream is split into feeds. O(len) plus one copy of any
 * frame that spans feeds; a body buffer grows with the bytes that actually
 * arrive, never ahead of them to the announced length.
 * Errors: FKEX_ERR_BAD_ENCODING when a frame announces more than max_frame
 * (as soon as its 4-byte header is complete), FKEX_ERR_NO_MEMORY. */
fkex_err fkex_frame_parser_feed(fkex_frame_parser *p, const uint8_t *data, size_t len, size_t *used,
                                fkex_frame_sink sink, void *ctx) FKEX_WUR;
/* 1 if the parser holds part of a frame (a stream ending now is truncated). */
int fkex_frame_parser_partial(const fkex_frame_parser *p);
/* Frees the body buffer; the parser may be initialised again. */
void fkex_frame_parser_free(fkex_frame_parser *p);

/* ---- connections and servers ------------------------------------------- */
typedef struct fkex_conn fkex_conn;
typedef struct fkex_server fkex_server;
typedef struct {
    size_t max_frame;    /* a frame longer than this is rejected ("frame too large") */
    size_t max_queued;   /* bytes waiting to be written; passing it closes the connection ("slow reader") */
} fkex_net_limits;
typedef void (*fkex_frame_cb)(fkex_conn *c, const uint8_t *frame, size_t len);
typedef void (*fkex_close_cb)(fkex_conn *c, const char *why);   /* called once; c is freed after it returns */
/* The peer broke the framing: why is "frame too large", "frame timed out"
 * or "truncated frame" (the peer ended its stream inside a frame). The
 * callback may send one last frame saying so (fkex_conn_send); then the
 * connection is finished (fkex_conn_finish): what was sent is flushed and
 * the connection closed, with why as its reason. Without a reject
 * callback the connection is closed at once. No frame is delivered after. */
typedef void (*fkex_reject_cb)(fkex_conn *c, const char *why);

/* Used when a function is given lim == NULL. */
#define FKEX_NET_DEFAULT_MAX_FRAME  (1u << 20)
#define FKEX_NET_DEFAULT_MAX_QUEUED (8u << 20)

/* Listens on "HOST:PORT" (IPv4 dotted or [IPv6]; PORT 0 = a free port, read back with fkex_server_port),
 * with TLS if tls is not NULL (a server's context, which must live until
 * the server is freed).
 * Each accepted connection is handed to on_accept, which sets its callbacks
 * with fkex_conn_set (and may pause or close it); reading starts when
 * on_accept returns. Errors: FKEX_ERR_ARGUMENT (bad address), FKEX_ERR_IO
 * (bind or listen failed), with a sentence in err. On an error after the
 * handle was created, the loop frees it on its next run. */
fkex_err fkex_server_start(fkex_server **s, uv_loop_t *loop, const char *addr, const fkex_net_limits *lim,
                           const fkex_tls *tls, void (*on_accept)(fkex_server *s, fkex_conn *c),
                           void *data, char err[128]) FKEX_WUR;
uint16_t fkex_server_port(const fkex_server *s);
/* "HOST:PORT" with the host of addr (the one fkex_server_start was given)
 * and the port s bound, which differs when addr asked for port 0; with
 * TLS "PIN@HOST:PORT", the server's key pinned: the endpoint that
 * clients dial, what a daemon prints once it listens. */
void fkex_server_bound(char *out, size_t cap, const fkex_server *s, const char *addr);
/* A connection of s that began a frame (sent part of its header or body)
 * must complete it within ms, or it is rejected ("frame timed out"): a
 * peer that trickles bytes (slowloris) holds a connection only this long.
 * 0 (the default): no deadline. One timer per server checks, every
 * ms/4 (at most every second), O(connections in the middle of a frame). */
void fkex_server_set_frame_timeout(fkex_server *s, uint64_t ms);
void *fkex_server_data(const fkex_server *s);
/* Serves browsers too, on the same port (net/http.h): site's files over
 * HTTP (each file one block that every response shares; a response has
 * 30 s to be read before its connection ends), and relay frames over a
 * WebSocket at FKEX_WEB_SOCKET_PATH, each binary message one frame
 * (net/ws.h), under the same limits. site must live until the server is
 * freed. Call before the first accept. FKEX_ERR_NO_MEMORY. */
fkex_err fkex_server_set_web(fkex_server *s, const fkex_web_site *site) FKEX_WUR;
/* Stops listening and closes every connection (their close callbacks run); frees s once the loop has closed the handles.
 * The close reason is "server stopped". s must not be used after this call,
 * and what the close callbacks use must live until the loop has run them. */
void fkex_server_stop(fkex_server *s);

/* Connects to the endpoint addr, "[AUTH@]HOST:PORT" (codec.h), with TLS
 * if tls is not NULL (a client's context, which must outlive c; the
 * server is checked as AUTH says), else plain TCP (AUTH is then ignored).
 * *c is set at once, so fkex_conn_set may be called
 * before the connection completes; frames sent before then are queued.
 * on_connected gets status 0 (with TLS: once the handshake is done), or a
 * libuv error (uv_strerror(status)): then the connection closes with that
 * sentence as its reason; it is not called if c is closed first (a TLS
 * handshake that fails closes c with its sentence: "the server's key ...
 * is not the one pinned ...", "TLS handshake failed: ..."). Errors
 * (nothing is called back, *c = NULL): FKEX_ERR_ARGUMENT (bad address),
 * FKEX_ERR_IO, FKEX_ERR_NO_MEMORY. Port 0 is refused. */
fkex_err fkex_conn_connect(fkex_conn **c, uv_loop_t *loop, const char *addr, const fkex_net_limits *lim,
                           const fkex_tls *tls, void (*on_connected)(fkex_conn *c, int status),
                           char err[128]) FKEX_WUR;
void fkex_conn_set(fkex_conn *c, fkex_frame_cb on_frame, fkex_close_cb on_close, void *data);
/* Sets the reject callback (NULL: a framing error closes at once). */
void fkex_conn_set_reject(fkex_conn *c, fkex_reject_cb on_reject);
void *fkex_conn_data(const fkex_conn *c);
const char *fkex_conn_peer(const fkex_conn *c);      /* "127.0.0.1:53122", for logs */
/* Where the peer connects from, as 16 bytes: an IPv4 address as
 * ::ffff:a.b.c.d, an IPv6 address as its /64 and zeros (all zero if
 * unknown). For bounds per source. */
const uint8_t *fkex_conn_source(const fkex_conn *c);
/* The server that accepted c, or NULL (an outgoing connection, or c is closing). */
fkex_server *fkex_conn_server(const fkex_conn *c);
/* Queues a copy of one frame. 0, or -1 if the connection is closing or the queue would pass max_queued
 * (then the connection is closed with "slow reader": memory never grows without bound).
 * The frame is written at once as far as the socket takes it, after
 * anything queued with fkex_conn_queue; only the rest is copied and counted
 * against max_queued (4 header bytes included). */
int fkex_conn_send(fkex_conn *c, const uint8_t *frame, size_t len);
/* Bytes waiting to be written (copies, and shared frames counted whole): never more than max_queued. */
size_t fkex_conn_queued(const fkex_conn *c);

/* ---- shared frames: one encoding for many connections -------------------- */
/* A frame that goes to many connections (a broadcast) is built once: the
 * 4-byte header and the body in one reference-counted block. Each connection
 * that queues it holds a reference until the kernel has taken its bytes
 * (or the connection closed), and counts its whole length against its own
 * max_queued as if it were a copy: each connection's bound is unchanged
 * while the memory is shared, so a slow reader that is cut off frees only
 * its references. Single-threaded, like the rest of this layer. */
typedef struct fkex_frame_buf fkex_frame_buf;
/* A block for a body of len bytes, header written, one reference (the
 * caller's); NULL if out of memory or len > UINT32_MAX. */
fkex_frame_buf *fkex_frame_buf_new(size_t len);
uint8_t *fkex_frame_buf_body(fkex_frame_buf *b);
void fkex_frame_buf_unref(fkex_frame_buf *b);
/* Queues a reference to b behind what c has queued. Nothing is written
 * until fkex_conn_flush or fkex_server_flush (or the next fkex_conn_send,
 * which flushes), so that a loop turn's frames to c leave in one vectored
 * write. 0, or -1 as fkex_conn_send ("slow reader": c is closed). */
int fkex_conn_queue(fkex_conn *c, fkex_frame_buf *b);
/* Writes what c has queued: one writev for all of it as far as the socket
 * takes it; the rest goes to libuv by reference (no copy). */
void fkex_conn_flush(fkex_conn *c);
/* fkex_conn_flush for every connection of s with queued frames: O(those). */
void fkex_server_flush(fkex_server *s);
/* Closes at once: bytes still queued are dropped, no more frames are
 * delivered, and the close callback runs on a later turn of the loop with
 * why (copied; the first reason wins). Idempotent. */
void fkex_conn_close(fkex_conn *c, const char *why);
/* Closes after what is queued has been written: no more frames are
 * delivered or accepted for sending (fkex_conn_send returns -1), the
 * queue is flushed, the write side is shut down (the peer reads the last
 * frames, then the end of the stream), and what the peer still sends is
 * read and thrown away until it ends its side, so that no reset overtakes
 * the last frames. Bounded: the connection is closed at the latest
 * FKEX_NET_LINGER_MS after this call, written or not (a peer that does
 * not read). The close callback gets why. Idempotent; a later
 * fkex_conn_close closes at once, keeping this why. */
void fkex_conn_finish(fkex_conn *c, const char *why);
#define FKEX_NET_LINGER_MS 2000u
/* Stops and restarts reading (a client that applies backpressure itself; tests of slow readers).
 * A pause inside on_frame takes effect at once: frames already read but not
 * yet delivered are held and delivered, in order, after resume. A TLS
 * handshake in progress goes on reading; the pause starts when it is done. */
void fkex_conn_pause(fkex_conn *c);
void fkex_conn_resume(fkex_conn *c);

/* The close reasons this layer gives (besides a libuv sentence such as
 * "connection refused" or "connection reset by peer", and "server stopped"):
 * "frame too large", "frame timed out", "slow reader", "connection closed
 * by peer", "truncated frame" (the peer closed in the middle of a frame),
 * "out of memory"; with TLS "handshake timed out" and the handshake's
 * failures (fkex_conn_connect); and the why of fkex_conn_finish. */

/* Connections the server could not take: libuv reported an accept error,
 * uv_accept failed, or there was no memory for one (then it stays in the
 * backlog and is taken again 100 ms later: libuv stops watching the
 * listening socket until a connection is taken, so without the retry the
 * server would accept nothing more). The server goes on accepting either
 * way. The count since start, and the last reason (NULL if none), for the
 * daemon's log. Out of file descriptors (EMFILE), libuv accepts and closes
 * the waiting connections itself (so that the listening socket does not
 * spin) without telling: a daemon keeps its connections below its
 * open-file limit instead. */
uint64_t fkex_server_accept_failures(const fkex_server *s, const char **last_why);

/* 1 if addr is an endpoint this layer connects to: "[AUTH@]HOST:PORT",
 * HOST an IPv4 address or [IPv6], PORT 1..65535 (names are not resolved:
 * that would block the loop; a server name goes in AUTH). For commands
 * that write an address down for later. */
int fkex_net_address_ok(const char *addr);
/* A list of such addresses, comma-separated ("H1:P1,H2:P2": the relays of
 * a cluster, tried in order). The number of them (1 to
 * FKEX_NET_LIST_MAX), or 0 if list is not one. */
#define FKEX_NET_LIST_MAX 8
#define FKEX_NET_LIST_TEXT_MAX 1024   /* a list's text, its NUL included, is shorter */
size_t fkex_net_address_list(const char *list);
/* The i-th address of a checked list into out (cap bytes). */
void fkex_net_address_nth(char *out, size_t cap, const char *list, size_t i);
/* 1 if an address of a checked list pins no key and names no server
 * (written before servers had keys: its reader warns). */
int fkex_net_address_list_unpinned(const char *list);

/* One request, one reply, on a private loop: for CLIs (fkex enroll) and tests. Waits at most timeout_ms.
 * tls as fkex_conn_connect's.
 * *reply is malloc'd. Errors: FKEX_ERR_IO with a sentence in err ("connection refused", "timed out", ...).
 * The reply is the first frame back; the connection is then closed. A bad
 * address is FKEX_ERR_ARGUMENT. lim == NULL takes the defaults. */
fkex_err fkex_net_request(uint8_t **reply, size_t *replylen, const char *addr, const uint8_t *req, size_t reqlen,
                          const fkex_net_limits *lim, const fkex_tls *tls, unsigned timeout_ms,
                          char err[128]) FKEX_WUR;
/* The same, for a request answered in steps: every frame back goes to
 * more(ctx, frame, len), and the reply is the first for which it returns
 * 0. timeout_ms bounds the whole exchange. */
fkex_err fkex_net_exchange(uint8_t **reply, size_t *replylen, const char *addr, const uint8_t *req,
                           size_t reqlen, const fkex_net_limits *lim, const fkex_tls *tls,
                           unsigned timeout_ms,
                           int (*more)(void *ctx, const uint8_t *frame, size_t len), void *ctx,
                           char err[128]) FKEX_WUR;

#endif
