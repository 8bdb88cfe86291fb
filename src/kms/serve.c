/*
 * kms/serve.c: the authority's daemon: a libuv loop that answers each
 * enrolment frame with fkex_kms_answer. The client closes the connection
 * once it has its reply; a connection still open after IDLE_MS is closed,
 * so idle clients cannot pile up. One thread, no fork; SIGTERM and SIGINT
 * stop the server and let the loop drain, so every handle is closed before
 * we return.
 *
 * Cost per connection: at most two small frames (a request is 134 bytes),
 * and an issue takes milliseconds of CPU on the loop's thread: enrolments
 * are rare, so they are answered in turn rather than on a thread pool.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "kms/kms.h"
#include "kms/kms.h"
#include "net/net.h"

/* A request is small; a client that sends anything larger is cut off. */
#define REQUEST_MAX 1024
#define IDLE_MS 30000

typedef struct {
    fkex_kms *kms;
    fkex_kms_store *store;
    const fkex_kms_hooks *hooks;
    fkex_server *server;
    uv_loop_t *loop;
    uv_signal_t sigterm, sigint;
    fkex_rng rng;
    int stopping;
} serve_state;

/* One per connection: its idle timer. */
typedef struct {
    serve_state *s;
    fkex_conn *conn;      /* NULL once closed */
    uv_timer_t timer;
} conn_state;

static void logf_(serve_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(serve_state *s, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    if (!s->hooks || !s->hooks->log)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->hooks->log(s->hooks->ctx, line);
}

static const char *type_name(fkex_enrol_type t)
{
    return t == FKEX_ENROL_HELLO ? "hello" : t == FKEX_ENROL_REQUEST ? "enrol" : "unreadable";
}

static void on_frame(fkex_conn *c, const uint8_t *frame, size_t len)
{
    conn_state *cs = fkex_conn_data(c);
    serve_state *s = cs->s;
    uint8_t *reply = NULL;
    size_t replylen = 0;
    fkex_kms_report rep;
    fkex_err err = fkex_kms_answer(&reply, &replylen, &rep, s->kms, s->store, frame, len,
                                   (uint64_t)time(NULL), &s->rng);
    if (err != FKEX_OK) {
        logf_(s, "%s: cannot answer: %s", fkex_conn_peer(c), fkex_strerror(err));
        fkex_conn_close(c, "cannot answer");
        return;
    }
    /* No address in the log for enrolments: the audit table has no
     * identity, and neither has the log. */
    if (rep.type == FKEX_ENROL_REQUEST && rep.ungranted)
        logf_(s, "enrol token %s: refused: its row in kms.db was not minted with the "
              "authority's key (written there by someone else?)", rep.token_id);
    else if (rep.type == FKEX_ENROL_REQUEST)
        logf_(s, "enrol token %s: %s", rep.token_id, fkex_enrol_status_text(rep.status));
    else if (rep.type == FKEX_ENROL_HELLO)
        logf_(s, "hello: sent the enrolment key");
    else
        logf_(s, "%s: %s", type_name(rep.type), fkex_enrol_status_text(rep.status));
    /* The reply is written as far as the socket takes it; what remains is
     * queued, so close only once the client has it: the client closes. */
    if (fkex_conn_send(c, reply, replylen) != 0)
        logf_(s, "reply not sent: connection closing");
    fkex_bytes_free(reply, replylen);
}

static void free_conn_state(uv_handle_t *h)
{
    free(h->data);
}

static void on_close(fkex_conn *c, const char *why)
{
    conn_state *cs = fkex_conn_data(c);
    (void)why;
    cs->conn = NULL;
    uv_timer_stop(&cs->timer);
    uv_close((uv_handle_t *)&cs->timer, free_conn_state);
}

static void on_idle(uv_timer_t *t)
{
    conn_state *cs = t->data;
    if (cs->conn)
        fkex_conn_close(cs->conn, "idle");
}

static void on_accept(fkex_server *srv, fkex_conn *c)
{
    serve_state *s = fkex_server_data(srv);
    conn_state *cs = calloc(1, sizeof *cs);
    if (!cs || uv_timer_init(s->loop, &cs->timer) != 0) {
        free(cs);
        fkex_conn_close(c, "out of memory");
        return;
    }
    cs->s = s;
    cs->conn = c;
    cs->timer.data = cs;
    uv_timer_start(&cs->timer, on_idle, IDLE_MS, 0);
    fkex_conn_set(c, on_frame, on_close, cs);
}

static void on_signal(uv_signal_t *h, int signum)
{
    serve_state *s = h->data;
    if (s->stopping)
        return;
    s->stopping = 1;
    logf_(s, "%s: shutting down", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    fkex_server_stop(s->server);
    s->server = NULL;
    uv_signal_stop(&s->sigterm);
    uv_signal_stop(&s->sigint);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
}

fkex_err fkex_kms_serve(fkex_kms *k, fkex_kms_store *st, const char *addr, const fkex_tls *tls,
                        const fkex_kms_hooks *hooks, char err[128])
{
    uv_loop_t loop;
    serve_state s;
    fkex_net_limits lim = { REQUEST_MAX, FKEX_ENROL_REPLY_MAX + 64 };
    fkex_err e;
    char bound[FKEX_ADDR_MAX + FKEX_PIN_TEXT_LEN + 8];
    int rc;

    err[0] = '\0';
    memset(&s, 0, sizeof s);
    s.kms = k;
    s.store = st;
    s.hooks = hooks;
    s.loop = &loop;
    fkex_rng_init_system(&s.rng);
    signal(SIGPIPE, SIG_IGN);
    if ((rc = uv_loop_init(&loop)) != 0) {
        snprintf(err, 128, "cannot start the event loop: %s", uv_strerror(rc));
        return FKEX_ERR_IO;
    }
    if ((e = fkex_server_start(&s.server, &loop, addr, &lim, tls, on_accept, &s, err)) != FKEX_OK) {
        uv_run(&loop, UV_RUN_DEFAULT);   /* frees what the failed start made */
        uv_loop_close(&loop);
        return e;
    }
    uv_signal_init(&loop, &s.sigterm);
    uv_signal_init(&loop, &s.sigint);
    s.sigterm.data = s.sigint.data = &s;
    uv_signal_start(&s.sigterm, on_signal, SIGTERM);
    uv_signal_start(&s.sigint, on_signal, SIGINT);

    fkex_server_bound(bound, sizeof bound, s.server, addr);
    if (hooks && hooks->on_ready)
        hooks->on_ready(hooks->ctx, bound);
    logf_(&s, "listening on %s%s", bound, tls ? " (TLS 1.3)" : " (plain TCP)");

    uv_run(&loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&loop);
    sodium_memzero(&s.rng, sizeof s.rng);
    if (rc != 0) {
        snprintf(err, 128, "the event loop did not close: %s", uv_strerror(rc));
        return FKEX_ERR_IO;
    }
    return FKEX_OK;
}
