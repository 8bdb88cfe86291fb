/*
 * relay/jetstream.c: the relays' shared log in NATS JetStream
 * (relay/jetstream.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <nats/nats.h>
#include "gke/gke.h"
#include "relay/jetstream.h"

#define RETRY_TICK_MS 500u
#define OPEN_WAIT_MS 20000
#define CONSUMER_HEARTBEAT_MS 1000
/* The stream's largest message: an entry of the largest room message. The
 * servers must allow it (nats-server's max_payload, 1 MiB by default). */
#define STREAM_MAX_MSG (17 << 20)

enum { EV_ENTRY, EV_STORED, EV_REFUSED, EV_STATUS };

/* What a libnats thread tells the loop. */
typedef struct js_event {
    struct js_event *next;
    int kind;
    uint64_t seq;
    uint64_t time;              /* EV_ENTRY: the stream's timestamp, ms */
    uint8_t id[32];
    char text[160];
    size_t len;
    uint8_t data[];
} js_event;

/* An entry published and not yet stored: sent again until it is. */
typedef struct {
    uint8_t id[32];
    char subject[96];
    uint8_t *entry;
    size_t len;
    uint64_t sent_at;   /* uv_now */
} unstored;

struct relay_js {
    uv_loop_t *loop;
    uv_async_t wake;
    uv_timer_t retry;
    int open_handles;
    uv_mutex_t lock;            /* guards head and tail */
    js_event *head, *tail;
    int lost;                   /* an entry could not be queued (under lock) */
    int broken;                 /* so the fold stops there (the loop's) */
    relay_js_hooks hooks;
    natsConnection *nc;
    jsCtx *ctx;
    natsSubscription *sub;
    int replicas;
    uint64_t last_seq;          /* the stream's last entry when we opened it */
    unstored *pend;             /* the loop's alone */
    size_t npend, pendcap;
};

/* ---- from libnats' threads ----------------------------------------------------------- */

static void push(relay_js *js, int kind, uint64_t seq, uint64_t time, const uint8_t id[32],
                 const void *data, size_t len, const char *text)
{
    js_event *e = calloc(1, sizeof *e + len);
    if (!e) {
        if (kind != EV_ENTRY)
            return;   /* an acknowledgement: the retry timer sends the entry again */
        uv_mutex_lock(&js->lock);
        js->lost = 1;   /* the loop must not fold on past a missing entry */
        uv_mutex_unlock(&js->lock);
        uv_async_send(&js->wake);
        return;
    }
    e->kind = kind;
    e->seq = seq;
    e->time = time;
    if (id)
        memcpy(e->id, id, 32);
    if (len)
        memcpy(e->data, data, len);
    e->len = len;
    if (text)
        snprintf(e->text, sizeof e->text, "%s", text);
    uv_mutex_lock(&js->lock);
    if (js->tail)
        js->tail->next = e;
    else
        js->head = e;
    js->tail = e;
    uv_mutex_unlock(&js->lock);
    uv_async_send(&js->wake);
}

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    relay_js *js = closure;
    jsMsgMetaData *meta = NULL;
    (void)nc;
    (void)sub;
    if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
        push(js, EV_ENTRY, meta->Sequence.Stream, (uint64_t)(meta->Timestamp / 1000000), NULL,
             natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), NULL);
        jsMsgMetaData_Destroy(meta);
    }
    natsMsg_Destroy(msg);
}

static void on_ack(jsCtx *ctx, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    relay_js *js = closure;
    const char *hex = NULL;
    uint8_t id[32];
    (void)ctx;
    if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &hex) == NATS_OK && hex &&
        sodium_hex2bin(id, 32, hex, strlen(hex), NULL, NULL, NULL) == 0) {
        if (pa)
            push(js, EV_STORED, pa->Sequence, 0, id, NULL, 0, NULL);
        else if (pae && pae->ErrCode)   /* JetStream said no: sending it again would not help */
            push(js, EV_REFUSED, 0, 0, id, NULL, 0, pae->ErrText ? pae->ErrText : "refused");
        /* else a timeout or no responder: the retry timer sends it again */
    }
    natsMsg_Destroy(msg);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    (void)nc;
    push(closure, EV_STATUS, 0, 0, NULL, NULL, 0, "lost the NATS server; reconnecting");
}

static void on_reconnected(natsConnection *nc, void *closure)
{
    char url[128], line[160];
    if (natsConnection_GetConnectedUrl(nc, url, sizeof url) != NATS_OK)
        snprintf(url, sizeof url, "?");
    snprintf(line, sizeof line, "reconnected to the NATS server %s", url);
    push(closure, EV_STATUS, 0, 0, NULL, NULL, 0, line);
}

