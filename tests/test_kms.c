/*
 * The key authority: the token codec, the sealed secrets, the SQLite store
 * (single use, also when two connections race), the enrolment protocol as
 * functions over bytes; then end to end, the real binary ($FKEX_BIN) as
 * `kms serve` daemons on 127.0.0.1 with free ports and `enroll` clients.
 *
 * Every child is waited for with a deadline and killed if it overstays;
 * every daemon a case starts is killed when the case ends, pass or fail.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sqlite3.h>
#include <time.h>
#include <unistd.h>
#include "test.h"
#include "kms/kms.h"

#define PASS "correct horse battery staple"
#define CHILD_SECONDS 60.0

/* ---- unit tests -------------------------------------------------------------- */

/* For store tests that never reach the authority's grant check. */
static const uint8_t no_grant[32];

static void sample_token(fkex_token *t, const char *label)
{
    fkex_rng rng;
    memset(t, 0, sizeof *t);
    test_rng(&rng, label);
    strcpy(t->addr, "127.0.0.1:7700");
    fkex_rng_fill(&rng, t->pin, 32);
    fkex_rng_fill(&rng, t->id, sizeof t->id);
    fkex_rng_fill(&rng, t->secret, sizeof t->secret);
    t->expires_at = 1900000000;
}

static void kms_token_roundtrip(void)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    fkex_token t, u;
    char text[FKEX_TOKEN_TEXT_MAX], bad[FKEX_TOKEN_TEXT_MAX + 8];
    size_t n;
    sample_token(&t, "token");
    CHECK_OK(fkex_token_encode(text, sizeof text, &t));
    CHECK(strncmp(text, "fkex1-", 6) == 0);
    CHECK_OK(fkex_token_decode(&u, text, strlen(text)));
    CHECK(memcmp(&t, &u, sizeof t) == 0);
    /* white space around it is fine (copied from a terminal) */
    snprintf(bad, sizeof bad, "  %s\n", text);
    CHECK_OK(fkex_token_decode(&u, bad, strlen(bad)));
    CHECK(memcmp(&t, &u, sizeof t) == 0);
    n = strlen(text);
    /* every character changed to every other one of the alphabet: refused */
    for (size_t i = 0; i < n; i++) {
        for (size_t a = 0; a < sizeof alphabet - 1; a += 7) {
            memcpy(bad, text, n + 1);
            if (bad[i] == alphabet[a])
                continue;
            bad[i] = alphabet[a];
            fkex_err err = fkex_token_decode(&u, bad, n);
            CHECK(err != FKEX_OK);
            if (err == FKEX_OK)
                fprintf(stderr, "    position %zu -> %c accepted\n", i, alphabet[a]);
        }
    }
    /* a byte outside ASCII anywhere (libsodium 1.0.18 reads them as '_') */
    for (size_t i = 0; i < n; i++) {
        memcpy(bad, text, n + 1);
        bad[i] = (char)0x97;
        CHECK(fkex_token_decode(&u, bad, n) != FKEX_OK);
    }
    /* every truncation, and an extra character */
    for (size_t k = 0; k < n; k++)
        CHECK(fkex_token_decode(&u, text, k) != FKEX_OK);
    memcpy(bad, text, n);
    bad[n] = 'A';
    CHECK(fkex_token_decode(&u, bad, n + 1) != FKEX_OK);
    CHECK_ERR(fkex_token_decode(&u, "fkex2-AAAA", 10), FKEX_ERR_UNSUPPORTED);
    /* an address the token may not carry */
    strcpy(t.addr, "127.0.0.1:0");
    CHECK_ERR(fkex_token_encode(text, sizeof text, &t), FKEX_ERR_ARGUMENT);
    strcpy(t.addr, "127.0.0.1:7700");
    CHECK_ERR(fkex_token_encode(text, 20, &t), FKEX_ERR_ARGUMENT);
}

/* Every byte of the binary body flipped, the base64 re-made around it. */
static void kms_token_bytes(void)
{
    fkex_token t, u;
    char text[FKEX_TOKEN_TEXT_MAX], bad[FKEX_TOKEN_TEXT_MAX];
    uint8_t body[512];
    size_t blen;
    sample_token(&t, "token bytes");
    CHECK_OK(fkex_token_encode(text, sizeof text, &t));
    CHECK(sodium_base642bin(body, sizeof body, text + 6, strlen(text + 6), NULL, &blen, NULL,
                            sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0);
    for (size_t i = 0; i < blen; i++) {
        for (int bit = 0; bit < 8; bit++) {
            body[i] ^= (uint8_t)(1 << bit);
            memcpy(bad, "fkex1-", 6);
            sodium_bin2base64(bad + 6, sizeof bad - 6, body, blen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
            CHECK(fkex_token_decode(&u, bad, strlen(bad)) != FKEX_OK);
            body[i] ^= (uint8_t)(1 << bit);
        }
    }
}

static void kms_addr(void)
{
    static const char *const good[] = { "127.0.0.1:7700", "localhost:1", "[::1]:65535", "kms.example.org:443" };
    static const char *const bad[] = { "", ":7700", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536",
                                       "127.0.0.1:07700", "127.0.0.1:0", "a b:1", "[::1:1", "[]:1",
                                       "-x:1", "127.0.0.1:1x", "h\n:1" };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(good); i++)
        CHECK(fkex_addr_check(good[i], 0) == 0);
    for (size_t i = 0; i < FKEX_ARRAY_LEN(bad); i++)
        CHECK(fkex_addr_check(bad[i], 0) != 0);
    CHECK(fkex_addr_check("127.0.0.1:0", 1) == 0);
}

static void kms_sealed(void)
{
    fkex_rng rng;
    uint8_t secret[100], *sealed, *pt;
    size_t len, ptlen;
    test_rng(&rng, "sealed");
    fill(secret, sizeof secret, 7);
    CHECK_OK(fkex_sealed_encode(&sealed, &len, secret, sizeof secret, PASS, strlen(PASS), &rng));
    CHECK_OK(fkex_sealed_decode(&pt, &ptlen, sealed, len, PASS, strlen(PASS)));
    CHECK(ptlen == sizeof secret && memcmp(pt, secret, ptlen) == 0);
    sodium_free(pt);
    CHECK_ERR(fkex_sealed_decode(&pt, &ptlen, sealed, len, "wrong", 5), FKEX_ERR_AUTHENTICATION);
    CHECK(pt == NULL);
    /* one flipped bit in each part: magic, version, kdf, limits, salt,
     * nonce, length, ciphertext, tag (each try costs an Argon2id run) */
    static const size_t where[] = { 0, 8, 9, 13, 20, 22, 40, 65, 66, 100, 120 };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(where); i++) {
        if (where[i] >= len)
            continue;
        sealed[where[i]] ^= 1;
        CHECK(fkex_sealed_decode(&pt, &ptlen, sealed, len, PASS, strlen(PASS)) != FKEX_OK);
        CHECK(pt == NULL);
        sealed[where[i]] ^= 1;
    }
    for (size_t k = 0; k < len; k += k < 70 ? 1 : 37)
        CHECK(fkex_sealed_decode(&pt, &ptlen, sealed, k, PASS, strlen(PASS)) != FKEX_OK);
    free(sealed);
}

