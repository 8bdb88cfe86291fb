/*
 * tests/test_stream.c: the chunked file DEM.
 *
 * Round trips at the chunk-size edges, then every way a stream can be
 * damaged: cut, flipped, extended, reordered, under the wrong key or
 * additional data, or built by a writer that is not ours. For each, the
 * exact error and exactly which (authenticated, whole) chunks reached the
 * sink.
 */
#include <stdlib.h>
#include "test.h"

#define CHUNK FKEX_STREAM_CHUNK
#define ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define HBYTES crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define CBYTES (CHUNK + ABYTES)

/* ---- fixtures --------------------------------------------------------------- */

static const uint8_t key[32] = {
    0x6b, 0x65, 0x79, 0x20, 0x66, 0x6f, 0x72, 0x20, 0x74, 0x68, 0x65, 0x20, 0x73, 0x74, 0x72, 0x65,
    0x61, 0x6d, 0x20, 0x74, 0x65, 0x73, 0x74, 0x73, 0x2c, 0x20, 0x6e, 0x6f, 0x74, 0x20, 0x61, 0x20,
};
static const uint8_t ad[] = "FKEX file header and KEM ciphertext";

/* Expected ciphertext size: full chunks, then a final chunk of n % CHUNK. */
static size_t ct_len(size_t n)
{
    return HBYTES + (n / CHUNK) * CBYTES + n % CHUNK + ABYTES;
}

typedef struct {
    uint8_t *pt;
    size_t ptlen;
    mem_snk ct;
} fixture;

static void fixture_make(fixture *f, size_t n, size_t step)
{
    mem_src m;
    f->pt = malloc(n + 1);
    f->ptlen = n;
    fill(f->pt, n, (uint32_t)n + 11);
    fkex_source src = src_make(&m, f->pt, n, step);
    fkex_sink sink = snk_make(&f->ct);
    CHECK_OK(fkex_stream_encrypt(&sink, &src, key, ad, sizeof ad));
    CHECK(f->ct.len == ct_len(n));
}

static void fixture_free(fixture *f)
{
    free(f->pt);
    snk_free(&f->ct);
}

static fkex_err decrypt_with(mem_snk *out, const uint8_t *ct, size_t len, const uint8_t k[32],
                             const uint8_t *a, size_t alen, size_t step)
{
    mem_src m;
    fkex_source src = src_make(&m, ct, len, step);
    fkex_sink sink = snk_make(out);
    return fkex_stream_decrypt(&sink, &src, k, a, alen);
}

static fkex_err decrypt(mem_snk *out, const uint8_t *ct, size_t len)
{
    return decrypt_with(out, ct, len, key, ad, sizeof ad, 0);
}

/* The sink holds exactly the first `chunks` whole chunks of pt. */
static int got_chunks(const mem_snk *out, const fixture *f, size_t chunks)
{
    size_t n = chunks * CHUNK < f->ptlen ? chunks * CHUNK : f->ptlen;
    return out->len == n && (n == 0 || memcmp(out->p, f->pt, n) == 0);
}

/* ---- round trips ------------------------------------------------------------ */

static void round_trip(void)
{
    static const size_t sizes[] = {
        0, 1, 2, 100, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 5,
    };
    static const size_t steps[] = { 0, 1000, 4096 + 3 };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(sizes); i++) {
        for (size_t j = 0; j < FKEX_ARRAY_LEN(steps); j++) {
            fixture f;
            mem_snk out;
            fixture_make(&f, sizes[i], steps[j]);
            CHECK_OK(decrypt_with(&out, f.ct.p, f.ct.len, key, ad, sizeof ad, steps[j]));
            CHECK(got_chunks(&out, &f, sizes[i] / CHUNK + 1));
            /* One write per nonempty chunk, never a split chunk. */
            CHECK(out.writes == (sizes[i] + CHUNK - 1) / CHUNK);
            snk_free(&out);
            fixture_free(&f);
        }
    }
}

