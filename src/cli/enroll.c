/*
 * cli/enroll.c: `fkex enroll TOKEN -o FILE` asks the authority a token
 * names for a user key, over TLS 1.3 to the key the token pins (the
 * address is PIN@HOST:PORT). Two round trips: HELLO fetches the enrolment key,
 * checked against the token's pin before anything secret is sent; REQUEST
 * carries the token, sealed to that key (kms/kms.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <unistd.h>
#include "cli/cli.h"
#include "kms/kms.h"
#include "net/net.h"

#define TIMEOUT_MS 60000   /* an issue takes milliseconds; a slow host, sanitizers more */

static void usage(FILE *f)
{
    fprintf(f, "usage: fkex enroll TOKEN [-a] [--insecure-plaintext] -o FILE\n\n"
               "Redeems a one-time token from `fkex kms token`: contacts the authority it\n"
               "names over TLS, checks that it holds the TLS key and the enrolment key\n"
               "the token pins, and writes\n"
               "your user key (mode 0600, never over an existing file). TOKEN - reads\n"
               "the token from standard input. A token works once.\n\n"
               "  -o, --output FILE  where to write the key (- for stdout)\n"
               "  -a, --armor        write text armor instead of binary\n"
               "      --insecure-plaintext\n"
               "                     plain TCP, to an authority run with --insecure-plaintext\n"
               "                     (benchmarks, debugging): anyone on the path sees who\n"
               "                     enrols when; the exchange stays sealed end to end\n\n"
               "Exit codes: 0 enrolled; 1 the token or the authority was refused\n"
               "(damaged, used, expired, or another authority); 2 usage, network or file errors.\n");
}

static int read_token_text(char *buf, size_t cap, const char *arg)
{
    size_t n;
    if (strcmp(arg, "-") != 0) {
        if (strlen(arg) >= cap) {
            cli_error("that is too long to be an fkex token");
            return -1;
        }
        strcpy(buf, arg);
        return 0;
    }
    n = fread(buf, 1, cap - 1, stdin);
    if (ferror(stdin)) {
        cli_error("cannot read standard input: %s", strerror(errno));
        return -1;
    }
    buf[n] = '\0';
    return 0;
}

/* "attributes ONE TWO, identity alice@example.org", as far as fits. */
static void describe_key(char *out, size_t cap, const fkex_key *key)
{
    const char *const *attrs;
    const char *id = fkex_key_identity(key);
    size_t n, used = 0;
    fkex_key_attrs(&attrs, &n, key);
    out[0] = 0;
    for (size_t i = 0; i < n && used < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? " " : "attributes ", attrs[i]);
    if (id && used < cap)
        snprintf(out + used, cap - used, "%sidentity %s", n ? ", " : "", id);
    if (!out[0])
        snprintf(out, cap, "no attributes");
}

