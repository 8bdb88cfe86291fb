/*
 * crypto/stream.h: the DEM for files, libsodium's
 * crypto_secretstream_xchacha20poly1305 in chunks of FKEX_STREAM_CHUNK bytes.
 *
 * Layout: the 24-byte secretstream header, then chunks, each
 * FKEX_STREAM_CHUNK + 17 bytes except the last, which carries TAG_FINAL
 * (possibly empty). The first chunk authenticates `ad` as additional data,
 * binding the stream to the file header and KEM ciphertext before it.
 *
 * The writer's final chunk holds 0..FKEX_STREAM_CHUNK-1 bytes, so it is
 * empty when the plaintext length is 0 or a multiple of the chunk size.
 *
 * Memory is constant: one chunk in, one chunk out. Decryption writes a
 * chunk only after it authenticates; input that ends before a FINAL chunk is
 * FKEX_ERR_TRUNCATED, a bad tag FKEX_ERR_AUTHENTICATION. Chunks carry no
 * length, so bytes appended after a short FINAL chunk join it and fail its
 * tag (FKEX_ERR_AUTHENTICATION); after a full-size one they are
 * FKEX_ERR_BAD_ENCODING. On any error the chunks before the bad one have
 * been written: discard the output. Keys and buffers are wiped on every path.
 */
#ifndef FKEX_STREAM_H
#define FKEX_STREAM_H

#define FKEX_STREAM_CHUNK 65536

fkex_err fkex_stream_encrypt(fkex_sink *out, fkex_source *in, const uint8_t key[32],
                             const uint8_t *ad, size_t adlen) FKEX_WUR;
fkex_err fkex_stream_decrypt(fkex_sink *out, fkex_source *in, const uint8_t key[32],
                             const uint8_t *ad, size_t adlen) FKEX_WUR;

#endif
