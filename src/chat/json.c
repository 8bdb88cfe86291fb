/*
 * chat/json.c: `fkex chat --batch` speaks JSON lines. This is the small
 * part of JSON it needs (RFC 8259): one object per line, string members
 * only, escapes including \uXXXX and surrogate pairs, and nothing else.
 * Output strings are escaped so that any member's text is a valid JSON
 * string, whatever bytes it holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "chat/chat.h"

typedef struct {
    const char *p, *end;
    char *err;
} parser;

static fkex_err fail(parser *ps, const char *why)
{
    snprintf(ps->err, 96, "%s", why);
    return FKEX_ERR_BAD_ENCODING;
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r' || *ps->p == '\n'))
        ps->p++;
}

static int hex4(const char *p, uint32_t *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        *v = (*v << 4) | (uint32_t)d;
    }
    return 0;
}

/* A JSON string into out (at most cap bytes, NUL-terminated). */
static fkex_err string(parser *ps, char *out, size_t cap, size_t *outlen)
{
    size_t n = 0;
    if (ps->p >= ps->end || *ps->p != '"')
        return fail(ps, "expected a string");
    ps->p++;
    for (;;) {
        char buf[4];
        size_t k;
        if (ps->p >= ps->end)
            return fail(ps, "unterminated string");
        unsigned char c = (unsigned char)*ps->p++;
        if (c == '"')
            break;
        if (c < 0x20)
            return fail(ps, "control character in a string");
        if (c != '\\') {
            buf[0] = (char)c;
            k = 1;
        } else {
            if (ps->p >= ps->end)
                return fail(ps, "unterminated escape");
            char e = *ps->p++;
            uint32_t cp;
            switch (e) {
            case '"': case '\\': case '/': buf[0] = e; k = 1; break;
            case 'b': buf[0] = '\b'; k = 1; break;
            case 'f': buf[0] = '\f'; k = 1; break;
            case 'n': buf[0] = '\n'; k = 1; break;
            case 'r': buf[0] = '\r'; k = 1; break;
            case 't': buf[0] = '\t'; k = 1; break;
            case 'u':
                if (ps->end - ps->p < 4 || hex4(ps->p, &cp) != 0)
                    return fail(ps, "bad \\u escape");
                ps->p += 4;
                if (cp >= 0xdc00 && cp <= 0xdfff)
                    return fail(ps, "lone low surrogate");
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    uint32_t lo;
                    if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
                        hex4(ps->p + 2, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
                        return fail(ps, "lone high surrogate");
                    ps->p += 6;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                k = chat_utf8_encode(buf, cp);
                break;
            default:
                return fail(ps, "bad escape");
            }
        }
        if (n + k > cap) {
            snprintf(ps->err, 96, "text longer than %zu bytes", cap);
            return FKEX_ERR_ARGUMENT;
        }
        memcpy(out + n, buf, k);
        n += k;
    }
    out[n] = 0;
    *outlen = n;
    if (!chat_utf8_ok(out, n, "\n\t"))
        return fail(ps, "invalid UTF-8, or a control character other than newline or tab");
    return FKEX_OK;
}

fkex_err chat_cmd_parse(chat_cmd *cmd, const char *line, size_t len, char err[96])
{
    parser ps = { line, line + len, err };
    char key[16], value[16];
    size_t klen, vlen;
    fkex_err e;
    memset(cmd, 0, sizeof *cmd);
    err[0] = 0;
    skip_ws(&ps);
    if (ps.p >= ps.end || *ps.p++ != '{')
        return fail(&ps, "expected a JSON object");
    skip_ws(&ps);
    if ((e = string(&ps, key, sizeof key - 1, &klen)) != FKEX_OK)
        return e == FKEX_ERR_ARGUMENT ? fail(&ps, "unknown member") : e;
    skip_ws(&ps);
    if (ps.p >= ps.end || *ps.p++ != ':')
        return fail(&ps, "expected ':'");
    skip_ws(&ps);
    if (strcmp(key, "send") == 0) {
        if ((e = string(&ps, cmd->text, CHAT_TEXT_MAX, &cmd->textlen)) != FKEX_OK)
            return e;
        cmd->kind = CHAT_CMD_SEND;
    } else if (strcmp(key, "cmd") == 0) {
        if ((e = string(&ps, value, sizeof value - 1, &vlen)) != FKEX_OK)
            return e == FKEX_ERR_ARGUMENT ? fail(&ps, "unknown command") : e;
        if (strcmp(value, "leave") == 0)
            cmd->kind = CHAT_CMD_LEAVE;
        else if (strcmp(value, "quit") == 0)
            cmd->kind = CHAT_CMD_QUIT;
        else if (strcmp(value, "verify") == 0)
            cmd->kind = CHAT_CMD_VERIFY;
        else if (strcmp(value, "who") == 0)
            cmd->kind = CHAT_CMD_WHO;
        else
            return fail(&ps, "unknown command (leave, quit, verify, who)");
    } else {
        return fail(&ps, "unknown member (send, cmd)");
    }
    skip_ws(&ps);
    if (ps.p >= ps.end || *ps.p++ != '}')
        return fail(&ps, "expected '}' (one member per line)");
    skip_ws(&ps);
    if (ps.p != ps.end)
        return fail(&ps, "trailing characters after the object");
    return FKEX_OK;
}

size_t chat_json_escape(char *out, size_t cap, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        char buf[8];
        size_t k = 0, adv = 1;
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            buf[0] = '\\';
            buf[1] = (char)c;
            k = 2;
        } else if (c == '\n') {
            memcpy(buf, "\\n", 2), k = 2;
        } else if (c == '\t') {
            memcpy(buf, "\\t", 2), k = 2;
        } else if (c < 0x20 || c == 0x7f) {
            k = (size_t)snprintf(buf, sizeof buf, "\\u%04x", c);
        } else if (c < 0x80) {
            buf[0] = (char)c;
            k = 1;
        } else {
            /* A whole well-formed character passes, escaped if it is an
             * invisible one (a bidirectional override must not turn the
             * line around where it is shown); a bad byte is U+FFFD. */
            size_t m = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
            uint32_t cp;
            if (m <= len - i && chat_utf8_ok(s + i, m, "") &&
                chat_utf8_decode(&cp, s + i, m) == m && chat_invisible(cp)) {
                k = (size_t)snprintf(buf, sizeof buf, "\\u%04x", (unsigned)cp);
                adv = m;
            } else if (m <= len - i && chat_utf8_ok(s + i, m, "")) {
                memcpy(buf, s + i, m);
                k = adv = m;
            } else {
                memcpy(buf, "\xef\xbf\xbd", 3);
                k = 3;
            }
        }
        if (n + k <= cap)
            memcpy(out + n, buf, k);
        n += k;
        i += adv;
    }
    return n;
}

