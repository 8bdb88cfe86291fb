/*
 * net/net.c: connections, servers and the one-shot request over libuv TCP.
 *
 * A connection owns one uv_tcp_t (and, once it has been paused in the middle
 * of a read, one uv_idle_t that hands the held bytes over after resume). It is
 * freed when the last of its handles has closed, right after its close
 * callback: that is what makes fkex_conn_close safe from inside callbacks.
 *
 * Output: a connection keeps a list of frames not yet handed to the kernel
 * (shared blocks, fkex_frame_buf, or private copies: the same thing with
 * one reference). A flush writes them all with one writev as far as the
 * socket takes them (uv_try_write) and hands the rest to one uv_write that
 * holds their references: no copy. fkex_conn_send writes straight from the
 * caller's bytes when nothing is queued, and copies only what the kernel
 * did not take. `queued` counts every byte not yet written (a shared frame
 * whole, per connection): that is what max_queued bounds.
 *
 * Input: a server's connections read into one buffer that the server owns
 * (libuv reads a socket and calls back before it reads the next), so an
 * idle connection holds no read buffer; the parser copies only the part of
 * a frame that spans reads.
 *
 * TLS (net/tls.c): frames wait in `clear` until the handshake is done and
 * are sealed into records while less than SEAL_WINDOW of records waits for
 * the socket (tls_seal); records then go out as frames do, through `pend`.
 * Every byte read goes through OpenSSL at once (tls_input): what a pause
 * leaves undelivered is held decrypted.
 *
 * Browsers (a server given a web site, fkex_server_set_web): a
 * connection's first byte says what it speaks. Frames begin with the high
 * byte of a length below max_frame, never a capital letter, while an HTTP
 * request begins with its method's. An HTTP request is answered with a
 * file of the site and the connection finished, or it upgrades to a
 * WebSocket (net/http.h, net/ws.h): then each binary message is a frame,
 * each frame sent goes out behind a WebSocket header of its own (a shared
 * frame's body is still shared), and a finish ends with a close frame.
 *
 * Abuse: a connection left in the middle of a frame is on its server's
 * `partial` list (one check after each read: a frame that arrives whole
 * never touches it), which a timer walks for frames past their deadline.
 * A framing error goes to the reject callback, then fkex_conn_finish: the
 * last frames are flushed, the write side shut down, and what the peer
 * still sends thrown away until it hangs up or the linger timer (one
 * uv_timer_t, allocated only then) ends it.
 */
#include <sys/uio.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include "codec/codec.h"
#include "net/address.h"
#include "net/http.h"
#include "net/net.h"
#include "net/tls.h"
#include "net/ws.h"

#define READ_CHUNK (64 * 1024)
#define RECORD_MAX 16384      /* a TLS record's plaintext at most (RFC 8446, 5.1) */
#define RECORD_OVERHEAD 22    /* a TLS 1.3 record's header, content type and AEAD tag */
#define SEAL_WINDOW (64 * 1024)   /* records made ahead of what the socket has taken */
#define ACCEPT_RETRY_MS 100
#define PONG_QUEUED_MAX 4096      /* pings are answered while at most this waits to be written */
#define HTTP_LINGER_MS 30000u     /* a file response's time to be read before the connection ends */

struct fkex_server {
    uv_tcp_t tcp;
    uv_loop_t *loop;
    fkex_net_limits lim;
    void (*on_accept)(fkex_server *s, fkex_conn *c);
    void *data;
    fkex_conn *conns;            /* live (not closing) connections */
    fkex_conn *dirty;            /* connections with frames queued but not flushed */
    fkex_conn *partial;          /* connections in the middle of a frame or of the TLS
                                  * handshake (frame_timeout_ms) */
    const fkex_tls *tls;         /* NULL: plaintext */
    const fkex_web_site *web;    /* NULL: frames only */
    fkex_frame_buf **web_bufs;   /* its files' bytes, one shared block each */
    uint8_t *rbuf;               /* the read buffer its connections share (READ_CHUNK) */
    int rbuf_busy;
    uint16_t port;
    int stopping;
    int open_handles;            /* tcp and the two timers, once started */
    uv_timer_t sweep;            /* frames past their deadline */
    uv_timer_t retry;            /* an accept that found no memory */
    uint64_t frame_timeout_ms;
    uint64_t accept_failures;
    const char *accept_why;
};

struct fkex_frame_buf {
    size_t refs;
    size_t len;                  /* 4 + body */
    uint8_t bytes[];             /* u32 length, then the body */
};

/* What a connection speaks: frames, or (a server with a web site) not
 * known before its first byte, an HTTP request, or a WebSocket. */
enum { SPEAKS_FRAMES, SPEAKS_UNKNOWN, SPEAKS_HTTP, SPEAKS_WS };

/* A frame not yet handed to the kernel, from byte off. */
typedef struct {
    fkex_frame_buf *b;
    size_t off;
} out_ent;

typedef struct {
    out_ent *e;
    size_t n, cap;
} out_list;

struct fkex_conn {
    uv_tcp_t tcp;
    uv_idle_t idle;              /* delivers held bytes after resume */
    uv_connect_t connect_req;
    fkex_server *server;
    fkex_conn *prev, *next;      /* in server->conns */
    fkex_conn *dprev, *dnext;    /* in server->dirty, while dirty */
    fkex_conn *pprev, *pnext;    /* in server->partial, while in_partial */
    uint64_t partial_since;      /* uv_now when the frame in progress began */
    fkex_net_limits lim;
    fkex_frame_parser parser;
    fkex_frame_cb on_frame;
    fkex_close_cb on_close;
    fkex_reject_cb on_reject;
    void *data;
    void (*on_connected)(fkex_conn *c, int status);
    uint8_t *held;               /* read but not delivered: paused mid-read */
    size_t nheld;
    out_list pend;               /* to be written, in order: frames, or TLS records */
    out_list clear;              /* TLS: frames not yet sealed into records */
    size_t clear_bytes;          /* ... their bytes (the rest of queued is records) */
    size_t queued;               /* bytes not yet written: both lists and write requests */
    size_t inflight;             /* write requests not yet completed */
    int connected, reading, paused, closing, idle_init, dirty;
    int in_partial, frame_done;  /* frame_done: a frame completed during this read */
    int finishing, eof, shut;    /* fkex_conn_finish; the peer ended its side; ours is shut */
    struct linger_state *linger; /* while finishing */
    tls_conn *tls;               /* NULL: plaintext */
    tls_io tio;
    int tls_ready;               /* the handshake is done */
    long tls_ended;              /* the peer's TLS_CLOSED or TLS_BROKEN, kept while frames are held */
    uint8_t rec_hdr[5], rec_nhdr; /* the peer's record in progress: its header so far (0..5) */
    uint16_t rec_left;           /* ... and, once all 5, body bytes still to come */
    int shut_pending;            /* finishing: the write side ends once clear is sealed */
    fkex_frame_buf *seal;        /* TLS records made since the last write, from bytes[4] */
    size_t seal_cap;
    fkex_server *rbuf_from;      /* the server whose buffer the read in progress uses */
    int speaks;                  /* SPEAKS_* */
    uint8_t *http;               /* SPEAKS_HTTP: the request head so far */
    size_t nhttp;
    fkex_ws_parser *ws;          /* SPEAKS_WS */
    uint16_t ws_status;          /* ... the status of the close frame a finish sends */
    int open_handles;
    char peer[64];
    uint8_t source[16];   /* fkex_conn_source */
    char why[96];
};

/* What a finishing connection needs, allocated only then. */
struct linger_state {
    uv_timer_t timer;
    uv_shutdown_t req;
};

typedef struct {
    uv_write_t req;
    fkex_conn *c;
    size_t len;                  /* bytes it writes */
    size_t n;
    out_ent ents[];              /* the references it holds */
} write_req;

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* In the middle of the TLS handshake: a pause holds frames back, not the
 * handshake, which is read on; a finish waits for its end. */
