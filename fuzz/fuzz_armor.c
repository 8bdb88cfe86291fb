/*
 * fuzz/fuzz_armor.c: the armor decoder, whole-buffer and streaming.
 *
 * Both decoders read the input. The streaming one gets it through a source
 * that hands out pieces of pseudo-random size, and is read with
 * pseudo-random caps, both drawn from a generator seeded by the input, so
 * that line and buffer boundaries fall everywhere. The two must agree
 * exactly: error, kind and bytes. When they accept, the input must be the
 * canonical armor of what they decoded, up to the two liberties the format
 * allows ("\r\n" line ends, no newline after END), and the streaming
 * writer, fed in random pieces, must produce that canonical text too.
 * Anything else aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "seeds.h"

typedef struct {
    uint64_t s;
} prng;

static uint64_t next(prng *g)
{
    uint64_t z = (g->s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Mostly tiny pieces, sometimes large ones. */
static size_t piece(prng *g)
{
    uint64_t r = next(g);
    switch (r & 3) {
    case 0: return 1;
    case 1: return 1 + (size_t)(r >> 8) % 7;
    case 2: return 1 + (size_t)(r >> 8) % 97;
    default: return 1 + (size_t)(r >> 8) % 4096;
    }
}

typedef struct {
    const uint8_t *p;
    size_t len, off;
    prng g;
    int ended;
} src;

static fkex_err src_read(fkex_source *s, uint8_t *buf, size_t cap, size_t *got)
{
    src *m = s->ctx;
    if (m->ended)
        abort();   /* the reader asked again after the end */
    size_t n = m->len - m->off, k = piece(&m->g);
    if (n > cap)
        n = cap;
    if (n > k)
        n = k;
    if (n)
        memcpy(buf, m->p + m->off, n);
    m->off += n;
    m->ended = n == 0;
    *got = n;
    return FKEX_OK;
}

static fkex_err stream_decode(fuzz_buf *out, char kind[FKEX_ARMOR_KIND_MAX + 1], const uint8_t *data,
                              size_t size, uint64_t seed)
{
    src m = { data, size, 0, { seed }, 0 };
    fkex_source in = { src_read, &m };
    fkex_sink sink = { fuzz_buf_write, out };
    fkex_armor_reader r;
    uint8_t tmp[4096];
    size_t got;
    fkex_err err = fkex_armor_reader_begin(&r, &in);
    if (err != FKEX_OK)
        return err;
    memcpy(kind, r.kind, sizeof r.kind);
    do {
        err = r.source.read(&r.source, tmp, piece(&m.g), &got);
        if (err == FKEX_OK)
            err = sink.write(&sink, tmp, got);
    } while (err == FKEX_OK && got != 0);
    if (err == FKEX_OK && m.off != size)
        abort();   /* accepted without reading everything */
    if (err != FKEX_OK) {
        /* A failed reader stays failed. */
        if (r.source.read(&r.source, tmp, 1, &got) != err)
            abort();
    }
    return err;
}

static int ok_error(fkex_err err)
{
    return err == FKEX_ERR_TRUNCATED || err == FKEX_ERR_BAD_ENCODING || err == FKEX_ERR_NO_MEMORY;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *whole;
    size_t wlen;
    char wkind[FKEX_ARMOR_KIND_MAX + 1], skind[FKEX_ARMOR_KIND_MAX + 1];
    fuzz_buf streamed = { 0 };
    uint64_t seed = 1469598103934665603u;
    for (size_t i = 0; i < size; i++)
        seed = (seed ^ data[i]) * 1099511628211u;

    fkex_err werr = fkex_armor_decode(&whole, &wlen, wkind, data, size);
    fkex_err serr = stream_decode(&streamed, skind, data, size, seed);
    if (werr != serr)
        abort();
    if (werr != FKEX_OK) {
        if (!ok_error(werr) || whole != NULL || wlen != 0)
            abort();
        free(streamed.p);
        return 0;
    }
    if (strcmp(wkind, skind) != 0 || wlen != streamed.len ||
        (wlen && memcmp(whole, streamed.p, wlen) != 0))
        abort();
    if (!fkex_armor_detect(data, size))
        abort();

    /* The canonical text, by both encoders. */
    char *canon;
    size_t clen;
    if (fkex_armor_encode(&canon, &clen, wkind, whole, wlen) != FKEX_OK)
        abort();
    fuzz_buf written = { 0 };
    fkex_sink sink = { fuzz_buf_write, &written };
    fkex_armor_writer w;
    prng g = { seed ^ 1 };
    if (fkex_armor_writer_begin(&w, &sink, wkind) != FKEX_OK)
        abort();
    for (size_t i = 0; i < wlen;) {
        size_t n = piece(&g);
        if (n > wlen - i)
            n = wlen - i;
        if (w.sink.write(&w.sink, whole + i, n) != FKEX_OK)
            abort();
        i += n;
    }
    if (fkex_armor_writer_end(&w) != FKEX_OK)
        abort();
    if (written.len != clen || memcmp(written.p, canon, clen) != 0)
        abort();

    /* The input, with "\r\n" made "\n" and the final newline restored. */
    uint8_t *norm = malloc(size + 1);
    size_t nlen = 0;
    for (size_t i = 0; i < size; i++)
        if (!(data[i] == '\r' && i + 1 < size && data[i + 1] == '\n'))
            norm[nlen++] = data[i];
    if (nlen == 0 || norm[nlen - 1] != '\n')
        norm[nlen++] = '\n';
    if (nlen != clen || memcmp(norm, canon, clen) != 0)
        abort();

    free(norm);
    free(written.p);
    free(canon);
    free(whole);
    free(streamed.p);
    return 0;
}
