/*
 * cli/ctfile.h: an encrypted file opened for reading: after
 * cli_ctfile_open, c->src yields the payload stream that follows the
 * ciphertext object (armor removed if there was any). The payload itself
 * is sealed and opened in cli/payload.c.
 */
#ifndef FKEX_CLI_CTFILE_H
#define FKEX_CLI_CTFILE_H

typedef struct {
    FILE *f;
    cli_file_source file;
    fkex_armor_reader armor;
    fkex_source *src;
} cli_ctfile;

/* Each returns 0, or the exit code after printing why. open = begin + read. */
int cli_ctfile_open(cli_ctfile *c, const char *path, fkex_abe_ct **ct);
/* Opens path ("-" is stdin) and reads ahead a few bytes, kept for replay. */
int cli_ctfile_begin(cli_ctfile *c, const char *path);
/* 1 if the bytes read ahead start a ciphertext, binary or armored. */
int cli_ctfile_is_ciphertext(const cli_ctfile *c);
/* Reads and validates the ciphertext object: one under a policy (an
 * identity-based one is refused with a hint), one to an identity, or
 * either (exactly one of *abe and *ibe is set on success). */
int cli_ctfile_read(cli_ctfile *c, const char *path, fkex_abe_ct **ct);
int cli_ctfile_read_ibe(cli_ctfile *c, const char *path, fkex_ibe_ct **ct);
int cli_ctfile_read_any(cli_ctfile *c, const char *path, fkex_abe_ct **abe, fkex_ibe_ct **ibe);
void cli_ctfile_close(cli_ctfile *c);

#endif
