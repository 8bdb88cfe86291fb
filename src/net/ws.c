/*
 * net/ws.c: WebSocket frames (RFC 6455, section 5) and the handshake's
 * accept value (4.2.2). net/ws.h says which rules the parser holds a
 * client to.
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <sodium.h>
#include "net/ws.h"

#define CONTROL_MAX 125
/* A message buffer this large is freed once its message is delivered, so
 * that an idle connection holds no more than a small one. */
#define KEEP_CAP 16384

void fkex_ws_parser_init(fkex_ws_parser *p, size_t max_message)
{
    memset(p, 0, sizeof *p);
    p->max_message = max_message;
    p->hdr_need = 2;
}

void fkex_ws_parser_free(fkex_ws_parser *p)
{
    free(p->buf);
    p->buf = NULL;
    p->have = p->cap = 0;
}

int fkex_ws_parser_partial(const fkex_ws_parser *p)
{
    return p->nhdr > 0 || p->left > 0 || p->in_message;
}

static fkex_err fail(fkex_ws_parser *p, uint16_t status, const char *why)
{
    p->status = status;
    p->why = why;
    return p->failed = FKEX_ERR_BAD_ENCODING;
}

static int is_control(int opcode) { return opcode >= FKEX_WS_CLOSE; }

/* The first two bytes: what kind of frame, and how long its header is. */
static fkex_err read_start(fkex_ws_parser *p)
{
    unsigned len7 = p->hdr[1] & 0x7f;
    p->fin = p->hdr[0] >> 7;
    p->opcode = p->hdr[0] & 0x0f;
    if (p->hdr[0] & 0x70)
        return fail(p, FKEX_WS_PROTOCOL_ERROR, "WebSocket frame with a reserved bit set");
    if (!(p->hdr[1] & 0x80))
        return fail(p, FKEX_WS_PROTOCOL_ERROR, "unmasked WebSocket frame from a client");
    switch (p->opcode) {
    case FKEX_WS_CONTINUATION: case FKEX_WS_TEXT: case FKEX_WS_BINARY:
    case FKEX_WS_CLOSE: case FKEX_WS_PING: case FKEX_WS_PONG:
        break;
    default:
        return fail(p, FKEX_WS_PROTOCOL_ERROR, "unknown WebSocket opcode");
    }
    if (is_control(p->opcode) && (!p->fin || len7 > CONTROL_MAX))
        return fail(p, FKEX_WS_PROTOCOL_ERROR, "fragmented or long WebSocket control frame");
    p->hdr_need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
    return FKEX_OK;
}

/* The whole header: its length in shortest form, and the frame in its place. */
static fkex_err read_header(fkex_ws_parser *p)
{
    unsigned len7 = p->hdr[1] & 0x7f;
    uint64_t len = len7;
    size_t at = 2;
    if (len7 == 126) {
        len = (uint64_t)p->hdr[2] << 8 | p->hdr[3];
        at = 4;
        if (len < 126)
            return fail(p, FKEX_WS_PROTOCOL_ERROR, "WebSocket length not in its shortest form");
    } else if (len7 == 127) {
        len = 0;
        for (size_t i = 0; i < 8; i++)
            len = len << 8 | p->hdr[2 + i];
        at = 10;
        if (len >> 63)
            return fail(p, FKEX_WS_PROTOCOL_ERROR, "WebSocket length with its top bit set");
        if (len <= 0xffff)
            return fail(p, FKEX_WS_PROTOCOL_ERROR, "WebSocket length not in its shortest form");
    }
    memcpy(p->mask, p->hdr + at, 4);
    if (p->opcode == FKEX_WS_TEXT)
        return fail(p, FKEX_WS_UNSUPPORTED_DATA, "WebSocket text message (relay frames are binary)");
    if (p->opcode == FKEX_WS_CONTINUATION && !p->in_message)
        return fail(p, FKEX_WS_PROTOCOL_ERROR, "WebSocket continuation without a message");
    if (p->opcode == FKEX_WS_BINARY && p->in_message)
        return fail(p, FKEX_WS_PROTOCOL_ERROR, "WebSocket message begun inside another");
    if (!is_control(p->opcode) && len > p->max_message - p->have)
        return fail(p, FKEX_WS_TOO_BIG, "frame too large");
    if (!is_control(p->opcode))
        p->in_message = 1;
    p->left = len;
    p->mask_at = 0;
    p->nctl = 0;
    return FKEX_OK;
}

/* A close frame's payload: nothing, or a code allowed on the wire (RFC
 * 6455 7.4.1-7.4.2) and a reason (not read). */
