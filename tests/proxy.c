/*
 * tests/proxy.c: the forked man in the middle of the end-to-end suites
 * (tests/proxy.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "wire/relay_msg.h"
#include "proxy.h"

#define MAX_CONNS 16

typedef struct {
    int fd[2];              /* client, relay */
    uint8_t *buf[2];        /* what came from fd[d] and is not sent on yet */
    size_t have[2], cap[2];
    void *state;            /* the callback's, per connection */
} pair;

static int connect_relay(const char *relay_addr)
{
    char host[64];
    const char *colon = strrchr(relay_addr, ':');
    struct sockaddr_in a = { .sin_family = AF_INET };
    if (!colon || (size_t)(colon - relay_addr) >= sizeof host)
        return -1;
    memcpy(host, relay_addr, (size_t)(colon - relay_addr));
    host[colon - relay_addr] = 0;
    a.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
        return fd;
    if (fd >= 0)
        close(fd);
    return -1;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, p + off, len - off);
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    return 0;
}

/* Both sides of p end (it is dropped after this turn). */
static void hang_up(pair *p)
{
    for (int d = 0; d < 2; d++)
        if (p->fd[d] >= 0) {
            close(p->fd[d]);
            p->fd[d] = -1;
        }
}

/* Sends the whole frames of direction d on, each through the callback;
 * a side that can no longer be written to ends the connection. */
static void forward(pair *p, int d, const proxy_ops *ops)
{
    uint8_t *b = p->buf[d];
    size_t off = 0;
    while (p->have[d] - off >= 4) {
        size_t len = load32_be(b + off);
        if (len > FKEX_RELAY_ENVELOPE_MAX)
            _exit(3);
        if (p->have[d] - off < 4 + len)
            break;
        if (ops->tamper)
            ops->tamper(ops->shared, p->state, d, b + off + 4, len);
        if (write_all(p->fd[!d], b + off, 4 + len) != 0) {
            hang_up(p);
            return;
        }
        off += 4 + len;
    }
    memmove(b, b + off, p->have[d] - off);
    p->have[d] -= off;
}

/* Room for the next read of direction d: a whole frame fits, once its
 * length is known. */
static void make_room(pair *p, int d)
{
    size_t want = p->have[d] + (64u << 10);
    if (p->have[d] >= 4 && 4 + (size_t)load32_be(p->buf[d]) > want)
        want = 4 + (size_t)load32_be(p->buf[d]);
    if (want <= p->cap[d])
        return;
    if (!(p->buf[d] = realloc(p->buf[d], want)))
        _exit(2);
    p->cap[d] = want;
}

static void pair_free(pair *p)
{
    for (int d = 0; d < 2; d++) {
        if (p->fd[d] >= 0)
            close(p->fd[d]);
        free(p->buf[d]);
    }
    free(p->state);
    free(p);
}

static void run(int lfd, const char *relay_addr, const proxy_ops *ops)
{
    pair *pairs[MAX_CONNS] = { 0 };
    size_t n = 0;
    for (;;) {
        struct pollfd pf[1 + 2 * MAX_CONNS];
        nfds_t k = 0;
        pf[k++] = (struct pollfd){ lfd, POLLIN, 0 };
        for (size_t i = 0; i < n; i++)
            for (int d = 0; d < 2; d++)
                pf[k++] = (struct pollfd){ pairs[i]->fd[d], POLLIN, 0 };
        if (poll(pf, k, -1) < 0)
            continue;
        size_t polled = n;
        if ((pf[0].revents & POLLIN) && n < MAX_CONNS) {
            pair *p = calloc(1, sizeof *p);
            if (!p || !(p->state = calloc(1, ops->conn_size ? ops->conn_size : 1)))
                _exit(2);
            p->fd[0] = accept(lfd, NULL, NULL);
            p->fd[1] = p->fd[0] >= 0 ? connect_relay(relay_addr) : -1;
            pairs[n++] = p;   /* without a relay it is dropped: its client sees the end */
        }
        for (size_t i = 0; i < polled; i++)
            for (int d = 0; d < 2; d++) {
                pair *p = pairs[i];
                short ev = pf[1 + 2 * i + (size_t)d].revents;
                if (p->fd[0] < 0 || p->fd[1] < 0 || !(ev & (POLLIN | POLLHUP | POLLERR)))
                    continue;
                make_room(p, d);
                ssize_t r = read(p->fd[d], p->buf[d] + p->have[d], p->cap[d] - p->have[d]);
                if (r <= 0) {   /* one side ended: so does the other */
                    shutdown(p->fd[!d], SHUT_WR);
                    close(p->fd[d]);
                    p->fd[d] = -1;
                    continue;
                }
                p->have[d] += (size_t)r;
                forward(p, d, ops);
            }
        /* pairs with a side ended are dropped */
        for (size_t i = 0; i < n;) {
            if (pairs[i]->fd[0] < 0 || pairs[i]->fd[1] < 0) {
                pair_free(pairs[i]);
                pairs[i] = pairs[--n];
            } else {
                i++;
            }
        }
    }
}

pid_t proxy_start(char addr[128], const char *relay_addr, const proxy_ops *ops)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t alen = sizeof a;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 8) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) != 0) {
        if (lfd >= 0)
            close(lfd);
        return -1;
    }
    snprintf(addr, 64, "127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        /* nothing of the test's: a member's stdin held open here would
         * never see its end */
        long max = sysconf(_SC_OPEN_MAX);
        for (int fd = 3; fd < (max > 0 && max < 4096 ? max : 4096); fd++)
            if (fd != lfd)
                close(fd);
        signal(SIGPIPE, SIG_IGN);
        run(lfd, relay_addr, ops);
        _exit(0);
    }
    close(lfd);
    return pid > 0 ? pid : -1;
}

void proxy_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}
