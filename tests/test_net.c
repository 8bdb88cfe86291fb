/*
 * test_net.c: the frame parser without sockets, then real sockets on
 * 127.0.0.1 (ports chosen by the kernel): echo, limits, slow readers,
 * refused and silent peers, and a server stopped with live connections.
 *
 * Every loop runs under a failsafe timer (10 s) that stops it, and every
 * loop in the code is bounded in count.
 */
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include "test.h"
#include "net/net.h"
#include "tls_raw.h"

#define FAILSAFE_MS 10000

/* ---- the parser, without sockets --------------------------------------- */

typedef struct {
    size_t n;
    size_t lens[64];
    uint8_t hash[64][32];
    size_t stop_after;       /* the sink asks to stop after this many frames (0: never) */
} got_frames;

static int collect(void *ctx, const uint8_t *frame, size_t len)
{
    got_frames *g = ctx;
    if (g->n < 64) {
        g->lens[g->n] = len;
        crypto_hash_sha256(g->hash[g->n], frame, len);
    }
    g->n++;
    return g->stop_after && g->n % g->stop_after == 0;
}

/* Frames of these sizes, back to back. */
static uint8_t *make_stream(size_t *outlen, const size_t *sizes, size_t n)
{
    size_t total = 0, off = 0;
    for (size_t i = 0; i < n; i++)
        total += 4 + sizes[i];
    uint8_t *s = malloc(total);
    for (size_t i = 0; i < n; i++) {
        store32_be(s + off, (uint32_t)sizes[i]);
        fill(s + off + 4, sizes[i], (uint32_t)i + 1);
        off += 4 + sizes[i];
    }
    *outlen = total;
    return s;
}

static void parser_splits(void)
{
    static const size_t sizes[] = { 0, 1, 3, 4, 5, 300, 0, 0, 5000, 70000, 2 };
    size_t len;
    uint8_t *s = make_stream(&len, sizes, FKEX_ARRAY_LEN(sizes));
    got_frames whole;
    fkex_frame_parser p;

    memset(&whole, 0, sizeof whole);
    fkex_frame_parser_init(&p, 70000);
    CHECK_OK(fkex_frame_parser_feed(&p, s, len, NULL, collect, &whole));
    CHECK(!fkex_frame_parser_partial(&p));
    fkex_frame_parser_free(&p);
    CHECK(whole.n == FKEX_ARRAY_LEN(sizes));
    for (size_t i = 0; i < whole.n && i < FKEX_ARRAY_LEN(sizes); i++)
        CHECK(whole.lens[i] == sizes[i]);

    /* Every chunk size from 1 to 9, then a few large ones; and a sink that
     * stops after every frame, fed the rest again. */
    static const size_t steps[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 4095, 65536, 100000 };
    for (size_t k = 0; k < FKEX_ARRAY_LEN(steps); k++) {
        for (int stopping = 0; stopping < 2; stopping++) {
            got_frames g;
            memset(&g, 0, sizeof g);
            g.stop_after = stopping ? 1 : 0;
            fkex_frame_parser_init(&p, 70000);
            size_t off = 0, rounds = 0;
            while (off < len && rounds++ < 4 * len) {
                size_t n = len - off < steps[k] ? len - off : steps[k], used;
                CHECK_OK(fkex_frame_parser_feed(&p, s + off, n, &used, collect, &g));
                CHECK(used <= n);
                CHECK(stopping || used == n);
                off += used;
            }
            CHECK(!fkex_frame_parser_partial(&p));
            fkex_frame_parser_free(&p);
            CHECK(g.n == whole.n);
            CHECK(memcmp(g.lens, whole.lens, sizeof g.lens) == 0);
            CHECK(memcmp(g.hash, whole.hash, sizeof g.hash) == 0);
        }
    }
    free(s);
}

static void parser_limits(void)
{
    static const size_t sizes[] = { 100, 101 };
    size_t len, used;
    uint8_t *s = make_stream(&len, sizes, 2);
    got_frames g;
    fkex_frame_parser p;

    /* Exactly max_frame passes; one more fails as soon as the header is in. */
    memset(&g, 0, sizeof g);
    fkex_frame_parser_init(&p, 100);
    CHECK_ERR(fkex_frame_parser_feed(&p, s, 104 + 3, &used, collect, &g), FKEX_OK);
    CHECK(g.n == 1 && used == 107);
    CHECK(fkex_frame_parser_partial(&p));
    CHECK_ERR(fkex_frame_parser_feed(&p, s + 107, 1, &used, collect, &g), FKEX_ERR_BAD_ENCODING);
    /* Sticky. */
    CHECK_ERR(fkex_frame_parser_feed(&p, s + 108, len - 108, &used, collect, &g), FKEX_ERR_BAD_ENCODING);
    CHECK(used == 0 && g.n == 1);
    fkex_frame_parser_free(&p);

    /* The largest header a peer can send, with no body. */
    static const uint8_t huge[4] = { 0xff, 0xff, 0xff, 0xff };
    fkex_frame_parser_init(&p, 1u << 20);
    CHECK_ERR(fkex_frame_parser_feed(&p, huge, 4, NULL, collect, &g), FKEX_ERR_BAD_ENCODING);
    fkex_frame_parser_free(&p);

    /* A body announced but not sent: partial, and nothing allocated ahead. */
    fkex_frame_parser_init(&p, 1u << 20);
    static const uint8_t big[6] = { 0x00, 0x10, 0x00, 0x00, 1, 2 };
    CHECK_OK(fkex_frame_parser_feed(&p, big, 6, NULL, collect, &g));
    CHECK(fkex_frame_parser_partial(&p));
    CHECK(p.cap <= 4096);
    fkex_frame_parser_free(&p);
    free(s);
}

/* ---- a loop with a failsafe --------------------------------------------- */

typedef struct {
    uv_loop_t loop;
    uv_timer_t failsafe;
    int timed_out;
} tloop;

static void failsafe_cb(uv_timer_t *t)
{
    tloop *l = t->data;
    l->timed_out = 1;
    uv_stop(&l->loop);
}

static void tloop_init(tloop *l)
{
    memset(l, 0, sizeof *l);
    CHECK(uv_loop_init(&l->loop) == 0);
    CHECK(uv_timer_init(&l->loop, &l->failsafe) == 0);
    l->failsafe.data = l;
    CHECK(uv_timer_start(&l->failsafe, failsafe_cb, FAILSAFE_MS, 0) == 0);
    uv_unref((uv_handle_t *)&l->failsafe);    /* the loop ends when the test's handles do */
}

/* Runs the loop until nothing is left (or the failsafe fires), then closes it. */
static void tloop_run(tloop *l)
{
    uv_run(&l->loop, UV_RUN_DEFAULT);
    CHECK(!l->timed_out);
    uv_close((uv_handle_t *)&l->failsafe, NULL);
    uv_run(&l->loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&l->loop) == 0);
}

/* The socket cases run twice: over plain TCP (both NULL), then over TLS. */
static fkex_tls *srv_tls, *cli_tls;

/* "127.0.0.1:PORT", with TLS "PIN@127.0.0.1:PORT". */
static void server_addr(char out[128], const fkex_server *s)
{
    fkex_server_bound(out, 128, s, "127.0.0.1:0");
}

/* ---- echo ---------------------------------------------------------------- */

#define BURST 1000
static const size_t echo_sizes[] = { 0, 1, 65535, 1u << 20 };

typedef struct {
    fkex_server *server;
    fkex_conn *client;
    size_t received;           /* frames back at the client */
    int bad;                   /* a frame that came back wrong or out of order */
    int server_closes, client_closes;
    char client_why[96];
    char peer[64];
    uint8_t source[16];
} echo_state;

static void echo_frame(fkex_conn *c, const uint8_t *frame, size_t len)
{
    if (fkex_conn_send(c, frame, len) != 0)
        fkex_conn_close(c, "echo failed");
}

static void echo_server_closed(fkex_conn *c, const char *why)
{
    echo_state *st = fkex_conn_data(c);
    (void)why;
    st->server_closes++;
}

