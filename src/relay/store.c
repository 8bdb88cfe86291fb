/*
 * relay/store.c: the relay's SQLite store (relay/store.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "gke/gke.h"
#include "relay/store.h"

/* PRAGMA application_id of a relay database: "fkrl". */
#define RELAY_APPLICATION_ID 0x666b726c

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS rooms(room_id BLOB PRIMARY KEY, descriptor BLOB NOT NULL,"
    " epoch INTEGER NOT NULL, next_seq INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS members(room_id BLOB NOT NULL, v BLOB NOT NULL,"
    " position INTEGER NOT NULL, state INTEGER NOT NULL, since INTEGER NOT NULL,"
    " PRIMARY KEY(room_id, v)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS log(id INTEGER PRIMARY KEY, room_id BLOB NOT NULL,"
    " seq INTEGER NOT NULL, recipient BLOB, frame BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS log_by_seq ON log(room_id, seq);"
    "CREATE TABLE IF NOT EXISTS commits(room_id BLOB NOT NULL, hash BLOB NOT NULL,"
    " epoch INTEGER NOT NULL, won INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " PRIMARY KEY(room_id, hash)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS candidates(room_id BLOB NOT NULL, hash BLOB NOT NULL,"
    " epoch INTEGER NOT NULL, position INTEGER NOT NULL, committer INTEGER NOT NULL,"
    " commit_bytes BLOB NOT NULL, PRIMARY KEY(room_id, hash)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS held(id INTEGER PRIMARY KEY, room_id BLOB NOT NULL,"
    " commit_hash BLOB NOT NULL, recipient BLOB NOT NULL, frame BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS held_by_commit ON held(room_id, commit_hash);"
    "CREATE TABLE IF NOT EXISTS joins(room_id BLOB NOT NULL, joiner_id BLOB NOT NULL,"
    " v BLOB NOT NULL, sponsor BLOB, state INTEGER NOT NULL, sent_at INTEGER NOT NULL,"
    " request BLOB NOT NULL, PRIMARY KEY(room_id, joiner_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS pending(room_id BLOB PRIMARY KEY, descriptor BLOB NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS seed_rooms(room_id BLOB PRIMARY KEY,"
    " next_index INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS seed_entries(room_id BLOB NOT NULL, idx INTEGER NOT NULL,"
    " ct BLOB NOT NULL, PRIMARY KEY(room_id, idx)) WITHOUT ROWID;";

enum {
    S_BEGIN, S_COMMIT, S_ROLLBACK, S_SAVEPOINT, S_RELEASE, S_ROLLBACK_TO,
    S_ROOM_INSERT, S_ROOM_GET, S_ROOM_SET, S_ROOMS,
    S_MEMBERS_DELETE, S_MEMBER_INSERT, S_MEMBERS_LOAD,
    S_LOG_APPEND, S_LOG_REPLAY, S_LOG_COUNT, S_LOG_FIRST, S_LOG_PRUNE,
    S_SETTLED_PUT, S_SETTLED_GET,
    S_CANDIDATE_PUT, S_CANDIDATES_LOAD, S_CANDIDATES_DELETE,
    S_HELD_PUT, S_HELD_LOAD, S_HELD_DELETE,
    S_JOIN_PUT, S_JOIN_DELETE, S_JOINS_LOAD,
    S_DESCRIPTOR_SET, S_PENDING_PUT, S_PENDING_GET, S_PENDING_DELETE,
    S_SEED_NEXT_PUT, S_SEED_ENTRY_PUT, S_SEED_ENTRY_DELETE, S_SEED_NEXT_GET, S_SEED_ENTRIES,
    S_COUNT
};

static const char *const sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_SAVEPOINT] = "SAVEPOINT step",
    [S_RELEASE] = "RELEASE step",
    [S_ROLLBACK_TO] = "ROLLBACK TO step",
    [S_ROOM_INSERT] = "INSERT INTO rooms(room_id, descriptor, epoch, next_seq) VALUES(?1, ?2, 0, 1)",
    [S_ROOM_GET] = "SELECT epoch, next_seq, descriptor FROM rooms WHERE room_id = ?1",
    [S_ROOM_SET] = "UPDATE rooms SET epoch = ?2, next_seq = ?3 WHERE room_id = ?1",
    [S_ROOMS] = "SELECT room_id FROM rooms ORDER BY room_id",
    [S_MEMBERS_DELETE] = "DELETE FROM members WHERE room_id = ?1",
    [S_MEMBER_INSERT] = "INSERT INTO members(room_id, v, position, state, since)"
                        " VALUES(?1, ?2, ?3, ?5, ?4)",
    [S_MEMBERS_LOAD] = "SELECT v, since, state FROM members WHERE room_id = ?1 ORDER BY position",
    [S_LOG_APPEND] = "INSERT INTO log(room_id, seq, recipient, frame) VALUES(?1, ?2, ?3, ?4)",
    [S_LOG_REPLAY] = "SELECT seq, frame FROM log WHERE room_id = ?1 AND seq > ?2 AND"
                     " (recipient = ?3 OR (recipient IS NULL AND seq > ?4)) ORDER BY seq, id",
    [S_LOG_COUNT] = "SELECT count(*) FROM log WHERE room_id = ?1 AND seq = ?2",
    [S_LOG_FIRST] = "SELECT coalesce(min(seq), 0) FROM log WHERE room_id = ?1",
    [S_LOG_PRUNE] = "DELETE FROM log WHERE room_id = ?1 AND seq < ?2",
    [S_SETTLED_PUT] = "INSERT OR REPLACE INTO commits(room_id, hash, epoch, won, seq)"
                      " VALUES(?1, ?2, ?3, ?4, ?5)",
    [S_SETTLED_GET] = "SELECT hash, won FROM commits WHERE room_id = ?1 AND epoch = ?2"
                      " ORDER BY won DESC, hash",
    [S_CANDIDATE_PUT] = "INSERT INTO candidates(room_id, hash, epoch, position, committer,"
                        " commit_bytes) VALUES(?1, ?2, ?3, ?6, ?5, ?4)",
    [S_CANDIDATES_LOAD] = "SELECT hash, epoch, committer, commit_bytes FROM candidates"
                          " WHERE room_id = ?1 ORDER BY position",
    [S_CANDIDATES_DELETE] = "DELETE FROM candidates WHERE room_id = ?1",
    [S_HELD_PUT] = "INSERT INTO held(room_id, commit_hash, recipient, frame) VALUES(?1, ?2, ?3, ?4)",
    [S_HELD_LOAD] = "SELECT commit_hash, recipient, frame FROM held WHERE room_id = ?1 ORDER BY id",
    [S_HELD_DELETE] = "DELETE FROM held WHERE room_id = ?1",
    [S_JOIN_PUT] = "INSERT OR REPLACE INTO joins(room_id, joiner_id, v, sponsor, state, sent_at,"
                   " request) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_JOIN_DELETE] = "DELETE FROM joins WHERE room_id = ?1 AND joiner_id = ?2",
    [S_JOINS_LOAD] = "SELECT joiner_id, v, sponsor, state, sent_at, request FROM joins"
                     " WHERE room_id = ?1 ORDER BY sent_at, joiner_id",
    [S_DESCRIPTOR_SET] = "UPDATE rooms SET descriptor = ?2 WHERE room_id = ?1",
    [S_PENDING_PUT] = "INSERT OR REPLACE INTO pending(room_id, descriptor) VALUES(?1, ?2)",
    [S_PENDING_GET] = "SELECT descriptor FROM pending WHERE room_id = ?1",
    [S_PENDING_DELETE] = "DELETE FROM pending WHERE room_id = ?1",
    [S_SEED_NEXT_PUT] = "INSERT OR REPLACE INTO seed_rooms(room_id, next_index) VALUES(?1, ?2)",
    [S_SEED_ENTRY_PUT] = "INSERT OR REPLACE INTO seed_entries(room_id, idx, ct) VALUES(?1, ?2, ?3)",
    [S_SEED_ENTRY_DELETE] = "DELETE FROM seed_entries WHERE room_id = ?1 AND idx = ?2",
    [S_SEED_NEXT_GET] = "SELECT next_index FROM seed_rooms WHERE room_id = ?1",
    [S_SEED_ENTRIES] = "SELECT idx, ct FROM seed_entries WHERE room_id = ?1 ORDER BY idx",
};

