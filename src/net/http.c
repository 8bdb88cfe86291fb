/*
 * net/http.c: request heads, the web client's files and response heads
 * (net/http.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "net/http.h"
#include "net/ws.h"

long fkex_http_head_length(const uint8_t *p, size_t n, size_t from)
{
    size_t lim = n < FKEX_HTTP_HEAD_MAX ? n : FKEX_HTTP_HEAD_MAX;
    for (size_t i = from > 3 ? from : 3; i < lim; i++)
        if (p[i - 3] == '\r' && p[i - 2] == '\n' && p[i - 1] == '\r' && p[i] == '\n')
            return (long)(i + 1);
    return n >= FKEX_HTTP_HEAD_MAX ? -1 : 0;
}

/* RFC 9110 5.6.2's tchar. */
static int is_tchar(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int name_is(const uint8_t *p, size_t n, const char *name)
{
    if (n != strlen(name))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(p[i]) != name[i])
            return 0;
    return 1;
}

/* 1 if the comma-separated list p[0..n) has token (case-insensitive). */
static int list_has(const uint8_t *p, size_t n, const char *token)
{
    size_t i = 0;
    while (i < n) {
        size_t a, b;
        while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == ','))
            i++;
        a = i;
        while (i < n && p[i] != ',')
            i++;
        b = i;
        while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t'))
            b--;
        if (b > a && name_is(p + a, b - a, token))
            return 1;
    }
    return 0;
}

/* A Sec-WebSocket-Key: 16 bytes in base64, 24 characters ending "==". */
static int key_ok(const uint8_t *p, size_t n)
{
    uint8_t bin[16];
    size_t binlen = 0;
    /* libsodium refuses non-zero bits past the 16 bytes: one text per key. */
    return n == 24 &&
           sodium_base642bin(bin, sizeof bin, (const char *)p, n, NULL, &binlen, NULL,
                             sodium_base64_VARIANT_ORIGINAL) == 0 &&
           binlen == 16;
}

fkex_err fkex_http_parse(fkex_http_request *r, const uint8_t *head, size_t len)
{
    size_t i = 0, m = 0, t, nheaders = 0;
    int has_upgrade = 0, conn_upgrade = 0, hosts = 0;
    memset(r, 0, sizeof *r);
    if (len < 4 || len > FKEX_HTTP_HEAD_MAX || memcmp(head + len - 4, "\r\n\r\n", 4) != 0)
        return FKEX_ERR_BAD_ENCODING;
    /* METHOD SP /target SP HTTP/1.1 CRLF */
    while (i < len && head[i] >= 'A' && head[i] <= 'Z' && m < sizeof r->method - 1)
        r->method[m++] = (char)head[i++];
    if (m == 0 || i >= len || head[i++] != ' ' || i >= len || head[i] != '/')
        return FKEX_ERR_BAD_ENCODING;
    for (t = 0; i < len && head[i] > ' ' && head[i] < 0x7f && head[i] != '?'; i++) {
        if (t == FKEX_HTTP_PATH_MAX)
            return FKEX_ERR_BAD_ENCODING;
        r->path[t++] = (char)head[i];
    }
    while (i < len && head[i] > ' ' && head[i] < 0x7f)   /* the query: not read */
        i++;
    if (len - i < 11 || memcmp(head + i, " HTTP/1.1\r\n", 11) != 0)
        return FKEX_ERR_BAD_ENCODING;
    r->path[t] = '\0';
    i += 11;
    /* name ":" OWS value OWS CRLF, until the blank line. */
    while (i + 1 < len && !(head[i] == '\r' && head[i + 1] == '\n')) {
        size_t n0 = i, v0, v1;
        if (++nheaders > FKEX_HTTP_HEADERS_MAX)
            return FKEX_ERR_BAD_ENCODING;
        while (i < len && is_tchar(head[i]))
            i++;
        if (i == n0 || i >= len || head[i] != ':')
            return FKEX_ERR_BAD_ENCODING;
        const uint8_t *name = head + n0;
        size_t nlen = i - n0;
        i++;
        while (i < len && (head[i] == ' ' || head[i] == '\t'))
            i++;
        v0 = i;
        while (i < len && (head[i] == '\t' || (head[i] >= ' ' && head[i] < 0x7f)))
            i++;
        if (i + 1 >= len || head[i] != '\r' || head[i + 1] != '\n')
            return FKEX_ERR_BAD_ENCODING;
        v1 = i;
        while (v1 > v0 && (head[v1 - 1] == ' ' || head[v1 - 1] == '\t'))
            v1--;
        i += 2;
        if (name_is(name, nlen, "host")) {
            hosts++;
        } else if (name_is(name, nlen, "upgrade")) {
            has_upgrade |= list_has(head + v0, v1 - v0, "websocket");
        } else if (name_is(name, nlen, "connection")) {
            conn_upgrade |= list_has(head + v0, v1 - v0, "upgrade");
        } else if (name_is(name, nlen, "sec-websocket-key")) {
            if (r->key[0] || !key_ok(head + v0, v1 - v0))
                return FKEX_ERR_BAD_ENCODING;
            memcpy(r->key, head + v0, 24);
        } else if (name_is(name, nlen, "sec-websocket-version")) {
            r->version13 = v1 - v0 == 2 && memcmp(head + v0, "13", 2) == 0;
        } else if (name_is(name, nlen, "content-length")) {
            if (v1 - v0 != 1 || head[v0] != '0')
                return FKEX_ERR_BAD_ENCODING;
        } else if (name_is(name, nlen, "transfer-encoding")) {
            return FKEX_ERR_BAD_ENCODING;
        }
    }
    if (i + 2 != len || hosts != 1)   /* RFC 9112 3.2: exactly one Host */
        return FKEX_ERR_BAD_ENCODING;
    r->upgrade = has_upgrade && conn_upgrade;
    return FKEX_OK;
}

