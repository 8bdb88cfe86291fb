/*
 * kms/store.c: the authority's SQLite database. Tokens are kept as
 * SHA-256 of their secret; the audit table says which token issued which
 * attributes and identity when, and nothing about who redeemed it.
 *
 * Single use is the UPDATE's WHERE clause (used_at IS NULL), checked with
 * sqlite3_changes() inside a write transaction: two connections, or two
 * processes, racing for one token cannot both change the row.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sqlite3.h>
#include "kms/kms.h"
#include "kms/kms.h"

struct fkex_kms_store {
    sqlite3 *db;
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE IF NOT EXISTS tokens ("
    "  id TEXT PRIMARY KEY,"
    "  secret_hash BLOB NOT NULL,"
    "  attrs TEXT NOT NULL,"
    "  key_expires TEXT,"
    "  identity TEXT,"
    "  expires_at INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  used_at INTEGER,"
    "  grant_mac BLOB);"
    "CREATE TABLE IF NOT EXISTS audit ("
    "  token_id TEXT NOT NULL,"
    "  attrs TEXT NOT NULL,"
    "  issued_at INTEGER NOT NULL,"
    "  identity TEXT);"
    "CREATE TABLE IF NOT EXISTS settings ("
    "  name TEXT PRIMARY KEY,"
    "  value BLOB NOT NULL);";

/* Databases made before identity-based keys lack the identity columns,
 * and those made before grants the grant column: added on open (NULL for
 * the rows there). */
static int migrate(sqlite3 *db)
{
    static const char *const columns[][3] = {
        { "tokens", "identity", "TEXT" }, { "audit", "identity", "TEXT" },
        { "tokens", "grant_mac", "BLOB" },
    };
    for (size_t i = 0; i < sizeof columns / sizeof columns[0]; i++) {
        char sql[128];
        sqlite3_stmt *st;
        int has = 0;
        snprintf(sql, sizeof sql, "SELECT 1 FROM pragma_table_info('%s') WHERE name = '%s'",
                 columns[i][0], columns[i][1]);
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
            return -1;
        has = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
        snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s", columns[i][0], columns[i][1],
                 columns[i][2]);
        if (!has && sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
            return -1;
    }
    return 0;
}

static void say(char err[128], const char *what, sqlite3 *db)
{
    if (err)
        snprintf(err, 128, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
}

fkex_err fkex_store_open(fkex_kms_store **out, const char *path, int create, char err[128])
{
    fkex_kms_store *s;
    *out = NULL;
    if (err)
        err[0] = '\0';
    if (create) {
        /* Created by us, exclusively and private; SQLite gives its -wal and
         * -shm files the database's mode. */
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0) {
            if (err)
                snprintf(err, 128, "cannot create %s: %s", path, strerror(errno));
            return FKEX_ERR_IO;
        }
        close(fd);
    }
    if (!(s = calloc(1, sizeof *s)))
        return FKEX_ERR_NO_MEMORY;
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_busy_timeout(s->db, 10000) != SQLITE_OK ||
        sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK || migrate(s->db) != 0) {
        say(err, path, s->db);
        fkex_store_close(s);
        return FKEX_ERR_IO;
    }
    *out = s;
    return FKEX_OK;
}

void fkex_store_close(fkex_kms_store *s)
{
    if (!s)
        return;
    sqlite3_close(s->db);
    free(s);
}

static sqlite3_stmt *prepare(fkex_kms_store *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    return st;
}

fkex_err fkex_store_setting_set(fkex_kms_store *s, const char *name, const uint8_t *v, size_t len)
{
    sqlite3_stmt *st = prepare(s, "INSERT OR REPLACE INTO settings (name, value) VALUES (?, ?)");
    int rc;
    if (!st)
        return FKEX_ERR_IO;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, len ? (const void *)v : "", (int)len, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? FKEX_OK : FKEX_ERR_IO;
}

fkex_err fkex_store_setting_get(fkex_kms_store *s, const char *name, uint8_t *v, size_t cap,
                                size_t *len)
{
    sqlite3_stmt *st = prepare(s, "SELECT value FROM settings WHERE name = ?");
    fkex_err err = FKEX_ERR_ARGUMENT;
    int rc;
    *len = 0;
    if (!st)
        return FKEX_ERR_IO;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        const void *p = sqlite3_column_blob(st, 0);
        if (n <= cap) {
            if (n)
                memcpy(v, p, n);
            *len = n;
            err = FKEX_OK;
        }
    } else if (rc != SQLITE_DONE) {
        err = FKEX_ERR_IO;
    }
    sqlite3_finalize(st);
    return err;
}

fkex_err fkex_store_token_add(fkex_kms_store *s, const fkex_token *t, const char *attrs,
                              const char *identity, const char *key_expires, uint64_t created_at,
                              const uint8_t grant[32])
{
    char id[2 * FKEX_TOKEN_ID_BYTES + 1];
    uint8_t hash[32];
    sqlite3_stmt *st;
    int rc;
    if (t->expires_at > INT64_MAX || created_at > INT64_MAX)
        return FKEX_ERR_ARGUMENT;
    st = prepare(s, "INSERT INTO tokens (id, secret_hash, attrs, key_expires, expires_at, created_at,"
                    " identity, grant_mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return FKEX_ERR_IO;
    fkex_token_id_hex(id, t->id);
    crypto_hash_sha256(hash, t->secret, FKEX_TOKEN_SECRET_BYTES);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, hash, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, attrs, -1, SQLITE_STATIC);
    if (key_expires)
        sqlite3_bind_text(st, 4, key_expires, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)t->expires_at);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)created_at);
    if (identity)
        sqlite3_bind_text(st, 7, identity, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 7);
    sqlite3_bind_blob(st, 8, grant, 32, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? FKEX_OK : FKEX_ERR_IO;
}

