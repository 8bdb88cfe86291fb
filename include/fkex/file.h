/*
 * fkex/file.h: encrypted files, sealed under a policy (CP-ABE, fkex/abe.h)
 * or to an identity (Boneh-Franklin, fkex/ibe.h), in constant memory.
 *
 * A file is the ciphertext object (IND-CCA: Fujisaki-Okamoto) followed by
 * the plaintext in authenticated chunks of 64 KiB (libsodium's
 * secretstream) under the object's key and bound to its bytes; armored,
 * all of it between "-----BEGIN FKEX CIPHERTEXT-----" lines.
 * docs/FORMATS.md has the layout; `fkex encrypt`, `fkex decrypt` and
 * `fkex ibe` read and write the same files.
 *
 * Threads: a sealing call uses its mpk as fkex/authority.h says; an open
 * fkex_file is one object.
 */
#ifndef FKEX_FILE_H
#define FKEX_FILE_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/error.h"
#include "fkex/rng.h"
#include "fkex/io.h"
#include "fkex/policy.h"
#include "fkex/authority.h"
#include "fkex/abe.h"
#include "fkex/ibe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes to out the file of in's bytes, which only keys satisfying policy
 * (or only identity's key) can open; armor: as text. On an error out has
 * been partly written: discard it. Errors: those of fkex_abe_encap or
 * fkex_ibe_encap, and FKEX_ERR_IO from the streams. */
FKEX_API fkex_err fkex_file_seal_policy(fkex_sink *out, fkex_source *in, const fkex_mpk *mpk,
                               const fkex_policy *policy, int armor, fkex_rng *rng) FKEX_WUR;
FKEX_API fkex_err fkex_file_seal_identity(fkex_sink *out, fkex_source *in, const fkex_mpk *mpk,
                                 const char *identity, int armor, fkex_rng *rng) FKEX_WUR;

typedef struct fkex_file fkex_file;

/* How far fkex_file_open got, for saying what a refused input is. */
typedef struct {
    int armored;                                 /* it starts like armor */
    char armor_kind[FKEX_ARMOR_KIND_MAX + 1];    /* its BEGIN line's kind, "" if unread */
    int has_header;                              /* header was read and is valid */
    fkex_header header;
} fkex_file_info;

/* Reads the head of an encrypted file from in (armor is detected) and
 * validates its ciphertext object; the payload is left in in, which the
 * file reads on (it must outlive the file). Errors: FKEX_ERR_NO_MEMORY,
 * FKEX_ERR_NOT_FKEX (not an fkex file), FKEX_ERR_WRONG_KIND (an fkex
 * object, or armor, of another kind: see info), FKEX_ERR_UNSUPPORTED (a
 * newer version, kind or scheme in the header), FKEX_ERR_TRUNCATED, FKEX_ERR_BAD_ENCODING
 * or FKEX_ERR_NOT_IN_GROUP (a damaged file), FKEX_ERR_IO. info may be NULL. */
FKEX_API fkex_err fkex_file_open(fkex_file **file, fkex_source *in, fkex_file_info *info) FKEX_WUR;
/* What the file is sealed to: exactly one is not NULL. */
FKEX_API const char *fkex_file_policy(const fkex_file *file);     /* canonical text */
FKEX_API const char *fkex_file_identity(const fkex_file *file);   /* normalised */
FKEX_API const fkex_abe_ct *fkex_file_abe_ct(const fkex_file *file);
FKEX_API const fkex_ibe_ct *fkex_file_ibe_ct(const fkex_file *file);
FKEX_API void fkex_file_fingerprint(uint8_t fp[FKEX_FINGERPRINT_BYTES], const fkex_file *file);
/* The payload that follows the object (armor removed), to read it
 * without decrypting (fkex inspect counts it). */
FKEX_API fkex_source *fkex_file_payload(fkex_file *file);
/* Opens the ciphertext object with key. Errors: FKEX_ERR_WRONG_AUTHORITY,
 * FKEX_ERR_NO_MEMORY,
 * FKEX_ERR_POLICY_UNSATISFIED, FKEX_ERR_WRONG_IDENTITY,
 * FKEX_ERR_AUTHENTICATION (a damaged object). The file keeps the payload's
 * key until it is freed (wiped then). */
FKEX_API fkex_err fkex_file_unlock(fkex_file *file, const fkex_key *key) FKEX_WUR;
/* After fkex_file_unlock, writes the plaintext to out, each chunk once it
 * has authenticated: on any error out may hold an authentic beginning, and
 * must be discarded unless the caller wants that. Once per file. Errors:
 * FKEX_ERR_AUTHENTICATION, FKEX_ERR_TRUNCATED, FKEX_ERR_BAD_ENCODING (a
 * damaged payload), FKEX_ERR_IO, FKEX_ERR_ARGUMENT (not unlocked, or
 * already read). */
FKEX_API fkex_err fkex_file_decrypt(fkex_file *file, fkex_sink *out) FKEX_WUR;
FKEX_API void fkex_file_free(fkex_file *file);

#ifdef __cplusplus
}
#endif

#endif
