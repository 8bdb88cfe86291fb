/*
 * tests/relay_harness.c: the relay daemon and ratchet members for the
 * end-to-end relay suites (tests/relay_harness.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "relay_harness.h"

gke_world rh_world;
uv_loop_t rh_loop;
fkex_tls *rh_tls;
fkex_rng rh_rng;
uint8_t rh_room_id[32];

const char *rh_bin;
static char root[512];
static pid_t daemon_pid = -1;
static uv_timer_t waker;

extern char **environ;

/* ---- the daemon ------------------------------------------------------------- */

int rh_suite_open(const char *dir)
{
    rh_bin = getenv("FKEX_BIN") ? getenv("FKEX_BIN") : "./fkex";
    snprintf(root, sizeof root, "%s/%s", test_tmpdir(), dir);
    if (mkdir(root, 0700) != 0 && errno != EEXIST) {
        test_fail("a scratch directory", __FILE__, __LINE__);
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

uint64_t rh_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

const char *rh_at(const char *name)
{
    static char ring[8][700];
    static unsigned next;
    char *p = ring[next++ % 8];
    snprintf(p, sizeof ring[0], "%s/%s", root, name);
    return p;
}

/* Runs argv (rh_bin relay ...), output in DIR/name.out and .err, and
 * waits for "listening on": its address into addr; the pid, or -1. */
static pid_t spawn_relay(char addr[128], const char *name, const char *const *argv)
{
    char out[700], err[700];
    posix_spawn_file_actions_t fa;
    uint64_t deadline = rh_mono_ms() + RH_WAIT_MS;
    pid_t pid;
    snprintf(out, sizeof out, "%s/%s.out", root, name);
    snprintf(err, sizeof err, "%s/%s.err", root, name);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    fflush(stdout);
    fflush(stderr);
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "    cannot run %s: %s\n", argv[0], strerror(rc));
        return -1;
    }
    while (rh_mono_ms() < deadline) {
        char *text = test_read_text(out), *p = strstr(text, "listening on ");
        int status;
        if (p && strchr(p, '\n') && sscanf(p, "listening on %127s", addr) == 1) {
            free(text);
            return pid;
        }
        free(text);
        if (waitpid(pid, &status, WNOHANG) == pid) {
            char *e = test_read_text(err);
            fprintf(stderr, "    fkex relay exited early: %s\n", e);
            free(e);
            return -1;
        }
        test_nap_ms(20);
    }
    fprintf(stderr, "    fkex relay never said where it listens\n");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

pid_t rh_relay_start(char addr[128], const char *name, const char *const *extra, const char *limits)
{
    char db[700], limit[64];
    const char *argv[32];
    size_t n = 0;
    snprintf(db, sizeof db, "%s/relay.db", root);
    if (limits) {   /* the shell sets the limit, then becomes the relay */
        snprintf(limit, sizeof limit, "ulimit %s && exec \"$0\" \"$@\"", limits);
        argv[n++] = "/bin/sh";
        argv[n++] = "-c";
        argv[n++] = limit;
    }
    const char *base[] = { rh_bin, "relay", "--listen", "127.0.0.1:0", "--db", db, "--grace", "1", "-v" };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(base); i++)
        argv[n++] = base[i];
    for (size_t i = 0; extra && extra[i] && n < FKEX_ARRAY_LEN(argv) - 1; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    daemon_pid = spawn_relay(addr, name, argv);
    return daemon_pid;
}

pid_t rh_cluster_relay_start(char addr[128], const char *name, const char *store)
{
    const char *argv[] = { rh_bin, "relay", "--listen", "127.0.0.1:0", "--store", store,
                           "--grace", "1", "--tls-key", rh_at("cluster.key"), "-v", NULL };
    return spawn_relay(addr, name, argv);
}

int rh_relay_stop(pid_t pid)
{
    if (pid <= 0)
        return -1;
    kill(pid, SIGTERM);
    int code = test_reap(pid, 5.0);
    daemon_pid = -1;
    return code;
}

void rh_relay_kill(void)
{
    if (daemon_pid > 0) {
        kill(daemon_pid, SIGKILL);
        waitpid(daemon_pid, NULL, 0);
    }
    daemon_pid = -1;
}

int rh_logged(const char *name, const char *phrase)
{
    uint64_t deadline = rh_mono_ms() + 10000;
    char *e = test_read_text(rh_at(name));
    int ok;
    while (!(ok = strstr(e, phrase) != NULL) && rh_mono_ms() < deadline) {
        free(e);
        test_nap_ms(50);
        e = test_read_text(rh_at(name));
    }
    if (!ok)
        fprintf(stderr, "    %s lacks \"%s\": %s\n", name, phrase, e);
    free(e);
    return ok;
}

/* ---- members on this process's loop ------------------------------------------ */

static void noop_timer(uv_timer_t *t)
{
    (void)t;
}

void rh_loop_open(void)
{
    char err[160];
    CHECK(uv_loop_init(&rh_loop) == 0);
    uv_timer_init(&rh_loop, &waker);
    CHECK_OK(fkex_tls_client_new(&rh_tls, err));
}

void rh_loop_close(rh_party *const *parties, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (parties[i]->c)
            fkex_conn_close(parties[i]->c, "end");
    uv_close((uv_handle_t *)&waker, NULL);
    uv_run(&rh_loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&rh_loop) == 0);
    fkex_tls_free(rh_tls);
    rh_tls = NULL;
}

