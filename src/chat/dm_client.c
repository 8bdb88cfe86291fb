/*
 * chat/dm_client.c: a direct conversation (fkex chat --dm PEER), the class
 * chat_dm_class behind the session API of chat/client.h: chat_client_start
 * with cfg->dm_peer set runs this instead of a room, and the same events
 * reach the front ends (--batch JSON lines, the terminal interface).
 * Starting fails with FKEX_ERR_ARGUMENT (bad address or nick, the peer is
 * oneself) or fkex_dm_init's errors (FKEX_ERR_WRONG_IDENTITY: the key has
 * no identity; FKEX_ERR_UNSUPPORTED; FKEX_ERR_ATTRIBUTE: not an identity).
 * Leave and quit are one: the relay keeps nothing of a conversation. Its
 * status names the peer's identity, its room id is the conversation id,
 * and it has 2 members once open (0: the peer, 1: this party).
 *
 * One relay connection: DM_HELLO names the conversation (ibe/dm.h's id),
 * the relay says whether the other party is there (DM_READY) and when it
 * comes or goes (DM_PEER), and carries frames both ways (DM_FRAME). The
 * state machine (ibe/dm.h) decides: IBAKE, the hellos, then messages.
 * When the other party comes again (a new process), the handshake starts
 * over; what is typed before the conversation is open waits (bounded).
 *
 * Events: JOINED once the peer is authenticated (peer, authenticated = 1),
 * MESSAGE (peer set), ERROR ("tampered" for a frame that fails its checks:
 * not shown, the conversation goes on; "wrong_peer", fatal with exit 1,
 * for a handshake from or for another identity), CONNECTION ("peer_left",
 * "peer_back"), DONE. A dropped relay connection ends the session (exit 2):
 * nothing is held at the relay to come back to.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "chat/chat.h"
#include "chat/client.h"
#include "chat/session.h"
#include "net/net.h"
#include "wire/relay_msg.h"

typedef struct dm_client dm_client;

struct dm_client {
    uv_loop_t *loop;
    chat_client_config cfg;
    char addr[FKEX_NET_LIST_TEXT_MAX];
    char nick[CHAT_NICK_MAX + 1];
    char peer[FKEX_IBE_ID_MAX + 1];
    fkex_conn *conn;
    fkex_rng rng;
    fkex_dm dm;
    int started;                  /* the handshake with the present party began */
    int ready, open, quitting, closing, timer_closed, exit_code, done;
    int was_open;                 /* the conversation opened once (the peer may have left since) */
    chat_texts texts;             /* typed before the conversation is open */
    uint8_t plain[FKEX_DM_FRAME_MAX];
    uint8_t frame[FKEX_DM_FRAME_MAX];
    uv_timer_t deadline;          /* to DM_READY, then the handshake once the peer is here */
};

static void emit(dm_client *c, const chat_event *ev)
{
    if (c->cfg.on_event)
        c->cfg.on_event(c->cfg.ctx, ev);
}

/* DONE once the timer and the connection are both closed. */
static void maybe_done(dm_client *c)
{
    if (c->closing && c->timer_closed && !c->conn && !c->done) {
        chat_event ev = { .kind = CHAT_EV_DONE, .exit_code = c->exit_code };
        c->done = 1;
        emit(c, &ev);
    }
}

static void on_timer_closed(uv_handle_t *h)
{
    dm_client *c = h->data;
    c->timer_closed = 1;
    maybe_done(c);
}

static void finish(dm_client *c, int exit_code)
{
    if (c->closing)
        return;
    c->closing = 1;
    c->exit_code = exit_code;
    uv_timer_stop(&c->deadline);
    uv_close((uv_handle_t *)&c->deadline, on_timer_closed);
    if (c->conn)
        fkex_conn_close(c->conn, "session over");   /* on_close comes */
}

#define report(c, ...) chat_reportf(&(c)->cfg, __VA_ARGS__)

#define FAIL(c, exit_code, code, ...) do { report(c, code, __VA_ARGS__); finish(c, exit_code); } while (0)

static void send_env(dm_client *c, const fkex_relay_msg *m)
{
    if (!c->closing && c->conn && chat_send_envelope(c->conn, m) != FKEX_OK)
        FAIL(c, 2, "out_of_memory", "out of memory");
}

static void send_frame(dm_client *c, const uint8_t *frame, size_t len)
{
    fkex_relay_msg m = { .kind = FKEX_RELAY_DM_FRAME, .data = frame, .datalen = len };
    send_env(c, &m);
}

