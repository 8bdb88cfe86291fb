/*
 * net/ws.h: WebSocket framing (RFC 6455, section 5), for the relay's
 * browser clients: one binary message carries one relay frame, as a
 * length-prefixed frame does over TCP (net/net.h).
 *
 * No sockets here (tests and fuzz/fuzz_ws.c feed bytes). The parser reads
 * what a client sends and holds it to the RFC's rules for a server:
 *   - every frame masked (5.1), no RSV bit (no extension is negotiated),
 *     a known opcode, lengths in their shortest form (5.2);
 *   - control frames (close, ping, pong) final and at most 125 bytes,
 *     allowed between the fragments of a message (5.4, 5.5);
 *   - binary messages only: a text message is refused (relay frames are
 *     bytes), and so is a continuation without a message begun, or a new
 *     message inside one;
 *   - a message longer than max_message is refused as soon as a frame
 *     header announces it, before its payload arrives.
 * A close frame's payload is a status code (2 bytes, one RFC 6455 7.4
 * allows on the wire) and at most 123 bytes of reason, or nothing.
 */
#ifndef FKEX_NET_WS_H
#define FKEX_NET_WS_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/error.h"

enum {
    FKEX_WS_CONTINUATION = 0x0,
    FKEX_WS_TEXT = 0x1,
    FKEX_WS_BINARY = 0x2,
    FKEX_WS_CLOSE = 0x8,
    FKEX_WS_PING = 0x9,
    FKEX_WS_PONG = 0xa
};

/* Status codes of close frames (RFC 6455 7.4.1). */
#define FKEX_WS_NORMAL 1000
#define FKEX_WS_PROTOCOL_ERROR 1002
#define FKEX_WS_UNSUPPORTED_DATA 1003
#define FKEX_WS_POLICY 1008
#define FKEX_WS_TOO_BIG 1009

/* Called for each complete binary message (opcode FKEX_WS_BINARY) and
 * each control frame (FKEX_WS_CLOSE, FKEX_WS_PING, FKEX_WS_PONG), payload
 * unmasked, valid only during the call. 0 to go on, nonzero to stop. */
typedef int (*fkex_ws_sink)(void *ctx, int opcode, const uint8_t *payload, size_t len);

typedef struct {
    size_t max_message;
    uint8_t hdr[14];        /* the frame header so far */
    size_t nhdr, hdr_need;  /* its bytes seen, and how many it has (2 .. 14) */
    uint64_t left;          /* payload bytes still to come in this frame */
    uint8_t mask[4];
    size_t mask_at;         /* payload bytes of this frame unmasked so far */
    int opcode, fin;        /* this frame's */
    int in_message;         /* a binary message has begun and not ended */
    uint8_t ctl[125];       /* a control frame's payload so far */
    size_t nctl;
    uint8_t *buf;           /* the message so far */
    size_t have, cap;
    uint16_t status;        /* what a close should say when feeding fails */
    const char *why;        /* ... and the sentence for logs */
    fkex_err failed;        /* sticky */
} fkex_ws_parser;

void fkex_ws_parser_init(fkex_ws_parser *p, size_t max_message);
/* As fkex_frame_parser_feed (net/net.h): *used says how much was read, all
 * of it unless the sink stopped; the result is the same however a stream
 * is split. Errors: FKEX_ERR_BAD_ENCODING, the frames break the rules
 * above (p->why says how, p->status is the close code to send: 1002,
 * 1003 or 1009); FKEX_ERR_NO_MEMORY. */
fkex_err fkex_ws_parser_feed(fkex_ws_parser *p, const uint8_t *data, size_t len, size_t *used,
                             fkex_ws_sink sink, void *ctx) FKEX_WUR;
/* 1 if part of a frame or message has been read. */
int fkex_ws_parser_partial(const fkex_ws_parser *p);
void fkex_ws_parser_free(fkex_ws_parser *p);

/* The header of a frame (final, opcode, len bytes of payload), masked
 * with mask if not NULL (a client's; the caller masks the payload with
 * fkex_ws_mask): its length, 2 to 14 bytes. */
#define FKEX_WS_HEADER_MAX 14
size_t fkex_ws_header(uint8_t out[FKEX_WS_HEADER_MAX], int opcode, uint64_t len,
                      const uint8_t mask[4]);
/* XORs p with the mask, from payload offset at. */
void fkex_ws_mask(uint8_t *p, size_t len, const uint8_t mask[4], size_t at);

/* Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (RFC 6455 4.2.2):
 * base64(SHA-1(key || the RFC's GUID)), 28 characters and a NUL. */
#define FKEX_WS_ACCEPT_LEN 28
void fkex_ws_accept(char out[FKEX_WS_ACCEPT_LEN + 1], const char *key, size_t keylen);

#endif