/* ---- on the loop -------------------------------------------------------------------- */

static void forget(relay_js *js, const uint8_t id[32])
{
    for (size_t i = 0; i < js->npend;) {
        if (memcmp(js->pend[i].id, id, 32) == 0) {
            free(js->pend[i].entry);
            js->pend[i] = js->pend[--js->npend];
        } else {
            i++;
        }
    }
}

static void on_wake(uv_async_t *h)
{
    relay_js *js = h->data;
    js_event *e;
    int lost;
    uv_mutex_lock(&js->lock);
    e = js->head;
    js->head = js->tail = NULL;
    lost = js->lost;
    uv_mutex_unlock(&js->lock);
    js->broken |= lost;
    while (e) {
        js_event *next = e->next;
        switch (e->kind) {
        case EV_ENTRY:
            if (!js->broken)
                js->hooks.on_entry(js->hooks.ctx, e->seq, e->time, e->data, e->len);
            break;
        case EV_STORED:
            forget(js, e->id);
            js->hooks.on_stored(js->hooks.ctx, e->id, e->seq);
            break;
        case EV_REFUSED:
            forget(js, e->id);
            js->hooks.on_refused(js->hooks.ctx, e->id, e->text);
            break;
        default:
            js->hooks.on_status(js->hooks.ctx, e->text);
        }
        free(e);
        e = next;
    }
    js->hooks.on_drained(js->hooks.ctx);
}

static natsStatus send_entry(relay_js *js, const unstored *p)
{
    char hex[65];
    jsPubOptions o;
    natsMsg *m = NULL;
    natsStatus st;
    sodium_bin2hex(hex, sizeof hex, p->id, 32);
    jsPubOptions_Init(&o);
    o.MsgId = hex;
    st = natsMsg_Create(&m, p->subject, NULL, (const char *)p->entry, (int)p->len);
    if (st == NATS_OK)
        st = js_PublishMsgAsync(js->ctx, &m, &o);
    natsMsg_Destroy(m);   /* (NULL once the library took it) */
    return st;
}

static void on_retry(uv_timer_t *t)
{
    relay_js *js = t->data;
    uint64_t now = uv_now(js->loop);
    for (size_t i = 0; i < js->npend; i++)
        if (now - js->pend[i].sent_at >= RELAY_JS_RETRY_MS) {
            js->pend[i].sent_at = now;
            (void)send_entry(js, &js->pend[i]);   /* failed again: the next tick tries */
        }
}

fkex_err relay_js_publish(relay_js *js, const char *subject, const uint8_t *entry, size_t len,
                          const uint8_t id[32], int keep)
{
    unstored *p;
    if (!keep) {   /* once, not kept for a retry */
        unstored once = { .entry = (uint8_t *)entry, .len = len };
        memcpy(once.id, id, 32);
        if (strlen(subject) >= sizeof once.subject)
            return FKEX_ERR_ARGUMENT;
        snprintf(once.subject, sizeof once.subject, "%s", subject);
        return send_entry(js, &once) == NATS_CONNECTION_CLOSED ? FKEX_ERR_IO : FKEX_OK;
    }
    if (js->npend == js->pendcap) {
        size_t cap = js->pendcap ? 2 * js->pendcap : 64;
        unstored *t = realloc(js->pend, cap * sizeof *t);
        if (!t)
            return FKEX_ERR_NO_MEMORY;
        js->pend = t;
        js->pendcap = cap;
    }
    p = &js->pend[js->npend];
    memset(p, 0, sizeof *p);
    if (strlen(subject) >= sizeof p->subject)
        return FKEX_ERR_ARGUMENT;
    if (!(p->entry = malloc(len ? len : 1)))
        return FKEX_ERR_NO_MEMORY;
    memcpy(p->id, id, 32);
    snprintf(p->subject, sizeof p->subject, "%s", subject);
    memcpy(p->entry, entry, len);
    p->len = len;
    p->sent_at = uv_now(js->loop);
    js->npend++;
    /* Refused at once (the connection is closed for good): the caller is
     * told; a connection that is only reconnecting buffers it. */
    if (send_entry(js, p) == NATS_CONNECTION_CLOSED) {
        free(p->entry);
        js->npend--;
        return FKEX_ERR_IO;
    }
    return FKEX_OK;
}

int relay_js_broken(const relay_js *js)
{
    return js->broken;
}