/* Byte-at-a-time source on both sides. */
static void round_trip_one_byte_reads(void)
{
    static const size_t sizes[] = { 0, 1, 100, CHUNK + 1 };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(sizes); i++) {
        fixture f;
        mem_snk out;
        fixture_make(&f, sizes[i], 1);
        CHECK_OK(decrypt_with(&out, f.ct.p, f.ct.len, key, ad, sizeof ad, 1));
        CHECK(got_chunks(&out, &f, 2));
        snk_free(&out);
        fixture_free(&f);
    }
}

/* No additional data is fine too, and is not the same as some. */
static void round_trip_no_ad(void)
{
    uint8_t pt[10] = "0123456789";
    mem_src m;
    mem_snk ct, out;
    fkex_source src = src_make(&m, pt, sizeof pt, 0);
    fkex_sink sink = snk_make(&ct);
    CHECK_OK(fkex_stream_encrypt(&sink, &src, key, NULL, 0));
    CHECK_OK(decrypt_with(&out, ct.p, ct.len, key, NULL, 0, 0));
    CHECK(out.len == sizeof pt && memcmp(out.p, pt, sizeof pt) == 0);
    snk_free(&out);
    CHECK_ERR(decrypt_with(&out, ct.p, ct.len, key, (const uint8_t *)"", 1, 0),
              FKEX_ERR_AUTHENTICATION);
    CHECK(out.len == 0);
    snk_free(&out);
    snk_free(&ct);
}

/* Same plaintext, same key: a fresh header, so different ciphertexts. */
static void fresh_header(void)
{
    fixture a, b;
    fixture_make(&a, 100, 0);
    fixture_make(&b, 100, 0);
    CHECK(a.ct.len == b.ct.len);
    CHECK(memcmp(a.ct.p, b.ct.p, HBYTES) != 0);
    CHECK(memcmp(a.ct.p + HBYTES, b.ct.p + HBYTES, a.ct.len - HBYTES) != 0);
    fixture_free(&a);
    fixture_free(&b);
}

/* ---- truncation ------------------------------------------------------------- */

static void truncated_everywhere(void)
{
    fixture f;
    fixture_make(&f, 100, 0);
    for (size_t cut = 0; cut < f.ct.len; cut++) {
        mem_snk out;
        fkex_err err = decrypt(&out, f.ct.p, cut);
        /* Too short for a header or a tag: truncated. Otherwise the cut
         * final chunk fails its tag. Nothing reaches the sink either way. */
        CHECK(err == (cut < HBYTES + ABYTES ? FKEX_ERR_TRUNCATED : FKEX_ERR_AUTHENTICATION));
        CHECK(out.len == 0 && out.writes == 0);
        snk_free(&out);
    }
    fixture_free(&f);
}

