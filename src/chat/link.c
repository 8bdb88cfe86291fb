/*
 * chat/link.c: a chat session's relay link and life (chat/link.h). The
 * modes decide what the room's messages mean; this file moves them,
 * reconnects, keeps the deadlines and ends the session.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "chat/link.h"

#define QUIT_DRAIN_MS 5000u       /* quit waits this long for ACCEPTED of what was sent */
#define MAX_UNANSWERED 4096       /* SUBMITs kept until the relay answers them */
#define RETRY_FIRST_MS 200u       /* reconnecting: the first wait, doubled each time ... */
#define RETRY_MAX_MS 5000u        /* ... up to this */
#define TICK_MS 1000u             /* the mode's housekeeping */

/* ---- events and the end ---------------------------------------------------------- */

void chat_link_emit(chat_link *l, const chat_event *ev)
{
    if (l->cfg.on_event)
        l->cfg.on_event(l->cfg.ctx, ev);
}

static void handle_closed(chat_link *l)
{
    if (--l->open_handles == 0 && !l->done) {
        chat_event ev = { .kind = CHAT_EV_DONE, .exit_code = l->exit_code };
        l->done = 1;
        chat_link_emit(l, &ev);
    }
}

static void timer_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

void chat_link_finish(chat_link *l, int exit_code)
{
    uv_timer_t *timers[] = { &l->deadline, &l->retry, &l->forget, &l->tick };
    if (l->closing)
        return;
    l->closing = 1;
    l->exit_code = exit_code;
    l->open_handles = 4;
    if (l->conn) {
        l->open_handles++;
        fkex_conn_close(l->conn, "session over");
    }
    for (size_t i = 0; i < 4; i++) {
        uv_timer_stop(timers[i]);
        uv_close((uv_handle_t *)timers[i], timer_closed);
    }
}

void chat_link_report(chat_link *l, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    chat_report(&l->cfg, code, fmt, ap);
    va_end(ap);
}

void chat_link_fail(chat_link *l, int exit_code, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    chat_report(&l->cfg, code, fmt, ap);
    va_end(ap);
    chat_link_finish(l, exit_code);
}

/* ---- to the relay ------------------------------------------------------------------ */

void chat_link_send(chat_link *l, const fkex_relay_msg *m)
{
    if (!l->closing && l->conn && chat_send_envelope(l->conn, m) != FKEX_OK)
        chat_link_fail(l, 2, "out_of_memory", "out of memory");
}

static void send_submit(chat_link *l, const chat_unanswered *u)
{
    fkex_relay_msg m = { .kind = FKEX_RELAY_SUBMIT, .seq = u->seq, .data = u->bytes,
                         .datalen = u->len };
    memcpy(m.room_id, l->cfg.room_id, 32);
    chat_link_send(l, &m);
}

/* A copy is kept until the relay answers: the relay may lose it (or its
 * answer) in a reconnection, and a copy it did store is harmless. */
uint64_t chat_link_submit(chat_link *l, const uint8_t *msg, size_t len)
{
    chat_unanswered *u;
    if (l->nunacked == l->unackedcap) {
        size_t cap = l->unackedcap ? 2 * l->unackedcap : 16;
        chat_unanswered *grown = cap <= MAX_UNANSWERED ? realloc(l->unacked, cap * sizeof *grown)
                                                       : NULL;
        if (!grown) {
            chat_link_report(l, "not_sent", "not sent: the relay has not answered %zu messages",
                             l->nunacked);
            return 0;
        }
        l->unacked = grown;
        l->unackedcap = cap;
    }
    u = &l->unacked[l->nunacked];
    if ((u->bytes = malloc(len ? len : 1)) == NULL) {
        chat_link_report(l, "not_sent", "not sent: out of memory");
        return 0;
    }
    memcpy(u->bytes, msg, len);
    u->len = len;
    u->seq = ++l->next_cseq;
    u->text = l->sending;
    l->texts_unanswered += u->text != 0;
    l->nunacked++;
    if (!l->reconnecting)
        send_submit(l, u);
    return u->seq;
}