static const char *scratch(const char *name)
{
    static char ring[8][512];
    static unsigned next;
    char *p = ring[next++ % 8];
    snprintf(p, 512, "%s/%s", test_tmpdir(), name);
    return p;
}

static void kms_store_single_use(void)
{
    fkex_kms_store *a, *b;
    fkex_token t, other;
    fkex_enrol_status st;
    fkex_token_grant g;
    char *attrs, *identity, err[128];
    int won;
    const char *path = scratch("store.db");
    sample_token(&t, "store");
    sample_token(&other, "store other");
    CHECK_OK(fkex_store_open(&a, path, 1, err));
    CHECK_ERR(fkex_store_open(&b, path, 1, err), FKEX_ERR_IO);   /* never over a file */
    CHECK_OK(fkex_store_open(&b, path, 0, err));
    {
        struct stat sb;
        CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    }
    CHECK_OK(fkex_store_token_add(a, &t, "ONE TWO", NULL, NULL, 1000, no_grant));
    /* unknown id, wrong secret: the same answer */
    CHECK_OK(fkex_store_token_check(a, &st, &attrs, &identity, &g, other.id, t.secret, 1001));
    CHECK(st == FKEX_ENROL_UNKNOWN && attrs == NULL);
    CHECK_OK(fkex_store_token_check(a, &st, &attrs, &identity, &g, t.id, other.secret, 1001));
    CHECK(st == FKEX_ENROL_UNKNOWN && attrs == NULL);
    CHECK_OK(fkex_store_token_check(a, &st, &attrs, &identity, &g, t.id, t.secret, t.expires_at));
    CHECK(st == FKEX_ENROL_EXPIRED && attrs == NULL);
    /* both connections may issue; exactly one uses the token up */
    CHECK_OK(fkex_store_token_check(a, &st, &attrs, &identity, &g, t.id, t.secret, 1001));
    CHECK(st == FKEX_ENROL_ISSUED && attrs && strcmp(attrs, "ONE TWO") == 0);
    CHECK(identity == NULL);
    free(attrs);
    CHECK_OK(fkex_store_token_check(b, &st, &attrs, &identity, &g, t.id, t.secret, 1001));
    CHECK(st == FKEX_ENROL_ISSUED);
    free(attrs);
    CHECK_OK(fkex_store_token_use(b, &won, t.id, "ONE TWO", NULL, 1002));
    CHECK(won == 1);
    CHECK_OK(fkex_store_token_use(a, &won, t.id, "ONE TWO", NULL, 1002));
    CHECK(won == 0);
    CHECK_OK(fkex_store_token_check(a, &st, &attrs, &identity, &g, t.id, t.secret, 1003));
    CHECK(st == FKEX_ENROL_USED && attrs == NULL);
    /* an expired token cannot be used up either */
    CHECK_OK(fkex_store_token_add(a, &other, "X", NULL, "2026-12", 1000, no_grant));
    CHECK_OK(fkex_store_token_use(a, &won, other.id, "X", NULL, other.expires_at));
    CHECK(won == 0);
    /* a token for an identity (and no attributes): the identity comes back,
     * and the audit row records it */
    {
        fkex_token u;
        sqlite3 *db;
        sqlite3_stmt *q;
        sample_token(&u, "store identity");
        CHECK_OK(fkex_store_token_add(a, &u, "", "carol@example.org", NULL, 1000, no_grant));
        CHECK_OK(fkex_store_token_check(a, &st, &attrs, &identity, &g, u.id, u.secret, 1001));
        CHECK(st == FKEX_ENROL_ISSUED && attrs && attrs[0] == '\0');
        CHECK(identity && strcmp(identity, "carol@example.org") == 0);
        CHECK_OK(fkex_store_token_use(a, &won, u.id, attrs, identity, 1002));
        CHECK(won == 1);
        free(attrs);
        free(identity);
        CHECK(sqlite3_open(path, &db) == SQLITE_OK);
        CHECK(sqlite3_prepare_v2(db, "SELECT identity FROM audit WHERE identity IS NOT NULL", -1, &q,
                                 NULL) == SQLITE_OK);
        CHECK(sqlite3_step(q) == SQLITE_ROW &&
              strcmp((const char *)sqlite3_column_text(q, 0), "carol@example.org") == 0);
        CHECK(sqlite3_step(q) == SQLITE_DONE);
        sqlite3_finalize(q);
        sqlite3_close(db);
    }
    fkex_store_close(a);
    fkex_store_close(b);
}

/* A database from before identity-based keys and grants gains their
 * columns when opened; its new tokens keep their grants, and its old rows
 * have none (so the authority refuses them). */
static void kms_store_migrates(void)
{
    const char *path = scratch("old.db");
    fkex_kms_store *s;
    fkex_token t;
    fkex_enrol_status st;
    char *attrs, *identity, err[128];
    uint8_t grant[32];
    fkex_token_grant g;
    sqlite3 *db;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
                       "CREATE TABLE tokens (id TEXT PRIMARY KEY, secret_hash BLOB NOT NULL,"
                       " attrs TEXT NOT NULL, key_expires TEXT, expires_at INTEGER NOT NULL,"
                       " created_at INTEGER NOT NULL, used_at INTEGER);"
                       "CREATE TABLE audit (token_id TEXT NOT NULL, attrs TEXT NOT NULL,"
                       " issued_at INTEGER NOT NULL);"
                       "INSERT INTO tokens VALUES ('00000000000000000000000000000000', x'00',"
                       " 'OLD', NULL, 1900000000, 1, NULL);",
                       NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK_OK(fkex_store_open(&s, path, 0, err));
    sample_token(&t, "migrated");
    memset(grant, 7, sizeof grant);
    CHECK_OK(fkex_store_token_add(s, &t, "ONE", "dave@example.org", NULL, 1000, grant));
    CHECK_OK(fkex_store_token_check(s, &st, &attrs, &identity, &g, t.id, t.secret, 1001));
    CHECK(st == FKEX_ENROL_ISSUED && identity && strcmp(identity, "dave@example.org") == 0);
    CHECK(g.present && memcmp(g.mac, grant, 32) == 0 && g.expires_at == t.expires_at);
    free(attrs);
    free(identity);
    {   /* the old row has no grant, so kms serve refuses it */
        sqlite3_stmt *q;
        CHECK(sqlite3_open(path, &db) == SQLITE_OK);
        CHECK(sqlite3_prepare_v2(db, "SELECT grant_mac FROM tokens WHERE attrs = 'OLD'", -1, &q,
                                 NULL) == SQLITE_OK);
        CHECK(sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) == SQLITE_NULL);
        sqlite3_finalize(q);
        sqlite3_close(db);
    }
    fkex_store_close(s);
    /* Opening again finds the columns there. */
    CHECK_OK(fkex_store_open(&s, path, 0, err));
    fkex_store_close(s);
}

