/*
 * fuzz/fuzz_ws.c: the WebSocket parser of src/net (net/ws.h), over what a
 * browser, or anyone on the relay's port, can send once upgraded.
 *
 * Input: u16 little-endian max_message, u64 seed for the cuts, then the
 * stream. Fed whole, one byte at a time, and in random cuts (empty feeds
 * included) through a sink that stops after every message, the parser
 * must give the same messages and control frames, in order, with the same
 * outcome and close status; no message may pass max_message, and no
 * control frame 125 bytes.
 *
 * FKEX_FUZZ_SEEDS=DIR writes the seed corpus into DIR.
 */
#include <stdint.h>
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "net/ws.h"
#include "seeds.h"

#define PREFIX 10

typedef struct {
    uint8_t digest[32];     /* of every (opcode, length, payload) so far */
    crypto_generichash_state h;
    size_t n, max;
    int stop_each;
} trace;

static int sink(void *ctx, int opcode, const uint8_t *p, size_t len)
{
    trace *t = ctx;
    uint8_t head[9] = { (uint8_t)opcode };
    if ((opcode == FKEX_WS_BINARY && len > t->max) || (opcode != FKEX_WS_BINARY && len > 125))
        abort();
    store64_be(head + 1, len);
    crypto_generichash_update(&t->h, head, sizeof head);
    crypto_generichash_update(&t->h, p, len);
    t->n++;
    return t->stop_each;
}

/* Runs the stream through a fresh parser in cuts of cut(i) bytes (0: all). */
static fkex_err run(trace *t, const uint8_t *s, size_t n, size_t max, uint64_t seed, int mode,
                    uint16_t *status)
{
    fkex_ws_parser p;
    fkex_err e = FKEX_OK;
    size_t at = 0;
    memset(t, 0, sizeof *t);
    t->max = max;
    t->stop_each = mode == 2;
    crypto_generichash_init(&t->h, NULL, 0, 32);
    fkex_ws_parser_init(&p, max);
    while (e == FKEX_OK && at < n) {
        size_t want = mode == 0 ? n - at : mode == 1 ? 1 : (size_t)(seed % 7), used = 0;
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        if (want > n - at)
            want = n - at;
        e = fkex_ws_parser_feed(&p, s + at, want, &used, sink, t);
        if (used > want || (e == FKEX_OK && !t->stop_each && used != want))
            abort();
        at += used;
    }
    *status = e == FKEX_ERR_BAD_ENCODING ? p.status : 0;
    crypto_generichash_final(&t->h, t->digest, 32);
    fkex_ws_parser_free(&p);
    return e;
}

static void seed_frames(const char *dir)
{
    static const uint8_t mask[4] = { 1, 2, 3, 4 };
    uint8_t s[600] = { 0x00, 0x04 }, *q = s + PREFIX;   /* max_message 1024 */
    q += fkex_ws_header(q, FKEX_WS_BINARY, 5, mask);
    memcpy(q, "Hello", 5), q += 5;
    q += fkex_ws_header(q, FKEX_WS_PING, 2, mask);
    memcpy(q, "hi", 2), q += 2;
    q += fkex_ws_header(q, FKEX_WS_BINARY, 300, mask);
    memset(q, 7, 300), q += 300;
    q += fkex_ws_header(q, FKEX_WS_CLOSE, 2, mask);
    memcpy(q, "\x03\xe8", 2), q += 2;
    write_seed(dir, "frames", s, (size_t)(q - s));
    q = s + PREFIX;
    q += fkex_ws_header(q, FKEX_WS_BINARY, 2, mask);
    s[PREFIX] &= 0x7f;   /* a first fragment */
    memcpy(q, "ab", 2), q += 2;
    q += fkex_ws_header(q, FKEX_WS_CONTINUATION, 1, mask);
    *q++ = 'c';
    write_seed(dir, "fragments", s, (size_t)(q - s));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    if (getenv("FKEX_FUZZ_SEEDS"))
        seed_frames(getenv("FKEX_FUZZ_SEEDS"));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    trace t[3];
    fkex_err e[3];
    uint16_t status[3];
    if (size < PREFIX)
        return 0;
    size_t max = (size_t)data[0] | (size_t)data[1] << 8;
    uint64_t seed = load64_be(data + 2);
    for (int mode = 0; mode < 3; mode++)
        e[mode] = run(&t[mode], data + PREFIX, size - PREFIX, max, seed, mode, &status[mode]);
    for (int mode = 1; mode < 3; mode++)
        if (e[mode] != e[0] || status[mode] != status[0] || t[mode].n != t[0].n ||
            memcmp(t[mode].digest, t[0].digest, 32) != 0)
            abort();
    return 0;
}
