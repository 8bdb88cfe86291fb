/*
 * tests/test_relay_cluster.c: relays on several machines (FEDERATION.md),
 * over a real NATS JetStream cluster of three nats-server processes on
 * 127.0.0.1 (bench/nats_cluster.h: free ports, data in the run's scratch
 * folder, every node stopped at the end). Every wait is bounded.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <uv.h>
#include "test.h"
#include "nats_cluster.h"
#include "relay/jetstream.h"
#include "wire/relay_entry.h"

#define WAIT_MS 20000u

/* ---- the shared log alone (relay/jetstream.h) ------------------------------------------ */

typedef struct {
    uint64_t seqs[512];
    uint8_t ids[512][32];       /* each entry's id: its first 32 bytes */
    size_t n;
    uint64_t stored[512];       /* by publication number: the seq its ack gave */
    size_t nstored;
    int statuses;
} log_seen;

static void seen_entry(void *ctx, uint64_t seq, const uint8_t *entry, size_t len)
{
    log_seen *s = ctx;
    if (s->n < 512 && len >= 32) {
        s->seqs[s->n] = seq;
        memcpy(s->ids[s->n++], entry, 32);
    }
}

static void seen_stored(void *ctx, const uint8_t id[32], uint64_t seq)
{
    log_seen *s = ctx;
    uint32_t k = load32_be(id);   /* publication k's id begins with k */
    if (k < 512 && !s->stored[k]) {
        s->stored[k] = seq;
        s->nstored++;
    }
}

static void seen_status(void *ctx, const char *line)
{
    (void)line;
    ((log_seen *)ctx)->statuses++;
}

/* Runs loop until *n reaches want, or WAIT_MS: 1 if it did. */
static int run_until(uv_loop_t *loop, const size_t *n, size_t want)
{
    double end = test_now() + WAIT_MS / 1000.0;
    while (*n < want && test_now() < end) {
        uv_run(loop, UV_RUN_NOWAIT);
        test_nap_ms(5);
    }
    return *n >= want;
}

/* Publication k: its id (k, then zeros), the entry its id followed by k. */
static void publish(relay_js *js, uint32_t k)
{
    uint8_t id[32] = { 0 }, entry[40];
    store32_be(id, k);
    memcpy(entry, id, 32);
    memset(entry + 32, (int)k, 8);
    CHECK_OK(relay_js_publish(js, "fkex.test.x", entry, sizeof entry, id));
}

/* Entries published are read back by the same reader in one order, each
 * once; one published again under the same id is stored once and
 * acknowledged with its first seq; with one node killed (-9), what was
 * acknowledged is still there and new entries are stored. */
static void test_log_over_cluster(void)
{
    nats_cluster c;
    char why[160], dir[256];
    uv_loop_t loop;
    relay_js *js = NULL;
    log_seen s = { 0 };
    relay_js_hooks h = { seen_entry, seen_stored, seen_status, &s };
    snprintf(dir, sizeof dir, "%s/cluster-log", test_tmpdir());
    mkdir(dir, 0700);
    if (nats_cluster_start(&c, dir, 3, why) != 0) {
        test_fail(why, __FILE__, __LINE__);
        return;
    }
    uv_loop_init(&loop);
    char err[128] = "";
    CHECK_OK(relay_js_open(&js, &loop, c.store, &h, err));
    if (!js) {
        test_fail(err, __FILE__, __LINE__);
        nats_cluster_stop(&c);
        return;
    }
    CHECK(relay_js_replicas(js) == 3);
    for (uint32_t k = 0; k < 100; k++)
        publish(js, k);
    CHECK(run_until(&loop, &s.n, 100) && run_until(&loop, &s.nstored, 100));
    for (size_t i = 0; i < s.n; i++) {
        CHECK(load32_be(s.ids[i]) == i && (i == 0 || s.seqs[i] == s.seqs[i - 1] + 1));
        CHECK(s.stored[i] == s.seqs[i]);
    }
    /* the same id again: acknowledged, not stored twice */
    s.stored[7] = 0;
    s.nstored--;
    publish(js, 7);
    CHECK(run_until(&loop, &s.nstored, 100) && s.stored[7] == s.seqs[7]);
    /* one node gone: what was acknowledged stays, new entries go on */
    nats_cluster_kill(&c, 0);
    for (uint32_t k = 100; k < 150; k++)
        publish(js, k);
    CHECK(run_until(&loop, &s.n, 150) && run_until(&loop, &s.nstored, 150));
    for (size_t i = 0; i < s.n; i++)
        CHECK(load32_be(s.ids[i]) == i);
    CHECK(relay_js_unstored(js) == 0);
    CHECK(nats_cluster_restart(&c, 0) == 0);
    relay_js_close(js);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
    nats_cluster_stop(&c);
}

void suite_relay_cluster(void)
{
    if (!nats_server_path()) {
        test_fail("nats-server is not installed (make deps installs it)", __FILE__, __LINE__);
        return;
    }
    RUN(test_log_over_cluster);
}
