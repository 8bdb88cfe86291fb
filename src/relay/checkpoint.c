/*
 * relay/checkpoint.c: the relay's checkpoint thread (relay/checkpoint.h).
 */
#include <stdlib.h>
#include <sqlite3.h>
#include <uv.h>
#include "gke/gke.h"
#include "relay/checkpoint.h"

struct relay_checkpointer {
    sqlite3 *db;
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t cv;
    unsigned interval_ms;
    int stop;
};

static void run(void *arg)
{
    relay_checkpointer *cp = arg;
    uv_mutex_lock(&cp->mu);
    while (!cp->stop) {
        (void)uv_cond_timedwait(&cp->cv, &cp->mu, (uint64_t)cp->interval_ms * 1000000u);
        uv_mutex_unlock(&cp->mu);
        /* SQLITE_BUSY (the writer held the log's end) just means: next time. */
        (void)sqlite3_wal_checkpoint_v2(cp->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        uv_mutex_lock(&cp->mu);
    }
    uv_mutex_unlock(&cp->mu);
}

fkex_err relay_checkpointer_start(relay_checkpointer **out, const char *path, unsigned interval_ms)
{
    relay_checkpointer *cp = calloc(1, sizeof *cp);
    *out = NULL;
    if (!cp)
        return FKEX_ERR_NO_MEMORY;
    cp->interval_ms = interval_ms;
    /* A connection checkpoints only once it has opened the log: asking for
     * the journal mode does that (and the database is WAL already). */
    if (sqlite3_open_v2(path, &cp->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_exec(cp->db, "PRAGMA journal_mode=WAL;", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_close(cp->db);
        free(cp);
        return FKEX_ERR_IO;
    }
    int mu = uv_mutex_init(&cp->mu) == 0, cv = mu && uv_cond_init(&cp->cv) == 0;
    if (!cv || uv_thread_create(&cp->thread, run, cp) != 0) {
        if (cv)
            uv_cond_destroy(&cp->cv);
        if (mu)
            uv_mutex_destroy(&cp->mu);
        sqlite3_close(cp->db);
        free(cp);
        return FKEX_ERR_NO_MEMORY;
    }
    *out = cp;
    return FKEX_OK;
}

void relay_checkpointer_stop(relay_checkpointer *cp)
{
    if (!cp)
        return;
    uv_mutex_lock(&cp->mu);
    cp->stop = 1;
    uv_cond_signal(&cp->cv);
    uv_mutex_unlock(&cp->mu);
    uv_thread_join(&cp->thread);
    uv_cond_destroy(&cp->cv);
    uv_mutex_destroy(&cp->mu);
    sqlite3_close(cp->db);
    free(cp);
}
