/*
 * codec/armor.c: text armor, streaming in both directions.
 *
 *   -----BEGIN FKEX <KIND>-----\n
 *   64 base64 characters (48 bytes) per line, the last line 4..64\n
 *   -----END FKEX <KIND>-----\n
 *
 * Empty data has no base64 lines at all. Decoding accepts exactly what the
 * encoder writes, except that any line may end in "\r\n" and the END line
 * may lack its newline; everything else is rejected. libsodium decodes each
 * line, and the line must then equal libsodium's encoding of the bytes it
 * decoded to: that one comparison rules out nonzero bits under the padding,
 * padding anywhere but at the end, and every other alternative spelling.
 *
 * Both directions use constant memory (one line), so a multi-gigabyte
 * ciphertext can be armored through a pipe. The whole-buffer helpers run
 * the same streaming code over memory, so the two can never disagree.
 *
 * Armored user keys are secrets: every buffer that held their bytes or
 * their base64 is wiped.
 */
#include <sodium.h>
#include "codec/codec.h"

#include <stdlib.h>

#define LINE_BYTES 48   /* bytes per full line */
#define LINE_CHARS 64   /* base64 characters per full line */
#define B64 sodium_base64_VARIANT_ORIGINAL

static const char begin_prefix[] = "-----BEGIN FKEX ";
static const char end_prefix[] = "-----END FKEX ";
static const char dashes[] = "-----";

int fkex_armor_detect(const uint8_t *data, size_t len)
{
    size_t n = sizeof begin_prefix - 1;
    return len >= n && memcmp(data, begin_prefix, n) == 0;
}

/* ---- shared helpers ----------------------------------------------------- */

/* Length of a caller's kind string, or FKEX_ARMOR_KIND_MAX + 1 if longer. */
static size_t kind_len(const char *kind)
{
    size_t n = 0;
    while (n <= FKEX_ARMOR_KIND_MAX && kind[n] != '\0')
        n++;
    return n;
}

/* Upper-case words separated by single spaces, 1..FKEX_ARMOR_KIND_MAX. */
static int kind_valid(const char *k, size_t len)
{
    if (len == 0 || len > FKEX_ARMOR_KIND_MAX || k[0] == ' ' || k[len - 1] == ' ')
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (k[i] == ' ') {
            if (k[i - 1] == ' ')
                return 0;
        } else if (k[i] < 'A' || k[i] > 'Z') {
            return 0;
        }
    }
    return 1;
}

/* Parses "<prefix><KIND>-----" and copies KIND out, NUL-terminated. */
static int parse_marker(char kind[FKEX_ARMOR_KIND_MAX + 1], const uint8_t *p, size_t len,
                        const char *prefix)
{
    size_t np = strlen(prefix), nd = sizeof dashes - 1;
    if (len < np + nd || memcmp(p, prefix, np) != 0 || memcmp(p + len - nd, dashes, nd) != 0)
        return -1;
    size_t nk = len - np - nd;
    if (!kind_valid((const char *)p + np, nk))
        return -1;
    memcpy(kind, p + np, nk);
    kind[nk] = '\0';
    return 0;
}

/* 1 if p[0..len) is a proper prefix of "<prefix><kind>-----", the shape of
 * a marker line cut short by the end of the input. */
static int marker_cut_short(const uint8_t *p, size_t len, const char *prefix, const char *kind)
{
    char want[sizeof begin_prefix + FKEX_ARMOR_KIND_MAX + sizeof dashes];
    size_t np = strlen(prefix), nk = strlen(kind), nd = sizeof dashes - 1;
    memcpy(want, prefix, np);
    memcpy(want + np, kind, nk);
    memcpy(want + np + nk, dashes, nd);
    return len < np + nk + nd && memcmp(p, want, len) == 0;
}

/* ---- writer ------------------------------------------------------------- */

static fkex_err put_marker(fkex_sink *out, const char *prefix, const char *kind)
{
    char line[sizeof begin_prefix + FKEX_ARMOR_KIND_MAX + sizeof dashes];
    size_t np = strlen(prefix), nk = strlen(kind), nd = sizeof dashes - 1;
    memcpy(line, prefix, np);
    memcpy(line + np, kind, nk);
    memcpy(line + np + nk, dashes, nd);
    line[np + nk + nd] = '\n';
    return out->write(out, (const uint8_t *)line, np + nk + nd + 1);
}

