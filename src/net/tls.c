/*
 * net/tls.c: TLS 1.3 contexts, server keys and the check of a server's
 * key or name (net/tls.h), with OpenSSL 3.
 *
 * A connection's SSL reads and writes through a BIO of ours whose read
 * hands over the bytes of the read in progress (tls_io.in) and whose
 * write gives each record to net.c at once (tls_io.out): nothing is kept
 * in a BIO between reads, so an idle connection holds no buffer, and no
 * call blocks.
 *
 * Pins are RFC 7469's pin-sha256: SHA-256 of the DER SubjectPublicKeyInfo.
 * A client checks it in the certificate verification callback, so a
 * wrong key ends the handshake before the client has said anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libgen.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include "net/tls.h"

#define KEY_FILE_MAX (64 * 1024)
#define CERT_DAYS 36500   /* the self-signed certificate's dates are not checked: the pin is */

struct fkex_tls {
    SSL_CTX *ctx;
    BIO_METHOD *bio;
    uint8_t pin[FKEX_PIN_BYTES];   /* a server's */
    uint8_t web_pin[FKEX_PIN_BYTES];   /* ... and its browsers' key's (fkex_tls_server_add_web_key) */
};

struct tls_conn {
    SSL *ssl;
    tls_io *io;
    fkex_endpoint_auth auth;       /* a client's check */
    uint8_t pin[FKEX_PIN_BYTES];
    char why[160];
};

static void set_err(char err[160], const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(char err[160], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, 160, fmt, ap);
    va_end(ap);
}

/* OpenSSL's last reason, or "unknown reason". */
static const char *ssl_reason(void)
{
    unsigned long code = ERR_peek_last_error();
    const char *r = code ? ERR_reason_error_string(code) : NULL;
    return r ? r : "unknown reason";
}

/* ---- the BIO between an SSL and net.c --------------------------------------- */

static int bio_write(BIO *b, const char *p, size_t n, size_t *done)
{
    tls_conn *tc = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (tc->io->out(tc->io->ctx, (const uint8_t *)p, n) != 0)
        return 0;
    *done = n;
    return 1;
}

static int bio_read(BIO *b, char *p, size_t n, size_t *done)
{
    tls_conn *tc = BIO_get_data(b);
    tls_io *io = tc->io;
    BIO_clear_retry_flags(b);
    if (io->inlen == 0) {
        BIO_set_retry_read(b);    /* the next read of the socket brings more */
        *done = 0;
        return 0;
    }
    size_t k = n < io->inlen ? n : io->inlen;
    memcpy(p, io->in, k);
    io->in += k;
    io->inlen -= k;
    *done = k;
    return 1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

/* One BIO type index for the process (OpenSSL has few to give). */
static int bio_index;
static void bio_index_once(void) { bio_index = BIO_get_new_index(); }

static BIO_METHOD *bio_method(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    BIO_METHOD *m;
    pthread_once(&once, bio_index_once);
    if (bio_index == -1 || !(m = BIO_meth_new(bio_index | BIO_TYPE_SOURCE_SINK, "fkex net")))
        return NULL;
    if (!BIO_meth_set_write_ex(m, bio_write) || !BIO_meth_set_read_ex(m, bio_read) ||
        !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create)) {
        BIO_meth_free(m);
        return NULL;
    }
    return m;
}

/* ---- pins and the client's check --------------------------------------------- */

static int key_pin(uint8_t pin[FKEX_PIN_BYTES], EVP_PKEY *pk)
{
    unsigned char *der = NULL;
    unsigned int len = 0;
    int n = pk ? i2d_PUBKEY(pk, &der) : -1;
    int ok = n > 0 && EVP_Digest(der, (size_t)n, pin, &len, EVP_sha256(), NULL) == 1 &&
             len == FKEX_PIN_BYTES;
    OPENSSL_free(der);
    return ok ? 0 : -1;
}

/* Replaces OpenSSL's chain verification (SSL_CTX_set_cert_verify_callback):
 * 1 to go on with the handshake, 0 to end it with an alert. */