struct relay_store {
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
    int batch;          /* inside relay_store_batch_begin/end */
    int batch_failed;   /* a step could not be undone alone */
};

const char *relay_store_error(const relay_store *s)
{
    return sqlite3_errmsg(s->db);
}

/* The first column of the first row of q, or -1 if there is none. */
static long long one_number(sqlite3 *db, const char *q)
{
    sqlite3_stmt *st;
    long long v = -1;
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* 0 if db is a relay database, or empty (it becomes one), or one made
 * before the application id was set (it has our rooms table). */
static int ours(sqlite3 *db)
{
    long long id = one_number(db, "PRAGMA application_id");
    if (id == RELAY_APPLICATION_ID)
        return 0;
    if (id != 0)
        return -1;
    return one_number(db, "SELECT count(*) FROM sqlite_master") == 0 ||
                   one_number(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                  "name = 'rooms'") == 1
               ? 0 : -1;
}

int relay_store_claim(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errlen, errno == EWOULDBLOCK ? "%s is in use by another relay"
                                                   : "%s: cannot lock it", path);
        close(fd);
        return -1;
    }
    (void)fchmod(fd, 0600);   /* one made before it was created so: who talks to whom is in it */
    return fd;
}

fkex_err relay_store_open(relay_store **out, const char *path, char *err, size_t errlen)
{
    relay_store *s = calloc(1, sizeof *s);
    char *msg = NULL;
    *out = NULL;
    if (!s)
        return FKEX_ERR_NO_MEMORY;
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(s->db, 5000);
    if (ours(s->db) != 0) {
        snprintf(err, errlen, "%s is not an fkex relay database%s", path,
                 sqlite3_errcode(s->db) == SQLITE_NOTADB ? " (not SQLite at all)" : "");
        relay_store_close(s);
        return FKEX_ERR_IO;
    }
    if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                            " PRAGMA foreign_keys=ON;", NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(s->db, schema, NULL, NULL, &msg) != SQLITE_OK)
        goto fail;
    char *mark = sqlite3_mprintf("PRAGMA application_id = %d;", RELAY_APPLICATION_ID);
    int marked = mark && sqlite3_exec(s->db, mark, NULL, NULL, &msg) == SQLITE_OK;
    sqlite3_free(mark);
    if (!marked)
        goto fail;
    for (int i = 0; i < S_COUNT; i++)
        if (sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) !=
            SQLITE_OK)
            goto fail;
    *out = s;
    return FKEX_OK;
