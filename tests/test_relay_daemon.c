/*
 * tests/test_relay_daemon.c: the relay daemon end to end. The real binary
 * ($FKEX_BIN relay) runs on 127.0.0.1 with a free port and a scratch
 * database; this process drives real ratchet members over src/net on its
 * own libuv loop: a room is created, a second member joins through the
 * relay, they talk both ways; the relay is stopped and started again on the
 * same database and the members come back, replay what they missed and go
 * on in the same epoch; a client that never reads is cut off while the
 * relay's memory stays bounded; SIGTERM ends it with 0 within 5 s.
 *
 * Every wait is bounded; every daemon is killed when the suite ends, pass
 * or fail.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>
#include "gke_world.h"
#include "net/net.h"
#include "wire/relay_msg.h"

#define WAIT_MS 20000u
#if defined(__SANITIZE_ADDRESS__)
#define RSS_GROWTH_MAX_KIB (1024L * 1024)
#else
#define RSS_GROWTH_MAX_KIB (200L * 1024)
#endif

static gke_world world;
static const char *bin;
static char root[512];
static pid_t daemon_pid = -1;

/* ---- the daemon ------------------------------------------------------------- */

static void nap_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *at(const char *name)
{
    static char ring[8][700];
    static unsigned next;
    char *p = ring[next++ % 8];
    snprintf(p, sizeof ring[0], "%s/%s", root, name);
    return p;
}

extern char **environ;

/* Starts `fkex relay` on a free port with db; its address into addr. */
static pid_t relay_start(char addr[64], const char *name)
{
    char out[700], err[700], db[700];
    const char *argv[] = { bin, "relay", "--listen", "127.0.0.1:0", "--db", db, "--grace", "1", "-v", NULL };
    posix_spawn_file_actions_t fa;
    uint64_t deadline = mono_ms() + WAIT_MS;
    pid_t pid;
    snprintf(db, sizeof db, "%s/relay.db", root);
    snprintf(out, sizeof out, "%s/%s.out", root, name);
    snprintf(err, sizeof err, "%s/%s.err", root, name);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    fflush(stdout);
    fflush(stderr);
    int rc = posix_spawnp(&pid, bin, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "    cannot run %s: %s\n", bin, strerror(rc));
        return -1;
    }
    daemon_pid = pid;
    while (mono_ms() < deadline) {
        char *text = test_read_text(out), *p = strstr(text, "listening on ");
        int status;
        if (p && strchr(p, '\n') && sscanf(p, "listening on %63s", addr) == 1) {
            free(text);
            return pid;
        }
        free(text);
        if (waitpid(pid, &status, WNOHANG) == pid) {
            char *e = test_read_text(err);
            fprintf(stderr, "    fkex relay exited early: %s\n", e);
            free(e);
            daemon_pid = -1;
            return -1;
        }
        nap_ms(20);
    }
    fprintf(stderr, "    fkex relay never said where it listens\n");
    return -1;
}

/* SIGTERM: the exit code, or -1 if it did not exit within 5 s (then killed). */
static int relay_stop(pid_t pid)
{
    uint64_t deadline = mono_ms() + 5000;
    int status;
    if (pid <= 0)
        return -1;
    kill(pid, SIGTERM);
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (mono_ms() > deadline) {
            fprintf(stderr, "    fkex relay overstayed SIGTERM: killed\n");
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            daemon_pid = -1;
            return -1;
        }
        nap_ms(10);
    }
    daemon_pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void relay_kill(void)
{
    if (daemon_pid > 0) {
        kill(daemon_pid, SIGKILL);
        waitpid(daemon_pid, NULL, 0);
    }
    daemon_pid = -1;
}

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (!(f = fopen(path, "r")))
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* Whether the daemon's log has phrase, waiting for it up to 10 s. */
static int logged(const char *name, const char *phrase)
{
    uint64_t deadline = mono_ms() + 10000;
    char *e = test_read_text(at(name));
    int ok;
    while (!(ok = strstr(e, phrase) != NULL) && mono_ms() < deadline) {
        free(e);
        nap_ms(50);
        e = test_read_text(at(name));
    }
    if (!ok)
        fprintf(stderr, "    %s lacks \"%s\": %s\n", name, phrase, e);
    free(e);
    return ok;
}