/* SUBMIT seq and anything older are settled. */
static void answered(chat_link *l, uint64_t seq, int accepted)
{
    size_t k = 0;
    if (l->ops->answered)
        l->ops->answered(l, seq, accepted);
    for (; k < l->nunacked && l->unacked[k].seq <= seq && !l->closing; k++) {
        chat_unanswered *u = &l->unacked[k];
        free(u->bytes);
        if (!u->text)
            continue;
        l->texts_unanswered--;
        if (accepted) {
            chat_event ev = { .kind = CHAT_EV_SENT, .count = u->text };
            chat_link_emit(l, &ev);
        } else {
            chat_link_report(l, "not_sent", "message %llu was not sent: the relay refused it",
                             (unsigned long long)u->text);
        }
    }
    if (k == 0)
        return;   /* (and unacked may be NULL, which memmove may not be given) */
    memmove(l->unacked, l->unacked + k, (l->nunacked - k) * sizeof *l->unacked);
    l->nunacked -= k;
}

void chat_link_hello(chat_link *l)
{
    fkex_relay_msg m = { .kind = FKEX_RELAY_HELLO, .has_leaf = 1, .seq = l->last_seq };
    memcpy(m.room_id, l->cfg.room_id, 32);
    memcpy(m.leaf, l->v, 32);
    chat_link_send(l, &m);
}

/* ---- from the relay ---------------------------------------------------------------- */

/* A joiner's first DESCRIPTOR: the invitation's room, in this mode. */
static void on_descriptor(chat_link *l, const fkex_relay_msg *m)
{
    fkex_rmsg_descriptor d;
    fkex_err err = fkex_room_descriptor_check(&d, l->cfg.room_id, m->data, m->datalen);
    if (err != FKEX_OK) {
        chat_link_fail(l, 2, "bad_descriptor",
                       "the relay's descriptor is not the invitation's room (%s); the relay may "
                       "be misbehaving", fkex_strerror(err));
        return;
    }
    if (!(d.options & FKEX_ROOM_SEED_MODE) != !l->ops->seed_mode) {
        chat_link_fail(l, 2, "wrong_mode", "%s", l->ops->wrong_mode);
        return;
    }
    if ((l->desc = malloc(m->datalen)) == NULL) {
        chat_link_fail(l, 2, "out_of_memory", "out of memory");
        return;
    }
    memcpy(l->desc, m->data, m->datalen);
    l->desclen = m->datalen;
    l->ops->join(l, &d);
}

static void on_ready(chat_link *l)
{
    l->tried = 0;
    if (l->reconnecting) {
        chat_event ev = { .kind = CHAT_EV_CONNECTION, .code = "online",
                          .message = "reconnected to the relay" };
        l->reconnecting = 0;
        l->retry_ms = 0;
        for (size_t i = 0; i < l->nunacked; i++)
            send_submit(l, &l->unacked[i]);
        chat_link_emit(l, &ev);
        return;
    }
    if (l->ready)
        return;
    l->ready = 1;
    uv_timer_stop(&l->deadline);
    l->ops->ready(l);
}

static void on_deliver(chat_link *l, const fkex_relay_msg *m)
{
    if (sodium_memcmp(m->room_id, l->cfg.room_id, 32) != 0 || m->seq <= l->last_seq)
        return;   /* not ours, or seen already */
    l->last_seq = m->seq;
    l->ops->deliver(l, m->data, m->datalen);
}

static void on_relay_error(chat_link *l, const fkex_relay_msg *m)
{
    char text[FKEX_RELAY_TEXT_MAX + 1];
    chat_error_text(text, m);
    if (m->seq != 0 && m->seq <= l->next_cseq) {
        answered(l, m->seq, 0);
        l->ops->refused(l, m->seq, m->code, text);
    } else if (l->ready) {
        chat_link_report(l, "relay_error", "the relay says: %s", text);
    } else if (m->code == FKEX_RELAY_E_NO_ROOM) {
        chat_link_fail(l, 2, "no_room", "the relay at %s does not host this room (%s)", chat_where(l->addr),
                       text);
    } else if (m->code == FKEX_RELAY_E_ROOM_EXISTS) {
        chat_link_fail(l, 2, "room_exists", "the relay at %s already hosts this room: join it "
                                            "without --found", chat_where(l->addr));
    } else {
        chat_link_fail(l, 2, "relay_refused", "the relay at %s refused us: %s", chat_where(l->addr), text);
    }
}

