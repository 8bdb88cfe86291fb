/*
 * tests/test_wire.c: the writer, the reader, byte streams, text armor and
 * the error strings.
 */
#include <stdlib.h>
#include "test.h"

/* ---- writer -------------------------------------------------------------- */

static const uint8_t kat[] = {
    0xab, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x03, 'a', 'b', 'c', 'x', 'y', 'z',
};

static void writer_known_answer(void)
{
    fkex_writer w;
    fkex_writer_init(&w);
    fkex_writer_u8(&w, 0xab);
    fkex_writer_u16(&w, 0x1234);
    fkex_writer_u32(&w, 0xdeadbeef);
    fkex_writer_bytes16(&w, "abc", 3);
    fkex_writer_put(&w, "xyz", 3);
    fkex_writer_put(&w, NULL, 0);
    CHECK(!w.failed);
    CHECK(w.len == sizeof kat);
    CHECK(w.buf != NULL && memcmp(w.buf, kat, sizeof kat) == 0);
    fkex_writer_free(&w);
    CHECK(w.buf == NULL && w.len == 0 && w.cap == 0 && !w.failed);
}

static void writer_grows(void)
{
    static uint8_t big[100003];
    fill(big, sizeof big, 1);
    fkex_writer w;
    fkex_writer_init(&w);
    for (size_t i = 0; i < sizeof big; i++)
        fkex_writer_u8(&w, big[i]);
    fkex_writer_put(&w, big, sizeof big);
    CHECK(!w.failed);
    CHECK(w.len == 2 * sizeof big && w.cap >= w.len);
    CHECK(memcmp(w.buf, big, sizeof big) == 0);
    CHECK(memcmp(w.buf + sizeof big, big, sizeof big) == 0);
    fkex_writer_free(&w);
}

static void writer_bytes16_limit(void)
{
    static uint8_t big[65536];
    fkex_writer w;
    fkex_writer_init(&w);
    fkex_writer_bytes16(&w, big, 65535);
    CHECK(!w.failed && w.len == 2 + 65535);
    CHECK(w.buf[0] == 0xff && w.buf[1] == 0xff);
    fkex_writer_bytes16(&w, big, 65536);
    CHECK(w.failed);
    /* A failed writer ignores everything after. */
    fkex_writer_u32(&w, 1);
    fkex_writer_put(&w, "x", 1);
    CHECK(w.len == 2 + 65535);
    fkex_writer_free(&w);
    CHECK(!w.failed);
    fkex_writer_u8(&w, 7);   /* reusable after free */
    CHECK(!w.failed && w.len == 1 && w.buf[0] == 7);
    fkex_writer_free(&w);
}

/* ---- reader -------------------------------------------------------------- */

static void reader_round_trip(void)
{
    fkex_reader r;
    uint8_t u8, tail[3];
    uint16_t u16;
    uint32_t u32;
    const uint8_t *p;
    size_t n;
    fkex_reader_init(&r, kat, sizeof kat);
    CHECK(fkex_reader_u8(&r, &u8) == 0 && u8 == 0xab);
    CHECK(fkex_reader_u16(&r, &u16) == 0 && u16 == 0x1234);
    CHECK(fkex_reader_u32(&r, &u32) == 0 && u32 == 0xdeadbeef);
    CHECK(fkex_reader_bytes16(&r, &p, &n) == 0 && n == 3 && p == kat + 9);
    CHECK(fkex_reader_end(&r) == FKEX_ERR_BAD_ENCODING);   /* "xyz" left */
    CHECK(fkex_reader_view(&r, &p, 1) == 0 && p[0] == 'x');
    CHECK(fkex_reader_get(&r, tail, 2) == 0 && memcmp(tail, "yz", 2) == 0);
    CHECK(fkex_reader_view(&r, &p, 0) == 0);
    CHECK_OK(fkex_reader_end(&r));

    fkex_reader_init(&r, NULL, 0);
    CHECK_OK(fkex_reader_end(&r));
}

