/*
 * fkex/error.h: the typed errors every libfkex function returns.
 *
 * The library never prints. It returns one of these, and the CLI turns it
 * into "fkex: error: ..." with fkex_strerror().
 */
#ifndef FKEX_ERROR_H
#define FKEX_ERROR_H

#if defined(__GNUC__) || defined(__clang__)
#define FKEX_WUR __attribute__((warn_unused_result))
#define FKEX_API __attribute__((visibility("default")))   /* exported by libfkex.so */
#else
#define FKEX_WUR
#define FKEX_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FKEX_OK = 0,
    FKEX_ERR_ARGUMENT,            /* caller passed something out of range */
    FKEX_ERR_NO_MEMORY,
    FKEX_ERR_IO,                  /* read/write on a stream failed */
    FKEX_ERR_BAD_ENCODING,        /* bytes are malformed or non-canonical */
    FKEX_ERR_TRUNCATED,           /* input ended early */
    FKEX_ERR_UNSUPPORTED,         /* unknown version, kind, scheme or curve */
    FKEX_ERR_NOT_IN_GROUP,        /* point off the curve or outside the subgroup */
    FKEX_ERR_POLICY_SYNTAX,       /* policy text does not parse */
    FKEX_ERR_POLICY_LIMIT,        /* policy too large or too deep */
    FKEX_ERR_POLICY_UNSATISFIED,  /* the key's attributes do not satisfy the policy */
    FKEX_ERR_ATTRIBUTE,           /* malformed attribute in a key request */
    FKEX_ERR_AUTHENTICATION,      /* ciphertext failed its integrity check */
    FKEX_ERR_WRONG_AUTHORITY,     /* key and ciphertext come from different authorities */
    FKEX_ERR_WRONG_KIND,          /* e.g. a public key where a ciphertext was expected */
    FKEX_ERR_REPLAY,              /* a protocol message that was already accepted */
    FKEX_ERR_WRONG_EPOCH,         /* a protocol message for another epoch */
    FKEX_ERR_WRONG_ROOM,          /* a protocol message for another room or descriptor */
    FKEX_ERR_UNEXPECTED,          /* a protocol message this party is not waiting for */
    FKEX_ERR_WRONG_IDENTITY,      /* an identity-based key for another name (or none) */
    FKEX_ERR_NOT_FKEX,            /* the input is not an fkex object at all */
    FKEX_ERR_TIMEOUT              /* nothing happened within the time given */
} fkex_err;

/* A short, stable, lower-case sentence for the error. Never NULL. */
FKEX_API const char *fkex_strerror(fkex_err err);

#ifdef __cplusplus
}
#endif

#endif
