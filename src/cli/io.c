/*
 * cli/io.c: files for the subcommands. All reading and writing of files
 * happens here, at the edge; the library sees only byte buffers and
 * fkex_source/fkex_sink callbacks.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli/cli.h"
#include "chat/chat.h"   /* UTF-8 and the characters that must not reach a terminal */

/* One line on stderr: prefix, then the message with whatever it quotes
 * of the user's input made harmless (a control, bidirectional or
 * invisible character, or a byte that is not UTF-8, as \xNN) and cut
 * after CLI_SAY_MAX bytes, so that an argument can neither move the
 * terminal's cursor nor fill the screen. */
#define CLI_SAY_MAX 400
static void say(const char *prefix, const char *fmt, va_list ap)
{
    char msg[CLI_SAY_MAX + 1];
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
    fputs(prefix, stderr);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = chat_utf8_decode(&cp, msg + i, len - i);
        if (k == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || chat_invisible(cp)) {
            for (size_t j = 0; j < (k ? k : 1); j++)
                fprintf(stderr, "\\x%02x", (unsigned char)msg[i + j]);
        } else {
            fwrite(msg + i, 1, k, stderr);
        }
        i += k ? k : 1;
    }
    if (n > 0 && (size_t)n >= sizeof msg)
        fprintf(stderr, "... (%d bytes in all)", n);
    fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("fkex: error: ", fmt, ap);
    va_end(ap);
}

void cli_daemon_ready(void *ctx, const char *addr)
{
    (void)ctx;
    printf("listening on %s\n", addr);
    fflush(stdout);
}

void cli_daemon_log(void *ctx, const char *line)
{
    fprintf(stderr, "fkex %s: %s\n", (const char *)ctx, line);
}

int cli_dir_begin(const char *dir, mode_t mode)
{
    if (mkdir(dir, mode) == 0)
        return 1;
    if (errno == EEXIST)
        return 0;
    cli_error("cannot create %s: %s", dir, strerror(errno));
    return -1;
}

void cli_dir_end(const char *dir, int made, int rc)
{
    if (rc != 0 && made == 1)
        (void)rmdir(dir);   /* only if empty: nothing of anyone else's goes */
}

void cli_hint(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("fkex: hint: ", fmt, ap);
    va_end(ap);
}

int cli_scheme_check(const char *scheme)
{
    if (fkex_abe_scheme_id(scheme))
        return 0;
    cli_error("--scheme: no CP-ABE scheme is called '%s'", scheme);
    cli_hint("the schemes are: " FKEX_ABE_SCHEMES);
    return -1;
}

int cli_exit_code(fkex_err err)
{
    switch (err) {
    case FKEX_OK:
        return 0;
    case FKEX_ERR_POLICY_UNSATISFIED:
    case FKEX_ERR_AUTHENTICATION:
    case FKEX_ERR_WRONG_AUTHORITY:
    case FKEX_ERR_WRONG_IDENTITY:
        return EXIT_DENIED;
    default:
        return EXIT_USAGE;
    }
}

int cli_fail(fkex_err err, const char *what)
{
    if (what)
        cli_error("%s: %s", what, fkex_strerror(err));
    else
        cli_error("%s", fkex_strerror(err));
    return cli_exit_code(err);
}

void cli_policy_error(const char *text, const fkex_policy_error *perr)
{
    cli_error("policy: %s at column %zu", perr->message, perr->column);
    if (strlen(text) <= 200 && strchr(text, '\n') == NULL) {
        fprintf(stderr, "    %s\n    %*s^\n", text, (int)(perr->column ? perr->column - 1 : 0), "");
    }
}

int cli_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int cli_dispatch(int argc, char **argv, const cli_subcommand *subs, size_t n,
                 void (*usage)(FILE *), const char *group, const char *list)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (cli_is_help(argv[1])) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].fn(argc - 1, argv + 1);
    cli_error("unknown %s command '%s'", group, argv[1]);
    cli_hint("the %s commands are %s", group, list);
    return EXIT_USAGE;
}

/* ---- streams ------------------------------------------------------------ */

