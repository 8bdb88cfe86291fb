/*
 * web/client.c: what the page calls (web/client.js). One session at a
 * time: the chat layer's member (chat/client.h) in ratchet mode, joined
 * through an invitation with a key file the user picked. Its events reach
 * the page as the JSON lines `fkex chat --batch` prints (chat_json_event),
 * handed to Module.onFkexEvent, and one more at the end:
 * {"event": "done", "exit_code": N}.
 *
 * Every call returns at once; what follows comes as events. The key's
 * bytes are wiped once decoded; the key itself is freed (and wiped) with
 * the session.
 */
#include <emscripten.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "chat/chat.h"
#include "codec/codec.h"
#include "fkex/fkex.h"
#include "web/web.h"

static struct {
    chat_client *client;
    fkex_key *key;
    uv_loop_t loop;
    uint8_t room_id[32];
    int done;
} s;

EM_JS(void, js_event, (const char *line, size_t len), {
    if (Module.onFkexEvent)
        Module.onFkexEvent(UTF8ToString(line, len));
});

/* What a writer made, to the page, one line at a time. */
static void hand_over(char *buf, size_t len)
{
    size_t at = 0;
    while (at < len) {
        size_t n = strcspn(buf + at, "\n");
        if (n)
            js_event(buf + at, n);
        at += n + 1;
    }
}

/* Runs write(f) on a memory stream, and hands the lines over. */
#define TO_PAGE(f, write)                         \
    do {                                          \
        char *buf_ = NULL;                        \
        size_t len_ = 0;                          \
        FILE *f = open_memstream(&buf_, &len_);   \
        if (f) {                                  \
            write;                                \
            fclose(f);                            \
            hand_over(buf_, len_);                \
            sodium_memzero(buf_, len_);           \
        }                                         \
        free(buf_);                               \
    } while (0)

static void page_error(const char *code, const char *message)
{
    chat_event ev = { .kind = CHAT_EV_ERROR, .code = code, .message = message };
    TO_PAGE(f, chat_json_error(f, &ev));
}

/* This member's own message, sent: --batch leaves it out (a script knows
 * what it sent); the page shows it then, and so shows nothing the session
 * did not send (after a leave, say). */
static void own_message(FILE *f, const chat_event *ev)
{
    fputs("{\"event\": \"own\", \"from\": ", f);
    chat_json_string(f, ev->nick, ev->nicklen);
    fputs(", \"text\": ", f);
    chat_json_string(f, ev->text, ev->textlen);
    fputs("}\n", f);
}

static void on_event(void *ctx, const chat_event *ev)
{
    (void)ctx;
    if (ev->kind == CHAT_EV_MESSAGE && ev->own)
        TO_PAGE(f, own_message(f, ev));
    else
        TO_PAGE(f, chat_json_event(f, s.room_id, ev));
    if (ev->kind == CHAT_EV_DONE) {
        char line[64];
        snprintf(line, sizeof line, "{\"event\": \"done\", \"exit_code\": %d}", ev->exit_code);
        js_event(line, strlen(line));
        s.done = 1;
    }
}

void fkexw_after_turn(void)
{
    if (!s.done)
        return;
    chat_client_free(s.client);
    fkex_key_free(s.key);
    s.client = NULL;
    s.key = NULL;
    s.done = 0;
}

/* A key file's bytes, armored or not. FKEX_OK, or an error event said why. */
static fkex_err read_key(fkex_key **key, const uint8_t *bytes, size_t len)
{
    uint8_t *bin = NULL;
    size_t binlen = 0;
    char kind[FKEX_ARMOR_KIND_MAX + 1] = "";
    fkex_err e;
    if (fkex_armor_detect(bytes, len)) {
        if ((e = fkex_armor_decode(&bin, &binlen, kind, bytes, len)) != FKEX_OK) {
            page_error("bad_key", "this file's armor is damaged: it is not a key fkex wrote");
            return e;
        }
        bytes = bin;
        len = binlen;
    }
    e = fkex_key_decode(key, bytes, len);
    if (bin)
        fkex_bytes_free(bin, binlen);
    if (e != FKEX_OK)
        page_error("bad_key", e == FKEX_ERR_AUTHENTICATION
                                  ? "this key's attribute labels do not match its key parts: it is "
                                    "not a key the authority made"
                                  : "this file is not a user key (fkex keygen or fkex enroll makes one)");
    return e;
}

/* Joins the room of invite as nick with the key in key_bytes (wiped
 * here). 0 if the session started; otherwise an error event said why. */
EMSCRIPTEN_KEEPALIVE int fkexw_start(const char *invite, uint8_t *key_bytes, size_t keylen,
                                     const char *nick)
{
    char addr[FKEX_NET_LIST_TEXT_MAX];
    chat_client_config cfg = { 0 };
    fkex_err e;
    if (s.client) {
        page_error("busy", "a session is already running in this page");
        sodium_memzero(key_bytes, keylen);
        return 2;
    }
    if (chat_invite_parse(addr, s.room_id, invite) != FKEX_OK) {
        page_error("bad_invite", "this is not an invitation: it looks like "
                   "fkex://PIN@HOST:PORT/ROOMID (fkex room invite prints one)");
        sodium_memzero(key_bytes, keylen);
        return 2;
    }
    e = read_key(&s.key, key_bytes, keylen);
    sodium_memzero(key_bytes, keylen);
    if (e != FKEX_OK)
        return 2;
    cfg.mode = CHAT_MODE_RATCHET;
    cfg.relay = addr;
    memcpy(cfg.room_id, s.room_id, 32);
    cfg.key = s.key;
    cfg.nick = nick;
    cfg.on_event = on_event;
    if ((e = chat_client_start(&s.client, &s.loop, &cfg)) != FKEX_OK) {
        page_error("bad_nick", e == FKEX_ERR_ARGUMENT
                                   ? "a nickname is 1 to 64 bytes of text without control characters"
                                   : fkex_strerror(e));
        fkex_key_free(s.key);
        s.key = NULL;
        s.client = NULL;
        return 2;
    }
    return 0;
}

EMSCRIPTEN_KEEPALIVE void fkexw_send(const char *text, size_t len)
{
    if (s.client)
        chat_client_send(s.client, text, len);
    fkexw_after_turn();
}

EMSCRIPTEN_KEEPALIVE void fkexw_leave(void)
{
    if (s.client)
        chat_client_leave(s.client);
    fkexw_after_turn();
}

EMSCRIPTEN_KEEPALIVE void fkexw_quit(void)
{
    if (s.client)
        chat_client_quit(s.client);
    fkexw_after_turn();
}

EMSCRIPTEN_KEEPALIVE void fkexw_verify(void)
{
    if (s.client)
        TO_PAGE(f, chat_json_verify(f, s.client));
}

EMSCRIPTEN_KEEPALIVE void fkexw_who(void)
{
    if (s.client)
        TO_PAGE(f, chat_json_who(f, s.client));
}

EMSCRIPTEN_KEEPALIVE int fkexw_nick(const char *nick)
{
    if (!s.client || chat_client_set_nick(s.client, nick) != FKEX_OK) {
        page_error("bad_nick", "a nickname is 1 to 64 bytes of text without control characters");
        return 2;
    }
    return 0;
}

/* Once, before anything else. 0, or 2 if the library cannot start. */
EMSCRIPTEN_KEEPALIVE int fkexw_init(void)
{
    return fkex_init() == FKEX_OK ? 0 : 2;
}