static int handshaking(const fkex_conn *c)
{
    return c->tls && !c->tls_ready;
}

static fkex_net_limits limits_or_default(const fkex_net_limits *lim)
{
    fkex_net_limits d = { FKEX_NET_DEFAULT_MAX_FRAME, FKEX_NET_DEFAULT_MAX_QUEUED };
    return lim ? *lim : d;
}

/* "127.0.0.1:53122" or "[::1]:53122". */
static void format_addr(char *out, size_t cap, const struct sockaddr_storage *ss)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        uv_ip4_name(a, ip, sizeof ip);
        snprintf(out, cap, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        uv_ip6_name(a, ip, sizeof ip);
        snprintf(out, cap, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
    } else {
        snprintf(out, cap, "?");
    }
}

/* The source: an IPv4 address as ::ffff:a.b.c.d (also when it reaches a
 * dual-stack listener as that mapped address), an IPv6 one as its /64 (one
 * host usually holds a whole /64). */
static void source_of(uint8_t out[16], const struct sockaddr_storage *ss)
{
    memset(out, 0, 16);
    if (ss->ss_family == AF_INET) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    } else if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        memcpy(out, a, IN6_IS_ADDR_V4MAPPED(a) ? 16 : 8);
    }
}

static void set_peer(fkex_conn *c)
{
    struct sockaddr_storage ss;
    int n = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &n) == 0) {
        format_addr(c->peer, sizeof c->peer, &ss);
        source_of(c->source, &ss);
    }
}

/* ---- connections -------------------------------------------------------- */

static fkex_conn *conn_new(uv_loop_t *loop, const fkex_net_limits *lim)
{
    fkex_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (uv_tcp_init(loop, &c->tcp) != 0) {
        free(c);
        return NULL;
    }
    c->tcp.data = c;
    c->open_handles = 1;
    c->lim = *lim;
    fkex_frame_parser_init(&c->parser, lim->max_frame);
    snprintf(c->peer, sizeof c->peer, "?");
    return c;
}

/* ---- shared frames ----------------------------------------------------------- */

fkex_frame_buf *fkex_frame_buf_new(size_t len)
{
    fkex_frame_buf *b;
    if (len > UINT32_MAX || len > SIZE_MAX - sizeof *b - 4 || !(b = malloc(sizeof *b + 4 + len)))
        return NULL;
    b->refs = 1;
    b->len = 4 + len;
    store32_be(b->bytes, (uint32_t)len);
    return b;
}

uint8_t *fkex_frame_buf_body(fkex_frame_buf *b) { return b->bytes + 4; }

void fkex_frame_buf_unref(fkex_frame_buf *b)
{
    if (b && --b->refs == 0)
        free(b);
}

static void drop_list(fkex_conn *c, out_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        c->queued -= l->e[i].b->len - l->e[i].off;
        fkex_frame_buf_unref(l->e[i].b);
    }
    l->n = 0;
}

static void drop_pending(fkex_conn *c)
{
    drop_list(c, &c->pend);
    drop_list(c, &c->clear);
    c->clear_bytes = 0;
}

static void undirty(fkex_conn *c)
{
    if (!c->dirty)
        return;
    if (c->dprev)
        c->dprev->dnext = c->dnext;
    else if (c->server)
        c->server->dirty = c->dnext;
    if (c->dnext)
        c->dnext->dprev = c->dprev;
    c->dprev = c->dnext = NULL;
    c->dirty = 0;
}

static void unpartial(fkex_conn *c)
{
    if (!c->in_partial)
        return;
    if (c->pprev)
        c->pprev->pnext = c->pnext;
    else if (c->server)
        c->server->partial = c->pnext;
    if (c->pnext)
        c->pnext->pprev = c->pprev;
    c->pprev = c->pnext = NULL;
    c->in_partial = 0;
}

/* On the partial list since now (it may be there already). */
static void partial_from_now(fkex_conn *c)
{
    fkex_server *s = c->server;
    c->partial_since = uv_now(s->loop);
    if (c->in_partial)
        return;
    c->in_partial = 1;
    c->pprev = NULL;
    c->pnext = s->partial;
    if (c->pnext)
        c->pnext->pprev = c;
    s->partial = c;
}

/* 1 while the peer is in the middle of something: a frame, a WebSocket
 * frame or message, an HTTP request. */
static int conn_partial(const fkex_conn *c)
{
    switch (c->speaks) {
    case SPEAKS_HTTP:
        return 1;
    case SPEAKS_WS:
        return fkex_ws_parser_partial(c->ws);
    case SPEAKS_UNKNOWN:
        return 0;
    default:
        return fkex_frame_parser_partial(&c->parser);
    }
}

/* After a read: on the partial list while the parser holds part of a
 * frame, since the moment that frame began (and, with TLS, from the
 * accept until the handshake is done: accept_one). O(1). */
static void track_partial(fkex_conn *c)
{
    fkex_server *s = c->server;
    int partial = conn_partial(c), done = c->frame_done;
    c->frame_done = 0;
    if (c->tls && !c->tls_ready && !c->closing)
        return;               /* the handshake, still coming */
    if (c->tls && !c->closing && c->rec_nhdr)
        partial = 1;          /* a record begun: OpenSSL holds its buffer until it is whole */
    if (!s || !s->frame_timeout_ms || c->closing || c->finishing || !partial) {
        unpartial(c);
        return;
    }
    if (c->in_partial && !done)
        return;               /* the same frame, still coming */
    partial_from_now(c);
}

static void handle_closed(uv_handle_t *h)
{
    fkex_conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    if (c->on_close)
        c->on_close(c, c->why);
    fkex_frame_parser_free(&c->parser);
    if (c->ws)
        fkex_ws_parser_free(c->ws);
    free(c->ws);
    free(c->http);
    drop_pending(c);
    free(c->pend.e);
    free(c->clear.e);
    tls_conn_free(c->tls);
    free(c->seal);
    free(c->held);
    free(c->linger);
    free(c);
}

