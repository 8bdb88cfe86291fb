/*
 * cli/kms.c: `fkex kms init|token|serve`, the key authority.
 *
 * DIR holds kms.sealed (the master key and the enrolment key, sealed with
 * a passphrase, mode 0600), mpk.fkex (public parameters) and kms.db
 * (tokens, audit, settings; mode 0600).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "cli/cli.h"
#include "cli/attrs.h"
#include "kms/kms.h"
#include "net/net.h"

#define DEFAULT_ADDR "127.0.0.1:7700"
#define PASS_MAX 1024
#define PASS_MIN 12   /* bytes of a new authority's passphrase, at least */

static void usage(FILE *f)
{
    fprintf(f, "usage: fkex kms init  --dir DIR [--address HOST:PORT] [--scheme fame|waters11]\n"
               "       fkex kms token --dir DIR --attrs \"ONE TWO year=5\" [--expires 7d]\n"
               "                      [--key-expires YYYY-MM] [--address HOST:PORT]\n"
               "       fkex kms serve --dir DIR [--listen 127.0.0.1:7700] [--tls-key FILE\n"
               "                      [--tls-cert FILE]] [--insecure-plaintext] [-v]\n\n"
               "The key authority. `init` creates it in DIR; `token` prints a one-time\n"
               "enrolment token for a set of attributes; `serve` answers enrolments\n"
               "(`fkex enroll TOKEN`). `fkex kms COMMAND --help` explains each.\n\n"
               "The master key is sealed with a passphrase (Argon2id): it is read from\n"
               "the environment variable FKEX_PASSPHRASE, from the systemd credential\n"
               "fkex-passphrase ($CREDENTIALS_DIRECTORY), or asked for on the terminal.\n");
}

static void usage_init(FILE *f)
{
    fprintf(f, "usage: fkex kms init --dir DIR [--address HOST:PORT] [--scheme fame|waters11]\n\n"
               "Creates an authority in DIR (created mode 0700 if missing):\n"
               "  DIR/kms.sealed  master key and enrolment key, sealed with the passphrase (0600)\n"
               "  DIR/mpk.fkex    public parameters (CP-ABE and identity-based): give them\n"
               "                  to everyone who encrypts\n"
               "  DIR/kms.db      tokens (hashed) and the audit of issued keys (0600)\n"
               "  DIR/tls.key     the TLS key of `kms serve` (0600), which tokens pin\n"
               "Nothing is ever overwritten.\n\n"
               "  -d, --dir DIR            where the authority lives\n"
               "  -A, --address HOST:PORT  where `kms serve` will be reached; tokens name it\n"
               "                           (default " DEFAULT_ADDR ") with the pin of\n"
               "                           DIR/tls.key; NAME@HOST:PORT instead names the\n"
               "                           server for a certificate authority (serve\n"
               "                           --tls-cert)\n"
               "  -s, --scheme NAME        the CP-ABE scheme: fame (Agrawal-Chase 2017, fully\n"
               "                           secure; the default) or waters11 (Waters 2011)\n");
}

static void usage_token(FILE *f)
{
    fprintf(f, "usage: fkex kms token --dir DIR --attrs LIST [--identity ID] [--expires 7d]\n"
               "                      [--key-expires YYYY-MM] [--address HOST:PORT]\n"
               "       fkex kms token --dir DIR --identity ID [--expires 7d] ...\n\n"
               "Prints a one-time enrolment token: whoever runs `fkex enroll TOKEN` gets a\n"
               "key for these attributes and/or this identity, once. The token names the\n"
               "authority's address, pins its TLS key (DIR/tls.key, made if missing) and its\n"
               "enrolment key; it is a secret until used.\n"
               "The authority's database keeps what it grants, MACed with a key sealed\n"
               "under the passphrase (asked as kms serve asks it; FKEX_PASSPHRASE is\n"
               "read too), so a row written into kms.db any other way is no token. Its\n"
               "audit table keeps what each token issued.\n\n"
               "  -d, --dir DIR            the authority\n"
               "  -t, --attrs LIST         attributes, separated by spaces or commas\n"
               "  -i, --identity ID        the identity-based key for ID (fkex ibe decrypt),\n"
               "                           normalised: trimmed, ASCII letters lower-cased\n"
               "  -e, --expires TIME       how long the token may be used: 30s, 15m, 12h,\n"
               "                           7d (default 7d)\n"
               "  -k, --key-expires MONTH  the key carries expires=YYYYMM (as keygen --expires)\n"
               "  -A, --address HOST:PORT  the address to name (default: the one from init)\n");
}

