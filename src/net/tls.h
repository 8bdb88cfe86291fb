/*
 * net/tls.h: TLS 1.3 (OpenSSL 3) under the frames of net/net.h.
 *
 * A server has a key pair of its own, made on its first start (Ed25519,
 * PEM in a file of mode 0600) and a self-signed certificate made from it
 * in memory at each start: clients know the server by the SHA-256 of its
 * public key, the pin that invitations and tokens carry
 * ("PIN@HOST:PORT", codec.h). An operator may give a certificate chain
 * from a certificate authority instead; then clients that dial
 * "NAME@HOST:PORT" check the chain and the name as usual.
 *
 * A client context serves any number of connections; each connection
 * checks the server as its endpoint says (the pin, the name, or nothing
 * for an unpinned endpoint). A server that presents another key is
 * refused during the handshake, before anything is sent.
 *
 * Only TLS 1.3; no session tickets, no session cache, buffers released
 * while idle (SSL_MODE_RELEASE_BUFFERS): what an idle connection holds is
 * its keys and state (and a record it has begun to receive, until it is
 * whole: net.c times that out as a frame). No blocking call: the
 * connection's bytes go through a BIO of net.c's (tls_io below), never a
 * socket.
 *
 * A context is used on one thread at a time and freed after every
 * connection made with it.
 */
#ifndef FKEX_NET_TLS_H
#define FKEX_NET_TLS_H

#include <stddef.h>
#include <stdint.h>
#include "codec/codec.h"
#include "fkex/error.h"

typedef struct fkex_tls fkex_tls;

/* A server's context with the key in key_path, which is made if it does
 * not exist (*created says so): written whole to a temporary file of mode
 * 0600, then linked into place, so two servers starting at once share one
 * key. An existing file must not be readable by group or others.
 * Errors: FKEX_ERR_IO (with the file's name and why in err),
 * FKEX_ERR_BAD_ENCODING (not a private key), FKEX_ERR_NO_MEMORY. */
fkex_err fkex_tls_server_new(fkex_tls **t, const char *key_path, int *created,
                             char err[160]) FKEX_WUR;
/* A server's context with an operator's certificate chain (PEM: the
 * server's first) and its key. Errors as above, and FKEX_ERR_ARGUMENT if
 * the key is not the certificate's. */
fkex_err fkex_tls_server_cert_new(fkex_tls **t, const char *cert_path, const char *key_path,
                                  char err[160]) FKEX_WUR;
/* Browsers take no Ed25519 certificate: a server that serves them too
 * (relay --web) holds a second key, ECDSA P-256, made in key_path on
 * first use as the first one is, and a self-signed certificate for it.
 * OpenSSL presents the certificate the client's signature algorithms
 * prefer: fkex's clients put Ed25519 first (FKEX_TLS_CLIENT_SIGALGS), so
 * they get the key their pin names; a browser gets this one, whose pin
 * (fkex_tls_web_pin) is the relay's to print. Errors as
 * fkex_tls_server_new's (a file holding another kind of key:
 * FKEX_ERR_BAD_ENCODING). */
fkex_err fkex_tls_server_add_web_key(fkex_tls *t, const char *key_path, int *created,
                                     char err[160]) FKEX_WUR;
void fkex_tls_web_pin(const fkex_tls *t, uint8_t pin[FKEX_PIN_BYTES]);
#define FKEX_TLS_CLIENT_SIGALGS \
    "ed25519:ed448:ecdsa_secp256r1_sha256:ecdsa_secp384r1_sha384:ecdsa_secp521r1_sha512:" \
    "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:rsa_pss_pss_sha256:" \
    "rsa_pss_pss_sha384:rsa_pss_pss_sha512"
/* A client's context. Certificate authorities (for named endpoints) are
 * the system's, or those of $SSL_CERT_FILE / $SSL_CERT_DIR. */
fkex_err fkex_tls_client_new(fkex_tls **t, char err[160]) FKEX_WUR;
void fkex_tls_free(fkex_tls *t);
/* A server context's key pin. */
void fkex_tls_pin(const fkex_tls *t, uint8_t pin[FKEX_PIN_BYTES]);
/* The pin of the key in key_path (which must exist): what `fkex kms
 * token` writes into a token without starting a server. */
fkex_err fkex_tls_key_pin(uint8_t pin[FKEX_PIN_BYTES], const char *key_path, char err[160]) FKEX_WUR;

/* ---- one connection's TLS, for net.c ---------------------------------------
 * Bytes come in through tls_io.in (the read being handled) and go out
 * through tls_io.out, which net.c appends to what it will write. */
typedef struct {
    const uint8_t *in;                  /* ciphertext received, not yet taken */
    size_t inlen;
    int (*out)(void *ctx, const uint8_t *p, size_t n);   /* 0, or -1: no memory */
    void *ctx;
} tls_io;

typedef struct tls_conn tls_conn;
/* A server's side (endpoint NULL) or a client's, checking the server as
 * e says. NULL if out of memory. */
tls_conn *tls_conn_new(const fkex_tls *t, tls_io *io, const fkex_endpoint *e);
void tls_conn_free(tls_conn *tc);
/* Goes on with the handshake: 1 done, 0 waiting for the peer, -1 failed
 * (tls_conn_why says why). */
int tls_conn_handshake(tls_conn *tc);
/* Decrypts into buf: the bytes (> 0), 0 if a whole record has not come
 * yet, TLS_CLOSED if the peer ended the session (close_notify),
 * TLS_BROKEN if it broke it (tls_conn_why says how). */
#define TLS_CLOSED (-1)
#define TLS_BROKEN (-2)
long tls_conn_read(tls_conn *tc, uint8_t *buf, size_t cap);
/* Encrypts n bytes into io.out: 0, or -1 (tls_conn_why says why). */
int tls_conn_write(tls_conn *tc, const uint8_t *p, size_t n);
/* Says close_notify into io.out. */
void tls_conn_shutdown(tls_conn *tc);
/* Why the handshake or a read failed: one sentence. */
const char *tls_conn_why(const tls_conn *tc);

#endif