/* Every kind of get, run past the end of every prefix of kat. */
static void reader_truncated(void)
{
    for (int kind = 0; kind < 6; kind++) {
        for (size_t len = 0; len < 4; len++) {
            fkex_reader r;
            uint8_t b[4];
            uint16_t u16;
            uint32_t u32;
            const uint8_t *p = kat;
            size_t n = 99;
            int rc;
            fkex_reader_init(&r, kat, len);
            switch (kind) {
            case 0: rc = len < 1 ? fkex_reader_u8(&r, b) : fkex_reader_get(&r, b, len + 1); break;
            case 1: rc = fkex_reader_u16(&r, &u16) | (len >= 2 ? fkex_reader_u16(&r, &u16) : 0); break;
            case 2: rc = fkex_reader_u32(&r, &u32); break;
            case 3: rc = fkex_reader_bytes16(&r, &p, &n); break;
            case 4: rc = fkex_reader_view(&r, &p, len + 1); break;
            default: rc = fkex_reader_get(&r, b, 4); break;
            }
            CHECK(rc == -1);
            CHECK(r.failed);
            CHECK(fkex_reader_end(&r) == FKEX_ERR_TRUNCATED);
            if (kind == 3 || kind == 4)
                CHECK(p == NULL);
            if (kind == 3)
                CHECK(n == 0);
            /* Poisoned: even a get that fits now fails. */
            fkex_reader_init(&r, kat, sizeof kat);
            CHECK(fkex_reader_get(&r, b, len) == 0);
            CHECK(fkex_reader_view(&r, &p, sizeof kat - len + 1) == -1);
            CHECK(fkex_reader_u8(&r, b) == -1);
            CHECK(fkex_reader_view(&r, &p, 0) == -1);
            CHECK(fkex_reader_end(&r) == FKEX_ERR_TRUNCATED);
        }
    }
}

static void reader_bytes16_overlong(void)
{
    static const uint8_t in[] = { 0x00, 0x05, 'a', 'b', 'c' };
    static const uint8_t huge[] = { 0xff, 0xff, 'a' };
    fkex_reader r;
    const uint8_t *p;
    size_t n;
    fkex_reader_init(&r, in, sizeof in);
    CHECK(fkex_reader_bytes16(&r, &p, &n) == -1 && p == NULL && n == 0);
    CHECK(fkex_reader_end(&r) == FKEX_ERR_TRUNCATED);
    fkex_reader_init(&r, huge, sizeof huge);
    CHECK(fkex_reader_bytes16(&r, &p, &n) == -1);
    CHECK(fkex_reader_end(&r) == FKEX_ERR_TRUNCATED);
    /* Exactly enough is fine. */
    fkex_reader_init(&r, in, 2 + 3);
    CHECK(fkex_reader_u16(&r, &(uint16_t){0}) == 0);
    fkex_reader_init(&r, (const uint8_t[]){ 0, 0 }, 2);
    CHECK(fkex_reader_bytes16(&r, &p, &n) == 0 && n == 0);
    CHECK_OK(fkex_reader_end(&r));
}

static void reader_trailing(void)
{
    fkex_reader r;
    uint16_t v;
    fkex_reader_init(&r, kat, 3);
    CHECK(fkex_reader_u16(&r, &v) == 0);
    CHECK(fkex_reader_end(&r) == FKEX_ERR_BAD_ENCODING);
    fkex_reader_init(&r, kat, 1);
    CHECK(fkex_reader_end(&r) == FKEX_ERR_BAD_ENCODING);
}

/* ---- fkex_source_read_full ------------------------------------------------ */

typedef struct {
    int calls;
} liar;

/* Claims to have read more than it was given room for. */
static fkex_err liar_read(fkex_source *s, uint8_t *buf, size_t cap, size_t *got)
{
    ((liar *)s->ctx)->calls++;
    (void)buf;
    *got = cap + 1;
    return FKEX_OK;
}

/* Ends once, then has more: read_full must stop at the first end. */
static fkex_err flaky_read(fkex_source *s, uint8_t *buf, size_t cap, size_t *got)
{
    liar *l = s->ctx;
    *got = l->calls++ == 2 ? 0 : 1;
    if (*got && cap)
        buf[0] = 'z';
    return FKEX_OK;
}

