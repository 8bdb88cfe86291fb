/*
 * tests/test_dm_e2e.c: direct conversations end to end on loopback: a
 * real `fkex relay` and `fkex chat --dm --batch` processes (free ports,
 * bounded waits, every process killed at the end).
 *
 *   - alice and bob dial each other at once and talk both ways: each
 *     message arrives exactly once, each side names the other as
 *     authenticated;
 *   - a key without an identity is refused (exit 1); an impostor with
 *     aaron's key who takes the other place of bob's conversation with
 *     alice is refused by bob (exit 1, "wrong_peer");
 *   - a relay that flips a bit of a frame (a man in the middle in this
 *     test process: a forked TCP proxy between bob and the relay,
 *     tests/proxy.h, not a flag of the relay) is caught: bob reports
 *     "tampered", never shows that message, and reads the next ones.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "test.h"
#include "proxy.h"
#include "tls_raw.h"
#include "relay_harness.h"
#include "ibe/dm.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define WAIT_S 20.0

extern char **environ;

typedef struct {
    pid_t pid;
    int in;             /* its stdin; -1 once closed */
    char out[700];      /* its stdout and stderr, files */
    char err[720];
} party;

static party *parties[8];
static size_t nparties;
static pid_t relay, proxy = -1;
static char relay_addr[128];