static int verify_server(X509_STORE_CTX *x, void *arg)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
    tls_conn *tc = SSL_get_app_data(ssl);
    X509 *leaf = X509_STORE_CTX_get0_cert(x);
    uint8_t got[FKEX_PIN_BYTES];
    char want_text[FKEX_PIN_TEXT_LEN + 1], got_text[FKEX_PIN_TEXT_LEN + 1];
    (void)arg;
    switch (tc->auth) {
    case FKEX_ENDPOINT_UNPINNED:
        return 1;    /* an old invitation: its reader has warned */
    case FKEX_ENDPOINT_NAME:
        if (X509_verify_cert(x) == 1)
            return 1;
        snprintf(tc->why, sizeof tc->why, "the server's certificate does not verify: %s",
                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(x)));
        return 0;
    case FKEX_ENDPOINT_PIN:
        break;
    }
    if (!leaf || key_pin(got, X509_get0_pubkey(leaf)) != 0) {
        snprintf(tc->why, sizeof tc->why, "the server presented no key that can be pinned");
        X509_STORE_CTX_set_error(x, X509_V_ERR_CERT_REJECTED);
        return 0;
    }
    if (memcmp(got, tc->pin, FKEX_PIN_BYTES) == 0)
        return 1;
    X509_STORE_CTX_set_error(x, X509_V_ERR_CERT_REJECTED);
    fkex_pin_text(got_text, got);
    fkex_pin_text(want_text, tc->pin);
    snprintf(tc->why, sizeof tc->why, "the server's key (pin %.10s...) is not the one pinned "
             "(%.10s...)", got_text, want_text);
    return 0;
}

/* ---- contexts ----------------------------------------------------------------- */

void fkex_tls_free(fkex_tls *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    BIO_meth_free(t->bio);
    free(t);
}

static fkex_err ctx_new(fkex_tls **out, int server, char err[160])
{
    fkex_tls *t = calloc(1, sizeof *t);
    *out = NULL;
    if (!t || !(t->bio = bio_method()) ||
        !(t->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method())) ||
        !SSL_CTX_set_min_proto_version(t->ctx, TLS1_3_VERSION) ||
        !SSL_CTX_set_max_proto_version(t->ctx, TLS1_3_VERSION)) {
        fkex_tls_free(t);
        set_err(err, "cannot set up TLS: %s", ssl_reason());
        return FKEX_ERR_NO_MEMORY;
    }
    SSL_CTX_set_mode(t->ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(t->ctx, SSL_OP_NO_TICKET);
    if (server) {
        SSL_CTX_set_num_tickets(t->ctx, 0);
    } else {
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
        /* Ed25519 first: a server that also holds a key for browsers
         * (fkex_tls_server_add_web_key) presents the one its pin names. */
        if (!SSL_CTX_set1_sigalgs_list(t->ctx, FKEX_TLS_CLIENT_SIGALGS)) {
            fkex_tls_free(t);
            set_err(err, "cannot set up TLS: %s", ssl_reason());
            return FKEX_ERR_NO_MEMORY;
        }
        SSL_CTX_set_cert_verify_callback(t->ctx, verify_server, NULL);
        (void)SSL_CTX_set_default_verify_paths(t->ctx);   /* none installed: named endpoints fail */
    }
    *out = t;
    return FKEX_OK;
}

