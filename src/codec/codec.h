/*
 * codec/codec.h: the bottom layer. Canonical byte encoding, byte streams,
 * text armor, big-endian loads and stores, and the error sentences.
 * Nothing here knows a key, a scheme or a message.
 *
 * The writer grows a heap buffer; the reader is a strict cursor: every get
 * is bounds-checked, a failed get poisons the reader, and fkex_reader_end()
 * fails unless every byte was consumed (no trailing bytes).
 *
 * Streams are callbacks so that the layers below the CLI never touch a file
 * descriptor: the CLI supplies FILE-backed ones.
 */
#ifndef FKEX_CODEC_H
#define FKEX_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "fkex/error.h"
#include "fkex/io.h"

#define FKEX_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static inline void store16_be(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void store32_be(uint8_t *p, uint32_t v) { store16_be(p, (uint16_t)(v >> 16)); store16_be(p + 2, (uint16_t)v); }
static inline void store64_be(uint8_t *p, uint64_t v) { store32_be(p, (uint32_t)(v >> 32)); store32_be(p + 4, (uint32_t)v); }
static inline uint16_t load16_be(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t load32_be(const uint8_t *p) { return ((uint32_t)load16_be(p) << 16) | load16_be(p + 2); }
static inline uint64_t load64_be(const uint8_t *p) { return ((uint64_t)load32_be(p) << 32) | load32_be(p + 4); }

/* ---- writer / reader ---------------------------------------------------- */
typedef struct {
    uint8_t *buf;
    size_t len, cap;
    int failed;            /* set on allocation failure; later puts are no-ops */
} fkex_writer;

void fkex_writer_init(fkex_writer *w);
void fkex_writer_put(fkex_writer *w, const void *data, size_t len);
void fkex_writer_u8(fkex_writer *w, uint8_t v);
void fkex_writer_u16(fkex_writer *w, uint16_t v);      /* big-endian */
void fkex_writer_u32(fkex_writer *w, uint32_t v);
void fkex_writer_u64(fkex_writer *w, uint64_t v);
/* u16 length then the bytes; fails the writer if len > 65535. */
void fkex_writer_bytes16(fkex_writer *w, const void *data, size_t len);
/* u32 length then the bytes. */
void fkex_writer_bytes32(fkex_writer *w, const void *data, size_t len);
/* Wipes and frees the buffer. */
void fkex_writer_free(fkex_writer *w);

typedef struct {
    const uint8_t *p;
    size_t len, off;
    int failed;
} fkex_reader;

void fkex_reader_init(fkex_reader *r, const uint8_t *p, size_t len);
/* Each returns 0 on success, -1 (and poisons the reader) past the end. */
int fkex_reader_get(fkex_reader *r, void *out, size_t len) FKEX_WUR;
int fkex_reader_u8(fkex_reader *r, uint8_t *v) FKEX_WUR;
int fkex_reader_u16(fkex_reader *r, uint16_t *v) FKEX_WUR;
int fkex_reader_u32(fkex_reader *r, uint32_t *v) FKEX_WUR;
int fkex_reader_u64(fkex_reader *r, uint64_t *v) FKEX_WUR;
/* Points *data into the input (no copy). */
int fkex_reader_bytes16(fkex_reader *r, const uint8_t **data, size_t *len) FKEX_WUR;
/* u32 length (at most max, else the reader fails) then the bytes, in place. */
int fkex_reader_bytes32(fkex_reader *r, const uint8_t **data, size_t *len, size_t max) FKEX_WUR;
/* Borrow len bytes in place. */
int fkex_reader_view(fkex_reader *r, const uint8_t **data, size_t len) FKEX_WUR;
/* FKEX_OK iff nothing failed and every byte was consumed;
 * FKEX_ERR_TRUNCATED if a get ran past the end; FKEX_ERR_BAD_ENCODING
 * for trailing bytes. */
fkex_err fkex_reader_end(const fkex_reader *r) FKEX_WUR;

/* ---- byte streams (fkex/io.h) ------------------------------------------ */
/* Reads exactly len bytes unless the input ends first: *got tells how many. */
fkex_err fkex_source_read_full(fkex_source *s, uint8_t *buf, size_t len, size_t *got) FKEX_WUR;

/* ---- armor ----------------------------------------------------------------
 *   -----BEGIN FKEX <KIND>-----
 *   base64 (standard alphabet, padded), lines of 64 characters
 *   -----END FKEX <KIND>-----
 * KIND is upper-case letters and spaces, e.g. "CIPHERTEXT", "USER KEY".
 * Decoding is strict: one BEGIN line, canonical base64, 64-column lines
 * (the last may be shorter), a matching END line, and nothing after it but
 * one optional newline. "\r\n" line ends are accepted. */

/* 1 if the bytes start like armor ("-----BEGIN FKEX "), else 0. */
int fkex_armor_detect(const uint8_t *data, size_t len);

/* Streaming armor writer: wraps a sink; begin writes the BEGIN line, write
 * encodes data as it comes, end flushes and writes the END line. */
typedef struct {
    fkex_sink *out;
    char kind[FKEX_ARMOR_KIND_MAX + 1];
    uint8_t pending[48];      /* 48 bytes = one 64-column line */
    size_t npending;
    fkex_sink sink;           /* a sink that armors into out */
} fkex_armor_writer;

fkex_err fkex_armor_writer_begin(fkex_armor_writer *w, fkex_sink *out, const char *kind) FKEX_WUR;
fkex_err fkex_armor_writer_end(fkex_armor_writer *w) FKEX_WUR;
/* After begin, &w->sink is a sink that writes armored bytes. */

/* Streaming armor reader: wraps a source; begin reads the BEGIN line and
 * reports the kind; then &r->source yields the decoded bytes, and reaching
 * the end validates the END line (a bad or missing END line is an error
 * from read, never a silent end). */
typedef struct {
    fkex_source *in;
    char kind[FKEX_ARMOR_KIND_MAX + 1];
    uint8_t decoded[48];
    size_t ndecoded, off;
    int done;
    uint8_t line[80];
    size_t nline;
    fkex_source source;
} fkex_armor_reader;

fkex_err fkex_armor_reader_begin(fkex_armor_reader *r, fkex_source *in) FKEX_WUR;

/* Whole-buffer helpers for small objects (keys): *out is malloc'd. */
fkex_err fkex_armor_encode(char **out, size_t *outlen, const char *kind,
                           const uint8_t *data, size_t len) FKEX_WUR;
fkex_err fkex_armor_decode(uint8_t **out, size_t *outlen, char kind[FKEX_ARMOR_KIND_MAX + 1],
                           const uint8_t *text, size_t len) FKEX_WUR;

/* ---- endpoints: how a client authenticates the server it dials ----------
 * "[AUTH@]HOST:PORT", as invitations, tokens and room directories write a
 * server down. AUTH is
 *   - a key pin: 43 characters of base64url (no padding), the SHA-256 of
 *     the server's public key (its DER SubjectPublicKeyInfo, as RFC 7469's
 *     pin-sha256): the server must present that key, whatever its
 *     certificate says;
 *   - or a server name with a dot in it ("relay.example.org"): the
 *     server's certificate must be valid for that name and lead to a
 *     certificate authority the client trusts;
 *   - or absent: an endpoint written down before servers had keys
 *     ("unpinned"): the link is encrypted but the server is not
 *     authenticated. Whoever parses one warns.
 * HOST:PORT is not checked here: its reader checks it (names allowed or
 * not). */
#define FKEX_PIN_BYTES 32
#define FKEX_PIN_TEXT_LEN 43
#define FKEX_ENDPOINT_NAME_MAX 253
typedef enum { FKEX_ENDPOINT_UNPINNED = 0, FKEX_ENDPOINT_PIN, FKEX_ENDPOINT_NAME } fkex_endpoint_auth;
typedef struct {
    fkex_endpoint_auth auth;
    uint8_t pin[FKEX_PIN_BYTES];                 /* FKEX_ENDPOINT_PIN */
    char name[FKEX_ENDPOINT_NAME_MAX + 1];       /* FKEX_ENDPOINT_NAME */
    const char *hostport;                        /* into the text parsed */
} fkex_endpoint;
/* 0, or -1 if AUTH is neither a pin nor a name (a pin's text must be
 * canonical). */
int fkex_endpoint_parse(fkex_endpoint *e, const char *text) FKEX_WUR;
/* A pin as text: 43 characters and a NUL. */
void fkex_pin_text(char out[FKEX_PIN_TEXT_LEN + 1], const uint8_t pin[FKEX_PIN_BYTES]);

#endif