void chat_json_string(FILE *f, const char *s, size_t len)
{
    char small[512];
    size_t need = chat_json_escape(small, sizeof small, s, len);
    fputc('"', f);
    if (need <= sizeof small) {
        fwrite(small, 1, need, f);
    } else {
        char *big = malloc(need);
        if (big) {
            chat_json_escape(big, need, s, len);
            fwrite(big, 1, need, f);
            sodium_memzero(big, need);
            free(big);
        }
    }
    fputc('"', f);
    sodium_memzero(small, sizeof small);
}

void chat_json_error(FILE *f, const chat_event *ev)
{
    char fp[CHAT_FINGERPRINT_LEN + 1];
    fputs("{\"event\": \"error\", \"code\": ", f);
    chat_json_string(f, ev->code, strlen(ev->code));
    fputs(", \"message\": ", f);
    chat_json_string(f, ev->message, strlen(ev->message));
    if (ev->has_epoch)
        fprintf(f, ", \"epoch\": %llu", (unsigned long long)ev->epoch);
    if (ev->leaf) {
        chat_fingerprint(fp, ev->leaf);
        fprintf(f, ", \"from\": \"%s\"", fp);
    }
    if (ev->count)
        fprintf(f, ", \"count\": %llu", (unsigned long long)ev->count);
    fputs("}\n", f);
}

/* ---- the events a script reads ------------------------------------------------ */