static void truncated_at_chunk_boundaries(void)
{
    static const struct {
        size_t ptlen, cut;
        fkex_err err;
        size_t chunks;   /* whole chunks that reached the sink */
    } cases[] = {
        { CHUNK + 10, 0, FKEX_ERR_TRUNCATED, 0 },
        { CHUNK + 10, HBYTES - 1, FKEX_ERR_TRUNCATED, 0 },
        { CHUNK + 10, HBYTES, FKEX_ERR_TRUNCATED, 0 },
        { CHUNK + 10, HBYTES + 1, FKEX_ERR_TRUNCATED, 0 },
        { CHUNK + 10, HBYTES + ABYTES, FKEX_ERR_AUTHENTICATION, 0 },
        { CHUNK + 10, HBYTES + CBYTES - 1, FKEX_ERR_AUTHENTICATION, 0 },
        { CHUNK + 10, HBYTES + CBYTES, FKEX_ERR_TRUNCATED, 1 },
        { CHUNK + 10, HBYTES + CBYTES + 1, FKEX_ERR_TRUNCATED, 1 },
        { CHUNK + 10, HBYTES + CBYTES + ABYTES - 1, FKEX_ERR_TRUNCATED, 1 },
        { CHUNK + 10, HBYTES + CBYTES + ABYTES, FKEX_ERR_AUTHENTICATION, 1 },
        { CHUNK + 10, HBYTES + CBYTES + ABYTES + 9, FKEX_ERR_AUTHENTICATION, 1 },
        /* Dropping the empty final chunk of an exact multiple. */
        { CHUNK, HBYTES + CBYTES, FKEX_ERR_TRUNCATED, 1 },
        { 2 * CHUNK, HBYTES + CBYTES, FKEX_ERR_TRUNCATED, 1 },
        { 2 * CHUNK, HBYTES + 2 * CBYTES, FKEX_ERR_TRUNCATED, 2 },
        { 2 * CHUNK, HBYTES + 2 * CBYTES + ABYTES - 1, FKEX_ERR_TRUNCATED, 2 },
    };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(cases); i++) {
        fixture f;
        mem_snk out;
        fixture_make(&f, cases[i].ptlen, 0);
        CHECK(cases[i].cut < f.ct.len);
        CHECK(decrypt(&out, f.ct.p, cases[i].cut) == cases[i].err);
        CHECK(got_chunks(&out, &f, cases[i].chunks));
        snk_free(&out);
        fixture_free(&f);
    }
}

/* ---- tampering ---------------------------------------------------------------- */

static void flipped_small(void)
{
    fixture f;
    fixture_make(&f, 100, 0);
    for (size_t i = 0; i < f.ct.len; i++) {
        mem_snk out;
        f.ct.p[i] ^= (uint8_t)(1u << (i % 8));
        CHECK_ERR(decrypt(&out, f.ct.p, f.ct.len), FKEX_ERR_AUTHENTICATION);
        CHECK(out.len == 0 && out.writes == 0);
        snk_free(&out);
        f.ct.p[i] ^= (uint8_t)(1u << (i % 8));
    }
    mem_snk out;
    CHECK_OK(decrypt(&out, f.ct.p, f.ct.len));   /* restored */
    snk_free(&out);
    fixture_free(&f);
}

/* In a 3-chunk stream a flip costs the chunk it hits and all after it;
 * the chunks before were authentic and have been written. */
static void flipped_large(void)
{
    fixture f;
    fixture_make(&f, 2 * CHUNK + 10, 0);
    size_t where[] = {
        0, 5, HBYTES - 1, HBYTES, HBYTES + 1, HBYTES + CHUNK / 2, HBYTES + CHUNK,
        HBYTES + CBYTES - 1, HBYTES + CBYTES, HBYTES + CBYTES + 1, HBYTES + 2 * CBYTES - 1,
        HBYTES + 2 * CBYTES, HBYTES + 2 * CBYTES + 10, f.ct.len - 1,
    };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(where); i++) {
        mem_snk out;
        size_t at = where[i];
        size_t hit = at < HBYTES ? 0 : (at - HBYTES) / CBYTES;
        f.ct.p[at] ^= 0x80;
        CHECK_ERR(decrypt(&out, f.ct.p, f.ct.len), FKEX_ERR_AUTHENTICATION);
        CHECK(got_chunks(&out, &f, hit));
        snk_free(&out);
        f.ct.p[at] ^= 0x80;
    }
    fixture_free(&f);
}

