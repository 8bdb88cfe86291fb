/*
 * cli/encrypt.c: `fkex encrypt` seals a file under a policy: an IND-CCA
 * CP-ABE encapsulation, then the file in authenticated chunks.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <unistd.h>
#include "cli/cli.h"
#include "cli/payload.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: fkex encrypt --mpk FILE --policy POLICY [--valid-at YYYY-MM] [-a] [-o OUT] [IN]\n\n"
               "Encrypts IN (default: stdin) to OUT (default: stdout) so that only keys whose\n"
               "attributes satisfy POLICY can decrypt it. Memory use is constant.\n\n"
               "  -m, --mpk FILE        the authority's public parameters (a user key works too)\n"
               "  -p, --policy POLICY   e.g. \"(ONE or THREE) and (TWO or FOUR)\",\n"
               "                        \"dept:telematics and (year >= 5 or role:professor)\",\n"
               "                        \"2 of (A, B, C)\"; `and` binds tighter than `or`\n"
               "  -v, --valid-at MONTH  also require a key issued with --expires MONTH or\n"
               "                        later (YYYY-MM); keys without an expiry do not qualify\n"
               "  -a, --armor           text armor (needed to write to a terminal)\n"
               "  -o, --output OUT      the encrypted file; it appears only when complete\n");
}

int encrypt_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "mpk", required_argument, 0, 'm' },
        { "policy", required_argument, 0, 'p' },
        { "valid-at", required_argument, 0, 'v' },
        { "output", required_argument, 0, 'o' },
        { "armor", no_argument, 0, 'a' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *mpk_path = NULL, *policy_text = NULL, *valid_at = NULL, *out = "-", *in = "-";
    int armor = 0, c, rc = EXIT_USAGE;
    fkex_mpk *mpk = NULL;
    fkex_policy *policy = NULL;
    fkex_policy_error perr;
    fkex_err err;

    while ((c = getopt_long(argc, argv, "m:p:v:o:ah", opts, NULL)) != -1) {
        switch (c) {
        case 'm': mpk_path = optarg; break;
        case 'p': policy_text = optarg; break;
        case 'v': valid_at = optarg; break;
        case 'o': out = optarg; break;
        case 'a': armor = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc)
        in = argv[optind++];
    if (!mpk_path || !policy_text || optind != argc) {
        cli_error(optind != argc ? "unexpected argument '%s'" : "missing %s",
                  optind != argc ? argv[optind] : !mpk_path ? "--mpk" : "--policy");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (fkex_policy_parse(&policy, policy_text, strlen(policy_text), &perr) != FKEX_OK) {
        cli_policy_error(policy_text, &perr);
        return EXIT_USAGE;
    }
    if (valid_at) {
        uint32_t month;
        fkex_policy *bounded;
        if (fkex_month_parse(&month, valid_at) != FKEX_OK) {
            cli_error("--valid-at: '%s' is not a month like 2026-12", valid_at);
            goto out;
        }
        if ((err = fkex_policy_valid_at(&bounded, policy, month, &perr)) != FKEX_OK) {
            if (err == FKEX_ERR_NO_MEMORY)
                cli_fail(err, NULL);
            else
                cli_error("policy: with --valid-at, %s", perr.message);
            goto out;
        }
        fkex_policy_free(policy);
        policy = bounded;
    }
    if (cli_seal_check(in, out, armor) != 0)
        goto out;
    if (cli_load_mpk(&mpk, mpk_path) != 0)
        goto out;
    rc = cli_seal_file(in, out, armor, mpk, policy, NULL, "encrypt");
out:
    fkex_policy_free(policy);
    fkex_mpk_free(mpk);
    return rc;
}