static void send_out(dm_client *c, const fkex_dm_out *out)
{
    for (size_t i = 0; i < out->n; i++)
        send_frame(c, out->frame[i], out->len[i]);
}

static void on_deadline(uv_timer_t *t)
{
    dm_client *c = t->data;
    if (c->closing)
        return;
    if (!c->ready)
        FAIL(c, 2, "relay_unreachable", "the relay at %s did not answer within %u s", chat_where(c->addr),
             c->cfg.connect_timeout_ms / 1000);
    else if (!c->open)
        FAIL(c, 2, "handshake_timeout", "%s is connected but did not complete the handshake "
             "within %u s", c->peer, c->cfg.join_timeout_ms / 1000);
}

/* A party is here: the handshake starts (again, with a fresh state, if it
 * is another process than the last one). */
static void begin(dm_client *c)
{
    fkex_dm_out out;
    fkex_err err;
    if (c->started) {
        fkex_dm_wipe(&c->dm);
        if ((err = fkex_dm_init(&c->dm, c->cfg.key, c->peer, &c->rng)) != FKEX_OK) {
            FAIL(c, 2, "internal", "cannot start the handshake again: %s", fkex_strerror(err));
            return;
        }
    }
    c->started = 1;
    c->open = 0;
    if ((err = fkex_dm_start(&c->dm, &out, &c->rng)) != FKEX_OK) {
        FAIL(c, 2, "internal", "cannot start the handshake: %s", fkex_strerror(err));
        return;
    }
    send_out(c, &out);
    uv_timer_start(&c->deadline, on_deadline, c->cfg.join_timeout_ms, 0);
}

static void send_text(dm_client *c, const char *text, size_t len)
{
    uint8_t *content = NULL;
    size_t clen = 0, flen;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    chat_content cc = { .nick = c->nick, .nicklen = strlen(c->nick), .text = text,
                        .textlen = len,
                        .sent_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u };
    fkex_err err = chat_content_encode(&content, &clen, &cc);
    if (err == FKEX_OK)
        err = fkex_dm_send(&c->dm, c->frame, &flen, content, clen);
    if (content) {
        sodium_memzero(content, clen);
        free(content);
    }
    if (err != FKEX_OK) {
        report(c, "not_sent", "not sent: %s", fkex_strerror(err));
        return;
    }
    send_frame(c, c->frame, flen);
    chat_event ev = { .kind = CHAT_EV_MESSAGE, .nick = cc.nick, .nicklen = cc.nicklen,
                      .text = text, .textlen = len, .sent_ms = cc.sent_ms, .member = 1,
                      .own = 1, .peer = c->peer };
    emit(c, &ev);
}

static void send_queued(void *ctx, const char *text, size_t len)
{
    send_text(ctx, text, len);
}

static void opened(dm_client *c)
{
    chat_event ev = { .kind = CHAT_EV_JOINED, .members = 2, .peer = c->peer,
                      .authenticated = 1 };
    c->open = c->was_open = 1;
    uv_timer_stop(&c->deadline);
    /* What was typed before goes first, so that a front end that quits on
     * this event loses none of it. */
    chat_texts_flush(&c->texts, send_queued, c, &c->closing);
    if (!c->closing)
        emit(c, &ev);
}

static void on_dm_frame(dm_client *c, const uint8_t *in, size_t len)
{
    fkex_dm_out out;
    chat_content cc;
    fkex_err err = fkex_dm_receive(&c->dm, &out, c->plain, in, len, &c->rng);
    if (err == FKEX_ERR_WRONG_IDENTITY) {
        FAIL(c, 1, "wrong_peer", "the other party of this conversation is not %s: its handshake "
             "is from or for another identity; refused", c->peer);
        return;
    }
    if (err == FKEX_ERR_REPLAY) {
        report(c, "replayed", "a frame was delivered again (replayed?): ignored");
        return;
    }
    if (err != FKEX_OK) {
        report(c, "tampered", "a frame from %s failed its checks (%s): it was altered on the way "
               "or forged, and is not shown", c->peer, fkex_strerror(err));
        return;
    }
    send_out(c, &out);
    if (out.opened)
        opened(c);
    if (out.message && chat_content_decode(&cc, c->plain, out.plainlen) == FKEX_OK) {
        chat_event ev = { .kind = CHAT_EV_MESSAGE, .nick = cc.nick, .nicklen = cc.nicklen,
                          .text = cc.text, .textlen = cc.textlen, .sent_ms = cc.sent_ms,
                          .peer = c->peer };
        emit(c, &ev);
    }
    if (out.message)
        sodium_memzero(c->plain, out.plainlen);
}

