/*
 * tests/test_relay_daemon.c: the relay daemon end to end. The real binary
 * ($FKEX_BIN relay) runs on 127.0.0.1 with a free port and a scratch
 * database; this process drives real ratchet members over src/net on its
 * own libuv loop (tests/relay_harness.h): a room is created, a second
 * member joins through the relay, they talk both ways; the relay is
 * stopped and started again on the same database and the members come
 * back, replay what they missed and go on in the same epoch; a client that
 * never reads is cut off while the relay's memory stays bounded; SIGTERM
 * ends it with 0 within 5 s.
 *
 * Every wait is bounded; every daemon is killed when the suite ends, pass
 * or fail.
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <arpa/inet.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "child.h"
#include "relay_harness.h"
#include "tls_raw.h"
#include "wire/relay_msg.h"
#include "opcount.h"
#include "gke/ratchet_state.h"

#if defined(__SANITIZE_ADDRESS__)
#define RSS_GROWTH_MAX_KIB (1024L * 1024)
#else
#define RSS_GROWTH_MAX_KIB (200L * 1024)
#endif


/* A client that never reads: requests descriptors until the relay cuts it
 * off. Returns the bytes it managed to send, or 0 if never cut off. */
static size_t slow_reader(const char *addr)
{
    static uint8_t req[4 + 2 + 32], batch[1000 * sizeof req];
    size_t total = 0;
    int cut = 0;
    tls_raw t;
    uint64_t deadline = rh_mono_ms() + 60000;
    if (tls_raw_open(&t, addr, 0, 3000) != 0)
        return 0;
    store32_be(req, 2 + 32);
    req[4] = FKEX_RELAY_GET_DESCRIPTOR;
    req[5] = FKEX_RELAY_VERSION;
    memcpy(req + 6, rh_room_id, 32);
    for (size_t i = 0; i < 1000; i++)
        memcpy(batch + i * sizeof req, req, sizeof req);
    while (!cut && rh_mono_ms() < deadline && total < (512u << 20)) {
        ssize_t n = tls_raw_send(&t, batch, sizeof batch);
        if (n <= 0)
            cut = 1;   /* reset by the relay (or it stopped reading: timed out) */
        else
            total += (size_t)n;
    }
    tls_raw_close(&t);
    return cut ? total : 0;
}

