/*
 * chat/session.h: what the chat client's sessions share (a room's, over
 * the relay link of chat/link.c, and a direct conversation's,
 * chat/dm_client.c): errors told to the front end, envelopes to the
 * relay, and the texts typed before a session can send them.
 */
#ifndef FKEX_CHAT_SESSION_H
#define FKEX_CHAT_SESSION_H

#include <stdarg.h>
#include "chat/client.h"
#include "net/net.h"
#include "wire/relay_msg.h"

#define CHAT_MAX_QUEUED_TEXTS 256   /* texts typed before the session can send */

/* An ERROR event with the code and a formatted sentence, to cfg's callback. */
void chat_report(const chat_client_config *cfg, const char *code, const char *fmt, va_list ap);
void chat_reportf(const chat_client_config *cfg, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Encodes m and sends it on conn (a failed send closes the connection).
 * FKEX_ERR_NO_MEMORY if it could not be encoded. */
fkex_err chat_send_envelope(fkex_conn *conn, const fkex_relay_msg *m) FKEX_WUR;
/* A relay's endpoint ("PIN@HOST:PORT") as sentences name it: HOST:PORT. */
const char *chat_where(const char *endpoint);
/* An ERROR envelope's text, NUL-terminated (the decoder checked it is printable). */
void chat_error_text(char text[FKEX_RELAY_TEXT_MAX + 1], const fkex_relay_msg *m);

typedef struct {
    char *text[CHAT_MAX_QUEUED_TEXTS];
    size_t len[CHAT_MAX_QUEUED_TEXTS];
    size_t n;
} chat_texts;

/* A copy of text kept; -1 if the queue is full or out of memory. */
int chat_texts_add(chat_texts *q, const char *text, size_t len) FKEX_WUR;
/* Each text to send(ctx, ...) in order while *stop is 0, then all wiped. */
void chat_texts_flush(chat_texts *q, void (*send)(void *ctx, const char *text, size_t len),
                      void *ctx, const int *stop);
void chat_texts_wipe(chat_texts *q);

#endif