fkex_err fkex_tls_client_new(fkex_tls **t, char err[160])
{
    return ctx_new(t, 0, err);
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* The private key in path, which only this user owns and may read. The
 * file's bytes are read into memory that is cleared when freed. */
static fkex_err key_read(EVP_PKEY **pk, const char *path, char err[160])
{
    struct stat st;
    char *pem = NULL;
    size_t got = 0;
    BIO *b = NULL;
    *pk = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        set_err(err, "cannot open %.100s: %s", path, strerror(errno));
        return FKEX_ERR_IO;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > KEY_FILE_MAX) {
        close(fd);
        set_err(err, "%.100s is not a key file", path);
        return FKEX_ERR_BAD_ENCODING;
    }
    if (st.st_uid != geteuid() || (st.st_mode & 077)) {
        close(fd);
        if (st.st_uid != geteuid())
            set_err(err, "%.100s belongs to another user", path);
        else
            set_err(err, "%.100s can be read by others (mode %03o): chmod 600 it", path,
                    (unsigned)(st.st_mode & 0777));
        return FKEX_ERR_IO;
    }
    if (!(pem = OPENSSL_malloc((size_t)st.st_size + 1))) {
        close(fd);
        set_err(err, "out of memory");
        return FKEX_ERR_NO_MEMORY;
    }
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, pem + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    ERR_clear_error();
    if (got == (size_t)st.st_size && (b = BIO_new_mem_buf(pem, (int)got)) != NULL)
        *pk = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
    BIO_free(b);
    OPENSSL_clear_free(pem, (size_t)st.st_size + 1);
    if (!*pk) {
        set_err(err, "%.100s holds no private key that can be read without a passphrase", path);
        return FKEX_ERR_BAD_ENCODING;
    }
    return FKEX_OK;
}

/* Makes a link durable: its directory synced. */
static void sync_dir_of(const char *path)
{
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* A new key in path (Ed25519, or ECDSA P-256 if ecdsa), unless one is
 * there already: written to a temporary file of mode 0600 and linked into
 * place, never over a file, then its directory synced (a key lost in a
 * crash would be replaced by another, and every pin given out would
 * refuse the server). */
static fkex_err key_create(const char *path, int ecdsa, int *created, char err[160])
{
    char tmp[4096];
    char *pem = NULL;
    long len;
    int fd = -1, ok = 0;
    EVP_PKEY *pk = ecdsa ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                         : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    BIO *m = BIO_new(BIO_s_secmem());
    *created = 0;
    if (snprintf(tmp, sizeof tmp, "%s.new-XXXXXX", path) >= (int)sizeof tmp) {
        set_err(err, "%.100s: the path is too long", path);
        goto out;
    }
    if (!pk || !m || !PEM_write_bio_PKCS8PrivateKey(m, pk, NULL, NULL, 0, NULL, NULL) ||
        (len = BIO_get_mem_data(m, &pem)) <= 0) {
        set_err(err, "cannot make a key: %s", ssl_reason());
        goto out;
    }
    if ((fd = mkstemp(tmp)) < 0) {   /* mode 0600 */
        set_err(err, "cannot create a key beside %.100s: %s", path, strerror(errno));
        goto out;
    }
    ok = write(fd, pem, (size_t)len) == len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok) {
        set_err(err, "cannot write %.100s: %s", tmp, strerror(errno));
    } else if (link(tmp, path) == 0) {
        *created = 1;
        sync_dir_of(path);
    } else if (errno != EEXIST) {   /* another server made it first: that one is the key */
        set_err(err, "cannot create %.100s: %s", path, strerror(errno));
        ok = 0;
    }
    unlink(tmp);
out:
    BIO_free(m);    /* a BIO_s_secmem: its memory is cleared when freed */
    EVP_PKEY_free(pk);
    return ok ? FKEX_OK : FKEX_ERR_IO;
}

/* A certificate for pk signed by pk (Ed25519 signs without a digest). */
static X509 *self_signed(EVP_PKEY *pk)
{
    X509 *x = X509_new();
    X509_NAME *name = x ? X509_get_subject_name(x) : NULL;
    const EVP_MD *md = EVP_PKEY_is_a(pk, "ED25519") || EVP_PKEY_is_a(pk, "ED448") ? NULL
                                                                                   : EVP_sha256();
    if (!name || !X509_set_version(x, X509_VERSION_3) ||
        !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), CERT_DAYS, 0, NULL) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"fkex", -1, -1,
                                    0) ||
        !X509_set_issuer_name(x, name) || !X509_set_pubkey(x, pk) || !X509_sign(x, pk, md)) {
        X509_free(x);
        return NULL;
    }
    return x;
}

