/*
 * bench/child.c: fkex processes that speak JSON lines (bench/child.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "child.h"

extern char **environ;

long child_rss_kib(pid_t pid)
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

double child_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int child_start(child *c, const char *const *argv, const char *err_path)
{
    int pin[2], pout[2];
    posix_spawn_file_actions_t fa;
    memset(c, 0, sizeof *c);
    c->pid = -1;
    c->in = c->out = -1;
    c->status = -2;
    snprintf(c->err, sizeof c->err, "%s", err_path);
    if (pipe(pin) != 0)
        return -1;
    if (pipe(pout) != 0) {
        close(pin[0]);
        close(pin[1]);
        return -1;
    }
    for (int i = 0; i < 2; i++) {   /* the child gets its ends by dup2, which clears this */
        fcntl(pin[i], F_SETFD, FD_CLOEXEC);
        fcntl(pout[i], F_SETFD, FD_CLOEXEC);
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
    posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, c->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    fflush(NULL);
    int rc = posix_spawn(&c->pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pin[0]);
    close(pout[1]);
    if (rc != 0) {
        close(pin[1]);
        close(pout[0]);
        c->pid = -1;
        return -1;
    }
    c->in = pin[1];
    c->out = pout[0];
    fcntl(c->out, F_SETFL, O_NONBLOCK);
    return 0;
}

int child_pump(child *c, int ms)
{
    struct pollfd pf = { c->out, POLLIN, 0 };
    char tmp[65536];
    if (c->out < 0)
        return 0;
    if (poll(&pf, 1, ms) <= 0)
        return 1;
    for (;;) {
        ssize_t n = read(c->out, tmp, sizeof tmp);
        if (n > 0) {
            if (c->len + (size_t)n + 1 > c->cap) {
                size_t cap = (c->len + (size_t)n + 1) * 2;
                char *b = realloc(c->buf, cap);
                if (!b)
                    abort();
                c->buf = b;
                c->cap = cap;
            }
            memcpy(c->buf + c->len, tmp, (size_t)n);
            c->len += (size_t)n;
            c->buf[c->len] = 0;
            continue;
        }
        if (n == 0) {
            close(c->out);
            c->out = -1;
            return 0;
        }
        return errno == EAGAIN || errno == EINTR;
    }
}

void child_pump_all(child *const *cs, size_t n, int ms)
{
    struct pollfd *pf = calloc(n ? n : 1, sizeof *pf);
    size_t *who = calloc(n ? n : 1, sizeof *who), k = 0;
    if (!pf || !who)
        abort();
    for (size_t i = 0; i < n; i++)
        if (cs[i] && cs[i]->out >= 0) {
            pf[k] = (struct pollfd){ cs[i]->out, POLLIN, 0 };
            who[k++] = i;
        }
    if (k && poll(pf, k, ms) > 0)
        for (size_t i = 0; i < k; i++)
            if (pf[i].revents)
                child_pump(cs[who[i]], 0);
    free(pf);
    free(who);
}

/* 1 if the len bytes at line hold needle (of want bytes, want > 0). */
static int line_has(const char *line, size_t len, const char *needle, size_t want)
{
    const char *end = line + len;
    for (const char *p = line; (size_t)(end - p) >= want &&
                               (p = memchr(p, needle[0], (size_t)(end - p))) != NULL; p++)
        if ((size_t)(end - p) >= want && memcmp(p, needle, want) == 0)
            return 1;
    return 0;
}

size_t child_count(const child *c, const char *needle)
{
    size_t n = 0, want = strlen(needle);
    const char *s = c->buf, *end = c->buf + c->len;
    if (!c->buf)
        return 0;
    /* Bounded searches (memchr, memcmp), so that each line is looked at
     * once: strstr's and strchr's sanitizer checks measure the whole rest
     * of the output at every call, which made counting quadratic. */
    for (const char *nl; (nl = memchr(s, '\n', (size_t)(end - s))) != NULL; s = nl + 1)
        n += want == 0 || line_has(s, (size_t)(nl - s), needle, want);
    return n;
}

int child_wait_for(child *c, const char *needle, size_t want, double seconds)
{
    double deadline = child_now() + seconds;
    while (child_count(c, needle) < want)
        if (child_now() > deadline || !child_pump(c, 50))
            return child_count(c, needle) >= want;
    return 1;
}

void child_say(child *c, const char *line)
{
    size_t len = strlen(line), off = 0;
    while (c->in >= 0 && off < len + 1) {
        ssize_t n = off < len ? write(c->in, line + off, len - off) : write(c->in, "\n", 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        off += (size_t)n;
    }
}

int child_finish(child *c, double seconds)
{
    double deadline = child_now() + seconds;
    int status;
    if (c->pid < 0)
        return c->status == -2 ? -1 : c->status;
    while (c->out >= 0 && child_now() < deadline)
        child_pump(c, 50);
    if (deadline < child_now() + 0.5)
        deadline = child_now() + 0.5;   /* its output ended: a moment to exit */
    for (;;) {
        pid_t r = waitpid(c->pid, &status, WNOHANG);
        if (r == c->pid) {
            c->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            break;
        }
        if ((r < 0 && errno != EINTR) || child_now() > deadline) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, NULL, 0);
            c->status = -1;
            break;
        }
        struct timespec nap = { 0, 10 * 1000 * 1000 };
        nanosleep(&nap, NULL);
    }
    c->pid = -1;
    return c->status;
}

void child_free(child *c)
{
    if (c->pid > 0) {
        kill(c->pid, SIGKILL);
        waitpid(c->pid, NULL, 0);
        c->pid = -1;
    }
    if (c->in >= 0)
        close(c->in);
    if (c->out >= 0)
        close(c->out);
    c->in = c->out = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}

uint16_t child_free_port(void)
{
    struct sockaddr_in sa = { 0 };
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    uint16_t port = 0;
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}