/* ---- clients on this process's loop ------------------------------------------ */

typedef struct {
    const char *name;
    fkex_ratchet *st;          /* NULL: an anonymous client (the admin) */
    uint8_t v[32];
    fkex_conn *c;
    int ready, closed;
    uint64_t last_seq;         /* the last relay seq delivered */
    uint64_t client_seq;
    int accepted, nerrors, refused;
    uint16_t last_error;
    int joined, admitted, messages, descriptors;
    char last_text[64];
    fkex_gke_out pending;      /* sent once READY (a joiner's JoinRequest) */
} party;

static uv_loop_t loop;
static uv_timer_t waker;
static fkex_rng rng;
static uint8_t room_id[32];

static void noop_timer(uv_timer_t *t)
{
    (void)t;
}

/* One turn of the loop, at most ~10 ms when nothing happens. */
static void turn(void)
{
    uv_timer_start(&waker, noop_timer, 10, 0);
    uv_run(&loop, UV_RUN_ONCE);
}

#define WAIT(cond)                                                                  \
    do {                                                                            \
        uint64_t dl_ = mono_ms() + WAIT_MS;                                         \
        while (!(cond) && mono_ms() < dl_)                                          \
            turn();                                                                 \
        if (!(cond))                                                                \
            fprintf(stderr, "    timed out waiting for %s\n", #cond);               \
        CHECK(cond);                                                                \
    } while (0)

static void send_env(party *p, const fkex_relay_msg *m)
{
    fkex_writer w;
    fkex_writer_init(&w);
    fkex_relay_msg_encode(&w, m);
    CHECK(!w.failed);
    if (p->c && !w.failed)
        (void)fkex_conn_send(p->c, w.buf, w.len);
    fkex_writer_free(&w);
}

static void submit(party *p, const uint8_t *b, size_t len)
{
    fkex_relay_msg m = { 0 };
    m.kind = FKEX_RELAY_SUBMIT;
    memcpy(m.room_id, room_id, 32);
    m.seq = ++p->client_seq;
    m.data = b;
    m.datalen = len;
    send_env(p, &m);
}

static void absorb(party *p, fkex_gke_out *out)
{
    for (size_t i = 0; i < out->nevents; i++) {
        fkex_gke_event *e = &out->events[i];
        switch (e->kind) {
        case FKEX_GKE_EV_JOINED: p->joined = 1; break;
        case FKEX_GKE_EV_ADMITTED: p->admitted++; break;
        case FKEX_GKE_EV_MESSAGE:
            p->messages++;
            snprintf(p->last_text, sizeof p->last_text, "%.*s", (int)e->len, (const char *)e->data);
            break;
        default: break;
        }
    }
    for (size_t i = 0; i < out->nmsgs; i++)
        submit(p, out->msgs[i].bytes, out->msgs[i].len);
    fkex_gke_out_clear(out);
}

static void on_frame(fkex_conn *c, const uint8_t *frame, size_t len)
{
    party *p = fkex_conn_data(c);
    fkex_relay_msg m;
    if (fkex_relay_msg_decode(&m, frame, len) != FKEX_OK) {
        CHECK(!"the relay sends well-formed envelopes");
        return;
    }
    switch (m.kind) {
    case FKEX_RELAY_NONCE: {
        fkex_relay_msg a = { 0 };
        a.kind = FKEX_RELAY_AUTH;
        CHECK_OK(fkex_ratchet_relay_auth(a.sig, p->st, m.nonce));
        send_env(p, &a);
        break;
    }
    case FKEX_RELAY_READY:
        CHECK(memcmp(m.room_id, room_id, 32) == 0);
        p->ready = 1;
        absorb(p, &p->pending);
        break;
    case FKEX_RELAY_DELIVER: {
        fkex_gke_out out;
        CHECK(m.seq > p->last_seq);   /* in order, never twice */
        p->last_seq = m.seq;
        fkex_gke_out_init(&out);
        /* its own broadcasts come back too: the ratchet refuses those */
        if (fkex_ratchet_receive(p->st, m.data, m.datalen, &rng, &out) != FKEX_OK)
            p->refused++;
        absorb(p, &out);
        break;
    }
    case FKEX_RELAY_ACCEPTED: p->accepted++; break;
    case FKEX_RELAY_ERROR:
        p->nerrors++;
        p->last_error = m.code;
        if (getenv("RELAY_DEBUG"))
            fprintf(stderr, "    %s: error %u: %.*s\n", p->name, m.code, (int)m.datalen, m.data);
        break;
    case FKEX_RELAY_DESCRIPTOR: p->descriptors++; break;
    default: break;
    }
}

static void on_close(fkex_conn *c, const char *why)
{
    party *p = fkex_conn_data(c);
    (void)why;
    p->c = NULL;
    p->ready = 0;
    p->closed = 1;
}

static void on_connected(fkex_conn *c, int status)
{
    (void)c;
    (void)status;
}

/* Connects; a party with a ratchet says HELLO with its leaf key from its last seq. */
static int dial(party *p, const char *addr)
{
    fkex_net_limits lim = { FKEX_RELAY_ENVELOPE_MAX, 64u << 20 };
    char err[128];
    p->closed = p->ready = 0;
    if (fkex_conn_connect(&p->c, &loop, addr, &lim, on_connected, err) != FKEX_OK) {
        fprintf(stderr, "    %s cannot connect: %s\n", p->name, err);
        return -1;
    }
    fkex_conn_set(p->c, on_frame, on_close, p);
    if (p->st) {
        fkex_relay_msg h = { 0 };
        h.kind = FKEX_RELAY_HELLO;
        memcpy(h.room_id, room_id, 32);
        h.seq = p->last_seq;
        h.has_leaf = 1;
        memcpy(h.leaf, p->v, 32);
        send_env(p, &h);
    }
    return 0;
}

static void hang_up(party *p)
{
    if (p->c)
        fkex_conn_close(p->c, "test");
    WAIT(p->closed);
}

static void say(party *p, const char *text)
{
    fkex_gke_out out;
    fkex_gke_out_init(&out);
    CHECK_OK(fkex_ratchet_send(p->st, (const uint8_t *)text, strlen(text), &out));
    absorb(p, &out);
}

/* A client that never reads: requests descriptors until the relay cuts it
 * off. Returns the bytes it managed to send, or 0 if never cut off. */
static size_t slow_reader(const char *addr)
{
    struct sockaddr_in sa = { 0 };
    struct timeval tv = { 3, 0 };
    unsigned port = 0;
    uint8_t req[4 + 2 + 32], batch[1000 * sizeof req];
    size_t total = 0;
    int fd, cut = 0;
    uint64_t deadline = mono_ms() + 60000;
    if (sscanf(addr, "127.0.0.1:%u", &port) != 1 || (fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
        return 0;
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return 0;
    }
    store32_be(req, 2 + 32);
    req[4] = FKEX_RELAY_GET_DESCRIPTOR;
    req[5] = FKEX_RELAY_VERSION;
    memcpy(req + 6, room_id, 32);
    for (size_t i = 0; i < 1000; i++)
        memcpy(batch + i * sizeof req, req, sizeof req);
    while (!cut && mono_ms() < deadline && total < (512u << 20)) {
        ssize_t n = send(fd, batch, sizeof batch, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            cut = 1;   /* reset by the relay (or it stopped reading: timed out) */
        else
            total += (size_t)n;
    }
    close(fd);
    return cut ? total : 0;
}

static void relay_e2e(void)
{
    char addr[64];
    uint8_t admin_pk[32], admin_sk[64], sig[64], *desc = NULL;
    size_t desclen = 0;
    fkex_ratchet_config cfg = { 0 };
    static party admin, alice, bob;
    pid_t pid;
    fkex_gke_out out;

    test_rng(&rng, "relay daemon");
    memset(&admin, 0, sizeof admin);
    memset(&alice, 0, sizeof alice);
    memset(&bob, 0, sizeof bob);
    admin.name = "admin";
    alice.name = "alice";
    bob.name = "bob";
    fkex_gke_out_init(&alice.pending);
    fkex_gke_out_init(&bob.pending);
    CHECK(uv_loop_init(&loop) == 0);
    uv_timer_init(&loop, &waker);

    /* the room: the admin's descriptor, alice its founder */
    fkex_sign_keypair(admin_pk, admin_sk, &rng);
    CHECK_OK(fkex_room_descriptor_create(&desc, &desclen, "room", PROTOTYPE, 1, 0, admin_sk));
    fkex_room_id(room_id, admin_pk, (const uint8_t *)"room", 4);
    cfg.key = world.alice;
    memcpy(cfg.room_id, room_id, 32);
    cfg.descriptor = desc;
    cfg.descriptor_len = desclen;
    CHECK_OK(fkex_ratchet_create(&alice.st, &cfg, &rng));
    fkex_ratchet_leaf_key(alice.v, alice.st);
    CHECK_OK(fkex_relay_create_sign(sig, admin_sk, room_id, alice.v));

    if ((pid = relay_start(addr, "relay1")) < 0) {
        CHECK(!"the relay starts");
        goto out;
    }

    /* CREATE_ROOM by the admin; a second time is refused */
    if (dial(&admin, addr) != 0)
        goto out;
    {
        fkex_relay_msg m = { 0 };
        m.kind = FKEX_RELAY_CREATE_ROOM;
        m.data = desc;
        m.datalen = desclen;
        memcpy(m.leaf, alice.v, 32);
        memcpy(m.sig, sig, 64);
        send_env(&admin, &m);
        WAIT(admin.descriptors == 1);
        send_env(&admin, &m);
        WAIT(admin.nerrors == 1);
        CHECK(admin.last_error == FKEX_RELAY_E_ROOM_EXISTS);
        /* a founder the admin did not name */
        m.leaf[0] ^= 1;
        send_env(&admin, &m);
        WAIT(admin.nerrors == 2);
        CHECK(admin.last_error == FKEX_RELAY_E_ROOM_EXISTS ||
              admin.last_error == FKEX_RELAY_E_BAD_DESCRIPTOR);
        /* GET_DESCRIPTOR, PING */
        fkex_relay_msg g = { 0 };
        g.kind = FKEX_RELAY_GET_DESCRIPTOR;
        memcpy(g.room_id, room_id, 32);
        send_env(&admin, &g);
        WAIT(admin.descriptors == 2);
        g.room_id[0] ^= 1;
        send_env(&admin, &g);
        WAIT(admin.nerrors == 3);
        CHECK(admin.last_error == FKEX_RELAY_E_NO_ROOM);
    }

    /* the founder's session; then bob joins through the relay */
    if (dial(&alice, addr) != 0)
        goto out;
    WAIT(alice.ready);
    cfg.key = world.bob;
    fkex_gke_out_init(&out);
    CHECK_OK(fkex_ratchet_join(&bob.st, &cfg, &rng, &bob.pending));
    fkex_ratchet_leaf_key(bob.v, bob.st);
    if (dial(&bob, addr) != 0)
        goto out;
    /* JoinRequest -> alice, Challenge -> bob, Proof -> alice */
    WAIT(alice.admitted == 1);
    CHECK_OK(fkex_ratchet_commit(alice.st, NULL, &rng, &out));
    absorb(&alice, &out);
    /* commit -> alice, Welcome -> bob, JoinAck -> both */
    WAIT(bob.joined && fkex_ratchet_epoch(alice.st) == 1);
    CHECK(fkex_ratchet_members(alice.st) == 2 && fkex_ratchet_members(bob.st) == 2);
    CHECK(alice.nerrors == 0 && bob.nerrors == 0);

    say(&alice, "hello bob");
    WAIT(bob.messages == 1);
    CHECK(strcmp(bob.last_text, "hello bob") == 0);
    say(&bob, "hello alice");
    WAIT(alice.messages == 1);
    CHECK(strcmp(alice.last_text, "hello alice") == 0);

    /* a stranger cannot speak for alice */
    {
        static party mallory;
        memset(&mallory, 0, sizeof mallory);
        mallory.name = "mallory";
        mallory.st = bob.st;          /* signs with bob's key ... */
        memcpy(mallory.v, alice.v, 32);   /* ... for alice's V */
        fkex_gke_out_init(&mallory.pending);
        if (dial(&mallory, addr) == 0) {
            WAIT(mallory.nerrors == 1);
            CHECK(mallory.last_error == FKEX_RELAY_E_AUTH && !mallory.ready);
            hang_up(&mallory);
        }
    }

    /* restart on the same database */
    CHECK(relay_stop(pid) == 0);
    WAIT(alice.closed && bob.closed && admin.closed);
    if ((pid = relay_start(addr, "relay2")) < 0) {
        CHECK(!"the relay starts again");
        goto out;
    }
    CHECK(logged("relay2.err", "1 room"));
    /* alice comes back and speaks while bob is still away */
    if (dial(&alice, addr) != 0)
        goto out;
    WAIT(alice.ready);
    say(&alice, "while you were away");
    WAIT(alice.accepted >= 4);
    CHECK(bob.messages == 1);
    /* bob comes back: the log replays what he missed; same epoch */
    if (dial(&bob, addr) != 0)
        goto out;
    WAIT(bob.ready && bob.messages == 2);
    CHECK(strcmp(bob.last_text, "while you were away") == 0);
    say(&bob, "back");
    WAIT(alice.messages == 2);
    CHECK(strcmp(alice.last_text, "back") == 0);
    CHECK(fkex_ratchet_epoch(alice.st) == 1 && fkex_ratchet_epoch(bob.st) == 1);
    CHECK(alice.nerrors == 0 && bob.nerrors == 0);

    /* bob drops: his place is kept; after the 1 s grace he is offline */
    hang_up(&bob);
    {
        uint64_t dl = mono_ms() + 3000;
        while (mono_ms() < dl)
            turn();
    }
    CHECK(logged("relay2.err", "offline after the 1 s grace"));
    say(&alice, "still here");
    WAIT(alice.messages == 2 && alice.accepted >= 5);

    /* a slow reader is cut off; the relay's memory stays bounded */
    {
        long before = rss_kib(pid), after;
        size_t sent = slow_reader(addr);
        after = rss_kib(pid);
        CHECK(sent > 0);
        /* the queue is capped at 64 MiB of bytes; malloc and libuv add
         * their overhead per queued frame (ASan much more) */
        CHECK(after > 0 && after < before + RSS_GROWTH_MAX_KIB);
        if (getenv("RELAY_DEBUG"))
            fprintf(stderr, "    slow reader: %zu bytes sent; rss %ld -> %ld KiB\n", sent, before, after);
        CHECK(logged("relay2.err", "slow reader"));
        CHECK(kill(pid, 0) == 0);
    }
    /* the relay still serves */
    if (dial(&bob, addr) == 0) {
        WAIT(bob.ready && bob.messages == 3);
        CHECK(strcmp(bob.last_text, "still here") == 0);
    }
    CHECK(relay_stop(pid) == 0);

out:
    relay_kill();
    if (alice.c)
        fkex_conn_close(alice.c, "end");
    if (bob.c)
        fkex_conn_close(bob.c, "end");
    if (admin.c)
        fkex_conn_close(admin.c, "end");
    uv_close((uv_handle_t *)&waker, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
    fkex_gke_out_clear(&alice.pending);
    fkex_gke_out_clear(&bob.pending);
    fkex_ratchet_free(alice.st);
    fkex_ratchet_free(bob.st);
    free(desc);
    sodium_memzero(admin_sk, sizeof admin_sk);
}

static void relay_usage(void)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "%s relay --grace x >/dev/null 2>&1", bin);
    CHECK(WEXITSTATUS(system(cmd)) == 2);
    snprintf(cmd, sizeof cmd, "%s relay --listen nowhere >/dev/null 2>&1", bin);
    CHECK(WEXITSTATUS(system(cmd)) == 2);
    snprintf(cmd, sizeof cmd, "%s relay --help >/dev/null 2>&1", bin);
    CHECK(WEXITSTATUS(system(cmd)) == 0);
    snprintf(cmd, sizeof cmd, "%s relay --db %s/no/such/dir/r.db >/dev/null 2>&1", bin, root);
    CHECK(WEXITSTATUS(system(cmd)) == 2);
}

void suite_relay_daemon(void)
{
    bin = getenv("FKEX_BIN") ? getenv("FKEX_BIN") : "./fkex";
    snprintf(root, sizeof root, "%s/relayd", test_tmpdir());
    if (mkdir(root, 0700) != 0 && errno != EEXIST) {
        test_fail("a scratch directory", __FILE__, __LINE__);
        return;
    }
    signal(SIGPIPE, SIG_IGN);
    RUN(relay_usage);
    gke_world_open(&world, "relay daemon world");
    RUN(relay_e2e);
    relay_kill();
    gke_world_close(&world);
}
