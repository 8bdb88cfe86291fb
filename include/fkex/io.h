/*
 * fkex/io.h: byte streams. The library reads and writes through these
 * callbacks and never touches a file descriptor; a caller supplies ones
 * over its files, sockets or buffers.
 */
#ifndef FKEX_IO_H
#define FKEX_IO_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Text armor's kinds ("CIPHERTEXT", "USER KEY", ...) are at most this long. */
#define FKEX_ARMOR_KIND_MAX 32

typedef struct fkex_source {
    /* Reads up to cap bytes; *got == 0 means end of input. An error is
     * passed on to the caller of the library (FKEX_ERR_IO, say). */
    fkex_err (*read)(struct fkex_source *s, uint8_t *buf, size_t cap, size_t *got);
    void *ctx;
} fkex_source;

typedef struct fkex_sink {
    /* Writes all len bytes, or fails. */
    fkex_err (*write)(struct fkex_sink *s, const uint8_t *buf, size_t len);
    void *ctx;
} fkex_sink;

/* Wipes and frees bytes the library returned (encodings of keys and the
 * like); NULL is fine. */
FKEX_API void fkex_bytes_free(uint8_t *bytes, size_t len);

#ifdef __cplusplus
}
#endif

#endif
