/*
 * relay/checkpoint.h: SQLite checkpoints off the relay's loop thread.
 *
 * In WAL mode, SQLite copies the log back into the database (a checkpoint)
 * from whichever connection commits when the log passes 1000 pages, and
 * that checkpoint syncs the database file: a stall of tens of ms, once
 * every few seconds, for the message that happened to commit then. The
 * relay turns that off on its own connection (relay_store_autocheckpoint)
 * and runs a PASSIVE checkpoint once a second from a thread with a second
 * connection: PASSIVE never waits for the writer and never makes it wait,
 * so the loop only ever pays for its own commits. It does so with --sync
 * normal, whose commits do not sync: there it took p99 at 1k msg/s from
 * 18-21 ms to 3.2-4.6 ms (fkex bench relay; the rest is the disk: the
 * checkpoint's sync of the database file still slows the writes around
 * it). With --sync full every commit syncs the log anyway, and it is left
 * to SQLite. A checkpoint every 10 s instead of 1 s was worse: each one
 * has more to copy.
 */
#ifndef FKEX_RELAY_CHECKPOINT_H
#define FKEX_RELAY_CHECKPOINT_H

#include "fkex/error.h"

typedef struct relay_checkpointer relay_checkpointer;

/* Opens its own connection to the database at path and starts the thread.
 * FKEX_ERR_IO (cannot open), FKEX_ERR_NO_MEMORY. */
fkex_err relay_checkpointer_start(relay_checkpointer **cp, const char *path,
                                  unsigned interval_ms) FKEX_WUR;
/* Stops the thread (after one last checkpoint) and closes; NULL is allowed. */
void relay_checkpointer_stop(relay_checkpointer *cp);

#endif