static void relay_e2e(void)
{
    char addr[128];
    uint8_t admin_sk[64], sig[64], *desc = NULL;
    size_t desclen = 0;
    static rh_party admin, alice, bob;
    rh_party *all[] = { &admin, &alice, &bob };
    pid_t pid;

    test_rng(&rh_rng, "relay daemon");
    rh_party_init(&admin, "admin");
    rh_party_init(&alice, "alice");
    rh_party_init(&bob, "bob");
    rh_loop_open();

    /* the room: the admin's descriptor, alice its founder */
    rh_room_make(&alice, &desc, &desclen, admin_sk, sig);
    if ((pid = rh_relay_start(addr, "relay1", NULL, NULL)) < 0) {
        CHECK(!"the relay starts");
        goto out;
    }

    /* CREATE_ROOM by the admin; a second time is refused */
    if (rh_dial(&admin, addr) != 0)
        goto out;
    {
        rh_room_create(&admin, desc, desclen, alice.v, sig);
        RH_WAIT(admin.descriptors == 1);
        rh_room_create(&admin, desc, desclen, alice.v, sig);
        RH_WAIT(admin.nerrors == 1);
        CHECK(admin.last_error == FKEX_RELAY_E_ROOM_EXISTS);
        /* a founder the admin did not name */
        uint8_t other[32];
        memcpy(other, alice.v, 32);
        other[0] ^= 1;
        rh_room_create(&admin, desc, desclen, other, sig);
        RH_WAIT(admin.nerrors == 2);
        CHECK(admin.last_error == FKEX_RELAY_E_ROOM_EXISTS ||
              admin.last_error == FKEX_RELAY_E_BAD_DESCRIPTOR);
        /* GET_DESCRIPTOR, PING */
        fkex_relay_msg g = { 0 };
        g.kind = FKEX_RELAY_GET_DESCRIPTOR;
        memcpy(g.room_id, rh_room_id, 32);
        rh_send_env(&admin, &g);
        RH_WAIT(admin.descriptors == 2);
        g.room_id[0] ^= 1;
        rh_send_env(&admin, &g);
        RH_WAIT(admin.nerrors == 3);
        CHECK(admin.last_error == FKEX_RELAY_E_NO_ROOM);
    }

    /* the founder's session; then bob joins through the relay */
    if (rh_two_members(&alice, &bob, desc, desclen, addr) != 0)
        goto out;
    CHECK(alice.nerrors == 0 && bob.nerrors == 0);

    rh_say(&alice, "hello bob");
    RH_WAIT(bob.messages == 1);
    CHECK(strcmp(bob.last_text, "hello bob") == 0);
    rh_say(&bob, "hello alice");
    RH_WAIT(alice.messages == 1);
    CHECK(strcmp(alice.last_text, "hello alice") == 0);

    /* a stranger cannot speak for alice */
    {
        static rh_party mallory;
        rh_party_init(&mallory, "mallory");
        mallory.st = bob.st;          /* signs with bob's key ... */
        memcpy(mallory.v, alice.v, 32);   /* ... for alice's V */
        if (rh_dial(&mallory, addr) == 0) {
            RH_WAIT(mallory.nerrors == 1);
            CHECK(mallory.last_error == FKEX_RELAY_E_AUTH && !mallory.ready);
            rh_hang_up(&mallory);
        }
    }

    /* restart on the same database */
    CHECK(rh_relay_stop(pid) == 0);
    RH_WAIT(alice.closed && bob.closed && admin.closed);
    /* again, with --sync normal: the same database, and nothing else changes */
    static const char *const normal[] = { "--sync", "normal", NULL };
    if ((pid = rh_relay_start(addr, "relay2", normal, NULL)) < 0) {
        CHECK(!"the relay starts again");
        goto out;
    }
    CHECK(rh_logged("relay2.err", "1 room"));
    /* alice comes back and speaks while bob is still away */
    if (rh_dial(&alice, addr) != 0)
        goto out;
    RH_WAIT(alice.ready);
    rh_say(&alice, "while you were away");
    RH_WAIT(alice.accepted >= 4);
    CHECK(bob.messages == 1);
    /* bob comes back: the log replays what he missed; same epoch */
    if (rh_dial(&bob, addr) != 0)
        goto out;
    RH_WAIT(bob.ready && bob.messages == 2);
    CHECK(strcmp(bob.last_text, "while you were away") == 0);
    rh_say(&bob, "back");
    RH_WAIT(alice.messages == 2);
    CHECK(strcmp(alice.last_text, "back") == 0);
    CHECK(fkex_ratchet_epoch(alice.st) == 1 && fkex_ratchet_epoch(bob.st) == 1);
    CHECK(alice.nerrors == 0 && bob.nerrors == 0);

    /* bob drops: his place is kept; after the 1 s grace he is offline */
    rh_hang_up(&bob);
    rh_idle(3000);
    CHECK(rh_logged("relay2.err", "offline after the 1 s grace"));
    rh_say(&alice, "still here");
    RH_WAIT(alice.messages == 2 && alice.accepted >= 5);

    /* a slow reader is cut off; the relay's memory stays bounded */
    {
        long before = child_rss_kib(pid), after;
        size_t sent = slow_reader(addr);
        after = child_rss_kib(pid);
        CHECK(sent > 0);
        /* the queue is capped at 64 MiB of bytes; malloc and libuv add
         * their overhead per queued frame (ASan much more) */
        CHECK(after > 0 && after < before + RSS_GROWTH_MAX_KIB);
        if (getenv("RELAY_DEBUG"))
            fprintf(stderr, "    slow reader: %zu bytes sent; rss %ld -> %ld KiB\n", sent, before, after);
        CHECK(rh_logged("relay2.err", "slow reader"));
        CHECK(kill(pid, 0) == 0);
    }
    /* the relay still serves */
    if (rh_dial(&bob, addr) == 0) {
        RH_WAIT(bob.ready && bob.messages == 3);
        CHECK(strcmp(bob.last_text, "still here") == 0);
    }
    CHECK(rh_relay_stop(pid) == 0);

out:
    rh_relay_kill();
    rh_loop_close(all, FKEX_ARRAY_LEN(all));
    rh_party_free(&alice);
    rh_party_free(&bob);
    free(desc);
    sodium_memzero(admin_sk, sizeof admin_sk);
}