static fkex_err put_line(fkex_sink *out, const uint8_t *data, size_t len)
{
    char text[LINE_CHARS + 2];   /* 64 characters, then libsodium's NUL, replaced by '\n' */
    size_t n = 4 * ((len + 2) / 3);
    sodium_bin2base64(text, sizeof text, data, len, B64);
    text[n] = '\n';
    fkex_err err = out->write(out, (const uint8_t *)text, n + 1);
    sodium_memzero(text, sizeof text);
    return err;
}

/* A failed writer wipes what it held and refuses further use. */
static fkex_err writer_fail(fkex_armor_writer *w, fkex_err err)
{
    sodium_memzero(w->pending, sizeof w->pending);
    w->npending = 0;
    w->out = NULL;
    return err;
}

/* O(len): whole lines go out as soon as they fill. */
static fkex_err armor_write(fkex_sink *s, const uint8_t *buf, size_t len)
{
    fkex_armor_writer *w = s->ctx;
    if (w->out == NULL)
        return FKEX_ERR_ARGUMENT;
    while (len > 0) {
        size_t n = LINE_BYTES - w->npending;
        if (n > len)
            n = len;
        memcpy(w->pending + w->npending, buf, n);
        w->npending += n;
        buf += n;
        len -= n;
        if (w->npending == LINE_BYTES) {
            fkex_err err = put_line(w->out, w->pending, LINE_BYTES);
            w->npending = 0;
            if (err != FKEX_OK)
                return writer_fail(w, err);
        }
    }
    return FKEX_OK;
}

fkex_err fkex_armor_writer_begin(fkex_armor_writer *w, fkex_sink *out, const char *kind)
{
    memset(w, 0, sizeof *w);
    w->sink.write = armor_write;
    w->sink.ctx = w;
    size_t nk = kind_len(kind);
    if (!kind_valid(kind, nk))
        return FKEX_ERR_ARGUMENT;
    memcpy(w->kind, kind, nk);
    fkex_err err = put_marker(out, begin_prefix, w->kind);
    if (err != FKEX_OK)
        return err;
    w->out = out;
    return FKEX_OK;
}

fkex_err fkex_armor_writer_end(fkex_armor_writer *w)
{
    if (w->out == NULL)
        return FKEX_ERR_ARGUMENT;
    fkex_err err = FKEX_OK;
    if (w->npending > 0)
        err = put_line(w->out, w->pending, w->npending);
    if (err == FKEX_OK)
        err = put_marker(w->out, end_prefix, w->kind);
    writer_fail(w, err);   /* finished either way: wipe and close */
    return err;
}

/* ---- reader --------------------------------------------------------------
 * r->line buffers raw input: the current line and possibly the start of the
 * next. r->decoded holds the current base64 line's bytes, of which r->off
 * have been handed out; after the first line r->ndecoded is always 1..48,
 * and a line shorter than 48 bytes must be the last. r->done is 0 while
 * reading, 1 after a valid END line and end of input, and -err after a
 * failure, which every later read reports again. */

static fkex_err reader_fail(fkex_armor_reader *r, fkex_err err)
{
    sodium_memzero(r->decoded, sizeof r->decoded);
    sodium_memzero(r->line, sizeof r->line);
    r->ndecoded = r->off = r->nline = 0;
    r->done = -(int)err;
    return err;
}

/* Finds the next line, reading more input as needed: the line is
 * r->line[0..*len) without its "\n" or "\r\n", and the one after starts at
 * *next, or *next is 0 if the input ended before a newline. Input comes in
 * pieces no larger than r->line, so memory is one line whatever the size. */
static fkex_err next_line(fkex_armor_reader *r, size_t *len, size_t *next)
{
    size_t scanned = 0;
    for (;;) {
        const uint8_t *nl = memchr(r->line + scanned, '\n', r->nline - scanned);
        if (nl != NULL) {
            size_t n = (size_t)(nl - r->line);
            *next = n + 1;
            if (n > 0 && r->line[n - 1] == '\r')
                n--;
            *len = n;
            return FKEX_OK;
        }
        scanned = r->nline;
        size_t room = sizeof r->line - r->nline, got;
        if (room == 0)
            return FKEX_ERR_BAD_ENCODING;   /* longer than any valid line */
        fkex_err err = r->in->read(r->in, r->line + r->nline, room, &got);
        if (err != FKEX_OK)
            return err;
        if (got > room)
            return FKEX_ERR_IO;
        if (got == 0) {
            *len = r->nline;
            *next = 0;
            return FKEX_OK;
        }
        r->nline += got;
    }
}

