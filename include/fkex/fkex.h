/*
 * fkex/fkex.h: libfkex, functional key exchange, in one include.
 *
 *   fkex/error.h      typed errors; the library never prints
 *   fkex/rng.h        where randomness comes from
 *   fkex/io.h         byte streams (sources and sinks)
 *   fkex/policy.h     the policy language; keys that expire
 *   fkex/authority.h  an authority's public parameters, master key, user keys
 *   fkex/abe.h        CP-ABE as a KEM (FAME, Waters 2011)
 *   fkex/ibe.h        identity-based encryption (Boneh-Franklin)
 *   fkex/file.h       encrypted files, in constant memory
 *   fkex/room.h       a room's state machine (ratchet mode)
 *   fkex/enrol.h      enrolment with an authority: the user's messages
 *   (fkex/client.h    a room member over a relay: libfkex-io, not included here)
 *
 * Call fkex_init() once before anything else (any thread, any number of
 * times); a call that needs libsodium before it initialises libsodium
 * itself, so that nothing aborts. Each header says what its objects allow
 * across threads; in short, an object is used by one thread at a time,
 * and a user key shares its authority's public parameters.
 *
 * Link: pkg-config --cflags --libs libfkex (add --static for libfkex.a).
 */
#ifndef FKEX_FKEX_H
#define FKEX_FKEX_H

#include "fkex/error.h"
#include "fkex/rng.h"
#include "fkex/io.h"
#include "fkex/policy.h"
#include "fkex/authority.h"
#include "fkex/abe.h"
#include "fkex/ibe.h"
#include "fkex/file.h"
#include "fkex/room.h"
#include "fkex/enrol.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Initialises what the library stands on: libsodium (sodium_init; blst
 * needs nothing, and libcrypto's SHA-256 is set up on its first use, once,
 * from any thread). Idempotent and thread-safe. FKEX_ERR_UNSUPPORTED if
 * libsodium cannot start (no source of randomness); then nothing else may
 * be called. */
FKEX_API fkex_err fkex_init(void) FKEX_WUR;
/* "MAJOR.MINOR.PATCH", the VERSION file of the source tree it was built from. */
FKEX_API const char *fkex_version(void);

#ifdef __cplusplus
}
#endif

#endif