static void echo_accept(fkex_server *s, fkex_conn *c)
{
    echo_state *st = fkex_server_data(s);
    CHECK(fkex_conn_server(c) == s);
    snprintf(st->peer, sizeof st->peer, "%s", fkex_conn_peer(c));
    memcpy(st->source, fkex_conn_source(c), 16);
    fkex_conn_set(c, echo_frame, echo_server_closed, st);
}

static void echo_client_frame(fkex_conn *c, const uint8_t *frame, size_t len)
{
    echo_state *st = fkex_conn_data(c);
    size_t i = st->received++;
    if (i < FKEX_ARRAY_LEN(echo_sizes)) {
        uint8_t *want = malloc(echo_sizes[i] + 1);
        fill(want, echo_sizes[i], (uint32_t)i);
        if (len != echo_sizes[i] || memcmp(frame, want, len) != 0)
            st->bad++;
        free(want);
    } else {
        uint8_t want[8];
        store32_be(want, (uint32_t)(i - FKEX_ARRAY_LEN(echo_sizes)));
        store32_be(want + 4, 0xec40ec40u);
        if (len != 8 || memcmp(frame, want, 8) != 0)
            st->bad++;
    }
    if (st->received == FKEX_ARRAY_LEN(echo_sizes) + BURST) {
        fkex_conn_close(c, "done");
        fkex_conn_close(c, "twice");           /* idempotent */
        CHECK(fkex_conn_send(c, frame, len) == -1);
        fkex_server_stop(st->server);
    }
}

static void echo_client_closed(fkex_conn *c, const char *why)
{
    echo_state *st = fkex_conn_data(c);
    st->client_closes++;
    snprintf(st->client_why, sizeof st->client_why, "%s", why);
}

static void echo_connected(fkex_conn *c, int status)
{
    CHECK(status == 0);
    if (status != 0)
        return;
    for (size_t i = 0; i < FKEX_ARRAY_LEN(echo_sizes); i++) {
        uint8_t *f = malloc(echo_sizes[i] + 1);
        fill(f, echo_sizes[i], (uint32_t)i);
        CHECK(fkex_conn_send(c, f, echo_sizes[i]) == 0);
        free(f);
    }
    for (uint32_t i = 0; i < BURST; i++) {
        uint8_t f[8];
        store32_be(f, i);
        store32_be(f + 4, 0xec40ec40u);
        CHECK(fkex_conn_send(c, f, 8) == 0);
    }
}

/* Echoes through a server listening on listen, from 127.0.0.1; the
 * server sees the client's source as ::ffff:127.0.0.1, also when it
 * listens dual-stack on [::] (where IPv4 peers arrive mapped). */
static void echo_on(const char *listen)
{
    static const uint8_t loopback4[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1 };
    tloop l;
    echo_state st;
    char err[128], addr[128];
    fkex_net_limits lim = { 2u << 20, 16u << 20 };
    memset(&st, 0, sizeof st);
    tloop_init(&l);
    CHECK_OK(fkex_server_start(&st.server, &l.loop, listen, &lim, srv_tls, echo_accept, &st, err));
    CHECK(fkex_server_port(st.server) != 0);
    server_addr(addr, st.server);
    CHECK_OK(fkex_conn_connect(&st.client, &l.loop, addr, &lim, cli_tls, echo_connected, err));
    fkex_conn_set(st.client, echo_client_frame, echo_client_closed, &st);
    tloop_run(&l);
    CHECK(st.received == FKEX_ARRAY_LEN(echo_sizes) + BURST);
    CHECK(st.bad == 0);
    CHECK(st.server_closes == 1 && st.client_closes == 1);
    CHECK(strcmp(st.client_why, "done") == 0);
    CHECK(strncmp(st.peer, listen[0] == '[' ? "[::ffff:127.0.0.1]:" : "127.0.0.1:",
                  listen[0] == '[' ? 19 : 10) == 0);
    CHECK(memcmp(st.source, loopback4, 16) == 0);
}

static void echo(void)
{
    echo_on("127.0.0.1:0");
    echo_on("[::]:0");
}

/* ---- a raw client: exact bytes, then waits for the server to hang up ----- */

typedef struct {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    uv_shutdown_t shutdown;
    const uint8_t *bytes;
    size_t len;
    int shut;                 /* half-close after writing */
    int hung_up;              /* the server closed on us */
    uint8_t got[256];         /* the first bytes it sent us */
    size_t ngot;
} raw_client;

static void raw_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    static char sink[4096];   /* read, and the first bytes kept */
    (void)h;
    (void)hint;
    *buf = uv_buf_init(sink, sizeof sink);
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    raw_client *r = s->data;
    if (n > 0 && r->ngot < sizeof r->got) {
        size_t k = (size_t)n < sizeof r->got - r->ngot ? (size_t)n : sizeof r->got - r->ngot;
        memcpy(r->got + r->ngot, buf->base, k);
        r->ngot += k;
    }
    if (n < 0) {
        r->hung_up = 1;
        uv_close((uv_handle_t *)&r->tcp, NULL);
    }
}

static void raw_written(uv_write_t *w, int status)
{
    (void)w;
    (void)status;
}

static void raw_connected(uv_connect_t *req, int status)
{
    raw_client *r = req->data;
    CHECK(status == 0);
    uv_buf_t b = uv_buf_init((char *)(uintptr_t)r->bytes, (unsigned)r->len);
    if (r->len)
        CHECK(uv_write(&r->write, (uv_stream_t *)&r->tcp, &b, 1, raw_written) == 0);
    if (r->shut)
        CHECK(uv_shutdown(&r->shutdown, (uv_stream_t *)&r->tcp, NULL) == 0);
    CHECK(uv_read_start((uv_stream_t *)&r->tcp, raw_alloc, raw_read) == 0);
}

static void raw_start(raw_client *r, uv_loop_t *loop, uint16_t port, const uint8_t *bytes, size_t len, int shut)
{
    struct sockaddr_in sa;
    memset(r, 0, sizeof *r);
    r->bytes = bytes;
    r->len = len;
    r->shut = shut;
    CHECK(uv_ip4_addr("127.0.0.1", port, &sa) == 0);
    CHECK(uv_tcp_init(loop, &r->tcp) == 0);
    r->tcp.data = r;
    r->connect.data = r;
    CHECK(uv_tcp_connect(&r->connect, &r->tcp, (const struct sockaddr *)&sa, raw_connected) == 0);
}

/* ---- limits --------------------------------------------------------------- */

typedef struct {
    fkex_server *server;
    int accepted, closed, frames;
    char why[4][96];
} limit_state;

static void count_frame(fkex_conn *c, const uint8_t *frame, size_t len)
{
    limit_state *st = fkex_conn_data(c);
    (void)frame;
    (void)len;
    st->frames++;
}

static void limit_closed(fkex_conn *c, const char *why)
{
    limit_state *st = fkex_conn_data(c);
    if (st->closed < 4)
        snprintf(st->why[st->closed], sizeof st->why[0], "%s", why);
    if (++st->closed == 3)
        fkex_server_stop(st->server);
}

static void limit_accept(fkex_server *s, fkex_conn *c)
{
    limit_state *st = fkex_server_data(s);
    st->accepted++;
    fkex_conn_set(c, count_frame, limit_closed, st);
}

static int saw(const limit_state *st, const char *why)
{
    int n = 0;
    for (int i = 0; i < st->closed && i < 4; i++)
        n += strcmp(st->why[i], why) == 0;
    return n;
}