/* One more member joins through the relay; sponsor admits it. With lie,
 * the sponsor's Welcome carries a false ratchet tree whose confirmation
 * tag it made right (gke_welcome_retree): a member's lie that only the
 * other members' EpochAcks can show. */
static void join_through(rh_party *sponsor, rh_party *j, const fkex_key *key,
                         const uint8_t *desc, size_t desclen, const char *addr, int lie)
{
    fkex_ratchet_config cfg = { .key = key, .descriptor = desc, .descriptor_len = desclen };
    fkex_gke_out out;
    int admitted = sponsor->admitted;
    memcpy(cfg.room_id, rh_room_id, 32);
    fkex_gke_out_init(&out);
    CHECK_OK(fkex_ratchet_join(&j->st, &cfg, &rh_rng, &j->pending));
    fkex_ratchet_leaf_key(j->v, j->st);
    if (rh_dial(j, addr) != 0)
        return;
    RH_WAIT(sponsor->admitted == admitted + 1);
    CHECK_OK(fkex_ratchet_commit(sponsor->st, NULL, &rh_rng, &out));
    /* the commit, then the Welcome: the sponsor holds the joiner's K_w and th */
    CHECK(out.nmsgs == 2 && sponsor->st->njoins == 1);
    if (lie && out.nmsgs == 2) {
        fkex_writer w;
        const pending_join *pj = &sponsor->st->joins[0];
        CHECK_OK(gke_welcome_retree(&w, out.msgs[1].bytes, out.msgs[1].len, pj->k_w, pj->th,
                                    rh_room_id, GKE_WELCOME_FALSE_TREE));
        CHECK(w.len == out.msgs[1].len);
        if (w.len == out.msgs[1].len)
            memcpy(out.msgs[1].bytes, w.buf, w.len);
        fkex_writer_free(&w);
    }
    rh_absorb(sponsor, &out);
    RH_WAIT(j->joined);
}

/* A sponsor that lies about the ratchet tree, and a member whose path
 * holds a key of small order, end to end through the real relay (ARCHITECTURE.md, "The ratchet tree": the joiner checks the tree
 * through the confirmed group context and the other members' EpochAcks,
 * not parent hashes). alice, a member and the relay's sponsor, hands carol
 * a tree with one parent's key changed; carol joins, then bob's EpochAck
 * (the one that settled the epoch, which the relay passes on) fails her
 * check: she reports a fork, and her epoch is not the room's. dave, the
 * next joiner, given the true tree, sees no fork. */