/* fkex chat --dm PEER --key KEY --relay ADDR --batch --nick NICK */
static party *dial(const char *nick, const char *key, const char *peer, const char *addr)
{
    const char *argv[] = { rh_bin, "chat", "--dm", peer, "--key", rh_at(key), "--relay", addr,
                           "--batch", "--nick", nick, NULL };
    party *p = calloc(1, sizeof *p);
    int pin[2];
    posix_spawn_file_actions_t fa;
    if (!p || pipe(pin) != 0)
        abort();
    fcntl(pin[1], F_SETFD, FD_CLOEXEC);
    snprintf(p->out, sizeof p->out, "%s", rh_at(nick));
    snprintf(p->err, sizeof p->err, "%s.err", p->out);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
    posix_spawn_file_actions_addopen(&fa, 1, p->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, p->err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    fflush(stderr);
    if (posix_spawnp(&p->pid, rh_bin, &fa, NULL, (char *const *)argv, environ) != 0)
        p->pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    close(pin[0]);
    p->in = pin[1];
    parties[nparties++] = p;
    return p;
}

static void say(party *p, const char *line)
{
    if (write(p->in, line, strlen(line)) < 0 || write(p->in, "\n", 1) < 0)
        test_fail("writing to a party", __FILE__, __LINE__);
}

/* Lines of p's output holding needle. */
static size_t lines(const party *p, const char *needle)
{
    char *text = test_read_text(p->out), *s = text;
    size_t n = 0;
    for (char *nl; (nl = strchr(s, '\n')) != NULL; s = nl + 1) {
        *nl = 0;
        n += strstr(s, needle) != NULL;
    }
    free(text);
    return n;
}

static int wait_lines(const party *p, const char *needle, size_t want)
{
    double deadline = test_now() + WAIT_S;
    while (lines(p, needle) < want && test_now() < deadline)
        test_nap_ms(20);
    if (lines(p, needle) >= want)
        return 1;
    char *o = test_read_text(p->out), *e = test_read_text(p->err);
    fprintf(stderr, "    waited for %zu x %s; stdout:\n%s    stderr: %s\n", want, needle, o, e);
    free(o);
    free(e);
    return 0;
}

/* 1 if p's stderr holds text. */
static int said(const party *p, const char *text)
{
    char *e = test_read_text(p->err);
    int yes = strstr(e, text) != NULL;
    free(e);
    return yes;
}

/* Closes p's stdin (which quits it once the conversation was open) and
 * returns its exit code. */
static int end(party *p)
{
    if (p->in >= 0)
        close(p->in);
    p->in = -1;
    int rc = test_reap(p->pid, WAIT_S);
    p->pid = -1;
    return rc;
}

/* ---- a man in the middle ---------------------------------------------------------
 * A forked proxy (tests/proxy.h) between bob and the relay. TAMPER flips a
 * bit in the first DM_FRAME carrying a message (0x12) from the relay to the
 * client; IMPOSTOR rewrites every DM_HELLO after the first to name the
 * first one's conversation. */
enum { TAMPER = 1, IMPOSTOR = 2 };

typedef struct {
    uint8_t first_id[32];           /* IMPOSTOR: the first DM_HELLO's conversation */
    int have_id, tampered;
} mitm;

typedef struct {
    uint8_t own_id[32];             /* IMPOSTOR: the id this client named */
    int rewritten;
} mitm_conn;

static void tamper(void *shared, void *conn, int dir, uint8_t *env, size_t len)
{
    mitm *m = shared;
    (void)conn;
    if (dir == PROXY_TO_CLIENT && !m->tampered && len > 6 + 60 && env[0] == FKEX_RELAY_DM_FRAME &&
        env[6] == FKEX_DM_MESSAGE) {
        env[6 + 50] ^= 0x01;    /* in the ciphertext */
        m->tampered = 1;
    }
}

static void impostor(void *shared, void *conn, int dir, uint8_t *env, size_t len)
{
    mitm *m = shared;
    mitm_conn *c = conn;
    if (dir == PROXY_TO_RELAY && len == 34 && env[0] == FKEX_RELAY_DM_HELLO) {
        if (m->have_id) {
            memcpy(c->own_id, env + 2, 32);
            memcpy(env + 2, m->first_id, 32);
            c->rewritten = 1;
        } else {
            memcpy(m->first_id, env + 2, 32);
        }
        m->have_id = 1;
    }
    /* the impostor's client is told of its own conversation */
    if (dir == PROXY_TO_CLIENT && c->rewritten && len == 35 && env[0] == FKEX_RELAY_DM_READY)
        memcpy(env + 2, c->own_id, 32);
}

static int mitm_start(char addr[128], int mode)
{
    static mitm shared;   /* the proxy's copy is the one that changes */
    proxy_ops ops = { mode == TAMPER ? tamper : impostor, &shared, sizeof(mitm_conn) };
    memset(&shared, 0, sizeof shared);
    proxy = proxy_start(addr, relay_addr, &ops);
    return proxy > 0 ? 0 : -1;
}

/* ---- the world ------------------------------------------------------------------- */

static int world(const char *name)
{
    const char *const keys[][2] = {
        { "alice.key", "alice@example.org" }, { "bob.key", "Bob@Example.org" },
        { "aaron.key", "aaron@example.org" },
    };
    char dir[64];
    snprintf(dir, sizeof dir, "dm-%s", name);
    if (rh_suite_open(dir) != 0 || (relay = rh_relay_start(relay_addr, "relay", NULL, NULL)) <= 0)
        return -1;
    const char *setup[] = { rh_bin, "setup", "--dir", rh_at("auth"), NULL };
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawnp(&pid, rh_bin, &fa, NULL, (char *const *)setup, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0 || test_reap(pid, WAIT_S) != 0)
        return -1;
    for (size_t i = 0; i < FKEX_ARRAY_LEN(keys) + 1; i++) {
        char msk[700];
        snprintf(msk, sizeof msk, "%s", rh_at("auth/msk.fkex"));
        const char *kg[] = { rh_bin, "keygen", "--msk", msk, "--identity",
                             i < FKEX_ARRAY_LEN(keys) ? keys[i][1] : NULL, "-o",
                             NULL, NULL };
        if (i == FKEX_ARRAY_LEN(keys)) {   /* one without an identity */
            kg[4] = "--attrs";
            kg[5] = "ONE";
        }
        kg[7] = rh_at(i < FKEX_ARRAY_LEN(keys) ? keys[i][0] : "plain.key");
        if (posix_spawnp(&pid, rh_bin, NULL, NULL, (char *const *)kg, environ) != 0 ||
            test_reap(pid, WAIT_S) != 0)
            return -1;
    }
    return 0;
}

static void teardown(void)
{
    for (size_t i = 0; i < nparties; i++) {
        party *p = parties[i];
        if (p->pid > 0) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, NULL, 0);
        }
        if (p->in >= 0)
            close(p->in);
        free(p);
    }
    nparties = 0;
    proxy_stop(proxy);
    proxy = -1;
    CHECK(rh_relay_stop(relay) == 0);
}

/* A world and a proxy in mode; -1 (said, torn down) if they could not start. */
static int world_via(const char *name, char via[128], int mode)
{
    if (world(name) == 0 && mitm_start(via, mode) == 0)
        return 0;
    CHECK(!"a relay, keys and a proxy");
    teardown();
    return -1;
}

/* ---- the cases ------------------------------------------------------------------- */