void rh_turn(void)
{
    uv_timer_start(&waker, noop_timer, 10, 0);
    uv_run(&rh_loop, UV_RUN_ONCE);
}

void rh_idle(uint64_t ms)
{
    uint64_t dl = rh_mono_ms() + ms;
    while (rh_mono_ms() < dl)
        rh_turn();
}

void rh_party_init(rh_party *p, const char *name)
{
    memset(p, 0, sizeof *p);
    p->name = name;
    fkex_gke_out_init(&p->pending);
}

void rh_party_free(rh_party *p)
{
    fkex_gke_out_clear(&p->pending);
    fkex_ratchet_free(p->st);
    p->st = NULL;
}

void rh_send_env(rh_party *p, const fkex_relay_msg *m)
{
    fkex_writer w;
    fkex_writer_init(&w);
    fkex_relay_msg_encode(&w, m);
    CHECK(!w.failed);
    if (p->c && !w.failed)
        (void)fkex_conn_send(p->c, w.buf, w.len);
    fkex_writer_free(&w);
}

static void submit(rh_party *p, const uint8_t *b, size_t len)
{
    fkex_relay_msg m = { 0 };
    m.kind = FKEX_RELAY_SUBMIT;
    memcpy(m.room_id, rh_room_id, 32);
    m.seq = ++p->client_seq;
    m.data = b;
    m.datalen = len;
    rh_send_env(p, &m);
}