static void read_full(void)
{
    uint8_t data[100], buf[128];
    size_t got;
    mem_src m;
    fill(data, sizeof data, 2);

    fkex_source s = src_make(&m, data, sizeof data, 1);
    CHECK_OK(fkex_source_read_full(&s, buf, 60, &got));
    CHECK(got == 60 && memcmp(buf, data, 60) == 0 && m.eofs == 0);
    CHECK_OK(fkex_source_read_full(&s, buf, sizeof buf, &got));
    CHECK(got == 40 && memcmp(buf, data + 60, 40) == 0 && m.eofs == 1);
    CHECK_OK(fkex_source_read_full(&s, buf, sizeof buf, &got));
    CHECK(got == 0);
    CHECK_OK(fkex_source_read_full(&s, buf, 0, &got));
    CHECK(got == 0);

    s = src_make(&m, data, sizeof data, 7);
    m.err = FKEX_ERR_IO;
    m.fail_at = 30;
    CHECK_ERR(fkex_source_read_full(&s, buf, 60, &got), FKEX_ERR_IO);
    CHECK(got == 30);   /* what arrived before the error */

    liar l = { 0 };
    s = (fkex_source){ liar_read, &l };
    CHECK_ERR(fkex_source_read_full(&s, buf, 10, &got), FKEX_ERR_IO);
    CHECK(l.calls == 1);

    s = (fkex_source){ flaky_read, &l };
    l.calls = 0;
    CHECK_OK(fkex_source_read_full(&s, buf, 10, &got));
    CHECK(got == 2 && l.calls == 3);
}

/* ---- error strings ------------------------------------------------------- */

static void strerror_all(void)
{
    const char *seen[FKEX_ERR_TIMEOUT + 1];
    for (int e = FKEX_OK; e <= FKEX_ERR_TIMEOUT; e++) {
        const char *s = fkex_strerror((fkex_err)e);
        seen[e] = s;
        CHECK(s != NULL && s[0] >= 'a' && s[0] <= 'z');
        CHECK(strcmp(s, "unknown error") != 0);
        CHECK(s[strlen(s) - 1] != '.' && strchr(s, '\n') == NULL);
        for (int f = 0; f < e; f++)
            CHECK(strcmp(seen[f], s) != 0);
    }
    CHECK(strcmp(fkex_strerror(FKEX_ERR_POLICY_UNSATISFIED),
                 "the key's attributes do not satisfy the policy") == 0);
    CHECK(strcmp(fkex_strerror(FKEX_ERR_WRONG_AUTHORITY),
                 "the key and the ciphertext come from different authorities") == 0);
    CHECK(strcmp(fkex_strerror(FKEX_ERR_AUTHENTICATION),
                 "the ciphertext has been tampered with or is corrupt") == 0);
    CHECK(strcmp(fkex_strerror(FKEX_ERR_TRUNCATED), "the input is truncated") == 0);
    CHECK(strcmp(fkex_strerror((fkex_err)(FKEX_ERR_TIMEOUT + 1)), "unknown error") == 0);
    CHECK(strcmp(fkex_strerror((fkex_err)-1), "unknown error") == 0);
}

/* ---- armor --------------------------------------------------------------- */

/* Armors data by feeding the streaming writer `step` bytes at a time. */
static fkex_err armor_stream(mem_snk *out, const char *kind, const uint8_t *data, size_t len,
                             size_t step)
{
    fkex_sink sink = snk_make(out);
    fkex_armor_writer w;
    fkex_err err = fkex_armor_writer_begin(&w, &sink, kind);
    for (size_t i = 0; err == FKEX_OK && i < len; i += step)
        err = w.sink.write(&w.sink, data + i, len - i < step ? len - i : step);
    if (err == FKEX_OK)
        err = fkex_armor_writer_end(&w);
    return err;
}

/* Dearmors text through the streaming reader: the source gives `step`
 * bytes per read and we ask for `cap` at a time. */