fkex_err fkex_tls_server_new(fkex_tls **out, const char *key_path, int *created, char err[160])
{
    EVP_PKEY *pk = NULL;
    X509 *cert = NULL;
    fkex_tls *t;
    fkex_err e;
    *out = NULL;
    *created = 0;
    if (access(key_path, F_OK) != 0 && (e = key_create(key_path, 0, created, err)) != FKEX_OK)
        return e;
    if ((e = key_read(&pk, key_path, err)) != FKEX_OK)
        return e;
    if ((e = ctx_new(&t, 1, err)) != FKEX_OK) {
        EVP_PKEY_free(pk);
        return e;
    }
    if (!(cert = self_signed(pk)) || SSL_CTX_use_certificate(t->ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey(t->ctx, pk) != 1 || key_pin(t->pin, pk) != 0) {
        set_err(err, "cannot use the key in %.100s: %s", key_path, ssl_reason());
        e = FKEX_ERR_BAD_ENCODING;
    }
    X509_free(cert);
    EVP_PKEY_free(pk);
    if (e != FKEX_OK) {
        fkex_tls_free(t);
        return e;
    }
    *out = t;
    return FKEX_OK;
}

fkex_err fkex_tls_server_cert_new(fkex_tls **out, const char *cert_path, const char *key_path,
                                  char err[160])
{
    EVP_PKEY *pk = NULL;
    fkex_tls *t;
    fkex_err e;
    *out = NULL;
    if ((e = key_read(&pk, key_path, err)) != FKEX_OK)
        return e;
    if ((e = ctx_new(&t, 1, err)) != FKEX_OK) {
        EVP_PKEY_free(pk);
        return e;
    }
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(t->ctx, cert_path) != 1) {
        set_err(err, "cannot read a certificate chain from %.100s: %s", cert_path, ssl_reason());
        e = FKEX_ERR_BAD_ENCODING;
    } else if (SSL_CTX_use_PrivateKey(t->ctx, pk) != 1 || SSL_CTX_check_private_key(t->ctx) != 1) {
        set_err(err, "the key in %.100s is not the one of the certificate in %.100s", key_path,
                cert_path);
        e = FKEX_ERR_ARGUMENT;
    } else if (key_pin(t->pin, pk) != 0) {
        set_err(err, "cannot use the key in %.100s: %s", key_path, ssl_reason());
        e = FKEX_ERR_BAD_ENCODING;
    }
    EVP_PKEY_free(pk);
    if (e != FKEX_OK) {
        fkex_tls_free(t);
        return e;
    }
    *out = t;
    return FKEX_OK;
}

fkex_err fkex_tls_server_add_web_key(fkex_tls *t, const char *key_path, int *created,
                                     char err[160])
{
    EVP_PKEY *pk = NULL;
    X509 *cert = NULL;
    fkex_err e;
    *created = 0;
    if (access(key_path, F_OK) != 0 && (e = key_create(key_path, 1, created, err)) != FKEX_OK)
        return e;
    if ((e = key_read(&pk, key_path, err)) != FKEX_OK)
        return e;
    if (!EVP_PKEY_is_a(pk, "EC")) {
        set_err(err, "%.100s is not an ECDSA key (browsers take no Ed25519 certificate)", key_path);
        e = FKEX_ERR_BAD_ENCODING;
    } else if (!(cert = self_signed(pk)) || SSL_CTX_use_certificate(t->ctx, cert) != 1 ||
               SSL_CTX_use_PrivateKey(t->ctx, pk) != 1 || key_pin(t->web_pin, pk) != 0) {
        set_err(err, "cannot use the key in %.100s: %s", key_path, ssl_reason());
        e = FKEX_ERR_BAD_ENCODING;
    }
    X509_free(cert);
    EVP_PKEY_free(pk);
    return e;
}