fail:
    snprintf(err, errlen, "%s: %s", path, msg ? msg : s->db ? sqlite3_errmsg(s->db) : "cannot open");
    sqlite3_free(msg);
    relay_store_close(s);
    return FKEX_ERR_IO;
}

fkex_err relay_store_set_sync(relay_store *s, int full)
{
    const char *q = full ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;";
    return sqlite3_exec(s->db, q, NULL, NULL, NULL) == SQLITE_OK ? FKEX_OK : FKEX_ERR_IO;
}

fkex_err relay_store_autocheckpoint(relay_store *s, int on)
{
    return sqlite3_wal_autocheckpoint(s->db, on ? 1000 : 0) == SQLITE_OK ? FKEX_OK : FKEX_ERR_IO;
}

void relay_store_close(relay_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    free(s);
}

/* Resets and returns statement i, ready for binding. */
static sqlite3_stmt *stmt(relay_store *s, int i)
{
    sqlite3_reset(s->st[i]);
    sqlite3_clear_bindings(s->st[i]);
    return s->st[i];
}

static int bind_id(sqlite3_stmt *q, int col, const uint8_t id[32])
{
    return sqlite3_bind_blob(q, col, id, 32, SQLITE_STATIC);
}

static int bind_u64(sqlite3_stmt *q, int col, uint64_t v)
{
    /* Seqs and epochs stay below 2^63; UINT64_MAX ("none") saturates. */
    return sqlite3_bind_int64(q, col, v > INT64_MAX ? INT64_MAX : (sqlite3_int64)v);
}

/* Runs a statement that returns no rows. */
static fkex_err run(sqlite3_stmt *q)
{
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    if (rc == SQLITE_CONSTRAINT)
        return FKEX_ERR_REPLAY;
    return rc == SQLITE_DONE ? FKEX_OK : FKEX_ERR_IO;
}

/* One integer from a one-row query. */
static fkex_err scalar(sqlite3_stmt *q, uint64_t *v)
{
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *v = (uint64_t)sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    return rc == SQLITE_ROW ? FKEX_OK : FKEX_ERR_IO;
}

static int blob32(sqlite3_stmt *q, int col, uint8_t out[32])
{
    if (sqlite3_column_type(q, col) != SQLITE_BLOB || sqlite3_column_bytes(q, col) != 32)
        return -1;
    memcpy(out, sqlite3_column_blob(q, col), 32);
    return 0;
}

fkex_err relay_store_begin(relay_store *s)
{
    if (s->batch)
        return s->batch_failed ? FKEX_ERR_IO : run(stmt(s, S_SAVEPOINT));
    return run(stmt(s, S_BEGIN));
}