static fkex_err dearmor_stream(mem_snk *out, char kind[FKEX_ARMOR_KIND_MAX + 1],
                               const uint8_t *text, size_t len, size_t step, size_t cap)
{
    mem_src m;
    fkex_source src = src_make(&m, text, len, step);
    fkex_sink sink = snk_make(out);
    fkex_armor_reader r;
    uint8_t buf[4096];
    size_t got;
    fkex_err err = fkex_armor_reader_begin(&r, &src);
    if (err != FKEX_OK)
        return err;
    memcpy(kind, r.kind, sizeof r.kind);
    do {
        err = r.source.read(&r.source, buf, cap, &got);
        if (err == FKEX_OK)
            err = sink.write(&sink, buf, got);
    } while (err == FKEX_OK && got != 0);
    if (err == FKEX_OK)
        CHECK(m.off == len);   /* the whole input was looked at */
    return err;
}

static void armor_known_answer(void)
{
    static const char hello[] =
        "-----BEGIN FKEX TEST-----\naGVsbG8=\n-----END FKEX TEST-----\n";
    static const char empty[] =
        "-----BEGIN FKEX USER KEY-----\n-----END FKEX USER KEY-----\n";
    static const char zeros[] =
        "-----BEGIN FKEX Z-----\n"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
        "AA==\n"
        "-----END FKEX Z-----\n";
    uint8_t zero[49] = { 0 };
    char *out;
    size_t n;
    CHECK_OK(fkex_armor_encode(&out, &n, "TEST", (const uint8_t *)"hello", 5));
    CHECK(n == strlen(hello) && strcmp(out, hello) == 0);
    free(out);
    CHECK_OK(fkex_armor_encode(&out, &n, "USER KEY", NULL, 0));
    CHECK(n == strlen(empty) && strcmp(out, empty) == 0);
    free(out);
    CHECK_OK(fkex_armor_encode(&out, &n, "Z", zero, sizeof zero));
    CHECK(n == strlen(zeros) && strcmp(out, zeros) == 0);
    free(out);

    uint8_t *data;
    char kind[FKEX_ARMOR_KIND_MAX + 1];
    CHECK_OK(fkex_armor_decode(&data, &n, kind, (const uint8_t *)zeros, strlen(zeros)));
    CHECK(n == sizeof zero && memcmp(data, zero, n) == 0 && strcmp(kind, "Z") == 0);
    free(data);
    CHECK_OK(fkex_armor_decode(&data, &n, kind, (const uint8_t *)empty, strlen(empty)));
    CHECK(n == 0 && data != NULL && strcmp(kind, "USER KEY") == 0);
    free(data);
}

/* Encodes len bytes every way there is and decodes every way there is. */
static void armor_round_trip_one(size_t len, const char *kind, size_t wstep, size_t rstep,
                                 size_t rcap)
{
    uint8_t *data = malloc(len + 1), *back;
    char *text, k[FKEX_ARMOR_KIND_MAX + 1];
    size_t tlen, blen;
    mem_snk s1, s2;
    fill(data, len, (uint32_t)len);

    CHECK_OK(fkex_armor_encode(&text, &tlen, kind, data, len));
    CHECK(text[tlen] == '\0' && strlen(text) == tlen);
    CHECK(fkex_armor_detect((const uint8_t *)text, tlen));
    /* Every base64 line is 64 characters but the last. */
    size_t lines = 0, lastlen = 0;
    for (const char *p = strchr(text, '\n') + 1; *p != '-'; p = strchr(p, '\n') + 1) {
        size_t ll = (size_t)(strchr(p, '\n') - p);
        CHECK(ll > 0 && ll <= 64);
        if (lines > 0)
            CHECK(lastlen == 64);
        lastlen = ll;
        lines++;
    }
    CHECK(lines == (len + 47) / 48);

    CHECK_OK(armor_stream(&s1, kind, data, len, wstep));
    CHECK(s1.len == tlen && memcmp(s1.p, text, tlen) == 0);
    snk_free(&s1);

    CHECK_OK(fkex_armor_decode(&back, &blen, k, (const uint8_t *)text, tlen));
    CHECK(blen == len && memcmp(back, data, len) == 0 && strcmp(k, kind) == 0);
    free(back);

    memset(k, 'x', sizeof k);
    CHECK_OK(dearmor_stream(&s2, k, (const uint8_t *)text, tlen, rstep, rcap));
    CHECK(s2.len == len && (len == 0 || memcmp(s2.p, data, len) == 0) && strcmp(k, kind) == 0);
    snk_free(&s2);
    free(text);
    free(data);
}

