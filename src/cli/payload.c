/*
 * cli/payload.c: encrypted files on the command line, over fkex/file.h
 * (cli/payload.h).
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

int cli_seal_file(const char *in, const char *out, int armor, const fkex_mpk *mpk,
                  const fkex_policy *policy, const char *identity, const char *what)
{
    FILE *inf = strcmp(in, "-") == 0 ? stdin : fopen(in, "rb");
    cli_output o = { 0 };
    cli_file_sink file;
    cli_file_source src;
    fkex_rng rng;
    fkex_err err;
    int rc = EXIT_USAGE;

    if (!inf) {
        cli_error("cannot open %s: %s", in, strerror(errno));
        return EXIT_USAGE;
    }
    if (cli_output_open(&o, out, 0) != 0)
        goto out;
    cli_file_sink_init(&file, o.f);
    cli_file_source_init(&src, inf);
    fkex_rng_init_system(&rng);
    err = policy ? fkex_file_seal_policy(&file.sink, &src.source, mpk, policy, armor, &rng)
                 : fkex_file_seal_identity(&file.sink, &src.source, mpk, identity, armor, &rng);
    if (err != FKEX_OK) {
        cli_output_abort(&o);
        rc = cli_stream_fail(err, what, &src, in, &file, out);
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

static int decrypt_to_terminal(cli_ctfile *file, const char *in)
{
    held h = { { held_write, NULL }, malloc(TERMINAL_MAX), 0, 0 };
    int rc = 0;
    fkex_err err;
    if (!h.buf) {
        cli_error("out of memory");
        return EXIT_USAGE;
    }
    err = fkex_file_decrypt(file->sealed, &h.sink);
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

/* Says that key and the file come from different authorities, with both
 * fingerprints. */
static int other_authority(const fkex_key *key, const fkex_file *file)
{
    uint8_t a[FKEX_FINGERPRINT_BYTES], b[FKEX_FINGERPRINT_BYTES];
    char ta[20], tb[20];
    fkex_mpk_fingerprint(a, fkex_key_mpk(key));
    fkex_file_fingerprint(b, file);
    fkex_fingerprint_text(ta, a);
    fkex_fingerprint_text(tb, b);
    cli_error("this key comes from authority %s, the ciphertext from authority %s", ta, tb);
    cli_hint("ask authority %s for a key", tb);
    return EXIT_DENIED;
}

/* Why key does not open the file. */
static int refused(fkex_err err, const cli_ctfile *c, const char *in, const fkex_key *key)
{
    const char *to = fkex_file_identity(c->sealed), *mine = fkex_key_identity(key);
    if (err == FKEX_ERR_WRONG_AUTHORITY)
        return other_authority(key, c->sealed);
    if (err == FKEX_ERR_POLICY_UNSATISFIED) {
        cli_error("your key's attributes do not satisfy the policy: %s",
                  fkex_file_policy(c->sealed));
        return EXIT_DENIED;
    }
    if (err == FKEX_ERR_WRONG_IDENTITY) {
        if (mine)
            cli_error("%s was encrypted to %s; this key is for %s", in, to, mine);
        else
            cli_error("%s was encrypted to %s; this key has no identity", in, to);
        cli_hint("ask the authority for a key for %s (fkex keygen --identity)", to);
        return EXIT_DENIED;
    }
    return cli_fail(err, in);
}

int cli_ctfile_decrypt(cli_ctfile *c, const char *in, const char *out, const fkex_key *key)
{
    cli_output o = { 0 };
    cli_file_sink sink;
    fkex_err err = fkex_file_unlock(c->sealed, key);
    if (err != FKEX_OK)
        return refused(err, c, in, key);
    if (strcmp(out, "-") == 0 && isatty(STDOUT_FILENO))
        return decrypt_to_terminal(c, in);
    if (cli_output_open(&o, out, 1) != 0)
        return EXIT_USAGE;
    cli_file_sink_init(&sink, o.f);
    err = fkex_file_decrypt(c->sealed, &sink.sink);
    if (err != FKEX_OK) {
        cli_output_abort(&o);
        return stream_failed(err, c, in, &sink, out);
    }
    return cli_output_commit(&o) == 0 ? 0 : EXIT_USAGE;
}

int cli_ctfile_begin(cli_ctfile *c, const char *path)
{
    memset(c, 0, sizeof *c);
    c->f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!c->f) {
        cli_error("cannot open %s: %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    cli_file_source_init(&c->file, c->f);
    cli_file_source_peek(&c->file);
    return 0;
}

int cli_ctfile_is_ciphertext(const cli_ctfile *c)
{
    static const char armor[] = "-----BEGIN FKEX CIPHERTEXT-----";
    const uint8_t *p = c->file.peek;
    size_t n = c->file.npeek;
    if (n >= 6 && memcmp(p, "FKEX", 4) == 0)
        return p[5] == FKEX_KIND_CIPHERTEXT;
    return n >= sizeof armor - 1 && memcmp(p, armor, sizeof armor - 1) == 0;
}

int cli_ctfile_read(cli_ctfile *c, const char *path)
{
    fkex_file_info info;
    fkex_err err = fkex_file_open(&c->sealed, &c->file.source, &info);
    if (err == FKEX_OK)
        return 0;
    if (info.armored && !info.armor_kind[0] && err != FKEX_ERR_IO) {
        cli_error("%s: bad armor: %s", path, fkex_strerror(err));
        return EXIT_USAGE;
    }
    switch (err) {
    case FKEX_ERR_NOT_FKEX:
        cli_error("%s is not an fkex file", path);
        return EXIT_USAGE;
    case FKEX_ERR_WRONG_KIND:
        if (info.has_header)
            cli_error("%s is %s, not a ciphertext", path, cli_kind_phrase(info.header.kind));
        else
            cli_error("%s holds a %s, not a ciphertext", path, info.armor_kind);
        return EXIT_USAGE;
    case FKEX_ERR_UNSUPPORTED:
        cli_error("%s: %s", path, fkex_strerror(err));
        cli_hint("it may come from a newer version of fkex");
        return EXIT_USAGE;
    case FKEX_ERR_IO:
        return cli_stream_fail(err, path, &c->file, path, NULL, "-");
    case FKEX_ERR_NO_MEMORY:
        return cli_fail(err, path);
    default:
        break;
    }
    /* The file says it is a ciphertext and is not a valid one. */
    cli_error("%s: the ciphertext is corrupt or has been tampered with (%s)", path,
              fkex_strerror(err));
    return EXIT_DENIED;
}

void cli_ctfile_close(cli_ctfile *c)
{
    fkex_file_free(c->sealed);
    c->sealed = NULL;
    if (c->f && c->f != stdin)
        fclose(c->f);
    c->f = NULL;
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
