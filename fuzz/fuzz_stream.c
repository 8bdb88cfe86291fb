/*
 * fuzz/fuzz_stream.c: stream decryption of hostile bytes.
 *
 * The input is a stream, decrypted under a fixed key and additional data
 * (the seed corpus holds valid streams under them, for the mutator to cut,
 * splice and repeat). A reference decryptor first walks the whole input
 * with libsodium: header, then pieces of CHUNK + 17 bytes, stopping at the
 * first piece that fails its tag, has a foreign tag, is a short non-final
 * piece, or is FINAL with bytes after it. It yields the list of chunks that
 * may be released and the error the real decryptor must return.
 *
 * The sink given to fkex_stream_decrypt then checks each write as it
 * arrives: it must be exactly the next releasable chunk, whole. A write of
 * bytes that did not authenticate, of part of a chunk, out of order, or
 * before the chunk was known to be well placed aborts. At the end the error
 * must match and, on success, every chunk must have been written.
 */
#include <stdint.h>
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"

#define ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define HBYTES crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define TAG_MESSAGE crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
#define TAG_FINAL crypto_secretstream_xchacha20poly1305_TAG_FINAL
#define CBYTES (FKEX_STREAM_CHUNK + ABYTES)

/* Shared with the generator of fuzz/corpus/stream. */
static const uint8_t key[32] = "fkex fuzz_stream key, not secret";
static const uint8_t ad[] = "fkex fuzz_stream ad";

typedef struct {
    uint8_t *plain;        /* releasable chunks, back to back */
    size_t *off, *len;     /* where each chunk is in plain */
    size_t nchunks;
    size_t next;           /* the chunk the sink expects next */
} expect;

/* Walks the input as fkex_stream_decrypt must. */
static fkex_err reference(expect *e, const uint8_t *data, size_t size)
{
    crypto_secretstream_xchacha20poly1305_state st;
    size_t pos = HBYTES, used = 0;
    if (size < HBYTES)
        return FKEX_ERR_TRUNCATED;
    if (crypto_secretstream_xchacha20poly1305_init_pull(&st, data, key) != 0)
        return FKEX_ERR_BAD_ENCODING;
    for (int first = 1;; first = 0) {
        size_t n = size - pos < CBYTES ? size - pos : CBYTES;
        unsigned long long mlen;
        unsigned char tag;
        if (n < ABYTES)
            return FKEX_ERR_TRUNCATED;
        if (crypto_secretstream_xchacha20poly1305_pull(&st, e->plain + used, &mlen, &tag,
                                                       data + pos, n, first ? ad : NULL,
                                                       first ? sizeof ad : 0) != 0)
            return FKEX_ERR_AUTHENTICATION;
        if (tag != TAG_MESSAGE && tag != TAG_FINAL)
            return FKEX_ERR_BAD_ENCODING;
        if (tag == TAG_MESSAGE && n < CBYTES)
            return FKEX_ERR_TRUNCATED;
        if (tag == TAG_FINAL && pos + n != size)
            return FKEX_ERR_BAD_ENCODING;
        if (mlen > 0) {
            e->off[e->nchunks] = used;
            e->len[e->nchunks++] = (size_t)mlen;
            used += (size_t)mlen;
        }
        pos += n;
        if (tag == TAG_FINAL)
            return FKEX_OK;
    }
}

static fkex_err check_write(fkex_sink *s, const uint8_t *buf, size_t len)
{
    expect *e = s->ctx;
    size_t i = e->next++;
    if (i >= e->nchunks || len != e->len[i] || memcmp(buf, e->plain + e->off[i], len) != 0)
        abort();
    return FKEX_OK;
}

typedef struct {
    const uint8_t *p;
    size_t len, off;
    uint64_t r;
} src;

/* Pieces of varying size, so chunk boundaries fall inside reads. */
static fkex_err src_read(fkex_source *s, uint8_t *buf, size_t cap, size_t *got)
{
    src *m = s->ctx;
    m->r = m->r * 6364136223846793005u + 1442695040888963407u;
    size_t k = (m->r >> 60) < 4 ? 1 + (size_t)(m->r >> 33) % 64 : 1 + (size_t)(m->r >> 33) % 100000;
    size_t n = m->len - m->off;
    if (n > cap)
        n = cap;
    if (n > k)
        n = k;
    if (n)
        memcpy(buf, m->p + m->off, n);
    m->off += n;
    *got = n;
    return FKEX_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    expect e;
    memset(&e, 0, sizeof e);
    e.plain = malloc(size + 1);
    e.off = malloc((size / ABYTES + 1) * sizeof *e.off);   /* a chunk is > 17 bytes */
    e.len = malloc((size / ABYTES + 1) * sizeof *e.len);
    fkex_err want = reference(&e, data, size);

    src m = { data, size, 0, size };
    fkex_source in = { src_read, &m };
    fkex_sink out = { check_write, &e };
    fkex_err got = fkex_stream_decrypt(&out, &in, key, ad, sizeof ad);
    if (got != want)
        abort();
    if (got == FKEX_OK && e.next != e.nchunks)
        abort();
    free(e.plain);
    free(e.off);
    free(e.len);
    return 0;
}