static void usage_serve(FILE *f)
{
    fprintf(f, "usage: fkex kms serve --dir DIR [--listen 127.0.0.1:7700] [--tls-key FILE\n"
               "                      [--tls-cert FILE]] [--insecure-plaintext] [-v]\n\n"
               "Answers enrolments over TLS 1.3 until SIGTERM or SIGINT. Prints \"listening on\n"
               "PIN@HOST:PORT\" once ready (--listen HOST:0 picks a free port), PIN the\n"
               "SHA-256 of its TLS key, which tokens pin. Does not fork; -v logs one line\n"
               "per request to stderr (token id and result, never a secret).\n\n"
               "  -d, --dir DIR          the authority\n"
               "  -l, --listen HOST:PORT where to listen (default " DEFAULT_ADDR ")\n"
               "      --tls-key FILE     the TLS key (default DIR/tls.key, made if missing)\n"
               "      --tls-cert FILE    a certificate chain for --tls-key from a certificate\n"
               "                         authority (PEM), for tokens that name the server\n"
               "      --insecure-plaintext\n"
               "                         plain TCP instead of TLS, for benchmarks and\n"
               "                         debugging: anyone on the path sees who enrols when,\n"
               "                         and can cut the exchange (which stays sealed end to\n"
               "                         end); `fkex enroll` must say --insecure-plaintext too\n"
               "  -v, --verbose          log to stderr\n");
}

static char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (!p) {
        cli_error("out of memory");
        return NULL;
    }
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* ---- the passphrase ------------------------------------------------------- */

/* Asks on the terminal, without echo. 0, or -1 with an error printed. */
static int ask(char *buf, size_t cap, const char *prompt)
{
    FILE *tty = fopen("/dev/tty", "r+");
    struct termios old, quiet;
    int rc = -1;
    if (!tty) {
        cli_error("no passphrase: FKEX_PASSPHRASE is not set and there is no terminal to ask on");
        cli_hint("set FKEX_PASSPHRASE in the environment of this command");
        return -1;
    }
    fputs(prompt, tty);
    fflush(tty);
    int echo_off = tcgetattr(fileno(tty), &old) == 0;
    if (echo_off) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
    }
    if (fgets(buf, (int)cap, tty)) {
        size_t n = strlen(buf);
        if (n > 0 && buf[n - 1] == '\n')
            buf[--n] = '\0';
        rc = 0;
    } else {
        cli_error("no passphrase given");
    }
    if (echo_off)
        tcsetattr(fileno(tty), TCSAFLUSH, &old);
    fputc('\n', tty);
    fclose(tty);
    return rc;
}

/* The systemd credential "fkex-passphrase" (LoadCredential=, which puts it
 * in $CREDENTIALS_DIRECTORY: packaging/systemd/fkex-kms.service), one line.
 * 1 if there is one and buf has it, 0 if there is none, -1 on an error. */
static int credential(char *buf, size_t cap)
{
    const char *dir = getenv("CREDENTIALS_DIRECTORY");
    char path[4096];
    FILE *f;
    size_t n;
    if (!dir || (size_t)snprintf(path, sizeof path, "%s/fkex-passphrase", dir) >= sizeof path ||
        !(f = fopen(path, "r")))
        return 0;
    n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    if (!feof(f) || ferror(f)) {
        fclose(f);
        sodium_memzero(buf, cap);
        cli_error("the credential %s cannot be read, or is longer than %zu bytes", path, cap - 2);
        return -1;
    }
    fclose(f);
    return 1;
}

