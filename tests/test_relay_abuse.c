/*
 * tests/test_relay_abuse.c: the relay daemon against abusive clients
 * (issue 4's test list, and the review's limits), end to end: the real
 * daemon on 127.0.0.1 with short deadlines, a real room of two members
 * (tests/relay_harness.h) talking all along, and raw TCP sockets that send
 * garbage after a valid length, a length over the maximum, half a frame
 * then the end of their stream, a byte every 200 ms, or nothing at all.
 * Each must read an ERROR saying why, then the end of the stream, while
 * the members go on with no error and nothing lost. Then: the connection
 * cap, accepts that fail for lack of file descriptors, a replay larger
 * than the queue cap, and a room whose store vanishes under the relay.
 *
 * Every wait is bounded; every daemon is killed when the suite ends.
 */
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "relay_harness.h"
#include "tls_raw.h"
#include "relay/room.h"

/* ---- raw clients ------------------------------------------------------------- */

typedef struct {
    const char *name;
    tls_raw t;           /* over TLS, as every client: the abuse is in the frames */
    uint8_t got[4096];
    size_t ngot;
    int eof, reset;
} raw;

/* endpoint: the relay's (TLS), or its HOST:PORT alone (plain TCP, for
 * handshakes that never end). */
static int raw_open(raw *r, const char *name, const char *endpoint)
{
    memset(r, 0, sizeof *r);
    r->name = name;
    return tls_raw_open(&r->t, endpoint, 0, 5000);
}

static void raw_send(raw *r, const void *p, size_t n)
{
    CHECK(tls_raw_send(&r->t, p, n) == (ssize_t)n);
}

/* Reads what has arrived, without waiting. */
static void raw_poll(raw *r)
{
    while (r->t.fd >= 0 && !r->eof && !r->reset) {
        uint8_t buf[4096];
        ssize_t n = tls_raw_recv(&r->t, buf, sizeof buf, 1);
        if (n > 0) {
            size_t k = (size_t)n < sizeof r->got - r->ngot ? (size_t)n : sizeof r->got - r->ngot;
            memcpy(r->got + r->ngot, buf, k);
            r->ngot += k;
        } else if (n == 0) {
            r->eof = 1;
        } else {
            r->reset = n == -1;
            return;
        }
    }
}

static void raw_close(raw *r)
{
    tls_raw_close(&r->t);
}

/* Whether r got exactly one ERROR with code and text containing phrase,
 * then the end of the stream (no reset). */
static int raw_told(const raw *r, int code, const char *phrase)
{
    fkex_relay_msg m;
    uint32_t len = r->ngot >= 4 ? load32_be(r->got) : 0;
    int ok = r->eof && !r->reset && r->ngot >= 4 && r->ngot == 4 + (size_t)len &&
             fkex_relay_msg_decode(&m, r->got + 4, len) == FKEX_OK && m.kind == FKEX_RELAY_ERROR &&
             m.code == code && test_has(m.data, m.datalen, phrase);
    if (!ok && r->ngot > 4 && fkex_relay_msg_decode(&m, r->got + 4, r->ngot - 4) == FKEX_OK &&
        m.kind == FKEX_RELAY_ERROR)
        fprintf(stderr, "    %s: ERROR %u \"%.*s\"%s, wanted ERROR %d \"%s\"\n", r->name,
                (unsigned)m.code, (int)m.datalen, (const char *)m.data, r->eof ? ", then EOF" : "",
                code, phrase);
    else if (!ok)
        fprintf(stderr, "    %s: %zu bytes back%s%s, wanted ERROR %d \"%s\"\n", r->name, r->ngot,
                r->eof ? ", then EOF" : "", r->reset ? ", then a reset" : "", code, phrase);
    return ok;
}

/* A frame: u32 length, then the envelope of m. */
static size_t frame_of(uint8_t *out, size_t cap, const fkex_relay_msg *m)
{
    fkex_writer w;
    size_t n = 0;
    fkex_writer_init(&w);
    fkex_relay_msg_encode(&w, m);
    if (!w.failed && 4 + w.len <= cap) {
        store32_be(out, (uint32_t)w.len);
        memcpy(out + 4, w.buf, w.len);
        n = 4 + w.len;
    }
    fkex_writer_free(&w);
    return n;
}

