/*
 * kms/kms.h: the key authority (`fkex kms`). Tokens and the enrolment
 * protocol's messages are the enrol layer's (enrol/enrol.h, fkex/enrol.h).
 *
 * Everything here but serve.c is a function over bytes, so it is tested
 * without sockets (tests/test_kms.c):
 *   seal.c   a secret sealed with a passphrase (Argon2id, XChaCha20-Poly1305)
 *   store.c  the SQLite database: tokens (hashed), the audit table, settings
 *   kms.c    the authority: its sealed secrets, and the answer to a request
 *   serve.c  the daemon: a libuv loop around fkex_kms_answer
 * docs/FORMATS.md ("Enrolment") has the layouts; docs/ARCHITECTURE.md why.
 *
 * Ownership: buffers returned through uint8_t ** are malloc'd (free them
 * with fkex_bytes_free, which wipes), except where a comment says
 * sodium_malloc. Opaque objects have their own _free.
 */
#ifndef FKEX_KMS_H
#define FKEX_KMS_H

#include "net/net.h"
#include "wire/wire.h"
#include "ibe/ibe.h"
#include "enrol/enrol.h"

/* ---- a secret sealed with a passphrase (seal.c) ----------------------------
 *   "FKEXSEAL" | version (1) | kdf (1 = Argon2id v1.3) | opslimit (u32) |
 *   memlimit (u64, bytes) | salt (16) | nonce (24) | u32 n | ciphertext (n)
 * ciphertext = XChaCha20-Poly1305(key, nonce, aad = every byte before it),
 * key = Argon2id(passphrase, salt, opslimit, memlimit). Sealing uses
 * libsodium's INTERACTIVE limits (2 passes, 64 MiB: about 0.1 s). Opening
 * accepts limits between the MIN and the SENSITIVE ones only, so a file
 * cannot make the loader spend unbounded memory. */
#define FKEX_SEALED_MAX (8u << 20)
fkex_err fkex_sealed_encode(uint8_t **out, size_t *len, const uint8_t *pt, size_t ptlen,
                            const char *pass, size_t passlen, fkex_rng *rng) FKEX_WUR;
/* *pt is sodium_malloc'd (free with sodium_free); written only if the tag
 * verifies. Errors: FKEX_ERR_AUTHENTICATION (wrong passphrase or changed
 * bytes), FKEX_ERR_BAD_ENCODING, FKEX_ERR_TRUNCATED, FKEX_ERR_UNSUPPORTED,
 * FKEX_ERR_NO_MEMORY. */
fkex_err fkex_sealed_decode(uint8_t **pt, size_t *ptlen, const uint8_t *in, size_t len,
                            const char *pass, size_t passlen) FKEX_WUR;

/* ---- the database (store.c) ------------------------------------------------
 * One SQLite file in WAL mode, busy timeout 10 s:
 *   tokens(id TEXT PRIMARY KEY, secret_hash BLOB, attrs TEXT, key_expires
 *          TEXT, expires_at INTEGER, created_at INTEGER, used_at INTEGER,
 *          identity TEXT, grant_mac BLOB)
 *          -- grant_mac: fkex_kms_grant_mac (NULL for rows made before it,
 *          which are not honoured)
 *   audit(token_id TEXT, attrs TEXT, issued_at INTEGER, identity TEXT)
 *          -- identity: the IBE identity issued (or NULL); never an IP
 * Databases from before the identity columns get them when opened.
 *   settings(name TEXT PRIMARY KEY, value BLOB)
 * Several processes may share it (kms token while kms serve runs). */
typedef struct fkex_kms_store fkex_kms_store;

/* Opens (creating the tables if missing) the database at path, which must
 * exist unless create is set; create makes it O_EXCL with mode 0600. */
fkex_err fkex_store_open(fkex_kms_store **s, const char *path, int create, char err[128]) FKEX_WUR;
void fkex_store_close(fkex_kms_store *s);
fkex_err fkex_store_setting_set(fkex_kms_store *s, const char *name, const uint8_t *v,
                                size_t len) FKEX_WUR;
/* FKEX_ERR_ARGUMENT if there is no such setting or it is longer than cap. */
fkex_err fkex_store_setting_get(fkex_kms_store *s, const char *name, uint8_t *v, size_t cap,
                                size_t *len) FKEX_WUR;
/* Records a token: its id and SHA-256(secret), never the secret. attrs is
 * the space-separated list the key will carry (may be ""), identity the
 * normalised identity it will carry (or NULL); key_expires ("2026-12") is
 * for people and may be NULL; grant is fkex_kms_grant_mac of it. */
fkex_err fkex_store_token_add(fkex_kms_store *s, const fkex_token *t, const char *attrs,
                              const char *identity, const char *key_expires, uint64_t created_at,
                              const uint8_t grant[32]) FKEX_WUR;
/* What a token's row says it was granted with: its grant MAC (present 0
 * for a row from before grants) and expiry, read with its attributes. */
typedef struct {
    uint8_t mac[32];
    int present;
    uint64_t expires_at;
} fkex_token_grant;
/* Looks a token up: the secret's hash is compared in constant time, and
 * only a holder of the secret learns whether it was used or expired.
 * *attrs and *identity (malloc'd; *identity NULL if the token names none)
 * and *grant, all from the one row read, are set only for
 * FKEX_ENROL_ISSUED ("may be issued", if the grant is the authority's). */