/* Two threads, two connections, one token, released together. */
typedef struct {
    const char *path;
    const fkex_token *t;
    pthread_barrier_t *go;
    int won;
    fkex_err err;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    fkex_kms_store *s;
    char msg[128];
    r->err = fkex_store_open(&s, r->path, 0, msg);
    pthread_barrier_wait(r->go);
    if (r->err == FKEX_OK) {
        r->err = fkex_store_token_use(s, &r->won, r->t->id, "RACE", NULL, 2000);
        fkex_store_close(s);
    }
    return NULL;
}

static void kms_store_race(void)
{
    const char *path = scratch("race.db");
    fkex_kms_store *s;
    char msg[128];
    int total = 0;
    CHECK_OK(fkex_store_open(&s, path, 1, msg));
    for (int round = 0; round < 20; round++) {
        fkex_token t;
        char label[32];
        pthread_barrier_t go;
        pthread_t th[2];
        racer r[2];
        snprintf(label, sizeof label, "race %d", round);
        sample_token(&t, label);
        CHECK_OK(fkex_store_token_add(s, &t, "RACE", NULL, NULL, 1000, no_grant));
        pthread_barrier_init(&go, NULL, 2);
        for (int i = 0; i < 2; i++) {
            r[i] = (racer){ path, &t, &go, 0, FKEX_OK };
            pthread_create(&th[i], NULL, race, &r[i]);
        }
        for (int i = 0; i < 2; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&go);
        CHECK(r[0].err == FKEX_OK && r[1].err == FKEX_OK);
        CHECK(r[0].won + r[1].won == 1);
        total += r[0].won + r[1].won;
    }
    /* the audit has one row per win */
    {
        sqlite3 *db;
        sqlite3_stmt *q;
        CHECK(sqlite3_open(path, &db) == SQLITE_OK);
        CHECK(sqlite3_prepare_v2(db, "SELECT count(*) FROM audit", -1, &q, NULL) == SQLITE_OK);
        CHECK(sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == total);
        sqlite3_finalize(q);
        sqlite3_close(db);
    }
    fkex_store_close(s);
}

/* A new authority, opened with its passphrase (and not with another);
 * its enrolment key into pk. */
static void authority(fkex_kms **k, uint8_t pk[32], fkex_rng *rng)
{
    uint8_t *sealed, *mpk;
    size_t sealedlen, mpklen;
    CHECK_OK(fkex_kms_create(&sealed, &sealedlen, &mpk, &mpklen, pk, FKEX_ABE_DEFAULT_SCHEME, PASS,
                                    strlen(PASS), rng));
    CHECK_ERR(fkex_kms_open(k, sealed, sealedlen, "nope", 4), FKEX_ERR_AUTHENTICATION);
    CHECK_OK(fkex_kms_open(k, sealed, sealedlen, PASS, strlen(PASS)));
    free(sealed);
    fkex_bytes_free(mpk, mpklen);
}

/* A token row as kms token writes it: granted by k. */
static void add_granted(fkex_kms_store *st, const fkex_kms *k, const fkex_token *t,
                        const char *attrs, const char *identity)
{
    uint8_t hash[32], grant[32];
    crypto_hash_sha256(hash, t->secret, sizeof t->secret);
    CHECK_OK(fkex_kms_grant_mac(grant, k, t->id, hash, t->expires_at, attrs, identity));
    CHECK_OK(fkex_store_token_add(st, t, attrs, identity, NULL, 1000, grant));
}

/* A token written into kms.db by someone without the passphrase (no grant,
 * another authority's, a grant for less than the row now says, or fields
 * too long to MAC beside a MAC of zeros) is refused as unknown, and the
 * authority's report says why. */
static void kms_ungranted(void)
{
    fkex_rng rng;
    uint8_t pk[32], pk2[32], req[FKEX_ENROL_REQUEST_BYTES], *reply;
    uint8_t hash[32], grant[32];
    size_t replylen;
    fkex_kms *k, *k2;
    fkex_kms_store *st;
    fkex_kms_report rep;
    fkex_enrol_client c;
    fkex_token t;
    char msg[128];

    test_rng(&rng, "ungranted");
    authority(&k, pk, &rng);
    authority(&k2, pk2, &rng);
    CHECK_OK(fkex_store_open(&st, scratch("ungranted.db"), 1, msg));

    /* ONE ADMIN and 70,000 spaces: too long to MAC, and keygen would read
     * it as ONE ADMIN */
    char *padded = malloc(70010);
    CHECK(padded != NULL);
    if (!padded)
        return;
    memset(padded, ' ', 70009);
    memcpy(padded, "ONE ADMIN", 9);
    padded[70009] = '\0';
    for (int how = 0; how < 6; how++) {
        static const char *const row_attrs[] = { "ONE", "ONE", "ONE ADMIN", "ONE", NULL, "ONE" };
        static const char *const row_identity[] = { NULL, NULL, NULL, "root@example.org", NULL, "" };
        char label[32];
        snprintf(label, sizeof label, "ungranted %d", how);
        sample_token(&t, label);
        fkex_enrol_pin(t.pin, pk);
        crypto_hash_sha256(hash, t.secret, sizeof t.secret);
        if (how == 0 || how == 4)   /* none (a MAC of zeros) */
            memset(grant, 0, sizeof grant);
        else if (how == 1)   /* another authority's */
            CHECK_OK(fkex_kms_grant_mac(grant, k2, t.id, hash, t.expires_at, "ONE", NULL));
        else   /* granted ONE alone; the row says ONE ADMIN (2), adds an identity (3, 5) */
            CHECK_OK(fkex_kms_grant_mac(grant, k, t.id, hash, t.expires_at, "ONE", NULL));
        CHECK_OK(fkex_store_token_add(st, &t, how == 4 ? padded : row_attrs[how], row_identity[how],
                                      NULL, 1000, grant));
        CHECK_OK(fkex_enrol_request_seal(req, &c, pk, &t, &rng));
        CHECK_OK(fkex_kms_answer(&reply, &replylen, &rep, k, st, req, sizeof req, 1001, &rng));
        CHECK(rep.type == FKEX_ENROL_REQUEST && rep.status == FKEX_ENROL_UNKNOWN && rep.ungranted);
        free(reply);
        fkex_enrol_client_wipe(&c);
    }
    /* and the same token granted is honoured */
    sample_token(&t, "granted");
    fkex_enrol_pin(t.pin, pk);
    add_granted(st, k, &t, "ONE", NULL);
    CHECK_OK(fkex_enrol_request_seal(req, &c, pk, &t, &rng));
    CHECK_OK(fkex_kms_answer(&reply, &replylen, &rep, k, st, req, sizeof req, 1001, &rng));
    CHECK(rep.status == FKEX_ENROL_ISSUED && !rep.ungranted);
    free(reply);
    fkex_enrol_client_wipe(&c);

    free(padded);
    fkex_store_close(st);
    fkex_kms_free(k);
    fkex_kms_free(k2);
}