/* A PING answered by a PONG: the relay serves this connection. */
static int raw_pinged(raw *r)
{
    fkex_relay_msg m = { 0 }, d;
    uint8_t f[64];
    m.kind = FKEX_RELAY_PING;
    m.cookie = 42;
    raw_send(r, f, frame_of(f, sizeof f, &m));
    uint64_t dl = rh_mono_ms() + 5000;
    while (r->ngot < 4 + 10 && !r->eof && !r->reset && rh_mono_ms() < dl) {
        test_nap_ms(10);
        raw_poll(r);
    }
    return r->ngot >= 4 && fkex_relay_msg_decode(&d, r->got + 4, r->ngot - 4) == FKEX_OK &&
           d.kind == FKEX_RELAY_PONG && d.cookie == 42;
}

/* ---- the room ------------------------------------------------------------------ */

static char addr[128];
static pid_t pid = -1;
static rh_party admin, alice, bob;
static uint8_t *desc;
static size_t desclen;
static int said[2];     /* messages alice and bob sent */

static int room_up(void)
{
    uint8_t admin_sk[64], sig[64];
    static const char *const fast[] = { "--frame-timeout", "1", "--session-timeout", "2", NULL };
    rh_party_init(&admin, "admin");
    rh_party_init(&alice, "alice");
    rh_party_init(&bob, "bob");
    rh_room_make(&alice, &desc, &desclen, admin_sk, sig);
    sodium_memzero(admin_sk, sizeof admin_sk);
    if ((pid = rh_relay_start(addr, "abuse", fast, NULL)) < 0 || rh_dial(&admin, addr) != 0)
        return -1;
    rh_room_create(&admin, desc, desclen, alice.v, sig);
    RH_WAIT(admin.descriptors == 1);
    return rh_two_members(&alice, &bob, desc, desclen, addr);
}

/* One message from each member in turn. */
static void talk(void)
{
    rh_party *p = (said[0] + said[1]) % 2 ? &bob : &alice;
    rh_say(p, "and so on");
    said[p == &bob]++;
}

/* Everything said has arrived, once, and nobody was told off. */
static void nothing_lost(void)
{
    RH_WAIT(bob.messages == said[0] && alice.messages == said[1]);
    CHECK(alice.nerrors == 0 && bob.nerrors == 0 && !alice.closed && !bob.closed);
}