static void wrong_key_or_ad(void)
{
    static const size_t sizes[] = { 0, 100, CHUNK + 1 };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(sizes); i++) {
        fixture f;
        mem_snk out;
        uint8_t other[32];
        memcpy(other, key, 32);
        other[31] ^= 1;
        fixture_make(&f, sizes[i], 0);
        CHECK_ERR(decrypt_with(&out, f.ct.p, f.ct.len, other, ad, sizeof ad, 0),
                  FKEX_ERR_AUTHENTICATION);
        CHECK(out.len == 0);
        snk_free(&out);
        CHECK_ERR(decrypt_with(&out, f.ct.p, f.ct.len, key, ad, sizeof ad - 1, 0),
                  FKEX_ERR_AUTHENTICATION);
        CHECK(out.len == 0);
        snk_free(&out);
        CHECK_ERR(decrypt_with(&out, f.ct.p, f.ct.len, key, NULL, 0, 0), FKEX_ERR_AUTHENTICATION);
        CHECK(out.len == 0);
        snk_free(&out);
        fixture_free(&f);
    }
}

/* Extra bytes land in the final chunk and break its tag. */
static void trailing_bytes(void)
{
    static const size_t sizes[] = { 0, 100, CHUNK, CHUNK + 5 };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(sizes); i++) {
        for (size_t extra = 1; extra < 40; extra += 19) {
            fixture f;
            mem_snk out;
            fixture_make(&f, sizes[i], 0);
            uint8_t *ct = malloc(f.ct.len + extra);
            memcpy(ct, f.ct.p, f.ct.len);
            memset(ct + f.ct.len, 0, extra);
            CHECK_ERR(decrypt(&out, ct, f.ct.len + extra), FKEX_ERR_AUTHENTICATION);
            CHECK(got_chunks(&out, &f, sizes[i] / CHUNK));
            snk_free(&out);
            free(ct);
            fixture_free(&f);
        }
    }
}

/* Moves chunk-sized pieces of a 4-chunk stream (3 full, then 5 bytes). */
static void reordered_or_dropped(void)
{
    fixture f;
    fixture_make(&f, 3 * CHUNK + 5, 0);
    const uint8_t *c[4];
    for (int i = 0; i < 4; i++)
        c[i] = f.ct.p + HBYTES + (size_t)i * CBYTES;
    static const struct {
        int order[6];    /* chunk numbers, -1 ends */
        fkex_err err;
        size_t chunks;
    } cases[] = {
        { { 0, 2, 1, 3, -1 }, FKEX_ERR_AUTHENTICATION, 1 },
        { { 1, 0, 2, 3, -1 }, FKEX_ERR_AUTHENTICATION, 0 },
        { { 0, 2, 3, -1 }, FKEX_ERR_AUTHENTICATION, 1 },
        { { 0, 0, 1, 2, 3, -1 }, FKEX_ERR_AUTHENTICATION, 1 },
        { { 0, 1, 2, 2, 3, -1 }, FKEX_ERR_AUTHENTICATION, 3 },
        { { 0, 1, 3, -1 }, FKEX_ERR_AUTHENTICATION, 2 },
        { { 0, 1, 2, -1 }, FKEX_ERR_TRUNCATED, 3 },
        { { 3, -1 }, FKEX_ERR_AUTHENTICATION, 0 },
        { { 0, 1, 2, 3, -1 }, FKEX_OK, 4 },
    };
    uint8_t *ct = malloc(HBYTES + 5 * CBYTES);
    for (size_t i = 0; i < FKEX_ARRAY_LEN(cases); i++) {
        size_t len = HBYTES;
        memcpy(ct, f.ct.p, HBYTES);
        for (int j = 0; cases[i].order[j] >= 0; j++) {
            int k = cases[i].order[j];
            size_t n = k == 3 ? 5 + ABYTES : CBYTES;
            memcpy(ct + len, c[k], n);
            len += n;
        }
        mem_snk out;
        CHECK(decrypt(&out, ct, len) == cases[i].err);
        CHECK(got_chunks(&out, &f, cases[i].chunks));
        snk_free(&out);
    }
    /* Another stream's header under the same key. */
    fixture g;
    fixture_make(&g, 3 * CHUNK + 5, 0);
    memcpy(ct, g.ct.p, HBYTES);
    memcpy(ct + HBYTES, f.ct.p + HBYTES, f.ct.len - HBYTES);
    mem_snk out;
    CHECK_ERR(decrypt(&out, ct, f.ct.len), FKEX_ERR_AUTHENTICATION);
    CHECK(out.len == 0);
    snk_free(&out);
    fixture_free(&g);
    free(ct);
    fixture_free(&f);
}