/* The whole enrolment, over bytes: client, authority, store. */
static void kms_enrol_protocol(void)
{
    fkex_rng rng;
    uint8_t pk[32], pk2[32], hello[FKEX_ENROL_HEADER], req[FKEX_ENROL_REQUEST_BYTES];
    uint8_t *reply, *key;
    size_t replylen, keylen;
    fkex_kms *k, *k2;
    fkex_kms_store *st;
    fkex_kms_report rep;
    fkex_enrol_client c;
    fkex_enrol_status status;
    fkex_token t;
    char msg[128];

    test_rng(&rng, "enrol");
    authority(&k, pk, &rng);
    authority(&k2, pk2, &rng);
    CHECK_OK(fkex_store_open(&st, scratch("enrol.db"), 1, msg));

    sample_token(&t, "enrol token");
    fkex_enrol_pin(t.pin, pk);
    add_granted(st, k, &t, "ONE TWO year=5", "alice@example.org");

    /* HELLO gives the enrolment key */
    fkex_enrol_hello(hello);
    CHECK_OK(fkex_kms_answer(&reply, &replylen, &rep, k, st, hello, sizeof hello, 1001, &rng));
    uint8_t got[32];
    CHECK_OK(fkex_enrol_key_decode(got, reply, replylen));
    CHECK(memcmp(got, pk, 32) == 0 && rep.type == FKEX_ENROL_HELLO);
    free(reply);

    /* the other authority's key does not match the pin: nothing is sealed */
    CHECK_ERR(fkex_enrol_request_seal(req, &c, pk2, &t, &rng), FKEX_ERR_WRONG_AUTHORITY);

    /* a request sealed to another key does not open: an unauthenticated refusal */
    {
        fkex_token t2 = t;
        fkex_enrol_pin(t2.pin, pk2);
        CHECK_OK(fkex_enrol_request_seal(req, &c, pk2, &t2, &rng));
        CHECK_OK(fkex_kms_answer(&reply, &replylen, &rep, k, st, req, sizeof req, 1001, &rng));
        CHECK(rep.status == FKEX_ENROL_MALFORMED);
        CHECK_OK(fkex_enrol_reply_open(&status, &key, &keylen, &c, reply, replylen));
        CHECK(status == FKEX_ENROL_MALFORMED && key == NULL);
        free(reply);
    }

    /* every byte of a request flipped: refused, and the token not spent */
    CHECK_OK(fkex_enrol_request_seal(req, &c, pk, &t, &rng));
    for (size_t i = 0; i < sizeof req; i++) {
        req[i] ^= 0x40;
        CHECK_OK(fkex_kms_answer(&reply, &replylen, &rep, k, st, req, sizeof req, 1001, &rng));
        CHECK(rep.status == FKEX_ENROL_MALFORMED);
        free(reply);
        req[i] ^= 0x40;
    }
    for (size_t n = 0; n < sizeof req; n += 9) {
        CHECK_OK(fkex_kms_answer(&reply, &replylen, &rep, k, st, req, n, 1001, &rng));
        CHECK(rep.status == FKEX_ENROL_MALFORMED);
        free(reply);
    }

    /* the real thing */
    CHECK_OK(fkex_kms_answer(&reply, &replylen, &rep, k, st, req, sizeof req, 1001, &rng));
    CHECK(rep.type == FKEX_ENROL_REQUEST && rep.status == FKEX_ENROL_ISSUED);
    {
        char hex[33];
        fkex_token_id_hex(hex, t.id);
        CHECK(strcmp(rep.token_id, hex) == 0);
    }
    /* a changed reply does not open; nor does it open for another request */
    {
        fkex_enrol_client other;
        uint8_t req2[FKEX_ENROL_REQUEST_BYTES];
        CHECK_OK(fkex_enrol_request_seal(req2, &other, pk, &t, &rng));
        CHECK_ERR(fkex_enrol_reply_open(&status, &key, &keylen, &other, reply, replylen),
                  FKEX_ERR_AUTHENTICATION);
        fkex_enrol_client_wipe(&other);
        for (size_t i = 6; i < replylen; i += replylen / 40 + 1) {
            reply[i] ^= 1;
            CHECK(fkex_enrol_reply_open(&status, &key, &keylen, &c, reply, replylen) != FKEX_OK);
            CHECK(key == NULL);
            reply[i] ^= 1;
        }
    }
    CHECK_OK(fkex_enrol_reply_open(&status, &key, &keylen, &c, reply, replylen));
    CHECK(status == FKEX_ENROL_ISSUED);
    {
        fkex_key *uk = NULL;
        const char *const *attrs;
        size_t n;
        CHECK_OK(fkex_key_decode(&uk, key, keylen));
        if (uk) {
            fkex_key_attrs(&attrs, &n, uk);
            CHECK(n == 3 && strcmp(attrs[0], "ONE") == 0);
            CHECK(fkex_key_identity(uk) &&
                  strcmp(fkex_key_identity(uk), "alice@example.org") == 0);
        }
        fkex_key_free(uk);
    }
    fkex_bytes_free(key, keylen);
    free(reply);

    /* once only, and the reply says so, authenticated */
    CHECK_OK(fkex_enrol_request_seal(req, &c, pk, &t, &rng));
    CHECK_OK(fkex_kms_answer(&reply, &replylen, &rep, k, st, req, sizeof req, 1002, &rng));
    CHECK(rep.status == FKEX_ENROL_USED);
    CHECK_OK(fkex_enrol_reply_open(&status, &key, &keylen, &c, reply, replylen));
    CHECK(status == FKEX_ENROL_USED && key == NULL);
    free(reply);

    fkex_enrol_client_wipe(&c);
    fkex_store_close(st);
    fkex_kms_free(k);
    fkex_kms_free(k2);
}

/* ---- end to end --------------------------------------------------------------- */

static const char *bin;
static char root[512];
static pid_t daemons[8];
static size_t ndaemons;

static void nap_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

extern char **environ;

/* Starts fkex argv (NULL-terminated, argv[0] filled in) with stdout and
 * stderr to files; -1 if it cannot. */
static pid_t start(const char *out, const char *err, const char **argv)
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int rc;
    argv[0] = bin;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    fflush(stdout);
    fflush(stderr);
    rc = posix_spawnp(&pid, bin, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "    cannot run %s: %s\n", bin, strerror(rc));
        return -1;
    }
    return pid;
}

static char last_out[600], last_err[600];

/* Runs fkex to completion: FK("kms", "token", ...). */
static int fk(const char *first, ...)
{
    const char *argv[24];
    size_t n = 1;
    va_list ap;
    argv[n++] = first;
    va_start(ap, first);
    while (n < 23 && (argv[n] = va_arg(ap, const char *)) != NULL)
        n++;
    va_end(ap);
    argv[n] = NULL;
    snprintf(last_out, sizeof last_out, "%s/out", root);
    snprintf(last_err, sizeof last_err, "%s/err", root);
    int rc = test_reap(start(last_out, last_err, argv), CHILD_SECONDS);
    return rc;
}
#define FK(...) fk(__VA_ARGS__, (const char *)NULL)

