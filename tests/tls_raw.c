/*
 * tests/tls_raw.c: tests/tls_raw.h over OpenSSL's socket BIO.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include "codec/codec.h"
#include "net/tls.h"
#include "tls_raw.h"

static SSL_CTX *client_ctx(void)
{
    static SSL_CTX *ctx;
    if (!ctx && (ctx = SSL_CTX_new(TLS_client_method())) != NULL) {
        SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);   /* the pin is checked after the handshake */
        SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
        SSL_CTX_set1_sigalgs_list(ctx, FKEX_TLS_CLIENT_SIGALGS);   /* the key fkex clients get */
    }
    return ctx;
}

/* 0 if the server's key is the one pinned. */
static int pin_matches(SSL *ssl, const uint8_t pin[FKEX_PIN_BYTES])
{
    X509 *cert = SSL_get1_peer_certificate(ssl);
    unsigned char *der = NULL, got[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    int n = cert ? i2d_PUBKEY(X509_get0_pubkey(cert), &der) : -1;
    int ok = n > 0 && EVP_Digest(der, (size_t)n, got, &len, EVP_sha256(), NULL) == 1 &&
             len == FKEX_PIN_BYTES && memcmp(got, pin, FKEX_PIN_BYTES) == 0;
    OPENSSL_free(der);
    X509_free(cert);
    return ok ? 0 : -1;
}

int tls_raw_open(tls_raw *t, const char *endpoint, int src_host, unsigned timeout_ms)
{
    struct sockaddr_in sa = { .sin_family = AF_INET }, src = { .sin_family = AF_INET };
    struct timeval tv = { (time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000 };
    fkex_endpoint e;
    unsigned port = 0;
    SSL *ssl = NULL;
    t->fd = -1;
    t->ssl = NULL;
    if (fkex_endpoint_parse(&e, endpoint) != 0 || sscanf(e.hostport, "127.0.0.1:%u", &port) != 1)
        return -1;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    src.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)src_host);
    if ((t->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
        return -1;
    setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(t->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if ((src_host && bind(t->fd, (struct sockaddr *)&src, sizeof src) != 0) ||
        connect(t->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        goto fail;
    if (e.auth == FKEX_ENDPOINT_UNPINNED)
        return 0;
    if (!client_ctx() || !(ssl = SSL_new(client_ctx())) || SSL_set_fd(ssl, t->fd) != 1 ||
        SSL_connect(ssl) != 1 || (e.auth == FKEX_ENDPOINT_PIN && pin_matches(ssl, e.pin) != 0))
        goto fail;
    t->ssl = ssl;
    return 0;
fail:
    SSL_free(ssl);
    close(t->fd);
    t->fd = -1;
    return -1;
}

ssize_t tls_raw_send(tls_raw *t, const void *p, size_t n)
{
    size_t done = 0;
    if (t->fd < 0)
        return -1;
    if (!t->ssl) {
        while (done < n) {
            ssize_t w = send(t->fd, (const char *)p + done, n - done, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return -1;
            done += (size_t)w;
        }
        return (ssize_t)n;
    }
    ERR_clear_error();
    return SSL_write_ex(t->ssl, p, n, &done) == 1 && done == n ? (ssize_t)n : -1;
}

ssize_t tls_raw_recv(tls_raw *t, void *p, size_t cap, int dontwait)
{
    struct pollfd pf = { t->fd, POLLIN, 0 };
    size_t got = 0;
    if (t->fd < 0)
        return -1;
    if (dontwait && !(t->ssl && SSL_pending(t->ssl)) && poll(&pf, 1, 0) == 0)
        return -2;
    if (!t->ssl) {
        ssize_t r = recv(t->fd, p, cap, 0);
        return r >= 0 ? r : errno == EAGAIN || errno == EWOULDBLOCK ? -2 : -1;
    }
    ERR_clear_error();
    errno = 0;
    if (SSL_read_ex(t->ssl, p, cap, &got) == 1)
        return (ssize_t)got;
    switch (SSL_get_error(t->ssl, 0)) {
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_WANT_READ:
        return -2;
    case SSL_ERROR_SYSCALL:   /* the end without close_notify, a reset, or the timeout */
        return errno == 0 ? 0 : errno == EAGAIN || errno == EWOULDBLOCK ? -2 : -1;
    default:
        return -1;
    }
}

int tls_test_ca(const char *dir)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "set -e; rm -rf '%s'; mkdir -p '%s'; cd '%s'; umask 077;"
             "openssl req -x509 -newkey ed25519 -nodes -keyout ca.key -out ca.pem -days 2 "
             "-subj /CN=fkex-test-ca 2>/dev/null;"
             "openssl req -newkey ed25519 -nodes -keyout server.key -out server.csr "
             "-subj /CN=relay.fkex.test 2>/dev/null;"
             "printf 'subjectAltName=DNS:relay.fkex.test\\n' > ext;"
             "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out server.pem -days 2 -extfile ext 2>/dev/null;"
             "openssl genpkey -algorithm ed25519 -out other.key 2>/dev/null",
             dir, dir, dir);
    return system(cmd) == 0 ? 0 : -1;
}

void tls_raw_shutdown(tls_raw *t)
{
    if (t->ssl)
        (void)SSL_shutdown(t->ssl);
    if (t->fd >= 0)
        shutdown(t->fd, SHUT_WR);
}

void tls_raw_close(tls_raw *t)
{
    SSL_free(t->ssl);
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    t->ssl = NULL;
}
