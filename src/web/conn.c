/*
 * web/conn.c: net/net.h's client connection over the browser's WebSocket
 * to the relay's /fkex (relay --web), one binary message per frame. The
 * page's scheme says which: wss:// from a page served over https, ws://
 * from one served over http (a relay run with --insecure-plaintext).
 *
 * The browser checks the relay's certificate by its own rules, not by
 * the endpoint's pin, which a page cannot see: the pin is dropped here,
 * and the room's security does not rest on it (README, "The web
 * client"). An endpoint that names its server (NAME@HOST:PORT) is
 * dialled by that name, which the relay's certificate bears and the
 * page's origin is (its policy lets it connect nowhere else). A message
 * longer than the limits' max_frame closes the connection (code 4009)
 * before it is copied in. Frames sent before the socket opens wait in the
 * page, as net.c queues them. A close or finish calls the close callback
 * once, on a later turn of the loop; nothing is delivered after either.
 */
#include <emscripten.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "codec/codec.h"
#include "net/net.h"
#include "web/web.h"

struct fkex_conn {
    void *data;
    fkex_frame_cb on_frame;
    fkex_close_cb on_close;
    void (*on_connected)(fkex_conn *c, int status);
    int open, closing;
    char peer[FKEX_NET_LIST_TEXT_MAX];
    char why[96];
};

EM_JS(void, js_ws_open, (fkex_conn *c, const char *hostport, double max), {
    if (!Module.fkexPeerClosed)
        Module.fkexPeerClosed = function(c, why) {
            var n = lengthBytesUTF8(why) + 1, p = Module._malloc(n);
            stringToUTF8(why, p, n);
            Module._fkexw_ws_closed(c, p);
            Module._free(p);
        };
    var scheme = (typeof location !== "undefined" && location.protocol === "http:") ? "ws://" : "wss://";
    var ws, url = scheme + UTF8ToString(hostport) + "/fkex";
    Module.fkexSockets = Module.fkexSockets || new Map();
    try {
        ws = new WebSocket(url);
    } catch (e) {
        setTimeout(function() { Module.fkexPeerClosed(c, "cannot open " + url + ": " + e.message); }, 0);
        return;
    }
    ws.binaryType = "arraybuffer";
    ws.fkexWaiting = [];
    Module.fkexSockets.set(c, ws);
    ws.onopen = function() {
        ws.fkexWaiting.forEach(function(b) { ws.send(b); });
        ws.fkexWaiting = [];
        Module._fkexw_ws_opened(c);
    };
    ws.onmessage = function(e) {
        var b = new Uint8Array(e.data), p = b.length <= max ? Module._malloc(b.length || 1) : 0;
        if (!p) {
            ws.onclose = ws.onerror = null;
            try { ws.close(4009); } catch (e) {}   /* 1009's meaning: a page may send 1000 or 3000-4999 only */
            Module.fkexSockets.delete(c);
            Module.fkexPeerClosed(c, b.length > max ? "the relay sent a frame longer than " + max + " bytes"
                                                    : "out of memory");
            return;
        }
        HEAPU8.set(b, p);
        Module._fkexw_ws_message(c, p, b.length);
        Module._free(p);
    };
    ws.onclose = function(e) {
        ws.onclose = ws.onerror = null;
        Module.fkexSockets.delete(c);
        Module.fkexPeerClosed(c, e.code === 1006 ? "the connection to " + url + " failed or was cut"
                                : "the relay closed the WebSocket (" + e.code + (e.reason ? ": " + e.reason : "") + ")");
    };
    /* A socket the page's policy blocks (another relay of a cluster than
     * the page's own) fires error and never close: closed all the same. */
    ws.onerror = function() {
        if (ws.readyState === 3 && ws.onclose)
            ws.onclose({ code: 1006, reason: "" });
    };
});

