/*
 * cli/ctfile.c: opening an encrypted file: armor detection, then the
 * ciphertext object at its head, validated; the payload stream follows.
 */
#include <errno.h>
#include <stdlib.h>
#include "cli/cli.h"
#include "cli/ctfile.h"

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
    c->src = &c->file.source;
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

int cli_ctfile_open(cli_ctfile *c, const char *path, fkex_abe_ct **ct)
{
    int rc = cli_ctfile_begin(c, path);
    return rc ? rc : cli_ctfile_read(c, path, ct);
}

static int decode_failed(fkex_err err, const char *path);

/* Reads the ciphertext object at the head of the file (header checked,
 * body read whole) into *obj; the payload stream follows in c->src. */
static int read_object(cli_ctfile *c, const char *path, uint8_t **obj, size_t *len,
                       fkex_header *h)
{
    uint8_t head[FKEX_HEADER_BYTES];
    size_t got;
    fkex_err err;

    *obj = NULL;
    if (fkex_armor_detect(c->file.peek, c->file.npeek)) {
        if ((err = fkex_armor_reader_begin(&c->armor, &c->file.source)) != FKEX_OK) {
            cli_error("%s: bad armor: %s", path, fkex_strerror(err));
            return EXIT_USAGE;
        }
        if (strcmp(c->armor.kind, fkex_kind_armor(FKEX_KIND_CIPHERTEXT)) != 0) {
            cli_error("%s holds a %s, not a ciphertext", path, c->armor.kind);
            return EXIT_USAGE;
        }
        c->src = &c->armor.source;
    }
    if ((err = fkex_source_read_full(c->src, head, sizeof head, &got)) != FKEX_OK) {
        /* Armor that says "ciphertext" and is damaged is a damaged ciphertext. */
        if (err == FKEX_ERR_TRUNCATED || err == FKEX_ERR_BAD_ENCODING) {
            cli_error("%s: the ciphertext is corrupt or has been tampered with (%s)", path,
                      fkex_strerror(err));
            return EXIT_DENIED;
        }
        cli_error("%s: %s", path, fkex_strerror(err));
        return EXIT_USAGE;
    }
    if (got < 4 || memcmp(head, "FKEX", 4) != 0) {
        cli_error("%s is not an fkex file", path);
        return EXIT_USAGE;
    }
    if (got < sizeof head) {
        cli_error("%s: the ciphertext is truncated", path);
        return EXIT_DENIED;
    }
    if ((err = fkex_header_decode(h, head)) != FKEX_OK) {
        if (err == FKEX_ERR_UNSUPPORTED) {
            cli_error("%s: %s", path, fkex_strerror(err));
            cli_hint("it may come from a newer version of fkex");
            return EXIT_USAGE;
        }
        cli_error("%s: the ciphertext is corrupt or has been tampered with (%s)", path,
                  fkex_strerror(err));
        return EXIT_DENIED;
    }
    if (h->kind != FKEX_KIND_CIPHERTEXT) {
        cli_error("%s is %s, not a ciphertext", path, cli_kind_phrase(h->kind));
        return EXIT_USAGE;
    }
    if (!(*obj = malloc(sizeof head + h->body_len))) {
        cli_error("out of memory");
        return EXIT_USAGE;
    }
    memcpy(*obj, head, sizeof head);
    err = fkex_source_read_full(c->src, *obj + sizeof head, h->body_len, &got);
    if (err == FKEX_OK && got < h->body_len)
        err = FKEX_ERR_TRUNCATED;
    *len = sizeof head + h->body_len;
    if (err != FKEX_OK) {
        free(*obj);
        *obj = NULL;
        return decode_failed(err, path);
    }
    return 0;
}

/* The file says it is a ciphertext and is not a valid one. */
static int decode_failed(fkex_err err, const char *path)
{
    cli_error("%s: the ciphertext is corrupt or has been tampered with (%s)", path,
              fkex_strerror(err));
    return err == FKEX_ERR_IO || err == FKEX_ERR_NO_MEMORY ? EXIT_USAGE : EXIT_DENIED;
}

int cli_ctfile_read_any(cli_ctfile *c, const char *path, fkex_abe_ct **abe, fkex_ibe_ct **ibe)
{
    uint8_t *obj;
    size_t len;
    fkex_header h;
    fkex_err err;
    int rc;
    *abe = NULL;
    *ibe = NULL;
    if ((rc = read_object(c, path, &obj, &len, &h)) != 0)
        return rc;
    if (h.scheme == FKEX_SCHEME_BF01)
        err = fkex_ibe_ct_decode(ibe, obj, len);
    else
        err = fkex_abe_ct_decode(abe, obj, len);
    free(obj);
    return err == FKEX_OK ? 0 : decode_failed(err, path);
}

int cli_ctfile_read(cli_ctfile *c, const char *path, fkex_abe_ct **ct)
{
    fkex_ibe_ct *ibe;
    int rc = cli_ctfile_read_any(c, path, ct, &ibe);
    if (rc == 0 && ibe) {
        cli_error("%s was encrypted to an identity (%s), not under a policy", path,
                  fkex_ibe_ct_identity(ibe));
        cli_hint("decrypt it with fkex ibe decrypt --key FILE");
        fkex_ibe_ct_free(ibe);
        rc = EXIT_USAGE;
    }
    return rc;
}

int cli_ctfile_read_ibe(cli_ctfile *c, const char *path, fkex_ibe_ct **ct)
{
    fkex_abe_ct *abe;
    int rc = cli_ctfile_read_any(c, path, &abe, ct);
    if (rc == 0 && abe) {
        cli_error("%s was encrypted under a policy (%s), not to an identity", path,
                  fkex_abe_ct_policy(abe));
        cli_hint("decrypt it with fkex decrypt --key FILE");
        fkex_abe_ct_free(abe);
        rc = EXIT_USAGE;
    }
    return rc;
}

void cli_ctfile_close(cli_ctfile *c)
{
    if (c->f && c->f != stdin)
        fclose(c->f);
    c->f = NULL;
}