fkex_err relay_store_commit(relay_store *s)
{
    return run(stmt(s, s->batch ? S_RELEASE : S_COMMIT));
}

void relay_store_rollback(relay_store *s)
{
    if (sqlite3_get_autocommit(s->db)) {
        /* SQLite gave up the whole transaction (an I/O error, a full disk). */
        if (s->batch)
            s->batch_failed = 1;
        return;
    }
    if (!s->batch) {
        (void)run(stmt(s, S_ROLLBACK));
        return;
    }
    if (run(stmt(s, S_ROLLBACK_TO)) != FKEX_OK || run(stmt(s, S_RELEASE)) != FKEX_OK)
        s->batch_failed = 1;
}

fkex_err relay_store_batch_begin(relay_store *s)
{
    fkex_err err;
    if (s->batch)
        return FKEX_ERR_UNEXPECTED;
    if ((err = run(stmt(s, S_BEGIN))) != FKEX_OK)
        return err;
    s->batch = 1;
    s->batch_failed = 0;
    return FKEX_OK;
}

fkex_err relay_store_batch_end(relay_store *s)
{
    fkex_err err = FKEX_ERR_IO;
    if (!s->batch)
        return FKEX_ERR_UNEXPECTED;
    s->batch = 0;
    if (!s->batch_failed && !sqlite3_get_autocommit(s->db))
        err = run(stmt(s, S_COMMIT));
    if (err != FKEX_OK && !sqlite3_get_autocommit(s->db))
        (void)run(stmt(s, S_ROLLBACK));
    return err;
}

/* A copy of column col's blob in *out (malloc'd). */
static fkex_err blob_copy(sqlite3_stmt *q, int col, uint8_t **out, size_t *len)
{
    size_t n = (size_t)sqlite3_column_bytes(q, col);
    if (!(*out = malloc(n ? n : 1)))
        return FKEX_ERR_NO_MEMORY;
    if (n)
        memcpy(*out, sqlite3_column_blob(q, col), n);
    *len = n;
    return FKEX_OK;
}

/* ---- rooms ------------------------------------------------------------------------ */

fkex_err relay_store_room_insert(relay_store *s, const uint8_t room_id[32], const uint8_t *desc,
                                 size_t len)
{
    sqlite3_stmt *q = stmt(s, S_ROOM_INSERT);
    bind_id(q, 1, room_id);
    sqlite3_bind_blob(q, 2, desc, (int)len, SQLITE_STATIC);
    return run(q);
}

fkex_err relay_store_room_get(relay_store *s, const uint8_t room_id[32], uint64_t *epoch,
                              uint64_t *next_seq, uint8_t **desc, size_t *desclen)
{
    sqlite3_stmt *q = stmt(s, S_ROOM_GET);
    fkex_err err = FKEX_OK;
    bind_id(q, 1, room_id);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_DONE) {
        err = FKEX_ERR_WRONG_ROOM;
    } else if (rc != SQLITE_ROW) {
        err = FKEX_ERR_IO;
    } else {
        if (epoch)
            *epoch = (uint64_t)sqlite3_column_int64(q, 0);
        if (next_seq)
            *next_seq = (uint64_t)sqlite3_column_int64(q, 1);
        if (desc)
            err = blob_copy(q, 2, desc, desclen);
    }
    sqlite3_reset(q);
    return err;
}

fkex_err relay_store_room_set(relay_store *s, const uint8_t room_id[32], uint64_t epoch,
                              uint64_t next_seq)
{
    sqlite3_stmt *q = stmt(s, S_ROOM_SET);
    bind_id(q, 1, room_id);
    bind_u64(q, 2, epoch);
    bind_u64(q, 3, next_seq);
    fkex_err err = run(q);
    if (err == FKEX_OK && sqlite3_changes(s->db) != 1)
        return FKEX_ERR_WRONG_ROOM;
    return err;
}

fkex_err relay_store_rooms(relay_store *s, uint8_t (**ids)[32], size_t *n)
{
    sqlite3_stmt *q = stmt(s, S_ROOMS);
    uint8_t (*v)[32] = NULL;
    size_t cap = 0;
    int rc;
    *n = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            uint8_t (*t)[32] = realloc(v, cap * 32);
            if (!t) {
                free(v);
                sqlite3_reset(q);
                return FKEX_ERR_NO_MEMORY;
            }
            v = t;
        }
        if (blob32(q, 0, v[*n]) == 0)
            (*n)++;
    }
    sqlite3_reset(q);
    if (rc != SQLITE_DONE) {
        free(v);
        return FKEX_ERR_IO;
    }
    *ids = v;
    return FKEX_OK;
}

