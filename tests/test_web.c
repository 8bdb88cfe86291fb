/*
 * The relay's browser side: WebSocket frames (src/net/ws.c), HTTP request
 * heads and the web client's files (src/net/http.c), then the real daemon
 * run with --web, over TLS, played by a client that writes the bytes
 * itself (tests/tls_raw.c): the files served, a WebSocket upgraded and
 * carrying relay frames, and every rule a browser (or anyone else on that
 * port) can break answered as RFC 6455 says.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "test.h"
#include "net/http.h"
#include "net/ws.h"
#include "child.h"
#include "relay_harness.h"
#include "tls_raw.h"
#include "codec/codec.h"

/* ---- the WebSocket parser ------------------------------------------------ */

typedef struct {
    int ops[16];
    size_t lens[16];
    uint8_t last[256];
    size_t n;
    int stop_each;
} got;

static int sink(void *ctx, int opcode, const uint8_t *p, size_t len)
{
    got *g = ctx;
    if (g->n < 16) {
        g->ops[g->n] = opcode;
        g->lens[g->n] = len;
    }
    memcpy(g->last, p, len < sizeof g->last ? len : sizeof g->last);
    g->n++;
    return g->stop_each;
}

/* A client's frame: header masked with a fixed key, then the payload masked. */
static size_t client_frame(uint8_t *out, int fin, int opcode, const void *payload, size_t len)
{
    static const uint8_t mask[4] = { 0x37, 0xfa, 0x21, 0x3d };   /* RFC 6455 5.7's */
    size_t h = fkex_ws_header(out, opcode, len, mask);
    if (!fin)
        out[0] &= 0x7f;
    memcpy(out + h, payload, len);
    fkex_ws_mask(out + h, len, mask, 0);
    return h + len;
}

/* Feeds s whole, then byte by byte: both must say e, with the same frames. */
static fkex_err feed_both(const uint8_t *s, size_t n, size_t max, got *g, uint16_t *status)
{
    fkex_ws_parser a, b;
    got g2 = { 0 };
    fkex_err ea, eb = FKEX_OK;
    fkex_ws_parser_init(&a, max);
    fkex_ws_parser_init(&b, max);
    memset(g, 0, sizeof *g);
    ea = fkex_ws_parser_feed(&a, s, n, NULL, sink, g);
    for (size_t i = 0; i < n && eb == FKEX_OK; i++)
        eb = fkex_ws_parser_feed(&b, s + i, 1, NULL, sink, &g2);
    CHECK(ea == eb);
    CHECK(g->n == g2.n);
    CHECK(a.status == b.status);
    *status = a.status;
    fkex_ws_parser_free(&a);
    fkex_ws_parser_free(&b);
    return ea;
}