static void drop_line(fkex_armor_reader *r, size_t next)
{
    if (next == 0)
        next = r->nline;
    memmove(r->line, r->line + next, r->nline - next);
    r->nline -= next;
}

/* One base64 line into 1..48 bytes, canonical or rejected. */
static int decode_line(uint8_t out[LINE_BYTES], size_t *outlen, const uint8_t *p, size_t len)
{
    char again[LINE_CHARS + 1];
    size_t n;
    if (len == 0 || len > LINE_CHARS)
        return -1;
    if (sodium_base642bin(out, LINE_BYTES, (const char *)p, len, NULL, &n, NULL, B64) != 0)
        return -1;
    sodium_bin2base64(again, sizeof again, out, n, B64);
    int ok = n > 0 && 4 * ((n + 2) / 3) == len && sodium_memcmp(again, p, len) == 0;
    sodium_memzero(again, sizeof again);
    if (!ok)
        return -1;
    *outlen = n;
    return 0;
}

/* The END line, then the end of the input. */
static fkex_err end_line(fkex_armor_reader *r, size_t len, size_t next)
{
    char kind[FKEX_ARMOR_KIND_MAX + 1];
    if (parse_marker(kind, r->line, len, end_prefix) != 0 || strcmp(kind, r->kind) != 0) {
        if (next == 0 && marker_cut_short(r->line, len, end_prefix, r->kind))
            return FKEX_ERR_TRUNCATED;
        return FKEX_ERR_BAD_ENCODING;
    }
    drop_line(r, next);
    if (next != 0) {
        size_t got;
        if (r->nline != 0)
            return FKEX_ERR_BAD_ENCODING;
        fkex_err err = r->in->read(r->in, r->line, sizeof r->line, &got);
        if (err != FKEX_OK)
            return err;
        if (got != 0)
            return FKEX_ERR_BAD_ENCODING;
    }
    sodium_memzero(r->decoded, sizeof r->decoded);
    sodium_memzero(r->line, sizeof r->line);
    r->ndecoded = r->off = 0;
    r->done = 1;
    return FKEX_OK;
}

/* Called once the current line's bytes are all handed out. */
static fkex_err next_body_line(fkex_armor_reader *r)
{
    size_t len, next;
    fkex_err err = next_line(r, &len, &next);
    if (err != FKEX_OK)
        return err;
    if (len == 0 && next == 0)
        return FKEX_ERR_TRUNCATED;      /* no END line */
    if (len > 0 && r->line[0] == '-')
        return end_line(r, len, next);
    if (r->ndecoded > 0 && r->ndecoded < LINE_BYTES)
        return FKEX_ERR_BAD_ENCODING;   /* a short line was not the last */
    if (next == 0)
        return FKEX_ERR_TRUNCATED;      /* cut inside a line */
    if (decode_line(r->decoded, &r->ndecoded, r->line, len) != 0)
        return FKEX_ERR_BAD_ENCODING;
    r->off = 0;
    drop_line(r, next);
    return FKEX_OK;
}

/* Fills as much of buf as the input allows, a line at a time. */
static fkex_err armor_read(fkex_source *s, uint8_t *buf, size_t cap, size_t *got)
{
    fkex_armor_reader *r = s->ctx;
    *got = 0;
    if (r->done < 0)
        return (fkex_err)-r->done;
    if (cap == 0)
        return FKEX_ERR_ARGUMENT;   /* *got == 0 would claim the end */
    while (*got < cap) {
        if (r->off < r->ndecoded) {
            size_t n = r->ndecoded - r->off;
            if (n > cap - *got)
                n = cap - *got;
            memcpy(buf + *got, r->decoded + r->off, n);
            *got += n;
            r->off += n;
        } else if (r->done) {
            break;
        } else {
            fkex_err err = next_body_line(r);
            if (err != FKEX_OK) {
                *got = 0;
                return reader_fail(r, err);
            }
        }
    }
    return FKEX_OK;
}

fkex_err fkex_armor_reader_begin(fkex_armor_reader *r, fkex_source *in)
{
    size_t len, next;
    memset(r, 0, sizeof *r);
    r->in = in;
    r->source.read = armor_read;
    r->source.ctx = r;
    fkex_err err = next_line(r, &len, &next);
    if (err != FKEX_OK)
        return reader_fail(r, err);
    if (next == 0) {
        size_t np = sizeof begin_prefix - 1;
        int cut = memcmp(r->line, begin_prefix, len < np ? len : np) == 0;
        return reader_fail(r, cut ? FKEX_ERR_TRUNCATED : FKEX_ERR_BAD_ENCODING);
    }
    if (parse_marker(r->kind, r->line, len, begin_prefix) != 0)
        return reader_fail(r, FKEX_ERR_BAD_ENCODING);
    drop_line(r, next);
    return FKEX_OK;
}

