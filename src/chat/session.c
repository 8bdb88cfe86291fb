/*
 * chat/session.c: what the chat client's sessions share (chat/session.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "chat/session.h"

void chat_report(const chat_client_config *cfg, const char *code, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    chat_event ev = { .kind = CHAT_EV_ERROR, .code = code, .message = msg };
    if (cfg->on_event)
        cfg->on_event(cfg->ctx, &ev);
}

void chat_reportf(const chat_client_config *cfg, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    chat_report(cfg, code, fmt, ap);
    va_end(ap);
}

fkex_err chat_send_envelope(fkex_conn *conn, const fkex_relay_msg *m)
{
    fkex_writer w;
    fkex_writer_init(&w);
    fkex_relay_msg_encode(&w, m);
    if (w.failed) {
        fkex_writer_free(&w);
        return FKEX_ERR_NO_MEMORY;
    }
    (void)fkex_conn_send(conn, w.buf, w.len);   /* a failure closes the connection */
    fkex_writer_free(&w);
    return FKEX_OK;
}

const char *chat_where(const char *endpoint)
{
    const char *at = strchr(endpoint, '@');
    return at ? at + 1 : endpoint;
}

void chat_error_text(char text[FKEX_RELAY_TEXT_MAX + 1], const fkex_relay_msg *m)
{
    size_t n = m->datalen < FKEX_RELAY_TEXT_MAX ? m->datalen : FKEX_RELAY_TEXT_MAX;
    memcpy(text, m->data, n);
    text[n] = 0;
}

int chat_texts_add(chat_texts *q, const char *text, size_t len)
{
    char *copy = q->n < CHAT_MAX_QUEUED_TEXTS ? malloc(len + 1) : NULL;
    if (!copy)
        return -1;
    memcpy(copy, text, len);
    copy[len] = 0;
    q->text[q->n] = copy;
    q->len[q->n++] = len;
    return 0;
}

void chat_texts_flush(chat_texts *q, void (*send)(void *ctx, const char *text, size_t len),
                      void *ctx, const int *stop)
{
    for (size_t i = 0; i < q->n && !*stop; i++)
        send(ctx, q->text[i], q->len[i]);
    chat_texts_wipe(q);
}

void chat_texts_wipe(chat_texts *q)
{
    for (size_t i = 0; i < q->n; i++) {
        sodium_memzero(q->text[i], q->len[i]);
        free(q->text[i]);
    }
    q->n = 0;
}