static void frame_too_large(void)
{
    tloop l;
    limit_state st;
    char err[128];
    fkex_net_limits lim = { 1024, 1u << 20 };
    raw_client whole, trunc, cut;
    uint8_t *big = calloc(1, 4 + 1025);
    static const uint8_t announce[4 + 10] = { 0x00, 0x10, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
    static const uint8_t half[4 + 1024 + 4 + 10] = { 0, 0, 4, 0, [1028] = 0, 0, 0, 100 };

    store32_be(big, 1025);
    memset(&st, 0, sizeof st);
    tloop_init(&l);
    CHECK_OK(fkex_server_start(&st.server, &l.loop, "127.0.0.1:0", &lim, srv_tls, limit_accept, &st, err));
    uint16_t port = fkex_server_port(st.server);
    /* A whole frame one byte too long. */
    raw_start(&whole, &l.loop, port, big, 4 + 1025, 0);
    /* A header announcing 1 MiB, then 10 bytes, and the socket left open:
     * the server must not wait for the rest. */
    raw_start(&trunc, &l.loop, port, announce, sizeof announce, 0);
    /* One frame of exactly max_frame, then a frame cut off by the end of the
     * stream. */
    raw_start(&cut, &l.loop, port, half, sizeof half, 1);
    tloop_run(&l);
    CHECK(st.accepted == 3 && st.closed == 3);
    CHECK(saw(&st, "frame too large") == 2);
    CHECK(saw(&st, "truncated frame") == 1);
    CHECK(st.frames == 1);
    CHECK(whole.hung_up && trunc.hung_up && cut.hung_up);
    free(big);
}

/* ---- rejects: the peer is told why, then the connection ends -------------- */

#define REJECT_TIMEOUT_MS 200

typedef struct {
    fkex_server *server;
    int closed, frames;
    char why[5][96];
} reject_state;

static void reject_say(fkex_conn *c, const char *why)
{
    CHECK(fkex_conn_send(c, (const uint8_t *)why, strlen(why)) == 0);
}

static void reject_frame(fkex_conn *c, const uint8_t *frame, size_t len)
{
    reject_state *st = fkex_conn_data(c);
    (void)frame;
    (void)len;
    st->frames++;
    /* a well-formed frame: answered, and the connection finished */
    reject_say(c, "ok");
    fkex_conn_finish(c, "done");
    CHECK(fkex_conn_send(c, (const uint8_t *)"late", 4) == -1);
}

static void reject_closed(fkex_conn *c, const char *why)
{
    reject_state *st = fkex_conn_data(c);
    if (st->closed < 5)
        snprintf(st->why[st->closed], sizeof st->why[0], "%s", why);
    /* the four that broke (or finished) are done: stop the silent one */
    if (++st->closed == 4)
        fkex_server_stop(st->server);
}

static void reject_accept(fkex_server *s, fkex_conn *c)
{
    fkex_conn_set(c, reject_frame, reject_closed, fkex_server_data(s));
    fkex_conn_set_reject(c, reject_say);
}

/* Whether a raw client got exactly one frame back, holding text. */
static int got_frame(const raw_client *r, const char *text)
{
    size_t n = strlen(text);
    return r->ngot == 4 + n && load32_be(r->got) == n && memcmp(r->got + 4, text, n) == 0;
}

static int count_why(const reject_state *st, const char *why)
{
    int n = 0;
    for (int i = 0; i < st->closed && i < 5; i++)
        n += strcmp(st->why[i], why) == 0;
    return n;
}

static void reject_reasons(void)
{
    tloop l;
    reject_state st;
    char err[128];
    fkex_net_limits lim = { 1024, 1u << 20 };
    raw_client big, trunc, slow, good, silent;
    static const uint8_t announce[4 + 10] = { 0x00, 0x10, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
    static const uint8_t cut[4 + 3] = { 0, 0, 0, 10, 1, 2, 3 };
    static const uint8_t started[2] = { 0, 0 };
    static const uint8_t whole[4 + 5] = { 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o' };

    memset(&st, 0, sizeof st);
    tloop_init(&l);
    CHECK_OK(fkex_server_start(&st.server, &l.loop, "127.0.0.1:0", &lim, srv_tls, reject_accept, &st, err));
    fkex_server_set_frame_timeout(st.server, REJECT_TIMEOUT_MS);
    uint16_t port = fkex_server_port(st.server);
    uint64_t t0 = uv_now(&l.loop);
    /* a length over the maximum, the socket left open */
    raw_start(&big, &l.loop, port, announce, sizeof announce, 0);
    /* part of a frame, then the end of the stream */
    raw_start(&trunc, &l.loop, port, cut, sizeof cut, 1);
    /* half a header, then nothing: the frame times out */
    raw_start(&slow, &l.loop, port, started, sizeof started, 0);
    /* a whole frame: answered, then finished by the server */
    raw_start(&good, &l.loop, port, whole, sizeof whole, 0);
    /* nothing at all: no frame begun, so no frame deadline */
    raw_start(&silent, &l.loop, port, whole, 0, 0);
    tloop_run(&l);
    CHECK(st.closed == 5 && st.frames == 1);
    CHECK(uv_now(&l.loop) - t0 >= REJECT_TIMEOUT_MS);
    CHECK(count_why(&st, "frame too large") == 1 && count_why(&st, "truncated frame") == 1);
    CHECK(count_why(&st, "frame timed out") == 1 && count_why(&st, "done") == 1);
    CHECK(strcmp(st.why[4], "server stopped") == 0);
    /* each heard why, then the end of the stream */
    CHECK(big.hung_up && got_frame(&big, "frame too large"));
    CHECK(trunc.hung_up && got_frame(&trunc, "truncated frame"));
    CHECK(slow.hung_up && got_frame(&slow, "frame timed out"));
    CHECK(good.hung_up && got_frame(&good, "ok"));
    CHECK(silent.hung_up && silent.ngot == 0);
}

/* finish: everything queued arrives, then the end of the stream. */
#define FINISH_FRAME (1u << 20)
#define FINISH_FRAMES 6

typedef struct {
    fkex_server *server;
    int frames, client_closes, server_closes, paused;
    char server_why[96], client_why[96];
    uv_loop_t *loop;
    fkex_conn *client;
    uint64_t finished_at, closed_at;
} finish_state;

static void finish_server_frame(fkex_conn *c, const uint8_t *frame, size_t len)
{
    finish_state *st = fkex_conn_data(c);
    uint8_t *f = calloc(1, FINISH_FRAME);
    (void)frame;
    (void)len;
    for (int i = 0; i < FINISH_FRAMES; i++) {
        f[0] = (uint8_t)i;
        CHECK(fkex_conn_send(c, f, FINISH_FRAME) == 0);
    }
    CHECK(fkex_conn_queued(c) > 0);   /* more than the kernel took at once */
    free(f);
    st->finished_at = uv_now(st->loop);
    fkex_conn_finish(c, "bye");
}

static void finish_server_closed(fkex_conn *c, const char *why)
{
    finish_state *st = fkex_conn_data(c);
    (void)c;
    st->server_closes++;
    st->closed_at = uv_now(st->loop);
    snprintf(st->server_why, sizeof st->server_why, "%s", why);
    if (st->paused) {
        fkex_server_stop(st->server);
        fkex_conn_close(st->client, "test over");
    }
}

static void finish_accept(fkex_server *s, fkex_conn *c)
{
    fkex_conn_set(c, finish_server_frame, finish_server_closed, fkex_server_data(s));
}

static void finish_client_frame(fkex_conn *c, const uint8_t *frame, size_t len)
{
    finish_state *st = fkex_conn_data(c);
    (void)c;
    CHECK(len == FINISH_FRAME && frame[0] == (uint8_t)st->frames);
    st->frames++;
}

static void finish_client_closed(fkex_conn *c, const char *why)
{
    finish_state *st = fkex_conn_data(c);
    (void)c;
    st->client_closes++;
    snprintf(st->client_why, sizeof st->client_why, "%s", why);
    if (!st->paused)
        fkex_server_stop(st->server);
}

static void finish_run(finish_state *st, int paused)
{
    tloop l;
    char err[128], addr[128];
    fkex_net_limits lim = { 2u << 20, 16u << 20 };
    static const uint8_t go[2] = "go";
    memset(st, 0, sizeof *st);
    st->paused = paused;
    tloop_init(&l);
    st->loop = &l.loop;
    CHECK_OK(fkex_server_start(&st->server, &l.loop, "127.0.0.1:0", &lim, srv_tls, finish_accept, st, err));
    server_addr(addr, st->server);
    CHECK_OK(fkex_conn_connect(&st->client, &l.loop, addr, &lim, cli_tls, NULL, err));
    fkex_conn_set(st->client, finish_client_frame, finish_client_closed, st);
    CHECK(fkex_conn_send(st->client, go, sizeof go) == 0);
    if (paused)
        fkex_conn_pause(st->client);   /* reads nothing: the server's writes never end */
    tloop_run(&l);
}

static void finish_flushes(void)
{
    finish_state st;
    finish_run(&st, 0);
    CHECK(st.frames == FINISH_FRAMES);
    CHECK(st.client_closes == 1 && strcmp(st.client_why, "connection closed by peer") == 0);
    CHECK(st.server_closes == 1 && strcmp(st.server_why, "bye") == 0);
    /* a peer that never reads: closed by the linger timer, not later */
    finish_run(&st, 1);
    CHECK(st.server_closes == 1 && strcmp(st.server_why, "bye") == 0);
    CHECK(st.closed_at - st.finished_at >= FKEX_NET_LINGER_MS - 10);
    CHECK(st.closed_at - st.finished_at < FKEX_NET_LINGER_MS + 1000);
}

/* ---- slow reader ------------------------------------------------------------ */

#define SLOW_MAX_QUEUED (256u * 1024)
#define SLOW_FRAME (16u * 1024)

typedef struct {
    fkex_server *server;
    fkex_conn *client;
    size_t sent, max_seen, client_bytes;
    int refused, after_close, server_closes, client_closes;
    char server_why[96], client_why[96];
} slow_state;

static void slow_server_closed(fkex_conn *c, const char *why)
{
    slow_state *st = fkex_conn_data(c);
    st->server_closes++;
    snprintf(st->server_why, sizeof st->server_why, "%s", why);
    /* Now let the client drain what the kernel holds, and see the end. */
    fkex_conn_resume(st->client);
}

/* The client asks; the server floods it while it does not read. */
static void slow_server_frame(fkex_conn *c, const uint8_t *frame, size_t len)
{
    slow_state *st = fkex_conn_data(c);
    uint8_t *f = calloc(1, SLOW_FRAME);
    (void)frame;
    (void)len;
    for (int i = 0; i < 100000; i++) {
        if (fkex_conn_send(c, f, SLOW_FRAME) != 0) {
            st->refused = 1;
            break;
        }
        st->sent++;
        if (fkex_conn_queued(c) > st->max_seen)
            st->max_seen = fkex_conn_queued(c);
    }
    st->after_close = fkex_conn_send(c, f, 1);
    free(f);
}

static void slow_accept(fkex_server *s, fkex_conn *c)
{
    fkex_conn_set(c, slow_server_frame, slow_server_closed, fkex_server_data(s));
}

static void slow_client_frame(fkex_conn *c, const uint8_t *frame, size_t len)
{
    slow_state *st = fkex_conn_data(c);
    (void)frame;
    st->client_bytes += 4 + len;
}

static void slow_client_closed(fkex_conn *c, const char *why)
{
    slow_state *st = fkex_conn_data(c);
    st->client_closes++;
    snprintf(st->client_why, sizeof st->client_why, "%s", why);
    fkex_server_stop(st->server);
}

static void slow_reader(void)
{
    tloop l;
    slow_state st;
    char err[128], addr[128];
    fkex_net_limits lim = { 1u << 20, SLOW_MAX_QUEUED };
    static const uint8_t go[2] = "go";
    memset(&st, 0, sizeof st);
    tloop_init(&l);
    CHECK_OK(fkex_server_start(&st.server, &l.loop, "127.0.0.1:0", &lim, srv_tls, slow_accept, &st, err));
    server_addr(addr, st.server);
    CHECK_OK(fkex_conn_connect(&st.client, &l.loop, addr, &lim, cli_tls, NULL, err));
    fkex_conn_set(st.client, slow_client_frame, slow_client_closed, &st);
    fkex_conn_pause(st.client);                        /* before it ever reads */
    CHECK(fkex_conn_send(st.client, go, sizeof go) == 0);  /* queued until connected */
    tloop_run(&l);
    CHECK(st.refused);
    CHECK(st.after_close == -1);
    CHECK(st.max_seen <= SLOW_MAX_QUEUED);
    CHECK(st.max_seen > SLOW_MAX_QUEUED - (4 + SLOW_FRAME));   /* it did fill up */
    CHECK(st.server_closes == 1 && strcmp(st.server_why, "slow reader") == 0);
    CHECK(st.client_closes == 1);
    /* The client got at most what was sent (the queue was dropped at close). */
    CHECK(st.client_bytes <= st.sent * (4 + SLOW_FRAME));
    CHECK(st.client_bytes > 0);
}

/* ---- shared frames: one block for many connections, one of them cut off ---- */

#define SHARED_FRAME (1u << 20)
#define SHARED_FRAMES 24
#define SHARED_MAX_QUEUED (3u << 20)

typedef struct {
    fkex_server *server;
    fkex_conn *slow, *fast;          /* the clients */
    fkex_conn *to_slow, *to_fast;    /* their server sides (to_slow: while it takes frames) */
    fkex_conn *slow_side;            /* until it closes */
    int next, slow_cut, fast_frames, bad, slow_closes;
    size_t max_queued_seen;
    char slow_why[96];
} shared_state;

/* The next frame, as one block queued to both clients. */
static void shared_push(shared_state *st)
{
    fkex_frame_buf *b = fkex_frame_buf_new(SHARED_FRAME);
    CHECK(b != NULL);
    if (!b)
        return;
    memset(fkex_frame_buf_body(b), st->next & 0xff, SHARED_FRAME);
    st->next++;
    if (st->to_slow && fkex_conn_queue(st->to_slow, b) != 0) {
        st->slow_cut = 1;
        st->to_slow = NULL;
    }
    if (st->to_slow && fkex_conn_queued(st->to_slow) > st->max_queued_seen)
        st->max_queued_seen = fkex_conn_queued(st->to_slow);
    CHECK(fkex_conn_queue(st->to_fast, b) == 0);
    fkex_frame_buf_unref(b);   /* the queues hold it now */
    fkex_server_flush(st->server);
}

static void shared_server_frame(fkex_conn *c, const uint8_t *frame, size_t len)
{
    shared_state *st = fkex_conn_data(c);
    int hello;
    if (len != 1)
        return;
    hello = frame[0] == 's' || frame[0] == 'f';
    if (frame[0] == 's')
        st->to_slow = st->slow_side = c;
    else if (frame[0] == 'f')
        st->to_fast = c;
    /* The first block once both are here; then one per 'n' from the reader. */
    if ((hello && st->to_slow && st->to_fast && st->next == 0) ||
        (frame[0] == 'n' && st->next < SHARED_FRAMES))
        shared_push(st);
}

static void shared_server_closed(fkex_conn *c, const char *why)
{
    shared_state *st = fkex_conn_data(c);
    if (c == st->slow_side) {
        snprintf(st->slow_why, sizeof st->slow_why, "%s", why);
        st->to_slow = st->slow_side = NULL;
    }
}

static void shared_accept(fkex_server *s, fkex_conn *c)
{
    fkex_conn_set(c, shared_server_frame, shared_server_closed, fkex_server_data(s));
}

static void shared_fast_frame(fkex_conn *c, const uint8_t *frame, size_t len)
{
    shared_state *st = fkex_conn_data(c);
    static const uint8_t more = 'n';
    int ok = len == SHARED_FRAME;
    for (size_t i = 0; ok && i < len; i += 4093)
        ok = frame[i] == (st->fast_frames & 0xff);
    if (!ok || frame[len - 1] != (st->fast_frames & 0xff))
        st->bad++;
    if (++st->fast_frames < SHARED_FRAMES) {
        (void)fkex_conn_send(c, &more, 1);
        return;
    }
    fkex_conn_close(c, "done");
    fkex_server_stop(st->server);
    fkex_conn_resume(st->slow);   /* let it see the end */
}

static void shared_fast_closed(fkex_conn *c, const char *why)
{
    (void)c;
    (void)why;
}

static void shared_slow_frame(fkex_conn *c, const uint8_t *frame, size_t len)
{
    (void)c;
    (void)frame;
    (void)len;
}

static void shared_slow_closed(fkex_conn *c, const char *why)
{
    shared_state *st = fkex_conn_data(c);
    (void)why;
    st->slow_closes++;
}

/* One block goes to a reader and to a client that never reads; the latter
 * is cut off with its writes in flight, and the reader still gets every
 * byte of every block (under ASan: no block is freed while referenced). */
static void shared_frames(void)
{
    tloop l;
    shared_state st;
    char err[128], addr[128];
    fkex_net_limits lim = { 2u << 20, SHARED_MAX_QUEUED };
    static const uint8_t s = 's', f = 'f';
    memset(&st, 0, sizeof st);
    tloop_init(&l);
    CHECK_OK(fkex_server_start(&st.server, &l.loop, "127.0.0.1:0", &lim, srv_tls, shared_accept, &st, err));
    server_addr(addr, st.server);
    CHECK_OK(fkex_conn_connect(&st.slow, &l.loop, addr, &lim, cli_tls, NULL, err));
    fkex_conn_set(st.slow, shared_slow_frame, shared_slow_closed, &st);
    fkex_conn_pause(st.slow);
    CHECK(fkex_conn_send(st.slow, &s, 1) == 0);
    CHECK_OK(fkex_conn_connect(&st.fast, &l.loop, addr, &lim, cli_tls, NULL, err));
    fkex_conn_set(st.fast, shared_fast_frame, shared_fast_closed, &st);
    CHECK(fkex_conn_send(st.fast, &f, 1) == 0);
    tloop_run(&l);
    CHECK(st.fast_frames == SHARED_FRAMES);
    CHECK(st.bad == 0);
    CHECK(st.slow_cut);
    CHECK(strcmp(st.slow_why, "slow reader") == 0);
    CHECK(st.max_queued_seen <= SHARED_MAX_QUEUED);
    CHECK(st.slow_closes == 1);
}

/* Frames queued in one turn leave in order, with a plain send after them. */
typedef struct {
    fkex_server *server;
    fkex_conn *client;
    int got, bad;
} order_state;

static void order_server_frame(fkex_conn *c, const uint8_t *frame, size_t len)
{
    order_state *st = fkex_conn_data(c);
    uint8_t last = 200;
    (void)frame;
    (void)len;
    for (uint8_t i = 0; i < 200; i++) {
        fkex_frame_buf *b = fkex_frame_buf_new(1);
        CHECK(b != NULL);
        if (!b)
            return;
        fkex_frame_buf_body(b)[0] = i;
        CHECK(fkex_conn_queue(c, b) == 0);
        fkex_frame_buf_unref(b);
    }
    CHECK(fkex_conn_send(c, &last, 1) == 0);   /* flushes what is queued first */
    (void)st;
}

static void order_accept(fkex_server *s, fkex_conn *c)
{
    fkex_conn_set(c, order_server_frame, NULL, fkex_server_data(s));
}

static void order_client_frame(fkex_conn *c, const uint8_t *frame, size_t len)
{
    order_state *st = fkex_conn_data(c);
    if (len != 1 || frame[0] != st->got)
        st->bad++;
    if (++st->got == 201) {
        fkex_conn_close(c, "done");
        fkex_server_stop(st->server);
    }
}

static void queue_order(void)
{
    tloop l;
    order_state st;
    char err[128], addr[128];
    static const uint8_t go = 'g';
    memset(&st, 0, sizeof st);
    tloop_init(&l);
    CHECK_OK(fkex_server_start(&st.server, &l.loop, "127.0.0.1:0", NULL, srv_tls, order_accept, &st, err));
    server_addr(addr, st.server);
    CHECK_OK(fkex_conn_connect(&st.client, &l.loop, addr, NULL, cli_tls, NULL, err));
    fkex_conn_set(st.client, order_client_frame, NULL, &st);
    CHECK(fkex_conn_send(st.client, &go, 1) == 0);
    tloop_run(&l);
    CHECK(st.got == 201);
    CHECK(st.bad == 0);
}

/* ---- pause inside on_frame holds the rest of the read, in order ------------ */

typedef struct {
    fkex_server *server;
    fkex_conn *client;
    uv_timer_t timer;
    uint32_t next;
    int bad, pauses, paused_now;
} hold_state;

static void hold_resume(uv_timer_t *t)
{
    hold_state *st = t->data;
    st->paused_now = 0;
    fkex_conn_resume(st->client);
}

static void hold_frame(fkex_conn *c, const uint8_t *frame, size_t len)
{
    hold_state *st = fkex_conn_data(c);
    if (len != 4 || load32_be(frame) != st->next || st->paused_now)
        st->bad++;
    st->next++;
    if (st->next % 10 == 0 && st->pauses < 50) {
        /* Pause in the middle of a read; a timer resumes. */
        st->pauses++;
        st->paused_now = 1;
        fkex_conn_pause(c);
        uv_timer_start(&st->timer, hold_resume, 1, 0);
    }
    if (st->next == 200) {
        fkex_conn_close(c, "done");
        uv_close((uv_handle_t *)&st->timer, NULL);
        fkex_server_stop(st->server);
    }
}

static void hold_accept(fkex_server *s, fkex_conn *c)
{
    (void)s;
    for (uint32_t i = 0; i < 200; i++) {
        uint8_t f[4];
        store32_be(f, i);
        CHECK(fkex_conn_send(c, f, 4) == 0);
    }
}

static void pause_in_frame(void)
{
    tloop l;
    hold_state st;
    char err[128], addr[128];
    memset(&st, 0, sizeof st);
    tloop_init(&l);
    CHECK(uv_timer_init(&l.loop, &st.timer) == 0);
    st.timer.data = &st;
    CHECK_OK(fkex_server_start(&st.server, &l.loop, "127.0.0.1:0", NULL, srv_tls, hold_accept, &st, err));
    server_addr(addr, st.server);
    CHECK_OK(fkex_conn_connect(&st.client, &l.loop, addr, NULL, cli_tls, NULL, err));
    fkex_conn_set(st.client, hold_frame, NULL, &st);
    tloop_run(&l);
    CHECK(st.next == 200 && st.bad == 0);
    CHECK(st.pauses > 0);
}

/* ---- refused, silent, and the one-shot request ------------------------------ */

typedef struct {
    int status, connected_calls, closes;
    char why[96];
} refused_state;

static void refused_connected(fkex_conn *c, int status)
{
    refused_state *st = fkex_conn_data(c);
    st->status = status;
    st->connected_calls++;
}

static void refused_closed(fkex_conn *c, const char *why)
{
    refused_state *st = fkex_conn_data(c);
    st->closes++;
    snprintf(st->why, sizeof st->why, "%s", why);
}

/* A port that was just free: listen on port 0, stop. */
static uint16_t closed_port(void)
{
    tloop l;
    fkex_server *s;
    char err[128];
    uint16_t port = 0;
    tloop_init(&l);
    CHECK_OK(fkex_server_start(&s, &l.loop, "127.0.0.1:0", NULL, srv_tls, NULL, NULL, err));
    port = fkex_server_port(s);
    fkex_server_stop(s);
    tloop_run(&l);
    return port;
}

static void refused(void)
{
    tloop l;
    refused_state st;
    fkex_conn *c;
    char err[128], addr[128];
    uint8_t *reply = NULL;
    size_t replylen = 0;
    snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)closed_port());

    err[0] = 0;
    CHECK_ERR(fkex_net_request(&reply, &replylen, addr, (const uint8_t *)"hi", 2, NULL, cli_tls, 2000, err), FKEX_ERR_IO);
    CHECK(strcmp(err, "connection refused") == 0);
    CHECK(reply == NULL);

    memset(&st, 0, sizeof st);
    tloop_init(&l);
    CHECK_OK(fkex_conn_connect(&c, &l.loop, addr, NULL, cli_tls, refused_connected, err));
    fkex_conn_set(c, NULL, refused_closed, &st);
    tloop_run(&l);
    CHECK(st.connected_calls == 1 && st.status == UV_ECONNREFUSED);
    CHECK(st.closes == 1 && strcmp(st.why, "connection refused") == 0);
}

static void bad_addresses(void)
{
    static const char *bad[] = { "", "127.0.0.1", "127.0.0.1:", ":80", "localhost:80", "127.0.0.1:65536",
                                 "127.0.0.1:-1", "127.0.0.1:8x", "::1:80", "[::1]80", "[::1", "1.2.3:80",
                                 "127.0.0.1:123456", "x@127.0.0.1:80", "@127.0.0.1:80",
                                 "a.b@c.d@127.0.0.1:80", "localhost@127.0.0.1:80" };
    tloop l;
    char err[128];
    tloop_init(&l);
    for (size_t i = 0; i < FKEX_ARRAY_LEN(bad); i++) {
        fkex_server *s = (fkex_server *)1;
        fkex_conn *c = (fkex_conn *)1;
        err[0] = 0;
        CHECK_ERR(fkex_server_start(&s, &l.loop, bad[i], NULL, srv_tls, NULL, NULL, err), FKEX_ERR_ARGUMENT);
        CHECK(s == NULL && strstr(err, "bad address") != NULL);
        CHECK_ERR(fkex_conn_connect(&c, &l.loop, bad[i], NULL, cli_tls, NULL, err), FKEX_ERR_ARGUMENT);
        CHECK(c == NULL);
    }
    /* Port 0 is for listening only. */
    fkex_conn *c;
    CHECK_ERR(fkex_conn_connect(&c, &l.loop, "127.0.0.1:0", NULL, cli_tls, NULL, err), FKEX_ERR_ARGUMENT);
    /* IPv6, and a port already taken. */
    fkex_server *s6 = NULL, *s, *s2;
    if (fkex_server_start(&s6, &l.loop, "[::1]:0", NULL, srv_tls, NULL, NULL, err) == FKEX_OK) {
        CHECK(fkex_server_port(s6) != 0);
        fkex_server_stop(s6);
    }
    CHECK_OK(fkex_server_start(&s, &l.loop, "127.0.0.1:0", NULL, srv_tls, NULL, NULL, err));
    char addr[128];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)fkex_server_port(s));
    CHECK_ERR(fkex_server_start(&s2, &l.loop, addr, NULL, srv_tls, NULL, NULL, err), FKEX_ERR_IO);
    CHECK(strstr(err, "address already in use") != NULL);
    fkex_server_stop(s);
    tloop_run(&l);
}

