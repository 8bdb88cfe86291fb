/*
 * codec/reader.c: the strict cursor every decoder reads through.
 *
 * A get that would run past the end fails and poisons the reader: every
 * later get fails too, even one that would fit, so a decoder that forgets
 * to check one result still cannot succeed, because fkex_reader_end()
 * reports the failure.
 */
#include <sodium.h>
#include "codec/codec.h"

void fkex_reader_init(fkex_reader *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->off = 0;
    r->failed = 0;
}

int fkex_reader_view(fkex_reader *r, const uint8_t **data, size_t len)
{
    if (r->failed || len > r->len - r->off) {
        r->failed = 1;
        *data = NULL;
        return -1;
    }
    *data = r->p ? r->p + r->off : NULL;   /* an empty input may be NULL */
    r->off += len;
    return 0;
}

int fkex_reader_get(fkex_reader *r, void *out, size_t len)
{
    const uint8_t *p;
    if (fkex_reader_view(r, &p, len) != 0)
        return -1;
    if (len)
        memcpy(out, p, len);
    return 0;
}

int fkex_reader_u8(fkex_reader *r, uint8_t *v)
{
    return fkex_reader_get(r, v, 1);
}

int fkex_reader_u16(fkex_reader *r, uint16_t *v)
{
    uint8_t b[2];
    if (fkex_reader_get(r, b, sizeof b) != 0)
        return -1;
    *v = load16_be(b);
    return 0;
}

int fkex_reader_u32(fkex_reader *r, uint32_t *v)
{
    uint8_t b[4];
    if (fkex_reader_get(r, b, sizeof b) != 0)
        return -1;
    *v = load32_be(b);
    return 0;
}

int fkex_reader_bytes16(fkex_reader *r, const uint8_t **data, size_t *len)
{
    uint16_t n;
    *len = 0;
    if (fkex_reader_u16(r, &n) != 0 || fkex_reader_view(r, data, n) != 0) {
        *data = NULL;
        return -1;
    }
    *len = n;
    return 0;
}

fkex_err fkex_reader_end(const fkex_reader *r)
{
    if (r->failed)
        return FKEX_ERR_TRUNCATED;
    if (r->off != r->len)
        return FKEX_ERR_BAD_ENCODING;
    return FKEX_OK;
}

int fkex_reader_u64(fkex_reader *r, uint64_t *v)
{
    uint8_t b[8];
    if (fkex_reader_get(r, b, sizeof b) != 0)
        return -1;
    *v = load64_be(b);
    return 0;
}

int fkex_reader_bytes32(fkex_reader *r, const uint8_t **data, size_t *len, size_t max)
{
    uint32_t n;
    if (fkex_reader_u32(r, &n) != 0)
        return -1;
    if (n > max) {
        r->failed = 1;
        return -1;
    }
    *len = n;
    return fkex_reader_view(r, data, n);
}