/* buf is sodium_malloc'd by the caller. confirm: ask twice (init). */
static int passphrase(char *buf, size_t cap, int confirm)
{
    const char *env = getenv("FKEX_PASSPHRASE");
    int cred = env ? 0 : credential(buf, cap);
    if (cred < 0)
        return -1;
    if (env) {
        if (strlen(env) >= cap) {
            cli_error("FKEX_PASSPHRASE is longer than %zu bytes", cap - 1);
            return -1;
        }
        strcpy(buf, env);
        /* Not left for /proc/PID/environ for the daemon's whole life. */
        sodium_memzero((char *)env, strlen(env));
        unsetenv("FKEX_PASSPHRASE");
    } else if (!cred) {
        if (ask(buf, cap, "passphrase for the authority's master key: ") != 0)
            return -1;
        if (confirm) {
            char *again = sodium_malloc(cap);
            int same;
            if (!again) {
                cli_error("out of memory");
                return -1;
            }
            if (ask(again, cap, "again: ") != 0) {
                sodium_free(again);
                return -1;
            }
            same = strcmp(buf, again) == 0;
            sodium_free(again);
            if (!same) {
                cli_error("the two passphrases differ");
                return -1;
            }
        }
    }
    if (buf[0] == '\0') {
        cli_error("the passphrase is empty");
        cli_hint("the master key is sealed with it: choose a long one");
        return -1;
    }
    /* A new authority's: Argon2id slows a guesser down, it cannot make a
     * short passphrase long. */
    if (confirm && strlen(buf) < PASS_MIN) {
        cli_error("the passphrase has %zu characters: the master key is sealed with it, so it "
                  "takes at least %d", strlen(buf), PASS_MIN);
        cli_hint("a few unrelated words make a long one that is easy to remember");
        return -1;
    }
    return 0;
}

/* ---- files ------------------------------------------------------------------ */