fkex_err fkex_store_token_check(fkex_kms_store *s, fkex_enrol_status *status, char **attrs,
                                char **identity, fkex_token_grant *grant,
                                const uint8_t id[FKEX_TOKEN_ID_BYTES],
                                const uint8_t secret[FKEX_TOKEN_SECRET_BYTES], uint64_t now)
{
    char hex[2 * FKEX_TOKEN_ID_BYTES + 1];
    uint8_t hash[32], stored[32];
    sqlite3_stmt *st;
    int rc;
    fkex_err err = FKEX_OK;
    *status = FKEX_ENROL_UNKNOWN;
    *attrs = NULL;
    *identity = NULL;
    memset(grant, 0, sizeof *grant);
    st = prepare(s, "SELECT secret_hash, attrs, expires_at, used_at, identity, grant_mac FROM tokens"
                    " WHERE id = ?");
    if (!st)
        return FKEX_ERR_IO;
    fkex_token_id_hex(hex, id);
    crypto_hash_sha256(hash, secret, FKEX_TOKEN_SECRET_BYTES);
    sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        /* An unknown id and a wrong secret look the same; the hashes are
         * compared in constant time. */
        memset(stored, 0, sizeof stored);
        if (sqlite3_column_bytes(st, 0) == 32)
            memcpy(stored, sqlite3_column_blob(st, 0), 32);
        else
            stored[0] = (uint8_t)~hash[0];
        if (sodium_memcmp(stored, hash, 32) != 0) {
            *status = FKEX_ENROL_UNKNOWN;
        } else if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
            *status = FKEX_ENROL_USED;
        } else if ((uint64_t)sqlite3_column_int64(st, 2) <= now ||
                   sqlite3_column_int64(st, 2) < 0) {
            *status = FKEX_ENROL_EXPIRED;
        } else {
            const char *a = (const char *)sqlite3_column_text(st, 1);
            const char *i = (const char *)sqlite3_column_text(st, 4);
            if (!a || !(*attrs = strdup(a)) || (i && !(*identity = strdup(i)))) {
                err = a ? FKEX_ERR_NO_MEMORY : FKEX_ERR_IO;
                free(*attrs);
                *attrs = NULL;
            } else {
                *status = FKEX_ENROL_ISSUED;
                grant->expires_at = (uint64_t)sqlite3_column_int64(st, 2);
                grant->present = sqlite3_column_bytes(st, 5) == 32;
                if (grant->present)
                    memcpy(grant->mac, sqlite3_column_blob(st, 5), 32);
            }
        }
    } else if (rc != SQLITE_DONE) {
        err = FKEX_ERR_IO;
    }
    sqlite3_finalize(st);
    sodium_memzero(hash, sizeof hash);
    return err;
}

static int exec(fkex_kms_store *s, const char *sql)
{
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

fkex_err fkex_store_token_use(fkex_kms_store *s, int *won, const uint8_t id[FKEX_TOKEN_ID_BYTES],
                              const char *attrs, const char *identity, uint64_t now)
{
    char hex[2 * FKEX_TOKEN_ID_BYTES + 1];
    sqlite3_stmt *up = NULL, *audit = NULL;
    fkex_err err = FKEX_ERR_IO;
    *won = 0;
    if (now > INT64_MAX)
        return FKEX_ERR_ARGUMENT;
    fkex_token_id_hex(hex, id);
    /* IMMEDIATE: the write lock first, so the UPDATE never meets a lock
     * upgrade that has to fail. */
    if (exec(s, "BEGIN IMMEDIATE") != 0)
        return FKEX_ERR_IO;
    up = prepare(s, "UPDATE tokens SET used_at = ? WHERE id = ? AND used_at IS NULL AND expires_at > ?");
    audit = prepare(s, "INSERT INTO audit (token_id, attrs, issued_at, identity) VALUES (?, ?, ?, ?)");
    if (!up || !audit)
        goto rollback;
    sqlite3_bind_int64(up, 1, (sqlite3_int64)now);
    sqlite3_bind_text(up, 2, hex, -1, SQLITE_STATIC);
    sqlite3_bind_int64(up, 3, (sqlite3_int64)now);
    if (sqlite3_step(up) != SQLITE_DONE)
        goto rollback;
    if (sqlite3_changes(s->db) == 1) {
        sqlite3_bind_text(audit, 1, hex, -1, SQLITE_STATIC);
        sqlite3_bind_text(audit, 2, attrs, -1, SQLITE_STATIC);
        sqlite3_bind_int64(audit, 3, (sqlite3_int64)now);
        if (identity)
            sqlite3_bind_text(audit, 4, identity, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(audit, 4);
        if (sqlite3_step(audit) != SQLITE_DONE)
            goto rollback;
        *won = 1;
    }
    sqlite3_finalize(up);
    sqlite3_finalize(audit);
    up = audit = NULL;
    if (exec(s, "COMMIT") != 0) {
        *won = 0;
        goto rollback;
    }
    return FKEX_OK;
rollback:
    sqlite3_finalize(up);
    sqlite3_finalize(audit);
    *won = 0;
    (void)exec(s, "ROLLBACK");
    return err;
}