static void on_peer(dm_client *c, int present)
{
    char msg[400];
    chat_event ev = { .kind = CHAT_EV_CONNECTION, .code = present ? "peer_back" : "peer_left",
                      .message = msg, .peer = c->peer };
    if (!present) {
        int was_open = c->open;
        c->open = 0;
        uv_timer_stop(&c->deadline);
        snprintf(msg, sizeof msg, "%s left the conversation%s", c->peer,
                 was_open ? "; waiting for them to come back" : "");
        emit(c, &ev);
        return;
    }
    if (c->started) {
        snprintf(msg, sizeof msg, "%s is back: authenticating again", c->peer);
        emit(c, &ev);
    }
    begin(c);
}

static void on_relay_error(dm_client *c, const fkex_relay_msg *m)
{
    char text[FKEX_RELAY_TEXT_MAX + 1];
    chat_error_text(text, m);
    if (!c->ready && m->code == FKEX_RELAY_E_BUSY)
        FAIL(c, 2, "conversation_busy", "the relay at %s says: %s", chat_where(c->addr), text);
    else if (!c->ready)
        FAIL(c, 2, "relay_refused", "the relay at %s refused us: %s", chat_where(c->addr), text);
    else if (m->code == FKEX_RELAY_E_NOT_ROUTABLE)
        report(c, "not_delivered", "not delivered: %s is not connected", c->peer);
    else
        report(c, "relay_error", "the relay says: %s", text);
}

static void on_envelope(dm_client *c, const fkex_relay_msg *mp)
{
    const fkex_relay_msg m = *mp;
    switch (m.kind) {
    case FKEX_RELAY_DM_READY:
        if (c->ready || sodium_memcmp(m.room_id, c->dm.conv, 32) != 0)
            break;
        c->ready = 1;
        uv_timer_stop(&c->deadline);
        if (m.present)
            begin(c);
        break;
    case FKEX_RELAY_DM_PEER:
        if (c->ready)
            on_peer(c, m.present);
        break;
    case FKEX_RELAY_DM_FRAME:
        if (c->ready)
            on_dm_frame(c, m.data, m.datalen);
        break;
    case FKEX_RELAY_ERROR:
        on_relay_error(c, &m);
        break;
    case FKEX_RELAY_PING: {
        fkex_relay_msg pong = { .kind = FKEX_RELAY_PONG, .cookie = m.cookie };
        send_env(c, &pong);
        break;
    }
    default:
        break;
    }
}

static void on_frame(fkex_conn *conn, const uint8_t *frame, size_t len)
{
    dm_client *c = fkex_conn_data(conn);
    fkex_relay_msg m;
    int ok = fkex_relay_msg_decode(&m, frame, len) == FKEX_OK;
    if (c->closing)
        return;
    if (ok)
        on_envelope(c, &m);
    else
        FAIL(c, 2, "relay_error", "the relay sent a frame that does not decode");
}

static void on_close(fkex_conn *conn, const char *why)
{
    dm_client *c = fkex_conn_data(conn);
    c->conn = NULL;
    if (c->closing)
        maybe_done(c);
    else if (c->quitting)
        finish(c, 0);
    else
        FAIL(c, 2, c->ready ? "relay_lost" : "relay_unreachable",
             "%s the relay at %s: %s", c->ready ? "lost the connection to" : "cannot reach",
             chat_where(c->addr), why);
}

static void on_connected(fkex_conn *conn, int status)
{
    dm_client *c = fkex_conn_data(conn);
    fkex_relay_msg m = { .kind = FKEX_RELAY_DM_HELLO };
    if (status != 0 || c->closing)
        return;   /* the close callback reports it */
    memcpy(m.room_id, c->dm.conv, 32);
    send_env(c, &m);
}

static void dm_free(void *impl);