static void unlink_conn(fkex_conn *c)
{
    if (!c->server)
        return;
    undirty(c);
    unpartial(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        c->server->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->server = NULL;
    c->prev = c->next = NULL;
}

static void tls_say_goodbye(fkex_conn *c);

void fkex_conn_close(fkex_conn *c, const char *why)
{
    if (!c || c->closing)
        return;
    if (c->tls_ready && !c->shut && c->connected)
        tls_say_goodbye(c);
    c->closing = 1;
    if (!c->finishing)   /* a finishing connection keeps the reason it was finished for */
        snprintf(c->why, sizeof c->why, "%s", why ? why : "closed");
    unlink_conn(c);
    drop_pending(c);
    if (c->idle_init) {
        c->open_handles++;
        uv_close((uv_handle_t *)&c->idle, handle_closed);
    }
    if (c->linger) {
        c->open_handles++;
        uv_close((uv_handle_t *)&c->linger->timer, handle_closed);
    }
    /* Pending writes complete with UV_ECANCELED before handle_closed runs. */
    uv_close((uv_handle_t *)&c->tcp, handle_closed);
}

void fkex_conn_set(fkex_conn *c, fkex_frame_cb on_frame, fkex_close_cb on_close, void *data)
{
    c->on_frame = on_frame;
    c->on_close = on_close;
    c->data = data;
}

void fkex_conn_set_reject(fkex_conn *c, fkex_reject_cb on_reject)
{
    c->on_reject = on_reject;
}

void *fkex_conn_data(const fkex_conn *c) { return c->data; }
const char *fkex_conn_peer(const fkex_conn *c) { return c->peer; }
const uint8_t *fkex_conn_source(const fkex_conn *c) { return c->source; }
fkex_server *fkex_conn_server(const fkex_conn *c) { return c->server; }
size_t fkex_conn_queued(const fkex_conn *c) { return c->queued; }

static void tls_more(fkex_conn *c);

static void write_done(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    fkex_conn *c = w->c;
    c->queued -= w->len;
    c->inflight--;
    for (size_t i = 0; i < w->n; i++)
        fkex_frame_buf_unref(w->ents[i].b);
    free(w);
    if (status < 0 && status != UV_ECANCELED)
        fkex_conn_close(c, uv_strerror(status));
    else if (c->tls && !c->closing)
        tls_more(c);   /* the socket took the last records: the next frames */
}

/* Room for one more entry in l; 0 or -1 (then c is closed). */
static int list_reserve(fkex_conn *c, out_list *l)
{
    if (l->n < l->cap)
        return 0;
    size_t cap = l->cap ? 2 * l->cap : 8;
    out_ent *p = realloc(l->e, cap * sizeof *p);
    if (!p) {
        fkex_conn_close(c, "out of memory");
        return -1;
    }
    l->e = p;
    l->cap = cap;
    return 0;
}

/* Takes ownership of the reference b, from byte off, into l; counts it
 * (against max_queued if bounded). 0, or -1 (c is closed, b released). */
static int list_push(fkex_conn *c, out_list *l, fkex_frame_buf *b, size_t off, int bounded)
{
    size_t rest = b->len - off;
    if (rest == 0) {   /* nothing to write: an empty entry would never leave the list */
        fkex_frame_buf_unref(b);
        return 0;
    }
    if (bounded && (rest > c->lim.max_queued || c->queued > c->lim.max_queued - rest)) {
        fkex_frame_buf_unref(b);
        fkex_conn_close(c, "slow reader");
        return -1;
    }
    if (list_reserve(c, l) != 0) {
        fkex_frame_buf_unref(b);
        return -1;
    }
    l->e[l->n].b = b;
    l->e[l->n].off = off;
    l->n++;
    c->queued += rest;
    if (l == &c->clear)
        c->clear_bytes += rest;
    return 0;
}

/* A block of n bytes to send as they are (no length in front). */
static fkex_frame_buf *raw_alloc(size_t n)
{
    fkex_frame_buf *b = n <= SIZE_MAX - sizeof *b ? malloc(sizeof *b + n) : NULL;
    if (!b)
        return NULL;
    b->refs = 1;
    b->len = n;
    return b;
}

/* ... holding a copy of p. */
static fkex_frame_buf *raw_buf(const void *p, size_t n)
{
    fkex_frame_buf *b = raw_alloc(n);
    if (b)
        memcpy(b->bytes, p, n);
    return b;
}

/* Bytes to send: with TLS they wait to be sealed. */
static int out_push(fkex_conn *c, fkex_frame_buf *b, size_t off)
{
    return list_push(c, c->tls ? &c->clear : &c->pend, b, off, 1);
}

/* A WebSocket frame of the server's: its header, then b's body, which
 * keeps being shared (b: a frame, its length in front); or, b NULL, the
 * header and n bytes from p in one block (control frames). */
static int ws_push(fkex_conn *c, int opcode, fkex_frame_buf *b, const void *p, size_t n)
{
    uint8_t hdr[FKEX_WS_HEADER_MAX];
    size_t hl = fkex_ws_header(hdr, opcode, b ? b->len - 4 : n, NULL);
    fkex_frame_buf *h = raw_alloc(hl + (b ? 0 : n));
    if (!h) {
        fkex_conn_close(c, "out of memory");
        fkex_frame_buf_unref(b);
        return -1;
    }
    memcpy(h->bytes, hdr, hl);
    if (!b) {
        if (n)
            memcpy(h->bytes + hl, p, n);
        return out_push(c, h, 0);
    }
    if (out_push(c, h, 0) != 0) {
        fkex_frame_buf_unref(b);
        return -1;
    }
    return out_push(c, b, 4);
}

/* A frame to send, from byte off of b (its length header included). */
static int pend_push(fkex_conn *c, fkex_frame_buf *b, size_t off)
{
    if (c->speaks == SPEAKS_WS)
        return ws_push(c, FKEX_WS_BINARY, b, NULL, 0);
    if (c->speaks == SPEAKS_HTTP) {   /* a browser's request: a relay frame means nothing to it */
        fkex_frame_buf_unref(b);
        return 0;
    }
    return out_push(c, b, off);
}

int fkex_conn_queue(fkex_conn *c, fkex_frame_buf *b)
{
    if (c->closing || c->finishing)
        return -1;
    b->refs++;
    if (pend_push(c, b, 0) != 0)
        return -1;
    if (c->server && !c->dirty) {
        c->dirty = 1;
        c->dprev = NULL;
        c->dnext = c->server->dirty;
        if (c->dnext)
            c->dnext->dprev = c;
        c->server->dirty = c;
    }
    return 0;
}

#define FLUSH_IOV 256

/* Drops n written bytes from the head of l: the entries written whole
 * leave it. */
static void list_consume(fkex_conn *c, out_list *l, size_t n)
{
    size_t head = 0;
    c->queued -= n;
    while (n > 0) {
        out_ent *e = &l->e[head];
        size_t rest = e->b->len - e->off;
        if (n < rest) {
            e->off += n;
            break;
        }
        n -= rest;
        fkex_frame_buf_unref(e->b);
        head++;
    }
    memmove(l->e, l->e + head, (l->n - head) * sizeof *l->e);
    l->n -= head;
}

/* Writes c->pend: one writev as far as the socket takes it; the rest goes
 * to libuv by reference (no copy), in one request. */
static void write_pending(fkex_conn *c)
{
    uv_buf_t small[FLUSH_IOV], *bufs = small;
    out_list *l = &c->pend;
    /* Straight to the socket while it takes everything offered. */
    while (c->connected && c->inflight == 0 && l->n > 0) {
        size_t k = l->n < FLUSH_IOV ? l->n : FLUSH_IOV, total = 0;
        for (size_t i = 0; i < k; i++) {
            out_ent *e = &l->e[i];
            small[i] = uv_buf_init((char *)e->b->bytes + e->off, (unsigned)(e->b->len - e->off));
            total += e->b->len - e->off;
        }
        int r = uv_try_write((uv_stream_t *)&c->tcp, small, (unsigned)k);
        if (r == UV_EAGAIN)
            break;
        if (r < 0) {
            fkex_conn_close(c, uv_strerror(r));
            return;
        }
        list_consume(c, l, (size_t)r);
        if ((size_t)r < total)
            break;
    }
    size_t n = l->n;
    if (n == 0)
        return;
    write_req *w = malloc(sizeof *w + n * sizeof w->ents[0]);
    if (n > FLUSH_IOV)
        bufs = malloc(n * sizeof *bufs);
    if (!w || !bufs) {
        free(w);
        if (bufs != small)
            free(bufs);
        fkex_conn_close(c, "out of memory");
        return;
    }
    w->c = c;
    w->n = n;
    w->len = 0;
    for (size_t i = 0; i < n; i++) {
        out_ent *e = &l->e[i];
        w->ents[i] = *e;
        bufs[i] = uv_buf_init((char *)e->b->bytes + e->off, (unsigned)(e->b->len - e->off));
        w->len += e->b->len - e->off;
    }
    l->n = 0;   /* the references are the request's now */
    int r = uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs, (unsigned)n, write_done);
    if (bufs != small)
        free(bufs);
    if (r != 0) {
        c->queued -= w->len;
        for (size_t i = 0; i < n; i++)
            fkex_frame_buf_unref(w->ents[i].b);
        free(w);
        fkex_conn_close(c, uv_strerror(r));
        return;
    }
    c->inflight++;
}

/* ---- TLS records ------------------------------------------------------------ */

/* Room for `more` bytes of records in c->seal: at least that, doubling
 * past what was reserved (the handshake's flights). 0, or -1. */