static fkex_err file_read(fkex_source *src, uint8_t *buf, size_t cap, size_t *got)
{
    cli_file_source *s = (cli_file_source *)src;
    *got = 0;
    if (s->peek_off < s->npeek) {
        size_t n = s->npeek - s->peek_off < cap ? s->npeek - s->peek_off : cap;
        memcpy(buf, s->peek + s->peek_off, n);
        s->peek_off += n;
        *got = n;
        return FKEX_OK;
    }
    *got = fread(buf, 1, cap, s->f);
    if (ferror(s->f)) {
        s->error = errno ? errno : EIO;
        return FKEX_ERR_IO;
    }
    return FKEX_OK;
}

void cli_file_source_init(cli_file_source *s, FILE *f)
{
    memset(s, 0, sizeof *s);
    s->source.read = file_read;
    s->f = f;
}

void cli_file_source_peek(cli_file_source *s)
{
    s->npeek = fread(s->peek, 1, sizeof s->peek, s->f);
    s->peek_off = 0;
}

static fkex_err file_write(fkex_sink *snk, const uint8_t *buf, size_t len)
{
    cli_file_sink *s = (cli_file_sink *)snk;
    if (fwrite(buf, 1, len, s->f) != len) {
        s->error = errno ? errno : EIO;
        return FKEX_ERR_IO;
    }
    return FKEX_OK;
}

void cli_file_sink_init(cli_file_sink *s, FILE *f)
{
    memset(s, 0, sizeof *s);
    s->sink.write = file_write;
    s->f = f;
}

int cli_stream_fail(fkex_err err, const char *what, const cli_file_source *in,
                    const char *in_name, const cli_file_sink *out, const char *out_name)
{
    const char *name = strcmp(in_name, "-") == 0 ? "standard input" : in_name;
    if (err == FKEX_ERR_IO && in && in->error) {
        cli_error("cannot read %s: %s", name, strerror(in->error));
        return EXIT_USAGE;
    }
    name = strcmp(out_name, "-") == 0 ? "standard output" : out_name;
    if (err == FKEX_ERR_IO && out && out->error) {
        cli_error("cannot write %s: %s", name, strerror(out->error));
        return EXIT_USAGE;
    }
    return cli_fail(err, what);
}

/* ---- reading objects ------------------------------------------------------ */

/* Reads a whole (small) object from src; name is for messages. */
static int read_all(uint8_t **data, size_t *len, fkex_source *src, const char *name)
{
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0, got;
    for (;;) {
        if (n == cap) {
            /* Objects are small; a larger file is not an object. */
            if (cap >= 2 * (size_t)FKEX_BODY_MAX) {
                cli_error("%s is too large to be an fkex key or parameters file", name);
                goto fail;
            }
            size_t bigger_cap = cap ? 2 * cap : 4096;
            uint8_t *bigger = malloc(bigger_cap);
            if (!bigger) {
                cli_error("out of memory reading %s", name);
                goto fail;
            }
            /* Copy and wipe rather than realloc: this may be a key. */
            if (buf) {
                memcpy(bigger, buf, n);
                sodium_memzero(buf, cap);
                free(buf);
            }
            buf = bigger;
            cap = bigger_cap;
        }
        if (src->read(src, buf + n, cap - n, &got) != FKEX_OK) {
            cli_error("cannot read %s: %s", name, strerror(errno));
            goto fail;
        }
        if (got == 0)
            break;
        n += got;
    }
    *data = buf;
    *len = n;
    return 0;
fail:
    if (buf) {
        sodium_memzero(buf, cap);
        free(buf);
    }
    return -1;
}