static void ws_rfc_examples(void)
{
    /* RFC 6455 5.7: "Hello", masked, is a text frame: refused (relay frames are bytes). */
    static const uint8_t hello[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };
    /* The same payload as a binary frame. */
    static const uint8_t hello_bin[] = { 0x82, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };
    /* RFC 6455 5.7: the unmasked "Hello" a server sends: refused from a client. */
    static const uint8_t unmasked[] = { 0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };
    char accept[FKEX_WS_ACCEPT_LEN + 1];
    uint16_t status;
    got g;
    CHECK_ERR(feed_both(hello, sizeof hello, 1024, &g, &status), FKEX_ERR_BAD_ENCODING);
    CHECK(status == FKEX_WS_UNSUPPORTED_DATA && g.n == 0);
    CHECK_OK(feed_both(hello_bin, sizeof hello_bin, 1024, &g, &status));
    CHECK(g.n == 1 && g.ops[0] == FKEX_WS_BINARY && g.lens[0] == 5 && memcmp(g.last, "Hello", 5) == 0);
    CHECK_ERR(feed_both(unmasked, sizeof unmasked, 1024, &g, &status), FKEX_ERR_BAD_ENCODING);
    CHECK(status == FKEX_WS_PROTOCOL_ERROR);
    /* RFC 6455 1.3's handshake. */
    fkex_ws_accept(accept, "dGhlIHNhbXBsZSBub25jZQ==", 24);
    CHECK(strcmp(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
}

static void ws_messages(void)
{
    static uint8_t s[70000 + 1024], big[70000];
    size_t n = 0;
    uint16_t status;
    got g;
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    /* Fragments with a ping and a pong between them, an empty message, a
     * 16-bit and a 64-bit length, and a close. */
    n += client_frame(s + n, 0, FKEX_WS_BINARY, "ab", 2);
    n += client_frame(s + n, 1, FKEX_WS_PING, "p", 1);
    n += client_frame(s + n, 0, FKEX_WS_CONTINUATION, "cd", 2);
    n += client_frame(s + n, 1, FKEX_WS_PONG, "", 0);
    n += client_frame(s + n, 1, FKEX_WS_CONTINUATION, "e", 1);
    n += client_frame(s + n, 1, FKEX_WS_BINARY, "", 0);
    n += client_frame(s + n, 1, FKEX_WS_BINARY, big, 300);
    n += client_frame(s + n, 1, FKEX_WS_BINARY, big, sizeof big);
    n += client_frame(s + n, 1, FKEX_WS_CLOSE, "\x03\xe8", 2);
    CHECK_OK(feed_both(s, n, sizeof big, &g, &status));
    CHECK(g.n == 7);
    CHECK(g.ops[0] == FKEX_WS_PING && g.lens[0] == 1);
    CHECK(g.ops[1] == FKEX_WS_PONG && g.lens[1] == 0);
    CHECK(g.ops[2] == FKEX_WS_BINARY && g.lens[2] == 5);
    CHECK(g.ops[3] == FKEX_WS_BINARY && g.lens[3] == 0);
    CHECK(g.ops[4] == FKEX_WS_BINARY && g.lens[4] == 300);
    CHECK(g.ops[5] == FKEX_WS_BINARY && g.lens[5] == sizeof big);
    CHECK(g.ops[6] == FKEX_WS_CLOSE && g.lens[6] == 2);
    /* A sink that stops after each: *used says where, and the rest goes on. */
    {
        fkex_ws_parser p;
        size_t at = 0, used, calls = 0;
        got h = { .stop_each = 1 };
        fkex_ws_parser_init(&p, sizeof big);
        while (at < n && calls++ < 20) {
            CHECK_OK(fkex_ws_parser_feed(&p, s + at, n - at, &used, sink, &h));
            at += used;
        }
        CHECK(at == n && h.n == 7 && !fkex_ws_parser_partial(&p));
        fkex_ws_parser_free(&p);
    }
}

static void ws_rules(void)
{
    static const struct {
        const char *what;
        uint8_t bytes[16];
        size_t n;
        uint16_t status;
    } bad[] = {
        { "reserved bit", { 0xc2, 0x80, 1, 2, 3, 4 }, 6, FKEX_WS_PROTOCOL_ERROR },
        { "unknown opcode", { 0x83, 0x80, 1, 2, 3, 4 }, 6, FKEX_WS_PROTOCOL_ERROR },
        { "fragmented ping", { 0x09, 0x80, 1, 2, 3, 4 }, 6, FKEX_WS_PROTOCOL_ERROR },
        { "long ping", { 0x89, 0xfe, 0, 126 }, 4, FKEX_WS_PROTOCOL_ERROR },
        { "16-bit length < 126", { 0x82, 0xfe, 0, 125, 1, 2, 3, 4 }, 8, FKEX_WS_PROTOCOL_ERROR },
        { "64-bit length < 65536", { 0x82, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4 }, 14,
          FKEX_WS_PROTOCOL_ERROR },
        { "64-bit length, top bit", { 0x82, 0xff, 0x80, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4 }, 14,
          FKEX_WS_PROTOCOL_ERROR },
        { "continuation alone", { 0x80, 0x80, 1, 2, 3, 4 }, 6, FKEX_WS_PROTOCOL_ERROR },
        { "message inside a message", { 0x02, 0x80, 1, 2, 3, 4, 0x82, 0x80, 1, 2, 3, 4 }, 12,
          FKEX_WS_PROTOCOL_ERROR },
        { "close with 1 byte", { 0x88, 0x81, 0, 0, 0, 0, 3 }, 7, FKEX_WS_PROTOCOL_ERROR },
        { "close with code 1005", { 0x88, 0x82, 0, 0, 0, 0, 0x03, 0xed }, 8, FKEX_WS_PROTOCOL_ERROR },
        /* Announced past max_message: refused at the header, before any payload. */
        { "too large", { 0x82, 0xfe, 0x04, 0x01, 1, 2, 3, 4 }, 8, FKEX_WS_TOO_BIG },
        { "too large across fragments", { 0x02, 0xfe, 0x02, 0x00, 0, 0, 0, 0 }, 8, 0 },
    };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(bad); i++) {
        uint16_t status;
        got g;
        fkex_err e = feed_both(bad[i].bytes, bad[i].n, 1024, &g, &status);
        if (bad[i].status == 0) {   /* a fragment of 512 zero bytes, then 513 more: too large */
            static const uint8_t zeros[513];
            uint8_t s[1100];
            size_t n = client_frame(s, 0, FKEX_WS_BINARY, zeros, 512);
            n += client_frame(s + n, 1, FKEX_WS_CONTINUATION, zeros, 513);
            e = feed_both(s, n, 1024, &g, &status);
            CHECK(e == FKEX_ERR_BAD_ENCODING && status == FKEX_WS_TOO_BIG && g.n == 0);
            continue;
        }
        if (e != FKEX_ERR_BAD_ENCODING || status != bad[i].status)
            fprintf(stderr, "    %s: not refused as it should be\n", bad[i].what);
        CHECK(e == FKEX_ERR_BAD_ENCODING && status == bad[i].status && g.n == 0);
    }
}

/* ---- HTTP request heads -------------------------------------------------- */

#define UPGRADE_HEAD(extra)                                                               \
    "GET /fkex HTTP/1.1\r\nHost: 127.0.0.1:7710\r\nUpgrade: websocket\r\n"                \
    "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" \
    "Sec-WebSocket-Version: 13\r\n" extra "\r\n"

static fkex_err parse(fkex_http_request *r, const char *head)
{
    return fkex_http_parse(r, (const uint8_t *)head, strlen(head));
}

static void http_requests(void)
{
    static const char *const bad[] = {
        "get / HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",                              /* no Host */
        "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",      /* two */
        "GET  / HTTP/1.1\r\n\r\n",
        "GET x HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
        "GET / HTTP/1.1\n\r\n",
        "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
        "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nA: \x01\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        UPGRADE_HEAD("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"),   /* twice */
        "GET /fkex HTTP/1.1\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\r\n\r\n",   /* bits */
        "GET /fkex HTTP/1.1\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\n\r\n",
    };
    fkex_http_request r;
    char longpath[400];
    CHECK_OK(parse(&r, UPGRADE_HEAD("")));
    CHECK(strcmp(r.method, "GET") == 0 && strcmp(r.path, "/fkex") == 0 && r.upgrade &&
          r.version13 && strcmp(r.key, "dGhlIHNhbXBsZSBub25jZQ==") == 0);
    CHECK_OK(parse(&r, "HEAD /client.js?v=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));
    CHECK(strcmp(r.method, "HEAD") == 0 && strcmp(r.path, "/client.js") == 0 && !r.upgrade &&
          !r.key[0]);
    CHECK_OK(parse(&r, "GET /fkex HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n"));
    CHECK(!r.upgrade);   /* Connection does not name upgrade */
    for (size_t i = 0; i < FKEX_ARRAY_LEN(bad); i++) {
        if (parse(&r, bad[i]) != FKEX_ERR_BAD_ENCODING)
            fprintf(stderr, "    accepted: %s\n", bad[i]);
        CHECK_ERR(parse(&r, bad[i]), FKEX_ERR_BAD_ENCODING);
    }
    snprintf(longpath, sizeof longpath, "GET /%0300d HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    CHECK_ERR(parse(&r, longpath), FKEX_ERR_BAD_ENCODING);
    /* Where a head ends. */
    CHECK(fkex_http_head_length((const uint8_t *)"GET / HTTP/1.1\r\n\r\nxyz", 21, 3) == 18);
    CHECK(fkex_http_head_length((const uint8_t *)"GET / HTTP/1.1\r\n\r", 17, 3) == 0);
    /* Looked for again from where the last look ended: a terminator split across reads. */
    CHECK(fkex_http_head_length((const uint8_t *)"GET / HTTP/1.1\r\n\r\nxyz", 21, 17) == 18);
    {
        static uint8_t endless[FKEX_HTTP_HEAD_MAX];
        memset(endless, 'a', sizeof endless);
        CHECK(fkex_http_head_length(endless, sizeof endless, 3) == -1);
        CHECK(fkex_http_head_length(endless, sizeof endless - 1, 3) == 0);
    }
}

static void put(const char *dir, const char *name, const char *text)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    CHECK((f = fopen(path, "w")) != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* A site: index.html and client.js, and what is not served: a hidden
 * file, one in a folder, and a link. */
static void make_site(const char *dir)
{
    char path[512];
    mkdir(dir, 0700);
    put(dir, "index.html", "<!doctype html>");
    put(dir, "client.js", "'use strict';");
    put(dir, ".hidden", "no");
    snprintf(path, sizeof path, "%s/sub", dir);
    mkdir(path, 0700);
    put(path, "deeper.js", "no");
    snprintf(path, sizeof path, "%s/link.js", dir);
    CHECK(symlink("/etc/passwd", path) == 0);
}

static void web_site(void)
{
    char dir[400], path[512], err[128];
    fkex_web_site site;
    const fkex_web_file *f;
    snprintf(dir, sizeof dir, "%s/site-empty", test_tmpdir());
    mkdir(dir, 0700);
    CHECK_ERR(fkex_web_site_load(&site, dir, err), FKEX_ERR_IO);   /* no index.html */
    CHECK(strstr(err, "index.html") != NULL);
    snprintf(dir, sizeof dir, "%s/site", test_tmpdir());
    make_site(dir);
    CHECK_OK(fkex_web_site_load(&site, dir, err));
    CHECK(site.n == 2);
    CHECK((f = fkex_web_site_find(&site, "/")) && f->len == 15 && strstr(f->type, "text/html"));
    CHECK((f = fkex_web_site_find(&site, "/client.js")) && strstr(f->type, "javascript"));
    CHECK(!fkex_web_site_find(&site, "/.hidden") && !fkex_web_site_find(&site, "/sub/deeper.js") &&
          !fkex_web_site_find(&site, "/link.js") && !fkex_web_site_find(&site, "/../index.html") &&
          !fkex_web_site_find(&site, "index.html"));
    fkex_web_site_free(&site);
    snprintf(path, sizeof path, "%s/nowhere", dir);
    CHECK_ERR(fkex_web_site_load(&site, path, err), FKEX_ERR_IO);
}

/* ---- the real relay, run with --web -------------------------------------- */

/* What a million pings may add to the relay's memory. Under ASan the
 * allocator's quarantine keeps every freed pong (256 MiB by default), so
 * there only a runaway is caught. */
#if defined(__SANITIZE_ADDRESS__)
#define PINGS_GROWTH_MAX_KIB (512L * 1024)
#else
#define PINGS_GROWTH_MAX_KIB 8192L
#endif

static char addr[128];
static pid_t pid = -1;

typedef struct {
    tls_raw t;
    uint8_t got[8192];
    size_t n;
    int eof;
} peer;

static int peer_open(peer *p)
{
    memset(p, 0, sizeof *p);
    return tls_raw_open(&p->t, addr, 0, 5000);
}

static void peer_say(peer *p, const void *bytes, size_t n)
{
    CHECK(tls_raw_send(&p->t, bytes, n) == (ssize_t)n);
}

/* Reads until phrase is in what arrived (or the end, or 5 s). */
static int peer_wait(peer *p, const void *phrase, size_t k)
{
    double end = test_now() + 5;
    for (;;) {
        for (size_t i = 0; i + k <= p->n; i++)
            if (memcmp(p->got + i, phrase, k) == 0)
                return 1;
        if (p->eof || test_now() > end || p->n == sizeof p->got)
            return 0;
        ssize_t r = tls_raw_recv(&p->t, p->got + p->n, sizeof p->got - p->n, 0);
        if (r > 0)
            p->n += (size_t)r;
        else if (r != -2)
            p->eof = 1;
    }
}

/* Reads to the end of the stream (at most 5 s): 1 if it ended. */
static int peer_ended(peer *p)
{
    peer_wait(p, "\xff\xfe\xfd\xfc never", 9);
    return p->eof;
}

static void upgrade(peer *p)
{
    static const char head[] = UPGRADE_HEAD("Origin: https://127.0.0.1\r\n");
    CHECK(peer_open(p) == 0);
    peer_say(p, head, sizeof head - 1);
    CHECK(peer_wait(p, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", 54));
    p->n = 0;
}

static int relay_up(void)
{
    static char dir[400];
    static const char *extra[] = { "--web", dir, "--frame-timeout", "1", NULL };
    snprintf(dir, sizeof dir, "%s/relay-site", test_tmpdir());
    make_site(dir);
    return (pid = rh_relay_start(addr, "web", extra, NULL)) < 0 ? -1 : 0;
}

static void relay_files(void)
{
    peer p;
    static const char get[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char head[] = "HEAD /client.js HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK(peer_open(&p) == 0);
    peer_say(&p, get, sizeof get - 1);
    CHECK(peer_wait(&p, "HTTP/1.1 200 OK\r\n", 17));
    CHECK(peer_wait(&p, "Content-Length: 15\r\n", 20));
    CHECK(peer_wait(&p, "frame-ancestors 'none'", 22));
    CHECK(peer_wait(&p, "\r\n\r\n<!doctype html>", 19));
    CHECK(peer_ended(&p));
    tls_raw_close(&p.t);
    CHECK(peer_open(&p) == 0);
    peer_say(&p, head, sizeof head - 1);
    CHECK(peer_wait(&p, "text/javascript", 15));
    CHECK(peer_ended(&p) && !test_has(p.got, p.n, "use strict"));
    tls_raw_close(&p.t);
    {
        static const struct { const char *req, *status; } refused[] = {
            { "GET /link.js HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 404 " },
            { "GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 404 " },
            { "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
              "HTTP/1.1 405 Method Not Allowed\r\n" },
            { "GET / HTTP/1.1\r\nHost: x\r\n y\r\n\r\n", "HTTP/1.1 400 " },
            { "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 " },
            { "GET /fkex HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n", "HTTP/1.1 400 " },
            { "GET /fkex HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
              "HTTP/1.1 426 " },
        };
        for (size_t i = 0; i < FKEX_ARRAY_LEN(refused); i++) {
            CHECK(peer_open(&p) == 0);
            peer_say(&p, refused[i].req, strlen(refused[i].req));
            CHECK(peer_wait(&p, refused[i].status, strlen(refused[i].status)));
            CHECK(i != 2 || peer_wait(&p, "Allow: GET, HEAD\r\n", 18));
            CHECK(i != 6 || peer_wait(&p, "Sec-WebSocket-Version: 13\r\n", 27));
            CHECK(peer_ended(&p));
            tls_raw_close(&p.t);
        }
    }
    /* A head that never ends is cut off by the frame timeout (1 s). */
    CHECK(peer_open(&p) == 0);
    peer_say(&p, "GET / HTTP/1.1\r\nHost: x\r\n", 25);
    CHECK(peer_ended(&p));
    tls_raw_close(&p.t);
    CHECK(rh_logged("web.err", "frame timed out"));
}

/* A client's binary message holding a relay envelope. */
static size_t envelope_message(uint8_t *out, const fkex_relay_msg *m)
{
    fkex_writer w;
    size_t n;
    fkex_writer_init(&w);
    fkex_relay_msg_encode(&w, m);
    CHECK(!w.failed);
    n = client_frame(out, 1, FKEX_WS_BINARY, w.buf, w.len);
    fkex_writer_free(&w);
    return n;
}

static void relay_websocket(void)
{
    uint8_t msg[512];
    size_t n;
    peer p;
    fkex_relay_msg m = { .kind = FKEX_RELAY_GET_DESCRIPTOR };
    /* A relay frame in a binary message is answered in one. */
    upgrade(&p);
    memset(m.room_id, 0x5a, 32);
    n = envelope_message(msg, &m);
    peer_say(&p, msg, n);
    CHECK(peer_wait(&p, "no such room", 12));
    CHECK(p.got[0] == 0x82);   /* final, binary, unmasked */
    /* A ping is answered with a pong of the same payload. */
    p.n = 0;
    n = client_frame(msg, 1, FKEX_WS_PING, "are you there", 13);
    peer_say(&p, msg, n);
    CHECK(peer_wait(&p, "\x8a\x0d" "are you there", 15));
    /* An empty ping gets an empty pong, and the relay goes on serving. */
    p.n = 0;
    n = client_frame(msg, 1, FKEX_WS_PING, "", 0);
    peer_say(&p, msg, n);
    CHECK(peer_wait(&p, "\x8a\x00", 2));
    /* A close is echoed, and the connection ends. */
    p.n = 0;
    n = client_frame(msg, 1, FKEX_WS_CLOSE, "\x03\xe8" "bye", 5);
    peer_say(&p, msg, n);
    CHECK(peer_wait(&p, "\x88\x02\x03\xe8", 4));
    CHECK(peer_ended(&p));
    tls_raw_close(&p.t);

    /* Rules broken: each closes with its status. */
    static const struct { const char *what; uint8_t status[2]; } cases[] = {
        { "text", { 0x03, 0xeb } },        /* 1003 */
        { "unmasked", { 0x03, 0xea } },    /* 1002 */
        { "too large", { 0x03, 0xf1 } },   /* 1009, with the relay's ERROR first */
    };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(cases); i++) {
        uint8_t close[4] = { 0x88, 0x02, cases[i].status[0], cases[i].status[1] };
        upgrade(&p);
        if (i == 0) {
            n = client_frame(msg, 1, FKEX_WS_TEXT, "hi", 2);
        } else if (i == 1) {
            memcpy(msg, "\x82\x02hi", 4);
            n = 4;
        } else {   /* 64 MiB announced: refused before its payload */
            static const uint8_t huge[] = { 0x82, 0xff, 0, 0, 0, 0, 4, 0, 0, 0, 1, 2, 3, 4 };
            memcpy(msg, huge, sizeof huge);
            n = sizeof huge;
        }
        peer_say(&p, msg, n);
        if (!peer_wait(&p, close, 4))
            fprintf(stderr, "    %s: no close frame with its status\n", cases[i].what);
        CHECK(peer_wait(&p, close, 4));
        CHECK(i != 2 || test_has(p.got, p.n, "frame too large"));
        CHECK(peer_ended(&p));
        tls_raw_close(&p.t);
    }
    /* Pings from a client that does not read: answered only while little
     * waits for it, so they cannot pile up in the relay. */
    {
        static uint8_t pings[7 * 20000];
        peer q;
        long before = child_rss_kib(pid), after;
        upgrade(&p);
        for (size_t i = 0; i < 20000; i++)
            client_frame(pings + 7 * i, 1, FKEX_WS_PING, "x", 1);
        for (int k = 0; k < 50; k++)   /* a million */
            peer_say(&p, pings, sizeof pings);
        CHECK(peer_open(&q) == 0);   /* the relay still answers others */
        peer_say(&q, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
        CHECK(peer_wait(&q, "HTTP/1.1 200 OK\r\n", 17));
        tls_raw_close(&q.t);
        after = child_rss_kib(pid);
        if (after - before > PINGS_GROWTH_MAX_KIB)
            fprintf(stderr, "    the relay grew by %ld KiB under a million pings\n", after - before);
        CHECK(before > 0 && after - before <= PINGS_GROWTH_MAX_KIB);
        tls_raw_close(&p.t);
    }
    /* A message begun and not finished is cut off by the frame timeout,
     * with a close that says so (1008). */
    upgrade(&p);
    peer_say(&p, "\x82\x85\x01\x02\x03\x04h", 7);
    CHECK(peer_wait(&p, "frame timed out", 15));
    CHECK(peer_wait(&p, "\x88\x02\x03\xf0", 4));
    CHECK(peer_ended(&p));
    tls_raw_close(&p.t);
}

void suite_web(void)
{
    RUN(ws_rfc_examples);
    RUN(ws_messages);
    RUN(ws_rules);
    RUN(http_requests);
    RUN(web_site);
    if (rh_suite_open("web") != 0 || relay_up() != 0) {
        CHECK(0);
        rh_relay_kill();
        return;
    }
    RUN(relay_files);
    RUN(relay_websocket);
    CHECK(rh_relay_stop(pid) == 0);
}