static void relay_false_tree(void)
{
    char addr[128];
    uint8_t admin_sk[64], sig[64], *desc = NULL, a[32], c[32];
    size_t desclen = 0;
    static rh_party admin, alice, bob, carol, dave;
    rh_party *all[] = { &admin, &alice, &bob, &carol, &dave };
    fkex_commit_options upd = { .update = 1 };
    fkex_gke_out out;
    pid_t pid;

    test_rng(&rh_rng, "relay false tree");
    rh_party_init(&admin, "admin");
    rh_party_init(&alice, "alice");
    rh_party_init(&bob, "bob");
    rh_party_init(&carol, "carol");
    rh_party_init(&dave, "dave");
    rh_loop_open();
    rh_room_make(&alice, &desc, &desclen, admin_sk, sig);
    if ((pid = rh_relay_start(addr, "relay_tree", NULL, NULL)) < 0 || rh_dial(&admin, addr) != 0) {
        CHECK(!"the relay starts");
        goto out;
    }
    rh_room_create(&admin, desc, desclen, alice.v, sig);
    RH_WAIT(admin.descriptors == 1);
    if (rh_two_members(&alice, &bob, desc, desclen, addr) != 0)
        goto out;
    /* bob's Update gives the parent above alice and bob a key */
    fkex_gke_out_init(&out);
    CHECK_OK(fkex_ratchet_commit(bob.st, &upd, &rh_rng, &out));
    rh_absorb(&bob, &out);
    RH_WAIT(fkex_ratchet_epoch(alice.st) == 2 && fkex_ratchet_epoch(bob.st) == 2);
    CHECK(alice.st->tree.nodes[1].present);

    join_through(&alice, &carol, rh_world.carol, desc, desclen, addr, 1);
    RH_WAIT(carol.forks >= 1);
    fkex_ratchet_epoch_authenticator(a, alice.st);
    fkex_ratchet_epoch_authenticator(c, carol.st);
    CHECK(fkex_ratchet_epoch(carol.st) == 3 && memcmp(a, c, 32) != 0);
    CHECK(alice.forks == 0 && bob.forks == 0);

    join_through(&alice, &dave, rh_world.bob, desc, desclen, addr, 0);
    RH_WAIT(fkex_ratchet_epoch(bob.st) == 4);
    rh_idle(200);
    fkex_ratchet_epoch_authenticator(a, alice.st);
    fkex_ratchet_epoch_authenticator(c, dave.st);
    CHECK(dave.forks == 0 && memcmp(a, c, 32) == 0);

    /* bob, a member, commits an Update whose first path key he has made
     * one of small order (signed and tagged again as his own): nothing
     * could be sealed to it again, and those below it might be his
     * friends, so alice and dave refuse it as his doing; the relay passes
     * it on, and dave's own Update then settles: the room goes on. */
    {
        fkex_rmsg_commit cm;
        uint8_t *m;
        size_t len;
        uint64_t epoch = fkex_ratchet_epoch(alice.st);
        fkex_gke_out_init(&out);
        CHECK_OK(fkex_ratchet_commit(bob.st, &upd, &rh_rng, &out));
        m = out.msgs[0].bytes;
        len = out.msgs[0].len;
        CHECK_OK(fkex_rmsg_commit_decode(&cm, m, len));
        CHECK(cm.dist == FKEX_DIST_PATH && cm.path_len >= 1);
        memset(m + (cm.path_pks - m), 0, 32);
        fkex_mac(m + cm.tagged_len, bob.st->keys.membership_key, m, cm.tagged_len);
        CHECK_OK(fkex_sign(m + cm.signed_len, bob.st->sig_sk, "commit", m, cm.signed_len));
        rh_absorb(&bob, &out);
        RH_WAIT(alice.accused == 1 && dave.accused == 1);
        CHECK(fkex_ratchet_epoch(alice.st) == epoch);
        fkex_ratchet_drop_commit(bob.st);
        fkex_gke_out_init(&out);
        CHECK_OK(fkex_ratchet_commit(dave.st, &upd, &rh_rng, &out));
        rh_absorb(&dave, &out);
        RH_WAIT(fkex_ratchet_epoch(alice.st) == epoch + 1 &&
                fkex_ratchet_epoch(dave.st) == epoch + 1);
    }
    CHECK(rh_relay_stop(pid) == 0);
out:
    rh_relay_kill();
    rh_loop_close(all, FKEX_ARRAY_LEN(all));
    for (size_t i = 1; i < FKEX_ARRAY_LEN(all); i++)
        rh_party_free(all[i]);
    free(desc);
    sodium_memzero(admin_sk, sizeof admin_sk);
}

static int relay_refused(const char *db, const char *phrase);

static void relay_usage(void)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "%s relay --grace x >/dev/null 2>&1", rh_bin);
    CHECK(WEXITSTATUS(system(cmd)) == 2);
    snprintf(cmd, sizeof cmd, "%s relay --sync sometimes >/dev/null 2>&1", rh_bin);
    CHECK(WEXITSTATUS(system(cmd)) == 2);
    snprintf(cmd, sizeof cmd, "%s relay --listen nowhere >/dev/null 2>&1", rh_bin);
    CHECK(WEXITSTATUS(system(cmd)) == 2);
    snprintf(cmd, sizeof cmd, "%s relay --help >/dev/null 2>&1", rh_bin);
    CHECK(WEXITSTATUS(system(cmd)) == 0);
    snprintf(cmd, sizeof cmd, "%s relay --db %s >/dev/null 2>&1", rh_bin, rh_at("no/such/dir/r.db"));
    CHECK(WEXITSTATUS(system(cmd)) == 2);
    /* TLS options: plain TCP excludes a key; a certificate needs its key */
    snprintf(cmd, sizeof cmd, "%s relay --insecure-plaintext --tls-key %s >/dev/null 2>&1", rh_bin,
             rh_at("x.key"));
    CHECK(WEXITSTATUS(system(cmd)) == 2);
    snprintf(cmd, sizeof cmd, "%s relay --tls-cert %s >/dev/null 2>&1", rh_bin, rh_at("x.pem"));
    CHECK(WEXITSTATUS(system(cmd)) == 2);
}