int cli_read_object_from(uint8_t **data, size_t *len, fkex_header *h, fkex_source *src,
                         const char *name)
{
    uint8_t *raw;
    size_t rawlen;
    fkex_err err;
    char kind[FKEX_ARMOR_KIND_MAX + 1] = "";
    if (read_all(&raw, &rawlen, src, name) != 0)
        return -1;
    if (fkex_armor_detect(raw, rawlen)) {
        uint8_t *bin;
        size_t binlen;
        err = fkex_armor_decode(&bin, &binlen, kind, raw, rawlen);
        fkex_bytes_free(raw, rawlen);
        if (err != FKEX_OK) {
            cli_error("%s: bad armor: %s", name, fkex_strerror(err));
            return -1;
        }
        raw = bin;
        rawlen = binlen;
    }
    if (rawlen < FKEX_HEADER_BYTES || memcmp(raw, "FKEX", 4) != 0) {
        cli_error("%s is not an fkex file", name);
        fkex_bytes_free(raw, rawlen);
        return -1;
    }
    if ((err = fkex_header_decode(h, raw)) != FKEX_OK) {
        cli_error("%s: %s", name, fkex_strerror(err));
        if (err == FKEX_ERR_UNSUPPORTED)
            cli_hint("it may come from a newer version of fkex");
        fkex_bytes_free(raw, rawlen);
        return -1;
    }
    /* The armor's label must name what the bytes are. */
    if (kind[0] && strcmp(kind, fkex_kind_armor(h->kind)) != 0) {
        cli_error("%s: the armor says %s but holds %s", name, kind, cli_kind_phrase(h->kind));
        fkex_bytes_free(raw, rawlen);
        return -1;
    }
    *data = raw;
    *len = rawlen;
    return 0;
}