fkex_err fkex_store_token_check(fkex_kms_store *s, fkex_enrol_status *st, char **attrs,
                                char **identity, fkex_token_grant *grant,
                                const uint8_t id[FKEX_TOKEN_ID_BYTES],
                                const uint8_t secret[FKEX_TOKEN_SECRET_BYTES],
                                uint64_t now) FKEX_WUR;
/* Uses the token up and writes the audit row, in one transaction:
 * UPDATE tokens SET used_at = now WHERE id = ? AND used_at IS NULL AND
 * expires_at > now; *won is 1 iff that changed one row (then the audit row
 * is written). Of two racing uses, exactly one wins. */
fkex_err fkex_store_token_use(fkex_kms_store *s, int *won, const uint8_t id[FKEX_TOKEN_ID_BYTES],
                              const char *attrs, const char *identity, uint64_t now) FKEX_WUR;

/* ---- the authority (kms.c) --------------------------------------------------
 * Its secrets, the enrolment HPKE private key and the master key's
 * encoding, live in one sodium_malloc'd region kept PROT_NONE except while
 * an enrolment uses them. The sealed plaintext is
 *   version (1) | enrolment private key (32) | u32 n | master key (n). */
typedef struct fkex_kms fkex_kms;

/* A new authority of the CP-ABE scheme named (fkex_abe_setup): its sealed
 * secrets (for DIR/kms.sealed), public parameters (DIR/mpk.fkex, with
 * Boneh-Franklin parameters) and enrolment public key. */
fkex_err fkex_kms_create(uint8_t **sealed, size_t *sealedlen, uint8_t **mpk, size_t *mpklen,
                         uint8_t enrol_pk[32], const char *scheme, const char *pass,
                         size_t passlen, fkex_rng *rng) FKEX_WUR;
/* Opens sealed secrets (FKEX_ERR_AUTHENTICATION: wrong passphrase or
 * changed file). Checks that the master key decodes. */
fkex_err fkex_kms_open(fkex_kms **k, const uint8_t *sealed, size_t len, const char *pass,
                       size_t passlen) FKEX_WUR;
void fkex_kms_enrol_pk(uint8_t pk[32], const fkex_kms *k);
/* What a token grants, MACed with KDF-Expand(enrolment private key, "token
 * grant"): MAC(id || SHA-256(secret) || u64 expires_at || bytes16 attrs ||
 * u8 has_identity || bytes16 identity ("" for none)). Minting a token so
 * needs the sealed secrets (the passphrase), and the authority honours no
 * row that anyone able to write kms.db put there. FKEX_ERR_ARGUMENT (and
 * no MAC) if attrs or identity is longer than 65535 bytes. */
fkex_err fkex_kms_grant_mac(uint8_t mac[32], const fkex_kms *k,
                            const uint8_t id[FKEX_TOKEN_ID_BYTES], const uint8_t secret_hash[32],
                            uint64_t expires_at, const char *attrs,
                            const char *identity) FKEX_WUR;
/* Wipes and frees. */
void fkex_kms_free(fkex_kms *k);

/* What one request came to, for the log: never a secret. */
typedef struct {
    fkex_enrol_type type;                       /* HELLO or REQUEST; 0 if unreadable */
    fkex_enrol_status status;
    char token_id[2 * FKEX_TOKEN_ID_BYTES + 1]; /* "" unless the request opened */
    int ungranted;      /* the token's row has no valid grant: not the authority's */
} fkex_kms_report;

/* Answers one frame: a KEY for a HELLO; for a REQUEST, checks the token,
 * issues the key, uses the token up (with its audit row) and seals the
 * reply; a REFUSED frame for what does not open. Always gives a reply
 * unless memory runs out. Cost: one HPKE open and seal, and for an issued
 * key one master-key decode and one keygen (milliseconds). */
fkex_err fkex_kms_answer(uint8_t **reply, size_t *replylen, fkex_kms_report *rep, fkex_kms *k,
                         fkex_kms_store *st, const uint8_t *req, size_t reqlen, uint64_t now,
                         fkex_rng *rng) FKEX_WUR;

/* ---- the daemon (serve.c) ----------------------------------------------------
 * Runs until SIGTERM or SIGINT: listens on addr (with TLS if tls is not
 * NULL: a server's context), answers each frame with fkex_kms_answer,
 * then stops the server, and returns FKEX_OK. Does not fork. on_ready
 * gets the bound address ("127.0.0.1:PORT", with TLS "PIN@127.0.0.1:PORT")
 * once listening; log (may be NULL) gets one line per answered request. */
typedef struct {
    void (*on_ready)(void *ctx, const char *addr);
    void (*log)(void *ctx, const char *line);
    void *ctx;
} fkex_kms_hooks;

fkex_err fkex_kms_serve(fkex_kms *k, fkex_kms_store *st, const char *addr, const fkex_tls *tls,
                        const fkex_kms_hooks *hooks, char err[128]) FKEX_WUR;

#endif