/* ---- streams from a writer that is not ours ---------------------------------- */

typedef struct {
    size_t len;
    unsigned char tag;
} piece;

/* Pushes the pieces with libsodium directly; piece i's plaintext is
 * fill(.., i). */
static void handmade(mem_snk *ct, const piece *p, size_t n)
{
    crypto_secretstream_xchacha20poly1305_state st;
    uint8_t header[HBYTES];
    uint8_t *pt = malloc(CHUNK), *c = malloc(CBYTES);
    fkex_sink sink = snk_make(ct);
    crypto_secretstream_xchacha20poly1305_init_push(&st, header, key);
    CHECK_OK(sink.write(&sink, header, HBYTES));
    for (size_t i = 0; i < n; i++) {
        unsigned long long clen;
        fill(pt, p[i].len, (uint32_t)i);
        crypto_secretstream_xchacha20poly1305_push(&st, c, &clen, pt, p[i].len, i ? NULL : ad,
                                                   i ? 0 : sizeof ad, p[i].tag);
        CHECK_OK(sink.write(&sink, c, (size_t)clen));
    }
    free(pt);
    free(c);
}

static void foreign_writers(void)
{
    enum { M = crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
           F = crypto_secretstream_xchacha20poly1305_TAG_FINAL,
           P = crypto_secretstream_xchacha20poly1305_TAG_PUSH,
           R = crypto_secretstream_xchacha20poly1305_TAG_REKEY };
    static const struct {
        piece p[3];
        size_t n;
        fkex_err err;
        size_t written;
    } cases[] = {
        { { { 10, M } }, 1, FKEX_ERR_TRUNCATED, 0 },              /* short, not final */
        { { { CHUNK, M }, { 10, M } }, 2, FKEX_ERR_TRUNCATED, CHUNK },
        { { { 0, M } }, 1, FKEX_ERR_TRUNCATED, 0 },
        /* A short chunk must be the last: read as one with what follows,
         * it fails its tag. */
        { { { 10, M }, { 10, F } }, 2, FKEX_ERR_AUTHENTICATION, 0 },
        { { { 10, P }, { 10, F } }, 2, FKEX_ERR_AUTHENTICATION, 0 },
        { { { 10, P } }, 1, FKEX_ERR_BAD_ENCODING, 0 },
        { { { CHUNK, P }, { 10, F } }, 2, FKEX_ERR_BAD_ENCODING, 0 },
        { { { CHUNK, R }, { 10, F } }, 2, FKEX_ERR_BAD_ENCODING, 0 },
        { { { CHUNK, M }, { 10, P } }, 2, FKEX_ERR_BAD_ENCODING, CHUNK },
        /* A full-size final chunk: valid when the input ends after it. */
        { { { CHUNK, F } }, 1, FKEX_OK, CHUNK },
        { { { CHUNK, M }, { CHUNK, F } }, 2, FKEX_OK, 2 * CHUNK },
        { { { 10, F } }, 1, FKEX_OK, 10 },
        /* ...and it ends the stream: a chunk after FINAL is trailing data. */
        { { { CHUNK, F }, { 10, F } }, 2, FKEX_ERR_BAD_ENCODING, 0 },
        { { { CHUNK, F }, { 0, F } }, 2, FKEX_ERR_BAD_ENCODING, 0 },
    };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(cases); i++) {
        mem_snk ct, out;
        handmade(&ct, cases[i].p, cases[i].n);
        fkex_err err = decrypt(&out, ct.p, ct.len);
        if (err != cases[i].err)
            fprintf(stderr, "    case %zu: got %d\n", i, (int)err);
        CHECK(err == cases[i].err);
        CHECK(out.len == cases[i].written);
        snk_free(&out);
        /* The same through a one-byte source, which cannot see ahead. */
        CHECK(decrypt_with(&out, ct.p, ct.len, key, ad, sizeof ad, 1) == cases[i].err);
        CHECK(out.len == cases[i].written);
        snk_free(&out);
        snk_free(&ct);
    }
    /* A full-size final chunk followed by a single byte. */
    mem_snk ct, out;
    piece one = { CHUNK, F };
    handmade(&ct, &one, 1);
    CHECK_OK(snk_write(&(fkex_sink){ snk_write, &ct }, (const uint8_t *)"x", 1));
    CHECK_ERR(decrypt(&out, ct.p, ct.len), FKEX_ERR_BAD_ENCODING);
    CHECK(out.len == 0);
    snk_free(&out);
    snk_free(&ct);
}