void chat_json_event(FILE *f, const uint8_t room_id[32], const chat_event *ev)
{
    char hex[65], who[CHAT_FINGERPRINT_LEN + 1] = "";
    switch (ev->kind) {
    case CHAT_EV_JOINED:
        sodium_bin2hex(hex, sizeof hex, room_id, 32);
        if (ev->peer) {
            fputs("{\"event\": \"joined\", \"peer\": ", f);
            chat_json_string(f, ev->peer, strlen(ev->peer));
            fprintf(f, ", \"authenticated\": %s, \"conversation\": \"%s\", \"members\": %u}\n",
                    ev->authenticated ? "true" : "false", hex, ev->members);
            break;
        }
        fprintf(f, "{\"event\": \"joined\", \"room\": \"%s\", \"epoch\": %llu, \"members\": %u}\n",
                hex, (unsigned long long)ev->epoch, ev->members);
        break;
    case CHAT_EV_EPOCH:
        fprintf(f, "{\"event\": \"epoch\", \"epoch\": %llu, \"members\": %u}\n",
                (unsigned long long)ev->epoch, ev->members);
        break;
    case CHAT_EV_SENT:
        fprintf(f, "{\"event\": \"sent\", \"n\": %llu}\n", (unsigned long long)ev->count);
        break;
    case CHAT_EV_MESSAGE:
        if (ev->own)
            return;   /* a script knows what it sent */
        fputs("{\"event\": \"message\", \"from\": ", f);
        chat_json_string(f, ev->nick, ev->nicklen);
        if (ev->leaf) {   /* the nick is self-chosen; the pseudonym is the member's own */
            chat_fingerprint(who, ev->leaf);
            fprintf(f, ", \"pseudonym\": \"%s\"", who);
        }
        fputs(", \"text\": ", f);
        chat_json_string(f, ev->text, ev->textlen);
        if (ev->peer) {
            fputs(", \"peer\": ", f);
            chat_json_string(f, ev->peer, strlen(ev->peer));
        }
        fprintf(f, ", \"epoch\": %llu}\n", (unsigned long long)ev->epoch);
        break;
    case CHAT_EV_ERROR:
        chat_json_error(f, ev);
        break;
    case CHAT_EV_LEFT:
        if (ev->code) {   /* pending: nobody committed it */
            fputs("{\"event\": \"left\", \"pending\": true, \"message\": ", f);
            chat_json_string(f, ev->message, strlen(ev->message));
            fputs("}\n", f);
        } else {
            fputs("{\"event\": \"left\"}\n", f);
        }
        break;
    case CHAT_EV_DONE:
    case CHAT_EV_ADDED:
    case CHAT_EV_REMOVED:
        return;   /* the epoch event that follows says how many members there are */
    case CHAT_EV_KICKED:
        if (ev->leaf)
            chat_fingerprint(who, ev->leaf);
        fputs(ev->own ? "{\"event\": \"removed\", \"reason\": "
                      : "{\"event\": \"kicked\", \"reason\": ", f);
        chat_json_string(f, ev->text, ev->textlen);
        if (!ev->own)
            fprintf(f, ", \"pseudonym\": \"%s\"", who);
        fputs("}\n", f);
        break;
    case CHAT_EV_POLICY:
        fputs("{\"event\": \"policy\", \"policy\": ", f);
        chat_json_string(f, ev->text, ev->textlen);
        fprintf(f, ", \"epoch\": %llu}\n", (unsigned long long)ev->epoch);
        break;
    case CHAT_EV_CONNECTION:
        fputs("{\"event\": \"connection\", \"state\": ", f);
        chat_json_string(f, ev->code, strlen(ev->code));
        fputs(", \"message\": ", f);
        chat_json_string(f, ev->message, strlen(ev->message));
        fputs("}\n", f);
        break;
    }
}

/* {"cmd": "verify"} and {"cmd": "who"} when not in the room (or in a mode
 * without epochs): an error event, the session goes on. */
static void not_now(FILE *f, fkex_err err)
{
    chat_event ev = { .kind = CHAT_EV_ERROR, .code = "not_joined",
                      .message = "not in the room yet (or any more)" };
    if (err == FKEX_ERR_UNSUPPORTED) {
        ev.code = "unsupported";
        ev.message = "seed rooms and direct conversations have no epoch fingerprint";
    }
    chat_json_error(f, &ev);
}

void chat_json_verify(FILE *f, const chat_client *c)
{
    chat_verify v;
    fkex_err err = chat_client_verify(&v, c);
    if (err != FKEX_OK) {
        not_now(f, err);
        return;
    }
    fprintf(f, "{\"event\": \"verify\", \"epoch\": %llu, \"fingerprint\": \"%s\"}\n",
            (unsigned long long)v.epoch, v.fingerprint);
}

void chat_json_who(FILE *f, const chat_client *c)
{
    chat_status st;
    chat_member m;
    chat_client_status(&st, c);
    if (st.state != CHAT_ONLINE) {
        not_now(f, FKEX_ERR_UNEXPECTED);
        return;
    }
    fprintf(f, "{\"event\": \"who\", \"epoch\": %llu, \"members\": [", (unsigned long long)st.epoch);
    for (uint32_t i = 0, n = 0; i < st.members; i++) {
        if (chat_client_member(&m, c, i) != 0)
            continue;
        fprintf(f, "%s{\"pseudonym\": \"%s\", \"nick\": ", n++ ? ", " : "", m.pseudonym);
        chat_json_string(f, m.nick, strlen(m.nick));
        fprintf(f, ", \"self\": %s}", m.own ? "true" : "false");
    }
    fputs("]}\n", f);
}