static int seal_reserve(fkex_conn *c, size_t more)
{
    size_t used = c->seal ? c->seal->len - 4 : 0;
    if (more > SIZE_MAX / 4 - used)
        return -1;
    if (used + more <= c->seal_cap)
        return 0;
    size_t cap = c->seal_cap ? 2 * c->seal_cap : more;
    if (cap < used + more)
        cap = used + more;
    fkex_frame_buf *b = realloc(c->seal, sizeof *b + 4 + cap);
    if (!b)
        return -1;
    if (!c->seal) {
        b->refs = 1;
        b->len = 4;   /* a block of records uses no frame header: it is written from bytes[4] */
    }
    c->seal = b;
    c->seal_cap = cap;
    return 0;
}

/* tls_io.out: a record (or part of one) to write, appended to c->seal. */
static int tls_out(void *ctx, const uint8_t *p, size_t n)
{
    fkex_conn *c = ctx;
    if (seal_reserve(c, n) != 0)
        return -1;
    memcpy(c->seal->bytes + c->seal->len, p, n);
    c->seal->len += n;
    return 0;
}

/* The records made since the last call go behind what is to be written,
 * and out. Not bounded again: their frames were counted against
 * max_queued when queued, and a record adds RECORD_OVERHEAD bytes. */
static void tls_emit(fkex_conn *c)
{
    fkex_frame_buf *b = c->seal;
    c->seal = NULL;
    c->seal_cap = 0;
    if (!b)
        return;
    if (c->closing) {
        free(b);
        return;
    }
    if (list_push(c, &c->pend, b, 4, 0) == 0)
        write_pending(c);
}

/* Seals the first SEAL_WINDOW bytes of frames waiting in c->clear (one
 * frame at least) into one block sized for their records: small frames
 * share a record. */
static void tls_seal_window(fkex_conn *c)
{
    uint8_t joined[RECORD_MAX];
    out_list *l = &c->clear;
    size_t i = 0, n = 0, plain = 0;
    int r = 0;
    while (n < l->n && (n == 0 || plain < SEAL_WINDOW)) {
        plain += l->e[n].b->len - l->e[n].off;
        n++;
    }
    if (seal_reserve(c, plain + RECORD_OVERHEAD * (n + plain / RECORD_MAX + 1)) != 0) {
        fkex_conn_close(c, "out of memory");
        return;
    }
    while (i < n && r == 0) {
        size_t rest = l->e[i].b->len - l->e[i].off, k = 0;
        if (rest >= sizeof joined) {
            r = tls_conn_write(c->tls, l->e[i].b->bytes + l->e[i].off, rest);
            c->queued -= rest;
            c->clear_bytes -= rest;
            fkex_frame_buf_unref(l->e[i++].b);
            continue;
        }
        while (i < n && (rest = l->e[i].b->len - l->e[i].off) <= sizeof joined - k) {
            memcpy(joined + k, l->e[i].b->bytes + l->e[i].off, rest);
            k += rest;
            c->queued -= rest;
            c->clear_bytes -= rest;
            fkex_frame_buf_unref(l->e[i++].b);
        }
        r = tls_conn_write(c->tls, joined, k);
    }
    memmove(l->e, l->e + i, (l->n - i) * sizeof *l->e);
    l->n -= i;
    if (r != 0) {
        fkex_conn_close(c, tls_conn_why(c->tls));
        return;
    }
    tls_emit(c);
}

/* Closing at once with nothing unwritten: close_notify, if the socket
 * takes it now, so that the peer knows nothing was cut off. */
static void tls_say_goodbye(fkex_conn *c)
{
    fkex_frame_buf *b;
    if (c->pend.n || c->clear.n || c->inflight)
        return;   /* frames are lost: the peer sees the stream cut */
    tls_conn_shutdown(c->tls);
    if ((b = c->seal) != NULL) {
        uv_buf_t buf = uv_buf_init((char *)b->bytes + 4, (unsigned)(b->len - 4));
        (void)uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
        free(b);
        c->seal = NULL;
        c->seal_cap = 0;
    }
}

/* Frames are sealed while less than SEAL_WINDOW of records waits for
 * the socket (queued less the frames not sealed): at once for a
 * connection that keeps up, and a frame shared by many connections stays
 * one block (fkex_frame_buf) for each connection that is behind, only
 * what its socket is about to take becoming its own ciphertext. */
static void tls_seal(fkex_conn *c)
{
    while (c->tls_ready && !c->closing && c->clear.n && c->queued - c->clear_bytes < SEAL_WINDOW)
        tls_seal_window(c);
}

void fkex_conn_flush(fkex_conn *c)
{
    undirty(c);
    if (c->closing)
        return;
    if (c->tls)
        tls_seal(c);
    if (!c->closing && c->pend.n)
        write_pending(c);
}

static void finish_write_side(fkex_conn *c);

/* A write completed: more frames, and a finish's end once they are out. */
static void tls_more(fkex_conn *c)
{
    tls_seal(c);
    if (!c->closing && c->shut_pending && c->clear.n == 0) {
        c->shut_pending = 0;
        finish_write_side(c);
    }
}

void fkex_server_flush(fkex_server *s)
{
    while (s->dirty)
        fkex_conn_flush(s->dirty);   /* unlinks it */
}

int fkex_conn_send(fkex_conn *c, const uint8_t *frame, size_t len)
{
    uint8_t hdr[4];
    size_t done = 0;
    if (c->closing || c->finishing)
        return -1;
    if (len > UINT32_MAX) {
        fkex_conn_close(c, "frame too large");
        return -1;
    }
    store32_be(hdr, (uint32_t)len);
    /* Nothing ahead of it: from the caller's bytes, copying only the rest. */
    if (!c->tls && c->speaks != SPEAKS_WS && c->connected && c->pend.n == 0 && c->inflight == 0) {
        uv_buf_t bufs[2] = { uv_buf_init((char *)hdr, 4), uv_buf_init((char *)(uintptr_t)frame, (unsigned)len) };
        int r = len > UINT_MAX - 4 ? UV_EAGAIN : uv_try_write((uv_stream_t *)&c->tcp, bufs, 2);
        if (r >= 0)
            done = (size_t)r;
        else if (r != UV_EAGAIN) {
            fkex_conn_close(c, uv_strerror(r));
            return -1;
        }
        if (done == 4 + len)
            return 0;
    }
    fkex_frame_buf *b = fkex_frame_buf_new(len);
    if (!b) {
        fkex_conn_close(c, "out of memory");
        return -1;
    }
    if (len)
        memcpy(b->bytes + 4, frame, len);
    if (pend_push(c, b, done) != 0)
        return -1;
    fkex_conn_flush(c);
    return c->closing ? -1 : 0;
}

/* Parser sink: one frame to the user; stop once the user closed, paused or finished. */
static int deliver_frame(void *ctx, const uint8_t *frame, size_t len)
{
    fkex_conn *c = ctx;
    c->frame_done = 1;
    if (c->on_frame)
        c->on_frame(c, frame, len);
    return c->closing || c->paused || c->finishing;
}

/* ---- ending a connection that broke the rules ------------------------------ */

static void linger_expired(uv_timer_t *t)
{
    fkex_conn_close(t->data, NULL);
}

static void shutdown_done(uv_shutdown_t *req, int status)
{
    fkex_conn *c = req->data;
    if (c->closing)
        return;
    c->shut = 1;
    if (status < 0 || c->eof)
        fkex_conn_close(c, NULL);
}

/* While finishing: whatever arrives is thrown away (alloc_cb's buffers). */
static void finishing_read(fkex_conn *c, ssize_t nread)
{
    if (nread >= 0)
        return;
    c->eof = 1;
    if (c->shut || nread != UV_EOF)
        fkex_conn_close(c, NULL);
}

/* The last frames out (with TLS, sealed as the socket takes them:
 * tls_more), then finish_write_side. */
static void finish_writing(fkex_conn *c)
{
    fkex_conn_flush(c);
    if (c->closing)
        return;
    if (c->tls && c->clear.n) {
        c->shut_pending = 1;
        return;
    }
    finish_write_side(c);
}

/* close_notify behind the last records, then the write side shut down;
 * reading goes on to see the peer hang up. */
