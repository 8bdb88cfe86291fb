/*
 * chat/content.c: what a room message carries (PROTOCOL.md, application
 * messages: "the nickname, the text and a timestamp"), as the plaintext
 * inside the ratchet's AEAD. Senders are members, but members can be
 * hostile, so decoding is strict: bounded lengths, well-formed UTF-8, no
 * control characters that could repaint a terminal.
 */
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "chat/chat.h"

#define CONTENT_VERSION 1

size_t chat_utf8_decode(uint32_t *cp, const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t n;
    uint32_t c = s[0], min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if ((c & 0xe0) == 0xc0)
        n = 2, c &= 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
        n = 3, c &= 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0)
        n = 4, c &= 0x07, min = 0x10000;
    else
        return 0;
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

size_t chat_utf8_encode(char out[4], uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

int chat_utf8_ok(const char *s, size_t len, const char *allowed)
{
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = chat_utf8_decode(&cp, s + i, len - i);
        if (n == 0)
            return 0;
        /* C0, DEL and C1 controls, unless allowed (newline, tab in text). */
        if ((cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) && !(cp < 0x80 && cp && strchr(allowed, (int)cp)))
            return 0;
        i += n;
    }
    return 1;
}

int chat_invisible(uint32_t cp)
{
    return cp == 0x061c || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff;
}

int chat_nick_ok(const char *s, size_t len)
{
    if (len == 0 || len > CHAT_NICK_MAX || !chat_utf8_ok(s, len, ""))
        return 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += chat_utf8_decode(&cp, s + i, len - i);
        if (chat_invisible(cp))
            return 0;
    }
    return 1;
}

size_t chat_displayable(char *out, const char *s, size_t len, const char *allowed)
{
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = chat_utf8_decode(&cp, s + i, len - i);
        int control = cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
        if (k == 0 || chat_invisible(cp) ||
            (control && !(cp < 0x80 && cp && strchr(allowed, (int)cp)))) {
            memcpy(out + n, "\xef\xbf\xbd", 3);   /* U+FFFD */
            n += 3;
            i += k ? k : 1;
            continue;
        }
        memcpy(out + n, s + i, k);
        n += k;
        i += k;
    }
    return n;
}

static int acceptable(const chat_content *c)
{
    return c->nicklen >= 1 && c->nicklen <= CHAT_NICK_MAX && c->textlen <= CHAT_TEXT_MAX &&
           chat_utf8_ok(c->nick, c->nicklen, "") && chat_utf8_ok(c->text, c->textlen, "\n\t");
}

fkex_err chat_content_encode(uint8_t **out, size_t *outlen, const chat_content *c)
{
    fkex_writer w;
    if (!acceptable(c))
        return FKEX_ERR_ARGUMENT;
    fkex_writer_init(&w);
    fkex_writer_u8(&w, CONTENT_VERSION);
    fkex_writer_bytes16(&w, c->nick, c->nicklen);
    fkex_writer_bytes16(&w, c->text, c->textlen);
    fkex_writer_u64(&w, c->sent_ms);
    if (w.failed) {
        fkex_writer_free(&w);
        return FKEX_ERR_NO_MEMORY;
    }
    *out = w.buf;
    *outlen = w.len;
    return FKEX_OK;
}

fkex_err chat_content_decode(chat_content *c, const uint8_t *in, size_t len)
{
    fkex_reader r;
    uint8_t version;
    const uint8_t *nick, *text;
    fkex_err err;
    memset(c, 0, sizeof *c);
    fkex_reader_init(&r, in, len);
    if (fkex_reader_u8(&r, &version) != 0 || fkex_reader_bytes16(&r, &nick, &c->nicklen) != 0 ||
        fkex_reader_bytes16(&r, &text, &c->textlen) != 0 || fkex_reader_u64(&r, &c->sent_ms) != 0)
        return FKEX_ERR_TRUNCATED;
    if ((err = fkex_reader_end(&r)) != FKEX_OK)
        return err;
    if (version != CONTENT_VERSION)
        return FKEX_ERR_UNSUPPORTED;
    c->nick = (const char *)nick;
    c->text = (const char *)text;
    return acceptable(c) ? FKEX_OK : FKEX_ERR_BAD_ENCODING;
}
