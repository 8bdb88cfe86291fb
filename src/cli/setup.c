/*
 * cli/setup.c: `fkex setup --dir DIR` creates an authority.
 */
#include <getopt.h>
#include <stdlib.h>
#include <unistd.h>
#include "cli/cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: fkex setup --dir DIR [--scheme fame|waters11] [-a]\n\n"
               "Creates a new authority in DIR:\n"
               "  DIR/mpk.fkex  public parameters: give them to everyone who encrypts\n"
               "  DIR/msk.fkex  the master key (mode 0600): it issues every user key\n"
               "Both carry the CP-ABE scheme's parameters and Boneh-Franklin identity-based\n"
               "ones (fkex keygen --identity, fkex ibe), under one authority fingerprint.\n"
               "Neither file is ever overwritten.\n\n"
               "  -d, --dir DIR      where to create the files (created if missing)\n"
               "  -s, --scheme NAME  the CP-ABE scheme: fame (Agrawal-Chase 2017, fully\n"
               "                     secure; the default) or waters11 (Waters 2011)\n"
               "  -a, --armor        write text armor instead of binary\n");
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int setup_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, 0, 'd' },
        { "scheme", required_argument, 0, 's' },
        { "armor", no_argument, 0, 'a' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *dir = NULL, *scheme = FKEX_ABE_DEFAULT_SCHEME;
    int armor = 0, c, rc = EXIT_USAGE;
    char *mpk_path = NULL, *msk_path = NULL;
    fkex_mpk *mpk = NULL;
    fkex_msk *msk = NULL;
    uint8_t *mpk_bytes = NULL, *msk_bytes = NULL;
    size_t mpk_len = 0, msk_len = 0;
    fkex_rng rng;
    fkex_err err;

    while ((c = getopt_long(argc, argv, "d:s:ah", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 's': scheme = optarg; break;
        case 'a': armor = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (!dir || optind != argc) {
        cli_error(dir ? "unexpected argument '%s'" : "missing --dir%s", dir ? argv[optind] : "");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (cli_scheme_check(scheme) != 0)
        return EXIT_USAGE;
    int made_dir = cli_dir_begin(dir, 0755);
    if (made_dir < 0)
        return EXIT_USAGE;
    mpk_path = join(dir, "mpk.fkex");
    msk_path = join(dir, "msk.fkex");
    if (!mpk_path || !msk_path) {
        cli_error("out of memory");
        goto out;
    }
    if (access(mpk_path, F_OK) == 0 || access(msk_path, F_OK) == 0) {
        cli_error("%s already holds an authority", dir);
        cli_hint("fkex never overwrites keys; choose another --dir");
        goto out;
    }
    fkex_rng_init_system(&rng);
    if ((err = fkex_abe_setup(&mpk, &msk, scheme, &rng)) != FKEX_OK) {
        rc = cli_fail(err, "setup");
        goto out;
    }
    /* The identity-based parameters join before anything is written. */
    fkex_mpk_free(mpk);
    if ((err = fkex_ibe_setup(&mpk, msk, &rng)) != FKEX_OK) {
        rc = cli_fail(err, "setup");
        goto out;
    }
    if ((err = fkex_msk_encode(&msk_bytes, &msk_len, msk)) != FKEX_OK ||
        (err = fkex_mpk_encode(&mpk_bytes, &mpk_len, mpk)) != FKEX_OK) {
        rc = cli_fail(err, "setup");
        goto out;
    }
    /* The secret first: if it cannot be written, there is no authority. */
    if (cli_write_object(msk_path, msk_bytes, msk_len, FKEX_KIND_MASTER_KEY, armor) != 0)
        goto out;
    if (cli_write_object(mpk_path, mpk_bytes, mpk_len, FKEX_KIND_PUBLIC_PARAMS, armor) != 0) {
        unlink(msk_path);
        goto out;
    }
    {
        uint8_t fp[FKEX_FINGERPRINT_BYTES];
        char text[20];
        fkex_mpk_fingerprint(fp, mpk);
        fkex_fingerprint_text(text, fp);
        printf("authority %s (%s and bf01 identity-based, BLS12-381)\n  public parameters: %s\n  master key:        %s (keep it secret)\n",
               text, scheme, mpk_path, msk_path);
    }
    rc = 0;
out:
    cli_dir_end(dir, made_dir, rc);
    fkex_bytes_free(msk_bytes, msk_len);
    fkex_bytes_free(mpk_bytes, mpk_len);
    fkex_mpk_free(mpk);
    fkex_msk_free(msk);
    free(mpk_path);
    free(msk_path);
    return rc;
}