/* A server on a loop nobody runs: the kernel accepts, nobody answers. */
static void request_timeout(void)
{
    tloop l;
    fkex_server *s;
    char err[128], addr[128];
    uint8_t *reply = NULL;
    size_t replylen = 0;
    tloop_init(&l);
    CHECK_OK(fkex_server_start(&s, &l.loop, "127.0.0.1:0", NULL, srv_tls, NULL, NULL, err));
    server_addr(addr, s);
    uint64_t t0 = uv_hrtime();
    CHECK_ERR(fkex_net_request(&reply, &replylen, addr, (const uint8_t *)"hi", 2, NULL, cli_tls, 200, err), FKEX_ERR_IO);
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    CHECK(strcmp(err, "timed out") == 0);
    CHECK(ms >= 150 && ms < 5000);
    CHECK(reply == NULL);
    fkex_server_stop(s);
    tloop_run(&l);
}

/* An echo server on its own thread, for fkex_net_request. */
typedef struct {
    tloop l;
    fkex_server *server;
    uv_async_t stop;
    int hang_up;             /* close every connection at once instead of echoing */
} echo_thread;

static void echo_thread_accept(fkex_server *s, fkex_conn *c)
{
    echo_thread *t = fkex_server_data(s);
    if (t->hang_up)
        fkex_conn_close(c, "go away");
    else
        fkex_conn_set(c, echo_frame, NULL, NULL);
}