static void armor_round_trip_small(void)
{
    for (size_t len = 0; len <= 200; len++) {
        armor_round_trip_one(len, "CIPHERTEXT", 1, 1, 1);
        armor_round_trip_one(len, "USER KEY", 7, 13, 5);
        armor_round_trip_one(len, "A", len + 1, 0, 4096);
    }
}

static void armor_round_trip_large(void)
{
    armor_round_trip_one(48 * 1000, "CIPHERTEXT", 48, 1, 1);
    armor_round_trip_one(100003, "ABCDEFGHIJKLMNOPQRSTUVWXYZ ABCDE", 1, 3, 100);
    armor_round_trip_one((1u << 20) + 7, "BIG ONE", 4093, 65, 4096);
    armor_round_trip_one((1u << 22) + 1, "BIG ONE", 1u << 20, 0, 4096);
}

/* Returns text with every "\n" (or those chosen by mask) turned into "\r\n". */
static uint8_t *to_crlf(const char *text, size_t len, size_t *outlen, unsigned mask)
{
    uint8_t *out = malloc(2 * len + 1);
    size_t n = 0, line = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n' && (mask >> (line++ % 8) & 1))
            out[n++] = '\r';
        out[n++] = (uint8_t)text[i];
    }
    *outlen = n;
    return out;
}

static void armor_crlf(void)
{
    for (size_t len = 0; len < 150; len += 7) {
        uint8_t data[150], *crlf, *back;
        char *text, kind[FKEX_ARMOR_KIND_MAX + 1];
        size_t tlen, clen, blen;
        mem_snk s;
        fill(data, len, 3);
        CHECK_OK(fkex_armor_encode(&text, &tlen, "KEY", data, len));
        for (unsigned mask = 0; mask < 256; mask += 37) {
            crlf = to_crlf(text, tlen, &clen, mask | 1);
            for (int cut = 0; cut < 3; cut++) {
                /* Drop the END line's "\n" (cut 1) or "\r\n" (cut 2). */
                int cr = crlf[clen - 2] == '\r';
                if ((cut == 1 && cr) || (cut == 2 && !cr))
                    continue;
                size_t n = clen - (size_t)cut;
                CHECK_OK(fkex_armor_decode(&back, &blen, kind, crlf, n));
                CHECK(blen == len && memcmp(back, data, len) == 0 && strcmp(kind, "KEY") == 0);
                free(back);
                CHECK_OK(dearmor_stream(&s, kind, crlf, n, 1, 1));
                CHECK(s.len == len && (len == 0 || memcmp(s.p, data, len) == 0));
                snk_free(&s);
            }
            free(crlf);
        }
        free(text);
    }
}