static void finish_write_side(fkex_conn *c)
{
    if (c->tls_ready) {
        tls_conn_shutdown(c->tls);
        tls_emit(c);
        if (c->closing)
            return;
    }
    /* libuv shuts the write side down once the writes queued before it are done. */
    if (uv_shutdown(&c->linger->req, (uv_stream_t *)&c->tcp, shutdown_done) != 0) {
        fkex_conn_close(c, NULL);
        return;
    }
    c->paused = 0;
    if (!c->reading && !c->eof) {   /* to see the peer hang up */
        if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0)
            c->reading = 1;
    }
}

void fkex_conn_finish(fkex_conn *c, const char *why)
{
    if (!c || c->closing || c->finishing)
        return;
    c->finishing = 1;
    snprintf(c->why, sizeof c->why, "%s", why ? why : "closed");
    unpartial(c);
    if (c->idle_init)
        uv_idle_stop(&c->idle);
    free(c->held);                  /* read, never to be delivered */
    c->held = NULL;
    c->nheld = 0;
    if (!c->connected) {            /* nothing was said yet: nothing to flush */
        fkex_conn_close(c, NULL);
        return;
    }
    if (c->speaks == SPEAKS_WS) {   /* the last frame: close, with its status */
        uint8_t status[2] = { (uint8_t)(c->ws_status >> 8), (uint8_t)c->ws_status };
        if (ws_push(c, FKEX_WS_CLOSE, NULL, status, 2) != 0)
            return;
    }
    struct linger_state *l = malloc(sizeof *l);
    if (!l || uv_timer_init(c->tcp.loop, &l->timer) != 0) {
        free(l);
        fkex_conn_close(c, NULL);
        return;
    }
    c->linger = l;
    l->timer.data = c;
    l->req.data = c;
    uv_timer_start(&l->timer, linger_expired,
                   c->speaks == SPEAKS_HTTP ? HTTP_LINGER_MS : FKEX_NET_LINGER_MS, 0);
    /* In the middle of a TLS handshake the last frames wait for its end
     * (tls_handshake), within the same linger. */
    if (!handshaking(c))
        finish_writing(c);
}

/* The peer broke the framing (why): let the user say so, then finish.
 * Before the TLS handshake is done nothing can be said: closed at once. */
static void reject(fkex_conn *c, const char *why)
{
    unpartial(c);
    if (c->speaks == SPEAKS_WS && c->ws_status == FKEX_WS_NORMAL)
        c->ws_status = FKEX_WS_POLICY;   /* a timeout, say: the close says it was not normal */
    if (!c->on_reject || (c->tls && !c->tls_ready)) {
        fkex_conn_close(c, why);
        return;
    }
    c->on_reject(c, why);
    fkex_conn_finish(c, why);   /* if the callback did not already */
}

/* ---- browsers: HTTP requests and WebSockets ------------------------------- */

/* A response to an HTTP request, then the end of the connection. */
static void http_answer(fkex_conn *c, int status, const char *reason, const char *extra,
                        const fkex_web_file *f, int head_only, const char *why)
{
    char head[1024];
    size_t n = fkex_http_response_head(head, sizeof head, status, reason, extra,
                                       f ? f->type : NULL, f ? f->len : 0);
    fkex_frame_buf *b = raw_buf(head, n);
    if (!b) {
        fkex_conn_close(c, "out of memory");
        return;
    }
    if (out_push(c, b, 0) != 0)
        return;
    if (f && !head_only) {   /* the server's block of the file, shared */
        b = c->server->web_bufs[f - c->server->web->files];
        b->refs++;
        if (out_push(c, b, 0) != 0)
            return;
    }
    fkex_conn_finish(c, why);
}

/* The request head is whole: a file, an upgrade, or a refusal. */
static void http_request(fkex_conn *c, const uint8_t *head, size_t len)
{
    fkex_http_request r;
    const fkex_web_site *site = c->server ? c->server->web : NULL;
    const fkex_web_file *f;
    char reply[256];
    fkex_frame_buf *b;
    size_t n;
    if (fkex_http_parse(&r, head, len) != FKEX_OK) {
        http_answer(c, 400, "Bad Request", NULL, NULL, 0, "bad HTTP request");
        return;
    }
    if (strcmp(r.path, FKEX_WEB_SOCKET_PATH) == 0) {
        if (strcmp(r.method, "GET") == 0 && r.upgrade && r.key[0] && !r.version13) {
            http_answer(c, 426, "Upgrade Required", "Sec-WebSocket-Version: 13\r\n", NULL, 0,
                        "WebSocket version not 13");
            return;
        }
        if (strcmp(r.method, "GET") != 0 || !r.upgrade || !r.key[0]) {
            http_answer(c, 400, "Bad Request", NULL, NULL, 0, "bad WebSocket upgrade");
            return;
        }
        if (!(c->ws = malloc(sizeof *c->ws))) {
            fkex_conn_close(c, "out of memory");
            return;
        }
        fkex_ws_parser_init(c->ws, c->lim.max_frame);
        if (!(n = fkex_http_upgrade_head(reply, sizeof reply, r.key)) || !(b = raw_buf(reply, n))) {
            fkex_conn_close(c, "out of memory");
            return;
        }
        c->ws_status = FKEX_WS_NORMAL;
        if (out_push(c, b, 0) != 0)
            return;
        c->speaks = SPEAKS_WS;
        fkex_conn_flush(c);
        return;
    }
    if (strcmp(r.method, "GET") != 0 && strcmp(r.method, "HEAD") != 0) {
        http_answer(c, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n", NULL, 0,
                    "HTTP method not allowed");
        return;
    }
    if (!site || !(f = fkex_web_site_find(site, r.path))) {
        http_answer(c, 404, "Not Found", NULL, NULL, 0, "web page not found");
        return;
    }
    http_answer(c, 200, "OK", NULL, f, r.method[0] == 'H', "web page served");
}

/* Gathers the request head (what follows an upgrade is the WebSocket's:
 * *used stops there). */
static fkex_err http_feed(fkex_conn *c, const uint8_t *p, size_t n, size_t *used)
{
    size_t take = n < FKEX_HTTP_HEAD_MAX - c->nhttp ? n : FKEX_HTTP_HEAD_MAX - c->nhttp;
    long end;
    uint8_t *h;
    if (!c->http && !(c->http = malloc(FKEX_HTTP_HEAD_MAX)))
        return FKEX_ERR_NO_MEMORY;
    memcpy(c->http + c->nhttp, p, take);
    end = fkex_http_head_length(c->http, c->nhttp + take, c->nhttp);
    if (end == 0) {
        c->nhttp += take;
        *used = n;
        return FKEX_OK;
    }
    *used = end < 0 ? n : (size_t)end - c->nhttp;
    h = c->http;
    c->http = NULL;
    c->nhttp = 0;
    if (end < 0)
        http_answer(c, 431, "Request Header Fields Too Large", NULL, NULL, 0,
                    "HTTP request too long");
    else
        http_request(c, h, (size_t)end);
    free(h);
    return FKEX_OK;
}

/* The WebSocket parser's sink: a binary message is a frame; a ping is
 * answered; a close is echoed and ends the connection. */
static int ws_sink(void *ctx, int opcode, const uint8_t *payload, size_t len)
{
    fkex_conn *c = ctx;
    if (opcode == FKEX_WS_BINARY)
        return deliver_frame(c, payload, len);
    if (opcode == FKEX_WS_PING) {
        /* Answered while little waits to be written: a client that pings
         * and does not read gets no pong (RFC 6455 5.5.2: "as soon as
         * practical"), so its pings cannot pile up small blocks. */
        if (c->queued <= PONG_QUEUED_MAX && ws_push(c, FKEX_WS_PONG, NULL, payload, len) == 0)
            fkex_conn_flush(c);
    } else if (opcode == FKEX_WS_CLOSE) {
        c->ws_status = len >= 2 ? (uint16_t)(payload[0] << 8 | payload[1]) : FKEX_WS_NORMAL;
        fkex_conn_finish(c, "WebSocket closed by peer");
    }
    return c->closing || c->finishing;
}