/* ---- members ---------------------------------------------------------------------- */

fkex_err relay_store_members_put(relay_store *s, const uint8_t room_id[32],
                                 const relay_member *m, uint32_t n)
{
    sqlite3_stmt *q = stmt(s, S_MEMBERS_DELETE);
    fkex_err err;
    bind_id(q, 1, room_id);
    if ((err = run(q)) != FKEX_OK)
        return err;
    for (uint32_t i = 0; i < n; i++) {
        q = stmt(s, S_MEMBER_INSERT);
        bind_id(q, 1, room_id);
        sqlite3_bind_blob(q, 2, m[i].v, 32, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, i);
        bind_u64(q, 4, m[i].since);
        sqlite3_bind_int(q, 5, m[i].kicked ? 2 : 1);
        if ((err = run(q)) != FKEX_OK)
            return err;
    }
    return FKEX_OK;
}

fkex_err relay_store_members_load(relay_store *s, const uint8_t room_id[32],
                                  relay_member **out, uint32_t *n)
{
    sqlite3_stmt *q = stmt(s, S_MEMBERS_LOAD);
    relay_member *m = NULL;
    uint32_t cap = 0;
    int rc;
    *n = 0;
    bind_id(q, 1, room_id);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            relay_member *t = realloc(m, cap * sizeof *t);
            if (!t) {
                free(m);
                sqlite3_reset(q);
                return FKEX_ERR_NO_MEMORY;
            }
            m = t;
        }
        if (blob32(q, 0, m[*n].v) != 0) {
            rc = SQLITE_CORRUPT;
            break;
        }
        m[*n].since = (uint64_t)sqlite3_column_int64(q, 1);
        m[*n].online = m[*n].connected = 0;
        m[(*n)++].kicked = sqlite3_column_int(q, 2) == 2;
    }
    sqlite3_reset(q);
    if (rc != SQLITE_DONE) {
        free(m);
        return FKEX_ERR_IO;
    }
    *out = m;
    return FKEX_OK;
}

/* ---- log -------------------------------------------------------------------------- */

fkex_err relay_store_log_append(relay_store *s, const uint8_t room_id[32], uint64_t seq,
                                const uint8_t *recipient, const uint8_t *frame, size_t len)
{
    sqlite3_stmt *q = stmt(s, S_LOG_APPEND);
    bind_id(q, 1, room_id);
    bind_u64(q, 2, seq);
    if (recipient)
        sqlite3_bind_blob(q, 3, recipient, 32, SQLITE_STATIC);
    sqlite3_bind_blob(q, 4, frame, (int)len, SQLITE_STATIC);
    return run(q);
}

fkex_err relay_store_log_replay(relay_store *s, const uint8_t room_id[32], const uint8_t v[32],
                                uint64_t after, uint64_t since, relay_store_frame_fn fn, void *ctx)
{
    sqlite3_stmt *q = stmt(s, S_LOG_REPLAY);
    fkex_err err = FKEX_OK;
    int rc;
    bind_id(q, 1, room_id);
    bind_u64(q, 2, after);
    sqlite3_bind_blob(q, 3, v, 32, SQLITE_STATIC);
    bind_u64(q, 4, since);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const uint8_t *f = sqlite3_column_blob(q, 1);
        size_t n = (size_t)sqlite3_column_bytes(q, 1);
        if ((err = fn(ctx, (uint64_t)sqlite3_column_int64(q, 0), f, n)) != FKEX_OK)
            break;
    }
    sqlite3_reset(q);
    if (err == FKEX_OK && rc != SQLITE_DONE)
        err = FKEX_ERR_IO;
    return err;
}

fkex_err relay_store_log_count(relay_store *s, const uint8_t room_id[32], uint64_t seq,
                               uint64_t *n)
{
    sqlite3_stmt *q = stmt(s, S_LOG_COUNT);
    bind_id(q, 1, room_id);
    bind_u64(q, 2, seq);
    return scalar(q, n);
}

fkex_err relay_store_log_first(relay_store *s, const uint8_t room_id[32], uint64_t *seq)
{
    sqlite3_stmt *q = stmt(s, S_LOG_FIRST);
    bind_id(q, 1, room_id);
    return scalar(q, seq);
}

fkex_err relay_store_log_prune(relay_store *s, const uint8_t room_id[32], uint64_t below)
{
    sqlite3_stmt *q = stmt(s, S_LOG_PRUNE);
    bind_id(q, 1, room_id);
    bind_u64(q, 2, below);
    return run(q);
}