int cli_read_object(uint8_t **data, size_t *len, fkex_header *h, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    cli_file_source src;
    int rc;
    if (!f) {
        cli_error("cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    cli_file_source_init(&src, f);
    rc = cli_read_object_from(data, len, h, &src.source, path);
    if (f != stdin)
        fclose(f);
    return rc;
}

/* "a user key", "public parameters": for sentences. */
const char *cli_kind_phrase(fkex_kind kind)
{
    switch (kind) {
    case FKEX_KIND_PUBLIC_PARAMS: return "public parameters";
    case FKEX_KIND_MASTER_KEY: return "a master key";
    case FKEX_KIND_USER_KEY: return "a user key";
    case FKEX_KIND_CIPHERTEXT: return "a ciphertext";
    }
    return "an unknown object";
}

static int expect_kind(const fkex_header *h, fkex_kind want, const char *path)
{
    if (h->kind == want)
        return 0;
    cli_error("%s is %s, not %s", path, cli_kind_phrase(h->kind), cli_kind_phrase(want));
    return -1;
}

int cli_load_mpk(fkex_mpk **mpk, const char *path)
{
    uint8_t *data;
    size_t len;
    fkex_header h;
    fkex_err err = FKEX_OK;
    *mpk = NULL;
    if (cli_read_object(&data, &len, &h, path) != 0)
        return -1;
    if (h.kind == FKEX_KIND_PUBLIC_PARAMS) {
        err = fkex_mpk_decode(mpk, data, len);
    } else if (h.kind == FKEX_KIND_USER_KEY || h.kind == FKEX_KIND_MASTER_KEY) {
        /* Keys carry their authority's public parameters: re-encode them. */
        fkex_key *key = NULL;
        fkex_msk *msk = NULL;
        const fkex_mpk *inner;
        uint8_t *pub;
        size_t publen;
        if (h.kind == FKEX_KIND_USER_KEY)
            err = fkex_key_decode(&key, data, len);
        else
            err = fkex_msk_decode(&msk, data, len);
        if (err == FKEX_OK) {
            inner = key ? fkex_key_mpk(key) : fkex_msk_mpk(msk);
            if ((err = fkex_mpk_encode(&pub, &publen, inner)) == FKEX_OK) {
                err = fkex_mpk_decode(mpk, pub, publen);
                free(pub);
            }
        }
        fkex_key_free(key);
        fkex_msk_free(msk);
    } else {
        cli_error("%s is %s, not public parameters", path, cli_kind_phrase(h.kind));
        fkex_bytes_free(data, len);
        return -1;
    }
    fkex_bytes_free(data, len);
    if (err != FKEX_OK) {
        cli_error("%s: %s", path, fkex_strerror(err));
        return -1;
    }
    return 0;
}

/* Secrets should not be readable by others (wireguard's genkey warns too). */
static void warn_if_exposed(const char *path)
{
    struct stat st;
    if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && (st.st_mode & 077))
        fprintf(stderr, "fkex: warning: %s is readable by other users (mode %03o)\n",
                path, (unsigned)(st.st_mode & 0777));
}

/* Reads a secret object of the given kind: a user key others can read is
 * warned about, a master key refused (as kms serve refuses its sealed
 * keys): whoever can read it can make every key. */
static int read_secret(uint8_t **data, size_t *len, const char *path, fkex_kind kind)
{
    fkex_header h;
    struct stat st;
    if (cli_read_object(data, len, &h, path) != 0)
        return -1;
    if (expect_kind(&h, kind, path) != 0) {
        fkex_bytes_free(*data, *len);
        return -1;
    }
    if (kind == FKEX_KIND_MASTER_KEY && strcmp(path, "-") != 0 && stat(path, &st) == 0 &&
        (st.st_mode & 077)) {
        cli_error("%s is readable by other users (mode %03o): refusing to use the master key",
                  path, (unsigned)(st.st_mode & 0777));
        cli_hint("chmod 600 %s (and ask who may have copied it)", path);
        fkex_bytes_free(*data, *len);
        return -1;
    }
    warn_if_exposed(path);
    return 0;
}

static int decoded(fkex_err err, uint8_t *data, size_t len, const char *path)
{
    fkex_bytes_free(data, len);
    if (err != FKEX_OK) {
        cli_error("%s: %s", path, fkex_strerror(err));
        return -1;
    }
    return 0;
}

int cli_load_key(fkex_key **key, const char *path)
{
    uint8_t *data;
    size_t len;
    *key = NULL;
    if (read_secret(&data, &len, path, FKEX_KIND_USER_KEY) != 0)
        return -1;
    fkex_err err = fkex_key_decode(key, data, len);
    if (err == FKEX_ERR_AUTHENTICATION) {
        fkex_bytes_free(data, len);
        cli_error("%s: its attribute labels do not match its key parts (was the file edited?): "
                  "it is not a key the authority made", path);
        return -1;
    }
    return decoded(err, data, len, path);
}

int cli_load_msk(fkex_msk **msk, const char *path)
{
    uint8_t *data;
    size_t len;
    *msk = NULL;
    if (read_secret(&data, &len, path, FKEX_KIND_MASTER_KEY) != 0)
        return -1;
    return decoded(fkex_msk_decode(msk, data, len), data, len, path);
}

/* ---- writing objects ---------------------------------------------------- */

int cli_write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int cli_write_object(const char *path, const uint8_t *data, size_t len, fkex_kind kind, int armor)
{
    int secret = kind == FKEX_KIND_MASTER_KEY || kind == FKEX_KIND_USER_KEY;
    char *text = NULL;
    size_t textlen = 0;
    int fd, rc = 0;

    if (armor) {
        fkex_err err = fkex_armor_encode(&text, &textlen, fkex_kind_armor(kind), data, len);
        if (err != FKEX_OK)
            return cli_fail(err, "armor"), -1;
        data = (const uint8_t *)text;
        len = textlen;
    }
    if (strcmp(path, "-") == 0) {
        if (!armor && isatty(STDOUT_FILENO)) {
            cli_error("refusing to write binary output to a terminal");
            cli_hint("use -a for text armor, or -o FILE");
            rc = -1;
        } else if (cli_write_all(STDOUT_FILENO, data, len) != 0) {
            cli_error("cannot write to standard output: %s", strerror(errno));
            rc = -1;
        }
    } else {
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL, secret ? 0600 : 0644);
        if (fd < 0) {
            cli_error("cannot create %s: %s", path, strerror(errno));
            if (errno == EEXIST)
                cli_hint("fkex never overwrites a file; remove it or choose another name");
            rc = -1;
        } else {
            if (cli_write_all(fd, data, len) != 0 || fsync(fd) != 0) {
                cli_error("cannot write %s: %s", path, strerror(errno));
                rc = -1;
            }
            if (close(fd) != 0 && rc == 0) {
                cli_error("cannot write %s: %s", path, strerror(errno));
                rc = -1;
            }
            if (rc != 0)
                unlink(path);
        }
    }
    if (text)
        fkex_bytes_free((uint8_t *)text, textlen);
    return rc;
}

