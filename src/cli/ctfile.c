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

int cli_ctfile_read(cli_ctfile *c, const char *path, fkex_abe_ct **ct)
{
    uint8_t head[FKEX_HEADER_BYTES];
    uint8_t *obj = NULL;
    size_t got;
    fkex_header h;
    fkex_err err;

    *ct = NULL;
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
    if ((err = fkex_header_decode(&h, head)) != FKEX_OK) {
        if (err == FKEX_ERR_UNSUPPORTED) {
            cli_error("%s: %s", path, fkex_strerror(err));
            cli_hint("it may come from a newer version of fkex");
            return EXIT_USAGE;
        }
        cli_error("%s: the ciphertext is corrupt or has been tampered with (%s)", path,
                  fkex_strerror(err));
        return EXIT_DENIED;
    }
    if (h.kind != FKEX_KIND_CIPHERTEXT) {
        cli_error("%s is %s, not a ciphertext", path, cli_kind_phrase(h.kind));
        return EXIT_USAGE;
    }
    if (!(obj = malloc(sizeof head + h.body_len))) {
        cli_error("out of memory");
        return EXIT_USAGE;
    }
    memcpy(obj, head, sizeof head);
    err = fkex_source_read_full(c->src, obj + sizeof head, h.body_len, &got);
    if (err == FKEX_OK && got < h.body_len)
        err = FKEX_ERR_TRUNCATED;
    if (err == FKEX_OK)
        err = fkex_abe_ct_decode(ct, obj, sizeof head + h.body_len);
    free(obj);
    if (err != FKEX_OK) {
        /* The file says it is a ciphertext and is not a valid one. */
        cli_error("%s: the ciphertext is corrupt or has been tampered with (%s)", path,
                  fkex_strerror(err));
        return err == FKEX_ERR_IO || err == FKEX_ERR_NO_MEMORY ? EXIT_USAGE : EXIT_DENIED;
    }
    return 0;
}

void cli_ctfile_close(cli_ctfile *c)
{
    if (c->f && c->f != stdin)
        fclose(c->f);
    c->f = NULL;
}
