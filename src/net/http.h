/*
 * net/http.h: the little HTTP/1.1 (RFC 9110, 9112) a relay speaks to a
 * browser: it serves the web client's files, and upgrades a request on
 * FKEX_WEB_SOCKET_PATH to a WebSocket (RFC 6455, 4.2) that carries relay
 * frames (net/ws.h). One request per connection: every response but the
 * upgrade closes it.
 *
 * No sockets here (tests and fuzz/fuzz_http.c feed bytes). A request head
 * is at most FKEX_HTTP_HEAD_MAX bytes and FKEX_HTTP_HEADERS_MAX header
 * lines; the request line is "METHOD SP /path SP HTTP/1.1", header names
 * are tokens, values visible ASCII, spaces and tabs; no folded lines, no
 * body (a Content-Length other than 0 or a Transfer-Encoding is refused),
 * exactly one Host.
 */
#ifndef FKEX_NET_HTTP_H
#define FKEX_NET_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/error.h"

#define FKEX_HTTP_HEAD_MAX 8192
#define FKEX_HTTP_HEADERS_MAX 64
#define FKEX_HTTP_PATH_MAX 255
#define FKEX_WEB_SOCKET_PATH "/fkex"

typedef struct {
    char method[8];
    char path[FKEX_HTTP_PATH_MAX + 1];   /* the target, query removed */
    int upgrade;            /* Upgrade: websocket, and Connection names upgrade */
    int version13;          /* Sec-WebSocket-Version: 13 */
    char key[25];           /* Sec-WebSocket-Key: base64 of 16 bytes, or "" */
} fkex_http_request;

/* The length of the head in p (through its blank line), 0 if it has not
 * ended yet within FKEX_HTTP_HEAD_MAX bytes, or -1 if it cannot: too long.
 * The blank line is looked for from its last byte at index from on (3 for
 * a whole head; a reader that had n0 bytes without one gives n0: each
 * byte is looked at about once however the head arrives). */
long fkex_http_head_length(const uint8_t *p, size_t n, size_t from);
/* Parses a whole head (fkex_http_head_length bytes). FKEX_ERR_BAD_ENCODING
 * for anything but the form above. */
fkex_err fkex_http_parse(fkex_http_request *r, const uint8_t *head, size_t len) FKEX_WUR;

/* ---- the web client's files ---------------------------------------------- */
/* The regular files directly in one folder (names of letters, digits, '.',
 * '-' and '_', not beginning with '.'), read once when the relay starts:
 * nothing on disk is opened for a request, and no path leaves the folder. */
typedef struct {
    char name[64];
    const char *type;       /* its Content-Type, by its extension */
    uint8_t *bytes;
    size_t len;
} fkex_web_file;

typedef struct {
    fkex_web_file *files;
    size_t n;
} fkex_web_site;

#define FKEX_WEB_FILES_MAX 64
#define FKEX_WEB_BYTES_MAX (64u << 20)
/* Reads dir. FKEX_ERR_IO (it cannot be read, it holds no index.html, or
 * more than FKEX_WEB_FILES_MAX files or FKEX_WEB_BYTES_MAX bytes) with a
 * sentence in err; FKEX_ERR_NO_MEMORY. */
fkex_err fkex_web_site_load(fkex_web_site *site, const char *dir, char err[128]) FKEX_WUR;
void fkex_web_site_free(fkex_web_site *site);
/* The file a path names ("/" is index.html), or NULL. */
const fkex_web_file *fkex_web_site_find(const fkex_web_site *site, const char *path);

/* A response's head: status and reason, then the headers every response
 * carries (no caching, no sniffing, a content security policy that lets
 * the page load only its own scripts and WebAssembly, and connect only to
 * this server), extra (header lines, each ending CRLF) if not NULL, then
 * Content-Type and Content-Length if type is not NULL, and "Connection:
 * close". Its length, or 0 if it did not fit. */
size_t fkex_http_response_head(char *out, size_t cap, int status, const char *reason,
                               const char *extra, const char *type, size_t length);
/* The 101 response of a WebSocket upgrade for the client's key. */
size_t fkex_http_upgrade_head(char *out, size_t cap, const char *key);

#endif