/* ---- errors from the callbacks ------------------------------------------------ */

static void callback_errors(void)
{
    fixture f;
    fixture_make(&f, 2 * CHUNK + 10, 0);
    /* The sink fails: at the header, in the middle, at the last chunk. */
    static const size_t limits[] = { 1, HBYTES, HBYTES + 1, HBYTES + CBYTES + 3, 0 };
    for (size_t i = 0; i + 1 < FKEX_ARRAY_LEN(limits); i++) {
        mem_src m;
        mem_snk ct;
        fkex_source src = src_make(&m, f.pt, f.ptlen, 0);
        fkex_sink sink = snk_make(&ct);
        ct.fail_after = limits[i];
        CHECK_ERR(fkex_stream_encrypt(&sink, &src, key, ad, sizeof ad), FKEX_ERR_IO);
        snk_free(&ct);
    }
    for (size_t lim = 1; lim <= f.ptlen; lim += CHUNK) {
        mem_src m;
        mem_snk out;
        fkex_source src = src_make(&m, f.ct.p, f.ct.len, 0);
        fkex_sink sink = snk_make(&out);
        out.fail_after = lim;
        CHECK_ERR(fkex_stream_decrypt(&sink, &src, key, ad, sizeof ad), FKEX_ERR_IO);
        snk_free(&out);
    }
    /* The source fails, anywhere. */
    static const size_t at[] = { 0, 1, HBYTES, HBYTES + 5, HBYTES + CBYTES, HBYTES + CBYTES + 1 };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(at); i++) {
        mem_src m;
        mem_snk out;
        fkex_source src = src_make(&m, f.ct.p, f.ct.len, 0);
        fkex_sink sink = snk_make(&out);
        m.err = FKEX_ERR_NO_MEMORY;
        m.fail_at = at[i];
        CHECK_ERR(fkex_stream_decrypt(&sink, &src, key, ad, sizeof ad), FKEX_ERR_NO_MEMORY);
        CHECK(out.len == (at[i] >= HBYTES + CBYTES ? CHUNK : 0));
        snk_free(&out);

        src = src_make(&m, f.pt, f.ptlen, 0);
        sink = snk_make(&out);
        m.err = FKEX_ERR_NO_MEMORY;
        m.fail_at = at[i];
        CHECK_ERR(fkex_stream_encrypt(&sink, &src, key, ad, sizeof ad), FKEX_ERR_NO_MEMORY);
        snk_free(&out);
    }
    fixture_free(&f);
}

void suite_stream(void)
{
    RUN(round_trip);
    RUN(round_trip_one_byte_reads);
    RUN(round_trip_no_ad);
    RUN(fresh_header);
    RUN(truncated_everywhere);
    RUN(truncated_at_chunk_boundaries);
    RUN(flipped_small);
    RUN(flipped_large);
    RUN(wrong_key_or_ad);
    RUN(trailing_bytes);
    RUN(reordered_or_dropped);
    RUN(foreign_writers);
    RUN(callback_errors);
}
