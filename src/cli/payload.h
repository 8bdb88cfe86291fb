/*
 * cli/payload.h: the payload of an encrypted file, for every kind of KEM
 * (encrypt/decrypt under a policy, ibe encrypt/decrypt to an identity):
 * the ciphertext object, then crypto/stream.c's chunks keyed by the KEM
 * key and bound to the object's bytes.
 */
#ifndef FKEX_CLI_PAYLOAD_H
#define FKEX_CLI_PAYLOAD_H

#include "cli/ctfile.h"

/* Checks to make before any work: the output is not the input, and binary
 * output does not go to a terminal. 0, or the exit code after saying why. */
int cli_seal_check(const char *in, const char *out, int armor);
/* Writes the object ct, then IN (a path, "-" for stdin) encrypted under
 * key, to OUT (armored if asked); a file OUT appears only when complete.
 * Returns the exit code. */
int cli_seal_file(const char *in, const char *out, int armor, const uint8_t key[32],
                  const uint8_t *ct, size_t ctlen);
/* Decrypts the payload that follows the object ct in file, to OUT: a file
 * appears only once everything authenticated; standard output gets each
 * chunk once it authenticates; a terminal gets text only, once the whole
 * file authenticated. Returns the exit code (1 for damage). */
int cli_open_payload(cli_ctfile *file, const char *in, const char *out, const uint8_t key[32],
                     const uint8_t *ct, size_t ctlen);
/* Says that key and the ciphertext come from different authorities, with
 * both fingerprints; returns EXIT_DENIED. */
int cli_other_authority(const fkex_key *key, const uint8_t ct_fp[FKEX_FINGERPRINT_BYTES]);
/* The options of a decrypting command: --key FILE [-o OUT] [IN]. Returns
 * -1 to go on, or the exit code (after --help, or a usage error). */
int cli_decrypt_args(int argc, char **argv, const char **key, const char **out, const char **in,
                     void (*usage)(FILE *));

#endif
