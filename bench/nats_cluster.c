/*
 * bench/nats_cluster.c: a NATS JetStream cluster on loopback
 * (bench/nats_cluster.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <nats/nats.h>
#include "child.h"
#include "nats_cluster.h"

extern char **environ;

static void nap_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

const char *nats_server_path(void)
{
    static const char *const paths[] = { "/usr/bin/nats-server", "/usr/local/bin/nats-server",
                                         "/usr/sbin/nats-server" };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (access(paths[i], X_OK) == 0)
            return paths[i];
    return NULL;
}

/* Node i's configuration: its ports, its data folder, routes to the
 * others; messages up to 20 MiB (a relay entry is at most 17). */
static int write_config(const nats_cluster *c, int i)
{
    char path[400];
    snprintf(path, sizeof path, "%s/n%d.conf", c->dir, i + 1);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "server_name: n%d\nlisten: 127.0.0.1:%u\nmax_payload: 20971520\n"
               "jetstream {\n  store_dir: \"%s/n%d\"\n  max_memory_store: 67108864\n"
               "  max_file_store: 4294967296\n}\n",
            i + 1, (unsigned)c->port[i], c->dir, i + 1);
    if (c->n > 1) {
        fprintf(f, "cluster {\n  name: fkex\n  listen: 127.0.0.1:%u\n  routes: [\n", (unsigned)c->cport[i]);
        for (int j = 0; j < c->n; j++)
            if (j != i)
                fprintf(f, "    nats-route://127.0.0.1:%u\n", (unsigned)c->cport[j]);
        fprintf(f, "  ]\n}\n");
    }
    return fclose(f) == 0 ? 0 : -1;
}

static pid_t spawn_node(const nats_cluster *c, int i)
{
    char conf[400], out[400];
    const char *bin = nats_server_path();
    posix_spawn_file_actions_t fa;
    pid_t pid;
    if (!bin)
        return -1;
    snprintf(conf, sizeof conf, "%s/n%d.conf", c->dir, i + 1);
    snprintf(out, sizeof out, "%s/n%d.log", c->dir, i + 1);
    const char *argv[] = { bin, "-c", conf, NULL };
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    fflush(NULL);
    int rc = posix_spawn(&pid, bin, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? pid : -1;
}

/* 1 once JetStream answers through node i (its meta leader is elected). */
static int answers(const nats_cluster *c, int i)
{
    char url[64];
    natsConnection *nc = NULL;
    natsOptions *o = NULL;
    jsCtx *js = NULL;
    jsAccountInfo *ai = NULL;
    jsErrCode jerr = 0;
    int ok = 0;
    snprintf(url, sizeof url, "nats://127.0.0.1:%u", (unsigned)c->port[i]);
    if (natsOptions_Create(&o) == NATS_OK && natsOptions_SetURL(o, url) == NATS_OK &&
        natsOptions_SetTimeout(o, 1000) == NATS_OK && natsOptions_SetAllowReconnect(o, false) == NATS_OK &&
        natsConnection_Connect(&nc, o) == NATS_OK && natsConnection_JetStream(&js, nc, NULL) == NATS_OK)
        ok = js_GetAccountInfo(&ai, js, NULL, &jerr) == NATS_OK;
    jsAccountInfo_Destroy(ai);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(o);
    return ok;
}

static int wait_answers(nats_cluster *c, int i, int ms)
{
    for (int waited = 0; waited < ms; waited += 200) {
        if (c->pid[i] > 0 && waitpid(c->pid[i], NULL, WNOHANG) == c->pid[i]) {
            c->pid[i] = -1;
            return -2;   /* it died (a port taken meanwhile, say) */
        }
        if (answers(c, i))
            return 0;
        nap_ms(200);
    }
    return -1;
}

/* One try on fresh ports: 0, -1 (why), or -2 if a node died at once (a
 * port taken between our look and its bind: try other ports). */
static int start_once(nats_cluster *c, char why[160])
{
    int n = c->n;
    for (int i = 0; i < n; i++) {
        c->port[i] = child_free_port();
        c->cport[i] = child_free_port();
        if (!c->port[i] || !c->cport[i]) {
            snprintf(why, 160, "no free port");
            return -1;
        }
    }
    size_t off = (size_t)snprintf(c->store, sizeof c->store, "nats://");
    for (int i = 0; i < n; i++)
        off += (size_t)snprintf(c->store + off, sizeof c->store - off, "%s127.0.0.1:%u",
                                i ? "," : "", (unsigned)c->port[i]);
    for (int i = 0; i < n; i++) {
        char data[400];
        snprintf(data, sizeof data, "%s/n%d", c->dir, i + 1);
        if ((mkdir(data, 0700) != 0 && errno != EEXIST) || write_config(c, i) != 0 ||
            (c->pid[i] = spawn_node(c, i)) < 0) {
            snprintf(why, 160, "cannot start node %d under %.100s", i + 1, c->dir);
            return -1;
        }
    }
    for (int i = 0; i < n; i++) {
        int rc = wait_answers(c, i, 30000);
        if (rc == -2)
            return -2;
        if (rc != 0) {
            snprintf(why, 160, "node %d: JetStream did not answer within 30 s (see %.80s/n%d.log)",
                     i + 1, c->dir, i + 1);
            return -1;
        }
    }
    return 0;
}

int nats_cluster_start(nats_cluster *c, const char *dir, int n, char why[160])
{
    int rc = -2;
    memset(c, 0, sizeof *c);
    c->n = n;
    for (int i = 0; i < NATS_CLUSTER_MAX; i++)
        c->pid[i] = -1;
    if (n < 1 || n > NATS_CLUSTER_MAX || !nats_server_path()) {
        snprintf(why, 160, n < 1 || n > NATS_CLUSTER_MAX ? "1 to 3 nodes"
                                                        : "nats-server is not installed");
        return -1;
    }
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    for (int tries = 0; tries < 3 && rc == -2; tries++) {
        if ((rc = start_once(c, why)) != 0)
            nats_cluster_stop(c);
    }
    if (rc == -2)
        snprintf(why, 160, "a node died as it started, three times (see %.80s/n1.log)", c->dir);
    return rc == 0 ? 0 : -1;
}

static void stop_node(nats_cluster *c, int i, int sig)
{
    if (c->pid[i] <= 0)
        return;
    kill(c->pid[i], sig);
    for (int k = 0; k < 500; k++) {
        if (waitpid(c->pid[i], NULL, WNOHANG) == c->pid[i]) {
            c->pid[i] = -1;
            return;
        }
        nap_ms(10);
    }
    kill(c->pid[i], SIGKILL);
    waitpid(c->pid[i], NULL, 0);
    c->pid[i] = -1;
}

void nats_cluster_kill(nats_cluster *c, int i)
{
    stop_node(c, i, SIGKILL);
}

int nats_cluster_restart(nats_cluster *c, int i)
{
    if (c->pid[i] > 0 || (c->pid[i] = spawn_node(c, i)) < 0)
        return -1;
    return wait_answers(c, i, 30000) == 0 ? 0 : -1;
}

void nats_cluster_stop(nats_cluster *c)
{
    for (int i = 0; i < c->n; i++)
        stop_node(c, i, SIGTERM);
}