int enroll_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "output", required_argument, 0, 'o' },
        { "armor", no_argument, 0, 'a' },
        { "insecure-plaintext", no_argument, 0, 'P' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *out = NULL;
    char text[FKEX_TOKEN_TEXT_MAX + 2], msg[128], what[512] = "", *armored = NULL;
    uint8_t hello[FKEX_ENROL_HEADER], req[FKEX_ENROL_REQUEST_BYTES], pk[32], pin[32];
    uint8_t *reply = NULL, *key = NULL;
    size_t replylen = 0, keylen = 0, armoredlen = 0;
    fkex_net_limits small = { 64, 4096 }, big = { FKEX_ENROL_REPLY_MAX, 4096 };
    fkex_enrol_client client;
    fkex_enrol_status status;
    fkex_token t;
    fkex_rng rng;
    fkex_err err;
    fkex_tls *tls = NULL;
    int armor = 0, c, rc = EXIT_USAGE, fd = -1, plaintext = 0;

    memset(&t, 0, sizeof t);
    memset(&client, 0, sizeof client);
    while ((c = getopt_long(argc, argv, "o:ah", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'a': armor = 1; break;
        case 'P': plaintext = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (!out || optind + 1 != argc) {
        cli_error(!out ? "missing -o" : optind == argc ? "missing TOKEN" : "unexpected argument '%s'",
                  optind + 1 < argc ? argv[optind + 1] : "");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (read_token_text(text, sizeof text, argv[optind]) != 0)
        return EXIT_USAGE;
    /* The token is a secret until it is spent: take it out of our command
     * line, where other users could read it (/proc/PID/cmdline). Passing it
     * on standard input (TOKEN = -) never shows it at all. */
    sodium_memzero(argv[optind], strlen(argv[optind]));
    if ((err = fkex_token_decode(&t, text, strlen(text))) != FKEX_OK) {
        if (err == FKEX_ERR_UNSUPPORTED) {
            cli_error("this token comes from a newer version of fkex");
            rc = EXIT_USAGE;
        } else {
            cli_error("the token is damaged (%s): it was changed or cut short", fkex_strerror(err));
            cli_hint("copy the whole token, fkex1-..., exactly as `fkex kms token` printed it");
            rc = EXIT_DENIED;
        }
        goto out;
    }
    if (!plaintext)
        cli_warn_unpinned(t.addr, "this token");
    if (cli_client_tls(&tls, plaintext) != 0)
        goto out;
    /* The output must be ours before the token is spent. */
    if (strcmp(out, "-") == 0) {
        if (!armor && isatty(STDOUT_FILENO)) {
            cli_error("refusing to write binary output to a terminal");
            cli_hint("use -a for text armor, or -o FILE");
            goto out;
        }
        fd = STDOUT_FILENO;
    } else if ((fd = open(out, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0) {
        cli_error("cannot create %s: %s", out, strerror(errno));
        if (errno == EEXIST)
            cli_hint("fkex never overwrites a file; remove it or choose another name");
        goto out;
    }

    fkex_enrol_hello(hello);
    if (fkex_net_request(&reply, &replylen, t.addr, hello, sizeof hello, &small, tls, TIMEOUT_MS,
                         msg) != FKEX_OK) {
        cli_error("cannot reach the authority at %s: %s", t.addr, msg);
        goto out;
    }
    if ((err = fkex_enrol_key_decode(pk, reply, replylen)) != FKEX_OK) {
        cli_error("%s did not answer as an fkex authority (%s)", t.addr, fkex_strerror(err));
        rc = EXIT_DENIED;
        goto out;
    }
    free(reply);
    reply = NULL;
    fkex_rng_init_system(&rng);
    if ((err = fkex_enrol_request_seal(req, &client, pk, &t, &rng)) != FKEX_OK) {
        if (err == FKEX_ERR_WRONG_AUTHORITY) {
            char want[20], got[20];
            fkex_fingerprint_text(want, t.pin);
            fkex_enrol_pin(pin, pk);
            fkex_fingerprint_text(got, pin);
            cli_error("the server at %s is not the authority this token pins: its enrolment "
                      "key is %s, the token expects %s", t.addr, got, want);
            cli_hint("nothing secret was sent; ask the authority for a new token");
            rc = EXIT_DENIED;
        } else {
            rc = cli_fail(err, "enroll");
        }
        goto out;
    }
    if (fkex_net_request(&reply, &replylen, t.addr, req, sizeof req, &big, tls, TIMEOUT_MS, msg) !=
        FKEX_OK) {
        cli_error("the authority at %s did not answer: %s", t.addr, msg);
        cli_hint("the token may or may not be spent; if a retry says it was used, ask for a new one");
        goto out;
    }
    if ((err = fkex_enrol_reply_open(&status, &key, &keylen, &client, reply, replylen)) != FKEX_OK) {
        cli_error("the authority's reply does not authenticate (%s)", fkex_strerror(err));
        rc = EXIT_DENIED;
        goto out;
    }
    if (status != FKEX_ENROL_ISSUED) {
        cli_error("the authority refused the enrolment: %s", fkex_enrol_status_text(status));
        if (status == FKEX_ENROL_USED || status == FKEX_ENROL_EXPIRED || status == FKEX_ENROL_UNKNOWN)
            cli_hint("tokens work once and expire; ask the authority for a new one");
        rc = status == FKEX_ENROL_FAILED ? EXIT_USAGE : EXIT_DENIED;
        goto out;
    }
    /* A key that does not decode is no key; one that does is described to
     * its holder (its attributes and identity are not secret to them). */
    {
        fkex_key *check = NULL;
        err = fkex_key_decode(&check, key, keylen);
        if (err == FKEX_OK)
            describe_key(what, sizeof what, check);
        fkex_key_free(check);
        if (err != FKEX_OK) {
            cli_error("the authority sent a key that does not decode: %s", fkex_strerror(err));
            rc = EXIT_DENIED;
            goto out;
        }
    }
    if (armor) {
        if ((err = fkex_armor_encode(&armored, &armoredlen, fkex_kind_armor(FKEX_KIND_USER_KEY), key,
                                     keylen)) != FKEX_OK) {
            rc = cli_fail(err, "armor");
            goto out;
        }
    }
    if (cli_write_all(fd, armor ? (const uint8_t *)armored : key, armor ? armoredlen : keylen) != 0 ||
        (fd != STDOUT_FILENO && (fsync(fd) != 0 || close(fd) != 0))) {
        cli_error("cannot write %s: %s", out, strerror(errno));
        goto out;
    }
    if (fd != STDOUT_FILENO) {
        fd = -1;
        fprintf(stderr, "fkex: enrolled: %s holds your key (%s)\n", out, what);
    }
    rc = 0;
out:
    fkex_tls_free(tls);
    if (fd >= 0 && fd != STDOUT_FILENO) {
        close(fd);
        unlink(out);
    }
    fkex_token_wipe(&t);
    fkex_enrol_client_wipe(&client);
    sodium_memzero(text, sizeof text);
    free(reply);
    fkex_bytes_free(key, keylen);
    if (armored)
        fkex_bytes_free((uint8_t *)armored, armoredlen);
    return rc;
}