size_t relay_js_unstored(const relay_js *js)
{
    return js->npend;
}

int relay_js_replicas(const relay_js *js)
{
    return js->replicas;
}

uint64_t relay_js_last_seq(const relay_js *js)
{
    return js->last_seq;
}

void relay_js_server(const relay_js *js, char *out, size_t cap)
{
    if (natsConnection_GetConnectedUrl(js->nc, out, cap) != NATS_OK)
        snprintf(out, cap, "?");
}

/* ---- opening and closing -------------------------------------------------------------- */

int relay_js_parse(const char *store, char servers[RELAY_JS_MAX_SERVERS][80], int *n,
                   char err[128])
{
    const char *p = store;
    *n = 0;
    if (strncmp(p, "nats://", 7) != 0) {
        snprintf(err, 128, "a store is nats://HOST:PORT[,HOST:PORT...]");
        return -1;
    }
    p += 7;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        if (len == 0 || !colon || colon == p || colon + 1 == p + len ||
            strspn(colon + 1, "0123456789") < (size_t)(p + len - colon - 1)) {
            snprintf(err, 128, "not HOST:PORT in the store list: \"%.*s\"", (int)(len > 40 ? 40 : len), p);
            return -1;
        }
        if (*n == RELAY_JS_MAX_SERVERS || len + 8 > 80) {
            snprintf(err, 128, "at most %d servers of at most 71 characters", RELAY_JS_MAX_SERVERS);
            return -1;
        }
        snprintf(servers[(*n)++], 80, "nats://%.*s", (int)len, p);
        p += len + (end != NULL);
        if (end && !*p) {
            snprintf(err, 128, "the store list ends with a comma");
            return -1;
        }
    }
    if (*n == 0) {
        snprintf(err, 128, "the store names no server");
        return -1;
    }
    return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    relay_js *js = h->data;
    if (--js->open_handles == 0) {
        uv_mutex_destroy(&js->lock);
        free(js);
    }
}

/* Makes the stream if it is not there: replicas 3, or 1 where the
 * cluster is smaller (a single server). A cluster still electing its
 * leaders answers nothing for a few seconds: asked again for up to
 * OPEN_WAIT_MS. */
static natsStatus make_stream(relay_js *js, char err[128])
{
    static const char *subjects[] = { "fkex.>" };
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    jsStreamConfig cfg;
    natsStatus st = NATS_OK;
    jsStreamConfig_Init(&cfg);
    cfg.Name = RELAY_JS_STREAM;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.MaxMsgSize = STREAM_MAX_MSG;
    cfg.Duplicates = (int64_t)RELAY_JS_DEDUP_S * 1000000000;
    for (int waited = 0; waited < OPEN_WAIT_MS; waited += 250) {
        if ((st = js_GetStreamInfo(&si, js->ctx, RELAY_JS_STREAM, NULL, &jerr)) == NATS_OK) {
            js->replicas = (int)si->Config->Replicas;
            js->last_seq = si->State.LastSeq;
            jsStreamInfo_Destroy(si);
            return NATS_OK;
        }
        /* Replicas 3; 1 only where the server says it is alone (not a
         * cluster still forming). */
        for (int r = 3; r >= 1; r -= 2) {
            cfg.Replicas = r;
            jerr = 0;
            si = NULL;
            if ((st = js_AddStream(&si, js->ctx, &cfg, NULL, &jerr)) == NATS_OK) {
                js->replicas = (int)si->Config->Replicas;
                js->last_seq = si->State.LastSeq;   /* (an existing one, made alike) */
                jsStreamInfo_Destroy(si);
                return NATS_OK;
            }
            if (jerr != JSStreamReplicasNotSupportedErr)
                break;   /* (made meanwhile by another relay: read it next time round) */
        }
        uv_sleep(250);
    }
    snprintf(err, 128, "JetStream would not make the stream %s: %s (error %d)", RELAY_JS_STREAM,
             natsStatus_GetText(st), (int)jerr);
    return st;
}