int cli_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* ---- outputs that appear whole ------------------------------------------ */

/* The temporary file of the output being written, for the signal handler:
 * unlink and raise are async-signal-safe. */
static char *volatile pending_tmp;
static const int ending[] = { SIGINT, SIGTERM, SIGHUP };
static struct sigaction ending_before[FKEX_ARRAY_LEN(ending)];

static void interrupted(int sig)
{
    char *tmp = pending_tmp;
    if (tmp)
        unlink(tmp);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void watch_tmp(char *tmp)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = interrupted;
    sigemptyset(&sa.sa_mask);
    pending_tmp = tmp;
    for (size_t i = 0; i < FKEX_ARRAY_LEN(ending); i++)
        sigaction(ending[i], &sa, &ending_before[i]);
}

static void unwatch_tmp(void)
{
    if (!pending_tmp)
        return;
    for (size_t i = 0; i < FKEX_ARRAY_LEN(ending); i++)
        sigaction(ending[i], &ending_before[i], NULL);
    pending_tmp = NULL;
}

int cli_output_open(cli_output *o, const char *path, int secret)
{
    memset(o, 0, sizeof *o);
    o->secret = secret;
    if (strcmp(path, "-") == 0) {
        o->f = stdout;
        return 0;
    }
    if (access(path, F_OK) == 0) {
        cli_error("%s already exists", path);
        cli_hint("fkex never overwrites a file; remove it or choose another name");
        return -1;
    }
    size_t n = strlen(path);
    o->path = strdup(path);
    o->tmp = malloc(n + 16);
    if (!o->path || !o->tmp) {
        cli_error("out of memory");
        cli_output_abort(o);
        return -1;
    }
    memcpy(o->tmp, path, n);
    memcpy(o->tmp + n, ".fkex-XXXXXX", 13);
    int fd = mkstemp(o->tmp);
    if (fd < 0) {
        cli_error("cannot create a file next to %s: %s", path, strerror(errno));
        free(o->tmp);
        o->tmp = NULL;
        cli_output_abort(o);
        return -1;
    }
    watch_tmp(o->tmp);
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        cli_error("cannot write next to %s: %s", path, strerror(errno));
        close(fd);
        cli_output_abort(o);
        return -1;
    }
    return 0;
}

int cli_output_commit(cli_output *o)
{
    int rc = 0;
    if (!o->path) {
        if (fflush(stdout) != 0) {
            cli_error("cannot write to standard output: %s", strerror(errno));
            return -1;
        }
        return 0;
    }
    mode_t mask = umask(0);
    umask(mask);
    if (fflush(o->f) != 0 || fchmod(fileno(o->f), o->secret ? 0600 : 0666 & ~mask) != 0 ||
        fsync(fileno(o->f)) != 0) {
        cli_error("cannot write %s: %s", o->path, strerror(errno));
        rc = -1;
    }
    if (fclose(o->f) != 0 && rc == 0) {
        cli_error("cannot write %s: %s", o->path, strerror(errno));
        rc = -1;
    }
    o->f = NULL;
    /* link() rather than rename(): it fails if the name appeared meanwhile. */
    if (rc == 0 && link(o->tmp, o->path) != 0) {
        cli_error("cannot create %s: %s", o->path, strerror(errno));
        rc = -1;
    }
    unlink(o->tmp);
    unwatch_tmp();
    free(o->tmp);
    free(o->path);
    o->tmp = o->path = NULL;
    return rc;
}

void cli_output_abort(cli_output *o)
{
    if (o->f && o->f != stdout)
        fclose(o->f);
    if (o->tmp)
        unlink(o->tmp);
    unwatch_tmp();
    free(o->tmp);
    free(o->path);
    memset(o, 0, sizeof *o);
}