static int close_payload_ok(const uint8_t *b, size_t n)
{
    unsigned code;
    if (n == 0)
        return 1;
    if (n < 2)
        return 0;
    code = (unsigned)b[0] << 8 | b[1];
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
           (code >= 3000 && code <= 4999);
}

static int reserve(fkex_ws_parser *p, size_t need)
{
    uint8_t *nb;
    size_t cap = p->cap ? p->cap : 256;
    if (need <= p->cap)
        return 0;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (!(nb = realloc(p->buf, cap)))
        return -1;
    p->buf = nb;
    p->cap = cap;
    return 0;
}

/* The frame's payload is in: hand over what it completes. */
static fkex_err frame_end(fkex_ws_parser *p, int *stop, fkex_ws_sink sink, void *ctx)
{
    p->nhdr = 0;
    p->hdr_need = 2;
    if (is_control(p->opcode)) {
        if (p->opcode == FKEX_WS_CLOSE && !close_payload_ok(p->ctl, p->nctl))
            return fail(p, FKEX_WS_PROTOCOL_ERROR, "WebSocket close frame with a bad status code");
        *stop = sink(ctx, p->opcode, p->ctl, p->nctl);
        return FKEX_OK;
    }
    if (!p->fin)
        return FKEX_OK;
    p->in_message = 0;
    *stop = sink(ctx, FKEX_WS_BINARY, p->buf, p->have);
    p->have = 0;
    if (p->cap > KEEP_CAP)
        fkex_ws_parser_free(p);
    return FKEX_OK;
}

fkex_err fkex_ws_parser_feed(fkex_ws_parser *p, const uint8_t *data, size_t len, size_t *used,
                             fkex_ws_sink sink, void *ctx)
{
    size_t off = 0;
    int stop = 0;
    fkex_err e = FKEX_OK;
    if (p->failed) {
        if (used)
            *used = 0;
        return p->failed;
    }
    while (!stop && e == FKEX_OK && off < len) {
        if (p->nhdr < p->hdr_need) {
            p->hdr[p->nhdr++] = data[off++];
            if (p->nhdr == 2)
                e = read_start(p);
            if (e == FKEX_OK && p->nhdr == p->hdr_need && (e = read_header(p)) == FKEX_OK &&
                p->left == 0)
                e = frame_end(p, &stop, sink, ctx);
            continue;
        }
        size_t n = p->left < len - off ? (size_t)p->left : len - off;
        uint8_t *dst;
        if (is_control(p->opcode)) {
            dst = p->ctl + p->nctl;
            p->nctl += n;
        } else {
            if (reserve(p, p->have + n) != 0) {
                e = p->failed = FKEX_ERR_NO_MEMORY;
                break;
            }
            dst = p->buf + p->have;
            p->have += n;
        }
        memcpy(dst, data + off, n);
        fkex_ws_mask(dst, n, p->mask, p->mask_at);
        p->mask_at += n;
        p->left -= n;
        off += n;
        if (p->left == 0)
            e = frame_end(p, &stop, sink, ctx);
    }
    if (used)
        *used = off;
    return e;
}

size_t fkex_ws_header(uint8_t out[FKEX_WS_HEADER_MAX], int opcode, uint64_t len,
                      const uint8_t mask[4])
{
    size_t n = 2;
    out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
    if (len < 126) {
        out[1] = (uint8_t)len;
    } else if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        n = 4;
    } else {
        out[1] = 127;
        for (size_t i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        n = 10;
    }
    if (mask) {
        out[1] |= 0x80;
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

void fkex_ws_mask(uint8_t *p, size_t len, const uint8_t mask[4], size_t at)
{
    for (size_t i = 0; i < len; i++)
        p[i] ^= mask[(at + i) & 3];
}

void fkex_ws_accept(char out[FKEX_WS_ACCEPT_LEN + 1], const char *key, size_t keylen)
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestInit_ex(md, EVP_sha1(), NULL) == 1 &&
             EVP_DigestUpdate(md, key, keylen) == 1 &&
             EVP_DigestUpdate(md, guid, sizeof guid - 1) == 1 &&
             EVP_DigestFinal_ex(md, digest, &dlen) == 1 && dlen == 20;
    EVP_MD_CTX_free(md);
    if (!ok) {   /* a value no client accepts: its handshake fails */
        memset(out, 0, FKEX_WS_ACCEPT_LEN + 1);
        return;
    }
    sodium_bin2base64(out, FKEX_WS_ACCEPT_LEN + 1, digest, 20, sodium_base64_VARIANT_ORIGINAL);
}