static void dm_e2e_both_ways(void)
{
    if (world("both") != 0) {
        CHECK(!"a relay and keys");
        teardown();
        return;
    }
    /* Both dial at once: the identity order picks the initiator. */
    party *bob = dial("bob", "bob.key", "Alice@example.org", relay_addr);
    party *alice = dial("alice", "alice.key", "bob@example.org", relay_addr);
    say(alice, "{\"send\": \"a1\"}");   /* typed before the conversation opens: kept */
    CHECK(wait_lines(alice, "\"peer\": \"bob@example.org\", \"authenticated\": true", 1));
    CHECK(wait_lines(bob, "\"peer\": \"alice@example.org\", \"authenticated\": true", 1));
    say(alice, "{\"send\": \"a2\"}");
    say(bob, "{\"send\": \"b1\"}");
    say(bob, "{\"send\": \"b2\"}");
    CHECK(wait_lines(bob, "\"text\": \"a2\"", 1));
    CHECK(wait_lines(alice, "\"text\": \"b2\"", 1));
    test_nap_ms(300);
    CHECK(lines(bob, "\"text\": \"a1\"") == 1 && lines(bob, "\"text\": \"a2\"") == 1);
    CHECK(lines(alice, "\"text\": \"b1\"") == 1 && lines(alice, "\"text\": \"b2\"") == 1);
    CHECK(lines(bob, "\"from\": \"alice\"") == 2 && lines(alice, "\"from\": \"bob\"") == 2);
    CHECK(lines(alice, "\"event\": \"error\"") == 0 && lines(bob, "\"event\": \"error\"") == 0);
    CHECK(end(alice) == 0);
    CHECK(wait_lines(bob, "\"state\": \"peer_left\"", 1));
    CHECK(end(bob) == 0);
    CHECK(rh_logged("relay.err", "direct conversation"));
    teardown();
}

/* A script that writes 600 texts before its peer is there: input waits
 * (256 are kept for the conversation to open), none is dropped, and the
 * peer reads each once. */
#define EARLY_TEXTS 600
static void dm_e2e_paced(void)
{
    if (world("paced") != 0) {
        CHECK(!"a relay and keys");
        teardown();
        return;
    }
    party *alice = dial("alice", "alice.key", "bob@example.org", relay_addr);
    for (int i = 0; i < EARLY_TEXTS; i++) {
        char line[48];
        snprintf(line, sizeof line, "{\"send\": \"early %d.\"}", i);
        say(alice, line);
    }
    test_nap_ms(300);
    party *bob = dial("bob", "bob.key", "alice@example.org", relay_addr);
    CHECK(wait_lines(bob, "\"text\": \"early 599.\"", 1));
    test_nap_ms(300);
    CHECK(lines(bob, "\"text\": \"early ") == EARLY_TEXTS);
    for (int i = 0; i < EARLY_TEXTS; i += 97) {
        char needle[48];
        snprintf(needle, sizeof needle, "\"text\": \"early %d.\"", i);
        CHECK(lines(bob, needle) == 1);
    }
    CHECK(lines(alice, "\"event\": \"error\"") == 0);
    CHECK(end(alice) == 0);
    CHECK(wait_lines(bob, "\"state\": \"peer_left\"", 1));
    CHECK(end(bob) == 0);
    teardown();
}

static void dm_e2e_wrong_identity(void)
{
    char via[128];
    if (world_via("wrong", via, IMPOSTOR) != 0)
        return;
    /* A key without an identity cannot hold a conversation. */
    party *plain = dial("plain", "plain.key", "bob@example.org", relay_addr);
    CHECK(end(plain) == 1 && said(plain, "carries no identity"));
    /* bob waits for alice; aaron, with his own key, takes alice's place
     * (the proxy puts him in bob's conversation): bob refuses him. */
    party *bob = dial("bob", "bob.key", "alice@example.org", via);
    test_nap_ms(300);   /* bob's DM_HELLO first: the proxy learns its conversation */
    party *aaron = dial("aaron", "aaron.key", "bob@example.org", via);
    CHECK(end(bob) == 1 && said(bob, "is not alice@example.org"));
    CHECK(lines(bob, "\"code\": \"wrong_peer\"") == 1 && lines(bob, "\"event\": \"joined\"") == 0);
    CHECK(lines(aaron, "\"event\": \"joined\"") == 0);
    teardown();
}

/* A connection that takes a conversation's place by its id: a raw
 * DM_HELLO, held open in *t. 0, or -1. */