/* ---- settled commits, candidates and held Welcomes ---------------------------------- */

static fkex_err commit_put(relay_store *s, const uint8_t room_id[32], uint64_t epoch,
                           const uint8_t hash[32], int won, uint64_t seq)
{
    sqlite3_stmt *q = stmt(s, S_SETTLED_PUT);
    bind_id(q, 1, room_id);
    bind_id(q, 2, hash);
    bind_u64(q, 3, epoch);
    sqlite3_bind_int(q, 4, won);
    bind_u64(q, 5, seq);
    return run(q);
}

fkex_err relay_store_settled_put(relay_store *s, const uint8_t room_id[32], uint64_t epoch,
                                 const uint8_t hash[32], uint64_t seq, const uint8_t (*lost)[32],
                                 size_t nlost)
{
    fkex_err err = commit_put(s, room_id, epoch, hash, 1, seq);
    for (size_t i = 0; i < nlost && err == FKEX_OK; i++)
        err = commit_put(s, room_id, epoch, lost[i], 0, 0);
    return err;
}

fkex_err relay_store_settled_get(relay_store *s, const uint8_t room_id[32], uint64_t epoch,
                                 uint8_t hash[32], int *found, uint8_t (**lost)[32],
                                 size_t *nlost)
{
    sqlite3_stmt *q = stmt(s, S_SETTLED_GET);
    uint8_t (*l)[32] = NULL;
    size_t n = 0;
    fkex_err err = FKEX_OK;
    int rc;
    *found = 0;
    bind_id(q, 1, room_id);
    bind_u64(q, 2, epoch);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        uint8_t h[32];
        if (blob32(q, 0, h) != 0) {
            err = FKEX_ERR_IO;
            break;
        }
        if (sqlite3_column_int(q, 1)) {
            memcpy(hash, h, 32);
            *found = 1;
            continue;
        }
        void *t = realloc(l, (n + 1) * sizeof *l);
        if (!t) {
            err = FKEX_ERR_NO_MEMORY;
            break;
        }
        l = t;
        memcpy(l[n++], h, 32);
    }
    sqlite3_reset(q);
    if (err == FKEX_OK && rc != SQLITE_DONE)
        err = FKEX_ERR_IO;
    if (err != FKEX_OK) {
        free(l);
        return err;
    }
    *lost = l;
    *nlost = n;
    return FKEX_OK;
}

fkex_err relay_store_candidates_put(relay_store *s, const uint8_t room_id[32],
                                    const relay_candidate *c, size_t n)
{
    sqlite3_stmt *q = stmt(s, S_CANDIDATES_DELETE);
    fkex_err err;
    bind_id(q, 1, room_id);
    if ((err = run(q)) != FKEX_OK)
        return err;
    for (size_t i = 0; i < n && err == FKEX_OK; i++) {
        q = stmt(s, S_CANDIDATE_PUT);
        bind_id(q, 1, room_id);
        bind_id(q, 2, c[i].hash);
        bind_u64(q, 3, c[i].epoch);
        sqlite3_bind_blob(q, 4, c[i].bytes, (int)c[i].len, SQLITE_STATIC);
        sqlite3_bind_int64(q, 5, c[i].committer);
        sqlite3_bind_int64(q, 6, (sqlite3_int64)i);
        err = run(q);
    }
    return err;
}

fkex_err relay_store_candidates_load(relay_store *s, const uint8_t room_id[32],
                                     relay_candidate **out, size_t *n)
{
    sqlite3_stmt *q = stmt(s, S_CANDIDATES_LOAD);
    relay_candidate *c = NULL;
    size_t cap = 0;
    fkex_err err = FKEX_OK;
    int rc;
    *n = 0;
    bind_id(q, 1, room_id);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            relay_candidate *t = realloc(c, cap * sizeof *t);
            if (!t) {
                err = FKEX_ERR_NO_MEMORY;
                break;
            }
            c = t;
        }
        relay_candidate *e = &c[*n];
        if (blob32(q, 0, e->hash) != 0) {
            err = FKEX_ERR_IO;
            break;
        }
        e->epoch = (uint64_t)sqlite3_column_int64(q, 1);
        e->committer = (uint32_t)sqlite3_column_int64(q, 2);
        if ((err = blob_copy(q, 3, &e->bytes, &e->len)) != FKEX_OK)
            break;
        (*n)++;
    }
    sqlite3_reset(q);
    if (err == FKEX_OK && rc != SQLITE_DONE)
        err = FKEX_ERR_IO;
    if (err != FKEX_OK) {
        relay_rules_free_candidates(c, *n);
        *n = 0;
        return err;
    }
    *out = c;
    return FKEX_OK;
}