static fkex_err dm_start(void **out, uv_loop_t *loop, const chat_client_config *cfg)
{
    static const fkex_net_limits lim = { FKEX_RELAY_DM_FRAME_MAX + 64, 4 * FKEX_RELAY_DM_FRAME_MAX };
    char err[128];
    dm_client *c;
    fkex_err e;
    *out = NULL;
    if (!cfg->relay || !cfg->key || !cfg->dm_peer || !cfg->nick || !chat_nick_ok(cfg->nick, strlen(cfg->nick)) ||
        strlen(cfg->relay) >= sizeof c->addr)
        return FKEX_ERR_ARGUMENT;
    if (!(c = calloc(1, sizeof *c)))
        return FKEX_ERR_NO_MEMORY;
    fkex_rng_init_system(&c->rng);
    if ((e = fkex_dm_init(&c->dm, cfg->key, cfg->dm_peer, &c->rng)) != FKEX_OK) {
        dm_free(c);
        return e;
    }
    c->loop = loop;
    c->cfg = *cfg;
    /* Our own copies of the strings; 0 timeouts are the defaults. */
    snprintf(c->addr, sizeof c->addr, "%s", cfg->relay);
    snprintf(c->nick, sizeof c->nick, "%s", cfg->nick);
    snprintf(c->peer, sizeof c->peer, "%s", fkex_dm_peer(&c->dm));
    c->cfg.relay = c->addr;
    c->cfg.nick = c->nick;
    c->cfg.dm_peer = c->peer;
    c->cfg.connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : 15000;
    c->cfg.join_timeout_ms = cfg->join_timeout_ms ? cfg->join_timeout_ms : 60000;
    memcpy(c->cfg.room_id, c->dm.conv, 32);
    if ((e = fkex_conn_connect(&c->conn, loop, c->addr, &lim, cfg->tls, on_connected, err)) != FKEX_OK) {
        dm_free(c);
        return e;
    }
    fkex_conn_set(c->conn, on_frame, on_close, c);
    uv_timer_init(loop, &c->deadline);
    c->deadline.data = c;
    uv_timer_start(&c->deadline, on_deadline, c->cfg.connect_timeout_ms, 0);
    *out = c;
    return FKEX_OK;
}

static void dm_send(void *impl, const char *text, size_t len)
{
    dm_client *c = impl;
    if (c->closing || c->quitting)
        return;
    if (!c->open && chat_texts_add(&c->texts, text, len) != 0)
        report(c, "not_sent", "not sent: too many messages wait for the conversation to open");
    else if (c->open)
        send_text(c, text, len);
}

/* Texts typed before the conversation opened; once open, a text goes
 * out as written (a direct conversation's frames are not acknowledged). */
static size_t dm_backlog(const void *impl)
{
    const dm_client *c = impl;
    return c->texts.n;
}

static void dm_quit(void *impl)
{
    dm_client *c = impl;
    if (c->closing || c->quitting)
        return;
    c->quitting = 1;
    if (!c->conn) {
        finish(c, 0);
        return;
    }
    fkex_conn_finish(c->conn, "quit");   /* what was sent is flushed first; then on_close */
}

static void dm_end(void *impl)
{
    finish(impl, 2);
}

static int dm_joined(const void *impl)
{
    const dm_client *c = impl;
    return c->was_open;   /* end of input quits once the conversation was open */
}

static fkex_err dm_set_nick(void *impl, const char *nick)
{
    dm_client *c = impl;
    if (!chat_nick_ok(nick, strlen(nick)))
        return FKEX_ERR_ARGUMENT;
    snprintf(c->nick, sizeof c->nick, "%s", nick);
    return FKEX_OK;
}

static void dm_status(chat_status *s, const void *impl)
{
    const dm_client *c = impl;
    memset(s, 0, sizeof *s);
    memcpy(s->room_id, c->dm.conv, 32);
    s->state = c->closing ? CHAT_CLOSED : c->open ? CHAT_ONLINE : c->ready ? CHAT_JOINING
             : CHAT_CONNECTING;
    s->name = c->peer;
    s->namelen = strlen(c->peer);
    if (c->open) {
        s->members = 2;
        s->index = 1;
        s->policy = "authenticated by the authority";
        s->policylen = strlen(s->policy);
    }
}

static int dm_member(chat_member *m, const void *impl, uint32_t index)
{
    const dm_client *c = impl;
    if (!c->open || index > 1)
        return -1;
    memset(m, 0, sizeof *m);
    memcpy(m->leaf, index ? c->dm.sig_pk : c->dm.peer_pk, 32);
    chat_fingerprint(m->pseudonym, m->leaf);
    m->own = index == 1;
    m->nick = index ? c->nick : c->peer;
    return 0;
}

static void dm_free(void *impl)
{
    dm_client *c = impl;
    if (!c)
        return;
    fkex_dm_wipe(&c->dm);
    chat_texts_wipe(&c->texts);
    sodium_memzero(c, sizeof *c);
    free(c);
}

const chat_client_class chat_dm_class = {
    .start = dm_start, .send = dm_send, .backlog = dm_backlog, .leave = dm_quit,
    .quit = dm_quit, .end = dm_end, .joined = dm_joined, .set_nick = dm_set_nick, .status = dm_status,
    .member = dm_member, .free = dm_free,
};