static int write_new(const char *path, const uint8_t *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    size_t off = 0;
    if (fd < 0) {
        cli_error("cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    if (off != len || fsync(fd) != 0 || close(fd) != 0) {
        cli_error("cannot write %s: %s", path, strerror(errno));
        if (off != len)
            close(fd);
        unlink(path);
        return -1;
    }
    return 0;
}

/* Reads a secret file, refusing one that others may read. */
static int read_secret_file(uint8_t **data, size_t *len, const char *path)
{
    struct stat st;
    int fd = open(path, O_RDONLY);
    uint8_t *buf = NULL;
    size_t off = 0;
    *data = NULL;
    *len = 0;
    if (fd < 0) {
        cli_error("cannot open %s: %s", path, strerror(errno));
        if (errno == ENOENT)
            cli_hint("create the authority first: fkex kms init --dir DIR");
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        cli_error("%s is not a regular file", path);
        close(fd);
        return -1;
    }
    if (st.st_mode & 077) {
        cli_error("%s is readable by other users (mode %03o): refusing to use it", path,
                  (unsigned)(st.st_mode & 0777));
        cli_hint("chmod 600 %s", path);
        close(fd);
        return -1;
    }
    if ((size_t)st.st_size > FKEX_SEALED_MAX + 4096 || !(buf = malloc((size_t)st.st_size + 1))) {
        cli_error("%s: %s", path, st.st_size > 0 && buf == NULL && (size_t)st.st_size <= FKEX_SEALED_MAX + 4096
                                      ? "out of memory" : "too large to be a sealed key");
        close(fd);
        return -1;
    }
    while (off < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    close(fd);
    if (off != (size_t)st.st_size) {
        cli_error("cannot read %s", path);
        free(buf);
        return -1;
    }
    *data = buf;
    *len = off;
    return 0;
}

static int open_store(fkex_kms_store **st, const char *dir, int create)
{
    char *path = path_in(dir, "kms.db"), msg[128];
    fkex_err err;
    if (!path)
        return -1;
    if (!create && access(path, F_OK) != 0) {
        cli_error("%s does not exist", path);
        cli_hint("create the authority first: fkex kms init --dir %s", dir);
        free(path);
        return -1;
    }
    err = fkex_store_open(st, path, create, msg);
    free(path);
    if (err != FKEX_OK) {
        cli_error("%s", msg[0] ? msg : fkex_strerror(err));
        return -1;
    }
    return 0;
}

/* ---- the authority's address and TLS key ---------------------------------------- */

/* 0 if addr is an address for tokens ([NAME@]HOST:PORT); else says why. */
static int address_check(const char *addr)
{
    if (fkex_endpoint_check(addr) == 0 && fkex_net_address_ok(addr))
        return 0;
    cli_error("--address: '%s' is not HOST:PORT with a numeric HOST", addr);
    cli_hint("e.g. 127.0.0.1:7700 or [::1]:7700 (names are not resolved), or "
             "kms.example.org@192.0.2.7:7700 with a certificate (kms serve --tls-cert)");
    return -1;
}

/* The pin of the TLS key in path (made if missing) as text. 0, or -1 (said). */
static int tls_pin_text(char out[FKEX_PIN_TEXT_LEN + 1], const char *path)
{
    fkex_tls *t;
    uint8_t pin[FKEX_PIN_BYTES];
    if (cli_server_tls(&t, NULL, path, NULL, 0) != 0)
        return -1;
    fkex_tls_pin(t, pin);
    fkex_tls_free(t);
    fkex_pin_text(out, pin);
    return 0;
}

/* A token's address: addr as it is if it pins or names the server, else
 * with the pin of DIR/tls.key. 0, or -1 (said). */
static int pin_address(char *addr, size_t cap, const char *dir)
{
    fkex_endpoint e;
    char pin[FKEX_PIN_TEXT_LEN + 1], *path, *plain;
    int rc = -1;
    if (fkex_endpoint_parse(&e, addr) == 0 && e.auth != FKEX_ENDPOINT_UNPINNED)
        return 0;
    if (!(path = path_in(dir, "tls.key")) || tls_pin_text(pin, path) != 0 || !(plain = strdup(addr))) {
        free(path);
        return -1;
    }
    if (snprintf(addr, cap, "%s@%s", pin, plain) < (int)cap && strlen(addr) <= FKEX_ADDR_MAX)
        rc = 0;
    else
        cli_error("the address '%s' is too long to go in a token with its pin", plain);
    free(plain);
    free(path);
    return rc;
}

/* ---- kms init ------------------------------------------------------------------ */

static int kms_init(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, 0, 'd' },
        { "address", required_argument, 0, 'A' },
        { "scheme", required_argument, 0, 's' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *dir = NULL, *addr = DEFAULT_ADDR, *scheme = FKEX_ABE_DEFAULT_SCHEME;
    char *sealed_path = NULL, *mpk_path = NULL, *db_path = NULL, *pass = NULL, *tls_path = NULL;
    char tlspin[FKEX_PIN_TEXT_LEN + 1];
    uint8_t *sealed = NULL, *mpk = NULL, pk[32], pin[32];
    size_t sealedlen = 0, mpklen = 0;
    fkex_kms_store *st = NULL;
    fkex_rng rng;
    fkex_err err;
    int c, rc = EXIT_USAGE, made = 0;

    while ((c = getopt_long(argc, argv, "d:A:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'A': addr = optarg; break;
        case 's': scheme = optarg; break;
        case 'h': usage_init(stdout); return 0;
        default: usage_init(stderr); return EXIT_USAGE;
        }
    }
    if (!dir || optind != argc) {
        cli_error(dir ? "unexpected argument '%s'" : "missing --dir%s", dir ? argv[optind] : "");
        usage_init(stderr);
        return EXIT_USAGE;
    }
    if (address_check(addr) != 0)
        return EXIT_USAGE;
    if (cli_scheme_check(scheme) != 0)
        return EXIT_USAGE;
    int made_dir = cli_dir_begin(dir, 0700);
    if (made_dir < 0)
        return EXIT_USAGE;
    if (!(sealed_path = path_in(dir, "kms.sealed")) || !(mpk_path = path_in(dir, "mpk.fkex")) ||
        !(db_path = path_in(dir, "kms.db")))
        goto out;
    if (access(sealed_path, F_OK) == 0 || access(mpk_path, F_OK) == 0 || access(db_path, F_OK) == 0) {
        cli_error("%s already holds an authority", dir);
        cli_hint("fkex never overwrites keys; choose another --dir");
        goto out;
    }
    if (!(pass = sodium_malloc(PASS_MAX))) {
        cli_error("out of memory");
        goto out;
    }
    if (passphrase(pass, PASS_MAX, 1) != 0)
        goto out;
    fkex_rng_init_system(&rng);
    err = fkex_kms_create(&sealed, &sealedlen, &mpk, &mpklen, pk, scheme, pass, strlen(pass), &rng);
    if (err != FKEX_OK) {
        rc = cli_fail(err, "kms init");
        goto out;
    }
    /* The secret first: without it there is no authority. */
    if (write_new(sealed_path, sealed, sealedlen, 0600) != 0)
        goto out;
    made = 1;
    if (cli_write_object(mpk_path, mpk, mpklen, FKEX_KIND_PUBLIC_PARAMS, 0) != 0)
        goto out;
    made = 2;
    if (open_store(&st, dir, 1) != 0)
        goto out;
    made = 3;
    if (fkex_store_setting_set(st, "enrol_pk", pk, 32) != FKEX_OK ||
        fkex_store_setting_set(st, "address", (const uint8_t *)addr, strlen(addr)) != FKEX_OK) {
        cli_error("cannot write %s", db_path);
        goto out;
    }
    if (!(tls_path = path_in(dir, "tls.key")) || tls_pin_text(tlspin, tls_path) != 0)
        goto out;
    {
        fkex_header h;
        char fp[20], pintext[20];
        if (fkex_header_decode(&h, mpk) != FKEX_OK)
            goto out;
        fkex_fingerprint_text(fp, h.fingerprint);
        fkex_enrol_pin(pin, pk);
        fkex_fingerprint_text(pintext, pin);
        printf("authority %s (%s and bf01 identity-based, BLS12-381)\n"
               "  enrolment key:     %s\n"
               "  address:           %s\n"
               "  TLS key:           %s (pin %s)\n"
               "  public parameters: %s\n"
               "  sealed keys:       %s (passphrase-protected)\n",
               fp, scheme, pintext, addr, tls_path, tlspin, mpk_path, sealed_path);
    }
    rc = 0;
out:
    fkex_store_close(st);
    if (rc != 0) {
        /* Leave nothing half-made. */
        if (made >= 3) {
            char *p;
            unlink(db_path);
            if ((p = path_in(dir, "kms.db-wal"))) unlink(p), free(p);
            if ((p = path_in(dir, "kms.db-shm"))) unlink(p), free(p);
        }
        if (made >= 2)
            unlink(mpk_path);
        if (made >= 1)
            unlink(sealed_path);
    }
    cli_dir_end(dir, made_dir, rc);
    if (pass)
        sodium_free(pass);
    free(sealed);
    fkex_bytes_free(mpk, mpklen);
    free(sealed_path);
    free(mpk_path);
    free(db_path);
    free(tls_path);
    return rc;
}

/* ---- the sealed secrets ------------------------------------------------------ */

/* Opens the authority's sealed secrets in DIR with the passphrase and
 * checks they belong to the database st. 0, or the exit code. */
static int open_authority(fkex_kms **k, const char *dir, fkex_kms_store *st)
{
    char *sealed_path = NULL, *pass = NULL;
    uint8_t *sealed = NULL, pk[32], stored[32];
    size_t sealedlen = 0, storedlen;
    fkex_err err;
    int rc = EXIT_USAGE;

    *k = NULL;
    if (!(sealed_path = path_in(dir, "kms.sealed")))
        goto out;
    if (read_secret_file(&sealed, &sealedlen, sealed_path) != 0)
        goto out;
    if (!(pass = sodium_malloc(PASS_MAX))) {
        cli_error("out of memory");
        goto out;
    }
    if (passphrase(pass, PASS_MAX, 0) != 0)
        goto out;
    err = fkex_kms_open(k, sealed, sealedlen, pass, strlen(pass));
    if (err != FKEX_OK) {
        if (err == FKEX_ERR_AUTHENTICATION) {
            cli_error("%s: wrong passphrase, or the file was changed", sealed_path);
            rc = EXIT_DENIED;
        } else {
            rc = cli_fail(err, sealed_path);
        }
        goto out;
    }
    fkex_kms_enrol_pk(pk, *k);
    if (fkex_store_setting_get(st, "enrol_pk", stored, sizeof stored, &storedlen) != FKEX_OK ||
        storedlen != 32 || sodium_memcmp(stored, pk, 32) != 0) {
        cli_error("%s/kms.db and %s belong to different authorities", dir, sealed_path);
        fkex_kms_free(*k);
        *k = NULL;
        goto out;
    }
    rc = 0;
out:
    if (pass)
        sodium_free(pass);
    free(sealed);
    free(sealed_path);
    return rc;
}

/* ---- kms token --------------------------------------------------------------- */

/* "30s", "15m", "12h", "7d" in seconds; -1 if malformed. */
static int parse_duration(uint64_t *secs, const char *text)
{
    uint64_t n = 0, unit;
    const char *p = text;
    if (!*p)
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (uint64_t)(*p - '0');
        if (n > 100000000)
            return -1;
    }
    if (p == text || p[0] == '\0' || p[1] != '\0')
        return -1;
    switch (*p) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return -1;
    }
    if (n == 0 || n * unit > 366ull * 86400)
        return -1;
    *secs = n * unit;
    return 0;
}

/* The attribute list the key will carry, validated as keygen would, joined
 * by spaces ("" for none). */
static char *token_attrs(const char *text, const char *key_expires)
{
    char **attrs = NULL, *joined = NULL;
    size_t n = 0, total = 1;
    if (text && cli_split_attrs(&attrs, &n, text) != 0)
        return NULL;
    if (key_expires) {
        uint32_t month;
        char buf[FKEX_EXPIRY_ATTR_LEN + 1];
        char **bigger;
        if (fkex_month_parse(&month, key_expires) != FKEX_OK ||
            fkex_expiry_attr(buf, month) != FKEX_OK) {
            cli_error("--key-expires: '%s' is not a month like 2026-12", key_expires);
            goto out;
        }
        if (!(bigger = realloc(attrs, (n + 1) * sizeof *attrs)) || !(bigger[n] = strdup(buf))) {
            attrs = bigger ? bigger : attrs;
            cli_error("out of memory");
            goto out;
        }
        attrs = bigger;
        n++;
    }
    if (n == 0 && text) {
        cli_error("--attrs names no attribute");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (fkex_attr_check(attrs[i]) != FKEX_OK) {
            cli_error("'%s' is not a valid attribute", attrs[i]);
            cli_hint("attributes look like ONE, dept:telematics or year=5 (letters, digits, _ . : @ / -)");
            goto out;
        }
        total += strlen(attrs[i]) + 1;
    }
    /* keygen's own rules (repeats, how many), checked now rather than at
     * enrolment: a token keygen would refuse could never be redeemed. */
    fkex_err err = fkex_key_attrs_check((const char *const *)attrs, n);
    if (err == FKEX_ERR_POLICY_LIMIT) {
        cli_error("--attrs: a key holds at most %d attributes and %d names once numbers are "
                  "expanded (each number counts %d)", FKEX_POLICY_MAX_LEAVES, FKEX_KEY_MAX_NAMES,
                  FKEX_NUMERIC_BITS);
        goto out;
    }
    if (err != FKEX_OK) {
        cli_error("--attrs: an attribute appears twice, or a number twice for one name");
        goto out;
    }
    if (!(joined = malloc(total))) {
        cli_error("out of memory");
        goto out;
    }
    joined[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strcat(joined, attrs[i]);
        if (i + 1 < n)
            strcat(joined, " ");
    }
out:
    cli_free_attrs(attrs, n);
    return joined;
}

/* An authority from before identity-based keys cannot issue them: say so
 * now, not at enrolment. Its public parameters tell. */
static int has_identities(const char *dir)
{
    char *path = path_in(dir, "mpk.fkex");
    fkex_mpk *mpk = NULL;
    int rc = -1;
    if (path && cli_load_mpk(&mpk, path) == 0) {
        if (fkex_mpk_has_ibe(mpk))
            rc = 0;
        else
            cli_error("the authority in %s was made before fkex had identity-based keys", dir);
    }
    fkex_mpk_free(mpk);
    free(path);
    return rc;
}

static int kms_token(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, 0, 'd' },
        { "attrs", required_argument, 0, 't' },
        { "identity", required_argument, 0, 'i' },
        { "expires", required_argument, 0, 'e' },
        { "key-expires", required_argument, 0, 'k' },
        { "address", required_argument, 0, 'A' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *dir = NULL, *attrs_text = NULL, *expires = "7d", *key_expires = NULL, *addr = NULL;
    const char *identity = NULL;
    char *attrs = NULL, text[FKEX_TOKEN_TEXT_MAX], id[FKEX_IBE_ID_MAX + 1];
    uint8_t pk[32], hash[32], grant[32];
    size_t addrlen;
    uint64_t lifetime, now = (uint64_t)time(NULL);
    fkex_kms *k = NULL;
    fkex_kms_store *st = NULL;
    fkex_token t;
    fkex_rng rng;
    int c, rc = EXIT_USAGE;

    memset(&t, 0, sizeof t);
    while ((c = getopt_long(argc, argv, "d:t:i:e:k:A:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 't': attrs_text = optarg; break;
        case 'i': identity = optarg; break;
        case 'e': expires = optarg; break;
        case 'k': key_expires = optarg; break;
        case 'A': addr = optarg; break;
        case 'h': usage_token(stdout); return 0;
        default: usage_token(stderr); return EXIT_USAGE;
        }
    }
    if (!dir || (!attrs_text && !identity) || optind != argc) {
        cli_error(optind != argc ? "unexpected argument '%s'" : "missing %s",
                  optind != argc ? argv[optind] : !dir ? "--dir" : "--attrs or --identity");
        usage_token(stderr);
        return EXIT_USAGE;
    }
    if (identity && fkex_ibe_identity(id, identity, strlen(identity)) != FKEX_OK) {
        cli_error("--identity: '%s' is not an identity", identity);
        cli_hint("an identity is 1 to 255 bytes of UTF-8 without control characters");
        return EXIT_USAGE;
    }
    if (parse_duration(&lifetime, expires) != 0) {
        cli_error("--expires: '%s' is not a duration like 30s, 15m, 12h or 7d (at most a year)", expires);
        return EXIT_USAGE;
    }
    if (addr && address_check(addr) != 0)
        return EXIT_USAGE;
    if (!(attrs = token_attrs(attrs_text, key_expires)))
        return EXIT_USAGE;
    if (open_store(&st, dir, 0) != 0)
        goto out;
    if (identity && has_identities(dir) != 0)
        goto out;
    if ((rc = open_authority(&k, dir, st)) != 0)
        goto out;
    rc = EXIT_USAGE;
    if (addr) {
        snprintf(t.addr, sizeof t.addr, "%s", addr);
    } else if (fkex_store_setting_get(st, "address", (uint8_t *)t.addr, FKEX_ADDR_MAX, &addrlen) !=
               FKEX_OK) {
        cli_error("%s/kms.db has no address", dir);
        cli_hint("give one with --address HOST:PORT");
        goto out;
    }
    if (pin_address(t.addr, sizeof t.addr, dir) != 0)
        goto out;
    fkex_kms_enrol_pk(pk, k);
    fkex_enrol_pin(t.pin, pk);
    fkex_rng_init_system(&rng);
    fkex_rng_fill(&rng, t.id, sizeof t.id);
    fkex_rng_fill(&rng, t.secret, sizeof t.secret);
    t.expires_at = now + lifetime;
    if (fkex_token_encode(text, sizeof text, &t) != FKEX_OK) {
        cli_error("cannot make a token for the address '%s'", t.addr);
        goto out;
    }
    crypto_hash_sha256(hash, t.secret, sizeof t.secret);
    if (fkex_kms_grant_mac(grant, k, t.id, hash, t.expires_at, attrs, identity ? id : NULL) !=
        FKEX_OK) {
        cli_error("the attributes are too long to grant");
        goto out;
    }
    if (fkex_store_token_add(st, &t, attrs, identity ? id : NULL, key_expires, now, grant) !=
        FKEX_OK) {
        cli_error("cannot record the token in %s/kms.db", dir);
        goto out;
    }
    printf("%s\n", text);
    if (fflush(stdout) != 0) {
        cli_error("cannot write to standard output: %s", strerror(errno));
        goto out;
    }
    rc = 0;
out:
    fkex_token_wipe(&t);
    sodium_memzero(text, sizeof text);
    sodium_memzero(hash, sizeof hash);
    fkex_kms_free(k);
    fkex_store_close(st);
    free(attrs);
    return rc;
}

/* ---- kms serve ---------------------------------------------------------------- */

static int kms_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, 0, 'd' },
        { "listen", required_argument, 0, 'l' },
        { "tls-key", required_argument, 0, 'k' },
        { "tls-cert", required_argument, 0, 'c' },
        { "insecure-plaintext", no_argument, 0, 'P' },
        { "verbose", no_argument, 0, 'v' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *dir = NULL, *listen = DEFAULT_ADDR, *tls_key = NULL, *tls_cert = NULL;
    char msg[128], *key_path = NULL;
    fkex_tls *tls = NULL;
    int plaintext = 0;
    fkex_kms *k = NULL;
    fkex_kms_store *st = NULL;
    fkex_kms_hooks hooks = { cli_daemon_ready, NULL, "kms" };
    fkex_err err;
    int c, rc = EXIT_USAGE;

    while ((c = getopt_long(argc, argv, "d:l:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'l': listen = optarg; break;
        case 'k': tls_key = optarg; break;
        case 'c': tls_cert = optarg; break;
        case 'P': plaintext = 1; break;
        case 'v': hooks.log = cli_daemon_log; break;
        case 'h': usage_serve(stdout); return 0;
        default: usage_serve(stderr); return EXIT_USAGE;
        }
    }
    if (!dir || optind != argc) {
        cli_error(dir ? "unexpected argument '%s'" : "missing --dir%s", dir ? argv[optind] : "");
        usage_serve(stderr);
        return EXIT_USAGE;
    }
    if (fkex_addr_check(listen, 1) != 0) {
        cli_error("--listen: '%s' is not HOST:PORT", listen);
        return EXIT_USAGE;
    }
    if (open_store(&st, dir, 0) != 0)
        goto out;
    if ((rc = open_authority(&k, dir, st)) != 0)
        goto out;
    rc = EXIT_USAGE;
    if (!(key_path = path_in(dir, "tls.key")))
        goto out;
    if ((rc = cli_server_tls(&tls, tls_key, key_path, tls_cert, plaintext)) != 0)
        goto out;
    rc = EXIT_USAGE;
    if ((err = fkex_kms_serve(k, st, listen, tls, &hooks, msg)) != FKEX_OK) {
        cli_error("%s", msg[0] ? msg : fkex_strerror(err));
        goto out;
    }
    rc = 0;
out:
    fkex_tls_free(tls);
    free(key_path);
    fkex_kms_free(k);
    fkex_store_close(st);
    return rc;
}

int kms_main(int argc, char **argv)
{
    static const cli_subcommand subs[] = {
        { "init", kms_init }, { "token", kms_token }, { "serve", kms_serve },
    };
    return cli_dispatch(argc, argv, subs, FKEX_ARRAY_LEN(subs), usage, "kms",
                        "init, token and serve");
}
