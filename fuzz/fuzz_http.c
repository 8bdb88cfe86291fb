/*
 * fuzz/fuzz_http.c: HTTP request heads (net/http.h), what anyone can send
 * to a relay run with --web before anything else is said.
 *
 * Where fkex_http_head_length says a head ends, it ends with its first
 * blank line, within FKEX_HTTP_HEAD_MAX bytes, however the bytes came in
 * (two reads, the second look from where the first ended). A head fkex_http_parse
 * accepts has a method of capitals, a path that begins with '/' and holds
 * no space or control character, and a WebSocket key only as the RFC
 * writes one (24 characters of base64 ending "==").
 *
 * FKEX_FUZZ_SEEDS=DIR writes the seed corpus into DIR.
 */
#include <stdint.h>
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "net/http.h"
#include "seeds.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("FKEX_FUZZ_SEEDS");
    if (dir) {
        static const char *const heads[] = {
            "GET / HTTP/1.1\r\nHost: 127.0.0.1:7710\r\n\r\n",
            "HEAD /client.js?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
            ("GET /fkex HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"),
        };
        char name[32];
        for (size_t i = 0; i < FKEX_ARRAY_LEN(heads); i++) {
            snprintf(name, sizeof name, "head%zu", i);
            write_seed(dir, name, (const uint8_t *)heads[i], strlen(heads[i]));
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fkex_http_request r;
    long end = fkex_http_head_length(data, size, 3);
    /* Read in two pieces, the second look starting where the first ended. */
    size_t cut = size / 2;
    long first = fkex_http_head_length(data, cut, 3);
    if ((first > 0 && first != end) || (first == 0 && fkex_http_head_length(data, size, cut) != end))
        abort();
    if (end > 0) {
        if (end < 4 || end > FKEX_HTTP_HEAD_MAX || (size_t)end > size ||
            memcmp(data + end - 4, "\r\n\r\n", 4) != 0)
            abort();
        for (long i = 3; i < end - 1; i++)   /* the first blank line */
            if (memcmp(data + i - 3, "\r\n\r\n", 4) == 0)
                abort();
    }
    if (fkex_http_parse(&r, data, size) == FKEX_OK) {
        size_t m = strlen(r.method), k = strlen(r.key);
        if (m == 0 || strspn(r.method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != m || r.path[0] != '/')
            abort();
        for (const char *p = r.path; *p; p++)
            if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '?')
                abort();
        if (k && (k != 24 || strcmp(r.key + 22, "==") != 0))
            abort();
        if (fkex_http_head_length(data, size, 3) != (long)size)
            abort();
    }
    return 0;
}