static const struct {
    const char *text;
    fkex_err err;
} bad_armor[] = {
#define B "-----BEGIN FKEX TEST-----\n"
#define E "-----END FKEX TEST-----\n"
#define L64 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    { "", FKEX_ERR_TRUNCATED },
    { "-----BEGIN FKEX TE", FKEX_ERR_TRUNCATED },
    { "-----BEGIN FKEX TEST-----", FKEX_ERR_TRUNCATED },
    { B, FKEX_ERR_TRUNCATED },
    { B "aGVsbG8=\n", FKEX_ERR_TRUNCATED },
    { B "aGVsbG8=", FKEX_ERR_TRUNCATED },
    { B "aGVsbG8=\n-----END FKEX TE", FKEX_ERR_TRUNCATED },
    { B L64 "\n" L64, FKEX_ERR_TRUNCATED },
    { "hello", FKEX_ERR_BAD_ENCODING },
    { "hello\n", FKEX_ERR_BAD_ENCODING },
    { " " B E, FKEX_ERR_BAD_ENCODING },
    { "\n" B E, FKEX_ERR_BAD_ENCODING },
    { "\xef\xbb\xbf" B E, FKEX_ERR_BAD_ENCODING },                 /* BOM */
    { "-----BEGIN FKEX TEST----- \n" E, FKEX_ERR_BAD_ENCODING },
    { "-----BEGIN FKEX test-----\n-----END FKEX test-----\n", FKEX_ERR_BAD_ENCODING },
    { "-----BEGIN FKEX -----\n-----END FKEX -----\n", FKEX_ERR_BAD_ENCODING },
    { "-----BEGIN FKEX A  B-----\n-----END FKEX A  B-----\n", FKEX_ERR_BAD_ENCODING },
    { "-----BEGIN FKEX A -----\n-----END FKEX A -----\n", FKEX_ERR_BAD_ENCODING },
    { "-----BEGIN FKEX  A-----\n-----END FKEX  A-----\n", FKEX_ERR_BAD_ENCODING },
    { "-----BEGIN FKEX ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG-----\n"
      "-----END FKEX ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG-----\n", FKEX_ERR_BAD_ENCODING },
    { "-----BEGIN PGP MESSAGE-----\n-----END PGP MESSAGE-----\n", FKEX_ERR_BAD_ENCODING },
    { B "aGVsbG8=\n-----END FKEX KEY-----\n", FKEX_ERR_BAD_ENCODING },   /* kind mismatch */
    { B "aGVsbG8=\n-----END FKEX TEST----\n", FKEX_ERR_BAD_ENCODING },
    { B "aGVsbG9=\n" E, FKEX_ERR_BAD_ENCODING },       /* nonzero bits under the padding */
    { B "AB==\n" E, FKEX_ERR_BAD_ENCODING },
    { B "AAB=\n" E, FKEX_ERR_BAD_ENCODING },
    { B "aGVsbG8\n" E, FKEX_ERR_BAD_ENCODING },        /* padding missing */
    { B "aGVsbG8==\n" E, FKEX_ERR_BAD_ENCODING },
    { B "aGVs=G8=\n" E, FKEX_ERR_BAD_ENCODING },
    { B "aGVsbG8=aGVs\n" E, FKEX_ERR_BAD_ENCODING },
    { B "====\n" E, FKEX_ERR_BAD_ENCODING },
    { B "aGVs bG8=\n" E, FKEX_ERR_BAD_ENCODING },
    { B "aGVsbG8= \n" E, FKEX_ERR_BAD_ENCODING },
    { B "aGVsbG8=\t\n" E, FKEX_ERR_BAD_ENCODING },
    { B "aGVs*G8=\n" E, FKEX_ERR_BAD_ENCODING },
    { B "aG-_bG8=\n" E, FKEX_ERR_BAD_ENCODING },       /* url-safe alphabet */
    { B "aGVsbG8=\r\r\n" E, FKEX_ERR_BAD_ENCODING },
    { B "aGVsbG8=\n\n" E, FKEX_ERR_BAD_ENCODING },     /* blank line */
    { B "\n" E, FKEX_ERR_BAD_ENCODING },
    { B "aGVsbG8=\n" L64 "\n" E, FKEX_ERR_BAD_ENCODING },   /* short line not last */
    { B "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
        "AAAAAAAA\n" E, FKEX_ERR_BAD_ENCODING },       /* 60 + 8 instead of 64 + 4 */
    { B L64 "AAAA\n" E, FKEX_ERR_BAD_ENCODING },       /* 68 columns */
    { B L64 L64 "\n" E, FKEX_ERR_BAD_ENCODING },
    { B "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n"
        "AAAA\n" E, FKEX_ERR_BAD_ENCODING },           /* padded full line not last */
    { B E "\n", FKEX_ERR_BAD_ENCODING },               /* two newlines after END */
    { B E "x", FKEX_ERR_BAD_ENCODING },
    { B E B E, FKEX_ERR_BAD_ENCODING },
    { B "-----END FKEX TEST-----x", FKEX_ERR_BAD_ENCODING },
    { B "-----END FKEX TEST-----\r", FKEX_ERR_BAD_ENCODING },
    { B "-----END FKEX TEST----- \n", FKEX_ERR_BAD_ENCODING },
    { B "-----END FKEX TEST-----\n\r\n", FKEX_ERR_BAD_ENCODING },
    { B B E, FKEX_ERR_BAD_ENCODING },
    { B "aGVsbG8=\n" B E, FKEX_ERR_BAD_ENCODING },
#undef B
#undef E
#undef L64
};

