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
#include <unistd.h>
#include "relay_harness.h"

/* ---- raw clients ------------------------------------------------------------- */

typedef struct {
    const char *name;
    int fd;
    uint8_t got[4096];
    size_t ngot;
    int eof, reset;
} raw;

static int raw_open(raw *r, const char *name, const char *addr)
{
    struct sockaddr_in sa = { 0 };
    unsigned port = 0;
    memset(r, 0, sizeof *r);
    r->name = name;
    r->fd = -1;
    if (sscanf(addr, "127.0.0.1:%u", &port) != 1 || (r->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
        return -1;
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(r->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(r->fd);
        r->fd = -1;
        return -1;
    }
    return 0;
}

static void raw_send(raw *r, const void *p, size_t n)
{
    CHECK(r->fd >= 0 && send(r->fd, p, n, MSG_NOSIGNAL) == (ssize_t)n);
}

/* Reads what has arrived, without waiting. */
static void raw_poll(raw *r)
{
    while (r->fd >= 0 && !r->eof && !r->reset) {
        uint8_t buf[4096];
        ssize_t n = recv(r->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            size_t k = (size_t)n < sizeof r->got - r->ngot ? (size_t)n : sizeof r->got - r->ngot;
            memcpy(r->got + r->ngot, buf, k);
            r->ngot += k;
        } else if (n == 0) {
            r->eof = 1;
        } else if (errno != EINTR) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                r->reset = 1;
            return;
        }
    }
}

static void raw_close(raw *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}

static int has(const uint8_t *p, size_t n, const char *phrase)
{
    size_t k = strlen(phrase);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(p + i, phrase, k) == 0)
            return 1;
    return 0;
}

/* Whether r got exactly one ERROR with code and text containing phrase,
 * then the end of the stream (no reset). */
static int raw_told(const raw *r, int code, const char *phrase)
{
    fkex_relay_msg m;
    uint32_t len = r->ngot >= 4 ? load32_be(r->got) : 0;
    int ok = r->eof && !r->reset && r->ngot >= 4 && r->ngot == 4 + (size_t)len &&
             fkex_relay_msg_decode(&m, r->got + 4, len) == FKEX_OK && m.kind == FKEX_RELAY_ERROR &&
             m.code == code && has(m.data, m.datalen, phrase);
    if (!ok)
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

static char addr[64];
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
    if ((pid = rh_relay_start(addr, "abuse", fast, 0)) < 0 || rh_dial(&admin, addr) != 0)
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
    raw garbage, big, half, slow, silent;
    uint8_t hello[64], junk[4 + 10] = { 0, 0, 0, 10, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6 };
    static const uint8_t huge[4] = { 0x7f, 0xff, 0xff, 0xff };
    static const uint8_t cut[4 + 10] = { 0, 0, 0, 40, FKEX_RELAY_HELLO, FKEX_RELAY_VERSION };
    fkex_relay_msg h = { 0 };
    h.kind = FKEX_RELAY_HELLO;
    memcpy(h.room_id, rh_room_id, 32);
    size_t hellolen = frame_of(hello, sizeof hello, &h), slow_sent = 0;

    if (raw_open(&garbage, "garbage", addr) || raw_open(&big, "oversized", addr) ||
        raw_open(&half, "half a frame", addr) || raw_open(&slow, "slowloris", addr) ||
        raw_open(&silent, "silent", addr)) {
        CHECK(!"raw connections");
        return;
    }
    raw_send(&garbage, junk, sizeof junk);
    raw_send(&big, huge, sizeof huge);
    raw_send(&half, cut, sizeof cut);
    CHECK(shutdown(half.fd, SHUT_WR) == 0);
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
            if (send(slow.fd, hello + slow_sent, 1, MSG_NOSIGNAL) == 1)
                slow_sent++;
            next_byte = now + 200;
        }
        rh_turn();
        raw_poll(&garbage);
        raw_poll(&big);
        raw_poll(&half);
        raw_poll(&slow);
        raw_poll(&silent);
    }
    CHECK(raw_told(&garbage, FKEX_RELAY_E_BAD_FRAME, "not a relay envelope"));
    CHECK(raw_told(&big, FKEX_RELAY_E_BAD_FRAME, "frame too large"));
    CHECK(raw_told(&half, FKEX_RELAY_E_BAD_FRAME, "truncated frame"));
    CHECK(raw_told(&slow, FKEX_RELAY_E_BAD_FRAME, "frame timed out"));
    CHECK(slow_sent >= 3 && slow_sent < hellolen);
    CHECK(raw_told(&silent, FKEX_RELAY_E_AUTH, "no session within 2 s"));
    raw_close(&garbage);
    raw_close(&big);
    raw_close(&half);
    raw_close(&slow);
    raw_close(&silent);
    CHECK(said[0] >= 15 && said[1] >= 15);
    nothing_lost();
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

/* ---- connections ------------------------------------------------------------------ */

/* Past --max-connections a client is told the relay is full, then cut
 * off; once one leaves, the next is served. */
static void abuse_max_connections(void)
{
    static const char *const cap[] = { "--max-connections", "3", NULL };
    char a[64];
    raw held[3], refused, later;
    pid_t p = rh_relay_start(a, "cap", cap, 0);
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
    char a[64];
    static raw flood[FLOOD];
    raw later;
    int opened = 0, cut = 0;
    pid_t p = rh_relay_start(a, "nofile-default", NULL, 100);
    CHECK(p > 0 && rh_logged("nofile-default.err", "at most 50 connections"));
    CHECK(rh_relay_stop(p) == 0);
    if ((p = rh_relay_start(a, "nofile", many, 48)) < 0) {
        CHECK(!"the relay starts");
        return;
    }
    for (int i = 0; i < FLOOD; i++)
        opened += raw_open(&flood[i], "flood", a) == 0;
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
    gke_world_open(&rh_world, "relay abuse world");
    RUN(abuse_room_up);
    if (room_ok) {
        RUN(abuse_frames);
        RUN(abuse_long_replay);
        RUN(abuse_room_out_of_service);
    }
    RUN(abuse_room_down);
    RUN(abuse_max_connections);
    RUN(abuse_out_of_files);
    rh_relay_kill();
    gke_world_close(&rh_world);
}
