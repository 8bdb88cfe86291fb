/*
 * tests/proxy.c: the forked man in the middle of the end-to-end suites
 * (tests/proxy.h), over src/net: it listens with TLS under a key of its
 * own and dials the relay with TLS, checking the relay's pin, so each
 * whole frame is in its hands between the two. Its own key is what the
 * invitations the tests make for it pin: it plays a relay that lies.
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "net/net.h"
#include "wire/relay_msg.h"
#include "proxy.h"
#include "test.h"

typedef struct {
    fkex_conn *side[2];     /* client, relay */
    void *state;            /* the callback's, per connection */
    const proxy_ops *ops;
} pair;

typedef struct {
    uv_loop_t loop;
    const char *relay;
    const proxy_ops *ops;
    fkex_tls *server_tls, *client_tls;
} proxy;

static const fkex_net_limits limits = { FKEX_RELAY_ENVELOPE_MAX, 256u << 20 };

/* Each whole frame through the callback, then to the other side. */
static void on_frame(fkex_conn *c, const uint8_t *frame, size_t len)
{
    pair *p = fkex_conn_data(c);
    int d = c == p->side[0] ? PROXY_TO_RELAY : PROXY_TO_CLIENT;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        _exit(2);
    memcpy(copy, frame, len);
    if (p->ops->tamper)
        p->ops->tamper(p->ops->shared, p->state, d, copy, len);
    if (p->side[!d])
        (void)fkex_conn_send(p->side[!d], copy, len);
    free(copy);
}

/* One side ended: so does the other, once what it was sent is out. */
static void on_close(fkex_conn *c, const char *why)
{
    pair *p = fkex_conn_data(c);
    int d = c == p->side[0] ? 0 : 1;
    (void)why;
    p->side[d] = NULL;
    if (p->side[!d]) {
        fkex_conn_finish(p->side[!d], "the other side ended");
        return;
    }
    free(p->state);
    free(p);
}

static void on_accept(fkex_server *s, fkex_conn *c)
{
    proxy *x = fkex_server_data(s);
    char err[128];
    pair *p = calloc(1, sizeof *p);
    if (!p || !(p->state = calloc(1, x->ops->conn_size ? x->ops->conn_size : 1)))
        _exit(2);
    p->ops = x->ops;
    p->side[0] = c;
    fkex_conn_set(c, on_frame, on_close, p);
    if (fkex_conn_connect(&p->side[1], &x->loop, x->relay, &limits, x->client_tls, NULL, err) !=
        FKEX_OK) {
        fkex_conn_close(c, "no relay");
        return;
    }
    fkex_conn_set(p->side[1], on_frame, on_close, p);
}

/* The child: listens, says where on fd, relays until killed. */
static void run(int fd, const char *relay_addr, const proxy_ops *ops)
{
    proxy x = { .relay = relay_addr, .ops = ops };
    fkex_server *s;
    char key[700], err[160], bound[128];
    int created;
    snprintf(key, sizeof key, "%s/proxy-%d.key", test_tmpdir(), (int)getpid());
    if (uv_loop_init(&x.loop) != 0 || fkex_tls_server_new(&x.server_tls, key, &created, err) != FKEX_OK ||
        fkex_tls_client_new(&x.client_tls, err) != FKEX_OK ||
        fkex_server_start(&s, &x.loop, "127.0.0.1:0", &limits, x.server_tls, on_accept, &x, err) !=
            FKEX_OK)
        _exit(2);
    unlink(key);
    fkex_server_bound(bound, sizeof bound, s, "127.0.0.1:0");
    if (write(fd, bound, strlen(bound) + 1) != (ssize_t)strlen(bound) + 1)
        _exit(2);
    close(fd);
    uv_run(&x.loop, UV_RUN_DEFAULT);
}

pid_t proxy_start(char addr[128], const char *relay_addr, const proxy_ops *ops)
{
    int fds[2];
    size_t got = 0;
    if (pipe(fds) != 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        /* nothing of the test's: a member's stdin held open here would
         * never see its end */
        long max = sysconf(_SC_OPEN_MAX);
        for (int fd = 3; fd < (max > 0 && max < 4096 ? max : 4096); fd++)
            if (fd != fds[1])
                close(fd);
        signal(SIGPIPE, SIG_IGN);
        run(fds[1], relay_addr, ops);
        _exit(0);
    }
    close(fds[1]);
    /* its address, NUL-terminated, within 10 s */
    while (pid > 0 && got < 128) {
        struct pollfd pf = { fds[0], POLLIN, 0 };
        ssize_t n;
        if (poll(&pf, 1, 10000) != 1 || (n = read(fds[0], addr + got, 128 - got)) <= 0)
            break;
        got += (size_t)n;
        if (memchr(addr, 0, got))
            break;
    }
    close(fds[0]);
    if (pid > 0 && !memchr(addr, 0, got)) {
        proxy_stop(pid);
        return -1;
    }
    return pid > 0 ? pid : -1;
}

void proxy_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}