/* Feeds bytes to the parser; what a pause left unparsed is held for resume
 * (with TLS, a read may decrypt to several pieces: those after a pause are
 * held whole). */
static void deliver(fkex_conn *c, const uint8_t *p, size_t n)
{
    size_t used = 0;
    fkex_err e = FKEX_OK;
    if (c->speaks == SPEAKS_UNKNOWN && n > 0)
        c->speaks = p[0] >= 'A' && p[0] <= 'Z' ? SPEAKS_HTTP : SPEAKS_FRAMES;
    if (!c->paused && !c->nheld) {
        if (c->speaks == SPEAKS_HTTP)
            e = http_feed(c, p, n, &used);
        if (c->speaks == SPEAKS_WS && used < n && !c->closing && !c->finishing) {
            size_t more = 0;
            e = fkex_ws_parser_feed(c->ws, p + used, n - used, &more, ws_sink, c);
            used += more;
        } else if (c->speaks == SPEAKS_FRAMES) {
            e = fkex_frame_parser_feed(&c->parser, p, n, &used, deliver_frame, c);
        }
    }
    if (e == FKEX_ERR_BAD_ENCODING && c->speaks == SPEAKS_WS && !c->closing && !c->finishing) {
        c->ws_status = c->ws->status;
        reject(c, c->ws->why);
        return;
    }
    if (e == FKEX_ERR_BAD_ENCODING && !c->closing && !c->finishing) {
        reject(c, "frame too large");
        return;
    }
    if (e != FKEX_OK) {
        fkex_conn_close(c, "out of memory");
        return;
    }
    track_partial(c);
    if (used == n || c->closing)
        return;
    uint8_t *h = realloc(c->held, c->nheld + (n - used));
    if (!h) {
        fkex_conn_close(c, "out of memory");
        return;
    }
    memcpy(h + c->nheld, p + used, n - used);
    c->held = h;
    c->nheld += n - used;
}

/* A server's connections share its buffer (libuv calls read_cb before it
 * reads another socket); an outgoing connection reads into a fresh one. */
static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    fkex_conn *c = h->data;
    fkex_server *s = c->server;
    char *p;
    (void)hint;
    c->rbuf_from = NULL;
    if (s && !s->rbuf_busy && (s->rbuf || (s->rbuf = malloc(READ_CHUNK)))) {
        s->rbuf_busy = 1;
        c->rbuf_from = s;
        *buf = uv_buf_init((char *)s->rbuf, READ_CHUNK);
        return;
    }
    p = malloc(READ_CHUNK);
    *buf = uv_buf_init(p, p ? READ_CHUNK : 0);
}

/* The TLS handshake goes on with what has come; once it is done a client
 * is connected (on_connected) and the frames sent meanwhile leave. */
static void tls_handshake(fkex_conn *c)
{
    int r = tls_conn_handshake(c->tls);
    tls_emit(c);
    if (c->closing || r == 0)
        return;
    if (r < 0) {
        fkex_conn_close(c, tls_conn_why(c->tls));
        return;
    }
    c->tls_ready = 1;
    unpartial(c);
    if (c->finishing) {              /* finished during the handshake: its last frames now */
        finish_writing(c);
        return;
    }
    if (c->paused && c->reading) {   /* paused during the handshake: from now on */
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
    if (!c->server && c->on_connected)
        c->on_connected(c, 0);
    fkex_conn_flush(c);
}

/* Ciphertext read: the handshake, then every whole record's frames. The
 * bytes are all taken now (they may be the server's shared buffer): what
 * a pause leaves undelivered is held decrypted. */
/* The peer ended the TLS session (TLS_CLOSED: close_notify) or broke it
 * (TLS_BROKEN), and every frame before that has been delivered: a frame
 * left half-way by a close_notify is truncated (and told so); a broken
 * session is beyond saying anything. */
static void tls_peer_end(fkex_conn *c, long how)
{
    if (how == TLS_CLOSED && conn_partial(c)) {
        c->eof = 1;
        reject(c, "truncated frame");
    } else {
        fkex_conn_close(c, tls_conn_why(c->tls));
    }
}

/* Follows the peer's records (RFC 8446, 5.1: a 5-byte header whose last
 * two bytes are the length of what follows) to know when one is begun
 * and not yet whole. */
static void count_records(fkex_conn *c, const uint8_t *p, size_t n)
{
    while (n > 0) {
        if (c->rec_nhdr < 5) {
            c->rec_hdr[c->rec_nhdr++] = *p++;
            n--;
            if (c->rec_nhdr == 5 && (c->rec_left = load16_be(c->rec_hdr + 3)) == 0)
                c->rec_nhdr = 0;
            continue;
        }
        size_t take = n < c->rec_left ? n : c->rec_left;
        p += take;
        n -= take;
        if ((c->rec_left -= (uint16_t)take) == 0)
            c->rec_nhdr = 0;
    }
}

static void tls_input(fkex_conn *c, const uint8_t *p, size_t n)
{
    uint8_t clear[RECORD_MAX];
    long k = 0;
    count_records(c, p, n);
    c->tio.in = p;
    c->tio.inlen = n;
    if (!c->tls_ready)
        tls_handshake(c);
    while (c->tls_ready && !c->closing && !c->finishing &&
           (k = tls_conn_read(c->tls, clear, sizeof clear)) > 0)
        deliver(c, clear, (size_t)k);
    c->tio.inlen = 0;
    tls_emit(c);
    if (c->closing || c->finishing)
        return;
    if (k >= 0) {
        if (c->tls_ready)
            track_partial(c);   /* a record begun counts as a frame begun */
        return;
    }
    if (c->paused || c->nheld) {   /* frames held: they go first (idle_cb) */
        c->tls_ended = k;
        if (c->reading) {
            uv_read_stop((uv_stream_t *)&c->tcp);
            c->reading = 0;
        }
        return;
    }
    tls_peer_end(c, k);
}

/* What one read means for c. */
static void on_read(fkex_conn *c, ssize_t nread, const uv_buf_t *buf)
{
    if (c->closing)
        return;
    if (c->finishing && !handshaking(c))
        finishing_read(c, nread);
    else if (nread > 0 && c->tls)
        tls_input(c, (const uint8_t *)buf->base, (size_t)nread);
    else if (nread > 0)
        deliver(c, (const uint8_t *)buf->base, (size_t)nread);
    else if (nread == UV_EOF && handshaking(c))
        fkex_conn_close(c, "TLS handshake failed: the peer hung up (does it speak TLS?)");
    else if (nread == UV_EOF && conn_partial(c)) {
        c->eof = 1;
        reject(c, "truncated frame");
    } else if (nread == UV_EOF && c->tls)   /* a stream cut here could have lost frames */
        fkex_conn_close(c, "connection closed by peer without TLS close_notify");
    else if (nread == UV_EOF)
        fkex_conn_close(c, "connection closed by peer");
    else if (nread == UV_ENOBUFS)
        fkex_conn_close(c, "out of memory");
    else if (nread < 0)
        fkex_conn_close(c, uv_strerror((int)nread));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    fkex_conn *c = s->data;
    on_read(c, nread, buf);
    if (c->rbuf_from)
        c->rbuf_from->rbuf_busy = 0;   /* still alive: a server is freed on a later turn */
    else
        free(buf->base);
    c->rbuf_from = NULL;
}

static void start_reading(fkex_conn *c)
{
    if (c->closing || (c->paused && !handshaking(c)) || c->reading || !c->connected || c->nheld ||
        c->tls_ended)
        return;
    int r = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    if (r != 0)
        fkex_conn_close(c, uv_strerror(r));
    else
        c->reading = 1;
}

void fkex_conn_pause(fkex_conn *c)
{
    if (c->closing || c->paused)
        return;
    c->paused = 1;
    if (c->reading && !handshaking(c)) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
    if (c->idle_init)
        uv_idle_stop(&c->idle);
}

/* After resume: the held bytes first, then the socket again. */
static void idle_cb(uv_idle_t *i)
{
    fkex_conn *c = i->data;
    uint8_t *p = c->held;
    size_t n = c->nheld;
    uv_idle_stop(i);
    c->held = NULL;
    c->nheld = 0;
    if (n)
        deliver(c, p, n);
    free(p);
    if (c->tls_ended && !c->closing && !c->finishing && !c->paused && !c->nheld)
        tls_peer_end(c, c->tls_ended);
    else
        start_reading(c);
}

void fkex_conn_resume(fkex_conn *c)
{
    if (c->closing || !c->paused)
        return;
    c->paused = 0;
    if (!c->nheld && c->tls_ended) {
        tls_peer_end(c, c->tls_ended);
        return;
    }
    if (!c->nheld) {
        start_reading(c);
        return;
    }
    if (!c->idle_init) {
        if (uv_idle_init(c->tcp.loop, &c->idle) != 0) {
            fkex_conn_close(c, "out of memory");
            return;
        }
        c->idle.data = c;
        c->idle_init = 1;
    }
    uv_idle_start(&c->idle, idle_cb);
}

static void connected_cb(uv_connect_t *req, int status)
{
    fkex_conn *c = req->data;
    if (c->closing)
        return;
    if (status == 0) {
        c->connected = 1;
        uv_tcp_nodelay(&c->tcp, 1);
        set_peer(c);
    }
    if (status == 0 && c->tls) {   /* connected once the handshake is done */
        tls_handshake(c);          /* ClientHello */
        start_reading(c);
        return;
    }
    if (c->on_connected)
        c->on_connected(c, status);
    if (status < 0)
        fkex_conn_close(c, uv_strerror(status));
    else
        start_reading(c);
}

/* c speaks TLS with t, as a server (e NULL) or a client checking e. */
static int conn_tls(fkex_conn *c, const fkex_tls *t, const fkex_endpoint *e)
{
    c->tio.out = tls_out;
    c->tio.ctx = c;
    c->tls = tls_conn_new(t, &c->tio, e);
    return c->tls ? 0 : -1;
}

fkex_err fkex_conn_connect(fkex_conn **out, uv_loop_t *loop, const char *addr, const fkex_net_limits *lim,
                           const fkex_tls *tls, void (*on_connected)(fkex_conn *c, int status),
                           char err[128])
{
    struct sockaddr_storage ss;
    fkex_net_limits l = limits_or_default(lim);
    fkex_endpoint ep;
    fkex_err e;
    *out = NULL;
    if ((e = fkex_net_parse_endpoint(&ss, &ep, addr, err)) != FKEX_OK)
        return e;
    fkex_conn *c = conn_new(loop, &l);
    if (!c || (tls && conn_tls(c, tls, &ep) != 0)) {
        if (c)
            fkex_conn_close(c, "out of memory");
        fkex_net_say(err, "out of memory");
        return FKEX_ERR_NO_MEMORY;
    }
    format_addr(c->peer, sizeof c->peer, &ss);
    c->on_connected = on_connected;
    c->connect_req.data = c;
    uv_tcp_nodelay(&c->tcp, 1);
    int r = uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&ss, connected_cb);
    if (r != 0) {
        fkex_net_say(err, "%s: %s", c->peer, uv_strerror(r));
        fkex_conn_close(c, uv_strerror(r));
        return FKEX_ERR_IO;
    }
    *out = c;
    return FKEX_OK;
}