static void on_frame(fkex_conn *conn, const uint8_t *frame, size_t len)
{
    chat_link *l = fkex_conn_data(conn);
    fkex_relay_msg m, r = { 0 };
    if (l->closing)
        return;
    if (fkex_relay_msg_decode(&m, frame, len) != FKEX_OK) {
        chat_link_fail(l, 2, "relay_error", "the relay sent a frame that does not decode");
        return;
    }
    switch (m.kind) {
    case FKEX_RELAY_NONCE:
        r.kind = FKEX_RELAY_AUTH;
        if (l->ops->auth_sign(l, r.sig, m.nonce) != 0) {
            chat_link_fail(l, 2, "relay_error", "cannot answer the relay's challenge");
            return;
        }
        chat_link_send(l, &r);
        break;
    case FKEX_RELAY_READY:
        if (sodium_memcmp(m.room_id, l->cfg.room_id, 32) == 0)
            on_ready(l);
        break;
    case FKEX_RELAY_ACCEPTED:
        answered(l, m.seq, 1);
        break;
    case FKEX_RELAY_DELIVER:
        on_deliver(l, &m);
        break;
    case FKEX_RELAY_ERROR:
        on_relay_error(l, &m);
        break;
    case FKEX_RELAY_PING:
        r.kind = FKEX_RELAY_PONG;
        r.cookie = m.cookie;
        chat_link_send(l, &r);
        break;
    default:   /* DESCRIPTOR after the first, GONE, ...: the mode's */
        if (m.kind == FKEX_RELAY_DESCRIPTOR && !l->founder && !l->desc)
            on_descriptor(l, &m);
        else if (l->ops->frame)
            l->ops->frame(l, &m);
        break;
    }
    if (l->ops->after_frame)
        l->ops->after_frame(l);
    if (l->quitting && l->nunacked == 0 && (l->joined || l->texts.n == 0))
        chat_link_finish(l, 0);
}

/* ---- the connection ---------------------------------------------------------------- */

static fkex_err dial(chat_link *l);

/* The invitation's next relay, in turn. */
static void next_relay(chat_link *l)
{
    l->relay_at = (l->relay_at + 1) % l->nrelays;
    fkex_net_address_nth(l->addr, sizeof l->addr, l->relays, l->relay_at);
}

static void on_retry(uv_timer_t *t)
{
    chat_link *l = t->data;
    if (!l->closing && dial(l) != FKEX_OK)
        chat_link_fail(l, 2, "relay_lost", "cannot connect to the relay at %s again", chat_where(l->addr));
}

static void on_close(fkex_conn *conn, const char *why)
{
    chat_link *l = fkex_conn_data(conn);
    uint64_t now = uv_now(l->loop);
    l->conn = NULL;
    if (l->closing) {
        handle_closed(l);
        return;
    }
    if (l->rejoining) {
        l->rejoining = 0;
        if (dial(l) != FKEX_OK)
            chat_link_fail(l, 2, "relay_lost", "cannot connect to the relay at %s again", chat_where(l->addr));
        return;
    }
    if (!l->ready && !l->reconnecting) {
        if (++l->tried < l->nrelays) {   /* the invitation's next relay */
            next_relay(l);
            if (dial(l) != FKEX_OK)
                chat_link_fail(l, 2, "relay_unreachable", "cannot connect to the relay at %s",
                               chat_where(l->addr));
            return;
        }
        chat_link_fail(l, 2, "relay_unreachable", "cannot reach the relay at %s%s: %s", chat_where(l->addr),
                       l->nrelays > 1 ? " (nor the invitation's other relays)" : "", why);
        return;
    }
    if (l->quitting) {
        /* What a quitting member sent and the relay did not answer may be lost. */
        chat_link_fail(l, 2, "relay_lost", "lost the connection to the relay at %s%s: %s",
                       chat_where(l->addr), l->nunacked ? " before it stored everything sent" : "", why);
        return;
    }
    /* A member, and a joiner too: the relay keeps its JoinRequest (on disk,
     * across a restart) and replays what was addressed to it since
     * last_seq, so its admission goes on where it was. */
    if (!l->reconnecting) {
        char msg[400];
        snprintf(msg, sizeof msg, "lost the connection to the relay at %s (%s); reconnecting",
                 chat_where(l->addr), why);
        chat_event ev = { .kind = CHAT_EV_CONNECTION, .code = "reconnecting", .message = msg };
        l->reconnecting = 1;
        l->lost_at = now;
        chat_link_emit(l, &ev);
    } else if (now - l->lost_at >= l->cfg.reconnect_ms) {
        chat_link_fail(l, 2, "relay_lost", "lost the connection to the relay at %s and could not "
                       "reconnect within %u s: %s", chat_where(l->addr), l->cfg.reconnect_ms / 1000, why);
        return;
    }
    next_relay(l);   /* (this one again, if it is the only one) */
    l->retry_ms = l->retry_ms ? l->retry_ms * 2 : RETRY_FIRST_MS;
    if (l->retry_ms > RETRY_MAX_MS)
        l->retry_ms = RETRY_MAX_MS;
    uv_timer_start(&l->retry, on_retry, l->retry_ms, 0);
}