static void armor_malformed(void)
{
    for (size_t i = 0; i < FKEX_ARRAY_LEN(bad_armor); i++) {
        const uint8_t *t = (const uint8_t *)bad_armor[i].text;
        size_t len = strlen(bad_armor[i].text);
        uint8_t *out = (uint8_t *)&out;
        size_t n = 99;
        char kind[FKEX_ARMOR_KIND_MAX + 1];
        mem_snk s;
        fkex_err err = fkex_armor_decode(&out, &n, kind, t, len);
        if (err != bad_armor[i].err)
            fprintf(stderr, "    bad_armor[%zu]: got %d\n", i, (int)err);
        CHECK(err == bad_armor[i].err);
        CHECK(out == NULL && n == 0);
        CHECK(dearmor_stream(&s, kind, t, len, 1, 1) == bad_armor[i].err);
        snk_free(&s);
        CHECK(dearmor_stream(&s, kind, t, len, 0, 4096) == bad_armor[i].err);
        snk_free(&s);
    }
    /* The valid neighbours of the cases above, to show the line is fine. */
    static const char *good[] = {
        "-----BEGIN FKEX TEST-----\naGVsbG8=\n-----END FKEX TEST-----",
        "-----BEGIN FKEX TEST-----\naGVsbG8=\n-----END FKEX TEST-----\r\n",
        "-----BEGIN FKEX A B-----\n-----END FKEX A B-----\n",
        "-----BEGIN FKEX ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF-----\n"
        "-----END FKEX ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF-----\n",
        "-----BEGIN FKEX TEST-----\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n"
        "-----END FKEX TEST-----\n",
    };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(good); i++) {
        uint8_t *out;
        size_t n;
        char kind[FKEX_ARMOR_KIND_MAX + 1];
        CHECK_OK(fkex_armor_decode(&out, &n, kind, (const uint8_t *)good[i], strlen(good[i])));
        free(out);
    }
}

/* A failed read is not an end: asking again gives the same error. */
static void armor_reader_error_sticks(void)
{
    static const char text[] = "-----BEGIN FKEX TEST-----\naGVsbG9=\n-----END FKEX TEST-----\n";
    mem_src m;
    fkex_source src = src_make(&m, text, strlen(text), 0);
    fkex_armor_reader r;
    uint8_t buf[16];
    size_t got = 99;
    CHECK_OK(fkex_armor_reader_begin(&r, &src));
    CHECK(strcmp(r.kind, "TEST") == 0);
    CHECK_ERR(r.source.read(&r.source, buf, sizeof buf, &got), FKEX_ERR_BAD_ENCODING);
    CHECK(got == 0);
    CHECK_ERR(r.source.read(&r.source, buf, sizeof buf, &got), FKEX_ERR_BAD_ENCODING);
    CHECK(got == 0);

    /* After a good END, reads keep reporting the end. */
    static const char ok[] = "-----BEGIN FKEX TEST-----\naGVsbG8=\n-----END FKEX TEST-----\n";
    src = src_make(&m, ok, strlen(ok), 0);
    CHECK_OK(fkex_armor_reader_begin(&r, &src));
    CHECK_OK(r.source.read(&r.source, buf, sizeof buf, &got));
    CHECK(got == 5 && memcmp(buf, "hello", 5) == 0);
    CHECK_OK(r.source.read(&r.source, buf, sizeof buf, &got));
    CHECK(got == 0);
    CHECK_OK(r.source.read(&r.source, buf, sizeof buf, &got));
    CHECK(got == 0);
    CHECK(m.eofs == 1);   /* the source is not asked again after its end */
    CHECK_ERR(r.source.read(&r.source, buf, 0, &got), FKEX_ERR_ARGUMENT);
}