/* ---- servers ------------------------------------------------------------ */

static void accept_failed(fkex_server *s, const char *why)
{
    s->accept_failures++;
    s->accept_why = why;
}

/* Takes the connection libuv holds for s: 0, or -1 if there was no memory
 * for it (it stays in libuv's hands, and libuv stops watching the socket
 * until an accept succeeds: the retry timer tries again). */
static int accept_one(fkex_server *s)
{
    fkex_conn *c = conn_new(s->loop, &s->lim);
    if (!c)
        return -1;
    int r = uv_accept((uv_stream_t *)&s->tcp, (uv_stream_t *)&c->tcp);
    if (r != 0) {
        accept_failed(s, uv_strerror(r));
        fkex_conn_close(c, "accept failed");
        return 0;
    }
    c->connected = 1;
    uv_tcp_nodelay(&c->tcp, 1);
    set_peer(c);
    c->server = s;
    c->speaks = s->web ? SPEAKS_UNKNOWN : SPEAKS_FRAMES;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    if (s->tls && conn_tls(c, s->tls, NULL) != 0) {
        accept_failed(s, "out of memory");
        fkex_conn_close(c, "out of memory");
        return 0;
    }
    if (s->tls && s->frame_timeout_ms)   /* the handshake must end within the frame timeout */
        partial_from_now(c);
    if (s->on_accept)
        s->on_accept(s, c);
    start_reading(c);
    return 0;
}

static void retry_accept(uv_timer_t *t)
{
    fkex_server *s = t->data;
    if (!s->stopping && accept_one(s) != 0)
        uv_timer_start(&s->retry, retry_accept, ACCEPT_RETRY_MS, 0);
}

static void accepted_cb(uv_stream_t *ls, int status)
{
    fkex_server *s = ls->data;
    if (s->stopping)
        return;
    if (status < 0) {            /* EMFILE and the like: libuv dropped it and goes on */
        accept_failed(s, uv_strerror(status));
        return;
    }
    if (accept_one(s) != 0) {
        accept_failed(s, "out of memory");
        uv_timer_start(&s->retry, retry_accept, ACCEPT_RETRY_MS, 0);
    }
}

/* Rejects the connections whose frame in progress is past its deadline. */
static void sweep_partial(uv_timer_t *t)
{
    fkex_server *s = t->data;
    uint64_t now = uv_now(s->loop);
    for (fkex_conn *c = s->partial, *next; c; c = next) {
        next = c->pnext;
        if (now - c->partial_since >= s->frame_timeout_ms)   /* unlinks c only */
            reject(c, c->tls && !c->tls_ready ? "handshake timed out" : "frame timed out");
    }
}

void fkex_server_set_frame_timeout(fkex_server *s, uint64_t ms)
{
    uint64_t every = ms / 4;
    s->frame_timeout_ms = ms;
    if (!ms) {
        uv_timer_stop(&s->sweep);
        while (s->partial)
            unpartial(s->partial);
        return;
    }
    every = every < 10 ? 10 : every > 1000 ? 1000 : every;
    uv_timer_start(&s->sweep, sweep_partial, every, every);
}

uint64_t fkex_server_accept_failures(const fkex_server *s, const char **last_why)
{
    if (last_why)
        *last_why = s->accept_why;
    return s->accept_failures;
}

static void server_closed(uv_handle_t *h)
{
    fkex_server *s = h->data;
    if (--s->open_handles > 0)
        return;
    for (size_t i = 0; s->web && i < s->web->n; i++)
        fkex_frame_buf_unref(s->web_bufs[i]);
    free(s->web_bufs);
    free(s->rbuf);
    free(s);
}

