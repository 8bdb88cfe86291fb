/*
 * cli/bench.c: `fkex bench abe [--json]`.
 */
#include "cli/cli.h"
#include "bench.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: fkex bench abe [--json]\n\n"
               "Measures keygen, encrypt, decode, decrypt and decrypt_cca for AND-policies\n"
               "of 1, 10, 50 and 100 attributes and the prototype's policy, as medians in\n"
               "ms and in pairing-equivalents (one pairing timed in the same run), and\n"
               "reports ciphertext and key sizes. --json prints one JSON object.\n");
}

int bench_main(int argc, char **argv)
{
    int json = 0;
    const char *what = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (!what && argv[i][0] != '-') {
            what = argv[i];
        } else {
            cli_error("unexpected argument '%s'", argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!what || strcmp(what, "abe") != 0) {
        cli_error(what ? "unknown benchmark '%s'" : "which benchmark?%s", what ? what : "");
        cli_hint("the benchmarks are: abe");
        return EXIT_USAGE;
    }
    return bench_abe(json);
}