/* A relay with an operator's certificate (--tls-cert, --tls-key): a
 * client that names it (NAME@HOST:PORT) and trusts the certificate
 * authority is served; one that names another server, or does not trust
 * that authority, is refused in the handshake. */
static void relay_tls_cert(void)
{
    char a[128], dir[600], cert[700], key[700], ca[700], ep[300], err[160];
    const char *old = getenv("SSL_CERT_FILE");
    fkex_tls *trusting = NULL, *untrusting = NULL;
    uint8_t req[2 + 32] = { FKEX_RELAY_GET_DESCRIPTOR, FKEX_RELAY_VERSION }, *reply = NULL;
    size_t replylen = 0;
    pid_t pid;
    snprintf(dir, sizeof dir, "%s", rh_at("ca"));
    snprintf(cert, sizeof cert, "%s/server.pem", dir);
    snprintf(key, sizeof key, "%s/server.key", dir);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    if (tls_test_ca(dir) != 0) {
        CHECK(!"openssl(1) made the test's certificates");
        return;
    }
    const char *const extra[] = { "--tls-cert", cert, "--tls-key", key, NULL };
    if ((pid = rh_relay_start(a, "certified", extra, NULL)) < 0) {
        CHECK(!"the relay starts with a certificate");
        return;
    }
    setenv("SSL_CERT_FILE", ca, 1);
    CHECK_OK(fkex_tls_client_new(&trusting, err));
    unsetenv("SSL_CERT_FILE");
    CHECK_OK(fkex_tls_client_new(&untrusting, err));   /* the system's authorities alone */
    if (old)
        setenv("SSL_CERT_FILE", old, 1);
    else
        unsetenv("SSL_CERT_FILE");
    snprintf(ep, sizeof ep, "relay.fkex.test@%s", strchr(a, '@') + 1);
    CHECK_OK(fkex_net_request(&reply, &replylen, ep, req, sizeof req, NULL, trusting, 10000, err));
    free(reply);
    reply = NULL;
    snprintf(ep, sizeof ep, "other.fkex.test@%s", strchr(a, '@') + 1);
    CHECK_ERR(fkex_net_request(&reply, &replylen, ep, req, sizeof req, NULL, trusting, 10000, err),
              FKEX_ERR_IO);
    CHECK(strstr(err, "does not verify") != NULL);
    snprintf(ep, sizeof ep, "relay.fkex.test@%s", strchr(a, '@') + 1);
    CHECK_ERR(fkex_net_request(&reply, &replylen, ep, req, sizeof req, NULL, untrusting, 10000, err),
              FKEX_ERR_IO);
    CHECK(strstr(err, "does not verify") != NULL);
    /* the pin the relay printed is its certificate's key */
    CHECK_OK(fkex_net_request(&reply, &replylen, a, req, sizeof req, NULL, untrusting, 10000, err));
    free(reply);
    fkex_tls_free(trusting);
    fkex_tls_free(untrusting);
    CHECK(rh_relay_stop(pid) == 0);
}

/* The relay's TLS key: made on first start beside the database (mode
 * 0600), the same after a restart (the pin it prints does not change),
 * and refused if others may read it. */
static void relay_tls_key(void)
{
    char a[128], b[128];
    struct stat st;
    pid_t pid;
    if ((pid = rh_relay_start(a, "key1", NULL, NULL)) < 0) {
        CHECK(!"the relay starts");
        return;
    }
    CHECK(rh_relay_stop(pid) == 0);
    CHECK(stat(rh_at("relay.key"), &st) == 0 && (st.st_mode & 0777) == 0600);
    if ((pid = rh_relay_start(b, "key2", NULL, NULL)) < 0) {
        CHECK(!"the relay starts again");
        return;
    }
    CHECK(rh_relay_stop(pid) == 0);
    CHECK(strchr(a, '@') && strchr(b, '@') && strncmp(a, b, FKEX_PIN_TEXT_LEN + 1) == 0);
    CHECK(chmod(rh_at("relay.key"), 0644) == 0);
    CHECK(relay_refused(rh_at("relay.db"), "can be read by others"));
    CHECK(chmod(rh_at("relay.key"), 0600) == 0);
}

/* A relay on db exits 2 at once, saying phrase (`timeout` bounds one
 * that would wrongly serve). */