fkex_err fkex_server_start(fkex_server **out, uv_loop_t *loop, const char *addr, const fkex_net_limits *lim,
                           const fkex_tls *tls, void (*on_accept)(fkex_server *s, fkex_conn *c),
                           void *data, char err[128])
{
    struct sockaddr_storage ss;
    fkex_err e;
    *out = NULL;
    if ((e = fkex_net_parse_addr(&ss, addr, 1, err)) != FKEX_OK)
        return e;
    fkex_server *s = calloc(1, sizeof *s);
    if (!s) {
        fkex_net_say(err, "out of memory");
        return FKEX_ERR_NO_MEMORY;
    }
    s->loop = loop;
    s->lim = limits_or_default(lim);
    s->on_accept = on_accept;
    s->tls = tls;
    s->data = data;
    if (uv_tcp_init(loop, &s->tcp) != 0) {
        free(s);
        fkex_net_say(err, "out of memory");
        return FKEX_ERR_NO_MEMORY;
    }
    s->tcp.data = s;
    s->open_handles = 1;
    int r = uv_tcp_bind(&s->tcp, (const struct sockaddr *)&ss, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&s->tcp, 1024, accepted_cb);   /* bursts of clients (the kernel caps it at somaxconn) */
    struct sockaddr_storage bound;
    int n = sizeof bound;
    if (r == 0)
        r = uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&bound, &n);
    if (r != 0) {
        fkex_net_say(err, "%.60s: %s", addr, uv_strerror(r));
        s->stopping = 1;
        uv_close((uv_handle_t *)&s->tcp, server_closed);
        return FKEX_ERR_IO;
    }
    s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);
    (void)uv_timer_init(loop, &s->sweep);     /* cannot fail on Linux */
    (void)uv_timer_init(loop, &s->retry);
    s->sweep.data = s->retry.data = s;
    s->open_handles += 2;
    *out = s;
    return FKEX_OK;
}

uint16_t fkex_server_port(const fkex_server *s) { return s->port; }

void fkex_server_bound(char *out, size_t cap, const fkex_server *s, const char *addr)
{
    const char *colon = strrchr(addr, ':');
    int hostlen = colon ? (int)(colon - addr) : (int)strlen(addr);
    char pin[FKEX_PIN_TEXT_LEN + 2] = "";
    if (s->tls) {
        uint8_t p[FKEX_PIN_BYTES];
        fkex_tls_pin(s->tls, p);
        fkex_pin_text(pin, p);
        pin[FKEX_PIN_TEXT_LEN] = '@';
        pin[FKEX_PIN_TEXT_LEN + 1] = '\0';
    }
    snprintf(out, cap, "%s%.*s:%u", pin, hostlen, addr, (unsigned)s->port);
}
void *fkex_server_data(const fkex_server *s) { return s->data; }
fkex_err fkex_server_set_web(fkex_server *s, const fkex_web_site *site)
{
    if (!(s->web_bufs = calloc(site->n ? site->n : 1, sizeof *s->web_bufs)))
        return FKEX_ERR_NO_MEMORY;
    for (size_t i = 0; i < site->n; i++)
        if (!(s->web_bufs[i] = raw_buf(site->files[i].bytes, site->files[i].len))) {
            for (size_t j = 0; j < i; j++)
                fkex_frame_buf_unref(s->web_bufs[j]);
            free(s->web_bufs);
            s->web_bufs = NULL;
            return FKEX_ERR_NO_MEMORY;
        }
    s->web = site;
    return FKEX_OK;
}

void fkex_server_stop(fkex_server *s)
{
    if (!s || s->stopping)
        return;
    s->stopping = 1;
    while (s->conns)
        fkex_conn_close(s->conns, "server stopped");
    uv_close((uv_handle_t *)&s->sweep, server_closed);
    uv_close((uv_handle_t *)&s->retry, server_closed);
    uv_close((uv_handle_t *)&s->tcp, server_closed);
}

/* ---- one request, one reply ---------------------------------------------- */

typedef struct {
    const uint8_t *req;
    size_t reqlen;
    int (*more)(void *ctx, const uint8_t *frame, size_t len);   /* NULL: the first frame */
    void *ctx;
    uint8_t *reply;
    size_t replylen;
    int done;
    fkex_conn *c;
    uv_timer_t timer;
    char err[128];
} request;

static void req_connected(fkex_conn *c, int status)
{
    request *q = fkex_conn_data(c);
    if (status == 0)
        (void)fkex_conn_send(c, q->req, q->reqlen);     /* a failure closes c */
}

static void req_frame(fkex_conn *c, const uint8_t *frame, size_t len)
{
    request *q = fkex_conn_data(c);
    if (q->done || (q->more && q->more(q->ctx, frame, len)))
        return;
    q->reply = malloc(len ? len : 1);
    if (!q->reply) {
        fkex_conn_close(c, "out of memory");
        return;
    }
    if (len)
        memcpy(q->reply, frame, len);
    q->replylen = len;
    q->done = 1;
    fkex_conn_close(c, "done");
}

static void req_closed(fkex_conn *c, const char *why)
{
    request *q = fkex_conn_data(c);
    q->c = NULL;
    if (!q->done && !q->err[0])
        snprintf(q->err, sizeof q->err, "%s", why);
    uv_close((uv_handle_t *)&q->timer, NULL);    /* then the loop has nothing left */
}

static void req_timeout(uv_timer_t *t)
{
    request *q = t->data;
    if (!q->err[0])
        snprintf(q->err, sizeof q->err, "timed out");
    if (q->c)
        fkex_conn_close(q->c, "timed out");
}

/* A CLI need not ignore SIGPIPE: the request blocks it on this thread and
 * swallows one it raised, then restores the mask. No global state changes. */
static int pipe_block(sigset_t *old)
{
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    return pthread_sigmask(SIG_BLOCK, &pipe, old);
}

static void pipe_restore(const sigset_t *old)
{
    sigset_t pipe, pending;
    struct timespec zero = { 0, 0 };
    if (sigismember(old, SIGPIPE))
        return;                       /* the caller blocked it already */
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
        (void)sigtimedwait(&pipe, NULL, &zero);
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

static fkex_err request_run(request *qp, uint8_t **reply, size_t *replylen, const char *addr,
                            const fkex_net_limits *lim, const fkex_tls *tls, unsigned timeout_ms,
                            char err[128])
{
    uv_loop_t loop;
    request q = *qp;
    fkex_err e = FKEX_OK;
    if (uv_loop_init(&loop) != 0) {
        fkex_net_say(err, "cannot create an event loop");
        return FKEX_ERR_IO;
    }
    if (uv_timer_init(&loop, &q.timer) != 0) {
        uv_loop_close(&loop);
        fkex_net_say(err, "cannot create a timer");
        return FKEX_ERR_IO;
    }
    q.timer.data = &q;
    e = fkex_conn_connect(&q.c, &loop, addr, lim, tls, req_connected, err);
    if (e == FKEX_OK) {
        fkex_conn_set(q.c, req_frame, req_closed, &q);
        uv_timer_start(&q.timer, req_timeout, timeout_ms, 0);
    } else {
        uv_close((uv_handle_t *)&q.timer, NULL);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&loop);
    if (e != FKEX_OK)
        return e;
    if (!q.done) {
        fkex_net_say(err, "%s", q.err[0] ? q.err : "no reply");
        return FKEX_ERR_IO;
    }
    *reply = q.reply;
    *replylen = q.replylen;
    return FKEX_OK;
}

fkex_err fkex_net_exchange(uint8_t **reply, size_t *replylen, const char *addr, const uint8_t *req,
                           size_t reqlen, const fkex_net_limits *lim, const fkex_tls *tls,
                           unsigned timeout_ms,
                           int (*more)(void *ctx, const uint8_t *frame, size_t len), void *ctx,
                           char err[128])
{
    sigset_t old;
    request q = { .req = req, .reqlen = reqlen, .more = more, .ctx = ctx };
    *reply = NULL;
    *replylen = 0;
    if (pipe_block(&old) != 0)
        return request_run(&q, reply, replylen, addr, lim, tls, timeout_ms, err);
    fkex_err e = request_run(&q, reply, replylen, addr, lim, tls, timeout_ms, err);
    pipe_restore(&old);
    return e;
}

fkex_err fkex_net_request(uint8_t **reply, size_t *replylen, const char *addr, const uint8_t *req, size_t reqlen,
                          const fkex_net_limits *lim, const fkex_tls *tls, unsigned timeout_ms,
                          char err[128])
{
    return fkex_net_exchange(reply, replylen, addr, req, reqlen, lim, tls, timeout_ms, NULL, NULL,
                             err);
}