fkex_err relay_store_held_put(relay_store *s, const uint8_t room_id[32], const relay_held *h,
                              size_t n)
{
    sqlite3_stmt *q = stmt(s, S_HELD_DELETE);
    fkex_err err;
    bind_id(q, 1, room_id);
    if ((err = run(q)) != FKEX_OK)
        return err;
    for (size_t i = 0; i < n && err == FKEX_OK; i++) {
        q = stmt(s, S_HELD_PUT);
        bind_id(q, 1, room_id);
        bind_id(q, 2, h[i].commit_hash);
        bind_id(q, 3, h[i].to);
        sqlite3_bind_blob(q, 4, h[i].bytes, (int)h[i].len, SQLITE_STATIC);
        err = run(q);
    }
    return err;
}

fkex_err relay_store_held_load(relay_store *s, const uint8_t room_id[32], relay_held **out,
                               size_t *n)
{
    sqlite3_stmt *q = stmt(s, S_HELD_LOAD);
    relay_held *h = NULL;
    size_t cap = 0;
    fkex_err err = FKEX_OK;
    int rc;
    *n = 0;
    bind_id(q, 1, room_id);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            relay_held *t = realloc(h, cap * sizeof *t);
            if (!t) {
                err = FKEX_ERR_NO_MEMORY;
                break;
            }
            h = t;
        }
        relay_held *e = &h[*n];
        if (blob32(q, 0, e->commit_hash) != 0 || blob32(q, 1, e->to) != 0) {
            err = FKEX_ERR_IO;
            break;
        }
        if ((err = blob_copy(q, 2, &e->bytes, &e->len)) != FKEX_OK)
            break;
        (*n)++;
    }
    sqlite3_reset(q);
    if (err == FKEX_OK && rc != SQLITE_DONE)
        err = FKEX_ERR_IO;
    if (err != FKEX_OK) {
        relay_rules_free_held(h, *n);
        *n = 0;
        return err;
    }
    *out = h;
    return FKEX_OK;
}

/* ---- pending joins ---------------------------------------------------------------- */

fkex_err relay_store_join_put(relay_store *s, const uint8_t room_id[32], const relay_join *j)
{
    sqlite3_stmt *q = stmt(s, S_JOIN_PUT);
    bind_id(q, 1, room_id);
    bind_id(q, 2, j->joiner_id);
    bind_id(q, 3, j->v);
    if (j->has_sponsor)
        bind_id(q, 4, j->sponsor);
    sqlite3_bind_int(q, 5, j->state);
    bind_u64(q, 6, j->sent_at);
    sqlite3_bind_blob(q, 7, j->request, (int)j->request_len, SQLITE_STATIC);
    return run(q);
}

fkex_err relay_store_join_delete(relay_store *s, const uint8_t room_id[32],
                                 const uint8_t joiner_id[32])
{
    sqlite3_stmt *q = stmt(s, S_JOIN_DELETE);
    bind_id(q, 1, room_id);
    bind_id(q, 2, joiner_id);
    return run(q);
}

fkex_err relay_store_joins_load(relay_store *s, const uint8_t room_id[32], relay_join **out,
                                size_t *n)
{
    sqlite3_stmt *q = stmt(s, S_JOINS_LOAD);
    relay_join *j = NULL;
    size_t cap = 0;
    fkex_err err = FKEX_OK;
    int rc;
    *n = 0;
    bind_id(q, 1, room_id);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            relay_join *t = realloc(j, cap * sizeof *t);
            if (!t) {
                err = FKEX_ERR_NO_MEMORY;
                break;
            }
            j = t;
        }
        relay_join *e = &j[*n];
        memset(e, 0, sizeof *e);
        if (blob32(q, 0, e->joiner_id) || blob32(q, 1, e->v)) {
            err = FKEX_ERR_IO;
            break;
        }
        e->has_sponsor = blob32(q, 2, e->sponsor) == 0;
        e->state = sqlite3_column_int(q, 3);
        e->sent_at = (uint64_t)sqlite3_column_int64(q, 4);
        e->request_len = (size_t)sqlite3_column_bytes(q, 5);
        if (!(e->request = malloc(e->request_len ? e->request_len : 1))) {
            err = FKEX_ERR_NO_MEMORY;
            break;
        }
        if (e->request_len)
            memcpy(e->request, sqlite3_column_blob(q, 5), e->request_len);
        (*n)++;
    }
    sqlite3_reset(q);
    if (err == FKEX_OK && rc != SQLITE_DONE)
        err = FKEX_ERR_IO;
    if (err != FKEX_OK) {
        for (size_t i = 0; i < *n; i++)
            free(j[i].request);
        free(j);
        *n = 0;
        return err;
    }
    *out = j;
    return FKEX_OK;
}

