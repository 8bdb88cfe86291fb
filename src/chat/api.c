/*
 * chat/api.c: fkex/client.h, a room member's session (chat/client.h) on
 * an event loop of its own, with its events queued as copies so that the
 * caller takes them one at a time.
 */
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "chat/chat.h"
#include "chat/client.h"
#include "fkex/client.h"

#define CLOSE_MS 5000u    /* fkex_client_close waits this long for what is on its way */

/* An event kept until it is handed out: its strings are its own. */
typedef struct queued {
    fkex_client_event ev;
    char *nick, *text, *code, *message;
    struct queued *next;
} queued;

struct fkex_client {
    uv_loop_t loop;
    uv_timer_t deadline;
    int timed_out;
    chat_client *chat;
    fkex_tls *tls;            /* always TLS: a library client has no plaintext switch */
    char addr[FKEX_NET_LIST_TEXT_MAX];
    char nick[CHAT_NICK_MAX + 1];
    queued *head, *tail;
    queued *given;            /* the event handed out last, freed on the next call */
    int done, done_given;
};

static char *copy(const char *s, size_t len)
{
    char *c = malloc(len + 1);
    if (c) {
        memcpy(c, s ? s : "", len);
        c[len] = '\0';
    }
    return c;
}

static void queued_free(queued *q)
{
    if (!q)
        return;
    if (q->text)
        sodium_memzero(q->text, q->ev.textlen);   /* a message's plaintext */
    free(q->nick);
    free(q->text);
    free(q->code);
    free(q->message);
    free(q);
}

static void on_event(void *ctx, const chat_event *e)
{
    fkex_client *c = ctx;
    queued *q;
    if (e->kind == CHAT_EV_DONE)
        c->done = 1;   /* even if the copy below fails: the session is over */
    if (!(q = calloc(1, sizeof *q)))
        return;   /* out of memory: this event is lost, the session goes on */
    q->ev.kind = (fkex_client_event_kind)e->kind;
    q->ev.epoch = e->epoch;
    q->ev.members = e->members;
    q->ev.textlen = e->text ? e->textlen : 0;
    q->ev.sent_ms = e->sent_ms;
    q->ev.count = e->count;
    q->ev.own = e->own;
    q->ev.exit_code = e->exit_code;
    if (e->leaf) {
        q->ev.has_leaf = 1;
        memcpy(q->ev.leaf, e->leaf, 32);
    }
    q->nick = copy(e->nick, e->nick ? e->nicklen : 0);
    q->text = copy(e->text, q->ev.textlen);
    q->code = copy(e->code, e->code ? strlen(e->code) : 0);
    q->message = copy(e->message, e->message ? strlen(e->message) : 0);
    if (!q->nick || !q->text || !q->code || !q->message) {
        queued_free(q);
        return;
    }
    q->ev.nick = q->nick;
    q->ev.text = q->text;
    q->ev.code = q->code;
    q->ev.message = q->message;
    if (c->tail)
        c->tail->next = q;
    else
        c->head = q;
    c->tail = q;
}

static void on_deadline(uv_timer_t *t)
{
    fkex_client *c = t->data;
    c->timed_out = 1;
}

static int has_event(const fkex_client *c) { return c->head != NULL; }
static int is_done(const fkex_client *c) { return c->done; }

/* Runs the session's loop until ready(c), for ms at most. */
static void run_until(fkex_client *c, int (*ready)(const fkex_client *), unsigned ms)
{
    c->timed_out = 0;
    uv_timer_start(&c->deadline, on_deadline, ms, 0);
    while (!ready(c) && !c->timed_out)
        uv_run(&c->loop, UV_RUN_ONCE);
    uv_timer_stop(&c->deadline);
}

/* An invitation made before relays had keys is dialled over TLS without
 * knowing the relay: the first event says so (the library never prints). */
static void tell_unpinned(fkex_client *c)
{
    chat_event ev = { .kind = CHAT_EV_ERROR, .code = FKEX_CLIENT_CODE_UNPINNED,
                      .message = "the invitation does not pin the relay's key (it was made "
                                 "before relays had keys): the link is encrypted, but a relay "
                                 "in the middle would not be noticed" };
    if (fkex_net_address_list_unpinned(c->addr))
        on_event(c, &ev);
}

