/*
 * crypto/stream.c: chunked authenticated encryption of a byte stream.
 *
 *   header (24) | chunk 0 | chunk 1 | ... | final chunk
 *
 * Every chunk but the final one holds exactly FKEX_STREAM_CHUNK plaintext
 * bytes and carries TAG_MESSAGE; the final chunk holds 0..CHUNK-1 bytes
 * and carries TAG_FINAL. Plaintexts whose length is 0 or a multiple of the
 * chunk size therefore end in an empty final chunk (17 bytes): the writer
 * never needs to look ahead, so it can encrypt a pipe. secretstream numbers
 * the chunks, so reordering, dropping or repeating one fails its tag;
 * only TAG_FINAL marks the end, so cutting the stream at a chunk boundary
 * is detected too.
 *
 * Chunks carry no length, so the final chunk is whatever the input holds
 * after the last full chunk. Bytes appended to a stream therefore land in
 * its final chunk and fail its tag (FKEX_ERR_AUTHENTICATION); only after a
 * full-size final chunk, which this writer never produces but the reader
 * accepts, are extra bytes seen as such (FKEX_ERR_BAD_ENCODING).
 *
 * Decryption writes each chunk only once it has authenticated and is known
 * to be well placed, but a stream that fails later has already written its
 * earlier chunks: callers must discard the output on any error (the CLI
 * writes to a temporary file and renames it on success).
 */
#include "crypto/crypto.h"

#include <stdlib.h>

#define ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define HEADERBYTES crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define TAG_MESSAGE crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
#define TAG_FINAL crypto_secretstream_xchacha20poly1305_TAG_FINAL
#define CBYTES (FKEX_STREAM_CHUNK + ABYTES)

typedef struct {
    crypto_secretstream_xchacha20poly1305_state st;
    uint8_t *plain;    /* FKEX_STREAM_CHUNK bytes */
    uint8_t *cipher;   /* CBYTES bytes */
} work;

static fkex_err work_init(work *w)
{
    w->plain = malloc(FKEX_STREAM_CHUNK);
    w->cipher = malloc(CBYTES);
    return w->plain && w->cipher ? FKEX_OK : FKEX_ERR_NO_MEMORY;
}

/* Every return path ends here: the state holds the key, the buffers
 * plaintext. */
static fkex_err work_done(work *w, fkex_err err)
{
    sodium_memzero(&w->st, sizeof w->st);
    if (w->plain) {
        sodium_memzero(w->plain, FKEX_STREAM_CHUNK);
        free(w->plain);
    }
    if (w->cipher) {
        sodium_memzero(w->cipher, CBYTES);
        free(w->cipher);
    }
    return err;
}

/* O(n) time, O(1) memory: one chunk in, one chunk out. */
fkex_err fkex_stream_encrypt(fkex_sink *out, fkex_source *in, const uint8_t key[32],
                             const uint8_t *ad, size_t adlen)
{
    uint8_t header[HEADERBYTES];
    work w;
    fkex_err err = work_init(&w);
    if (err != FKEX_OK)
        return work_done(&w, err);
    crypto_secretstream_xchacha20poly1305_init_push(&w.st, header, key);
    err = out->write(out, header, sizeof header);
    for (int first = 1; err == FKEX_OK; first = 0) {
        size_t got;
        unsigned long long clen;
        err = fkex_source_read_full(in, w.plain, FKEX_STREAM_CHUNK, &got);
        if (err != FKEX_OK)
            break;
        uint8_t tag = got < FKEX_STREAM_CHUNK ? TAG_FINAL : TAG_MESSAGE;
        crypto_secretstream_xchacha20poly1305_push(&w.st, w.cipher, &clen, w.plain, got,
                                                   first ? ad : NULL, first ? adlen : 0, tag);
        err = out->write(out, w.cipher, (size_t)clen);
        if (tag == TAG_FINAL)
            break;
    }
    return work_done(&w, err);
}

/* Sets *end to 1 if the source has nothing left. */
static fkex_err at_end(fkex_source *in, uint8_t *scratch, int *end)
{
    size_t got = 0;
    fkex_err err = in->read(in, scratch, 1, &got);
    *end = got == 0;
    return err;
}

/* O(n) time, O(1) memory. */
fkex_err fkex_stream_decrypt(fkex_sink *out, fkex_source *in, const uint8_t key[32],
                             const uint8_t *ad, size_t adlen)
{
    uint8_t header[HEADERBYTES];
    size_t got;
    work w;
    fkex_err err = work_init(&w);
    if (err != FKEX_OK)
        return work_done(&w, err);
    err = fkex_source_read_full(in, header, sizeof header, &got);
    if (err != FKEX_OK)
        return work_done(&w, err);
    if (got < sizeof header)
        return work_done(&w, FKEX_ERR_TRUNCATED);
    if (crypto_secretstream_xchacha20poly1305_init_pull(&w.st, header, key) != 0)
        return work_done(&w, FKEX_ERR_BAD_ENCODING);
    for (int first = 1;; first = 0) {
        unsigned long long mlen;
        unsigned char tag;
        err = fkex_source_read_full(in, w.cipher, CBYTES, &got);
        if (err != FKEX_OK)
            break;
        if (got < ABYTES) {
            err = FKEX_ERR_TRUNCATED;   /* no final chunk */
            break;
        }
        if (crypto_secretstream_xchacha20poly1305_pull(&w.st, w.plain, &mlen, &tag, w.cipher, got,
                                                       first ? ad : NULL, first ? adlen : 0) != 0) {
            err = FKEX_ERR_AUTHENTICATION;
            break;
        }
        /* The tag is authentic, so anything but these two came from a
         * writer that is not ours: PUSH and REKEY are never used. */
        if (tag != TAG_MESSAGE && tag != TAG_FINAL) {
            err = FKEX_ERR_BAD_ENCODING;
            break;
        }
        if (tag == TAG_MESSAGE && got < CBYTES) {
            err = FKEX_ERR_TRUNCATED;   /* the input ended inside the stream */
            break;
        }
        if (tag == TAG_FINAL && got == CBYTES) {
            int end;
            /* A short read already met the end; a full one must check. */
            err = at_end(in, w.cipher, &end);
            if (err == FKEX_OK && !end)
                err = FKEX_ERR_BAD_ENCODING;
            if (err != FKEX_OK)
                break;
        }
        if (mlen > 0)
            err = out->write(out, w.plain, (size_t)mlen);
        if (err != FKEX_OK || tag == TAG_FINAL)
            break;
    }
    return work_done(&w, err);
}