static void abuse_frames(void)
{
    raw garbage, big, half, slow, silent, tcp_silent, tcp_half, half_record;
    static const uint8_t record_head[5] = { 0x17, 0x03, 0x03, 0x40, 0x11 };   /* 16 KiB to come */
    static const uint8_t half_hello[] = { 0x16, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0xfc };
    const char *hostport = strchr(addr, '@') + 1;
    uint8_t hello[64], junk[4 + 10] = { 0, 0, 0, 10, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6 };
    static const uint8_t huge[4] = { 0x7f, 0xff, 0xff, 0xff };
    static const uint8_t cut[4 + 10] = { 0, 0, 0, 40, FKEX_RELAY_HELLO, FKEX_RELAY_VERSION };
    fkex_relay_msg h = { 0 };
    h.kind = FKEX_RELAY_HELLO;
    memcpy(h.room_id, rh_room_id, 32);
    size_t hellolen = frame_of(hello, sizeof hello, &h), slow_sent = 0;

    if (raw_open(&garbage, "garbage", addr) || raw_open(&big, "oversized", addr) ||
        raw_open(&half, "half a frame", addr) || raw_open(&slow, "slowloris", addr) ||
        raw_open(&silent, "silent", addr) || raw_open(&tcp_silent, "no handshake", hostport) ||
        raw_open(&tcp_half, "half a handshake", hostport) ||
        raw_open(&half_record, "half a record", addr)) {
        CHECK(!"raw connections");
        return;
    }
    raw_send(&garbage, junk, sizeof junk);
    raw_send(&big, huge, sizeof huge);
    raw_send(&half, cut, sizeof cut);
    tls_raw_shutdown(&half.t);
    raw_send(&tcp_half, half_hello, sizeof half_hello);
    /* a TLS record announced and never sent: OpenSSL holds a buffer for it */
    CHECK(send(half_record.t.fd, record_head, sizeof record_head, MSG_NOSIGNAL) == 5);
    /* 4 s: the members talk every 100 ms, the slowloris sends a byte
     * every 200 ms (a HELLO would take 9 s), the deadlines pass */
    uint64_t start = rh_mono_ms(), next_talk = start, next_byte = start;
    while (rh_mono_ms() - start < 4000) {
        uint64_t now = rh_mono_ms();
        if (now >= next_talk) {
            talk();
            next_talk = now + 100;
        }
        if (now >= next_byte && slow_sent < hellolen && !slow.eof) {
            if (tls_raw_send(&slow.t, hello + slow_sent, 1) == 1)
                slow_sent++;
            next_byte = now + 200;
        }
        rh_turn();
        raw_poll(&garbage);
        raw_poll(&big);
        raw_poll(&half);
        raw_poll(&slow);
        raw_poll(&silent);
        raw_poll(&tcp_silent);
        raw_poll(&tcp_half);
        raw_poll(&half_record);
    }
    CHECK(raw_told(&garbage, FKEX_RELAY_E_BAD_FRAME, "not a relay envelope"));
    CHECK(raw_told(&big, FKEX_RELAY_E_BAD_FRAME, "frame too large"));
    CHECK(raw_told(&half, FKEX_RELAY_E_BAD_FRAME, "truncated frame"));
    CHECK(raw_told(&slow, FKEX_RELAY_E_BAD_FRAME, "frame timed out"));
    CHECK(slow_sent >= 3 && slow_sent < hellolen);
    CHECK(raw_told(&silent, FKEX_RELAY_E_AUTH, "no session within 2 s"));
    /* a handshake that never ends is cut off on the frame timeout, told
     * nothing (nothing can be said before it) */
    CHECK((tcp_silent.eof || tcp_silent.reset) && tcp_silent.ngot == 0);
    CHECK((tcp_half.eof || tcp_half.reset) && tcp_half.ngot == 0);
    CHECK(rh_logged("abuse.err", "handshake timed out"));
    /* a record begun is a frame begun */
    CHECK(raw_told(&half_record, FKEX_RELAY_E_BAD_FRAME, "frame timed out"));
    raw_close(&half_record);
    raw_close(&tcp_silent);
    raw_close(&tcp_half);
    raw_close(&garbage);
    raw_close(&big);
    raw_close(&half);
    raw_close(&slow);
    raw_close(&silent);
    CHECK(said[0] >= 15 && said[1] >= 15);
    nothing_lost();
}

/* ---- a join flood ---------------------------------------------------------------- */