void fkex_tls_web_pin(const fkex_tls *t, uint8_t pin[FKEX_PIN_BYTES])
{
    memcpy(pin, t->web_pin, FKEX_PIN_BYTES);
}

void fkex_tls_pin(const fkex_tls *t, uint8_t pin[FKEX_PIN_BYTES])
{
    memcpy(pin, t->pin, FKEX_PIN_BYTES);
}

fkex_err fkex_tls_key_pin(uint8_t pin[FKEX_PIN_BYTES], const char *key_path, char err[160])
{
    EVP_PKEY *pk;
    fkex_err e = key_read(&pk, key_path, err);
    if (e != FKEX_OK)
        return e;
    if (key_pin(pin, pk) != 0) {
        set_err(err, "cannot use the key in %.100s: %s", key_path, ssl_reason());
        e = FKEX_ERR_BAD_ENCODING;
    }
    EVP_PKEY_free(pk);
    return e;
}

/* ---- connections -------------------------------------------------------------- */

tls_conn *tls_conn_new(const fkex_tls *t, tls_io *io, const fkex_endpoint *e)
{
    tls_conn *tc = calloc(1, sizeof *tc);
    BIO *b = NULL;
    if (!tc || !(tc->ssl = SSL_new(t->ctx)) || !(b = BIO_new(t->bio)))
        goto fail;
    tc->io = io;
    BIO_set_data(b, tc);
    SSL_set_bio(tc->ssl, b, b);    /* the SSL owns b now */
    b = NULL;
    SSL_set_app_data(tc->ssl, tc);
    if (!e) {
        SSL_set_accept_state(tc->ssl);
        return tc;
    }
    SSL_set_connect_state(tc->ssl);
    tc->auth = e->auth;
    memcpy(tc->pin, e->pin, FKEX_PIN_BYTES);
    if (e->auth == FKEX_ENDPOINT_NAME &&
        (!SSL_set_tlsext_host_name(tc->ssl, e->name) || !SSL_set1_host(tc->ssl, e->name)))
        goto fail;
    return tc;
fail:
    BIO_free(b);
    tls_conn_free(tc);
    return NULL;
}

void tls_conn_free(tls_conn *tc)
{
    if (!tc)
        return;
    SSL_free(tc->ssl);
    free(tc);
}

/* The first failure's sentence wins (the verify callback's, say). */
static void failed(tls_conn *tc, const char *what)
{
    if (!tc->why[0])
        snprintf(tc->why, sizeof tc->why, "%s: %s", what, ssl_reason());
}

int tls_conn_handshake(tls_conn *tc)
{
    ERR_clear_error();
    int r = SSL_do_handshake(tc->ssl);
    if (r == 1)
        return 1;
    if (SSL_get_error(tc->ssl, r) == SSL_ERROR_WANT_READ)
        return 0;
    failed(tc, "TLS handshake failed");
    return -1;
}

long tls_conn_read(tls_conn *tc, uint8_t *buf, size_t cap)
{
    size_t n = 0;
    ERR_clear_error();
    int r = SSL_read_ex(tc->ssl, buf, cap, &n);
    if (r == 1)
        return (long)n;
    switch (SSL_get_error(tc->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        return 0;
    case SSL_ERROR_ZERO_RETURN:
        snprintf(tc->why, sizeof tc->why, "connection closed by peer");
        return TLS_CLOSED;
    default:
        failed(tc, "TLS failed");
        return TLS_BROKEN;
    }
}

int tls_conn_write(tls_conn *tc, const uint8_t *p, size_t n)
{
    size_t done = 0;
    if (n == 0)
        return 0;
    ERR_clear_error();
    if (SSL_write_ex(tc->ssl, p, n, &done) == 1 && done == n)
        return 0;
    failed(tc, "TLS failed");
    return -1;
}

void tls_conn_shutdown(tls_conn *tc)
{
    ERR_clear_error();
    (void)SSL_shutdown(tc->ssl);
}

const char *tls_conn_why(const tls_conn *tc)
{
    return tc->why[0] ? tc->why : "TLS failed";
}