/* ---- descriptors ------------------------------------------------------------------ */

fkex_err relay_store_descriptor_set(relay_store *s, const uint8_t room_id[32], const uint8_t *desc,
                                    size_t len)
{
    sqlite3_stmt *q = stmt(s, S_DESCRIPTOR_SET);
    bind_id(q, 1, room_id);
    sqlite3_bind_blob(q, 2, desc, (int)len, SQLITE_STATIC);
    fkex_err err = run(q);
    if (err == FKEX_OK && sqlite3_changes(s->db) != 1)
        return FKEX_ERR_WRONG_ROOM;
    return err;
}

fkex_err relay_store_pending_put(relay_store *s, const uint8_t room_id[32], const uint8_t *desc,
                                 size_t len)
{
    sqlite3_stmt *q = stmt(s, S_PENDING_PUT);
    bind_id(q, 1, room_id);
    sqlite3_bind_blob(q, 2, desc, (int)len, SQLITE_STATIC);
    return run(q);
}

fkex_err relay_store_pending_get(relay_store *s, const uint8_t room_id[32], uint8_t **desc,
                                 size_t *len)
{
    sqlite3_stmt *q = stmt(s, S_PENDING_GET);
    fkex_err err = FKEX_OK;
    *desc = NULL;
    *len = 0;
    bind_id(q, 1, room_id);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        err = blob_copy(q, 0, desc, len);
    else if (rc != SQLITE_DONE)
        err = FKEX_ERR_IO;
    sqlite3_reset(q);
    return err;
}

fkex_err relay_store_pending_delete(relay_store *s, const uint8_t room_id[32])
{
    sqlite3_stmt *q = stmt(s, S_PENDING_DELETE);
    bind_id(q, 1, room_id);
    return run(q);
}

/* ---- seed-mode rooms ---------------------------------------------------------------- */

fkex_err relay_store_seed_put(relay_store *s, const uint8_t room_id[32], uint32_t next_index,
                              uint32_t idx, const uint8_t *ct, size_t len)
{
    sqlite3_stmt *q = stmt(s, S_SEED_ENTRY_PUT);
    fkex_err err;
    bind_id(q, 1, room_id);
    sqlite3_bind_int64(q, 2, idx);
    sqlite3_bind_blob(q, 3, ct, (int)len, SQLITE_STATIC);
    if ((err = run(q)) != FKEX_OK)
        return err;
    q = stmt(s, S_SEED_NEXT_PUT);
    bind_id(q, 1, room_id);
    sqlite3_bind_int64(q, 2, next_index);
    return run(q);
}

fkex_err relay_store_seed_delete(relay_store *s, const uint8_t room_id[32], uint32_t idx)
{
    sqlite3_stmt *q = stmt(s, S_SEED_ENTRY_DELETE);
    bind_id(q, 1, room_id);
    sqlite3_bind_int64(q, 2, idx);
    return run(q);
}

fkex_err relay_store_seed_load(relay_store *s, const uint8_t room_id[32], uint32_t *next_index,
                               relay_store_seed_fn fn, void *ctx)
{
    sqlite3_stmt *q = stmt(s, S_SEED_NEXT_GET);
    fkex_err err = FKEX_OK;
    bind_id(q, 1, room_id);
    int rc = sqlite3_step(q);
    *next_index = rc == SQLITE_ROW ? (uint32_t)sqlite3_column_int64(q, 0) : 0;
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return FKEX_ERR_IO;
    q = stmt(s, S_SEED_ENTRIES);
    bind_id(q, 1, room_id);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const uint8_t *ct = sqlite3_column_blob(q, 1);
        size_t n = (size_t)sqlite3_column_bytes(q, 1);
        if ((err = fn(ctx, (uint32_t)sqlite3_column_int64(q, 0), ct, n)) != FKEX_OK)
            break;
    }
    sqlite3_reset(q);
    if (err == FKEX_OK && rc != SQLITE_DONE)
        err = FKEX_ERR_IO;
    return err;
}