static void on_connected(fkex_conn *conn, int status)
{
    chat_link *l = fkex_conn_data(conn);
    fkex_relay_msg m = { 0 };
    if (status != 0 || l->closing)
        return;   /* the close callback reports it */
    memcpy(m.room_id, l->cfg.room_id, 32);
    if (l->reconnecting) {
        chat_link_hello(l);   /* the relay replays what we missed since last_seq */
    } else if (l->founder) {
        m.kind = FKEX_RELAY_CREATE_ROOM;
        m.data = l->desc;
        m.datalen = l->desclen;
        memcpy(m.leaf, l->v, 32);
        /* Signed once: the admin's key is needed for this one signature,
         * which the invitation's next relay gets too if this one fails. */
        if (!l->create_signed) {
            fkex_err err = fkex_relay_create_sign(l->create_sig, l->admin_sk, l->cfg.room_id, l->v);
            sodium_memzero(l->admin_sk, sizeof l->admin_sk);
            if (err != FKEX_OK) {
                chat_link_fail(l, 2, "internal", "cannot sign the room's creation");
                return;
            }
            l->create_signed = 1;
        }
        memcpy(m.sig, l->create_sig, 64);
        chat_link_send(l, &m);
        l->ops->created(l);
    } else {
        m.kind = FKEX_RELAY_GET_DESCRIPTOR;
        chat_link_send(l, &m);
    }
}

static fkex_err dial(chat_link *l)
{
    static const fkex_net_limits lim = { FKEX_RELAY_ENVELOPE_MAX + 16,
                                         4 * FKEX_RELAY_ENVELOPE_MAX };
    char err[128];
    fkex_err e = fkex_conn_connect(&l->conn, l->loop, l->addr, &lim, l->cfg.tls, on_connected, err);
    if (e == FKEX_OK)
        fkex_conn_set(l->conn, on_frame, on_close, l);
    return e;
}

void chat_link_rejoin(chat_link *l)
{
    /* What the relay has not stored was sealed under the state that is
     * gone: it cannot be sent again, and the front end is told. */
    for (size_t i = 0; i < l->nunacked; i++) {
        if (l->unacked[i].text) {
            l->texts_unanswered--;   /* answered by the report: the backlog it sees is down */
            chat_link_report(l, "not_sent", "message %llu was not sent: this member lost its "
                             "place in the room before the relay stored it",
                             (unsigned long long)l->unacked[i].text);
        }
        free(l->unacked[i].bytes);
    }
    l->nunacked = 0;
    l->texts_unanswered = 0;
    free(l->desc);   /* the relay's current one is fetched and checked again */
    l->desc = NULL;
    l->desclen = 0;
    l->founder = l->ready = l->joined = l->reconnecting = 0;
    l->retry_ms = 0;
    uv_timer_stop(&l->retry);
    chat_link_await(l, l->cfg.connect_timeout_ms);
    if (l->conn) {
        l->rejoining = 1;
        fkex_conn_close(l->conn, "re-entering the room");
    } else if (dial(l) != FKEX_OK) {
        chat_link_fail(l, 2, "relay_lost", "cannot connect to the relay at %s again", chat_where(l->addr));
    }
}

/* ---- timers ------------------------------------------------------------------------- */

/* Nobody committed this member's leave in time: no other member is
 * online, most likely. Its keys go with its process, so it reads nothing
 * more; its place goes when a member removes it (the relay names it once
 * its grace period ends). That is a leave, said plainly, not a failure. */
static void left_alone(chat_link *l)
{
    char msg[300];
    snprintf(msg, sizeof msg, "%s within %u s (no other member online?): this member's keys are "
             "wiped, so it reads nothing more, and its place goes when a member removes it",
             l->ops->leave_late, l->cfg.leave_timeout_ms / 1000);
    chat_event ev = { .kind = CHAT_EV_LEFT, .code = "pending", .message = msg };
    l->joined = 0;
    chat_link_emit(l, &ev);
    chat_link_finish(l, 0);
}