fkex_err relay_js_open(relay_js **out, uv_loop_t *loop, const char *store,
                       const relay_js_hooks *hooks, char err[128])
{
    char servers[RELAY_JS_MAX_SERVERS][80];
    const char *urls[RELAY_JS_MAX_SERVERS];
    natsOptions *opts = NULL;
    jsOptions jo;
    jsSubOptions so;
    jsErrCode jerr = 0;
    relay_js *js;
    natsStatus st;
    int n;
    *out = NULL;
    if (relay_js_parse(store, servers, &n, err) != 0)
        return FKEX_ERR_ARGUMENT;
    if (!(js = calloc(1, sizeof *js)) || uv_mutex_init(&js->lock) != 0) {
        free(js);
        snprintf(err, 128, "out of memory");
        return FKEX_ERR_NO_MEMORY;
    }
    js->loop = loop;
    js->hooks = *hooks;
    uv_async_init(loop, &js->wake, on_wake);
    uv_timer_init(loop, &js->retry);
    js->wake.data = js->retry.data = js;
    js->open_handles = 2;
    for (int i = 0; i < n; i++)
        urls[i] = servers[i];
    st = natsOptions_Create(&opts);
    if (st == NATS_OK)
        st = natsOptions_SetServers(opts, urls, n);
    if (st == NATS_OK)
        st = natsOptions_SetName(opts, "fkex relay");
    if (st == NATS_OK)
        st = natsOptions_SetMaxReconnect(opts, -1);   /* for ever: the cluster comes back */
    if (st == NATS_OK)
        st = natsOptions_SetReconnectWait(opts, 250);
    if (st == NATS_OK)
        st = natsOptions_SetDisconnectedCB(opts, on_disconnected, js);
    if (st == NATS_OK)
        st = natsOptions_SetReconnectedCB(opts, on_reconnected, js);
    if (st == NATS_OK)
        st = natsConnection_Connect(&js->nc, opts);
    natsOptions_Destroy(opts);
    if (st != NATS_OK) {
        snprintf(err, 128, "no NATS server of %s answered: %s", store, natsStatus_GetText(st));
        relay_js_close(js);
        return FKEX_ERR_IO;
    }
    jsOptions_Init(&jo);
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.AckHandlerClosure = js;
    jo.PublishAsync.MaxPending = 65536;
    if ((st = natsConnection_JetStream(&js->ctx, js->nc, &jo)) != NATS_OK ||
        (st = make_stream(js, err)) != NATS_OK) {
        if (st != NATS_OK && !err[0])
            snprintf(err, 128, "JetStream: %s", natsStatus_GetText(st));
        relay_js_close(js);
        return FKEX_ERR_IO;
    }
    jsSubOptions_Init(&so);
    so.Stream = RELAY_JS_STREAM;
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverAll;
    /* The server's heartbeats on the consumer: two missed and libnats
     * makes it again from the next entry, on a server that is alive. */
    so.Config.Heartbeat = (int64_t)CONSUMER_HEARTBEAT_MS * 1000000;
    /* A stream just made has its leader elected meanwhile: the consumer's
     * creation times out until then, and is asked again, as the stream is. */
    uint64_t until = uv_hrtime() + (uint64_t)OPEN_WAIT_MS * 1000000;
    for (;;) {
        jerr = 0;
        st = js_Subscribe(&js->sub, js->ctx, "fkex.>", on_msg, js, NULL, &so, &jerr);
        if (st != NATS_TIMEOUT || uv_hrtime() >= until)
            break;
        uv_sleep(250);
    }
    if (st == NATS_OK)   /* a relay folding a long log must not be cut off as slow */
        st = natsSubscription_SetPendingLimits(js->sub, -1, -1);
    if (st != NATS_OK) {
        snprintf(err, 128, "cannot read the stream %s: %s (error %d)", RELAY_JS_STREAM,
                 natsStatus_GetText(st), (int)jerr);
        relay_js_close(js);
        return FKEX_ERR_IO;
    }
    uv_timer_start(&js->retry, on_retry, RETRY_TICK_MS, RETRY_TICK_MS);
    *out = js;
    return FKEX_OK;
}

void relay_js_close(relay_js *js)
{
    if (!js)
        return;
    if (js->sub) {
        natsSubscription_Unsubscribe(js->sub);
        natsSubscription_Destroy(js->sub);
    }
    jsCtx_Destroy(js->ctx);
    natsConnection_Destroy(js->nc);
    /* Until libnats' threads are done, one may still call back: wait for
     * them (the library is torn down; a daemon opens it once). */
    nats_CloseAndWait(5000);
    for (js_event *e = js->head, *next; e; e = next) {
        next = e->next;
        free(e);
    }
    js->head = js->tail = NULL;
    for (size_t i = 0; i < js->npend; i++)
        free(js->pend[i].entry);
    free(js->pend);
    js->pend = NULL;
    js->npend = 0;
    uv_timer_stop(&js->retry);
    uv_close((uv_handle_t *)&js->wake, on_handle_closed);
    uv_close((uv_handle_t *)&js->retry, on_handle_closed);
}
