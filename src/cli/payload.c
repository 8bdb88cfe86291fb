/*
 * cli/payload.c: sealing and opening the payload of an encrypted file,
 * whatever KEM made its key (cli/payload.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <unistd.h>
#include "cli/cli.h"
#include "cli/payload.h"

int cli_seal_check(const char *in, const char *out, int armor)
{
    if (strcmp(in, "-") != 0 && strcmp(out, "-") != 0 && cli_same_file(in, out)) {
        cli_error("the output %s is the input", out);
        cli_hint("fkex never overwrites its input");
        return EXIT_USAGE;
    }
    if (!armor && strcmp(out, "-") == 0 && isatty(STDOUT_FILENO)) {
        cli_error("refusing to write binary output to a terminal");
        cli_hint("use -a for text armor, or -o FILE");
        return EXIT_USAGE;
    }
    return 0;
}

int cli_seal_file(const char *in, const char *out, int armor, const uint8_t key[32],
                  const uint8_t *ctb, size_t ctlen)
{
    FILE *inf = strcmp(in, "-") == 0 ? stdin : fopen(in, "rb");
    cli_output o = { 0 };
    cli_file_sink file;
    cli_file_source src;
    fkex_armor_writer aw;
    fkex_sink *sink = &file.sink;
    fkex_err err = FKEX_OK;
    int rc = EXIT_USAGE;

    if (!inf) {
        cli_error("cannot open %s: %s", in, strerror(errno));
        return EXIT_USAGE;
    }
    if (cli_output_open(&o, out, 0) != 0)
        goto out;
    cli_file_sink_init(&file, o.f);
    cli_file_source_init(&src, inf);
    if (armor) {
        err = fkex_armor_writer_begin(&aw, &file.sink, fkex_kind_armor(FKEX_KIND_CIPHERTEXT));
        sink = &aw.sink;
    }
    if (err == FKEX_OK)
        err = sink->write(sink, ctb, ctlen);
    if (err == FKEX_OK)
        err = fkex_stream_encrypt(sink, &src.source, key, ctb, ctlen);
    if (err == FKEX_OK && armor)
        err = fkex_armor_writer_end(&aw);
    if (err != FKEX_OK) {
        cli_output_abort(&o);
        rc = cli_stream_fail(err, "encrypt", &src, in, &file, out);
        goto out;
    }
    if (cli_output_commit(&o) != 0)
        goto out;
    rc = 0;
out:
    if (inf != stdin)
        fclose(inf);
    return rc;
}

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
                               const uint8_t *ctb, size_t ctlen)
{
    held h = { { held_write, NULL }, malloc(TERMINAL_MAX), 0, 0 };
    int rc = 0;
    fkex_err err;
    if (!h.buf) {
        cli_error("out of memory");
        return EXIT_USAGE;
    }
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

int cli_open_payload(cli_ctfile *file, const char *in, const char *out, const uint8_t key[32],
                     const uint8_t *ctb, size_t ctlen)
{
    cli_output o = { 0 };
    cli_file_sink sink;
    fkex_err err;
    if (strcmp(out, "-") == 0 && isatty(STDOUT_FILENO))
        return decrypt_to_terminal(file, in, key, ctb, ctlen);
    if (cli_output_open(&o, out, 1) != 0)
        return EXIT_USAGE;
    cli_file_sink_init(&sink, o.f);
    err = fkex_stream_decrypt(&sink.sink, file->src, key, ctb, ctlen);
    if (err != FKEX_OK) {
        cli_output_abort(&o);
        return stream_failed(err, file, in, &sink, out);
    }
    return cli_output_commit(&o) == 0 ? 0 : EXIT_USAGE;
}

int cli_other_authority(const fkex_key *key, const uint8_t ct_fp[FKEX_FINGERPRINT_BYTES])
{
    uint8_t a[FKEX_FINGERPRINT_BYTES];
    char ta[20], tb[20];
    fkex_mpk_fingerprint(a, fkex_key_mpk(key));
    fkex_fingerprint_text(ta, a);
    fkex_fingerprint_text(tb, ct_fp);
    cli_error("this key comes from authority %s, the ciphertext from authority %s", ta, tb);
    cli_hint("ask authority %s for a key", tb);
    return EXIT_DENIED;
}

int cli_decrypt_args(int argc, char **argv, const char **key, const char **out, const char **in,
                     void (*usage)(FILE *))
{
    static const struct option opts[] = {
        { "key", required_argument, 0, 'k' },
        { "output", required_argument, 0, 'o' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "k:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'k': *key = optarg; break;
        case 'o': *out = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc)
        *in = argv[optind++];
    if (!*key || optind != argc) {
        cli_error(optind != argc ? "unexpected argument '%s'" : "missing --key",
                  optind != argc ? argv[optind] : "");
        usage(stderr);
        return EXIT_USAGE;
    }
    return -1;
}
