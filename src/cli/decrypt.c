/*
 * cli/decrypt.c: `fkex decrypt` opens a file with a user key.
 */
#include <getopt.h>
#include <stdlib.h>
#include <unistd.h>
#include "cli/cli.h"
#include "cli/ctfile.h"

/* Plaintext bound for a terminal is held until the whole file has
 * authenticated, and shown only if it is text: a stranger's file must not
 * write escape sequences to the screen. */
#define TERMINAL_MAX (1u << 20)

typedef struct {
    fkex_sink sink;
    uint8_t *buf;
    size_t len;
    int too_big;
} held;

static fkex_err held_write(fkex_sink *s, const uint8_t *p, size_t n)
{
    held *h = (held *)s;
    if (n > TERMINAL_MAX - h->len) {
        h->too_big = 1;
        return FKEX_ERR_IO;
    }
    memcpy(h->buf + h->len, p, n);
    h->len += n;
    return FKEX_OK;
}

/* Text: printable ASCII, tab, newline, carriage return, and bytes of
 * UTF-8 sequences; no other control character. */
static int is_text(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') || p[i] == 0x7f)
            return 0;
    return 1;
}

/* A payload that fails to decrypt is damaged (exit 1), unless a file could
 * not be read or written (exit 2). */
static int stream_failed(fkex_err err, const cli_ctfile *file, const char *in,
                         const cli_file_sink *sink, const char *out)
{
    if (err == FKEX_ERR_BAD_ENCODING)   /* e.g. bytes after the last chunk */
        err = FKEX_ERR_AUTHENTICATION;
    int rc = cli_stream_fail(err, in, &file->file, in, sink, out);
    return err == FKEX_ERR_IO || err == FKEX_ERR_NO_MEMORY ? rc : EXIT_DENIED;
}

static int decrypt_to_terminal(cli_ctfile *file, const char *in, const uint8_t key[32],
                               const fkex_abe_ct *ct)
{
    held h = { { held_write, NULL }, malloc(TERMINAL_MAX), 0, 0 };
    const uint8_t *ctb;
    size_t ctlen;
    int rc = 0;
    fkex_err err;
    if (!h.buf) {
        cli_error("out of memory");
        return EXIT_USAGE;
    }
    fkex_abe_ct_bytes(&ctb, &ctlen, ct);
    err = fkex_stream_decrypt(&h.sink, file->src, key, ctb, ctlen);
    if (h.too_big) {
        cli_error("the plaintext is too large to show on a terminal");
        cli_hint("use -o FILE, or redirect standard output");
        rc = EXIT_USAGE;
    } else if (err != FKEX_OK) {
        rc = stream_failed(err, file, in, NULL, "-");
    } else if (!is_text(h.buf, h.len)) {
        cli_error("refusing to write binary plaintext to a terminal");
        cli_hint("use -o FILE, or redirect standard output");
        rc = EXIT_USAGE;
    } else if (fwrite(h.buf, 1, h.len, stdout) != h.len || fflush(stdout) != 0) {
        cli_error("cannot write to standard output");
        rc = EXIT_USAGE;
    }
    sodium_memzero(h.buf, TERMINAL_MAX);
    free(h.buf);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: fkex decrypt --key FILE [-o OUT] [IN]\n\n"
               "Decrypts IN (default: stdin; armor is detected) to OUT (default: stdout).\n"
               "With -o, OUT appears only once the whole file has authenticated. On\n"
               "standard output each 64 KiB chunk is written once it authenticates, so a\n"
               "damaged file can leave its authentic beginning there (and exit 1); on a\n"
               "terminal, text is shown only after the whole file authenticated, and\n"
               "binary plaintext is refused.\n\n"
               "  -k, --key FILE     your user key\n"
               "  -o, --output OUT   where to write the plaintext\n\n"
               "Exit codes: 0 decrypted; 1 the key does not satisfy the policy, comes\n"
               "from another authority, or the file was tampered with; 2 usage.\n");
}

int decrypt_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "key", required_argument, 0, 'k' },
        { "output", required_argument, 0, 'o' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *key_path = NULL, *out = "-", *in = "-";
    int c, rc = EXIT_USAGE;
    fkex_abe_key *sk = NULL;
    fkex_abe_ct *ct = NULL;
    cli_ctfile file = { 0 };
    cli_output o = { 0 };
    uint8_t key[32];
    fkex_err err;

    while ((c = getopt_long(argc, argv, "k:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'k': key_path = optarg; break;
        case 'o': out = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc)
        in = argv[optind++];
    if (!key_path || optind != argc) {
        cli_error(optind != argc ? "unexpected argument '%s'" : "missing --key",
                  optind != argc ? argv[optind] : "");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(in, "-") != 0 && strcmp(out, "-") != 0 && cli_same_file(in, out)) {
        cli_error("the output %s is the input", out);
        cli_hint("fkex never overwrites its input");
        goto out;
    }
    if (cli_load_key(&sk, key_path) != 0)
        goto out;
    if ((rc = cli_ctfile_open(&file, in, &ct)) != 0)
        goto out;
    rc = EXIT_USAGE;

    err = fkex_abe_decap(key, sk, ct, FKEX_ABE_CCA);
    if (err == FKEX_ERR_WRONG_AUTHORITY) {
        uint8_t a[FKEX_FINGERPRINT_BYTES], b[FKEX_FINGERPRINT_BYTES];
        char ta[20], tb[20];
        fkex_abe_mpk_fingerprint(a, fkex_abe_key_mpk(sk));
        fkex_abe_ct_fingerprint(b, ct);
        fkex_fingerprint_text(ta, a);
        fkex_fingerprint_text(tb, b);
        cli_error("this key comes from authority %s, the ciphertext from authority %s", ta, tb);
        cli_hint("ask authority %s for a key", tb);
        rc = EXIT_DENIED;
        goto out;
    }
    if (err == FKEX_ERR_POLICY_UNSATISFIED) {
        cli_error("your key's attributes do not satisfy the policy: %s", fkex_abe_ct_policy(ct));
        rc = EXIT_DENIED;
        goto out;
    }
    if (err != FKEX_OK) {
        rc = cli_fail(err, in);
        goto out;
    }
    if (strcmp(out, "-") == 0 && isatty(STDOUT_FILENO)) {
        rc = decrypt_to_terminal(&file, in, key, ct);
        goto out;
    }
    if (cli_output_open(&o, out) != 0)
        goto out;
    {
        cli_file_sink sink;
        const uint8_t *ctb;
        size_t ctlen;
        cli_file_sink_init(&sink, o.f);
        fkex_abe_ct_bytes(&ctb, &ctlen, ct);
        err = fkex_stream_decrypt(&sink.sink, file.src, key, ctb, ctlen);
        if (err != FKEX_OK) {
            cli_output_abort(&o);
            rc = stream_failed(err, &file, in, &sink, out);
            goto out;
        }
    }
    if (cli_output_commit(&o) != 0)
        goto out;
    rc = 0;
out:
    sodium_memzero(key, sizeof key);
    cli_ctfile_close(&file);
    fkex_abe_ct_free(ct);
    fkex_abe_key_free(sk);
    return rc;
}
