/*
 * bench/loadgen.c: the load generator (bench/loadgen.h).
 *
 * Plain sockets and epoll rather than src/net: a generator must cost as
 * little as possible of the two cores it shares with the server, and must
 * cost the same whichever server it drives. Reads are 256 KiB; frames are
 * parsed in place. With TLS (LG_FKEX_TLS) each connection is an OpenSSL
 * client on its socket (TLS 1.3, the relay's key not checked: this is a
 * measurement, the suites check keys), blocking for the handshakes and
 * non-blocking under epoll after.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "loadgen.h"
#include "wire/relay_msg.h"

#define READ_MAX (256 * 1024)
#define HANDSHAKE_MS 10000

struct lg_conn {
    int fd;
    SSL *ssl;                /* LG_FKEX_TLS */
    uint8_t room_id[32];     /* fkex: its session's room, where it publishes */
    uint8_t *in;
    size_t nin, incap;
    uint8_t *out;            /* bytes the socket did not take yet */
    size_t nout, outcap;
    int publisher;
    uint64_t sent, acked;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int fail(lg *g, const char *what)
{
    snprintf(g->why, sizeof g->why, "%s%s%s", what, errno ? ": " : "", errno ? strerror(errno) : "");
    return -1;
}

static int dial(uint16_t port, int nonblock)
{
    struct sockaddr_in sa = { 0 };
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* A TLS client on fd (blocking), or NULL. */
static SSL *tls_start(int fd)
{
    static SSL_CTX *ctx;
    SSL *ssl;
    if (!ctx && (ctx = SSL_CTX_new(TLS_client_method())) != NULL) {
        SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                  SSL_MODE_RELEASE_BUFFERS);
        /* whole reads, as src/net's clients do, not two recv() a record */
        SSL_CTX_set_read_ahead(ctx, 1);
    }
    if (!ctx || !(ssl = SSL_new(ctx)))
        return NULL;
    if (SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

/* A connection for proto: TCP, then TLS for LG_FKEX_TLS. The socket, or
 * -1; *ssl the TLS client (NULL without). */
static int dial_proto(lg_proto proto, uint16_t port, SSL **ssl)
{
    int fd = dial(port, 0);
    *ssl = NULL;
    if (fd < 0 || proto != LG_FKEX_TLS)
        return fd;
    if (!(*ssl = tls_start(fd))) {
        close(fd);
        errno = EPROTO;
        return -1;
    }
    return fd;
}

/* ---- blocking steps of a handshake ---------------------------------------- */

static int write_all(int fd, SSL *ssl, const uint8_t *b, size_t n)
{
    while (ssl && n > 0) {
        size_t w = 0;
        if (SSL_write_ex(ssl, b, n, &w) != 1)
            return -1;
        b += w;
        n -= w;
    }
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_some(int fd, SSL *ssl, uint8_t *b, size_t cap, size_t *n)
{
    struct pollfd p = { fd, POLLIN, 0 };
    if (!(ssl && SSL_has_pending(ssl)) && poll(&p, 1, HANDSHAKE_MS) != 1)
        return -1;
    if (ssl) {
        size_t got = 0;
        if (SSL_read_ex(ssl, b + *n, cap - *n, &got) != 1)
            return -1;
        *n += got;
        return 0;
    }
    ssize_t r = recv(fd, b + *n, cap - *n, 0);
    if (r <= 0)
        return -1;
    *n += (size_t)r;
    return 0;
}

/* One relay envelope (blocking), read exactly: what follows it stays in
 * the socket. The envelope into buf, its length into *len. */
static int read_frame(int fd, SSL *ssl, uint8_t *buf, size_t cap, size_t *len)
{
    size_t n = 0, want = 4;
    while (n < want) {
        if (read_some(fd, ssl, buf, want, &n) != 0)
            return -1;
        if (want == 4 && n == 4 && (want = 4 + (size_t)load32_be(buf)) > cap)
            return -1;
    }
    *len = want - 4;
    memmove(buf, buf + 4, *len);
    return 0;
}

static int send_env(int fd, SSL *ssl, const fkex_relay_msg *m)
{
    fkex_writer w;
    int rc = -1;
    fkex_writer_init(&w);
    fkex_writer_u32(&w, 0);
    fkex_relay_msg_encode(&w, m);
    if (!w.failed) {
        store32_be(w.buf, (uint32_t)(w.len - 4));
        rc = write_all(fd, ssl, w.buf, w.len);
    }
    fkex_writer_free(&w);
    return rc;
}

/* HELLO (with a leaf: NONCE, AUTH), then READY. */
static int fkex_session(int fd, SSL *ssl, const uint8_t room_id[32], const uint8_t *v,
                        uint64_t after, lg_sign_fn sign, void *ctx, int i)
{
    uint8_t buf[2048];
    size_t len;
    fkex_relay_msg m = { 0 }, r;
    m.kind = FKEX_RELAY_HELLO;
    memcpy(m.room_id, room_id, 32);
    m.seq = after;
    m.has_leaf = v != NULL;
    if (v)
        memcpy(m.leaf, v, 32);
    if (send_env(fd, ssl, &m) != 0 || read_frame(fd, ssl, buf, sizeof buf, &len) != 0 ||
        fkex_relay_msg_decode(&r, buf, len) != FKEX_OK)
        return -1;
    if (v) {
        fkex_relay_msg a = { 0 };
        if (r.kind != FKEX_RELAY_NONCE)
            return -1;
        a.kind = FKEX_RELAY_AUTH;
        if (sign(ctx, i, r.nonce, a.sig) != 0 || send_env(fd, ssl, &a) != 0 ||
            read_frame(fd, ssl, buf, sizeof buf, &len) != 0 ||
            fkex_relay_msg_decode(&r, buf, len) != FKEX_OK)
            return -1;
    }
    return r.kind == FKEX_RELAY_READY ? 0 : -1;
}

/* RESP: "*N\r\n" then N bulk strings. */
static size_t resp_cmd(uint8_t *out, size_t cap, int argc, const char *const *argv, const size_t *lens)
{
    size_t n = (size_t)snprintf((char *)out, cap, "*%d\r\n", argc);
    for (int i = 0; i < argc && n < cap; i++) {
        n += (size_t)snprintf((char *)out + n, cap - n, "$%zu\r\n", lens[i]);
        if (n + lens[i] + 2 > cap)
            return 0;
        memcpy(out + n, argv[i], lens[i]);
        n += lens[i];
        out[n++] = '\r';
        out[n++] = '\n';
    }
    return n < cap ? n : 0;
}

/* ---- RESP parsing ----------------------------------------------------------- */

/* One element at b: its size, 0 if incomplete, -1 if malformed. The last
 * bulk string seen goes to *bulk (a pub/sub message's payload). */
static long resp_elem(const uint8_t *b, size_t n, const uint8_t **bulk, size_t *bulklen, int depth)
{
    const uint8_t *nl = n ? memchr(b, '\n', n) : NULL;
    long head, v;
    if (!nl)
        return 0;
    head = (long)(nl - b) + 1;
    v = strtol((const char *)b + 1, NULL, 10);
    switch (b[0]) {
    case '+': case '-': case ':':
        return head;
    case '$':
        if (v < 0)
            return head;
        if ((size_t)head + (size_t)v + 2 > n)
            return 0;
        *bulk = b + head;
        *bulklen = (size_t)v;
        return head + v + 2;
    case '*': {
        long off = head;
        if (depth > 4)
            return -1;
        for (long k = 0; k < v; k++) {
            long e = resp_elem(b + off, n - (size_t)off, bulk, bulklen, depth + 1);
            if (e <= 0)
                return e;
            off += e;
        }
        return off;
    }
    default:
        return -1;
    }
}

/* ---- the messages ------------------------------------------------------------ */

static void make_msg(uint8_t msg[LG_MSG], const uint8_t room_id[32], uint64_t id)
{
    memset(msg, 0, LG_MSG);
    msg[0] = FKEX_RMSG_APPLICATION;
    msg[1] = FKEX_RATCHET_VERSION;
    memcpy(msg + 2, room_id, 32);
    store64_be(msg + 42, id);
    store64_be(msg + 34, now_ns());
}

static void sample(lg *g, const uint8_t *msg, size_t len, uint64_t t)
{
    g->deliveries++;
    if (!g->record || len < 42)
        return;
    if (g->nlat == g->latcap) {
        size_t cap = g->latcap ? 2 * g->latcap : 1u << 16;
        double *l = realloc(g->lat, cap * sizeof *l);
        if (!l)
            return;
        g->lat = l;
        g->latcap = cap;
    }
    g->lat[g->nlat++] = (double)(t - load64_be(msg + 34)) / 1e6;
}

static int queue_out(lg_conn *c, const uint8_t *buf, size_t n);
static int flush_out(lg *g, lg_conn *c);

/* Parses what c has read: deliveries, acknowledgements; a PING is answered. */
static int consume(lg *g, lg_conn *c)
{
    size_t off = 0;
    uint64_t t = g->record ? now_ns() : 0;
    if (g->proto != LG_RESP) {
        while (c->nin - off >= 4) {
            size_t len = load32_be(c->in + off);
            const uint8_t *f = c->in + off + 4;
            if (c->nin - off - 4 < len)
                break;
            if (len >= 2 && f[0] == FKEX_RELAY_DELIVER && len >= 2 + 32 + 8 + 4)
                sample(g, f + 46, len - 46, t);
            else if (len >= 1 && f[0] == FKEX_RELAY_ACCEPTED) {
                c->acked++;
                g->acks++;
            } else if (len >= 1 && f[0] == FKEX_RELAY_ERROR) {
                g->errors++;
            } else if (len == 2 + 8 && f[0] == FKEX_RELAY_PING) {
                /* the relay's keepalive: a client that stays silent is closed */
                uint8_t pong[4 + 2 + 8];
                store32_be(pong, 2 + 8);
                pong[4] = FKEX_RELAY_PONG;
                pong[5] = FKEX_RELAY_VERSION;
                memcpy(pong + 6, f + 2, 8);
                if (queue_out(c, pong, sizeof pong) != 0 || flush_out(g, c) != 0)
                    return -1;
            }
            off += 4 + len;
        }
    } else {
        for (;;) {
            const uint8_t *bulk = NULL;
            size_t bl = 0;
            long e = resp_elem(c->in + off, c->nin - off, &bulk, &bl, 0);
            if (e < 0)
                return -1;
            if (e == 0)
                break;
            if (c->in[off] == ':') {
                c->acked++;
                g->acks++;
            } else if (c->in[off] == '-') {
                g->errors++;
            } else if (bulk && bl == LG_MSG) {
                sample(g, bulk, bl, t);
            }
            off += (size_t)e;
        }
    }
    memmove(c->in, c->in + off, c->nin - off);
    c->nin -= off;
    return 0;
}

static int on_readable(lg *g, lg_conn *c)
{
    for (;;) {
        if (c->incap - c->nin < READ_MAX / 2) {
            size_t cap = c->incap + READ_MAX;
            uint8_t *b = realloc(c->in, cap);
            if (!b)
                return -1;
            c->in = b;
            c->incap = cap;
        }
        if (c->ssl) {   /* a record at a time, until none is whole */
            size_t got = 0;
            if (SSL_read_ex(c->ssl, c->in + c->nin, c->incap - c->nin, &got) != 1) {
                if (SSL_get_error(c->ssl, 0) == SSL_ERROR_WANT_READ)
                    return 0;
                errno = ECONNRESET;
                return -1;
            }
            c->nin += got;
            if (consume(g, c) != 0)
                return -1;
            continue;
        }
        ssize_t r = recv(c->fd, c->in + c->nin, c->incap - c->nin, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (r <= 0) {
            errno = r < 0 ? errno : ECONNRESET;
            return -1;
        }
        c->nin += (size_t)r;
        if (consume(g, c) != 0)
            return -1;
        if ((size_t)r < READ_MAX / 2)
            return 0;
    }
}

static int flush_out(lg *g, lg_conn *c)
{
    size_t off = 0;
    while (c->ssl && off < c->nout) {
        size_t w = 0;
        if (SSL_write_ex(c->ssl, c->out + off, c->nout - off, &w) != 1) {
            if (SSL_get_error(c->ssl, 0) == SSL_ERROR_WANT_WRITE)
                break;
            return -1;
        }
        off += w;
    }
    while (!c->ssl && off < c->nout) {
        ssize_t w = send(c->fd, c->out + off, c->nout - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    memmove(c->out, c->out + off, c->nout - off);
    c->nout -= off;
    struct epoll_event ev = { EPOLLIN | (c->nout ? EPOLLOUT : 0), { .ptr = c } };
    (void)epoll_ctl(g->ep, EPOLL_CTL_MOD, c->fd, &ev);
    return 0;
}

/* Appends n bytes to c's output (flush_out sends them). */
static int queue_out(lg_conn *c, const uint8_t *buf, size_t n)
{
    if (c->nout + n > c->outcap) {
        size_t cap = c->outcap ? 2 * c->outcap : 64 * 1024;
        while (cap < c->nout + n)
            cap *= 2;
        uint8_t *o = realloc(c->out, cap);
        if (!o)
            return -1;
        c->out = o;
        c->outcap = cap;
    }
    memcpy(c->out + c->nout, buf, n);
    c->nout += n;
    return 0;
}

/* Appends one published message to c's output. */
static int publish(lg *g, lg_conn *c, uint64_t id)
{
    uint8_t msg[LG_MSG], buf[512];
    size_t n;
    make_msg(msg, c->room_id, id);
    if (g->proto != LG_RESP) {
        n = 4 + 2 + 32 + 8 + 4 + LG_MSG;
        store32_be(buf, (uint32_t)(n - 4));
        buf[4] = FKEX_RELAY_SUBMIT;
        buf[5] = FKEX_RELAY_VERSION;
        memcpy(buf + 6, c->room_id, 32);
        store64_be(buf + 38, c->sent + 1);
        store32_be(buf + 46, LG_MSG);
        memcpy(buf + 50, msg, LG_MSG);
    } else {
        const char *argv[3] = { "PUBLISH", "room", (const char *)msg };
        size_t lens[3] = { 7, 4, LG_MSG };
        n = resp_cmd(buf, sizeof buf, 3, argv, lens);
    }
    if (queue_out(c, buf, n) != 0)
        return -1;
    c->sent++;
    return 0;
}

/* ---- connections ------------------------------------------------------------ */

/* Connection i's session: its socket set non-blocking and watched. */
static int watch(lg *g, lg_conn *c)
{
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = { EPOLLIN, { .ptr = c } };
    return epoll_ctl(g->ep, EPOLL_CTL_ADD, c->fd, &ev) == 0 ? 0 : fail(g, "epoll");
}

static int start(lg *g, lg_proto proto, int nconns)
{
    g->proto = proto;
    g->nconns = nconns;
    errno = 0;
    if ((g->ep = epoll_create1(0)) < 0 || !(g->conns = calloc((size_t)g->nconns, sizeof *g->conns)))
        return fail(g, "cannot start");
    for (int i = 0; i < g->nconns; i++)
        g->conns[i].fd = -1;
    return 0;
}

int lg_open(lg *g, lg_proto proto, const uint16_t *ports, int nports, const uint8_t room_id[32],
            int nsubs, int npubs, const uint8_t (*v)[32], uint64_t after, lg_sign_fn sign, void *ctx)
{
    memset(g, 0, sizeof *g);
    g->nsubs = nsubs;
    g->npubs = npubs;
    if (start(g, proto, nsubs + (proto == LG_RESP ? npubs : 0)) != 0)
        return -1;
    for (int i = 0; i < g->nconns; i++) {
        lg_conn *c = &g->conns[i];
        int ok;
        memcpy(c->room_id, room_id, 32);
        if ((c->fd = dial_proto(proto, ports[i % nports], &c->ssl)) < 0)
            return fail(g, "connect");
        if (proto != LG_RESP) {
            ok = fkex_session(c->fd, c->ssl, room_id, v[i], after, sign, ctx, i) == 0;
            c->publisher = i < npubs;
        } else if (i < nsubs) {
            uint8_t cmd[64], buf[256];
            const char *argv[2] = { "SUBSCRIBE", "room" };
            size_t lens[2] = { 9, 4 }, n = resp_cmd(cmd, sizeof cmd, 2, argv, lens), got = 0;
            const uint8_t *bulk;
            size_t bl;
            ok = write_all(c->fd, NULL, cmd, n) == 0;
            while (ok && resp_elem(buf, got, &bulk, &bl, 0) == 0)
                ok = read_some(c->fd, NULL, buf, sizeof buf, &got) == 0;
        } else {
            ok = 1;
            c->publisher = 1;
        }
        if (!ok)
            return fail(g, proto != LG_RESP ? "the relay session failed" : "SUBSCRIBE failed");
        if (watch(g, c) != 0)
            return -1;
    }
    return 0;
}

int lg_open_rooms(lg *g, lg_proto proto, uint16_t port, int nrooms, const uint8_t (*room_ids)[32],
                  int per_room, const uint8_t (*v)[32], const uint64_t *after, lg_sign_fn sign,
                  void *ctx)
{
    memset(g, 0, sizeof *g);
    g->nsubs = nrooms * per_room;
    g->npubs = nrooms;
    if (start(g, proto, g->nsubs) != 0)
        return -1;
    for (int i = 0; i < g->nconns; i++) {
        lg_conn *c = &g->conns[i];
        int room = i / per_room;
        memcpy(c->room_id, room_ids[room], 32);
        c->publisher = i % per_room == 0;
        if ((c->fd = dial_proto(proto, port, &c->ssl)) < 0)
            return fail(g, "connect");
        if (fkex_session(c->fd, c->ssl, room_ids[room], v[i], after[room], sign, ctx, i) != 0)
            return fail(g, "the relay session failed");
        if (watch(g, c) != 0)
            return -1;
    }
    return 0;
}

void lg_close(lg *g)
{
    for (int i = 0; g->conns && i < g->nconns; i++) {
        SSL_free(g->conns[i].ssl);
        if (g->conns[i].fd >= 0)
            close(g->conns[i].fd);
        free(g->conns[i].in);
        free(g->conns[i].out);
    }
    free(g->conns);
    free(g->lat);
    if (g->ep >= 0)
        close(g->ep);
    memset(g, 0, sizeof *g);
    g->ep = -1;
}

/* One wait: reads and writes what is ready. timeout in ms. */
static int pump(lg *g, int timeout, int tfd)
{
    struct epoll_event ev[256];
    int n = epoll_wait(g->ep, ev, 256, timeout);
    if (n < 0 && errno != EINTR)
        return fail(g, "epoll_wait");
    for (int i = 0; i < n; i++) {
        lg_conn *c = ev[i].data.ptr;
        if (!c) {   /* the pacing timer */
            uint64_t x;
            if (read(tfd, &x, sizeof x) < 0 && errno != EAGAIN)
                return fail(g, "timerfd");
            continue;
        }
        if ((ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && on_readable(g, c) != 0)
            return fail(g, "a connection dropped");
        if ((ev[i].events & EPOLLOUT) && flush_out(g, c) != 0)
            return fail(g, "a connection dropped");
    }
    return 0;
}

int lg_blast(lg *g, int window, double warmup_s, double run_s, double *rate)
{
    uint64_t start = now_ns(), t_mark = 0, d_mark = 0, id = 0;
    int measuring = 0;
    g->record = 0;
    for (;;) {
        uint64_t t = now_ns();
        if (!measuring && t - start >= (uint64_t)(warmup_s * 1e9)) {
            measuring = 1;
            t_mark = t;
            d_mark = g->deliveries;
        }
        if (measuring && t - t_mark >= (uint64_t)(run_s * 1e9)) {
            *rate = (double)(g->deliveries - d_mark) / ((double)(t - t_mark) / 1e9);
            break;
        }
        for (int i = 0; i < g->nconns; i++) {
            lg_conn *c = &g->conns[i];
            int queued = 0;
            while (c->publisher && c->sent - c->acked < (uint64_t)window) {
                if (publish(g, c, ++id) != 0)
                    return fail(g, "out of memory");
                queued = 1;
            }
            if (queued && flush_out(g, c) != 0)
                return fail(g, "a publisher dropped");
        }
        if (pump(g, 10, -1) != 0)
            return -1;
        if (g->errors) {
            snprintf(g->why, sizeof g->why, "the server refused %llu message(s)",
                     (unsigned long long)g->errors);
            return -1;
        }
    }
    /* Let what is in flight drain, so the next run starts clean. */
    for (uint64_t end = now_ns() + 2000000000u; now_ns() < end;) {
        int out = 0;
        for (int i = 0; i < g->nconns; i++)
            out |= g->conns[i].sent != g->conns[i].acked;
        if (!out)
            break;
        if (pump(g, 10, -1) != 0)
            return -1;
    }
    (void)pump(g, 50, -1);
    return 0;
}

int lg_paced(lg *g, double per_s, double warmup_s, double run_s)
{
    struct itimerspec its = { { 0, 0 }, { 0, 0 } };
    uint64_t period = (uint64_t)(1e9 / per_s), start = now_ns(), next = start, id = 0;
    uint64_t end = start + (uint64_t)((warmup_s + run_s) * 1e9);
    lg_conn *pub = NULL;
    int tfd, rc = 0;
    for (int i = 0; i < g->nconns && !pub; i++)
        if (g->conns[i].publisher)
            pub = &g->conns[i];
    if (!pub)
        return fail(g, "no publisher");
    /* A timer at the pace wakes the loop; sends follow the clock, so a late
     * wake-up sends what is due rather than drifting. */
    if ((tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK)) < 0)
        return fail(g, "timerfd");
    its.it_interval.tv_nsec = (long)period;
    its.it_value.tv_nsec = (long)period;
    struct epoll_event ev = { EPOLLIN, { .ptr = NULL } };
    if (timerfd_settime(tfd, 0, &its, NULL) != 0 || epoll_ctl(g->ep, EPOLL_CTL_ADD, tfd, &ev) != 0) {
        close(tfd);
        return fail(g, "timerfd");
    }
    g->record = 0;
    while (now_ns() < end) {
        uint64_t t = now_ns();
        if (!g->record && t - start >= (uint64_t)(warmup_s * 1e9)) {
            g->record = 1;
            g->nlat = 0;
        }
        if (t >= next) {
            if (publish(g, pub, ++id) != 0 || flush_out(g, pub) != 0) {
                rc = fail(g, "the publisher dropped");
                break;
            }
            next += period;
        }
        if (pump(g, 2, tfd) != 0) {
            rc = -1;
            break;
        }
    }
    /* The last deliveries. */
    for (uint64_t stop = now_ns() + 200000000u; rc == 0 && now_ns() < stop;)
        if (pump(g, 5, tfd) != 0)
            rc = -1;
    g->record = 0;
    epoll_ctl(g->ep, EPOLL_CTL_DEL, tfd, NULL);
    close(tfd);
    if (rc == 0 && g->errors) {
        snprintf(g->why, sizeof g->why, "the server refused %llu message(s)",
                 (unsigned long long)g->errors);
        return -1;
    }
    return rc;
}

/* ---- idle connections --------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int lg_idle_open(lg_idle *h, lg_proto proto, uint16_t port, const uint8_t room_id[32], int n,
                 char why[128])
{
    double *took = calloc((size_t)n + 1, sizeof *took);
    why[0] = 0;
    h->n = 0;
    h->setup_p50_ms = h->setup_p99_ms = 0;
    if (!took || !(h->fds = calloc((size_t)n, sizeof *h->fds)) ||
        !(h->tls = calloc((size_t)n, sizeof *h->tls))) {
        snprintf(why, 128, "out of memory");
        free(took);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        SSL *ssl;
        uint64_t t0 = now_ns();
        int fd = dial_proto(proto, port, &ssl), ok;
        if (fd < 0) {
            snprintf(why, 128, "connection %d: %s", i + 1, strerror(errno));
            break;
        }
        if (proto != LG_RESP) {
            ok = fkex_session(fd, ssl, room_id, NULL, 0, NULL, NULL, i) == 0;
        } else {
            static const uint8_t ping[] = "*1\r\n$4\r\nPING\r\n";
            uint8_t buf[64];
            size_t got = 0;
            const uint8_t *bulk;
            size_t bl;
            ok = write_all(fd, NULL, ping, sizeof ping - 1) == 0;
            while (ok && resp_elem(buf, got, &bulk, &bl, 0) == 0)
                ok = read_some(fd, NULL, buf, sizeof buf, &got) == 0;
            ok = ok && buf[0] == '+';
        }
        if (!ok) {
            snprintf(why, 128, "connection %d: the server did not answer (closed or refused)", i + 1);
            SSL_free(ssl);
            close(fd);
            break;
        }
        took[h->n] = (double)(now_ns() - t0) / 1e6;
        h->tls[h->n] = ssl;
        h->fds[h->n++] = fd;
    }
    if (h->n > 0) {
        qsort(took, (size_t)h->n, sizeof *took, cmp_double);
        h->setup_p50_ms = took[(size_t)h->n / 2];
        h->setup_p99_ms = took[(size_t)((double)(h->n - 1) * 0.99)];
    }
    free(took);
    return h->n;
}

void lg_idle_close(lg_idle *h)
{
    for (int i = 0; i < h->n; i++) {
        SSL_free(h->tls[i]);
        close(h->fds[i]);
    }
    free(h->fds);
    free(h->tls);
    h->fds = NULL;
    h->tls = NULL;
    h->n = 0;
}