static void echo_thread_stop(uv_async_t *a)
{
    echo_thread *t = a->data;
    fkex_server_stop(t->server);
    uv_close((uv_handle_t *)a, NULL);
}

static void echo_thread_main(void *arg)
{
    echo_thread *t = arg;
    tloop_run(&t->l);
}

static void echo_thread_start(echo_thread *t, uv_thread_t *tid, char addr[128], int hang_up)
{
    char err[128];
    memset(t, 0, sizeof *t);
    t->hang_up = hang_up;
    tloop_init(&t->l);
    CHECK_OK(fkex_server_start(&t->server, &t->l.loop, "127.0.0.1:0", NULL, srv_tls, echo_thread_accept, t, err));
    CHECK(uv_async_init(&t->l.loop, &t->stop, echo_thread_stop) == 0);
    t->stop.data = t;
    server_addr(addr, t->server);
    CHECK(uv_thread_create(tid, echo_thread_main, t) == 0);
}

/* A request far larger than the socket buffers, to a server that hangs up:
 * the writes fail (EPIPE or a reset), and with SIGPIPE at its default the
 * process must survive it. */
static void request_sigpipe(void)
{
    echo_thread t;
    uv_thread_t tid;
    char err[128], addr[128];
    size_t n = 6u << 20, replylen;
    uint8_t *req = calloc(1, n), *reply = NULL;
    echo_thread_start(&t, &tid, addr, 1);
    signal(SIGPIPE, SIG_DFL);
    for (int i = 0; i < 3; i++) {
        err[0] = 0;
        CHECK_ERR(fkex_net_request(&reply, &replylen, addr, req, n, NULL, cli_tls, 5000, err), FKEX_ERR_IO);
        CHECK(err[0] != 0 && reply == NULL);
    }
    signal(SIGPIPE, SIG_IGN);
    uv_async_send(&t.stop);
    CHECK(uv_thread_join(&tid) == 0);
    free(req);
}