static void on_deadline(uv_timer_t *t)
{
    chat_link *l = t->data;
    if (l->closing)
        return;
    if (l->quitting && l->joined && l->texts_unanswered)
        chat_link_fail(l, 2, "not_sent", "%zu of the messages sent were not stored by the relay "
                       "within %u s of quitting: they may not have reached the room",
                       l->texts_unanswered, QUIT_DRAIN_MS / 1000);
    else if (l->quitting && l->joined)
        chat_link_finish(l, 0);   /* what is left unanswered carries no text (acks) */
    else if (l->leaving)
        left_alone(l);
    else if (!l->ready)
        chat_link_fail(l, 2, "relay_unreachable", "the relay at %s did not answer within %u s",
                       chat_where(l->addr), l->cfg.connect_timeout_ms / 1000);
    else if (!l->joined)
        chat_link_fail(l, 2, "join_timeout", "%s within %u s%s", l->ops->join_late,
                       l->cfg.join_timeout_ms / 1000, l->ops->join_late_hint);
}

void chat_link_await(chat_link *l, unsigned ms)
{
    uv_timer_start(&l->deadline, on_deadline, ms, 0);
}

static void on_forget(uv_timer_t *t)
{
    chat_link *l = t->data;
    l->ops->forget(l);
}

void chat_link_forget_later(chat_link *l)
{
    uv_timer_start(&l->forget, on_forget, CHAT_LINK_FORGET_MS, 0);
}

static void on_tick(uv_timer_t *t)
{
    chat_link *l = t->data;
    l->ops->tick(l);
}

/* ---- the session's course ------------------------------------------------------------ */

/* A chat line with this member's nickname, sent now. */
/* Text number n (its ordinal) encoded and handed to the mode. */
static void send_one(chat_link *l, uint64_t n, const char *text, size_t len)
{
    struct timespec ts;
    uint8_t *content = NULL;
    size_t clen = 0;
    clock_gettime(CLOCK_REALTIME, &ts);
    chat_content cc = { .nick = l->nick, .nicklen = strlen(l->nick), .text = text, .textlen = len,
                        .sent_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u };
    if (chat_content_encode(&content, &clen, &cc) != FKEX_OK) {
        chat_link_report(l, "bad_text", "message %llu not sent: the text must be UTF-8 of at "
                         "most %d bytes, without control characters other than newlines and tabs",
                         (unsigned long long)n, CHAT_TEXT_MAX);
        return;
    }
    l->sending = n;
    l->ops->send(l, &cc, content, clen);
    l->sending = 0;
    sodium_memzero(content, clen);
    free(content);
}

/* The queued texts go in order: their ordinals are consecutive. */
static void send_queued(void *ctx, const char *text, size_t len)
{
    chat_link *l = ctx;
    send_one(l, l->queued_first++, text, len);
}

void chat_link_joined(chat_link *l, uint64_t epoch, uint32_t members)
{
    chat_event ev = { .kind = CHAT_EV_JOINED, .epoch = epoch, .members = members };
    l->joined = 1;
    uv_timer_stop(&l->deadline);
    /* What was said before the join goes first, so that a front end that
     * quits on this event loses none of it. */
    chat_texts_flush(&l->texts, send_queued, l, &l->closing);
    if (!l->closing)
        chat_link_emit(l, &ev);
    if (!l->closing && l->quitting)   /* asked to quit before the join: now drain */
        chat_link_await(l, QUIT_DRAIN_MS);
}

void chat_link_leaving(chat_link *l)
{
    l->leaving = 1;
    chat_link_await(l, l->cfg.leave_timeout_ms);
}

/* ---- the front end's calls ------------------------------------------------------------ */

fkex_err chat_link_init(chat_link *l, uv_loop_t *loop, const chat_client_config *cfg,
                        const chat_link_ops *ops)
{
    if (!cfg->relay || !cfg->key || !cfg->nick || !chat_nick_ok(cfg->nick, strlen(cfg->nick)) ||
        !(l->nrelays = fkex_net_address_list(cfg->relay)) ||
        (cfg->found_descriptor && !cfg->admin_sk))
        return FKEX_ERR_ARGUMENT;
    l->ops = ops;
    l->loop = loop;
    l->cfg = *cfg;
    if (!l->cfg.connect_timeout_ms)
        l->cfg.connect_timeout_ms = 15000;
    if (!l->cfg.join_timeout_ms)
        l->cfg.join_timeout_ms = 60000;
    if (!l->cfg.leave_timeout_ms)
        l->cfg.leave_timeout_ms = 15000;
    if (!l->cfg.reconnect_ms)
        l->cfg.reconnect_ms = 60000;
    if (!l->cfg.update_interval_ms)
        l->cfg.update_interval_ms = 15 * 60 * 1000;
    snprintf(l->relays, sizeof l->relays, "%s", cfg->relay);
    fkex_net_address_nth(l->addr, sizeof l->addr, l->relays, 0);
    snprintf(l->nick, sizeof l->nick, "%s", cfg->nick);
    l->cfg.relay = l->relays;
    l->cfg.nick = l->nick;
    l->cfg.found_descriptor = NULL;
    l->cfg.admin_sk = NULL;
    if (cfg->found_descriptor) {
        l->founder = 1;
        memcpy(l->admin_sk, cfg->admin_sk, 64);
        if ((l->desc = malloc(cfg->found_descriptor_len ? cfg->found_descriptor_len : 1)) == NULL)
            return FKEX_ERR_NO_MEMORY;
        memcpy(l->desc, cfg->found_descriptor, cfg->found_descriptor_len);
        l->desclen = cfg->found_descriptor_len;
    }
    return FKEX_OK;
}

