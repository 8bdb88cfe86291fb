/*
 * chat/seed_client.c: a member's session in a seed-mode room
 * (chat/seed_client.h). One relay connection; gke/seed.h decides, this
 * file moves its messages, seals and opens the chat lines, and reports
 * events through the same callback as chat/client.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "inner.h"
#include "chat/chat.h"
#include "chat/seed_client.h"
#include "net/net.h"
#include "wire/relay_msg.h"

#define QUIT_DRAIN_MS 5000u
#define FORGET_PREVIOUS_MS 10000u  /* the previous epoch's key reads late messages this long */
#define MAX_QUEUED_TEXTS 256
#define MAX_UNANSWERED 4096
#define RETRY_FIRST_MS 200u
#define RETRY_MAX_MS 5000u
#define SEEN_NONCES 1024           /* message nonces remembered, against resent copies */

typedef struct {
    uint64_t seq;
    uint8_t *bytes;
    size_t len;
} pending;

typedef struct {
    uint32_t index;
    char nick[CHAT_NICK_MAX + 1];
} member_name;

struct seed_client {
    uv_loop_t *loop;
    chat_client_config cfg;
    char addr[300], nick[CHAT_NICK_MAX + 1];
    uint8_t admin_sk[64], sk[64], v[32];   /* v: this session's key at the relay */
    uint8_t *desc;
    size_t desclen;
    int founder;
    fkex_policy *policy;
    fkex_seed *st;
    fkex_rng rng;
    fkex_conn *conn;
    uint8_t *join;               /* the Encapsulation, until READY */
    size_t joinlen;

    uint64_t next_cseq, last_seq;
    pending *unacked;
    size_t nunacked, unackedcap;

    uint8_t key[32], prev_key[32];
    uint64_t epoch, prev_epoch;
    int has_prev;
    uint64_t reported_epoch;
    member_name *names;          /* the current members, by index */
    size_t nnames;
    uint8_t seen[SEEN_NONCES][FKEX_SEED_APP_NONCE];
    size_t nseen;

    char *texts[MAX_QUEUED_TEXTS];
    size_t textlens[MAX_QUEUED_TEXTS], ntexts;

    int ready, joined, leaving, quitting, reconnecting;
    unsigned retry_ms;
    uint64_t lost_at;
    uv_timer_t deadline, forget, retry;
    int closing, open_handles, exit_code, done;
};

static void emit(seed_client *c, const chat_event *ev)
{
    if (c->cfg.on_event)
        c->cfg.on_event(c->cfg.ctx, ev);
}

static void handle_closed(seed_client *c)
{
    if (--c->open_handles == 0 && !c->done) {
        chat_event ev = { .kind = CHAT_EV_DONE, .exit_code = c->exit_code };
        c->done = 1;
        emit(c, &ev);
    }
}

static void timer_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

static void finish(seed_client *c, int exit_code)
{
    if (c->closing)
        return;
    c->closing = 1;
    c->exit_code = exit_code;
    c->open_handles = 3;
    if (c->conn) {
        c->open_handles++;
        fkex_conn_close(c->conn, "session over");
    }
    uv_close((uv_handle_t *)&c->deadline, timer_closed);
    uv_close((uv_handle_t *)&c->forget, timer_closed);
    uv_close((uv_handle_t *)&c->retry, timer_closed);
}