static void request_reply(void)
{
    echo_thread t;
    uv_thread_t tid;
    char err[128], addr[128];
    uint8_t *reply = NULL, req[3000];
    size_t replylen = 0;
    fkex_net_limits small = { 1000, 1u << 20 };
    fill(req, sizeof req, 7);
    echo_thread_start(&t, &tid, addr, 0);

    CHECK_OK(fkex_net_request(&reply, &replylen, addr, req, 1000, NULL, cli_tls, 5000, err));
    CHECK(replylen == 1000 && reply && memcmp(reply, req, 1000) == 0);
    free(reply);
    reply = NULL;
    CHECK_OK(fkex_net_request(&reply, &replylen, addr, req, 0, NULL, cli_tls, 5000, err));
    CHECK(replylen == 0 && reply != NULL);
    free(reply);
    reply = NULL;
    /* A reply larger than the caller's max_frame. */
    CHECK_ERR(fkex_net_request(&reply, &replylen, addr, req, sizeof req, &small, cli_tls, 5000, err), FKEX_ERR_IO);
    CHECK(strcmp(err, "frame too large") == 0 && reply == NULL);

    uv_async_send(&t.stop);
    CHECK(uv_thread_join(&tid) == 0);
}

/* ---- stopping a server with live connections ----------------------------- */

#define NCLIENTS 5

typedef struct {
    fkex_server *server;
    int frames, server_closes, client_closes, stopped_reasons;
} stop_state;

static void stop_server_closed(fkex_conn *c, const char *why)
{
    stop_state *st = fkex_conn_data(c);
    st->server_closes++;
    st->stopped_reasons += strcmp(why, "server stopped") == 0;
}

static void stop_frame(fkex_conn *c, const uint8_t *frame, size_t len)
{
    stop_state *st = fkex_conn_data(c);
    (void)frame;
    (void)len;
    if (++st->frames == NCLIENTS)
        fkex_server_stop(st->server);   /* from inside a callback of one of its connections */
}