static int relay_refused(const char *db, const char *phrase)
{
    char cmd[1600], err[700];
    snprintf(err, sizeof err, "%s.err", db);
    snprintf(cmd, sizeof cmd, "timeout 10 %s relay --listen 127.0.0.1:0 --db %s 2>%s", rh_bin, db,
             err);
    int rc = WEXITSTATUS(system(cmd));
    char *e = test_read_text(err);
    int ok = rc == 2 && strstr(e, phrase) != NULL;
    if (!ok)
        fprintf(stderr, "    relay on %s: exit %d, %s\n", db, rc, e);
    free(e);
    return ok;
}

/* One relay per database (issue 11): a second on the same --db is refused
 * at once (exit 2, saying so) while the first serves on; the database is
 * mode 0600; a SQLite file that is not a relay's is refused, as is a file
 * that is not SQLite. */
static void relay_one_db(void)
{
    char addr[128];
    struct stat st;
    sqlite3 *db;
    pid_t first = rh_relay_start(addr, "first", NULL, NULL);
    CHECK(first > 0);
    CHECK(relay_refused(rh_at("relay.db"), "is in use by another relay"));
    CHECK(stat(rh_at("relay.db"), &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(waitpid(first, NULL, WNOHANG) == 0);   /* the first serves on */
    CHECK(rh_relay_stop(first) == 0);
    /* another program's SQLite database, and a file that is not one */
    CHECK(sqlite3_open(rh_at("other.db"), &db) == SQLITE_OK &&
          sqlite3_exec(db, "CREATE TABLE accounts(id INTEGER);", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK(relay_refused(rh_at("other.db"), "is not an fkex relay database"));
    FILE *f = fopen(rh_at("notes.txt"), "w");
    if (f) {
        fputs("shopping list\n", f);
        fclose(f);
    }
    CHECK(relay_refused(rh_at("notes.txt"), "is not an fkex relay database"));
}

/* A join while the roster's first member is offline, through the real
 * relay: when the commit settles, the relay sends SETTLED, the joiner's
 * Welcome and the EpochAck, and the offline member has no session to get
 * them. The frames each session gets are its own: the joiner gets its
 * Welcome once (the harness checks every seq is above the last), and the
 * sponsor gets the EpochAck, not the Welcome again (once, the shared
 * frame of the delivery before a sessionless one was sent in its place). */
static void relay_offline_first(void)
{
    char addr[128];
    uint8_t admin_sk[64], sig[64], *desc = NULL;
    size_t desclen = 0;
    static rh_party admin, alice, bob, carol;
    rh_party *all[] = { &admin, &alice, &bob, &carol };
    pid_t pid;
    test_rng(&rh_rng, "relay offline first");
    rh_party_init(&admin, "admin");
    rh_party_init(&alice, "alice");
    rh_party_init(&bob, "bob");
    rh_party_init(&carol, "carol");
    rh_loop_open();
    rh_room_make(&alice, &desc, &desclen, admin_sk, sig);
    char db[700];
    snprintf(db, sizeof db, "%s", rh_at("offline-first.db"));   /* a room of its own */
    const char *args[] = { "--db", db, NULL };
    if ((pid = rh_relay_start(addr, "offline-first", args, NULL)) < 0 || rh_dial(&admin, addr) != 0)
        goto out;
    rh_room_create(&admin, desc, desclen, alice.v, sig);
    RH_WAIT(admin.descriptors == 1);
    if (rh_two_members(&alice, &bob, desc, desclen, addr) != 0)
        goto out;
    /* alice goes, past the 1 s grace: bob is the first online member */
    rh_hang_up(&alice);
    CHECK(rh_logged("offline-first.err", "offline after the 1 s grace"));
    if (rh_join(&bob, &carol, rh_world.carol, desc, desclen, addr) != 0)
        goto out;
    rh_say(&carol, "hello bob");
    RH_WAIT(bob.messages == 1);
    CHECK(strcmp(bob.last_text, "hello bob") == 0);
    CHECK(bob.nerrors == 0 && carol.nerrors == 0);
    CHECK(rh_relay_stop(pid) == 0);
out:
    rh_relay_kill();
    rh_loop_close(all, FKEX_ARRAY_LEN(all));
    for (size_t i = 0; i < FKEX_ARRAY_LEN(all); i++)
        rh_party_free(all[i]);
    free(desc);
    sodium_memzero(admin_sk, sizeof admin_sk);
}

/* Admission tells the relay nothing of which of the policy's attributes a
 * joiner holds, through the real relay and clients. The relay times each
 * joiner from JoinRequest to Proof; what the joiner's ABE work costs is
 * counted here instead of timed (tests/opcount.h): two joiners whose keys
 * are read from files, as a client reads them, one holding all four of
 * the policy's attributes and one two, hash exactly as many points to G1
 * and do the same pairing work. A key whose names went into its public
 * parameters' cache when it was read would skip, at its Proof's
 * re-encryption, the rows it holds (0.33 ms each for FAME). */
static void relay_admission_work(void)
{
    static const char *const holds[2] = { "ONE TWO THREE FOUR", "ONE TWO" };
    char addr[128];
    uint8_t admin_sk[64], sig[64], *desc = NULL;
    size_t desclen = 0;
    static rh_party admin, alice, bob, joiner[2];
    rh_party *all[] = { &admin, &alice, &bob, &joiner[0], &joiner[1] };
    fkex_key *key[2] = { NULL, NULL };
    opcount ops[2];
    pid_t pid;

    test_rng(&rh_rng, "admission work");
    rh_party_init(&admin, "admin");
    rh_party_init(&alice, "alice");
    rh_party_init(&bob, "bob");
    rh_party_init(&joiner[0], "all four");
    rh_party_init(&joiner[1], "two");
    rh_loop_open();
    for (int k = 0; k < 2; k++) {
        fkex_key *made = test_keygen(rh_world.msk, holds[k], &rh_rng);
        uint8_t *b;
        size_t len;
        CHECK(made != NULL);
        if (!made)
            goto out;
        CHECK_OK(fkex_key_encode(&b, &len, made));
        CHECK_OK(fkex_key_decode(&key[k], b, len));
        fkex_bytes_free(b, len);
        fkex_key_free(made);
        if (!key[k])
            goto out;
    }
    rh_room_make(&alice, &desc, &desclen, admin_sk, sig);
    if ((pid = rh_relay_start(addr, "admission", NULL, NULL)) < 0) {
        CHECK(!"the relay starts");
        goto out;
    }
    if (rh_dial(&admin, addr) != 0)
        goto out;
    rh_room_create(&admin, desc, desclen, alice.v, sig);
    RH_WAIT(admin.descriptors == 1);
    /* bob's join first, so that alice, the sponsor, has met the policy */
    if (rh_two_members(&alice, &bob, desc, desclen, addr) != 0)
        goto out;
    for (int k = 0; k < 2; k++) {
        opcount_reset();
        if (rh_join(&alice, &joiner[k], key[k], desc, desclen, addr) != 0)
            goto out;
        opcount_read(&ops[k]);
    }
    CHECK(ops[0].g1_hashes > 0 && ops[0].g1_hashes == ops[1].g1_hashes);
    CHECK(ops[0].miller_pairs == ops[1].miller_pairs && ops[0].g1_mults == ops[1].g1_mults);
    if (ops[0].g1_hashes != ops[1].g1_hashes)
        fprintf(stderr, "    hashes to G1: %lu holding all four, %lu holding two\n",
                ops[0].g1_hashes, ops[1].g1_hashes);
    CHECK(rh_relay_stop(pid) == 0);
out:
    rh_relay_kill();
    rh_loop_close(all, FKEX_ARRAY_LEN(all));
    for (size_t i = 0; i < FKEX_ARRAY_LEN(all); i++)
        rh_party_free(all[i]);
    fkex_key_free(key[0]);
    fkex_key_free(key[1]);
    free(desc);
    sodium_memzero(admin_sk, sizeof admin_sk);
}

void suite_relay_daemon(void)
{
    if (rh_suite_open("relayd") != 0)
        return;
    RUN(relay_usage);
    RUN(relay_tls_key);
    RUN(relay_tls_cert);
    /* FAME, as new authorities are; the other room suites keep Waters. */
    gke_world_open(&rh_world, "relay daemon world", "fame");
    RUN(relay_e2e);
    RUN(relay_one_db);
    RUN(relay_false_tree);
    RUN(relay_admission_work);
    RUN(relay_offline_first);
    rh_relay_kill();
    gke_world_close(&rh_world);
}
