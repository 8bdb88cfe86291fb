/*
 * cli/payload.h: encrypted files on the command line (encrypt/decrypt
 * under a policy, ibe encrypt/decrypt to an identity): files, terminals
 * and messages around the library's fkex/file.h.
 */
#ifndef FKEX_CLI_PAYLOAD_H
#define FKEX_CLI_PAYLOAD_H

/* Checks to make before any work: the output is not the input, and binary
 * output does not go to a terminal. 0, or the exit code after saying why. */
int cli_seal_check(const char *in, const char *out, int armor);
/* Seals IN (a path, "-" for stdin) under policy, or to identity if policy
 * is NULL, to OUT (armored if asked); a file OUT appears only when
 * complete. what names the command in messages. Returns the exit code. */
int cli_seal_file(const char *in, const char *out, int armor, const fkex_mpk *mpk,
                  const fkex_policy *policy, const char *identity, const char *what);

/* An encrypted file opened for reading. */
typedef struct {
    FILE *f;
    cli_file_source file;
    fkex_file *sealed;
} cli_ctfile;

/* Opens path ("-" is stdin) and reads ahead a few bytes, kept for replay. */
int cli_ctfile_begin(cli_ctfile *c, const char *path);
/* 1 if the bytes read ahead start a ciphertext, binary or armored. */
int cli_ctfile_is_ciphertext(const cli_ctfile *c);
/* Reads and validates the ciphertext object at the head of the file. 0, or
 * the exit code after saying why (1 for a damaged one). */
int cli_ctfile_read(cli_ctfile *c, const char *path);
/* Unlocks the file with key (saying why not: another authority, a policy
 * the key does not satisfy, another identity), then decrypts the payload
 * to OUT: a file appears only once everything authenticated; standard
 * output gets each chunk once it authenticates; a terminal gets text
 * only, once the whole file authenticated. Returns the exit code (1 for
 * a refused key or damage). */
int cli_ctfile_decrypt(cli_ctfile *c, const char *in, const char *out, const fkex_key *key);
void cli_ctfile_close(cli_ctfile *c);

/* The options of a decrypting command: --key FILE [-o OUT] [IN]. Returns
 * -1 to go on, or the exit code (after --help, or a usage error). */
int cli_decrypt_args(int argc, char **argv, const char **key, const char **out, const char **in,
                     void (*usage)(FILE *));

#endif