static int said(const char *phrase)
{
    char *e = test_read_text(last_err);
    int ok = strstr(e, phrase) != NULL;
    if (!ok)
        fprintf(stderr, "    stderr lacks \"%s\": %s\n", phrase, e);
    free(e);
    return ok;
}

static int expect(int rc, int want, int line)
{
    if (rc != want) {
        char *e = test_read_text(last_err);
        fprintf(stderr, "    line %d: exited %d, expected %d; stderr: %s\n", line, rc, want, e);
        free(e);
    }
    return rc == want;
}
#define EXPECT(call, want) CHECK(expect((call), (want), __LINE__))

static const char *at(const char *name)
{
    static char ring[16][700];
    static unsigned next;
    char *p = ring[next++ % 16];
    snprintf(p, sizeof ring[0], "%s/%s", root, name);
    return p;
}

/* Starts `kms serve` on listen with extra (one more argument, or NULL);
 * its address into addr. */
static pid_t serve_at(char addr[128], const char *dir, const char *name, const char *listen,
                      const char *extra)
{
    char out[700], err[700];
    const char *argv[] = { NULL, "kms", "serve", "--dir", dir, "--listen", listen, "-v", extra, NULL };
    double deadline = now_s() + CHILD_SECONDS;
    pid_t pid;
    snprintf(out, sizeof out, "%s/%s.out", root, name);
    snprintf(err, sizeof err, "%s/%s.err", root, name);
    if ((pid = start(out, err, argv)) < 0)
        return -1;
    if (ndaemons < FKEX_ARRAY_LEN(daemons))
        daemons[ndaemons++] = pid;
    while (now_s() < deadline) {
        char *text = test_read_text(out), *p = strstr(text, "listening on ");
        int status;
        if (p && strchr(p, '\n') && sscanf(p, "listening on %127s", addr) == 1) {
            free(text);
            return pid;
        }
        free(text);
        if (waitpid(pid, &status, WNOHANG) == pid) {
            char *e = test_read_text(err);
            fprintf(stderr, "    kms serve exited early: %s\n", e);
            free(e);
            daemons[--ndaemons] = 0;
            return -1;
        }
        nap_ms(20);
    }
    fprintf(stderr, "    kms serve never said where it listens\n");
    return -1;
}

/* Starts `kms serve` on a free port; its address into addr. */
static pid_t serve(char addr[128], const char *dir, const char *name)
{
    return serve_at(addr, dir, name, "127.0.0.1:0", NULL);
}

/* SIGTERM; the daemon must exit 0 within 5 s. */
static int stop(pid_t pid)
{
    int rc;
    kill(pid, SIGTERM);
    rc = test_reap(pid, 5.0);
    for (size_t i = 0; i < ndaemons; i++)
        if (daemons[i] == pid)
            daemons[i] = 0;
    return rc;
}

static void kill_daemons(void)
{
    for (size_t i = 0; i < ndaemons; i++) {
        if (daemons[i] > 0) {
            kill(daemons[i], SIGKILL);
            waitpid(daemons[i], NULL, 0);
        }
        daemons[i] = 0;
    }
    ndaemons = 0;
}

static int token(char out[FKEX_TOKEN_TEXT_MAX], const char *dir, const char *addr,
                 const char *expires)
{
    if (!expect(FK("kms", "token", "--dir", dir, "--attrs", "ONE TWO year=5", "--key-expires",
                   "2030-12", "--expires", expires, "--address", addr), 0, __LINE__)) {
        test_fail("kms token works", __FILE__, __LINE__);
        return -1;
    }
    char *text = test_read_text(last_out);
    int ok = sscanf(text, "%511s", out) == 1;
    free(text);
    return ok ? 0 : -1;
}

static int mode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

/* count(*) of a table: "audit" or "tokens". */
static long rows(const char *db_path, const char *table)
{
    sqlite3 *db;
    sqlite3_stmt *q;
    char query[64];
    long n = -1;
    snprintf(query, sizeof query, "SELECT count(*) FROM %s", table);
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, query, -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW)
            n = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    sqlite3_close(db);
    return n;
}

static int sql(const char *db_path, const char *statement)
{
    sqlite3 *db;
    int rc = -1;
    if (sqlite3_open(db_path, &db) == SQLITE_OK &&
        sqlite3_exec(db, statement, NULL, NULL, NULL) == SQLITE_OK)
        rc = 0;
    sqlite3_close(db);
    return rc;
}

/* What someone who can write kms.db, but has no passphrase, can make: a
 * token of their own (the real token's address and pin, a new id and
 * secret), its row in the database for ADMIN, with no grant or (copy) with
 * the real token's grant. */
static void forge_row(char out[FKEX_TOKEN_TEXT_MAX], const char *db_path, const char *real, int copy)
{
    fkex_token t;
    fkex_rng rng;
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    char id[2 * FKEX_TOKEN_ID_BYTES + 1], real_id[2 * FKEX_TOKEN_ID_BYTES + 1];
    uint8_t hash[32];

    CHECK_OK(fkex_token_decode(&t, real, strlen(real)));
    fkex_token_id_hex(real_id, t.id);
    test_rng(&rng, copy ? "forged copy" : "forged");
    fkex_rng_fill(&rng, t.id, sizeof t.id);
    fkex_rng_fill(&rng, t.secret, sizeof t.secret);
    fkex_token_id_hex(id, t.id);
    crypto_hash_sha256(hash, t.secret, sizeof t.secret);
    CHECK_OK(fkex_token_encode(out, FKEX_TOKEN_TEXT_MAX, &t));
    CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(db, "INSERT INTO tokens (id, secret_hash, attrs, expires_at, created_at,"
                                 " grant_mac) SELECT ?, ?, 'ADMIN', expires_at, created_at, "
                                 "CASE WHEN ? THEN grant_mac END FROM tokens WHERE id = ?",
                             -1, &q, NULL) == SQLITE_OK);
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q, 2, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int(q, 3, copy);
    sqlite3_bind_text(q, 4, real_id, -1, SQLITE_STATIC);
    CHECK(sqlite3_step(q) == SQLITE_DONE && sqlite3_changes(db) == 1);
    sqlite3_finalize(q);
    sqlite3_close(db);
    fkex_token_wipe(&t);
}