EM_JS(void, js_ws_send, (fkex_conn *c, const uint8_t *p, size_t n), {
    var ws = Module.fkexSockets && Module.fkexSockets.get(c);
    if (!ws)
        return;
    var b = HEAPU8.slice(p, p + n);
    if (ws.readyState === 0)
        ws.fkexWaiting.push(b);
    else
        ws.send(b);
});

/* Stops the socket's callbacks (the close callback comes from here, once)
 * and closes it: at once, or after what was sent (graceful). */
EM_JS(void, js_ws_close, (fkex_conn *c, int graceful), {
    var ws = Module.fkexSockets && Module.fkexSockets.get(c);
    if (ws) {
        Module.fkexSockets.delete(c);
        ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
        ws.fkexWaiting = [];
        try { ws.close(graceful ? 1000 : 4000); } catch (e) {}
    }
    setTimeout(function() { Module._fkexw_ws_gone(c); }, 0);
});

fkex_err fkex_conn_connect(fkex_conn **out, uv_loop_t *loop, const char *addr,
                           const fkex_net_limits *lim, const fkex_tls *tls,
                           void (*on_connected)(fkex_conn *c, int status), char err[128])
{
    fkex_endpoint e;
    fkex_conn *c;
    (void)loop;
    (void)tls;   /* the page's scheme decides (above) */
    *out = NULL;
    if (!fkex_net_address_ok(addr) || fkex_endpoint_parse(&e, addr) != 0) {
        snprintf(err, 128, "bad address \"%.60s\"", addr ? addr : "");
        return FKEX_ERR_ARGUMENT;
    }
    if (!(c = calloc(1, sizeof *c)))
        return FKEX_ERR_NO_MEMORY;
    if (e.auth == FKEX_ENDPOINT_NAME)   /* what its certificate names, and the page's origin */
        snprintf(c->peer, sizeof c->peer, "%s%s", e.name, strrchr(e.hostport, ':'));
    else
        snprintf(c->peer, sizeof c->peer, "%s", e.hostport);
    c->on_connected = on_connected;
    js_ws_open(c, c->peer, (double)(lim ? lim->max_frame : FKEX_NET_DEFAULT_MAX_FRAME));
    *out = c;
    return FKEX_OK;
}

void fkex_conn_set(fkex_conn *c, fkex_frame_cb on_frame, fkex_close_cb on_close, void *data)
{
    c->on_frame = on_frame;
    c->on_close = on_close;
    c->data = data;
}

void *fkex_conn_data(const fkex_conn *c) { return c->data; }

int fkex_conn_send(fkex_conn *c, const uint8_t *frame, size_t len)
{
    if (c->closing)
        return -1;
    js_ws_send(c, frame, len);
    return 0;
}

static void end(fkex_conn *c, const char *why, int graceful)
{
    if (!c || c->closing)
        return;
    c->closing = 1;
    snprintf(c->why, sizeof c->why, "%s", why ? why : "closed");
    js_ws_close(c, graceful);
}

void fkex_conn_close(fkex_conn *c, const char *why) { end(c, why, 0); }
void fkex_conn_finish(fkex_conn *c, const char *why) { end(c, why, 1); }

EMSCRIPTEN_KEEPALIVE void fkexw_ws_opened(fkex_conn *c)
{
    c->open = 1;
    if (!c->closing && c->on_connected)
        c->on_connected(c, 0);
    fkexw_after_turn();
}

EMSCRIPTEN_KEEPALIVE void fkexw_ws_message(fkex_conn *c, const uint8_t *p, size_t n)
{
    if (!c->closing && c->on_frame)
        c->on_frame(c, p, n);
    fkexw_after_turn();
}

/* The socket ended by itself (the relay, the network, or it never opened). */
EMSCRIPTEN_KEEPALIVE void fkexw_ws_closed(fkex_conn *c, const char *why)
{
    end(c, why, 0);
}

/* The close callback, once, then c is freed. */
EMSCRIPTEN_KEEPALIVE void fkexw_ws_gone(fkex_conn *c)
{
    if (c->on_close)
        c->on_close(c, c->why);
    free(c);
    fkexw_after_turn();
}
