/*
 * net/frame.c: the incremental parser of length-prefixed frames.
 *
 * A frame that lies whole inside one feed is handed to the sink in place; only
 * a frame that spans feeds is copied, into a buffer that grows (doubling) with
 * the bytes that have arrived, so a peer that announces max_frame and then
 * trickles costs what it sent, not what it announced. The buffer is freed
 * as soon as its frame is out: a connection between frames holds none
 * (a relay keeps thousands of idle ones).
 */
#include <stdlib.h>
#include "codec/codec.h"
#include "net/net.h"

#define FIRST_CAP 4096

void fkex_frame_parser_init(fkex_frame_parser *p, size_t max_frame)
{
    memset(p, 0, sizeof *p);
    p->max_frame = max_frame;
}

void fkex_frame_parser_free(fkex_frame_parser *p)
{
    free(p->buf);
    p->buf = NULL;
    p->have = p->cap = 0;
}

int fkex_frame_parser_partial(const fkex_frame_parser *p)
{
    return p->nhdr != 0;
}

/* Makes room for n more body bytes (n <= want - have). */
static int reserve(fkex_frame_parser *p, size_t n)
{
    size_t need = p->have + n, cap = p->cap ? p->cap : FIRST_CAP;
    if (need <= p->cap)
        return 0;
    while (cap < need)
        cap = cap > p->want / 2 ? p->want : cap * 2;
    uint8_t *b = realloc(p->buf, cap);
    if (!b)
        return -1;
    p->buf = b;
    p->cap = cap;
    return 0;
}

/* The frame is out: back to reading a header, holding no buffer. */
static void reset(fkex_frame_parser *p)
{
    p->nhdr = 0;
    p->want = p->have = 0;
    fkex_frame_parser_free(p);
}

fkex_err fkex_frame_parser_feed(fkex_frame_parser *p, const uint8_t *data, size_t len, size_t *used,
                                fkex_frame_sink sink, void *ctx)
{
    size_t off = 0;
    int stop = 0;
    if (used)
        *used = 0;
    if (p->failed)
        return p->failed;
    while (!stop && off < len) {
        if (p->nhdr < 4) {
            size_t n = 4 - p->nhdr < len - off ? 4 - p->nhdr : len - off;
            memcpy(p->hdr + p->nhdr, data + off, n);
            p->nhdr += n;
            off += n;
            if (p->nhdr < 4)
                break;
            p->want = load32_be(p->hdr);
            if (p->want > p->max_frame) {
                p->failed = FKEX_ERR_BAD_ENCODING;
                break;
            }
            if (p->want > 0)
                continue;
            /* A zero-length frame is complete with its header. */
            reset(p);
            stop = sink(ctx, data + off, 0);
            continue;
        }
        size_t rest = p->want - p->have, avail = len - off;
        if (p->have == 0 && avail >= rest) {
            /* The whole body is here: no copy. */
            off += rest;
            reset(p);
            stop = sink(ctx, data + off - rest, rest);
            continue;
        }
        size_t n = avail < rest ? avail : rest;
        if (reserve(p, n) != 0) {
            p->failed = FKEX_ERR_NO_MEMORY;
            break;
        }
        memcpy(p->buf + p->have, data + off, n);
        p->have += n;
        off += n;
        if (p->have == p->want) {
            /* Hand the buffer out: reset() must not free what the sink
             * is reading. */
            uint8_t *frame = p->buf;
            size_t flen = p->have;
            p->buf = NULL;
            p->cap = 0;
            reset(p);
            stop = sink(ctx, frame, flen);
            free(frame);
        }
    }
    if (used)
        *used = off;
    return p->failed;
}