void rh_absorb(rh_party *p, fkex_gke_out *out)
{
    for (size_t i = 0; i < out->nevents; i++) {
        fkex_gke_event *e = &out->events[i];
        switch (e->kind) {
        case FKEX_GKE_EV_JOINED: p->joined = 1; break;
        case FKEX_GKE_EV_ADMITTED: p->admitted++; break;
        case FKEX_GKE_EV_FORK: p->forks++; break;
        case FKEX_GKE_EV_MISBEHAVED: p->accused++; break;
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
    rh_party *p = fkex_conn_data(c);
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
        rh_send_env(p, &a);
        break;
    }
    case FKEX_RELAY_PING: {   /* the relay's keepalive */
        fkex_relay_msg pong = { .kind = FKEX_RELAY_PONG, .cookie = m.cookie };
        rh_send_env(p, &pong);
        break;
    }
    case FKEX_RELAY_READY:
        CHECK(memcmp(m.room_id, rh_room_id, 32) == 0);
        p->ready = 1;
        rh_absorb(p, &p->pending);
        break;
    case FKEX_RELAY_DELIVER: {
        fkex_gke_out out;
        CHECK(m.seq > p->last_seq);   /* in order, never twice */
        p->last_seq = m.seq;
        fkex_gke_out_init(&out);
        /* its own broadcasts come back too: the ratchet refuses those */
        if (fkex_ratchet_receive(p->st, m.data, m.datalen, &rh_rng, &out) != FKEX_OK)
            p->refused++;
        rh_absorb(p, &out);
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
    rh_party *p = fkex_conn_data(c);
    (void)why;
    p->c = NULL;
    p->ready = 0;
    p->closed = 1;
}

int rh_dial(rh_party *p, const char *addr)
{
    fkex_net_limits lim = { FKEX_RELAY_ENVELOPE_MAX, 64u << 20 };
    char err[128];
    p->closed = p->ready = 0;
    if (fkex_conn_connect(&p->c, &rh_loop, addr, &lim, rh_tls, NULL, err) != FKEX_OK) {
        fprintf(stderr, "    %s cannot connect: %s\n", p->name, err);
        return -1;
    }
    fkex_conn_set(p->c, on_frame, on_close, p);
    if (p->st) {
        fkex_relay_msg h = { 0 };
        h.kind = FKEX_RELAY_HELLO;
        memcpy(h.room_id, rh_room_id, 32);
        h.seq = p->last_seq;
        h.has_leaf = 1;
        memcpy(h.leaf, p->v, 32);
        rh_send_env(p, &h);
    }
    return 0;
}

void rh_hang_up(rh_party *p)
{
    if (p->c)
        fkex_conn_close(p->c, "test");
    RH_WAIT(p->closed);
}

void rh_say(rh_party *p, const char *text)
{
    fkex_gke_out out;
    fkex_gke_out_init(&out);
    CHECK_OK(fkex_ratchet_send(p->st, (const uint8_t *)text, strlen(text), &out));
    rh_absorb(p, &out);
}

/* ---- a room of two ------------------------------------------------------------------ */

void rh_room_make(rh_party *alice, uint8_t **desc, size_t *desclen, uint8_t admin_sk[64],
                  uint8_t sig[64])
{
    uint8_t admin_pk[32];
    fkex_ratchet_config cfg = { 0 };
    fkex_sign_keypair(admin_pk, admin_sk, &rh_rng);
    CHECK_OK(fkex_room_descriptor_create(desc, desclen, "room", PROTOTYPE, 1, 0, admin_sk));
    fkex_room_id(rh_room_id, admin_pk, (const uint8_t *)"room", 4);
    cfg.key = rh_world.alice;
    memcpy(cfg.room_id, rh_room_id, 32);
    cfg.descriptor = *desc;
    cfg.descriptor_len = *desclen;
    CHECK_OK(fkex_ratchet_create(&alice->st, &cfg, &rh_rng));
    fkex_ratchet_leaf_key(alice->v, alice->st);
    CHECK_OK(fkex_relay_create_sign(sig, admin_sk, rh_room_id, alice->v));
}

void rh_room_create(rh_party *admin, const uint8_t *desc, size_t desclen, const uint8_t founder[32],
                    const uint8_t sig[64])
{
    fkex_relay_msg m = { 0 };
    m.kind = FKEX_RELAY_CREATE_ROOM;
    m.data = desc;
    m.datalen = desclen;
    memcpy(m.leaf, founder, 32);
    memcpy(m.sig, sig, 64);
    rh_send_env(admin, &m);
}

int rh_join(rh_party *sponsor, rh_party *joiner, const fkex_key *key, const uint8_t *desc,
            size_t desclen, const char *addr)
{
    fkex_ratchet_config cfg = { 0 };
    fkex_gke_out out;
    int admitted = sponsor->admitted;
    uint64_t epoch = fkex_ratchet_epoch(sponsor->st);
    cfg.key = key;
    memcpy(cfg.room_id, rh_room_id, 32);
    cfg.descriptor = desc;
    cfg.descriptor_len = desclen;
    fkex_gke_out_init(&out);
    CHECK_OK(fkex_ratchet_join(&joiner->st, &cfg, &rh_rng, &joiner->pending));
    fkex_ratchet_leaf_key(joiner->v, joiner->st);
    if (rh_dial(joiner, addr) != 0)
        return -1;
    /* JoinRequest -> sponsor, Challenge -> joiner, Proof -> sponsor */
    RH_WAIT(sponsor->admitted == admitted + 1);
    CHECK_OK(fkex_ratchet_commit(sponsor->st, NULL, &rh_rng, &out));
    rh_absorb(sponsor, &out);
    /* commit -> sponsor, Welcome -> joiner, JoinAck -> both */
    RH_WAIT(joiner->joined && fkex_ratchet_epoch(sponsor->st) == epoch + 1);
    CHECK(fkex_ratchet_members(sponsor->st) == fkex_ratchet_members(joiner->st));
    return joiner->joined ? 0 : -1;
}

int rh_two_members(rh_party *alice, rh_party *bob, const uint8_t *desc, size_t desclen,
                   const char *addr)
{
    if (rh_dial(alice, addr) != 0)
        return -1;
    RH_WAIT(alice->ready);
    if (rh_join(alice, bob, rh_world.bob, desc, desclen, addr) != 0)
        return -1;
    CHECK(fkex_ratchet_members(alice->st) == 2);
    return 0;
}
