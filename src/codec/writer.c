/*
 * codec/writer.c: the growing output buffer behind every canonical encoding.
 *
 * The buffer may hold secrets (user keys are encoded here), so growing it
 * copies into a fresh allocation and wipes the old one instead of calling
 * realloc, which could leave a stale copy in freed memory.
 *
 * A failure (allocation, or a field too long for its length prefix) marks
 * the writer failed and turns every later put into a no-op, so encoders
 * can put a whole structure and check w->failed once at the end.
 */
#include <sodium.h>
#include "codec/codec.h"

#include <stdlib.h>

void fkex_writer_init(fkex_writer *w)
{
    w->buf = NULL;
    w->len = 0;
    w->cap = 0;
    w->failed = 0;
}

/* Amortised O(1): the capacity doubles. */
static int reserve(fkex_writer *w, size_t extra)
{
    if (extra <= w->cap - w->len)
        return 0;
    if (extra > SIZE_MAX / 2 - w->len)
        return -1;
    size_t need = w->len + extra;
    size_t cap = w->cap ? w->cap : 64;
    while (cap < need)
        cap *= 2;
    uint8_t *buf = malloc(cap);
    if (buf == NULL)
        return -1;
    if (w->len)
        memcpy(buf, w->buf, w->len);
    if (w->buf) {
        sodium_memzero(w->buf, w->cap);
        free(w->buf);
    }
    w->buf = buf;
    w->cap = cap;
    return 0;
}

void fkex_writer_put(fkex_writer *w, const void *data, size_t len)
{
    if (w->failed || len == 0)
        return;
    if (reserve(w, len) != 0) {
        w->failed = 1;
        return;
    }
    memcpy(w->buf + w->len, data, len);
    w->len += len;
}

void fkex_writer_u8(fkex_writer *w, uint8_t v)
{
    fkex_writer_put(w, &v, 1);
}

void fkex_writer_u16(fkex_writer *w, uint16_t v)
{
    uint8_t b[2];
    store16_be(b, v);
    fkex_writer_put(w, b, sizeof b);
}

void fkex_writer_u32(fkex_writer *w, uint32_t v)
{
    uint8_t b[4];
    store32_be(b, v);
    fkex_writer_put(w, b, sizeof b);
}

void fkex_writer_bytes16(fkex_writer *w, const void *data, size_t len)
{
    if (len > UINT16_MAX) {
        w->failed = 1;
        return;
    }
    fkex_writer_u16(w, (uint16_t)len);
    fkex_writer_put(w, data, len);
}

void fkex_writer_u64(fkex_writer *w, uint64_t v)
{
    uint8_t b[8];
    store64_be(b, v);
    fkex_writer_put(w, b, sizeof b);
}

void fkex_writer_bytes32(fkex_writer *w, const void *data, size_t len)
{
    if (len > UINT32_MAX) {
        w->failed = 1;
        return;
    }
    fkex_writer_u32(w, (uint32_t)len);
    fkex_writer_put(w, data, len);
}

void fkex_writer_free(fkex_writer *w)
{
    if (w->buf) {
        sodium_memzero(w->buf, w->cap);
        free(w->buf);
    }
    fkex_writer_init(w);
}

void fkex_bytes_free(uint8_t *bytes, size_t len)
{
    if (!bytes)
        return;
    sodium_memzero(bytes, len);
    free(bytes);
}