static void stop_accept(fkex_server *s, fkex_conn *c)
{
    fkex_conn_set(c, stop_frame, stop_server_closed, fkex_server_data(s));
}

static void stop_client_closed(fkex_conn *c, const char *why)
{
    stop_state *st = fkex_conn_data(c);
    (void)why;
    st->client_closes++;
}

static void stop_with_live_conns(void)
{
    tloop l;
    stop_state st;
    char err[128], addr[128];
    fkex_conn *c[NCLIENTS];
    memset(&st, 0, sizeof st);
    tloop_init(&l);
    CHECK_OK(fkex_server_start(&st.server, &l.loop, "127.0.0.1:0", NULL, srv_tls, stop_accept, &st, err));
    server_addr(addr, st.server);
    for (int i = 0; i < NCLIENTS; i++) {
        CHECK_OK(fkex_conn_connect(&c[i], &l.loop, addr, NULL, cli_tls, NULL, err));
        fkex_conn_set(c[i], NULL, stop_client_closed, &st);
        CHECK(fkex_conn_send(c[i], (const uint8_t *)"x", 1) == 0);
    }
    tloop_run(&l);       /* returns: every handle closed */
    CHECK(st.frames == NCLIENTS);
    CHECK(st.server_closes == NCLIENTS && st.stopped_reasons == NCLIENTS);
    CHECK(st.client_closes == NCLIENTS);
}

/* ---- TLS ------------------------------------------------------------------- */

typedef struct {
    fkex_server *server;
    int accepted, frames, server_closes, client_closes, connected;
    char server_why[160], client_why[160];
} tls_state;

static void tls_server_frame(fkex_conn *c, const uint8_t *frame, size_t len)
{
    tls_state *st = fkex_conn_data(c);
    CHECK(len == 6 && memcmp(frame, "secret", 6) == 0);
    st->frames++;
    fkex_conn_finish(c, "received");   /* the test is over once a frame came */
}

static void tls_server_closed(fkex_conn *c, const char *why)
{
    tls_state *st = fkex_conn_data(c);
    st->server_closes++;
    snprintf(st->server_why, sizeof st->server_why, "%s", why);
    fkex_server_stop(st->server);
}

static void tls_accept(fkex_server *s, fkex_conn *c)
{
    tls_state *st = fkex_server_data(s);
    st->accepted++;
    fkex_conn_set(c, tls_server_frame, tls_server_closed, st);
}

static void tls_client_closed(fkex_conn *c, const char *why)
{
    tls_state *st = fkex_conn_data(c);
    st->client_closes++;
    snprintf(st->client_why, sizeof st->client_why, "%s", why);
}

static void tls_connected(fkex_conn *c, int status)
{
    tls_state *st = fkex_conn_data(c);
    (void)status;
    st->connected++;
}

/* A client dials addr with client (NULL: plain TCP) and sends a frame at
 * once, before any handshake; the server listens with server. */
static void tls_dial(tls_state *st, const fkex_tls *server, const fkex_tls *client,
                     const char *addr_fmt)
{
    tloop l;
    fkex_conn *c;
    char err[128], bound[128], addr[200];
    memset(st, 0, sizeof *st);
    tloop_init(&l);
    CHECK_OK(fkex_server_start(&st->server, &l.loop, "127.0.0.1:0", NULL, server, tls_accept, st, err));
    fkex_server_bound(bound, sizeof bound, st->server, "127.0.0.1:0");
    snprintf(addr, sizeof addr, addr_fmt, strchr(bound, '@') ? strchr(bound, '@') + 1 : bound);
    CHECK_OK(fkex_conn_connect(&c, &l.loop, addr, NULL, client, tls_connected, err));
    fkex_conn_set(c, NULL, tls_client_closed, st);
    CHECK(fkex_conn_send(c, (const uint8_t *)"secret", 6) == 0);
    tloop_run(&l);
}

/* A server with another key than the one pinned: the client refuses it
 * in the handshake, says why, and the frame it queued never leaves. The
 * same for a man in the middle, who can only present his own key. */
static void tls_wrong_pin(void)
{
    tls_state st;
    char fmt[128], pin[FKEX_PIN_TEXT_LEN + 1];
    uint8_t other[FKEX_PIN_BYTES];
    fkex_tls_pin(srv_tls, other);
    other[0] ^= 1;
    fkex_pin_text(pin, other);
    snprintf(fmt, sizeof fmt, "%s@%%s", pin);
    tls_dial(&st, srv_tls, cli_tls, fmt);
    CHECK(st.connected == 0 && st.frames == 0);
    CHECK(st.client_closes == 1 && strstr(st.client_why, "is not the one pinned") != NULL);
    CHECK(st.server_closes == 1 && strstr(st.server_why, "TLS handshake failed") != NULL);
}

/* Downgrades: a TLS client meets a plaintext server (or one that strips
 * TLS), a plaintext client meets a TLS server: neither goes on, and no
 * frame is delivered to either side's application. */
static void tls_downgrade(void)
{
    tls_state st;
    tls_dial(&st, NULL, cli_tls, "%s");
    CHECK(st.connected == 0 && st.client_closes == 1);
    CHECK(strstr(st.client_why, "TLS") != NULL || strstr(st.client_why, "closed") != NULL);
    tls_dial(&st, srv_tls, NULL, "%s");
    CHECK(st.frames == 0 && st.server_closes == 1 && strstr(st.server_why, "TLS handshake failed"));
    CHECK(st.client_closes == 1);
}

/* An unpinned endpoint (made before servers had keys) is encrypted and
 * not authenticated: it connects, and a frame arrives. */
static void tls_unpinned(void)
{
    tls_state st;
    tls_dial(&st, srv_tls, cli_tls, "%s");
    CHECK(st.connected == 1 && st.frames == 1);
}

/* A connection that never finishes its handshake (silent, or half a
 * ClientHello) is cut off on the frame timeout, and a client beside it is
 * served all the while. */
typedef struct {
    fkex_server *server;
    int closes, timed_out;
} hs_state;

static void hs_closed(fkex_conn *c, const char *why)
{
    hs_state *st = fkex_conn_data(c);
    st->closes++;
    st->timed_out += strcmp(why, "handshake timed out") == 0;
    if (st->closes == 2)
        fkex_server_stop(st->server);
}

static void hs_accept(fkex_server *s, fkex_conn *c)
{
    fkex_conn_set(c, NULL, hs_closed, fkex_server_data(s));
}

static void tls_handshake_timeout(void)
{
    static const uint8_t half_hello[] = { 0x16, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0xfc };
    tloop l;
    hs_state st = { 0 };
    raw_client silent, half;
    char err[128];
    tloop_init(&l);
    CHECK_OK(fkex_server_start(&st.server, &l.loop, "127.0.0.1:0", NULL, srv_tls, hs_accept, &st, err));
    fkex_server_set_frame_timeout(st.server, 200);
    uint64_t t0 = uv_hrtime();
    raw_start(&silent, &l.loop, fkex_server_port(st.server), NULL, 0, 0);
    raw_start(&half, &l.loop, fkex_server_port(st.server), half_hello, sizeof half_hello, 0);
    tloop_run(&l);
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    CHECK(st.closes == 2 && st.timed_out == 2);
    CHECK(silent.hung_up && half.hung_up);
    CHECK(ms >= 150 && ms < 5000);
}

/* The server's key file: made once (mode 0600), the same pin after, and
 * refused when others may read it or it holds no key. */