static void armor_bad_kind(void)
{
    static const char *kinds[] = {
        "", "test", "A  B", " A", "A ", "A-B", "A\nB",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZ",
    };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(kinds); i++) {
        char *out = (char *)&out;
        size_t n = 99;
        mem_snk s;
        fkex_sink sink = snk_make(&s);
        fkex_armor_writer w;
        CHECK_ERR(fkex_armor_encode(&out, &n, kinds[i], (const uint8_t *)"x", 1), FKEX_ERR_ARGUMENT);
        CHECK(out == NULL && n == 0);
        CHECK_ERR(fkex_armor_writer_begin(&w, &sink, kinds[i]), FKEX_ERR_ARGUMENT);
        CHECK(s.len == 0);
        CHECK_ERR(w.sink.write(&w.sink, (const uint8_t *)"x", 1), FKEX_ERR_ARGUMENT);
        CHECK_ERR(fkex_armor_writer_end(&w), FKEX_ERR_ARGUMENT);
        CHECK(s.len == 0);
    }
}

/* Sink and source errors come back unchanged, wherever they strike. */
static void armor_stream_errors(void)
{
    uint8_t data[300];
    char *text;
    size_t tlen;
    fill(data, sizeof data, 4);
    CHECK_OK(fkex_armor_encode(&text, &tlen, "TEST", data, sizeof data));
    for (size_t limit = 1; limit < tlen; limit += 5) {
        mem_snk s;
        fkex_sink sink = snk_make(&s);
        s.fail_after = limit;
        fkex_armor_writer w;
        fkex_err err = fkex_armor_writer_begin(&w, &sink, "TEST");
        for (size_t i = 0; err == FKEX_OK && i < sizeof data; i += 10)
            err = w.sink.write(&w.sink, data + i, 10);
        if (err == FKEX_OK)
            err = fkex_armor_writer_end(&w);
        CHECK(err == FKEX_ERR_IO);
        CHECK(w.npending == 0);   /* wiped */
        CHECK_ERR(w.sink.write(&w.sink, data, 1), FKEX_ERR_ARGUMENT);
        snk_free(&s);
    }
    for (size_t at = 0; at < tlen; at += 3) {
        mem_src m;
        mem_snk s;
        fkex_source src = src_make(&m, text, tlen, 2);
        m.err = FKEX_ERR_NO_MEMORY;
        m.fail_at = at;
        fkex_armor_reader r;
        fkex_err err = fkex_armor_reader_begin(&r, &src);
        uint8_t buf[50];
        size_t got = 0;
        fkex_sink sink = snk_make(&s);
        while (err == FKEX_OK) {
            err = r.source.read(&r.source, buf, sizeof buf, &got);
            if (err == FKEX_OK && got == 0)
                break;
            if (err == FKEX_OK)
                err = sink.write(&sink, buf, got);
        }
        CHECK(err == FKEX_ERR_NO_MEMORY);
        snk_free(&s);
    }
    free(text);
}

static void armor_detect(void)
{
    static const char yes[] = "-----BEGIN FKEX ";
    CHECK(fkex_armor_detect((const uint8_t *)yes, 16));
    CHECK(fkex_armor_detect((const uint8_t *)"-----BEGIN FKEX CIPHERTEXT-----\n", 32));
    CHECK(!fkex_armor_detect((const uint8_t *)yes, 15));
    CHECK(!fkex_armor_detect((const uint8_t *)"-----BEGIN PGP MESSAGE-----", 27));
    CHECK(!fkex_armor_detect((const uint8_t *)"FKEX\x00\x01", 6));
    CHECK(!fkex_armor_detect(NULL, 0));
}

void suite_wire(void)
{
    RUN(writer_known_answer);
    RUN(writer_grows);
    RUN(writer_bytes16_limit);
    RUN(reader_round_trip);
    RUN(reader_truncated);
    RUN(reader_bytes16_overlong);
    RUN(reader_trailing);
    RUN(read_full);
    RUN(strerror_all);
    RUN(armor_known_answer);
    RUN(armor_round_trip_small);
    RUN(armor_round_trip_large);
    RUN(armor_crlf);
    RUN(armor_malformed);
    RUN(armor_reader_error_sticks);
    RUN(armor_bad_kind);
    RUN(armor_stream_errors);
    RUN(armor_detect);
}
