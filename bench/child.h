/*
 * bench/child.h: fkex processes that speak JSON lines (fkex chat --batch),
 * for the benchmarks (bench/rooms.c) and the end-to-end tests
 * (tests/test_chat_e2e.c): spawned with pipes on stdin and stdout (stderr
 * into a file), what they print gathered and searched line by line. Every
 * wait is bounded; nothing is killed but the child's own pid.
 */
#ifndef FKEX_BENCH_CHILD_H
#define FKEX_BENCH_CHILD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct {
    pid_t pid;          /* -1 once reaped (or never started) */
    int in, out;        /* our ends of its stdin and stdout; -1 once closed */
    char *buf;          /* everything it printed, NUL-terminated */
    size_t len, cap;
    char err[700];      /* the file its stderr goes to */
    int status;         /* its exit code once reaped; -2 before, -1 if it had to be killed */
} child;

/* A process's resident memory in KiB (/proc/PID/status), or -1. */
long child_rss_kib(pid_t pid);
/* The monotonic clock, in seconds. */
double child_now(void);
/* A port of 127.0.0.1 nobody listens on now, for a child to listen on;
 * 0 if none could be found. */
uint16_t child_free_port(void);
/* Starts argv (argv[0] a path) with pipes, stderr into err_path. 0, or -1
 * (then c->pid is -1 and nothing is open). */
int child_start(child *c, const char *const *argv, const char *err_path);
/* Reads what has arrived, waiting up to ms for something. 0 once its
 * output has ended, else 1. */
int child_pump(child *c, int ms);
/* Reads whatever any of cs printed, waiting up to ms in all. */
void child_pump_all(child *const *cs, size_t n, int ms);
/* Complete lines of its output that contain needle. */
size_t child_count(const child *c, const char *needle);
/* Waits until `want` lines contain needle: 1, or 0 after `seconds` (or at
 * the end of its output). */
int child_wait_for(child *c, const char *needle, size_t want, double seconds);
/* Writes line and a newline to its stdin. */
void child_say(child *c, const char *line);
/* Its exit code, after reading the rest of its output; -1 if it had to
 * be killed after `seconds`. */
int child_finish(child *c, double seconds);
/* Kills it if it still runs, reaps it, closes and frees what c holds. */
void child_free(child *c);

#endif