/* Reads one frame (blocking, 5 s at most) into buf: its envelope, or -1. */
static int read_frame(tls_raw *t, uint8_t *buf, size_t cap, fkex_relay_msg *m)
{
    uint8_t head[4];
    size_t got = 0, len;
    while (got < 4) {
        ssize_t n = tls_raw_recv(t, head + got, 4 - got, 0);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    if ((len = load32_be(head)) > cap)
        return -1;
    for (got = 0; got < len;) {
        ssize_t n = tls_raw_recv(t, buf + got, len - got, 0);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return fkex_relay_msg_decode(m, buf, len) == FKEX_OK ? 0 : -1;
}

/* The frame in one send (two would meet Nagle and the delayed ACK). */
static int send_env(tls_raw *t, const fkex_relay_msg *m)
{
    fkex_writer w;
    int ok;
    fkex_writer_init(&w);
    fkex_writer_u32(&w, 0);
    fkex_relay_msg_encode(&w, m);
    if (!w.failed)
        store32_be(w.buf, (uint32_t)(w.len - 4));
    ok = !w.failed && tls_raw_send(t, w.buf, w.len) == (ssize_t)w.len;
    fkex_writer_free(&w);
    return ok ? 0 : -1;
}

/* One flooder's connection from 127.0.0.host: a fresh leaf under key
 * authenticates and submits its JoinRequest. The answer's error code (0:
 * accepted) in *code; 0 with the connection open in *t, or -1. */
static int flood_one(tls_raw *t, int host, const fkex_key *key, int *code)
{
    static uint8_t buf[300 << 10];
    fkex_ratchet_config cfg = { .key = key, .descriptor = desc, .descriptor_len = desclen };
    fkex_ratchet *st = NULL;
    fkex_gke_out out;
    fkex_relay_msg m = { 0 }, in;
    t->fd = -1;
    t->ssl = NULL;
    memcpy(cfg.room_id, rh_room_id, 32);
    fkex_gke_out_init(&out);
    if (fkex_ratchet_join(&st, &cfg, &rh_rng, &out) != FKEX_OK ||
        tls_raw_open(t, addr, host, 5000) != 0)
        goto fail;
    m.kind = FKEX_RELAY_HELLO;
    memcpy(m.room_id, rh_room_id, 32);
    m.has_leaf = 1;
    fkex_ratchet_leaf_key(m.leaf, st);
    if (send_env(t, &m) != 0 || read_frame(t, buf, sizeof buf, &in) != 0 ||
        in.kind != FKEX_RELAY_NONCE)
        goto fail;
    memset(&m, 0, sizeof m);
    m.kind = FKEX_RELAY_AUTH;
    if (fkex_ratchet_relay_auth(m.sig, st, in.nonce) != FKEX_OK || send_env(t, &m) != 0 ||
        read_frame(t, buf, sizeof buf, &in) != 0 || in.kind != FKEX_RELAY_READY)
        goto fail;
    memset(&m, 0, sizeof m);
    m.kind = FKEX_RELAY_SUBMIT;
    memcpy(m.room_id, rh_room_id, 32);
    m.seq = 1;
    m.data = out.msgs[0].bytes;
    m.datalen = out.msgs[0].len;
    if (send_env(t, &m) != 0 || read_frame(t, buf, sizeof buf, &in) != 0 ||
        (in.kind != FKEX_RELAY_ACCEPTED && in.kind != FKEX_RELAY_ERROR))
        goto fail;
    *code = in.kind == FKEX_RELAY_ERROR ? in.code : 0;
    fkex_gke_out_clear(&out);
    fkex_ratchet_free(st);
    return 0;
fail:
    tls_raw_close(t);
    fkex_gke_out_clear(&out);
    fkex_ratchet_free(st);
    return -1;
}

#define FLOOD_HOSTS 30
#define FLOOD_EACH 10

/* 300 JoinRequests under a self-made authority, from 30 addresses, each on
 * a connection of its own, after a member named that authority to the
 * relay as the room's: the relay takes at most its bounds of them
 * (per address, per authority), the sponsor refuses those it gets (another
 * authority) and each refusal frees its slot at once; then a real joiner
 * gets in as fast as ever, and the members never noticed. */
static void abuse_join_flood(void)
{
    fkex_rng rng;
    fkex_mpk *mpk;
    fkex_msk *msk;
    test_rng(&rng, "a flooder's own authority");
    CHECK_OK(fkex_abe_setup(&mpk, &msk, "waters11", &rng));
    fkex_key *mallory = test_keygen(msk, "ONE TWO THREE FOUR", &rng);
    static tls_raw fds[FLOOD_HOSTS * FLOOD_EACH];
    tls_raw more;
    int taken = 0, busy = 0, refused_before = alice.refused;
    /* first bob, a member in league with her, sends a JoinRefused naming
     * her authority, so that her flood would pass as the room's own: the
     * relay keeps the authority it learnt from a sponsor */
    {
        fkex_rmsg_join_refused forged = { .reason = FKEX_JOIN_REFUSED_INVALID };
        fkex_writer w;
        fkex_gke_out out;
        int answered = bob.accepted + bob.nerrors;
        memcpy(forged.room_id, rh_room_id, 32);
        fkex_rng_fill(&rng, forged.joiner_id, 32);
        fkex_mpk_fingerprint(forged.authority, mpk);
        fkex_writer_init(&w);
        fkex_rmsg_join_refused_encode(&w, &forged);
        fkex_gke_out_init(&out);
        CHECK(!w.failed);
        CHECK_OK(fkex_gke_out_msg(&out, 0, w.buf, w.len));
        rh_absorb(&bob, &out);
        RH_WAIT(bob.accepted + bob.nerrors > answered);
    }
    for (int h = 0; h < FLOOD_HOSTS; h++)
        for (int k = 0; k < FLOOD_EACH; k++) {
            int code = -1, i = h * FLOOD_EACH + k;
            CHECK(flood_one(&fds[i], 2 + h, mallory, &code) == 0);
            taken += code == 0;
            busy += code == FKEX_RELAY_E_BUSY;
        }
    /* alice was not reading: the relay took only its bound under one authority */
    CHECK(taken == RELAY_MAX_JOINS_PER_AUTHORITY && busy == FLOOD_HOSTS * FLOOD_EACH - taken);
    /* she refuses each (another authority): every slot is free again */
    RH_WAIT(alice.refused - refused_before >= taken);
    int code = -1;
    CHECK(flood_one(&more, FLOOD_HOSTS + 2, mallory, &code) == 0 && code == 0);
    /* a real joiner, as fast as ever */
    rh_party carol;
    fkex_ratchet_config cfg = { .key = rh_world.carol, .descriptor = desc,
                                .descriptor_len = desclen };
    fkex_gke_out out;
    rh_party_init(&carol, "carol");
    memcpy(cfg.room_id, rh_room_id, 32);
    CHECK_OK(fkex_ratchet_join(&carol.st, &cfg, &rh_rng, &carol.pending));
    fkex_ratchet_leaf_key(carol.v, carol.st);
    uint64_t start = rh_mono_ms();
    CHECK(rh_dial(&carol, addr) == 0);
    RH_WAIT(alice.admitted == 2);
    fkex_gke_out_init(&out);
    CHECK_OK(fkex_ratchet_commit(alice.st, NULL, &rh_rng, &out));
    rh_absorb(&alice, &out);
    RH_WAIT(carol.joined);
    uint64_t took = rh_mono_ms() - start;
    fprintf(stderr, "    %d of %d flood JoinRequests taken, %d refused as busy; then a real "
            "join in %llu ms\n", taken, FLOOD_HOSTS * FLOOD_EACH, busy, (unsigned long long)took);
    CHECK(took < 2000);
    talk();
    talk();
    nothing_lost();
    RH_WAIT(fkex_ratchet_members(bob.st) == 3);
    rh_hang_up(&carol);
    rh_party_free(&carol);
    for (size_t i = 0; i < FKEX_ARRAY_LEN(fds); i++)
        tls_raw_close(&fds[i]);
    tls_raw_close(&more);
    fkex_key_free(mallory);
    fkex_mpk_free(mpk);
    fkex_msk_free(msk);
}

/* A member further behind than the relay's 64 MiB queue cap is replayed
 * page by page, not cut off as a slow reader. */
#define BIG_TEXT (900u * 1024)
#define BIG_MESSAGES 80   /* 72 MiB */

static void abuse_long_replay(void)
{
    char *text = malloc(BIG_TEXT + 1);
    int before = bob.messages;
    memset(text, 'x', BIG_TEXT);
    text[BIG_TEXT] = 0;
    rh_hang_up(&bob);
    for (int i = 0; i < BIG_MESSAGES; i++) {
        int accepted = alice.accepted;
        rh_say(&alice, text);
        RH_WAIT(alice.accepted == accepted + 1);   /* alice's own queue stays small */
    }
    free(text);
    CHECK(rh_dial(&bob, addr) == 0);
    RH_WAIT(bob.messages == before + BIG_MESSAGES);
    CHECK(bob.ready && !bob.closed && bob.nerrors == 0);
    said[0] += BIG_MESSAGES;
    talk();
    talk();
    nothing_lost();
    CHECK(rh_logged("abuse.err", "replayed 80 frames"));
}

/* A room whose store cannot be reread after a failed write stops being
 * served: its members are told (ERROR 9) and closed, a HELLO is refused,
 * and the relay goes on answering. Last: it spoils the database. */
static void abuse_room_out_of_service(void)
{
    sqlite3 *db;
    raw late;
    CHECK(sqlite3_open(rh_at("relay.db"), &db) == SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    CHECK(sqlite3_exec(db, "DROP TABLE log; DROP TABLE joins;", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    rh_say(&alice, "into the void");
    RH_WAIT(alice.closed && bob.closed);
    CHECK(alice.last_error == FKEX_RELAY_E_INTERNAL && bob.last_error == FKEX_RELAY_E_INTERNAL);
    CHECK(rh_logged("abuse.err", "no longer served"));
    /* a member coming back is refused; the relay still answers */
    CHECK(rh_dial(&bob, addr) == 0);
    RH_WAIT(bob.last_error == FKEX_RELAY_E_INTERNAL && bob.nerrors >= 2);
    CHECK(!bob.ready);
    if (raw_open(&late, "ping", addr) == 0) {
        CHECK(raw_pinged(&late));
        raw_close(&late);
    }
    CHECK(kill(pid, 0) == 0);
}

static int room_ok;

static void abuse_room_up(void)
{
    test_rng(&rh_rng, "relay abuse");
    rh_loop_open();
    room_ok = room_up() == 0;
    CHECK(room_ok);
}

static void abuse_room_down(void)
{
    rh_party *all[] = { &admin, &alice, &bob };
    if (room_ok)
        CHECK(rh_relay_stop(pid) == 0);
    rh_relay_kill();
    rh_loop_close(all, FKEX_ARRAY_LEN(all));
    rh_party_free(&alice);
    rh_party_free(&bob);
    free(desc);
}

/* A full disk (a file-size limit here: writes fail as they would): every
 * message is refused (ERROR 9) and nothing is lost in silence, and the
 * relay's log says so once, not once per message (issue 11). */
static void abuse_full_disk(void)
{
    rh_party admin2, carol;
    uint8_t *desc2 = NULL, admin_sk[64], sig[64];
    size_t desc2len = 0;
    char a[128], text[8192], name[64];
    static const char *const db_files[] = { "relay.db", "relay.db-wal", "relay.db-shm" };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(db_files); i++)
        unlink(rh_at(db_files[i]));
    pid_t p = rh_relay_start(a, "full", NULL, "-f 4096");
    CHECK(p > 0);
    if (p <= 0)
        return;
    rh_loop_open();
    rh_party_init(&admin2, "admin2");
    rh_party_init(&carol, "carol");
    rh_room_make(&carol, &desc2, &desc2len, admin_sk, sig);
    sodium_memzero(admin_sk, sizeof admin_sk);
    CHECK(rh_dial(&admin2, a) == 0);
    rh_room_create(&admin2, desc2, desc2len, carol.v, sig);
    RH_WAIT(admin2.descriptors == 1);
    CHECK(rh_dial(&carol, a) == 0);
    RH_WAIT(carol.ready);
    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = 0;
    int sent = 0;
    for (; sent < 600; sent++) {
        rh_say(&carol, text);
        rh_turn();
    }
    RH_WAIT(carol.accepted + carol.nerrors >= sent);
    fprintf(stderr, "    a full disk: %d of %d messages stored, %d refused\n", carol.accepted,
            sent, carol.nerrors);
    CHECK(carol.nerrors >= 100 && carol.last_error == FKEX_RELAY_E_INTERNAL);
    snprintf(name, sizeof name, "%s", rh_at("full.err"));
    char *log = test_read_text(name);
    size_t lines = 0;
    for (const char *q = log; (q = strstr(q, "failed")) != NULL; q++)
        lines++;
    CHECK(lines >= 1 && lines <= 3);
    free(log);
    rh_party *all[] = { &admin2, &carol };
    CHECK(rh_relay_stop(p) == 0);
    rh_loop_close(all, FKEX_ARRAY_LEN(all));
    rh_party_free(&carol);
    free(desc2);
}

/* ---- connections ------------------------------------------------------------------ */

/* Past --max-connections a client is told the relay is full, then cut
 * off; once one leaves, the next is served. */
static void abuse_max_connections(void)
{
    static const char *const cap[] = { "--max-connections", "3", NULL };
    char a[128];
    raw held[3], refused, later;
    pid_t p = rh_relay_start(a, "cap", cap, NULL);
    if (p < 0) {
        CHECK(!"the relay starts");
        return;
    }
    for (int i = 0; i < 3; i++)
        CHECK(raw_open(&held[i], "held", a) == 0);
    test_nap_ms(200);
    CHECK(raw_open(&refused, "fourth", a) == 0);
    uint64_t dl = rh_mono_ms() + 5000;
    while (!refused.eof && !refused.reset && rh_mono_ms() < dl) {
        test_nap_ms(10);
        raw_poll(&refused);
    }
    CHECK(raw_told(&refused, FKEX_RELAY_E_BUSY, "too many connections"));
    CHECK(rh_logged("cap.err", "the cap (--max-connections)"));
    for (int i = 0; i < 3; i++) {   /* the held ones still work */
        raw_poll(&held[i]);
        CHECK(!held[i].eof);
    }
    raw_close(&held[0]);
    CHECK(rh_logged("cap.err", "below the cap of 3 connections again: 1 refused"));
    CHECK(raw_open(&later, "later", a) == 0 && raw_pinged(&later));
    raw_close(&later);
    raw_close(&refused);
    for (int i = 1; i < 3; i++)
        raw_close(&held[i]);
    CHECK(rh_relay_stop(p) == 0);
}

/* An open-file limit below the cap: the relay warns at start; accepts
 * fail (EMFILE: libuv drops those connections), and the relay goes on
 * accepting once descriptors are free again. The default cap follows the
 * limit (half of it, when it is under 128). */
#define FLOOD 80

static void abuse_out_of_files(void)
{
    static const char *const many[] = { "--max-connections", "1000", NULL };
    char a[128];
    static raw flood[FLOOD];
    raw later;
    int opened = 0, cut = 0;
    pid_t p = rh_relay_start(a, "nofile-default", NULL, "-n 100");
    CHECK(p > 0 && rh_logged("nofile-default.err", "at most 50 connections"));
    CHECK(rh_relay_stop(p) == 0);
    if ((p = rh_relay_start(a, "nofile", many, "-n 48")) < 0) {
        CHECK(!"the relay starts");
        return;
    }
    /* TCP connections alone: the kernel takes them whether or not the
     * relay can, and a handshake would wait on the ones it cannot */
    for (int i = 0; i < FLOOD; i++)
        opened += raw_open(&flood[i], "flood", strchr(a, '@') + 1) == 0;
    test_nap_ms(500);
    for (int i = 0; i < FLOOD; i++) {
        raw_poll(&flood[i]);
        cut += flood[i].eof || flood[i].reset;
    }
    CHECK(opened == FLOOD && cut > 0);   /* the relay could not keep them all */
    CHECK(rh_logged("nofile.err", "more than the open-file limit (48) allows"));
    for (int i = 0; i < FLOOD; i++)
        raw_close(&flood[i]);
    test_nap_ms(300);
    CHECK(raw_open(&later, "later", a) == 0 && raw_pinged(&later));
    raw_close(&later);
    CHECK(kill(p, 0) == 0);
    CHECK(rh_relay_stop(p) == 0);
}

void suite_relay_abuse(void)
{
    if (rh_suite_open("relay-abuse") != 0)
        return;
    gke_world_open(&rh_world, "relay abuse world", "waters11");
    RUN(abuse_room_up);
    if (room_ok) {
        RUN(abuse_frames);
        RUN(abuse_long_replay);
        RUN(abuse_join_flood);
        RUN(abuse_room_out_of_service);
    }
    RUN(abuse_room_down);
    RUN(abuse_full_disk);
    RUN(abuse_max_connections);
    RUN(abuse_out_of_files);
    rh_relay_kill();
    gke_world_close(&rh_world);
}
