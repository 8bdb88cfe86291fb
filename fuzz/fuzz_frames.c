/*
 * fuzz/fuzz_frames.c: the incremental frame parser of src/net, over hostile
 * bytes cut at hostile places.
 *
 * Input: u16 little-endian max_frame, u64 seed for the cuts, then the stream.
 * A reference parser, written here without state across feeds, walks the
 * whole stream: the frames it holds, then either a clean end, a partial
 * frame, or a header announcing more than max_frame. The real parser must
 * give exactly those frames, in order, with the same outcome, whether the
 * stream comes in one feed, one byte at a time, in random cuts (empty feeds
 * included), or through a sink that stops after every frame.
 *
 * FKEX_FUZZ_SEEDS=DIR writes the seed corpus into DIR.
 */
#include <stdint.h>
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "net/net.h"
#include "seeds.h"

#define PREFIX 10

typedef struct {
    const uint8_t *stream;
    size_t *off, *len;     /* the reference's frames */
    size_t nframes;
    size_t next;           /* the frame the sink expects */
    int stop_each;
} expect;

typedef enum { END_CLEAN, END_PARTIAL, END_TOO_LARGE } outcome;

static outcome reference(expect *e, const uint8_t *s, size_t n, size_t max_frame)
{
    size_t pos = 0;
    while (pos < n) {
        if (n - pos < 4)
            return END_PARTIAL;
        size_t len = load32_be(s + pos);
        if (len > max_frame)
            return END_TOO_LARGE;
        if (len > n - pos - 4)
            return END_PARTIAL;
        e->off[e->nframes] = pos + 4;
        e->len[e->nframes++] = len;
        pos += 4 + len;
    }
    return END_CLEAN;
}

static int check_frame(void *ctx, const uint8_t *frame, size_t len)
{
    expect *e = ctx;
    size_t i = e->next++;
    if (i >= e->nframes || len != e->len[i] || (len && memcmp(frame, e->stream + e->off[i], len) != 0))
        abort();
    return e->stop_each;
}

/* Feeds s in pieces from cut(); checks the frames and the outcome. */
static void run(expect *e, outcome want, const uint8_t *s, size_t n, size_t max_frame,
                size_t (*cut)(uint64_t *r, size_t left), uint64_t r, int stop_each)
{
    fkex_frame_parser p;
    fkex_err err = FKEX_OK;
    size_t off = 0, rounds = 0;
    e->next = 0;
    e->stop_each = stop_each;
    fkex_frame_parser_init(&p, max_frame);
    while (off < n && err == FKEX_OK) {
        size_t k = cut(&r, n - off), used;
        err = fkex_frame_parser_feed(&p, s + off, k, &used, check_frame, e);
        if (used > k || (err == FKEX_OK && !stop_each && used != k))
            abort();
        if (err == FKEX_OK && k > 0 && used == 0)
            abort();         /* every nonempty feed makes progress */
        off += used;
        if (k > 0 && ++rounds > n)
            abort();
    }
    if (e->next != e->nframes)
        abort();
    switch (want) {
    case END_CLEAN:
        if (err != FKEX_OK || fkex_frame_parser_partial(&p))
            abort();
        break;
    case END_PARTIAL:
        if (err != FKEX_OK || !fkex_frame_parser_partial(&p))
            abort();
        break;
    case END_TOO_LARGE:
        if (err != FKEX_ERR_BAD_ENCODING)
            abort();
        /* Sticky, and nothing more comes out. */
        if (fkex_frame_parser_feed(&p, s, n, NULL, check_frame, e) != FKEX_ERR_BAD_ENCODING)
            abort();
        break;
    }
    fkex_frame_parser_free(&p);
}

static size_t cut_all(uint64_t *r, size_t left) { (void)r; return left; }
static size_t cut_one(uint64_t *r, size_t left) { (void)r; return left ? 1 : 0; }

/* Mostly small pieces, some empty, some large. */
static size_t cut_random(uint64_t *r, size_t left)
{
    *r = *r * 6364136223846793005u + 1442695040888963407u;
    size_t k;
    switch (*r >> 62) {
    case 0: k = 0; break;
    case 1: k = 1 + (size_t)(*r >> 33) % 5; break;
    case 2: k = 1 + (size_t)(*r >> 33) % 64; break;
    default: k = 1 + (size_t)(*r >> 33) % 4096; break;
    }
    return k < left ? k : left;
}

static void seeds(const char *dir)
{
    static const struct {
        const char *name;
        size_t len;
        uint8_t bytes[48];
    } s[] = {
        { "empty", PREFIX, { 0x00, 0x01 } },
        { "one-zero-frame", PREFIX + 4, { 0x10, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0 } },
        { "three-frames", PREFIX + 4 + 1 + 4 + 0 + 4 + 5,
          { 0x10, 0x00, 9, 9, 9, 9, 9, 9, 9, 9, 0, 0, 0, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o' } },
        { "exactly-max", PREFIX + 4 + 3, { 0x03, 0x00, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 'x', 'y', 'z' } },
        { "too-large", PREFIX + 4 + 4 + 2, { 0x03, 0x00, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4, 0, 0 } },
        { "huge-header", PREFIX + 4, { 0xff, 0xff, 1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff } },
        { "partial-header", PREFIX + 4 + 2 + 2, { 0x40, 0x00, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 'o', 'k', 0, 0 } },
        { "partial-body", PREFIX + 4 + 3, { 0x40, 0x00, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 'a', 'b', 'c' } },
    };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(s); i++)
        write_seed(dir, s[i].name, s[i].bytes, s[i].len);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("FKEX_FUZZ_SEEDS");
    if (dir)
        seeds(dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < PREFIX)
        return 0;
    size_t max_frame = (size_t)data[0] | (size_t)data[1] << 8;
    uint64_t r = 0;
    for (int i = 0; i < 8; i++)
        r = r << 8 | data[2 + i];
    const uint8_t *s = data + PREFIX;
    size_t n = size - PREFIX;

    expect e;
    memset(&e, 0, sizeof e);
    e.stream = s;
    e.off = malloc((n / 4 + 1) * sizeof *e.off);    /* a frame takes at least 4 bytes */
    e.len = malloc((n / 4 + 1) * sizeof *e.len);
    outcome want = reference(&e, s, n, max_frame);

    run(&e, want, s, n, max_frame, cut_all, r, 0);
    run(&e, want, s, n, max_frame, cut_one, r, 0);
    run(&e, want, s, n, max_frame, cut_random, r, 0);
    run(&e, want, s, n, max_frame, cut_random, r ^ 0x9e3779b97f4a7c15u, 1);
    free(e.off);
    free(e.len);
    return 0;
}
