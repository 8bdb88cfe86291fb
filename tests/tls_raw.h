/*
 * tests/tls_raw.h: a client that writes and reads the bytes of frames
 * itself, for the suites that play a client breaking the rules (abuse,
 * slow readers, squatters): over TLS 1.3 to an endpoint that pins a key,
 * the key checked as src/net checks it, or plain TCP to one that does not
 * (a relay run with --insecure-plaintext). Blocking sockets, every wait
 * bounded by the timeout given at open.
 */
#ifndef FKEX_TESTS_TLS_RAW_H
#define FKEX_TESTS_TLS_RAW_H

#include <stddef.h>
#include <sys/types.h>

typedef struct {
    int fd;
    void *ssl;           /* SSL *, NULL for plain TCP */
} tls_raw;

/* Connects to endpoint ("[PIN@]127.0.0.1:PORT"), from 127.0.0.src_host
 * if src_host is not 0, with send and receive timeouts of timeout_ms;
 * then the TLS handshake, if the endpoint pins a key. 0, or -1 (then
 * t->fd is -1). */
int tls_raw_open(tls_raw *t, const char *endpoint, int src_host, unsigned timeout_ms);
/* Sends all n bytes: n, or -1 (reset, or the timeout passed). */
ssize_t tls_raw_send(tls_raw *t, const void *p, size_t n);
/* Up to cap bytes: > 0; 0 at the end of the stream (close_notify, or the
 * connection's end); -1 on a reset or an error; -2 if nothing came (at
 * once with dontwait, else within the timeout). */
ssize_t tls_raw_recv(tls_raw *t, void *p, size_t cap, int dontwait);
/* Makes, with openssl(1), a certificate authority and a server certificate
 * for the name relay.fkex.test in dir (created): ca.pem, server.pem,
 * server.key, and other.key (a key no certificate is for), all Ed25519.
 * 0, or -1. */
int tls_test_ca(const char *dir);
/* Ends the sending side (close_notify with TLS, then FIN); reading goes on. */
void tls_raw_shutdown(tls_raw *t);
void tls_raw_close(tls_raw *t);

#endif