static void report(seed_client *c, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(seed_client *c, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    chat_event ev = { .kind = CHAT_EV_ERROR, .code = code, .message = msg };
    emit(c, &ev);
}

#define FAIL(c, exit_code, code, ...) do { report(c, code, __VA_ARGS__); finish(c, exit_code); } while (0)

/* A member's pseudonym: members know each other by index only. */
static void pseudonym(uint8_t out[32], const seed_client *c, uint32_t index)
{
    static const char label[] = "fkex v1 seed member";
    uint8_t buf[sizeof label - 1 + 32 + 4];
    memcpy(buf, label, sizeof label - 1);
    memcpy(buf + sizeof label - 1, c->cfg.room_id, 32);
    store32_be(buf + sizeof label - 1 + 32, index);
    crypto_hash_sha256(out, buf, sizeof buf);
}

static member_name *name_of(seed_client *c, uint32_t index)
{
    for (size_t i = 0; i < c->nnames; i++)
        if (c->names[i].index == index)
            return &c->names[i];
    return NULL;
}

/* ---- to the relay ---------------------------------------------------------------- */

static void send_envelope(seed_client *c, const fkex_relay_msg *m)
{
    fkex_writer w;
    if (c->closing || !c->conn)
        return;
    fkex_writer_init(&w);
    fkex_relay_msg_encode(&w, m);
    if (w.failed)
        FAIL(c, 2, "out_of_memory", "out of memory");
    else
        (void)fkex_conn_send(c->conn, w.buf, w.len);
    fkex_writer_free(&w);
}

static void send_pending(seed_client *c, const pending *p)
{
    fkex_relay_msg m = { .kind = FKEX_RELAY_SUBMIT, .seq = p->seq, .data = p->bytes,
                         .datalen = p->len };
    memcpy(m.room_id, c->cfg.room_id, 32);
    send_envelope(c, &m);
}

/* Sends msg, keeping it until the relay answers (a reconnection sends it
 * again); takes ownership of msg. */
static void submit(seed_client *c, uint8_t *msg, size_t len)
{
    if (c->nunacked == c->unackedcap) {
        size_t cap = c->unackedcap ? 2 * c->unackedcap : 16;
        pending *grown = cap <= MAX_UNANSWERED ? realloc(c->unacked, cap * sizeof *grown) : NULL;
        if (!grown) {
            free(msg);
            report(c, "not_sent", "not sent: the relay has not answered %zu messages", c->nunacked);
            return;
        }
        c->unacked = grown;
        c->unackedcap = cap;
    }
    pending *p = &c->unacked[c->nunacked++];
    *p = (pending){ ++c->next_cseq, msg, len };
    if (!c->reconnecting)
        send_pending(c, p);
}

static void answered(seed_client *c, uint64_t seq)
{
    size_t k = 0;
    while (k < c->nunacked && c->unacked[k].seq <= seq)
        free(c->unacked[k++].bytes);
    if (k == 0)
        return;
    memmove(c->unacked, c->unacked + k, (c->nunacked - k) * sizeof *c->unacked);
    c->nunacked -= k;
}

static void hello(seed_client *c)
{
    fkex_relay_msg m = { .kind = FKEX_RELAY_HELLO, .has_leaf = 1, .seq = c->last_seq };
    memcpy(m.room_id, c->cfg.room_id, 32);
    memcpy(m.leaf, c->v, 32);
    send_envelope(c, &m);
}

/* ---- the state machine's output -------------------------------------------------------- */

static void send_text(seed_client *c, const char *text, size_t len);

static void forget_previous(uv_timer_t *t)
{
    seed_client *c = t->data;
    sodium_memzero(c->prev_key, sizeof c->prev_key);
    c->has_prev = 0;
}

/* A new epoch: its key, the previous one kept a while, the names by index. */
static void new_epoch(seed_client *c, uint64_t epoch)
{
    size_t n = fkex_seed_members(c->st);
    member_name *names = calloc(n ? n : 1, sizeof *names);
    if (c->joined) {
        memcpy(c->prev_key, c->key, 32);
        c->prev_epoch = c->epoch;
        c->has_prev = 1;
        uv_timer_start(&c->forget, forget_previous, FORGET_PREVIOUS_MS, 0);
    }
    if (fkex_seed_key(c->key, c->st) != 0) {
        free(names);
        return;
    }
    c->epoch = epoch;
    if (!names) {
        report(c, "out_of_memory", "out of memory: the member list is not up to date");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        names[i].index = fkex_seed_member(c->st, i);
        member_name *was = name_of(c, names[i].index);
        if (was)
            memcpy(names[i].nick, was->nick, sizeof was->nick);
    }
    free(c->names);
    c->names = names;
    c->nnames = n;
}

static void membership(seed_client *c, const fkex_gke_event *e)
{
    uint8_t leaf[32];
    member_name *who = name_of(c, e->member);
    chat_event ev = { .kind = e->kind == FKEX_GKE_EV_ADDED ? CHAT_EV_ADDED : CHAT_EV_REMOVED,
                      .epoch = e->epoch, .members = e->members, .member = e->member, .leaf = leaf };
    pseudonym(leaf, c, e->member);
    if (who && ev.kind == CHAT_EV_REMOVED) {
        ev.nick = who->nick;
        ev.nicklen = strlen(who->nick);
    }
    emit(c, &ev);
}

static void joined(seed_client *c, const fkex_gke_event *e)
{
    chat_event ev = { .kind = CHAT_EV_JOINED, .epoch = e->epoch, .members = e->members };
    c->joined = 1;
    c->reported_epoch = e->epoch;
    uv_timer_stop(&c->deadline);
    for (size_t i = 0; i < c->ntexts && !c->closing; i++)
        send_text(c, c->texts[i], c->textlens[i]);
    for (size_t i = 0; i < c->ntexts; i++) {
        sodium_memzero(c->texts[i], c->textlens[i]);
        free(c->texts[i]);
    }
    c->ntexts = 0;
    if (!c->closing)
        emit(c, &ev);
}

static void absorb(seed_client *c, fkex_gke_out *out)
{
    for (size_t i = 0; i < out->nmsgs && !c->closing; i++) {
        submit(c, out->msgs[i].bytes, out->msgs[i].len);   /* a rekey */
        out->msgs[i].bytes = NULL;
    }
    for (size_t i = 0; i < out->nevents && !c->closing; i++) {
        const fkex_gke_event *e = &out->events[i];
        switch (e->kind) {
        case FKEX_GKE_EV_JOINED:
            new_epoch(c, e->epoch);
            joined(c, e);
            break;
        case FKEX_GKE_EV_EPOCH:
            if (e->epoch == c->reported_epoch)
                break;   /* the join's, said by JOINED */
            new_epoch(c, e->epoch);
            c->reported_epoch = e->epoch;
            chat_event ev = { .kind = CHAT_EV_EPOCH, .epoch = e->epoch, .members = e->members };
            emit(c, &ev);
            break;
        case FKEX_GKE_EV_ADDED:
        case FKEX_GKE_EV_REMOVED:
            if (c->joined)
                membership(c, e);
            break;
        case FKEX_GKE_EV_LEFT: {
            chat_event ev = { .kind = CHAT_EV_LEFT };
            c->joined = 0;
            if (!c->leaving)
                report(c, "removed", "the relay removed you from the room (away past its grace "
                                     "period)");
            emit(c, &ev);
            finish(c, c->leaving ? 0 : 1);
            break;
        }
        default:
            break;
        }
    }
    fkex_gke_out_clear(out);
}

static void send_text(seed_client *c, const char *text, size_t len)
{
    struct timespec ts;
    uint8_t *content = NULL, *msg;
    size_t clen = 0, msglen;
    clock_gettime(CLOCK_REALTIME, &ts);
    chat_content cc = { .nick = c->nick, .nicklen = strlen(c->nick), .text = text, .textlen = len,
                        .sent_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u };
    if (chat_content_encode(&content, &clen, &cc) != FKEX_OK) {
        report(c, "bad_text", "not sent: the text must be UTF-8 of at most %d bytes, without "
                              "control characters other than newlines and tabs", CHAT_TEXT_MAX);
        return;
    }
    uint32_t self = fkex_seed_index(c->st);
    fkex_err err = fkex_seed_app_seal(&msg, &msglen, c->key, c->cfg.room_id, c->epoch, self,
                                      content, clen, &c->rng);
    sodium_memzero(content, clen);
    free(content);
    if (err != FKEX_OK) {
        report(c, "not_sent", "not sent: %s", fkex_strerror(err));
        return;
    }
    submit(c, msg, msglen);
    if (!c->closing) {
        uint8_t leaf[32];
        pseudonym(leaf, c, self);
        chat_event ev = { .kind = CHAT_EV_MESSAGE, .epoch = c->epoch, .nick = cc.nick,
                          .nicklen = cc.nicklen, .text = text, .textlen = len,
                          .sent_ms = cc.sent_ms, .member = self, .own = 1, .leaf = leaf };
        emit(c, &ev);
    }
}

/* ---- from the relay ---------------------------------------------------------------------- */

/* 1 if this nonce was seen already (then the message is a copy). */
static int seen_before(seed_client *c, const uint8_t nonce[FKEX_SEED_APP_NONCE])
{
    size_t n = c->nseen < SEEN_NONCES ? c->nseen : SEEN_NONCES;
    for (size_t i = 0; i < n; i++)
        if (memcmp(c->seen[i], nonce, FKEX_SEED_APP_NONCE) == 0)
            return 1;
    memcpy(c->seen[c->nseen++ % SEEN_NONCES], nonce, FKEX_SEED_APP_NONCE);
    return 0;
}

static void on_application(seed_client *c, const uint8_t *msg, size_t len, uint64_t epoch)
{
    const uint8_t *key = epoch == c->epoch ? c->key
                       : c->has_prev && epoch == c->prev_epoch ? c->prev_key : NULL;
    fkex_seed_msg m;
    uint8_t *plain, leaf[32];
    size_t plainlen;
    chat_content cc;
    if (!c->joined || !key || fkex_seed_app_open(&plain, &plainlen, &m, key, c->cfg.room_id, msg,
                                                 len) != FKEX_OK)
        return;   /* not ours to read, or not for an epoch we hold */
    if (m.index != fkex_seed_index(c->st) && !seen_before(c, m.nonce) &&
        chat_content_decode(&cc, plain, plainlen) == FKEX_OK) {
        member_name *who = name_of(c, m.index);
        if (who && cc.nicklen <= CHAT_NICK_MAX) {
            memcpy(who->nick, cc.nick, cc.nicklen);
            who->nick[cc.nicklen] = 0;
        }
        pseudonym(leaf, c, m.index);
        chat_event ev = { .kind = CHAT_EV_MESSAGE, .epoch = m.epoch, .nick = cc.nick,
                          .nicklen = cc.nicklen, .text = cc.text, .textlen = cc.textlen,
                          .sent_ms = cc.sent_ms, .member = m.index, .leaf = leaf };
        emit(c, &ev);
    }
    sodium_memzero(plain, plainlen);
    free(plain);
    fkex_seed_msg_clear(&m);
}

static void on_deliver(seed_client *c, const fkex_relay_msg *m)
{
    fkex_gke_out out;
    uint8_t type, room[32];
    uint64_t epoch;
    if (!c->st || sodium_memcmp(m->room_id, c->cfg.room_id, 32) != 0 || m->seq <= c->last_seq)
        return;
    c->last_seq = m->seq;
    if (fkex_seed_msg_peek(&type, room, &epoch, m->data, m->datalen) != FKEX_OK)
        return;
    if (type == FKEX_SEED_MSG_APP) {
        on_application(c, m->data, m->datalen, epoch);
        return;
    }
    fkex_gke_out_init(&out);
    fkex_err err = fkex_seed_receive(c->st, m->data, m->datalen, &c->rng, &out);
    if (err == FKEX_OK) {
        absorb(c, &out);
        return;
    }
    fkex_gke_out_clear(&out);
    if (err == FKEX_ERR_UNEXPECTED || err == FKEX_ERR_REPLAY)
        return;   /* a KeySet of somebody else's join before ours, a Leave seen already */
    if (!c->joined && err == FKEX_ERR_POLICY_UNSATISFIED)
        FAIL(c, 1, "policy_unsatisfied", "your key cannot open the room's KeySet: your attributes "
                                         "do not satisfy its policy");
    else
        FAIL(c, 2, "keyset_refused", "cannot follow the room: %s (seed mode accepts whatever "
                                     "entries the relay sends; see fkex(1))", fkex_strerror(err));
}

static void on_relay_error(seed_client *c, const fkex_relay_msg *m)
{
    char text[FKEX_RELAY_TEXT_MAX + 1];
    size_t n = m->datalen < FKEX_RELAY_TEXT_MAX ? m->datalen : FKEX_RELAY_TEXT_MAX;
    memcpy(text, m->data, n);
    text[n] = 0;
    if (m->seq != 0 && m->seq <= c->next_cseq) {
        answered(c, m->seq);
        if (!c->joined)
            FAIL(c, 2, "join_refused", "the relay refused our request to join: %s", text);
        else if (m->code != FKEX_RELAY_E_STALE)   /* a rekey overtaken by another epoch */
            report(c, "refused", "the relay refused a message: %s", text);
        return;
    }
    if (c->ready)
        report(c, "relay_error", "the relay says: %s", text);
    else if (m->code == FKEX_RELAY_E_NO_ROOM)
        FAIL(c, 2, "no_room", "the relay at %s does not host this room (%s)", c->addr, text);
    else if (m->code == FKEX_RELAY_E_ROOM_EXISTS)
        FAIL(c, 2, "room_exists", "the relay at %s already hosts this room: join it without "
                                  "--found", c->addr);
    else
        FAIL(c, 2, "relay_refused", "the relay at %s refused us: %s", c->addr, text);
}

/* The join: one encapsulation under the room's policy, which this key
 * must be able to open itself (else it joins as a ghost nobody needs). */
static void start_join(seed_client *c)
{
    fkex_rmsg_descriptor d;
    fkex_gke_out out;
    fkex_seed_msg m;
    uint8_t k[32];
    fkex_err err;
    if (fkex_rmsg_descriptor_decode(&d, c->desc, c->desclen) != FKEX_OK ||
        fkex_policy_parse(&c->policy, (const char *)d.policy, d.policylen, NULL) != FKEX_OK) {
        FAIL(c, 2, "bad_descriptor", "the room's policy does not parse");
        return;
    }
    fkex_gke_out_init(&out);
    if ((err = fkex_seed_join(&c->st, c->cfg.room_id, c->policy, c->cfg.key, &c->rng, &out)) !=
            FKEX_OK ||
        (err = fkex_seed_msg_decode(&m, out.msgs[0].bytes, out.msgs[0].len)) != FKEX_OK) {
        fkex_gke_out_clear(&out);
        FAIL(c, 2, "join_failed", "cannot join: %s", fkex_strerror(err));
        return;
    }
    err = fkex_abe_decap(k, c->cfg.key, m.ct, FKEX_ABE_CCA);
    sodium_memzero(k, sizeof k);
    fkex_seed_msg_clear(&m);
    if (err != FKEX_OK) {
        fkex_gke_out_clear(&out);
        if (err == FKEX_ERR_POLICY_UNSATISFIED)
            FAIL(c, 1, "policy_unsatisfied",
                 "your key's attributes do not satisfy this room's policy: %.*s",
                 (int)d.policylen, (const char *)d.policy);
        else
            FAIL(c, 2, "join_failed", "cannot join: %s", fkex_strerror(err));
        return;
    }
    c->join = out.msgs[0].bytes;
    c->joinlen = out.msgs[0].len;
    out.msgs[0].bytes = NULL;
    fkex_gke_out_clear(&out);
    hello(c);
}

static void on_descriptor(seed_client *c, const fkex_relay_msg *m)
{
    fkex_rmsg_descriptor d;
    if (c->founder || c->st || c->closing)
        return;
    fkex_err err = fkex_room_descriptor_check(&d, c->cfg.room_id, m->data, m->datalen);
    if (err != FKEX_OK) {
        FAIL(c, 2, "bad_descriptor", "the relay's descriptor is not the invitation's room (%s); "
                                     "the relay may be misbehaving", fkex_strerror(err));
        return;
    }
    if (!(d.options & FKEX_ROOM_SEED_MODE)) {
        FAIL(c, 2, "wrong_mode", "this room runs the ratchet, not seed mode: join it without "
                                 "--mode seed");
        return;
    }
    if (!(c->desc = malloc(m->datalen))) {
        FAIL(c, 2, "out_of_memory", "out of memory");
        return;
    }
    memcpy(c->desc, m->data, m->datalen);
    c->desclen = m->datalen;
    start_join(c);
}

static void on_deadline(uv_timer_t *t);

static void on_ready(seed_client *c)
{
    if (c->reconnecting) {
        chat_event ev = { .kind = CHAT_EV_CONNECTION, .code = "online",
                          .message = "reconnected to the relay" };
        c->reconnecting = 0;
        c->retry_ms = 0;
        for (size_t i = 0; i < c->nunacked; i++)
            send_pending(c, &c->unacked[i]);
        emit(c, &ev);
        return;
    }
    if (c->ready || !c->join)
        return;
    c->ready = 1;
    uv_timer_stop(&c->deadline);
    submit(c, c->join, c->joinlen);
    c->join = NULL;
    uv_timer_start(&c->deadline, on_deadline, c->cfg.join_timeout_ms, 0);
}

static void on_frame(fkex_conn *conn, const uint8_t *frame, size_t len)
{
    seed_client *c = fkex_conn_data(conn);
    fkex_relay_msg m, r = { 0 };
    if (c->closing)
        return;
    if (fkex_relay_msg_decode(&m, frame, len) != FKEX_OK) {
        FAIL(c, 2, "relay_error", "the relay sent a frame that does not decode");
        return;
    }
    switch (m.kind) {
    case FKEX_RELAY_NONCE:
        r.kind = FKEX_RELAY_AUTH;
        if (fkex_relay_auth_sign(r.sig, c->sk, c->cfg.room_id, m.nonce, c->v) != FKEX_OK) {
            FAIL(c, 2, "relay_error", "cannot answer the relay's challenge");
            return;
        }
        send_envelope(c, &r);
        break;
    case FKEX_RELAY_READY:
        if (sodium_memcmp(m.room_id, c->cfg.room_id, 32) == 0)
            on_ready(c);
        break;
    case FKEX_RELAY_DESCRIPTOR: on_descriptor(c, &m); break;
    case FKEX_RELAY_ACCEPTED: answered(c, m.seq); break;
    case FKEX_RELAY_DELIVER: on_deliver(c, &m); break;
    case FKEX_RELAY_ERROR: on_relay_error(c, &m); break;
    case FKEX_RELAY_PING:
        r.kind = FKEX_RELAY_PONG;
        r.cookie = m.cookie;
        send_envelope(c, &r);
        break;
    default:
        break;
    }
    if (c->quitting && c->nunacked == 0)
        finish(c, 0);
}

static fkex_err dial(seed_client *c);

static void on_retry(uv_timer_t *t)
{
    seed_client *c = t->data;
    if (!c->closing && dial(c) != FKEX_OK)
        FAIL(c, 2, "relay_lost", "cannot connect to the relay at %s again", c->addr);
}

static void on_close(fkex_conn *conn, const char *why)
{
    seed_client *c = fkex_conn_data(conn);
    uint64_t now = uv_now(c->loop);
    c->conn = NULL;
    if (c->closing) {
        handle_closed(c);
        return;
    }
    if (!c->ready) {
        FAIL(c, 2, "relay_unreachable", "cannot reach the relay at %s: %s", c->addr, why);
        return;
    }
    if (!c->joined || c->quitting) {
        FAIL(c, 2, "relay_lost", "lost the connection to the relay at %s: %s", c->addr, why);
        return;
    }
    if (!c->reconnecting) {
        char msg[400];
        snprintf(msg, sizeof msg, "lost the connection to the relay at %s (%s); reconnecting",
                 c->addr, why);
        chat_event ev = { .kind = CHAT_EV_CONNECTION, .code = "reconnecting", .message = msg };
        c->reconnecting = 1;
        c->lost_at = now;
        emit(c, &ev);
    } else if (now - c->lost_at >= c->cfg.reconnect_ms) {
        FAIL(c, 2, "relay_lost", "lost the connection to the relay at %s and could not "
                                 "reconnect within %u s: %s", c->addr, c->cfg.reconnect_ms / 1000, why);
        return;
    }
    c->retry_ms = c->retry_ms ? c->retry_ms * 2 : RETRY_FIRST_MS;
    if (c->retry_ms > RETRY_MAX_MS)
        c->retry_ms = RETRY_MAX_MS;
    uv_timer_start(&c->retry, on_retry, c->retry_ms, 0);
}

static void on_connected(fkex_conn *conn, int status)
{
    seed_client *c = fkex_conn_data(conn);
    fkex_relay_msg m = { 0 };
    if (status != 0 || c->closing)
        return;
    memcpy(m.room_id, c->cfg.room_id, 32);
    if (c->reconnecting || c->st) {
        hello(c);
    } else if (c->founder) {
        /* The admin names this session's key, which then joins like anyone. */
        m.kind = FKEX_RELAY_CREATE_ROOM;
        m.data = c->desc;
        m.datalen = c->desclen;
        memcpy(m.leaf, c->v, 32);
        fkex_err err = fkex_relay_create_sign(m.sig, c->admin_sk, c->cfg.room_id, c->v);
        sodium_memzero(c->admin_sk, sizeof c->admin_sk);
        if (err != FKEX_OK) {
            FAIL(c, 2, "internal", "cannot sign the room's creation");
            return;
        }
        send_envelope(c, &m);
        start_join(c);
    } else {
        m.kind = FKEX_RELAY_GET_DESCRIPTOR;
        send_envelope(c, &m);
    }
}

static void on_deadline(uv_timer_t *t)
{
    seed_client *c = t->data;
    if (c->closing)
        return;
    if (c->quitting)
        finish(c, 0);
    else if (!c->ready)
        FAIL(c, 2, "relay_unreachable", "the relay at %s did not answer within %u s", c->addr,
             c->cfg.connect_timeout_ms / 1000);
    else if (c->leaving)
        FAIL(c, 2, "leave_timeout", "the relay did not announce our leave within %u s",
             c->cfg.leave_timeout_ms / 1000);
    else if (!c->joined)
        FAIL(c, 2, "join_timeout", "the relay sent no KeySet with our entry within %u s",
             c->cfg.join_timeout_ms / 1000);
}

/* ---- the front end's calls ------------------------------------------------------------------ */

static fkex_err dial(seed_client *c)
{
    static const fkex_net_limits lim = { FKEX_RELAY_ENVELOPE_MAX + 16, 4 * FKEX_RELAY_ENVELOPE_MAX };
    char err[128];
    fkex_err e = fkex_conn_connect(&c->conn, c->loop, c->addr, &lim, on_connected, err);
    if (e == FKEX_OK)
        fkex_conn_set(c->conn, on_frame, on_close, c);
    return e;
}

fkex_err seed_client_start(seed_client **out, uv_loop_t *loop, const chat_client_config *cfg)
{
    seed_client *c;
    fkex_rmsg_descriptor d;
    fkex_err e;
    *out = NULL;
    if (!cfg->relay || !cfg->key || !cfg->nick || strlen(cfg->nick) > CHAT_NICK_MAX ||
        !cfg->nick[0] || !chat_utf8_ok(cfg->nick, strlen(cfg->nick), "") ||
        strlen(cfg->relay) >= sizeof c->addr || (cfg->found_descriptor && !cfg->admin_sk))
        return FKEX_ERR_ARGUMENT;
    if (cfg->found_descriptor &&
        (fkex_rmsg_descriptor_decode(&d, cfg->found_descriptor, cfg->found_descriptor_len) !=
             FKEX_OK || !(d.options & FKEX_ROOM_SEED_MODE)))
        return FKEX_ERR_UNSUPPORTED;
    if (!(c = calloc(1, sizeof *c)))
        return FKEX_ERR_NO_MEMORY;
    c->loop = loop;
    c->cfg = *cfg;
    c->cfg.connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : 15000;
    c->cfg.join_timeout_ms = cfg->join_timeout_ms ? cfg->join_timeout_ms : 60000;
    c->cfg.leave_timeout_ms = cfg->leave_timeout_ms ? cfg->leave_timeout_ms : 15000;
    c->cfg.reconnect_ms = cfg->reconnect_ms ? cfg->reconnect_ms : 60000;
    snprintf(c->addr, sizeof c->addr, "%s", cfg->relay);
    snprintf(c->nick, sizeof c->nick, "%s", cfg->nick);
    c->cfg.relay = c->addr;
    c->cfg.nick = c->nick;
    c->cfg.found_descriptor = NULL;
    c->cfg.admin_sk = NULL;
    fkex_rng_init_system(&c->rng);
    crypto_sign_keypair(c->v, c->sk);
    if (cfg->found_descriptor) {
        c->founder = 1;
        memcpy(c->admin_sk, cfg->admin_sk, 64);
        if (!(c->desc = malloc(cfg->found_descriptor_len))) {
            seed_client_free(c);
            return FKEX_ERR_NO_MEMORY;
        }
        memcpy(c->desc, cfg->found_descriptor, cfg->found_descriptor_len);
        c->desclen = cfg->found_descriptor_len;
    }
    if ((e = dial(c)) != FKEX_OK) {
        seed_client_free(c);
        return e;
    }
    uv_timer_init(loop, &c->deadline);
    uv_timer_init(loop, &c->forget);
    uv_timer_init(loop, &c->retry);
    c->deadline.data = c->forget.data = c->retry.data = c;
    uv_timer_start(&c->deadline, on_deadline, c->cfg.connect_timeout_ms, 0);
    *out = c;
    return FKEX_OK;
}

void seed_client_send(seed_client *c, const char *text, size_t len)
{
    if (c->closing || c->leaving || c->quitting)
        return;
    if (c->joined) {
        send_text(c, text, len);
        return;
    }
    char *copy = c->ntexts < MAX_QUEUED_TEXTS ? malloc(len + 1) : NULL;
    if (!copy) {
        report(c, "not_sent", "not sent: too many messages wait for the join");
        return;
    }
    memcpy(copy, text, len);
    copy[len] = 0;
    c->texts[c->ntexts] = copy;
    c->textlens[c->ntexts++] = len;
}

void seed_client_leave(seed_client *c)
{
    uint8_t *msg;
    size_t len;
    if (c->closing || c->leaving)
        return;
    if (!c->joined) {
        finish(c, 0);
        return;
    }
    if (fkex_seed_leave_encode(&msg, &len, c->cfg.room_id, c->epoch, fkex_seed_index(c->st)) !=
        FKEX_OK) {
        FAIL(c, 2, "leave_failed", "could not ask to leave: out of memory");
        return;
    }
    c->leaving = 1;
    uv_timer_start(&c->deadline, on_deadline, c->cfg.leave_timeout_ms, 0);
    submit(c, msg, len);
}

void seed_client_quit(seed_client *c)
{
    if (c->closing)
        return;
    c->quitting = 1;
    if (c->nunacked == 0 || !c->conn) {
        finish(c, 0);
        return;
    }
    uv_timer_start(&c->deadline, on_deadline, QUIT_DRAIN_MS, 0);
}

int seed_client_joined(const seed_client *c)
{
    return c->joined;
}

fkex_err seed_client_set_nick(seed_client *c, const char *nick)
{
    size_t len = strlen(nick);
    if (len == 0 || len > CHAT_NICK_MAX || !chat_utf8_ok(nick, len, ""))
        return FKEX_ERR_ARGUMENT;
    memcpy(c->nick, nick, len + 1);
    return FKEX_OK;
}

void seed_client_status(chat_status *s, const seed_client *c)
{
    fkex_rmsg_descriptor d;
    memset(s, 0, sizeof *s);
    memcpy(s->room_id, c->cfg.room_id, 32);
    s->state = c->closing ? CHAT_CLOSED : c->reconnecting ? CHAT_RECONNECTING
             : c->joined ? CHAT_ONLINE : c->ready || c->st ? CHAT_JOINING : CHAT_CONNECTING;
    if (s->state == CHAT_ONLINE) {
        s->epoch = c->epoch;
        s->members = (uint32_t)c->nnames;
        for (size_t i = 0; i < c->nnames; i++)   /* the status shows a position, as in ratchet */
            if (c->names[i].index == fkex_seed_index(c->st))
                s->index = (uint32_t)i;
    }
    if (c->desc && fkex_rmsg_descriptor_decode(&d, c->desc, c->desclen) == FKEX_OK) {
        s->name = (const char *)d.name;
        s->namelen = d.namelen;
        s->policy = (const char *)d.policy;
        s->policylen = d.policylen;
    }
}

int seed_client_member(chat_member *m, const seed_client *c, uint32_t index)
{
    if (!c->joined || index >= c->nnames)
        return -1;
    pseudonym(m->leaf, c, c->names[index].index);
    chat_fingerprint(m->pseudonym, m->leaf);
    m->own = c->names[index].index == fkex_seed_index(c->st);
    m->nick = m->own ? c->nick : c->names[index].nick;
    return 0;
}

void seed_client_free(seed_client *c)
{
    if (!c)
        return;
    fkex_seed_free(c->st);
    fkex_policy_free(c->policy);
    free(c->join);
    free(c->names);
    if (c->desc) {
        sodium_memzero(c->desc, c->desclen);
        free(c->desc);
    }
    for (size_t i = 0; i < c->ntexts; i++) {
        sodium_memzero(c->texts[i], c->textlens[i]);
        free(c->texts[i]);
    }
    answered(c, UINT64_MAX);
    free(c->unacked);
    sodium_memzero(c, sizeof *c);
    free(c);
}