fkex_err fkex_client_open(fkex_client **out, const char *invite, const fkex_key *key,
                          const char *nick)
{
    chat_client_config cfg = { 0 };
    fkex_client *c;
    char why[160];
    fkex_err err;
    *out = NULL;
    if (!invite || !key || !nick || !chat_nick_ok(nick, strlen(nick)))
        return FKEX_ERR_ARGUMENT;
    if (!(c = calloc(1, sizeof *c)))
        return FKEX_ERR_NO_MEMORY;
    if ((err = chat_invite_parse(c->addr, cfg.room_id, invite)) != FKEX_OK) {
        free(c);
        return err;
    }
    snprintf(c->nick, sizeof c->nick, "%s", nick);
    if (fkex_tls_client_new(&c->tls, why) != FKEX_OK || uv_loop_init(&c->loop) != 0) {
        fkex_tls_free(c->tls);
        free(c);
        return FKEX_ERR_NO_MEMORY;
    }
    uv_timer_init(&c->loop, &c->deadline);
    c->deadline.data = c;
    tell_unpinned(c);
    cfg.mode = CHAT_MODE_RATCHET;
    cfg.relay = c->addr;
    cfg.tls = c->tls;
    cfg.key = key;
    cfg.nick = c->nick;
    cfg.on_event = on_event;
    cfg.ctx = c;
    if ((err = chat_client_start(&c->chat, &c->loop, &cfg)) != FKEX_OK) {
        c->done = 1;
        fkex_client_close(c);
        return err;
    }
    *out = c;
    return FKEX_OK;
}

fkex_err fkex_client_next(fkex_client *c, fkex_client_event *ev, unsigned timeout_ms)
{
    queued_free(c->given);
    c->given = NULL;
    if (c->done_given || (c->done && !c->head))   /* (a DONE whose copy failed) */
        return FKEX_ERR_UNEXPECTED;
    if (!c->head) {
        run_until(c, has_event, timeout_ms);
        if (!c->head)
            return FKEX_ERR_TIMEOUT;
    }
    c->given = c->head;
    c->head = c->head->next;
    if (!c->head)
        c->tail = NULL;
    *ev = c->given->ev;
    c->done_given = ev->kind == FKEX_CLIENT_DONE;
    return FKEX_OK;
}

fkex_err fkex_client_send(fkex_client *c, const char *text, size_t len)
{
    if (c->done)
        return FKEX_ERR_UNEXPECTED;
    if (len > CHAT_TEXT_MAX || !chat_utf8_ok(text, len, "\n\t"))
        return FKEX_ERR_ARGUMENT;
    chat_client_send(c->chat, text, len);
    return FKEX_OK;
}

void fkex_client_leave(fkex_client *c)
{
    chat_client_leave(c->chat);
}

fkex_err fkex_client_verify(fkex_client *c, uint64_t *epoch,
                            char fingerprint[FKEX_CLIENT_FINGERPRINT_LEN + 1])
{
    chat_verify v;
    fkex_err err = chat_client_verify(&v, c->chat);
    if (err != FKEX_OK)
        return err;
    *epoch = v.epoch;
    memcpy(fingerprint, v.fingerprint, FKEX_CLIENT_FINGERPRINT_LEN + 1);
    return FKEX_OK;
}

void fkex_client_close(fkex_client *c)
{
    if (!c)
        return;
    if (c->chat && !c->done) {
        /* A quit waits for what is on its way; past CLOSE_MS (texts that
         * wait for a join, say), the session is ended at once. Either way
         * it is freed only once DONE says its handles are closed. */
        chat_client_quit(c->chat);
        run_until(c, is_done, CLOSE_MS);
        if (!c->done)
            chat_client_end(c->chat);
        while (!c->done)
            uv_run(&c->loop, UV_RUN_ONCE);
    }
    chat_client_free(c->chat);
    uv_close((uv_handle_t *)&c->deadline, NULL);
    uv_run(&c->loop, UV_RUN_DEFAULT);   /* every handle's close callback */
    uv_loop_close(&c->loop);
    fkex_tls_free(c->tls);
    queued_free(c->given);
    while (c->head) {
        queued *q = c->head;
        c->head = q->next;
        queued_free(q);
    }
    sodium_memzero(c, sizeof *c);
    free(c);
}