static void tls_key_file(void)
{
    char path[600], err[160];
    uint8_t a[FKEX_PIN_BYTES], b[FKEX_PIN_BYTES], c[FKEX_PIN_BYTES];
    fkex_tls *t1 = NULL, *t2 = NULL, *t3 = NULL;
    struct stat sb;
    int created = -1;
    snprintf(path, sizeof path, "%s/tls-key-file.key", test_tmpdir());
    unlink(path);
    CHECK_OK(fkex_tls_server_new(&t1, path, &created, err));
    CHECK(created == 1 && stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    CHECK_OK(fkex_tls_server_new(&t2, path, &created, err));
    CHECK(created == 0);
    fkex_tls_pin(t1, a);
    fkex_tls_pin(t2, b);
    CHECK_OK(fkex_tls_key_pin(c, path, err));
    CHECK(memcmp(a, b, 32) == 0 && memcmp(a, c, 32) == 0);
    CHECK(chmod(path, 0644) == 0);
    CHECK_ERR(fkex_tls_server_new(&t3, path, &created, err), FKEX_ERR_IO);
    CHECK(t3 == NULL && strstr(err, "can be read by others") != NULL);
    CHECK(unlink(path) == 0);
    FILE *f = fopen(path, "w");
    CHECK(f && fputs("not a key\n", f) >= 0 && fclose(f) == 0 && chmod(path, 0600) == 0);
    CHECK_ERR(fkex_tls_server_new(&t3, path, &created, err), FKEX_ERR_BAD_ENCODING);
    fkex_tls_free(t1);
    fkex_tls_free(t2);
}

/* An operator's certificate from a certificate authority: a client that
 * names the server checks the chain and the name, and refuses another
 * name, a chain it does not trust, and a key that is not the
 * certificate's. (The CA and the certificate are made by openssl(1).) */
static void tls_named(void)
{
    char dir[600], ca[700], cert[700], key[700], other[700], err[160];
    fkex_tls *server = NULL, *client = NULL, *wrong = NULL;
    tls_state st;
    const char *old = getenv("SSL_CERT_FILE");
    snprintf(dir, sizeof dir, "%s/tls-named", test_tmpdir());
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    snprintf(cert, sizeof cert, "%s/server.pem", dir);
    snprintf(key, sizeof key, "%s/server.key", dir);
    snprintf(other, sizeof other, "%s/other.key", dir);
    if (tls_test_ca(dir) != 0) {
        CHECK(!"openssl(1) made the test's certificates");
        return;
    }
    CHECK_OK(fkex_tls_server_cert_new(&server, cert, key, err));
    CHECK_ERR(fkex_tls_server_cert_new(&wrong, cert, other, err), FKEX_ERR_ARGUMENT);
    CHECK(wrong == NULL && strstr(err, "is not the one of the certificate") != NULL);
    setenv("SSL_CERT_FILE", ca, 1);
    CHECK_OK(fkex_tls_client_new(&client, err));
    if (old)
        setenv("SSL_CERT_FILE", old, 1);
    else
        unsetenv("SSL_CERT_FILE");
    tls_dial(&st, server, client, "relay.fkex.test@%s");
    CHECK(st.connected == 1 && st.frames == 1);
    tls_dial(&st, server, client, "other.fkex.test@%s");
    CHECK(st.connected == 0 && st.frames == 0 && strstr(st.client_why, "does not verify") != NULL);
    tls_dial(&st, server, cli_tls, "relay.fkex.test@%s");   /* the system's CAs do not know it */
    CHECK(st.connected == 0 && st.frames == 0 && strstr(st.client_why, "does not verify") != NULL);
    fkex_tls_free(server);
    fkex_tls_free(client);
}

/* The server sends three frames and finishes (with TLS: close_notify
 * behind them, often in the same read); the client pauses on the first:
 * the others are held, delivered after resume, and only then does the
 * connection end, for the reason the peer gave. */
typedef struct {
    fkex_server *server;
    int frames, closes;
    char why[160];
    uv_timer_t timer;
    fkex_conn *client;
} pc_state;

static void pc_server_frame(fkex_conn *c, const uint8_t *frame, size_t len)
{
    (void)frame;
    (void)len;
    CHECK(fkex_conn_send(c, (const uint8_t *)"one", 3) == 0);
    CHECK(fkex_conn_send(c, (const uint8_t *)"two", 3) == 0);
    CHECK(fkex_conn_send(c, (const uint8_t *)"three", 5) == 0);
    fkex_conn_finish(c, "bye");
}

static void pc_accept(fkex_server *s, fkex_conn *c)
{
    fkex_conn_set(c, pc_server_frame, NULL, fkex_server_data(s));
}

static void pc_resume(uv_timer_t *t)
{
    pc_state *st = t->data;
    fkex_conn_resume(st->client);
    uv_close((uv_handle_t *)t, NULL);
}

static void pc_client_frame(fkex_conn *c, const uint8_t *frame, size_t len)
{
    pc_state *st = fkex_conn_data(c);
    static const char *const want[] = { "one", "two", "three" };
    CHECK(st->frames < 3 && len == strlen(want[st->frames]) && memcmp(frame, want[st->frames], len) == 0);
    if (++st->frames == 1) {
        fkex_conn_pause(c);
        uv_timer_start(&st->timer, pc_resume, 100, 0);
    }
}

static void pc_client_closed(fkex_conn *c, const char *why)
{
    pc_state *st = fkex_conn_data(c);
    st->closes++;
    snprintf(st->why, sizeof st->why, "%s", why);
    fkex_server_stop(st->server);
}

static void pause_then_end(void)
{
    tloop l;
    pc_state st;
    char err[128], addr[128];
    memset(&st, 0, sizeof st);
    tloop_init(&l);
    CHECK(uv_timer_init(&l.loop, &st.timer) == 0);
    st.timer.data = &st;
    CHECK_OK(fkex_server_start(&st.server, &l.loop, "127.0.0.1:0", NULL, srv_tls, pc_accept, &st, err));
    server_addr(addr, st.server);
    CHECK_OK(fkex_conn_connect(&st.client, &l.loop, addr, NULL, cli_tls, NULL, err));
    fkex_conn_set(st.client, pc_client_frame, pc_client_closed, &st);
    CHECK(fkex_conn_send(st.client, (const uint8_t *)"go", 2) == 0);
    tloop_run(&l);
    CHECK(st.frames == 3 && st.closes == 1);
    CHECK(strcmp(st.why, "connection closed by peer") == 0);
}

/* The socket cases, run over plain TCP and then over TLS. */
static const struct {
    const char *name;
    void (*fn)(void);
} socket_cases[] = {
    { "echo", echo }, { "finish_flushes", finish_flushes }, { "slow_reader", slow_reader },
    { "shared_frames", shared_frames }, { "queue_order", queue_order },
    { "pause_in_frame", pause_in_frame }, { "refused", refused },
    { "bad_addresses", bad_addresses }, { "request_timeout", request_timeout },
    { "request_reply", request_reply }, { "request_sigpipe", request_sigpipe },
    { "stop_with_live_conns", stop_with_live_conns }, { "pause_then_end", pause_then_end },
};

void suite_net(void)
{
    /* Writes to a peer that has gone raise SIGPIPE; the daemons ignore it too. */
    signal(SIGPIPE, SIG_IGN);
    RUN(parser_splits);
    RUN(parser_limits);
    /* bytes on the wire, exactly: plain TCP only */
    RUN(frame_too_large);
    RUN(reject_reasons);
    for (size_t i = 0; i < FKEX_ARRAY_LEN(socket_cases); i++)
        test_run(socket_cases[i].name, socket_cases[i].fn);

    char key[600], err[160], name[64];
    int created;
    snprintf(key, sizeof key, "%s/net.key", test_tmpdir());
    if (fkex_tls_server_new(&srv_tls, key, &created, err) != FKEX_OK ||
        fkex_tls_client_new(&cli_tls, err) != FKEX_OK) {
        fprintf(stderr, "    cannot set up TLS: %s\n", err);
        CHECK(0);
        return;
    }
    for (size_t i = 0; i < FKEX_ARRAY_LEN(socket_cases); i++) {
        snprintf(name, sizeof name, "tls_%s", socket_cases[i].name);
        test_run(name, socket_cases[i].fn);
    }
    RUN(tls_wrong_pin);
    RUN(tls_downgrade);
    RUN(tls_unpinned);
    RUN(tls_handshake_timeout);
    RUN(tls_key_file);
    RUN(tls_named);
    fkex_tls_free(srv_tls);
    fkex_tls_free(cli_tls);
    srv_tls = cli_tls = NULL;
}