/* ---- the web client's files ------------------------------------------------ */

static const char *type_of(const char *name)
{
    static const struct { const char *ext, *type; } types[] = {
        { ".html", "text/html; charset=utf-8" },
        { ".js", "text/javascript; charset=utf-8" },
        { ".css", "text/css; charset=utf-8" },
        { ".wasm", "application/wasm" },
        { ".json", "application/json" },
        { ".svg", "image/svg+xml" },
        { ".png", "image/png" },
        { ".ico", "image/x-icon" },
        { ".txt", "text/plain; charset=utf-8" },
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static int name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= sizeof ((fkex_web_file *)0)->name || name[0] == '.')
        return 0;
    return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == n;
}

static fkex_err io_err(fkex_web_site *site, char err[128], const char *fmt, const char *a,
                       const char *b)
{
    snprintf(err, 128, fmt, a, b);   /* fmt's %s have precisions */
    fkex_web_site_free(site);
    return FKEX_ERR_IO;
}

/* Reads dir/name (a regular file, at most max bytes) into f. */
static fkex_err read_file(fkex_web_file *f, int dirfd, const char *name, size_t max, char err[128])
{
    struct stat st;
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    size_t got = 0;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        snprintf(err, 128, "%.60s: %.60s", name,
                 fd < 0 ? strerror(errno) : "not a regular file, or too large");
        if (fd >= 0)
            close(fd);
        return FKEX_ERR_IO;
    }
    f->len = (size_t)st.st_size;
    if (!(f->bytes = malloc(f->len ? f->len : 1))) {
        close(fd);
        return FKEX_ERR_NO_MEMORY;
    }
    while (got < f->len) {
        ssize_t r = read(fd, f->bytes + got, f->len - got);
        if (r <= 0) {
            snprintf(err, 128, "%.60s: %.60s", name,
                     r < 0 ? strerror(errno) : "changed while read");
            close(fd);
            return FKEX_ERR_IO;
        }
        got += (size_t)r;
    }
    close(fd);
    snprintf(f->name, sizeof f->name, "%.63s", name);   /* name_ok: shorter than that */
    f->type = type_of(name);
    return FKEX_OK;
}

fkex_err fkex_web_site_load(fkex_web_site *site, const char *dir, char err[128])
{
    DIR *d;
    struct dirent *de;
    size_t total = 0;
    fkex_err e = FKEX_OK;
    memset(site, 0, sizeof *site);
    if (!(d = opendir(dir)))
        return io_err(site, err, "cannot read %.50s: %.50s", dir, strerror(errno));
    if (!(site->files = calloc(FKEX_WEB_FILES_MAX, sizeof *site->files))) {
        closedir(d);
        return FKEX_ERR_NO_MEMORY;
    }
    while (e == FKEX_OK && (de = readdir(d)) != NULL) {
        struct stat st;
        if (!name_ok(de->d_name) || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        if (site->n == FKEX_WEB_FILES_MAX) {
            closedir(d);
            return io_err(site, err, "%.80s holds more than %s files", dir, "64");
        }
        e = read_file(&site->files[site->n], dirfd(d), de->d_name, FKEX_WEB_BYTES_MAX - total, err);
        if (e == FKEX_OK)
            total += site->files[site->n++].len;
        else
            free(site->files[site->n].bytes);
    }
    closedir(d);
    if (e != FKEX_OK) {
        fkex_web_site_free(site);
        return e;
    }
    if (!fkex_web_site_find(site, "/"))
        return io_err(site, err, "%.40s has no index.html%s", dir,
                      " (make wasm builds the web client into build/wasm/web)");
    return FKEX_OK;
}

void fkex_web_site_free(fkex_web_site *site)
{
    for (size_t i = 0; i < site->n; i++)
        free(site->files[i].bytes);
    free(site->files);
    site->files = NULL;
    site->n = 0;
}

const fkex_web_file *fkex_web_site_find(const fkex_web_site *site, const char *path)
{
    if (path[0] != '/')
        return NULL;
    path = strcmp(path, "/") == 0 ? "index.html" : path + 1;
    for (size_t i = 0; i < site->n; i++)
        if (strcmp(site->files[i].name, path) == 0)
            return &site->files[i];
    return NULL;
}

size_t fkex_http_response_head(char *out, size_t cap, int status, const char *reason,
                               const char *extra, const char *type, size_t length)
{
    char content[160] = "";
    int n;
    if (type)
        snprintf(content, sizeof content, "Content-Type: %s\r\nContent-Length: %zu\r\n", type,
                 length);
    n = snprintf(out, cap,
                 "HTTP/1.1 %d %s\r\n"
                 "Cache-Control: no-store\r\n"
                 "X-Content-Type-Options: nosniff\r\n"
                 "Referrer-Policy: no-referrer\r\n"
                 "Content-Security-Policy: default-src 'none'; script-src 'self' "
                 "'wasm-unsafe-eval'; style-src 'self'; img-src 'self'; connect-src 'self'; "
                 "base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n"
                 "%s%sConnection: close\r\n\r\n",
                 status, reason, extra ? extra : "", content);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

size_t fkex_http_upgrade_head(char *out, size_t cap, const char *key)
{
    char accept[FKEX_WS_ACCEPT_LEN + 1];
    int n;
    fkex_ws_accept(accept, key, strlen(key));
    n = snprintf(out, cap,
                 "HTTP/1.1 101 Switching Protocols\r\n"
                 "Upgrade: websocket\r\n"
                 "Connection: Upgrade\r\n"
                 "Sec-WebSocket-Accept: %s\r\n\r\n",
                 accept);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}
