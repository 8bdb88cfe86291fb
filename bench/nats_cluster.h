/*
 * bench/nats_cluster.h: a NATS JetStream cluster on 127.0.0.1 for the
 * benchmarks and the tests: nats-server processes (Debian's nats-server)
 * on free ports, each with its data in a folder of the caller's, routed
 * to each other, started and stopped by us; a node can be killed (-9) and
 * started again on the same ports and data. Every wait is bounded; only
 * our own children's pids are signalled.
 */
#ifndef FKEX_BENCH_NATS_CLUSTER_H
#define FKEX_BENCH_NATS_CLUSTER_H

#include <stdint.h>
#include <sys/types.h>

#define NATS_CLUSTER_MAX 3

typedef struct {
    int n;
    pid_t pid[NATS_CLUSTER_MAX];        /* -1: not running */
    uint16_t port[NATS_CLUSTER_MAX];    /* clients */
    uint16_t cport[NATS_CLUSTER_MAX];   /* routes between the nodes */
    char dir[300];
    char store[160];   /* nats://127.0.0.1:P1,127.0.0.1:P2,...: fkex relay --store */
} nats_cluster;

/* The nats-server binary, or NULL if it is not installed. */
const char *nats_server_path(void);
/* Starts n nodes (1 to NATS_CLUSTER_MAX) with their configurations and
 * data under dir, and waits (up to 30 s) until JetStream answers on
 * every node. 0, or -1 with a sentence in why (everything started is
 * stopped). */
int nats_cluster_start(nats_cluster *c, const char *dir, int n, char why[160]);
/* SIGKILL of node i, reaped. */
void nats_cluster_kill(nats_cluster *c, int i);
/* Node i again, on its ports and data (after nats_cluster_kill); waits
 * until it answers. 0 or -1. */
int nats_cluster_restart(nats_cluster *c, int i);
/* Stops every node (SIGTERM, then SIGKILL after 5 s) and reaps it. */
void nats_cluster_stop(nats_cluster *c);

#endif
