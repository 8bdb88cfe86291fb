/*
 * bench/bench.h: measuring, the same way for every benchmark.
 *
 * Each figure is the median of repeated runs, in ms and in
 * pairing-equivalents: the time divided by one full pairing (Miller loop
 * and final exponentiation) measured in the same run, so that the figures
 * hold across machines. The pairing is timed interleaved with the operation,
 * so that a busy machine slows both alike.
 */
#ifndef FKEX_BENCH_H
#define FKEX_BENCH_H

#include "gke/gke.h"
#include "ibe/ibe.h"

double bench_now_ms(void);
double bench_median(double *samples, size_t n);
/* Times fn over runs (at most 64), interleaved with full pairings so that
 * both see the same machine: *op_ms and *pairing_ms are the two medians. */
void bench_time(double *op_ms, double *pairing_ms, int runs, void (*fn)(void *), void *arg);

/* `fkex bench abe` (bench/abe.c). only_n: the AND-policy of that many
 * attributes alone (1, 10, 50 or 100), 0 for every case; build names the
 * build in the output ("native", "wasm"). */
#define BENCH_ABE_SIZES { 1, 10, 50, 100 }
int bench_abe(int json, size_t only_n, const char *build);
/* The group operations under the schemes (bench/groups.c), each per
 * operation, in microseconds and pairing-equivalents of the same run;
 * bench_abe prints them after the schemes. Returns 0, or 2 out of memory. */
#define BENCH_GROUP_OPS 6
typedef struct {
    const char *op, *what;
    double us, pe;
} bench_group_op;
int bench_groups(bench_group_op out[BENCH_GROUP_OPS]);
/* `fkex bench ibe` (bench/ibe.c): Boneh-Franklin and IBAKE. */
int bench_ibe(int json);
/* `fkex bench gke` (bench/gke.c): join and leave costs of the ratchet, seed
 * mode, GDH.2 and BD for rooms of sizes[] (ascending, 2 .. BENCH_GKE_MAX);
 * plot, if not NULL, is an SVG drawn with gnuplot; verbose reports
 * progress on stderr. Returns an exit code. */
#define BENCH_GKE_MAX 65535
int bench_gke(const size_t *sizes, size_t nsizes, int json, const char *plot, int verbose);
/* `fkex bench relay` (bench/relay.c): the relay daemon's fan-out,
 * latency, idle connections and join time on loopback, and Redis pub/sub
 * under the same load generator when redis-server is installed; verbose
 * reports progress on stderr. Returns an exit code. */
int bench_relay(int json, int verbose);
/* `fkex bench rooms` (bench/rooms.c): 20 joiners at once into a room of
 * 50, and a policy change, every party a process on loopback. */
int bench_rooms(int json, int verbose);

#endif