/* ---- whole buffers ------------------------------------------------------ */

typedef struct {
    const uint8_t *p;
    size_t len, off;
} mem_in;

static fkex_err mem_read(fkex_source *s, uint8_t *buf, size_t cap, size_t *got)
{
    mem_in *m = s->ctx;
    size_t n = m->len - m->off;
    if (n > cap)
        n = cap;
    if (n > 0)
        memcpy(buf, m->p + m->off, n);
    m->off += n;
    *got = n;
    return FKEX_OK;
}

typedef struct {
    uint8_t *p;
    size_t len, cap;
} mem_out;

static fkex_err mem_write(fkex_sink *s, const uint8_t *buf, size_t len)
{
    mem_out *m = s->ctx;
    if (len > m->cap - m->len)
        return FKEX_ERR_ARGUMENT;   /* the size computed below is wrong */
    memcpy(m->p + m->len, buf, len);
    m->len += len;
    return FKEX_OK;
}

/* *out is NUL-terminated for convenience; *outlen does not count the NUL. */
fkex_err fkex_armor_encode(char **out, size_t *outlen, const char *kind,
                           const uint8_t *data, size_t len)
{
    *out = NULL;
    *outlen = 0;
    size_t nk = kind_len(kind);
    if (!kind_valid(kind, nk))
        return FKEX_ERR_ARGUMENT;
    if (len > SIZE_MAX / 2 - 256)
        return FKEX_ERR_NO_MEMORY;
    size_t rest = len % LINE_BYTES;
    size_t total = (sizeof begin_prefix - 1) + nk + (sizeof dashes - 1) + 1
                 + (len / LINE_BYTES) * (LINE_CHARS + 1)
                 + (rest ? 4 * ((rest + 2) / 3) + 1 : 0)
                 + (sizeof end_prefix - 1) + nk + (sizeof dashes - 1) + 1;
    mem_out m = { malloc(total + 1), 0, total };
    if (m.p == NULL)
        return FKEX_ERR_NO_MEMORY;
    fkex_sink sink = { mem_write, &m };
    fkex_armor_writer w;
    fkex_err err = fkex_armor_writer_begin(&w, &sink, kind);
    if (err == FKEX_OK)
        err = armor_write(&w.sink, data, len);
    if (err == FKEX_OK)
        err = fkex_armor_writer_end(&w);
    if (err == FKEX_OK && m.len != total)
        err = FKEX_ERR_ARGUMENT;
    if (err != FKEX_OK) {
        (void)writer_fail(&w, err);
        sodium_memzero(m.p, total + 1);
        free(m.p);
        return err;
    }
    m.p[total] = '\0';
    *out = (char *)m.p;
    *outlen = total;
    return FKEX_OK;
}

fkex_err fkex_armor_decode(uint8_t **out, size_t *outlen, char kind[FKEX_ARMOR_KIND_MAX + 1],
                           const uint8_t *text, size_t len)
{
    *out = NULL;
    *outlen = 0;
    mem_in m = { text, len, 0 };
    fkex_source src = { mem_read, &m };
    fkex_armor_reader r;
    fkex_err err = fkex_armor_reader_begin(&r, &src);
    if (err != FKEX_OK)
        return err;
    /* Base64 lines come in groups of 4 characters of 3 bytes, so 3 len / 4
     * bounds the output; one spare byte leaves room to read the end. */
    size_t cap = len / 4 * 3 + 1, n = 0, got;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) {
        sodium_memzero(&r, sizeof r);
        return FKEX_ERR_NO_MEMORY;
    }
    do {
        got = 0;
        err = n < cap ? armor_read(&r.source, buf + n, cap - n, &got) : FKEX_ERR_BAD_ENCODING;
        n += got;
    } while (err == FKEX_OK && got != 0);
    if (err != FKEX_OK) {
        sodium_memzero(&r, sizeof r);
        sodium_memzero(buf, cap);
        free(buf);
        return err;
    }
    memcpy(kind, r.kind, sizeof r.kind);
    *out = buf;
    *outlen = n;
    return FKEX_OK;
}
