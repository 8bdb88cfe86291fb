/*
 * web/bench_main.c: `fkex bench abe` in the WebAssembly build, run under
 * node by `fkex bench abe --wasm build/wasm/fkex-bench.js` (cli/bench.c):
 *
 *   node fkex-bench.js --json|--text N     (N: 1, 10, 50, 100; 0 for all)
 *
 * The same code as the native benchmark (bench/abe.c), so that its
 * figures, in pairing-equivalents of a pairing in WebAssembly, stand
 * beside the native ones.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench.h"
#include "fkex/fkex.h"

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "--json") != 0 && strcmp(argv[1], "--text") != 0)) {
        fprintf(stderr, "usage: node fkex-bench.js --json|--text N\n");
        return 2;
    }
    if (fkex_init() != FKEX_OK) {
        fprintf(stderr, "fkex-bench: the library could not start\n");
        return 2;
    }
    return bench_abe(argv[1][2] == 'j', strtoul(argv[2], NULL, 10), "wasm");
}