static void kms_e2e(void)
{
    char a_addr[128], b_addr[128], tok[FKEX_TOKEN_TEXT_MAX], tok2[FKEX_TOKEN_TEXT_MAX];
    char a[700], b[700];
    pid_t sa, sb;
    long issued = 0;

    snprintf(a, sizeof a, "%s", at("authA"));
    snprintf(b, sizeof b, "%s", at("authB"));
    EXPECT(FK("kms", "init", "--dir", a), 0);
    CHECK(mode_of(at("authA/kms.sealed")) == 0600);
    CHECK(mode_of(at("authA/kms.db")) == 0600);
    EXPECT(FK("kms", "init", "--dir", a), 2);   /* never over an authority */
    /* A is FAME, the default; B a Waters 2011 authority, as older ones are. */
    EXPECT(FK("kms", "init", "--dir", b, "--scheme", "waters11"), 0);
    {
        uint8_t ha[FKEX_HEADER_BYTES] = { 0 }, hb[FKEX_HEADER_BYTES] = { 0 };
        FILE *fa = fopen(at("authA/mpk.fkex"), "rb"), *fb = fopen(at("authB/mpk.fkex"), "rb");
        CHECK(fa && fread(ha, 1, sizeof ha, fa) == sizeof ha);
        CHECK(fb && fread(hb, 1, sizeof hb, fb) == sizeof hb);
        CHECK(ha[6] == FKEX_SCHEME_FAME && hb[6] == FKEX_SCHEME_WATERS11);
        if (fa)
            fclose(fa);
        if (fb)
            fclose(fb);
    }
    if ((sa = serve(a_addr, a, "serveA")) < 0 || (sb = serve(b_addr, b, "serveB")) < 0) {
        CHECK(!"both daemons start");
        goto out;
    }

    /* enrol, and the key opens what the policy lets it */
    if (token(tok, a, a_addr, "1h") != 0)
        goto out;
    EXPECT(FK("enroll", tok, "-o", at("alice.key")), 0);
    issued++;
    CHECK(mode_of(at("alice.key")) == 0600);
    {
        FILE *f = fopen(at("msg.txt"), "w");
        if (f) {
            fputs("for ONE with year >= 3\n", f);
            fclose(f);
        }
    }
    EXPECT(FK("encrypt", "--mpk", at("authA/mpk.fkex"), "--policy", "ONE and year >= 3", "--valid-at",
              "2030-12", "-o", at("msg.fkex"), at("msg.txt")), 0);
    EXPECT(FK("decrypt", "--key", at("alice.key"), "-o", at("msg.out"), at("msg.fkex")), 0);
    {
        char *x = test_read_text(at("msg.txt")), *y = test_read_text(at("msg.out"));
        CHECK(strcmp(x, y) == 0 && x[0]);
        free(x);
        free(y);
    }
    EXPECT(FK("encrypt", "--mpk", at("authA/mpk.fkex"), "--policy", "THREE", "-o", at("no.fkex"),
              at("msg.txt")), 0);
    EXPECT(FK("decrypt", "--key", at("alice.key"), "-o", at("no.out"), at("no.fkex")), 1);

    /* once only */
    EXPECT(FK("enroll", tok, "-o", at("again.key")), 1);
    CHECK(said("token already used"));
    CHECK(access(at("again.key"), F_OK) != 0);

    /* a busy output file does not spend the token */
    if (token(tok, a, a_addr, "1h") != 0)
        goto out;
    EXPECT(FK("enroll", tok, "-o", at("alice.key")), 2);
    EXPECT(FK("enroll", tok, "-o", at("kept.key")), 0);
    issued++;

    /* two enrolments racing for one token: exactly one key */
    if (token(tok, a, a_addr, "1h") != 0)
        goto out;
    {
        const char *a1[] = { NULL, "enroll", tok, "-o", at("race1.key"), NULL };
        const char *a2[] = { NULL, "enroll", tok, "-o", at("race2.key"), NULL };
        pid_t p1 = start(at("race1.out"), at("race1.err"), a1);
        pid_t p2 = start(at("race2.out"), at("race2.err"), a2);
        int r1 = test_reap(p1, CHILD_SECONDS), r2 = test_reap(p2, CHILD_SECONDS);
        CHECK((r1 == 0 && r2 == 1) || (r1 == 1 && r2 == 0));
        CHECK((access(at("race1.key"), F_OK) == 0) + (access(at("race2.key"), F_OK) == 0) == 1);
        issued++;
    }

    /* expired */
    if (token(tok, a, a_addr, "1s") != 0)
        goto out;
    sleep(2);
    EXPECT(FK("enroll", tok, "-o", at("late.key")), 1);
    CHECK(said("token expired"));

    /* tampered: one character; and a well-formed token with another secret */
    if (token(tok, a, a_addr, "1h") != 0)
        goto out;
    memcpy(tok2, tok, sizeof tok);
    tok2[strlen(tok2) / 2] = tok2[strlen(tok2) / 2] == 'A' ? 'B' : 'A';
    EXPECT(FK("enroll", tok2, "-o", at("t1.key")), 1);
    CHECK(said("damaged"));
    {
        fkex_token t;
        CHECK_OK(fkex_token_decode(&t, tok, strlen(tok)));
        t.secret[0] ^= 1;
        CHECK_OK(fkex_token_encode(tok2, sizeof tok2, &t));
        EXPECT(FK("enroll", tok2, "-o", at("t2.key")), 1);
        CHECK(said("token not recognised"));
        /* unpinned: the token edited to name the other authority */
        t.secret[0] ^= 1;
        strcpy(t.addr, b_addr);
        CHECK_OK(fkex_token_encode(tok2, sizeof tok2, &t));
        EXPECT(FK("enroll", tok2, "-o", at("t3.key")), 1);
        CHECK(said("not the authority this token pins"));
        CHECK(access(at("t3.key"), F_OK) != 0);
        fkex_token_wipe(&t);
    }
    /* none of that spent the token */
    EXPECT(FK("enroll", tok, "-o", at("bob.key")), 0);
    issued++;

    /* a token for an identity alone: the key opens files sent to that name */
    EXPECT(FK("kms", "token", "--dir", a, "--identity", " Carol@Example.org", "--address", a_addr), 0);
    {
        char *text = test_read_text(last_out);
        CHECK(sscanf(text, "%511s", tok) == 1);
        free(text);
    }
    EXPECT(FK("enroll", tok, "-o", at("carol.key")), 0);
    CHECK(said("holds your key (identity carol@example.org)"));
    issued++;
    EXPECT(FK("ibe", "encrypt", "--mpk", at("authA/mpk.fkex"), "--to", "carol@example.org", "-o",
              at("carol.fkex"), at("msg.txt")), 0);
    EXPECT(FK("ibe", "decrypt", "--key", at("carol.key"), "-o", at("carol.out"), at("carol.fkex")), 0);
    EXPECT(FK("ibe", "decrypt", "--key", at("bob.key"), "-o", at("bob.out"), at("carol.fkex")), 1);
    EXPECT(FK("kms", "token", "--dir", a, "--identity", "a\nb", "--address", a_addr), 2);

    /* the audit lists exactly the issued keys and the identity-based
     * identity each carries, never who enrolled */
    CHECK(rows(at("authA/kms.db"), "audit") == issued);
    CHECK(rows(at("authB/kms.db"), "audit") == 0);
    {
        sqlite3 *db;
        sqlite3_stmt *q;
        CHECK(sqlite3_open_v2(at("authA/kms.db"), &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
        CHECK(sqlite3_prepare_v2(db, "SELECT * FROM audit", -1, &q, NULL) == SQLITE_OK);
        CHECK(sqlite3_column_count(q) == 4);
        CHECK(strcmp(sqlite3_column_name(q, 0), "token_id") == 0);
        CHECK(strcmp(sqlite3_column_name(q, 3), "identity") == 0);
        CHECK(sqlite3_step(q) == SQLITE_ROW &&
              strcmp((const char *)sqlite3_column_text(q, 1), "ONE TWO year=5 expires=203012") == 0);
        CHECK(sqlite3_column_type(q, 3) == SQLITE_NULL);
        sqlite3_finalize(q);
        CHECK(sqlite3_prepare_v2(db, "SELECT attrs, identity FROM audit WHERE identity IS NOT NULL",
                                 -1, &q, NULL) == SQLITE_OK);
        CHECK(sqlite3_step(q) == SQLITE_ROW &&
              strcmp((const char *)sqlite3_column_text(q, 0), "") == 0 &&
              strcmp((const char *)sqlite3_column_text(q, 1), "carol@example.org") == 0);
        CHECK(sqlite3_step(q) == SQLITE_DONE);
        sqlite3_finalize(q);
        sqlite3_close(db);
    }
    /* the log names tokens, never secrets or peers */
    {
        char *log = test_read_text(at("serveA.err"));
        CHECK(strstr(log, "key issued") != NULL && strstr(log, "token already used") != NULL);
        CHECK(strstr(log, tok) == NULL && strstr(log, "fkex1-") == NULL);
        free(log);
    }

    CHECK(stop(sa) == 0);
    CHECK(stop(sb) == 0);
out:
    kill_daemons();
}

static void kms_e2e_refusals(void)
{
    char c[700], addr[128], tok[FKEX_TOKEN_TEXT_MAX];
    pid_t s;
    snprintf(c, sizeof c, "%s", at("authC"));
    EXPECT(FK("kms", "--help"), 0);
    EXPECT(FK("kms", "init", "--help"), 0);
    EXPECT(FK("kms", "token", "--help"), 0);
    EXPECT(FK("kms", "serve", "--help"), 0);
    EXPECT(FK("enroll", "--help"), 0);
    EXPECT(FK("kms", "bogus"), 2);
    /* a new authority's passphrase is not short; a failed init leaves no
     * directory behind */
    setenv("FKEX_PASSPHRASE", "tiny", 1);
    EXPECT(FK("kms", "init", "--dir", at("authShort")), 2);
    CHECK(said("it takes at least 12"));
    CHECK(access(at("authShort"), F_OK) != 0);
    setenv("FKEX_PASSPHRASE", PASS, 1);
    EXPECT(FK("kms", "init", "--dir", at("authNope"), "--scheme", "nope"), 2);
    CHECK(said("fame, waters11"));
    CHECK(access(at("authNope"), F_OK) != 0);
    EXPECT(FK("kms", "init", "--dir", c), 0);
    EXPECT(FK("kms", "token", "--dir", c, "--attrs", "ONE ONE"), 2);
    /* attributes keygen would refuse make no token: 65 numbers are 4160 names */
    {
        char many[2048] = "";
        for (int i = 0; i < 65; i++)
            snprintf(many + strlen(many), sizeof many - strlen(many), "n%d=1 ", i);
        EXPECT(FK("kms", "token", "--dir", c, "--attrs", many), 2);
        CHECK(said("a key holds at most"));
    }
    EXPECT(FK("kms", "token", "--dir", c, "--attrs", "ONE", "--expires", "7w"), 2);
    EXPECT(FK("kms", "token", "--dir", c, "--attrs", "ONE", "--key-expires", "2026-13"), 2);
    /* a wrong passphrase */
    setenv("FKEX_PASSPHRASE", "not it", 1);
    EXPECT(FK("kms", "serve", "--dir", c, "--listen", "127.0.0.1:0"), 1);
    CHECK(said("wrong passphrase"));
    /* the systemd credential fkex-passphrase ($CREDENTIALS_DIRECTORY, the
     * units' LoadCredential=), read when the environment has none: a wrong
     * one is refused as the environment's is, the right one serves */
    {
        char creds[700], cred[720];
        FILE *f;
        snprintf(creds, sizeof creds, "%s", at("creds"));
        snprintf(cred, sizeof cred, "%s/fkex-passphrase", creds);
        CHECK(mkdir(creds, 0700) == 0);
        unsetenv("FKEX_PASSPHRASE");
        setenv("CREDENTIALS_DIRECTORY", creds, 1);
        if ((f = fopen(cred, "w")) != NULL) {
            fputs("not it\n", f);
            fclose(f);
        }
        EXPECT(FK("kms", "serve", "--dir", c, "--listen", "127.0.0.1:0"), 1);
        CHECK(said("wrong passphrase"));
        if ((f = fopen(cred, "w")) != NULL) {
            fputs(PASS "\n", f);
            fclose(f);
        }
        if ((s = serve(addr, c, "serveCred")) < 0)
            CHECK(!"the daemon starts with the credential");
        else
            CHECK(stop(s) == 0);
        unsetenv("CREDENTIALS_DIRECTORY");
    }
    setenv("FKEX_PASSPHRASE", PASS, 1);
    /* sealed keys others can read are refused */
    chmod(at("authC/kms.sealed"), 0644);
    EXPECT(FK("kms", "serve", "--dir", c, "--listen", "127.0.0.1:0"), 2);
    CHECK(said("readable by other users"));
    chmod(at("authC/kms.sealed"), 0600);
    /* nobody listening */
    if ((s = serve(addr, c, "serveC")) < 0) {
        CHECK(!"the daemon starts");
        goto out;
    }
    /* minting needs the passphrase: a wrong one mints nothing */
    setenv("FKEX_PASSPHRASE", "not it", 1);
    EXPECT(FK("kms", "token", "--dir", c, "--attrs", "ONE"), 1);
    CHECK(said("wrong passphrase") && rows(at("authC/kms.db"), "tokens") == 0);
    setenv("FKEX_PASSPHRASE", PASS, 1);
    if (token(tok, c, addr, "1h") != 0)
        goto out;
    /* whoever can write kms.db but lacks the passphrase: a row of their
     * own (with no grant, then with the real token's grant), and the real
     * token's row widened to ADMIN. None issues a key. */
    {
        char forged[FKEX_TOKEN_TEXT_MAX];
        forge_row(forged, at("authC/kms.db"), tok, 0);
        EXPECT(FK("enroll", forged, "-o", at("forged0.key")), 1);
        CHECK(said("token not recognised") && access(at("forged0.key"), F_OK) != 0);
        forge_row(forged, at("authC/kms.db"), tok, 1);
        EXPECT(FK("enroll", forged, "-o", at("forged1.key")), 1);
        CHECK(said("token not recognised") && access(at("forged1.key"), F_OK) != 0);
        CHECK(sql(at("authC/kms.db"), "UPDATE tokens SET attrs = attrs || ' ADMIN' WHERE "
                                      "grant_mac IS NOT NULL AND attrs NOT LIKE '%ADMIN%'") == 0);
        EXPECT(FK("enroll", tok, "-o", at("widened.key")), 1);
        CHECK(said("token not recognised") && access(at("widened.key"), F_OK) != 0);
        /* widened past what a MAC can cover, beside a MAC of zeros */
        CHECK(sql(at("authC/kms.db"), "UPDATE tokens SET attrs = 'ONE ADMIN' || printf('%70000s', ''),"
                                      " grant_mac = zeroblob(32) WHERE attrs LIKE '%ADMIN%'") == 0);
        EXPECT(FK("enroll", tok, "-o", at("padded.key")), 1);
        CHECK(said("token not recognised") && access(at("padded.key"), F_OK) != 0);
        CHECK(rows(at("authC/kms.db"), "audit") == 0);
        char *log = test_read_text(at("serveC.err"));
        CHECK(strstr(log, "was not minted with the authority's key") != NULL);
        free(log);
        sodium_memzero(forged, sizeof forged);
    }
    if (token(tok, c, addr, "1h") != 0)
        goto out;
    CHECK(stop(s) == 0);
    EXPECT(FK("enroll", tok, "-o", at("nobody.key")), 2);
    CHECK(said("cannot reach"));
    CHECK(access(at("nobody.key"), F_OK) != 0);
out:
    kill_daemons();
}

/* A token for the same grant as tok with its address replaced. */
static void readdress(char out[FKEX_TOKEN_TEXT_MAX], const char *tok, const char *addr)
{
    fkex_token t;
    CHECK_OK(fkex_token_decode(&t, tok, strlen(tok)));
    snprintf(t.addr, sizeof t.addr, "%s", addr);
    CHECK_OK(fkex_token_encode(out, FKEX_TOKEN_TEXT_MAX, &t));
    fkex_token_wipe(&t);
}

/* Transport security through `fkex enroll` and `kms serve`: kms init
 * makes DIR/tls.key, whose pin the daemon prints and tokens carry; a token
 * that pins another key is refused before anything is sent (exit 2, one
 * sentence) and is not spent; a version-1 token (made before keys) enrols
 * with a warning; a plain client is refused by the TLS authority; a
 * plaintext authority (a downgrade) is refused by a pinned token; and
 * --insecure-plaintext serves when both sides say it. */
static void kms_e2e_transport(void)
{
    char d[700], addr[128], again[128], hostport[64], pin[FKEX_PIN_TEXT_LEN + 1], other[128];
    char tok[FKEX_TOKEN_TEXT_MAX], bad[FKEX_TOKEN_TEXT_MAX], err[160];
    uint8_t want[FKEX_PIN_BYTES];
    fkex_endpoint e;
    pid_t s;
    snprintf(d, sizeof d, "%s", at("authT"));
    EXPECT(FK("kms", "init", "--dir", d), 0);
    CHECK(mode_of(at("authT/tls.key")) == 0600);
    if ((s = serve(addr, d, "serveT")) < 0) {
        CHECK(!"the daemon starts");
        goto out;
    }
    CHECK_OK(fkex_tls_key_pin(want, at("authT/tls.key"), err));
    CHECK(fkex_endpoint_parse(&e, addr) == 0 && e.auth == FKEX_ENDPOINT_PIN &&
          memcmp(e.pin, want, sizeof want) == 0);
    snprintf(hostport, sizeof hostport, "%s", e.hostport);
    /* the token's address pins the key even when given without (--address HOST:PORT) */
    EXPECT(FK("kms", "token", "--dir", d, "--attrs", "ONE", "--address", hostport), 0);
    {
        char *text = test_read_text(last_out);
        fkex_token t;
        CHECK(sscanf(text, "%511s", tok) == 1 && fkex_token_decode(&t, tok, strlen(tok)) == FKEX_OK &&
              strcmp(t.addr, addr) == 0);
        fkex_token_wipe(&t);
        free(text);
    }
    /* another key's pin: refused, nothing spent */
    e.pin[0] ^= 1;
    fkex_pin_text(pin, e.pin);
    snprintf(other, sizeof other, "%s@%s", pin, hostport);
    readdress(bad, tok, other);
    EXPECT(FK("enroll", bad, "-o", at("bad.key")), 2);
    CHECK(said("is not the one pinned") && access(at("bad.key"), F_OK) != 0);
    CHECK(rows(at("authT/kms.db"), "audit") == 0);
    EXPECT(FK("enroll", tok, "-o", at("good.key")), 0);
    /* a token made before keys: enrols, with a warning */
    if (token(tok, d, addr, "1h") != 0)
        goto out;
    readdress(bad, tok, hostport);
    CHECK(strncmp(bad, FKEX_TOKEN_PREFIX "AQ", strlen(FKEX_TOKEN_PREFIX) + 2) == 0);   /* version 1 */
    EXPECT(FK("enroll", bad, "-o", at("old.key")), 0);
    CHECK(said("fkex: warning: this token does not pin the server's key"));
    /* a plain client at the TLS authority */
    if (token(tok, d, addr, "1h") != 0)
        goto out;
    EXPECT(FK("enroll", tok, "--insecure-plaintext", "-o", at("plain.key")), 2);
    CHECK(said("cannot reach the authority") && access(at("plain.key"), F_OK) != 0);
    CHECK(stop(s) == 0);
    /* the authority on the same address in plain TCP: a downgrade, refused */
    if ((s = serve_at(again, d, "serveP", hostport, "--insecure-plaintext")) < 0) {
        CHECK(!"the plaintext daemon starts");
        goto out;
    }
    CHECK(strcmp(again, hostport) == 0);
    EXPECT(FK("enroll", tok, "-o", at("down.key")), 2);
    CHECK(said("TLS handshake failed") && access(at("down.key"), F_OK) != 0);
    /* plain on both sides, asked for by name */
    EXPECT(FK("enroll", tok, "--insecure-plaintext", "-o", at("plain.key")), 0);
    CHECK(stop(s) == 0);
    /* options that exclude each other */
    EXPECT(FK("kms", "serve", "--dir", d, "--insecure-plaintext", "--tls-key", at("x.key")), 2);
    EXPECT(FK("kms", "serve", "--dir", d, "--tls-cert", at("x.pem")), 2);
out:
    sodium_memzero(tok, sizeof tok);
    sodium_memzero(bad, sizeof bad);
    kill_daemons();
}

void suite_kms(void)
{
    RUN(kms_token_roundtrip);
    RUN(kms_token_bytes);
    RUN(kms_addr);
    RUN(kms_sealed);
    RUN(kms_store_single_use);
    RUN(kms_store_migrates);
    RUN(kms_store_race);
    RUN(kms_enrol_protocol);
    RUN(kms_ungranted);

    bin = getenv("FKEX_BIN") ? getenv("FKEX_BIN") : "./fkex";
    snprintf(root, sizeof root, "%s/kms", test_tmpdir());
    if (mkdir(root, 0700) != 0) {
        fprintf(stderr, "    mkdir %s: %s\n", root, strerror(errno));
        return;
    }
    setenv("FKEX_PASSPHRASE", PASS, 1);
    RUN(kms_e2e);
    RUN(kms_e2e_refusals);
    RUN(kms_e2e_transport);
    unsetenv("FKEX_PASSPHRASE");
}