fkex_err chat_link_start(chat_link *l)
{
    uv_timer_t *timers[] = { &l->deadline, &l->retry, &l->forget, &l->tick };
    fkex_err e = dial(l);
    if (e != FKEX_OK)
        return e;
    for (size_t i = 0; i < 4; i++) {
        uv_timer_init(l->loop, timers[i]);
        timers[i]->data = l;
    }
    if (l->ops->tick)
        uv_timer_start(&l->tick, on_tick, TICK_MS, TICK_MS);
    chat_link_await(l, l->cfg.connect_timeout_ms);
    return FKEX_OK;
}

void chat_link_clear(chat_link *l)
{
    sodium_memzero(l->admin_sk, sizeof l->admin_sk);
    if (l->desc) {
        sodium_memzero(l->desc, l->desclen);
        free(l->desc);
        l->desc = NULL;
    }
    chat_texts_wipe(&l->texts);
    for (size_t i = 0; i < l->nunacked; i++)
        free(l->unacked[i].bytes);
    free(l->unacked);
    l->unacked = NULL;
    l->nunacked = l->unackedcap = l->texts_unanswered = 0;
}

void chat_link_text(chat_link *l, const char *text, size_t len)
{
    uint64_t n;
    if (l->closing || l->leaving || l->quitting)
        return;
    n = ++l->texts_in;
    if (l->joined) {
        send_one(l, n, text, len);
        return;
    }
    if (l->texts.n == 0)
        l->queued_first = n;
    if (chat_texts_add(&l->texts, text, len) != 0)
        chat_link_report(l, "not_sent", "message %llu not sent: too many messages wait for "
                         "the join", (unsigned long long)n);
}

size_t chat_link_backlog(const chat_link *l)
{
    return l->texts.n + l->texts_unanswered;
}

int chat_link_may_leave(chat_link *l)
{
    if (l->closing || l->leaving)
        return 0;
    if (!l->joined) {
        chat_link_finish(l, 0);   /* not in the room: nothing to leave */
        return 0;
    }
    return 1;
}

void chat_link_quit(chat_link *l)
{
    if (l->closing)
        return;
    l->quitting = 1;
    if (!l->joined && l->texts.n) {
        /* Texts wait for the join: it comes (within its own deadline),
         * they go, and the quit drains them (chat_link_joined). */
        return;
    }
    if (l->nunacked == 0 || !l->conn) {
        chat_link_finish(l, 0);
        return;
    }
    chat_link_await(l, QUIT_DRAIN_MS);
}

fkex_err chat_link_set_nick(chat_link *l, const char *nick)
{
    size_t len = strlen(nick);
    if (!chat_nick_ok(nick, len))
        return FKEX_ERR_ARGUMENT;
    memcpy(l->nick, nick, len + 1);
    return FKEX_OK;
}

void chat_link_status(chat_status *s, const chat_link *l, int joining)
{
    fkex_rmsg_descriptor d;
    memset(s, 0, sizeof *s);
    memcpy(s->room_id, l->cfg.room_id, 32);
    s->state = l->closing ? CHAT_CLOSED : l->reconnecting ? CHAT_RECONNECTING
             : l->joined ? CHAT_ONLINE : l->ready || joining ? CHAT_JOINING : CHAT_CONNECTING;
    if (l->desc && fkex_rmsg_descriptor_decode(&d, l->desc, l->desclen) == FKEX_OK) {
        s->name = (const char *)d.name;
        s->namelen = d.namelen;
        s->policy = (const char *)d.policy;
        s->policylen = d.policylen;
    }
}