static int squat(tls_raw *t, const uint8_t id[32])
{
    fkex_relay_msg m = { .kind = FKEX_RELAY_DM_HELLO };
    fkex_writer w;
    if (tls_raw_open(t, relay_addr, 0, 5000) != 0)
        return -1;
    memcpy(m.room_id, id, 32);
    fkex_writer_init(&w);
    fkex_writer_u32(&w, 0);
    fkex_relay_msg_encode(&w, &m);
    store32_be(w.buf, (uint32_t)(w.len - 4));
    int ok = !w.failed && tls_raw_send(t, w.buf, w.len) == (ssize_t)w.len;
    fkex_writer_free(&w);
    if (!ok) {
        tls_raw_close(t);
        return -1;
    }
    return 0;
}

/* Squatters who know both identities (issue 11) hold both places of every
 * id they can compute: the hash of the public data ids used to be, and
 * aaron's own conversations with each (he holds a key). alice and bob
 * meet regardless: their id needs one of their keys (dm.h). */
static void dm_e2e_squatters(void)
{
    tls_raw fds[6];
    int n = 0, ok = 0;
    uint8_t id[32], fp[FKEX_FINGERPRINT_BYTES];
    fkex_key *aaron = NULL;
    if (world("squat") != 0) {
        CHECK(!"a relay and keys");
        teardown();
        return;
    }
    {   /* aaron's key, as a client reads it */
        uint8_t buf[4096];
        FILE *f = fopen(rh_at("aaron.key"), "rb");
        size_t got = f ? fread(buf, 1, sizeof buf, f) : 0;
        if (f)
            fclose(f);
        CHECK_OK(fkex_key_decode(&aaron, buf, got));
    }
    if (!aaron) {
        teardown();
        return;
    }
    /* the old, public id */
    fkex_mpk_fingerprint(fp, fkex_key_mpk(aaron));
    test_public_dm_id(id, fp, "alice@example.org", "bob@example.org");
    ok += squat(&fds[n++], id) == 0;
    ok += squat(&fds[n++], id) == 0;
    /* aaron's own conversations with each of them */
    CHECK_OK(fkex_dm_conversation_id(id, aaron, "alice@example.org"));
    ok += squat(&fds[n++], id) == 0;
    ok += squat(&fds[n++], id) == 0;
    CHECK_OK(fkex_dm_conversation_id(id, aaron, "bob@example.org"));
    ok += squat(&fds[n++], id) == 0;
    ok += squat(&fds[n++], id) == 0;
    CHECK(ok == n);
    test_nap_ms(200);
    party *alice = dial("alice", "alice.key", "bob@example.org", relay_addr);
    party *bob = dial("bob", "bob.key", "alice@example.org", relay_addr);
    CHECK(wait_lines(alice, "\"authenticated\": true", 1));
    CHECK(wait_lines(bob, "\"authenticated\": true", 1));
    say(alice, "{\"send\": \"past the squatters\"}");
    CHECK(wait_lines(bob, "\"text\": \"past the squatters\"", 1));
    CHECK(lines(alice, "conversation_busy") == 0 && lines(bob, "conversation_busy") == 0);
    for (int i = 0; i < n; i++)
        tls_raw_close(&fds[i]);
    fkex_key_free(aaron);
    teardown();
}

static void dm_e2e_tampered(void)
{
    char via[128];
    if (world_via("tamper", via, TAMPER) != 0)
        return;
    party *alice = dial("alice", "alice.key", "bob@example.org", relay_addr);
    party *bob = dial("bob", "bob.key", "alice@example.org", via);
    CHECK(wait_lines(bob, "\"event\": \"joined\"", 1));
    CHECK(wait_lines(alice, "\"event\": \"joined\"", 1));
    say(alice, "{\"send\": \"one\"}");
    say(alice, "{\"send\": \"two\"}");
    say(alice, "{\"send\": \"three\"}");
    CHECK(wait_lines(bob, "\"text\": \"three\"", 1));
    CHECK(wait_lines(bob, "\"code\": \"tampered\"", 1));
    CHECK(lines(bob, "\"text\": \"one\"") == 0);
    CHECK(lines(bob, "\"text\": \"two\"") == 1 && lines(bob, "\"text\": \"three\"") == 1);
    CHECK(end(bob) == 0);
    CHECK(end(alice) == 0);
    teardown();
}

void suite_dm_e2e(void)
{
    RUN(dm_e2e_both_ways);
    RUN(dm_e2e_paced);
    RUN(dm_e2e_wrong_identity);
    RUN(dm_e2e_tampered);
    RUN(dm_e2e_squatters);
}
